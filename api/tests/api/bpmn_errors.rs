//! An external worker ends a job with a BPMN error (`POST /jobs/{key}/fail` with `errorCode`):
//! an error boundary event that catches the code takes the instance on (`caught`); a code nothing
//! catches is an incident naming it.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

const PROCESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:flyt:tests">
  <bpmn:error id="notFound" errorCode="NOT_FOUND"/>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:serviceTask id="Lookup" flyt:type="lookup"/>
    <bpmn:boundaryEvent id="Missing" attachedToRef="Lookup"><bpmn:errorEventDefinition errorRef="notFound"/></bpmn:boundaryEvent>
    <bpmn:task id="AskManually"/>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Lookup"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Lookup" targetRef="End"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Missing" targetRef="AskManually"/>
    <bpmn:sequenceFlow id="f4" sourceRef="AskManually" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

const APP: &str = "title = \"Lookups\"\n[[rules]]\nsubjects = [\"owner\"]\nactions = [\"read\", \"instantiate\", \"complete\"]\n[jobs]\nexternal = [\"lookup\"]\n";

async fn at_lookup(s: &Server) -> String {
    let r = s
        .call(
            Method::POST,
            "/ttd/lookups/instances",
            Some(&s.user(ALICE)),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    format!("/ttd/lookups/instances/{}", r.body["id"].as_str().unwrap())
}

async fn lease(s: &Server, ttd: &str) -> String {
    let r = s
        .call(
            Method::POST,
            "/jobs/activate",
            Some(ttd),
            Some(json!({"jobTypes": ["lookup"], "maxJobs": 1, "lockDurationMs": 60000, "workerId": "w"})),
        )
        .await;
    r.body["jobs"][0]["key"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_worker_raises_a_bpmn_error_caught_or_an_incident_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "ttd/lookups",
        &[("app.toml", APP), ("process.bpmn", PROCESS)],
    );
    let s = server_of(dir.path()).await;
    let ttd = s.org(TTD_ORGNO, Some("ttd"), &["flyt:jobs:lookup"]);
    let alice = s.user(ALICE);

    let path = at_lookup(&s).await;
    let key = lease(&s, &ttd).await;
    let r = s
        .call(
            Method::POST,
            &format!("/jobs/{key}/fail"),
            Some(&ttd),
            Some(json!({"errorMessage": "no such company", "errorCode": "NOT_FOUND"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "caught");
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&alice), None)
        .await;
    assert_eq!(
        r.body["currentTask"]["elementId"], "AskManually",
        "{}",
        r.text
    );
    // The job is gone with its task: the worker cannot complete it afterwards.
    let r = s
        .call(
            Method::POST,
            &format!("/jobs/{key}/complete"),
            Some(&ttd),
            Some(json!({})),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.text);

    let path = at_lookup(&s).await;
    let key = lease(&s, &ttd).await;
    refused(
        &s.call(
            Method::POST,
            &format!("/jobs/{key}/fail"),
            Some(&ttd),
            Some(json!({"errorMessage": "x", "errorCode": " "})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad-request",
    );
    let r = s
        .call(
            Method::POST,
            &format!("/jobs/{key}/fail"),
            Some(&ttd),
            Some(json!({"errorMessage": "the register is down", "errorCode": "UNAVAILABLE"})),
        )
        .await;
    assert_eq!(r.body["state"], "incident", "{}", r.text);
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&alice), None)
        .await;
    let incident = &r.body["incidents"][0];
    assert!(
        incident["lastError"]
            .as_str()
            .unwrap()
            .contains("uncaught BPMN error `UNAVAILABLE`"),
        "{}",
        r.text
    );
}
