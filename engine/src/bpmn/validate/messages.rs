//! Message catches: each names a `<bpmn:message>` with a name, and has a correlation key (its
//! own `<flyt:subscription>`, else its message's) that parses as an Altinn expression; a
//! `dataType` must be one the app declares (known at deploy).

use super::DeployTarget;
use crate::bpmn::diagnostic::{Code, Diagnostic, Pos};
use crate::bpmn::elements::{MessageCatch, Subscription};
use crate::bpmn::raw::{RawKind, RawMessage, RawProcess, RawSubscription, Ref};
use crate::expr::Expr;
use crate::ids::DataTypeId;
use std::collections::HashMap;

/// Every message catch of the process: its diagnostics.
pub(super) fn check(
    process: &RawProcess,
    target: Option<&dyn DeployTarget>,
    diags: &mut Vec<Diagnostic>,
) {
    for node in &process.nodes {
        if let RawKind::MessageCatch {
            message_ref,
            subscription,
            receive_task,
        } = &node.kind
        {
            let catch = Catch {
                messages: &process.messages,
                id: &node.id,
                pos: node.pos,
                message_ref: message_ref.as_ref(),
                subscription: subscription.as_ref(),
                kind: if *receive_task {
                    CatchKind::ReceiveTask
                } else {
                    CatchKind::Event
                },
            };
            if let Err(mut found) = catch.resolve(target) {
                diags.append(&mut found);
            }
        }
        if let RawKind::StartEvent(crate::bpmn::raw::StartTrigger::Message(r, own)) = &node.kind {
            let in_event_sub = node
                .scope
                .is_some_and(|s| matches!(process.nodes[s].kind, RawKind::EventSubProcess { .. }));
            if in_event_sub {
                // It correlates to a running instance: a catch like any other.
                let catch = Catch {
                    messages: &process.messages,
                    id: &node.id,
                    pos: node.pos,
                    message_ref: r.as_ref(),
                    subscription: own.as_ref(),
                    kind: CatchKind::EventSubStart,
                };
                if let Err(mut found) = catch.resolve(target) {
                    diags.append(&mut found);
                }
            } else {
                check_message_start(process, node, r.as_ref(), diags);
            }
        }
        if let RawKind::MessageBoundary {
            message_ref,
            subscription,
            attached_to,
            ..
        } = &node.kind
        {
            let catch = Catch {
                messages: &process.messages,
                id: &node.id,
                pos: node.pos,
                message_ref: message_ref.as_ref(),
                subscription: subscription.as_ref(),
                kind: CatchKind::Boundary,
            };
            if let Err(mut found) = catch.resolve(target) {
                diags.append(&mut found);
            }
            // Tasks and sub-processes: a receive task already waits for a message of its own.
            let on = process.nodes.iter().find(|n| n.id == attached_to.id);
            if let Some(on) = on
                && matches!(on.kind, RawKind::MessageCatch { .. })
            {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidBoundary,
                        attached_to.pos,
                        format!(
                            "message boundary event `{}` is attached to <{}> `{}`; flyt runs message boundary events on user and service tasks and sub-processes",
                            node.id, on.qname, on.id
                        ),
                    )
                    .element(&node.id)
                    .hint("attach it to a user task, a service task or a sub-process"),
                );
            }
        }
    }
}

/// One message catch element as read, to resolve against the definitions' messages.
pub(crate) struct Catch<'a> {
    pub messages: &'a HashMap<String, RawMessage>,
    pub id: &'a str,
    pub pos: Pos,
    pub message_ref: Option<&'a Ref>,
    pub subscription: Option<&'a RawSubscription>,
    pub kind: CatchKind,
}

/// Which element waits for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CatchKind {
    /// An intermediate message catch event.
    Event,
    ReceiveTask,
    Boundary,
    /// The message start event of an event sub-process.
    EventSubStart,
}

impl Catch<'_> {
    fn what(&self) -> &'static str {
        match self.kind {
            CatchKind::Event => "message catch event",
            CatchKind::ReceiveTask => "receive task",
            CatchKind::Boundary => "message boundary event",
            CatchKind::EventSubStart => "event sub-process message start event",
        }
    }

    /// The executable element, or every diagnostic of it.
    pub(crate) fn resolve(
        &self,
        target: Option<&dyn DeployTarget>,
    ) -> Result<MessageCatch, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let what = self.what();
        let id = self.id;
        let message = match self.message_ref {
            None => {
                diags.push(
                    Diagnostic::error(
                        Code::UnknownMessage,
                        self.pos,
                        format!("{what} `{id}` has no messageRef: it does not say which message it waits for"),
                    )
                    .element(id)
                    .hint("declare <bpmn:message id=\"Message_x\" name=\"x\"/> beside the process and set messageRef=\"Message_x\""),
                );
                None
            }
            Some(r) => match self.messages.get(&r.id) {
                None => {
                    diags.push(
                        Diagnostic::error(
                            Code::UnknownMessage,
                            r.pos,
                            format!("{what} `{id}` waits for messageRef `{}`, which is no <bpmn:message> of these definitions", r.id),
                        )
                        .element(id)
                        .hint("declare <bpmn:message id=\"...\" name=\"...\"/> beside the process"),
                    );
                    None
                }
                Some(m) => {
                    if m.name.is_none() {
                        diags.push(
                            Diagnostic::error(
                                Code::MessageWithoutName,
                                m.pos,
                                format!("message `{}` has no name, and {what} `{id}` waits for it: publishers address a message by its name", r.id),
                            )
                            .element(&r.id)
                            .hint("add name=\"...\" to the <bpmn:message>"),
                        );
                    }
                    Some(m)
                }
            },
        };
        // The element's own subscription overrides its message's, attribute by attribute.
        let own = self.subscription;
        let inherited = message.and_then(|m| m.subscription.as_ref());
        let key = own
            .and_then(|s| s.correlation_key.as_ref().map(|k| (k, s.pos)))
            .or_else(|| inherited.and_then(|s| s.correlation_key.as_ref().map(|k| (k, s.pos))));
        let data_type = own
            .and_then(|s| s.data_type.as_ref().map(|d| (d, s.pos)))
            .or_else(|| inherited.and_then(|s| s.data_type.as_ref().map(|d| (d, s.pos))));
        let parsed = match key {
            None => {
                diags.push(
                    Diagnostic::error(
                        Code::MissingCorrelationKey,
                        self.pos,
                        format!("{what} `{id}` has no correlation key: neither it nor its message has a <flyt:subscription correlationKey=\"...\">"),
                    )
                    .element(id)
                    .hint("add <flyt:subscription correlationKey='[\"instanceContext\", \"instanceId\"]'/> (xmlns:flyt=\"urn:flyt:bpmn:1\") to the message's or the element's extensionElements"),
                );
                None
            }
            Some((text, pos)) => match Expr::parse(text) {
                Ok(expr) => Some((expr, text.clone())),
                Err(e) => {
                    diags.push(
                        Diagnostic::error(
                            Code::InvalidCorrelationKey,
                            pos,
                            format!("the correlation key `{text}` of {what} `{id}` is not an Altinn expression: {e}"),
                        )
                        .element(id)
                        .hint("write an Altinn expression such as [\"instanceContext\", \"instanceId\"] or [\"dataModel\", \"caseId\"]"),
                    );
                    None
                }
            },
        };
        if let (Some((data_type, pos)), Some(target)) = (data_type, target)
            && target.has_data_type(data_type) == Some(false)
        {
            diags.push(
                Diagnostic::error(
                    Code::UnknownDataType,
                    pos,
                    format!("{what} `{id}` merges messages into data type `{data_type}`, which the app does not declare"),
                )
                .element(id)
                .hint("name one of the app's data types in dataType, or leave dataType out"),
            );
        }
        match (message.and_then(|m| m.name.clone()), parsed) {
            (Some(name), Some((expr, key_text))) if diags.is_empty() => Ok(MessageCatch {
                message: name,
                subscription: Subscription {
                    correlation_key: expr,
                    key_text,
                    data_type: data_type.map(|(d, _)| DataTypeId::new(d.clone())),
                },
                receive_task: self.kind == CatchKind::ReceiveTask,
            }),
            _ => Err(diags),
        }
    }
}

/// An event-based gateway is followed only by message, signal or timer catch events and receive
/// tasks,
/// at least two, each reached only from it (the gateway arms them all and the first to fire
/// wins; a follower with another way in would run a second time).
pub(super) fn check_event_gateways(
    process: &RawProcess,
    index: &super::Index,
    diags: &mut Vec<Diagnostic>,
) {
    for (i, node) in process.nodes.iter().enumerate() {
        if node.kind != RawKind::EventGateway {
            continue;
        }
        let outgoing = &index.outgoing[i];
        if outgoing.len() < 2 {
            diags.push(
                Diagnostic::error(
                    Code::InvalidEventGateway,
                    node.pos,
                    format!(
                        "event-based gateway `{}` has {} outgoing flow(s); it chooses between at least two events",
                        node.id,
                        outgoing.len()
                    ),
                )
                .element(&node.id)
                .hint("draw a flow to each message or timer catch event (or receive task) it waits for"),
            );
        }
        for &f in outgoing {
            let Some(t) = index.target[f] else { continue };
            let follower = &process.nodes[t];
            // An element flyt cannot run has its own diagnostic already.
            if follower.kind == RawKind::Unsupported {
                continue;
            }
            let catch = matches!(
                follower.kind,
                RawKind::MessageCatch { .. } | RawKind::TimerCatch(_) | RawKind::SignalCatch { .. }
            );
            let problem = if !catch {
                Some(format!(
                    "is followed by <{}> `{}`; it may only be followed by message, signal or timer intermediate catch events and receive tasks",
                    follower.qname, follower.id
                ))
            } else if index.incoming[t].len() > 1 {
                Some(format!(
                    "is followed by `{}`, which has another incoming flow; an event after the gateway is reached only from it",
                    follower.id
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidEventGateway,
                        process.flows[f].pos,
                        format!("event-based gateway `{}` {problem}", node.id),
                    )
                    .element(&node.id)
                    .hint("put only <intermediateCatchEvent> (message, signal or timer) or <receiveTask> after an event-based gateway"),
                );
            }
        }
    }
}

/// A process-level message start event names a `<bpmn:message>` with a name (one in an event
/// sub-process is a catch, checked as one; one in a sub-process is refused with the
/// sub-process).
fn check_message_start(
    process: &RawProcess,
    node: &crate::bpmn::raw::RawNode,
    message_ref: Option<&Ref>,
    diags: &mut Vec<Diagnostic>,
) {
    let id = &node.id;
    match message_ref.map(|r| (r, process.messages.get(&r.id))) {
        None => diags.push(
            Diagnostic::error(
                Code::UnknownMessage,
                node.pos,
                format!("message start event `{id}` has no messageRef: it does not say which message starts an instance"),
            )
            .element(id)
            .hint("declare <bpmn:message id=\"Message_x\" name=\"x\"/> beside the process and set messageRef=\"Message_x\""),
        ),
        Some((r, None)) => diags.push(
            Diagnostic::error(
                Code::UnknownMessage,
                r.pos,
                format!("message start event `{id}` names messageRef `{}`, which is no <bpmn:message> of these definitions", r.id),
            )
            .element(id),
        ),
        Some((r, Some(m))) if m.name.is_none() => diags.push(
            Diagnostic::error(
                Code::MessageWithoutName,
                m.pos,
                format!("message `{}` has no name, and message start event `{id}` starts on it: publishers address a message by its name", r.id),
            )
            .element(&r.id)
            .hint("add name=\"...\" to the <bpmn:message>"),
        ),
        Some(_) => {}
    }
}
