//! Recording the demo editor: the leaky variant's heap rises, the fixed
//! one's stays flat. Real headless Chromium, real demo server, real files.

mod support;

use std::time::Duration;

use leakscope_core::{select_target, Browser, ConnectOptions, Endpoint, Recorder, RecorderConfig};
use leakscope_demo::{FlowSelection, Scenario, Variant};
use leakscope_model::{RecordBody, RecordingReader};
use serde_json::json;
use support::Harness;

/// Recording length: three garbage-collected samples (at 0, 10 and 20 s).
const RECORDING: Duration = Duration::from_secs(21);

/// Kilobytes the leaky page keeps per poll; with polls every 200 ms and a
/// new chain every cycle this retains tens of megabytes in 20 s.
const LEAK_KB: u32 = 64;

/// Largest change of the garbage-collected heap accepted as flat. The fixed
/// page keeps nothing per poll; what moves its heap after a full GC is
/// compiled code, the agent's bounded registries and V8's own caches, which
/// stay well under a megabyte on this page. 3 MiB leaves room for that noise
/// while the leaky page grows by over 10 MiB.
const FLAT_TOLERANCE: i64 = 3 * 1024 * 1024;

/// Records `variant` for [`RECORDING`] with a GC before every tenth sample,
/// and returns the heap used after each GC, in bytes.
async fn gc_heap_series(variant: Variant) -> Vec<u64> {
    let harness = Harness::start().await;
    let mut scenario = Scenario::new(variant, FlowSelection::All);
    scenario.interval_ms = Some(200);
    scenario.cycles = Some(100);
    scenario.cycle_ms = Some(1000);
    scenario.gap_ms = Some(200);
    scenario.complete_after = Some(3);
    scenario.leak_kb = Some(LEAK_KB);
    let url = harness.demo.scenario_url(&scenario);
    let mut browser = support::RawCdp::connect(&harness.browser.ws_url()).await;
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
    let targets = connection.targets().await.unwrap();
    let target = select_target(&targets, &target_id).unwrap();
    let session = connection.attach(&target.id).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = RecorderConfig {
        interval: Duration::from_secs(1),
        duration: Some(RECORDING),
        gc_before_sample: true,
        ..RecorderConfig::default()
    };
    let recorder = Recorder::start(session, target.info(), &dir.path().join("r.jsonl"), config)
        .await
        .unwrap();
    let summary = recorder.run().await.unwrap();
    let recording = RecordingReader::read_all(&summary.recording).unwrap();
    recording
        .records
        .iter()
        .filter_map(|record| match &record.body {
            RecordBody::Sample(sample) if sample.after_gc => Some(sample.heap_used),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn leaky_heap_rises_fixed_stays_flat() {
    let leaky = gc_heap_series(Variant::Leaky).await;
    let fixed = gc_heap_series(Variant::Fixed).await;
    eprintln!("post-GC heap, leaky: {leaky:?}; fixed: {fixed:?}");
    assert!(leaky.len() >= 3, "too few GC samples: {leaky:?}");
    assert!(fixed.len() >= 3, "too few GC samples: {fixed:?}");

    let change = |series: &[u64]| series[series.len() - 1] as i64 - series[0] as i64;
    assert!(
        change(&leaky) > 10 * 1024 * 1024,
        "leaky heap did not rise: {leaky:?}"
    );
    assert!(
        leaky.windows(2).all(|pair| pair[1] > pair[0]),
        "leaky heap fell between GCs: {leaky:?}"
    );
    assert!(
        change(&fixed).abs() < FLAT_TOLERANCE,
        "fixed heap moved: {fixed:?}"
    );
}
