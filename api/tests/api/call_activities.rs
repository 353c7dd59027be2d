//! Call activities through the API: a same-app call with input and output mappings, a call
//! across two apps on one server (the child is an instance of the other app, owned by the same
//! party, under that app's policy), a child's BPMN error to the call activity's error boundary,
//! an interrupting timer boundary cancelling the child, and the views that show both sides.

use crate::support::*;
use axum::http::{Method, StatusCode};
use flyt_engine::time::{ManualClock, Timestamp};
use serde_json::{Value, json};
use std::sync::Arc;

const TASK: &str = r#"<bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>"#;

const CALLER_TOML: &str = r#"title = "Calls the approval sub-flow"
process = "p"

[[data_types]]
id = "model"

[[data_types]]
id = "result"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write"]
"#;

const APPROVAL_TOML: &str = r#"title = "The shared approval sub-flow"

[[data_types]]
id = "request"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write"]
"#;

/// The caller `p`: start → `Approve` (calling `called`, with `ext`) → `After` → end, with
/// `boundaries`; `others` are more processes (and root elements) of the same file.
fn caller(ext: &str, boundaries: &str, others: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:callActivity id="Approve" calledElement="approval"><bpmn:extensionElements>{ext}</bpmn:extensionElements></bpmn:callActivity>
    <bpmn:task id="After">{TASK}</bpmn:task>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Approve" targetRef="After"/>
    <bpmn:sequenceFlow id="f3" sourceRef="After" targetRef="e"/>
    {boundaries}
  </bpmn:process>
  {others}
</bpmn:definitions>
"#
    )
}

/// The approval sub-flow as a process element: start → `Review` → end.
fn approval_process() -> String {
    format!(
        r#"<bpmn:process id="approval" isExecutable="true">
    <bpmn:startEvent id="as"/>
    <bpmn:task id="Review">{TASK}</bpmn:task>
    <bpmn:endEvent id="ae"/>
    <bpmn:sequenceFlow id="af1" sourceRef="as" targetRef="Review"/>
    <bpmn:sequenceFlow id="af2" sourceRef="Review" targetRef="ae"/>
  </bpmn:process>"#
    )
}

const MAPPINGS: &str = r#"<flyt:input source="model" target="request"/><flyt:output source="request" target="result"/>"#;

async fn create(s: &Server, app: &str) -> String {
    let r = s
        .call(
            Method::POST,
            &format!("/{app}/instances"),
            Some(&s.user(ALICE)),
            Some(json!({ "data": { "model": { "amount": 1200 } } })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn process(s: &Server, app: &str, id: &str) -> Value {
    let r = s
        .call(
            Method::GET,
            &format!("/{app}/instances/{id}/process"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn next(s: &Server, app: &str, id: &str) -> Value {
    let r = s
        .call(
            Method::PUT,
            &format!("/{app}/instances/{id}/process/next"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn data(s: &Server, app: &str, id: &str, data_type: &str) -> Option<Value> {
    let r = s
        .call(
            Method::GET,
            &format!("/{app}/instances/{id}/data/{data_type}"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    match r.status {
        StatusCode::OK => Some(r.body),
        StatusCode::NOT_FOUND => None,
        other => panic!("{other}: {}", r.text),
    }
}

#[tokio::test]
async fn a_same_app_call_runs_the_child_with_mappings_and_the_views_show_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let bpmn = caller(MAPPINGS, "", &approval_process());
    write_app(
        dir.path(),
        "ttd/caller",
        &[
            (
                "app.toml",
                CALLER_TOML
                    .replace(
                        "\n[[data_types]]\nid = \"result\"\n",
                        "\n[[data_types]]\nid = \"result\"\n\n[[data_types]]\nid = \"request\"\n",
                    )
                    .as_str(),
            ),
            ("process.bpmn", &bpmn),
        ],
    );
    let s = server_of(dir.path()).await;
    let parent = create(&s, "ttd/caller").await;
    let view = process(&s, "ttd/caller", &parent).await;
    let called = view["calledInstances"].as_array().expect("calledInstances");
    assert_eq!(called.len(), 1, "{view}");
    assert_eq!(called[0]["elementId"], "Approve");
    assert_eq!(called[0]["app"], "ttd/caller");
    assert_eq!(called[0]["state"], "active");
    let child = called[0]["instanceId"].as_str().unwrap().to_string();

    let child_view = process(&s, "ttd/caller", &child).await;
    assert_eq!(
        child_view["currentTask"]["elementId"], "Review",
        "{child_view}"
    );
    assert_eq!(
        child_view["calledBy"],
        json!({ "app": "ttd/caller", "instanceId": parent, "elementId": "Approve" })
    );
    assert_eq!(
        data(&s, "ttd/caller", &child, "request").await,
        Some(json!({ "amount": 1200 }))
    );

    let ended = next(&s, "ttd/caller", &child).await;
    assert!(ended["ended"].is_string(), "{ended}");
    let view = process(&s, "ttd/caller", &parent).await;
    assert_eq!(view["currentTask"]["elementId"], "After", "{view}");
    assert!(view.get("calledInstances").is_none(), "{view}");
    assert_eq!(
        data(&s, "ttd/caller", &parent, "result").await,
        Some(json!({ "amount": 1200 }))
    );
}

#[tokio::test]
async fn a_call_across_two_apps_on_one_server_makes_an_instance_of_the_other_app() {
    let dir = tempfile::tempdir().unwrap();
    let ext =
        r#"<flyt:calledElement app="ttd/approval"/><flyt:input source="model" target="request"/>"#;
    write_app(
        dir.path(),
        "ttd/caller",
        &[
            ("app.toml", CALLER_TOML),
            ("process.bpmn", &caller(ext, "", "")),
        ],
    );
    let approval = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="d">
  {}
</bpmn:definitions>
"#,
        approval_process()
    );
    write_app(
        dir.path(),
        "ttd/approval",
        &[("app.toml", APPROVAL_TOML), ("process.bpmn", &approval)],
    );
    let s = server_of(dir.path()).await;
    let parent = create(&s, "ttd/caller").await;
    let view = process(&s, "ttd/caller", &parent).await;
    let called = &view["calledInstances"][0];
    assert_eq!(called["app"], "ttd/approval", "{view}");
    let child = called["instanceId"].as_str().unwrap().to_string();
    // The child is an instance of the other app: read and moved through its routes.
    let child_view = process(&s, "ttd/approval", &child).await;
    assert_eq!(child_view["calledBy"]["app"], "ttd/caller");
    assert_eq!(
        data(&s, "ttd/approval", &child, "request").await,
        Some(json!({ "amount": 1200 }))
    );
    // Not under the calling app's routes, nor readable by another person.
    let r = s
        .call(
            Method::GET,
            &format!("/ttd/caller/instances/{child}/process"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = s
        .call(
            Method::GET,
            &format!("/ttd/approval/instances/{child}/process"),
            Some(&s.user(BOB)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    next(&s, "ttd/approval", &child).await;
    let view = process(&s, "ttd/caller", &parent).await;
    assert_eq!(view["currentTask"]["elementId"], "After", "{view}");
}

#[tokio::test]
async fn a_childs_bpmn_error_goes_to_the_error_boundary_of_the_call_activity() {
    let dir = tempfile::tempdir().unwrap();
    let rejecting = r#"<bpmn:error id="Rejected" errorCode="rejected"/>
  <bpmn:process id="approval" isExecutable="true">
    <bpmn:startEvent id="as"/>
    <bpmn:endEvent id="reject"><bpmn:errorEventDefinition errorRef="Rejected"/></bpmn:endEvent>
    <bpmn:sequenceFlow id="af" sourceRef="as" targetRef="reject"/>
  </bpmn:process>"#;
    let boundary = format!(
        r#"<bpmn:boundaryEvent id="OnReject" attachedToRef="Approve"><bpmn:errorEventDefinition errorRef="Rejected"/></bpmn:boundaryEvent>
    <bpmn:task id="Fix">{TASK}</bpmn:task>
    <bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="b1" sourceRef="OnReject" targetRef="Fix"/>
    <bpmn:sequenceFlow id="b2" sourceRef="Fix" targetRef="e2"/>"#
    );
    write_app(
        dir.path(),
        "ttd/caller",
        &[
            ("app.toml", CALLER_TOML),
            ("process.bpmn", &caller("", &boundary, rejecting)),
        ],
    );
    let s = server_of(dir.path()).await;
    let parent = create(&s, "ttd/caller").await;
    let view = process(&s, "ttd/caller", &parent).await;
    assert_eq!(view["currentTask"]["elementId"], "Fix", "{view}");
    let r = s
        .call(
            Method::GET,
            &format!("/ttd/caller/instances/{parent}/process/history"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert!(r.text.contains("flyt_ErrorCaught"), "{}", r.text);
}

#[tokio::test]
async fn an_interrupting_timer_boundary_cancels_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let boundary = format!(
        r#"<bpmn:boundaryEvent id="Late" attachedToRef="Approve"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:task id="Chase">{TASK}</bpmn:task>
    <bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="b1" sourceRef="Late" targetRef="Chase"/>
    <bpmn:sequenceFlow id="b2" sourceRef="Chase" targetRef="e2"/>"#
    );
    write_app(
        dir.path(),
        "ttd/caller",
        &[
            ("app.toml", CALLER_TOML),
            ("process.bpmn", &caller("", &boundary, &approval_process())),
        ],
    );
    let mut config = None;
    let mut s = Server::with(|c| {
        c.processes_dir = dir.path().to_path_buf();
        c.downstream.clear();
        config = Some(c.clone());
    })
    .await;
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_764_000_000_000)));
    s.flyt = flyt_api::server::ServerBuilder::new(config.unwrap())
        .clock(clock.clone())
        .without_worker()
        .build("127.0.0.1:8080".parse().unwrap())
        .await
        .unwrap();
    let parent = create(&s, "ttd/caller").await;
    let view = process(&s, "ttd/caller", &parent).await;
    let child = view["calledInstances"][0]["instanceId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(view["timers"][0]["attachedTo"], "Approve", "{view}");
    // An hour later the timer is due; it is fired as the worker would.
    clock.advance(std::time::Duration::from_secs(3600));
    let rt = s.flyt.state.runtime();
    let guid: flyt_engine::ids::InstanceId = parent.split('/').nth(1).unwrap().parse().unwrap();
    let job = rt.instance(guid).unwrap().process.tokens[0].timers[0].job;
    rt.fire_due_timer(job).await;
    let view = process(&s, "ttd/caller", &parent).await;
    assert_eq!(view["currentTask"]["elementId"], "Chase", "{view}");
    let child_view = process(&s, "ttd/caller", &child).await;
    assert!(child_view["ended"].is_string(), "{child_view}");
    assert!(
        child_view.get("currentTask").is_none_or(Value::is_null),
        "{child_view}"
    );
}

/// The example pair `ttd/approval-call` → `ttd/approval-flow` from `processes/`, through both
/// branches of the gateway after the call: the decision comes back from the sub-flow.
#[tokio::test]
async fn the_example_apps_run_through_both_branches() {
    let s = Server::start().await;
    for (approved, then) in [(true, "Order"), (false, "")] {
        let r = s
            .call(
                Method::POST,
                "/ttd/approval-call/instances",
                Some(&s.user(ALICE)),
                Some(json!({ "data": { "request": { "item": "laptop" } } })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let parent = r.body["id"].as_str().unwrap().to_string();
        next(&s, "ttd/approval-call", &parent).await;
        let view = process(&s, "ttd/approval-call", &parent).await;
        let child = view["calledInstances"][0]["instanceId"]
            .as_str()
            .unwrap()
            .to_string();
        let r = s
            .call(
                Method::PUT,
                &format!("/ttd/approval-flow/instances/{child}/data/decision"),
                Some(&s.user(ALICE)),
                Some(json!({ "approved": approved })),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        next(&s, "ttd/approval-flow", &child).await;
        let view = process(&s, "ttd/approval-call", &parent).await;
        if approved {
            assert_eq!(view["currentTask"]["elementId"], then, "{view}");
        } else {
            assert_eq!(view["endEvent"], "Withdrawn", "{view}");
        }
        assert_eq!(
            data(&s, "ttd/approval-call", &parent, "decision").await,
            Some(json!({ "approved": approved }))
        );
    }
}
