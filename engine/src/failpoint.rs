//! Fail points: a switch that makes the process die at a named point, for crash tests.
//!
//! `FLYT_FAILPOINT=<name>` makes `failpoint!("<name>")` abort the process there (no unwinding,
//! no flushing: the same as SIGKILL from the store's point of view). Compiled only into debug
//! builds; in release builds the macro is empty.

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
