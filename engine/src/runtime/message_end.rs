//! A message end event: it runs as a job (the message is delivered first) and, once the job
//! completes, consumes its token like a none end event: the sub-process around it completes
//! when nothing else of it is left, the process ends when no token is left.

use super::Error;
use super::transition::Transition;
use crate::bpmn::elements::NodeIdx;
use std::collections::VecDeque;

impl Transition<'_> {
    /// Ends the token that was at message end event `node` (already taken) in `scope`.
    pub(crate) async fn end_at_message_end(
        &mut self,
        node: NodeIdx,
        scope: Option<u32>,
    ) -> Result<(), Error> {
        if scope.is_none() {
            self.last_end = Some(self.def.node(node).id.clone());
        }
        let mut queue = VecDeque::new();
        if let Some(s) = scope {
            self.complete_scope_if_done(s, &mut queue)?;
        }
        // A completed sub-process leaves by its flows, all in its parent scope.
        let parent = queue.front().and_then(|a| a.scope);
        let flows = queue.into_iter().map(|a| (a.flow, a.origin)).collect();
        self.arrive(flows, parent).await
    }
}
