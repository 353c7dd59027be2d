//! The runtime's error type. Each variant says which HTTP status the API maps it to.

use crate::app::SchemaIssue;
use crate::bpmn::Rejected;
use crate::hooks::Issue;
use crate::ids::{AppId, DataElementId, InstanceId};
use crate::store::StoreError;
use serde::Serialize;

/// What one exclusive-gateway condition gave, for "no flow matched" errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionResult {
    pub flow_id: String,
    pub condition: Option<String>,
    /// `true`, `false`, or the evaluation error.
    pub result: String,
}

/// Why a runtime call failed. Every failure leaves the instance exactly as it was.
// Deliberately not `#[non_exhaustive]`: the API maps every variant to a status in one match,
// and a new variant must fail to compile there rather than become a silent 500.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// 404.
    #[error("app {0} is not known here")]
    AppNotFound(AppId),
    /// 409: the app has no deployed definition.
    #[error("app {0} has no deployed process definition")]
    NoDefinition(AppId),
    /// 404.
    #[error("definition version {version} of {app} does not exist")]
    DefinitionVersionNotFound { app: AppId, version: u32 },
    /// 422: the definition failed validation (every diagnostic is included).
    #[error("the process definition is invalid")]
    InvalidDefinition(Rejected),
    /// 404.
    #[error("instance {0} does not exist")]
    InstanceNotFound(InstanceId),
    /// 412: `If-Match`/`expected_version` named an older version.
    #[error("the instance is at version {actual}, not {expected}")]
    VersionMismatch { expected: u64, actual: u64 },
    /// 409: another request changed the instance first; re-read and retry.
    #[error(
        "the instance was changed by another request at the same time; read it again and retry"
    )]
    Conflict,
    /// 409.
    #[error("the process has ended")]
    ProcessEnded,
    /// 409: no user task is active (the process waits for a service task or an incident).
    #[error("no user task is active{}", waiting_on(.waiting_for))]
    NoActiveTask { waiting_for: Vec<String> },
    /// 400: several user tasks are active; name one with `taskId`.
    #[error("{} tasks are active ({}); say which one with taskId", .active.len(), .active.join(", "))]
    TaskRequired { active: Vec<String> },
    /// 409: the named task is not active.
    #[error("task `{task}` is not active (active: {})", if .active.is_empty() { "none".to_string() } else { .active.join(", ") })]
    TaskNotActive { task: String, active: Vec<String> },
    /// 409: the action does not complete this task.
    #[error("action `{action}` is not allowed on task `{task}`; allowed: {}", .allowed.join(", "))]
    ActionNotAllowed {
        action: String,
        task: String,
        allowed: Vec<String>,
    },
    /// 409: an exclusive gateway could not pick exactly one flow; nothing moved.
    #[error("gateway `{gateway}` {problem}: {}", describe(.results))]
    Gateway {
        gateway: String,
        problem: String,
        results: Vec<ConditionResult>,
    },
    /// 422: the process moved through automatic elements too many times without waiting.
    #[error(
        "loop guard: the process took {steps} automatic steps without reaching a wait state (last element `{element}`)"
    )]
    LoopGuard { element: String, steps: usize },
    /// 409: a hook refused the move (validation); the issues say why.
    #[error("{hook} refused: {}", .issues.iter().map(|i| i.message.as_str()).collect::<Vec<_>>().join("; "))]
    Refused { hook: String, issues: Vec<Issue> },
    /// 500: a hook failed (details logged).
    #[error("hook {hook} failed: {detail}")]
    HookFailed { hook: String, detail: String },
    /// 500: a hook did not answer in time.
    #[error("hook {hook} timed out after {millis} ms")]
    HookTimeout { hook: String, millis: u64 },
    /// 422: data does not satisfy its data type's schema.
    #[error("data of `{data_type}` is invalid: {}", .issues.iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>().join("; "))]
    DataInvalid {
        data_type: String,
        issues: Vec<SchemaIssue>,
    },
    /// 409: data required by the task is missing.
    #[error("task `{task}` cannot complete: data `{data_type}` is required")]
    DataMissing { task: String, data_type: String },
    /// 404.
    #[error("app {app} has no data type `{data_type}`")]
    UnknownDataType { app: AppId, data_type: String },
    /// 409: no active task may write this data type now.
    #[error("data `{data_type}` cannot be written now: {reason}")]
    DataNotWritable { data_type: String, reason: String },
    /// 409: the data type is locked by a signature (signed data is not changed afterwards).
    #[error(
        "data `{data_type}` is locked by the signature in `{signature}`: signed data cannot change"
    )]
    DataLocked {
        data_type: String,
        signature: String,
    },
    /// 409: a multi-instance activity's collection or completion condition could not be
    /// evaluated, or gave the wrong kind of value; nothing moved.
    #[error("multi-instance activity `{element}`: {problem}")]
    MultiInstance { element: String, problem: String },
    /// 409: a user task's assignee expression gave no person or organisation number; nothing
    /// moved.
    #[error("the assignee of `{element}` cannot be resolved: {problem}")]
    Assignment { element: String, problem: String },
    /// 400: several inner instances of a multi-instance task are active and none is assigned
    /// to the caller alone; name one with `innerInstance`.
    #[error("{} inner instances of `{task}` are active (indexes {}); say which one with innerInstance", .active.len(), .active.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    InnerInstanceRequired { task: String, active: Vec<u32> },
    /// 409: a timer's value (an expression over the data) gave no valid due time; nothing moved.
    #[error("the timer of `{element}` cannot be armed: {problem}")]
    Timer { element: String, problem: String },
    /// 409: the process has only timer start events: its instances start on their schedule,
    /// not through the API.
    #[error("the process of {app} starts only on its schedule (timer start events {}); it has no none start event to create instances from", .starts.join(", "))]
    StartsOnSchedule { app: AppId, starts: Vec<String> },
    /// 409: `next` on a service task while an attempt of it runs.
    #[error("service task `{task}` is running now; try again when the attempt has ended")]
    ServiceTaskRunning { task: String },
    /// 400: the data type holds the other kind of data (files sent to a JSON data type, or
    /// JSON to a binary one).
    #[error("data type `{data_type}` holds {holds}; {hint}")]
    WrongDataKind {
        data_type: String,
        holds: &'static str,
        hint: &'static str,
    },
    /// 415: the data type does not accept this content type.
    #[error("data type `{data_type}` does not accept `{content_type}`; allowed: {}", .allowed.join(", "))]
    ContentTypeNotAllowed {
        data_type: String,
        content_type: String,
        allowed: Vec<String>,
    },
    /// 415: the bytes are not what the content type says (their signature says otherwise).
    #[error("the file was sent as `{content_type}` but its bytes are {detected}")]
    ContentMismatch {
        content_type: String,
        detected: String,
    },
    /// 409: the instance already holds as many elements of this data type as it may.
    #[error("the instance already holds {max} element(s) of `{data_type}`, the most it may")]
    TooManyFiles { data_type: String, max: u32 },
    /// 413: the file is larger than its data type allows; nothing was stored.
    #[error("the file is larger than `{data_type}` allows ({limit} bytes); nothing was stored")]
    FileTooLarge { data_type: String, limit: u64 },
    /// 400: an empty file.
    #[error("the file is empty (0 bytes)")]
    EmptyFile,
    /// 404: no data element with this id.
    #[error("instance {instance} has no data element {element}")]
    DataElementNotFound {
        instance: InstanceId,
        element: DataElementId,
    },
    /// 409: the `Idempotency-Key` was used with a different request.
    #[error("Idempotency-Key `{0}` was already used with a different request")]
    IdempotencyKeyReused(String),
    /// 409: `resume` on an instance without incidents.
    #[error("the instance has no incident to resume")]
    NoIncident,
    /// 404: no server action of that name on the task.
    #[error("task `{task}` has no server action `{action}`")]
    UnknownServerAction { task: String, action: String },
    /// 400: the request itself is malformed (bad owner, unknown start event, ...).
    #[error("{0}")]
    BadRequest(String),
    /// 500: a bug inside the engine (a panic caught at a thread boundary); details logged.
    #[error("internal error: {0}")]
    Internal(String),
    /// 409: a message catch's correlation key gave no usable key; nothing moved.
    #[error("the correlation key of `{element}` cannot be computed: {problem}")]
    CorrelationKey { element: String, problem: String },
    /// 422: no message catch of the app's process waits for a message of this name.
    #[error("no message catch of {app} waits for a message named `{name}` (it waits for: {})", if .known.is_empty() { "none".to_string() } else { .known.join(", ") })]
    UnknownMessage {
        app: AppId,
        name: String,
        known: Vec<String>,
    },
    /// 404: no subscription waits for this name and key, and the message has no `timeToLive`
    /// to wait in; nothing was stored.
    #[error(
        "no subscription waits for message `{name}` with correlation key `{correlation_key}`, and it has no timeToLive to be buffered for"
    )]
    NoSubscription {
        name: String,
        correlation_key: String,
    },
    /// 409: the `messageId` was already published with other content.
    #[error("messageId `{0}` was already published with other content")]
    MessageIdReused(String),
    /// 413: the message's `data` is larger than allowed; nothing was stored.
    #[error("the message's data has {size} bytes; at most {limit}")]
    MessageTooLarge { size: usize, limit: usize },
    /// 422: no signal event of the app's process catches or starts on a signal of this name.
    #[error("no signal event of {app} catches a signal named `{name}` (it catches: {})", if .known.is_empty() { "none".to_string() } else { .known.join(", ") })]
    UnknownSignal {
        app: AppId,
        name: String,
        known: Vec<String>,
    },
    /// 409: the `signalId` was already published with other content.
    #[error("signalId `{0}` was already published with other content")]
    SignalIdReused(String),
    /// 503: storage failed; nothing was changed.
    #[error("storage unavailable: {0}")]
    Store(#[from] StoreError),
}

fn waiting_on(tasks: &[String]) -> String {
    if tasks.is_empty() {
        String::new()
    } else {
        format!("; waiting for {}", tasks.join(", "))
    }
}

fn describe(results: &[ConditionResult]) -> String {
    results
        .iter()
        .map(|r| match &r.condition {
            Some(c) => format!("{} {} gave {}", r.flow_id, c, r.result),
            None => format!("{} (no condition) {}", r.flow_id, r.result),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<crate::store::CommitError> for Error {
    fn from(e: crate::store::CommitError) -> Self {
        match e {
            crate::store::CommitError::Conflict(_) => Error::Conflict,
            crate::store::CommitError::Store(s) => Error::Store(s),
        }
    }
}
