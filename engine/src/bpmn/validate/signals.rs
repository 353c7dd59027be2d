//! Signal events: each names, by `signalRef`, a `<bpmn:signal>` of the definitions that has a
//! `name` (broadcasts address subscriptions by that name). Two `<bpmn:signal>` elements with
//! the same name are one signal: nothing is ambiguous, so that is allowed.

use crate::bpmn::diagnostic::{Code, Diagnostic};
use crate::bpmn::raw::{RawKind, RawNode, RawProcess, Ref, StartTrigger};

/// Every signal event of the process: its diagnostics.
pub(super) fn check(process: &RawProcess, diags: &mut Vec<Diagnostic>) {
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
