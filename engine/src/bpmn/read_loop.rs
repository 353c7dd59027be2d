//! Reading multi-instance characteristics and assignments (`bpmn::elements::multi_instance`,
//! `bpmn::elements::assignment`): every problem is reported where it is written.

use super::diagnostic::{Code, Diagnostic};
use super::elements::{AssigneeRule, Condition, Extension, Items, MultiInstance};
use super::xml::{Ns, XmlNode};
use crate::expr::Expr;

/// The `<bpmn:multiInstanceLoopCharacteristics>` of `node`, if it has one.
pub(crate) fn loop_of(node: &XmlNode) -> Option<&XmlNode> {
    node.child(&Ns::Bpmn, "multiInstanceLoopCharacteristics")
}

/// Reads the multi-instance characteristics of activity `node` (`None`: it has none, or they
/// are wrong, each problem reported).
pub(crate) fn multi_instance(node: &XmlNode, diags: &mut Vec<Diagnostic>) -> Option<MultiInstance> {
    let looped = loop_of(node)?;
    let id = node.attr("id").unwrap_or("");
    let error = |pos, message: String| {
        Diagnostic::error(Code::InvalidMultiInstance, pos, message).element(id)
    };
    let before = diags.len();
    let sequential = match looped.attr("isSequential").map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            diags.push(error(
                looped.pos,
                format!("isSequential of `{id}` is `{other}`: it must be `true` or `false`"),
            ));
            false
        }
    };
    for child in &looped.children {
        if child.ns != Ns::Bpmn {
            continue;
        }
        match child.name.as_str() {
            "extensionElements" | "completionCondition" | "documentation" | "loopCardinality" => {}
            other => diags.push(
                error(
                    child.pos,
                    format!("<{}> in the multi-instance characteristics of `{id}` is not read by flyt", child.qname),
                )
                .hint(format!(
                    "name the collection with <flyt:multiInstance collection='[\"dataModel\", \"items\", \"model\"]'/> inside <bpmn:extensionElements> (instead of <bpmn:{other}>)"
                )),
            ),
        }
    }
    let declared = looped
        .child(&Ns::Bpmn, "extensionElements")
        .and_then(|e| e.child(&Ns::Flyt, "multiInstance"));
    let cardinality = looped.child(&Ns::Bpmn, "loopCardinality");
    let items = match (declared, cardinality) {
        (Some(_), Some(c)) => {
            diags.push(error(
                c.pos,
                format!("`{id}` names both a collection and a loopCardinality: name one"),
            ));
            None
        }
        (None, Some(c)) => cardinality_of(c, id, diags).map(Items::Cardinality),
        (Some(declared), None) => match declared.attr("collection").map(str::trim) {
            None | Some("") => {
                diags.push(
                    error(
                        declared.pos,
                        format!("<flyt:multiInstance> of `{id}` has no collection"),
                    )
                    .hint("collection='[\"dataModel\", \"items\", \"model\"]': an expression giving an array"),
                );
                None
            }
            Some(text) => {
                expression(text, declared, "collection", id, diags).map(Items::Collection)
            }
        },
        (None, None) => {
            diags.push(
                error(
                    looped.pos,
                    format!("the multi-instance activity `{id}` names no collection"),
                )
                .hint("add <bpmn:extensionElements><flyt:multiInstance collection='[\"dataModel\", \"items\", \"model\"]'/></bpmn:extensionElements>, or a <bpmn:loopCardinality>"),
            );
            return None;
        }
    };
    let element_variable = declared
        .and_then(|d| d.attr("elementVariable"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    if let Some(name) = &element_variable
        && name != "element"
        && MultiInstance::VARIABLE_NAMES.contains(&name.as_str())
    {
        diags.push(error(
            declared.map_or(looped.pos, |d| d.pos),
            format!(
                "elementVariable `{name}` of `{id}` is the name of another multi-instance variable"
            ),
        ));
    }
    let completion = looped
        .child(&Ns::Bpmn, "completionCondition")
        .and_then(|c| match c.trimmed_text() {
            "" => {
                diags.push(error(
                    c.pos,
                    format!("the completion condition of `{id}` is empty"),
                ));
                None
            }
            text => expression(text, c, "completion condition", id, diags),
        });
    if diags.len() > before {
        return None;
    }
    Some(MultiInstance {
        sequential,
        items: items?,
        element_variable,
        completion,
    })
}

/// A `<bpmn:loopCardinality>`: an Altinn expression (a literal number is one); a JUEL
/// `${...}` is a script flyt does not run.
fn cardinality_of(at: &XmlNode, id: &str, diags: &mut Vec<Diagnostic>) -> Option<Condition> {
    let text = at.trimmed_text();
    if text.starts_with("${") || text.starts_with("#{") {
        diags.push(
            Diagnostic::error(
                Code::UnsupportedScript,
                at.pos,
                format!("unsupported script: the loopCardinality of `{id}` is a JUEL/JavaScript `${{...}}` expression"),
            )
            .element(id)
            .hint("write a number, or an Altinn expression such as [\"dataModel\", \"count\", \"model\"]"),
        );
        return None;
    }
    expression(text, at, "loopCardinality", id, diags)
}

/// Parses one expression written at `at`, reporting a failure as an invalid multi-instance.
fn expression(
    text: &str,
    at: &XmlNode,
    what: &str,
    id: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Condition> {
    match Expr::parse(text) {
        Ok(expr) => Some(Condition {
            expr,
            text: text.to_string(),
            pos: at.pos,
        }),
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidMultiInstance,
                    at.pos,
                    format!("the {what} of `{id}` is not a valid expression: {e}"),
                )
                .element(id),
            );
            None
        }
    }
}

/// The `<flyt:assignee>` of a user task's flyt extension elements.
pub(crate) fn assignee(
    flyt: &Extension,
    id: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<AssigneeRule> {
    let node = flyt.get("assignee")?;
    let error = |message: String| {
        Diagnostic::error(Code::InvalidAssignment, node.pos, message)
            .element(id)
            .hint("write exactly one of person='[\"dataModel\", \"signer.pid\", \"model\"]', organisation='…' or role=\"DAGL\"")
    };
    let given: Vec<(&str, &str)> = ["person", "organisation", "role"]
        .into_iter()
        .filter_map(|k| node.attr(k).map(|v| (k, v.trim())))
        .collect();
    let [(kind, text)] = given.as_slice() else {
        diags.push(error(format!(
            "<flyt:assignee> of `{id}` names {} of person, organisation and role: it must name one",
            if given.is_empty() { "none" } else { "several" }
        )));
        return None;
    };
    if text.is_empty() {
        diags.push(error(format!(
            "<flyt:assignee> of `{id}` has an empty {kind}"
        )));
        return None;
    }
    if *kind == "role" {
        return Some(AssigneeRule::Role(text.to_string()));
    }
    let expr = match Expr::parse(text) {
        Ok(expr) => expr,
        Err(e) => {
            diags.push(error(format!(
                "the {kind} of <flyt:assignee> of `{id}` is not a valid expression: {e}"
            )));
            return None;
        }
    };
    let condition = Condition {
        expr,
        text: text.to_string(),
        pos: node.pos,
    };
    Some(match *kind {
        "person" => AssigneeRule::Person(condition),
        _ => AssigneeRule::Organisation(condition),
    })
}

/// An assignment written on `node`, which is not a user task: an error where it is written.
pub(crate) fn misplaced_assignee(node: &XmlNode, diags: &mut Vec<Diagnostic>) {
    let Some(written) = node
        .child(&Ns::Bpmn, "extensionElements")
        .and_then(|e| e.child(&Ns::Flyt, "assignee"))
    else {
        return;
    };
    let id = node.attr("id").unwrap_or("");
    diags.push(
        Diagnostic::error(
            Code::InvalidAssignment,
            written.pos,
            format!(
                "<flyt:assignee> on <{}> `{id}`: only a user task can be assigned",
                node.qname
            ),
        )
        .element(id)
        .hint("assign the user task where the person acts (a <bpmn:userTask> or an Altinn <bpmn:task>)"),
    );
}

/// A message boundary event on a multi-instance task is not run (its subscription would be
/// the whole's, which flyt does not arm; on a sub-process it is refused already): an error
/// where the boundary is written.
pub(crate) fn check_boundaries(process: &super::raw::RawProcess, diags: &mut Vec<Diagnostic>) {
    use super::raw::RawKind;
    for node in &process.nodes {
        let RawKind::MessageBoundary { attached_to, .. } = &node.kind else {
            continue;
        };
        let looped = process.nodes.iter().any(|n| {
            n.id == attached_to.id
                && n.multi.is_some()
                && matches!(
                    n.kind,
                    RawKind::UserTask(_) | RawKind::ServiceTask(_) | RawKind::CallActivity(_)
                )
        });
        if looped {
            diags.push(
                Diagnostic::error(
                    Code::InvalidBoundary,
                    node.pos,
                    format!(
                        "message boundary event `{}` is on the multi-instance activity `{}`: flyt does not run message boundaries there",
                        node.id, attached_to.id
                    ),
                )
                .element(node.id.clone())
                .hint("a timer or error boundary event on it applies to every inner instance"),
            );
        }
    }
}
