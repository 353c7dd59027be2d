//! Converging inclusive gateways: a token that arrives parks at the gateway, and the gateway
//! fires once every token still in the instance is at rest and none of them (outside the
//! gateway) can reach one of its incoming flows without passing through it. It then takes one
//! parked token per incoming flow that has one and diverges by its conditions.
//!
//! The check runs only when no token is in flight (the transition's queue is empty), so every
//! other token is at a wait state whose element the precomputed reachability
//! ([`crate::bpmn::reach`]) answers for.
//!
//! Sub-processes: a join waits in one scope instance (the process level or one entry into a
//! sub-process) and counts only the tokens of that scope instance and of the scopes nested in
//! it. A token inside a nested sub-process stands, for the rule, at that sub-process's element
//! in the join's scope (it leaves by the sub-process's flows); tokens of other scope instances
//! cannot reach the join at all.

use super::transition::Transition;
use crate::bpmn::elements::{FlowIdx, NodeIdx, NodeKind};
use crate::model::{ProcessState, Token, TokenAt};

/// The element a token waits at, by id.
fn element_of(token: &Token) -> &str {
    match &token.at {
        TokenAt::UserTask { task } | TokenAt::ServiceTask { task, .. } => task.element_id.as_str(),
        TokenAt::Join { element, .. }
        | TokenAt::Timer { element, .. }
        | TokenAt::Message { element, .. }
        | TokenAt::EventGateway { element }
        | TokenAt::Signal { element, .. }
        | TokenAt::Call { element, .. } => element.as_str(),
    }
}

/// Where `token` stands as seen from scope instance `scope`: its own element when it is in
/// `scope`; the sub-process (entered in `scope`) that it is nested in; `None` when it is in no
/// scope within `scope`.
fn position_in<'t>(
    process: &'t ProcessState,
    token: &'t Token,
    scope: Option<u32>,
) -> Option<&'t str> {
    if token.scope == scope {
        return Some(element_of(token));
    }
    let mut at = token.scope;
    // Each step goes to a parent; the bound guards a corrupted record.
    for _ in 0..=process.scopes.len() {
        let entry = process.scopes.iter().find(|x| Some(x.id) == at)?;
        if entry.parent == scope {
            return Some(entry.element.as_str());
        }
        at = entry.parent;
    }
    None
}

impl Transition<'_> {
    /// Parks a token that arrived at converging inclusive gateway `gateway` over `via`, in
    /// scope instance `scope`.
    pub(crate) fn park_at_inclusive(&mut self, gateway: NodeIdx, via: FlowIdx, scope: Option<u32>) {
        let def = self.def.clone();
        self.push_token(
            TokenAt::Join {
                element: def.node(gateway).id.clone(),
                via: def.flow(via).id.clone(),
            },
            scope,
        );
    }

    /// The first converging inclusive gateway (in file order) that may fire: it has parked
    /// tokens and no other token can still reach it. Its tokens are taken (one per incoming
    /// flow); the caller moves on past it, in the returned scope instance.
    pub(crate) fn fire_inclusive_join(&mut self) -> Option<(NodeIdx, Option<u32>)> {
        let def = self.def.clone();
        let process = &self.instance.process;
        let tokens = &process.tokens;
        let parked_at = |t: &Token| match &t.at {
            TokenAt::Join { element, .. } => def
                .node_by_id(element.as_str())
                .filter(|&g| matches!(def.node(g).kind, NodeKind::InclusiveGateway(_)))
                .map(|g| (g, t.scope)),
            _ => None,
        };
        let mut candidates: Vec<(NodeIdx, Option<u32>)> =
            tokens.iter().filter_map(parked_at).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let (ready, scope) = candidates.into_iter().find(|&(gateway, scope)| {
            tokens.iter().all(|t| {
                parked_at(t) == Some((gateway, scope))
                    || position_in(process, t, scope)
                        .and_then(|at| def.node_by_id(at))
                        .is_none_or(|at| !def.can_reach_join(at, gateway))
            })
        })?;
        let node = def.node(ready);
        let process = &mut self.instance.process;
        for &f in &node.incoming {
            let flow = &def.flow(f).id;
            let parked = process.tokens.iter().position(|t| {
                t.scope == scope
                    && matches!(&t.at, TokenAt::Join { element, via } if *element == node.id && via == flow)
            });
            if let Some(p) = parked {
                process.tokens.remove(p);
            }
        }
        Some((ready, scope))
    }
}
