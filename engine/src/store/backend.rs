//! The backend contract: a sorted key-value store that applies batches of atomic, check-guarded
//! units in one durable write.
//!
//! Everything flyt stores goes through [`Backend::apply`]. A [`Unit`] is one logical transition
//! (an instance moving, a job completing, a definition deployed): its checks and writes happen
//! atomically or not at all. A batch of units is made durable together (one fsync), which is how
//! group commit amortises the cost of durability over concurrent requests without weakening "a
//! returned commit is on disk".

use std::fmt;

/// A precondition of a unit, checked inside the write transaction.
#[derive(Clone, PartialEq, Eq)]
pub enum Check {
    /// The key must not exist.
    Absent(Vec<u8>),
    /// The key must exist and its value must start with these bytes (flyt puts a record's
    /// revision right after the format byte, so this is an optimistic version check).
    Prefix { key: Vec<u8>, prefix: Vec<u8> },
}

/// A change made by a unit.
#[derive(Clone, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// One atomic transition: all checks hold and all writes happen, or nothing happens.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Unit {
    pub checks: Vec<Check>,
    pub writes: Vec<Write>,
}

impl Unit {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, check: Check) -> &mut Self {
        self.checks.push(check);
        self
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> &mut Self {
        self.writes.push(Write::Put(key, value));
        self
    }

    pub fn delete(&mut self, key: Vec<u8>) -> &mut Self {
        self.writes.push(Write::Delete(key));
        self
    }

    /// Total bytes of keys and values written, for batch sizing.
    pub fn size(&self) -> usize {
        self.writes
            .iter()
            .map(|w| match w {
                Write::Put(k, v) => k.len() + v.len(),
                Write::Delete(k) => k.len(),
            })
            .sum()
    }
}

impl fmt::Debug for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unit")
            .field("checks", &self.checks.len())
            .field("writes", &self.writes.len())
            .field("bytes", &self.size())
            .finish()
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Absent(k) => write!(f, "Absent({})", String::from_utf8_lossy(k)),
            Check::Prefix { key, prefix } => {
                write!(f, "Prefix({}, {prefix:?})", String::from_utf8_lossy(key))
            }
        }
    }
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Write::Put(k, v) => write!(f, "Put({}, {} bytes)", String::from_utf8_lossy(k), v.len()),
            Write::Delete(k) => write!(f, "Delete({})", String::from_utf8_lossy(k)),
        }
    }
}

/// A unit whose check failed: someone else changed the record first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailed {
    /// Index of the failed check within the unit.
    pub check: usize,
}

/// What can go wrong below flyt: I/O, corruption, a full disk, a lock held by another process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("the store at {path} is locked by another process")]
    Locked { path: String },
    #[error("the store at {path} is corrupt or not a {backend} store: {detail}")]
    Corrupt {
        path: String,
        backend: &'static str,
        detail: String,
    },
    #[error("the store at {path} has format version {found}; this flyt reads version {expected}")]
    WrongFormat {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("storage I/O error: {0}")]
    Io(String),
    /// Injected by tests (disk full, write failure); from the PostgreSQL backend, the database
    /// cannot be reached (the API answers 503 until it can again).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Wake-up hints between the nodes sharing a store (PostgreSQL `LISTEN`/`NOTIFY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HintStats {
    /// Whether this node listens for hints now (false before its worker starts, and while its
    /// hint connection is down: the worker then relies on polling alone).
    pub listening: bool,
    /// Hints sent (one `NOTIFY` may stand for several commits).
    pub sent: u64,
    /// Hints received from other nodes.
    pub received: u64,
    /// Times the hint connection was established (more than one: it was lost and reconnected).
    pub connects: u64,
}

/// One key-value pair from a scan.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A sorted, durable key-value store. Implementations: `memory`, `sled`, `redb`. All three pass
/// the same contract tests (`store::contract`).
pub trait Backend: Send + Sync + 'static {
    /// A short name for logs and benchmarks (`redb`, `sled`, `memory`).
    fn name(&self) -> &'static str;

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;

    /// Entries with `start <= key < end`, in key order, at most `limit`.
    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError>;

    /// [`range`](Self::range) for a claim scan (due jobs and timers, the external work queue):
    /// a shared store leaves out the entries another transaction holds locked at this moment
    /// (a node committing their claim or completion), so nodes polling together reach for
    /// different work (PostgreSQL: `FOR UPDATE SKIP LOCKED`). Like every read it is a hint: the
    /// claim's own checked commit decides. Embedded stores: `range`.
    fn range_unclaimed(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        self.range(start, end, limit)
    }

    /// Applies `units` in order, each atomically: a unit whose checks fail is skipped (its
    /// outcome is `Err(CheckFailed)`), the others are applied, and later units see the writes of
    /// earlier ones. When this returns `Ok`, every applied unit is durable.
    fn apply(&self, units: &[Unit]) -> Result<Vec<Result<(), CheckFailed>>, BackendError>;

    /// Makes everything durable and releases files (on shutdown). Idempotent.
    fn close(&self) -> Result<(), BackendError> {
        Ok(())
    }

    /// Whether other processes (other flyt nodes) write to the same store at the same time, so
    /// that nothing read may be cached as the latest (definition heads) and another process's
    /// unexpired job leases are live. PostgreSQL: true; the embedded stores: false.
    fn shared(&self) -> bool {
        false
    }

    /// Whether the store answers now (`/health/ready`). Embedded stores always do.
    fn ping(&self) -> Result<(), BackendError> {
        Ok(())
    }

    /// After a commit that made work due (a job, a timer, a signal delivery, a schedule): hints
    /// the other nodes sharing the store so their workers look now rather than at their next
    /// poll. Never blocks and never fails the commit; a lost hint only delays work until the
    /// next poll. Embedded stores have no other nodes: nothing.
    fn hint_work(&self) {}

    /// Wakes `wake` (`notify_waiters`) whenever another node hints that it made work due
    /// ([`Backend::hint_work`]), from now until the store is closed; also once after every
    /// reconnection, as hints may have been missed meanwhile. Several calls add wakers to one
    /// listener. Embedded stores: nothing.
    fn listen_for_work(&self, _wake: std::sync::Arc<tokio::sync::Notify>) {}

    /// The hints' state for `/metrics`; `None` where there are none (embedded stores).
    fn hint_stats(&self) -> Option<HintStats> {
        None
    }

    /// Batches sent again after the database refused them for a concurrent transaction's sake
    /// (a serialization failure, a deadlock, a key another transaction created meanwhile), for
    /// `/metrics`; `None` where that cannot happen (embedded stores).
    fn batch_retries(&self) -> Option<u64> {
        None
    }

    /// Gives space the store no longer uses back to the file system, where the backend can
    /// (redb: copy-on-write leaves freed pages in the file; the file never shrinks by itself).
    /// Needs the store to itself: meant for `flyt store compact` with the server stopped. A
    /// backend with nothing to do returns `Ok`.
    fn compact(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

impl Check {
    /// The key the check reads.
    pub fn key(&self) -> &[u8] {
        match self {
            Check::Absent(key) | Check::Prefix { key, .. } => key,
        }
    }

    /// Whether the check holds for the key's current value (`None`: absent).
    pub fn holds(&self, value: Option<&[u8]>) -> bool {
        match self {
            Check::Absent(_) => value.is_none(),
            Check::Prefix { prefix, .. } => value.is_some_and(|v| v.starts_with(prefix)),
        }
    }
}

/// Evaluates a unit's checks; shared by every backend so they agree exactly. `holds` reads the
/// check's key and returns [`Check::holds`] of its value (borrowing it: a check needs only a
/// prefix of the value, so nothing is copied).
pub(crate) fn first_failed_check(
    unit: &Unit,
    mut holds: impl FnMut(&Check) -> Result<bool, BackendError>,
) -> Result<Option<usize>, BackendError> {
    for (i, check) in unit.checks.iter().enumerate() {
        if !holds(check)? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// The end of the range of keys starting with `prefix` (for `range(prefix, &prefix_end(prefix))`).
///
/// `prefix` must not be empty or all `0xFF` (no finite bound exists then); flyt's keys always
/// start with an ASCII table tag, so this never happens.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    debug_assert!(
        prefix.iter().any(|&b| b != u8::MAX),
        "prefix_end of an all-0xFF prefix"
    );
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

/// The key whose write makes a backend panic inside its own `apply`, half way through a batch
/// (in builds with the `testing` feature only): the contract test of the panic policy
/// ([`crate::store::group`]) needs a panic where a real one would happen, not in a wrapper.
#[cfg(any(test, feature = "testing"))]
pub const PANIC_INSIDE_APPLY: &[u8] = b"fault/panic-inside-apply";

/// Called by every backend for each key it writes while applying a batch.
#[inline]
pub(crate) fn before_write(_key: &[u8]) {
    #[cfg(any(test, feature = "testing"))]
    if _key == PANIC_INSIDE_APPLY {
        panic!("injected panic inside the backend's apply");
    }
}
