//! An instance: one run of an app's process for one owner.

use super::{Actor, InstanceOwner, ProcessState};
use crate::ids::{AppId, DataElementId, DataTypeId, ElementId, InstanceId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Metadata of one stored data element (the JSON itself is stored separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataElement {
    pub created: Timestamp,
    pub last_changed: Timestamp,
    pub size: u64,
}

/// Metadata of one binary data element (a file); the bytes are stored as a blob
/// ([`crate::store::blobs`]) under the instance and element ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileElement {
    pub data_type: DataTypeId,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    pub created: Timestamp,
    pub created_by: Actor,
}

/// An instance of an app. `version` increases with every committed change and is the ETag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub id: InstanceId,
    pub app: AppId,
    pub owner: InstanceOwner,
    /// The definition version the instance started on; it stays on it to the end.
    pub definition_version: u32,
    pub version: u64,
    pub created: Timestamp,
    pub created_by: Actor,
    pub last_changed: Timestamp,
    pub last_changed_by: Actor,
    pub process: ProcessState,
    /// Data types that hold data, with their metadata.
    #[serde(default)]
    pub data: BTreeMap<DataTypeId, DataElement>,
    /// Binary data elements (files) by id. Absent in instances stored before files existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<DataElementId, FileElement>,
    /// The next history sequence number.
    pub history_len: u32,
    /// How often each element has been entered; part of job idempotency keys, so that a task
    /// visited twice (after a reject) gets a new key while a retry of the same visit does not.
    #[serde(default)]
    pub visits: BTreeMap<String, u32>,
    /// Data types locked by a signature: each maps to the signature data type whose element
    /// recorded their hashes. A locked data type is not written again (409 naming the signature).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locked: BTreeMap<DataTypeId, DataTypeId>,
}

impl Instance {
    /// A new instance of `app` at version 0, started `now` at `start_event` by `actor`, with no
    /// data, history or visits yet (the create's transition fills them in).
    pub fn started(
        id: InstanceId,
        app: AppId,
        owner: InstanceOwner,
        definition_version: u32,
        actor: Actor,
        now: Timestamp,
        start_event: ElementId,
    ) -> Self {
        Instance {
            id,
            app,
            owner,
            definition_version,
            version: 0,
            created: now,
            created_by: actor.clone(),
            last_changed: now,
            last_changed_by: actor,
            process: ProcessState {
                started: Some(now),
                start_event: Some(start_event),
                ..ProcessState::default()
            },
            data: BTreeMap::new(),
            files: BTreeMap::new(),
            history_len: 0,
            visits: BTreeMap::new(),
            locked: BTreeMap::new(),
        }
    }

    /// `{partyId}/{guid}`, the instance id in Altinn's API.
    pub fn altinn_id(&self) -> String {
        format!("{}/{}", self.owner.party_id, self.id)
    }

    pub fn is_ended(&self) -> bool {
        self.process.ended.is_some()
    }

    /// How many files of `data_type` the instance holds.
    pub fn file_count(&self, data_type: &DataTypeId) -> usize {
        self.files
            .values()
            .filter(|f| &f.data_type == data_type)
            .count()
    }

    /// The signature data type that locks `data_type`, if one does.
    pub fn locked_by(&self, data_type: &DataTypeId) -> Option<&DataTypeId> {
        self.locked.get(data_type)
    }
}
