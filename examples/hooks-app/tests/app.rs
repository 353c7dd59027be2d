//! The example server in-process (its router, with the job worker running), driven over HTTP
//! with tokens from its development authority: every decision the `shop/orders` app needs is
//! made by the example's Rust hooks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use flyt_api::config::ServerConfig;
use flyt_api::server::{Flyt, ServerBuilder, StartError};
use flyt_engine::ids::AppId;
use flyt_engine::store::open::BackendKind;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tower::ServiceExt;

const CUSTOMER: &str = "01017012345";

struct Server {
    flyt: Flyt,
    token: String,
    _dir: tempfile::TempDir,
}

fn config(dir: &std::path::Path) -> ServerConfig {
    let mut config = ServerConfig::development();
    config.processes_dir = flyt_example_hooks::processes_dir();
    config.storage.backend = BackendKind::Memory;
    config.storage.data_dir = dir.to_path_buf();
    // The example makes no outgoing calls: no organisation client key to generate.
    config.outgoing.organisation_number = None;
    config
}

fn addr() -> std::net::SocketAddr {
    "127.0.0.1:8080".parse().unwrap()
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let app: AppId = flyt_example_hooks::APP.parse().unwrap();
        let flyt = ServerBuilder::new(config(dir.path()))
            .registry(|r| flyt_example_hooks::register(r, &app))
            .build(addr())
            .await
            .unwrap();
        let mut server = Server {
            flyt,
            token: String::new(),
            _dir: dir,
        };
        let (status, body) = server
            .call(
                Method::POST,
                "/authority/user-token",
                Some(json!({ "pid": CUSTOMER })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        server.token = body["access_token"].as_str().unwrap().to_string();
        server
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if !self.token.is_empty() {
            req = req.header("authorization", format!("Bearer {}", self.token));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        let res = self.flyt.router().oneshot(req.unwrap()).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Creates an order; returns the instance's path.
    async fn order(&self, lines: Value) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/shop/orders/instances",
                Some(json!({ "data": { "order": { "customer": "Kari", "lines": lines } } })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        format!("/shop/orders/instances/{}", body["id"].as_str().unwrap())
    }

    async fn data(&self, instance: &str, data_type: &str) -> Value {
        let (status, body) = self
            .call(Method::GET, &format!("{instance}/data/{data_type}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn process(&self, instance: &str) -> Value {
        self.call(Method::GET, &format!("{instance}/process"), None)
            .await
            .1
    }

    async fn next(&self, instance: &str) -> (StatusCode, Value) {
        self.call(Method::PUT, &format!("{instance}/process/next"), None)
            .await
    }

    /// Waits (yielding to the job worker, never sleeping) until the process has ended.
    async fn ended(&self, instance: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let process = self.process(instance).await;
            if process["ended"].is_string() {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not end: {process}"
            );
            tokio::task::yield_now().await;
        }
    }
}

fn line(quantity: i64, unit_price: i64) -> Value {
    json!({ "sku": "BOLT-8", "quantity": quantity, "unitPrice": unit_price })
}

fn current(process: &Value) -> &str {
    process["currentTask"]["elementId"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_total_is_computed_at_creation_and_on_every_write() {
    let s = Server::start().await;
    let order = s.order(json!([line(2, 100)])).await;
    assert_eq!(s.data(&order, "order").await["total"], 200);
    let (status, body) = s
        .call(
            Method::PUT,
            &format!("{order}/data/order"),
            Some(json!({ "lines": [line(2, 100), line(1, 55)] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.data(&order, "order").await["total"], 255);
}

#[tokio::test]
async fn an_order_over_the_credit_limit_is_refused_with_a_field_issue_and_nothing_changes() {
    let s = Server::start().await;
    let order = s.order(json!([line(60, 1_000)])).await;
    let before = (s.process(&order).await, s.data(&order, "order").await);
    let (status, body) = s.next(&order).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "validation-failed");
    assert_eq!(body["issues"][0]["field"], "order.total");
    assert_eq!(body["issues"][0]["code"], "over-credit-limit");
    assert!(
        body["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("60000")
    );
    assert_eq!(
        (s.process(&order).await, s.data(&order, "order").await),
        before
    );
    assert_eq!(current(&before.0), "Order");
}

#[tokio::test]
async fn a_small_order_is_routed_by_the_hook_straight_to_the_reservation() {
    let s = Server::start().await;
    let order = s.order(json!([line(3, 250)])).await;
    let (status, body) = s.next(&order).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(current(&body), "Reserve", "Flow_auto");
    let process = s.ended(&order).await;
    assert_eq!(process["endEvent"], "End");
    let reservation = s.data(&order, "reservation").await;
    assert_eq!(reservation["lines"], 1);
    assert!(
        reservation["reference"]
            .as_str()
            .unwrap()
            .starts_with("RES-")
    );
}

#[tokio::test]
async fn a_large_order_is_routed_by_the_hook_to_review_first() {
    let s = Server::start().await;
    let order = s.order(json!([line(20, 1_000)])).await;
    let (status, body) = s.next(&order).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(current(&body), "Review", "Flow_review");
    let (status, body) = s.next(&order).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.ended(&order).await;
    let history = s
        .call(Method::GET, &format!("{order}/process/history"), None)
        .await
        .1;
    let text = history.to_string();
    assert!(
        text.contains("\"Review\"") && text.contains("\"Reserve\""),
        "{text}"
    );
}

#[tokio::test]
async fn the_server_action_applies_a_discount_without_moving_the_process() {
    let s = Server::start().await;
    let order = s.order(json!([line(4, 1_000)])).await;
    let (status, body) = s
        .call(
            Method::POST,
            &format!("{order}/actions"),
            Some(json!({ "action": "apply-discount" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"],
        json!({ "discountPercent": 10, "total": 3600 })
    );
    let data = s.data(&order, "order").await;
    assert_eq!(
        (data["discountPercent"].as_i64(), data["total"].as_i64()),
        (Some(10), Some(3600))
    );
    assert_eq!(
        current(&s.process(&order).await),
        "Order",
        "the process did not move"
    );
    let history = s
        .call(Method::GET, &format!("{order}/process/history"), None)
        .await
        .1;
    assert!(
        history.to_string().contains("flyt_ServerAction"),
        "{history}"
    );
}

#[tokio::test]
async fn without_the_example_hooks_the_app_does_not_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = config(dir.path());
    plain.dev_authority.enabled = false;
    let err = ServerBuilder::new(plain)
        .without_worker()
        .build(addr())
        .await
        .expect_err("a plain server cannot run the app");
    let StartError::Definitions(failed) = &err else {
        panic!("{err}");
    };
    let codes: Vec<(&str, Option<&str>)> = failed
        .iter()
        .flat_map(|(_, rejected)| &rejected.diagnostics)
        .filter(|d| d.is_error())
        .map(|d| (d.code.as_str(), d.element_id.as_deref()))
        .collect();
    assert!(
        codes.contains(&("undecidable-gateway", Some("Route"))),
        "{codes:?}\n{err}"
    );
}
