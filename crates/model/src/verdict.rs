//! The leak verdict: a robust trend of the JS heap.
//!
//! A single pair of heap samples tells little, because the heap saws up and
//! down with every garbage collection. The trend is therefore taken over the
//! minimum heap of each fixed window (the floor the collector returns to), or
//! over samples taken right after a forced collection when the recording has
//! them, and estimated with the Theil–Sen slope (the median of all pairwise
//! slopes), which a few outliers cannot move. Its 95 % interval comes from
//! Sen's rank method, so a noisy series yields `inconclusive` rather than a
//! guess. A short recording of a small heap has few trend points and so a wide
//! interval, even when the heap is flat: when the slope is below the threshold
//! and the heap floor rose less than `min_growth_mb` over the whole recording
//! ([`floor_growth`]), the verdict is `no-leak` even though the interval still
//! reaches the threshold. The editor team's own rule (growth over 10 % across ten one-minute
//! samples) is computed beside it and reported, never mixed into the verdict.
//!
//! Memory stays bounded: past [`MAX_TREND_POINTS`] windows, neighbouring
//! windows merge and the window width doubles.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::config::VerdictConfig;

/// Bytes in one MB, as used in every MB and MB/min figure (decimal, as Chrome
/// DevTools shows sizes).
pub const BYTES_PER_MB: f64 = 1_000_000.0;

/// Maximum trend points kept. 512 points give 130,816 pairwise slopes, which
/// sort in a few milliseconds.
pub const MAX_TREND_POINTS: usize = 512;

/// Two-sided 95 % normal quantile, for Sen's interval.
const Z_95: f64 = 1.959_964;

/// One point of the heap trend: a time (seconds since the recording started)
/// and the heap used then, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub t: f64,
    pub bytes: f64,
}

/// A Theil–Sen slope with its 95 % interval, in input units per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlopeEstimate {
    pub slope: f64,
    pub low: f64,
    pub high: f64,
    pub points: usize,
}

impl SlopeEstimate {
    fn per_minute_mb(value: f64) -> f64 {
        value * 60.0 / BYTES_PER_MB
    }
    pub fn slope_mb_per_min(&self) -> f64 {
        Self::per_minute_mb(self.slope)
    }
    pub fn low_mb_per_min(&self) -> f64 {
        Self::per_minute_mb(self.low)
    }
    pub fn high_mb_per_min(&self) -> f64 {
        Self::per_minute_mb(self.high)
    }
}

/// Computes the Theil–Sen slope of `points` and Sen's 95 % interval.
/// Returns `None` with fewer than two distinct times.
pub fn theil_sen(points: &[TrendPoint]) -> Option<SlopeEstimate> {
    let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            let dt = b.t - a.t;
            if dt.abs() > f64::EPSILON {
                slopes.push((b.bytes - a.bytes) / dt);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let count = slopes.len();
    let slope = median_of_sorted(&slopes);

    // Sen (1968): the interval's ends are the slopes at ranks (N ∓ C) / 2,
    // with C = z · sqrt(n(n-1)(2n+5)/18), the standard deviation of Kendall's
    // S statistic without ties.
    let n = points.len() as f64;
    let spread = Z_95 * (n * (n - 1.0) * (2.0 * n + 5.0) / 18.0).sqrt();
    let lower_rank = ((count as f64 - spread) / 2.0).floor().max(0.0) as usize;
    let upper_rank = ((count as f64 + spread) / 2.0).ceil() as usize;
    let low = slopes[lower_rank.min(count - 1)];
    let high = slopes[upper_rank.min(count - 1)];
    Some(SlopeEstimate {
        slope,
        low,
        high,
        points: points.len(),
    })
}

/// Returns how much the heap floor rose over `points` (in time order), in
/// bytes: the lowest point of the last third minus the lowest point of the
/// first third. Lowest points, because a collection can land anywhere in a
/// third, and thirds, so that one low or high window cannot decide it alone.
/// `None` with fewer than three points.
pub fn floor_growth(points: &[TrendPoint]) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let third = points.len().div_ceil(3);
    let lowest = |part: &[TrendPoint]| {
        part.iter()
            .map(|point| point.bytes)
            .fold(f64::INFINITY, f64::min)
    };
    Some(lowest(&points[points.len() - third..]) - lowest(&points[..third]))
}

/// Median of a sorted, non-empty slice.
pub(crate) fn median_of_sorted(values: &[f64]) -> f64 {
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// The window being filled: its index and its lowest sample so far.
#[derive(Debug, Clone, Copy)]
struct OpenWindow {
    index: i64,
    lowest: TrendPoint,
}

/// Per-window minimums of one series, merged in pairs when too many.
#[derive(Debug, Clone)]
struct WindowMinimums {
    width_s: f64,
    origin: f64,
    closed: Vec<TrendPoint>,
    open: Option<OpenWindow>,
}

impl WindowMinimums {
    fn new(width_s: f64, origin: f64) -> Self {
        WindowMinimums {
            width_s,
            origin,
            closed: Vec::new(),
            open: None,
        }
    }

    fn push(&mut self, point: TrendPoint) {
        let index = ((point.t - self.origin) / self.width_s).floor() as i64;
        match &mut self.open {
            Some(open) if open.index == index => {
                if point.bytes < open.lowest.bytes {
                    open.lowest = point;
                }
            }
            _ => {
                if let Some(open) = self.open.take() {
                    self.closed.push(open.lowest);
                }
                self.open = Some(OpenWindow {
                    index,
                    lowest: point,
                });
            }
        }
        if self.closed.len() > MAX_TREND_POINTS {
            self.closed = merge_pairs(&self.closed);
            self.width_s *= 2.0;
            if let Some(open) = &mut self.open {
                open.index = ((open.lowest.t - self.origin) / self.width_s).floor() as i64;
            }
        }
    }

    fn points(&self) -> Vec<TrendPoint> {
        let mut points = self.closed.clone();
        points.extend(self.open.map(|open| open.lowest));
        points
    }
}

/// Keeps the lower point of each neighbouring pair.
fn merge_pairs(points: &[TrendPoint]) -> Vec<TrendPoint> {
    points
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .copied()
                .min_by(|a, b| a.bytes.total_cmp(&b.bytes))
                .unwrap_or(pair[0])
        })
        .collect()
}

/// The editor team's leak rule: one heap sample per interval, the last
/// `team_samples` of them compared first against last.
#[derive(Debug, Clone)]
struct TeamSamples {
    next_mark: f64,
    values: VecDeque<f64>,
}

/// Heap history for the verdict and the growth-rate rule.
#[derive(Debug, Clone)]
pub struct HeapTrend {
    config: VerdictConfig,
    first_t: Option<f64>,
    last_t: f64,
    samples: u64,
    minimums: Option<WindowMinimums>,
    after_gc: Vec<TrendPoint>,
    /// Base-width window minimums of the last `recent_span_s` seconds, for the
    /// growth-rate alert (the long series may have merged windows).
    recent: VecDeque<TrendPoint>,
    recent_open: Option<OpenWindow>,
    recent_span_s: f64,
    team: Option<TeamSamples>,
}

impl HeapTrend {
    /// `recent_span_s` is how much recent history the growth-rate rule reads.
    pub fn new(config: VerdictConfig, recent_span_s: f64) -> Self {
        HeapTrend {
            config,
            first_t: None,
            last_t: 0.0,
            samples: 0,
            minimums: None,
            after_gc: Vec::new(),
            recent: VecDeque::new(),
            recent_open: None,
            recent_span_s,
            team: None,
        }
    }

    /// Adds one heap sample: `t` in seconds, `heap_used` in bytes.
    pub fn push(&mut self, t: f64, heap_used: u64, after_gc: bool) {
        let point = TrendPoint {
            t,
            bytes: heap_used as f64,
        };
        let first_t = *self.first_t.get_or_insert(t);
        self.last_t = t;
        self.samples += 1;

        self.minimums
            .get_or_insert_with(|| WindowMinimums::new(self.config.window_s, first_t))
            .push(point);
        if after_gc {
            self.after_gc.push(point);
            if self.after_gc.len() > MAX_TREND_POINTS {
                self.after_gc = merge_pairs(&self.after_gc);
            }
        }
        self.push_recent(point, first_t);
        self.push_team(point, first_t);
    }

    fn push_recent(&mut self, point: TrendPoint, origin: f64) {
        let index = ((point.t - origin) / self.config.window_s).floor() as i64;
        match &mut self.recent_open {
            Some(open) if open.index == index => {
                if point.bytes < open.lowest.bytes {
                    open.lowest = point;
                }
            }
            _ => {
                if let Some(open) = self.recent_open.take() {
                    self.recent.push_back(open.lowest);
                }
                self.recent_open = Some(OpenWindow {
                    index,
                    lowest: point,
                });
            }
        }
        let cutoff = point.t - self.recent_span_s;
        while self.recent.front().is_some_and(|oldest| oldest.t < cutoff) {
            self.recent.pop_front();
        }
    }

    fn push_team(&mut self, point: TrendPoint, origin: f64) {
        let interval = self.config.team_sample_interval_s;
        let keep = self.config.team_samples;
        // The team's detector takes its first sample one interval after it starts.
        let team = self.team.get_or_insert_with(|| TeamSamples {
            next_mark: origin + interval,
            values: VecDeque::new(),
        });
        if point.t < team.next_mark {
            return;
        }
        team.values.push_back(point.bytes);
        while team.values.len() > keep {
            team.values.pop_front();
        }
        while team.next_mark <= point.t {
            team.next_mark += interval;
        }
    }

    /// Seconds between the first and the last heap sample.
    pub fn duration_s(&self) -> f64 {
        self.first_t.map_or(0.0, |first| self.last_t - first)
    }

    /// Robust slope of the window minimums of the last `recent_span_s`
    /// seconds; `None` until that span is at least half covered by three or
    /// more windows.
    pub fn recent_slope(&self) -> Option<SlopeEstimate> {
        let mut points: Vec<TrendPoint> = self.recent.iter().copied().collect();
        points.extend(self.recent_open.map(|open| open.lowest));
        let span = points.last()?.t - points.first()?.t;
        if points.len() < 3 || span < self.recent_span_s / 2.0 {
            return None;
        }
        theil_sen(&points)
    }

    /// Returns the points the verdict is computed over, and how they were chosen.
    fn trend_points(&self) -> (Vec<TrendPoint>, TrendMethod, Option<f64>) {
        if self.after_gc.len() >= 3 {
            return (self.after_gc.clone(), TrendMethod::AfterGc, None);
        }
        let Some(minimums) = &self.minimums else {
            return (
                Vec::new(),
                TrendMethod::WindowMinimum,
                Some(self.config.window_s),
            );
        };
        (
            minimums.points(),
            TrendMethod::WindowMinimum,
            Some(minimums.width_s),
        )
    }

    /// Judges the heap history so far. The verdict's evidence lists are left
    /// empty for the caller to fill.
    pub fn verdict(&self) -> Verdict {
        let (points, method, window_s) = self.trend_points();
        let duration_s = self.duration_s();
        let team_rule = self.team_rule();
        let mut verdict = Verdict {
            verdict: VerdictKind::Inconclusive,
            reason: String::new(),
            slope_mb_per_min: None,
            slope_low_mb_per_min: None,
            slope_high_mb_per_min: None,
            interval_pct: 95.0,
            threshold_mb_per_min: self.config.leak_slope_mb_per_min,
            method,
            window_s,
            points: points.len(),
            duration_s,
            samples: self.samples,
            heap_first_mb: points.first().map(|p| p.bytes / BYTES_PER_MB),
            heap_last_mb: points.last().map(|p| p.bytes / BYTES_PER_MB),
            floor_growth_mb: floor_growth(&points).map(|bytes| bytes / BYTES_PER_MB),
            team_rule,
            evidence: Evidence::default(),
        };

        if self.samples == 0 {
            verdict.reason = "no heap samples were recorded".to_owned();
            return verdict;
        }
        if duration_s < self.config.min_duration_s || points.len() < 3 {
            verdict.reason = format!(
                "too short: {duration_s:.1} s of heap samples in {} trend points; at least {:.0} s and 3 points are needed",
                points.len(),
                self.config.min_duration_s
            );
            return verdict;
        }
        let Some(estimate) = theil_sen(&points) else {
            verdict.reason = "too short: all heap samples share one time".to_owned();
            return verdict;
        };
        let slope = estimate.slope_mb_per_min();
        let low = estimate.low_mb_per_min();
        let high = estimate.high_mb_per_min();
        verdict.slope_mb_per_min = Some(slope);
        verdict.slope_low_mb_per_min = Some(low);
        verdict.slope_high_mb_per_min = Some(high);

        let threshold = self.config.leak_slope_mb_per_min;
        let interval = format!("95 % interval {low:.2} to {high:.2} MB/min");
        (verdict.verdict, verdict.reason) = if slope >= threshold && low > 0.0 {
            (
                VerdictKind::Leak,
                format!(
                    "the heap floor grows {slope:.2} MB/min ({interval}), at or above the {threshold} MB/min threshold"
                ),
            )
        } else if slope >= threshold {
            (
                VerdictKind::Inconclusive,
                format!("too noisy: the heap floor grows {slope:.2} MB/min but the {interval} includes zero"),
            )
        } else if high < threshold {
            (
                VerdictKind::NoLeak,
                format!("the heap floor changes {slope:.2} MB/min ({interval}), below the {threshold} MB/min threshold"),
            )
        } else if let Some(growth) = verdict
            .floor_growth_mb
            .filter(|growth| *growth < self.config.min_growth_mb)
        {
            (
                VerdictKind::NoLeak,
                format!(
                    "the heap floor changes {slope:.2} MB/min ({interval}) and rose {growth:.2} MB over {duration_s:.0} s, under the {} MB that counts as growth",
                    self.config.min_growth_mb
                ),
            )
        } else {
            (
                VerdictKind::Inconclusive,
                format!(
                    "too noisy: the heap floor changes {slope:.2} MB/min but the {interval} reaches the {threshold} MB/min threshold; record longer"
                ),
            )
        };
        verdict
    }

    /// Evaluates the editor team's rule on the samples so far.
    pub fn team_rule(&self) -> TeamRule {
        let needed = self.config.team_samples;
        let values = self
            .team
            .as_ref()
            .map(|team| team.values.iter().copied().collect::<Vec<_>>())
            .unwrap_or_default();
        let needed_minutes = needed as f64 * self.config.team_sample_interval_s / 60.0;
        if values.len() < needed {
            return TeamRule {
                status: TeamRuleStatus::NotEnoughData,
                growth_pct: None,
                threshold_pct: self.config.team_growth_pct,
                samples: values.len(),
                message: format!(
                    "not enough data: {} of {needed} samples, {needed_minutes:.0} minutes of recording needed",
                    values.len()
                ),
            };
        }
        let first = values[0];
        let last = values[values.len() - 1];
        let growth_pct = if first > 0.0 {
            (last - first) / first * 100.0
        } else {
            0.0
        };
        let threshold = self.config.team_growth_pct;
        let status = if growth_pct > threshold {
            TeamRuleStatus::Growth
        } else {
            TeamRuleStatus::NoGrowth
        };
        TeamRule {
            status,
            growth_pct: Some(growth_pct),
            threshold_pct: threshold,
            samples: values.len(),
            message: format!(
                "heap changed {growth_pct:+.1} % across the last {needed} samples ({:.1} to {:.1} MB); the team's threshold is {threshold} %",
                first / BYTES_PER_MB,
                last / BYTES_PER_MB
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    Leak,
    NoLeak,
    Inconclusive,
}

/// Sample selection of the trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrendMethod {
    /// The lowest sample of each window of `window_s` seconds.
    WindowMinimum,
    /// Only samples taken right after a forced garbage collection.
    AfterGc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TeamRuleStatus {
    Growth,
    NoGrowth,
    NotEnoughData,
}

/// The editor team's leak rule, reported beside the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRule {
    pub status: TeamRuleStatus,
    pub growth_pct: Option<f64>,
    pub threshold_pct: f64,
    pub samples: usize,
    pub message: String,
}

/// The leak verdict and how it was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    pub reason: String,
    /// Theil–Sen slope of the heap floor, MB/min.
    pub slope_mb_per_min: Option<f64>,
    pub slope_low_mb_per_min: Option<f64>,
    pub slope_high_mb_per_min: Option<f64>,
    /// Confidence of the slope interval, percent.
    pub interval_pct: f64,
    pub threshold_mb_per_min: f64,
    pub method: TrendMethod,
    /// Window width in seconds for `window-minimum` (it doubles on long recordings).
    pub window_s: Option<f64>,
    pub points: usize,
    pub duration_s: f64,
    pub samples: u64,
    pub heap_first_mb: Option<f64>,
    pub heap_last_mb: Option<f64>,
    /// Rise of the heap floor over the recording (see [`floor_growth`]), MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_growth_mb: Option<f64>,
    pub team_rule: TeamRule,
    pub evidence: Evidence,
}

/// Lifecycles, timer sites and endpoints that grew together with the heap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Lifecycles flagged orphaned or runaway.
    pub polls: Vec<PollEvidence>,
    /// Timer creation sites with more live timers now than at the first sample.
    pub timer_sites: Vec<GrowthEvidence>,
    /// Endpoints with more requests in flight now than at the first sample.
    pub endpoints: Vec<GrowthEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollEvidence {
    pub operation: String,
    #[serde(rename = "type")]
    pub poll_type: String,
    pub flags: Vec<String>,
    pub attempts: u64,
    pub timer_site: Option<String>,
}

/// A count that grew between the first heap sample and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrowthEvidence {
    pub subject: String,
    pub at_start: u64,
    pub now: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = BYTES_PER_MB;

    /// Deterministic noise in [-1, 1] (a linear congruential generator), so the
    /// tests need no random crate and always see the same series.
    fn noise(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
    }

    fn trend_of(samples: impl IntoIterator<Item = (f64, f64)>) -> HeapTrend {
        let mut trend = HeapTrend::new(VerdictConfig::default(), 120.0);
        for (t, bytes) in samples {
            trend.push(t, bytes as u64, false);
        }
        trend
    }

    fn seconds(duration_s: u32) -> impl Iterator<Item = f64> {
        (0..=duration_s).map(f64::from)
    }

    #[test]
    fn theil_sen_exact_line() {
        let points: Vec<TrendPoint> = (0..10)
            .map(|i| TrendPoint {
                t: f64::from(i),
                bytes: 3.0 * f64::from(i) + 5.0,
            })
            .collect();
        let estimate = theil_sen(&points).unwrap();
        assert_eq!(estimate.slope, 3.0);
        assert_eq!(estimate.low, 3.0);
        assert_eq!(estimate.high, 3.0);
    }

    #[test]
    fn theil_sen_ignores_one_outlier() {
        let mut points: Vec<TrendPoint> = (0..11)
            .map(|i| TrendPoint {
                t: f64::from(i),
                bytes: 2.0 * f64::from(i),
            })
            .collect();
        points[5].bytes = 1.0e9;
        let estimate = theil_sen(&points).unwrap();
        assert_eq!(estimate.slope, 2.0);
    }

    #[test]
    fn theil_sen_needs_two_times() {
        assert!(theil_sen(&[TrendPoint { t: 1.0, bytes: 1.0 }]).is_none());
        let same_time = [
            TrendPoint { t: 1.0, bytes: 1.0 },
            TrendPoint { t: 1.0, bytes: 2.0 },
        ];
        assert!(theil_sen(&same_time).is_none());
    }

    #[test]
    fn flat_with_noise_is_no_leak() {
        let mut seed = 7;
        let trend = trend_of(seconds(300).map(|t| (t, 50.0 * MB + 2.0 * MB * noise(&mut seed))));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::NoLeak, "{}", verdict.reason);
        let slope = verdict.slope_mb_per_min.unwrap();
        assert!(slope.abs() < 0.5, "slope {slope}");
        assert_eq!(verdict.window_s, Some(10.0));
        assert_eq!(verdict.points, 31);
    }

    #[test]
    fn linear_growth_is_leak_with_its_slope() {
        // 2 MB/min = 1/30 MB per second, plus ±0.5 MB of noise.
        let mut seed = 11;
        let trend = trend_of(
            seconds(300).map(|t| (t, 40.0 * MB + t * MB / 30.0 + 0.5 * MB * noise(&mut seed))),
        );
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::Leak, "{}", verdict.reason);
        let slope = verdict.slope_mb_per_min.unwrap();
        assert!((slope - 2.0).abs() < 0.2, "slope {slope}");
        assert!(verdict.slope_low_mb_per_min.unwrap() > 0.0);
        assert!(verdict.slope_low_mb_per_min.unwrap() <= slope);
        assert!(verdict.slope_high_mb_per_min.unwrap() >= slope);
    }

    #[test]
    fn slope_just_under_threshold_is_no_leak() {
        let trend = trend_of(seconds(600).map(|t| (t, 40.0 * MB + t * 0.9 * MB / 60.0)));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::NoLeak, "{}", verdict.reason);
    }

    #[test]
    fn slope_just_over_threshold_is_leak() {
        let trend = trend_of(seconds(600).map(|t| (t, 40.0 * MB + t * 1.1 * MB / 60.0)));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::Leak, "{}", verdict.reason);
    }

    /// Allocation climbs 30 MB within each 7 s and a collection drops it back.
    fn sawtooth(t: f64, floor: f64) -> f64 {
        floor + (t % 7.0) / 7.0 * 30.0 * MB
    }

    #[test]
    fn sawtooth_with_flat_floor_is_no_leak() {
        let trend = trend_of(seconds(300).map(|t| (t, sawtooth(t, 60.0 * MB))));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::NoLeak, "{}", verdict.reason);
        assert!(verdict.slope_mb_per_min.unwrap().abs() < 0.01);
    }

    #[test]
    fn sawtooth_with_rising_floor_is_leak() {
        // The floor rises 3 MB/min while the sawtooth swings 30 MB.
        let trend =
            trend_of(seconds(300).map(|t| (t, sawtooth(t, 60.0 * MB + t * 3.0 * MB / 60.0))));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::Leak, "{}", verdict.reason);
        let slope = verdict.slope_mb_per_min.unwrap();
        assert!((slope - 3.0).abs() < 0.3, "slope {slope}");
    }

    #[test]
    fn single_spike_is_ignored() {
        let trend =
            trend_of(seconds(300).map(|t| (t, if t == 150.0 { 500.0 * MB } else { 80.0 * MB })));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::NoLeak, "{}", verdict.reason);
        assert_eq!(verdict.slope_mb_per_min, Some(0.0));
    }

    #[test]
    fn single_dip_is_ignored() {
        let trend =
            trend_of(seconds(300).map(|t| (t, if t == 150.0 { 1.0 * MB } else { 80.0 * MB })));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::NoLeak, "{}", verdict.reason);
        assert_eq!(verdict.slope_mb_per_min, Some(0.0));
    }

    #[test]
    fn under_min_duration_is_too_short() {
        let trend = trend_of((0..=29).map(|t| (f64::from(t), 40.0 * MB + f64::from(t) * MB)));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::Inconclusive);
        assert!(
            verdict.reason.starts_with("too short"),
            "{}",
            verdict.reason
        );
    }

    #[test]
    fn at_min_duration_is_judged() {
        let trend = trend_of((0..=30).map(|t| (f64::from(t), 40.0 * MB + f64::from(t) * MB)));
        let verdict = trend.verdict();
        assert_eq!(verdict.verdict, VerdictKind::Leak, "{}", verdict.reason);
    }

    #[test]
    fn big_noise_is_inconclusive() {
        let mut seed = 3;
        // ±40 MB swings whose window minimums still scatter; the floor rises 1.5 MB/min.
        let trend = trend_of(seconds(60).map(|t| {
            (
                t,
                200.0 * MB + t * 1.5 * MB / 60.0 + 40.0 * MB * noise(&mut seed),
            )
        }));
        let verdict = trend.verdict();
        assert_eq!(
            verdict.verdict,
            VerdictKind::Inconclusive,
            "{}",
            verdict.reason
        );
        assert!(
            verdict.reason.starts_with("too noisy"),
            "{}",
            verdict.reason
        );
    }

    /// `heap_used` of the fixed demo editor's default run, one sample a second
    /// for 60 s (headless Chromium 156): a 1 MB heap whose collector returns
    /// every 30 s, so 10 s window minimums saw up and down.
    const FIXED_DEMO_HEAP: [u32; 60] = [
        1101340, 1139404, 1147716, 1163856, 1178420, 1212504, 1218644, 1226396, 1247692, 1268888,
        1276136, 1288720, 1297432, 1305324, 1311392, 1320360, 1334320, 1344300, 1351012, 1357724,
        1361260, 1384964, 1391012, 1397036, 1400624, 1416152, 1422880, 1429608, 1438412, 1448944,
        815904, 807356, 818404, 836008, 843000, 849688, 858812, 874532, 880620, 886672, 901740,
        906852, 913572, 923116, 937764, 944520, 948028, 954236, 960812, 971360, 978076, 987488,
        993508, 1003436, 1009488, 1015504, 1019020, 1037224, 1041656, 1051072,
    ];

    fn fixed_demo(config: VerdictConfig, extra_mb_per_min: f64) -> Verdict {
        let mut trend = HeapTrend::new(config, 120.0);
        for (t, bytes) in FIXED_DEMO_HEAP.iter().enumerate() {
            let t = t as f64;
            let bytes = f64::from(*bytes) + t * extra_mb_per_min * MB / 60.0;
            trend.push(t, bytes as u64, false);
        }
        trend.verdict()
    }

    #[test]
    fn flat_small_heap_minute_is_no_leak() {
        let verdict = fixed_demo(VerdictConfig::default(), 0.0);
        assert_eq!(verdict.verdict, VerdictKind::NoLeak, "{}", verdict.reason);
        assert!(verdict.floor_growth_mb.unwrap() < 0.0);
    }

    #[test]
    fn floor_growth_decides_straddling_interval() {
        // 0.5 MB/min more keeps the slope under the threshold while the
        // interval reaches past it, so only the floor growth decides.
        let open = fixed_demo(
            VerdictConfig {
                min_growth_mb: 0.0,
                ..VerdictConfig::default()
            },
            0.5,
        );
        assert!(open.slope_mb_per_min.unwrap() < 1.0);
        assert!(open.slope_high_mb_per_min.unwrap() >= 1.0);
        assert_eq!(open.verdict, VerdictKind::Inconclusive, "{}", open.reason);
        let growth = open.floor_growth_mb.unwrap();
        assert!(growth > 0.0, "floor growth {growth}");

        let just_over = VerdictConfig {
            min_growth_mb: growth + 0.001,
            ..VerdictConfig::default()
        };
        assert_eq!(fixed_demo(just_over, 0.5).verdict, VerdictKind::NoLeak);
        let just_under = VerdictConfig {
            min_growth_mb: growth - 0.001,
            ..VerdictConfig::default()
        };
        let verdict = fixed_demo(just_under, 0.5);
        assert_eq!(
            verdict.verdict,
            VerdictKind::Inconclusive,
            "{}",
            verdict.reason
        );
        assert!(
            verdict.reason.starts_with("too noisy"),
            "{}",
            verdict.reason
        );
    }

    #[test]
    fn floor_growth_compares_thirds() {
        let points: Vec<TrendPoint> = [5.0, 3.0, 9.0, 8.0, 4.0, 7.0]
            .iter()
            .enumerate()
            .map(|(t, bytes)| TrendPoint {
                t: t as f64,
                bytes: *bytes,
            })
            .collect();
        assert_eq!(floor_growth(&points), Some(4.0 - 3.0));
        assert_eq!(floor_growth(&points[..2]), None);
    }

    #[test]
    fn no_samples_is_inconclusive() {
        let verdict = trend_of([]).verdict();
        assert_eq!(verdict.verdict, VerdictKind::Inconclusive);
        assert_eq!(verdict.samples, 0);
    }

    #[test]
    fn after_gc_samples_are_preferred() {
        let mut trend = HeapTrend::new(VerdictConfig::default(), 120.0);
        for t in 0..=120 {
            let t = f64::from(t);
            // Ordinary samples are noisy and flat; every tenth is post-GC and grows 6 MB/min.
            let after_gc = t % 10.0 == 0.0;
            let bytes = if after_gc {
                30.0 * MB + t * MB / 10.0
            } else {
                100.0 * MB
            };
            trend.push(t, bytes as u64, after_gc);
        }
        let verdict = trend.verdict();
        assert_eq!(verdict.method, TrendMethod::AfterGc);
        assert_eq!(verdict.window_s, None);
        assert_eq!(verdict.points, 13);
        let slope = verdict.slope_mb_per_min.unwrap();
        assert!((slope - 6.0).abs() < 1e-9, "slope {slope}");
    }

    #[test]
    fn long_recording_merges_windows() {
        // 4 hours at one sample per second: 1440 windows of 10 s, merged to at
        // most MAX_TREND_POINTS with a wider window.
        let trend =
            trend_of((0..14_400).map(|t| (f64::from(t), 50.0 * MB + f64::from(t) * MB / 60.0)));
        let verdict = trend.verdict();
        assert!(
            verdict.points <= MAX_TREND_POINTS + 1,
            "{} points",
            verdict.points
        );
        assert_eq!(verdict.window_s, Some(40.0));
        let slope = verdict.slope_mb_per_min.unwrap();
        assert!((slope - 1.0).abs() < 0.01, "slope {slope}");
    }

    #[test]
    fn recent_slope_needs_half_its_span() {
        let trend = trend_of((0..=50).map(|t| (f64::from(t), f64::from(t) * MB)));
        assert!(trend.recent_slope().is_none());
        let trend = trend_of((0..=60).map(|t| (f64::from(t), f64::from(t) * MB)));
        let slope = trend.recent_slope().unwrap().slope_mb_per_min();
        assert!((slope - 60.0).abs() < 1e-9, "slope {slope}");
    }

    #[test]
    fn team_rule_needs_ten_minutes() {
        let trend = trend_of((0..599).map(|t| (f64::from(t), 50.0 * MB + f64::from(t) * MB)));
        let rule = trend.team_rule();
        assert_eq!(rule.status, TeamRuleStatus::NotEnoughData);
        assert_eq!(rule.samples, 9);
        assert!(
            rule.message.starts_with("not enough data"),
            "{}",
            rule.message
        );
    }

    #[test]
    fn team_rule_just_over_ten_percent() {
        // Samples at minutes 1..10; first 100 MB, last 110.1 MB.
        let trend = trend_of((0..=600).map(|t| {
            let t = f64::from(t);
            let minute = (t / 60.0).floor();
            (t, 100.0 * MB + (minute - 1.0).max(0.0) * 10.1 / 9.0 * MB)
        }));
        let rule = trend.team_rule();
        assert_eq!(rule.status, TeamRuleStatus::Growth);
        assert!(
            (rule.growth_pct.unwrap() - 10.1).abs() < 1e-6,
            "{:?}",
            rule.growth_pct
        );
    }

    #[test]
    fn team_rule_just_under_ten_percent() {
        let trend = trend_of((0..=600).map(|t| {
            let t = f64::from(t);
            let minute = (t / 60.0).floor();
            (t, 100.0 * MB + (minute - 1.0).max(0.0) * 9.9 / 9.0 * MB)
        }));
        let rule = trend.team_rule();
        assert_eq!(rule.status, TeamRuleStatus::NoGrowth);
        assert_eq!(rule.samples, 10);
    }
}
