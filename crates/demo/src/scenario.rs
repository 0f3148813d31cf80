//! Names of the demo editor's flows, variants and job outcomes, and the URL
//! that starts a scenario without clicks.
//!
//! The same names appear in the page's query string, in the job requests the
//! page sends, in CLI arguments and in tests. Each enum therefore parses its
//! own name with `FromStr` and rejects anything else with the list of valid
//! names.
//! Nothing here falls back to a default on an unknown name, because a typo
//! that silently ran the `fixed` variant would hide the leak the run was meant
//! to show.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A name that is not one of the valid values of a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {parameter} \"{value}\"; valid values: {valid}")]
pub struct InvalidName {
    /// Parameter name as used in the URL (`flow`, `variant`, `job`).
    pub parameter: &'static str,
    /// The rejected value, as given.
    pub value: String,
    /// Comma-separated valid values.
    pub valid: String,
}

impl InvalidName {
    fn new(parameter: &'static str, value: &str, valid: &[&str]) -> Self {
        Self {
            parameter,
            value: value.to_owned(),
            valid: valid.join(", "),
        }
    }
}

/// One of the editor's four generation flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flow {
    /// Video generation (Veo).
    Video,
    /// Suno audio generation.
    Suno,
    /// Topaz video upscaling.
    Upscale,
    /// MiniMax audio generated from a video.
    Minimax,
}

impl Flow {
    /// All flows, in the order the page shows them.
    pub const ALL: [Flow; 4] = [Flow::Video, Flow::Suno, Flow::Upscale, Flow::Minimax];

    const NAMES: [&'static str; 4] = ["video", "suno", "upscale", "minimax"];

    /// Name used in URLs, routes, element ids and CLI arguments.
    pub fn name(self) -> &'static str {
        match self {
            Flow::Video => "video",
            Flow::Suno => "suno",
            Flow::Upscale => "upscale",
            Flow::Minimax => "minimax",
        }
    }

    /// Poll type as the editor team's `PollingHealthMonitor` names it.
    pub fn poll_type(self) -> &'static str {
        match self {
            Flow::Video => "video",
            Flow::Suno => "audio-suno",
            Flow::Upscale => "upscale",
            Flow::Minimax => "audio-minimax",
        }
    }

    /// Path of the `POST` that starts a job and returns its `operationName`.
    pub fn start_path(self) -> &'static str {
        match self {
            Flow::Video => "/api/video/generate",
            Flow::Suno => "/api/audio/suno/generate",
            Flow::Upscale => "/api/video/upscale",
            Flow::Minimax => "/api/video/generate-audio",
        }
    }

    /// Path of the status endpoint the page polls.
    pub fn status_path(self) -> &'static str {
        match self {
            Flow::Video => "/api/video/status",
            Flow::Suno => "/api/audio/suno/status",
            Flow::Upscale => "/api/video/upscale-status",
            Flow::Minimax => "/api/video/generate-audio-status",
        }
    }

    /// Attempts after which the editor's monitor reports a runaway poll.
    pub fn max_attempts(self) -> u32 {
        match self {
            Flow::Upscale => 120,
            Flow::Video | Flow::Suno | Flow::Minimax => 60,
        }
    }

    /// Returns whether the page drives this flow's poll with `setInterval` (`true`) or
    /// with a `setTimeout` chain that schedules the next poll after the
    /// previous request settled (`false`).
    pub fn uses_interval(self) -> bool {
        matches!(self, Flow::Suno | Flow::Minimax)
    }

    /// Finds the flow whose status endpoint is `path`.
    pub fn from_status_path(path: &str) -> Option<Flow> {
        Flow::ALL
            .into_iter()
            .find(|flow| flow.status_path() == path)
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flow {
    type Err = InvalidName;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Flow::ALL
            .into_iter()
            .find(|flow| flow.name() == value)
            .ok_or_else(|| InvalidName::new("flow", value, &Flow::NAMES))
    }
}

/// Flows a scenario runs: one, or all four in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowSelection {
    One(Flow),
    All,
}

impl FlowSelection {
    /// Lists the selected flows in the order the page runs them.
    pub fn flows(self) -> Vec<Flow> {
        match self {
            FlowSelection::One(flow) => vec![flow],
            FlowSelection::All => Flow::ALL.to_vec(),
        }
    }
}

impl From<Flow> for FlowSelection {
    fn from(flow: Flow) -> Self {
        FlowSelection::One(flow)
    }
}

impl fmt::Display for FlowSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowSelection::One(flow) => f.write_str(flow.name()),
            FlowSelection::All => f.write_str("all"),
        }
    }
}

impl FromStr for FlowSelection {
    type Err = InvalidName;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value == "all" {
            return Ok(FlowSelection::All);
        }
        value.parse::<Flow>().map(FlowSelection::One).map_err(|_| {
            InvalidName::new(
                "flow",
                value,
                &["video", "suno", "upscale", "minimax", "all"],
            )
        })
    }
}

/// Cleanup behaviour of the page's polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Polls go on after the panel closes and after the job completed, and
    /// every poll's data stays reachable from `window.__pollHistory`.
    Leaky,
    /// Polls stop on completion, failure, client timeout and close; close
    /// clears the timer and aborts the request in flight.
    Fixed,
}

impl Variant {
    /// Name used in URLs and CLI arguments.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Leaky => "leaky",
            Variant::Fixed => "fixed",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = InvalidName;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "leaky" => Ok(Variant::Leaky),
            "fixed" => Ok(Variant::Fixed),
            _ => Err(InvalidName::new("variant", value, &["leaky", "fixed"])),
        }
    }
}

/// End of a job started by the page, as its status endpoint reports it.
///
/// Every outcome except `Never` comes after the job's `complete_after`
/// "processing" responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JobOutcome {
    /// `{"status":"complete"}`, repeated for every later poll.
    #[default]
    Complete,
    /// "processing" forever.
    Never,
    /// `{"status":"failed"}` with HTTP 200, repeated for every later poll.
    Failed,
    /// An HTTP error status (the job's `error_status`) for every later poll.
    Error,
    /// The request is accepted and gets no response until the server shuts
    /// down or the client goes away.
    Hang,
}

impl JobOutcome {
    const NAMES: [&'static str; 5] = ["complete", "never", "failed", "error", "hang"];

    /// Name used in the page's `job` parameter and in job requests.
    pub fn name(self) -> &'static str {
        match self {
            JobOutcome::Complete => "complete",
            JobOutcome::Never => "never",
            JobOutcome::Failed => "failed",
            JobOutcome::Error => "error",
            JobOutcome::Hang => "hang",
        }
    }
}

impl fmt::Display for JobOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for JobOutcome {
    type Err = InvalidName;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let all = [
            JobOutcome::Complete,
            JobOutcome::Never,
            JobOutcome::Failed,
            JobOutcome::Error,
            JobOutcome::Hang,
        ];
        all.into_iter()
            .find(|outcome| outcome.name() == value)
            .ok_or_else(|| InvalidName::new("job", value, &JobOutcome::NAMES))
    }
}

/// The query parameters of one demo run. `None` leaves a parameter out so
/// the page uses its own default (documented in the user guide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub variant: Variant,
    pub flow: FlowSelection,
    /// Poll interval in milliseconds (page default 1000).
    pub interval_ms: Option<u64>,
    /// Open, generate and close cycles the page runs by itself (page default
    /// 0: wait for clicks).
    pub cycles: Option<u32>,
    /// How long a panel stays open in each cycle, in milliseconds.
    pub cycle_ms: Option<u64>,
    /// Pause after each panel closes, in milliseconds.
    pub gap_ms: Option<u64>,
    /// "processing" responses before the job's outcome.
    pub complete_after: Option<u32>,
    pub job: Option<JobOutcome>,
    /// HTTP status of the responses of a job whose outcome is `error`.
    pub error_status: Option<u16>,
    /// Client-side timeout of the `fixed` variant, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Period of the `[PollingHealth]` report, in milliseconds.
    pub health_ms: Option<u64>,
    /// Kilobytes the `leaky` variant keeps reachable per poll.
    pub leak_kb: Option<u32>,
}

impl Scenario {
    /// Creates a scenario with every optional parameter left to the page's
    /// default.
    pub fn new(variant: Variant, flow: impl Into<FlowSelection>) -> Self {
        Self {
            variant,
            flow: flow.into(),
            interval_ms: None,
            cycles: None,
            cycle_ms: None,
            gap_ms: None,
            complete_after: None,
            job: None,
            error_status: None,
            timeout_ms: None,
            health_ms: None,
            leak_kb: None,
        }
    }

    /// Builds the query string, without the leading `?`. Every value is a name or a
    /// number, so none needs percent-encoding.
    pub fn query(&self) -> String {
        let mut pairs = vec![
            ("variant", self.variant.to_string()),
            ("flow", self.flow.to_string()),
        ];
        let optional = [
            ("interval", self.interval_ms.map(|v| v.to_string())),
            ("cycles", self.cycles.map(|v| v.to_string())),
            ("cycle_ms", self.cycle_ms.map(|v| v.to_string())),
            ("gap_ms", self.gap_ms.map(|v| v.to_string())),
            ("complete_after", self.complete_after.map(|v| v.to_string())),
            ("job", self.job.map(|v| v.to_string())),
            ("error_status", self.error_status.map(|v| v.to_string())),
            ("timeout_ms", self.timeout_ms.map(|v| v.to_string())),
            ("health_ms", self.health_ms.map(|v| v.to_string())),
            ("leak_kb", self.leak_kb.map(|v| v.to_string())),
        ];
        pairs.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| (name, v))),
        );
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Builds the editor's URL for this scenario under `base` (for example
    /// `http://127.0.0.1:41234`, with or without a trailing slash).
    pub fn url(&self, base: &str) -> String {
        format!("{}/?{}", base.trim_end_matches('/'), self.query())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_names_round_trip() {
        for flow in Flow::ALL {
            assert_eq!(flow.name().parse::<Flow>(), Ok(flow));
        }
    }

    #[test]
    fn flow_rejects_unknown_name() {
        let err = "vdeo".parse::<Flow>().unwrap_err();
        assert_eq!(err.parameter, "flow");
        assert_eq!(err.value, "vdeo");
        assert_eq!(
            err.to_string(),
            "invalid flow \"vdeo\"; valid values: video, suno, upscale, minimax"
        );
    }

    #[test]
    fn flow_selection_accepts_all() {
        assert_eq!("all".parse::<FlowSelection>(), Ok(FlowSelection::All));
        assert_eq!(
            "suno".parse::<FlowSelection>(),
            Ok(FlowSelection::One(Flow::Suno))
        );
        let err = "every".parse::<FlowSelection>().unwrap_err();
        assert!(err.valid.ends_with("minimax, all"), "{err}");
    }

    #[test]
    fn variant_rejects_unknown_name() {
        assert_eq!("leaky".parse::<Variant>(), Ok(Variant::Leaky));
        assert_eq!("fixed".parse::<Variant>(), Ok(Variant::Fixed));
        let err = "Leaky".parse::<Variant>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid variant \"Leaky\"; valid values: leaky, fixed"
        );
    }

    #[test]
    fn job_outcome_rejects_unknown_name() {
        assert_eq!("hang".parse::<JobOutcome>(), Ok(JobOutcome::Hang));
        let err = "crash".parse::<JobOutcome>().unwrap_err();
        assert_eq!(err.valid, "complete, never, failed, error, hang");
    }

    #[test]
    fn status_path_maps_back_to_flow() {
        for flow in Flow::ALL {
            assert_eq!(Flow::from_status_path(flow.status_path()), Some(flow));
        }
        assert_eq!(Flow::from_status_path("/api/video/generate"), None);
    }

    #[test]
    fn scenario_url_lists_set_parameters() {
        let mut scenario = Scenario::new(Variant::Leaky, Flow::Upscale);
        scenario.interval_ms = Some(200);
        scenario.cycles = Some(2);
        scenario.job = Some(JobOutcome::Never);
        assert_eq!(
            scenario.url("http://127.0.0.1:9000/"),
            "http://127.0.0.1:9000/?variant=leaky&flow=upscale&interval=200&cycles=2&job=never"
        );
    }

    #[test]
    fn scenario_url_minimal() {
        let scenario = Scenario::new(Variant::Fixed, FlowSelection::All);
        assert_eq!(scenario.query(), "variant=fixed&flow=all");
    }
}
