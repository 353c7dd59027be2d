//! Message catches: root `<bpmn:message>` with `<flyt:subscription>`, intermediate message
//! catch events and receive tasks, and their line-exact diagnostics.

use crate::support::{assert_at, compile, only, rejected};
use flyt_engine::bpmn::elements::NodeKind;
use flyt_engine::bpmn::{self, Code, DeployTarget, Options};

/// A document with `messages` beside the process and `body` inside it.
pub fn with_messages(messages: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" id="defs">
{}
<process id="p">
{}
</process>
</definitions>
"#,
        messages.trim_matches('\n'),
        body.trim_matches('\n')
    )
}

pub const DECIDED: &str = r#"<message id="M" name="caseDecided">
  <extensionElements><flyt:subscription correlationKey='["instanceContext", "instanceId"]' dataType="decision"/></extensionElements>
</message>"#;

fn flow_around(catch: &str) -> String {
    format!(
        r#"<startEvent id="s"/>
{catch}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<sequenceFlow id="f2" sourceRef="c" targetRef="e"/>"#
    )
}

#[test]
fn a_receive_task_and_a_catch_event_compile_with_the_messages_subscription() {
    for catch in [
        r#"<receiveTask id="c" messageRef="M"/>"#,
        r#"<intermediateCatchEvent id="c"><messageEventDefinition messageRef="M"/></intermediateCatchEvent>"#,
    ] {
        let text = with_messages(DECIDED, &flow_around(catch));
        let compiled = compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
        let def = &compiled.definition;
        let node = def.node(def.node_by_id("c").unwrap());
        let NodeKind::MessageCatch(m) = &node.kind else {
            panic!("{:?}", node.kind)
        };
        assert_eq!(m.message, "caseDecided");
        assert_eq!(
            m.subscription.key_text,
            r#"["instanceContext", "instanceId"]"#
        );
        assert_eq!(
            m.subscription.data_type.as_ref().map(|d| d.as_str()),
            Some("decision")
        );
        assert_eq!(m.receive_task, catch.starts_with("<receiveTask"));
    }
}

#[test]
fn the_elements_own_subscription_overrides_the_messages() {
    let catch = r#"<receiveTask id="c" messageRef="M"><extensionElements><flyt:subscription correlationKey='["dataModel", "caseId"]'/></extensionElements></receiveTask>"#;
    let text = with_messages(DECIDED, &flow_around(catch));
    let compiled = compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let def = &compiled.definition;
    let NodeKind::MessageCatch(m) = &def.node(def.node_by_id("c").unwrap()).kind else {
        panic!()
    };
    assert_eq!(m.subscription.key_text, r#"["dataModel", "caseId"]"#);
    // dataType is not set on the element: the message's still applies.
    assert_eq!(
        m.subscription.data_type.as_ref().map(|d| d.as_str()),
        Some("decision")
    );
}

#[test]
fn a_message_without_a_name_is_refused_at_the_message() {
    let messages = r#"<message id="M">
  <extensionElements><flyt:subscription correlationKey='["instanceContext", "instanceId"]'/></extensionElements>
</message>"#;
    let text = with_messages(
        messages,
        &flow_around(r#"<receiveTask id="c" messageRef="M"/>"#),
    );
    let d = only(&rejected(&text), Code::MessageWithoutName);
    assert_at(
        &d,
        Code::MessageWithoutName,
        "M",
        &text,
        r#"<message id="M">"#,
    );
}

#[test]
fn a_catch_without_a_correlation_key_is_refused_at_the_catch() {
    let messages = r#"<message id="M" name="caseDecided"/>"#;
    let text = with_messages(
        messages,
        &flow_around(r#"<receiveTask id="c" messageRef="M"/>"#),
    );
    let d = only(&rejected(&text), Code::MissingCorrelationKey);
    assert_at(
        &d,
        Code::MissingCorrelationKey,
        "c",
        &text,
        r#"<receiveTask id="c""#,
    );
    assert!(d.message.contains("receive task `c`"), "{}", d.message);
}

#[test]
fn a_message_ref_to_no_message_is_refused_at_the_definition() {
    let catch = r#"<intermediateCatchEvent id="c">
<messageEventDefinition messageRef="Nope"/>
</intermediateCatchEvent>"#;
    let text = with_messages(DECIDED, &flow_around(catch));
    let d = only(&rejected(&text), Code::UnknownMessage);
    assert_at(&d, Code::UnknownMessage, "c", &text, r#"messageRef="Nope""#);
    assert!(d.message.contains("`Nope`"), "{}", d.message);
    // No messageRef at all: at the element.
    let text = with_messages(DECIDED, &flow_around(r#"<receiveTask id="c"/>"#));
    let d = only(&rejected(&text), Code::UnknownMessage);
    assert_at(
        &d,
        Code::UnknownMessage,
        "c",
        &text,
        r#"<receiveTask id="c""#,
    );
}

#[test]
fn an_unparseable_correlation_key_is_refused_at_the_subscription() {
    let messages = r#"<message id="M" name="caseDecided">
  <extensionElements>
    <flyt:subscription correlationKey='["noSuchFunction", 1'/>
  </extensionElements>
</message>"#;
    let text = with_messages(
        messages,
        &flow_around(r#"<receiveTask id="c" messageRef="M"/>"#),
    );
    let d = only(&rejected(&text), Code::InvalidCorrelationKey);
    assert_at(
        &d,
        Code::InvalidCorrelationKey,
        "c",
        &text,
        "<flyt:subscription",
    );
}

/// An app whose only data type is `model`.
pub(crate) struct Target;

impl DeployTarget for Target {
    fn has_service_task_handler(&self, _: &str) -> bool {
        true
    }
    fn has_gateway_decider(&self, _: &str) -> bool {
        false
    }
    fn has_data_type(&self, data_type: &str) -> Option<bool> {
        Some(data_type == "model")
    }
}

#[test]
fn a_data_type_the_app_does_not_have_is_refused_at_deploy_only() {
    let text = with_messages(
        DECIDED,
        &flow_around(r#"<receiveTask id="c" messageRef="M"/>"#),
    );
    // `flyt validate` does not know the app: it compiles.
    compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let options = Options::default().with_target(&Target);
    let diags = match bpmn::compile(text.as_bytes(), &options) {
        Ok(_) => panic!("compiled against an app without `decision`"),
        Err(r) => r.diagnostics,
    };
    let d = only(&diags, Code::UnknownDataType);
    assert_at(&d, Code::UnknownDataType, "c", &text, "<flyt:subscription");
    assert!(d.message.contains("`decision`"), "{}", d.message);
}

#[test]
fn a_message_boundary_compiles_on_a_task_and_a_sub_process_and_is_refused_on_a_receive_task() {
    let on_task = r#"<startEvent id="s"/>
<task id="c"/>
<boundaryEvent id="b" attachedToRef="c" cancelActivity="false"><messageEventDefinition messageRef="M"/></boundaryEvent>
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<sequenceFlow id="f2" sourceRef="c" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="b" targetRef="e2"/>"#;
    let text = with_messages(DECIDED, on_task);
    let compiled = compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let def = &compiled.definition;
    let NodeKind::MessageBoundary(b) = &def.node(def.node_by_id("b").unwrap()).kind else {
        panic!()
    };
    assert!(!b.cancel_activity);
    assert_eq!(b.catch.message, "caseDecided");

    let on_sub = r#"<startEvent id="s"/>
<subProcess id="c">
<startEvent id="is"/>
<endEvent id="ie"/>
<sequenceFlow id="if1" sourceRef="is" targetRef="ie"/>
</subProcess>
<boundaryEvent id="b" attachedToRef="c"><messageEventDefinition messageRef="M"/></boundaryEvent>
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<sequenceFlow id="f2" sourceRef="c" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="b" targetRef="e2"/>"#;
    let text = with_messages(DECIDED, on_sub);
    let compiled = compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let def = &compiled.definition;
    let NodeKind::MessageBoundary(b) = &def.node(def.node_by_id("b").unwrap()).kind else {
        panic!()
    };
    assert!(b.cancel_activity);
    assert!(matches!(
        def.node(b.attached_to).kind,
        NodeKind::SubProcess(_)
    ));
    // On a receive task, which waits for a message of its own: refused at attachedToRef.
    let on_receive = on_task.replace(
        r#"<task id="c"/>"#,
        r#"<receiveTask id="c" messageRef="M"/>"#,
    );
    let text = with_messages(DECIDED, &on_receive);
    let d = only(&rejected(&text), Code::InvalidBoundary);
    assert_at(
        &d,
        Code::InvalidBoundary,
        "b",
        &text,
        r#"<boundaryEvent id="b""#,
    );
    // Without a correlation key anywhere: at the boundary event, on a sub-process as on a task.
    for body in [on_task, on_sub] {
        let text = with_messages(r#"<message id="M" name="caseDecided"/>"#, body);
        let d = only(&rejected(&text), Code::MissingCorrelationKey);
        assert_at(
            &d,
            Code::MissingCorrelationKey,
            "b",
            &text,
            r#"<boundaryEvent id="b""#,
        );
    }
}

/// start → user task `w` → end, and the event sub-process `esp` started by `start` (a start
/// event's opening tag and children).
fn with_event_sub(start: &str) -> String {
    format!(
        r#"<startEvent id="s"/>
<task id="w"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
<sequenceFlow id="f2" sourceRef="w" targetRef="e"/>
<subProcess id="esp" triggeredByEvent="true">
{start}
<endEvent id="ee"/>
<sequenceFlow id="ef1" sourceRef="es" targetRef="ee"/>
</subProcess>"#
    )
}

#[test]
fn a_message_start_of_an_event_sub_process_compiles_to_a_catch_with_its_key() {
    let start = r#"<startEvent id="es" isInterrupting="false">
<extensionElements><flyt:subscription correlationKey='["dataModel", "caseId"]'/></extensionElements>
<messageEventDefinition messageRef="M"/></startEvent>"#;
    let text = with_messages(DECIDED, &with_event_sub(start));
    let compiled = compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let def = &compiled.definition;
    let NodeKind::EventSubProcess(e) = &def.node(def.node_by_id("esp").unwrap()).kind else {
        panic!()
    };
    assert!(!e.interrupting);
    let m = e.message.as_ref().expect("a message trigger");
    assert_eq!(m.message, "caseDecided");
    assert_eq!(m.subscription.key_text, r#"["dataModel", "caseId"]"#);
    assert_eq!(
        m.subscription.data_type.as_ref().map(|d| d.as_str()),
        Some("decision")
    );
    // It starts no instance: the process has one start event, the none one.
    assert_eq!(def.start_events().len(), 1);
}

#[test]
fn a_message_start_of_an_event_sub_process_needs_a_named_message_and_a_key() {
    let start = r#"<startEvent id="es"><messageEventDefinition messageRef="M"/></startEvent>"#;
    let text = with_messages(
        r#"<message id="M" name="caseDecided"/>"#,
        &with_event_sub(start),
    );
    let d = only(&rejected(&text), Code::MissingCorrelationKey);
    assert_at(
        &d,
        Code::MissingCorrelationKey,
        "es",
        &text,
        r#"<startEvent id="es""#,
    );
    let text = with_messages(r#"<message id="M"/>"#, &with_event_sub(start));
    let d = only(&rejected(&text), Code::MessageWithoutName);
    assert_at(
        &d,
        Code::MessageWithoutName,
        "M",
        &text,
        r#"<message id="M"/>"#,
    );
    let text = with_messages(
        DECIDED,
        &with_event_sub(&start.replace("\"M\"", "\"Nope\"")),
    );
    let d = only(&rejected(&text), Code::UnknownMessage);
    assert_at(
        &d,
        Code::UnknownMessage,
        "es",
        &text,
        r#"messageRef="Nope""#,
    );
}

#[test]
fn a_message_start_event_in_a_sub_process_is_refused_at_the_sub_process() {
    let body = r#"<startEvent id="s"/>
<subProcess id="sub">
<startEvent id="is"><messageEventDefinition messageRef="M"/></startEvent>
<endEvent id="ie"/>
<sequenceFlow id="i1" sourceRef="is" targetRef="ie"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>"#;
    let text = with_messages(DECIDED, body);
    let d = only(&rejected(&text), Code::InvalidSubProcess);
    assert_at(
        &d,
        Code::InvalidSubProcess,
        "sub",
        &text,
        r#"<subProcess id="sub""#,
    );
    assert!(
        d.message.contains("message start event `is`"),
        "{}",
        d.message
    );
}

/// start → event-based gateway → (message catch `m` | timer catch `t`) → end each.
pub fn race(extra: &str) -> String {
    format!(
        r#"<startEvent id="s"/>
<eventBasedGateway id="g"/>
<intermediateCatchEvent id="m"><messageEventDefinition messageRef="M"/></intermediateCatchEvent>
<intermediateCatchEvent id="t"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
{extra}
<endEvent id="e1"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
<sequenceFlow id="f2" sourceRef="g" targetRef="m"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="t"/>
<sequenceFlow id="f4" sourceRef="m" targetRef="e1"/>
<sequenceFlow id="f5" sourceRef="t" targetRef="e2"/>"#
    )
}

#[test]
fn an_event_based_gateway_is_followed_only_by_catch_events_and_receive_tasks() {
    let text = with_messages(DECIDED, &race(""));
    compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let text = with_messages(
        DECIDED,
        &race(
            r#"<task id="x"/>
<sequenceFlow id="f6" sourceRef="g" targetRef="x"/>
<sequenceFlow id="f7" sourceRef="x" targetRef="e1"/>"#,
        ),
    );
    let d = only(&rejected(&text), Code::InvalidEventGateway);
    assert_at(
        &d,
        Code::InvalidEventGateway,
        "g",
        &text,
        r#"<sequenceFlow id="f6""#,
    );
    assert!(d.message.contains("`x`"), "{}", d.message);
}

#[test]
fn a_message_start_event_names_a_message_with_a_name() {
    let body = r#"<startEvent id="s">
<messageEventDefinition messageRef="Nope"/>
</startEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="e"/>"#;
    let text = with_messages(DECIDED, body);
    let d = only(&rejected(&text), Code::UnknownMessage);
    assert_at(&d, Code::UnknownMessage, "s", &text, r#"messageRef="Nope""#);
    let text = with_messages(r#"<message id="Nope"/>"#, body);
    let d = only(&rejected(&text), Code::MessageWithoutName);
    assert_at(
        &d,
        Code::MessageWithoutName,
        "Nope",
        &text,
        r#"<message id="Nope"/>"#,
    );
    // With a named message it compiles, and the API cannot start it (it is no none start).
    let text = with_messages(DECIDED, &body.replace("Nope", "M"));
    let compiled = compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let def = &compiled.definition;
    let NodeKind::StartEvent(s) = &def.node(def.node_by_id("s").unwrap()).kind else {
        panic!()
    };
    assert!(!s.is_none());
    assert_eq!(s.message.as_ref().unwrap().name, "caseDecided");
}
