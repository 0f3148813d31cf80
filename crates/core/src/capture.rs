//! Heap snapshot capture, streamed to disk.
//!
//! `HeapProfiler.takeHeapSnapshot` sends the snapshot as many
//! `addHeapSnapshotChunk` events before it replies. Each chunk is written
//! straight to `<target>.partial` beside the target, so the snapshot is never
//! held whole in memory; the file is renamed to the target only after the
//! reply came and the file looks complete. The deadline runs from the last
//! chunk or progress event ([`deadline::SNAPSHOT_SILENCE`] by default), not
//! from the start, because a large heap takes minutes. When the tab closes or
//! the browser dies mid-capture, the pending command fails at once, the
//! capture ends with an error that names the `.partial` file, and that file
//! is kept for inspection.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chromiumoxide_cdp::cdp::js_protocol::heap_profiler::{
    CollectGarbageParams, EnableParams, TakeHeapSnapshotParams,
};
use leakscope_model::{RecordBody, SnapshotEvent, SNAPSHOT_OK};

use crate::deadline::{self, SilenceDeadline};
use crate::events::TypedEvent;
use crate::recorder::RecorderHandle;
use crate::session::{EventsError, Session, SessionError};

/// Upper bound of the command's own deadline. The real limit is the silence
/// deadline; this only keeps the command from being unbounded.
const CAPTURE_MAX_TOTAL: Duration = Duration::from_secs(60 * 60);

/// Options of a capture.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Run a full garbage collection first, so the snapshot shows what is retained.
    pub gc_first: bool,
    /// Silence after which the capture fails.
    pub silence: Duration,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            gc_first: true,
            silence: deadline::SNAPSHOT_SILENCE,
        }
    }
}

/// Progress of a capture: V8's `done`/`total` while it walks the heap, and
/// the bytes written so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("failed to create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("heap snapshot failed: {source}; the partial snapshot is kept at {partial}")]
    Session {
        partial: PathBuf,
        source: SessionError,
    },
    #[error("heap snapshot stalled: no chunk or progress for {silence:?}; the partial snapshot is kept at {partial}")]
    Silence { partial: PathBuf, silence: Duration },
    #[error("heap snapshot lost {missed} chunks because the reader fell behind; the partial snapshot at {partial} is unusable, so take it again")]
    Lagged { partial: PathBuf, missed: u64 },
    #[error("heap snapshot at {partial} is incomplete ({reason}); take it again")]
    Invalid { partial: PathBuf, reason: String },
    #[error("failed to rename {partial} to {path}: {source}")]
    Rename {
        partial: PathBuf,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CaptureError {
    /// Returns the `.partial` file left behind, if any.
    pub fn partial(&self) -> Option<&Path> {
        match self {
            CaptureError::Session { partial, .. }
            | CaptureError::Silence { partial, .. }
            | CaptureError::Lagged { partial, .. }
            | CaptureError::Invalid { partial, .. }
            | CaptureError::Rename { partial, .. } => Some(partial),
            CaptureError::Create { .. } | CaptureError::Write { .. } => None,
        }
    }
}

/// Returns `<path>.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|name| name.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

/// Takes a heap snapshot of the session's page into `path`, calling
/// `on_progress` after each chunk and progress event.
pub async fn capture(
    session: &Session,
    path: &Path,
    options: &CaptureOptions,
    mut on_progress: impl FnMut(Progress),
) -> Result<SnapshotEvent, CaptureError> {
    let started = Instant::now();
    let partial = partial_path(path);
    let file = File::create(&partial).map_err(|source| CaptureError::Create {
        path: partial.clone(),
        source,
    })?;
    let mut out = BufWriter::new(file);
    let session_error = |source| CaptureError::Session {
        partial: partial.clone(),
        source,
    };

    let mut events = session.events();
    session
        .call(EnableParams::default())
        .await
        .map_err(session_error)?;
    if options.gc_first {
        session
            .call(CollectGarbageParams::default())
            .await
            .map_err(session_error)?;
    }
    let params = TakeHeapSnapshotParams {
        report_progress: Some(true),
        ..TakeHeapSnapshotParams::default()
    };
    let call = session.call_with_deadline(params, CAPTURE_MAX_TOTAL);
    tokio::pin!(call);

    let mut progress = Progress::default();
    let mut silence = SilenceDeadline::new(options.silence, Instant::now());
    loop {
        let expiry = tokio::time::Instant::from_std(silence.expires_at());
        tokio::select! {
            // The reply: every chunk was sent before it.
            result = &mut call => {
                result.map_err(session_error)?;
                break;
            }
            // A chunk or a progress event: write it and move the deadline.
            event = events.recv() => match event {
                Ok(event) => {
                    if write_event(&event.typed, &mut out, &mut progress).map_err(|source| CaptureError::Write { path: partial.clone(), source })? {
                        silence.touch(Instant::now());
                        on_progress(progress);
                    }
                }
                Err(EventsError::Lagged(missed)) => return Err(CaptureError::Lagged { partial, missed }),
                // The session ended; the command fails with the reason next.
                Err(EventsError::Closed) => {}
            },
            // Nothing for too long.
            _ = tokio::time::sleep_until(expiry) => {
                return Err(CaptureError::Silence { partial, silence: silence.silence() });
            }
        }
    }
    // Chunks already buffered when the reply arrived.
    while let Some(event) = events.try_recv() {
        match event {
            Ok(event) => {
                write_event(&event.typed, &mut out, &mut progress).map_err(|source| {
                    CaptureError::Write {
                        path: partial.clone(),
                        source,
                    }
                })?;
            }
            Err(EventsError::Lagged(missed)) => {
                return Err(CaptureError::Lagged { partial, missed })
            }
            Err(EventsError::Closed) => break,
        }
    }
    out.flush().map_err(|source| CaptureError::Write {
        path: partial.clone(),
        source,
    })?;
    drop(out);
    on_progress(progress);

    // Validation scans the whole file (about a second for 400 MB), so it runs
    // off the async threads.
    let checked = partial.clone();
    let validation = tokio::task::spawn_blocking(move || check_complete(&checked))
        .await
        .unwrap_or_else(|error| Err(format!("validation task failed: {error}")));
    if let Err(reason) = validation {
        return Err(CaptureError::Invalid { partial, reason });
    }
    std::fs::rename(&partial, path).map_err(|source| CaptureError::Rename {
        partial: partial.clone(),
        path: path.to_owned(),
        source,
    })?;
    Ok(SnapshotEvent {
        path: path.display().to_string(),
        bytes: progress.bytes,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        gc: options.gc_first,
        status: SNAPSHOT_OK.to_owned(),
    })
}

/// Captures while a recorder runs: sampling pauses (a `gap` is recorded,
/// because the page cannot reply during a capture), and a `snapshot`
/// record with the outcome is written either way.
pub async fn capture_recorded(
    session: &Session,
    recorder: &RecorderHandle,
    path: &Path,
    options: &CaptureOptions,
    on_progress: impl FnMut(Progress),
) -> Result<SnapshotEvent, CaptureError> {
    let started = Instant::now();
    recorder.pause("heap snapshot in progress").await;
    let result = capture(session, path, options, on_progress).await;
    let event = match &result {
        Ok(event) => event.clone(),
        Err(error) => {
            let kept = error
                .partial()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| path.to_owned());
            SnapshotEvent {
                bytes: std::fs::metadata(&kept)
                    .map(|metadata| metadata.len())
                    .unwrap_or(0),
                path: kept.display().to_string(),
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                gc: options.gc_first,
                status: error.to_string(),
            }
        }
    };
    recorder.record(RecordBody::Snapshot(event)).await;
    recorder.resume().await;
    result
}

/// Writes a chunk or counts progress. Returns true when the event was one of the two.
fn write_event(
    event: &Option<TypedEvent>,
    out: &mut impl Write,
    progress: &mut Progress,
) -> std::io::Result<bool> {
    match event {
        Some(TypedEvent::HeapSnapshotChunk(chunk)) => {
            out.write_all(chunk.chunk.as_bytes())?;
            progress.bytes += chunk.chunk.len() as u64;
            Ok(true)
        }
        Some(TypedEvent::HeapSnapshotProgress(report)) => {
            progress.done = u64::try_from(report.done).unwrap_or(0);
            progress.total = u64::try_from(report.total).unwrap_or(0);
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Checks that a snapshot file is complete: non-empty, complete JSON of the
/// V8 snapshot shape, and with as many nodes as its header announces.
pub fn check_complete(path: &Path) -> Result<(), String> {
    let length = std::fs::metadata(path)
        .map_err(|error| format!("failed to read it: {error}"))?
        .len();
    if length == 0 {
        return Err("it is empty (0 bytes)".to_owned());
    }
    leakscope_heap::validate_file(path)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_path_appends_suffix() {
        assert_eq!(
            partial_path(Path::new("/tmp/a.heapsnapshot")),
            PathBuf::from("/tmp/a.heapsnapshot.partial")
        );
    }

    #[test]
    fn completeness_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.heapsnapshot");
        std::fs::write(&path, "").unwrap();
        assert!(check_complete(&path).unwrap_err().contains("empty"));
        std::fs::write(&path, "{\"snapshot\":{},\"nodes\":[1,2").unwrap();
        assert!(check_complete(&path).is_err());
        let valid = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../heap/tests/fixtures/v1-current.heapsnapshot"
        );
        std::fs::copy(valid, &path).unwrap();
        assert!(check_complete(&path).is_ok());
    }
}
