//! Webhooks end to end (issue 3's acceptance): the real binary with an app whose `[[webhooks]]`
//! subscribe to every event, a receiver on loopback that checks every signature independently,
//! and a receiver outage during which no event is lost. Also a task-end veto from an app file.

use crate::cluster::{ALICE, free_port};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use flyt_tests::{Flyt, http, repo, user_token};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const SECRET: &str = "e2e webhook secret";
const SECRET_ENV: &str = "WEBHOOK_SECRET_E2E";
const WAIT: Duration = Duration::from_secs(30);

/// Everything the receiver was sent, across restarts.
#[derive(Default)]
struct Received {
    deliveries: Mutex<Vec<(HeaderMap, Bytes)>>,
    changed: Notify,
    veto_allows: AtomicBool,
}

impl Received {
    /// Waits (at most `WAIT`) until the deliveries satisfy `done`; woken by each new one.
    async fn wait_for(&self, what: &str, done: impl Fn(&[(HeaderMap, Bytes)]) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done(&self.deliveries.lock().unwrap()) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, changed).await.is_err() {
                panic!("timed out after {WAIT:?} waiting for {what}");
            }
        }
    }

    /// Verified events by id (a duplicate delivery counts once).
    fn events(&self) -> BTreeMap<String, Value> {
        let deliveries = self.deliveries.lock().unwrap();
        deliveries.iter().map(|(h, b)| verified(h, b)).collect()
    }
}

async fn events(State(r): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.deliveries.lock().unwrap().push((headers, body));
    r.changed.notify_waiters();
    StatusCode::NO_CONTENT
}

async fn veto(
    State(r): State<Arc<Received>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let (_, event) = verified(&headers, &body);
    assert_eq!(event["type"], "flyt.task.ending");
    axum::Json(if r.veto_allows.load(Ordering::SeqCst) {
        json!({"allow": true})
    } else {
        json!({"allow": false, "issues": [{"field": "claim", "message": "the auditor says no"}]})
    })
}

/// The Standard Webhooks check, with the HMAC from `jsonwebtoken` (HS256), not flyt's code:
/// returns the event id and the event.
fn verified(headers: &HeaderMap, body: &[u8]) -> (String, Value) {
    let h = |n: &str| headers[n].to_str().unwrap().to_string();
    let (id, ts) = (h("webhook-id"), h("webhook-timestamp"));
    let signed = [format!("{id}.{ts}.").as_bytes(), body].concat();
    let expected = jsonwebtoken::crypto::sign(
        &signed,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap();
    let got = h("webhook-signature");
    let got = got.strip_prefix("v1,").expect("a v1 signature");
    let url_safe = got.replace('+', "-").replace('/', "_");
    assert_eq!(
        url_safe.trim_end_matches('='),
        expected,
        "signature of {id}"
    );
    assert_eq!(h("content-type"), "application/cloudevents+json");
    assert_eq!(h("ce-id"), id);
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["specversion"], "1.0");
    (id, event)
}

/// The receiver, listening on `port` until stopped.
struct Receiver {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(port: u16, state: Arc<Received>) -> Receiver {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(([127, 0, 0, 1], port).into()).unwrap();
        let listener = socket.listen(64).unwrap();
        let app = axum::Router::new()
            .route("/events", axum::routing::post(events))
            .route("/veto", axum::routing::post(veto))
            .with_state(state);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver { stop, task }
    }

    /// Stops listening and closes every connection (idle keep-alive ones included).
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the receiver stops")
            .unwrap();
    }
}

fn write_app(processes: &Path, name: &str, webhook: &str) {
    let src = repo().join("processes/ttd/approval");
    let dst = processes.join("ttd").join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for file in ["claim.schema.json", "process.bpmn"] {
        std::fs::copy(src.join(file), dst.join(file)).unwrap();
    }
    let toml = std::fs::read_to_string(src.join("app.toml")).unwrap();
    std::fs::write(dst.join("app.toml"), format!("{toml}\n{webhook}")).unwrap();
}

fn setup(dir: &Path, port: u16) -> std::path::PathBuf {
    let processes = dir.join("processes");
    let base = format!("http://127.0.0.1:{port}");
    write_app(
        &processes,
        "approval",
        &format!(
            "[[webhooks]]\nurl = \"{base}/events\"\nevents = [\"instance.created\", \"task.started\", \"task.ended\", \"process.ended\"]\nsecret_env = \"{SECRET_ENV}\"\n"
        ),
    );
    write_app(
        &processes,
        "vetoed",
        &format!(
            "[[webhooks]]\nurl = \"{base}/veto\"\nevents = [\"task.ended\"]\nsecret_env = \"{SECRET_ENV}\"\nveto = true\ntimeout_ms = 2000\n"
        ),
    );
    let config = dir.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"
processes_dir = "{processes}"
webhook_allow_list = ["{base}/"]
[storage]
backend = "redb"
data_dir = "{data}"
[dev_authority]
enabled = true
[service_tasks."webhook:ttd/approval#1"]
initial_backoff_ms = 100
max_backoff_ms = 400
"#,
            processes = processes.display(),
            data = dir.join("data").display()
        ),
    )
    .unwrap();
    config
}

/// Creates a small claim in `app` and walks it to its end: 6 events.
async fn walk(base: &str, token: &str) -> String {
    let client = http();
    let r = client
        .post(format!("{base}/ttd/approval/instances"))
        .bearer_auth(token)
        .json(&json!({"data": {"claim": {"amount": 50, "currency": "NOK"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let created: Value = r.json().await.unwrap();
    for action in ["write", "confirm"] {
        let r = client
            .put(format!("{location}/process/next"))
            .bearer_auth(token)
            .json(&json!({"action": action}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{action}");
    }
    created["id"].as_str().unwrap().to_string()
}

/// The event types of one instance, with counts.
fn types_of(events: &BTreeMap<String, Value>, instance: &str) -> BTreeMap<String, usize> {
    let mut types = BTreeMap::new();
    for e in events.values() {
        if e["data"]["instanceId"] == instance {
            *types
                .entry(e["type"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    types
}

fn walked() -> BTreeMap<String, usize> {
    [
        ("flyt.instance.created", 1),
        ("flyt.task.started", 2),
        ("flyt.task.ended", 2),
        ("flyt.process.ended", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_string(), n))
    .collect()
}

fn unique(d: &[(HeaderMap, Bytes)]) -> usize {
    let ids: std::collections::BTreeSet<&str> = d
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap())
        .collect();
    ids.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_signed_and_none_is_lost_while_the_receiver_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = setup(dir.path(), port);
    let received = Arc::new(Received::default());
    let receiver = Receiver::start(port, received.clone()).await;
    let server = Flyt::start_with(dir.path(), &config, &[(SECRET_ENV, SECRET)]);
    let base = server.url.clone();
    let alice = user_token(&base, ALICE, &[]).await;

    // Up: every event of a walk arrives, signed, each with its own id.
    let first = walk(&base, &alice).await;
    received
        .wait_for("the first walk's 6 events", |d| unique(d) >= 6)
        .await;
    let events = received.events();
    assert_eq!(events.len(), 6, "{events:#?}");
    assert_eq!(types_of(&events, &first), walked(), "{events:#?}");
    for e in events.values() {
        assert!(e["source"].as_str().unwrap().ends_with(&first), "{e}");
        assert_eq!(e["data"]["app"], "ttd/approval");
    }

    // Down: another walk; deliveries fail and are retried.
    let retries = || server.log_text().matches("Retrying").count();
    let before = retries();
    receiver.stop().await;
    let second = walk(&base, &alice).await;
    let deadline = Instant::now() + WAIT;
    while retries() == before {
        assert!(
            Instant::now() < deadline,
            "no delivery attempt failed while the receiver was down; log:\n{}",
            server.log_text()
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(received.events().len(), 6, "nothing arrived while down");

    // Back on the same port: everything arrives, none missing.
    let _receiver = Receiver::start(port, received.clone()).await;
    received
        .wait_for("the second walk's 6 events after the outage", |d| {
            unique(d) >= 12
        })
        .await;
    let events = received.events();
    assert_eq!(events.len(), 12);
    assert_eq!(types_of(&events, &first), walked());
    assert_eq!(types_of(&events, &second), walked(), "{events:#?}");
    let deliveries = received.deliveries.lock().unwrap().len();
    assert!(deliveries >= 12, "duplicates are allowed, losses are not");

    // The vetoed app asks its endpoint before a task ends.
    let client = http();
    let r = client
        .post(format!("{base}/ttd/vetoed/instances"))
        .bearer_auth(&alice)
        .json(&json!({"data": {"claim": {"amount": 50, "currency": "NOK"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let next = || {
        client
            .put(format!("{location}/process/next"))
            .bearer_auth(&alice)
            .send()
    };
    let r = next().await.unwrap();
    assert_eq!(r.status(), 409);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "validation-failed");
    assert_eq!(problem["issues"][0]["message"], "the auditor says no");
    received.veto_allows.store(true, Ordering::SeqCst);
    let r = next().await.unwrap();
    assert_eq!(r.status(), 200);
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["currentTask"]["elementId"], "Confirm");
    assert_eq!(received.events().len(), 12, "a veto is not a delivery");
}
