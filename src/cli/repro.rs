//! `leakscope repro`: reproduces a leak on demand. Runs an action and its
//! undo N times on a tab while recording it, and reports which measures grow
//! by a steady amount per iteration and which classes of the heap snapshot
//! diff are leak candidates, each with a retainer path.
//!
//! The run itself is the core's [`leakscope_core::repro`]; this module parses
//! the flags, prints a progress line per step on stderr and the report on
//! stdout, writes the report beside the recording and exports the bundle.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use leakscope_core::recorder::{recording_path, RecorderConfig};
use leakscope_core::repro::{self, CancelToken, Phase, RecordedSetup, ReproConfig, ReproProgress};
use leakscope_core::{select_target, BrowserConnection, Target};
use leakscope_model::repro::{format_amount, ActionSpec, ReproReport, ReproVerdict};

use super::analysis::FailOn;
use super::targets::ConnectArgs;
use super::EXIT_FAIL_ON;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Tab to run on: a target id, or part of its URL or title (see `leakscope targets`).
    #[arg(long)]
    pub tab: String,
    /// The action: a JavaScript expression, a JSON list of steps
    /// (`[{"click": "#open"}, {"waitFor": ".panel", "timeoutMs": 2000}]`; kinds
    /// click, waitFor, navigate, waitMs, eval), or `@FILE` to read either from a file.
    #[arg(long, value_name = "SPEC")]
    pub action: String,
    /// The undo of the action, in the same forms as --action.
    #[arg(long, value_name = "SPEC")]
    pub undo: String,
    #[command(flatten)]
    pub run: RunArgs,
    /// Sampling interval of the recording (100ms or more), e.g. `500ms`, `1s`.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub interval: Duration,
    /// Directory for the recording, the heap snapshots and the report.
    #[arg(long, default_value = "leakscope-recordings")]
    pub out: PathBuf,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also export a bug-report bundle (zip) to this file when the run ends.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub analysis: super::analysis::AnalysisArgs,
}

/// Flags of a repro run, shared with `leakscope demo --repro`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Measured iterations of action and undo (at least 3 for a verdict).
    #[arg(long, default_value_t = leakscope_model::repro::DEFAULT_ITERATIONS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub iterations: u32,
    /// Iterations run before the baseline and not measured, so caches fill first.
    #[arg(long, default_value_t = leakscope_model::repro::DEFAULT_WARMUP)]
    pub warmup: u32,
    /// Minimum steady heap growth per iteration, in KiB, that counts as a leak.
    #[arg(long, value_name = "KIB", default_value_t = 64.0)]
    pub min_heap_growth_kib: f64,
    /// Skip the three heap snapshots (and so the leak candidates).
    #[arg(long)]
    pub no_snapshots: bool,
}

/// Reads a spec argument: `@FILE` reads the file, anything else is the spec.
pub fn read_spec(text: &str, flag: &str) -> anyhow::Result<ActionSpec> {
    let (source, content) = match text.strip_prefix('@') {
        Some(path) => {
            let content = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read the {flag} spec file {path}"))?;
            (format!("{flag} spec file {path}"), content)
        }
        None => (flag.to_owned(), text.to_owned()),
    };
    ActionSpec::parse(&content).with_context(|| format!("invalid {source}"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    leakscope_core::sampler::check_interval(args.interval)?;
    let recording = super::record::RecordingArgs {
        interval: args.interval,
        duration: None,
        out: args.out.clone(),
        gc_before_sample: false,
        no_agent: false,
        no_network: false,
        json: args.json,
        bundle: args.bundle.clone(),
        analysis: args.analysis.clone(),
        navigate_to: None,
    };
    let action = read_spec(&args.action, "--action")?;
    let undo = read_spec(&args.undo, "--undo")?;
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let connection = args.connect.connect().await?;
        let targets = connection
            .targets()
            .await
            .context("failed to list the browser's targets")?;
        let target = select_target(&targets, &args.tab)?;
        repro_on(&connection, &target, action, undo, &args.run, &recording).await
    })
}

/// Runs a repro on `target`, prints the report, writes it beside the
/// recording, exports the bundle when asked, and returns the exit code.
pub async fn repro_on(
    connection: &BrowserConnection,
    target: &Target,
    action: ActionSpec,
    undo: ActionSpec,
    run: &RunArgs,
    settings: &super::record::RecordingArgs,
) -> anyhow::Result<ExitCode> {
    let fail_on_leak = match settings.analysis.fail_on {
        None => false,
        Some(FailOn::Leak) => true,
        Some(other) => anyhow::bail!(
            "a repro run supports --fail-on leak only, not {other:?}; use `leakscope record` for alert levels"
        ),
    };
    let analysis = settings.analysis.load_config()?;
    let session = connection
        .attach(&target.id)
        .await
        .with_context(|| format!("failed to attach to target {}", target.id))?;
    let path = recording_path(&settings.out, &target.id);
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repro".to_owned());
    let mut config = ReproConfig::new(action, undo, settings.out.clone());
    config.iterations = run.iterations;
    config.warmup = run.warmup;
    config.snapshot_prefix = stem.clone();
    config.snapshots = !run.no_snapshots;
    config.thresholds.heap_bytes = run.min_heap_growth_kib * 1024.0;
    let setup = RecordedSetup {
        recorder: RecorderConfig {
            interval: settings.interval,
            network: !settings.no_network,
            agent: true,
            ..RecorderConfig::default()
        },
        analysis,
        recording_path: path.clone(),
        navigate_to: settings.navigate_to.clone(),
    };
    eprintln!(
        "repro on {} ({}): {} warm-up + {} iterations, recording to {}",
        target.id,
        settings.navigate_to.as_deref().unwrap_or(&target.url),
        config.warmup,
        config.iterations,
        path.display()
    );
    let mut progress = |update: &ReproProgress| eprintln!("{}", progress_line(update));
    let outcome = repro::run_recorded(
        session.clone(),
        target.info(),
        setup,
        &config,
        &mut progress,
        cancel_on_ctrl_c(),
    )
    .await
    .context("failed to start recording the repro run")?;
    if !session.state().borrow().is_terminal() {
        if let Err(error) = session.detach().await {
            tracing::debug!(%error, "failed to detach after the repro run");
        }
    }
    if let Err(error) = &outcome.summary {
        eprintln!("warning: the recording did not end cleanly: {error}");
    }
    let report = outcome.report;
    if let Ok(report) = &report {
        let report_path = outcome
            .recording
            .with_file_name(format!("{stem}.repro.json"));
        std::fs::write(&report_path, serde_json::to_string_pretty(report)?)
            .with_context(|| format!("failed to write the report {}", report_path.display()))?;
        eprintln!("report: {}", report_path.display());
    }
    if let Some(bundle) = &settings.bundle {
        super::export::export_after_recording(&outcome.recording, bundle)?;
    }
    let report = report.with_context(|| {
        format!(
            "the repro run failed; its recording is kept at {}",
            outcome.recording.display()
        )
    })?;
    if settings.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", human_report(&report));
    }
    if fail_on_leak && report.verdict == ReproVerdict::Leak {
        return Ok(ExitCode::from(EXIT_FAIL_ON));
    }
    Ok(ExitCode::SUCCESS)
}

/// A token cancelled by Ctrl-C, so the run ends with a partial report.
fn cancel_on_ctrl_c() -> CancelToken {
    let (handle, token) = repro::cancel_pair();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            handle.cancel();
        }
    });
    token
}

/// One stderr line per progress report.
pub fn progress_line(update: &ReproProgress) -> String {
    let position = match update.phase {
        Phase::Warmup => format!("warm-up {}/{}", update.iteration, update.of),
        _ if update.iteration == 0 => "baseline".to_owned(),
        _ => format!("iteration {}/{}", update.iteration, update.of),
    };
    if update.detail.is_empty() {
        format!("[{position}] {}", update.phase)
    } else {
        format!("[{position}] {}: {}", update.phase, update.detail)
    }
}

/// The report for a person: verdict, measures, candidates, timers, polls.
pub fn human_report(report: &ReproReport) -> String {
    let mut out = format!(
        "verdict: {} ({} of {} iterations after {} warm-up)\n",
        report.verdict.as_str(),
        report.iterations,
        report.requested_iterations,
        report.warmup
    );
    if let Some(reason) = &report.incomplete_reason {
        out += &format!("incomplete: {reason}\n");
    }
    out += "\nmeasures (baseline, then per iteration):\n";
    for measure in &report.measures {
        let values: Vec<String> = measure
            .values
            .iter()
            .map(|value| format_amount(*value, &measure.unit))
            .collect();
        out += &format!(
            "  {:<20} {:<8} {}\n  {:<20} {}\n",
            measure.name,
            if measure.growing { "GROWING" } else { "flat" },
            measure.reason,
            "",
            values.join(" → ")
        );
    }
    if report.verdict == ReproVerdict::NoLeak {
        // Without a growing measure, a count that happens to be a multiple of
        // the iterations is usually the browser's own bookkeeping.
        out += "\nleak candidates (new since the baseline, a multiple of the iteration count; no measure grows, so these are likely browser bookkeeping):\n";
    } else {
        out += "\nleak candidates (new since the baseline, a multiple of the iteration count):\n";
    }
    if report.candidates.is_empty() {
        out += "  none\n";
    }
    for candidate in &report.candidates {
        out += &format!(
            "  {} +{} ({} per iteration, {:+} bytes)\n",
            candidate.class, candidate.count, candidate.per_iteration, candidate.size_delta
        );
        if !candidate.retainer_line.is_empty() {
            out += &format!("    retained by: {}\n", candidate.retainer_line);
        }
    }
    if !report.grown_classes.is_empty() {
        out += "\nlargest growth since the baseline, by size:\n";
        for class in &report.grown_classes {
            out += &format!(
                "  {} {:+} objects, {}\n",
                class.name,
                class.count_delta,
                format_amount(class.size_delta as f64, "bytes")
            );
        }
    }
    if !report.timer_sites.is_empty() {
        out += "\ntimers created once per iteration and never cleared:\n";
        for site in &report.timer_sites {
            out += &format!(
                "  {} live {} → {} ({:.1} per iteration)\n",
                site.site, site.live_at_baseline, site.live_at_end, site.per_iteration
            );
        }
    }
    if !report.polls.is_empty() {
        out += "\npolls started once per iteration and never ended:\n";
        for poll in &report.polls {
            out += &format!(
                "  {} {}: {} still active (timer {}, request {})\n",
                poll.poll_type,
                poll.endpoint,
                poll.count,
                poll.timer_site.as_deref().unwrap_or("-"),
                poll.request_site.as_deref().unwrap_or("-")
            );
        }
    }
    out += "\nsnapshots:\n";
    for (name, path) in [
        ("baseline", &report.snapshots.baseline),
        ("target", &report.snapshots.target),
        ("final", &report.snapshots.final_),
    ] {
        out += &format!("  {name:<8} {}\n", path.as_deref().unwrap_or("-"));
    }
    out += &format!("recording: {}\n", report.recording);
    for note in &report.notes {
        out += &format!("note: {note}\n");
    }
    out
}
