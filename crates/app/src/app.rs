//! The controller: one [`App`] per window, with one method per UI command.
//!
//! It is in one mode at a time: idle, a live session, or a replay. Opening
//! something new (attach, demo, replay) stops the live session first; its
//! recording stays on disk and in the recent files. Long actions (attach,
//! snapshot, analysis, export) each take a named slot, so a second one of the
//! same kind is rejected with `busy` instead of queueing behind the first.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leakscope_core::capture::{self, CaptureOptions};
use leakscope_core::launcher::{self, LaunchOptions, LaunchedBrowser};
use leakscope_core::{deadline, Endpoint, Target};
use leakscope_demo::{DemoConfig, DemoServer, Flow, Scenario, Variant};
use leakscope_heap::HeapSnapshot;
use leakscope_model::polls::{PollState, PollSummary};
use leakscope_model::{RecordBody, SnapshotEvent};
use leakscope_report::view::{AlertMark, Overview};
use leakscope_report::{ExportOptions, Lane};
use serde::Serialize;
use serde_json::json;
use tokio::sync::oneshot;

use crate::chart::{self, ChartRequest, ChartView};
use crate::datadir::{DataDir, RecentFile};
use crate::discover::{self, BrowserEntry, Candidate, Discovery, Source};
use crate::error::{AppError, ErrorCode};
use crate::heap::{self, DiffView, RetainerQuery, RetainersView, SnapshotSummary};
use crate::live::{lock, LiveSession, Owned, SessionInfo, StartOptions, StopSummary};
use crate::pump::{events, EventSink, Throttle, PROGRESS_PERIOD};
use crate::replay::{Replay, ReplayInfo};
use crate::repro::{self as repro_run, ReproRequest, ReproTarget, RunningRepro};
use crate::timeline::{Marker, SnapshotEntry, Timeline};
use crate::view::{state_name, LiveView};

/// Open, generate and close cycles the demo runs by itself, as `leakscope
/// demo` does: more than any session lasts, so the page keeps working.
const DEMO_CYCLES: u32 = 1000;

/// The demo editor's `<title>`, for the recording header written before it loads.
const DEMO_TITLE: &str = "Leakscope demo editor";

/// How long a launched browser gets to list its first tab.
const TAB_DEADLINE: Duration = Duration::from_secs(10);

/// How often the launched browser's tab list is read while waiting for it.
const TAB_POLL: Duration = Duration::from_millis(100);

/// Maximum marker label length, characters.
const MAX_LABEL: usize = 200;

/// Environment variable that forces launched browsers headless (`1`) or
/// headed (`0`); by default they are headless only without a display.
pub const HEADLESS_ENV: &str = "LEAKSCOPE_HEADLESS";

/// Values at a time, for the chart's hover readout.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Readout {
    pub t: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_used: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dom_nodes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timers_live: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_in_flight: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controllers_live: Option<u64>,
    pub polls: Vec<PollAt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollAt {
    pub id: u64,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportResult {
    pub path: String,
    pub bytes: u64,
    /// Files the bundle's manifest lists.
    pub files: usize,
}

/// Arguments of `openDemo`.
#[derive(Debug, Clone, Default)]
pub struct DemoRequest {
    /// `leaky` or `fixed`.
    pub variant: String,
    /// `video`, `suno`, `upscale` or `audio`.
    pub flow: String,
    /// Extra demo URL parameters (`interval`, `complete_after`, ...).
    pub params: HashMap<String, String>,
}

/// Arguments of `retainers`.
#[derive(Debug, Clone, Default)]
pub struct RetainersRequest {
    pub id: String,
    pub class_name: Option<String>,
    pub node_id: Option<u64>,
    pub paths: Option<usize>,
}

enum Mode {
    Idle,
    Live(Box<LiveSession>),
    Replay(Box<Replay>),
}

/// Names of the long actions; one of each may run at a time.
mod slot {
    pub const CONNECT: &str = "connecting to a tab";
    pub const SNAPSHOT: &str = "a heap snapshot";
    pub const ANALYSIS: &str = "a snapshot analysis";
    pub const EXPORT: &str = "an export";
    pub const REPRO: &str = "a repro run";
}

/// Held while a long action runs; frees its slot when dropped.
struct SlotGuard<'a> {
    slots: &'a Mutex<HashSet<&'static str>>,
    name: &'static str,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        lock(self.slots).remove(self.name);
    }
}

/// See the module documentation.
pub struct App {
    data: DataDir,
    sink: Arc<dyn EventSink>,
    mode: tokio::sync::Mutex<Mode>,
    /// Browsers started by `launchChrome`, ended with the app.
    launched: tokio::sync::Mutex<Vec<LaunchedBrowser>>,
    /// How to reach each endpoint `discover` or `launchChrome` listed.
    endpoints: Mutex<HashMap<String, (Endpoint, Source, String)>>,
    slots: Mutex<HashSet<&'static str>>,
    cancel_snapshot: Mutex<Option<oneshot::Sender<()>>>,
    cancel_analysis: Mutex<Option<oneshot::Sender<()>>>,
    /// The last parsed snapshot, kept for the next analysis of the same file.
    parsed: Mutex<Option<(PathBuf, Arc<HeapSnapshot>)>>,
    /// The running repro's cancel handle; its task clears it at the end.
    repro: RunningRepro,
    headless: bool,
}

impl App {
    /// Creates the controller over `data` (folders are created when missing).
    pub fn new(data: DataDir, sink: Arc<dyn EventSink>) -> Result<App, AppError> {
        data.ensure()?;
        Ok(App {
            data,
            sink,
            mode: tokio::sync::Mutex::new(Mode::Idle),
            launched: tokio::sync::Mutex::new(Vec::new()),
            endpoints: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashSet::new()),
            cancel_snapshot: Mutex::new(None),
            cancel_analysis: Mutex::new(None),
            parsed: Mutex::new(None),
            repro: Arc::new(Mutex::new(None)),
            headless: headless_from_env(),
        })
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }

    fn take_slot(&self, name: &'static str) -> Result<SlotGuard<'_>, AppError> {
        if !lock(&self.slots).insert(name) {
            return Err(AppError::busy(name));
        }
        Ok(SlotGuard {
            slots: &self.slots,
            name,
        })
    }

    // ----- Connect -----

    /// Lists debuggable browsers and their tabs; see [`discover`].
    pub async fn discover(&self) -> Discovery {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut candidates = discover::default_candidates(home.as_deref());
        for browser in self.launched.lock().await.iter() {
            if let Ok(endpoint) = Endpoint::websocket(&browser.ws_url()) {
                candidates.push(Candidate {
                    endpoint,
                    source: Source::Launched,
                    source_detail: launched_detail(browser),
                });
            }
        }
        let mut probes = tokio::task::JoinSet::new();
        for (index, candidate) in candidates.iter().cloned().enumerate() {
            probes.spawn(async move { (index, discover::probe(&candidate).await) });
        }
        let mut found: Vec<(usize, BrowserEntry)> = Vec::new();
        while let Some(joined) = probes.join_next().await {
            if let Ok((index, Some((entry, _connection)))) = joined {
                found.push((index, entry));
            }
        }
        found.sort_by_key(|(index, _)| *index);
        let mut seen = HashSet::new();
        let mut browsers = Vec::new();
        let mut endpoints = lock(&self.endpoints);
        for (index, entry) in found {
            if !seen.insert(entry.endpoint.clone()) {
                continue;
            }
            let candidate = &candidates[index];
            endpoints.insert(
                entry.endpoint.clone(),
                (
                    candidate.endpoint.clone(),
                    candidate.source,
                    candidate.source_detail.clone(),
                ),
            );
            browsers.push(entry);
        }
        let usable = browsers.iter().any(|browser| browser.error.is_none());
        Discovery {
            browsers,
            hints: if usable {
                Vec::new()
            } else {
                discover::hints()
            },
        }
    }

    /// Launches a browser with its own temporary profile and lists it.
    pub async fn launch_chrome(&self) -> Result<BrowserEntry, AppError> {
        let options = LaunchOptions {
            headless: self.headless,
            ..LaunchOptions::default()
        };
        let browser = launcher::launch(&options).await?;
        let endpoint = Endpoint::websocket(&browser.ws_url())?;
        let connection = discover::connect(&endpoint).await?;
        let detail = launched_detail(&browser);
        let entry = discover::list_browser(&connection, Source::Launched, detail.clone()).await;
        lock(&self.endpoints).insert(entry.endpoint.clone(), (endpoint, Source::Launched, detail));
        self.launched.lock().await.push(browser);
        Ok(entry)
    }

    /// Attaches to tab `target_id` of the browser at `endpoint` and starts recording.
    pub async fn attach(&self, endpoint: &str, target_id: &str) -> Result<SessionInfo, AppError> {
        let _slot = self.take_slot(slot::CONNECT)?;
        let known = lock(&self.endpoints)
            .get(endpoint)
            .map(|(endpoint, _, _)| endpoint.clone());
        let resolved = match known {
            Some(endpoint) => endpoint,
            None => discover::parse_endpoint(endpoint)?,
        };
        let connection = leakscope_core::Browser::connect(&resolved, &Default::default()).await?;
        let targets = connection.targets().await.map_err(|error| {
            AppError::new(
                ErrorCode::ConnectFailed,
                format!("failed to list the tabs of {endpoint}: {error}; check that the browser is still running"),
            )
        })?;
        let target = targets
            .into_iter()
            .find(|target| target.id == target_id)
            .ok_or_else(|| {
                AppError::not_found(format!(
                    "tab {target_id} is not open in the browser at {endpoint}; refresh the list and pick another tab"
                ))
            })?;
        self.start_live(connection, &target, None, Owned::default())
            .await
    }

    /// Serves the demo editor, launches Chromium on it and attaches.
    pub async fn open_demo(&self, request: &DemoRequest) -> Result<SessionInfo, AppError> {
        let _slot = self.take_slot(slot::CONNECT)?;
        let (scenario, params) = demo_scenario(request)?;
        let demo = DemoServer::start(DemoConfig::default())
            .await
            .map_err(|error| {
                AppError::new(
                    ErrorCode::LaunchFailed,
                    format!("failed to start the demo server on 127.0.0.1: {error}"),
                )
            })?;
        let url = with_params(&demo.scenario_url(&scenario), &params)?;
        // The browser starts blank, and the session loads the demo once the
        // agent is installed, so the agent observes every timer and request.
        let options = LaunchOptions {
            headless: self.headless,
            url: Some("about:blank".to_owned()),
            ..LaunchOptions::default()
        };
        let browser = launcher::launch(&options).await?;
        let endpoint = Endpoint::websocket(&browser.ws_url())?;
        let connection = discover::connect(&endpoint).await?;
        let target = wait_for_blank_tab(&connection).await?;
        let owned = Owned {
            browser: Some(browser),
            demo: Some(demo),
        };
        self.start_live(connection, &target, Some(url), owned).await
    }

    async fn start_live(
        &self,
        connection: leakscope_core::BrowserConnection,
        target: &Target,
        navigate_to: Option<String>,
        owned: Owned,
    ) -> Result<SessionInfo, AppError> {
        self.stop_current().await;
        // Only the demo is opened by URL, so a URL means the demo's page.
        let page_title = navigate_to.as_ref().map(|_| DEMO_TITLE.to_owned());
        let options = StartOptions {
            recordings_dir: self.data.recordings(),
            navigate_to,
            page_title,
            owned,
        };
        let session = LiveSession::start(connection, target, options, self.sink.clone()).await?;
        let info = session.info.clone();
        *self.mode.lock().await = Mode::Live(Box::new(session));
        Ok(info)
    }

    /// Stops a live session that is still recording, keeping its file.
    async fn stop_current(&self) {
        let mut mode = self.mode.lock().await;
        if let Mode::Live(session) = &mut *mode {
            if !session.ended() {
                if let Err(error) = session.stop().await {
                    tracing::warn!(%error, "failed to stop the previous session");
                }
            }
        }
        *mode = Mode::Idle;
    }

    /// Stops recording (the toolbar's Stop). The view stays, in the ended state.
    pub async fn detach(&self) -> Result<StopSummary, AppError> {
        let mut mode = self.mode.lock().await;
        match &mut *mode {
            Mode::Live(session) => session.stop().await,
            _ => Err(AppError::no_session()),
        }
    }

    // ----- Live -----

    /// Returns the current view (live, or the end of a replay).
    pub async fn live_view(&self) -> Result<LiveView, AppError> {
        let mut mode = self.mode.lock().await;
        match &mut *mode {
            Mode::Live(session) => Ok(session.view()),
            Mode::Replay(replay) => {
                let end = replay.info().duration_s;
                replay.view_at(end)
            }
            Mode::Idle => Err(AppError::no_session()),
        }
    }

    /// Renders the overview chart of the session or the replay.
    pub async fn chart(&self, request: ChartRequest) -> Result<ChartView, AppError> {
        let (overview, ids) = {
            let mode = self.mode.lock().await;
            match &*mode {
                Mode::Live(session) => live_overview(session),
                Mode::Replay(replay) => (replay.overview().clone(), replay.lane_ids().to_vec()),
                Mode::Idle => return Err(AppError::no_session()),
            }
        };
        tokio::task::spawn_blocking(move || chart::render(&overview, &ids, request))
            .await
            .map_err(|error| AppError::internal(format!("the chart task failed: {error}")))?
    }

    /// Returns the values at time `t` (seconds), for the chart's hover readout.
    pub async fn values_at(&self, t: f64) -> Result<Readout, AppError> {
        if !t.is_finite() {
            return Err(AppError::bad_input(format!(
                "time {t} is not a number of seconds"
            )));
        }
        let mode = self.mode.lock().await;
        match &*mode {
            Mode::Live(session) => {
                let state = session.state();
                // One lock at a time: the live pump takes the analysis before
                // the timeline, so holding the timeline here while waiting for
                // the analysis could deadlock with it.
                let polls = lock(state.analysis()).engine().lifecycles();
                let timeline = lock(state.timeline());
                Ok(readout(&timeline, &polls, t))
            }
            Mode::Replay(replay) => {
                Ok(readout(replay.timeline(), &replay.engine().lifecycles(), t))
            }
            Mode::Idle => Err(AppError::no_session()),
        }
    }

    /// Runs a full garbage collection in the page.
    pub async fn force_gc(&self) -> Result<(), AppError> {
        let session = self.live_session().await?;
        session
            .call_raw(
                "HeapProfiler.collectGarbage",
                json!({}),
                deadline::GARBAGE_COLLECTION,
            )
            .await
            .map_err(|error| session_error("run a garbage collection", &error))?;
        Ok(())
    }

    /// Reloads the attached tab, so the agent counts from the page's start.
    pub async fn reload_page(&self) -> Result<(), AppError> {
        let session = self.live_session().await?;
        session
            .call_raw("Page.reload", json!({}), deadline::NAVIGATION)
            .await
            .map_err(|error| session_error("reload the tab", &error))?;
        Ok(())
    }

    /// Puts a labelled marker on the timeline now.
    pub async fn add_marker(&self, label: &str) -> Result<Marker, AppError> {
        let label = label.trim();
        if label.is_empty() {
            return Err(AppError::bad_input(
                "the marker label is empty; type what you just did, for example \"closed the panel\"",
            ));
        }
        if label.chars().count() > MAX_LABEL {
            return Err(AppError::bad_input(format!(
                "the marker label is longer than {MAX_LABEL} characters; shorten it"
            )));
        }
        let mode = self.mode.lock().await;
        let Mode::Live(session) = &*mode else {
            return Err(AppError::no_session());
        };
        if session.ended() {
            return Err(ended_error());
        }
        let handle = session.handle().clone();
        drop(mode);
        let t = handle.status().borrow().t;
        handle
            .record(RecordBody::Marker {
                label: label.to_owned(),
            })
            .await;
        Ok(Marker {
            t,
            label: label.to_owned(),
        })
    }

    /// Returns the attached session, when it is still recording.
    async fn live_session(&self) -> Result<leakscope_core::Session, AppError> {
        let mode = self.mode.lock().await;
        match &*mode {
            Mode::Live(session) if session.ended() => Err(ended_error()),
            Mode::Live(session) => Ok(session.session().clone()),
            _ => Err(AppError::no_session()),
        }
    }

    // ----- Snapshots -----

    /// Takes a heap snapshot into the snapshots folder, reporting progress.
    pub async fn take_snapshot(&self, gc: bool) -> Result<SnapshotEntry, AppError> {
        if self.repro_running() {
            // The run takes its own three snapshots; a fourth would stall it.
            return Err(AppError::busy(slot::REPRO));
        }
        let _slot = self.take_slot(slot::SNAPSHOT)?;
        let (session, handle, stem, timeline) = {
            let mode = self.mode.lock().await;
            let Mode::Live(live) = &*mode else {
                return Err(AppError::no_session());
            };
            if live.ended() {
                return Err(ended_error());
            }
            let stem = live
                .path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_else(|| "leakscope".to_owned());
            (
                live.session().clone(),
                live.handle().clone(),
                stem,
                live.state().timeline().clone(),
            )
        };
        let path = self
            .data
            .snapshots()
            .join(format!("{stem}-{}.heapsnapshot", now_ms() as u64));
        let (cancel, cancelled) = oneshot::channel();
        *lock(&self.cancel_snapshot) = Some(cancel);

        let sink = self.sink.clone();
        let progress_event = move |done: u64, total: u64, bytes: u64, phase: &str| {
            sink.emit(
                events::SNAPSHOT_PROGRESS,
                json!({ "done": done, "total": total, "bytes": bytes, "phase": phase }),
            );
        };
        if gc {
            progress_event(0, 0, 0, "gc");
        }
        handle.pause("heap snapshot in progress").await;
        let options = CaptureOptions {
            gc_first: gc,
            ..CaptureOptions::default()
        };
        let started = std::time::Instant::now();
        let mut throttle = Throttle::new(PROGRESS_PERIOD);
        let capture = capture::capture(&session, &path, &options, |progress| {
            let walking = progress.total == 0 || progress.done < progress.total;
            if throttle.ready(false) {
                let phase = if walking && progress.bytes == 0 {
                    "capture"
                } else {
                    "write"
                };
                progress_event(progress.done, progress.total, progress.bytes, phase);
            }
        });
        let outcome = tokio::select! {
            result = capture => Some(result),
            _ = cancelled => None,
        };
        lock(&self.cancel_snapshot).take();
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let result = match outcome {
            None => {
                // Nothing that looks complete stays behind: the partial file goes.
                let partial = capture::partial_path(&path);
                let _ = std::fs::remove_file(&partial);
                handle
                    .record(RecordBody::Snapshot(SnapshotEvent {
                        path: partial.display().to_string(),
                        bytes: 0,
                        duration_ms,
                        gc,
                        status: "cancelled by the user".to_owned(),
                    }))
                    .await;
                Err(AppError::cancelled("the heap snapshot"))
            }
            Some(Err(error)) => {
                handle
                    .record(RecordBody::Snapshot(SnapshotEvent {
                        path: error.partial().unwrap_or(&path).display().to_string(),
                        bytes: 0,
                        duration_ms,
                        gc,
                        status: error.to_string(),
                    }))
                    .await;
                Err(AppError::new(ErrorCode::SnapshotFailed, error.to_string()))
            }
            Some(Ok(event)) => {
                progress_event(1, 1, event.bytes, "validate");
                handle.record(RecordBody::Snapshot(event.clone())).await;
                Ok(event)
            }
        };
        handle.resume().await;
        let event = result?;
        // The record reaches the timeline through the recorder's loop; build
        // the entry here so the caller need not wait for it.
        let t = handle.status().borrow().t;
        let id = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let count = lock(&timeline).snapshots().len() + 1;
        Ok(SnapshotEntry {
            id,
            path: event.path,
            bytes: event.bytes,
            t: Some(t),
            taken_at_ms: now_ms(),
            duration_ms: event.duration_ms,
            gc: event.gc,
            label: format!("Snapshot {count}"),
        })
    }

    /// Cancels the running snapshot; its `takeSnapshot` rejects with `cancelled`.
    pub fn cancel_snapshot(&self) {
        if let Some(cancel) = lock(&self.cancel_snapshot).take() {
            let _ = cancel.send(());
        }
    }

    // ----- Repro -----

    /// Returns whether a repro run is in progress.
    pub fn repro_running(&self) -> bool {
        lock(&self.repro).is_some()
    }

    /// Starts a repro run on the live session and returns at once; progress
    /// and the report arrive as `repro-progress` and `repro-done` events.
    pub async fn start_repro(&self, request: ReproRequest) -> Result<(), AppError> {
        let plan = request.plan()?;
        let mode = self.mode.lock().await;
        let Mode::Live(live) = &*mode else {
            return Err(AppError::no_session());
        };
        if live.ended() {
            return Err(ended_error());
        }
        let Some(probe) = live.probe() else {
            return Err(AppError::new(
                ErrorCode::BadInput,
                "the in-page agent is not installed in this tab, and a repro run needs it; reload the page and try again",
            ));
        };
        if self.repro_running() {
            return Err(AppError::busy(slot::REPRO));
        }
        if lock(&self.slots).contains(slot::SNAPSHOT) {
            return Err(AppError::busy(slot::SNAPSHOT));
        }
        let stem = live
            .path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "leakscope".to_owned());
        let target = ReproTarget {
            session: live.session().clone(),
            recorder: live.handle().clone(),
            probe: probe.clone(),
            snapshot_dir: self.data.snapshots(),
            prefix: format!("{stem}-repro-{}", now_ms() as u64),
            recording: live.path.clone(),
        };
        repro_run::spawn(target, plan, self.repro.clone(), self.sink.clone());
        Ok(())
    }

    /// Cancels the running repro, which then ends with an incomplete report;
    /// nothing happens when none runs.
    pub fn cancel_repro(&self) {
        if let Some(cancel) = lock(&self.repro).as_ref() {
            cancel.cancel();
        }
    }

    /// Lists the snapshots of the session or the replay.
    pub async fn list_snapshots(&self) -> Result<Vec<SnapshotEntry>, AppError> {
        let mode = self.mode.lock().await;
        match &*mode {
            Mode::Live(session) => Ok(lock(session.state().timeline()).snapshots().to_vec()),
            Mode::Replay(replay) => Ok(replay.timeline().snapshots().to_vec()),
            Mode::Idle => Err(AppError::no_session()),
        }
    }

    async fn snapshot_path(&self, id: &str) -> Result<PathBuf, AppError> {
        let snapshots = self.list_snapshots().await?;
        let entry = snapshots
            .iter()
            .find(|entry| entry.id == id)
            .ok_or_else(|| {
                AppError::not_found(format!(
                    "snapshot {id:?} is not in this session; pick one from the snapshot list"
                ))
            })?;
        let path = PathBuf::from(&entry.path);
        if !path.is_file() {
            return Err(AppError::not_found(format!(
                "snapshot file {} is missing (a bundle does not carry snapshots unless exported with them); take a new snapshot",
                path.display()
            )));
        }
        Ok(path)
    }

    /// Summarises snapshot `id` by class.
    pub async fn snapshot_summary(
        &self,
        id: &str,
        top: Option<usize>,
    ) -> Result<SnapshotSummary, AppError> {
        let top = heap::top_rows(top)?;
        let path = self.snapshot_path(id).await?;
        let _slot = self.take_slot(slot::ANALYSIS)?;
        let snapshot = self.load_snapshot(&path, "parse").await?;
        self.run_analysis(move || heap::summarize(&snapshot, top))
            .await
    }

    /// Compares two snapshots by class.
    pub async fn snapshot_diff(
        &self,
        before: &str,
        after: &str,
        top: Option<usize>,
    ) -> Result<DiffView, AppError> {
        let top = heap::top_rows(top)?;
        let before_path = self.snapshot_path(before).await?;
        let after_path = self.snapshot_path(after).await?;
        let _slot = self.take_slot(slot::ANALYSIS)?;
        let old = self.load_snapshot(&before_path, "parse before").await?;
        let new = self.load_snapshot(&after_path, "parse after").await?;
        self.run_analysis(move || Ok(heap::diff_view(&leakscope_heap::diff(&old, &new), top)))
            .await
    }

    /// Finds retainer paths to a class or a node of snapshot `id`.
    pub async fn retainers(&self, request: &RetainersRequest) -> Result<RetainersView, AppError> {
        let query = match (&request.class_name, request.node_id) {
            (Some(class), None) if !class.is_empty() => RetainerQuery::Class(class.clone()),
            (None, Some(node)) => RetainerQuery::Node(node),
            _ => {
                return Err(AppError::bad_input(
                    "give either className or nodeId, not both and not neither",
                ))
            }
        };
        let paths = match request.paths {
            None => heap::DEFAULT_PATHS,
            Some(paths) if (1..=heap::MAX_PATHS).contains(&paths) => paths,
            Some(paths) => {
                return Err(AppError::bad_input(format!(
                    "paths {paths} is outside 1..={}; ask for fewer paths",
                    heap::MAX_PATHS
                )))
            }
        };
        let path = self.snapshot_path(&request.id).await?;
        let _slot = self.take_slot(slot::ANALYSIS)?;
        let snapshot = self.load_snapshot(&path, "parse").await?;
        self.run_analysis(move || heap::retainers(&snapshot, &query, paths))
            .await
    }

    /// Cancels the running analysis; it rejects with `cancelled`.
    pub fn cancel_analysis(&self) {
        if let Some(cancel) = lock(&self.cancel_analysis).take() {
            let _ = cancel.send(());
        }
    }

    /// Parses a snapshot (or reuses the last one parsed), reporting progress.
    async fn load_snapshot(&self, path: &Path, phase: &str) -> Result<Arc<HeapSnapshot>, AppError> {
        if let Some((cached, snapshot)) = lock(&self.parsed).as_ref() {
            if cached == path {
                return Ok(snapshot.clone());
            }
        }
        let size = std::fs::metadata(path)
            .map(|metadata| metadata.len())
            .unwrap_or(0)
            .max(1);
        let sink = self.sink.clone();
        let phase = phase.to_owned();
        let owned_path = path.to_owned();
        let snapshot = self
            .run_analysis(move || {
                let throttle = Mutex::new(Throttle::new(PROGRESS_PERIOD));
                let report = |bytes: u64| {
                    if lock(&throttle).ready(bytes >= size) {
                        sink.emit(
                            events::ANALYSIS_PROGRESS,
                            json!({ "phase": phase, "fraction": (bytes as f64 / size as f64).min(1.0) }),
                        );
                    }
                };
                heap::parse(&owned_path, &report)
            })
            .await?;
        let snapshot = Arc::new(snapshot);
        *lock(&self.parsed) = Some((path.to_owned(), snapshot.clone()));
        Ok(snapshot)
    }

    /// Runs `work` on the blocking pool; [`App::cancel_analysis`] makes the
    /// caller return `cancelled` at once.
    // NOTE: the heap parser has no cancellation point, so a cancelled parse
    // finishes on the blocking pool and its result is dropped.
    async fn run_analysis<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let (cancel, cancelled) = oneshot::channel();
        *lock(&self.cancel_analysis) = Some(cancel);
        let task = tokio::task::spawn_blocking(work);
        let result = tokio::select! {
            joined = task => joined
                .map_err(|error| AppError::internal(format!("the analysis task failed: {error}")))
                .and_then(|result| result),
            _ = cancelled => Err(AppError::cancelled("the analysis")),
        };
        lock(&self.cancel_analysis).take();
        result
    }

    // ----- Export and replay -----

    /// Writes a bug-report bundle of the session or the replay to `path`, or
    /// into the exports folder when `path` is `None`.
    pub async fn export_bundle(&self, path: Option<&str>) -> Result<ExportResult, AppError> {
        let _slot = self.take_slot(slot::EXPORT)?;
        let out = match path {
            Some(path) if Path::new(path).is_absolute() => PathBuf::from(path),
            Some(path) => {
                return Err(AppError::bad_input(format!(
                    "export path {path:?} is not absolute; choose the file with Export as..."
                )))
            }
            None => PathBuf::new(),
        };
        enum Source {
            File(PathBuf),
            Recording(
                Box<leakscope_model::Recording>,
                Box<leakscope_report::Analysis>,
            ),
        }
        let (source, title) = {
            let mode = self.mode.lock().await;
            match &*mode {
                Mode::Live(session) => (
                    Source::File(session.path.clone()),
                    session.state().target().clone(),
                ),
                Mode::Replay(replay) if replay.bundle => (
                    Source::Recording(
                        Box::new(replay.recording().clone()),
                        Box::new(replay.analysis().clone()),
                    ),
                    replay.recording().header.target.clone(),
                ),
                Mode::Replay(replay) => (
                    Source::File(replay.path().to_owned()),
                    replay.recording().header.target.clone(),
                ),
                Mode::Idle => return Err(AppError::no_session()),
            }
        };
        let out = if out.as_os_str().is_empty() {
            self.data
                .exports()
                .join(bundle_name(&title.title, &title.url, now_ms()))
        } else {
            out
        };
        let options = ExportOptions {
            overwrite: true,
            ..ExportOptions::default()
        };
        let summary = tokio::task::spawn_blocking(move || match source {
            Source::File(recording) => leakscope_report::export_bundle(&recording, &out, &options),
            Source::Recording(recording, analysis) => leakscope_report::bundle::write_bundle(
                &recording,
                &analysis,
                &Default::default(),
                &out,
                &options,
            ),
        })
        .await
        .map_err(|error| AppError::internal(format!("the export task failed: {error}")))??;
        Ok(ExportResult {
            path: summary.path.display().to_string(),
            bytes: summary.bytes,
            files: summary.manifest.files.len(),
        })
    }

    pub fn recent_files(&self) -> Vec<RecentFile> {
        self.data.recent_files()
    }

    /// Opens a recording or a bundle read-only.
    pub async fn open_replay(&self, path: &str) -> Result<ReplayInfo, AppError> {
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(AppError::bad_input(format!(
                "replay path {} is not absolute; open the file from the recent list or with Open bundle...",
                path.display()
            )));
        }
        let replay = tokio::task::spawn_blocking(move || Replay::open(&path))
            .await
            .map_err(|error| AppError::internal(format!("the replay task failed: {error}")))??;
        let info = replay.info();
        self.stop_current().await;
        *self.mode.lock().await = Mode::Replay(Box::new(replay));
        Ok(info)
    }

    /// Returns the replay's view as of `t` seconds.
    pub async fn replay_view(&self, t: f64) -> Result<LiveView, AppError> {
        let mut mode = self.mode.lock().await;
        match &mut *mode {
            Mode::Replay(replay) => replay.view_at(t),
            _ => Err(AppError::new(
                ErrorCode::NoSession,
                "no recording is open for replay; open a bundle or a recording first",
            )),
        }
    }

    pub async fn close_replay(&self) {
        let mut mode = self.mode.lock().await;
        if matches!(&*mode, Mode::Replay(_)) {
            *mode = Mode::Idle;
        }
    }

    /// Ends everything the app started: the live session, the demo, browsers.
    pub async fn shutdown(&self) {
        self.stop_current().await;
        for browser in self.launched.lock().await.drain(..) {
            browser.kill().await;
        }
    }
}

fn headless_from_env() -> bool {
    match std::env::var(HEADLESS_ENV).as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => {
            let unset = |name: &str| std::env::var_os(name).is_none_or(|value| value.is_empty());
            unset("DISPLAY") && unset("WAYLAND_DISPLAY")
        }
    }
}

fn launched_detail(browser: &LaunchedBrowser) -> String {
    match browser.profile_dir() {
        Some(dir) => format!("launched, profile {}", dir.display()),
        None => "launched".to_owned(),
    }
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1000.0)
}

fn ended_error() -> AppError {
    AppError::new(
        ErrorCode::NoSession,
        "the session has ended; attach again to keep recording",
    )
}

fn session_error(action: &str, error: &leakscope_core::SessionError) -> AppError {
    let code = if error.ended_by().is_some() {
        ErrorCode::NoSession
    } else {
        ErrorCode::Internal
    };
    AppError::new(code, format!("failed to {action}: {error}"))
}

/// Names a bundle after the target and the time: `leakscope-<title>-<stamp>.zip`.
fn bundle_name(title: &str, url: &str, now_ms: f64) -> String {
    let source = if title.is_empty() { url } else { title };
    let mut slug = String::new();
    for character in source.chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "tab" } else { slug };
    let stamp = time::OffsetDateTime::from_unix_timestamp((now_ms / 1000.0) as i64)
        .ok()
        .and_then(|time| {
            time.format(time::macros::format_description!(
                "[year][month][day]-[hour][minute][second]"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{}", now_ms as u64));
    format!("leakscope-{slug}-{stamp}.zip")
}

/// Demo URL parameters the page reads; others are rejected.
const DEMO_PARAMS: &[&str] = &[
    "interval",
    "cycles",
    "cycle_ms",
    "gap_ms",
    "complete_after",
    "job",
    "error_status",
    "timeout_ms",
    "health_ms",
    "leak_kb",
];

fn demo_scenario(request: &DemoRequest) -> Result<(Scenario, Vec<(String, String)>), AppError> {
    let variant: Variant = request.variant.parse().map_err(|_| {
        AppError::bad_input(format!(
            "demo variant {:?} is not one of leaky, fixed",
            request.variant
        ))
    })?;
    let flow = match request.flow.as_str() {
        "audio" | "minimax" => Flow::Minimax,
        other => other.parse::<Flow>().map_err(|_| {
            AppError::bad_input(format!(
                "demo flow {other:?} is not one of video, suno, upscale, audio"
            ))
        })?,
    };
    let mut scenario = Scenario::new(variant, flow);
    scenario.cycles = Some(DEMO_CYCLES);
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in &request.params {
        if !DEMO_PARAMS.contains(&name.as_str()) {
            return Err(AppError::bad_input(format!(
                "demo parameter {name:?} is unknown; use one of {}",
                DEMO_PARAMS.join(", ")
            )));
        }
        let valid = !value.is_empty()
            && value.len() <= 32
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(AppError::bad_input(format!(
                "demo parameter {name} has the invalid value {value:?}; use a number or a name"
            )));
        }
        params.push((name.clone(), value.clone()));
    }
    params.sort();
    Ok((scenario, params))
}

/// Sets (or replaces) query parameters of `url`.
fn with_params(url: &str, params: &[(String, String)]) -> Result<String, AppError> {
    let mut parsed = url::Url::parse(url)
        .map_err(|error| AppError::internal(format!("the demo URL {url} is invalid: {error}")))?;
    let mut pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .filter(|(name, _)| !params.iter().any(|(given, _)| given == name))
        .collect();
    pairs.extend(params.iter().cloned());
    parsed.query_pairs_mut().clear().extend_pairs(&pairs);
    Ok(parsed.to_string())
}

/// Waits for the launched browser's blank first tab.
async fn wait_for_blank_tab(
    connection: &leakscope_core::BrowserConnection,
) -> Result<Target, AppError> {
    let give_up = tokio::time::Instant::now() + TAB_DEADLINE;
    loop {
        let targets = connection.targets().await.map_err(|error| {
            AppError::new(
                ErrorCode::LaunchFailed,
                format!("failed to list the launched browser's tabs: {error}"),
            )
        })?;
        if let Some(target) = targets
            .into_iter()
            .find(|target| target.kind == "page" && target.url.starts_with("about:blank"))
        {
            return Ok(target);
        }
        if tokio::time::Instant::now() >= give_up {
            return Err(AppError::new(
                ErrorCode::LaunchFailed,
                format!(
                    "the launched browser opened no blank tab within {TAB_DEADLINE:?}; try again"
                ),
            ));
        }
        tokio::time::sleep(TAB_POLL).await;
    }
}

/// Builds the live session's overview: its sample series, lanes from the engine's
/// lifecycles, alerts and ticks.
// NOTE: the live chart has no verdict trend line; the report's trend fit
// needs the whole recording, so it appears in replay and in bundles.
fn live_overview(session: &LiveSession) -> (Overview, Vec<u64>) {
    let state = session.state();
    let (lanes, ids, alerts) = {
        let analysis = lock(state.analysis());
        let engine = analysis.engine();
        let lifecycles = engine.lifecycles();
        let lanes: Vec<Lane> = lifecycles
            .iter()
            .map(leakscope_report::analysis::lane_of)
            .collect();
        let ids: Vec<u64> = lifecycles.iter().map(|poll| poll.id).collect();
        let alerts: Vec<AlertMark> = engine
            .alerts()
            .iter()
            .map(|alert| AlertMark {
                t: alert.first_seen,
                level: alert.level,
                rule: alert.rule.clone(),
                subject: alert.subject.clone(),
            })
            .collect();
        (lanes, ids, alerts)
    };
    let timeline = lock(state.timeline());
    let target = state.target();
    let overview = Overview {
        title: if target.title.is_empty() {
            target.url.clone()
        } else {
            target.title.clone()
        },
        duration: timeline.t(),
        samples: timeline
            .series()
            .iter()
            .map(|sample| sample.point())
            .collect(),
        lanes,
        alerts,
        ticks: timeline.ticks().to_vec(),
        trend: None,
    };
    (overview, ids)
}

/// Values at `t`: the sample at or before it, and the polls running then.
fn readout(timeline: &Timeline, polls: &[PollSummary], t: f64) -> Readout {
    let sample = timeline.sample_at(t);
    let counts = sample.and_then(|sample| sample.counts.as_ref());
    Readout {
        t,
        heap_used: sample.map(|sample| sample.heap_used),
        heap_limit: sample.and_then(|sample| sample.heap_limit),
        dom_nodes: sample.and_then(|sample| sample.dom_nodes),
        listeners: sample.and_then(|sample| sample.listeners),
        timers_live: counts.map(|counts| counts.timers_live),
        requests_in_flight: counts.map(|counts| counts.requests_in_flight),
        controllers_live: counts.map(|counts| counts.controllers_live),
        polls: polls
            .iter()
            .filter(|poll| {
                poll.first_t <= t && (poll.state == PollState::Active || poll.last_t >= t)
            })
            .map(|poll| PollAt {
                id: poll.id,
                state: if poll.state != PollState::Active && t >= poll.last_t {
                    state_name(poll.state).to_owned()
                } else {
                    "active".to_owned()
                },
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_name_is_a_slug_and_a_stamp() {
        let name = bundle_name("Video Editor — leaky", "", 1_700_000_000_000.0);
        assert_eq!(name, "leakscope-video-editor-leaky-20231114-221320.zip");
        let name = bundle_name("", "http://127.0.0.1:8080/?a=1", 0.0);
        assert!(
            name.starts_with("leakscope-http-127-0-0-1-8080-a-1-"),
            "{name}"
        );
    }

    #[test]
    fn demo_flow_audio_is_minimax() {
        let request = DemoRequest {
            variant: "leaky".to_owned(),
            flow: "audio".to_owned(),
            params: HashMap::from([("interval".to_owned(), "200".to_owned())]),
        };
        let (scenario, params) = demo_scenario(&request).unwrap();
        assert_eq!(scenario.flow, Flow::Minimax.into());
        assert_eq!(params, [("interval".to_owned(), "200".to_owned())]);
    }

    #[test]
    fn demo_rejects_unknown_parameters() {
        let request = DemoRequest {
            variant: "leaky".to_owned(),
            flow: "video".to_owned(),
            params: HashMap::from([("onload".to_owned(), "x".to_owned())]),
        };
        let error = demo_scenario(&request).unwrap_err();
        assert_eq!(error.code, ErrorCode::BadInput);
        assert!(error.message.contains("onload"));
    }

    #[test]
    fn demo_rejects_bad_variant() {
        let request = DemoRequest {
            variant: "broken".to_owned(),
            flow: "video".to_owned(),
            params: HashMap::new(),
        };
        assert_eq!(
            demo_scenario(&request).unwrap_err().code,
            ErrorCode::BadInput
        );
    }

    #[test]
    fn params_replace_query_values() {
        let url = with_params(
            "http://127.0.0.1:1/?variant=leaky&interval=1000",
            &[("interval".to_owned(), "200".to_owned())],
        )
        .unwrap();
        assert_eq!(url, "http://127.0.0.1:1/?variant=leaky&interval=200");
    }

    /// Creates a controller over a fresh data folder, with no session.
    fn idle_app() -> (tempfile::TempDir, App) {
        let temp = tempfile::tempdir().unwrap();
        let app = App::new(
            DataDir::at(temp.path().to_owned()),
            Arc::new(crate::pump::NullSink),
        )
        .unwrap();
        (temp, app)
    }

    #[tokio::test]
    async fn commands_without_session_reject_no_session() {
        let (_temp, app) = idle_app();
        assert_eq!(
            app.live_view().await.unwrap_err().code,
            ErrorCode::NoSession
        );
        assert_eq!(app.detach().await.unwrap_err().code, ErrorCode::NoSession);
        assert_eq!(app.force_gc().await.unwrap_err().code, ErrorCode::NoSession);
        assert_eq!(
            app.take_snapshot(true).await.unwrap_err().code,
            ErrorCode::NoSession
        );
        assert_eq!(
            app.export_bundle(None).await.unwrap_err().code,
            ErrorCode::NoSession
        );
        assert_eq!(
            app.replay_view(1.0).await.unwrap_err().code,
            ErrorCode::NoSession
        );
    }

    #[tokio::test]
    async fn marker_label_is_checked_first() {
        let (_temp, app) = idle_app();
        assert_eq!(
            app.add_marker("  ").await.unwrap_err().code,
            ErrorCode::BadInput
        );
        let long = "x".repeat(MAX_LABEL + 1);
        assert_eq!(
            app.add_marker(&long).await.unwrap_err().code,
            ErrorCode::BadInput
        );
    }

    #[tokio::test]
    async fn second_long_action_is_busy() {
        let (_temp, app) = idle_app();
        let first = app.take_slot(slot::EXPORT).unwrap();
        assert_eq!(
            app.take_slot(slot::EXPORT).err().unwrap().code,
            ErrorCode::Busy
        );
        drop(first);
        assert!(app.take_slot(slot::EXPORT).is_ok());
    }
}
