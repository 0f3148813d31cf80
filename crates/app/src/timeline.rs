//! The part of the record stream the views need beyond the live state and
//! the engine: the last sample, the losses, markers, snapshots, the end of the
//! recording, and a compact sample series for the chart and the hover readout.
//!
//! The same [`Timeline`] is fed live (as a recorder plugin) and in replay
//! (record by record from the file), so both show the same values. Its memory
//! is bounded: the sample series is thinned to every second sample when it
//! reaches [`MAX_SERIES_SAMPLES`], and markers and chart ticks are capped.

use leakscope_model::{EndReason, LiveCounts, Losses, NavigationKind, Record, RecordBody};
use leakscope_report::view::{short_path, SamplePoint, Tick, TickKind, BYTES_PER_MB};
use serde::Serialize;

/// Samples kept for the chart and the readout. Five and a half hours at the
/// default 1 s interval before the first thinning; each sample is about 150 bytes.
pub const MAX_SERIES_SAMPLES: usize = 20_000;

/// Markers kept; a person adds them by hand, so this is never reached in use.
pub const MAX_MARKERS: usize = 1_000;

/// Chart ticks (navigations, snapshots, markers) kept; later ones are not drawn.
pub const MAX_TICKS: usize = 5_000;

/// A label the user put on the timeline ("clicked Generate").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    pub t: f64,
    pub label: String,
}

/// A heap snapshot taken during the recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotEntry {
    /// The file name, unique within the snapshots folder.
    pub id: String,
    pub path: String,
    pub bytes: u64,
    /// Recording time of the capture's end, seconds.
    pub t: Option<f64>,
    /// Wall-clock time of the capture's end, milliseconds since the Unix epoch.
    pub taken_at_ms: f64,
    pub duration_ms: u64,
    pub gc: bool,
    pub label: String,
}

/// One sample, reduced to what the chart and the readout show.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactSample {
    pub t: f64,
    pub heap_used: u64,
    pub heap_total: u64,
    pub heap_limit: Option<u64>,
    pub dom_nodes: Option<u64>,
    pub listeners: Option<u64>,
    pub counts: Option<LiveCounts>,
    /// A gap (a sample that could not be taken) precedes this one.
    pub after_gap: bool,
}

impl CompactSample {
    pub fn point(&self) -> SamplePoint {
        SamplePoint {
            t: self.t,
            heap_used_mb: self.heap_used as f64 / BYTES_PER_MB,
            heap_total_mb: self.heap_total as f64 / BYTES_PER_MB,
            timers_live: self.counts.as_ref().map(|counts| counts.timers_live),
            requests_in_flight: self.counts.as_ref().map(|counts| counts.requests_in_flight),
            after_gap: self.after_gap,
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Wall-clock start of the recording, ms since the Unix epoch.
    started_at_ms: f64,
    /// Time of the last record, seconds.
    t: f64,
    series: Vec<CompactSample>,
    gap_pending: bool,
    losses: Losses,
    markers: Vec<Marker>,
    snapshots: Vec<SnapshotEntry>,
    ticks: Vec<Tick>,
    end: Option<(EndReason, String)>,
    /// Snapshot captures seen, successful or not, for labels.
    captures: u64,
}

impl Timeline {
    pub fn new(started_at_ms: f64) -> Timeline {
        Timeline {
            started_at_ms,
            ..Timeline::default()
        }
    }

    /// Applies one record; records come in recording order.
    pub fn ingest(&mut self, record: &Record) {
        let t = record.t;
        self.t = self.t.max(t);
        match &record.body {
            RecordBody::Sample(sample) => {
                let compact = CompactSample {
                    t,
                    heap_used: sample.heap_used,
                    heap_total: sample.heap_total,
                    heap_limit: sample.heap_limit,
                    dom_nodes: sample.metric("Nodes").map(|nodes| nodes as u64),
                    listeners: sample
                        .metric("JSEventListeners")
                        .map(|listeners| listeners as u64),
                    counts: sample.counts.clone(),
                    after_gap: std::mem::take(&mut self.gap_pending),
                };
                self.push_sample(compact);
            }
            RecordBody::Gap { .. } => self.gap_pending = true,
            RecordBody::Losses(losses) => self.losses = losses.clone(),
            RecordBody::Marker { label } => {
                if self.markers.len() < MAX_MARKERS {
                    self.markers.push(Marker {
                        t,
                        label: label.clone(),
                    });
                }
                self.tick(t, TickKind::Marker, label.clone());
            }
            RecordBody::Snapshot(event) => {
                self.captures += 1;
                let ok = event.status == leakscope_model::SNAPSHOT_OK;
                let label = if ok { "snapshot" } else { "snapshot failed" };
                self.tick(t, TickKind::Snapshot, label.to_owned());
                if ok {
                    let id = std::path::Path::new(&event.path)
                        .file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_else(|| event.path.clone());
                    self.snapshots.push(SnapshotEntry {
                        id,
                        path: event.path.clone(),
                        bytes: event.bytes,
                        t: Some(t),
                        taken_at_ms: self.started_at_ms + t * 1000.0,
                        duration_ms: event.duration_ms,
                        gc: event.gc,
                        label: format!("Snapshot {} at {}", self.captures, clock(t)),
                    });
                }
            }
            RecordBody::Navigation { url, navigation } => {
                let label = match navigation {
                    NavigationKind::Full => format!("load {}", short_path(url)),
                    NavigationKind::Reload => "reload".to_owned(),
                    NavigationKind::SameDocument => format!("route {}", short_path(url)),
                };
                self.tick(t, TickKind::Navigation, label);
            }
            RecordBody::End { reason, message } => self.end = Some((*reason, message.clone())),
            _ => {}
        }
    }

    fn tick(&mut self, t: f64, kind: TickKind, label: String) {
        if self.ticks.len() < MAX_TICKS {
            self.ticks.push(Tick { t, kind, label });
        }
    }

    /// Appends a sample, halving the series' resolution when it is full: every
    /// second sample is dropped, and a dropped sample's gap mark moves to the next.
    fn push_sample(&mut self, sample: CompactSample) {
        if self.series.len() >= MAX_SERIES_SAMPLES {
            let mut kept = Vec::with_capacity(MAX_SERIES_SAMPLES / 2 + 1);
            let mut carry_gap = false;
            for (index, mut old) in std::mem::take(&mut self.series).into_iter().enumerate() {
                if index % 2 == 1 {
                    carry_gap |= old.after_gap;
                    continue;
                }
                old.after_gap |= std::mem::take(&mut carry_gap);
                kept.push(old);
            }
            self.series = kept;
        }
        self.series.push(sample);
    }

    pub fn t(&self) -> f64 {
        self.t
    }

    pub fn started_at_ms(&self) -> f64 {
        self.started_at_ms
    }

    pub fn series(&self) -> &[CompactSample] {
        &self.series
    }

    pub fn last_sample(&self) -> Option<&CompactSample> {
        self.series.last()
    }

    /// Returns the last sample at or before `t`, else the first sample.
    pub fn sample_at(&self, t: f64) -> Option<&CompactSample> {
        let after = self.series.partition_point(|sample| sample.t <= t);
        match after {
            0 => self.series.first(),
            n => self.series.get(n - 1),
        }
    }

    pub fn losses(&self) -> &Losses {
        &self.losses
    }

    pub fn markers(&self) -> &[Marker] {
        &self.markers
    }

    pub fn snapshots(&self) -> &[SnapshotEntry] {
        &self.snapshots
    }

    pub fn ticks(&self) -> &[Tick] {
        &self.ticks
    }

    pub fn end(&self) -> Option<&(EndReason, String)> {
        self.end.as_ref()
    }
}

/// Formats seconds as `m:ss`.
fn clock(t: f64) -> String {
    let total = t.max(0.0).round() as u64;
    format!("{}:{:02}", total / 60, total % 60)
}

#[cfg(test)]
mod tests {
    use leakscope_model::{Sample, SnapshotEvent, SNAPSHOT_OK};

    use super::*;

    fn sample(t: f64, heap_used: u64) -> Record {
        Record {
            t,
            body: RecordBody::Sample(Sample {
                heap_used,
                heap_total: heap_used * 2,
                ..Sample::default()
            }),
        }
    }

    #[test]
    fn thinning_keeps_series_bounded() {
        let mut timeline = Timeline::new(0.0);
        for n in 0..(MAX_SERIES_SAMPLES * 3) {
            timeline.ingest(&sample(n as f64, 1));
        }
        assert!(timeline.series().len() <= MAX_SERIES_SAMPLES);
        assert!(timeline.series().len() > MAX_SERIES_SAMPLES / 2);
        let last = timeline.last_sample().unwrap();
        assert_eq!(last.t, (MAX_SERIES_SAMPLES * 3 - 1) as f64);
    }

    #[test]
    fn thinning_carries_gap_marks() {
        let mut timeline = Timeline::new(0.0);
        for n in 0..MAX_SERIES_SAMPLES {
            if n == 1 {
                // The sample at index 1 is dropped by the first thinning.
                timeline.ingest(&Record {
                    t: 0.5,
                    body: RecordBody::Gap {
                        reason: "test".to_owned(),
                    },
                });
            }
            timeline.ingest(&sample(n as f64, 1));
        }
        timeline.ingest(&sample(MAX_SERIES_SAMPLES as f64, 1));
        let gaps = timeline
            .series()
            .iter()
            .filter(|sample| sample.after_gap)
            .count();
        assert_eq!(gaps, 1);
    }

    #[test]
    fn sample_at_finds_the_one_before() {
        let mut timeline = Timeline::new(0.0);
        for n in 0..5u32 {
            timeline.ingest(&sample(f64::from(n), u64::from(n)));
        }
        assert_eq!(timeline.sample_at(2.5).unwrap().heap_used, 2);
        assert_eq!(timeline.sample_at(-1.0).unwrap().heap_used, 0);
        assert_eq!(timeline.sample_at(99.0).unwrap().heap_used, 4);
    }

    #[test]
    fn ok_snapshots_are_listed() {
        let mut timeline = Timeline::new(1_000.0);
        let event = |path: &str, status: &str| Record {
            t: 2.0,
            body: RecordBody::Snapshot(SnapshotEvent {
                path: path.to_owned(),
                bytes: 10,
                duration_ms: 5,
                gc: true,
                status: status.to_owned(),
            }),
        };
        timeline.ingest(&event("/d/a.heapsnapshot", SNAPSHOT_OK));
        timeline.ingest(&event("/d/b.heapsnapshot.partial", "cancelled"));
        assert_eq!(timeline.snapshots().len(), 1);
        let entry = &timeline.snapshots()[0];
        assert_eq!(entry.id, "a.heapsnapshot");
        assert_eq!(entry.taken_at_ms, 3_000.0);
        assert_eq!(timeline.ticks().len(), 2);
    }
}
