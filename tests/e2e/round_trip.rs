//! The round trip A → B → A across real server processes (issue 16's acceptance): app A creates
//! a case in app B prefilled with A's own instance id and waits at the receive task
//! AwaitDecision; the case handler decides in B; B's message end event delivers `caseDecided`
//! to A through its durable outbox with the service owner's organisation token (RS256, from
//! the development authority); A correlates it on its instance id, merges the decision into its
//! data and branches on it. And a SIGKILL of either server during the delivery leaves exactly
//! one correlation in A.
//!
//! These tests need the CATCH side of issue 16 (the receive task, the subscription on
//! `<bpmn:message>` and `POST /{org}/{app}/messages`), which lives on another branch until the
//! merge.

use crate::cluster::*;
use flyt_tests::{eventually, http};
use serde_json::{Value, json};

/// A's instance id (`{partyId}/{guid}`) from its URL.
fn instance_id(url: &str) -> String {
    url[url.find("/instances/").unwrap() + "/instances/".len()..].to_string()
}

async fn get(url: &str, token: &str) -> Value {
    let r = http().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// Carol decides B's only case: writes the decision and a note, and completes the task.
async fn decide(c: &Cluster, carol: &str, decision: &str, note: &str) -> String {
    let cases = c.b_instances(carol).await;
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let b_url = format!(
        "{}/acme/grant-case/instances/{}",
        c.b_url(),
        cases[0]["id"].as_str().unwrap()
    );
    let mut data = get(&format!("{b_url}/data/case"), carol).await;
    data["decision"] = json!(decision);
    data["note"] = json!(note);
    let r = http()
        .put(format!("{b_url}/data/case"))
        .bearer_auth(carol)
        .json(&data)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = http()
        .put(format!("{b_url}/process/next"))
        .bearer_auth(carol)
        .json(&json!({"action": "complete"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    b_url
}

async fn wait_for_task(c: &Cluster, url: &str, token: &str, task: &str) -> Value {
    eventually(&format!("A to reach {task}"), WAIT, || async {
        let p = c.process(url, token).await;
        (p["currentTask"]["elementId"] == task).then_some(p)
    })
    .await
}

async fn wait_for_end(url: &str, token: &str, what: &str) -> Value {
    eventually(what, WAIT, || async {
        let p = get(&format!("{url}/process"), token).await;
        p["ended"].is_string().then_some(p)
    })
    .await
}

/// The `sentMessage` B recorded when its end event Decided completed.
async fn sent_message(b_url: &str, carol: &str) -> Value {
    let history = get(&format!("{b_url}/process/history"), carol).await;
    let sent: Vec<Value> = history["processHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["details"].get("sentMessage").cloned())
        .collect();
    assert_eq!(sent.len(), 1, "{history:#}");
    sent[0].clone()
}

/// How often a message correlated at A's receive task (each is one correlation that moved A).
async fn correlations(url: &str, alice: &str) -> usize {
    let history = get(&format!("{url}/process/history"), alice).await;
    history["processHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["elementId"] == "AwaitDecision" && e["eventType"] == "flyt_MessageCorrelated")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_the_decision_travels_back_and_the_applicant_confirms() {
    let mut c = Cluster::round_trip();
    c.start_authority();
    c.start_b();
    c.start_a(&[]);
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    let url = c.submit_application(&alice).await;
    c.wait_for_decision_wait(&url, &alice).await;

    let b_url = decide(&c, &carol, "granted", "well argued").await;
    wait_for_task(&c, &url, &alice, "ConfirmGrant").await;
    let decision = get(&format!("{url}/data/decision"), &alice).await;
    assert_eq!(
        decision,
        json!({"decision": "granted", "comment": "well argued", "from": "acme/grant-case"})
    );
    // B ended at its message end event once A had the message.
    let b = wait_for_end(&b_url, &carol, "B to end").await;
    assert_eq!(b["endEvent"], "Decided");
    let sent = sent_message(&b_url, &carol).await;
    assert_eq!(sent["outcome"], "correlated", "{sent:#}");
    assert_eq!(sent["instanceId"], instance_id(&url).as_str());
    assert_eq!(sent["name"], "caseDecided");

    let r = http()
        .put(format!("{url}/process/next"))
        .bearer_auth(&alice)
        .json(&json!({"action": "confirm"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let a = wait_for_end(&url, &alice, "A to end").await;
    assert_eq!(a["endEvent"], "End");
    assert_eq!(correlations(&url, &alice).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_a_ends_with_the_reason_recorded() {
    let mut c = Cluster::round_trip();
    c.start_authority();
    c.start_b();
    c.start_a(&[]);
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    let url = c.submit_application(&alice).await;
    c.wait_for_decision_wait(&url, &alice).await;
    decide(&c, &carol, "refused", "the budget for this year is spent").await;
    let a = wait_for_end(&url, &alice, "A to end").await;
    assert_eq!(a["endEvent"], "EndRefused");
    let decision = get(&format!("{url}/data/decision"), &alice).await;
    assert_eq!(decision["decision"], "refused");
    assert_eq!(decision["comment"], "the budget for this year is spent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_killed_after_a_correlated_redelivers_the_same_message_id_and_a_moves_once() {
    let mut c = Cluster::round_trip();
    c.start_authority();
    c.start_b_with(&[("FLYT_FAILPOINT", "send_message.after_response")]);
    c.start_a(&[]);
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    let url = c.submit_application(&alice).await;
    c.wait_for_decision_wait(&url, &alice).await;
    decide(&c, &carol, "granted", "fine").await;
    // B dies right after A answered (A has correlated), before B recorded the delivery.
    eventually("B to die at the fail point", WAIT, || async {
        let dead = http()
            .get(format!("{}/health/live", c.b_url()))
            .send()
            .await
            .is_err();
        dead.then_some(())
    })
    .await;
    assert!(
        c.b.as_ref()
            .unwrap()
            .log_text()
            .contains("failpoint `send_message.after_response` hit")
    );
    wait_for_task(&c, &url, &alice, "ConfirmGrant").await;
    // B restarts on the same data: the job is retried with the same messageId; A answers the
    // first answer again and moves nothing.
    c.b.take();
    c.start_b();
    let cases = c.b_instances(&carol).await;
    let b_url = format!(
        "{}/acme/grant-case/instances/{}",
        c.b_url(),
        cases[0]["id"].as_str().unwrap()
    );
    let b = wait_for_end(&b_url, &carol, "B to end after the redelivery").await;
    assert_eq!(b["endEvent"], "Decided");
    let sent = sent_message(&b_url, &carol).await;
    assert_eq!(
        sent["outcome"], "correlated",
        "the first answer, repeated: {sent:#}"
    );
    assert_eq!(
        correlations(&url, &alice).await,
        1,
        "exactly one correlation in A"
    );
    assert_eq!(
        wait_for_task(&c, &url, &alice, "ConfirmGrant").await["currentTask"]["elementId"],
        "ConfirmGrant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_during_the_delivery_gets_the_message_once_when_it_is_back() {
    let mut c = Cluster::round_trip();
    c.start_authority();
    c.start_b();
    c.start_a(&[]);
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    let url = c.submit_application(&alice).await;
    c.wait_for_decision_wait(&url, &alice).await;
    // A is killed (SIGKILL); B's delivery fails to connect and is retried with backoff.
    c.a.as_mut().unwrap().kill();
    let b_url = decide(&c, &carol, "granted", "fine").await;
    let retried = eventually("B to retry the delivery", WAIT, || async {
        let p = get(&format!("{b_url}/process"), &carol).await;
        let job = &p["currentTask"]["job"];
        (job["attempts"].as_u64().unwrap_or(0) >= 1).then(|| p.clone())
    })
    .await;
    assert!(retried["ended"].is_null());
    c.a.take();
    c.start_a(&[]);
    wait_for_end(&b_url, &carol, "B to end once A is back").await;
    wait_for_task(&c, &url, &alice, "ConfirmGrant").await;
    assert_eq!(
        correlations(&url, &alice).await,
        1,
        "exactly one correlation in A"
    );
}
