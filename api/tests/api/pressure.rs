//! Body limits, timeouts, the concurrency limit and rate limiting.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt;

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let s = Server::with(|c| {
        c.limits.json_body_bytes = 1024;
        c.limits.bpmn_body_bytes = 2048;
    })
    .await;
    let alice = s.user(ALICE);
    let big = format!(
        "{{\"data\":{{\"claim\":{{\"description\":\"{}\"}}}}}}",
        "x".repeat(5000)
    )
    .into_bytes();
    refused(
        &s.send(
            Method::POST,
            "/ttd/approval/instances",
            Some(&alice),
            Some(big.clone()),
            &[],
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    );
    let path = s.claim(ALICE, 1).await;
    refused(
        &s.send(
            Method::PUT,
            &format!("{path}/data/claim"),
            Some(&alice),
            Some(big),
            &[],
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    );
    let designer = s.org("974760673", Some("ttd"), &[]);
    let bpmn = vec![b' '; 4096];
    refused(
        &s.send(
            Method::PUT,
            "/ttd/approval/process/definition",
            Some(&designer),
            Some(bpmn),
            &[("content-type", "application/xml")],
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    );
    // A chunked body (no Content-Length) that grows past the limit is cut off while streaming.
    let chunks = futures::stream::iter(
        (0..100).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 100]))),
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ttd/approval/instances")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "application/json")
        .body(Body::from_stream(chunks))
        .unwrap();
    let res = s.flyt.router().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = Server::with(|c| {
        c.limits.rate_limit_per_second = 1;
        c.limits.rate_limit_burst = 3;
    })
    .await;
    let alice = s.user(ALICE);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            s.call(Method::GET, "/ttd/approval/instances", Some(&alice), None)
                .await,
        );
    }
    assert!(statuses[..3].iter().all(|r| r.status == StatusCode::OK));
    let limited = statuses.last().unwrap();
    refused(limited, StatusCode::TOO_MANY_REQUESTS, "rate-limited");
    assert!(
        limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Another client is not affected.
    assert_eq!(
        s.call(
            Method::GET,
            "/ttd/approval/instances",
            Some(&s.user(BOB)),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn health_and_metrics() {
    let s = Server::start().await;
    assert_eq!(
        s.call(Method::GET, "/health/live", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        s.call(Method::GET, "/health/ready", None, None)
            .await
            .status,
        StatusCode::OK
    );
    s.claim(ALICE, 1).await;
    let r = s.call(Method::GET, "/metrics", None, None).await;
    assert!(r.text.contains("flyt_transitions_total 1"), "{}", r.text);
    assert!(r.text.contains("flyt_http_requests_total{status=\"2xx\"}"));
}
