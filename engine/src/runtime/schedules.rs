//! Timer start events: instances created on a schedule.
//!
//! Each timer start event of an app's latest definition has a [`Schedule`] in the store (`S`
//! in `store::layout`): when its next tick is due, how many ticks are left, the interval.
//! - **Deploy** replaces the app's schedules in the commit that stores the new version: a new
//!   deployment starts the schedules of its own timer start events afresh (computed from the
//!   deploy's time) and drops the old ones. A `timeDate` already past at deploy is not
//!   scheduled; a `timeDuration` fires once, that long after the deploy.
//! - **A tick** is one commit ([`Runtime::create_at`]) that creates the instance (owned by the
//!   app's service owner) and advances the schedule, checked against the schedule's revision,
//!   with an idempotency record keyed by the tick (`timer-start` / `element/due`): a tick starts
//!   exactly one instance, however often a crash interrupts it or several servers look.
//! - **Catch-up**: a tick that fell due while flyt was down fires once when it is back; the cycle
//!   then continues from that moment (missed ticks are not replayed), as for other timers.
//! - A tick the process refuses (a hook's veto, an undecidable gateway) starts nothing: the
//!   schedule records the error and moves on, so one bad tick does not block the next.
//!
//! The job worker ([`super::worker`]) calls [`Runtime::fire_due_schedules`] on each pass and
//! wakes for the earliest schedule.

use super::commands::CreateInstance;
use super::{Error, Runtime};
use crate::app::AppSpec;
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::NodeKind;
use crate::bpmn::elements::timer::{Armed, IsoDuration, Timer, TimerValue};
use crate::ids::{AppId, InstanceId};
use crate::model::{Actor, Instance, Schedule, ScheduleError};
use crate::store::{CommitError, IdempotencyRecord, Txn};
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// How many schedules one pass of the worker looks at (every app's, in key order).
const MAX_SCHEDULES: usize = 10_000;

/// The caller the idempotency records of ticks are kept under.
pub(crate) const TICK_CALLER: &str = "timer-start";

/// A due tick of a schedule at its read revision.
#[derive(Debug, Clone)]
pub(crate) struct Tick {
    pub schedule: Schedule,
    pub rev: u64,
}

impl Tick {
    /// The key that makes this tick's instance unique.
    pub fn key(&self) -> String {
        format!("{}/{}", self.schedule.element, self.schedule.due.millis())
    }

    /// Adds to `txn` the schedule's advance past this tick (or its removal after the last) and
    /// the tick's idempotency record naming `instance`.
    pub fn advance(&self, txn: &mut Txn, instance: &Instance, now: Timestamp) {
        let s = &self.schedule;
        txn.put_idempotency(
            &s.app,
            TICK_CALLER,
            &self.key(),
            &IdempotencyRecord {
                request_hash: String::new(),
                instance: instance.id,
                party: instance.owner.party_id,
                created: now,
            },
        );
        self.moved_on(txn, Some(instance.id), None, now);
    }

    /// Writes the schedule past this tick, or removes it after its last.
    fn moved_on(
        &self,
        txn: &mut Txn,
        instance: Option<InstanceId>,
        error: Option<ScheduleError>,
        now: Timestamp,
    ) {
        let s = &self.schedule;
        match Timer::next_tick(&armed(s), now) {
            Some(next) => {
                let advanced = Schedule {
                    due: next.due,
                    remaining: next.remaining,
                    ticks: s.ticks + u64::from(instance.is_some()),
                    last_instance: instance.or(s.last_instance),
                    last_error: error.or_else(|| s.last_error.clone()),
                    ..s.clone()
                };
                txn.put_schedule(&advanced, self.rev + 1);
            }
            None => {
                txn.delete_schedule(s, self.rev);
            }
        }
    }
}

fn armed(s: &Schedule) -> Armed {
    Armed {
        due: s.due,
        remaining: s.remaining,
        interval: match (s.interval_months, s.interval_millis) {
            (Some(months), Some(millis)) => Some(IsoDuration { months, millis }),
            _ => None,
        },
    }
}

/// The schedules of a definition's timer start events, armed at `now`.
pub(crate) fn schedules_for(
    app: &AppSpec,
    version: u32,
    def: &ProcessDefinition,
    now: Timestamp,
) -> Result<Vec<Schedule>, Error> {
    let mut out = Vec::new();
    for &n in def.start_events() {
        let node = def.node(n);
        let NodeKind::StartEvent(start) = &node.kind else {
            continue;
        };
        if start.message.is_some() && app.service_owner.is_none() {
            return Err(Error::BadRequest(format!(
                "message start event `{}`: app {} has no service owner organisation to own the instances it starts (set `service_owner` in app.toml)",
                node.id, app.id
            )));
        }
        let Some(timer) = &start.timer else { continue };
        if app.service_owner.is_none() {
            return Err(Error::BadRequest(format!(
                "timer start event `{}`: app {} has no service owner organisation to own the instances it starts (set `service_owner` in app.toml)",
                node.id, app.id
            )));
        }
        // A date already past at deploy is not a missed tick: it is never scheduled.
        if let TimerValue::Date(at) = timer.value
            && at < now
        {
            continue;
        }
        let Some(armed) = Timer::arm_value(&timer.value, now) else {
            continue; // expressions are refused at start events when the file is read
        };
        out.push(Schedule {
            app: app.id.clone(),
            element: node.id.clone(),
            definition_version: version,
            due: armed.due,
            remaining: armed.remaining,
            interval_months: armed.interval.map(|i| i.months),
            interval_millis: armed.interval.map(|i| i.millis),
            ticks: 0,
            last_instance: None,
            last_error: None,
        });
    }
    Ok(out)
}

/// Adds to a deploy's `txn` the replacement of `app`'s schedules by `new` ones.
pub(crate) fn replace_schedules(
    store: &crate::store::Store,
    app: &AppId,
    new: &[Schedule],
    txn: &mut Txn,
) -> Result<(), Error> {
    let old: BTreeMap<_, _> = store
        .schedules(Some(app), MAX_SCHEDULES)?
        .into_iter()
        .map(|(rev, s)| (s.element.clone(), (rev, s)))
        .collect();
    for s in new {
        // Over an old schedule of the same element: a later revision, so that a tick of the old
        // one committing meanwhile fails its check.
        let rev = old.get(&s.element).map_or(1, |(rev, _)| rev + 1);
        txn.put_schedule(s, rev);
    }
    for (element, (rev, s)) in &old {
        if !new.iter().any(|n| &n.element == element) {
            txn.delete_schedule(s, *rev);
        }
    }
    Ok(())
}

impl Runtime {
    /// Starts an instance for every schedule due by now; returns how many started, and when the
    /// next schedule is due.
    pub async fn fire_due_schedules(&self) -> Result<(usize, Option<Timestamp>), Error> {
        let now = self.inner.clock.now();
        let mut started = 0;
        let mut next: Option<Timestamp> = None;
        for (rev, schedule) in self.inner.store.schedules(None, MAX_SCHEDULES)? {
            if schedule.due > now {
                next = Some(next.map_or(schedule.due, |n| n.min(schedule.due)));
                continue;
            }
            match self.fire_schedule(Tick { schedule, rev }).await {
                Ok(true) => started += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "timer start event could not be fired"),
            }
        }
        Ok((started, next))
    }

    /// One tick: an instance created with the schedule advanced, in one commit. `false` when
    /// someone else moved the schedule first (another server, a deploy).
    async fn fire_schedule(&self, tick: Tick) -> Result<bool, Error> {
        let s = &tick.schedule;
        let app = self.app(&s.app)?;
        let Some(owner) = app.service_owner.clone() else {
            return self
                .tick_failed(&tick, "the app has no service owner")
                .await;
        };
        let req = CreateInstance {
            app: s.app.clone(),
            owner,
            actor: Actor::system("timer"),
            data: BTreeMap::new(),
            start_event: Some(s.element.to_string()),
            idempotency: None,
        };
        match self.create_at(req, Some(tick.clone()), None).await {
            Ok(created) => {
                tracing::info!(app = %s.app, element = %s.element, instance = %created.instance.id, "timer start event started an instance");
                Ok(true)
            }
            Err(Error::Conflict | Error::IdempotencyKeyReused(_)) => Ok(false),
            Err(e @ (Error::Store(_) | Error::Internal(_))) => Err(e),
            Err(e) => self.tick_failed(&tick, &e.to_string()).await,
        }
    }

    /// Moves a schedule past a tick that started nothing, recording why.
    async fn tick_failed(&self, tick: &Tick, message: &str) -> Result<bool, Error> {
        tracing::warn!(app = %tick.schedule.app, element = %tick.schedule.element, error = %message, "a timer start event's tick started no instance");
        let now = self.inner.clock.now();
        let error = ScheduleError {
            due: tick.schedule.due,
            at: now,
            message: message.to_string(),
        };
        let mut txn = Txn::new();
        tick.moved_on(&mut txn, None, Some(error), now);
        match self.inner.store.commit(txn).await {
            Ok(()) | Err(CommitError::Conflict(_)) => Ok(false),
            Err(CommitError::Store(e)) => Err(Error::Store(e)),
        }
    }

    /// The schedules of an app's timer start events, soonest first.
    pub fn schedules(&self, app: &AppId) -> Result<Vec<Schedule>, Error> {
        let mut all: Vec<Schedule> = self
            .inner
            .store
            .schedules(Some(app), MAX_SCHEDULES)?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        all.sort_by_key(|s| s.due);
        Ok(all)
    }
}
