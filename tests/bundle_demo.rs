//! `leakscope demo --bundle`: the bundle of a leaky demo run shows the leak
//! without Leakscope's setup, and imports back to the recording it came from.

use std::process::Command;

use leakscope_model::RecordingReader;
use leakscope_report::bundle::FileStatus;
use leakscope_report::{open_bundle, ImportLimits};
use serde_json::Value;

#[test]
fn leaky_demo_bundle_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("out.zip");
    let output = Command::new(env!("CARGO_BIN_EXE_leakscope"))
        .args([
            "demo",
            "--headless",
            "--variant",
            "leaky",
            "--flow",
            "video",
            "--duration",
            "20s",
            "--json",
        ])
        .arg("--out")
        .arg(dir.path().join("recordings"))
        .arg("--bundle")
        .arg(&bundle)
        .output()
        .expect("failed to run leakscope demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "leakscope demo failed: {stderr}");
    let summary: Value =
        serde_json::from_slice(&output.stdout).expect("demo --json printed invalid JSON");
    let recording_path = summary["recording"]
        .as_str()
        .expect("summary has no recording path");

    let imported =
        open_bundle(&bundle, &ImportLimits::default()).expect("the bundle does not import");
    let original = RecordingReader::read_all(recording_path.as_ref()).unwrap();
    assert_eq!(imported.recording.header, original.header);
    assert_eq!(imported.recording.records.len(), original.records.len());
    assert_eq!(
        imported.recording, original,
        "the bundled recording differs from the original"
    );

    let report = imported.report_md.expect("the bundle has no report.md");
    assert!(
        report.contains("orphaned"),
        "report.md does not name the orphaned lifecycle:\n{report}"
    );
    for name in [
        "trace.json",
        "charts/overview.png",
        "charts/overview.svg",
        "report.md",
    ] {
        let file = imported
            .manifest
            .files
            .iter()
            .find(|file| file.path == name);
        let file = file.unwrap_or_else(|| panic!("{name} is not in the manifest"));
        assert_eq!(
            file.status,
            FileStatus::Ok,
            "{name} is not ok: {:?}",
            file.reason
        );
        assert!(
            imported.verified.iter().any(|entry| entry == name),
            "{name} was not verified"
        );
    }
}
