//! `leakscope retainers` (placeholder until its owner replaces this file).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`leakscope retainers` is not available in this build yet")
}
