//! The tiny graph (root → `child` → Foo → `value` → bar) written in five
//! layouts that V8 versions and other producers use, read by the meta.

mod common;

use common::*;
use leakscope_heap::{
    parse_bytes, parse_file, retainer_path, summarize, validate_file, write_snapshot, Detachedness,
    EdgeName, HeapSnapshot, ParseOptions, Section, SnapshotError, SummaryOptions,
};

const VERSIONS: [&str; 5] = [
    "v1-current.heapsnapshot",
    "v2-trace-node-id.heapsnapshot",
    "v3-legacy.heapsnapshot",
    "v4-key-order.heapsnapshot",
    "v5-new-type.heapsnapshot",
];

fn parse(name: &str) -> HeapSnapshot {
    parse_file(&fixture(name), ParseOptions::full()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_version_has_three_nodes_and_two_edges() {
    for name in VERSIONS {
        let s = parse(name);
        assert_eq!(s.node_count(), 3, "{name}");
        assert_eq!(s.edge_count(), 2, "{name}");
    }
}

#[test]
fn every_version_totals_36_bytes() {
    for name in VERSIONS {
        let summary = summarize(&parse(name), SummaryOptions::default()).expect("summary");
        assert_eq!(summary.self_size, 36, "{name}");
        assert_eq!(summary.nodes, 3, "{name}");
        assert_eq!(summary.edges, 2, "{name}");
    }
}

#[test]
fn every_version_has_the_same_retainer_path() {
    for name in VERSIONS {
        let s = parse(name);
        let path = retainer_path(&s, 2)
            .expect("edges kept")
            .expect("bar is reachable");
        let edges: Vec<_> = path.steps.iter().map(|p| p.edge_name.clone()).collect();
        assert_eq!(
            edges,
            [None, Some("child".to_string()), Some("value".to_string())],
            "{name}"
        );
        let names: Vec<_> = path.steps.iter().map(|p| p.node_name.as_str()).collect();
        assert_eq!(names, ["", "Foo", "bar"], "{name}");
        assert_eq!(
            path.to_line(),
            "(root) → child → Foo @3 → value → bar @5",
            "{name}"
        );
    }
}

#[test]
fn node_fields_are_read_by_name() {
    for name in VERSIONS {
        let s = parse(name);
        assert_eq!(s.node_id(1), 3, "{name}");
        assert_eq!(s.self_size(1), 16, "{name}");
        assert_eq!(s.node_name(1), "Foo", "{name}");
        assert_eq!(s.node_type(1), "object", "{name}");
        assert_eq!(s.node_type(0), "synthetic", "{name}");
    }
}

#[test]
fn legacy_layout_has_unknown_detachedness() {
    let s = parse("v3-legacy.heapsnapshot");
    assert_eq!(s.detachedness(1), Detachedness::Unknown);
    let summary = summarize(&s, SummaryOptions::default()).expect("summary");
    assert!(!summary.has_detachedness);
    assert!(
        summarize(&parse("v1-current.heapsnapshot"), SummaryOptions::default())
            .expect("summary")
            .has_detachedness
    );
}

#[test]
fn new_node_type_is_shown_as_it_is() {
    let s = parse("v5-new-type.heapsnapshot");
    assert_eq!(s.node_type(2), "wasm object");
    let summary = summarize(&s, SummaryOptions::default()).expect("summary");
    assert_eq!(summary.node_types.get("wasm object"), Some(&1));
    assert_eq!(summary.node_types.get("string"), None);
    assert!(summary
        .classes
        .iter()
        .any(|c| c.name == "(wasm object)" && c.count == 1));
}

#[test]
fn edge_target_not_a_multiple_of_the_field_count_is_rejected() {
    let text = String::from_utf8(fixture_bytes("v1-current.heapsnapshot")).expect("utf-8");
    let bad = text.replace("\"edges\":[2,3,6,2,4,12]", "\"edges\":[2,3,6,2,4,13]");
    assert_ne!(bad, text);
    let err =
        parse_bytes(bad.as_bytes(), ParseOptions::full()).expect_err("13 is not a multiple of 6");
    match err {
        SnapshotError::BadValue {
            section,
            index,
            field,
            value,
            ..
        } => {
            assert_eq!(section, Section::Edges);
            assert_eq!(index, 1);
            assert_eq!(field, "to_node");
            assert_eq!(value, 13);
        }
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn element_and_hidden_edges_show_their_index() {
    let text = build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(ARRAY, "", 3, 32, 0),
            N(OBJECT, "Foo", 5, 16, 0),
            N(OBJECT, "Bar", 7, 8, 0),
        ],
        &[
            E(0, PROPERTY, "list", 1),
            E(1, ELEMENT, "0", 2),
            E(1, EDGE_HIDDEN, "7", 3),
        ],
    );
    let s = parse_bytes(text.as_bytes(), ParseOptions::full()).expect("parses");
    let edges: Vec<_> = s.edges(1).expect("edges kept").collect();
    assert_eq!(edges[0].name, EdgeName::Index(0));
    assert_eq!(edges[0].name.to_string(), "[0]");
    assert_eq!(edges[0].kind, "element");
    assert_eq!(edges[1].name.to_string(), "[7]");
    let path = retainer_path(&s, 2).expect("edges").expect("reachable");
    assert_eq!(path.steps[2].edge_name.as_deref(), Some("[0]"));
    assert_eq!(path.steps[2].edge_type.as_deref(), Some("element"));
}

#[test]
fn written_snapshot_reads_back_the_same() {
    for name in VERSIONS {
        let s = parse(name);
        let mut out = Vec::new();
        write_snapshot(&s, &mut out).expect("writes");
        let text = String::from_utf8(out.clone()).expect("utf-8");
        assert!(text.starts_with("{\"snapshot\":{\"meta\":{\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\",\"detachedness\"]"));
        let keys: Vec<usize> = [
            "\"nodes\":",
            "\"edges\":",
            "\"trace_function_infos\":",
            "\"strings\":",
        ]
        .iter()
        .map(|k| text.find(k).expect("key written"))
        .collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "{name}: keys in V8 order"
        );
        let again = parse_bytes(&out, ParseOptions::full()).expect("reads back");
        assert_eq!(again.node_count(), 3);
        assert_eq!(again.edge_count(), 2);
        assert_eq!(again.node_type(2), s.node_type(2));
        let path = retainer_path(&again, 2).expect("edges").expect("reachable");
        assert_eq!(
            path.to_line(),
            "(root) → child → Foo @3 → value → bar @5",
            "{name}"
        );
    }
}

#[test]
fn writing_needs_every_column() {
    let s =
        parse_file(&fixture("v1-current.heapsnapshot"), ParseOptions::summary()).expect("parses");
    let err = write_snapshot(&s, Vec::new()).expect_err("edge names were dropped");
    assert!(matches!(err, SnapshotError::NotKept { .. }));
}

#[test]
fn validate_counts_a_complete_file() {
    let header = validate_file(&fixture("v2-trace-node-id.heapsnapshot")).expect("valid");
    assert_eq!(header.node_count, 3);
    assert_eq!(header.edge_count, 2);
    assert_eq!(header.string_count, 5);
    assert_eq!(
        header.bytes,
        fixture_bytes("v2-trace-node-id.heapsnapshot").len() as u64
    );
}

#[test]
fn validate_accepts_a_real_chromium_snapshot() {
    let header = validate_file(&fixture("chromium-5mb.heapsnapshot")).expect("valid");
    let s =
        parse_file(&fixture("chromium-5mb.heapsnapshot"), ParseOptions::full()).expect("parses");
    assert_eq!(header.node_count, s.node_count() as u64);
    assert_eq!(header.edge_count, s.edge_count());
}

#[test]
fn escaped_strings_are_decoded() {
    let text = String::from_utf8(fixture_bytes("v1-current.heapsnapshot")).expect("utf-8");
    let escaped = text.replace(r#""Foo""#, r#""F\u00f6o \"q\" \ud83d\ude00 \ud800 a\\b\/""#);
    let s = parse_bytes(escaped.as_bytes(), ParseOptions::full()).expect("parses");
    assert_eq!(s.node_name(1), "Föo \"q\" 😀 \u{fffd} a\\b/");
}

/// Hands out its bytes a few at a time, so numbers, escapes and keys are
/// split between reads.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        self.step = self.step % 7 + 1;
        Ok(n)
    }
}

#[test]
fn reads_split_anywhere_give_the_same_graph() {
    let mut names: Vec<&str> = VERSIONS.to_vec();
    names.push("chromium-5mb.heapsnapshot");
    for name in names {
        let bytes = fixture_bytes(name);
        let whole = parse_bytes(&bytes, ParseOptions::full()).expect("parses");
        let split = leakscope_heap::parse_reader(
            Trickle {
                bytes: &bytes,
                step: 1,
            },
            ParseOptions::full(),
            None,
        )
        .expect("parses in pieces");
        assert_eq!(split.node_count(), whole.node_count(), "{name}");
        assert_eq!(split.edge_count(), whole.edge_count(), "{name}");
        let last = whole.node_count() as u32 - 1;
        assert_eq!(split.node_name(last), whole.node_name(last), "{name}");
        assert_eq!(split.node_id(last), whole.node_id(last), "{name}");
        let a: Vec<_> = whole
            .edges(0)
            .expect("edges")
            .map(|e| (e.to, e.name.to_string()))
            .collect();
        let b: Vec<_> = split
            .edges(0)
            .expect("edges")
            .map(|e| (e.to, e.name.to_string()))
            .collect();
        assert_eq!(a, b, "{name}");
    }
    let escaped = String::from_utf8(fixture_bytes("v1-current.heapsnapshot"))
        .expect("utf-8")
        .replace(r#""Foo""#, r#""F\u00f6o \ud83d\ude00 \"q\"""#);
    let split = leakscope_heap::parse_reader(
        Trickle {
            bytes: escaped.as_bytes(),
            step: 1,
        },
        ParseOptions::full(),
        None,
    )
    .expect("parses in pieces");
    assert_eq!(split.node_name(1), "Föo 😀 \"q\"");
}

#[test]
fn long_number_error_points_at_its_start() {
    // A number too long to be a count, split across reads: the error gives
    // the same offset however the input was read.
    let text = String::from_utf8(fixture_bytes("v1-current.heapsnapshot"))
        .expect("utf-8")
        .replace("\"nodes\":[9,", "\"nodes\":[900000000000000000000000,");
    let at = text.find("900000").expect("number present") as u64;
    let whole = parse_bytes(text.as_bytes(), ParseOptions::full()).expect_err("too long");
    let split = leakscope_heap::parse_reader(
        Trickle {
            bytes: text.as_bytes(),
            step: 1,
        },
        ParseOptions::full(),
        None,
    )
    .expect_err("too long");
    assert_eq!(whole.offset(), Some(at));
    assert_eq!(split.offset(), Some(at));
    assert_eq!(whole.section(), Some(Section::Nodes));
}
