//! Poll lifecycle scenarios as record streams, run through the whole engine.
//! Each stream copies the timeline of a real polling bug (zombie timeout
//! chains, pollers multiplied by remounts, hanging servers, polls that outlive
//! a route) with exact times, so the expected numbers are exact too.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::engine::Engine;
use crate::polls::{PollFlag, PollSource, PollState, PollSummary};
use crate::record::*;
use crate::rules::ids;

const ORIGIN: &str = "http://127.0.0.1:8080";

fn header(page: &str) -> Header {
    Header {
        format_version: FORMAT_VERSION,
        leakscope_version: "test".to_owned(),
        browser: BrowserInfo::default(),
        target: TargetInfo {
            url: format!("{ORIGIN}{page}"),
            ..TargetInfo::default()
        },
        started_at_ms: 0.0,
        settings: Settings::default(),
    }
}

fn status_url(op: &str) -> String {
    format!("{ORIGIN}/api/video/status?operationName={op}")
}

/// Builds a record stream in time order.
#[derive(Default)]
struct Script {
    records: Vec<Record>,
}

impl Script {
    fn push(&mut self, t: f64, body: RecordBody) {
        self.records.push(Record { t, body });
    }

    fn site(&mut self, id: u32, function: &str, url: &str, line: u32) {
        let site = Site {
            id,
            url: url.to_owned(),
            line,
            column: 5,
            function: function.to_owned(),
            raw: String::new(),
        };
        self.push(0.0, RecordBody::Site(site));
    }

    fn timer(&mut self, t: f64, id: u64, timer: TimerKind, delay_ms: f64, site: u32) {
        self.push(
            t,
            RecordBody::TimerCreated {
                id,
                timer,
                delay_ms,
                site: Some(site),
                parent: None,
                page_ms: 0.0,
            },
        );
    }

    fn child_timer(&mut self, t: f64, id: u64, delay_ms: f64, site: u32, parent: u64) {
        let body = RecordBody::TimerCreated {
            id,
            timer: TimerKind::Timeout,
            delay_ms,
            site: Some(site),
            parent: Some(parent),
            page_ms: 0.0,
        };
        self.push(t, body);
    }

    fn fired(&mut self, t: f64, id: u64) {
        self.push(t, RecordBody::TimerFired { id, page_ms: 0.0 });
    }

    fn cleared(&mut self, t: f64, id: u64) {
        self.push(
            t,
            RecordBody::TimerCleared {
                id,
                site: None,
                page_ms: 0.0,
            },
        );
    }

    fn request(&mut self, t: f64, id: &str, url: &str, timer: Option<u64>) {
        self.request_with(t, id, url, timer, false);
    }

    fn request_with(
        &mut self,
        t: f64,
        id: &str,
        url: &str,
        timer: Option<u64>,
        signal_aborted: bool,
    ) {
        let request = RequestStarted {
            id: id.to_owned(),
            api: RequestApi::Fetch,
            method: "GET".to_owned(),
            url: url.to_owned(),
            site: Some(99),
            controller: None,
            signal_aborted,
            timer,
            body_fields: BTreeMap::new(),
            page_ms: 0.0,
        };
        self.push(t, RecordBody::RequestStarted(request));
    }

    fn response(&mut self, t: f64, id: &str, fields: &[(&str, &str)]) {
        self.end(t, id, RequestOutcome::Completed { status: 200 }, fields);
    }

    fn end(&mut self, t: f64, id: &str, outcome: RequestOutcome, fields: &[(&str, &str)]) {
        let ended = RequestEnded {
            id: id.to_owned(),
            outcome,
            response_fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            page_ms: 0.0,
        };
        self.push(t, RecordBody::RequestEnded(ended));
    }

    fn signal(&mut self, t: f64, signal: PollSignalKind, operation: &str, reason: Option<&str>) {
        let signal = PollSignal {
            signal,
            operation: operation.to_owned(),
            poll_type: Some("video".to_owned()),
            reason: reason.map(str::to_owned),
            source: "api".to_owned(),
            attempts: None,
            age_ms: None,
        };
        self.push(t, RecordBody::PollSignal(signal));
    }

    fn navigate(&mut self, t: f64, path: &str, navigation: NavigationKind) {
        self.push(
            t,
            RecordBody::Navigation {
                url: format!("{ORIGIN}{path}"),
                navigation,
            },
        );
    }

    /// Sorts by time, keeping insertion order for equal times.
    fn sorted(mut self) -> Vec<Record> {
        self.records.sort_by(|a, b| a.t.total_cmp(&b.t));
        self.records
    }
}

/// Runs records through a new engine; returns it and every alert it returned.
fn run(config: Config, page: &str, records: &[Record]) -> (Engine, Vec<Alert>) {
    let mut engine = Engine::new(config, &header(page));
    let mut fired = Vec::new();
    for record in records {
        fired.extend(engine.ingest(record));
    }
    (engine, fired)
}

fn only_poll(engine: &Engine, operation: &str) -> PollSummary {
    let matching: Vec<PollSummary> = engine
        .lifecycles()
        .into_iter()
        .filter(|poll| poll.operation == operation)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "lifecycles of {operation}: {matching:#?}"
    );
    matching.into_iter().next().unwrap()
}

fn alert<'a>(alerts: &'a [Alert], rule: &str) -> Option<&'a Alert> {
    alerts.iter().find(|alert| alert.rule == rule)
}

/// The zombie chain: each request takes 2 s and the next poll is scheduled
/// 1 s after the response, from the response handler. The view unmounts at
/// t = 4 s while request #2 (3 s to 5 s) is in flight.
fn zombie(bug: bool) -> Vec<Record> {
    let url = status_url("zombie-1");
    let mut script = Script::default();
    script.site(1, "poll", &format!("{ORIGIN}/zombie.js"), 20);
    script.request(0.0, "r1", &url, None);
    script.response(2.0, "r1", &[("done", "false")]);
    script.timer(2.0, 1, TimerKind::Timeout, 1000.0, 1);
    script.fired(3.0, 1);
    script.request(3.0, "r2", &url, Some(1));
    script.signal(4.0, PollSignalKind::Unmount, "zombie-1", None);
    // The cleanup clears the stored timeout, which has already fired.
    script.cleared(4.0, 1);
    if !bug {
        script.end(4.0, "r2", RequestOutcome::Aborted, &[]);
        return script.sorted();
    }
    script.response(5.0, "r2", &[("done", "false")]);
    let mut created = 5.0;
    let mut timer = 2;
    while created + 1.0 <= 34.0 {
        let start = created + 1.0;
        let id = format!("r{}", timer + 1);
        script.timer(created, timer, TimerKind::Timeout, 1000.0, 1);
        script.fired(start, timer);
        script.request(start, &id, &url, Some(timer));
        script.response(start + 2.0, &id, &[("done", "false")]);
        created = start + 2.0;
        timer += 1;
    }
    script.sorted()
}

#[test]
fn zombie_chain_is_orphaned() {
    let (engine, fired) = run(Config::default(), "/zombie.html", &zombie(true));
    let poll = only_poll(&engine, "zombie-1");
    assert!(poll.flags.contains(&PollFlag::Orphaned), "{:?}", poll.flags);
    assert_eq!(poll.requests_after_owner_gone, 10);
    assert_eq!(poll.timer_created_after_owner_gone_t, Some(5.0));
    assert_eq!(poll.owner_gone.as_ref().map(|gone| gone.t), Some(4.0));
    assert_eq!(poll.state, PollState::Active);
    assert_eq!(poll.attempts, 12);
    assert_eq!(
        poll.timer_site.as_deref(),
        Some("poll (http://127.0.0.1:8080/zombie.js:20:5)")
    );
    let orphaned = alert(&fired, ids::POLL_ORPHANED).expect("orphaned alert fired");
    assert_eq!(orphaned.level, AlertLevel::Critical);
    assert!(
        orphaned.message.contains("a timer created at 5.0 s"),
        "{}",
        orphaned.message
    );
    assert!(!poll.flags.contains(&PollFlag::Duplicated));
    assert!(!poll.flags.contains(&PollFlag::Overlapping));
}

#[test]
fn zombie_fixed_is_not_flagged() {
    let (mut engine, fired) = run(Config::default(), "/zombie.html", &zombie(false));
    engine.advance(40.0);
    let poll = only_poll(&engine, "zombie-1");
    assert!(poll.flags.is_empty(), "{:?}", poll.flags);
    assert_eq!(poll.requests_after_owner_gone, 0);
    assert_eq!(poll.aborted, 1);
    assert_eq!(poll.state, PollState::Stopped);
    assert!(fired.is_empty(), "{fired:#?}");
}

/// `dup-1` polled by intervals of 1000 ms created at each mount; `leaky`
/// intervals are never cleared, so three StrictMode mounts leave six.
fn duplicated(leaky: bool) -> Vec<Record> {
    let url = status_url("dup-1");
    let mut script = Script::default();
    script.site(2, "usePoller", &format!("{ORIGIN}/dup.js"), 8);
    let mut live: Vec<(u64, f64)> = Vec::new();
    let mut next_id = 1;
    for mount in 0..3 {
        let mount_t = f64::from(mount) * 3.0;
        if !leaky {
            for (id, _) in live.drain(..) {
                script.cleared(mount_t, id);
            }
        }
        // StrictMode runs the effect twice: mount, cleanup, mount.
        for run in 0..2 {
            let created = mount_t + f64::from(run) * 0.01;
            script.timer(created, next_id, TimerKind::Interval, 1000.0, 2);
            if !leaky && run == 0 {
                script.cleared(created + 0.001, next_id);
            } else {
                live.push((next_id, created));
            }
            next_id += 1;
        }
    }
    let end = 16.5;
    let mut request = 0;
    let mut starts: Vec<(f64, u64)> = Vec::new();
    for (id, created) in &live {
        let mut t = created + 1.0;
        while t <= end {
            starts.push((t, *id));
            t += 1.0;
        }
    }
    if !leaky {
        // The cleared intervals of the earlier mounts fired until cleared.
        for (t, id) in [(1.01, 2), (2.01, 2), (4.01, 4), (5.01, 4)] {
            starts.push((t, id));
        }
    }
    starts.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (t, id) in starts {
        request += 1;
        let name = format!("d{request}");
        script.request(t, &name, &url, Some(id));
        script.response(t + 0.002, &name, &[("done", "false")]);
    }
    script.sorted()
}

#[test]
fn six_intervals_are_duplicated() {
    let (engine, fired) = run(Config::default(), "/dup.html", &duplicated(true));
    let poll = only_poll(&engine, "dup-1");
    assert!(
        poll.flags.contains(&PollFlag::Duplicated),
        "{:?}",
        poll.flags
    );
    assert_eq!(poll.max_concurrent_chains, 6);
    assert_eq!(poll.concurrent_chains, 6);
    let duplicated = alert(&fired, ids::POLL_DUPLICATED).expect("duplicated alert fired");
    let message = &engine
        .alerts()
        .iter()
        .find(|a| a.rule == ids::POLL_DUPLICATED)
        .unwrap()
        .message;
    assert!(
        message.starts_with("6 concurrent poll chains for dup-1"),
        "{message}"
    );
    assert_eq!(duplicated.level, AlertLevel::Warning);
    assert!(
        message.contains("usePoller (http://127.0.0.1:8080/dup.js:8:5)"),
        "{message}"
    );
    assert!(
        alert(&fired, ids::POLL_FREQUENCY).is_some(),
        "6 requests per second is over 1 per second"
    );
}

#[test]
fn one_interval_after_strict_mode_is_not_duplicated() {
    let (engine, fired) = run(Config::default(), "/dup.html", &duplicated(false));
    let poll = only_poll(&engine, "dup-1");
    assert!(
        !poll.flags.contains(&PollFlag::Duplicated),
        "{:?}",
        poll.flags
    );
    assert_eq!(poll.max_concurrent_chains, 1);
    assert_eq!(engine.summary().live_timers, 1);
    assert!(alert(&fired, ids::TIMERS_LIVE).is_none());
    assert!(alert(&fired, ids::POLL_FREQUENCY).is_none());
}

/// One request sent by a 1000 ms timeout, with a "not done" response, never followed.
fn single_request() -> Vec<Record> {
    let url = status_url("dup-1");
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Timeout, 1000.0, 2);
    script.fired(1.0, 1);
    script.request(1.0, "c1", &url, Some(1));
    script.response(1.05, "c1", &[("done", "false")]);
    script.sorted()
}

#[test]
fn single_request_stalls_after_ten_intervals() {
    let (mut engine, _) = run(Config::default(), "/dup.html", &single_request());
    engine.advance(11.0);
    let poll = only_poll(&engine, "dup-1");
    assert_eq!(poll.expected_interval_s, Some(1.0));
    assert!(
        !poll.flags.contains(&PollFlag::Stalled),
        "9.95 s of silence is under 10 intervals"
    );

    let fired = engine.advance(11.1);
    let poll = only_poll(&engine, "dup-1");
    assert!(poll.flags.contains(&PollFlag::Stalled), "{:?}", poll.flags);
    assert_eq!(poll.attempts, 1);
    assert_eq!(
        poll.last_status.get("done").map(String::as_str),
        Some("false")
    );
    assert_eq!(
        alert(&fired, ids::POLL_STALLED).map(|a| a.level),
        Some(AlertLevel::Warning)
    );
}

/// One request sent by no timer (straight from a mount effect), with a "not
/// done" response, never followed.
fn untimed_single_request() -> Vec<Record> {
    let mut script = Script::default();
    script.request(1.0, "c1", &status_url("dup-1"), None);
    script.response(1.05, "c1", &[("done", "false")]);
    script.sorted()
}

#[test]
fn untimed_request_stalls_on_type_interval() {
    let mut config = Config::default();
    config.poll_types.get_mut("video").unwrap().interval_s = Some(1.0);
    let (mut engine, _) = run(config, "/dup.html", &untimed_single_request());
    engine.advance(11.0);
    let poll = only_poll(&engine, "dup-1");
    assert_eq!(poll.expected_interval_s, Some(1.0));
    assert!(
        !poll.flags.contains(&PollFlag::Stalled),
        "9.95 s of silence is under 10 intervals"
    );
    let fired = engine.advance(11.1);
    let poll = only_poll(&engine, "dup-1");
    assert!(poll.flags.contains(&PollFlag::Stalled), "{:?}", poll.flags);
    assert_eq!(poll.attempts, 1);
    assert!(alert(&fired, ids::POLL_STALLED).is_some());
}

#[test]
fn untimed_request_stalls_on_type_limits() {
    // Video: 60 attempts in 600 s, so one poll every 10 s is expected.
    let (mut engine, _) = run(Config::default(), "/dup.html", &untimed_single_request());
    engine.advance(100.0);
    let poll = only_poll(&engine, "dup-1");
    assert_eq!(poll.expected_interval_s, Some(10.0));
    assert!(!poll.flags.contains(&PollFlag::Stalled), "{:?}", poll.flags);
    engine.advance(101.1);
    let poll = only_poll(&engine, "dup-1");
    assert!(poll.flags.contains(&PollFlag::Stalled), "{:?}", poll.flags);
}

#[test]
fn configured_interval_drives_stall() {
    let mut config = Config::default();
    config.endpoints[0].interval_s = Some(2.0);
    let mut script = Script::default();
    script.request(0.0, "c1", &status_url("c-2"), None);
    script.response(0.5, "c1", &[("status", "processing")]);
    let (mut engine, _) = run(config, "/", &script.sorted());
    engine.advance(20.4);
    assert!(only_poll(&engine, "c-2").flags.is_empty());
    engine.advance(20.6);
    assert!(only_poll(&engine, "c-2").flags.contains(&PollFlag::Stalled));
}

#[test]
fn finished_lifecycle_never_stalls() {
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Timeout, 1000.0, 2);
    script.fired(1.0, 1);
    script.request(1.0, "c1", &status_url("done-1"), Some(1));
    script.response(1.05, "c1", &[("status", "complete")]);
    let (mut engine, _) = run(Config::default(), "/", &script.sorted());
    engine.advance(50.0);
    let poll = only_poll(&engine, "done-1");
    assert_eq!(poll.state, PollState::Complete);
    assert!(poll.flags.is_empty(), "{:?}", poll.flags);
    assert_eq!(poll.end_reason.as_deref(), Some("complete"));
}

/// An interval poll whose `attempts` responses are all "processing".
fn endless(attempts: u32) -> Vec<Record> {
    let url = status_url("run-1");
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Interval, 2000.0, 2);
    for attempt in 1..=attempts {
        let t = f64::from(attempt) * 2.0;
        let id = format!("e{attempt}");
        script.request(t, &id, &url, Some(1));
        script.response(t + 0.1, &id, &[("status", "processing")]);
    }
    script.sorted()
}

#[test]
fn sixty_attempts_are_not_runaway() {
    let (engine, fired) = run(Config::default(), "/", &endless(60));
    let poll = only_poll(&engine, "run-1");
    assert_eq!(poll.attempts, 60);
    assert!(!poll.flags.contains(&PollFlag::Runaway));
    assert!(alert(&fired, ids::POLL_RUNAWAY).is_none());
}

#[test]
fn sixty_one_attempts_are_runaway() {
    let (engine, fired) = run(Config::default(), "/", &endless(61));
    let poll = only_poll(&engine, "run-1");
    assert!(poll.flags.contains(&PollFlag::Runaway), "{:?}", poll.flags);
    let runaway = alert(&fired, ids::POLL_RUNAWAY).expect("runaway alert fired");
    assert_eq!(runaway.level, AlertLevel::Critical);
    assert!(
        runaway
            .message
            .contains("61 attempts, past its limit of 60"),
        "{}",
        runaway.message
    );
    assert!(
        poll.flags.contains(&PollFlag::NoProgress),
        "61 identical answers"
    );
    assert_eq!(poll.cadence_s, Some(2.0));
}

#[test]
fn upscale_allows_one_hundred_twenty() {
    let mut script = Script::default();
    let url = format!("{ORIGIN}/api/video/upscale-status?operationName=up-1");
    for attempt in 1..=120 {
        let t = f64::from(attempt) * 5.0;
        script.request(t, &format!("u{attempt}"), &url, None);
        script.response(t + 0.1, &format!("u{attempt}"), &[("status", "processing")]);
    }
    let (engine, _) = run(Config::default(), "/", &script.sorted());
    let poll = only_poll(&engine, "up-1");
    assert_eq!(poll.poll_type, "upscale");
    assert!(!poll.flags.contains(&PollFlag::Runaway));
}

#[test]
fn no_progress_after_ten_same_answers() {
    let (engine, fired) = run(Config::default(), "/", &endless(9));
    assert!(!only_poll(&engine, "run-1")
        .flags
        .contains(&PollFlag::NoProgress));
    assert!(alert(&fired, ids::POLL_NO_PROGRESS).is_none());
    let (engine, fired) = run(Config::default(), "/", &endless(10));
    assert!(only_poll(&engine, "run-1")
        .flags
        .contains(&PollFlag::NoProgress));
    assert_eq!(
        alert(&fired, ids::POLL_NO_PROGRESS).map(|a| a.level),
        Some(AlertLevel::Info)
    );
}

#[test]
fn hanging_interval_overlaps() {
    let url = status_url("hang-1");
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Interval, 1000.0, 2);
    for n in 1..=30 {
        script.request(f64::from(n), &format!("h{n}"), &url, Some(1));
    }
    let (mut engine, fired) = run(Config::default(), "/", &script.sorted());
    engine.advance(30.0);
    let poll = only_poll(&engine, "hang-1");
    assert_eq!(poll.in_flight, 30);
    assert_eq!(poll.max_in_flight, 30);
    assert!(
        poll.flags.contains(&PollFlag::Overlapping),
        "{:?}",
        poll.flags
    );
    assert!(!poll.flags.contains(&PollFlag::Stalled));
    assert_eq!(
        alert(&fired, ids::POLL_OVERLAPPING).map(|a| a.level),
        Some(AlertLevel::Warning)
    );
    let concurrent = alert(&fired, ids::REQUESTS_CONCURRENT).expect("more than 10 in flight");
    assert_eq!(concurrent.subject, format!("{ORIGIN}/api/video/status"));
}

/// A `setTimeout` chain whose single request never ends.
fn hanging_chain() -> Vec<Record> {
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Timeout, 1000.0, 2);
    script.fired(1.0, 1);
    script.request(1.0, "h1", &status_url("hang-2"), Some(1));
    script.sorted()
}

#[test]
fn hanging_chain_is_stuck_not_overlapping() {
    let mut config = Config::default();
    config.requests.open_critical_s = 20.0;
    let (mut engine, _) = run(config, "/", &hanging_chain());
    assert!(
        engine.advance(21.0).is_empty(),
        "20 s open is not over 20 s"
    );
    let fired = engine.advance(31.0);
    let stuck = alert(&fired, ids::REQUESTS_STUCK).expect("stuck request alert");
    assert_eq!(stuck.level, AlertLevel::Critical);
    assert!(
        stuck.message.contains("the oldest for 30 s"),
        "{}",
        stuck.message
    );
    let poll = only_poll(&engine, "hang-2");
    assert!(poll.flags.is_empty(), "{:?}", poll.flags);
    assert_eq!(poll.in_flight, 1);
}

#[test]
fn hanging_chain_under_default_limit_is_quiet() {
    let (mut engine, _) = run(Config::default(), "/", &hanging_chain());
    assert!(engine.advance(31.0).is_empty());
}

/// A 3000 ms interval started on `/credits`; the user moves to `/home` at 10 s.
fn credits(bug: bool) -> Vec<Record> {
    let url = status_url("credits-1");
    let mut script = Script::default();
    script.site(3, "startCreditsPoll", &format!("{ORIGIN}/credits.js"), 12);
    script.timer(0.5, 1, TimerKind::Interval, 3000.0, 3);
    script.navigate(10.0, "/home", NavigationKind::SameDocument);
    if !bug {
        script.cleared(10.0, 1);
    }
    let last = if bug { 40.0 } else { 10.0 };
    let mut t = 3.5;
    let mut n = 0;
    while t <= last {
        n += 1;
        script.request(t, &format!("k{n}"), &url, Some(1));
        script.response(t + 0.1, &format!("k{n}"), &[("done", "false")]);
        t += 3.0;
    }
    script.sorted()
}

#[test]
fn interval_after_route_change_is_orphaned() {
    let (engine, fired) = run(Config::default(), "/credits", &credits(true));
    let poll = only_poll(&engine, "credits-1");
    assert!(poll.flags.contains(&PollFlag::Orphaned), "{:?}", poll.flags);
    assert_eq!(poll.route, "/credits");
    assert_eq!(poll.requests_after_owner_gone, 10);
    let gone = poll.owner_gone.as_ref().unwrap();
    assert_eq!(gone.reason, "navigated from /credits to /home");
    assert_eq!(
        poll.timer_site.as_deref(),
        Some("startCreditsPoll (http://127.0.0.1:8080/credits.js:12:5)")
    );
    assert_eq!(poll.timer_kind, Some(TimerKind::Interval));
    assert_eq!(
        poll.timer_created_after_owner_gone_t, None,
        "the interval predates the navigation"
    );
    let orphaned = alert(&fired, ids::POLL_ORPHANED).unwrap();
    assert!(
        orphaned.message.contains("startCreditsPoll"),
        "{}",
        orphaned.message
    );
    assert_eq!(engine.summary().live_timers, 1);
}

#[test]
fn polling_past_done_after_route_change_is_orphaned() {
    // The job answers done on the third attempt, but nothing checks it, and
    // the chain goes on after the view's route is left.
    let url = status_url("done-1");
    let mut script = Script::default();
    for attempt in 1..=8u32 {
        let t = f64::from(attempt);
        let id = format!("d{attempt}");
        let done = if attempt >= 3 { "true" } else { "false" };
        script.request(t, &id, &url, None);
        script.response(t + 0.05, &id, &[("done", done)]);
    }
    script.navigate(5.5, "/home", NavigationKind::SameDocument);
    let (engine, fired) = run(Config::default(), "/render", &script.sorted());
    let poll = only_poll(&engine, "done-1");
    assert_eq!(poll.state, PollState::Complete);
    assert!(poll.flags.contains(&PollFlag::Orphaned), "{:?}", poll.flags);
    assert_eq!(poll.requests_after_owner_gone, 3);
    assert!(alert(&fired, ids::POLL_ORPHANED).is_some());
}

#[test]
fn done_poll_that_stops_is_not_orphaned() {
    let url = status_url("done-2");
    let mut script = Script::default();
    for attempt in 1..=3u32 {
        let t = f64::from(attempt);
        let id = format!("d{attempt}");
        let done = if attempt == 3 { "true" } else { "false" };
        script.request(t, &id, &url, None);
        script.response(t + 0.05, &id, &[("done", done)]);
    }
    script.navigate(5.5, "/home", NavigationKind::SameDocument);
    let (engine, fired) = run(Config::default(), "/render", &script.sorted());
    let poll = only_poll(&engine, "done-2");
    assert_eq!(poll.state, PollState::Complete);
    assert!(poll.flags.is_empty(), "{:?}", poll.flags);
    assert!(alert(&fired, ids::POLL_ORPHANED).is_none());
}

#[test]
fn cleared_interval_on_route_change_is_clean() {
    let (engine, fired) = run(Config::default(), "/credits", &credits(false));
    let poll = only_poll(&engine, "credits-1");
    assert!(poll.flags.is_empty(), "{:?}", poll.flags);
    assert_eq!(poll.state, PollState::Stopped);
    assert_eq!(engine.summary().live_timers, 0);
    assert!(fired.is_empty(), "{fired:#?}");
}

#[test]
fn full_navigation_ends_old_lifecycles() {
    let mut script = Script::default();
    let url = status_url("nav-1");
    script.request(1.0, "n1", &url, None);
    script.response(1.1, "n1", &[("done", "false")]);
    script.navigate(2.0, "/other", NavigationKind::Full);
    script.request(3.0, "n2", &url, None);
    let (engine, _) = run(Config::default(), "/editor", &script.sorted());
    let polls: Vec<PollSummary> = engine
        .lifecycles()
        .into_iter()
        .filter(|p| p.operation == "nav-1")
        .collect();
    assert_eq!(polls.len(), 2, "the new document starts a new lifecycle");
    assert_eq!(polls[0].state, PollState::Stopped);
    assert!(polls[0].flags.is_empty());
    assert_eq!(polls[1].route, "/other");
    assert_eq!(polls[1].state, PollState::Active);
}

fn generic_requests(times: &[f64]) -> Engine {
    let mut script = Script::default();
    for (n, t) in times.iter().enumerate() {
        let id = format!("g{n}");
        script.request(*t, &id, &format!("{ORIGIN}/api/credits?workspace=1"), None);
        script.response(t + 0.1, &id, &[("credits", "0")]);
    }
    run(Config::default(), "/", &script.sorted()).0
}

#[test]
fn steady_unconfigured_url_is_poll() {
    let engine = generic_requests(&[0.0, 3.0, 6.0]);
    let polls = engine.lifecycles();
    assert_eq!(polls.len(), 1);
    assert_eq!(polls[0].source, PollSource::Detected);
    assert_eq!(polls[0].endpoint, "GET /api/credits");
    assert_eq!(polls[0].attempts, 3);
    assert_eq!(polls[0].cadence_s, Some(3.0));
}

#[test]
fn repeated_unconfigured_post_is_not_poll() {
    let mut script = Script::default();
    for (n, t) in [0.0, 16.0, 32.0, 48.0].iter().enumerate() {
        let id = format!("p{n}");
        script.request(*t, &id, &format!("{ORIGIN}/api/video/generate"), None);
        script.response(t + 0.1, &id, &[("operationName", "op")]);
    }
    let mut records = script.sorted();
    for record in &mut records {
        if let RecordBody::RequestStarted(request) = &mut record.body {
            request.method = "POST".to_owned();
        }
    }
    let (engine, fired) = run(Config::default(), "/", &records);
    assert!(
        engine.lifecycles().is_empty(),
        "a job started once per cycle is not a poll"
    );
    assert!(fired.is_empty(), "{fired:?}");
}

#[test]
fn two_requests_are_not_a_poll() {
    assert!(generic_requests(&[0.0, 3.0]).lifecycles().is_empty());
}

#[test]
fn cadence_tolerance_boundary() {
    // Median of (3.0, 4.4) is 3.7: both within ±50 %.
    assert_eq!(generic_requests(&[0.0, 3.0, 7.4]).lifecycles().len(), 1);
    // Median of (1.0, 4.0) is 2.5: 4.0 is 60 % off.
    assert!(generic_requests(&[0.0, 1.0, 5.0]).lifecycles().is_empty());
    // Median of (1.0, 2.0) is 1.5: both exactly 50 % / 33 % off.
    assert_eq!(generic_requests(&[0.0, 1.0, 3.0]).lifecycles().len(), 1);
}

#[test]
fn reused_aborted_controller_is_pre_aborted() {
    let url = status_url("abort-1");
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Interval, 1000.0, 2);
    for n in 1..=4 {
        let t = f64::from(n);
        script.request(t, &format!("a{n}"), &url, Some(1));
        script.response(t + 0.05, &format!("a{n}"), &[("done", "false")]);
    }
    let mut partial = script.records.clone();
    for n in 5..=7 {
        let t = f64::from(n);
        let id = format!("a{n}");
        script.request_with(t, &id, &url, Some(1), true);
        script.end(t + 0.001, &id, RequestOutcome::Aborted, &[]);
        if n == 6 {
            partial = script.records.clone();
        }
    }
    let (engine, _) = run(Config::default(), "/", &partial);
    assert!(
        !only_poll(&engine, "abort-1")
            .flags
            .contains(&PollFlag::PreAborted),
        "2 in a row is not enough"
    );
    let (engine, fired) = run(Config::default(), "/", &script.sorted());
    let poll = only_poll(&engine, "abort-1");
    assert!(
        poll.flags.contains(&PollFlag::PreAborted),
        "{:?}",
        poll.flags
    );
    assert_eq!(poll.pre_aborted, 3);
    assert_eq!(
        alert(&fired, ids::POLL_PRE_ABORTED).map(|a| a.level),
        Some(AlertLevel::Critical)
    );
}

#[test]
fn all_attempts_pre_aborted_flagged() {
    let mut script = Script::default();
    script.request_with(1.0, "p1", &status_url("abort-2"), None, true);
    script.end(1.001, "p1", RequestOutcome::Aborted, &[]);
    let (engine, _) = run(Config::default(), "/", &script.sorted());
    assert!(only_poll(&engine, "abort-2")
        .flags
        .contains(&PollFlag::PreAborted));
}

#[test]
fn failing_attempts_end_failed() {
    let mut script = Script::default();
    for n in 1..=3 {
        let t = f64::from(n);
        script.request(t, &format!("f{n}"), &status_url("err-1"), None);
        script.end(
            t + 0.1,
            &format!("f{n}"),
            RequestOutcome::Completed { status: 500 },
            &[],
        );
    }
    let (engine, _) = run(Config::default(), "/", &script.sorted());
    assert_eq!(only_poll(&engine, "err-1").state, PollState::Failed);
    assert_eq!(only_poll(&engine, "err-1").errors, 3);
}

#[test]
fn failed_answer_ends_lifecycle() {
    let mut script = Script::default();
    script.request(1.0, "f1", &status_url("err-2"), None);
    script.response(1.1, "f1", &[("status", "FAILED")]);
    let (engine, _) = run(Config::default(), "/", &script.sorted());
    assert_eq!(only_poll(&engine, "err-2").state, PollState::Failed);
}

#[test]
fn page_signals_form_a_lifecycle() {
    let mut script = Script::default();
    script.signal(1.0, PollSignalKind::Start, "sig-1", None);
    for n in 0..3 {
        script.signal(2.0 + f64::from(n), PollSignalKind::Attempt, "sig-1", None);
    }
    script.signal(6.0, PollSignalKind::End, "sig-1", Some("complete"));
    let (engine, _) = run(Config::default(), "/", &script.sorted());
    let poll = only_poll(&engine, "sig-1");
    assert_eq!(poll.source, PollSource::Signal);
    assert_eq!(poll.attempts, 3);
    assert_eq!(poll.state, PollState::Complete);
    assert_eq!(poll.duration_s, 5.0);
}

#[test]
fn signal_and_requests_share_a_lifecycle() {
    let mut script = Script::default();
    script.signal(0.5, PollSignalKind::Start, "op-5", None);
    script.request(1.0, "s1", &status_url("op-5"), None);
    script.response(1.1, "s1", &[("status", "processing")]);
    script.signal(1.2, PollSignalKind::Attempt, "op-5", None);
    let (engine, _) = run(Config::default(), "/", &script.sorted());
    let poll = only_poll(&engine, "op-5");
    assert_eq!(poll.source, PollSource::Config);
    assert_eq!(poll.attempts, 1);
    assert_eq!(poll.first_t, 0.5);
}

#[test]
fn page_reported_runaway_is_flagged() {
    let mut script = Script::default();
    script.signal(1.0, PollSignalKind::Start, "sig-2", None);
    script.signal(2.0, PollSignalKind::Runaway, "sig-2", None);
    let (engine, fired) = run(Config::default(), "/", &script.sorted());
    assert!(only_poll(&engine, "sig-2")
        .flags
        .contains(&PollFlag::Runaway));
    assert!(alert(&fired, ids::POLL_RUNAWAY).is_some());
}

#[test]
fn timeout_chain_children_count_as_chains() {
    // Two chains: each callback schedules the next timeout before it fetches.
    let url = status_url("chain-1");
    let mut script = Script::default();
    script.timer(0.0, 10, TimerKind::Timeout, 1000.0, 2);
    script.timer(0.0, 20, TimerKind::Timeout, 1000.0, 2);
    for step in 0..5u64 {
        let t = 1.0 + step as f64;
        for chain in [10u64, 20] {
            let current = chain + step;
            script.fired(t, current);
            script.child_timer(t, current + 1, 1000.0, 2, current);
            script.request(
                t + 0.001 * chain as f64,
                &format!("c{current}"),
                &url,
                Some(current),
            );
            script.response(t + 0.3, &format!("c{current}"), &[("done", "false")]);
        }
    }
    let (engine, _) = run(Config::default(), "/", &script.sorted());
    let poll = only_poll(&engine, "chain-1");
    assert_eq!(poll.max_concurrent_chains, 2);
    assert!(poll.flags.contains(&PollFlag::Duplicated));
}

#[test]
fn video_poll_duration_boundaries() {
    let build = |until: u32| {
        let mut script = Script::default();
        for n in 0..=until / 10 {
            let t = f64::from(n * 10);
            script.request(t, &format!("v{n}"), &status_url("long-1"), None);
            script.response(t + 0.1, &format!("v{n}"), &[("status", "processing")]);
        }
        script.sorted()
    };
    let (mut engine, _) = run(Config::default(), "/", &build(470));
    assert!(alert(&engine.advance(480.0), ids::POLL_DURATION).is_none());
    assert!(
        alert(engine.alerts(), ids::POLL_DURATION).is_none(),
        "480 s is not over 8 min"
    );
    let fired = engine.advance(481.0);
    assert_eq!(
        alert(&fired, ids::POLL_DURATION).map(|a| a.level),
        Some(AlertLevel::Warning)
    );

    let (mut engine, _) = run(Config::default(), "/", &build(590));
    engine.advance(600.0);
    assert_eq!(only_poll(&engine, "long-1").state, PollState::Active);
    let fired = engine.advance(601.0);
    assert_eq!(
        alert(&fired, ids::POLL_DURATION).map(|a| a.level),
        Some(AlertLevel::Critical)
    );
    assert_eq!(only_poll(&engine, "long-1").state, PollState::Timeout);
}

#[test]
fn finished_lifecycles_are_capped() {
    let mut config = Config::default();
    config.polls.keep_finished = 3;
    let mut script = Script::default();
    for n in 0..5 {
        let t = f64::from(n);
        script.request(t, &format!("q{n}"), &status_url(&format!("cap-{n}")), None);
        script.response(t + 0.1, &format!("q{n}"), &[("status", "complete")]);
    }
    let (mut engine, _) = run(config, "/", &script.sorted());
    engine.advance(100.0);
    let summary = engine.summary();
    assert_eq!(summary.polls.len(), 3);
    assert_eq!(summary.polls_dropped, 2);
    assert_eq!(summary.polls[0].operation, "cap-2");
}

#[test]
fn six_active_polls_warn() {
    let mut script = Script::default();
    for n in 0..6 {
        let t = f64::from(n) * 0.1;
        script.request(t, &format!("m{n}"), &status_url(&format!("many-{n}")), None);
        script.response(t + 0.05, &format!("m{n}"), &[("status", "processing")]);
    }
    let (mut engine, _) = run(Config::default(), "/", &script.sorted());
    let fired = engine.advance(2.0);
    let concurrent = alert(&fired, ids::POLLS_CONCURRENT).expect("6 active polls is over 5");
    assert_eq!(concurrent.level, AlertLevel::Warning);
}

#[test]
fn replay_from_disk_matches_live() {
    let records = zombie(true);
    let (live, _) = run(Config::default(), "/zombie.html", &records);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zombie.jsonl");
    let mut writer =
        crate::recording::RecordingWriter::create(&path, &header("/zombie.html")).unwrap();
    for record in &records {
        writer.append(record).unwrap();
    }
    writer.flush().unwrap();
    drop(writer);

    let recording = crate::recording::RecordingReader::read_all(&path).unwrap();
    let mut replay = Engine::new(Config::default(), &recording.header);
    for record in &recording.records {
        replay.ingest(record);
    }
    assert_eq!(replay.summary(), live.summary());
}

fn interval_poll(interval_s: f64, attempts: u32) -> Vec<Record> {
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Interval, interval_s * 1000.0, 2);
    for attempt in 1..=attempts {
        let t = f64::from(attempt) * interval_s;
        let id = format!("i{attempt}");
        script.request(t, &id, &status_url("freq-1"), Some(1));
        script.response(t + 0.01, &id, &[("progress", &attempt.to_string())]);
    }
    script.sorted()
}

#[test]
fn frequency_boundary() {
    let (_, fired) = run(Config::default(), "/", &interval_poll(1.0, 12));
    assert!(
        alert(&fired, ids::POLL_FREQUENCY).is_none(),
        "once per second is not over 1/s"
    );
    let (_, fired) = run(Config::default(), "/", &interval_poll(0.99, 12));
    assert!(
        alert(&fired, ids::POLL_FREQUENCY).is_none(),
        "timer jitter around 1 s is not over 1/s"
    );
    let (_, fired) = run(Config::default(), "/", &interval_poll(0.9, 12));
    assert_eq!(
        alert(&fired, ids::POLL_FREQUENCY).map(|a| a.level),
        Some(AlertLevel::Warning)
    );
}

#[test]
fn frequency_needs_min_attempts() {
    let (_, fired) = run(Config::default(), "/", &interval_poll(0.3, 9));
    assert!(
        alert(&fired, ids::POLL_FREQUENCY).is_none(),
        "9 quick attempts are under the 10 the rule needs"
    );
    let (_, fired) = run(Config::default(), "/", &interval_poll(0.3, 10));
    assert_eq!(
        alert(&fired, ids::POLL_FREQUENCY).map(|a| a.level),
        Some(AlertLevel::Warning)
    );
}

#[test]
fn candidates_stay_bounded() {
    let mut config = Config::default();
    config.polls.max_candidates = 100;
    let mut tracker = crate::polls::PollTracker::new(&config);
    let timers = crate::polls::timers::TimerTable::default();
    for n in 0..1000 {
        let t = f64::from(n);
        let mut script = Script::default();
        script.request(t, &format!("u{n}"), &format!("{ORIGIN}/api/item/{n}"), None);
        let RecordBody::RequestStarted(request) = &script.records[0].body else {
            unreachable!()
        };
        tracker.request_started(t, request, &timers, "/");
        let ended = RequestEnded {
            id: request.id.clone(),
            outcome: RequestOutcome::Completed { status: 200 },
            response_fields: BTreeMap::new(),
            page_ms: 0.0,
        };
        tracker.request_ended(t + 0.1, &ended);
    }
    assert!(
        tracker.active.len() <= 101,
        "{} lifecycles kept",
        tracker.active.len()
    );
    assert!(tracker.request_owner.is_empty());
    assert!(tracker.summaries(1000.0, &Default::default()).is_empty());
}

#[test]
fn alert_records_in_a_recording_are_ignored() {
    let mut script = Script::default();
    let old = Alert {
        level: AlertLevel::Emergency,
        rule: "old.rule".to_owned(),
        subject: PAGE.to_owned(),
        message: "from an earlier run".to_owned(),
        first_seen: 0.0,
        last_seen: 0.0,
        count: 1,
    };
    script.push(1.0, RecordBody::Alert(old));
    let (engine, fired) = run(Config::default(), "/", &script.sorted());
    assert!(fired.is_empty());
    assert!(engine.alerts().is_empty());
}

const PAGE: &str = crate::rules::PAGE_SUBJECT;

#[test]
fn nested_route_keeps_the_view() {
    let url = status_url("nest-1");
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Interval, 1000.0, 2);
    script.navigate(2.5, "/credits/history", NavigationKind::SameDocument);
    for n in 1..=4 {
        script.request(f64::from(n), &format!("n{n}"), &url, Some(1));
    }
    let (engine, _) = run(
        Config::default(),
        "/credits",
        &Script {
            records: script.records.clone(),
        }
        .sorted(),
    );
    assert!(only_poll(&engine, "nest-1").owner_gone.is_none());

    script.navigate(4.5, "/home", NavigationKind::SameDocument);
    script.request(5.0, "n5", &url, Some(1));
    let (engine, _) = run(Config::default(), "/credits", &script.sorted());
    let poll = only_poll(&engine, "nest-1");
    assert_eq!(
        poll.owner_gone.map(|gone| gone.reason).as_deref(),
        Some("navigated from /credits/history to /home")
    );
    assert_eq!(poll.requests_after_owner_gone, 1);
}

#[test]
fn route_containment() {
    assert!(super::route_contains("/credits", "/credits"));
    assert!(super::route_contains("/credits/", "/credits"));
    assert!(super::route_contains("/credits", "/credits/history"));
    assert!(!super::route_contains("/credits", "/creditsx"));
    assert!(!super::route_contains("/credits", "/home"));
    assert!(super::route_contains("/", "/"));
    assert!(!super::route_contains("/", "/home"));
}

#[test]
fn end_signal_with_unmount_reason_orphans() {
    let url = status_url("end-1");
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Interval, 1000.0, 2);
    for n in 1..=6 {
        script.request(f64::from(n), &format!("e{n}"), &url, Some(1));
    }
    script.signal(3.5, PollSignalKind::End, "end-1", Some("unmount"));
    let (engine, _) = run(Config::default(), "/video", &script.sorted());
    let poll = only_poll(&engine, "end-1");
    assert!(poll.flags.contains(&PollFlag::Orphaned), "{:?}", poll.flags);
    assert_eq!(poll.requests_after_owner_gone, 3);
    assert_eq!(poll.state, PollState::Active);
}

#[test]
fn unmount_without_operation_covers_current_route() {
    let mut script = Script::default();
    script.timer(0.0, 1, TimerKind::Interval, 1000.0, 2);
    script.request(1.0, "a1", &status_url("here-1"), Some(1));
    script.navigate(1.5, "/other", NavigationKind::SameDocument);
    script.request(2.0, "b1", &status_url("there-1"), Some(1));
    script.signal(2.5, PollSignalKind::Unmount, "", None);
    script.request(3.0, "b2", &status_url("there-1"), Some(1));
    let (engine, _) = run(Config::default(), "/video", &script.sorted());
    let there = only_poll(&engine, "there-1");
    assert_eq!(there.requests_after_owner_gone, 1);
    assert_eq!(
        there.owner_gone.map(|gone| gone.reason).as_deref(),
        Some("the page reported unmount")
    );
    let here = only_poll(&engine, "here-1");
    assert_eq!(
        here.owner_gone.map(|gone| gone.reason).as_deref(),
        Some("navigated from /video to /other")
    );
}
