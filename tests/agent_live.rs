//! The agent in a real headless Chromium, through Leakscope's own session:
//! counts of timers, requests and AbortControllers against what the test
//! pages do, creation sites, reloads, late injection and the demo editor.

#[path = "agent_watch.rs"]
mod agent_watch;

use std::collections::BTreeMap;
use std::time::Duration;

use agent_watch::{line_of, wait_for, Watched, DEADLINE};
use leakscope_demo::{Flow, FlowSelection, JobOutcome, OperationBehaviour, Scenario, Variant};
use leakscope_model::live::SiteKind;
use leakscope_model::{RecordBody, RequestOutcome};
use serde_json::json;

fn hang() -> OperationBehaviour {
    OperationBehaviour {
        hang: true,
        ..OperationBehaviour::default()
    }
}

fn answer(body: serde_json::Value) -> OperationBehaviour {
    OperationBehaviour {
        sequence: vec![body],
        ..OperationBehaviour::default()
    }
}

/// Opens counts.html and waits until its short timeout fired and the agent reported it.
async fn open_counts(watched: &Watched) {
    watched.open("counts.html").await;
    watched
        .wait_until("the short timeout's TimerFired", DEADLINE, |seen| {
            seen.records
                .iter()
                .any(|record| matches!(record.body, RecordBody::TimerFired { .. }))
        })
        .await;
}

#[tokio::test]
async fn timer_counts_exact() {
    let watched = Watched::start().await;
    open_counts(&watched).await;
    let counts = watched.with(|seen| seen.live.counts());
    assert_eq!(counts.timers_created, 5, "3 intervals and 2 timeouts");
    assert_eq!(counts.timers_cleared, 1);
    assert_eq!(counts.timers_live, 3);
    assert_eq!(counts.intervals_live, 2);
    assert_eq!(counts.timeouts_live, 1);
    assert_eq!(watched.eval("window.shortTimeoutFired").await, json!(true));
}

#[tokio::test]
async fn sites_point_at_lines() {
    let watched = Watched::start().await;
    open_counts(&watched).await;
    let (sites, table) = watched.with(|seen| {
        let sites = seen.live.sites();
        let table: Vec<_> = sites
            .iter()
            .map(|row| row.site.and_then(|id| seen.live.site(id).cloned()))
            .collect();
        (sites, table)
    });
    let interval = sites
        .iter()
        .position(|row| row.kind == SiteKind::Interval)
        .expect("no interval site");
    let site = table[interval]
        .as_ref()
        .expect("interval site missing from the site table");
    assert!(
        site.url.ends_with("/page/counts.js"),
        "interval site is {}",
        site.url
    );
    assert_eq!(site.line, line_of("counts.js", "setInterval(tick"));
    assert_eq!(site.function, "startIntervals");
    assert_eq!(sites[interval].live, 2);
    assert_eq!(sites[interval].created, 3);
    assert_eq!(sites[interval].cleared, 1);
    assert_eq!(sites[interval].delay_ms, Some(60000.0));

    let timeout_lines: Vec<u32> = sites
        .iter()
        .zip(&table)
        .filter(|(row, _)| row.kind == SiteKind::Timeout && row.live == 1)
        .map(|(_, site)| site.as_ref().map_or(0, |site| site.line))
        .collect();
    assert_eq!(timeout_lines, vec![line_of("counts.js", "setTimeout(tick")]);

    let clear_site = watched.with(|seen| {
        seen.records.iter().find_map(|record| match record.body {
            RecordBody::TimerCleared {
                site: Some(site), ..
            } => seen.live.site(site).cloned(),
            _ => None,
        })
    });
    assert_eq!(
        clear_site.expect("clear has no site").line,
        line_of("counts.js", "clearInterval(intervals[0])")
    );
}

#[tokio::test]
async fn reload_counts_new_document() {
    let watched = Watched::start().await;
    open_counts(&watched).await;
    watched.reload().await;
    watched
        .wait_until(
            "the reloaded page's short timeout to fire",
            DEADLINE,
            |seen| {
                seen.records
                    .iter()
                    .filter(|record| matches!(record.body, RecordBody::TimerFired { .. }))
                    .count()
                    >= 2
            },
        )
        .await;
    let counts = watched.with(|seen| seen.live.counts());
    assert_eq!(
        counts.timers_live, 3,
        "the old document's timers died with it"
    );
    assert_eq!(counts.intervals_live, 2);
    assert_eq!(counts.timeouts_live, 1);
    assert_eq!(counts.timers_created, 10, "totals run across documents");
    let interval_live: u64 = watched.with(|seen| {
        seen.live
            .sites()
            .iter()
            .filter(|row| row.kind == SiteKind::Interval)
            .map(|row| row.live)
            .sum()
    });
    assert_eq!(
        interval_live, 2,
        "the same site id is kept across the reload"
    );
    assert!(!watched.with(|seen| seen.live.agent().late));
}

#[tokio::test]
async fn request_outcomes_bucketed() {
    let watched = Watched::start().await;
    watched.script(
        "counts-ok",
        answer(json!({ "done": false, "status": "processing" })),
    );
    watched.script("counts-hang", hang());
    open_counts(&watched).await;

    assert_eq!(watched.eval("completedFetch()").await, json!("completed"));
    assert_eq!(watched.eval("abortedFetch()").await, json!("AbortError"));
    assert_eq!(watched.eval("failedFetch()").await, json!("TypeError"));
    assert_eq!(watched.eval("preAbortedFetch()").await, json!("AbortError"));
    assert_eq!(watched.eval("abortedXhr()").await, json!("abort"));
    watched
        .wait_until("5 requests to end", DEADLINE, |seen| {
            let counts = seen.live.counts();
            counts.requests_completed + counts.requests_aborted + counts.requests_failed >= 5
        })
        .await;

    let counts = watched.with(|seen| seen.live.counts());
    assert_eq!(counts.requests_in_flight, 0);
    assert_eq!(counts.requests_completed, 1);
    assert_eq!(
        counts.requests_aborted, 3,
        "aborted fetch, pre-aborted fetch, aborted XHR"
    );
    assert_eq!(counts.requests_failed, 1);
    // Both controllers may already be garbage collected.
    assert!(
        counts.controllers_live <= 2,
        "{} controllers live",
        counts.controllers_live
    );
    assert_eq!(counts.controllers_aborted, 2);

    let started = watched.agent_requests("counts-ok");
    let pre_aborted: Vec<bool> = started
        .iter()
        .map(|(_, request)| request.signal_aborted)
        .collect();
    assert_eq!(
        pre_aborted,
        vec![false, true],
        "only the fetch started with an aborted signal is marked"
    );
    assert!(
        started[1].1.controller.is_some(),
        "the pre-aborted fetch names its controller"
    );

    let now = watched.now_t();
    let row = watched
        .with(|seen| seen.live.endpoint("GET", "/api/video/status", now))
        .expect("no status endpoint row");
    assert_eq!(row.started, 4, "the refused fetch went to another endpoint");
    assert_eq!(row.started_aborted, 1);
    assert_eq!(row.completed, 1);
    assert_eq!(row.aborted, 3);
    assert_eq!(row.failed, 0);

    let fields = watched.with(|seen| {
        seen.records.iter().find_map(|record| match &record.body {
            RecordBody::RequestEnded(ended) if !ended.response_fields.is_empty() => {
                Some(ended.response_fields.clone())
            }
            _ => None,
        })
    });
    let fields = fields.expect("no response fields");
    assert_eq!(fields.get("status").map(String::as_str), Some("processing"));
    assert_eq!(fields.get("done").map(String::as_str), Some("false"));
    assert_eq!(watched.with(|seen| seen.bad_events), 0);
}

#[tokio::test]
async fn network_cross_check() {
    let watched = Watched::start().await;
    watched.script("counts-ok", answer(json!({ "done": false })));
    watched.script("counts-hang", hang());
    open_counts(&watched).await;
    assert_eq!(watched.eval("preAbortedFetch()").await, json!("AbortError"));
    assert_eq!(watched.eval("hangingFetch()").await, json!("started"));
    watched
        .wait_until(
            "the hanging fetch to be joined to its Network request",
            DEADLINE,
            |seen| seen.live.network_check().joined >= 1,
        )
        .await;
    let check = watched.with(|seen| seen.live.network_check());
    assert_eq!(check.joined, 1);
    assert_eq!(
        check.never_sent, 1,
        "the pre-aborted fetch never reached the network"
    );
    assert_eq!(check.agent_only_in_flight, 0);
    let network_urls = watched.with(|seen| {
        seen.records
            .iter()
            .filter_map(|record| match &record.body {
                RecordBody::Network(leakscope_model::NetworkEvent::Sent { url, .. }) => {
                    Some(url.clone())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    });
    assert!(
        !network_urls.iter().any(|url| url.contains("counts-ok")),
        "pre-aborted fetch on the network: {network_urls:?}"
    );
}

#[tokio::test]
async fn late_injection_reported() {
    let watched = Watched::start_on(Some("counts.html")).await;
    watched
        .wait_until("the late injection", DEADLINE, |seen| {
            seen.live.agent().injected
        })
        .await;
    assert!(watched.with(|seen| seen.live.agent().late));
    assert_eq!(
        watched.with(|seen| seen.live.counts().timers_live),
        0,
        "timers made before injection are invisible"
    );

    watched.reload().await;
    watched
        .wait_until(
            "the reloaded page's short timeout to fire",
            DEADLINE,
            |seen| {
                seen.records
                    .iter()
                    .any(|record| matches!(record.body, RecordBody::TimerFired { .. }))
            },
        )
        .await;
    assert!(!watched.with(|seen| seen.live.agent().late));
    assert_eq!(watched.with(|seen| seen.live.counts().timers_live), 3);
}

#[tokio::test]
async fn second_injection_does_not_double_wrap() {
    let watched = Watched::start().await;
    open_counts(&watched).await;
    let before = watched.with(|seen| seen.records.len());
    watched
        .eval(leakscope_core::agent::injection_source())
        .await;
    assert_eq!(
        watched.eval("setTimeout(function () {}, 60000) > 0").await,
        json!(true)
    );
    watched
        .wait_until("the new timer", DEADLINE, |seen| {
            seen.live.counts().timers_created == 6
        })
        .await;
    let injected_again = watched.with(|seen| {
        seen.records[before..]
            .iter()
            .filter(|record| matches!(record.body, RecordBody::AgentInjected { .. }))
            .count()
    });
    assert_eq!(
        injected_again, 0,
        "a resync for a known document is not news"
    );
    assert_eq!(
        watched.with(|seen| seen.live.counts().timers_live),
        4,
        "one timer, counted once"
    );
}

#[tokio::test]
async fn poll_api_and_console() {
    let watched = Watched::start().await;
    open_counts(&watched).await;
    watched
        .eval(
            "leakscope.poll.start('op-api', 'video'); leakscope.poll.attempt('op-api'); leakscope.poll.end('op-api', 'complete'); \
             leakscope.poll.unmount('panel'); \
             console.info('[PollingHealth] Polling completed:', { id: 'op-c', type: 'upscale', pollCount: 7, duration: 21000, reason: 'timeout' }); \
             console.error('[PollingHealth] Runaway poll detected:', { id: 'op-r', type: 'video', pollCount: 61 }); \
             console.log('[PollingHealth]', { activePolls: 1, polls: [{ id: 'op-h', type: 'audio-suno', age: 5000, pollCount: 3 }] }); \
             console.log('unrelated', { id: 'x' }); 1",
        )
        .await;
    watched
        .wait_until("7 poll signals", DEADLINE, |seen| {
            seen.records
                .iter()
                .filter(|record| matches!(record.body, RecordBody::PollSignal(_)))
                .count()
                >= 7
        })
        .await;
    let signals: Vec<_> = watched.with(|seen| {
        seen.records
            .iter()
            .filter_map(|record| match &record.body {
                RecordBody::PollSignal(signal) => Some(signal.clone()),
                _ => None,
            })
            .collect()
    });
    use leakscope_model::PollSignalKind::*;
    let summary: Vec<(_, &str, &str)> = signals
        .iter()
        .map(|signal| {
            (
                signal.signal,
                signal.operation.as_str(),
                signal.source.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (Start, "op-api", "api"),
            (Attempt, "op-api", "api"),
            (End, "op-api", "api"),
            (Unmount, "panel", "api"),
            (End, "op-c", "console"),
            (Runaway, "op-r", "console"),
            (Report, "op-h", "console"),
        ]
    );
    assert_eq!(signals[0].poll_type.as_deref(), Some("video"));
    assert_eq!(signals[2].reason.as_deref(), Some("complete"));
    assert_eq!(signals[4].reason.as_deref(), Some("timeout"));
    assert_eq!(signals[4].attempts, Some(7));
    assert_eq!(signals[4].age_ms, Some(21000.0));
    assert_eq!(signals[5].attempts, Some(61));
    assert_eq!(signals[6].poll_type.as_deref(), Some("audio-suno"));
    assert_eq!(signals[6].attempts, Some(3));
}

/// Poll interval of the demo runs, in milliseconds.
const DEMO_INTERVAL_MS: u64 = 200;

/// What the demo page holds: poll timers live (those with the poll interval
/// as delay; the editor's health monitor has its own interval), requests in
/// flight, and requests started so far.
fn demo_counts(watched: &Watched) -> (u64, u64, u64) {
    watched.with(|seen| {
        let poll_timers = seen
            .live
            .timers()
            .filter(|(_, timer)| timer.delay_ms == DEMO_INTERVAL_MS as f64)
            .count() as u64;
        let counts = seen.live.counts();
        let started = counts.requests_in_flight
            + counts.requests_completed
            + counts.requests_aborted
            + counts.requests_failed;
        (poll_timers, counts.requests_in_flight, started)
    })
}

/// Runs the demo editor's Suno flow (an interval poll) for 3 open / generate /
/// close cycles with a job that never completes. Returns the demo counts when
/// the cycles are over and again after 10 more poll intervals.
async fn demo_after_cycles(variant: Variant) -> ((u64, u64, u64), (u64, u64, u64)) {
    let watched = Watched::start().await;
    let mut scenario = Scenario::new(variant, FlowSelection::from(Flow::Suno));
    scenario.interval_ms = Some(DEMO_INTERVAL_MS);
    scenario.cycles = Some(3);
    scenario.cycle_ms = Some(1000);
    scenario.gap_ms = Some(300);
    scenario.job = Some(JobOutcome::Never);
    let url = watched.harness.demo.scenario_url(&scenario);
    watched.navigate(&url).await;
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let state = watched
            .eval("window.demo ? window.demo.state().cyclesDone : false")
            .await;
        if state == json!(true) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "the demo cycles did not finish within {DEADLINE:?}"
        );
        // Only bounds how late the end of the cycles is seen.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The last close's events reach the session within one batch period.
    watched
        .wait_until("the agent to report the last close", DEADLINE, |seen| {
            seen.records
                .iter()
                .filter(|record| {
                    matches!(
                        record.body,
                        RecordBody::TimerCleared { .. } | RecordBody::TimerCreated { .. }
                    )
                })
                .count()
                > 0
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_end = demo_counts(&watched);
    // Ten poll intervals: the step between the two readings, not a check.
    tokio::time::sleep(Duration::from_millis(10 * DEMO_INTERVAL_MS)).await;
    (at_end, demo_counts(&watched))
}

#[tokio::test]
async fn demo_leaky_keeps_rising() {
    let ((timers_end, _, started_end), (timers_later, _, started_later)) =
        demo_after_cycles(Variant::Leaky).await;
    assert_eq!(timers_end, 3, "each closed panel left its poll interval");
    assert_eq!(timers_later, 3);
    assert!(
        started_later >= started_end + 20,
        "requests went from {started_end} to {started_later} in 10 intervals"
    );
}

#[tokio::test]
async fn demo_fixed_returns_to_zero() {
    let ((timers_end, in_flight_end, started_end), (timers_later, in_flight_later, started_later)) =
        demo_after_cycles(Variant::Fixed).await;
    assert_eq!(timers_end, 0, "poll timers live after the last close");
    assert_eq!(in_flight_end, 0);
    assert_eq!(timers_later, 0);
    assert_eq!(in_flight_later, 0);
    assert_eq!(
        started_later, started_end,
        "no request after the panels closed"
    );
}

/// A response the page reads with `text()` or `arrayBuffer()` ends with its
/// fields. One the page never reads ends without fields, stamped with its
/// arrival time.
#[tokio::test]
async fn fields_from_page_body_read() {
    let watched = Watched::start().await;
    watched.script(
        "body-text",
        answer(json!({ "status": "rendering", "done": false, "progress": 40 })),
    );
    watched.script("body-bytes", answer(json!({ "status": "encoding" })));
    watched.script("body-unread", answer(json!({ "status": "queued" })));
    open_counts(&watched).await;

    let read = watched.eval("readAsText('body-text')").await;
    assert!(read.as_u64().is_some_and(|length| length > 0), "{read}");
    let read = watched.eval("readAsBytes('body-bytes')").await;
    assert!(read.as_u64().is_some_and(|length| length > 0), "{read}");
    assert_eq!(watched.eval("leaveUnread('body-unread')").await, json!(200));

    let ended = |operation: &str| {
        let (started_ms, started) = watched.agent_requests(operation).pop()?;
        watched.with(|seen| {
            seen.records.iter().find_map(|record| match &record.body {
                RecordBody::RequestEnded(ended) if ended.id == started.id => {
                    Some((ended.clone(), ended.page_ms - started_ms))
                }
                _ => None,
            })
        })
    };
    let (text, bytes, unread) = wait_for("the three requests to end", DEADLINE, || async {
        Some((
            ended("body-text")?,
            ended("body-bytes")?,
            ended("body-unread")?,
        ))
    })
    .await;

    let (text, _) = text;
    assert_eq!(text.outcome, RequestOutcome::Completed { status: 200 });
    let expected: BTreeMap<String, String> = [
        ("status", "rendering"),
        ("done", "false"),
        ("progress", "40"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    assert_eq!(text.response_fields, expected);

    let (bytes, _) = bytes;
    assert_eq!(bytes.outcome, RequestOutcome::Completed { status: 200 });
    assert_eq!(
        bytes.response_fields.get("status").map(String::as_str),
        Some("encoding")
    );

    let (unread, duration_ms) = unread;
    assert_eq!(unread.outcome, RequestOutcome::Completed { status: 200 });
    assert!(unread.response_fields.is_empty(), "{unread:?}");
    assert!(
        duration_ms < 1000.0,
        "the unread response's end is stamped {duration_ms} ms after its start, not when it arrived"
    );
}

/// Events queued before a `pushState` reach the session before the
/// navigation, so a request sent just before a route change is not counted
/// after it.
#[tokio::test]
async fn events_precede_route_change() {
    let watched = Watched::start().await;
    watched.script("before-route", answer(json!({ "done": false })));
    open_counts(&watched).await;

    let path = watched.eval("fetchThenNavigate('before-route')").await;
    assert_eq!(path, json!("/elsewhere"));

    let positions = |seen: &agent_watch::Seen| {
        let request = seen.records.iter().position(|record| {
            matches!(&record.body, RecordBody::RequestStarted(started)
                if started.url.contains("operationName=before-route"))
        });
        let navigation = seen.records.iter().position(|record| {
            matches!(&record.body, RecordBody::Navigation { url, .. } if url.ends_with("/elsewhere"))
        });
        (request, navigation)
    };
    watched
        .wait_until("the request and the navigation", DEADLINE, |seen| {
            let (request, navigation) = positions(seen);
            request.is_some() && navigation.is_some()
        })
        .await;
    let (request, navigation) = watched.with(positions);
    assert!(
        request < navigation,
        "the request (record {request:?}) came after the navigation (record {navigation:?})"
    );
}
