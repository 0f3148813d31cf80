//! A tab watched the way the recorder watches one: Leakscope's own session
//! attached to a real headless Chromium, the agent installed through
//! `agent::install`, its binding payloads decoded by `AgentDecoder` and fed,
//! with navigations and Network events, into a `LiveState`. Test binaries
//! include this file as a module; compiled alone it has no tests.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the watcher"
)]

#[path = "support/mod.rs"]
pub mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use leakscope_core::agent::{self, AgentDecoder, BINDING_NAME};
use leakscope_core::events::TypedEvent;
use leakscope_core::{Browser, ConnectOptions, Endpoint, Session};
use leakscope_demo::{DemoConfig, OperationBehaviour, RequestRecord};
use leakscope_model::config::Config;
use leakscope_model::live::LiveState;
use leakscope_model::polls::PollSummary;
use leakscope_model::{Engine, Header, NavigationKind, Record, RecordBody};
use serde_json::{json, Value};
pub use support::{wait_for, Harness};

/// Deadline for anything a page does within a few seconds.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Deadline of one CDP command sent by the tests.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(15);

/// Everything the watcher saw, behind one lock.
pub struct Seen {
    pub live: LiveState,
    /// The analysis engine (poll lifecycles and their flags) fed the same records.
    pub engine: Engine,
    pub records: Vec<Record>,
    /// Whether `records` grows; a benchmark that sends millions of events
    /// turns it off and keeps only the live state and the engine.
    pub keep_records: bool,
    /// Binding payloads that failed to decode.
    pub undecoded: Vec<String>,
    pub bad_events: u64,
}

pub struct Watched {
    pub harness: Harness,
    pub session: Session,
    pub seen: Arc<Mutex<Seen>>,
    /// Unix time in milliseconds at which the recording started.
    pub started_at_ms: f64,
    collector: tokio::task::JoinHandle<()>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.collector.abort();
    }
}

/// Opens a new tab on `url` through the debugging port's `/json/new`.
///
/// Chromium keeps that HTTP connection open after the response even when the
/// request sends `Connection: close`, so this reads exactly `Content-Length`
/// bytes of body instead of reading to the end of the stream.
pub async fn open_tab(harness: &Harness, url: &str) -> support::Tab {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let port = harness.browser.port();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("debugging port refused the connection");
    let request = format!(
        "PUT /json/new?{url} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("failed to send /json/new");
    let mut response = Vec::new();
    let body = tokio::time::timeout(COMMAND_DEADLINE, async {
        let mut buffer = [0u8; 4096];
        loop {
            let read = stream
                .read(&mut buffer)
                .await
                .expect("failed to read /json/new");
            assert!(
                read > 0,
                "debugging port closed the connection before the body ended"
            );
            response.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&response).into_owned();
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|value| value.trim().to_owned())
                })
                .and_then(|value| value.parse::<usize>().ok())
                .expect("/json/new response has no Content-Length");
            if body.len() >= length {
                return body[..length].to_owned();
            }
        }
    })
    .await
    .expect("/json/new timed out");
    let value: Value = serde_json::from_str(&body).expect("/json/new returned invalid JSON");
    support::Tab {
        id: value["id"].as_str().unwrap_or_default().to_owned(),
        url: value["url"].as_str().unwrap_or_default().to_owned(),
        title: value["title"].as_str().unwrap_or_default().to_owned(),
        ws_url: value["webSocketDebuggerUrl"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// `tests/pages`, with the React 18 development builds installed by `npm ci`
/// (from `tests/pages/package-lock.json`) when they are missing.
pub fn pages_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pages");
    let react = dir.join("node_modules/react/umd/react.development.js");
    if !react.exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("failed to run `npm ci` in tests/pages; install Node.js and npm");
        assert!(
            status.success(),
            "`npm ci` in tests/pages failed with {status}"
        );
    }
    dir
}

pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs_f64()
        * 1000.0
}

impl Watched {
    /// Starts the demo server (serving `tests/pages` under `/page/` and its
    /// `node_modules` under `/vendor/`) and Chromium, opens a blank tab,
    /// attaches Leakscope's session and installs the agent.
    pub async fn start() -> Watched {
        Watched::start_on(None).await
    }

    /// Like [`Watched::start`], but the tab first loads `/page/<page>` and the
    /// session attaches to the running page, as when a user attaches to a tab
    /// that was already open.
    pub async fn start_on(page: Option<&str>) -> Watched {
        Watched::start_with(page, Config::default()).await
    }

    /// Like [`Watched::start_on`], with the poll engine on `config`.
    pub async fn start_with(page: Option<&str>, rules: Config) -> Watched {
        let pages = pages_dir();
        let config = DemoConfig {
            pages_dir: Some(pages.clone()),
            vendor_dir: Some(pages.join("node_modules")),
            ..DemoConfig::default()
        };
        let harness = Harness::start_with(config).await;
        let first_url = match page {
            Some(page) => format!("{}/page/{page}", harness.demo_url()),
            None => "about:blank".to_owned(),
        };
        let tab = open_tab(&harness, &first_url).await;
        if let Some(page) = page {
            let mut raw = support::RawCdp::connect(&tab.ws_url).await;
            let give_up = tokio::time::Instant::now() + DEADLINE;
            let loaded = format!(
                "location.href.indexOf('/page/{page}') >= 0 && document.readyState === 'complete'"
            );
            while raw.eval(&loaded).await != Value::Bool(true) {
                assert!(
                    tokio::time::Instant::now() < give_up,
                    "the first page did not load within {DEADLINE:?}"
                );
                // Only bounds how late the loaded page is seen.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let endpoint = Endpoint::websocket(&harness.browser.ws_url())
            .expect("launcher gave an invalid websocket URL");
        let connection = Browser::connect(&endpoint, &ConnectOptions::default())
            .await
            .expect("failed to connect");
        let session = connection
            .attach(&tab.id)
            .await
            .expect("failed to attach to the blank tab");
        let events = session.events();
        session
            .call_raw("Page.enable", json!({}), COMMAND_DEADLINE)
            .await
            .expect("Page.enable failed");
        session
            .call_raw("Network.enable", json!({}), COMMAND_DEADLINE)
            .await
            .expect("Network.enable failed");
        let started_at_ms = now_ms();
        let header = Header {
            format_version: leakscope_model::FORMAT_VERSION,
            leakscope_version: env!("CARGO_PKG_VERSION").to_owned(),
            browser: Default::default(),
            target: Default::default(),
            started_at_ms,
            settings: Default::default(),
        };
        let seen = Arc::new(Mutex::new(Seen {
            live: LiveState::new(),
            engine: Engine::new(rules, &header),
            records: Vec::new(),
            keep_records: true,
            undecoded: Vec::new(),
            bad_events: 0,
        }));
        let collector = tokio::spawn(collect(
            events,
            AgentDecoder::new(started_at_ms),
            started_at_ms,
            seen.clone(),
        ));
        agent::install(&session)
            .await
            .expect("agent install failed");
        Watched {
            harness,
            session,
            seen,
            started_at_ms,
            collector,
        }
    }

    pub fn page_url(&self, page: &str) -> String {
        format!("{}/page/{page}", self.harness.demo_url())
    }

    /// Scripts the demo server's answers for `operation`.
    pub fn script(&self, operation: &str, behaviour: OperationBehaviour) {
        self.harness
            .demo
            .set_operation(operation, behaviour)
            .expect("invalid operation behaviour");
    }

    /// Navigates to `/page/<page>` and waits until the agent reported from the
    /// new document.
    pub async fn open(&self, page: &str) {
        let before = self.injections();
        let url = self.page_url(page);
        self.navigate(&url).await;
        self.wait_injected(before, &url).await;
        self.wait_loaded().await;
    }

    /// Waits until the current document finished loading (its scripts ran).
    pub async fn wait_loaded(&self) {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        while self.eval("document.readyState").await != "complete" {
            assert!(
                tokio::time::Instant::now() < give_up,
                "the page did not load within {DEADLINE:?}"
            );
            // Only bounds how late the loaded page is seen.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Reloads the page and waits until the agent reported from the new document.
    pub async fn reload(&self) {
        let before = self.injections();
        let url = self.with(|seen| seen.live.agent().url.clone());
        self.session
            .call_raw("Page.reload", json!({}), COMMAND_DEADLINE)
            .await
            .expect("Page.reload failed");
        self.wait_injected(before, &url).await;
        self.wait_loaded().await;
    }

    /// Sends `Page.navigate` without waiting for the page.
    pub async fn navigate(&self, url: &str) {
        self.session
            .call_raw("Page.navigate", json!({ "url": url }), COMMAND_DEADLINE)
            .await
            .expect("Page.navigate failed");
    }

    fn injections(&self) -> usize {
        self.with(|seen| {
            seen.records
                .iter()
                .filter(|record| matches!(record.body, RecordBody::AgentInjected { .. }))
                .count()
        })
    }

    async fn wait_injected(&self, before: usize, url: &str) {
        let expected = url.split('?').next().unwrap_or(url).to_owned();
        self.wait_until(
            &format!("the agent to report from {url}"),
            DEADLINE,
            |seen| {
                seen.records
                    .iter()
                    .filter(|record| matches!(record.body, RecordBody::AgentInjected { .. }))
                    .count()
                    > before
                    && seen.live.agent().url.starts_with(&expected)
            },
        )
        .await;
    }

    /// Evaluates `expression` in the page, awaiting a promise, and returns its value.
    pub async fn eval(&self, expression: &str) -> Value {
        let params =
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let result = self
            .session
            .call_raw("Runtime.evaluate", params, COMMAND_DEADLINE)
            .await
            .expect("Runtime.evaluate failed");
        if let Some(details) = result.get("exceptionDetails") {
            panic!("evaluating {expression:?} threw: {details}");
        }
        result["result"]["value"].clone()
    }

    /// Runs `read` on what was seen so far.
    pub fn with<T>(&self, read: impl FnOnce(&Seen) -> T) -> T {
        read(
            &self
                .seen
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Waits until `check` holds for what was seen, or panics after `deadline`.
    pub async fn wait_until(&self, what: &str, deadline: Duration, check: impl Fn(&Seen) -> bool) {
        wait_for(what, deadline, || {
            let holds = self.with(&check);
            async move { holds.then_some(()) }
        })
        .await
    }

    /// Poll lifecycles as the engine sees them now.
    pub fn lifecycles(&self) -> Vec<PollSummary> {
        let now = self.now_t();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.engine.advance(now);
        seen.engine.lifecycles()
    }

    /// Recording time (seconds) of now.
    pub fn now_t(&self) -> f64 {
        (now_ms() - self.started_at_ms) / 1000.0
    }

    /// The demo server's log of status requests for `operation`.
    pub fn server_requests(&self, operation: &str) -> Vec<RequestRecord> {
        self.harness
            .demo
            .request_log()
            .into_iter()
            .filter(|record| record.operation.as_deref() == Some(operation))
            .collect()
    }

    /// Agent `RequestStarted` records whose URL names `operation`, with their page time (epoch ms).
    pub fn agent_requests(&self, operation: &str) -> Vec<(f64, leakscope_model::RequestStarted)> {
        let needle = format!("operationName={operation}");
        self.with(|seen| {
            seen.records
                .iter()
                .filter_map(|record| match &record.body {
                    RecordBody::RequestStarted(started) if started.url.contains(&needle) => {
                        Some((started.page_ms, started.clone()))
                    }
                    _ => None,
                })
                .collect()
        })
    }
}

/// Feeds the session's events into the decoder and the live state until the
/// session ends.
async fn collect(
    mut events: leakscope_core::EventStream,
    mut decoder: AgentDecoder,
    started_at_ms: f64,
    seen: Arc<Mutex<Seen>>,
) {
    let mut last_url = String::new();
    let mut main_frame = String::new();
    while let Some(event) = events.next().await {
        let t = (now_ms() - started_at_ms) / 1000.0;
        let mut records = Vec::new();
        match &event.typed {
            Some(TypedEvent::BindingCalled(called)) if called.name == BINDING_NAME => {
                match decoder.decode(&called.payload) {
                    Ok(decoded) => records = decoded,
                    Err(error) => {
                        let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        seen.undecoded.push(error.payload().to_owned());
                    }
                }
            }
            Some(TypedEvent::FrameNavigated(navigated)) if navigated.frame.parent_id.is_none() => {
                main_frame = navigated.frame.id.inner().clone();
                let url = navigated.frame.url.clone();
                let navigation = if url == last_url {
                    NavigationKind::Reload
                } else {
                    NavigationKind::Full
                };
                last_url = url.clone();
                records.push(Record {
                    t,
                    body: RecordBody::Navigation { url, navigation },
                });
            }
            // Read raw: chromiumoxide's type may lag Chromium's `navigationType` values.
            _ if event.method == "Page.navigatedWithinDocument"
                && event.str_at("/frameId") == Some(main_frame.as_str()) =>
            {
                let url = event.str_at("/url").unwrap_or_default().to_owned();
                last_url = url.clone();
                let body = RecordBody::Navigation {
                    url,
                    navigation: NavigationKind::SameDocument,
                };
                records.push(Record { t, body });
            }
            Some(typed) => {
                if let Some(body) = agent::network_record(typed) {
                    records.push(Record { t, body });
                }
            }
            None => {}
        }
        if records.is_empty() {
            continue;
        }
        let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.bad_events = decoder.losses().bad_events;
        for record in records {
            seen.live.ingest(&record);
            seen.engine.ingest(&record);
            if seen.keep_records {
                seen.records.push(record);
            }
        }
    }
}

/// The 1-based line of `page` (under `tests/pages`) that contains `needle`.
pub fn line_of(page: &str, needle: &str) -> u32 {
    let text = std::fs::read_to_string(pages_dir().join(page)).expect("test page missing");
    let index = text
        .lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in {page}"));
    index as u32 + 1
}
