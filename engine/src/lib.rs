//! flyt's engine: the process model, BPMN parsing and validation, the runtime and storage.
//!
//! This crate knows nothing of HTTP. See `ARCHITECTURE.md` at the repository root for the map.

pub mod app;
pub mod bpmn;
pub mod expr;
pub mod failpoint;
pub mod hooks;
pub mod ids;
pub mod model;
pub mod runtime;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
