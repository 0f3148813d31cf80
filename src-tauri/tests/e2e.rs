//! End-to-end tests of the desktop app: the real `leakscope-desktop` binary
//! in a real WebKitGTK webview on its own Xvfb display, driven through
//! `tauri-driver` and WebKitWebDriver (see `support/mod.rs`).
//!
//! Every step goes through the UI as a user would: buttons, selects, tabs
//! and the recent files list (native file dialogs cannot be driven). What
//! the UI shows is checked against files on disk where there are any
//! (snapshots, bundles). Each test launches the app once, because a launch
//! costs seconds.
//!
//! With `LEAKSCOPE_SCREENSHOTS=docs/screenshots` the tests save a screenshot
//! of each view there, otherwise into the test's temporary folder.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leakscope_demo::{Flow, Scenario, Variant};
use support::browser::{start_pages_server, ExternalChromium};
use support::{App, ONE_APP_AT_A_TIME, UI_DEADLINE};

/// Demo poll interval in milliseconds. The video flow's attempt limit (60)
/// is passed after about 6 s, so the runaway flag and its alert come soon,
/// while the leaky variant's heap (256 KB kept per poll) stays small enough
/// for a quick snapshot.
const FAST_POLL_MS: &str = "100";
/// Deadline for the demo editor to be attached (the app launches Chromium).
const ATTACH_DEADLINE: Duration = Duration::from_secs(60);
/// Deadline for a poll to pass its attempt limit and for its alert.
const RUNAWAY_DEADLINE: Duration = Duration::from_secs(60);
/// Deadline for a heap snapshot, a bundle export or opening a bundle.
const CAPTURE_DEADLINE: Duration = Duration::from_secs(120);

/// Files in `dir` whose name ends with `suffix`.
fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect()
}

/// Waits until `dir` contains a file ending with `suffix`, and returns it.
async fn wait_file(dir: &Path, suffix: &str, deadline: Duration) -> PathBuf {
    let start = Instant::now();
    loop {
        if let Some(path) = files_with_suffix(dir, suffix).into_iter().next() {
            return path;
        }
        assert!(
            start.elapsed() < deadline,
            "no *{suffix} file in {} within {deadline:?}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Names of the entries of a zip file.
fn zip_entries(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path)
        .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()));
    let archive = zip::ZipArchive::new(file)
        .unwrap_or_else(|error| panic!("{} is not a valid zip: {error}", path.display()));
    archive.file_names().map(str::to_owned).collect()
}

/// Waits until the live state chip shows `attached`.
async fn wait_attached(app: &App) {
    app.find_within("live-state", ATTACH_DEADLINE).await;
    app.wait_value(
        "live state is attached",
        ATTACH_DEADLINE,
        "const chip = document.querySelector('[data-testid=\"live-state\"]');\
         return chip === null ? null : chip.dataset.state;",
        |state| state == "attached",
    )
    .await;
}

/// Waits until counter `id` shows a number, then until it shows another one.
async fn wait_counter_moves(app: &App, id: &str) -> (f64, f64) {
    let first = app
        .wait_data_value(id, &format!("{id} has a value"), |_| true)
        .await;
    let second = app
        .wait_data_value(id, &format!("{id} moves"), |value| value != first)
        .await;
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaky_demo_session_end_to_end() {
    let _one_app = ONE_APP_AT_A_TIME.lock().await;
    let app = App::launch().await;

    // Connect view, then the demo editor opened from it.
    app.find("view-connect").await;
    app.find("demo-card").await;
    app.screenshot("connect").await;
    let variant = app.find("demo-variant").await;
    support::within("select leaky", variant.select_by_value("leaky")).await;
    let flow = app.find("demo-flow").await;
    support::within("select video", flow.select_by_value("video")).await;
    let interval = app.find("demo-interval").await;
    support::within("type the interval", interval.send_keys(FAST_POLL_MS)).await;
    app.click("btn-open-demo").await;
    wait_attached(&app).await;

    // The heap and timer counts move.
    let (heap_before, heap_after) = wait_counter_moves(&app, "counter-heap").await;
    assert!(heap_before > 0.0, "heap used is {heap_before} bytes");
    assert_ne!(heap_before, heap_after);
    let (timers_before, timers_after) = wait_counter_moves(&app, "counter-timers").await;
    assert_ne!(timers_before, timers_after);
    app.screenshot("live").await;
    let url = app
        .wait_text("live-target-url", "target URL", |url| !url.is_empty())
        .await;
    assert!(
        url.contains("variant=leaky") && url.contains("interval=100"),
        "attached tab is not the fast leaky demo: {url}"
    );

    // A runaway lifecycle in Polls.
    app.click("tab-polls").await;
    let runaway = app
        .wait_row("polls-table", "runaway poll", RUNAWAY_DEADLINE, |row| {
            row.contains("runaway")
        })
        .await;
    assert!(
        runaway.contains("video"),
        "the runaway row is not the video flow's poll: {runaway}"
    );
    app.screenshot("live-polls").await;

    // Its alert in Alerts.
    app.click("tab-alerts").await;
    let alert = app
        .wait_row("alerts-table", "runaway alert", RUNAWAY_DEADLINE, |row| {
            row.contains("poll.runaway")
        })
        .await;
    // The level chip is upper-cased by CSS, and innerText returns it so.
    let alert_lower = alert.to_lowercase();
    assert!(
        ["warning", "critical", "emergency"]
            .iter()
            .any(|level| alert_lower.contains(level)),
        "the alert row shows no level: {alert}"
    );
    app.screenshot("live-alerts").await;

    // Timers by creation site, requests by endpoint.
    app.click("tab-timers").await;
    let timer = app
        .wait_row("timers-table", "demo timer site", UI_DEADLINE, |row| {
            row.contains("editor.js")
        })
        .await;
    assert!(
        timer.contains("timeout") || timer.contains("interval"),
        "the timer row shows no kind: {timer}"
    );
    app.screenshot("live-timers").await;
    app.click("tab-requests").await;
    app.wait_row("requests-table", "status endpoint", UI_DEADLINE, |row| {
        row.contains("/api/video/status")
    })
    .await;
    app.screenshot("live-requests").await;

    // The repro panel, while attached.
    if app.is_present("nav-repro").await {
        app.click("nav-repro").await;
        app.find("view-repro").await;
        app.screenshot("repro").await;
        app.click("nav-live").await;
    }

    // A snapshot: its file on disk, then its entry in the list. The toolbar
    // shows progress in place of the button until the capture ends.
    app.click("btn-snapshot").await;
    let snapshots_dir = app.data_dir.join("snapshots");
    let snapshot = wait_file(&snapshots_dir, ".heapsnapshot", CAPTURE_DEADLINE).await;
    app.find_within("btn-snapshot", CAPTURE_DEADLINE).await;
    let snapshot_bytes = std::fs::metadata(&snapshot)
        .map(|meta| meta.len())
        .unwrap_or(0);
    assert!(
        snapshot_bytes > 100_000,
        "{} has only {snapshot_bytes} bytes",
        snapshot.display()
    );
    app.click("nav-snapshots").await;
    app.find_within("snapshot-item", UI_DEADLINE).await;
    app.click("snapshot-open").await;
    let nodes = app
        .wait_text("summary-nodes", "snapshot summary", |text| {
            text.chars().any(|c| c.is_ascii_digit())
        })
        .await;
    assert_ne!(nodes.trim(), "0", "the snapshot summary counts no nodes");
    app.screenshot("snapshots").await;

    // Export a bundle: the notice names it, and it is on disk.
    app.click("nav-live").await;
    // Earlier notices (the snapshot's) may still be shown above this one.
    app.click("btn-export").await;
    let notice = app
        .wait_value(
            "export notice",
            UI_DEADLINE,
            "const texts = Array.from(document.querySelectorAll('[data-testid=\"notice-info\"]'))\
               .map((notice) => notice.innerText);\
             return texts.find((text) => text.includes('.zip')) ?? null;",
            |text| text.is_string(),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let bundle = wait_file(&app.data_dir.join("exports"), ".zip", UI_DEADLINE).await;
    let name = bundle
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        notice.contains(&name),
        "the export notice {notice:?} does not name {name}"
    );
    let entries = zip_entries(&bundle);
    assert!(
        entries.iter().any(|entry| entry == "manifest.json"),
        "bundle entries: {entries:?}"
    );

    // Stop, then open the bundle in Replay from the recent files.
    app.click("btn-stop").await;
    app.find("stop-summary").await;
    app.click("btn-recent-refresh").await;
    let bundle_button =
        format!("[data-testid=\"recent-file\"][data-kind=\"bundle\"][data-path$=\"{name}\"]");
    app.click_css(&bundle_button).await;
    app.find_within("replay-header", CAPTURE_DEADLINE).await;
    let replay_title = app.text("replay-target-title").await;
    assert!(
        !replay_title.trim().is_empty(),
        "replay shows no target title"
    );
    app.click("tab-polls").await;
    app.wait_row(
        "polls-table",
        "runaway poll in replay",
        UI_DEADLINE,
        |row| row.contains("runaway"),
    )
    .await;
    app.screenshot("replay").await;

    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_finds_and_attaches_own_browser() {
    let _one_app = ONE_APP_AT_A_TIME.lock().await;
    let app = App::launch().await;

    // Nothing debuggable under the fresh HOME: the steps are shown. Port
    // 9222 is probed too, so this holds only when nothing listens there.
    app.find("view-connect").await;
    let port_9222_free = support::processes::http_get(9222, "/json/version").is_none();
    if port_9222_free {
        app.find("no-browser").await;
        let hints = app.texts("hint").await;
        assert!(
            hints
                .iter()
                .any(|hint| hint.contains("--remote-debugging-port")),
            "hints: {hints:?}"
        );
        app.screenshot("connect-no-browser").await;
    } else {
        eprintln!("port 9222 is in use on this machine: the no-browser hints were not checked");
    }

    // A browser of the user's own, with the demo editor open, is found
    // through its DevToolsActivePort file and attached from its tab entry.
    let server = start_pages_server().await;
    let mut scenario = Scenario::new(Variant::Fixed, Flow::Suno);
    scenario.interval_ms = Some(200);
    scenario.cycles = Some(100);
    let page_url = server.scenario_url(&scenario);
    let browser = ExternalChromium::start(&app.home, &page_url, &app.work_dir.join("chromium.log"));
    app.click("btn-discover").await;
    let browser_card = format!(
        "[data-testid=\"browser\"][data-endpoint=\"http://127.0.0.1:{}\"]",
        browser.port
    );
    app.find_css(&browser_card, UI_DEADLINE).await;
    let tab_entry = format!(
        "{browser_card} [data-testid=\"tab-entry\"][data-url^=\"{}\"]",
        server.url().trim_end_matches('/')
    );
    app.find_css(&tab_entry, UI_DEADLINE).await;
    app.screenshot("connect-browser").await;
    app.click_css(&format!("{tab_entry} [data-testid=\"btn-attach\"]"))
        .await;
    wait_attached(&app).await;
    let url = app
        .wait_text("live-target-url", "target URL", |url| !url.is_empty())
        .await;
    assert!(url.contains("flow=suno"), "attached tab: {url}");
    app.click("tab-requests").await;
    app.wait_row(
        "requests-table",
        "suno status endpoint",
        UI_DEADLINE,
        |row| row.contains("/api/audio/suno/status"),
    )
    .await;

    // A bundle that is not a zip is rejected with its code and a message
    // that names the file.
    app.click("btn-stop").await;
    app.find("stop-summary").await;
    let exports = app.data_dir.join("exports");
    std::fs::create_dir_all(&exports).expect("cannot create the exports folder");
    let broken = exports.join("broken.zip");
    std::fs::write(&broken, b"this is not a zip archive").expect("cannot write broken.zip");
    app.click("btn-recent-refresh").await;
    app.click_css("[data-testid=\"recent-file\"][data-path$=\"broken.zip\"]")
        .await;
    let code = app
        .wait_value(
            "error notice for the broken bundle",
            UI_DEADLINE,
            "const notice = document.querySelector('[data-testid=\"notice-error\"]');\
             return notice === null ? null : notice.dataset.code;",
            |code| code.is_string(),
        )
        .await;
    assert_eq!(code, "bundle_invalid");
    let message = app.text("notice-error").await;
    assert!(
        message.contains("broken.zip"),
        "the error does not name the file: {message}"
    );
    app.screenshot("connect-error").await;

    app.quit().await;
    drop(browser);
    server
        .shutdown()
        .await
        .expect("demo server shutdown failed");
}

/// The Repro panel on the demo editor with its own cycles off: the demo's
/// built-in steps, a leak verdict with the poll's class as a candidate, and
/// the run's three snapshots in the Snapshots view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repro_panel_finds_the_leaky_poll() {
    let _one_app = ONE_APP_AT_A_TIME.lock().await;
    let app = App::launch().await;

    app.find("demo-card").await;
    let variant = app.find("demo-variant").await;
    support::within("select leaky", variant.select_by_value("leaky")).await;
    let interval = app.find("demo-interval").await;
    support::within("type the interval", interval.send_keys("500")).await;
    app.click("demo-cycles").await;
    app.click("btn-open-demo").await;
    wait_attached(&app).await;
    let url = app
        .wait_text("live-target-url", "target URL", |url| !url.is_empty())
        .await;
    assert!(
        url.contains("cycles=0") && url.contains("job=never"),
        "the demo runs its own cycles: {url}"
    );

    app.click("nav-repro").await;
    app.find("view-repro").await;
    app.click("btn-repro-demo-steps").await;
    let iterations = app.find("repro-iterations").await;
    support::within("clear the iterations", iterations.clear()).await;
    support::within("type the iterations", iterations.send_keys("4")).await;
    app.click("btn-repro-start").await;
    app.find_within("repro-progress", UI_DEADLINE).await;
    let verdict = app
        .wait_value(
            "repro verdict",
            CAPTURE_DEADLINE,
            "const chip = document.querySelector('[data-testid=\"repro-verdict\"]');\
             return chip === null ? null : chip.dataset.verdict;",
            |verdict| verdict.is_string(),
        )
        .await;
    assert_eq!(verdict, "leak");
    let candidates = app
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=\"repro-candidate\"]'))\
             .map((item) => item.dataset.class);",
            Vec::new(),
        )
        .await;
    assert!(
        candidates
            .as_array()
            .is_some_and(|classes| classes.iter().any(|class| class == "StatusPoll")),
        "candidates: {candidates}"
    );
    app.screenshot("repro-results").await;

    app.click("repro-open-snapshots").await;
    app.find("view-snapshots").await;
    app.find_within("snapshot-item", UI_DEADLINE).await;
    let snapshots = app.texts("snapshot-item").await;
    assert_eq!(snapshots.len(), 3, "snapshots: {snapshots:?}");

    app.quit().await;
}
