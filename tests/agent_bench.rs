//! The agent's cost, with and without it in one run of one browser.
//!
//! `agent_overhead` is a benchmark: it prints per-call costs and is ignored by
//! default (`cargo test --release --test agent_bench -- --ignored --nocapture`);
//! its numbers are recorded in docs/BENCHMARKS.md. `agent_heap_bounded` is a
//! test: the agent's own heap with 10,000 live timers.

#[path = "agent_watch.rs"]
mod agent_watch;

use agent_watch::pages_dir;
use agent_watch::support::{Harness, RawCdp};
use leakscope_core::agent::{injection_source, BINDING_NAME, MAX_CALL_STACK_SIZE_TO_CAPTURE};
use leakscope_demo::{DemoConfig, OperationBehaviour};
use serde_json::json;

/// Timers held for the heap measurement.
const LIVE_TIMERS: u64 = 10_000;

/// Opens bench.html in a new tab, with or without the agent, and returns its CDP client.
async fn bench_tab(harness: &Harness, with_agent: bool) -> RawCdp {
    let tab = agent_watch::open_tab(harness, "about:blank").await;
    let mut cdp = RawCdp::connect(&tab.ws_url).await;
    cdp.call("Runtime.enable", json!({})).await;
    cdp.call("Page.enable", json!({})).await;
    if with_agent {
        cdp.call("Runtime.addBinding", json!({ "name": BINDING_NAME }))
            .await;
        cdp.call(
            "Runtime.setMaxCallStackSizeToCapture",
            json!({ "size": MAX_CALL_STACK_SIZE_TO_CAPTURE }),
        )
        .await;
        cdp.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": injection_source() }),
        )
        .await;
    }
    cdp.call(
        "Page.navigate",
        json!({ "url": format!("{}/page/bench.html", harness.demo_url()) }),
    )
    .await;
    let give_up = tokio::time::Instant::now() + agent_watch::DEADLINE;
    loop {
        let ready = cdp
            .try_call(
                "Runtime.evaluate",
                json!({ "expression": "typeof benchTimers === 'function'", "returnByValue": true }),
            )
            .await;
        if ready.is_ok_and(|value| value["result"]["value"] == json!(true)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "bench.html did not load"
        );
        // Only bounds how late the loaded page is seen.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let agent_present = cdp
        .eval("typeof window[Symbol.for('leakscope.agent')] === 'object'")
        .await;
    assert_eq!(
        agent_present,
        json!(with_agent),
        "the agent marker does not match the tab's setup"
    );
    cdp
}

async fn harness() -> Harness {
    let harness = Harness::start_with(DemoConfig {
        pages_dir: Some(pages_dir()),
        ..DemoConfig::default()
    })
    .await;
    harness
        .demo
        .set_operation(
            "bench-1",
            OperationBehaviour {
                sequence: vec![json!({ "done": false })],
                ..OperationBehaviour::default()
            },
        )
        .unwrap();
    harness
}

/// Heap growth in bytes (after garbage collection) from holding LIVE_TIMERS timers.
async fn timer_heap(cdp: &mut RawCdp) -> i64 {
    let before = cdp.heap_used_after_gc().await as i64;
    assert_eq!(
        cdp.eval(&format!("holdTimers({LIVE_TIMERS})")).await,
        json!(LIVE_TIMERS)
    );
    // Let the agent send its queued events, so the queue is not counted.
    cdp.eval("new Promise(function (resolve) { setTimeout(resolve, 300); })")
        .await;
    let after = cdp.heap_used_after_gc().await as i64;
    after - before
}

#[tokio::test]
async fn agent_heap_bounded() {
    let harness = harness().await;
    let mut plain = bench_tab(&harness, false).await;
    let mut agent = bench_tab(&harness, true).await;
    let plain_bytes = timer_heap(&mut plain).await;
    let agent_bytes = timer_heap(&mut agent).await;
    let own = agent_bytes - plain_bytes;
    eprintln!("heap for {LIVE_TIMERS} live timers: without agent {plain_bytes} B, with agent {agent_bytes} B, agent's own {own} B");
    assert!(
        own < 1_000_000,
        "the agent holds {own} bytes for {LIVE_TIMERS} live timers"
    );
    let live = agent
        .eval("window[Symbol.for('leakscope.agent')].live().timers")
        .await;
    assert_eq!(
        live,
        json!(LIVE_TIMERS),
        "the agent's registry holds exactly the live timers"
    );
}

#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture and record the numbers in docs/BENCHMARKS.md"]
async fn agent_overhead() {
    const TIMER_PAIRS: u64 = 200_000;
    /// Frames below the timer calls in the deep variant, about what a
    /// framework-driven application has under a `setTimeout` call.
    const DEPTH: u64 = 40;
    const FETCHES: u64 = 500;
    const ROUNDS: usize = 9;
    // One document is timed both ways. bench.js saved the browser's own
    // functions before Leakscope attached, so "without" calls those and
    // "with" calls the globals, which are now the agent's wrappers. Two tabs
    // differed by up to 10 % in fetch time, depending on their opening order.
    let watched = agent_watch::Watched::start_on(Some("bench.html")).await;
    watched.script(
        "bench-1",
        OperationBehaviour {
            sequence: vec![json!({ "done": false })],
            ..OperationBehaviour::default()
        },
    );
    watched
        .seen
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .keep_records = false;
    let wrapped = watched
        .eval("setTimeout !== ownFunctions.setTimeout && fetch !== ownFunctions.fetch")
        .await;
    assert_eq!(
        wrapped,
        json!(true),
        "the agent did not wrap the page's functions"
    );
    let url = format!(
        "{}/api/video/status?operationName=bench-1",
        watched.harness.demo_url()
    );
    let shallow = |with: bool| format!("benchTimers({TIMER_PAIRS}, {with})");
    let deep = |with: bool| format!("benchTimersDeep({TIMER_PAIRS}, {DEPTH}, {with})");
    let fetch = |count: u64| format!("benchFetch('{url}', {count})");
    let mut timers = [Vec::new(), Vec::new()];
    let mut deep_timers = [Vec::new(), Vec::new()];
    let mut fetches = [Vec::new(), Vec::new()];
    // Warm up both ways, then alternate so that drift hits both alike. The
    // fetches run first, because the session decodes a timer round's events
    // for a while after the round, and that CPU would slow what runs next.
    watched.eval(&fetch(50)).await;
    for _ in 0..ROUNDS {
        let round = watched.eval(&fetch(FETCHES)).await;
        for (index, times) in fetches.iter_mut().enumerate() {
            times.push(round[index].as_f64().unwrap());
        }
    }
    for with in [false, true] {
        watched.eval(&shallow(with)).await;
        watched.eval(&deep(with)).await;
    }
    for _ in 0..ROUNDS {
        for (index, with) in [false, true].into_iter().enumerate() {
            timers[index].push(watched.eval(&shallow(with)).await.as_f64().unwrap());
            deep_timers[index].push(watched.eval(&deep(with)).await.as_f64().unwrap());
        }
    }
    let seen_timers = watched.with(|seen| seen.live.counts().timers_created);
    assert!(
        seen_timers >= (ROUNDS as u64 + 1) * TIMER_PAIRS * 2,
        "the session decoded only {seen_timers} timers from the agent"
    );
    let uptime = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end (1, 5, 15 min): {}", uptime.trim());
    print_pairs("setTimeout+clearTimeout pair, shallow stack", &mut timers);
    print_pairs(
        &format!("setTimeout+clearTimeout pair, {DEPTH} frames deep"),
        &mut deep_timers,
    );
    let [plain, agent] = &mut fetches;
    let (plain_fetch, agent_fetch) = (median(plain), median(agent));
    println!(
        "loopback fetch: without agent {:.1} us, with agent {:.1} us, added {:.1} %",
        plain_fetch * 1000.0,
        agent_fetch * 1000.0,
        (agent_fetch / plain_fetch - 1.0) * 100.0
    );
    println!("  rounds without (ms): {plain:.3?}");
    println!("  rounds with (ms):    {agent:.3?}");
}
/// Sorts `values` and returns the median.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Prints the medians of timer rounds (microseconds per pair) without and
/// with the agent, the added cost per pair and per call, and every round.
fn print_pairs(label: &str, rounds: &mut [Vec<f64>; 2]) {
    let [plain, agent] = rounds;
    let (plain_median, agent_median) = (median(plain), median(agent));
    let added = agent_median - plain_median;
    println!(
        "{label}: without agent {plain_median:.3} us, with agent {agent_median:.3} us, \
         added {added:.3} us per pair ({:.3} us per call)",
        added / 2.0
    );
    println!("  rounds without (us): {plain:.3?}");
    println!("  rounds with (us):    {agent:.3?}");
}
