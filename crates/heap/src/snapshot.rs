//! The parsed heap graph, stored as columns (one vector per field), so a
//! 5-million-node snapshot costs about 18 bytes a node and 9 an edge instead
//! of a heap object each. Nodes are numbered by their ordinal, which is their
//! position in the file. The edges of node `n` are
//! `first_edge[n]..first_edge[n + 1]`, and they point at node ordinals rather
//! than at the file's `to_node` offsets.

use std::borrow::Cow;

use crate::error::{Result, SnapshotError};

/// Which columns the parser keeps. Leaving out what an analysis does not need
/// keeps big snapshots within memory: the summary needs no edge names, the
/// diff no edges at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Keep edge types and targets (needed for retained sizes and paths).
    pub keep_edges: bool,
    /// Keep edge names (needed for retainer paths and writing back).
    pub keep_edge_names: bool,
    /// Keep node columns and strings (off only when validating a file).
    pub keep_nodes: bool,
}

impl ParseOptions {
    /// Everything: what retainer paths and [`crate::write_snapshot`] need.
    pub fn full() -> Self {
        ParseOptions {
            keep_edges: true,
            keep_edge_names: true,
            keep_nodes: true,
        }
    }

    /// Nodes and edges without edge names: enough for the summary with
    /// retained sizes.
    pub fn summary() -> Self {
        ParseOptions {
            keep_edges: true,
            keep_edge_names: false,
            keep_nodes: true,
        }
    }

    /// Nodes and strings only: enough for the diff of two snapshots.
    pub fn nodes_only() -> Self {
        ParseOptions {
            keep_edges: false,
            keep_edge_names: false,
            keep_nodes: true,
        }
    }

    /// Nothing kept: the file is only checked.
    pub(crate) fn check_only() -> Self {
        ParseOptions {
            keep_edges: false,
            keep_edge_names: false,
            keep_nodes: false,
        }
    }
}

/// Whether a DOM node is still in a document, from the `detachedness` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detachedness {
    /// The snapshot does not say (older V8, or not a DOM node).
    Unknown,
    /// Attached to a live document.
    Attached,
    /// Detached: kept alive by JavaScript though no document shows it.
    Detached,
}

/// The strings table, packed into one buffer.
#[derive(Debug, Default, Clone)]
pub(crate) struct Strings {
    pub bytes: Vec<u8>,
    /// End offset of each string in `bytes`; string `i` starts at `ends[i - 1]`.
    pub ends: Vec<u32>,
}

impl Strings {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn get(&self, index: u32) -> &str {
        let i = index as usize;
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        // Every string was checked as UTF-8 when it was stored.
        std::str::from_utf8(&self.bytes[start as usize..end as usize]).unwrap_or("")
    }
}

/// Indexes of the node and edge types the analyses look for, when present.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownTypes {
    pub hidden: Option<u8>,
    pub object: Option<u8>,
    pub closure: Option<u8>,
    pub native: Option<u8>,
    pub synthetic: Option<u8>,
    pub code: Option<u8>,
    pub edge_weak: Option<u8>,
    pub edge_shortcut: Option<u8>,
    pub edge_element: Option<u8>,
    pub edge_hidden: Option<u8>,
}

impl KnownTypes {
    pub fn new(node_types: &[String], edge_types: &[String]) -> Self {
        let find = |list: &[String], name: &str| {
            list.iter()
                .position(|t| t == name)
                .and_then(|p| u8::try_from(p).ok())
        };
        KnownTypes {
            hidden: find(node_types, "hidden"),
            object: find(node_types, "object"),
            closure: find(node_types, "closure"),
            native: find(node_types, "native"),
            synthetic: find(node_types, "synthetic"),
            code: find(node_types, "code"),
            edge_weak: find(edge_types, "weak"),
            edge_shortcut: find(edge_types, "shortcut"),
            edge_element: find(edge_types, "element"),
            edge_hidden: find(edge_types, "hidden"),
        }
    }
}

/// A parsed heap snapshot.
#[derive(Debug, Clone)]
pub struct HeapSnapshot {
    pub(crate) node_type: Vec<u8>,
    pub(crate) node_name: Vec<u32>,
    pub(crate) node_id: Vec<u32>,
    /// Bytes; values above `u32::MAX` are stored as `u32::MAX`.
    pub(crate) self_size: Vec<u32>,
    /// `node_count + 1` prefix sums of the nodes' edge counts.
    pub(crate) first_edge: Vec<u32>,
    /// Empty when the snapshot has no `detachedness` field.
    pub(crate) detachedness: Vec<u8>,
    /// Empty unless edges were kept.
    pub(crate) edge_type: Vec<u8>,
    /// Empty unless edge names were kept.
    pub(crate) edge_name: Vec<u32>,
    /// Target node ordinals; empty unless edges were kept.
    pub(crate) edge_to: Vec<u32>,
    pub(crate) strings: Strings,
    pub(crate) node_type_names: Vec<String>,
    pub(crate) edge_type_names: Vec<String>,
    pub(crate) edge_count: u64,
    pub(crate) types: KnownTypes,
    pub(crate) options: ParseOptions,
}

/// The name or index of an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeName<'a> {
    /// Property, context, internal, shortcut and weak edges: a name.
    Name(&'a str),
    /// Element and hidden edges: an index, shown as `[0]`.
    Index(u32),
}

impl std::fmt::Display for EdgeName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EdgeName::Name(name) => f.write_str(name),
            EdgeName::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// One edge seen from its source node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge<'a> {
    /// Edge index in the snapshot.
    pub index: u32,
    /// Type name (`property`, `element`, `weak`...).
    pub kind: &'a str,
    pub name: EdgeName<'a>,
    /// Target node ordinal.
    pub to: u32,
}

impl HeapSnapshot {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.node_type.len()
    }

    /// Number of edges in the file (also when edges were not kept).
    pub fn edge_count(&self) -> u64 {
        self.edge_count
    }

    /// The options the snapshot was parsed with.
    pub fn options(&self) -> ParseOptions {
        self.options
    }

    /// The node type names in the snapshot's order, as the meta lists them.
    pub fn node_type_names(&self) -> &[String] {
        &self.node_type_names
    }

    /// The edge type names in the snapshot's order.
    pub fn edge_type_names(&self) -> &[String] {
        &self.edge_type_names
    }

    /// Type name of a node (`object`, `closure`, `wasm object`...).
    pub fn node_type(&self, node: u32) -> &str {
        let t = self.node_type[node as usize] as usize;
        self.node_type_names.get(t).map_or("", String::as_str)
    }

    /// Name of a node: a constructor name for objects, a value for strings.
    pub fn node_name(&self, node: u32) -> &str {
        self.strings.get(self.node_name[node as usize])
    }

    /// Node id (stable across snapshots of one page session).
    pub fn node_id(&self, node: u32) -> u64 {
        u64::from(self.node_id[node as usize])
    }

    /// Shallow size in bytes.
    pub fn self_size(&self, node: u32) -> u64 {
        u64::from(self.self_size[node as usize])
    }

    /// Whether the node is a detached DOM node, where the snapshot says.
    pub fn detachedness(&self, node: u32) -> Detachedness {
        match self.detachedness.get(node as usize) {
            Some(1) => Detachedness::Attached,
            Some(2) => Detachedness::Detached,
            _ => Detachedness::Unknown,
        }
    }

    /// The ordinal of the node with this id.
    pub fn node_by_id(&self, id: u64) -> Option<u32> {
        let id = u32::try_from(id).ok()?;
        self.node_id.iter().position(|&n| n == id).map(|p| p as u32)
    }

    /// The class a node is counted under, grouped as DevTools groups its
    /// summary: objects and native nodes by name, the rest by type.
    pub fn class_name(&self, node: u32) -> Cow<'_, str> {
        let t = Some(self.node_type[node as usize]);
        if t == self.types.object || t == self.types.native {
            Cow::Borrowed(self.node_name(node))
        } else if t == self.types.hidden {
            Cow::Borrowed("(system)")
        } else if t == self.types.code {
            Cow::Borrowed("(compiled code)")
        } else {
            Cow::Owned(format!("({})", self.node_type(node)))
        }
    }

    /// The edges going out of a node. Fails when edges were not kept.
    pub fn edges(&self, node: u32) -> Result<impl Iterator<Item = Edge<'_>> + '_> {
        if !self.options.keep_edges {
            return Err(SnapshotError::NotKept { what: "edges" });
        }
        let start = self.first_edge[node as usize];
        let end = self.first_edge[node as usize + 1];
        Ok((start..end).map(move |e| self.edge(e)))
    }

    pub(crate) fn edge(&self, e: u32) -> Edge<'_> {
        let t = self.edge_type[e as usize];
        let raw = self.edge_name.get(e as usize).copied().unwrap_or(0);
        let name = if self.edge_name.is_empty() {
            EdgeName::Name("")
        } else if self.is_index_edge(t) {
            EdgeName::Index(raw)
        } else {
            EdgeName::Name(self.strings.get(raw))
        };
        Edge {
            index: e,
            kind: self
                .edge_type_names
                .get(t as usize)
                .map_or("", String::as_str),
            name,
            to: self.edge_to[e as usize],
        }
    }

    /// Element and hidden edges carry a number, every other edge a string index.
    pub(crate) fn is_index_edge(&self, edge_type: u8) -> bool {
        Some(edge_type) == self.types.edge_element || Some(edge_type) == self.types.edge_hidden
    }

    /// The node an edge starts from (binary search over `first_edge`).
    pub(crate) fn edge_source(&self, e: u32) -> u32 {
        // The source is the last node whose first edge is at or before `e`
        // and that has at least one edge.
        let p = self.first_edge.partition_point(|&f| f <= e);
        (p - 1) as u32
    }
}
