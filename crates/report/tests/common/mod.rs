//! A fixed synthetic recording shared by the report crate's tests: ten minutes
//! of a page whose heap rises while two poll lifecycles outlive the panel that
//! started them. Everything is computed from integers and fixed formulas, so
//! the recording is the same on every run and every machine.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fixture"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use leakscope_model::*;

pub const MB: u64 = 1024 * 1024;

/// Objects of class `Editor` in both snapshots, and of class `PollState` added
/// in the second one.
const KEPT_OBJECTS: u32 = 20_000;
const ADDED_OBJECTS: u32 = 12_000;

/// Returns a valid V8 heap snapshot: a synthetic root and `Editor` objects, plus
/// new `PollState` objects in the second snapshot. Node ids stay stable between
/// the two, as within one heap profiler session, so the diff shows exactly the
/// added class. The numbers vary, so the file compresses like a real snapshot
/// (a few times), not like padding.
pub fn snapshot_text(second: bool) -> String {
    let meta = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"]},"#;
    let added = if second { ADDED_OBJECTS } else { 0 };
    let mut nodes = vec!["9,0,1,0,0,0".to_owned()];
    for index in 0..KEPT_OBJECTS {
        nodes.push(format!(
            "3,1,{},{},0,0",
            3 + 2 * index,
            24 + (index * 7919) % 200
        ));
    }
    for index in 0..added {
        nodes.push(format!(
            "3,2,{},{},0,0",
            3 + 2 * (KEPT_OBJECTS + index),
            40 + (index * 104_729) % 300
        ));
    }
    format!(
        "{meta}\"node_count\":{},\"edge_count\":0,\"trace_function_count\":0}},\n\"nodes\":[{}],\n\"edges\":[],\n\"strings\":[\"\",\"Editor\",\"PollState\"]}}",
        nodes.len(),
        nodes.join(",")
    )
}

/// Path of a file under `tests/expected/`.
pub fn expected_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name)
}

/// Compares `actual` with the checked-in expectation `name`, or rewrites the
/// expectation when `LEAKSCOPE_BLESS=1`.
pub fn check_expected(name: &str, actual: &[u8]) {
    let path = expected_path(name);
    if std::env::var("LEAKSCOPE_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read expectation {}: {error}; run with LEAKSCOPE_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let actual_path = path.with_extension(format!(
            "actual.{}",
            path.extension().and_then(|e| e.to_str()).unwrap_or("out")
        ));
        std::fs::write(&actual_path, actual).unwrap();
        panic!(
            "{} differs from its expectation ({} bytes expected, {} bytes now); the new output is in {}. \
             If the change is intended, rerun with LEAKSCOPE_BLESS=1",
            path.display(),
            expected.len(),
            actual.len(),
            actual_path.display()
        );
    }
}

pub fn header() -> Header {
    Header {
        format_version: FORMAT_VERSION,
        leakscope_version: "0.1.0".into(),
        browser: BrowserInfo {
            product: "HeadlessChrome/156.0.8078.73".into(),
            revision: "@a1b2c3d4".into(),
            user_agent: "Mozilla/5.0 HeadlessChrome/156.0.8078.73".into(),
            protocol_version: "1.3".into(),
        },
        target: TargetInfo {
            id: "8C1F0E2A".into(),
            kind: "page".into(),
            title: "Video editor (demo, leaky)".into(),
            url: "http://127.0.0.1:8080/editor?variant=leaky".into(),
        },
        started_at_ms: 1_764_876_000_000.0,
        settings: Settings {
            interval_ms: 1000,
            gc_before_sample: false,
            agent: true,
            extra: BTreeMap::new(),
        },
    }
}

fn record(t: f64, body: RecordBody) -> Record {
    Record { t, body }
}

fn poll(
    t: f64,
    signal: PollSignalKind,
    operation: &str,
    poll_type: &str,
    reason: Option<&str>,
) -> Record {
    record(
        t,
        RecordBody::PollSignal(PollSignal {
            signal,
            operation: operation.into(),
            poll_type: Some(poll_type.into()),
            reason: reason.map(str::to_owned),
            source: "api".into(),
            attempts: None,
            age_ms: None,
        }),
    )
}

/// One lifecycle's plan: operation, type, endpoint, start and end second, how
/// it ended, and the poll interval.
struct Plan {
    operation: &'static str,
    poll_type: &'static str,
    endpoint: &'static str,
    start: u32,
    end: Option<(u32, &'static str)>,
    every: u32,
}

const PLANS: &[Plan] = &[
    Plan {
        operation: "op-video-1",
        poll_type: "video",
        endpoint: "/api/video/status",
        start: 20,
        end: Some((110, "complete")),
        every: 5,
    },
    Plan {
        operation: "op-suno-2",
        poll_type: "audio-suno",
        endpoint: "/api/audio/suno/status",
        start: 140,
        end: None,
        every: 5,
    },
    Plan {
        operation: "op-upscale-3",
        poll_type: "upscale",
        endpoint: "/api/video/upscale-status",
        start: 210,
        end: Some((290, "error")),
        every: 10,
    },
    Plan {
        operation: "op-video-4",
        poll_type: "video",
        endpoint: "/api/video/status",
        start: 170,
        end: None,
        every: 5,
    },
    Plan {
        operation: "op-minimax-5",
        poll_type: "audio-minimax",
        endpoint: "/api/video/generate-audio-status",
        start: 400,
        end: Some((560, "timeout")),
        every: 10,
    },
];

/// Builds the synthetic recording: 600 samples at 1 s, the heap rising about 9 MB a
/// minute with a garbage-collection sawtooth, a panel closed at 200 s that
/// leaves two polls running, a marker, two snapshots and three alerts.
pub fn recording() -> Recording {
    let mut records = vec![
        record(
            0.0,
            RecordBody::AgentInjected {
                url: header().target.url,
                late: false,
                document: None,
                top: None,
            },
        ),
        record(
            0.0,
            RecordBody::Site(Site {
                id: 1,
                url: "http://127.0.0.1:8080/app.js".into(),
                line: 120,
                column: 9,
                function: "pollStatus".into(),
                raw: "at pollStatus (http://127.0.0.1:8080/app.js:120:9)".into(),
            }),
        ),
        record(
            0.0,
            RecordBody::Site(Site {
                id: 2,
                url: "http://127.0.0.1:8080/app.js".into(),
                line: 88,
                column: 5,
                function: "startAutosave".into(),
                raw: "at startAutosave (http://127.0.0.1:8080/app.js:88:5)".into(),
            }),
        ),
        record(
            1.0,
            RecordBody::TimerCreated {
                id: 1,
                timer: TimerKind::Interval,
                delay_ms: 30_000.0,
                site: Some(2),
                parent: None,
                page_ms: 1000.0,
            },
        ),
    ];

    let mut next_timer = 10u64;
    let mut next_request = 1u64;
    for second in 0..=600u32 {
        let t = second as f64;
        for plan in PLANS {
            let ends_at = plan.end.map(|(end, _)| end);
            if second == plan.start {
                records.push(poll(
                    t,
                    PollSignalKind::Start,
                    plan.operation,
                    plan.poll_type,
                    None,
                ));
            }
            let polling = second >= plan.start && ends_at.is_none_or(|end| second < end);
            if polling && (second - plan.start) % plan.every == 0 {
                let id = format!("1.{next_request}");
                next_request += 1;
                records.push(poll(
                    t,
                    PollSignalKind::Attempt,
                    plan.operation,
                    plan.poll_type,
                    None,
                ));
                records.push(record(
                    t,
                    RecordBody::TimerCreated {
                        id: next_timer,
                        timer: TimerKind::Timeout,
                        delay_ms: plan.every as f64 * 1000.0,
                        site: Some(1),
                        parent: None,
                        page_ms: t * 1000.0,
                    },
                ));
                records.push(record(
                    t + 0.05,
                    RecordBody::RequestStarted(RequestStarted {
                        id: id.clone(),
                        api: RequestApi::Fetch,
                        method: "GET".into(),
                        url: format!(
                            "http://127.0.0.1:8080{}?operationName={}",
                            plan.endpoint, plan.operation
                        ),
                        site: Some(1),
                        controller: None,
                        signal_aborted: false,
                        timer: Some(next_timer),
                        body_fields: BTreeMap::new(),
                        page_ms: t * 1000.0 + 50.0,
                    }),
                ));
                let done = ends_at == Some(second + plan.every)
                    && plan.end.map(|(_, reason)| reason) == Some("complete");
                let mut fields = BTreeMap::new();
                fields.insert(
                    "status".to_owned(),
                    if done { "complete" } else { "processing" }.to_owned(),
                );
                records.push(record(
                    t + 0.3,
                    RecordBody::RequestEnded(RequestEnded {
                        id,
                        outcome: RequestOutcome::Completed { status: 200 },
                        response_fields: fields,
                        page_ms: t * 1000.0 + 300.0,
                    }),
                ));
                records.push(record(
                    t + 0.3,
                    RecordBody::TimerFired {
                        id: next_timer,
                        page_ms: t * 1000.0 + 300.0,
                    },
                ));
                next_timer += 1;
            }
            if plan.end.map(|(end, _)| end) == Some(second) {
                let reason = plan.end.map(|(_, reason)| reason);
                records.push(poll(
                    t,
                    PollSignalKind::End,
                    plan.operation,
                    plan.poll_type,
                    reason,
                ));
            }
        }

        if second == 200 {
            // The panel closes: the page reports the unmount of every poll on
            // its route, then routes to the library.
            records.push(record(
                t,
                RecordBody::Marker {
                    label: "closed generation panel".into(),
                },
            ));
            records.push(poll(t, PollSignalKind::Unmount, "", "video", None));
            records.push(record(
                t + 0.1,
                RecordBody::Navigation {
                    url: "http://127.0.0.1:8080/library".into(),
                    navigation: NavigationKind::SameDocument,
                },
            ));
        }
        if second == 470 {
            records.push(poll(
                t,
                PollSignalKind::Runaway,
                "op-video-4",
                "video",
                Some("60 attempts"),
            ));
        }
        if second == 90 || second == 540 {
            let name = if second == 90 { "first" } else { "second" };
            let bytes = snapshot_text(second != 90).len() as u64;
            records.push(record(
                t,
                RecordBody::Snapshot(SnapshotEvent {
                    path: format!("snapshots/{name}.heapsnapshot"),
                    bytes,
                    duration_ms: 2400,
                    gc: true,
                    status: SNAPSHOT_OK.into(),
                }),
            ));
        }
        if second == 300 {
            records.push(record(
                t,
                RecordBody::Gap {
                    reason: "Runtime.getHeapUsage timed out after 5 s".into(),
                },
            ));
            continue;
        }

        records.push(record(t, RecordBody::Sample(sample(second))));

        if second == 260 {
            records.push(record(
                t,
                alert(
                    AlertLevel::Critical,
                    "poll.orphaned",
                    "op-suno-2",
                    "poll op-suno-2 outlived its view",
                    260.0,
                    1,
                ),
            ));
        }
        if second == 330 {
            records.push(record(
                t,
                alert(
                    AlertLevel::Warning,
                    "heap.growth",
                    "page",
                    "heap grew 9.1 MB/min over 5 min",
                    330.0,
                    1,
                ),
            ));
        }
        if second == 480 {
            records.push(record(
                t,
                alert(
                    AlertLevel::Info,
                    "timers.per_page",
                    "pollStatus (app.js:120:9)",
                    "6 live timers from one site",
                    480.0,
                    1,
                ),
            ));
        }
    }
    let mut losses = Losses::default();
    losses
        .undecoded
        .insert("Network.requestWillBeSentExtraInfo".into(), 3);
    losses.undecoded.insert("?".into(), 1);
    records.push(record(600.0, RecordBody::Losses(losses)));
    records.push(record(
        600.5,
        RecordBody::End {
            reason: EndReason::Duration,
            message: String::new(),
        },
    ));
    Recording {
        header: header(),
        records,
        truncated_tail: false,
    }
}

fn alert(
    level: AlertLevel,
    rule: &str,
    subject: &str,
    message: &str,
    t: f64,
    count: u64,
) -> RecordBody {
    RecordBody::Alert(Alert {
        level,
        rule: rule.into(),
        subject: subject.into(),
        message: message.into(),
        first_seen: t,
        last_seen: t,
        count,
    })
}

/// Heap of the synthetic page at `second`: a slow rise of about 9 MB a minute
/// after the panel closes, a sawtooth of 4 MB between collections every 20 s.
fn sample(second: u32) -> Sample {
    let base = 42.0
        + if second > 140 {
            (second - 140) as f64 * 0.15
        } else {
            second as f64 * 0.02
        };
    let saw = (second % 20) as f64 * 0.2;
    let used = ((base + saw) * MB as f64) as u64;
    let total = used + ((12.0 + (second % 20) as f64 * 0.3) * MB as f64) as u64;
    let live_polls = PLANS
        .iter()
        .filter(|plan| second >= plan.start && plan.end.is_none_or(|(end, _)| second < end))
        .count() as u64;
    // The slow endpoints (polled every 10 s) respond after several seconds, so
    // their requests are in flight when a sample is taken.
    let in_flight = PLANS
        .iter()
        .filter(|plan| {
            second >= plan.start
                && plan.end.is_none_or(|(end, _)| second < end)
                && plan.every == 10
                && (second - plan.start) % plan.every < 6
        })
        .count() as u64;
    let mut metrics = BTreeMap::new();
    metrics.insert("Nodes".to_owned(), 1200.0 + second as f64);
    metrics.insert("JSEventListeners".to_owned(), 300.0);
    Sample {
        heap_used: used,
        heap_total: total,
        heap_limit: Some(4096 * MB),
        metrics,
        counts: Some(LiveCounts {
            timers_live: 1 + live_polls,
            timeouts_live: live_polls,
            intervals_live: 1,
            requests_in_flight: in_flight,
            ..LiveCounts::default()
        }),
        after_gc: false,
    }
}
