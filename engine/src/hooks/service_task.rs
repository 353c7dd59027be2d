//! Service task handlers: code run by a job worker after the commit that reached the task.

use crate::bpmn::elements::ServiceTask;
use crate::bpmn::{Diagnostic, Pos};
use crate::ids::{AppId, DataTypeId, JobKey};
use crate::model::Instance;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Everything a handler needs for one attempt.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job: JobKey,
    pub app: AppId,
    pub element_id: String,
    /// Stable across retries and restarts of this visit of the task: send it downstream (e.g. as
    /// `Idempotency-Key`) so that the side effect happens once.
    pub idempotency_key: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The instance as committed when the attempt started.
    pub instance: Arc<Instance>,
    /// The instance's data when the attempt started.
    pub data: Arc<BTreeMap<DataTypeId, Value>>,
    /// The service task as defined (type, Altinn config, flyt extension elements); `None` for
    /// event deliveries.
    pub task: Option<Arc<ServiceTask>>,
    /// For event deliveries: the event (CloudEvents 1.0 JSON).
    pub payload: Option<Value>,
    /// The instance's app (its data types).
    pub app_spec: Arc<crate::app::AppSpec>,
    /// When the attempt times out.
    pub timeout: Duration,
}

/// What the task produced on success.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    /// Data to write to the instance, committed with the move past the task.
    pub data: BTreeMap<DataTypeId, Value>,
    /// `gatewayAction` for gateways after the task (default: the action that led into it).
    pub action: Option<String>,
    /// Facts recorded in the task's `process_EndTask` history event (e.g. a created instance).
    pub details: Option<Value>,
    /// Files to add to the instance (e.g. a PDF receipt): each becomes a binary data element,
    /// committed with the move past the task (its bytes are stored just before that commit and
    /// removed again if the commit does not happen), so a retried attempt adds them once.
    pub files: Vec<FileOutput>,
}

/// A file a service task produced.
#[derive(Debug, Clone, PartialEq)]
pub struct FileOutput {
    pub data_type: DataTypeId,
    pub content_type: String,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceTaskOutcome {
    /// Done: write the data, end the task, move on (one commit).
    Completed(Completion),
    /// Try again after at least `after` (e.g. a downstream `Retry-After`); counts as an attempt.
    RetryAfter { after: Duration, reason: String },
    /// Failed. `retryable` failures are retried with backoff until attempts run out; the others
    /// raise an incident at once.
    Failed { reason: String, retryable: bool },
    /// A BPMN error: an error boundary event on the task that catches `code` takes the process
    /// on (an error path, not a failure); when none catches it, an incident names the code.
    Error { code: String, message: String },
}

impl ServiceTaskOutcome {
    /// Completed, with no data.
    pub fn done() -> Self {
        ServiceTaskOutcome::Completed(Completion::default())
    }

    /// A retryable failure (retried with backoff).
    pub fn retry(reason: impl Into<String>) -> Self {
        ServiceTaskOutcome::Failed {
            reason: reason.into(),
            retryable: true,
        }
    }

    /// A permanent failure (an incident at once).
    pub fn fail(reason: impl Into<String>) -> Self {
        ServiceTaskOutcome::Failed {
            reason: reason.into(),
            retryable: false,
        }
    }
}

/// Runs service tasks of one type, registered by type name ([`RegistryBuilder::service_task`];
/// `flyt:type="..."` on the `<serviceTask>`). A definition that uses a type nobody registered is
/// refused at deploy.
///
/// Unlike hooks, a handler runs **after** the commit that reached its task, in the job worker,
/// so it is the place for outside side effects. It runs **at least once**: again after a
/// retryable failure or [`ServiceTaskOutcome::RetryAfter`], after a crash or a restart in the
/// middle of an attempt (the lease expires or is reclaimed), when its completion could not be
/// recorded, and after an operator resumes an incident. Send
/// [`JobContext::idempotency_key`] downstream (e.g. as `Idempotency-Key`) so the effect happens
/// once. Jobs of different instances run concurrently; one job never runs twice at once.
///
/// [`RegistryBuilder::service_task`]: super::RegistryBuilder::service_task
#[async_trait]
pub trait ServiceTaskHandler: Send + Sync + 'static {
    /// One attempt. Timeout: [`HandlerConfig::timeout`](super::HandlerConfig) (default 30 s),
    /// passed in [`JobContext::timeout`]; an attempt that exceeds it is cancelled and counts as
    /// a retryable failure.
    ///
    /// - [`Completed`](ServiceTaskOutcome::Completed): its data is written (running the
    ///   `data_written` hooks), the task ends and the instance moves on, all in one commit. If
    ///   that commit is refused (a hook vetoes, the next gateway cannot decide), the completion
    ///   is not recorded and the job is attempted again after its lease expires.
    /// - [`RetryAfter`](ServiceTaskOutcome::RetryAfter): the job is queued again after `after`
    ///   (at most an hour); it counts as an attempt.
    /// - [`Failed`](ServiceTaskOutcome::Failed): retryable failures are retried with capped
    ///   exponential backoff until `max_attempts`, then raise an incident; others raise an
    ///   incident at once. An incident stops the job until an operator resumes the instance.
    ///
    /// Do not panic: return `Failed` instead.
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome;

    /// Checks the task's configuration when a definition is deployed (synchronously, no I/O);
    /// diagnostics with errors refuse the deploy.
    fn check_config(&self, _check: &ConfigCheck<'_>) -> Vec<Diagnostic> {
        Vec::new()
    }
}

/// What a handler sees when checking a service task's configuration at deploy.
#[derive(Debug)]
pub struct ConfigCheck<'a> {
    /// The app whose definition is being deployed.
    pub app: &'a crate::app::AppSpec,
    pub element_id: &'a str,
    pub pos: Pos,
    pub task: &'a ServiceTask,
    /// Other apps on this server (by id), for handlers that target them.
    pub apps: &'a std::collections::HashMap<AppId, Arc<crate::app::AppSpec>>,
}

/// A shared handler is a handler (so state can be shared with the rest of an application).
#[async_trait]
impl<T: ServiceTaskHandler + ?Sized> ServiceTaskHandler for Arc<T> {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        (**self).execute(ctx).await
    }

    fn check_config(&self, check: &ConfigCheck<'_>) -> Vec<Diagnostic> {
        (**self).check_config(check)
    }
}
