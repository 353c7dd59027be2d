//! Validation of message throws (send task, message intermediate throw and end events): their
//! `flyt:sendMessage` configuration, line-exact with the code `invalid-message-throw`.

use crate::support::*;
use flyt_engine::bpmn::elements::{NodeKind, ThrowElement};
use flyt_engine::bpmn::{self, Code, Options};

const MESSAGE: &str = r#"<message id="Message_caseDecided" name="caseDecided"/>
<message id="Message_unnamed"/>"#;

/// A process start → `element` → end, with the two messages above declared beside it.
fn around(element: &str, id: &str) -> String {
    let body = format!(
        r#"<startEvent id="start"/>
{element}
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="{id}"/>
<sequenceFlow id="f2" sourceRef="{id}" targetRef="end"/>"#
    );
    doc(&body).replace(
        "<process id=\"p\">",
        &format!("{MESSAGE}\n<process id=\"p\">"),
    )
}

const CONFIG: &str = r#"<extensionElements>
<flyt:sendMessage target="acme/grant-application" name="caseDecided" correlationKey='["dataModel", "sourceInstance"]'>
<flyt:payload from="decision" to="decision"/>
</flyt:sendMessage>
</extensionElements>"#;

#[test]
fn a_send_task_an_intermediate_throw_and_an_end_event_with_a_message_load_as_message_throws() {
    let send = around(
        &format!(r#"<sendTask id="send">{CONFIG}</sendTask>"#),
        "send",
    );
    let compiled = compile(&send).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let def = &compiled.definition;
    let node = def.node(def.node_by_id("send").unwrap());
    let NodeKind::ServiceTask(task) = &node.kind else {
        panic!("{:?}", node.kind)
    };
    assert_eq!(task.task_type.as_deref(), Some("sendMessage"));
    assert_eq!(task.throw.as_ref().unwrap().element, ThrowElement::SendTask);
    assert_eq!(node.kind.element_name(), "sendTask");

    let throw = around(
        &format!(
            r#"<intermediateThrowEvent id="tell">{CONFIG}<messageEventDefinition messageRef="Message_caseDecided"/></intermediateThrowEvent>"#
        ),
        "tell",
    );
    let compiled = compile(&throw).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let def = &compiled.definition;
    let node = def.node(def.node_by_id("tell").unwrap());
    assert_eq!(node.kind.element_name(), "intermediateThrowEvent");
    let NodeKind::ServiceTask(task) = &node.kind else {
        panic!()
    };
    let t = task.throw.as_ref().unwrap();
    assert_eq!(t.message_ref.as_deref(), Some("Message_caseDecided"));
    assert_eq!(t.message_name.as_deref(), Some("caseDecided"));

    // A message end event: no outgoing flow, and it counts as an end (no dead end).
    let end = doc(&format!(
        r#"<startEvent id="start"/>
<endEvent id="answer">{CONFIG}<messageEventDefinition/></endEvent>
<sequenceFlow id="f1" sourceRef="start" targetRef="answer"/>"#
    ));
    let compiled = compile(&end).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    assert!(compiled.warnings.is_empty(), "{:#?}", compiled.warnings);
    let def = &compiled.definition;
    let node = def.node(def.node_by_id("answer").unwrap());
    assert_eq!(node.kind.element_name(), "endEvent");
    let NodeKind::ServiceTask(task) = &node.kind else {
        panic!()
    };
    assert!(task.is_message_end());
}

#[test]
fn the_name_may_come_from_a_named_message_ref_but_must_come_from_somewhere() {
    let config = |attrs: &str| {
        format!(
            r#"<extensionElements>
<flyt:sendMessage target="acme/a" correlationKey='["instanceContext", "instanceId"]'{attrs}/>
</extensionElements>"#
        )
    };
    let named = around(
        &format!(
            r#"<intermediateThrowEvent id="tell">{}<messageEventDefinition messageRef="Message_caseDecided"/></intermediateThrowEvent>"#,
            config("")
        ),
        "tell",
    );
    compile(&named).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));

    let unnamed = around(
        &format!(
            r#"<intermediateThrowEvent id="tell">{}<messageEventDefinition messageRef="Message_unnamed"/></intermediateThrowEvent>"#,
            config("")
        ),
        "tell",
    );
    let d = only(&rejected(&unnamed), Code::InvalidMessageThrow);
    assert_at(
        &d,
        Code::InvalidMessageThrow,
        "tell",
        &unnamed,
        "<flyt:sendMessage",
    );
    assert!(d.message.contains("Message_unnamed"), "{}", d.message);

    let none = around(
        &format!(r#"<sendTask id="send">{}</sendTask>"#, config("")),
        "send",
    );
    let d = only(&rejected(&none), Code::InvalidMessageThrow);
    assert_at(
        &d,
        Code::InvalidMessageThrow,
        "send",
        &none,
        "<flyt:sendMessage",
    );
    assert!(d.message.contains("no message name"), "{}", d.message);
}

#[test]
fn missing_configuration_target_key_and_bad_mappings_are_refused_at_their_lines() {
    // No <flyt:sendMessage> at all: at the element.
    let bare = around(r#"<sendTask id="send"/>"#, "send");
    let d = only(&rejected(&bare), Code::InvalidMessageThrow);
    assert_at(&d, Code::InvalidMessageThrow, "send", &bare, "<sendTask");
    assert!(d.message.contains("no <flyt:sendMessage>"), "{}", d.message);

    let bare_end = doc(r#"<startEvent id="start"/>
<endEvent id="answer"><messageEventDefinition/></endEvent>
<sequenceFlow id="f1" sourceRef="start" targetRef="answer"/>"#);
    let d = only(&rejected(&bare_end), Code::InvalidMessageThrow);
    assert_at(
        &d,
        Code::InvalidMessageThrow,
        "answer",
        &bare_end,
        "<endEvent id=\"answer\"",
    );

    // No target.
    let no_target = around(
        r#"<sendTask id="send"><extensionElements>
<flyt:sendMessage name="x" correlationKey='["instanceContext", "instanceId"]'/>
</extensionElements></sendTask>"#,
        "send",
    );
    let d = only(&rejected(&no_target), Code::InvalidMessageThrow);
    assert_at(
        &d,
        Code::InvalidMessageThrow,
        "send",
        &no_target,
        "<flyt:sendMessage",
    );
    assert!(d.message.contains("target"), "{}", d.message);

    // A correlation key that does not parse, and one missing.
    let bad_key = around(
        r#"<sendTask id="send"><extensionElements>
<flyt:sendMessage target="acme/a" name="x" correlationKey='["dataModel"'/>
</extensionElements></sendTask>"#,
        "send",
    );
    let d = only(&rejected(&bad_key), Code::InvalidMessageThrow);
    assert_at(
        &d,
        Code::InvalidMessageThrow,
        "send",
        &bad_key,
        "<flyt:sendMessage",
    );
    assert!(d.message.contains("does not parse"), "{}", d.message);
    let no_key = around(
        r#"<sendTask id="send"><extensionElements>
<flyt:sendMessage target="acme/a" name="x"/>
</extensionElements></sendTask>"#,
        "send",
    );
    let d = only(&rejected(&no_key), Code::InvalidMessageThrow);
    assert!(d.message.contains("correlationKey"), "{}", d.message);

    // A payload mapping without `to`, an unknown child and a bad time to live: each at its line.
    let mappings = around(
        r#"<sendTask id="send"><extensionElements>
<flyt:sendMessage target="acme/a" name="x" correlationKey='["instanceContext", "instanceId"]' timeToLive="soon">
<flyt:payload from="decision"/>
<flyt:prefill from="a" to="b"/>
</flyt:sendMessage>
</extensionElements></sendTask>"#,
        "send",
    );
    let diags = rejected(&mappings);
    let lines: Vec<(u32, &str)> = diags
        .iter()
        .filter(|d| d.code == Code::InvalidMessageThrow)
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert_eq!(lines.len(), 3, "{diags:#?}");
    assert_eq!(lines[0].0, line_of(&mappings, "<flyt:sendMessage"));
    assert!(lines[0].1.contains("timeToLive"), "{lines:?}");
    assert_eq!(lines[1].0, line_of(&mappings, "<flyt:payload"));
    assert_eq!(lines[2].0, line_of(&mappings, "<flyt:prefill"));
}

#[test]
fn a_message_end_event_with_an_outgoing_flow_is_misplaced() {
    let text = doc(&format!(
        r#"<startEvent id="start"/>
<endEvent id="answer">{CONFIG}<messageEventDefinition/></endEvent>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="answer"/>
<sequenceFlow id="f2" sourceRef="answer" targetRef="end"/>"#
    ));
    let d = only(&rejected(&text), Code::MisplacedFlow);
    assert_at(
        &d,
        Code::MisplacedFlow,
        "answer",
        &text,
        "<endEvent id=\"answer\"",
    );
}

#[test]
fn flyt_validate_does_not_ask_for_a_handler_of_message_throws() {
    // Without a deploy target, a message throw needs no registered handler (the server
    // provides `sendMessage`), so nothing is said about one.
    let text = around(
        &format!(r#"<sendTask id="send">{CONFIG}</sendTask>"#),
        "send",
    );
    let compiled = bpmn::compile(text.as_bytes(), &Options::default()).unwrap();
    assert!(compiled.warnings.is_empty(), "{:#?}", compiled.warnings);
}

#[test]
fn a_boundary_event_on_a_message_throw_event_is_refused_but_one_on_a_send_task_is_not() {
    let on = |element: &str, id: &str| {
        doc(&format!(
            r#"<startEvent id="start"/>
{element}
<boundaryEvent id="late" attachedToRef="{id}"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="{id}"/>
<sequenceFlow id="f2" sourceRef="{id}" targetRef="end"/>
<sequenceFlow id="f3" sourceRef="late" targetRef="end"/>"#
        ))
    };
    let event = on(
        &format!(
            r#"<intermediateThrowEvent id="tell">{CONFIG}<messageEventDefinition/></intermediateThrowEvent>"#
        ),
        "tell",
    );
    let d = only(&rejected(&event), Code::InvalidBoundary);
    assert_at(&d, Code::InvalidBoundary, "late", &event, "<boundaryEvent");
    assert!(
        d.message.contains("intermediateThrowEvent"),
        "{}",
        d.message
    );
    let task = on(
        &format!(r#"<sendTask id="send">{CONFIG}</sendTask>"#),
        "send",
    );
    compile(&task).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
}
