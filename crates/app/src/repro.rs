//! The Repro panel's run: the core's repro runner on the live session, with
//! its progress and its report sent to the UI as events.
//!
//! The run drives the session the live view is showing, so its steps, its
//! three heap snapshots and its markers land in the same recording and show
//! in the Live and Snapshots views as they happen. `startRepro` returns at
//! once; `repro-progress` follows every step and `repro-done` carries the
//! report (the JSON of `leakscope repro --json`) or the error.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use leakscope_core::repro::{
    self, CancelHandle, ProbeHandle, ReproConfig, ReproError, ReproProgress,
};
use leakscope_core::{RecorderHandle, Session};
use leakscope_model::repro::{ActionSpec, DEFAULT_ITERATIONS, DEFAULT_WARMUP};
use serde_json::{json, Value};

use crate::error::{AppError, ErrorCode};
use crate::live::lock;
use crate::pump::{events, EventSink};

/// Maximum measured iterations of a run, as `leakscope repro` allows.
pub const MAX_ITERATIONS: u32 = 1000;

/// Maximum warm-up iterations of a run.
pub const MAX_WARMUP: u32 = 100;

/// Arguments of `startRepro`.
#[derive(Debug, Clone, Default)]
pub struct ReproRequest {
    /// A JavaScript expression or a JSON list of steps.
    pub action: String,
    pub undo: String,
    pub iterations: Option<u32>,
    pub warmup: Option<u32>,
}

/// A validated request: the parsed specs and the counts.
#[derive(Debug)]
pub struct ReproPlan {
    pub action: ActionSpec,
    pub undo: ActionSpec,
    pub iterations: u32,
    pub warmup: u32,
}

impl ReproRequest {
    /// Parses the specs and checks the counts, naming the field at fault.
    pub fn plan(&self) -> Result<ReproPlan, AppError> {
        let action = parse_spec("action", &self.action)?;
        let undo = parse_spec("undo", &self.undo)?;
        let iterations = self.iterations.unwrap_or(DEFAULT_ITERATIONS);
        if !(1..=MAX_ITERATIONS).contains(&iterations) {
            return Err(AppError::bad_input(format!(
                "iterations is {iterations}; use 1 to {MAX_ITERATIONS} (at least 3 for a verdict, {DEFAULT_ITERATIONS} by default)"
            )));
        }
        let warmup = self.warmup.unwrap_or(DEFAULT_WARMUP);
        if warmup > MAX_WARMUP {
            return Err(AppError::bad_input(format!(
                "warm-up is {warmup}; use 0 to {MAX_WARMUP} ({DEFAULT_WARMUP} by default)"
            )));
        }
        Ok(ReproPlan {
            action,
            undo,
            iterations,
            warmup,
        })
    }
}

fn parse_spec(field: &str, text: &str) -> Result<ActionSpec, AppError> {
    if text.trim().is_empty() {
        return Err(AppError::bad_input(format!(
            "the {field} is empty; give a JavaScript expression or a JSON list of steps such as [{{\"click\": \"#open\"}}]"
        )));
    }
    ActionSpec::parse(text)
        .map_err(|error| AppError::bad_input(format!("invalid {field}: {error}")))
}

/// Handles a run needs from the live session, cloned out of it.
pub struct ReproTarget {
    pub session: Session,
    pub recorder: RecorderHandle,
    pub probe: ProbeHandle,
    /// Folder of the three snapshots.
    pub snapshot_dir: PathBuf,
    /// Snapshot file prefix, unique per run.
    pub prefix: String,
    /// The session's recording, named in the report.
    pub recording: PathBuf,
}

/// The running repro's cancel handle, shared with its task, which clears it
/// when the run ends.
pub type RunningRepro = Arc<Mutex<Option<CancelHandle>>>;

/// Starts the run on its own task and registers its cancel handle in
/// `running`. The caller has checked that no run is in progress.
pub fn spawn(
    target: ReproTarget,
    plan: ReproPlan,
    running: RunningRepro,
    sink: Arc<dyn EventSink>,
) {
    let (cancel, token) = repro::cancel_pair();
    *lock(&running) = Some(cancel);
    let mut config = ReproConfig::new(plan.action, plan.undo, target.snapshot_dir.clone());
    config.iterations = plan.iterations;
    config.warmup = plan.warmup;
    config.snapshot_prefix = target.prefix.clone();
    tokio::spawn(async move {
        let progress_sink = sink.clone();
        let mut progress = move |update: &ReproProgress| {
            progress_sink.emit(events::REPRO_PROGRESS, progress_payload(update));
        };
        let outcome = repro::run(
            &target.session,
            &target.recorder,
            &target.probe,
            &config,
            &mut progress,
            token,
        )
        .await;
        let done = match outcome {
            Ok(mut report) => {
                report.recording = target.recording.display().to_string();
                keep_report(&target, &report);
                serde_json::to_value(&report).unwrap_or_else(|error| {
                    error_payload(&AppError::internal(format!(
                        "the repro report could not be encoded: {error}"
                    )))
                })
            }
            Err(error) => {
                tracing::warn!(%error, prefix = %target.prefix, "repro run failed");
                error_payload(&run_error(&error))
            }
        };
        lock(&running).take();
        sink.emit(events::REPRO_DONE, done);
    });
}

/// Writes the report beside the snapshots, as `leakscope repro` writes it
/// beside the recording, so a run is not lost with the window.
fn keep_report(target: &ReproTarget, report: &leakscope_model::repro::ReproReport) {
    let path = target
        .snapshot_dir
        .join(format!("{}-report.json", target.prefix));
    let written = serde_json::to_string_pretty(report)
        .map_err(std::io::Error::other)
        .and_then(|text| std::fs::write(&path, text));
    if let Err(error) = written {
        tracing::warn!(%error, path = %path.display(), "failed to write the repro report");
    }
}

/// Builds the `repro-progress` payload of one update.
pub fn progress_payload(update: &ReproProgress) -> Value {
    json!({
        "iteration": update.iteration,
        "iterations": update.of,
        "phase": update.phase.to_string(),
        "step": update.detail,
    })
}

fn error_payload(error: &AppError) -> Value {
    json!({ "error": error })
}

/// Converts a failed run into the UI's error. A selector that never appears
/// or a step that throws is bad input. Snapshot and file failures keep their own codes.
pub fn run_error(error: &ReproError) -> AppError {
    let code = match error {
        ReproError::SelectorTimeout { .. } | ReproError::Threw { .. } => ErrorCode::BadInput,
        ReproError::Snapshot { .. } => ErrorCode::SnapshotFailed,
        ReproError::Analyse { .. } | ReproError::Directory { .. } => ErrorCode::Io,
        ReproError::Step { .. }
        | ReproError::Setup(_)
        | ReproError::Measure(_)
        | ReproError::SyncTimeout => ErrorCode::Internal,
    };
    AppError::new(code, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(action: &str, undo: &str) -> ReproRequest {
        ReproRequest {
            action: action.to_owned(),
            undo: undo.to_owned(),
            ..ReproRequest::default()
        }
    }

    #[test]
    fn plan_takes_defaults() {
        let plan = request("openPanel()", r##"[{"click": "#close"}]"##)
            .plan()
            .expect("valid request");
        assert_eq!(plan.iterations, DEFAULT_ITERATIONS);
        assert_eq!(plan.warmup, DEFAULT_WARMUP);
        assert_eq!(plan.undo.steps.len(), 1);
    }

    #[test]
    fn plan_names_the_empty_field() {
        let error = request("openPanel()", "  ").plan().unwrap_err();
        assert_eq!(error.code, ErrorCode::BadInput);
        assert!(error.message.contains("undo is empty"), "{}", error.message);
    }

    #[test]
    fn plan_names_a_bad_step_list() {
        let error = request(r##"[{"tap": "#x"}]"##, "close()")
            .plan()
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::BadInput);
        assert!(
            error.message.starts_with("invalid action"),
            "{}",
            error.message
        );
    }

    #[test]
    fn plan_rejects_counts_out_of_range() {
        let mut zero = request("a()", "b()");
        zero.iterations = Some(0);
        let error = zero.plan().unwrap_err();
        assert!(
            error.message.contains("iterations is 0"),
            "{}",
            error.message
        );

        let mut warm = request("a()", "b()");
        warm.warmup = Some(MAX_WARMUP + 1);
        let error = warm.plan().unwrap_err();
        assert!(
            error.message.contains("warm-up is 101"),
            "{}",
            error.message
        );
    }
}
