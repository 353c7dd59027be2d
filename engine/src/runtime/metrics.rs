//! Counters for `/metrics`: cheap atomics, read by the API.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the runtime has done since start.
#[derive(Debug, Default)]
pub struct Metrics {
    pub transitions: AtomicU64,
    pub instances_created: AtomicU64,
    pub conflicts: AtomicU64,
    pub jobs_completed: AtomicU64,
    pub jobs_failed: AtomicU64,
    pub incidents: AtomicU64,
    /// Job outcomes (a completion, a failure, a BPMN error) refused because the lease they
    /// were recorded under is no longer the job's: the worker stalled past its lease and the
    /// job was taken again, or finished, elsewhere ([`Runtime::fenced`]).
    ///
    /// [`Runtime::fenced`]: super::Runtime
    pub job_outcomes_refused: AtomicU64,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
