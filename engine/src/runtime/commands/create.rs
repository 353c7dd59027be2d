//! Creating an instance: it runs from its start event to the first wait states, in one commit.

use super::{CreateInstance, Created, check_data};
use crate::bpmn::elements::NodeKind;
use crate::ids::{AppId, InstanceId};
use crate::model::{Actor, EventType, Instance};
use crate::runtime::data::DataCache;
use crate::runtime::pipeline::{Kind, Loaded};
use crate::runtime::schedules::Tick;
use crate::runtime::transition::{HookPoint, Transition};
use crate::runtime::{Error, Runtime};
use crate::store::{CommitError, IdempotencyRecord};
use serde_json::json;

impl Runtime {
    /// Creates an instance and runs its process to the first wait state, in one commit.
    pub async fn create_instance(&self, req: CreateInstance) -> Result<Created, Error> {
        self.create_at(req, None, None).await
    }

    /// Creates an instance; with a `tick`, the one a schedule's due tick starts, in the same
    /// commit that advances the schedule (see `runtime::schedules`).
    pub(crate) async fn create_at(
        &self,
        req: CreateInstance,
        tick: Option<Tick>,
        message: Option<&crate::runtime::messages::StartedBy>,
    ) -> Result<Created, Error> {
        // On a shared store the definition head may come from this node's cache; the commit
        // checks its revision, and a head a deploy moved meanwhile (through any node) is read
        // again and the create computed again from the start (its hooks run again).
        for _ in 0..3 {
            let mut head_moved = false;
            let created = self
                .create_once(req.clone(), tick.clone(), message, &mut head_moved)
                .await;
            if !head_moved {
                return created;
            }
            self.inner.definitions.forget_head(&req.app);
        }
        // Three deploys in a row overtook it: the caller may retry.
        Err(Error::Conflict)
    }

    /// One try of [`create_at`](Self::create_at); sets `head_moved` when its commit found the
    /// definition head it used moved.
    async fn create_once(
        &self,
        req: CreateInstance,
        tick: Option<Tick>,
        message: Option<&crate::runtime::messages::StartedBy>,
        head_moved: &mut bool,
    ) -> Result<Created, Error> {
        // Check: a replayed idempotency key answers with its instance.
        let app = self.app(&req.app)?;
        if let Some((key, hash)) = &req.idempotency
            && let Some(found) = self.replay(&req.app, &req.actor, key, hash)?
        {
            return Ok(found);
        }
        // Load: the latest definition and its start event.
        let (version, def, head) = self
            .inner
            .definitions
            .latest_for_create(&self.inner.store, &req.app)?;
        let start = match (&req.start_event, &tick) {
            // A published message starts one at its message start event.
            _ if message.is_some() => message.and_then(|m| def.node_by_id(m.element.as_str())),
            // A scheduled instance starts at its timer start event.
            (_, Some(tick)) => def.node_by_id(tick.schedule.element.as_str()),
            (None, None) => def
                .start_events()
                .iter()
                .copied()
                .find(|&n| matches!(&def.node(n).kind, NodeKind::StartEvent(s) if s.is_none())),
            (Some(id), None) => def.node_by_id(id).filter(|n| {
                def.node(*n).scope.is_none()
                    && matches!(&def.node(*n).kind, NodeKind::StartEvent(s)
                        if s.is_none() || (s.signal.is_some() && crate::runtime::signals::starts_signalled(&req.actor)))
            }),
        };
        let start = match start {
            Some(start) => start,
            None if req.start_event.is_none() && !def.start_events().is_empty() => {
                return Err(Error::StartsOnSchedule {
                    app: req.app.clone(),
                    starts: def
                        .start_events()
                        .iter()
                        .map(|&n| def.node(n).id.to_string())
                        .collect(),
                });
            }
            None => {
                return Err(Error::BadRequest(format!(
                    "no none start event `{}` (a timer start event starts instances only on its schedule)",
                    req.start_event.as_deref().unwrap_or("")
                )));
            }
        };
        for (data_type, value) in &req.data {
            check_data(&app, data_type, value)?;
        }
        // Compute: the new instance, its prefill, the start event and every step to the first
        // wait states.
        let now = self.inner.clock.now();
        let id = InstanceId::from_uuid(uuid::Uuid::now_v7());
        let start_node = def.node(start);
        let (start_id, first) = (
            start_node.id.clone(),
            start_node.outgoing.iter().map(|&f| (f, None)).collect(),
        );
        let instance = Instance::started(
            id,
            req.app.clone(),
            req.owner.clone(),
            version,
            req.actor.clone(),
            now,
            start_id.clone(),
        );
        let mut t = Transition::new(
            &self.inner,
            Loaded { instance, def, app },
            None,
            DataCache::fresh(id),
            req.actor.clone(),
            now,
        );
        for (data_type, value) in req.data {
            t.data.set(data_type, value);
        }
        t.run_hooks(HookPoint::InstanceCreated).await?;
        let payload = tick
            .as_ref()
            .map(|tick| json!({ "tick": tick.schedule.due.to_rfc3339() }));
        t.record(EventType::StartEvent, Some(start_id.clone()), None, payload);
        if let Some(m) = message {
            t.start_by_message(&start_id, m);
        }
        t.arm_event_subs(None)?;
        t.arrive(first, None).await?;
        // Hooks may have written data; it must satisfy the schemas too.
        t.check_written()?;
        if let Some((key, hash)) = &req.idempotency {
            t.prelude.put_idempotency(
                &req.app,
                &req.actor.identity(),
                key,
                &IdempotencyRecord {
                    request_hash: hash.clone(),
                    instance: id,
                    party: t.instance.owner.party_id,
                    created: now,
                },
            );
        }
        if let Some(tick) = &tick {
            tick.advance(&mut t.prelude, &t.instance, now);
        }
        // The head it used, checked last so that the other checks keep their indexes.
        let guard = head.map(|revision| t.prelude.guard_definition_head(&req.app, revision));
        // Commit.
        match self.commit(Kind::Create, t).await {
            Ok(instance) => Ok(Created {
                instance,
                created: true,
            }),
            Err(CommitError::Conflict(check)) if Some(check) == guard => {
                *head_moved = true;
                Err(Error::Conflict)
            }
            // Check 0 of a message start: its messageId was published meanwhile.
            Err(CommitError::Conflict(0)) if message.is_some() => Err(Error::Conflict),
            // A concurrent request with the same key won: answer as a replay of it.
            Err(CommitError::Conflict(_)) if req.idempotency.is_some() => {
                if let Some((key, hash)) = &req.idempotency
                    && let Some(found) = self.replay(&req.app, &req.actor, key, hash)?
                {
                    return Ok(found);
                }
                Err(Error::Conflict)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The instance an idempotency key of this caller already created, if any.
    fn replay(
        &self,
        app: &AppId,
        actor: &Actor,
        key: &str,
        hash: &str,
    ) -> Result<Option<Created>, Error> {
        let store = &self.inner.store;
        let record = match store.idempotency(app, &actor.identity(), key)? {
            Some(record) => Some(record),
            // A key from before keys were per caller counts only for the caller that created
            // the instance; for anyone else it does not exist.
            None => match store.idempotency_unscoped(app, key)? {
                Some(record)
                    if store
                        .instance(record.instance)?
                        .is_some_and(|i| i.created_by == *actor) =>
                {
                    Some(record)
                }
                _ => None,
            },
        };
        match record {
            None => Ok(None),
            Some(record) if record.request_hash == hash => {
                let instance = self.instance(record.instance)?;
                Ok(Some(Created {
                    instance,
                    created: false,
                }))
            }
            Some(_) => Err(Error::IdempotencyKeyReused(key.to_string())),
        }
    }
}
