//! Taking one memory sample of the attached page.
//!
//! A sample is `Performance.getMetrics` (every metric, by name) plus
//! `Runtime.getHeapUsage`, asked for together. The heap limit comes from
//! `performance.memory.jsHeapSizeLimit`, read once per document because
//! Chrome buckets and caches `performance.memory`; it is shown, never used for
//! verdicts. A garbage collection may run before some samples, at a lower
//! rate than sampling ([`GcSchedule`]), so the post-GC series shows retained
//! memory without making the page pay for a full GC every tick.

use std::time::Duration;

use chromiumoxide_cdp::cdp::browser_protocol::performance::GetMetricsParams;
use chromiumoxide_cdp::cdp::js_protocol::heap_profiler::CollectGarbageParams;
use chromiumoxide_cdp::cdp::js_protocol::runtime::{EvaluateParams, GetHeapUsageParams};
use leakscope_model::Sample;

use crate::session::{Session, SessionError};

/// Shortest accepted sampling interval. Below it the two CDP round trips per
/// sample start to compete with the page for its main thread.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Default sampling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// Period of the garbage collection before a sample, with `--gc-before-sample`.
/// A full GC of a large heap pauses the page for tens of milliseconds, so it
/// runs at most every 10 s whatever the sampling interval.
pub const GC_PERIOD: Duration = Duration::from_secs(10);

/// Script that reads the heap limit; `null` where `performance.memory` is absent.
const HEAP_LIMIT_SCRIPT: &str =
    "(typeof performance !== 'undefined' && performance.memory) ? performance.memory.jsHeapSizeLimit : null";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    #[error("sampling interval {given:?} is below the minimum of {min:?}; pass --interval 100ms or more")]
    TooShort { given: Duration, min: Duration },
}

/// Checks a sampling interval against [`MIN_INTERVAL`].
pub fn check_interval(interval: Duration) -> Result<Duration, IntervalError> {
    if interval < MIN_INTERVAL {
        return Err(IntervalError::TooShort {
            given: interval,
            min: MIN_INTERVAL,
        });
    }
    Ok(interval)
}

/// Decides which samples get a garbage collection first: every
/// `ceil(GC_PERIOD / interval)`-th sample, starting with the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcSchedule {
    every: u64,
}

impl GcSchedule {
    pub fn new(interval: Duration, period: Duration) -> Self {
        let interval_ms = interval.as_millis().max(1);
        let every = period.as_millis().div_ceil(interval_ms).max(1);
        GcSchedule {
            every: u64::try_from(every).unwrap_or(u64::MAX),
        }
    }

    /// Samples between two collections.
    pub fn every(&self) -> u64 {
        self.every
    }

    /// True when sample number `index` (from 0) follows a collection.
    pub fn collects_before(&self, index: u64) -> bool {
        index % self.every == 0
    }
}

/// Takes one sample. `heap_limit` is the cached limit of the current document.
pub async fn take_sample(
    session: &Session,
    heap_limit: Option<u64>,
    gc_first: bool,
) -> Result<Sample, SessionError> {
    if gc_first {
        session.call(CollectGarbageParams::default()).await?;
    }
    let (metrics, heap) = tokio::join!(
        session.call(GetMetricsParams::default()),
        session.call(GetHeapUsageParams::default())
    );
    let (metrics, heap) = (metrics?, heap?);
    Ok(Sample {
        heap_used: bytes(heap.used_size),
        heap_total: bytes(heap.total_size),
        heap_limit,
        metrics: metrics
            .metrics
            .into_iter()
            .map(|metric| (metric.name, metric.value))
            .collect(),
        counts: None,
        after_gc: gc_first,
    })
}

/// Reads `performance.memory.jsHeapSizeLimit` of the current document.
pub async fn read_heap_limit(session: &Session) -> Result<Option<u64>, SessionError> {
    let mut params = EvaluateParams::new(HEAP_LIMIT_SCRIPT);
    params.return_by_value = Some(true);
    params.silent = Some(true);
    let reply = session.call(params).await?;
    Ok(reply
        .result
        .value
        .and_then(|value| value.as_f64())
        .filter(|limit| *limit > 0.0)
        .map(bytes))
}

/// Converts a CDP byte count (a JSON number, so `f64`) to `u64`, clamping
/// negative and non-finite values to 0.
fn bytes(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        // In range: heaps are far below 2^53 bytes.
        value as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_minimum() {
        assert!(check_interval(Duration::from_millis(100)).is_ok());
        assert!(check_interval(Duration::from_secs(1)).is_ok());
        let error = check_interval(Duration::from_millis(99)).unwrap_err();
        assert!(error.to_string().contains("99ms"), "{error}");
        assert!(check_interval(Duration::ZERO).is_err());
    }

    #[test]
    fn gc_schedule_divides_period() {
        assert_eq!(
            GcSchedule::new(Duration::from_secs(1), GC_PERIOD).every(),
            10
        );
        assert_eq!(
            GcSchedule::new(Duration::from_millis(100), GC_PERIOD).every(),
            100
        );
        assert_eq!(
            GcSchedule::new(Duration::from_secs(3), GC_PERIOD).every(),
            4
        );
        assert_eq!(
            GcSchedule::new(Duration::from_secs(30), GC_PERIOD).every(),
            1
        );
    }

    #[test]
    fn gc_schedule_starts_with_first_sample() {
        let schedule = GcSchedule::new(Duration::from_secs(2), GC_PERIOD);
        assert!(schedule.collects_before(0));
        assert!(!schedule.collects_before(1));
        assert!(!schedule.collects_before(4));
        assert!(schedule.collects_before(5));
    }

    #[test]
    fn byte_conversion_clamps() {
        assert_eq!(bytes(1234.0), 1234);
        assert_eq!(bytes(-1.0), 0);
        assert_eq!(bytes(f64::NAN), 0);
    }
}
