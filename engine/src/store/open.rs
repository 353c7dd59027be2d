//! Choosing and opening a backend from configuration.
//!
//! The backend is a deployment choice (`store = "redb"` in the config, `--store sled` on the
//! command line), so it is a plain enum that parses from and prints as a lowercase word. Each
//! disk backend lives at a fixed place inside the data directory, so that switching backends
//! never makes one read the other's files: redb in `dir/flyt.redb`, sled in `dir/sled/`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::backend::{Backend, BackendError};
use super::memory::MemoryBackend;
use super::redb_backend::RedbBackend;
use super::sled_backend::SledBackend;

/// Which storage backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Nothing survives a restart; for tests and demos.
    Memory,
    /// sled 0.34, in `dir/sled/`.
    Sled,
    /// redb 4, in `dir/flyt.redb`.
    Redb,
    /// PostgreSQL at `storage.url` (several nodes on one database; [`super::postgres`]).
    Postgres,
}

impl BackendKind {
    pub const ALL: [BackendKind; 4] = [
        BackendKind::Memory,
        BackendKind::Sled,
        BackendKind::Redb,
        BackendKind::Postgres,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Memory => "memory",
            BackendKind::Sled => "sled",
            BackendKind::Redb => "redb",
            BackendKind::Postgres => "postgres",
        }
    }

    /// Whether data survives a restart.
    pub fn is_persistent(self) -> bool {
        !matches!(self, BackendKind::Memory)
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend name that is not `memory`, `sled`, `redb` or `postgres`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown storage backend `{0}` (expected memory, sled, redb or postgres)")]
pub struct UnknownBackendKind(pub String);

impl FromStr for BackendKind {
    type Err = UnknownBackendKind;

    /// Accepts the lowercase names (and, leniently, any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownBackendKind(s.to_string()))
    }
}

/// Where a backend of this kind keeps its data inside `dir` (`None` for memory): a file for redb,
/// a directory for sled (`None` for postgres too: its data is in the database).
pub fn store_path(kind: BackendKind, dir: &Path) -> Option<PathBuf> {
    match kind {
        BackendKind::Memory | BackendKind::Postgres => None,
        BackendKind::Sled => Some(dir.join("sled")),
        BackendKind::Redb => Some(dir.join("flyt.redb")),
    }
}

/// Opens (creating if needed) the backend of this kind in `dir`, which is created if missing.
/// `cache_bytes` sizes the backend's page cache. Memory ignores both. PostgreSQL needs a
/// connection string: [`open_postgres`].
pub fn open_backend(
    kind: BackendKind,
    dir: &Path,
    cache_bytes: usize,
) -> Result<Arc<dyn Backend>, BackendError> {
    if kind == BackendKind::Postgres {
        return Err(BackendError::Io(
            "the postgres backend is opened with its connection string (storage.url), not a directory"
                .into(),
        ));
    }
    let Some(path) = store_path(kind, dir) else {
        return Ok(Arc::new(MemoryBackend::new()));
    };
    std::fs::create_dir_all(dir).map_err(|e| {
        BackendError::Io(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    Ok(match kind {
        BackendKind::Memory | BackendKind::Postgres => Arc::new(MemoryBackend::new()),
        BackendKind::Sled => Arc::new(SledBackend::open(&path, cache_bytes)?),
        BackendKind::Redb => Arc::new(RedbBackend::open(&path, cache_bytes)?),
    })
}

/// Opens the PostgreSQL backend at `url` (migrating its schema when `migrate`), or says that
/// this build has no PostgreSQL support (the `postgres` feature of `flyt-engine`).
pub fn open_postgres(url: &str, migrate: bool) -> Result<Arc<dyn Backend>, BackendError> {
    #[cfg(feature = "postgres")]
    {
        let options = super::postgres::PostgresOptions::new(url).with_migrate(migrate);
        Ok(Arc::new(super::postgres::PostgresBackend::open(&options)?))
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = (url, migrate);
        Err(BackendError::Io(
            "this flyt was built without PostgreSQL support (the `postgres` feature)".into(),
        ))
    }
}

/// The message of a caught panic, for turning a panic inside a storage library into an error.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_parses_prints_and_serialises_lowercase() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.to_string().parse::<BackendKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<BackendKind>(&json).unwrap(), kind);
        }
        assert_eq!("REDB".parse::<BackendKind>(), Ok(BackendKind::Redb));
        assert!("rocksdb".parse::<BackendKind>().is_err());
        assert!(serde_json::from_str::<BackendKind>("\"Redb\"").is_err());
    }
}
