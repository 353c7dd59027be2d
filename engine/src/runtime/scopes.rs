//! Scopes: embedded sub-processes. A token that reaches a `<subProcess>` enters a new scope
//! instance (recorded in the process state, so nested and repeated entries are told apart) and
//! starts at its start event; every token inside carries the scope instance's id. When the last
//! token inside has ended (nested scopes included), the scope instance is removed and a token
//! leaves the sub-process by its outgoing flows, in the enclosing scope, in the same transition.
//! Boundary timers on a sub-process are armed on its scope instance when it is entered and
//! disarmed when it completes; an interrupting one ends everything inside in one commit.
//! Message boundary events on a sub-process are subscriptions on its scope instance
//! (`scope_messages`). Event sub-processes are scope instances too, started by their start
//! event's timer (armed on the enclosing scope instance, or the process state at the process
//! level), by a message to their message start event (subscribed likewise) or by a BPMN error
//! thrown in their enclosing scope: interrupting, the rest of that scope ends first.

use super::jobs::JobError;
use super::pipeline::Kind;
use super::timers::{Fired, armed_of, timer_job};
use super::transition::{Arrival, Transition};
use super::{Error, Runtime};
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::timer::Timer;
use crate::bpmn::elements::{NodeIdx, NodeKind, StartEvent};
use crate::ids::{ElementId, JobKey};
use crate::model::{Actor, ArmedTimer, EventType, Instance, Job, ProcessState, ScopeInstance};
use crate::store::CommitError;
use serde_json::json;
use std::collections::VecDeque;

impl Transition<'_> {
    /// A token enters sub-process `sub` from scope instance `parent`: a new scope instance,
    /// with the sub-process's boundary timers armed and its message boundary events'
    /// subscriptions open on it; returns its id.
    pub(super) fn enter_scope(&mut self, sub: NodeIdx, parent: Option<u32>) -> Result<u32, Error> {
        let def = self.def.clone();
        let node = def.node(sub);
        // An inner instance of a multi-instance sub-process: its boundary events are on the
        // body (the whole), not on each inner instance.
        let inner = self.instance.process.body(parent, &node.id).is_some();
        let (id, visit) = self.push_scope(sub, parent, None);
        if !inner {
            self.arm_scope_boundaries(sub, id, visit)?;
            // Message boundaries on a multi-instance activity are refused when it is read.
            let messages = self.scope_boundary_messages(sub)?;
            if let Some(scope) = self.scope_mut(id) {
                scope.messages = messages;
            }
        }
        self.arm_event_subs(Some(id))?;
        Ok(id)
    }

    /// A new scope instance of `element` in `parent` (a multi-instance body when `multi` is
    /// given), recorded; returns its id and the element's visit.
    pub(super) fn push_scope(
        &mut self,
        element: NodeIdx,
        parent: Option<u32>,
        multi: Option<Box<crate::model::MultiInstanceBody>>,
    ) -> (u32, u32) {
        let def = self.def.clone();
        let node = def.node(element);
        let visits = self.instance.visits.entry(node.id.to_string()).or_insert(0);
        *visits += 1;
        let visit = *visits;
        let process = &mut self.instance.process;
        let id = process.next_token;
        process.next_token += 1;
        process.scopes.push(ScopeInstance {
            id,
            element: node.id.clone(),
            parent,
            entered: self.now,
            timers: Vec::new(),
            multi,
            messages: Vec::new(),
        });
        self.record(
            EventType::ScopeEntered,
            Some(node.id.clone()),
            None,
            Some(json!({ "scope": id })),
        );
        (id, visit)
    }

    /// Arms the boundary timers of `element` on its scope instance `id`.
    pub(super) fn arm_scope_boundaries(
        &mut self,
        element: NodeIdx,
        id: u32,
        visit: u32,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        let node = def.node(element);
        for &b in &node.boundaries {
            let boundary = def.node(b);
            if let NodeKind::Boundary(timer) = &boundary.kind {
                let armed = self.arm_timer(&boundary.id, &timer.timer, visit)?;
                if let Some(scope) = self.scope_mut(id) {
                    scope.timers.push(armed);
                }
            }
        }
        Ok(())
    }

    /// Arms the timer start events, and opens the message start events' subscriptions, of the
    /// event sub-processes directly in scope instance `scope` (`None`: the process level, when
    /// the instance is created), on that scope instance.
    pub(crate) fn arm_event_subs(&mut self, scope: Option<u32>) -> Result<(), Error> {
        let def = self.def.clone();
        let element = match scope {
            None => None,
            Some(s) => {
                let Some(x) = self.instance.process.scopes.iter().find(|x| x.id == s) else {
                    return Ok(());
                };
                def.node_by_id(x.element.as_str())
            }
        };
        for esp_idx in def.event_sub_processes(element) {
            self.arm_event_sub_message(esp_idx, scope)?;
            let NodeKind::EventSubProcess(esp) = &def.node(esp_idx).kind else {
                continue;
            };
            let start = def.node(esp.start);
            let NodeKind::StartEvent(StartEvent {
                timer: Some(timer), ..
            }) = &start.kind
            else {
                continue;
            };
            let visits = self
                .instance
                .visits
                .entry(start.id.to_string())
                .or_insert(0);
            *visits += 1;
            let visit = *visits;
            let armed = self.arm_timer(&start.id, timer, visit)?;
            match scope {
                None => self.instance.process.timers.push(armed),
                Some(s) => {
                    if let Some(x) = self.scope_mut(s) {
                        x.timers.push(armed);
                    }
                }
            }
        }
        Ok(())
    }

    /// Event sub-process `esp` starts in scope instance `enclosing` (`None`: the process
    /// level). Interrupting, every other token of the enclosing scope instance ends first
    /// (nested scopes included) and its other event sub-processes can no longer start (its own
    /// boundary timers stay armed). Returns the event sub-process's new scope instance; the
    /// caller moves its token on from the start event.
    pub(super) fn start_event_sub(
        &mut self,
        esp: NodeIdx,
        enclosing: Option<u32>,
    ) -> Result<u32, Error> {
        let def = self.def.clone();
        let node = def.node(esp);
        if matches!(&node.kind, NodeKind::EventSubProcess(e) if e.interrupting) {
            self.terminate(&node.id, enclosing)?;
            let starts: Vec<ArmedTimer> = self
                .scope_timers(enclosing)
                .map(|timers| {
                    let (gone, kept): (Vec<_>, Vec<_>) =
                        std::mem::take(timers).into_iter().partition(|a| {
                            def.node_by_id(a.element.as_str()).is_some_and(|n| {
                                matches!(def.node(n).kind, NodeKind::StartEvent(_))
                            })
                        });
                    *timers = kept;
                    gone
                })
                .unwrap_or_default();
            self.disarm(&starts)?;
            self.close_event_sub_messages(enclosing);
        }
        self.enter_scope(esp, enclosing)
    }

    /// The armed timers of scope instance `scope` (`None`: the process level's).
    fn scope_timers(&mut self, scope: Option<u32>) -> Option<&mut Vec<ArmedTimer>> {
        match scope {
            None => Some(&mut self.instance.process.timers),
            Some(s) => self.scope_mut(s).map(|x| &mut x.timers),
        }
    }

    pub(super) fn scope_mut(&mut self, id: u32) -> Option<&mut ScopeInstance> {
        self.instance.process.scopes.iter_mut().find(|x| x.id == id)
    }

    /// Completes scope instance `scope` if nothing is left in it (no token waiting or on its
    /// way, no nested scope instance): its timers are disarmed and its token leaves the
    /// sub-process by its outgoing flows. A sub-process without outgoing flows then lets its
    /// own enclosing scope complete.
    pub(super) fn complete_scope_if_done(
        &mut self,
        scope: u32,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<(), Error> {
        let mut at = Some(scope);
        while let Some(s) = at {
            let process = &self.instance.process;
            let busy = process.tokens.iter().any(|t| t.scope == Some(s))
                || process.scopes.iter().any(|x| x.parent == Some(s))
                || queue.iter().any(|a| a.scope == Some(s));
            let Some(p) = process.scopes.iter().position(|x| x.id == s) else {
                return Ok(());
            };
            if busy {
                return Ok(());
            }
            let done = self.instance.process.scopes.remove(p);
            self.disarm(&done.timers)?;
            self.record(
                EventType::ScopeLeft,
                Some(done.element.clone()),
                None,
                Some(json!({ "scope": s })),
            );
            let def = self.def.clone();
            let Some(node) = def.node_by_id(done.element.as_str()) else {
                return Ok(());
            };
            if let Some(body) = done.parent
                && self
                    .instance
                    .process
                    .body(Some(body), &done.element)
                    .is_some()
            {
                // An inner instance of a multi-instance sub-process: the body goes on.
                return self.inner_scope_completed(node, body, s, queue);
            }
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
        Ok(())
    }

    /// An event sub-process `esp` of scope instance `enclosing` (`None`: the process) catches an
    /// error or escalation thrown inside that scope: when it interrupts, nothing of the scope
    /// still queued moves on; it starts (`start_event_sub`), the catch is recorded at its start
    /// event as `caught` with `details`, and its start event's flows are queued inside it.
    fn catch_in_event_sub(
        &mut self,
        esp: NodeIdx,
        enclosing: Option<u32>,
        interrupting: bool,
        caught: EventType,
        details: serde_json::Value,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<(), Error> {
        if interrupting {
            let process = &self.instance.process;
            queue.retain(|a| match enclosing {
                None => false,
                Some(s) => !process.scope_within(a.scope, s),
            });
        }
        let inner = self.start_event_sub(esp, enclosing)?;
        let def = self.def.clone();
        let NodeKind::EventSubProcess(e) = &def.node(esp).kind else {
            return Ok(());
        };
        let start = def.node(e.start);
        self.record(caught, Some(start.id.clone()), None, Some(details));
        for &flow in &start.outgoing {
            queue.push_back(Arrival {
                flow,
                origin: None,
                scope: Some(inner),
            });
        }
        Ok(())
    }

    /// An error end event `at` in scope instance `scope` throws `code`: the nearest enclosing
    /// sub-process's error boundary event catching it ends that sub-process (everything inside,
    /// including what is still queued) and its token leaves by the boundary's flow. Validation
    /// guarantees a catcher; were there none, the token simply ends here.
    pub(super) fn throw_error_end(
        &mut self,
        at: &ElementId,
        code: Option<&str>,
        scope: Option<u32>,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<(), Error> {
        let details = json!({ "errorCode": code, "thrownBy": at.as_str() });
        self.record(
            EventType::ErrorThrown,
            Some(at.clone()),
            None,
            Some(details.clone()),
        );
        let def = self.def.clone();
        let caught = error_catcher(&def, &self.instance.process, scope, code);
        if let Some(Catcher::EventSub { enclosing, esp }) = caught {
            // An error start event always interrupts.
            self.catch_in_event_sub(esp, enclosing, true, EventType::ErrorCaught, details, queue)?;
            return Ok(());
        }
        let Some(Catcher::Boundary {
            scope: caught_in,
            boundary,
        }) = caught
        else {
            // A child of a call activity: nothing in it catches the error, so it ends, and
            // the error goes to its parent's call activity.
            if self.instance.process.parent.is_some() {
                self.uncaught_error = Some(code.map(str::to_string));
                queue.clear();
                self.terminate(at, None)?;
                self.last_end = Some(at.clone());
                return Ok(());
            }
            if let Some(s) = scope {
                self.complete_scope_if_done(s, queue)?;
            }
            return Ok(());
        };
        let process = &self.instance.process;
        queue.retain(|a| !process.scope_within(a.scope, caught_in));
        let node = def.node(boundary);
        let parent = self.interrupt_scope(caught_in, &node.id, None)?;
        self.record(
            EventType::ErrorCaught,
            Some(node.id.clone()),
            None,
            Some(details),
        );
        for &flow in &node.outgoing {
            queue.push_back(Arrival {
                flow,
                origin: None,
                scope: parent,
            });
        }
        Ok(())
    }

    /// An escalation thrown at `at` in scope instance `scope` with `code`: the nearest enclosing
    /// sub-process with an escalation boundary event for it catches it. Interrupting, that
    /// sub-process ends (everything inside, queued moves included); non-interrupting, a token
    /// leaves by the boundary's flow and the sub-process goes on. Returns whether the throwing
    /// token goes on (it does unless its scope was interrupted): uncaught, nothing happens.
    pub(super) fn escalate(
        &mut self,
        at: &ElementId,
        code: Option<&str>,
        scope: Option<u32>,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<bool, Error> {
        let details = json!({ "escalationCode": code, "thrownBy": at.as_str() });
        self.record(
            EventType::EscalationThrown,
            Some(at.clone()),
            None,
            Some(details.clone()),
        );
        let def = self.def.clone();
        let mut found = None;
        let mut here = scope;
        let process = &self.instance.process;
        let mut event_sub = None;
        for _ in 0..=process.scopes.len() {
            let Some(id) = here else {
                // At last, an escalation event sub-process of the process.
                event_sub = escalation_event_sub(&def, None, code).map(|esp| (None, esp));
                break;
            };
            let Some(instance) = process.scopes.iter().find(|x| x.id == id) else {
                break;
            };
            if let Some(sub) = def.node_by_id(instance.element.as_str()) {
                if let Some(esp) = escalation_event_sub(&def, Some(sub), code) {
                    event_sub = Some((Some(id), esp));
                    break;
                }
                let boundary =
                    catcher_of(
                        def.node(sub).boundaries.iter().copied(),
                        code,
                        |b| match &def.node(b).kind {
                            NodeKind::EscalationBoundary(e) => Some(e.code.as_deref()),
                            _ => None,
                        },
                    );
                if let Some(b) = boundary
                    && process.body_of_inner(instance).is_none()
                {
                    found = Some((instance.id, instance.parent, b));
                    break;
                }
            }
            here = instance.parent;
        }
        if let Some((enclosing, esp)) = event_sub {
            let NodeKind::EventSubProcess(e) = &def.node(esp).kind else {
                return Ok(true);
            };
            let interrupting = e.interrupting;
            self.catch_in_event_sub(
                esp,
                enclosing,
                interrupting,
                EventType::EscalationCaught,
                details,
                queue,
            )?;
            return Ok(!interrupting);
        }
        let Some((caught_in, parent, boundary)) = found else {
            return Ok(true);
        };
        let node = def.node(boundary);
        let interrupting =
            matches!(&node.kind, NodeKind::EscalationBoundary(e) if e.cancel_activity);
        if interrupting {
            let process = &self.instance.process;
            queue.retain(|a| !process.scope_within(a.scope, caught_in));
            self.interrupt_scope(caught_in, &node.id, None)?;
        }
        self.record(
            EventType::EscalationCaught,
            Some(node.id.clone()),
            None,
            Some(details),
        );
        for &flow in &node.outgoing {
            queue.push_back(Arrival {
                flow,
                origin: None,
                scope: parent,
            });
        }
        Ok(!interrupting)
    }

    /// An interrupting boundary event `by` on a scope instance's sub-process: everything inside
    /// ends (tasks abandoned, jobs cancelled, timers disarmed, nested scopes gone), then the
    /// scope instance itself without completing, with its other timers (`except`: the job of the
    /// timer firing now, which its own commit removes). Returns the enclosing scope instance,
    /// where the boundary's token goes on.
    pub(crate) fn interrupt_scope(
        &mut self,
        scope: u32,
        by: &ElementId,
        except: Option<JobKey>,
    ) -> Result<Option<u32>, Error> {
        self.terminate(by, Some(scope))?;
        let Some(p) = self
            .instance
            .process
            .scopes
            .iter()
            .position(|x| x.id == scope)
        else {
            return Ok(None);
        };
        let done = self.instance.process.scopes.remove(p);
        let others: Vec<_> = done
            .timers
            .iter()
            .filter(|a| Some(a.job) != except)
            .cloned()
            .collect();
        self.disarm(&others)?;
        self.record(
            EventType::ScopeLeft,
            Some(done.element.clone()),
            None,
            Some(json!({ "scope": scope, "interruptedBy": by.as_str() })),
        );
        Ok(done.parent)
    }
}

impl Runtime {
    /// Fires the timer start event of an event sub-process, armed on scope instance `enclosing`
    /// (`None`: the process level), in one commit that removes its job. Interrupting, every
    /// other token of the enclosing scope instance ends (nested scopes included) and its other
    /// event sub-processes are disarmed; non-interrupting, a cycle is armed again. Then a scope
    /// instance of the event sub-process starts at its start event. `None`: the instance changed
    /// meanwhile; read it again.
    pub(super) async fn fire_event_sub_timer(
        &self,
        job: &Job,
        rev: u64,
        instance: Instance,
        enclosing: Option<u32>,
    ) -> Result<Option<Fired>, JobError> {
        let loaded = self.resolve(instance, None)?;
        let def = loaded.def.clone();
        let start = def.node_by_id(job.element_id.as_str());
        let esp = start.and_then(|s| def.node(s).scope);
        let (Some(start), Some(esp_idx)) = (start, esp) else {
            return self.drop_stale(job, rev).await.map(|_| Some(Fired::Stale));
        };
        let NodeKind::EventSubProcess(esp) = &def.node(esp_idx).kind else {
            return self.drop_stale(job, rev).await.map(|_| Some(Fired::Stale));
        };
        let start_node = def.node(start);
        let now = self.inner.clock.now();
        let mut t = self.begin(loaded, Actor::system("timer"));
        t.prelude.delete_job(job, rev); // check 0: the lease is still ours
        t.record(
            EventType::TimerFired,
            Some(start_node.id.clone()),
            None,
            Some(json!({ "due": armed_of(job).due.to_rfc3339() })),
        );
        if let Some(timers) = t.scope_timers(enclosing) {
            timers.retain(|a| a.job != job.key);
        }
        if !esp.interrupting
            && let Some(next) = Timer::next_tick(&armed_of(job), now)
        {
            let key = JobKey::new_time_ordered();
            t.new_jobs
                .push(timer_job(&t, key, &start_node.id, job.visit, &next));
            if let Some(timers) = t.scope_timers(enclosing) {
                timers.push(ArmedTimer {
                    element: start_node.id.clone(),
                    job: key,
                    due: next.due,
                });
            }
        }
        let inner = t.start_event_sub(esp_idx, enclosing)?;
        let out = start_node
            .outgoing
            .iter()
            .map(|&f| (f, Some(start)))
            .collect();
        t.arrive(out, Some(inner)).await?;
        t.check_written()?;
        match self.commit(Kind::Complete, t).await {
            Ok(_) => Ok(Some(Fired::Moved)),
            Err(CommitError::Conflict(0)) => Err(JobError::LeaseLost(job.key)),
            Err(CommitError::Conflict(_)) => Ok(None),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }

    /// Fires a boundary timer armed on a sub-process's scope instance, in one commit that
    /// removes its job: interrupting, everything inside ends and a token leaves by the
    /// boundary's flow; non-interrupting, a token leaves by it and the sub-process goes on (a
    /// cycle armed again). `None`: the instance changed meanwhile; read it again.
    pub(super) async fn fire_scope_timer(
        &self,
        job: &Job,
        rev: u64,
        instance: Instance,
        scope: ScopeInstance,
    ) -> Result<Option<Fired>, JobError> {
        let loaded = self.resolve(instance.clone(), None)?;
        let def = loaded.def.clone();
        let boundary = def.node_by_id(job.element_id.as_str());
        if boundary.is_some_and(|b| matches!(def.node(b).kind, NodeKind::StartEvent(_))) {
            // The timer start event of an event sub-process in the sub-process.
            return self
                .fire_event_sub_timer(job, rev, instance, Some(scope.id))
                .await;
        }
        let Some((node_idx, NodeKind::Boundary(boundary))) =
            boundary.map(|b| (b, &def.node(b).kind))
        else {
            return self.drop_stale(job, rev).await.map(|_| Some(Fired::Stale));
        };
        let node = def.node(node_idx);
        let now = self.inner.clock.now();
        let mut t = self.begin(loaded, Actor::system("timer"));
        t.prelude.delete_job(job, rev); // check 0: the lease is still ours
        t.record(
            EventType::TimerFired,
            Some(node.id.clone()),
            None,
            Some(json!({ "due": armed_of(job).due.to_rfc3339() })),
        );
        if boundary.cancel_activity {
            t.interrupt_scope(scope.id, &node.id, Some(job.key))?;
        } else {
            let next = Timer::next_tick(&armed_of(job), now);
            let again = next.map(|next| {
                let key = JobKey::new_time_ordered();
                (
                    timer_job(&t, key, &node.id, job.visit, &next),
                    key,
                    next.due,
                )
            });
            if let Some(s) = t.scope_mut(scope.id) {
                s.timers.retain(|a| a.job != job.key);
                if let Some((_, key, due)) = &again {
                    s.timers.push(ArmedTimer {
                        element: node.id.clone(),
                        job: *key,
                        due: *due,
                    });
                }
            }
            if let Some((again, _, _)) = again {
                t.new_jobs.push(again);
            }
        }
        let out = node.outgoing.iter().map(|&f| (f, Some(node_idx))).collect();
        t.arrive(out, scope.parent).await?;
        t.check_written()?;
        match self.commit(Kind::Complete, t).await {
            Ok(_) => Ok(Some(Fired::Moved)),
            Err(CommitError::Conflict(0)) => Err(JobError::LeaseLost(job.key)),
            Err(CommitError::Conflict(_)) => Ok(None),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }
}

/// The BPMN catching rule, in one place: of `candidates`, the first whose catch (`code_of`:
/// `None` when it catches nothing of this kind, `Some(None)` for a catch-all, `Some(Some(c))`
/// for code `c`) names `code`, else the first catch-all.
fn catcher_of<'d>(
    candidates: impl Iterator<Item = NodeIdx> + Clone,
    code: Option<&str>,
    code_of: impl Fn(NodeIdx) -> Option<Option<&'d str>>,
) -> Option<NodeIdx> {
    let exact = candidates
        .clone()
        .find(|&n| code.is_some() && code_of(n) == Some(code));
    exact.or_else(|| candidates.clone().find(|&n| code_of(n) == Some(None)))
}

/// The error boundary event on `activity` that catches `code`: the one naming the code wins over
/// one that catches every code.
pub(super) fn error_boundary(
    def: &ProcessDefinition,
    activity: NodeIdx,
    code: Option<&str>,
) -> Option<NodeIdx> {
    catcher_of(
        def.node(activity).boundaries.iter().copied(),
        code,
        |b| match &def.node(b).kind {
            NodeKind::ErrorBoundary(e) => Some(e.code.as_deref()),
            _ => None,
        },
    )
}

/// What catches a BPMN error thrown in a scope instance.
pub(super) enum Catcher {
    /// An error boundary event on the sub-process of scope instance `scope`.
    Boundary { scope: u32, boundary: NodeIdx },
    /// An event sub-process with an error start event, in scope instance `enclosing` (`None`:
    /// the process level).
    EventSub {
        enclosing: Option<u32>,
        esp: NodeIdx,
    },
}

/// The event sub-process directly in `scope` (a sub-process; `None`: the process level) whose
/// error start event catches `code`: the one naming the code wins over one that catches every
/// code. `thrown_in` (the event sub-process the error was thrown in, if any) is not offered it.
fn error_event_sub(
    def: &ProcessDefinition,
    scope: Option<NodeIdx>,
    code: Option<&str>,
    thrown_in: Option<NodeIdx>,
) -> Option<NodeIdx> {
    let esps = def.event_sub_processes(scope);
    let offered = esps.iter().copied().filter(|&e| Some(e) != thrown_in);
    catcher_of(offered, code, |e| match &def.node(e).kind {
        NodeKind::EventSubProcess(x) => x.error.as_ref().map(|c| c.as_deref()),
        _ => None,
    })
}

/// The event sub-process directly in `scope` (`None`: the process level) whose escalation start
/// event catches `code`: the one naming the code wins over one that catches every code.
fn escalation_event_sub(
    def: &ProcessDefinition,
    scope: Option<NodeIdx>,
    code: Option<&str>,
) -> Option<NodeIdx> {
    let esps = def.event_sub_processes(scope);
    catcher_of(esps.iter().copied(), code, |e| match &def.node(e).kind {
        NodeKind::EventSubProcess(x) => x.escalation.as_ref().map(|c| c.as_deref()),
        _ => None,
    })
}

/// The nearest catcher of `code` around scope instance `scope` (itself included), innermost
/// first: in each scope instance, an error event sub-process inside it, then an error boundary
/// event on its sub-process; at last an error event sub-process of the process. An error thrown
/// inside an event sub-process is never offered to that same event sub-process (it would
/// interrupt and restart itself): it goes on outwards.
pub(super) fn error_catcher(
    def: &ProcessDefinition,
    process: &ProcessState,
    scope: Option<u32>,
    code: Option<&str>,
) -> Option<Catcher> {
    let mut at = scope;
    // The event sub-process whose scope instance the walk just left.
    let mut left: Option<NodeIdx> = None;
    // Each step goes to an enclosing scope instance; the bound guards a corrupted record.
    for _ in 0..=process.scopes.len() {
        let Some(id) = at else {
            return error_event_sub(def, None, code, left).map(|esp| Catcher::EventSub {
                enclosing: None,
                esp,
            });
        };
        let instance = process.scopes.iter().find(|x| x.id == id)?;
        let thrown_in = left.take();
        if let Some(sub) = def.node_by_id(instance.element.as_str()) {
            if matches!(def.node(sub).kind, NodeKind::EventSubProcess(_)) {
                left = Some(sub);
            }
            if let Some(esp) = error_event_sub(def, Some(sub), code, thrown_in) {
                return Some(Catcher::EventSub {
                    enclosing: Some(id),
                    esp,
                });
            }
            // An inner instance's boundary events are its body's: found at the next step.
            if let Some(b) = error_boundary(def, sub, code)
                && process.body_of_inner(instance).is_none()
            {
                return Some(Catcher::Boundary {
                    scope: id,
                    boundary: b,
                });
            }
        }
        at = instance.parent;
    }
    None
}
