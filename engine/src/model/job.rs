//! Jobs: the durable outbox of service tasks.

use crate::ids::{AppId, ElementId, InstanceId, JobKey};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum JobState {
    /// Waiting to run at or after `due`.
    #[serde(rename_all = "camelCase")]
    Queued { due: Timestamp },
    /// Taken by a worker until `until`; after that it may be taken again.
    #[serde(rename_all = "camelCase")]
    Leased {
        until: Timestamp,
        lease: u64,
        worker: String,
    },
    /// Out of attempts: the instance has an incident until it is resumed.
    Incident,
}

/// What a job is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobKind {
    /// A service task: completing it moves the instance past the task.
    #[default]
    ServiceTask,
    /// The delivery of an event to a subscriber (a webhook): completing it only removes it.
    Event,
    /// A timer (an intermediate catch event's or a boundary event's): due when it fires; firing
    /// moves the instance, in the worker, without a handler. Its payload holds the cycle's state.
    Timer,
}

/// One service task run or event delivery, created in the same commit as the transition that
/// caused it (an outbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub key: JobKey,
    pub app: AppId,
    pub instance: InstanceId,
    pub element_id: ElementId,
    pub task_type: String,
    /// Which visit of the element this job belongs to.
    pub visit: u32,
    /// `{instance}/{element}/{visit}`: stable across retries and restarts, different for a new
    /// visit; handlers send it downstream (e.g. as `Idempotency-Key`) to make effects happen once.
    pub idempotency_key: String,
    /// Attempts started so far.
    pub attempts: u32,
    pub max_attempts: u32,
    pub state: JobState,
    pub created: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The action that led into the service task; gateways after it see it as `gatewayAction`
    /// unless the handler names another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_action: Option<String>,
    /// Run by an external worker (`POST /jobs/activate`) rather than in-process.
    #[serde(default)]
    pub external: bool,
    #[serde(default)]
    pub kind: JobKind,
    /// For event jobs: the event (a CloudEvents 1.0 JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

impl Job {
    pub fn idempotency_key_for(instance: InstanceId, element: &ElementId, visit: u32) -> String {
        format!("{instance}/{element}/{visit}")
    }

    /// When a worker should next look at this job.
    pub fn due(&self) -> Option<Timestamp> {
        match &self.state {
            JobState::Queued { due } => Some(*due),
            JobState::Leased { until, .. } => Some(*until),
            JobState::Incident => None,
        }
    }
}
