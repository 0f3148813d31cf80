//! A live session: one attached tab, its recorder with the agent and the
//! analysis, and what the UI reads from them while it runs.
//!
//! The wiring is the CLI's (`leakscope record`). The recorder samples the tab
//! and writes the recording. The agent plugin decodes the in-page agent's
//! reports and fills each sample's counts. The analysis plugin feeds the
//! engine and writes its alerts back into the recording. The app adds a
//! [`Timeline`] plugin and shares all three with the view builder, so a view
//! reads the very state the recorder updates, without a second engine.
//!
//! The recorder runs on its own task. When it ends (Stop, tab closed, browser
//! gone) the task stores the summary and emits `session-state: ended`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use leakscope_core::agent::AgentPlugin;
use leakscope_core::analysis::AnalysisPlugin;
use leakscope_core::launcher::LaunchedBrowser;
use leakscope_core::recorder::recording_path;
use leakscope_core::repro::{ProbeHandle, ReproProbe};
use leakscope_core::{
    BrowserConnection, RecordPlugin, RecordSummary, Recorder, RecorderConfig, RecorderHandle,
    Session, SessionEvent, Target,
};
use leakscope_demo::DemoServer;
use leakscope_model::config::Config;
use leakscope_model::live::LiveState;
use leakscope_model::{Record, RecordBody, Sample, TargetInfo};
use serde::Serialize;
use serde_json::json;
use tokio::sync::{watch, Notify};

use crate::error::{AppError, ErrorCode};
use crate::pump::{events, run_live_pump, EventSink};
use crate::timeline::Timeline;
use crate::view::{self, LiveView, TargetView, ViewSources, ViewState};

/// How long Stop waits for the recorder to write its end and return.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Locks a mutex, taking the data of a poisoned one: every writer leaves the
/// state consistent between records, so a panic elsewhere does not spoil it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A plugin shared with the view builder.
struct Shared<P>(Arc<Mutex<P>>);

impl<P: RecordPlugin> RecordPlugin for Shared<P> {
    fn on_event(&mut self, event: &SessionEvent, t: f64, out: &mut Vec<RecordBody>) {
        lock(&self.0).on_event(event, t, out);
    }

    fn on_record(&mut self, record: &Record, out: &mut Vec<RecordBody>) {
        lock(&self.0).on_record(record, out);
    }

    fn fill_sample(&mut self, sample: &mut Sample) {
        lock(&self.0).fill_sample(sample);
    }

    fn summarize(&mut self, summary: &mut RecordSummary) {
        lock(&self.0).summarize(summary);
    }
}

/// Feeds the timeline and wakes the live pump on every record.
struct TimelinePlugin {
    timeline: Arc<Mutex<Timeline>>,
    changed: Arc<Notify>,
}

impl RecordPlugin for TimelinePlugin {
    fn on_record(&mut self, record: &Record, _out: &mut Vec<RecordBody>) {
        lock(&self.timeline).ingest(record);
        self.changed.notify_one();
    }
}

/// Result of `attach` and `openDemo`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub target: TargetView,
    pub recording_path: String,
    /// Wall-clock start of the recording, ms since the Unix epoch.
    pub started_at_ms: f64,
    pub agent_installed: bool,
    /// The agent joined a page that was already running (attach without reload).
    pub agent_late: bool,
}

/// Result of Stop (`detach`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopSummary {
    pub recording_path: String,
    pub duration_s: f64,
    pub samples: u64,
    /// `leak`, `no-leak` or `inconclusive`.
    pub verdict: String,
}

/// Processes and servers the session owns (the demo's), ended with it.
#[derive(Default)]
pub struct Owned {
    pub browser: Option<LaunchedBrowser>,
    pub demo: Option<DemoServer>,
}

/// Outcome of the recorder task: the summary, or the error's message.
type Finished = Option<Result<RecordSummary, String>>;

/// State the view builder reads; cloned into the live pump.
#[derive(Clone)]
pub struct LiveShared {
    target: TargetInfo,
    agent: Option<Arc<Mutex<AgentPlugin>>>,
    analysis: Arc<Mutex<AnalysisPlugin>>,
    timeline: Arc<Mutex<Timeline>>,
    finished: watch::Receiver<Finished>,
    handle: RecorderHandle,
    /// The repro runner's view of the session; `None` without the agent.
    probe: Option<ProbeHandle>,
}

impl LiveShared {
    /// Builds the current view. Takes the agent, analysis and timeline locks
    /// in that order; other readers take them one at a time or in this order.
    pub fn view(&self) -> LiveView {
        let ended = self.finished.borrow().is_some();
        let t = if ended {
            lock(&self.timeline).t()
        } else {
            self.handle.status().borrow().t
        };
        let empty = LiveState::new();
        let agent = self.agent.as_ref().map(|agent| lock(agent));
        let live = agent.as_ref().map_or(&empty, |agent| agent.live());
        let analysis = lock(&self.analysis);
        let timeline = lock(&self.timeline);
        view::build(&ViewSources {
            state: if ended {
                ViewState::Ended
            } else {
                ViewState::Attached
            },
            target: &self.target,
            t: t.max(timeline.t()),
            live,
            engine: analysis.engine(),
            timeline: &timeline,
            agent_installed: self.agent.is_some(),
        })
    }

    pub fn timeline(&self) -> &Arc<Mutex<Timeline>> {
        &self.timeline
    }

    pub fn analysis(&self) -> &Arc<Mutex<AnalysisPlugin>> {
        &self.analysis
    }

    pub fn target(&self) -> &TargetInfo {
        &self.target
    }
}

/// See the module documentation.
pub struct LiveSession {
    pub info: SessionInfo,
    pub path: PathBuf,
    connection: BrowserConnection,
    session: Session,
    state: LiveShared,
    owned: Owned,
}

/// How to start a live session.
pub struct StartOptions {
    pub recordings_dir: PathBuf,
    /// URL to load once the agent is installed (the demo), so the agent
    /// observes the page from its first line.
    pub navigate_to: Option<String>,
    /// Title of the page `navigate_to` loads, when known: the header is
    /// written before the page has loaded.
    pub page_title: Option<String>,
    pub owned: Owned,
}

impl LiveSession {
    /// Attaches to `target`, starts the recorder with the agent and the
    /// analysis, and starts the live pump on `sink`.
    pub async fn start(
        connection: BrowserConnection,
        target: &Target,
        options: StartOptions,
        sink: Arc<dyn EventSink>,
    ) -> Result<LiveSession, AppError> {
        let attach_error = |error: &dyn std::fmt::Display| {
            AppError::new(
                ErrorCode::AttachFailed,
                format!(
                    "failed to attach to tab {} ({}): {error}; check that the tab is still open and try again",
                    target.id, target.url
                ),
            )
        };
        let session = connection
            .attach(&target.id)
            .await
            .map_err(|error| attach_error(&error))?;
        let path = recording_path(&options.recordings_dir, &target.id);
        let mut target_info = target.info();
        if let Some(url) = &options.navigate_to {
            // The tab shows about:blank until the navigation below; the
            // recording is of the page loaded next, so the header names it.
            target_info.url = url.clone();
            target_info.title = options.page_title.clone().unwrap_or_default();
        }
        let config = RecorderConfig {
            agent: true,
            ..RecorderConfig::default()
        };
        let mut recorder = Recorder::start(session.clone(), target_info.clone(), &path, config)
            .await
            .map_err(|error| attach_error(&error))?;

        let agent = match leakscope_core::agent::install(&session).await {
            Ok(_) => {
                let plugin = Arc::new(Mutex::new(AgentPlugin::new(
                    recorder.started_at_ms(),
                    session.losses(),
                )));
                recorder.add_plugin(Box::new(Shared(plugin.clone())));
                Some(plugin)
            }
            Err(error) => {
                // Sampling still works without the agent, and the view shows it missing.
                tracing::warn!(%error, target_id = %target.id, "the in-page agent could not be installed");
                None
            }
        };
        let analysis = Arc::new(Mutex::new(AnalysisPlugin::new(
            Config::default(),
            recorder.target(),
        )));
        recorder.add_plugin(Box::new(Shared(analysis.clone())));
        // The repro probe reads the agent's records, so it goes after the
        // agent plugin. It updates its own live state and poll engine with
        // every record, a second copy of the analysis, for a repro run to read.
        let probe = agent.as_ref().map(|_| {
            let (plugin, handle) = ReproProbe::new(Config::default(), recorder.target());
            recorder.add_plugin(Box::new(plugin));
            handle
        });
        let changed = Arc::new(Notify::new());
        let timeline = Arc::new(Mutex::new(Timeline::new(recorder.started_at_ms())));
        recorder.add_plugin(Box::new(TimelinePlugin {
            timeline: timeline.clone(),
            changed: changed.clone(),
        }));

        if let Some(url) = &options.navigate_to {
            session
                .call_raw(
                    "Page.navigate",
                    json!({ "url": url }),
                    leakscope_core::deadline::NAVIGATION,
                )
                .await
                .map_err(|error| attach_error(&error))?;
        }

        let info = SessionInfo {
            target: TargetView::from(&target_info),
            recording_path: path.display().to_string(),
            started_at_ms: recorder.started_at_ms(),
            agent_installed: agent.is_some(),
            agent_late: agent.is_some() && options.navigate_to.is_none(),
        };
        let handle = recorder.handle();
        let (finished_sender, finished) = watch::channel(None);
        let state = LiveShared {
            target: target_info,
            agent,
            analysis,
            timeline,
            finished,
            handle,
            probe,
        };
        spawn_recorder(recorder, finished_sender, sink.clone(), changed.clone());
        spawn_pump(state.clone(), changed, sink.clone());
        sink.emit(events::SESSION_STATE, json!({ "state": "attached" }));
        tracing::info!(target_id = %target.id, path = %path.display(), "app session started");
        Ok(LiveSession {
            info,
            path,
            connection,
            session,
            state,
            owned: options.owned,
        })
    }

    pub fn view(&self) -> LiveView {
        self.state.view()
    }

    pub fn state(&self) -> &LiveShared {
        &self.state
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn handle(&self) -> &RecorderHandle {
        &self.state.handle
    }

    /// Returns the repro probe, or `None` when the agent could not be installed.
    pub fn probe(&self) -> Option<&ProbeHandle> {
        self.state.probe.as_ref()
    }

    pub fn connection(&self) -> &BrowserConnection {
        &self.connection
    }

    /// Returns whether the recorder has ended (Stop, tab closed, browser gone).
    pub fn ended(&self) -> bool {
        self.state.finished.borrow().is_some()
    }

    /// Stops the recorder, waits for its end, detaches from the tab and ends
    /// what the session owns. Calling it again returns the same summary.
    pub async fn stop(&mut self) -> Result<StopSummary, AppError> {
        self.state.handle.stop().await;
        let mut finished = self.state.finished.clone();
        let wait = finished.wait_for(|finished| finished.is_some());
        let outcome = match tokio::time::timeout(STOP_DEADLINE, wait).await {
            Ok(Ok(outcome)) => outcome.clone(),
            Ok(Err(_)) => Some(Err("the recorder task ended without a result".to_owned())),
            Err(_) => {
                return Err(AppError::internal(format!(
                    "the recorder did not stop within {STOP_DEADLINE:?}; the recording at {} is complete up to the last second",
                    self.path.display()
                )))
            }
        };
        if !self.session.state().borrow().is_terminal() {
            if let Err(error) = self.session.detach().await {
                tracing::debug!(%error, "failed to detach after stopping");
            }
        }
        if let Some(browser) = self.owned.browser.take() {
            browser.kill().await;
        }
        if let Some(demo) = self.owned.demo.take() {
            if let Err(error) = demo.shutdown().await {
                tracing::warn!(%error, "failed to stop the demo server");
            }
        }
        match outcome {
            Some(Ok(summary)) => {
                let verdict = leakscope_core::analysis::read_summary(&summary)
                    .map(|analysis| view::verdict_name(analysis.verdict.verdict).to_owned())
                    .unwrap_or_else(|_| "inconclusive".to_owned());
                Ok(StopSummary {
                    recording_path: summary.recording.display().to_string(),
                    duration_s: summary.duration_s,
                    samples: summary.samples,
                    verdict,
                })
            }
            Some(Err(message)) => Err(AppError::new(
                ErrorCode::Io,
                format!(
                    "the recording ended with an error: {message}; the file {} keeps what was written",
                    self.path.display()
                ),
            )),
            None => Err(AppError::internal("the recorder gave no result")),
        }
    }
}

fn spawn_recorder(
    recorder: Recorder,
    finished: watch::Sender<Finished>,
    sink: Arc<dyn EventSink>,
    changed: Arc<Notify>,
) {
    tokio::spawn(async move {
        let result = recorder.run().await;
        let reason = match &result {
            Ok(summary) => format!("{}: {}", summary.end_reason.as_str(), summary.end_message),
            Err(error) => format!("error: {error}"),
        };
        tracing::info!(%reason, "app session ended");
        finished.send_replace(Some(result.map_err(|error| error.to_string())));
        sink.emit(
            events::SESSION_STATE,
            json!({ "state": "ended", "reason": reason }),
        );
        // One last view, in the ended state.
        changed.notify_one();
    });
}

fn spawn_pump(state: LiveShared, changed: Arc<Notify>, sink: Arc<dyn EventSink>) {
    tokio::spawn(async move {
        let mut sent_final = false;
        run_live_pump(changed, sink, move || {
            if sent_final {
                return None;
            }
            let view = state.view();
            sent_final = view.state == ViewState::Ended;
            serde_json::to_value(view).ok()
        })
        .await;
    });
}
