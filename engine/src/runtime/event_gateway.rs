//! The event-based gateway: a token that reaches it waits there for the first of the catch
//! events after it. Every timer after it is armed (the token's `timers`) and every message
//! catch opens its subscription (the token's `messages`) in the commit that reaches it; the
//! first to fire takes the token on after its catch event, and the token's other timers and
//! subscriptions go with the token in that same commit. A message already buffered for one of
//! its message catches decides at once. Its signal catches are subscribed while the token waits
//! at the gateway (`super::signals::subscriptions_of`).

use super::Error;
use super::transition::Transition;
use crate::bpmn::elements::{NodeIdx, NodeKind};
use crate::model::{ArmedMessage, TokenAt};

impl Transition<'_> {
    /// A token reaches event-based gateway `gateway`: returns the catch event a buffered message
    /// decided for (the token goes on after it), or `None` when the token now waits.
    pub(crate) fn enter_event_gateway(
        &mut self,
        gateway: NodeIdx,
        scope: Option<u32>,
    ) -> Result<Option<NodeIdx>, Error> {
        let def = self.def.clone();
        let node = def.node(gateway);
        let followers: Vec<NodeIdx> = node.outgoing.iter().map(|&f| def.flow(f).target).collect();
        let mut keys = Vec::new();
        for &f in &followers {
            let follower = def.node(f);
            if let NodeKind::MessageCatch(catch) = &follower.kind {
                let key = self.correlation_key(&follower.id, catch)?;
                if self.take_buffered(&follower.id, catch, &key)? {
                    return Ok(Some(f));
                }
                keys.push((f, key));
            }
        }
        let token = self.push_token(
            TokenAt::EventGateway {
                element: node.id.clone(),
            },
            scope,
        );
        for &f in &followers {
            let follower = def.node(f);
            match &follower.kind {
                NodeKind::TimerCatch(catch) => {
                    let visits = self
                        .instance
                        .visits
                        .entry(follower.id.to_string())
                        .or_insert(0);
                    *visits += 1;
                    let visit = *visits;
                    let armed = self.arm_timer(&follower.id, &catch.timer, visit)?;
                    if let Some(t) = self.token_mut(token) {
                        t.timers.push(armed);
                    }
                }
                NodeKind::MessageCatch(catch) => {
                    let Some((_, key)) = keys.iter().find(|(k, _)| *k == f) else {
                        continue;
                    };
                    let armed = ArmedMessage {
                        element: follower.id.clone(),
                        message: catch.message.clone(),
                        correlation_key: key.clone(),
                        since: self.now,
                    };
                    if let Some(t) = self.token_mut(token) {
                        t.messages.push(armed);
                    }
                }
                // Validation allows nothing else after the gateway.
                _ => {}
            }
        }
        Ok(None)
    }

    fn token_mut(&mut self, id: u32) -> Option<&mut crate::model::Token> {
        self.instance.process.tokens.iter_mut().find(|t| t.id == id)
    }
}
