//! In-process router tests (`oneshot`): every route's success and refusal statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod altinn_actions;
mod bpmn_errors;
mod call_activities;
mod collaboration;
mod support;

mod big_definitions;
mod cross_party;
mod definitions;
mod faults;
mod files;
mod instances;
mod jobs;
mod jobs_apps;
mod limits;
mod mass_assignment;
mod media_types;
mod messages;
mod multi_sign;
mod openapi;
mod openapi_refusals;
mod openapi_statuses;
mod pdf_receipt;
mod plan;
mod pressure;
mod problems;
mod process;
mod rights;
mod signals;
mod timers;
mod ui;
mod webhooks;
