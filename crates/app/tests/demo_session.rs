//! The controller end to end on real components: the built-in demo server
//! and a real headless Chromium on loopback, driven through the same `App`
//! methods the desktop shell's commands call. Only the UI is absent; the
//! events it would receive are collected by a sink.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leakscope_app::{App, DataDir, DemoRequest, EventSink};
use serde_json::Value;
use tokio::sync::Notify;

/// How long a condition on the live events may take to come true. The leaky
/// demo at a 100 ms poll interval passes its 60-attempt limit in about 6 s.
const DEADLINE: Duration = Duration::from_secs(60);

/// Collects events with their arrival time and wakes waiters.
#[derive(Default)]
struct Collect {
    events: Mutex<Vec<(Instant, String, Value)>>,
    arrived: Notify,
}

impl EventSink for Collect {
    fn emit(&self, event: &str, payload: Value) {
        self.events
            .lock()
            .unwrap()
            .push((Instant::now(), event.to_owned(), payload));
        self.arrived.notify_waiters();
    }
}

impl Collect {
    /// Waits until a `live` payload satisfies `check`, and returns it.
    async fn wait_live(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        loop {
            let arrived = self.arrived.notified();
            if let Some(view) = self
                .events
                .lock()
                .unwrap()
                .iter()
                .rev()
                .filter(|(_, name, _)| name == "live")
                .map(|(_, _, payload)| payload)
                .find(|payload| check(payload))
            {
                return view.clone();
            }
            if tokio::time::timeout_at(give_up, arrived).await.is_err() {
                let last = self
                    .events
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .find(|(_, name, _)| name == "live")
                    .map(|(_, _, payload)| payload.to_string());
                panic!("no live view with {what} within {DEADLINE:?}; last: {last:?}");
            }
        }
    }

    fn count(&self, event: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, name, _)| name == event)
            .count()
    }

    /// Returns the maximum number of `live` events in any one-second window.
    fn max_live_per_second(&self) -> usize {
        let events = self.events.lock().unwrap();
        let times: Vec<Instant> = events
            .iter()
            .filter(|(_, name, _)| name == "live")
            .map(|(at, _, _)| *at)
            .collect();
        times
            .iter()
            .map(|start| {
                times
                    .iter()
                    .filter(|at| {
                        **at >= *start && at.duration_since(*start) < Duration::from_secs(1)
                    })
                    .count()
            })
            .max()
            .unwrap_or(0)
    }
}

fn flagged_runaway(view: &Value) -> bool {
    view["polls"].as_array().is_some_and(|polls| {
        polls.iter().any(|poll| {
            poll["flags"]
                .as_array()
                .is_some_and(|flags| flags.iter().any(|flag| flag == "runaway"))
        })
    })
}

/// Creates a controller over a fresh data folder, with launched browsers
/// headless (the test machine may have no display) and its events collected.
fn headless_app() -> (tempfile::TempDir, Arc<Collect>, App) {
    std::env::set_var(leakscope_app::app::HEADLESS_ENV, "1");
    let data = tempfile::tempdir().unwrap();
    let sink = Arc::new(Collect::default());
    let app = App::new(
        DataDir::at(data.path().to_owned()),
        sink.clone() as Arc<dyn EventSink>,
    )
    .unwrap();
    (data, sink, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaky_demo_session_end_to_end() {
    let (data, sink, app) = headless_app();

    let request = DemoRequest {
        variant: "leaky".to_owned(),
        flow: "video".to_owned(),
        params: [("interval".to_owned(), "100".to_owned())].into(),
    };
    let info = app.open_demo(&request).await.expect("open the demo");
    assert!(info.agent_installed);
    assert!(!info.agent_late, "the demo loads after the agent is in");
    assert!(
        info.target.url.contains("variant=leaky"),
        "{}",
        info.target.url
    );
    assert!(std::path::Path::new(&info.recording_path).starts_with(data.path()));

    // Heap and timer counts arrive, then a runaway lifecycle and an alert.
    let view = sink
        .wait_live("heap and a live timer", |view| {
            view["counters"]["heapUsed"]
                .as_u64()
                .is_some_and(|heap| heap > 0)
                && view["counters"]["timersLive"]
                    .as_u64()
                    .is_some_and(|timers| timers > 0)
        })
        .await;
    assert_eq!(view["state"], "attached");
    assert_eq!(view["agent"]["installed"], true);
    let view = sink.wait_live("a runaway poll", flagged_runaway).await;
    assert!(view["timers"]
        .as_array()
        .is_some_and(|timers| !timers.is_empty()));
    assert!(view["requests"].as_array().is_some_and(|rows| rows
        .iter()
        .any(|row| row["endpoint"] == "GET /api/video/status")));
    sink.wait_live("an alert", |view| {
        view["alerts"]
            .as_array()
            .is_some_and(|alerts| !alerts.is_empty())
    })
    .await;

    let marker = app.add_marker("closed the panel").await.unwrap();
    assert!(marker.t > 0.0);
    let readout = app.values_at(marker.t).await.unwrap();
    assert!(readout.heap_used.is_some());

    let chart = app
        .chart(leakscope_app::chart::ChartRequest {
            from_t: None,
            to_t: None,
            width: 1200,
            height: 600,
        })
        .await
        .unwrap();
    assert!(
        chart.svg.starts_with("<svg"),
        "{}",
        &chart.svg[..60.min(chart.svg.len())]
    );
    assert!(chart.plot.width > 100.0);
    assert!(!chart.lanes.is_empty(), "the runaway poll has a lane");

    // A snapshot lands in the snapshots folder and in the list.
    let snapshot = app.take_snapshot(true).await.expect("snapshot");
    assert!(std::path::Path::new(&snapshot.path).is_file());
    assert!(snapshot.bytes > 0);
    let listed = tokio::time::timeout(DEADLINE, async {
        loop {
            let list = app.list_snapshots().await.unwrap();
            if list.iter().any(|entry| entry.id == snapshot.id) {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the snapshot reaches the list");
    assert_eq!(listed.len(), 1);
    let summary = app.snapshot_summary(&snapshot.id, Some(10)).await.unwrap();
    assert!(summary.nodes > 1000, "{} nodes", summary.nodes);
    assert!(summary.classes.len() <= 10);
    assert!(sink.count("snapshot-progress") > 0);

    // Export without a path writes into the exports folder.
    let export = app.export_bundle(None).await.expect("export");
    let bundle = std::path::PathBuf::from(&export.path);
    assert!(
        bundle.starts_with(data.path().join("exports")),
        "{}",
        export.path
    );
    assert!(bundle.is_file());
    assert!(export.files > 0);

    let stop = app.detach().await.expect("stop");
    assert!(stop.samples > 0);
    sink.wait_live("the ended state", |view| view["state"] == "ended")
        .await;
    assert!(
        sink.max_live_per_second() <= 10,
        "{} live events in one second",
        sink.max_live_per_second()
    );

    // The recent files list the bundle and the recording; the bundle replays.
    let recent = app.recent_files();
    assert!(recent.iter().any(|file| file.path == export.path));
    let replay = app.open_replay(&export.path).await.expect("replay");
    assert!(replay.duration_s > 1.0);
    let view = serde_json::to_value(app.replay_view(replay.duration_s).await.unwrap()).unwrap();
    assert_eq!(view["state"], "replay");
    assert!(
        flagged_runaway(&view),
        "the replay shows the runaway poll too"
    );
    let early = serde_json::to_value(app.replay_view(0.0).await.unwrap()).unwrap();
    assert!(!flagged_runaway(&early), "nothing ran away at 0 s");
    let chart = app
        .chart(leakscope_app::chart::ChartRequest {
            from_t: None,
            to_t: None,
            width: 1200,
            height: 600,
        })
        .await
        .unwrap();
    assert!(!chart.lanes.is_empty());
    app.shutdown().await;
}

impl Collect {
    /// Waits for the `repro-done` event and returns its payload.
    async fn wait_repro_done(&self, deadline: Duration) -> Value {
        let give_up = tokio::time::Instant::now() + deadline;
        loop {
            let arrived = self.arrived.notified();
            if let Some(done) = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|(_, name, _)| name == "repro-done")
                .map(|(_, _, payload)| payload.clone())
            {
                return done;
            }
            if tokio::time::timeout_at(give_up, arrived).await.is_err() {
                panic!(
                    "no repro-done event within {deadline:?}; {} progress events",
                    self.count("repro-progress")
                );
            }
        }
    }
}

/// The Repro panel's run on the leaky demo. The demo's own cycles are off and
/// its jobs never finish, so only the run's action starts polls and only its
/// undo could end them. In the leaky variant none ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repro_run_on_the_leaky_demo() {
    let (data, sink, app) = headless_app();
    let request = DemoRequest {
        variant: "leaky".to_owned(),
        flow: "video".to_owned(),
        params: [
            ("cycles".to_owned(), "0".to_owned()),
            ("job".to_owned(), "never".to_owned()),
            ("interval".to_owned(), "500".to_owned()),
        ]
        .into(),
    };
    app.open_demo(&request).await.expect("open the demo");
    sink.wait_live("the agent", |view| view["agent"]["installed"] == true)
        .await;

    // The demo's built-in steps, as `leakscope demo --repro` runs them.
    let action = r##"[{"click": "#open-video"}, {"click": "#generate-video"}, {"waitFor": "#status-video.processing"}]"##;
    let undo = r##"[{"click": "#close-video"}]"##;
    app.start_repro(leakscope_app::ReproRequest {
        action: action.to_owned(),
        undo: undo.to_owned(),
        iterations: Some(4),
        warmup: Some(1),
    })
    .await
    .expect("the run starts");
    // One run at a time, and no manual snapshot while it takes its own.
    let second = app
        .start_repro(leakscope_app::ReproRequest {
            action: action.to_owned(),
            undo: undo.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(second.code, leakscope_app::ErrorCode::Busy);
    let snapshot = app.take_snapshot(false).await.unwrap_err();
    assert_eq!(snapshot.code, leakscope_app::ErrorCode::Busy);

    let done = sink.wait_repro_done(Duration::from_secs(240)).await;
    assert!(done.get("error").is_none(), "the run failed: {done}");
    assert_eq!(done["verdict"], "leak", "{done}");
    assert_eq!(done["complete"], true);
    assert_eq!(done["iterations"], 4);
    let growing: Vec<&str> = done["measures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|measure| measure["growing"] == true)
        .filter_map(|measure| measure["name"].as_str())
        .collect();
    assert!(growing.contains(&"timers"), "growing: {growing:?}");
    assert!(growing.contains(&"active_polls"), "growing: {growing:?}");
    assert!(
        done["polls"]
            .as_array()
            .is_some_and(|polls| polls.iter().any(|poll| poll["endpoint"]
                .as_str()
                .unwrap_or("")
                .contains("/api/video/status"))),
        "{}",
        done["polls"]
    );
    // Progress arrived per step, in the panel's shape.
    let progress = sink.count("repro-progress");
    assert!(progress >= 4 * 2, "{progress} progress events");
    let first_progress = sink
        .events
        .lock()
        .unwrap()
        .iter()
        .find(|(_, name, _)| name == "repro-progress")
        .map(|(_, _, payload)| payload.clone())
        .unwrap();
    for field in ["iteration", "iterations", "phase", "step"] {
        assert!(first_progress.get(field).is_some(), "{first_progress}");
    }
    // The three snapshots are in the session's list, and the report is kept.
    let snapshots = app.list_snapshots().await.unwrap();
    assert_eq!(snapshots.len(), 3, "{snapshots:?}");
    let reports: Vec<_> = std::fs::read_dir(data.path().join("snapshots"))
        .unwrap()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .ends_with("-report.json")
        })
        .collect();
    assert_eq!(reports.len(), 1);
    assert!(!app.repro_running());
    app.shutdown().await;
}
