//! `leakscope export`: pack a recording into a bug-report bundle (zip).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use leakscope_report::bundle::FileStatus;
use leakscope_report::{BundleSummary, ExportOptions, Redactor};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recording (JSON Lines) to pack.
    recording: PathBuf,
    /// Bundle file to write.
    #[arg(long)]
    out: PathBuf,
    /// Include the recording's heap snapshots. A snapshot contains everything
    /// in the page's memory (user data, tokens), so this is off by default.
    #[arg(long)]
    with_snapshots: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
    /// Redact the values of query parameters and fields whose name contains
    /// NAME (case-insensitive), in addition to the defaults (token, key, secret,
    /// password, auth, session, signature, code, ...). Repeatable.
    #[arg(long = "redact", value_name = "NAME")]
    redact: Vec<String>,
}

/// Exports the bundle of a recording that just ended (`record --bundle`,
/// `demo --bundle`), with the default redaction and no heap snapshots.
pub fn export_after_recording(recording: &Path, bundle: &Path) -> anyhow::Result<()> {
    let options = ExportOptions {
        overwrite: true,
        ..ExportOptions::default()
    };
    let summary = leakscope_report::export_bundle(recording, bundle, &options).with_context(|| {
        format!(
            "failed to export the bundle {}; the recording is kept at {}, so run `leakscope export {} --out FILE` to try again",
            bundle.display(),
            recording.display(),
            recording.display()
        )
    })?;
    report_problems(&summary);
    eprintln!(
        "bundle: {} ({} bytes)",
        summary.path.display(),
        summary.bytes
    );
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let default = Redactor::default();
    let names = default.secret_names().iter().cloned().chain(args.redact);
    let options = ExportOptions {
        with_snapshots: args.with_snapshots,
        redactor: Redactor::new(names),
        overwrite: args.force,
        ..ExportOptions::default()
    };
    let summary = leakscope_report::export_bundle(&args.recording, &args.out, &options)?;
    report_problems(&summary);
    eprintln!(
        "wrote {} ({} bytes, {} files listed)",
        summary.path.display(),
        summary.bytes,
        summary.manifest.files.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints a note for each file the manifest marks as incomplete or omitted.
fn report_problems(summary: &BundleSummary) {
    for file in summary.problems() {
        let status = match file.status {
            FileStatus::Ok => "ok",
            FileStatus::Incomplete => "incomplete",
            FileStatus::Omitted => "omitted",
        };
        eprintln!(
            "note: {} {status}: {}",
            file.path,
            file.reason.as_deref().unwrap_or("no reason given")
        );
    }
}
