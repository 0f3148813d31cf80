//! Writing a bundle: redact, render, hash, pack, and list every file in the
//! manifest with its status.
//!
//! The zip is written to `<out>.partial` and renamed into place only when it
//! is complete, so a failed export never leaves a bundle that looks finished.
//! Entries get a fixed timestamp, so the same recording gives the same bytes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use leakscope_model::{RecordBody, Recording, RecordingReader, SNAPSHOT_OK};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::*;
use crate::chart::{render_png, render_svg, ChartOptions};
use crate::redact::Redactor;
use crate::report::{format_epoch_ms, Report, SNAPSHOT_WARNING};
use crate::view::{recording_duration, Analysis, Overview};

/// Options of [`export_bundle`] and [`write_bundle`].
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Pack heap snapshots. Off by default: a snapshot contains everything in the
    /// page's memory.
    pub with_snapshots: bool,
    pub redactor: Redactor,
    /// Size of the charts; the time range is always the whole recording.
    pub chart: ChartOptions,
    /// Replace an existing file at the output path.
    pub overwrite: bool,
}

/// Result of an export: the bundle's path, size and manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleSummary {
    pub path: PathBuf,
    /// Size of the zip file in bytes.
    pub bytes: u64,
    pub manifest: Manifest,
}

impl BundleSummary {
    /// Files the manifest marks as not `ok`, for a warning after export.
    pub fn problems(&self) -> impl Iterator<Item = &ManifestFile> {
        self.manifest
            .files
            .iter()
            .filter(|file| file.status != FileStatus::Ok)
    }
}

/// Locations of the files a recording refers to.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Directory that relative snapshot paths are resolved against: the
    /// recording file's directory.
    pub base_dir: Option<PathBuf>,
    /// Undecoded CDP messages kept by the session (JSON Lines), if any.
    pub undecoded: Option<PathBuf>,
}

/// Returns the path of the sidecar file with undecoded CDP messages for a recording at `path`:
/// `<name>.undecoded.jsonl` next to it (`run.jsonl` gives `run.undecoded.jsonl`).
pub fn undecoded_sidecar(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.undecoded.jsonl"))
}

/// Reads the recording at `recording_path`, analyses it and writes a bundle to `out`.
pub fn export_bundle(
    recording_path: &Path,
    out: &Path,
    options: &ExportOptions,
) -> Result<BundleSummary, BundleError> {
    let recording = RecordingReader::read_all(recording_path)?;
    let analysis = crate::analysis::analyze(&recording);
    let sidecar = undecoded_sidecar(recording_path);
    let sources = Sources {
        base_dir: recording_path.parent().map(Path::to_path_buf),
        undecoded: sidecar.is_file().then_some(sidecar),
    };
    write_bundle(&recording, &analysis, &sources, out, options)
}

/// Writes a bundle of `recording` and its `analysis` to `out`.
pub fn write_bundle(
    recording: &Recording,
    analysis: &Analysis,
    sources: &Sources,
    out: &Path,
    options: &ExportOptions,
) -> Result<BundleSummary, BundleError> {
    if out.exists() && !options.overwrite {
        return Err(BundleError::Exists {
            path: out.to_owned(),
        });
    }
    let redactor = &options.redactor;
    let recording = redactor.redact_recording(recording);
    let analysis = redact_analysis(redactor, analysis);

    let partial = partial_path(out);
    let result = write_zip(&recording, &analysis, sources, &partial, options);
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, out).map_err(|source| BundleError::Write {
        path: out.to_owned(),
        source,
    })?;
    let bytes = std::fs::metadata(out)
        .map_err(|source| BundleError::Read {
            path: out.to_owned(),
            source,
        })?
        .len();
    tracing::info!(path = %out.display(), bytes, files = manifest.files.len(), "bundle written");
    Ok(BundleSummary {
        path: out.to_owned(),
        bytes,
        manifest,
    })
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|name| name.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

fn write_zip(
    recording: &Recording,
    analysis: &Analysis,
    sources: &Sources,
    path: &Path,
    options: &ExportOptions,
) -> Result<Manifest, BundleError> {
    let file = File::create(path).map_err(|source| BundleError::Write {
        path: path.to_owned(),
        source,
    })?;
    let mut zip = BundleWriter {
        zip: ZipWriter::new(BufWriter::new(file)),
        files: Vec::new(),
    };

    let recording_bytes = recording_jsonl(recording);
    let recording_entry = zip.add(RECORDING, &recording_bytes)?;
    if recording.truncated_tail {
        recording_entry.status = FileStatus::Incomplete;
        recording_entry.reason = Some(
            "the last line was cut short when the recorder stopped; it was dropped".to_owned(),
        );
    } else if !recording
        .records
        .iter()
        .any(|record| matches!(record.body, RecordBody::End { .. }))
    {
        recording_entry.status = FileStatus::Incomplete;
        recording_entry.reason =
            Some("no end record: the recorder stopped without closing the recording".to_owned());
    }

    let trace = crate::trace::build_trace(recording, analysis);
    zip.add(
        TRACE,
        serde_json::to_string(&trace).unwrap_or_default().as_bytes(),
    )?;

    let report = Report::build(recording, analysis).with_snapshot_diff(sources.base_dir.as_deref());
    let mut markdown = report.to_markdown();
    if !options.with_snapshots && !report.snapshots.is_empty() {
        markdown += "\nThe snapshots listed above are not in this bundle (it was exported without `--with-snapshots`).\n";
    }
    zip.add(REPORT, markdown.as_bytes())?;

    let overview = Overview::build(recording, analysis);
    let chart_options = ChartOptions {
        from: None,
        to: None,
        ..options.chart.clone()
    };
    zip.add(CHART_PNG, &render_png(&overview, &chart_options)?)?;
    zip.add(CHART_SVG, render_svg(&overview, &chart_options)?.as_bytes())?;

    add_snapshots(&mut zip, recording, sources, options.with_snapshots)?;

    if let Some(undecoded) = &sources.undecoded {
        add_undecoded(&mut zip, undecoded, &options.redactor)?;
    }

    let manifest = build_manifest(recording, analysis, &options.redactor, zip.files.clone());
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    zip.start(MANIFEST)?;
    zip.write_all(MANIFEST, &manifest_bytes)?;
    let mut writer = zip.zip.finish().map_err(|error| BundleError::Zip {
        entry: MANIFEST.to_owned(),
        message: error.to_string(),
    })?;
    writer.flush().map_err(|source| BundleError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(manifest)
}

/// Serialises the recording as JSON Lines, header first, as the model's writer does.
pub fn recording_jsonl(recording: &Recording) -> Vec<u8> {
    let mut out = Vec::new();
    // Serialising model types does not fail because all their maps have string
    // keys; an empty line would show up as a damaged line on import.
    out.extend(serde_json::to_vec(&recording.header).unwrap_or_default());
    out.push(b'\n');
    for record in &recording.records {
        out.extend(serde_json::to_vec(record).unwrap_or_default());
        out.push(b'\n');
    }
    out
}

struct BundleWriter<W: Write + Seek> {
    zip: ZipWriter<W>,
    files: Vec<ManifestFile>,
}

impl<W: Write + Seek> BundleWriter<W> {
    fn options() -> SimpleFileOptions {
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(false)
    }

    fn start(&mut self, entry: &str) -> Result<(), BundleError> {
        self.zip
            .start_file(entry, Self::options())
            .map_err(|error| BundleError::Zip {
                entry: entry.to_owned(),
                message: error.to_string(),
            })
    }

    fn write_all(&mut self, entry: &str, bytes: &[u8]) -> Result<(), BundleError> {
        self.zip.write_all(bytes).map_err(|error| BundleError::Zip {
            entry: entry.to_owned(),
            message: error.to_string(),
        })
    }

    /// Packs `bytes` as `entry` and lists it as `ok`.
    fn add(&mut self, entry: &str, bytes: &[u8]) -> Result<&mut ManifestFile, BundleError> {
        self.start(entry)?;
        self.write_all(entry, bytes)?;
        self.files.push(ManifestFile {
            path: entry.to_owned(),
            status: FileStatus::Ok,
            reason: None,
            size: Some(bytes.len() as u64),
            sha256: Some(hex(&Sha256::digest(bytes))),
        });
        Ok(self.files.last_mut().expect("an entry was just pushed"))
    }

    /// Packs a file by streaming it, hashing as it goes, so a large snapshot
    /// is never held in memory whole.
    fn add_file(&mut self, entry: &str, source: &Path) -> Result<(), BundleError> {
        let file = File::open(source).map_err(|error| BundleError::Read {
            path: source.to_owned(),
            source: error,
        })?;
        let mut reader = BufReader::new(file);
        self.start(entry)?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = reader
                .read(&mut buffer)
                .map_err(|error| BundleError::Read {
                    path: source.to_owned(),
                    source: error,
                })?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            self.write_all(entry, &buffer[..read])?;
            size += read as u64;
        }
        self.files.push(ManifestFile {
            path: entry.to_owned(),
            status: FileStatus::Ok,
            reason: None,
            size: Some(size),
            sha256: Some(hex(&hasher.finalize())),
        });
        Ok(())
    }

    fn list_unpacked(&mut self, entry: String, status: FileStatus, reason: String) {
        self.files.push(ManifestFile {
            path: entry,
            status,
            reason: Some(reason),
            size: None,
            sha256: None,
        });
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Lists every snapshot of the recording and packs those that are requested
/// and validate; a bad snapshot is listed with the reason and never packed.
fn add_snapshots<W: Write + Seek>(
    zip: &mut BundleWriter<W>,
    recording: &Recording,
    sources: &Sources,
    requested: bool,
) -> Result<(), BundleError> {
    let mut used_names: Vec<String> = Vec::new();
    for record in &recording.records {
        let RecordBody::Snapshot(snapshot) = &record.body else {
            continue;
        };
        let file_name = Path::new(&snapshot.path)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "snapshot".to_owned());
        let mut entry = format!("snapshots/{}", sanitise_entry_name(&file_name));
        let mut counter = 2;
        while used_names.contains(&entry) {
            entry = format!("snapshots/{counter}-{}", sanitise_entry_name(&file_name));
            counter += 1;
        }
        used_names.push(entry.clone());

        if snapshot.status != SNAPSHOT_OK {
            zip.list_unpacked(
                entry,
                FileStatus::Omitted,
                format!("the capture failed: {}", snapshot.status),
            );
            continue;
        }
        let path = resolve(&snapshot.path, sources.base_dir.as_deref());
        let check = validate_snapshot(&path, snapshot.bytes);
        match check {
            Err((status, reason)) => zip.list_unpacked(entry, status, reason),
            Ok(()) if !requested => zip.list_unpacked(
                entry,
                FileStatus::Omitted,
                format!("not requested: pass --with-snapshots to include it. {SNAPSHOT_WARNING}"),
            ),
            // Packed snapshots get the full parse check, which reads the whole file.
            Ok(()) => match leakscope_heap::validate_file(&path) {
                Ok(_) => zip.add_file(&entry, &path)?,
                Err(error) => {
                    let (status, reason) = snapshot_error_status(&error);
                    zip.list_unpacked(entry, status, reason);
                }
            },
        }
    }
    Ok(())
}

fn sanitise_entry_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn resolve(path: &str, base_dir: Option<&Path>) -> PathBuf {
    let path = Path::new(path);
    match base_dir {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_owned(),
    }
}

/// Checks a snapshot file cheaply: it exists, is not a `*.partial` leftover,
/// is as long as the capture reported, and ends with the `]}` that closes a
/// V8 heap snapshot. Returns the status and reason of a bad file.
pub fn validate_snapshot(path: &Path, expected_bytes: u64) -> Result<(), (FileStatus, String)> {
    if path
        .extension()
        .is_some_and(|extension| extension == "partial")
    {
        return Err((
            FileStatus::Incomplete,
            "the capture did not finish (a *.partial file)".to_owned(),
        ));
    }
    let metadata = std::fs::metadata(path).map_err(|error| {
        let reason = match error.kind() {
            std::io::ErrorKind::NotFound => "file not found".to_owned(),
            _ => format!("unreadable: {error}"),
        };
        (FileStatus::Omitted, reason)
    })?;
    let size = metadata.len();
    if size == 0 {
        return Err((FileStatus::Omitted, "0 bytes".to_owned()));
    }
    if expected_bytes > 0 && size < expected_bytes {
        return Err((
            FileStatus::Incomplete,
            format!("truncated at offset {size} (the capture reported {expected_bytes} bytes)"),
        ));
    }
    let tail = read_tail(path, size)
        .map_err(|error| (FileStatus::Omitted, format!("unreadable: {error}")))?;
    let trimmed: Vec<u8> = tail
        .into_iter()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    if !trimmed.ends_with(b"]}") {
        return Err((
            FileStatus::Incomplete,
            format!("truncated at offset {size}: the file does not end with the closing `]}}`"),
        ));
    }
    Ok(())
}

/// Status and reason of a snapshot the heap parser rejected.
fn snapshot_error_status(error: &leakscope_heap::SnapshotError) -> (FileStatus, String) {
    use leakscope_heap::SnapshotError;
    match error {
        SnapshotError::Empty => (FileStatus::Omitted, "0 bytes".to_owned()),
        SnapshotError::Truncated { section, offset } => (
            FileStatus::Incomplete,
            format!("truncated at offset {offset}, inside the {section} section"),
        ),
        other => (FileStatus::Incomplete, format!("invalid snapshot: {other}")),
    }
}

fn read_tail(path: &Path, size: u64) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let start = size.saturating_sub(64);
    file.seek(std::io::SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    Ok(tail)
}

/// Packs the session's undecoded CDP messages, redacted line by line.
fn add_undecoded<W: Write + Seek>(
    zip: &mut BundleWriter<W>,
    path: &Path,
    redactor: &Redactor,
) -> Result<(), BundleError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) => {
            zip.list_unpacked(
                UNDECODED.to_owned(),
                FileStatus::Omitted,
                format!("unreadable: {error}"),
            );
            return Ok(());
        }
    };
    let mut redacted = String::with_capacity(text.len());
    for line in text.lines() {
        redacted.push_str(&redactor.redact_text(line));
        redacted.push('\n');
    }
    zip.add(UNDECODED, redacted.as_bytes())?;
    Ok(())
}

fn redact_analysis(redactor: &Redactor, analysis: &Analysis) -> Analysis {
    let mut analysis = analysis.clone();
    for lane in &mut analysis.lanes {
        lane.operation = redactor.redact_text(&lane.operation);
        lane.endpoint = lane
            .endpoint
            .as_deref()
            .map(|endpoint| redactor.redact_text(endpoint));
        lane.flags = lane
            .flags
            .iter()
            .map(|flag| redactor.redact_text(flag))
            .collect();
    }
    for alert in &mut analysis.alerts {
        alert.subject = redactor.redact_text(&alert.subject);
        alert.message = redactor.redact_text(&alert.message);
    }
    if let Some(verdict) = &mut analysis.verdict {
        verdict.headline = redactor.redact_text(&verdict.headline);
        verdict.evidence = verdict
            .evidence
            .iter()
            .map(|line| redactor.redact_text(line))
            .collect();
    }
    if let Some(rules) = &mut analysis.rules {
        // Rules are Leakscope's configuration, not page data: only URLs in them
        // can carry secrets.
        redactor.redact_json_strings(rules);
    }
    analysis
}

fn build_manifest(
    recording: &Recording,
    analysis: &Analysis,
    redactor: &Redactor,
    files: Vec<ManifestFile>,
) -> Manifest {
    let header = &recording.header;
    let duration = recording_duration(recording);
    Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        format_version: BUNDLE_FORMAT_VERSION,
        leakscope_version: env!("CARGO_PKG_VERSION").to_owned(),
        recorded_with: header.leakscope_version.clone(),
        browser: ManifestBrowser {
            product: header.browser.product.clone(),
            revision: header.browser.revision.clone(),
        },
        target: ManifestTarget {
            title: header.target.title.clone(),
            url: header.target.url.clone(),
        },
        started_at: format_epoch_ms(header.started_at_ms),
        started_at_ms: header.started_at_ms,
        ended_at: format_epoch_ms(header.started_at_ms + duration * 1000.0),
        duration_s: duration,
        settings: serde_json::to_value(&header.settings).unwrap_or_default(),
        rules: analysis.rules.clone(),
        redacted_names: redactor.secret_names().to_vec(),
        verdict: analysis.verdict.clone(),
        recording_truncated_tail: recording.truncated_tail,
        files,
    }
}
