//! Scripts are refused with `unsupported-script`, naming the construct and its language, at
//! the line that holds it.

use crate::support::{assert_at, doc, only, rejected};
use flyt_engine::bpmn::Code;

fn around(element: &str) -> String {
    doc(&format!(
        r#"<startEvent id="start"/>
<exclusiveGateway id="g"/>
{element}
<endEvent id="end"/>
<endEvent id="other"/>
<sequenceFlow id="f0" sourceRef="start" targetRef="g"/>"#
    ))
}

fn condition(attrs: &str, body: &str) -> String {
    around(&format!(
        r#"<sequenceFlow id="yes" sourceRef="g" targetRef="end">
  <conditionExpression {attrs}>{body}</conditionExpression>
</sequenceFlow>
<sequenceFlow id="no" sourceRef="g" targetRef="other"><conditionExpression>["equals", 1, 2]</conditionExpression></sequenceFlow>"#
    ))
}

fn script_diag(text: &str, element: &str, needle: &str) -> String {
    let d = only(&rejected(text), Code::UnsupportedScript);
    assert_at(&d, Code::UnsupportedScript, element, text, needle);
    assert!(
        d.message.starts_with("unsupported script: "),
        "{}",
        d.message
    );
    d.message
}

#[test]
fn a_script_task_is_refused_naming_its_language() {
    let text = doc(r#"<startEvent id="start"/>
<scriptTask id="calc" scriptFormat="javascript"><script>next()</script></scriptTask>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="calc"/>
<sequenceFlow id="f2" sourceRef="calc" targetRef="end"/>"#);
    let message = script_diag(&text, "calc", "<scriptTask");
    assert!(message.contains("<scriptTask> `calc`"), "{message}");
    assert!(
        message.contains(r#"JavaScript (scriptFormat="javascript")"#),
        "{message}"
    );

    let text = text.replace(r#" scriptFormat="javascript""#, "");
    let message = script_diag(&text, "calc", "<scriptTask");
    assert!(message.contains("no scriptFormat"), "{message}");
}

#[test]
fn conditions_in_a_scripting_language_are_refused_naming_it() {
    for (language, named) in [
        ("JavaScript", "JavaScript"),
        ("js", "JavaScript"),
        ("python", "Python"),
        ("http://www.w3.org/1999/XPath", "XPath"),
        ("https://www.omg.org/spec/DMN/20191111/FEEL/", "FEEL"),
    ] {
        let text = condition(&format!(r#"language="{language}""#), "next(null, true)");
        let message = script_diag(&text, "yes", "<conditionExpression language");
        assert!(
            message.contains(&format!(r#"written in {named} (language="{language}")"#)),
            "{message}"
        );
    }
}

#[test]
fn juel_conditions_are_refused_as_scripts() {
    let text = condition("", "${environment.variables.approved}");
    let message = script_diag(&text, "yes", "<conditionExpression >");
    assert!(
        message.contains("JUEL/JavaScript `${...}` expression"),
        "{message}"
    );
    assert!(
        message.contains("${environment.variables.approved}"),
        "{message}"
    );
}

#[test]
fn conditions_take_the_language_of_the_definitions() {
    let text = condition("", "bpmn:getDataObject('approved')").replace(
        r#"id="defs">"#,
        r#"id="defs" expressionLanguage="http://www.w3.org/1999/XPath">"#,
    );
    let message = script_diag(&text, "yes", "<conditionExpression >");
    assert!(
        message.contains("written in XPath (the definitions' expressionLanguage"),
        "{message}"
    );
}

#[test]
fn a_juel_timer_value_is_refused_as_a_script() {
    let text = doc(r#"<startEvent id="start"/>
<intermediateCatchEvent id="wait"><timerEventDefinition>
<timeDuration>${environment.variables.timeout}</timeDuration>
</timerEventDefinition></intermediateCatchEvent>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
<sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>"#);
    let message = script_diag(&text, "wait", "<timeDuration>");
    assert!(message.contains("<timeDuration> of `wait`"), "{message}");
}
