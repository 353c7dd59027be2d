//! A [`Transition`]: everything one command does to one instance, computed in memory (hooks
//! included) and then committed in one atomic write by the pipeline ([`super::pipeline`]).
//! Every kind of change goes through it: create, next, data writes, resume, server actions, job
//! completion and failure.
//!
//! Moving tokens, from the arrival of tokens to the next wait states:
//! A token that arrives at a user task waits there; at a service task it waits for a job that
//! is created in the same commit (the outbox); at an exclusive gateway it takes the one flow the
//! conditions pick; at a parallel gateway it forks, or parks until every incoming flow has
//! delivered a token and then forks; at an inclusive gateway it takes every flow whose condition
//! holds, or parks until no other token can reach it (`super::inclusive`); at an end event it
//! is consumed. When no token is left the
//! process has ended.

use super::data::DataCache;
use super::gateway;
use super::pipeline::Loaded;
use super::{Error, Inner};
use crate::app::AppSpec;
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::{FlowIdx, NodeIdx, NodeKind};
use crate::hooks::{EventKind, HookContext, HookError, TaskRef};
use crate::ids::{DataTypeId, ElementId, JobKey};
use crate::model::{
    Actor, EventType, HistoryEvent, Instance, Job, JobKind, JobState, TaskInfo, Token, TokenAt,
};
use crate::store::Txn;
use crate::time::Timestamp;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

/// A token on its way along a flow, in the scope instance it moves in.
pub(super) struct Arrival {
    pub flow: FlowIdx,
    /// The task it came from, for `dataModel` defaults at gateways.
    pub origin: Option<NodeIdx>,
    pub scope: Option<u32>,
}

/// Which hook point to run.
pub(crate) enum HookPoint<'a> {
    InstanceCreated,
    TaskStarted(&'a TaskRef),
    TaskEnding(&'a TaskRef, &'a str),
    TaskAbandoned(&'a TaskRef, &'a str),
    ProcessEnded,
    DataWritten(&'a str),
}

/// One transition being computed.
pub(crate) struct Transition<'a> {
    pub rt: &'a Inner,
    pub def: Arc<ProcessDefinition>,
    pub app: Arc<AppSpec>,
    pub instance: Instance,
    /// The version the instance had when read; `None` for a new instance. The commit checks
    /// that it is still the version stored (the optimistic version check).
    pub read_version: Option<u64>,
    /// Checks and writes that go before the transition's own in its commit (a job's lease
    /// check, a cancelled job, an idempotency key). Their check indexes come first, so a caller
    /// can tell which check failed.
    pub prelude: Txn,
    pub data: DataCache,
    pub history: Vec<HistoryEvent>,
    pub new_jobs: Vec<Job>,
    pub now: Timestamp,
    pub actor: Actor,
    /// The action that completed the task before the gateways now being evaluated.
    pub gateway_action: Option<String>,
    /// Data types the engine itself wrote (signatures): not checked against the app's declared
    /// data types and schemas.
    pub engine_written: BTreeSet<DataTypeId>,
    steps: usize,
    pub(super) last_end: Option<ElementId>,
    /// The message subscriptions the instance held when read (`super::messages`).
    subscribed: Vec<crate::store::messages::SubscriptionRecord>,
    /// The signal subscriptions the instance held when read (`super::signals`).
    signalled: Vec<crate::store::signals::SignalSubscription>,
    /// The broadcasts this transition threw, delivered after its commit.
    pub(crate) thrown_signals: Vec<super::signals::Thrown>,
    /// The last end event reached inside a scope: the process's end event when the process
    /// ends with that scope (an event sub-process, or a sub-process with no outgoing flow).
    last_inner_end: Option<ElementId>,
    /// The index of the multi-instance inner instance `enter_task` is starting
    /// (`super::multi_instance`).
    pub(super) entering_inner: Option<u32>,
    /// The scope instance of the arrival being moved (gateways read the multi-instance
    /// variables of the inner instance it is in).
    pub(super) arriving_scope: Option<u32>,
    /// The call records this transition writes (`super::calls`).
    pub(super) calls: Vec<crate::store::calls::CallDelivery>,
    /// The children the instance waited for when read.
    pub(super) called_before: Vec<crate::ids::InstanceId>,
    /// Children whose end this transition delivers (their tokens leave, no `Cancel`).
    pub(super) calls_ended: Vec<crate::ids::InstanceId>,
    /// A BPMN error nothing in the instance caught (a child's goes to its parent).
    pub(super) uncaught_error: Option<Option<String>>,
}

impl<'a> Transition<'a> {
    /// A transition of `loaded`, read at `read_version` (`None`: a new instance).
    pub(crate) fn new(
        rt: &'a Inner,
        loaded: Loaded,
        read_version: Option<u64>,
        data: DataCache,
        actor: Actor,
        now: Timestamp,
    ) -> Self {
        let Loaded { instance, def, app } = loaded;
        let subscribed = super::messages::subscriptions_of(&instance);
        // A new instance (no version read) holds no subscription yet, though the process-level
        // event sub-processes of the empty instance would derive one.
        let signalled = match read_version {
            Some(_) => super::signals::subscriptions_of(&instance, &def),
            None => Vec::new(),
        };
        let called_before = super::calls::children_of(&instance.process);
        Transition {
            rt,
            def,
            app,
            instance,
            read_version,
            prelude: Txn::new(),
            data,
            history: Vec::new(),
            new_jobs: Vec::new(),
            now,
            actor,
            gateway_action: None,
            engine_written: BTreeSet::new(),
            steps: 0,
            last_end: None,
            subscribed,
            signalled,
            thrown_signals: Vec::new(),
            last_inner_end: None,
            entering_inner: None,
            arriving_scope: None,
            calls: Vec::new(),
            called_before,
            calls_ended: Vec::new(),
            uncaught_error: None,
        }
    }

    /// Appends a history event performed by this transition's actor.
    pub(crate) fn record(
        &mut self,
        event_type: EventType,
        element: Option<ElementId>,
        action: Option<String>,
        details: Option<serde_json::Value>,
    ) {
        let seq = self.instance.history_len;
        self.instance.history_len += 1;
        self.history.push(HistoryEvent {
            seq,
            event_type,
            element_id: element,
            occurred: self.now,
            performed_by: Some(self.actor.clone()),
            action,
            details,
        });
    }

    /// What a hook (or a server action) sees of this transition: the instance as it stands in
    /// it, and its data to read and write.
    pub(crate) fn hook_context(&mut self) -> HookContext<'_> {
        HookContext {
            instance: &self.instance,
            data: &mut self.data,
            app: &self.app,
            definition: &self.def,
            actor: &self.actor,
            now: self.now,
        }
    }

    /// Runs every hook registered for this app at `point`, in order, each with the timeout.
    pub(crate) async fn run_hooks(&mut self, point: HookPoint<'_>) -> Result<(), Error> {
        let rt: &'a Inner = self.rt;
        let app = self.app.clone();
        let timeout = rt.registry.hook_timeout();
        for hook in rt.registry.hooks_for(&app.id) {
            let mut ctx = self.hook_context();
            let call = async {
                match &point {
                    HookPoint::InstanceCreated => hook.instance_created(&mut ctx).await,
                    HookPoint::TaskStarted(t) => hook.task_started(&mut ctx, t).await,
                    HookPoint::TaskEnding(t, a) => hook.task_ending(&mut ctx, t, a).await,
                    HookPoint::TaskAbandoned(t, a) => hook.task_abandoned(&mut ctx, t, a).await,
                    HookPoint::ProcessEnded => hook.process_ended(&mut ctx).await,
                    HookPoint::DataWritten(d) => hook.data_written(&mut ctx, d).await,
                }
            };
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(())) => {}
                Ok(Err(HookError::Rejected(issues))) => {
                    return Err(Error::Refused {
                        hook: hook.name().to_string(),
                        issues,
                    });
                }
                Ok(Err(HookError::Failed(detail))) => {
                    return Err(Error::HookFailed {
                        hook: hook.name().to_string(),
                        detail,
                    });
                }
                Err(_) => {
                    return Err(Error::HookTimeout {
                        hook: hook.name().to_string(),
                        millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    });
                }
            }
        }
        Ok(())
    }

    /// Tokens arrive over `flows` (with the task each came from, for `dataModel` defaults) in
    /// scope instance `scope` (`None`: the process level; every flow leaves one element, so
    /// they share its scope) and move until every one waits or is consumed.
    pub(crate) async fn arrive(
        &mut self,
        flows: Vec<(FlowIdx, Option<NodeIdx>)>,
        scope: Option<u32>,
    ) -> Result<(), Error> {
        let queue: VecDeque<Arrival> = flows
            .into_iter()
            .map(|(flow, origin)| Arrival {
                flow,
                origin,
                scope,
            })
            .collect();
        self.arrive_all(queue).await
    }

    /// [`arrive`](Self::arrive) for arrivals that may be in different scope instances.
    pub(super) async fn arrive_all(&mut self, mut queue: VecDeque<Arrival>) -> Result<(), Error> {
        let def = self.def.clone();
        let limit = self.rt.config.max_automatic_steps;
        loop {
            let Some(Arrival {
                flow,
                origin,
                scope,
            }) = queue.pop_front()
            else {
                // Every token is at rest: a converging inclusive gateway that no token can
                // still reach fires now, in the scope instance its tokens wait in.
                let Some((join, scope)) = self.fire_inclusive_join() else {
                    break;
                };
                self.arriving_scope = scope;
                for out in gateway::decide_inclusive(self, join, None)? {
                    queue.push_back(Arrival {
                        flow: out,
                        origin: None,
                        scope,
                    });
                }
                continue;
            };
            let target = def.flow(flow).target;
            self.arriving_scope = scope;
            self.steps += 1;
            if self.steps > limit {
                return Err(Error::LoopGuard {
                    element: def.node(target).id.to_string(),
                    steps: self.steps - 1,
                });
            }
            let node = def.node(target);
            let onward = |queue: &mut VecDeque<Arrival>, origin| {
                for &out in &node.outgoing {
                    queue.push_back(Arrival {
                        flow: out,
                        origin,
                        scope,
                    });
                }
            };
            match &node.kind {
                NodeKind::UserTask(_)
                | NodeKind::ServiceTask(_)
                | NodeKind::SubProcess(_)
                | NodeKind::CallActivity(_)
                    if node.multi.is_some() =>
                {
                    self.enter_multi_instance(target, scope, &mut queue).await?;
                }
                NodeKind::EndEvent(end) if end.throws.is_some() => {
                    let code = end.throws.as_ref().and_then(|e| e.code.clone());
                    self.throw_error_end(&node.id, code.as_deref(), scope, &mut queue)?;
                }
                NodeKind::EndEvent(end) => {
                    if scope.is_none() {
                        self.last_end = Some(node.id.clone());
                    } else {
                        self.last_inner_end = Some(node.id.clone());
                    }
                    if end.terminate {
                        // Every other token of the scope ends here too (of the process, at
                        // the top), and nothing of it still queued moves on.
                        let process = &self.instance.process;
                        queue.retain(|a| match scope {
                            None => false,
                            Some(s) => !process.scope_within(a.scope, s),
                        });
                        self.terminate(&node.id, scope)?;
                    }
                    if let Some(s) = scope {
                        self.complete_scope_if_done(s, &mut queue)?;
                    }
                }
                NodeKind::Throw(_) | NodeKind::LinkCatch(_) => onward(&mut queue, origin),
                NodeKind::LinkThrow(link) => {
                    for &out in &def.node(link.target).outgoing {
                        queue.push_back(Arrival {
                            flow: out,
                            origin,
                            scope,
                        });
                    }
                }
                NodeKind::UserTask(_) => self.enter_task(target, None, scope).await?,
                NodeKind::ServiceTask(task) => {
                    let task_type = task.task_type.clone().unwrap_or_default();
                    self.enter_task(target, Some(task_type), scope).await?;
                }
                NodeKind::ExclusiveGateway(_) => {
                    let chosen = gateway::decide(self, target, origin).await?;
                    queue.push_back(Arrival {
                        flow: chosen,
                        origin,
                        scope,
                    });
                }
                NodeKind::InclusiveGateway(_) => {
                    if node.incoming.len() > 1 {
                        self.park_at_inclusive(target, flow, scope);
                        continue;
                    }
                    for out in gateway::decide_inclusive(self, target, origin)? {
                        queue.push_back(Arrival {
                            flow: out,
                            origin,
                            scope,
                        });
                    }
                }
                NodeKind::ParallelGateway(_) => {
                    if node.incoming.len() > 1 && !self.join(target, flow, scope) {
                        continue;
                    }
                    onward(&mut queue, None);
                }
                NodeKind::TimerCatch(catch) => {
                    let visits = self.instance.visits.entry(node.id.to_string()).or_insert(0);
                    *visits += 1;
                    let visit = *visits;
                    let armed = self.arm_timer(&node.id, &catch.timer, visit)?;
                    self.push_token(
                        TokenAt::Timer {
                            element: node.id.clone(),
                            job: armed.job,
                            due: armed.due,
                        },
                        scope,
                    );
                }
                NodeKind::SignalCatch(catch) => {
                    self.push_token(
                        TokenAt::Signal {
                            element: node.id.clone(),
                            signal: catch.signal.clone(),
                            since: self.now,
                        },
                        scope,
                    );
                }
                NodeKind::SignalThrow(throw) => {
                    self.throw_signal(&node.id, &throw.signal)?;
                    if !throw.end {
                        onward(&mut queue, origin);
                    } else {
                        if scope.is_none() {
                            self.last_end = Some(node.id.clone());
                        } else {
                            self.last_inner_end = Some(node.id.clone());
                        }
                        if let Some(s) = scope {
                            self.complete_scope_if_done(s, &mut queue)?;
                        }
                    }
                }
                NodeKind::MessageCatch(catch) => {
                    if self.catch_message(target, catch, scope)? {
                        onward(&mut queue, Some(target));
                    }
                }
                NodeKind::EventGateway => {
                    // A buffered message decides at once: the token goes on after its catch.
                    if let Some(follower) = self.enter_event_gateway(target, scope)? {
                        for &out in &def.node(follower).outgoing {
                            queue.push_back(Arrival {
                                flow: out,
                                origin: Some(follower),
                                scope,
                            });
                        }
                    }
                }
                NodeKind::CallActivity(_) => self.enter_call(target, scope)?,
                NodeKind::SubProcess(sub) => {
                    let inner = self.enter_scope(target, scope)?;
                    for &out in &def.node(sub.start).outgoing {
                        queue.push_back(Arrival {
                            flow: out,
                            origin,
                            scope: Some(inner),
                        });
                    }
                    self.complete_scope_if_done(inner, &mut queue)?;
                }
                // Validation forbids flows into start events and boundary events.
                NodeKind::EscalationThrow(e) => {
                    let goes_on = self.escalate(&node.id, e.code.as_deref(), scope, &mut queue)?;
                    if goes_on && !e.end {
                        onward(&mut queue, origin);
                    } else if goes_on {
                        if scope.is_none() {
                            self.last_end = Some(node.id.clone());
                        }
                        if let Some(s) = scope {
                            self.complete_scope_if_done(s, &mut queue)?;
                        }
                    }
                }
                NodeKind::StartEvent(_)
                | NodeKind::EventSubProcess(_)
                | NodeKind::Boundary(_)
                | NodeKind::ErrorBoundary(_)
                | NodeKind::EscalationBoundary(_)
                | NodeKind::MessageBoundary(_)
                | NodeKind::SignalBoundary(_) => {}
            }
        }
        if self.instance.process.tokens.is_empty() && self.instance.process.ended.is_none() {
            self.end_process().await?;
        }
        Ok(())
    }

    /// A new token at `at` in scope instance `scope`, with the instance's next token id;
    /// returns the id.
    pub(crate) fn push_token(&mut self, at: TokenAt, scope: Option<u32>) -> u32 {
        let process = &mut self.instance.process;
        let id = process.next_token;
        process.next_token += 1;
        process.tokens.push(Token {
            id,
            at,
            timers: Vec::new(),
            messages: Vec::new(),
            scope,
        });
        id
    }

    /// Removes a job in this transition's commit: one created in this same transition is simply
    /// not written; a stored one is deleted (checked against its revision) and returned.
    pub(crate) fn cancel_job(&mut self, key: JobKey) -> Result<Option<Job>, Error> {
        if let Some(p) = self.new_jobs.iter().position(|j| j.key == key) {
            self.new_jobs.remove(p);
        } else if let Some((rev, job)) = self.rt.store.job(key)? {
            self.prelude.delete_job(&job, rev);
            return Ok(Some(job));
        }
        Ok(None)
    }

    /// Parks a token at a join; if every incoming flow now has one, takes them and returns true.
    /// Only tokens of the same scope instance meet.
    fn join(&mut self, gateway: NodeIdx, via: FlowIdx, scope: Option<u32>) -> bool {
        let def = self.def.clone();
        let node = def.node(gateway);
        self.push_token(
            TokenAt::Join {
                element: node.id.clone(),
                via: def.flow(via).id.clone(),
            },
            scope,
        );
        let process = &mut self.instance.process;
        let parked_on = |tokens: &[Token], flow: &ElementId| {
            tokens.iter().position(|t| {
                t.scope == scope
                    && matches!(&t.at, TokenAt::Join { element, via } if *element == node.id && via == flow)
            })
        };
        let complete = node
            .incoming
            .iter()
            .all(|&f| parked_on(&process.tokens, &def.flow(f).id).is_some());
        if complete {
            for &f in &node.incoming {
                if let Some(p) = parked_on(&process.tokens, &def.flow(f).id) {
                    process.tokens.remove(p);
                }
            }
        }
        complete
    }

    /// A token reaches a task: it waits there (user task) or on a new job (service task).
    pub(super) async fn enter_task(
        &mut self,
        target: NodeIdx,
        service_type: Option<String>,
        scope: Option<u32>,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        let node = def.node(target);
        // As Altinn: a task's own data is unlocked when the task starts again.
        let own: Vec<DataTypeId> = self
            .app
            .data_types_of_task(node.id.as_str())
            .map(|d| d.id.clone())
            .collect();
        for data_type in &own {
            self.instance.locked.remove(data_type);
        }
        let visits = self.instance.visits.entry(node.id.to_string()).or_insert(0);
        *visits += 1;
        let visit = *visits;
        let inner = self.entering_inner.take();
        let assignee = self.assignee_of(target, scope, inner)?;
        let process = &mut self.instance.process;
        process.flow += 1;
        let task = TaskInfo {
            flow: process.flow,
            started: self.now,
            element_id: node.id.clone(),
            name: node.name.clone(),
            altinn_task_type: node.altinn_task_type().map(str::to_string),
            assignee,
        };
        let at = match service_type {
            None => TokenAt::UserTask { task },
            Some(task_type) => {
                let config = self.rt.registry.handler_config(&task_type);
                let key = JobKey::new_time_ordered();
                self.new_jobs.push(Job {
                    key,
                    app: self.instance.app.clone(),
                    instance: self.instance.id,
                    element_id: node.id.clone(),
                    idempotency_key: Job::idempotency_key_for(self.instance.id, &node.id, visit),
                    external: self.rt.registry.is_external(&task_type),
                    task_type,
                    visit,
                    attempts: 0,
                    max_attempts: config.max_attempts,
                    state: JobState::Queued { due: self.now },
                    created: self.now,
                    last_error: None,
                    gateway_action: self.gateway_action.clone(),
                    kind: JobKind::ServiceTask,
                    payload: None,
                });
                TokenAt::ServiceTask { task, job: key }
            }
        };
        let id = self.push_token(at, scope);
        self.record(EventType::StartTask, Some(node.id.clone()), None, None);
        match (inner, scope) {
            // An inner instance of a multi-instance task: its boundary events are on the body.
            (Some(index), Some(body)) => self.register_inner(body, index, id),
            _ => {
                self.arm_boundaries(target, id, visit)?;
                self.arm_message_boundaries(target, id)?;
            }
        }
        let task_ref = TaskRef::of(node);
        self.run_hooks(HookPoint::TaskStarted(&task_ref)).await
    }

    pub(super) async fn end_process(&mut self) -> Result<(), Error> {
        // The process-level event sub-processes can no longer start.
        let timers = std::mem::take(&mut self.instance.process.timers);
        self.disarm(&timers)?;
        self.instance.process.messages.clear();
        let end = self
            .last_end
            .clone()
            .or_else(|| self.last_inner_end.clone());
        self.instance.process.ended = Some(self.now);
        self.instance.process.end_event = end.clone();
        self.record(EventType::EndEvent, end, None, None);
        // A child of a call activity: its parent moves on in a commit of its own.
        if let Some(parent) = self.instance.process.parent.clone()
            && !self.instance.process.cancelled
        {
            self.calls.push(crate::store::calls::CallDelivery::Ended {
                child: self.instance.id,
                parent,
                error: self.uncaught_error.clone(),
            });
        }
        self.run_hooks(HookPoint::ProcessEnded).await
    }

    /// Every data type written in this transition must satisfy its schema (whoever wrote it:
    /// the caller, a hook, a service task's output).
    pub(crate) fn check_written(&self) -> Result<(), Error> {
        for (data_type, value) in self.data.written() {
            if self.engine_written.contains(data_type) {
                continue;
            }
            if let Some(signature) = self.instance.locked_by(data_type) {
                return Err(Error::DataLocked {
                    data_type: data_type.to_string(),
                    signature: signature.to_string(),
                });
            }
            super::commands::check_data(&self.app, data_type, value)?;
        }
        Ok(())
    }

    /// A terminate end event: every token of scope instance `scope` (and of the scopes nested
    /// in it; at the process level, every token) ends; tasks are abandoned, their jobs
    /// cancelled and their timers disarmed, all in this transition's commit.
    pub(crate) fn terminate(&mut self, at: &ElementId, scope: Option<u32>) -> Result<(), Error> {
        let process = &mut self.instance.process;
        let inside = |process: &crate::model::ProcessState, of: Option<u32>| match scope {
            None => true,
            Some(s) => process.scope_within(of, s),
        };
        let (ended, kept): (Vec<Token>, Vec<Token>) = std::mem::take(&mut process.tokens)
            .into_iter()
            .partition(|t| inside(process, t.scope));
        process.tokens = kept;
        // The nested scope instances end without completing (none leaves by its flows).
        let nested_ids: Vec<u32> = process
            .scopes
            .iter()
            .filter(|x| Some(x.id) != scope && inside(process, Some(x.id)))
            .map(|x| x.id)
            .collect();
        let (nested, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut process.scopes)
            .into_iter()
            .partition(|x| nested_ids.contains(&x.id));
        process.scopes = kept;
        for gone in &nested {
            self.disarm(&gone.timers)?;
        }
        let mut cancelled = Vec::new();
        for token in &ended {
            self.disarm(&token.timers)?;
            match &token.at {
                TokenAt::ServiceTask { job, .. } => {
                    // An external worker may still complete it: a tombstone tells it why that
                    // is refused (409 `job-cancelled` naming `at`, not 404).
                    if let Some(stored) = self.cancel_job(*job)?
                        && stored.external
                    {
                        let tombstone = super::timers::tombstone(stored, at, self.now);
                        self.prelude.put_cancelled_job(&tombstone);
                    }
                    cancelled.push(*job);
                }
                TokenAt::Timer { job, .. } => {
                    self.cancel_job(*job)?;
                    cancelled.push(*job);
                }
                _ => {}
            }
            if let Some(task) = token.task() {
                self.record(
                    EventType::AbandonTask,
                    Some(task.element_id.clone()),
                    None,
                    Some(serde_json::json!({ "terminatedBy": at.as_str() })),
                );
            }
        }
        let incidents = &mut self.instance.process.incidents;
        match scope {
            None => incidents.clear(),
            Some(_) => incidents.retain(|i| !cancelled.contains(&i.job)),
        }
        Ok(())
    }

    /// Removes the token waiting at a task (or catch event), disarming its boundary timers;
    /// returns the scope instance it was in, where the move goes on.
    pub(crate) fn take_task_token(&mut self, token_id: u32) -> Result<Option<u32>, Error> {
        let timers = super::timers::timers_of(&self.instance.process.tokens, token_id);
        self.disarm(&timers)?;
        let process = &mut self.instance.process;
        let scope = process
            .tokens
            .iter()
            .find(|t| t.id == token_id)
            .and_then(|t| t.scope);
        process.tokens.retain(|t| t.id != token_id);
        Ok(scope)
    }

    /// The (name, key) of the message subscriptions this transition opens.
    pub(crate) fn opened_subscriptions(&self) -> Vec<(String, String)> {
        super::messages::opened(
            &self.subscribed,
            &super::messages::subscriptions_of(&self.instance),
        )
    }

    /// Everything this transition writes, after its prelude: the instance (with the version
    /// check), history, data, and the jobs it created (the outbox). Returns the unit, the
    /// instance as committed, and the jobs.
    pub(crate) fn into_txn(mut self) -> (Txn, Instance, Vec<Job>) {
        let mut txn = std::mem::take(&mut self.prelude);
        let read_version = self.read_version;
        self.instance.version = read_version.map_or(1, |v| v + 1);
        self.instance.last_changed = self.now;
        self.instance.last_changed_by = self.actor.clone();
        for (data_type, value) in self.data.written() {
            // Encoded once: the stored bytes and the JSON size the data element reports.
            let size = txn.put_data(self.instance.id, data_type, value);
            let created = self
                .instance
                .data
                .get(data_type)
                .map_or(self.now, |d| d.created);
            self.instance.data.insert(
                data_type.clone(),
                crate::model::DataElement {
                    created,
                    last_changed: self.now,
                    size,
                },
            );
        }
        match read_version {
            None => txn.create_instance(&self.instance),
            Some(v) => txn.update_instance(&self.instance, v),
        };
        txn.append_history(self.instance.id, &self.history);
        let open = super::messages::subscriptions_of(&self.instance);
        super::messages::write_difference(&mut txn, &self.subscribed, &open);
        let signals = super::signals::subscriptions_of(&self.instance, &self.def);
        super::signals::write_difference(&mut txn, &self.signalled, &signals);
        for call in self.call_records() {
            txn.put_call_delivery(&call);
        }
        let events = self.event_jobs();
        for job in self.new_jobs.iter().chain(events.iter()) {
            txn.create_job(job);
        }
        let mut jobs = self.new_jobs;
        jobs.extend(events);
        (txn, self.instance, jobs)
    }

    /// Jobs delivering this transition's events to subscribers (webhooks), as CloudEvents 1.0.
    fn event_jobs(&self) -> Vec<Job> {
        let registry = &self.rt.registry;
        let mut jobs = Vec::new();
        for event in &self.history {
            let kind = match event.event_type {
                EventType::StartEvent => EventKind::InstanceCreated,
                EventType::StartTask => EventKind::TaskStarted,
                EventType::EndTask | EventType::AbandonTask => EventKind::TaskEnded,
                EventType::EndEvent => EventKind::ProcessEnded,
                _ => continue,
            };
            for sub in registry.subscribers(&self.instance.app, kind) {
                let id = format!("{}:{}", self.instance.id, event.seq);
                let config = registry.handler_config(&sub.job_type);
                let payload = serde_json::json!({
                    "specversion": "1.0",
                    "id": id,
                    "source": format!("/{}/instances/{}", self.instance.app, self.instance.altinn_id()),
                    "type": format!("flyt.{}", kind.as_str()),
                    "subject": event.element_id.as_ref().map(ToString::to_string),
                    "time": event.occurred.to_rfc3339(),
                    "datacontenttype": "application/json",
                    "data": {
                        "instanceId": self.instance.altinn_id(),
                        "app": self.instance.app.to_string(),
                        "elementId": event.element_id.as_ref().map(ToString::to_string),
                        "action": event.action,
                        "performedBy": event.performed_by,
                        "instanceVersion": self.instance.version,
                        "processEnded": self.instance.process.ended.is_some(),
                    }
                });
                jobs.push(Job {
                    key: JobKey::new_time_ordered(),
                    app: self.instance.app.clone(),
                    instance: self.instance.id,
                    element_id: event
                        .element_id
                        .clone()
                        .unwrap_or_else(|| ElementId::new("instance")),
                    task_type: sub.job_type.clone(),
                    visit: 0,
                    idempotency_key: id,
                    attempts: 0,
                    max_attempts: config.max_attempts,
                    state: JobState::Queued { due: self.now },
                    created: self.now,
                    last_error: None,
                    gateway_action: None,
                    external: registry.is_external(&sub.job_type),
                    kind: JobKind::Event,
                    payload: Some(payload),
                });
            }
        }
        jobs
    }
}
