//! An app whose process.bpmn holds several executable processes names the one instances start
//! in with `process = "..."` in app.toml; deploys are checked against that choice.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

fn pool(id: &str, task: &str) -> String {
    format!(
        r#"<bpmn:process id="{id}" isExecutable="true">
    <bpmn:startEvent id="{id}_start"/>
    <bpmn:task id="{task}"/>
    <bpmn:endEvent id="{id}_end"/>
    <bpmn:sequenceFlow id="{id}_f1" sourceRef="{id}_start" targetRef="{task}"/>
    <bpmn:sequenceFlow id="{id}_f2" sourceRef="{task}" targetRef="{id}_end"/>
  </bpmn:process>"#
    )
}

fn definitions(pools: &[String]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:flyt:tests">
  <bpmn:collaboration id="c">
    <bpmn:participant id="p1" processRef="Applicant"/>
    <bpmn:participant id="p2" processRef="Caseworker"/>
    <bpmn:messageFlow id="m1" sourceRef="Apply" targetRef="Handle"/>
  </bpmn:collaboration>
  {}
</bpmn:definitions>
"#,
        pools.join("\n  ")
    )
}

const APP: &str = "title = \"Pools\"\nprocess = \"Caseworker\"\n[[rules]]\nsubjects = [\"owner\"]\nactions = [\"read\", \"instantiate\"]\n[[rules]]\nsubjects = [\"org:ttd\"]\nactions = [\"read\", \"deploy\"]\n";

#[tokio::test]
async fn instances_start_in_the_process_app_toml_names() {
    let dir = tempfile::tempdir().unwrap();
    let bpmn = definitions(&[pool("Applicant", "Apply"), pool("Caseworker", "Handle")]);
    write_app(
        dir.path(),
        "ttd/pools",
        &[("app.toml", APP), ("process.bpmn", &bpmn)],
    );
    let s = server_of(dir.path()).await;
    let r = s
        .call(
            Method::POST,
            "/ttd/pools/instances",
            Some(&s.user(ALICE)),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["process"]["currentTask"]["elementId"], "Handle",
        "{}",
        r.text
    );

    // A new version without the named process is refused, listing the ids it has.
    let designer = s.org("974760673", Some("ttd"), &[]);
    let only_applicant = definitions(&[pool("Applicant", "Apply"), pool("Clerk", "File")]);
    let r = s
        .send(
            Method::PUT,
            "/ttd/pools/process/definition",
            Some(&designer),
            Some(only_applicant.into_bytes()),
            &[("content-type", "application/xml")],
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid-definition");
    let issues = r.body["issues"].as_array().unwrap();
    assert!(
        issues.iter().any(|i| i["code"] == "no-process"
            && i["message"]
                .as_str()
                .is_some_and(|m| m.contains("`Caseworker`") && m.contains("`Applicant`, `Clerk`"))),
        "{issues:#?}"
    );
}
