//! Reading message throws: a `sendTask`, or an intermediate throw or end event with a
//! `messageEventDefinition`, becomes a service task of type `sendMessage` that knows which
//! element it is (see `elements::message_throw`).

use super::elements::message_throw::SEND_MESSAGE_TYPE;
use super::elements::{Extension, MessageThrow, ServiceTask, ThrowElement};
use super::raw::{RawKind, RawProcess};
use super::xml::{Ns, XmlNode};

/// The raw kind of a message throw; `definition` is its `messageEventDefinition` (`None` for a
/// send task, whose `messageRef` is on the task itself).
pub(crate) fn message_throw(node: &XmlNode, definition: Option<&XmlNode>) -> RawKind {
    let element = match (node.name.as_str(), definition) {
        ("sendTask", _) => ThrowElement::SendTask,
        ("endEvent", _) => ThrowElement::EndEvent,
        _ => ThrowElement::IntermediateThrow,
    };
    let message_ref = definition
        .unwrap_or(node)
        .attr("messageRef")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let mut flyt = Extension::default();
    if let Some(elements) = node.child(&Ns::Bpmn, "extensionElements") {
        flyt.nodes.extend(
            elements
                .children
                .iter()
                .filter(|c| c.ns == Ns::Flyt)
                .cloned(),
        );
    }
    RawKind::ServiceTask(ServiceTask {
        task_type: Some(SEND_MESSAGE_TYPE.to_string()),
        actions: Vec::new(),
        config: Extension::default(),
        flyt,
        throw: Some(MessageThrow {
            element,
            message_ref,
            message_name: None,
        }),
    })
}

/// Fills in the names of the `<bpmn:message>`s that message throws refer to.
pub(crate) fn name_messages(root: &XmlNode, processes: &mut [RawProcess]) {
    let names: std::collections::HashMap<&str, &str> = root
        .children_named(&Ns::Bpmn, "message")
        .filter_map(|m| {
            let name = m.attr("name").map(str::trim).filter(|n| !n.is_empty())?;
            Some((m.attr("id")?, name))
        })
        .collect();
    for process in processes {
        for node in &mut process.nodes {
            if let RawKind::ServiceTask(task) = &mut node.kind
                && let Some(throw) = &mut task.throw
                && let Some(r) = &throw.message_ref
            {
                throw.message_name = names.get(r.as_str()).map(|n| (*n).to_string());
            }
        }
    }
}
