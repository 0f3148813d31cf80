//! Shortest retainer paths: why is this object still alive? One breadth-first
//! search from the synthetic root over every edge but weak ones gives, for
//! each reachable node, the edge it was first reached by; a path is read back
//! from the target. Edge names are shown as in DevTools: element and hidden
//! edges as their index (`[0]`), the others by name.

use serde::Serialize;

use crate::error::{Result, SnapshotError};
use crate::snapshot::HeapSnapshot;

/// One node on a retainer path, with the edge that leads to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStep {
    /// Type of the edge from the previous step (`None` for the root).
    pub edge_type: Option<String>,
    /// Name of that edge: a property name, or `[n]` for element and hidden
    /// edges.
    pub edge_name: Option<String>,
    /// Node ordinal in the snapshot.
    #[serde(skip)]
    pub node: u32,
    pub node_id: u64,
    pub node_type: String,
    pub node_name: String,
    pub class: String,
    pub self_size: u64,
}

/// A path from the root to a target node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetainerPath {
    /// Root first, target last.
    pub steps: Vec<PathStep>,
}

impl RetainerPath {
    /// The path on one line: `(root) → child → Foo @3 → value → bar @5`,
    /// each node shown by its name (its class when it has none) and id.
    pub fn to_line(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            let Some(edge) = &step.edge_name else {
                out.push_str("(root)");
                continue;
            };
            let name = if step.node_name.is_empty() {
                &step.class
            } else {
                &step.node_name
            };
            out.push_str(&format!(" → {edge} → {} @{}", short(name), step.node_id));
        }
        out
    }
}

/// Long names (source text held in strings) cut to 60 characters.
fn short(name: &str) -> String {
    match name.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_string(),
    }
}

const NONE: u32 = u32::MAX;

/// Breadth-first search from the root: the edge each node was reached by,
/// and the nodes in the order they were reached.
fn bfs(s: &HeapSnapshot) -> Result<(Vec<u32>, Vec<u32>)> {
    if !s.options.keep_edges || !s.options.keep_edge_names {
        return Err(SnapshotError::NotKept {
            what: "edges and edge names",
        });
    }
    let n = s.node_count();
    let mut via = vec![NONE; n];
    let mut order = Vec::new();
    if n == 0 {
        return Ok((via, order));
    }
    let mut reached = vec![false; n];
    reached[0] = true;
    order.push(0u32);
    let mut head = 0;
    while head < order.len() {
        let v = order[head];
        head += 1;
        for e in s.first_edge[v as usize]..s.first_edge[v as usize + 1] {
            if Some(s.edge_type[e as usize]) == s.types.edge_weak {
                continue;
            }
            let w = s.edge_to[e as usize];
            if !reached[w as usize] {
                reached[w as usize] = true;
                via[w as usize] = e;
                order.push(w);
            }
        }
    }
    Ok((via, order))
}

fn read_path(s: &HeapSnapshot, via: &[u32], target: u32) -> Option<RetainerPath> {
    if target != 0 && via[target as usize] == NONE {
        return None;
    }
    let mut steps = Vec::new();
    let mut v = target;
    loop {
        let e = if v == 0 { NONE } else { via[v as usize] };
        let (edge_type, edge_name) = if e == NONE {
            (None, None)
        } else {
            let edge = s.edge(e);
            (Some(edge.kind.to_string()), Some(edge.name.to_string()))
        };
        steps.push(PathStep {
            edge_type,
            edge_name,
            node: v,
            node_id: s.node_id(v),
            node_type: s.node_type(v).to_string(),
            node_name: s.node_name(v).to_string(),
            class: s.class_name(v).into_owned(),
            self_size: s.self_size(v),
        });
        if e == NONE {
            break;
        }
        v = s.edge_source(e);
    }
    steps.reverse();
    Some(RetainerPath { steps })
}

/// The shortest path from the root to the node with ordinal `node`, or
/// `None` when only weak edges (or nothing) reach it.
pub fn retainer_path(s: &HeapSnapshot, node: u32) -> Result<Option<RetainerPath>> {
    if node as usize >= s.node_count() {
        return Err(SnapshotError::NoSuchNode {
            id: u64::from(node),
        });
    }
    let (via, _) = bfs(s)?;
    Ok(read_path(s, &via, node))
}

/// Shortest paths to up to `limit` objects of a class (as `class_name`
/// names it), nearest to the root first.
pub fn retainer_paths_for_class(
    s: &HeapSnapshot,
    class: &str,
    limit: usize,
) -> Result<Vec<RetainerPath>> {
    let (via, order) = bfs(s)?;
    let mut out = Vec::new();
    for &v in &order {
        if out.len() >= limit {
            break;
        }
        if s.class_name(v) == class {
            if let Some(path) = read_path(s, &via, v) {
                out.push(path);
            }
        }
    }
    Ok(out)
}
