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
//! - [`pdf`]: the `pdf` service task (a PDF receipt of the form data, as a file);
//! - [`send_message`]: the `sendMessage` handler of message throws (send tasks, message throw
//!   and end events): delivers a message to another app through the durable outbox;
//! - [`token_client`]: the Maskinporten JWT-bearer token client;
//! - [`webhooks`]: signed CloudEvent deliveries and the synchronous task-end veto.

pub use flyt_engine::hooks::*;

pub mod create_instance;
pub mod hook_fn;
pub mod instance_expr;
pub mod logging;
mod outgoing;
pub mod pdf;
pub mod send_message;
pub mod token_client;
pub mod webhooks;
pub use hook_fn::{
    BoxFuture, FnDecider, FnHook, FnServerAction, FnServiceTask, gateway_fn, gateway_fn_async,
    hook_fn, on_data_written, on_instance_created, on_process_ended, on_task_abandoned,
    on_task_ending, on_task_started, server_action_fn, server_action_fn_async, service_task_fn,
};
