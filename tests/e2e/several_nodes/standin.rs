//! A stand-in for app `acme/grant-case` on loopback: it takes the nodes' createInstance calls
//! over a real socket and answers each only once the test lets it, so a test can hold a job's
//! handler mid-call. Each node's downstream allow-list names it under a path of its own
//! (`/node-<i>`), so every call says which node made it. An `Idempotency-Key` seen before gets
//! the instance it got the first time, as the real app does.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How long a test waits for calls to arrive.
const WAIT: Duration = Duration::from_secs(60);

/// One createInstance call as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The node that made it (its index in the test).
    pub node: usize,
    pub key: String,
}

struct Shared {
    url: String,
    calls: Mutex<Vec<Call>>,
    /// Idempotency-Key → the instance created for it.
    created: Mutex<BTreeMap<String, String>>,
    arrived: Notify,
    /// Calls with an index below this are answered (the rest wait for it to grow).
    released: watch::Sender<usize>,
}

pub struct StandIn {
    pub url: String,
    shared: Arc<Shared>,
}

impl StandIn {
    /// Listens on a free loopback port; the first `released` calls are answered at once.
    pub async fn start(released: usize) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            url: url.clone(),
            calls: Mutex::default(),
            created: Mutex::default(),
            arrived: Notify::new(),
            released: watch::channel(released).0,
        });
        let app = axum::Router::new()
            .route(
                "/{node}/acme/grant-case/instances",
                axum::routing::post(create),
            )
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StandIn { url, shared }
    }

    /// The base URL node `node`'s allow-list gives for `acme/grant-case`.
    pub fn base_for(&self, node: usize) -> String {
        format!("{}/node-{node}", self.url)
    }

    /// Answers the first `n` calls: those waiting now and those still to come.
    pub fn release(&self, n: usize) {
        self.shared.released.send_modify(|r| *r = (*r).max(n));
    }

    /// The calls so far, once there are at least `n` (waits at most a minute, woken by each).
    pub async fn calls(&self, n: usize) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            {
                let calls = self.shared.calls.lock().unwrap();
                if calls.len() >= n {
                    return calls.clone();
                }
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "timed out after {WAIT:?} waiting for {n} createInstance calls; got {:?}",
                    self.shared.calls.lock().unwrap()
                );
            }
        }
    }

    /// The instances created, by Idempotency-Key.
    pub fn created(&self) -> BTreeMap<String, String> {
        self.shared.created.lock().unwrap().clone()
    }
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(node): Path<String>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let node: usize = node
        .strip_prefix("node-")
        .and_then(|n| n.parse().ok())
        .expect("a node's own path");
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let index = {
        let mut calls = shared.calls.lock().unwrap();
        calls.push(Call {
            node,
            key: key.clone(),
        });
        calls.len() - 1
    };
    shared.arrived.notify_waiters();
    let mut released = shared.released.subscribe();
    let _ = released.wait_for(|r| *r > index).await;
    let id = shared
        .created
        .lock()
        .unwrap()
        .entry(key)
        .or_insert_with(|| format!("991825827/{}", uuid::Uuid::new_v4()))
        .clone();
    (
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("{}/acme/grant-case/instances/{id}", shared.url),
        )],
        Json(json!({ "id": id, "appId": "acme/grant-case" })),
    )
}

/// The one-way grant application (it ends after its createInstance) under `dir/processes`.
pub fn grant_application(dir: &std::path::Path) -> std::path::PathBuf {
    let processes = dir.join("processes");
    let from = crate::cluster::one_way_apps().join("acme/grant-application");
    let to = processes.join("acme/grant-application");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    processes
}

/// Node `node`'s outgoing settings: organisation 910000001 with the development authority's
/// own client key (the data directory is shared), tokens from the node's own authority at
/// `base`, and `acme/grant-case` at the stand-in under the node's path.
pub fn outgoing(standin: &StandIn, node: usize, base: &str) -> String {
    format!(
        "[outgoing]\norganisation_number = \"910000001\"\norg_code = \"acme\"\ntoken_endpoint = \"{base}/authority/token\"\nrequest_timeout_ms = 30000\n[downstream]\n\"acme/grant-case\" = \"{}\"\n",
        standin.base_for(node)
    )
}

/// Creates and fills in an application through `base`, then confirms it through `confirm_at`:
/// that commit creates the createInstance job. Returns the application's location (public).
pub async fn apply(base: &str, confirm_at: &str, token: &str) -> String {
    let client = flyt_tests::http();
    let r = client
        .post(format!("{base}/acme/grant-application/instances"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let data = json!({"applicant": {"name": "Alice Applicant", "email": "alice@example.org"}, "amount": 25000, "purpose": "a cargo bike"});
    let r = client
        .put(format!("{}/data/application", super::on(base, &location)))
        .bearer_auth(token)
        .json(&data)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(super::next_action(base, &location, token, None).await, 200);
    assert_eq!(
        super::next_action(confirm_at, &location, token, Some("confirm")).await,
        200
    );
    location
}
