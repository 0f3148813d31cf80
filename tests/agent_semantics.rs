//! Page code observes the same behaviour with and without the agent.
//!
//! `semantics.html` runs a suite of timer, fetch, XHR, AbortController and
//! console checks and stores what it observed (values, error names and
//! messages, identities, `toString` output) in `window.semanticsResult`. This
//! test runs it in two fresh tabs of one headless Chromium: one plain, one
//! with the agent injected for new documents exactly as `agent::install` does
//! it, and compares the results check by check. The binding the agent reports
//! through is real (`Runtime.addBinding`); this test talks raw CDP so that it
//! depends on nothing but the agent script.

#[path = "agent_watch.rs"]
mod agent_watch;

use std::collections::BTreeMap;
use std::time::Duration;

use agent_watch::support::{Harness, RawCdp};
use agent_watch::{pages_dir, DEADLINE};
use leakscope_core::agent::{injection_source, BINDING_NAME, MAX_CALL_STACK_SIZE_TO_CAPTURE};
use leakscope_demo::{DemoConfig, OperationBehaviour};
use serde_json::{json, Value};

/// Runs semantics.html in a new tab and returns the per-check results and
/// the agent's batches (empty without the agent).
async fn run_suite(harness: &Harness, with_agent: bool) -> (BTreeMap<String, Value>, Vec<Value>) {
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
    let url = format!("{}/page/semantics.html", harness.demo_url());
    cdp.call("Page.navigate", json!({ "url": url })).await;
    let give_up = tokio::time::Instant::now() + DEADLINE;
    let text = loop {
        let result = cdp
            .try_call(
                "Runtime.evaluate",
                json!({ "expression": "window.semanticsResult || null", "returnByValue": true }),
            )
            .await;
        if let Some(text) = result
            .ok()
            .and_then(|value| value["result"]["value"].as_str().map(str::to_owned))
        {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "semantics.html did not finish within {DEADLINE:?}"
        );
        // Only bounds how late the finished suite is seen.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let results: BTreeMap<String, Value> =
        serde_json::from_str(&text).expect("semanticsResult is not JSON");
    let batches = cdp
        .events
        .iter()
        .filter(|(method, params)| {
            method == "Runtime.bindingCalled" && params["name"] == BINDING_NAME
        })
        .map(|(_, params)| {
            serde_json::from_str(params["payload"].as_str().unwrap_or("null"))
                .expect("payload is not JSON")
        })
        .collect();
    (results, batches)
}

#[tokio::test]
async fn page_sees_same_behaviour() {
    let harness = Harness::start_with(DemoConfig {
        pages_dir: Some(pages_dir()),
        ..DemoConfig::default()
    })
    .await;
    harness
        .demo
        .set_operation(
            "sem-1",
            OperationBehaviour {
                sequence: vec![json!({ "done": false, "status": "processing" })],
                ..OperationBehaviour::default()
            },
        )
        .unwrap();
    harness
        .demo
        .set_operation(
            "sem-hang",
            OperationBehaviour {
                hang: true,
                ..OperationBehaviour::default()
            },
        )
        .unwrap();

    let (plain, plain_batches) = run_suite(&harness, false).await;
    let (agent, batches) = run_suite(&harness, true).await;
    assert!(plain_batches.is_empty());
    assert!(
        !batches.is_empty(),
        "the agent sent no batch, so the second run did not have it"
    );

    assert_eq!(
        plain.keys().collect::<Vec<_>>(),
        agent.keys().collect::<Vec<_>>()
    );
    for (check, expected) in &plain {
        assert!(
            expected.get("threw").is_none(),
            "check {check:?} threw without the agent: {expected}"
        );
        assert_eq!(
            &agent[check], expected,
            "check {check:?} differs with the agent"
        );
    }
}

#[tokio::test]
async fn wrapped_functions_look_native() {
    let harness = Harness::start_with(DemoConfig {
        pages_dir: Some(pages_dir()),
        ..DemoConfig::default()
    })
    .await;
    harness
        .demo
        .set_operation("sem-1", OperationBehaviour::default())
        .unwrap();
    harness
        .demo
        .set_operation(
            "sem-hang",
            OperationBehaviour {
                hang: true,
                ..OperationBehaviour::default()
            },
        )
        .unwrap();
    let (agent, _) = run_suite(&harness, true).await;
    let identity = &agent["function identity"];
    for name in [
        "setTimeout",
        "setInterval",
        "clearTimeout",
        "clearInterval",
        "fetch",
        "open",
        "send",
        "abort",
        "log",
        "json",
        "text",
        "arrayBuffer",
        "blob",
        "formData",
        "clone",
        "pushState",
        "replaceState",
    ] {
        let expected = format!(
            "function {}() {{ [native code] }}",
            identity[name]["name"].as_str().unwrap()
        );
        assert_eq!(identity[name]["toString"], json!(expected), "{name}");
        assert_eq!(identity[name]["hasPrototype"], json!(false), "{name}");
    }
    assert_eq!(identity["setTimeout"]["name"], json!("setTimeout"));
    assert_eq!(identity["setTimeout"]["length"], json!(1));
    assert_eq!(
        identity["toStringOfToString"],
        json!("function toString() { [native code] }")
    );
    assert_eq!(
        agent["abort controller"]["string"],
        json!("function AbortController() { [native code] }")
    );
}
