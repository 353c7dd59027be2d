//! Server actions: code run at a task that does not move the process.

use super::next::pick_task;
use crate::bpmn::elements::NodeKind;
use crate::hooks::{HookError, TaskRef};
use crate::ids::InstanceId;
use crate::model::{Actor, EventType, Instance};
use crate::runtime::pipeline::Kind;
use crate::runtime::{Error, Runtime};
use serde_json::Value;

impl Runtime {
    /// Runs a task's server action. Data it writes is committed (one commit); its result is
    /// returned.
    pub async fn server_action(
        &self,
        id: InstanceId,
        action: &str,
        task: Option<&str>,
        actor: Actor,
    ) -> Result<(Instance, Value), Error> {
        let loaded = self.load(id, None)?;
        let def = loaded.def.clone();
        let (_, element) = pick_task(&loaded.instance, task, None, &def, None, &actor)?;
        let node = def.node_by_id(&element).map(|n| def.node(n));
        let listed = matches!(node.map(|n| &n.kind), Some(NodeKind::UserTask(t)) if t.has_server_action(action));
        let handler = self
            .inner
            .registry
            .server_action(&loaded.app.id, action)
            .filter(|_| listed)
            .cloned();
        let (Some(node), Some(handler)) = (node, handler) else {
            return Err(Error::UnknownServerAction {
                task: element,
                action: action.to_string(),
            });
        };
        let mut t = self.begin(loaded, actor);
        let task_ref = TaskRef::of(node);
        let timeout = self.inner.registry.hook_timeout();
        let hook = format!("server action `{action}`");
        let result = {
            let mut ctx = t.hook_context();
            match tokio::time::timeout(timeout, handler.run(&mut ctx, &task_ref)).await {
                Ok(Ok(v)) => v,
                Ok(Err(HookError::Rejected(issues))) => {
                    return Err(Error::Refused { hook, issues });
                }
                Ok(Err(HookError::Failed(detail))) => {
                    return Err(Error::HookFailed { hook, detail });
                }
                Err(_) => {
                    return Err(Error::HookTimeout {
                        hook,
                        millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    });
                }
            }
        };
        t.check_written()?;
        t.record(
            EventType::ServerAction,
            Some(node.id.clone()),
            Some(action.to_string()),
            None,
        );
        let instance = self.commit(Kind::Move, t).await?;
        Ok((instance, result))
    }
}
