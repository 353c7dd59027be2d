//! Which flows leave and enter each element in flyt's reading (the rule, and where it comes
//! from, is in [`refs`](super::refs)), with a `flow-mismatch` warning wherever the
//! `<incoming>`/`<outgoing>` lists and the `sourceRef`/`targetRef` attributes disagree. Each
//! warning names the reading flyt used, so a designer knows which of the two the process runs by.

use super::super::diagnostic::{Code, Diagnostic, Severity};
use super::super::raw::{RawKind, RawNode, RawProcess, Ref};
use super::Index;
use super::refs::unknown_node;

/// Where a node's outgoing flows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The flows whose `sourceRef` names the node.
    SourceRef,
    /// The flows the node's `<outgoing>` list names.
    List,
}

/// Fills `index.outgoing`, `index.incoming` and `index.source` from `index.source_ref` and
/// `index.target`, and reports every disagreement.
pub(super) fn resolve(process: &RawProcess, index: &mut Index, diags: &mut Vec<Diagnostic>) {
    let nodes = process.nodes.len();
    let flows = process.flows.len();
    let mut by_source_ref: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for (f, s) in index.source_ref.iter().enumerate() {
        if let Some(s) = s {
            by_source_ref[*s].push(f);
        }
    }

    let mut taken: Vec<Vec<usize>> = Vec::with_capacity(nodes);
    for (i, node) in process.nodes.iter().enumerate() {
        let by_list = listed_flows(index, &node.outgoing);
        let (reading, flows) = choose(node, &by_source_ref[i], by_list, diags);
        outgoing_warnings(process, index, i, reading, &flows, &by_source_ref[i], diags);
        taken.push(flows);
    }

    index.source = vec![None; flows];
    for (i, flows) in taken.iter().enumerate() {
        for &f in flows {
            if index.source[f].is_none() || index.source_ref[f] == Some(i) {
                index.source[f] = Some(i);
            }
        }
    }
    index.outgoing = taken
        .into_iter()
        .map(|flows| {
            flows
                .into_iter()
                .filter(|&f| index.target[f].is_some())
                .collect()
        })
        .collect();
    index.incoming = vec![Vec::new(); nodes];
    for f in 0..flows {
        if let (Some(_), Some(t)) = (index.source[f], index.target[f]) {
            index.incoming[t].push(f);
        }
    }

    untaken_flows(process, index, diags);
    let mut by_target: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for (f, t) in index.target.iter().enumerate() {
        if let Some(t) = t {
            by_target[*t].push(f);
        }
    }
    for (i, node) in process.nodes.iter().enumerate() {
        incoming_warnings(process, index, i, node, &by_target[i], diags);
    }
}

/// The existing flows a list names, in file order, each once.
fn listed_flows(index: &Index, listed: &[Ref]) -> Vec<usize> {
    let mut flows: Vec<usize> = listed
        .iter()
        .filter_map(|r| index.flow_by_id.get(&r.id).copied())
        .collect();
    flows.sort_unstable();
    flows.dedup();
    flows
}

fn is_gateway(node: &RawNode) -> bool {
    matches!(
        node.kind,
        RawKind::ExclusiveGateway(_)
            | RawKind::InclusiveGateway(_)
            | RawKind::ParallelGateway
            | RawKind::EventGateway
    )
}

/// Altinn's reading for the node, or the other one when Altinn's finds no way out and the other
/// does (with a warning saying so).
fn choose(
    node: &RawNode,
    by_source_ref: &[usize],
    by_list: Vec<usize>,
    diags: &mut Vec<Diagnostic>,
) -> (Reading, Vec<usize>) {
    if is_gateway(node) && !node.outgoing.is_empty() {
        if by_list.is_empty() && !by_source_ref.is_empty() {
            diags.push(
                Diagnostic::warning(
                    Code::FlowMismatch,
                    node.pos,
                    format!(
                        "none of the flows `{id}` lists as <outgoing> exists, so flyt follows the flows whose sourceRef is `{id}` (Altinn's engine follows the list and would find no way out of `{id}`)",
                        id = node.id
                    ),
                )
                .element(&node.id)
                .hint(format!("list the flows that leave `{}` as <outgoing>", node.id)),
            );
            return (Reading::SourceRef, by_source_ref.to_vec());
        }
        return (Reading::List, by_list);
    }
    if !is_gateway(node)
        && !matches!(
            node.kind,
            RawKind::EndEvent
                | RawKind::TerminateEnd
                | RawKind::ErrorEnd { .. }
                | RawKind::EscalationThrow { end: true, .. }
                | RawKind::SignalThrow { end: true, .. }
        )
        && by_source_ref.is_empty()
        && !by_list.is_empty()
    {
        // Warned per list entry in `outgoing_warnings`.
        return (Reading::List, by_list);
    }
    (Reading::SourceRef, by_source_ref.to_vec())
}

/// What a flow's `sourceRef` says, for messages about a list entry naming that flow.
fn describe_source(process: &RawProcess, index: &Index, f: usize) -> (String, String) {
    match (&process.flows[f].source, index.source_ref[f]) {
        (None, _) => (
            "which has no sourceRef".to_string(),
            "that flow has no sourceRef".to_string(),
        ),
        (Some(r), None) => (
            format!("whose sourceRef `{}` names no element", r.id),
            format!("that flow's sourceRef `{}` names no element", r.id),
        ),
        (Some(r), Some(_)) => (
            format!("whose sourceRef is `{}`", r.id),
            format!("that flow's sourceRef is `{}`", r.id),
        ),
    }
}

/// Warnings about node `i`'s `<outgoing>` list and about the flows whose `sourceRef` names it.
fn outgoing_warnings(
    process: &RawProcess,
    index: &Index,
    i: usize,
    reading: Reading,
    taken: &[usize],
    by_source_ref: &[usize],
    diags: &mut Vec<Diagnostic>,
) {
    let node = &process.nodes[i];
    let id = node.id.as_str();
    for r in &node.outgoing {
        let Some(&f) = index.flow_by_id.get(&r.id) else {
            diags.push(
                Diagnostic::warning(
                    Code::FlowMismatch,
                    r.pos,
                    format!(
                        "`{id}` lists <outgoing>{}</outgoing>, but no sequence flow has that id; flyt ignores the entry, as Altinn does",
                        r.id
                    ),
                )
                .element(id)
                .hint("remove the entry, or add the flow"),
            );
            continue;
        };
        if index.source_ref[f] == Some(i) {
            continue;
        }
        let flow_id = &process.flows[f].id;
        let (whose, but) = describe_source(process, index, f);
        let (message, hint) = match (reading, taken.binary_search(&f).is_ok(), is_gateway(node)) {
            (Reading::List, true, true) => (
                format!(
                    "`{id}` lists <outgoing>{flow_id}</outgoing> {whose}; flyt follows the gateway's list, as Altinn does"
                ),
                format!("set sourceRef=\"{id}\" on `{flow_id}`"),
            ),
            (Reading::List, true, false) => (
                format!(
                    "`{id}` lists <outgoing>{flow_id}</outgoing> {whose}; no flow has sourceRef=\"{id}\", so flyt follows the list (Altinn's engine follows sourceRef and would find no way out of `{id}`)"
                ),
                format!("set sourceRef=\"{id}\" on `{flow_id}`"),
            ),
            _ => (
                format!(
                    "`{id}` lists <outgoing>{flow_id}</outgoing>, but {but}; flyt follows sourceRef here, as Altinn does, so no token leaves `{id}` by `{flow_id}`"
                ),
                format!("remove the entry, or set sourceRef=\"{id}\" on `{flow_id}`"),
            ),
        };
        diags.push(
            Diagnostic::warning(Code::FlowMismatch, r.pos, message)
                .element(id)
                .hint(hint),
        );
    }
    if node.outgoing.is_empty() || (reading == Reading::SourceRef && is_gateway(node)) {
        // The lists are optional: a node without one disagrees with nothing. A gateway that fell
        // back to sourceRef already has its warning from `choose`.
        return;
    }
    let listed: Vec<usize> = listed_flows(index, &node.outgoing);
    for &f in by_source_ref {
        if listed.binary_search(&f).is_ok() {
            continue;
        }
        let flow_id = &process.flows[f].id;
        let message = match reading {
            Reading::SourceRef => format!(
                "sequence flow `{flow_id}` has sourceRef=\"{id}\" but `{id}` does not list it as <outgoing>; flyt follows sourceRef, as Altinn does"
            ),
            Reading::List => format!(
                "sequence flow `{flow_id}` has sourceRef=\"{id}\" but `{id}` does not list it as <outgoing>; flyt follows the gateway's list, as Altinn does, so no token takes `{flow_id}` from `{id}`"
            ),
        };
        diags.push(
            Diagnostic::warning(Code::FlowMismatch, node.pos, message)
                .element(id)
                .hint(format!("add <outgoing>{flow_id}</outgoing> to `{id}`")),
        );
    }
}

/// Flows no node takes because their `sourceRef` names nothing and no gateway lists them. (A
/// flow whose `sourceRef` names a gateway that does not list it was reported at the gateway.)
fn untaken_flows(process: &RawProcess, index: &Index, diags: &mut Vec<Diagnostic>) {
    for (f, flow) in process.flows.iter().enumerate() {
        if index.source[f].is_some() || index.target[f].is_none() || index.source_ref[f].is_some() {
            continue;
        }
        let consequence = "and no gateway lists it as <outgoing>: no token can take it";
        let d = match &flow.source {
            None => Diagnostic::warning(
                Code::UnknownReference,
                flow.pos,
                format!(
                    "sequence flow `{}` has no sourceRef, {consequence}",
                    flow.id
                ),
            )
            .element(&flow.id),
            Some(r) => {
                let mut d = unknown_node(process, &flow.id, flow.pos, "sourceRef", r);
                d.severity = Severity::Warning;
                d.message = format!("{}, {consequence}", d.message);
                d
            }
        };
        diags.push(d);
    }
}

/// Warnings about node `i`'s `<incoming>` list, which no engine reads: only `targetRef` counts.
fn incoming_warnings(
    process: &RawProcess,
    index: &Index,
    i: usize,
    node: &RawNode,
    by_target: &[usize],
    diags: &mut Vec<Diagnostic>,
) {
    if node.incoming.is_empty() {
        return;
    }
    let id = node.id.as_str();
    for r in &node.incoming {
        let why = match index.flow_by_id.get(&r.id) {
            None => "no sequence flow has that id".to_string(),
            Some(&f) if index.target[f] == Some(i) => continue,
            Some(&f) => match (&process.flows[f].target, index.target[f]) {
                (None, _) => "that flow has no targetRef".to_string(),
                (Some(t), None) => format!("that flow's targetRef `{}` names no element", t.id),
                (Some(t), Some(_)) => format!("that flow's targetRef is `{}`", t.id),
            },
        };
        diags.push(
            Diagnostic::warning(
                Code::FlowMismatch,
                r.pos,
                format!(
                    "`{id}` lists <incoming>{}</incoming>, but {why}; flyt ignores <incoming> lists and follows targetRef, as Altinn does",
                    r.id
                ),
            )
            .element(id)
            .hint("remove the entry"),
        );
    }
    let listed = listed_flows(index, &node.incoming);
    for &f in by_target {
        if listed.binary_search(&f).is_ok() {
            continue;
        }
        let flow = &process.flows[f];
        diags.push(
            Diagnostic::warning(
                Code::FlowMismatch,
                node.pos,
                format!(
                    "sequence flow `{}` has targetRef=\"{id}\" but `{id}` does not list it as <incoming>; flyt follows targetRef, as Altinn does",
                    flow.id
                ),
            )
            .element(id)
            .hint(format!("add <incoming>{}</incoming> to `{id}`", flow.id)),
        );
    }
}
