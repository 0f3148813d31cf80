//! Reading and writing recording files (JSON Lines, see [`crate::record`]).
//!
//! The writer appends and flushes whenever the caller asks and at least once a
//! second, so a crash loses at most the last second. The reader accepts a file
//! whose last line was cut by a crash (it reports it through
//! [`Recording::truncated_tail`]) and rejects any other damaged line with its
//! line number.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::record::{Header, Record, FORMAT_VERSION};

/// How long written records may sit in the buffer before they reach the file.
pub const MAX_FLUSH_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("failed to open recording {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("failed to write recording {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("failed to read recording {path} at line {line}: {source}")]
    Read {
        path: PathBuf,
        line: usize,
        source: io::Error,
    },
    #[error("recording {path} is empty: it has no header line")]
    Empty { path: PathBuf },
    #[error("{path} is not a Leakscope recording: its first line is not a valid header ({message}); open a .jsonl file that leakscope record wrote, or a bundle")]
    BadHeader { path: PathBuf, message: String },
    #[error("recording {path} line {line} is damaged: {message}; the lines before it are readable, so cut the file there or re-record")]
    Damaged {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("recording {path} has format version {found}, but this build reads up to {supported}; update Leakscope")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
}

/// Appends records to a recording file.
#[derive(Debug)]
pub struct RecordingWriter {
    path: PathBuf,
    out: BufWriter<File>,
    last_flush: Instant,
    records: u64,
}

impl RecordingWriter {
    /// Creates the file (failing if it exists) and writes the header line.
    pub fn create(path: &Path, header: &Header) -> Result<Self, RecordingError> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| RecordingError::Open {
                path: path.to_owned(),
                source,
            })?;
        let mut writer = RecordingWriter {
            path: path.to_owned(),
            out: BufWriter::new(file),
            last_flush: Instant::now(),
            records: 0,
        };
        writer.write_line(header)?;
        writer.flush()?;
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of records written after the header.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Appends one record, flushing if the last flush is older than [`MAX_FLUSH_DELAY`].
    pub fn append(&mut self, record: &Record) -> Result<(), RecordingError> {
        self.write_line(record)?;
        self.records += 1;
        if self.last_flush.elapsed() >= MAX_FLUSH_DELAY {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes buffered records to the file and asks the OS to keep them.
    pub fn flush(&mut self) -> Result<(), RecordingError> {
        self.out
            .flush()
            .map_err(|source| self.write_error(source))?;
        self.last_flush = Instant::now();
        Ok(())
    }

    fn write_line<T: serde::Serialize>(&mut self, value: &T) -> Result<(), RecordingError> {
        // Serialising model types cannot fail: they hold no maps with non-string
        // keys and no non-finite floats are produced by the core.
        let line = serde_json::to_string(value)
            .map_err(|error| self.write_error(io::Error::other(error)))?;
        self.out
            .write_all(line.as_bytes())
            .map_err(|source| self.write_error(source))?;
        self.out
            .write_all(b"\n")
            .map_err(|source| self.write_error(source))
    }

    fn write_error(&self, source: io::Error) -> RecordingError {
        RecordingError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        if let Err(error) = self.out.flush() {
            // Drop cannot return the error; the next reader sees a short file.
            eprintln!(
                "warning: failed to flush recording {}: {error}",
                self.path.display()
            );
        }
    }
}

/// A whole recording read into memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub header: Header,
    pub records: Vec<Record>,
    /// The last line was cut short (the writer was killed mid-line); it was skipped.
    pub truncated_tail: bool,
}

/// Streams records from a recording file.
#[derive(Debug)]
pub struct RecordingReader {
    path: PathBuf,
    lines: io::Lines<BufReader<File>>,
    line_number: usize,
    header: Header,
    /// The line read ahead, to tell a damaged last line from a damaged middle one.
    pending: Option<String>,
    truncated_tail: bool,
}

impl RecordingReader {
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        let file = File::open(path).map_err(|source| RecordingError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mut lines = BufReader::new(file).lines();
        let first = match lines.next() {
            None => {
                return Err(RecordingError::Empty {
                    path: path.to_owned(),
                })
            }
            Some(line) => line.map_err(|source| RecordingError::Read {
                path: path.to_owned(),
                line: 1,
                source,
            })?,
        };
        let header: Header =
            serde_json::from_str(&first).map_err(|error| RecordingError::BadHeader {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
        if header.format_version > FORMAT_VERSION {
            return Err(RecordingError::UnsupportedVersion {
                path: path.to_owned(),
                found: header.format_version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(RecordingReader {
            path: path.to_owned(),
            lines,
            line_number: 1,
            header,
            pending: None,
            truncated_tail: false,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// True once the reader skipped a cut-short last line.
    pub fn truncated_tail(&self) -> bool {
        self.truncated_tail
    }

    /// Reads the whole file.
    pub fn read_all(path: &Path) -> Result<Recording, RecordingError> {
        let mut reader = RecordingReader::open(path)?;
        let mut records = Vec::new();
        for record in reader.by_ref() {
            records.push(record?);
        }
        Ok(Recording {
            header: reader.header.clone(),
            records,
            truncated_tail: reader.truncated_tail,
        })
    }

    fn next_line(&mut self) -> Option<Result<String, RecordingError>> {
        if let Some(line) = self.pending.take() {
            return Some(Ok(line));
        }
        let line = self.lines.next()?;
        self.line_number += 1;
        Some(line.map_err(|source| RecordingError::Read {
            path: self.path.clone(),
            line: self.line_number,
            source,
        }))
    }
}

impl Iterator for RecordingReader {
    type Item = Result<Record, RecordingError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = match self.next_line()? {
                Ok(line) => line,
                Err(error) => return Some(Err(error)),
            };
            if line.trim().is_empty() {
                continue;
            }
            let line_number = self.line_number;
            match serde_json::from_str::<Record>(&line) {
                Ok(record) => return Some(Ok(record)),
                Err(error) => {
                    // A line that is cut short and is the last line of the file is
                    // what a crash mid-write leaves: skip it and say so.
                    let is_eof_error = error.classify() == serde_json::error::Category::Eof;
                    let is_last = match self.lines.next() {
                        None => true,
                        Some(Ok(next)) => {
                            self.line_number += 1;
                            self.pending = Some(next);
                            false
                        }
                        Some(Err(_)) => false,
                    };
                    if is_eof_error && is_last {
                        self.truncated_tail = true;
                        return None;
                    }
                    return Some(Err(RecordingError::Damaged {
                        path: self.path.clone(),
                        line: line_number,
                        message: error.to_string(),
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::*;

    fn header() -> Header {
        Header {
            format_version: FORMAT_VERSION,
            leakscope_version: "0.1.0".into(),
            browser: BrowserInfo::default(),
            target: TargetInfo {
                id: "T1".into(),
                kind: "page".into(),
                title: "t".into(),
                url: "http://127.0.0.1/".into(),
            },
            started_at_ms: 1_700_000_000_000.0,
            settings: Settings::default(),
        }
    }

    fn sample(t: f64, heap: u64) -> Record {
        Record {
            t,
            body: RecordBody::Sample(Sample {
                heap_used: heap,
                heap_total: heap * 2,
                ..Sample::default()
            }),
        }
    }

    #[test]
    fn round_trip_keeps_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let records = vec![
            sample(0.0, 10),
            Record {
                t: 0.5,
                body: RecordBody::Marker {
                    label: "clicked".into(),
                },
            },
            Record {
                t: 1.0,
                body: RecordBody::End {
                    reason: EndReason::Stopped,
                    message: String::new(),
                },
            },
        ];
        let mut writer = RecordingWriter::create(&path, &header()).unwrap();
        for record in &records {
            writer.append(record).unwrap();
        }
        drop(writer);
        let read = RecordingReader::read_all(&path).unwrap();
        assert_eq!(read.header, header());
        assert_eq!(read.records, records);
        assert!(!read.truncated_tail);
    }

    #[test]
    fn damaged_middle_line_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut text = serde_json::to_string(&header()).unwrap() + "\n";
        text += &serde_json::to_string(&sample(0.0, 1)).unwrap();
        text += "\n{\"t\":1,\"kind\":\"nonsense\"}\n";
        text += &serde_json::to_string(&sample(2.0, 1)).unwrap();
        text += "\n";
        std::fs::write(&path, text).unwrap();
        let error = RecordingReader::read_all(&path).unwrap_err();
        assert!(
            matches!(error, RecordingError::Damaged { line: 3, .. }),
            "{error}"
        );
    }

    #[test]
    fn foreign_file_says_it_is_not_a_recording() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "this is not a recording\n").unwrap();
        let error = RecordingReader::read_all(&path).unwrap_err();
        assert!(matches!(error, RecordingError::BadHeader { .. }), "{error}");
        assert!(
            error.to_string().contains("is not a Leakscope recording"),
            "{error}"
        );
    }

    #[test]
    fn cut_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut text = serde_json::to_string(&header()).unwrap() + "\n";
        text += &serde_json::to_string(&sample(0.0, 1)).unwrap();
        text += "\n{\"t\":1,\"kind\":\"sam";
        std::fs::write(&path, text).unwrap();
        let read = RecordingReader::read_all(&path).unwrap();
        assert_eq!(read.records.len(), 1);
        assert!(read.truncated_tail);
    }

    #[test]
    fn empty_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "").unwrap();
        assert!(matches!(
            RecordingReader::read_all(&path),
            Err(RecordingError::Empty { .. })
        ));
    }

    #[test]
    fn create_refuses_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "x").unwrap();
        assert!(matches!(
            RecordingWriter::create(&path, &header()),
            Err(RecordingError::Open { .. })
        ));
    }
}
