//! `leakscope targets`: lists the debuggable targets of a running browser,
//! and the connection flags every command that talks to a browser shares.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use leakscope_core::{Browser, BrowserConnection, ConnectOptions, Endpoint};

/// Where the browser is. With none of `--port`, `--ws`, `--profile`, port 9222 on 127.0.0.1.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Debugging port of the browser (`--remote-debugging-port`), on --host.
    #[arg(long, conflicts_with_all = ["ws", "profile"])]
    pub port: Option<u16>,
    /// Host of --port; only loopback addresses unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1", requires = "port")]
    pub host: String,
    /// Browser websocket URL (ws://127.0.0.1:PORT/devtools/browser/ID).
    #[arg(long, conflicts_with = "profile")]
    pub ws: Option<String>,
    /// Chrome profile directory, or its DevToolsActivePort file (Chrome 144+
    /// with remote debugging allowed at chrome://inspect has no /json endpoints).
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Accept a debugging endpoint that is not on this machine. A debugging
    /// port gives full control of the browser, so this is off by default.
    #[arg(long)]
    pub allow_remote: bool,
}

impl ConnectArgs {
    /// The endpoint these flags name.
    pub fn endpoint(&self) -> anyhow::Result<Endpoint> {
        if let Some(ws) = &self.ws {
            return Ok(Endpoint::websocket(ws)?);
        }
        if let Some(profile) = &self.profile {
            return Ok(Endpoint::ActivePortFile(profile.clone()));
        }
        let port = self.port.unwrap_or(leakscope_core::endpoint::DEFAULT_PORT);
        Ok(Endpoint::Port {
            host: self.host.clone(),
            port,
        })
    }

    pub fn options(&self) -> ConnectOptions {
        ConnectOptions {
            allow_remote: self.allow_remote,
            ..ConnectOptions::default()
        }
    }

    /// Connects to the browser these flags name.
    pub async fn connect(&self) -> anyhow::Result<BrowserConnection> {
        let endpoint = self.endpoint()?;
        Browser::connect(&endpoint, &self.options())
            .await
            .with_context(|| format!("failed to connect to the browser at {endpoint}"))
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print the targets as a JSON array on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let connection = args.connect.connect().await?;
        let targets = connection
            .targets()
            .await
            .context("failed to list the browser's targets")?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&targets)?);
        } else if targets.is_empty() {
            println!("no debuggable targets; open a tab first");
        } else {
            println!(
                "{:<34} {:<16} {:<8} {:<30} URL",
                "ID", "TYPE", "ATTACHED", "TITLE"
            );
            for target in &targets {
                let title: String = target.title.chars().take(30).collect();
                let attached = if target.attached { "yes" } else { "no" };
                println!(
                    "{:<34} {:<16} {:<8} {:<30} {}",
                    target.id, target.kind, attached, title, target.url
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
