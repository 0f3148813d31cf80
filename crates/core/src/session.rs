//! Our own CDP session over one browser websocket.
//!
//! [`Browser::connect`] opens the browser websocket and starts one task, the
//! event loop, which owns the socket. Handles ([`BrowserConnection`],
//! [`Session`]) send it commands over a channel; it routes replies back by
//! command id and events to the attached session by session id. Only the
//! target the caller attaches to (with `Target.attachToTarget`, `flatten`) gets
//! any traffic from us: the loop never auto-attaches and never enables a
//! domain by itself.
//!
//! Failure is explicit. Every command has a deadline ([`crate::deadline`]).
//! When the target detaches, closes or crashes, or the socket closes, every
//! pending command of that session fails at once with an error that names the cause,
//! and the session's [`SessionState`] (a `watch`) changes so front ends can
//! show it. A message that fails to decode is counted and kept
//! ([`crate::losses`]), never dropped silently.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide_cdp::cdp::browser_protocol::browser::GetVersionParams;
use chromiumoxide_cdp::cdp::browser_protocol::target::{
    AttachToTargetParams, AttachToTargetReturns, DetachFromTargetParams, GetTargetsParams,
    SetDiscoverTargetsParams,
};
use chromiumoxide_types::{CallId, Command, MethodCall};
use futures_util::{SinkExt, StreamExt};
use leakscope_model::{BrowserInfo, TargetInfo};
use serde::Deserialize;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use crate::deadline;
use crate::endpoint::{self, ConnectError, ConnectOptions, Endpoint};
use crate::events::{self, SessionEvent};
use crate::losses::{LossCounter, UNKNOWN_METHOD};

/// Commands that may wait for the event loop to take them. A caller that
/// fills this is already far ahead of the browser; 256 absorbs bursts (an
/// agent install sends a handful, sampling two per tick) without unbounded memory.
const COMMAND_CHANNEL_CAPACITY: usize = 256;

/// Events buffered per session before a slow consumer misses some (counted as
/// dropped). A heap snapshot arrives as thousands of chunk events in a burst,
/// and a busy page sends hundreds of network events a second; 8192 covers
/// several seconds of either.
pub const EVENT_CHANNEL_CAPACITY: usize = 8192;

/// How often the loop forgets commands whose caller stopped waiting (its
/// deadline passed). The entries are tiny, so once a second is plenty.
const PENDING_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// How long closing the socket may take when every handle is gone.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// State of an attached session, as front ends show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// `Target.attachToTarget` was sent and has no reply yet.
    Attaching,
    /// Commands and events flow.
    Attached,
    /// The tab was closed.
    TargetClosed,
    /// The tab's renderer process crashed ("Aw, Snap!").
    RendererCrashed,
    /// The websocket closed: the browser exited, was killed, or dropped us.
    BrowserGone { reason: String },
    /// The browser detached the session for another reason (for example a
    /// `Target.detachFromTarget` from another client).
    Detached { reason: String },
}

impl SessionState {
    /// True once the session can no longer carry commands.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, SessionState::Attaching | SessionState::Attached)
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionState::Attaching => write!(f, "the session is still attaching"),
            SessionState::Attached => write!(f, "the session is attached"),
            SessionState::TargetClosed => write!(f, "the tab was closed"),
            SessionState::RendererCrashed => write!(f, "the tab's renderer crashed"),
            SessionState::BrowserGone { reason } => write!(f, "the browser went away ({reason})"),
            SessionState::Detached { reason } => write!(f, "the session was detached ({reason})"),
        }
    }
}

/// State of the browser websocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    Connected,
    Closed { reason: String },
}

/// Error of a command.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    #[error("{method} failed because {cause}")]
    Ended { method: String, cause: SessionState },
    #[error(
        "{method} timed out after {deadline:?}; the page may be busy (a long task or a heap snapshot), \
         so try again or raise the deadline"
    )]
    Timeout { method: String, deadline: Duration },
    #[error("the browser rejected {method}: {message} (code {code})")]
    Protocol {
        method: String,
        code: i64,
        message: String,
    },
    #[error("the reply to {method} failed to decode ({message}); it was kept among the undecoded messages")]
    Decode { method: String, message: String },
    #[error("failed to encode the parameters of {method}: {message}")]
    Encode { method: String, message: String },
}

impl SessionError {
    /// The session state that ended the command, when the session ended.
    pub fn ended_by(&self) -> Option<&SessionState> {
        match self {
            SessionError::Ended { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

/// A debuggable target as `Target.getTargets` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    pub id: String,
    /// `page`, `iframe`, `service_worker`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub url: String,
    /// True when some client (DevTools, another tool, us) is attached to it.
    pub attached: bool,
}

impl Target {
    /// The target as the recording header stores it.
    pub fn info(&self) -> TargetInfo {
        TargetInfo {
            id: self.id.clone(),
            kind: self.kind.clone(),
            title: self.title.clone(),
            url: self.url.clone(),
        }
    }
}

/// Entry point: connects to a browser.
pub struct Browser;

impl Browser {
    /// Finds the browser websocket of `endpoint`, connects to it and checks
    /// that it replies to `Target.getTargets`. Every step has the deadline of
    /// `options.timeout`.
    pub async fn connect(
        endpoint: &Endpoint,
        options: &ConnectOptions,
    ) -> Result<BrowserConnection, ConnectError> {
        let url = endpoint::resolve(endpoint, options).await?;
        Self::connect_url(&url, options).await
    }

    /// Connects to a browser websocket URL that is already known (for example
    /// from a browser Leakscope launched). The loopback rule still applies.
    pub async fn connect_url(
        url: &Url,
        options: &ConnectOptions,
    ) -> Result<BrowserConnection, ConnectError> {
        endpoint::check_host(url.host_str().unwrap_or_default(), options)?;
        let address = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(80)
        );
        let handshake = tokio_tungstenite::connect_async(url.as_str());
        let socket = match tokio::time::timeout(options.timeout, handshake).await {
            Err(_) => {
                return Err(ConnectError::NoAnswer {
                    address,
                    timeout: options.timeout,
                    remedies: "check that the browser is running with remote debugging on",
                })
            }
            Ok(Err(tokio_tungstenite::tungstenite::Error::Io(error)))
                if error.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                return Err(ConnectError::NothingListening {
                    address,
                    remedies: "check that the browser is still running; a DevToolsActivePort file can be stale",
                })
            }
            Ok(Err(error)) => return Err(ConnectError::Handshake { url: url.to_string(), message: error.to_string() }),
            Ok(Ok((socket, _response))) => socket,
        };
        let connection = BrowserConnection::start(url.clone(), socket);
        // A browser endpoint replies to Target.getTargets; a page endpoint or
        // another websocket server does not.
        if let Err(source) = connection.targets().await {
            return Err(ConnectError::NotABrowser {
                url: url.to_string(),
                source,
            });
        }
        // Browser-level target events (targetDestroyed, targetCrashed) tell
        // the loop when the attached tab goes away. Discovery sends nothing to
        // the tabs themselves.
        if let Err(source) = connection.call(SetDiscoverTargetsParams::new(true)).await {
            return Err(ConnectError::NotABrowser {
                url: url.to_string(),
                source,
            });
        }
        Ok(connection)
    }
}

/// A handle to a browser connection. Cloning is cheap; the connection closes
/// when the last handle (including every [`Session`]) is dropped.
#[derive(Debug, Clone)]
pub struct BrowserConnection {
    inner: Arc<ConnectionInner>,
}

#[derive(Debug)]
struct ConnectionInner {
    url: Url,
    commands: mpsc::Sender<Outgoing>,
    state: watch::Receiver<ConnectionState>,
    losses: Arc<LossCounter>,
}

impl BrowserConnection {
    fn start(url: Url, socket: Socket) -> Self {
        let (commands, command_receiver) = mpsc::channel(COMMAND_CHANNEL_CAPACITY);
        let (state_sender, state) = watch::channel(ConnectionState::Connected);
        let losses = LossCounter::new();
        let event_loop = EventLoop {
            socket,
            commands: command_receiver,
            next_id: 1,
            pending: HashMap::new(),
            sessions: HashMap::new(),
            state: state_sender,
            losses: losses.clone(),
        };
        tokio::spawn(event_loop.run());
        BrowserConnection {
            inner: Arc::new(ConnectionInner {
                url,
                commands,
                state,
                losses,
            }),
        }
    }

    /// The browser websocket URL.
    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// State of the websocket, to watch.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.clone()
    }

    /// Loss counters of this connection (shared by all its sessions).
    pub fn losses(&self) -> Arc<LossCounter> {
        self.inner.losses.clone()
    }

    /// Browser product and protocol version (`Browser.getVersion`).
    pub async fn version(&self) -> Result<BrowserInfo, SessionError> {
        let version = self.call(GetVersionParams::default()).await?;
        Ok(BrowserInfo {
            product: version.product,
            revision: version.revision,
            user_agent: version.user_agent,
            protocol_version: version.protocol_version,
        })
    }

    /// Lists debuggable targets, including tabs opened before Leakscope
    /// started (`Target.getTargets`, so it works without `/json`).
    pub async fn targets(&self) -> Result<Vec<Target>, SessionError> {
        let reply = self.call(GetTargetsParams::default()).await?;
        Ok(reply
            .target_infos
            .into_iter()
            .map(|info| Target {
                id: info.target_id.as_ref().to_owned(),
                kind: info.r#type,
                title: info.title,
                url: info.url,
                attached: info.attached,
            })
            .collect())
    }

    /// Attaches to one target (flattened session). Attaching sends nothing to
    /// the page: it does not reload it and enables no domain.
    pub async fn attach(&self, target_id: &str) -> Result<Session, SessionError> {
        let slot = SessionSlot::new(target_id);
        let shared = slot.shared();
        let mut params = AttachToTargetParams::new(target_id.to_owned());
        params.flatten = Some(true);
        let value = self
            .send(
                None,
                AttachToTargetParams::IDENTIFIER,
                encode(AttachToTargetParams::IDENTIFIER, &params)?,
                deadline::ATTACH,
                Some(slot),
            )
            .await?;
        let reply: AttachToTargetReturns =
            self.decode_reply(AttachToTargetParams::IDENTIFIER, None, value)?;
        tracing::debug!(
            target_id,
            session_id = reply.session_id.as_ref(),
            "attached"
        );
        Ok(Session {
            inner: Arc::new(SessionInner {
                session_id: reply.session_id.as_ref().to_owned(),
                target_id: target_id.to_owned(),
                connection: self.clone(),
                shared,
            }),
        })
    }

    /// Sends a browser-level command with its default deadline.
    pub async fn call<C: Command>(&self, command: C) -> Result<C::Response, SessionError> {
        let method = command.identifier();
        self.call_with_deadline(command, deadline::for_method(&method))
            .await
    }

    /// Sends a browser-level command with an explicit deadline.
    pub async fn call_with_deadline<C: Command>(
        &self,
        command: C,
        deadline: Duration,
    ) -> Result<C::Response, SessionError> {
        let method = command.identifier().into_owned();
        let params = encode(&method, &command)?;
        let value = self.send(None, &method, params, deadline, None).await?;
        self.decode_reply(&method, None, value)
    }

    async fn send(
        &self,
        session_id: Option<&str>,
        method: &str,
        params: Value,
        deadline: Duration,
        attach: Option<SessionSlot>,
    ) -> Result<Value, SessionError> {
        let (reply, receiver) = oneshot::channel();
        let outgoing = Outgoing {
            method: method.to_owned(),
            params,
            session_id: session_id.map(str::to_owned),
            reply,
            attach,
        };
        let exchange = async {
            if self.inner.commands.send(outgoing).await.is_err() {
                return Err(self.gone(method));
            }
            match receiver.await {
                Ok(result) => result,
                Err(_) => Err(self.gone(method)),
            }
        };
        match tokio::time::timeout(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => {
                self.inner.losses.timed_out_command(method);
                Err(SessionError::Timeout {
                    method: method.to_owned(),
                    deadline,
                })
            }
        }
    }

    fn decode_reply<T: for<'de> Deserialize<'de>>(
        &self,
        method: &str,
        session_id: Option<&str>,
        value: Value,
    ) -> Result<T, SessionError> {
        T::deserialize(&value).map_err(|error| {
            self.inner
                .losses
                .undecoded(method, session_id, &value.to_string(), &error.to_string());
            SessionError::Decode {
                method: method.to_owned(),
                message: error.to_string(),
            }
        })
    }

    /// The error of a command that found the event loop gone.
    fn gone(&self, method: &str) -> SessionError {
        let reason = match &*self.inner.state.borrow() {
            ConnectionState::Closed { reason } => reason.clone(),
            ConnectionState::Connected => "the connection task stopped".to_owned(),
        };
        SessionError::Ended {
            method: method.to_owned(),
            cause: SessionState::BrowserGone { reason },
        }
    }
}

fn encode<T: serde::Serialize>(method: &str, params: &T) -> Result<Value, SessionError> {
    serde_json::to_value(params).map_err(|error| SessionError::Encode {
        method: method.to_owned(),
        message: error.to_string(),
    })
}

/// A session attached to one target. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

#[derive(Debug)]
struct SessionInner {
    session_id: String,
    target_id: String,
    connection: BrowserConnection,
    shared: SlotShared,
}

impl Session {
    pub fn session_id(&self) -> &str {
        &self.inner.session_id
    }

    pub fn target_id(&self) -> &str {
        &self.inner.target_id
    }

    /// The connection this session runs on.
    pub fn connection(&self) -> &BrowserConnection {
        &self.inner.connection
    }

    /// Sends a command to the target with the default deadline of its kind
    /// ([`deadline::for_method`]).
    pub async fn call<C: Command>(&self, command: C) -> Result<C::Response, SessionError> {
        let method = command.identifier();
        self.call_with_deadline(command, deadline::for_method(&method))
            .await
    }

    /// Sends a command to the target with an explicit deadline.
    pub async fn call_with_deadline<C: Command>(
        &self,
        command: C,
        deadline: Duration,
    ) -> Result<C::Response, SessionError> {
        let method = command.identifier().into_owned();
        let params = encode(&method, &command)?;
        let value = self.call_raw(&method, params, deadline).await?;
        self.inner
            .connection
            .decode_reply(&method, Some(&self.inner.session_id), value)
    }

    /// Sends a command by method name with raw JSON parameters, for methods
    /// the generated types do not describe.
    pub async fn call_raw(
        &self,
        method: &str,
        params: Value,
        deadline: Duration,
    ) -> Result<Value, SessionError> {
        self.inner
            .connection
            .send(Some(&self.inner.session_id), method, params, deadline, None)
            .await
    }

    /// Subscribes to this session's events from now on. The stream ends once
    /// the session has ended and every buffered event was read.
    pub fn events(&self) -> EventStream {
        let sender = self
            .inner
            .shared
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let receiver = match sender {
            Some(sender) => sender.subscribe(),
            // The session already ended: an empty, closed stream.
            None => broadcast::channel(1).1,
        };
        EventStream {
            receiver,
            losses: self.inner.connection.losses(),
        }
    }

    /// State of the session, to watch.
    pub fn state(&self) -> watch::Receiver<SessionState> {
        self.inner.shared.state.subscribe()
    }

    /// Loss counters (shared with the other sessions of the connection).
    pub fn losses(&self) -> Arc<LossCounter> {
        self.inner.connection.losses()
    }

    /// Detaches from the target (`Target.detachFromTarget`). The page keeps
    /// running; the session's state becomes `Detached`.
    pub async fn detach(&self) -> Result<(), SessionError> {
        let params = DetachFromTargetParams::builder()
            .session_id(self.inner.session_id.clone())
            .build();
        self.inner.connection.call(params).await.map(|_| ())
    }
}

/// Why [`EventStream::recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    #[error("missed {0} events because the consumer fell behind; they were counted as dropped")]
    Lagged(u64),
    #[error("the session ended and every event was read")]
    Closed,
}

/// Events of one session, for one consumer.
#[derive(Debug)]
pub struct EventStream {
    receiver: broadcast::Receiver<Arc<SessionEvent>>,
    losses: Arc<LossCounter>,
}

impl EventStream {
    /// Waits for the next event. A gap (the consumer fell behind) is counted
    /// in the losses and reported as [`EventsError::Lagged`].
    pub async fn recv(&mut self) -> Result<Arc<SessionEvent>, EventsError> {
        match self.receiver.recv().await {
            Ok(event) => Ok(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                self.losses.dropped_events(missed);
                Err(EventsError::Lagged(missed))
            }
            Err(broadcast::error::RecvError::Closed) => Err(EventsError::Closed),
        }
    }

    /// Returns an event that is already buffered, without waiting; `None`
    /// when there is none yet.
    pub fn try_recv(&mut self) -> Option<Result<Arc<SessionEvent>, EventsError>> {
        match self.receiver.try_recv() {
            Ok(event) => Some(Ok(event)),
            Err(broadcast::error::TryRecvError::Empty) => None,
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                self.losses.dropped_events(missed);
                Some(Err(EventsError::Lagged(missed)))
            }
            Err(broadcast::error::TryRecvError::Closed) => Some(Err(EventsError::Closed)),
        }
    }

    /// Waits for the next event, counting and skipping gaps. `None` once the
    /// session ended.
    pub async fn next(&mut self) -> Option<Arc<SessionEvent>> {
        loop {
            match self.recv().await {
                Ok(event) => return Some(event),
                Err(EventsError::Lagged(_)) => continue,
                Err(EventsError::Closed) => return None,
            }
        }
    }
}

/// State the loop and the session handles share for one session.
#[derive(Debug, Clone)]
struct SlotShared {
    /// Taken (set to `None`) when the session ends, so streams close.
    events: Arc<Mutex<Option<broadcast::Sender<Arc<SessionEvent>>>>>,
    state: Arc<watch::Sender<SessionState>>,
}

/// The loop's record of one session.
#[derive(Debug)]
struct SessionSlot {
    target_id: String,
    shared: SlotShared,
}

impl SessionSlot {
    fn new(target_id: &str) -> Self {
        let (events, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
        SessionSlot {
            target_id: target_id.to_owned(),
            shared: SlotShared {
                events: Arc::new(Mutex::new(Some(events))),
                state: Arc::new(watch::Sender::new(SessionState::Attaching)),
            },
        }
    }

    fn shared(&self) -> SlotShared {
        self.shared.clone()
    }

    fn state(&self) -> SessionState {
        self.shared.state.borrow().clone()
    }

    fn publish(&self, event: SessionEvent) {
        let sender = self
            .shared
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if let Some(sender) = sender {
            // An error only means nobody subscribed yet, which loses nothing
            // anybody asked for.
            let _ = sender.send(Arc::new(event));
        }
    }
}

/// A command on its way to the loop.
#[derive(Debug)]
struct Outgoing {
    method: String,
    params: Value,
    session_id: Option<String>,
    reply: oneshot::Sender<Result<Value, SessionError>>,
    /// For `Target.attachToTarget`: the slot to register under the new session id.
    attach: Option<SessionSlot>,
}

/// A command sent and not answered yet.
#[derive(Debug)]
struct Pending {
    method: String,
    session_id: Option<String>,
    reply: oneshot::Sender<Result<Value, SessionError>>,
    attach: Option<SessionSlot>,
}

/// Everything the loop reacts to.
enum Input {
    Command(Outgoing),
    AllHandlesDropped,
    Message(Message),
    SocketClosed(String),
    Sweep,
}

struct EventLoop {
    socket: Socket,
    commands: mpsc::Receiver<Outgoing>,
    next_id: usize,
    pending: HashMap<usize, Pending>,
    /// By session id. Ended sessions stay, so late commands get the reason.
    sessions: HashMap<String, SessionSlot>,
    state: watch::Sender<ConnectionState>,
    losses: Arc<LossCounter>,
}

impl EventLoop {
    async fn run(mut self) {
        let mut sweep = tokio::time::interval(PENDING_SWEEP_INTERVAL);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let input = tokio::select! {
                // A command from a handle; `None` once every handle is dropped.
                command = self.commands.recv() => match command {
                    Some(command) => Input::Command(command),
                    None => Input::AllHandlesDropped,
                },
                // A message from the browser; the end of the stream or an
                // error means the socket is gone.
                message = self.socket.next() => match message {
                    Some(Ok(message)) => Input::Message(message),
                    Some(Err(error)) => Input::SocketClosed(format!("the websocket failed: {error}")),
                    None => Input::SocketClosed("the websocket closed".to_owned()),
                },
                // Forget commands whose caller gave up at its deadline.
                _ = sweep.tick() => Input::Sweep,
            };
            match input {
                Input::Command(command) => {
                    if let Err(reason) = self.send(command).await {
                        self.shut_down(reason);
                        return;
                    }
                }
                Input::AllHandlesDropped => {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.socket.close(None)).await;
                    self.shut_down("leakscope closed the connection".to_owned());
                    return;
                }
                Input::Message(Message::Text(text)) => self.on_text(text.as_str()),
                Input::Message(Message::Binary(bytes)) => {
                    self.losses.undecoded(
                        UNKNOWN_METHOD,
                        None,
                        &String::from_utf8_lossy(&bytes),
                        "unexpected binary message",
                    );
                }
                Input::Message(Message::Close(frame)) => {
                    let reason = match frame {
                        Some(frame) if !frame.reason.is_empty() => {
                            format!("the browser closed the websocket: {}", frame.reason)
                        }
                        _ => "the browser closed the websocket".to_owned(),
                    };
                    self.shut_down(reason);
                    return;
                }
                // Pings are answered by tungstenite itself.
                Input::Message(_) => {}
                Input::SocketClosed(reason) => {
                    self.shut_down(reason);
                    return;
                }
                Input::Sweep => self.pending.retain(|_, pending| !pending.reply.is_closed()),
            }
        }
    }

    /// Sends one command, or fails it at once when its session has ended.
    /// Returns an error only when the socket is gone.
    async fn send(&mut self, command: Outgoing) -> Result<(), String> {
        if let Some(session_id) = &command.session_id {
            let state = match self.sessions.get(session_id) {
                Some(slot) => slot.state(),
                None => SessionState::Detached {
                    reason: format!("unknown session {session_id}"),
                },
            };
            if state.is_terminal() {
                let _ = command.reply.send(Err(SessionError::Ended {
                    method: command.method,
                    cause: state,
                }));
                return Ok(());
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let call = MethodCall {
            id: CallId::new(id),
            method: command.method.clone().into(),
            session_id: command.session_id.clone(),
            params: command.params,
        };
        let text = match serde_json::to_string(&call) {
            Ok(text) => text,
            Err(error) => {
                let error = SessionError::Encode {
                    method: command.method,
                    message: error.to_string(),
                };
                let _ = command.reply.send(Err(error));
                return Ok(());
            }
        };
        tracing::trace!(id, method = %command.method, session_id = ?command.session_id, "send");
        let pending = Pending {
            method: command.method,
            session_id: command.session_id,
            reply: command.reply,
            attach: command.attach,
        };
        if let Err(error) = self.socket.send(Message::Text(text.into())).await {
            let reason = format!("sending to the websocket failed: {error}");
            let cause = SessionState::BrowserGone {
                reason: reason.clone(),
            };
            let _ = pending.reply.send(Err(SessionError::Ended {
                method: pending.method,
                cause,
            }));
            return Err(reason);
        }
        self.pending.insert(id, pending);
        Ok(())
    }

    fn on_text(&mut self, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(error) => {
                self.losses
                    .undecoded(UNKNOWN_METHOD, None, text, &format!("not JSON: {error}"));
                return;
            }
        };
        if value.get("id").is_some() {
            self.on_reply(value, text);
        } else if let Some(method) = value.get("method").and_then(Value::as_str) {
            let method = method.to_owned();
            self.on_event(&method, value, text);
        } else {
            self.losses.undecoded(
                UNKNOWN_METHOD,
                None,
                text,
                "neither a reply (id) nor an event (method)",
            );
        }
    }

    fn on_reply(&mut self, value: Value, text: &str) {
        let reply = match chromiumoxide_types::Response::deserialize(&value) {
            Ok(reply) => reply,
            Err(error) => {
                // Without a valid id the reply cannot be routed; its caller
                // will hit its deadline, which is counted too.
                self.losses.undecoded(
                    UNKNOWN_METHOD,
                    None,
                    text,
                    &format!("invalid reply: {error}"),
                );
                return;
            }
        };
        let id: usize = match serde_json::to_value(reply.id)
            .ok()
            .and_then(|id| id.as_u64())
        {
            Some(id) => id as usize,
            None => return,
        };
        let Some(pending) = self.pending.remove(&id) else {
            tracing::debug!(id, "reply to a command whose caller stopped waiting");
            return;
        };
        let result = match (reply.error, reply.result) {
            (Some(error), _) => Err(SessionError::Protocol {
                method: pending.method.clone(),
                code: error.code,
                message: error.message,
            }),
            (None, result) => Ok(result.unwrap_or(Value::Object(Default::default()))),
        };
        if let (Ok(result), Some(slot)) = (&result, pending.attach) {
            match result.get("sessionId").and_then(Value::as_str) {
                Some(session_id) => {
                    slot.shared.state.send_replace(SessionState::Attached);
                    self.sessions.insert(session_id.to_owned(), slot);
                }
                None => self.losses.undecoded(
                    &pending.method,
                    None,
                    text,
                    "attach reply without sessionId",
                ),
            }
        }
        let _ = pending.reply.send(result);
    }

    fn on_event(&mut self, method: &str, value: Value, text: &str) {
        let session_id = value
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let params = match value {
            Value::Object(mut object) => object.remove("params").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let Some(session_id) = session_id else {
            self.on_browser_event(method, &params);
            return;
        };
        if !self.sessions.contains_key(&session_id) {
            tracing::trace!(
                method,
                session_id,
                "event for a session we are not attached to"
            );
            return;
        }
        match method {
            "Inspector.targetCrashed" | "Inspector.detached" => {
                tracing::debug!(method, session_id, %params, "inspector event")
            }
            _ => {}
        }
        match method {
            "Inspector.targetCrashed" => {
                self.end_session(&session_id, SessionState::RendererCrashed)
            }
            "Inspector.detached" => {
                let reason = params
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.end_session(&session_id, inspector_detach_state(reason));
            }
            _ => {}
        }
        let typed = if events::is_decoded(method) {
            match events::decode(method, &params) {
                Ok(typed) => typed,
                Err(error) => {
                    self.losses
                        .undecoded(method, Some(&session_id), text, &error.to_string());
                    None
                }
            }
        } else {
            None
        };
        // Chunks are large and their text is in the typed event.
        let params = match typed {
            Some(events::TypedEvent::HeapSnapshotChunk(_)) => Value::Null,
            _ => params,
        };
        if let Some(slot) = self.sessions.get(&session_id) {
            slot.publish(SessionEvent {
                method: method.to_owned(),
                params,
                typed,
            });
        }
    }

    /// Browser-level events that end one of our sessions.
    fn on_browser_event(&mut self, method: &str, params: &Value) {
        if matches!(
            method,
            "Target.detachedFromTarget" | "Target.targetDestroyed" | "Target.targetCrashed"
        ) {
            tracing::debug!(method, %params, "target event");
        }
        let text_at = |key: &str| {
            params
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match method {
            "Target.detachedFromTarget" => {
                let session_id = text_at("sessionId");
                self.end_session(
                    &session_id,
                    SessionState::Detached {
                        reason: "the browser detached the session".to_owned(),
                    },
                );
            }
            "Target.targetDestroyed" => {
                for session_id in self.sessions_of_target(&text_at("targetId")) {
                    self.end_session(&session_id, SessionState::TargetClosed);
                }
            }
            "Target.targetCrashed" => {
                for session_id in self.sessions_of_target(&text_at("targetId")) {
                    self.end_session(&session_id, SessionState::RendererCrashed);
                }
            }
            _ => {}
        }
    }

    fn sessions_of_target(&self, target_id: &str) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|(_, slot)| slot.target_id == target_id)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Moves a session to an end state and fails its pending commands. A
    /// plain `Detached` may later be refined to `TargetClosed` or
    /// `RendererCrashed` (Chrome sends `Target.detachedFromTarget` before
    /// `Target.targetDestroyed` when a tab closes); other end states are final.
    fn end_session(&mut self, session_id: &str, new_state: SessionState) {
        let Some(slot) = self.sessions.get(session_id) else {
            return;
        };
        let current = slot.state();
        let refines = matches!(current, SessionState::Detached { .. })
            && matches!(
                new_state,
                SessionState::TargetClosed | SessionState::RendererCrashed
            );
        if current.is_terminal() && !refines {
            return;
        }
        tracing::debug!(session_id, target_id = %slot.target_id, state = %new_state, "session ended");
        slot.shared.state.send_replace(new_state.clone());
        slot.shared
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let ids: Vec<usize> = self
            .pending
            .iter()
            .filter(|(_, pending)| pending.session_id.as_deref() == Some(session_id))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(pending) = self.pending.remove(&id) {
                let error = SessionError::Ended {
                    method: pending.method,
                    cause: new_state.clone(),
                };
                let _ = pending.reply.send(Err(error));
            }
        }
    }

    /// Ends every session and fails every pending command: the socket is gone.
    fn shut_down(&mut self, reason: String) {
        tracing::debug!(%reason, "browser connection closed");
        let gone = SessionState::BrowserGone {
            reason: reason.clone(),
        };
        let session_ids: Vec<String> = self.sessions.keys().cloned().collect();
        for session_id in session_ids {
            self.end_session(&session_id, gone.clone());
        }
        for (_, pending) in self.pending.drain() {
            let _ = pending.reply.send(Err(SessionError::Ended {
                method: pending.method,
                cause: gone.clone(),
            }));
        }
        self.state.send_replace(ConnectionState::Closed { reason });
    }
}

/// Maps the reason of `Inspector.detached` to a session state. "Render
/// process gone." comes both when the renderer crashes and when the tab is
/// closed (Chromium 156 kills the renderer first), so it stays a refinable
/// `Detached` until `Target.targetDestroyed` or a crash event says which.
fn inspector_detach_state(reason: &str) -> SessionState {
    match reason {
        "target_closed" => SessionState::TargetClosed,
        other => SessionState::Detached {
            reason: other.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states() {
        assert!(!SessionState::Attaching.is_terminal());
        assert!(!SessionState::Attached.is_terminal());
        assert!(SessionState::TargetClosed.is_terminal());
        assert!(SessionState::BrowserGone {
            reason: String::new()
        }
        .is_terminal());
    }

    #[test]
    fn inspector_reasons_map_to_states() {
        assert_eq!(
            inspector_detach_state("target_closed"),
            SessionState::TargetClosed
        );
        assert_eq!(
            inspector_detach_state("Render process gone."),
            SessionState::Detached {
                reason: "Render process gone.".to_owned()
            }
        );
        assert_eq!(
            inspector_detach_state("replaced_with_devtools"),
            SessionState::Detached {
                reason: "replaced_with_devtools".to_owned()
            }
        );
    }

    #[test]
    fn ended_error_says_why() {
        let error = SessionError::Ended {
            method: "Page.reload".to_owned(),
            cause: SessionState::TargetClosed,
        };
        assert_eq!(
            error.to_string(),
            "Page.reload failed because the tab was closed"
        );
    }
}
