//! Converging inclusive gateways: a token that arrives parks at the gateway, and the gateway
//! fires once every token still in the instance is at rest and none of them (outside the
//! gateway) can reach one of its incoming flows without passing through it. It then takes one
//! parked token per incoming flow that has one and diverges by its conditions.
//!
//! The check runs only when no token is in flight (the transition's queue is empty), so every
//! other token is at a wait state whose element the precomputed reachability
//! ([`crate::bpmn::reach`]) answers for.

use super::transition::Transition;
use crate::bpmn::elements::{FlowIdx, NodeIdx, NodeKind};
use crate::model::{Token, TokenAt};

/// The element a token waits at, by id.
fn element_of(token: &Token) -> &str {
    match &token.at {
        TokenAt::UserTask { task } | TokenAt::ServiceTask { task, .. } => task.element_id.as_str(),
        TokenAt::Join { element, .. } | TokenAt::Timer { element, .. } => element.as_str(),
    }
}

impl Transition<'_> {
    /// Parks a token that arrived at converging inclusive gateway `gateway` over `via`.
    pub(crate) fn park_at_inclusive(&mut self, gateway: NodeIdx, via: FlowIdx) {
        let def = self.def.clone();
        self.push_token(TokenAt::Join {
            element: def.node(gateway).id.clone(),
            via: def.flow(via).id.clone(),
        });
    }

    /// The first converging inclusive gateway (in file order) that may fire: it has parked
    /// tokens and no other token can still reach it. Its tokens are taken (one per incoming
    /// flow); the caller moves on past it.
    pub(crate) fn fire_inclusive_join(&mut self) -> Option<NodeIdx> {
        let def = self.def.clone();
        let tokens = &self.instance.process.tokens;
        let parked_at = |t: &Token| match &t.at {
            TokenAt::Join { element, .. } => def
                .node_by_id(element.as_str())
                .filter(|&g| matches!(def.node(g).kind, NodeKind::InclusiveGateway(_))),
            _ => None,
        };
        let mut candidates: Vec<NodeIdx> = tokens.iter().filter_map(parked_at).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let ready = candidates.into_iter().find(|&gateway| {
            tokens.iter().all(|t| {
                parked_at(t) == Some(gateway)
                    || def
                        .node_by_id(element_of(t))
                        .is_none_or(|at| !def.can_reach_join(at, gateway))
            })
        })?;
        let node = def.node(ready);
        let process = &mut self.instance.process;
        for &f in &node.incoming {
            let flow = &def.flow(f).id;
            let parked = process.tokens.iter().position(|t| {
                matches!(&t.at, TokenAt::Join { element, via } if *element == node.id && via == flow)
            });
            if let Some(p) = parked {
                process.tokens.remove(p);
            }
        }
        Some(ready)
    }
}
