//! Call activities: a token waits at a `<bpmn:callActivity>` while a child instance runs.
//!
//! Every step is one version-checked commit, and what connects two steps is a pending record
//! under its own key family (`store::calls`), written by the commit of the first step and
//! consumed (a check on its stored bytes) by the commit of the second:
//!
//! 1. The parent's token arrives: the transition pushes `TokenAt::Call` with the child's id
//!    (chosen now), applies the input mappings and writes a `Start` record.
//! 2. One `create` commit makes the child (its `ProcessState::parent` names the parent's app,
//!    instance, token and element) and consumes `Start`: exactly one child.
//! 3. The child's ending commit writes `Ended` (with the code of a BPMN error nothing in the
//!    child caught).
//! 4. One commit moves the parent: its token leaves the call activity with the output
//!    mappings applied (or the error goes to the call activity's error boundary, its
//!    enclosing scopes, or becomes an incident), and consumes `Ended`: resumed exactly once.
//!
//! A parent whose token leaves the call activity any other way (an interrupting boundary
//! event, a terminate end event, an interrupted scope, the parent deleted) writes `Cancel` in
//! that commit (the before/after difference of its `Call` tokens in `Transition::into_txn`);
//! one commit per child ends it as cancelled, and so on down to its own children.
//!
//! The commit that writes a record delivers it at once after it (so an API caller sees the
//! child); the job worker delivers whatever is left (a crash, a conflict).

use super::data::DataCache;
use super::pipeline::{Kind, Loaded};
use super::transition::{HookPoint, Transition};
use super::{Error, Runtime};
use crate::bpmn::elements::{NodeIdx, NodeKind};
use crate::ids::{ElementId, InstanceId};
use crate::model::{Actor, EventType, Instance, ParentRef, ProcessState, TokenAt};
use crate::store::calls::CallDelivery;
use crate::store::{CommitError, Txn, codec};
use serde_json::json;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// The reserved data type an input mapping of a multi-instance call activity names to copy its
/// inner instance's variables (`element`, the `elementVariable`, `index`, `loopCounter`, ...).
const MULTI_INSTANCE: &str = "multiInstance";

/// The actor of the commits deliveries make.
const ACTOR: &str = "call-activity";

/// How often a delivery reads its instance again after a version conflict before leaving it
/// to the worker's next round.
const RETRIES: usize = 16;

impl Transition<'_> {
    /// A token arrives at call activity `target` in scope instance `scope`: it waits there for
    /// a child whose `Start` record this transition writes.
    pub(super) fn enter_call(&mut self, target: NodeIdx, scope: Option<u32>) -> Result<(), Error> {
        let def = self.def.clone();
        let node = def.node(target);
        let NodeKind::CallActivity(call) = &node.kind else {
            return Ok(());
        };
        let visits = self.instance.visits.entry(node.id.to_string()).or_insert(0);
        *visits += 1;
        let visit = *visits;
        let child = InstanceId::from_uuid(uuid::Uuid::now_v7());
        // An inner instance of a multi-instance call activity: its item and index are the
        // reserved data type `multiInstance` of the input mappings.
        let inner = self.entering_inner.take();
        let variables = match (inner, scope, node.multi.as_deref()) {
            (Some(index), Some(body), Some(multi)) => self
                .instance
                .process
                .scopes
                .iter()
                .find(|s| s.id == body)
                .and_then(|s| s.multi.as_deref())
                .map(|b| b.variables(Some(index), multi.element_variable.as_deref())),
            _ => None,
        };
        // A process of the same file runs in the caller's own version; another app's in its
        // pinned version, or its latest when the child is created.
        let (app, version) = match &call.app {
            None => (
                self.instance.app.clone(),
                Some(self.instance.definition_version),
            ),
            Some(app) => (app.clone(), call.version),
        };
        let token = self.push_token(
            TokenAt::Call {
                element: node.id.clone(),
                app: app.clone(),
                child,
            },
            scope,
        );
        match (inner, scope) {
            // Its boundary events are on the body.
            (Some(index), Some(body)) => self.register_inner(body, index, token),
            _ => {
                self.arm_boundaries(target, token, visit)?;
                self.arm_message_boundaries(target, token)?;
            }
        }
        let mut data = BTreeMap::new();
        for m in &call.inputs {
            if m.source.as_str() == MULTI_INSTANCE
                && let Some(v) = &variables
            {
                data.insert(m.target.clone(), v.clone());
            } else if let Some(value) = self.data.get(&m.source)? {
                data.insert(m.target.clone(), value.clone());
            }
        }
        self.record(
            EventType::CallStarted,
            Some(node.id.clone()),
            None,
            Some(json!({ "app": app.to_string(), "instance": child.to_string() })),
        );
        self.calls.push(CallDelivery::Start {
            child,
            parent: ParentRef {
                app: self.instance.app.clone(),
                instance: self.instance.id,
                token,
                element: node.id.clone(),
            },
            app,
            version,
            process: Some(call.process.clone()),
            owner: self.instance.owner.clone(),
            data,
        });
        Ok(())
    }

    /// The children this instance waits for now.
    pub(super) fn waiting_children(&self) -> Vec<InstanceId> {
        children_of(&self.instance.process)
    }

    /// The call records this transition writes: those it made, and a `Cancel` for each child
    /// whose token is gone without the child having ended.
    pub(crate) fn call_records(&self) -> Vec<CallDelivery> {
        let now = self.waiting_children();
        let mut out = self.calls.clone();
        for child in &self.called_before {
            if !now.contains(child) && !self.calls_ended.contains(child) {
                out.push(CallDelivery::Cancel {
                    child: *child,
                    by: self.last_end.clone(),
                });
            }
        }
        out
    }
}

/// The children the tokens of `process` wait for.
pub(crate) fn children_of(process: &ProcessState) -> Vec<InstanceId> {
    process
        .tokens
        .iter()
        .filter_map(|t| match &t.at {
            TokenAt::Call { child, .. } => Some(*child),
            _ => None,
        })
        .collect()
}

impl Runtime {
    /// After a commit that wrote call records: delivers them (and what their deliveries write).
    pub(crate) fn after_calls(
        &self,
        calls: Vec<CallDelivery>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            for d in calls {
                let stored = codec::encode(&d);
                if let Err(e) = self.deliver_call(&d, &stored).await {
                    tracing::warn!(child = %d.child(), error = %e, "a call activity's delivery failed; the worker retries");
                    self.inner.jobs_ready.notify_waiters();
                }
            }
        })
    }

    /// Delivers the call records still pending (after a restart, or a failed delivery), at
    /// most `budget`; returns how many it tried. The job worker calls it.
    pub async fn deliver_pending_calls(&self, budget: usize) -> Result<usize, Error> {
        let pending = self.inner.store.pending_calls(budget)?;
        let n = pending.len();
        for (stored, d) in pending {
            if let Err(e) = self.deliver_call(&d, &stored).await {
                tracing::warn!(child = %d.child(), error = %e, "cannot deliver a call activity's record yet");
            }
        }
        Ok(n)
    }

    async fn deliver_call(&self, d: &CallDelivery, stored: &[u8]) -> Result<(), Error> {
        for _ in 0..RETRIES {
            let done = match d {
                CallDelivery::Start { .. } => self.start_child(d, stored).await?,
                CallDelivery::Ended { .. } => self.resume_parent(d, stored).await?,
                CallDelivery::Cancel { .. } => self.cancel_child(d, stored).await?,
            };
            if done {
                return Ok(());
            }
        }
        Err(Error::Conflict)
    }

    /// Removes a record that has nothing left to do.
    async fn consume_call(&self, d: &CallDelivery, stored: &[u8]) -> Result<bool, Error> {
        let mut txn = Txn::new();
        txn.consume_call_delivery(d, stored);
        match self.inner.store.commit(txn).await {
            Ok(()) | Err(CommitError::Conflict(_)) => Ok(true),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }

    /// Step 2: creates the child and consumes `Start` in one commit. `Ok(true)`: done (by
    /// this call or another).
    async fn start_child(&self, d: &CallDelivery, stored: &[u8]) -> Result<bool, Error> {
        let CallDelivery::Start {
            child,
            parent,
            app,
            version,
            process,
            owner,
            data,
        } = d
        else {
            return Ok(true);
        };
        if self.inner.store.instance(*child)?.is_some() {
            return self.consume_call(d, stored).await;
        }
        // A parent that no longer waits for this child (it left the call activity, or was
        // deleted, before the child was created) gets none.
        let waits = self
            .inner
            .store
            .instance(parent.instance)?
            .is_some_and(|p| !p.is_ended() && children_of(&p.process).contains(child));
        if !waits {
            return self.consume_call(d, stored).await;
        }
        let spec = self.app(app)?;
        let version = match version {
            Some(v) => *v,
            None => self.latest_definition(app)?.0,
        };
        let def = self.inner.definitions.get_process(
            &self.inner.store,
            app,
            version,
            process.as_deref(),
        )?;
        let start = def
            .start_events()
            .iter()
            .copied()
            .find(|&n| matches!(&def.node(n).kind, NodeKind::StartEvent(s) if s.is_none()))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "process `{}` of `{app}` has no none start event for a call activity",
                    def.process_id()
                ))
            })?;
        let now = self.inner.clock.now();
        let actor = Actor::system(ACTOR);
        let start_node = def.node(start);
        let (start_id, first): (ElementId, Vec<_>) = (
            start_node.id.clone(),
            start_node.outgoing.iter().map(|&f| (f, None)).collect(),
        );
        let mut instance = Instance::started(
            *child,
            app.clone(),
            owner.clone(),
            version,
            actor.clone(),
            now,
            start_id.clone(),
        );
        instance.process.parent = Some(parent.clone());
        instance.process.called_process = process.clone();
        let mut t = Transition::new(
            &self.inner,
            Loaded {
                instance,
                def,
                app: spec,
            },
            None,
            DataCache::fresh(*child),
            actor,
            now,
        );
        t.prelude.consume_call_delivery(d, stored); // check 0
        for (data_type, value) in data {
            t.data.set(data_type.clone(), value.clone());
        }
        t.run_hooks(HookPoint::InstanceCreated).await?;
        t.record(
            EventType::StartEvent,
            Some(start_id),
            None,
            Some(json!({
                "calledBy": {
                    "app": parent.app.to_string(),
                    "instance": parent.instance.to_string(),
                    "element": parent.element.as_str(),
                }
            })),
        );
        t.arm_event_subs(None)?;
        t.arrive(first, None).await?;
        t.check_written()?;
        crate::failpoint!("call.before_child_commit");
        match self.commit(Kind::Create, t).await {
            Ok(_) | Err(CommitError::Conflict(_)) => Ok(true),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }

    /// Step 4: moves the parent past the call activity and consumes `Ended`, in one commit.
    /// `Ok(false)`: the parent changed meanwhile; read it again.
    async fn resume_parent(&self, d: &CallDelivery, stored: &[u8]) -> Result<bool, Error> {
        let CallDelivery::Ended {
            child,
            parent,
            error,
        } = d
        else {
            return Ok(true);
        };
        let Some(instance) = self.inner.store.instance(parent.instance)? else {
            return self.consume_call(d, stored).await;
        };
        let holder = instance
            .process
            .tokens
            .iter()
            .find(|t| matches!(&t.at, TokenAt::Call { child: c, .. } if c == child))
            .cloned();
        let Some(holder) = holder.filter(|_| !instance.is_ended()) else {
            // It left the call activity another way (and cancelled the child).
            return self.consume_call(d, stored).await;
        };
        let loaded = self.resolve(instance, None)?;
        let def = loaded.def.clone();
        let Some(node_idx) = def.node_by_id(parent.element.as_str()) else {
            return self.consume_call(d, stored).await;
        };
        let node = def.node(node_idx);
        let mut t = self.begin(loaded, Actor::system(ACTOR));
        t.prelude.consume_call_delivery(d, stored); // check 0
        t.calls_ended.push(*child);
        match error {
            None => {
                if let NodeKind::CallActivity(call) = &node.kind {
                    for m in &call.outputs {
                        if let Some(value) = self.inner.store.data(*child, &m.source)? {
                            t.data.set(m.target.clone(), value);
                        }
                    }
                }
                t.record(
                    EventType::CallEnded,
                    Some(node.id.clone()),
                    None,
                    Some(json!({ "instance": child.to_string() })),
                );
                // Its flows, or (an inner instance) its multi-instance body goes on.
                let scope = t.take_task_token(holder.id)?;
                t.leave_task(node_idx, holder.id, scope).await?;
            }
            Some(code) => {
                t.record(
                    EventType::CallEnded,
                    Some(node.id.clone()),
                    None,
                    Some(json!({ "instance": child.to_string(), "errorCode": code })),
                );
                t.call_error(&holder, node_idx, code.as_deref()).await?;
            }
        }
        t.check_written()?;
        crate::failpoint!("call.before_parent_commit");
        match self.commit(Kind::Move, t).await {
            Ok(_) | Err(CommitError::Conflict(0)) => Ok(true),
            Err(CommitError::Conflict(_)) => Ok(false),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }

    /// Ends a child its parent cancelled, and consumes `Cancel`, in one commit.
    async fn cancel_child(&self, d: &CallDelivery, stored: &[u8]) -> Result<bool, Error> {
        let CallDelivery::Cancel { child, by } = d else {
            return Ok(true);
        };
        let Some(instance) = self.inner.store.instance(*child)? else {
            // Not created yet: its `Start` goes with the `Cancel`, in one commit checking both,
            // so a creation racing this one either wins first (and is then cancelled) or finds
            // nothing to start.
            let Some((start, pending)) = self.inner.store.pending_start(*child)? else {
                return self.consume_call(d, stored).await;
            };
            let mut txn = Txn::new();
            txn.consume_call_delivery(&pending, &start);
            txn.consume_call_delivery(d, stored);
            return match self.inner.store.commit(txn).await {
                Ok(()) => Ok(true),
                Err(CommitError::Conflict(_)) => Ok(false),
                Err(CommitError::Store(e)) => Err(e.into()),
            };
        };
        if instance.is_ended() {
            return self.consume_call(d, stored).await;
        }
        let loaded = self.resolve(instance, None)?;
        let mut t = self.begin(loaded, Actor::system(ACTOR));
        t.prelude.consume_call_delivery(d, stored); // check 0
        t.instance.process.cancelled = true;
        // Its end names its parent's call activity.
        let at = t
            .instance
            .process
            .parent
            .as_ref()
            .map_or_else(|| ElementId::new("calledBy"), |p| p.element.clone());
        t.terminate(&at, None)?;
        t.last_end = Some(at);
        t.record(
            EventType::CallCancelled,
            None,
            None,
            Some(json!({ "by": by.as_ref().map(ElementId::as_str) })),
        );
        t.end_process().await?;
        match self.commit(Kind::Move, t).await {
            Ok(_) | Err(CommitError::Conflict(0)) => Ok(true),
            Err(CommitError::Conflict(_)) => Ok(false),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }
}

impl Transition<'_> {
    /// The child of the call activity `call` (whose token is `holder`) ended with BPMN error
    /// `code` that nothing in it caught: an error boundary event on the call activity takes it,
    /// else the nearest catcher around it (a sub-process's boundary, an error event
    /// sub-process); uncaught here too, the token stays and an incident names the code.
    pub(super) async fn call_error(
        &mut self,
        holder: &crate::model::Token,
        call: NodeIdx,
        code: Option<&str>,
    ) -> Result<(), Error> {
        use super::scopes::{Catcher, error_boundary, error_catcher};
        let def = self.def.clone();
        let node = def.node(call);
        let details = json!({ "errorCode": code, "thrownBy": node.id.as_str() });
        // A multi-instance call activity's boundary events are on its body, found as a
        // sub-process's around the inner instance.
        let own = node
            .multi
            .is_none()
            .then(|| error_boundary(&def, call, code))
            .flatten();
        let (boundary, interrupted, esp) = match own {
            Some(b) => (b, None, None),
            None => match error_catcher(&def, &self.instance.process, holder.scope, code) {
                Some(Catcher::Boundary { scope, boundary }) => (boundary, Some(scope), None),
                Some(Catcher::EventSub { enclosing, esp }) => match &def.node(esp).kind {
                    NodeKind::EventSubProcess(e) => (e.start, None, Some((enclosing, esp))),
                    _ => return Ok(()),
                },
                None => {
                    let reason = format!(
                        "uncaught BPMN error `{}` of the child of call activity `{}`",
                        code.unwrap_or(""),
                        node.id
                    );
                    let child = match &holder.at {
                        TokenAt::Call { child, .. } => *child,
                        _ => return Ok(()),
                    };
                    self.instance
                        .process
                        .incidents
                        .push(crate::model::Incident {
                            element_id: node.id.clone(),
                            job: crate::ids::JobKey::from_uuid(*child.as_uuid()),
                            reason: reason.clone(),
                            attempts: 0,
                            last_error: reason,
                            raised: self.now,
                        });
                    self.record(
                        EventType::IncidentRaised,
                        Some(node.id.clone()),
                        None,
                        Some(details),
                    );
                    return Ok(());
                }
            },
        };
        let mut scope = self.take_task_token(holder.id)?;
        if let Some(interrupted) = interrupted {
            scope = self.interrupt_scope(interrupted, &def.node(boundary).id, None)?;
        }
        if let Some((enclosing, esp)) = esp {
            scope = Some(self.start_event_sub(esp, enclosing)?);
        }
        self.record(
            EventType::ErrorCaught,
            Some(def.node(boundary).id.clone()),
            None,
            Some(details),
        );
        let out = def
            .node(boundary)
            .outgoing
            .iter()
            .map(|&f| (f, Some(boundary)))
            .collect();
        self.arrive(out, scope).await
    }
}

impl Transition<'_> {
    /// Resuming the incident of a child's uncaught BPMN error: the call activity runs again,
    /// with a new child started from the inputs as they are now (the token and its boundary
    /// events stay). `false`: no token waits for `old` (nothing to run again).
    pub(crate) fn call_again(&mut self, old: InstanceId) -> Result<bool, Error> {
        let Some(holder) = self
            .instance
            .process
            .tokens
            .iter()
            .find(|t| matches!(&t.at, TokenAt::Call { child, .. } if *child == old))
            .cloned()
        else {
            return Ok(false);
        };
        let TokenAt::Call { element, app, .. } = &holder.at else {
            return Ok(false);
        };
        let def = self.def.clone();
        let Some(target) = def.node_by_id(element.as_str()) else {
            return Ok(false);
        };
        let node = def.node(target);
        let NodeKind::CallActivity(call) = &node.kind else {
            return Ok(false);
        };
        let child = InstanceId::from_uuid(uuid::Uuid::now_v7());
        let variables = match (
            self.instance.process.inner_index(holder.id),
            node.multi.as_deref(),
        ) {
            (Some(index), Some(multi)) => self
                .instance
                .process
                .scopes
                .iter()
                .find(|s| Some(s.id) == holder.scope)
                .and_then(|s| s.multi.as_deref())
                .map(|b| b.variables(Some(index), multi.element_variable.as_deref())),
            _ => None,
        };
        let mut data = BTreeMap::new();
        for m in &call.inputs {
            if m.source.as_str() == MULTI_INSTANCE
                && let Some(v) = &variables
            {
                data.insert(m.target.clone(), v.clone());
            } else if let Some(value) = self.data.get(&m.source)? {
                data.insert(m.target.clone(), value.clone());
            }
        }
        let version = match &call.app {
            None => Some(self.instance.definition_version),
            Some(_) => call.version,
        };
        if let Some(t) = self
            .instance
            .process
            .tokens
            .iter_mut()
            .find(|t| t.id == holder.id)
        {
            t.at = TokenAt::Call {
                element: element.clone(),
                app: app.clone(),
                child,
            };
        }
        // The old child has ended: no `Cancel` is due for it.
        self.calls_ended.push(old);
        self.record(
            EventType::CallStarted,
            Some(node.id.clone()),
            None,
            Some(json!({ "app": app.to_string(), "instance": child.to_string(), "again": old.to_string() })),
        );
        self.calls.push(CallDelivery::Start {
            child,
            parent: ParentRef {
                app: self.instance.app.clone(),
                instance: self.instance.id,
                token: holder.id,
                element: node.id.clone(),
            },
            app: app.clone(),
            version,
            process: Some(call.process.clone()),
            owner: self.instance.owner.clone(),
            data,
        });
        Ok(true)
    }
}
