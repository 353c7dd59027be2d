//! Reading signals: root `<bpmn:signal id name>` elements, and the events whose
//! `signalEventDefinition` names one by `signalRef` (start, intermediate catch and throw,
//! boundary, end).

use super::raw::{RawKind, RawSignal, Ref, StartTrigger};
use super::xml::{Ns, XmlNode};
use std::collections::HashMap;

/// The `<bpmn:signal>` elements of the definitions, by id.
pub(crate) fn read_signals(root: &XmlNode) -> HashMap<String, RawSignal> {
    root.children_named(&Ns::Bpmn, "signal")
        .filter_map(|s| {
            let id = s.attr("id")?.trim().to_string();
            Some((
                id,
                RawSignal {
                    name: s
                        .attr("name")
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_string),
                    pos: s.pos,
                },
            ))
        })
        .collect()
}

/// The `signalRef` of a `signalEventDefinition`, where it was written.
fn signal_ref(def: &XmlNode) -> Option<Ref> {
    def.attr("signalRef")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| Ref {
            id: r.to_string(),
            pos: def.pos,
        })
}

/// A `startEvent`, `endEvent` or `intermediateThrowEvent` (`name`) with a
/// `signalEventDefinition` `def`.
pub(crate) fn signal_event(name: &str, def: &XmlNode) -> RawKind {
    match name {
        "startEvent" => RawKind::StartEvent(StartTrigger::Signal(signal_ref(def))),
        _ => RawKind::SignalThrow {
            signal_ref: signal_ref(def),
            end: name == "endEvent",
        },
    }
}

/// Whether `kind` catches a signal (and so may name a data type for its data with
/// `<flyt:subscription dataType>`).
pub(crate) fn catches_signal(kind: &RawKind) -> bool {
    matches!(
        kind,
        RawKind::StartEvent(StartTrigger::Signal(_))
            | RawKind::SignalCatch { .. }
            | RawKind::SignalBoundary { .. }
    )
}

/// An intermediate catch event with a `signalEventDefinition` `def`.
pub(crate) fn signal_catch(def: &XmlNode) -> RawKind {
    RawKind::SignalCatch {
        signal_ref: signal_ref(def),
    }
}

/// A signal boundary event attached to `attached_to`.
pub(crate) fn signal_boundary(node: &XmlNode, def: &XmlNode, attached_to: Ref) -> RawKind {
    RawKind::SignalBoundary {
        attached_to,
        signal_ref: signal_ref(def),
        cancel_activity: node.attr("cancelActivity") != Some("false"),
    }
}
