//! The app's data directory and the files in it: `recordings/`,
//! `snapshots/` and `exports/`, and the recent-files list built from them.
//!
//! The directory is `$LEAKSCOPE_DATA_DIR` when set (the end-to-end tests point
//! it at a temporary directory), else the platform's data directory:
//! `$XDG_DATA_HOME/leakscope` or `~/.local/share/leakscope` on Linux,
//! `~/Library/Application Support/leakscope` on macOS and
//! `%APPDATA%\leakscope` on Windows.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use crate::error::AppError;

/// Environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "LEAKSCOPE_DATA_DIR";

/// Entries returned by [`DataDir::recent_files`], newest first.
pub const MAX_RECENT_FILES: usize = 50;

/// Largest header line read to title a recording, bytes. A header is well
/// under 4 KiB; the cap keeps a damaged file from being read whole.
const MAX_HEADER_LINE: u64 = 64 * 1024;

/// The data directory and its three folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

/// Kind of a recent file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Bundle,
    Recording,
}

/// A bundle in `exports/` or a recording in `recordings/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentFile {
    pub path: String,
    pub kind: FileKind,
    pub bytes: u64,
    /// Last modification, milliseconds since the Unix epoch.
    pub modified_ms: f64,
    /// The recorded page's title or URL for a recording; the file name for a bundle.
    pub title: String,
}

impl DataDir {
    /// Resolves the data directory from the environment (see the module docs).
    pub fn from_env() -> Result<DataDir, AppError> {
        if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|dir| !dir.is_empty()) {
            return Ok(DataDir::at(PathBuf::from(dir)));
        }
        platform_data_dir()
            .map(|base| DataDir::at(base.join("leakscope")))
            .ok_or_else(|| {
                AppError::internal(format!(
                    "no data directory: HOME is not set; set {DATA_DIR_ENV} to a writable directory"
                ))
            })
    }

    pub fn at(root: PathBuf) -> DataDir {
        DataDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn recordings(&self) -> PathBuf {
        self.root.join("recordings")
    }

    pub fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub fn exports(&self) -> PathBuf {
        self.root.join("exports")
    }

    /// Creates the three folders when missing.
    pub fn ensure(&self) -> Result<(), AppError> {
        for dir in [self.recordings(), self.snapshots(), self.exports()] {
            std::fs::create_dir_all(&dir).map_err(|error| AppError::io("create", &dir, &error))?;
        }
        Ok(())
    }

    /// Lists bundles (`*.zip`) in `exports/` and recordings (`*.jsonl`, but
    /// not the `*.undecoded.jsonl` side files) in `recordings/`, newest first,
    /// at most [`MAX_RECENT_FILES`]. Missing folders list nothing.
    pub fn recent_files(&self) -> Vec<RecentFile> {
        let mut files = Vec::new();
        files.extend(list(&self.exports(), FileKind::Bundle));
        files.extend(list(&self.recordings(), FileKind::Recording));
        files.sort_by(|a, b| b.modified_ms.total_cmp(&a.modified_ms));
        files.truncate(MAX_RECENT_FILES);
        files
    }
}

fn platform_data_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty());
    if cfg!(target_os = "macos") {
        return home.map(|home| PathBuf::from(home).join("Library/Application Support"));
    }
    if cfg!(windows) {
        return std::env::var_os("APPDATA").map(PathBuf::from);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(xdg));
    }
    home.map(|home| PathBuf::from(home).join(".local/share"))
}

fn list(dir: &Path, kind: FileKind) -> Vec<RecentFile> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let wanted = match kind {
            FileKind::Bundle => name.ends_with(".zip"),
            FileKind::Recording => name.ends_with(".jsonl") && !name.ends_with(".undecoded.jsonl"),
        };
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if !wanted || !metadata.is_file() {
            continue;
        }
        let modified_ms = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0.0, |since| since.as_secs_f64() * 1000.0);
        let title = match kind {
            FileKind::Recording => recording_title(&path).unwrap_or_else(|| name.clone()),
            FileKind::Bundle => name.clone(),
        };
        files.push(RecentFile {
            path: path.display().to_string(),
            kind,
            bytes: metadata.len(),
            modified_ms,
            title,
        });
    }
    files
}

/// Reads the target's title (or URL) from a recording's header line.
fn recording_title(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut line = String::new();
    BufReader::new(std::io::Read::take(file, MAX_HEADER_LINE))
        .read_line(&mut line)
        .ok()?;
    let header: leakscope_model::Header = serde_json::from_str(&line).ok()?;
    let target = header.target;
    Some(if target.title.is_empty() {
        target.url
    } else {
        target.title
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_creates_folders() {
        let temp = tempfile::tempdir().unwrap();
        let data = DataDir::at(temp.path().join("data"));
        data.ensure().unwrap();
        assert!(data.recordings().is_dir());
        assert!(data.snapshots().is_dir());
        assert!(data.exports().is_dir());
    }

    #[test]
    fn recent_files_lists_bundles_and_recordings() {
        let temp = tempfile::tempdir().unwrap();
        let data = DataDir::at(temp.path().to_owned());
        data.ensure().unwrap();
        std::fs::write(data.exports().join("a.zip"), b"PK").unwrap();
        std::fs::write(data.exports().join("notes.txt"), b"x").unwrap();
        let header = serde_json::json!({
            "format_version": 1,
            "leakscope_version": "test",
            "browser": { "product": "", "revision": "", "user_agent": "", "protocol_version": "" },
            "target": { "id": "T", "type": "page", "title": "Editor", "url": "http://127.0.0.1/" },
            "started_at_ms": 0.0,
            "settings": { "interval_ms": 1000 }
        });
        std::fs::write(data.recordings().join("r.jsonl"), format!("{header}\n")).unwrap();
        std::fs::write(data.recordings().join("r.undecoded.jsonl"), b"{}\n").unwrap();

        let files = data.recent_files();
        let names: Vec<&str> = files.iter().map(|file| file.title.as_str()).collect();
        assert_eq!(files.len(), 2, "{names:?}");
        let recording = files
            .iter()
            .find(|file| file.kind == FileKind::Recording)
            .unwrap();
        assert_eq!(recording.title, "Editor");
        let bundle = files
            .iter()
            .find(|file| file.kind == FileKind::Bundle)
            .unwrap();
        assert_eq!(bundle.bytes, 2);
    }

    #[test]
    fn missing_folders_list_nothing() {
        let data = DataDir::at(PathBuf::from("/nonexistent/leakscope-data"));
        assert!(data.recent_files().is_empty());
    }
}
