//! The server's request log: the ground truth that tests compare the
//! inspector's numbers against.
//!
//! A request is logged when it arrives, so a request without a response (a
//! hanging status poll) is still in the log, with no status. The response's
//! fields are filled in when it is complete. Waiters are woken through a watch
//! channel on every change, so a test waits on the log itself, never on a
//! sleep.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use tokio::sync::watch;

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// Position in arrival order, from 0; it stays the same when older
    /// records are dropped.
    pub seq: u64,
    /// Arrival time since the server started.
    #[serde(rename = "since_start_ms", serialize_with = "as_millis")]
    pub since_start: Duration,
    /// Arrival time as Unix time in milliseconds.
    pub wall_ms: u64,
    pub method: String,
    pub path: String,
    /// Raw query string without the `?`, if the URL has one.
    pub query: Option<String>,
    /// The operation id: the `operationName` query parameter, else the
    /// `operationName` field of a JSON request body, else that field of a
    /// JSON response body (how a job start gets its new id).
    pub operation: Option<String>,
    /// HTTP status of the response; `None` until the response is complete.
    pub status: Option<u16>,
    /// Time from arrival to the complete response.
    #[serde(rename = "answered_after_ms", serialize_with = "as_optional_millis")]
    pub answered_after: Option<Duration>,
    /// Start of a JSON or text response body (at most [`SUMMARY_CHARS`] characters),
    /// or `<N bytes TYPE>` for other content.
    pub body_summary: Option<String>,
}

/// Characters of a text response kept in [`RequestRecord::body_summary`].
pub const SUMMARY_CHARS: usize = 200;

fn as_millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1000.0)
}

fn as_optional_millis<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => as_millis(duration, serializer),
        None => serializer.serialize_none(),
    }
}

/// The log, bounded to `capacity` records: older ones are dropped first and
/// counted in `dropped`.
#[derive(Debug)]
pub(crate) struct RequestLog {
    inner: Mutex<Entries>,
    changes: watch::Sender<u64>,
}

#[derive(Debug)]
struct Entries {
    records: VecDeque<RequestRecord>,
    next_seq: u64,
    dropped: u64,
    capacity: usize,
}

/// Fields of a request known when it arrives.
pub(crate) struct Arrival {
    pub since_start: Duration,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub operation: Option<String>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        let (changes, _) = watch::channel(0);
        Self {
            inner: Mutex::new(Entries {
                records: VecDeque::new(),
                next_seq: 0,
                dropped: 0,
                capacity: capacity.max(1),
            }),
            changes,
        }
    }

    /// Appends an arriving request and returns its sequence number.
    pub fn arrive(&self, arrival: Arrival) -> u64 {
        let seq = {
            let mut entries = self.lock();
            let seq = entries.next_seq;
            entries.next_seq += 1;
            if entries.records.len() >= entries.capacity {
                entries.records.pop_front();
                entries.dropped += 1;
            }
            entries.records.push_back(RequestRecord {
                seq,
                since_start: arrival.since_start,
                wall_ms: unix_millis(),
                method: arrival.method,
                path: arrival.path,
                query: arrival.query,
                operation: arrival.operation,
                status: None,
                answered_after: None,
                body_summary: None,
            });
            seq
        };
        self.changes.send_modify(|version| *version += 1);
        seq
    }

    /// Fills in the response of request `seq`, unless it was dropped already.
    pub fn answer(
        &self,
        seq: u64,
        status: u16,
        answered_after: Duration,
        body_summary: String,
        operation: Option<String>,
    ) {
        {
            let mut entries = self.lock();
            let first = entries.records.front().map_or(seq, |record| record.seq);
            let Some(index) = seq.checked_sub(first) else {
                return;
            };
            let Some(record) = usize::try_from(index)
                .ok()
                .and_then(|index| entries.records.get_mut(index))
            else {
                return;
            };
            record.status = Some(status);
            record.answered_after = Some(answered_after);
            record.body_summary = Some(body_summary);
            if record.operation.is_none() {
                record.operation = operation;
            }
        }
        self.changes.send_modify(|version| *version += 1);
    }

    pub fn snapshot(&self) -> Vec<RequestRecord> {
        self.lock().records.iter().cloned().collect()
    }

    /// Records dropped because the log was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Runs `check` on the records now and after every change until it
    /// returns `Some`, or until `deadline` passes (then `Err` with the number
    /// of records seen last).
    pub async fn wait_for<T>(
        &self,
        deadline: Duration,
        mut check: impl FnMut(&[RequestRecord]) -> Option<T>,
    ) -> Result<T, usize> {
        let mut changes = self.changes.subscribe();
        let until = tokio::time::Instant::now() + deadline;
        loop {
            // Mark the current version as seen before checking, so a change
            // made between the check and the wait below still wakes us.
            changes.borrow_and_update();
            let seen = {
                let mut entries = self.lock();
                let records = entries.records.make_contiguous();
                if let Some(found) = check(records) {
                    return Ok(found);
                }
                records.len()
            };
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => continue,
                // `self` owns the sender, so the channel cannot close while
                // this runs. The arm only keeps the match exhaustive.
                Ok(Err(_)) | Err(_) => return Err(seen),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves plain data behind that is
        // still consistent, so keep using it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Summarises a response body for the log.
pub(crate) fn summarise_body(content_type: Option<&str>, body: &[u8]) -> String {
    let content_type = content_type.unwrap_or("");
    let is_text =
        content_type.starts_with("application/json") || content_type.starts_with("text/plain");
    if !is_text {
        let shown_type = if content_type.is_empty() {
            "without content type"
        } else {
            content_type
        };
        return format!("<{} bytes {shown_type}>", body.len());
    }
    String::from_utf8_lossy(body)
        .chars()
        .take(SUMMARY_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(path: &str) -> Arrival {
        Arrival {
            since_start: Duration::from_millis(5),
            method: "GET".into(),
            path: path.into(),
            query: None,
            operation: None,
        }
    }

    #[test]
    fn log_drops_oldest_past_capacity() {
        let log = RequestLog::new(2);
        for path in ["/a", "/b", "/c"] {
            log.arrive(arrival(path));
        }
        let records = log.snapshot();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].path, "/b");
        assert_eq!(records[0].seq, 1);
        assert_eq!(log.dropped(), 1);

        // The response of a dropped request is ignored, and a retained one is
        // filled in.
        log.answer(0, 200, Duration::ZERO, "x".into(), None);
        log.answer(
            2,
            404,
            Duration::from_millis(1),
            "gone".into(),
            Some("op-1".into()),
        );
        let records = log.snapshot();
        assert_eq!(records[0].status, None);
        assert_eq!(records[1].status, Some(404));
        assert_eq!(records[1].operation.as_deref(), Some("op-1"));
    }

    #[test]
    fn summary_truncates_text_and_describes_binary() {
        let long = "a".repeat(500);
        let summary = summarise_body(Some("application/json"), long.as_bytes());
        assert_eq!(summary.chars().count(), SUMMARY_CHARS);
        assert_eq!(
            summarise_body(Some("text/html; charset=utf-8"), b"<html>"),
            "<6 bytes text/html; charset=utf-8>"
        );
        assert_eq!(summarise_body(None, b""), "<0 bytes without content type>");
    }

    #[test]
    fn record_serialises_times_as_millis() {
        let log = RequestLog::new(4);
        log.arrive(arrival("/x"));
        let json = serde_json::to_value(&log.snapshot()[0]).unwrap();
        assert_eq!(json["since_start_ms"], 5.0);
        assert!(json["answered_after_ms"].is_null());
    }

    #[tokio::test]
    async fn wait_for_wakes_on_arrival() {
        let log = std::sync::Arc::new(RequestLog::new(16));
        let writer = log.clone();
        let task = tokio::spawn(async move {
            tokio::task::yield_now().await;
            writer.arrive(arrival("/late"));
        });
        let found = log
            .wait_for(Duration::from_secs(5), |records| {
                records.iter().find(|r| r.path == "/late").cloned()
            })
            .await
            .expect("the record arrives well within the deadline");
        assert_eq!(found.seq, 0);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn wait_for_times_out() {
        let log = RequestLog::new(16);
        log.arrive(arrival("/a"));
        let result = log
            .wait_for(Duration::from_millis(50), |records| {
                records.iter().find(|r| r.path == "/never").cloned()
            })
            .await;
        assert_eq!(result, Err(1));
    }
}
