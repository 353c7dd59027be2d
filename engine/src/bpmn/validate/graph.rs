//! Reachability: every element must be reachable from a start event, and every element must be
//! able to reach an end event (no dead ends, no cycles without an exit).

use super::super::diagnostic::{Code, Diagnostic};
use super::super::raw::{RawKind, RawProcess};
use super::Index;
use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, Reversed};

pub(crate) fn check(process: &RawProcess, index: &Index, diags: &mut Vec<Diagnostic>) {
    let n = process.nodes.len();
    let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(n, process.flows.len());
    for _ in 0..n {
        graph.add_node(());
    }
    for (s, t) in index.edges() {
        graph.add_edge(NodeIndex::new(s), NodeIndex::new(t), ());
    }
    // A boundary event is entered through the task it is attached to.
    for (i, node) in process.nodes.iter().enumerate() {
        if let Some(attached_to) = node.kind.attached_to()
            && let Some(&task) = index.node_by_id.get(&attached_to.id)
        {
            graph.add_edge(NodeIndex::new(task), NodeIndex::new(i), ());
        }
        // A sub-process is entered at its start event and left by its own flows once its end
        // events are reached: inner end events finish only if the sub-process does.
        if let Some(s) = node.scope {
            match node.kind {
                RawKind::StartEvent(_) => {
                    graph.add_edge(NodeIndex::new(s), NodeIndex::new(i), ());
                }
                RawKind::EndEvent
                | RawKind::TerminateEnd
                | RawKind::ErrorEnd { .. }
                | RawKind::EscalationThrow { end: true, .. }
                | RawKind::SignalThrow { end: true, .. } => {
                    graph.add_edge(NodeIndex::new(i), NodeIndex::new(s), ());
                }
                RawKind::ServiceTask(ref t) if t.is_message_end() => {
                    graph.add_edge(NodeIndex::new(i), NodeIndex::new(s), ());
                }
                _ => {}
            }
        }
    }

    // An event sub-process starts while its enclosing scope runs (at the process level: from
    // the start); when it ends, so may its enclosing scope.
    let top_starts: Vec<usize> = (0..n)
        .filter(|&i| {
            matches!(process.nodes[i].kind, RawKind::StartEvent(_))
                && process.nodes[i].scope.is_none()
        })
        .collect();
    for (i, node) in process.nodes.iter().enumerate() {
        if !matches!(node.kind, RawKind::EventSubProcess { .. }) {
            continue;
        }
        match node.scope {
            Some(s) => {
                graph.add_edge(NodeIndex::new(s), NodeIndex::new(i), ());
                graph.add_edge(NodeIndex::new(i), NodeIndex::new(s), ());
            }
            None => {
                for &start in &top_starts {
                    graph.add_edge(NodeIndex::new(start), NodeIndex::new(i), ());
                }
            }
        }
    }

    // A link throw event goes on at its link catch event.
    for (throw, catch) in super::links::targets(process).into_iter().enumerate() {
        if let Some(catch) = catch {
            graph.add_edge(NodeIndex::new(throw), NodeIndex::new(catch), ());
        }
    }

    let mut reachable = vec![false; n];
    for (i, node) in process.nodes.iter().enumerate() {
        if matches!(node.kind, RawKind::StartEvent(_)) && node.scope.is_none() {
            let mut dfs = Dfs::new(&graph, NodeIndex::new(i));
            while let Some(v) = dfs.next(&graph) {
                reachable[v.index()] = true;
            }
        }
    }
    let mut finishes = vec![false; n];
    let reversed = Reversed(&graph);
    for (i, node) in process.nodes.iter().enumerate() {
        // An error end event ends its path too (whether something catches its error is the
        // `uncaught-error` rule's question, not this one's).
        let end = matches!(
            node.kind,
            RawKind::EndEvent
                | RawKind::EventSubProcess { .. }
                | RawKind::TerminateEnd
                | RawKind::ErrorEnd { .. }
                | RawKind::EscalationThrow { end: true, .. }
                | RawKind::SignalThrow { end: true, .. }
        ) || matches!(&node.kind, RawKind::ServiceTask(t) if t.is_message_end());
        if end && node.scope.is_none() {
            let mut dfs = Dfs::new(reversed, NodeIndex::new(i));
            while let Some(v) = dfs.next(reversed) {
                finishes[v.index()] = true;
            }
        }
    }

    let has_start = process
        .nodes
        .iter()
        .any(|n| matches!(n.kind, RawKind::StartEvent(_)) && n.scope.is_none());
    for (i, node) in process.nodes.iter().enumerate() {
        if has_start && !reachable[i] {
            diags.push(
                Diagnostic::error(
                    Code::Unreachable,
                    node.pos,
                    format!("`{}` cannot be reached from any start event", node.id),
                )
                .element(&node.id)
                .hint("connect it with a sequence flow, or delete it"),
            );
        }
    }

    // Dead ends: report each trap once, at its root cause. A trap is a bottom strongly connected
    // component (no flow leaves it) without an end event: a single node with no outgoing flow, or
    // a cycle with no exit. Elements that merely lead into a trap are not repeated.
    // Kosaraju rather than Tarjan: petgraph's Tarjan recurses once per node, which overflows
    // the stack on long processes; Kosaraju runs on iterative depth-first searches.
    let components = kosaraju_scc(&graph);
    let mut component_of = vec![0usize; n];
    for (c, members) in components.iter().enumerate() {
        for v in members {
            component_of[v.index()] = c;
        }
    }
    for (c, members) in components.iter().enumerate() {
        if members.iter().any(|v| finishes[v.index()]) {
            continue;
        }
        let leaves = members
            .iter()
            .any(|v| graph.neighbors(*v).any(|w| component_of[w.index()] != c));
        if leaves {
            continue;
        }
        let mut members: Vec<usize> = members.iter().map(|v| v.index()).collect();
        members.sort_by_key(|&i| process.nodes[i].pos);
        if !members.iter().any(|&i| reachable[i]) && has_start {
            continue; // already reported as unreachable
        }
        let first = &process.nodes[members[0]];
        let cyclic = members.len() > 1
            || graph.contains_edge(NodeIndex::new(members[0]), NodeIndex::new(members[0]));
        let diagnostic = if cyclic {
            let ids: Vec<&str> = members
                .iter()
                .map(|&i| process.nodes[i].id.as_str())
                .collect();
            Diagnostic::error(
                Code::DeadEnd,
                first.pos,
                format!(
                    "`{}` is in a cycle with no exit ({}): no end event can be reached",
                    first.id,
                    ids.join(" → ")
                ),
            )
            .hint("give one of the gateways in the cycle a flow that leads towards an end event")
        } else {
            Diagnostic::error(
                Code::DeadEnd,
                first.pos,
                format!("`{}` has no outgoing sequence flow and is not an end event: a token that reaches it can never finish", first.id),
            )
            .hint("add a sequence flow to the next element, or to an end event")
        };
        diags.push(diagnostic.element(&first.id));
    }
}
