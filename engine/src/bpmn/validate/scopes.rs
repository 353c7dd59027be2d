//! Scopes: an embedded sub-process is entered at its one none start event and left when its
//! last token ends, so a sequence flow may not cross its border, and each sub-process needs
//! exactly one start event.

use super::super::diagnostic::{Code, Diagnostic};
use super::super::raw::{RawKind, RawProcess};
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
    for (s, sub) in process.nodes.iter().enumerate() {
        if sub.kind != RawKind::SubProcess {
            continue;
        }
        let starts: Vec<&str> = process
            .nodes
            .iter()
            .filter(|n| n.scope == Some(s) && n.kind == RawKind::StartEvent)
            .map(|n| n.id.as_str())
            .collect();
        let ends = process.nodes.iter().any(|n| {
            n.scope == Some(s) && matches!(n.kind, RawKind::EndEvent | RawKind::TerminateEnd)
        });
        let problem = match starts.as_slice() {
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
