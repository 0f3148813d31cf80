//! The desktop app's controller, with no UI toolkit: everything the Tauri
//! shell's commands do, as plain async Rust that tests call directly.
//!
//! [`App`] has one method per UI command and emits events through an
//! [`EventSink`]. It reuses the core for discovery, launching, sessions,
//! recording and capture, the report crate for charts, bundles and replay
//! analysis, and the heap library for snapshot analyses. Wire types (the
//! UI's camelCase JSON) are defined here, at the edge, and converted from
//! the core's types, so nothing in the core is shaped by the UI.

pub mod app;
pub mod chart;
pub mod datadir;
pub mod discover;
pub mod error;
pub mod heap;
pub mod live;
pub mod pump;
pub mod replay;
pub mod repro;
pub mod timeline;
pub mod view;

pub use app::{App, DemoRequest, ExportResult, Readout, RetainersRequest};
pub use datadir::DataDir;
pub use error::{AppError, ErrorCode};
pub use pump::{EventSink, NullSink};
pub use repro::ReproRequest;
