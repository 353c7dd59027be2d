//! The engine plans a move and the API authorises exactly that plan: the task and action a
//! policy is checked against are the ones the engine acts on.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

const PROCESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1"
                  id="plan" targetNamespace="urn:flyt:tests">
  <bpmn:process id="plan" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:serviceTask id="Send" flyt:type="send-letter">
      <bpmn:extensionElements><altinn:taskExtension>
        <altinn:actions><altinn:action>reject</altinn:action></altinn:actions>
      </altinn:taskExtension></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Send"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Send" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

/// The owner may reject, but only at `Send` (a task-scoped rule).
const APP_TOML: &str = r#"title = "Letters"
[[data_types]]
id = "letter"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate"]

[[rules]]
subjects = ["owner"]
actions = ["reject"]
tasks = ["Send"]

[jobs]
external = ["send-letter"]
"#;

#[tokio::test]
async fn a_reject_at_a_service_task_is_authorised_at_that_task() {
    // Regression: with no taskId, the handler re-computed the task from the user tasks only,
    // found none, and checked `reject` with no task, so the rule scoped to `Send` did not
    // apply (403) while the engine would have acted on `Send`.
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "ttd/plan",
        &[("app.toml", APP_TOML), ("process.bpmn", PROCESS)],
    );
    let s = server_of(dir.path()).await;
    let alice = s.user(ALICE);
    let r = s
        .call(
            Method::POST,
            "/ttd/plan/instances",
            Some(&alice),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/ttd/plan/instances/{}", r.body["id"].as_str().unwrap());
    let next = format!("{path}/process/next");
    // Bob may not: refused before anything is said about the instance.
    let r = s
        .call(
            Method::PUT,
            &next,
            Some(&s.user(BOB)),
            Some(json!({"action": "reject"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Alice's reject, with no taskId, is planned at Send and allowed there.
    let r = s
        .call(
            Method::PUT,
            &next,
            Some(&alice),
            Some(json!({"action": "reject"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.body["ended"].is_null(), "{}", r.text);
}
