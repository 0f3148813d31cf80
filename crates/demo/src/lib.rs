//! Leakscope's demo video editor and the loopback server that serves it.
//!
//! The editor is a small single-page app compiled into the binary (plain
//! HTML, CSS and JavaScript under `app/`, no build step, no network). It
//! reproduces a video editor's four generation flows, each polling a status
//! endpoint until its job ends, in a `leaky` variant (polls outlive the panel
//! that started them and the page's heap grows per poll) and a `fixed` one.
//! URL parameters make a run deterministic with no clicks; [`Scenario`]
//! builds that URL.
//!
//! [`DemoServer`] serves the editor and the job endpoints on 127.0.0.1. It
//! doubles as the fixture server of the integration tests, so it also keeps
//! a request log with arrival times (the ground truth that tests compare
//! against), responds to status requests from per-operation scripts, and
//! serves test pages and vendor files from directories.

mod assets;
mod jobs;
mod log;
mod scenario;
mod server;

pub use jobs::{JobSpec, OperationBehaviour};
pub use log::{RequestRecord, SUMMARY_CHARS};
pub use scenario::{Flow, FlowSelection, InvalidName, JobOutcome, Scenario, Variant};
pub use server::{DemoConfig, DemoError, DemoServer};
