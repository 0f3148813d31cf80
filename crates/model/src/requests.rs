//! Requests in flight and recent request outcomes, per endpoint, for the
//! request rules (concurrency, open time, rate, abort and error rates).
//!
//! An endpoint is the request URL without its query string. Only open
//! requests and the outcomes inside the rate windows are kept.

use std::collections::{HashMap, VecDeque};

use crate::polls::url_parts;
use crate::record::{RequestEnded, RequestOutcome, RequestStarted};

/// Seconds of request starts kept for the per-minute rate.
const RATE_SPAN_S: f64 = 60.0;

/// Ended requests kept per window at most, whatever the window's length, so a
/// flood of requests cannot grow memory without bound.
const MAX_ENDS_KEPT: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndKind {
    Ok,
    Error,
    Aborted,
}

#[derive(Debug, Clone)]
struct OpenRequest {
    t: f64,
    endpoint: String,
}

/// Requests the page has open, and what ended recently.
#[derive(Debug, Clone, Default)]
pub struct RequestTable {
    open: HashMap<String, OpenRequest>,
    in_flight: HashMap<String, u64>,
    starts: HashMap<String, VecDeque<f64>>,
    ends: VecDeque<(f64, EndKind)>,
    endpoint_ends: HashMap<String, VecDeque<(f64, EndKind)>>,
    rate_window_s: f64,
}

/// Counts of an endpoint's requests that ended within the rate window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndCounts {
    pub ended: u64,
    pub errors: u64,
    pub aborted: u64,
}

impl RequestTable {
    pub fn new(rate_window_s: f64) -> Self {
        RequestTable {
            rate_window_s,
            ..RequestTable::default()
        }
    }

    /// Records a start; returns the endpoint.
    pub fn started(&mut self, t: f64, request: &RequestStarted) -> String {
        let endpoint = url_parts(&request.url).endpoint;
        self.open.insert(
            request.id.clone(),
            OpenRequest {
                t,
                endpoint: endpoint.clone(),
            },
        );
        *self.in_flight.entry(endpoint.clone()).or_default() += 1;
        let starts = self.starts.entry(endpoint.clone()).or_default();
        starts.push_back(t);
        prune_times(starts, t - RATE_SPAN_S);
        endpoint
    }

    /// Records an end; returns the endpoint when the start was seen.
    pub fn ended(&mut self, t: f64, ended: &RequestEnded) -> Option<String> {
        let open = self.open.remove(&ended.id)?;
        if let Some(count) = self.in_flight.get_mut(&open.endpoint) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.in_flight.remove(&open.endpoint);
            }
        }
        let kind = match ended.outcome {
            RequestOutcome::Completed { status } if status >= 400 => EndKind::Error,
            RequestOutcome::Completed { .. } => EndKind::Ok,
            RequestOutcome::Failed { .. } => EndKind::Error,
            RequestOutcome::Aborted => EndKind::Aborted,
        };
        let cutoff = t - self.rate_window_s;
        self.ends.push_back((t, kind));
        prune_ends(&mut self.ends, cutoff);
        let endpoint_ends = self.endpoint_ends.entry(open.endpoint.clone()).or_default();
        endpoint_ends.push_back((t, kind));
        prune_ends(endpoint_ends, cutoff);
        Some(open.endpoint)
    }

    /// Forgets open requests: their document is gone and they will not end.
    pub fn clear_open(&mut self) {
        self.open.clear();
        self.in_flight.clear();
    }

    pub fn in_flight(&self, endpoint: &str) -> u64 {
        self.in_flight.get(endpoint).copied().unwrap_or(0)
    }

    /// Requests in flight, by endpoint.
    pub fn in_flight_per_endpoint(&self) -> &HashMap<String, u64> {
        &self.in_flight
    }

    /// Requests started to `endpoint` in the last minute before `now`.
    pub fn per_minute(&mut self, endpoint: &str, now: f64) -> u64 {
        let Some(starts) = self.starts.get_mut(endpoint) else {
            return 0;
        };
        prune_times(starts, now - RATE_SPAN_S);
        starts.len() as u64
    }

    /// Outcomes of the page's requests within the rate window.
    pub fn page_ends(&mut self, now: f64) -> EndCounts {
        prune_ends(&mut self.ends, now - self.rate_window_s);
        count_ends(&self.ends)
    }

    /// Outcomes of one endpoint's requests within the rate window.
    pub fn endpoint_ends(&mut self, endpoint: &str, now: f64) -> EndCounts {
        let Some(ends) = self.endpoint_ends.get_mut(endpoint) else {
            return EndCounts::default();
        };
        prune_ends(ends, now - self.rate_window_s);
        count_ends(ends)
    }

    /// Open requests older than `limit_s` at `now`, per endpoint: how many
    /// and the age of the oldest.
    pub fn stuck(&self, now: f64, limit_s: f64) -> Vec<(String, u64, f64)> {
        let mut stuck: HashMap<&str, (u64, f64)> = HashMap::new();
        for request in self.open.values() {
            let age = now - request.t;
            if age > limit_s {
                let entry = stuck.entry(&request.endpoint).or_default();
                entry.0 += 1;
                entry.1 = entry.1.max(age);
            }
        }
        let mut list: Vec<(String, u64, f64)> = stuck
            .into_iter()
            .map(|(endpoint, (count, oldest))| (endpoint.to_owned(), count, oldest))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    /// Drops rate history of endpoints with nothing in the windows.
    pub fn prune(&mut self, now: f64) {
        let rate_cutoff = now - RATE_SPAN_S;
        self.starts.retain(|_, starts| {
            prune_times(starts, rate_cutoff);
            !starts.is_empty()
        });
        let end_cutoff = now - self.rate_window_s;
        self.endpoint_ends.retain(|_, ends| {
            prune_ends(ends, end_cutoff);
            !ends.is_empty()
        });
    }
}

fn prune_times(times: &mut VecDeque<f64>, cutoff: f64) {
    while times.front().is_some_and(|t| *t <= cutoff) {
        times.pop_front();
    }
    while times.len() > MAX_ENDS_KEPT {
        times.pop_front();
    }
}

fn prune_ends(ends: &mut VecDeque<(f64, EndKind)>, cutoff: f64) {
    while ends.front().is_some_and(|(t, _)| *t <= cutoff) {
        ends.pop_front();
    }
    while ends.len() > MAX_ENDS_KEPT {
        ends.pop_front();
    }
}

fn count_ends(ends: &VecDeque<(f64, EndKind)>) -> EndCounts {
    let mut counts = EndCounts {
        ended: ends.len() as u64,
        ..EndCounts::default()
    };
    for (_, kind) in ends {
        match kind {
            EndKind::Ok => {}
            EndKind::Error => counts.errors += 1,
            EndKind::Aborted => counts.aborted += 1,
        }
    }
    counts
}
