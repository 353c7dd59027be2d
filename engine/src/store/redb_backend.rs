//! The redb backend: one file, one table, one write transaction (and one fsync) per batch.
//!
//! redb is a copy-on-write B-tree with real ACID transactions, so the backend contract maps onto
//! it directly: `apply` opens ONE write transaction, evaluates each unit's checks against the
//! open table (so later units see earlier units' writes), applies the writes of the units that
//! pass, and commits once with `Durability::Immediate` (an fsync before `commit` returns). If
//! anything fails before the commit, the transaction is dropped, which aborts it: nothing of the
//! batch is applied, as the contract requires.
//!
//! Opening is where care is needed:
//! - a file that is not a redb database, or whose pages fail their checksums, must fail to open
//!   with [`BackendError::Corrupt`]; it must never be replaced by a fresh empty store. redb's
//!   plain open trusts a cleanly closed file and may *panic* on one altered outside redb, so we
//!   open with `set_check_integrity_on_open(true)` (every committed page's checksum is verified:
//!   roughly 0.2 s per 300 MB on a warm page cache) and also catch any panic of the open. The
//!   one exception is a file provably untouched since flyt closed it cleanly (its clean-close
//!   stamp, see [`super::clean_close`]): redb's plain open trusts it, so that start-up does not
//!   grow with the store;
//! - a database already open (in this process or another) is [`BackendError::Locked`].
//!
//! `close` really releases the file (redb's `Database::close`), so the same path can be opened
//! again in the same process, which is what restarts in tests and hot reloads need.

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;
use redb::{
    Builder, CommitError, Database, DatabaseError, Durability, ReadableDatabase, ReadableTable,
    SetDurabilityError, StorageError, TableDefinition, TableError, TransactionError,
};

use super::backend::{Backend, BackendError, CheckFailed, Entry, Unit, Write, first_failed_check};
use super::open::panic_message;

/// The one table everything lives in; flyt's key layout does the namespacing.
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("flyt");

const NAME: &str = "redb";

/// A redb database file.
pub struct RedbBackend {
    /// `None` once closed.
    db: RwLock<Option<Database>>,
    path: String,
    /// The file, for its clean-close stamp.
    file: PathBuf,
}

impl fmt::Debug for RedbBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbBackend")
            .field("path", &self.path)
            .field("open", &self.db.read().is_some())
            .finish()
    }
}

impl RedbBackend {
    /// Opens the database file at `path`, creating it if it is missing or empty. `cache_bytes`
    /// is redb's page cache size.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, BackendError> {
        let shown = path.display().to_string();
        let mut builder = Builder::new();
        builder.set_cache_size(cache_bytes);
        // Taken (and removed) before redb writes to the file.
        let untouched = super::clean_close::take(path);
        builder.set_check_integrity_on_open(!untouched);
        let repair_path = shown.clone();
        let logged = AtomicBool::new(false);
        builder.set_repair_callback(move |_session| {
            // Called repeatedly during a repair; log the start only.
            if !logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(path = %repair_path, "redb: repairing the store after an unclean shutdown");
            }
        });
        let db = match catch_unwind(AssertUnwindSafe(|| builder.create(path))) {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return Err(open_error(&shown, e)),
            Err(panic) => {
                return Err(BackendError::Corrupt {
                    path: shown,
                    backend: NAME,
                    detail: format!("redb panicked opening it: {}", panic_message(&*panic)),
                });
            }
        };
        let backend = Self {
            db: RwLock::new(Some(db)),
            path: shown,
            file: path.to_path_buf(),
        };
        backend.create_table()?;
        Ok(backend)
    }

    /// Creates the table if it does not exist yet, so that reads never meet a missing table.
    fn create_table(&self) -> Result<(), BackendError> {
        let guard = self.db.read();
        let db = self.db(&guard)?;
        let exists = {
            let tx = db.begin_read().map_err(|e| self.tx_error(e))?;
            match tx.open_table(TABLE) {
                Ok(_) => true,
                Err(TableError::TableDoesNotExist(_)) => false,
                Err(e) => return Err(self.table_error(e)),
            }
        };
        if !exists {
            let tx = db.begin_write().map_err(|e| self.tx_error(e))?;
            tx.open_table(TABLE).map_err(|e| self.table_error(e))?;
            tx.commit().map_err(|e| self.commit_error(e))?;
        }
        Ok(())
    }

    fn db<'a>(&self, guard: &'a Option<Database>) -> Result<&'a Database, BackendError> {
        guard
            .as_ref()
            .ok_or_else(|| BackendError::Io(format!("the redb store at {} is closed", self.path)))
    }

    fn apply_in(
        &self,
        db: &Database,
        units: &[Unit],
    ) -> Result<Vec<Result<(), CheckFailed>>, BackendError> {
        let mut tx = db.begin_write().map_err(|e| self.tx_error(e))?;
        // The default, but the contract depends on it, so say it.
        tx.set_durability(Durability::Immediate)
            .map_err(|e| self.durability_error(e))?;
        let mut outcomes = Vec::with_capacity(units.len());
        {
            let mut table = tx.open_table(TABLE).map_err(|e| self.table_error(e))?;
            for unit in units {
                let failed = first_failed_check(unit, |c| {
                    let value = table.get(c.key()).map_err(|e| self.storage_error(e))?;
                    Ok(c.holds(value.as_ref().map(|v| v.value())))
                })?;
                if let Some(check) = failed {
                    outcomes.push(Err(CheckFailed { check }));
                    continue;
                }
                for write in &unit.writes {
                    match write {
                        Write::Put(key, value) => {
                            super::backend::before_write(key);
                            table
                                .insert(key.as_slice(), value.as_slice())
                                .map_err(|e| self.storage_error(e))?;
                        }
                        Write::Delete(key) => {
                            table
                                .remove(key.as_slice())
                                .map_err(|e| self.storage_error(e))?;
                        }
                    }
                }
                outcomes.push(Ok(()));
            }
        }
        // An early return above drops `tx`, which aborts it: nothing of the batch is applied.
        tx.commit().map_err(|e| self.commit_error(e))?;
        Ok(outcomes)
    }

    fn range_in(
        &self,
        db: &Database,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        let tx = db.begin_read().map_err(|e| self.tx_error(e))?;
        let table = match tx.open_table(TABLE) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.table_error(e)),
        };
        let mut out = Vec::new();
        for entry in table
            .range::<&[u8]>(start..end)
            .map_err(|e| self.storage_error(e))?
        {
            let (k, v) = entry.map_err(|e| self.storage_error(e))?;
            out.push((k.value().to_vec(), v.value().to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Runs a read on the open database, turning a panic inside redb into an error rather than
    /// unwinding through the request handler (a read changes nothing, so serving may go on).
    fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let guard = self.db.read();
        let db = self.db(&guard)?;
        match catch_unwind(AssertUnwindSafe(|| f(db))) {
            Ok(result) => result,
            Err(panic) => Err(BackendError::Io(format!(
                "redb panicked on {}: {}",
                self.path,
                panic_message(&*panic)
            ))),
        }
    }

    fn storage_error(&self, e: StorageError) -> BackendError {
        storage_error(&self.path, e)
    }

    fn tx_error(&self, e: TransactionError) -> BackendError {
        match e {
            TransactionError::Storage(e) => self.storage_error(e),
            other => BackendError::Io(format!("redb transaction on {}: {other}", self.path)),
        }
    }

    fn table_error(&self, e: TableError) -> BackendError {
        match e {
            TableError::Storage(e) => self.storage_error(e),
            // A table of another type under our name: not a flyt store.
            TableError::TableTypeMismatch { .. }
            | TableError::TableIsMultimap(_)
            | TableError::TypeDefinitionChanged { .. } => BackendError::Corrupt {
                path: self.path.clone(),
                backend: NAME,
                detail: e.to_string(),
            },
            other => BackendError::Io(format!("redb table on {}: {other}", self.path)),
        }
    }

    fn commit_error(&self, e: CommitError) -> BackendError {
        match e {
            CommitError::Storage(e) => self.storage_error(e),
            other => BackendError::Io(format!("redb commit on {}: {other}", self.path)),
        }
    }

    fn durability_error(&self, e: SetDurabilityError) -> BackendError {
        BackendError::Io(format!("redb durability on {}: {e}", self.path))
    }
}

/// Maps an open error: the lock → `Locked`; not redb, damaged, or an unreadable format version
/// → `Corrupt`; the rest (permissions, a directory in the way, a full disk) → `Io`.
fn open_error(path: &str, e: DatabaseError) -> BackendError {
    match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            BackendError::Locked {
                path: path.to_string(),
            }
        }
        DatabaseError::UpgradeRequired(version) => BackendError::Corrupt {
            path: path.to_string(),
            backend: NAME,
            detail: format!(
                "redb file format version {version} needs a manual upgrade with an older redb"
            ),
        },
        DatabaseError::Storage(e) => storage_error(path, e),
        other => BackendError::Io(format!("cannot open the redb store at {path}: {other}")),
    }
}

fn storage_error(path: &str, e: StorageError) -> BackendError {
    match e {
        StorageError::Corrupted(detail) => BackendError::Corrupt {
            path: path.to_string(),
            backend: NAME,
            detail,
        },
        // redb reports a file without its magic number ("Not a redb database") as InvalidData.
        StorageError::Io(e) if e.kind() == io::ErrorKind::InvalidData => BackendError::Corrupt {
            path: path.to_string(),
            backend: NAME,
            detail: e.to_string(),
        },
        StorageError::Io(e) if e.kind() == io::ErrorKind::WouldBlock => BackendError::Locked {
            path: path.to_string(),
        },
        other => BackendError::Io(format!("redb store at {path}: {other}")),
    }
}

impl Backend for RedbBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(|e| self.tx_error(e))?;
            let table = match tx.open_table(TABLE) {
                Ok(table) => table,
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(self.table_error(e)),
            };
            let value = table.get(key).map_err(|e| self.storage_error(e))?;
            Ok(value.map(|v| v.value().to_vec()))
        })
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        self.with_db(|db| self.range_in(db, start, end, limit))
    }

    fn apply(&self, units: &[Unit]) -> Result<Vec<Result<(), CheckFailed>>, BackendError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        // Not `with_db`: a panic while writing must reach the group committer, which stops
        // (the one panic policy, see `group`). redb aborts the unfinished write transaction as
        // the panic unwinds, so nothing of the batch is applied.
        let guard = self.db.read();
        let db = self.db(&guard)?;
        self.apply_in(db, units)
    }

    fn compact(&self) -> Result<(), BackendError> {
        // The write lock waits for every read and commit in progress, and keeps new ones out.
        let mut guard = self.db.write();
        let db = guard.as_mut().ok_or_else(|| {
            BackendError::Io(format!("the redb store at {} is closed", self.path))
        })?;
        // Each pass moves pages towards the start of the file and truncates what is left.
        while db.compact().map_err(|e| {
            BackendError::Io(format!("compacting the redb store at {}: {e}", self.path))
        })? {}
        Ok(())
    }

    /// Closes the database and releases its file lock. Later calls return `Io` errors.
    fn close(&self) -> Result<(), BackendError> {
        let Some(db) = self.db.write().take() else {
            return Ok(());
        };
        db.close().map_err(|e| {
            BackendError::Io(format!("closing the redb store at {}: {e}", self.path))
        })?;
        super::clean_close::write(&self.file);
        Ok(())
    }
}
