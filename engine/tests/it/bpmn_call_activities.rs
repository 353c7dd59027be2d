//! Reading and validation of call activities, line-exact: a missing `calledElement`, a called
//! process that is not in the file or that no hosted app has (an error at deploy, a warning in
//! `flyt validate`), mappings naming unknown data types, wrong `<flyt:calledElement>`
//! attributes, and boundary events of every kind accepted on a call activity.

use crate::support::{assert_at, compile, diagnostics, doc, only};
use flyt_engine::bpmn::DeployTarget;
use flyt_engine::bpmn::{self, Code, Diagnostic, Options, Severity};
use flyt_engine::ids::AppId;

/// A process `p` whose call activity `call` (with the children `inside`) sits between start
/// and end, and a second process `approval` of the same file it may call.
fn calling(attrs: &str, inside: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<callActivity id="call" {attrs}>
{inside}
</callActivity>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
<sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
</process>
<process id="approval">
<startEvent id="as"/>
<endEvent id="ae"/>
<sequenceFlow id="af" sourceRef="as" targetRef="ae"/>"#
    ))
}

/// A server hosting `ttd/approval` (process `approval`, latest version 2, data types
/// `request` and `decision`), whose deploying app has data types `model` and `decision`.
struct Server;

impl DeployTarget for Server {
    fn has_service_task_handler(&self, _: &str) -> bool {
        true
    }
    fn has_gateway_decider(&self, _: &str) -> bool {
        false
    }
    fn has_data_type(&self, data_type: &str) -> Option<bool> {
        Some(["model", "decision"].contains(&data_type))
    }
    fn app_has_data_type(&self, app: &AppId, data_type: &str) -> Option<bool> {
        Some(app.to_string() == "ttd/approval" && ["request", "decision"].contains(&data_type))
    }
    fn called_process(
        &self,
        app: &AppId,
        process: &str,
        version: Option<u32>,
    ) -> Result<(), String> {
        match app.to_string().as_str() {
            "ttd/approval" if process != "approval" => {
                Err("version 2 of `ttd/approval` starts process `approval`".into())
            }
            "ttd/approval" if version.is_some_and(|v| v > 2) => {
                Err("`ttd/approval` has no such version (its latest is 2)".into())
            }
            "ttd/approval" => Ok(()),
            _ => Err(format!("this server hosts no app `{app}`")),
        }
    }
}

fn deploy(text: &str) -> Vec<Diagnostic> {
    let options = Options::default()
        .with_target(&Server)
        .with_process(Some("p"));
    match bpmn::compile(text.as_bytes(), &options) {
        Ok(c) => c.warnings,
        Err(r) => r.diagnostics,
    }
}

fn codes(diags: &[Diagnostic]) -> Vec<&'static str> {
    diags.iter().map(|d| d.code.as_str()).collect()
}

/// No error at all: the definition deploys.
fn assert_deploys(diags: &[Diagnostic], text: &str) {
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let options = Options::default()
        .with_target(&Server)
        .with_process(Some("p"));
    let compiled = bpmn::compile(text.as_bytes(), &options).expect("deploys");
    assert!(
        compiled
            .others
            .iter()
            .any(|o| o.process_id().as_str() == "approval")
    );
}

#[test]
fn a_call_of_the_same_files_process_with_mappings_is_read_and_checked_whole() {
    let text = calling(
        r#"calledElement="approval""#,
        r#"<extensionElements>
<flyt:input source="model" target="decision"/>
<flyt:output source="decision"/>
</extensionElements>"#,
    );
    let diags = deploy(&text);
    // The graph (reachability, dead ends) reads it as a wait state with one way out, and the
    // mappings name known data types.
    assert_deploys(&diags, &text);
    let compiled = compile(&text).expect("compiles standalone too");
    let def = &compiled.definition;
    let call = def.node(def.node_by_id("call").unwrap());
    let flyt_engine::bpmn::elements::NodeKind::CallActivity(call) = &call.kind else {
        panic!("{:?}", call.kind)
    };
    assert_eq!(
        (call.process.as_str(), call.app.as_ref(), call.version),
        ("approval", None, None)
    );
    assert_eq!(call.inputs[0].source.as_str(), "model");
    assert_eq!(call.inputs[0].target.as_str(), "decision");
    assert_eq!(
        call.outputs[0].target.as_str(),
        "decision",
        "target defaults to source"
    );
    assert!(
        !diags.iter().any(|d| d.code == Code::UnknownCalledProcess),
        "{:?}",
        codes(&diags)
    );
}

#[test]
fn a_call_activity_without_called_element_is_an_error_at_its_line() {
    let text = calling("", "");
    let diags = diagnostics(&text);
    let d = only(&diags, Code::InvalidCallActivity);
    assert_at(
        &d,
        Code::InvalidCallActivity,
        "call",
        &text,
        "<callActivity",
    );
    assert!(d.message.contains("calledElement"), "{}", d.message);
    let blank = calling(r#"calledElement="  ""#, "");
    let d = only(&diagnostics(&blank), Code::InvalidCallActivity);
    assert_at(
        &d,
        Code::InvalidCallActivity,
        "call",
        &blank,
        "<callActivity",
    );
}

#[test]
fn a_process_not_in_the_file_is_a_warning_in_validate_and_an_error_at_deploy() {
    let text = calling(r#"calledElement="nowhere""#, "");
    let standalone = diagnostics(&text);
    let d = only(&standalone, Code::UnknownCalledProcess);
    assert_at(
        &d,
        Code::UnknownCalledProcess,
        "call",
        &text,
        "<callActivity",
    );
    assert_eq!(d.severity, Severity::Warning);
    assert!(
        d.message.contains("`nowhere`") && d.message.contains("`approval`"),
        "{}",
        d.message
    );

    let deployed = deploy(&text);
    let d = only(&deployed, Code::UnknownCalledProcess);
    assert_at(
        &d,
        Code::UnknownCalledProcess,
        "call",
        &text,
        "<callActivity",
    );
    assert_eq!(d.severity, Severity::Error);
}

#[test]
fn another_apps_process_is_unchecked_in_validate_and_checked_against_hosted_apps_at_deploy() {
    let other = |app: &str, process: &str| {
        calling(
            &format!(r#"calledElement="{process}""#),
            &format!(
                r#"<extensionElements>
<flyt:calledElement app="{app}" version="2"/>
</extensionElements>"#
            ),
        )
    };
    // Hosted and deployed: it deploys.
    let hosted = other("ttd/approval", "approval");
    let d = only(&diagnostics(&hosted), Code::UnknownCalledProcess);
    assert_eq!(
        d.severity,
        Severity::Warning,
        "flyt validate cannot see other apps"
    );
    assert_at(
        &d,
        Code::UnknownCalledProcess,
        "call",
        &hosted,
        "<flyt:calledElement",
    );
    let deployed = deploy(&hosted);
    assert!(
        !deployed
            .iter()
            .any(|d| d.code == Code::UnknownCalledProcess)
    );
    assert_deploys(&deployed, &hosted);

    // No such app on this server, or not the process it starts: errors at the extension.
    for (app, process, says) in [
        ("ttd/nowhere", "approval", "hosts no app `ttd/nowhere`"),
        ("ttd/approval", "review", "starts process `approval`"),
    ] {
        let text = other(app, process);
        let d = only(&deploy(&text), Code::UnknownCalledProcess);
        assert_eq!(d.severity, Severity::Error);
        assert_at(
            &d,
            Code::UnknownCalledProcess,
            "call",
            &text,
            "<flyt:calledElement",
        );
        assert!(d.message.contains(says), "{}", d.message);
    }
}

#[test]
fn mappings_naming_unknown_data_types_are_errors_at_deploy_where_they_are_written() {
    let text = calling(
        r#"calledElement="approval""#,
        r#"<extensionElements>
<flyt:calledElement app="ttd/approval"/>
<flyt:input source="modell" target="request"/>
<flyt:input source="model" target="reqest"/>
<flyt:output source="decision" target="verdict"/>
</extensionElements>"#,
    );
    let diags = deploy(&text);
    let unknown: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| d.code == Code::UnknownDataType)
        .collect();
    assert_eq!(unknown.len(), 3, "{diags:#?}");
    assert_at(
        unknown[0],
        Code::UnknownDataType,
        "call",
        &text,
        "source=\"modell\"",
    );
    assert!(unknown[0].message.contains("`modell`") && unknown[0].message.contains("this app"));
    assert_at(
        unknown[1],
        Code::UnknownDataType,
        "call",
        &text,
        "target=\"reqest\"",
    );
    assert!(
        unknown[1].message.contains("app `ttd/approval`"),
        "{}",
        unknown[1].message
    );
    assert_at(
        unknown[2],
        Code::UnknownDataType,
        "call",
        &text,
        "target=\"verdict\"",
    );
    // flyt validate knows no data types: nothing said about them there.
    assert!(
        !diagnostics(&text)
            .iter()
            .any(|d| d.code == Code::UnknownDataType)
    );
}

#[test]
fn wrong_called_element_attributes_and_mappings_are_errors_where_they_are_written() {
    for (inside, needle, says) in [
        (
            r#"<flyt:calledElement app="nope"/>"#,
            "<flyt:calledElement",
            "no app id",
        ),
        (
            r#"<flyt:calledElement app="ttd/approval" version="0"/>"#,
            "<flyt:calledElement",
            "not a version number",
        ),
        (
            r#"<flyt:calledElement app="ttd/approval" version="latest"/>"#,
            "<flyt:calledElement",
            "not a version number",
        ),
        (
            r#"<flyt:calledElement version="3"/>"#,
            "<flyt:calledElement",
            "without naming an app",
        ),
        (
            r#"<flyt:input target="request"/>"#,
            "<flyt:input",
            "needs source",
        ),
        (
            r#"<flyt:output source="a" from="b"/>"#,
            "<flyt:output",
            "`from`",
        ),
    ] {
        let text = calling(
            r#"calledElement="approval""#,
            &format!("<extensionElements>\n{inside}\n</extensionElements>"),
        );
        let diags = diagnostics(&text);
        let d = only(&diags, Code::InvalidCallActivity);
        assert_at(&d, Code::InvalidCallActivity, "call", &text, needle);
        assert!(d.message.contains(says), "{inside}: {}", d.message);
    }
    let text = calling(
        r#"calledElement="approval""#,
        "<extensionElements>\n<flyt:prefill from=\"a\" to=\"b\"/>\n</extensionElements>",
    );
    let d = only(&diagnostics(&text), Code::InvalidExtension);
    assert_at(&d, Code::InvalidExtension, "call", &text, "<flyt:prefill");
}

#[test]
fn boundary_events_of_every_kind_are_accepted_on_a_call_activity() {
    let text = doc(r#"<startEvent id="s"/>
<callActivity id="call" calledElement="approval"/>
<boundaryEvent id="bt" attachedToRef="call"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
<boundaryEvent id="be" attachedToRef="call"><errorEventDefinition errorRef="rejected"/></boundaryEvent>
<boundaryEvent id="bm" attachedToRef="call"><messageEventDefinition messageRef="withdraw"/></boundaryEvent>
<boundaryEvent id="bs" attachedToRef="call"><signalEventDefinition signalRef="stop"/></boundaryEvent>
<endEvent id="e"/>
<endEvent id="et"/>
<endEvent id="ee"/>
<endEvent id="em"/>
<endEvent id="es"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
<sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
<sequenceFlow id="ft" sourceRef="bt" targetRef="et"/>
<sequenceFlow id="fe" sourceRef="be" targetRef="ee"/>
<sequenceFlow id="fm" sourceRef="bm" targetRef="em"/>
<sequenceFlow id="fs" sourceRef="bs" targetRef="es"/>
</process>
<process id="approval">
<startEvent id="as"/>
<endEvent id="ae"/>
<sequenceFlow id="af" sourceRef="as" targetRef="ae"/>
</process>
<error id="rejected" errorCode="rejected"/>
<message id="withdraw" name="withdraw"><extensionElements><flyt:subscription correlationKey='"case-1"' dataType="decision"/></extensionElements></message>
<signal id="stop" name="stop"/>
<process id="unused">
<startEvent id="us"/>
<endEvent id="ue"/>
<sequenceFlow id="uf" sourceRef="us" targetRef="ue"/>"#);
    let diags = deploy(&text);
    assert!(
        !diags.iter().any(|d| d.code == Code::InvalidBoundary),
        "{diags:#?}"
    );
    assert_deploys(&diags, &text);
}

#[test]
fn a_looped_or_compensating_call_activity_is_unsupported_by_name() {
    let text = calling(
        r#"calledElement="approval""#,
        "<standardLoopCharacteristics/>",
    );
    let d = only(&diagnostics(&text), Code::UnsupportedElement);
    assert_at(&d, Code::UnsupportedElement, "call", &text, "<callActivity");
    assert!(
        d.message.contains("standardLoopCharacteristics"),
        "{}",
        d.message
    );
    assert!(compile(&text).is_err());
}

#[test]
fn an_uncaught_error_end_is_no_mistake_in_a_process_a_call_activity_calls() {
    let child = r#"<startEvent id="as"/>
<endEvent id="reject"><errorEventDefinition errorRef="Rejected"/></endEvent>
<sequenceFlow id="af" sourceRef="as" targetRef="reject"/>
</process>
<error id="Rejected" errorCode="rejected"/>
<process id="unused">
<startEvent id="us"/>
<endEvent id="ue"><errorEventDefinition errorRef="Rejected"/></endEvent>
<sequenceFlow id="uf" sourceRef="us" targetRef="ue"/>"#;
    let text = doc(&format!(
        r#"<startEvent id="s"/>
<callActivity id="call" calledElement="approval"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
<sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
</process>
<process id="approval">
{child}"#
    ));
    // `approval` is called: its error goes to the caller. `unused` is not: still an error.
    let d = only(&deploy(&text), Code::UncaughtError);
    assert_at(&d, Code::UncaughtError, "ue", &text, "<endEvent id=\"ue\"");
}

#[test]
fn a_multi_instance_call_activity_compiles_and_its_item_is_an_input_source() {
    let text = calling(
        r#"calledElement="approval""#,
        r#"<multiInstanceLoopCharacteristics>
<extensionElements><flyt:multiInstance collection='["dataModel", "reviewers", "model"]'/></extensionElements>
</multiInstanceLoopCharacteristics>
<extensionElements><flyt:input source="multiInstance" target="decision"/></extensionElements>"#,
    );
    let diags = deploy(&text);
    assert_deploys(&diags, &text);
    // A collection that does not parse: the multi-instance rule, at its line.
    let bad = calling(
        r#"calledElement="approval""#,
        r#"<multiInstanceLoopCharacteristics>
<extensionElements><flyt:multiInstance collection='["dataModel", "reviewers"'/></extensionElements>
</multiInstanceLoopCharacteristics>"#,
    );
    let d = only(&diagnostics(&bad), Code::InvalidMultiInstance);
    assert_at(
        &d,
        Code::InvalidMultiInstance,
        "call",
        &bad,
        "<flyt:multiInstance",
    );
}
