//! The extension points the runtime calls: hooks, gateway deciders, service task handlers and
//! server actions, and the [`Registry`] that holds them.
//!
//! The traits live here because the runtime calls them; developers use them through the
//! `flyt-hooks` crate, which re-exports this module and adds the built-in implementations.
//!
//! **When hooks run.** Every [`Hook`] method runs *before* the commit of the transition it belongs
//! to, inside the computation of that transition, so what it writes to instance data is committed
//! atomically with the move. Consequences: a hook may run again for the same move (the commit can
//! lose a race and the caller retries), so it must not have outside side effects — use a service
//! task or a webhook (durable, after the commit) for those; an error or a veto fails the move and
//! leaves the instance exactly as it was; each call has a timeout ([`Registry::hook_timeout`]).
//! The runtime holds no lock while a hook runs.

mod context;
mod registry;
mod service_task;

pub use context::{GatewayContext, HookContext, TaskRef};
pub use registry::{EventKind, HandlerConfig, Registry, RegistryBuilder, Subscription};
pub use service_task::{
    Completion, ConfigCheck, JobContext, ServiceTaskHandler, ServiceTaskOutcome,
};

use async_trait::async_trait;
use serde::Serialize;
use std::fmt;

/// A problem a hook found with the data, reported to the caller (field path and message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Issue {
    pub fn new(message: impl Into<String>) -> Self {
        Issue {
            field: None,
            message: message.into(),
            code: None,
        }
    }

    pub fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            field: Some(field.into()),
            message: message.into(),
            code: None,
        }
    }
}

/// What a hook can answer instead of `Ok`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The hook refuses the move (validation): the caller gets 409 with these issues.
    #[error("refused: {}", .0.iter().map(|i| i.message.as_str()).collect::<Vec<_>>().join("; "))]
    Rejected(Vec<Issue>),
    /// The hook failed: the move fails with a server error; the instance is unchanged.
    #[error("hook failed: {0}")]
    Failed(String),
}

impl HookError {
    pub fn rejected(issue: Issue) -> Self {
        HookError::Rejected(vec![issue])
    }
}

pub type HookResult = Result<(), HookError>;

/// Code that runs at points of an instance's life. Every method does nothing by default, so an
/// implementation overrides only what it needs. See the module docs for when hooks run.
#[async_trait]
pub trait Hook: Send + Sync + 'static {
    /// A name for logs and errors.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// A new instance, before its first commit, after prefill data is in place: fill in initial
    /// data (like Altinn's instantiation processor). An error refuses the creation.
    async fn instance_created(&self, _ctx: &mut HookContext<'_>) -> HookResult {
        Ok(())
    }

    /// A task (user or service) starts, in the same transition that reaches it.
    async fn task_started(&self, _ctx: &mut HookContext<'_>, _task: &TaskRef) -> HookResult {
        Ok(())
    }

    /// A user task is about to complete with `action`. Return `HookError::Rejected` to refuse
    /// (validation): the move fails with 409 and the issues, and the instance is unchanged.
    async fn task_ending(
        &self,
        _ctx: &mut HookContext<'_>,
        _task: &TaskRef,
        _action: &str,
    ) -> HookResult {
        Ok(())
    }

    /// A user task is left with `reject` (Altinn's abandon).
    async fn task_abandoned(
        &self,
        _ctx: &mut HookContext<'_>,
        _task: &TaskRef,
        _action: &str,
    ) -> HookResult {
        Ok(())
    }

    /// The process reached its end (the last token arrived at an end event).
    async fn process_ended(&self, _ctx: &mut HookContext<'_>) -> HookResult {
        Ok(())
    }

    /// Data of `data_type` is being written (by the API or a service task): validate it (return
    /// `Rejected`) or enrich it (`ctx.set_data`).
    async fn data_written(&self, _ctx: &mut HookContext<'_>, _data_type: &str) -> HookResult {
        Ok(())
    }
}

impl fmt::Debug for dyn Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hook({})", self.name())
    }
}

/// Decides an exclusive gateway when its conditions do not (no condition matched and there is
/// no default, several matched, or it has no conditions at all). Registered for one gateway id.
#[async_trait]
pub trait GatewayDecider: Send + Sync + 'static {
    /// Returns the id of one of `ctx.candidates()`.
    async fn decide(&self, ctx: &GatewayContext<'_>) -> Result<String, HookError>;
}

/// A named action on a task that runs code without moving the process (Altinn's server
/// actions). Its result is returned to the caller; data it writes is committed.
#[async_trait]
pub trait ServerAction: Send + Sync + 'static {
    async fn run(
        &self,
        ctx: &mut HookContext<'_>,
        task: &TaskRef,
    ) -> Result<serde_json::Value, HookError>;
}
