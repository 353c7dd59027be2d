//! The runtime: instances move through their process here.
//!
//! Every command reads the instance, computes the whole transition in memory ([`advance`]:
//! hooks run, tokens move, jobs are created), and commits it in **one atomic write** with an
//! optimistic version check. Two concurrent moves of one instance: exactly one commits, the
//! other gets [`Error::Conflict`] and the instance shows no trace of it. No lock is held while
//! hooks run. Service tasks run as jobs after the commit (see [`jobs`] and [`worker`]).

mod activation;
pub(crate) mod assignment;
mod backoff;
mod bpmn_errors;
pub(crate) mod calls;
mod commands;
pub mod content;
mod data;
mod definitions;
mod error;
mod event_gateway;
mod gateway;
mod inclusive;
pub mod jobs;
mod message_end;
pub mod message_sweep;
pub(crate) mod messages;
mod metrics;
mod multi_instance;
mod pending;
mod pipeline;
mod recent;
mod schedules;
mod scope_messages;
mod scopes;
mod signals;
mod timer_firing;
mod timers;
mod transition;
pub mod worker;

pub use activation::{Activated, Activation};
pub use backoff::backoff;
pub use bpmn_errors::Thrown;
pub use commands::{
    AddFile, CreateInstance, Created, DeleteFile, FileUpload, Next, NextPlan, NextStep,
    RETRY_ACTION, WriteData, check_data,
};
pub use data::DataCache;
pub use definitions::{Checked, Deployed};
pub use error::{ConditionResult, Error};
pub use messages::{MAX_MESSAGE_DATA, PublishMessage, Published, instance_subscriptions};
pub use metrics::Metrics;
pub use pending::{PendingTimer, PendingTimers, SCAN_BUDGET, TimerCursor, TimerSort};
pub use signals::{MAX_BROADCAST, PublishSignal, SignalPublished};
pub use timer_firing::Firing;
pub use timers::{Fired, TIMER_TASK_TYPE};

use crate::app::AppSpec;
use crate::bpmn::{Limits, ProcessDefinition};
use crate::hooks::Registry;
use crate::ids::{AppId, DataTypeId, InstanceId, PartyId};
use crate::model::{HistoryEvent, Instance};
use crate::store::{InstancePage, Store};
use crate::time::{Clock, SystemClock};
use definitions::{Definitions, Skip};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A blob's file-system failure: storage is unavailable (503), nothing was committed.
pub(crate) fn blob_error(e: std::io::Error) -> Error {
    Error::Store(crate::store::StoreError::Backend(
        crate::store::BackendError::Io(format!("file storage: {e}")),
    ))
}

/// Runtime settings, each with a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeConfig {
    /// Automatic steps (gateways, end events, ...) one transition may take before the loop guard
    /// stops it. Default 1,000.
    pub max_automatic_steps: usize,
    /// Limits for BPMN files at deploy. Default: [`Limits::default`].
    pub bpmn_limits: Limits,
    /// Extra lease time beyond a handler's timeout before another worker may take a job: a
    /// worker stalled longer than the handler's timeout plus this (a stopped process, a long
    /// pause) has lost the job, and whatever it records late is refused. Default 10 s.
    pub lease_margin: Duration,
    /// Lease on a timer whose firing the process refused, held while its incident is recorded
    /// (a timer fires without a lease otherwise). Default 40 s.
    pub timer_lease: Duration,
    /// Longest time a job worker waits before looking for due jobs again, even without a
    /// notification (from this process's commits, or another node's hint). Default 1 s.
    pub worker_poll: Duration,
    /// Jobs one worker runs at once. Default 64.
    pub worker_concurrency: usize,
    /// BPMN files parsed and validated at once (deploys and dry runs). Each runs on the blocking
    /// thread pool, never on the async workers, so a big upload cannot delay other requests; the
    /// rest wait their turn. Default 2.
    pub compile_concurrency: usize,
    /// Due timers the worker fires at once: each is its own commit, and the group committer
    /// writes them together (one fsync for many). Default 512.
    pub timer_batch: usize,
    /// Signal deliveries (one commit each) the call that threw or published a signal makes
    /// before it answers; the worker delivers the rest. Default 256.
    pub signal_batch: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_automatic_steps: 1_000,
            bpmn_limits: Limits::default(),
            lease_margin: Duration::from_secs(10),
            timer_lease: Duration::from_secs(40),
            worker_poll: Duration::from_secs(1),
            worker_concurrency: 64,
            compile_concurrency: 2,
            timer_batch: 512,
            signal_batch: 256,
        }
    }
}

impl RuntimeConfig {
    pub fn with_max_automatic_steps(mut self, n: usize) -> Self {
        self.max_automatic_steps = n;
        self
    }

    pub fn with_bpmn_limits(mut self, limits: Limits) -> Self {
        self.bpmn_limits = limits;
        self
    }

    pub fn with_lease_margin(mut self, margin: Duration) -> Self {
        self.lease_margin = margin;
        self
    }

    pub fn with_timer_lease(mut self, lease: Duration) -> Self {
        self.timer_lease = lease;
        self
    }

    /// At least a millisecond (a zero interval would spin).
    pub fn with_worker_poll(mut self, poll: Duration) -> Self {
        self.worker_poll = poll.max(Duration::from_millis(1));
        self
    }

    pub fn with_worker_concurrency(mut self, n: usize) -> Self {
        self.worker_concurrency = n.max(1);
        self
    }

    pub fn with_compile_concurrency(mut self, n: usize) -> Self {
        self.compile_concurrency = n.max(1);
        self
    }

    pub fn with_signal_batch(mut self, n: usize) -> Self {
        self.signal_batch = n;
        self
    }

    pub fn with_timer_batch(mut self, n: usize) -> Self {
        self.timer_batch = n.max(1);
        self
    }
}

pub(crate) struct Inner {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub clock: Arc<dyn Clock>,
    pub config: RuntimeConfig,
    pub definitions: Definitions,
    pub apps: RwLock<HashMap<AppId, Arc<AppSpec>>>,
    /// Woken when a commit creates or re-queues jobs, or another node hints that it did
    /// ([`Inner::wake_workers`]).
    pub jobs_ready: Arc<tokio::sync::Notify>,
    pub metrics: Metrics,
    /// This process's identity in job leases: leases held by an earlier boot are reclaimed.
    pub boot_id: String,
    /// Permits for [`RuntimeConfig::compile_concurrency`].
    pub compiles: tokio::sync::Semaphore,
    /// Instances this node committed lately, on a shared store ([`recent`]).
    pub recent: recent::Recent,
}

impl Inner {
    /// After a commit that made work due (jobs, timers, signal deliveries, schedules): wakes
    /// this process's worker, and hints the other nodes sharing the store (PostgreSQL
    /// `NOTIFY`; nothing on an embedded store). A hint is only that: every worker also polls.
    pub(crate) fn wake_workers(&self) {
        self.jobs_ready.notify_waiters();
        self.store.hint_work();
    }
}

/// The runtime. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("store", &self.inner.store)
            .finish()
    }
}

impl Runtime {
    pub fn new(store: Store, registry: Registry) -> Self {
        Self::with(
            store,
            registry,
            Arc::new(SystemClock),
            RuntimeConfig::default(),
        )
    }

    pub fn with(
        store: Store,
        registry: Registry,
        clock: Arc<dyn Clock>,
        config: RuntimeConfig,
    ) -> Self {
        Runtime {
            inner: Arc::new(Inner {
                recent: recent::Recent::new(store.is_shared()),
                store,
                registry: Arc::new(registry),
                clock,
                definitions: Definitions::new(config.bpmn_limits),
                compiles: tokio::sync::Semaphore::new(config.compile_concurrency.max(1)),
                config,
                apps: RwLock::new(HashMap::new()),
                jobs_ready: Arc::new(tokio::sync::Notify::new()),
                metrics: Metrics::default(),
                boot_id: uuid::Uuid::new_v4().simple().to_string(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Makes an app known (its data types). Re-registering replaces it.
    pub fn register_app(&self, spec: AppSpec) {
        self.inner
            .apps
            .write()
            .insert(spec.id.clone(), Arc::new(spec));
    }

    pub fn app(&self, id: &AppId) -> Result<Arc<AppSpec>, Error> {
        self.inner
            .apps
            .read()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::AppNotFound(id.clone()))
    }

    pub fn apps(&self) -> Vec<AppId> {
        let mut ids: Vec<AppId> = self.inner.apps.read().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Validates and stores a definition as the app's next version (a no-op for identical
    /// content). Running instances stay on the version they started with.
    pub async fn deploy(
        &self,
        app: &AppId,
        bpmn: &[u8],
        deployed_by: &str,
    ) -> Result<Deployed, Error> {
        self.app(app)?;
        self.inner
            .definitions
            .deploy(&self.inner, app, bpmn, deployed_by, Skip::IfSameAsLatest)
            .await
    }

    /// Deploys the definition a source keeps re-offering (the app folder's file at every
    /// start): stores a new version only when the content differs from both the latest version
    /// and the last version this `source` stored. So a version deployed through the API is not
    /// replaced by an unchanged file at the next restart, while an edited file still wins.
    pub async fn deploy_from_source(
        &self,
        app: &AppId,
        bpmn: &[u8],
        source: &str,
    ) -> Result<Deployed, Error> {
        self.app(app)?;
        self.inner
            .definitions
            .deploy(&self.inner, app, bpmn, source, Skip::IfSameAsLastFrom)
            .await
    }

    /// Validates a definition exactly as a deploy would (against this server's handlers, gateway
    /// hooks and apps) without storing it: every diagnostic, errors and warnings. Runs on the
    /// blocking pool like a deploy ([`RuntimeConfig::compile_concurrency`]).
    pub async fn check_definition(&self, app: &AppId, bpmn: &[u8]) -> Result<Checked, Error> {
        Ok(
            match definitions::compile_off_thread(&self.inner, app, bpmn).await? {
                Ok(c) => Checked {
                    errors: 0,
                    warnings: c.warnings.len() + c.warnings_omitted,
                    omitted: c.warnings_omitted,
                    diagnostics: c.warnings,
                },
                Err(r) => {
                    let errors = r.error_count();
                    Checked {
                        errors,
                        warnings: r.diagnostics.len() + r.omitted - errors,
                        omitted: r.omitted,
                        diagnostics: r.diagnostics,
                    }
                }
            },
        )
    }

    /// The latest definition of an app, with its version.
    pub fn latest_definition(&self, app: &AppId) -> Result<(u32, Arc<ProcessDefinition>), Error> {
        self.inner.definitions.latest(&self.inner.store, app)
    }

    pub fn definition(&self, app: &AppId, version: u32) -> Result<Arc<ProcessDefinition>, Error> {
        self.inner.definitions.get(&self.inner.store, app, version)
    }

    /// The definition an instance runs: its version's, or the other process of that version's
    /// file a call activity started it in.
    pub fn definition_of(&self, instance: &Instance) -> Result<Arc<ProcessDefinition>, Error> {
        self.inner.definitions.get_process(
            &self.inner.store,
            &instance.app,
            instance.definition_version,
            instance.process.called_process.as_deref(),
        )
    }

    /// The BPMN text of a version as deployed (the latest when `version` is None).
    pub fn definition_source(
        &self,
        app: &AppId,
        version: Option<u32>,
    ) -> Result<crate::store::DefinitionRecord, Error> {
        let version = match version {
            Some(v) => v,
            None => self.latest_definition(app)?.0,
        };
        self.inner
            .store
            .definition(app, version)?
            .ok_or_else(|| Error::DefinitionVersionNotFound {
                app: app.clone(),
                version,
            })
    }

    pub fn instance(&self, id: InstanceId) -> Result<Instance, Error> {
        self.inner
            .store
            .instance(id)?
            .ok_or(Error::InstanceNotFound(id))
    }

    /// The instance to start a move from: the copy this node keeps of its last commit on a
    /// shared store ([`recent`]), else as read. `true` with a kept copy: when the move fails,
    /// [`Runtime::is_stale`] says whether to run it again on the stored instance.
    pub fn instance_for_move(&self, id: InstanceId) -> Result<(Instance, bool), Error> {
        match self.inner.recent.get(id) {
            Some(kept) => Ok((kept, true)),
            None => Ok((self.instance(id)?, false)),
        }
    }

    /// After a move from a kept copy failed: the instance as stored, when it is newer than the
    /// copy (the failure may be the copy's; the move is to run again on this), else `None` (the
    /// failure stands). The copy is dropped either way.
    pub fn is_stale(&self, kept: &Instance) -> Result<Option<Instance>, Error> {
        self.inner.recent.forget(kept.id);
        let stored = self.instance(kept.id)?;
        Ok((stored.version != kept.version).then_some(stored))
    }

    pub fn history(&self, id: InstanceId) -> Result<Vec<HistoryEvent>, Error> {
        Ok(self.inner.store.history(id, 0, usize::MAX)?)
    }

    pub fn data(
        &self,
        id: InstanceId,
        data_type: &DataTypeId,
    ) -> Result<Option<serde_json::Value>, Error> {
        Ok(self.inner.store.data(id, data_type)?)
    }

    pub fn list_instances(
        &self,
        app: &AppId,
        party: Option<PartyId>,
        after: Option<&crate::store::PageCursor>,
        limit: usize,
    ) -> Result<InstancePage, Error> {
        Ok(self.inner.store.list_instances(app, party, after, limit)?)
    }
}
