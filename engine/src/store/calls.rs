//! Pending deliveries of call activities: keys, values, reads and writes.
//!
//! | tag | key                    | value            |
//! |-----|------------------------|------------------|
//! | `C` | `C` child:16 kind:u8   | [`CallDelivery`] |
//!
//! The commit that moves a token into a call activity writes a `Start` record keyed by the
//! child instance id it chose; the commit that creates the child consumes it (a check on its
//! stored bytes), so the child is created exactly once. The child's ending commit writes
//! `Ended`; the commit that moves the parent on consumes it. A parent that leaves the call
//! activity any other way writes `Cancel`; the commit that cancels the child consumes it.
//! What is left under `C` after a crash is exactly what is still to deliver. On PostgreSQL
//! these are rows of `flyt_kv` (a tag of no table of its own).

use super::backend::Check;
use super::codec;
use super::typed::{Store, StoreError, Txn};
use crate::ids::{AppId, DataTypeId, ElementId, InstanceId};
use crate::model::{InstanceOwner, ParentRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const CALL: u8 = b'C';

/// What a call activity still has to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CallDelivery {
    /// Create the child.
    #[serde(rename_all = "camelCase")]
    Start {
        child: InstanceId,
        parent: ParentRef,
        /// The app the child is an instance of.
        app: AppId,
        /// Its definition version (`None`: the latest when it is created).
        version: Option<u32>,
        /// The process of that version's file it runs (`None`: the one instances start in).
        process: Option<String>,
        owner: InstanceOwner,
        /// The input mappings, applied when the token arrived.
        data: BTreeMap<DataTypeId, serde_json::Value>,
    },
    /// Move the parent on: its child ended (`error`: by a BPMN error nothing in it caught).
    #[serde(rename_all = "camelCase")]
    Ended {
        child: InstanceId,
        parent: ParentRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<Option<String>>,
    },
    /// End the child: its parent left the call activity another way.
    #[serde(rename_all = "camelCase")]
    Cancel {
        child: InstanceId,
        /// The parent's element that cancelled it (a boundary event, a terminate end, ...).
        by: Option<ElementId>,
    },
}

impl CallDelivery {
    pub fn child(&self) -> InstanceId {
        match self {
            CallDelivery::Start { child, .. }
            | CallDelivery::Ended { child, .. }
            | CallDelivery::Cancel { child, .. } => *child,
        }
    }

    fn kind_byte(&self) -> u8 {
        match self {
            CallDelivery::Start { .. } => 0,
            CallDelivery::Ended { .. } => 1,
            CallDelivery::Cancel { .. } => 2,
        }
    }

    fn key(&self) -> Vec<u8> {
        let mut k = vec![CALL];
        k.extend_from_slice(self.child().as_bytes());
        k.push(self.kind_byte());
        k
    }
}

impl Store {
    /// The `Start` record of `child` if it is still pending, with its stored bytes.
    pub fn pending_start(
        &self,
        child: InstanceId,
    ) -> Result<Option<(Vec<u8>, CallDelivery)>, StoreError> {
        let mut key = vec![CALL];
        key.extend_from_slice(child.as_bytes());
        key.push(0);
        self.backend()
            .get(&key)?
            .map(|v| {
                let d = codec::decode(&v).map_err(|e| StoreError::Corrupt {
                    what: "call delivery",
                    detail: e.0,
                })?;
                Ok((v, d))
            })
            .transpose()
    }

    /// Pending call deliveries of every app, oldest child first, at most `limit`, each with its
    /// stored bytes (for the check that consumes it).
    pub fn pending_calls(&self, limit: usize) -> Result<Vec<(Vec<u8>, CallDelivery)>, StoreError> {
        self.backend()
            .range(&[CALL], &[CALL + 1], limit)?
            .into_iter()
            .map(|(_, v)| {
                let d = codec::decode(&v).map_err(|e| StoreError::Corrupt {
                    what: "call delivery",
                    detail: e.0,
                })?;
                Ok((v, d))
            })
            .collect()
    }
}

impl Txn {
    /// Writes a pending call delivery.
    pub fn put_call_delivery(&mut self, d: &CallDelivery) -> Vec<u8> {
        let bytes = codec::encode(d);
        self.unit_mut().put(d.key(), bytes.clone());
        self.set_wakes_worker();
        bytes
    }

    /// Consumes a pending call delivery: fails the unit unless it is still stored as `stored`.
    pub fn consume_call_delivery(&mut self, d: &CallDelivery, stored: &[u8]) -> &mut Self {
        let key = d.key();
        self.unit_mut().check(Check::Prefix {
            key: key.clone(),
            prefix: stored.to_vec(),
        });
        self.unit_mut().delete(key);
        self
    }
}
