//! The multi-app flow end to end (issue 5's acceptance): app A creates a prefilled instance of
//! app B with an organisation token, across real server processes.

use crate::cluster::*;
use flyt_tests::{eventually, http};
use serde_json::{Value, json};
use std::time::Duration;

fn created_instance(history: &Value) -> Option<String> {
    history["processHistory"].as_array()?.iter().find_map(|e| {
        e["details"]["createdInstance"]["id"]
            .as_str()
            .map(str::to_string)
    })
}

async fn wait_for_end(c: &Cluster, url: &str, token: &str) -> Value {
    eventually("A to reach its end", WAIT, || async {
        let p = c.process(url, token).await;
        p["ended"].is_string().then_some(p)
    })
    .await
}

/// Polls A's createInstance job, returning its state whenever it changes, until `stop` says so.
async fn job_states(
    c: &Cluster,
    url: &str,
    token: &str,
    mut stop: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let p = c.process(url, token).await;
        let job = p["currentTask"]["job"].clone();
        if !job.is_null() && seen.last() != Some(&job) {
            seen.push(job.clone());
        }
        if stop(&p) {
            return seen;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job states so far: {seen:#?}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_one_prefilled_instance_readable_only_by_the_role() {
    let mut c = Cluster::new(Options { b_denies_a: false });
    c.start_authority();
    c.start_b();
    c.start_a(&[]);
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    let dave = c.user(DAVE, &["999888777:DAGL"]).await;

    let url = c.submit_application(&alice).await;
    let ended = wait_for_end(&c, &url, &alice).await;
    assert_eq!(ended["endEvent"], "End");
    // A's history and process state record B's instance.
    let history: Value = http()
        .get(format!("{url}/process/history"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b_id = created_instance(&history).expect("A's history names B's instance");
    assert!(b_id.starts_with("991825827/"), "{b_id}");
    assert_eq!(
        ended["createdInstances"][0]["createdInstance"]["id"],
        b_id.as_str()
    );

    // Exactly one B instance, owned by the grants department, prefilled.
    let cases = c.b_instances(&carol).await;
    assert_eq!(cases.len(), 1, "{cases:#?}");
    assert_eq!(cases[0]["id"], b_id.as_str());
    assert_eq!(cases[0]["instanceOwner"]["organisationNumber"], GRANTS_ORG);
    let b_url = format!("{}/acme/grant-case/instances/{b_id}", c.b_url());
    let data: Value = http()
        .get(format!("{b_url}/data/case"))
        .bearer_auth(&carol)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        data,
        json!({"applicant": {"name": "Alice Applicant", "email": "alice@example.org"}, "amount": 25000, "purpose": "a cargo bike", "source": "acme/grant-application"})
    );

    // Who can read it: the case handler yes; A's end user and another organisation's manager no.
    assert_eq!(
        http()
            .get(&b_url)
            .bearer_auth(&carol)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http()
            .get(&b_url)
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        http()
            .get(&b_url)
            .bearer_auth(&dave)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // The case handler processes it to the end.
    let r = http()
        .put(format!("{b_url}/process/next"))
        .bearer_auth(&carol)
        .json(&json!({"action": "complete"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_down_growing_gaps_then_incident_then_resume_creates_exactly_one() {
    let mut c = Cluster::new(Options { b_denies_a: false });
    c.start_authority();
    c.start_a(&[]); // B is not running
    let alice = c.user(ALICE, &[]).await;
    let url = c.submit_application(&alice).await;

    let states = job_states(&c, &url, &alice, |p| {
        !p["incidents"].as_array().is_none_or(|i| i.is_empty())
    })
    .await;
    // Attempt n+1 starts at attempt n's `nextAttemptAt`: the gaps between them are the backoff.
    let times: Vec<(u64, i64)> = states
        .iter()
        .filter(|j| j["state"] == "queued" && j["attempts"].as_u64().unwrap() >= 1)
        .map(|j| {
            (
                j["attempts"].as_u64().unwrap(),
                parse(j["nextAttemptAt"].as_str().unwrap()),
            )
        })
        .collect();
    assert!(
        times.len() >= 3,
        "expected retries to be observed: {states:#?}"
    );
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1].1 - w[0].1).collect();
    assert!(
        gaps.windows(2).all(|w| w[1] >= w[0]),
        "gaps must grow: {gaps:?} from {times:?}"
    );
    assert!(gaps.last() > gaps.first(), "gaps must grow: {gaps:?}");
    let p = c.process(&url, &alice).await;
    let incident = &p["incidents"][0];
    assert_eq!(incident["attempts"], 4, "{p:#}");
    assert!(
        incident["lastError"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{incident}"
    );
    assert_eq!(p["currentTask"]["job"]["state"], "incident");

    // B starts; an operator resumes; exactly one B instance; A moves on.
    c.start_b();
    let operator = c.user_with_scope("05057012345", "flyt:operator").await;
    let r = http()
        .post(format!("{url}/process/resume"))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    wait_for_end(&c, &url, &alice).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    assert_eq!(c.b_instances(&carol).await.len(), 1);
}

/// Milliseconds since the epoch of an RFC 3339 timestamp.
fn parse(t: &str) -> i64 {
    let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_after_b_accepted_retries_with_the_same_key_and_b_answers_the_same_instance() {
    let mut c = Cluster::new(Options { b_denies_a: false });
    c.start_authority();
    c.start_b();
    c.start_a(&[("FLYT_FAILPOINT", "create_instance.after_response")]);
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    let url = c.submit_application(&alice).await;
    // A dies right after B answered 201, before recording it.
    eventually("A to die at the fail point", WAIT, || async {
        let dead = http()
            .get(format!("{}/health/live", c.a_url()))
            .send()
            .await
            .is_err();
        dead.then_some(())
    })
    .await;
    assert!(
        c.a.as_ref()
            .unwrap()
            .log_text()
            .contains("failpoint `create_instance.after_response` hit")
    );
    let first = c.b_instances(&carol).await;
    assert_eq!(first.len(), 1, "B created the instance before A died");
    // A restarts on the same data: the job's stale lease is reclaimed and retried with the same
    // Idempotency-Key; B answers with the same instance.
    c.a.take();
    c.start_a(&[]);
    let url = url.replace(&url[..url.find("/acme/").unwrap()], &c.a_url());
    wait_for_end(&c, &url, &alice).await;
    let after = c.b_instances(&carol).await;
    assert_eq!(after.len(), 1, "still exactly one B instance: {after:#?}");
    let history: Value = http()
        .get(format!("{url}/process/history"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        created_instance(&history).unwrap(),
        first[0]["id"].as_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_down_is_retried_and_no_token_is_logged() {
    let mut c = Cluster::new(Options { b_denies_a: false });
    c.start_authority();
    c.start_b();
    c.start_a(&[]);
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    // Both servers learn the authority's keys while it is up.
    assert_eq!(c.b_instances(&carol).await.len(), 0);
    assert_eq!(
        http()
            .get(format!("{}/acme/grant-application/instances", c.a_url()))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    c.authority.as_mut().unwrap().kill();
    let url = c.submit_application(&alice).await;
    let states = job_states(&c, &url, &alice, |p| {
        p["currentTask"]["job"]["attempts"].as_u64().unwrap_or(0) >= 2
            && p["currentTask"]["job"]["state"] == "queued"
    })
    .await;
    let last = states.last().unwrap();
    assert!(
        last["lastError"]
            .as_str()
            .unwrap()
            .contains("token endpoint"),
        "{last}"
    );
    assert!(
        c.process(&url, &alice).await["incidents"]
            .as_array()
            .is_none_or(|i| i.is_empty()),
        "transient: no incident yet"
    );
    // The authority comes back on the same port with the same keys; the next attempt succeeds.
    c.start_authority();
    wait_for_end(&c, &url, &alice).await;
    assert_eq!(c.b_instances(&carol).await.len(), 1);
    let log = c.a.as_ref().unwrap().log_text();
    assert!(
        !log.contains("eyJ"),
        "a JWT (assertion or token) appears in A's log"
    );
    assert!(
        !log.contains("assertion="),
        "the grant body appears in A's log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_policy_denies_a_incident_at_once_with_b_reason() {
    let mut c = Cluster::new(Options { b_denies_a: true });
    c.start_authority();
    c.start_b();
    c.start_a(&[]);
    let alice = c.user(ALICE, &[]).await;
    let url = c.submit_application(&alice).await;
    let p = eventually("the incident", WAIT, || async {
        let p = c.process(&url, &alice).await;
        (!p["incidents"].as_array().is_none_or(|i| i.is_empty())).then_some(p)
    })
    .await;
    let incident = &p["incidents"][0];
    assert_eq!(incident["attempts"], 1, "no retries: {incident}");
    let error = incident["lastError"].as_str().unwrap();
    assert!(
        error.contains("403") && error.contains("forbidden") && error.contains("instantiate"),
        "{error}"
    );
    assert!(
        incident["reason"]
            .as_str()
            .unwrap()
            .contains("failed permanently")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definition_targeting_an_app_off_the_allow_list_is_refused_at_deploy() {
    let mut c = Cluster::new(Options { b_denies_a: false });
    c.start_authority();
    c.start_a(&[]);
    let designer = c.user_with_scope("06067012345", "flyt:designer").await;
    let bpmn = std::fs::read_to_string(c.path("a/processes/acme/grant-application/process.bpmn"))
        .unwrap()
        .replace("acme/grant-case", "evil/collector");
    let r = http()
        .put(format!(
            "{}/acme/grant-application/process/definition",
            c.a_url()
        ))
        .bearer_auth(&designer)
        .header("content-type", "application/xml")
        .body(bpmn)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid-definition");
    let issue = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "invalid-service-task-config")
        .expect("the allow-list diagnostic");
    assert_eq!(issue["elementId"], "SendToCaseHandling");
    assert!(
        issue["message"]
            .as_str()
            .unwrap()
            .contains("evil/collector")
    );
    assert!(issue["line"].as_u64().unwrap() > 0);
    let _ = Duration::ZERO;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_4xx_from_b_is_a_bpmn_error_that_the_boundary_catches() {
    let mut c = Cluster::new(Options { b_denies_a: true });
    // A maps B's 403 `forbidden` to the BPMN error `refused`, caught by a boundary on the task.
    let file = c.path("a/processes/acme/grant-application/process.bpmn");
    let bpmn = std::fs::read_to_string(&file)
        .unwrap()
        .replace(
            r#"<flyt:prefill value="acme/grant-application" to="source"/>"#,
            r#"<flyt:prefill value="acme/grant-application" to="source"/>
          <flyt:onError status="409" errorCode="duplicate"/>
          <flyt:onError status="403" code="forbidden" errorCode="refused"/>"#,
        )
        .replace(
            r#"<bpmn:endEvent id="End">"#,
            r#"<bpmn:boundaryEvent id="Refused" attachedToRef="SendToCaseHandling"><bpmn:errorEventDefinition errorRef="Err_refused"/></bpmn:boundaryEvent>
    <bpmn:endEvent id="NotSent"/>
    <bpmn:sequenceFlow id="Flow_refused" sourceRef="Refused" targetRef="NotSent"/>
    <bpmn:endEvent id="End">"#,
        )
        .replace(
            "</bpmn:process>",
            "</bpmn:process>\n  <bpmn:error id=\"Err_refused\" errorCode=\"refused\"/>",
        );
    std::fs::write(&file, bpmn).unwrap();
    c.start_authority();
    c.start_b();
    c.start_a(&[]);
    let alice = c.user(ALICE, &[]).await;
    let url = c.submit_application(&alice).await;
    let p = wait_for_end(&c, &url, &alice).await;
    assert_eq!(p["endEvent"], "NotSent", "{p:#}");
    assert!(
        p["incidents"].as_array().is_none_or(|i| i.is_empty()),
        "{p:#}"
    );
    let history: Value = http()
        .get(format!("{url}/process/history"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let caught = history["processHistory"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eventType"] == "flyt_ErrorCaught")
        .unwrap_or_else(|| panic!("{history:#}"));
    assert_eq!(caught["elementId"], "Refused", "{caught}");
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    assert!(c.b_instances(&carol).await.is_empty(), "B created nothing");

    // A mapping of a status flyt retries (or of no 4xx) is refused at deploy, at its line.
    let designer = c.user_with_scope("06067012345", "flyt:designer").await;
    let bad = std::fs::read_to_string(&file).unwrap().replace(
        r#"<flyt:onError status="409" errorCode="duplicate"/>"#,
        r#"<flyt:onError status="503" errorCode="unavailable"/>"#,
    );
    let line = bad
        .lines()
        .position(|l| l.contains("status=\"503\""))
        .unwrap()
        + 1;
    let r = http()
        .put(format!(
            "{}/acme/grant-application/process/definition",
            c.a_url()
        ))
        .bearer_auth(&designer)
        .header("content-type", "application/xml")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let issue = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "invalid-service-task-config")
        .unwrap_or_else(|| panic!("{body:#}"));
    assert_eq!(issue["line"].as_u64(), Some(line as u64), "{issue}");
    assert!(
        issue["message"].as_str().unwrap().contains("`503`"),
        "{issue}"
    );
}

/// Issue 19: A on PostgreSQL, B on redb. The same flow; A's instance is then a row of A's
/// database (read as SQL), B's instance is B's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_on_postgres_creates_one_instance_of_b_on_redb() {
    let Some(db) = flyt_engine::store::postgres::testing::TempDatabase::create("multi_app_a_on_pg")
    else {
        return;
    };
    let mut c = Cluster::new(Options { b_denies_a: false });
    c.start_authority();
    c.start_b();
    c.start_a(&[
        ("FLYT_STORAGE__BACKEND", "postgres"),
        ("FLYT_DATABASE_URL", db.url()),
    ]);
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    let url = c.submit_application(&alice).await;
    let ended = wait_for_end(&c, &url, &alice).await;
    assert_eq!(ended["endEvent"], "End");
    let b_id = ended["createdInstances"][0]["createdInstance"]["id"]
        .as_str()
        .expect("A records B's instance")
        .to_string();
    let cases = c.b_instances(&carol).await;
    assert_eq!(cases.len(), 1, "{cases:#?}");
    assert_eq!(cases[0]["id"], b_id.as_str());
    // A kept its state in PostgreSQL: its ended instance, its createInstance job done.
    assert_eq!(
        db.query_strings(
            "SELECT count(*)::text FROM flyt_instances \
             WHERE app = 'acme/grant-application' AND ended"
        )
        .unwrap(),
        [Some("1".to_string())]
    );
    assert_eq!(
        db.query_strings(
            "SELECT count(*)::text FROM flyt_jobs WHERE state IN ('queued', 'leased', 'incident')"
        )
        .unwrap(),
        [Some("0".to_string())],
        "no job left behind"
    );
}
