//! The adapters that are not [`Hook`](crate::Hook)s: gateway deciders, server actions and
//! service task handlers made of closures (re-exported by [`hook_fn`](super)).

use super::BoxFuture;
use crate::{
    GatewayContext, GatewayDecider, HookContext, HookError, JobContext, ServerAction,
    ServiceTaskHandler, ServiceTaskOutcome, TaskRef,
};
use async_trait::async_trait;
use serde_json::Value;
use std::fmt;
use std::future::{Future, ready};

type DecideFn = Box<
    dyn for<'a, 'b> Fn(&'a GatewayContext<'b>) -> BoxFuture<'a, Result<String, HookError>>
        + Send
        + Sync,
>;

/// A [`GatewayDecider`] made of a closure; see [`gateway_fn`].
pub struct FnDecider(DecideFn);

impl fmt::Debug for FnDecider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnDecider")
    }
}

fn decide_fn<F>(f: F) -> FnDecider
where
    F: for<'a, 'b> Fn(&'a GatewayContext<'b>) -> BoxFuture<'a, Result<String, HookError>>
        + Send
        + Sync
        + 'static,
{
    FnDecider(Box::new(f))
}

/// A gateway decider: the closure returns the id of one of `ctx.candidates()`:
/// `gateway_fn(|ctx| Ok("Flow_auto".into()))`.
pub fn gateway_fn(
    f: impl Fn(&GatewayContext<'_>) -> Result<String, HookError> + Send + Sync + 'static,
) -> FnDecider {
    decide_fn(move |ctx| Box::pin(ready(f(ctx))))
}

/// [`gateway_fn`] for a decision that awaits: `gateway_fn_async(|ctx| Box::pin(async move {
/// .. }))`.
pub fn gateway_fn_async<F>(f: F) -> FnDecider
where
    F: for<'a, 'b> Fn(&'a GatewayContext<'b>) -> BoxFuture<'a, Result<String, HookError>>
        + Send
        + Sync
        + 'static,
{
    decide_fn(f)
}

#[async_trait]
impl GatewayDecider for FnDecider {
    async fn decide(&self, ctx: &GatewayContext<'_>) -> Result<String, HookError> {
        (self.0)(ctx).await
    }
}

type ActionRunFn = Box<
    dyn for<'a, 'b> Fn(
            &'a mut HookContext<'b>,
            &'a TaskRef,
        ) -> BoxFuture<'a, Result<Value, HookError>>
        + Send
        + Sync,
>;

/// A [`ServerAction`] made of a closure; see [`server_action_fn`].
pub struct FnServerAction(ActionRunFn);

impl fmt::Debug for FnServerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnServerAction")
    }
}

fn action_run_fn<F>(f: F) -> FnServerAction
where
    F: for<'a, 'b> Fn(
            &'a mut HookContext<'b>,
            &'a TaskRef,
        ) -> BoxFuture<'a, Result<Value, HookError>>
        + Send
        + Sync
        + 'static,
{
    FnServerAction(Box::new(f))
}

/// A server action: the closure may read and write data (committed unless it errs) and returns
/// the caller's result: `server_action_fn(|ctx, task| Ok(json!({ "ok": true })))`.
pub fn server_action_fn(
    f: impl Fn(&mut HookContext<'_>, &TaskRef) -> Result<Value, HookError> + Send + Sync + 'static,
) -> FnServerAction {
    action_run_fn(move |ctx, task| Box::pin(ready(f(ctx, task))))
}

/// [`server_action_fn`] for an action that awaits; the closure returns `Box::pin(async move {
/// .. })`.
pub fn server_action_fn_async<F>(f: F) -> FnServerAction
where
    F: for<'a, 'b> Fn(
            &'a mut HookContext<'b>,
            &'a TaskRef,
        ) -> BoxFuture<'a, Result<Value, HookError>>
        + Send
        + Sync
        + 'static,
{
    action_run_fn(f)
}

#[async_trait]
impl ServerAction for FnServerAction {
    async fn run(&self, ctx: &mut HookContext<'_>, task: &TaskRef) -> Result<Value, HookError> {
        (self.0)(ctx, task).await
    }
}

type ExecuteFn = Box<dyn Fn(JobContext) -> BoxFuture<'static, ServiceTaskOutcome> + Send + Sync>;

/// A [`ServiceTaskHandler`] made of a closure; see [`service_task_fn`].
pub struct FnServiceTask(ExecuteFn);

impl fmt::Debug for FnServiceTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnServiceTask")
    }
}

/// A service task handler: `service_task_fn(|job| async move { ServiceTaskOutcome::done() })`.
/// The job context is owned, so the future may hold it across awaits.
pub fn service_task_fn<F, Fut>(f: F) -> FnServiceTask
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ServiceTaskOutcome> + Send + 'static,
{
    FnServiceTask(Box::new(move |job| Box::pin(f(job))))
}

#[async_trait]
impl ServiceTaskHandler for FnServiceTask {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        (self.0)(ctx).await
    }
}
