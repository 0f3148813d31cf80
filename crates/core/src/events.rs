//! Events of an attached session: the raw CDP message plus, for the methods
//! Leakscope uses, the event decoded into chromiumoxide's generated type.
//!
//! Only the events below are decoded. Everything else is passed on raw, so a
//! method that chromiumoxide's types cannot describe (Chromium adds fields and
//! enum values faster than the generated types follow) costs nothing. When a
//! method listed here fails to decode, the session counts and keeps the
//! message (see [`crate::losses`]) and still delivers it raw, so consumers can
//! fall back to the JSON.

use chromiumoxide_cdp::cdp::browser_protocol::{inspector, network, page};
use chromiumoxide_cdp::cdp::js_protocol::{heap_profiler, runtime};
use serde::Deserialize;
use serde_json::Value;

/// One event of an attached session.
#[derive(Debug, Clone)]
pub struct SessionEvent {
    /// CDP method, e.g. `Page.frameNavigated`.
    pub method: String,
    /// Raw parameters. Left as `Value::Null` for decoded heap snapshot chunks,
    /// which are large and whose text is in [`TypedEvent::HeapSnapshotChunk`].
    pub params: Value,
    /// The decoded event, for the methods Leakscope uses; `None` for other
    /// methods and for messages that failed to decode.
    pub typed: Option<TypedEvent>,
}

/// Events decoded into chromiumoxide's protocol types.
#[derive(Debug, Clone)]
pub enum TypedEvent {
    FrameNavigated(Box<page::EventFrameNavigated>),
    NavigatedWithinDocument(Box<page::EventNavigatedWithinDocument>),
    LoadEventFired(page::EventLoadEventFired),
    BindingCalled(Box<runtime::EventBindingCalled>),
    ConsoleApiCalled(Box<runtime::EventConsoleApiCalled>),
    ExecutionContextCreated(Box<runtime::EventExecutionContextCreated>),
    ExecutionContextsCleared,
    HeapSnapshotChunk(heap_profiler::EventAddHeapSnapshotChunk),
    HeapSnapshotProgress(heap_profiler::EventReportHeapSnapshotProgress),
    RequestWillBeSent(Box<network::EventRequestWillBeSent>),
    ResponseReceived(Box<network::EventResponseReceived>),
    LoadingFinished(Box<network::EventLoadingFinished>),
    LoadingFailed(Box<network::EventLoadingFailed>),
    InspectorDetached(inspector::EventDetached),
    InspectorTargetCrashed,
}

/// True when [`decode`] has a type for `method`.
pub fn is_decoded(method: &str) -> bool {
    matches!(
        method,
        "Page.frameNavigated"
            | "Page.navigatedWithinDocument"
            | "Page.loadEventFired"
            | "Runtime.bindingCalled"
            | "Runtime.consoleAPICalled"
            | "Runtime.executionContextCreated"
            | "Runtime.executionContextsCleared"
            | "HeapProfiler.addHeapSnapshotChunk"
            | "HeapProfiler.reportHeapSnapshotProgress"
            | "Network.requestWillBeSent"
            | "Network.responseReceived"
            | "Network.loadingFinished"
            | "Network.loadingFailed"
            | "Inspector.detached"
            | "Inspector.targetCrashed"
    )
}

/// Decodes the parameters of `method`. Returns `Ok(None)` for methods that
/// are passed on raw.
pub fn decode(method: &str, params: &Value) -> Result<Option<TypedEvent>, serde_json::Error> {
    fn typed<'a, T: Deserialize<'a>>(params: &'a Value) -> Result<T, serde_json::Error> {
        T::deserialize(params)
    }
    let event = match method {
        "Page.frameNavigated" => TypedEvent::FrameNavigated(Box::new(typed(params)?)),
        "Page.navigatedWithinDocument" => {
            TypedEvent::NavigatedWithinDocument(Box::new(typed(params)?))
        }
        "Page.loadEventFired" => TypedEvent::LoadEventFired(typed(params)?),
        "Runtime.bindingCalled" => TypedEvent::BindingCalled(Box::new(typed(params)?)),
        "Runtime.consoleAPICalled" => TypedEvent::ConsoleApiCalled(Box::new(typed(params)?)),
        "Runtime.executionContextCreated" => {
            TypedEvent::ExecutionContextCreated(Box::new(typed(params)?))
        }
        "Runtime.executionContextsCleared" => TypedEvent::ExecutionContextsCleared,
        "HeapProfiler.addHeapSnapshotChunk" => TypedEvent::HeapSnapshotChunk(typed(params)?),
        "HeapProfiler.reportHeapSnapshotProgress" => {
            TypedEvent::HeapSnapshotProgress(typed(params)?)
        }
        "Network.requestWillBeSent" => TypedEvent::RequestWillBeSent(Box::new(typed(params)?)),
        "Network.responseReceived" => TypedEvent::ResponseReceived(Box::new(typed(params)?)),
        "Network.loadingFinished" => TypedEvent::LoadingFinished(Box::new(typed(params)?)),
        "Network.loadingFailed" => TypedEvent::LoadingFailed(Box::new(typed(params)?)),
        "Inspector.detached" => TypedEvent::InspectorDetached(typed(params)?),
        "Inspector.targetCrashed" => TypedEvent::InspectorTargetCrashed,
        _ => return Ok(None),
    };
    Ok(Some(event))
}

impl SessionEvent {
    /// Reads a string from the raw parameters by JSON pointer (`/frame/url`).
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        self.params.pointer(pointer).and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_method_decodes() {
        let event = decode(
            "Runtime.bindingCalled",
            &json!({"name": "b", "payload": "[]", "executionContextId": 3}),
        )
        .unwrap()
        .unwrap();
        assert!(matches!(event, TypedEvent::BindingCalled(ref called) if called.payload == "[]"));
    }

    #[test]
    fn unknown_method_passes_raw() {
        assert!(decode("Network.requestWillBeSentExtraInfo", &json!({}))
            .unwrap()
            .is_none());
        assert!(!is_decoded("Network.requestWillBeSentExtraInfo"));
    }

    #[test]
    fn bad_params_of_known_method_fail() {
        assert!(decode("Runtime.bindingCalled", &json!({"name": 5})).is_err());
        assert!(is_decoded("Runtime.bindingCalled"));
    }
}
