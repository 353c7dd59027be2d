//! Every route that reads a body refuses one over its limit with 413 problem+json: from its
//! `Content-Length` before a byte of it is read, and, without `Content-Length`, as soon as the
//! stream crosses the limit. The handler never runs: the instance, its data, the definition and
//! the instance list are unchanged. A body that arrives too slowly is cut off with 408.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tower::ServiceExt;

const JSON_LIMIT: usize = 1024;
const BPMN_LIMIT: usize = 2048;
/// The development authority's own limit on token requests.
const AUTHORITY_LIMIT: usize = 64 * 1024;
const CHUNK: usize = 1024;

/// A route that reads a body, as called here.
struct Route {
    /// As in `/openapi.json` (`None` for the authority's routes, which are not in it).
    documented: Option<(&'static str, &'static str)>,
    method: Method,
    uri: String,
    token: Option<String>,
    content_type: &'static str,
    limit: usize,
}

/// `chunks` chunks of 1 KiB, counting how many were read.
fn counted(chunks: usize, reads: Arc<AtomicUsize>) -> Body {
    Body::from_stream(futures::stream::iter(0..chunks).map(move |_| {
        reads.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from(vec![b' '; CHUNK]))
    }))
}

async fn send(s: &Server, route: &Route, body: Body, content_length: Option<usize>) -> Response {
    let mut req = Request::builder()
        .method(route.method.clone())
        .uri(&route.uri)
        .header("content-type", route.content_type);
    if let Some(t) = &route.token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(len) = content_length {
        req = req.header("content-length", len.to_string());
    }
    let res = s
        .flyt
        .router()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Response {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text,
    }
}

/// Everything a refused request must leave alone.
async fn snapshot(s: &Server, path: &str) -> Vec<Value> {
    let alice = s.user(ALICE);
    let designer = s.user_with(ALICE, &[], &["flyt:designer"]);
    let instance = s.call(Method::GET, path, Some(&alice), None).await.body;
    let data = s
        .call(
            Method::GET,
            &format!("{path}/data/claim"),
            Some(&alice),
            None,
        )
        .await
        .body;
    let list = s
        .call(Method::GET, "/ttd/approval/instances", Some(&alice), None)
        .await
        .body;
    let r = s
        .call(
            Method::GET,
            "/ttd/approval/process/definition",
            Some(&designer),
            None,
        )
        .await;
    let version = json!(r.headers["x-definition-version"].to_str().unwrap());
    vec![instance, data, list, version]
}

#[tokio::test]
async fn every_route_with_a_body_refuses_an_oversized_one_with_413_before_reading_it() {
    let s = Server::with(|c| {
        c.limits.json_body_bytes = JSON_LIMIT;
        c.limits.bpmn_body_bytes = BPMN_LIMIT;
    })
    .await;
    let path = s.claim(ALICE, 50).await;
    let alice = s.user(ALICE);
    let designer = s.user_with(ALICE, &[], &["flyt:designer"]);
    let worker = s.org(ACME_ORGNO, Some("acme"), &["flyt:jobs"]);
    let json = "application/json";
    let xml = "application/xml";
    let route = |documented, method: Method, uri: String, token: &str, ct, limit| Route {
        documented: Some(documented),
        method,
        uri,
        token: Some(token.to_string()),
        content_type: ct,
        limit,
    };
    let routes = vec![
        route(
            ("post", "/{org}/{app}/instances"),
            Method::POST,
            "/ttd/approval/instances".into(),
            &alice,
            json,
            JSON_LIMIT,
        ),
        route(
            ("post", "/{org}/{app}/instances/create"),
            Method::POST,
            "/ttd/approval/instances/create".into(),
            &alice,
            json,
            JSON_LIMIT,
        ),
        route(
            (
                "put",
                "/{org}/{app}/instances/{party_id}/{instance_guid}/process/next",
            ),
            Method::PUT,
            format!("{path}/process/next"),
            &alice,
            json,
            JSON_LIMIT,
        ),
        route(
            (
                "post",
                "/{org}/{app}/instances/{party_id}/{instance_guid}/actions",
            ),
            Method::POST,
            format!("{path}/actions"),
            &alice,
            json,
            JSON_LIMIT,
        ),
        route(
            (
                "put",
                "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}",
            ),
            Method::PUT,
            format!("{path}/data/claim"),
            &alice,
            json,
            JSON_LIMIT,
        ),
        route(
            ("put", "/{org}/{app}/process/definition"),
            Method::PUT,
            "/ttd/approval/process/definition".into(),
            &designer,
            xml,
            BPMN_LIMIT,
        ),
        route(
            ("post", "/{org}/{app}/process/definition/validate"),
            Method::POST,
            "/ttd/approval/process/definition/validate".into(),
            &designer,
            xml,
            BPMN_LIMIT,
        ),
        route(
            ("post", "/jobs/activate"),
            Method::POST,
            "/jobs/activate".into(),
            &worker,
            json,
            JSON_LIMIT,
        ),
        // A malformed key would be 400 if the handler ran: 413 shows it did not.
        route(
            ("post", "/jobs/{key}/complete"),
            Method::POST,
            "/jobs/not-a-key/complete".into(),
            &worker,
            json,
            JSON_LIMIT,
        ),
        route(
            ("post", "/jobs/{key}/fail"),
            Method::POST,
            "/jobs/not-a-key/fail".into(),
            &worker,
            json,
            JSON_LIMIT,
        ),
        route(
            ("post", "/{org}/{app}/messages"),
            Method::POST,
            "/ttd/approval/messages".into(),
            &worker,
            json,
            JSON_LIMIT,
        ),
        route(
            ("post", "/{org}/{app}/signals"),
            Method::POST,
            "/ttd/approval/signals".into(),
            &worker,
            json,
            JSON_LIMIT,
        ),
        Route {
            documented: None,
            method: Method::POST,
            uri: "/authority/token".into(),
            token: None,
            content_type: "application/x-www-form-urlencoded",
            limit: AUTHORITY_LIMIT,
        },
        Route {
            documented: None,
            method: Method::POST,
            uri: "/authority/user-token".into(),
            token: None,
            content_type: json,
            limit: AUTHORITY_LIMIT,
        },
    ];

    // The list is complete: every documented operation with a request body is in it.
    let doc = s.call(Method::GET, "/openapi.json", None, None).await.body;
    for (path_template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // File uploads stream to disk under their data type's own limit, not these: the
            // same two refusals (Content-Length over it: nothing read; streamed: cut off at it)
            // are `files::a_30_mb_upload_is_refused_without_buffering`.
            let upload = op["requestBody"]["content"].get("*/*").is_some();
            if op.get("requestBody").is_some() && !upload {
                assert!(
                    routes
                        .iter()
                        .any(|r| r.documented == Some((method.as_str(), path_template.as_str()))),
                    "{method} {path_template} takes a body but is not tested here"
                );
            }
        }
    }

    let before = snapshot(&s, &path).await;
    for route in &routes {
        let what = format!("{} {}", route.method, route.uri);
        // Announced by Content-Length: refused before any of the body is read.
        let reads = Arc::new(AtomicUsize::new(0));
        let chunks = route.limit / CHUNK + 2;
        let r = send(
            &s,
            route,
            counted(chunks, reads.clone()),
            Some(route.limit + 1),
        )
        .await;
        refused(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");
        assert!(
            r.text.contains(&route.limit.to_string()),
            "{what}: the limit is named: {}",
            r.text
        );
        assert_eq!(
            reads.load(Ordering::SeqCst),
            0,
            "{what}: the body was read although Content-Length was over the limit"
        );
        // Streamed without Content-Length: cut off once past the limit, not read to its end.
        let reads = Arc::new(AtomicUsize::new(0));
        let chunks = route.limit / CHUNK * 8 + 8;
        let r = send(&s, route, counted(chunks, reads.clone()), None).await;
        refused(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");
        let read = reads.load(Ordering::SeqCst);
        assert!(
            read <= route.limit / CHUNK + 2,
            "{what}: read {read} of {chunks} chunks of an oversized body"
        );
    }
    assert_eq!(
        before,
        snapshot(&s, &path).await,
        "a refused body changed something"
    );
}

#[tokio::test]
async fn a_body_at_the_limit_is_accepted() {
    let s = Server::with(|c| c.limits.json_body_bytes = JSON_LIMIT).await;
    let path = s.claim(ALICE, 50).await;
    let alice = s.user(ALICE);
    let mut body = json!({"amount": 7}).to_string();
    body.push_str(&" ".repeat(JSON_LIMIT - body.len()));
    assert_eq!(body.len(), JSON_LIMIT);
    let r = s
        .send(
            Method::PUT,
            &format!("{path}/data/claim"),
            Some(&alice),
            Some(body.into_bytes()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_slow_body_is_cut_off_with_408_and_changes_nothing() {
    let s = Server::with(|c| c.limits.request_timeout_ms = 300).await;
    let alice = s.user(ALICE);
    // One byte, then nothing more: a client that stalls mid-body.
    let stalled =
        futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"{")) })
            .chain(futures::stream::pending());
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ttd/approval/instances")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "application/json")
        .header("content-length", "100")
        .body(Body::from_stream(stalled))
        .unwrap();
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(5), s.flyt.router().oneshot(req))
        .await
        .expect("the request timeout answers a stalled body")
        .unwrap();
    let took = started.elapsed();
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(
        took >= Duration::from_millis(250),
        "answered after {took:?}"
    );
    let r = s
        .call(Method::GET, "/ttd/approval/instances", Some(&alice), None)
        .await;
    assert_eq!(r.body["instances"], json!([]), "nothing was created");
}
