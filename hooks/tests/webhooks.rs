//! Webhook deliveries and vetoes against a real receiver on loopback: the signature (checked
//! here with the HMAC computed independently), the headers, and what each answer means.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flyt_hooks::webhooks::{WebhookDelivery, WebhookSecret, WebhookVeto, classify, sign};
use flyt_hooks::{HookError, ServiceTaskOutcome};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "a shared secret";

/// A scripted answer: status, headers, body.
type Answer = (u16, Vec<(&'static str, &'static str)>, String);

/// What the receiver got, and what it answers next.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<(HeaderMap, Bytes)>>,
    answer: Mutex<Answer>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    r.got.lock().push((headers, body));
    let (status, headers, body) = r.answer.lock().clone();
    let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
    for (k, v) in headers {
        response
            .headers_mut()
            .insert(k, HeaderValue::from_static(v));
    }
    response
}

async fn hang() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

/// A receiver on 127.0.0.1:0: `/` answers as scripted, `/hang` never answers.
async fn receiver() -> (String, Arc<Receiver>) {
    let r = Arc::new(Receiver::default());
    *r.answer.lock() = (204, Vec::new(), String::new());
    let app = axum::Router::new()
        .route("/", axum::routing::post(receive))
        .route("/hang", axum::routing::post(hang))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, r)
}

fn event() -> Value {
    json!({
        "specversion": "1.0",
        "id": "3f2c7a54-0b1e-4c3d-9a8b-1c2d3e4f5a6b:4",
        "source": "/ttd/approval/instances/1/3f2c7a54-0b1e-4c3d-9a8b-1c2d3e4f5a6b",
        "type": "flyt.task.ended",
        "subject": "Fill",
        "time": "2025-01-01T12:00:00Z",
        "datacontenttype": "application/json",
        "data": {"instanceId": "1/3f2c7a54-0b1e-4c3d-9a8b-1c2d3e4f5a6b", "note": "æøå \"quoted\""}
    })
}

fn secret() -> WebhookSecret {
    WebhookSecret::new(SECRET).unwrap()
}

/// The receiver's side of Standard Webhooks, written from the spec with `hmac` directly.
fn verify(key: &[u8], headers: &HeaderMap, body: &[u8]) {
    let h = |n: &str| headers[n].to_str().unwrap().to_string();
    let (id, ts) = (h("webhook-id"), h("webhook-timestamp"));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(h("webhook-signature"), expected);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (ts.parse::<i64>().unwrap() - now).abs() <= 5,
        "{ts} vs {now}"
    );
}

#[tokio::test]
async fn a_delivery_is_the_event_signed_over_its_exact_bytes() {
    let (url, r) = receiver().await;
    let delivery = WebhookDelivery::new(&url, secret(), Duration::from_secs(5)).unwrap();
    assert_eq!(delivery.deliver(&event()).await, ServiceTaskOutcome::done());
    let got = r.got.lock().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    verify(SECRET.as_bytes(), headers, body);
    let id = event()["id"].as_str().unwrap().to_string();
    assert_eq!(headers["content-type"], "application/cloudevents+json");
    assert_eq!(headers["ce-id"], id.as_str());
    assert_eq!(headers["webhook-id"], id.as_str());
    assert_eq!(serde_json::from_slice::<Value>(body).unwrap(), event());
    // A changed byte breaks the signature.
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{id}.{}.", headers["webhook-timestamp"].to_str().unwrap()).as_bytes());
    mac.update(&tampered);
    let sig = headers["webhook-signature"].to_str().unwrap();
    assert_ne!(
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())),
        sig
    );
}

#[tokio::test]
async fn whsec_secrets_are_base64_keys_and_secrets_never_show() {
    let key = b"\x00\x01binary key\xff";
    let secret = WebhookSecret::new(&format!("whsec_{}", STANDARD.encode(key))).unwrap();
    let (url, r) = receiver().await;
    let delivery = WebhookDelivery::new(&url, secret.clone(), Duration::from_secs(5)).unwrap();
    assert_eq!(delivery.deliver(&event()).await, ServiceTaskOutcome::done());
    let (headers, body) = r.got.lock()[0].clone();
    verify(key, &headers, &body);
    assert_eq!(
        sign(&secret, "id", 1, b"{}"),
        sign(&secret, "id", 1, b"{}"),
        "deterministic"
    );
    assert_ne!(sign(&secret, "id", 1, b"{}"), sign(&secret, "id", 2, b"{}"));
    assert!(WebhookSecret::new("").is_err());
    assert!(WebhookSecret::new("whsec_not base64!").is_err());
    for shown in [
        format!("{secret:?}"),
        format!("{delivery:?}"),
        format!("{:?}", WebhookSecret::new(SECRET).unwrap()),
    ] {
        assert!(
            !shown.contains(SECRET) && !shown.contains("binary"),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn answers_are_classified_retry_or_permanent() {
    let (url, r) = receiver().await;
    let delivery = WebhookDelivery::new(&url, secret(), Duration::from_secs(5)).unwrap();
    let retryable = |o: &ServiceTaskOutcome| {
        matches!(
            o,
            ServiceTaskOutcome::Failed {
                retryable: true,
                ..
            }
        )
    };
    let permanent = |o: &ServiceTaskOutcome| {
        matches!(
            o,
            ServiceTaskOutcome::Failed {
                retryable: false,
                ..
            }
        )
    };
    let cases = vec![
        (200, vec![], "done"),
        (202, vec![], "done"),
        (408, vec![], "retry"),
        (429, vec![], "retry"),
        (500, vec![], "retry"),
        (503, vec![], "retry"),
        (400, vec![], "permanent"),
        (404, vec![], "permanent"),
        (410, vec![], "permanent"),
        (301, vec![("location", "http://127.0.0.1:9/")], "permanent"),
    ];
    for (status, headers, expected) in cases {
        *r.answer.lock() = (status, headers, String::new());
        let outcome = delivery.deliver(&event()).await;
        let ok = match expected {
            "done" => outcome == ServiceTaskOutcome::done(),
            "retry" => retryable(&outcome),
            _ => permanent(&outcome),
        };
        assert!(ok, "{status}: {outcome:?}");
    }
    // A redirect was not followed: every request reached the receiver, none went elsewhere.
    assert_eq!(r.got.lock().len(), 10);
    *r.answer.lock() = (429, vec![("retry-after", "7")], String::new());
    assert!(matches!(
        delivery.deliver(&event()).await,
        ServiceTaskOutcome::RetryAfter { after, .. } if after == Duration::from_secs(7)
    ));
    assert!(retryable(&classify(
        429,
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    )));
    // Nobody listening, and a receiver that does not answer in time: retried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let d = WebhookDelivery::new(gone, secret(), Duration::from_secs(5)).unwrap();
    assert!(retryable(&d.deliver(&event()).await));
    let d =
        WebhookDelivery::new(format!("{url}/hang"), secret(), Duration::from_millis(200)).unwrap();
    let outcome = d.deliver(&event()).await;
    assert!(retryable(&outcome), "{outcome:?}");
}

fn rejected(result: Result<(), HookError>) -> Vec<flyt_hooks::Issue> {
    match result {
        Err(HookError::Rejected(issues)) => issues,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_veto_refuses_with_its_issues_and_fails_closed_or_open() {
    let (url, r) = receiver().await;
    let closed = WebhookVeto::new(&url, secret(), Duration::from_secs(5), false).unwrap();
    let open = WebhookVeto::new(&url, secret(), Duration::from_secs(5), true).unwrap();
    let refusal =
        json!({"allow": false, "issues": [{"field": "claim.amount", "message": "too much"}]});
    *r.answer.lock() = (200, vec![], refusal.to_string());
    let issues = rejected(closed.ask(&event()).await);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].field.as_deref(), Some("claim.amount"));
    assert_eq!(issues[0].message, "too much");
    // The question is signed like a delivery.
    let (headers, body) = r.got.lock()[0].clone();
    verify(SECRET.as_bytes(), &headers, &body);
    // 2xx without `allow: false` allows; 409 and 422 refuse, with a default issue if none given.
    for allow in ["", "{}", r#"{"allow": true}"#, "not json"] {
        *r.answer.lock() = (200, vec![], allow.to_string());
        assert_eq!(closed.ask(&event()).await, Ok(()), "{allow}");
    }
    *r.answer.lock() = (422, vec![], String::new());
    assert_eq!(rejected(closed.ask(&event()).await).len(), 1);
    *r.answer.lock() = (409, vec![], refusal.to_string());
    assert_eq!(
        rejected(open.ask(&event()).await)[0].message,
        "too much",
        "a refusal is a refusal even when failing open"
    );
    // Errors: refused when failing closed, allowed when failing open.
    *r.answer.lock() = (500, vec![], String::new());
    let issues = rejected(closed.ask(&event()).await);
    assert_eq!(issues[0].code.as_deref(), Some("veto-unavailable"));
    assert_eq!(open.ask(&event()).await, Ok(()));
    let hang = format!("{url}/hang");
    let slow_closed = WebhookVeto::new(&hang, secret(), Duration::from_millis(200), false).unwrap();
    let slow_open = WebhookVeto::new(&hang, secret(), Duration::from_millis(200), true).unwrap();
    let issues = rejected(slow_closed.ask(&event()).await);
    assert!(issues[0].message.contains("in time"), "{issues:?}");
    assert_eq!(slow_open.ask(&event()).await, Ok(()));
}
