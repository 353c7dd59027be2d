//! The extension points the runtime calls: hooks, gateway deciders, service task handlers and
//! server actions, and the [`Registry`] that holds them.
//!
//! The traits live here because the runtime calls them; developers use them through the
//! `flyt-hooks` crate, which re-exports this module, adds closure adapters (`flyt_hooks::hook_fn`)
//! and the built-in implementations. `HOOKS.md` at the repository root is the guide.
//!
//! **Before the commit: [`Hook`], [`GatewayDecider`], [`ServerAction`].** They run *inside* the
//! computation of one transition, before its single atomic commit, so what they write with
//! [`HookContext::set_data`] is committed together with the move, or not at all. Consequences:
//!
//! - **They may run again, and may run for a move that never happens.** A commit can lose a race
//!   with a concurrent move (the caller gets 409 and retries), a later hook or gateway can refuse,
//!   the process can crash before the commit, and a service task's completion is re-computed when
//!   the instance changed under it. So a hook must not have outside side effects (no e-mails, no
//!   payments, no calls that change something elsewhere); put those in a service task or a
//!   webhook, which run durably *after* the commit.
//! - **An error, a veto or a timeout leaves the instance exactly as it was**: no state, data,
//!   history or job of the transition is written. [`HookError::Rejected`] becomes
//!   `runtime::Error::Refused` (409 with the issues), [`HookError::Failed`] becomes
//!   `Error::HookFailed` (500), a timeout becomes `Error::HookTimeout` (500). The first error
//!   stops the transition: later hooks do not run.
//! - **Each call has a timeout**, [`Registry::hook_timeout`] (default 5 s, set with
//!   [`RegistryBuilder::hook_timeout`]); a call that exceeds it is cancelled (its future is
//!   dropped), which only works if the hook awaits: a hook that blocks the thread cannot be.
//! - **Order**: hooks run in registration order, global ([`RegistryBuilder::hook`]) and app-scoped
//!   ([`RegistryBuilder::app_hook`]) ones interleaved as registered. A hook sees the data written
//!   by the hooks before it in the same transition.
//! - **No locks**: the runtime holds no lock while a hook runs, so a slow hook delays only its own
//!   request. Hooks themselves must not block the thread (use `spawn_blocking` for blocking
//!   work) and should not hold their own locks across an `.await`.
//!
//! **After the commit: [`ServiceTaskHandler`].** A handler runs in the job worker after the
//! commit that reached its task, at least once, with its own timeout and retries
//! ([`HandlerConfig`]); see the trait.

mod context;
mod registry;
mod service_task;

pub use context::{GatewayContext, HookContext, TaskRef};
pub use registry::{EventKind, HandlerConfig, Registry, RegistryBuilder, Subscription};
pub use service_task::{
    Completion, ConfigCheck, FileOutput, JobContext, ServiceTaskHandler, ServiceTaskOutcome,
};

use async_trait::async_trait;
use serde::Serialize;
use std::fmt;

/// A problem a hook found with the data, reported to the caller (field path and message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// Where in the data, e.g. `order.total` (shown to the caller as the problem's `field`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    /// A machine-readable code of the app's choosing.
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
/// implementation overrides only what it needs (or use the closure adapters in
/// `flyt_hooks::hook_fn`).
///
/// Every method runs **before the commit** of the transition it belongs to, with the timeout
/// [`Registry::hook_timeout`]; it **may run again** for the same move (a retried request, a lost
/// race, a re-computed job completion) and may run for a move that is then refused by something
/// else; an error, a veto (`Rejected`) or a timeout **fails the move and leaves the instance
/// unchanged**. See the [module docs](self) for the details; each method below says when it is
/// called and what its error means there.
#[async_trait]
pub trait Hook: Send + Sync + 'static {
    /// A name for logs and for the `hook` of `Refused`/`HookFailed`/`HookTimeout` errors.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// A new instance is being created: fill in initial data (like Altinn's instantiation
    /// processor).
    ///
    /// Runs first in the creation's transition, after the request's prefill data is in the
    /// context (`ctx.data` returns it) and before the start event is recorded and the first task
    /// is reached (so before that task's [`task_started`](Hook::task_started)). What it writes is
    /// checked against the data types' schemas and stored in the instance's first commit.
    /// Runs again if the creation is retried without having committed; a retry with the same
    /// `Idempotency-Key` after a committed creation returns that instance without running it.
    /// An error refuses the creation: no instance exists.
    async fn instance_created(&self, _ctx: &mut HookContext<'_>) -> HookResult {
        Ok(())
    }

    /// A task (user or service) starts, in the transition that reaches it (a creation, a
    /// `next`, a service task's completion).
    ///
    /// Runs after the token is placed at the task and `process_StartTask` is recorded
    /// (`ctx.instance()` shows the task active), before the commit. For a service task it runs
    /// before its job exists in the store, so before the handler. Runs again whenever that
    /// transition is re-computed (see the trait docs). An error fails the whole transition that
    /// reached the task: the previous task stays active (or the creation is refused).
    async fn task_started(&self, _ctx: &mut HookContext<'_>, _task: &TaskRef) -> HookResult {
        Ok(())
    }

    /// A task is about to complete with `action` (any action but `reject`): validate, or enrich
    /// the data committed with the move.
    ///
    /// Runs in `next`, after the task's required data is present and valid, before the token
    /// leaves the task and before anything after it (gateways, the next task) is computed.
    /// Called for user tasks, and for a service task completed by an action it lists; not when
    /// a service task's handler completes it. Return [`HookError::Rejected`] to refuse: the
    /// move fails with 409 and the issues, and the instance, its data and its history are
    /// unchanged. Runs again each time the move is attempted.
    async fn task_ending(
        &self,
        _ctx: &mut HookContext<'_>,
        _task: &TaskRef,
        _action: &str,
    ) -> HookResult {
        Ok(())
    }

    /// A task is left with `reject` (Altinn's abandon), so the process goes where the gateway
    /// after it sends rejected work.
    ///
    /// Runs in `next` instead of [`task_ending`](Hook::task_ending) (required data is not
    /// checked), before the token leaves the task; for a service task that lists `reject`, its
    /// job is cancelled in the same commit. An error or a veto refuses the reject and leaves the
    /// instance unchanged. Runs again each time the reject is attempted.
    async fn task_abandoned(
        &self,
        _ctx: &mut HookContext<'_>,
        _task: &TaskRef,
        _action: &str,
    ) -> HookResult {
        Ok(())
    }

    /// The process ended: the last token was consumed (with parallel branches, when the last
    /// branch ends; not at each end event).
    ///
    /// Runs once per committed instance, at the end of the transition that ends it, after
    /// `process_EndEvent` is recorded and `ctx.instance().process.ended` is set, before the
    /// commit. Runs again if that transition is re-computed. An error fails that transition
    /// (the last task stays active); if it is a service task's completion, nothing is recorded:
    /// an external worker gets the error, an in-process job is attempted again after its lease
    /// expires.
    async fn process_ended(&self, _ctx: &mut HookContext<'_>) -> HookResult {
        Ok(())
    }

    /// Data of `data_type` is being written: validate it (return `Rejected`) or enrich it
    /// (`ctx.set_data`).
    ///
    /// Runs when the API writes data (`ctx.data(data_type)` returns the new value; after the
    /// hooks, what was written is checked against the schema and committed), and for each data
    /// type a service task's completion returns (an in-process handler's or an external
    /// worker's), before that task ends. Not called for creation prefill, for data other hooks
    /// set, or for data a server action writes. A veto on an API write is a 409 with the issues
    /// and nothing is stored. On a completion, nothing is recorded either: an external worker
    /// gets the 409, an in-process job is attempted again after its lease expires. Runs again
    /// each time the write is attempted.
    async fn data_written(&self, _ctx: &mut HookContext<'_>, _data_type: &str) -> HookResult {
        Ok(())
    }
}

impl fmt::Debug for dyn Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hook({})", self.name())
    }
}

/// Decides an exclusive gateway when its conditions do not: no condition matched and there is
/// no default, several matched, or it has no conditions at all. Registered for one gateway of one
/// app ([`RegistryBuilder::gateway`]); a gateway with neither conditions nor a default cannot be
/// deployed without one (`undecidable-gateway`).
#[async_trait]
pub trait GatewayDecider: Send + Sync + 'static {
    /// Returns the id of one of `ctx.candidates()` (the flows whose conditions held, or every
    /// outgoing flow when none did).
    ///
    /// Runs when a token reaches the gateway, inside the transition and before its commit, with
    /// the instance's data as this transition sees it (including what hooks wrote earlier in
    /// it) and the action that completed the task before the gateway. Runs again whenever the
    /// transition is re-computed, so it must decide from the context alone. Timeout:
    /// [`Registry::hook_timeout`]. A flow id that is not a candidate, a `Failed` or a timeout
    /// fails the move with a server error; `Rejected` fails it with 409 and the issues; in every
    /// case the instance is unchanged.
    async fn decide(&self, ctx: &GatewayContext<'_>) -> Result<String, HookError>;
}

/// A named action on a task that runs code without moving the process (Altinn's server
/// actions). Registered for one app or all ([`RegistryBuilder::server_action`]) and callable
/// only on a user task that lists it as `<altinn:action type="serverAction">`.
#[async_trait]
pub trait ServerAction: Send + Sync + 'static {
    /// Runs the action on the active `task` and returns the caller's result.
    ///
    /// Runs on request (`POST .../actions`), before a commit that writes the data it set
    /// together with a `flyt_ServerAction` history event; the process does not move and no
    /// `data_written` hooks run. Runs again when the caller retries (e.g. after a 409 because
    /// the instance changed concurrently, in which case this run's writes were discarded), so
    /// an outside side effect must be idempotent. Timeout: [`Registry::hook_timeout`].
    /// `Rejected` answers 409 with the issues, `Failed` or a timeout answers 500; nothing is
    /// written.
    async fn run(
        &self,
        ctx: &mut HookContext<'_>,
        task: &TaskRef,
    ) -> Result<serde_json::Value, HookError>;
}
