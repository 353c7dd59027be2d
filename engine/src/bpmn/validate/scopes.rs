//! Scopes: an embedded sub-process is entered at its one none start event and left when its
//! last token ends, so a sequence flow may not cross its border, and each sub-process needs
//! exactly one start event.

use super::super::diagnostic::{Code, Diagnostic};
use super::super::raw::{RawKind, RawProcess, StartTrigger};
use super::Index;

pub(crate) fn check(process: &RawProcess, index: &Index, diags: &mut Vec<Diagnostic>) {
    let scope_name = |scope: Option<usize>| match scope {
        None => format!("process `{}`", process.id),
        Some(s) => format!("sub-process `{}`", process.nodes[s].id),
    };
    for (f, flow) in process.flows.iter().enumerate() {
        for (end, node) in [("leaves", index.source[f]), ("enters", index.target[f])] {
            let Some(node) = node else { continue };
            let node = &process.nodes[node];
            if node.scope != flow.scope {
                diags.push(
                    Diagnostic::error(
                        Code::CrossScopeFlow,
                        flow.pos,
                        format!(
                            "sequence flow `{}` in {} {end} `{}`, which is inside {}; a flow may not cross a sub-process's border",
                            flow.id,
                            scope_name(flow.scope),
                            node.id,
                            scope_name(node.scope)
                        ),
                    )
                    .element(&flow.id)
                    .hint("connect to the sub-process itself; inside it, start at its start event and finish at its end events"),
                );
            }
        }
    }
    for node in &process.nodes {
        let (what, error_ref, declared) = match &node.kind {
            RawKind::StartEvent(StartTrigger::Error(r)) => ("error", r, &process.errors),
            RawKind::StartEvent(StartTrigger::Escalation(r)) => {
                ("escalation", r, &process.escalations)
            }
            _ => continue,
        };
        let in_event_sub = node
            .scope
            .is_some_and(|s| matches!(process.nodes[s].kind, RawKind::EventSubProcess { .. }));
        if !in_event_sub {
            diags.push(
                Diagnostic::error(
                    Code::UnsupportedElement,
                    node.pos,
                    format!(
                        "unsupported element: {what} start event `{}` outside an event sub-process cannot be executed by flyt",
                        node.id
                    ),
                )
                .element(&node.id)
                .hint("put it in a <bpmn:subProcess triggeredByEvent=\"true\">"),
            );
        }
        if let Some(r) = error_ref
            && !declared.contains_key(&r.id)
        {
            diags.push(
                Diagnostic::error(
                    Code::UnknownReference,
                    r.pos,
                    format!(
                        "{what} start event `{}` catches {what}Ref `{}`, which is no <{what}> of these definitions",
                        node.id, r.id
                    ),
                )
                .element(&node.id)
                .hint(format!("declare <bpmn:{what} id=\"...\" {what}Code=\"...\"/> beside the process")),
            );
        }
    }
    for (s, sub) in process.nodes.iter().enumerate() {
        if matches!(sub.kind, RawKind::EventSubProcess { .. }) {
            check_event_sub(process, index, s, diags);
            continue;
        }
        if sub.kind != RawKind::SubProcess {
            continue;
        }
        let starts: Vec<&str> = process
            .nodes
            .iter()
            .filter(|n| n.scope == Some(s) && matches!(n.kind, RawKind::StartEvent(_)))
            .map(|n| n.id.as_str())
            .collect();
        let ends = process.nodes.iter().any(|n| {
            let message_end = matches!(&n.kind, RawKind::ServiceTask(t) if t.is_message_end());
            n.scope == Some(s)
                && (message_end
                    || matches!(
                        n.kind,
                        RawKind::EndEvent
                            | RawKind::TerminateEnd
                            | RawKind::ErrorEnd { .. }
                            | RawKind::EscalationThrow { end: true, .. }
                            | RawKind::SignalThrow { end: true, .. }
                    ))
        });
        let triggered = process.nodes.iter().find_map(|n| match n.kind {
            RawKind::StartEvent(StartTrigger::Timer(_)) if n.scope == Some(s) => Some(("timer", n)),
            RawKind::StartEvent(StartTrigger::Message(..)) if n.scope == Some(s) => {
                Some(("message", n))
            }
            RawKind::StartEvent(StartTrigger::Signal(_)) if n.scope == Some(s) => {
                Some(("signal", n))
            }
            _ => None,
        });
        let problem = match starts.as_slice() {
            _ if triggered.is_some() => triggered.map(|(what, n)| {
                format!(
                    "has a {what} start event `{}`: a sub-process is entered at a none start \
                     event ({what} start events start the process, or an event sub-process)",
                    n.id
                )
            }),
            [] => Some("has no start event".to_string()),
            [_] if !ends => Some("has no end event".to_string()),
            [_] => None,
            many => Some(format!(
                "has {} start events ({}); flyt enters a sub-process at exactly one",
                many.len(),
                many.join(", ")
            )),
        };
        if let Some(problem) = problem {
            diags.push(
                Diagnostic::error(
                    Code::InvalidSubProcess,
                    sub.pos,
                    format!("sub-process `{}` {problem}", sub.id),
                )
                .element(&sub.id)
                .hint("give it one none <bpmn:startEvent> and at least one <bpmn:endEvent> inside"),
            );
        }
    }
}

/// An event sub-process: exactly one start event, with a trigger; at least one end event; no
/// sequence flow in or out (it is started by its event, not by a flow).
fn check_event_sub(process: &RawProcess, index: &Index, s: usize, diags: &mut Vec<Diagnostic>) {
    let sub = &process.nodes[s];
    // A start event flyt cannot run (message, signal, ...) has its own diagnostic already.
    if process.nodes.iter().any(|n| {
        n.scope == Some(s) && n.kind == RawKind::Unsupported && n.qname.ends_with("startEvent")
    }) {
        return;
    }
    let starts: Vec<&super::super::raw::RawNode> = process
        .nodes
        .iter()
        .filter(|n| n.scope == Some(s) && matches!(n.kind, RawKind::StartEvent(_)))
        .collect();
    // An end event flyt cannot run (message, ...) is an end too, with its own diagnostic.
    let ends = process.nodes.iter().any(|n| {
        n.scope == Some(s)
            && (matches!(
                n.kind,
                RawKind::EndEvent
                    | RawKind::TerminateEnd
                    | RawKind::ErrorEnd { .. }
                    | RawKind::EscalationThrow { end: true, .. }
                    | RawKind::SignalThrow { end: true, .. }
            ) || (n.kind == RawKind::Unsupported && n.qname.ends_with("endEvent"))
                || matches!(&n.kind, RawKind::ServiceTask(t) if t.is_message_end()))
    });
    let problem = match starts.as_slice() {
        _ if !index.incoming[s].is_empty() => Some("has an incoming sequence flow".to_string()),
        _ if !index.outgoing[s].is_empty() => Some("has an outgoing sequence flow".to_string()),
        [] => Some("has no start event".to_string()),
        [one] if matches!(one.kind, RawKind::StartEvent(StartTrigger::None)) => Some(format!(
            "has start event `{}` without a trigger: an event sub-process starts at a timer, error, escalation, message or signal start event",
            one.id
        )),
        [one]
            if matches!(one.kind, RawKind::StartEvent(StartTrigger::Error(_)))
                && sub.kind
                    == (RawKind::EventSubProcess {
                        interrupting: false,
                    }) =>
        {
            Some(format!(
                "has a non-interrupting error start event `{}`: an error start event always interrupts",
                one.id
            ))
        }
        [_] if !ends => Some("has no end event".to_string()),
        [_] => None,
        many => Some(format!(
            "has {} start events ({}); an event sub-process has exactly one",
            many.len(),
            many.iter()
                .map(|n| n.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    if let Some(problem) = problem {
        diags.push(
            Diagnostic::error(
                Code::InvalidSubProcess,
                sub.pos,
                format!("event sub-process `{}` {problem}", sub.id),
            )
            .element(&sub.id)
            .hint("give it one timer, error, escalation, message or signal <bpmn:startEvent>, at least one <bpmn:endEvent>, and no sequence flows of its own"),
        );
    }
}

/// Error end events: the `errorRef` names an `<error>`, and some enclosing sub-process has an
/// error boundary event that catches it (naming its code, or every code). flyt refuses one that
/// nothing can catch at deploy rather than deciding at run time what an uncaught error does to
/// the process: which boundaries enclose an end event is known from the file alone.
pub(crate) fn check_error_ends(process: &RawProcess, diags: &mut Vec<Diagnostic>) {
    for node in &process.nodes {
        let RawKind::ErrorEnd { error_ref } = &node.kind else {
            continue;
        };
        let code = match error_ref {
            None => None,
            Some(r) => match process.errors.get(&r.id) {
                Some(code) => Some(code.as_str()),
                None => {
                    diags.push(
                        Diagnostic::error(
                            Code::UnknownReference,
                            r.pos,
                            format!(
                                "error end event `{}` throws errorRef `{}`, which is no <error> of these definitions",
                                node.id, r.id
                            ),
                        )
                        .element(&node.id)
                        .hint("declare <bpmn:error id=\"...\" errorCode=\"...\"/> beside the process"),
                    );
                    continue;
                }
            },
        };
        let catches = |sub: &str| {
            process.nodes.iter().any(|b| match &b.kind {
                RawKind::ErrorBoundary {
                    attached_to,
                    error_ref,
                } if attached_to.id == sub => match error_ref {
                    None => true,
                    Some(r) => {
                        code.is_some() && process.errors.get(&r.id).map(String::as_str) == code
                    }
                },
                _ => false,
            })
        };
        // An event sub-process directly in `scope` with an error start event catching the code,
        // other than `thrown_in` (an error thrown inside an event sub-process is not offered to
        // it: it goes on outwards).
        let started = |scope: Option<usize>, thrown_in: Option<usize>| {
            process.nodes.iter().any(|n| match &n.kind {
                RawKind::StartEvent(StartTrigger::Error(r)) => {
                    n.scope.is_some_and(|e| {
                        Some(e) != thrown_in
                            && process.nodes[e].scope == scope
                            && matches!(process.nodes[e].kind, RawKind::EventSubProcess { .. })
                    }) && match r {
                        None => true,
                        Some(r) => {
                            code.is_some() && process.errors.get(&r.id).map(String::as_str) == code
                        }
                    }
                }
                _ => false,
            })
        };
        let mut at = node.scope;
        // The event sub-process the walk just left.
        let mut left = None;
        let mut caught = false;
        // Scopes nest strictly (a sub-process's inside follows it in the list), so this ends.
        while let Some(s) = at {
            if started(Some(s), left) || catches(&process.nodes[s].id) {
                caught = true;
                break;
            }
            left = matches!(process.nodes[s].kind, RawKind::EventSubProcess { .. }).then_some(s);
            at = process.nodes[s].scope;
        }
        if !caught {
            caught = started(None, left) || process.called;
        }
        if !caught {
            diags.push(
                Diagnostic::error(
                    Code::UncaughtError,
                    node.pos,
                    format!(
                        "error end event `{}` throws {}, which no error boundary event of an enclosing sub-process catches",
                        node.id,
                        code.map_or("an error without a code".to_string(), |c| format!("`{c}`"))
                    ),
                )
                .element(&node.id)
                .hint("put it inside a sub-process with an error boundary event for its code (or for every code), or use a none end event"),
            );
        }
    }
}
