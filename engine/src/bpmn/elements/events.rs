//! Events: none start and end events, timer catch events and timer boundary events.

use super::NodeIdx;
use super::timer::Timer;

/// A start event: where a new instance's token starts. A none start event (no `timer`) starts
/// instances created through the API; a timer start event starts instances on its schedule
/// (`runtime::schedules`), owned by the app's service owner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartEvent {
    pub timer: Option<Timer>,
    /// A message start event: publishing its message starts an instance.
    pub message: Option<MessageStart>,
    /// A signal start event: the name of the signal whose broadcast starts an instance.
    pub signal: Option<String>,
    /// A signal start event's data type for the broadcast's `data` (`<flyt:subscription
    /// dataType>`): the new instance's (or event sub-process's) data of that type.
    pub signal_data_type: Option<crate::ids::DataTypeId>,
}

/// What a message start event starts on: the message's name, and the data type its `data` is
/// merged into (the `dataType` of the message's `<flyt:subscription>`, if any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageStart {
    pub name: String,
    pub data_type: Option<crate::ids::DataTypeId>,
}

impl StartEvent {
    /// Whether the API may start instances here (a none start event).
    pub fn is_none(&self) -> bool {
        self.timer.is_none() && self.message.is_none() && self.signal.is_none()
    }
}

/// An end event: a token that arrives is consumed; when none is left the process ends. A
/// terminate end event (`terminateEventDefinition`) ends every token of the process at once:
/// their tasks end, their jobs are cancelled and their timers disarmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndEvent {
    pub terminate: bool,
    /// An error end event: the error it throws, caught by the nearest enclosing sub-process's
    /// error boundary event (validation refuses one nothing can catch).
    pub throws: Option<ThrownError>,
}

/// The BPMN error an error end event throws: its code (`None`: its `errorRef` is absent, so only
/// a catch-all boundary catches it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThrownError {
    pub code: Option<String>,
}

/// An error boundary event on a task: when the task's handler or worker raises a BPMN error
/// with this code (any code, when `code` is `None`), the task ends and the token leaves by the
/// boundary's flow. Always interrupting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBoundaryEvent {
    pub attached_to: NodeIdx,
    pub code: Option<String>,
}

/// An intermediate throw event without a definition: a milestone a token passes through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThrowEvent {}

/// An intermediate catch event with a timer: the token waits until the timer fires.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerCatchEvent {
    pub timer: Timer,
}

/// A boundary event with a timer, attached to a task. Armed when the task starts, disarmed when
/// it ends. Interrupting (`cancelActivity`, the default): firing ends the task (its job is
/// cancelled) and the token leaves by the boundary's flow. Non-interrupting: firing sends a new
/// token along the boundary's flow and the task goes on; a cycle fires again while it does.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundaryEvent {
    pub attached_to: NodeIdx,
    pub cancel_activity: bool,
    pub timer: Timer,
}

/// An escalation end or intermediate throw event: the nearest enclosing sub-process with an
/// escalation boundary event for its code (`None`: no `escalationRef`, caught only by a
/// catch-all) catches it. Uncaught, nothing happens: the token ends (end event) or goes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscalationThrow {
    pub code: Option<String>,
    pub end: bool,
}

/// An escalation boundary event on a sub-process: interrupting (the default) it ends the
/// sub-process; non-interrupting a token leaves by its flow and the sub-process goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationBoundaryEvent {
    pub attached_to: NodeIdx,
    /// The code it catches; `None`: every escalation.
    pub code: Option<String>,
    pub cancel_activity: bool,
}
