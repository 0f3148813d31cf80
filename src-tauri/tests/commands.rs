//! The shell's commands through Tauri's IPC on the mock runtime (no webview):
//! command names, camelCase arguments, return shapes and error codes, as the
//! UI receives them. The controller behind them is the real one, on a temporary
//! data directory and a real recording file.

use std::sync::Arc;

use leakscope_app::{App, DataDir};
use leakscope_desktop::{builder, StartupOptions, TauriSink};
use leakscope_model::{
    BrowserInfo, EndReason, Header, Record, RecordBody, RecordingWriter, Sample, Settings,
    TargetInfo, FORMAT_VERSION,
};
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;

struct Harness {
    // Kept alive for the window; dropped at the end of the test.
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    data: tempfile::TempDir,
}

fn harness() -> Harness {
    let data = tempfile::tempdir().unwrap();
    let sink = Arc::new(TauriSink::new());
    let controller = Arc::new(App::new(DataDir::at(data.path().to_owned()), sink.clone()).unwrap());
    let app = builder(mock_builder(), controller, sink, StartupOptions::default())
        .build(mock_context(noop_assets()))
        .unwrap();
    let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    Harness {
        _app: app,
        window,
        data,
    }
}

/// Invokes `command` with `args` as the UI's `invoke` does.
fn invoke(harness: &Harness, command: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: command.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    };
    get_ipc_response(&harness.window, request).map(|body| body.deserialize::<Value>().unwrap())
}

fn error_code(result: Result<Value, Value>) -> String {
    let error = result.expect_err("the command should reject");
    error["code"].as_str().unwrap_or_default().to_owned()
}

/// Writes a 10-sample recording of a page whose heap grows, into `dir`.
fn write_recording(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("leakscope-test.jsonl");
    let header = Header {
        format_version: FORMAT_VERSION,
        leakscope_version: "test".to_owned(),
        browser: BrowserInfo::default(),
        target: TargetInfo {
            id: "T1".to_owned(),
            kind: "page".to_owned(),
            title: "Demo editor".to_owned(),
            url: "http://127.0.0.1:8080/".to_owned(),
        },
        started_at_ms: 1_700_000_000_000.0,
        settings: Settings::default(),
    };
    let mut writer = RecordingWriter::create(&path, &header).unwrap();
    for n in 0..10u32 {
        let record = Record {
            t: f64::from(n),
            body: RecordBody::Sample(Sample {
                heap_used: 10_000_000 + u64::from(n) * 100_000,
                heap_total: 20_000_000,
                metrics: [("Nodes".to_owned(), 300.0)].into(),
                ..Sample::default()
            }),
        };
        writer.append(&record).unwrap();
    }
    writer
        .append(&Record {
            t: 10.0,
            body: RecordBody::End {
                reason: EndReason::Stopped,
                message: "stopped by the user".to_owned(),
            },
        })
        .unwrap();
    writer.flush().unwrap();
    path
}

#[test]
fn live_commands_need_a_session() {
    let harness = harness();
    for command in [
        "liveView",
        "detach",
        "forceGc",
        "reloadPage",
        "listSnapshots",
    ] {
        assert_eq!(
            error_code(invoke(&harness, command, json!({}))),
            "no_session",
            "{command}"
        );
    }
    assert_eq!(
        error_code(invoke(&harness, "valuesAt", json!({ "t": 1.0 }))),
        "no_session"
    );
    assert_eq!(
        error_code(invoke(
            &harness,
            "chart",
            json!({ "width": 800, "height": 400 })
        )),
        "no_session"
    );
}

#[test]
fn errors_carry_code_and_message() {
    let harness = harness();
    let error = invoke(&harness, "addMarker", json!({ "label": " " })).unwrap_err();
    assert_eq!(error["code"], "bad_input");
    assert!(error["message"]
        .as_str()
        .is_some_and(|message| message.contains("label")));
}

#[test]
fn open_demo_rejects_unknown_variant() {
    let harness = harness();
    let result = invoke(
        &harness,
        "openDemo",
        json!({ "variant": "broken", "flow": "video" }),
    );
    assert_eq!(error_code(result), "bad_input");
}

#[test]
fn attach_rejects_malformed_endpoint() {
    let harness = harness();
    let result = invoke(
        &harness,
        "attach",
        json!({ "endpoint": "not an endpoint", "targetId": "T1" }),
    );
    assert_eq!(error_code(result), "bad_input");
}

#[test]
fn pick_dialogs_reject_unknown_kind() {
    let harness = harness();
    let result = invoke(&harness, "pickOpenPath", json!({ "kind": "image" }));
    assert_eq!(error_code(result), "bad_input");
    let result = invoke(
        &harness,
        "pickSavePath",
        json!({ "kind": "image", "suggested": "x.zip" }),
    );
    assert_eq!(error_code(result), "bad_input");
}

#[test]
fn discover_lists_browsers_or_hints() {
    let harness = harness();
    let discovery = invoke(&harness, "discover", json!({})).unwrap();
    let browsers = discovery["browsers"].as_array().expect("a browsers list");
    let hints = discovery["hints"].as_array().expect("a hints list");
    let usable = browsers.iter().any(|browser| browser["error"].is_null());
    assert_eq!(hints.is_empty(), usable, "{discovery}");
}

#[test]
fn replay_of_a_recording() {
    let harness = harness();
    let path = write_recording(&harness.data.path().join("recordings"));

    let recent = invoke(&harness, "recentFiles", json!({})).unwrap();
    assert_eq!(recent[0]["kind"], "recording");
    assert_eq!(recent[0]["title"], "Demo editor");
    assert!(recent[0]["modifiedMs"].is_f64());

    let info = invoke(&harness, "openReplay", json!({ "path": path })).unwrap();
    assert_eq!(info["durationS"], 10.0);
    assert_eq!(info["target"]["title"], "Demo editor");
    assert!(info["snapshots"].as_array().is_some_and(Vec::is_empty));

    let view = invoke(&harness, "replayView", json!({ "t": 4.5 })).unwrap();
    assert_eq!(view["state"], "replay");
    assert_eq!(view["t"], 4.5);
    assert_eq!(view["counters"]["heapUsed"], 10_400_000);
    assert_eq!(view["counters"]["domNodes"], 300);

    let readout = invoke(&harness, "valuesAt", json!({ "t": 2.2 })).unwrap();
    assert_eq!(readout["heapUsed"], 10_200_000);

    let chart = invoke(
        &harness,
        "chart",
        json!({ "fromT": 2.0, "toT": 8.0, "width": 800, "height": 400 }),
    )
    .unwrap();
    assert!(chart["svg"]
        .as_str()
        .is_some_and(|svg| svg.starts_with("<svg")));
    assert_eq!(chart["fromT"], 2.0);
    assert!(chart["plot"]["width"]
        .as_f64()
        .is_some_and(|width| width > 100.0));

    let export = invoke(&harness, "exportBundle", json!({})).unwrap();
    let bundle = std::path::PathBuf::from(export["path"].as_str().unwrap());
    assert!(bundle.starts_with(harness.data.path().join("exports")));
    assert!(bundle.is_file());
    assert!(export["files"].as_u64().is_some_and(|files| files > 0));

    assert_eq!(
        invoke(&harness, "closeReplay", json!({})).unwrap(),
        Value::Null
    );
    assert_eq!(
        error_code(invoke(&harness, "replayView", json!({ "t": 1.0 }))),
        "no_session"
    );
}

#[test]
fn open_replay_of_missing_file_is_not_found() {
    let harness = harness();
    let path = harness.data.path().join("missing.jsonl");
    let result = invoke(&harness, "openReplay", json!({ "path": path }));
    assert_eq!(error_code(result), "not_found");
}

#[test]
fn open_replay_of_garbage_is_bundle_invalid() {
    let harness = harness();
    let path = harness.data.path().join("garbage.zip");
    std::fs::write(&path, b"PK\x03\x04 this is not a zip").unwrap();
    let result = invoke(&harness, "openReplay", json!({ "path": path }));
    assert_eq!(error_code(result), "bundle_invalid");
}

#[test]
fn start_repro_without_a_session_is_no_session() {
    let harness = harness();
    let result = invoke(
        &harness,
        "startRepro",
        json!({ "action": "openPanel()", "undo": "closePanel()" }),
    );
    assert_eq!(error_code(result), "no_session");
    // Nothing runs, so cancelling is a no-op and not an error.
    assert_eq!(
        invoke(&harness, "cancelRepro", json!({})).unwrap(),
        Value::Null
    );
}

#[test]
fn start_repro_names_a_bad_spec_before_anything_runs() {
    let harness = harness();
    let result = invoke(
        &harness,
        "startRepro",
        json!({ "action": "[{\"hover\": \"#x\"}]", "undo": "closePanel()" }),
    );
    assert_eq!(error_code(result.clone()), "bad_input");
    let message = result.unwrap_err()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("invalid action"), "{message}");
    let result = invoke(
        &harness,
        "startRepro",
        json!({ "action": "openPanel()", "undo": "closePanel()", "iterations": 0 }),
    );
    assert_eq!(error_code(result), "bad_input");
}
