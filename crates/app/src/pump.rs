//! The controller's path back to the UI: an [`EventSink`] the shell
//! implements with Tauri's `emit`, and the throttles that keep the event rate
//! bounded however fast the page produces records.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Shortest time between two `live` events: at most 10 a second.
pub const LIVE_PERIOD: Duration = Duration::from_millis(100);

/// Shortest time between two progress events of one action.
pub const PROGRESS_PERIOD: Duration = Duration::from_millis(100);

/// Event names, as the UI listens for them.
pub mod events {
    pub const LIVE: &str = "live";
    pub const SESSION_STATE: &str = "session-state";
    pub const SNAPSHOT_PROGRESS: &str = "snapshot-progress";
    pub const ANALYSIS_PROGRESS: &str = "analysis-progress";
    pub const REPRO_PROGRESS: &str = "repro-progress";
    pub const REPRO_DONE: &str = "repro-done";
}

/// Receives the controller's events. The shell forwards them to the webview;
/// tests collect them.
pub trait EventSink: Send + Sync + 'static {
    fn emit(&self, event: &str, payload: serde_json::Value);
}

/// A sink that drops every event, for a controller with no UI.
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _event: &str, _payload: serde_json::Value) {}
}

/// Emits one `live` event per burst of changes, at most one per [`LIVE_PERIOD`].
///
/// Waits for `changed`, builds the view with `build` and emits it, then
/// sleeps out the period. Notifications during the sleep collapse into one
/// stored permit, so a burst of any size costs one more event. Returns when
/// `build` returns `None` (the session is gone).
pub async fn run_live_pump<F>(changed: Arc<Notify>, sink: Arc<dyn EventSink>, mut build: F)
where
    F: FnMut() -> Option<serde_json::Value> + Send,
{
    loop {
        changed.notified().await;
        let Some(view) = build() else {
            return;
        };
        sink.emit(events::LIVE, view);
        tokio::time::sleep(LIVE_PERIOD).await;
    }
}

/// Lets a progress report through at most once per [`PROGRESS_PERIOD`],
/// except the ones marked final.
#[derive(Debug)]
pub struct Throttle {
    last: Option<Instant>,
    period: Duration,
}

impl Throttle {
    pub fn new(period: Duration) -> Throttle {
        Throttle { last: None, period }
    }

    /// Returns whether a report made now should be sent.
    pub fn ready(&mut self, last_one: bool) -> bool {
        let now = Instant::now();
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= self.period);
        if due || last_one {
            self.last = Some(now);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Collects `(event, payload)` with the (paused) tokio time of each.
    #[derive(Default)]
    struct Collect {
        events: Mutex<Vec<(Instant, String)>>,
    }

    impl EventSink for Collect {
        fn emit(&self, event: &str, _payload: serde_json::Value) {
            self.events
                .lock()
                .unwrap()
                .push((Instant::now(), event.to_owned()));
        }
    }

    /// A burst of 10,000 changes a second for 3 seconds (simulated time)
    /// yields at most 10 `live` events per second.
    #[tokio::test(start_paused = true)]
    async fn burst_yields_at_most_ten_per_second() {
        let changed = Arc::new(Notify::new());
        let sink = Arc::new(Collect::default());
        let pump = tokio::spawn(run_live_pump(
            changed.clone(),
            sink.clone() as Arc<dyn EventSink>,
            || Some(serde_json::Value::Null),
        ));
        let start = Instant::now();
        // 100 changes every 10 ms: 10,000 a second.
        for _ in 0..300 {
            for _ in 0..100 {
                changed.notify_one();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        pump.abort();
        let events = sink.events.lock().unwrap();
        assert!(events.len() >= 20, "too few updates: {}", events.len());
        for second in 0..3u64 {
            let from = start + Duration::from_secs(second);
            let to = from + Duration::from_secs(1);
            let in_second = events
                .iter()
                .filter(|(at, _)| *at >= from && *at < to)
                .count();
            assert!(in_second <= 10, "second {second}: {in_second} updates");
        }
    }

    /// A change after a quiet spell is sent at once, not one period later.
    #[tokio::test(start_paused = true)]
    async fn quiet_change_is_sent_at_once() {
        let changed = Arc::new(Notify::new());
        let sink = Arc::new(Collect::default());
        let pump = tokio::spawn(run_live_pump(
            changed.clone(),
            sink.clone() as Arc<dyn EventSink>,
            || Some(serde_json::Value::Null),
        ));
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = Instant::now();
        changed.notify_one();
        tokio::time::sleep(Duration::from_millis(1)).await;
        pump.abort();
        let events = sink.events.lock().unwrap();
        assert_eq!(events.len(), 1);
        assert!(events[0].0 - before < Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn pump_ends_when_the_view_is_gone() {
        let changed = Arc::new(Notify::new());
        changed.notify_one();
        let sink = Arc::new(Collect::default());
        run_live_pump(changed, sink.clone() as Arc<dyn EventSink>, || None).await;
        assert!(sink.events.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_passes_final_reports() {
        let mut throttle = Throttle::new(Duration::from_millis(100));
        assert!(throttle.ready(false));
        assert!(!throttle.ready(false));
        assert!(throttle.ready(true));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(throttle.ready(false));
    }
}
