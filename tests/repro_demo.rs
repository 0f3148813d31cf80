//! Repro runs end to end: a real headless Chromium, the real demo server and
//! the real demo editor (or a test page), driven by the core's repro runner
//! or by the built `leakscope` binary.
//!
//! Every flow's `leaky` variant must be reported leaking (timers, active
//! polls and the heap grow per iteration, and the leaked poll object is a
//! candidate in the snapshot diff, retained through its timer's closure),
//! and the `fixed` variant must not. The demo page polls every
//! [`POLL_INTERVAL_MS`] and keeps [`LEAK_KB`] per poll in the leaky variant, so
//! five iterations take seconds and the snapshots stay small.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use leakscope_core::repro::{
    self, CancelToken, RecordedRun, RecordedSetup, ReproConfig, ReproError, ReproProgress,
};
use leakscope_core::{Browser, BrowserConnection, ConnectOptions, Endpoint, RecorderConfig};
use leakscope_demo::{DemoConfig, Flow, JobOutcome, Scenario, Variant};
use leakscope_model::config::Config;
use leakscope_model::repro::{ActionSpec, ReproReport, ReproVerdict};
use leakscope_model::{EndReason, RecordBody, RecordingReader, TargetInfo};
use serde_json::Value;
use support::Harness;

/// Measured iterations per run: enough for a verdict, few enough to be quick.
const ITERATIONS: u32 = 5;

/// Poll interval of the demo page, milliseconds.
const POLL_INTERVAL_MS: u64 = 250;

/// Kilobytes the leaky variant keeps per poll.
const LEAK_KB: u32 = 32;

/// Name of the demo's poll class, which the leaky variant leaks once per run
/// of the action.
const POLL_CLASS: &str = "StatusPoll";

/// `EXIT_FAIL_ON` of the CLI.
const EXIT_FAIL_ON: i32 = 3;

/// The demo's built-in action and undo for `flow`, as `leakscope demo
/// --repro` runs them.
fn demo_specs(flow: Flow) -> (String, String) {
    let name = flow.name();
    (
        format!(
            r##"[{{"click": "#open-{name}"}}, {{"click": "#generate-{name}"}}, {{"waitFor": "#status-{name}.processing"}}]"##
        ),
        format!(r##"[{{"click": "#close-{name}"}}]"##),
    )
}

fn demo_url(harness: &Harness, variant: Variant, flow: Flow) -> String {
    let mut scenario = Scenario::new(variant, flow);
    scenario.interval_ms = Some(POLL_INTERVAL_MS);
    scenario.job = Some(JobOutcome::Never);
    scenario.leak_kb = Some(LEAK_KB);
    scenario.url(&harness.demo_url())
}

async fn connect(harness: &Harness) -> BrowserConnection {
    let endpoint = Endpoint::websocket(&harness.browser.ws_url()).expect("invalid browser ws URL");
    Browser::connect(&endpoint, &ConnectOptions::default())
        .await
        .expect("failed to connect to the browser")
}

/// Settings of one library run.
struct RunSpec<'a> {
    url: String,
    action: &'a str,
    undo: &'a str,
    iterations: u32,
    warmup: u32,
}

/// Runs a repro through the core on a new tab of `harness`, recording into
/// `dir`. `on_progress` sees every progress report.
async fn run_lib(
    harness: &Harness,
    dir: &Path,
    spec: RunSpec<'_>,
    on_progress: &mut (dyn FnMut(&ReproProgress, &str) + Send + Sync),
) -> RecordedRun {
    let connection = connect(harness).await;
    let tab = harness.open_tab("about:blank").await;
    let session = connection
        .attach(&tab.id)
        .await
        .expect("failed to attach to the tab");
    let target = TargetInfo {
        id: tab.id.clone(),
        kind: "page".to_owned(),
        title: tab.title.clone(),
        url: tab.url.clone(),
    };
    let mut config = ReproConfig::new(
        ActionSpec::parse(spec.action).expect("invalid action"),
        ActionSpec::parse(spec.undo).expect("invalid undo"),
        dir.to_owned(),
    );
    config.iterations = spec.iterations;
    config.warmup = spec.warmup;
    let setup = RecordedSetup {
        recorder: RecorderConfig {
            interval: Duration::from_millis(500),
            agent: true,
            ..RecorderConfig::default()
        },
        analysis: Config::default(),
        recording_path: dir.join("repro.jsonl"),
        navigate_to: Some(spec.url),
    };
    let tab_id = tab.id.clone();
    let mut progress = |update: &ReproProgress| on_progress(update, &tab_id);
    repro::run_recorded(
        session,
        target,
        setup,
        &config,
        &mut progress,
        CancelToken::never(),
    )
    .await
    .expect("the repro recording failed to start")
}

async fn run_demo(harness: &Harness, dir: &Path, variant: Variant, flow: Flow) -> ReproReport {
    let (action, undo) = demo_specs(flow);
    let spec = RunSpec {
        url: demo_url(harness, variant, flow),
        action: &action,
        undo: &undo,
        iterations: ITERATIONS,
        warmup: 1,
    };
    let run = run_lib(harness, dir, spec, &mut |_, _| {}).await;
    run.report
        .unwrap_or_else(|error| panic!("{flow} {variant}: the run failed: {error}"))
}

fn measure<'a>(report: &'a ReproReport, name: &str) -> &'a leakscope_model::repro::MeasureTrend {
    report
        .measures
        .iter()
        .find(|trend| trend.name == name)
        .unwrap_or_else(|| panic!("no {name} measure in {:?}", report.measures))
}

fn check_leaky(report: &ReproReport, flow: Flow) {
    let context = format!("{flow} leaky: {:#?}", report.measures);
    assert!(report.complete, "{context}");
    assert_eq!(report.verdict, ReproVerdict::Leak, "{context}");
    for name in ["timers", "active_polls", "heap_used"] {
        let trend = measure(report, name);
        assert!(
            trend.growing,
            "{flow}: {name} not growing: {}",
            trend.reason
        );
    }
    let timers = measure(report, "timers").per_iteration.unwrap_or(0.0);
    assert!(
        (0.5..=2.0).contains(&timers),
        "{flow}: timers grow by {timers} per iteration, expected about 1"
    );

    let poll = report
        .polls
        .iter()
        .find(|poll| poll.endpoint.contains(flow.status_path()))
        .unwrap_or_else(|| {
            panic!(
                "{flow}: no leaked poll of {}: {:?}",
                flow.status_path(),
                report.polls
            )
        });
    assert_eq!(poll.count, u64::from(ITERATIONS), "{flow}: {poll:?}");
    let timer_site = poll.timer_site.as_deref().unwrap_or_default();
    assert!(
        timer_site.contains("editor.js"),
        "{flow}: timer site {timer_site:?}"
    );
    assert!(
        report
            .timer_sites
            .iter()
            .any(|site| site.site.contains("editor.js")),
        "{flow}: no growing timer site: {:?}",
        report.timer_sites
    );

    let candidate = report
        .candidates
        .iter()
        .find(|candidate| candidate.class == POLL_CLASS)
        .unwrap_or_else(|| {
            let names: Vec<_> = report
                .candidates
                .iter()
                .map(|c| (&c.class, c.count))
                .collect();
            panic!("{flow}: {POLL_CLASS} is not a candidate: {names:?}")
        });
    assert_eq!(
        candidate.count,
        i64::from(ITERATIONS),
        "{flow}: {candidate:?}"
    );
    assert!(
        candidate
            .retainer_path
            .iter()
            .any(|step| step.node_type == "closure"),
        "{flow}: the retainer path of {POLL_CLASS} has no closure: {}",
        candidate.retainer_line
    );
    for snapshot in [
        &report.snapshots.baseline,
        &report.snapshots.target,
        &report.snapshots.final_,
    ] {
        let path = snapshot.as_deref().expect("a snapshot is missing");
        assert!(Path::new(path).is_file(), "{path} does not exist");
    }
}

fn check_fixed(report: &ReproReport, flow: Flow) {
    let context = format!("{flow} fixed: {:#?}", report.measures);
    assert!(report.complete, "{context}");
    assert_eq!(report.verdict, ReproVerdict::NoLeak, "{context}");
    assert!(report.polls.is_empty(), "{flow}: {:?}", report.polls);
    assert!(
        report.timer_sites.is_empty(),
        "{flow}: {:?}",
        report.timer_sites
    );
    assert!(
        report
            .candidates
            .iter()
            .all(|candidate| candidate.class != POLL_CLASS),
        "{flow}: {POLL_CLASS} is a candidate in the fixed variant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_leaky_leak_fixed_do_not() {
    let harness = Harness::start().await;
    for flow in Flow::ALL {
        let dir = tempfile::tempdir().unwrap();
        let leaky = run_demo(&harness, dir.path(), Variant::Leaky, flow).await;
        check_leaky(&leaky, flow);
        let dir = tempfile::tempdir().unwrap();
        let fixed = run_demo(&harness, dir.path(), Variant::Fixed, flow).await;
        check_fixed(&fixed, flow);
    }
}

/// Runs `leakscope demo --repro` and returns its exit code and JSON report.
fn cli_demo(variant: Variant, flow: Flow, dir: &Path) -> (i32, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_leakscope"))
        .args([
            "demo",
            "--repro",
            "--headless",
            "--json",
            "--fail-on",
            "leak",
        ])
        .args(["--variant", variant.name(), "--flow", flow.name()])
        .args(["--iterations", &ITERATIONS.to_string(), "--warmup", "1"])
        .arg("--out")
        .arg(dir)
        .arg("--bundle")
        .arg(dir.join("bundle.zip"))
        .output()
        .expect("failed to run leakscope demo --repro");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("invalid JSON ({error}); stderr:\n{stderr}"));
    (output.status.code().unwrap_or(-1), report, stderr)
}

#[test]
fn cli_fail_on_leak_only_for_leaky() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report, stderr) = cli_demo(Variant::Leaky, Flow::Suno, dir.path());
    assert_eq!(code, EXIT_FAIL_ON, "leaky exit code; stderr:\n{stderr}");
    assert_eq!(report["verdict"], "leak", "{report}");
    assert_eq!(report["iterations"], ITERATIONS);
    let measures = report["measures"].as_array().expect("no measures");
    let timers = measures
        .iter()
        .find(|measure| measure["name"] == "timers")
        .expect("no timers measure");
    assert_eq!(timers["growing"], true, "{timers}");
    assert_eq!(
        timers["values"].as_array().map(Vec::len),
        Some(ITERATIONS as usize + 1)
    );
    let candidates = report["candidates"].as_array().expect("no candidates");
    let poll = candidates
        .iter()
        .find(|candidate| candidate["class"] == POLL_CLASS)
        .unwrap_or_else(|| panic!("{POLL_CLASS} is not a candidate: {report}"));
    assert!(
        !poll["retainer_path"]
            .as_array()
            .expect("no path")
            .is_empty(),
        "{poll}"
    );
    assert!(
        stderr.contains("[iteration 3/5] action: action step 1: click #open-suno"),
        "no progress line per step:\n{stderr}"
    );
    assert!(dir.path().join("bundle.zip").is_file(), "no bundle");

    let dir = tempfile::tempdir().unwrap();
    let (code, report, stderr) = cli_demo(Variant::Fixed, Flow::Suno, dir.path());
    assert_eq!(code, 0, "fixed exit code; stderr:\n{stderr}");
    assert_eq!(report["verdict"], "no-leak", "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_cache_is_not_a_leak() {
    let pages = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages");
    let config = DemoConfig {
        pages_dir: Some(pages),
        ..DemoConfig::default()
    };
    let harness = Harness::start_with(config).await;
    let dir = tempfile::tempdir().unwrap();
    // No warm-up: the cache fills in the first measured iteration.
    let spec = RunSpec {
        url: format!("{}/page/repro-cache.html", harness.demo_url()),
        action: "cache.open()",
        undo: "cache.close()",
        iterations: ITERATIONS,
        warmup: 0,
    };
    let run = run_lib(&harness, dir.path(), spec, &mut |_, _| {}).await;
    let report = run.report.expect("the run failed");
    let heap = measure(&report, "heap_used");
    let first_delta = heap.values[1] - heap.values[0];
    assert!(
        first_delta > 2.0 * 1024.0 * 1024.0,
        "the cache did not fill in the first iteration: {:?}",
        heap.values
    );
    assert!(!heap.growing, "heap: {}", heap.reason);
    assert_eq!(
        report.verdict,
        ReproVerdict::NoLeak,
        "{:#?}",
        report.measures
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_selector_names_step() {
    let harness = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = RunSpec {
        url: demo_url(&harness, Variant::Fixed, Flow::Video),
        action: r##"[{"click": "#open-video"}, {"waitFor": "#no-such-panel", "timeoutMs": 400}]"##,
        undo: r##"[{"click": "#close-video"}]"##,
        iterations: ITERATIONS,
        warmup: 0,
    };
    let run = run_lib(&harness, dir.path(), spec, &mut |_, _| {}).await;
    let Err(error) = run.report else {
        panic!("a selector that never appears did not fail the run");
    };
    assert!(
        matches!(error, ReproError::SelectorTimeout { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("#no-such-panel"), "{message}");
    assert!(
        message.contains("step 2 (waitFor #no-such-panel"),
        "{message}"
    );
    assert!(run.recording.is_file(), "the recording is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throwing_expression_reports_message() {
    let harness = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = RunSpec {
        url: demo_url(&harness, Variant::Fixed, Flow::Video),
        action: "demo.open('video')",
        undo: "(() => { throw new Error('close button exploded'); })()",
        iterations: ITERATIONS,
        warmup: 0,
    };
    let run = run_lib(&harness, dir.path(), spec, &mut |_, _| {}).await;
    let Err(error) = run.report else {
        panic!("a throwing undo did not fail the run");
    };
    let message = error.to_string();
    assert!(message.contains("close button exploded"), "{message}");
    assert!(message.starts_with("undo of "), "{message}");
    assert!(message.contains("step 1 (eval"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_tab_keeps_partial_results() {
    let harness = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (action, undo) = demo_specs(Flow::Video);
    let spec = RunSpec {
        url: demo_url(&harness, Variant::Leaky, Flow::Video),
        action: &action,
        undo: &undo,
        iterations: 20,
        warmup: 0,
    };
    // Close the tab when the third iteration starts its action.
    let port = harness.browser.port();
    let mut closing = None;
    let mut on_progress = |update: &ReproProgress, tab: &str| {
        let third = update.iteration == 3 && update.phase == repro::Phase::Action;
        if third && closing.is_none() {
            let path = format!("/json/close/{tab}");
            closing = Some(tokio::spawn(async move {
                support::http_request(port, "GET", &path).await;
            }));
        }
    };
    let run = run_lib(&harness, dir.path(), spec, &mut on_progress).await;
    let report = run
        .report
        .expect("a closed tab must end the run with a report");
    assert!(!report.complete, "the report is not marked incomplete");
    let reason = report.incomplete_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("closed"), "{reason}");
    assert!(
        (2..20).contains(&report.iterations),
        "{} iterations",
        report.iterations
    );
    assert_eq!(report.series.len() as u32, report.iterations + 1);
    assert!(
        report.snapshots.baseline.is_some(),
        "baseline snapshot lost"
    );

    let recording = RecordingReader::read_all(&run.recording).expect("unreadable recording");
    let ended = recording
        .records
        .iter()
        .rev()
        .find_map(|record| match &record.body {
            RecordBody::End { reason, .. } => Some(*reason),
            _ => None,
        });
    assert_eq!(ended, Some(EndReason::TargetClosed));
    let markers = recording
        .records
        .iter()
        .filter(|record| matches!(&record.body, RecordBody::Marker { label } if label.starts_with("repro: iteration")))
        .count();
    assert!(markers >= 8, "only {markers} step markers");

    let bundle = dir.path().join("partial.zip");
    let options = leakscope_report::ExportOptions::default();
    leakscope_report::export_bundle(&run.recording, &bundle, &options)
        .expect("the partial recording does not export");
    assert!(bundle.is_file());
}
