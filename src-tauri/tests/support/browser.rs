//! A Chromium that the tests start themselves, as a user's own debuggable
//! browser that the app must find in its Connect view, and the loopback
//! server of the pages it shows.
//!
//! The browser's profile is `<home>/.config/chromium`, one of the folders
//! the app searches for a `DevToolsActivePort` file, with `<home>` the HOME
//! the app under test runs with. `--remote-debugging-port=0` lets Chromium
//! pick a free port and write it into that file, so tests never collide on
//! port 9222.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leakscope_demo::{DemoConfig, DemoServer};

use super::processes::{self, ProcessId};

/// How long Chromium may take to write its `DevToolsActivePort` file.
const ACTIVE_PORT_DEADLINE: Duration = Duration::from_secs(30);
/// How long Chromium may take to exit after SIGTERM.
const TERM_GRACE: Duration = Duration::from_secs(5);

/// Folder of the test pages served under `/page/`.
pub fn pages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pages")
}

/// Starts the demo server (the demo editor at `/`, the test pages under `/page/`).
pub async fn start_pages_server() -> DemoServer {
    let config = DemoConfig {
        pages_dir: Some(pages_dir()),
        ..DemoConfig::default()
    };
    DemoServer::start(config)
        .await
        .expect("demo server failed to start on 127.0.0.1")
}

/// A headless Chromium with its debugging port on 127.0.0.1, ended on drop
/// with every process it started.
pub struct ExternalChromium {
    child: Child,
    /// The debugging port read from `DevToolsActivePort`.
    pub port: u16,
    /// The profile folder.
    pub profile: PathBuf,
}

impl ExternalChromium {
    /// Starts Chromium on `url` with its profile in the Chromium folder under `home`.
    pub fn start(home: &Path, url: &str, log: &Path) -> ExternalChromium {
        let executable = std::env::var_os("LEAKSCOPE_CHROME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                processes::require_tool("chromium", "install the Debian package chromium")
            });
        let profile = home.join(".config/chromium");
        std::fs::create_dir_all(&profile)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", profile.display()));
        let stderr = std::fs::File::create(log)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", log.display()));
        let child = Command::new(&executable)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", executable.display()));
        let mut browser = ExternalChromium {
            child,
            port: 0,
            profile,
        };
        browser.port = browser.wait_active_port(log);
        browser
    }

    fn wait_active_port(&mut self, log: &Path) -> u16 {
        let file = self.profile.join("DevToolsActivePort");
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromium exited with {status} before it was debuggable; its log:\n{}",
                    processes::read_log(log)
                );
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if let Some(port) = text
                .lines()
                .next()
                .and_then(|line| line.trim().parse::<u16>().ok())
            {
                if text
                    .lines()
                    .nth(1)
                    .is_some_and(|line| line.starts_with("/devtools/browser/"))
                {
                    return port;
                }
            }
            if start.elapsed() > ACTIVE_PORT_DEADLINE {
                panic!(
                    "chromium wrote no {} within {ACTIVE_PORT_DEADLINE:?}; its log:\n{}",
                    file.display(),
                    processes::read_log(log)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The page targets from `/json/list`.
    pub fn pages(&self) -> Vec<PageTarget> {
        let response = processes::http_get(self.port, "/json/list").unwrap_or_default();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let field = |target: &serde_json::Value, name: &str| {
            target[name].as_str().unwrap_or_default().to_owned()
        };
        value
            .as_array()
            .map(|targets| {
                targets
                    .iter()
                    .filter(|target| target["type"] == "page")
                    .map(|target| PageTarget {
                        id: field(target, "id"),
                        url: field(target, "url"),
                        title: field(target, "title"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One page target of the browser.
#[derive(Debug, Clone)]
pub struct PageTarget {
    pub id: String,
    pub url: String,
    pub title: String,
}

impl Drop for ExternalChromium {
    fn drop(&mut self) {
        let started: Vec<ProcessId> = processes::descendants(self.child.id());
        processes::signal(self.child.id(), "TERM");
        let deadline = Instant::now() + TERM_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for process in started {
            if process.is_alive() {
                processes::signal(process.pid, "KILL");
            }
        }
    }
}
