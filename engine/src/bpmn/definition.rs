//! The validated, executable process definition. Only [`compile`](super::compile) makes one, so
//! holding a `ProcessDefinition` means every validation rule passed.

use super::diagnostic::Pos;
use super::elements::{
    BoundaryEvent, Condition, EndEvent, ErrorBoundaryEvent, EscalationBoundaryEvent,
    EscalationThrow, EventSubProcess, ExclusiveGateway, Flow, FlowIdx, InclusiveGateway, LinkCatch,
    LinkThrow, Node, NodeIdx, NodeKind, ParallelGateway, ServiceTask, SignalBoundaryEvent,
    SignalCatch, SignalThrow, StartEvent, SubProcess, ThrowEvent, ThrownError, TimerCatchEvent,
    UserTask,
};
use super::raw::{RawKind, RawProcess, StartTrigger};
use super::validate::Index;
use crate::ids::ElementId;
use std::collections::HashMap;

/// An executable process: nodes and flows with every reference resolved to an index.
#[derive(Debug, Clone)]
pub struct ProcessDefinition {
    process_id: ElementId,
    name: Option<String>,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    node_by_id: HashMap<String, NodeIdx>,
    flow_by_id: HashMap<String, FlowIdx>,
    start_events: Vec<NodeIdx>,
    /// For each converging inclusive gateway: the nodes from which a token can still reach it
    /// (see [`super::reach::upstream_of`]), computed once at build.
    inclusive_upstream: HashMap<NodeIdx, Vec<bool>>,
    /// Whether any element catches a signal (a catch event or a boundary event): without one,
    /// an instance never holds a signal subscription, and transitions skip deriving them.
    catches_signals: bool,
    hash: String,
}

fn idx(i: usize) -> u32 {
    // Files are bounded by `Limits::max_elements`, far below u32::MAX.
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl ProcessDefinition {
    pub(crate) fn build(
        process: RawProcess,
        index: &Index,
        mut conditions: Vec<Option<Condition>>,
        hash: String,
    ) -> Self {
        // Only flows a token can take become `Flow`s (a flow whose sourceRef names nothing and
        // that no gateway lists is left out), so raw flow indices are renumbered.
        let mut renumbered: Vec<Option<FlowIdx>> = vec![None; process.flows.len()];
        let mut flows: Vec<Flow> = Vec::with_capacity(process.flows.len());
        for (f, raw) in process.flows.iter().enumerate() {
            let (Some(s), Some(t)) = (index.source[f], index.target[f]) else {
                continue;
            };
            renumbered[f] = Some(FlowIdx(idx(flows.len())));
            flows.push(Flow {
                id: ElementId::new(raw.id.clone()),
                name: raw.name.clone(),
                source: NodeIdx(idx(s)),
                target: NodeIdx(idx(t)),
                condition: conditions.get_mut(f).and_then(Option::take),
                pos: raw.pos,
            });
        }
        let renumber = |list: &[usize]| -> Vec<FlowIdx> {
            list.iter().filter_map(|&f| renumbered[f]).collect()
        };
        let attached = |r: &super::raw::Ref| index.node_by_id.get(&r.id).map(|&n| NodeIdx(idx(n)));
        let mut boundaries: Vec<Vec<NodeIdx>> = vec![Vec::new(); process.nodes.len()];
        for (i, raw) in process.nodes.iter().enumerate() {
            if let Some(attached_to) = raw.kind.attached_to()
                && let Some(task) = attached(attached_to)
            {
                boundaries[task.index()].push(NodeIdx(idx(i)));
            }
        }
        let errors = process.errors.clone();
        let escalations = process.escalations.clone();
        // Each sub-process's start event (validation guarantees exactly one).
        let mut inner_start: Vec<Option<NodeIdx>> = vec![None; process.nodes.len()];
        for (i, raw) in process.nodes.iter().enumerate() {
            if matches!(raw.kind, RawKind::StartEvent(_))
                && let Some(s) = raw.scope
            {
                inner_start[s].get_or_insert(NodeIdx(idx(i)));
            }
        }
        // Each event sub-process's error trigger: the code its start event catches (`None`:
        // every code).
        let mut esp_error: Vec<Option<Option<String>>> = vec![None; process.nodes.len()];
        let mut esp_escalation: Vec<Option<Option<String>>> = vec![None; process.nodes.len()];
        for raw in &process.nodes {
            match (&raw.kind, raw.scope) {
                (RawKind::StartEvent(StartTrigger::Error(r)), Some(s)) => {
                    esp_error[s] =
                        Some(r.as_ref().and_then(|r| process.errors.get(&r.id).cloned()));
                }
                (RawKind::StartEvent(StartTrigger::Escalation(r)), Some(s)) => {
                    esp_escalation[s] = Some(
                        r.as_ref()
                            .and_then(|r| process.escalations.get(&r.id).cloned()),
                    );
                }
                _ => {}
            }
        }
        let link_targets = super::validate::link_targets(&process);
        let messages = process.messages.clone();
        // Each event sub-process's message trigger: its start event's catch.
        let mut esp_message: Vec<Option<super::elements::MessageCatch>> =
            vec![None; process.nodes.len()];
        for raw in &process.nodes {
            if let (RawKind::StartEvent(StartTrigger::Message(r, own)), Some(s)) =
                (&raw.kind, raw.scope)
            {
                let catch = super::validate::MessageCatchRef {
                    messages: &messages,
                    id: &raw.id,
                    pos: raw.pos,
                    message_ref: r.as_ref(),
                    subscription: own.as_ref(),
                    kind: super::validate::CatchKind::EventSubStart,
                };
                // validate() refuses a trigger that does not resolve.
                esp_message[s] = catch.resolve(None).ok();
            }
        }
        let signals = process.signals.clone();
        let signal_name = |r: Option<&super::raw::Ref>| {
            r.and_then(|r| signals.get(&r.id))
                .and_then(|s| s.name.clone())
        };
        let mut nodes: Vec<Node> = process
            .nodes
            .into_iter()
            .enumerate()
            .map(|(i, raw)| {
                let signal_data_type = raw
                    .signal_subscription
                    .as_ref()
                    .and_then(|s| s.data_type.clone())
                    .map(crate::ids::DataTypeId::new);
                let kind = match raw.kind {
                    RawKind::StartEvent(trigger) => NodeKind::StartEvent(match trigger {
                        StartTrigger::Timer(timer) => StartEvent {
                            timer: Some(timer),
                            ..StartEvent::default()
                        },
                        StartTrigger::Signal(r) => StartEvent {
                            signal: signal_name(r.as_ref()),
                            signal_data_type,
                            ..StartEvent::default()
                        },
                        // An event sub-process's message start is its trigger (above).
                        StartTrigger::Message(..) if raw.scope.is_some() => StartEvent::default(),
                        StartTrigger::Message(r, own) => StartEvent {
                            timer: None,
                            signal: None,
                            signal_data_type: None,
                            message: r.and_then(|r| messages.get(&r.id)).and_then(|m| {
                                Some(super::elements::MessageStart {
                                    name: m.name.clone()?,
                                    data_type: own
                                        .and_then(|s| s.data_type)
                                        .or_else(|| {
                                            m.subscription
                                                .as_ref()
                                                .and_then(|s| s.data_type.clone())
                                        })
                                        .map(crate::ids::DataTypeId::new),
                                })
                            }),
                        },
                        StartTrigger::None
                        | StartTrigger::Error(_)
                        | StartTrigger::Escalation(_) => StartEvent::default(),
                    }),
                    RawKind::EndEvent => NodeKind::EndEvent(EndEvent::default()),
                    RawKind::TerminateEnd => NodeKind::EndEvent(EndEvent {
                        terminate: true,
                        throws: None,
                    }),
                    RawKind::ErrorEnd { error_ref } => NodeKind::EndEvent(EndEvent {
                        terminate: false,
                        throws: Some(ThrownError {
                            code: error_ref.and_then(|r| errors.get(&r.id).cloned()),
                        }),
                    }),
                    RawKind::ThrowNone => NodeKind::Throw(ThrowEvent {}),
                    RawKind::LinkThrow { name } => match link_targets[i] {
                        Some(target) => NodeKind::LinkThrow(LinkThrow {
                            name,
                            target: NodeIdx(idx(target)),
                        }),
                        // validate() refuses a link throw without exactly one catch.
                        None => NodeKind::EndEvent(EndEvent::default()),
                    },
                    RawKind::LinkCatch { name } => NodeKind::LinkCatch(LinkCatch { name }),
                    RawKind::EscalationThrow {
                        escalation_ref,
                        end,
                    } => NodeKind::EscalationThrow(EscalationThrow {
                        code: escalation_ref.and_then(|r| escalations.get(&r.id).cloned()),
                        end,
                    }),
                    RawKind::EscalationBoundary {
                        attached_to,
                        escalation_ref,
                        cancel_activity,
                    } => match attached(&attached_to) {
                        Some(attached_to) => {
                            NodeKind::EscalationBoundary(EscalationBoundaryEvent {
                                attached_to,
                                code: escalation_ref.and_then(|r| escalations.get(&r.id).cloned()),
                                cancel_activity,
                            })
                        }
                        None => NodeKind::EndEvent(EndEvent::default()),
                    },
                    RawKind::UserTask(t) => NodeKind::UserTask(t),
                    RawKind::ServiceTask(t) => NodeKind::ServiceTask(t),
                    RawKind::ExclusiveGateway(mut g) => {
                        g.default = raw.default.as_ref().and_then(|d| {
                            index.outgoing[i]
                                .iter()
                                .find(|&&f| process.flows[f].id == d.id)
                                .and_then(|&f| renumbered[f])
                        });
                        NodeKind::ExclusiveGateway(g)
                    }
                    RawKind::InclusiveGateway(mut g) => {
                        g.default = raw.default.as_ref().and_then(|d| {
                            index.outgoing[i]
                                .iter()
                                .find(|&&f| process.flows[f].id == d.id)
                                .and_then(|&f| renumbered[f])
                        });
                        NodeKind::InclusiveGateway(g)
                    }
                    RawKind::ParallelGateway => NodeKind::ParallelGateway(ParallelGateway {}),
                    RawKind::TimerCatch(timer) => NodeKind::TimerCatch(TimerCatchEvent { timer }),
                    RawKind::Boundary {
                        attached_to,
                        cancel_activity,
                        timer,
                    } => match attached(&attached_to) {
                        Some(attached_to) => NodeKind::Boundary(BoundaryEvent {
                            attached_to,
                            cancel_activity,
                            timer,
                        }),
                        // validate() refuses a boundary attached to nothing.
                        None => NodeKind::EndEvent(EndEvent::default()),
                    },
                    RawKind::ErrorBoundary {
                        attached_to,
                        error_ref,
                    } => match attached(&attached_to) {
                        Some(attached_to) => NodeKind::ErrorBoundary(ErrorBoundaryEvent {
                            attached_to,
                            code: error_ref.and_then(|r| errors.get(&r.id).cloned()),
                        }),
                        None => NodeKind::EndEvent(EndEvent::default()),
                    },
                    RawKind::CallActivity(call) => NodeKind::CallActivity(call),
                    RawKind::SubProcess => match inner_start[i] {
                        Some(start) => NodeKind::SubProcess(SubProcess { start }),
                        None => NodeKind::EndEvent(EndEvent::default()),
                    },
                    RawKind::EventSubProcess { interrupting } => match inner_start[i] {
                        Some(start) => NodeKind::EventSubProcess(EventSubProcess {
                            start,
                            interrupting,
                            error: esp_error[i].clone(),
                            escalation: esp_escalation[i].clone(),
                            message: esp_message[i].take(),
                            signal: None,
                        }),
                        None => NodeKind::EndEvent(EndEvent::default()),
                    },
                    RawKind::MessageCatch {
                        message_ref,
                        subscription,
                        receive_task,
                    } => {
                        let catch = super::validate::MessageCatchRef {
                            messages: &messages,
                            id: &raw.id,
                            pos: raw.pos,
                            message_ref: message_ref.as_ref(),
                            subscription: subscription.as_ref(),
                            kind: if receive_task {
                                super::validate::CatchKind::ReceiveTask
                            } else {
                                super::validate::CatchKind::Event
                            },
                        };
                        match catch.resolve(None) {
                            Ok(m) => NodeKind::MessageCatch(m),
                            // validate() refuses a catch that does not resolve.
                            Err(_) => NodeKind::EndEvent(EndEvent::default()),
                        }
                    }
                    RawKind::EventGateway => NodeKind::EventGateway,
                    RawKind::MessageBoundary {
                        attached_to,
                        message_ref,
                        subscription,
                        cancel_activity,
                    } => {
                        let catch = super::validate::MessageCatchRef {
                            messages: &messages,
                            id: &raw.id,
                            pos: raw.pos,
                            message_ref: message_ref.as_ref(),
                            subscription: subscription.as_ref(),
                            kind: super::validate::CatchKind::Boundary,
                        };
                        match (attached(&attached_to), catch.resolve(None)) {
                            (Some(attached_to), Ok(catch)) => {
                                NodeKind::MessageBoundary(super::elements::MessageBoundaryEvent {
                                    attached_to,
                                    catch,
                                    cancel_activity,
                                })
                            }
                            // validate() refuses both.
                            _ => NodeKind::EndEvent(EndEvent::default()),
                        }
                    }
                    // validate() refuses a signal event whose signalRef names no named signal.
                    RawKind::SignalCatch { signal_ref } => match signal_name(signal_ref.as_ref()) {
                        Some(signal) => NodeKind::SignalCatch(SignalCatch {
                            signal,
                            data_type: signal_data_type,
                        }),
                        None => NodeKind::EndEvent(EndEvent::default()),
                    },
                    RawKind::SignalThrow { signal_ref, end } => {
                        match signal_name(signal_ref.as_ref()) {
                            Some(signal) => NodeKind::SignalThrow(SignalThrow { signal, end }),
                            None => NodeKind::EndEvent(EndEvent::default()),
                        }
                    }
                    RawKind::SignalBoundary {
                        attached_to,
                        signal_ref,
                        cancel_activity,
                    } => match (attached(&attached_to), signal_name(signal_ref.as_ref())) {
                        (Some(attached_to), Some(signal)) => {
                            NodeKind::SignalBoundary(SignalBoundaryEvent {
                                attached_to,
                                signal,
                                cancel_activity,
                                data_type: signal_data_type,
                            })
                        }
                        _ => NodeKind::EndEvent(EndEvent::default()),
                    },
                    // validate() refuses processes with unsupported elements.
                    RawKind::Unsupported => NodeKind::EndEvent(EndEvent::default()),
                };
                Node {
                    id: ElementId::new(raw.id),
                    name: raw.name,
                    kind,
                    pos: raw.pos,
                    incoming: renumber(&index.incoming[i]),
                    outgoing: renumber(&index.outgoing[i]),
                    boundaries: Vec::new(),
                    scope: raw.scope.map(|s| NodeIdx(idx(s))),
                    multi: raw.multi.map(Box::new),
                }
            })
            .collect();
        for (node, b) in nodes.iter_mut().zip(boundaries) {
            node.boundaries = b;
        }
        let node_by_id = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str().to_string(), NodeIdx(idx(i))))
            .collect();
        let flow_by_id = flows
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id.as_str().to_string(), FlowIdx(idx(i))))
            .collect();
        let start_events = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, NodeKind::StartEvent(_)) && n.scope.is_none())
            .map(|(i, _)| NodeIdx(idx(i)))
            .collect();
        // Each event sub-process's signal trigger: the signal its start event catches.
        let esp_signals: Vec<(usize, String)> = nodes
            .iter()
            .filter_map(|n| match (&n.kind, n.scope) {
                (NodeKind::StartEvent(s), Some(esp)) => Some((esp.index(), s.signal.clone()?)),
                _ => None,
            })
            .collect();
        for (esp, signal) in esp_signals {
            if let Some(NodeKind::EventSubProcess(e)) = nodes.get_mut(esp).map(|n| &mut n.kind) {
                e.signal = Some(signal);
            }
        }
        let catches_signals = nodes.iter().any(|n| match &n.kind {
            NodeKind::SignalCatch(_) | NodeKind::SignalBoundary(_) => true,
            NodeKind::EventSubProcess(e) => e.signal.is_some(),
            _ => false,
        });
        let mut def = ProcessDefinition {
            process_id: ElementId::new(process.id),
            name: process.name,
            nodes,
            flows,
            node_by_id,
            flow_by_id,
            start_events,
            inclusive_upstream: HashMap::new(),
            catches_signals,
            hash,
        };
        let joins: Vec<NodeIdx> = def
            .nodes()
            .filter(|(_, n)| {
                matches!(n.kind, NodeKind::InclusiveGateway(_)) && n.incoming.len() > 1
            })
            .map(|(i, _)| i)
            .collect();
        for join in joins {
            let upstream = super::reach::upstream_of(&def, join);
            def.inclusive_upstream.insert(join, upstream);
        }
        def
    }

    /// Whether a token waiting at `from` can still reach the converging inclusive gateway
    /// `join` without passing through it. False for any other node as `join`.
    pub fn can_reach_join(&self, from: NodeIdx, join: NodeIdx) -> bool {
        self.inclusive_upstream
            .get(&join)
            .is_some_and(|up| up.get(from.index()).copied().unwrap_or(false))
    }

    /// Whether any element of the process catches a signal (a catch or boundary event).
    pub fn catches_signals(&self) -> bool {
        self.catches_signals
    }

    /// The `id` of the `<process>` element.
    pub fn process_id(&self) -> &ElementId {
        &self.process_id
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// SHA-256 of the file's bytes, hex encoded.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn node(&self, idx: NodeIdx) -> &Node {
        &self.nodes[idx.index()]
    }

    pub fn flow(&self, idx: FlowIdx) -> &Flow {
        &self.flows[idx.index()]
    }

    pub fn nodes(&self) -> impl Iterator<Item = (NodeIdx, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (NodeIdx(idx(i)), n))
    }

    pub fn flows(&self) -> impl Iterator<Item = (FlowIdx, &Flow)> {
        self.flows
            .iter()
            .enumerate()
            .map(|(i, f)| (FlowIdx(idx(i)), f))
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    pub fn node_by_id(&self, id: &str) -> Option<NodeIdx> {
        self.node_by_id.get(id).copied()
    }

    pub fn flow_by_id(&self, id: &str) -> Option<FlowIdx> {
        self.flow_by_id.get(id).copied()
    }

    /// The process-level start events in file order; the first is where instances start by
    /// default.
    pub fn start_events(&self) -> &[NodeIdx] {
        &self.start_events
    }

    /// The event sub-processes directly in `scope` (a sub-process; `None`: the process level).
    pub fn event_sub_processes(&self, scope: Option<NodeIdx>) -> Vec<NodeIdx> {
        self.nodes()
            .filter(|(_, n)| matches!(n.kind, NodeKind::EventSubProcess(_)) && n.scope == scope)
            .map(|(i, _)| i)
            .collect()
    }

    pub fn user_task(&self, idx: NodeIdx) -> Option<&UserTask> {
        match &self.node(idx).kind {
            NodeKind::UserTask(t) => Some(t),
            _ => None,
        }
    }

    pub fn service_task(&self, idx: NodeIdx) -> Option<&ServiceTask> {
        match &self.node(idx).kind {
            NodeKind::ServiceTask(t) => Some(t),
            _ => None,
        }
    }

    /// The data types that hold signatures (`signatureDataType` of every signing task).
    pub fn signature_data_types(&self) -> impl Iterator<Item = &str> {
        self.nodes().filter_map(|(_, n)| match &n.kind {
            NodeKind::UserTask(t) => t.signature.as_ref().map(|s| s.signature_data_type.as_str()),
            _ => None,
        })
    }

    pub fn exclusive_gateway(&self, idx: NodeIdx) -> Option<&ExclusiveGateway> {
        match &self.node(idx).kind {
            NodeKind::ExclusiveGateway(g) => Some(g),
            _ => None,
        }
    }

    pub fn inclusive_gateway(&self, idx: NodeIdx) -> Option<&InclusiveGateway> {
        match &self.node(idx).kind {
            NodeKind::InclusiveGateway(g) => Some(g),
            _ => None,
        }
    }

    /// Every service task type the definition uses (sorted, deduplicated).
    pub fn service_task_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::ServiceTask(t) => t.task_type.as_deref(),
                _ => None,
            })
            .collect();
        types.sort_unstable();
        types.dedup();
        types
    }

    /// Where an element is defined, for runtime messages.
    pub fn pos_of(&self, id: &str) -> Option<Pos> {
        self.node_by_id(id)
            .map(|n| self.node(n).pos)
            .or_else(|| self.flow_by_id(id).map(|f| self.flow(f).pos))
    }
}
