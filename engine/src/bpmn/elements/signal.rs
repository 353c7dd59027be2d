//! Signal events. A signal is a broadcast within an app, addressed by the `name` of its
//! `<bpmn:signal>`: it reaches every subscription of that name open in the app when it is
//! thrown (catch events and boundary events), and starts one instance at each signal start
//! event. It has no correlation key.

use super::NodeIdx;

/// An intermediate signal catch event: the token waits for the signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalCatch {
    /// The `name` of the `<bpmn:signal>` its `signalRef` names.
    pub signal: String,
    /// The data type a broadcast's `data` (an object) is merged into (`<flyt:subscription
    /// dataType>`); `None`: the data is not written.
    pub data_type: Option<crate::ids::DataTypeId>,
}

/// A signal boundary event on a task or a sub-process: subscribed while it is active.
/// Interrupting (the default): the signal ends it and the token leaves by the boundary's flow.
/// Non-interrupting: a new token leaves by the boundary's flow and it goes on (subscribed still).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalBoundaryEvent {
    pub attached_to: NodeIdx,
    pub signal: String,
    pub cancel_activity: bool,
    /// As [`SignalCatch::data_type`].
    pub data_type: Option<crate::ids::DataTypeId>,
}

/// An intermediate signal throw event (the token goes on) or a signal end event (the token
/// ends): broadcasts the signal in the instance's app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalThrow {
    pub signal: String,
    pub end: bool,
}
