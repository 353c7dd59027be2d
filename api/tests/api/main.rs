//! In-process router tests (`oneshot`): every route's success and refusal statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cross_party;
mod definitions;
mod instances;
mod jobs;
mod openapi;
mod pressure;
mod process;
mod webhooks;
