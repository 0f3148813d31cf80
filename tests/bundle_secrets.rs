//! Redaction end to end. A real page sends a secret query value, an
//! Authorization header and a cookie, and `leakscope record --bundle` must
//! write none of those bytes into any entry of the bundle.

mod support;

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use leakscope_demo::DemoConfig;
use support::Harness;

const SECRETS: [&str; 3] = [
    "QUERY-SECRET-7f3a",
    "HEADER-SECRET-9d2b",
    "COOKIE-SECRET-5c1e",
];

#[tokio::test(flavor = "multi_thread")]
async fn bundle_contains_no_secret() {
    let pages = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pages");
    let harness = Harness::start_with(DemoConfig {
        pages_dir: Some(pages),
        ..DemoConfig::default()
    })
    .await;
    let tab = harness
        .open_tab(&format!("{}/page/secrets.html", harness.demo_url()))
        .await;
    harness
        .demo
        .wait_for_request(
            "the page's first poll",
            Duration::from_secs(20),
            |request| request.operation.as_deref() == Some("op-secret"),
        )
        .await
        .expect("the secrets page never polled");

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.zip");
    let port = harness.browser.port().to_string();
    let binary = env!("CARGO_BIN_EXE_leakscope");
    let out_dir = dir.path().to_owned();
    let bundle_path = bundle.clone();
    let tab_id = tab.id.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(binary)
            .args([
                "record",
                "--port",
                &port,
                "--tab",
                &tab_id,
                "--duration",
                "5s",
                "--interval",
                "500ms",
            ])
            .arg("--out")
            .arg(&out_dir)
            .arg("--bundle")
            .arg(&bundle_path)
            .output()
            .expect("failed to run leakscope record")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "leakscope record failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let query_seen = harness.demo.request_log().iter().any(|request| {
        request
            .query
            .as_deref()
            .is_some_and(|query| query.contains(SECRETS[0]))
    });
    assert!(
        query_seen,
        "the secret query value never reached the server, so the test proves nothing"
    );

    let file = std::fs::File::open(&bundle).expect("the bundle was not written");
    let mut archive = zip::ZipArchive::new(file).expect("the bundle is not a zip file");
    let mut recorded_poll = false;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let name = entry.name().to_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        recorded_poll |= text.contains("op-secret");
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "bundle entry {name} contains the secret {secret}"
            );
        }
    }
    assert!(
        recorded_poll,
        "no bundle entry mentions the page's poll, so the recording missed its requests"
    );
}
