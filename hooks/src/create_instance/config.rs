//! The `createInstance` configuration, read from flyt's extension namespace on the service task:
//!
//! ```xml
//! <bpmn:serviceTask id="SendToCase" flyt:type="createInstance">
//!   <bpmn:extensionElements>
//!     <flyt:createInstance target="acme/case-handling">
//!       <!-- whose instance: A's owner, a fixed organisation, or a value in A's data -->
//!       <flyt:owner organisationNumber="991825827"/>
//!       <!-- A's data (dataType defaults to A's first) → B's first data type -->
//!       <flyt:prefill from="applicant.name" to="applicant.name"/>
//!       <flyt:prefill dataType="model" from="amount" to="claim.amount"/>
//!       <flyt:prefill value="from application A" to="source"/>
//!       <!-- an expression over A's instance: A's own id, so that B can answer A -->
//!       <flyt:prefill expression='["instanceContext", "instanceId"]' to="sourceInstance"/>
//!       <!-- copy a whole data type of A to B, under the same name -->
//!       <flyt:copy dataType="attachments"/>
//!       <!-- B's 4xx answers raised as BPMN errors (an error boundary catches them); the
//!            first that matches wins; code/type also match B's problem `code`/`type` -->
//!       <flyt:onError status="409" errorCode="duplicate"/>
//!       <flyt:onError status="403" code="forbidden" errorCode="refused"/>
//!     </flyt:createInstance>
//!   </bpmn:extensionElements>
//! </bpmn:serviceTask>
//! ```
//! The target's URL is never in the file: it comes from the server's downstream allow-list.

use flyt_engine::bpmn::elements::ServiceTask;
pub use flyt_engine::bpmn::elements::on_error::OnErrorRule as OnError;
use flyt_engine::bpmn::elements::on_error::on_error_of;
use flyt_engine::bpmn::xml::{Ns, XmlNode};
use flyt_engine::bpmn::{Code, Diagnostic, Pos};
use flyt_engine::expr::Expr;
use flyt_engine::ids::AppId;
use serde_json::Value;

/// Whose instance to create in app B.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnerSpec {
    /// A's own instance owner.
    SameAsSource,
    /// A fixed organisation.
    Organisation(String),
    /// An organisation or person number read from A's data.
    FromData {
        data_type: Option<String>,
        path: String,
    },
}

/// Where a prefilled value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Data {
        data_type: Option<String>,
        path: String,
    },
    Constant(Value),
    /// An Altinn expression over A's instance, e.g. `["instanceContext", "instanceId"]` (so B
    /// can answer A), evaluated when the request is made.
    Expression {
        expr: Expr,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub from: Source,
    /// A dot path in B's first data type.
    pub to: String,
    pub line: u32,
}

/// A parsed `<flyt:createInstance>`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateInstanceConfig {
    pub target: AppId,
    pub owner: OwnerSpec,
    pub prefill: Vec<Mapping>,
    pub copy: Vec<String>,
    pub on_error: Vec<OnError>,
}

fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('.').all(|s| !s.is_empty() && s.len() <= 128)
        && p.split('.').count() <= 32
}

/// Parses the configuration; every problem is a diagnostic at its element's line.
pub fn parse(
    element_id: &str,
    pos: Pos,
    task: &ServiceTask,
) -> Result<CreateInstanceConfig, Vec<Diagnostic>> {
    let err = |at: Pos, msg: String| {
        Diagnostic::error(Code::InvalidServiceTaskConfig, at, msg).element(element_id)
    };
    let Some(node) = task.flyt.get("createInstance") else {
        return Err(vec![
            err(
                pos,
                format!(
                    "createInstance task `{element_id}` has no <flyt:createInstance> configuration"
                ),
            )
            .hint("add <flyt:createInstance target=\"org/app\"> inside <bpmn:extensionElements>"),
        ]);
    };
    let mut problems = Vec::new();
    let target = match node.attr("target") {
        None => {
            problems.push(err(
                node.pos,
                "<flyt:createInstance> needs target=\"org/app\"".into(),
            ));
            None
        }
        Some(t) => match t.parse::<AppId>() {
            Ok(id) => Some(id),
            Err(e) => {
                problems.push(err(node.pos, format!("target: {e}")));
                None
            }
        },
    };
    let mut owner = OwnerSpec::SameAsSource;
    let mut owners = 0;
    let mut prefill = Vec::new();
    let mut copy = Vec::new();
    let mut on_error = Vec::new();
    for child in &node.children {
        if child.ns != Ns::Flyt {
            continue;
        }
        match child.name.as_str() {
            "owner" => {
                owners += 1;
                owner = match (
                    child.attr("from"),
                    child.attr("organisationNumber"),
                    child.attr("path"),
                ) {
                    (Some("instanceOwner"), None, None) => OwnerSpec::SameAsSource,
                    (None, Some(n), None)
                        if n.len() == 9 && n.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        OwnerSpec::Organisation(n.to_string())
                    }
                    (None, Some(n), None) => {
                        problems.push(err(
                            child.pos,
                            format!("owner organisationNumber `{n}` is not 9 digits"),
                        ));
                        continue;
                    }
                    (None, None, Some(p)) if valid_path(p) => OwnerSpec::FromData {
                        data_type: child.attr("dataType").map(str::to_string),
                        path: p.to_string(),
                    },
                    _ => {
                        problems.push(
                            err(child.pos, "<flyt:owner> needs exactly one of from=\"instanceOwner\", organisationNumber=\"...\" or path=\"...\"".into()),
                        );
                        continue;
                    }
                };
            }
            "prefill" => match mapping(child) {
                Ok(m) => prefill.push(m),
                Err(msg) => problems.push(err(child.pos, msg)),
            },
            "copy" => match child.attr("dataType") {
                Some(dt) if !dt.is_empty() => copy.push(dt.to_string()),
                _ => problems.push(err(child.pos, "<flyt:copy> needs dataType=\"...\"".into())),
            },
            "onError" => match on_error_of(child) {
                Ok(o) => on_error.push(o),
                Err(msg) => problems.push(err(child.pos, msg)),
            },
            other => problems.push(
                err(
                    child.pos,
                    format!("unknown element <flyt:{other}> in <flyt:createInstance>"),
                )
                .hint("use flyt:owner, flyt:prefill, flyt:copy or flyt:onError"),
            ),
        }
    }
    if owners > 1 {
        problems.push(err(
            node.pos,
            "<flyt:createInstance> has more than one <flyt:owner>".into(),
        ));
    }
    match (target, problems.is_empty()) {
        (Some(target), true) => Ok(CreateInstanceConfig {
            target,
            owner,
            prefill,
            copy,
            on_error,
        }),
        _ => Err(problems),
    }
}

fn mapping(node: &XmlNode) -> Result<Mapping, String> {
    let to = node
        .attr("to")
        .filter(|t| valid_path(t))
        .ok_or("<flyt:prefill> needs to=\"path.in.b\" (dot-separated names)")?;
    let from = match (
        node.attr("from"),
        node.attr("value"),
        node.attr("expression"),
    ) {
        (Some(path), None, None) if valid_path(path) => Source::Data {
            data_type: node.attr("dataType").map(str::to_string),
            path: path.to_string(),
        },
        (Some(path), None, None) => {
            return Err(format!("prefill from=\"{path}\" is not a dot path"));
        }
        // A constant: JSON if it parses (numbers, booleans), else the string itself.
        (None, Some(v), None) => Source::Constant(
            serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string())),
        ),
        (None, None, Some(text)) => Source::Expression {
            expr: Expr::parse(text)
                .map_err(|e| format!("prefill expression does not parse: {e}"))?,
            text: text.to_string(),
        },
        _ => {
            return Err(
                "<flyt:prefill> needs exactly one of from=\"path.in.a\", value=\"...\" or expression='[...]'".into(),
            );
        }
    };
    Ok(Mapping {
        from,
        to: to.to_string(),
        line: node.pos.line,
    })
}
