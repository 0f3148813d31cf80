//! Alert rules and the alert book.
//!
//! Each rule is a pure function from measured values and thresholds to an
//! optional [`Finding`]: a level, a stable rule id, a subject and a message
//! that states what was seen, how much, the threshold, and what to check. The
//! [`AlertBook`] merges repeated findings of the same rule and subject into one
//! [`Alert`] (count, first and last seen). It returns a finding to the caller
//! only when it is new, when it escalates to a higher level, or when it fires
//! again after a quiet spell.
//!
//! Levels follow the editor team's monitoring document where it gives one.
//! Where it does not, Leakscope chooses: a poll that can never succeed
//! (`pre-aborted`) or that outlives its view (`orphaned`) is critical.
//! Duplicated, stalled and overlapping polls are warnings. A poll whose
//! response does not change is info, because long jobs respond "processing"
//! many times.

use std::collections::HashMap;

use crate::config::{Config, HeapRules, RequestRules, TimerRules};
use crate::polls::{PollFlag, PollState, PollSummary};
use crate::record::{Alert, AlertLevel};
use crate::verdict::{SlopeEstimate, BYTES_PER_MB};

/// Rule ids, stable across versions (scripts filter on them).
pub mod ids {
    pub const HEAP_UTILISATION: &str = "heap.utilisation";
    pub const HEAP_GROWTH: &str = "heap.growth";
    pub const TIMERS_LIVE: &str = "timers.live";
    pub const REQUESTS_CONCURRENT: &str = "requests.concurrent";
    pub const REQUESTS_STUCK: &str = "requests.stuck";
    pub const REQUESTS_RATE: &str = "requests.rate";
    pub const REQUESTS_ABORT_RATE: &str = "requests.abort-rate";
    pub const REQUESTS_ERROR_RATE: &str = "requests.error-rate";
    pub const POLLS_CONCURRENT: &str = "polls.concurrent";
    pub const POLL_FREQUENCY: &str = "poll.frequency";
    pub const POLL_DURATION: &str = "poll.duration";
    pub const POLL_RUNAWAY: &str = "poll.runaway";
    pub const POLL_ORPHANED: &str = "poll.orphaned";
    pub const POLL_DUPLICATED: &str = "poll.duplicated";
    pub const POLL_STALLED: &str = "poll.stalled";
    pub const POLL_OVERLAPPING: &str = "poll.overlapping";
    pub const POLL_NO_PROGRESS: &str = "poll.no-progress";
    pub const POLL_PRE_ABORTED: &str = "poll.pre-aborted";
}

/// Subject of alerts about the whole page.
pub const PAGE_SUBJECT: &str = "page";

/// One rule firing, before it is merged into an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub level: AlertLevel,
    pub rule: &'static str,
    pub subject: String,
    pub message: String,
}

impl Finding {
    fn new(
        level: AlertLevel,
        rule: &'static str,
        subject: impl Into<String>,
        message: String,
    ) -> Self {
        Finding {
            level,
            rule,
            subject: subject.into(),
            message,
        }
    }
}

/// Alerts so far, one per rule and subject.
#[derive(Debug, Clone, Default)]
pub struct AlertBook {
    alerts: Vec<Alert>,
    index: HashMap<(String, String), usize>,
    repeat_after_s: f64,
}

impl AlertBook {
    pub fn new(repeat_after_s: f64) -> Self {
        AlertBook {
            alerts: Vec::new(),
            index: HashMap::new(),
            repeat_after_s,
        }
    }

    /// Merges a finding seen at `t`. Returns the alert when the caller should
    /// show it: new, escalated, or firing again after `repeat_after_s` quiet.
    pub fn raise(&mut self, t: f64, finding: Finding) -> Option<Alert> {
        let key = (finding.rule.to_owned(), finding.subject.clone());
        let Some(&index) = self.index.get(&key) else {
            let alert = Alert {
                level: finding.level,
                rule: finding.rule.to_owned(),
                subject: finding.subject,
                message: finding.message,
                first_seen: t,
                last_seen: t,
                count: 1,
            };
            self.index.insert(key, self.alerts.len());
            self.alerts.push(alert.clone());
            return Some(alert);
        };
        let alert = &mut self.alerts[index];
        let escalated = finding.level > alert.level;
        let repeated = t - alert.last_seen > self.repeat_after_s;
        alert.count += 1;
        alert.last_seen = t;
        if finding.level >= alert.level {
            alert.level = finding.level;
            alert.message = finding.message;
        }
        (escalated || repeated).then(|| alert.clone())
    }

    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }
}

/// Returns the highest level whose threshold `value` exceeds.
fn level_over(value: f64, thresholds: &[(f64, AlertLevel)]) -> Option<(AlertLevel, f64)> {
    thresholds
        .iter()
        .rev()
        .find(|(threshold, _)| value > *threshold)
        .map(|(threshold, level)| (*level, *threshold))
}

/// Heap used as a share of the heap limit.
pub fn heap_utilisation(rules: &HeapRules, used: u64, limit: u64) -> Option<Finding> {
    if limit == 0 {
        return None;
    }
    let pct = used as f64 / limit as f64 * 100.0;
    let (level, threshold) = level_over(
        pct,
        &[
            (rules.utilisation_warning_pct, AlertLevel::Warning),
            (rules.utilisation_critical_pct, AlertLevel::Critical),
            (rules.utilisation_emergency_pct, AlertLevel::Emergency),
        ],
    )?;
    let message = format!(
        "JS heap at {pct:.1} % of its limit ({:.1} of {:.1} MB), over the {threshold} % threshold; take a heap snapshot and look for what grew",
        used as f64 / BYTES_PER_MB,
        limit as f64 / BYTES_PER_MB
    );
    Some(Finding::new(
        level,
        ids::HEAP_UTILISATION,
        PAGE_SUBJECT,
        message,
    ))
}

/// Heap growth rate over the recent window.
pub fn heap_growth(rules: &HeapRules, estimate: &SlopeEstimate) -> Option<Finding> {
    let rate = estimate.slope_mb_per_min();
    let (level, threshold) = level_over(
        rate,
        &[
            (rules.growth_warning_mb_per_min, AlertLevel::Warning),
            (rules.growth_emergency_mb_per_min, AlertLevel::Emergency),
        ],
    )?;
    let message = format!(
        "JS heap floor growing {rate:.1} MB/min over the last {:.0} s, over the {threshold} MB/min threshold; check live timers and poll lifecycles started in that time",
        rules.growth_window_s
    );
    Some(Finding::new(level, ids::HEAP_GROWTH, PAGE_SUBJECT, message))
}

/// Live timers of the page; `not_decreasing_for_s` is how long the count has
/// stayed above the warning threshold without going down.
pub fn live_timers(rules: &TimerRules, live: u64, not_decreasing_for_s: f64) -> Option<Finding> {
    if live > rules.live_warning_over && not_decreasing_for_s >= rules.not_decreasing_emergency_s {
        let message = format!(
            "{live} live timers, and the count has not gone down for {not_decreasing_for_s:.0} s (limit {:.0} s); timers are created and never cleared: check the timer sites",
            rules.not_decreasing_emergency_s
        );
        return Some(Finding::new(
            AlertLevel::Emergency,
            ids::TIMERS_LIVE,
            PAGE_SUBJECT,
            message,
        ));
    }
    let (level, threshold) = level_over(
        live as f64,
        &[
            (rules.live_warning_over as f64, AlertLevel::Warning),
            (rules.live_critical_over as f64, AlertLevel::Critical),
        ],
    )?;
    let message = format!(
        "{live} live timers on the page, over the threshold of {threshold}; check which sites created them and whether their cleanup clears them"
    );
    Some(Finding::new(level, ids::TIMERS_LIVE, PAGE_SUBJECT, message))
}

pub fn endpoint_concurrency(
    rules: &RequestRules,
    endpoint: &str,
    in_flight: u64,
) -> Option<Finding> {
    if in_flight <= rules.concurrent_per_endpoint_warning_over {
        return None;
    }
    let message = format!(
        "{in_flight} requests in flight to {endpoint}, over the threshold of {}; a timer may send new requests before the old ones end",
        rules.concurrent_per_endpoint_warning_over
    );
    Some(Finding::new(
        AlertLevel::Warning,
        ids::REQUESTS_CONCURRENT,
        endpoint,
        message,
    ))
}

pub fn endpoint_rate(rules: &RequestRules, endpoint: &str, per_minute: u64) -> Option<Finding> {
    if per_minute <= rules.per_minute_warning_over {
        return None;
    }
    let message = format!(
        "{per_minute} requests to {endpoint} in the last minute, over the threshold of {}; look for duplicated or too fast polls",
        rules.per_minute_warning_over
    );
    Some(Finding::new(
        AlertLevel::Warning,
        ids::REQUESTS_RATE,
        endpoint,
        message,
    ))
}

/// Requests open longer than the limit: `count` of them, the oldest `oldest_s` old.
pub fn stuck_requests(
    rules: &RequestRules,
    endpoint: &str,
    count: u64,
    oldest_s: f64,
) -> Option<Finding> {
    if count == 0 || oldest_s <= rules.open_critical_s {
        return None;
    }
    let message = format!(
        "{count} request(s) to {endpoint} open longer than {:.0} s, the oldest for {oldest_s:.0} s; the server may hang, and the request has no timeout or abort",
        rules.open_critical_s
    );
    Some(Finding::new(
        AlertLevel::Critical,
        ids::REQUESTS_STUCK,
        endpoint,
        message,
    ))
}

/// Share of the page's ended requests that were aborted.
pub fn abort_rate(rules: &RequestRules, aborted: u64, ended: u64) -> Option<Finding> {
    if ended < rules.abort_rate_min_requests || ended == 0 {
        return None;
    }
    let pct = aborted as f64 / ended as f64 * 100.0;
    if pct <= rules.abort_rate_over_pct {
        return None;
    }
    let message = format!(
        "{pct:.0} % of requests aborted ({aborted} of {ended} in the last {:.0} s), over the {} % threshold; check for navigation that cancels work, or a reused AbortController",
        rules.rate_window_s, rules.abort_rate_over_pct
    );
    Some(Finding::new(
        rules.abort_rate_level,
        ids::REQUESTS_ABORT_RATE,
        PAGE_SUBJECT,
        message,
    ))
}

/// Share of an endpoint's ended requests that failed or got HTTP 400+.
pub fn error_rate(
    rules: &RequestRules,
    endpoint: &str,
    errors: u64,
    ended: u64,
) -> Option<Finding> {
    if ended < rules.error_rate_min_requests || ended == 0 {
        return None;
    }
    let pct = errors as f64 / ended as f64 * 100.0;
    if pct <= rules.error_rate_over_pct {
        return None;
    }
    let message = format!(
        "{pct:.0} % of requests to {endpoint} failed ({errors} of {ended} in the last {:.0} s), over the {} % threshold; check the server and whether the page retries without backing off",
        rules.rate_window_s, rules.error_rate_over_pct
    );
    Some(Finding::new(
        rules.error_rate_level,
        ids::REQUESTS_ERROR_RATE,
        endpoint,
        message,
    ))
}

pub fn concurrent_polls(config: &Config, active: u64) -> Option<Finding> {
    let rules = &config.polls;
    let (level, threshold) = level_over(
        active as f64,
        &[
            (rules.concurrent_warning_over as f64, AlertLevel::Warning),
            (rules.concurrent_critical_over as f64, AlertLevel::Critical),
        ],
    )?;
    let message = format!(
        "{active} poll lifecycles active at once, over the threshold of {threshold}; check for polls that outlive their view or are started twice"
    );
    Some(Finding::new(
        level,
        ids::POLLS_CONCURRENT,
        PAGE_SUBJECT,
        message,
    ))
}

/// Subject of a poll alert: operation and endpoint.
pub fn poll_subject(poll: &PollSummary) -> String {
    format!("{} ({})", poll.operation, poll.endpoint)
}

/// Evaluates every rule about one lifecycle.
pub fn poll_findings(config: &Config, poll: &PollSummary) -> Vec<Finding> {
    let subject = poll_subject(poll);
    let op = &poll.operation;
    let timer = poll.timer_site.as_deref().unwrap_or("an unknown site");
    let mut findings = Vec::new();
    let mut push = |level, rule, message: String| {
        findings.push(Finding::new(level, rule, subject.clone(), message))
    };

    if poll.flags.contains(&PollFlag::Runaway) {
        push(
            AlertLevel::Critical,
            ids::POLL_RUNAWAY,
            format!(
                "{} poll {op} made {} attempts, past its limit of {}; the stop condition never matched: check the done/failed response fields and the attempt cap",
                poll.poll_type, poll.attempts, poll.max_attempts
            ),
        );
    }
    if poll.flags.contains(&PollFlag::Orphaned) {
        let gone = poll.owner_gone.as_ref();
        let reason = gone.map_or("its view went away", |gone| gone.reason.as_str());
        let since = gone.map_or(String::new(), |gone| format!(" at {:.1} s", gone.t));
        let late_timer = poll
            .timer_created_after_owner_gone_t
            .map_or(String::new(), |t| {
                format!("; a timer created at {t:.1} s, after that, keeps it going")
            });
        push(
            AlertLevel::Critical,
            ids::POLL_ORPHANED,
            format!(
                "poll {op} kept polling after {reason}{since}: {} request(s) since, driven by a timer from {timer}{late_timer}; clear the timer and abort the request in the cleanup, and check a cancelled flag before rescheduling",
                poll.requests_after_owner_gone
            ),
        );
    }
    if poll.flags.contains(&PollFlag::Duplicated) {
        push(
            AlertLevel::Warning,
            ids::POLL_DUPLICATED,
            format!(
                "{} concurrent poll chains for {op} ({} live now), all from {timer}; the effect starts a poller per mount without clearing the old one",
                poll.max_concurrent_chains, poll.concurrent_chains
            ),
        );
    }
    if poll.flags.contains(&PollFlag::Stalled) {
        let expected = poll.expected_interval_s.unwrap_or(0.0);
        push(
            AlertLevel::Warning,
            ids::POLL_STALLED,
            format!(
                "poll {op} stopped after {} attempt(s) without a final response: no request since {:.1} s, {} times its expected interval of {expected:.1} s; check that the next poll is scheduled",
                poll.attempts, poll.last_t, config.polls.stall_cadences
            ),
        );
    }
    if poll.flags.contains(&PollFlag::Overlapping) {
        push(
            AlertLevel::Warning,
            ids::POLL_OVERLAPPING,
            format!(
                "poll {op} sent requests while earlier ones were still in flight (up to {} at once, {} now); schedule the next poll after the previous one settles, and give requests a timeout",
                poll.max_in_flight, poll.in_flight
            ),
        );
    }
    if poll.flags.contains(&PollFlag::NoProgress) {
        push(
            AlertLevel::Info,
            ids::POLL_NO_PROGRESS,
            format!(
                "poll {op} got the same response {} times in a row (limit {}); the job may be stuck on the server",
                poll.unchanged_responses, config.polls.no_progress_attempts
            ),
        );
    }
    if poll.flags.contains(&PollFlag::PreAborted) {
        push(
            AlertLevel::Critical,
            ids::POLL_PRE_ABORTED,
            format!(
                "poll {op}: {} attempt(s) started with an already-aborted signal and never reached the server; an AbortController is reused after abort(): create one per request",
                poll.pre_aborted
            ),
        );
    }
    if let Some(cadence) = poll.cadence_s.filter(|cadence| *cadence > 0.0) {
        let per_s = 1.0 / cadence;
        let active = poll.state == PollState::Active && !poll.flags.contains(&PollFlag::Stalled);
        // The cadence is measured between request starts, which jitter by a few
        // milliseconds around the page's delay: a poll every 1000 ms often shows
        // a median of 998 ms. The margin keeps that from reading as "over 1/s".
        let limit = config.polls.frequency_warning_per_s * FREQUENCY_JITTER_MARGIN;
        if active && poll.attempts >= config.polls.frequency_min_attempts.max(3) && per_s > limit {
            push(
                AlertLevel::Warning,
                ids::POLL_FREQUENCY,
                format!(
                    "poll {op} runs {per_s:.1} times per second, over the threshold of {}; check for duplicated pollers or a missing delay",
                    config.polls.frequency_warning_per_s
                ),
            );
        }
    }
    if let Some(finding) = poll_duration(config, poll) {
        findings.push(finding);
    }
    findings
}

/// Factor over the configured poll frequency before `poll.frequency` fires,
/// because cadences measured from request starts jitter around the page's delay.
const FREQUENCY_JITTER_MARGIN: f64 = 1.05;

fn poll_duration(config: &Config, poll: &PollSummary) -> Option<Finding> {
    if !matches!(poll.state, PollState::Active | PollState::Timeout) {
        return None;
    }
    let limits = config.limits_for(&poll.poll_type);
    let mut thresholds = Vec::new();
    if let Some(warning) = limits.warning_after_s {
        thresholds.push((warning, AlertLevel::Warning));
    }
    if let Some(limit) = limits.limit_s {
        thresholds.push((limit, AlertLevel::Critical));
    }
    let (level, threshold) = level_over(poll.duration_s, &thresholds)?;
    let message = format!(
        "{} poll {} has run {:.0} s without a final response, over the {threshold:.0} s threshold; the job may have failed without saying so, or the poll should time out",
        poll.poll_type, poll.operation, poll.duration_s
    );
    Some(Finding::new(
        level,
        ids::POLL_DURATION,
        poll_subject(poll),
        message,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level_of(finding: Option<Finding>) -> Option<AlertLevel> {
        finding.map(|finding| finding.level)
    }

    #[test]
    fn utilisation_boundaries() {
        let rules = HeapRules::default();
        assert_eq!(level_of(heap_utilisation(&rules, 700, 1000)), None);
        assert_eq!(
            level_of(heap_utilisation(&rules, 701, 1000)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(heap_utilisation(&rules, 850, 1000)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(heap_utilisation(&rules, 851, 1000)),
            Some(AlertLevel::Critical)
        );
        assert_eq!(
            level_of(heap_utilisation(&rules, 950, 1000)),
            Some(AlertLevel::Critical)
        );
        assert_eq!(
            level_of(heap_utilisation(&rules, 951, 1000)),
            Some(AlertLevel::Emergency)
        );
        assert_eq!(level_of(heap_utilisation(&rules, 951, 0)), None);
    }

    fn slope_mb_per_min(rate: f64) -> SlopeEstimate {
        let per_s = rate * BYTES_PER_MB / 60.0;
        SlopeEstimate {
            slope: per_s,
            low: per_s,
            high: per_s,
            points: 12,
        }
    }

    #[test]
    fn growth_boundaries() {
        let rules = HeapRules::default();
        assert_eq!(level_of(heap_growth(&rules, &slope_mb_per_min(9.99))), None);
        assert_eq!(
            level_of(heap_growth(&rules, &slope_mb_per_min(10.01))),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(heap_growth(&rules, &slope_mb_per_min(49.99))),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(heap_growth(&rules, &slope_mb_per_min(50.01))),
            Some(AlertLevel::Emergency)
        );
    }

    #[test]
    fn timer_boundaries() {
        let rules = TimerRules::default();
        assert_eq!(level_of(live_timers(&rules, 5, 0.0)), None);
        assert_eq!(
            level_of(live_timers(&rules, 6, 0.0)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(live_timers(&rules, 10, 0.0)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(live_timers(&rules, 11, 0.0)),
            Some(AlertLevel::Critical)
        );
        assert_eq!(
            level_of(live_timers(&rules, 6, 299.0)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(live_timers(&rules, 6, 300.0)),
            Some(AlertLevel::Emergency)
        );
        assert_eq!(level_of(live_timers(&rules, 5, 1000.0)), None);
    }

    #[test]
    fn request_boundaries() {
        let rules = RequestRules::default();
        assert_eq!(level_of(endpoint_concurrency(&rules, "/a", 10)), None);
        assert_eq!(
            level_of(endpoint_concurrency(&rules, "/a", 11)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(level_of(endpoint_rate(&rules, "/a", 100)), None);
        assert_eq!(
            level_of(endpoint_rate(&rules, "/a", 101)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(level_of(stuck_requests(&rules, "/a", 1, 120.0)), None);
        assert_eq!(
            level_of(stuck_requests(&rules, "/a", 1, 120.5)),
            Some(AlertLevel::Critical)
        );
    }

    #[test]
    fn abort_rate_boundaries() {
        let rules = RequestRules::default();
        assert_eq!(
            level_of(abort_rate(&rules, 5, 10)),
            None,
            "50 % is not over 50 %"
        );
        assert_eq!(
            level_of(abort_rate(&rules, 6, 10)),
            Some(AlertLevel::Emergency)
        );
        assert_eq!(
            level_of(abort_rate(&rules, 9, 9)),
            None,
            "under the minimum count"
        );
    }

    #[test]
    fn error_rate_boundaries() {
        let rules = RequestRules::default();
        assert_eq!(
            level_of(error_rate(&rules, "/a", 1, 10)),
            None,
            "10 % is not over 10 %"
        );
        assert_eq!(
            level_of(error_rate(&rules, "/a", 2, 19)),
            Some(AlertLevel::Emergency)
        );
        assert_eq!(
            level_of(error_rate(&rules, "/a", 9, 9)),
            None,
            "under the minimum count"
        );
    }

    #[test]
    fn concurrent_poll_boundaries() {
        let config = Config::default();
        assert_eq!(level_of(concurrent_polls(&config, 5)), None);
        assert_eq!(
            level_of(concurrent_polls(&config, 6)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(concurrent_polls(&config, 10)),
            Some(AlertLevel::Warning)
        );
        assert_eq!(
            level_of(concurrent_polls(&config, 11)),
            Some(AlertLevel::Critical)
        );
    }

    fn finding(level: AlertLevel) -> Finding {
        Finding::new(
            level,
            ids::HEAP_UTILISATION,
            PAGE_SUBJECT,
            format!("{level:?}"),
        )
    }

    #[test]
    fn book_merges_repeats() {
        let mut book = AlertBook::new(300.0);
        assert!(book.raise(1.0, finding(AlertLevel::Warning)).is_some());
        assert!(book.raise(2.0, finding(AlertLevel::Warning)).is_none());
        assert!(book.raise(3.0, finding(AlertLevel::Warning)).is_none());
        let alert = &book.alerts()[0];
        assert_eq!(alert.count, 3);
        assert_eq!(alert.first_seen, 1.0);
        assert_eq!(alert.last_seen, 3.0);
        assert_eq!(book.alerts().len(), 1);
    }

    #[test]
    fn book_reports_escalation_once() {
        let mut book = AlertBook::new(300.0);
        book.raise(1.0, finding(AlertLevel::Warning));
        let escalated = book
            .raise(2.0, finding(AlertLevel::Critical))
            .expect("escalation is reported");
        assert_eq!(escalated.level, AlertLevel::Critical);
        assert!(book.raise(3.0, finding(AlertLevel::Warning)).is_none());
        assert_eq!(book.alerts()[0].level, AlertLevel::Critical);
        assert_eq!(book.alerts()[0].message, "Critical");
    }

    #[test]
    fn book_repeats_after_quiet_spell() {
        let mut book = AlertBook::new(300.0);
        book.raise(0.0, finding(AlertLevel::Warning));
        assert!(book.raise(300.0, finding(AlertLevel::Warning)).is_none());
        assert!(book.raise(600.5, finding(AlertLevel::Warning)).is_some());
    }
}
