//! Repro runs: the pure half of "do this N times and tell me what leaks".
//!
//! A repro run repeats an action and its undo on a tab and measures the page
//! after each pair. This module owns what needs no browser: the action and
//! undo specs (a JavaScript expression or a JSON list of steps) and their
//! parser, the per-iteration measures, the growth verdict per measure, and
//! the choice of leak candidates from a snapshot diff. The core's runner
//! (`leakscope_core::repro`) drives the tab and fills these types.
//!
//! The verdict asks "does this grow by a steady amount per iteration?". Two
//! conditions must hold, so that neither noise nor a one-off allocation (a
//! cache filled on the first iteration) counts: the Theil–Sen slope over the
//! series (baseline first, then one value per iteration) reaches the
//! measure's minimum growth per iteration, and most consecutive deltas are
//! positive.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::verdict::{median_of_sorted, theil_sen, TrendPoint};

/// Default iteration count. Seven, as fuite uses: a class whose new objects
/// number a multiple of seven is unlikely to be a coincidence.
pub const DEFAULT_ITERATIONS: u32 = 7;

/// Default warm-up iterations, run before the baseline and not measured, so
/// lazy initialisation and caches fill before counting starts.
pub const DEFAULT_WARMUP: u32 = 1;

/// Default deadline of a `waitFor` or `click` step, milliseconds.
pub const DEFAULT_STEP_TIMEOUT_MS: u64 = 5000;

/// Share of consecutive deltas that must be positive for a measure to grow.
/// "Most": with 7 iterations and the baseline (7 deltas), 5 must be positive.
pub const MIN_POSITIVE_SHARE: f64 = 0.7;

/// Iterations needed for a verdict; with fewer, nothing is called growing.
pub const MIN_ITERATIONS_FOR_VERDICT: usize = 3;

/// Candidate classes kept in a report, largest growth first.
pub const MAX_CANDIDATES: usize = 20;

/// Classes kept in a report's list of the largest growth, whatever their count.
pub const MAX_GROWN_CLASSES: usize = 10;

/// One step of an action or undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    /// Click the first element that matches a CSS selector, waiting up to
    /// `timeout_ms` for it to appear.
    Click { selector: String, timeout_ms: u64 },
    /// Wait until an element matches a CSS selector.
    WaitFor { selector: String, timeout_ms: u64 },
    /// Same-document navigation to a path (`history.pushState` and a
    /// `popstate` event), the way a single-page app's router moves.
    Navigate { path: String },
    /// Wait a fixed time, milliseconds.
    WaitMs { ms: u64 },
    /// Evaluate a JavaScript expression; a returned promise is awaited.
    Eval { expression: String },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Click { selector, .. } => write!(f, "click {selector}"),
            Step::WaitFor {
                selector,
                timeout_ms,
            } => write!(f, "waitFor {selector} ({timeout_ms} ms)"),
            Step::Navigate { path } => write!(f, "navigate {path}"),
            Step::WaitMs { ms } => write!(f, "waitMs {ms}"),
            Step::Eval { expression } => write!(f, "eval {}", shorten(expression, 60)),
        }
    }
}

/// An action or its undo: the steps run in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSpec {
    pub steps: Vec<Step>,
}

/// Error parsing an action or undo spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("the spec is empty; give a JavaScript expression or a JSON list of steps")]
    Empty,
    #[error("the step list is empty; give at least one step")]
    NoSteps,
    #[error("step {index} ({step}) is invalid: {reason}")]
    Step {
        /// 1-based position in the list.
        index: usize,
        /// The step as written, shortened.
        step: String,
        reason: String,
    },
}

const STEP_KINDS: &str = "click, waitFor, navigate, waitMs, eval";

impl ActionSpec {
    /// Parses a spec: a JSON list of steps (or one step object), or else a
    /// JavaScript expression. Text that is valid JSON but not a list of
    /// valid steps is rejected with the step at fault, rather than run as
    /// JavaScript.
    pub fn parse(text: &str) -> Result<ActionSpec, SpecError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SpecError::Empty);
        }
        let steps = match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            Ok(object @ Value::Object(_)) => vec![object],
            // A string, number or invalid JSON: JavaScript.
            _ => {
                return Ok(ActionSpec {
                    steps: vec![Step::Eval {
                        expression: text.to_owned(),
                    }],
                })
            }
        };
        if steps.is_empty() {
            return Err(SpecError::NoSteps);
        }
        let steps = steps
            .iter()
            .enumerate()
            .map(|(position, value)| {
                parse_step(value).map_err(|reason| SpecError::Step {
                    index: position + 1,
                    step: shorten(&value.to_string(), 80),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ActionSpec { steps })
    }
}

fn parse_step(value: &Value) -> Result<Step, String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "expected an object such as {{\"click\": \"#open\"}}; kinds: {STEP_KINDS}"
        ));
    };
    let timeout_ms = match fields.get("timeoutMs") {
        None => DEFAULT_STEP_TIMEOUT_MS,
        Some(value) => value.as_u64().filter(|ms| *ms > 0).ok_or_else(|| {
            format!("timeoutMs must be a whole number of milliseconds above 0, not {value}")
        })?,
    };
    let kinds: Vec<&str> = fields
        .keys()
        .map(String::as_str)
        .filter(|key| *key != "timeoutMs")
        .collect();
    let [kind] = kinds.as_slice() else {
        return Err(format!(
            "expected exactly one step kind ({STEP_KINDS}), found {}",
            if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds.join(", ")
            }
        ));
    };
    let text = |what: &str| -> Result<String, String> {
        match &fields[*kind] {
            Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
            other => Err(format!(
                "{kind} takes {what} as a non-empty string, not {other}"
            )),
        }
    };
    let step = match *kind {
        "click" => Step::Click {
            selector: text("a CSS selector")?,
            timeout_ms,
        },
        "waitFor" => Step::WaitFor {
            selector: text("a CSS selector")?,
            timeout_ms,
        },
        "navigate" => {
            let path = text("a path")?;
            if !path.starts_with('/') {
                return Err(format!(
                    "navigate takes a path on the same site starting with '/', not \"{path}\""
                ));
            }
            Step::Navigate { path }
        }
        "waitMs" => Step::WaitMs {
            ms: fields[*kind].as_u64().ok_or_else(|| {
                format!(
                    "waitMs takes a whole number of milliseconds, not {}",
                    fields[*kind]
                )
            })?,
        },
        "eval" => Step::Eval {
            expression: text("a JavaScript expression")?,
        },
        other => {
            return Err(format!(
                "unknown step kind \"{other}\"; valid kinds: {STEP_KINDS}"
            ))
        }
    };
    if fields.contains_key("timeoutMs")
        && !matches!(step, Step::Click { .. } | Step::WaitFor { .. })
    {
        return Err(format!(
            "timeoutMs applies to click and waitFor only, not to {kind}"
        ));
    }
    Ok(step)
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// What is measured after each iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// `Runtime.getHeapUsage().usedSize` after a full garbage collection, bytes.
    HeapUsed,
    /// Live `setTimeout` and `setInterval` timers the agent tracks.
    Timers,
    /// `fetch` and XHR requests in flight.
    RequestsInFlight,
    /// Live `AbortController`s (and tracked signals).
    Controllers,
    /// Poll lifecycles still active.
    ActivePolls,
    /// `Performance.getMetrics` `Nodes`.
    DomNodes,
    /// `Performance.getMetrics` `JSEventListeners`.
    Listeners,
    /// Detached DOM nodes from `DOM.getDetachedDomNodes`.
    DetachedNodes,
}

impl Measure {
    pub const ALL: [Measure; 8] = [
        Measure::HeapUsed,
        Measure::Timers,
        Measure::RequestsInFlight,
        Measure::Controllers,
        Measure::ActivePolls,
        Measure::DomNodes,
        Measure::Listeners,
        Measure::DetachedNodes,
    ];

    /// Name in JSON output and progress lines.
    pub fn name(self) -> &'static str {
        match self {
            Measure::HeapUsed => "heap_used",
            Measure::Timers => "timers",
            Measure::RequestsInFlight => "requests_in_flight",
            Measure::Controllers => "controllers",
            Measure::ActivePolls => "active_polls",
            Measure::DomNodes => "dom_nodes",
            Measure::Listeners => "listeners",
            Measure::DetachedNodes => "detached_nodes",
        }
    }

    /// Unit of the values, for people.
    pub fn unit(self) -> &'static str {
        match self {
            Measure::HeapUsed => "bytes",
            _ => "count",
        }
    }
}

/// Minimum steady growth per iteration for each measure to count as
/// growing. Below it a slope is noise, not a leak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrowthThresholds {
    /// Bytes per iteration. A full collection still leaves tens of
    /// kilobytes of jitter (compiled code, inline caches), so the default is
    /// 64 KiB; lower it for leaks of small objects with more iterations.
    pub heap_bytes: f64,
    /// Objects per iteration for the count measures: half of "one per
    /// iteration", so a leak of one timer per iteration passes even when a
    /// timeout chain is between two timers at a measurement.
    pub count: f64,
}

impl Default for GrowthThresholds {
    fn default() -> Self {
        GrowthThresholds {
            heap_bytes: 64.0 * 1024.0,
            count: 0.5,
        }
    }
}

impl GrowthThresholds {
    pub fn for_measure(&self, measure: Measure) -> f64 {
        match measure {
            Measure::HeapUsed => self.heap_bytes,
            _ => self.count,
        }
    }
}

/// Values measured once: at the baseline or after one iteration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IterationValues {
    /// 0 for the baseline, then 1..=N.
    pub iteration: u32,
    /// Seconds since the recording started.
    pub t: f64,
    /// One value per measure; `None` when it could not be read (for
    /// example `DOM.getDetachedDomNodes` on a browser without it).
    pub values: Vec<(Measure, Option<f64>)>,
    /// Live timers per creation site label.
    #[serde(default)]
    pub timers_by_site: Vec<(String, u64)>,
}

impl IterationValues {
    pub fn get(&self, measure: Measure) -> Option<f64> {
        self.values
            .iter()
            .find(|(name, _)| *name == measure)
            .and_then(|(_, value)| *value)
    }
}

/// The verdict on one measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureTrend {
    pub name: String,
    pub unit: String,
    /// Baseline first, then one value per iteration.
    pub values: Vec<f64>,
    pub growing: bool,
    /// Theil–Sen slope: growth per iteration, in the measure's unit.
    pub per_iteration: Option<f64>,
    /// Consecutive deltas that were positive, of `deltas`.
    pub positive_deltas: usize,
    pub deltas: usize,
    /// Minimum growth per iteration that counts.
    pub threshold: f64,
    /// Why it is or is not growing, for people.
    pub reason: String,
}

/// Decides whether `values` (baseline first) grow by a steady amount per
/// iteration of at least `min_per_iteration`.
pub fn assess(name: &str, unit: &str, values: &[f64], min_per_iteration: f64) -> MeasureTrend {
    let deltas: Vec<f64> = values.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let positive_deltas = deltas.iter().filter(|delta| **delta > 0.0).count();
    let points: Vec<TrendPoint> = values
        .iter()
        .enumerate()
        .map(|(index, value)| TrendPoint {
            t: index as f64,
            bytes: *value,
        })
        .collect();
    let per_iteration = theil_sen(&points).map(|estimate| estimate.slope);
    let mut trend = MeasureTrend {
        name: name.to_owned(),
        unit: unit.to_owned(),
        values: values.to_vec(),
        growing: false,
        per_iteration,
        positive_deltas,
        deltas: deltas.len(),
        threshold: min_per_iteration,
        reason: String::new(),
    };
    if values.len() < MIN_ITERATIONS_FOR_VERDICT + 1 {
        trend.reason = format!(
            "too few iterations ({}) for a verdict; run at least {MIN_ITERATIONS_FOR_VERDICT}",
            values.len().saturating_sub(1)
        );
        return trend;
    }
    let slope = per_iteration.unwrap_or(0.0);
    let share = positive_deltas as f64 / deltas.len() as f64;
    trend.growing = slope >= min_per_iteration && share >= MIN_POSITIVE_SHARE;
    trend.reason = if trend.growing {
        format!(
            "grows by {} per iteration; {positive_deltas} of {} deltas positive",
            format_amount(slope, unit),
            deltas.len()
        )
    } else if slope < min_per_iteration {
        format!(
            "steady growth {} per iteration is below the {} threshold",
            format_amount(slope, unit),
            format_amount(min_per_iteration, unit)
        )
    } else {
        format!(
            "only {positive_deltas} of {} deltas positive: growth is not steady (a one-off allocation or noise)",
            deltas.len()
        )
    };
    trend
}

/// Formats a value: KiB or MiB for bytes, one decimal for counts.
pub fn format_amount(value: f64, unit: &str) -> String {
    if unit != "bytes" {
        return format!("{value:.1}");
    }
    let kib = value / 1024.0;
    if kib.abs() >= 1024.0 {
        format!("{:.2} MiB", kib / 1024.0)
    } else {
        format!("{kib:.1} KiB")
    }
}

/// The trends of every measure that was read at every point; a measure
/// missing at some point is left out (its absence is reported by the runner).
pub fn trends(series: &[IterationValues], thresholds: &GrowthThresholds) -> Vec<MeasureTrend> {
    Measure::ALL
        .into_iter()
        .filter_map(|measure| {
            let values: Option<Vec<f64>> = series.iter().map(|point| point.get(measure)).collect();
            let values = values.filter(|values| !values.is_empty())?;
            Some(assess(
                measure.name(),
                measure.unit(),
                &values,
                thresholds.for_measure(measure),
            ))
        })
        .collect()
}

/// Creation sites whose live timer count grows steadily per iteration.
pub fn growing_timer_sites(
    series: &[IterationValues],
    thresholds: &GrowthThresholds,
) -> Vec<SiteGrowth> {
    let mut sites: Vec<&str> = series
        .iter()
        .flat_map(|point| point.timers_by_site.iter().map(|(site, _)| site.as_str()))
        .collect();
    sites.sort_unstable();
    sites.dedup();
    let mut out: Vec<SiteGrowth> = sites
        .into_iter()
        .filter_map(|site| {
            let values: Vec<f64> = series
                .iter()
                .map(|point| {
                    point
                        .timers_by_site
                        .iter()
                        .find(|(name, _)| name == site)
                        .map_or(0.0, |(_, live)| *live as f64)
                })
                .collect();
            let trend = assess(site, "count", &values, thresholds.count);
            trend.growing.then(|| SiteGrowth {
                site: site.to_owned(),
                live_at_baseline: values.first().copied().unwrap_or(0.0) as u64,
                live_at_end: values.last().copied().unwrap_or(0.0) as u64,
                per_iteration: trend.per_iteration.unwrap_or(0.0),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.per_iteration
            .total_cmp(&a.per_iteration)
            .then(a.site.cmp(&b.site))
    });
    out
}

/// A creation site whose live timers grow per iteration and never end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteGrowth {
    pub site: String,
    pub live_at_baseline: u64,
    pub live_at_end: u64,
    pub per_iteration: f64,
}

/// Poll lifecycles of one endpoint started after the baseline and still
/// active at the end: one per iteration means each action left a poll behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollGrowth {
    pub endpoint: String,
    pub poll_type: String,
    /// Active lifecycles started after the baseline.
    pub count: u64,
    pub operations: Vec<String>,
    pub timer_site: Option<String>,
    pub request_site: Option<String>,
}

/// How one class changed from the baseline to the final snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassGrowth {
    pub name: String,
    /// Objects in the final snapshot and not in the baseline.
    pub added: u64,
    pub count_delta: i64,
    pub size_delta: i64,
}

/// A class whose new objects are a multiple of the iteration count, with
/// the shortest retainer path of one of them (filled by the runner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub class: String,
    /// Net new objects since the baseline.
    pub count: i64,
    pub per_iteration: i64,
    pub size_delta: i64,
    /// Node id of the object the path leads to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u64>,
    /// `(root) → edge → node @id → …`, empty when no path was found.
    #[serde(default)]
    pub retainer_path: Vec<PathStepView>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub retainer_line: String,
}

/// One step of a retainer path, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStepView {
    /// Edge from the previous step; `None` for the root.
    pub edge: Option<String>,
    pub edge_type: Option<String>,
    pub node_type: String,
    pub name: String,
    pub node_id: u64,
}

/// Classes of V8 internals that are never a leak candidate by themselves:
/// they grow with whatever else grows.
const INTERNAL_CLASSES: &[&str] = &[
    "(system)",
    "(compiled code)",
    "(object shape)",
    "(hidden)",
    "(code)",
    "(synthetic)",
];

/// Picks the leak candidates: classes with a net gain of at least
/// `iterations` objects that is a multiple of `iterations`. Named classes
/// come first (a constructor name is more telling than `(closure)`), then the
/// largest size growth.
pub fn candidates(classes: &[ClassGrowth], iterations: u32) -> Vec<Candidate> {
    if iterations == 0 {
        return Vec::new();
    }
    let n = i64::from(iterations);
    let mut out: Vec<Candidate> = classes
        .iter()
        .filter(|class| !INTERNAL_CLASSES.contains(&class.name.as_str()))
        .filter(|class| class.count_delta >= n && class.count_delta % n == 0)
        .map(|class| Candidate {
            class: class.name.clone(),
            count: class.count_delta,
            per_iteration: class.count_delta / n,
            size_delta: class.size_delta,
            node_id: None,
            retainer_path: Vec::new(),
            retainer_line: String::new(),
        })
        .collect();
    out.sort_by(|a, b| {
        is_type_group(&a.class)
            .cmp(&is_type_group(&b.class))
            .then(b.size_delta.cmp(&a.size_delta))
            .then(a.class.cmp(&b.class))
    });
    out.truncate(MAX_CANDIDATES);
    out
}

/// The classes whose size grew most from the baseline to the final
/// snapshot, whether or not their count is a multiple of the iterations: a
/// leak that allocates per poll rather than per iteration shows here.
pub fn grown_classes(classes: &[ClassGrowth]) -> Vec<ClassGrowth> {
    let mut grown: Vec<ClassGrowth> = classes
        .iter()
        .filter(|class| class.count_delta > 0 && class.size_delta > 0)
        .cloned()
        .collect();
    grown.sort_by(|a, b| b.size_delta.cmp(&a.size_delta).then(a.name.cmp(&b.name)));
    grown.truncate(MAX_GROWN_CLASSES);
    grown
}

/// True for DevTools' type groups such as `(closure)` or `(string)`.
fn is_type_group(name: &str) -> bool {
    name.starts_with('(')
}

/// Whether the run found a leak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReproVerdict {
    Leak,
    NoLeak,
    /// Too few iterations completed to decide.
    Inconclusive,
}

impl ReproVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReproVerdict::Leak => "leak",
            ReproVerdict::NoLeak => "no-leak",
            ReproVerdict::Inconclusive => "inconclusive",
        }
    }
}

/// The overall verdict: a leak when any measure grows steadily; with fewer
/// than [`MIN_ITERATIONS_FOR_VERDICT`] iterations, inconclusive.
pub fn verdict(trends: &[MeasureTrend], iterations: u32) -> ReproVerdict {
    if (iterations as usize) < MIN_ITERATIONS_FOR_VERDICT {
        return ReproVerdict::Inconclusive;
    }
    if trends.iter().any(|trend| trend.growing) {
        ReproVerdict::Leak
    } else {
        ReproVerdict::NoLeak
    }
}

/// Median of the consecutive deltas, a cross-check of the slope for people.
pub fn median_delta(values: &[f64]) -> Option<f64> {
    let mut deltas: Vec<f64> = values.windows(2).map(|pair| pair[1] - pair[0]).collect();
    if deltas.is_empty() {
        return None;
    }
    deltas.sort_by(f64::total_cmp);
    Some(median_of_sorted(&deltas))
}

/// Heap snapshots of a run: after warm-up, after the last action, after the
/// last undo. A path is absent when the run ended before that point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReproSnapshots {
    pub baseline: Option<String>,
    pub target: Option<String>,
    #[serde(rename = "final")]
    pub final_: Option<String>,
}

/// Everything a repro run found; `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReproReport {
    pub verdict: ReproVerdict,
    /// False when the run ended early (tab closed, cancelled); the fields
    /// then hold what was measured until then.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// Measured iterations completed.
    pub iterations: u32,
    pub requested_iterations: u32,
    pub warmup: u32,
    pub measures: Vec<MeasureTrend>,
    /// The raw values: baseline first, then one entry per iteration.
    pub series: Vec<IterationValues>,
    pub candidates: Vec<Candidate>,
    /// The classes that grew most in size since the baseline.
    #[serde(default)]
    pub grown_classes: Vec<ClassGrowth>,
    /// Timer creation sites whose live timers grow per iteration.
    pub timer_sites: Vec<SiteGrowth>,
    /// Polls started once per iteration and never ended.
    pub polls: Vec<PollGrowth>,
    pub snapshots: ReproSnapshots,
    /// The recording file of the run.
    pub recording: String,
    /// What the run could not measure, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ActionSpec, SpecError> {
        ActionSpec::parse(text)
    }

    #[test]
    fn spec_plain_expression() {
        let spec = parse("demo.open('video')").unwrap();
        assert_eq!(
            spec.steps,
            vec![Step::Eval {
                expression: "demo.open('video')".to_owned()
            }]
        );
    }

    #[test]
    fn spec_expression_with_brackets_stays_javascript() {
        let spec = parse("[1, 2].forEach(n => n)").unwrap();
        assert!(matches!(spec.steps[0], Step::Eval { .. }));
    }

    #[test]
    fn spec_step_list() {
        let spec = parse(
            r##"[{"click": "#open-video"}, {"waitFor": ".panel", "timeoutMs": 800},
                {"navigate": "/video"}, {"waitMs": 50}, {"eval": "1 + 1"}]"##,
        )
        .unwrap();
        assert_eq!(
            spec.steps,
            vec![
                Step::Click {
                    selector: "#open-video".to_owned(),
                    timeout_ms: DEFAULT_STEP_TIMEOUT_MS
                },
                Step::WaitFor {
                    selector: ".panel".to_owned(),
                    timeout_ms: 800
                },
                Step::Navigate {
                    path: "/video".to_owned()
                },
                Step::WaitMs { ms: 50 },
                Step::Eval {
                    expression: "1 + 1".to_owned()
                },
            ]
        );
    }

    #[test]
    fn spec_single_step_object() {
        let spec = parse(r#"{"click": "button.close"}"#).unwrap();
        assert_eq!(spec.steps.len(), 1);
    }

    #[test]
    fn spec_unknown_kind_names_step() {
        let error = parse(r##"[{"click": "#a"}, {"clik": "#b"}]"##).unwrap_err();
        let SpecError::Step {
            index,
            step,
            reason,
        } = &error
        else {
            panic!("expected a step error, got {error:?}");
        };
        assert_eq!(*index, 2);
        assert!(step.contains("clik"), "{step}");
        assert!(reason.contains("unknown step kind \"clik\""), "{reason}");
    }

    #[test]
    fn spec_rejects_bad_values() {
        let cases = [
            (r#"[{"click": ""}]"#, "non-empty string"),
            (r#"[{"waitMs": "5"}]"#, "whole number"),
            (r#"[{"navigate": "video"}]"#, "starting with '/'"),
            (r##"[{"waitFor": "#a", "timeoutMs": 0}]"##, "above 0"),
            (
                r#"[{"eval": "1", "timeoutMs": 10}]"#,
                "click and waitFor only",
            ),
            (
                r##"[{"click": "#a", "eval": "1"}]"##,
                "exactly one step kind",
            ),
            (r#"[3]"#, "expected an object"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(error.starts_with("step 1 "), "{text}: {error}");
        }
    }

    #[test]
    fn spec_rejects_empty() {
        assert_eq!(parse("  "), Err(SpecError::Empty));
        assert_eq!(parse("[]"), Err(SpecError::NoSteps));
    }

    #[test]
    fn steady_growth_is_growing() {
        let values: Vec<f64> = (0..8).map(|i| 1000.0 + 200_000.0 * i as f64).collect();
        let trend = assess("heap_used", "bytes", &values, 65536.0);
        assert!(trend.growing, "{}", trend.reason);
        assert_eq!(trend.per_iteration, Some(200_000.0));
        assert_eq!(trend.positive_deltas, 7);
    }

    #[test]
    fn first_iteration_cache_is_not_growing() {
        // A cache filled on the first iteration, then reused.
        let values = [
            10e6,
            14e6,
            14e6 + 3e3,
            14e6 - 2e3,
            14e6,
            14e6 + 1e3,
            14e6,
            14e6 - 1e3,
        ];
        let trend = assess("heap_used", "bytes", &values, 65536.0);
        assert!(!trend.growing, "{}", trend.reason);
        assert!(trend.per_iteration.unwrap().abs() < 2e3);
    }

    #[test]
    fn noise_below_threshold_is_not_growing() {
        let values = [5e6, 5.01e6, 5.02e6, 5.03e6, 5.04e6, 5.05e6, 5.06e6, 5.07e6];
        let trend = assess("heap_used", "bytes", &values, 65536.0);
        assert!(!trend.growing);
        assert!(trend.reason.contains("below"), "{}", trend.reason);
    }

    #[test]
    fn unsteady_jumps_are_not_growing() {
        // Large slope from two jumps, but most deltas are not positive.
        let values = [0.0, 0.0, 0.0, 0.0, 5.0, 5.0, 5.0, 10.0];
        let trend = assess("timers", "count", &values, 0.5);
        assert!(!trend.growing, "{}", trend.reason);
    }

    #[test]
    fn one_timer_per_iteration_is_growing() {
        let values = [1.0, 2.0, 3.0, 4.0, 4.0, 6.0, 7.0, 8.0];
        let trend = assess("timers", "count", &values, 0.5);
        assert!(trend.growing, "{}", trend.reason);
        assert_eq!(trend.positive_deltas, 6);
    }

    #[test]
    fn too_few_iterations_never_grow() {
        let trend = assess("timers", "count", &[0.0, 5.0, 10.0], 0.5);
        assert!(!trend.growing);
        assert!(trend.reason.contains("too few"), "{}", trend.reason);
    }

    #[test]
    fn candidates_are_multiples() {
        let class = |name: &str, count_delta: i64, size_delta: i64| ClassGrowth {
            name: name.to_owned(),
            added: count_delta.max(0) as u64,
            count_delta,
            size_delta,
        };
        let classes = [
            class("StatusPoll", 7, 560),
            class("PollResult", 33, 100_000),
            class("(closure)", 14, 900),
            class("(system)", 21, 5000),
            class("Detached HTMLDivElement", 7, 2000),
            class("Shrinking", -7, -100),
            class("Once", 3, 10_000),
        ];
        let found = candidates(&classes, 7);
        let names: Vec<&str> = found.iter().map(|c| c.class.as_str()).collect();
        assert_eq!(
            names,
            ["Detached HTMLDivElement", "StatusPoll", "(closure)"]
        );
        assert_eq!(found[2].per_iteration, 2);
    }

    #[test]
    fn grown_classes_by_size() {
        let class = |name: &str, count_delta: i64, size_delta: i64| ClassGrowth {
            name: name.to_owned(),
            added: count_delta.max(0) as u64,
            count_delta,
            size_delta,
        };
        let classes = [
            class("StatusPoll", 5, 380),
            class("PollResult", 33, 1_000_000),
            class("Shrinking", -7, -100),
        ];
        let names: Vec<String> = grown_classes(&classes)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["PollResult", "StatusPoll"]);
    }

    #[test]
    fn verdict_needs_growth_and_iterations() {
        let growing = assess("timers", "count", &[0.0, 1.0, 2.0, 3.0, 4.0], 0.5);
        let flat = assess("heap_used", "bytes", &[1.0, 1.0, 1.0, 1.0, 1.0], 65536.0);
        assert_eq!(
            verdict(&[growing.clone(), flat.clone()], 4),
            ReproVerdict::Leak
        );
        assert_eq!(verdict(&[flat], 4), ReproVerdict::NoLeak);
        assert_eq!(verdict(&[growing], 2), ReproVerdict::Inconclusive);
    }

    #[test]
    fn timer_sites_growing_per_iteration() {
        let point = |iteration: u32, live: u64| IterationValues {
            iteration,
            timers_by_site: vec![
                ("pollOnce (editor.js:10:5)".to_owned(), live),
                ("report (editor.js:3:1)".to_owned(), 1),
            ],
            ..IterationValues::default()
        };
        let series: Vec<IterationValues> = (0..6).map(|i| point(i, u64::from(i))).collect();
        let sites = growing_timer_sites(&series, &GrowthThresholds::default());
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].site, "pollOnce (editor.js:10:5)");
        assert_eq!(sites[0].live_at_end, 5);
    }

    #[test]
    fn trends_skip_missing_measures() {
        let point = |iteration: u32| IterationValues {
            iteration,
            values: vec![
                (Measure::Timers, Some(f64::from(iteration))),
                (Measure::DetachedNodes, None),
            ],
            ..IterationValues::default()
        };
        let series: Vec<IterationValues> = (0..5).map(point).collect();
        let found = trends(&series, &GrowthThresholds::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "timers");
    }

    #[test]
    fn amounts_format_by_unit() {
        assert_eq!(format_amount(2.0 * 1024.0 * 1024.0, "bytes"), "2.00 MiB");
        assert_eq!(format_amount(1536.0, "bytes"), "1.5 KiB");
        assert_eq!(format_amount(1.0, "count"), "1.0");
    }
}
