//! Raw structs: what the file says, before validation. Only this module's reader fills them and
//! only the validator reads them; the runtime never sees them.

use super::diagnostic::Pos;
use super::elements::timer::Timer;
use super::elements::{CallActivity, ExclusiveGateway, InclusiveGateway, ServiceTask, UserTask};

/// A reference to another element by id, where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ref {
    pub id: String,
    pub pos: Pos,
}

/// What starts at a start event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StartTrigger {
    None,
    Timer(Timer),
    /// An `errorEventDefinition`: the `<error>` its `errorRef` names (none: every error).
    Error(Option<Ref>),
    /// An `escalationEventDefinition`: the `<escalation>` its `escalationRef` names (none: every
    /// escalation).
    Escalation(Option<Ref>),
    /// A `messageEventDefinition`: the `<bpmn:message>` its `messageRef` names, and the start
    /// event's own `<flyt:subscription>`. At the process level publishing that message starts
    /// an instance; in an event sub-process it starts the event sub-process in the instance
    /// whose correlation key it names.
    Message(Option<Ref>, Option<RawSubscription>),
    /// A `signalEventDefinition`: the `<bpmn:signal>` its `signalRef` names (process level
    /// only: a broadcast of that signal starts an instance).
    Signal(Option<Ref>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawKind {
    /// A start event: none (API instantiation), with a timer (instances on a schedule; in an
    /// event sub-process, its trigger) or with an error or escalation (only in an event
    /// sub-process).
    StartEvent(StartTrigger),
    EndEvent,
    /// An end event with a `terminateEventDefinition`.
    TerminateEnd,
    /// An end event with an `errorEventDefinition`: throws the error its `errorRef` names.
    ErrorEnd {
        error_ref: Option<Ref>,
    },
    /// An intermediate throw event without a definition: a token passes through.
    ThrowNone,
    /// An intermediate throw event with a `linkEventDefinition`: the token jumps to the link
    /// catch event of the same name in the same scope.
    LinkThrow {
        name: String,
    },
    /// An intermediate catch event with a `linkEventDefinition`: where link throws land.
    LinkCatch {
        name: String,
    },
    UserTask(UserTask),
    ServiceTask(ServiceTask),
    ExclusiveGateway(ExclusiveGateway),
    InclusiveGateway(InclusiveGateway),
    ParallelGateway,
    /// An intermediate catch event with a timer.
    TimerCatch(Timer),
    /// A timer boundary event: the task it is attached to, and whether it interrupts it.
    Boundary {
        attached_to: Ref,
        cancel_activity: bool,
        timer: Timer,
    },
    /// An error boundary event: catches the BPMN error its `errorRef` names (by code), or any
    /// error without one. Always interrupting.
    ErrorBoundary {
        attached_to: Ref,
        error_ref: Option<Ref>,
    },
    /// An embedded `<subProcess>`: its inside is the nodes and flows whose `scope` is it.
    SubProcess,
    /// A `<callActivity>`: the process it calls, and its data mappings.
    CallActivity(CallActivity),
    /// An event sub-process (`triggeredByEvent="true"`): started by its one start event's
    /// trigger while its enclosing scope runs; `interrupting` is its start event's
    /// `isInterrupting` (default true).
    EventSubProcess {
        interrupting: bool,
    },
    /// An end or intermediate throw event with an `escalationEventDefinition`.
    EscalationThrow {
        escalation_ref: Option<Ref>,
        end: bool,
    },
    /// An escalation boundary event: catches the escalation its `escalationRef` names (by
    /// code), or any without one.
    EscalationBoundary {
        attached_to: Ref,
        escalation_ref: Option<Ref>,
        cancel_activity: bool,
    },
    /// An intermediate message catch event or a receive task: the `<bpmn:message>` its
    /// `messageRef` names, and its own `<flyt:subscription>` (which overrides the message's).
    MessageCatch {
        message_ref: Option<Ref>,
        subscription: Option<RawSubscription>,
        receive_task: bool,
    },
    /// An event-based gateway: the first of the catch events after it to fire wins.
    EventGateway,
    /// A message boundary event on a task: interrupting (the default) or not.
    MessageBoundary {
        attached_to: Ref,
        message_ref: Option<Ref>,
        subscription: Option<RawSubscription>,
        cancel_activity: bool,
    },
    /// An intermediate catch event with a `signalEventDefinition`.
    SignalCatch {
        signal_ref: Option<Ref>,
    },
    /// A signal boundary event on a task or sub-process: interrupting (the default) or not.
    SignalBoundary {
        attached_to: Ref,
        signal_ref: Option<Ref>,
        cancel_activity: bool,
    },
    /// An intermediate throw or end event with a `signalEventDefinition`: broadcasts the
    /// signal its `signalRef` names.
    SignalThrow {
        signal_ref: Option<Ref>,
        end: bool,
    },
    /// An element flyt cannot execute. It stays in the graph so that references to it resolve,
    /// and it already has its `unsupported-element` diagnostic.
    Unsupported,
}

impl RawKind {
    /// For boundary events: the task they are attached to.
    pub fn attached_to(&self) -> Option<&Ref> {
        match self {
            RawKind::Boundary { attached_to, .. }
            | RawKind::ErrorBoundary { attached_to, .. }
            | RawKind::EscalationBoundary { attached_to, .. }
            | RawKind::MessageBoundary { attached_to, .. }
            | RawKind::SignalBoundary { attached_to, .. } => Some(attached_to),
            _ => None,
        }
    }
}

/// A `<flyt:subscription correlationKey="..." dataType="..."/>`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSubscription {
    pub correlation_key: Option<String>,
    pub data_type: Option<String>,
    pub pos: Pos,
}

/// A root `<bpmn:message id name>` with its `<flyt:subscription>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawMessage {
    pub name: Option<String>,
    pub subscription: Option<RawSubscription>,
    pub pos: Pos,
}

/// A root `<bpmn:signal id name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSignal {
    pub name: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawNode {
    pub id: String,
    pub name: Option<String>,
    /// The element name as written, for messages (`bpmn:task`).
    pub qname: String,
    pub pos: Pos,
    pub kind: RawKind,
    pub incoming: Vec<Ref>,
    pub outgoing: Vec<Ref>,
    /// The `default` attribute (gateways).
    pub default: Option<Ref>,
    /// The sub-process it is written in (an index into the process's nodes); `None` at the
    /// process level.
    pub scope: Option<usize>,
    /// Its multi-instance characteristics (already read and parsed).
    pub multi: Option<super::elements::MultiInstance>,
    /// A signal catching element's `<flyt:subscription>` (the data type a broadcast's data is
    /// merged into).
    pub signal_subscription: Option<RawSubscription>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawCondition {
    pub text: String,
    pub language: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawFlow {
    pub id: String,
    pub name: Option<String>,
    pub pos: Pos,
    pub source: Option<Ref>,
    pub target: Option<Ref>,
    pub condition: Option<RawCondition>,
    /// The sub-process it is written in, as for nodes.
    pub scope: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RawProcess {
    pub id: String,
    pub name: Option<String>,
    pub pos: Pos,
    pub nodes: Vec<RawNode>,
    pub flows: Vec<RawFlow>,
    /// `<error id errorCode>` of the definitions: id → (code, line).
    pub errors: std::collections::HashMap<String, String>,
    /// `<escalation id escalationCode>` of the definitions: id → code.
    pub escalations: std::collections::HashMap<String, String>,
    /// `<message id name>` of the definitions: id → message.
    pub messages: std::collections::HashMap<String, RawMessage>,
    /// `<signal id name>` of the definitions: id → signal.
    pub signals: std::collections::HashMap<String, RawSignal>,
    /// Whether an unsupported element was found: graph checks that depend on the semantics of
    /// those elements (reachability, dead ends, joins) are then skipped.
    pub has_unsupported: bool,
    /// A call activity of the same file calls it: a BPMN error nothing in it catches ends it
    /// and goes to the caller, so an uncaught error end event is no mistake.
    pub called: bool,
    /// The `expressionLanguage` of the `<definitions>`: the language of conditions that name
    /// none, used to name it when a condition is not an Altinn expression.
    pub expression_language: Option<String>,
}
