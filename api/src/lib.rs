//! flyt's API server: routes (Altinn-compatible), authentication, per-app policy and the
//! development authority. The `flyt` command that runs it is the `flyt` package (`cli/`); the
//! benchmarks are `flyt-bench` (`bench/`).
//!
//! - [`server`]: build and run a server ([`server::ServerBuilder`], [`server::Flyt::serve`]).
//! - [`routes`]: one module per resource; every route carries its OpenAPI description.
//! - [`auth`]: bearer JWT verification into a [`auth::Caller`]; [`authority`]: the dev authority.
//! - [`apps`]: app files and policies; [`config`]: the server configuration.
//! - [`error`]: the one error type, mapped to problem+json.
//! - [`ui`]: the designer and operate pages, embedded in the binary.

pub mod apps;
pub mod auth;
pub mod authority;
pub mod config;
pub mod console;
pub mod demo;
pub mod disposition;
pub mod error;
pub mod extract;
pub mod files;
pub mod inner_views;
pub mod metrics;
pub mod middleware;
pub mod registry;
pub mod routes;
pub mod serve;
pub mod server;
pub mod state;
pub mod ui;
pub mod views;
