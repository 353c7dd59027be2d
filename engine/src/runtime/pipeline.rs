//! The one path every change to an instance takes:
//!
//! 1. **load** ([`Runtime::load`], [`Runtime::resolve`]): the instance, its definition version
//!    and app; the `If-Match` check;
//! 2. **check**: what the command itself requires (the task is active, the lease is held, the
//!    idempotency key is new, ...), in the command's own module;
//! 3. **compute** ([`Runtime::begin`] → [`Transition`]): the whole transition in memory, hooks
//!    included; no lock is held and nothing is written;
//! 4. **commit** ([`Runtime::commit`]): one atomic unit (the prelude's checks and writes, then the
//!    instance with its version check, history, data and new jobs) through the group committer,
//!    between the kind's fail points;
//! 5. **metrics**, counted by [`Kind`];
//! 6. **notify** the job worker when the transition created jobs (and hint the other nodes on a
//!    shared store).
//!
//! A failure at any step leaves the store exactly as it was.

use super::data::DataCache;
use super::metrics::Metrics;
use super::transition::Transition;
use super::{Error, Runtime};
use crate::app::AppSpec;
use crate::bpmn::ProcessDefinition;
use crate::ids::InstanceId;
use crate::model::{Actor, Instance};
use crate::store::{CommitError, Txn};
use std::sync::Arc;

/// An instance as read for a transition, with what it runs on.
pub(crate) struct Loaded {
    pub instance: Instance,
    pub def: Arc<ProcessDefinition>,
    pub app: Arc<AppSpec>,
}

/// What a commit is, for its fail points and its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A new instance (`create.*` fail points).
    Create,
    /// A move of an existing instance: next, data, resume, delete, server action
    /// (`transition.*`).
    Move,
    /// A job's lease, counting an attempt (`job.*_lease_commit`).
    Lease,
    /// A job's completion: the instance moves past its service task (`job.*_complete_commit`).
    Complete,
    /// A failed attempt: a retry later, or an incident (`job.*_fail_commit`).
    Fail,
}

impl Kind {
    fn fail_points(self) -> (&'static str, &'static str) {
        match self {
            Kind::Create => ("create.before_commit", "create.after_commit"),
            Kind::Move => ("transition.before_commit", "transition.after_commit"),
            Kind::Lease => ("job.before_lease_commit", "job.after_lease_commit"),
            Kind::Complete => ("job.before_complete_commit", "job.after_complete_commit"),
            Kind::Fail => ("job.before_fail_commit", "job.after_fail_commit"),
        }
    }
}

impl Runtime {
    /// Step 1: reads an instance and resolves it.
    pub(crate) fn load(&self, id: InstanceId, expected: Option<u64>) -> Result<Loaded, Error> {
        self.resolve(self.instance(id)?, expected)
    }

    /// Step 1 for an instance already read (the API reads it to authorise): the `If-Match`
    /// check, then its definition version and app.
    pub(crate) fn resolve(
        &self,
        instance: Instance,
        expected: Option<u64>,
    ) -> Result<Loaded, Error> {
        if let Some(expected) = expected
            && expected != instance.version
        {
            return Err(Error::VersionMismatch {
                expected,
                actual: instance.version,
            });
        }
        let def = self.definition_of(&instance)?;
        let app = self.app(&instance.app)?;
        Ok(Loaded { instance, def, app })
    }

    /// Step 3 begins: a transition of a loaded instance by `actor`, now. Its data comes from
    /// this node's copy of the same version when it keeps one ([`super::recent`]), else from
    /// the store as it is read.
    pub(crate) fn begin(&self, loaded: Loaded, actor: Actor) -> Transition<'_> {
        let id = loaded.instance.id;
        let version = loaded.instance.version;
        let store = self.inner.store.clone();
        let data = match self.inner.recent.data_at(id, version) {
            Some(data) => DataCache::seeded(id, store, data),
            None => DataCache::new(id, store),
        };
        Transition::new(
            &self.inner,
            loaded,
            Some(version),
            data,
            actor,
            self.inner.clock.now(),
        )
    }

    /// Steps 4-6 for a computed transition: commit it as `kind`, count it, and wake the job
    /// worker if it created jobs. Returns the instance as committed.
    pub(crate) async fn commit(
        &self,
        kind: Kind,
        mut transition: Transition<'_>,
    ) -> Result<Instance, CommitError> {
        let opened = transition.opened_subscriptions();
        let thrown = std::mem::take(&mut transition.thrown_signals);
        let calls = transition.call_records();
        // Every data type's value after this transition, when it knew them all.
        let data = transition.data.complete();
        let (txn, instance, jobs) = transition.into_txn();
        if let Err(e) = self.commit_txn(kind, txn, !jobs.is_empty()).await {
            self.inner.recent.forget(instance.id);
            return Err(e);
        }
        self.inner.recent.keep(&instance, data);
        // The children it calls start now, the parents of the children it ended move on.
        if !calls.is_empty() {
            self.after_calls(calls).await;
        }
        // The signals it threw reach their subscriptions now.
        if !thrown.is_empty() {
            self.after_throwing(thrown).await;
        }
        // A message buffered while these subscriptions opened is delivered now.
        if !opened.is_empty() {
            self.after_opening(&instance.app, opened).await;
        }
        Ok(instance)
    }

    /// Steps 4-6 for a unit without an instance transition in it (a lease, a deletion, a
    /// retry's re-queue): the same fail points, counters and wake-up.
    pub(crate) async fn commit_txn(
        &self,
        kind: Kind,
        txn: Txn,
        wakes_worker: bool,
    ) -> Result<(), CommitError> {
        let (before, after) = kind.fail_points();
        // A pending call record: the worker delivers it if no one else does.
        let wakes_worker = wakes_worker || txn.wakes_worker();
        crate::failpoint!(before);
        match self.inner.store.commit(txn).await {
            Ok(()) => {}
            Err(e) => {
                if matches!(e, CommitError::Conflict(_)) {
                    Metrics::add(&self.inner.metrics.conflicts);
                }
                return Err(e);
            }
        }
        crate::failpoint!(after);
        let m = &self.inner.metrics;
        match kind {
            Kind::Create => {
                Metrics::add(&m.transitions);
                Metrics::add(&m.instances_created);
            }
            Kind::Move => Metrics::add(&m.transitions),
            Kind::Complete => {
                Metrics::add(&m.transitions);
                Metrics::add(&m.jobs_completed);
            }
            Kind::Fail => Metrics::add(&m.jobs_failed),
            Kind::Lease => {}
        }
        if wakes_worker {
            self.inner.wake_workers();
        }
        Ok(())
    }
}
