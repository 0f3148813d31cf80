//! Broken input gives a structured error naming the section and the byte
//! offset where input ended, never a panic.

mod common;

use common::*;
use leakscope_heap::{parse_bytes, validate_reader, ParseOptions, Section, SnapshotError};

fn err(bytes: &[u8]) -> SnapshotError {
    parse_bytes(bytes, ParseOptions::full()).expect_err("input is broken")
}

fn assert_truncated(bytes: &[u8], want: Section) {
    match err(bytes) {
        SnapshotError::Truncated { section, offset } => {
            assert_eq!(section, want);
            assert_eq!(offset, bytes.len() as u64, "offset is where input ended");
        }
        other => panic!("expected truncation in {want}, got {other}"),
    }
    // The validator reports the same.
    let checked = validate_reader(bytes).expect_err("validator rejects it too");
    assert_eq!(checked.section(), Some(want));
}

fn v1() -> Vec<u8> {
    fixture_bytes("v1-current.heapsnapshot")
}

fn find(bytes: &[u8], needle: &str) -> usize {
    bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .expect("needle present")
}

#[test]
fn t1_cut_in_nodes() {
    let bytes = v1();
    let cut = find(&bytes, "\"nodes\":[") + "\"nodes\":[9,0,1,0,1,0,3,1".len();
    assert_truncated(&bytes[..cut], Section::Nodes);
}

#[test]
fn t2_cut_in_strings_without_closing() {
    let bytes = v1();
    let end = bytes
        .iter()
        .rposition(|&b| b == b']')
        .expect("closing bracket");
    assert_truncated(&bytes[..end], Section::Strings);
    // Also cut inside a string.
    let cut = find(&bytes, "\"value\"") + 3;
    assert_truncated(&bytes[..cut], Section::Strings);
}

#[test]
fn t3_only_meta() {
    let bytes = v1();
    let cut = find(&bytes, ",\n\"nodes\"");
    assert_truncated(&bytes[..cut], Section::Meta);
}

#[test]
fn t4_empty() {
    assert!(matches!(err(b""), SnapshotError::Empty));
    assert!(matches!(err(b"  \n"), SnapshotError::Empty));
}

#[test]
fn t5_fewer_nodes_than_the_header_says() {
    let text = String::from_utf8(v1()).expect("utf-8");
    let short = text.replace(
        "\"nodes\":[9,0,1,0,1,0,3,1,3,16,1,0,2,2,5,20,0,0]",
        "\"nodes\":[9,0,1,0,1,0,3,1,3,16,1,0]",
    );
    let short = short.replace("\"edges\":[2,3,6,2,4,12]", "\"edges\":[2,3,6,2,4,6]");
    let e = err(short.as_bytes());
    assert!(
        matches!(
            e,
            SnapshotError::CountMismatch {
                section: Section::Nodes,
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("expected 3 nodes, found 2"), "{e}");
}

#[test]
fn not_json_at_all() {
    let e = err(b"<html>");
    assert!(
        matches!(
            e,
            SnapshotError::Syntax {
                section: Section::Document,
                offset: 0,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn meta_without_required_field() {
    let text = String::from_utf8(v1()).expect("utf-8");
    let bad = text.replacen("\"self_size\",", "", 1);
    let e = err(bad.as_bytes());
    assert!(matches!(e, SnapshotError::Meta { .. }), "{e}");
    assert!(e.to_string().contains("self_size"), "{e}");
}

#[test]
fn real_snapshot_cut_anywhere_reports_the_section() {
    let bytes = fixture_bytes("chromium-5mb.heapsnapshot");
    let nodes = find(&bytes, "\"nodes\":[");
    let edges = find(&bytes, "\"edges\":[");
    let strings = find(&bytes, "\"strings\":[");
    assert_truncated(&bytes[..nodes + 5000], Section::Nodes);
    assert_truncated(&bytes[..edges + 5000], Section::Edges);
    assert_truncated(&bytes[..strings + 5000], Section::Strings);
    assert_truncated(&bytes[..bytes.len() - 2], Section::Strings);
    assert_truncated(&bytes[..nodes - 2], Section::Meta);
    assert!(matches!(err(&bytes[..0]), SnapshotError::Empty));
}

#[test]
fn real_snapshot_cut_at_many_points_never_panics() {
    let bytes = fixture_bytes("chromium-5mb.heapsnapshot");
    let step = bytes.len() / 97;
    for cut in (1..bytes.len()).step_by(step) {
        let e = err(&bytes[..cut]);
        assert!(e.section().is_some(), "cut at {cut}: {e}");
        assert_eq!(e.offset(), Some(cut as u64), "cut at {cut}: {e}");
    }
}

#[test]
fn real_snapshot_bad_last_edge_is_reported_by_index() {
    // The edges of the real snapshot are many enough to be parsed on two
    // threads; an error in the storing thread must still come out as such.
    let mut bytes = fixture_bytes("chromium-5mb.heapsnapshot");
    let start = find(&bytes, "\"edges\":[");
    let close = start
        + bytes[start..]
            .iter()
            .position(|&b| b == b']')
            .expect("edges end");
    let last_digit = close - 1;
    assert!(bytes[last_digit].is_ascii_digit());
    // to_node values are multiples of 6; changing the last digit by one breaks that.
    bytes[last_digit] = if bytes[last_digit] == b'9' {
        b'8'
    } else {
        bytes[last_digit] + 1
    };
    let edges = parse_bytes(
        &fixture_bytes("chromium-5mb.heapsnapshot"),
        ParseOptions::summary(),
    )
    .expect("original parses")
    .edge_count();
    match err(&bytes) {
        SnapshotError::BadValue {
            section,
            index,
            field,
            ..
        } => {
            assert_eq!(section, Section::Edges);
            assert_eq!(field, "to_node");
            assert_eq!(index, edges - 1);
        }
        other => panic!("unexpected error {other}"),
    }
}
