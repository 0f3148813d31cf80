//! Bundles end to end on real files: export, import, the trace inside, the
//! redaction of secrets, snapshot validation, and the rejection of bad input.

mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use leakscope_model::*;
use leakscope_report::bundle::{self, FileStatus, Manifest};
use leakscope_report::{export_bundle, open_bundle, BundleError, ExportOptions, ImportLimits};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn write_recording(dir: &Path, recording: &Recording) -> PathBuf {
    let path = dir.join("run.jsonl");
    let mut writer = RecordingWriter::create(&path, &recording.header).unwrap();
    for record in &recording.records {
        writer.append(record).unwrap();
    }
    drop(writer);
    path
}

/// A small V8-shaped snapshot body; only its size and ends are checked on export.
const SNAPSHOT_TEXT: &str =
    r#"{"snapshot":{"meta":{},"node_count":0,"edge_count":0},"nodes":[],"edges":[],"strings":[]}"#;

fn write_snapshots(dir: &Path) {
    std::fs::create_dir_all(dir.join("snapshots")).unwrap();
    for (name, second) in [("first", false), ("second", true)] {
        std::fs::write(
            dir.join(format!("snapshots/{name}.heapsnapshot")),
            common::snapshot_text(second),
        )
        .unwrap();
    }
}

/// Exports the fixture to `bundle.zip` in `dir` and returns the zip's path.
fn export_fixture(dir: &Path, options: &ExportOptions) -> PathBuf {
    let recording_path = write_recording(dir, &common::recording());
    write_snapshots(dir);
    let out = dir.join("bundle.zip");
    export_bundle(&recording_path, &out, options).unwrap();
    out
}

/// Reads every entry of a zip, by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut entries = BTreeMap::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        entries.insert(entry.name().to_owned(), data);
    }
    entries
}

/// Writes `entries` as a new zip, in order.
fn zip_entries(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Rebuilds a bundle with `entry` replaced by `data`, optionally fixing the
/// manifest's size and sha256 for it so only the content is wrong.
fn replace_entry(bundle: &[u8], entry: &str, data: Vec<u8>, fix_manifest: bool) -> Vec<u8> {
    let mut entries = unzip(bundle);
    if fix_manifest {
        let mut manifest: Manifest = serde_json::from_slice(&entries[bundle::MANIFEST]).unwrap();
        let file = manifest
            .files
            .iter_mut()
            .find(|file| file.path == entry)
            .unwrap();
        file.size = Some(data.len() as u64);
        file.sha256 = Some(sha256_hex(&data));
        entries.insert(
            bundle::MANIFEST.to_owned(),
            serde_json::to_vec(&manifest).unwrap(),
        );
    }
    entries.insert(entry.to_owned(), data);
    zip_entries(&entries.into_iter().collect::<Vec<_>>())
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn round_trip_equal_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = export_fixture(dir.path(), &ExportOptions::default());
    let imported = open_bundle(&out, &ImportLimits::default()).unwrap();
    assert_eq!(imported.recording, common::recording());
    assert!(imported
        .report_md
        .unwrap()
        .starts_with("# Leakscope report: Video editor (demo, leaky)"));
    let files: Vec<&str> = imported
        .manifest
        .files
        .iter()
        .map(|file| file.path.as_str())
        .collect();
    for expected in [
        bundle::RECORDING,
        bundle::TRACE,
        bundle::REPORT,
        bundle::CHART_PNG,
        bundle::CHART_SVG,
    ] {
        assert!(files.contains(&expected), "manifest lacks {expected}");
        assert!(
            imported.verified.iter().any(|path| path == expected),
            "{expected} not verified"
        );
    }
}

#[test]
fn manifest_lists_versions_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = export_fixture(dir.path(), &ExportOptions::default());
    let entries = unzip(&std::fs::read(&out).unwrap());
    let manifest: Manifest = serde_json::from_slice(&entries[bundle::MANIFEST]).unwrap();
    assert_eq!(manifest.format, bundle::BUNDLE_FORMAT);
    assert_eq!(manifest.browser.product, "HeadlessChrome/156.0.8078.73");
    assert_eq!(
        manifest.target.url,
        "http://127.0.0.1:8080/editor?variant=leaky"
    );
    assert_eq!(manifest.started_at, "2025-12-04T19:20:00Z");
    assert_eq!(manifest.ended_at, "2025-12-04T19:30:00Z");
    for file in manifest.files.iter().filter(|file| file.is_packed()) {
        let data = &entries[&file.path];
        assert_eq!(file.size, Some(data.len() as u64), "{} size", file.path);
        assert_eq!(
            file.sha256.as_deref(),
            Some(sha256_hex(data).as_str()),
            "{} sha256",
            file.path
        );
    }
}

#[test]
fn snapshots_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = export_fixture(dir.path(), &ExportOptions::default());
    let entries = unzip(&std::fs::read(&out).unwrap());
    assert!(
        !entries.keys().any(|name| name.starts_with("snapshots/")),
        "snapshot packed without --with-snapshots"
    );
    let manifest: Manifest = serde_json::from_slice(&entries[bundle::MANIFEST]).unwrap();
    let first = manifest.file("snapshots/first.heapsnapshot").unwrap();
    assert_eq!(first.status, FileStatus::Omitted);
    assert!(first
        .reason
        .as_deref()
        .unwrap()
        .contains("--with-snapshots"));

    let dir = tempfile::tempdir().unwrap();
    let out = export_fixture(
        dir.path(),
        &ExportOptions {
            with_snapshots: true,
            ..ExportOptions::default()
        },
    );
    let entries = unzip(&std::fs::read(&out).unwrap());
    assert_eq!(
        entries["snapshots/first.heapsnapshot"],
        common::snapshot_text(false).as_bytes()
    );
    open_bundle(&out, &ImportLimits::default()).unwrap();
}

#[test]
fn report_has_snapshot_diff() {
    let dir = tempfile::tempdir().unwrap();
    let out = export_fixture(dir.path(), &ExportOptions::default());
    let entries = unzip(&std::fs::read(&out).unwrap());
    let report = String::from_utf8(entries[bundle::REPORT].clone()).unwrap();
    assert!(
        report.contains(
            "### What grew from `snapshots/first.heapsnapshot` to `snapshots/second.heapsnapshot`"
        ),
        "{report}"
    );
    assert!(
        report.contains("| `PollState` | 12000 | 0 | +12000 |"),
        "{report}"
    );
    assert!(
        !report.contains("| `Editor` |"),
        "unchanged class listed:\n{report}"
    );
}

#[test]
fn invalid_snapshot_not_packed() {
    let dir = tempfile::tempdir().unwrap();
    let recording_path = write_recording(dir.path(), &common::recording());
    write_snapshots(dir.path());
    // Same length, still ends with `]}`, but the header announces more nodes
    // than the file holds: only the full parse finds it.
    let path = dir.path().join("snapshots/first.heapsnapshot");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"node_count\":20001", "\"node_count\":20009");
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("bundle.zip");
    let options = ExportOptions {
        with_snapshots: true,
        ..ExportOptions::default()
    };
    let summary = export_bundle(&recording_path, &out, &options).unwrap();
    let file = summary
        .manifest
        .file("snapshots/first.heapsnapshot")
        .unwrap();
    assert_eq!(file.status, FileStatus::Incomplete);
    assert!(
        file.reason.as_deref().unwrap().contains("expected 20009"),
        "{:?}",
        file.reason
    );
    let entries = unzip(&std::fs::read(&out).unwrap());
    assert!(!entries.contains_key("snapshots/first.heapsnapshot"));
    assert!(entries.contains_key("snapshots/second.heapsnapshot"));
}

#[test]
fn bad_snapshots_listed_not_packed() {
    let dir = tempfile::tempdir().unwrap();
    let mut recording = common::recording();
    let snapshot = |path: &str, bytes: u64, status: &str| Record {
        t: 10.0,
        body: RecordBody::Snapshot(SnapshotEvent {
            path: path.into(),
            bytes,
            duration_ms: 100,
            gc: false,
            status: status.into(),
        }),
    };
    recording
        .records
        .retain(|record| !matches!(record.body, RecordBody::Snapshot(_)));
    recording
        .records
        .push(snapshot("empty.heapsnapshot", 0, "ok"));
    recording
        .records
        .push(snapshot("cut.heapsnapshot", 0, "ok"));
    recording
        .records
        .push(snapshot("short.heapsnapshot", 10_000, "ok"));
    recording
        .records
        .push(snapshot("capture.heapsnapshot.partial", 0, "ok"));
    recording.records.push(snapshot(
        "failed.heapsnapshot",
        0,
        "tab closed during the capture",
    ));
    recording
        .records
        .push(snapshot("missing.heapsnapshot", 0, "ok"));
    std::fs::write(dir.path().join("empty.heapsnapshot"), "").unwrap();
    std::fs::write(dir.path().join("cut.heapsnapshot"), &SNAPSHOT_TEXT[..40]).unwrap();
    std::fs::write(dir.path().join("short.heapsnapshot"), SNAPSHOT_TEXT).unwrap();
    std::fs::write(
        dir.path().join("capture.heapsnapshot.partial"),
        &SNAPSHOT_TEXT[..30],
    )
    .unwrap();
    let recording_path = write_recording(dir.path(), &recording);
    let out = dir.path().join("bundle.zip");
    let options = ExportOptions {
        with_snapshots: true,
        ..ExportOptions::default()
    };
    let summary = export_bundle(&recording_path, &out, &options).unwrap();

    let entries = unzip(&std::fs::read(&out).unwrap());
    assert!(
        !entries.keys().any(|name| name.starts_with("snapshots/")),
        "a bad snapshot was packed: {:?}",
        entries.keys()
    );
    let status = |name: &str| {
        let file = summary.manifest.file(&format!("snapshots/{name}")).unwrap();
        (file.status, file.reason.clone().unwrap())
    };
    assert_eq!(
        status("empty.heapsnapshot"),
        (FileStatus::Omitted, "0 bytes".to_owned())
    );
    let (cut_status, cut_reason) = status("cut.heapsnapshot");
    assert_eq!(cut_status, FileStatus::Incomplete);
    assert!(
        cut_reason.starts_with("truncated at offset 40"),
        "{cut_reason}"
    );
    let (short_status, short_reason) = status("short.heapsnapshot");
    assert_eq!(short_status, FileStatus::Incomplete);
    assert!(
        short_reason.starts_with(&format!("truncated at offset {}", SNAPSHOT_TEXT.len())),
        "{short_reason}"
    );
    assert_eq!(
        status("capture.heapsnapshot.partial").0,
        FileStatus::Incomplete
    );
    assert!(status("failed.heapsnapshot").1.contains("tab closed"));
    assert!(status("missing.heapsnapshot")
        .1
        .starts_with("file not found"));
    assert_eq!(summary.problems().count(), 6);
}

#[test]
fn trace_is_valid_trace_event_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = export_fixture(dir.path(), &ExportOptions::default());
    let entries = unzip(&std::fs::read(&out).unwrap());
    let trace: Value = serde_json::from_slice(&entries[bundle::TRACE]).unwrap();
    assert_eq!(trace["displayTimeUnit"], "ms");
    let events = trace["traceEvents"].as_array().unwrap();

    let mut last_ts: BTreeMap<(u64, u64), f64> = BTreeMap::new();
    let mut open_spans: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut phases: BTreeMap<String, u32> = BTreeMap::new();
    for event in events {
        let ph = event["ph"]
            .as_str()
            .unwrap_or_else(|| panic!("event without ph: {event}"));
        *phases.entry(ph.to_owned()).or_default() += 1;
        assert!(event["name"].is_string(), "event without name: {event}");
        let pid = event["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("event without pid: {event}"));
        let tid = event["tid"]
            .as_u64()
            .unwrap_or_else(|| panic!("event without tid: {event}"));
        let ts = event["ts"]
            .as_f64()
            .unwrap_or_else(|| panic!("event without ts: {event}"));
        if ph == "M" {
            assert!(
                event["args"]["name"].is_string(),
                "metadata without a name: {event}"
            );
            continue;
        }
        let previous = last_ts.insert((pid, tid), ts).unwrap_or(f64::MIN);
        assert!(
            ts >= previous,
            "ts goes back on track {pid}/{tid}: {previous} then {event}"
        );
        match ph {
            "X" => assert!(
                event["dur"].as_f64().is_some_and(|dur| dur >= 0.0),
                "X without dur: {event}"
            ),
            "C" => {
                let args = event["args"]
                    .as_object()
                    .unwrap_or_else(|| panic!("C without args: {event}"));
                assert!(
                    !args.is_empty() && args.values().all(Value::is_number),
                    "C args not numbers: {event}"
                );
            }
            "i" => assert!(
                matches!(event["s"].as_str(), Some("g" | "p" | "t")),
                "i without scope: {event}"
            ),
            "b" | "e" => {
                let key = (
                    event["cat"].as_str().expect("b/e without cat").to_owned(),
                    event["id"].as_str().expect("b/e without id").to_owned(),
                );
                let depth = open_spans.entry(key.clone()).or_default();
                if ph == "b" {
                    *depth += 1;
                } else {
                    assert!(*depth > 0, "e without b: {key:?}");
                    *depth -= 1;
                }
            }
            other => panic!("unexpected phase {other}: {event}"),
        }
    }
    assert!(
        open_spans.values().all(|&depth| depth == 0),
        "unmatched b events"
    );
    for phase in ["M", "C", "X", "b", "e", "i"] {
        assert!(
            phases.get(phase).copied().unwrap_or(0) > 0,
            "no {phase} events"
        );
    }
}

/// Secrets planted in every place a recording can carry text.
const SECRETS: &[&str] = &[
    "tok-AAAA1111",
    "key-BBBB2222",
    "sess-CCCC3333",
    "sig-DDDD4444",
    "pw-EEEE5555",
    "cookie-FFFF6666",
    "bearer-GGGG7777xyz",
    "code-HHHH8888",
    "body-IIII9999",
    "resp-JJJJ0000",
    "extra-KKKK1212",
    "sidecar-LLLL3434",
];

fn secret_recording() -> Recording {
    let mut recording = common::recording();
    recording.header.target.url = "https://app.test/editor?token=tok-AAAA1111&tab=2".into();
    recording.header.settings.extra.insert(
        "headers".into(),
        serde_json::json!({"Authorization": "Bearer bearer-GGGG7777xyz", "api_key": "extra-KKKK1212"}),
    );
    let mut body_fields = BTreeMap::new();
    body_fields.insert("operationName".to_owned(), "op-9".to_owned());
    body_fields.insert("apiKey".to_owned(), "body-IIII9999".to_owned());
    let mut response_fields = BTreeMap::new();
    response_fields.insert("status".to_owned(), "processing".to_owned());
    response_fields.insert("session_token".to_owned(), "resp-JJJJ0000".to_owned());
    let planted = vec![
        RecordBody::Navigation {
            url: "https://app.test/cb?code=code-HHHH8888&state=ok".into(),
            navigation: NavigationKind::Full,
        },
        RecordBody::Site(Site {
            id: 9,
            url: "https://cdn.test/app.js?sig=x&X-Amz-Signature=sig-DDDD4444".into(),
            line: 1,
            column: 2,
            function: "f".into(),
            raw: "at f (https://cdn.test/app.js?X-Amz-Signature=sig-DDDD4444:1:2)".into(),
        }),
        RecordBody::RequestStarted(RequestStarted {
            id: "9.1".into(),
            api: RequestApi::Fetch,
            method: "POST".into(),
            url: "https://user:pw-EEEE5555@api.test/api/video/status?operationName=op-9&api_key=key-BBBB2222&sessionId=sess-CCCC3333"
                .into(),
            site: Some(9),
            controller: None,
            signal_aborted: false,
            timer: None,
            body_fields,
            page_ms: 1.0,
        }),
        RecordBody::RequestEnded(RequestEnded {
            id: "9.1".into(),
            outcome: RequestOutcome::Completed { status: 200 },
            response_fields,
            page_ms: 2.0,
        }),
        RecordBody::Network(NetworkEvent::Sent {
            request_id: "n1".into(),
            method: "GET".into(),
            url: "https://api.test/x?access_token=tok-AAAA1111".into(),
        }),
        RecordBody::Marker {
            label: "Cookie: sid=cookie-FFFF6666; theme=dark".into(),
        },
        RecordBody::Alert(Alert {
            level: AlertLevel::Warning,
            rule: "request.open".into(),
            subject: "https://api.test/slow?token=tok-AAAA1111".into(),
            message: "open 3 min: https://api.test/slow?password=pw-EEEE5555".into(),
            first_seen: 5.0,
            last_seen: 6.0,
            count: 2,
        }),
    ];
    for (index, body) in planted.into_iter().enumerate() {
        recording
            .records
            .insert(10 + index, Record { t: 5.0, body });
    }
    recording
}

#[test]
fn secrets_never_in_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let recording_path = write_recording(dir.path(), &secret_recording());
    std::fs::write(
        dir.path().join("run.undecoded.jsonl"),
        "{\"method\":\"Network.requestWillBeSent\",\"url\":\"https://api.test/?token=sidecar-LLLL3434\"}\n",
    )
    .unwrap();
    let out = dir.path().join("bundle.zip");
    export_bundle(&recording_path, &out, &ExportOptions::default()).unwrap();

    let raw = std::fs::read(&out).unwrap();
    let entries = unzip(&raw);
    assert!(
        entries.contains_key(bundle::UNDECODED),
        "sidecar not packed"
    );
    for (name, data) in &entries {
        for secret in SECRETS {
            let found = data
                .windows(secret.len())
                .any(|window| window == secret.as_bytes());
            assert!(!found, "secret {secret} found in {name}");
        }
    }
    let recording = String::from_utf8(entries[bundle::RECORDING].clone()).unwrap();
    assert!(
        recording.contains("operationName=op-9&api_key=REDACTED&sessionId=REDACTED"),
        "redacted URL not kept readable"
    );
    assert!(
        recording.contains("\"status\":\"processing\""),
        "poll status field lost"
    );
}

// ---- bad input -------------------------------------------------------------

fn import_bytes(bytes: &[u8]) -> Result<leakscope_report::ImportedBundle, BundleError> {
    bundle::read_bundle(bytes, &ImportLimits::default())
}

fn valid_bundle() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = export_fixture(dir.path(), &ExportOptions::default());
    std::fs::read(out).unwrap()
}

#[test]
fn parent_dir_entry_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = unzip(&valid_bundle()).into_iter().collect();
    entries.push(("../evil.txt".to_owned(), b"owned".to_vec()));
    let path = dir.path().join("evil.zip");
    std::fs::write(&path, zip_entries(&entries)).unwrap();
    let before = files_in(dir.path());

    let error = open_bundle(&path, &ImportLimits::default()).unwrap_err();
    assert!(
        matches!(&error, BundleError::UnsafePath { entry, .. } if entry == "../evil.txt"),
        "{error}"
    );
    assert!(error.to_string().contains("../evil.txt"));
    assert_eq!(
        files_in(dir.path()),
        before,
        "import wrote into the directory"
    );
    assert!(
        !dir.path().parent().unwrap().join("evil.txt").exists(),
        "import wrote outside the directory"
    );
}

#[test]
fn absolute_entry_rejected() {
    let bytes = zip_entries(&[("/tmp/leakscope-absolute.txt".to_owned(), b"x".to_vec())]);
    let error = import_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            BundleError::UnsafePath {
                why: "absolute path",
                ..
            }
        ),
        "{error}"
    );
    assert!(!Path::new("/tmp/leakscope-absolute.txt").exists());
}

#[test]
fn symlink_entry_rejected() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.add_symlink(
        "charts/link",
        "/etc/passwd",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let error = import_bytes(&bytes).unwrap_err();
    assert!(
        matches!(&error, BundleError::Symlink { entry } if entry == "charts/link"),
        "{error}"
    );
}

#[test]
fn zip_bomb_rejected() {
    // 64 MiB of zeros deflate to about 64 KiB: a ratio near 1000.
    let zeros = vec![0u8; 64 << 20];
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("recording.jsonl", options).unwrap();
    zip.write_all(&zeros).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let error = import_bytes(&bytes).unwrap_err();
    assert!(
        matches!(&error, BundleError::CompressionRatio { entry, .. } if entry == "recording.jsonl"),
        "{error}"
    );
}

#[test]
fn entry_over_size_limit_rejected() {
    let limits = ImportLimits {
        max_entry_bytes: 1000,
        ..ImportLimits::default()
    };
    let error = bundle::read_bundle(&valid_bundle(), &limits).unwrap_err();
    assert!(
        matches!(error, BundleError::EntryTooLarge { limit: 1000, .. }),
        "{error}"
    );
}

#[test]
fn understated_size_rejected() {
    // Patch report.md's declared uncompressed size down to 10 bytes in both the
    // local header and the central directory: the entry then inflates past it.
    let mut bytes = valid_bundle();
    let name = bundle::REPORT.as_bytes();
    let mut patched = 0;
    for at in 0..bytes.len().saturating_sub(46) {
        let local = bytes[at..at + 4] == [0x50, 0x4b, 0x03, 0x04]
            && bytes.get(at + 30..at + 30 + name.len()) == Some(name);
        let central = bytes[at..at + 4] == [0x50, 0x4b, 0x01, 0x02]
            && bytes.get(at + 46..at + 46 + name.len()) == Some(name);
        let offset = if local {
            22
        } else if central {
            24
        } else {
            continue;
        };
        bytes[at + offset..at + offset + 4].copy_from_slice(&10u32.to_le_bytes());
        patched += 1;
    }
    assert_eq!(patched, 2, "expected one local and one central header");
    let error = import_bytes(&bytes).unwrap_err();
    let names_entry = match &error {
        BundleError::SizeMismatch { entry, .. }
        | BundleError::Entry { entry, .. }
        | BundleError::ManifestSizeMismatch { entry, .. } => entry == bundle::REPORT,
        _ => false,
    };
    assert!(names_entry, "{error}");
}

#[test]
fn duplicate_entry_rejected() {
    let mut entries: Vec<(String, Vec<u8>)> = unzip(&valid_bundle()).into_iter().collect();
    entries.push((bundle::REPORT.to_owned(), b"# a different report".to_vec()));
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in &entries {
        // The zip crate refuses duplicate names, so write the second copy under
        // a placeholder of the same length and patch the name afterwards.
        let name = if data.starts_with(b"# a different") {
            "report.mX".to_owned()
        } else {
            name.clone()
        };
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(data).unwrap();
    }
    let mut bytes = zip.finish().unwrap().into_inner();
    let mut patched = 0;
    for at in 0..bytes.len().saturating_sub(9) {
        if &bytes[at..at + 9] == b"report.mX" {
            bytes[at + 8] = b'd';
            patched += 1;
        }
    }
    assert_eq!(
        patched, 2,
        "expected the name in one local and one central header"
    );
    // zip 2 indexes entries by name and keeps the last of two, so the copy
    // that is read fails verification. Either way the bundle is rejected.
    let error = import_bytes(&bytes).unwrap_err();
    let rejected = match &error {
        BundleError::UnsafePath { why, .. } => *why == "duplicate entry name",
        BundleError::ManifestSizeMismatch { entry, .. }
        | BundleError::ChecksumMismatch { entry, .. } => entry == bundle::REPORT,
        _ => false,
    };
    assert!(rejected, "{error}");
}

#[test]
fn truncated_zip_rejected() {
    let bytes = valid_bundle();
    let error = import_bytes(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(error, BundleError::InvalidZip { .. }), "{error}");
}

#[test]
fn wrong_sha256_rejected() {
    let bytes = valid_bundle();
    let mut entries = unzip(&bytes);
    let mut report = entries[bundle::REPORT].clone();
    report[2] = b'X';
    entries.insert(bundle::REPORT.to_owned(), report);
    let tampered = zip_entries(&entries.into_iter().collect::<Vec<_>>());
    let error = import_bytes(&tampered).unwrap_err();
    assert!(
        matches!(&error, BundleError::ChecksumMismatch { entry, .. } if entry == bundle::REPORT),
        "{error}"
    );
    assert!(error.to_string().contains("report.md"));
}

#[test]
fn unlisted_entry_rejected() {
    let mut entries: Vec<(String, Vec<u8>)> = unzip(&valid_bundle()).into_iter().collect();
    entries.push(("extra.js".to_owned(), b"alert(1)".to_vec()));
    let error = import_bytes(&zip_entries(&entries)).unwrap_err();
    assert!(
        matches!(&error, BundleError::UnlistedEntry { entry } if entry == "extra.js"),
        "{error}"
    );
}

#[test]
fn damaged_recording_in_bundle_rejected() {
    let bytes = valid_bundle();
    let recording = unzip(&bytes)[bundle::RECORDING].clone();
    let mut lines: Vec<&[u8]> = recording.split(|&byte| byte == b'\n').collect();
    lines[5] = b"{\"t\":1,\"kind\":\"nonsense\"}";
    let damaged = lines.join(&b'\n');
    let error = import_bytes(&replace_entry(&bytes, bundle::RECORDING, damaged, true)).unwrap_err();
    assert!(
        matches!(&error, BundleError::DamagedRecording { line: 6, .. }),
        "{error}"
    );
}

#[test]
fn damaged_recording_not_exported() {
    let dir = tempfile::tempdir().unwrap();
    let recording_path = write_recording(dir.path(), &common::recording());
    let text = std::fs::read_to_string(&recording_path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{\"t\":1,\"kind\":";
    std::fs::write(&recording_path, lines.join("\n") + "\n").unwrap();
    let before = files_in(dir.path());

    let out = dir.path().join("bundle.zip");
    let error = export_bundle(&recording_path, &out, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(
            error,
            BundleError::Recording(RecordingError::Damaged { line: 4, .. })
        ),
        "{error}"
    );
    assert_eq!(
        files_in(dir.path()),
        before,
        "a failed export left files behind"
    );
}

#[test]
fn existing_output_kept() {
    let dir = tempfile::tempdir().unwrap();
    let recording_path = write_recording(dir.path(), &common::recording());
    let out = dir.path().join("bundle.zip");
    std::fs::write(&out, "keep me").unwrap();
    let error = export_bundle(&recording_path, &out, &ExportOptions::default()).unwrap_err();
    assert!(matches!(error, BundleError::Exists { .. }), "{error}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
}
