//! The in-memory backend: a sorted map behind a lock, for tests and `--store memory`.
//!
//! It implements the same contract as the disk backends (and passes the same contract tests), so
//! everything above the store can be tested without touching a disk. "Durable" here means
//! "visible to later reads of this process"; nothing survives a restart.
//!
//! `apply` holds the write lock for the whole batch, which makes every batch atomic with respect
//! to readers exactly like a disk transaction: a reader sees all of a batch or none of it.

use std::collections::BTreeMap;
use std::fmt;

use parking_lot::RwLock;

use super::backend::{Backend, BackendError, CheckFailed, Entry, Unit, Write, first_failed_check};

/// A sorted key-value store in memory.
#[derive(Default)]
pub struct MemoryBackend {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys stored (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("keys", &self.len())
            .finish()
    }
}

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.map.read().get(key).cloned())
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        // `BTreeMap::range` panics on an inverted range; the contract says it is simply empty.
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let map = self.map.read();
        Ok(map
            .range::<[u8], _>((
                std::ops::Bound::Included(start),
                std::ops::Bound::Excluded(end),
            ))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, units: &[Unit]) -> Result<Vec<Result<(), CheckFailed>>, BackendError> {
        let mut map = self.map.write();
        let mut outcomes = Vec::with_capacity(units.len());
        for unit in units {
            // Checks first, against the map as earlier units of this batch left it; writes cannot
            // fail, so a unit whose checks pass is applied whole.
            if let Some(check) =
                first_failed_check(unit, |c| Ok(c.holds(map.get(c.key()).map(Vec::as_slice))))?
            {
                outcomes.push(Err(CheckFailed { check }));
                continue;
            }
            for write in &unit.writes {
                match write {
                    Write::Put(key, value) => {
                        super::backend::before_write(key);
                        map.insert(key.clone(), value.clone());
                    }
                    Write::Delete(key) => {
                        map.remove(key);
                    }
                }
            }
            outcomes.push(Ok(()));
        }
        Ok(outcomes)
    }
}
