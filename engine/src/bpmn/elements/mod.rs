//! The executable elements of a process, one kind per file behind the closed [`NodeKind`] enum:
//! a new kind is a new file plus the match arms the compiler asks for.

mod assignment;
pub mod call_activity;
mod events;
mod extension;
mod gateways;
mod links;
pub mod message;
pub mod message_throw;
pub mod multi_instance;
pub mod on_error;
mod service_task;
pub mod signal;
mod sub_process;
pub mod timer;
mod user_task;

pub use assignment::AssigneeRule;
pub use call_activity::{CallActivity, DataMapping};
pub use events::{
    BoundaryEvent, EndEvent, ErrorBoundaryEvent, EscalationBoundaryEvent, EscalationThrow,
    MessageStart, StartEvent, ThrowEvent, ThrownError, TimerCatchEvent,
};
pub use extension::Extension;
pub use gateways::{ExclusiveGateway, InclusiveGateway, ParallelGateway};
pub use links::{LinkCatch, LinkThrow};
pub use message::{MessageBoundaryEvent, MessageCatch, Subscription};
pub use message_throw::{MessageThrow, ThrowElement};
pub use multi_instance::{Items, MultiInstance};
pub use service_task::ServiceTask;
pub use signal::{SignalBoundaryEvent, SignalCatch, SignalThrow};
pub use sub_process::{EventSubProcess, SubProcess};
pub use user_task::{Action, ActionKind, SignatureConfig, UserTask, UserTaskType};

use super::diagnostic::Pos;
use crate::expr::Expr;
use crate::ids::ElementId;
use serde::Serialize;

/// Index of a node within its [`ProcessDefinition`](super::ProcessDefinition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct NodeIdx(pub(crate) u32);

impl NodeIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a sequence flow within its [`ProcessDefinition`](super::ProcessDefinition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FlowIdx(pub(crate) u32);

impl FlowIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a node is, with the data valid for that kind only.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    StartEvent(StartEvent),
    EndEvent(EndEvent),
    /// A task that waits for a person or organisation to complete it (`task`/`userTask` with a
    /// user task type, or a plain BPMN `task`/`userTask`).
    UserTask(UserTask),
    /// A task run by a handler (Altinn `serviceTask`s such as `pdf`, flyt's `createInstance`, ...).
    ServiceTask(ServiceTask),
    ExclusiveGateway(ExclusiveGateway),
    InclusiveGateway(InclusiveGateway),
    ParallelGateway(ParallelGateway),
    /// An intermediate catch event with a timer.
    TimerCatch(TimerCatchEvent),
    /// A timer boundary event on a task.
    Boundary(BoundaryEvent),
    /// An error boundary event on a task.
    ErrorBoundary(ErrorBoundaryEvent),
    /// An intermediate throw event without a definition (a token passes through).
    Throw(ThrowEvent),
    /// An embedded sub-process: a scope of its own.
    SubProcess(SubProcess),
    /// An event sub-process: started by its start event's timer, not by a flow.
    EventSubProcess(EventSubProcess),
    /// An escalation end or intermediate throw event.
    EscalationThrow(EscalationThrow),
    /// An escalation boundary event on a sub-process.
    EscalationBoundary(EscalationBoundaryEvent),
    /// A link throw event: a go-to to its link catch event.
    LinkThrow(LinkThrow),
    /// A link catch event: a token passes through.
    LinkCatch(LinkCatch),
    /// An intermediate message catch event or a receive task: waits for a message.
    MessageCatch(MessageCatch),
    /// A message boundary event on a task.
    MessageBoundary(MessageBoundaryEvent),
    /// An event-based gateway: its token waits for the first of the catch events after it.
    EventGateway,
    /// An intermediate signal catch event: waits for a broadcast of its signal.
    SignalCatch(SignalCatch),
    /// A signal boundary event on a task or sub-process.
    SignalBoundary(SignalBoundaryEvent),
    /// A signal intermediate throw or end event.
    SignalThrow(SignalThrow),
    /// A call activity: its token waits while a child instance of the process it calls runs.
    CallActivity(CallActivity),
}

impl NodeKind {
    /// The BPMN element name, for messages.
    pub fn element_name(&self) -> &'static str {
        match self {
            NodeKind::StartEvent(_) => "startEvent",
            NodeKind::EndEvent(_) => "endEvent",
            NodeKind::UserTask(_) => "userTask",
            NodeKind::ServiceTask(t) => t
                .throw
                .as_ref()
                .map_or("serviceTask", |m| m.element.element_name()),
            NodeKind::ExclusiveGateway(_) => "exclusiveGateway",
            NodeKind::InclusiveGateway(_) => "inclusiveGateway",
            NodeKind::ParallelGateway(_) => "parallelGateway",
            NodeKind::TimerCatch(_) => "intermediateCatchEvent",
            NodeKind::Boundary(_) => "boundaryEvent",
            NodeKind::Throw(_) => "intermediateThrowEvent",
            NodeKind::ErrorBoundary(_) => "boundaryEvent",
            NodeKind::SubProcess(_) | NodeKind::EventSubProcess(_) => "subProcess",
            NodeKind::EscalationThrow(e) if e.end => "endEvent",
            NodeKind::EscalationThrow(_) => "intermediateThrowEvent",
            NodeKind::EscalationBoundary(_) => "boundaryEvent",
            NodeKind::LinkThrow(_) => "intermediateThrowEvent",
            NodeKind::LinkCatch(_) => "intermediateCatchEvent",
            NodeKind::MessageCatch(m) if m.receive_task => "receiveTask",
            NodeKind::MessageCatch(_) => "intermediateCatchEvent",
            NodeKind::MessageBoundary(_) => "boundaryEvent",
            NodeKind::EventGateway => "eventBasedGateway",
            NodeKind::SignalCatch(_) => "intermediateCatchEvent",
            NodeKind::SignalBoundary(_) => "boundaryEvent",
            NodeKind::SignalThrow(s) if s.end => "endEvent",
            NodeKind::SignalThrow(_) => "intermediateThrowEvent",
            NodeKind::CallActivity(_) => "callActivity",
        }
    }

    /// Tasks are where tokens wait (user tasks) or where jobs run (service tasks).
    pub fn is_task(&self) -> bool {
        matches!(self, NodeKind::UserTask(_) | NodeKind::ServiceTask(_))
    }

    pub fn is_gateway(&self) -> bool {
        matches!(
            self,
            NodeKind::ExclusiveGateway(_)
                | NodeKind::InclusiveGateway(_)
                | NodeKind::ParallelGateway(_)
        )
    }
}

/// One flow node (event, task or gateway).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: ElementId,
    pub name: Option<String>,
    pub kind: NodeKind,
    pub pos: Pos,
    pub incoming: Vec<FlowIdx>,
    pub outgoing: Vec<FlowIdx>,
    /// For tasks: the boundary events attached to it, in file order.
    pub boundaries: Vec<NodeIdx>,
    /// The sub-process it is inside; `None` at the process level.
    pub scope: Option<NodeIdx>,
    /// Its multi-instance characteristics: it runs once per item of a collection.
    pub multi: Option<Box<MultiInstance>>,
}

impl Node {
    /// The Altinn task type (`data`, `signing`, `pdf`, ...) for tasks.
    pub fn altinn_task_type(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::UserTask(t) => t.task_type.altinn_name(),
            NodeKind::ServiceTask(t) => t.task_type.as_deref(),
            _ => None,
        }
    }
}

/// A parsed condition on a sequence flow, kept with its source text and position.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub expr: Expr,
    pub text: String,
    pub pos: Pos,
}

/// A sequence flow between two nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: ElementId,
    pub name: Option<String>,
    /// The element the flow leaves in flyt's reading: its `sourceRef`, or, when that names no
    /// element taking it, the gateway whose `<outgoing>` list names it (see `bpmn::validate::refs`).
    pub source: NodeIdx,
    pub target: NodeIdx,
    pub condition: Option<Condition>,
    pub pos: Pos,
}
