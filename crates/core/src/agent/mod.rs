//! The in-page agent: the JavaScript that counts a page's timers, requests
//! and AbortControllers, how the session installs it, and the decoder that
//! turns its reports into recording records.
//!
//! `agent.js` is a plain script compiled into the binary. [`install`] adds the
//! CDP binding it reports through ([`BINDING_NAME`]), registers it for every
//! new document of the tab and evaluates it in the current one. The page then
//! calls the binding with JSON batches, which arrive as `Runtime.bindingCalled`;
//! [`AgentDecoder`] turns each batch into [`Record`]s with ids that are unique
//! across documents (see [`leakscope_model::live`]) and times on the
//! recording's clock. [`network_record`] maps the Network domain's request
//! events to records, so that the live state can join them to agent requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use chromiumoxide_cdp::cdp::browser_protocol::page::AddScriptToEvaluateOnNewDocumentParams;
use chromiumoxide_cdp::cdp::js_protocol::runtime::{
    AddBindingParams, EnableParams, EvaluateParams, SetMaxCallStackSizeToCaptureParams,
};
use leakscope_model::live::{object_id, redact_url, request_id};
use leakscope_model::{
    NetworkEvent, PollSignal, PollSignalKind, Record, RecordBody, RequestApi, RequestEnded,
    RequestOutcome, RequestStarted, Site, TimerKind,
};
use serde::Deserialize;
use serde_json::Value;

use crate::events::TypedEvent;
use crate::session::{Session, SessionError};

mod plugin;

pub use plugin::AgentPlugin;

/// The agent's source, as shipped in the binary.
pub const SCRIPT: &str = include_str!("agent.js");

/// Name of the CDP binding the agent reports through. `agent.js` uses the same name.
pub const BINDING_NAME: &str = "__leakscopeReport";

/// Version of the batch format that `agent.js` writes and this decoder reads.
pub const BATCH_FORMAT: u64 = 2;

/// Script name the injected agent shows in stack traces and DevTools.
pub const SCRIPT_URL: &str = "leakscope-agent.js";

/// Stack frames V8 captures for this session's console messages and
/// exceptions. `Runtime.enable` sets 200, and while any session wants more
/// frames than `Error.stackTraceLimit`, V8 (Chromium 156) captures that many
/// for every `Error.captureStackTrace`, so the agent's one-frame site capture
/// would cost in proportion to the page's stack depth. Leakscope reads no
/// stack from console or exception events. A DevTools window open on the same
/// tab keeps its own 200, and the agent is slower while it is open.
pub const MAX_CALL_STACK_SIZE_TO_CAPTURE: i64 = 1;

/// Documents whose id tables the decoder keeps. A tab rarely has more than a
/// few at once (the top-level document and its iframes); older ones are dead.
const MAX_DOCUMENTS: usize = 64;

/// Error of [`install`].
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("installing the agent failed at {step}: {source}")]
    Command {
        step: &'static str,
        #[source]
        source: SessionError,
    },
    #[error(
        "the agent threw while being injected into the current document ({message}); \
         new documents still get it, so reload the page to count from the start"
    )]
    Injection { message: String },
}

/// Error of [`AgentDecoder::decode`]. Each variant keeps the payload
/// so the session can store it among the undecoded messages.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("agent payload of {} bytes is not a valid batch: {reason}", payload.len())]
    Invalid { reason: String, payload: String },
    #[error(
        "agent batch has format version {version}, but this build reads version {BATCH_FORMAT}; \
         reload the page so it gets this build's agent"
    )]
    Version { version: u64, payload: String },
}

impl DecodeError {
    /// Returns the payload that failed to decode.
    pub fn payload(&self) -> &str {
        match self {
            DecodeError::Invalid { payload, .. } | DecodeError::Version { payload, .. } => payload,
        }
    }
}

/// Result of [`install`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `Page.addScriptToEvaluateOnNewDocument`'s identifier, to remove the script later.
    pub script_identifier: String,
}

/// Returns the agent source as injected: `agent.js`, a `sourceURL` naming it,
/// and an inline source map that puts it on DevTools' ignore list, so that
/// DevTools can attribute console messages to the page's code rather than to
/// the agent's console wrapper.
// NOTE: the source map is checked to be well-formed only; how a given DevTools
// version uses the ignore list for console locations was not tested here.
pub fn injection_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let lines = SCRIPT.lines().count().max(1);
        // One segment per line: generated column 0 maps to the same line of source 0.
        let mut mappings = String::from("AAAA");
        for _ in 1..lines {
            mappings.push_str(";AACA");
        }
        let map = serde_json::json!({
            "version": 3,
            "file": SCRIPT_URL,
            "sources": [SCRIPT_URL],
            "names": [],
            "mappings": mappings,
            "x_google_ignoreList": [0],
        });
        format!(
            "{SCRIPT}\n//# sourceURL={SCRIPT_URL}\n//# sourceMappingURL=data:application/json;base64,{}\n",
            base64(map.to_string().as_bytes())
        )
    })
}

/// Installs the agent in the attached tab: the binding, the script for new
/// documents, and an injection into the current document. The agent reports
/// that injection as late, because the document's own code already ran.
pub async fn install(session: &Session) -> Result<Installed, InstallError> {
    let command = |step| move |source| InstallError::Command { step, source };
    session
        .call(EnableParams::default())
        .await
        .map_err(command("Runtime.enable"))?;
    session
        .call(SetMaxCallStackSizeToCaptureParams::new(
            MAX_CALL_STACK_SIZE_TO_CAPTURE,
        ))
        .await
        .map_err(command("Runtime.setMaxCallStackSizeToCapture"))?;
    session
        .call(AddBindingParams::new(BINDING_NAME))
        .await
        .map_err(command("Runtime.addBinding"))?;
    let added = session
        .call(AddScriptToEvaluateOnNewDocumentParams::new(
            injection_source(),
        ))
        .await
        .map_err(command("Page.addScriptToEvaluateOnNewDocument"))?;
    let evaluated = session
        .call(EvaluateParams::new(injection_source()))
        .await
        .map_err(command("Runtime.evaluate"))?;
    if let Some(details) = evaluated.exception_details {
        let message = details
            .exception
            .and_then(|exception| exception.description)
            .unwrap_or(details.text);
        return Err(InstallError::Injection { message });
    }
    tracing::debug!(identifier = %added.identifier.inner(), "agent installed");
    Ok(Installed {
        script_identifier: added.identifier.inner().clone(),
    })
}

/// Maps a Network-domain event to a record body, for the cross-check of agent
/// requests against what reached the network. Other events return `None`.
pub fn network_record(event: &TypedEvent) -> Option<RecordBody> {
    let network = match event {
        TypedEvent::RequestWillBeSent(sent) => NetworkEvent::Sent {
            request_id: sent.request_id.inner().clone(),
            method: sent.request.method.clone(),
            url: redact_url(&sent.request.url),
        },
        TypedEvent::ResponseReceived(received) => NetworkEvent::Response {
            request_id: received.request_id.inner().clone(),
            status: u16::try_from(received.response.status).unwrap_or(0),
        },
        TypedEvent::LoadingFinished(finished) => NetworkEvent::Finished {
            request_id: finished.request_id.inner().clone(),
        },
        TypedEvent::LoadingFailed(failed) => NetworkEvent::Failed {
            request_id: failed.request_id.inner().clone(),
            error: failed.error_text.clone(),
            canceled: failed.canceled.unwrap_or(false),
        },
        _ => return None,
    };
    Some(RecordBody::Network(network))
}

/// Counts of what the agent's reports lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentLosses {
    /// Events inside valid batches that failed to decode and were skipped.
    pub bad_events: u64,
    /// Events the page dropped because its queue was full while the binding
    /// was missing (the `dropped` field of the batches).
    pub dropped_in_page: u64,
    /// Batches missing from a document's sequence (a binding call that threw
    /// in the page, or a payload that failed to decode).
    pub missing_batches: u64,
}

/// Decodes binding payloads into records; one per recording.
#[derive(Debug)]
pub struct AgentDecoder {
    started_at_ms: f64,
    documents: HashMap<String, Document>,
    next_document: u32,
    /// Recording site id by raw frame text, shared by all documents so that a
    /// reload keeps the same site ids.
    sites: HashMap<String, u32>,
    losses: AgentLosses,
}

#[derive(Debug)]
struct Document {
    index: u32,
    /// The agent's first report (or a resync) was seen, so re-sent state is a duplicate.
    complete: bool,
    next_seq: u64,
    dropped: u64,
    /// Recording site id by the page's site id.
    sites: HashMap<u32, u32>,
}

/// One batch as `agent.js` sends it.
#[derive(Debug, Deserialize)]
struct Batch {
    v: u64,
    doc: String,
    seq: u64,
    /// The document's time origin (epoch ms) that event times count from.
    /// Absent in batches whose event times are epoch ms themselves.
    #[serde(default)]
    origin: f64,
    #[serde(default)]
    dropped: u64,
    events: Vec<Value>,
}

/// One event of a batch; field names are those of `agent.js`.
#[derive(Debug, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
enum PageEvent {
    Injected {
        url: String,
        late: bool,
        #[serde(default)]
        top: Option<bool>,
        #[serde(default)]
        resync: bool,
        t: f64,
    },
    Site {
        id: u32,
        url: String,
        line: u32,
        column: u32,
        #[serde(rename = "fn")]
        function: String,
        raw: String,
        t: f64,
    },
    Timer {
        id: u32,
        kind: TimerKind,
        delay: f64,
        site: Option<u32>,
        parent: Option<u32>,
        t: f64,
        #[serde(default)]
        resync: bool,
        /// Page time of a clear that happened before this event left the page.
        #[serde(default)]
        cleared: Option<f64>,
        /// Site of that clear (intervals only).
        #[serde(default)]
        clear_site: Option<u32>,
        /// Page time of a firing that happened before this event left the page.
        #[serde(default)]
        fired: Option<f64>,
    },
    Clear {
        id: u32,
        site: Option<u32>,
        t: f64,
    },
    Fired {
        id: u32,
        t: f64,
    },
    Req {
        id: u64,
        api: RequestApi,
        method: String,
        url: String,
        site: Option<u32>,
        ctl: Option<u32>,
        #[serde(default)]
        pre: bool,
        timer: Option<u32>,
        body: Option<BTreeMap<String, String>>,
        t: f64,
        #[serde(default)]
        resync: bool,
    },
    End {
        id: u64,
        outcome: String,
        status: Option<u16>,
        error: Option<String>,
        fields: Option<BTreeMap<String, String>>,
        t: f64,
    },
    Ctl {
        id: u32,
        site: Option<u32>,
        api: Option<String>,
        t: f64,
        #[serde(default)]
        resync: bool,
    },
    CtlAbort {
        id: u32,
        site: Option<u32>,
        t: f64,
        #[serde(default)]
        resync: bool,
    },
    CtlGc {
        id: u32,
        t: f64,
    },
    Poll {
        signal: PollSignalKind,
        op: String,
        #[serde(rename = "type")]
        poll_type: Option<String>,
        reason: Option<String>,
        source: String,
        #[serde(default)]
        attempts: Option<f64>,
        #[serde(default)]
        age: Option<f64>,
        t: f64,
    },
}

/// A clear or a firing carried inside a timer event (epoch ms, page ids).
#[derive(Debug, Clone, Copy)]
struct FoldedEnd {
    timer: u32,
    page_ms: f64,
    cleared: bool,
    clear_site: Option<u32>,
}

impl FoldedEnd {
    fn of(event: &PageEvent) -> Option<FoldedEnd> {
        let PageEvent::Timer {
            id,
            cleared,
            clear_site,
            fired,
            ..
        } = event
        else {
            return None;
        };
        let (page_ms, cleared) = match (cleared, fired) {
            (Some(page_ms), _) => (*page_ms, true),
            (None, Some(page_ms)) => (*page_ms, false),
            (None, None) => return None,
        };
        Some(FoldedEnd {
            timer: *id,
            page_ms,
            cleared,
            clear_site: *clear_site,
        })
    }
}

/// First element of a compact event. The agent sends its most frequent events
/// (timers created, cleared and fired) as arrays of numbers, about a third of
/// the bytes of objects.
const COMPACT_TIMER: u64 = 0;
const COMPACT_CLEAR: u64 = 1;
const COMPACT_FIRED: u64 = 2;

/// Marks in a compact timer event of a timer that already ended.
const ENDED_CLEARED: u64 = 1;
const ENDED_FIRED: u64 = 2;

impl PageEvent {
    /// Decodes a compact event. Ids are 0 where the object form has `null`.
    ///
    /// - timer: `[0, id, kind (0 timeout, 1 interval), delay, site, parent,
    ///   t, ended (0 no, 1 cleared, 2 fired), ended at, clear site]`
    /// - clear: `[1, id, site, t]`
    /// - fired: `[2, id, t]`
    fn from_compact(items: &[Value]) -> Result<PageEvent, String> {
        let as_json = || serde_json::to_string(items).unwrap_or_default();
        let number = |index: usize| -> Result<f64, String> {
            items.get(index).and_then(Value::as_f64).ok_or_else(|| {
                format!(
                    "compact event {} has no number at position {index}",
                    as_json()
                )
            })
        };
        let id = |index: usize| -> Result<u32, String> {
            let value = number(index)?;
            if value >= 0.0 && value <= f64::from(u32::MAX) && value.fract() == 0.0 {
                Ok(value as u32)
            } else {
                Err(format!(
                    "compact event {} has {value} as an id at position {index}",
                    as_json()
                ))
            }
        };
        let optional_id = |index: usize| id(index).map(|value| (value != 0).then_some(value));
        let kind = id(0)?;
        match u64::from(kind) {
            COMPACT_TIMER => {
                let timer_kind = match id(2)? {
                    0 => TimerKind::Timeout,
                    1 => TimerKind::Interval,
                    other => {
                        return Err(format!(
                            "compact timer {} has unknown kind {other}",
                            as_json()
                        ))
                    }
                };
                let ended = u64::from(id(7)?);
                let (cleared, fired, clear_site) = match ended {
                    0 => (None, None, None),
                    ENDED_CLEARED => (Some(number(8)?), None, optional_id(9)?),
                    ENDED_FIRED => (None, Some(number(8)?), None),
                    other => {
                        return Err(format!(
                            "compact timer {} has unknown end {other}",
                            as_json()
                        ))
                    }
                };
                Ok(PageEvent::Timer {
                    id: id(1)?,
                    kind: timer_kind,
                    delay: number(3)?,
                    site: optional_id(4)?,
                    parent: optional_id(5)?,
                    t: number(6)?,
                    resync: false,
                    cleared,
                    clear_site,
                    fired,
                })
            }
            COMPACT_CLEAR => Ok(PageEvent::Clear {
                id: id(1)?,
                site: optional_id(2)?,
                t: number(3)?,
            }),
            COMPACT_FIRED => Ok(PageEvent::Fired {
                id: id(1)?,
                t: number(2)?,
            }),
            other => Err(format!(
                "compact event {} has unknown kind {other}",
                as_json()
            )),
        }
    }

    /// Turns the event's times from ms since `origin` into epoch ms.
    fn add_origin(&mut self, origin: f64) {
        match self {
            PageEvent::Timer {
                t, cleared, fired, ..
            } => {
                *t += origin;
                for time in [cleared, fired].into_iter().flatten() {
                    *time += origin;
                }
            }
            PageEvent::Injected { t, .. }
            | PageEvent::Site { t, .. }
            | PageEvent::Clear { t, .. }
            | PageEvent::Fired { t, .. }
            | PageEvent::Req { t, .. }
            | PageEvent::End { t, .. }
            | PageEvent::Ctl { t, .. }
            | PageEvent::CtlAbort { t, .. }
            | PageEvent::CtlGc { t, .. }
            | PageEvent::Poll { t, .. } => *t += origin,
        }
    }

    fn is_resync(&self) -> bool {
        match self {
            PageEvent::Injected { resync, .. }
            | PageEvent::Timer { resync, .. }
            | PageEvent::Req { resync, .. }
            | PageEvent::Ctl { resync, .. }
            | PageEvent::CtlAbort { resync, .. } => *resync,
            _ => false,
        }
    }
}

impl AgentDecoder {
    /// Creates a decoder for a recording whose header has `started_at_ms` (epoch ms).
    pub fn new(started_at_ms: f64) -> AgentDecoder {
        AgentDecoder {
            started_at_ms,
            documents: HashMap::new(),
            next_document: 1,
            sites: HashMap::new(),
            losses: AgentLosses::default(),
        }
    }

    /// Returns what was lost so far.
    pub fn losses(&self) -> &AgentLosses {
        &self.losses
    }

    /// Decodes one binding payload. A payload that is not a batch fails whole;
    /// a bad event inside a batch is skipped and counted in [`AgentLosses`].
    pub fn decode(&mut self, payload: &str) -> Result<Vec<Record>, DecodeError> {
        let batch: Batch = serde_json::from_str(payload).map_err(|error| DecodeError::Invalid {
            reason: error.to_string(),
            payload: payload.to_owned(),
        })?;
        if batch.v != BATCH_FORMAT {
            return Err(DecodeError::Version {
                version: batch.v,
                payload: payload.to_owned(),
            });
        }
        self.forget_old_documents();
        let next_document = &mut self.next_document;
        let document = self.documents.entry(batch.doc).or_insert_with(|| {
            let index = *next_document;
            *next_document += 1;
            Document {
                index,
                complete: false,
                next_seq: 0,
                dropped: 0,
                sites: HashMap::new(),
            }
        });
        if batch.seq > document.next_seq {
            self.losses.missing_batches += batch.seq - document.next_seq;
        }
        document.next_seq = document.next_seq.max(batch.seq + 1);
        if batch.dropped > document.dropped {
            self.losses.dropped_in_page += batch.dropped - document.dropped;
            document.dropped = batch.dropped;
        }
        // A resync re-sends what the agent holds; it is news only to a session
        // that has not seen this document's first report.
        let take_resync = !document.complete;
        let index = document.index;

        let mut records = Vec::with_capacity(batch.events.len());
        // Clears and firings folded into a timer event, ordered by time, each
        // placed before the first later record so the output stays in time
        // order.
        let mut folded: Vec<FoldedEnd> = Vec::new();
        // Clear records whose site was not known yet when they were placed:
        // the agent sends a new site when it first sees it, which for an
        // interval's clear is after the timer event the clear was folded into.
        let mut unresolved: Vec<(usize, u32)> = Vec::new();
        for value in batch.events {
            let event = match value {
                Value::Array(items) => PageEvent::from_compact(&items),
                value => {
                    serde_json::from_value::<PageEvent>(value).map_err(|error| error.to_string())
                }
            };
            let mut event = match event {
                Ok(event) => event,
                Err(error) => {
                    self.losses.bad_events += 1;
                    tracing::warn!(%error, document = index, "skipped an agent event that failed to decode");
                    continue;
                }
            };
            if event.is_resync() && !take_resync {
                continue;
            }
            event.add_origin(batch.origin);
            // Taken before `convert` consumes the event, but queued after its
            // record: a clear in the same millisecond as the creation must
            // still follow it.
            let end = FoldedEnd::of(&event);
            if let Some(record) = self.convert(index, event) {
                let due = folded.partition_point(|earlier| self.time(earlier.page_ms) <= record.t);
                for end in folded.drain(..due) {
                    self.push_folded(index, end, &mut records, &mut unresolved);
                }
                records.push(record);
            }
            if let Some(end) = end {
                let at = folded.partition_point(|earlier| earlier.page_ms <= end.page_ms);
                folded.insert(at, end);
            }
        }
        for end in folded {
            self.push_folded(index, end, &mut records, &mut unresolved);
        }
        for (at, page_site) in unresolved {
            if let RecordBody::TimerCleared { site, .. } = &mut records[at].body {
                *site = self.site_id(index, Some(page_site));
            }
        }
        Ok(records)
    }

    /// Pushes the record of a folded clear or firing, noting a clear whose
    /// site is not known yet in `unresolved`.
    fn push_folded(
        &self,
        document: u32,
        end: FoldedEnd,
        records: &mut Vec<Record>,
        unresolved: &mut Vec<(usize, u32)>,
    ) {
        let id = object_id(document, end.timer);
        let body = if end.cleared {
            let site = self.site_id(document, end.clear_site);
            if let (None, Some(page_site)) = (site, end.clear_site) {
                unresolved.push((records.len(), page_site));
            }
            RecordBody::TimerCleared {
                id,
                site,
                page_ms: end.page_ms,
            }
        } else {
            RecordBody::TimerFired {
                id,
                page_ms: end.page_ms,
            }
        };
        records.push(Record {
            t: self.time(end.page_ms),
            body,
        });
    }

    fn forget_old_documents(&mut self) {
        if self.documents.len() < MAX_DOCUMENTS {
            return;
        }
        if let Some(oldest) = self
            .documents
            .iter()
            .min_by_key(|(_, document)| document.index)
            .map(|(token, _)| token.clone())
        {
            self.documents.remove(&oldest);
        }
    }

    fn time(&self, page_ms: f64) -> f64 {
        ((page_ms - self.started_at_ms) / 1000.0).max(0.0)
    }

    fn site_id(&self, document: u32, page_site: Option<u32>) -> Option<u32> {
        let page_site = page_site?;
        self.documents
            .values()
            .find(|entry| entry.index == document)?
            .sites
            .get(&page_site)
            .copied()
    }

    fn document_mut(&mut self, index: u32) -> Option<&mut Document> {
        self.documents
            .values_mut()
            .find(|entry| entry.index == index)
    }

    fn convert(&mut self, document: u32, event: PageEvent) -> Option<Record> {
        let (page_ms, body) = match event {
            PageEvent::Injected {
                url, late, top, t, ..
            } => {
                if let Some(entry) = self.document_mut(document) {
                    entry.complete = true;
                }
                (
                    t,
                    RecordBody::AgentInjected {
                        url,
                        late,
                        document: Some(document),
                        top,
                    },
                )
            }
            PageEvent::Site {
                id,
                url,
                line,
                column,
                function,
                raw,
                t,
            } => {
                let known = self.sites.get(&raw).copied();
                let next = self.sites.len() as u32 + 1;
                let recording_id = known.unwrap_or(next);
                self.document_mut(document)?.sites.insert(id, recording_id);
                if known.is_some() {
                    return None;
                }
                self.sites.insert(raw.clone(), recording_id);
                (
                    t,
                    RecordBody::Site(Site {
                        id: recording_id,
                        url,
                        line,
                        column,
                        function,
                        raw,
                    }),
                )
            }
            PageEvent::Timer {
                id,
                kind,
                delay,
                site,
                parent,
                t,
                ..
            } => (
                t,
                RecordBody::TimerCreated {
                    id: object_id(document, id),
                    timer: kind,
                    delay_ms: delay,
                    site: self.site_id(document, site),
                    parent: parent.map(|parent| object_id(document, parent)),
                    page_ms: t,
                },
            ),
            PageEvent::Clear { id, site, t } => (
                t,
                RecordBody::TimerCleared {
                    id: object_id(document, id),
                    site: self.site_id(document, site),
                    page_ms: t,
                },
            ),
            PageEvent::Fired { id, t } => (
                t,
                RecordBody::TimerFired {
                    id: object_id(document, id),
                    page_ms: t,
                },
            ),
            PageEvent::Req {
                id,
                api,
                method,
                url,
                site,
                ctl,
                pre,
                timer,
                body,
                t,
                ..
            } => (
                t,
                RecordBody::RequestStarted(RequestStarted {
                    id: request_id(document, id),
                    api,
                    method,
                    // The agent redacts already; redacting again costs little
                    // and keeps secrets out even if a page replaced the agent's URL code.
                    url: redact_url(&url),
                    site: self.site_id(document, site),
                    controller: ctl.map(|ctl| object_id(document, ctl)),
                    signal_aborted: pre,
                    timer: timer.map(|timer| object_id(document, timer)),
                    body_fields: body.unwrap_or_default(),
                    page_ms: t,
                }),
            ),
            PageEvent::End {
                id,
                outcome,
                status,
                error,
                fields,
                t,
            } => {
                let outcome = match outcome.as_str() {
                    "completed" => RequestOutcome::Completed {
                        status: status.unwrap_or(0),
                    },
                    "aborted" => RequestOutcome::Aborted,
                    _ => RequestOutcome::Failed {
                        error: error.unwrap_or_else(|| outcome.clone()),
                    },
                };
                (
                    t,
                    RecordBody::RequestEnded(RequestEnded {
                        id: request_id(document, id),
                        outcome,
                        response_fields: fields.unwrap_or_default(),
                        page_ms: t,
                    }),
                )
            }
            PageEvent::Ctl {
                id, site, api, t, ..
            } => (
                t,
                RecordBody::ControllerCreated {
                    id: object_id(document, id),
                    site: self.site_id(document, site),
                    api,
                    page_ms: t,
                },
            ),
            PageEvent::CtlAbort { id, site, t, .. } => (
                t,
                RecordBody::ControllerAborted {
                    id: object_id(document, id),
                    site: self.site_id(document, site),
                    page_ms: t,
                },
            ),
            PageEvent::CtlGc { id, t } => (
                t,
                RecordBody::ControllerCollected {
                    id: object_id(document, id),
                    page_ms: t,
                },
            ),
            PageEvent::Poll {
                signal,
                op,
                poll_type,
                reason,
                source,
                attempts,
                age,
                t,
            } => (
                t,
                RecordBody::PollSignal(PollSignal {
                    signal,
                    operation: op,
                    poll_type,
                    reason,
                    source,
                    attempts: attempts
                        .filter(|count| *count >= 0.0)
                        .map(|count| count as u64),
                    age_ms: age,
                }),
            ),
        };
        Some(Record {
            t: self.time(page_ms),
            body,
        })
    }
}

/// Standard base64 with padding, for the inline source map.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
