//! Poll lifecycles, alerts, verdict and `--fail-on` end to end: the built
//! `leakscope record` binary attached to a real headless Chromium that runs
//! the demo editor from the real demo server, all four flows in one run.
//!
//! The test's rules file lowers the attempt limits, so a runaway poll is
//! reached in seconds, and the verdict's window and minimum duration, so a
//! 20-second recording is long enough for a verdict. Every other rule keeps
//! its default. `leakscope demo --fail-on critical` is run on both variants
//! for its exit code.

#[path = "agent_watch.rs"]
mod agent_watch;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agent_watch::support::{Harness, RawCdp};
use leakscope_demo::{Flow, FlowSelection, Scenario, Variant};
use serde_json::{json, Value};

/// Attempts after which the test's rules call a poll runaway.
const MAX_ATTEMPTS: u64 = 6;

/// Recording length: the four flows start within 6 s (leaky) or 15 s
/// (fixed) of the page load, and the verdict needs 15 s of samples.
const RECORD_FOR: Duration = Duration::from_secs(22);

/// Length of a `leakscope demo` run: its first flow (video) passes the
/// attempt limit after about 7 s at the page's 1 s poll interval.
const DEMO_FOR: Duration = Duration::from_secs(15);

/// How long the binary may take beyond its recording to start and finish.
const EXIT_GRACE: Duration = Duration::from_secs(60);

/// Deadline for the binary to say it is recording.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// `EXIT_FAIL_ON` of the CLI.
const EXIT_FAIL_ON: i32 = 3;

fn rules() -> String {
    let mut text = String::new();
    for flow in Flow::ALL {
        text += &format!(
            "[poll_types.{}]\nmax_attempts = {MAX_ATTEMPTS}\n\n",
            flow.poll_type()
        );
    }
    // The leaky variant keeps 256 KB per poll, about 60 MB/min with four
    // polls a second. A fixed page's heap floor still rises by up to about
    // 2 MB/min in its first 20 s (start-up allocations that no collection
    // has freed yet), so the default 1 MB/min threshold, meant for recordings
    // of minutes, would call such a short fixed run too noisy.
    text += "[verdict]\nwindow_s = 3.0\nmin_duration_s = 15.0\nleak_slope_mb_per_min = 5.0\n";
    text
}

/// Kills the binary if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// What one `leakscope record` run printed.
struct Run {
    exit: i32,
    summary: Value,
    stderr: String,
    /// Operation id of each flow's job, from the demo server's request log.
    operations: Vec<(Flow, String)>,
}

/// Records `scenario` on a fresh browser with `leakscope record --json
/// --fail-on critical` and the test's rules.
async fn record(scenario: &Scenario) -> Run {
    let harness = Harness::start().await;
    let dir = tempfile::tempdir().expect("failed to create a temp dir");
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, rules()).expect("failed to write the rules file");
    let tab = agent_watch::open_tab(&harness, "about:blank").await;

    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_leakscope"))
            .args([
                "record",
                "--port",
                &harness.browser.port().to_string(),
                "--tab",
                &tab.id,
            ])
            .args([
                "--duration",
                &format!("{}s", RECORD_FOR.as_secs()),
                "--interval",
                "500ms",
            ])
            .arg("--out")
            .arg(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["--fail-on", "critical", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start leakscope"),
    );
    let stderr_lines = forward_lines(child.0.stderr.take().expect("stderr is piped"));
    let mut stdout = child.0.stdout.take().expect("stdout is piped");
    let stdout_task = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });

    // The agent is installed for new documents once the binary prints that it is recording.
    let mut stderr = String::new();
    let ready_by = Instant::now() + READY_DEADLINE;
    loop {
        let left = ready_by.saturating_duration_since(Instant::now());
        match stderr_lines.recv_timeout(left) {
            Ok(line) => {
                stderr += &line;
                stderr += "\n";
                if line.starts_with("recording ") {
                    break;
                }
            }
            Err(_) => panic!(
                "leakscope did not start recording within {READY_DEADLINE:?}; stderr:\n{stderr}"
            ),
        }
    }
    let url = scenario.url(&harness.demo_url());
    let mut cdp = RawCdp::connect(&tab.ws_url).await;
    cdp.call("Page.navigate", json!({ "url": url })).await;

    let exit_by = Instant::now() + RECORD_FOR + EXIT_GRACE;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("failed to wait for leakscope") {
            break status;
        }
        assert!(
            Instant::now() < exit_by,
            "leakscope did not exit within {:?}",
            RECORD_FOR + EXIT_GRACE
        );
        // Polls the child's exit; the bound is the deadline above.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stderr.extend(stderr_lines.iter().map(|line| line + "\n"));
    let stdout = stdout_task.join().expect("stdout reader panicked");
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!("stdout is not one JSON object ({error}):\n{stdout}\nstderr:\n{stderr}")
    });
    let operations = Flow::ALL
        .into_iter()
        .filter_map(|flow| {
            let start = harness
                .demo
                .request_log()
                .into_iter()
                .find(|request| request.path == flow.start_path())?;
            Some((flow, start.operation?))
        })
        .collect();
    Run {
        exit: status.code().unwrap_or(-1),
        summary,
        stderr,
        operations,
    }
}

/// Sends each line of `stream` to the returned channel, from a thread.
fn forward_lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn polls(summary: &Value) -> &[Value] {
    summary["polls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn alerts(summary: &Value) -> &[Value] {
    summary["alerts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn flags(poll: &Value) -> Vec<&str> {
    poll["flags"]
        .as_array()
        .map(|flags| flags.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn operation_of(run: &Run, flow: Flow) -> &str {
    run.operations
        .iter()
        .find(|(started, _)| *started == flow)
        .map(|(_, operation)| operation.as_str())
        .unwrap_or_else(|| panic!("the {flow} flow started no job; stderr:\n{}", run.stderr))
}

/// Line of `needle` in the demo editor's script.
fn editor_line(needle: &str) -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/demo/app/editor.js");
    let text = std::fs::read_to_string(&path).expect("editor.js missing");
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in editor.js"))
        + 1
}

/// Returns the line of the code that creates the timer driving `flow`'s poll.
fn timer_line(flow: Flow) -> usize {
    if flow.uses_interval() {
        editor_line("poll.timerId = setInterval(")
    } else {
        editor_line("poll.timerId = setTimeout(")
    }
}

#[tokio::test]
async fn leaky_flows_runaway_orphaned_leak() {
    let scenario = Scenario {
        cycles: Some(1),
        cycle_ms: Some(1500),
        gap_ms: Some(250),
        ..Scenario::new(Variant::Leaky, FlowSelection::All)
    };
    let run = record(&scenario).await;
    let context = format!("summary:\n{:#}\nstderr:\n{}", run.summary, run.stderr);

    for flow in Flow::ALL {
        let operation = operation_of(&run, flow);
        let poll = polls(&run.summary)
            .iter()
            .find(|poll| poll["operation"] == operation)
            .unwrap_or_else(|| panic!("no lifecycle for {flow} ({operation}); {context}"));
        assert_eq!(poll["type"], flow.poll_type(), "{context}");
        let flags = flags(poll);
        assert!(
            flags.contains(&"runaway"),
            "{flow} flags {flags:?}; {context}"
        );
        assert!(
            flags.contains(&"orphaned"),
            "{flow} flags {flags:?}; {context}"
        );
        assert!(
            poll["attempts"].as_u64().unwrap_or(0) > MAX_ATTEMPTS,
            "{flow}; {context}"
        );
        let site = poll["timer_site"]
            .as_str()
            .unwrap_or_else(|| panic!("{flow} has no timer site; {context}"));
        let expected = format!("editor.js:{}:", timer_line(flow));
        assert!(
            site.contains(&expected),
            "{flow} timer site {site}, expected {expected}"
        );

        for rule in ["poll.runaway", "poll.orphaned"] {
            let alert = alerts(&run.summary)
                .iter()
                .find(|alert| {
                    alert["rule"] == rule
                        && alert["subject"]
                            .as_str()
                            .is_some_and(|s| s.contains(operation))
                })
                .unwrap_or_else(|| panic!("no {rule} alert for {flow} ({operation}); {context}"));
            assert_eq!(alert["level"], "critical", "{context}");
            assert!(
                run.stderr.lines().any(|line| line.contains("CRITICAL")
                    && line.contains(rule)
                    && line.contains(operation)),
                "the {rule} alert for {operation} was not printed as it fired; {context}"
            );
        }
    }
    assert_eq!(run.summary["verdict"]["verdict"], "leak", "{context}");
    assert_eq!(run.exit, EXIT_FAIL_ON, "--fail-on critical; {context}");
}

#[tokio::test]
async fn fixed_flows_complete_no_leak() {
    let scenario = Scenario {
        cycles: Some(1),
        cycle_ms: Some(3000),
        gap_ms: Some(250),
        complete_after: Some(1),
        ..Scenario::new(Variant::Fixed, FlowSelection::All)
    };
    let run = record(&scenario).await;
    let context = format!("summary:\n{:#}\nstderr:\n{}", run.summary, run.stderr);

    for flow in Flow::ALL {
        let operation = operation_of(&run, flow);
        let poll = polls(&run.summary)
            .iter()
            .find(|poll| poll["operation"] == operation)
            .unwrap_or_else(|| panic!("no lifecycle for {flow} ({operation}); {context}"));
        assert_eq!(poll["type"], flow.poll_type(), "{context}");
        assert_eq!(poll["state"], "complete", "{flow}; {context}");
        assert!(
            flags(poll).is_empty(),
            "{flow} flags {:?}; {context}",
            flags(poll)
        );
    }
    let loud: Vec<&Value> = alerts(&run.summary)
        .iter()
        .filter(|alert| alert["level"] != "info")
        .collect();
    assert!(loud.is_empty(), "alerts above info: {loud:#?}; {context}");
    assert_eq!(run.summary["verdict"]["verdict"], "no-leak", "{context}");
    assert_eq!(run.exit, 0, "--fail-on critical; {context}");
}

/// Runs `leakscope demo --headless --json --fail-on critical` with the
/// test's rules for `variant`, all four flows, and returns the exit code,
/// the summary and stderr.
fn demo(variant: Variant) -> (i32, Value, String) {
    let dir = tempfile::tempdir().expect("failed to create a temp dir");
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, rules()).expect("failed to write the rules file");
    let child = Running(
        Command::new(env!("CARGO_BIN_EXE_leakscope"))
            .args(["demo", "--headless", "--json", "--variant", variant.name()])
            .args([
                "--flow",
                "all",
                "--duration",
                &format!("{}s", DEMO_FOR.as_secs()),
            ])
            .arg("--out")
            .arg(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["--fail-on", "critical"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start leakscope demo"),
    );
    let output = wait_with_deadline(child, DEMO_FOR + EXIT_GRACE);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summary = serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!("stdout is not one JSON object ({error}):\n{stdout}\nstderr:\n{stderr}")
    });
    (output.status.code().unwrap_or(-1), summary, stderr)
}

/// Waits for `child` to exit, killing it (through the guard) past `deadline`.
fn wait_with_deadline(mut child: Running, deadline: Duration) -> std::process::Output {
    let mut stdout = child.0.stdout.take().expect("stdout is piped");
    let mut stderr = child.0.stderr.take().expect("stderr is piped");
    let out_task = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err_task = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let give_up = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("failed to wait for leakscope") {
            break status;
        }
        assert!(
            Instant::now() < give_up,
            "leakscope did not exit within {deadline:?}"
        );
        // Polls the child's exit; the bound is the deadline above.
        std::thread::sleep(Duration::from_millis(100));
    };
    std::process::Output {
        status,
        stdout: out_task.join().expect("stdout reader panicked"),
        stderr: err_task.join().expect("stderr reader panicked"),
    }
}

#[test]
fn demo_fail_on_critical_leaky() {
    let (exit, summary, stderr) = demo(Variant::Leaky);
    let context = format!("summary:\n{summary:#}\nstderr:\n{stderr}");
    assert_eq!(exit, EXIT_FAIL_ON, "{context}");
    let runaway = alerts(&summary)
        .iter()
        .find(|alert| alert["rule"] == "poll.runaway")
        .unwrap_or_else(|| panic!("no poll.runaway alert; {context}"));
    assert_eq!(runaway["level"], "critical", "{context}");
    assert!(stderr.contains("CRITICAL"), "{context}");
}

#[test]
fn demo_fail_on_critical_fixed() {
    let (exit, summary, stderr) = demo(Variant::Fixed);
    let context = format!("summary:\n{summary:#}\nstderr:\n{stderr}");
    assert_eq!(exit, 0, "{context}");
    assert!(
        !polls(&summary).is_empty(),
        "the demo polled nothing; {context}"
    );
    let critical = alerts(&summary)
        .iter()
        .filter(|alert| alert["level"] == "critical" || alert["level"] == "emergency")
        .count();
    assert_eq!(critical, 0, "{context}");
}
