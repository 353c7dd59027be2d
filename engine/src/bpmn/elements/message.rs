//! Message catch elements: an intermediate message catch event or a receive task. A token that
//! reaches one opens a subscription for (message name, correlation key), the key evaluated
//! over the instance at that moment; a published message with that name and key moves it on.

use crate::expr::Expr;
use crate::ids::DataTypeId;

/// A `<flyt:subscription>` as resolved for one catching element (its own, else its message's).
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// The Altinn expression whose value (as a string) is the correlation key.
    pub correlation_key: Expr,
    /// The expression as written, for messages.
    pub key_text: String,
    /// The app data type the message's `data` object is merged into (top-level keys overwrite).
    pub data_type: Option<DataTypeId>,
}

/// A message boundary event on a task: armed while the task is active. Interrupting (the
/// default): the message ends the task and the token leaves by the boundary's flow.
/// Non-interrupting: a new token leaves by the boundary's flow, the task goes on, and the
/// subscription stays open for the next message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageBoundaryEvent {
    pub attached_to: super::NodeIdx,
    pub catch: MessageCatch,
    pub cancel_activity: bool,
}

/// An intermediate message catch event or a receive task: the token waits for a message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageCatch {
    /// The `name` of the `<bpmn:message>` its `messageRef` names.
    pub message: String,
    pub subscription: Subscription,
    /// A `<receiveTask>` (rather than an intermediate catch event).
    pub receive_task: bool,
}
