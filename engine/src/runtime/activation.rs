//! External job workers: activation (fair across job types and apps) and job lookups.
//!
//! Which apps a worker serves is the API's decision (its policy); the engine takes it as a
//! predicate and never hands out a job of an app the predicate refuses.

use super::jobs::LeasedJob;
use super::{Error, Runtime};
use crate::hooks::{Completion, JobContext};
use crate::ids::{AppId, JobKey};
use crate::model::{Instance, Job};
use std::time::Duration;

/// A worker's request for due external jobs.
#[derive(Debug, Clone, Copy)]
pub struct Activation<'a> {
    /// The job types it works.
    pub job_types: &'a [String],
    /// At most this many jobs.
    pub max_jobs: usize,
    /// Named in each job's lease.
    pub worker: &'a str,
    /// How long each job is locked for this worker.
    pub lock: Duration,
}

/// A job leased to an external worker, with what it needs to do the work.
#[derive(Debug)]
pub struct Activated {
    pub leased: LeasedJob,
    pub context: JobContext,
}

impl Runtime {
    /// Leases up to `max_jobs` due external jobs of the requested types, oldest first, only of
    /// apps for which `serves(app, job_type)` holds. Each (type, app) pair has its own queue,
    /// so a due job of type Y is found at once however many older jobs of other types, or of
    /// apps the worker does not serve, are waiting. A job whose instance or task is gone is
    /// dropped instead of handed out.
    pub async fn activate_jobs(
        &self,
        req: Activation<'_>,
        serves: &(dyn Fn(&AppId, &str) -> bool + Sync),
    ) -> Result<Vec<Activated>, Error> {
        let now = self.inner.clock.now();
        let apps: Vec<AppId> = self.inner.apps.read().keys().cloned().collect();
        let mut candidates = Vec::new();
        for job_type in req.job_types {
            for app in apps.iter().filter(|app| serves(app, job_type)) {
                candidates.extend(self.inner.store.due_external_jobs(
                    job_type,
                    app,
                    now,
                    req.max_jobs,
                )?);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.truncate(req.max_jobs);
        // Leased all at once, so that the leases share group commits (one fsync for the lot, not
        // one each). A job another worker took meanwhile is left out: fewer than `max_jobs` may
        // come back.
        let leases = futures::future::join_all(
            candidates
                .iter()
                .map(|&(_, key)| self.lease_job(key, true, req.worker, req.lock)),
        )
        .await;
        let mut activated = Vec::new();
        for lease in leases {
            // `None`: another worker took it first, it is no longer due, or its last attempt was
            // cut off and it has just become an incident.
            let Some(leased) = lease? else {
                continue;
            };
            match self.job_context(&leased)? {
                Some(context) => activated.push(Activated { leased, context }),
                None => {
                    // The instance or its task is gone: completing drops the job.
                    let _ = self.complete_job(&leased, Completion::default()).await;
                }
            }
        }
        Ok(activated)
    }

    /// A job by its key, with its revision.
    pub fn job(&self, key: JobKey) -> Result<Option<Job>, Error> {
        Ok(self.inner.store.job(key)?.map(|(_, job)| job))
    }

    /// The jobs an instance's service tasks wait on, by the element they belong to. A job that
    /// cannot be read is the caller's error (never silently missing).
    pub fn jobs_of(&self, instance: &Instance) -> Result<Vec<(String, Job)>, Error> {
        let mut jobs = Vec::new();
        for (_, task, key) in instance.process.job_tokens() {
            if let Some((_, job)) = self.inner.store.job(key)? {
                jobs.push((task.element_id.to_string(), job));
            }
        }
        Ok(jobs)
    }
}
