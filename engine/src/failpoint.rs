//! Fail points: a switch that makes the process die at a named point, for crash tests.
//!
//! `FLYT_FAILPOINT=<name>` makes `failpoint!("<name>")` abort the process there (no unwinding,
//! no flushing: the same as SIGKILL from the store's point of view). Compiled only into debug
//! builds; in release builds the macro is empty.
//!
//! Every durable commit has a point just before it (nothing of it is on disk yet: after a restart
//! the state must be exactly as before) and one just after it (it is durable but nobody has been
//! told: after a restart the state must be exactly as after). The points, by name:
//!
//! | point | where |
//! |---|---|
//! | `create.before_commit`, `create.after_commit` | creating an instance (`Runtime::create_instance`) |
//! | `transition.before_commit`, `transition.after_commit` | moving an instance: `next`, `write_data`, `resume`, `delete_instance`, server actions |
//! | `job.before_lease_commit`, `job.after_lease_commit` | leasing a job (counts an attempt) |
//! | `job.before_complete_commit`, `job.after_complete_commit` | completing a job: the instance moves past the service task |
//! | `job.before_fail_commit`, `job.after_fail_commit` | a failed attempt: re-queued with backoff, parked, or an incident |
//! | `deploy.before_commit`, `deploy.after_commit` | storing a new definition version (also at start-up) |
//! | `signal.between_deliveries` | delivering a signal broadcast: one delivery committed, the next not yet |
//! | `call.before_child_commit` | a call activity: the parent's commit (token at the call activity, its start record) is on disk, the child's creation not yet |
//! | `call.before_parent_commit` | a call activity: the child's ending commit (its ended record) is on disk, the parent's resumption not yet |
//! | `create_instance.after_response` | flyt-hooks' `createInstance`: app B answered 2xx, A has not recorded it |
//!
//! The end-to-end tests in `tests/e2e/faults.rs` (and `tests/e2e/calls.rs` for `call.*`) kill
//! the `flyt` binary at each of them.

/// Aborts the process if `FLYT_FAILPOINT` names this point (debug builds only).
#[macro_export]
macro_rules! failpoint {
    ($name:expr) => {
        #[cfg(debug_assertions)]
        {
            $crate::failpoint::hit($name);
        }
    };
}

#[cfg(debug_assertions)]
#[doc(hidden)]
pub fn hit(name: &str) {
    static ARMED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let armed = ARMED.get_or_init(|| {
        std::env::var("FLYT_FAILPOINT")
            .ok()
            .filter(|s| !s.is_empty())
    });
    if armed.as_deref() == Some(name) {
        eprintln!("failpoint `{name}` hit: aborting");
        std::process::abort();
    }
}
