//! The analysis a chart, trace or report is drawn from: the model's engine run
//! over a recording, converted into this crate's view types.
//!
//! Replaying the recording through [`leakscope_model::Engine`] gives the same
//! lifecycles and verdict as the live session did. Alerts are the engine's,
//! plus any alert recorded in the file that the replay did not raise again
//! (alerts from rules that only the live session evaluates).

use std::collections::BTreeSet;

use leakscope_model::config::Config;
use leakscope_model::polls::{PollFlag, PollState, PollSummary};
use leakscope_model::verdict::{TrendMethod, Verdict, VerdictKind};
use leakscope_model::{Engine, RecordBody, Recording};

use crate::view::{
    merged_alerts, recording_duration, Analysis, Lane, LaneEnd, TrendLine, VerdictView,
    BYTES_PER_MB,
};

/// Analyses a recording with the engine's default configuration.
///
/// NOTE: a recording does not yet say which rules file it was made with, so a
/// replay uses the defaults even when the live session used overrides.
pub fn analyze(recording: &Recording) -> Analysis {
    analyze_with(recording, Config::default())
}

/// Analyses a recording with the given engine configuration.
pub fn analyze_with(recording: &Recording, config: Config) -> Analysis {
    let mut engine = Engine::new(config, &recording.header);
    for record in &recording.records {
        engine.ingest(record);
    }
    let end = recording_duration(recording);
    engine.advance(end);

    let lanes = engine.lifecycles().iter().map(lane_of).collect();
    let mut alerts = engine.alerts().to_vec();
    let raised: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|alert| (alert.rule.clone(), alert.subject.clone()))
        .collect();
    alerts.extend(
        merged_alerts(recording)
            .into_iter()
            .filter(|alert| !raised.contains(&(alert.rule.clone(), alert.subject.clone()))),
    );
    alerts.sort_by(|a, b| a.first_seen.total_cmp(&b.first_seen));

    let verdict = engine.verdict(end);
    let rules = serde_json::to_value(engine.config()).ok();
    Analysis {
        lanes,
        alerts,
        verdict: Some(verdict_view(&verdict, recording)),
        rules,
    }
}

/// Converts one engine lifecycle into a lane.
pub fn lane_of(poll: &PollSummary) -> Lane {
    let end = match poll.state {
        PollState::Active => LaneEnd::Active,
        PollState::Complete => LaneEnd::Complete,
        PollState::Failed => LaneEnd::Failed,
        PollState::Timeout => LaneEnd::Timeout,
        PollState::Stopped => LaneEnd::Stopped,
    };
    let runaway_from = poll
        .flags
        .contains(&PollFlag::Runaway)
        .then(|| runaway_start(poll));
    let orphaned_from = poll
        .owner_gone
        .as_ref()
        .filter(|_| poll.flags.contains(&PollFlag::Orphaned) || poll.requests_after_owner_gone > 0)
        .map(|gone| gone.t);
    Lane {
        operation: poll.operation.clone(),
        poll_type: Some(poll.poll_type.clone()),
        endpoint: Some(poll.endpoint.clone()),
        start_t: poll.first_t,
        end_t: (end != LaneEnd::Active).then_some(poll.last_t),
        end,
        attempts: poll.attempts,
        runaway_from,
        orphaned_from,
        flags: poll
            .flags
            .iter()
            .filter(|flag| !matches!(flag, PollFlag::Runaway | PollFlag::Orphaned))
            .map(|flag| flag.as_str().to_owned())
            .collect(),
    }
}

/// When a runaway lifecycle passed its attempt limit.
///
/// NOTE: the engine's summary has no timestamp for this, so it is estimated by
/// assuming attempts were spread evenly between the first and the last request.
fn runaway_start(poll: &PollSummary) -> f64 {
    if poll.attempts > poll.max_attempts && poll.attempts > 1 && poll.max_attempts > 0 {
        let share = poll.max_attempts as f64 / poll.attempts as f64;
        poll.first_t + (poll.last_t - poll.first_t) * share
    } else {
        poll.first_t
    }
}

fn verdict_view(verdict: &Verdict, recording: &Recording) -> VerdictView {
    let slope = verdict.slope_mb_per_min;
    let interval = match (verdict.slope_low_mb_per_min, verdict.slope_high_mb_per_min) {
        (Some(low), Some(high)) => format!(
            " ({:.0} % interval {low:+.2} to {high:+.2})",
            verdict.interval_pct
        ),
        _ => String::new(),
    };
    let headline = match (verdict.verdict, slope) {
        (VerdictKind::Leak, Some(slope)) => {
            format!("leak: the heap floor grows {slope:+.2} MB/min{interval}")
        }
        (VerdictKind::Leak, None) => "leak".to_owned(),
        (VerdictKind::NoLeak, Some(slope)) => {
            format!("no leak: the heap floor changes {slope:+.2} MB/min{interval}")
        }
        (VerdictKind::NoLeak, None) => "no leak".to_owned(),
        (VerdictKind::Inconclusive, _) => "inconclusive".to_owned(),
    };
    let mut evidence = vec![capitalise(&verdict.reason)];
    evidence.push(format!(
        "Threshold {:.2} MB/min; {} trend points from {} samples ({}).",
        verdict.threshold_mb_per_min,
        verdict.points,
        verdict.samples,
        match verdict.method {
            TrendMethod::WindowMinimum => "the lowest sample of each window",
            TrendMethod::AfterGc => "samples taken after a forced garbage collection",
        }
    ));
    evidence.push(format!("Team rule: {}.", verdict.team_rule.message));
    for poll in &verdict.evidence.polls {
        evidence.push(format!(
            "Poll `{}` ({}) is {} after {} attempts{}.",
            poll.operation,
            poll.poll_type,
            poll.flags.join(", "),
            poll.attempts,
            poll.timer_site
                .as_deref()
                .map(|site| format!(", driven by a timer from `{site}`"))
                .unwrap_or_default()
        ));
    }
    for site in &verdict.evidence.timer_sites {
        evidence.push(format!(
            "Live timers from `{}` went from {} to {}.",
            site.subject, site.at_start, site.now
        ));
    }
    for endpoint in &verdict.evidence.endpoints {
        evidence.push(format!(
            "Requests in flight to {} went from {} to {}.",
            endpoint.subject, endpoint.at_start, endpoint.now
        ));
    }
    let trend = slope.and_then(|slope| trend_line(recording, slope, verdict));
    VerdictView {
        leak: verdict.verdict == VerdictKind::Leak,
        headline,
        trend,
        evidence,
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => {
            first.to_uppercase().chain(chars).collect::<String>()
                + if text.ends_with('.') { "" } else { "." }
        }
        None => String::new(),
    }
}

/// Places the verdict's slope on the chart: the Theil–Sen intercept (median of
/// `y - slope * t`) over the same kind of points the verdict used, the lowest
/// sample per window, or the samples after a forced collection.
fn trend_line(
    recording: &Recording,
    slope_mb_per_min: f64,
    verdict: &Verdict,
) -> Option<TrendLine> {
    let samples: Vec<(f64, f64, bool)> = recording
        .records
        .iter()
        .filter_map(|record| match &record.body {
            RecordBody::Sample(sample) => Some((
                record.t,
                sample.heap_used as f64 / BYTES_PER_MB,
                sample.after_gc,
            )),
            _ => None,
        })
        .collect();
    let (first, last) = (samples.first()?.0, samples.last()?.0);
    let points: Vec<(f64, f64)> = match verdict.method {
        TrendMethod::AfterGc => samples
            .iter()
            .filter(|sample| sample.2)
            .map(|sample| (sample.0, sample.1))
            .collect(),
        TrendMethod::WindowMinimum => {
            let window = verdict
                .window_s
                .filter(|window| *window > 0.0)
                .unwrap_or(30.0);
            let mut minima: Vec<(f64, f64)> = Vec::new();
            let mut current: Option<(i64, (f64, f64))> = None;
            for &(t, mb, _) in &samples {
                let bucket = ((t - first) / window).floor() as i64;
                match current {
                    Some((index, low)) if index == bucket => {
                        if mb < low.1 {
                            current = Some((index, (t, mb)));
                        }
                    }
                    _ => {
                        if let Some((_, low)) = current {
                            minima.push(low);
                        }
                        current = Some((bucket, (t, mb)));
                    }
                }
            }
            minima.extend(current.map(|(_, low)| low));
            minima
        }
    };
    if points.is_empty() {
        return None;
    }
    let mut offsets: Vec<f64> = points
        .iter()
        .map(|(t, mb)| mb - slope_mb_per_min * t / 60.0)
        .collect();
    offsets.sort_by(f64::total_cmp);
    let middle = offsets.len() / 2;
    let intercept_mb = if offsets.len() % 2 == 0 {
        (offsets[middle - 1] + offsets[middle]) / 2.0
    } else {
        offsets[middle]
    };
    Some(TrendLine {
        slope_mb_per_min,
        intercept_mb,
        from_t: first,
        to_t: last,
    })
}
