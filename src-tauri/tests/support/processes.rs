//! The processes an end-to-end test starts around the app: a virtual X
//! display (Xvfb) and `tauri-driver` in front of WebKitWebDriver, which in
//! turn starts the app and the app its WebKit helpers and Chromium.
//!
//! Each guard ends what it started when dropped, also when the test panics.
//! `tauri-driver` ends its WebKitWebDriver only on SIGTERM (a SIGKILL would
//! orphan it and the app), so the driver guard sends SIGTERM first and then
//! kills, by PID, every descendant it saw that is still alive.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long Xvfb may take to print its display number.
const DISPLAY_DEADLINE: Duration = Duration::from_secs(15);
/// How long `tauri-driver` may take to answer `GET /status` as ready.
const DRIVER_READY_DEADLINE: Duration = Duration::from_secs(20);
/// How long a process may take to exit after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(5);
/// Interval between checks while waiting for a process or a port.
const POLL_STEP: Duration = Duration::from_millis(50);

/// WebKitGTK's WebDriver, from Debian's webkit2gtk-driver package.
pub const WEBKIT_WEBDRIVER: &str = "/usr/bin/WebKitWebDriver";

/// Finds an executable on PATH, then in the extra places given.
fn find_executable(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .chain(extra.iter().cloned())
        .find(|candidate| candidate.is_file())
}

/// Returns the path of a tool the tests need, or panics naming what to install.
pub fn require_tool(name: &str, install: &str) -> PathBuf {
    let mut extra = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        extra.push(Path::new(&home).join(".cargo/bin").join(name));
    }
    extra.push(Path::new("/usr/bin").join(name));
    find_executable(name, &extra).unwrap_or_else(|| {
        panic!("{name} not found on PATH; {install} (scripts/ensure-deps.sh installs it)")
    })
}

/// Checks for every tool the app tests need, so a missing one fails the test
/// at once with what to install instead of hanging in session creation.
pub fn require_tools() -> (PathBuf, PathBuf) {
    let xvfb = require_tool("Xvfb", "install the Debian package xvfb");
    let driver = require_tool(
        "tauri-driver",
        "install it with `cargo install tauri-driver --locked --version ^2.1`",
    );
    assert!(
        Path::new(WEBKIT_WEBDRIVER).is_file(),
        "{WEBKIT_WEBDRIVER} not found; install the Debian package webkit2gtk-driver"
    );
    (xvfb, driver)
}

/// Opens (truncating) a log file for a child's output.
fn log_file(path: &Path) -> File {
    File::create(path)
        .unwrap_or_else(|error| panic!("cannot create log {}: {error}", path.display()))
}

/// Reads a log for a failure message; a missing log reads as empty.
pub fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// A virtual X display, ended on drop.
pub struct VirtualDisplay {
    child: Child,
    /// The `DISPLAY` value, for example `:3`.
    pub display: String,
}

impl VirtualDisplay {
    /// Starts Xvfb on the first free display. `-displayfd 1` makes Xvfb pick
    /// the display itself and print its number on stdout once it accepts
    /// clients, so there is no race over display numbers between tests.
    pub fn start(xvfb: &Path, log: &Path) -> VirtualDisplay {
        let mut child = Command::new(xvfb)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1600x1000x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(log))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", xvfb.display()));
        let stdout = child.stdout.take().expect("Xvfb stdout is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver.recv_timeout(DISPLAY_DEADLINE).unwrap_or_default();
        let number = line.trim();
        if number.is_empty() || number.parse::<u32>().is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Xvfb printed no display number within {DISPLAY_DEADLINE:?} (got {line:?}); its log:\n{}",
                read_log(log)
            );
        }
        VirtualDisplay {
            child,
            display: format!(":{number}"),
        }
    }
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a port on 127.0.0.1");
    listener
        .local_addr()
        .expect("bound listener has an address")
        .port()
}

/// Sends `GET path` to 127.0.0.1:`port` and returns the whole response, or
/// `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    // Chromium keeps the connection open despite `Connection: close`, so
    // the body ends at its Content-Length rather than at end of stream.
    let mut response = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|length| body.len() >= length) {
                break;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => response.extend_from_slice(&chunk[..read]),
            Err(_) if !response.is_empty() => break,
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&response).into_owned())
}

/// `tauri-driver` with its WebKitWebDriver, ended on drop with everything
/// they started.
pub struct Driver {
    child: Child,
    /// Port of `tauri-driver`'s WebDriver endpoint on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl Driver {
    /// Starts `tauri-driver` on the display, with `env` added to the
    /// environment that WebKitWebDriver and then the app inherit.
    pub fn start(driver: &Path, display: &str, env: &[(&str, &Path)], log: &Path) -> Driver {
        let port = free_port();
        let mut native_port = free_port();
        while native_port == port {
            native_port = free_port();
        }
        let mut command = Command::new(driver);
        command
            .arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .arg("--native-driver")
            .arg(WEBKIT_WEBDRIVER)
            .env("DISPLAY", display)
            .stdin(Stdio::null())
            .stdout(log_file(log))
            .stderr(log_file(&log.with_extension("err.log")));
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", driver.display()));
        let mut guard = Driver {
            child,
            port,
            log: log.to_owned(),
        };
        guard.wait_ready();
        guard
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < DRIVER_READY_DEADLINE {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "tauri-driver exited with {status} before it was ready; its log:\n{}",
                    self.logs()
                );
            }
            let response = http_get(self.port, "/status").unwrap_or_default();
            if response.contains("\"ready\":true") {
                return;
            }
            std::thread::sleep(POLL_STEP);
        }
        panic!(
            "tauri-driver on port {} was not ready within {DRIVER_READY_DEADLINE:?}; its log:\n{}",
            self.port,
            self.logs()
        );
    }

    /// The driver's stdout and stderr, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "{}{}",
            read_log(&self.log),
            read_log(&self.log.with_extension("err.log"))
        )
    }

    /// PID of `tauri-driver` itself.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// URL of the WebDriver endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let started = descendants(self.child.id());
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + TERM_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(POLL_STEP);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // WebKitWebDriver ends the app when its session ends; whatever is
        // still alive now (the app, its WebKit helpers, a Chromium the app
        // launched) was orphaned, and is ended here by PID.
        for process in started {
            if process.is_alive() {
                signal(process.pid, "KILL");
            }
        }
    }
}

/// One process as seen in `/proc`, with its start time so that a PID reused
/// by an unrelated process is never signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    start_ticks: u64,
}

impl ProcessId {
    /// Reads a process; `None` when it no longer exists.
    pub fn read(pid: u32) -> Option<ProcessId> {
        let stat = ProcStat::read(pid)?;
        Some(ProcessId {
            pid,
            start_ticks: stat.start_ticks,
        })
    }

    /// Whether this very process still runs (not a zombie, PID not reused).
    pub fn is_alive(&self) -> bool {
        match ProcStat::read(self.pid) {
            Some(stat) => stat.start_ticks == self.start_ticks && stat.state != 'Z',
            None => false,
        }
    }
}

/// The fields of `/proc/PID/stat` the harness uses.
#[derive(Debug, Clone, Copy)]
pub struct ProcStat {
    pub state: char,
    pub parent: u32,
    /// Start time in clock ticks after boot (field 22).
    pub start_ticks: u64,
}

impl ProcStat {
    pub fn read(pid: u32) -> Option<ProcStat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may hold spaces and parentheses, so the
        // fixed fields are counted from the last ')'.
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(ProcStat {
            state: fields.first()?.chars().next()?,
            parent: fields.get(1)?.parse().ok()?,
            start_ticks: fields.get(19)?.parse().ok()?,
        })
    }
}

/// Lists every process below `root` (children, their children, ...).
pub fn descendants(root: u32) -> Vec<ProcessId> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(stat) = ProcStat::read(pid) {
                children.entry(stat.parent).or_default().push(pid);
            }
        }
    }
    let mut found = Vec::new();
    let mut pending = vec![root];
    while let Some(parent) = pending.pop() {
        for &child in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            if let Some(process) = ProcessId::read(child) {
                found.push(process);
                pending.push(child);
            }
        }
    }
    found
}

/// Sends a signal by name (`TERM`, `KILL`) to one PID with kill(1), which
/// keeps the tests free of `unsafe` libc calls.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Resident set size of a process in bytes (`VmRSS` of `/proc/PID/status`),
/// or `None` when it has exited.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// The executable of a process (`/proc/PID/exe`).
pub fn executable(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}
