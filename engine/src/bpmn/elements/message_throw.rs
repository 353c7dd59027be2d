//! Message throws: a `sendTask`, an `intermediateThrowEvent` or an `endEvent` with a
//! `messageEventDefinition`. Each runs like a service task of the built-in type
//! [`SEND_MESSAGE_TYPE`]: reaching it creates a job in the transition's commit, the job delivers
//! the message to the target app (`POST /{org}/{app}/messages`), and its completion moves the
//! token on (a message end event then consumes it, like a none end event).
//!
//! Configured in flyt's namespace:
//!
//! ```xml
//! <bpmn:extensionElements>
//!   <flyt:sendMessage target="acme/grant-application" name="caseDecided"
//!                     correlationKey='["dataModel", "sourceInstance"]' timeToLive="PT1H">
//!     <flyt:payload from="decision" to="decision"/>
//!     <flyt:payload dataType="case" from="note" to="comment"/>
//!     <flyt:payload value="acme/grant-case" to="from"/>
//!     <flyt:onError status="403" errorCode="notAllowed"/>
//!   </flyt:sendMessage>
//! </bpmn:extensionElements>
//! ```
//!
//! `name` may be left out when the element's `messageRef` names a `<bpmn:message>` with a name.
//! `correlationKey` is an Altinn expression over the sending instance, evaluated when the message
//! is sent; its value as a string is the key. `timeToLive` (ISO 8601 duration, default `PT1H`)
//! is how long the receiver buffers the message when no subscription waits for it yet.

pub use super::on_error::{OnErrorRule, on_error_of};
use super::timer::IsoDuration;
use crate::bpmn::xml::{Ns, XmlNode};
use crate::bpmn::{Code, Diagnostic, Pos};
use crate::expr::Expr;
use crate::ids::AppId;
use serde_json::Value;

/// The task type of message throws: the built-in handler that delivers them.
pub const SEND_MESSAGE_TYPE: &str = "sendMessage";

/// The time to live sent when the configuration names none.
pub const DEFAULT_TIME_TO_LIVE: &str = "PT1H";

/// Which BPMN element a message throw is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrowElement {
    SendTask,
    IntermediateThrow,
    EndEvent,
}

impl ThrowElement {
    pub fn element_name(self) -> &'static str {
        match self {
            ThrowElement::SendTask => "sendTask",
            ThrowElement::IntermediateThrow => "intermediateThrowEvent",
            ThrowElement::EndEvent => "endEvent",
        }
    }
}

/// What a message throw is, beside its `flyt:sendMessage` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageThrow {
    pub element: ThrowElement,
    /// The `messageRef` of the send task or event definition.
    pub message_ref: Option<String>,
    /// The `name` of the `<bpmn:message>` that `message_ref` names, when it has one.
    pub message_name: Option<String>,
}

/// Where a payload value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadSource {
    /// A dot path in a data type of the sending app (`None`: its first data type).
    Data {
        data_type: Option<String>,
        path: String,
    },
    /// A constant: JSON when it parses (numbers, booleans), else the string itself.
    Constant(Value),
}

/// One `<flyt:payload from|value=".." to=".."/>`.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadMapping {
    pub from: PayloadSource,
    /// The key (a dot path) in the message's `data`.
    pub to: String,
    pub line: u32,
}

/// A parsed `<flyt:sendMessage>`.
#[derive(Debug, Clone, PartialEq)]
pub struct SendMessageConfig {
    pub target: AppId,
    /// The message name: the `name` attribute, else the named `messageRef`'s name.
    pub name: String,
    pub correlation_key: Expr,
    /// As written, for messages.
    pub correlation_key_text: String,
    /// As written (validated), sent as `timeToLive`.
    pub time_to_live: String,
    pub payload: Vec<PayloadMapping>,
    pub on_error: Vec<OnErrorRule>,
    /// The line of `<flyt:sendMessage>`.
    pub pos: Pos,
}

fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('.').all(|s| !s.is_empty() && s.len() <= 128)
        && p.split('.').count() <= 32
}

/// Reads the configuration of a message throw `element_id` (at `pos`) from its flyt extension
/// elements. Every problem is a diagnostic (code `invalid-message-throw`) at its own line.
pub fn parse(
    element_id: &str,
    pos: Pos,
    throw: &MessageThrow,
    flyt: &super::Extension,
) -> Result<SendMessageConfig, Vec<Diagnostic>> {
    let err = |at: Pos, msg: String| {
        Diagnostic::error(Code::InvalidMessageThrow, at, msg).element(element_id)
    };
    let what = throw.element.element_name();
    let Some(node) = flyt.get("sendMessage") else {
        return Err(vec![
            err(
                pos,
                format!("{what} `{element_id}` has no <flyt:sendMessage> configuration: flyt does not know where to send the message"),
            )
            .hint("add <flyt:sendMessage target=\"org/app\" name=\"...\" correlationKey='[...]'> inside <bpmn:extensionElements>"),
        ]);
    };
    let mut problems = Vec::new();
    let target = match node.attr("target").map(str::trim) {
        None | Some("") => {
            problems.push(err(
                node.pos,
                format!("<flyt:sendMessage> of `{element_id}` needs target=\"org/app\""),
            ));
            None
        }
        Some(t) => match t.parse::<AppId>() {
            Ok(id) => Some(id),
            Err(e) => {
                problems.push(err(node.pos, format!("target `{t}`: {e}")));
                None
            }
        },
    };
    let name = match node.attr("name").map(str::trim) {
        Some(n) if !n.is_empty() => Some(n.to_string()),
        _ => match (&throw.message_name, &throw.message_ref) {
            (Some(n), _) if !n.trim().is_empty() => Some(n.trim().to_string()),
            (_, Some(r)) => {
                problems.push(
                    err(
                        node.pos,
                        format!("`{element_id}` sends no message name: <flyt:sendMessage> has no name and its messageRef `{r}` names no <bpmn:message> with a name"),
                    )
                    .hint("set name=\"...\" on <flyt:sendMessage>, or name the <bpmn:message>"),
                );
                None
            }
            _ => {
                problems.push(
                    err(
                        node.pos,
                        format!("`{element_id}` sends no message name: <flyt:sendMessage> has no name and there is no messageRef"),
                    )
                    .hint("set name=\"...\" on <flyt:sendMessage>"),
                );
                None
            }
        },
    };
    let correlation = match node.attr("correlationKey") {
        None => {
            problems.push(
                err(
                    node.pos,
                    format!("<flyt:sendMessage> of `{element_id}` needs correlationKey (an expression over the instance)"),
                )
                .hint("e.g. correlationKey='[\"dataModel\", \"sourceInstance\"]'"),
            );
            None
        }
        Some(text) => match Expr::parse(text) {
            Ok(e) => Some((e, text.to_string())),
            Err(e) => {
                problems.push(err(
                    node.pos,
                    format!("correlationKey of `{element_id}` does not parse: {e}"),
                ));
                None
            }
        },
    };
    let time_to_live = match node.attr("timeToLive").map(str::trim) {
        None => DEFAULT_TIME_TO_LIVE.to_string(),
        Some(t) => match IsoDuration::parse(t) {
            Ok(d) if d.months == 0 => t.to_string(),
            Ok(_) => {
                problems.push(err(
                    node.pos,
                    format!("timeToLive `{t}` of `{element_id}` uses years or months; use days or less (e.g. `P30D`)"),
                ));
                String::new()
            }
            Err(e) => {
                problems.push(err(node.pos, format!("timeToLive: {e}")));
                String::new()
            }
        },
    };
    let mut payload = Vec::new();
    let mut on_error = Vec::new();
    for child in &node.children {
        if child.ns != Ns::Flyt {
            continue;
        }
        match child.name.as_str() {
            "payload" => match mapping(child) {
                Ok(m) => {
                    if payload.iter().any(|p: &PayloadMapping| p.to == m.to) {
                        problems.push(err(
                            child.pos,
                            format!("two <flyt:payload> of `{element_id}` write `{}`", m.to),
                        ));
                    }
                    payload.push(m);
                }
                Err(msg) => problems.push(err(child.pos, msg)),
            },
            "onError" => match on_error_of(child) {
                Ok(o) => on_error.push(o),
                Err(msg) => problems.push(err(child.pos, msg)),
            },
            other => problems.push(
                err(
                    child.pos,
                    format!("unknown element <flyt:{other}> in <flyt:sendMessage>"),
                )
                .hint("use flyt:payload or flyt:onError"),
            ),
        }
    }
    match (target, name, correlation, problems.is_empty()) {
        (Some(target), Some(name), Some((correlation_key, correlation_key_text)), true) => {
            Ok(SendMessageConfig {
                target,
                name,
                correlation_key,
                correlation_key_text,
                time_to_live,
                payload,
                on_error,
                pos: node.pos,
            })
        }
        _ => Err(problems),
    }
}

fn mapping(node: &XmlNode) -> Result<PayloadMapping, String> {
    let to = node
        .attr("to")
        .filter(|t| valid_path(t))
        .ok_or("<flyt:payload> needs to=\"key.in.data\" (dot-separated names)")?;
    let from = match (node.attr("from"), node.attr("value")) {
        (Some(path), None) if valid_path(path) => PayloadSource::Data {
            data_type: node.attr("dataType").map(str::to_string),
            path: path.to_string(),
        },
        (Some(path), None) => return Err(format!("payload from=\"{path}\" is not a dot path")),
        (None, Some(v)) => PayloadSource::Constant(
            serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string())),
        ),
        _ => {
            return Err(
                "<flyt:payload> needs exactly one of from=\"path.in.data\" or value=\"...\"".into(),
            );
        }
    };
    Ok(PayloadMapping {
        from,
        to: to.to_string(),
        line: node.pos.line,
    })
}
