//! Storage: a small backend contract ([`Backend`]) with three implementations, group commit on
//! top, and [`Store`], the typed façade that owns the key layout and the value encoding.

pub mod backend;
pub mod blobs;
mod clean_close;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
pub mod copy;
pub mod group;
pub mod memory;
pub mod open;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod redb_backend;
pub mod sled_backend;

pub use backend::*;
pub mod calls;
pub mod codec;
pub mod layout;
pub mod messages;
pub mod signals;
mod typed;

pub use typed::{
    CommitError, DefinitionHead, DefinitionRecord, IdempotencyRecord, InstancePage, PageCursor,
    STORE_FORMAT, Store, StoreError, Txn,
};
