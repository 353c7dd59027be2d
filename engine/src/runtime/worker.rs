//! The in-process job worker: finds due jobs, leases them, runs their handlers, and records the
//! outcome. One per runtime; it runs up to `worker_concurrency` jobs at once.
//!
//! It waits on the clock (so a manual clock drives retries in tests), on a notification from
//! commits that create jobs (this process's, or on a shared store another node's hint), and on
//! a poll interval as the backstop that never depends on a hint arriving.
//!
//! Timers have a loop of their own ([`fire_timers`]) over their own due queue: it keeps up to
//! `timer_batch` due timers firing at once without leasing them (see `timer_firing`), so that
//! many firings share one group commit, and a million timers falling due together neither wait
//! behind service tasks' jobs nor hold them up.

use super::Error;
use super::Runtime;
use super::jobs::{JobError, LeasedJob};
use super::message_sweep;
use super::timer_firing::Firing;
use crate::hooks::ServiceTaskOutcome;
use crate::ids::JobKey;
use futures::FutureExt;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// A running worker. Stop it with [`Worker::stop`].
#[derive(Debug)]
pub struct Worker {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Worker {
    /// Starts the worker on the current tokio runtime.
    pub fn spawn(rt: Runtime) -> Worker {
        // Other nodes' hints wake both loops, like this process's own commits (a shared store
        // only; polling stays the truth).
        rt.inner.store.listen_for_work(rt.inner.jobs_ready.clone());
        tracing::info!(worker = %rt.worker_id(), "job worker started");
        let (stop, stop_rx) = watch::channel(false);
        let timers = tokio::spawn(fire_timers(rt.clone(), stop_rx.clone()));
        let jobs = tokio::spawn(run(rt, stop_rx));
        let handle = tokio::spawn(async move {
            let _ = tokio::join!(jobs, timers);
        });
        Worker { stop, handle }
    }

    /// Stops taking jobs and waits (up to `grace`) for running ones to finish. A job cut off by
    /// the grace period keeps its lease and is taken again after a restart.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace, self.handle).await;
    }
}

/// How many pending call records the worker delivers per round.
const CALL_BATCH: usize = 64;

async fn run(rt: Runtime, mut stop: watch::Receiver<bool>) {
    match rt.reclaim_stale_leases().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "reclaimed jobs leased before a restart"),
        Err(e) => tracing::warn!(error = %e, "could not reclaim stale leases"),
    }
    let concurrency = rt.inner.config.worker_concurrency;
    let permits = Arc::new(Semaphore::new(concurrency));
    let finished = Arc::new(Notify::new());
    let in_flight: Arc<Mutex<HashSet<JobKey>>> = Arc::default();
    let worker_id = rt.worker_id();
    let mut message_sweep = message_sweep::BufferedSweep::default();
    let mut next_message_sweep = rt.inner.clock.now();
    loop {
        if *stop.borrow() {
            break;
        }
        // Subscribe before scanning so a commit between the scan and the wait is not missed.
        let notified = rt.inner.jobs_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let finished_wait = finished.notified();
        tokio::pin!(finished_wait);
        finished_wait.as_mut().enable();

        let clock = rt.inner.clock.clone();
        let now = clock.now();
        match rt.inner.store.due_jobs(false, now, concurrency * 2) {
            Ok(due) => {
                for (_, key) in due {
                    if in_flight.lock().contains(&key) {
                        continue;
                    }
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        break;
                    };
                    let leased = match lease(&rt, key, &worker_id).await {
                        Some(l) => l,
                        None => continue,
                    };
                    in_flight.lock().insert(key);
                    let (rt2, in_flight2, finished2) =
                        (rt.clone(), in_flight.clone(), finished.clone());
                    tokio::spawn(async move {
                        execute(&rt2, leased).await;
                        in_flight2.lock().remove(&key);
                        drop(permit);
                        finished2.notify_one();
                    });
                }
            }
            Err(e) => tracing::error!(error = %e, "job worker cannot read due jobs"),
        }

        // Tombstones of cancelled jobs whose time is up.
        if let Err(e) = rt.sweep_cancelled_jobs(256).await {
            tracing::warn!(error = %e, "cannot sweep the tombstones of cancelled jobs");
        }
        // Buffered messages past their timeToLive: a page at most once per SWEEP_EVERY.
        if now >= next_message_sweep {
            if let Err(e) = message_sweep.pass(&rt, message_sweep::SWEEP_PAGE).await {
                tracing::warn!(error = %e, "cannot sweep expired buffered messages");
            }
            next_message_sweep = now.plus(message_sweep::SWEEP_EVERY);
        }
        // Timer start events: the ticks due start their instances (one commit each).
        let next_schedule = match rt.fire_due_schedules().await {
            Ok((_, next)) => next,
            Err(e) => {
                tracing::error!(error = %e, "job worker cannot read schedules");
                None
            }
        };

        // Signal broadcasts a restart interrupted, or beyond their thrower's batch.
        let signals = match rt
            .deliver_pending_signals(rt.inner.config.signal_batch)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot deliver pending signals");
                0
            }
        };

        // Call activities' pending records: children to start, parents to resume, children to
        // cancel (a restart, or a failed first delivery).
        let calls = match rt.deliver_pending_calls(CALL_BATCH).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot deliver pending call records");
                0
            }
        };

        let poll = rt.inner.config.worker_poll;
        let deadline = match rt.inner.store.next_due(false) {
            Ok(Some(next)) if next > now => next.min(now.plus(poll)),
            // Something is due now but could not be started (all permits busy, or in flight):
            // a finishing job wakes the loop; poll as a backstop.
            _ => now.plus(poll),
        };
        let deadline = match next_schedule {
            Some(at) if at > now => deadline.min(at),
            _ => deadline,
        };
        // A full batch of signals: more may be pending, look again at once.
        let deadline = if signals >= rt.inner.config.signal_batch.max(1) || calls >= CALL_BATCH {
            now
        } else {
            deadline
        };
        let sleep = clock.sleep_until(deadline);
        // A finished attempt may have re-queued its job (or freed a permit) while the scan above
        // skipped it as in flight: always rescan when one finishes.
        tokio::select! {
            _ = &mut notified => {}
            _ = &mut finished_wait => {}
            _ = sleep => {}
            _ = stop.changed() => {}
        }
    }
    // Let running jobs finish (Worker::stop bounds the wait).
    let _ = permits
        .acquire_many(u32::try_from(concurrency).unwrap_or(u32::MAX))
        .await;
}

/// Fires due timers, up to `timer_batch` at once, each its own commit: commits queued together
/// are written by the group committer with one fsync.
///
/// The window is kept full rather than fired in rounds: when half of it has finished, the due
/// queue is read again and the window topped up (timers already in flight are skipped), so the
/// committer always has firings queued instead of idling while a round's last commit is written
/// and the next round is read and computed.
async fn fire_timers(rt: Runtime, mut stop: watch::Receiver<bool>) {
    let window = rt.inner.config.timer_batch.max(1);
    let mut firing: tokio::task::JoinSet<(JobKey, Firing)> = tokio::task::JoinSet::new();
    let mut in_flight: HashSet<JobKey> = HashSet::new();
    // Every firing that finished last time must be retried (storage failing): wait before
    // reading the due queue again rather than retrying in a tight loop.
    let mut back_off = false;
    loop {
        if *stop.borrow() {
            break;
        }
        let notified = rt.inner.jobs_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let clock = rt.inner.clock.clone();
        let now = clock.now();
        if !back_off && in_flight.len() <= window / 2 {
            match rt.inner.store.due_timers(now, window + in_flight.len()) {
                Ok(due) => {
                    for (_, key) in due {
                        if in_flight.len() >= window {
                            break;
                        }
                        if in_flight.insert(key) {
                            let rt = rt.clone();
                            firing.spawn(async move {
                                // A panic is a firing to retry, so its key leaves the window.
                                let outcome = AssertUnwindSafe(rt.fire_due_timer(key))
                                    .catch_unwind()
                                    .await
                                    .unwrap_or_else(|_| {
                                        tracing::error!(job = %key, "a timer firing panicked");
                                        Firing::Retry
                                    });
                                (key, outcome)
                            });
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "job worker cannot read due timers"),
            }
        }
        if !firing.is_empty() {
            let first = tokio::select! {
                done = firing.join_next() => done,
                // (Only while the worker's handle exists: a dropped one never signals.)
                _ = stop.changed(), if stop.has_changed().is_ok() => continue,
            };
            let mut retried = 0;
            let mut finished = 0;
            let mut settle = |done: Option<Result<(JobKey, Firing), tokio::task::JoinError>>| {
                match done {
                    Some(Ok((key, outcome))) => {
                        in_flight.remove(&key);
                        finished += 1;
                        if outcome == Firing::Retry {
                            retried += 1;
                        }
                    }
                    Some(Err(e)) => {
                        // Cancelled with the runtime (a panic is caught inside the task).
                        tracing::error!(error = %e, "a timer firing task failed");
                    }
                    None => {}
                }
            };
            settle(first);
            while let Some(done) = firing.try_join_next() {
                settle(Some(done));
            }
            back_off = finished > 0 && retried == finished;
            continue;
        }
        back_off = false;
        // Nothing due, or every firing must be retried (storage failing): wait for the next
        // due time, a commit that arms a timer, or the poll interval.
        let poll = rt.inner.config.worker_poll;
        let deadline = match rt.inner.store.next_due_timer() {
            Ok(Some(next)) if next > now => next.min(now.plus(poll)),
            _ => now.plus(poll),
        };
        tokio::select! {
            _ = &mut notified => {}
            _ = clock.sleep_until(deadline) => {}
            _ = stop.changed() => {}
        }
    }
    // Let the firings in flight finish (Worker::stop bounds the wait): each is one commit.
    while firing.join_next().await.is_some() {}
}

async fn lease(rt: &Runtime, key: JobKey, worker: &str) -> Option<LeasedJob> {
    let (_, job) = rt.inner.store.job(key).ok()??;
    let config = rt.inner.registry.handler_config(&job.task_type);
    let lease_for = config.timeout + rt.inner.config.lease_margin;
    match rt.lease_job(key, false, worker, lease_for).await {
        Ok(leased) => leased,
        Err(e) => {
            tracing::error!(job = %key, error = %e, "cannot lease job");
            None
        }
    }
}

async fn execute(rt: &Runtime, leased: LeasedJob) {
    let job = &leased.job;
    let span = tracing::info_span!("job", key = %job.key, task = %job.element_id, r#type = %job.task_type, attempt = job.attempts);
    attempt(rt, leased).instrument(span).await;
}

/// Whether a failure to record a completion is worth another attempt (someone else moved the
/// instance, or storage hiccuped) rather than an incident (the process refused the move).
fn transient(e: &JobError) -> bool {
    matches!(
        e,
        JobError::LeaseLost(_)
            | JobError::NotFound(_)
            | JobError::Runtime(Error::Conflict | Error::Store(_))
    )
}

async fn attempt(rt: &Runtime, leased: LeasedJob) {
    let job = &leased.job;
    if job.kind == crate::model::JobKind::Timer {
        // A timer has no handler: firing is the commit that moves the instance. A firing the
        // process refuses (a hook veto, an undecidable gateway after it) is an incident.
        let result = match rt.fire_timer(&leased).await {
            Ok(f) => Ok(format!("{f:?}")),
            Err(e) if !transient(&e) => {
                let reason = format!("the process could not move on from the timer: {e}");
                rt.fail_job(&leased, &reason, false, None)
                    .await
                    .map(|f| format!("{f:?}"))
            }
            Err(e) => Err(e),
        };
        record(result);
        return;
    }
    let handler = rt
        .inner
        .registry
        .handler(&job.task_type)
        .and_then(|h| h.handler.clone());
    let outcome = match (handler, rt.job_context(&leased)) {
        (_, Err(e)) => ServiceTaskOutcome::retry(format!("cannot prepare the job: {e}")),
        // The instance or task is gone: completing drops the job.
        (_, Ok(None)) => ServiceTaskOutcome::done(),
        (None, Ok(Some(_))) => ServiceTaskOutcome::fail(format!(
            "no handler is registered for service task type `{}`",
            job.task_type
        )),
        (Some(handler), Ok(Some(ctx))) => {
            let timeout = ctx.timeout;
            // A panicking handler is a failed attempt, not a stuck job.
            match AssertUnwindSafe(tokio::time::timeout(timeout, handler.execute(ctx)))
                .catch_unwind()
                .await
            {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => ServiceTaskOutcome::retry(format!(
                    "the handler did not finish within {} ms",
                    timeout.as_millis()
                )),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    tracing::error!(panic = %what, "service task handler panicked");
                    ServiceTaskOutcome::retry(format!("the handler panicked: {what}"))
                }
            }
        }
    };
    let result = match outcome {
        ServiceTaskOutcome::Completed(completion) => {
            match rt.complete_job(&leased, completion).await {
                Ok(c) => Ok(format!("{c:?}")),
                // The handler succeeded but the process refused to move past the task (a hook veto,
                // an undecidable gateway, invalid output data): re-running the handler cannot help.
                Err(e) if !transient(&e) => {
                    let reason = format!("the process could not move past the task: {e}");
                    rt.fail_job(&leased, &reason, false, None)
                        .await
                        .map(|f| format!("{f:?}"))
                }
                Err(e) => Err(e),
            }
        }
        ServiceTaskOutcome::RetryAfter { after, reason } => rt
            .fail_job(&leased, &reason, true, Some(after))
            .await
            .map(|f| format!("{f:?}")),
        ServiceTaskOutcome::Failed { reason, retryable } => rt
            .fail_job(&leased, &reason, retryable, None)
            .await
            .map(|f| format!("{f:?}")),
        ServiceTaskOutcome::Error { code, message } => {
            match rt.throw_error(&leased, &code, &message).await {
                Ok(t) => Ok(format!("{t:?}")),
                // The process refused the error path (a hook veto, an undecidable gateway).
                Err(e) if !transient(&e) => {
                    let reason = format!("BPMN error `{code}` could not be handled: {e}");
                    rt.fail_job(&leased, &reason, false, None)
                        .await
                        .map(|f| format!("{f:?}"))
                }
                Err(e) => Err(e),
            }
        }
    };
    record(result);
}

fn record(result: Result<String, JobError>) {
    match result {
        Ok(what) => tracing::debug!(outcome = %what, "job attempt recorded"),
        // Refused by the lease fence: logged and counted where it was refused.
        Err(JobError::LeaseLost(_) | JobError::NotFound(_)) => {}
        Err(e) => {
            tracing::warn!(error = %e, "job outcome not recorded; it will be retried after its lease")
        }
    }
}
