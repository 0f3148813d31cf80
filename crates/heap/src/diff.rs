//! The difference between two snapshots of the same page: per class, the
//! objects added and removed and the change in count and size, plus the ids
//! of the new objects. Objects are matched by node id, which V8 keeps stable
//! for the life of a heap profiler session; a snapshot from another session
//! or a reloaded page shares few ids and shows as mostly added and removed.
//! V8 may also give a new object an id that an object of the first snapshot
//! had. So an id whose class changed counts as removed and added. The count
//! and size changes come from each class's totals, not from ids.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::parse::parse_file;
use crate::snapshot::{HeapSnapshot, ParseOptions};
use crate::summary::classify;

/// How one class changed between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassDiff {
    pub name: String,
    /// Objects in the second snapshot only.
    pub added: u64,
    /// Objects in the first snapshot only.
    pub removed: u64,
    /// Bytes (self size) of the added objects.
    pub added_size: u64,
    /// Bytes (self size) of the removed objects.
    pub removed_size: u64,
    /// Objects of the class in the second snapshot minus those in the first
    /// (`added - removed` when ids are stable).
    pub count_delta: i64,
    /// The class's total self size in the second snapshot minus the first,
    /// in bytes.
    pub size_delta: i64,
    /// Ids of the added objects, in the second snapshot's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_ids: Vec<u64>,
}

/// The difference of two snapshots.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotDiff {
    pub before_nodes: u64,
    pub after_nodes: u64,
    pub before_self_size: u64,
    pub after_self_size: u64,
    /// Classes that changed, largest size growth first.
    pub classes: Vec<ClassDiff>,
}

/// Parses two files at once (one per core, nodes only) and diffs them.
pub fn diff_files(before: &Path, after: &Path) -> Result<SnapshotDiff> {
    let (a, b) = rayon::join(
        || parse_file(before, ParseOptions::nodes_only()),
        || parse_file(after, ParseOptions::nodes_only()),
    );
    Ok(diff(&a?, &b?))
}

/// Node ordinals sorted by id, packed as `id << 32 | ordinal`.
fn by_id(s: &HeapSnapshot) -> Vec<u64> {
    let mut keys: Vec<u64> = s
        .node_id
        .iter()
        .enumerate()
        .map(|(i, &id)| (u64::from(id) << 32) | i as u64)
        .collect();
    keys.sort_unstable();
    keys
}

/// Diffs two parsed snapshots.
pub fn diff(before: &HeapSnapshot, after: &HeapSnapshot) -> SnapshotDiff {
    let ((keys_a, (class_a, names_a)), (keys_b, (class_b, names_b))) = rayon::join(
        || (by_id(before), classify(before)),
        || (by_id(after), classify(after)),
    );

    // One row per class name across both snapshots.
    let mut rows: Vec<ClassDiff> = Vec::new();
    let mut row_of: HashMap<String, usize> = HashMap::new();
    let mut map = |names: &[String], rows: &mut Vec<ClassDiff>| -> Vec<usize> {
        names
            .iter()
            .map(|name| {
                *row_of.entry(name.clone()).or_insert_with(|| {
                    rows.push(ClassDiff {
                        name: name.clone(),
                        added: 0,
                        removed: 0,
                        added_size: 0,
                        removed_size: 0,
                        count_delta: 0,
                        size_delta: 0,
                        new_ids: Vec::new(),
                    });
                    rows.len() - 1
                })
            })
            .collect()
    };
    let row_a = map(&names_a, &mut rows);
    let row_b = map(&names_b, &mut rows);

    let mut added_ordinals: Vec<u32> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < keys_a.len() || j < keys_b.len() {
        let ka = keys_a.get(i).map(|k| k >> 32);
        let kb = keys_b.get(j).map(|k| k >> 32);
        match (ka, kb) {
            (Some(x), Some(y)) if x == y => {
                let (a, b) = (keys_a[i] as u32, keys_b[j] as u32);
                if row_a[class_a[a as usize] as usize] != row_b[class_b[b as usize] as usize] {
                    // A reused id: the first object is gone, this one is new.
                    removed(before, &class_a, &row_a, &mut rows, a);
                    added_ordinals.push(b);
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                removed(before, &class_a, &row_a, &mut rows, keys_a[i] as u32);
                i += 1;
            }
            (Some(_), None) => {
                removed(before, &class_a, &row_a, &mut rows, keys_a[i] as u32);
                i += 1;
            }
            _ => {
                added_ordinals.push(keys_b[j] as u32);
                j += 1;
            }
        }
    }
    added_ordinals.sort_unstable();
    for v in added_ordinals {
        let row = &mut rows[row_b[class_b[v as usize] as usize]];
        row.added += 1;
        row.added_size += after.self_size(v);
        row.new_ids.push(after.node_id(v));
    }

    // Totals per row: (count, self size) before and after.
    let mut totals = vec![[0i64; 4]; rows.len()];
    for v in 0..before.node_count() {
        let total = &mut totals[row_a[class_a[v] as usize]];
        total[0] += 1;
        total[1] += i64::from(before.self_size[v]);
    }
    for v in 0..after.node_count() {
        let total = &mut totals[row_b[class_b[v] as usize]];
        total[2] += 1;
        total[3] += i64::from(after.self_size[v]);
    }
    let mut classes: Vec<ClassDiff> = rows
        .into_iter()
        .zip(totals)
        .map(|(mut r, [count_a, size_a, count_b, size_b])| {
            r.count_delta = count_b - count_a;
            r.size_delta = size_b - size_a;
            r
        })
        .filter(|r| r.added > 0 || r.removed > 0 || r.count_delta != 0 || r.size_delta != 0)
        .collect();
    classes.sort_by(|a, b| {
        b.size_delta
            .cmp(&a.size_delta)
            .then_with(|| b.count_delta.cmp(&a.count_delta))
            .then_with(|| a.name.cmp(&b.name))
    });
    SnapshotDiff {
        before_nodes: before.node_count() as u64,
        after_nodes: after.node_count() as u64,
        before_self_size: before.self_size.iter().map(|&x| u64::from(x)).sum(),
        after_self_size: after.self_size.iter().map(|&x| u64::from(x)).sum(),
        classes,
    }
}

fn removed(s: &HeapSnapshot, class_of: &[u32], row_of: &[usize], rows: &mut [ClassDiff], v: u32) {
    let row = &mut rows[row_of[class_of[v as usize] as usize]];
    row.removed += 1;
    row.removed_size += s.self_size(v);
}
