//! Signals: subscriptions, durable broadcasts and their deliveries, publishing through the API.
//!
//! - A signal subscription is open while a token waits at a signal catch event
//!   (`TokenAt::Signal`) or at an event-based gateway followed by one (the first event to fire
//!   wins), or while a task or sub-process with a signal boundary event is active.
//!   The records (`store::signals`) are written and deleted by the before/after difference of
//!   the instance's subscriptions in [`Transition::into_txn`], as for messages.
//! - A signal throw or end event, or [`Runtime::publish_signal`], writes a **broadcast** in the
//!   commit that throws it: its record, and one **delivery** per subscription of that name open
//!   in the app at that moment plus one per signal start event of the app's current definition.
//!   Subscriptions that open later do not get it.
//! - Each delivery is its own commit that moves (or starts) one instance and deletes the
//!   delivery with a check on its stored bytes, so each subscription gets a broadcast exactly
//!   once, however many deliverers race and whenever a crash interrupts them: what is left
//!   under the broadcast after a restart is exactly what is still to deliver. A start event's
//!   delivery creates its instance with an idempotency key derived from the delivery, so a
//!   crash between the instance's commit and the delivery's deletion starts no second one.
//! - The call that threw or published delivers up to `RuntimeConfig::signal_batch` deliveries
//!   before it returns; the job worker delivers the rest, and resumes interrupted broadcasts
//!   at start-up ([`Runtime::deliver_pending_signals`]).
//! - A subscription that closed between the throw and its delivery (its token moved on) is
//!   skipped; so is one whose move fails (a gateway with no matching flow after the catch),
//!   logged as a warning.

use super::messages::{digest, first_answer};
use super::pipeline::Kind;
use super::transition::Transition;
use super::{CreateInstance, Error, Runtime};
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::{NodeIdx, NodeKind};
use crate::ids::{AppId, BroadcastId, DataTypeId, ElementId};
use crate::model::{Actor, EventType, Instance, PROCESS_LEVEL, TokenAt};
use crate::store::messages::PublishRecord;
use crate::store::signals::{Broadcast, Delivery, SignalSubscription, Target};
use crate::store::{CommitError, Txn};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

/// Most deliveries one broadcast may have (subscriptions and start events); a throw that
/// would reach more is refused.
pub const MAX_BROADCAST: usize = 10_000;
/// The actor of deliveries, and of the instances signal start events start.
const ACTOR: &str = "signals";

/// Whether `actor` is the one signal deliveries run as (only it starts instances at signal
/// start events).
pub(crate) fn starts_signalled(actor: &Actor) -> bool {
    *actor == Actor::system(ACTOR)
}

/// A broadcast to deliver: its app and id.
pub(crate) type Thrown = (AppId, BroadcastId);

tokio::task_local! {
    /// Set while a call delivers broadcasts: broadcasts thrown by the transitions it makes
    /// (an instance a signal start event started, which throws in turn) join its queue instead
    /// of being delivered by a nested call.
    static DEFERRED: RefCell<Vec<Thrown>>;
}

/// A signal to publish to an app.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishSignal {
    pub name: String,
    #[serde(default)]
    pub signal_id: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

/// What publishing did: the answer, stored as the first answer to its `signalId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignalPublished {
    pub signal_id: String,
    pub broadcast_id: BroadcastId,
    /// The subscriptions open when it was published: each gets it once.
    pub subscriptions: u32,
    /// The signal start events it starts an instance at.
    pub starts: u32,
}

/// The open signal subscriptions of an instance: its tokens at signal catch events, the
/// signal boundary events of the tasks its tokens wait at and of its active sub-processes, and
/// the signal start events of the event sub-processes of the process and of its active
/// sub-processes. Every transition derives them before and after, so a definition that catches
/// no signal answers at once.
///
/// A multi-instance activity's boundary events belong to the whole activity: they are
/// subscribed once, on its body, not on each inner instance. An event sub-process's start stays
/// subscribed while its scope is active and no interrupting event sub-process runs in it (one
/// that started has ended the rest of the scope; a non-interrupting one may start again).
pub(crate) fn subscriptions_of(
    instance: &Instance,
    def: &ProcessDefinition,
) -> Vec<SignalSubscription> {
    if !def.catches_signals() || instance.is_ended() {
        return Vec::new();
    }
    let sub = |token: u32, element: &ElementId, signal: &str| SignalSubscription {
        app: instance.app.clone(),
        signal: signal.to_string(),
        instance: instance.id,
        token,
        element: element.clone(),
    };
    let boundaries = |on: &ElementId| {
        def.node_by_id(on.as_str())
            .into_iter()
            .flat_map(|n| def.node(n).boundaries.iter())
            .filter_map(|&b| match &def.node(b).kind {
                NodeKind::SignalBoundary(s) => Some((&def.node(b).id, s.signal.as_str())),
                _ => None,
            })
    };
    let scopes = &instance.process.scopes;
    // Scope instance `id`, if it is the body of a multi-instance activity at `element`: what
    // runs inside it are that activity's inner instances.
    let body_of = |id: Option<u32>, element: &ElementId| {
        id.and_then(|id| scopes.iter().find(|x| x.id == id))
            .is_some_and(|x| x.multi.is_some() && &x.element == element)
    };
    let mut out = Vec::new();
    for t in &instance.process.tokens {
        let waits_at = match &t.at {
            TokenAt::Signal {
                element, signal, ..
            } => {
                out.push(sub(t.id, element, signal));
                continue;
            }
            TokenAt::UserTask { task } | TokenAt::ServiceTask { task, .. } => {
                if body_of(t.scope, &task.element_id) {
                    continue;
                }
                &task.element_id
            }
            // A multi-instance call activity's inner tokens: its boundary is on the body.
            TokenAt::Call { element, .. } => {
                if body_of(t.scope, element) {
                    continue;
                }
                element
            }
            TokenAt::Message { element, .. } => element,
            // An event-based gateway's token: its signal catch followers are subscribed.
            TokenAt::EventGateway { element } => {
                let followers = def
                    .node_by_id(element.as_str())
                    .into_iter()
                    .flat_map(|g| def.node(g).outgoing.iter())
                    .map(|&f| def.node(def.flow(f).target));
                for follower in followers {
                    if let NodeKind::SignalCatch(c) = &follower.kind {
                        out.push(sub(t.id, &follower.id, &c.signal));
                    }
                }
                continue;
            }
            _ => continue,
        };
        out.extend(boundaries(waits_at).map(|(b, s)| sub(t.id, b, s)));
    }
    for scope in scopes {
        if !body_of(scope.parent, &scope.element) {
            out.extend(boundaries(&scope.element).map(|(b, s)| sub(scope.id, b, s)));
        }
    }
    // Event sub-processes started by a signal, at the process level and in each active scope
    // instance (not a multi-instance body: its inner instances hold them).
    let interrupted = |enclosing: Option<u32>| {
        scopes.iter().any(|x| {
            x.parent == enclosing
                && def.node_by_id(x.element.as_str()).is_some_and(
                    |n| matches!(&def.node(n).kind, NodeKind::EventSubProcess(e) if e.interrupting),
                )
        })
    };
    let enclosings = std::iter::once((None, None)).chain(
        scopes
            .iter()
            .filter(|x| x.multi.is_none())
            .filter_map(|x| Some((Some(x.id), Some(def.node_by_id(x.element.as_str())?)))),
    );
    for (enclosing, node) in enclosings {
        if interrupted(enclosing) {
            continue;
        }
        for esp in def.event_sub_processes(node) {
            if let NodeKind::EventSubProcess(e) = &def.node(esp).kind
                && let Some(signal) = &e.signal
            {
                let token = enclosing.unwrap_or(PROCESS_LEVEL);
                out.push(sub(token, &def.node(e.start).id, signal));
            }
        }
    }
    out
}

/// The subscription writes of a transition: those `before` no longer open are deleted, new
/// ones written.
pub(crate) fn write_difference(
    txn: &mut Txn,
    before: &[SignalSubscription],
    after: &[SignalSubscription],
) {
    for gone in before.iter().filter(|s| !after.contains(s)) {
        txn.delete_signal_subscription(gone);
    }
    for new in after.iter().filter(|s| !before.contains(s)) {
        txn.put_signal_subscription(new);
    }
}

/// The process-level signal start events of `def` for `signal`.
fn signal_starts<'d>(def: &'d ProcessDefinition, signal: &str) -> Vec<&'d ElementId> {
    def.start_events()
        .iter()
        .filter_map(|&n| match &def.node(n).kind {
            NodeKind::StartEvent(s) if s.signal.as_deref() == Some(signal) => Some(&def.node(n).id),
            _ => None,
        })
        .collect()
}

/// The data type signal-catching element `node` writes a broadcast's data into, if any.
fn signal_data_type(def: &ProcessDefinition, node: NodeIdx) -> Option<&DataTypeId> {
    match &def.node(node).kind {
        NodeKind::SignalCatch(c) => c.data_type.as_ref(),
        NodeKind::SignalBoundary(b) => b.data_type.as_ref(),
        NodeKind::StartEvent(s) => s.signal_data_type.as_ref(),
        _ => None,
    }
}

/// Every signal name `def` catches or starts on.
fn signals_caught(def: &ProcessDefinition) -> Vec<String> {
    let mut out: Vec<String> = def
        .nodes()
        .filter_map(|(_, n)| match &n.kind {
            NodeKind::SignalCatch(c) => Some(c.signal.clone()),
            NodeKind::SignalBoundary(b) => Some(b.signal.clone()),
            NodeKind::StartEvent(s) => s.signal.clone(),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Where a broadcast comes from: a throw event of an instance, or a publish through the API.
struct Origin {
    signal_id: Option<String>,
    data: Option<Value>,
    thrown_by: Option<crate::ids::InstanceId>,
    published_by: Option<Actor>,
}

/// A new broadcast of `signal` in `app`, with a delivery for every subscription open now and
/// every signal start event of the app's current definition.
fn compose(
    rt: &super::Inner,
    app: &AppId,
    signal: &str,
    origin: Origin,
    now: Timestamp,
) -> Result<(Broadcast, Vec<Delivery>), Error> {
    let id = BroadcastId::new_time_ordered();
    let open = rt
        .store
        .signal_subscriptions_for(app, signal, MAX_BROADCAST + 1)?;
    let (_, def) = rt.definitions.latest(&rt.store, app)?;
    let targets: Vec<Target> = open
        .into_iter()
        .map(Target::Subscription)
        .chain(
            signal_starts(&def, signal)
                .into_iter()
                .map(|e| Target::Start { element: e.clone() }),
        )
        .collect();
    if targets.len() > MAX_BROADCAST {
        return Err(Error::BadRequest(format!(
            "signal `{signal}` would reach more than {MAX_BROADCAST} subscriptions and start events at once"
        )));
    }
    let deliveries: Vec<Delivery> = targets
        .into_iter()
        .enumerate()
        .map(|(seq, target)| Delivery {
            broadcast: id,
            app: app.clone(),
            seq: u32::try_from(seq).unwrap_or(u32::MAX),
            target,
        })
        .collect();
    let broadcast = Broadcast {
        id,
        app: app.clone(),
        signal: signal.to_string(),
        signal_id: origin.signal_id,
        data: origin.data,
        thrown: now,
        published_by: origin.published_by,
        thrown_by: origin.thrown_by,
        deliveries: u32::try_from(deliveries.len()).unwrap_or(u32::MAX),
    };
    Ok((broadcast, deliveries))
}

impl Transition<'_> {
    /// A signal throw or end event `element` broadcasts `signal` in the instance's app: the
    /// broadcast is written in this transition's commit and delivered after it.
    pub(crate) fn throw_signal(&mut self, element: &ElementId, signal: &str) -> Result<(), Error> {
        let app = self.instance.app.clone();
        let origin = Origin {
            signal_id: None,
            data: None,
            thrown_by: Some(self.instance.id),
            published_by: None,
        };
        let (broadcast, deliveries) = compose(self.rt, &app, signal, origin, self.now)?;
        self.prelude.put_broadcast(&broadcast, &deliveries);
        self.record(
            EventType::SignalThrown,
            Some(element.clone()),
            None,
            Some(json!({
                "signal": signal,
                "broadcast": broadcast.id.to_string(),
                "deliveries": broadcast.deliveries,
            })),
        );
        self.thrown_signals.push((app, broadcast.id));
        Ok(())
    }
}

/// What a request must look like; `Err` is a 400 with what is wrong.
fn check_request(msg: &PublishSignal) -> Result<(), Error> {
    use super::messages::{MAX_MESSAGE_DATA, MAX_MESSAGE_FIELD};
    let bad = |s: String| Err(Error::BadRequest(s));
    if msg.name.trim().is_empty() {
        return bad("`name` is empty".into());
    }
    if msg.name.len() > MAX_MESSAGE_FIELD {
        return bad(format!(
            "`name` has {} bytes; at most {MAX_MESSAGE_FIELD}",
            msg.name.len()
        ));
    }
    if let Some(id) = &msg.signal_id
        && (id.is_empty() || id.len() > MAX_MESSAGE_FIELD)
    {
        return bad(format!(
            "`signalId` has {} bytes; it needs 1 to {MAX_MESSAGE_FIELD}",
            id.len()
        ));
    }
    match &msg.data {
        None => Ok(()),
        Some(Value::Object(_)) => {
            let size = serde_json::to_vec(&msg.data)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if size > MAX_MESSAGE_DATA {
                return Err(Error::MessageTooLarge {
                    size,
                    limit: MAX_MESSAGE_DATA,
                });
            }
            Ok(())
        }
        Some(_) => bad("`data` must be a JSON object".into()),
    }
}

/// A fingerprint of what was published (name, data), to tell a repeat from a reuse of a
/// `signalId`.
fn fingerprint(msg: &PublishSignal) -> String {
    digest(&json!({ "name": msg.name, "data": msg.data }))
}

impl Runtime {
    /// Publishes signal `msg` in `app` on behalf of `actor` (recorded with the broadcast and in
    /// each receiver's `flyt_SignalCaught`): one commit writes the broadcast (and the `signalId`
    /// record), then its deliveries are made. The same `signalId` with the
    /// same content again returns the first answer and changes nothing; with other content it
    /// is [`Error::SignalIdReused`].
    pub async fn publish_signal(
        &self,
        app: &AppId,
        msg: PublishSignal,
        actor: Actor,
    ) -> Result<SignalPublished, Error> {
        self.app(app)?;
        check_request(&msg)?;
        let signal_id = msg
            .signal_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let print = fingerprint(&msg);
        if let Some(first) = self.signal_repeat(app, &signal_id, &print)? {
            return Ok(first);
        }
        let (_, def) = self.latest_definition(app)?;
        let known = signals_caught(&def);
        if !known.contains(&msg.name)
            && self
                .inner
                .store
                .signal_subscriptions_for(app, &msg.name, 1)?
                .is_empty()
        {
            return Err(Error::UnknownSignal {
                app: app.clone(),
                name: msg.name.clone(),
                known,
            });
        }
        let origin = Origin {
            signal_id: Some(signal_id.clone()),
            data: msg.data.clone(),
            thrown_by: None,
            published_by: Some(actor),
        };
        let (broadcast, deliveries) =
            compose(&self.inner, app, &msg.name, origin, self.inner.clock.now())?;
        let starts = deliveries
            .iter()
            .filter(|d| matches!(d.target, Target::Start { .. }))
            .count();
        let answer = SignalPublished {
            signal_id: signal_id.clone(),
            broadcast_id: broadcast.id,
            subscriptions: u32::try_from(deliveries.len() - starts).unwrap_or(u32::MAX),
            starts: u32::try_from(starts).unwrap_or(u32::MAX),
        };
        let mut txn = Txn::new();
        txn.put_signal_id_record(
            app,
            &signal_id,
            &PublishRecord {
                fingerprint: print.clone(),
                answer: serde_json::to_string(&answer).unwrap_or_default(),
            },
        );
        txn.put_broadcast(&broadcast, &deliveries);
        match self.commit_txn(Kind::Move, txn, false).await {
            Ok(()) => {}
            Err(CommitError::Conflict(_)) => {
                return self
                    .signal_repeat(app, &signal_id, &print)?
                    .ok_or(Error::Conflict);
            }
            Err(CommitError::Store(e)) => return Err(e.into()),
        }
        self.after_throwing(vec![(app.clone(), broadcast.id)]).await;
        Ok(answer)
    }

    /// The first answer to `signal_id` if it was published with the same content; an error if
    /// with other content; `None` if it is new.
    fn signal_repeat(
        &self,
        app: &AppId,
        signal_id: &str,
        print: &str,
    ) -> Result<Option<SignalPublished>, Error> {
        first_answer(
            self.inner.store.signal_id_record(app, signal_id)?,
            signal_id,
            print,
            Error::SignalIdReused,
        )
    }

    /// After a commit that threw signals: delivers them (up to `signal_batch` deliveries), or,
    /// inside a call already delivering, queues them on it.
    pub(crate) fn after_throwing(
        &self,
        thrown: Vec<Thrown>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let queued = DEFERRED.try_with(|q| q.borrow_mut().extend(thrown.iter().cloned()));
            if queued.is_ok() {
                return;
            }
            DEFERRED
                .scope(RefCell::new(Vec::new()), self.deliver_queue(thrown))
                .await;
        })
    }

    /// Delivers the broadcasts of `work` and those their deliveries throw, up to
    /// `signal_batch` deliveries; wakes the worker for the rest.
    async fn deliver_queue(&self, mut work: Vec<Thrown>) {
        let mut budget = self.inner.config.signal_batch;
        while let Some((app, id)) = work.pop() {
            match self.deliver_broadcast(&app, id, &mut budget).await {
                Ok(more) => work.extend(more),
                Err(e) => {
                    tracing::warn!(app = %app, broadcast = %id, error = %e, "could not deliver a signal; the worker retries");
                }
            }
            work.extend(
                DEFERRED
                    .try_with(|q| std::mem::take(&mut *q.borrow_mut()))
                    .unwrap_or_default(),
            );
            if budget == 0 {
                break;
            }
        }
        if !work.is_empty() || budget == 0 {
            self.inner.wake_workers();
        }
    }

    /// Delivers every broadcast still pending (after a restart, or beyond a caller's batch),
    /// up to `budget` deliveries; returns how many it made. The job worker calls it.
    pub async fn deliver_pending_signals(&self, budget: usize) -> Result<usize, Error> {
        let pending = self.inner.store.pending_broadcasts(256)?;
        let mut left = budget;
        let run = async {
            let mut work = pending;
            work.reverse();
            while let Some((app, id)) = work.pop() {
                if left == 0 {
                    break;
                }
                match self.deliver_broadcast(&app, id, &mut left).await {
                    Ok(more) => work.extend(more),
                    Err(e) => {
                        tracing::warn!(app = %app, broadcast = %id, error = %e, "could not deliver a signal");
                    }
                }
                work.extend(
                    DEFERRED
                        .try_with(|q| std::mem::take(&mut *q.borrow_mut()))
                        .unwrap_or_default(),
                );
            }
        };
        DEFERRED.scope(RefCell::new(Vec::new()), run).await;
        Ok(budget - left)
    }

    /// Makes the pending deliveries of one broadcast (up to `budget`); when none is left, its
    /// record goes. Returns the broadcasts those deliveries threw.
    async fn deliver_broadcast(
        &self,
        app: &AppId,
        id: BroadcastId,
        budget: &mut usize,
    ) -> Result<Vec<Thrown>, Error> {
        let Some(pending) = self.inner.store.pending_broadcast(app, id)? else {
            return Ok(Vec::new());
        };
        let mut thrown = Vec::new();
        let mut left = pending.deliveries.len();
        for (stored, d) in &pending.deliveries {
            if *budget == 0 {
                return Ok(thrown);
            }
            if left < pending.deliveries.len() {
                // One delivery of the broadcast is on disk, the next is not.
                crate::failpoint!("signal.between_deliveries");
            }
            thrown.extend(self.deliver(&pending.broadcast, d, stored).await?);
            *budget -= 1;
            left -= 1;
        }
        if left == 0 {
            let mut txn = Txn::new();
            txn.delete_broadcast(app, id);
            match self.inner.store.commit(txn).await {
                Ok(()) | Err(CommitError::Conflict(_)) => {}
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Ok(thrown)
    }

    /// One delivery: moves its subscription's instance, or starts an instance at its start
    /// event, deleting the delivery in the same commit (or right after, for a start: its
    /// idempotency key keeps that to one instance).
    async fn deliver(
        &self,
        b: &Broadcast,
        d: &Delivery,
        stored: &[u8],
    ) -> Result<Vec<Thrown>, Error> {
        match &d.target {
            Target::Subscription(sub) => {
                for _ in 0..16 {
                    match self.deliver_to(b, d, stored, sub).await {
                        Ok(Some(thrown)) => return Ok(thrown),
                        Ok(None) => continue,
                        Err(Error::Store(e)) => return Err(Error::Store(e)),
                        Err(e) => {
                            tracing::warn!(app = %b.app, instance = %sub.instance, element = %sub.element, error = %e, "a signal could not move its instance; skipped");
                            self.consume(d, stored).await?;
                            return Ok(Vec::new());
                        }
                    }
                }
                // The instance kept changing: the delivery stays for the worker's next round.
                Err(Error::Conflict)
            }
            Target::Start { element } => {
                let spec = self.app(&b.app)?;
                match spec.service_owner.clone() {
                    None => {
                        tracing::warn!(app = %b.app, element = %element, "signal start event: the app has no service owner organisation to own the instances it starts; skipped");
                    }
                    Some(owner) => {
                        // The broadcast's data, into the start event's data type if it names one.
                        // (Without a definition the create below fails and says so.)
                        let mut data = std::collections::BTreeMap::new();
                        let data_type = self.latest_definition(&b.app).ok().and_then(|(_, def)| {
                            def.node_by_id(element.as_str())
                                .and_then(|n| signal_data_type(&def, n).cloned())
                        });
                        if let (Some(data_type), Some(Value::Object(fields))) = (data_type, &b.data)
                        {
                            data.insert(data_type, Value::Object(fields.clone()));
                        }
                        let req = CreateInstance {
                            app: b.app.clone(),
                            owner,
                            actor: Actor::system(ACTOR),
                            data,
                            start_event: Some(element.to_string()),
                            idempotency: Some((
                                format!("signal:{}:{}", b.id, d.seq),
                                b.id.to_string(),
                            )),
                        };
                        match self.create_at(req, None, None).await {
                            Ok(_) => {}
                            Err(Error::Store(e)) => return Err(Error::Store(e)),
                            Err(e) => {
                                tracing::warn!(app = %b.app, element = %element, error = %e, "a signal start event could not start an instance; skipped");
                            }
                        }
                    }
                }
                self.consume(d, stored).await?;
                Ok(Vec::new())
            }
        }
    }

    /// Deletes a delivery that moves nothing (its subscription closed, or its start is done).
    async fn consume(&self, d: &Delivery, stored: &[u8]) -> Result<(), Error> {
        let mut txn = Txn::new();
        txn.consume_delivery(d, stored);
        match self.inner.store.commit(txn).await {
            Ok(()) | Err(CommitError::Conflict(_)) => Ok(()),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }

    /// Delivers to an open subscription in one version-checked commit whose check 0 consumes
    /// the delivery. `Ok(None)`: the instance changed meanwhile, read it again.
    async fn deliver_to(
        &self,
        b: &Broadcast,
        d: &Delivery,
        stored: &[u8],
        sub: &SignalSubscription,
    ) -> Result<Option<Vec<Thrown>>, Error> {
        let closed = Ok(Some(Vec::new()));
        let Some(instance) = self.inner.store.instance(sub.instance)? else {
            return self.consume(d, stored).await.map(|()| Some(Vec::new()));
        };
        let loaded = self.resolve(instance, None)?;
        let def = loaded.def.clone();
        let node_idx = def.node_by_id(sub.element.as_str());
        if loaded.instance.is_ended()
            || !subscriptions_of(&loaded.instance, &def).contains(sub)
            || node_idx.is_none()
        {
            // It closed after the throw: it does not get it.
            self.consume(d, stored).await?;
            return closed;
        }
        let Some(node_idx) = node_idx else {
            return closed;
        };
        let node = def.node(node_idx);
        let mut t = self.begin(loaded, Actor::system(ACTOR));
        t.prelude.consume_delivery(d, stored); // check 0
        let data_type = signal_data_type(&def, node_idx);
        if let Some(data_type) = data_type {
            t.merge_event_data(data_type, b.data.as_ref())?;
        }
        t.record(
            EventType::SignalCaught,
            Some(node.id.clone()),
            None,
            Some(json!({
                "signal": b.signal,
                "broadcast": b.id.to_string(),
                "thrownBy": b.thrown_by.map(|i| i.to_string()),
                "publishedBy": b.published_by,
                "dataType": data_type.map(DataTypeId::as_str),
            })),
        );
        let scope = match &node.kind {
            NodeKind::SignalCatch(_) => t.take_task_token(sub.token)?,
            NodeKind::SignalBoundary(boundary) => {
                let attached = def.node(boundary.attached_to);
                // Held by a scope instance: a sub-process's, or the body of a multi-instance
                // activity (one subscription on the whole); else by the token at the task.
                // Tokens and scope instances share one id counter.
                let held_by_scope = t.instance.process.scopes.iter().any(|s| s.id == sub.token);
                if held_by_scope {
                    let parent = t
                        .instance
                        .process
                        .scopes
                        .iter()
                        .find(|s| s.id == sub.token)
                        .map(|s| s.parent);
                    match parent {
                        None => return closed,
                        Some(_) if boundary.cancel_activity => {
                            t.interrupt_scope(sub.token, &node.id, None)?
                        }
                        Some(parent) => parent,
                    }
                } else {
                    let holder = t
                        .instance
                        .process
                        .tokens
                        .iter()
                        .find(|x| x.id == sub.token)
                        .cloned();
                    match holder {
                        None => return closed,
                        Some(holder) if boundary.cancel_activity => {
                            t.interrupt_for_message(&holder, &node.id, &attached.id)?
                        }
                        Some(holder) => holder.scope,
                    }
                }
            }
            // The start event of an event sub-process: it starts in its scope instance (the
            // subscription's token; `PROCESS_LEVEL`: the process).
            NodeKind::StartEvent(_) => {
                let Some(esp) = node.scope else {
                    return closed;
                };
                let enclosing = (sub.token != PROCESS_LEVEL).then_some(sub.token);
                Some(t.start_event_sub(esp, enclosing)?)
            }
            _ => return closed,
        };
        let out = node.outgoing.iter().map(|&f| (f, Some(node_idx))).collect();
        t.arrive(out, scope).await?;
        t.check_written()?;
        let thrown = std::mem::take(&mut t.thrown_signals);
        let opened = t.opened_subscriptions();
        let (txn, instance, jobs) = t.into_txn();
        match self.commit_txn(Kind::Move, txn, !jobs.is_empty()).await {
            Ok(()) => {
                if !opened.is_empty() {
                    self.after_opening(&instance.app, opened).await;
                }
                Ok(Some(thrown))
            }
            // Check 0: another deliverer made this delivery.
            Err(CommitError::Conflict(0)) => closed,
            Err(CommitError::Conflict(_)) => Ok(None),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }

    /// The open signal subscriptions of one instance (its definition says which boundary
    /// events its tasks and sub-processes carry).
    pub fn instance_signal_subscriptions(
        &self,
        instance: &Instance,
    ) -> Result<Vec<SignalSubscription>, Error> {
        let def = self.definition_of(instance)?;
        Ok(subscriptions_of(instance, &def))
    }

    /// The open signal subscriptions of an app (by name, then instance), at most `limit`.
    pub fn signal_subscriptions(
        &self,
        app: &AppId,
        limit: usize,
    ) -> Result<Vec<SignalSubscription>, Error> {
        self.app(app)?;
        Ok(self.inner.store.signal_subscriptions_of(app, limit)?)
    }
}
