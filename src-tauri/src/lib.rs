//! Leakscope's desktop shell: Tauri commands that translate between the UI
//! and the `leakscope-app` controller, and the sink that forwards the
//! controller's events to the webview. No logic of the app lives here.
//!
//! Command names are the UI's (`launchChrome`, `openDemo`, ...) and their
//! arguments arrive in camelCase, which Tauri maps to the snake_case
//! parameters. Every command rejects with the controller's
//! `AppError { code, message }`.

use std::sync::{Arc, OnceLock};

use leakscope_app::{App, AppError, DataDir, EventSink};
use tauri::{Emitter, Manager, Runtime};

mod commands;
pub mod options;

pub use options::StartupOptions;

/// Forwards the controller's events to every webview of the app. Events
/// emitted before the app handle exists (none in practice) are dropped.
pub struct TauriSink<R: Runtime> {
    handle: OnceLock<tauri::AppHandle<R>>,
}

impl<R: Runtime> TauriSink<R> {
    pub fn new() -> TauriSink<R> {
        TauriSink {
            handle: OnceLock::new(),
        }
    }

    /// Connects the sink to the running app.
    pub fn bind(&self, handle: tauri::AppHandle<R>) {
        let _ = self.handle.set(handle);
    }
}

impl<R: Runtime> Default for TauriSink<R> {
    fn default() -> Self {
        TauriSink::new()
    }
}

impl<R: Runtime> EventSink for TauriSink<R> {
    fn emit(&self, event: &str, payload: serde_json::Value) {
        let Some(handle) = self.handle.get() else {
            return;
        };
        if let Err(error) = handle.emit(event, payload) {
            tracing::warn!(event, %error, "failed to emit an event to the UI");
        }
    }
}

/// Registers the plugins, the controller and the commands on `builder`.
/// `run` uses it with the real runtime, the tests with the mock runtime.
pub fn builder<R: Runtime>(
    builder: tauri::Builder<R>,
    app: Arc<App>,
    sink: Arc<TauriSink<R>>,
    startup: StartupOptions,
) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .manage(app)
        .invoke_handler(commands::handler())
        .setup(move |tauri_app| {
            sink.bind(tauri_app.handle().clone());
            if let Some(demo) = startup.demo {
                let app = tauri_app.state::<Arc<App>>().inner().clone();
                tauri::async_runtime::spawn(async move {
                    match app.open_demo(&demo).await {
                        Ok(info) => tracing::info!(url = %info.target.url, "demo opened at start"),
                        Err(error) => tracing::error!(%error, "failed to open the demo at start"),
                    }
                });
            }
            Ok(())
        })
}

/// Exits the app cleanly on SIGTERM or SIGINT, as closing the window does, so
/// the session ends and the browsers the app launched are stopped rather
/// than left running without it.
fn exit_on_signals<R: Runtime>(handle: tauri::AppHandle<R>) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut terminate), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!(
                "failed to listen for SIGTERM and SIGINT; a signal ends the app without cleanup"
            );
            return;
        };
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received, exiting"),
            _ = interrupt.recv() => tracing::info!("SIGINT received, exiting"),
        }
        handle.exit(0);
    });
    #[cfg(not(unix))]
    let _ = handle;
}

/// Starts the desktop app: reads the command line and the data directory,
/// opens the window, and ends the session and the browsers it started on exit.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let startup = match StartupOptions::parse(std::env::args().skip(1)) {
        Ok(startup) => startup,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    let data = match DataDir::from_env() {
        Ok(data) => data,
        Err(error) => {
            eprintln!("error: {}", error.message);
            std::process::exit(1);
        }
    };
    let sink = Arc::new(TauriSink::new());
    let app = match App::new(data, sink.clone()) {
        Ok(app) => Arc::new(app),
        Err(error) => {
            eprintln!("error: {}", error.message);
            std::process::exit(1);
        }
    };
    let shutdown = app.clone();
    let built =
        builder(tauri::Builder::default(), app, sink, startup).build(tauri::generate_context!());
    let tauri_app = match built {
        Ok(tauri_app) => tauri_app,
        Err(error) => {
            eprintln!("error: failed to start the window: {error}");
            std::process::exit(1);
        }
    };
    // Here rather than in `builder`, so the mock-runtime tests keep Ctrl-C.
    exit_on_signals(tauri_app.handle().clone());
    tauri_app.run(move |_handle, event| {
        if let tauri::RunEvent::Exit = event {
            tauri::async_runtime::block_on(shutdown.shutdown());
        }
    });
}

/// Converts a dialog or join failure into the controller's error type.
fn internal(what: &str, error: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("{what} failed: {error}"))
}
