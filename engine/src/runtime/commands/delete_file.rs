//! Deleting a file (a binary data element) of an instance, and reading one.

use super::write_data::check_writable;
use crate::app::DataKind;
use crate::ids::{DataElementId, InstanceId};
use crate::model::{Actor, EventType, FileElement, Instance};
use crate::runtime::pipeline::Kind;
use crate::runtime::{Error, Runtime, blob_error};

/// A request to delete one file.
#[derive(Debug, Clone)]
pub struct DeleteFile {
    pub instance: InstanceId,
    pub element: DataElementId,
    pub actor: Actor,
    pub expected_version: Option<u64>,
}

impl Runtime {
    /// Deletes a file under the same rule as writing it (its data type writable now, not
    /// locked). The removal is committed first (one transition, a `data_Deleted` history
    /// event) and the bytes removed after: a crash in between leaves only an unreferenced file,
    /// which the start-up sweep removes.
    pub async fn delete_file(&self, req: DeleteFile) -> Result<Instance, Error> {
        let loaded = self.load(req.instance, req.expected_version)?;
        let Some(file) = loaded.instance.files.get(&req.element) else {
            return Err(Error::DataElementNotFound {
                instance: req.instance,
                element: req.element,
            });
        };
        let data_type = file.data_type.clone();
        check_writable(&loaded, &data_type, DataKind::Binary)?;
        let mut t = self.begin(loaded, req.actor);
        t.instance.files.remove(&req.element);
        t.record(
            EventType::DataDeleted,
            None,
            None,
            Some(serde_json::json!({
                "dataElementId": req.element.to_string(),
                "dataType": data_type.to_string(),
            })),
        );
        let instance = self.commit(Kind::Move, t).await?;
        if let Err(e) = self.inner.store.blobs().remove(req.instance, req.element) {
            // Committed already: the sweep at the next start-up removes the file.
            tracing::warn!(instance = %req.instance, element = %req.element, error = %e,
                "could not remove a deleted file's bytes");
        }
        Ok(instance)
    }

    /// A file of `instance` and its bytes, opened for reading.
    pub async fn open_file(
        &self,
        instance: &Instance,
        element: DataElementId,
    ) -> Result<(FileElement, tokio::fs::File), Error> {
        let Some(file) = instance.files.get(&element) else {
            return Err(Error::DataElementNotFound {
                instance: instance.id,
                element,
            });
        };
        let bytes = self
            .inner
            .store
            .blobs()
            .open(instance.id, element)
            .await
            .map_err(blob_error)?;
        Ok((file.clone(), bytes))
    }

    /// Removes blobs no instance references (an upload interrupted by a crash before its
    /// commit, a deletion interrupted after its commit). Run at start-up, before requests are
    /// served. Returns how many files it removed.
    pub fn sweep_files(&self) -> Result<usize, Error> {
        let store = &self.inner.store;
        store
            .blobs()
            .sweep(|id| {
                store
                    .instance(id)
                    .map(|i| i.map(|i| i.files.keys().copied().collect()))
                    .map_err(std::io::Error::other)
            })
            .map_err(blob_error)
    }
}
