//! Sub-commands of the `leakscope` binary, one module each, and what they share.
//!
//! Exit codes (documented in the user guide):
//! - 0: success, nothing at or above the `--fail-on` level;
//! - 1: the command failed (bad input, browser unreachable, I/O error);
//! - 2: command-line usage error (from clap);
//! - 3: the `--fail-on` condition was met (an alert at that level, or a leak).

pub mod analysis;
pub mod analyze;
pub mod chart;
pub mod demo;
pub mod diff;
pub mod export;
pub mod record;
pub mod report;
pub mod repro;
pub mod retainers;
pub mod snapshot;
pub mod targets;

/// Exit code of a failed command.
pub const EXIT_ERROR: u8 = 1;
/// Exit code when the `--fail-on` condition was met.
pub const EXIT_FAIL_ON: u8 = 3;

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
