//! The kit's BPMN in flyt's dialect: the same elements, flows and decisions, with the parts flyt
//! reads differently rewritten.
//!
//! - A condition body in the kit's common subset (`amount > 100`: one variable, a comparison, a
//!   number) becomes the Altinn expression flyt evaluates (`["greaterThan", ["dataModel",
//!   "amount"], 100]`), reading the variable from the data type [`VARS`].
//! - Each exclusive gateway names [`VARS`] as its connected data type.
//! - Each service task gets `flyt:type="score"` ([`SCORE`]): the handler or external job type.
//!
//! Everything else (ids, user task `A`, plain tasks `B`/`C`, the other engines' extension
//! elements, which flyt ignores) is left as it is.

/// The data type holding the process variables (`i`, `amount`).
pub const VARS: &str = "vars";
/// The service task type of the kit's service task.
pub const SCORE: &str = "score";

const CONDITION_OPEN: &str = "<bpmn:conditionExpression";
const CONDITION_CLOSE: &str = "</bpmn:conditionExpression>";

/// Rewrites a kit definition; `Err` names what could not be translated.
pub fn translate(source: &str) -> Result<String, String> {
    let mut out = declare_namespaces(source)?;
    out = rewrite_conditions(&out)?;
    out = out.replace(
        "<bpmn:serviceTask ",
        &format!("<bpmn:serviceTask flyt:type=\"{SCORE}\" "),
    );
    Ok(connect_gateways(&out))
}

fn declare_namespaces(source: &str) -> Result<String, String> {
    let start = source
        .find("<bpmn:definitions")
        .ok_or("no <bpmn:definitions> element")?;
    let at = start + "<bpmn:definitions".len();
    let mut out = String::with_capacity(source.len() + 256);
    out.push_str(&source[..at]);
    out.push_str(r#" xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1""#);
    out.push_str(&source[at..]);
    Ok(out)
}

fn rewrite_conditions(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(open) = rest.find(CONDITION_OPEN) {
        let body_start = open
            + rest[open..]
                .find('>')
                .ok_or("an unterminated <bpmn:conditionExpression>")?
            + 1;
        let body_end = body_start
            + rest[body_start..]
                .find(CONDITION_CLOSE)
                .ok_or("a <bpmn:conditionExpression> without its end tag")?;
        out.push_str(&rest[..open]);
        out.push_str("<bpmn:conditionExpression>");
        out.push_str(&expression(&rest[body_start..body_end])?);
        out.push_str(CONDITION_CLOSE);
        rest = &rest[body_end + CONDITION_CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `amount &gt; 100` → `["greaterThan", ["dataModel", "amount"], 100]`.
fn expression(body: &str) -> Result<String, String> {
    let text = body
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&");
    let text = text.trim();
    // Longest operators first, so `<=` is not read as `<`.
    let operators = [
        (">=", "greaterThanEq"),
        ("<=", "lessThanEq"),
        ("==", "equals"),
        ("!=", "notEquals"),
        (">", "greaterThan"),
        ("<", "lessThan"),
    ];
    for (symbol, function) in operators {
        if let Some((variable, value)) = text.split_once(symbol) {
            let (variable, value) = (variable.trim(), value.trim());
            let is_name = !variable.is_empty()
                && variable
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            let number: f64 = value
                .parse()
                .map_err(|_| format!("condition `{text}`: `{value}` is not a number"))?;
            if !is_name {
                return Err(format!(
                    "condition `{text}`: `{variable}` is not a variable name"
                ));
            }
            return Ok(format!(
                r#"["{function}", ["dataModel", "{variable}"], {number}]"#
            ));
        }
    }
    Err(format!(
        "condition `{text}` is not `<variable> <comparison> <number>`"
    ))
}

fn connect_gateways(source: &str) -> String {
    let extension = format!(
        "<bpmn:extensionElements><altinn:gatewayExtension><altinn:connectedDataTypeId>{VARS}</altinn:connectedDataTypeId></altinn:gatewayExtension></bpmn:extensionElements>"
    );
    let mut out = String::with_capacity(source.len() + 256);
    let mut rest = source;
    while let Some(open) = rest.find("<bpmn:exclusiveGateway") {
        let Some(end) = rest[open..].find('>').map(|e| open + e + 1) else {
            break;
        };
        out.push_str(&rest[..end]);
        // A self-closing gateway has no flows, so there is nothing to decide.
        if !rest[..end].ends_with("/>") {
            out.push_str(&extension);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The app file for the translated process: the one data type, the owner's rights, and (for
/// REST) the score task left to external workers.
pub fn app_file(process: &str, external_score: bool) -> String {
    let jobs = if external_score {
        format!("\n[jobs]\nexternal = [\"{SCORE}\"]\n")
    } else {
        String::new()
    };
    format!(
        r#"title = "Peer benchmark: {process}"
owner_types = ["person"]

[[data_types]]
id = "{VARS}"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write", "complete"]
{jobs}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_become_altinn_expressions() {
        assert_eq!(
            expression("amount &gt; 100").as_deref(),
            Ok(r#"["greaterThan", ["dataModel", "amount"], 100]"#)
        );
        assert_eq!(
            expression(" amount &lt;= 100 ").as_deref(),
            Ok(r#"["lessThanEq", ["dataModel", "amount"], 100]"#)
        );
        assert!(expression("amount > x").is_err());
        assert!(expression("a + b").is_err());
    }

    const KIT_LIKE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d">
  <bpmn:process id="approval_service" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="S" implementation="${environment.services.score}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="A"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="gw">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>fB</bpmn:outgoing><bpmn:outgoing>fC</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:task id="B"><bpmn:incoming>fB</bpmn:incoming><bpmn:outgoing>fBe</bpmn:outgoing></bpmn:task>
    <bpmn:task id="C"><bpmn:incoming>fC</bpmn:incoming><bpmn:outgoing>fCe</bpmn:outgoing></bpmn:task>
    <bpmn:endEvent id="end"><bpmn:incoming>fBe</bpmn:incoming><bpmn:incoming>fCe</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="S" />
    <bpmn:sequenceFlow id="f2" sourceRef="S" targetRef="A" />
    <bpmn:sequenceFlow id="f3" sourceRef="A" targetRef="gw" />
    <bpmn:sequenceFlow id="fB" sourceRef="gw" targetRef="B">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">amount &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="fC" sourceRef="gw" targetRef="C">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">amount &lt;= 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="fBe" sourceRef="B" targetRef="end" />
    <bpmn:sequenceFlow id="fCe" sourceRef="C" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#;

    #[test]
    fn a_translated_kit_process_compiles_with_no_finding_but_the_unregistered_handler() {
        let text = translate(KIT_LIKE).expect("translates");
        let compiled =
            flyt_engine::bpmn::compile(text.as_bytes(), &flyt_engine::bpmn::Options::default())
                .map_err(|r| r.diagnostics)
                .expect("valid");
        // Without a deploy target nobody has registered `score` yet: that warning, no other.
        assert!(
            compiled.warnings.iter().all(|w| w.code
                == flyt_engine::bpmn::Code::UnregisteredServiceTask
                && w.element_id.as_deref() == Some("S")),
            "{:?}",
            compiled.warnings
        );
    }
}
