//! `/{org}/{app}/instances`.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn create_returns_201_with_location_and_etag() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let r = s
        .call(
            Method::POST,
            "/ttd/approval/instances",
            Some(&alice),
            Some(json!({"data": {"claim": {"amount": 50}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap();
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with(&format!("/ttd/approval/instances/{id}"))
    );
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.body["instanceOwner"]["personNumber"], ALICE);
    assert_eq!(r.body["process"]["currentTask"]["elementId"], "Fill");
    assert_eq!(r.body["process"]["currentTask"]["altinnTaskType"], "data");
    // The alias route does the same.
    let r = s
        .call(
            Method::POST,
            "/ttd/approval/instances/create",
            Some(&alice),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn create_refusals() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let path = "/ttd/approval/instances";
    refused(
        &s.call(Method::POST, path, None, Some(json!({}))).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    refused(
        &s.call(
            Method::POST,
            "/ttd/nope/instances",
            Some(&alice),
            Some(json!({})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    // Server-owned fields cannot be set.
    for field in ["process", "id", "version"] {
        let r = s
            .call(Method::POST, path, Some(&alice), Some(json!({ field: 1 })))
            .await;
        refused(&r, StatusCode::BAD_REQUEST, "bad-request");
        assert!(r.text.contains(field), "{}", r.text);
    }
    let r = s
        .call(
            Method::POST,
            path,
            Some(&alice),
            Some(json!({"instanceOwner": {"personNumber": "123"}})),
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    assert_eq!(r.body["issues"][0]["field"], "instanceOwner.personNumber");
    // A body is one JSON object, not an array read as "all defaults" or an object with a tail.
    for body in ["[]", r#"{} [1]"#] {
        let r = s
            .send(
                Method::POST,
                path,
                Some(&alice),
                Some(body.as_bytes().to_vec()),
                &[],
            )
            .await;
        refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    }
    let r = s
        .call(
            Method::POST,
            path,
            Some(&alice),
            Some(json!({"data": {"claim": "120"}})),
        )
        .await;
    // The data of a data type is an object (data PUT could not write anything else back).
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "data-invalid");
    assert_eq!(r.body["issues"][0]["field"], "claim", "{}", r.text);
    // Another person as owner: the policy does not let Alice instantiate for Bob.
    let r = s
        .call(
            Method::POST,
            path,
            Some(&alice),
            Some(json!({"instanceOwner": {"personNumber": BOB}})),
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    // Data that breaks the schema: 422 naming the field.
    let r = s
        .call(
            Method::POST,
            path,
            Some(&alice),
            Some(json!({"data": {"claim": {"amount": -5}}})),
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "data-invalid");
    assert!(
        r.body["issues"][0]["field"]
            .as_str()
            .unwrap()
            .contains("amount"),
        "{}",
        r.text
    );
    // Owner type not allowed (grant-application: persons only).
    let token = s.org("991825827", None, &["altinn:serviceowner/instances.write"]);
    let r = s
        .call(
            Method::POST,
            "/acme/grant-application/instances",
            Some(&token),
            Some(json!({})),
        )
        .await;
    refused(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "owner-type-not-allowed",
    );
    // An organisation token without the instantiate scope.
    let token = s.org(ACME_ORGNO, None, &[]);
    let r = s
        .call(
            Method::POST,
            "/acme/grant-case/instances",
            Some(&token),
            Some(json!({"instanceOwner": {"organisationNumber": GRANTS_ORG}})),
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "insufficient-scope");
    // Malformed JSON.
    let r = s
        .send(
            Method::POST,
            path,
            Some(&alice),
            Some(b"{not json".to_vec()),
            &[],
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
}

#[tokio::test]
async fn idempotency_key_same_body_same_instance_other_body_409() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let body = json!({"data": {"claim": {"amount": 10}}})
        .to_string()
        .into_bytes();
    let key = [("idempotency-key", "k-1")];
    let a = s
        .send(
            Method::POST,
            "/ttd/approval/instances",
            Some(&alice),
            Some(body.clone()),
            &key,
        )
        .await;
    let b = s
        .send(
            Method::POST,
            "/ttd/approval/instances",
            Some(&alice),
            Some(body),
            &key,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::CREATED);
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(b.headers["idempotent-replayed"], "true");
    let other = json!({"data": {"claim": {"amount": 11}}})
        .to_string()
        .into_bytes();
    let c = s
        .send(
            Method::POST,
            "/ttd/approval/instances",
            Some(&alice),
            Some(other),
            &key,
        )
        .await;
    refused(&c, StatusCode::CONFLICT, "idempotency-key-reused");
}

#[tokio::test]
async fn idempotency_keys_are_per_caller() {
    // Regression: keys were shared by every caller of an app, so Bob's key K made Alice's create
    // with K fail with 409 (and told Bob the key was in use).
    let s = Server::start().await;
    let key = [("idempotency-key", "shared-key")];
    let create = |token: String, amount: i64| {
        let body = json!({"data": {"claim": {"amount": amount}}})
            .to_string()
            .into_bytes();
        let s = &s;
        async move {
            s.send(
                Method::POST,
                "/ttd/approval/instances",
                Some(&token),
                Some(body),
                &key,
            )
            .await
        }
    };
    let bobs = create(s.user(BOB), 10).await;
    assert_eq!(bobs.status, StatusCode::CREATED, "{}", bobs.text);
    let alices = create(s.user(ALICE), 11).await;
    assert_eq!(alices.status, StatusCode::CREATED, "{}", alices.text);
    assert_ne!(alices.body["id"], bobs.body["id"]);
    assert!(alices.headers.get("idempotent-replayed").is_none());
    // Each one's retry replays their own instance.
    let again = create(s.user(BOB), 10).await;
    assert_eq!(again.body["id"], bobs.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let again = create(s.user(ALICE), 11).await;
    assert_eq!(again.body["id"], alices.body["id"]);
}

#[tokio::test]
async fn read_list_and_delete() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let first = s.claim(ALICE, 5).await;
    let _second = s.claim(ALICE, 6).await;
    let _bobs = s.claim(BOB, 7).await;
    let r = s.call(Method::GET, &first, Some(&alice), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.etag(), "\"1\"");
    // Lists hold only what the caller may read, paginated.
    let r = s
        .call(
            Method::GET,
            "/ttd/approval/instances?limit=1",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["instances"].as_array().unwrap().len(), 1);
    let token = r.body["continuationToken"].as_str().unwrap().to_string();
    let r = s
        .call(
            Method::GET,
            &format!("/ttd/approval/instances?limit=1&continuationToken={token}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.body["instances"].as_array().unwrap().len(), 1);
    assert!(r.body.get("continuationToken").is_none());
    // Regression: a malformed token silently gave the first page again (`garbage!!`) or an
    // empty page without a token (`AAAA`). Both are refused, naming the parameter; so is the
    // token of another owner's listing.
    let bobs_page = s
        .call(
            Method::GET,
            "/ttd/approval/instances?limit=1",
            Some(&s.user(BOB)),
            None,
        )
        .await;
    assert!(bobs_page.body.get("continuationToken").is_none());
    let other_owner = token.replacen(&token[..16], "0000000000000001", 1);
    for bad in ["garbage!!", "AAAA", "", &token[..46], &other_owner] {
        let r = s
            .call(
                Method::GET,
                &format!(
                    "/ttd/approval/instances?limit=1&continuationToken={}",
                    bad.replace('!', "%21")
                ),
                Some(&alice),
                None,
            )
            .await;
        refused(&r, StatusCode::BAD_REQUEST, "bad-request");
        assert_eq!(
            r.body["issues"][0]["field"], "continuationToken",
            "{bad}: {}",
            r.text
        );
    }
    let r = s
        .call(
            Method::GET,
            "/ttd/approval/instances?limit=1000",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        r.body["instances"].as_array().unwrap().len(),
        2,
        "Bob's claim is not listed"
    );
    refused(
        &s.call(
            Method::GET,
            "/ttd/approval/instances?limit=x",
            Some(&alice),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad-request",
    );
    // Delete with a stale If-Match: 412; then for real.
    let r = s
        .send(
            Method::DELETE,
            &first,
            Some(&alice),
            None,
            &[("if-match", "\"9\"")],
        )
        .await;
    refused(&r, StatusCode::PRECONDITION_FAILED, "precondition-failed");
    let r = s
        .send(
            Method::DELETE,
            &first,
            Some(&alice),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    refused(
        &s.call(Method::GET, &first, Some(&alice), None).await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    // Malformed ids.
    refused(
        &s.call(
            Method::GET,
            "/ttd/approval/instances/x/y",
            Some(&alice),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad-request",
    );
}
