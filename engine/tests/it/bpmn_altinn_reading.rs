//! Files Altinn's engine runs although their `<incoming>`/`<outgoing>` lists and their
//! `sourceRef`/`targetRef` attributes disagree: flyt loads them, warns at the exact line naming the
//! reading it used, and walks them the way Altinn does (the rule is in
//! `engine/src/bpmn/validate/refs.rs`). The two fixtures live in `engine/tests/fixtures/altinn-reading/`.

use crate::rt::Harness;
use crate::support::*;
use flyt_engine::bpmn::{Code, Diagnostic, Severity};

const STALE_END_INCOMING: &str = include_str!("../fixtures/altinn-reading/stale-end-incoming.bpmn");
const GATEWAY_LISTED_FLOWS: &str =
    include_str!("../fixtures/altinn-reading/gateway-listed-flows.bpmn");

fn warnings_of(text: &str) -> Vec<Diagnostic> {
    match compile(text) {
        Ok(c) => c.warnings,
        Err(r) => panic!(
            "refused a file Altinn runs:\n{}",
            r.diagnostics
                .iter()
                .map(|d| d.render("fixture"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

#[test]
fn end_event_listing_a_deleted_incoming_flow_loads_with_one_warning() {
    let warnings = warnings_of(STALE_END_INCOMING);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let w = &warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert_at(
        w,
        Code::FlowMismatch,
        "EndEvent_1",
        STALE_END_INCOMING,
        "<bpmn:incoming>To_End</bpmn:incoming>",
    );
    assert_eq!(w.column, 7, "{w:#?}");
    assert!(
        w.message.contains(
            "`EndEvent_1` lists <incoming>To_End</incoming>, but no sequence flow has that id"
        ) && w
            .message
            .contains("flyt ignores <incoming> lists and follows targetRef, as Altinn does"),
        "{}",
        w.message
    );
}

#[test]
fn gateway_flows_whose_source_ref_names_nothing_follow_the_gateways_list() {
    let warnings = warnings_of(GATEWAY_LISTED_FLOWS);
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    for (w, flow) in warnings.iter().zip(["To_Task_3", "To_Task_1"]) {
        assert_at(
            w,
            Code::FlowMismatch,
            "Gateway_0",
            GATEWAY_LISTED_FLOWS,
            &format!("<bpmn:outgoing>{flow}</bpmn:outgoing>"),
        );
        assert_eq!(w.column, 7, "{w:#?}");
        assert_eq!(
            w.message,
            format!(
                "`Gateway_0` lists <outgoing>{flow}</outgoing> whose sourceRef `GW_From_Task_2` names no element; flyt follows the gateway's list, as Altinn does"
            )
        );
        assert_eq!(
            w.hint.as_deref(),
            Some(format!("set sourceRef=\"Gateway_0\" on `{flow}`").as_str())
        );
    }
    // The definition the runtime gets: the gateway leaves by its two listed flows, which now
    // start at the gateway.
    let def = compile(GATEWAY_LISTED_FLOWS).unwrap().definition;
    let gateway = def.node_by_id("Gateway_0").unwrap();
    let out: Vec<&str> = def
        .node(gateway)
        .outgoing
        .iter()
        .map(|&f| def.flow(f).id.as_str())
        .collect();
    assert_eq!(out, ["To_Task_3", "To_Task_1"]);
    for &f in &def.node(gateway).outgoing {
        assert_eq!(def.flow(f).source, gateway);
    }
}

/// Regression: the same file once got "`Task_3` lists <incoming>To_Task_3</incoming>, but that
/// flow's targetRef is `Task_3`". Without the gateway's list nothing takes the two flows: each is
/// named at its own line, no message contradicts itself, and the file is refused because the
/// gateway has no way out.
#[test]
fn flows_nothing_takes_are_named_without_a_self_contradicting_message() {
    let text = GATEWAY_LISTED_FLOWS
        .replace("      <bpmn:outgoing>To_Task_3</bpmn:outgoing>\n", "")
        .replace("      <bpmn:outgoing>To_Task_1</bpmn:outgoing>\n", "");
    let diags = rejected(&text);
    for d in &diags {
        if let Some(element) = &d.element_id {
            assert!(
                !d.message.contains(&format!("targetRef is `{element}`")),
                "contradicts itself: {}",
                d.message
            );
        }
    }
    for flow in ["To_Task_3", "To_Task_1"] {
        let d = diags
            .iter()
            .find(|d| d.element_id.as_deref() == Some(flow))
            .unwrap_or_else(|| panic!("nothing about {flow}: {diags:#?}"));
        assert_at(
            d,
            Code::UnknownReference,
            flow,
            &text,
            &format!("id=\"{flow}\""),
        );
        assert_eq!(d.severity, Severity::Warning, "{d:#?}");
        assert!(
            d.message
                .contains("sourceRef=\"GW_From_Task_2\", which names no element")
                && d.message.contains("no token can take it"),
            "{}",
            d.message
        );
    }
    let dead_end = only(&diags, Code::DeadEnd);
    assert_at(
        &dead_end,
        Code::DeadEnd,
        "Gateway_0",
        &text,
        "<bpmn:exclusiveGateway id=\"Gateway_0\"",
    );
    assert!(dead_end.is_error());
}

#[tokio::test]
async fn stale_end_incoming_walks_to_the_end() {
    let h = Harness::new(STALE_END_INCOMING).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["Task_1"]);
    let i = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&i), ["Task_2"]);
    let i = h.next(i.id, Some("confirm"), None).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "EndEvent_1");
}

#[tokio::test]
async fn gateway_listed_flows_take_the_branch_the_list_gives_and_reach_the_end() {
    let h = Harness::new(GATEWAY_LISTED_FLOWS).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["Task_1"]);
    let i = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&i), ["Task_2"]);
    // reject: Gateway_0's listed To_Task_1 back to Task_1.
    let i = h.next(i.id, Some("reject"), None).await.unwrap();
    assert_eq!(h.active(&i), ["Task_1"]);
    let i = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&i), ["Task_2"]);
    // confirm: Gateway_0's listed To_Task_3 on to Task_3, then the end.
    let i = h.next(i.id, Some("confirm"), None).await.unwrap();
    assert_eq!(h.active(&i), ["Task_3"]);
    let i = h.next(i.id, None, None).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "EndEvent_1");
    assert_eq!(
        h.events(i.id),
        [
            "process_StartEvent StartEvent_1",
            "process_StartTask Task_1",
            "process_EndTask Task_1",
            "process_StartTask Task_2",
            "process_AbandonTask Task_2",
            "process_StartTask Task_1",
            "process_EndTask Task_1",
            "process_StartTask Task_2",
            "process_EndTask Task_2",
            "process_StartTask Task_3",
            "process_EndTask Task_3",
            "process_EndEvent EndEvent_1",
        ]
    );
}

fn outgoing_of(def: &flyt_engine::bpmn::ProcessDefinition, id: &str) -> Vec<String> {
    let node = def.node_by_id(id).unwrap();
    def.node(node)
        .outgoing
        .iter()
        .map(|&f| def.flow(f).id.to_string())
        .collect()
}

/// confirm → gateway `g`, which lists only `on` although `back` also has sourceRef="g".
fn gateway_listing_one_of_two() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#,
        r#"<task id="fill"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>"#,
        r#"<task id="confirm"><extensionElements><altinn:taskExtension><altinn:taskType>confirmation</altinn:taskType><altinn:actions><altinn:action>reject</altinn:action></altinn:actions></altinn:taskExtension></extensionElements></task>"#,
        r#"<exclusiveGateway id="g"><outgoing>on</outgoing></exclusiveGateway>"#,
        r#"<endEvent id="end"/>"#,
        r#"<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>"#,
        r#"<sequenceFlow id="f2" sourceRef="fill" targetRef="confirm"/>"#,
        r#"<sequenceFlow id="f3" sourceRef="confirm" targetRef="g"/>"#,
        r#"<sequenceFlow id="back" sourceRef="g" targetRef="fill"><conditionExpression>["equals", ["gatewayAction"], "reject"]</conditionExpression></sequenceFlow>"#,
        r#"<sequenceFlow id="on" sourceRef="g" targetRef="end"><conditionExpression>["notEquals", ["gatewayAction"], "reject"]</conditionExpression></sequenceFlow>"#,
    ]
    .join("\n"))
}

/// Altinn takes a gateway's flows from its list only, so an unlisted flow is never taken, even
/// though its sourceRef names the gateway (before, flyt took it).
#[tokio::test]
async fn a_gateway_leaves_only_by_the_flows_it_lists() {
    let text = gateway_listing_one_of_two();
    let compiled = compile(&text).unwrap();
    assert_eq!(outgoing_of(&compiled.definition, "g"), ["on"]);
    let w = only(&compiled.warnings, Code::FlowMismatch);
    assert_at(
        &w,
        Code::FlowMismatch,
        "g",
        &text,
        "<exclusiveGateway id=\"g\"",
    );
    assert_eq!(
        w.message,
        "sequence flow `back` has sourceRef=\"g\" but `g` does not list it as <outgoing>; flyt follows the gateway's list, as Altinn does, so no token takes `back` from `g`"
    );
    let h = Harness::new(&text).await;
    let i = h.create().await;
    h.next(i.id, None, None).await.unwrap();
    match h.next(i.id, Some("reject"), None).await {
        Err(flyt_engine::runtime::Error::Gateway {
            gateway, results, ..
        }) => {
            assert_eq!(gateway, "g");
            let flows: Vec<&str> = results.iter().map(|r| r.flow_id.as_str()).collect();
            assert_eq!(flows, ["on"]);
        }
        other => panic!("{other:?}"),
    }
    let i = h.next(i.id, Some("confirm"), None).await.unwrap();
    assert!(i.is_ended());
}

/// A task's `<outgoing>` list is not what Altinn reads, but when no flow names the task as its
/// sourceRef the list is the only reading that runs: flyt follows it and says Altinn would not.
#[test]
fn a_task_no_flow_leaves_by_sourceref_falls_back_to_its_list() {
    let text = doc(&[
        r#"<startEvent id="start"/>"#,
        r#"<task id="t"><outgoing>f2</outgoing></task>"#,
        r#"<endEvent id="end"/>"#,
        r#"<sequenceFlow id="f1" sourceRef="start" targetRef="t"/>"#,
        r#"<sequenceFlow id="f2" sourceRef="tt" targetRef="end"/>"#,
    ]
    .join("\n"));
    let compiled = compile(&text).unwrap();
    assert_eq!(outgoing_of(&compiled.definition, "t"), ["f2"]);
    let w = only(&compiled.warnings, Code::FlowMismatch);
    assert_at(&w, Code::FlowMismatch, "t", &text, "<outgoing>f2");
    assert_eq!(
        w.message,
        "`t` lists <outgoing>f2</outgoing> whose sourceRef `tt` names no element; no flow has sourceRef=\"t\", so flyt follows the list (Altinn's engine follows sourceRef and would find no way out of `t`)"
    );
}

/// A gateway whose list names only deleted flows: the flows naming it as sourceRef are the only
/// reading that runs.
#[test]
fn a_gateway_whose_list_names_no_flow_falls_back_to_sourceref() {
    let text = doc(&[
        r#"<startEvent id="start"/>"#,
        r#"<exclusiveGateway id="g"><outgoing>gone</outgoing></exclusiveGateway>"#,
        r#"<endEvent id="end"/>"#,
        r#"<sequenceFlow id="f1" sourceRef="start" targetRef="g"/>"#,
        r#"<sequenceFlow id="f2" sourceRef="g" targetRef="end"/>"#,
    ]
    .join("\n"));
    let compiled = compile(&text).unwrap();
    assert_eq!(outgoing_of(&compiled.definition, "g"), ["f2"]);
    let warnings: Vec<&Diagnostic> = compiled.warnings.iter().collect();
    assert!(
        warnings.iter().all(|d| d.code == Code::FlowMismatch),
        "{warnings:#?}"
    );
    let gone = warnings
        .iter()
        .find(|d| d.line == line_of(&text, "<outgoing>gone") && d.column > 1)
        .expect("the stale entry");
    assert!(
        gone.message.contains("no sequence flow has that id"),
        "{}",
        gone.message
    );
    let fallback = warnings
        .iter()
        .find(|d| d.message.starts_with("none of the flows"))
        .expect("the fallback");
    assert_at(
        fallback,
        Code::FlowMismatch,
        "g",
        &text,
        "<exclusiveGateway id=\"g\"",
    );
    assert!(
        fallback
            .message
            .contains("flyt follows the flows whose sourceRef is `g`"),
        "{}",
        fallback.message
    );
}
