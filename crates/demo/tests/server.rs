//! The demo server over real loopback sockets, with a minimal HTTP/1.1
//! client on `TcpStream` (one request per connection, `Connection: close`).

use std::time::Duration;

use leakscope_demo::{
    DemoConfig, DemoError, DemoServer, JobOutcome, JobSpec, OperationBehaviour, RequestRecord,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous deadline for things that take milliseconds on loopback.
const DEADLINE: Duration = Duration::from_secs(10);

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }
}

async fn send(server: &DemoServer, method: &str, target: &str, body: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(server.addr())
        .await
        .expect("connect to the demo server");
    stream
        .write_all(request_bytes(method, target, body).as_bytes())
        .await
        .expect("send the request");
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut raw))
        .await
        .expect("the server answers within the deadline")
        .expect("read the answer");
    parse_reply(&raw)
}

fn request_bytes(method: &str, target: &str, body: Option<&str>) -> String {
    let body = body.unwrap_or("");
    format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let content_type = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: body.to_owned(),
    }
}

async fn start() -> DemoServer {
    DemoServer::start(DemoConfig::default())
        .await
        .expect("start the demo server")
}

async fn start_job(server: &DemoServer, path: &str, body: &str) -> String {
    let reply = send(server, "POST", path, Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["operationName"]
        .as_str()
        .expect("an operationName")
        .to_owned()
}

fn for_operation<'a>(log: &'a [RequestRecord], op: &str) -> Vec<&'a RequestRecord> {
    log.iter()
        .filter(|r| r.operation.as_deref() == Some(op))
        .collect()
}

#[tokio::test]
async fn job_processing_then_complete() {
    let server = start().await;
    let op = start_job(&server, "/api/video/generate", r#"{"complete_after":2}"#).await;
    let target = format!("/api/video/status?operationName={op}");

    let first = send(&server, "GET", &target, None).await.json();
    let second = send(&server, "GET", &target, None).await.json();
    let third = send(&server, "GET", &target, None).await.json();
    let fourth = send(&server, "GET", &target, None).await.json();

    assert_eq!(first["status"], "processing");
    assert_eq!(first["operationName"], op.as_str());
    assert_eq!(second["status"], "processing");
    assert!(second["progress"].as_u64() > first["progress"].as_u64());
    assert_eq!(third["status"], "complete");
    assert_eq!(third["progress"], 100);
    assert_eq!(fourth["status"], "complete", "complete repeats");
    assert_eq!(server.job_polls(&op), Some(4));
}

#[tokio::test]
async fn job_uses_config_defaults() {
    let config = DemoConfig {
        default_job: JobSpec {
            outcome: JobOutcome::Complete,
            complete_after: 1,
            error_status: 500,
        },
        ..DemoConfig::default()
    };
    let server = DemoServer::start(config).await.unwrap();
    let op = start_job(&server, "/api/audio/suno/generate", "").await;
    let target = format!("/api/audio/suno/status?operationName={op}");
    assert_eq!(
        send(&server, "GET", &target, None).await.json()["status"],
        "processing"
    );
    assert_eq!(
        send(&server, "GET", &target, None).await.json()["status"],
        "complete"
    );
}

#[tokio::test]
async fn job_never_completes() {
    let server = start().await;
    let op = start_job(
        &server,
        "/api/video/upscale",
        r#"{"job":"never","complete_after":1}"#,
    )
    .await;
    for _ in 0..8 {
        let reply = send(
            &server,
            "GET",
            &format!("/api/video/upscale-status?operationName={op}"),
            None,
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["status"], "processing");
    }
}

#[tokio::test]
async fn job_error_returns_http_status() {
    let server = start().await;
    let op = start_job(
        &server,
        "/api/video/generate-audio",
        r#"{"job":"error","complete_after":0,"error_status":503}"#,
    )
    .await;
    let reply = send(
        &server,
        "GET",
        &format!("/api/video/generate-audio-status?operationName={op}"),
        None,
    )
    .await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["status"], "failed");
}

#[tokio::test]
async fn job_hang_until_shutdown() {
    let server = start().await;
    let op = start_job(
        &server,
        "/api/video/generate",
        r#"{"job":"hang","complete_after":0}"#,
    )
    .await;

    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let target = format!("/api/video/status?operationName={op}");
    stream
        .write_all(request_bytes("GET", &target, None).as_bytes())
        .await
        .unwrap();

    // The server logs the request on arrival but sends no response, so a
    // client-side timeout is the only way this read ends before shutdown.
    let logged = server
        .wait_for_request("the hanging status request", DEADLINE, |r| {
            r.path == "/api/video/status" && r.operation.as_deref() == Some(op.as_str())
        })
        .await
        .unwrap();
    assert_eq!(logged.status, None);
    let mut buffer = [0_u8; 64];
    let read = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await;
    assert!(read.is_err(), "a hanging request must not be answered");

    server
        .shutdown()
        .await
        .expect("shutdown ends the hanging request");
    let mut raw = Vec::new();
    let closed = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut raw)).await;
    assert!(closed.is_ok(), "the connection closes after shutdown");
}

#[tokio::test]
async fn job_request_rejects_bad_fields() {
    let server = start().await;
    let unknown = send(
        &server,
        "POST",
        "/api/video/generate",
        Some(r#"{"job":"explode"}"#),
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.json()["error"]
        .as_str()
        .unwrap()
        .contains("\"explode\""));

    let not_json = send(
        &server,
        "POST",
        "/api/video/generate",
        Some("complete_after=3"),
    )
    .await;
    assert_eq!(not_json.status, 400);
    assert!(not_json.body.contains("invalid job request body"));
}

#[tokio::test]
async fn status_errors_name_the_fix() {
    let server = start().await;
    let missing = send(&server, "GET", "/api/video/status", None).await;
    assert_eq!(missing.status, 400);
    assert!(missing.body.contains("missing operationName"));

    let unknown = send(
        &server,
        "GET",
        "/api/video/status?operationName=op-404",
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("op-404"));

    let op = start_job(&server, "/api/audio/suno/generate", "{}").await;
    let other = send(
        &server,
        "GET",
        &format!("/api/video/status?operationName={op}"),
        None,
    )
    .await;
    assert_eq!(other.status, 404);
    assert!(
        other.body.contains("/api/audio/suno/status"),
        "{}",
        other.body
    );
}

#[tokio::test]
async fn scripted_operation_get_and_post() {
    let server = start().await;
    server
        .set_operation(
            "zombie-1",
            OperationBehaviour {
                delay_ms: 150,
                sequence: vec![json!({"done": false}), json!({"done": true})],
                ..OperationBehaviour::default()
            },
        )
        .unwrap();

    let first = send(
        &server,
        "GET",
        "/api/video/status?operationName=zombie-1",
        None,
    )
    .await;
    let second = send(
        &server,
        "POST",
        "/api/video/status",
        Some(r#"{"operationName":"zombie-1"}"#),
    )
    .await;
    let third = send(
        &server,
        "GET",
        "/api/audio/suno/status?operationName=zombie-1",
        None,
    )
    .await;

    assert_eq!(first.json(), json!({"done": false}));
    assert_eq!(second.json(), json!({"done": true}));
    assert_eq!(third.json(), json!({"done": true}), "the last body repeats");

    let log = server.request_log();
    let requests = for_operation(&log, "zombie-1");
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].method, "POST");
    for request in requests {
        let waited = request.answered_after.expect("answered");
        assert!(
            waited >= Duration::from_millis(150),
            "delay_ms applies: {waited:?}"
        );
    }
}

#[tokio::test]
async fn scripted_http_status_and_validation() {
    let server = start().await;
    server
        .set_operation(
            "broken-1",
            OperationBehaviour {
                sequence: vec![json!({"error": "backend down"})],
                http_status: 502,
                ..OperationBehaviour::default()
            },
        )
        .unwrap();
    let reply = send(
        &server,
        "GET",
        "/api/video/upscale-status?operationName=broken-1",
        None,
    )
    .await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.json()["error"], "backend down");

    let invalid = server.set_operation(
        "bad-1",
        OperationBehaviour {
            http_status: 42,
            ..OperationBehaviour::default()
        },
    );
    let message = invalid.unwrap_err().to_string();
    assert!(
        message.contains("42") && message.contains("bad-1"),
        "{message}"
    );
}

#[tokio::test]
async fn scripted_hang_is_logged_unanswered() {
    let server = start().await;
    server
        .set_operation(
            "hang-1",
            OperationBehaviour {
                hang: true,
                ..OperationBehaviour::default()
            },
        )
        .unwrap();
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(
            request_bytes(
                "POST",
                "/api/video/status",
                Some(r#"{"operationName":"hang-1"}"#),
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let logged = server
        .wait_for_request("the hang-1 request", DEADLINE, |r| {
            r.operation.as_deref() == Some("hang-1")
        })
        .await
        .unwrap();
    assert_eq!(logged.method, "POST");
    assert_eq!(logged.status, None);
    assert_eq!(logged.answered_after, None);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn request_log_records_fields() {
    let server = start().await;
    let op = start_job(&server, "/api/video/generate", r#"{"complete_after":0}"#).await;
    send(
        &server,
        "GET",
        &format!("/api/video/status?operationName={op}&extra=1"),
        None,
    )
    .await;

    let log = server.request_log();
    assert_eq!(log.len(), 2);
    let (start, status) = (&log[0], &log[1]);

    assert_eq!(start.method, "POST");
    assert_eq!(start.path, "/api/video/generate");
    assert_eq!(start.query, None);
    assert_eq!(
        start.operation.as_deref(),
        Some(op.as_str()),
        "taken from the answer"
    );
    assert_eq!(start.status, Some(200));

    assert_eq!(status.seq, 1);
    assert_eq!(
        status.query.as_deref(),
        Some(format!("operationName={op}&extra=1").as_str())
    );
    assert_eq!(status.operation.as_deref(), Some(op.as_str()));
    assert!(status.since_start >= start.since_start);
    assert!(status.wall_ms >= start.wall_ms);
    let summary = status.body_summary.as_deref().unwrap();
    assert!(summary.contains("\"complete\""), "{summary}");
}

#[tokio::test]
async fn wait_for_request_times_out_with_context() {
    let server = start().await;
    send(&server, "GET", "/", None).await;
    let error = server
        .wait_for_request("a request for op-77", Duration::from_millis(100), |r| {
            r.operation.as_deref() == Some("op-77")
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, DemoError::WaitTimedOut { seen: 1, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("a request for op-77"));
}

#[tokio::test]
async fn taken_port_is_an_error() {
    let first = start().await;
    let config = DemoConfig {
        port: first.addr().port(),
        ..DemoConfig::default()
    };
    let Err(error) = DemoServer::start(config).await else {
        panic!("a second server on the same port must fail");
    };
    let message = error.to_string();
    assert!(matches!(error, DemoError::Bind { .. }));
    assert!(message.contains(&first.addr().to_string()), "{message}");
    assert!(message.contains("port 0"), "{message}");
}

#[tokio::test]
async fn unknown_route_is_plain_404() {
    let server = start().await;
    let reply = send(&server, "GET", "/nope?x=1", None).await;
    assert_eq!(reply.status, 404);
    assert!(reply.content_type.starts_with("text/plain"));
    assert_eq!(reply.body, "not found: GET /nope");
    assert_eq!(server.request_log()[0].status, Some(404));
}

#[tokio::test]
async fn editor_served_on_every_route() {
    let server = start().await;
    for route in ["/", "/video", "/suno", "/upscale", "/minimax"] {
        let reply = send(&server, "GET", &format!("{route}?variant=leaky"), None).await;
        assert_eq!(reply.status, 200, "{route}");
        assert!(reply.content_type.starts_with("text/html"), "{route}");
        assert!(reply.body.contains("/app/editor.js"), "{route}");
    }
    let script = send(&server, "GET", "/app/editor.js", None).await;
    assert!(script.content_type.starts_with("text/javascript"));
    assert!(script.body.contains("class PollResult"));
    let style = send(&server, "GET", "/app/editor.css", None).await;
    assert!(style.content_type.starts_with("text/css"));
}

#[tokio::test]
async fn pages_and_vendor_from_directories() {
    let pages = tempfile::tempdir().unwrap();
    let vendor = tempfile::tempdir().unwrap();
    std::fs::write(pages.path().join("zombie.html"), "<h1>zombie</h1>").unwrap();
    std::fs::create_dir_all(vendor.path().join("react/umd")).unwrap();
    std::fs::write(
        vendor.path().join("react/umd/react.development.js"),
        "var React;",
    )
    .unwrap();
    let server = DemoServer::start(DemoConfig {
        pages_dir: Some(pages.path().to_owned()),
        vendor_dir: Some(vendor.path().to_owned()),
        ..DemoConfig::default()
    })
    .await
    .unwrap();

    let page = send(&server, "GET", "/page/zombie.html", None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, "<h1>zombie</h1>");
    assert!(page.content_type.starts_with("text/html"));

    let script = send(
        &server,
        "GET",
        "/vendor/react/umd/react.development.js",
        None,
    )
    .await;
    assert_eq!(script.status, 200);
    assert!(script.content_type.starts_with("text/javascript"));

    let missing = send(&server, "GET", "/page/nope.html", None).await;
    assert_eq!(missing.status, 404);

    let escape = send(&server, "GET", "/page/%2e%2e/secret", None).await;
    assert_eq!(escape.status, 400, "{}", escape.body);
}

#[tokio::test]
async fn pages_without_directory_404() {
    let server = start().await;
    let reply = send(&server, "GET", "/page/a.html", None).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body.contains("pages_dir"), "{}", reply.body);
}

#[tokio::test]
async fn missing_directory_rejected_at_start() {
    let config = DemoConfig {
        pages_dir: Some("/nonexistent/leakscope-pages".into()),
        ..DemoConfig::default()
    };
    let Err(error) = DemoServer::start(config).await else {
        panic!("a missing pages_dir must be rejected");
    };
    assert!(error.to_string().contains("/nonexistent/leakscope-pages"));
}
