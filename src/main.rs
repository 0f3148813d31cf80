//! The `leakscope` command-line tool: the same engine as the desktop app,
//! headless, for scripts and CI. Each sub-command lives in `src/cli/`; this file
//! only parses arguments, sets up logging and maps results to exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Find memory leaks and runaway polling in a Chrome tab.
#[derive(Debug, Parser)]
#[command(name = "leakscope", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the built-in demo editor, or record a leak on it (the main job).
    Demo(cli::demo::Args),
    /// List the debuggable targets (tabs) of a running browser.
    Targets(cli::targets::Args),
    /// Attach to a tab, sample it and write a recording.
    Record(cli::record::Args),
    /// Capture a heap snapshot of a tab.
    Snapshot(cli::snapshot::Args),
    /// Summarise a heap snapshot file by class.
    Analyze(cli::analyze::Args),
    /// Compare two heap snapshots of the same page.
    Diff(cli::diff::Args),
    /// Show the shortest retainer paths to a class or node in a heap snapshot.
    Retainers(cli::retainers::Args),
    /// Draw the overview chart of a recording or bundle.
    Chart(cli::chart::Args),
    /// Pack a recording into a bug-report bundle (zip).
    Export(cli::export::Args),
    /// Print the report of a recording or bundle.
    Report(cli::report::Args),
    /// Repeat an action and its undo on a tab and report what leaks.
    Repro(cli::repro::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging();
    if prints_only(&cli.command) {
        restore_default_sigpipe();
    }
    let result = match cli.command {
        Command::Demo(args) => cli::demo::run(args),
        Command::Targets(args) => cli::targets::run(args),
        Command::Record(args) => cli::record::run(args),
        Command::Snapshot(args) => cli::snapshot::run(args),
        Command::Analyze(args) => cli::analyze::run(args),
        Command::Diff(args) => cli::diff::run(args),
        Command::Retainers(args) => cli::retainers::run(args),
        Command::Chart(args) => cli::chart::run(args),
        Command::Export(args) => cli::export::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Repro(args) => cli::repro::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}

/// True for commands that only print a result, so being cut off by a closed
/// pipe (`leakscope analyze FILE | head`) may end them at once. Commands that
/// record or write files keep Rust's default and finish their work.
fn prints_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Targets(_)
            | Command::Analyze(_)
            | Command::Diff(_)
            | Command::Retainers(_)
            | Command::Report(_)
    )
}

/// Restores the default action of SIGPIPE (end the process quietly). Rust
/// ignores SIGPIPE, so `println!` to a closed pipe panics instead.
#[cfg(unix)]
fn restore_default_sigpipe() {
    #[allow(
        unsafe_code,
        reason = "setting a signal disposition has no safe wrapper in std"
    )]
    // SAFETY: called once at start-up before any thread is spawned; SIG_DFL is
    // a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}
