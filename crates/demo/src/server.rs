//! The loopback HTTP server behind the demo editor, which doubles as the
//! fixture server of the integration tests.
//!
//! It binds 127.0.0.1 only, serves the editor compiled into the binary, the
//! four flows' job and status endpoints, scripted operations, and pages and
//! vendor files from directories in [`DemoConfig`]. Every request goes through
//! one middleware that writes the request log before the handler runs, so a
//! request without a response is logged too.
//!
//! Nothing here waits forever: a hanging or delayed status request ends when
//! the server shuts down, and `shutdown` itself has a deadline.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::assets::{self, FileError};
use crate::jobs::{JobSpec, LookupError, OperationBehaviour, Operations, StatusAnswer};
use crate::log::{self, Arrival, RequestLog, RequestRecord};
use crate::scenario::{Flow, JobOutcome, Scenario};

/// Largest request body the server reads, in bytes. Job and status requests
/// are a few dozen bytes.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// How long `shutdown` waits for open connections to finish.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Settings of a demo server.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
    /// Job behaviour for job requests that leave a field out.
    pub default_job: JobSpec,
    /// Directory served under `/page/`.
    pub pages_dir: Option<PathBuf>,
    /// Directory served under `/vendor/` (for example a local React build).
    pub vendor_dir: Option<PathBuf>,
    /// Records kept in the request log; older ones are dropped first.
    pub log_capacity: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            port: 0,
            default_job: JobSpec::default(),
            pages_dir: None,
            vendor_dir: None,
            log_capacity: 100_000,
        }
    }
}

/// Errors of the demo server.
#[derive(Debug, Error)]
pub enum DemoError {
    #[error("failed to bind the demo server to {addr}: {source}; pick another port or use port 0 for a free one")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid demo server configuration: {0}")]
    InvalidConfig(String),
    #[error(
        "invalid http_status {status} for operation {operation}; use a status from 200 to 599"
    )]
    InvalidHttpStatus { operation: String, status: u16 },
    #[error(
        "timed out after {waited:?} waiting for {description} in the request log ({seen} requests logged)"
    )]
    WaitTimedOut {
        description: String,
        waited: Duration,
        seen: usize,
    },
    #[error("the demo server did not stop within {waited:?}; its connections were left to close on their own")]
    ShutdownTimedOut { waited: Duration },
    #[error("the demo server stopped with an error: {0}")]
    Serve(#[source] std::io::Error),
}

/// State shared by the handlers.
struct Shared {
    started: Instant,
    operations: Mutex<Operations>,
    log: RequestLog,
    default_job: JobSpec,
    pages_dir: Option<PathBuf>,
    vendor_dir: Option<PathBuf>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn operations(&self) -> std::sync::MutexGuard<'_, Operations> {
        // The operations table stays consistent even if a holder panicked.
        self.operations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resolves once the server starts shutting down.
    async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        // An error means the sender is gone, which also means shutdown.
        let _ = shutdown.wait_for(|down| *down).await;
    }
}

/// A running demo server. Dropping it starts a shutdown without waiting for
/// it; call [`DemoServer::shutdown`] to wait.
pub struct DemoServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl DemoServer {
    /// Binds 127.0.0.1 and starts serving on the current tokio runtime.
    pub async fn start(config: DemoConfig) -> Result<DemoServer, DemoError> {
        config
            .default_job
            .validate()
            .map_err(DemoError::InvalidConfig)?;
        for (name, dir) in [
            ("pages_dir", &config.pages_dir),
            ("vendor_dir", &config.vendor_dir),
        ] {
            if let Some(dir) = dir {
                if !dir.is_dir() {
                    return Err(DemoError::InvalidConfig(format!(
                        "{name} {} is not a directory; create it or leave {name} unset",
                        dir.display()
                    )));
                }
            }
        }

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DemoError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| DemoError::Bind { addr, source })?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            started: Instant::now(),
            operations: Mutex::new(Operations::default()),
            log: RequestLog::new(config.log_capacity),
            default_job: config.default_job,
            pages_dir: config.pages_dir,
            vendor_dir: config.vendor_dir,
            shutdown: shutdown_rx.clone(),
        });

        let app = router(shared.clone());
        let mut stop = shutdown_rx;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|down| *down).await;
                })
                .await
        });
        tracing::info!(%addr, "demo server listening");

        Ok(DemoServer {
            shared,
            addr,
            shutdown,
            task: Some(task),
        })
    }

    /// Base URL without a trailing slash, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Builds the editor's URL for `scenario` on this server.
    pub fn scenario_url(&self, scenario: &Scenario) -> String {
        scenario.url(&self.url())
    }

    /// Returns a copy of the request log, oldest first.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.log.snapshot()
    }

    /// Records dropped from the request log because it reached
    /// [`DemoConfig::log_capacity`].
    pub fn dropped_requests(&self) -> u64 {
        self.shared.log.dropped()
    }

    /// Scripts the responses of the status endpoints for `operation`, replacing
    /// any earlier script for it and restarting its sequence.
    pub fn set_operation(
        &self,
        operation: impl Into<String>,
        behaviour: OperationBehaviour,
    ) -> Result<(), DemoError> {
        let operation = operation.into();
        if !(200..=599).contains(&behaviour.http_status) {
            return Err(DemoError::InvalidHttpStatus {
                operation,
                status: behaviour.http_status,
            });
        }
        self.shared.operations().script(&operation, behaviour);
        Ok(())
    }

    /// Removes the script of `operation`; returns whether it had one.
    pub fn clear_operation(&self, operation: &str) -> bool {
        self.shared.operations().unscript(operation)
    }

    /// Status polls received so far for a job that a flow's `POST` started,
    /// or `None` for an unknown id.
    pub fn job_polls(&self, operation: &str) -> Option<u32> {
        self.shared.operations().job_polls(operation)
    }

    /// Waits until `check` returns `Some` for the request log, checking now
    /// and after every change to the log. `description` names the awaited
    /// requests in the timeout error.
    pub async fn wait_for<T>(
        &self,
        description: &str,
        deadline: Duration,
        check: impl FnMut(&[RequestRecord]) -> Option<T>,
    ) -> Result<T, DemoError> {
        self.shared
            .log
            .wait_for(deadline, check)
            .await
            .map_err(|seen| DemoError::WaitTimedOut {
                description: description.to_owned(),
                waited: deadline,
                seen,
            })
    }

    /// Waits for the first logged request that matches `matches`.
    pub async fn wait_for_request(
        &self,
        description: &str,
        deadline: Duration,
        matches: impl Fn(&RequestRecord) -> bool,
    ) -> Result<RequestRecord, DemoError> {
        self.wait_for(description, deadline, |records| {
            records.iter().find(|record| matches(record)).cloned()
        })
        .await
    }

    /// Stops accepting connections, ends hanging and delayed requests, and
    /// waits up to five seconds for open connections to close.
    pub async fn shutdown(mut self) -> Result<(), DemoError> {
        self.shutdown.send_replace(true);
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_DEADLINE, task).await {
            Ok(Ok(Ok(()))) => {
                tracing::info!(addr = %self.addr, "demo server stopped");
                Ok(())
            }
            Ok(Ok(Err(error))) => Err(DemoError::Serve(error)),
            Ok(Err(join_error)) => Err(DemoError::Serve(std::io::Error::other(join_error))),
            Err(_) => Err(DemoError::ShutdownTimedOut {
                waited: SHUTDOWN_DEADLINE,
            }),
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        // The serve task and its connections end on their own once they see
        // this; Drop cannot wait for them.
        self.shutdown.send_replace(true);
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let mut app = Router::new()
        .route("/", get(index))
        .route("/app/editor.js", get(editor_js))
        .route("/app/editor.css", get(editor_css))
        .route("/page/{*path}", get(page))
        .route("/vendor/{*path}", get(vendor));

    for flow in Flow::ALL {
        app = app
            .route(&format!("/{}", flow.name()), get(index))
            .route(
                flow.start_path(),
                post(move |State(shared): State<Arc<Shared>>, body: Bytes| {
                    start_job(shared, flow, body)
                }),
            )
            .route(
                flow.status_path(),
                get(
                    move |State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery| {
                        status_from_query(shared, flow, query)
                    },
                )
                .post(move |State(shared): State<Arc<Shared>>, body: Bytes| {
                    status_from_body(shared, flow, body)
                }),
            );
    }

    app.fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), log_requests))
        .with_state(shared)
}

/// Logs the request on arrival and its response when complete.
async fn log_requests(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_REQUEST_BODY).await;

    let mut operation = parts.uri.query().and_then(operation_from_query);
    if let (None, Ok(bytes)) = (&operation, &body) {
        operation = operation_from_json(bytes);
    }
    let seq = shared.log.arrive(Arrival {
        since_start: arrived.duration_since(shared.started),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        operation,
    });

    let response = match body {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(error) => plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body could not be read ({error}); send at most {MAX_REQUEST_BODY} bytes"
            ),
        ),
    };

    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(seq, %error, "failed to read a response body for the request log");
            Bytes::new()
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    shared.log.answer(
        seq,
        parts.status.as_u16(),
        arrived.elapsed(),
        log::summarise_body(content_type, &bytes),
        operation_from_json(&bytes),
    );
    Response::from_parts(parts, Body::from(bytes))
}

fn operation_from_query(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "operationName")
        .map(|(_, value)| value.into_owned())
}

fn operation_from_json(bytes: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    value.get("operationName")?.as_str().map(str::to_owned)
}

async fn index() -> Response {
    static_text(assets::INDEX_HTML, "text/html; charset=utf-8")
}

async fn editor_js() -> Response {
    static_text(assets::EDITOR_JS, "text/javascript; charset=utf-8")
}

async fn editor_css() -> Response {
    static_text(assets::EDITOR_CSS, "text/css; charset=utf-8")
}

fn static_text(text: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // The editor changes with the binary; never let a cached copy mix
            // an old script with a new server.
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

/// Fields a job request may carry; the page forwards its URL parameters.
/// Unknown fields such as `prompt` are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct JobRequest {
    complete_after: Option<u32>,
    job: Option<String>,
    error_status: Option<u16>,
}

async fn start_job(shared: Arc<Shared>, flow: Flow, body: Bytes) -> Response {
    let spec = match job_spec(&shared.default_job, &body) {
        Ok(spec) => spec,
        Err(message) => return json_error(StatusCode::BAD_REQUEST, message),
    };
    let operation = shared.operations().start_job(flow, spec);
    tracing::debug!(%flow, %operation, outcome = %spec.outcome, complete_after = spec.complete_after, "job started");
    json_response(
        StatusCode::OK,
        &json!({ "operationName": operation, "flow": flow.name() }),
    )
}

fn job_spec(defaults: &JobSpec, body: &[u8]) -> Result<JobSpec, String> {
    let request: JobRequest = if body.iter().all(u8::is_ascii_whitespace) {
        JobRequest::default()
    } else {
        serde_json::from_slice(body).map_err(|error| {
            format!(
                "invalid job request body ({error}); send JSON such as {{\"complete_after\":3,\"job\":\"complete\",\"error_status\":500}}"
            )
        })?
    };
    let outcome = match request.job.as_deref() {
        Some(name) => name
            .parse::<JobOutcome>()
            .map_err(|error| error.to_string())?,
        None => defaults.outcome,
    };
    let spec = JobSpec {
        outcome,
        complete_after: request.complete_after.unwrap_or(defaults.complete_after),
        error_status: request.error_status.unwrap_or(defaults.error_status),
    };
    spec.validate()?;
    Ok(spec)
}

async fn status_from_query(shared: Arc<Shared>, flow: Flow, query: Option<String>) -> Response {
    match query.as_deref().and_then(operation_from_query) {
        Some(operation) => status(shared, flow, operation).await,
        None => json_error(
            StatusCode::BAD_REQUEST,
            format!(
                "missing operationName; call {}?operationName=<id>",
                flow.status_path()
            ),
        ),
    }
}

async fn status_from_body(shared: Arc<Shared>, flow: Flow, body: Bytes) -> Response {
    match operation_from_json(&body) {
        Some(operation) => status(shared, flow, operation).await,
        None => json_error(
            StatusCode::BAD_REQUEST,
            format!(
                "missing operationName; send a JSON body such as {{\"operationName\":\"op-1\"}} to {}",
                flow.status_path()
            ),
        ),
    }
}

async fn status(shared: Arc<Shared>, flow: Flow, operation: String) -> Response {
    let answer = shared.operations().answer(flow, &operation);
    match answer {
        Ok(StatusAnswer::Reply {
            delay,
            http_status,
            body,
        }) => {
            if !delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shared.shutting_down() => return shutting_down_response(),
                }
            }
            let status =
                StatusCode::from_u16(http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(status, &body)
        }
        Ok(StatusAnswer::Hang) => {
            tracing::debug!(%operation, "holding a status request unanswered until shutdown");
            shared.shutting_down().await;
            shutting_down_response()
        }
        Err(LookupError::Unknown) => json_error(
            StatusCode::NOT_FOUND,
            format!(
                "operation {operation} not found; start a job with POST {} first",
                flow.start_path()
            ),
        ),
        Err(LookupError::OtherFlow(owner)) => json_error(
            StatusCode::NOT_FOUND,
            format!(
                "operation {operation} belongs to the {owner} flow; poll {} instead",
                owner.status_path()
            ),
        ),
    }
}

fn shutting_down_response() -> Response {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "the demo server is shutting down".to_owned(),
    )
}

async fn page(State(shared): State<Arc<Shared>>, Path(path): Path<String>) -> Response {
    serve_file(shared.pages_dir.as_ref(), "pages_dir", "/page/", &path).await
}

async fn vendor(State(shared): State<Arc<Shared>>, Path(path): Path<String>) -> Response {
    serve_file(shared.vendor_dir.as_ref(), "vendor_dir", "/vendor/", &path).await
}

async fn serve_file(root: Option<&PathBuf>, setting: &str, prefix: &str, path: &str) -> Response {
    let Some(root) = root else {
        return plain(
            StatusCode::NOT_FOUND,
            format!("not found: {prefix}{path}; this server has no {setting} set"),
        );
    };
    match assets::read_under(root, path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(assets::content_type_for(path))),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            bytes,
        )
            .into_response(),
        Err(FileError::UnsafePath) => plain(
            StatusCode::BAD_REQUEST,
            format!("invalid path {prefix}{path}: empty, '.' or '..' segments and backslashes are not allowed"),
        ),
        Err(FileError::NotFound) => plain(
            StatusCode::NOT_FOUND,
            format!("not found: {prefix}{path} (no such file under {})", root.display()),
        ),
        Err(FileError::Io(error)) => {
            tracing::warn!(path, %error, "failed to read a static file");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to read {prefix}{path}: {error}"),
            )
        }
    }
}

async fn not_found(method: Method, uri: Uri) -> Response {
    plain(
        StatusCode::NOT_FOUND,
        format!("not found: {method} {}", uri.path()),
    )
}

fn plain(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn json_error(status: StatusCode, message: String) -> Response {
    json_response(status, &json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_spec_uses_defaults_for_missing_fields() {
        let defaults = JobSpec {
            outcome: JobOutcome::Never,
            complete_after: 7,
            error_status: 502,
        };
        assert_eq!(job_spec(&defaults, b"").unwrap(), defaults);
        let spec = job_spec(&defaults, br#"{"complete_after":2,"prompt":"a cat"}"#).unwrap();
        assert_eq!(spec.complete_after, 2);
        assert_eq!(spec.outcome, JobOutcome::Never);
    }

    #[test]
    fn job_spec_rejects_bad_fields() {
        let defaults = JobSpec::default();
        let unknown = job_spec(&defaults, br#"{"job":"explode"}"#).unwrap_err();
        assert!(unknown.contains("\"explode\""), "{unknown}");
        let negative = job_spec(&defaults, br#"{"complete_after":-1}"#).unwrap_err();
        assert!(negative.contains("invalid job request body"), "{negative}");
        let status = job_spec(&defaults, br#"{"job":"error","error_status":200}"#).unwrap_err();
        assert!(status.contains("error_status 200"), "{status}");
    }

    #[test]
    fn operation_from_query_decodes() {
        assert_eq!(
            operation_from_query("a=1&operationName=op%2D3").as_deref(),
            Some("op-3")
        );
        assert_eq!(operation_from_query("a=1"), None);
    }
}
