//! Reading a bundle back into a [`Recording`], in memory and under limits.
//!
//! Nothing is extracted to disk. Before any entry is inflated, its name, type
//! and declared sizes are checked. While it inflates, its bytes are counted, so
//! an entry that understates its size is caught too. Every packed entry must be
//! listed in the manifest with a matching size and sha256.

use std::collections::BTreeSet;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use leakscope_model::{Header, Record, Recording, FORMAT_VERSION};
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::*;

/// Limits that an untrusted bundle must stay within.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportLimits {
    /// Largest entry, uncompressed, in bytes. Snapshots are hashed while
    /// streaming, so only this bounds them.
    pub max_entry_bytes: u64,
    /// Largest entry that is kept in memory (manifest, recording, report).
    pub max_in_memory_bytes: u64,
    /// Largest sum of all entries, uncompressed.
    pub max_total_bytes: u64,
    pub max_entries: usize,
    /// Largest uncompressed-to-compressed ratio of an entry over 1 MiB. JSON
    /// Lines recordings compress about 10 to 40 times; deflate cannot exceed
    /// about 1032, so bombs sit near that.
    pub max_ratio: f64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_entry_bytes: 4 << 30,
            max_in_memory_bytes: 1 << 30,
            max_total_bytes: 8 << 30,
            max_entries: 10_000,
            max_ratio: 200.0,
        }
    }
}

/// Entries under this size are exempt from the ratio check: a small file of
/// repeated bytes compresses far but cannot hurt.
const RATIO_EXEMPT_BYTES: u64 = 1 << 20;

/// A bundle read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedBundle {
    pub manifest: Manifest,
    pub recording: Recording,
    pub report_md: Option<String>,
    /// Every entry that was read and whose checksum matched.
    pub verified: Vec<String>,
}

/// Opens the bundle file at `path`.
pub fn open_bundle(path: &Path, limits: &ImportLimits) -> Result<ImportedBundle, BundleError> {
    let file = std::fs::File::open(path).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })?;
    read_bundle_from(std::io::BufReader::new(file), path, limits)
}

/// Reads a bundle from bytes in memory.
pub fn read_bundle(bytes: &[u8], limits: &ImportLimits) -> Result<ImportedBundle, BundleError> {
    read_bundle_from(Cursor::new(bytes), Path::new("(bundle in memory)"), limits)
}

fn read_bundle_from<R: Read + Seek>(
    reader: R,
    path: &Path,
    limits: &ImportLimits,
) -> Result<ImportedBundle, BundleError> {
    let mut archive = ZipArchive::new(reader).map_err(|error| BundleError::InvalidZip {
        path: path.to_owned(),
        message: error.to_string(),
    })?;
    if archive.len() > limits.max_entries {
        return Err(BundleError::TooManyEntries {
            count: archive.len(),
            limit: limits.max_entries,
        });
    }

    // Check every entry's name, type and declared size before inflating any.
    let mut total: u64 = 0;
    let mut names = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|error| BundleError::InvalidZip {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
        let name = entry.name().to_owned();
        check_entry_name(&name)?;
        if entry.is_symlink() {
            return Err(BundleError::Symlink { entry: name });
        }
        check_declared_size(&name, entry.size(), entry.compressed_size(), limits)?;
        total = total.saturating_add(entry.size());
        if total > limits.max_total_bytes {
            return Err(BundleError::TotalTooLarge {
                limit: limits.max_total_bytes,
            });
        }
        // A second entry of the same name would never be verified, while
        // another zip reader might pick it.
        if names.contains(&name) {
            return Err(BundleError::UnsafePath {
                entry: name,
                why: "duplicate entry name",
            });
        }
        if !entry.is_dir() {
            names.push(name);
        }
    }

    let manifest_bytes = read_entry(&mut archive, MANIFEST, limits.max_in_memory_bytes)?
        .ok_or(BundleError::MissingManifest)?;
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|error| BundleError::InvalidManifest {
            message: error.to_string(),
        })?;
    if manifest.format != BUNDLE_FORMAT || manifest.format_version > BUNDLE_FORMAT_VERSION {
        return Err(BundleError::UnsupportedFormat {
            format: manifest.format.clone(),
            version: manifest.format_version,
        });
    }

    let present: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    for name in &names {
        if name != MANIFEST && manifest.file(name).is_none_or(|file| !file.is_packed()) {
            return Err(BundleError::UnlistedEntry {
                entry: name.clone(),
            });
        }
    }
    let mut verified = Vec::new();
    let mut recording_bytes = None;
    let mut report_md = None;
    for file in manifest.files.iter().filter(|file| file.is_packed()) {
        if !present.contains(file.path.as_str()) {
            return Err(BundleError::MissingEntry {
                entry: file.path.clone(),
            });
        }
        let keep = file.path == RECORDING || file.path == REPORT;
        let (digest, size, bytes) = hash_entry(&mut archive, &file.path, limits, keep)?;
        if let Some(expected) = file.size.filter(|&expected| expected != size) {
            return Err(BundleError::ManifestSizeMismatch {
                entry: file.path.clone(),
                expected,
                actual: size,
            });
        }
        let expected = file.sha256.clone().unwrap_or_default();
        if !digest.eq_ignore_ascii_case(&expected) {
            return Err(BundleError::ChecksumMismatch {
                entry: file.path.clone(),
                expected,
                actual: digest,
            });
        }
        if file.path == RECORDING {
            recording_bytes = bytes;
        } else if file.path == REPORT {
            report_md = bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        }
        verified.push(file.path.clone());
    }
    let recording_bytes = recording_bytes.ok_or_else(|| BundleError::MissingEntry {
        entry: RECORDING.to_owned(),
    })?;
    let mut recording = parse_recording(RECORDING, &recording_bytes)?;
    recording.truncated_tail |= manifest.recording_truncated_tail;
    Ok(ImportedBundle {
        manifest,
        recording,
        report_md,
        verified,
    })
}

/// Rejects absolute paths, drive letters, `..` components and backslashes.
fn check_entry_name(name: &str) -> Result<(), BundleError> {
    let unsafe_path = |why| {
        Err(BundleError::UnsafePath {
            entry: name.to_owned(),
            why,
        })
    };
    if name.is_empty() {
        return unsafe_path("empty name");
    }
    if name.starts_with('/') {
        return unsafe_path("absolute path");
    }
    if name.contains('\\') {
        return unsafe_path("backslash in path");
    }
    if name.contains('\0') {
        return unsafe_path("NUL byte in path");
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return unsafe_path("drive letter");
    }
    if name.split('/').any(|component| component == "..") {
        return unsafe_path("`..` component");
    }
    Ok(())
}

fn check_declared_size(
    name: &str,
    size: u64,
    compressed: u64,
    limits: &ImportLimits,
) -> Result<(), BundleError> {
    if size > limits.max_entry_bytes {
        return Err(BundleError::EntryTooLarge {
            entry: name.to_owned(),
            size,
            limit: limits.max_entry_bytes,
        });
    }
    if size > RATIO_EXEMPT_BYTES {
        let ratio = size as f64 / compressed.max(1) as f64;
        if ratio > limits.max_ratio {
            return Err(BundleError::CompressionRatio {
                entry: name.to_owned(),
                compressed,
                size,
                ratio,
                limit: limits.max_ratio,
            });
        }
    }
    Ok(())
}

/// Reads a whole entry into memory, or `None` when the zip has no such entry.
fn read_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, BundleError> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(error) => {
            return Err(BundleError::Entry {
                entry: name.to_owned(),
                message: error.to_string(),
            })
        }
    };
    let declared = entry.size();
    if declared > limit {
        return Err(BundleError::EntryTooLarge {
            entry: name.to_owned(),
            size: declared,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(declared as usize);
    // One byte past the declared size shows an entry that lies about it.
    entry
        .take(declared + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| BundleError::Entry {
            entry: name.to_owned(),
            message: error.to_string(),
        })?;
    if bytes.len() as u64 > declared {
        return Err(BundleError::SizeMismatch {
            entry: name.to_owned(),
            declared,
        });
    }
    Ok(Some(bytes))
}

/// Hashes an entry while inflating it, counting bytes; keeps the bytes when asked.
fn hash_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
    limits: &ImportLimits,
    keep: bool,
) -> Result<(String, u64, Option<Vec<u8>>), BundleError> {
    let entry = archive.by_name(name).map_err(|error| BundleError::Entry {
        entry: name.to_owned(),
        message: error.to_string(),
    })?;
    let declared = entry.size();
    if keep && declared > limits.max_in_memory_bytes {
        return Err(BundleError::EntryTooLarge {
            entry: name.to_owned(),
            size: declared,
            limit: limits.max_in_memory_bytes,
        });
    }
    let mut reader = entry.take(declared + 1);
    let mut hasher = Sha256::new();
    let mut kept = keep.then(|| Vec::with_capacity(declared as usize));
    let mut size = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|error| BundleError::Entry {
                entry: name.to_owned(),
                message: error.to_string(),
            })?;
        if read == 0 {
            break;
        }
        size += read as u64;
        if size > declared {
            return Err(BundleError::SizeMismatch {
                entry: name.to_owned(),
                declared,
            });
        }
        hasher.update(&buffer[..read]);
        if let Some(kept) = kept.as_mut() {
            kept.extend_from_slice(&buffer[..read]);
        }
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok((digest, size, kept))
}

/// Parses a recording from JSON Lines bytes, as the model's reader does for
/// files: a cut-short last line is dropped and flagged, any other bad line is
/// an error with its 1-based line number.
pub fn parse_recording(entry: &str, bytes: &[u8]) -> Result<Recording, BundleError> {
    let text = std::str::from_utf8(bytes).map_err(|error| BundleError::DamagedRecording {
        entry: entry.to_owned(),
        line: 1 + bytes[..error.valid_up_to()]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count(),
        message: "invalid UTF-8".to_owned(),
    })?;
    let damaged = |line: usize, message: String| BundleError::DamagedRecording {
        entry: entry.to_owned(),
        line,
        message,
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim().is_empty())
        .collect();
    let Some(&(first_number, first)) = lines.first() else {
        return Err(damaged(1, "empty: no header line".to_owned()));
    };
    let header: Header = serde_json::from_str(first)
        .map_err(|error| damaged(first_number, format!("invalid header: {error}")))?;
    if header.format_version > FORMAT_VERSION {
        return Err(damaged(
            first_number,
            format!(
                "format version {} is newer than this build reads ({FORMAT_VERSION}); update Leakscope",
                header.format_version
            ),
        ));
    }
    let mut records = Vec::with_capacity(lines.len());
    let mut truncated_tail = false;
    let last = lines.len() - 1;
    for (position, &(number, line)) in lines.iter().enumerate().skip(1) {
        match serde_json::from_str::<Record>(line) {
            Ok(record) => records.push(record),
            Err(error)
                if position == last && error.classify() == serde_json::error::Category::Eof =>
            {
                truncated_tail = true
            }
            Err(error) => return Err(damaged(number, error.to_string())),
        }
    }
    Ok(Recording {
        header,
        records,
        truncated_tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_checked() {
        assert!(check_entry_name("charts/overview.png").is_ok());
        for bad in ["/etc/passwd", "../evil", "a/../../b", "C:/x", "a\\b", ""] {
            assert!(check_entry_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ratio_checked_above_exemption() {
        let limits = ImportLimits::default();
        assert!(check_declared_size("x", 100 << 20, 100 << 10, &limits).is_err());
        assert!(check_declared_size("x", 100 << 20, 10 << 20, &limits).is_ok());
        assert!(check_declared_size("x", 1000, 1, &limits).is_ok());
    }
}
