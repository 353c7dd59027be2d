//! Scopes: embedded sub-processes. A token that reaches a `<subProcess>` enters a new scope
//! instance (recorded in the process state, so nested and repeated entries are told apart) and
//! starts at its start event; every token inside carries the scope instance's id. When the last
//! token inside has ended (nested scopes included), the scope instance is removed and a token
//! leaves the sub-process by its outgoing flows, in the enclosing scope, in the same transition.

use super::transition::{Arrival, Transition};
use crate::model::{EventType, ScopeInstance};
use serde_json::json;
use std::collections::VecDeque;

impl Transition<'_> {
    /// A token enters sub-process `sub` from scope instance `parent`: a new scope instance;
    /// returns its id.
    pub(super) fn enter_scope(
        &mut self,
        sub: crate::bpmn::elements::NodeIdx,
        parent: Option<u32>,
    ) -> u32 {
        let element = self.def.node(sub).id.clone();
        let process = &mut self.instance.process;
        let id = process.next_token;
        process.next_token += 1;
        process.scopes.push(ScopeInstance {
            id,
            element: element.clone(),
            parent,
            entered: self.now,
        });
        self.record(
            EventType::ScopeEntered,
            Some(element),
            None,
            Some(json!({ "scope": id })),
        );
        id
    }

    /// Completes scope instance `scope` if nothing is left in it (no token waiting or on its
    /// way, no nested scope instance): its token leaves the sub-process by its outgoing flows.
    /// A sub-process without outgoing flows then lets its own enclosing scope complete.
    pub(super) fn complete_scope_if_done(&mut self, scope: u32, queue: &mut VecDeque<Arrival>) {
        let mut at = Some(scope);
        while let Some(s) = at {
            let process = &self.instance.process;
            let busy = process.tokens.iter().any(|t| t.scope == Some(s))
                || process.scopes.iter().any(|x| x.parent == Some(s))
                || queue.iter().any(|a| a.scope == Some(s));
            let Some(p) = process.scopes.iter().position(|x| x.id == s) else {
                return;
            };
            if busy {
                return;
            }
            let done = self.instance.process.scopes.remove(p);
            self.record(
                EventType::ScopeLeft,
                Some(done.element.clone()),
                None,
                Some(json!({ "scope": s })),
            );
            let def = self.def.clone();
            let Some(node) = def.node_by_id(done.element.as_str()) else {
                return;
            };
            let outgoing = &def.node(node).outgoing;
            for &flow in outgoing {
                queue.push_back(Arrival {
                    flow,
                    origin: None,
                    scope: done.parent,
                });
            }
            at = if outgoing.is_empty() {
                done.parent
            } else {
                None
            };
        }
    }
}
