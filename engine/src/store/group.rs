//! Group commit: one writer thread turns many concurrent commits into few durable batches.
//!
//! A durable commit costs an fsync, which takes milliseconds whatever the amount of data. If every
//! request paid for its own, throughput would be one fsync per request. Instead every write goes
//! through ONE thread (`flyt-commit`): it blocks for the first request, drains whatever else has
//! queued meanwhile (up to [`GroupConfig::max_batch_units`] / [`GroupConfig::max_batch_bytes`]),
//! hands the lot to [`Backend::apply`] (one transaction, one fsync) and then answers every waiter.
//! Under load, batches grow by themselves; an idle system commits a single unit at once.
//!
//! One writer also means the backends never see concurrent write transactions (no lock
//! contention in redb, no conflict retries in sled), and the order of units within a batch is the
//! order in which `commit` was called.
//!
//! Failure handling: if `apply` returns an error, nothing of the batch was applied (by the
//! backend contract) and every unit of the batch gets that error.
//!
//! **The panic policy, the same on every backend:** a panic while a batch is applied reaches this
//! thread (no backend turns it into an error: redb aborts its write transaction as the panic
//! unwinds, sled marks itself failed and re-raises, the memory backend does not catch), and the
//! committer stops (fail-stop): that batch and every later commit get
//! [`BackendError::Unavailable`] until the process restarts, since the backend's state is
//! unknown. Nobody ever waits forever: a waiter whose answer can no longer come gets an error.
//! A panic during a *read* changes nothing, so the backends turn it into an error for that read
//! and serving goes on. `contract::group_backend_panic_inside_apply_stops_the_committer` checks
//! this with a panic raised inside each backend's own `apply`.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};
use tokio::sync::oneshot;

use super::backend::{Backend, BackendError, CheckFailed, Unit};
use super::open::panic_message;

/// The answer to one commit: `Ok(Ok(()))` applied and durable, `Ok(Err(_))` a check failed and
/// nothing of the unit was applied, `Err(_)` the store failed and nothing of the unit was applied.
pub type CommitOutcome = Result<Result<(), CheckFailed>, BackendError>;

const SHUT_DOWN: &str = "store is shut down";
const THREAD_STOPPED: &str = "the store's commit thread has stopped";

/// Limits of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// At most this many units per batch. Default 1024. (0 is treated as 1.)
    pub max_batch_units: usize,
    /// At most this many bytes of keys and values ([`Unit::size`]) per batch. Default 16 MiB. A
    /// single unit larger than this is still committed, alone.
    pub max_batch_bytes: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            max_batch_units: 1024,
            max_batch_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Calls to `Backend::apply` (successful or not).
    pub batches: u64,
    /// Units handed to `Backend::apply`.
    pub units: u64,
    /// The most units in one batch.
    pub largest_batch: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    units: AtomicU64,
    largest_batch: AtomicU64,
}

struct Request {
    unit: Unit,
    reply: oneshot::Sender<CommitOutcome>,
}

/// The single writer of a backend. Cheap to clone; the last clone dropped shuts it down.
#[derive(Clone)]
pub struct GroupCommitter {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    /// `None` once shut down (or if the thread could not be started).
    queue: RwLock<Option<mpsc::Sender<Request>>>,
    /// Why `queue` is `None` (when it is).
    refusal: &'static str,
    /// Held for the whole of `shutdown`, so that concurrent shutdowns wait for the first.
    thread: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    counters: Arc<Counters>,
    /// Set for [`GroupCommitter::inline`]: commits are applied in the caller's thread, one at a
    /// time under this lock, and there is no commit thread.
    inline: Option<Mutex<()>>,
}

impl fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCommitter")
            .field("backend", &self.inner.backend.name())
            .field("accepting", &self.inner.queue.read().is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

impl GroupCommitter {
    /// Starts the `flyt-commit` thread, which from now on owns every write to `backend`.
    pub fn start(backend: Arc<dyn Backend>, config: GroupConfig) -> Self {
        let (sender, receiver) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let spawned = std::thread::Builder::new()
            .name("flyt-commit".to_string())
            .spawn({
                let backend = Arc::clone(&backend);
                let counters = Arc::clone(&counters);
                move || run(receiver, backend, config, counters)
            });
        let (queue, thread, refusal) = match spawned {
            Ok(handle) => (Some(sender), Some(handle), SHUT_DOWN),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the store's commit thread");
                (None, None, "the store's commit thread could not be started")
            }
        };
        Self {
            inner: Arc::new(Inner {
                backend,
                queue: RwLock::new(queue),
                refusal,
                thread: Mutex::new(thread),
                closed: AtomicBool::new(false),
                counters,
                inline: None,
            }),
        }
    }

    /// A committer without a thread, for a backend with nothing to make durable (the memory
    /// backend): each commit is applied in the caller's thread, one at a time. Grouping exists
    /// to share an fsync; without one, handing every commit to another thread and back only adds
    /// the latency of two thread wake-ups (on this 2-vCPU VM about two thirds of a one-driver
    /// in-process run's time, see BENCHMARKS.md). Everything else is as with [`start`]: call
    /// order is apply order, checks, the panic policy (a panic stops the committer), shutdown.
    ///
    /// [`start`]: Self::start
    pub fn inline(backend: Arc<dyn Backend>) -> Self {
        // The sender only marks "accepting"; nothing is ever sent on it.
        let (sender, _) = mpsc::channel();
        Self {
            inner: Arc::new(Inner {
                backend,
                queue: RwLock::new(Some(sender)),
                refusal: SHUT_DOWN,
                thread: Mutex::new(None),
                closed: AtomicBool::new(false),
                counters: Arc::default(),
                inline: Some(Mutex::new(())),
            }),
        }
    }

    /// Commits `unit` as part of the next batch and resolves once it is durable (or failed).
    ///
    /// The unit is queued when `commit` is *called*, not when the future is first polled, so
    /// units are applied in call order; the returned future owns nothing borrowed and can be
    /// spawned. Dropping the future does not withdraw the unit: it may still be applied.
    pub fn commit(&self, unit: Unit) -> impl Future<Output = CommitOutcome> + Send + 'static {
        let queued = self.inner.enqueue(unit);
        async move {
            match queued {
                Ok(reply) => reply
                    .await
                    .unwrap_or_else(|_| Err(BackendError::Unavailable(THREAD_STOPPED.into()))),
                Err(e) => Err(e),
            }
        }
    }

    /// [`commit`](Self::commit) for code outside async contexts (start-up, CLI tools, blocking
    /// threads such as `spawn_blocking`). It blocks the calling thread until the answer comes.
    ///
    /// # Panics
    ///
    /// When called from within an asynchronous execution context (a tokio task or `block_on`),
    /// as tokio's `blocking_recv` does; use `commit(..).await` there.
    pub fn commit_blocking(&self, unit: Unit) -> CommitOutcome {
        self.inner
            .enqueue(unit)?
            .blocking_recv()
            .unwrap_or_else(|_| Err(BackendError::Unavailable(THREAD_STOPPED.into())))
    }

    /// The backend, for reads. Writes must go through [`commit`](Self::commit).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// Whether commits are accepted (false once shut down or if the thread could not start).
    pub fn is_accepting(&self) -> bool {
        self.inner.queue.read().is_some()
    }

    pub fn stats(&self) -> GroupStats {
        let c = &self.inner.counters;
        GroupStats {
            batches: c.batches.load(Ordering::Relaxed),
            units: c.units.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting commits (later ones fail with `Unavailable("store is shut down")`),
    /// finishes every commit already queued, joins the thread and closes the backend. Blocks
    /// until done; idempotent. Also runs when the last clone is dropped.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn enqueue(&self, unit: Unit) -> Result<oneshot::Receiver<CommitOutcome>, BackendError> {
        let (reply, answer) = oneshot::channel();
        if let Some(lock) = &self.inline {
            let _one_at_a_time = lock.lock();
            if self.queue.read().is_none() {
                return Err(BackendError::Unavailable(self.refusal.into()));
            }
            let (mut outcomes, stop) = apply_batch(&*self.backend, vec![unit], &self.counters);
            if stop {
                // A panic: every later commit is refused, as when the commit thread stops.
                self.queue.write().take();
            }
            let outcome = outcomes
                .pop()
                .unwrap_or_else(|| Err(BackendError::Unavailable(THREAD_STOPPED.into())));
            let _ = reply.send(outcome);
            return Ok(answer);
        }
        let queue = self.queue.read();
        let Some(sender) = queue.as_ref() else {
            return Err(BackendError::Unavailable(self.refusal.into()));
        };
        sender
            .send(Request { unit, reply })
            .map_err(|_| BackendError::Unavailable(THREAD_STOPPED.into()))?;
        Ok(answer)
    }

    fn shutdown(&self) {
        let mut thread = self.thread.lock();
        // Dropping the only sender lets the thread drain the queue and then see the end.
        let sender = self.queue.write().take();
        drop(sender);
        if let Some(handle) = thread.take()
            && handle.join().is_err()
        {
            tracing::error!("the store's commit thread panicked");
        }
        if !self.closed.swap(true, Ordering::AcqRel)
            && let Err(e) = self.backend.close()
        {
            tracing::error!(error = %e, backend = self.backend.name(), "closing the store failed");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The commit thread.
fn run(
    receiver: mpsc::Receiver<Request>,
    backend: Arc<dyn Backend>,
    config: GroupConfig,
    counters: Arc<Counters>,
) {
    let max_units = config.max_batch_units.max(1);
    let mut carried: Option<Request> = None;
    loop {
        let first = match carried.take() {
            Some(request) => request,
            // Err: every sender is gone and the queue is empty: shut down.
            None => match receiver.recv() {
                Ok(request) => request,
                Err(_) => return,
            },
        };
        let mut bytes = first.unit.size();
        let mut units = vec![first.unit];
        let mut replies = vec![first.reply];
        while units.len() < max_units {
            let Ok(request) = receiver.try_recv() else {
                break;
            };
            let size = request.unit.size();
            if bytes.saturating_add(size) > config.max_batch_bytes {
                carried = Some(request);
                break;
            }
            bytes = bytes.saturating_add(size);
            units.push(request.unit);
            replies.push(request.reply);
        }

        let (outcomes, stop) = apply_batch(&*backend, units, &counters);
        // A waiter that went away (dropped its future) is not an error: `send` fails, ignore it.
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
        if stop {
            // Dropping the receiver (and `carried`) answers every queued and later commit with
            // an error instead of leaving it waiting.
            return;
        }
    }
}

/// Applies one batch and says how each unit went, one outcome per unit, and whether the
/// committer must stop: the backend panicked, so its state is unknown (the one panic policy).
fn apply_batch(
    backend: &dyn Backend,
    units: Vec<Unit>,
    counters: &Counters,
) -> (Vec<CommitOutcome>, bool) {
    let applied = catch_unwind(AssertUnwindSafe(|| backend.apply(&units)));
    let n = units.len();
    counters.batches.fetch_add(1, Ordering::Relaxed);
    counters.units.fetch_add(n as u64, Ordering::Relaxed);
    counters
        .largest_batch
        .fetch_max(n as u64, Ordering::Relaxed);
    drop(units);
    let all = |e: BackendError| vec![Err(e); n];
    match applied {
        Ok(Ok(outcomes)) if outcomes.len() == n => (outcomes.into_iter().map(Ok).collect(), false),
        Ok(Ok(outcomes)) => {
            let e = BackendError::Io(format!(
                "the {} backend returned {} outcomes for {n} units",
                backend.name(),
                outcomes.len(),
            ));
            tracing::error!(error = %e, "store contract violation");
            (all(e), false)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, units = n, "a batch failed; nothing of it was applied");
            (all(e), false)
        }
        Err(panic) => {
            let message = panic_message(&*panic);
            tracing::error!(panic = %message, "the store backend panicked; commits stop");
            let e = BackendError::Unavailable(format!(
                "the store backend panicked ({message}); restart to recover"
            ));
            (all(e), true)
        }
    }
}

#[cfg(test)]
mod inline_tests {
    use super::*;
    use crate::store::backend::Check;
    use crate::store::memory::MemoryBackend;

    fn put(key: &[u8]) -> Unit {
        let mut unit = Unit::new();
        unit.check(Check::Absent(key.to_vec()));
        unit.put(key.to_vec(), b"v".to_vec());
        unit
    }

    #[test]
    fn an_inline_committer_applies_in_call_order_checks_and_stops_on_a_panic() {
        let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::default());
        let committer = GroupCommitter::inline(backend.clone());
        assert_eq!(committer.commit_blocking(put(b"a")), Ok(Ok(())));
        assert_eq!(
            committer.commit_blocking(put(b"a")),
            Ok(Err(CheckFailed { check: 0 })),
            "a failed check is the unit's answer"
        );
        let mut doomed = Unit::new();
        doomed.put(
            super::super::backend::PANIC_INSIDE_APPLY.to_vec(),
            Vec::new(),
        );
        assert!(matches!(
            committer.commit_blocking(doomed),
            Err(BackendError::Unavailable(_))
        ));
        assert!(matches!(
            committer.commit_blocking(put(b"b")),
            Err(BackendError::Unavailable(_))
        ));
        assert!(!committer.is_accepting());
        assert_eq!(backend.get(b"b").unwrap(), None);
        assert_eq!(committer.stats().batches, 3);
        committer.shutdown();
    }

    #[test]
    fn an_inline_committer_refuses_after_shutdown() {
        let committer = GroupCommitter::inline(Arc::new(MemoryBackend::default()));
        committer.shutdown();
        assert!(matches!(
            committer.commit_blocking(put(b"a")),
            Err(BackendError::Unavailable(_))
        ));
    }
}
