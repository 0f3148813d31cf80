//! Chrome trace-event JSON of a recording, for Perfetto and chrome://tracing.
//!
//! The output is the JSON object form (`{"traceEvents": [...],
//! "displayTimeUnit": "ms"}`) with `ts` and `dur` in microseconds since the
//! recording started. Samples become counter events (`C`). Poll lifecycles
//! become complete events (`X`) with one thread track per lane, so overlapping
//! lifecycles never have to nest. Timers and requests become async spans
//! (`b`/`e` pairs keyed by category and id), ended at the recording's end when
//! still live. Alerts, markers, navigations and snapshots become instant
//! events (`i`). Events are sorted by `ts`, so every track is monotonic.

use std::collections::BTreeMap;

use leakscope_model::{RecordBody, Recording, RequestOutcome, TimerKind};
use serde_json::{json, Value};

use crate::view::{recording_duration, Analysis, BYTES_PER_MB};

/// Process id every event uses; a recording is one tab.
const PID: u64 = 1;
/// Thread ids of the fixed tracks; lanes take ids from `LANE_TID_BASE` on.
const TID_MEMORY: u64 = 1;
const TID_EVENTS: u64 = 2;
const TID_TIMERS: u64 = 3;
const TID_REQUESTS: u64 = 4;
const LANE_TID_BASE: u64 = 100;

fn micros(seconds: f64) -> f64 {
    // Whole microseconds keep the JSON short and the order exact.
    (seconds * 1_000_000.0).round()
}

/// Builds the trace of a (redacted) recording and its analysis.
pub fn build_trace(recording: &Recording, analysis: &Analysis) -> Value {
    let end = recording_duration(recording);
    let mut events: Vec<Value> = Vec::new();
    let mut metadata = vec![
        json!({"name": "process_name", "ph": "M", "pid": PID, "tid": 0, "ts": 0, "args": {"name": format!("tab: {}", recording.header.target.title)}}),
        thread_name(TID_MEMORY, "memory"),
        thread_name(TID_EVENTS, "alerts and events"),
        thread_name(TID_TIMERS, "timers"),
        thread_name(TID_REQUESTS, "requests"),
    ];

    let mut sites: BTreeMap<u32, String> = BTreeMap::new();
    let mut open_timers: BTreeMap<u64, f64> = BTreeMap::new();
    let mut open_requests: BTreeMap<String, f64> = BTreeMap::new();
    for record in &recording.records {
        let ts = micros(record.t);
        match &record.body {
            RecordBody::Sample(sample) => {
                events.push(json!({
                    "name": "JS heap (MB)", "ph": "C", "pid": PID, "tid": TID_MEMORY, "ts": ts,
                    "args": {"used": round2(sample.heap_used as f64 / BYTES_PER_MB), "total": round2(sample.heap_total as f64 / BYTES_PER_MB)}
                }));
                if let Some(counts) = &sample.counts {
                    events.push(json!({
                        "name": "live", "ph": "C", "pid": PID, "tid": TID_MEMORY, "ts": ts,
                        "args": {"timers": counts.timers_live, "requests in flight": counts.requests_in_flight, "controllers": counts.controllers_live}
                    }));
                }
            }
            RecordBody::Site(site) => {
                sites.insert(site.id, site.label());
            }
            RecordBody::TimerCreated {
                id, timer, delay_ms, site, ..
            } if !open_timers.contains_key(id) => {
                open_timers.insert(*id, ts);
                let kind = match timer {
                    TimerKind::Timeout => "setTimeout",
                    TimerKind::Interval => "setInterval",
                };
                let site = site.and_then(|site| sites.get(&site)).cloned().unwrap_or_default();
                events.push(json!({
                    "name": kind, "cat": "timer", "ph": "b", "id": format!("timer-{id}"), "pid": PID, "tid": TID_TIMERS, "ts": ts,
                    "args": {"delay_ms": delay_ms, "site": site}
                }));
            }
            RecordBody::TimerCleared { id, .. } | RecordBody::TimerFired { id, .. } => {
                if let Some(began) = open_timers.remove(id) {
                    // An end never precedes its begin, even with out-of-order records.
                    let ts = ts.max(began);
                    let how = if matches!(record.body, RecordBody::TimerCleared { .. }) {
                        "cleared"
                    } else {
                        "fired"
                    };
                    events.push(json!({
                        "name": "timer", "cat": "timer", "ph": "e", "id": format!("timer-{id}"), "pid": PID, "tid": TID_TIMERS, "ts": ts,
                        "args": {"end": how}
                    }));
                }
            }
            RecordBody::RequestStarted(started) if !open_requests.contains_key(&started.id) => {
                open_requests.insert(started.id.clone(), ts);
                events.push(json!({
                    "name": format!("{} {}", started.method, started.url), "cat": "request", "ph": "b",
                    "id": format!("request-{}", started.id), "pid": PID, "tid": TID_REQUESTS, "ts": ts,
                    "args": {"url": started.url, "signal_aborted": started.signal_aborted}
                }));
            }
            RecordBody::RequestEnded(ended) => {
                if let Some(began) = open_requests.remove(&ended.id) {
                    let ts = ts.max(began);
                    let outcome = match &ended.outcome {
                        RequestOutcome::Completed { status } => format!("completed {status}"),
                        RequestOutcome::Aborted => "aborted".to_owned(),
                        RequestOutcome::Failed { error } => format!("failed: {error}"),
                    };
                    events.push(json!({
                        "name": "request", "cat": "request", "ph": "e", "id": format!("request-{}", ended.id), "pid": PID,
                        "tid": TID_REQUESTS, "ts": ts, "args": {"outcome": outcome, "response_fields": ended.response_fields}
                    }));
                }
            }
            RecordBody::Marker { label } => events.push(instant(ts, &format!("marker: {label}"), json!({}))),
            RecordBody::Navigation { url, navigation } => {
                events.push(instant(ts, &format!("navigation: {url}"), json!({"kind": navigation})))
            }
            RecordBody::Snapshot(snapshot) => events.push(instant(
                ts,
                &format!("heap snapshot ({})", snapshot.status),
                json!({"path": snapshot.path, "bytes": snapshot.bytes, "duration_ms": snapshot.duration_ms}),
            )),
            RecordBody::Gap { reason } => events.push(instant(ts, "sample gap", json!({"reason": reason}))),
            RecordBody::End { reason, message } => events.push(instant(
                ts,
                &format!("recording ended: {}", reason.as_str()),
                json!({"message": message}),
            )),
            _ => {}
        }
    }
    // Timers and requests still live at the end close there, marked as such.
    let end_ts = micros(end);
    let end_ts = end_ts.max(
        open_timers
            .values()
            .chain(open_requests.values())
            .copied()
            .fold(0.0, f64::max),
    );
    for id in open_timers.keys() {
        events.push(json!({
            "name": "timer", "cat": "timer", "ph": "e", "id": format!("timer-{id}"), "pid": PID, "tid": TID_TIMERS, "ts": end_ts,
            "args": {"end": "still live when the recording ended"}
        }));
    }
    for id in open_requests.keys() {
        events.push(json!({
            "name": "request", "cat": "request", "ph": "e", "id": format!("request-{id}"), "pid": PID, "tid": TID_REQUESTS, "ts": end_ts,
            "args": {"outcome": "still in flight when the recording ended"}
        }));
    }

    for alert in &analysis.alerts {
        events.push(json!({
            "name": format!("{:?} alert: {}", alert.level, alert.rule).to_lowercase(), "ph": "i", "s": "g", "pid": PID, "tid": TID_EVENTS,
            "ts": micros(alert.first_seen),
            "args": {"level": alert.level, "rule": alert.rule, "subject": alert.subject, "message": alert.message, "count": alert.count, "last_seen_s": alert.last_seen}
        }));
    }

    for (index, lane) in analysis.lanes.iter().enumerate() {
        let tid = LANE_TID_BASE + index as u64;
        metadata.push(thread_name(tid, &format!("poll {}", lane.operation)));
        let start = micros(lane.start_t);
        let duration = (micros(lane.drawn_end(end)) - start).max(0.0);
        events.push(json!({
            "name": format!("poll {}", lane.operation), "cat": "poll", "ph": "X", "pid": PID, "tid": tid, "ts": start, "dur": duration,
            "args": {
                "poll_type": lane.poll_type, "endpoint": lane.endpoint, "end": lane.end.as_str(), "attempts": lane.attempts,
                "runaway_from_s": lane.runaway_from, "orphaned_from_s": lane.orphaned_from, "flags": lane.flags
            }
        }));
    }

    // A stable sort keeps same-time events in record order, so each b comes
    // before its e even when both share a timestamp.
    events.sort_by(|a, b| ts_of(a).total_cmp(&ts_of(b)));
    metadata.extend(events);
    json!({
        "traceEvents": metadata,
        "displayTimeUnit": "ms",
        "otherData": {
            "leakscope_version": env!("CARGO_PKG_VERSION"),
            "browser": recording.header.browser.product,
            "target_url": recording.header.target.url,
            "started_at_ms": recording.header.started_at_ms
        }
    })
}

fn thread_name(tid: u64, name: &str) -> Value {
    json!({"name": "thread_name", "ph": "M", "pid": PID, "tid": tid, "ts": 0, "args": {"name": name}})
}

fn instant(ts: f64, name: &str, args: Value) -> Value {
    json!({"name": name, "ph": "i", "s": "t", "pid": PID, "tid": TID_EVENTS, "ts": ts, "args": args})
}

fn ts_of(event: &Value) -> f64 {
    event.get("ts").and_then(Value::as_f64).unwrap_or(0.0)
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
