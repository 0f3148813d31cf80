//! The state behind the status endpoints: jobs started by the page and
//! operations scripted by tests.
//!
//! This is plain synchronous state under one mutex in the server. Keeping the
//! response logic here, apart from HTTP, lets the unit tests below check the
//! state machine one poll at a time.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::scenario::{Flow, JobOutcome};

/// Behaviour of a job started through a flow's `POST`, as its status
/// endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSpec {
    pub outcome: JobOutcome,
    /// "processing" responses before the outcome. Ignored for
    /// [`JobOutcome::Never`].
    pub complete_after: u32,
    /// HTTP status (400 to 599) of every response once an `error` job has
    /// reached its outcome.
    pub error_status: u16,
}

impl Default for JobSpec {
    fn default() -> Self {
        Self {
            outcome: JobOutcome::Complete,
            complete_after: 5,
            error_status: 500,
        }
    }
}

impl JobSpec {
    /// Checks the fields that can be out of range.
    pub fn validate(&self) -> Result<(), String> {
        if !(400..=599).contains(&self.error_status) {
            return Err(format!(
                "invalid error_status {}; use an HTTP error status from 400 to 599",
                self.error_status
            ));
        }
        Ok(())
    }
}

/// Scripted responses for one operation id, set by a test with
/// `DemoServer::set_operation`. It applies to every status endpoint, for
/// `GET ?operationName=` and for `POST` with a JSON body alike.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct OperationBehaviour {
    /// Wait before responding, in milliseconds.
    pub delay_ms: u64,
    /// Bodies returned in turn; the last one repeats. When empty, every
    /// response is `{"operationName":"<op>","status":"processing"}`.
    pub sequence: Vec<Value>,
    /// HTTP status of every response, from 200 to 599
    /// (`DemoServer::set_operation` rejects others).
    pub http_status: u16,
    /// Accept the request and never respond to it. `delay_ms`, `sequence` and
    /// `http_status` are then unused.
    pub hang: bool,
}

impl Default for OperationBehaviour {
    fn default() -> Self {
        Self {
            delay_ms: 0,
            sequence: Vec::new(),
            http_status: 200,
            hang: false,
        }
    }
}

/// Response to one status request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StatusAnswer {
    Reply {
        delay: Duration,
        http_status: u16,
        body: Value,
    },
    Hang,
}

/// Reason a status request has no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupError {
    Unknown,
    OtherFlow(Flow),
}

#[derive(Debug)]
struct Job {
    flow: Flow,
    spec: JobSpec,
    polls: u32,
}

#[derive(Debug)]
struct Scripted {
    behaviour: OperationBehaviour,
    served: usize,
}

/// Jobs and scripted operations, keyed by operation id.
#[derive(Debug, Default)]
pub(crate) struct Operations {
    last_id: u64,
    jobs: HashMap<String, Job>,
    scripted: HashMap<String, Scripted>,
}

impl Operations {
    /// Starts a job and returns its new operation id (`op-1`, `op-2`, …).
    pub fn start_job(&mut self, flow: Flow, spec: JobSpec) -> String {
        self.last_id += 1;
        let operation = format!("op-{}", self.last_id);
        self.jobs.insert(
            operation.clone(),
            Job {
                flow,
                spec,
                polls: 0,
            },
        );
        operation
    }

    /// Sets or replaces the scripted behaviour of `operation`, restarting
    /// its sequence.
    pub fn script(&mut self, operation: &str, behaviour: OperationBehaviour) {
        self.scripted.insert(
            operation.to_owned(),
            Scripted {
                behaviour,
                served: 0,
            },
        );
    }

    /// Removes a scripted behaviour; returns whether there was one.
    pub fn unscript(&mut self, operation: &str) -> bool {
        self.scripted.remove(operation).is_some()
    }

    /// Status polls received so far for a job started through a flow.
    pub fn job_polls(&self, operation: &str) -> Option<u32> {
        self.jobs.get(operation).map(|job| job.polls)
    }

    /// Counts one status request for `operation` on `flow`'s endpoint and
    /// returns its response. A scripted behaviour wins over a job of the same
    /// id.
    pub fn answer(&mut self, flow: Flow, operation: &str) -> Result<StatusAnswer, LookupError> {
        if let Some(scripted) = self.scripted.get_mut(operation) {
            return Ok(scripted_answer(operation, scripted));
        }
        let job = self.jobs.get_mut(operation).ok_or(LookupError::Unknown)?;
        if job.flow != flow {
            return Err(LookupError::OtherFlow(job.flow));
        }
        job.polls = job.polls.saturating_add(1);
        Ok(job_answer(operation, job))
    }
}

fn scripted_answer(operation: &str, scripted: &mut Scripted) -> StatusAnswer {
    let behaviour = &scripted.behaviour;
    if behaviour.hang {
        return StatusAnswer::Hang;
    }
    let body = match behaviour.sequence.len() {
        0 => json!({ "operationName": operation, "status": "processing" }),
        len => behaviour.sequence[scripted.served.min(len - 1)].clone(),
    };
    scripted.served = scripted.served.saturating_add(1);
    StatusAnswer::Reply {
        delay: Duration::from_millis(behaviour.delay_ms),
        http_status: behaviour.http_status,
        body,
    }
}

fn job_answer(operation: &str, job: &Job) -> StatusAnswer {
    let spec = job.spec;
    let poll = job.polls;
    let processing = spec.outcome == JobOutcome::Never || poll <= spec.complete_after;
    if processing {
        let progress = match spec.outcome {
            // No end is known, so progress creeps up and stops short of 100.
            JobOutcome::Never => (poll.saturating_mul(5)).min(95),
            _ => poll.saturating_mul(100) / (spec.complete_after + 1),
        };
        return reply(
            200,
            json!({
                "operationName": operation,
                "status": "processing",
                "progress": progress,
            }),
        );
    }

    match spec.outcome {
        JobOutcome::Complete | JobOutcome::Never => reply(
            200,
            json!({
                "operationName": operation,
                "status": "complete",
                "progress": 100,
                "resultUrl": format!("/media/{operation}.{}", media_extension(job.flow)),
            }),
        ),
        JobOutcome::Failed => reply(
            200,
            json!({
                "operationName": operation,
                "status": "failed",
                "error": "generation failed (job=failed)",
            }),
        ),
        JobOutcome::Error => reply(
            spec.error_status,
            json!({
                "operationName": operation,
                "status": "failed",
                "error": format!("simulated server error {} (job=error)", spec.error_status),
            }),
        ),
        JobOutcome::Hang => StatusAnswer::Hang,
    }
}

fn reply(http_status: u16, body: Value) -> StatusAnswer {
    StatusAnswer::Reply {
        delay: Duration::ZERO,
        http_status,
        body,
    }
}

fn media_extension(flow: Flow) -> &'static str {
    match flow {
        Flow::Video | Flow::Upscale => "mp4",
        Flow::Suno => "mp3",
        Flow::Minimax => "m4a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(answer: StatusAnswer) -> (u16, Value) {
        match answer {
            StatusAnswer::Reply {
                http_status, body, ..
            } => (http_status, body),
            StatusAnswer::Hang => panic!("expected a reply, got a hang"),
        }
    }

    fn spec(outcome: JobOutcome, complete_after: u32) -> JobSpec {
        JobSpec {
            outcome,
            complete_after,
            error_status: 503,
        }
    }

    #[test]
    fn job_processing_then_complete() {
        let mut ops = Operations::default();
        let op = ops.start_job(Flow::Video, spec(JobOutcome::Complete, 2));
        assert_eq!(op, "op-1");

        let (status, first) = body_of(ops.answer(Flow::Video, &op).unwrap());
        assert_eq!(status, 200);
        assert_eq!(first["status"], "processing");
        assert_eq!(first["progress"], 33);
        let (_, second) = body_of(ops.answer(Flow::Video, &op).unwrap());
        assert_eq!(second["status"], "processing");
        assert_eq!(second["progress"], 66);

        for _ in 0..3 {
            let (status, body) = body_of(ops.answer(Flow::Video, &op).unwrap());
            assert_eq!(status, 200);
            assert_eq!(body["status"], "complete");
            assert_eq!(body["resultUrl"], "/media/op-1.mp4");
        }
        assert_eq!(ops.job_polls(&op), Some(5));
    }

    #[test]
    fn job_complete_after_zero() {
        let mut ops = Operations::default();
        let op = ops.start_job(Flow::Suno, spec(JobOutcome::Complete, 0));
        let (_, body) = body_of(ops.answer(Flow::Suno, &op).unwrap());
        assert_eq!(body["status"], "complete");
    }

    #[test]
    fn job_never_stays_processing() {
        let mut ops = Operations::default();
        let op = ops.start_job(Flow::Upscale, spec(JobOutcome::Never, 1));
        for _ in 0..50 {
            let (_, body) = body_of(ops.answer(Flow::Upscale, &op).unwrap());
            assert_eq!(body["status"], "processing");
            assert!(body["progress"].as_u64().unwrap() <= 95);
        }
    }

    #[test]
    fn job_error_uses_error_status() {
        let mut ops = Operations::default();
        let op = ops.start_job(Flow::Minimax, spec(JobOutcome::Error, 1));
        let (status, _) = body_of(ops.answer(Flow::Minimax, &op).unwrap());
        assert_eq!(status, 200);
        let (status, body) = body_of(ops.answer(Flow::Minimax, &op).unwrap());
        assert_eq!(status, 503);
        assert_eq!(body["status"], "failed");
    }

    #[test]
    fn job_failed_is_http_ok() {
        let mut ops = Operations::default();
        let op = ops.start_job(Flow::Video, spec(JobOutcome::Failed, 0));
        let (status, body) = body_of(ops.answer(Flow::Video, &op).unwrap());
        assert_eq!(status, 200);
        assert_eq!(body["status"], "failed");
    }

    #[test]
    fn job_hang_after_processing() {
        let mut ops = Operations::default();
        let op = ops.start_job(Flow::Video, spec(JobOutcome::Hang, 1));
        assert!(matches!(
            ops.answer(Flow::Video, &op),
            Ok(StatusAnswer::Reply { .. })
        ));
        assert_eq!(ops.answer(Flow::Video, &op), Ok(StatusAnswer::Hang));
    }

    #[test]
    fn job_on_other_flow_endpoint() {
        let mut ops = Operations::default();
        let op = ops.start_job(Flow::Suno, JobSpec::default());
        assert_eq!(
            ops.answer(Flow::Video, &op),
            Err(LookupError::OtherFlow(Flow::Suno))
        );
        assert_eq!(ops.job_polls(&op), Some(0));
    }

    #[test]
    fn unknown_operation() {
        let mut ops = Operations::default();
        assert_eq!(ops.answer(Flow::Video, "op-9"), Err(LookupError::Unknown));
    }

    #[test]
    fn scripted_sequence_repeats_last() {
        let mut ops = Operations::default();
        ops.script(
            "zombie-1",
            OperationBehaviour {
                delay_ms: 20,
                sequence: vec![json!({"done": false}), json!({"done": true})],
                http_status: 202,
                hang: false,
            },
        );
        let bodies: Vec<Value> = (0..4)
            .map(|_| match ops.answer(Flow::Upscale, "zombie-1").unwrap() {
                StatusAnswer::Reply {
                    delay,
                    http_status,
                    body,
                } => {
                    assert_eq!(delay, Duration::from_millis(20));
                    assert_eq!(http_status, 202);
                    body
                }
                StatusAnswer::Hang => panic!("scripted operation hung"),
            })
            .collect();
        assert_eq!(bodies[0], json!({"done": false}));
        assert_eq!(bodies[1], json!({"done": true}));
        assert_eq!(bodies[3], json!({"done": true}));
    }

    #[test]
    fn scripted_empty_sequence_is_processing() {
        let mut ops = Operations::default();
        ops.script("credits-1", OperationBehaviour::default());
        let (status, body) = body_of(ops.answer(Flow::Video, "credits-1").unwrap());
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"operationName": "credits-1", "status": "processing"})
        );
    }

    #[test]
    fn scripted_wins_over_job() {
        let mut ops = Operations::default();
        let op = ops.start_job(Flow::Video, JobSpec::default());
        ops.script(
            &op,
            OperationBehaviour {
                hang: true,
                ..OperationBehaviour::default()
            },
        );
        assert_eq!(ops.answer(Flow::Video, &op), Ok(StatusAnswer::Hang));
        assert!(ops.unscript(&op));
        assert!(matches!(
            ops.answer(Flow::Video, &op),
            Ok(StatusAnswer::Reply { .. })
        ));
    }

    #[test]
    fn spec_rejects_non_error_status() {
        let bad = JobSpec {
            error_status: 200,
            ..JobSpec::default()
        };
        assert!(bad.validate().unwrap_err().contains("200"));
        assert!(JobSpec::default().validate().is_ok());
    }
}
