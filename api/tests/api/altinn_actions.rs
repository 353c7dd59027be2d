//! Actions exactly as Altinn: no invented action, only declared actions plus the task type's
//! own, the `actions` map shaped like Altinn's, a feedback task moved by the service owner, a
//! service task run again with `next`, and signed data locked.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

fn task(id: &str, ty: &str, actions: &[&str], extra: &str) -> String {
    let actions: String = actions
        .iter()
        .map(|a| format!("<altinn:action>{a}</altinn:action>"))
        .collect();
    format!(
        r#"<bpmn:task id="{id}"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>{ty}</altinn:taskType><altinn:actions>{actions}</altinn:actions>{extra}</altinn:taskExtension></bpmn:extensionElements></bpmn:task>"#
    )
}

fn definitions(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:flyt:tests">
  <bpmn:process id="p" isExecutable="true">
{body}
  </bpmn:process>
</bpmn:definitions>
"#
    )
}

/// Fill (data, lists only `reject`) → Sign (signing) → g: `gatewayAction` "sign" → Feedback,
/// anything else (null included) → Unsigned (data) → end; Feedback → Send (external job) → end.
fn process() -> String {
    let sign_config = "<altinn:signatureConfig><altinn:dataTypesToSign><altinn:dataType>form</altinn:dataType></altinn:dataTypesToSign><altinn:signatureDataType>signature</altinn:signatureDataType></altinn:signatureConfig>";
    definitions(&[
        r#"<bpmn:startEvent id="Start"/>"#.to_string(),
        task("Fill", "data", &["reject"], ""),
        task("Sign", "signing", &["sign"], sign_config),
        r#"<bpmn:exclusiveGateway id="g" default="to_unsigned"/>"#.into(),
        task("Unsigned", "data", &[], ""),
        task("Feedback", "feedback", &[], ""),
        r#"<bpmn:serviceTask id="Send" flyt:type="send-receipt"/>"#.into(),
        r#"<bpmn:endEvent id="End"/>"#.into(),
        r#"<bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Fill"/>"#.into(),
        r#"<bpmn:sequenceFlow id="f2" sourceRef="Fill" targetRef="Sign"/>"#.into(),
        r#"<bpmn:sequenceFlow id="f3" sourceRef="Sign" targetRef="g"/>"#.into(),
        r#"<bpmn:sequenceFlow id="to_feedback" sourceRef="g" targetRef="Feedback"><bpmn:conditionExpression>["equals", ["gatewayAction"], "sign"]</bpmn:conditionExpression></bpmn:sequenceFlow>"#.into(),
        r#"<bpmn:sequenceFlow id="to_unsigned" sourceRef="g" targetRef="Unsigned"/>"#.into(),
        r#"<bpmn:sequenceFlow id="f4" sourceRef="Unsigned" targetRef="End"/>"#.into(),
        r#"<bpmn:sequenceFlow id="f5" sourceRef="Feedback" targetRef="Send"/>"#.into(),
        r#"<bpmn:sequenceFlow id="f6" sourceRef="Send" targetRef="End"/>"#.into(),
    ]
    .join("\n"))
}

const APP: &str = r#"title = "Altinn actions"
[[data_types]]
id = "form"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write", "sign", "reject"]

[[rules]]
subjects = ["org:ttd"]
actions = ["read", "write"]

[jobs]
external = ["send-receipt"]
"#;

async fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "ttd/actions",
        &[("app.toml", APP), ("process.bpmn", &process())],
    );
    (server_of(dir.path()).await, dir)
}

async fn create(s: &Server) -> String {
    let r = s
        .call(
            Method::POST,
            "/ttd/actions/instances",
            Some(&s.user(ALICE)),
            Some(json!({ "data": { "form": { "name": "Åse Ødegård" } } })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    format!("/ttd/actions/instances/{}", r.body["id"].as_str().unwrap())
}

async fn next(s: &Server, path: &str, token: &str, body: Option<Value>) -> Response {
    s.call(
        Method::PUT,
        &format!("{path}/process/next"),
        Some(token),
        body,
    )
    .await
}

fn task_of(r: &Response) -> &str {
    r.body["currentTask"]["elementId"].as_str().unwrap_or("")
}

#[tokio::test]
async fn undeclared_actions_are_refused_and_the_actions_map_is_altinns() {
    let (s, _dir) = server().await;
    let alice = s.user(ALICE);
    let path = create(&s).await;
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&alice), None)
        .await;
    assert_eq!(
        r.body["currentTask"]["actions"],
        json!({ "read": true, "write": true, "reject": true }),
        "{}",
        r.text
    );
    // `sign` is declared nowhere on Fill and Fill has no signatureConfig.
    let r = next(&s, &path, &alice, Some(json!({ "action": "sign" }))).await;
    refused(&r, StatusCode::CONFLICT, "action-not-allowed");
    assert!(
        r.text.contains("reject"),
        "names the allowed ones: {}",
        r.text
    );
    let r = next(&s, &path, &alice, Some(json!({ "action": "confirm" }))).await;
    refused(&r, StatusCode::CONFLICT, "action-not-allowed");

    let r = next(&s, &path, &alice, None).await;
    assert_eq!(task_of(&r), "Sign", "{}", r.text);
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&alice), None)
        .await;
    assert_eq!(
        r.body["currentTask"]["actions"],
        json!({ "read": true, "write": true, "sign": true }),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn no_action_reaches_the_gateway_as_null_and_signs_nothing() {
    let (s, _dir) = server().await;
    let alice = s.user(ALICE);
    let path = create(&s).await;
    next(&s, &path, &alice, None).await;
    // No action at the signing task: the gateway sees null, matches no "sign", takes the default.
    let r = next(&s, &path, &alice, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(task_of(&r), "Unsigned", "{}", r.text);
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/signature"),
            Some(&alice),
            None,
        )
        .await;
    refused(&r, StatusCode::NOT_FOUND, "not-found");
    let r = s
        .call(
            Method::GET,
            &format!("{path}/process/history"),
            Some(&alice),
            None,
        )
        .await;
    let end_sign = r.body["processHistory"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eventType"] == "process_EndTask" && e["elementId"] == "Sign")
        .cloned()
        .unwrap();
    assert!(
        end_sign.get("action").is_none_or(Value::is_null),
        "{end_sign}"
    );
}

#[tokio::test]
async fn sign_stores_a_signature_locks_the_data_then_feedback_waits_for_the_service_owner() {
    let (s, _dir) = server().await;
    let alice = s.user(ALICE);
    let path = create(&s).await;
    next(&s, &path, &alice, None).await;
    let r = next(&s, &path, &alice, Some(json!({ "action": "sign" }))).await;
    assert_eq!(
        task_of(&r),
        "Feedback",
        "`sign` reached the gateway: {}",
        r.text
    );
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/signature"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["signatures"][0]["signee"]["personNumber"], ALICE);
    // The signed data is locked: a write is 409 naming the signature, and nothing changes.
    let before = s
        .call(
            Method::GET,
            &format!("{path}/data/form"),
            Some(&alice),
            None,
        )
        .await;
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/data/form"),
            Some(&alice),
            Some(json!({ "name": "forged" })),
        )
        .await;
    refused(&r, StatusCode::CONFLICT, "data-locked");
    assert!(r.text.contains("signature"), "{}", r.text);
    let after = s
        .call(
            Method::GET,
            &format!("{path}/data/form"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(before.body, after.body);

    // Feedback: the owner may write, but only the service owner moves the task.
    let r = next(&s, &path, &alice, None).await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    assert!(r.text.contains("service owner"), "{}", r.text);
    let ttd = s.org(TTD_ORGNO, Some("ttd"), &[]);
    let r = next(&s, &path, &ttd, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(task_of(&r), "Send", "{}", r.text);
}

#[tokio::test]
async fn next_on_a_service_task_runs_it_again() {
    let (s, _dir) = server().await;
    let alice = s.user(ALICE);
    let ttd = s.org(TTD_ORGNO, Some("ttd"), &["flyt:jobs:send-receipt"]);
    let path = create(&s).await;
    next(&s, &path, &alice, None).await;
    next(&s, &path, &alice, Some(json!({ "action": "sign" }))).await;
    let r = next(&s, &path, &ttd, None).await;
    assert_eq!(task_of(&r), "Send", "{}", r.text);

    // A worker holds the job: a retry now is refused and changes nothing.
    let activate = json!({"jobTypes": ["send-receipt"], "maxJobs": 1, "lockDurationMs": 60000, "workerId": "w"});
    let r = s
        .call(
            Method::POST,
            "/jobs/activate",
            Some(&ttd),
            Some(activate.clone()),
        )
        .await;
    let key = r.body["jobs"][0]["key"].as_str().unwrap().to_string();
    let r = next(&s, &path, &alice, None).await;
    refused(&r, StatusCode::CONFLICT, "service-task-running");
    // The attempt fails for good: an incident.
    let r = s
        .call(
            Method::POST,
            &format!("/jobs/{key}/fail"),
            Some(&ttd),
            Some(json!({ "errorMessage": "printer on fire", "retries": 0 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&alice), None)
        .await;
    assert_eq!(
        r.body["incidents"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );

    // As Altinn, the user runs the service task again with `next` (the policy's `write`): the
    // incident is cleared and the job is handed out again with fresh attempts.
    let bob = s.user(BOB);
    refused(
        &next(&s, &path, &bob, None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let r = next(&s, &path, &alice, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        task_of(&r),
        "Send",
        "the process stays at the task: {}",
        r.text
    );
    assert!(
        r.body.get("incidents").is_none_or(|i| i == &json!([])),
        "{}",
        r.text
    );
    let r = s
        .call(Method::POST, "/jobs/activate", Some(&ttd), Some(activate))
        .await;
    // The same job (a key is `<job>.<lease>`), leased anew.
    let job = |k: &str| k.split('.').next().unwrap_or_default().to_string();
    let again = r.body["jobs"][0]["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(job(&again), job(&key), "{}", r.text);
    let key = again;
    assert_eq!(
        r.body["jobs"][0]["retriesLeft"].as_u64().map(|n| n > 0),
        Some(true),
        "{}",
        r.text
    );
    let r = s
        .call(
            Method::POST,
            &format!("/jobs/{key}/complete"),
            Some(&ttd),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
