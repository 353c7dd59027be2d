//! End-to-end tests: real `flyt` processes on loopback, real HTTP, real RS256 tokens, real files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod altinn_app;
mod altinn_walk;
mod bench;
mod bench_peers;
mod browser;
mod calls;
mod cluster;
mod demo;
mod faults;
mod files;
mod hostile;
mod monthly_report;
mod multi_app;
mod multi_sign;
mod quickstart;
mod round_trip;
mod scopes;
mod several_nodes;
mod timers;
mod webhooks;
