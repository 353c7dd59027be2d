//! The `Caller` and `MaybeCaller` extractors over real HTTP.

use crate::common::*;
use axum::Json;
use axum::extract::FromRef;
use axum::routing::get;
use flyt_api::auth::{Caller, MaybeCaller, Verifier};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
struct TestState {
    verifier: Arc<Verifier>,
}

impl FromRef<TestState> for Arc<Verifier> {
    fn from_ref(state: &TestState) -> Self {
        state.verifier.clone()
    }
}

async fn me(caller: Caller) -> Json<Caller> {
    Json(caller)
}

async fn maybe(MaybeCaller(caller): MaybeCaller) -> Json<Value> {
    Json(json!({ "caller": caller }))
}

async fn serve(verifier: Arc<Verifier>) -> String {
    let app = axum::Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .with_state(TestState { verifier });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn get_json(url: &str, authorization: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = http().get(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, challenge, response.json().await.expect("json body"))
}

#[tokio::test]
async fn the_extractors_read_bearer_tokens() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let base = serve(verifier).await;
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );

    let (status, challenge, body) = get_json(&format!("{base}/me"), None).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Bearer realm=\"flyt\""));
    assert_eq!(body["code"], "unauthenticated");
    assert_eq!(
        body["detail"],
        "no bearer token: send `Authorization: Bearer <token>`"
    );

    let (status, _, body) = get_json(&format!("{base}/me"), Some("Basic dXNlcjpwdw==")).await;
    assert_eq!(status, 401);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not `Bearer <token>`"),
        "{body}"
    );

    let (status, _, body) = get_json(&format!("{base}/me"), Some("Bearer not.a.jwt")).await;
    assert_eq!(status, 401);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .starts_with("malformed token"),
        "{body}"
    );

    let (status, _, body) = get_json(&format!("{base}/me"), Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "user");
    assert_eq!(body["personNumber"], "01017012345");
    assert_eq!(body["roles"]["991825827"], json!(["DAGL", "REGNA"]));

    let (status, _, body) = get_json(&format!("{base}/me"), Some(&format!("bearer {token}"))).await;
    assert_eq!(status, 200, "the scheme is case-insensitive: {body}");

    let (status, _, body) = get_json(&format!("{base}/maybe"), None).await;
    assert_eq!((status, body), (200, json!({"caller": null})));
    let (status, _, body) =
        get_json(&format!("{base}/maybe"), Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["caller"]["kind"], "user");
    let (status, _, _) = get_json(&format!("{base}/maybe"), Some("Bearer x.y.z")).await;
    assert_eq!(
        status, 401,
        "a present but bad token is refused even where anonymous is allowed"
    );
}
