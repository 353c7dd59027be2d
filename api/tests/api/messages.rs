//! `POST /{org}/{app}/messages`: correlation, buffering and idempotency over the API, the
//! receiving app's `publish` rules (403 for anyone else), and the operator's views.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

const OTHER_ORGNO: &str = OTHER_ORG;

const APP: &str = r#"title = "Awaits a decision"
[[data_types]]
id = "decision"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate"]

# acme may publish caseDecided only; ttd may publish every name.
[[rules]]
subjects = ["org:acme"]
actions = ["publish"]
messages = ["caseDecided"]

[[rules]]
subjects = ["org:ttd"]
actions = ["read", "publish", "resume"]
"#;

pub const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" xmlns:altinn="http://altinn.no/process" id="d">
  <bpmn:message id="Message_caseDecided" name="caseDecided">
    <bpmn:extensionElements>
      <flyt:subscription correlationKey='["instanceContext", "instanceId"]' dataType="decision"/>
    </bpmn:extensionElements>
  </bpmn:message>
  <bpmn:message id="Message_other" name="somethingElse">
    <bpmn:extensionElements>
      <flyt:subscription correlationKey='["instanceContext", "instanceId"]'/>
    </bpmn:extensionElements>
  </bpmn:message>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:receiveTask id="AwaitDecision" messageRef="Message_caseDecided"/>
    <bpmn:task id="Confirm"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements></bpmn:task>
    <bpmn:intermediateCatchEvent id="Other"><bpmn:messageEventDefinition messageRef="Message_other"/></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="AwaitDecision"/>
    <bpmn:sequenceFlow id="f2" sourceRef="AwaitDecision" targetRef="Confirm"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Confirm" targetRef="Other"/>
    <bpmn:sequenceFlow id="f4" sourceRef="Other" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"#;

async fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "acme/awaits",
        &[("app.toml", APP), ("process.bpmn", BPMN)],
    );
    (server_of(dir.path()).await, dir)
}

#[tokio::test]
async fn a_published_message_moves_the_instance_and_a_repeat_answers_the_same() {
    let (s, _dir) = server().await;
    let owner = s.user(ALICE);
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/instances",
            Some(&owner),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let subs = &r.body["process"]["messageSubscriptions"];
    assert_eq!(subs[0]["message"], "caseDecided", "{}", r.text);
    assert_eq!(subs[0]["correlationKey"], id.as_str());
    assert_eq!(subs[0]["elementId"], "AwaitDecision");

    let acme = s.org(ACME_ORGNO, Some("acme"), &[]);
    let body = json!({
        "name": "caseDecided",
        "correlationKey": id,
        "messageId": "decision-1",
        "data": {"decision": "granted", "comment": "fine"}
    });
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&acme),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"outcome": "correlated", "messageId": "decision-1", "instanceId": id})
    );
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let again = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&acme),
            Some(body.clone()),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body, r.body);
    let mut other = body.clone();
    other["data"]["decision"] = json!("refused");
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&acme),
            Some(other),
        )
        .await;
    refused(&r, StatusCode::CONFLICT, "message-id-reused");

    let r = s
        .call(
            Method::GET,
            &format!("/acme/awaits/instances/{id}/process"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["currentTask"]["elementId"], "Confirm", "{}", r.text);
    assert!(r.body.get("messageSubscriptions").is_none(), "{}", r.text);
}

#[tokio::test]
async fn publishing_is_the_receiving_apps_policy() {
    let (s, _dir) = server().await;
    let owner = s.user(ALICE);
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/instances",
            Some(&owner),
            Some(json!({})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let body = |name: &str| json!({"name": name, "correlationKey": id, "messageId": "x"});
    // Another service owner: no rule lets it publish here.
    let other = s.org(OTHER_ORGNO, Some("other"), &[]);
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&other),
            Some(body("caseDecided")),
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // The instance owner neither.
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&owner),
            Some(body("caseDecided")),
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // acme only the names its rule lists.
    let acme = s.org(ACME_ORGNO, Some("acme"), &[]);
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&acme),
            Some(body("somethingElse")),
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // Nothing moved, and the refused id was not recorded.
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&acme),
            Some(body("caseDecided")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn buffering_bad_input_and_the_operators_views() {
    let (s, _dir) = server().await;
    let ttd = s.org("974760673", Some("ttd"), &[]);
    let owner = s.user(ALICE);
    // Nobody waits and no timeToLive: 404 no-subscription, nothing stored.
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&ttd),
            Some(json!({"name": "caseDecided", "correlationKey": "nobody"})),
        )
        .await;
    refused(&r, StatusCode::NOT_FOUND, "no-subscription");
    // With one: 202 buffered until then.
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            Some(&ttd),
            Some(json!({"name": "caseDecided", "correlationKey": "later", "messageId": "b1", "timeToLive": "PT1H"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["outcome"], "buffered");
    assert_eq!(r.body["messageId"], "b1");
    assert!(
        r.body["bufferedUntil"].as_str().unwrap().ends_with('Z'),
        "{}",
        r.text
    );
    let r = s
        .call(
            Method::GET,
            "/acme/awaits/messages/buffered",
            Some(&ttd),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body[0]["messageId"], "b1", "{}", r.text);
    assert_eq!(r.body[0]["correlationKey"], "later");
    // The operator view of subscriptions: one per waiting instance.
    let created = s
        .call(
            Method::POST,
            "/acme/awaits/instances",
            Some(&owner),
            Some(json!({})),
        )
        .await;
    let id = created.body["id"].as_str().unwrap();
    let r = s
        .call(
            Method::GET,
            "/acme/awaits/messages/subscriptions",
            Some(&ttd),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.body[0]["correlationKey"], id);
    // Not for the owner.
    let r = s
        .call(
            Method::GET,
            "/acme/awaits/messages/subscriptions",
            Some(&owner),
            None,
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // Bad input.
    for (body, status, code) in [
        (
            json!({"name": "nobodyWaits", "correlationKey": "k"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-message",
        ),
        (
            json!({"name": "caseDecided", "correlationKey": ""}),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            json!({"name": "caseDecided"}),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            json!({"name": "caseDecided", "correlationKey": "k", "data": [1]}),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            json!({"name": "caseDecided", "correlationKey": "k", "timeToLive": "soon"}),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            json!({"name": "caseDecided", "correlationKey": "k", "extra": 1}),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            json!({"name": "caseDecided", "correlationKey": "k", "data": {"c": "x".repeat(300 * 1024)}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "message-too-large",
        ),
    ] {
        let r = s
            .call(
                Method::POST,
                "/acme/awaits/messages",
                Some(&ttd),
                Some(body.clone()),
            )
            .await;
        if r.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The JSON body limit may be smaller than the data limit: refused before parsing.
            refused(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");
            continue;
        }
        refused(&r, status, code);
    }
    // Unauthenticated.
    let r = s
        .call(
            Method::POST,
            "/acme/awaits/messages",
            None,
            Some(json!({"name": "caseDecided", "correlationKey": "k"})),
        )
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
}

const STARTS_TOML: &str = r#"title = "Starts on a message"
service_owner = "974760673"
[[data_types]]
id = "decision"

[[rules]]
subjects = ["org:ttd"]
actions = ["read", "publish"]
"#;

pub const STARTS_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" xmlns:altinn="http://altinn.no/process" id="d">
  <bpmn:message id="Message_caseOpened" name="caseOpened">
    <bpmn:extensionElements><flyt:subscription dataType="decision"/></bpmn:extensionElements>
  </bpmn:message>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="Message_caseOpened"/></bpmn:startEvent>
    <bpmn:task id="Handle"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements></bpmn:task>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Handle"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Handle" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"#;

pub fn write_starts(dir: &std::path::Path) {
    write_app(
        dir,
        "ttd/starts",
        &[("app.toml", STARTS_TOML), ("process.bpmn", STARTS_BPMN)],
    );
}

#[tokio::test]
async fn a_message_start_event_answers_201_with_the_instance_it_started() {
    let dir = tempfile::tempdir().unwrap();
    write_starts(dir.path());
    let s = server_of(dir.path()).await;
    let ttd = s.org("974760673", Some("ttd"), &[]);
    let body = json!({"name": "caseOpened", "correlationKey": "case-1", "messageId": "open-1", "data": {"decision": "pending"}});
    let r = s
        .call(
            Method::POST,
            "/ttd/starts/messages",
            Some(&ttd),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["outcome"], "started");
    let id = r.body["instanceId"].as_str().unwrap().to_string();
    let again = s
        .call(Method::POST, "/ttd/starts/messages", Some(&ttd), Some(body))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.body, r.body);
    let r = s
        .call(
            Method::GET,
            &format!("/ttd/starts/instances/{id}/process"),
            Some(&ttd),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["currentTask"]["elementId"], "Handle", "{}", r.text);
    let r = s
        .call(
            Method::GET,
            &format!("/ttd/starts/instances/{id}/data/decision"),
            Some(&ttd),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"decision": "pending"}));
}
