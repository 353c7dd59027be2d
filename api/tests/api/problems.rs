//! Every error answer is problem+json, as the README promises: axum's own 405 (with `Allow`
//! kept), path rejections, the nested `/authority` router, and the request-head limits (414,
//! 431), which flyt enforces itself below hyper's outer bounds. The head limits are also checked
//! over real TCP against `Flyt::serve`, where hyper parses the request: below its outer bounds
//! the answer is flyt's problem+json; past them it is hyper's bare status line (documented in
//! RELIABILITY.md).

use crate::support::*;
use axum::http::{Method, StatusCode};
use flyt_api::server::ServerBuilder;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A problem+json answer with this status and code, whose `detail` says something.
fn is_problem(r: &Response, status: StatusCode, code: &str) {
    refused(r, status, code);
    assert_eq!(
        r.body["type"],
        format!("https://flyt.invalid/problems/{code}"),
        "{}",
        r.text
    );
    assert_eq!(
        r.body["title"],
        status.canonical_reason().unwrap(),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn method_not_allowed_is_problem_json_and_keeps_allow() {
    let s = Server::start().await;
    let path = s.claim(ALICE, 10).await;
    let alice = s.user(ALICE);
    let r = s.call(Method::PATCH, &path, Some(&alice), None).await;
    is_problem(&r, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    let allow = r.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("DELETE"), "{allow}");
    assert!(
        r.body["detail"].as_str().unwrap().contains("PATCH"),
        "{}",
        r.text
    );
    // The nested development authority too.
    let r = s.call(Method::GET, "/authority/token", None, None).await;
    is_problem(&r, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    assert!(r.headers["allow"].to_str().unwrap().contains("POST"));
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_a_problem_json_400() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let designer = s.user_with(ALICE, &[], &["flyt:designer"]);
    for (uri, token) in [
        ("/%FF/approval/instances", &alice),
        ("/ttd/%C3%28/process/definition", &designer),
        ("/ttd/approval/instances/%FF/x/process", &alice),
    ] {
        let r = s.call(Method::GET, uri, Some(token), None).await;
        is_problem(&r, StatusCode::BAD_REQUEST, "bad-request");
        assert!(
            r.body["detail"].as_str().unwrap().contains("UTF-8"),
            "{uri}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn oauth_errors_of_the_authority_stay_rfc_6749_json() {
    let s = Server::start().await;
    let r = s
        .send(
            Method::POST,
            "/authority/token",
            None,
            Some(b"grant_type=x".to_vec()),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body["error"], "invalid_request", "{}", r.text);
}

#[tokio::test]
async fn head_limits_are_problem_json_in_process() {
    let s = Server::with(|c| {
        c.limits.max_uri_bytes = 100;
        c.limits.max_headers = 10;
        c.limits.max_header_bytes = 1000;
    })
    .await;
    let at_limit = format!("/health/live?{}", "a".repeat(100 - "/health/live?".len()));
    let r = s.call(Method::GET, &at_limit, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let over = format!("{at_limit}a");
    let r = s.call(Method::GET, &over, None, None).await;
    is_problem(&r, StatusCode::URI_TOO_LONG, "uri-too-long");
    assert!(r.body["detail"].as_str().unwrap().contains("max_uri_bytes"));
    // The authority is behind the same limits.
    let r = s
        .call(
            Method::GET,
            &format!("/authority/jwks?{}", "a".repeat(100)),
            None,
            None,
        )
        .await;
    is_problem(&r, StatusCode::URI_TOO_LONG, "uri-too-long");

    let names: Vec<String> = (0..11).map(|i| format!("x-h{i}")).collect();
    let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let r = s
        .send(Method::GET, "/health/live", None, None, &headers[..10])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s
        .send(Method::GET, "/health/live", None, None, &headers)
        .await;
    is_problem(
        &r,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "header-fields-too-large",
    );
    assert!(r.body["detail"].as_str().unwrap().contains("max_headers"));

    // 1,000 bytes: `x-big: ` + value + line end.
    let value = "v".repeat(1000 - "x-big".len() - 4);
    let r = s
        .send(
            Method::GET,
            "/health/live",
            None,
            None,
            &[("x-big", &value)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let value = format!("{value}v");
    let r = s
        .send(
            Method::GET,
            "/health/live",
            None,
            None,
            &[("x-big", &value)],
        )
        .await;
    is_problem(
        &r,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "header-fields-too-large",
    );
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("max_header_bytes")
    );
}

/// `Flyt::serve` on a loopback port with the default limits; stops when the test ends.
async fn serve() -> (String, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let flyt = ServerBuilder::new(config(dir.path()))
        .without_worker()
        .build(addr)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(flyt.serve(listener, async move {
        let _ = stopped.await;
    }));
    (addr.to_string(), stop, dir)
}

/// An answer read off the wire.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn problem(&self) -> Value {
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{}",
            self.head
        );
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Sends `target` with `headers` as one HTTP/1.1 request and reads the answer to the end
/// (`Connection: close`). The write runs beside the read: hyper may answer before it has read
/// everything.
async fn raw(addr: &str, target: &str, headers: &[(String, String)]) -> Raw {
    let mut request = format!("GET {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = write.write_all(request.as_bytes()).await;
        write
    });
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut bytes))
        .await
        .expect("the server answered within 10 s")
        .unwrap();
    drop(writer.await);
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    Raw {
        status,
        head,
        body: bytes[split + 4..].to_vec(),
    }
}

fn many_headers(n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("x-h{i}"), "v".into())).collect()
}

#[tokio::test]
async fn over_real_tcp_head_limits_are_problem_json_up_to_hypers_outer_bounds() {
    let (addr, _stop, _dir) = serve().await;
    let target = |len: usize| format!("/health/live?{}", "a".repeat(len - "/health/live?".len()));

    let r = raw(&addr, &target(8 * 1024), &[]).await;
    assert_eq!(r.status, 200, "{}", r.head);
    for len in [8 * 1024 + 1, 20_000, 65_534] {
        let r = raw(&addr, &target(len), &[]).await;
        assert_eq!(r.status, 414, "{len}: {}", r.head);
        assert_eq!(r.problem()["code"], "uri-too-long", "{len}");
    }
    // Past hyper's fixed limit, hyper answers by itself: a bare status line (RELIABILITY.md).
    let r = raw(&addr, &target(65_535), &[]).await;
    assert_eq!(r.status, 414, "{}", r.head);
    assert!(r.body.is_empty());

    // The request itself sends `host` and `connection`.
    let r = raw(&addr, "/health/live", &many_headers(98)).await;
    assert_eq!(r.status, 200, "{}", r.head);
    for n in [99, 150, 397] {
        let r = raw(&addr, "/health/live", &many_headers(n)).await;
        assert_eq!(r.status, 431, "{n}: {}", r.head);
        assert_eq!(r.problem()["code"], "header-fields-too-large", "{n}");
    }
    let r = raw(&addr, "/health/live", &many_headers(399)).await;
    assert_eq!(r.status, 431, "{}", r.head);
    assert!(r.body.is_empty(), "past hyper's outer bound of 400 fields");

    for size in [64 * 1024 + 1, 100 * 1024, 250 * 1024] {
        let r = raw(&addr, "/health/live", &[("x-big".into(), "v".repeat(size))]).await;
        assert_eq!(r.status, 431, "{size}: {}", r.head);
        let problem = r.problem();
        assert_eq!(problem["code"], "header-fields-too-large", "{size}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("max_header_bytes")
        );
    }

    let r = raw(&addr, "/authority/token", &[]).await;
    assert_eq!(r.status, 405, "{}", r.head);
    assert!(
        r.head.to_ascii_lowercase().contains("allow: post"),
        "{}",
        r.head
    );
    assert_eq!(r.problem()["code"], "method-not-allowed");
}

#[tokio::test]
async fn every_answer_names_its_request_and_problems_repeat_it() {
    let s = Server::start().await;
    // A fresh id per request, in the header and in the problem body.
    let a = s
        .call(Method::GET, "/ttd/approval/instances", None, None)
        .await;
    let b = s
        .call(Method::GET, "/ttd/approval/instances", None, None)
        .await;
    let id = a.headers["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, b.headers["x-request-id"].to_str().unwrap());
    assert_eq!(a.body["requestId"], id.as_str(), "{}", a.text);
    // Problems made outside ApiError (axum's 405) carry it too.
    let r = s.call(Method::PATCH, "/health/live", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.body["requestId"],
        r.headers["x-request-id"].to_str().unwrap()
    );
    // A client's plausible id is kept; anything else is replaced.
    let r = s
        .send(
            Method::GET,
            "/health/live",
            None,
            None,
            &[("x-request-id", "client-42")],
        )
        .await;
    assert_eq!(r.headers["x-request-id"], "client-42");
    let r = s
        .send(
            Method::GET,
            "/health/live",
            None,
            None,
            &[("x-request-id", "<b>no</b>")],
        )
        .await;
    assert_ne!(r.headers["x-request-id"], "<b>no</b>");
}
