//! Records: one line of a recording file each.
//!
//! A recording is JSON Lines. Its first line is a [`Header`]; every later line
//! is a [`Record`]: a timestamp `t` (seconds since the recording started, from a
//! monotonic clock) and a [`RecordBody`] tagged by `kind`. Field names are part
//! of the file format: add optional fields freely, but rename or remove one only
//! together with a bump of [`FORMAT_VERSION`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the recording file format written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// First line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    pub leakscope_version: String,
    pub browser: BrowserInfo,
    pub target: TargetInfo,
    /// Wall-clock start of the recording, in milliseconds since the Unix epoch.
    /// Page timestamps (also epoch milliseconds) map to `t` through it.
    pub started_at_ms: f64,
    pub settings: Settings,
}

/// Browser product and protocol, from `Browser.getVersion`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrowserInfo {
    /// For example `Chrome/156.0.8078.73` or `HeadlessChrome/156.0.8078.73`.
    pub product: String,
    pub revision: String,
    pub user_agent: String,
    pub protocol_version: String,
}

/// A debuggable target (tab, worker, ...), as `Target.getTargets` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub id: String,
    /// `page`, `iframe`, `service_worker`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub url: String,
}

/// Settings a recording was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Sampling interval in milliseconds.
    pub interval_ms: u64,
    /// Whether a garbage collection ran before some samples (see `Sample::after_gc`).
    #[serde(default)]
    pub gc_before_sample: bool,
    /// Whether the in-page agent was injected.
    #[serde(default)]
    pub agent: bool,
    /// Free-form settings of later features (rules file, poll config, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interval_ms: 1000,
            gc_before_sample: false,
            agent: true,
            extra: BTreeMap::new(),
        }
    }
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Seconds since the recording started.
    pub t: f64,
    #[serde(flatten)]
    pub body: RecordBody,
}

/// What a record carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordBody {
    Sample(Sample),
    /// A sample that could not be taken, with the reason (never recorded as zeros).
    Gap {
        reason: String,
    },
    Navigation {
        url: String,
        navigation: NavigationKind,
    },
    /// The agent was injected into a document. `late` means the document was
    /// already running, so timers and requests created before this moment are
    /// invisible to the agent.
    AgentInjected {
        url: String,
        late: bool,
        /// The session's index of the document the agent runs in. Timer and
        /// controller ids carry it in their high 32 bits and request ids before
        /// their dot (see `live::document_of`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document: Option<u32>,
        /// True for the tab's top-level document, false for an iframe; absent
        /// in recordings made before the field existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top: Option<bool>,
    },
    /// A deduplicated creation site; later records refer to it by `id`.
    Site(Site),
    TimerCreated {
        id: u64,
        timer: TimerKind,
        delay_ms: f64,
        site: Option<u32>,
        /// The timer whose callback created this one (a `setTimeout` chain).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<u64>,
        /// Page clock (`performance.timeOrigin + performance.now()`), epoch ms.
        page_ms: f64,
    },
    TimerCleared {
        id: u64,
        site: Option<u32>,
        page_ms: f64,
    },
    /// A one-shot timer ran its callback, so it is no longer live.
    TimerFired {
        id: u64,
        page_ms: f64,
    },
    RequestStarted(RequestStarted),
    RequestEnded(RequestEnded),
    ControllerCreated {
        id: u64,
        site: Option<u32>,
        /// Absent for an `AbortController`; `timeout` or `any` for a signal made
        /// by `AbortSignal.timeout()` or `AbortSignal.any()`, which the agent
        /// tracks like a controller so requests can name what guards them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api: Option<String>,
        page_ms: f64,
    },
    ControllerAborted {
        id: u64,
        site: Option<u32>,
        page_ms: f64,
    },
    /// The controller was garbage collected (seen through a `FinalizationRegistry`).
    ControllerCollected {
        id: u64,
        page_ms: f64,
    },
    /// A request seen by the Network domain, for the cross-check with the agent.
    Network(NetworkEvent),
    /// An explicit poll lifecycle signal: the page's poll API or a
    /// `[PollingHealth]` console line.
    PollSignal(PollSignal),
    Marker {
        label: String,
    },
    Snapshot(SnapshotEvent),
    Alert(Alert),
    /// Running totals of what was lost: undecodable CDP messages, events dropped by
    /// a full channel, commands that timed out.
    Losses(Losses),
    /// The recording ended; always the last record of a recording closed cleanly.
    End {
        reason: EndReason,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NavigationKind {
    /// A new document was loaded.
    Full,
    /// The same URL was loaded again.
    Reload,
    /// `history.pushState`, `replaceState`, a fragment change: the document stays.
    SameDocument,
}

/// One sample of the page's memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// `Runtime.getHeapUsage().usedSize`, bytes.
    pub heap_used: u64,
    /// `Runtime.getHeapUsage().totalSize`, bytes.
    pub heap_total: u64,
    /// `performance.memory.jsHeapSizeLimit`, bytes, read once per document. Never
    /// used for verdicts because Chrome may bucket and cache it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_limit: Option<u64>,
    /// Every `Performance.getMetrics` value, by name (`Nodes`, `JSEventListeners`, ...).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Agent counts at the time of the sample, when the agent runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<LiveCounts>,
    /// True when `HeapProfiler.collectGarbage` ran just before this sample.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_gc: bool,
}

impl Sample {
    /// Returns a `Performance.getMetrics` value by name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }
}

/// Counts of what the agent sees live, and totals since the recording started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCounts {
    pub timers_live: u64,
    pub timeouts_live: u64,
    pub intervals_live: u64,
    pub timers_created: u64,
    pub timers_cleared: u64,
    pub requests_in_flight: u64,
    pub requests_completed: u64,
    pub requests_aborted: u64,
    pub requests_failed: u64,
    pub controllers_live: u64,
    pub controllers_aborted: u64,
}

/// A creation site: the first stack frame outside the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: u32,
    pub url: String,
    /// 1-based, as in DevTools.
    pub line: u32,
    /// 1-based, as in DevTools.
    pub column: u32,
    pub function: String,
    /// The raw stack frame text, kept so source maps can be applied later.
    pub raw: String,
}

impl Site {
    /// Formats the site as `function (url:line:column)`.
    pub fn label(&self) -> String {
        let function = if self.function.is_empty() {
            "(anonymous)"
        } else {
            &self.function
        };
        format!("{function} ({}:{}:{})", self.url, self.line, self.column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    Timeout,
    Interval,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestApi {
    Fetch,
    Xhr,
}

/// A request the page started (seen by the agent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestStarted {
    /// Agent request id, unique within the recording.
    pub id: String,
    pub api: RequestApi,
    pub method: String,
    /// Absolute URL, with secret-looking query values already redacted.
    pub url: String,
    pub site: Option<u32>,
    /// The AbortController whose signal guards the request, when the agent knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<u64>,
    /// The signal was already aborted when the request started, so it never
    /// reached the network.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signal_aborted: bool,
    /// The timer whose callback was running when the request started: the timer
    /// that drives a poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<u64>,
    /// Top-level string and number fields of a JSON request body, for operation
    /// ids carried in the body. Never the whole body.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub body_fields: BTreeMap<String, String>,
    pub page_ms: f64,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RequestOutcome {
    /// A response arrived (any HTTP status).
    Completed { status: u16 },
    /// Aborted through its signal or `xhr.abort()`.
    Aborted,
    /// A network error or another rejection.
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestEnded {
    pub id: String,
    #[serde(flatten)]
    pub outcome: RequestOutcome,
    /// Top-level string, number and boolean fields of a JSON response body
    /// (`status`, `done`, `state`, ...), for poll lifecycles. Never the whole body.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_fields: BTreeMap<String, String>,
    pub page_ms: f64,
}

/// A request lifecycle event from the CDP Network domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum NetworkEvent {
    Sent {
        request_id: String,
        method: String,
        url: String,
    },
    Response {
        request_id: String,
        status: u16,
    },
    Finished {
        request_id: String,
    },
    Failed {
        request_id: String,
        error: String,
        canceled: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollSignalKind {
    Start,
    Attempt,
    End,
    /// The view that owns polls went away (the page's own unmount signal).
    Unmount,
    /// The page itself flagged the poll as runaway (past its attempt limit).
    Runaway,
    /// A periodic health report listed the poll as active, with its attempt
    /// count and age so far.
    Report,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollSignal {
    pub signal: PollSignalKind,
    pub operation: String,
    /// `video`, `audio-suno`, `upscale`, `audio-minimax`, or a page's own type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_type: Option<String>,
    /// For `End`: `complete`, `timeout`, `error`, `unmount`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `api` for the page's poll API, `console` for a `[PollingHealth]` line.
    pub source: String,
    /// Attempts so far, when the page reported them (`pollCount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
    /// Age of the poll in milliseconds, when the page reported it (`age`, or
    /// `duration` at the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<f64>,
}

/// A heap snapshot capture, finished or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotEvent {
    pub path: String,
    pub bytes: u64,
    pub duration_ms: u64,
    pub gc: bool,
    /// `ok`, or why the capture failed (the file is then absent or `*.partial`).
    pub status: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    Info,
    Warning,
    Critical,
    Emergency,
}

/// An alert raised by a rule. Repeats of the same rule and subject are merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub level: AlertLevel,
    /// Stable rule id, for example `heap.utilisation` or `poll.attempts`.
    pub rule: String,
    /// What the alert is about: an operation, an endpoint or a site.
    pub subject: String,
    pub message: String,
    pub first_seen: f64,
    pub last_seen: f64,
    pub count: u64,
}

/// Running totals of lost data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Losses {
    /// CDP messages that failed to decode, by method (`?` when the method is unknown).
    pub undecoded: BTreeMap<String, u64>,
    /// Events dropped because a channel was full.
    pub dropped_events: u64,
    /// Commands that hit their deadline.
    pub timed_out_commands: u64,
}

impl Losses {
    pub fn undecoded_total(&self) -> u64 {
        self.undecoded.values().sum()
    }
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The requested duration elapsed.
    Duration,
    /// The user stopped it (Ctrl-C, Stop button).
    Stopped,
    TargetClosed,
    RendererCrashed,
    BrowserGone,
    /// The session failed in another way; the message says how.
    Error,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Duration => "duration",
            EndReason::Stopped => "stopped",
            EndReason::TargetClosed => "target_closed",
            EndReason::RendererCrashed => "renderer_crashed",
            EndReason::BrowserGone => "browser_gone",
            EndReason::Error => "error",
        }
    }
}

/// `SnapshotEvent::status` of a capture that finished and validated.
pub const SNAPSHOT_OK: &str = "ok";
