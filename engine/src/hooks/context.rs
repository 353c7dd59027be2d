//! What hooks see: the instance, its data (read and write), who acts, and the definition.

use crate::app::AppSpec;
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::Node;
use crate::ids::DataTypeId;
use crate::model::{Actor, Instance};
use crate::runtime::DataCache;
use crate::time::Timestamp;
use serde_json::Value;

/// The task a hook is called for.
#[derive(Debug, Clone)]
pub struct TaskRef {
    pub element_id: String,
    pub name: Option<String>,
    /// `data`, `confirmation`, ..., or the service task type.
    pub task_type: Option<String>,
}

impl TaskRef {
    pub(crate) fn of(node: &Node) -> Self {
        TaskRef {
            element_id: node.id.to_string(),
            name: node.name.clone(),
            task_type: node.altinn_task_type().map(str::to_string),
        }
    }
}

/// The context of one hook call. Data reads load lazily; writes are committed with the move.
pub struct HookContext<'a> {
    pub(crate) instance: &'a Instance,
    pub(crate) data: &'a mut DataCache,
    pub(crate) app: &'a AppSpec,
    pub(crate) definition: &'a ProcessDefinition,
    pub(crate) actor: &'a Actor,
    pub(crate) now: Timestamp,
}

impl std::fmt::Debug for HookContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookContext")
            .field("instance", &self.instance.id)
            .field("actor", &self.actor)
            .finish()
    }
}

impl HookContext<'_> {
    /// The instance as it is in this transition (before the commit).
    pub fn instance(&self) -> &Instance {
        self.instance
    }

    pub fn app(&self) -> &AppSpec {
        self.app
    }

    pub fn definition(&self) -> &ProcessDefinition {
        self.definition
    }

    /// Who caused this transition.
    pub fn actor(&self) -> &Actor {
        self.actor
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The JSON data of a data type, if there is any.
    pub fn data(&mut self, data_type: &str) -> Result<Option<&Value>, crate::hooks::HookError> {
        self.data
            .get(&DataTypeId::new(data_type))
            .map_err(|e| crate::hooks::HookError::Failed(e.to_string()))
    }

    /// Replaces the JSON data of a data type; committed with the transition.
    pub fn set_data(&mut self, data_type: &str, value: Value) {
        self.data.set(DataTypeId::new(data_type), value);
    }
}

/// The context of a gateway decision.
#[derive(Debug)]
pub struct GatewayContext<'a> {
    pub(crate) instance: &'a Instance,
    pub(crate) gateway_id: &'a str,
    pub(crate) candidates: Vec<String>,
    pub(crate) gateway_action: Option<&'a str>,
    pub(crate) data: &'a std::collections::BTreeMap<DataTypeId, Value>,
    pub(crate) actor: &'a Actor,
}

impl GatewayContext<'_> {
    pub fn instance(&self) -> &Instance {
        self.instance
    }

    pub fn gateway_id(&self) -> &str {
        self.gateway_id
    }

    /// Ids of the outgoing flows the decider may pick from.
    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }

    /// The action that completed the task before this gateway (`reject`, `confirm`, ...).
    pub fn gateway_action(&self) -> Option<&str> {
        self.gateway_action
    }

    /// Data loaded in this transition (every data type of the instance).
    pub fn data(&self, data_type: &str) -> Option<&Value> {
        self.data.get(&DataTypeId::new(data_type))
    }

    pub fn actor(&self) -> &Actor {
        self.actor
    }
}
