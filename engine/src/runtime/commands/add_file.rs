//! Adding a file (a binary data element) to an instance, in two steps so that its bytes never
//! sit in memory whole: [`Runtime::start_file`] checks everything that can be checked before the
//! first byte and opens a staging file; the caller streams the bytes into the [`FileUpload`]
//! (the size limit is enforced on every chunk); [`Runtime::add_file`] checks the bytes'
//! signature, places the blob and commits the element's metadata in one transition.

use super::write_data::check_writable;
use crate::app::{DataKind, DataTypeSpec};
use crate::ids::{DataElementId, DataTypeId, InstanceId};
use crate::model::{Actor, EventType, FileElement, Instance};
use crate::runtime::content::{check_allowed, check_signature, essence};
use crate::runtime::pipeline::{Kind, Loaded};
use crate::runtime::{Error, Runtime, blob_error};
use crate::store::blobs::Staging;

/// A file being received for one data type of one instance. Dropped before
/// [`Runtime::add_file`], its staging file is removed: nothing is left behind.
#[derive(Debug)]
pub struct FileUpload {
    instance: InstanceId,
    data_type: DataTypeId,
    content_type: String,
    limit: u64,
    staging: Staging,
}

impl FileUpload {
    /// The most bytes this upload may have.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn data_type(&self) -> &DataTypeId {
        &self.data_type
    }

    /// Appends a chunk. Refused as soon as the total passes the limit, before anything more is
    /// read: drop the upload then.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if self.staging.size() + chunk.len() as u64 > self.limit {
            return Err(self.too_large());
        }
        self.staging.write(chunk).await.map_err(blob_error)
    }

    /// The error for a file over the limit (also when a `Content-Length` says so up front).
    pub fn too_large(&self) -> Error {
        Error::FileTooLarge {
            data_type: self.data_type.to_string(),
            limit: self.limit,
        }
    }
}

/// The rest of a request to add a file.
#[derive(Debug, Clone)]
pub struct AddFile {
    /// The name the file was sent with (`Content-Disposition`), if any.
    pub filename: Option<String>,
    pub actor: Actor,
    pub expected_version: Option<u64>,
}

impl Runtime {
    /// Checks that `instance` may take a file of `data_type` with `content_type` now (a binary
    /// data type that accepts the content type, writable now, not locked, below its
    /// `max_count`), and opens a staging file for its bytes. The size limit is the data type's
    /// `max_size`, at most `max_upload` bytes.
    pub async fn start_file(
        &self,
        instance: &Instance,
        data_type: &DataTypeId,
        content_type: &str,
        max_upload: u64,
    ) -> Result<FileUpload, Error> {
        let loaded = self.resolve(instance.clone(), None)?;
        let spec = check_file_writable(&loaded, data_type, content_type)?;
        let limit = spec.max_size.map_or(max_upload, |m| m.min(max_upload));
        let staging = self.inner.store.blobs().stage().await.map_err(blob_error)?;
        Ok(FileUpload {
            instance: instance.id,
            data_type: data_type.clone(),
            content_type: essence(content_type),
            limit,
            staging,
        })
    }

    /// Finishes an upload: the bytes must be non-empty and match their content type; the blob
    /// is placed under its content path, then the element is committed (one transition, with a
    /// `data_Created` history event). Returns the instance as committed and the new element's
    /// id. If the commit fails, the blob is removed again.
    pub async fn add_file(
        &self,
        upload: FileUpload,
        req: AddFile,
    ) -> Result<(Instance, DataElementId), Error> {
        let FileUpload {
            instance,
            data_type,
            content_type,
            staging,
            ..
        } = upload;
        let staged = staging.finish().await.map_err(blob_error)?;
        if staged.size == 0 {
            return Err(Error::EmptyFile);
        }
        check_signature(&content_type, &staged.head)?;
        let loaded = self.load(instance, req.expected_version)?;
        check_file_writable(&loaded, &data_type, &content_type)?;
        let file = NewFile {
            data_type,
            content_type,
            filename: req.filename,
        };
        let id = DataElementId::new_random();
        let mut t = self.begin(loaded, req.actor);
        t.add_file(id, file, staged.size, &staged.sha256);
        self.inner
            .store
            .blobs()
            .place(staged, instance, id)
            .await
            .map_err(blob_error)?;
        match self.commit(Kind::Move, t).await {
            Ok(instance) => Ok((instance, id)),
            Err(e) => {
                // Never referenced: remove it now rather than at the next start-up's sweep.
                let _ = self.inner.store.blobs().remove(instance, id);
                Err(e.into())
            }
        }
    }
}

/// A file about to be added: what is known of it besides its bytes.
#[derive(Debug, Clone)]
pub(crate) struct NewFile {
    pub data_type: DataTypeId,
    pub content_type: String,
    pub filename: Option<String>,
}

impl crate::runtime::transition::Transition<'_> {
    /// Adds a file's metadata to the instance, with its history event.
    pub(crate) fn add_file(&mut self, id: DataElementId, file: NewFile, size: u64, sha256: &str) {
        let details = serde_json::json!({
            "dataElementId": id.to_string(),
            "dataType": file.data_type.to_string(),
            "size": size,
        });
        self.instance.files.insert(
            id,
            FileElement {
                data_type: file.data_type,
                content_type: file.content_type,
                filename: file.filename,
                size,
                sha256: sha256.to_string(),
                created: self.now,
                created_by: self.actor.clone(),
            },
        );
        self.record(EventType::DataCreated, None, None, Some(details));
    }
}

/// The checks made before the bytes are read and again before the commit: the data type holds
/// files, accepts the content type, may be written now, is not locked, and has room.
fn check_file_writable<'a>(
    loaded: &'a Loaded,
    data_type: &DataTypeId,
    content_type: &str,
) -> Result<&'a DataTypeSpec, Error> {
    check_writable(loaded, data_type, DataKind::Binary)?;
    let Some(spec) = loaded.app.data_type(data_type.as_str()) else {
        // check_writable lets only declared data types hold files.
        return Err(Error::UnknownDataType {
            app: loaded.app.id.clone(),
            data_type: data_type.to_string(),
        });
    };
    check_allowed(spec, content_type)?;
    if let Some(max) = spec.max_count.filter(|&m| m > 0)
        && loaded.instance.file_count(data_type) >= max as usize
    {
        return Err(Error::TooManyFiles {
            data_type: data_type.to_string(),
            max,
        });
    }
    Ok(spec)
}
