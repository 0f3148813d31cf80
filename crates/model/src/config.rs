//! The rules file: every threshold the poll tracker, the alert rules and the
//! leak verdict use, with the editor team's numbers as defaults.
//!
//! The file is TOML. Every table and key is optional, and a missing key keeps
//! its default. An unknown key is an error, so a typo never silently turns a
//! rule back to its default. `docs/leakscope.example.toml` lists every key with
//! its default and parses to exactly [`Config::default`] (a test checks this).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::AlertLevel;

/// Thresholds and poll endpoints, as read from a rules file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub heap: HeapRules,
    pub timers: TimerRules,
    pub requests: RequestRules,
    pub polls: PollRules,
    /// Limits per poll type (`video`, `audio-suno`, ...), by type name.
    pub poll_types: BTreeMap<String, PollTypeLimits>,
    /// Status endpoints whose requests form poll lifecycles. Giving this key
    /// replaces the whole default list.
    pub endpoints: Vec<EndpointConfig>,
    pub verdict: VerdictConfig,
    pub alerts: AlertSettings,
}

/// Heap rules. Utilisation is `heap_used / heap_limit`, in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeapRules {
    pub utilisation_warning_pct: f64,
    pub utilisation_critical_pct: f64,
    pub utilisation_emergency_pct: f64,
    /// Heap growth rate (robust slope over the last `growth_window_s`), MB/min.
    pub growth_warning_mb_per_min: f64,
    pub growth_emergency_mb_per_min: f64,
    /// Seconds of recent samples the growth rate is measured over.
    pub growth_window_s: f64,
}

/// Live timers (timeouts and intervals) of the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimerRules {
    /// Warning when more timers than this are live.
    pub live_warning_over: u64,
    /// Critical when more timers than this are live.
    pub live_critical_over: u64,
    /// Emergency when more than `live_warning_over` timers are live and their
    /// count has not gone down for this many seconds.
    pub not_decreasing_emergency_s: f64,
}

/// Request rules. An endpoint is a URL without its query string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestRules {
    /// Warning when more requests than this to one endpoint are in flight.
    pub concurrent_per_endpoint_warning_over: u64,
    /// Critical when a request has been open longer than this, in seconds.
    pub open_critical_s: f64,
    /// Warning when more requests than this started to one endpoint within
    /// the last 60 seconds.
    pub per_minute_warning_over: u64,
    /// Seconds of ended requests the abort and error rates are measured over.
    pub rate_window_s: f64,
    /// Aborted requests, as a percentage of all ended requests of the page.
    pub abort_rate_over_pct: f64,
    /// The abort rate is judged only once this many requests ended in the window.
    pub abort_rate_min_requests: u64,
    pub abort_rate_level: AlertLevel,
    /// Failed requests and HTTP statuses of 400 and above, as a percentage of
    /// the ended requests to one endpoint.
    pub error_rate_over_pct: f64,
    pub error_rate_min_requests: u64,
    pub error_rate_level: AlertLevel,
}

/// Poll lifecycle rules and detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollRules {
    /// Warning when more poll lifecycles than this are active at once.
    pub concurrent_warning_over: u64,
    /// Critical when more poll lifecycles than this are active at once.
    pub concurrent_critical_over: u64,
    /// Warning when one lifecycle polls more often than this, per second.
    pub frequency_warning_per_s: f64,
    /// Attempts a lifecycle must have made before its frequency is judged: a
    /// poll that ends within a few quick attempts is no sustained load.
    pub frequency_min_attempts: u64,
    /// A lifecycle is flagged `no-progress` when its response fields stayed
    /// the same for this many consecutive attempts.
    pub no_progress_attempts: u64,
    /// A lifecycle is flagged `stalled` when no request started or ended for
    /// this many expected intervals and it has no final response.
    pub stall_cadences: f64,
    /// Requests to one URL needed before an unconfigured endpoint counts as a poll.
    pub detect_min_requests: u64,
    /// Intervals count as steady when each is within this fraction of their
    /// median (0.5 means within ±50 %).
    pub cadence_tolerance: f64,
    /// Attempt limit of a type that has no `poll_types` entry.
    pub default_max_attempts: u64,
    /// Finished lifecycles kept for the summary; older ones are only counted.
    pub keep_finished: usize,
    /// Unconfigured URLs watched for a steady cadence at once; the least
    /// recently requested one is forgotten first.
    pub max_candidates: usize,
}

/// Attempt and duration limits of one poll type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollTypeLimits {
    /// The lifecycle is `runaway` past this many attempts.
    pub max_attempts: u64,
    /// Warning when a lifecycle has run this long without a final response, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_after_s: Option<f64>,
    /// The lifecycle times out (critical) past this duration, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_s: Option<f64>,
    /// Expected time between polls of this type, seconds, for the stall check
    /// of a lifecycle with no measured cadence and no driving timer. Without
    /// it, `limit_s / max_attempts` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<f64>,
}

impl PollTypeLimits {
    /// Returns the expected time between polls: `interval_s`, else the
    /// interval at which `max_attempts` attempts fill `limit_s` (10 s for the
    /// editor's video limits of 60 attempts in 10 minutes), in seconds.
    pub fn expected_interval_s(&self) -> Option<f64> {
        self.interval_s.or_else(|| {
            let limit = self.limit_s?;
            (self.max_attempts > 0).then(|| limit / self.max_attempts as f64)
        })
    }
}

/// A status endpoint whose requests are grouped into poll lifecycles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// URL path. A `*` segment matches any one segment and an `{id}` segment
    /// matches one segment that is the operation id (`/api/jobs/{id}/status`).
    pub path: String,
    pub poll_type: String,
    /// Query parameter that carries the operation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_query: Option<String>,
    /// Top-level JSON request body field that carries the operation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_body_field: Option<String>,
    /// Expected time between polls, seconds, used for the stall check before
    /// the cadence can be measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<f64>,
    /// Response fields and values that mean the job is done.
    #[serde(default)]
    pub done: Vec<FieldMatch>,
    /// Response fields and values that mean the job failed.
    #[serde(default)]
    pub failed: Vec<FieldMatch>,
}

/// A top-level response field and the values (compared as text, ignoring
/// ASCII case) that select it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMatch {
    pub field: String,
    pub values: Vec<String>,
}

impl FieldMatch {
    /// Returns true when `fields` has this field with one of the values.
    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        let Some(value) = fields.get(&self.field) else {
            return false;
        };
        self.values
            .iter()
            .any(|wanted| wanted.eq_ignore_ascii_case(value.trim()))
    }
}

/// Leak verdict settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerdictConfig {
    /// Width of the windows whose minimum heap forms the trend, seconds. Used
    /// when no sample was taken right after a garbage collection.
    pub window_s: f64,
    /// Below this much heap data the verdict is `inconclusive: too short`, seconds.
    pub min_duration_s: f64,
    /// Robust slope at or above which the verdict is `leak`, MB/min.
    pub leak_slope_mb_per_min: f64,
    /// A slope below the threshold whose interval still reaches it gives
    /// `no-leak` when the heap floor rose less than this over the recording,
    /// MB (see [`crate::verdict::floor_growth`]).
    pub min_growth_mb: f64,
    /// The team rule: growth over this percentage across its samples is a leak.
    pub team_growth_pct: f64,
    /// The team rule: number of samples compared (first against last).
    pub team_samples: usize,
    /// The team rule: time between its samples, seconds.
    pub team_sample_interval_s: f64,
}

/// Alert repetition settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// An alert that has not fired for this long is returned again as new when
    /// it fires next, seconds. Repeats within this time only raise its count.
    pub repeat_after_s: f64,
}

impl Default for HeapRules {
    fn default() -> Self {
        HeapRules {
            utilisation_warning_pct: 70.0,
            utilisation_critical_pct: 85.0,
            utilisation_emergency_pct: 95.0,
            growth_warning_mb_per_min: 10.0,
            growth_emergency_mb_per_min: 50.0,
            growth_window_s: 120.0,
        }
    }
}

impl Default for TimerRules {
    fn default() -> Self {
        TimerRules {
            live_warning_over: 5,
            live_critical_over: 10,
            not_decreasing_emergency_s: 300.0,
        }
    }
}

impl Default for RequestRules {
    fn default() -> Self {
        RequestRules {
            concurrent_per_endpoint_warning_over: 10,
            open_critical_s: 120.0,
            per_minute_warning_over: 100,
            rate_window_s: 300.0,
            abort_rate_over_pct: 50.0,
            abort_rate_min_requests: 10,
            abort_rate_level: AlertLevel::Emergency,
            error_rate_over_pct: 10.0,
            error_rate_min_requests: 10,
            error_rate_level: AlertLevel::Emergency,
        }
    }
}

impl Default for PollRules {
    fn default() -> Self {
        PollRules {
            concurrent_warning_over: 5,
            concurrent_critical_over: 10,
            frequency_warning_per_s: 1.0,
            frequency_min_attempts: 10,
            no_progress_attempts: 10,
            stall_cadences: 10.0,
            detect_min_requests: 3,
            cadence_tolerance: 0.5,
            default_max_attempts: 60,
            keep_finished: 1000,
            max_candidates: 4096,
        }
    }
}

impl Default for VerdictConfig {
    fn default() -> Self {
        VerdictConfig {
            window_s: 10.0,
            min_duration_s: 30.0,
            leak_slope_mb_per_min: 1.0,
            min_growth_mb: 1.0,
            team_growth_pct: 10.0,
            team_samples: 10,
            team_sample_interval_s: 60.0,
        }
    }
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            repeat_after_s: 300.0,
        }
    }
}

/// Returns the editor's status endpoints: id in the `operationName` query parameter
/// (or body field for POST), done on `status` complete/completed/succeeded or
/// `done` true, failed on `status` failed/error.
fn default_endpoints() -> Vec<EndpointConfig> {
    let endpoint = |path: &str, poll_type: &str| EndpointConfig {
        path: path.to_owned(),
        poll_type: poll_type.to_owned(),
        id_query: Some("operationName".to_owned()),
        id_body_field: Some("operationName".to_owned()),
        interval_s: None,
        done: vec![
            field_match("status", &["complete", "completed", "succeeded"]),
            field_match("done", &["true"]),
        ],
        failed: vec![field_match("status", &["failed", "error"])],
    };
    vec![
        endpoint("/api/video/status", "video"),
        endpoint("/api/audio/suno/status", "audio-suno"),
        endpoint("/api/video/upscale-status", "upscale"),
        endpoint("/api/video/generate-audio-status", "audio-minimax"),
    ]
}

fn field_match(field: &str, values: &[&str]) -> FieldMatch {
    FieldMatch {
        field: field.to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// Returns the editor team's limits: 60 attempts (upscale 120); video 8/10 min,
/// audio 4/5 min, upscale 18/20 min.
fn default_poll_types() -> BTreeMap<String, PollTypeLimits> {
    let limits = |max_attempts: u64, warning_min: f64, limit_min: f64| PollTypeLimits {
        max_attempts,
        warning_after_s: Some(warning_min * 60.0),
        limit_s: Some(limit_min * 60.0),
        interval_s: None,
    };
    BTreeMap::from([
        ("video".to_owned(), limits(60, 8.0, 10.0)),
        ("audio-suno".to_owned(), limits(60, 4.0, 5.0)),
        ("audio-minimax".to_owned(), limits(60, 4.0, 5.0)),
        ("upscale".to_owned(), limits(120, 18.0, 20.0)),
    ])
}

impl Default for Config {
    fn default() -> Self {
        Config {
            heap: HeapRules::default(),
            timers: TimerRules::default(),
            requests: RequestRules::default(),
            polls: PollRules::default(),
            poll_types: default_poll_types(),
            endpoints: default_endpoints(),
            verdict: VerdictConfig::default(),
            alerts: AlertSettings::default(),
        }
    }
}

/// Name used in errors for configuration text that did not come from a file.
const INLINE_SOURCE: &str = "<config text>";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path} at line {line}, column {column}, key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

impl ConfigError {
    /// Returns the offending key as a dotted path (`heap.utilisation_warning_pct`),
    /// when the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } => None,
        }
    }

    /// Returns the 1-based line of the error, when the error is about the text.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => Some(*line),
            ConfigError::Read { .. } => None,
        }
    }
}

impl Config {
    /// Reads and validates a rules file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates rules from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Self::parse(text, Path::new(INLINE_SOURCE))
    }

    fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|error| {
            let offset = error.span().map_or(0, |span| span.start);
            let (line, column) = line_column(text, offset);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key: key_at(text, offset),
                message: error.message().trim().to_owned(),
            }
        })?;
        config.validate().map_err(|(key, message)| {
            let (line, column) = find_key(text, &key);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key,
                message,
            }
        })?;
        Ok(config)
    }

    /// Checks values that parse but make no sense. Returns the dotted key and
    /// what is wrong with it.
    fn validate(&self) -> Result<(), (String, String)> {
        let heap = &self.heap;
        ascending(
            "heap",
            &[
                ("utilisation_warning_pct", heap.utilisation_warning_pct),
                ("utilisation_critical_pct", heap.utilisation_critical_pct),
                ("utilisation_emergency_pct", heap.utilisation_emergency_pct),
            ],
        )?;
        ascending(
            "heap",
            &[
                ("growth_warning_mb_per_min", heap.growth_warning_mb_per_min),
                (
                    "growth_emergency_mb_per_min",
                    heap.growth_emergency_mb_per_min,
                ),
            ],
        )?;
        positive("heap.growth_window_s", heap.growth_window_s)?;
        if self.timers.live_critical_over < self.timers.live_warning_over {
            return Err((
                "timers.live_critical_over".to_owned(),
                format!(
                    "must be at least timers.live_warning_over ({}), found {}",
                    self.timers.live_warning_over, self.timers.live_critical_over
                ),
            ));
        }
        positive(
            "timers.not_decreasing_emergency_s",
            self.timers.not_decreasing_emergency_s,
        )?;
        positive("requests.open_critical_s", self.requests.open_critical_s)?;
        positive("requests.rate_window_s", self.requests.rate_window_s)?;
        percentage(
            "requests.abort_rate_over_pct",
            self.requests.abort_rate_over_pct,
        )?;
        percentage(
            "requests.error_rate_over_pct",
            self.requests.error_rate_over_pct,
        )?;
        if self.polls.concurrent_critical_over < self.polls.concurrent_warning_over {
            return Err((
                "polls.concurrent_critical_over".to_owned(),
                format!(
                    "must be at least polls.concurrent_warning_over ({}), found {}",
                    self.polls.concurrent_warning_over, self.polls.concurrent_critical_over
                ),
            ));
        }
        positive(
            "polls.frequency_warning_per_s",
            self.polls.frequency_warning_per_s,
        )?;
        positive("polls.stall_cadences", self.polls.stall_cadences)?;
        positive("polls.cadence_tolerance", self.polls.cadence_tolerance)?;
        if self.polls.detect_min_requests < 2 {
            return Err((
                "polls.detect_min_requests".to_owned(),
                format!(
                    "must be at least 2 to measure a cadence, found {}",
                    self.polls.detect_min_requests
                ),
            ));
        }
        for (name, limits) in &self.poll_types {
            if let Some(interval) = limits.interval_s {
                positive(&format!("poll_types.{name}.interval_s"), interval)?;
            }
            if let (Some(warning), Some(limit)) = (limits.warning_after_s, limits.limit_s) {
                if warning > limit {
                    return Err((
                        format!("poll_types.{name}.warning_after_s"),
                        format!("must not exceed limit_s ({limit}), found {warning}"),
                    ));
                }
            }
        }
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            if !endpoint.path.starts_with('/') {
                return Err((
                    format!("endpoints[{index}].path"),
                    format!(
                        "must be a URL path starting with `/`, found {:?}",
                        endpoint.path
                    ),
                ));
            }
            if let Some(interval) = endpoint.interval_s {
                positive(&format!("endpoints[{index}].interval_s"), interval)?;
            }
        }
        positive("verdict.window_s", self.verdict.window_s)?;
        let min_growth = self.verdict.min_growth_mb;
        if !(min_growth.is_finite() && min_growth >= 0.0) {
            return Err((
                "verdict.min_growth_mb".to_owned(),
                format!("must be zero or more (0 turns the check off), found {min_growth}"),
            ));
        }
        positive(
            "verdict.team_sample_interval_s",
            self.verdict.team_sample_interval_s,
        )?;
        if self.verdict.team_samples < 2 {
            return Err((
                "verdict.team_samples".to_owned(),
                format!("must be at least 2, found {}", self.verdict.team_samples),
            ));
        }
        Ok(())
    }

    /// Limits of a poll type; a type without an entry gets only the default
    /// attempt limit and no duration limits.
    pub fn limits_for(&self, poll_type: &str) -> PollTypeLimits {
        self.poll_types
            .get(poll_type)
            .cloned()
            .unwrap_or(PollTypeLimits {
                max_attempts: self.polls.default_max_attempts,
                warning_after_s: None,
                limit_s: None,
                interval_s: None,
            })
    }
}

fn ascending(table: &str, values: &[(&str, f64)]) -> Result<(), (String, String)> {
    for pair in values.windows(2) {
        let (low_name, low) = pair[0];
        let (high_name, high) = pair[1];
        if high < low {
            return Err((
                format!("{table}.{high_name}"),
                format!("must be at least {table}.{low_name} ({low}), found {high}"),
            ));
        }
    }
    Ok(())
}

fn positive(key: &str, value: f64) -> Result<(), (String, String)> {
    if value > 0.0 && value.is_finite() {
        return Ok(());
    }
    Err((
        key.to_owned(),
        format!("must be a positive number, found {value}"),
    ))
}

fn percentage(key: &str, value: f64) -> Result<(), (String, String)> {
    if (0.0..=100.0).contains(&value) {
        return Ok(());
    }
    Err((
        key.to_owned(),
        format!("must be a percentage from 0 to 100, found {value}"),
    ))
}

/// Converts a byte offset to a 1-based line and column (in characters).
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Names the key at a byte offset as a dotted path (`heap.window_s`,
/// `endpoints[1].path`): the table of its line, then the key set on that line
/// or, inside a multi-line value, on the nearest line above that sets one.
fn key_at(text: &str, offset: usize) -> String {
    let lines = table_of_lines(text);
    let Some(position) = lines.iter().rposition(|line| line.offset <= offset) else {
        return String::new();
    };
    let line = &lines[position];
    if line.is_header {
        return line.table.clone();
    }
    let key = lines[..=position]
        .iter()
        .rev()
        .take_while(|above| !above.is_header)
        .find_map(|above| bare_key(above.text));
    match key {
        Some(key) if line.table.is_empty() => key.to_owned(),
        Some(key) => format!("{}.{key}", line.table),
        None => line.table.clone(),
    }
}

/// One line of a TOML text and the table it belongs to.
struct TableLine<'a> {
    offset: usize,
    text: &'a str,
    /// Dotted table name, with the index of an array-of-tables entry
    /// (`endpoints[1]`); empty before the first header.
    table: String,
    is_header: bool,
}

fn table_of_lines(text: &str) -> Vec<TableLine<'_>> {
    let mut entries: HashMap<String, usize> = HashMap::new();
    let mut table = String::new();
    let mut offset = 0;
    let mut lines = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let array = trimmed
            .strip_prefix("[[")
            .and_then(|rest| rest.strip_suffix("]]"));
        let plain = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'));
        let is_header = if let Some(name) = array {
            let index = entries.entry(name.trim().to_owned()).or_insert(0);
            table = format!("{}[{index}]", name.trim());
            *index += 1;
            true
        } else if let Some(name) = plain {
            table = name.trim().to_owned();
            true
        } else {
            false
        };
        lines.push(TableLine {
            offset,
            text: line,
            table: table.clone(),
            is_header,
        });
        offset += line.len();
    }
    lines
}

/// Returns the key a `key = value` line sets, or `None` for other lines.
fn bare_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    bare.then_some(key)
}

/// Finds the line where a dotted key (`heap.utilisation_warning_pct`,
/// `endpoints[1].path`) is set, for errors found after parsing. Falls back to
/// line 1 when the key is not written in the file (a default broke a rule).
fn find_key(text: &str, dotted: &str) -> (usize, usize) {
    let (table, leaf) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let found = table_of_lines(text)
        .into_iter()
        .find(|line| !line.is_header && line.table == table && bare_key(line.text) == Some(leaf));
    match found {
        Some(line) => {
            let indent = line.text.len() - line.text.trim_start().len();
            line_column(text, line.offset + indent)
        }
        None => (1, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../docs/leakscope.example.toml");

    fn invalid(text: &str) -> (usize, usize, String, String) {
        match Config::from_toml_str(text) {
            Err(ConfigError::Invalid {
                line,
                column,
                key,
                message,
                ..
            }) => (line, column, key, message),
            other => panic!("expected an invalid config, got {other:?}"),
        }
    }

    #[test]
    fn example_file_equals_defaults() {
        let parsed = Config::from_toml_str(EXAMPLE).expect("the example config parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn type_interval_parses_and_defaults() {
        let config = Config::from_toml_str(
            "[poll_types.video]\nmax_attempts = 60\nlimit_s = 600.0\ninterval_s = 2.0\n",
        )
        .unwrap();
        assert_eq!(config.limits_for("video").expected_interval_s(), Some(2.0));
        let defaults = Config::default();
        assert_eq!(
            defaults.limits_for("video").expected_interval_s(),
            Some(10.0)
        );
        assert_eq!(
            defaults.limits_for("audio-suno").expected_interval_s(),
            Some(5.0)
        );
        assert_eq!(
            defaults.limits_for("upscale").expected_interval_s(),
            Some(10.0)
        );
        assert_eq!(defaults.limits_for("unknown").expected_interval_s(), None);
        let (_, _, key, _) = invalid("[poll_types.video]\nmax_attempts = 60\ninterval_s = 0.0\n");
        assert_eq!(key, "poll_types.video.interval_s");
    }

    #[test]
    fn empty_text_gives_defaults() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }

    #[test]
    fn partial_table_keeps_other_defaults() {
        let config = Config::from_toml_str("[heap]\nutilisation_warning_pct = 60.0\n").unwrap();
        assert_eq!(config.heap.utilisation_warning_pct, 60.0);
        assert_eq!(config.heap.utilisation_critical_pct, 85.0);
        assert_eq!(config.endpoints.len(), 4);
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let (line, column, key, message) =
            invalid("[heap]\nutilisation_warning_pct = 60.0\nutilisation_warnin = 1\n");
        assert_eq!(line, 3);
        assert_eq!(column, 1);
        assert_eq!(key, "heap.utilisation_warnin");
        assert!(message.contains("unknown field"), "{message}");
    }

    #[test]
    fn unknown_table_names_key() {
        let (line, _, key, _) = invalid("[heap]\n\n[heapp]\nx = 1\n");
        assert_eq!(line, 3);
        assert_eq!(key, "heapp");
    }

    #[test]
    fn wrong_type_names_line_and_key() {
        let (line, _, key, message) =
            invalid("[polls]\nstall_cadences = 10.0\nkeep_finished = \"many\"\n");
        assert_eq!(line, 3);
        assert_eq!(key, "polls.keep_finished");
        assert!(message.contains("invalid type"), "{message}");
    }

    #[test]
    fn syntax_error_names_line() {
        let (line, _, _, _) =
            invalid("[timers]\nlive_warning_over = 5\nlive_critical_over = = 3\n");
        assert_eq!(line, 3);
    }

    #[test]
    fn unordered_levels_rejected_at_key() {
        let (line, column, key, message) = invalid("[heap]\nutilisation_warning_pct = 90.0\n");
        assert_eq!(key, "heap.utilisation_critical_pct");
        assert!(
            message.contains("at least heap.utilisation_warning_pct (90)"),
            "{message}"
        );
        // The broken key is not in the text, so the error points at its start.
        assert_eq!((line, column), (1, 1));
    }

    #[test]
    fn bad_endpoint_path_points_at_its_line() {
        let text = "[[endpoints]]\npoll_type = \"video\"\npath = \"api/status\"\n";
        let (line, _, key, _) = invalid(text);
        assert_eq!(key, "endpoints[0].path");
        assert_eq!(line, 3);
    }

    #[test]
    fn invalid_level_name_rejected() {
        let (line, _, key, message) = invalid("[requests]\nabort_rate_level = \"loud\"\n");
        assert_eq!(line, 2);
        assert_eq!(key, "requests.abort_rate_level");
        assert!(message.contains("unknown variant"), "{message}");
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, "[timers]\nlive_warning_over = -1\n").unwrap();
        let error = Config::from_file(&path).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("timers.live_warning_over"), "{text}");
    }

    #[test]
    fn missing_file_is_read_error() {
        let error = Config::from_file(Path::new("/nonexistent/leakscope.toml")).unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }));
    }

    #[test]
    fn field_match_ignores_case_and_spaces() {
        let done = field_match("status", &["complete"]);
        let fields = BTreeMap::from([("status".to_owned(), " Complete".to_owned())]);
        assert!(done.matches(&fields));
        let other = BTreeMap::from([("state".to_owned(), "complete".to_owned())]);
        assert!(!done.matches(&other));
    }

    #[test]
    fn unknown_type_gets_default_attempts() {
        let config = Config::default();
        let limits = config.limits_for("thumbnail");
        assert_eq!(limits.max_attempts, 60);
        assert_eq!(limits.limit_s, None);
        assert_eq!(config.limits_for("upscale").max_attempts, 120);
        assert_eq!(config.limits_for("video").limit_s, Some(600.0));
    }

    #[test]
    fn second_endpoint_error_names_its_index() {
        let text = "[[endpoints]]\npath = \"/a\"\npoll_type = \"video\"\n\n[[endpoints]]\npath = \"b\"\npoll_type = \"video\"\n";
        let (line, _, key, _) = invalid(text);
        assert_eq!(key, "endpoints[1].path");
        assert_eq!(line, 6);
    }

    #[test]
    fn unknown_key_in_array_table() {
        let text = "[[endpoints]]\npath = \"/a\"\npoll_type = \"video\"\nid_qery = \"op\"\n";
        let (line, _, key, _) = invalid(text);
        assert_eq!(key, "endpoints[0].id_qery");
        assert_eq!(line, 4);
    }

    #[test]
    fn error_inside_multiline_value_names_its_key() {
        let text = "[[endpoints]]\npath = \"/a\"\npoll_type = \"video\"\ndone = [\n    { field = \"status\", valuez = [\"ok\"] },\n]\n";
        let (line, _, key, message) = invalid(text);
        assert_eq!(key, "endpoints[0].done");
        assert_eq!(line, 5);
        assert!(message.contains("valuez"), "{message}");
    }

    #[test]
    fn poll_type_error_names_nested_table() {
        let text =
            "[poll_types.video]\nmax_attempts = 60\nwarning_after_s = 700.0\nlimit_s = 600.0\n";
        let (line, column, key, _) = invalid(text);
        assert_eq!(key, "poll_types.video.warning_after_s");
        assert_eq!((line, column), (3, 1));
    }

    #[test]
    fn missing_required_field_names_entry() {
        let (line, _, key, message) = invalid("[heap]\n\n[[endpoints]]\npoll_type = \"video\"\n");
        assert_eq!(key, "endpoints[0]");
        assert!(message.contains("missing field `path`"), "{message}");
        assert!(line >= 3, "line {line}");
    }
}
