//! Helpers shared by the tests: fixture paths and a builder that writes a
//! small graph in the current V8 layout.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture exists")
}

/// Node type indexes of the current list.
pub const HIDDEN: u32 = 0;
pub const ARRAY: u32 = 1;
pub const STRING: u32 = 2;
pub const OBJECT: u32 = 3;
pub const CLOSURE: u32 = 5;
pub const NATIVE: u32 = 8;
pub const SYNTHETIC: u32 = 9;
/// Edge type indexes.
pub const CONTEXT: u32 = 0;
pub const ELEMENT: u32 = 1;
pub const PROPERTY: u32 = 2;
pub const INTERNAL: u32 = 3;
pub const EDGE_HIDDEN: u32 = 4;
pub const SHORTCUT: u32 = 5;
pub const WEAK: u32 = 6;

/// A node: type, name, id, self size, detachedness.
pub struct N(pub u32, pub &'static str, pub u32, pub u32, pub u32);
/// An edge: from ordinal, type, name (a string, or a number for element and
/// hidden edges), to ordinal.
pub struct E(pub u32, pub u32, pub &'static str, pub u32);

/// Writes nodes and edges as a V1 (current layout) snapshot.
pub fn build(nodes: &[N], edges: &[E]) -> String {
    let mut strings: Vec<String> = vec![String::new()];
    let mut intern = |s: &str| -> u32 {
        if let Some(p) = strings.iter().position(|x| x == s) {
            return p as u32;
        }
        strings.push(s.to_string());
        (strings.len() - 1) as u32
    };
    let mut node_values = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let name = intern(n.1);
        let count = edges.iter().filter(|e| e.0 as usize == i).count();
        node_values.extend([n.0, name, n.2, n.3, count as u32, n.4]);
    }
    let mut edge_values = Vec::new();
    for i in 0..nodes.len() as u32 {
        for e in edges.iter().filter(|e| e.0 == i) {
            let name = if e.1 == ELEMENT || e.1 == EDGE_HIDDEN {
                e.2.parse().expect("numeric name")
            } else {
                intern(e.2)
            };
            edge_values.extend([e.1, name, e.3 * 6]);
        }
    }
    let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"]}},"node_count":{},"edge_count":{},"trace_function_count":0}},
"nodes":[{}],
"edges":[{}],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[],
"strings":{}}}"#,
        nodes.len(),
        edges.len(),
        list(&node_values),
        list(&edge_values),
        serde_json::to_string(&strings).expect("strings serialise")
    )
}
