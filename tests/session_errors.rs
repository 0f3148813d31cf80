//! Bad input at the connection and recording boundaries: each is a clear
//! error naming the value, with no panic and no hang. Servers that are not
//! browsers are small loopback listeners in the test, because no real
//! component answers wrongly on purpose.

mod support;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use leakscope_core::{select_target, Browser, ConnectError, ConnectOptions, Endpoint, SelectError};
use leakscope_model::{RecordingError, RecordingReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Far above the 3 s discovery deadline; reaching it means a hang.
const HANG: Duration = Duration::from_secs(20);

async fn connect(endpoint: Endpoint) -> ConnectError {
    tokio::time::timeout(
        HANG,
        Browser::connect(&endpoint, &ConnectOptions::default()),
    )
    .await
    .expect("connect hung")
    .expect_err("connect should fail")
}

/// A loopback server that answers every connection with `reply` and closes.
async fn answering(reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    port
}

#[tokio::test]
async fn port_with_nothing_on_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let error = connect(Endpoint::local_port(port)).await;
    assert!(
        matches!(error, ConnectError::NothingListening { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("--user-data-dir"), "{message}");
    assert!(message.contains("chrome://inspect"), "{message}");
}

#[tokio::test]
async fn port_that_is_not_http() {
    let port = answering("SSH-2.0-OpenSSH_9.2\r\n").await;
    let error = connect(Endpoint::local_port(port)).await;
    assert!(matches!(error, ConnectError::NotCdp { .. }), "{error}");
    assert!(error.to_string().contains(&port.to_string()), "{error}");
}

#[tokio::test]
async fn port_that_is_http_but_not_cdp() {
    let port = answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
    let error = connect(Endpoint::local_port(port)).await;
    assert!(matches!(error, ConnectError::NotCdp { .. }), "{error}");
    assert!(error.to_string().contains("not JSON"), "{error}");
}

#[tokio::test]
async fn port_without_json_endpoints() {
    let port = answering("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
    let error = connect(Endpoint::local_port(port)).await;
    assert!(
        matches!(error, ConnectError::NoJsonEndpoint { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("--profile"), "{error}");
}

#[tokio::test]
async fn malformed_active_port_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("DevToolsActivePort");
    std::fs::write(&path, "not-a-port\n/devtools/browser/x\n").unwrap();
    let error = connect(Endpoint::ActivePortFile(dir.path().to_owned())).await;
    assert!(
        matches!(error, ConnectError::ActivePortMalformed { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("not-a-port"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn remote_host_needs_flag() {
    let error = connect(Endpoint::Port {
        host: "192.0.2.10".into(),
        port: 9222,
    })
    .await;
    assert!(
        matches!(error, ConnectError::RemoteNotAllowed { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("--allow-remote"), "{error}");
}

#[tokio::test]
async fn unknown_and_ambiguous_tabs() {
    let harness = support::Harness::start().await;
    let base = harness.demo_url();
    let mut browser = support::RawCdp::connect(&harness.browser.ws_url()).await;
    for marker in ["one", "two"] {
        browser
            .call(
                "Target.createTarget",
                serde_json::json!({ "url": format!("{base}/?probe={marker}") }),
            )
            .await;
    }
    let connection = Browser::connect(
        &Endpoint::local_port(harness.browser.port()),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    let targets = connection.targets().await.unwrap();

    let unknown = select_target(&targets, "0123456789ABCDEF0123456789ABCDEF").unwrap_err();
    assert!(matches!(unknown, SelectError::NotFound { .. }), "{unknown}");
    assert!(
        unknown.to_string().contains("probe=one"),
        "the error should list the targets: {unknown}"
    );

    let ambiguous = select_target(&targets, "probe=").unwrap_err();
    let SelectError::Ambiguous { candidates, .. } = &ambiguous else {
        panic!("{ambiguous}")
    };
    assert_eq!(candidates.len(), 2, "{ambiguous}");
}

#[test]
fn damaged_recording_line_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.jsonl");
    let header = r#"{"format_version":1,"leakscope_version":"0.1.0","browser":{"product":"","revision":"","user_agent":"","protocol_version":""},"target":{"id":"T","type":"page","title":"","url":""},"started_at_ms":0.0,"settings":{"interval_ms":1000}}"#;
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "{header}").unwrap();
    writeln!(file, r#"{{"t":0.5,"kind":"gap","reason":"busy"}}"#).unwrap();
    writeln!(file, r#"{{"t":1.0,"kind":"sample","heap_used":"lots"}}"#).unwrap();
    writeln!(file, r#"{{"t":1.5,"kind":"gap","reason":"busy"}}"#).unwrap();
    drop(file);
    let error = RecordingReader::read_all(&path).unwrap_err();
    assert!(
        matches!(error, RecordingError::Damaged { line: 3, .. }),
        "{error}"
    );
}

#[test]
fn cli_reports_bad_input_with_exit_code() {
    let leakscope = env!("CARGO_BIN_EXE_leakscope");
    let cases: [(&[&str], &str); 4] = [
        (&["record", "--tab", "x", "--interval", "50ms"], "50ms"),
        (&["record", "--tab", "x", "--interval", "soon"], "soon"),
        (&["demo", "--variant", "sideways"], "sideways"),
        (
            &[
                "demo",
                "--chrome",
                "/nonexistent/chrome",
                "--duration",
                "1s",
            ],
            "/nonexistent/chrome",
        ),
    ];
    for (args, named) in cases {
        let output = Command::new(leakscope).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains(named),
            "{args:?}: the error should name {named:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    }
}
