//! Mass assignment: request bodies cannot set server-owned fields (`instanceOwner` after
//! creation, `process`, `id`, `version`, `created`, `appId`, ...). Bodies that name them are
//! refused with 400 naming the field, and the stored instance is unchanged; a data body is the
//! data itself, so such keys inside it are only data and the instance's real fields stay as
//! they were.

use crate::support::*;
use axum::http::{Method, StatusCode};
use flyt_api::server::ServerBuilder;
use serde_json::{Value, json};

/// Server-owned fields of an instance, as they appear in its JSON, with hostile values.
fn server_owned() -> Vec<(&'static str, Value)> {
    vec![
        ("id", json!("1/00000000-0000-0000-0000-000000000000")),
        (
            "process",
            json!({"ended": "2020-01-01T00:00:00Z", "endEvent": "End"}),
        ),
        ("version", json!(99)),
        ("created", json!("2020-01-01T00:00:00Z")),
        ("lastChanged", json!("2020-01-01T00:00:00Z")),
        ("appId", json!("evil/app")),
        ("org", json!("evil")),
        ("definitionVersion", json!(7)),
        ("instanceOwnerPartyId", json!("1")),
    ]
}

/// The instance as its owner reads it.
async fn read(s: &Server, path: &str) -> Value {
    let r = s.call(Method::GET, path, Some(&s.user(ALICE)), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn assert_names_field(r: &Response, field: &str) {
    refused(r, StatusCode::BAD_REQUEST, "bad-request");
    assert_eq!(r.body["issues"][0]["field"], field, "{}", r.text);
}

#[tokio::test]
async fn create_refuses_every_server_owned_field_and_stores_nothing() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    for (field, value) in server_owned() {
        for uri in ["/ttd/approval/instances", "/ttd/approval/instances/create"] {
            let r = s
                .call(
                    Method::POST,
                    uri,
                    Some(&alice),
                    Some(json!({"data": {"claim": {"amount": 1}}, field: value})),
                )
                .await;
            assert_names_field(&r, field);
        }
    }
    // Unknown fields inside `instanceOwner` are refused too.
    let r = s
        .call(
            Method::POST,
            "/ttd/approval/instances",
            Some(&alice),
            Some(
                json!({"instanceOwner": {"personNumber": ALICE, "partyId": "1", "role": "admin"}}),
            ),
        )
        .await;
    assert_names_field(&r, "role");
    let r = s
        .call(Method::GET, "/ttd/approval/instances", Some(&alice), None)
        .await;
    assert_eq!(
        r.body["instances"],
        json!([]),
        "a refused create stored an instance"
    );
}

#[tokio::test]
async fn next_and_actions_refuse_extra_fields_naming_them() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let path = s.claim(ALICE, 50).await;
    let before = read(&s, &path).await;
    let mut fields = server_owned();
    fields.push(("instanceOwner", json!({"personNumber": BOB})));
    fields.push(("data", json!({"claim": {"amount": 1_000_000}})));
    for (field, value) in fields {
        let r = s
            .call(
                Method::PUT,
                &format!("{path}/process/next"),
                Some(&alice),
                Some(json!({"action": "write", field: value.clone()})),
            )
            .await;
        assert_names_field(&r, field);
        let r = s
            .call(
                Method::POST,
                &format!("{path}/actions"),
                Some(&alice),
                Some(json!({"action": "write", field: value})),
            )
            .await;
        assert_names_field(&r, field);
    }
    assert_eq!(before, read(&s, &path).await, "the instance changed");
}

#[tokio::test]
async fn the_instance_cannot_be_replaced_or_patched() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let path = s.claim(ALICE, 50).await;
    let before = read(&s, &path).await;
    for method in [Method::PUT, Method::PATCH, Method::POST] {
        let r = s
            .call(
                method.clone(),
                &path,
                Some(&alice),
                Some(json!({"instanceOwner": {"personNumber": BOB}, "version": 99})),
            )
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    assert_eq!(before, read(&s, &path).await, "the instance changed");
}

#[tokio::test]
async fn server_owned_keys_in_closed_data_are_refused_by_its_schema() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let path = s.claim(ALICE, 50).await;
    let before = read(&s, &path).await;
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/data/claim"),
            Some(&alice),
            Some(json!({"amount": 1, "version": 99, "instanceOwner": {"personNumber": BOB}})),
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "data-invalid");
    assert_eq!(before, read(&s, &path).await, "the instance changed");
}

const APP_TOML: &str = r#"title = "Notes"
[[data_types]]
id = "note"
task = "Write"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write"]
"#;

const PROCESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:altinn="http://altinn.no/process" id="notes" targetNamespace="urn:flyt:tests">
  <bpmn:process id="notes" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:task id="Write">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Write"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Write" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

#[tokio::test]
async fn server_owned_keys_inside_open_data_are_just_data() {
    // An app whose data type has no schema: any JSON object is valid data.
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("ttd/notes");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("app.toml"), APP_TOML).unwrap();
    std::fs::write(app.join("process.bpmn"), PROCESS).unwrap();
    let mut s = Server::start().await;
    let mut c = config(dir.path());
    c.processes_dir = dir.path().to_path_buf();
    c.downstream.clear();
    s.flyt = ServerBuilder::new(c)
        .without_worker()
        .build("127.0.0.1:8080".parse().unwrap())
        .await
        .unwrap();
    let alice = s.user(ALICE);
    let r = s
        .call(
            Method::POST,
            "/ttd/notes/instances",
            Some(&alice),
            Some(json!({"data": {"note": {"text": "first"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/ttd/notes/instances/{}", r.body["id"].as_str().unwrap());
    let before = read(&s, &path).await;

    let mut hostile = serde_json::Map::new();
    hostile.insert("text".into(), json!("second"));
    for (field, value) in server_owned() {
        hostile.insert(field.into(), value);
    }
    hostile.insert("instanceOwner".into(), json!({"personNumber": BOB}));
    let hostile = Value::Object(hostile);
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/data/note"),
            Some(&alice),
            Some(hostile.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Stored as data, exactly.
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/note"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.body, hostile);
    // The instance's own fields are what the server says: one write later, same owner, app,
    // id, process and creation time.
    let after = read(&s, &path).await;
    assert_eq!(after["version"], before["version"].as_u64().unwrap() + 1);
    for field in [
        "id",
        "instanceOwner",
        "appId",
        "org",
        "created",
        "definitionVersion",
    ] {
        assert_eq!(after[field], before[field], "{field} changed");
    }
    assert_eq!(
        after["process"]["currentTask"]["elementId"], "Write",
        "{after}"
    );
    assert!(after["process"]["ended"].is_null(), "{after}");
    // Bob does not own it now.
    let bob = s.user(BOB);
    let r = s.call(Method::GET, &path, Some(&bob), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn job_bodies_refuse_extra_fields() {
    let s = Server::start().await;
    let worker = s.org(ACME_ORGNO, Some("acme"), &["flyt:jobs"]);
    let r = s
        .call(
            Method::POST,
            "/jobs/activate",
            Some(&worker),
            Some(json!({"jobTypes": ["x"], "maxJobs": 1, "lockDurationMs": 1000, "workerId": "w", "instanceOwner": {}})),
        )
        .await;
    assert_names_field(&r, "instanceOwner");
    let r = s
        .call(
            Method::POST,
            "/jobs/1.1/complete",
            Some(&worker),
            Some(json!({"process": {}})),
        )
        .await;
    assert_names_field(&r, "process");
    let r = s
        .call(
            Method::POST,
            "/jobs/1.1/fail",
            Some(&worker),
            Some(json!({"errorMessage": "x", "version": 3})),
        )
        .await;
    assert_names_field(&r, "version");
}
