//! Bug-report bundles: one zip file that contains everything needed to see a leak
//! without the app, and that Leakscope can open again.
//!
//! Layout of a bundle:
//!
//! - `manifest.json`: versions, browser, target, times, settings, rules, the
//!   verdict, and every file with its size, sha256 and status;
//! - `recording.jsonl`: the recording, redacted;
//! - `trace.json`: Chrome trace-event JSON (opens in Perfetto and chrome://tracing);
//! - `charts/overview.png` and `charts/overview.svg`;
//! - `report.md`;
//! - `snapshots/*.heapsnapshot`, only when asked for;
//! - `cdp/undecoded.jsonl`, the undecoded CDP messages the session kept, when
//!   a sidecar file exists next to the recording.
//!
//! Export ([`export`]) redacts before anything is written. Import ([`import`])
//! reads entries in memory under size and ratio limits and never extracts to
//! disk.

pub mod export;
pub mod import;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::view::VerdictView;

pub use export::{export_bundle, write_bundle, BundleSummary, ExportOptions};
pub use import::{open_bundle, read_bundle, ImportLimits, ImportedBundle};

/// Name of the manifest entry.
pub const MANIFEST: &str = "manifest.json";
/// Name of the recording entry.
pub const RECORDING: &str = "recording.jsonl";
pub const TRACE: &str = "trace.json";
pub const REPORT: &str = "report.md";
pub const CHART_PNG: &str = "charts/overview.png";
pub const CHART_SVG: &str = "charts/overview.svg";
pub const UNDECODED: &str = "cdp/undecoded.jsonl";

/// Value of [`Manifest::format`].
pub const BUNDLE_FORMAT: &str = "leakscope-bundle";
/// Version of the bundle layout written by this build.
pub const BUNDLE_FORMAT_VERSION: u32 = 1;

/// Status of one file in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Packed and complete.
    Ok,
    /// Known to be incomplete, with the reason. Packed only when the part
    /// that exists is still useful (a recording whose last line was cut).
    Incomplete,
    /// Left out, with the reason.
    Omitted,
}

/// One file of the bundle, packed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path inside the zip.
    pub path: String,
    pub status: FileStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Size in bytes of the packed entry; absent when the file is not packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Lower-case hex sha256 of the packed entry; absent when it is not packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl ManifestFile {
    pub fn is_packed(&self) -> bool {
        self.sha256.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestBrowser {
    pub product: String,
    pub revision: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestTarget {
    pub title: String,
    pub url: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    pub format_version: u32,
    /// Version of the Leakscope that wrote the bundle.
    pub leakscope_version: String,
    /// Version of the Leakscope that made the recording.
    pub recorded_with: String,
    pub browser: ManifestBrowser,
    pub target: ManifestTarget,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub started_at_ms: f64,
    pub ended_at: String,
    pub duration_s: f64,
    /// The recording's settings, redacted.
    pub settings: serde_json::Value,
    /// Rules in force, when the engine reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<serde_json::Value>,
    /// Query and field names whose values were replaced with `REDACTED`.
    pub redacted_names: Vec<String>,
    pub verdict: Option<VerdictView>,
    /// The recording's last line was cut short and dropped before export.
    #[serde(default)]
    pub recording_truncated_tail: bool,
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    pub fn file(&self, path: &str) -> Option<&ManifestFile> {
        self.files.iter().find(|file| file.path == path)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Recording(#[from] leakscope_model::RecordingError),
    #[error("failed to write bundle {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to write zip entry {entry}: {message}")]
    Zip { entry: String, message: String },
    #[error(transparent)]
    Chart(#[from] crate::chart::ChartError),
    #[error(
        "bundle {path} exists; remove it, choose another --out, or pass --force to replace it"
    )]
    Exists { path: PathBuf },
    #[error("{path} is not a readable zip file: {message}; the bundle is damaged or truncated, export it again")]
    InvalidZip { path: PathBuf, message: String },
    #[error("bundle entry {entry:?} has an unsafe path ({why}); the bundle was not made by Leakscope or was tampered with")]
    UnsafePath { entry: String, why: &'static str },
    #[error("bundle entry {entry:?} is a symbolic link; bundles never contain links")]
    Symlink { entry: String },
    #[error("bundle has {count} entries, more than the limit of {limit}")]
    TooManyEntries { count: usize, limit: usize },
    #[error(
        "bundle entry {entry:?} is {size} bytes uncompressed, over the limit of {limit} bytes"
    )]
    EntryTooLarge {
        entry: String,
        size: u64,
        limit: u64,
    },
    #[error("bundle entry {entry:?} would inflate {ratio:.0} times ({compressed} to {size} bytes), over the limit of {limit}; this looks like a zip bomb")]
    CompressionRatio {
        entry: String,
        compressed: u64,
        size: u64,
        ratio: f64,
        limit: f64,
    },
    #[error("bundle entry {entry:?} inflates past its declared size of {declared} bytes; the zip is damaged or crafted")]
    SizeMismatch { entry: String, declared: u64 },
    #[error("bundle entries add up to more than {limit} bytes uncompressed")]
    TotalTooLarge { limit: u64 },
    #[error("failed to read bundle entry {entry:?}: {message}")]
    Entry { entry: String, message: String },
    #[error("bundle has no {MANIFEST}; it was not made by Leakscope")]
    MissingManifest,
    #[error("bundle manifest is invalid: {message}")]
    InvalidManifest { message: String },
    #[error("bundle format {format:?} version {version} is not supported (this build reads {BUNDLE_FORMAT:?} up to version {BUNDLE_FORMAT_VERSION}); update Leakscope")]
    UnsupportedFormat { format: String, version: u32 },
    #[error(
        "bundle entry {entry:?} is not listed in the manifest; the bundle was altered after export"
    )]
    UnlistedEntry { entry: String },
    #[error("bundle entry {entry:?} is listed in the manifest but missing from the zip")]
    MissingEntry { entry: String },
    #[error("bundle entry {entry:?} has sha256 {actual}, but the manifest says {expected}; the bundle is damaged or was altered")]
    ChecksumMismatch {
        entry: String,
        expected: String,
        actual: String,
    },
    #[error("bundle entry {entry:?} is {actual} bytes, but the manifest says {expected}")]
    ManifestSizeMismatch {
        entry: String,
        expected: u64,
        actual: u64,
    },
    #[error("recording in bundle entry {entry:?} is damaged at line {line}: {message}")]
    DamagedRecording {
        entry: String,
        line: usize,
        message: String,
    },
}
