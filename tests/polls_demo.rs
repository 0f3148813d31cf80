//! Poll lifecycles, alerts, verdict and `--fail-on` end to end, exactly as a
//! user runs the demo: the built `leakscope demo --headless --json --fail-on
//! critical` with its default settings (one minute, all four flows, the
//! page's default poll interval and every rule at its default). The leaky and
//! the fixed variant run as two tests, which the test harness runs in
//! parallel, each with its own demo server and Chromium.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leakscope_demo::{Flow, Variant};
use leakscope_model::config::Config;
use serde_json::Value;

/// The demo's default recording length.
const DEMO_RUN: Duration = Duration::from_secs(60);

/// How long the binary may take beyond its recording to start and finish.
const EXIT_GRACE: Duration = Duration::from_secs(90);

/// `EXIT_FAIL_ON` of the CLI.
const EXIT_FAIL_ON: i32 = 3;

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

/// What one `leakscope demo` run printed.
struct Run {
    exit: i32,
    summary: Value,
    stderr: String,
}

impl Run {
    fn context(&self) -> String {
        format!("summary:\n{:#}\nstderr:\n{}", self.summary, self.stderr)
    }
}

/// Runs `leakscope demo --headless --json --fail-on critical` on `variant`
/// with every other setting at its default.
fn demo(variant: Variant) -> Run {
    let dir = tempfile::tempdir().expect("failed to create a temp dir");
    let child = Running(
        Command::new(env!("CARGO_BIN_EXE_leakscope"))
            .args(["demo", "--headless", "--json", "--variant", variant.name()])
            .args(["--fail-on", "critical"])
            .arg("--out")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start leakscope demo"),
    );
    let output = wait_with_deadline(child, DEMO_RUN + EXIT_GRACE);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summary = serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!("stdout is not one JSON object ({error}):\n{stdout}\nstderr:\n{stderr}")
    });
    Run {
        exit: output.status.code().unwrap_or(-1),
        summary,
        stderr,
    }
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

fn polls_of(run: &Run, flow: Flow) -> Vec<&Value> {
    polls(&run.summary)
        .iter()
        .filter(|poll| poll["type"] == flow.poll_type())
        .collect()
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

#[test]
fn demo_leaky_default_run() {
    let run = demo(Variant::Leaky);
    let context = run.context();
    let config = Config::default();

    for flow in Flow::ALL {
        let limit = config.limits_for(flow.poll_type()).max_attempts;
        let poll = polls_of(&run, flow)
            .into_iter()
            .find(|poll| flags(poll).contains(&"runaway"))
            .unwrap_or_else(|| panic!("no runaway {flow} lifecycle; {context}"));
        let operation = poll["operation"].as_str().expect("operation is text");
        assert!(
            flags(poll).contains(&"orphaned"),
            "{flow} {operation} flags {:?}; {context}",
            flags(poll)
        );
        let attempts = poll["attempts"].as_u64().unwrap_or(0);
        assert!(
            attempts > limit,
            "{flow} {operation}: {attempts} attempts, limit {limit}; {context}"
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
                            .is_some_and(|subject| subject.contains(operation))
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

    // The agent's counts in the JSON summary: the leaked poll timers are live
    // and their creation site is listed.
    let timers = &run.summary["timers"];
    assert!(
        timers["live"].as_u64().is_some_and(|live| live > 0),
        "{timers}"
    );
    for key in ["intervals_live", "created", "cleared"] {
        assert!(timers[key].is_u64(), "timers.{key} missing: {timers}");
    }
    assert!(
        timers["top_sites"]
            .as_array()
            .is_some_and(|sites| sites.iter().any(|site| site["site"]
                .as_str()
                .is_some_and(|text| text.contains("editor.js")))),
        "{timers}"
    );
    let requests = &run.summary["requests"];
    for key in ["in_flight", "completed", "aborted", "failed"] {
        assert!(requests[key].is_u64(), "requests.{key} missing: {requests}");
    }
    assert!(
        requests["completed"].as_u64().is_some_and(|n| n > 0),
        "{requests}"
    );
    let controllers = &run.summary["abort_controllers"];
    assert!(
        controllers["live"].is_u64() && controllers["aborted"].is_u64(),
        "{controllers}"
    );
    assert_eq!(run.summary["agent"]["late"], false, "{context}");
}

#[test]
fn demo_fixed_default_run() {
    let run = demo(Variant::Fixed);
    let context = run.context();

    for flow in Flow::ALL {
        let lifecycles = polls_of(&run, flow);
        assert!(
            lifecycles.iter().any(|poll| poll["state"] == "complete"),
            "no complete {flow} lifecycle; {context}"
        );
        for poll in lifecycles {
            assert!(
                flags(poll).is_empty(),
                "{flow} {} flags {:?}; {context}",
                poll["operation"],
                flags(poll)
            );
        }
    }
    let loud: Vec<&Value> = alerts(&run.summary)
        .iter()
        .filter(|alert| alert["level"] != "info")
        .collect();
    assert!(loud.is_empty(), "alerts above info: {loud:#?}; {context}");
    assert_eq!(run.summary["verdict"]["verdict"], "no-leak", "{context}");
    assert_eq!(run.exit, 0, "--fail-on critical; {context}");
}
