//! The CDP session and the recorder against a real headless Chromium and the
//! real demo server: attaching to a tab that already runs, staying off other
//! tabs, navigation records, and ending cleanly when the tab closes or the
//! browser dies.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leakscope_core::recorder::RecorderHandle;
use leakscope_core::{
    select_target, Browser, BrowserConnection, ConnectOptions, Endpoint, RecordSummary, Recorder,
    RecorderConfig, Session, SessionError, SessionState,
};
use leakscope_demo::{Flow, Scenario, Variant};
use leakscope_model::{EndReason, NavigationKind, Record, RecordBody, RecordingReader};
use serde_json::json;
use support::{Harness, RawCdp};
use tokio::task::JoinHandle;

/// Deadline for anything the page or the browser does within a few seconds.
const DEADLINE: Duration = Duration::from_secs(30);

/// Opens `url` in a new tab through a browser-level CDP connection, so the tab
/// itself has no DevTools client attached. Returns the target id.
async fn create_tab(harness: &Harness, url: &str) -> String {
    let mut browser = RawCdp::connect(&harness.browser.ws_url()).await;
    let created = browser
        .call("Target.createTarget", json!({ "url": url }))
        .await;
    created["targetId"]
        .as_str()
        .expect("Target.createTarget returned no targetId")
        .to_owned()
}

/// Closes a tab with `Target.closeTarget` on a browser-level connection.
async fn close_tab(harness: &Harness, target_id: &str) {
    let mut browser = RawCdp::connect(&harness.browser.ws_url()).await;
    browser
        .call("Target.closeTarget", json!({ "targetId": target_id }))
        .await;
}

/// The demo editor's URL with a marker parameter, so its page loads can be
/// counted in the server's request log.
fn editor_url(harness: &Harness, variant: Variant, marker: &str) -> String {
    let mut scenario = Scenario::new(variant, Flow::Video);
    scenario.interval_ms = Some(200);
    format!("{}&probe={marker}", harness.demo.scenario_url(&scenario))
}

/// Page loads of the editor with `marker` seen by the demo server.
fn page_loads(harness: &Harness, marker: &str) -> usize {
    harness
        .demo
        .request_log()
        .iter()
        .filter(|record| {
            record.path == "/"
                && record
                    .query
                    .as_deref()
                    .is_some_and(|query| query.contains(marker))
        })
        .count()
}

async fn wait_for_load(harness: &Harness, marker: &str) {
    support::wait_for(&format!("the page load of {marker}"), DEADLINE, || async {
        (page_loads(harness, marker) >= 1).then_some(())
    })
    .await;
}

async fn connect(harness: &Harness) -> BrowserConnection {
    Browser::connect(
        &Endpoint::local_port(harness.browser.port()),
        &ConnectOptions::default(),
    )
    .await
    .expect("failed to connect to the launched browser")
}

/// Starts a recording of `target_id` into `dir`, with no duration limit.
async fn start_recording(
    connection: &BrowserConnection,
    target_id: &str,
    dir: &Path,
    interval: Duration,
) -> (Session, RecorderHandle, JoinHandle<RecordSummary>) {
    let targets = connection.targets().await.unwrap();
    let target = select_target(&targets, target_id).unwrap();
    let session = connection.attach(&target.id).await.unwrap();
    let config = RecorderConfig {
        interval,
        ..RecorderConfig::default()
    };
    let recorder = Recorder::start(session.clone(), target.info(), &dir.join("r.jsonl"), config)
        .await
        .unwrap();
    let handle = recorder.handle();
    let task = tokio::spawn(async move { recorder.run().await.expect("recording failed") });
    (session, handle, task)
}

/// Waits until the recording has `count` samples.
async fn wait_for_samples(handle: &RecorderHandle, count: u64) {
    let mut status = handle.status();
    tokio::time::timeout(DEADLINE, status.wait_for(|status| status.samples >= count))
        .await
        .expect("timed out waiting for samples")
        .expect("the recorder ended before taking enough samples");
}

fn read_records(path: &Path) -> Vec<Record> {
    RecordingReader::read_all(path)
        .expect("the recording is unreadable")
        .records
}

#[tokio::test]
async fn existing_tab_attaches_without_reload() {
    let harness = Harness::start().await;
    let main_id = create_tab(&harness, &editor_url(&harness, Variant::Fixed, "main")).await;
    let other_id = create_tab(&harness, &editor_url(&harness, Variant::Fixed, "other")).await;
    wait_for_load(&harness, "main").await;
    wait_for_load(&harness, "other").await;

    let connection = connect(&harness).await;
    // The server sees the request before the tab commits the document; a
    // commit after the attach would be recorded as a navigation. The title
    // is the document's only once it is committed and parsed.
    support::wait_for("the main tab's document", DEADLINE, || async {
        let targets = connection.targets().await.ok()?;
        targets
            .iter()
            .any(|target| target.id == main_id && target.title == "Leakscope demo editor")
            .then_some(())
    })
    .await;
    let targets = connection.targets().await.unwrap();
    assert!(
        targets.iter().any(|target| target.id == main_id),
        "main tab not listed: {targets:?}"
    );
    assert!(
        targets.iter().any(|target| target.id == other_id),
        "other tab not listed: {targets:?}"
    );
    assert_eq!(select_target(&targets, "probe=main").unwrap().id, main_id);

    let dir = tempfile::tempdir().unwrap();
    let (_session, handle, task) = start_recording(
        &connection,
        "probe=main",
        dir.path(),
        Duration::from_millis(200),
    )
    .await;
    wait_for_samples(&handle, 5).await;

    let targets = connection.targets().await.unwrap();
    let attached = |id: &str| {
        targets
            .iter()
            .find(|target| target.id == id)
            .map(|target| target.attached)
    };
    assert_eq!(attached(&main_id), Some(true), "{targets:?}");
    assert_eq!(
        attached(&other_id),
        Some(false),
        "we attached to the other tab: {targets:?}"
    );

    handle.stop().await;
    let summary = tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    assert_eq!(summary.end_reason, EndReason::Stopped);
    assert!(summary.samples >= 5, "{summary:?}");
    assert_eq!(
        page_loads(&harness, "main"),
        1,
        "attaching or recording reloaded the tab"
    );
    assert_eq!(summary.navigations, 0);
}

#[tokio::test]
async fn navigations_are_recorded_and_sampling_goes_on() {
    let harness = Harness::start().await;
    let url = editor_url(&harness, Variant::Fixed, "nav");
    let tab = create_tab(&harness, &url).await;
    wait_for_load(&harness, "nav").await;
    let connection = connect(&harness).await;
    let dir = tempfile::tempdir().unwrap();
    let (session, handle, task) =
        start_recording(&connection, &tab, dir.path(), Duration::from_millis(200)).await;
    let mut records = handle.subscribe();
    wait_for_samples(&handle, 2).await;

    session
        .call_raw("Page.reload", json!({}), DEADLINE)
        .await
        .unwrap();
    let reload = wait_for_record(&mut records, |body| {
        matches!(
            body,
            RecordBody::Navigation {
                navigation: NavigationKind::Reload,
                ..
            }
        )
    })
    .await;
    session
        .call_raw(
            "Runtime.evaluate",
            json!({ "expression": "history.pushState({}, '', '/spa-route')" }),
            DEADLINE,
        )
        .await
        .unwrap();
    let same = wait_for_record(&mut records, |body| {
        matches!(body, RecordBody::Navigation { navigation: NavigationKind::SameDocument, url } if url.ends_with("/spa-route"))
    })
    .await;
    let after = handle.status().borrow().samples;
    wait_for_samples(&handle, after + 3).await;
    handle.stop().await;
    let summary = tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();

    assert_eq!(
        page_loads(&harness, "nav"),
        2,
        "the reload should load the page once more"
    );
    let records = read_records(&summary.recording);
    let samples_after = records
        .iter()
        .filter(|record| record.t > same.t && matches!(record.body, RecordBody::Sample(_)))
        .count();
    assert!(samples_after >= 3, "sampling stopped after the navigations");
    assert!(reload.t < same.t);
    assert_eq!(summary.navigations, 2);
}

async fn wait_for_record(
    records: &mut tokio::sync::broadcast::Receiver<Arc<Record>>,
    matches: impl Fn(&RecordBody) -> bool,
) -> Record {
    tokio::time::timeout(DEADLINE, async {
        loop {
            let record = records.recv().await.expect("the recorder ended");
            if matches(&record.body) {
                return (*record).clone();
            }
        }
    })
    .await
    .expect("timed out waiting for a record")
}

#[tokio::test]
async fn closing_tab_ends_recording() {
    let harness = Harness::start().await;
    let tab = create_tab(&harness, &editor_url(&harness, Variant::Leaky, "close")).await;
    wait_for_load(&harness, "close").await;
    let connection = connect(&harness).await;
    let dir = tempfile::tempdir().unwrap();
    let (_session, handle, task) =
        start_recording(&connection, &tab, dir.path(), Duration::from_millis(200)).await;
    wait_for_samples(&handle, 3).await;
    let samples_before = handle.status().borrow().samples;

    let closed_at = Instant::now();
    close_tab(&harness, &tab).await;
    let summary = tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    eprintln!(
        "recording ended {:?} after the tab was closed",
        closed_at.elapsed()
    );

    assert_eq!(
        summary.end_reason,
        EndReason::TargetClosed,
        "{}",
        summary.end_message
    );
    let records = read_records(&summary.recording);
    let samples = records
        .iter()
        .filter(|record| matches!(record.body, RecordBody::Sample(_)))
        .count() as u64;
    assert!(
        samples >= samples_before,
        "samples were lost: {samples} < {samples_before}"
    );
    let last = records.last().unwrap();
    assert!(
        matches!(&last.body, RecordBody::End { reason: EndReason::TargetClosed, message } if message.contains("closed")),
        "{last:?}"
    );
}

#[tokio::test]
async fn killing_browser_ends_recording() {
    let harness = Harness::start().await;
    let tab = create_tab(&harness, &editor_url(&harness, Variant::Leaky, "kill")).await;
    wait_for_load(&harness, "kill").await;
    let connection = connect(&harness).await;
    let dir = tempfile::tempdir().unwrap();
    let (_session, handle, task) =
        start_recording(&connection, &tab, dir.path(), Duration::from_millis(200)).await;
    wait_for_samples(&handle, 3).await;

    let Harness { demo, browser } = harness;
    let killed_at = Instant::now();
    browser.kill().await;
    let summary = tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    eprintln!(
        "recording ended {:?} after the browser was killed",
        killed_at.elapsed()
    );
    drop(demo);

    assert_eq!(
        summary.end_reason,
        EndReason::BrowserGone,
        "{}",
        summary.end_message
    );
    let records = read_records(&summary.recording);
    assert!(
        records
            .iter()
            .filter(|record| matches!(record.body, RecordBody::Sample(_)))
            .count()
            >= 3
    );
    assert!(matches!(
        records.last().unwrap().body,
        RecordBody::End {
            reason: EndReason::BrowserGone,
            ..
        }
    ));
}

#[tokio::test]
async fn pending_command_fails_when_tab_closes() {
    let harness = Harness::start().await;
    let tab = create_tab(&harness, &editor_url(&harness, Variant::Fixed, "pending")).await;
    wait_for_load(&harness, "pending").await;
    let connection = connect(&harness).await;
    let session = connection.attach(&tab).await.unwrap();

    // A promise that never settles keeps Runtime.evaluate pending. The
    // deadline is far beyond the test's: a Timeout would mean the close was missed.
    let pending = {
        let session = session.clone();
        tokio::spawn(async move {
            session
                .call_raw(
                    "Runtime.evaluate",
                    json!({ "expression": "new Promise(() => {})", "awaitPromise": true }),
                    Duration::from_secs(600),
                )
                .await
        })
    };
    // Make sure the evaluate reached the browser before closing.
    session
        .call_raw("Runtime.getHeapUsage", json!({}), DEADLINE)
        .await
        .unwrap();
    close_tab(&harness, &tab).await;

    let error = tokio::time::timeout(DEADLINE, pending)
        .await
        .expect("the pending command hung")
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            SessionError::Ended {
                cause: SessionState::TargetClosed | SessionState::Detached { .. },
                ..
            }
        ),
        "{error}"
    );
}
