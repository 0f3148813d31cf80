//! Reads `snapshot.meta` into a [`Layout`]: which position of a node or edge
//! record holds which field, and the names of node and edge types. Field lists
//! differ between V8 versions (six node fields in Chromium 156, seven with
//! `trace_node_id` before it, no `detachedness` in older ones), so the parser
//! never assumes positions; it looks every field up here by name.

use serde::Deserialize;

use crate::error::{Result, SnapshotError};

/// What a node field is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeRole {
    Type,
    Name,
    Id,
    SelfSize,
    EdgeCount,
    Detachedness,
    Ignore,
}

/// What an edge field is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EdgeRole {
    Type,
    NameOrIndex,
    ToNode,
    Ignore,
}

/// The record layout a snapshot declares in its meta.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub node_roles: Vec<NodeRole>,
    pub edge_roles: Vec<EdgeRole>,
    pub node_type_names: Vec<String>,
    pub edge_type_names: Vec<String>,
    pub node_count: Option<u64>,
    pub edge_count: Option<u64>,
    pub has_detachedness: bool,
}

impl Layout {
    pub fn node_fields(&self) -> usize {
        self.node_roles.len()
    }

    pub fn edge_fields(&self) -> usize {
        self.edge_roles.len()
    }
}

#[derive(Deserialize)]
struct RawHeader {
    meta: RawMeta,
    node_count: Option<u64>,
    edge_count: Option<u64>,
}

#[derive(Deserialize)]
struct RawMeta {
    node_fields: Vec<String>,
    node_types: Vec<serde_json::Value>,
    edge_fields: Vec<String>,
    edge_types: Vec<serde_json::Value>,
}

/// Parses the bytes of the `snapshot` object found at `offset`.
pub(crate) fn parse_layout(bytes: &[u8], offset: u64) -> Result<Layout> {
    let bad = |reason: String| SnapshotError::Meta { offset, reason };
    let raw: RawHeader = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let meta = raw.meta;

    let node_roles: Vec<NodeRole> = meta
        .node_fields
        .iter()
        .map(|f| match f.as_str() {
            "type" => NodeRole::Type,
            "name" => NodeRole::Name,
            "id" => NodeRole::Id,
            "self_size" => NodeRole::SelfSize,
            "edge_count" => NodeRole::EdgeCount,
            "detachedness" => NodeRole::Detachedness,
            _ => NodeRole::Ignore,
        })
        .collect();
    for (role, name) in [
        (NodeRole::Type, "type"),
        (NodeRole::Name, "name"),
        (NodeRole::Id, "id"),
        (NodeRole::SelfSize, "self_size"),
        (NodeRole::EdgeCount, "edge_count"),
    ] {
        if !node_roles.contains(&role) {
            return Err(bad(format!("node_fields has no `{name}`")));
        }
    }
    let edge_roles: Vec<EdgeRole> = meta
        .edge_fields
        .iter()
        .map(|f| match f.as_str() {
            "type" => EdgeRole::Type,
            "name_or_index" => EdgeRole::NameOrIndex,
            "to_node" => EdgeRole::ToNode,
            _ => EdgeRole::Ignore,
        })
        .collect();
    for (role, name) in [
        (EdgeRole::Type, "type"),
        (EdgeRole::NameOrIndex, "name_or_index"),
        (EdgeRole::ToNode, "to_node"),
    ] {
        if !edge_roles.contains(&role) {
            return Err(bad(format!("edge_fields has no `{name}`")));
        }
    }

    let type_pos = node_roles
        .iter()
        .position(|r| *r == NodeRole::Type)
        .unwrap_or(0);
    let node_type_names = type_names(&meta.node_types, type_pos)
        .ok_or_else(|| bad("node_types has no list of type names for `type`".into()))?;
    let edge_type_pos = edge_roles
        .iter()
        .position(|r| *r == EdgeRole::Type)
        .unwrap_or(0);
    let edge_type_names = type_names(&meta.edge_types, edge_type_pos)
        .ok_or_else(|| bad("edge_types has no list of type names for `type`".into()))?;
    if node_type_names.len() > 256 || edge_type_names.len() > 256 {
        return Err(bad("more than 256 node or edge types".into()));
    }

    Ok(Layout {
        has_detachedness: node_roles.contains(&NodeRole::Detachedness),
        node_roles,
        edge_roles,
        node_type_names,
        edge_type_names,
        node_count: raw.node_count,
        edge_count: raw.edge_count,
    })
}

fn type_names(types: &[serde_json::Value], pos: usize) -> Option<Vec<String>> {
    let list = types.get(pos)?.as_array()?;
    list.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}
