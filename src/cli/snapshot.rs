//! `leakscope snapshot`: captures a heap snapshot of a tab into a file that
//! Chrome DevTools opens, with a progress bar on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use leakscope_core::capture::{self, CaptureOptions};
use leakscope_core::select_target;

use super::targets::ConnectArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Tab to capture: a target id, or part of its URL or title.
    #[arg(long)]
    pub tab: String,
    /// Snapshot file to write (`.heapsnapshot`); it appears only once complete.
    #[arg(long)]
    pub out: PathBuf,
    /// Skip the garbage collection before the capture (the snapshot then includes garbage).
    #[arg(long)]
    pub no_gc: bool,
    /// Fail when no chunk or progress arrives for this long, e.g. `60s`.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    pub silence: std::time::Duration,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.out.exists() {
        anyhow::bail!(
            "{} already exists; choose another --out or remove it",
            args.out.display()
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let connection = args.connect.connect().await?;
        let targets = connection
            .targets()
            .await
            .context("failed to list the browser's targets")?;
        let target = select_target(&targets, &args.tab)?;
        let session = connection
            .attach(&target.id)
            .await
            .with_context(|| format!("failed to attach to target {}", target.id))?;

        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} walking the heap {pos}/{len} objects, {msg} written",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let options = CaptureOptions {
            gc_first: !args.no_gc,
            silence: args.silence,
        };
        let result = capture::capture(&session, &args.out, &options, |progress| {
            bar.set_length(progress.total);
            bar.set_position(progress.done);
            bar.set_message(indicatif::HumanBytes(progress.bytes).to_string());
        })
        .await;
        bar.finish_and_clear();
        let event = result?;
        let _ = session.detach().await;
        println!(
            "heap snapshot: {} ({}, {} ms)",
            event.path,
            indicatif::HumanBytes(event.bytes),
            event.duration_ms
        );
        Ok(ExitCode::SUCCESS)
    })
}
