//! Closure adapters: small hooks, gateway deciders, server actions and service task handlers as
//! one-liners, without a struct and a trait impl.
//!
//! ```
//! use flyt_hooks::hook_fn::{gateway_fn, on_task_ending, service_task_fn};
//! use flyt_hooks::{HookError, Issue, Registry, ServiceTaskOutcome};
//!
//! let app: flyt_engine::ids::AppId = "shop/orders".parse()?;
//! let credit_limit = on_task_ending(|ctx, task, _action| {
//!     let total = ctx.data("order")?.and_then(|o| o["total"].as_i64()).unwrap_or(0);
//!     if task.element_id == "Order" && total > 50_000 {
//!         return Err(HookError::rejected(Issue::at("order.total", "over the credit limit")));
//!     }
//!     Ok(())
//! });
//! let registry = Registry::builder()
//!     .app_hook(app.clone(), credit_limit.named("credit-limit"))
//!     .gateway(app, "Route", gateway_fn(|_ctx| Ok("Flow_auto".into())))
//!     .service_task("reserve", service_task_fn(|_job| async move { ServiceTaskOutcome::done() }))
//!     .build();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Two forms.** A hook receives `&mut HookContext<'_>`, a borrow that the engine owns for the
//! length of the call. A closure that returns `async move { ... }` cannot keep that borrow across
//! an `.await` (its future would have to name the borrow's lifetime, which a plain closure
//! cannot), so each adapter comes in two forms:
//!
//! - **synchronous** (`on_task_ending`, `gateway_fn`, `server_action_fn`, ...): the closure takes
//!   the context and returns the result directly. This is the common case: validating,
//!   enriching and routing are computations on the instance's data, and pre-commit hooks should
//!   not wait on anything anyway.
//! - **asynchronous** (`FnHook::on_task_ending_async`, `gateway_fn_async`, ...): the closure
//!   returns a [`BoxFuture`] that may borrow its arguments:
//!   `|ctx, task, action| Box::pin(async move { ...; ctx.set_data(..); Ok(()) })`.
//!
//! Service tasks get an owned [`JobContext`], so [`service_task_fn`] takes the natural
//! `|job| async move { ... }`.
//!
//! Every adapter is an ordinary [`Hook`] / [`GatewayDecider`] / [`ServerAction`] /
//! [`ServiceTaskHandler`]: it runs with the same timeout, in the same order and with the same
//! guarantees as a hand-written implementation (see the [`Hook`] docs and `HOOKS.md`).

mod handlers;

pub use handlers::{
    FnDecider, FnServerAction, FnServiceTask, gateway_fn, gateway_fn_async, server_action_fn,
    server_action_fn_async, service_task_fn,
};

use crate::{Hook, HookContext, HookResult, TaskRef};
use async_trait::async_trait;
use std::borrow::Cow;
use std::fmt;
use std::future::{Future, ready};
use std::pin::Pin;

/// A boxed, `Send` future borrowing for `'a`: what the asynchronous adapters' closures return
/// (`Box::pin(async move { ... })`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type CtxFn =
    Box<dyn for<'a, 'b> Fn(&'a mut HookContext<'b>) -> BoxFuture<'a, HookResult> + Send + Sync>;
type TaskFn = Box<
    dyn for<'a, 'b> Fn(&'a mut HookContext<'b>, &'a TaskRef) -> BoxFuture<'a, HookResult>
        + Send
        + Sync,
>;
type ActionFn = Box<
    dyn for<'a, 'b> Fn(&'a mut HookContext<'b>, &'a TaskRef, &'a str) -> BoxFuture<'a, HookResult>
        + Send
        + Sync,
>;
type DataFn = Box<
    dyn for<'a, 'b> Fn(&'a mut HookContext<'b>, &'a str) -> BoxFuture<'a, HookResult> + Send + Sync,
>;

// These helpers exist so that closures get their higher-ranked signatures from a bound (closure
// signatures are inferred from the bounds of the function they are passed to, not from a `dyn`
// type they are later coerced to).

fn ctx_fn<F>(f: F) -> CtxFn
where
    F: for<'a, 'b> Fn(&'a mut HookContext<'b>) -> BoxFuture<'a, HookResult> + Send + Sync + 'static,
{
    Box::new(f)
}

fn task_fn<F>(f: F) -> TaskFn
where
    F: for<'a, 'b> Fn(&'a mut HookContext<'b>, &'a TaskRef) -> BoxFuture<'a, HookResult>
        + Send
        + Sync
        + 'static,
{
    Box::new(f)
}

fn action_fn<F>(f: F) -> ActionFn
where
    F: for<'a, 'b> Fn(&'a mut HookContext<'b>, &'a TaskRef, &'a str) -> BoxFuture<'a, HookResult>
        + Send
        + Sync
        + 'static,
{
    Box::new(f)
}

fn data_fn<F>(f: F) -> DataFn
where
    F: for<'a, 'b> Fn(&'a mut HookContext<'b>, &'a str) -> BoxFuture<'a, HookResult>
        + Send
        + Sync
        + 'static,
{
    Box::new(f)
}

/// A [`Hook`] made of closures, one per hook point it cares about; the others do nothing.
///
/// Start with [`hook_fn`] (or one of the `on_*` shortcuts), add closures, name it for logs and
/// errors with [`FnHook::named`]. Setting the same hook point twice keeps the last closure.
pub struct FnHook {
    name: Cow<'static, str>,
    instance_created: Option<CtxFn>,
    task_started: Option<TaskFn>,
    task_ending: Option<ActionFn>,
    task_abandoned: Option<ActionFn>,
    process_ended: Option<CtxFn>,
    data_written: Option<DataFn>,
}

impl fmt::Debug for FnHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let points: Vec<&str> = [
            ("instance_created", self.instance_created.is_some()),
            ("task_started", self.task_started.is_some()),
            ("task_ending", self.task_ending.is_some()),
            ("task_abandoned", self.task_abandoned.is_some()),
            ("process_ended", self.process_ended.is_some()),
            ("data_written", self.data_written.is_some()),
        ]
        .into_iter()
        .filter_map(|(point, set)| set.then_some(point))
        .collect();
        f.debug_struct("FnHook")
            .field("name", &self.name)
            .field("points", &points)
            .finish()
    }
}

/// An empty [`FnHook`] named `name` (the name appears in logs and in `Refused`/`HookFailed`
/// errors); add closures with its `on_*` methods.
pub fn hook_fn(name: impl Into<Cow<'static, str>>) -> FnHook {
    FnHook {
        name: name.into(),
        instance_created: None,
        task_started: None,
        task_ending: None,
        task_abandoned: None,
        process_ended: None,
        data_written: None,
    }
}

/// A hook on [`Hook::instance_created`] only: `on_instance_created(|ctx| { ctx.set_data(..);
/// Ok(()) })`.
pub fn on_instance_created(
    f: impl Fn(&mut HookContext<'_>) -> HookResult + Send + Sync + 'static,
) -> FnHook {
    hook_fn("on_instance_created").on_instance_created(f)
}

/// A hook on [`Hook::task_started`] only.
pub fn on_task_started(
    f: impl Fn(&mut HookContext<'_>, &TaskRef) -> HookResult + Send + Sync + 'static,
) -> FnHook {
    hook_fn("on_task_started").on_task_started(f)
}

/// A hook on [`Hook::task_ending`] only (validation: return `HookError::Rejected`).
pub fn on_task_ending(
    f: impl Fn(&mut HookContext<'_>, &TaskRef, &str) -> HookResult + Send + Sync + 'static,
) -> FnHook {
    hook_fn("on_task_ending").on_task_ending(f)
}

/// A hook on [`Hook::task_abandoned`] only.
pub fn on_task_abandoned(
    f: impl Fn(&mut HookContext<'_>, &TaskRef, &str) -> HookResult + Send + Sync + 'static,
) -> FnHook {
    hook_fn("on_task_abandoned").on_task_abandoned(f)
}

/// A hook on [`Hook::process_ended`] only.
pub fn on_process_ended(
    f: impl Fn(&mut HookContext<'_>) -> HookResult + Send + Sync + 'static,
) -> FnHook {
    hook_fn("on_process_ended").on_process_ended(f)
}

/// A hook on [`Hook::data_written`] only (validate, or enrich with `ctx.set_data`).
pub fn on_data_written(
    f: impl Fn(&mut HookContext<'_>, &str) -> HookResult + Send + Sync + 'static,
) -> FnHook {
    hook_fn("on_data_written").on_data_written(f)
}

impl FnHook {
    /// Names the hook (logs, `Refused`/`HookFailed`/`HookTimeout` errors).
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// See [`Hook::instance_created`].
    pub fn on_instance_created(
        mut self,
        f: impl Fn(&mut HookContext<'_>) -> HookResult + Send + Sync + 'static,
    ) -> Self {
        self.instance_created = Some(ctx_fn(move |ctx| Box::pin(ready(f(ctx)))));
        self
    }

    /// See [`Hook::instance_created`]; the closure returns `Box::pin(async move { .. })`.
    pub fn on_instance_created_async<F>(mut self, f: F) -> Self
    where
        F: for<'a, 'b> Fn(&'a mut HookContext<'b>) -> BoxFuture<'a, HookResult>
            + Send
            + Sync
            + 'static,
    {
        self.instance_created = Some(ctx_fn(f));
        self
    }

    /// See [`Hook::task_started`].
    pub fn on_task_started(
        mut self,
        f: impl Fn(&mut HookContext<'_>, &TaskRef) -> HookResult + Send + Sync + 'static,
    ) -> Self {
        self.task_started = Some(task_fn(move |ctx, task| Box::pin(ready(f(ctx, task)))));
        self
    }

    /// See [`Hook::task_started`]; the closure returns `Box::pin(async move { .. })`.
    pub fn on_task_started_async<F>(mut self, f: F) -> Self
    where
        F: for<'a, 'b> Fn(&'a mut HookContext<'b>, &'a TaskRef) -> BoxFuture<'a, HookResult>
            + Send
            + Sync
            + 'static,
    {
        self.task_started = Some(task_fn(f));
        self
    }

    /// See [`Hook::task_ending`].
    pub fn on_task_ending(
        mut self,
        f: impl Fn(&mut HookContext<'_>, &TaskRef, &str) -> HookResult + Send + Sync + 'static,
    ) -> Self {
        self.task_ending = Some(action_fn(move |ctx, task, action| {
            Box::pin(ready(f(ctx, task, action)))
        }));
        self
    }

    /// See [`Hook::task_ending`]; the closure returns `Box::pin(async move { .. })`.
    pub fn on_task_ending_async<F>(mut self, f: F) -> Self
    where
        F: for<'a, 'b> Fn(
                &'a mut HookContext<'b>,
                &'a TaskRef,
                &'a str,
            ) -> BoxFuture<'a, HookResult>
            + Send
            + Sync
            + 'static,
    {
        self.task_ending = Some(action_fn(f));
        self
    }

    /// See [`Hook::task_abandoned`].
    pub fn on_task_abandoned(
        mut self,
        f: impl Fn(&mut HookContext<'_>, &TaskRef, &str) -> HookResult + Send + Sync + 'static,
    ) -> Self {
        self.task_abandoned = Some(action_fn(move |ctx, task, action| {
            Box::pin(ready(f(ctx, task, action)))
        }));
        self
    }

    /// See [`Hook::task_abandoned`]; the closure returns `Box::pin(async move { .. })`.
    pub fn on_task_abandoned_async<F>(mut self, f: F) -> Self
    where
        F: for<'a, 'b> Fn(
                &'a mut HookContext<'b>,
                &'a TaskRef,
                &'a str,
            ) -> BoxFuture<'a, HookResult>
            + Send
            + Sync
            + 'static,
    {
        self.task_abandoned = Some(action_fn(f));
        self
    }

    /// See [`Hook::process_ended`].
    pub fn on_process_ended(
        mut self,
        f: impl Fn(&mut HookContext<'_>) -> HookResult + Send + Sync + 'static,
    ) -> Self {
        self.process_ended = Some(ctx_fn(move |ctx| Box::pin(ready(f(ctx)))));
        self
    }

    /// See [`Hook::process_ended`]; the closure returns `Box::pin(async move { .. })`.
    pub fn on_process_ended_async<F>(mut self, f: F) -> Self
    where
        F: for<'a, 'b> Fn(&'a mut HookContext<'b>) -> BoxFuture<'a, HookResult>
            + Send
            + Sync
            + 'static,
    {
        self.process_ended = Some(ctx_fn(f));
        self
    }

    /// See [`Hook::data_written`].
    pub fn on_data_written(
        mut self,
        f: impl Fn(&mut HookContext<'_>, &str) -> HookResult + Send + Sync + 'static,
    ) -> Self {
        self.data_written = Some(data_fn(move |ctx, data_type| {
            Box::pin(ready(f(ctx, data_type)))
        }));
        self
    }

    /// See [`Hook::data_written`]; the closure returns `Box::pin(async move { .. })`.
    pub fn on_data_written_async<F>(mut self, f: F) -> Self
    where
        F: for<'a, 'b> Fn(&'a mut HookContext<'b>, &'a str) -> BoxFuture<'a, HookResult>
            + Send
            + Sync
            + 'static,
    {
        self.data_written = Some(data_fn(f));
        self
    }
}

#[async_trait]
impl Hook for FnHook {
    fn name(&self) -> &str {
        &self.name
    }

    async fn instance_created(&self, ctx: &mut HookContext<'_>) -> HookResult {
        match &self.instance_created {
            Some(f) => f(ctx).await,
            None => Ok(()),
        }
    }

    async fn task_started(&self, ctx: &mut HookContext<'_>, task: &TaskRef) -> HookResult {
        match &self.task_started {
            Some(f) => f(ctx, task).await,
            None => Ok(()),
        }
    }

    async fn task_ending(
        &self,
        ctx: &mut HookContext<'_>,
        task: &TaskRef,
        action: &str,
    ) -> HookResult {
        match &self.task_ending {
            Some(f) => f(ctx, task, action).await,
            None => Ok(()),
        }
    }

    async fn task_abandoned(
        &self,
        ctx: &mut HookContext<'_>,
        task: &TaskRef,
        action: &str,
    ) -> HookResult {
        match &self.task_abandoned {
            Some(f) => f(ctx, task, action).await,
            None => Ok(()),
        }
    }

    async fn process_ended(&self, ctx: &mut HookContext<'_>) -> HookResult {
        match &self.process_ended {
            Some(f) => f(ctx).await,
            None => Ok(()),
        }
    }

    async fn data_written(&self, ctx: &mut HookContext<'_>, data_type: &str) -> HookResult {
        match &self.data_written {
            Some(f) => f(ctx, data_type).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
