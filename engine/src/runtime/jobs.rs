//! The job state machine: lease, complete, fail (retry with backoff, or incident).
//!
//! ```text
//!  Queued{due} ──lease──▶ Leased{until} ──complete──▶ (deleted; the instance moves on, same commit)
//!       ▲                   │    │
//!       └──fail, retryable──┘    └──fail, no attempts left──▶ Incident ──resume──▶ Queued{now}
//!  Leased{until} past `until` is due again (the worker holding it is presumed dead).
//! ```
//! Leasing counts an attempt and is itself a commit, so attempts survive restarts.

use super::backoff::backoff;
use super::commands::NewFile;
use super::metrics::Metrics;
use super::pipeline::Kind;
use super::transition::HookPoint;
use super::{Error, Runtime, blob_error};
use crate::bpmn::elements::NodeKind;
use crate::hooks::{Completion, JobContext};
use crate::ids::{DataElementId, JobKey};
use crate::model::{Actor, EventType, Incident, Job, JobKind, JobState, TokenAt};
use crate::store::{CommitError, Txn};
use std::sync::Arc;
use std::time::Duration;

/// Longest delay a handler's `Retry-After` may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A job held by one worker.
#[derive(Debug, Clone)]
pub struct LeasedJob {
    pub job: Job,
    /// The job's revision after leasing.
    pub rev: u64,
    pub lease: u64,
}

/// What became of a job after `complete_job`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// The instance moved past the task.
    Moved,
    /// The instance or its token is gone (deleted, or moved by an operator); the job was dropped.
    Stale,
    /// An event was delivered.
    Delivered,
}

/// What became of a job after `fail_job`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// Queued for another attempt at `due`.
    Retrying { due: crate::time::Timestamp },
    /// Out of attempts (or a permanent failure): the instance has an incident.
    Incident,
}

/// Why a job operation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    #[error("job {0} does not exist")]
    NotFound(JobKey),
    #[error(
        "job {0} is not held under this lease (it expired and was taken again, or was completed)"
    )]
    LeaseLost(JobKey),
    /// An interrupting event (a boundary event, a terminate end event, an event sub-process)
    /// ended the job's task and cancelled it: nothing changed.
    #[error(
        "job {key} was cancelled at {at} by `{by}`, which interrupted task `{task}`; nothing changed"
    )]
    Cancelled {
        key: JobKey,
        by: String,
        task: String,
        at: crate::time::Timestamp,
    },
    #[error(transparent)]
    Runtime(#[from] Error),
}

impl From<crate::store::StoreError> for JobError {
    fn from(e: crate::store::StoreError) -> Self {
        JobError::Runtime(Error::Store(e))
    }
}

impl Runtime {
    /// Why a job is not there: cancelled by a boundary event (its tombstone), or not found.
    pub fn gone(&self, key: JobKey) -> Result<JobError, JobError> {
        Ok(match self.inner.store.cancelled_job(key)? {
            Some(c) => JobError::Cancelled {
                key,
                by: c.by.to_string(),
                task: c.job.element_id.to_string(),
                at: c.at,
            },
            None => JobError::NotFound(key),
        })
    }

    /// Leases a due job for `lease_for`, counting an attempt. `None` if it is not due, not of
    /// the requested kind, or another worker took it first.
    ///
    /// A job whose last allowed attempt was leased and never finished (its worker crashed, or
    /// its lease expired) is not leased again: it gets its incident here (`None`), and its
    /// attempts stay at the maximum. Workers in-process and external alike never see it.
    pub async fn lease_job(
        &self,
        key: JobKey,
        external: bool,
        worker: &str,
        lease_for: Duration,
    ) -> Result<Option<LeasedJob>, Error> {
        let Some((rev, job)) = self.inner.store.job(key)? else {
            return Ok(None);
        };
        let now = self.inner.clock.now();
        let due = match &job.state {
            JobState::Queued { due } => *due <= now,
            JobState::Leased { until, .. } => *until <= now,
            JobState::Incident => false,
        };
        if !due || job.external != external {
            return Ok(None);
        }
        let interrupted = job.attempts >= job.max_attempts && job.max_attempts > 0;
        let lease = fastrand::u64(1..);
        let mut leased = job.clone();
        if !interrupted {
            leased.attempts += 1;
        }
        leased.state = JobState::Leased {
            until: now.plus(lease_for),
            lease,
            worker: worker.to_string(),
        };
        let mut txn = Txn::new();
        let rev = txn.update_job(&job, rev, &leased);
        let leased = match self.commit_txn(Kind::Lease, txn, false).await {
            Ok(()) => LeasedJob {
                job: leased,
                rev,
                lease,
            },
            Err(CommitError::Conflict(_)) => return Ok(None),
            Err(CommitError::Store(e)) => return Err(Error::Store(e)),
        };
        if interrupted {
            let reason = format!(
                "attempt {} of {} was interrupted (a crash or an expired lease)",
                leased.job.attempts, leased.job.max_attempts
            );
            return match self.fail_job(&leased, &reason, false, None).await {
                Ok(_)
                | Err(
                    JobError::LeaseLost(_) | JobError::NotFound(_) | JobError::Cancelled { .. },
                ) => Ok(None),
                Err(JobError::Runtime(e)) => Err(e),
            };
        }
        Ok(Some(leased))
    }

    /// Counts and logs an outcome recorded under a lease that is no longer the job's (the
    /// lease fence refused it: nothing changed). A worker stalled past its lease (a stopped
    /// process, a long pause, a partition) gets here when it comes back.
    pub(crate) fn fenced<T>(
        &self,
        leased: &LeasedJob,
        outcome: &str,
        result: Result<T, JobError>,
    ) -> Result<T, JobError> {
        if let Err(JobError::LeaseLost(_) | JobError::NotFound(_)) = &result {
            Metrics::add(&self.inner.metrics.job_outcomes_refused);
            tracing::warn!(
                job = %leased.job.key,
                attempt = leased.job.attempts,
                lease = leased.lease,
                "late job {outcome} refused: its lease expired and the job was taken again or \
                 finished elsewhere; nothing changed"
            );
        }
        result
    }

    /// Re-reads a job and checks the lease is still ours and unexpired.
    pub(crate) fn held(&self, leased: &LeasedJob) -> Result<(u64, Job), JobError> {
        let key = leased.job.key;
        let (rev, job) = self.inner.store.job(key)?.ok_or(JobError::NotFound(key))?;
        let now = self.inner.clock.now();
        match &job.state {
            JobState::Leased { lease, until, .. } if *lease == leased.lease && *until > now => {
                Ok((rev, job))
            }
            _ => Err(JobError::LeaseLost(key)),
        }
    }

    /// What a handler gets for one attempt: the instance and its data as committed, and the
    /// task as defined.
    pub fn job_context(&self, leased: &LeasedJob) -> Result<Option<JobContext>, Error> {
        let job = &leased.job;
        let Some(instance) = self.inner.store.instance(job.instance)? else {
            return Ok(None);
        };
        let task = match job.kind {
            JobKind::Event | JobKind::Timer => None,
            JobKind::ServiceTask => {
                let def = self.definition_of(&instance)?;
                let Some(task) = def
                    .node_by_id(job.element_id.as_str())
                    .and_then(|n| def.service_task(n))
                    .cloned()
                else {
                    return Ok(None);
                };
                Some(Arc::new(task))
            }
        };
        let data = match job.kind {
            JobKind::Event | JobKind::Timer => Default::default(),
            JobKind::ServiceTask => self.inner.store.all_data(job.instance)?,
        };
        let app_spec = self.app(&instance.app)?;
        let timeout = self.inner.registry.handler_config(&job.task_type).timeout;
        Ok(Some(JobContext {
            job: job.key,
            app: job.app.clone(),
            element_id: job.element_id.to_string(),
            idempotency_key: job.idempotency_key.clone(),
            attempt: job.attempts,
            max_attempts: job.max_attempts,
            instance: Arc::new(instance),
            data: Arc::new(data),
            task,
            payload: job.payload.clone(),
            app_spec,
            timeout,
        }))
    }

    /// A job held under `lease` (for external workers, who name the job and their lease).
    pub fn leased_job(&self, key: JobKey, lease: u64) -> Result<LeasedJob, JobError> {
        let Some((rev, job)) = self.inner.store.job(key)? else {
            return Err(self.gone(key)?);
        };
        let leased = LeasedJob { job, rev, lease };
        // An external worker's late outcome (its lock expired): refused and counted here.
        let held = self.held(&leased).map(|_| ());
        self.fenced(&leased, "outcome from an external worker", held)?;
        Ok(leased)
    }

    /// Completes a leased job: writes its output data, records the task's end (with the
    /// handler's details) and moves the instance on — all in one commit with the job's removal.
    ///
    /// Fenced by the lease: a late completion (the lease expired and the job was taken again,
    /// or finished elsewhere) is refused with [`JobError::LeaseLost`] or
    /// [`JobError::NotFound`], nothing changes, and the refusal is counted
    /// ([`Metrics::job_outcomes_refused`]).
    pub async fn complete_job(
        &self,
        leased: &LeasedJob,
        completion: Completion,
    ) -> Result<Completed, JobError> {
        let result = self.complete_job_placing(leased, completion).await;
        self.fenced(leased, "completion", result)
    }

    async fn complete_job_placing(
        &self,
        leased: &LeasedJob,
        completion: Completion,
    ) -> Result<Completed, JobError> {
        // The files' bytes are placed before the commit that references them, and removed again
        // unless that commit happens (a crash in between: the start-up sweep removes them).
        let blobs = self.inner.store.blobs().clone();
        let instance_id = match self.held(leased) {
            Ok((_, job)) => job.instance,
            Err(e) => return Err(e),
        };
        let mut files: Vec<(DataElementId, NewFile, u64, String)> =
            Vec::with_capacity(completion.files.len());
        for output in &completion.files {
            let staged = blobs
                .stage_bytes(&output.bytes)
                .await
                .map_err(|e| JobError::Runtime(blob_error(e)))?;
            let id = DataElementId::new_random();
            let (size, sha256) = (staged.size, staged.sha256.clone());
            if let Err(e) = blobs.place(staged, instance_id, id).await {
                for (placed, ..) in &files {
                    let _ = blobs.remove(instance_id, *placed);
                }
                return Err(JobError::Runtime(blob_error(e)));
            }
            let file = NewFile {
                data_type: output.data_type.clone(),
                content_type: output.content_type.clone(),
                filename: output.filename.clone(),
            };
            files.push((id, file, size, sha256));
        }
        let result = self.complete_job_with(leased, &completion, &files).await;
        if !matches!(result, Ok(Completed::Moved)) {
            for (id, ..) in &files {
                let _ = blobs.remove(instance_id, *id);
            }
        }
        result
    }

    async fn complete_job_with(
        &self,
        leased: &LeasedJob,
        completion: &Completion,
        files: &[(DataElementId, NewFile, u64, String)],
    ) -> Result<Completed, JobError> {
        for _ in 0..16 {
            let (rev, job) = self.held(leased)?;
            let Some(instance) = self.inner.store.instance(job.instance)? else {
                return self.drop_stale(&job, rev).await;
            };
            let token = instance.process.tokens.iter().find_map(|t| match &t.at {
                TokenAt::ServiceTask { job: k, .. } if *k == job.key => Some(t.id),
                _ => None,
            });
            let Some(token) = token else {
                return self.drop_stale(&job, rev).await;
            };
            let loaded = self.resolve(instance, None)?;
            let def = loaded.def.clone();
            let Some(node_idx) = def.node_by_id(job.element_id.as_str()) else {
                return self.drop_stale(&job, rev).await;
            };
            let node = def.node(node_idx);
            if !matches!(node.kind, NodeKind::ServiceTask(_)) {
                return self.drop_stale(&job, rev).await;
            }
            let actor = Actor::system(format!("service task {}", job.task_type));
            let mut t = self.begin(loaded, actor);
            for (data_type, value) in &completion.data {
                t.data.set(data_type.clone(), value.clone());
                t.run_hooks(HookPoint::DataWritten(data_type.as_str()))
                    .await?;
            }
            for (id, file, size, sha256) in files {
                t.add_file(*id, file.clone(), *size, sha256);
            }
            let scope = t.take_task_token(token)?;
            t.record(
                EventType::EndTask,
                Some(node.id.clone()),
                None,
                completion.details.clone(),
            );
            t.gateway_action = completion
                .action
                .clone()
                .or_else(|| job.gateway_action.clone());
            if matches!(&node.kind, NodeKind::ServiceTask(task) if task.is_message_end()) {
                t.end_at_message_end(node_idx, scope).await?;
            } else {
                t.leave_task(node_idx, token, scope).await?;
            }
            // A handler's output must satisfy the data types' schemas like any other write.
            t.check_written()?;
            t.prelude.delete_job(&job, rev); // check 0: the lease is still ours
            match self.commit(Kind::Complete, t).await {
                Ok(_) => return Ok(Completed::Moved),
                Err(CommitError::Conflict(0)) => return Err(JobError::LeaseLost(job.key)),
                // The instance changed meanwhile (e.g. data written): read it again and retry.
                Err(CommitError::Conflict(_)) => continue,
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(JobError::Runtime(Error::Conflict))
    }

    pub(crate) async fn drop_stale(&self, job: &Job, rev: u64) -> Result<Completed, JobError> {
        let mut txn = Txn::new();
        txn.delete_job(job, rev);
        // Not a completion: nothing moves and nothing is counted.
        match self.inner.store.commit(txn).await {
            Ok(()) => Ok(Completed::Stale),
            Err(CommitError::Conflict(_)) => Err(JobError::LeaseLost(job.key)),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }

    /// Records a failed attempt: re-queues with backoff (or after `retry_after`), or, when
    /// attempts are used up or the failure is permanent, raises an incident on the instance.
    /// Fenced by the lease like [`Runtime::complete_job`].
    pub async fn fail_job(
        &self,
        leased: &LeasedJob,
        reason: &str,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Result<Failed, JobError> {
        let result = self
            .fail_job_held(leased, reason, retryable, retry_after)
            .await;
        self.fenced(leased, "failure", result)
    }

    pub(super) async fn fail_job_held(
        &self,
        leased: &LeasedJob,
        reason: &str,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Result<Failed, JobError> {
        for _ in 0..16 {
            let (rev, job) = self.held(leased)?;
            let now = self.inner.clock.now();
            let config = self.inner.registry.handler_config(&job.task_type);
            let mut next = job.clone();
            next.last_error = Some(reason.to_string());
            if retryable && job.attempts < job.max_attempts {
                let delay = retry_after
                    .map(|d| d.min(MAX_RETRY_AFTER))
                    .unwrap_or_else(|| backoff(job.attempts, &config, fastrand::f64()));
                let due = now.plus(delay);
                next.state = JobState::Queued { due };
                let mut txn = Txn::new();
                txn.update_job(&job, rev, &next);
                match self.commit_txn(Kind::Fail, txn, false).await {
                    Ok(()) => return Ok(Failed::Retrying { due }),
                    Err(CommitError::Conflict(_)) => return Err(JobError::LeaseLost(job.key)),
                    Err(CommitError::Store(e)) => return Err(e.into()),
                }
            }
            // An incident: the job stops, the instance shows why, `resume` starts it again.
            next.state = JobState::Incident;
            if job.kind == JobKind::Event {
                // An undeliverable event is parked (dead-lettered), not an instance incident:
                // the instance may long since have moved on or ended.
                let mut txn = Txn::new();
                txn.update_job(&job, rev, &next);
                return match self.commit_txn(Kind::Fail, txn, false).await {
                    Ok(()) => {
                        tracing::error!(job = %job.key, r#type = %job.task_type, error = %reason, "event parked after {} attempts", job.attempts);
                        Ok(Failed::Incident)
                    }
                    Err(CommitError::Conflict(_)) => Err(JobError::LeaseLost(job.key)),
                    Err(CommitError::Store(e)) => Err(e.into()),
                };
            }
            let Some(instance) = self.inner.store.instance(job.instance)? else {
                return self.drop_stale(&job, rev).await.map(|_| Failed::Incident);
            };
            let loaded = self.resolve(instance, None)?;
            let why = if retryable {
                format!("gave up after {} attempts", job.attempts)
            } else {
                "failed permanently".to_string()
            };
            let actor = Actor::system(format!("service task {}", job.task_type));
            let mut t = self.begin(loaded, actor);
            t.instance.process.incidents.push(Incident {
                element_id: job.element_id.clone(),
                job: job.key,
                reason: format!(
                    "service task `{}` ({}) {why}",
                    job.element_id, job.task_type
                ),
                attempts: job.attempts,
                last_error: reason.to_string(),
                raised: now,
            });
            t.record(
                EventType::IncidentRaised,
                Some(job.element_id.clone()),
                None,
                Some(serde_json::json!({ "attempts": job.attempts, "lastError": reason })),
            );
            t.prelude.update_job(&job, rev, &next); // check 0: the lease is still ours
            match self.commit(Kind::Fail, t).await {
                Ok(_) => {
                    Metrics::add(&self.inner.metrics.incidents);
                    return Ok(Failed::Incident);
                }
                Err(CommitError::Conflict(0)) => return Err(JobError::LeaseLost(job.key)),
                Err(CommitError::Conflict(_)) => continue,
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(JobError::Runtime(Error::Conflict))
    }

    /// Jobs leased by an earlier run of this process (it crashed or stopped mid-attempt) are made
    /// due now instead of waiting for their leases to expire. External workers' leases are left
    /// alone. Returns how many were reclaimed.
    pub async fn reclaim_stale_leases(&self) -> Result<usize, Error> {
        let now = self.inner.clock.now();
        let mut reclaimed = 0;
        for (_, key) in self.inner.store.future_jobs(false, now, 100_000)? {
            let Some((rev, job)) = self.inner.store.job(key)? else {
                continue;
            };
            let JobState::Leased { worker, until, .. } = &job.state else {
                continue;
            };
            if worker.ends_with(&self.inner.boot_id) {
                continue;
            }
            // On a store shared by several nodes, an unexpired lease may be another live node's:
            // it is left to run out (then the job is due again and any node takes it).
            if self.inner.store.is_shared() && *until > now {
                continue;
            }
            let mut next = job.clone();
            next.state = JobState::Queued { due: now };
            let mut txn = Txn::new();
            txn.update_job(&job, rev, &next);
            if self.inner.store.commit(txn).await.is_ok() {
                reclaimed += 1;
            }
        }
        Ok(reclaimed)
    }

    /// This process's worker identity (leases carry it).
    pub fn worker_id(&self) -> String {
        format!("flyt-{}", self.inner.boot_id)
    }
}
