//! `.../process`, `.../process/next`, `.../process/history`, `.../process/resume`, data.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn walk_the_approval_process_over_the_api() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let path = s.claim(ALICE, 50).await;
    // The process state lists the current task's actions and the caller's rights.
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&alice), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["currentTask"]["actions"]["write"], true);
    assert_eq!(r.body["currentTask"]["read"], true);
    assert_eq!(r.body["currentTask"]["write"], true);
    // As Altinn: `read` and `write`, then the actions the task lists (this data task lists none).
    let ids: Vec<&str> = r.body["currentTask"]["userActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["read", "write"], "{}", r.text);
    assert_eq!(
        r.body["currentTask"]["actions"],
        json!({"read": true, "write": true})
    );
    // Write data, then next with the ETag.
    let r = s
        .send(
            Method::PUT,
            &format!("{path}/data/claim"),
            Some(&alice),
            Some(
                json!({"amount": 20000, "currency": "NOK"})
                    .to_string()
                    .into_bytes(),
            ),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.etag(), "\"2\"");
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/claim"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.body["amount"], 20000);
    let r = s
        .send(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&alice),
            Some(b"{}".to_vec()),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["currentTask"]["elementId"], "ManagerSign",
        "20000 > 10000 goes to the manager"
    );
    // Alice cannot sign; Carol (DAGL of 991825827) can only sign claims of that organisation.
    refused(
        &s.call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&alice),
            Some(json!({"action": "sign"})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    refused(
        &s.call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&s.carol()),
            Some(json!({"action": "sign"})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let r = s
        .call(
            Method::GET,
            &format!("{path}/process/history"),
            Some(&alice),
            None,
        )
        .await;
    let events: Vec<&str> = r.body["processHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "process_StartEvent",
            "process_StartTask",
            "process_EndTask",
            "process_StartTask"
        ]
    );
}

#[tokio::test]
async fn a_company_claim_is_signed_by_its_manager() {
    let s = Server::start().await;
    let company = s.org(GRANTS_ORG, None, &["altinn:serviceowner/instances.write"]);
    let r = s
        .call(
            Method::POST,
            "/ttd/approval/instances",
            Some(&company),
            Some(json!({"data": {"claim": {"amount": 99999}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/ttd/approval/instances/{}", r.body["id"].as_str().unwrap());
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&company),
            None,
        )
        .await;
    assert_eq!(
        r.body["currentTask"]["elementId"], "ManagerSign",
        "{}",
        r.text
    );
    let carol = s.carol();
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&carol), None)
        .await;
    assert_eq!(r.body["currentTask"]["actions"]["sign"], true, "{}", r.text);
    // Carol signs on behalf of the grants organisation, for which she holds a role; not of one
    // for which she holds none.
    refused(
        &s.call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&carol),
            Some(json!({"action": "sign", "actionOnBehalfOf": OTHER_ORG})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&carol),
            Some(json!({"action": "sign", "actionOnBehalfOf": GRANTS_ORG})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["endEvent"], "End");
    // The signature is stored: who signed, and the SHA-256 of the claim as signed.
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/signature"),
            Some(&company),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let signature = &r.body["signatures"][0];
    assert_eq!(signature["signee"]["personNumber"], CAROL, "{}", r.text);
    assert_eq!(
        signature["signee"]["onBehalfOf"]["organisationNumber"], GRANTS_ORG,
        "{}",
        r.text
    );
    assert_eq!(signature["task"], "ManagerSign");
    assert_eq!(signature["dataElementSignatures"][0]["dataType"], "claim");
    assert_eq!(
        signature["dataElementSignatures"][0]["sha256Digest"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    refused(
        &s.call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&carol),
            Some(json!({"action": "sign"})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn next_refusals() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let path = s.claim(ALICE, 50).await;
    let next = format!("{path}/process/next");
    refused(
        &s.call(Method::PUT, &next, None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    refused(
        &s.call(
            Method::PUT,
            &next,
            Some(&alice),
            Some(json!({"action": "write", "process": {}})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad-request",
    );
    refused(
        &s.send(
            Method::PUT,
            &next,
            Some(&alice),
            None,
            &[("if-match", "\"7\"")],
        )
        .await,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    );
    refused(
        &s.send(
            Method::PUT,
            &next,
            Some(&alice),
            None,
            &[("if-match", "nonsense")],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad-request",
    );
    // `confirm` is Alice's right in the policy but not an action of the data task.
    refused(
        &s.call(
            Method::PUT,
            &next,
            Some(&alice),
            Some(json!({"action": "confirm"})),
        )
        .await,
        StatusCode::CONFLICT,
        "action-not-allowed",
    );
    refused(
        &s.call(
            Method::PUT,
            &next,
            Some(&alice),
            Some(json!({"taskId": "Confirm"})),
        )
        .await,
        StatusCode::CONFLICT,
        "task-not-active",
    );
    // Required data missing: remove it by deleting? The claim exists; an amount over the limit
    // is stopped by the schema at write time instead:
    refused(
        &s.call(
            Method::PUT,
            &format!("{path}/data/claim"),
            Some(&alice),
            Some(json!({"amount": "lots"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "data-invalid",
    );
    refused(
        &s.call(
            Method::PUT,
            &format!("{path}/data/nope"),
            Some(&alice),
            Some(json!({})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    refused(
        &s.call(
            Method::GET,
            &format!("{path}/data/nope"),
            Some(&alice),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    // Finish, then move an ended process.
    s.call(Method::PUT, &next, Some(&alice), None).await;
    let r = s.call(Method::PUT, &next, Some(&alice), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    refused(
        &s.call(Method::PUT, &next, Some(&alice), None).await,
        StatusCode::CONFLICT,
        "process-ended",
    );
    refused(
        &s.call(
            Method::PUT,
            &format!("{path}/data/claim"),
            Some(&alice),
            Some(json!({"amount": 1})),
        )
        .await,
        StatusCode::CONFLICT,
        "data-not-writable",
    );
}

#[tokio::test]
async fn required_data_missing_is_a_conflict() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let r = s
        .call(
            Method::POST,
            "/ttd/approval/instances",
            Some(&alice),
            Some(json!({})),
        )
        .await;
    let path = format!("/ttd/approval/instances/{}", r.body["id"].as_str().unwrap());
    refused(
        &s.call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&alice),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "data-missing",
    );
}

#[tokio::test]
async fn resume_needs_an_incident_and_an_operator() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let path = s.claim(ALICE, 50).await;
    let resume = format!("{path}/process/resume");
    refused(
        &s.call(Method::POST, &resume, Some(&alice), None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let operator = s.org("974760673", Some("ttd"), &[]);
    refused(
        &s.call(Method::POST, &resume, Some(&operator), None).await,
        StatusCode::CONFLICT,
        "no-incident",
    );
}
