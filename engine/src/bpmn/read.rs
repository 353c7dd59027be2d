//! From the XML tree to raw structs: which element is what, by namespace URI and local name.

use super::diagnostic::{Code, Diagnostic};
use super::elements::timer::{Timer, TimerKind, TimerValue};
use super::elements::{
    Action, ActionKind, ExclusiveGateway, Extension, InclusiveGateway, ServiceTask,
    SignatureConfig, UserTask, UserTaskType,
};
use super::raw::{RawCondition, RawFlow, RawKind, RawNode, RawProcess, Ref, StartTrigger};
use super::xml::{Ns, XmlNode};
use crate::ids::DataTypeId;

/// Flow nodes flyt recognises but does not execute (yet).
const UNSUPPORTED_FLOW_NODES: &[&str] = &[
    "implicitThrowEvent",
    "transaction",
    "adHocSubProcess",
    "businessRuleTask",
    "complexGateway",
    "choreographyTask",
    "callChoreography",
    "subChoreography",
];

/// Process children that carry no execution semantics in flyt: lanes, data, artifacts, docs.
const IGNORED_PROCESS_CHILDREN: &[&str] = &[
    "laneSet",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "textAnnotation",
    "association",
    "group",
    "documentation",
    "extensionElements",
    "ioSpecification",
    "ioBinding",
    "property",
    "auditing",
    "monitoring",
    "category",
    "correlationSubscription",
    "resourceRole",
    "performer",
    "humanPerformer",
    "potentialOwner",
    "supports",
];

/// Children of an activity that flyt ignores (data and resource assignment; flyt authorises by
/// the app's policy instead).
const IGNORED_ACTIVITY_CHILDREN: &[&str] = &[
    "incoming",
    "outgoing",
    "documentation",
    "extensionElements",
    "ioSpecification",
    "property",
    "dataInputAssociation",
    "dataOutputAssociation",
    "dataInput",
    "dataOutput",
    "inputSet",
    "outputSet",
    "resourceRole",
    "performer",
    "humanPerformer",
    "potentialOwner",
    "rendering",
    "auditing",
    "monitoring",
    "categoryValueRef",
];

/// A loop flyt does not run (a multi-instance activity, `multiInstanceLoopCharacteristics`, it
/// does: `read_loop`).
const STANDARD_LOOP: &str = "standardLoopCharacteristics";

/// The raw model of a file: its executable processes (in file order), and what reading already
/// found wrong.
#[derive(Debug, Default)]
pub(crate) struct RawModel {
    pub processes: Vec<RawProcess>,
    pub diagnostics: Vec<Diagnostic>,
}

pub(crate) fn read_model(root: &XmlNode) -> Result<RawModel, Diagnostic> {
    if root.ns != Ns::Bpmn || root.name != "definitions" {
        let found = match &root.ns {
            Ns::Bpmn => format!("<{}> in the BPMN namespace", root.name),
            Ns::Other(uri) => format!("<{}> in namespace {uri}", root.name),
            Ns::None => format!("<{}> without a namespace", root.name),
            _ => format!("<{}>", root.qname),
        };
        return Err(Diagnostic::error(
            Code::NotBpmn,
            root.pos,
            format!("expected a BPMN 2.0 <definitions> root element, found {found}"),
        )
        .hint(format!(
            "declare xmlns:bpmn=\"{}\" and use <bpmn:definitions>",
            super::xml::BPMN_MODEL_NS
        )));
    }

    let mut model = RawModel::default();
    let processes: Vec<&XmlNode> = root.children_named(&Ns::Bpmn, "process").collect();
    if processes.is_empty() {
        model.diagnostics.push(
            Diagnostic::error(
                Code::NoProcess,
                root.pos,
                "the definitions contain no <process>",
            )
            .hint("add a <bpmn:process> with a start event, tasks and an end event"),
        );
        return Ok(model);
    }
    // A collaboration may hold several pools. Pools without flow nodes (black-box participants)
    // do not count, nor do pools marked isExecutable="false" (other participants' processes,
    // drawn for the picture) while another pool is executable. When none is marked executable,
    // every pool with content counts (Altinn Studio writes isExecutable="false" on an app's only
    // process, and Altinn runs it). Which one an instance starts in is `compile`'s choice.
    let with_content: Vec<&XmlNode> = processes
        .iter()
        .filter(|p| p.children.iter().any(is_flow_content))
        .copied()
        .collect();
    let marked: Vec<&XmlNode> = with_content
        .iter()
        .filter(|p| p.attr("isExecutable") != Some("false"))
        .copied()
        .collect();
    let candidates = match (marked.is_empty(), with_content.is_empty()) {
        (false, _) => marked,
        (true, false) => with_content,
        (true, true) => vec![processes[0]],
    };
    let expression_language = root.attr("expressionLanguage").map(str::to_string);
    // `<error id="..." errorCode="...">`: what error events refer to (the code, or the id when
    // no code is given).
    let mut errors = std::collections::HashMap::new();
    for error in root.children_named(&Ns::Bpmn, "error") {
        if let Some(id) = error.attr("id") {
            let code = error.attr("errorCode").unwrap_or(id);
            errors.insert(id.to_string(), code.to_string());
        }
    }
    let mut escalations = std::collections::HashMap::new();
    for escalation in root.children_named(&Ns::Bpmn, "escalation") {
        if let Some(id) = escalation.attr("id") {
            let code = escalation.attr("escalationCode").unwrap_or(id);
            escalations.insert(id.to_string(), code.to_string());
        }
    }
    let messages = super::read_messages::read_messages(root);
    let signals = super::read_signals::read_signals(root);
    for node in candidates {
        let mut process = read_process(node, &mut model.diagnostics);
        process.expression_language = expression_language.clone();
        process.errors = errors.clone();
        process.escalations = escalations.clone();
        process.messages = messages.clone();
        process.signals = signals.clone();
        model.processes.push(process);
    }
    super::read_throw::name_messages(root, &mut model.processes);
    message_flows(root, &mut model.diagnostics);
    Ok(model)
}

/// Message flows between pools are drawn, not executed: each is a warning, so a collaboration
/// still loads.
fn message_flows(root: &XmlNode, diags: &mut Vec<Diagnostic>) {
    for collaboration in root.children_named(&Ns::Bpmn, "collaboration") {
        for flow in collaboration.children_named(&Ns::Bpmn, "messageFlow") {
            let id = flow.attr("id").unwrap_or("");
            diags.push(
                Diagnostic::warning(
                    Code::IgnoredMessageFlow,
                    flow.pos,
                    format!(
                        "message flow `{id}` ({} → {}) is not executed: flyt sends no messages between pools",
                        flow.attr("sourceRef").unwrap_or("?"),
                        flow.attr("targetRef").unwrap_or("?")
                    ),
                )
                .element(id)
                .hint("to start another app's process, use a createInstance service task"),
            );
        }
    }
}

fn is_flow_content(node: &XmlNode) -> bool {
    node.ns == Ns::Bpmn
        && !IGNORED_PROCESS_CHILDREN.contains(&node.name.as_str())
        && node.name != "sequenceFlow"
}

fn read_process(node: &XmlNode, diags: &mut Vec<Diagnostic>) -> RawProcess {
    let mut process = RawProcess {
        id: node.attr("id").unwrap_or_default().to_string(),
        name: node.attr("name").map(str::to_string),
        pos: node.pos,
        ..RawProcess::default()
    };
    read_scope(node, None, &mut process, diags);
    process
}

/// Reads the flow elements of a process or sub-process into one flat list, each with the scope
/// it is written in; a sub-process's inside follows the sub-process node. The XML reader bounds
/// the depth, so the recursion is bounded too.
fn read_scope(
    node: &XmlNode,
    scope: Option<usize>,
    process: &mut RawProcess,
    diags: &mut Vec<Diagnostic>,
) {
    for child in &node.children {
        if child.ns != Ns::Bpmn {
            continue; // vendor extensions outside extensionElements carry no semantics
        }
        let name = child.name.as_str();
        // A sub-process is also an activity: its own incoming/outgoing lists, data associations
        // and the like are not flow elements of its inside.
        // Its multi-instance characteristics are read with it (`read_loop`).
        let activity_child = scope.is_some()
            && (IGNORED_ACTIVITY_CHILDREN.contains(&name)
                || name == "multiInstanceLoopCharacteristics");
        if IGNORED_PROCESS_CHILDREN.contains(&name) || activity_child {
            continue;
        }
        if name == "sequenceFlow" {
            if let Some(mut flow) = read_flow(child, diags) {
                flow.scope = scope;
                process.flows.push(flow);
            }
            continue;
        }
        if let Some(mut raw) = read_node(child, diags) {
            if raw.kind == RawKind::Unsupported {
                process.has_unsupported = true;
            }
            raw.scope = scope;
            let inner = matches!(
                raw.kind,
                RawKind::SubProcess | RawKind::EventSubProcess { .. }
            );
            process.nodes.push(raw);
            if inner {
                let index = process.nodes.len() - 1;
                read_scope(child, Some(index), process, diags);
            }
        }
    }
}

/// An activity flyt cannot run as drawn (a standard loop, or a compensation handler): the
/// diagnostic, as [`unsupported`]; `None` for one it can.
fn unexecutable_activity(
    node: &XmlNode,
    qname: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<RawKind> {
    let looped = node
        .children
        .iter()
        .find(|c| c.ns == Ns::Bpmn && c.name == STANDARD_LOOP);
    if let Some(looped) = looped {
        Some(unsupported(
            node,
            format!("<{qname}> with <{}>", looped.name),
            diags,
        ))
    } else if node.attr("isForCompensation") == Some("true") {
        Some(unsupported(node, format!("compensation <{qname}>"), diags))
    } else {
        None
    }
}

fn unsupported(node: &XmlNode, what: String, diags: &mut Vec<Diagnostic>) -> RawKind {
    let id = node.attr("id").unwrap_or("");
    diags.push(
        Diagnostic::error(
            Code::UnsupportedElement,
            node.pos,
            format!("unsupported element: {what} `{id}` cannot be executed by flyt"),
        )
        .element(id)
        .hint(
            "flyt executes startEvent (none, timer), endEvent (none, terminate, error), task, \
             userTask, manualTask, serviceTask, exclusiveGateway, inclusiveGateway, \
             parallelGateway, sequenceFlow, embedded subProcess, callActivity, timer-, error-, escalation-, message- and signal-started event subProcess, receiveTask, timer, message and signal intermediateCatchEvent, signal start, throw, boundary and end events, timer \
             boundaryEvent, error boundaryEvent, link and escalation events, and none \
             intermediateThrowEvent",
        ),
    );
    RawKind::Unsupported
}

/// A script task: refused with the language it is written in (flyt runs no scripts).
fn script_task(node: &XmlNode, diags: &mut Vec<Diagnostic>) -> RawKind {
    let id = node.attr("id").unwrap_or("");
    let language = match node.attr("scriptFormat").map(str::trim) {
        Some(format) if !format.is_empty() => {
            format!("{} (scriptFormat=\"{format}\")", language_name(format))
        }
        _ => "an unnamed language (no scriptFormat)".to_string(),
    };
    diags.push(
        Diagnostic::error(
            Code::UnsupportedScript,
            node.pos,
            format!(
                "unsupported script: <{}> `{id}` runs a script in {language}; flyt runs no scripts",
                node.qname
            ),
        )
        .element(id)
        .hint("do the work in a <bpmn:serviceTask> whose handler is registered with the server (flyt:type=\"...\")"),
    );
    RawKind::Unsupported
}

/// A readable name for a script or expression language as files name it (a MIME type, a URI,
/// a short name), for messages.
pub(crate) fn language_name(written: &str) -> &'static str {
    let l = written.to_ascii_lowercase();
    let has = |s: &str| l.contains(s);
    if has("javascript") || has("ecmascript") || l == "js" || l.ends_with("/js") {
        "JavaScript"
    } else if has("juel") || has("/el") || l == "el" {
        "JUEL"
    } else if has("xpath") {
        "XPath"
    } else if has("feel") {
        "FEEL"
    } else if has("groovy") {
        "Groovy"
    } else if has("python") || l == "py" {
        "Python"
    } else if has("java") {
        "Java"
    } else {
        "a language flyt does not evaluate"
    }
}

fn read_node(node: &XmlNode, diags: &mut Vec<Diagnostic>) -> Option<RawNode> {
    let name = node.name.as_str();
    let qname = &node.qname;
    let kind = match name {
        "startEvent" | "endEvent" | "intermediateThrowEvent" => {
            let definition = node.children.iter().find(|c| {
                c.ns == Ns::Bpmn
                    && (c.name.ends_with("EventDefinition") || c.name == "eventDefinitionRef")
            });
            match definition {
                Some(def) if name == "endEvent" && def.name == "terminateEventDefinition" => {
                    RawKind::TerminateEnd
                }
                Some(def)
                    if name == "intermediateThrowEvent" && def.name == "linkEventDefinition" =>
                {
                    RawKind::LinkThrow {
                        name: link_name(node, def),
                    }
                }
                Some(def) if name != "startEvent" && def.name == "escalationEventDefinition" => {
                    RawKind::EscalationThrow {
                        escalation_ref: def.attr("escalationRef").map(|r| Ref {
                            id: r.trim().to_string(),
                            pos: def.pos,
                        }),
                        end: name == "endEvent",
                    }
                }
                Some(def) if name == "endEvent" && def.name == "errorEventDefinition" => {
                    RawKind::ErrorEnd {
                        error_ref: def.attr("errorRef").map(|r| Ref {
                            id: r.trim().to_string(),
                            pos: def.pos,
                        }),
                    }
                }
                Some(def) if name == "startEvent" && def.name == "escalationEventDefinition" => {
                    RawKind::StartEvent(StartTrigger::Escalation(def.attr("escalationRef").map(
                        |r| Ref {
                            id: r.trim().to_string(),
                            pos: def.pos,
                        },
                    )))
                }
                Some(def) if name == "startEvent" && def.name == "errorEventDefinition" => {
                    RawKind::StartEvent(StartTrigger::Error(def.attr("errorRef").map(|r| Ref {
                        id: r.trim().to_string(),
                        pos: def.pos,
                    })))
                }
                Some(def) if name == "startEvent" && def.name == "timerEventDefinition" => {
                    read_start_timer(node, def, diags)
                }
                Some(def) if name == "startEvent" && def.name == "messageEventDefinition" => {
                    RawKind::StartEvent(StartTrigger::Message(
                        def.attr("messageRef")
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(|r| Ref {
                                id: r.to_string(),
                                pos: def.pos,
                            }),
                        super::read_messages::subscription_of(node),
                    ))
                }
                Some(def) if name != "startEvent" && def.name == "messageEventDefinition" => {
                    super::read_throw::message_throw(node, Some(def))
                }
                Some(def) if def.name == "signalEventDefinition" => {
                    super::read_signals::signal_event(name, def)
                }
                Some(def) => unsupported(node, format!("<{qname}> with <{}>", def.name), diags),
                None if name == "startEvent" => RawKind::StartEvent(StartTrigger::None),
                None if name == "endEvent" => RawKind::EndEvent,
                None => RawKind::ThrowNone,
            }
        }
        // A manual task waits like a user task (flyt cannot tell that it was done otherwise).
        "task" | "userTask" | "serviceTask" | "manualTask" => {
            unexecutable_activity(node, qname, diags).unwrap_or_else(|| read_task(node, diags))
        }
        "intermediateCatchEvent" | "boundaryEvent" => {
            let definitions: Vec<&XmlNode> = node
                .children
                .iter()
                .filter(|c| {
                    c.ns == Ns::Bpmn
                        && (c.name.ends_with("EventDefinition") || c.name == "eventDefinitionRef")
                })
                .collect();
            match definitions.as_slice() {
                [def] if def.name == "errorEventDefinition" && name == "boundaryEvent" => {
                    match node.attr("attachedToRef").filter(|a| !a.trim().is_empty()) {
                        Some(attached) => RawKind::ErrorBoundary {
                            attached_to: Ref {
                                id: attached.trim().to_string(),
                                pos: node.pos,
                            },
                            error_ref: def.attr("errorRef").map(|r| Ref {
                                id: r.trim().to_string(),
                                pos: def.pos,
                            }),
                        },
                        None => {
                            unsupported(node, format!("<{qname}> without attachedToRef"), diags)
                        }
                    }
                }
                [def] if def.name == "escalationEventDefinition" && name == "boundaryEvent" => {
                    match node.attr("attachedToRef").filter(|a| !a.trim().is_empty()) {
                        Some(attached) => RawKind::EscalationBoundary {
                            attached_to: Ref {
                                id: attached.trim().to_string(),
                                pos: node.pos,
                            },
                            escalation_ref: def.attr("escalationRef").map(|r| Ref {
                                id: r.trim().to_string(),
                                pos: def.pos,
                            }),
                            cancel_activity: node.attr("cancelActivity") != Some("false"),
                        },
                        None => {
                            unsupported(node, format!("<{qname}> without attachedToRef"), diags)
                        }
                    }
                }
                [def] if def.name == "linkEventDefinition" && name == "intermediateCatchEvent" => {
                    RawKind::LinkCatch {
                        name: link_name(node, def),
                    }
                }
                [def]
                    if def.name == "messageEventDefinition" && name == "intermediateCatchEvent" =>
                {
                    super::read_messages::message_catch(node, def, false)
                }
                [def] if def.name == "messageEventDefinition" && name == "boundaryEvent" => {
                    match node.attr("attachedToRef").filter(|a| !a.trim().is_empty()) {
                        Some(attached) => super::read_messages::message_boundary(
                            node,
                            def,
                            Ref {
                                id: attached.trim().to_string(),
                                pos: node.pos,
                            },
                        ),
                        None => {
                            unsupported(node, format!("<{qname}> without attachedToRef"), diags)
                        }
                    }
                }
                [def]
                    if def.name == "signalEventDefinition" && name == "intermediateCatchEvent" =>
                {
                    super::read_signals::signal_catch(def)
                }
                [def] if def.name == "signalEventDefinition" && name == "boundaryEvent" => {
                    match node.attr("attachedToRef").filter(|a| !a.trim().is_empty()) {
                        Some(attached) => super::read_signals::signal_boundary(
                            node,
                            def,
                            Ref {
                                id: attached.trim().to_string(),
                                pos: node.pos,
                            },
                        ),
                        None => {
                            unsupported(node, format!("<{qname}> without attachedToRef"), diags)
                        }
                    }
                }
                [def] if def.name == "timerEventDefinition" => {
                    match read_timer(def, node.attr("id").unwrap_or(""), diags) {
                        None => RawKind::Unsupported,
                        Some(timer) if name == "intermediateCatchEvent" => {
                            RawKind::TimerCatch(timer)
                        }
                        Some(timer) => match node.attr("attachedToRef") {
                            Some(attached) if !attached.trim().is_empty() => RawKind::Boundary {
                                attached_to: Ref {
                                    id: attached.trim().to_string(),
                                    pos: node.pos,
                                },
                                cancel_activity: node.attr("cancelActivity") != Some("false"),
                                timer,
                            },
                            _ => {
                                diags.push(
                                    Diagnostic::error(
                                        Code::InvalidBoundary,
                                        node.pos,
                                        format!(
                                            "boundary event `{}` has no attachedToRef",
                                            node.attr("id").unwrap_or("")
                                        ),
                                    )
                                    .element(node.attr("id").unwrap_or(""))
                                    .hint("set attachedToRef to the id of the task it watches"),
                                );
                                RawKind::Unsupported
                            }
                        },
                    }
                }
                [def] => unsupported(node, format!("<{qname}> with <{}>", def.name), diags),
                [] => unsupported(
                    node,
                    format!("<{qname}> without an event definition"),
                    diags,
                ),
                _ => unsupported(
                    node,
                    format!("<{qname}> with several event definitions"),
                    diags,
                ),
            }
        }
        "subProcess" => {
            let looped = node
                .children
                .iter()
                .find(|c| c.ns == Ns::Bpmn && c.name == STANDARD_LOOP);
            if node.attr("triggeredByEvent") == Some("true") {
                let starts = || {
                    node.children
                        .iter()
                        .filter(|c| c.ns == Ns::Bpmn && c.name == "startEvent")
                };
                // Only timer, error, escalation, message and signal starts run; another trigger refuses
                // the event sub-process by name (its inside is not read).
                let trigger = starts().find_map(|s| {
                    s.children.iter().find(|c| {
                        c.ns == Ns::Bpmn
                            && (c.name.ends_with("EventDefinition")
                                || c.name == "eventDefinitionRef")
                            && c.name != "timerEventDefinition"
                            && c.name != "errorEventDefinition"
                            && c.name != "escalationEventDefinition"
                            && c.name != "messageEventDefinition"
                            && c.name != "signalEventDefinition"
                    })
                });
                match trigger {
                    Some(def) => unsupported(
                        node,
                        format!("event sub-process <{qname}> started by <{}>", def.name),
                        diags,
                    ),
                    None => RawKind::EventSubProcess {
                        interrupting: starts().next().and_then(|s| s.attr("isInterrupting"))
                            != Some("false"),
                    },
                }
            } else if let Some(looped) = looped {
                unsupported(node, format!("<{qname}> with <{}>", looped.name), diags)
            } else if node.attr("isForCompensation") == Some("true") {
                unsupported(node, format!("compensation <{qname}>"), diags)
            } else if !node.children.iter().any(|c| {
                is_flow_content(c) && !IGNORED_ACTIVITY_CHILDREN.contains(&c.name.as_str())
            }) {
                // A collapsed sub-process drawn without its inside: nothing to run.
                unsupported(node, format!("<{qname}> with no content"), diags)
            } else {
                RawKind::SubProcess
            }
        }
        "receiveTask" => {
            let looped = node
                .children
                .iter()
                .find(|c| c.ns == Ns::Bpmn && c.name.ends_with("LoopCharacteristics"));
            match looped {
                Some(looped) => {
                    unsupported(node, format!("<{qname}> with <{}>", looped.name), diags)
                }
                None => super::read_messages::message_catch(node, node, true),
            }
        }
        "exclusiveGateway" => RawKind::ExclusiveGateway(ExclusiveGateway {
            default: None, // resolved by the validator from `default`
            connected_data_type: gateway_data_type(node),
        }),
        "scriptTask" => script_task(node, diags),
        "inclusiveGateway" => RawKind::InclusiveGateway(InclusiveGateway {
            default: None, // resolved by the validator from `default`
            connected_data_type: gateway_data_type(node),
        }),
        "parallelGateway" => RawKind::ParallelGateway,
        "eventBasedGateway" => RawKind::EventGateway,
        "sendTask" => super::read_throw::message_throw(node, None),
        "callActivity" => unexecutable_activity(node, qname, diags)
            .unwrap_or_else(|| super::read_call::call_activity(node, diags)),
        other if UNSUPPORTED_FLOW_NODES.contains(&other) => {
            unsupported(node, format!("<{qname}>"), diags)
        }
        _ => unsupported(node, format!("unknown BPMN element <{qname}>"), diags),
    };

    let Some(id) = node.attr("id").filter(|id| !id.trim().is_empty()) else {
        diags.push(
            Diagnostic::error(Code::MissingId, node.pos, format!("<{qname}> has no id"))
                .hint("every flow element needs a unique id attribute"),
        );
        return None;
    };

    let refs = |child_name: &str| -> Vec<Ref> {
        node.children_named(&Ns::Bpmn, child_name)
            .map(|c| Ref {
                id: c.trimmed_text().to_string(),
                pos: c.pos,
            })
            .collect()
    };
    // Multi-instance: user and service tasks, embedded sub-processes and call activities (not
    // message throws).
    let multi_instance_activity = matches!(
        &kind,
        RawKind::UserTask(_) | RawKind::SubProcess | RawKind::CallActivity(_)
    ) || matches!(&kind, RawKind::ServiceTask(t) if t.throw.is_none());
    let multi = if multi_instance_activity {
        super::read_loop::multi_instance(node, diags)
    } else {
        None
    };
    // Wrong multi-instance characteristics (reported): nothing says how often it runs, so
    // neither it nor its inside is checked further, as for an unsupported element.
    let kind = if multi_instance_activity
        && multi.is_none()
        && super::read_loop::loop_of(node).is_some()
    {
        RawKind::Unsupported
    } else {
        kind
    };
    if !matches!(&kind, RawKind::UserTask(_) | RawKind::Unsupported) {
        super::read_loop::misplaced_assignee(node, diags);
    }
    // A sub-process's children are its inside, read by `read_scope`.
    if !matches!(
        kind,
        RawKind::Unsupported | RawKind::SubProcess | RawKind::EventSubProcess { .. }
    ) {
        for child in &node.children {
            let known = IGNORED_ACTIVITY_CHILDREN.contains(&child.name.as_str())
                || (child.name == "multiInstanceLoopCharacteristics" && multi_instance_activity)
                || child.name.ends_with("EventDefinition")
                || child.name == "conditionExpression";
            if child.ns == Ns::Bpmn && !known {
                diags.push(
                    Diagnostic::error(
                        Code::UnsupportedElement,
                        child.pos,
                        format!(
                            "unsupported element: <{}> inside <{qname}> `{id}`",
                            child.qname
                        ),
                    )
                    .element(id),
                );
            }
        }
    }
    let signal_subscription = super::read_signals::catches_signal(&kind)
        .then(|| super::read_messages::subscription_of(node))
        .flatten();
    Some(RawNode {
        id: id.to_string(),
        name: node.attr("name").map(str::to_string),
        qname: qname.clone(),
        pos: node.pos,
        kind,
        incoming: refs("incoming"),
        outgoing: refs("outgoing"),
        default: node.attr("default").map(|d| Ref {
            id: d.to_string(),
            pos: node.pos,
        }),
        scope: None,
        multi,
        signal_subscription,
    })
}

/// A timer start event: a literal date, duration (once, that long after the deploy) or cycle.
/// An expression makes no sense there (there is no instance whose data it could read yet).
fn read_start_timer(node: &XmlNode, def: &XmlNode, diags: &mut Vec<Diagnostic>) -> RawKind {
    let id = node.attr("id").unwrap_or("");
    let Some(timer) = read_timer(def, id, diags) else {
        return RawKind::Unsupported;
    };
    if let TimerValue::Expression { kind, text, .. } = &timer.value {
        let pos = def
            .children
            .iter()
            .find(|c| c.ns == Ns::Bpmn && c.name == kind.element_name())
            .map_or(def.pos, |c| c.pos);
        diags.push(
            Diagnostic::error(
                Code::InvalidTimer,
                pos,
                format!(
                    "the <{}> of timer start event `{id}` is an expression (`{text}`): a start event has no instance whose data it could read",
                    kind.element_name()
                ),
            )
            .element(id)
            .hint("a literal such as R/2027-01-01T00:00:00Z/P1M, 2027-01-01T09:00:00Z or PT1H"),
        );
        return RawKind::Unsupported;
    }
    RawKind::StartEvent(StartTrigger::Timer(timer))
}

/// `<timerEventDefinition>`: exactly one of `timeDuration`, `timeDate`, `timeCycle`, a literal
/// or an Altinn expression (`[...]`) evaluated when the timer is armed.
fn read_timer(def: &XmlNode, id: &str, diags: &mut Vec<Diagnostic>) -> Option<Timer> {
    let values: Vec<(&XmlNode, TimerKind)> = def
        .children
        .iter()
        .filter(|c| c.ns == Ns::Bpmn)
        .filter_map(|c| match c.name.as_str() {
            "timeDuration" => Some((c, TimerKind::Duration)),
            "timeDate" => Some((c, TimerKind::Date)),
            "timeCycle" => Some((c, TimerKind::Cycle)),
            _ => None,
        })
        .collect();
    let [(value, kind)] = values.as_slice() else {
        diags.push(
            Diagnostic::error(
                Code::InvalidTimer,
                def.pos,
                format!(
                    "the timer of `{id}` has no value: it has {} of <timeDuration>, <timeDate>, <timeCycle>, and needs exactly one",
                    values.len()
                ),
            )
            .element(id)
            .hint("e.g. <bpmn:timeDuration>PT15M</bpmn:timeDuration>"),
        );
        return None;
    };
    let text = value.trimmed_text();
    if text.is_empty() {
        diags.push(
            Diagnostic::error(
                Code::InvalidTimer,
                value.pos,
                format!(
                    "the timer of `{id}` has no value: its <{}> is empty",
                    kind.element_name()
                ),
            )
            .element(id)
            .hint("e.g. <bpmn:timeDuration>PT15M</bpmn:timeDuration>"),
        );
        return None;
    }
    let invalid = |message: String| {
        Diagnostic::error(Code::InvalidTimer, value.pos, message)
            .element(id)
            .hint(match kind {
                TimerKind::Duration => {
                    "an ISO 8601 duration such as PT15M or P14D, or an expression [...]"
                }
                TimerKind::Date => {
                    "an RFC 3339 date-time such as 2027-01-01T09:00:00Z, or an expression [...]"
                }
                TimerKind::Cycle => {
                    "an ISO 8601 repeating interval such as R3/PT1H or R/2027-01-01T00:00:00Z/P1M"
                }
            })
    };
    if text.starts_with("${") || text.starts_with("#{") {
        let shown: String = text.chars().take(60).collect();
        diags.push(
            Diagnostic::error(
                Code::UnsupportedScript,
                value.pos,
                format!(
                    "unsupported script: the <{}> of `{id}` is a JUEL/JavaScript `${{...}}` expression: `{shown}`",
                    kind.element_name()
                ),
            )
            .element(id)
            .hint("write the value, or an Altinn expression in [...], e.g. [\"dataModel\", \"deadline\"]"),
        );
        return None;
    }
    if text.starts_with('[') {
        return match crate::expr::Expr::parse(text) {
            Ok(expr) => Some(Timer {
                value: TimerValue::Expression {
                    expr,
                    kind: *kind,
                    text: text.to_string(),
                },
            }),
            Err(e) => {
                diags.push(invalid(format!(
                    "the <{}> of `{id}` is not a valid expression: {e}",
                    kind.element_name()
                )));
                None
            }
        };
    }
    match kind.parse(text) {
        Ok(value) => Some(Timer { value }),
        Err(e) => {
            diags.push(invalid(format!(
                "the <{}> of `{id}`: {e}",
                kind.element_name()
            )));
            None
        }
    }
}

fn read_flow(node: &XmlNode, diags: &mut Vec<Diagnostic>) -> Option<RawFlow> {
    let Some(id) = node.attr("id").filter(|id| !id.trim().is_empty()) else {
        diags.push(
            Diagnostic::error(
                Code::MissingId,
                node.pos,
                format!("<{}> has no id", node.qname),
            )
            .hint("every flow element needs a unique id attribute"),
        );
        return None;
    };
    let reference = |attr: &str| {
        node.attr(attr).map(|value| Ref {
            id: value.to_string(),
            pos: node.pos,
        })
    };
    let condition = node
        .child(&Ns::Bpmn, "conditionExpression")
        .map(|c| RawCondition {
            text: c.text.clone(),
            language: c.attr("language").map(str::to_string),
            pos: c.pos,
        });
    Some(RawFlow {
        id: id.to_string(),
        name: node.attr("name").map(str::to_string),
        pos: node.pos,
        source: reference("sourceRef"),
        target: reference("targetRef"),
        condition,
        scope: None,
    })
}

fn gateway_data_type(node: &XmlNode) -> Option<DataTypeId> {
    let ext = node.child(&Ns::Bpmn, "extensionElements")?;
    let gateway = ext.child(&Ns::Altinn, "gatewayExtension")?;
    let id = gateway.child(&Ns::Altinn, "connectedDataTypeId")?;
    let id = id.trimmed_text();
    (!id.is_empty()).then(|| DataTypeId::new(id))
}

/// Everything the Altinn and flyt extensions say about a task.
struct TaskExtension {
    task_type: Option<String>,
    actions: Vec<Action>,
    config: Extension,
    flyt: Extension,
}

fn read_task_extension(node: &XmlNode, diags: &mut Vec<Diagnostic>) -> TaskExtension {
    let id = node.attr("id").unwrap_or("");
    // Older Altinn apps: <bpmn:task altinn:tasktype="data">.
    let attr_type = node
        .attr_ns(&Ns::Altinn, "tasktype")
        .or_else(|| node.attr_ns(&Ns::Altinn, "taskType"));
    let flyt_type = node.attr_ns(&Ns::Flyt, "type");
    let mut ext = TaskExtension {
        task_type: None,
        actions: Vec::new(),
        config: Extension::default(),
        flyt: Extension::default(),
    };
    let mut element_type: Option<(String, super::Pos)> = None;
    if let Some(elements) = node.child(&Ns::Bpmn, "extensionElements") {
        for child in &elements.children {
            match (&child.ns, child.name.as_str()) {
                (Ns::Altinn, "taskExtension") => {
                    for item in &child.children {
                        if item.ns != Ns::Altinn {
                            continue;
                        }
                        match item.name.as_str() {
                            "taskType" => {
                                element_type = Some((item.trimmed_text().to_string(), item.pos));
                            }
                            "actions" => read_actions(item, id, &mut ext.actions, diags),
                            _ => ext.config.nodes.push(item.clone()),
                        }
                    }
                }
                (Ns::Flyt, _) => ext.flyt.nodes.push(child.clone()),
                _ => {}
            }
        }
    }
    let declared: Vec<(&str, String)> = [
        element_type
            .as_ref()
            .map(|(t, _)| ("<altinn:taskType>", t.clone())),
        attr_type.map(|t| ("altinn:tasktype", t.trim().to_string())),
        flyt_type.map(|t| ("flyt:type", t.trim().to_string())),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (source, value) in &declared {
        if value.is_empty() {
            diags.push(
                Diagnostic::error(
                    Code::InvalidExtension,
                    element_type.as_ref().map_or(node.pos, |(_, p)| *p),
                    format!("{source} of `{id}` is empty"),
                )
                .element(id),
            );
        }
    }
    let mut non_empty = declared.iter().filter(|(_, v)| !v.is_empty());
    if let Some((first_source, first)) = non_empty.next() {
        for (source, other) in non_empty {
            if other != first {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidExtension,
                        node.pos,
                        format!("`{id}` has two task types: {first_source} says `{first}`, {source} says `{other}`"),
                    )
                    .element(id),
                );
            }
        }
        ext.task_type = Some(first.clone());
    }
    ext
}

fn read_actions(
    actions: &XmlNode,
    task_id: &str,
    out: &mut Vec<Action>,
    diags: &mut Vec<Diagnostic>,
) {
    for action in actions.children_named(&Ns::Altinn, "action") {
        // Two generations: <altinn:action>sign</altinn:action> and <altinn:action id="sign"/>.
        let name = action
            .attr("id")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(action.trimmed_text());
        if name.is_empty() {
            diags.push(
                Diagnostic::error(
                    Code::InvalidExtension,
                    action.pos,
                    "an <altinn:action> names no action",
                )
                .element(task_id)
                .hint("write <altinn:action>sign</altinn:action> or <altinn:action id=\"sign\"/>"),
            );
            continue;
        }
        let kind = match action.attr("type") {
            None | Some("processAction") => ActionKind::Process,
            Some("serverAction") => ActionKind::Server,
            Some(other) => {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidExtension,
                        action.pos,
                        format!("action `{name}` has unknown type `{other}`"),
                    )
                    .element(task_id)
                    .hint("use type=\"processAction\" (the default) or type=\"serverAction\""),
                );
                continue;
            }
        };
        if out.iter().any(|a| a.id == name) {
            diags.push(
                Diagnostic::warning(
                    Code::InvalidExtension,
                    action.pos,
                    format!("action `{name}` is listed twice on `{task_id}`"),
                )
                .element(task_id),
            );
            continue;
        }
        out.push(Action {
            id: name.to_string(),
            kind,
        });
    }
}

fn read_task(node: &XmlNode, diags: &mut Vec<Diagnostic>) -> RawKind {
    let id = node.attr("id").unwrap_or("");
    let ext = read_task_extension(node, diags);
    let is_service_element = node.name == "serviceTask";
    match ext.task_type.as_deref() {
        Some(t) if is_service_element => {
            if UserTaskType::from_altinn(t).is_some() {
                diags.push(
                    Diagnostic::error(
                        Code::TaskKindMismatch,
                        node.pos,
                        format!("<{}> `{id}` has the user task type `{t}`", node.qname),
                    )
                    .element(id)
                    .hint("user tasks are <bpmn:task> or <bpmn:userTask>; a serviceTask's type names its handler"),
                );
            }
            service(ext)
        }
        None if is_service_element => service(ext),
        Some(t) => match UserTaskType::from_altinn(t) {
            Some(task_type) => RawKind::UserTask(UserTask {
                task_type,
                actions: ext.actions,
                signature: signature_config(&ext.config, id, diags),
                assignee: super::read_loop::assignee(&ext.flyt, id, diags),
                config: ext.config,
                flyt: ext.flyt,
            }),
            None if node.name == "userTask" => {
                let mut d = Diagnostic::error(
                    Code::UnknownTaskType,
                    node.pos,
                    format!(
                        "unknown user task type `{t}` on <{}> `{id}`; user task types are {}",
                        node.qname,
                        UserTaskType::ALTINN_NAMES.join(", ")
                    ),
                )
                .element(id);
                if let Some(near) = nearest(t, UserTaskType::ALTINN_NAMES) {
                    d = d.hint(format!(
                        "did you mean `{near}`? (a service task is a <bpmn:serviceTask>)"
                    ));
                }
                diags.push(d);
                RawKind::Unsupported
            }
            // Altinn: on a <bpmn:task>, any other task type names a service task handler.
            None => service(ext),
        },
        None => RawKind::UserTask(UserTask {
            task_type: UserTaskType::Generic,
            actions: ext.actions,
            signature: signature_config(&ext.config, id, diags),
            assignee: super::read_loop::assignee(&ext.flyt, id, diags),
            config: ext.config,
            flyt: ext.flyt,
        }),
    }
}

/// `<altinn:signatureConfig>`: the data types to sign and the signature's own data type.
fn signature_config(
    config: &Extension,
    id: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<SignatureConfig> {
    let node = config.get("signatureConfig")?;
    let data_types_to_sign = node
        .children
        .iter()
        .filter(|c| c.name == "dataTypesToSign")
        .flat_map(|c| c.children.iter().filter(|d| d.name == "dataType"))
        .map(|d| d.trimmed_text().to_string())
        .filter(|d| !d.is_empty())
        .collect();
    let signature_data_type = node
        .children
        .iter()
        .find(|c| c.name == "signatureDataType")
        .map(|c| c.trimmed_text().to_string())
        .filter(|d| !d.is_empty());
    let signature_data_type = signature_data_type.unwrap_or_else(|| {
        diags.push(
            Diagnostic::warning(
                Code::InvalidExtension,
                node.pos,
                format!(
                    "<altinn:signatureConfig> of `{id}` names no <altinn:signatureDataType>; flyt stores signatures in data type `{}` (Altinn refuses to sign)",
                    SignatureConfig::DEFAULT_DATA_TYPE
                ),
            )
            .element(id)
            .hint("add <altinn:signatureDataType>…</altinn:signatureDataType> naming the data type that holds signatures"),
        );
        SignatureConfig::DEFAULT_DATA_TYPE.to_string()
    });
    Some(SignatureConfig {
        data_types_to_sign,
        signature_data_type,
    })
}

fn service(ext: TaskExtension) -> RawKind {
    RawKind::ServiceTask(ServiceTask {
        task_type: ext.task_type,
        actions: ext.actions,
        config: ext.config,
        flyt: ext.flyt,
        throw: None,
    })
}

/// The candidate closest to `word` (a prefix match, or a small edit distance), for "did you mean".
pub(crate) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            let cl = c.to_ascii_lowercase();
            let prefix = cl.starts_with(&lower) || lower.starts_with(&cl);
            (
                if prefix {
                    0
                } else {
                    edit_distance(&lower, &cl)
                },
                *c,
            )
        })
        .filter(|(d, _)| *d <= if lower.chars().count() >= 5 { 2 } else { 1 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours each cost one (`edn` → `end` is one edit).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// A link event's name: its `linkEventDefinition`'s `name`, else (as several modellers write
/// it) the event's own `name`; empty when neither is given (validation refuses that).
fn link_name(event: &XmlNode, def: &XmlNode) -> String {
    def.attr("name")
        .or_else(|| event.attr("name"))
        .map(|n| n.trim().to_string())
        .unwrap_or_default()
}
