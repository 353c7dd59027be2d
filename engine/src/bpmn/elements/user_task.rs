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

    /// The actions of the task type itself, any of which lets a caller move the task with
    /// `next` and no action (as Altinn's `GetActionsThatAllowProcessNextForTaskType`). `sign`
    /// comes from a signature configuration, not from the type: see [`UserTask::own_actions`].
    pub fn type_actions(self) -> &'static [&'static str] {
        match self {
            UserTaskType::Data | UserTaskType::Feedback | UserTaskType::Signing => &["write"],
            UserTaskType::Confirmation => &["confirm"],
            UserTaskType::Payment => &["pay", "write"],
            UserTaskType::Generic => &["complete"],
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
    /// The actions the task lists (`<altinn:actions>`). The task's own actions
    /// ([`UserTask::own_actions`]) are allowed too.
    pub actions: Vec<Action>,
    /// Altinn per-type configuration (`signatureConfig`, `paymentConfig`, ...).
    pub config: Extension,
    /// `<altinn:signatureConfig>`, read from `config`: where `sign` is offered.
    pub signature: Option<SignatureConfig>,
    /// flyt extension elements.
    pub flyt: Extension,
    /// `<flyt:assignee>`: who may act on it, on top of the app's policy.
    pub assignee: Option<super::AssigneeRule>,
}

impl UserTask {
    /// The task's own actions: its type's, then `sign` where a signature is configured (Altinn
    /// signs only there). A caller who may perform any of them may move the task with no action.
    pub fn own_actions(&self) -> Vec<&str> {
        let mut own: Vec<&str> = Vec::new();
        if self.signature.is_some() {
            own.push("sign");
        }
        own.extend(self.task_type.type_actions());
        own
    }

    /// Whether `action` completes this task: one of its own, or a listed process action.
    pub fn completes_with(&self, action: &str) -> bool {
        self.own_actions().contains(&action)
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

    /// The process actions `next` accepts: the listed ones, then the task's own.
    pub fn process_actions(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::Process)
            .map(|a| a.id.clone())
            .collect();
        for own in self.own_actions() {
            if !all.iter().any(|a| a == own) {
                all.push(own.to_string());
            }
        }
        all
    }
}

/// `<altinn:signatureConfig>`: what `sign` records and locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureConfig {
    /// The data types whose elements are hashed into the signature and locked by it.
    pub data_types_to_sign: Vec<String>,
    /// The data type the signature is stored in (`<altinn:signatureDataType>`). Altinn fails a
    /// signing without one; flyt stores it in [`SignatureConfig::DEFAULT_DATA_TYPE`] and warns
    /// when the file is read.
    pub signature_data_type: String,
}

impl SignatureConfig {
    pub const DEFAULT_DATA_TYPE: &'static str = "signature";
}
