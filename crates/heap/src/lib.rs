//! Leakscope's V8 heap snapshot library: a streaming parser for
//! `.heapsnapshot` files of any V8 version (fields are read by the names in
//! `snapshot.meta`), and the analyses a developer uses to prove a leak:
//! totals and classes with retained sizes from the dominator tree, detached
//! DOM nodes, closures held by timers, shortest retainer paths, and the diff
//! of two snapshots of one page. It is pure: no CDP, no async, no I/O but the
//! file it is given, so it can be fuzzed and benchmarked alone.

mod diff;
mod dominators;
mod error;
mod meta;
mod parse;
mod retainers;
mod snapshot;
mod summary;
mod write;

pub use diff::{diff, diff_files, ClassDiff, SnapshotDiff};
pub use dominators::{dominators, Dominators};
pub use error::{Result, Section, SnapshotError};
pub use parse::{
    parse_bytes, parse_file, parse_file_with_progress, parse_reader, validate_file,
    validate_reader, Progress, SnapshotSummaryHeader,
};
pub use retainers::{retainer_path, retainer_paths_for_class, PathStep, RetainerPath};
pub use snapshot::{Detachedness, Edge, EdgeName, HeapSnapshot, ParseOptions};
pub use summary::{summarize, summarize_with, ClassSummary, HeldClosure, Summary, SummaryOptions};
pub use write::write_snapshot;
