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
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceTaskOutcome {
    Completed(Completion),
    /// Try again after at least `after` (e.g. a downstream `Retry-After`); counts as an attempt.
    RetryAfter {
        after: Duration,
        reason: String,
    },
    /// Failed. `retryable` failures are retried with backoff until attempts run out; the others
    /// raise an incident at once.
    Failed {
        reason: String,
        retryable: bool,
    },
}

impl ServiceTaskOutcome {
    pub fn done() -> Self {
        ServiceTaskOutcome::Completed(Completion::default())
    }

    pub fn retry(reason: impl Into<String>) -> Self {
        ServiceTaskOutcome::Failed {
            reason: reason.into(),
            retryable: true,
        }
    }

    pub fn fail(reason: impl Into<String>) -> Self {
        ServiceTaskOutcome::Failed {
            reason: reason.into(),
            retryable: false,
        }
    }
}

/// Runs service tasks of one type. Runs after the commit that reached the task, at least once
/// (a crash or lease expiry can re-run an attempt), possibly concurrently with other instances'
/// jobs but never twice at once for the same job.
#[async_trait]
pub trait ServiceTaskHandler: Send + Sync + 'static {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome;

    /// Checks the task's configuration when a definition is deployed; diagnostics with errors
    /// refuse the deploy.
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
