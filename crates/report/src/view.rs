//! The views that charts, traces and reports draw from, built from a recording
//! and, when the caller has them, the poll lifecycles and leak verdict of the
//! model's engine.
//!
//! The report crate keeps its own small input types so that drawing code does
//! not depend on how the engine stores its state: the engine's output is
//! converted once into [`Analysis`], and everything else reads [`Overview`] or
//! [`Analysis`].

use std::collections::BTreeMap;

use leakscope_model::{Alert, AlertLevel, NavigationKind, PollSignalKind, RecordBody, Recording};
use serde::{Deserialize, Serialize};

/// Bytes in a mebibyte; chart axes and trend slopes are in MB of 2^20 bytes.
pub const BYTES_PER_MB: f64 = 1024.0 * 1024.0;

/// End state of a poll lifecycle, `Active` when it had not ended when the recording did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneEnd {
    Complete,
    Failed,
    Timeout,
    /// The page ended the poll (its poll API, or its view went away) before a
    /// final response.
    Stopped,
    Active,
}

impl LaneEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            LaneEnd::Complete => "complete",
            LaneEnd::Failed => "failed",
            LaneEnd::Timeout => "timeout",
            LaneEnd::Stopped => "stopped",
            LaneEnd::Active => "active",
        }
    }
}

/// One poll lifecycle, drawn as a band under the heap chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lane {
    /// Operation id (`operationName`), or the endpoint when no id is known.
    pub operation: String,
    /// `video`, `audio-suno`, `upscale`, `audio-minimax` or a page's own type.
    pub poll_type: Option<String>,
    /// Endpoint path polled, without query, when known.
    pub endpoint: Option<String>,
    /// Seconds since the recording started.
    pub start_t: f64,
    /// When the lifecycle ended; `None` while it is still active.
    pub end_t: Option<f64>,
    pub end: LaneEnd,
    pub attempts: u64,
    /// Start of the stretch past the type's attempt or duration limit.
    pub runaway_from: Option<f64>,
    /// Start of the stretch after the view that started the poll went away.
    pub orphaned_from: Option<f64>,
    /// Other flags the engine set (`duplicated`, `stalled`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

impl Lane {
    /// End of the lane on the time axis: its end, or `until` while still active.
    pub fn drawn_end(&self, until: f64) -> f64 {
        self.end_t.unwrap_or(until).max(self.start_t)
    }
}

/// The leak verdict's fitted heap trend over a time range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendLine {
    pub slope_mb_per_min: f64,
    /// Heap in MB at `t = 0` on the fitted line.
    pub intercept_mb: f64,
    pub from_t: f64,
    pub to_t: f64,
}

impl TrendLine {
    /// Heap in MB on the line at `t` seconds.
    pub fn at(&self, t: f64) -> f64 {
        self.intercept_mb + self.slope_mb_per_min * t / 60.0
    }
}

/// The leak verdict as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictView {
    /// True when the verdict is a leak.
    pub leak: bool,
    /// One line: `leak: heap grows 2.1 MB/min` or `no leak found`.
    pub headline: String,
    pub trend: Option<TrendLine>,
    /// The facts the verdict rests on, one sentence each.
    pub evidence: Vec<String>,
}

/// The model engine's results over a recording, in this crate's terms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub lanes: Vec<Lane>,
    /// Alerts, one per rule and subject, in order of first appearance.
    pub alerts: Vec<Alert>,
    pub verdict: Option<VerdictView>,
    /// Rules in force, as the engine reports them, for the bundle manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<serde_json::Value>,
}

impl Analysis {
    /// Builds an analysis from the recording alone: alerts from its `Alert`
    /// records and lanes from its explicit poll signals. No verdict, because
    /// the verdict needs the model's engine.
    pub fn from_records(recording: &Recording) -> Analysis {
        Analysis {
            lanes: lanes_from_poll_signals(recording),
            alerts: merged_alerts(recording),
            verdict: None,
            rules: None,
        }
    }
}

/// Alerts of the recording's `Alert` records. A rule re-emits its alert with a
/// higher count when it fires again, so the last record per rule and subject wins.
pub fn merged_alerts(recording: &Recording) -> Vec<Alert> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut latest: BTreeMap<(String, String), Alert> = BTreeMap::new();
    for record in &recording.records {
        if let RecordBody::Alert(alert) = &record.body {
            let key = (alert.rule.clone(), alert.subject.clone());
            if !latest.contains_key(&key) {
                order.push(key.clone());
            }
            latest.insert(key, alert.clone());
        }
    }
    order
        .into_iter()
        .filter_map(|key| latest.remove(&key))
        .collect()
}

/// Builds lanes from `PollSignal` records. A lifecycle starts at its first signal
/// and ends at `End`. An `Unmount` while it is active marks it orphaned from then.
fn lanes_from_poll_signals(recording: &Recording) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = Vec::new();
    let mut active: BTreeMap<String, usize> = BTreeMap::new();
    for record in &recording.records {
        let RecordBody::PollSignal(signal) = &record.body else {
            continue;
        };
        if signal.signal == PollSignalKind::Unmount {
            // The view that owns polls went away: every poll still running is orphaned.
            for &index in active.values() {
                lanes[index].orphaned_from.get_or_insert(record.t);
            }
            continue;
        }
        let index = *active.entry(signal.operation.clone()).or_insert_with(|| {
            lanes.push(Lane {
                operation: signal.operation.clone(),
                poll_type: signal.poll_type.clone(),
                endpoint: None,
                start_t: record.t,
                end_t: None,
                end: LaneEnd::Active,
                attempts: 0,
                runaway_from: None,
                orphaned_from: None,
                flags: Vec::new(),
            });
            lanes.len() - 1
        });
        let lane = &mut lanes[index];
        if let Some(attempts) = signal.attempts {
            lane.attempts = lane.attempts.max(attempts);
        }
        if lane.poll_type.is_none() {
            lane.poll_type = signal.poll_type.clone();
        }
        match signal.signal {
            PollSignalKind::Attempt => lane.attempts += 1,
            PollSignalKind::Runaway => {
                lane.runaway_from.get_or_insert(record.t);
            }
            PollSignalKind::Report => {}
            PollSignalKind::End => {
                lane.end_t = Some(record.t);
                lane.end = match signal.reason.as_deref() {
                    Some("complete") | Some("completed") | Some("done") => LaneEnd::Complete,
                    Some("timeout") => LaneEnd::Timeout,
                    Some("error") | Some("failed") => LaneEnd::Failed,
                    _ => LaneEnd::Stopped,
                };
                active.remove(&signal.operation);
            }
            PollSignalKind::Start | PollSignalKind::Unmount => {}
        }
    }
    lanes
}

/// Kind of a labelled tick on the chart's time axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TickKind {
    Snapshot,
    Navigation,
    Marker,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub t: f64,
    pub kind: TickKind,
    pub label: String,
}

/// An alert drawn at the time it was first seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMark {
    pub t: f64,
    pub level: AlertLevel,
    pub rule: String,
    pub subject: String,
}

/// One heap sample on the chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplePoint {
    pub t: f64,
    pub heap_used_mb: f64,
    pub heap_total_mb: f64,
    /// Live timers from the agent's counts, when the agent ran.
    pub timers_live: Option<u64>,
    pub requests_in_flight: Option<u64>,
    /// A `Gap` record (a sample that could not be taken) precedes this sample,
    /// so lines must not join it to the previous one.
    pub after_gap: bool,
}

/// Everything the overview chart draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub title: String,
    /// Seconds from the start to the last record.
    pub duration: f64,
    pub samples: Vec<SamplePoint>,
    pub lanes: Vec<Lane>,
    pub alerts: Vec<AlertMark>,
    pub ticks: Vec<Tick>,
    pub trend: Option<TrendLine>,
}

impl Overview {
    /// Builds the chart's view of a recording and its analysis.
    pub fn build(recording: &Recording, analysis: &Analysis) -> Overview {
        let mut samples = Vec::new();
        let mut ticks = Vec::new();
        let mut gap_pending = false;
        for record in &recording.records {
            match &record.body {
                RecordBody::Sample(sample) => {
                    let counts = sample.counts.as_ref();
                    samples.push(SamplePoint {
                        t: record.t,
                        heap_used_mb: sample.heap_used as f64 / BYTES_PER_MB,
                        heap_total_mb: sample.heap_total as f64 / BYTES_PER_MB,
                        timers_live: counts.map(|counts| counts.timers_live),
                        requests_in_flight: counts.map(|counts| counts.requests_in_flight),
                        after_gap: gap_pending,
                    });
                    gap_pending = false;
                }
                RecordBody::Gap { .. } => gap_pending = true,
                RecordBody::Snapshot(snapshot) => {
                    let label = if snapshot.status == leakscope_model::SNAPSHOT_OK {
                        "snapshot".to_owned()
                    } else {
                        "snapshot failed".to_owned()
                    };
                    ticks.push(Tick {
                        t: record.t,
                        kind: TickKind::Snapshot,
                        label,
                    });
                }
                RecordBody::Navigation { url, navigation } => {
                    let label = match navigation {
                        NavigationKind::Full => format!("load {}", short_path(url)),
                        NavigationKind::Reload => "reload".to_owned(),
                        NavigationKind::SameDocument => format!("route {}", short_path(url)),
                    };
                    ticks.push(Tick {
                        t: record.t,
                        kind: TickKind::Navigation,
                        label,
                    });
                }
                RecordBody::Marker { label } => ticks.push(Tick {
                    t: record.t,
                    kind: TickKind::Marker,
                    label: label.clone(),
                }),
                _ => {}
            }
        }
        let alerts = analysis
            .alerts
            .iter()
            .map(|alert| AlertMark {
                t: alert.first_seen,
                level: alert.level,
                rule: alert.rule.clone(),
                subject: alert.subject.clone(),
            })
            .collect();
        let title = if recording.header.target.title.is_empty() {
            recording.header.target.url.clone()
        } else {
            recording.header.target.title.clone()
        };
        Overview {
            title,
            duration: recording_duration(recording),
            samples,
            lanes: analysis.lanes.clone(),
            alerts,
            ticks,
            trend: analysis.verdict.as_ref().and_then(|verdict| verdict.trend),
        }
    }
}

/// Seconds from the start of the recording to its last record.
pub fn recording_duration(recording: &Recording) -> f64 {
    recording
        .records
        .iter()
        .map(|record| record.t)
        .fold(0.0, f64::max)
}

/// Returns the path and fragment of a URL, without scheme, host and query, for short labels.
pub fn short_path(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let mut path = parsed.path().to_owned();
            if let Some(fragment) = parsed.fragment() {
                path.push('#');
                path.push_str(fragment);
            }
            path
        }
        Err(_) => url.to_owned(),
    }
}
