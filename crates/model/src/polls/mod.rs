//! Poll lifecycles: requests to a status endpoint grouped by operation, from
//! the first request to the response that ends them.
//!
//! A request joins a lifecycle in one of three ways. Its URL matches a
//! configured endpoint, with the operation id in the path, the query or the
//! JSON body. Or the same method and URL came back at a steady cadence (any
//! site, no configuration). Or the page announced the operation through its
//! poll API or a `[PollingHealth]` console line. Each lifecycle keeps running
//! aggregates only (counts, the last few intervals, the last response fields),
//! never the list of its requests, so memory follows the number of live
//! operations, not the length of the recording.
//!
//! Flags describe what is wrong with a lifecycle: `runaway` past its attempt
//! limit, `orphaned` when it keeps polling after its view went away,
//! `duplicated` when several live timers poll the same operation, `stalled`
//! when it stopped asking without a final response, `overlapping` when a request
//! starts while the previous one is still in flight, `no-progress` when the
//! response stays the same, and `pre-aborted` when requests start with an
//! already-aborted signal and never reach the network.

mod matcher;
pub mod timers;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::config::{Config, FieldMatch, PollTypeLimits};
use crate::record::{
    NavigationKind, PollSignal, PollSignalKind, RequestEnded, RequestOutcome, RequestStarted, Site,
    TimerKind,
};
use crate::verdict::median_of_sorted;

pub use matcher::GENERIC_POLL_TYPE;
pub(crate) use matcher::{route_of, url_parts};
use matcher::{EndpointMatcher, PollKey};
use timers::TimerTable;

/// Intervals kept per lifecycle for the median cadence.
const CADENCE_INTERVALS: usize = 16;

/// A lifecycle that has ended (final response, explicit end, or owner gone with no
/// request after) and saw no request for this long moves to the finished
/// list, seconds.
const RETIRE_AFTER_S: f64 = 60.0;

/// Fired timeouts remembered per lifecycle, to count timeout chains: a live
/// timeout whose parent is one of these continues the chain.
const DRIVING_TIMERS_KEPT: usize = 64;

/// Trailing attempts that must all have started with an aborted signal before
/// a lifecycle that once worked is flagged `pre-aborted`.
const PRE_ABORTED_RUN: u64 = 3;

/// Ended attempts that must all have failed before the lifecycle is `failed`.
const FAILED_MIN_ATTEMPTS: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PollState {
    /// Still polling, or silent without a final response (see the `stalled` flag).
    Active,
    /// A response reported the job done.
    Complete,
    /// A response reported the job failed, or every attempt failed.
    Failed,
    /// Past its type's duration limit with no final response.
    Timeout,
    /// The page ended it (its poll API, or its view went away) before a final response.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PollFlag {
    Runaway,
    Orphaned,
    Duplicated,
    Stalled,
    Overlapping,
    NoProgress,
    PreAborted,
}

impl PollFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            PollFlag::Runaway => "runaway",
            PollFlag::Orphaned => "orphaned",
            PollFlag::Duplicated => "duplicated",
            PollFlag::Stalled => "stalled",
            PollFlag::Overlapping => "overlapping",
            PollFlag::NoProgress => "no-progress",
            PollFlag::PreAborted => "pre-aborted",
        }
    }
}

/// Origin of a lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PollSource {
    /// A configured endpoint.
    Config,
    /// A steady cadence on an unconfigured URL.
    Detected,
    /// The page's poll API or `[PollingHealth]` lines only.
    Signal,
}

/// The moment the view that started a lifecycle went away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnerGone {
    pub t: f64,
    pub reason: String,
}

/// One lifecycle as reported: the `polls` entries of the JSON summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollSummary {
    pub id: u64,
    #[serde(rename = "type")]
    pub poll_type: String,
    pub operation: String,
    /// The endpoint's path pattern, or `METHOD /path` for a detected poll.
    pub endpoint: String,
    pub source: PollSource,
    pub state: PollState,
    pub flags: Vec<PollFlag>,
    /// Requests sent, or attempts the page reported when it reported more.
    pub attempts: u64,
    pub max_attempts: u64,
    pub first_t: f64,
    pub last_t: f64,
    pub duration_s: f64,
    /// Median time between requests, seconds.
    pub cadence_s: Option<f64>,
    /// The interval the stall check uses, seconds.
    pub expected_interval_s: Option<f64>,
    /// Top-level fields of the last response.
    pub last_status: BTreeMap<String, String>,
    pub last_http_status: Option<u16>,
    pub in_flight: u64,
    pub max_in_flight: u64,
    pub errors: u64,
    pub aborted: u64,
    pub pre_aborted: u64,
    /// Attempts in a row whose response fields did not change.
    pub unchanged_responses: u64,
    /// The creation site of the timer that drives the poll.
    pub timer_site: Option<String>,
    pub timer_kind: Option<TimerKind>,
    pub timer_delay_ms: Option<f64>,
    /// The site of the code that sent the last request.
    pub request_site: Option<String>,
    /// URL path of the page when the lifecycle started.
    pub route: String,
    pub owner_gone: Option<OwnerGone>,
    pub requests_after_owner_gone: u64,
    /// Creation time of the first timer that was created after the owner went
    /// away and then sent a request, seconds.
    pub timer_created_after_owner_gone_t: Option<f64>,
    /// Live timers polling this operation now, and the most seen at once.
    pub concurrent_chains: u64,
    pub max_concurrent_chains: u64,
    /// Reason the page or the response gave for the end: `complete`, `unmount`, ...
    pub end_reason: Option<String>,
}

/// Running aggregates of one lifecycle.
#[derive(Debug, Clone)]
struct Lifecycle {
    id: u64,
    key: Option<String>,
    source: PollSource,
    confirmed: bool,
    poll_type: String,
    operation: String,
    endpoint_label: String,
    endpoint: Option<usize>,
    limits: PollTypeLimits,
    configured_interval_s: Option<f64>,
    first_t: f64,
    last_request_t: Option<f64>,
    last_activity_t: f64,
    requests: u64,
    signal_attempts: u64,
    in_flight: BTreeSet<String>,
    max_in_flight: u64,
    overlaps: u64,
    ended: u64,
    errors: u64,
    aborted: u64,
    pre_aborted: u64,
    pre_aborted_run: u64,
    intervals: VecDeque<f64>,
    last_status: BTreeMap<String, String>,
    last_http_status: Option<u16>,
    unchanged_run: u64,
    final_answer: Option<(PollState, f64)>,
    explicit_end: Option<(String, f64)>,
    requests_after_end: u64,
    page_reported_runaway: bool,
    timer_site: Option<u32>,
    timer_kind: Option<TimerKind>,
    timer_delay_ms: Option<f64>,
    first_timer_delay_ms: Option<f64>,
    request_site: Option<u32>,
    route: String,
    owner_gone: Option<OwnerGone>,
    requests_after_owner_gone: u64,
    timer_created_after_owner_gone_t: Option<f64>,
    driving_timers: VecDeque<u64>,
    concurrent_chains: u64,
    max_concurrent_chains: u64,
}

impl Lifecycle {
    fn new(id: u64, t: f64, route: String, limits: PollTypeLimits) -> Self {
        Lifecycle {
            id,
            key: None,
            source: PollSource::Signal,
            confirmed: false,
            poll_type: GENERIC_POLL_TYPE.to_owned(),
            operation: String::new(),
            endpoint_label: String::new(),
            endpoint: None,
            limits,
            configured_interval_s: None,
            first_t: t,
            last_request_t: None,
            last_activity_t: t,
            requests: 0,
            signal_attempts: 0,
            in_flight: BTreeSet::new(),
            max_in_flight: 0,
            overlaps: 0,
            ended: 0,
            errors: 0,
            aborted: 0,
            pre_aborted: 0,
            pre_aborted_run: 0,
            intervals: VecDeque::new(),
            last_status: BTreeMap::new(),
            last_http_status: None,
            unchanged_run: 0,
            final_answer: None,
            explicit_end: None,
            requests_after_end: 0,
            page_reported_runaway: false,
            timer_site: None,
            timer_kind: None,
            timer_delay_ms: None,
            first_timer_delay_ms: None,
            request_site: None,
            route,
            owner_gone: None,
            requests_after_owner_gone: 0,
            timer_created_after_owner_gone_t: None,
            driving_timers: VecDeque::new(),
            concurrent_chains: 0,
            max_concurrent_chains: 0,
        }
    }

    fn attempts(&self) -> u64 {
        self.requests.max(self.signal_attempts)
    }

    fn cadence_s(&self) -> Option<f64> {
        if self.intervals.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = self.intervals.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        Some(median_of_sorted(&sorted))
    }

    /// Returns true when every kept interval is within `tolerance` of their median.
    fn is_steady(&self, tolerance: f64) -> bool {
        let Some(median) = self.cadence_s() else {
            return false;
        };
        if median <= 0.0 {
            return false;
        }
        self.intervals
            .iter()
            .all(|interval| (interval - median).abs() <= tolerance * median)
    }

    /// Returns the time between polls the stall check expects: the measured cadence,
    /// else the endpoint's configured interval, else the delay of the timer
    /// that sent the first request, else the poll type's expected interval
    /// (for a first request sent by no timer, which is never followed).
    fn expected_interval_s(&self) -> Option<f64> {
        self.cadence_s()
            .filter(|cadence| *cadence > 0.0)
            .or(self.configured_interval_s)
            .or(self
                .first_timer_delay_ms
                .filter(|delay| *delay > 0.0)
                .map(|delay| delay / 1000.0))
            .or(self
                .limits
                .expected_interval_s()
                .filter(|interval| *interval > 0.0))
    }

    fn is_final(&self) -> bool {
        self.final_answer.is_some()
    }

    fn duration_s(&self, now: f64) -> f64 {
        let end = match self.final_answer {
            Some((_, t)) => t,
            None => match &self.explicit_end {
                Some((_, t)) if self.requests_after_end == 0 => *t,
                _ => now.max(self.last_activity_t),
            },
        };
        (end - self.first_t).max(0.0)
    }

    fn state(&self, now: f64) -> PollState {
        if let Some((state, _)) = self.final_answer {
            return state;
        }
        if let Some((reason, _)) = &self.explicit_end {
            if self.requests_after_end == 0 {
                return end_state(reason);
            }
        }
        let owner_left_quietly = self.owner_gone.is_some() && self.requests_after_owner_gone == 0;
        if owner_left_quietly && self.in_flight.is_empty() {
            return PollState::Stopped;
        }
        let failed_attempts = self.errors + self.pre_aborted.min(self.aborted);
        if self.ended >= FAILED_MIN_ATTEMPTS && failed_attempts >= self.ended {
            return PollState::Failed;
        }
        if self
            .limits
            .limit_s
            .is_some_and(|limit| self.duration_s(now) > limit)
        {
            return PollState::Timeout;
        }
        PollState::Active
    }

    fn is_stalled(&self, now: f64, stall_cadences: f64) -> bool {
        if self.state(now) != PollState::Active || !self.in_flight.is_empty() || self.requests == 0
        {
            return false;
        }
        let Some(expected) = self.expected_interval_s() else {
            return false;
        };
        now - self.last_activity_t > stall_cadences * expected
    }

    fn flags(&self, now: f64, config: &Config) -> Vec<PollFlag> {
        let mut flags = Vec::new();
        if self.attempts() > self.limits.max_attempts || self.page_reported_runaway {
            flags.push(PollFlag::Runaway);
        }
        if self.requests_after_owner_gone > 0 {
            flags.push(PollFlag::Orphaned);
        }
        if self.max_concurrent_chains >= 2 {
            flags.push(PollFlag::Duplicated);
        }
        if self.is_stalled(now, config.polls.stall_cadences) {
            flags.push(PollFlag::Stalled);
        }
        if self.overlaps > 0 {
            flags.push(PollFlag::Overlapping);
        }
        if !self.is_final() && self.unchanged_run >= config.polls.no_progress_attempts {
            flags.push(PollFlag::NoProgress);
        }
        let all_pre_aborted = self.requests > 0 && self.pre_aborted == self.requests;
        if all_pre_aborted || self.pre_aborted_run >= PRE_ABORTED_RUN {
            flags.push(PollFlag::PreAborted);
        }
        flags
    }

    /// Returns true when the lifecycle is idle and ended, so it can leave the active set.
    fn can_retire(&self, now: f64) -> bool {
        self.in_flight.is_empty()
            && now - self.last_activity_t > RETIRE_AFTER_S
            && !matches!(self.state(now), PollState::Active | PollState::Timeout)
    }

    fn summary(&self, now: f64, config: &Config, sites: &HashMap<u32, Site>) -> PollSummary {
        let end_reason = match (&self.final_answer, &self.explicit_end) {
            (Some((PollState::Complete, _)), _) => Some("complete".to_owned()),
            (Some((PollState::Failed, _)), _) => Some("failed".to_owned()),
            (_, Some((reason, _))) => Some(reason.clone()),
            _ => None,
        };
        PollSummary {
            id: self.id,
            poll_type: self.poll_type.clone(),
            operation: self.operation.clone(),
            endpoint: self.endpoint_label.clone(),
            source: self.source,
            state: self.state(now),
            flags: self.flags(now, config),
            attempts: self.attempts(),
            max_attempts: self.limits.max_attempts,
            first_t: self.first_t,
            last_t: self.last_activity_t,
            duration_s: self.duration_s(now),
            cadence_s: self.cadence_s(),
            expected_interval_s: self.expected_interval_s(),
            last_status: self.last_status.clone(),
            last_http_status: self.last_http_status,
            in_flight: self.in_flight.len() as u64,
            max_in_flight: self.max_in_flight,
            errors: self.errors,
            aborted: self.aborted,
            pre_aborted: self.pre_aborted,
            unchanged_responses: self.unchanged_run,
            timer_site: self.timer_site.map(|site| site_label(sites, site)),
            timer_kind: self.timer_kind,
            timer_delay_ms: self.timer_delay_ms,
            request_site: self.request_site.map(|site| site_label(sites, site)),
            route: self.route.clone(),
            owner_gone: self.owner_gone.clone(),
            requests_after_owner_gone: self.requests_after_owner_gone,
            timer_created_after_owner_gone_t: self.timer_created_after_owner_gone_t,
            concurrent_chains: self.concurrent_chains,
            max_concurrent_chains: self.max_concurrent_chains,
            end_reason,
        }
    }
}

/// Formats a site id with its label when the `Site` record was seen.
pub(crate) fn site_label(sites: &HashMap<u32, Site>, site: u32) -> String {
    sites
        .get(&site)
        .map_or_else(|| format!("site #{site}"), Site::label)
}

/// Returns true when `path` is `route` or a path below it. The root route
/// contains only itself, because every path is below `/`.
fn route_contains(route: &str, path: &str) -> bool {
    let route = route.trim_end_matches('/');
    let path = path.trim_end_matches('/');
    if route.is_empty() {
        return path.is_empty();
    }
    path == route
        || path
            .strip_prefix(route)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Maps a page's end reason to a state.
fn end_state(reason: &str) -> PollState {
    match reason.to_ascii_lowercase().as_str() {
        "complete" | "completed" | "done" | "success" | "succeeded" => PollState::Complete,
        "error" | "failed" | "failure" => PollState::Failed,
        "timeout" => PollState::Timeout,
        _ => PollState::Stopped,
    }
}

/// Groups requests and poll signals into lifecycles.
#[derive(Debug, Clone)]
pub struct PollTracker {
    config: Config,
    matcher: EndpointMatcher,
    active: BTreeMap<u64, Lifecycle>,
    by_key: HashMap<String, u64>,
    by_operation: HashMap<String, Vec<u64>>,
    request_owner: HashMap<String, u64>,
    finished: VecDeque<Lifecycle>,
    finished_dropped: u64,
    unconfirmed: usize,
    next_id: u64,
}

impl PollTracker {
    pub fn new(config: &Config) -> Self {
        PollTracker {
            config: config.clone(),
            matcher: EndpointMatcher::new(&config.endpoints),
            active: BTreeMap::new(),
            by_key: HashMap::new(),
            by_operation: HashMap::new(),
            request_owner: HashMap::new(),
            finished: VecDeque::new(),
            finished_dropped: 0,
            unconfirmed: 0,
            next_id: 1,
        }
    }

    fn create(&mut self, t: f64, route: &str, poll_type: &str, operation: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut lifecycle =
            Lifecycle::new(id, t, route.to_owned(), self.config.limits_for(poll_type));
        lifecycle.poll_type = poll_type.to_owned();
        lifecycle.operation = operation.to_owned();
        self.by_operation
            .entry(operation.to_owned())
            .or_default()
            .push(id);
        self.active.insert(id, lifecycle);
        id
    }

    /// Finds the newest active lifecycle of an operation.
    fn find_operation(&self, operation: &str) -> Option<u64> {
        self.by_operation
            .get(operation)?
            .iter()
            .rev()
            .copied()
            .find(|id| self.active.contains_key(id))
    }

    /// Records a request start. Returns the lifecycle it joined when that
    /// lifecycle is a confirmed poll.
    pub fn request_started(
        &mut self,
        t: f64,
        request: &RequestStarted,
        timers: &TimerTable,
        route: &str,
    ) -> Option<u64> {
        let key = self.matcher.key_of(request);
        if key.endpoint.is_none() && !is_safe_method(&request.method) {
            // Generic detection covers reads only: a page that repeats a POST
            // (starting a job per cycle, saving a draft) is not polling, and a
            // poll over POST is matched through a configured endpoint instead.
            return None;
        }
        let id = match self.by_key.get(&key.key) {
            Some(id) => *id,
            None => self.open_for_request(t, &key, route),
        };
        self.request_owner.insert(request.id.clone(), id);

        let tolerance = self.config.polls.cadence_tolerance;
        let detect_min = self.config.polls.detect_min_requests;
        let lifecycle = self.active.get_mut(&id)?;
        lifecycle.record_start(t, request, timers);
        if !lifecycle.confirmed
            && lifecycle.requests >= detect_min
            && lifecycle.is_steady(tolerance)
        {
            lifecycle.confirmed = true;
            self.unconfirmed = self.unconfirmed.saturating_sub(1);
        }
        let confirmed = lifecycle.confirmed;
        if self.unconfirmed > self.config.polls.max_candidates {
            self.forget_candidates();
        }
        confirmed.then_some(id)
    }

    fn open_for_request(&mut self, t: f64, key: &PollKey, route: &str) -> u64 {
        // A lifecycle the page announced (poll API, console) before its first
        // request takes over this endpoint.
        let announced = self.find_operation(&key.operation).filter(|id| {
            self.active
                .get(id)
                .is_some_and(|lifecycle| lifecycle.key.is_none() && !lifecycle.is_final())
        });
        let id = match announced {
            Some(id) => id,
            None => self.create(t, route, &key.poll_type, &key.operation),
        };
        let endpoint = key
            .endpoint
            .and_then(|index| self.matcher.endpoint(index))
            .cloned();
        let limits = self.config.limits_for(&key.poll_type);
        let Some(lifecycle) = self.active.get_mut(&id) else {
            return id;
        };
        lifecycle.key = Some(key.key.clone());
        lifecycle.endpoint = key.endpoint;
        lifecycle.endpoint_label = key.endpoint_label.clone();
        match endpoint {
            Some(endpoint) => {
                lifecycle.source = PollSource::Config;
                lifecycle.confirmed = true;
                lifecycle.poll_type = endpoint.poll_type.clone();
                lifecycle.limits = limits;
                lifecycle.configured_interval_s = endpoint.interval_s;
            }
            None if lifecycle.source == PollSource::Signal && announced.is_some() => {
                lifecycle.confirmed = true;
            }
            None => {
                lifecycle.source = PollSource::Detected;
                self.unconfirmed += 1;
            }
        }
        self.by_key.insert(key.key.clone(), id);
        id
    }

    /// Drops the older half of the unconfirmed candidates.
    fn forget_candidates(&mut self) {
        let mut candidates: Vec<(f64, u64)> = self
            .active
            .values()
            .filter(|lifecycle| !lifecycle.confirmed && lifecycle.in_flight.is_empty())
            .map(|lifecycle| (lifecycle.last_activity_t, lifecycle.id))
            .collect();
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        let drop = candidates.len() / 2;
        for (_, id) in candidates.into_iter().take(drop) {
            self.remove_active(id);
            self.unconfirmed = self.unconfirmed.saturating_sub(1);
        }
    }

    fn remove_active(&mut self, id: u64) -> Option<Lifecycle> {
        let lifecycle = self.active.remove(&id)?;
        if let Some(key) = &lifecycle.key {
            if self.by_key.get(key) == Some(&id) {
                self.by_key.remove(key);
            }
        }
        if let Some(ids) = self.by_operation.get_mut(&lifecycle.operation) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_operation.remove(&lifecycle.operation);
            }
        }
        for request in &lifecycle.in_flight {
            self.request_owner.remove(request);
        }
        Some(lifecycle)
    }

    fn retire(&mut self, id: u64) {
        let Some(lifecycle) = self.remove_active(id) else {
            return;
        };
        if !lifecycle.confirmed {
            self.unconfirmed = self.unconfirmed.saturating_sub(1);
            return;
        }
        self.finished.push_back(lifecycle);
        while self.finished.len() > self.config.polls.keep_finished {
            self.finished.pop_front();
            self.finished_dropped += 1;
        }
    }

    /// Records a request end. Returns the lifecycle when it is a confirmed poll.
    pub fn request_ended(&mut self, t: f64, ended: &RequestEnded) -> Option<u64> {
        let id = self.request_owner.remove(&ended.id)?;
        let (done, failed) = self.markers_for(id);
        let lifecycle = self.active.get_mut(&id)?;
        lifecycle.record_end(t, ended, &done, &failed);
        lifecycle.confirmed.then_some(id)
    }

    fn markers_for(&self, id: u64) -> (Vec<FieldMatch>, Vec<FieldMatch>) {
        let endpoint = self
            .active
            .get(&id)
            .and_then(|lifecycle| lifecycle.endpoint);
        match endpoint.and_then(|index| self.matcher.endpoint(index)) {
            Some(endpoint) => (endpoint.done.clone(), endpoint.failed.clone()),
            None => matcher::generic_markers(),
        }
    }

    /// Applies a poll signal from the page. Returns the lifecycles it touched.
    pub fn signal(&mut self, t: f64, signal: &PollSignal, route: &str) -> Vec<u64> {
        if signal.signal == PollSignalKind::Unmount {
            return self.unmount(t, signal, route);
        }
        if signal.operation.is_empty() {
            return Vec::new();
        }
        let existing = self.find_operation(&signal.operation);
        let id = match (signal.signal, existing) {
            // A new start of an operation whose lifecycle ended (or whose view
            // left) begins a new lifecycle.
            (PollSignalKind::Start, Some(id))
                if self
                    .active
                    .get(&id)
                    .is_some_and(Lifecycle::ended_or_abandoned) =>
            {
                self.retire(id);
                self.create_signalled(t, signal, route)
            }
            (_, Some(id)) => id,
            (_, None) => self.create_signalled(t, signal, route),
        };
        let Some(lifecycle) = self.active.get_mut(&id) else {
            return Vec::new();
        };
        lifecycle.last_activity_t = lifecycle.last_activity_t.max(t);
        if signal.reason.as_deref() == Some("runaway") {
            lifecycle.page_reported_runaway = true;
        }
        if let Some(attempts) = signal.attempts {
            lifecycle.signal_attempts = lifecycle.signal_attempts.max(attempts);
        }
        if let Some(age_ms) = signal.age_ms {
            lifecycle.first_t = lifecycle.first_t.min((t - age_ms / 1000.0).max(0.0));
        }
        match signal.signal {
            PollSignalKind::Start | PollSignalKind::Report => {}
            PollSignalKind::Runaway => lifecycle.page_reported_runaway = true,
            PollSignalKind::Attempt => {
                if signal.attempts.is_none() {
                    lifecycle.signal_attempts += 1;
                }
            }
            PollSignalKind::End => {
                let reason = signal.reason.clone().unwrap_or_else(|| "ended".to_owned());
                if reason == "unmount" && lifecycle.owner_gone.is_none() {
                    lifecycle.owner_gone = Some(OwnerGone {
                        t,
                        reason: "the page reported unmount".to_owned(),
                    });
                }
                lifecycle.explicit_end = Some((reason, t));
                lifecycle.requests_after_end = 0;
            }
            PollSignalKind::Unmount => {}
        }
        vec![id]
    }

    fn create_signalled(&mut self, t: f64, signal: &PollSignal, route: &str) -> u64 {
        let poll_type = signal.poll_type.as_deref().unwrap_or(GENERIC_POLL_TYPE);
        let id = self.create(t, route, poll_type, &signal.operation);
        if let Some(lifecycle) = self.active.get_mut(&id) {
            lifecycle.confirmed = true;
            lifecycle.source = PollSource::Signal;
            lifecycle.endpoint_label = "(page signal)".to_owned();
        }
        id
    }

    /// Applies the page's unmount signal: the lifecycles of that operation, or
    /// with no operation every lifecycle started on the current route, lose
    /// their owner.
    fn unmount(&mut self, t: f64, signal: &PollSignal, route: &str) -> Vec<u64> {
        let mut touched = Vec::new();
        for lifecycle in self.active.values_mut() {
            let matches = if signal.operation.is_empty() {
                lifecycle.route == route
            } else {
                lifecycle.operation == signal.operation
            };
            // A lifecycle with a final answer still counts: if it goes on
            // polling after its view left, it is orphaned all the same.
            if matches && lifecycle.confirmed && lifecycle.owner_gone.is_none() {
                lifecycle.owner_gone = Some(OwnerGone {
                    t,
                    reason: "the page reported unmount".to_owned(),
                });
                touched.push(lifecycle.id);
            }
        }
        touched
    }

    /// Applies a navigation. A same-document navigation to a path outside a
    /// lifecycle's route (`/credits` to `/home`, but not to `/credits/history`)
    /// leaves that lifecycle without its view. A
    /// full navigation or reload replaces the document, so its timers cannot
    /// poll any more: its lifecycles end, and requests in the new document
    /// start new ones.
    pub fn navigated(
        &mut self,
        t: f64,
        kind: NavigationKind,
        old_route: &str,
        new_route: &str,
    ) -> Vec<u64> {
        match kind {
            NavigationKind::SameDocument => {
                if old_route == new_route {
                    return Vec::new();
                }
                let mut touched = Vec::new();
                for lifecycle in self.active.values_mut() {
                    // Final lifecycles included, as for the unmount signal.
                    if !route_contains(&lifecycle.route, new_route)
                        && lifecycle.owner_gone.is_none()
                    {
                        let reason = format!("navigated from {old_route} to {new_route}");
                        lifecycle.owner_gone = Some(OwnerGone { t, reason });
                        touched.push(lifecycle.id);
                    }
                }
                touched
            }
            NavigationKind::Full | NavigationKind::Reload => {
                let ids: Vec<u64> = self.active.keys().copied().collect();
                for id in &ids {
                    if let Some(lifecycle) = self.active.get_mut(id) {
                        if lifecycle.owner_gone.is_none() && !lifecycle.is_final() {
                            let reason = format!(
                                "the document was replaced ({kind:?} navigation to {new_route})"
                            );
                            lifecycle.owner_gone = Some(OwnerGone {
                                t,
                                reason: reason.to_lowercase(),
                            });
                        }
                        // The old document's requests never report their end.
                        lifecycle.in_flight.clear();
                    }
                    self.retire(*id);
                }
                self.request_owner.clear();
                Vec::new()
            }
        }
    }

    /// Moves ended, idle lifecycles to the finished list.
    pub fn sweep(&mut self, now: f64) {
        let idle: Vec<u64> = self
            .active
            .values()
            .filter(|lifecycle| lifecycle.can_retire(now))
            .map(|l| l.id)
            .collect();
        for id in idle {
            self.retire(id);
        }
    }

    /// Summary of one confirmed lifecycle, active or finished.
    pub fn summary(&self, id: u64, now: f64, sites: &HashMap<u32, Site>) -> Option<PollSummary> {
        let lifecycle = self
            .active
            .get(&id)
            .or_else(|| self.finished.iter().find(|lifecycle| lifecycle.id == id))?;
        lifecycle
            .confirmed
            .then(|| lifecycle.summary(now, &self.config, sites))
    }

    /// Summaries of every confirmed lifecycle kept, finished first, in start order.
    pub fn summaries(&self, now: f64, sites: &HashMap<u32, Site>) -> Vec<PollSummary> {
        let mut all: Vec<PollSummary> = self
            .finished
            .iter()
            .chain(self.active.values())
            .filter(|lifecycle| lifecycle.confirmed)
            .map(|lifecycle| lifecycle.summary(now, &self.config, sites))
            .collect();
        all.sort_by_key(|summary| summary.id);
        all
    }

    /// Ids of the active confirmed lifecycles.
    pub fn active_ids(&self) -> Vec<u64> {
        self.active
            .values()
            .filter(|lifecycle| lifecycle.confirmed)
            .map(|lifecycle| lifecycle.id)
            .collect()
    }

    /// Finished lifecycles no longer kept, only counted.
    pub fn finished_dropped(&self) -> u64 {
        self.finished_dropped
    }

    /// Recomputes the live poll chains of every active lifecycle (timers
    /// cleared since their last request no longer count).
    pub fn refresh_chains(&mut self, timers: &TimerTable) {
        for lifecycle in self.active.values_mut() {
            lifecycle.concurrent_chains = lifecycle.count_chains(timers);
        }
    }
}

impl Lifecycle {
    /// True when a new start of its operation should open a new lifecycle.
    fn ended_or_abandoned(&self) -> bool {
        self.is_final() || self.explicit_end.is_some() || self.owner_gone.is_some()
    }

    fn record_start(&mut self, t: f64, request: &RequestStarted, timers: &TimerTable) {
        if let Some(previous) = self.last_request_t {
            self.intervals.push_back(t - previous);
            if self.intervals.len() > CADENCE_INTERVALS {
                self.intervals.pop_front();
            }
        } else if self.requests == 0 && self.signal_attempts == 0 {
            self.first_t = self.first_t.min(t);
        }
        if !self.in_flight.is_empty() {
            self.overlaps += 1;
        }
        self.requests += 1;
        self.last_request_t = Some(t);
        self.last_activity_t = self.last_activity_t.max(t);
        self.in_flight.insert(request.id.clone());
        self.max_in_flight = self.max_in_flight.max(self.in_flight.len() as u64);
        if self.explicit_end.is_some() {
            self.requests_after_end += 1;
        }
        if request.signal_aborted {
            self.pre_aborted += 1;
            self.pre_aborted_run += 1;
        } else {
            self.pre_aborted_run = 0;
        }
        if request.site.is_some() {
            self.request_site = request.site;
        }

        let timer = request
            .timer
            .and_then(|id| timers.get(id).map(|info| (id, *info)));
        if let Some((timer_id, info)) = timer {
            self.timer_site = info.site.or(self.timer_site);
            self.timer_kind = Some(info.kind);
            self.timer_delay_ms = Some(info.delay_ms);
            if self.requests == 1 {
                self.first_timer_delay_ms = Some(info.delay_ms);
            }
            if !self.driving_timers.contains(&timer_id) {
                self.driving_timers.push_back(timer_id);
                if self.driving_timers.len() > DRIVING_TIMERS_KEPT {
                    self.driving_timers.pop_front();
                }
            }
            if let Some(gone) = &self.owner_gone {
                if info.created_t > gone.t && self.timer_created_after_owner_gone_t.is_none() {
                    self.timer_created_after_owner_gone_t = Some(info.created_t);
                }
            }
        }
        if let Some(gone) = &self.owner_gone {
            if t > gone.t {
                self.requests_after_owner_gone += 1;
            }
        }
        self.concurrent_chains = self.count_chains(timers);
        self.max_concurrent_chains = self.max_concurrent_chains.max(self.concurrent_chains);
    }

    /// Live timers that keep polling this operation: intervals that sent one
    /// of its requests, plus pending timeouts created by the callback of a
    /// timer that sent one (a `setTimeout` chain).
    fn count_chains(&self, timers: &TimerTable) -> u64 {
        let intervals = self
            .driving_timers
            .iter()
            .filter(|id| {
                timers.is_live(**id)
                    && timers
                        .get(**id)
                        .is_some_and(|info| info.kind == TimerKind::Interval)
            })
            .count();
        let pending_timeouts = timers
            .live()
            .filter(|(_, info)| info.kind == TimerKind::Timeout)
            .filter(|(_, info)| {
                info.parent
                    .is_some_and(|parent| self.driving_timers.contains(&parent))
            })
            .count();
        (intervals + pending_timeouts) as u64
    }

    fn record_end(
        &mut self,
        t: f64,
        ended: &RequestEnded,
        done: &[FieldMatch],
        failed: &[FieldMatch],
    ) {
        if !self.in_flight.remove(&ended.id) {
            return;
        }
        self.ended += 1;
        self.last_activity_t = self.last_activity_t.max(t);
        match &ended.outcome {
            RequestOutcome::Completed { status } => {
                self.last_http_status = Some(*status);
                if *status >= 400 {
                    self.errors += 1;
                }
            }
            RequestOutcome::Aborted => self.aborted += 1,
            RequestOutcome::Failed { .. } => self.errors += 1,
        }
        let RequestOutcome::Completed { status } = ended.outcome else {
            return;
        };
        if ended.response_fields.is_empty() {
            return;
        }
        if ended.response_fields == self.last_status {
            self.unchanged_run += 1;
        } else {
            self.unchanged_run = 1;
            self.last_status = ended.response_fields.clone();
        }
        if self.final_answer.is_some() || status >= 400 {
            return;
        }
        if done
            .iter()
            .any(|marker| marker.matches(&ended.response_fields))
        {
            self.final_answer = Some((PollState::Complete, t));
        } else if failed
            .iter()
            .any(|marker| marker.matches(&ended.response_fields))
        {
            self.final_answer = Some((PollState::Failed, t));
        }
    }
}

/// True for the HTTP methods a poll on an unconfigured URL can use.
fn is_safe_method(method: &str) -> bool {
    method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")
}
