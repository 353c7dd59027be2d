//! The state of a multi-instance activity and of assigned user tasks, kept in the instance's
//! process state (so it is committed with every transition that changes it).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who may act on a user task, resolved from the data when the task started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Assignee {
    /// A person, by national identity number.
    #[serde(rename_all = "camelCase")]
    Person { person_number: String },
    /// An organisation, by organisation number: its own token, or a person holding a role for
    /// it.
    #[serde(rename_all = "camelCase")]
    Organisation { organisation_number: String },
    /// A person holding role `role` for `organisation_number`, the organisation that owns the
    /// instance (`None`: a person owns it, and no one holds a role for a person).
    #[serde(rename_all = "camelCase")]
    Role {
        role: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        organisation_number: Option<String>,
    },
}

impl Assignee {
    /// In words, for refusals (personal data: a person number shows only its birth date part).
    pub fn describe(&self) -> String {
        match self {
            Assignee::Person { person_number } => format!(
                "person {}*****",
                person_number.chars().take(6).collect::<String>()
            ),
            Assignee::Organisation {
                organisation_number,
            } => format!("organisation {organisation_number}"),
            Assignee::Role {
                role,
                organisation_number: Some(org),
            } => format!("whoever holds role {role} for organisation {org}"),
            Assignee::Role { role, .. } => {
                format!("role {role} (the instance is owned by a person: no one holds it)")
            }
        }
    }
}

/// Where an inner instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InnerState {
    Active,
    Completed,
    /// Ended without completing: the completion condition held, or the activity was
    /// interrupted.
    Cancelled,
}

/// One run of a multi-instance activity's inner activity, for one item of the collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InnerInstance {
    /// The item's index in the collection (0-based).
    pub index: u32,
    /// The token waiting at the inner task, or the inner sub-process's scope instance.
    pub id: u32,
    pub state: InnerState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Assignee>,
}

/// A multi-instance activity being run: the collection as it was when the token arrived, and
/// the inner instances started so far (a sequential one starts the next when one completes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultiInstanceBody {
    pub sequential: bool,
    pub items: Vec<Value>,
    pub inner: Vec<InnerInstance>,
}

impl MultiInstanceBody {
    pub fn nr_of_instances(&self) -> usize {
        self.items.len()
    }

    pub fn nr_of_completed(&self) -> usize {
        self.count(InnerState::Completed)
    }

    pub fn nr_of_active(&self) -> usize {
        self.count(InnerState::Active)
    }

    fn count(&self, state: InnerState) -> usize {
        self.inner.iter().filter(|i| i.state == state).count()
    }

    /// The inner instance whose token or scope instance is `id`.
    pub fn inner_by_id(&self, id: u32) -> Option<&InnerInstance> {
        self.inner
            .iter()
            .find(|i| i.id == id && i.state == InnerState::Active)
    }

    /// What expressions read through the reserved data type `multiInstance` for the inner
    /// instance at `index` (`element` and `index` are null without one).
    pub fn variables(&self, index: Option<u32>, element_variable: Option<&str>) -> Value {
        let element = index
            .and_then(|i| self.items.get(i as usize))
            .cloned()
            .unwrap_or(Value::Null);
        let mut vars = serde_json::json!({
            "element": element,
            "index": index,
            "loopCounter": index.map(|i| i + 1),
            "nrOfInstances": self.nr_of_instances(),
            "nrOfCompletedInstances": self.nr_of_completed(),
            "nrOfActiveInstances": self.nr_of_active(),
        });
        if let (Some(name), Some(map)) = (element_variable, vars.as_object_mut()) {
            map.insert(name.to_string(), element);
        }
        vars
    }
}
