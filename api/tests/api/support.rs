//! A server on the example apps, in memory, with the development authority minting tokens.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use flyt_api::config::ServerConfig;
use flyt_api::server::{Flyt, ServerBuilder};
use flyt_engine::store::open::BackendKind;
use serde_json::{Value, json};
use std::path::PathBuf;
use tower::ServiceExt;

pub const ALICE: &str = "01017012345"; // a citizen
pub const BOB: &str = "02027012345"; // another citizen
pub const CAROL: &str = "03037012345"; // DAGL of 991825827
pub const DAVE: &str = "04047012345"; // DAGL of another organisation
pub const GRANTS_ORG: &str = "991825827";
pub const OTHER_ORG: &str = "999888777";
pub const ACME_ORGNO: &str = "910000001";
pub const TTD_ORGNO: &str = "974760673"; // the service owner `ttd`

pub struct Server {
    pub flyt: Flyt,
    _dir: tempfile::TempDir,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Response {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn etag(&self) -> String {
        self.headers["etag"].to_str().unwrap().to_string()
    }
}

pub fn processes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../processes")
}

/// Writes an app folder `org/app` under `dir` with these files (`app.toml`, `process.bpmn`, ...).
pub fn write_app(dir: &std::path::Path, app: &str, files: &[(&str, &str)]) {
    let app = dir.join(app);
    std::fs::create_dir_all(&app).unwrap();
    for (name, text) in files {
        std::fs::write(app.join(name), text).unwrap();
    }
}

/// A server hosting only the apps under `dir`.
pub async fn server_of(dir: &std::path::Path) -> Server {
    let dir = dir.to_path_buf();
    Server::with(move |c| {
        c.processes_dir = dir;
        c.downstream.clear();
    })
    .await
}

pub fn config(dir: &std::path::Path) -> ServerConfig {
    let mut config = ServerConfig::development();
    config.processes_dir = processes_dir();
    config.storage.backend = BackendKind::Memory;
    config.storage.data_dir = dir.to_path_buf();
    config
        .downstream
        .insert("acme/grant-case".into(), "http://127.0.0.1:9".into());
    config
}

impl Server {
    pub async fn start() -> Server {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut ServerConfig)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        adjust(&mut config);
        let flyt = ServerBuilder::new(config)
            .without_worker()
            .build("127.0.0.1:8080".parse().unwrap())
            .await
            .unwrap();
        Server { flyt, _dir: dir }
    }

    fn authority(&self) -> &flyt_api::authority::DevAuthority {
        self.flyt.state.inner.authority.as_ref().unwrap()
    }

    pub fn user(&self, pid: &str) -> String {
        self.user_with(pid, &[], &[])
    }

    pub fn user_with(&self, pid: &str, roles: &[&str], scopes: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|s| s.to_string()).collect();
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.authority().user_token(pid, &roles, &scopes).unwrap()
    }

    pub fn org(&self, orgno: &str, code: Option<&str>, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.authority()
            .org_token(orgno, code, &scopes, None)
            .unwrap()
    }

    pub fn carol(&self) -> String {
        self.user_with(CAROL, &["991825827:DAGL"], &[])
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        self.send(
            method,
            uri,
            token,
            body.map(|b| b.to_string().into_bytes()),
            &[],
        )
        .await
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let has_body = body.is_some();
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if has_body
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let res = self.flyt.router().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    /// Creates an approval claim owned by `pid`; returns its `{party}/{guid}` path.
    pub async fn claim(&self, pid: &str, amount: i64) -> String {
        let token = self.user(pid);
        let r = self
            .call(
                Method::POST,
                "/ttd/approval/instances",
                Some(&token),
                Some(json!({ "data": { "claim": { "amount": amount } } })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        format!("/ttd/approval/instances/{}", r.body["id"].as_str().unwrap())
    }
}

/// Asserts a problem+json refusal with status and code.
pub fn refused(r: &Response, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.code(), code, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(r.body["status"], status.as_u16());
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}
