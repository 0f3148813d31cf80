//! Session behaviour against a fake browser: a small websocket peer that
//! plays Chrome's side of the protocol. A fake is needed here because a real
//! Chromium never sends an undecodable message or a malformed reply on
//! demand, and the exact order of detach events must be controlled. The real
//! browser is covered by the root package's `session_*` tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use leakscope_core::{
    Browser, BrowserConnection, ConnectOptions, Endpoint, SessionError, SessionState, TypedEvent,
};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Deadline for anything a test waits on; far above what each step needs.
const WAIT: Duration = Duration::from_secs(10);

/// How the fake browser reacts to one command: replies and events to send.
fn script(method: &str, id: u64, params: &Value) -> Vec<Value> {
    let reply = |result: Value| json!({"id": id, "result": result});
    match method {
        "Target.getTargets" => vec![reply(json!({"targetInfos": [{
            "targetId": "T1", "type": "page", "title": "Fake", "url": "http://127.0.0.1/fake",
            "attached": false, "canAccessOpener": false
        }]}))],
        "Target.attachToTarget" => vec![
            reply(json!({"sessionId": "S1"})),
            // A known method whose params do not fit the generated type.
            json!({"method": "Runtime.bindingCalled", "sessionId": "S1", "params": {"name": 5}}),
            // A valid event after it: the session must go on.
            json!({"method": "Runtime.bindingCalled", "sessionId": "S1",
                   "params": {"name": "probe", "payload": "after-bad", "executionContextId": 1}}),
        ],
        // Never answered: the test closes the tab or lets the deadline pass.
        "Page.reload" | "Test.neverAnswers" => vec![],
        "Test.closeTab" => vec![
            reply(json!({})),
            json!({"method": "Target.detachedFromTarget", "params": {"sessionId": "S1", "targetId": "T1"}}),
            json!({"method": "Target.targetDestroyed", "params": {"targetId": "T1"}}),
        ],
        "Test.sendGarbage" => vec![reply(json!({})), json!("not a cdp message")],
        "Test.echo" => vec![reply(params.clone())],
        _ => vec![reply(json!({}))],
    }
}

/// Starts the fake browser; it serves one connection and stops when it closes.
/// `Test.quit` makes it drop the socket without a close frame, like a killed browser.
async fn fake_browser() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let command: Value = serde_json::from_str(text.as_str()).unwrap();
            let method = command["method"].as_str().unwrap_or_default().to_owned();
            if method == "Test.quit" {
                return;
            }
            let id = command["id"].as_u64().unwrap();
            for out in script(&method, id, &command["params"]) {
                let text = match out {
                    Value::String(raw) => raw,
                    other => other.to_string(),
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
        }
    });
    format!("ws://{address}/devtools/browser/fake")
}

async fn connect() -> BrowserConnection {
    let url = fake_browser().await;
    let endpoint = Endpoint::websocket(&url).unwrap();
    tokio::time::timeout(
        WAIT,
        Browser::connect(&endpoint, &ConnectOptions::default()),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn undecodable_event_is_counted_and_kept() {
    let connection = connect().await;
    let session = connection.attach("T1").await.unwrap();
    let mut events = session.events();

    // The bad event was sent right after the attach reply, possibly before
    // the subscription; the good one follows. Wait for the good one.
    let good = tokio::time::timeout(WAIT, async {
        loop {
            let event = events.next().await.expect("stream ended");
            if let Some(TypedEvent::BindingCalled(called)) = &event.typed {
                return called.payload.clone();
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(good, "after-bad");

    let totals = session.losses().totals();
    assert_eq!(totals.undecoded.get("Runtime.bindingCalled"), Some(&1));
    let kept = session.losses().recent_undecoded();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].method, "Runtime.bindingCalled");
    assert_eq!(kept[0].session_id.as_deref(), Some("S1"));
    assert!(kept[0].raw.contains("\"name\":5"), "{}", kept[0].raw);

    // The session goes on.
    let echoed = session
        .call_raw("Test.echo", json!({"x": 1}), WAIT)
        .await
        .unwrap();
    assert_eq!(echoed, json!({"x": 1}));
}

#[tokio::test]
async fn non_json_message_is_counted_as_unknown() {
    let connection = connect().await;
    let session = connection.attach("T1").await.unwrap();
    session
        .call_raw("Test.sendGarbage", json!({}), WAIT)
        .await
        .unwrap();
    // The garbage follows the reply; a later round trip guarantees it was read.
    session
        .call_raw("Test.echo", json!({}), WAIT)
        .await
        .unwrap();
    let totals = session.losses().totals();
    assert_eq!(totals.undecoded.get("?"), Some(&1));
    let kept = session.losses().recent_undecoded();
    assert!(kept
        .iter()
        .any(|message| message.raw == "not a cdp message"));
}

#[tokio::test]
async fn pending_command_fails_when_tab_closes() {
    let connection = connect().await;
    let session = connection.attach("T1").await.unwrap();
    let pending = {
        let session = session.clone();
        // A deadline far beyond the test's own: failing with Timeout would
        // mean the close was not noticed.
        tokio::spawn(async move {
            session
                .call_raw("Page.reload", json!({}), Duration::from_secs(600))
                .await
        })
    };
    // Let the reload reach the fake browser before the tab closes.
    session
        .call_raw("Test.echo", json!({}), WAIT)
        .await
        .unwrap();
    connection.call_with_deadline(CloseTab, WAIT).await.unwrap();

    let error = tokio::time::timeout(WAIT, pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            SessionError::Ended {
                cause: SessionState::Detached { .. } | SessionState::TargetClosed,
                ..
            }
        ),
        "{error}"
    );
    let mut state = session.state();
    let closed = tokio::time::timeout(
        WAIT,
        state.wait_for(|state| *state == SessionState::TargetClosed),
    )
    .await;
    assert!(
        closed.is_ok(),
        "state stayed {:?}",
        *session.state().borrow()
    );

    // Later commands fail at once with the reason.
    let later = session
        .call_raw("Test.echo", json!({}), WAIT)
        .await
        .unwrap_err();
    assert!(later.to_string().contains("the tab was closed"), "{later}");
}

#[tokio::test]
async fn pending_command_fails_when_browser_dies() {
    let connection = connect().await;
    let session = connection.attach("T1").await.unwrap();
    let pending = {
        let session = session.clone();
        tokio::spawn(async move {
            session
                .call_raw("Test.neverAnswers", json!({}), Duration::from_secs(600))
                .await
        })
    };
    session
        .call_raw("Test.echo", json!({}), WAIT)
        .await
        .unwrap();
    // The fake drops the socket without a close frame.
    let _ = connection
        .call_with_deadline(Quit, Duration::from_secs(2))
        .await;

    let error = tokio::time::timeout(WAIT, pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            SessionError::Ended {
                cause: SessionState::BrowserGone { .. },
                ..
            }
        ),
        "{error}"
    );
    assert!(matches!(
        *session.state().borrow(),
        SessionState::BrowserGone { .. }
    ));
}

#[tokio::test]
async fn deadline_is_counted() {
    let connection = connect().await;
    let session = connection.attach("T1").await.unwrap();
    let error = session
        .call_raw("Test.neverAnswers", json!({}), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SessionError::Timeout { method, .. } if method == "Test.neverAnswers"),
        "{error}"
    );
    assert_eq!(session.losses().totals().timed_out_commands, 1);
}

/// Browser-level test commands of the fake, as typed commands.
#[derive(Debug, serde::Serialize)]
struct CloseTab;

impl chromiumoxide_types::Method for CloseTab {
    fn identifier(&self) -> chromiumoxide_types::MethodId {
        "Test.closeTab".into()
    }
}

impl chromiumoxide_types::Command for CloseTab {
    type Response = Value;
}

#[derive(Debug, serde::Serialize)]
struct Quit;

impl chromiumoxide_types::Method for Quit {
    fn identifier(&self) -> chromiumoxide_types::MethodId {
        "Test.quit".into()
    }
}

impl chromiumoxide_types::Command for Quit {
    type Response = Value;
}
