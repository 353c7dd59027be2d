//! `/jobs/activate`, `/jobs/{key}/complete`, `/jobs/{key}/fail`: external workers.

use crate::support::*;
use axum::http::{Method, StatusCode};
use flyt_api::server::ServerBuilder;
use flyt_engine::time::{Clock, ManualClock, Timestamp};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const APP_TOML: &str = r#"title = "Letters"
[[data_types]]
id = "letter"
task = "Write"

[[data_types]]
id = "receipt"
schema = "receipt.schema.json"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write"]

[jobs]
external = ["send-letter"]
"#;

const RECEIPT_SCHEMA: &str = r#"{"type": "object", "required": ["trackingId"], "properties": {"trackingId": {"type": "string"}}}"#;

const PROCESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1"
                  id="letters" targetNamespace="urn:flyt:tests">
  <bpmn:process id="letters" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:task id="Write">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:serviceTask id="Send" flyt:type="send-letter"/>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Write"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Write" targetRef="Send"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Send" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

/// A server whose only app, `ttd/letters`, sends letters through an external worker; time is a
/// manual clock the test moves. (`Server::with` has no clock option: the server it builds is
/// replaced by one with the same configuration and a manual clock.)
async fn letters() -> (Server, Arc<ManualClock>, tempfile::TempDir) {
    letters_with(PROCESS).await
}

async fn letters_with(process: &str) -> (Server, Arc<ManualClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("ttd/letters");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("app.toml"), APP_TOML).unwrap();
    std::fs::write(app.join("receipt.schema.json"), RECEIPT_SCHEMA).unwrap();
    std::fs::write(app.join("process.bpmn"), process).unwrap();
    let mut config = None;
    let mut s = Server::with(|c| {
        c.processes_dir = dir.path().to_path_buf();
        c.downstream.clear();
        config = Some(c.clone());
    })
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(
        now.as_millis() as i64
    )));
    s.flyt = ServerBuilder::new(config.unwrap())
        .clock(clock.clone())
        .without_worker()
        .build("127.0.0.1:8080".parse().unwrap())
        .await
        .unwrap();
    (s, clock, dir)
}

/// An instance waiting at `Send`; returns its `/ttd/letters/instances/{party}/{guid}` path.
async fn at_send(s: &Server) -> String {
    let alice = s.user(ALICE);
    let r = s
        .call(
            Method::POST,
            "/ttd/letters/instances",
            Some(&alice),
            Some(json!({ "data": { "letter": { "to": "Bob" } } })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/ttd/letters/instances/{}", r.body["id"].as_str().unwrap());
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["currentTask"]["elementId"], "Send");
    path
}

fn worker(s: &Server) -> String {
    s.org(TTD_ORGNO, Some("ttd"), &["flyt:jobs:send-letter"])
}

async fn activate(s: &Server, token: &str, worker_id: &str, lock_ms: u64) -> Response {
    let body = json!({"jobTypes": ["send-letter"], "maxJobs": 10, "lockDurationMs": lock_ms, "workerId": worker_id});
    s.call(Method::POST, "/jobs/activate", Some(token), Some(body))
        .await
}

/// Activates and expects exactly one job.
async fn one_job(s: &Server, token: &str, worker_id: &str) -> Value {
    let r = activate(s, token, worker_id, 30_000).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let jobs = r.body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{}", r.text);
    jobs[0].clone()
}

async fn post(s: &Server, token: &str, key: &Value, verb: &str, body: Value) -> Response {
    let uri = format!("/jobs/{}/{verb}", key.as_str().unwrap());
    s.call(Method::POST, &uri, Some(token), Some(body)).await
}

async fn process(s: &Server, path: &str) -> Value {
    let r = s
        .call(
            Method::GET,
            &format!("{path}/process"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

#[tokio::test]
async fn activate_then_complete_moves_the_instance_on_with_the_output_data() {
    let (s, _, _dir) = letters().await;
    let token = worker(&s);
    // Nothing due: an empty list at once.
    let r = activate(&s, &token, "w1", 30_000).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"jobs": []}));
    let path = at_send(&s).await;
    let job = one_job(&s, &token, "w1").await;
    assert_eq!(job["type"], "send-letter");
    assert_eq!(job["elementId"], "Send");
    assert_eq!(job["app"], "ttd/letters");
    assert_eq!(job["attempt"], 1);
    assert_eq!(job["retriesLeft"], 4, "5 attempts by default");
    assert_eq!(job["data"]["letter"], json!({"to": "Bob"}));
    assert!(path.ends_with(job["instanceId"].as_str().unwrap()), "{job}");
    assert!(job["idempotencyKey"].as_str().unwrap().ends_with("/Send/1"));
    assert!(Timestamp::parse_rfc3339(job["deadline"].as_str().unwrap()).is_some());
    // A taken job is not handed out again while locked.
    assert_eq!(
        activate(&s, &token, "w2", 30_000).await.body["jobs"],
        json!([])
    );
    // The data of a data type is an object, as on every other route that writes data.
    let r = post(
        &s,
        &token,
        &job["key"],
        "complete",
        json!({"data": {"receipt": ["A-123"]}}),
    )
    .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "data-invalid");
    assert_eq!(r.body["issues"][0]["field"], "receipt", "{}", r.text);
    // Output data is checked against its schema, and unknown data types are refused.
    let r = post(
        &s,
        &token,
        &job["key"],
        "complete",
        json!({"data": {"receipt": {"trackingId": 7}}}),
    )
    .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "data-invalid");
    let r = post(
        &s,
        &token,
        &job["key"],
        "complete",
        json!({"data": {"nope": {}}}),
    )
    .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    let r = post(
        &s,
        &token,
        &job["key"],
        "complete",
        json!({"data": {"receipt": {"trackingId": "RR123"}}, "details": {"carrier": "post"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"state": "completed", "outcome": "moved"}));
    let state = process(&s, &path).await;
    assert_eq!(state["endEvent"], "End", "{state}");
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/receipt"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"trackingId": "RR123"}));
    // A job is never completed twice: it is gone (404), and failing it is refused too.
    let r = post(&s, &token, &job["key"], "complete", json!({})).await;
    refused(&r, StatusCode::NOT_FOUND, "not-found");
    let r = post(
        &s,
        &token,
        &job["key"],
        "fail",
        json!({"errorMessage": "late"}),
    )
    .await;
    refused(&r, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn fail_with_retries_requeues_after_the_backoff() {
    let (s, clock, _dir) = letters().await;
    let token = worker(&s);
    let _path = at_send(&s).await;
    let job = one_job(&s, &token, "w1").await;
    let r = post(
        &s,
        &token,
        &job["key"],
        "fail",
        json!({"errorMessage": "printer jammed", "retries": 3, "backoffMs": 5000}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "retrying");
    let next = Timestamp::parse_rfc3339(r.body["nextAttemptAt"].as_str().unwrap()).unwrap();
    assert_eq!(next.since(clock.now()), Duration::from_secs(5));
    // The failed lease is spent.
    let r = post(&s, &token, &job["key"], "complete", json!({})).await;
    refused(&r, StatusCode::CONFLICT, "lease-not-held");
    // Not due before the backoff has passed; due after.
    assert_eq!(
        activate(&s, &token, "w1", 30_000).await.body["jobs"],
        json!([])
    );
    clock.advance(Duration::from_millis(5_000));
    let again = one_job(&s, &token, "w1").await;
    assert_eq!(again["attempt"], 2);
    assert_eq!(again["retriesLeft"], 3);
    assert_eq!(again["idempotencyKey"], job["idempotencyKey"]);
    assert_ne!(again["key"], job["key"]);
    let r = post(&s, &token, &again["key"], "complete", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn fail_with_no_retries_raises_an_incident() {
    let (s, _, _dir) = letters().await;
    let token = worker(&s);
    let path = at_send(&s).await;
    let job = one_job(&s, &token, "w1").await;
    let r = post(
        &s,
        &token,
        &job["key"],
        "fail",
        json!({"errorMessage": "no such address", "retries": 0}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"state": "incident"}));
    let state = process(&s, &path).await;
    let incident = &state["incidents"][0];
    assert_eq!(incident["elementId"], "Send", "{state}");
    assert_eq!(incident["lastError"], "no such address");
    assert_eq!(state["currentTask"]["elementId"], "Send");
    // An incident is not handed out again.
    assert_eq!(
        activate(&s, &token, "w1", 30_000).await.body["jobs"],
        json!([])
    );
}

#[tokio::test]
async fn an_expired_lock_returns_the_job_and_refuses_the_old_lease() {
    let (s, clock, _dir) = letters().await;
    let token = worker(&s);
    let path = at_send(&s).await;
    let r = activate(&s, &token, "slow", 1_000).await;
    let old = r.body["jobs"][0].clone();
    assert_eq!(old["attempt"], 1, "{}", r.text);
    clock.advance(Duration::from_millis(1_001));
    // The old lease is refused as soon as it expires, even before another worker takes the job.
    let r = post(&s, &token, &old["key"], "complete", json!({})).await;
    refused(&r, StatusCode::CONFLICT, "lease-not-held");
    let new = one_job(&s, &token, "fast").await;
    assert_eq!(new["attempt"], 2);
    let r = post(
        &s,
        &token,
        &old["key"],
        "fail",
        json!({"errorMessage": "x"}),
    )
    .await;
    refused(&r, StatusCode::CONFLICT, "lease-not-held");
    // Both late outcomes were refused by the fence, and counted.
    let metrics = s.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .text
            .contains("\nflyt_job_outcomes_refused_total 2\n"),
        "{}",
        metrics.text
    );
    // An empty body is a completion without output.
    let uri = format!("/jobs/{}/complete", new["key"].as_str().unwrap());
    let r = s.call(Method::POST, &uri, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(process(&s, &path).await["endEvent"], "End");
    let r = post(&s, &token, &old["key"], "complete", json!({})).await;
    refused(&r, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn wrong_scopes_user_tokens_and_bad_requests_are_refused() {
    let (s, _, _dir) = letters().await;
    let _path = at_send(&s).await;
    let other = s.org(TTD_ORGNO, Some("ttd"), &["flyt:jobs:send-parcel"]);
    let r = activate(&s, &other, "w", 30_000).await;
    refused(&r, StatusCode::FORBIDDEN, "insufficient-scope");
    assert!(r.text.contains("flyt:jobs:send-letter"), "{}", r.text);
    let none = s.org(TTD_ORGNO, Some("ttd"), &[]);
    refused(
        &activate(&s, &none, "w", 30_000).await,
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    );
    let user = s.user_with(ALICE, &[], &["flyt:jobs"]);
    refused(
        &activate(&s, &user, "w", 30_000).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let r = s
        .call(Method::POST, "/jobs/activate", None, Some(json!({})))
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    // `flyt:jobs` allows every type.
    let all = s.org(TTD_ORGNO, Some("ttd"), &["flyt:jobs"]);
    let job = one_job(&s, &all, "w").await;
    // Completing needs the scope for the job's type, and an organisation token.
    let r = post(&s, &other, &job["key"], "complete", json!({})).await;
    refused(&r, StatusCode::FORBIDDEN, "insufficient-scope");
    let r = post(&s, &user, &job["key"], "complete", json!({})).await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // Malformed keys are 400, unknown jobs 404, unknown fields and out-of-range values 400.
    for key in ["nope", "nope.1", "3f2c7a54-0b1e-4c3d-9a8b-1c2d3e4f5a6b.x"] {
        let r = post(&s, &all, &json!(key), "complete", json!({})).await;
        refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    }
    let unknown = json!("3f2c7a54-0b1e-4c3d-9a8b-1c2d3e4f5a6b.1");
    refused(
        &post(&s, &all, &unknown, "complete", json!({})).await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    let bad = [
        json!({"jobTypes": ["send-letter"], "maxJobs": 0, "lockDurationMs": 30000, "workerId": "w"}),
        json!({"jobTypes": ["send-letter"], "maxJobs": 101, "lockDurationMs": 30000, "workerId": "w"}),
        json!({"jobTypes": ["send-letter"], "maxJobs": 1, "lockDurationMs": 999, "workerId": "w"}),
        json!({"jobTypes": [], "maxJobs": 1, "lockDurationMs": 30000, "workerId": "w"}),
        json!({"jobTypes": ["send-letter"], "maxJobs": 1, "lockDurationMs": 30000, "workerId": ""}),
        json!({"jobTypes": ["send-letter"], "maxJobs": 1, "lockDurationMs": 30000, "workerId": "w", "x": 1}),
    ];
    for body in bad {
        let r = s
            .call(
                Method::POST,
                "/jobs/activate",
                Some(&all),
                Some(body.clone()),
            )
            .await;
        refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    }
    let r = post(
        &s,
        &all,
        &job["key"],
        "fail",
        json!({"errorMessage": "x", "retriesLeft": 1}),
    )
    .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    // None of this touched the job.
    let r = post(&s, &all, &job["key"], "complete", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_late_completion_of_a_job_its_boundary_cancelled_is_409_and_changes_nothing() {
    let with_deadline = PROCESS
        .replace(
            r#"<bpmn:endEvent id="End"/>"#,
            r#"<bpmn:endEvent id="End"/>
    <bpmn:boundaryEvent id="TooSlow" attachedToRef="Send"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:endEvent id="GaveUp"/>
    <bpmn:sequenceFlow id="f4" sourceRef="TooSlow" targetRef="GaveUp"/>"#,
        );
    let (s, clock, _dir) = letters_with(&with_deadline).await;
    let path = at_send(&s).await;
    let w = worker(&s);
    let job = one_job(&s, &w, "w1").await;
    // The worker is slow: the deadline passes and the boundary ends `Send`.
    clock.advance(Duration::from_secs(61));
    let job_worker = flyt_engine::runtime::worker::Worker::spawn(s.flyt.state.runtime().clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ended = loop {
        let state = process(&s, &path).await;
        if state["endEvent"] == "GaveUp" {
            break state;
        }
        assert!(std::time::Instant::now() < deadline, "{state}");
        tokio::task::yield_now().await;
    };
    job_worker.stop(Duration::from_secs(1)).await;
    for verb in ["complete", "fail"] {
        let body = if verb == "fail" {
            json!({"errorMessage": "late"})
        } else {
            json!({"data": {"receipt": {"trackingId": "t-1"}}})
        };
        let r = post(&s, &w, &job["key"], verb, body).await;
        refused(&r, StatusCode::CONFLICT, "job-cancelled");
        assert!(
            r.body["detail"].as_str().unwrap().contains("by `TooSlow`")
                && r.body["detail"].as_str().unwrap().contains("task `Send`"),
            "{}",
            r.text
        );
    }
    // Nothing changed.
    assert_eq!(process(&s, &path).await, ended);
    // Someone who does not serve the app learns nothing more than before.
    let other = s.org("991825827", Some("skd"), &["flyt:jobs:send-letter"]);
    let r = post(&s, &other, &job["key"], "complete", json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // The tombstone is kept a day past the lease, then swept: the store stays bounded.
    let rt = s.flyt.state.runtime().clone();
    clock.advance(Duration::from_secs(86_400 - 60));
    assert_eq!(rt.sweep_cancelled_jobs(256).await.unwrap(), 0, "not yet");
    clock.advance(Duration::from_secs(120));
    assert_eq!(rt.sweep_cancelled_jobs(256).await.unwrap(), 1);
    let r = post(&s, &worker(&s), &job["key"], "complete", json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}
