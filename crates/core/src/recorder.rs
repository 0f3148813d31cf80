//! The recorder: owns an attached session, samples it, turns its events into
//! records, and appends everything to a recording file while also publishing
//! it in process for live front ends.
//!
//! One task runs [`Recorder::run`], an explicit loop over a closed set of
//! inputs. Records go, in this order, to the file ([`RecordingWriter`], which
//! flushes at least once a second), to the in-process broadcast
//! ([`RecorderHandle::subscribe`]), and to the plugins. Plugins
//! ([`RecordPlugin`]) are how later features join: the agent decoder turns
//! events into records, the live state fills the agent counts of each sample,
//! the poll engine and the rules read records and add their own (alerts).
//!
//! Memory stays bounded: the live ring keeps the last [`LIVE_RING_CAPACITY`]
//! samples and the summary keeps aggregates; the file holds the full history.
//! The recording always ends with an `End` record that says why, written as
//! soon as the session ends (tab closed, renderer crashed, browser gone).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chromiumoxide_cdp::cdp::browser_protocol::{inspector, network, page, performance};
use chromiumoxide_cdp::cdp::js_protocol::runtime;
use leakscope_model::{
    EndReason, Header, Losses, NavigationKind, NetworkEvent, Record, RecordBody, RecordingError,
    RecordingWriter, Sample, Settings, TargetInfo, FORMAT_VERSION,
};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};

use crate::deadline;
use crate::events::{SessionEvent, TypedEvent};
use crate::sampler::{self, GcSchedule, IntervalError};
use crate::session::{EventStream, EventsError, Session, SessionError, SessionState};
use crate::summary::{HeapSummary, RecordSummary, TargetSummary};

/// Samples kept in memory for a live chart: one hour at the default 1 s interval.
pub const LIVE_RING_CAPACITY: usize = 3600;

/// Metrics the live ring keeps per sample; the recording file keeps them all.
pub const LIVE_RING_METRICS: &[&str] = &[
    "Nodes",
    "JSEventListeners",
    "Documents",
    "Frames",
    "LayoutCount",
];

/// Records buffered for live subscribers before a slow one misses some.
const LIVE_CHANNEL_CAPACITY: usize = 4096;

/// Control messages (stop, pause, extra records) waiting for the loop.
const CONTROL_CHANNEL_CAPACITY: usize = 256;

/// How often buffered lines are pushed to the file when nothing else writes.
/// Half of the writer's one-second promise, so a quiet recording is never
/// more than a second behind.
const FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// How long a plain `Detached` state may wait to be refined into
/// `TargetClosed` or `RendererCrashed`, which Chrome reports a moment after
/// the detach. Short enough to keep the end within the 2 s promise.
const DETACH_REFINE_GRACE: Duration = Duration::from_millis(300);

/// Records a plugin may add in reaction to one record, transitively. A
/// plugin that reacts to its own output forever is cut off here.
const MAX_DERIVED_RECORDS: usize = 1000;

/// Settings of a recording.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// Sampling interval, at least [`sampler::MIN_INTERVAL`].
    pub interval: Duration,
    /// Stop after this long; `None` runs until stopped or the tab ends.
    pub duration: Option<Duration>,
    /// Run a garbage collection before a sample every [`sampler::GC_PERIOD`].
    pub gc_before_sample: bool,
    /// Enable the Network domain and record request lifecycles.
    pub network: bool,
    /// Whether the in-page agent runs (recorded in the header; the caller installs it).
    pub agent: bool,
    /// Free-form settings of later features, copied into the header.
    pub extra_settings: BTreeMap<String, Value>,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            interval: sampler::DEFAULT_INTERVAL,
            duration: None,
            gc_before_sample: false,
            network: true,
            agent: false,
            extra_settings: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error(transparent)]
    Interval(#[from] IntervalError),
    #[error("failed to prepare the tab for recording: {0}")]
    Setup(#[source] SessionError),
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("failed to create the recording directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A feature that joins the recording. Every method has a default that does
/// nothing, so a plugin implements only what it needs.
pub trait RecordPlugin: Send {
    /// Sees every event of the session; may add records (for example the
    /// agent's `Runtime.bindingCalled` payloads turned into timer records).
    fn on_event(&mut self, _event: &SessionEvent, _t: f64, _out: &mut Vec<RecordBody>) {}
    /// Sees every record written, its own included; may add records (alerts).
    fn on_record(&mut self, _record: &Record, _out: &mut Vec<RecordBody>) {}
    /// Completes a sample before it is written (for example `Sample::counts`).
    fn fill_sample(&mut self, _sample: &mut Sample) {}
    /// Adds fields to the summary at the end.
    fn summarize(&mut self, _summary: &mut RecordSummary) {}
}

/// What a live front end shows while recording.
#[derive(Debug, Clone, PartialEq)]
pub struct RecorderStatus {
    /// Seconds since the recording started.
    pub t: f64,
    pub samples: u64,
    pub gaps: u64,
    pub navigations: u64,
    pub last_sample: Option<Sample>,
    pub heap: HeapSummary,
    pub losses: Losses,
    pub state: SessionState,
    /// URL of the current document.
    pub url: String,
    /// Set once the recording ended.
    pub ended: Option<EndReason>,
}

/// The last [`LIVE_RING_CAPACITY`] samples with their `t`, for a live chart,
/// each with only the [`LIVE_RING_METRICS`].
#[derive(Debug, Clone, Default)]
pub struct LiveRing {
    samples: Arc<Mutex<VecDeque<(f64, Sample)>>>,
}

impl LiveRing {
    /// Copies the samples, oldest first.
    pub fn snapshot(&self) -> Vec<(f64, Sample)> {
        self.lock().iter().cloned().collect()
    }

    /// Keeps a copy of `sample` with only the [`LIVE_RING_METRICS`]: the
    /// full metric map is ten times larger, and the file has it anyway.
    fn push(&self, t: f64, mut sample: Sample) {
        sample
            .metrics
            .retain(|name, _| LIVE_RING_METRICS.contains(&name.as_str()));
        let mut samples = self.lock();
        if samples.len() == LIVE_RING_CAPACITY {
            samples.pop_front();
        }
        samples.push_back((t, sample));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(f64, Sample)>> {
        self.samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

enum Control {
    Stop,
    Record(RecordBody),
    Pause(Option<String>),
}

/// A handle to a running recorder: stop it, add records, pause sampling,
/// watch its status and subscribe to its records. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct RecorderHandle {
    control: mpsc::Sender<Control>,
    status: watch::Receiver<RecorderStatus>,
    live: broadcast::Sender<Arc<Record>>,
    ring: LiveRing,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Control::Stop => write!(f, "Stop"),
            Control::Record(body) => write!(f, "Record({body:?})"),
            Control::Pause(reason) => write!(f, "Pause({reason:?})"),
        }
    }
}

impl RecorderHandle {
    /// Asks the recorder to stop; it writes `End { reason: stopped }`.
    pub async fn stop(&self) {
        // An error means the recorder already ended, which is what was asked.
        let _ = self.control.send(Control::Stop).await;
    }

    /// Appends a record (a marker, a snapshot event, the agent's injection).
    pub async fn record(&self, body: RecordBody) {
        let _ = self.control.send(Control::Record(body)).await;
    }

    /// Pauses sampling; a `Gap` with `reason` is recorded once. Used while a
    /// heap snapshot is taken, when the page cannot answer.
    pub async fn pause(&self, reason: &str) {
        let _ = self
            .control
            .send(Control::Pause(Some(reason.to_owned())))
            .await;
    }

    /// Resumes sampling after [`RecorderHandle::pause`].
    pub async fn resume(&self) {
        let _ = self.control.send(Control::Pause(None)).await;
    }

    /// Status, updated after every record.
    pub fn status(&self) -> watch::Receiver<RecorderStatus> {
        self.status.clone()
    }

    /// Every record from now on, as written.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.live.subscribe()
    }

    /// The recent samples, for a live chart.
    pub fn ring(&self) -> LiveRing {
        self.ring.clone()
    }
}

/// Returns a new recording path in `dir`: `leakscope-<UTC time>-<target id prefix>.jsonl`.
pub fn recording_path(dir: &Path, target_id: &str) -> PathBuf {
    let format = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    let stamp = time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| "recording".to_owned());
    let short: String = target_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    dir.join(format!("leakscope-{stamp}-{short}.jsonl"))
}

/// A recording in progress.
pub struct Recorder {
    session: Session,
    target: TargetInfo,
    config: RecorderConfig,
    writer: RecordingWriter,
    started: Instant,
    started_at_ms: f64,
    events: EventStream,
    plugins: Vec<Box<dyn RecordPlugin>>,
    control: mpsc::Receiver<Control>,
    handle: RecorderHandle,
    status: watch::Sender<RecorderStatus>,
    main_frame: Option<String>,
    url: String,
    heap_limit: Option<u64>,
    heap_limit_stale: bool,
    gc: GcSchedule,
    sample_attempts: u64,
    paused: bool,
    written_losses: Losses,
    summary: RecordSummary,
}

/// Everything the recorder loop reacts to.
enum Input {
    Control(Option<Control>),
    DurationElapsed,
    StateChanged,
    Tick,
    Flush,
    Event(Result<Arc<SessionEvent>, EventsError>),
}

impl Recorder {
    /// Prepares the tab (enables `Inspector`, `Page`, `Runtime`,
    /// `Performance` and, with `config.network`, `Network` on this target
    /// only, without reloading it), creates the recording file at `path`, and
    /// writes its header.
    pub async fn start(
        session: Session,
        target: TargetInfo,
        path: &Path,
        config: RecorderConfig,
    ) -> Result<Recorder, RecorderError> {
        sampler::check_interval(config.interval)?;
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| RecorderError::Directory {
                path: dir.to_owned(),
                source,
            })?;
        }
        let browser = session
            .connection()
            .version()
            .await
            .map_err(RecorderError::Setup)?;
        // Subscribe before enabling domains so no event is missed.
        let events = session.events();
        session
            .call(inspector::EnableParams::default())
            .await
            .map_err(RecorderError::Setup)?;
        session
            .call(page::EnableParams::default())
            .await
            .map_err(RecorderError::Setup)?;
        session
            .call(runtime::EnableParams::default())
            .await
            .map_err(RecorderError::Setup)?;
        session
            .call(performance::EnableParams::default())
            .await
            .map_err(RecorderError::Setup)?;
        if config.network {
            session
                .call(network::EnableParams::default())
                .await
                .map_err(RecorderError::Setup)?;
        }
        let main_frame = main_frame_id(&session).await;

        let started_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        let mut extra = config.extra_settings.clone();
        extra.insert("network".to_owned(), Value::Bool(config.network));
        let header = Header {
            format_version: FORMAT_VERSION,
            leakscope_version: env!("CARGO_PKG_VERSION").to_owned(),
            browser,
            target: target.clone(),
            started_at_ms,
            settings: Settings {
                interval_ms: u64::try_from(config.interval.as_millis()).unwrap_or(u64::MAX),
                gc_before_sample: config.gc_before_sample,
                agent: config.agent,
                extra,
            },
        };
        let writer = RecordingWriter::create(path, &header)?;

        let (control_sender, control) = mpsc::channel(CONTROL_CHANNEL_CAPACITY);
        let initial_state = session.state().borrow().clone();
        let status_value = RecorderStatus {
            t: 0.0,
            samples: 0,
            gaps: 0,
            navigations: 0,
            last_sample: None,
            heap: HeapSummary::default(),
            losses: Losses::default(),
            state: initial_state,
            url: target.url.clone(),
            ended: None,
        };
        let (status, status_receiver) = watch::channel(status_value);
        let (live, _) = broadcast::channel(LIVE_CHANNEL_CAPACITY);
        let handle = RecorderHandle {
            control: control_sender,
            status: status_receiver,
            live,
            ring: LiveRing::default(),
        };
        let summary = RecordSummary {
            target: TargetSummary::from(&target),
            duration_s: 0.0,
            samples: 0,
            gaps: 0,
            navigations: 0,
            heap: HeapSummary::default(),
            recording: path.to_owned(),
            undecoded_messages: 0,
            dropped_events: 0,
            timed_out_commands: 0,
            end_reason: EndReason::Error,
            end_message: String::new(),
            extra: BTreeMap::new(),
        };
        tracing::info!(path = %path.display(), target_id = %target.id, "recording started");
        Ok(Recorder {
            gc: GcSchedule::new(config.interval, sampler::GC_PERIOD),
            url: target.url.clone(),
            session,
            target,
            config,
            writer,
            started: Instant::now(),
            started_at_ms,
            events,
            plugins: Vec::new(),
            control,
            handle,
            status,
            main_frame,
            heap_limit: None,
            heap_limit_stale: true,
            sample_attempts: 0,
            paused: false,
            written_losses: Losses::default(),
            summary,
        })
    }

    /// Adds a plugin; plugins see records in the order they were added.
    pub fn add_plugin(&mut self, plugin: Box<dyn RecordPlugin>) {
        self.plugins.push(plugin);
    }

    /// A handle to control and watch this recorder.
    pub fn handle(&self) -> RecorderHandle {
        self.handle.clone()
    }

    /// Wall-clock start of the recording (the header's `started_at_ms`).
    pub fn started_at_ms(&self) -> f64 {
        self.started_at_ms
    }

    /// The session being recorded.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The target being recorded.
    pub fn target(&self) -> &TargetInfo {
        &self.target
    }

    /// Path of the recording file.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    /// Appends a record now, before [`Recorder::run`] (for example the
    /// agent's `AgentInjected`).
    pub fn record(&mut self, body: RecordBody) -> Result<(), RecorderError> {
        self.write(body)
    }

    /// Samples and records until the duration elapses, the handle stops it,
    /// or the session ends. Always ends the file with an `End` record, unless
    /// writing itself failed.
    pub async fn run(mut self) -> Result<RecordSummary, RecorderError> {
        let mut ticker = tokio::time::interval(self.config.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush = tokio::time::interval(FLUSH_INTERVAL);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let deadline = self
            .config
            .duration
            .map(|duration| tokio::time::Instant::from_std(self.started + duration));
        let mut state = self.session.state();
        let mut control_open = true;
        let mut events_open = true;

        let (reason, message) = loop {
            let input = tokio::select! {
                biased;
                // The session changed state (closed, crashed, browser gone).
                // First, so the end is recorded before anything else.
                changed = state.changed() => match changed {
                    Ok(()) => Input::StateChanged,
                    Err(_) => Input::StateChanged,
                },
                // Stop, pause, or a record from a handle.
                control = self.control.recv(), if control_open => Input::Control(control),
                // The requested duration is over.
                _ = sleep_until_option(deadline) => Input::DurationElapsed,
                // Time for the next sample.
                _ = ticker.tick() => Input::Tick,
                // Push buffered lines to the file.
                _ = flush.tick() => Input::Flush,
                // An event of the attached tab.
                event = self.events.recv(), if events_open => Input::Event(event),
            };
            match input {
                Input::StateChanged => {
                    let current = state.borrow_and_update().clone();
                    if current.is_terminal() {
                        break self.end_of_session(current, &mut state).await;
                    }
                    self.publish_status();
                }
                Input::Control(None) => control_open = false,
                Input::Control(Some(Control::Stop)) => {
                    break (EndReason::Stopped, "stopped by the user".to_owned())
                }
                Input::Control(Some(Control::Record(body))) => self.write(body)?,
                Input::Control(Some(Control::Pause(reason))) => self.set_pause(reason)?,
                Input::DurationElapsed => {
                    break (
                        EndReason::Duration,
                        "the requested duration elapsed".to_owned(),
                    )
                }
                Input::Tick => {
                    if let Err(ended) = self.sample().await? {
                        break self.end_of_session(ended, &mut state).await;
                    }
                }
                Input::Flush => self.writer.flush()?,
                Input::Event(Ok(event)) => self.on_event(&event)?,
                Input::Event(Err(EventsError::Lagged(missed))) => {
                    tracing::warn!(missed, "the recorder fell behind the tab's events");
                }
                Input::Event(Err(EventsError::Closed)) => events_open = false,
            }
        };
        self.finish(reason, message)
    }

    /// Turns a terminal session state into the end of the recording. A plain
    /// detach waits briefly for Chrome to say whether the tab closed or crashed.
    async fn end_of_session(
        &mut self,
        mut ended: SessionState,
        state: &mut watch::Receiver<SessionState>,
    ) -> (EndReason, String) {
        if matches!(ended, SessionState::Detached { .. }) {
            let refine = async {
                while state.changed().await.is_ok() {
                    let current = state.borrow_and_update().clone();
                    if !matches!(current, SessionState::Detached { .. }) {
                        return current;
                    }
                }
                ended.clone()
            };
            if let Ok(refined) = tokio::time::timeout(DETACH_REFINE_GRACE, refine).await {
                ended = refined;
            }
        }
        let reason = match &ended {
            SessionState::TargetClosed => EndReason::TargetClosed,
            SessionState::RendererCrashed => EndReason::RendererCrashed,
            SessionState::BrowserGone { .. } => EndReason::BrowserGone,
            _ => EndReason::Error,
        };
        (reason, ended.to_string())
    }

    /// Takes one sample, or records a gap. Returns `Ok(Err(state))` when the
    /// session ended during the sample.
    async fn sample(&mut self) -> Result<Result<(), SessionState>, RecorderError> {
        if self.paused {
            return Ok(Ok(()));
        }
        let t = self.now();
        if self.heap_limit_stale {
            match sampler::read_heap_limit(&self.session).await {
                Ok(limit) => {
                    self.heap_limit = limit;
                    self.heap_limit_stale = false;
                }
                Err(error) => tracing::debug!(%error, "failed to read the heap limit; will retry"),
            }
        }
        let gc_first =
            self.config.gc_before_sample && self.gc.collects_before(self.sample_attempts);
        self.sample_attempts += 1;
        match sampler::take_sample(&self.session, self.heap_limit, gc_first).await {
            Ok(mut sample) => {
                for plugin in &mut self.plugins {
                    plugin.fill_sample(&mut sample);
                }
                self.summary.samples += 1;
                self.summary.heap.add(&sample);
                self.handle.ring.push(t, sample.clone());
                self.write_at(t, RecordBody::Sample(sample))?;
            }
            Err(error) => {
                if let Some(state) = error.ended_by() {
                    return Ok(Err(state.clone()));
                }
                self.summary.gaps += 1;
                self.write_at(
                    t,
                    RecordBody::Gap {
                        reason: error.to_string(),
                    },
                )?;
            }
        }
        self.write_losses_if_changed()?;
        Ok(Ok(()))
    }

    fn set_pause(&mut self, reason: Option<String>) -> Result<(), RecorderError> {
        match reason {
            Some(reason) if !self.paused => {
                self.paused = true;
                self.summary.gaps += 1;
                self.write(RecordBody::Gap {
                    reason: format!("sampling paused: {reason}"),
                })
            }
            None => {
                self.paused = false;
                Ok(())
            }
            Some(_) => Ok(()),
        }
    }

    fn on_event(&mut self, event: &SessionEvent) -> Result<(), RecorderError> {
        let t = self.now();
        let mut bodies = Vec::new();
        if let Some(body) = self.navigation_of(event) {
            bodies.push(body);
        }
        for plugin in &mut self.plugins {
            plugin.on_event(event, t, &mut bodies);
        }
        // A plugin (the agent) may already turn Network events into records
        // for its cross-check; record each request event once.
        let plugin_recorded_network = bodies
            .iter()
            .any(|body| matches!(body, RecordBody::Network(_)));
        if self.config.network && !plugin_recorded_network {
            bodies.extend(network_of(event));
        }
        for body in bodies {
            self.write_at(t, body)?;
        }
        Ok(())
    }

    /// A navigation of the main frame, from `Page.frameNavigated` (full or
    /// reload) or `Page.navigatedWithinDocument` (same document). Falls back
    /// to the raw JSON when the typed event failed to decode.
    fn navigation_of(&mut self, event: &SessionEvent) -> Option<RecordBody> {
        match event.method.as_str() {
            "Page.frameNavigated" => {
                let (frame_id, parent, url) = match &event.typed {
                    Some(TypedEvent::FrameNavigated(navigated)) => (
                        navigated.frame.id.as_ref().to_owned(),
                        navigated.frame.parent_id.is_some(),
                        navigated.frame.url.clone()
                            + navigated.frame.url_fragment.as_deref().unwrap_or_default(),
                    ),
                    _ => (
                        event.str_at("/frame/id")?.to_owned(),
                        event.params.pointer("/frame/parentId").is_some(),
                        event.str_at("/frame/url")?.to_owned()
                            + event.str_at("/frame/urlFragment").unwrap_or_default(),
                    ),
                };
                if parent {
                    return None;
                }
                self.main_frame = Some(frame_id);
                let navigation = if url == self.url {
                    NavigationKind::Reload
                } else {
                    NavigationKind::Full
                };
                self.url = url.clone();
                self.heap_limit_stale = true;
                self.summary.navigations += 1;
                Some(RecordBody::Navigation { url, navigation })
            }
            "Page.navigatedWithinDocument" => {
                let (frame_id, url) = match &event.typed {
                    Some(TypedEvent::NavigatedWithinDocument(navigated)) => (
                        navigated.frame_id.as_ref().to_owned(),
                        navigated.url.clone(),
                    ),
                    _ => (
                        event.str_at("/frameId")?.to_owned(),
                        event.str_at("/url")?.to_owned(),
                    ),
                };
                if self
                    .main_frame
                    .as_deref()
                    .is_some_and(|main| main != frame_id)
                {
                    return None;
                }
                self.url = url.clone();
                self.summary.navigations += 1;
                Some(RecordBody::Navigation {
                    url,
                    navigation: NavigationKind::SameDocument,
                })
            }
            _ => None,
        }
    }

    fn write(&mut self, body: RecordBody) -> Result<(), RecorderError> {
        let t = self.now();
        self.write_at(t, body)
    }

    /// Writes a record to the file, the live channel and the plugins, then the
    /// records the plugins derive from it.
    fn write_at(&mut self, t: f64, body: RecordBody) -> Result<(), RecorderError> {
        let mut queue = VecDeque::from([body]);
        let mut derived = 0usize;
        while let Some(body) = queue.pop_front() {
            let record = Record { t, body };
            self.writer.append(&record)?;
            let mut out = Vec::new();
            for plugin in &mut self.plugins {
                plugin.on_record(&record, &mut out);
            }
            // No subscriber is not a loss: nobody asked for live records.
            let _ = self.handle.live.send(Arc::new(record));
            derived += out.len();
            if derived > MAX_DERIVED_RECORDS {
                tracing::warn!(
                    derived,
                    "plugins derived too many records from one record; dropped the rest"
                );
                break;
            }
            queue.extend(out);
        }
        self.publish_status();
        Ok(())
    }

    fn write_losses_if_changed(&mut self) -> Result<(), RecorderError> {
        let losses = self.session.losses().totals();
        if losses != self.written_losses {
            self.written_losses = losses.clone();
            self.write(RecordBody::Losses(losses))?;
        }
        Ok(())
    }

    fn finish(
        mut self,
        reason: EndReason,
        message: String,
    ) -> Result<RecordSummary, RecorderError> {
        self.write_losses_if_changed()?;
        let t = self.now();
        tracing::info!(reason = reason.as_str(), %message, "recording ended");
        self.write_at(
            t,
            RecordBody::End {
                reason,
                message: message.clone(),
            },
        )?;
        self.writer.flush()?;
        let losses = self.session.losses().totals();
        self.summary.duration_s = t;
        self.summary.end_reason = reason;
        self.summary.end_message = message;
        self.summary.target = TargetSummary {
            url: self.url.clone(),
            ..TargetSummary::from(&self.target)
        };
        self.summary.set_losses(&losses);
        for plugin in &mut self.plugins {
            plugin.summarize(&mut self.summary);
        }
        self.status
            .send_modify(|status| status.ended = Some(reason));
        Ok(self.summary)
    }

    fn publish_status(&self) {
        let state = self.session.state().borrow().clone();
        let losses = self.session.losses().totals();
        let last_sample = self
            .handle
            .ring
            .lock()
            .back()
            .map(|(_, sample)| sample.clone());
        self.status.send_modify(|status| {
            status.t = self.started.elapsed().as_secs_f64();
            status.samples = self.summary.samples;
            status.gaps = self.summary.gaps;
            status.navigations = self.summary.navigations;
            status.last_sample = last_sample;
            status.heap = self.summary.heap.clone();
            status.losses = losses;
            status.state = state;
            status.url = self.url.clone();
        });
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until_option(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The id of the main frame, from `Page.getFrameTree` (read raw: the typed
/// frame tree requires fields that vary between Chrome versions).
async fn main_frame_id(session: &Session) -> Option<String> {
    let tree = session
        .call_raw(
            "Page.getFrameTree",
            Value::Object(Default::default()),
            deadline::QUICK,
        )
        .await;
    match tree {
        Ok(tree) => tree
            .pointer("/frameTree/frame/id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Err(error) => {
            tracing::debug!(%error, "failed to read the frame tree; every same-document navigation counts");
            None
        }
    }
}

/// The Network record of an event, if it is one of the four lifecycle events.
fn network_of(event: &SessionEvent) -> Option<RecordBody> {
    let body = match (&event.typed, event.method.as_str()) {
        (Some(TypedEvent::RequestWillBeSent(sent)), _) => NetworkEvent::Sent {
            request_id: sent.request_id.as_ref().to_owned(),
            method: sent.request.method.clone(),
            url: leakscope_model::live::redact_url(&sent.request.url),
        },
        (_, "Network.requestWillBeSent") => NetworkEvent::Sent {
            request_id: event.str_at("/requestId")?.to_owned(),
            method: event.str_at("/request/method")?.to_owned(),
            url: leakscope_model::live::redact_url(event.str_at("/request/url")?),
        },
        (Some(TypedEvent::ResponseReceived(received)), _) => NetworkEvent::Response {
            request_id: received.request_id.as_ref().to_owned(),
            status: u16::try_from(received.response.status).unwrap_or(0),
        },
        (_, "Network.responseReceived") => NetworkEvent::Response {
            request_id: event.str_at("/requestId")?.to_owned(),
            status: event
                .params
                .pointer("/response/status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0),
        },
        (_, "Network.loadingFinished") => NetworkEvent::Finished {
            request_id: event.str_at("/requestId")?.to_owned(),
        },
        (_, "Network.loadingFailed") => NetworkEvent::Failed {
            request_id: event.str_at("/requestId")?.to_owned(),
            error: event.str_at("/errorText").unwrap_or_default().to_owned(),
            canceled: event
                .params
                .get("canceled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        _ => return None,
    };
    Some(RecordBody::Network(body))
}
