//! The agent as a recorder plugin: binding payloads and Network events in,
//! agent records out, and the live counts written into every sample.

use std::sync::Arc;

use leakscope_model::live::{LiveState, SiteKind};
use leakscope_model::{Record, RecordBody, Sample};
use serde_json::json;

use super::{network_record, AgentDecoder, BINDING_NAME};

/// Timer creation sites listed in the summary, the most live timers first.
const TOP_SITES: usize = 5;
use crate::events::{SessionEvent, TypedEvent};
use crate::losses::LossCounter;
use crate::recorder::RecordPlugin;
use crate::summary::RecordSummary;

/// Decodes the agent's reports into records, keeps the [`LiveState`] they
/// build, and fills [`Sample::counts`]. A payload that fails to decode is
/// counted and kept among the session's undecoded messages.
pub struct AgentPlugin {
    decoder: AgentDecoder,
    live: LiveState,
    losses: Arc<LossCounter>,
}

impl AgentPlugin {
    /// Creates a plugin for a recording that started at `started_at_ms` (Unix ms),
    /// reporting lost payloads to `losses` (the session's counter).
    pub fn new(started_at_ms: f64, losses: Arc<LossCounter>) -> AgentPlugin {
        AgentPlugin {
            decoder: AgentDecoder::new(started_at_ms),
            live: LiveState::new(),
            losses,
        }
    }

    /// Returns the live state built from the records so far.
    pub fn live(&self) -> &LiveState {
        &self.live
    }
}

impl RecordPlugin for AgentPlugin {
    fn on_event(&mut self, event: &SessionEvent, _t: f64, out: &mut Vec<RecordBody>) {
        match &event.typed {
            Some(TypedEvent::BindingCalled(called)) if called.name == BINDING_NAME => {
                match self.decoder.decode(&called.payload) {
                    Ok(records) => out.extend(records.into_iter().map(|record| record.body)),
                    Err(error) => {
                        tracing::warn!(%error, "agent payload failed to decode");
                        self.losses.undecoded(
                            &event.method,
                            None,
                            error.payload(),
                            &error.to_string(),
                        );
                    }
                }
            }
            Some(typed) => out.extend(network_record(typed)),
            None => {}
        }
    }

    fn on_record(&mut self, record: &Record, _out: &mut Vec<RecordBody>) {
        self.live.ingest(record);
    }

    fn fill_sample(&mut self, sample: &mut Sample) {
        if self.live.agent().injected {
            sample.counts = Some(self.live.counts());
        }
    }

    fn summarize(&mut self, summary: &mut RecordSummary) {
        let counts = self.live.counts();
        let losses = self.decoder.losses();
        summary.extra.insert(
            "agent".to_owned(),
            json!({
                "late": self.live.agent().late,
                "timers_live": counts.timers_live,
                "timers_created": counts.timers_created,
                "requests_in_flight": counts.requests_in_flight,
                "requests_completed": counts.requests_completed,
                "requests_aborted": counts.requests_aborted,
                "requests_failed": counts.requests_failed,
                "controllers_live": counts.controllers_live,
                "bad_events": losses.bad_events,
                "dropped_in_page": losses.dropped_in_page,
                "missing_batches": losses.missing_batches,
            }),
        );
        let top_sites: Vec<serde_json::Value> = self
            .live
            .sites()
            .into_iter()
            .filter(|row| matches!(row.kind, SiteKind::Timeout | SiteKind::Interval))
            .filter(|row| row.live > 0)
            .take(TOP_SITES)
            .map(|row| {
                let site = row.site.and_then(|id| self.live.site(id));
                json!({
                    "site": site.map_or_else(|| "(unknown)".to_owned(), |site| site.label()),
                    "kind": if row.kind == SiteKind::Interval { "interval" } else { "timeout" },
                    "live": row.live,
                    "created": row.created,
                })
            })
            .collect();
        summary.extra.insert(
            "timers".to_owned(),
            json!({
                "live": counts.timers_live,
                "intervals_live": counts.intervals_live,
                "created": counts.timers_created,
                "cleared": counts.timers_cleared,
                "top_sites": top_sites,
            }),
        );
        let endpoints: Vec<serde_json::Value> = self
            .live
            .endpoints(summary.duration_s)
            .into_iter()
            .filter(|row| row.in_flight > 0)
            .map(|row| {
                json!({
                    "endpoint": format!("{} {}", row.endpoint.method, row.endpoint.path),
                    "in_flight": row.in_flight,
                    "oldest_in_flight_s": row.oldest_in_flight_s,
                })
            })
            .collect();
        summary.extra.insert(
            "requests".to_owned(),
            json!({
                "in_flight": counts.requests_in_flight,
                "completed": counts.requests_completed,
                "aborted": counts.requests_aborted,
                "failed": counts.requests_failed,
                "endpoints_in_flight": endpoints,
            }),
        );
        summary.extra.insert(
            "abort_controllers".to_owned(),
            json!({
                "live": counts.controllers_live,
                "aborted": counts.controllers_aborted,
            }),
        );
    }
}
