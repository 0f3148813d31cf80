//! The commands the UI invokes, one per function, each a direct call into
//! the controller. Only the file dialogs are the shell's own, because they
//! need the window.
// Reason: Tauri names a command after its function, and the UI's command
// names are camelCase (`launchChrome`), as the app contract fixes them.
#![allow(non_snake_case)]

use std::collections::HashMap;
use std::sync::Arc;

use leakscope_app::chart::{ChartRequest, ChartView};
use leakscope_app::datadir::RecentFile;
use leakscope_app::discover::{BrowserEntry, Discovery};
use leakscope_app::heap::{DiffView, RetainersView, SnapshotSummary};
use leakscope_app::live::{SessionInfo, StopSummary};
use leakscope_app::replay::ReplayInfo;
use leakscope_app::timeline::{Marker, SnapshotEntry};
use leakscope_app::view::LiveView;
use leakscope_app::{
    App, AppError, DemoRequest, ExportResult, Readout, ReproRequest, RetainersRequest,
};
use tauri::{Runtime, State};
use tauri_plugin_dialog::DialogExt;

type Controller<'a> = State<'a, Arc<App>>;
type Reply<T> = Result<T, AppError>;

/// The handler with every command registered.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        discover,
        launchChrome,
        openDemo,
        attach,
        detach,
        liveView,
        chart,
        valuesAt,
        forceGc,
        addMarker,
        reloadPage,
        takeSnapshot,
        cancelSnapshot,
        exportBundle,
        listSnapshots,
        snapshotSummary,
        snapshotDiff,
        retainers,
        cancelAnalysis,
        pickOpenPath,
        pickSavePath,
        recentFiles,
        openReplay,
        replayView,
        closeReplay,
        startRepro,
        cancelRepro,
    ]
}

// Connect

#[tauri::command]
async fn discover(app: Controller<'_>) -> Reply<Discovery> {
    Ok(app.discover().await)
}

#[tauri::command]
async fn launchChrome(app: Controller<'_>) -> Reply<BrowserEntry> {
    app.launch_chrome().await
}

#[tauri::command]
async fn openDemo(
    app: Controller<'_>,
    variant: String,
    flow: String,
    params: Option<HashMap<String, String>>,
) -> Reply<SessionInfo> {
    let request = DemoRequest {
        variant,
        flow,
        params: params.unwrap_or_default(),
    };
    app.open_demo(&request).await
}

#[tauri::command]
async fn attach(app: Controller<'_>, endpoint: String, target_id: String) -> Reply<SessionInfo> {
    app.attach(&endpoint, &target_id).await
}

#[tauri::command]
async fn detach(app: Controller<'_>) -> Reply<StopSummary> {
    app.detach().await
}

// Live

#[tauri::command]
async fn liveView(app: Controller<'_>) -> Reply<LiveView> {
    app.live_view().await
}

#[tauri::command]
async fn chart(
    app: Controller<'_>,
    from_t: Option<f64>,
    to_t: Option<f64>,
    width: u32,
    height: u32,
) -> Reply<ChartView> {
    let request = ChartRequest {
        from_t,
        to_t,
        width,
        height,
    };
    app.chart(request).await
}

#[tauri::command]
async fn valuesAt(app: Controller<'_>, t: f64) -> Reply<Readout> {
    app.values_at(t).await
}

#[tauri::command]
async fn forceGc(app: Controller<'_>) -> Reply<()> {
    app.force_gc().await
}

#[tauri::command]
async fn addMarker(app: Controller<'_>, label: String) -> Reply<Marker> {
    app.add_marker(&label).await
}

#[tauri::command]
async fn reloadPage(app: Controller<'_>) -> Reply<()> {
    app.reload_page().await
}

#[tauri::command]
async fn takeSnapshot(app: Controller<'_>, gc: Option<bool>) -> Reply<SnapshotEntry> {
    app.take_snapshot(gc.unwrap_or(true)).await
}

#[tauri::command]
async fn cancelSnapshot(app: Controller<'_>) -> Reply<()> {
    app.cancel_snapshot();
    Ok(())
}

#[tauri::command]
async fn exportBundle(app: Controller<'_>, path: Option<String>) -> Reply<ExportResult> {
    app.export_bundle(path.as_deref()).await
}

// Snapshots

#[tauri::command]
async fn listSnapshots(app: Controller<'_>) -> Reply<Vec<SnapshotEntry>> {
    app.list_snapshots().await
}

#[tauri::command]
async fn snapshotSummary(
    app: Controller<'_>,
    id: String,
    top: Option<usize>,
) -> Reply<SnapshotSummary> {
    app.snapshot_summary(&id, top).await
}

#[tauri::command]
async fn snapshotDiff(
    app: Controller<'_>,
    before: String,
    after: String,
    top: Option<usize>,
) -> Reply<DiffView> {
    app.snapshot_diff(&before, &after, top).await
}

#[tauri::command]
async fn retainers(
    app: Controller<'_>,
    id: String,
    class_name: Option<String>,
    node_id: Option<u64>,
    paths: Option<usize>,
) -> Reply<RetainersView> {
    let request = RetainersRequest {
        id,
        class_name,
        node_id,
        paths,
    };
    app.retainers(&request).await
}

#[tauri::command]
async fn cancelAnalysis(app: Controller<'_>) -> Reply<()> {
    app.cancel_analysis();
    Ok(())
}

// Files and replay

fn check_kind(kind: &str) -> Reply<()> {
    if kind == "bundle" {
        return Ok(());
    }
    Err(AppError::bad_input(format!(
        "file kind {kind:?} is not supported; use \"bundle\""
    )))
}

/// Waits for the dialog's result, which is `None` when the user cancelled.
async fn dialog_answer(
    receiver: tokio::sync::oneshot::Receiver<Option<tauri_plugin_dialog::FilePath>>,
) -> Reply<Option<String>> {
    let answer = receiver
        .await
        .map_err(|error| crate::internal("the file dialog", error))?;
    match answer {
        None => Ok(None),
        Some(path) => path
            .into_path()
            .map(|path| Some(path.display().to_string()))
            .map_err(|error| crate::internal("reading the chosen path", error)),
    }
}

#[tauri::command]
async fn pickOpenPath<R: Runtime>(
    window: tauri::Window<R>,
    app: Controller<'_>,
    kind: String,
) -> Reply<Option<String>> {
    check_kind(&kind)?;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    window
        .dialog()
        .file()
        .set_parent(&window)
        .set_directory(app.data_dir().exports())
        .add_filter("Leakscope bundle or recording", &["zip", "jsonl"])
        .pick_file(move |path| {
            let _ = sender.send(path);
        });
    dialog_answer(receiver).await
}

#[tauri::command]
async fn pickSavePath<R: Runtime>(
    window: tauri::Window<R>,
    app: Controller<'_>,
    kind: String,
    suggested: String,
) -> Reply<Option<String>> {
    check_kind(&kind)?;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    window
        .dialog()
        .file()
        .set_parent(&window)
        .set_directory(app.data_dir().exports())
        .set_file_name(suggested)
        .add_filter("Leakscope bundle", &["zip"])
        .save_file(move |path| {
            let _ = sender.send(path);
        });
    dialog_answer(receiver).await
}

#[tauri::command]
async fn recentFiles(app: Controller<'_>) -> Reply<Vec<RecentFile>> {
    Ok(app.recent_files())
}

#[tauri::command]
async fn openReplay(app: Controller<'_>, path: String) -> Reply<ReplayInfo> {
    app.open_replay(&path).await
}

#[tauri::command]
async fn replayView(app: Controller<'_>, t: f64) -> Reply<LiveView> {
    app.replay_view(t).await
}

#[tauri::command]
async fn closeReplay(app: Controller<'_>) -> Reply<()> {
    app.close_replay().await;
    Ok(())
}

// Repro

#[tauri::command]
async fn startRepro(
    app: Controller<'_>,
    action: String,
    undo: String,
    iterations: Option<u32>,
    warmup: Option<u32>,
) -> Reply<()> {
    app.start_repro(ReproRequest {
        action,
        undo,
        iterations,
        warmup,
    })
    .await
}

#[tauri::command]
async fn cancelRepro(app: Controller<'_>) -> Reply<()> {
    app.cancel_repro();
    Ok(())
}
