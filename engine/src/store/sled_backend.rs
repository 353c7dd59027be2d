//! The sled backend: one tree, one sled transaction per batch, then an explicit flush.
//!
//! Why the flush: a sled transaction is atomic and isolated but *not durable* when it returns.
//! sled writes its log asynchronously and only fsyncs from a background thread every 500 ms, so
//! a commit acknowledged without `Db::flush` could vanish in a crash. `apply` therefore flushes
//! (one fsync for the whole batch, which is what group commit amortises) before returning.
//!
//! The background flusher is left ON. Turning it off (`flush_every_ms(None)`) would be safe for
//! durability, since every write path here flushes explicitly, but in sled 0.34 the same thread
//! is the only caller of segment garbage collection (`PageCache::attempt_gc`): without it the
//! log file would never be compacted.
//!
//! sled may run a transaction closure more than once (on a conflict with a concurrent
//! transaction), so the closure in `apply` only reads and writes through the transactional tree
//! and builds its result from scratch on every run.
//!
//! Opening is defensive because sled itself is not: given a data file it cannot recover anything
//! from (say, random bytes), sled 0.34 silently starts an empty store and overwrites the file. So
//! before sled sees the directory we check that an existing `db` file has its `conf` and at least
//! one valid sled segment header, and after opening we require the marker this backend writes
//! into a private tree when it creates a store. Either failing is [`BackendError::Corrupt`] and
//! (for the first check) the file is left untouched. (The price: a process killed during the
//! very first open, after sled created its files but before the marker was flushed, leaves an
//! empty store that later opens refuse as `Corrupt`; delete it.) A lock held by another open (in
//! this or another process) is [`BackendError::Locked`].
//!
//! What this cannot catch: sled recovers a log damaged in the middle by truncating it at the
//! first bad message, silently. The contract test `damaged_store_does_not_open_empty` shows it
//! (4 KiB of noise in the middle of the file: sled opens with half the entries). redb detects the
//! same damage by checksum. Prefer redb where that matters.
//!
//! Any storage error while applying a batch poisons the backend: sled may already show the
//! batch in memory although it is not durable, so every later call fails until the process
//! reopens the store (fail-stop; sled recovers the durable state on open).

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree, UnabortableTransactionError,
};

use super::backend::{Backend, BackendError, CheckFailed, Entry, Unit, Write, first_failed_check};
use super::open::panic_message;

const NAME: &str = "sled";

/// The tree holding this backend's own bookkeeping (not part of the key space).
const META_TREE: &[u8] = b"flyt-meta";
/// Written into [`META_TREE`] when this backend creates a store.
const MARKER_KEY: &[u8] = b"created-by";
const MARKER_VALUE: &[u8] = b"flyt";

/// sled 0.34's default segment size (we never change it, and sled refuses to open a store whose
/// `conf` says otherwise) and the length of a segment header.
const SEGMENT_SIZE: u64 = 512 * 1024;
const SEGMENT_HEADER_LEN: usize = 20;

/// How long `close` waits for sled's background threads to let go of the file lock.
const UNLOCK_WAIT: Duration = Duration::from_secs(5);

/// A sled database directory.
pub struct SledBackend {
    /// `None` once closed.
    db: RwLock<Option<sled::Db>>,
    /// Set by a storage error in `apply`; every later call fails with it.
    failed: Mutex<Option<BackendError>>,
    dir: PathBuf,
    path: String,
}

impl fmt::Debug for SledBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledBackend")
            .field("path", &self.path)
            .field("open", &self.db.read().is_some())
            .field("failed", &*self.failed.lock())
            .finish()
    }
}

/// What `dir` holds before sled is allowed to touch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Nothing, or an empty data file: sled may create a store.
    Nothing,
    /// A data file that looks like sled's.
    Store,
}

impl SledBackend {
    /// Opens the sled store in directory `path`, creating it if missing. `cache_bytes` is sled's
    /// page cache capacity.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, BackendError> {
        let shown = path.display().to_string();
        let found = inspect(path, &shown)?;
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(u64::try_from(cache_bytes).unwrap_or(u64::MAX));
        let db = match catch_unwind(AssertUnwindSafe(|| config.open())) {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return Err(open_error(&shown, e)),
            Err(panic) => {
                return Err(BackendError::Corrupt {
                    path: shown,
                    backend: NAME,
                    detail: format!("sled panicked opening it: {}", panic_message(&*panic)),
                });
            }
        };
        let backend = Self {
            db: RwLock::new(Some(db)),
            failed: Mutex::new(None),
            dir: path.to_path_buf(),
            path: shown,
        };
        if let Err(e) = backend.check_marker(found) {
            // Release the lock before reporting, so the caller may inspect or move the files.
            let _ = backend.close();
            return Err(e);
        }
        Ok(backend)
    }

    /// A store we created carries our marker; a new one gets it (durably) now.
    fn check_marker(&self, found: Found) -> Result<(), BackendError> {
        self.with_db(|db| {
            let has_meta = db
                .tree_names()
                .iter()
                .any(|name| name.as_ref() == META_TREE);
            let marked = if has_meta {
                let meta = db.open_tree(META_TREE).map_err(|e| self.error(e))?;
                meta.get(MARKER_KEY)
                    .map_err(|e| self.error(e))?
                    .is_some_and(|v| v.as_ref() == MARKER_VALUE)
            } else {
                false
            };
            match (found, marked) {
                (_, true) => Ok(()),
                (Found::Nothing, false) => {
                    let meta = db.open_tree(META_TREE).map_err(|e| self.error(e))?;
                    meta.insert(MARKER_KEY, MARKER_VALUE)
                        .map_err(|e| self.error(e))?;
                    db.flush().map_err(|e| self.error(e))?;
                    Ok(())
                }
                (Found::Store, false) => Err(BackendError::Corrupt {
                    path: self.path.clone(),
                    backend: NAME,
                    detail: format!(
                        "sled recovered no flyt store from the existing data file (recovered: {})",
                        db.was_recovered()
                    ),
                }),
            }
        })
    }

    /// Runs `f` on the open, healthy database, turning a panic inside sled into an error.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&sled::Db) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        self.with_db_or_poison(false, f)
    }

    /// [`with_db`](Self::with_db); with `writing`, a panic also poisons the backend (a
    /// transaction interrupted half way may have left memory ahead of the disk) and then goes
    /// on unwinding, to the group committer, which stops: the one panic policy (see `group`).
    fn with_db_or_poison<T>(
        &self,
        writing: bool,
        f: impl FnOnce(&sled::Db) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        if let Some(e) = self.failed.lock().clone() {
            return Err(e);
        }
        let guard = self.db.read();
        let db = guard.as_ref().ok_or_else(|| {
            BackendError::Io(format!("the sled store at {} is closed", self.path))
        })?;
        match catch_unwind(AssertUnwindSafe(|| f(db))) {
            Ok(result) => result,
            Err(panic) => {
                let e = BackendError::Io(format!(
                    "sled panicked on {}: {}",
                    self.path,
                    panic_message(&*panic)
                ));
                if writing {
                    self.poison(e);
                    std::panic::resume_unwind(panic);
                }
                Err(e)
            }
        }
    }

    fn error(&self, e: sled::Error) -> BackendError {
        sled_error(&self.path, e)
    }

    /// Records a failure that leaves memory ahead of the disk; see the module doc.
    fn poison(&self, e: BackendError) -> BackendError {
        tracing::error!(path = %self.path, error = %e, "sled: storage error while applying a batch; the store refuses further use until reopened");
        let mut failed = self.failed.lock();
        if failed.is_none() {
            *failed = Some(BackendError::Io(format!(
                "the sled store at {} failed earlier and must be reopened: {e}",
                self.path
            )));
        }
        e
    }

    fn apply_in(
        &self,
        db: &sled::Db,
        units: &[Unit],
    ) -> Result<Vec<Result<(), CheckFailed>>, BackendError> {
        let tree: &sled::Tree = db;
        let result = tree.transaction(
            |tx: &TransactionalTree| -> ConflictableTransactionResult<Vec<Result<(), CheckFailed>>, BackendError> {
                // Everything the closure produces is built here, from scratch, on every run.
                let mut outcomes = Vec::with_capacity(units.len());
                for unit in units {
                    // `first_failed_check` speaks BackendError; keep sled's own error aside so a
                    // conflict still reaches sled (which retries) rather than aborting the batch.
                    let mut tx_error: Option<UnabortableTransactionError> = None;
                    let failed = first_failed_check(unit, |c| match tx.get(c.key()) {
                        Ok(value) => Ok(c.holds(value.as_deref())),
                        Err(e) => {
                            tx_error = Some(e);
                            Err(BackendError::Io("sled transactional read failed".to_string()))
                        }
                    });
                    let failed = match failed {
                        Ok(failed) => failed,
                        Err(e) => {
                            return Err(match tx_error {
                                Some(tx_error) => tx_error.into(),
                                None => ConflictableTransactionError::Abort(e),
                            });
                        }
                    };
                    if let Some(check) = failed {
                        outcomes.push(Err(CheckFailed { check }));
                        continue;
                    }
                    for write in &unit.writes {
                        match write {
                            Write::Put(key, value) => {
                                super::backend::before_write(key);
                                tx.insert(key.as_slice(), value.as_slice())?;
                            }
                            Write::Delete(key) => {
                                tx.remove(key.as_slice())?;
                            }
                        }
                    }
                    outcomes.push(Ok(()));
                }
                Ok(outcomes)
            },
        );
        let outcomes = match result {
            Ok(outcomes) => outcomes,
            // Aborted: nothing was applied.
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(self.poison(self.error(e))),
        };
        // The transaction is applied in memory; make it durable before anyone hears "committed".
        db.flush().map_err(|e| self.poison(self.error(e)))?;
        Ok(outcomes)
    }
}

impl Backend for SledBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.with_db(|db| Ok(db.get(key).map_err(|e| self.error(e))?.map(|v| v.to_vec())))
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        self.with_db(|db| {
            let mut out = Vec::new();
            for entry in db.range(start..end) {
                let (k, v) = entry.map_err(|e| self.error(e))?;
                out.push((k.to_vec(), v.to_vec()));
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn apply(&self, units: &[Unit]) -> Result<Vec<Result<(), CheckFailed>>, BackendError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        self.with_db_or_poison(true, |db| self.apply_in(db, units))
    }

    /// Flushes, closes the database and waits until sled's threads have released the file lock,
    /// so that the directory can be opened again right away. Later calls return `Io` errors.
    fn close(&self) -> Result<(), BackendError> {
        let Some(db) = self.db.write().take() else {
            return Ok(());
        };
        let flushed = if self.failed.lock().is_some() {
            // Do not make a poisoned state durable.
            Ok(())
        } else {
            db.flush().map(|_| ()).map_err(|e| self.error(e))
        };
        drop(db);
        wait_for_unlock(&self.dir.join("db"));
        flushed
    }
}

impl Drop for SledBackend {
    /// Closes (flush, release the lock) if `close` was not called, so that dropping the last
    /// handle also frees the directory for the next open.
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(path = %self.path, error = %e, "sled: closing on drop failed");
        }
    }
}

/// Maps a sled error. sled reports a held lock as an `Io` error of kind `Other` whose message
/// says "could not acquire lock" (wrapping the OS's WouldBlock).
fn sled_error(path: &str, e: sled::Error) -> BackendError {
    match e {
        sled::Error::Io(io) => {
            let text = io.to_string();
            if io.kind() == io::ErrorKind::WouldBlock || text.contains("could not acquire lock") {
                BackendError::Locked {
                    path: path.to_string(),
                }
            } else {
                BackendError::Io(format!("sled store at {path}: {text}"))
            }
        }
        sled::Error::Corruption { at, .. } => BackendError::Corrupt {
            path: path.to_string(),
            backend: NAME,
            detail: match at {
                Some(at) => format!("corruption detected at {at}"),
                None => "corruption detected".to_string(),
            },
        },
        other => BackendError::Io(format!("sled store at {path}: {other}")),
    }
}

/// Errors of `Config::open`. On top of [`sled_error`]: `Unsupported` at open means a `conf` that
/// is unreadable or from another sled version or configuration, i.e. not a store we can read.
fn open_error(path: &str, e: sled::Error) -> BackendError {
    match e {
        sled::Error::Unsupported(detail) | sled::Error::ReportableBug(detail) => {
            BackendError::Corrupt {
                path: path.to_string(),
                backend: NAME,
                detail,
            }
        }
        other => sled_error(path, other),
    }
}

/// Looks at `dir` without changing it: refuses anything sled would silently turn into an empty
/// store.
fn inspect(dir: &Path, shown: &str) -> Result<Found, BackendError> {
    let corrupt = |detail: String| BackendError::Corrupt {
        path: shown.to_string(),
        backend: NAME,
        detail,
    };
    let io_error = |what: &str, e: io::Error| BackendError::Io(format!("{what} {shown}: {e}"));
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(corrupt(
                "a file is where the sled directory should be".into(),
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => return Err(io_error("cannot inspect", e)),
    }
    let conf_exists = dir.join("conf").exists();
    let data = dir.join("db");
    let len = match std::fs::metadata(&data) {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => return Err(corrupt("`db` is not a file".into())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if conf_exists {
                return Err(corrupt(
                    "`conf` exists but the data file `db` is missing".into(),
                ));
            }
            return Ok(Found::Nothing);
        }
        Err(e) => return Err(io_error("cannot inspect", e)),
    };
    if len == 0 {
        return Ok(Found::Nothing);
    }
    if !conf_exists {
        return Err(corrupt("the data file `db` has no `conf` beside it".into()));
    }
    let mut file = File::open(&data).map_err(|e| io_error("cannot read", e))?;
    if has_valid_segment(&mut file, len).map_err(|e| io_error("cannot read", e))? {
        Ok(Found::Store)
    } else {
        Err(corrupt(
            "the data file `db` has no valid sled segment header".into(),
        ))
    }
}

/// Whether any segment of a sled 0.34 log starts with a header whose CRC checks out. sled recovers
/// only from such segments; a file without one holds nothing sled could read.
fn has_valid_segment(file: &mut File, len: u64) -> io::Result<bool> {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    let mut offset = 0u64;
    while offset + SEGMENT_HEADER_LEN as u64 <= len {
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut header)?;
        if segment_header_ok(&header) {
            return Ok(true);
        }
        offset += SEGMENT_SIZE;
    }
    Ok(false)
}

/// sled's segment header: a CRC32 (little endian, inverted) of the 16 bytes after it.
fn segment_header_ok(header: &[u8; SEGMENT_HEADER_LEN]) -> bool {
    let stored = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) ^ 0xFFFF_FFFF;
    stored == crc32(&header[4..])
}

/// CRC-32 (IEEE), as `crc32fast` computes it for sled.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Waits (briefly) until no one holds the lock on sled's data file. Dropping the last `Db` does
/// not release it synchronously: sled's I/O threads hold the file until they wind down (in an
/// experiment, about one reopen in 300 right after a drop still found the lock held).
// `File::try_lock` is Rust 1.89; the workspace's `rust-version` is stale (redb 4.6 needs 1.90).
#[allow(clippy::incompatible_msrv)]
fn wait_for_unlock(data: &Path) {
    let deadline = Instant::now() + UNLOCK_WAIT;
    loop {
        let Ok(file) = File::open(data) else {
            return;
        };
        match file.try_lock() {
            // Dropping `file` releases our probe lock.
            Ok(()) => return,
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::warn!(path = %data.display(), "sled: the data file is still locked after close");
                return;
            }
            // Locking unsupported here: nothing to wait for.
            Err(std::fs::TryLockError::Error(_)) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_fresh_store_has_a_valid_first_segment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sled");
        let backend = SledBackend::open(&path, 1 << 20).unwrap();
        backend.close().unwrap();
        let data = path.join("db");
        let len = std::fs::metadata(&data).unwrap().len();
        assert!(has_valid_segment(&mut File::open(&data).unwrap(), len).unwrap());
        assert_eq!(inspect(&path, "x").unwrap(), Found::Store);
    }
}
