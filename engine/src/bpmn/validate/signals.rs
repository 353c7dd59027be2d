//! Signal events: each names, by `signalRef`, a `<bpmn:signal>` of the definitions that has a
//! `name` (broadcasts address subscriptions by that name). Two `<bpmn:signal>` elements with
//! the same name are one signal: nothing is ambiguous, so that is allowed.

use super::DeployTarget;
use crate::bpmn::diagnostic::{Code, Diagnostic};
use crate::bpmn::raw::{RawKind, RawNode, RawProcess, Ref, StartTrigger};

/// Every signal event of the process: its diagnostics.
pub(super) fn check(
    process: &RawProcess,
    target: Option<&dyn DeployTarget>,
    diags: &mut Vec<Diagnostic>,
) {
    for node in &process.nodes {
        let (what, signal_ref) = match &node.kind {
            RawKind::StartEvent(StartTrigger::Signal(r)) => ("signal start event", r),
            RawKind::SignalCatch { signal_ref } => ("signal catch event", signal_ref),
            RawKind::SignalBoundary { signal_ref, .. } => ("signal boundary event", signal_ref),
            RawKind::SignalThrow {
                signal_ref,
                end: true,
            } => ("signal end event", signal_ref),
            RawKind::SignalThrow { signal_ref, .. } => ("signal throw event", signal_ref),
            _ => continue,
        };
        if let Some(d) = check_ref(process, node, what, signal_ref.as_ref()) {
            diags.push(d);
        }
        if let Some(s) = &node.signal_subscription {
            check_subscription(node, what, s, target, diags);
        }
    }
}

/// A signal catching element's `<flyt:subscription>`: a data type the app declares (where the
/// app is known), and no correlation key (a signal reaches every subscription of its name).
fn check_subscription(
    node: &RawNode,
    what: &str,
    s: &crate::bpmn::raw::RawSubscription,
    target: Option<&dyn DeployTarget>,
    diags: &mut Vec<Diagnostic>,
) {
    let id = &node.id;
    if s.correlation_key.is_some() {
        diags.push(
            Diagnostic::error(
                Code::InvalidCorrelationKey,
                s.pos,
                format!("{what} `{id}` has a correlationKey: a signal has none, it reaches every subscription of its name"),
            )
            .element(id)
            .hint("leave correlationKey out of the <flyt:subscription>; use a message to reach one instance"),
        );
    }
    if let (Some(data_type), Some(target)) = (&s.data_type, target)
        && target.has_data_type(data_type) == Some(false)
    {
        diags.push(
            Diagnostic::error(
                Code::UnknownDataType,
                s.pos,
                format!("{what} `{id}` merges the signal's data into data type `{data_type}`, which the app does not declare"),
            )
            .element(id)
            .hint("name one of the app's data types in dataType, or leave dataType out"),
        );
    }
}

/// The diagnostic of one signal event's `signalRef`, if it has one.
fn check_ref(
    process: &RawProcess,
    node: &RawNode,
    what: &str,
    signal_ref: Option<&Ref>,
) -> Option<Diagnostic> {
    let id = &node.id;
    let declare = "declare <bpmn:signal id=\"Signal_x\" name=\"x\"/> beside the process and set signalRef=\"Signal_x\" on its <bpmn:signalEventDefinition>";
    let Some(r) = signal_ref else {
        return Some(
            Diagnostic::error(
                Code::UnknownSignal,
                node.pos,
                format!("{what} `{id}` has no signalRef: it does not say which signal it is"),
            )
            .element(id)
            .hint(declare),
        );
    };
    match process.signals.get(&r.id) {
        None => Some(
            Diagnostic::error(
                Code::UnknownSignal,
                r.pos,
                format!(
                    "{what} `{id}` names signalRef `{}`, which is no <bpmn:signal> of these definitions",
                    r.id
                ),
            )
            .element(id)
            .hint(declare),
        ),
        Some(s) if s.name.is_none() => Some(
            Diagnostic::error(
                Code::SignalWithoutName,
                s.pos,
                format!(
                    "signal `{}` has no name, and {what} `{id}` uses it: a signal is broadcast by its name",
                    r.id
                ),
            )
            .element(&r.id)
            .hint("add name=\"...\" to the <bpmn:signal>"),
        ),
        Some(_) => None,
    }
}
