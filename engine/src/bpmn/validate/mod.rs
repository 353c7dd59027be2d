//! Validation: raw structs in, a [`ProcessDefinition`] or a complete list of diagnostics out.
//!
//! Every rule runs (no first-failure), each in the file for its concern:
//! - `refs`: ids and references; `reading`: which flows leave and enter each element, read the
//!   way Altinn's engine reads them (the rule is documented in `refs`);
//! - `local`: rules about one element and its own flows (events, tasks, gateways, conditions);
//! - `scopes`: sub-processes (one start event each, no flow crossing a border);
//! - `links`: link throw and catch events pair up by name within a scope;
//! - `graph`: reachability from start events and to end events;
//! - `joins`: a bounded token game that finds parallel joins that can never fire.
//!
//! Rules that assume flyt's execution semantics (graph, joins, multiple outgoing flows,
//! conditions outside gateways) are skipped when the process contains unsupported elements or
//! conditions in a foreign expression language: the semantics of those (boundary events,
//! implicit splits, ...) decide what is reachable, so the file gets only `unsupported-element`
//! errors until they are gone.

mod graph;
mod joins;
mod links;
mod local;
mod messages;
mod reading;
mod refs;
mod scopes;
mod signals;

use super::definition::ProcessDefinition;
use super::diagnostic::{Diagnostic, Pos};
use super::elements::ServiceTask;
use super::raw::RawProcess;

/// What the server a definition is deployed to can run. `flyt validate` has no target: a missing
/// handler or gateway hook is then a warning; at deploy it is an error.
pub trait DeployTarget {
    /// Whether a handler for this service task type is registered.
    fn has_service_task_handler(&self, task_type: &str) -> bool;
    /// Whether a gateway hook decides this exclusive gateway (by element id).
    fn has_gateway_decider(&self, gateway_id: &str) -> bool;
    /// Lets the handler of a service task check its configuration (e.g. `createInstance`
    /// checks its target app against the allow-list).
    fn check_service_task(
        &self,
        _element_id: &str,
        _pos: Pos,
        _task: &ServiceTask,
    ) -> Vec<Diagnostic> {
        Vec::new()
    }
    /// Whether the app declares this data type (`None`: unknown here, as in `flyt validate`).
    fn has_data_type(&self, _data_type: &str) -> Option<bool> {
        None
    }
    /// Whether a call activity may call process `process` of hosted app `app` (in `version`,
    /// or its latest): `Err` says why not. Default: nothing known against it.
    fn called_process(
        &self,
        _app: &crate::ids::AppId,
        _process: &str,
        _version: Option<u32>,
    ) -> Result<(), String> {
        Ok(())
    }
    /// Whether hosted app `app` declares this data type (`None`: unknown here).
    fn app_has_data_type(&self, _app: &crate::ids::AppId, _data_type: &str) -> Option<bool> {
        None
    }
}

/// Validates a raw process. Returns the definition only when there are no errors; the
/// diagnostics (warnings, or errors and warnings) are returned either way.
pub(crate) fn validate(
    process: RawProcess,
    target: Option<&dyn DeployTarget>,
    hash: String,
    diags: &mut Vec<Diagnostic>,
) -> Option<ProcessDefinition> {
    let index = refs::check(&process, diags);
    let (conditions, foreign_conditions) = local::parse_conditions(&process, diags);
    // Rules that assume flyt's execution semantics only make sense when every element and
    // condition is one flyt executes: an implicit split or a boundary event changes what
    // "reachable" or "more than one outgoing flow" means.
    let full = !process.has_unsupported && !foreign_conditions;
    local::check(&process, &index, &conditions, target, full, diags);
    scopes::check(&process, &index, diags);
    links::check(&process, &index, diags);
    messages::check(&process, target, diags);
    signals::check(&process, target, diags);
    messages::check_event_gateways(&process, &index, diags);
    super::read_loop::check_boundaries(&process, diags);
    // An event sub-process (not executed yet, so unsupported) may be what catches an error.
    if full {
        scopes::check_error_ends(&process, diags);
    }
    let structural_ok = !diags.iter().any(Diagnostic::is_error);
    if full {
        graph::check(&process, &index, diags);
        // The token game models an interrupting boundary as another way out of its task; a
        // non-interrupting one adds tokens the game does not model, so it is then skipped
        // (saying nothing rather than guessing).
        // Nor does it model scopes: a sub-process holds its tokens until the last one ends.
        let adds_tokens = process.nodes.iter().any(|n| {
            matches!(
                n.kind,
                super::raw::RawKind::Boundary {
                    cancel_activity: false,
                    ..
                } | super::raw::RawKind::SignalBoundary {
                    cancel_activity: false,
                    ..
                } | super::raw::RawKind::SubProcess
                    | super::raw::RawKind::EventSubProcess { .. }
                    | super::raw::RawKind::LinkThrow { .. }
                    | super::raw::RawKind::EscalationThrow { .. }
                    | super::raw::RawKind::EventGateway
            )
        });
        // Nor does it model inclusive gateways (which take any set of their flows).
        let inclusive = process
            .nodes
            .iter()
            .any(|n| matches!(n.kind, super::raw::RawKind::InclusiveGateway(_)));
        if structural_ok && !adds_tokens && !inclusive && !diags.iter().any(Diagnostic::is_error) {
            joins::check(&process, &index, diags);
        }
    }
    if diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(ProcessDefinition::build(process, &index, conditions, hash))
}

pub(crate) use links::targets as link_targets;
pub(crate) use messages::{Catch as MessageCatchRef, CatchKind};
pub(crate) use refs::Index;
