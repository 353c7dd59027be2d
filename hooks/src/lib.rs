//! flyt's hook API for developers, and the built-in hooks and service tasks.
//!
//! The traits ([`Hook`], [`ServiceTaskHandler`], [`GatewayDecider`], [`ServerAction`]) and the
//! [`Registry`] are defined by the engine, which calls them, and re-exported here: depend on this
//! crate and `use flyt_hooks::*`. See `HOOKS.md` for the guide.
//!
//! Built in, written with the same public API:
//! - [`create_instance`]: the `createInstance` service task (app A creates a prefilled instance
//!   of app B with an organisation token);
//! - [`logging`]: a hook that logs every hook point;
//! - [`token_client`]: the Maskinporten JWT-bearer token client.

pub use flyt_engine::hooks::*;

pub mod create_instance;
pub mod logging;
pub mod token_client;
