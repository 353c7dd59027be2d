//! Rules about one element and its own flows: events, tasks, gateways, conditions, handlers.

use super::super::diagnostic::{Code, Diagnostic};
use super::super::elements::{Condition, UserTaskType};
use super::super::raw::{RawCondition, RawKind, RawProcess};
use super::super::read;
use super::{DeployTarget, Index};
use crate::expr::Expr;

/// Parses every flow's condition. Also says whether any is in a foreign expression language.
pub(crate) fn parse_conditions(
    process: &RawProcess,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Option<Condition>>, bool) {
    let mut foreign = false;
    let conditions = process
        .flows
        .iter()
        .map(|f| {
            let cond = f.condition.as_ref()?;
            match parse_condition(&f.id, cond, process.expression_language.as_deref(), diags) {
                Parsed::Ok(c) => Some(c),
                Parsed::Foreign => {
                    foreign = true;
                    None
                }
                Parsed::Invalid => None,
            }
        })
        .collect();
    (conditions, foreign)
}

/// Runs the local rules. `full` is false when the process has unsupported elements; the rules
/// about execution semantics are then skipped.
pub(crate) fn check(
    process: &RawProcess,
    index: &Index,
    conditions: &[Option<Condition>],
    target: Option<&dyn DeployTarget>,
    full: bool,
    diags: &mut Vec<Diagnostic>,
) {
    // Start events inside sub-processes are checked in `scopes`.
    let top_start = process
        .nodes
        .iter()
        .any(|n| matches!(n.kind, RawKind::StartEvent(_)) && n.scope.is_none());
    if !top_start && full {
        diags.push(
            Diagnostic::error(
                Code::NoStartEvent,
                process.pos,
                format!("process `{}` has no start event", process.id),
            )
            .element(&process.id)
            .hint("add a <bpmn:startEvent> with a sequence flow to the first task"),
        );
    }

    for (i, node) in process.nodes.iter().enumerate() {
        let outgoing = &index.outgoing[i];
        let incoming = &index.incoming[i];
        match &node.kind {
            RawKind::StartEvent(_) if !incoming.is_empty() => diags.push(
                Diagnostic::error(
                    Code::MisplacedFlow,
                    node.pos,
                    format!("start event `{}` has an incoming sequence flow", node.id),
                )
                .element(&node.id)
                .hint(
                    "a start event begins the process; route the flow to a task or gateway instead",
                ),
            ),
            RawKind::EndEvent
            | RawKind::TerminateEnd
            | RawKind::ErrorEnd { .. }
            | RawKind::EscalationThrow { end: true, .. }
            | RawKind::SignalThrow { end: true, .. }
                if !outgoing.is_empty() =>
            {
                diags.push(
                    Diagnostic::error(
                        Code::MisplacedFlow,
                        node.pos,
                        format!("end event `{}` has an outgoing sequence flow", node.id),
                    )
                    .element(&node.id),
                )
            }
            RawKind::ServiceTask(t) if t.is_message_end() && !outgoing.is_empty() => diags.push(
                Diagnostic::error(
                    Code::MisplacedFlow,
                    node.pos,
                    format!("end event `{}` has an outgoing sequence flow", node.id),
                )
                .element(&node.id),
            ),
            _ => {}
        }
        let single_exit = matches!(
            node.kind,
            RawKind::StartEvent(_)
                | RawKind::UserTask(_)
                | RawKind::ServiceTask(_)
                | RawKind::TimerCatch(_)
                | RawKind::MessageCatch { .. }
                | RawKind::MessageBoundary { .. }
                | RawKind::SignalCatch { .. }
                | RawKind::SignalBoundary { .. }
                | RawKind::SignalThrow { end: false, .. }
                | RawKind::ThrowNone
                | RawKind::LinkCatch { .. }
                | RawKind::EscalationThrow { end: false, .. }
                | RawKind::EscalationBoundary { .. }
                | RawKind::Boundary { .. }
                | RawKind::ErrorBoundary { .. }
                | RawKind::SubProcess
                | RawKind::CallActivity(_)
        );
        if let RawKind::ErrorBoundary {
            attached_to,
            error_ref,
        } = &node.kind
        {
            check_attachment(process, index, i, attached_to, diags);
            if let Some(r) = error_ref
                && !process.errors.contains_key(&r.id)
            {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidBoundary,
                        r.pos,
                        format!(
                            "error boundary event `{}` catches errorRef `{}`, which is no <error> of these definitions",
                            node.id, r.id
                        ),
                    )
                    .element(&node.id)
                    .hint("declare <bpmn:error id=\"...\" errorCode=\"...\"/> beside the process, or leave errorRef out to catch every error"),
                );
            }
        }
        if let RawKind::EscalationBoundary {
            attached_to,
            escalation_ref,
            ..
        } = &node.kind
        {
            check_attachment(process, index, i, attached_to, diags);
            check_escalation_ref(process, node, escalation_ref.as_ref(), diags);
            // Only a sub-process has an inside that can throw an escalation. On a task the
            // boundary can never fire: harmless, so a warning (modellers draw it, e.g. MIWG
            // B.2.0), and its flow simply never gets a token.
            if let Some(&t) = index.node_by_id.get(&attached_to.id)
                && matches!(
                    process.nodes[t].kind,
                    RawKind::UserTask(_) | RawKind::ServiceTask(_)
                )
            {
                diags.push(
                    Diagnostic::warning(
                        Code::InvalidBoundary,
                        attached_to.pos,
                        format!(
                            "escalation boundary event `{}` is attached to task `{}`, which throws no escalations: it never fires",
                            node.id, attached_to.id
                        ),
                    )
                    .element(&node.id)
                    .hint("attach it to the sub-process whose inside throws the escalation"),
                );
            }
        }
        if let RawKind::MessageBoundary { attached_to, .. }
        | RawKind::SignalBoundary { attached_to, .. } = &node.kind
        {
            check_attachment(process, index, i, attached_to, diags);
        }
        if let RawKind::EscalationThrow { escalation_ref, .. } = &node.kind {
            check_escalation_ref(process, node, escalation_ref.as_ref(), diags);
        }
        if let RawKind::Boundary {
            attached_to,
            cancel_activity,
            timer,
        } = &node.kind
        {
            check_boundary(
                process,
                index,
                i,
                attached_to,
                *cancel_activity,
                timer,
                diags,
            );
        }
        if full && single_exit && outgoing.len() > 1 {
            let ids: Vec<&str> = outgoing
                .iter()
                .map(|&f| process.flows[f].id.as_str())
                .collect();
            diags.push(
                Diagnostic::error(
                    Code::MultipleOutgoing,
                    node.pos,
                    format!(
                        "`{}` has {} outgoing sequence flows ({}); flyt needs the choice to be explicit",
                        node.id,
                        ids.len(),
                        ids.join(", ")
                    ),
                )
                .element(&node.id)
                .hint("add a gateway after it: exclusive to choose one path, parallel to take all"),
            );
        }
        match &node.kind {
            RawKind::ExclusiveGateway(_) => {
                check_conditional(process, i, index, conditions, target, Choice::One, diags);
            }
            RawKind::InclusiveGateway(_) => {
                check_conditional(process, i, index, conditions, target, Choice::All, diags);
            }
            RawKind::ServiceTask(task) => {
                check_service_task(node.id.as_str(), node.pos, task, target, diags);
            }
            _ => {}
        }
    }

    // Conditions are only evaluated by exclusive and inclusive gateways (a flow no node takes is never
    // evaluated, so its condition is not checked here).
    for (s, source_node) in process.nodes.iter().enumerate().filter(|_| full) {
        let why = match source_node.kind {
            RawKind::ExclusiveGateway(_) | RawKind::InclusiveGateway(_) | RawKind::Unsupported => {
                continue;
            }
            RawKind::ParallelGateway => "a parallel gateway, which takes every outgoing flow",
            RawKind::EventGateway => "an event-based gateway, which the first event decides",
            _ => "an element that is not a gateway",
        };
        for &f in &index.outgoing[s] {
            let flow = &process.flows[f];
            let Some(cond) = &flow.condition else {
                continue;
            };
            diags.push(
                Diagnostic::error(
                    Code::ConditionOutsideGateway,
                    cond.pos,
                    format!(
                        "sequence flow `{}` has a condition but leaves `{}`, {why}",
                        flow.id, source_node.id
                    ),
                )
                .element(&flow.id)
                .hint("put an exclusive gateway before the branches and move the condition to its outgoing flows"),
            );
        }
    }
}

enum Parsed {
    Ok(Condition),
    /// In an expression language flyt does not evaluate (an `unsupported-script` diagnostic).
    Foreign,
    Invalid,
}

fn parse_condition(
    flow_id: &str,
    cond: &RawCondition,
    default_language: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Parsed {
    let text = cond.text.trim();
    let foreign = |l: &&str| {
        let l = l.trim().to_ascii_lowercase();
        !(l.is_empty() || l.contains("altinn") || l == "json" || l == "application/json")
    };
    let foreign_language = cond.language.as_deref().filter(foreign);
    let looks_like_json = text.starts_with('[')
        || text.starts_with('"')
        || matches!(text, "true" | "false" | "null")
        || text.parse::<f64>().is_ok();
    let hint = "flyt evaluates Altinn JSON expressions, e.g. [\"equals\", [\"dataModel\", \"model.approved\"], true]";
    let shown: String = text.chars().take(60).collect();
    let script = |what: String| {
        Diagnostic::error(
            Code::UnsupportedScript,
            cond.pos,
            format!("unsupported script: the condition of `{flow_id}` is {what}: `{shown}`"),
        )
        .element(flow_id)
        .hint(hint)
    };
    if let Some(language) = foreign_language {
        diags.push(script(format!(
            "written in {} (language=\"{language}\")",
            read::language_name(language)
        )));
        return Parsed::Foreign;
    }
    if text.is_empty() {
        diags.push(
            Diagnostic::error(
                Code::InvalidCondition,
                cond.pos,
                format!("the condition of `{flow_id}` is empty"),
            )
            .element(flow_id)
            .hint("write an Altinn expression, e.g. [\"equals\", [\"gatewayAction\"], \"reject\"], or remove the conditionExpression"),
        );
        return Parsed::Invalid;
    }
    if !looks_like_json {
        let what = if text.starts_with("${") || text.starts_with("#{") {
            "a JUEL/JavaScript `${...}` expression".to_string()
        } else if let Some(language) = default_language.filter(foreign) {
            format!(
                "written in {} (the definitions' expressionLanguage=\"{language}\")",
                read::language_name(language)
            )
        } else {
            "not an Altinn expression (no JSON)".to_string()
        };
        diags.push(script(what));
        return Parsed::Foreign;
    }
    match Expr::parse(text) {
        Ok(expr) => Parsed::Ok(Condition {
            expr,
            text: text.to_string(),
            pos: cond.pos,
        }),
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidCondition,
                    cond.pos,
                    format!("the condition of `{flow_id}` is not a valid expression: {e}"),
                )
                .element(flow_id),
            );
            Parsed::Invalid
        }
    }
}

/// What a gateway with conditions does with them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// Exclusive: exactly one flow.
    One,
    /// Inclusive: every flow whose condition holds.
    All,
}

/// The default flow and conditions of an exclusive or inclusive gateway.
fn check_conditional(
    process: &RawProcess,
    i: usize,
    index: &Index,
    conditions: &[Option<Condition>],
    target: Option<&dyn DeployTarget>,
    choice: Choice,
    diags: &mut Vec<Diagnostic>,
) {
    let node = &process.nodes[i];
    let outgoing = &index.outgoing[i];
    let mut default_flow = None;
    if let Some(default) = &node.default {
        match outgoing
            .iter()
            .find(|&&f| process.flows[f].id == default.id)
        {
            Some(&f) => default_flow = Some(f),
            None => {
                let what = if index.flow_by_id.contains_key(&default.id) {
                    "a flow that does not leave this gateway"
                } else {
                    "no sequence flow"
                };
                let ids: Vec<&str> = outgoing
                    .iter()
                    .map(|&f| process.flows[f].id.as_str())
                    .collect();
                diags.push(
                    Diagnostic::error(
                        Code::InvalidDefault,
                        default.pos,
                        format!(
                            "gateway `{}` has default=\"{}\", which names {what}",
                            node.id, default.id
                        ),
                    )
                    .element(&node.id)
                    .hint(format!(
                        "the default must be one of its outgoing flows: {}",
                        ids.join(", ")
                    )),
                );
            }
        }
    }
    if let Some(f) = default_flow
        && process.flows[f].condition.is_some()
    {
        diags.push(
            Diagnostic::warning(
                Code::DefaultWithCondition,
                process.flows[f].pos,
                format!(
                    "`{}` is the default flow of `{}` and also has a condition, which is ignored",
                    process.flows[f].id, node.id
                ),
            )
            .element(&process.flows[f].id),
        );
    }
    if outgoing.len() < 2 {
        return;
    }
    if choice == Choice::All {
        check_inclusive_flows(process, node, outgoing, default_flow, diags);
        return;
    }
    let has_condition = |f: usize| process.flows[f].condition.is_some();
    let conditioned = outgoing.iter().filter(|&&f| has_condition(f)).count();
    if conditioned == 0 && default_flow.is_none() {
        let decided_by_hook = target.is_some_and(|t| t.has_gateway_decider(&node.id));
        if !decided_by_hook {
            let message = format!(
                "exclusive gateway `{}` has {} outgoing flows but neither conditions nor a default",
                node.id,
                outgoing.len()
            );
            let hint = "add a condition to each outgoing flow, mark one as default=\"...\", or register a gateway hook for it";
            diags.push(
                match target {
                    Some(_) => Diagnostic::error(Code::UndecidableGateway, node.pos, message),
                    None => Diagnostic::warning(Code::UndecidableGateway, node.pos, message),
                }
                .element(&node.id)
                .hint(hint),
            );
        }
        return;
    }
    for &f in outgoing {
        if !has_condition(f) && Some(f) != default_flow && conditions.len() > f {
            let consequence = match default_flow {
                Some(d) => format!(
                    ", so it always matches and the default `{}` can never be taken",
                    process.flows[d].id
                ),
                None => ", so it always matches".to_string(),
            };
            diags.push(
                Diagnostic::warning(
                    Code::UnconditionedFlow,
                    process.flows[f].pos,
                    format!(
                        "`{}` leaves exclusive gateway `{}` without a condition and is not its default{consequence}",
                        process.flows[f].id, node.id
                    ),
                )
                .element(&process.flows[f].id)
                .hint(format!("add a condition, or make it the default with default=\"{}\" on the gateway", process.flows[f].id)),
            );
        }
    }
}

/// An inclusive gateway takes every flow that holds, so a flow without condition is simply
/// always taken; only a default that can never be taken is worth a warning.
fn check_inclusive_flows(
    process: &RawProcess,
    node: &super::super::raw::RawNode,
    outgoing: &[usize],
    default_flow: Option<usize>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(d) = default_flow else {
        return;
    };
    let always = outgoing
        .iter()
        .find(|&&f| f != d && process.flows[f].condition.is_none());
    if let Some(&f) = always {
        diags.push(
            Diagnostic::warning(
                Code::UnconditionedFlow,
                process.flows[f].pos,
                format!(
                    "`{}` leaves inclusive gateway `{}` without a condition, so it is always taken and the default `{}` never is",
                    process.flows[f].id, node.id, process.flows[d].id
                ),
            )
            .element(&process.flows[f].id)
            .hint("add a condition to it, or remove the default"),
        );
    }
}

fn check_service_task(
    id: &str,
    pos: super::super::Pos,
    task: &super::super::elements::ServiceTask,
    target: Option<&dyn DeployTarget>,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(throw) = &task.throw {
        // A message throw: its configuration is flyt's own, checked here; the server's
        // handler then checks the target against its allow-list and the payload's fields.
        let parsed = crate::bpmn::elements::message_throw::parse(id, pos, throw, &task.flyt);
        let ok = parsed.is_ok();
        if let Err(problems) = parsed {
            diags.extend(problems);
        }
        if let Some(target) = target {
            if !target.has_service_task_handler(task_type_of(task)) {
                diags.push(
                    Diagnostic::error(
                        Code::UnregisteredServiceTask,
                        pos,
                        format!(
                            "`{id}` sends a message, but this server has no `sendMessage` handler"
                        ),
                    )
                    .element(id),
                );
            } else if ok {
                diags.extend(target.check_service_task(id, pos, task));
            }
        }
        return;
    }
    let Some(task_type) = task.task_type.as_deref() else {
        let message = format!("service task `{id}` names no task type, so no handler can run it");
        let hint = "add <altinn:taskExtension><altinn:taskType>...</altinn:taskType></altinn:taskExtension> or flyt:type=\"...\"";
        diags.push(
            match target {
                Some(_) => Diagnostic::error(Code::MissingServiceTaskType, pos, message),
                None => Diagnostic::warning(Code::MissingServiceTaskType, pos, message),
            }
            .element(id)
            .hint(hint),
        );
        return;
    };
    let registered = target.map(|t| t.has_service_task_handler(task_type));
    if registered != Some(true) {
        let message = match registered {
            None => format!(
                "service task `{id}` has type `{task_type}`; the server it is deployed to must register a handler for it"
            ),
            Some(_) => format!(
                "service task `{id}` has type `{task_type}`, but this server has no handler registered for it"
            ),
        };
        let mut d = match registered {
            None => Diagnostic::warning(Code::UnregisteredServiceTask, pos, message),
            Some(_) => Diagnostic::error(Code::UnregisteredServiceTask, pos, message),
        }
        .element(id);
        if let Some(user) = crate::bpmn::read::nearest(task_type, UserTaskType::ALTINN_NAMES) {
            d = d.hint(format!(
                "if `{id}` is meant to wait for a user, did you mean the user task type `{user}`?"
            ));
        } else {
            d = d.hint("register a handler for this type, or configure it as an external job type");
        }
        diags.push(d);
    }
    if let Some(target) = target {
        diags.extend(target.check_service_task(id, pos, task));
    }
}

/// A boundary event: attached to a task, entered only through it (no incoming flow), leaving by
/// one flow; a non-interrupting cycle without a bound is worth a warning.
fn check_boundary(
    process: &RawProcess,
    index: &Index,
    i: usize,
    attached_to: &super::super::raw::Ref,
    cancel_activity: bool,
    timer: &crate::bpmn::elements::timer::Timer,
    diags: &mut Vec<Diagnostic>,
) {
    check_attachment(process, index, i, attached_to, diags);
    let node = &process.nodes[i];
    if !cancel_activity && timer.unbounded() {
        diags.push(
            Diagnostic::warning(
                Code::UnboundedTimer,
                node.pos,
                format!(
                    "non-interrupting boundary event `{}` has a timer cycle without a repetition count: it fires for as long as `{}` is active",
                    node.id, attached_to.id
                ),
            )
            .element(&node.id)
            .hint("bound it, e.g. R3/P1D for three daily reminders"),
        );
    }
}

/// A boundary event is attached to a task and entered only through it (no incoming flow).
fn check_attachment(
    process: &RawProcess,
    index: &Index,
    i: usize,
    attached_to: &super::super::raw::Ref,
    diags: &mut Vec<Diagnostic>,
) {
    let node = &process.nodes[i];
    match index.node_by_id.get(&attached_to.id).map(|&n| &process.nodes[n]) {
        None => diags.push(
            Diagnostic::error(
                Code::InvalidBoundary,
                attached_to.pos,
                format!(
                    "boundary event `{}` is attached to `{}`, which is no element of this process",
                    node.id, attached_to.id
                ),
            )
            .element(&node.id),
        ),
        // An unsupported element has its own diagnostic already. A message throw event runs
        // as a service task, but is an event: only a send task carries boundary events.
        Some(target)
            if !matches!(
                target.kind,
                RawKind::UserTask(_)
                    | RawKind::ServiceTask(_)
                    | RawKind::MessageCatch {
                        receive_task: true,
                        ..
                    }
                    | RawKind::SubProcess
                    | RawKind::CallActivity(_)
                    | RawKind::Unsupported
            ) || matches!(&target.kind, RawKind::ServiceTask(t)
                    if t.throw.as_ref().is_some_and(|m| m.element != crate::bpmn::elements::ThrowElement::SendTask)) =>
        {
            diags.push(
                Diagnostic::error(
                    Code::InvalidBoundary,
                    attached_to.pos,
                    format!(
                        "boundary event `{}` is attached to <{}> `{}`; flyt attaches boundary events to tasks, sub-processes and call activities",
                        node.id, target.qname, target.id
                    ),
                )
                .element(&node.id)
                .hint("attach it to a user task, a service task, a receive task, a sub-process or a call activity"),
            )
        }
        Some(_) => {}
    }
    if !index.incoming[i].is_empty() {
        diags.push(
            Diagnostic::error(
                Code::MisplacedFlow,
                node.pos,
                format!(
                    "boundary event `{}` has an incoming sequence flow; it is entered through the task it is attached to",
                    node.id
                ),
            )
            .element(&node.id),
        );
    }
}

/// An `escalationRef` names an `<escalation>` of the definitions.
fn check_escalation_ref(
    process: &RawProcess,
    node: &super::super::raw::RawNode,
    escalation_ref: Option<&super::super::raw::Ref>,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(r) = escalation_ref
        && !process.escalations.contains_key(&r.id)
    {
        diags.push(
            Diagnostic::error(
                Code::UnknownReference,
                r.pos,
                format!(
                    "escalation event `{}` names escalationRef `{}`, which is no <escalation> of these definitions",
                    node.id, r.id
                ),
            )
            .element(&node.id)
            .hint("declare <bpmn:escalation id=\"...\" escalationCode=\"...\"/> beside the process, or leave escalationRef out"),
        );
    }
}

fn task_type_of(task: &super::super::elements::ServiceTask) -> &str {
    task.task_type.as_deref().unwrap_or_default()
}
