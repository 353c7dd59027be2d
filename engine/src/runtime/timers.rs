//! Timers: armed in the transition that reaches them, fired by the job worker.
//!
//! A timer is a job of kind [`JobKind::Timer`], due when the timer fires: it is written in the
//! same commit as the transition that armed it (the outbox), so a restart loses none and an
//! overdue one fires once when the worker next looks. Firing is one commit that removes the job
//! and moves the instance:
//! - an intermediate catch event's token goes on along its flow;
//! - an interrupting boundary event ends its task (the task's own job and its other timers are
//!   removed in the same commit, so a late completion by a worker finds nothing and is refused)
//!   and a token leaves along the boundary's flow;
//! - a non-interrupting one sends a new token along its flow and leaves the task running; a
//!   cycle is armed again for its next tick (computed from the time it fired: missed ticks are
//!   not replayed).
//!
//! A task that ends normally disarms its boundary timers in the commit that ends it.

use super::gateway::Context;
use super::jobs::{JobError, LeasedJob};
use super::pipeline::Kind;
use super::transition::Transition;
use super::{Error, Runtime};
use crate::bpmn::elements::timer::{Armed, IsoDuration, Timer, TimerValue};
use crate::bpmn::elements::{NodeIdx, NodeKind};
use crate::ids::{ElementId, JobKey};
use crate::model::{
    Actor, ArmedTimer, CancelledJob, EventType, Job, JobKind, JobState, Token, TokenAt,
};
use crate::store::CommitError;
use crate::time::Timestamp;
use serde_json::{Value, json};

/// The task type timer jobs carry (shown in job views and logs).
pub const TIMER_TASK_TYPE: &str = "timer";

/// What firing a timer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// The instance moved.
    Moved,
    /// The timer's token or task was gone (it ended meanwhile): the job was dropped.
    Stale,
}

impl Transition<'_> {
    /// Arms `timer` for `element` (a catch or boundary event): evaluates an expression value
    /// against the instance's data, and queues the timer's job in this transition.
    pub(crate) fn arm_timer(
        &mut self,
        element: &ElementId,
        timer: &Timer,
        visit: u32,
    ) -> Result<ArmedTimer, Error> {
        let armed = match &timer.value {
            TimerValue::Expression { expr, kind, text } => {
                self.data.load_all()?;
                let data = self.data.snapshot();
                let ctx = Context {
                    gateway_action: self.gateway_action.as_deref(),
                    data: &data,
                    default_type: self.app.default_data_type(None),
                    instance: &self.instance,
                };
                let value = expr.eval(&ctx).map_err(|e| Error::Timer {
                    element: element.to_string(),
                    problem: format!("`{text}` could not be evaluated: {e}"),
                })?;
                let Value::String(s) = &value else {
                    return Err(Error::Timer {
                        element: element.to_string(),
                        problem: format!(
                            "`{text}` gave {value}, not a string with a {}",
                            kind.element_name()
                        ),
                    });
                };
                let literal = kind.parse(s).map_err(|problem| Error::Timer {
                    element: element.to_string(),
                    problem,
                })?;
                Timer::arm_value(&literal, self.now)
            }
            value => Timer::arm_value(value, self.now),
        };
        let Some(armed) = armed else {
            return Err(Error::Timer {
                element: element.to_string(),
                problem: "the timer has no value".into(),
            });
        };
        let key = JobKey::new_time_ordered();
        self.new_jobs
            .push(timer_job(self, key, element, visit, &armed));
        self.record(
            EventType::TimerArmed,
            Some(element.clone()),
            None,
            Some(json!({ "due": armed.due.to_rfc3339() })),
        );
        Ok(ArmedTimer {
            element: element.clone(),
            job: key,
            due: armed.due,
        })
    }

    /// Arms the boundary timers of the task a new token waits at.
    pub(crate) fn arm_boundaries(
        &mut self,
        task: NodeIdx,
        token: u32,
        visit: u32,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        for &b in &def.node(task).boundaries {
            let node = def.node(b);
            let NodeKind::Boundary(boundary) = &node.kind else {
                continue;
            };
            let armed = self.arm_timer(&node.id, &boundary.timer, visit)?;
            if let Some(t) = self
                .instance
                .process
                .tokens
                .iter_mut()
                .find(|t| t.id == token)
            {
                t.timers.push(armed);
            }
        }
        Ok(())
    }

    /// Removes the jobs of a token's boundary timers (the token leaves its task). Part of this
    /// transition's commit.
    pub(crate) fn disarm(&mut self, timers: &[ArmedTimer]) -> Result<(), Error> {
        for timer in timers {
            self.cancel_job(timer.job)?;
        }
        Ok(())
    }
}

pub(super) fn timer_job(
    t: &Transition<'_>,
    key: JobKey,
    element: &ElementId,
    visit: u32,
    armed: &Armed,
) -> Job {
    Job {
        key,
        app: t.instance.app.clone(),
        instance: t.instance.id,
        element_id: element.clone(),
        task_type: TIMER_TASK_TYPE.into(),
        visit,
        idempotency_key: Job::idempotency_key_for(t.instance.id, element, visit),
        attempts: 0,
        max_attempts: 5,
        state: JobState::Queued { due: armed.due },
        created: t.now,
        last_error: None,
        gateway_action: None,
        external: false,
        kind: JobKind::Timer,
        payload: Some(json!({
            "due": armed.due.millis(),
            "remaining": armed.remaining,
            "intervalMonths": armed.interval.map(|i| i.months),
            "intervalMillis": armed.interval.map(|i| i.millis),
        })),
    }
}

/// The armed state a timer job carries.
pub(super) fn armed_of(job: &Job) -> Armed {
    let p = job.payload.clone().unwrap_or(Value::Null);
    let interval = match (p["intervalMonths"].as_u64(), p["intervalMillis"].as_u64()) {
        (Some(months), Some(millis)) => Some(IsoDuration {
            months: u32::try_from(months).unwrap_or(u32::MAX),
            millis,
        }),
        _ => None,
    };
    Armed {
        due: p["due"]
            .as_i64()
            .map(Timestamp::from_millis)
            .or(job.due())
            .unwrap_or_default(),
        remaining: p["remaining"]
            .as_u64()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        interval,
    }
}

impl Runtime {
    /// Fires a leased timer job: one commit that removes it and moves the instance.
    pub async fn fire_timer(&self, leased: &LeasedJob) -> Result<Fired, JobError> {
        self.fire_timer_from(|rt| rt.held(leased)).await
    }

    /// Fires the timer job `current` reads (with its revision, check 0 of the commit), reading
    /// it again after a conflict: under a lease ([`Runtime::fire_timer`]) or without one
    /// (`timer_firing`).
    pub(crate) async fn fire_timer_from(
        &self,
        current: impl Fn(&Self) -> Result<(u64, Job), JobError>,
    ) -> Result<Fired, JobError> {
        for _ in 0..16 {
            let (rev, job) = current(self)?;
            let Some(instance) = self.inner.store.instance(job.instance)? else {
                return self.drop_stale(&job, rev).await.map(|_| Fired::Stale);
            };
            // The token the timer belongs to: waiting at the catch event, or at the task the
            // boundary is attached to.
            let holder = instance.process.tokens.iter().find(|t| {
                matches!(&t.at, TokenAt::Timer { job: k, .. } if *k == job.key)
                    || t.timers.iter().any(|a| a.job == job.key)
            });
            let Some(holder) = holder.cloned() else {
                // Or the timer start event of an event sub-process, armed at the process level
                // or on the scope instance of the sub-process it is in.
                if instance.process.timers.iter().any(|a| a.job == job.key) && !instance.is_ended()
                {
                    match self.fire_event_sub_timer(&job, rev, instance, None).await? {
                        Some(fired) => return Ok(fired),
                        None => continue,
                    }
                }
                // Or the scope instance of the sub-process the boundary is attached to.
                let scope = instance
                    .process
                    .scopes
                    .iter()
                    .find(|s| s.timers.iter().any(|a| a.job == job.key));
                if let Some(scope) = scope.cloned()
                    && !instance.is_ended()
                {
                    match self.fire_scope_timer(&job, rev, instance, scope).await? {
                        Some(fired) => return Ok(fired),
                        None => continue,
                    }
                }
                return self.drop_stale(&job, rev).await.map(|_| Fired::Stale);
            };
            if instance.is_ended() {
                return self.drop_stale(&job, rev).await.map(|_| Fired::Stale);
            }
            let loaded = self.resolve(instance, None)?;
            let def = loaded.def.clone();
            let Some(node_idx) = def.node_by_id(job.element_id.as_str()) else {
                return self.drop_stale(&job, rev).await.map(|_| Fired::Stale);
            };
            let node = def.node(node_idx);
            let now = self.inner.clock.now();
            let mut t = self.begin(loaded, Actor::system("timer"));
            t.prelude.delete_job(&job, rev); // check 0: the lease is still ours
            t.record(
                EventType::TimerFired,
                Some(node.id.clone()),
                None,
                Some(json!({ "due": armed_of(&job).due.to_rfc3339() })),
            );
            match &node.kind {
                NodeKind::TimerCatch(_) => {
                    // After an event-based gateway the token holds this timer among the
                    // gateway's others: only the others are disarmed (this one is deleted above).
                    if let Some(token) = t
                        .instance
                        .process
                        .tokens
                        .iter_mut()
                        .find(|x| x.id == holder.id)
                    {
                        token.timers.retain(|a| a.job != job.key);
                    }
                    t.take_task_token(holder.id)?;
                }
                NodeKind::Boundary(boundary) if boundary.cancel_activity => {
                    // Interrupting: the task ends here, with its job and its other timers.
                    let attached = def.node(boundary.attached_to);
                    let others: Vec<ArmedTimer> = holder
                        .timers
                        .iter()
                        .filter(|a| a.job != job.key)
                        .cloned()
                        .collect();
                    t.disarm(&others)?;
                    if let TokenAt::ServiceTask { job: task_job, .. } = &holder.at
                        && let Some(task_job) = t.cancel_job(*task_job)?
                        && task_job.external
                    {
                        // Its worker may still complete it: tell them why that is refused.
                        t.prelude
                            .put_cancelled_job(&tombstone(task_job, &node.id, now));
                    }
                    t.instance.process.tokens.retain(|x| x.id != holder.id);
                    t.instance
                        .process
                        .incidents
                        .retain(|i| i.element_id != attached.id);
                    t.record(
                        EventType::AbandonTask,
                        Some(attached.id.clone()),
                        None,
                        Some(json!({ "interruptedBy": node.id.as_str() })),
                    );
                }
                NodeKind::Boundary(_) => {
                    // Non-interrupting: the task goes on; a cycle is armed again.
                    let next = Timer::next_tick(&armed_of(&job), now);
                    let token = t
                        .instance
                        .process
                        .tokens
                        .iter_mut()
                        .find(|x| x.id == holder.id);
                    if let Some(token) = token {
                        token.timers.retain(|a| a.job != job.key);
                        if let Some(next) = next {
                            let key = JobKey::new_time_ordered();
                            let again = timer_job(&t, key, &node.id, job.visit, &next);
                            t.new_jobs.push(again);
                            if let Some(token) = t
                                .instance
                                .process
                                .tokens
                                .iter_mut()
                                .find(|x| x.id == holder.id)
                            {
                                token.timers.push(ArmedTimer {
                                    element: node.id.clone(),
                                    job: key,
                                    due: next.due,
                                });
                            }
                        }
                    }
                }
                _ => return self.drop_stale(&job, rev).await.map(|_| Fired::Stale),
            }
            let out = node.outgoing.iter().map(|&f| (f, Some(node_idx))).collect();
            // Interrupting or not, the token goes on in the scope the timer's holder is in.
            t.arrive(out, holder.scope).await?;
            t.check_written()?;
            match self.commit(Kind::Complete, t).await {
                Ok(_) => return Ok(Fired::Moved),
                Err(CommitError::Conflict(0)) => return Err(JobError::LeaseLost(job.key)),
                Err(CommitError::Conflict(_)) => continue,
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(JobError::Runtime(Error::Conflict))
    }
}

/// How long past its lease a cancelled job's tombstone is kept.
const TOMBSTONE_KEPT: std::time::Duration = std::time::Duration::from_secs(86_400);

pub(super) fn tombstone(job: Job, by: &ElementId, now: Timestamp) -> CancelledJob {
    let lease_end = match &job.state {
        JobState::Leased { until, .. } => (*until).max(now),
        _ => now,
    };
    CancelledJob {
        job,
        by: by.clone(),
        at: now,
        keep_until: lease_end.plus(TOMBSTONE_KEPT),
    }
}

impl Runtime {
    /// The tombstone of a job an interrupting boundary event cancelled, while it is kept.
    pub fn cancelled_job(&self, key: JobKey) -> Result<Option<CancelledJob>, Error> {
        Ok(self.inner.store.cancelled_job(key)?)
    }

    /// Removes tombstones whose time is up (at most `limit` per call); returns how many.
    pub async fn sweep_cancelled_jobs(&self, limit: usize) -> Result<usize, Error> {
        let now = self.inner.clock.now();
        let expired = self.inner.store.expired_cancelled_jobs(now, limit)?;
        if expired.is_empty() {
            return Ok(0);
        }
        let mut txn = crate::store::Txn::new();
        for (until, key) in &expired {
            txn.delete_cancelled_job(*key, *until);
        }
        match self.inner.store.commit(txn).await {
            Ok(()) => Ok(expired.len()),
            Err(CommitError::Conflict(_)) => Ok(0),
            Err(CommitError::Store(e)) => Err(Error::Store(e)),
        }
    }
}

/// A token's timers, for [`Transition::disarm`] when it leaves its task.
pub(crate) fn timers_of(tokens: &[Token], token: u32) -> Vec<ArmedTimer> {
    tokens
        .iter()
        .find(|t| t.id == token)
        .map(|t| t.timers.clone())
        .unwrap_or_default()
}
