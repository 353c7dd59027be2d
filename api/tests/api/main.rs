//! In-process router tests (`oneshot`): every route's success and refusal statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cross_party;
mod definitions;
mod faults;
mod instances;
mod jobs;
mod limits;
mod mass_assignment;
mod openapi;
mod openapi_refusals;
mod pressure;
mod process;
mod rights;
mod ui;
mod webhooks;
