//! Harness of the desktop app's end-to-end tests: the real app binary in a
//! real WebKitGTK webview on a virtual X display, driven over WebDriver.
//!
//! [`App::launch`] starts, per test, its own Xvfb, its own `tauri-driver` (in
//! front of Debian's WebKitWebDriver) and one WebDriver session whose
//! capability `tauri:options.application` makes WebKitWebDriver start the
//! app. The app runs with a fresh `LEAKSCOPE_DATA_DIR` and a fresh `HOME`
//! (so it finds no browser of the developer's), passed down through the
//! driver's environment. Everything is ended on drop, also when a test
//! panics. Every WebDriver call has a deadline, because a session whose
//! webview never comes up otherwise hangs without an error.
//!
//! The UI is found by its `data-testid` attributes, listed in `ui/TESTIDS.md`.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

pub mod browser;
pub mod processes;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tempfile::TempDir;

use processes::{Driver, VirtualDisplay};

/// Deadline of one WebDriver command.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(20);
/// Deadline of session creation, which starts the app and its webview.
pub const SESSION_DEADLINE: Duration = Duration::from_secs(60);
/// Default deadline for something to appear in the UI.
pub const UI_DEADLINE: Duration = Duration::from_secs(30);
/// Retries of a session request that did not reach WebKitWebDriver.
const SESSION_RETRIES: usize = 3;
/// Pause before such a retry.
const SESSION_RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Interval between two looks at the UI while waiting.
const POLL_STEP: Duration = Duration::from_millis(100);

/// Environment variable naming a folder for the screenshots; a relative path
/// is taken from the workspace root. Without it screenshots go to the test's
/// temporary folder.
pub const SCREENSHOTS_ENV: &str = "LEAKSCOPE_SCREENSHOTS";

/// Serialises app launches within one test binary: two apps, two Chromiums
/// and their builds on a two-core machine would slow each other past the
/// deadlines, and the tests would measure the contention.
pub static ONE_APP_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Environment variable naming another app binary to drive, such as a
/// release build for the benchmarks.
pub const APP_BINARY_ENV: &str = "LEAKSCOPE_APP_BINARY";

/// Returns the app binary: [`APP_BINARY_ENV`] when set, else the one Cargo
/// built for these tests.
pub fn app_binary() -> PathBuf {
    std::env::var_os(APP_BINARY_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_leakscope-desktop")))
}

/// Runs one WebDriver call with [`COMMAND_DEADLINE`], panicking with `what`
/// when it fails or times out.
pub async fn within<T, E: std::fmt::Debug>(
    what: &str,
    call: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(COMMAND_DEADLINE, call).await {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{what} failed: {error:?}"),
        Err(_) => panic!("{what} timed out after {COMMAND_DEADLINE:?}"),
    }
}

/// CSS selector of an element by its `data-testid`.
pub fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// Milliseconds since the Unix epoch.
pub fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock is after 1970")
        .as_secs_f64()
        * 1000.0
}

/// Whether a value returned by a script counts as true in JavaScript.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The app under test with the processes around it.
pub struct App {
    pub client: Client,
    /// The app's `LEAKSCOPE_DATA_DIR`.
    pub data_dir: PathBuf,
    /// The app's `HOME`, where it looks for browsers' `DevToolsActivePort` files.
    pub home: PathBuf,
    /// Folder for logs (and screenshots unless [`SCREENSHOTS_ENV`] is set).
    pub work_dir: PathBuf,
    /// Epoch milliseconds just before the session (and so the app) was requested.
    pub requested_at_ms: f64,
    screenshots: PathBuf,
    // Fields drop in order: the driver (and the app under it) ends before
    // the display it draws on, and both before their folder is removed.
    driver: Driver,
    display: VirtualDisplay,
    temp: TempDir,
}

impl App {
    /// Starts the app under a fresh display and driver.
    pub async fn launch() -> App {
        let application = app_binary();
        let (xvfb, tauri_driver) = processes::require_tools();
        assert!(
            application.is_file(),
            "app binary {} not found; build it with `cargo build -p leakscope-desktop`",
            application.display()
        );
        let temp = tempfile::Builder::new()
            .prefix("leakscope-e2e-")
            .tempdir()
            .expect("cannot create a temporary folder");
        let data_dir = temp.path().join("data");
        let home = temp.path().join("home");
        let work_dir = temp.path().join("work");
        for dir in [&data_dir, &home, &work_dir] {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
        }

        let display = VirtualDisplay::start(&xvfb, &work_dir.join("xvfb.log"));
        let driver = Driver::start(
            &tauri_driver,
            &display.display,
            &[
                ("LEAKSCOPE_DATA_DIR", data_dir.as_path()),
                ("HOME", home.as_path()),
            ],
            &work_dir.join("driver.log"),
        );

        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".to_owned(),
            json!({ "application": application, "args": [] }),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let mut requested_at_ms = epoch_ms();
        let mut session =
            tokio::time::timeout(SESSION_DEADLINE, builder.connect(&driver.url())).await;
        // tauri-driver accepts connections before WebKitWebDriver behind it
        // does, so a session requested right after the start can fail at the
        // HTTP level. Such a failure is retried; others are not.
        for _ in 0..SESSION_RETRIES {
            let unreachable = matches!(
                &session,
                Ok(Err(NewSessionError::Failed(_) | NewSessionError::FailedC(_)))
            );
            if !unreachable {
                break;
            }
            tokio::time::sleep(SESSION_RETRY_PAUSE).await;
            requested_at_ms = epoch_ms();
            session = tokio::time::timeout(SESSION_DEADLINE, builder.connect(&driver.url())).await;
        }
        let client = match session {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => panic!(
                "WebDriver session for {} failed: {error:?}; driver log:\n{}",
                application.display(),
                driver.logs()
            ),
            Err(_) => panic!(
                "WebDriver session for {} not created within {SESSION_DEADLINE:?}; driver log:\n{}",
                application.display(),
                driver.logs()
            ),
        };

        let screenshots = screenshot_dir().unwrap_or_else(|| work_dir.clone());
        App {
            client,
            data_dir,
            home,
            work_dir,
            requested_at_ms,
            screenshots,
            driver,
            display,
            temp,
        }
    }

    /// Ends the WebDriver session, which closes the app; the guards then end
    /// the driver and the display.
    pub async fn quit(self) {
        let _ = tokio::time::timeout(COMMAND_DEADLINE, self.client.clone().close()).await;
    }

    /// The driver's log, for failure messages.
    pub fn driver_logs(&self) -> String {
        self.driver.logs()
    }

    /// The app's own process (found below `tauri-driver` by its executable).
    pub fn app_process(&self) -> Option<u32> {
        let binary = std::fs::canonicalize(app_binary()).ok()?;
        processes::descendants(self.driver.pid())
            .into_iter()
            .map(|process| process.pid)
            .find(|&pid| processes::executable(pid).is_some_and(|exe| exe == binary))
    }

    /// Finds the first element matching a CSS selector, waiting up to `deadline`.
    pub async fn find_css(&self, selector: &str, deadline: Duration) -> Element {
        let start = Instant::now();
        loop {
            let found = within(
                &format!("find {selector}"),
                self.client.find_all(Locator::Css(selector)),
            )
            .await;
            if let Some(element) = found.into_iter().next() {
                return element;
            }
            if start.elapsed() > deadline {
                panic!(
                    "no element {selector} within {deadline:?}; visible text:\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(POLL_STEP).await;
        }
    }

    /// Finds the element with `data-testid` = `id`, waiting up to [`UI_DEADLINE`].
    pub async fn find(&self, id: &str) -> Element {
        self.find_css(&testid(id), UI_DEADLINE).await
    }

    pub async fn find_within(&self, id: &str, deadline: Duration) -> Element {
        self.find_css(&testid(id), deadline).await
    }

    /// Whether an element with `data-testid` = `id` is in the page now.
    pub async fn is_present(&self, id: &str) -> bool {
        let selector = testid(id);
        !within(
            &format!("find {selector}"),
            self.client.find_all(Locator::Css(&selector)),
        )
        .await
        .is_empty()
    }

    /// Clicks the element with `data-testid` = `id` through WebDriver, which
    /// sends real input events to the webview.
    pub async fn click(&self, id: &str) {
        let element = self.find(id).await;
        within(&format!("click {id}"), element.click()).await;
    }

    /// Clicks the first element matching a CSS selector.
    pub async fn click_css(&self, selector: &str) {
        let element = self.find_css(selector, UI_DEADLINE).await;
        within(&format!("click {selector}"), element.click()).await;
    }

    /// Text of the element with `data-testid` = `id`.
    pub async fn text(&self, id: &str) -> String {
        // WebKitWebDriver's element text came back empty for some visible
        // elements (one-line headers), so the text is read with `innerText`.
        self.find(id).await;
        let value = self
            .execute(
                "const element = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);\
                 return element === null ? null : element.innerText;",
                vec![json!(id)],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// An attribute of the element with `data-testid` = `id`.
    pub async fn attr(&self, id: &str, name: &str) -> Option<String> {
        let element = self.find(id).await;
        within(&format!("attribute {name} of {id}"), element.attr(name)).await
    }

    /// Waits until `check` accepts the text of `id`, and returns that text.
    pub async fn wait_text(&self, id: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let script = format!(
            "const element = document.querySelector('{}');\
             return element === null ? null : element.innerText;",
            testid(id)
        );
        self.wait_value(what, UI_DEADLINE, &script, |value| {
            value.as_str().is_some_and(&check)
        })
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until the number in attribute `data-value` of `id` satisfies `check`.
    pub async fn wait_data_value(&self, id: &str, what: &str, check: impl Fn(f64) -> bool) -> f64 {
        let script = format!(
            "const element = document.querySelector('{}');\
             if (element === null || element.dataset.value === undefined || element.dataset.value === '') return null;\
             return Number(element.dataset.value);",
            testid(id)
        );
        self.wait_value(what, UI_DEADLINE, &script, |value| {
            value.as_f64().is_some_and(&check)
        })
        .await
        .as_f64()
        .unwrap_or_default()
    }

    /// Runs `script` in the webview (a function body; `arguments` holds `args`).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        within("execute script", self.client.execute(script, args)).await
    }

    /// Runs `script` until `check` accepts its result, and returns that result.
    pub async fn wait_value(
        &self,
        what: &str,
        deadline: Duration,
        script: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let value = self.execute(script, Vec::new()).await;
            if check(&value) {
                return value;
            }
            if start.elapsed() > deadline {
                let logs = self.driver_logs();
                let tail: Vec<&str> = logs.lines().rev().take(40).collect();
                panic!(
                    "{what}: not reached within {deadline:?} (last value {value}); visible text:\n{}\n\nlast lines of the driver and app log:\n{}",
                    self.page_text().await,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            tokio::time::sleep(POLL_STEP).await;
        }
    }

    /// Waits until `script` returns a value that is true in JavaScript.
    pub async fn wait_script(&self, what: &str, deadline: Duration, script: &str) -> Value {
        self.wait_value(what, deadline, script, is_truthy).await
    }

    /// The texts of every element with `data-testid` = `id`, as shown.
    pub async fn texts(&self, id: &str) -> Vec<String> {
        let value = self
            .execute(
                "return Array.from(document.querySelectorAll(`[data-testid=\"${arguments[0]}\"]`))\
                 .map((element) => element.innerText);",
                vec![json!(id)],
            )
            .await;
        value
            .as_array()
            .map(|texts| {
                texts
                    .iter()
                    .filter_map(|text| text.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The texts of the rows of a table (`<table>-row`), as shown.
    pub async fn row_texts(&self, table: &str) -> Vec<String> {
        self.texts(&format!("{table}-row")).await
    }

    /// Waits until some row of `table` satisfies `check`, and returns its text.
    pub async fn wait_row(
        &self,
        table: &str,
        what: &str,
        deadline: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let rows = self.row_texts(table).await;
            if let Some(row) = rows.iter().find(|row| check(row)) {
                return row.clone();
            }
            if start.elapsed() > deadline {
                panic!("{what}: no row of {table} matched within {deadline:?}; rows: {rows:#?}");
            }
            tokio::time::sleep(POLL_STEP).await;
        }
    }

    /// The page's visible text, for failure messages.
    pub async fn page_text(&self) -> String {
        let script = "return document.body ? document.body.innerText : ''";
        match tokio::time::timeout(COMMAND_DEADLINE, self.client.execute(script, Vec::new())).await
        {
            Ok(Ok(Value::String(text))) => text,
            other => format!("(page text not available: {other:?})"),
        }
    }

    /// Saves a screenshot of the webview as `NAME.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = within(&format!("screenshot {name}"), self.client.screenshot()).await;
        assert!(
            png.starts_with(b"\x89PNG"),
            "screenshot {name} is not a PNG"
        );
        std::fs::create_dir_all(&self.screenshots).unwrap_or_else(|error| {
            panic!("cannot create {}: {error}", self.screenshots.display())
        });
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        path
    }
}

/// The folder named by [`SCREENSHOTS_ENV`], resolved against the workspace root.
fn screenshot_dir() -> Option<PathBuf> {
    let value = std::env::var_os(SCREENSHOTS_ENV).filter(|value| !value.is_empty())?;
    let path = PathBuf::from(value);
    if path.is_absolute() {
        return Some(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the desktop crate sits in the workspace")
        .to_owned();
    Some(root.join(path))
}
