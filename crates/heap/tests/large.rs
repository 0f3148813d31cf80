//! Arrays large enough for the two-thread path of the parser, which stores
//! whole records at a time. Every value must land in its column, and a bad
//! value in the middle must be reported with its record index, as on the
//! one-thread path that the small fixtures take.

use leakscope_heap::{parse_bytes, EdgeName, ParseOptions, Section, SnapshotError};

/// Nodes of the generated graph: 6 values each, so 360,000 node values and
/// 540,000 edge values, both above the parser's two-thread threshold of
/// 2^18 values.
const NODES: u32 = 60_000;

/// Node type indexes of the meta below.
const OBJECT: u64 = 3;
const SYNTHETIC: u64 = 9;
/// Edge type indexes.
const ELEMENT: u64 = 1;
const PROPERTY: u64 = 2;

/// Raw `nodes` and `edges` values of a graph where node `i` has a property
/// edge to `i + 1`, an element edge `[i % 100]` to `7 i mod n`, and a property
/// edge to node 0 (names are string 1 and 2).
fn values() -> (Vec<u64>, Vec<u64>) {
    let n = u64::from(NODES);
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for i in 0..n {
        let node_type = if i == 0 { SYNTHETIC } else { OBJECT };
        // type, name, id, self_size, edge_count, detachedness
        nodes.extend([node_type, 3, 2 * i + 1, 16 + i % 50, 3, 0]);
        edges.extend([PROPERTY, 1, ((i + 1) % n) * 6]);
        edges.extend([ELEMENT, i % 100, (7 * i % n) * 6]);
        edges.extend([PROPERTY, 2, 0]);
    }
    (nodes, edges)
}

fn text(nodes: &[u64], edges: &[u64]) -> Vec<u8> {
    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"]}},"node_count":{},"edge_count":{}}},
"nodes":[{}],
"edges":[{}],
"strings":["","next","root","Cell"]}}"#,
        nodes.len() / 6,
        edges.len() / 3,
        list(nodes),
        list(edges),
    )
    .into_bytes()
}

#[test]
fn large_graph_fills_every_column() {
    let (nodes, edges) = values();
    let s = parse_bytes(&text(&nodes, &edges), ParseOptions::full()).expect("parses");
    assert_eq!(s.node_count(), NODES as usize);
    assert_eq!(s.edge_count(), 3 * u64::from(NODES));
    for i in 0..NODES {
        assert_eq!(s.node_id(i), 2 * u64::from(i) + 1, "id of node {i}");
        assert_eq!(
            s.self_size(i),
            16 + u64::from(i % 50),
            "self size of node {i}"
        );
        let out: Vec<_> = s.edges(i).expect("edges kept").collect();
        assert_eq!(out.len(), 3, "edges of node {i}");
        assert_eq!(out[0].to, (i + 1) % NODES);
        assert_eq!(out[0].name, EdgeName::Name("next"));
        assert_eq!(out[1].to, 7 * i % NODES);
        assert_eq!(out[1].name, EdgeName::Index(i % 100));
        assert_eq!(out[2].to, 0);
        assert_eq!(out[2].name, EdgeName::Name("root"));
    }
    assert_eq!(s.node_name(1), "Cell");
    assert_eq!(s.node_type(0), "synthetic");
}

#[test]
fn large_bad_to_node_names_its_edge() {
    let (nodes, mut edges) = values();
    let edge = 150_001;
    edges[edge * 3 + 2] = 6 * 17 + 1;
    let error = parse_bytes(&text(&nodes, &edges), ParseOptions::summary()).expect_err("bad");
    match error {
        SnapshotError::BadValue {
            section,
            index,
            field,
            value,
            ..
        } => {
            assert_eq!(section, Section::Edges);
            assert_eq!(index, edge as u64);
            assert_eq!(field, "to_node");
            assert_eq!(value, 6 * 17 + 1);
        }
        other => panic!("expected a bad to_node, got {other}"),
    }
}

#[test]
fn large_bad_node_type_names_its_node() {
    let (mut nodes, edges) = values();
    let node = 45_000;
    nodes[node * 6] = 99;
    let error = parse_bytes(&text(&nodes, &edges), ParseOptions::summary()).expect_err("bad");
    match error {
        SnapshotError::BadValue {
            section,
            index,
            field,
            ..
        } => {
            assert_eq!(section, Section::Nodes);
            assert_eq!(index, node as u64);
            assert_eq!(field, "type");
        }
        other => panic!("expected a bad node type, got {other}"),
    }
}

#[test]
fn large_self_size_above_4_gib_saturates() {
    let (mut nodes, edges) = values();
    let node = 50_000u32;
    nodes[node as usize * 6 + 3] = 5_000_000_000;
    let s = parse_bytes(&text(&nodes, &edges), ParseOptions::summary()).expect("parses");
    assert_eq!(s.self_size(node), u64::from(u32::MAX));
    assert_eq!(s.self_size(node + 1), 16 + u64::from((node + 1) % 50));
    assert_eq!(s.node_id(node + 1), 2 * u64::from(node + 1) + 1);
}
