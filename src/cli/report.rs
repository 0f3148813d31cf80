//! `leakscope report`: print the report of a recording or bundle, as Markdown
//! or as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use leakscope_report::{analyze, Report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recording (JSON Lines) or bundle (zip).
    input: PathBuf,
    /// Print the report as JSON instead of Markdown.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (recording, manifest) = leakscope_report::read_input(&args.input)?;
    let mut report = Report::build(&recording, &analyze(&recording));
    // Snapshot files sit next to a recording; a bundle does not keep them readable here.
    if manifest.is_none() {
        report = report.with_snapshot_diff(args.input.parent());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_markdown());
    }
    Ok(ExitCode::SUCCESS)
}
