//! flyt-engine's integration tests: one binary, a module per feature.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rt;
mod support;

mod bpmn_altinn_reading;
mod bpmn_collaboration;
mod bpmn_conformance;
mod bpmn_hostile;
mod bpmn_message_throw;
mod bpmn_messages;
mod bpmn_namespaces;
mod bpmn_parser_props;
mod bpmn_peers;
mod bpmn_rules;
mod bpmn_scripts;
mod bpmn_signals;
mod crash;
mod hooks;
mod runtime_activation;
mod runtime_event_sub;
mod runtime_events;
mod runtime_explore;
mod runtime_files;
mod runtime_idempotency;
mod runtime_inclusive;
mod runtime_jobs;
mod runtime_message_throw;
mod runtime_messages;
mod runtime_moves;
mod runtime_scopes;
mod runtime_signing;
mod runtime_timer_firing;
mod runtime_timer_start;
mod runtime_timers;
mod store_contract;
mod store_postgres;
