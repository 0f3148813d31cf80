//! `leakscope demo`: the main job end to end with nothing but Chromium.
//!
//! With no sub-command it serves the built-in demo editor on loopback,
//! launches Chromium on a scenario that runs by itself (open, generate,
//! close, again), records the tab for `--duration`, and prints where the
//! recording is. `demo serve` only serves the editor; `demo open` also opens
//! it in a browser (headed when a display is available) for a person to use.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use leakscope_core::launcher::{self, LaunchOptions, LaunchedBrowser};
use leakscope_core::{Browser, ConnectOptions, Endpoint, Target};
use leakscope_demo::{DemoConfig, DemoServer, Flow, FlowSelection, JobOutcome, Scenario, Variant};
use leakscope_model::repro::ActionSpec;

use super::record::{print_summary, record, RecordingArgs};

/// Recording length when `--duration` is not given: long enough for the
/// leaky variant's heap growth to stand out from its noise.
const DEFAULT_DURATION: Duration = Duration::from_secs(60);

/// Open, generate and close cycles requested from the page. More than any
/// recording runs through; the recording's duration ends the run.
const DEMO_CYCLES: u32 = 1000;

/// Poll interval of the demo page during a repro run, milliseconds: fast
/// enough that each iteration's first poll answers within the action.
const REPRO_INTERVAL_MS: u64 = 500;

/// How long the launched browser gets to list the demo tab.
const TAB_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    #[command(flatten)]
    pub browser: BrowserArgs,
    #[command(flatten)]
    pub recording: RecordingArgs,
    /// Run a repro instead of a timed recording: the flow's built-in action
    /// (open the panel and start a job) and undo (close the panel), repeated.
    #[arg(long)]
    pub repro: bool,
    #[command(flatten)]
    pub repro_run: super::repro::RunArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum DemoCommand {
    /// Serve the demo editor on 127.0.0.1 and print its URL until Ctrl-C.
    Serve {
        /// Port on 127.0.0.1; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Serve the demo editor and open it in a new Chromium (headed when a display is available).
    Open {
        /// Port on 127.0.0.1; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        #[command(flatten)]
        scenario: ScenarioArgs,
        #[command(flatten)]
        browser: BrowserArgs,
    },
}

/// Demo scenario to run.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// `leaky` (polls outlive their panel and keep data) or `fixed`.
    #[arg(long, default_value = "leaky", value_parser = parse_variant)]
    pub variant: Variant,
    /// `video`, `suno`, `upscale`, `minimax`, or `all`.
    #[arg(long, default_value = "all", value_parser = parse_flow)]
    pub flow: FlowSelection,
}

/// How to launch the browser.
#[derive(Debug, Clone, clap::Args)]
pub struct BrowserArgs {
    /// Run Chromium without a window (automatic when there is no DISPLAY).
    #[arg(long)]
    pub headless: bool,
    /// Chrome or Chromium executable; by default the first of chromium, google-chrome, ... on PATH.
    #[arg(long, value_name = "PATH")]
    pub chrome: Option<PathBuf>,
}

fn parse_variant(text: &str) -> Result<Variant, String> {
    text.parse()
        .map_err(|error: leakscope_demo::InvalidName| error.to_string())
}

fn parse_flow(text: &str) -> Result<FlowSelection, String> {
    text.parse()
        .map_err(|error: leakscope_demo::InvalidName| error.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    leakscope_core::sampler::check_interval(args.recording.interval)?;
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        match args.command {
            Some(DemoCommand::Serve { port }) => serve(port).await,
            Some(DemoCommand::Open {
                port,
                scenario,
                browser,
            }) => open(port, &scenario, &browser).await,
            None if args.repro => {
                repro_demo(
                    &args.scenario,
                    &args.browser,
                    &args.recording,
                    &args.repro_run,
                )
                .await
            }
            None => record_demo(&args.scenario, &args.browser, &args.recording).await,
        }
    })
}

async fn start_server(port: u16) -> anyhow::Result<DemoServer> {
    DemoServer::start(DemoConfig {
        port,
        ..DemoConfig::default()
    })
    .await
    .with_context(|| format!("failed to start the demo server on 127.0.0.1:{port}"))
}

fn scenario(args: &ScenarioArgs) -> Scenario {
    let mut scenario = Scenario::new(args.variant, args.flow);
    scenario.cycles = Some(DEMO_CYCLES);
    scenario
}

fn headless(args: &BrowserArgs) -> bool {
    args.headless || std::env::var_os("DISPLAY").is_none_or(|display| display.is_empty())
}

async fn launch(args: &BrowserArgs, url: &str, headless: bool) -> anyhow::Result<LaunchedBrowser> {
    let options = LaunchOptions {
        executable: args.chrome.clone(),
        headless,
        url: Some(url.to_owned()),
        ..LaunchOptions::default()
    };
    Ok(launcher::launch(&options).await?)
}

async fn serve(port: u16) -> anyhow::Result<ExitCode> {
    let server = start_server(port).await?;
    println!("demo editor: {}", server.url());
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("failed to wait for Ctrl-C")?;
    server.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

async fn open(
    port: u16,
    scenario_args: &ScenarioArgs,
    browser_args: &BrowserArgs,
) -> anyhow::Result<ExitCode> {
    let server = start_server(port).await?;
    let url = server.scenario_url(&scenario(scenario_args));
    let browser = launch(browser_args, &url, headless(browser_args)).await?;
    println!("demo editor: {url}");
    println!(
        "browser debugging port: {} (try `leakscope targets --port {}`)",
        browser.port(),
        browser.port()
    );
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("failed to wait for Ctrl-C")?;
    browser.kill().await;
    server.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

async fn record_demo(
    scenario_args: &ScenarioArgs,
    browser_args: &BrowserArgs,
    recording: &RecordingArgs,
) -> anyhow::Result<ExitCode> {
    let server = start_server(0).await?;
    let url = server.scenario_url(&scenario(scenario_args));
    // The browser starts on a blank tab; the recorder loads the demo once
    // the agent is installed, so the agent sees every timer and request.
    let browser = launch(browser_args, "about:blank", headless(browser_args)).await?;
    let endpoint = Endpoint::websocket(&browser.ws_url())?;
    let connection = Browser::connect(&endpoint, &ConnectOptions::default()).await?;
    let target = wait_for_tab(&connection, "about:blank").await?;

    let mut settings = recording.clone();
    settings.navigate_to = Some(url);
    settings.duration = Some(settings.duration.unwrap_or(DEFAULT_DURATION));
    eprintln!(
        "demo: {} variant, {} flow(s), recording {}",
        scenario_args.variant,
        scenario_args.flow,
        humantime::format_duration(settings.duration.unwrap_or(DEFAULT_DURATION))
    );
    let result = record(&connection, &target, &settings).await;
    drop(connection);
    browser.kill().await;
    server.shutdown().await?;
    let summary = result?;
    print_summary(&summary, settings.json)?;
    if let Some(bundle) = &settings.bundle {
        super::export::export_after_recording(&summary.recording, bundle)?;
    }
    super::analysis::exit_code(&summary, &settings.analysis)
}

/// Runs a repro on the demo editor with the flow's built-in action and undo.
/// The job never finishes, as a real generation job runs for minutes, so
/// only the undo (or the lack of cleanup in it) ends a poll.
async fn repro_demo(
    scenario_args: &ScenarioArgs,
    browser_args: &BrowserArgs,
    recording: &RecordingArgs,
    run: &super::repro::RunArgs,
) -> anyhow::Result<ExitCode> {
    let flow = match scenario_args.flow {
        FlowSelection::One(flow) => flow,
        FlowSelection::All => {
            eprintln!("demo: a repro runs one flow; using video (pick another with --flow)");
            Flow::Video
        }
    };
    let server = start_server(0).await?;
    let mut scenario = Scenario::new(scenario_args.variant, flow);
    scenario.interval_ms = Some(REPRO_INTERVAL_MS);
    scenario.job = Some(JobOutcome::Never);
    let url = server.scenario_url(&scenario);
    let browser = launch(browser_args, "about:blank", headless(browser_args)).await?;
    let endpoint = Endpoint::websocket(&browser.ws_url())?;
    let connection = Browser::connect(&endpoint, &ConnectOptions::default()).await?;
    let target = wait_for_tab(&connection, "about:blank").await?;

    let mut settings = recording.clone();
    settings.navigate_to = Some(url);
    eprintln!(
        "demo: repro of the {} variant, {flow} flow",
        scenario_args.variant
    );
    let (action, undo) = repro_specs(flow);
    let result = super::repro::repro_on(&connection, &target, action, undo, run, &settings).await;
    drop(connection);
    browser.kill().await;
    server.shutdown().await?;
    result
}

/// The demo's built-in action (open the flow's panel, start a job and wait
/// for its first status) and undo (close the panel).
pub fn repro_specs(flow: Flow) -> (ActionSpec, ActionSpec) {
    let name = flow.name();
    let action = serde_json::json!([
        { "click": format!("#open-{name}") },
        { "click": format!("#generate-{name}") },
        { "waitFor": format!("#status-{name}.processing") },
    ]);
    let undo = serde_json::json!([{ "click": format!("#close-{name}") }]);
    let parse = |value: serde_json::Value| {
        ActionSpec::parse(&value.to_string()).expect("the demo's built-in steps are valid")
    };
    (parse(action), parse(undo))
}

/// Waits until the launched browser lists a page whose URL starts with `base`.
async fn wait_for_tab(
    connection: &leakscope_core::BrowserConnection,
    base: &str,
) -> anyhow::Result<Target> {
    let give_up = tokio::time::Instant::now() + TAB_DEADLINE;
    loop {
        let targets = connection.targets().await?;
        if let Some(target) = targets
            .into_iter()
            .find(|target| target.kind == "page" && target.url.starts_with(base))
        {
            return Ok(target);
        }
        if tokio::time::Instant::now() >= give_up {
            anyhow::bail!("the launched browser did not open {base} within {TAB_DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
