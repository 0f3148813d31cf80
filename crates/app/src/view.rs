//! The live view: the payload of the `live` event and of `liveView` and
//! `replayView`, in the UI's terms (camelCase JSON, times in seconds, sizes in
//! bytes).
//!
//! It is built from the model's [`LiveState`] (timers, requests and
//! controllers by site and endpoint), its [`Engine`] (poll lifecycles, alerts,
//! verdict) and the app's [`Timeline`] (last sample, losses, markers,
//! snapshots). Tables are capped at [`MAX_ROWS`] rows, so the payload stays
//! small however many sites or endpoints a page has.

use leakscope_model::live::{LiveState, SiteKind};
use leakscope_model::polls::{PollState, PollSummary};
use leakscope_model::verdict::VerdictKind;
use leakscope_model::{AlertLevel, Engine, TargetInfo};
use serde::Serialize;

use crate::timeline::{Marker, SnapshotEntry, Timeline};

/// Rows kept per table (polls, timer sites, endpoints, alerts): the most
/// relevant first, so a page with thousands of sites still sends a small payload.
pub const MAX_ROWS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewState {
    Attached,
    Ended,
    Replay,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetView {
    pub id: String,
    pub title: String,
    pub url: String,
}

impl From<&TargetInfo> for TargetView {
    fn from(target: &TargetInfo) -> TargetView {
        TargetView {
            id: target.id.clone(),
            title: target.title.clone(),
            url: target.url.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LossesView {
    /// CDP messages that failed to decode.
    pub undecoded: u64,
    /// Events dropped because a channel was full.
    pub dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    pub installed: bool,
    /// The agent joined a running page: what the page created before is not counted.
    pub late: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_used: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dom_nodes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<u64>,
    pub timers_live: u64,
    pub timeouts_live: u64,
    pub intervals_live: u64,
    pub requests_in_flight: u64,
    pub controllers_live: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PollRow {
    pub id: u64,
    #[serde(rename = "type")]
    pub poll_type: String,
    pub operation: String,
    pub endpoint: String,
    pub attempts: u64,
    pub max_attempts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cadence_s: Option<f64>,
    /// Seconds since the first request; the lifecycle's duration once it ended.
    pub age_s: f64,
    /// `active`, `complete`, `failed`, `timeout` or `stopped`.
    pub state: String,
    pub flags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_site: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerRow {
    /// `url:line:column function`, or `(unknown)`.
    pub site: String,
    /// `timeout` or `interval`.
    pub kind: String,
    pub live: u64,
    pub created: u64,
    pub cleared: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRow {
    /// `GET /api/video/status`.
    pub endpoint: String,
    pub in_flight: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_age_s: Option<f64>,
    pub completed: u64,
    pub aborted: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRow {
    /// `warning`, `critical` or `emergency`.
    pub level: String,
    pub rule: String,
    pub subject: String,
    pub message: String,
    pub first_t: f64,
    pub last_t: f64,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictRow {
    /// `leak`, `no-leak` or `inconclusive`.
    pub verdict: String,
    pub reason: String,
}

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveView {
    pub state: ViewState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// Seconds since the recording started.
    pub t: f64,
    pub target: TargetView,
    pub losses: LossesView,
    pub agent: AgentView,
    pub counters: Counters,
    pub polls: Vec<PollRow>,
    pub timers: Vec<TimerRow>,
    pub requests: Vec<RequestRow>,
    pub alerts: Vec<AlertRow>,
    pub markers: Vec<Marker>,
    pub snapshots: Vec<SnapshotEntry>,
    pub verdict: VerdictRow,
}

/// Everything a view is built from.
pub struct ViewSources<'a> {
    pub state: ViewState,
    pub target: &'a TargetInfo,
    /// Time the view shows, seconds since the recording started.
    pub t: f64,
    pub live: &'a LiveState,
    pub engine: &'a Engine,
    pub timeline: &'a Timeline,
    /// Whether the agent was installed (live) or recorded (replay).
    pub agent_installed: bool,
}

/// Builds the view; see the module documentation.
pub fn build(sources: &ViewSources<'_>) -> LiveView {
    let ViewSources {
        state,
        target,
        t,
        live,
        engine,
        timeline,
        agent_installed,
    } = *sources;
    let losses = timeline.losses();
    let end_reason = timeline
        .end()
        .map(|(reason, message)| format!("{}: {message}", reason.as_str()));
    let verdict = engine.verdict(t);
    LiveView {
        state,
        end_reason,
        t,
        target: TargetView::from(target),
        losses: LossesView {
            undecoded: losses.undecoded_total(),
            dropped: losses.dropped_events,
        },
        agent: AgentView {
            installed: agent_installed || live.agent().injected,
            late: live.agent().late,
        },
        counters: counters(live, timeline),
        polls: polls(&engine.lifecycles(), t),
        timers: timers(live),
        requests: requests(live, t),
        alerts: alerts(engine),
        markers: timeline.markers().to_vec(),
        snapshots: timeline.snapshots().to_vec(),
        verdict: VerdictRow {
            verdict: verdict_name(verdict.verdict).to_owned(),
            reason: verdict.reason,
        },
    }
}

fn counters(live: &LiveState, timeline: &Timeline) -> Counters {
    let counts = live.counts();
    let sample = timeline.last_sample();
    Counters {
        heap_used: sample.map(|sample| sample.heap_used),
        heap_limit: sample.and_then(|sample| sample.heap_limit),
        dom_nodes: sample.and_then(|sample| sample.dom_nodes),
        listeners: sample.and_then(|sample| sample.listeners),
        timers_live: counts.timers_live,
        timeouts_live: counts.timeouts_live,
        intervals_live: counts.intervals_live,
        requests_in_flight: counts.requests_in_flight,
        controllers_live: counts.controllers_live,
    }
}

/// Poll rows: active lifecycles first, then the most recent; at most [`MAX_ROWS`].
pub fn polls(lifecycles: &[PollSummary], t: f64) -> Vec<PollRow> {
    let mut rows: Vec<&PollSummary> = lifecycles.iter().collect();
    rows.sort_by(|a, b| {
        let active = |poll: &PollSummary| poll.state == PollState::Active;
        active(b)
            .cmp(&active(a))
            .then(b.last_t.total_cmp(&a.last_t))
    });
    rows.truncate(MAX_ROWS);
    rows.into_iter()
        .map(|poll| PollRow {
            id: poll.id,
            poll_type: poll.poll_type.clone(),
            operation: poll.operation.clone(),
            endpoint: poll.endpoint.clone(),
            attempts: poll.attempts,
            max_attempts: poll.max_attempts,
            cadence_s: poll.cadence_s,
            age_s: if poll.state == PollState::Active {
                (t - poll.first_t).max(0.0)
            } else {
                poll.duration_s
            },
            state: state_name(poll.state).to_owned(),
            flags: poll
                .flags
                .iter()
                .map(|flag| flag.as_str().to_owned())
                .collect(),
            timer_site: poll.timer_site.clone(),
            request_site: poll.request_site.clone(),
        })
        .collect()
}

fn timers(live: &LiveState) -> Vec<TimerRow> {
    live.sites()
        .into_iter()
        .filter(|counts| matches!(counts.kind, SiteKind::Timeout | SiteKind::Interval))
        .take(MAX_ROWS)
        .map(|counts| TimerRow {
            site: counts
                .site
                .and_then(|id| live.site(id))
                .map(|site| {
                    let function = if site.function.is_empty() {
                        "(anonymous)"
                    } else {
                        &site.function
                    };
                    format!("{}:{}:{} {function}", site.url, site.line, site.column)
                })
                .unwrap_or_else(|| "(unknown)".to_owned()),
            kind: if counts.kind == SiteKind::Interval {
                "interval".to_owned()
            } else {
                "timeout".to_owned()
            },
            live: counts.live,
            created: counts.created,
            cleared: counts.cleared,
            delay_ms: counts.delay_ms,
        })
        .collect()
}

fn requests(live: &LiveState, t: f64) -> Vec<RequestRow> {
    live.endpoints(t)
        .into_iter()
        .take(MAX_ROWS)
        .map(|row| RequestRow {
            endpoint: if row.endpoint.method.is_empty() {
                row.endpoint.path.clone()
            } else {
                format!("{} {}", row.endpoint.method, row.endpoint.path)
            },
            in_flight: row.in_flight,
            oldest_age_s: row.oldest_in_flight_s,
            completed: row.completed,
            aborted: row.aborted,
            failed: row.failed,
        })
        .collect()
}

/// Alert rows at warning or above, the highest level first, then the most
/// recent. Info-level findings are left to the report.
fn alerts(engine: &Engine) -> Vec<AlertRow> {
    let mut alerts: Vec<_> = engine
        .alerts()
        .iter()
        .filter(|alert| alert.level >= AlertLevel::Warning)
        .collect();
    alerts.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.last_seen.total_cmp(&a.last_seen))
    });
    alerts
        .into_iter()
        .take(MAX_ROWS)
        .map(|alert| AlertRow {
            level: level_name(alert.level).to_owned(),
            rule: alert.rule.clone(),
            subject: alert.subject.clone(),
            message: alert.message.clone(),
            first_t: alert.first_seen,
            last_t: alert.last_seen,
            count: alert.count,
        })
        .collect()
}

pub fn state_name(state: PollState) -> &'static str {
    match state {
        PollState::Active => "active",
        PollState::Complete => "complete",
        PollState::Failed => "failed",
        PollState::Timeout => "timeout",
        PollState::Stopped => "stopped",
    }
}

fn level_name(level: AlertLevel) -> &'static str {
    match level {
        AlertLevel::Info => "info",
        AlertLevel::Warning => "warning",
        AlertLevel::Critical => "critical",
        AlertLevel::Emergency => "emergency",
    }
}

pub fn verdict_name(verdict: VerdictKind) -> &'static str {
    match verdict {
        VerdictKind::Leak => "leak",
        VerdictKind::NoLeak => "no-leak",
        VerdictKind::Inconclusive => "inconclusive",
    }
}

#[cfg(test)]
mod tests {
    use leakscope_model::config::Config;
    use leakscope_model::{
        Header, Record, RecordBody, RequestApi, RequestEnded, RequestOutcome, RequestStarted,
        Sample, Settings, Site, TimerKind, FORMAT_VERSION,
    };

    use super::*;

    fn target() -> TargetInfo {
        TargetInfo {
            id: "T1".to_owned(),
            kind: "page".to_owned(),
            title: "editor".to_owned(),
            url: "http://127.0.0.1:8080/".to_owned(),
        }
    }

    /// Feeds a page with one interval site polling a status endpoint.
    fn fed() -> (LiveState, Engine, Timeline) {
        let header = Header {
            format_version: FORMAT_VERSION,
            leakscope_version: "test".to_owned(),
            browser: Default::default(),
            target: target(),
            started_at_ms: 0.0,
            settings: Settings::default(),
        };
        let mut live = LiveState::new();
        let mut engine = Engine::new(Config::default(), &header);
        let mut timeline = Timeline::new(0.0);
        let mut records = vec![
            Record {
                t: 0.0,
                body: RecordBody::Site(Site {
                    id: 1,
                    url: "http://127.0.0.1:8080/app/editor.js".to_owned(),
                    line: 10,
                    column: 5,
                    function: "poll".to_owned(),
                    raw: String::new(),
                }),
            },
            Record {
                t: 0.1,
                body: RecordBody::TimerCreated {
                    id: 1,
                    timer: TimerKind::Interval,
                    delay_ms: 1000.0,
                    site: Some(1),
                    parent: None,
                    page_ms: 0.0,
                },
            },
        ];
        for n in 0..3u32 {
            let t = f64::from(n) + 1.0;
            records.push(Record {
                t,
                body: RecordBody::RequestStarted(RequestStarted {
                    id: format!("1.{n}"),
                    api: RequestApi::Fetch,
                    method: "GET".to_owned(),
                    url: "http://127.0.0.1:8080/api/video/status?operationName=op-1".to_owned(),
                    site: Some(1),
                    controller: None,
                    signal_aborted: false,
                    timer: Some(1),
                    body_fields: Default::default(),
                    page_ms: 0.0,
                }),
            });
            records.push(Record {
                t: t + 0.2,
                body: RecordBody::RequestEnded(RequestEnded {
                    id: format!("1.{n}"),
                    outcome: RequestOutcome::Completed { status: 200 },
                    response_fields: [("status".to_owned(), "processing".to_owned())].into(),
                    page_ms: 0.0,
                }),
            });
            records.push(Record {
                t: t + 0.5,
                body: RecordBody::Sample(Sample {
                    heap_used: 1_000_000,
                    heap_total: 2_000_000,
                    metrics: [("Nodes".to_owned(), 42.0)].into(),
                    ..Sample::default()
                }),
            });
        }
        for record in &records {
            live.ingest(record);
            engine.ingest(record);
            timeline.ingest(record);
        }
        (live, engine, timeline)
    }

    fn view() -> LiveView {
        let (live, engine, timeline) = fed();
        build(&ViewSources {
            state: ViewState::Attached,
            target: &target(),
            t: 4.0,
            live: &live,
            engine: &engine,
            timeline: &timeline,
            agent_installed: true,
        })
    }

    #[test]
    fn timer_site_is_url_line_column_function() {
        let view = view();
        assert_eq!(view.timers.len(), 1);
        assert_eq!(
            view.timers[0].site,
            "http://127.0.0.1:8080/app/editor.js:10:5 poll"
        );
        assert_eq!(view.timers[0].kind, "interval");
        assert_eq!(view.timers[0].live, 1);
    }

    #[test]
    fn poll_row_has_operation_and_attempts() {
        let view = view();
        assert_eq!(view.polls.len(), 1, "{:?}", view.polls);
        let poll = &view.polls[0];
        assert_eq!(poll.operation, "op-1");
        assert_eq!(poll.attempts, 3);
        assert_eq!(poll.state, "active");
        assert!((poll.age_s - 3.0).abs() < 1e-9, "{}", poll.age_s);
    }

    #[test]
    fn counters_come_from_the_last_sample() {
        let view = view();
        assert_eq!(view.counters.heap_used, Some(1_000_000));
        assert_eq!(view.counters.dom_nodes, Some(42));
        assert_eq!(view.counters.timers_live, 1);
        assert_eq!(view.requests[0].endpoint, "GET /api/video/status");
        assert_eq!(view.requests[0].completed, 3);
    }

    #[test]
    fn json_field_names_are_camel_case() {
        let json = serde_json::to_value(view()).unwrap();
        assert_eq!(json["state"], "attached");
        assert!(json["counters"]["heapUsed"].is_u64());
        assert!(json["counters"]["requestsInFlight"].is_u64());
        assert!(json["polls"][0]["maxAttempts"].is_u64());
        assert!(json["polls"][0]["ageS"].is_f64());
        assert_eq!(json["polls"][0]["type"], "video");
        assert!(json["requests"][0]["inFlight"].is_u64());
        assert!(json["timers"][0]["delayMs"].is_f64());
        assert!(json["losses"]["undecoded"].is_u64());
        assert!(json["verdict"]["verdict"].is_string());
    }
}
