//! Errors of the parser and the analyses. Every variant names the part of the
//! file it concerns and, where the input itself is at fault, the byte offset,
//! so a truncated or hand-edited snapshot can be located without a debugger.

use std::fmt;
use std::path::PathBuf;

/// A top-level part of a `.heapsnapshot` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The file as a whole (before the first key, or between keys).
    Document,
    /// The `snapshot` object with its `meta`.
    Meta,
    /// The `nodes` array.
    Nodes,
    /// The `edges` array.
    Edges,
    /// The `strings` array.
    Strings,
    /// Any other top-level value (trace, samples, locations, scopes...).
    Other,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Document => "document",
            Section::Meta => "meta",
            Section::Nodes => "nodes",
            Section::Edges => "edges",
            Section::Strings => "strings",
            Section::Other => "other",
        })
    }
}

/// Why a snapshot could not be read or analysed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Reading failed part way (not a file we opened ourselves).
    #[error("read error at byte {offset}: {source}")]
    Read {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// The input has no bytes (or only whitespace).
    #[error("the snapshot is empty (0 bytes of JSON): capture it again")]
    Empty,
    /// The input ended before the JSON was complete.
    #[error("input ended inside the {section} section at byte {offset}: the snapshot is truncated, capture it again")]
    Truncated { section: Section, offset: u64 },
    /// A byte that cannot stand where it is.
    #[error("unexpected {found} in the {section} section at byte {offset}: expected {expected}")]
    Syntax {
        section: Section,
        offset: u64,
        expected: &'static str,
        found: String,
    },
    /// The `snapshot.meta` object lacks something the parser needs.
    #[error("invalid snapshot meta at byte {offset}: {reason}")]
    Meta { offset: u64, reason: String },
    /// A required top-level key is absent from a complete document.
    #[error(
        "the snapshot has no {section} section: it is not a V8 heap snapshot, or it is incomplete"
    )]
    Missing { section: Section },
    /// An array holds another number of entries than the header announces.
    #[error("count mismatch in the {section} section: expected {expected} {unit}, found {found}")]
    CountMismatch {
        section: Section,
        unit: &'static str,
        expected: u64,
        found: u64,
    },
    /// A value in a node or edge is out of the range it must be in.
    #[error("{section} entry {index}: {field} is {value}, {reason}")]
    BadValue {
        section: Section,
        index: u64,
        field: &'static str,
        value: u64,
        reason: &'static str,
    },
    /// Writing a snapshot failed.
    #[error("cannot write the snapshot: {source}")]
    Write {
        #[source]
        source: std::io::Error,
    },
    /// The thread storing parsed values stopped without saying why.
    #[error("the parser's storing thread stopped unexpectedly in the {section} section: this is a bug, please report it")]
    Worker { section: Section },
    /// The caller asked for something the graph was parsed without.
    #[error("the snapshot was parsed without {what}: parse it with ParseOptions::full()")]
    NotKept { what: &'static str },
    /// A node id that the snapshot does not hold.
    #[error(
        "no node with id {id} in the snapshot: pick an id from `leakscope analyze` or DevTools"
    )]
    NoSuchNode { id: u64 },
}

impl SnapshotError {
    /// The section the error concerns, when it concerns one.
    pub fn section(&self) -> Option<Section> {
        match self {
            SnapshotError::Truncated { section, .. }
            | SnapshotError::Syntax { section, .. }
            | SnapshotError::Missing { section }
            | SnapshotError::CountMismatch { section, .. }
            | SnapshotError::BadValue { section, .. } => Some(*section),
            SnapshotError::Meta { .. } => Some(Section::Meta),
            _ => None,
        }
    }

    /// The byte offset in the input the error points at, when there is one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            SnapshotError::Read { offset, .. }
            | SnapshotError::Truncated { offset, .. }
            | SnapshotError::Syntax { offset, .. }
            | SnapshotError::Meta { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

/// Describes a byte for an error message ("`x`", "byte 0xff", "end of input").
pub(crate) fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}
