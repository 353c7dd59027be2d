//! User tasks: where a token waits for a person or organisation to act.

use super::Extension;
use serde::Serialize;

/// The Altinn user task types, plus `Generic` for plain BPMN tasks without an Altinn type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UserTaskType {
    Data,
    Confirmation,
    Feedback,
    Signing,
    Payment,
    /// A `task`/`userTask` with no Altinn task type: completed with the `complete` action.
    Generic,
}

impl UserTaskType {
    pub const ALTINN_NAMES: &'static [&'static str] =
        &["data", "confirmation", "feedback", "signing", "payment"];

    pub fn from_altinn(name: &str) -> Option<Self> {
        Some(match name {
            "data" => UserTaskType::Data,
            "confirmation" => UserTaskType::Confirmation,
            "feedback" => UserTaskType::Feedback,
            "signing" => UserTaskType::Signing,
            "payment" => UserTaskType::Payment,
            _ => return None,
        })
    }

    /// The name written in `altinn:taskType`, and shown as `altinnTaskType` in process state.
    pub fn altinn_name(self) -> Option<&'static str> {
        Some(match self {
            UserTaskType::Data => "data",
            UserTaskType::Confirmation => "confirmation",
            UserTaskType::Feedback => "feedback",
            UserTaskType::Signing => "signing",
            UserTaskType::Payment => "payment",
            UserTaskType::Generic => return None,
        })
    }

    /// The action that completes a task of this type when `next` names none (as Altinn).
    pub fn default_action(self) -> &'static str {
        match self {
            UserTaskType::Data | UserTaskType::Feedback => "write",
            UserTaskType::Confirmation => "confirm",
            UserTaskType::Signing => "sign",
            UserTaskType::Payment => "pay",
            UserTaskType::Generic => "complete",
        }
    }
}

/// Whether an action moves the process (`processAction`, the default) or runs code on the
/// server without moving it (`serverAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionKind {
    Process,
    Server,
}

/// An action listed on a task (`<altinn:action>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Action {
    pub id: String,
    pub kind: ActionKind,
}

/// A task that waits for a person or organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct UserTask {
    pub task_type: UserTaskType,
    /// The actions the task lists. The task type's default action is always allowed too.
    pub actions: Vec<Action>,
    /// Altinn per-type configuration (`signatureConfig`, `paymentConfig`, ...).
    pub config: Extension,
    /// flyt extension elements.
    pub flyt: Extension,
}

impl UserTask {
    /// The action used when `next` names none.
    pub fn default_action(&self) -> &'static str {
        self.task_type.default_action()
    }

    /// Whether `action` completes this task: the default action, or a listed process action.
    pub fn completes_with(&self, action: &str) -> bool {
        action == self.default_action()
            || self
                .actions
                .iter()
                .any(|a| a.id == action && a.kind == ActionKind::Process)
    }

    /// Whether `action` is a server action of this task.
    pub fn has_server_action(&self, action: &str) -> bool {
        self.actions
            .iter()
            .any(|a| a.id == action && a.kind == ActionKind::Server)
    }

    /// Every action a caller may try on this task: the default first, then the listed ones.
    pub fn all_actions(&self) -> Vec<Action> {
        let mut all = vec![Action {
            id: self.default_action().to_string(),
            kind: ActionKind::Process,
        }];
        for a in &self.actions {
            if !all.iter().any(|b| b.id == a.id) {
                all.push(a.clone());
            }
        }
        all
    }
}
