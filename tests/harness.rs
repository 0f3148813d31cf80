//! Checks of the test harness itself: the launcher starts a real Chromium that
//! serves CDP, and a tab opens on the demo server.

mod support;

use serde_json::json;
use support::{Harness, RawCdp};

#[tokio::test]
async fn launcher_starts_debuggable_chromium() {
    let harness = Harness::start().await;
    let tab = harness.open_tab(&harness.demo_url()).await;
    assert!(tab.ws_url.starts_with("ws://127.0.0.1:"), "{tab:?}");

    let mut cdp = RawCdp::connect(&tab.ws_url).await;
    let version = cdp.call("Browser.getVersion", json!({})).await;
    assert!(
        version["product"]
            .as_str()
            .unwrap_or_default()
            .contains("Chrome"),
        "{version}"
    );
    assert!(cdp.heap_used().await > 0);
}

#[tokio::test]
async fn open_tab_keeps_every_query_parameter() {
    let harness = Harness::start().await;
    let url = format!(
        "{}/?variant=fixed&flow=video&interval=500",
        harness.demo_url()
    );
    let opened = harness.open_tab(&url).await;

    let tabs = harness.tabs().await;
    let listed = tabs
        .iter()
        .find(|tab| tab.id == opened.id)
        .expect("the opened tab is not listed");
    assert_eq!(listed.url, url);
}
