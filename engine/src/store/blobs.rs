//! Blobs: the bytes of binary data elements (attachments, PDF receipts), as files beside the
//! key-value store.
//!
//! Layout under the blob root (`{data_dir}/store/blobs` for the disk backends):
//!
//! | path                       | what                                                      |
//! |----------------------------|-----------------------------------------------------------|
//! | `tmp/{uuid}`               | a blob being received; removed when dropped unfinished    |
//! | `{instance}/{element}`     | the bytes of one data element, named by the two ids       |
//!
//! The bytes never sit in memory whole: a [`Staging`] file is written chunk by chunk while it
//! is hashed (SHA-256) and counted, then fsynced. [`Blobs::place`] renames it to its content
//! path and fsyncs the directory, **before** the commit that references it; after a crash in
//! between, the file is unreferenced and [`Blobs::sweep`] removes it at start-up. Deleting
//! commits first and removes the file after, so a crash there too leaves only an unreferenced
//! file, never a reference without its bytes.
//!
//! The memory backend keeps its blobs in a private directory under the system's temporary
//! directory, removed when the last clone of the store is dropped: the same code path as the
//! disk backends, and a 25 MB attachment stays out of memory in tests and benchmarks too.

use crate::ids::{DataElementId, InstanceId};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// How many leading bytes of a blob are kept in memory for the content sniffing.
pub const HEAD_BYTES: usize = 8 * 1024;

/// Where blobs live.
#[derive(Debug)]
pub struct Blobs {
    root: PathBuf,
    /// Removed with everything in it when dropped (the memory backend's blobs).
    temporary: bool,
}

impl Blobs {
    /// Blobs under `root` (created when the first blob is written).
    pub fn at(root: PathBuf) -> Blobs {
        Blobs {
            root,
            temporary: false,
        }
    }

    /// Blobs in a new private directory under the system's temporary directory, removed on drop.
    pub fn temporary() -> Blobs {
        let root = std::env::temp_dir().join(format!("flyt-blobs-{}", uuid::Uuid::new_v4()));
        Blobs {
            root,
            temporary: true,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn staging_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn instance_dir(&self, instance: InstanceId) -> PathBuf {
        self.root.join(instance.to_string())
    }

    /// The content path of one element's bytes.
    pub fn path(&self, instance: InstanceId, element: DataElementId) -> PathBuf {
        self.instance_dir(instance).join(element.to_string())
    }

    /// Starts receiving a blob into a new temporary file.
    pub async fn stage(&self) -> io::Result<Staging> {
        let dir = self.staging_dir();
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(uuid::Uuid::new_v4().to_string());
        let file = tokio::fs::File::create(&path).await?;
        Ok(Staging {
            file: Some(file),
            path: Some(path),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
        })
    }

    /// Stages bytes already in memory (a service task's output, e.g. a PDF).
    pub async fn stage_bytes(&self, bytes: &[u8]) -> io::Result<Staged> {
        let mut staging = self.stage().await?;
        staging.write(bytes).await?;
        staging.finish().await
    }

    /// Moves a staged blob to its content path, durably (the rename and its directory are
    /// fsynced). Call before the commit that references it.
    pub async fn place(
        &self,
        mut staged: Staged,
        instance: InstanceId,
        element: DataElementId,
    ) -> io::Result<()> {
        let dir = self.instance_dir(instance);
        let target = self.path(instance, element);
        let Some(from) = staged.path.take() else {
            return Err(io::Error::other("the staged blob was already placed"));
        };
        let result = tokio::task::spawn_blocking(move || -> io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            std::fs::rename(&from, &target).inspect_err(|_| {
                let _ = std::fs::remove_file(&from);
            })?;
            sync_dir(&dir)?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
            Ok(())
        })
        .await;
        result.map_err(|e| io::Error::other(format!("placing a blob panicked: {e}")))?
    }

    /// Opens an element's bytes for reading.
    pub async fn open(
        &self,
        instance: InstanceId,
        element: DataElementId,
    ) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path(instance, element)).await
    }

    /// Removes an element's bytes (after the commit that removed its reference). A missing file
    /// is not an error.
    pub fn remove(&self, instance: InstanceId, element: DataElementId) -> io::Result<()> {
        match std::fs::remove_file(self.path(instance, element)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes every blob of an instance (after the commit that deleted it).
    pub fn remove_instance(&self, instance: InstanceId) -> io::Result<()> {
        match std::fs::remove_dir_all(self.instance_dir(instance)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes what no committed instance references: every staging file, and every element
    /// file whose instance does not list it (`referenced(instance)` gives the ids an instance
    /// lists, `None` when the instance does not exist). Run at start-up, before any upload.
    /// Returns how many files it removed.
    pub fn sweep(
        &self,
        mut referenced: impl FnMut(InstanceId) -> io::Result<Option<BTreeSet<DataElementId>>>,
    ) -> io::Result<usize> {
        let mut removed = 0;
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "tmp" {
                removed += clear_dir(&path)?;
                continue;
            }
            let Ok(instance) = name.parse::<InstanceId>() else {
                continue; // not ours: left alone
            };
            let Some(keep) = referenced(instance)? else {
                removed += clear_dir(&path)?;
                std::fs::remove_dir(&path)?;
                continue;
            };
            for file in std::fs::read_dir(&path)? {
                let file = file?;
                let known = file
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<DataElementId>().ok())
                    .is_some_and(|id| keep.contains(&id));
                if !known {
                    std::fs::remove_file(file.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

impl Drop for Blobs {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn clear_dir(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
        removed += 1;
    }
    Ok(removed)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// A blob being received: a temporary file, hashed and counted as it is written. Dropped
/// before [`finish`](Staging::finish), its file is removed.
#[derive(Debug)]
pub struct Staging {
    file: Option<tokio::fs::File>,
    path: Option<PathBuf>,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

impl Staging {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("the staging file is closed"));
        };
        file.write_all(chunk).await?;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        Ok(())
    }

    /// Flushes and fsyncs the file; the blob is then ready to be placed.
    pub async fn finish(mut self) -> io::Result<Staged> {
        let Some(mut file) = self.file.take() else {
            return Err(io::Error::other("the staging file is closed"));
        };
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let hasher = std::mem::take(&mut self.hasher);
        Ok(Staged {
            path: self.path.take(),
            sha256: hex(&hasher.finalize()),
            size: self.size,
            head: std::mem::take(&mut self.head),
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A received, fsynced blob not yet placed. Dropped unplaced, its file is removed.
#[derive(Debug)]
pub struct Staged {
    path: Option<PathBuf>,
    pub sha256: String,
    pub size: u64,
    /// The first [`HEAD_BYTES`] bytes, for content sniffing.
    pub head: Vec<u8>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn staged_then_placed_then_swept_when_unreferenced() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::at(dir.path().join("blobs"));
        let (instance, element) = (InstanceId::new_random(), DataElementId::new_random());
        let mut staging = blobs.stage().await.unwrap();
        staging.write(b"hello ").await.unwrap();
        staging.write(b"world").await.unwrap();
        let staged = staging.finish().await.unwrap();
        assert_eq!(staged.size, 11);
        assert_eq!(
            staged.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(staged.head, b"hello world");
        blobs.place(staged, instance, element).await.unwrap();
        assert_eq!(
            std::fs::read(blobs.path(instance, element)).unwrap(),
            b"hello world"
        );
        assert_eq!(
            std::fs::read_dir(blobs.staging_dir()).unwrap().count(),
            0,
            "placing leaves no staging file"
        );

        // Referenced: kept. Unreferenced (a crash before the commit): swept.
        let keep: BTreeSet<_> = [element].into();
        assert_eq!(blobs.sweep(|_| Ok(Some(keep.clone()))).unwrap(), 0);
        assert!(blobs.path(instance, element).exists());
        assert_eq!(blobs.sweep(|_| Ok(Some(BTreeSet::new()))).unwrap(), 1);
        assert!(!blobs.path(instance, element).exists());
    }

    #[tokio::test]
    async fn a_dropped_staging_file_is_removed_and_a_gone_instance_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::at(dir.path().to_path_buf());
        let mut staging = blobs.stage().await.unwrap();
        staging.write(&[0u8; 1000]).await.unwrap();
        drop(staging);
        assert_eq!(std::fs::read_dir(blobs.staging_dir()).unwrap().count(), 0);

        let instance = InstanceId::new_random();
        let staged = blobs.stage_bytes(b"x").await.unwrap();
        blobs
            .place(staged, instance, DataElementId::new_random())
            .await
            .unwrap();
        // A leftover staging file from a crash mid-upload.
        std::fs::write(blobs.staging_dir().join("leftover"), b"partial").unwrap();
        assert_eq!(blobs.sweep(|_| Ok(None)).unwrap(), 2);
        assert!(!blobs.instance_dir(instance).exists());
    }

    #[test]
    fn temporary_blobs_are_removed_on_drop() {
        let blobs = Blobs::temporary();
        std::fs::create_dir_all(blobs.root()).unwrap();
        let root = blobs.root().to_path_buf();
        drop(blobs);
        assert!(!root.exists());
    }
}
