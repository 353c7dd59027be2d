//! Embedded sub-processes: a scope inside the process.

use super::NodeIdx;

/// An embedded `<subProcess>`. A token that arrives enters a new scope instance at `start`; the
/// sub-process completes, and its token leaves by its outgoing flows, when the last token inside
/// (nested scopes included) has ended. A terminate end event inside ends only this scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubProcess {
    /// Its one none start event (validation guarantees exactly one).
    pub start: NodeIdx,
}

/// An event sub-process (`triggeredByEvent="true"`) in a scope (the process, or an embedded
/// sub-process). A timer start event is armed, and a message start event's subscription opened
/// (its correlation key evaluated), when a scope instance of its enclosing scope starts, and
/// both end with it; an error (escalation) start event catches a BPMN error (an escalation)
/// thrown in that scope instance that no nearer catcher takes. When triggered, a scope instance
/// of the event sub-process starts at `start`. Interrupting, everything else in the enclosing
/// scope instance ends first (and its event sub-processes can no longer start);
/// non-interrupting, a message start stays open for the next message.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSubProcess {
    /// Its one start event (validation guarantees exactly one).
    pub start: NodeIdx,
    pub interrupting: bool,
    /// An error start event: the code it catches (`None`: every code).
    pub error: Option<Option<String>>,
    /// An escalation start event: the code it catches (`None`: every code).
    pub escalation: Option<Option<String>>,
    /// A message start event: the message it waits for and its correlation key.
    pub message: Option<super::MessageCatch>,
    /// A signal start event: the name of the signal it catches.
    pub signal: Option<String>,
}
