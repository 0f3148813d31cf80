//! `leakscope record`: attaches to a tab, samples it and writes a recording,
//! with a live status line on stderr and a summary at the end. Ctrl-C stops
//! it cleanly: the recording gets its `End` record and nothing is lost.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use leakscope_core::agent::AgentPlugin;
use leakscope_core::recorder::{recording_path, RecorderStatus};
use leakscope_core::{
    select_target, BrowserConnection, RecordSummary, Recorder, RecorderConfig, Target,
};

use super::targets::ConnectArgs;

/// How often the status line is redrawn on a terminal.
const STATUS_REFRESH: Duration = Duration::from_secs(1);

/// How often a status line is printed when stderr is not a terminal (a log
/// file or CI): often enough to see progress, rarely enough to stay readable.
const STATUS_LOG_PERIOD: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Tab to record: a target id, or part of its URL or title (see `leakscope targets`).
    #[arg(long)]
    pub tab: String,
    #[command(flatten)]
    pub recording: RecordingArgs,
}

/// Flags of a recording, shared with `leakscope demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordingArgs {
    /// Sampling interval (100ms or more), e.g. `500ms`, `1s`, `2s`.
    // Hyphen values reach the parser, so `--interval -1s` gets its message
    // rather than clap's "unexpected argument".
    #[arg(long, value_parser = parse_interval, default_value = "1s", allow_hyphen_values = true)]
    pub interval: Duration,
    /// Stop after this long, e.g. `30s`, `2m`. Without it, `record` runs until
    /// Ctrl-C or the tab ends, and `demo` stops after 60 s.
    #[arg(long, value_parser = parse_recording_duration)]
    pub duration: Option<Duration>,
    /// Directory for the recording file.
    #[arg(long, default_value = "leakscope-recordings")]
    pub out: PathBuf,
    /// Run a garbage collection before a sample every 10 s, so the post-GC heap series shows retained memory.
    #[arg(long)]
    pub gc_before_sample: bool,
    /// Do not inject the in-page agent (no timer, request or AbortController tracking).
    #[arg(long)]
    pub no_agent: bool,
    /// Do not enable the Network domain (no request records).
    #[arg(long)]
    pub no_network: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also export a bug-report bundle (zip) to this file when the recording ends.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub analysis: super::analysis::AnalysisArgs,
    /// URL to load in the tab once the recorder and the agent are ready, so
    /// the agent sees the page from its first line (used by `leakscope demo`).
    #[arg(skip)]
    pub navigate_to: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    leakscope_core::sampler::check_interval(args.recording.interval)?;
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let connection = args.connect.connect().await?;
        let targets = connection
            .targets()
            .await
            .context("failed to list the browser's targets")?;
        let target = select_target(&targets, &args.tab)?;
        let summary = record(&connection, &target, &args.recording).await?;
        print_summary(&summary, args.recording.json)?;
        if let Some(bundle) = &args.recording.bundle {
            super::export::export_after_recording(&summary.recording, bundle)?;
        }
        super::analysis::exit_code(&summary, &args.recording.analysis)
    })
}

/// Attaches to `target`, records it as `settings` say, and returns the summary.
/// Stops on Ctrl-C.
pub async fn record(
    connection: &BrowserConnection,
    target: &Target,
    settings: &RecordingArgs,
) -> anyhow::Result<RecordSummary> {
    let analysis_config = settings.analysis.load_config()?;
    let session = connection
        .attach(&target.id)
        .await
        .with_context(|| format!("failed to attach to target {}", target.id))?;
    let path = recording_path(&settings.out, &target.id);
    let config = RecorderConfig {
        interval: settings.interval,
        duration: settings.duration,
        gc_before_sample: settings.gc_before_sample,
        network: !settings.no_network,
        agent: !settings.no_agent,
        ..RecorderConfig::default()
    };
    let mut target_info = target.info();
    if let Some(url) = &settings.navigate_to {
        // The tab is still on about:blank here; the recording is of the page
        // loaded next, so the header (and every report and chart title built
        // from it) names that page.
        target_info.url = url.clone();
        target_info.title.clear();
    }
    let mut recorder = Recorder::start(session.clone(), target_info, &path, config)
        .await
        .with_context(|| format!("failed to start recording {}", path.display()))?;
    if !settings.no_agent {
        match leakscope_core::agent::install(&session).await {
            Ok(_) => {
                let plugin = AgentPlugin::new(recorder.started_at_ms(), session.losses());
                recorder.add_plugin(Box::new(plugin));
            }
            Err(error) => {
                // Sampling still works without the agent; say what is missing.
                eprintln!("warning: the in-page agent could not be installed ({error}); recording heap samples only");
            }
        }
    }
    let alert_printer = super::analysis::attach(&mut recorder, analysis_config);
    if let Some(url) = &settings.navigate_to {
        let params = serde_json::json!({ "url": url });
        session
            .call_raw(
                "Page.navigate",
                params,
                leakscope_core::deadline::NAVIGATION,
            )
            .await
            .with_context(|| format!("failed to open {url} in the recorded tab"))?;
    }
    let handle = recorder.handle();
    eprintln!(
        "recording {} ({}) to {}",
        target.id,
        target.url,
        path.display()
    );

    let status_task = tokio::spawn(print_status(handle.status()));
    let stopper = handle.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop().await;
        }
    });
    let result = recorder.run().await;
    alert_printer.finish().await;
    ctrl_c.abort();
    status_task.abort();
    let _ = status_task.await;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    // Leave the tab as we found it; a session that already ended has nothing to detach.
    if !session.state().borrow().is_terminal() {
        if let Err(error) = session.detach().await {
            tracing::debug!(%error, "failed to detach after recording");
        }
    }
    Ok(result?)
}

/// Prints the live status line until aborted.
async fn print_status(mut status: tokio::sync::watch::Receiver<RecorderStatus>) {
    let terminal = std::io::stderr().is_terminal();
    let period = if terminal {
        STATUS_REFRESH
    } else {
        STATUS_LOG_PERIOD
    };
    let mut ticker = tokio::time::interval(period);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let line = status_line(&status.borrow_and_update());
        if terminal {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// One line: elapsed, heap, nodes, listeners, agent counts when present, losses.
pub fn status_line(status: &RecorderStatus) -> String {
    let mut line = format!("{:>6.1}s  samples {}", status.t, status.samples);
    if let Some(sample) = &status.last_sample {
        line += &format!("  heap {}", mebibytes(sample.heap_used));
        if let Some(nodes) = sample.metric("Nodes") {
            line += &format!("  nodes {nodes:.0}");
        }
        if let Some(listeners) = sample.metric("JSEventListeners") {
            line += &format!("  listeners {listeners:.0}");
        }
        if let Some(counts) = &sample.counts {
            line += &format!(
                "  timers {}  requests {}  controllers {}",
                counts.timers_live, counts.requests_in_flight, counts.controllers_live
            );
        }
    }
    if status.gaps > 0 {
        line += &format!("  gaps {}", status.gaps);
    }
    let undecoded = status.losses.undecoded_total();
    if undecoded > 0 {
        line += &format!("  undecoded {undecoded}");
    }
    line
}

/// Parses `--interval`, naming the rejected value and the accepted form
/// (clap's own message for a failed parse gives neither).
fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text.trim()).map_err(|error| {
        format!(
            "invalid sampling interval {text:?} ({error}): give a positive duration of 100ms or more, such as 500ms, 1s or 2s"
        )
    })?;
    // Checked here too, so a short interval is a usage error (exit 2) like a malformed one.
    leakscope_core::sampler::check_interval(interval).map_err(|error| error.to_string())
}

/// Parses `--duration`, rejecting zero, which would record nothing.
fn parse_recording_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| {
        format!("invalid duration {text:?} ({error}); give a duration such as 30s or 2m")
    })?;
    if duration.is_zero() {
        return Err(format!(
            "duration {text:?} records nothing; give a positive duration such as 30s or 2m"
        ));
    }
    Ok(duration)
}

/// Prints the agent's counts at the end: timers with their top creation
/// sites, requests with the endpoints still in flight, AbortControllers.
fn print_agent_counts(summary: &RecordSummary) {
    let (Some(timers), Some(requests), Some(controllers)) = (
        summary.extra.get("timers"),
        summary.extra.get("requests"),
        summary.extra.get("abort_controllers"),
    ) else {
        return;
    };
    println!(
        "timers:    {} live ({} intervals), {} created, {} cleared",
        timers["live"], timers["intervals_live"], timers["created"], timers["cleared"]
    );
    for site in timers["top_sites"].as_array().into_iter().flatten() {
        println!(
            "           {} live {} of {} created at {}",
            site["live"],
            site["kind"].as_str().unwrap_or("timer"),
            site["created"],
            site["site"].as_str().unwrap_or("(unknown)")
        );
    }
    println!(
        "requests:  {} in flight, {} completed, {} aborted, {} failed",
        requests["in_flight"], requests["completed"], requests["aborted"], requests["failed"]
    );
    for endpoint in requests["endpoints_in_flight"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let oldest = endpoint["oldest_in_flight_s"]
            .as_f64()
            .map_or_else(|| "-".to_owned(), |age| format!("{age:.1} s"));
        println!(
            "           {} in flight to {}, the oldest for {oldest}",
            endpoint["in_flight"],
            endpoint["endpoint"].as_str().unwrap_or("?")
        );
    }
    println!(
        "abort controllers: {} live, {} aborted",
        controllers["live"], controllers["aborted"]
    );
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Prints the summary: JSON on stdout, or a few lines for a person.
pub fn print_summary(summary: &RecordSummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
        return Ok(());
    }
    let heap = |bytes: Option<u64>| bytes.map_or_else(|| "-".to_owned(), mebibytes);
    println!("recording: {}", display(&summary.recording));
    println!("target:    {} {}", summary.target.id, summary.target.url);
    println!(
        "ended:     {} ({}) after {:.1} s",
        summary.end_reason.as_str(),
        summary.end_message,
        summary.duration_s
    );
    println!(
        "samples:   {} ({} gaps), {} navigations",
        summary.samples, summary.gaps, summary.navigations
    );
    println!(
        "heap used: first {}, last {}, max {}",
        heap(summary.heap.first_bytes),
        heap(summary.heap.last_bytes),
        heap(summary.heap.max_bytes)
    );
    println!(
        "losses:    {} undecoded messages, {} dropped events, {} timed-out commands",
        summary.undecoded_messages, summary.dropped_events, summary.timed_out_commands
    );
    let agent_late = summary
        .extra
        .get("agent")
        .and_then(|agent| agent["late"].as_bool())
        .unwrap_or(false);
    if agent_late {
        println!(
            "agent:     joined a page that was already running, so timers and requests created before \
             it are not counted; reload the tab while recording to count from the start"
        );
    }
    print_agent_counts(summary);
    super::analysis::print_human(summary);
    Ok(())
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_parses_durations() {
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn negative_interval_names_value_and_fix() {
        let message = parse_interval("-1s").unwrap_err();
        assert!(message.contains("\"-1s\""), "{message}");
        assert!(message.contains("such as 500ms, 1s or 2s"), "{message}");
    }
}
