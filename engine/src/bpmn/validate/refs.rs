//! Ids and references: duplicate ids, each flow's `sourceRef`/`targetRef`, and (in
//! [`reading`](super::reading)) which flows leave and enter each element.
//!
//! # Which reference decides where a token goes: the rule Altinn's engine follows
//!
//! A BPMN file says twice how elements are connected: each `<sequenceFlow>` has a `sourceRef` and
//! a `targetRef`, and each element may list its flows as `<incoming>`/`<outgoing>` children. Hand
//! edits leave the two disagreeing, and Altinn apps ship such files. flyt reads them the way
//! Altinn's app engine does (`Altinn/app-lib-dotnet`: `ProcessReader.GetNextElements`,
//! `ProcessReader.GetOutgoingSequenceFlows`, `ProcessNavigator.NextFollowAndFilterGateways`):
//!
//! - **Start events and tasks** (user and service) leave by every flow whose `sourceRef` is their
//!   id, in file order; their `<outgoing>` list is never read.
//! - **Exclusive gateways** leave by the flows their `<outgoing>` list names (in file order of the
//!   flows); the flows' `sourceRef` is never read for them. flyt applies the same to parallel
//!   gateways, which Altinn does not have. A gateway with no `<outgoing>` list at all (the lists
//!   are optional in BPMN; bpmn-js always writes them) leaves by `sourceRef`, as before: there is
//!   nothing to disagree with, although Altinn's engine would find no way out of it.
//! - **Where a flow goes** is always its `targetRef`. **`<incoming>` lists are never read**, for
//!   any element, and nothing at all is read from an end event but its id.
//!
//! Every disagreement between the lists and the references is a `flow-mismatch` warning at the
//! line of the list entry (or of the element that does not list a flow), naming the reading flyt
//! used. Two cases where Altinn's reading finds no way out but the other reading does (a gateway
//! whose `<outgoing>` list names no existing flow, a task whose only flows name it in no
//! `sourceRef` but are in its `<outgoing>` list) fall back to that other reading with a warning
//! saying Altinn's engine would stop there. A file is refused only when no reading runs: a flow
//! whose `targetRef` names no element, or an element with no way out that is not an end event
//! (`graph`).

use super::super::diagnostic::{Code, Diagnostic};
use super::super::raw::{RawProcess, Ref};
use std::collections::HashMap;

/// Resolved references: for every flow the element it enters, and for every node the flows that
/// leave and enter it in flyt's reading (file order).
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub node_by_id: HashMap<String, usize>,
    pub flow_by_id: HashMap<String, usize>,
    /// The node each flow's `sourceRef` names, when it names one.
    pub source_ref: Vec<Option<usize>>,
    /// The node each flow's `targetRef` names, when it names one.
    pub target: Vec<Option<usize>>,
    /// The node a flow leaves in flyt's reading: its `sourceRef` when that node takes it,
    /// otherwise the first node that takes it (a gateway listing it). `None`: no node takes it.
    pub source: Vec<Option<usize>>,
    /// The flows a token leaves each node by (only flows whose target resolves).
    pub outgoing: Vec<Vec<usize>>,
    /// The flows a token can enter each node by: flows some node takes, by their `targetRef`.
    pub incoming: Vec<Vec<usize>>,
}

impl Index {
    /// Every `(source, target)` move a token can make, once per node that takes a flow.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.outgoing
            .iter()
            .enumerate()
            .flat_map(move |(s, flows)| {
                flows
                    .iter()
                    .filter_map(move |&f| self.target[f].map(|t| (s, t)))
            })
    }
}

pub(crate) fn check(process: &RawProcess, diags: &mut Vec<Diagnostic>) -> Index {
    let mut index = Index::default();
    duplicate_ids(process, diags);

    for (i, node) in process.nodes.iter().enumerate() {
        index.node_by_id.entry(node.id.clone()).or_insert(i);
    }
    for (i, flow) in process.flows.iter().enumerate() {
        index.flow_by_id.entry(flow.id.clone()).or_insert(i);
    }

    // A `targetRef` is read on every path; one that names nothing is an error. A `sourceRef`
    // that names nothing is judged in `reading`: a gateway listing the flow makes it harmless.
    for flow in &process.flows {
        let source = flow
            .source
            .as_ref()
            .and_then(|r| index.node_by_id.get(&r.id).copied());
        index.source_ref.push(source);
        let target = match &flow.target {
            None => {
                diags.push(
                    Diagnostic::error(
                        Code::UnknownReference,
                        flow.pos,
                        format!("sequence flow `{}` has no targetRef", flow.id),
                    )
                    .element(&flow.id),
                );
                None
            }
            Some(r) => {
                let found = index.node_by_id.get(&r.id).copied();
                if found.is_none() {
                    diags.push(unknown_node(process, &flow.id, flow.pos, "targetRef", r));
                }
                found
            }
        };
        index.target.push(target);
    }

    super::reading::resolve(process, &mut index, diags);
    index
}

/// `sequence flow `f` has {attr}="x", which names no element`, with a near miss as hint.
pub(super) fn unknown_node(
    process: &RawProcess,
    flow_id: &str,
    pos: super::super::diagnostic::Pos,
    attr: &str,
    r: &Ref,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        Code::UnknownReference,
        pos,
        format!(
            "sequence flow `{flow_id}` has {attr}=\"{}\", which names no element",
            r.id
        ),
    )
    .element(flow_id);
    let ids: Vec<&str> = process.nodes.iter().map(|n| n.id.as_str()).collect();
    if let Some(near) = crate::bpmn::read::nearest(&r.id, &ids) {
        d = d.hint(format!("did you mean `{near}`?"));
    }
    d
}

/// Duplicate ids, across nodes and flows (the process id counts too).
fn duplicate_ids(process: &RawProcess, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, (u32, &str)> = HashMap::new();
    if !process.id.is_empty() {
        seen.insert(&process.id, (process.pos.line, "process"));
    }
    let all = process
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.pos, n.qname.as_str()))
        .chain(
            process
                .flows
                .iter()
                .map(|f| (f.id.as_str(), f.pos, "sequenceFlow")),
        );
    for (id, pos, what) in all {
        if let Some((line, first_what)) = seen.get(id) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateId,
                    pos,
                    format!("duplicate id `{id}`: this <{what}> reuses the id of the <{first_what}> on line {line}"),
                )
                .element(id)
                .hint("ids must be unique within the definitions; rename one of them"),
            );
        } else {
            seen.insert(id, (pos.line, what));
        }
    }
}
