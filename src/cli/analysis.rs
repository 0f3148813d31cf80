//! The analysis flags of `leakscope record` and `leakscope demo`: the rules
//! file (`--config`), the exit condition (`--fail-on`), alerts printed on
//! stderr as they fire, and the verdict, poll and alert tables at the end.
//!
//! The analysis itself is the core's [`AnalysisPlugin`]; this module only
//! loads its configuration, attaches it to a recorder and prints what it
//! found.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use leakscope_core::analysis::{self, AlertReceiver, AnalysisPlugin};
use leakscope_core::{RecordSummary, Recorder};
use leakscope_model::config::Config;
use leakscope_model::engine::Summary;
use leakscope_model::polls::{PollState, PollSummary};
use leakscope_model::verdict::VerdictKind;
use leakscope_model::{Alert, AlertLevel};
use tokio::task::JoinHandle;

use super::EXIT_FAIL_ON;

/// Analysis flags, shared by `record` and `demo`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AnalysisArgs {
    /// Rules file (TOML) with thresholds, poll types and endpoints; see docs/leakscope.example.toml. Keys left out keep their defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Exit with code 3 when an alert at this level or higher fired (`warning`, `critical`, `emergency`), or when the verdict is a leak (`leak`).
    #[arg(long, value_name = "CONDITION")]
    pub fail_on: Option<FailOn>,
}

/// Condition that `--fail-on` checks at the end of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// An alert at `warning` or higher.
    Warning,
    /// An alert at `critical` or higher.
    Critical,
    /// An alert at `emergency`.
    Emergency,
    /// The leak verdict is `leak`.
    Leak,
}

impl AnalysisArgs {
    /// Loads the rules file, or the defaults without `--config`. The error
    /// names the file, and for bad content the line, column and key.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        match &self.config {
            // The message already ends with the I/O or TOML error, so the
            // source chain is not printed a second time.
            Some(path) => Config::from_file(path).map_err(|error| anyhow::anyhow!("{error}")),
            None => Ok(Config::default()),
        }
    }
}

/// Prints alerts while a recording runs; [`AlertPrinter::finish`] waits for
/// the last ones.
pub struct AlertPrinter {
    task: JoinHandle<()>,
}

impl AlertPrinter {
    /// Waits until every alert sent before the recorder ended is printed.
    /// The recorder drops the plugin, and with it the sender, when it ends.
    pub async fn finish(self) {
        if let Err(error) = self.task.await {
            tracing::debug!(%error, "the alert printer ended abnormally");
        }
    }
}

/// Adds the analysis plugin with `config` to `recorder` and starts printing
/// its alerts on stderr. Call after adding the agent plugin, whose records
/// the analysis reads.
pub fn attach(recorder: &mut Recorder, config: Config) -> AlertPrinter {
    let mut plugin = AnalysisPlugin::new(config, recorder.target());
    let alerts = plugin.subscribe();
    recorder.add_plugin(Box::new(plugin));
    AlertPrinter {
        task: tokio::spawn(print_alerts(alerts)),
    }
}

async fn print_alerts(mut alerts: AlertReceiver) {
    let terminal = std::io::stderr().is_terminal();
    while let Some(alert) = alerts.recv().await {
        let line = alert_line(&alert);
        if terminal {
            // Clear the status line first; the next status refresh redraws it.
            eprintln!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// Formats one line per alert: time, level, rule, subject and message.
pub fn alert_line(alert: &Alert) -> String {
    format!(
        "{:>6.1}s  {:<9}  {}  {}: {}",
        alert.last_seen,
        level_name(alert.level).to_uppercase(),
        alert.rule,
        alert.subject,
        alert.message
    )
}

/// Returns the exit code for `summary` under `--fail-on`: [`EXIT_FAIL_ON`]
/// when the condition is met, success otherwise (and without `--fail-on`).
pub fn exit_code(summary: &RecordSummary, args: &AnalysisArgs) -> anyhow::Result<ExitCode> {
    let Some(fail_on) = args.fail_on else {
        return Ok(ExitCode::SUCCESS);
    };
    let analysis =
        analysis::read_summary(summary).context("failed to read the analysis for --fail-on")?;
    if fail_on_met(fail_on, &analysis) {
        Ok(ExitCode::from(EXIT_FAIL_ON))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn fail_on_met(fail_on: FailOn, analysis: &Summary) -> bool {
    let level = match fail_on {
        FailOn::Leak => return analysis.verdict.verdict == VerdictKind::Leak,
        FailOn::Warning => AlertLevel::Warning,
        FailOn::Critical => AlertLevel::Critical,
        FailOn::Emergency => AlertLevel::Emergency,
    };
    analysis.alerts.iter().any(|alert| alert.level >= level)
}

/// Prints the verdict, the poll lifecycles and the alerts for a person, on
/// stdout. Prints nothing when the recording ran without the analysis.
pub fn print_human(summary: &RecordSummary) {
    let analysis = match analysis::read_summary(summary) {
        Ok(analysis) => analysis,
        Err(error) => {
            tracing::debug!(%error, "no analysis in the summary");
            return;
        }
    };
    let verdict = &analysis.verdict;
    let slope = verdict
        .slope_mb_per_min
        .map_or_else(|| "-".to_owned(), |slope| format!("{slope:.2} MB/min"));
    println!(
        "verdict:   {} (slope {slope}): {}",
        verdict_name(verdict.verdict),
        verdict.reason
    );

    println!();
    if analysis.polls.is_empty() {
        println!("polls: none seen");
    } else {
        println!("polls:");
        print!("{}", poll_table(&analysis.polls));
    }
    if analysis.polls_dropped > 0 {
        println!("({} older finished polls not kept)", analysis.polls_dropped);
    }

    println!();
    if analysis.alerts.is_empty() {
        println!("alerts: none");
    } else {
        println!("alerts:");
        print!("{}", alert_table(&analysis.alerts));
    }
}

/// Columns: type, operation, attempts, cadence, state, flags, timer site.
fn poll_table(polls: &[PollSummary]) -> String {
    let header = [
        "type",
        "operation",
        "attempts",
        "cadence",
        "state",
        "flags",
        "timer site",
    ];
    let rows = polls
        .iter()
        .map(|poll| {
            let flags: Vec<&str> = poll.flags.iter().map(|flag| flag.as_str()).collect();
            vec![
                poll.poll_type.clone(),
                poll.operation.clone(),
                format!("{}/{}", poll.attempts, poll.max_attempts),
                poll.cadence_s
                    .map_or_else(|| "-".to_owned(), |cadence| format!("{cadence:.2}s")),
                state_name(poll.state).to_owned(),
                if flags.is_empty() {
                    "-".to_owned()
                } else {
                    flags.join(",")
                },
                poll.timer_site.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    table(&header, rows)
}

/// Columns: level, rule, subject, count, message; the highest level first.
fn alert_table(alerts: &[Alert]) -> String {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(a.first_seen.total_cmp(&b.first_seen))
    });
    let header = ["level", "rule", "subject", "count", "message"];
    let rows = sorted
        .iter()
        .map(|alert| {
            vec![
                level_name(alert.level).to_owned(),
                alert.rule.clone(),
                alert.subject.clone(),
                alert.count.to_string(),
                alert.message.clone(),
            ]
        })
        .collect();
    table(&header, rows)
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|name| name.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|name| (*name).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len().saturating_sub(1);
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                if index == last {
                    cell.clone()
                } else {
                    format!("{cell:<width$}", width = widths[index])
                }
            })
            .collect();
        out += "  ";
        out += cells.join("  ").trim_end();
        out += "\n";
    }
    out
}

fn level_name(level: AlertLevel) -> &'static str {
    match level {
        AlertLevel::Info => "info",
        AlertLevel::Warning => "warning",
        AlertLevel::Critical => "critical",
        AlertLevel::Emergency => "emergency",
    }
}

fn state_name(state: PollState) -> &'static str {
    match state {
        PollState::Active => "active",
        PollState::Complete => "complete",
        PollState::Failed => "failed",
        PollState::Timeout => "timeout",
        PollState::Stopped => "stopped",
    }
}

fn verdict_name(verdict: VerdictKind) -> &'static str {
    match verdict {
        VerdictKind::Leak => "leak",
        VerdictKind::NoLeak => "no-leak",
        VerdictKind::Inconclusive => "inconclusive",
    }
}

#[cfg(test)]
mod tests {
    use leakscope_model::{Engine, Header, Settings, FORMAT_VERSION};

    use super::*;

    fn alert(level: AlertLevel, rule: &str) -> Alert {
        Alert {
            level,
            rule: rule.to_owned(),
            subject: "op-1 /api/video/status".to_owned(),
            message: "61 attempts, limit 60".to_owned(),
            first_seen: 1.0,
            last_seen: 2.5,
            count: 3,
        }
    }

    fn analysis(alerts: Vec<Alert>, verdict: VerdictKind) -> Summary {
        let header = Header {
            format_version: FORMAT_VERSION,
            leakscope_version: "test".to_owned(),
            browser: Default::default(),
            target: Default::default(),
            started_at_ms: 0.0,
            settings: Settings::default(),
        };
        let mut summary = Engine::new(Config::default(), &header).summary();
        summary.alerts = alerts;
        summary.verdict.verdict = verdict;
        summary
    }

    #[test]
    fn fail_on_levels() {
        let warning = analysis(
            vec![alert(AlertLevel::Warning, "poll.stalled")],
            VerdictKind::NoLeak,
        );
        assert!(fail_on_met(FailOn::Warning, &warning));
        assert!(!fail_on_met(FailOn::Critical, &warning));
        let critical = analysis(
            vec![alert(AlertLevel::Critical, "poll.runaway")],
            VerdictKind::NoLeak,
        );
        assert!(fail_on_met(FailOn::Warning, &critical));
        assert!(fail_on_met(FailOn::Critical, &critical));
        assert!(!fail_on_met(FailOn::Emergency, &critical));
        assert!(!fail_on_met(FailOn::Leak, &critical));
    }

    #[test]
    fn fail_on_leak_reads_the_verdict() {
        assert!(fail_on_met(
            FailOn::Leak,
            &analysis(Vec::new(), VerdictKind::Leak)
        ));
        assert!(!fail_on_met(
            FailOn::Leak,
            &analysis(Vec::new(), VerdictKind::Inconclusive)
        ));
    }

    #[test]
    fn info_alerts_do_not_fail_warning() {
        let info = analysis(
            vec![alert(AlertLevel::Info, "poll.no-progress")],
            VerdictKind::NoLeak,
        );
        assert!(!fail_on_met(FailOn::Warning, &info));
    }

    #[test]
    fn alert_line_names_level_rule_subject() {
        let line = alert_line(&alert(AlertLevel::Critical, "poll.runaway"));
        assert_eq!(
            line,
            "   2.5s  CRITICAL   poll.runaway  op-1 /api/video/status: 61 attempts, limit 60"
        );
    }

    #[test]
    fn table_aligns_columns() {
        let rows = vec![vec!["video".to_owned(), "op-10".to_owned(), "x".to_owned()]];
        let text = table(&["type", "operation", "site"], rows);
        assert_eq!(text, "  type   operation  site\n  video  op-10      x\n");
    }
}
