//! Firing due timers without leasing them first.
//!
//! A timer has no handler and no side effect outside its commit: firing it is one transition
//! that deletes the job (checked at the revision it was read at) and moves its instance. So a
//! lease buys it nothing: two firers racing for one timer give one commit and one conflict,
//! exactly like two moves of one instance. Firing without a lease saves a durable commit per
//! timer, and the worker fires many due timers at once so that the group committer writes
//! them with one fsync (each still its own atomic, version-checked transition).
//!
//! A firing the process refuses (a hook veto, an undecidable gateway) is not transient: the
//! timer is then leased and failed through the job state machine, which raises its incident.

use super::Runtime;
use super::jobs::JobError;
use super::timers::Fired;
use crate::ids::JobKey;
use crate::model::{Job, JobKind, JobState};

/// What one attempt to fire a due timer came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firing {
    /// The instance moved, or the timer was stale and dropped: done.
    Fired(Fired),
    /// The timer is gone, not due, or was fired or disarmed by someone else meanwhile.
    NotDue,
    /// The process refused to move on from it: it is now an incident (or someone else holds it).
    Refused,
    /// Storage failed or the instance kept changing: the timer stays due for the next round.
    Retry,
}

impl Runtime {
    /// Fires the timer `key` if it is due now (queued and due, or leased by a worker whose lease
    /// expired): one commit, no lease.
    pub async fn fire_due_timer(&self, key: JobKey) -> Firing {
        let result = self.fire_timer_from(|rt| due_timer(rt, key)).await;
        match result {
            Ok(fired) => Firing::Fired(fired),
            Err(JobError::NotFound(_) | JobError::LeaseLost(_) | JobError::Cancelled { .. }) => {
                Firing::NotDue
            }
            Err(JobError::Runtime(super::Error::Conflict | super::Error::Store(_))) => {
                Firing::Retry
            }
            Err(JobError::Runtime(e)) => self.refuse(key, &e.to_string()).await,
        }
    }

    /// Records a refused firing as the timer's incident, through a lease like any job.
    async fn refuse(&self, key: JobKey, error: &str) -> Firing {
        let worker = self.worker_id();
        let lease_for = self.inner.config.timer_lease;
        let leased = match self.lease_job(key, false, &worker, lease_for).await {
            Ok(Some(l)) => l,
            Ok(None) => return Firing::Refused,
            Err(e) => {
                tracing::warn!(job = %key, error = %e, "cannot lease a refused timer");
                return Firing::Retry;
            }
        };
        let reason = format!("the process could not move on from the timer: {error}");
        match self.fail_job(&leased, &reason, false, None).await {
            Ok(_) => Firing::Refused,
            Err(e) => {
                tracing::warn!(job = %key, error = %e, "cannot record a refused timer");
                Firing::Retry
            }
        }
    }
}

/// The timer `key` with its revision, if it is a timer due now; otherwise `NotFound`.
fn due_timer(rt: &Runtime, key: JobKey) -> Result<(u64, Job), JobError> {
    let (rev, job) = rt.inner.store.job(key)?.ok_or(JobError::NotFound(key))?;
    let now = rt.inner.clock.now();
    let due = job.kind == JobKind::Timer
        && match &job.state {
            JobState::Queued { due } => *due <= now,
            JobState::Leased { until, .. } => *until <= now,
            JobState::Incident => false,
        };
    if due {
        Ok((rev, job))
    } else {
        Err(JobError::NotFound(key))
    }
}
