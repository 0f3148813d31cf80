//! Leakscope's data model, shared by the core, the charts, the bundles and both
//! front ends.
//!
//! Everything here is plain data and pure computation: no I/O beyond reading and
//! writing recording files, no async, no CDP. The core turns CDP traffic into
//! [`Record`]s, appends them to a recording, and feeds them to the live state;
//! a recording read back from disk goes through exactly the same path, which is
//! what makes replay equal to the live view.

pub mod config;
pub mod engine;
pub mod live;
pub mod polls;
pub mod record;
pub mod recording;
pub mod repro;
pub mod requests;
pub mod rules;
pub mod verdict;

pub use engine::{Engine, Summary};
pub use record::*;
pub use recording::{Recording, RecordingError, RecordingReader, RecordingWriter};
