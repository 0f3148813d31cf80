//! Repro runs: repeat an action and its undo on an attached, recorded tab,
//! measure the page after each pair, take three heap snapshots, and report
//! what grows by a steady amount per iteration.
//!
//! The sequence is: warm-up iterations (not measured), a baseline measure
//! and snapshot, then N iterations of action + undo with a measure after
//! each, a target snapshot after the last action and a final snapshot after
//! the last undo (each capture runs a full garbage collection first). The
//! baseline → final snapshot diff gives the leak candidates, each with a
//! retainer path. Every step is a `marker` record and every snapshot a
//! `snapshot` record of the recording, so the run exports as a bundle like
//! any other recording.
//!
//! A measure reads the heap after `HeapProfiler.collectGarbage`,
//! `Performance.getMetrics` (DOM nodes, listeners), `DOM.getDetachedDomNodes`
//! (detached nodes; left out with a note when the browser lacks it), and the
//! agent's live timers, requests and controllers plus the active poll
//! lifecycles from [`ReproProbe`], a recorder plugin. Before reading those,
//! the runner flushes the agent and calls a binding of its own
//! ([`SYNC_BINDING`]): the probe sees that call after every agent record sent
//! before it, so the counts are current.
//!
//! A tab that closes mid-run, or a cancelled run, ends the run with the
//! partial report marked incomplete; the recorder writes its own end. A bad
//! step (a selector that never appears, an expression that throws) fails the
//! run with an error that names the step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leakscope_model::config::Config;
use leakscope_model::live::LiveState;
use leakscope_model::polls::PollState;
use leakscope_model::repro::{
    self, ActionSpec, ClassGrowth, GrowthThresholds, IterationValues, Measure, PathStepView,
    PollGrowth, ReproReport, ReproSnapshots, Step,
};
use leakscope_model::{Engine, Header, Record, RecordBody, Settings, TargetInfo, FORMAT_VERSION};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::agent::AgentPlugin;
use crate::analysis::AnalysisPlugin;
use crate::capture::{self, CaptureError, CaptureOptions};
use crate::deadline;
use crate::events::{SessionEvent, TypedEvent};
use crate::recorder::{RecordPlugin, Recorder, RecorderConfig, RecorderError, RecorderHandle};
use crate::sampler;
use crate::session::{Session, SessionError, SessionState};
use crate::summary::RecordSummary;

/// Name of the binding the runner calls to know that the probe has seen
/// every agent record sent before the call.
pub const SYNC_BINDING: &str = "__leakscopeReproSync";

/// How often a `click` or `waitFor` step looks for its selector. The check is
/// a CDP call from here, so the page gets no timer of ours to count.
const SELECTOR_POLL: Duration = Duration::from_millis(50);

/// How long a plain detach may wait to be refined into a closed tab or a
/// crash; the recorder waits as long for its `End` record.
const DETACH_REFINE_GRACE: Duration = Duration::from_millis(300);

/// How long the probe may take to see a sync call.
const SYNC_DEADLINE: Duration = Duration::from_secs(5);

/// Retainer paths computed per run: each is a breadth-first search over the
/// final snapshot, so they are limited to the top candidates.
const MAX_RETAINER_PATHS: usize = 8;

/// Settings of a repro run.
#[derive(Debug, Clone)]
pub struct ReproConfig {
    pub action: ActionSpec,
    pub undo: ActionSpec,
    /// Measured iterations (default [`repro::DEFAULT_ITERATIONS`]).
    pub iterations: u32,
    /// Iterations before the baseline, not measured.
    pub warmup: u32,
    /// Directory for the three heap snapshots.
    pub snapshot_dir: PathBuf,
    /// File name prefix of the snapshots (`<prefix>-baseline.heapsnapshot`, ...).
    pub snapshot_prefix: String,
    /// Pause after each undo and before a measure, so responses and abort
    /// handlers already queued in the page run before the page is measured.
    pub settle: Duration,
    pub thresholds: GrowthThresholds,
    /// Take the three heap snapshots and the diff; off, only measures run.
    pub snapshots: bool,
}

impl ReproConfig {
    pub fn new(action: ActionSpec, undo: ActionSpec, snapshot_dir: PathBuf) -> ReproConfig {
        ReproConfig {
            action,
            undo,
            iterations: repro::DEFAULT_ITERATIONS,
            warmup: repro::DEFAULT_WARMUP,
            snapshot_dir,
            snapshot_prefix: "repro".to_owned(),
            settle: Duration::from_millis(300),
            thresholds: GrowthThresholds::default(),
            snapshots: true,
        }
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Warmup,
    Action,
    Undo,
    Measure,
    Snapshot(SnapshotKind),
    Analyse,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    Baseline,
    Target,
    Final,
}

impl SnapshotKind {
    pub fn name(self) -> &'static str {
        match self {
            SnapshotKind::Baseline => "baseline",
            SnapshotKind::Target => "target",
            SnapshotKind::Final => "final",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::Warmup => write!(f, "warm-up"),
            Phase::Action => write!(f, "action"),
            Phase::Undo => write!(f, "undo"),
            Phase::Measure => write!(f, "measure"),
            Phase::Snapshot(kind) => write!(f, "{} snapshot", kind.name()),
            Phase::Analyse => write!(f, "analyse"),
            Phase::Done => write!(f, "done"),
        }
    }
}

/// One progress report: sent at the start of every step, measure and
/// snapshot, and once with [`Phase::Done`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReproProgress {
    /// 1-based iteration; during warm-up it counts warm-up iterations.
    /// 0 before the first iteration and for the baseline.
    pub iteration: u32,
    /// Iterations of the current kind (warm-up or measured).
    pub of: u32,
    pub phase: Phase,
    /// The step being run (`click #open-video`), the measure values, or the
    /// snapshot progress.
    pub detail: String,
}

/// Cancels a run from another task; the run ends at its next step with an
/// incomplete report.
#[derive(Debug, Clone)]
pub struct CancelHandle(Arc<watch::Sender<bool>>);

/// The run's side of a [`CancelHandle`].
#[derive(Debug, Clone)]
pub struct CancelToken(watch::Receiver<bool>);

/// Creates a connected cancel handle and token.
pub fn cancel_pair() -> (CancelHandle, CancelToken) {
    let (sender, receiver) = watch::channel(false);
    (CancelHandle(Arc::new(sender)), CancelToken(receiver))
}

impl CancelHandle {
    pub fn cancel(&self) {
        let _ = self.0.send(true);
    }
}

impl CancelToken {
    /// A token that is never cancelled.
    pub fn never() -> CancelToken {
        let (_, token) = cancel_pair();
        token
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Sleeps for `duration`; returns false when cancelled first.
    async fn sleep(&mut self, duration: Duration) -> bool {
        if self.is_cancelled() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(duration) => true,
            changed = self.0.changed() => {
                // A dropped handle can no longer cancel: finish the sleep.
                if changed.is_err() {
                    tokio::time::sleep(duration).await;
                    return true;
                }
                !*self.0.borrow()
            }
        }
    }
}

/// Error of a repro run. The recording is kept in every case.
#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    #[error("{phase} step {index} ({step}): no element matches the selector {selector} after {timeout_ms} ms; check the selector, or raise the step's timeoutMs")]
    SelectorTimeout {
        phase: String,
        index: usize,
        step: String,
        selector: String,
        timeout_ms: u64,
    },
    #[error("{phase} step {index} ({step}) threw in the page: {message}")]
    Threw {
        phase: String,
        index: usize,
        step: String,
        message: String,
    },
    #[error("{phase} step {index} ({step}) failed: {source}")]
    Step {
        phase: String,
        index: usize,
        step: String,
        #[source]
        source: SessionError,
    },
    #[error("failed to prepare the tab for the repro run: {0}")]
    Setup(#[source] SessionError),
    #[error("measuring the page failed: {0}")]
    Measure(#[source] SessionError),
    #[error("the {kind} heap snapshot failed: {source}")]
    Snapshot {
        kind: &'static str,
        #[source]
        source: CaptureError,
    },
    #[error("failed to read heap snapshot {path}: {message}")]
    Analyse { path: PathBuf, message: String },
    #[error("failed to create the snapshot directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the agent did not report within {SYNC_DEADLINE:?}; is the in-page agent installed?")]
    SyncTimeout,
}

/// Why a run stopped early, or `None` to go on.
enum Stop {
    Ended(String),
    Cancelled,
}

impl Stop {
    fn reason(&self) -> String {
        match self {
            Stop::Ended(reason) => format!("the run ended early because {reason}"),
            Stop::Cancelled => "the run was cancelled".to_owned(),
        }
    }
}

/// What a step or measure returns: a value, a reason to stop early, or an error.
enum Flow<T> {
    Go(T),
    Stop(Stop),
}

// ---------------------------------------------------------------- probe

/// State the probe shares with the runner.
struct ProbeState {
    live: LiveState,
    engine: Engine,
    synced: u64,
}

/// Recorder plugin that keeps the live timers, requests and controllers and
/// the poll lifecycles for the runner, and answers its sync calls. Add it
/// after the agent plugin.
pub struct ReproProbe {
    state: Arc<Mutex<ProbeState>>,
    synced: watch::Sender<u64>,
}

/// The runner's view of a [`ReproProbe`].
#[derive(Clone)]
pub struct ProbeHandle {
    state: Arc<Mutex<ProbeState>>,
    synced: watch::Receiver<u64>,
}

impl ReproProbe {
    /// Creates a probe for a recording of `target`; `config` sets how polls
    /// are recognised (the same rules file as the analysis).
    pub fn new(config: Config, target: &TargetInfo) -> (ReproProbe, ProbeHandle) {
        let header = Header {
            format_version: FORMAT_VERSION,
            leakscope_version: env!("CARGO_PKG_VERSION").to_owned(),
            browser: Default::default(),
            target: target.clone(),
            started_at_ms: 0.0,
            settings: Settings::default(),
        };
        let state = Arc::new(Mutex::new(ProbeState {
            live: LiveState::new(),
            engine: Engine::new(config, &header),
            synced: 0,
        }));
        let (sender, receiver) = watch::channel(0);
        (
            ReproProbe {
                state: state.clone(),
                synced: sender,
            },
            ProbeHandle {
                state,
                synced: receiver,
            },
        )
    }
}

fn lock(state: &Mutex<ProbeState>) -> std::sync::MutexGuard<'_, ProbeState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RecordPlugin for ReproProbe {
    fn on_event(&mut self, event: &SessionEvent, _t: f64, _out: &mut Vec<RecordBody>) {
        let Some(TypedEvent::BindingCalled(called)) = &event.typed else {
            return;
        };
        if called.name != SYNC_BINDING {
            return;
        }
        match called.payload.parse::<u64>() {
            Ok(token) => {
                lock(&self.state).synced = token;
                let _ = self.synced.send(token);
            }
            Err(error) => {
                tracing::warn!(payload = %called.payload, %error, "invalid repro sync payload")
            }
        }
    }

    fn on_record(&mut self, record: &Record, _out: &mut Vec<RecordBody>) {
        let mut state = lock(&self.state);
        state.live.ingest(record);
        // The engine's alerts are the analysis plugin's to record.
        let _ = state.engine.ingest(record);
    }
}

// --------------------------------------------------------------- runner

/// Runs a repro on `session`, which `recorder` is recording with the agent
/// plugin, then `probe`'s plugin. Returns the report; an incomplete one when
/// the tab closed or `cancel` fired.
pub async fn run(
    session: &Session,
    recorder: &RecorderHandle,
    probe: &ProbeHandle,
    config: &ReproConfig,
    progress: &mut (dyn FnMut(&ReproProgress) + Send + Sync),
    cancel: CancelToken,
) -> Result<ReproReport, ReproError> {
    let mut runner = Runner {
        session,
        recorder,
        probe: probe.clone(),
        config,
        progress,
        cancel,
        sync_token: 0,
        series: Vec::new(),
        snapshots: ReproSnapshots::default(),
        notes: Vec::new(),
        baseline_t: None,
        detached_supported: true,
    };
    runner.prepare().await?;
    let stop = runner.iterate().await?;
    runner.finish(stop).await
}

struct Runner<'a> {
    session: &'a Session,
    recorder: &'a RecorderHandle,
    probe: ProbeHandle,
    config: &'a ReproConfig,
    progress: &'a mut (dyn FnMut(&ReproProgress) + Send + Sync),
    cancel: CancelToken,
    sync_token: u64,
    series: Vec<IterationValues>,
    snapshots: ReproSnapshots,
    notes: Vec<String>,
    /// Recording time of the baseline measure, seconds.
    baseline_t: Option<f64>,
    detached_supported: bool,
}

impl Runner<'_> {
    async fn prepare(&mut self) -> Result<(), ReproError> {
        std::fs::create_dir_all(&self.config.snapshot_dir).map_err(|source| {
            ReproError::Directory {
                path: self.config.snapshot_dir.clone(),
                source,
            }
        })?;
        self.session
            .call_raw(
                "Runtime.addBinding",
                json!({ "name": SYNC_BINDING }),
                deadline::QUICK,
            )
            .await
            .map_err(ReproError::Setup)?;
        // `DOM.getDetachedDomNodes` answers only with the DOM domain enabled.
        if let Err(error) = self
            .session
            .call_raw("DOM.enable", json!({}), deadline::QUICK)
            .await
        {
            tracing::debug!(%error, "DOM.enable failed; detached nodes come from the final snapshot only");
        }
        self.marker(format!(
            "repro: start, {} warm-up and {} measured iterations",
            self.config.warmup, self.config.iterations
        ))
        .await;
        Ok(())
    }

    /// Warm-up, baseline and the measured iterations. Returns why the run
    /// stopped early, if it did.
    async fn iterate(&mut self) -> Result<Option<Stop>, ReproError> {
        for iteration in 1..=self.config.warmup {
            if let Flow::Stop(stop) = self.pair(iteration, self.config.warmup).await? {
                return Ok(Some(stop));
            }
        }
        if let Flow::Stop(stop) = self.measure(0).await? {
            return Ok(Some(stop));
        }
        if let Flow::Stop(stop) = self.snapshot(SnapshotKind::Baseline, 0).await? {
            return Ok(Some(stop));
        }
        let n = self.config.iterations;
        for iteration in 1..=n {
            let last = iteration == n;
            if let Flow::Stop(stop) = self
                .steps(Phase::Action, iteration, n, &self.config.action.clone())
                .await?
            {
                return Ok(Some(stop));
            }
            if last {
                if let Flow::Stop(stop) = self.snapshot(SnapshotKind::Target, iteration).await? {
                    return Ok(Some(stop));
                }
            }
            if let Flow::Stop(stop) = self
                .steps(Phase::Undo, iteration, n, &self.config.undo.clone())
                .await?
            {
                return Ok(Some(stop));
            }
            if let Flow::Stop(stop) = self.measure(iteration).await? {
                return Ok(Some(stop));
            }
        }
        if let Flow::Stop(stop) = self.snapshot(SnapshotKind::Final, n).await? {
            return Ok(Some(stop));
        }
        Ok(None)
    }

    /// One warm-up action and undo.
    async fn pair(&mut self, iteration: u32, of: u32) -> Result<Flow<()>, ReproError> {
        let action = self.config.action.clone();
        let undo = self.config.undo.clone();
        if let Flow::Stop(stop) = self.steps(Phase::Warmup, iteration, of, &action).await? {
            return Ok(Flow::Stop(stop));
        }
        self.steps(Phase::Warmup, iteration, of, &undo).await
    }

    fn report(&mut self, iteration: u32, of: u32, phase: Phase, detail: String) {
        (self.progress)(&ReproProgress {
            iteration,
            of,
            phase,
            detail,
        });
    }

    async fn marker(&self, label: String) {
        self.recorder.record(RecordBody::Marker { label }).await;
    }

    /// Checks whether the run must stop: the tab is gone or the run was cancelled.
    fn check_stop(&self) -> Option<Stop> {
        if self.cancel.is_cancelled() {
            return Some(Stop::Cancelled);
        }
        let state = self.session.state().borrow().clone();
        state.is_terminal().then(|| Stop::Ended(state.to_string()))
    }

    /// Returns why the session ended, waiting up to [`DETACH_REFINE_GRACE`]
    /// when it is a plain detach: Chrome says a moment later whether the tab
    /// closed or crashed.
    async fn refined_end(&self, reason: String) -> String {
        let mut state = self.session.state();
        let refine = async {
            loop {
                let current = state.borrow_and_update().clone();
                if current.is_terminal() && !matches!(current, SessionState::Detached { .. }) {
                    return Some(current.to_string());
                }
                if state.changed().await.is_err() {
                    return None;
                }
            }
        };
        match tokio::time::timeout(DETACH_REFINE_GRACE, refine).await {
            Ok(Some(refined)) => refined,
            _ => reason,
        }
    }

    /// Maps a session error to an early stop when the session ended.
    fn ended(error: &SessionError) -> Option<Stop> {
        error.ended_by().map(|state| Stop::Ended(state.to_string()))
    }

    async fn steps(
        &mut self,
        phase: Phase,
        iteration: u32,
        of: u32,
        spec: &ActionSpec,
    ) -> Result<Flow<()>, ReproError> {
        let role = match phase {
            Phase::Undo => "undo",
            _ => "action",
        };
        for (position, step) in spec.steps.iter().enumerate() {
            if let Some(stop) = self.check_stop() {
                return Ok(Flow::Stop(stop));
            }
            let index = position + 1;
            let label = format!("{phase} {role} step {index}/{}: {step}", spec.steps.len());
            self.report(iteration, of, phase, format!("{role} step {index}: {step}"));
            self.marker(format!("repro: iteration {iteration}/{of} {label}"))
                .await;
            let context = StepContext {
                phase: format!("{role} of {phase} iteration {iteration}"),
                index,
                step: step.to_string(),
            };
            if let Flow::Stop(stop) = self.step(step, &context).await? {
                return Ok(Flow::Stop(stop));
            }
        }
        Ok(Flow::Go(()))
    }

    async fn step(&mut self, step: &Step, context: &StepContext) -> Result<Flow<()>, ReproError> {
        match step {
            Step::Click {
                selector,
                timeout_ms,
            } => {
                if let Flow::Stop(stop) = self.wait_for(selector, *timeout_ms, context).await? {
                    return Ok(Flow::Stop(stop));
                }
                let literal = js_string(selector);
                let expression = format!(
                    "(() => {{ const element = document.querySelector({literal}); if (!element) return false; element.click(); return true; }})()"
                );
                match self.evaluate(&expression, context).await? {
                    Flow::Go(Value::Bool(true)) => Ok(Flow::Go(())),
                    Flow::Go(_) => Err(context.selector_timeout(selector, *timeout_ms)),
                    Flow::Stop(stop) => Ok(Flow::Stop(stop)),
                }
            }
            Step::WaitFor {
                selector,
                timeout_ms,
            } => self.wait_for(selector, *timeout_ms, context).await,
            Step::Navigate { path } => {
                let literal = js_string(path);
                let expression = format!(
                    "(() => {{ history.pushState({{}}, '', {literal}); dispatchEvent(new PopStateEvent('popstate', {{ state: {{}} }})); return true; }})()"
                );
                self.evaluate(&expression, context)
                    .await
                    .map(|flow| match flow {
                        Flow::Go(_) => Flow::Go(()),
                        Flow::Stop(stop) => Flow::Stop(stop),
                    })
            }
            Step::WaitMs { ms } => {
                if self.cancel.sleep(Duration::from_millis(*ms)).await {
                    Ok(Flow::Go(()))
                } else {
                    Ok(Flow::Stop(Stop::Cancelled))
                }
            }
            Step::Eval { expression } => {
                self.evaluate(expression, context)
                    .await
                    .map(|flow| match flow {
                        Flow::Go(_) => Flow::Go(()),
                        Flow::Stop(stop) => Flow::Stop(stop),
                    })
            }
        }
    }

    /// Waits until `selector` matches, checking every [`SELECTOR_POLL`].
    async fn wait_for(
        &mut self,
        selector: &str,
        timeout_ms: u64,
        context: &StepContext,
    ) -> Result<Flow<()>, ReproError> {
        let give_up = Instant::now() + Duration::from_millis(timeout_ms);
        let expression = format!("document.querySelector({}) !== null", js_string(selector));
        loop {
            match self.evaluate(&expression, context).await? {
                Flow::Go(Value::Bool(true)) => return Ok(Flow::Go(())),
                Flow::Go(_) => {}
                Flow::Stop(stop) => return Ok(Flow::Stop(stop)),
            }
            if Instant::now() >= give_up {
                return Err(context.selector_timeout(selector, timeout_ms));
            }
            if !self.cancel.sleep(SELECTOR_POLL).await {
                return Ok(Flow::Stop(Stop::Cancelled));
            }
        }
    }

    /// Evaluates `expression` in the page, awaiting a promise, with a user
    /// gesture (some pages open panels only on one).
    async fn evaluate(
        &mut self,
        expression: &str,
        context: &StepContext,
    ) -> Result<Flow<Value>, ReproError> {
        let params = json!({
            "expression": expression,
            "awaitPromise": true,
            "returnByValue": true,
            "userGesture": true,
        });
        let reply = match self
            .session
            .call_raw("Runtime.evaluate", params, deadline::EVALUATE)
            .await
        {
            Ok(reply) => reply,
            Err(error) => {
                if let Some(stop) = Self::ended(&error) {
                    return Ok(Flow::Stop(stop));
                }
                return Err(ReproError::Step {
                    phase: context.phase.clone(),
                    index: context.index,
                    step: context.step.clone(),
                    source: error,
                });
            }
        };
        if let Some(details) = reply.get("exceptionDetails") {
            let message = details
                .pointer("/exception/description")
                .and_then(Value::as_str)
                .or_else(|| details.get("text").and_then(Value::as_str))
                .unwrap_or("an exception without a message");
            // The description is the stack; its first line is the message.
            let message = message.lines().next().unwrap_or(message).to_owned();
            return Err(ReproError::Threw {
                phase: context.phase.clone(),
                index: context.index,
                step: context.step.clone(),
                message,
            });
        }
        Ok(Flow::Go(
            reply
                .pointer("/result/value")
                .cloned()
                .unwrap_or(Value::Null),
        ))
    }

    /// Makes the probe current: flushes the agent's queue, then calls the
    /// sync binding and waits until the probe saw that call.
    async fn sync(&mut self) -> Result<Flow<()>, ReproError> {
        self.sync_token += 1;
        let token = self.sync_token;
        let expression = format!(
            "(() => {{ const agent = globalThis[Symbol.for('leakscope.agent')]; if (agent) agent.flush(); {SYNC_BINDING}('{token}'); }})()"
        );
        let params = json!({ "expression": expression });
        if let Err(error) = self
            .session
            .call_raw("Runtime.evaluate", params, deadline::EVALUATE)
            .await
        {
            if let Some(stop) = Self::ended(&error) {
                return Ok(Flow::Stop(stop));
            }
            return Err(ReproError::Measure(error));
        }
        let mut synced = self.probe.synced.clone();
        let waited =
            tokio::time::timeout(SYNC_DEADLINE, synced.wait_for(|seen| *seen >= token)).await;
        match waited {
            Ok(Ok(_)) => Ok(Flow::Go(())),
            // The probe was dropped: the recorder ended with the session.
            Ok(Err(_)) => {
                Ok(Flow::Stop(self.check_stop().unwrap_or_else(|| {
                    Stop::Ended("the recorder ended".to_owned())
                })))
            }
            Err(_) => match self.check_stop() {
                Some(stop) => Ok(Flow::Stop(stop)),
                None => Err(ReproError::SyncTimeout),
            },
        }
    }

    /// Measures the page after `iteration` (0: the baseline).
    async fn measure(&mut self, iteration: u32) -> Result<Flow<()>, ReproError> {
        let of = self.config.iterations;
        if let Some(stop) = self.check_stop() {
            return Ok(Flow::Stop(stop));
        }
        self.report(iteration, of, Phase::Measure, "settling".to_owned());
        if !self.cancel.sleep(self.config.settle).await {
            return Ok(Flow::Stop(Stop::Cancelled));
        }
        // Garbage collection and metrics first: the sync right after then
        // also carries what the collection ended (collected controllers).
        let sample = match sampler::take_sample(self.session, None, true).await {
            Ok(sample) => sample,
            Err(error) => {
                if let Some(stop) = Self::ended(&error) {
                    return Ok(Flow::Stop(stop));
                }
                return Err(ReproError::Measure(error));
            }
        };
        let detached = match self.detached_nodes().await {
            Flow::Go(count) => count,
            Flow::Stop(stop) => return Ok(Flow::Stop(stop)),
        };
        if let Flow::Stop(stop) = self.sync().await? {
            return Ok(Flow::Stop(stop));
        }
        let t = self.recorder.status().borrow().t;
        let (counts, active_polls, timers_by_site) = {
            let state = lock(&self.probe.state);
            let counts = state.live.counts();
            let active_polls = state
                .engine
                .lifecycles()
                .iter()
                .filter(|poll| poll.state == PollState::Active)
                .count() as u64;
            let mut by_site: BTreeMap<String, u64> = BTreeMap::new();
            for (_, timer) in state.live.timers() {
                let label = timer
                    .site
                    .and_then(|site| state.live.site(site))
                    .map_or_else(|| "(unknown site)".to_owned(), |site| site.label());
                *by_site.entry(label).or_default() += 1;
            }
            (counts, active_polls, by_site.into_iter().collect())
        };
        let values = vec![
            (Measure::HeapUsed, Some(sample.heap_used as f64)),
            (Measure::Timers, Some(counts.timers_live as f64)),
            (
                Measure::RequestsInFlight,
                Some(counts.requests_in_flight as f64),
            ),
            (Measure::Controllers, Some(counts.controllers_live as f64)),
            (Measure::ActivePolls, Some(active_polls as f64)),
            (Measure::DomNodes, sample.metric("Nodes")),
            (Measure::Listeners, sample.metric("JSEventListeners")),
            (Measure::DetachedNodes, detached),
        ];
        let point = IterationValues {
            iteration,
            t,
            values,
            timers_by_site,
        };
        let line = measure_line(&point);
        self.report(iteration, of, Phase::Measure, line.clone());
        self.marker(format!(
            "repro: measure after iteration {iteration}: {line}"
        ))
        .await;
        if iteration == 0 {
            self.baseline_t = Some(t);
        }
        self.series.push(point);
        Ok(Flow::Go(()))
    }

    /// Counts detached DOM nodes: each detached tree's root and the nodes
    /// JavaScript retains in it. `None` when the browser lacks the method.
    async fn detached_nodes(&mut self) -> Flow<Option<f64>> {
        if !self.detached_supported {
            return Flow::Go(None);
        }
        match self
            .session
            .call_raw("DOM.getDetachedDomNodes", json!({}), deadline::QUICK)
            .await
        {
            Ok(reply) => {
                let trees = reply
                    .get("detachedNodes")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let count: usize = trees
                    .iter()
                    .map(|tree| {
                        1 + tree
                            .get("retainedNodeIds")
                            .and_then(Value::as_array)
                            .map_or(0, Vec::len)
                    })
                    .sum();
                Flow::Go(Some(count as f64))
            }
            Err(error) => {
                if let Some(stop) = Self::ended(&error) {
                    return Flow::Stop(stop);
                }
                self.detached_supported = false;
                self.notes.push(format!(
                    "detached DOM nodes were not measured per iteration ({error}); the final snapshot's diff lists detached classes instead"
                ));
                Flow::Go(None)
            }
        }
    }

    async fn snapshot(
        &mut self,
        kind: SnapshotKind,
        iteration: u32,
    ) -> Result<Flow<()>, ReproError> {
        if !self.config.snapshots {
            return Ok(Flow::Go(()));
        }
        if let Some(stop) = self.check_stop() {
            return Ok(Flow::Stop(stop));
        }
        let path = self.config.snapshot_dir.join(format!(
            "{}-{}.heapsnapshot",
            self.config.snapshot_prefix,
            kind.name()
        ));
        let of = self.config.iterations;
        self.report(
            iteration,
            of,
            Phase::Snapshot(kind),
            path.display().to_string(),
        );
        let mut last_reported = Instant::now();
        let mut updates = Vec::new();
        let result = capture::capture_recorded(
            self.session,
            self.recorder,
            &path,
            &CaptureOptions::default(),
            |progress| {
                // Progress events come many per second; keep a few.
                if last_reported.elapsed() >= Duration::from_millis(500) {
                    last_reported = Instant::now();
                    updates.push(progress);
                }
            },
        )
        .await;
        for progress in updates {
            self.report(
                iteration,
                of,
                Phase::Snapshot(kind),
                format!("{} bytes written", progress.bytes),
            );
        }
        match result {
            Ok(event) => {
                let recorded = Some(event.path.clone());
                match kind {
                    SnapshotKind::Baseline => self.snapshots.baseline = recorded,
                    SnapshotKind::Target => self.snapshots.target = recorded,
                    SnapshotKind::Final => self.snapshots.final_ = recorded,
                }
                Ok(Flow::Go(()))
            }
            Err(CaptureError::Session { source, partial }) if source.ended_by().is_some() => {
                self.notes.push(format!(
                    "the {} snapshot is incomplete: {}",
                    kind.name(),
                    partial.display()
                ));
                Ok(Flow::Stop(Stop::Ended(
                    source
                        .ended_by()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                )))
            }
            Err(source) => Err(ReproError::Snapshot {
                kind: kind.name(),
                source,
            }),
        }
    }

    async fn finish(mut self, stop: Option<Stop>) -> Result<ReproReport, ReproError> {
        let stop = match stop {
            Some(Stop::Ended(reason)) => Some(Stop::Ended(self.refined_end(reason).await)),
            other => other,
        };
        let iterations = self.series.len().saturating_sub(1) as u32;
        self.report(
            iterations,
            self.config.iterations,
            Phase::Analyse,
            String::new(),
        );
        let trends = repro::trends(&self.series, &self.config.thresholds);
        let timer_sites = repro::growing_timer_sites(&self.series, &self.config.thresholds);
        let polls = match self.baseline_t {
            Some(baseline_t) => leaked_polls(&self.probe, baseline_t, iterations),
            None => Vec::new(),
        };
        let found = match (&self.snapshots.baseline, &self.snapshots.final_) {
            (Some(baseline), Some(last)) if iterations > 0 => {
                let (baseline, last) = (PathBuf::from(baseline), PathBuf::from(last));
                tokio::task::spawn_blocking(move || find_candidates(&baseline, &last, iterations))
                    .await
                    .map_err(|error| ReproError::Analyse {
                        path: PathBuf::new(),
                        message: format!("the analysis task failed: {error}"),
                    })??
            }
            _ => Found::default(),
        };
        if !found.inspector_held.is_empty() {
            self.notes.push(format!(
                "left out of the candidates, because only the DevTools session that Leakscope opened holds them: {}",
                found.inspector_held.join(", ")
            ));
        }
        let (candidates, grown_classes) = (found.candidates, found.grown_classes);
        let verdict = repro::verdict(&trends, iterations);
        let report = ReproReport {
            verdict,
            complete: stop.is_none(),
            incomplete_reason: stop.as_ref().map(Stop::reason),
            iterations,
            requested_iterations: self.config.iterations,
            warmup: self.config.warmup,
            measures: trends,
            series: self.series,
            candidates,
            grown_classes,
            timer_sites,
            polls,
            snapshots: self.snapshots,
            // The caller knows the recording's path; `run_recorded` fills it.
            recording: String::new(),
            notes: self.notes,
        };
        let summary = format!(
            "repro: {} after {} of {} iterations{}",
            report.verdict.as_str(),
            report.iterations,
            report.requested_iterations,
            report
                .incomplete_reason
                .as_deref()
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default()
        );
        if stop.is_none() {
            self.recorder
                .record(RecordBody::Marker { label: summary })
                .await;
        }
        (self.progress)(&ReproProgress {
            iteration: report.iterations,
            of: report.requested_iterations,
            phase: Phase::Done,
            detail: report.verdict.as_str().to_owned(),
        });
        Ok(report)
    }
}

/// What a step error names.
struct StepContext {
    phase: String,
    index: usize,
    step: String,
}

impl StepContext {
    fn selector_timeout(&self, selector: &str, timeout_ms: u64) -> ReproError {
        ReproError::SelectorTimeout {
            phase: self.phase.clone(),
            index: self.index,
            step: self.step.clone(),
            selector: selector.to_owned(),
            timeout_ms,
        }
    }
}

/// A JavaScript string literal of `text` (JSON strings are valid JavaScript).
fn js_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// One line of measure values for progress and markers.
fn measure_line(point: &IterationValues) -> String {
    point
        .values
        .iter()
        .map(|(measure, value)| match value {
            Some(value) => format!(
                "{} {}",
                measure.name(),
                repro::format_amount(*value, measure.unit()).trim_end_matches(".0")
            ),
            None => format!("{} -", measure.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Active poll lifecycles started after the baseline, per endpoint, kept
/// when there are at least as many as iterations.
fn leaked_polls(probe: &ProbeHandle, baseline_t: f64, iterations: u32) -> Vec<PollGrowth> {
    let state = lock(&probe.state);
    let mut by_endpoint: BTreeMap<String, PollGrowth> = BTreeMap::new();
    for poll in state.engine.lifecycles() {
        if poll.state != PollState::Active || poll.first_t < baseline_t {
            continue;
        }
        let entry = by_endpoint
            .entry(poll.endpoint.clone())
            .or_insert_with(|| PollGrowth {
                endpoint: poll.endpoint.clone(),
                poll_type: poll.poll_type.clone(),
                count: 0,
                operations: Vec::new(),
                timer_site: None,
                request_site: None,
            });
        entry.count += 1;
        entry.operations.push(poll.operation.clone());
        if entry.timer_site.is_none() {
            entry.timer_site = poll.timer_site.clone();
        }
        if entry.request_site.is_none() {
            entry.request_site = poll.request_site.clone();
        }
    }
    by_endpoint
        .into_values()
        .filter(|growth| iterations > 0 && growth.count >= u64::from(iterations))
        .collect()
}

/// Node names on a retainer path that mean the DevTools session holds the
/// object: Chromium keeps network resource data and inspector state for the
/// attached client, which is Leakscope itself and not the page.
const INSPECTOR_RETAINERS: &[&str] = &["DevToolsSession", "V8InspectorSessionImpl"];

/// Candidates of a snapshot diff, with the classes left out.
#[derive(Default)]
struct Found {
    candidates: Vec<repro::Candidate>,
    grown_classes: Vec<ClassGrowth>,
    /// Classes whose retainer path runs through the DevTools session.
    inspector_held: Vec<String>,
}

/// Diffs the baseline and final snapshots, picks the candidates and finds a
/// retainer path to one new object of each of the first few. Candidates
/// held by the DevTools session are left out.
fn find_candidates(baseline: &Path, last: &Path, iterations: u32) -> Result<Found, ReproError> {
    let analyse = |path: &Path| {
        let path = path.to_owned();
        move |error: leakscope_heap::SnapshotError| ReproError::Analyse {
            path: path.clone(),
            message: error.to_string(),
        }
    };
    let before = leakscope_heap::parse_file(baseline, leakscope_heap::ParseOptions::nodes_only())
        .map_err(analyse(baseline))?;
    let after = leakscope_heap::parse_file(last, leakscope_heap::ParseOptions::full())
        .map_err(analyse(last))?;
    let diff = leakscope_heap::diff(&before, &after);
    let growth: Vec<ClassGrowth> = diff
        .classes
        .iter()
        .map(|class| ClassGrowth {
            name: class.name.clone(),
            added: class.added,
            count_delta: class.count_delta,
            size_delta: class.size_delta,
        })
        .collect();
    let mut candidates = repro::candidates(&growth, iterations);
    let new_ids: BTreeMap<&str, &[u64]> = diff
        .classes
        .iter()
        .map(|class| (class.name.as_str(), class.new_ids.as_slice()))
        .collect();
    let mut inspector_held = Vec::new();
    let mut with_paths = 0;
    for candidate in candidates.iter_mut() {
        if with_paths >= MAX_RETAINER_PATHS {
            break;
        }
        let Some(ids) = new_ids.get(candidate.class.as_str()) else {
            continue;
        };
        // The newest object: one of the last iteration's, so warm-up
        // leftovers that happen to share the class are not chosen.
        let Some(node) = ids.iter().rev().find_map(|id| after.node_by_id(*id)) else {
            continue;
        };
        match leakscope_heap::retainer_path(&after, node) {
            Ok(Some(path)) => {
                candidate.node_id = Some(after.node_id(node));
                candidate.retainer_line = path.to_line();
                candidate.retainer_path = path
                    .steps
                    .into_iter()
                    .map(|step| PathStepView {
                        edge: step.edge_name,
                        edge_type: step.edge_type,
                        node_type: step.node_type,
                        name: if step.node_name.is_empty() {
                            step.class
                        } else {
                            step.node_name
                        },
                        node_id: step.node_id,
                    })
                    .collect();
                let by_inspector = candidate.retainer_path.iter().any(|step| {
                    INSPECTOR_RETAINERS
                        .iter()
                        .any(|name| step.name.contains(name))
                });
                if by_inspector {
                    inspector_held.push(candidate.class.clone());
                } else {
                    with_paths += 1;
                }
            }
            Ok(None) => {}
            Err(error) => tracing::debug!(%error, class = %candidate.class, "no retainer path"),
        }
    }
    candidates.retain(|candidate| !inspector_held.contains(&candidate.class));
    Ok(Found {
        candidates,
        grown_classes: repro::grown_classes(&growth),
        inspector_held,
    })
}

// ------------------------------------------------------ recorded run

/// How [`run_recorded`] records the run.
#[derive(Debug, Clone)]
pub struct RecordedSetup {
    pub recorder: RecorderConfig,
    /// Rules for poll recognition and the analysis plugin.
    pub analysis: Config,
    pub recording_path: PathBuf,
    /// A URL to load once the recorder and the agent are ready, so the agent
    /// sees the page from its first line. The run starts when it has loaded.
    pub navigate_to: Option<String>,
}

/// Error starting the recording of a repro run.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    #[error("a repro run needs the in-page agent: {0}")]
    Agent(#[from] crate::agent::InstallError),
}

/// The outcome of [`run_recorded`]: the report or the run's error, and the
/// recording's summary. The recording exists in every case.
pub struct RecordedRun {
    pub report: Result<ReproReport, ReproError>,
    pub summary: Result<RecordSummary, RecorderError>,
    pub recording: PathBuf,
}

/// Records `session` (agent, analysis and probe plugins, as `leakscope
/// record` does) while a repro run with `config` drives it, then stops the
/// recorder. Fails only when the recording could not start.
pub async fn run_recorded(
    session: Session,
    target: TargetInfo,
    setup: RecordedSetup,
    config: &ReproConfig,
    progress: &mut (dyn FnMut(&ReproProgress) + Send + Sync),
    cancel: CancelToken,
) -> Result<RecordedRun, SetupError> {
    let mut target_info = target;
    if let Some(url) = &setup.navigate_to {
        // The header names the page the run is about, not about:blank.
        target_info.url = url.clone();
        target_info.title.clear();
    }
    let mut recorder_config = setup.recorder.clone();
    recorder_config.agent = true;
    recorder_config
        .extra_settings
        .insert("repro".to_owned(), repro_settings(config));
    let mut recorder = Recorder::start(
        session.clone(),
        target_info.clone(),
        &setup.recording_path,
        recorder_config,
    )
    .await?;
    match crate::agent::install(&session).await {
        Ok(_) => {}
        // New documents still get the agent; only a page already running misses it.
        Err(crate::agent::InstallError::Injection { message }) if setup.navigate_to.is_some() => {
            tracing::warn!(%message, "the agent threw in the current document");
        }
        Err(error) => return Err(error.into()),
    }
    recorder.add_plugin(Box::new(AgentPlugin::new(
        recorder.started_at_ms(),
        session.losses(),
    )));
    recorder.add_plugin(Box::new(AnalysisPlugin::new(
        setup.analysis.clone(),
        &target_info,
    )));
    let (probe, probe_handle) = ReproProbe::new(setup.analysis.clone(), &target_info);
    recorder.add_plugin(Box::new(probe));
    let handle = recorder.handle();
    let recording = recorder.path().to_owned();
    let task = tokio::spawn(recorder.run());

    let opened = match &setup.navigate_to {
        Some(url) => open_page(&session, url).await,
        None => Ok(()),
    };
    let report = match opened {
        Ok(()) => run(&session, &handle, &probe_handle, config, progress, cancel)
            .await
            .map(|mut report| {
                report.recording = recording.display().to_string();
                report
            }),
        Err(error) => Err(error),
    };
    handle.stop().await;
    let summary = match task.await {
        Ok(summary) => summary,
        Err(error) => {
            tracing::error!(%error, "the recorder task failed");
            Err(RecorderError::Setup(SessionError::Ended {
                method: "recorder".to_owned(),
                cause: crate::session::SessionState::Detached {
                    reason: format!("the recorder task failed: {error}"),
                },
            }))
        }
    };
    Ok(RecordedRun {
        report,
        summary,
        recording,
    })
}

/// The run's settings as the recording header keeps them.
fn repro_settings(config: &ReproConfig) -> Value {
    json!({
        "iterations": config.iterations,
        "warmup": config.warmup,
        "action": config.action.steps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "undo": config.undo.steps.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// Loads `url` in the tab and waits until its document finished loading.
async fn open_page(session: &Session, url: &str) -> Result<(), ReproError> {
    let setup = |source| ReproError::Setup(source);
    session
        .call_raw("Page.navigate", json!({ "url": url }), deadline::NAVIGATION)
        .await
        .map_err(setup)?;
    let expression = format!(
        "document.readyState === 'complete' && location.href === {}",
        js_string(url)
    );
    let give_up = Instant::now() + deadline::NAVIGATION;
    loop {
        let reply = session
            .call_raw(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
                deadline::EVALUATE,
            )
            .await
            .map_err(setup)?;
        if reply.pointer("/result/value") == Some(&Value::Bool(true)) {
            return Ok(());
        }
        if Instant::now() >= give_up {
            return Err(ReproError::Setup(SessionError::Timeout {
                method: format!("loading {url}"),
                deadline: deadline::NAVIGATION,
            }));
        }
        tokio::time::sleep(SELECTOR_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_string_escapes_quotes() {
        assert_eq!(js_string(r#"a[data-x="1"]"#), r#""a[data-x=\"1\"]""#);
        assert_eq!(js_string("it's"), r#""it's""#);
    }

    #[test]
    fn measure_line_lists_values() {
        let point = IterationValues {
            iteration: 1,
            t: 0.0,
            values: vec![
                (Measure::HeapUsed, Some(2048.0)),
                (Measure::Timers, Some(3.0)),
                (Measure::DetachedNodes, None),
            ],
            timers_by_site: Vec::new(),
        };
        assert_eq!(
            measure_line(&point),
            "heap_used 2.0 KiB, timers 3, detached_nodes -"
        );
    }

    #[tokio::test]
    async fn cancel_ends_sleep() {
        let (handle, mut token) = cancel_pair();
        handle.cancel();
        assert!(!token.sleep(Duration::from_secs(30)).await);
        let mut never = CancelToken::never();
        assert!(never.sleep(Duration::from_millis(1)).await);
    }
}
