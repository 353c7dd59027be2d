//! `<flyt:onError status="4xx" [code=".."] [type=".."] errorCode=".."/>`: a downstream app's
//! 4xx answer raised as a BPMN error, for the built-in handlers that call another app
//! (`createInstance`, `sendMessage`), so that a boundary can catch it instead of an incident.

use crate::bpmn::xml::XmlNode;
use serde_json::Value;

/// A downstream's 4xx answer raised as a BPMN error.
#[derive(Debug, Clone, PartialEq)]
pub struct OnErrorRule {
    pub status: u16,
    /// Matches the problem's `code` too, when set.
    pub code: Option<String>,
    /// Matches the problem's `type` too, when set.
    pub problem_type: Option<String>,
    /// The BPMN error to raise.
    pub error_code: String,
}

impl OnErrorRule {
    /// Whether an answer with `status` and (JSON) `problem` is this rule's.
    pub fn matches(&self, status: u16, problem: Option<&Value>) -> bool {
        let field = |name: &str| problem.and_then(|p| p.get(name)).and_then(Value::as_str);
        self.status == status
            && self
                .code
                .as_deref()
                .is_none_or(|c| field("code") == Some(c))
            && self
                .problem_type
                .as_deref()
                .is_none_or(|t| field("type") == Some(t))
    }
}

/// Reads one `<flyt:onError>`. 401, 408 and 429 are not errors of the request (a token is
/// refreshed, the call retried), so they cannot be mapped.
pub fn on_error_of(node: &XmlNode) -> Result<OnErrorRule, String> {
    let status = node
        .attr("status")
        .ok_or("<flyt:onError> needs status=\"4xx\"")?;
    let status: u16 = status
        .trim()
        .parse()
        .ok()
        .filter(|s| (400..500).contains(s) && ![401, 408, 429].contains(s))
        .ok_or_else(|| {
            format!("<flyt:onError> status `{status}` is not a 4xx answer flyt gives up on (400-499 but 401, 408, 429)")
        })?;
    let error_code = node
        .attr("errorCode")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or("<flyt:onError> needs errorCode=\"...\" (the BPMN error to raise)")?;
    Ok(OnErrorRule {
        status,
        code: node.attr("code").map(str::to_string),
        problem_type: node.attr("type").map(str::to_string),
        error_code: error_code.to_string(),
    })
}
