//! Real-world timer, fetch and AbortController bugs, each reproduced by a
//! test page and checked against the demo server's request log, which is
//! the ground truth for what the page sent.
//!
//! Waits marked "step" build a case's timeline (the case prescribes "wait
//! 10 s, then navigate"); they are never the check itself. Besides what the
//! agent and the live state show, each case checks the flags the poll engine
//! (`leakscope_model::Engine`, fed the same records) puts on its lifecycle.

#[path = "agent_watch.rs"]
mod agent_watch;

use std::time::Duration;

use agent_watch::{line_of, now_ms, Watched, DEADLINE};
use leakscope_demo::OperationBehaviour;
use leakscope_model::config::Config;
use leakscope_model::live::SiteKind;
use leakscope_model::polls::{PollFlag, PollSummary};
use leakscope_model::{RecordBody, RequestOutcome, TimerKind};
use serde_json::json;

fn processing() -> OperationBehaviour {
    OperationBehaviour {
        sequence: vec![json!({ "done": false })],
        ..OperationBehaviour::default()
    }
}

/// The poll engine's lifecycles of `operation`, printed for the test log.
fn lifecycles_of(watched: &Watched, operation: &str) -> Vec<PollSummary> {
    let lifecycles: Vec<PollSummary> = watched
        .lifecycles()
        .into_iter()
        .filter(|poll| poll.operation == operation)
        .collect();
    for poll in &lifecycles {
        eprintln!(
            "{operation}: state {:?} flags {:?} attempts {} route {} owner gone {:?}",
            poll.state, poll.flags, poll.attempts, poll.route, poll.owner_gone
        );
    }
    lifecycles
}

fn flagged(lifecycles: &[PollSummary], flag: PollFlag) -> bool {
    lifecycles.iter().any(|poll| poll.flags.contains(&flag))
}

/// Sleeps until `epoch_ms` (a step of a case's timeline).
async fn step_until(epoch_ms: f64) {
    let wait = (epoch_ms - now_ms()).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
}

/// Live timers of `kind` created at the line of `page` containing `needle`.
fn live_at(watched: &Watched, page: &str, needle: &str, kind: TimerKind) -> u64 {
    let line = line_of(page, needle);
    watched.with(|seen| {
        seen.live
            .timers()
            .filter(|(_, timer)| timer.kind == kind)
            .filter(|(_, timer)| {
                timer
                    .site
                    .and_then(|id| seen.live.site(id))
                    .is_some_and(|site| site.url.ends_with(page) && site.line == line)
            })
            .count() as u64
    })
}

/// Server-side arrivals of `operation` with wall time in `[from_ms, to_ms)`.
fn arrivals(watched: &Watched, operation: &str, from_ms: f64, to_ms: f64) -> usize {
    watched
        .server_requests(operation)
        .iter()
        .filter(|record| (record.wall_ms as f64) >= from_ms && (record.wall_ms as f64) < to_ms)
        .count()
}

/// Agent `RequestStarted` of `operation` with page time in `[from_ms, to_ms)`.
fn agent_starts(watched: &Watched, operation: &str, from_ms: f64, to_ms: f64) -> usize {
    watched
        .agent_requests(operation)
        .iter()
        .filter(|(page_ms, _)| *page_ms >= from_ms && *page_ms < to_ms)
        .count()
}

// ---- A poll interval keeps running after an SPA route change ----------------

/// Opens `/credits` for 10 s, follows the in-app link to `/home` and returns
/// the time of the click.
async fn credits_then_home(watched: &Watched, variant: &str) -> f64 {
    watched.script("credits-1", processing());
    watched
        .open(&format!("leak-interval.html?variant={variant}"))
        .await;
    watched
        .wait_until("the credits interval", DEADLINE, |seen| {
            seen.live.counts().intervals_live == 1
        })
        .await;
    // Step: the case stays on /credits for 10 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let clicked = now_ms();
    watched
        .eval("document.getElementById('link-home').click(); location.search")
        .await;
    clicked
}

#[tokio::test]
async fn route_change_interval_bug() {
    let watched = Watched::start().await;
    let navigated = credits_then_home(&watched, "bug").await;
    assert_eq!(watched.eval("location.pathname").await, json!("/home"));
    // Step: the case watches 30 s after the navigation.
    step_until(navigated + 30_000.0).await;
    let end = now_ms();

    assert_eq!(
        live_at(
            &watched,
            "leak-interval.js",
            "setInterval(pollCredits",
            TimerKind::Interval
        ),
        1
    );
    let created_before = watched.with(|seen| {
        seen.live
            .timers()
            .filter(|(_, timer)| timer.kind == TimerKind::Interval)
            .all(|(_, timer)| timer.created_t * 1000.0 + watched.started_at_ms < navigated)
    });
    assert!(
        created_before,
        "the live interval was created before the route change, by the /credits view"
    );

    let server = arrivals(&watched, "credits-1", navigated, end);
    let agent = agent_starts(&watched, "credits-1", navigated, end);
    assert!(
        (9..=11).contains(&server),
        "server saw {server} credits-1 requests after the route change"
    );
    assert!(
        agent.abs_diff(server) <= 1,
        "agent saw {agent}, server {server}"
    );
    assert!(
        flagged(&lifecycles_of(&watched, "credits-1"), PollFlag::Orphaned),
        "credits-1 outlived its view"
    );
}

#[tokio::test]
async fn route_change_interval_fixed() {
    let watched = Watched::start().await;
    let navigated = credits_then_home(&watched, "fixed").await;
    watched
        .wait_until(
            "the credits interval to be cleared",
            Duration::from_secs(3),
            |seen| seen.live.counts().intervals_live == 0,
        )
        .await;
    // Step: three more poll periods.
    step_until(navigated + 10_000.0).await;
    assert_eq!(
        live_at(
            &watched,
            "leak-interval.js",
            "setInterval(pollCredits",
            TimerKind::Interval
        ),
        0
    );
    assert_eq!(
        arrivals(&watched, "credits-1", navigated + 1000.0, now_ms()),
        0
    );
    assert_eq!(
        agent_starts(&watched, "credits-1", navigated + 1000.0, now_ms()),
        0
    );
    assert!(!flagged(
        &lifecycles_of(&watched, "credits-1"),
        PollFlag::Orphaned
    ));
}

// ---- A setTimeout chain restarted by a request in flight at unmount ---------

/// Mounts the poller, unmounts it 4 s later while request #2 is in flight
/// (#1 runs 0-2 s, the timer fires at 3 s, #2 runs 3-5 s), and returns
/// (mount, unmount) times.
async fn zombie_timeline(watched: &Watched, variant: &str) -> (f64, f64) {
    watched.script(
        "zombie-1",
        OperationBehaviour {
            delay_ms: 2000,
            ..processing()
        },
    );
    watched
        .open(&format!("zombie.html?variant={variant}"))
        .await;
    let mounted = now_ms();
    watched.eval("zombieMount()").await;
    agent_watch::wait_for("request #2 to reach the server", DEADLINE, || {
        let count = watched.server_requests("zombie-1").len();
        async move { (count >= 2).then_some(()) }
    })
    .await;
    step_until(mounted + 4000.0).await;
    let unmounted = now_ms();
    watched.eval("zombieUnmount()").await;
    (mounted, unmounted)
}

fn timers_created_after(watched: &Watched, after_ms: f64) -> Vec<f64> {
    watched.with(|seen| {
        seen.records
            .iter()
            .filter_map(|record| match record.body {
                RecordBody::TimerCreated { page_ms, .. } if page_ms > after_ms => Some(page_ms),
                _ => None,
            })
            .collect()
    })
}

#[tokio::test]
async fn zombie_chain_bug() {
    let watched = Watched::start().await;
    let (_, unmounted) = zombie_timeline(&watched, "bug").await;
    // Step: the case watches 30 s after the unmount.
    step_until(unmounted + 30_000.0).await;
    let end = now_ms();

    let created = timers_created_after(&watched, unmounted);
    let first = created
        .first()
        .copied()
        .expect("no timer was created after the unmount");
    let delay = first - unmounted;
    assert!(
        (500.0..2000.0).contains(&delay),
        "first timer after the unmount came {delay} ms later"
    );
    let server = arrivals(&watched, "zombie-1", unmounted, end);
    let agent = agent_starts(&watched, "zombie-1", unmounted, end);
    assert!(
        (9..=11).contains(&server),
        "server saw {server} zombie-1 requests after the unmount"
    );
    assert!(
        agent.abs_diff(server) <= 1,
        "agent saw {agent}, server {server}"
    );
    assert!(
        flagged(&lifecycles_of(&watched, "zombie-1"), PollFlag::Orphaned),
        "zombie-1 polls after its owner unmounted"
    );
}

#[tokio::test]
async fn zombie_chain_fixed() {
    let watched = Watched::start().await;
    let (mounted, unmounted) = zombie_timeline(&watched, "fixed").await;
    watched
        .wait_until("request #2 to end", DEADLINE, |seen| {
            seen.live.counts().requests_in_flight == 0
        })
        .await;
    // Step: two more periods of the chain (2 s request + 1 s timer each).
    step_until(unmounted + 6000.0).await;

    assert!(
        timers_created_after(&watched, unmounted).is_empty(),
        "a timer was created after the unmount"
    );
    let outcomes: Vec<RequestOutcome> = watched.with(|seen| {
        seen.records
            .iter()
            .filter_map(|record| match &record.body {
                RecordBody::RequestEnded(ended) => Some(ended.outcome.clone()),
                _ => None,
            })
            .collect()
    });
    assert_eq!(
        outcomes.last(),
        Some(&RequestOutcome::Aborted),
        "request #2 was aborted by the cleanup"
    );
    assert_eq!(
        arrivals(&watched, "zombie-1", mounted + 5000.0, now_ms()),
        0
    );
    assert_eq!(watched.with(|seen| seen.live.counts().timers_live), 0);
    assert!(!flagged(
        &lifecycles_of(&watched, "zombie-1"),
        PollFlag::Orphaned
    ));
}

// ---- Polls that multiply on remount in React StrictMode ----------------------

/// Mount, 3 s, unmount, mount, 3 s, unmount, mount; then a 10 s window.
/// Returns the window's (start, end).
async fn dup_timeline(watched: &Watched, variant: &str) -> (f64, f64) {
    watched.script("dup-1", processing());
    watched.open(&format!("dup.html?variant={variant}")).await;
    for round in 0..3 {
        watched.eval("dupMount()").await;
        if round < 2 {
            // Step: the case keeps each mount for 3 s.
            tokio::time::sleep(Duration::from_secs(3)).await;
            watched.eval("dupUnmount()").await;
        }
    }
    let start = now_ms();
    // Step: the 10 s measuring window.
    step_until(start + 10_000.0).await;
    (start, now_ms())
}

fn dup_interval_site(watched: &Watched) -> Option<leakscope_model::live::SiteCounts> {
    let line = line_of("dup.js", "setInterval(poll, 1000)");
    watched.with(|seen| {
        seen.live.sites().into_iter().find(|row| {
            row.kind == SiteKind::Interval
                && row
                    .site
                    .and_then(|id| seen.live.site(id))
                    .is_some_and(|site| site.line == line)
        })
    })
}

#[tokio::test]
async fn strict_mode_dup_a() {
    let watched = Watched::start().await;
    let (start, end) = dup_timeline(&watched, "A").await;
    assert_eq!(
        live_at(
            &watched,
            "dup.js",
            "setInterval(poll, 1000)",
            TimerKind::Interval
        ),
        6
    );
    let site = dup_interval_site(&watched).expect("no interval site in dup.js");
    assert_eq!(site.created, 6, "3 mounts x 2 effect runs");
    assert_eq!(site.cleared, 0);
    let server = arrivals(&watched, "dup-1", start, end);
    assert!(
        (57..=63).contains(&server),
        "server saw {server} dup-1 requests in the 10 s window"
    );
    assert!(
        flagged(&lifecycles_of(&watched, "dup-1"), PollFlag::Duplicated),
        "6 concurrent chains for dup-1"
    );
}

#[tokio::test]
async fn strict_mode_dup_b() {
    let watched = Watched::start().await;
    let (start, end) = dup_timeline(&watched, "B").await;
    assert_eq!(
        live_at(
            &watched,
            "dup.js",
            "setInterval(poll, 1000)",
            TimerKind::Interval
        ),
        1
    );
    let site = dup_interval_site(&watched).expect("no interval site in dup.js");
    assert_eq!(site.created, 6);
    assert_eq!(
        site.cleared, 5,
        "StrictMode's create-and-clear pairs and the two unmounts"
    );
    let server = arrivals(&watched, "dup-1", start, end);
    assert!(
        (9..=11).contains(&server),
        "server saw {server} dup-1 requests in the 10 s window"
    );
    let polls = lifecycles_of(&watched, "dup-1");
    assert!(
        !flagged(&polls, PollFlag::Duplicated),
        "StrictMode's create-and-clear pair is no duplicate"
    );
    assert!(!flagged(&polls, PollFlag::Orphaned));
}

#[tokio::test]
async fn strict_mode_dup_c() {
    // The page's poller is set to poll every 1000 ms, which is what the user
    // tells Leakscope for the type; its only request is sent by no timer.
    let mut config = Config::default();
    config
        .poll_types
        .get_mut("video")
        .expect("video is a default poll type")
        .interval_s = Some(1.0);
    let watched = Watched::start_with(None, config).await;
    let (_, end) = dup_timeline(&watched, "C").await;
    assert_eq!(
        live_at(
            &watched,
            "dup.js",
            "setInterval(poll, 1000)",
            TimerKind::Interval
        ),
        0
    );
    assert_eq!(arrivals(&watched, "dup-1", 0.0, end), 1);
    assert_eq!(agent_starts(&watched, "dup-1", 0.0, end), 1);
    let last = watched.with(|seen| {
        seen.records
            .iter()
            .rev()
            .find_map(|record| match &record.body {
                RecordBody::RequestEnded(ended) => Some(ended.response_fields.clone()),
                _ => None,
            })
    });
    assert_eq!(
        last.expect("the request never ended")
            .get("done")
            .map(String::as_str),
        Some("false"),
        "last answer not terminal"
    );
    let polls = lifecycles_of(&watched, "dup-1");
    assert_eq!(polls.iter().map(|poll| poll.attempts).sum::<u64>(), 1);
    assert_eq!(polls.len(), 1);
    assert_eq!(polls[0].expected_interval_s, Some(1.0));
    assert!(
        flagged(&polls, PollFlag::Stalled),
        "no request for over 10 expected intervals, and no final answer"
    );
}

// ---- An interval poll piles up requests when the server hangs ----------------

/// Opens hang.html and returns the status endpoint's row 30 s after its first request.
async fn hang_after_30s(watched: &Watched, variant: &str) -> leakscope_model::live::EndpointCounts {
    watched.script(
        "hang-1",
        OperationBehaviour {
            hang: true,
            ..OperationBehaviour::default()
        },
    );
    watched.open(&format!("hang.html?variant={variant}")).await;
    watched
        .wait_until("the first hang-1 request", DEADLINE, |seen| {
            seen.live.counts().requests_in_flight >= 1
        })
        .await;
    let first = watched.agent_requests("hang-1")[0].0;
    // Step: the case watches each page for 30 s.
    step_until(first + 30_000.0).await;
    let now = watched.now_t();
    let row = watched.with(|seen| seen.live.endpoint("GET", "/api/video/status", now));
    let check = watched.with(|seen| seen.live.network_check());
    eprintln!("variant {variant}: network check {check:?}");
    row.expect("no status endpoint row")
}

#[tokio::test]
async fn hang_interval_piles_up() {
    let watched = Watched::start().await;
    let row = hang_after_30s(&watched, "A").await;
    assert!(
        (29..=31).contains(&row.in_flight),
        "{} fetches in flight after 30 s",
        row.in_flight
    );
    let oldest = row.oldest_in_flight_s.expect("no oldest age");
    assert!(
        (29.0..=31.0).contains(&oldest),
        "oldest in flight is {oldest} s old"
    );
    assert_eq!(row.completed + row.aborted + row.failed, 0);
    // Chromium sends at most 6 requests at once to one HTTP/1.1 host; the
    // rest wait inside the browser, and the agent still counts them.
    let server = watched.server_requests("hang-1").len();
    assert!(server <= 6, "server received {server} hang-1 requests");
    let check = watched.with(|seen| seen.live.network_check());
    assert!(
        check.joined >= 6,
        "agent requests joined to Network requests: {check:?}"
    );
    assert!(flagged(
        &lifecycles_of(&watched, "hang-1"),
        PollFlag::Overlapping
    ));
}

#[tokio::test]
async fn hang_chain_single_request() {
    let watched = Watched::start().await;
    let row = hang_after_30s(&watched, "B").await;
    assert_eq!(row.in_flight, 1);
    let oldest = row.oldest_in_flight_s.expect("no oldest age");
    assert!(
        (29.0..=31.0).contains(&oldest),
        "the stuck request is {oldest} s old"
    );
    assert_eq!(
        watched.with(|seen| seen.live.counts().timers_live),
        0,
        "nothing is scheduled while the request hangs"
    );
    assert!(!flagged(
        &lifecycles_of(&watched, "hang-1"),
        PollFlag::Overlapping
    ));
}

// ---- One AbortController reused after it was aborted --------------------------

/// Opens abort.html, clicks Cancel 5.5 s after the first request and returns
/// (click time, end of the 20 s window after it). The half second puts the
/// click between two polls, so that no request of the page is in flight then.
async fn abort_timeline(watched: &Watched, variant: &str) -> (f64, f64) {
    watched.script("abort-1", processing());
    watched.open(&format!("abort.html?variant={variant}")).await;
    watched
        .wait_until("the first abort-1 request", DEADLINE, |seen| {
            seen.live.counts().requests_in_flight
                + seen.live.counts().requests_completed
                + seen.live.counts().requests_aborted
                > 0
        })
        .await;
    let first = watched.agent_requests("abort-1")[0].0;
    step_until(first + 5500.0).await;
    let clicked = now_ms();
    watched
        .eval("document.getElementById('cancel').click()")
        .await;
    // Step: the case watches t = 5 ... 25 s.
    step_until(clicked + 20_000.0).await;
    (clicked, now_ms())
}

#[tokio::test]
async fn reused_controller_bug() {
    let watched = Watched::start().await;
    let (clicked, end) = abort_timeline(&watched, "bug").await;
    let after: Vec<_> = watched
        .agent_requests("abort-1")
        .into_iter()
        .filter(|(page_ms, _)| *page_ms > clicked && *page_ms < end)
        .collect();
    assert!(
        (19..=21).contains(&after.len()),
        "{} fetch attempts after the cancel",
        after.len()
    );
    assert!(
        after.iter().all(|(_, request)| request.signal_aborted),
        "every later fetch started with an aborted signal"
    );
    assert_eq!(arrivals(&watched, "abort-1", clicked, end), 0);

    let results = watched
        .eval("JSON.stringify(abortResults.filter(function (r) { return !r.ok; }))")
        .await;
    let results: Vec<serde_json::Value> = serde_json::from_str(results.as_str().unwrap()).unwrap();
    assert!(results.len() >= after.len());
    assert!(
        results
            .iter()
            .all(|r| r["name"] == "AbortError" && r["ms"].as_f64().unwrap() < 50.0),
        "{results:?}"
    );

    let counts = watched.with(|seen| seen.live.counts());
    assert_eq!(
        counts.controllers_live, 1,
        "one controller, created when the script loaded"
    );
    assert_eq!(counts.controllers_aborted, 1);
    let aborted_at = watched.with(|seen| {
        seen.records.iter().find_map(|record| match record.body {
            RecordBody::ControllerAborted { page_ms, .. } => Some(page_ms),
            _ => None,
        })
    });
    let lag = aborted_at.expect("no ControllerAborted") - clicked;
    assert!(
        (0.0..500.0).contains(&lag),
        "controller aborted {lag} ms after the click"
    );
    assert_eq!(
        watched.with(|seen| seen.live.network_check().never_sent) as usize,
        counts.requests_aborted as usize
    );
    assert!(flagged(
        &lifecycles_of(&watched, "abort-1"),
        PollFlag::PreAborted
    ));
}

#[tokio::test]
async fn reused_controller_fixed() {
    let watched = Watched::start().await;
    let (clicked, end) = abort_timeline(&watched, "fixed").await;
    let server = arrivals(&watched, "abort-1", clicked, end);
    assert!(
        (19..=21).contains(&server),
        "server saw {server} abort-1 requests after the cancel"
    );
    let counts = watched.with(|seen| seen.live.counts());
    assert_eq!(counts.controllers_aborted, 1);
    assert_eq!(
        counts.requests_aborted, 0,
        "the aborted controller's fetch had already finished"
    );
    let created_after = watched.with(|seen| {
        seen.records
            .iter()
            .filter(|record| matches!(record.body, RecordBody::ControllerCreated { page_ms, .. } if page_ms > clicked))
            .count()
    });
    assert!(
        (19..=21).contains(&created_after),
        "{created_after} controllers created after the cancel"
    );
}
