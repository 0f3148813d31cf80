//! The analysis engine as a recorder plugin: every record goes to the model's
//! [`Engine`], the alerts it fires are written back into the recording as
//! `alert` records and handed to the front end as they fire, and the end
//! summary gains the poll lifecycles, the alerts and the leak verdict.
//!
//! The engine runs on recording time (`Record::t`), so a recording replayed
//! later gives the same lifecycles and verdict as this live run. Samples are
//! records too: each one reaches the engine, whose time-based checks (stalled
//! polls, stuck requests, poll durations) run whenever a record arrives at
//! least [`CHECK_INTERVAL_S`] after the last check, so a quiet page is still
//! checked at every sample (the recorder samples at least once per interval;
//! the end writes an `End` record). The plugin therefore never calls
//! [`Engine::advance`]: run at a sample it would repeat the checks `ingest`
//! just made and double the alerts' `count`.
//!
//! [`CHECK_INTERVAL_S`]: leakscope_model::engine::CHECK_INTERVAL_S

use leakscope_model::config::Config;
use leakscope_model::engine::Summary;
use leakscope_model::{
    Alert, Engine, Header, Record, RecordBody, Settings, TargetInfo, FORMAT_VERSION,
};
use tokio::sync::mpsc;

use crate::recorder::RecordPlugin;
use crate::summary::RecordSummary;

/// Keys the plugin adds to [`RecordSummary::extra`].
pub mod keys {
    pub const POLLS: &str = "polls";
    pub const POLLS_DROPPED: &str = "polls_dropped";
    pub const ALERTS: &str = "alerts";
    pub const VERDICT: &str = "verdict";
    pub const LIVE_TIMERS: &str = "live_timers";
}

/// Receives each alert when it first fires, escalates, or fires again after
/// a quiet spell, in the order the engine raised them.
pub type AlertReceiver = mpsc::UnboundedReceiver<Alert>;

/// Plugin that feeds the recording to the analysis engine. Add it after the
/// agent plugin, so the engine receives the agent's records in file order.
pub struct AnalysisPlugin {
    engine: Engine,
    /// `None` when no front end subscribed. Alerts still go into the recording.
    alerts: Option<mpsc::UnboundedSender<Alert>>,
}

impl AnalysisPlugin {
    /// Creates a plugin for a recording of `target` with the rules of `config`.
    pub fn new(config: Config, target: &TargetInfo) -> AnalysisPlugin {
        // The engine reads only the target from the header; the rest of the
        // recorder's header is not known before `Recorder::start` returns.
        let header = Header {
            format_version: FORMAT_VERSION,
            leakscope_version: env!("CARGO_PKG_VERSION").to_owned(),
            browser: Default::default(),
            target: target.clone(),
            started_at_ms: 0.0,
            settings: Settings::default(),
        };
        AnalysisPlugin {
            engine: Engine::new(config, &header),
            alerts: None,
        }
    }

    /// Returns a receiver of the alerts as they fire. Calling it again
    /// replaces the previous receiver, which then receives no more alerts.
    pub fn subscribe(&mut self) -> AlertReceiver {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.alerts = Some(sender);
        receiver
    }

    /// Returns the engine, for a front end that shows lifecycles while recording.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn publish(&mut self, fired: Vec<Alert>, out: &mut Vec<RecordBody>) {
        for alert in fired {
            tracing::debug!(rule = %alert.rule, subject = %alert.subject, level = ?alert.level, "alert fired");
            if let Some(sender) = &self.alerts {
                if sender.send(alert.clone()).is_err() {
                    // The front end stopped listening; the recording keeps every alert.
                    self.alerts = None;
                }
            }
            out.push(RecordBody::Alert(alert));
        }
    }
}

impl RecordPlugin for AnalysisPlugin {
    fn on_record(&mut self, record: &Record, out: &mut Vec<RecordBody>) {
        // Alerts in the recording are this plugin's own output.
        if matches!(record.body, RecordBody::Alert(_)) {
            return;
        }
        let fired = self.engine.ingest(record);
        self.publish(fired, out);
    }

    fn summarize(&mut self, summary: &mut RecordSummary) {
        insert_summary(summary, &self.engine.summary());
    }
}

/// Adds the engine's summary to the recording summary, under [`keys`].
pub fn insert_summary(summary: &mut RecordSummary, analysis: &Summary) {
    let entries = [
        (keys::POLLS, serde_json::to_value(&analysis.polls)),
        (
            keys::POLLS_DROPPED,
            serde_json::to_value(analysis.polls_dropped),
        ),
        (keys::ALERTS, serde_json::to_value(&analysis.alerts)),
        (keys::VERDICT, serde_json::to_value(&analysis.verdict)),
        (
            keys::LIVE_TIMERS,
            serde_json::to_value(analysis.live_timers),
        ),
    ];
    for (key, value) in entries {
        match value {
            Ok(value) => {
                summary.extra.insert(key.to_owned(), value);
            }
            Err(error) => tracing::error!(key, %error, "failed to serialise the analysis summary"),
        }
    }
}

/// Error reading the analysis back from a recording summary.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisReadError {
    #[error("the summary has no `{key}` field; was the recording made with the analysis plugin?")]
    Missing { key: &'static str },
    #[error("the summary's `{key}` field is not valid: {source}")]
    Invalid {
        key: &'static str,
        source: serde_json::Error,
    },
}

/// Reads the analysis that [`AnalysisPlugin`] added to `summary`.
pub fn read_summary(summary: &RecordSummary) -> Result<Summary, AnalysisReadError> {
    fn field<T: serde::de::DeserializeOwned>(
        summary: &RecordSummary,
        key: &'static str,
    ) -> Result<T, AnalysisReadError> {
        let value = summary
            .extra
            .get(key)
            .ok_or(AnalysisReadError::Missing { key })?;
        serde_json::from_value(value.clone())
            .map_err(|source| AnalysisReadError::Invalid { key, source })
    }
    Ok(Summary {
        t: summary.duration_s,
        polls: field(summary, keys::POLLS)?,
        polls_dropped: field(summary, keys::POLLS_DROPPED)?,
        alerts: field(summary, keys::ALERTS)?,
        verdict: field(summary, keys::VERDICT)?,
        live_timers: field(summary, keys::LIVE_TIMERS)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use leakscope_model::polls::{PollFlag, PollState};
    use leakscope_model::rules::ids;
    use leakscope_model::verdict::VerdictKind;
    use leakscope_model::{
        AlertLevel, EndReason, NavigationKind, RequestApi, RequestEnded, RequestOutcome,
        RequestStarted, Sample, TimerKind,
    };

    use super::*;
    use crate::summary::{HeapSummary, TargetSummary};

    const STATUS: &str = "http://127.0.0.1:8080/api/video/status?operationName=op-1";

    fn target() -> TargetInfo {
        TargetInfo {
            id: "T1".to_owned(),
            kind: "page".to_owned(),
            title: "editor".to_owned(),
            url: "http://127.0.0.1:8080/".to_owned(),
        }
    }

    fn plugin() -> (AnalysisPlugin, AlertReceiver) {
        let mut config = Config::default();
        if let Some(video) = config.poll_types.get_mut("video") {
            video.max_attempts = 5;
        }
        let mut plugin = AnalysisPlugin::new(config, &target());
        let alerts = plugin.subscribe();
        (plugin, alerts)
    }

    fn empty_summary(duration_s: f64) -> RecordSummary {
        RecordSummary {
            target: TargetSummary::from(&target()),
            duration_s,
            samples: 0,
            gaps: 0,
            navigations: 0,
            heap: HeapSummary::default(),
            recording: PathBuf::from("r.jsonl"),
            undecoded_messages: 0,
            dropped_events: 0,
            timed_out_commands: 0,
            end_reason: EndReason::Duration,
            end_message: String::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Feeds `body` at `t` the way the recorder does: the record, then every
    /// record the plugin derives from it. Returns the derived records.
    fn feed(plugin: &mut AnalysisPlugin, t: f64, body: RecordBody) -> Vec<RecordBody> {
        let mut derived = Vec::new();
        let mut queue = vec![body];
        while let Some(body) = queue.pop() {
            let mut out = Vec::new();
            plugin.on_record(&Record { t, body }, &mut out);
            derived.extend(out.iter().cloned());
            queue.extend(out);
        }
        derived
    }

    fn sample(heap_used: u64) -> RecordBody {
        RecordBody::Sample(Sample {
            heap_used,
            heap_total: heap_used,
            ..Sample::default()
        })
    }

    fn started(id: &str, timer: u64) -> RecordBody {
        RecordBody::RequestStarted(RequestStarted {
            id: id.to_owned(),
            api: RequestApi::Fetch,
            method: "GET".to_owned(),
            url: STATUS.to_owned(),
            site: None,
            controller: None,
            signal_aborted: false,
            timer: Some(timer),
            body_fields: BTreeMap::new(),
            page_ms: 0.0,
        })
    }

    fn ended(id: &str, status: &str) -> RecordBody {
        RecordBody::RequestEnded(RequestEnded {
            id: id.to_owned(),
            outcome: RequestOutcome::Completed { status: 200 },
            response_fields: BTreeMap::from([("status".to_owned(), status.to_owned())]),
            page_ms: 0.0,
        })
    }

    fn interval_timer(id: u64) -> RecordBody {
        RecordBody::TimerCreated {
            id,
            timer: TimerKind::Interval,
            delay_ms: 1000.0,
            site: None,
            parent: None,
            page_ms: 0.0,
        }
    }

    fn navigation(path: &str) -> RecordBody {
        RecordBody::Navigation {
            url: format!("http://127.0.0.1:8080{path}"),
            navigation: NavigationKind::SameDocument,
        }
    }

    fn drain(receiver: &mut AlertReceiver) -> Vec<Alert> {
        let mut alerts = Vec::new();
        while let Ok(alert) = receiver.try_recv() {
            alerts.push(alert);
        }
        alerts
    }

    /// Feeds a run where a panel at `/video` starts an interval poll, closes after 2 polls,
    /// and the poll goes on for `polls` attempts with the heap growing 1 MB
    /// per second.
    fn leaky_run(plugin: &mut AnalysisPlugin, polls: u32) -> Vec<RecordBody> {
        let mut derived = Vec::new();
        derived.extend(feed(plugin, 0.0, navigation("/video")));
        derived.extend(feed(plugin, 0.1, interval_timer(1)));
        for n in 0..polls {
            let t = f64::from(n) + 1.0;
            if n == 2 {
                derived.extend(feed(plugin, t - 0.5, navigation("/")));
            }
            derived.extend(feed(plugin, t, started(&format!("r{n}"), 1)));
            derived.extend(feed(plugin, t + 0.2, ended(&format!("r{n}"), "processing")));
            derived.extend(feed(
                plugin,
                t + 0.5,
                sample(10_000_000 + u64::from(n) * 1_000_000),
            ));
        }
        derived
    }

    #[test]
    fn runaway_orphan_is_recorded_and_published() {
        let (mut plugin, mut receiver) = plugin();
        let derived = leaky_run(&mut plugin, 40);
        let published = drain(&mut receiver);
        let recorded: Vec<&Alert> = derived
            .iter()
            .filter_map(|body| match body {
                RecordBody::Alert(alert) => Some(alert),
                _ => None,
            })
            .collect();
        assert!(!published.is_empty());
        assert_eq!(
            recorded.len(),
            published.len(),
            "each published alert is also a record"
        );
        for rule in [ids::POLL_RUNAWAY, ids::POLL_ORPHANED] {
            let alert = published
                .iter()
                .find(|alert| alert.rule == rule)
                .unwrap_or_else(|| panic!("no {rule}: {published:#?}"));
            assert_eq!(alert.level, AlertLevel::Critical);
            assert!(alert.subject.contains("op-1"), "{}", alert.subject);
        }
    }

    #[test]
    fn summary_has_polls_alerts_and_verdict() {
        let (mut plugin, _receiver) = plugin();
        leaky_run(&mut plugin, 40);
        let mut summary = empty_summary(41.0);
        plugin.summarize(&mut summary);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["polls"][0]["operation"], "op-1");
        assert_eq!(json["polls"][0]["type"], "video");
        assert_eq!(json["verdict"]["verdict"], "leak");
        assert!(json["alerts"]
            .as_array()
            .is_some_and(|alerts| !alerts.is_empty()));

        let analysis = read_summary(&summary).unwrap();
        let poll = &analysis.polls[0];
        assert_eq!(poll.state, PollState::Active);
        assert!(poll.flags.contains(&PollFlag::Runaway), "{:?}", poll.flags);
        assert!(poll.flags.contains(&PollFlag::Orphaned), "{:?}", poll.flags);
        assert_eq!(poll.attempts, 40);
        assert_eq!(
            analysis.verdict.verdict,
            VerdictKind::Leak,
            "{}",
            analysis.verdict.reason
        );
    }

    #[test]
    fn completed_poll_is_quiet() {
        let (mut plugin, mut receiver) = plugin();
        feed(&mut plugin, 0.0, navigation("/video"));
        for n in 0..3u32 {
            let t = f64::from(n) + 1.0;
            feed(&mut plugin, t, started(&format!("r{n}"), 1));
            let status = if n == 2 { "complete" } else { "processing" };
            feed(&mut plugin, t + 0.2, ended(&format!("r{n}"), status));
        }
        for n in 0..40u32 {
            feed(&mut plugin, f64::from(n) + 0.5, sample(10_000_000));
        }
        assert!(drain(&mut receiver)
            .iter()
            .all(|alert| alert.level <= AlertLevel::Info));
        let mut summary = empty_summary(41.0);
        plugin.summarize(&mut summary);
        let analysis = read_summary(&summary).unwrap();
        assert_eq!(analysis.polls[0].state, PollState::Complete);
        assert!(
            analysis.polls[0].flags.is_empty(),
            "{:?}",
            analysis.polls[0].flags
        );
        assert_eq!(
            analysis.verdict.verdict,
            VerdictKind::NoLeak,
            "{}",
            analysis.verdict.reason
        );
    }

    #[test]
    fn samples_alone_fire_a_stalled_poll() {
        let (mut plugin, mut receiver) = plugin();
        feed(&mut plugin, 0.0, navigation("/video"));
        for n in 0..4u32 {
            let t = f64::from(n) + 1.0;
            feed(&mut plugin, t, started(&format!("r{n}"), 1));
            feed(&mut plugin, t + 0.2, ended(&format!("r{n}"), "processing"));
        }
        // The page goes quiet: only samples arrive, one a second.
        let mut derived = Vec::new();
        for n in 5..30u32 {
            derived.extend(feed(&mut plugin, f64::from(n), sample(10_000_000)));
        }
        let stalled = drain(&mut receiver)
            .into_iter()
            .find(|alert| alert.rule == ids::POLL_STALLED);
        assert!(stalled.is_some(), "no stalled alert");
        assert!(derived.iter().any(
            |body| matches!(body, RecordBody::Alert(alert) if alert.rule == ids::POLL_STALLED)
        ));
    }

    #[test]
    fn alert_records_are_not_fed_back() {
        let (mut plugin, mut receiver) = plugin();
        let alert = Alert {
            level: AlertLevel::Critical,
            rule: "poll.runaway".to_owned(),
            subject: "old".to_owned(),
            message: "from an earlier run".to_owned(),
            first_seen: 0.0,
            last_seen: 0.0,
            count: 1,
        };
        assert!(feed(&mut plugin, 0.0, RecordBody::Alert(alert)).is_empty());
        assert!(drain(&mut receiver).is_empty());
    }

    #[test]
    fn missing_analysis_is_an_error() {
        let error = read_summary(&empty_summary(1.0)).unwrap_err();
        assert!(
            matches!(error, AnalysisReadError::Missing { key: "polls" }),
            "{error}"
        );
    }

    #[test]
    fn dropped_receiver_does_not_stop_recording_alerts() {
        let (mut plugin, receiver) = plugin();
        drop(receiver);
        let derived = leaky_run(&mut plugin, 40);
        assert!(derived
            .iter()
            .any(|body| matches!(body, RecordBody::Alert(_))));
    }
}
