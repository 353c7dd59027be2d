//! Graph reachability over a definition's flows, for the inclusive gateway's join rule: a
//! converging inclusive gateway waits while a token elsewhere in the instance can still reach
//! one of its incoming flows without passing through the gateway itself.
//!
//! [`successors`] is the one place that says where a token at a node can go next. An element
//! kind that moves tokens in a new way (an embedded sub-process: a token inside reaches what the
//! sub-process's outgoing flows reach) extends it there, and every rule built on it follows.

use super::ProcessDefinition;
use super::elements::NodeIdx;

/// Where a token at `node` can go in one step: the targets of its outgoing flows, and the
/// boundary events attached to it (which leave it by their own flows).
pub fn successors(def: &ProcessDefinition, node: NodeIdx) -> impl Iterator<Item = NodeIdx> + '_ {
    let n = def.node(node);
    n.outgoing
        .iter()
        .map(|&f| def.flow(f).target)
        .chain(n.boundaries.iter().copied())
}

/// For a gateway: which nodes (by index) can reach one of its incoming flows without passing
/// through the gateway. A token waiting at such a node may still arrive, so the join waits for
/// it. Computed once per definition; O(nodes + flows).
pub(crate) fn upstream_of(def: &ProcessDefinition, gateway: NodeIdx) -> Vec<bool> {
    let count = def.node_count();
    let mut predecessors: Vec<Vec<NodeIdx>> = vec![Vec::new(); count];
    for (n, _) in def.nodes() {
        for s in successors(def, n) {
            predecessors[s.index()].push(n);
        }
    }
    let mut upstream = vec![false; count];
    let mut stack: Vec<NodeIdx> = def
        .node(gateway)
        .incoming
        .iter()
        .map(|&f| def.flow(f).source)
        .collect();
    while let Some(n) = stack.pop() {
        // The gateway itself is not passed through: what lies behind it does not count.
        if n == gateway || upstream[n.index()] {
            continue;
        }
        upstream[n.index()] = true;
        stack.extend(predecessors[n.index()].iter().copied());
    }
    upstream
}
