//! [`Store`]: typed reads and [`Txn`], the typed builder of atomic units, over the group
//! committer. All encoding and key decisions are delegated to `layout` and `codec`.

use super::backend::{Backend, BackendError, Check, CheckFailed, Unit, prefix_end};
use super::blobs::Blobs;
use super::codec::{self, DecodeError};
use super::group::{GroupCommitter, GroupConfig, GroupStats};
use super::layout;
use super::open::{BackendKind, open_backend};
use crate::ids::{AppId, DataTypeId, InstanceId, JobKey, PartyId};
use crate::model::{CancelledJob, HistoryEvent, Instance, Job, Schedule};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The store's own format version; a store written by another version is refused at open,
/// except format 2, which is upgraded in place (see [`Store::with_backend`]).
pub const STORE_FORMAT: u32 = 3;

/// The work-queue entry of a job, if it is external and due at some time.
fn work_queue_entry(job: &Job) -> Option<Vec<u8>> {
    let due = job.due().filter(|_| job.external)?;
    Some(layout::work_queue(&job.task_type, &job.app, due, job.key))
}

/// A stored history value: the events of one transition; a single event object is what stores
/// written before transitions were grouped hold, and still reads.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredHistory {
    Many(Vec<HistoryEvent>),
    One(HistoryEvent),
}

/// Why a read or commit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("stored {what} cannot be decoded: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

/// Why a commit did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// A check failed: another transition changed the same record first.
    #[error("conflict: the record changed concurrently (check {0})")]
    Conflict(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BackendError> for CommitError {
    fn from(e: BackendError) -> Self {
        CommitError::Store(StoreError::Backend(e))
    }
}

fn corrupt(what: &'static str) -> impl Fn(DecodeError) -> StoreError {
    move |e| StoreError::Corrupt { what, detail: e.0 }
}

/// The latest deployed version of an app's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionHead {
    pub version: u32,
    pub hash: String,
}

/// One deployed version of an app's definition, with its BPMN as deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionRecord {
    pub version: u32,
    pub hash: String,
    pub deployed: Timestamp,
    pub deployed_by: String,
    pub bpmn: String,
    /// The process instances of this version start in, when the app named one (the file holds
    /// several executable processes). Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}

/// What an `Idempotency-Key` was first used for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    /// SHA-256 of the request body, to tell a retry from a different request.
    pub request_hash: String,
    pub instance: InstanceId,
    pub party: PartyId,
    pub created: Timestamp,
}

/// Where a page of instances ends: the `continuationToken` a client sends back for the next
/// page. It is the last instance's owner and id, 48 hex digits; anything else does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub party: PartyId,
    pub instance: InstanceId,
}

impl std::fmt::Display for PageCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = self.party.0.to_be_bytes().to_vec();
        bytes.extend_from_slice(self.instance.as_bytes());
        f.write_str(&hex_encode(&bytes))
    }
}

impl std::str::FromStr for PageCursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = hex_decode(s)
            .filter(|b| b.len() == 24)
            .ok_or_else(|| {
                "not a continuation token of this server (the `continuationToken` of the previous page: 48 hex digits)".to_string()
            })?;
        let party = u64::from_be_bytes(bytes[..8].try_into().map_err(|_| String::new())?);
        let instance: [u8; 16] = bytes[8..].try_into().map_err(|_| String::new())?;
        Ok(PageCursor {
            party: PartyId(party),
            instance: InstanceId::from_bytes(instance),
        })
    }
}

/// A page of instance ids and the cursor to the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePage {
    pub instances: Vec<(PartyId, InstanceId)>,
    pub next: Option<String>,
}

/// The typed store. Cheap to clone; all clones share one committer thread.
#[derive(Clone)]
pub struct Store {
    committer: GroupCommitter,
    backend: Arc<dyn Backend>,
    /// The bytes of binary data elements ([`super::blobs`]).
    blobs: Arc<Blobs>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.name())
            .finish()
    }
}

impl Store {
    /// Opens (or creates) a store. A store that is locked, corrupt or of another format is an
    /// error, never silently replaced.
    pub fn open(
        kind: BackendKind,
        dir: &Path,
        cache_bytes: usize,
        config: GroupConfig,
    ) -> Result<Store, StoreError> {
        let backend = open_backend(kind, dir, cache_bytes)?;
        let mut store = Self::with_backend(backend, config, &dir.display().to_string())?;
        if kind.is_persistent() {
            store.blobs = Arc::new(Blobs::at(dir.join("blobs")));
        }
        Ok(store)
    }

    /// Opens the PostgreSQL store at `url` ([`super::postgres`]), migrating its schema first
    /// when `migrate`; files (binary data elements) stay on disk under `dir/blobs`.
    pub fn open_postgres(
        url: &str,
        migrate: bool,
        dir: &Path,
        config: GroupConfig,
    ) -> Result<Store, StoreError> {
        let backend = super::open::open_postgres(url, migrate)?;
        let mut store = Self::with_backend(backend, config, "postgres")?;
        store.blobs = Arc::new(Blobs::at(dir.join("blobs")));
        Ok(store)
    }

    /// Whether other nodes share this store ([`Backend::shared`]).
    pub fn is_shared(&self) -> bool {
        self.backend.shared()
    }

    /// Hints the other nodes sharing the store that work is due ([`Backend::hint_work`]).
    pub(crate) fn hint_work(&self) {
        self.backend.hint_work();
    }

    /// Wakes `wake` on other nodes' hints ([`Backend::listen_for_work`]).
    pub(crate) fn listen_for_work(&self, wake: Arc<tokio::sync::Notify>) {
        self.backend.listen_for_work(wake);
    }

    /// The state of wake-up hints between nodes, where the store has them
    /// ([`Backend::hint_stats`]).
    pub fn hint_stats(&self) -> Option<super::backend::HintStats> {
        self.backend.hint_stats()
    }

    /// Batches the database made us send again ([`Backend::batch_retries`]).
    pub fn batch_retries(&self) -> Option<u64> {
        self.backend.batch_retries()
    }

    /// Whether the store answers now ([`Backend::ping`]).
    pub fn ping(&self) -> Result<(), StoreError> {
        Ok(self.backend.ping()?)
    }

    /// Gives unused space back to the file system ([`Backend::compact`]); waits for commits in
    /// progress and holds off new ones meanwhile. Meant for maintenance with the server stopped.
    pub fn compact(&self) -> Result<(), StoreError> {
        Ok(self.backend.compact()?)
    }

    /// An in-memory store (tests, benchmarks). Commits go through the commit thread, as on the
    /// durable backends, so concurrency behaves as it does there (a commit is an await point).
    pub fn memory() -> Store {
        let backend: Arc<dyn Backend> = Arc::new(super::memory::MemoryBackend::default());
        // An empty memory backend always accepts the format marker.
        let _ = check_format(&*backend, "memory");
        Store {
            committer: GroupCommitter::start(backend.clone(), GroupConfig::default()),
            backend,
            blobs: Arc::new(Blobs::temporary()),
        }
    }

    /// An in-memory store whose commits are applied in the caller's thread
    /// ([`GroupCommitter::inline`]): for an application embedding the engine that keeps state
    /// in memory, where no fsync is shared and a hand-off to the commit thread only adds latency.
    /// A commit is then not an await point, so two moves of one instance on a current-thread
    /// runtime do not interleave.
    pub fn memory_direct() -> Store {
        let backend: Arc<dyn Backend> = Arc::new(super::memory::MemoryBackend::default());
        let _ = check_format(&*backend, "memory");
        Store {
            committer: GroupCommitter::inline(backend.clone()),
            backend,
            blobs: Arc::new(Blobs::temporary()),
        }
    }

    /// Wraps any backend (fault injection in tests uses this).
    pub fn with_backend(
        backend: Arc<dyn Backend>,
        config: GroupConfig,
        path: &str,
    ) -> Result<Store, StoreError> {
        check_format(&*backend, path)?;
        Ok(Store {
            committer: GroupCommitter::start(backend.clone(), config),
            backend,
            blobs: Arc::new(Blobs::temporary()),
        })
    }

    /// External jobs of one type and app someone should look at by `now`, oldest first, at
    /// most `limit` (see [`layout::work_queue`]).
    pub fn due_external_jobs(
        &self,
        job_type: &str,
        app: &AppId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, JobKey)>, StoreError> {
        let end = layout::work_queue_until(
            job_type,
            app,
            Timestamp::from_millis(now.millis().saturating_add(1)),
        );
        Ok(self
            .backend
            .range_unclaimed(&layout::work_queue_of(job_type, app), &end, limit)?
            .iter()
            .filter_map(|(k, _)| layout::parse_work_queue(k))
            .collect())
    }

    /// Where the bytes of binary data elements live.
    pub fn blobs(&self) -> &Arc<Blobs> {
        &self.blobs
    }

    /// The raw backend (consistency checks and tests).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    pub fn stats(&self) -> GroupStats {
        self.committer.stats()
    }

    /// Finishes queued commits and closes the backend.
    pub fn shutdown(&self) {
        self.committer.shutdown();
    }

    pub async fn commit(&self, txn: Txn) -> Result<(), CommitError> {
        match self.committer.commit(txn.unit).await? {
            Ok(()) => Ok(()),
            Err(CheckFailed { check }) => Err(CommitError::Conflict(check)),
        }
    }

    /// For callers outside a tokio runtime (CLI tools, the crash-test child).
    pub fn commit_blocking(&self, txn: Txn) -> Result<(), CommitError> {
        match self.committer.commit_blocking(txn.unit)? {
            Ok(()) => Ok(()),
            Err(CheckFailed { check }) => Err(CommitError::Conflict(check)),
        }
    }

    // ---- instances -------------------------------------------------------------------------

    pub fn instance(&self, id: InstanceId) -> Result<Option<Instance>, StoreError> {
        self.backend
            .get(&layout::instance(id))?
            .map(|bytes| codec::decode_revisioned::<Instance>(&bytes).map(|(_, i)| i))
            .transpose()
            .map_err(corrupt("instance"))
    }

    pub fn history(
        &self,
        id: InstanceId,
        from_seq: u32,
        limit: usize,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        // A key holds the events of one transition and is keyed by its first event's seq, so
        // the events from `from_seq` on may start inside an earlier key: scan from the start.
        let start = layout::history_of(id);
        let end = prefix_end(&start);
        let mut events = Vec::new();
        for (_, value) in self.backend.range(&start, &end, usize::MAX)? {
            let stored: StoredHistory = codec::decode(&value).map_err(corrupt("history event"))?;
            let chunk = match stored {
                StoredHistory::One(event) => vec![event],
                StoredHistory::Many(chunk) => chunk,
            };
            for event in chunk.into_iter().filter(|e| e.seq >= from_seq) {
                if events.len() == limit {
                    return Ok(events);
                }
                events.push(event);
            }
        }
        Ok(events)
    }

    pub fn data(
        &self,
        id: InstanceId,
        data_type: &DataTypeId,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        self.backend
            .get(&layout::data(id, data_type))?
            .map(|bytes| codec::decode(&bytes))
            .transpose()
            .map_err(corrupt("data"))
    }

    pub fn all_data(
        &self,
        id: InstanceId,
    ) -> Result<BTreeMap<DataTypeId, serde_json::Value>, StoreError> {
        let prefix = layout::data_of(id);
        let mut out = BTreeMap::new();
        for (key, value) in self
            .backend
            .range(&prefix, &prefix_end(&prefix), usize::MAX)?
        {
            let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            out.insert(
                DataTypeId::new(name),
                codec::decode(&value).map_err(corrupt("data"))?,
            );
        }
        Ok(out)
    }

    /// Instances of an app, or of one owner in it, oldest first, `limit` per page, from just
    /// after `after` (the previous page's [`InstancePage::next`]).
    pub fn list_instances(
        &self,
        app: &AppId,
        party: Option<PartyId>,
        after: Option<&PageCursor>,
        limit: usize,
    ) -> Result<InstancePage, StoreError> {
        let prefix = layout::owner_index_of(app, party);
        let start = match after {
            Some(cursor) => {
                let mut key = layout::owner_index(app, cursor.party, cursor.instance);
                key.push(0); // just past the last key returned
                if key < prefix { prefix.clone() } else { key }
            }
            None => prefix.clone(),
        };
        let app_prefix_len = layout::owner_index_of(app, None).len();
        let rows = self
            .backend
            .range(&start, &prefix_end(&prefix), limit.saturating_add(1))?;
        let more = rows.len() > limit;
        let mut instances = Vec::with_capacity(rows.len().min(limit));
        for (key, _) in rows.into_iter().take(limit) {
            let suffix = &key[app_prefix_len..];
            let party = suffix
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes);
            if let (Some(party), Some(id)) = (party, layout::instance_of_owner_key(&key)) {
                instances.push((PartyId(party), id));
            }
        }
        let next = match instances.last() {
            Some(&(party, instance)) if more => Some(PageCursor { party, instance }.to_string()),
            _ => None,
        };
        Ok(InstancePage { instances, next })
    }

    /// The record of `caller`'s idempotency key.
    pub fn idempotency(
        &self,
        app: &AppId,
        caller: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.idempotency_at(&layout::idempotency(app, caller, key))
    }

    /// A record written before keys were scoped per caller (see
    /// [`layout::idempotency_unscoped`]).
    pub fn idempotency_unscoped(
        &self,
        app: &AppId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.idempotency_at(&layout::idempotency_unscoped(app, key))
    }

    fn idempotency_at(&self, key: &[u8]) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.backend
            .get(key)?
            .map(|b| codec::decode(&b))
            .transpose()
            .map_err(corrupt("idempotency record"))
    }

    // ---- jobs ------------------------------------------------------------------------------

    /// A job and its revision.
    pub fn job(&self, key: JobKey) -> Result<Option<(u64, Job)>, StoreError> {
        self.backend
            .get(&layout::job(key))?
            .map(|b| codec::decode_revisioned(&b))
            .transpose()
            .map_err(corrupt("job"))
    }

    /// Jobs of one class (in-process or external) someone should look at by `now`: queued and
    /// due, or with an expired lease. Oldest first, at most `limit`.
    pub fn due_jobs(
        &self,
        external: bool,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, JobKey)>, StoreError> {
        let class = layout::due_class(external);
        let end = layout::due_until(
            class,
            Timestamp::from_millis(now.millis().saturating_add(1)),
        );
        Ok(self
            .backend
            .range_unclaimed(&layout::due_start(class), &end, limit)?
            .iter()
            .filter_map(|(k, _)| layout::parse_due(k))
            .collect())
    }

    /// Timers due by `now` (queued and due, or leased by a worker whose lease expired), oldest
    /// first, at most `limit`: a range read of the timers' own due class, however many timers
    /// wait further ahead.
    pub fn due_timers(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, JobKey)>, StoreError> {
        let end = layout::due_until(
            layout::DUE_TIMER,
            Timestamp::from_millis(now.millis().saturating_add(1)),
        );
        Ok(self
            .backend
            .range_unclaimed(&layout::due_start(layout::DUE_TIMER), &end, limit)?
            .iter()
            .filter_map(|(k, _)| layout::parse_due(k))
            .collect())
    }

    /// When the earliest timer is due.
    pub fn next_due_timer(&self) -> Result<Option<Timestamp>, StoreError> {
        let start = layout::due_start(layout::DUE_TIMER);
        Ok(self
            .backend
            .range(&start, &prefix_end(&start), 1)?
            .first()
            .and_then(|(k, _)| layout::parse_due(k))
            .map(|(t, _)| t))
    }

    /// Jobs of one class due after `now` (waiting for a retry, or leased), oldest first.
    pub fn future_jobs(
        &self,
        external: bool,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, JobKey)>, StoreError> {
        let class = layout::due_class(external);
        let start = layout::due_until(
            class,
            Timestamp::from_millis(now.millis().saturating_add(1)),
        );
        Ok(self
            .backend
            .range(&start, &prefix_end(&layout::due_start(class)), limit)?
            .iter()
            .filter_map(|(k, _)| layout::parse_due(k))
            .collect())
    }

    /// Jobs of one class in due order, strictly after `after` (a due-index entry), at most
    /// `limit`: for views that page through them.
    pub fn jobs_by_due(
        &self,
        external: bool,
        after: Option<(Timestamp, JobKey)>,
        limit: usize,
    ) -> Result<Vec<(Timestamp, JobKey)>, StoreError> {
        self.by_due(layout::due_class(external), after, limit)
    }

    /// Timers (their own due class) in due order, strictly after `after`, at most `limit`: for
    /// the operators' view of pending timers.
    pub fn timers_by_due(
        &self,
        after: Option<(Timestamp, JobKey)>,
        limit: usize,
    ) -> Result<Vec<(Timestamp, JobKey)>, StoreError> {
        self.by_due(layout::DUE_TIMER, after, limit)
    }

    fn by_due(
        &self,
        class: u8,
        after: Option<(Timestamp, JobKey)>,
        limit: usize,
    ) -> Result<Vec<(Timestamp, JobKey)>, StoreError> {
        let start = match after {
            Some((due, key)) => {
                let mut k = layout::due(class, due, key);
                k.push(0);
                k
            }
            None => layout::due_start(class),
        };
        Ok(self
            .backend
            .range(&start, &prefix_end(&layout::due_start(class)), limit)?
            .iter()
            .filter_map(|(k, _)| layout::parse_due(k))
            .collect())
    }

    /// The earliest time any job of a class is due, for a worker deciding how long to wait.
    pub fn next_due(&self, external: bool) -> Result<Option<Timestamp>, StoreError> {
        let start = layout::due_start(layout::due_class(external));
        Ok(self
            .backend
            .range(&start, &prefix_end(&start), 1)?
            .first()
            .and_then(|(k, _)| layout::parse_due(k))
            .map(|(t, _)| t))
    }

    /// The tombstone of a job an interrupting boundary event cancelled, while it is kept.
    pub fn cancelled_job(&self, key: JobKey) -> Result<Option<CancelledJob>, StoreError> {
        self.backend
            .get(&layout::cancelled(key))?
            .map(|b| codec::decode(&b))
            .transpose()
            .map_err(corrupt("cancelled job"))
    }

    /// Tombstones whose time is up by `now`, at most `limit`.
    pub fn expired_cancelled_jobs(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, JobKey)>, StoreError> {
        let start = vec![layout::CANCELLED_EXPIRY];
        let end =
            layout::cancelled_expiry_until(Timestamp::from_millis(now.millis().saturating_add(1)));
        Ok(self
            .backend
            .range(&start, &end, limit)?
            .iter()
            .filter_map(|(k, _)| layout::parse_cancelled_expiry(k))
            .collect())
    }

    // ---- schedules -------------------------------------------------------------------------

    /// The schedules of timer start events of one app or of all, with their revisions, at most
    /// `limit`, by app and element.
    pub fn schedules(
        &self,
        app: Option<&AppId>,
        limit: usize,
    ) -> Result<Vec<(u64, Schedule)>, StoreError> {
        let start = layout::schedules_of(app);
        self.backend
            .range(&start, &prefix_end(&start), limit)?
            .iter()
            .map(|(_, v)| codec::decode_revisioned(v).map_err(corrupt("schedule")))
            .collect()
    }

    // ---- definitions -----------------------------------------------------------------------

    pub fn definition_head(
        &self,
        app: &AppId,
    ) -> Result<Option<(u64, DefinitionHead)>, StoreError> {
        self.backend
            .get(&layout::definition_head(app))?
            .map(|b| codec::decode_revisioned(&b))
            .transpose()
            .map_err(corrupt("definition head"))
    }

    pub fn definition(
        &self,
        app: &AppId,
        version: u32,
    ) -> Result<Option<DefinitionRecord>, StoreError> {
        self.backend
            .get(&layout::definition(app, version))?
            .map(|b| codec::decode(&b))
            .transpose()
            .map_err(corrupt("definition"))
    }
}

/// The typed builder of one atomic unit. Methods add the checks and writes of one logical
/// change; [`Store::commit`] applies them all or none.
#[derive(Debug, Default)]
pub struct Txn {
    unit: Unit,
    /// It writes something the job worker delivers (a pending call record).
    wakes: bool,
}

impl Txn {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.unit.writes.is_empty()
    }

    /// Whether it writes something the job worker delivers.
    pub fn wakes_worker(&self) -> bool {
        self.wakes
    }

    pub(super) fn set_wakes_worker(&mut self) {
        self.wakes = true;
    }

    /// The raw unit, for the typed writes of other store modules (`super::messages`).
    pub(super) fn unit_mut(&mut self) -> &mut Unit {
        &mut self.unit
    }

    /// Writes a new instance; fails if the id exists.
    pub fn create_instance(&mut self, instance: &Instance) -> &mut Self {
        let key = layout::instance(instance.id);
        self.unit.check(Check::Absent(key.clone()));
        self.unit
            .put(key, codec::encode_revisioned(instance.version, instance));
        self.unit.put(
            layout::owner_index(&instance.app, instance.owner.party_id, instance.id),
            Vec::new(),
        );
        self
    }

    /// Writes an instance over `expected_version`; fails if it moved meanwhile.
    pub fn update_instance(&mut self, instance: &Instance, expected_version: u64) -> &mut Self {
        let key = layout::instance(instance.id);
        self.unit.check(Check::Prefix {
            key: key.clone(),
            prefix: codec::revision_prefix(expected_version),
        });
        self.unit
            .put(key, codec::encode_revisioned(instance.version, instance));
        self
    }

    /// Only checks that an instance is still at `version` (for writes that depend on it).
    pub fn expect_instance(&mut self, id: InstanceId, version: u64) -> &mut Self {
        self.unit.check(Check::Prefix {
            key: layout::instance(id),
            prefix: codec::revision_prefix(version),
        });
        self
    }

    /// Deletes an instance with its history, data and index entry.
    pub fn delete_instance(&mut self, instance: &Instance, expected_version: u64) -> &mut Self {
        let key = layout::instance(instance.id);
        self.unit.check(Check::Prefix {
            key: key.clone(),
            prefix: codec::revision_prefix(expected_version),
        });
        self.unit.delete(key);
        self.unit.delete(layout::owner_index(
            &instance.app,
            instance.owner.party_id,
            instance.id,
        ));
        for seq in 0..instance.history_len {
            self.unit.delete(layout::history(instance.id, seq));
        }
        for data_type in instance.data.keys() {
            self.unit.delete(layout::data(instance.id, data_type));
        }
        self
    }

    /// Appends the history events of one transition (consecutive `seq`s) as one value under
    /// the first one's `seq`: one B-tree insert per transition instead of one per event, and
    /// the events' shared actor and time compress together.
    pub fn append_history(&mut self, instance: InstanceId, events: &[HistoryEvent]) -> &mut Self {
        if let Some(first) = events.first() {
            self.unit
                .put(layout::history(instance, first.seq), codec::encode(&events));
        }
        self
    }

    /// Writes a data type's data; returns the size of its JSON (a data element's `size`).
    pub fn put_data(
        &mut self,
        instance: InstanceId,
        data_type: &DataTypeId,
        value: &serde_json::Value,
    ) -> u64 {
        let (bytes, json_len) = codec::encode_sized(value);
        self.unit.put(layout::data(instance, data_type), bytes);
        json_len as u64
    }

    /// Writes a new job and queues it.
    pub fn create_job(&mut self, job: &Job) -> &mut Self {
        let key = layout::job(job.key);
        self.unit.check(Check::Absent(key.clone()));
        self.unit.put(key, codec::encode_revisioned(1, job));
        if let Some(due) = job.due() {
            self.unit.put(
                layout::due(layout::due_class_of(job), due, job.key),
                Vec::new(),
            );
        }
        if let Some(entry) = work_queue_entry(job) {
            self.unit.put(entry, Vec::new());
        }
        self
    }

    /// Replaces a job at revision `rev` (moving its due-index entry); returns the new revision.
    pub fn update_job(&mut self, old: &Job, rev: u64, new: &Job) -> u64 {
        let key = layout::job(old.key);
        self.unit.check(Check::Prefix {
            key: key.clone(),
            prefix: codec::revision_prefix(rev),
        });
        if let Some(due) = old.due() {
            for &class in layout::due_classes_of(old) {
                self.unit.delete(layout::due(class, due, old.key));
            }
        }
        if let Some(entry) = work_queue_entry(old) {
            self.unit.delete(entry);
        }
        self.unit.put(key, codec::encode_revisioned(rev + 1, new));
        if let Some(due) = new.due() {
            self.unit.put(
                layout::due(layout::due_class_of(new), due, new.key),
                Vec::new(),
            );
        }
        if let Some(entry) = work_queue_entry(new) {
            self.unit.put(entry, Vec::new());
        }
        rev + 1
    }

    /// Deletes a job at revision `rev` with its due-index entry.
    pub fn delete_job(&mut self, job: &Job, rev: u64) -> &mut Self {
        let key = layout::job(job.key);
        self.unit.check(Check::Prefix {
            key: key.clone(),
            prefix: codec::revision_prefix(rev),
        });
        self.unit.delete(key);
        if let Some(due) = job.due() {
            for &class in layout::due_classes_of(job) {
                self.unit.delete(layout::due(class, due, job.key));
            }
        }
        if let Some(entry) = work_queue_entry(job) {
            self.unit.delete(entry);
        }
        self
    }

    /// Records `caller`'s idempotency key; fails if that caller used the key already.
    pub fn put_idempotency(
        &mut self,
        app: &AppId,
        caller: &str,
        key: &str,
        record: &IdempotencyRecord,
    ) -> &mut Self {
        let k = layout::idempotency(app, caller, key);
        self.unit.check(Check::Absent(k.clone()));
        self.unit.put(k, codec::encode(record));
        self
    }

    /// Keeps the tombstone of a cancelled job until its `keep_until`.
    pub fn put_cancelled_job(&mut self, cancelled: &CancelledJob) -> &mut Self {
        self.unit.put(
            layout::cancelled(cancelled.job.key),
            codec::encode(cancelled),
        );
        self.unit.put(
            layout::cancelled_expiry(cancelled.keep_until, cancelled.job.key),
            Vec::new(),
        );
        self
    }

    /// Removes a tombstone whose time is up.
    pub fn delete_cancelled_job(&mut self, key: JobKey, keep_until: Timestamp) -> &mut Self {
        self.unit.delete(layout::cancelled(key));
        self.unit.delete(layout::cancelled_expiry(keep_until, key));
        self
    }

    /// Writes a schedule at revision `rev`: over the one at `rev - 1`, or (`rev` 1) where none
    /// is.
    pub fn put_schedule(&mut self, schedule: &Schedule, rev: u64) -> &mut Self {
        let key = layout::schedule(&schedule.app, schedule.element.as_str());
        self.unit.check(match rev {
            0 | 1 => Check::Absent(key.clone()),
            _ => Check::Prefix {
                key: key.clone(),
                prefix: codec::revision_prefix(rev - 1),
            },
        });
        self.unit.put(key, codec::encode_revisioned(rev, schedule));
        self
    }

    /// Removes a schedule at revision `rev`.
    pub fn delete_schedule(&mut self, schedule: &Schedule, rev: u64) -> &mut Self {
        let key = layout::schedule(&schedule.app, schedule.element.as_str());
        self.unit.check(Check::Prefix {
            key: key.clone(),
            prefix: codec::revision_prefix(rev),
        });
        self.unit.delete(key);
        self
    }

    /// Requires the app's definition head to be still at `revision`: a create that used the head
    /// a node cached fails this check when a deploy (through any node) moved it since. Returns
    /// the check's index in the unit, for telling this conflict from the others.
    pub fn guard_definition_head(&mut self, app: &AppId, revision: u64) -> usize {
        self.unit.check(Check::Prefix {
            key: layout::definition_head(app),
            prefix: codec::revision_prefix(revision),
        });
        self.unit.checks.len() - 1
    }

    /// Deploys a definition version; `head_rev` is the revision of the head read before (None
    /// when the app had no definition).
    pub fn deploy_definition(
        &mut self,
        app: &AppId,
        head_rev: Option<u64>,
        record: &DefinitionRecord,
    ) -> &mut Self {
        let head_key = layout::definition_head(app);
        let next_rev = match head_rev {
            None => {
                self.unit.check(Check::Absent(head_key.clone()));
                1
            }
            Some(rev) => {
                self.unit.check(Check::Prefix {
                    key: head_key.clone(),
                    prefix: codec::revision_prefix(rev),
                });
                rev + 1
            }
        };
        let head = DefinitionHead {
            version: record.version,
            hash: record.hash.clone(),
        };
        self.unit
            .put(head_key, codec::encode_revisioned(next_rev, &head));
        let key = layout::definition(app, record.version);
        self.unit.check(Check::Absent(key.clone()));
        self.unit.put(key, codec::encode(record));
        self
    }
}

/// Checks the store's format marker (writing it into an empty store, upgrading format 2):
/// a store of another format, or a non-empty one without a marker, is refused.
fn check_format(backend: &dyn Backend, path: &str) -> Result<(), StoreError> {
    let key = layout::format_version();
    match backend.get(&key)? {
        Some(bytes) => {
            let found = bytes
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            if found == 2 {
                upgrade_from_2(backend)?;
            } else if found != STORE_FORMAT {
                return Err(BackendError::WrongFormat {
                    path: path.to_string(),
                    found,
                    expected: STORE_FORMAT,
                }
                .into());
            }
        }
        None => {
            // A non-empty store without a format marker was not written by flyt.
            if !backend.range(&[0], &[u8::MAX], 1)?.is_empty() {
                return Err(BackendError::WrongFormat {
                    path: path.to_string(),
                    found: 0,
                    expected: STORE_FORMAT,
                }
                .into());
            }
            let mut unit = Unit::new();
            unit.check(Check::Absent(key.clone()));
            unit.put(key, STORE_FORMAT.to_be_bytes().to_vec());
            backend.apply(&[unit])?;
        }
    }
    Ok(())
}

/// Format 2 → 3: external jobs gain their work-queue entries (`W`). Written in units of at most
/// 10,000 jobs and idempotent (an entry is a key with an empty value), so an upgrade cut off by
/// a crash is simply done again at the next open; the format marker moves last.
fn upgrade_from_2(backend: &dyn Backend) -> Result<(), StoreError> {
    let jobs_start = vec![layout::JOB];
    let end = prefix_end(&jobs_start);
    let mut from = jobs_start.clone();
    loop {
        let rows = backend.range(&from, &end, 10_000)?;
        let Some((last, _)) = rows.last() else {
            break;
        };
        from = last.clone();
        from.push(0);
        let mut unit = Unit::new();
        for (_, value) in &rows {
            let (_, job): (u64, Job) = codec::decode_revisioned(value).map_err(corrupt("job"))?;
            if let Some(entry) = work_queue_entry(&job) {
                unit.put(entry, Vec::new());
            }
        }
        if !unit.writes.is_empty() {
            backend.apply(&[unit])?;
        }
        if rows.len() < 10_000 {
            break;
        }
    }
    let mut unit = Unit::new();
    unit.put(
        layout::format_version(),
        STORE_FORMAT.to_be_bytes().to_vec(),
    );
    backend.apply(&[unit])?;
    tracing::info!("store upgraded from format 2 to {STORE_FORMAT}");
    Ok(())
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 256 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Actor, EventType};

    fn event(seq: u32, kind: EventType, at: &str) -> HistoryEvent {
        HistoryEvent {
            seq,
            event_type: kind,
            element_id: Some(crate::ids::ElementId::new(at)),
            occurred: Timestamp(1_700_000_000_000),
            performed_by: Some(Actor::user("01017012345")),
            action: None,
            details: None,
        }
    }

    #[test]
    fn history_reads_one_event_values_and_transition_values_alike() {
        let store = Store::memory();
        let id = InstanceId::from_uuid(uuid::Uuid::now_v7());
        // As stores written before grouping hold them: one event per value.
        let mut txn = Txn::new();
        txn.unit.put(
            layout::history(id, 0),
            codec::encode(&event(0, EventType::StartEvent, "start")),
        );
        txn.unit.put(
            layout::history(id, 1),
            codec::encode(&event(1, EventType::StartTask, "fill")),
        );
        store.commit_blocking(txn).unwrap();
        // As transitions write them now: the events of one move in one value.
        let mut txn = Txn::new();
        txn.append_history(
            id,
            &[
                event(2, EventType::EndTask, "fill"),
                event(3, EventType::StartTask, "confirm"),
            ],
        );
        txn.append_history(id, &[]);
        store.commit_blocking(txn).unwrap();
        let seqs = |from, limit| -> Vec<u32> {
            store
                .history(id, from, limit)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        assert_eq!(seqs(0, usize::MAX), [0, 1, 2, 3]);
        assert_eq!(seqs(3, usize::MAX), [3], "from inside a transition's value");
        assert_eq!(seqs(1, 2), [1, 2]);
        assert_eq!(
            store.history(id, 0, 4).unwrap()[3]
                .element_id
                .as_ref()
                .unwrap()
                .as_str(),
            "confirm"
        );
    }
}

#[cfg(test)]
mod upgrade_tests {
    use super::*;
    use crate::ids::ElementId;
    use crate::model::{JobKind, JobState};

    fn job(external: bool, task_type: &str) -> Job {
        Job {
            key: JobKey::new_random(),
            app: "ttd/letters".parse().expect("app id"),
            instance: InstanceId::new_random(),
            element_id: ElementId::new("Send"),
            task_type: task_type.into(),
            visit: 1,
            idempotency_key: "k".into(),
            attempts: 0,
            max_attempts: 5,
            state: JobState::Queued {
                due: Timestamp::from_millis(1_000),
            },
            created: Timestamp::from_millis(1_000),
            last_error: None,
            gateway_action: None,
            external,
            kind: JobKind::ServiceTask,
            payload: None,
        }
    }

    #[test]
    fn a_format_2_store_gains_the_work_queue_at_open() {
        let backend: Arc<dyn Backend> = Arc::new(crate::store::memory::MemoryBackend::default());
        let (external, internal) = (job(true, "send-letter"), job(false, "send-letter"));
        // What format 2 wrote: the marker and the jobs, with no work-queue entries.
        let mut unit = Unit::new();
        unit.put(layout::format_version(), 2u32.to_be_bytes().to_vec());
        for j in [&external, &internal] {
            unit.put(layout::job(j.key), codec::encode_revisioned(1, j));
        }
        backend.apply(&[unit]).expect("write format 2");
        for _ in 0..2 {
            // A second open (or one after an upgrade cut off by a crash) changes nothing.
            let store = Store::with_backend(backend.clone(), GroupConfig::default(), "memory")
                .expect("opens and upgrades");
            let due = store
                .due_external_jobs(
                    "send-letter",
                    &external.app,
                    Timestamp::from_millis(2_000),
                    10,
                )
                .expect("read");
            assert_eq!(due, vec![(Timestamp::from_millis(1_000), external.key)]);
            drop(store);
        }
        let marker = backend.get(&layout::format_version()).expect("read");
        assert_eq!(marker, Some(STORE_FORMAT.to_be_bytes().to_vec()));
    }

    #[test]
    fn other_formats_are_still_refused() {
        let backend: Arc<dyn Backend> = Arc::new(crate::store::memory::MemoryBackend::default());
        let mut unit = Unit::new();
        unit.put(layout::format_version(), 1u32.to_be_bytes().to_vec());
        backend.apply(&[unit]).expect("write");
        assert!(Store::with_backend(backend, GroupConfig::default(), "memory").is_err());
    }
}
