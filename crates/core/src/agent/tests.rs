use serde_json::json;

use super::*;

const STARTED_AT_MS: f64 = 1_700_000_000_000.0;

fn batch(doc: &str, seq: u64, events: Value) -> String {
    json!({ "v": BATCH_FORMAT, "doc": doc, "seq": seq, "dropped": 0, "events": events }).to_string()
}

/// A batch of document "doc-a" whose event times count from `origin` (epoch ms).
fn batch_from(origin: f64, events: Value) -> String {
    json!({ "v": BATCH_FORMAT, "doc": "doc-a", "seq": 0, "origin": origin, "dropped": 0, "events": events })
        .to_string()
}

fn injected(t: f64) -> Value {
    json!({ "k": "injected", "url": "http://127.0.0.1/page", "late": false, "top": true, "resync": false, "t": t })
}

fn site(id: u32, line: u32) -> Value {
    let raw = format!("at poll (http://127.0.0.1/app.js:{line}:5)");
    json!({ "k": "site", "id": id, "url": "http://127.0.0.1/app.js", "line": line, "column": 5, "fn": "poll", "raw": raw, "t": STARTED_AT_MS })
}

fn timer(id: u32, site: u32, t: f64) -> Value {
    json!({ "k": "timer", "id": id, "kind": "interval", "delay": 3000, "site": site, "parent": null, "t": t })
}

#[test]
fn binding_name_matches_script() {
    assert!(SCRIPT.contains(&format!("var BINDING = '{BINDING_NAME}';")));
    assert!(SCRIPT.contains(&format!("v: {BATCH_FORMAT},")));
}

#[test]
fn injection_source_names_script() {
    let source = injection_source();
    assert!(source.starts_with(SCRIPT));
    assert!(source.contains("//# sourceURL=leakscope-agent.js"));
    assert!(source.contains("//# sourceMappingURL=data:application/json;base64,"));
}

#[test]
fn base64_pads() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn batch_becomes_records() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let payload = batch(
        "doc-a",
        0,
        json!([
            injected(STARTED_AT_MS + 500.0),
            site(1, 12),
            timer(7, 1, STARTED_AT_MS + 1500.0),
            { "k": "clear", "id": 7, "site": null, "t": STARTED_AT_MS + 2500.0 },
        ]),
    );
    let records = decoder.decode(&payload).unwrap();
    assert_eq!(records.len(), 4);
    assert!(matches!(
        &records[0].body,
        RecordBody::AgentInjected {
            late: false,
            document: Some(1),
            top: Some(true),
            ..
        }
    ));
    assert_eq!(records[0].t, 0.5);
    let RecordBody::Site(site) = &records[1].body else {
        panic!("expected a site, got {:?}", records[1].body)
    };
    assert_eq!(
        (site.id, site.line, site.function.as_str()),
        (1, 12, "poll")
    );
    let RecordBody::TimerCreated {
        id,
        timer,
        site,
        delay_ms,
        ..
    } = &records[2].body
    else {
        panic!("expected a timer, got {:?}", records[2].body)
    };
    assert_eq!(*id, object_id(1, 7));
    assert_eq!(*timer, TimerKind::Interval);
    assert_eq!(*site, Some(1));
    assert_eq!(*delay_ms, 3000.0);
    assert_eq!(records[2].t, 1.5);
    assert!(matches!(
        records[3].body,
        RecordBody::TimerCleared { site: None, .. }
    ));
}

#[test]
fn ids_unique_across_documents() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let first = decoder
        .decode(&batch(
            "doc-a",
            0,
            json!([injected(STARTED_AT_MS), timer(1, 1, STARTED_AT_MS)]),
        ))
        .unwrap();
    let second = decoder
        .decode(&batch(
            "doc-b",
            0,
            json!([injected(STARTED_AT_MS), timer(1, 1, STARTED_AT_MS)]),
        ))
        .unwrap();
    let id = |records: &[Record]| match records[1].body {
        RecordBody::TimerCreated { id, .. } => id,
        ref other => panic!("expected a timer, got {other:?}"),
    };
    assert_ne!(id(&first), id(&second));
}

#[test]
fn request_ids_carry_document() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    decoder
        .decode(&batch("doc-a", 0, json!([injected(STARTED_AT_MS)])))
        .unwrap();
    let records = decoder
        .decode(&batch(
            "doc-b",
            0,
            json!([{ "k": "req", "id": 3, "api": "fetch", "method": "GET", "url": "http://127.0.0.1/s?token=abc",
                     "site": null, "ctl": 2, "pre": true, "timer": 5, "body": { "operationName": "op-1" }, "t": STARTED_AT_MS }]),
        ))
        .unwrap();
    let RecordBody::RequestStarted(started) = &records[0].body else {
        panic!("expected a request, got {:?}", records[0].body)
    };
    assert_eq!(started.id, "2.3");
    assert_eq!(started.url, "http://127.0.0.1/s?token=REDACTED");
    assert_eq!(started.controller, Some(object_id(2, 2)));
    assert_eq!(started.timer, Some(object_id(2, 5)));
    assert!(started.signal_aborted);
    assert_eq!(
        started.body_fields.get("operationName").map(String::as_str),
        Some("op-1")
    );
}

#[test]
fn outcomes_decode() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let end = |id: u64, outcome: &str| {
        json!({ "k": "end", "id": id, "outcome": outcome, "status": if outcome == "completed" { json!(200) } else { Value::Null },
                "error": if outcome == "failed" { json!("TypeError: Failed to fetch") } else { Value::Null },
                "fields": { "done": "false" }, "t": STARTED_AT_MS })
    };
    let records = decoder
        .decode(&batch(
            "doc-a",
            0,
            json!([end(1, "completed"), end(2, "aborted"), end(3, "failed")]),
        ))
        .unwrap();
    let outcomes: Vec<&RequestOutcome> = records
        .iter()
        .map(|record| match &record.body {
            RecordBody::RequestEnded(ended) => &ended.outcome,
            other => panic!("expected an end, got {other:?}"),
        })
        .collect();
    assert_eq!(outcomes[0], &RequestOutcome::Completed { status: 200 });
    assert_eq!(outcomes[1], &RequestOutcome::Aborted);
    assert_eq!(
        outcomes[2],
        &RequestOutcome::Failed {
            error: "TypeError: Failed to fetch".into()
        }
    );
}

#[test]
fn sites_shared_across_reloads() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let first = decoder
        .decode(&batch(
            "doc-a",
            0,
            json!([site(1, 12), timer(1, 1, STARTED_AT_MS)]),
        ))
        .unwrap();
    let second = decoder
        .decode(&batch(
            "doc-b",
            0,
            json!([site(4, 12), timer(1, 4, STARTED_AT_MS)]),
        ))
        .unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(
        second.len(),
        1,
        "a site seen in an earlier document is not recorded again"
    );
    assert!(matches!(
        second[0].body,
        RecordBody::TimerCreated { site: Some(1), .. }
    ));
}

#[test]
fn resync_skipped_for_known_document() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    decoder
        .decode(&batch(
            "doc-a",
            0,
            json!([injected(STARTED_AT_MS), timer(1, 1, STARTED_AT_MS)]),
        ))
        .unwrap();
    let mut resynced = timer(1, 1, STARTED_AT_MS);
    resynced["resync"] = json!(true);
    let mut resync_injected = injected(STARTED_AT_MS + 10.0);
    resync_injected["resync"] = json!(true);
    let records = decoder
        .decode(&batch("doc-a", 1, json!([resync_injected, resynced])))
        .unwrap();
    assert!(records.is_empty());
}

#[test]
fn resync_taken_for_unknown_document() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let mut resynced = timer(1, 1, STARTED_AT_MS - 5000.0);
    resynced["resync"] = json!(true);
    let mut resync_injected = injected(STARTED_AT_MS + 10.0);
    resync_injected["resync"] = json!(true);
    resync_injected["late"] = json!(true);
    let records = decoder
        .decode(&batch("doc-a", 9, json!([resync_injected, resynced])))
        .unwrap();
    assert_eq!(records.len(), 2);
    assert!(matches!(
        records[0].body,
        RecordBody::AgentInjected { late: true, .. }
    ));
    assert_eq!(
        records[1].t, 0.0,
        "times before the recording started clamp to 0"
    );
}

#[test]
fn bad_event_skipped_and_counted() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let records = decoder
        .decode(&batch(
            "doc-a",
            0,
            json!([{ "k": "timer", "id": "x" }, { "k": "nonsense" }, timer(1, 1, STARTED_AT_MS)]),
        ))
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(decoder.losses().bad_events, 2);
}

#[test]
fn compact_timer_events_decode_like_objects() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let mut first_site = site(1, 12);
    first_site["t"] = json!(0.0);
    let payload = batch_from(
        STARTED_AT_MS,
        json!([
            first_site,
            // Interval 7 from site 1 inside timer 3, cleared at 1200 from site 1.
            [0, 7, 1, 3000, 1, 3, 1000, 1, 1200, 1],
            // Timeout 8 with no known site, fired at 1600.
            [0, 8, 0, 250, 0, 0, 1100, 2, 1600, 0],
            // Timeout 9 still pending, then ended by separate events.
            [0, 9, 0, 40, 1, 0, 1300, 0, 0, 0],
            [1, 9, 0, 1400],
            [2, 10, 1500],
        ]),
    );
    let records = decoder.decode(&payload).unwrap();
    let bodies: Vec<String> = records
        .iter()
        .skip(1)
        .map(|record| match &record.body {
            RecordBody::TimerCreated {
                id,
                timer,
                site,
                parent,
                delay_ms,
                ..
            } => format!(
                "created {id} {timer:?} {delay_ms} site {site:?} parent {parent:?} at {}",
                record.t
            ),
            RecordBody::TimerCleared { id, site, .. } => {
                format!("cleared {id} site {site:?} at {}", record.t)
            }
            RecordBody::TimerFired { id, .. } => format!("fired {id} at {}", record.t),
            other => panic!("unexpected record {other:?}"),
        })
        .collect();
    let id = |timer| object_id(1, timer);
    assert_eq!(
        bodies,
        vec![
            format!(
                "created {} Interval 3000 site Some(1) parent Some({}) at 1",
                id(7),
                id(3)
            ),
            format!("created {} Timeout 250 site None parent None at 1.1", id(8)),
            format!("cleared {} site Some(1) at 1.2", id(7)),
            format!(
                "created {} Timeout 40 site Some(1) parent None at 1.3",
                id(9)
            ),
            format!("cleared {} site None at 1.4", id(9)),
            format!("fired {} at 1.5", id(10)),
            format!("fired {} at 1.6", id(8)),
        ]
    );
    assert_eq!(decoder.losses().bad_events, 0);
}

#[test]
fn malformed_compact_events_skipped_and_counted() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let records = decoder
        .decode(&batch(
            "doc-a",
            0,
            json!([
                [0, 7, 5, 100, 1, 0, 10, 0, 0, 0],
                [0, 7, 0, 100, 1, 0, 10, 3, 0, 0],
                [1, -4, 0, 10],
                [2, 7],
                [9, 7, 10],
                [],
                timer(1, 1, STARTED_AT_MS),
            ]),
        ))
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(decoder.losses().bad_events, 6);
}

#[test]
fn invalid_payload_keeps_text() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let error = decoder.decode("{not json").unwrap_err();
    assert_eq!(error.payload(), "{not json");
    assert!(error.to_string().contains("9 bytes"));
}

#[test]
fn other_version_rejected() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let payload = json!({ "v": 1, "doc": "d", "seq": 0, "events": [] }).to_string();
    assert!(matches!(
        decoder.decode(&payload),
        Err(DecodeError::Version { version: 1, .. })
    ));
}

#[test]
fn sequence_gaps_and_drops_counted() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    decoder.decode(&batch("doc-a", 0, json!([]))).unwrap();
    decoder.decode(&batch("doc-a", 3, json!([]))).unwrap();
    let dropped =
        json!({ "v": BATCH_FORMAT, "doc": "doc-a", "seq": 4, "dropped": 12, "events": [] })
            .to_string();
    decoder.decode(&dropped).unwrap();
    assert_eq!(decoder.losses().missing_batches, 2);
    assert_eq!(decoder.losses().dropped_in_page, 12);
}

#[test]
fn poll_signal_decodes() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let records = decoder
        .decode(&batch(
            "doc-a",
            0,
            json!([{ "k": "poll", "signal": "end", "op": "op-1", "type": "video", "reason": "complete",
                     "source": "console", "attempts": 12, "age": 36000, "t": STARTED_AT_MS }]),
        ))
        .unwrap();
    let RecordBody::PollSignal(signal) = &records[0].body else {
        panic!("expected a poll signal, got {:?}", records[0].body)
    };
    assert_eq!(signal.signal, PollSignalKind::End);
    assert_eq!(signal.operation, "op-1");
    assert_eq!(signal.reason.as_deref(), Some("complete"));
    assert_eq!(signal.attempts, Some(12));
    assert_eq!(signal.age_ms, Some(36000.0));
}

#[test]
fn network_events_map() {
    let sent = crate::events::decode(
        "Network.requestWillBeSent",
        &json!({
            "requestId": "r1", "loaderId": "l1", "documentURL": "http://127.0.0.1/",
            "request": { "url": "http://127.0.0.1/s?key=1", "method": "GET", "headers": {},
                         "initialPriority": "High", "referrerPolicy": "no-referrer" },
            "timestamp": 1.0, "wallTime": 1.0, "initiator": { "type": "script" }, "redirectHasExtraInfo": false
        }),
    )
    .unwrap()
    .unwrap();
    let failed = crate::events::decode(
        "Network.loadingFailed",
        &json!({ "requestId": "r1", "timestamp": 2.0, "type": "Fetch", "errorText": "net::ERR_ABORTED", "canceled": true }),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        network_record(&sent),
        Some(RecordBody::Network(NetworkEvent::Sent {
            request_id: "r1".into(),
            method: "GET".into(),
            url: "http://127.0.0.1/s?key=REDACTED".into()
        }))
    );
    assert_eq!(
        network_record(&failed),
        Some(RecordBody::Network(NetworkEvent::Failed {
            request_id: "r1".into(),
            error: "net::ERR_ABORTED".into(),
            canceled: true
        }))
    );
    assert_eq!(network_record(&TypedEvent::ExecutionContextsCleared), None);
}

#[test]
fn folded_clear_follows_creation_in_same_millisecond() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let mut first_site = site(1, 12);
    first_site["t"] = json!(0.0);
    let mut cleared = timer(7, 1, 1000.0);
    cleared["cleared"] = json!(1000.0);
    let payload = batch_from(
        STARTED_AT_MS,
        json!([first_site, cleared, timer(8, 1, 1000.0)]),
    );
    let records = decoder.decode(&payload).unwrap();
    let order: Vec<String> = records
        .iter()
        .skip(1)
        .map(|record| match &record.body {
            RecordBody::TimerCreated { id, .. } => format!("created {id}"),
            RecordBody::TimerCleared { id, .. } => format!("cleared {id}"),
            other => panic!("unexpected record {other:?}"),
        })
        .collect();
    let (seven, eight) = (object_id(1, 7), object_id(1, 8));
    assert_eq!(
        order,
        vec![
            format!("created {seven}"),
            format!("cleared {seven}"),
            format!("created {eight}"),
        ]
    );
}

#[test]
fn folded_clear_site_defined_later_in_batch() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let mut first_site = site(1, 12);
    first_site["t"] = json!(0.0);
    let mut cleared = timer(7, 1, 1000.0);
    cleared["cleared"] = json!(2000.0);
    cleared["clear_site"] = json!(2);
    // The agent sends a site the first time it sees it: at the clear, after
    // the timer event that the clear was folded into.
    let mut clear_site = site(2, 30);
    clear_site["t"] = json!(2000.0);
    let payload = batch_from(
        STARTED_AT_MS,
        json!([first_site, cleared, timer(8, 1, 2000.0), clear_site]),
    );
    let records = decoder.decode(&payload).unwrap();
    let clear_site = records.iter().find_map(|record| match &record.body {
        RecordBody::TimerCleared { site, .. } => Some(*site),
        _ => None,
    });
    assert_eq!(clear_site, Some(Some(2)), "{records:?}");
}

#[test]
fn origin_added_to_event_times() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let payload = batch_from(
        STARTED_AT_MS - 1000.0,
        json!([injected(1500.0), site(1, 12), timer(7, 1, 3000.0)]),
    );
    let records = decoder.decode(&payload).unwrap();
    assert_eq!(records[0].t, 0.5);
    let RecordBody::TimerCreated { page_ms, .. } = &records[2].body else {
        panic!("expected a timer, got {:?}", records[2].body)
    };
    assert_eq!(*page_ms, STARTED_AT_MS + 2000.0);
    assert_eq!(records[2].t, 2.0);
}

#[test]
fn folded_clear_and_firing_become_records() {
    let mut decoder = AgentDecoder::new(STARTED_AT_MS);
    let mut cleared = timer(7, 1, 1000.0);
    cleared["cleared"] = json!(4000.0);
    cleared["clear_site"] = json!(1);
    let mut first_site = site(1, 12);
    first_site["t"] = json!(0.0);
    let mut fired = timer(8, 1, 2000.0);
    fired["kind"] = json!("timeout");
    fired["fired"] = json!(2500.0);
    let payload = batch_from(
        STARTED_AT_MS,
        json!([first_site, cleared, fired, injected(3000.0)]),
    );
    let records = decoder.decode(&payload).unwrap();
    let kinds: Vec<(&str, f64)> = records
        .iter()
        .map(|record| {
            let kind = match &record.body {
                RecordBody::Site(_) => "site",
                RecordBody::TimerCreated { .. } => "created",
                RecordBody::TimerCleared { .. } => "cleared",
                RecordBody::TimerFired { .. } => "fired",
                RecordBody::AgentInjected { .. } => "injected",
                other => panic!("unexpected record {other:?}"),
            };
            (kind, record.t)
        })
        .collect();
    // Each folded end sits before the first later record, so times never go back.
    assert_eq!(
        kinds,
        vec![
            ("site", 0.0),
            ("created", 1.0),
            ("created", 2.0),
            ("fired", 2.5),
            ("injected", 3.0),
            ("cleared", 4.0),
        ]
    );
    let RecordBody::TimerCleared { id, site, .. } = &records[5].body else {
        panic!("expected a clear, got {:?}", records[5].body)
    };
    assert_eq!(*id, object_id(1, 7));
    assert_eq!(*site, Some(1));
}
