//! Counting what the session lost, so that no loss is silent.
//!
//! Three kinds of loss are counted per browser connection: CDP messages that
//! failed to decode (by method, with the last [`UNDECODED_RING`] kept whole so
//! a user can attach them to a bug report), events dropped because a consumer
//! fell behind a full channel, and commands that hit their deadline. Front ends
//! read the totals with [`LossCounter::totals`] or watch them change through
//! [`LossCounter::watch`]; the recorder writes them into the recording.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use leakscope_model::Losses;
use tokio::sync::watch;

/// Number of undecodable messages kept whole; older ones are only counted.
pub const UNDECODED_RING: usize = 100;

/// Longest raw message kept, in bytes. A heap snapshot chunk or a huge
/// console argument would otherwise let 100 kept messages use gigabytes.
pub const UNDECODED_MAX_BYTES: usize = 64 * 1024;

/// Method name used for a message whose method is unknown (not JSON, no
/// `method` field, or a reply whose command is no longer pending).
pub const UNKNOWN_METHOD: &str = "?";

/// A CDP message that failed to decode, kept as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UndecodedMessage {
    /// CDP method (`Network.requestWillBeSentExtraInfo`), or `?`.
    pub method: String,
    /// Session the message belonged to; `None` for browser-level messages.
    pub session_id: Option<String>,
    /// Why decoding failed.
    pub error: String,
    /// The raw JSON text, cut to [`UNDECODED_MAX_BYTES`].
    pub raw: String,
    /// True when `raw` was cut.
    pub truncated: bool,
}

#[derive(Debug, Default)]
struct Inner {
    totals: Losses,
    recent: VecDeque<UndecodedMessage>,
}

/// Shared loss counters of one browser connection.
#[derive(Debug)]
pub struct LossCounter {
    inner: Mutex<Inner>,
    changes: watch::Sender<Losses>,
}

impl Default for LossCounter {
    fn default() -> Self {
        LossCounter {
            inner: Mutex::new(Inner::default()),
            changes: watch::Sender::new(Losses::default()),
        }
    }
}

impl LossCounter {
    pub fn new() -> Arc<Self> {
        Arc::new(LossCounter::default())
    }

    /// Counts and keeps a message that failed to decode.
    pub fn undecoded(&self, method: &str, session_id: Option<&str>, raw: &str, error: &str) {
        tracing::warn!(method, session_id, %error, "failed to decode a cdp message; kept it and counted it");
        let (raw, truncated) = cut_to_boundary(raw, UNDECODED_MAX_BYTES);
        let message = UndecodedMessage {
            method: method.to_owned(),
            session_id: session_id.map(str::to_owned),
            error: error.to_owned(),
            raw: raw.to_owned(),
            truncated,
        };
        let mut inner = self.lock();
        *inner
            .totals
            .undecoded
            .entry(message.method.clone())
            .or_insert(0) += 1;
        if inner.recent.len() == UNDECODED_RING {
            inner.recent.pop_front();
        }
        inner.recent.push_back(message);
        self.publish(&inner);
    }

    /// Counts events a consumer missed because its channel was full.
    pub fn dropped_events(&self, count: u64) {
        tracing::warn!(
            count,
            "a consumer fell behind and missed events; counted them"
        );
        let mut inner = self.lock();
        inner.totals.dropped_events += count;
        self.publish(&inner);
    }

    /// Counts a command that hit its deadline.
    pub fn timed_out_command(&self, method: &str) {
        tracing::warn!(method, "a cdp command timed out; counted it");
        let mut inner = self.lock();
        inner.totals.timed_out_commands += 1;
        self.publish(&inner);
    }

    /// Current totals.
    pub fn totals(&self) -> Losses {
        self.lock().totals.clone()
    }

    /// The last [`UNDECODED_RING`] undecodable messages, oldest first.
    pub fn recent_undecoded(&self) -> Vec<UndecodedMessage> {
        self.lock().recent.iter().cloned().collect()
    }

    /// A receiver that sees the totals every time they change.
    pub fn watch(&self) -> watch::Receiver<Losses> {
        self.changes.subscribe()
    }

    fn publish(&self, inner: &Inner) {
        self.changes.send_replace(inner.totals.clone());
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain counters behind, which
        // are still valid, so a poisoned lock is used as is.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn cut_to_boundary(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecoded_is_counted_per_method() {
        let losses = LossCounter::new();
        losses.undecoded(
            "Network.requestWillBeSentExtraInfo",
            Some("S1"),
            "{}",
            "missing field",
        );
        losses.undecoded(
            "Network.requestWillBeSentExtraInfo",
            Some("S1"),
            "{}",
            "missing field",
        );
        losses.undecoded(UNKNOWN_METHOD, None, "not json", "expected value");
        let totals = losses.totals();
        assert_eq!(totals.undecoded["Network.requestWillBeSentExtraInfo"], 2);
        assert_eq!(totals.undecoded[UNKNOWN_METHOD], 1);
        assert_eq!(totals.undecoded_total(), 3);
    }

    #[test]
    fn ring_keeps_the_newest() {
        let losses = LossCounter::new();
        for index in 0..UNDECODED_RING + 5 {
            losses.undecoded("M.x", None, &index.to_string(), "bad");
        }
        let recent = losses.recent_undecoded();
        assert_eq!(recent.len(), UNDECODED_RING);
        assert_eq!(recent[0].raw, "5");
        assert_eq!(recent.last().map(|m| m.raw.as_str()), Some("104"));
        assert_eq!(
            losses.totals().undecoded["M.x"],
            (UNDECODED_RING + 5) as u64
        );
    }

    #[test]
    fn long_raw_is_cut_on_char_boundary() {
        let losses = LossCounter::new();
        let raw = "é".repeat(UNDECODED_MAX_BYTES);
        losses.undecoded("M.x", None, &raw, "bad");
        let kept = &losses.recent_undecoded()[0];
        assert!(kept.truncated);
        assert!(kept.raw.len() <= UNDECODED_MAX_BYTES);
        assert!(kept.raw.chars().all(|c| c == 'é'));
    }

    #[test]
    fn watch_sees_changes() {
        let losses = LossCounter::new();
        let mut changes = losses.watch();
        losses.dropped_events(3);
        losses.timed_out_command("Performance.getMetrics");
        assert!(changes.has_changed().unwrap());
        let seen = changes.borrow_and_update().clone();
        assert_eq!(seen.dropped_events, 3);
        assert_eq!(seen.timed_out_commands, 1);
    }
}
