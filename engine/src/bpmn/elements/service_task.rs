//! Service tasks: run by a handler as a durable job after the commit that reaches them.

use super::{Action, Extension};

/// A task run by a registered handler, named by its task type.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTask {
    /// The handler's name: `altinn:taskType`, or `flyt:type`. `None` when the file names none
    /// (a warning in `flyt validate`, an error at deploy).
    pub task_type: Option<String>,
    /// Actions listed on the task (Altinn lists `reject` on some service tasks).
    pub actions: Vec<Action>,
    /// Altinn per-type configuration (`pdfConfig`, `eFormidlingConfig`, ...).
    pub config: Extension,
    /// flyt extension elements (e.g. `flyt:createInstance`).
    pub flyt: Extension,
    /// Set on a message throw (send task, message intermediate throw or end event), which runs
    /// as a service task of type `sendMessage`.
    pub throw: Option<super::MessageThrow>,
}

impl ServiceTask {
    /// A message end event: once its job completes, the token ends there.
    pub fn is_message_end(&self) -> bool {
        self.throw
            .as_ref()
            .is_some_and(|t| t.element == super::ThrowElement::EndEvent)
    }
}
