//! `POST /{org}/{app}/signals`: a broadcast reaches every waiting instance of the app once, the
//! app's `signal` rules decide who may broadcast (403 for anyone else), unknown names are 422,
//! `signalId` makes it idempotent (409 for other content), and the views show subscriptions.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

pub const APP: &str = r#"title = "Waits for the alarm"
[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate"]

# acme may broadcast alarm only; ttd every name, and is an operator.
[[rules]]
subjects = ["org:acme"]
actions = ["signal"]
signals = ["alarm"]

[[rules]]
subjects = ["org:ttd"]
actions = ["read", "signal", "resume"]
"#;

/// A signal catch (`alarm`), then a data task; a second signal (`drill`) nobody catches yet
/// is caught by a boundary on that task.
pub const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="d">
  <bpmn:signal id="Signal_alarm" name="alarm"/>
  <bpmn:signal id="Signal_drill" name="drill"/>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="AwaitAlarm"><bpmn:signalEventDefinition signalRef="Signal_alarm"/></bpmn:intermediateCatchEvent>
    <bpmn:task id="Respond"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements></bpmn:task>
    <bpmn:boundaryEvent id="Drill" attachedToRef="Respond" cancelActivity="false"><bpmn:signalEventDefinition signalRef="Signal_drill"/></bpmn:boundaryEvent>
    <bpmn:endEvent id="e"/>
    <bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="AwaitAlarm"/>
    <bpmn:sequenceFlow id="f2" sourceRef="AwaitAlarm" targetRef="Respond"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Respond" targetRef="e"/>
    <bpmn:sequenceFlow id="f4" sourceRef="Drill" targetRef="e2"/>
  </bpmn:process>
</bpmn:definitions>
"#;

async fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "acme/alarms",
        &[("app.toml", APP), ("process.bpmn", BPMN)],
    );
    (server_of(dir.path()).await, dir)
}

async fn create(s: &Server) -> String {
    let r = s
        .call(
            Method::POST,
            "/acme/alarms/instances",
            Some(&s.user(ALICE)),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn process(s: &Server, id: &str) -> serde_json::Value {
    let r = s
        .call(
            Method::GET,
            &format!("/acme/alarms/instances/{id}/process"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

#[tokio::test]
async fn a_signal_reaches_every_waiting_instance_once_and_a_repeat_answers_the_same() {
    let (s, _dir) = server().await;
    let ids = [create(&s).await, create(&s).await, create(&s).await];
    let p = process(&s, &ids[0]).await;
    assert_eq!(p["signalSubscriptions"][0]["signal"], "alarm", "{p}");
    assert_eq!(p["signalSubscriptions"][0]["elementId"], "AwaitAlarm");
    let ttd = s.org("974760673", Some("ttd"), &[]);
    let r = s
        .call(
            Method::GET,
            "/acme/alarms/signals/subscriptions",
            Some(&ttd),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 3, "{}", r.text);

    let acme = s.org(ACME_ORGNO, Some("acme"), &[]);
    let body = json!({"name": "alarm", "signalId": "alarm-1", "data": {"level": 3}});
    let r = s
        .call(
            Method::POST,
            "/acme/alarms/signals",
            Some(&acme),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["signalId"], "alarm-1");
    assert_eq!(r.body["subscriptions"], 3);
    assert_eq!(r.body["starts"], 0);
    assert!(r.body["broadcastId"].as_str().is_some(), "{}", r.text);
    for id in &ids {
        let p = process(&s, id).await;
        assert_eq!(p["currentTask"]["elementId"], "Respond", "{p}");
        // Now the task's boundary is subscribed (to drill).
        assert_eq!(p["signalSubscriptions"][0]["signal"], "drill", "{p}");
    }
    // The same id and content: the first answer, nothing delivered again.
    let again = s
        .call(
            Method::POST,
            "/acme/alarms/signals",
            Some(&acme),
            Some(body),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body, r.body);
    let other = json!({"name": "alarm", "signalId": "alarm-1", "data": {"level": 4}});
    let r = s
        .call(
            Method::POST,
            "/acme/alarms/signals",
            Some(&acme),
            Some(other),
        )
        .await;
    refused(&r, StatusCode::CONFLICT, "signal-id-reused");
    let r = s
        .call(
            Method::GET,
            "/acme/alarms/signals/subscriptions",
            Some(&ttd),
            None,
        )
        .await;
    let listed = r.body.as_array().unwrap();
    assert_eq!(listed.len(), 3, "{}", r.text);
    assert!(listed.iter().all(|x| x["signal"] == "drill"), "{}", r.text);
}

#[tokio::test]
async fn broadcasting_is_the_apps_policy_and_unknown_names_are_refused() {
    let (s, _dir) = server().await;
    let id = create(&s).await;
    let body = |name: &str| json!({"name": name});
    // Another service owner, and the instance's owner: no rule lets them broadcast.
    for token in [s.org(OTHER_ORG, Some("other"), &[]), s.user(ALICE)] {
        let r = s
            .call(
                Method::POST,
                "/acme/alarms/signals",
                Some(&token),
                Some(body("alarm")),
            )
            .await;
        refused(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    // acme only the names its rule lists.
    let acme = s.org(ACME_ORGNO, Some("acme"), &[]);
    let r = s
        .call(
            Method::POST,
            "/acme/alarms/signals",
            Some(&acme),
            Some(body("drill")),
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // A name no signal event of the app uses: 422.
    let ttd = s.org("974760673", Some("ttd"), &[]);
    let r = s
        .call(
            Method::POST,
            "/acme/alarms/signals",
            Some(&ttd),
            Some(body("fire")),
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "unknown-signal");
    assert!(r.text.contains("alarm, drill"), "{}", r.text);
    // Bad input: 400; the operator's view is for operators.
    let r = s
        .call(
            Method::POST,
            "/acme/alarms/signals",
            Some(&ttd),
            Some(json!({"name": "alarm", "data": [1]})),
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    let r = s
        .call(
            Method::GET,
            "/acme/alarms/signals/subscriptions",
            Some(&acme),
            None,
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // Nothing of the refusals moved the instance.
    let p = process(&s, &id).await;
    assert_eq!(
        p["signalSubscriptions"][0]["elementId"], "AwaitAlarm",
        "{p}"
    );
}
