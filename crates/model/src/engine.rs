//! The analysis engine: feeds records to the poll tracker, the request and
//! timer tables, the heap trend and the rules, and returns lifecycles, alerts and the
//! verdict on request.
//!
//! Live capture and replay run the same code: the core calls
//! [`Engine::ingest`] for each record as it is appended to the recording, and
//! a recording read back from disk is fed record by record in file order.
//! Time is always the record's `t` (seconds since the recording started),
//! never the wall clock, so replay gives the same lifecycles, alerts and
//! verdict as the live run. Time-based checks (stuck requests, stalls, poll
//! durations) run when `t` has advanced by [`CHECK_INTERVAL_S`] since the last
//! check, and on [`Engine::advance`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::polls::timers::{TimerInfo, TimerTable};
use crate::polls::{route_of, PollFlag, PollSummary, PollTracker};
use crate::record::{Alert, Header, NavigationKind, Record, RecordBody, Sample, Site};
use crate::requests::RequestTable;
use crate::rules::{self, AlertBook, Finding};
use crate::verdict::{GrowthEvidence, HeapTrend, PollEvidence, Verdict};

/// Seconds of recording time between two runs of the time-based checks.
pub const CHECK_INTERVAL_S: f64 = 1.0;

/// A lifecycle with no known interval that saw no request for this long no
/// longer counts as an active poll, seconds.
const IDLE_AFTER_S: f64 = 60.0;

/// Live timer count of the page while it stays above the warning threshold.
#[derive(Debug, Clone, Default)]
struct TimerTrend {
    last: Option<u64>,
    /// Since when the count has been above the threshold without going down.
    high_since: Option<f64>,
}

/// Counts at the first heap sample, to show what grew with the heap.
#[derive(Debug, Clone, Default)]
struct Baseline {
    timers_per_site: HashMap<Option<u32>, u64>,
    in_flight_per_endpoint: HashMap<String, u64>,
}

/// Everything the JSON output reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Recording time the summary was computed at, seconds.
    pub t: f64,
    pub polls: Vec<PollSummary>,
    /// Finished lifecycles no longer kept (see `polls.keep_finished`).
    pub polls_dropped: u64,
    pub alerts: Vec<Alert>,
    pub verdict: Verdict,
    pub live_timers: u64,
}

/// Analysis state of one recording.
#[derive(Debug, Clone)]
pub struct Engine {
    config: Config,
    page_url: String,
    route: String,
    sites: HashMap<u32, Site>,
    timers: TimerTable,
    requests: RequestTable,
    polls: PollTracker,
    heap: HeapTrend,
    alerts: AlertBook,
    timer_trend: TimerTrend,
    baseline: Option<Baseline>,
    now: f64,
    last_check: Option<f64>,
}

impl Engine {
    pub fn new(config: Config, header: &Header) -> Self {
        let page_url = header.target.url.clone();
        Engine {
            route: route_of(&page_url),
            page_url,
            sites: HashMap::new(),
            timers: TimerTable::default(),
            requests: RequestTable::new(config.requests.rate_window_s),
            polls: PollTracker::new(&config),
            heap: HeapTrend::new(config.verdict.clone(), config.heap.growth_window_s),
            alerts: AlertBook::new(config.alerts.repeat_after_s),
            timer_trend: TimerTrend::default(),
            baseline: None,
            now: 0.0,
            last_check: None,
            config,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds one record. Returns the alerts that are new, escalated, or firing
    /// again after a quiet spell, for the caller to show as they happen.
    pub fn ingest(&mut self, record: &Record) -> Vec<Alert> {
        let t = record.t;
        self.now = self.now.max(t);
        let mut findings = Vec::new();
        match &record.body {
            RecordBody::Sample(sample) => self.on_sample(t, sample, &mut findings),
            RecordBody::Navigation { url, navigation } => {
                self.on_navigation(t, url, *navigation, &mut findings)
            }
            RecordBody::AgentInjected { url, .. } => {
                self.page_url = url.clone();
                self.route = route_of(url);
            }
            RecordBody::Site(site) => {
                self.sites.insert(site.id, site.clone());
            }
            RecordBody::TimerCreated {
                id,
                timer,
                delay_ms,
                site,
                parent,
                ..
            } => {
                let info = TimerInfo {
                    kind: *timer,
                    delay_ms: *delay_ms,
                    site: *site,
                    parent: *parent,
                    created_t: t,
                };
                self.timers.created(*id, info);
            }
            RecordBody::TimerCleared { id, .. } => {
                self.timers.cleared(*id);
                self.polls.refresh_chains(&self.timers);
            }
            RecordBody::TimerFired { id, .. } => self.timers.fired(*id),
            RecordBody::RequestStarted(request) => {
                let endpoint = self.requests.started(t, request);
                let lifecycle = self
                    .polls
                    .request_started(t, request, &self.timers, &self.route);
                self.check_endpoint_load(&endpoint, &mut findings);
                if let Some(id) = lifecycle {
                    self.check_poll(id, &mut findings);
                }
            }
            RecordBody::RequestEnded(ended) => {
                let endpoint = self.requests.ended(t, ended);
                let lifecycle = self.polls.request_ended(t, ended);
                if let Some(endpoint) = endpoint {
                    self.check_request_outcomes(&endpoint, &mut findings);
                }
                if let Some(id) = lifecycle {
                    self.check_poll(id, &mut findings);
                }
            }
            RecordBody::PollSignal(signal) => {
                for id in self.polls.signal(t, signal, &self.route) {
                    self.check_poll(id, &mut findings);
                }
            }
            // Alerts in a recording were computed by an earlier run; they are
            // recomputed here so replay follows the current rules.
            RecordBody::Alert(_)
            | RecordBody::Gap { .. }
            | RecordBody::ControllerCreated { .. }
            | RecordBody::ControllerAborted { .. }
            | RecordBody::ControllerCollected { .. }
            | RecordBody::Network(_)
            | RecordBody::Marker { .. }
            | RecordBody::Snapshot(_)
            | RecordBody::Losses(_)
            | RecordBody::End { .. } => {}
        }
        if self
            .last_check
            .is_none_or(|last| t - last >= CHECK_INTERVAL_S)
        {
            self.periodic_checks(t, &mut findings);
        }
        self.raise_all(t, findings)
    }

    /// Runs the time-based checks at `now` without a new record, for a live
    /// front end whose page is quiet. A replay does not see these calls, so
    /// an alert they fire may carry an earlier `first_seen` and a higher
    /// `count` than in the replay; lifecycles and the verdict are the same.
    pub fn advance(&mut self, now: f64) -> Vec<Alert> {
        self.now = self.now.max(now);
        let mut findings = Vec::new();
        self.periodic_checks(self.now, &mut findings);
        self.raise_all(self.now, findings)
    }

    fn raise_all(&mut self, t: f64, findings: Vec<Finding>) -> Vec<Alert> {
        findings
            .into_iter()
            .filter_map(|finding| self.alerts.raise(t, finding))
            .collect()
    }

    fn on_sample(&mut self, t: f64, sample: &Sample, findings: &mut Vec<Finding>) {
        if self.baseline.is_none() {
            self.baseline = Some(Baseline {
                timers_per_site: self.timers.live_per_site().clone(),
                in_flight_per_endpoint: self.requests.in_flight_per_endpoint().clone(),
            });
        }
        self.heap.push(t, sample.heap_used, sample.after_gc);
        if let Some(limit) = sample.heap_limit {
            findings.extend(rules::heap_utilisation(
                &self.config.heap,
                sample.heap_used,
                limit,
            ));
        }
        if let Some(estimate) = self.heap.recent_slope() {
            findings.extend(rules::heap_growth(&self.config.heap, &estimate));
        }

        // The agent's count covers timers the engine may have missed (records
        // dropped under load); without the agent, the engine's own table.
        let live = sample
            .counts
            .as_ref()
            .map_or(self.timers.live_count(), |counts| counts.timers_live);
        let not_decreasing_for = self.update_timer_trend(t, live);
        findings.extend(rules::live_timers(
            &self.config.timers,
            live,
            not_decreasing_for,
        ));
    }

    /// Tracks how long the live timer count has stayed above the warning
    /// threshold without going down; returns that time in seconds.
    fn update_timer_trend(&mut self, t: f64, live: u64) -> f64 {
        let trend = &mut self.timer_trend;
        let decreased = trend.last.is_some_and(|last| live < last);
        trend.last = Some(live);
        if live <= self.config.timers.live_warning_over {
            trend.high_since = None;
            return 0.0;
        }
        if decreased || trend.high_since.is_none() {
            trend.high_since = Some(t);
        }
        trend.high_since.map_or(0.0, |since| t - since)
    }

    fn on_navigation(
        &mut self,
        t: f64,
        url: &str,
        kind: NavigationKind,
        findings: &mut Vec<Finding>,
    ) {
        let old_route = std::mem::replace(&mut self.route, route_of(url));
        self.page_url = url.to_owned();
        let touched = self.polls.navigated(t, kind, &old_route, &self.route);
        if matches!(kind, NavigationKind::Full | NavigationKind::Reload) {
            // A new document starts with no timers and no requests of its own.
            self.timers.clear_all();
            self.requests.clear_open();
        }
        for id in touched {
            self.check_poll(id, findings);
        }
    }

    fn check_endpoint_load(&mut self, endpoint: &str, findings: &mut Vec<Finding>) {
        let requests = &self.config.requests;
        findings.extend(rules::endpoint_concurrency(
            requests,
            endpoint,
            self.requests.in_flight(endpoint),
        ));
        let per_minute = self.requests.per_minute(endpoint, self.now);
        findings.extend(rules::endpoint_rate(requests, endpoint, per_minute));
    }

    fn check_request_outcomes(&mut self, endpoint: &str, findings: &mut Vec<Finding>) {
        let page = self.requests.page_ends(self.now);
        findings.extend(rules::abort_rate(
            &self.config.requests,
            page.aborted,
            page.ended,
        ));
        let counts = self.requests.endpoint_ends(endpoint, self.now);
        findings.extend(rules::error_rate(
            &self.config.requests,
            endpoint,
            counts.errors,
            counts.ended,
        ));
    }

    fn check_poll(&self, id: u64, findings: &mut Vec<Finding>) {
        if let Some(summary) = self.polls.summary(id, self.now, &self.sites) {
            findings.extend(rules::poll_findings(&self.config, &summary));
        }
    }

    fn periodic_checks(&mut self, now: f64, findings: &mut Vec<Finding>) {
        self.last_check = Some(now);
        for (endpoint, count, oldest) in self
            .requests
            .stuck(now, self.config.requests.open_critical_s)
        {
            findings.extend(rules::stuck_requests(
                &self.config.requests,
                &endpoint,
                count,
                oldest,
            ));
        }
        self.requests.prune(now);

        let mut active_polls = 0;
        for id in self.polls.active_ids() {
            let Some(summary) = self.polls.summary(id, now, &self.sites) else {
                continue;
            };
            // Without a known interval a silent lifecycle cannot be called
            // stalled, so it stops counting as polling after a minute.
            let recent = summary.expected_interval_s.is_some()
                || summary.in_flight > 0
                || now - summary.last_t <= IDLE_AFTER_S;
            let polling = summary.state == crate::polls::PollState::Active
                && !summary.flags.contains(&PollFlag::Stalled)
                && recent;
            if polling {
                active_polls += 1;
            }
            findings.extend(rules::poll_findings(&self.config, &summary));
        }
        findings.extend(rules::concurrent_polls(&self.config, active_polls));
        self.polls.sweep(now);
    }

    /// Returns every lifecycle kept, in start order.
    pub fn lifecycles(&self) -> Vec<PollSummary> {
        self.polls.summaries(self.now, &self.sites)
    }

    /// Returns every alert so far, merged per rule and subject.
    pub fn alerts(&self) -> &[Alert] {
        self.alerts.alerts()
    }

    /// Computes the leak verdict at `now_t`, with the lifecycles, timer sites and
    /// endpoints that grew with the heap as evidence.
    pub fn verdict(&self, now_t: f64) -> Verdict {
        let mut verdict = self.heap.verdict();
        let polls = self.polls.summaries(now_t.max(self.now), &self.sites);
        verdict.evidence.polls = polls
            .iter()
            .filter(|poll| {
                poll.flags
                    .iter()
                    .any(|flag| matches!(flag, PollFlag::Orphaned | PollFlag::Runaway))
            })
            .map(|poll| PollEvidence {
                operation: poll.operation.clone(),
                poll_type: poll.poll_type.clone(),
                flags: poll
                    .flags
                    .iter()
                    .map(|flag| flag.as_str().to_owned())
                    .collect(),
                attempts: poll.attempts,
                timer_site: poll.timer_site.clone(),
            })
            .collect();

        let baseline = self.baseline.clone().unwrap_or_default();
        let mut timer_sites: Vec<GrowthEvidence> = self
            .timers
            .live_per_site()
            .iter()
            .filter_map(|(site, now)| {
                let at_start = baseline.timers_per_site.get(site).copied().unwrap_or(0);
                let subject = site.map_or_else(
                    || "(unknown site)".to_owned(),
                    |site| crate::polls::site_label(&self.sites, site),
                );
                (*now > at_start).then_some(GrowthEvidence {
                    subject,
                    at_start,
                    now: *now,
                })
            })
            .collect();
        timer_sites.sort_by(|a, b| {
            (b.now - b.at_start)
                .cmp(&(a.now - a.at_start))
                .then(a.subject.cmp(&b.subject))
        });
        verdict.evidence.timer_sites = timer_sites;

        let mut endpoints: Vec<GrowthEvidence> = self
            .requests
            .in_flight_per_endpoint()
            .iter()
            .filter_map(|(endpoint, now)| {
                let at_start = baseline
                    .in_flight_per_endpoint
                    .get(endpoint)
                    .copied()
                    .unwrap_or(0);
                (*now > at_start).then(|| GrowthEvidence {
                    subject: endpoint.clone(),
                    at_start,
                    now: *now,
                })
            })
            .collect();
        endpoints.sort_by(|a, b| {
            (b.now - b.at_start)
                .cmp(&(a.now - a.at_start))
                .then(a.subject.cmp(&b.subject))
        });
        verdict.evidence.endpoints = endpoints;
        verdict
    }

    /// Polls, alerts and verdict at the time of the last record.
    pub fn summary(&self) -> Summary {
        Summary {
            t: self.now,
            polls: self.lifecycles(),
            polls_dropped: self.polls.finished_dropped(),
            alerts: self.alerts().to_vec(),
            verdict: self.verdict(self.now),
            live_timers: self.timers.live_count(),
        }
    }

    /// Recording time of the last record or `advance`, seconds.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Path of the page's current URL.
    pub fn route(&self) -> &str {
        &self.route
    }

    pub fn page_url(&self) -> &str {
        &self.page_url
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::{
        AlertLevel, BrowserInfo, LiveCounts, RequestApi, RequestEnded, RequestOutcome,
        RequestStarted, Settings, TargetInfo, TimerKind, FORMAT_VERSION,
    };
    use crate::rules::ids;
    use crate::verdict::{VerdictKind, BYTES_PER_MB};

    fn engine() -> Engine {
        let header = Header {
            format_version: FORMAT_VERSION,
            leakscope_version: "test".to_owned(),
            browser: BrowserInfo::default(),
            target: TargetInfo {
                url: "http://127.0.0.1:8080/editor".to_owned(),
                ..TargetInfo::default()
            },
            started_at_ms: 0.0,
            settings: Settings::default(),
        };
        Engine::new(Config::default(), &header)
    }

    fn sample(t: f64, heap_used: u64, limit: Option<u64>, timers_live: Option<u64>) -> Record {
        let counts = timers_live.map(|timers_live| LiveCounts {
            timers_live,
            ..LiveCounts::default()
        });
        let sample = Sample {
            heap_used,
            heap_total: heap_used,
            heap_limit: limit,
            counts,
            ..Sample::default()
        };
        Record {
            t,
            body: RecordBody::Sample(sample),
        }
    }

    fn request(t: f64, id: &str, url: &str, timer: Option<u64>) -> Record {
        let request = RequestStarted {
            id: id.to_owned(),
            api: RequestApi::Fetch,
            method: "GET".to_owned(),
            url: url.to_owned(),
            site: None,
            controller: None,
            signal_aborted: false,
            timer,
            body_fields: BTreeMap::new(),
            page_ms: 0.0,
        };
        Record {
            t,
            body: RecordBody::RequestStarted(request),
        }
    }

    fn ended(t: f64, id: &str, outcome: RequestOutcome) -> Record {
        let ended = RequestEnded {
            id: id.to_owned(),
            outcome,
            response_fields: BTreeMap::new(),
            page_ms: 0.0,
        };
        Record {
            t,
            body: RecordBody::RequestEnded(ended),
        }
    }

    #[test]
    fn utilisation_alert_merges_and_escalates() {
        let mut engine = engine();
        let limit = 1_000_000_000;
        let first = engine.ingest(&sample(0.0, 710_000_000, Some(limit), None));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].level, AlertLevel::Warning);
        assert!(engine
            .ingest(&sample(1.0, 720_000_000, Some(limit), None))
            .is_empty());
        let escalated = engine.ingest(&sample(2.0, 860_000_000, Some(limit), None));
        assert_eq!(escalated[0].level, AlertLevel::Critical);
        let alerts = engine.alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].count, 3);
        assert_eq!(alerts[0].rule, ids::HEAP_UTILISATION);
    }

    #[test]
    fn timers_not_decreasing_for_five_minutes() {
        let mut engine = engine();
        let mut fired = Vec::new();
        for t in 0..=299 {
            fired.extend(engine.ingest(&sample(f64::from(t), 1, None, Some(6))));
        }
        assert!(
            fired.iter().all(|alert| alert.level == AlertLevel::Warning),
            "{fired:#?}"
        );
        let at_limit = engine.ingest(&sample(300.0, 1, None, Some(6)));
        assert_eq!(
            at_limit.first().map(|alert| alert.level),
            Some(AlertLevel::Emergency)
        );
    }

    #[test]
    fn decreasing_timers_reset_the_clock() {
        let mut engine = engine();
        let mut fired = Vec::new();
        for t in 0..=400 {
            // The count drops once a minute, so it never stays flat for 5 minutes.
            let live = if t % 60 == 0 { 7 } else { 8 };
            fired.extend(engine.ingest(&sample(f64::from(t), 1, None, Some(live))));
        }
        assert!(
            fired
                .iter()
                .all(|alert| alert.level < AlertLevel::Emergency),
            "{fired:#?}"
        );
    }

    #[test]
    fn abort_rate_through_engine() {
        let mut engine = engine();
        let mut fired = Vec::new();
        for n in 0..10 {
            let t = f64::from(n);
            let id = format!("r{n}");
            fired.extend(engine.ingest(&request(t, &id, "http://127.0.0.1:8080/api/save", None)));
            let outcome = if n < 6 {
                RequestOutcome::Aborted
            } else {
                RequestOutcome::Completed { status: 200 }
            };
            fired.extend(engine.ingest(&ended(t + 0.5, &id, outcome)));
        }
        let abort = fired
            .iter()
            .find(|alert| alert.rule == ids::REQUESTS_ABORT_RATE)
            .expect("abort rate alert");
        assert_eq!(abort.level, AlertLevel::Emergency);
        assert!(
            abort
                .message
                .starts_with("60 % of requests aborted (6 of 10"),
            "{}",
            abort.message
        );
    }

    #[test]
    fn error_rate_through_engine() {
        let mut engine = engine();
        let mut fired = Vec::new();
        for n in 0..10 {
            let t = f64::from(n);
            let id = format!("r{n}");
            fired.extend(engine.ingest(&request(
                t,
                &id,
                "http://127.0.0.1:8080/api/save?x=1",
                None,
            )));
            let status = if n < 2 { 503 } else { 200 };
            fired.extend(engine.ingest(&ended(t + 0.5, &id, RequestOutcome::Completed { status })));
        }
        let errors = fired
            .iter()
            .find(|alert| alert.rule == ids::REQUESTS_ERROR_RATE)
            .expect("error rate alert");
        assert_eq!(errors.subject, "http://127.0.0.1:8080/api/save");
    }

    #[test]
    fn verdict_names_growing_timer_site_and_orphan() {
        let mut engine = engine();
        engine.ingest(&Record {
            t: 0.0,
            body: RecordBody::Site(Site {
                id: 4,
                url: "http://127.0.0.1:8080/panel.js".to_owned(),
                line: 3,
                column: 9,
                function: "startPoll".to_owned(),
                raw: String::new(),
            }),
        });
        engine.ingest(&sample(0.0, 50_000_000, None, None));
        let url = "http://127.0.0.1:8080/api/video/status?operationName=leak-1";
        for n in 0..120u32 {
            let t = f64::from(n);
            // Every 10 s a panel opens and closes, leaving one more interval.
            if n % 10 == 0 {
                let body = RecordBody::TimerCreated {
                    id: u64::from(n),
                    timer: TimerKind::Interval,
                    delay_ms: 1000.0,
                    site: Some(4),
                    parent: None,
                    page_ms: 0.0,
                };
                engine.ingest(&Record { t, body });
            }
            if n == 15 {
                let body = RecordBody::Navigation {
                    url: "http://127.0.0.1:8080/home".to_owned(),
                    navigation: NavigationKind::SameDocument,
                };
                engine.ingest(&Record { t, body });
            }
            engine.ingest(&request(t + 0.5, &format!("q{n}"), url, Some(0)));
            engine.ingest(&ended(
                t + 0.6,
                &format!("q{n}"),
                RequestOutcome::Completed { status: 200 },
            ));
            let heap = 50.0 * BYTES_PER_MB + t * 5.0 * BYTES_PER_MB / 60.0;
            engine.ingest(&sample(t + 0.9, heap as u64, None, None));
        }
        let verdict = engine.verdict(engine.now());
        assert_eq!(verdict.verdict, VerdictKind::Leak, "{}", verdict.reason);
        let slope = verdict.slope_mb_per_min.unwrap();
        assert!((slope - 5.0).abs() < 0.01, "slope {slope}");
        assert_eq!(verdict.evidence.polls.len(), 1);
        assert_eq!(verdict.evidence.polls[0].operation, "leak-1");
        assert_eq!(
            verdict.evidence.polls[0].flags,
            vec!["runaway".to_owned(), "orphaned".to_owned()]
        );
        assert_eq!(verdict.evidence.timer_sites.len(), 1);
        assert_eq!(
            verdict.evidence.timer_sites[0].subject,
            "startPoll (http://127.0.0.1:8080/panel.js:3:9)"
        );
        assert_eq!(verdict.evidence.timer_sites[0].at_start, 0);
        assert_eq!(verdict.evidence.timer_sites[0].now, 12);
    }

    #[test]
    fn summary_json_shape() {
        let mut engine = engine();
        engine.ingest(&request(
            1.0,
            "a",
            "http://127.0.0.1:8080/api/video/status?operationName=j-1",
            None,
        ));
        engine.ingest(&ended(1.1, "a", RequestOutcome::Completed { status: 200 }));
        let json = serde_json::to_value(engine.summary()).unwrap();
        let poll = &json["polls"][0];
        assert_eq!(poll["type"], "video");
        assert_eq!(poll["operation"], "j-1");
        assert_eq!(poll["attempts"], 1);
        assert_eq!(poll["state"], "active");
        assert!(poll["flags"].as_array().is_some());
        assert!(poll.get("timer_site").is_some());
        assert_eq!(json["verdict"]["verdict"], "inconclusive");
        assert!(json["verdict"].get("slope_mb_per_min").is_some());
        assert!(json["verdict"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("no heap samples"));
        assert!(json["alerts"].as_array().is_some());
    }
}
