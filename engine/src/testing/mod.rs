//! Test support shipped behind the `testing` feature: the crash-test driver and the store
//! consistency checker. Never compiled into release builds of the server.

pub mod consistency;
pub mod crash;
