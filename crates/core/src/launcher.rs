//! Launching a local Chrome or Chromium for debugging.
//!
//! Leakscope starts its own browser for the demo, for tests and for users who
//! have none running with a debugging port. The browser gets a fresh temporary
//! profile, because Chrome 136+ ignores `--remote-debugging-port` on the
//! default profile and a fresh one leaves the user's own browser untouched.
//! Debugging listens on 127.0.0.1 with port 0: the OS picks a free port, which
//! is read back from the `DevToolsActivePort` file Chrome writes into the profile.
//! The browser process is killed and the profile removed when the handle drops.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the browser gets to write `DevToolsActivePort` after it starts.
/// A cold start on a loaded 2-core machine takes 1–3 s; 20 s leaves room for
/// slow CI machines without letting a broken install hang a run.
pub const PORT_FILE_DEADLINE: Duration = Duration::from_secs(20);

/// How often the profile directory is checked for `DevToolsActivePort`.
const PORT_FILE_POLL: Duration = Duration::from_millis(50);

/// Lines of the browser's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 30;

/// Executable names tried on `PATH`, in order, when no path is given.
pub const BROWSER_NAMES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
];

/// Flags every launch gets. The background-networking and component flags stop
/// Chromium from calling Google services, which fail (or hang) on machines with
/// no internet and add noise to recordings everywhere else.
const BASE_FLAGS: &[&str] = &[
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
];

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("browser not found: tried {tried}; install Chromium (Debian: `apt-get install chromium`) or pass --chrome PATH")]
    NotFound { tried: String },
    #[error("browser path {path} does not exist; pass the path of a Chrome or Chromium executable with --chrome")]
    MissingPath { path: PathBuf },
    #[error("browser path {path} is not an executable file; pass the path of a Chrome or Chromium executable with --chrome")]
    NotExecutable { path: PathBuf },
    #[error("failed to create a temporary profile directory: {0}")]
    Profile(#[source] std::io::Error),
    #[error("failed to start browser {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("browser {path} exited early ({status}) before opening its debugging port; its last output:\n{stderr_tail}")]
    ExitedEarly {
        path: PathBuf,
        status: String,
        stderr_tail: String,
    },
    #[error("browser {path} wrote no DevToolsActivePort file in {profile} within {seconds} s; its last output:\n{stderr_tail}")]
    NoPortFile {
        path: PathBuf,
        profile: PathBuf,
        seconds: u64,
        stderr_tail: String,
    },
    #[error("invalid DevToolsActivePort file {path}: {reason}")]
    BadPortFile { path: PathBuf, reason: String },
}

/// Options for launching a browser.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// Browser executable; `None` searches [`BROWSER_NAMES`] on `PATH`.
    pub executable: Option<PathBuf>,
    pub headless: bool,
    /// URL opened in the first tab; `about:blank` when `None`.
    pub url: Option<String>,
    /// Extra command-line flags, appended after Leakscope's own.
    pub extra_args: Vec<String>,
}

/// The port and browser websocket path read from `DevToolsActivePort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePort {
    pub port: u16,
    /// `/devtools/browser/<id>`.
    pub browser_path: String,
}

impl ActivePort {
    /// Parses the two-line `DevToolsActivePort` format: the port, then the
    /// browser websocket path.
    pub fn parse(path: &Path, text: &str) -> Result<ActivePort, LaunchError> {
        let bad = |reason: String| LaunchError::BadPortFile {
            path: path.to_owned(),
            reason,
        };
        let mut lines = text.lines();
        let port_line = lines.next().unwrap_or("").trim();
        let port: u16 = port_line
            .parse()
            .map_err(|_| bad(format!("line 1 must be a port number, found {port_line:?}")))?;
        if port == 0 {
            return Err(bad("line 1 is port 0".into()));
        }
        let browser_path = lines.next().unwrap_or("").trim().to_owned();
        if !browser_path.starts_with("/devtools/browser/") {
            return Err(bad(format!(
                "line 2 must be a /devtools/browser/<id> path, found {browser_path:?}"
            )));
        }
        Ok(ActivePort { port, browser_path })
    }

    /// Reads and parses a `DevToolsActivePort` file.
    pub fn read(path: &Path) -> Result<ActivePort, LaunchError> {
        let text = std::fs::read_to_string(path).map_err(|error| LaunchError::BadPortFile {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
        ActivePort::parse(path, &text)
    }

    /// Returns the browser websocket URL on 127.0.0.1.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}{}", self.port, self.browser_path)
    }
}

/// A running browser started by Leakscope. Killing it (explicitly or on drop)
/// also removes its temporary profile.
#[derive(Debug)]
pub struct LaunchedBrowser {
    child: Child,
    executable: PathBuf,
    active_port: ActivePort,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    // Dropped after the child is killed, which removes the profile directory.
    profile: Option<tempfile::TempDir>,
}

impl LaunchedBrowser {
    pub fn port(&self) -> u16 {
        self.active_port.port
    }

    /// Browser websocket URL, `ws://127.0.0.1:<port>/devtools/browser/<id>`.
    pub fn ws_url(&self) -> String {
        self.active_port.ws_url()
    }

    /// Returns `http://127.0.0.1:<port>`, which serves `/json/version` and `/json/list`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.active_port.port)
    }

    pub fn executable(&self) -> &Path {
        &self.executable
    }

    pub fn profile_dir(&self) -> Option<&Path> {
        self.profile.as_ref().map(|dir| dir.path())
    }

    /// OS process id of the browser's main process.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Returns the last lines the browser wrote to stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        join_tail(&self.stderr_tail)
    }

    /// Kills the browser, waits for it to exit and removes its profile.
    pub async fn kill(mut self) {
        if let Err(error) = self.child.kill().await {
            tracing::warn!(%error, "failed to kill the launched browser");
        }
        self.profile.take();
    }

    /// True once the browser process has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for LaunchedBrowser {
    fn drop(&mut self) {
        // `kill_on_drop` sends SIGKILL; waiting here would block an async
        // runtime, so the profile removal may race with the browser's exit.
        // Chromium holds no lock that stops the removal on Linux.
        let _ = self.child.start_kill();
    }
}

/// Finds the browser executable: the given path (checked), else the first of
/// [`BROWSER_NAMES`] found on `PATH`.
pub fn find_browser(explicit: Option<&Path>) -> Result<PathBuf, LaunchError> {
    if let Some(path) = explicit {
        return check_executable(path).map(|()| path.to_owned());
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let mut tried = Vec::new();
    for name in BROWSER_NAMES {
        for dir in std::env::split_paths(&path_var) {
            let candidate = dir.join(name);
            if check_executable(&candidate).is_ok() {
                return Ok(candidate);
            }
            tried.push(candidate.display().to_string());
        }
    }
    if tried.is_empty() {
        tried = BROWSER_NAMES
            .iter()
            .map(|name| format!("{name} (PATH is empty)"))
            .collect();
    }
    Err(LaunchError::NotFound {
        tried: tried.join(", "),
    })
}

fn check_executable(path: &Path) -> Result<(), LaunchError> {
    let metadata = std::fs::metadata(path).map_err(|_| LaunchError::MissingPath {
        path: path.to_owned(),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
            return Err(LaunchError::NotExecutable {
                path: path.to_owned(),
            });
        }
    }
    #[cfg(not(unix))]
    if !metadata.is_file() {
        return Err(LaunchError::NotExecutable {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Starts a browser with a fresh profile and waits until its debugging port is open.
pub async fn launch(options: &LaunchOptions) -> Result<LaunchedBrowser, LaunchError> {
    let executable = find_browser(options.executable.as_deref())?;
    let profile = tempfile::Builder::new()
        .prefix("leakscope-profile-")
        .tempdir()
        .map_err(LaunchError::Profile)?;

    let mut command = Command::new(&executable);
    command
        .args(BASE_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()));
    if options.headless {
        command.args(["--headless=new", "--disable-gpu"]);
    }
    if running_as_root() {
        // Chromium refuses to start as root without this; CI containers run as root.
        command.arg("--no-sandbox");
    }
    command.args(&options.extra_args);
    command.arg(options.url.as_deref().unwrap_or("about:blank"));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);

    let mut child = command.spawn().map_err(|source| LaunchError::Spawn {
        path: executable.clone(),
        source,
    })?;
    tracing::debug!(path = %executable.display(), pid = ?child.id(), "launched browser");

    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = child.stderr.take() {
        let tail = Arc::clone(&stderr_tail);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
    }

    let port_file = profile.path().join("DevToolsActivePort");
    let deadline = tokio::time::Instant::now() + PORT_FILE_DEADLINE;
    loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            // Chrome writes the file in one go, but a read can still see it half
            // written; only a complete second line counts.
            if text.lines().count() >= 2 {
                let active_port = ActivePort::parse(&port_file, &text)?;
                return Ok(LaunchedBrowser {
                    child,
                    executable,
                    active_port,
                    stderr_tail,
                    profile: Some(profile),
                });
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Give the stderr reader a moment to collect the final lines.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Err(LaunchError::ExitedEarly {
                path: executable,
                status: status.to_string(),
                stderr_tail: join_tail(&stderr_tail),
            });
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.start_kill();
            return Err(LaunchError::NoPortFile {
                path: executable,
                profile: profile.path().to_owned(),
                seconds: PORT_FILE_DEADLINE.as_secs(),
                stderr_tail: join_tail(&stderr_tail),
            });
        }
        tokio::time::sleep(PORT_FILE_POLL).await;
    }
}

fn join_tail(tail: &Mutex<VecDeque<String>>) -> String {
    let tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if tail.is_empty() {
        return "(no output)".into();
    }
    tail.iter().cloned().collect::<Vec<_>>().join("\n")
}

#[cfg(unix)]
fn running_as_root() -> bool {
    // The effective uid is the third field of the `Uid:` line of /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| {
                    line.split_whitespace()
                        .nth(2)
                        .map(|effective| effective == "0")
                })
        })
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn running_as_root() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ActivePort, LaunchError> {
        ActivePort::parse(Path::new("DevToolsActivePort"), text)
    }

    #[test]
    fn port_file_valid() {
        let port = parse("9222\n/devtools/browser/abc-123\n").unwrap();
        assert_eq!(port.port, 9222);
        assert_eq!(
            port.ws_url(),
            "ws://127.0.0.1:9222/devtools/browser/abc-123"
        );
    }

    #[test]
    fn port_file_bad_port() {
        let error = parse("ninety\n/devtools/browser/x\n").unwrap_err();
        assert!(error.to_string().contains("\"ninety\""), "{error}");
    }

    #[test]
    fn port_file_missing_path() {
        let error = parse("9222\n").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn port_file_zero_port() {
        assert!(parse("0\n/devtools/browser/x\n").is_err());
    }

    #[test]
    fn missing_explicit_browser() {
        let error = find_browser(Some(Path::new("/nonexistent/chrome"))).unwrap_err();
        assert!(matches!(error, LaunchError::MissingPath { .. }));
        assert!(error.to_string().contains("/nonexistent/chrome"));
    }

    #[test]
    fn non_executable_browser() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chrome");
        std::fs::write(&path, "not a program").unwrap();
        let error = find_browser(Some(&path)).unwrap_err();
        assert!(
            matches!(error, LaunchError::NotExecutable { .. }),
            "{error}"
        );
    }
}
