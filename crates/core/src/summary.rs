//! The machine-readable summary of a recording (`record --json`, `demo --json`).
//!
//! One JSON object with stable field names. Later features add their own
//! fields: either as new optional fields here, or through [`RecordSummary::extra`],
//! whose entries are flattened into the top-level object (for example
//! `timers`, `requests`, `polls`, `alerts`, `verdict`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use leakscope_model::{EndReason, Losses, Sample, TargetInfo};
use serde::{Deserialize, Serialize};

/// Summary of one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordSummary {
    pub target: TargetSummary,
    /// Seconds from the start of the recording to its `End` record.
    pub duration_s: f64,
    /// Samples written.
    pub samples: u64,
    /// Samples that could not be taken (recorded as `gap`).
    pub gaps: u64,
    /// Navigations seen (full, reload and same-document).
    pub navigations: u64,
    pub heap: HeapSummary,
    /// Path of the recording file.
    pub recording: PathBuf,
    /// CDP messages that failed to decode.
    pub undecoded_messages: u64,
    /// Events dropped by a full channel.
    pub dropped_events: u64,
    /// Commands that hit their deadline.
    pub timed_out_commands: u64,
    /// `duration`, `stopped`, `target_closed`, `renderer_crashed`, `browser_gone` or `error`.
    pub end_reason: EndReason,
    /// Human-readable detail of the end.
    pub end_message: String,
    /// Fields added by later features, flattened into the object.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Target of the recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    pub id: String,
    pub url: String,
    pub title: String,
}

impl From<&TargetInfo> for TargetSummary {
    fn from(target: &TargetInfo) -> Self {
        TargetSummary {
            id: target.id.clone(),
            url: target.url.clone(),
            title: target.title.clone(),
        }
    }
}

/// JS heap used (`Runtime.getHeapUsage().usedSize`) over the recording, in bytes.
/// All `None` when no sample was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeapSummary {
    pub first_bytes: Option<u64>,
    pub last_bytes: Option<u64>,
    pub max_bytes: Option<u64>,
}

impl HeapSummary {
    /// Adds one sample.
    pub fn add(&mut self, sample: &Sample) {
        let used = sample.heap_used;
        self.first_bytes.get_or_insert(used);
        self.last_bytes = Some(used);
        self.max_bytes = Some(self.max_bytes.map_or(used, |max| max.max(used)));
    }
}

impl RecordSummary {
    /// Copies the loss totals into the summary.
    pub fn set_losses(&mut self, losses: &Losses) {
        self.undecoded_messages = losses.undecoded_total();
        self.dropped_events = losses.dropped_events;
        self.timed_out_commands = losses.timed_out_commands;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_summary_tracks_first_last_max() {
        let mut heap = HeapSummary::default();
        for used in [10, 30, 20] {
            heap.add(&Sample {
                heap_used: used,
                ..Sample::default()
            });
        }
        assert_eq!(heap.first_bytes, Some(10));
        assert_eq!(heap.last_bytes, Some(20));
        assert_eq!(heap.max_bytes, Some(30));
    }

    #[test]
    fn extra_fields_are_flattened() {
        let mut summary = RecordSummary {
            target: TargetSummary {
                id: "T".into(),
                url: "u".into(),
                title: "t".into(),
            },
            duration_s: 1.5,
            samples: 2,
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
        };
        summary
            .extra
            .insert("verdict".into(), serde_json::json!("leak"));
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["verdict"], "leak");
        assert_eq!(json["end_reason"], "duration");
        assert_eq!(json["target"]["id"], "T");
        let back: RecordSummary = serde_json::from_value(json).unwrap();
        assert_eq!(back, summary);
    }
}
