//! Signal events: root `<bpmn:signal>`, signal start, intermediate catch and throw, boundary
//! and end events, and their line-exact diagnostics.

use crate::bpmn_messages::with_messages;
use crate::support::{assert_at, compile, only, rejected};
use flyt_engine::bpmn::Code;
use flyt_engine::bpmn::elements::NodeKind;

const ALARM: &str = r#"<signal id="S" name="alarm"/>"#;

/// start → `element` (id `x`) → end.
fn around(element: &str) -> String {
    format!(
        r#"<startEvent id="s"/>
{element}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="x"/>
<sequenceFlow id="f2" sourceRef="x" targetRef="e"/>"#
    )
}

fn catch(def: &str) -> String {
    format!(r#"<intermediateCatchEvent id="x">{def}</intermediateCatchEvent>"#)
}

fn kind_of(text: &str, id: &str) -> NodeKind {
    let compiled = compile(text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let def = &compiled.definition;
    def.node(def.node_by_id(id).unwrap()).kind.clone()
}

#[test]
fn a_signal_catch_event_compiles_with_its_signals_name() {
    let text = with_messages(
        ALARM,
        &around(&catch(r#"<signalEventDefinition signalRef="S"/>"#)),
    );
    let NodeKind::SignalCatch(c) = kind_of(&text, "x") else {
        panic!()
    };
    assert_eq!(c.signal, "alarm");
}

#[test]
fn a_signal_throw_and_a_signal_end_event_compile() {
    let throw = r#"<intermediateThrowEvent id="x"><signalEventDefinition signalRef="S"/></intermediateThrowEvent>"#;
    let text = with_messages(ALARM, &around(throw));
    let NodeKind::SignalThrow(t) = kind_of(&text, "x") else {
        panic!()
    };
    assert_eq!((t.signal.as_str(), t.end), ("alarm", false));
    let end = r#"<startEvent id="s"/>
<endEvent id="x"><signalEventDefinition signalRef="S"/></endEvent>
<sequenceFlow id="f1" sourceRef="s" targetRef="x"/>"#;
    let text = with_messages(ALARM, end);
    let NodeKind::SignalThrow(t) = kind_of(&text, "x") else {
        panic!()
    };
    assert_eq!((t.signal.as_str(), t.end), ("alarm", true));
}

#[test]
fn a_signal_start_event_compiles_and_is_not_a_none_start() {
    let body = r#"<startEvent id="x"><signalEventDefinition signalRef="S"/></startEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="x" targetRef="e"/>"#;
    let text = with_messages(ALARM, body);
    let NodeKind::StartEvent(s) = kind_of(&text, "x") else {
        panic!()
    };
    assert_eq!(s.signal.as_deref(), Some("alarm"));
    assert!(!s.is_none());
}

#[test]
fn a_signal_boundary_compiles_on_a_task_and_on_a_sub_process() {
    for (on, cancel) in [
        (r#"<userTask id="t"/>"#, "true"),
        (
            r#"<subProcess id="t"><startEvent id="is"/><endEvent id="ie"/><sequenceFlow id="if" sourceRef="is" targetRef="ie"/></subProcess>"#,
            "false",
        ),
    ] {
        let body = format!(
            r#"<startEvent id="s"/>
{on}
<boundaryEvent id="b" attachedToRef="t" cancelActivity="{cancel}"><signalEventDefinition signalRef="S"/></boundaryEvent>
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="b" targetRef="e2"/>"#
        );
        let text = with_messages(ALARM, &body);
        let NodeKind::SignalBoundary(b) = kind_of(&text, "b") else {
            panic!()
        };
        assert_eq!(b.signal, "alarm");
        assert_eq!(b.cancel_activity, cancel == "true");
    }
}

#[test]
fn a_signal_without_a_name_is_refused_at_the_signal() {
    let signals = r#"<signal id="S"/>"#;
    let text = with_messages(
        signals,
        &around(&catch(r#"<signalEventDefinition signalRef="S"/>"#)),
    );
    let d = only(&rejected(&text), Code::SignalWithoutName);
    assert_at(
        &d,
        Code::SignalWithoutName,
        "S",
        &text,
        r#"<signal id="S"/>"#,
    );
    assert!(
        d.message.contains("signal catch event `x`"),
        "{}",
        d.message
    );
}

#[test]
fn a_signal_ref_to_no_signal_is_refused_at_the_definition() {
    let text = with_messages(
        ALARM,
        &around(&catch("\n<signalEventDefinition signalRef=\"Nope\"/>\n")),
    );
    let d = only(&rejected(&text), Code::UnknownSignal);
    assert_at(&d, Code::UnknownSignal, "x", &text, r#"signalRef="Nope""#);
    assert!(d.message.contains("`Nope`"), "{}", d.message);
}

#[test]
fn a_throw_without_a_signal_ref_is_refused_at_the_element() {
    for (element, what) in [
        (
            "<intermediateThrowEvent id=\"x\">\n<signalEventDefinition/>\n</intermediateThrowEvent>",
            "signal throw event",
        ),
        (
            "<intermediateCatchEvent id=\"x\">\n<signalEventDefinition/>\n</intermediateCatchEvent>",
            "signal catch event",
        ),
    ] {
        let text = with_messages(ALARM, &around(element));
        let d = only(&rejected(&text), Code::UnknownSignal);
        let head = element.lines().next().unwrap();
        assert_at(&d, Code::UnknownSignal, "x", &text, head);
        assert!(d.message.contains(what), "{}", d.message);
    }
    // A signal end event, and a signal start event.
    let end = "<startEvent id=\"s\"/>\n<endEvent id=\"x\">\n<signalEventDefinition/>\n</endEvent>\n<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"x\"/>";
    let text = with_messages(ALARM, end);
    let d = only(&rejected(&text), Code::UnknownSignal);
    assert_at(&d, Code::UnknownSignal, "x", &text, r#"<endEvent id="x">"#);
    assert!(d.message.contains("signal end event"), "{}", d.message);
    let start = "<startEvent id=\"x\">\n<signalEventDefinition signalRef=\"Gone\"/>\n</startEvent>\n<endEvent id=\"e\"/>\n<sequenceFlow id=\"f1\" sourceRef=\"x\" targetRef=\"e\"/>";
    let text = with_messages(ALARM, start);
    let d = only(&rejected(&text), Code::UnknownSignal);
    assert_at(&d, Code::UnknownSignal, "x", &text, r#"signalRef="Gone""#);
    assert!(d.message.contains("signal start event"), "{}", d.message);
}

#[test]
fn a_signal_boundary_on_a_gateway_is_refused_and_one_without_a_signal_too() {
    let body = "<startEvent id=\"s\"/>\n<userTask id=\"t\"/>\n<boundaryEvent id=\"b\" attachedToRef=\"t\">\n<signalEventDefinition signalRef=\"Q\"/>\n</boundaryEvent>\n<endEvent id=\"e\"/>\n<endEvent id=\"e2\"/>\n<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/>\n<sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/>\n<sequenceFlow id=\"f3\" sourceRef=\"b\" targetRef=\"e2\"/>";
    let text = with_messages(ALARM, body);
    let d = only(&rejected(&text), Code::UnknownSignal);
    assert_at(&d, Code::UnknownSignal, "b", &text, r#"signalRef="Q""#);
    assert!(d.message.contains("signal boundary event"), "{}", d.message);
    let body = "<startEvent id=\"s\"/>\n<parallelGateway id=\"t\"/>\n<boundaryEvent id=\"b\" attachedToRef=\"t\">\n<signalEventDefinition signalRef=\"S\"/>\n</boundaryEvent>\n<endEvent id=\"e\"/>\n<endEvent id=\"e2\"/>\n<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/>\n<sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/>\n<sequenceFlow id=\"f3\" sourceRef=\"b\" targetRef=\"e2\"/>";
    let text = with_messages(ALARM, body);
    let d = only(&rejected(&text), Code::InvalidBoundary);
    assert_eq!(d.element_id.as_deref(), Some("b"));
}

#[test]
fn two_signals_with_one_name_are_one_signal() {
    let signals = r#"<signal id="S" name="alarm"/>
<signal id="S2" name="alarm"/>"#;
    let body = r#"<startEvent id="s"/>
<intermediateThrowEvent id="x"><signalEventDefinition signalRef="S"/></intermediateThrowEvent>
<intermediateCatchEvent id="y"><signalEventDefinition signalRef="S2"/></intermediateCatchEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="x"/>
<sequenceFlow id="f2" sourceRef="x" targetRef="y"/>
<sequenceFlow id="f3" sourceRef="y" targetRef="e"/>"#;
    let text = with_messages(signals, body);
    let NodeKind::SignalCatch(c) = kind_of(&text, "y") else {
        panic!()
    };
    assert_eq!(c.signal, "alarm");
}

/// start → task `w` → end, beside an event sub-process `esp` whose start event `es` has
/// `definition`.
fn with_event_sub(definition: &str) -> String {
    format!(
        r#"<startEvent id="s"/>
<userTask id="w"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
<sequenceFlow id="f2" sourceRef="w" targetRef="e"/>
<subProcess id="esp" triggeredByEvent="true">
<startEvent id="es" isInterrupting="false">
{definition}
</startEvent>
<endEvent id="ee"/>
<sequenceFlow id="g1" sourceRef="es" targetRef="ee"/>
</subProcess>"#
    )
}

#[test]
fn a_signal_started_event_sub_process_compiles_with_its_signals_name() {
    let text = with_messages(
        ALARM,
        &with_event_sub(r#"<signalEventDefinition signalRef="S"/>"#),
    );
    let NodeKind::EventSubProcess(e) = kind_of(&text, "esp") else {
        panic!()
    };
    assert_eq!(e.signal.as_deref(), Some("alarm"));
    assert!(!e.interrupting);
}

#[test]
fn a_signal_started_event_sub_process_naming_no_signal_is_refused_at_its_start_event() {
    let text = with_messages(
        ALARM,
        &with_event_sub(r#"<signalEventDefinition signalRef="Nope"/>"#),
    );
    let d = only(&rejected(&text), Code::UnknownSignal);
    assert_at(&d, Code::UnknownSignal, "es", &text, r#"signalRef="Nope""#);
}

#[test]
fn a_signal_start_event_inside_an_embedded_sub_process_is_refused_at_the_sub_process() {
    let text = with_messages(
        ALARM,
        r#"<startEvent id="s"/>
<subProcess id="x">
<startEvent id="is"><signalEventDefinition signalRef="S"/></startEvent>
<endEvent id="ie"/>
<sequenceFlow id="i1" sourceRef="is" targetRef="ie"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="x"/>
<sequenceFlow id="f2" sourceRef="x" targetRef="e"/>"#,
    );
    let d = only(&rejected(&text), Code::InvalidSubProcess);
    assert_at(
        &d,
        Code::InvalidSubProcess,
        "x",
        &text,
        r#"<subProcess id="x">"#,
    );
    assert!(
        d.message.contains("signal start event `is`"),
        "{}",
        d.message
    );
}

/// A signal catch event `x` whose `<flyt:subscription>` has `attrs`.
fn catch_with_subscription(attrs: &str) -> String {
    with_messages(
        ALARM,
        &around(&format!(
            r#"<intermediateCatchEvent id="x">
<extensionElements><flyt:subscription {attrs}/></extensionElements>
<signalEventDefinition signalRef="S"/>
</intermediateCatchEvent>"#
        )),
    )
}

#[test]
fn a_signal_catch_names_the_data_type_of_the_signals_data() {
    let text = catch_with_subscription(r#"dataType="model""#);
    let NodeKind::SignalCatch(c) = kind_of(&text, "x") else {
        panic!()
    };
    assert_eq!(c.data_type.as_ref().map(|d| d.as_str()), Some("model"));
    // At deploy, a data type the app does not declare is refused at the subscription.
    let text = catch_with_subscription(r#"dataType="decision""#);
    compile(&text).unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let options = flyt_engine::bpmn::Options::default().with_target(&crate::bpmn_messages::Target);
    let diags = match flyt_engine::bpmn::compile(text.as_bytes(), &options) {
        Ok(_) => panic!("compiled against an app without `decision`"),
        Err(r) => r.diagnostics,
    };
    let d = only(&diags, Code::UnknownDataType);
    assert_at(&d, Code::UnknownDataType, "x", &text, "<flyt:subscription");
    assert!(d.message.contains("`decision`"), "{}", d.message);
}

#[test]
fn a_signal_subscription_with_a_correlation_key_is_refused() {
    let text = catch_with_subscription(r#"correlationKey='["dataModel", "id"]'"#);
    let d = only(&rejected(&text), Code::InvalidCorrelationKey);
    assert_at(
        &d,
        Code::InvalidCorrelationKey,
        "x",
        &text,
        "<flyt:subscription",
    );
}
