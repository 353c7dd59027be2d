//! Job workers are bound to the apps they serve: two service owners host an app each with the
//! same external job type, and four callers hold that type's scope. Each cell of the matrix is
//! asserted: who is handed which app's jobs, and who may complete and fail them.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

const PROCESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:flyt="urn:flyt:bpmn:1" id="extjob" targetNamespace="urn:flyt:tests">
  <bpmn:process id="extjob" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:serviceTask id="Send" flyt:type="send-letter"/>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Send"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Send" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

/// `ttd/extjob` and `acme/extjob`; acme's policy also lets organisation 999999999 send its
/// letters.
async fn two_owners() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (org, extra) in [
        ("ttd", ""),
        (
            "acme",
            "[[rules]]\nsubjects = [\"orgno:999999999\"]\nactions = [\"job:send-letter\"]\n",
        ),
    ] {
        let toml = format!(
            "title = \"Letters of {org}\"\n[[data_types]]\nid = \"letter\"\n\n[[rules]]\nsubjects = [\"owner\"]\nactions = [\"read\", \"instantiate\", \"write\"]\n{extra}\n[jobs]\nexternal = [\"send-letter\"]\n"
        );
        write_app(
            dir.path(),
            &format!("{org}/extjob"),
            &[("app.toml", &toml), ("process.bpmn", PROCESS)],
        );
    }
    (server_of(dir.path()).await, dir)
}

/// Creates an instance of `org/extjob` owned by Alice, waiting at `Send` with private data.
async fn waiting(s: &Server, org: &str) -> String {
    let r = s
        .call(
            Method::POST,
            &format!("/{org}/extjob/instances"),
            Some(&s.user(ALICE)),
            Some(json!({ "data": { "letter": { "secret": format!("{org}'s letter") } } })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn activate(s: &Server, token: &str) -> Response {
    let body = json!({"jobTypes": ["send-letter"], "maxJobs": 10, "lockDurationMs": 60000, "workerId": "w"});
    s.call(Method::POST, "/jobs/activate", Some(token), Some(body))
        .await
}

/// The apps whose jobs an activation handed out.
fn apps_of(r: &Response) -> Vec<String> {
    let mut apps: Vec<String> = r.body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["app"].as_str().unwrap().to_string())
        .collect();
    apps.sort();
    apps
}

async fn post(s: &Server, token: &str, key: &Value, verb: &str, body: Value) -> Response {
    let uri = format!("/jobs/{}/{verb}", key.as_str().unwrap());
    s.call(Method::POST, &uri, Some(token), Some(body)).await
}

#[tokio::test]
async fn workers_get_complete_and_fail_only_jobs_of_apps_they_serve() {
    let (s, _dir) = two_owners().await;
    let scope = ["flyt:jobs:send-letter"];
    let ttd = s.org(TTD_ORGNO, Some("ttd"), &scope);
    let acme = s.org(ACME_ORGNO, Some("acme"), &scope);
    let third = s.org("999999999", None, &scope);
    let user = s.user_with(ALICE, &[], &scope);
    let ttd_instance = waiting(&s, "ttd").await;
    let acme_instance = waiting(&s, "acme").await;

    // Activation: each caller is handed exactly the jobs of the apps it serves. The third
    // organisation only acme's (whose policy names it); the user nothing at all.
    let r = activate(&s, &third).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(apps_of(&r), ["acme/extjob"], "{}", r.text);
    assert!(!r.text.contains("ttd's letter"), "{}", r.text);
    let third_job = r.body["jobs"][0]["key"].clone();
    refused(
        &activate(&s, &user).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let r = activate(&s, &ttd).await;
    assert_eq!(apps_of(&r), ["ttd/extjob"], "{}", r.text);
    let ttd_job = r.body["jobs"][0]["key"].clone();
    // acme's job is leased to the third organisation now; acme gets nothing of ttd's.
    let r = activate(&s, &acme).await;
    assert_eq!(apps_of(&r), Vec::<String>::new(), "{}", r.text);

    // Complete and fail of ttd's job: only ttd.
    for caller in [&acme, &third] {
        let r = post(
            &s,
            caller,
            &ttd_job,
            "complete",
            json!({"data": {"letter": {"forged": true}}}),
        )
        .await;
        refused(&r, StatusCode::FORBIDDEN, "forbidden");
        let r = post(
            &s,
            caller,
            &ttd_job,
            "fail",
            json!({"errorMessage": "x", "retries": 0}),
        )
        .await;
        refused(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    for (verb, body) in [
        ("complete", json!({})),
        ("fail", json!({"errorMessage": "x"})),
    ] {
        let r = post(&s, &user, &ttd_job, verb, body).await;
        refused(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    // Complete and fail of acme's job (held by the third organisation): ttd never; acme and the
    // third organisation are allowed past the check (acme then finds the lease is not its own).
    let r = post(&s, &ttd, &third_job, "complete", json!({})).await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = post(
        &s,
        &ttd,
        &third_job,
        "fail",
        json!({"errorMessage": "x", "retries": 0}),
    )
    .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // Nothing of that moved either instance.
    let alice = s.user(ALICE);
    for (org, id) in [("ttd", &ttd_instance), ("acme", &acme_instance)] {
        let r = s
            .call(
                Method::GET,
                &format!("/{org}/extjob/instances/{id}/process"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(
            r.body["currentTask"]["elementId"], "Send",
            "{org}: {}",
            r.text
        );
        let r = s
            .call(
                Method::GET,
                &format!("/{org}/extjob/instances/{id}/data/letter"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(r.body["secret"], format!("{org}'s letter"), "{}", r.text);
    }
    // The rightful workers: the third organisation fails acme's job (an attempt), ttd
    // completes its own.
    let r = post(
        &s,
        &third,
        &third_job,
        "fail",
        json!({"errorMessage": "printer jam"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = post(&s, &ttd, &ttd_job, "complete", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outcome"], "moved");
}

#[tokio::test]
async fn the_service_owner_works_its_own_jobs_without_a_rule() {
    let (s, _dir) = two_owners().await;
    let acme = s.org(ACME_ORGNO, Some("acme"), &["flyt:jobs"]);
    waiting(&s, "acme").await;
    waiting(&s, "ttd").await;
    let r = activate(&s, &acme).await;
    assert_eq!(apps_of(&r), ["acme/extjob"], "{}", r.text);
    let key = r.body["jobs"][0]["key"].clone();
    let r = post(&s, &acme, &key, "complete", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
