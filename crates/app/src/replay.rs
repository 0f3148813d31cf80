//! Replay: a recording or a bundle opened read-only, shown through the same
//! views as a live session.
//!
//! The whole recording is analysed once at open (the report crate's
//! analysis, for the chart with its trend line). The view at a time `t` is
//! built by feeding the records up to `t` through a fresh live state, engine
//! and timeline, exactly as the live session fed them. Moving forward
//! continues from the last position, and moving back starts again from the
//! first record.

use std::path::{Path, PathBuf};

use leakscope_model::config::Config;
use leakscope_model::live::LiveState;
use leakscope_model::{Engine, Recording};
use leakscope_report::view::Overview;
use leakscope_report::Analysis;
use serde::Serialize;

use crate::error::AppError;
use crate::timeline::{SnapshotEntry, Timeline};
use crate::view::{self, LiveView, TargetView, ViewSources, ViewState};

/// Result of `openReplay`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayInfo {
    pub path: String,
    pub target: TargetView,
    pub duration_s: f64,
    pub snapshots: Vec<SnapshotEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
}

/// The state after feeding the records before `next`.
struct Cursor {
    next: usize,
    live: LiveState,
    engine: Engine,
    timeline: Timeline,
}

impl Cursor {
    fn new(recording: &Recording) -> Cursor {
        Cursor {
            next: 0,
            live: LiveState::new(),
            engine: Engine::new(Config::default(), &recording.header),
            timeline: Timeline::new(recording.header.started_at_ms),
        }
    }

    /// Feeds every record with `t <= until`.
    fn advance(&mut self, recording: &Recording, until: f64) {
        while let Some(record) = recording.records.get(self.next) {
            if record.t > until {
                break;
            }
            self.live.ingest(record);
            self.engine.ingest(record);
            self.timeline.ingest(record);
            self.next += 1;
        }
    }
}

/// An opened recording or bundle.
pub struct Replay {
    path: PathBuf,
    /// The bundle file, when the replay came from one (for re-export).
    pub bundle: bool,
    recording: Recording,
    duration: f64,
    overview: Overview,
    /// Poll id of each of the overview's lanes.
    lane_ids: Vec<u64>,
    /// The state at the end of the recording.
    full: Cursor,
    cursor: Cursor,
    analysis: Analysis,
}

impl Replay {
    /// Reads and analyses `path`, a recording (JSON Lines) or a bundle (zip).
    pub fn open(path: &Path) -> Result<Replay, AppError> {
        let (recording, manifest) = leakscope_report::read_input(path)?;
        let analysis = leakscope_report::analyze(&recording);
        let overview = Overview::build(&recording, &analysis);
        let duration = leakscope_report::view::recording_duration(&recording);
        let mut full = Cursor::new(&recording);
        full.advance(&recording, f64::INFINITY);
        // The report's lanes are the engine's lifecycles in the same order.
        let lane_ids = full
            .engine
            .lifecycles()
            .iter()
            .map(|poll| poll.id)
            .collect();
        let cursor = Cursor::new(&recording);
        Ok(Replay {
            path: path.to_owned(),
            bundle: manifest.is_some(),
            recording,
            duration,
            overview,
            lane_ids,
            full,
            cursor,
            analysis,
        })
    }

    pub fn info(&self) -> ReplayInfo {
        ReplayInfo {
            path: self.path.display().to_string(),
            target: TargetView::from(&self.recording.header.target),
            duration_s: self.duration,
            snapshots: self.full.timeline.snapshots().to_vec(),
            end_reason: self
                .full
                .timeline
                .end()
                .map(|(reason, message)| format!("{}: {message}", reason.as_str())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    pub fn analysis(&self) -> &Analysis {
        &self.analysis
    }

    pub fn overview(&self) -> &Overview {
        &self.overview
    }

    pub fn lane_ids(&self) -> &[u64] {
        &self.lane_ids
    }

    /// Returns the timeline of the whole recording (samples, snapshots, markers).
    pub fn timeline(&self) -> &Timeline {
        &self.full.timeline
    }

    /// Returns the engine after the whole recording.
    pub fn engine(&self) -> &Engine {
        &self.full.engine
    }

    /// Builds the view as of `t` seconds (clamped to the recording).
    pub fn view_at(&mut self, t: f64) -> Result<LiveView, AppError> {
        if !t.is_finite() {
            return Err(AppError::bad_input(format!(
                "replay time {t} is not a number of seconds; pass a time between 0 and {:.1}",
                self.duration
            )));
        }
        let t = t.clamp(0.0, self.duration);
        if t < self.cursor.timeline.t() {
            self.cursor = Cursor::new(&self.recording);
        }
        self.cursor.advance(&self.recording, t);
        let header = &self.recording.header;
        Ok(view::build(&ViewSources {
            state: ViewState::Replay,
            target: &header.target,
            t,
            live: &self.cursor.live,
            engine: &self.cursor.engine,
            timeline: &self.cursor.timeline,
            agent_installed: header.settings.agent,
        }))
    }
}
