//! Copying a whole store from one backend to another (`flyt store copy`): a stopped server's
//! redb store into PostgreSQL, say.
//!
//! Every key is copied byte-exact, in key order, in batches of [`BATCH_KEYS`] keys (each batch
//! one `apply`, so one transaction). Puts overwrite, so a rerun after an interruption simply
//! copies again and ends in the same state. Afterwards both sides are scanned again and
//! compared: the number of keys, the bytes, and a SHA-256 over every key and value (each
//! length-prefixed, in key order). A target holding keys the source lacks fails the check: copy
//! into an empty database.

use sha2::{Digest, Sha256};

use super::backend::{Backend, BackendError, Unit};

/// Keys per write batch.
pub const BATCH_KEYS: usize = 2_000;

/// What a scan of a store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub keys: u64,
    pub bytes: u64,
    /// SHA-256 over every (key, value), hex.
    pub checksum: String,
}

/// What went wrong with a copy.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(
        "a batch of the copy was refused by the target ({0} keys); nothing checks there, so this is a backend fault"
    )]
    Refused(usize),
    #[error(
        "the copy does not match its source: source {source_keys} keys / {source_bytes} bytes / {source_sum}, target {target_keys} keys / {target_bytes} bytes / {target_sum} (a target holding other data must be emptied first)"
    )]
    Mismatch {
        source_keys: u64,
        source_bytes: u64,
        source_sum: String,
        target_keys: u64,
        target_bytes: u64,
        target_sum: String,
    },
}

/// Visits every entry of `backend` in key order, a page at a time.
fn scan(
    backend: &dyn Backend,
    mut visit: impl FnMut(Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), CopyError>,
) -> Result<(), CopyError> {
    let end = vec![u8::MAX; 64];
    let mut start = Vec::new();
    loop {
        let page = backend.range(&start, &end, BATCH_KEYS)?;
        let Some((last, _)) = page.last() else {
            return Ok(());
        };
        start = last.clone();
        start.push(0); // the next key after `last`
        let full = page.len() == BATCH_KEYS;
        visit(page)?;
        if !full {
            return Ok(());
        }
    }
}

/// Counts and checksums a store.
pub fn summarize(backend: &dyn Backend) -> Result<Summary, CopyError> {
    let mut hash = Sha256::new();
    let (mut keys, mut bytes) = (0u64, 0u64);
    scan(backend, |page| {
        for (k, v) in page {
            hash.update((k.len() as u64).to_be_bytes());
            hash.update(&k);
            hash.update((v.len() as u64).to_be_bytes());
            hash.update(&v);
            keys += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        Ok(())
    })?;
    let checksum = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Summary {
        keys,
        bytes,
        checksum,
    })
}

/// Copies every key of `from` into `to`, then verifies both sides match. Returns the summary
/// (the same for both).
pub fn copy_all(from: &dyn Backend, to: &dyn Backend) -> Result<Summary, CopyError> {
    scan(from, |page| {
        let n = page.len();
        let mut unit = Unit::new();
        for (k, v) in page {
            unit.put(k, v);
        }
        match to.apply(&[unit])?.as_slice() {
            [Ok(())] => Ok(()),
            _ => Err(CopyError::Refused(n)),
        }
    })?;
    let source = summarize(from)?;
    let target = summarize(to)?;
    if source != target {
        return Err(CopyError::Mismatch {
            source_keys: source.keys,
            source_bytes: source.bytes,
            source_sum: source.checksum,
            target_keys: target.keys,
            target_bytes: target.bytes,
            target_sum: target.checksum,
        });
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryBackend;

    fn filled(n: u32) -> MemoryBackend {
        let b = MemoryBackend::new();
        let mut unit = Unit::new();
        for i in 0..n {
            unit.put(format!("I{i:08}").into_bytes(), vec![(i % 251) as u8; 10]);
        }
        unit.put(vec![0xFF, 0xFF], b"edge".to_vec());
        b.apply(&[unit]).unwrap();
        b
    }

    #[test]
    fn copies_everything_over_several_pages_and_reruns_to_the_same_state() {
        let (from, to) = (filled(5_001), MemoryBackend::new());
        let first = copy_all(&from, &to).unwrap();
        assert_eq!(first.keys, 5_002);
        assert_eq!(
            copy_all(&from, &to).unwrap(),
            first,
            "a rerun changes nothing"
        );
    }

    #[test]
    fn a_target_with_other_data_fails_the_check() {
        let (from, to) = (filled(10), filled(11));
        assert!(matches!(
            copy_all(&from, &to),
            Err(CopyError::Mismatch { .. })
        ));
    }
}
