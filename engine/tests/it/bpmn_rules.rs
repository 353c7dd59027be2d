//! One minimal BPMN per validation rule, asserting the code, the element id and the line.

use crate::support::*;
use flyt_engine::bpmn::elements::{NodeKind, ServiceTask, UserTaskType};
use flyt_engine::bpmn::{self, Code, DeployTarget, Diagnostic, Options, Pos, Severity};

const START: &str = r#"<startEvent id="start"/>"#;
const END: &str = r#"<endEvent id="end"/>"#;

fn flow(id: &str, from: &str, to: &str) -> String {
    format!(r#"<sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"/>"#)
}

fn task(id: &str, ty: &str) -> String {
    format!(
        r#"<task id="{id}"><extensionElements><altinn:taskExtension><altinn:taskType>{ty}</altinn:taskType></altinn:taskExtension></extensionElements></task>"#
    )
}

fn lines(parts: &[String]) -> String {
    doc(&parts.join("\n"))
}

#[test]
fn a_valid_minimal_process_compiles() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
    ]);
    let compiled = compile(&text).expect("valid");
    let def = compiled.definition;
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    let t = def.node_by_id("t").unwrap();
    match &def.node(t).kind {
        NodeKind::UserTask(u) => assert_eq!(u.task_type, UserTaskType::Data),
        other => panic!("{other:?}"),
    }
    assert_eq!(def.start_events().len(), 1);
    assert_eq!(def.hash().len(), 64);
}

#[test]
fn duplicate_id() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        r#"<task id="t" name="again"/>"#.into(),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
    ]);
    let d = only(&rejected(&text), Code::DuplicateId);
    assert_at(&d, Code::DuplicateId, "t", &text, "name=\"again\"");
    assert!(d.message.contains("line"), "{}", d.message);
}

#[test]
fn unknown_reference_in_target_ref() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "edn"),
    ]);
    let d = only(&rejected(&text), Code::UnknownReference);
    assert_at(&d, Code::UnknownReference, "f2", &text, "id=\"f2\"");
    assert!(d.message.contains("targetRef=\"edn\""), "{}", d.message);
    assert_eq!(d.hint.as_deref(), Some("did you mean `end`?"));
    // Case does not hide a near miss.
    let text = lines(&[
        START.into(),
        task("t", "data"),
        r#"<endEvent id="End"/>"#.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "Edn"),
    ]);
    let d = only(&rejected(&text), Code::UnknownReference);
    assert_eq!(d.hint.as_deref(), Some("did you mean `End`?"));
}

/// Altinn's engine never reads a task's `<outgoing>` list nor any `<incoming>` list, so an entry
/// that names no flow cannot stop a run: a warning at the entry's line, naming the reading used.
#[test]
fn incoming_outgoing_that_name_a_wrong_flow_are_warnings_naming_the_reading() {
    let text = lines(&[
        r#"<startEvent id="start"><outgoing>f1</outgoing></startEvent>"#.into(),
        r#"<task id="t"><incoming>f1</incoming><outgoing>f9</outgoing></task>"#.into(),
        r#"<endEvent id="end"><incoming>f8</incoming></endEvent>"#.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
    ]);
    let compiled = compile(&text).expect("Altinn runs this file, so flyt does");
    let warnings = &compiled.warnings;
    assert!(
        warnings.iter().all(|d| d.code == Code::FlowMismatch),
        "{warnings:#?}"
    );
    let listed = warnings
        .iter()
        .find(|d| d.message.contains("<outgoing>f9</outgoing>"))
        .expect("the stale <outgoing> entry");
    assert_at(listed, Code::FlowMismatch, "t", &text, "<outgoing>f9");
    assert!(
        listed
            .message
            .contains("flyt ignores the entry, as Altinn does"),
        "{}",
        listed.message
    );
    let stale = warnings
        .iter()
        .find(|d| d.message.contains("<incoming>f8</incoming>"))
        .expect("the stale <incoming> entry");
    assert_at(stale, Code::FlowMismatch, "end", &text, "<incoming>f8");
    assert!(
        stale.message.contains("follows targetRef, as Altinn does"),
        "{}",
        stale.message
    );
    // f2 leaves t but t does not list it: flyt (like Altinn) follows the sourceRef.
    let unlisted = warnings
        .iter()
        .find(|d| d.message.contains("`f2`") && d.message.contains("<outgoing>"))
        .expect("warning");
    assert_at(unlisted, Code::FlowMismatch, "t", &text, "<task id=\"t\"");
    assert!(
        unlisted.message.contains("flyt follows sourceRef"),
        "{}",
        unlisted.message
    );
    let t = compiled.definition.node_by_id("t").unwrap();
    let out: Vec<&str> = compiled
        .definition
        .node(t)
        .outgoing
        .iter()
        .map(|&f| compiled.definition.flow(f).id.as_str())
        .collect();
    assert_eq!(out, ["f2"]);
}

#[test]
fn no_start_event() {
    let text = lines(&[task("t", "data"), END.into(), flow("f2", "t", "end")]);
    let d = only(&rejected(&text), Code::NoStartEvent);
    assert_at(&d, Code::NoStartEvent, "p", &text, "<process id=\"p\">");
}

#[test]
fn unreachable_element() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        task("island", "data"),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
        flow("f3", "island", "end"),
    ]);
    let d = only(&rejected(&text), Code::Unreachable);
    assert_at(&d, Code::Unreachable, "island", &text, "id=\"island\"");
}

#[test]
fn dead_end_without_outgoing_flow() {
    let text = lines(&[
        START.into(),
        r#"<exclusiveGateway id="g" default="f2"/>"#.into(),
        task("stuck", "data"),
        END.into(),
        flow("f1", "start", "g"),
        flow("f2", "g", "end"),
        r#"<sequenceFlow id="f3" sourceRef="g" targetRef="stuck"><conditionExpression>["equals", ["gatewayAction"], "x"]</conditionExpression></sequenceFlow>"#.to_string(),
    ]);
    let d = only(&rejected(&text), Code::DeadEnd);
    assert_at(&d, Code::DeadEnd, "stuck", &text, "id=\"stuck\"");
    assert!(d.message.contains("no outgoing"), "{}", d.message);
}

#[test]
fn dead_end_cycle_without_exit() {
    let text = lines(&[
        START.into(),
        r#"<exclusiveGateway id="g" default="f2"/>"#.into(),
        task("a", "data"),
        task("b", "data"),
        END.into(),
        flow("f1", "start", "g"),
        flow("f2", "g", "end"),
        r#"<sequenceFlow id="f3" sourceRef="g" targetRef="a"><conditionExpression>["equals", ["gatewayAction"], "loop"]</conditionExpression></sequenceFlow>"#.into(),
        flow("f4", "a", "b"),
        flow("f5", "b", "a"),
    ]);
    let d = only(&rejected(&text), Code::DeadEnd);
    assert_at(&d, Code::DeadEnd, "a", &text, "id=\"a\"");
    assert!(d.message.contains("cycle with no exit"), "{}", d.message);
    assert!(d.message.contains('b'), "{}", d.message);
}

#[test]
fn task_with_two_outgoing_flows() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        END.into(),
        r#"<endEvent id="end2"/>"#.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
        flow("f3", "t", "end2"),
    ]);
    let d = only(&rejected(&text), Code::MultipleOutgoing);
    assert_at(&d, Code::MultipleOutgoing, "t", &text, "<task id=\"t\"");
    assert!(d.hint.as_deref().unwrap().contains("gateway"));
}

#[test]
fn condition_on_a_flow_that_does_not_leave_a_gateway() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        END.into(),
        flow("f1", "start", "t"),
        r#"<sequenceFlow id="f2" sourceRef="t" targetRef="end">"#.into(),
        r#"<conditionExpression>["equals", 1, 1]</conditionExpression>"#.into(),
        "</sequenceFlow>".into(),
    ]);
    let d = only(&rejected(&text), Code::ConditionOutsideGateway);
    assert_at(
        &d,
        Code::ConditionOutsideGateway,
        "f2",
        &text,
        "<conditionExpression>",
    );
}

#[test]
fn default_that_is_not_an_outgoing_flow() {
    let text = lines(&[
        START.into(),
        r#"<exclusiveGateway id="g" default="f1"/>"#.into(),
        task("a", "data"),
        END.into(),
        flow("f1", "start", "g"),
        r#"<sequenceFlow id="f2" sourceRef="g" targetRef="a"><conditionExpression>["equals", ["gatewayAction"], "x"]</conditionExpression></sequenceFlow>"#.into(),
        flow("f3", "g", "end"),
        flow("f4", "a", "end"),
    ]);
    let d = only(&rejected(&text), Code::InvalidDefault);
    assert_at(&d, Code::InvalidDefault, "g", &text, "id=\"g\"");
    assert!(
        d.message.contains("does not leave this gateway"),
        "{}",
        d.message
    );
}

const UNDECIDABLE: &[&str] = &[
    r#"<startEvent id="start"/>"#,
    r#"<exclusiveGateway id="g"/>"#,
    r#"<endEvent id="e1"/>"#,
    r#"<endEvent id="e2"/>"#,
    r#"<sequenceFlow id="f1" sourceRef="start" targetRef="g"/>"#,
    r#"<sequenceFlow id="f2" sourceRef="g" targetRef="e1"/>"#,
    r#"<sequenceFlow id="f3" sourceRef="g" targetRef="e2"/>"#,
];

struct Target {
    handlers: &'static [&'static str],
    deciders: &'static [&'static str],
}

impl DeployTarget for Target {
    fn has_service_task_handler(&self, task_type: &str) -> bool {
        self.handlers.contains(&task_type)
    }
    fn has_gateway_decider(&self, gateway_id: &str) -> bool {
        self.deciders.contains(&gateway_id)
    }
    fn check_service_task(
        &self,
        element_id: &str,
        pos: Pos,
        task: &ServiceTask,
    ) -> Vec<Diagnostic> {
        if task
            .flyt
            .get("createInstance")
            .is_some_and(|c| c.attr("target") == Some("evil/app"))
        {
            vec![
                Diagnostic::error(Code::InvalidServiceTaskConfig, pos, "target not allowed")
                    .element(element_id),
            ]
        } else {
            Vec::new()
        }
    }
}

#[test]
fn undecidable_gateway_is_a_warning_standalone_and_an_error_at_deploy() {
    let text = doc(&UNDECIDABLE.join("\n"));
    let compiled = compile(&text).expect("only a warning without a target");
    let d = only(&compiled.warnings, Code::UndecidableGateway);
    assert_at(&d, Code::UndecidableGateway, "g", &text, "id=\"g\"");
    assert_eq!(d.severity, Severity::Warning);

    let none = Target {
        handlers: &[],
        deciders: &[],
    };
    let err = bpmn::compile(text.as_bytes(), &Options::default().with_target(&none)).unwrap_err();
    let d = only(&err.diagnostics, Code::UndecidableGateway);
    assert_eq!(d.severity, Severity::Error);

    let hooked = Target {
        handlers: &[],
        deciders: &["g"],
    };
    let ok = bpmn::compile(text.as_bytes(), &Options::default().with_target(&hooked))
        .expect("a hook decides");
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
}

#[test]
fn unparseable_condition() {
    let text = lines(&[
        START.into(),
        r#"<exclusiveGateway id="g" default="f3"/>"#.into(),
        END.into(),
        r#"<endEvent id="e2"/>"#.into(),
        flow("f1", "start", "g"),
        r#"<sequenceFlow id="f2" sourceRef="g" targetRef="end">"#.into(),
        r#"<conditionExpression xsi:type="tFormalExpression">["equal", ["gatewayAction"], "reject"]</conditionExpression>"#.into(),
        "</sequenceFlow>".into(),
        flow("f3", "g", "e2"),
    ]);
    let d = only(&rejected(&text), Code::InvalidCondition);
    assert_at(
        &d,
        Code::InvalidCondition,
        "f2",
        &text,
        "<conditionExpression",
    );
    assert!(d.message.contains("equal"), "{}", d.message);
}

#[test]
fn truncated_json_condition_is_invalid_not_unsupported() {
    let text = lines(&[
        START.into(),
        r#"<exclusiveGateway id="g" default="f3"/>"#.into(),
        END.into(),
        r#"<endEvent id="e2"/>"#.into(),
        flow("f1", "start", "g"),
        r#"<sequenceFlow id="f2" sourceRef="g" targetRef="end"><conditionExpression>["equals", ["gatewayAction"]</conditionExpression></sequenceFlow>"#.into(),
        flow("f3", "g", "e2"),
    ]);
    let d = only(&rejected(&text), Code::InvalidCondition);
    assert_eq!(d.element_id.as_deref(), Some("f2"));
}

#[test]
fn unknown_user_task_type() {
    let text = lines(&[
        START.into(),
        r#"<userTask id="t"><extensionElements><altinn:taskExtension><altinn:taskType>signign</altinn:taskType></altinn:taskExtension></extensionElements></userTask>"#.into(),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
    ]);
    let d = only(&rejected(&text), Code::UnknownTaskType);
    assert_at(&d, Code::UnknownTaskType, "t", &text, "<userTask id=\"t\"");
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `signing`? (a service task is a <bpmn:serviceTask>)")
    );
}

#[test]
fn parallel_join_that_never_gets_all_tokens() {
    let text = lines(&[
        START.into(),
        r#"<exclusiveGateway id="split" default="fa"/>"#.into(),
        task("a", "data"),
        task("b", "data"),
        r#"<parallelGateway id="join"/>"#.into(),
        END.into(),
        flow("f1", "start", "split"),
        flow("fa", "split", "a"),
        r#"<sequenceFlow id="fb" sourceRef="split" targetRef="b"><conditionExpression>["equals", ["gatewayAction"], "b"]</conditionExpression></sequenceFlow>"#.into(),
        flow("fa2", "a", "join"),
        flow("fb2", "b", "join"),
        flow("f9", "join", "end"),
    ]);
    let d = only(&rejected(&text), Code::ParallelJoinDeadlock);
    assert_at(&d, Code::ParallelJoinDeadlock, "join", &text, "id=\"join\"");
    assert!(
        d.message.contains("fa2") && d.message.contains("fb2"),
        "{}",
        d.message
    );
}

#[test]
fn parallel_fork_and_join_is_fine() {
    let text = lines(&[
        START.into(),
        r#"<parallelGateway id="fork"/>"#.into(),
        task("a", "data"),
        task("b", "confirmation"),
        r#"<parallelGateway id="join"/>"#.into(),
        END.into(),
        flow("f1", "start", "fork"),
        flow("fa", "fork", "a"),
        flow("fb", "fork", "b"),
        flow("fa2", "a", "join"),
        flow("fb2", "b", "join"),
        flow("f9", "join", "end"),
    ]);
    let compiled = compile(&text).expect("sound");
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
}

#[test]
fn parallel_join_that_may_stall_is_a_warning() {
    // One branch may leave for the end on its own, stranding the other branch's token.
    let text = lines(&[
        START.into(),
        r#"<parallelGateway id="fork"/>"#.into(),
        task("a", "data"),
        r#"<exclusiveGateway id="x" default="x1"/>"#.into(),
        task("b", "data"),
        r#"<parallelGateway id="join"/>"#.into(),
        END.into(),
        r#"<endEvent id="early"/>"#.into(),
        flow("f1", "start", "fork"),
        flow("fa", "fork", "a"),
        flow("fb", "fork", "b"),
        flow("fa2", "a", "x"),
        flow("x1", "x", "join"),
        r#"<sequenceFlow id="x2" sourceRef="x" targetRef="early"><conditionExpression>["equals", ["gatewayAction"], "quit"]</conditionExpression></sequenceFlow>"#.into(),
        flow("fb2", "b", "join"),
        flow("f9", "join", "end"),
    ]);
    let compiled = compile(&text).expect("a warning only");
    let d = only(&compiled.warnings, Code::ParallelJoinMayStall);
    assert_at(&d, Code::ParallelJoinMayStall, "join", &text, "id=\"join\"");
}

#[test]
fn service_task_without_handler_is_a_warning_standalone_and_an_error_at_deploy() {
    let text = lines(&[
        START.into(),
        r#"<serviceTask id="s"><extensionElements><altinn:taskExtension><altinn:taskType>pdf</altinn:taskType></altinn:taskExtension></extensionElements></serviceTask>"#.into(),
        END.into(),
        flow("f1", "start", "s"),
        flow("f2", "s", "end"),
    ]);
    let compiled = compile(&text).expect("warning only");
    let d = only(&compiled.warnings, Code::UnregisteredServiceTask);
    assert_at(
        &d,
        Code::UnregisteredServiceTask,
        "s",
        &text,
        "<serviceTask id=\"s\"",
    );

    let none = Target {
        handlers: &[],
        deciders: &[],
    };
    let err = bpmn::compile(text.as_bytes(), &Options::default().with_target(&none)).unwrap_err();
    assert_eq!(
        only(&err.diagnostics, Code::UnregisteredServiceTask).severity,
        Severity::Error
    );

    let pdf = Target {
        handlers: &["pdf"],
        deciders: &[],
    };
    assert!(bpmn::compile(text.as_bytes(), &Options::default().with_target(&pdf)).is_ok());
}

#[test]
fn deploy_target_checks_service_task_configuration() {
    let text = lines(&[
        START.into(),
        r#"<serviceTask id="s" flyt:type="createInstance"><extensionElements><flyt:createInstance target="evil/app"/></extensionElements></serviceTask>"#.into(),
        END.into(),
        flow("f1", "start", "s"),
        flow("f2", "s", "end"),
    ]);
    let target = Target {
        handlers: &["createInstance"],
        deciders: &[],
    };
    let err = bpmn::compile(text.as_bytes(), &Options::default().with_target(&target)).unwrap_err();
    let d = only(&err.diagnostics, Code::InvalidServiceTaskConfig);
    assert_at(
        &d,
        Code::InvalidServiceTaskConfig,
        "s",
        &text,
        "<serviceTask id=\"s\"",
    );
}

#[test]
fn unsupported_element_is_named_with_id_and_line() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        r#"<boundaryEvent id="timer" attachedToRef="t"><compensateEventDefinition/></boundaryEvent>"#
            .into(),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
    ]);
    let diags = rejected(&text);
    let d = only(&diags, Code::UnsupportedElement);
    assert_at(&d, Code::UnsupportedElement, "timer", &text, "id=\"timer\"");
    assert!(d.message.contains("boundaryEvent"), "{}", d.message);
    assert!(
        diags
            .iter()
            .all(|d| d.code == Code::UnsupportedElement || !d.is_error()),
        "{diags:#?}"
    );
}

#[test]
fn timer_start_event_without_a_value_is_an_invalid_timer_not_dropped() {
    let text = lines(&[
        r#"<startEvent id="start"><timerEventDefinition/></startEvent>"#.into(),
        END.into(),
        flow("f1", "start", "end"),
    ]);
    let d = only(&rejected(&text), Code::InvalidTimer);
    assert!(d.message.contains("has no value"), "{}", d.message);
    assert_eq!(d.element_id.as_deref(), Some("start"));
    assert_eq!(d.line, line_of(&text, "timerEventDefinition"));
}

#[test]
fn element_without_id() {
    let text = lines(&[
        START.into(),
        "<task name=\"anonymous\"/>".into(),
        END.into(),
        flow("f1", "start", "end"),
    ]);
    let d = only(&rejected(&text), Code::MissingId);
    assert_eq!(d.line, line_of(&text, "anonymous"));
}

#[test]
fn start_event_with_incoming_flow() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
        flow("back", "t", "start"),
    ]);
    let diags = rejected(&text);
    let d = only(&diags, Code::MisplacedFlow);
    assert_at(&d, Code::MisplacedFlow, "start", &text, "id=\"start\"");
}

#[test]
fn default_flow_with_condition_and_unconditioned_flow_are_warnings() {
    let text = lines(&[
        START.into(),
        r#"<exclusiveGateway id="g" default="f2"/>"#.into(),
        END.into(),
        r#"<endEvent id="e2"/>"#.into(),
        r#"<endEvent id="e3"/>"#.into(),
        flow("f1", "start", "g"),
        r#"<sequenceFlow id="f2" sourceRef="g" targetRef="end"><conditionExpression>true</conditionExpression></sequenceFlow>"#.into(),
        r#"<sequenceFlow id="f3" sourceRef="g" targetRef="e2"><conditionExpression>["equals", ["gatewayAction"], "x"]</conditionExpression></sequenceFlow>"#.into(),
        flow("f4", "g", "e3"),
    ]);
    let diags = compile(&text).expect("warnings only").warnings;
    assert_at(
        &only(&diags, Code::DefaultWithCondition),
        Code::DefaultWithCondition,
        "f2",
        &text,
        "id=\"f2\"",
    );
    assert_at(
        &only(&diags, Code::UnconditionedFlow),
        Code::UnconditionedFlow,
        "f4",
        &text,
        "id=\"f4\"",
    );
}

#[test]
fn service_task_carrying_a_user_task_type() {
    let text = lines(&[
        START.into(),
        r#"<serviceTask id="s"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></serviceTask>"#.into(),
        END.into(),
        flow("f1", "start", "s"),
        flow("f2", "s", "end"),
    ]);
    assert_at(
        &only(&rejected(&text), Code::TaskKindMismatch),
        Code::TaskKindMismatch,
        "s",
        &text,
        "id=\"s\"",
    );
}

#[test]
fn service_task_without_type() {
    let text = lines(&[
        START.into(),
        r#"<serviceTask id="s"/>"#.into(),
        END.into(),
        flow("f1", "start", "s"),
        flow("f2", "s", "end"),
    ]);
    let d = only(&diagnostics(&text), Code::MissingServiceTaskType);
    assert_at(&d, Code::MissingServiceTaskType, "s", &text, "id=\"s\"");
}

#[test]
fn action_with_unknown_type() {
    let text = lines(&[
        START.into(),
        r#"<task id="t"><extensionElements><altinn:taskExtension><altinn:taskType>signing</altinn:taskType><altinn:actions>"#.into(),
        r#"<altinn:action type="clientAction">sign</altinn:action>"#.into(),
        r#"</altinn:actions></altinn:taskExtension></extensionElements></task>"#.into(),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "end"),
    ]);
    let d = only(&rejected(&text), Code::InvalidExtension);
    assert_at(&d, Code::InvalidExtension, "t", &text, "clientAction");
}

#[test]
fn not_bpmn_and_no_process() {
    let d = only(&rejected("<html><body/></html>"), Code::NotBpmn);
    assert_eq!((d.line, d.column), (1, 1));
    let text = format!("{}</definitions>", &HEAD[..HEAD.find("<process").unwrap()]);
    only(&rejected(&text), Code::NoProcess);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = lines(&[
        START.into(),
        task("t", "data"),
        task("t", "data"),
        r#"<userTask id="u"><extensionElements><altinn:taskExtension><altinn:taskType>bogus</altinn:taskType></altinn:taskExtension></extensionElements></userTask>"#.into(),
        END.into(),
        flow("f1", "start", "t"),
        flow("f2", "t", "nowhere"),
        flow("f3", "u", "end"),
    ]);
    let diags = rejected(&text);
    for code in [
        Code::DuplicateId,
        Code::UnknownReference,
        Code::UnknownTaskType,
    ] {
        assert!(
            diags.iter().any(|d| d.code == code),
            "{code} missing from {diags:#?}"
        );
    }
    // Sorted by position.
    let positions: Vec<(u32, u32)> = diags.iter().map(|d| (d.line, d.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
}

#[test]
fn every_code_has_a_distinct_stable_name() {
    let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), total);
    assert!(
        names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
    );
}

#[test]
fn a_long_chain_does_not_overflow_the_stack() {
    // Regression: strongly-connected components were found recursively, one frame per element.
    let mut body = vec![START.to_string()];
    let n = 20_000;
    for i in 0..n {
        body.push(format!(r#"<task id="t{i}"/>"#));
    }
    body.push(END.into());
    body.push(flow("f_start", "start", "t0"));
    for i in 1..n {
        body.push(flow(
            &format!("f{i}"),
            &format!("t{}", i - 1),
            &format!("t{i}"),
        ));
    }
    body.push(flow("f_end", &format!("t{}", n - 1), "end"));
    let text = lines(&body);
    let compiled = compile(&text).expect("a long chain is valid");
    assert_eq!(compiled.definition.node_count(), n + 2);
}
