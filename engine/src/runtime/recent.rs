//! Instances this node committed lately, with their data, kept on a shared store so that a
//! move need not read them back from the database.
//!
//! On PostgreSQL every read is a round trip and CPU on both sides; a user who moves an instance
//! usually moved or created it a moment before, through the same node. A move may start from
//! the copy kept here ([`Runtime::instance_for_move`]) because a stale copy can never be
//! applied: the commit checks the instance's version, as for any snapshot
//! ([`Runtime::next_from`]). What a stale copy may cause is a wrong refusal (a conflict, or a
//! task "not active" that another node has since reached); so a move that fails on a kept copy
//! reads the instance again, and when the database holds a newer version it runs once more on
//! that ([`Runtime::is_stale`]). The outcome is then the one of a move that read the database
//! after the other node's commit, a serial order like any other.
//!
//! **Data.** An instance's data only changes in a transition, and every transition writes the
//! instance with a new version; so the data at one version is fixed. A transition that knew
//! all of its instance's data (a create, or one that loaded it all for a gateway) keeps it
//! beside the copy, and a transition of that same version, whether it started from the copy or
//! from a read, starts with that data instead of reading it ([`Recent::data_at`]). Data over
//! [`MAX_DATA_BYTES`] is not kept.
//!
//! Only a shared store keeps copies: an embedded store's reads are local and cheap, and no
//! other process writes it, so nothing changes there. Bounded: an instance of more than
//! [`MAX_PARTS`] tokens, scopes, inner instances and such (a multi-instance task over hundreds
//! of signers) is not kept, and at most [`CAPACITY`] instances are; when full, the copy kept
//! longest ago is dropped for each one kept (first in, first out: an instance moved a moment
//! ago is the likeliest to move next).
//!
//! [`Runtime::instance_for_move`]: super::Runtime::instance_for_move
//! [`Runtime::next_from`]: super::Runtime::next_from
//! [`Runtime::is_stale`]: super::Runtime::is_stale

use crate::ids::{DataTypeId, InstanceId};
use crate::model::Instance;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// How many instances a node keeps.
const CAPACITY: usize = 4096;
/// The most data (about as many bytes of JSON) kept with one instance.
const MAX_DATA_BYTES: usize = 16 * 1024;
/// The largest instance kept, in [`parts`].
const MAX_PARTS: usize = 128;

/// One kept instance.
#[derive(Debug)]
struct Kept {
    instance: Instance,
    /// Every data type's value at `instance.version`, when known and small enough.
    data: Option<Arc<BTreeMap<DataTypeId, Value>>>,
    /// When it was kept (its place in [`Copies::order`]).
    kept: u64,
}

/// The copies, and the order they were kept in.
#[derive(Debug, Default)]
struct Copies {
    by_id: HashMap<InstanceId, Kept>,
    /// Ids in the order kept, oldest first, each with its `kept`; an entry whose copy was
    /// replaced or forgotten since is skipped when it comes up.
    order: VecDeque<(InstanceId, u64)>,
    next: u64,
}

impl Copies {
    /// Drops the copy kept longest ago.
    fn drop_oldest(&mut self) {
        while let Some((id, kept)) = self.order.pop_front() {
            if self.by_id.get(&id).is_some_and(|k| k.kept == kept) {
                self.by_id.remove(&id);
                return;
            }
        }
    }
}

/// The copies, at most [`CAPACITY`].
#[derive(Debug, Default)]
pub(crate) struct Recent {
    enabled: bool,
    copies: Mutex<Copies>,
}

impl Recent {
    pub(crate) fn new(enabled: bool) -> Self {
        Recent {
            enabled,
            copies: Mutex::new(Copies::default()),
        }
    }

    /// The copy of `id`, if kept.
    pub(crate) fn get(&self, id: InstanceId) -> Option<Instance> {
        if !self.enabled {
            return None;
        }
        self.lock().by_id.get(&id).map(|kept| kept.instance.clone())
    }

    /// The data of `id` at `version`, if kept.
    pub(crate) fn data_at(
        &self,
        id: InstanceId,
        version: u64,
    ) -> Option<BTreeMap<DataTypeId, Value>> {
        if !self.enabled {
            return None;
        }
        let data = self
            .lock()
            .by_id
            .get(&id)
            .filter(|kept| kept.instance.version == version)?
            .data
            .clone()?;
        Some((*data).clone())
    }

    /// Keeps `instance` as committed by this node, with its data when all of it is known (a
    /// newer version replaces an older one; an older never replaces a newer, as two commits of
    /// one node may return out of order).
    pub(crate) fn keep(&self, instance: &Instance, data: Option<BTreeMap<DataTypeId, Value>>) {
        if !self.enabled {
            return;
        }
        if parts(instance) > MAX_PARTS {
            self.forget(instance.id);
            return;
        }
        let data = data
            .filter(|d| d.values().map(approximate_size).sum::<usize>() <= MAX_DATA_BYTES)
            .map(Arc::new);
        let mut copies = self.lock();
        if let Some(kept) = copies.by_id.get(&instance.id)
            && kept.instance.version >= instance.version
        {
            return;
        }
        while copies.by_id.len() >= CAPACITY && !copies.by_id.contains_key(&instance.id) {
            copies.drop_oldest();
        }
        // The order holds an entry per keep; replaced ones are skipped and, when they pile
        // up (one instance moved many times), swept.
        if copies.order.len() >= 4 * CAPACITY {
            let by_id = &copies.by_id;
            let live: VecDeque<(InstanceId, u64)> = copies
                .order
                .iter()
                .filter(|(id, kept)| by_id.get(id).is_some_and(|k| k.kept == *kept))
                .copied()
                .collect();
            copies.order = live;
        }
        let kept = copies.next;
        copies.next += 1;
        copies.order.push_back((instance.id, kept));
        copies.by_id.insert(
            instance.id,
            Kept {
                instance: instance.clone(),
                data,
                kept,
            },
        );
    }

    /// Drops the copy of `id` (it was found stale, or the instance is gone).
    pub(crate) fn forget(&self, id: InstanceId) {
        if self.enabled {
            self.lock().by_id.remove(&id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Copies> {
        // A panic while holding the lock cannot leave the map inconsistent (each operation
        // is one call on it), so a poisoned lock is used as it is.
        self.copies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// About how many parts an instance record has: what grows with the process's state.
fn parts(instance: &Instance) -> usize {
    let p = &instance.process;
    let inner: usize = p
        .scopes
        .iter()
        .filter_map(|s| s.multi.as_ref())
        .map(|m| m.inner.len())
        .sum();
    p.tokens.len()
        + p.scopes.len()
        + inner
        + p.timers.len()
        + p.messages.len()
        + p.incidents.len()
        + instance.data.len()
        + instance.files.len()
        + instance.visits.len()
        + instance.locked.len()
}

/// About the length of `value` as JSON, without writing it.
fn approximate_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(approximate_size).sum::<usize>(),
        Value::Object(fields) => {
            2 + fields
                .iter()
                .map(|(k, v)| k.len() + 4 + approximate_size(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_are_about_the_json_length() {
        let value = json!({ "claim": { "amount": 120, "description": "train ticket" } });
        let json = value.to_string().len();
        let size = approximate_size(&value);
        assert!(size >= json && size <= 2 * json, "{size} for {json}");
    }
}
