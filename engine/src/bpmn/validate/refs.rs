//! Ids, references, and the `incoming`/`outgoing` bookkeeping that BPMN tools write.

use super::super::diagnostic::{Code, Diagnostic};
use super::super::raw::{RawProcess, Ref};
use std::collections::{BTreeSet, HashMap};

/// Resolved references: for every node, the flows that leave and enter it (in file order), and
/// for every flow its two ends. A flow with an unresolved end appears in neither list.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub node_by_id: HashMap<String, usize>,
    pub flow_by_id: HashMap<String, usize>,
    /// `(source, target)` node indices per flow, when both resolve.
    pub ends: Vec<Option<(usize, usize)>>,
    pub outgoing: Vec<Vec<usize>>,
    pub incoming: Vec<Vec<usize>>,
}

pub(crate) fn check(process: &RawProcess, diags: &mut Vec<Diagnostic>) -> Index {
    let mut index = Index {
        outgoing: vec![Vec::new(); process.nodes.len()],
        incoming: vec![Vec::new(); process.nodes.len()],
        ..Index::default()
    };

    // Duplicate ids, across nodes and flows (the process id counts too).
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

    for (i, node) in process.nodes.iter().enumerate() {
        index.node_by_id.entry(node.id.clone()).or_insert(i);
    }
    for (i, flow) in process.flows.iter().enumerate() {
        index.flow_by_id.entry(flow.id.clone()).or_insert(i);
    }

    // Flow ends.
    for flow in &process.flows {
        let mut resolve = |r: &Option<Ref>, attr: &str| -> Option<usize> {
            match r {
                None => {
                    diags.push(
                        Diagnostic::error(
                            Code::UnknownReference,
                            flow.pos,
                            format!("sequence flow `{}` has no {attr}", flow.id),
                        )
                        .element(&flow.id),
                    );
                    None
                }
                Some(r) => match index.node_by_id.get(&r.id) {
                    Some(&n) => Some(n),
                    None => {
                        let mut d = Diagnostic::error(
                            Code::UnknownReference,
                            flow.pos,
                            format!(
                                "sequence flow `{}` has {attr}=\"{}\", which names no element",
                                flow.id, r.id
                            ),
                        )
                        .element(&flow.id);
                        let ids: Vec<&str> = process.nodes.iter().map(|n| n.id.as_str()).collect();
                        if let Some(near) = crate::bpmn::read::nearest(&r.id, &ids) {
                            d = d.hint(format!("did you mean `{near}`?"));
                        }
                        diags.push(d);
                        None
                    }
                },
            }
        };
        let source = resolve(&flow.source, "sourceRef");
        let target = resolve(&flow.target, "targetRef");
        index.ends.push(source.zip(target));
    }
    for (f, ends) in index.ends.iter().enumerate() {
        if let Some((s, t)) = ends {
            index.outgoing[*s].push(f);
            index.incoming[*t].push(f);
        }
    }

    // `incoming`/`outgoing` children are optional in BPMN, but when a node lists them they must
    // agree with the flows (a disagreement means the file was edited by hand and went stale).
    for (i, node) in process.nodes.iter().enumerate() {
        for (listed, actual, dir, attr) in [
            (&node.incoming, &index.incoming[i], "incoming", "targetRef"),
            (&node.outgoing, &index.outgoing[i], "outgoing", "sourceRef"),
        ] {
            if listed.is_empty() {
                continue;
            }
            let actual_ids: BTreeSet<&str> = actual
                .iter()
                .map(|&f| process.flows[f].id.as_str())
                .collect();
            let listed_ids: BTreeSet<&str> = listed.iter().map(|r| r.id.as_str()).collect();
            for r in listed {
                if actual_ids.contains(r.id.as_str()) {
                    continue;
                }
                let why = match index.flow_by_id.get(&r.id) {
                    None => "no sequence flow has that id".to_string(),
                    Some(&f) => format!(
                        "that flow's {attr} is `{}`",
                        match attr {
                            "targetRef" => process.flows[f].target.as_ref(),
                            _ => process.flows[f].source.as_ref(),
                        }
                        .map_or("", |r| r.id.as_str())
                    ),
                };
                diags.push(
                    Diagnostic::error(
                        Code::FlowMismatch,
                        r.pos,
                        format!("`{}` lists <{dir}>{}</{dir}>, but {why}", node.id, r.id),
                    )
                    .element(&node.id),
                );
            }
            // The flows are authoritative; a flow the node forgot to list is harmless (real
            // Altinn apps ship such files), so it is a warning. A listed id that is wrong is an error.
            for id in actual_ids.difference(&listed_ids) {
                diags.push(
                    Diagnostic::warning(
                        Code::FlowMismatch,
                        node.pos,
                        format!("sequence flow `{id}` has {attr}=\"{}\" but `{}` does not list it as <{dir}>", node.id, node.id),
                    )
                    .element(&node.id)
                    .hint(format!("add <{dir}>{id}</{dir}> to `{}`", node.id)),
                );
            }
        }
    }
    index
}
