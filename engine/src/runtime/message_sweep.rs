//! The expiry sweep of buffered messages: a message past its `timeToLive` is never delivered
//! (`take_buffered` and `deliver_buffered` skip it) and is not listed; this deletes it from the
//! store. The job worker runs a pass at most once per [`SWEEP_EVERY`], each pass one page of the
//! `b` family from where the last one stopped (starting over after the last page), so every
//! buffered message is looked at within (buffered messages / page) passes however many there
//! are, and one pass costs one bounded range read and, if any expired, one commit.

use super::{Error, Runtime};
use crate::store::{CommitError, Txn};
use std::time::Duration;

/// How often the job worker sweeps a page.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Buffered messages looked at per pass.
pub const SWEEP_PAGE: usize = 256;

/// Where the sweep goes on from: the key after the last one looked at (empty: the start).
#[derive(Debug, Default)]
pub struct BufferedSweep {
    from: Vec<u8>,
}

impl BufferedSweep {
    /// One pass: deletes the expired messages of the next `page` buffered messages in one
    /// commit; returns how many it deleted.
    pub async fn pass(&mut self, rt: &Runtime, page: usize) -> Result<usize, Error> {
        let now = rt.inner.clock.now();
        let found = rt.inner.store.buffered_page(&self.from, page)?;
        self.from = match found.last() {
            Some((key, _)) if found.len() == page => {
                let mut next = key.clone();
                next.push(0);
                next
            }
            _ => Vec::new(),
        };
        let mut txn = Txn::new();
        let mut expired = 0;
        for (_, message) in found.iter().filter(|(_, m)| m.expires <= now) {
            // An expired message is never taken, so deleting it needs no check.
            txn.delete_buffered(message);
            expired += 1;
        }
        if expired == 0 {
            return Ok(0);
        }
        match rt.inner.store.commit(txn).await {
            Ok(()) => Ok(expired),
            Err(CommitError::Conflict(_)) => Ok(0),
            Err(CommitError::Store(e)) => Err(Error::Store(e)),
        }
    }
}
