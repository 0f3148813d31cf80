//! Heap snapshot capture against a real headless Chromium: a complete file
//! that parses, and a tab closed mid-capture that ends the capture with the
//! `.partial` file kept.

mod support;

use std::time::Duration;

use leakscope_core::capture::{self, CaptureError, CaptureOptions};
use leakscope_core::{Browser, ConnectOptions, Endpoint, Session};
use leakscope_demo::{FlowSelection, Scenario, Variant};
use serde_json::json;
use support::{Harness, RawCdp};

const DEADLINE: Duration = Duration::from_secs(60);

async fn demo_session(harness: &Harness) -> (Session, String) {
    let mut scenario = Scenario::new(Variant::Fixed, FlowSelection::All);
    scenario.interval_ms = Some(200);
    let url = harness.demo.scenario_url(&scenario);
    let mut browser = RawCdp::connect(&harness.browser.ws_url()).await;
    let created = browser
        .call("Target.createTarget", json!({ "url": url }))
        .await;
    let target_id = created["targetId"].as_str().unwrap().to_owned();
    let connection = Browser::connect(
        &Endpoint::local_port(harness.browser.port()),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    let session = connection.attach(&target_id).await.unwrap();
    support::wait_for("the demo editor to load", DEADLINE, || {
        let session = session.clone();
        async move {
            let expression =
                "document.readyState === 'complete' && typeof window.demo === 'object'";
            let reply = session
                .call_raw(
                    "Runtime.evaluate",
                    json!({ "expression": expression, "returnByValue": true }),
                    DEADLINE,
                )
                .await
                .ok()?;
            (reply["result"]["value"] == json!(true)).then_some(())
        }
    })
    .await;
    (session, target_id)
}

#[tokio::test]
async fn snapshot_is_complete_and_parses() {
    let harness = Harness::start().await;
    let (session, _) = demo_session(&harness).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.heapsnapshot");
    let mut progress_events = 0;
    let event = tokio::time::timeout(
        DEADLINE,
        capture::capture(&session, &path, &CaptureOptions::default(), |_| {
            progress_events += 1
        }),
    )
    .await
    .expect("capture hung")
    .expect("capture failed");

    assert_eq!(event.status, "ok");
    assert!(event.gc);
    assert!(progress_events > 0);
    assert!(
        !capture::partial_path(&path).exists(),
        "the .partial file was left behind"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.len() as u64, event.bytes);
    let json: serde_json::Value =
        serde_json::from_str(&text).expect("the snapshot is not valid JSON");
    assert!(
        json["snapshot"]["meta"]["node_fields"].is_array(),
        "no snapshot meta"
    );
    assert!(json["nodes"]
        .as_array()
        .is_some_and(|nodes| !nodes.is_empty()));
}

#[tokio::test]
async fn tab_closed_mid_capture_keeps_partial() {
    let harness = Harness::start().await;
    let (session, target_id) = demo_session(&harness).await;
    // Two million small objects make the capture take seconds, so the close
    // reliably lands while chunks are still coming.
    session
        .call_raw(
            "Runtime.evaluate",
            json!({ "expression": "window.__big = Array.from({ length: 2e6 }, (_, i) => ({ i })); 0" }),
            DEADLINE,
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.heapsnapshot");
    let (first_progress, mut progressed) = tokio::sync::mpsc::unbounded_channel();
    let capture = {
        let session = session.clone();
        let path = path.clone();
        tokio::spawn(async move {
            capture::capture(&session, &path, &CaptureOptions::default(), move |_| {
                let _ = first_progress.send(());
            })
            .await
        })
    };
    tokio::time::timeout(DEADLINE, progressed.recv())
        .await
        .expect("no progress")
        .expect("capture ended early");
    let mut browser = RawCdp::connect(&harness.browser.ws_url()).await;
    browser
        .call("Target.closeTarget", json!({ "targetId": target_id }))
        .await;

    let result = tokio::time::timeout(DEADLINE, capture)
        .await
        .expect("capture hung after the tab closed")
        .unwrap();
    let error = result.expect_err("the capture finished although the tab was closed");
    assert!(matches!(error, CaptureError::Session { .. }), "{error}");
    let partial = error.partial().unwrap().to_owned();
    assert!(partial.exists(), "the .partial file is gone");
    assert!(error.to_string().contains(".partial"), "{error}");
    assert!(
        !path.exists(),
        "an incomplete snapshot was renamed to the target"
    );
}

#[tokio::test]
async fn capture_during_recording_pauses_sampling() {
    use leakscope_core::{Recorder, RecorderConfig};
    use leakscope_model::{RecordBody, RecordingReader};

    let harness = Harness::start().await;
    let (session, target_id) = demo_session(&harness).await;
    let dir = tempfile::tempdir().unwrap();
    let target = leakscope_model::TargetInfo {
        id: target_id,
        kind: "page".into(),
        ..Default::default()
    };
    let config = RecorderConfig {
        interval: Duration::from_millis(200),
        ..RecorderConfig::default()
    };
    let recorder = Recorder::start(session.clone(), target, &dir.path().join("r.jsonl"), config)
        .await
        .unwrap();
    let handle = recorder.handle();
    let run = tokio::spawn(recorder.run());
    let mut status = handle.status();
    status.wait_for(|status| status.samples >= 2).await.unwrap();

    let path = dir.path().join("page.heapsnapshot");
    let event =
        capture::capture_recorded(&session, &handle, &path, &CaptureOptions::default(), |_| {})
            .await
            .expect("capture failed");
    let after = handle.status().borrow().samples;
    status
        .wait_for(|status| status.samples >= after + 2)
        .await
        .unwrap();
    handle.stop().await;
    let summary = tokio::time::timeout(DEADLINE, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let records = RecordingReader::read_all(&summary.recording)
        .unwrap()
        .records;
    let paused = records
        .iter()
        .position(|record| matches!(&record.body, RecordBody::Gap { reason } if reason.contains("heap snapshot")))
        .expect("no gap for the capture");
    let snapshot = records
        .iter()
        .position(
            |record| matches!(&record.body, RecordBody::Snapshot(recorded) if *recorded == event),
        )
        .expect("no snapshot record");
    assert!(paused < snapshot);
    let sampled_during = records[paused..snapshot]
        .iter()
        .any(|record| matches!(record.body, RecordBody::Sample(_)));
    assert!(!sampled_during, "sampling went on during the capture");
    assert!(
        records[snapshot..]
            .iter()
            .any(|record| matches!(record.body, RecordBody::Sample(_))),
        "sampling did not resume"
    );
}
