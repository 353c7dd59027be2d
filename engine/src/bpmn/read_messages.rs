//! Reading messages: root `<bpmn:message>` elements with their `<flyt:subscription>`, and the
//! catching elements that name them (`intermediateCatchEvent` with a `messageEventDefinition`,
//! `receiveTask`).

use super::raw::{RawKind, RawMessage, RawSubscription, Ref};
use super::xml::{Ns, XmlNode};
use std::collections::HashMap;

/// The `<bpmn:message>` elements of the definitions, by id.
pub(crate) fn read_messages(root: &XmlNode) -> HashMap<String, RawMessage> {
    root.children_named(&Ns::Bpmn, "message")
        .filter_map(|m| {
            let id = m.attr("id")?.trim().to_string();
            Some((
                id,
                RawMessage {
                    name: m
                        .attr("name")
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_string),
                    subscription: subscription_of(m),
                    pos: m.pos,
                },
            ))
        })
        .collect()
}

/// The `<flyt:subscription>` in an element's `extensionElements`, if any.
pub(crate) fn subscription_of(node: &XmlNode) -> Option<RawSubscription> {
    let ext = node.child(&Ns::Bpmn, "extensionElements")?;
    let sub = ext.child(&Ns::Flyt, "subscription")?;
    Some(RawSubscription {
        correlation_key: sub.attr("correlationKey").map(str::to_string),
        data_type: sub
            .attr("dataType")
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        pos: sub.pos,
    })
}

/// A message boundary event attached to `attached_to`.
pub(crate) fn message_boundary(node: &XmlNode, def: &XmlNode, attached_to: Ref) -> RawKind {
    let RawKind::MessageCatch {
        message_ref,
        subscription,
        ..
    } = message_catch(node, def, false)
    else {
        return RawKind::Unsupported;
    };
    RawKind::MessageBoundary {
        attached_to,
        message_ref,
        subscription,
        cancel_activity: node.attr("cancelActivity") != Some("false"),
    }
}

/// A message catch element: `def` is the `messageEventDefinition` (intermediate catch event),
/// or the element itself (receive task, whose `messageRef` is its own attribute).
pub(crate) fn message_catch(node: &XmlNode, def: &XmlNode, receive_task: bool) -> RawKind {
    RawKind::MessageCatch {
        message_ref: def
            .attr("messageRef")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| Ref {
                id: r.to_string(),
                pos: def.pos,
            }),
        subscription: subscription_of(node),
        receive_task,
    }
}
