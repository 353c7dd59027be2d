//! Namespaces by URI (never by prefix), diagrams skipped, and both Altinn dialect generations.

use crate::support::*;
use flyt_engine::bpmn::elements::{ActionKind, NodeKind, UserTaskType};

const BODY: &str = r#"<P:startEvent id="start"><P:outgoing>f1</P:outgoing></P:startEvent>
<P:task id="t"><P:incoming>f1</P:incoming><P:outgoing>f2</P:outgoing></P:task>
<P:endEvent id="end"><P:incoming>f2</P:incoming></P:endEvent>
<P:sequenceFlow id="f1" sourceRef="start" targetRef="t"/>
<P:sequenceFlow id="f2" sourceRef="t" targetRef="end"/>"#;

fn with_prefix(prefix: &str) -> String {
    let (decl, p) = if prefix.is_empty() {
        (
            "xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"".to_string(),
            String::new(),
        )
    } else {
        (
            format!("xmlns:{prefix}=\"http://www.omg.org/spec/BPMN/20100524/MODEL\""),
            format!("{prefix}:"),
        )
    };
    format!(
        "<?xml version=\"1.0\"?>\n<{p}definitions {decl} xmlns:bpmndi=\"http://www.omg.org/spec/BPMN/20100524/DI\" xmlns:dc=\"http://www.omg.org/spec/DD/20100524/DC\" id=\"d\">\n<{p}process id=\"p\">\n{}\n</{p}process>\n<bpmndi:BPMNDiagram id=\"dia\"><bpmndi:BPMNPlane id=\"plane\" bpmnElement=\"p\"><bpmndi:BPMNShape id=\"s1\" bpmnElement=\"t\"><dc:Bounds x=\"1\" y=\"2\" width=\"3\" height=\"4\"/></bpmndi:BPMNShape></bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n</{p}definitions>",
        BODY.replace("P:", &p)
    )
}

#[test]
fn prefixes_do_not_matter_only_the_uri() {
    for prefix in ["bpmn", "bpmn2", "", "semantic", "x"] {
        let text = with_prefix(prefix);
        let compiled = compile(&text).unwrap_or_else(|e| panic!("prefix `{prefix}`: {e:?}"));
        let def = compiled.definition;
        assert_eq!(def.node_count(), 3, "prefix `{prefix}`");
        assert_eq!(def.flow_count(), 2);
        assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
        assert!(matches!(
            def.node(def.node_by_id("t").unwrap()).kind,
            NodeKind::UserTask(_)
        ));
    }
}

#[test]
fn elements_in_another_namespace_are_not_bpmn() {
    let text = with_prefix("bpmn").replace(
        "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"",
        "xmlns:bpmn=\"http://example.com/not-bpmn\"",
    );
    only(&rejected(&text), flyt_engine::bpmn::Code::NotBpmn);
}

#[test]
fn legacy_altinn_namespace_and_attribute_form() {
    let text = r#"<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:a="http://altinn.no" id="d">
<bpmn:process id="p">
<bpmn:startEvent id="start"/>
<bpmn:task id="t1" a:tasktype="data"/>
<bpmn:task id="t2"><bpmn:extensionElements><a:taskExtension><a:taskType>confirmation</a:taskType></a:taskExtension></bpmn:extensionElements></bpmn:task>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t1"/>
<bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="t2"/>
<bpmn:sequenceFlow id="f3" sourceRef="t2" targetRef="end"/>
</bpmn:process>
</bpmn:definitions>"#;
    let def = compile(text).expect("valid").definition;
    let ty = |id: &str| match &def.node(def.node_by_id(id).unwrap()).kind {
        NodeKind::UserTask(u) => u.task_type,
        other => panic!("{other:?}"),
    };
    assert_eq!(ty("t1"), UserTaskType::Data);
    assert_eq!(ty("t2"), UserTaskType::Confirmation);
}

#[test]
fn actions_in_both_forms_and_per_type_config_are_kept() {
    let text = doc(r#"<startEvent id="start"/>
<task id="t"><extensionElements><altinn:taskExtension>
<altinn:taskType>signing</altinn:taskType>
<altinn:actions><altinn:action>sign</altinn:action><altinn:action id="reject"/><altinn:action type="serverAction">lookup</altinn:action></altinn:actions>
<altinn:signatureConfig><altinn:dataTypesToSign><altinn:dataType>Model</altinn:dataType><altinn:dataType>Other</altinn:dataType></altinn:dataTypesToSign><altinn:signatureDataType>signature</altinn:signatureDataType><altinn:correspondenceResource env="prod">res</altinn:correspondenceResource></altinn:signatureConfig>
</altinn:taskExtension></extensionElements></task>
<exclusiveGateway id="g" default="f3"><extensionElements><altinn:gatewayExtension><altinn:connectedDataTypeId>model</altinn:connectedDataTypeId></altinn:gatewayExtension></extensionElements></exclusiveGateway>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="t"/>
<sequenceFlow id="f2" sourceRef="t" targetRef="g"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="end"/>"#);
    let def = compile(&text).expect("valid").definition;
    let NodeKind::UserTask(task) = &def.node(def.node_by_id("t").unwrap()).kind else {
        panic!()
    };
    let ids: Vec<(&str, ActionKind)> = task
        .actions
        .iter()
        .map(|a| (a.id.as_str(), a.kind))
        .collect();
    assert_eq!(
        ids,
        [
            ("sign", ActionKind::Process),
            ("reject", ActionKind::Process),
            ("lookup", ActionKind::Server)
        ]
    );
    assert!(
        task.completes_with("sign")
            && task.completes_with("reject")
            && !task.completes_with("lookup")
    );
    let json = task.config.to_json();
    assert_eq!(
        json["signatureConfig"]["dataTypesToSign"]["dataType"],
        serde_json::json!(["Model", "Other"])
    );
    assert_eq!(json["signatureConfig"]["signatureDataType"], "signature");
    assert_eq!(
        json["signatureConfig"]["correspondenceResource"]["@env"],
        "prod"
    );
    let g = def.exclusive_gateway(def.node_by_id("g").unwrap()).unwrap();
    assert_eq!(g.connected_data_type.as_ref().unwrap().as_str(), "model");
    assert_eq!(g.default, def.flow_by_id("f3"));
}

#[test]
fn flyt_namespace_is_kept_for_handlers() {
    let text = doc(r#"<startEvent id="start"/>
<serviceTask id="s" flyt:type="createInstance"><extensionElements><flyt:createInstance target="ttd/b"><flyt:prefill from="a" to="b"/></flyt:createInstance></extensionElements></serviceTask>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="s"/>
<sequenceFlow id="f2" sourceRef="s" targetRef="end"/>"#);
    let def = compile(&text).expect("valid").definition;
    let task = def.service_task(def.node_by_id("s").unwrap()).unwrap();
    assert_eq!(task.task_type.as_deref(), Some("createInstance"));
    let config = task.flyt.get("createInstance").unwrap();
    assert_eq!(config.attr("target"), Some("ttd/b"));
    assert_eq!(
        config.line_of_child("prefill"),
        Some(line_of(&text, "<flyt:prefill"))
    );
}
