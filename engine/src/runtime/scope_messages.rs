//! Messages caught by a scope rather than by a token: message boundary events on sub-processes
//! and the message start events of event sub-processes.
//!
//! - Their subscriptions are armed on the scope instance (`ScopeInstance::messages`) when it
//!   is entered (a boundary on its sub-process, an event sub-process's start directly in it),
//!   or on the process (`ProcessState::messages`) when the instance is created (a process-level
//!   event sub-process's start), the correlation key evaluated then. Their subscription records
//!   carry the scope instance's id (or [`PROCESS_LEVEL`]) as their token; they are written and
//!   deleted with the instance state like every other subscription
//!   (`messages::write_difference`), so a scope that completes or is interrupted closes them
//!   in that commit.
//! - A message for a boundary on a sub-process: interrupting, everything inside ends (tokens,
//!   jobs, timers, subscriptions, nested scopes) and a token leaves by the boundary's flow in
//!   the enclosing scope; non-interrupting, a token leaves by it and the sub-process goes on
//!   with its subscription open.
//! - A message for an event sub-process's start: a scope instance of the event sub-process
//!   starts (`start_event_sub`). Interrupting, the rest of the enclosing scope ends first and
//!   its event sub-processes' subscriptions and timers close; non-interrupting, its
//!   subscription stays open for the next message.
//! - They take messages published from the moment they open: a buffered message goes only to
//!   catch events and receive tasks (as for boundary events on tasks).

use super::Error;
use super::transition::Transition;
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::{MessageBoundaryEvent, MessageCatch, NodeIdx, NodeKind};
use crate::ids::ElementId;
use crate::model::{ArmedMessage, Instance, PROCESS_LEVEL, ScopeInstance, Token};
use crate::store::messages::SubscriptionRecord;

/// What a subscription's message reaches.
pub(super) enum Caught<'d> {
    /// A catch event or receive task (or a catch event after an event-based gateway): its
    /// token goes on.
    Catch { catch: &'d MessageCatch, token: u32 },
    /// A message boundary event on the task `holder` waits at.
    TaskBoundary {
        boundary: &'d MessageBoundaryEvent,
        holder: Token,
    },
    /// A message boundary event on the sub-process of scope instance `scope`.
    ScopeBoundary {
        boundary: &'d MessageBoundaryEvent,
        scope: ScopeInstance,
    },
    /// The message start event of event sub-process `esp`, in scope instance `enclosing`
    /// (`None`: the process level).
    EventSub {
        esp: NodeIdx,
        catch: &'d MessageCatch,
        enclosing: Option<u32>,
    },
}

impl<'d> Caught<'d> {
    /// What subscription `sub` of `instance` still waits at `node`, if it is still open.
    pub(super) fn find(
        def: &'d ProcessDefinition,
        node: NodeIdx,
        instance: &Instance,
        sub: &SubscriptionRecord,
    ) -> Option<Self> {
        let process = &instance.process;
        let token = || process.tokens.iter().find(|t| t.id == sub.token).cloned();
        let armed_on = |list: &[ArmedMessage]| list.iter().any(|m| m.element == sub.element);
        match &def.node(node).kind {
            NodeKind::MessageCatch(catch) => token().map(|_| Caught::Catch {
                catch,
                token: sub.token,
            }),
            NodeKind::MessageBoundary(boundary)
                if matches!(def.node(boundary.attached_to).kind, NodeKind::SubProcess(_)) =>
            {
                let scope = process.scopes.iter().find(|x| x.id == sub.token)?;
                armed_on(&scope.messages).then(|| Caught::ScopeBoundary {
                    boundary,
                    scope: scope.clone(),
                })
            }
            NodeKind::MessageBoundary(boundary) => {
                token().map(|holder| Caught::TaskBoundary { boundary, holder })
            }
            NodeKind::StartEvent(_) => {
                let esp = def.node(node).scope?;
                let NodeKind::EventSubProcess(e) = &def.node(esp).kind else {
                    return None;
                };
                let catch = e.message.as_ref()?;
                let (enclosing, armed) = if sub.token == PROCESS_LEVEL {
                    (None, &process.messages)
                } else {
                    let scope = process.scopes.iter().find(|x| x.id == sub.token)?;
                    (Some(scope.id), &scope.messages)
                };
                armed_on(armed).then_some(Caught::EventSub {
                    esp,
                    catch,
                    enclosing,
                })
            }
            _ => None,
        }
    }

    /// The catch whose data type the message's data is merged into.
    pub(super) fn catch(&self) -> &'d MessageCatch {
        match self {
            Caught::Catch { catch, .. } | Caught::EventSub { catch, .. } => catch,
            Caught::TaskBoundary { boundary, .. } | Caught::ScopeBoundary { boundary, .. } => {
                &boundary.catch
            }
        }
    }

    /// A catch event or receive task (the only ones a buffered message goes to).
    pub(super) fn is_catch(&self) -> bool {
        matches!(self, Caught::Catch { .. })
    }
}

impl Transition<'_> {
    /// A subscription for `catch` at `element`, its correlation key evaluated now.
    pub(crate) fn armed_message(
        &mut self,
        element: &ElementId,
        catch: &MessageCatch,
    ) -> Result<ArmedMessage, Error> {
        Ok(ArmedMessage {
            element: element.clone(),
            message: catch.message.clone(),
            correlation_key: self.correlation_key(element, catch)?,
            since: self.now,
        })
    }

    /// The subscriptions of the message boundary events on sub-process `sub`, for its new scope
    /// instance.
    pub(super) fn scope_boundary_messages(
        &mut self,
        sub: NodeIdx,
    ) -> Result<Vec<ArmedMessage>, Error> {
        let def = self.def.clone();
        let mut armed = Vec::new();
        for &b in &def.node(sub).boundaries {
            let node = def.node(b);
            if let NodeKind::MessageBoundary(boundary) = &node.kind {
                armed.push(self.armed_message(&node.id, &boundary.catch)?);
            }
        }
        Ok(armed)
    }

    /// Opens the subscription of event sub-process `esp`'s message start event, if it has one,
    /// on scope instance `scope` (`None`: the process).
    pub(super) fn arm_event_sub_message(
        &mut self,
        esp: NodeIdx,
        scope: Option<u32>,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        let NodeKind::EventSubProcess(e) = &def.node(esp).kind else {
            return Ok(());
        };
        let Some(catch) = &e.message else {
            return Ok(());
        };
        let armed = self.armed_message(&def.node(e.start).id, catch)?;
        match scope {
            None => self.instance.process.messages.push(armed),
            Some(s) => {
                if let Some(x) = self.scope_mut(s) {
                    x.messages.push(armed);
                }
            }
        }
        Ok(())
    }

    /// An interrupting event sub-process started in scope instance `enclosing` (`None`: the
    /// process): the message starts of its event sub-processes close (boundary events on its
    /// sub-process stay open).
    pub(super) fn close_event_sub_messages(&mut self, enclosing: Option<u32>) {
        let def = self.def.clone();
        let is_start = |m: &ArmedMessage| {
            def.node_by_id(m.element.as_str())
                .is_some_and(|n| matches!(def.node(n).kind, NodeKind::StartEvent(_)))
        };
        match enclosing {
            None => self.instance.process.messages.retain(|m| !is_start(m)),
            Some(s) => {
                if let Some(x) = self.scope_mut(s) {
                    x.messages.retain(|m| !is_start(m));
                }
            }
        }
    }

    /// Moves the instance for a message that `caught` takes at `element`: returns the scope
    /// instance the token leaving `element` (by its outgoing flows) goes on in.
    pub(super) fn catch_by(
        &mut self,
        caught: Caught<'_>,
        element: &ElementId,
    ) -> Result<Option<u32>, Error> {
        match caught {
            Caught::Catch { token, .. } => self.take_task_token(token),
            Caught::TaskBoundary { boundary, holder } if boundary.cancel_activity => {
                let attached = self.def.node(boundary.attached_to).id.clone();
                self.interrupt_for_message(&holder, element, &attached)
            }
            // Non-interrupting: the task goes on, and so does its subscription.
            Caught::TaskBoundary { holder, .. } => Ok(holder.scope),
            Caught::ScopeBoundary { boundary, scope } if boundary.cancel_activity => {
                self.interrupt_scope(scope.id, element, None)
            }
            Caught::ScopeBoundary { scope, .. } => Ok(scope.parent),
            Caught::EventSub { esp, enclosing, .. } => {
                self.start_event_sub(esp, enclosing).map(Some)
            }
        }
    }
}
