//! A hook that logs every hook point at `info` (instance id, task, action, actor). Useful while
//! developing an app, and a minimal example of the hook API.

use crate::{Hook, HookContext, HookResult, TaskRef};
use async_trait::async_trait;

/// Logs instance creation, task start/end/abandon, data writes and process end.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoggingHook;

#[async_trait]
impl Hook for LoggingHook {
    fn name(&self) -> &str {
        "logging"
    }

    async fn instance_created(&self, ctx: &mut HookContext<'_>) -> HookResult {
        tracing::info!(instance = %ctx.instance().id, app = %ctx.instance().app, actor = %ctx.actor(), "instance created");
        Ok(())
    }

    async fn task_started(&self, ctx: &mut HookContext<'_>, task: &TaskRef) -> HookResult {
        tracing::info!(instance = %ctx.instance().id, task = %task.element_id, r#type = ?task.task_type, "task started");
        Ok(())
    }

    async fn task_ending(
        &self,
        ctx: &mut HookContext<'_>,
        task: &TaskRef,
        action: &str,
    ) -> HookResult {
        tracing::info!(instance = %ctx.instance().id, task = %task.element_id, action, actor = %ctx.actor(), "task ending");
        Ok(())
    }

    async fn task_abandoned(
        &self,
        ctx: &mut HookContext<'_>,
        task: &TaskRef,
        action: &str,
    ) -> HookResult {
        tracing::info!(instance = %ctx.instance().id, task = %task.element_id, action, "task abandoned");
        Ok(())
    }

    async fn process_ended(&self, ctx: &mut HookContext<'_>) -> HookResult {
        tracing::info!(instance = %ctx.instance().id, "process ended");
        Ok(())
    }

    async fn data_written(&self, ctx: &mut HookContext<'_>, data_type: &str) -> HookResult {
        tracing::info!(instance = %ctx.instance().id, data_type, "data written");
        Ok(())
    }
}
