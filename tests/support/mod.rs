//! Shared harness for the integration tests: the real demo server, a real
//! headless Chromium started by Leakscope's launcher, and a minimal raw CDP
//! client for checks that must not depend on the product's own session code.
//!
//! Everything started here is torn down on drop, so a failing test leaves no
//! browser or server behind. Tests wait on events, the server's request log or
//! page state with a deadline ([`wait_for`]), never on fixed sleeps.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use leakscope_core::launcher::{self, LaunchOptions, LaunchedBrowser};
use leakscope_demo::{DemoConfig, DemoServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Deadline for one raw CDP command in tests.
pub const CDP_DEADLINE: Duration = Duration::from_secs(15);

/// A demo server and a headless Chromium, both torn down on drop.
pub struct Harness {
    pub demo: DemoServer,
    pub browser: LaunchedBrowser,
}

impl Harness {
    /// Starts the demo server with its defaults and a headless Chromium.
    pub async fn start() -> Harness {
        Harness::start_with(DemoConfig::default()).await
    }

    pub async fn start_with(config: DemoConfig) -> Harness {
        let demo = DemoServer::start(config)
            .await
            .expect("demo server failed to start");
        let browser = launch_headless().await;
        Harness { demo, browser }
    }

    /// Base URL of the demo server, without a trailing slash.
    pub fn demo_url(&self) -> String {
        self.demo.url().to_string().trim_end_matches('/').to_owned()
    }

    /// Opens a new tab on `url` and returns it with its page websocket URL.
    pub async fn open_tab(&self, url: &str) -> Tab {
        let body = http_request(
            self.browser.port(),
            "PUT",
            &format!("/json/new?{}", encode_component(url)),
        )
        .await;
        let value: Value = serde_json::from_str(&body).expect("/json/new returned invalid JSON");
        Tab::from_json(&value)
    }

    /// Lists the page targets (`/json/list`).
    pub async fn tabs(&self) -> Vec<Tab> {
        let body = http_request(self.browser.port(), "GET", "/json/list").await;
        let value: Value = serde_json::from_str(&body).expect("/json/list returned invalid JSON");
        value
            .as_array()
            .expect("/json/list is not an array")
            .iter()
            .filter(|target| target["type"] == "page")
            .map(Tab::from_json)
            .collect()
    }

    /// Closes a tab through `/json/close`.
    pub async fn close_tab(&self, id: &str) {
        http_request(self.browser.port(), "GET", &format!("/json/close/{id}")).await;
    }
}

/// Launches headless Chromium from `LEAKSCOPE_CHROME` or the usual names on PATH.
pub async fn launch_headless() -> LaunchedBrowser {
    let options = LaunchOptions {
        executable: std::env::var_os("LEAKSCOPE_CHROME").map(Into::into),
        headless: true,
        ..LaunchOptions::default()
    };
    launcher::launch(&options)
        .await
        .expect("failed to launch headless Chromium (install the chromium package)")
}

/// A page target.
#[derive(Debug, Clone)]
pub struct Tab {
    pub id: String,
    pub url: String,
    pub title: String,
    pub ws_url: String,
}

impl Tab {
    fn from_json(value: &Value) -> Tab {
        Tab {
            id: value["id"].as_str().unwrap_or_default().to_owned(),
            url: value["url"].as_str().unwrap_or_default().to_owned(),
            title: value["title"].as_str().unwrap_or_default().to_owned(),
            ws_url: value["webSocketDebuggerUrl"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// Sends one HTTP/1.1 request to the browser's debugging port and returns the body.
///
/// Chromium's DevTools HTTP server keeps the connection open after the
/// response even with `Connection: close`, so the body is read by its
/// `Content-Length`, not to end of stream.
pub async fn http_request(port: u16, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("debugging port refused the connection");
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("failed to send HTTP request");
    let read = async {
        let mut response = Vec::new();
        let mut buffer = [0u8; 8192];
        loop {
            if let Some(header_end) = find(&response, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&response[..header_end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse::<usize>().ok());
                let body = &response[header_end + 4..];
                if length.is_some_and(|length| body.len() >= length) {
                    return String::from_utf8_lossy(&body[..length.unwrap_or(0)]).into_owned();
                }
            }
            let read = stream
                .read(&mut buffer)
                .await
                .expect("failed to read HTTP response");
            if read == 0 {
                let text = String::from_utf8_lossy(&response).into_owned();
                return text
                    .split_once("\r\n\r\n")
                    .map(|(_, body)| body.to_owned())
                    .unwrap_or(text);
            }
            response.extend_from_slice(&buffer[..read]);
        }
    };
    tokio::time::timeout(CDP_DEADLINE, read)
        .await
        .expect("HTTP request to the debugging port timed out")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Percent-encodes a URL for use as the query of `/json/new?<url>`, which
/// otherwise keeps only the URL's first query parameter.
fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A plain CDP client on one page websocket: commands in order, events kept.
/// Tests use it to check the page independently of Leakscope's own session.
pub struct RawCdp {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events received while waiting for replies: (method, params).
    pub events: Vec<(String, Value)>,
}

impl RawCdp {
    pub async fn connect(ws_url: &str) -> RawCdp {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .expect("failed to open the page websocket");
        RawCdp {
            socket,
            next_id: 0,
            events: Vec::new(),
        }
    }

    /// Sends a command and returns its `result`, or panics with the CDP error.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// Sends a command and returns its `result` or its `error` object.
    pub async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.socket
            .send(Message::Text(message.into()))
            .await
            .expect("failed to send CDP command");
        let reply = tokio::time::timeout(CDP_DEADLINE, async {
            while let Some(message) = self.socket.next().await {
                let Ok(Message::Text(text)) = message else {
                    continue;
                };
                let value: Value = serde_json::from_str(&text).expect("CDP sent invalid JSON");
                if value["id"] == id {
                    return value;
                }
                if let Some(event) = value["method"].as_str() {
                    self.events
                        .push((event.to_owned(), value["params"].clone()));
                }
            }
            panic!("page websocket closed while waiting for {method}");
        })
        .await
        .unwrap_or_else(|_| panic!("{method} got no reply within {CDP_DEADLINE:?}"));
        match reply.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(reply["result"].clone()),
        }
    }

    /// Evaluates an expression (awaiting promises) and returns its JSON value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(details) = result.get("exceptionDetails") {
            panic!("evaluating {expression:?} threw: {details}");
        }
        result["result"]["value"].clone()
    }

    /// `Runtime.getHeapUsage().usedSize`, in bytes.
    pub async fn heap_used(&mut self) -> u64 {
        let usage = self.call("Runtime.getHeapUsage", json!({})).await;
        usage["usedSize"]
            .as_f64()
            .expect("getHeapUsage has no usedSize") as u64
    }

    /// Collects garbage, then returns the used heap in bytes.
    pub async fn heap_used_after_gc(&mut self) -> u64 {
        self.call("HeapProfiler.collectGarbage", json!({})).await;
        self.heap_used().await
    }
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what`
/// after `deadline`. The poll period only bounds how late a condition is seen;
/// the test's result never depends on it.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= give_up {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
