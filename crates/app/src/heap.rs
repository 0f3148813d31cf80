//! Snapshot analyses for the Snapshots view: summary by class, the diff of
//! two snapshots, and retainer paths, through `leakscope-heap`.
//!
//! These are blocking and can take seconds on a large heap, so the
//! controller runs them on the blocking pool. Their results are converted
//! here into the UI's camelCase types and capped at `top` rows.

use std::collections::BTreeMap;
use std::path::Path;

use leakscope_heap::{
    ClassSummary, HeapSnapshot, ParseOptions, RetainerPath, SnapshotDiff, Summary, SummaryOptions,
};
use serde::Serialize;

use crate::error::AppError;

/// Rows when the caller gives no `top`.
pub const DEFAULT_TOP: usize = 50;

/// Largest `top` accepted; more rows make the table unusable, not more useful.
pub const MAX_TOP: usize = 5_000;

/// Retainer paths when the caller gives no `paths`.
pub const DEFAULT_PATHS: usize = 5;

/// Largest `paths` accepted.
pub const MAX_PATHS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassRow {
    pub name: String,
    pub count: u64,
    pub self_size: u64,
    pub retained_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSummary {
    pub nodes: u64,
    pub edges: u64,
    pub self_size: u64,
    pub node_types: BTreeMap<String, u64>,
    pub classes: Vec<ClassRow>,
    pub detached_nodes: u64,
    pub detached: Vec<ClassRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassDiffRow {
    pub name: String,
    pub count_delta: i64,
    pub size_delta: i64,
    pub added: u64,
    pub removed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffView {
    pub classes: Vec<ClassDiffRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetainerStep {
    pub node_id: u64,
    pub name: String,
    pub node_type: String,
    /// The edge from the previous step to this node: its name, or its index.
    pub edge: String,
    pub edge_type: String,
    pub self_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetainersView {
    /// Each path runs from a GC root to the object.
    pub paths: Vec<Vec<RetainerStep>>,
}

/// Checks `top` and applies the default.
pub fn top_rows(top: Option<usize>) -> Result<usize, AppError> {
    match top {
        None => Ok(DEFAULT_TOP),
        Some(0) => Err(AppError::bad_input("top is 0; ask for at least one row")),
        Some(top) if top > MAX_TOP => Err(AppError::bad_input(format!(
            "top {top} is over the limit of {MAX_TOP} rows; ask for fewer"
        ))),
        Some(top) => Ok(top),
    }
}

/// Parses a snapshot with everything retainer paths and retained sizes need,
/// reporting the bytes read to `progress`.
pub fn parse(path: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<HeapSnapshot, AppError> {
    Ok(leakscope_heap::parse_file_with_progress(
        path,
        ParseOptions::full(),
        Some(progress),
    )?)
}

/// Summarises a parsed snapshot, with retained sizes.
pub fn summarize(snapshot: &HeapSnapshot, top: usize) -> Result<SnapshotSummary, AppError> {
    let summary = leakscope_heap::summarize(snapshot, SummaryOptions { retained: true })?;
    Ok(summary_view(&summary, top))
}

fn class_row(class: &ClassSummary) -> ClassRow {
    ClassRow {
        name: class.name.clone(),
        count: class.count,
        self_size: class.self_size,
        retained_size: class.retained_size,
    }
}

pub fn summary_view(summary: &Summary, top: usize) -> SnapshotSummary {
    SnapshotSummary {
        nodes: summary.nodes,
        edges: summary.edges,
        self_size: summary.self_size,
        node_types: summary.node_types.clone(),
        classes: summary.classes.iter().take(top).map(class_row).collect(),
        detached_nodes: summary.detached_nodes,
        detached: summary
            .detached_classes
            .iter()
            .take(top)
            .map(class_row)
            .collect(),
    }
}

pub fn diff_view(diff: &SnapshotDiff, top: usize) -> DiffView {
    DiffView {
        classes: diff
            .classes
            .iter()
            .take(top)
            .map(|class| ClassDiffRow {
                name: class.name.clone(),
                count_delta: class.count_delta,
                size_delta: class.size_delta,
                added: class.added,
                removed: class.removed,
            })
            .collect(),
    }
}

/// Target of a `retainers` search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetainerQuery {
    Class(String),
    /// A node id as the snapshot (and DevTools) shows it, `@123`.
    Node(u64),
}

/// Finds the shortest retainer paths for `query`.
pub fn retainers(
    snapshot: &HeapSnapshot,
    query: &RetainerQuery,
    paths: usize,
) -> Result<RetainersView, AppError> {
    let found: Vec<RetainerPath> = match query {
        RetainerQuery::Class(class) => {
            leakscope_heap::retainer_paths_for_class(snapshot, class, paths)?
        }
        RetainerQuery::Node(id) => {
            let node = snapshot.node_by_id(*id).ok_or_else(|| {
                AppError::not_found(format!(
                    "node @{id} is not in this snapshot; take the id from this snapshot's summary"
                ))
            })?;
            leakscope_heap::retainer_path(snapshot, node)?
                .into_iter()
                .collect()
        }
    };
    Ok(RetainersView {
        paths: found
            .iter()
            .map(|path| {
                path.steps
                    .iter()
                    .map(|step| RetainerStep {
                        node_id: step.node_id,
                        name: step.node_name.clone(),
                        node_type: step.node_type.clone(),
                        edge: step.edge_name.clone().unwrap_or_default(),
                        edge_type: step.edge_type.clone().unwrap_or_default(),
                        self_size: step.self_size,
                    })
                    .collect()
            })
            .collect(),
    })
}
