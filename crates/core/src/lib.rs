//! Leakscope's engine: finding a browser, a focused CDP session on one tab,
//! sampling, the recorder and heap snapshot capture.
//!
//! The front ends (the `leakscope` CLI and the desktop app) call into this
//! crate only; it has no UI and no drawing code. Entry points:
//! [`session::Browser::connect`] to reach a browser, [`BrowserConnection::attach`]
//! to attach to one tab, and [`recorder::Recorder`] to sample it into a recording.

pub mod agent;
pub mod analysis;
pub mod capture;
pub mod deadline;
pub mod endpoint;
pub mod events;
pub mod launcher;
pub mod losses;
pub mod recorder;
pub mod repro;
pub mod sampler;
pub mod select;
pub mod session;
pub mod summary;

pub use endpoint::{ConnectError, ConnectOptions, Endpoint};
pub use events::{SessionEvent, TypedEvent};
pub use losses::{LossCounter, UndecodedMessage};
pub use recorder::{
    RecordPlugin, Recorder, RecorderConfig, RecorderError, RecorderHandle, RecorderStatus,
};
pub use select::{select_target, SelectError};
pub use session::{
    Browser, BrowserConnection, ConnectionState, EventStream, EventsError, Session, SessionError,
    SessionState, Target,
};
pub use summary::{HeapSummary, RecordSummary, TargetSummary};
