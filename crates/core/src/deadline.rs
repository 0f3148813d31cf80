//! Deadlines of CDP commands, by kind of command, and the silence deadline of
//! long streams such as heap snapshots.
//!
//! Every command the session sends has a deadline, so nothing waits forever on
//! a browser that stopped answering. The defaults below are chosen per kind of
//! command: a quick query answers in milliseconds unless the renderer is busy,
//! while a navigation or a full garbage collection can legitimately take
//! seconds. A heap snapshot has no total deadline at all: a large heap takes
//! minutes, so its deadline runs from the last chunk or progress event.

use std::time::{Duration, Instant};

/// Quick queries and domain switches (`Performance.getMetrics`,
/// `Runtime.getHeapUsage`, `Page.enable`, ...). They answer in milliseconds;
/// 5 s covers a renderer that is busy in a long task without hiding a hang.
pub const QUICK: Duration = Duration::from_secs(5);

/// Script evaluation (`Runtime.evaluate`, `Runtime.callFunctionOn`). The
/// script itself is ours and short, but it queues behind the page's own tasks.
pub const EVALUATE: Duration = Duration::from_secs(10);

/// Attaching to a target: the browser may first have to wake a background tab.
pub const ATTACH: Duration = Duration::from_secs(10);

/// Navigations and reloads (`Page.navigate`, `Page.reload`): the reply comes
/// once the new document is committed, which on a slow page takes seconds.
pub const NAVIGATION: Duration = Duration::from_secs(30);

/// `HeapProfiler.collectGarbage`: a full, non-incremental collection of a
/// heap of several hundred megabytes takes seconds.
pub const GARBAGE_COLLECTION: Duration = Duration::from_secs(30);

/// Silence allowed during a heap snapshot: the capture fails when no chunk and
/// no progress event arrived for this long. V8 reports progress many times a
/// second while it walks the heap, so 60 s of silence means it is stuck.
pub const SNAPSHOT_SILENCE: Duration = Duration::from_secs(60);

/// Returns the default deadline of a CDP command, by method name.
pub fn for_method(method: &str) -> Duration {
    match method {
        "Target.attachToTarget" => ATTACH,
        "Page.navigate" | "Page.reload" | "Page.navigateToHistoryEntry" => NAVIGATION,
        "HeapProfiler.collectGarbage" => GARBAGE_COLLECTION,
        "HeapProfiler.takeHeapSnapshot" => SNAPSHOT_SILENCE,
        "Runtime.evaluate" | "Runtime.callFunctionOn" | "Runtime.awaitPromise" => EVALUATE,
        _ => QUICK,
    }
}

/// A deadline that moves forward every time there is a sign of life: the
/// capture of a heap snapshot is allowed to run as long as chunks or progress
/// events keep coming.
#[derive(Debug, Clone, Copy)]
pub struct SilenceDeadline {
    silence: Duration,
    last_activity: Instant,
}

impl SilenceDeadline {
    /// Starts the deadline at `now`; it expires after `silence` without activity.
    pub fn new(silence: Duration, now: Instant) -> Self {
        SilenceDeadline {
            silence,
            last_activity: now,
        }
    }

    /// Records a sign of life at `now`. A time earlier than the last activity
    /// is ignored, so the deadline never moves back.
    pub fn touch(&mut self, now: Instant) {
        if now > self.last_activity {
            self.last_activity = now;
        }
    }

    /// The instant at which the deadline expires.
    pub fn expires_at(&self) -> Instant {
        self.last_activity + self.silence
    }

    /// True when `now` is at or past the expiry.
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.expires_at()
    }

    /// The allowed silence.
    pub fn silence(&self) -> Duration {
        self.silence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_queries_get_five_seconds() {
        assert_eq!(for_method("Performance.getMetrics"), Duration::from_secs(5));
        assert_eq!(for_method("Runtime.getHeapUsage"), Duration::from_secs(5));
        assert_eq!(for_method("Some.unknownMethod"), QUICK);
    }

    #[test]
    fn navigation_gets_thirty_seconds() {
        assert_eq!(for_method("Page.navigate"), Duration::from_secs(30));
        assert_eq!(for_method("Page.reload"), Duration::from_secs(30));
    }

    #[test]
    fn slow_kinds_get_their_own_deadline() {
        assert_eq!(for_method("Target.attachToTarget"), ATTACH);
        assert_eq!(
            for_method("HeapProfiler.collectGarbage"),
            GARBAGE_COLLECTION
        );
        assert_eq!(for_method("Runtime.evaluate"), EVALUATE);
        assert_eq!(
            for_method("HeapProfiler.takeHeapSnapshot"),
            SNAPSHOT_SILENCE
        );
    }

    #[test]
    fn silence_deadline_moves_with_activity() {
        let start = Instant::now();
        let mut deadline = SilenceDeadline::new(Duration::from_secs(60), start);
        assert_eq!(deadline.expires_at(), start + Duration::from_secs(60));
        assert!(!deadline.expired(start + Duration::from_secs(59)));
        assert!(deadline.expired(start + Duration::from_secs(60)));

        deadline.touch(start + Duration::from_secs(50));
        assert_eq!(deadline.expires_at(), start + Duration::from_secs(110));
        assert!(!deadline.expired(start + Duration::from_secs(100)));
    }

    #[test]
    fn silence_deadline_never_moves_back() {
        let start = Instant::now();
        let mut deadline =
            SilenceDeadline::new(Duration::from_secs(10), start + Duration::from_secs(5));
        deadline.touch(start);
        assert_eq!(deadline.expires_at(), start + Duration::from_secs(15));
    }
}
