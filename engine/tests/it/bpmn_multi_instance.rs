//! Validation of multi-instance activities and assignments, line-exact: a collection or
//! completion condition that does not parse, a missing collection, a loop form flyt does not
//! read, an assignment on something other than a user task or naming none or several kinds.

use crate::support::{assert_at, compile, doc, only, rejected};
use flyt_engine::bpmn::Code;

/// A user task `sign` with multi-instance characteristics `inside`, between start and end.
fn looped(inside: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<userTask id="sign">
  <multiInstanceLoopCharacteristics isSequential="true">
{inside}
  </multiInstanceLoopCharacteristics>
</userTask>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sign"/>
<sequenceFlow id="f2" sourceRef="sign" targetRef="e"/>"#
    ))
}

const COLLECTION: &str = r#"    <extensionElements><flyt:multiInstance collection='["dataModel", "signers", "model"]'/></extensionElements>"#;

#[test]
fn a_multi_instance_user_task_with_a_collection_and_a_completion_condition_compiles() {
    let text = looped(&format!(
        "{COLLECTION}\n    <completionCondition>[\"equals\", [\"dataModel\", \"nrOfCompletedInstances\", \"multiInstance\"], 2]</completionCondition>"
    ));
    let compiled = compile(&text).expect("compiles");
    let def = &compiled.definition;
    let sign = def.node(def.node_by_id("sign").unwrap());
    let multi = sign.multi.as_deref().expect("multi-instance");
    assert!(multi.sequential);
    assert!(multi.completion.is_some());
}

#[test]
fn a_collection_that_does_not_parse_is_an_error_where_it_is_written() {
    let text = looped(
        r#"    <extensionElements><flyt:multiInstance collection='["dataModel", "signers"'/></extensionElements>"#,
    );
    let d = only(&rejected(&text), Code::InvalidMultiInstance);
    assert_at(
        &d,
        Code::InvalidMultiInstance,
        "sign",
        &text,
        "<flyt:multiInstance",
    );
    assert!(d.message.contains("collection"), "{}", d.message);
}

#[test]
fn a_completion_condition_that_does_not_parse_is_an_error_where_it_is_written() {
    let text = looped(&format!(
        "{COLLECTION}\n    <completionCondition>[\"noSuchFunction\", 1]</completionCondition>"
    ));
    let d = only(&rejected(&text), Code::InvalidMultiInstance);
    assert_at(
        &d,
        Code::InvalidMultiInstance,
        "sign",
        &text,
        "<completionCondition>",
    );
    assert!(d.message.contains("completion condition"), "{}", d.message);
}

#[test]
fn a_multi_instance_without_a_collection_or_with_bpmn_loop_data_is_refused_with_a_hint() {
    let text = looped("");
    let d = only(&rejected(&text), Code::InvalidMultiInstance);
    assert_at(
        &d,
        Code::InvalidMultiInstance,
        "sign",
        &text,
        "<multiInstanceLoopCharacteristics",
    );
    assert!(d.hint.as_deref().unwrap().contains("flyt:multiInstance"));
    let text = looped(&format!(
        "{COLLECTION}\n    <loopCardinality>3</loopCardinality>"
    ));
    let d = only(&rejected(&text), Code::InvalidMultiInstance);
    assert_at(
        &d,
        Code::InvalidMultiInstance,
        "sign",
        &text,
        "<loopCardinality>",
    );
    // BPMN's data input form: refused where it is written (and the collection is missing).
    let text = looped("    <loopDataInputRef>list</loopDataInputRef>");
    let diags = rejected(&text);
    let d = diags
        .iter()
        .find(|d| d.message.contains("loopDataInputRef"))
        .expect("the loopDataInputRef is named");
    assert_at(
        d,
        Code::InvalidMultiInstance,
        "sign",
        &text,
        "<loopDataInputRef>",
    );
}

#[test]
fn a_loop_cardinality_is_a_count_and_a_juel_one_is_a_script_flyt_does_not_run() {
    compile(&looped("    <loopCardinality>3</loopCardinality>")).expect("a literal count");
    let text = looped("    <loopCardinality>${list.length}</loopCardinality>");
    let d = only(&rejected(&text), Code::UnsupportedScript);
    assert_at(
        &d,
        Code::UnsupportedScript,
        "sign",
        &text,
        "<loopCardinality>",
    );
}

#[test]
fn a_standard_loop_stays_refused_by_name() {
    let text = doc(r#"<startEvent id="s"/>
<userTask id="again"><standardLoopCharacteristics/></userTask>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="again"/>
<sequenceFlow id="f2" sourceRef="again" targetRef="e"/>"#);
    let d = only(&rejected(&text), Code::UnsupportedElement);
    assert!(
        d.message.contains("standardLoopCharacteristics"),
        "{}",
        d.message
    );
}

#[test]
fn an_assignment_on_something_other_than_a_user_task_is_an_error_where_it_is_written() {
    let text = doc(r#"<startEvent id="s"/>
<serviceTask id="pdf" flyt:type="pdf">
  <extensionElements><flyt:assignee person='["dataModel", "pid", "model"]'/></extensionElements>
</serviceTask>
<exclusiveGateway id="g">
  <extensionElements><flyt:assignee role="DAGL"/></extensionElements>
</exclusiveGateway>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="pdf"/>
<sequenceFlow id="f2" sourceRef="pdf" targetRef="g"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="e"/>"#);
    let found: Vec<_> = rejected(&text)
        .into_iter()
        .filter(|d| d.code == Code::InvalidAssignment)
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_at(
        &found[0],
        Code::InvalidAssignment,
        "pdf",
        &text,
        "<flyt:assignee person",
    );
    assert_at(
        &found[1],
        Code::InvalidAssignment,
        "g",
        &text,
        "<flyt:assignee role",
    );
}

#[test]
fn an_assignment_naming_several_kinds_or_a_bad_expression_is_an_error_where_it_is_written() {
    let task = |assignee: &str| {
        doc(&format!(
            r#"<startEvent id="s"/>
<userTask id="sign">
  <extensionElements>{assignee}</extensionElements>
</userTask>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sign"/>
<sequenceFlow id="f2" sourceRef="sign" targetRef="e"/>"#
        ))
    };
    for bad in [
        r#"<flyt:assignee person='["dataModel", "pid"]' role="DAGL"/>"#,
        r#"<flyt:assignee/>"#,
        r#"<flyt:assignee organisation='["dataModel", "orgno"'/>"#,
    ] {
        let text = task(bad);
        let d = only(&rejected(&text), Code::InvalidAssignment);
        assert_at(&d, Code::InvalidAssignment, "sign", &text, "<flyt:assignee");
    }
    compile(&task(r#"<flyt:assignee role="DAGL"/>"#)).expect("a role compiles");
}

#[test]
fn a_message_boundary_on_a_multi_instance_task_is_refused_where_it_is_written() {
    use crate::bpmn_messages::{DECIDED, with_messages};
    let body = r#"<startEvent id="s"/>
<userTask id="sign">
  <multiInstanceLoopCharacteristics><loopCardinality>2</loopCardinality></multiInstanceLoopCharacteristics>
</userTask>
<boundaryEvent id="b" attachedToRef="sign"><messageEventDefinition messageRef="M"/></boundaryEvent>
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sign"/>
<sequenceFlow id="f2" sourceRef="sign" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="b" targetRef="e2"/>"#;
    let text = with_messages(DECIDED, body);
    let d = only(&rejected(&text), Code::InvalidBoundary);
    assert_at(
        &d,
        Code::InvalidBoundary,
        "b",
        &text,
        r#"<boundaryEvent id="b""#,
    );
    assert!(d.message.contains("multi-instance"), "{}", d.message);
}
