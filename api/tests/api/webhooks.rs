//! Webhooks in-process: the synchronous task-end veto on a real move, and the start-up checks of
//! `[[webhooks]]` in app files. (Durable deliveries are tested end to end in `flyt-tests`.)

use crate::support::*;
use axum::http::{Method, StatusCode};
use flyt_api::server::ServerBuilder;
use flyt_hooks::webhooks::{WebhookSecret, WebhookVeto};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A veto endpoint on loopback: answers `POST /` as scripted, never answers `POST /hang`, and
/// keeps the events it was asked about.
async fn veto_endpoint(answer: Value) -> (String, Arc<Mutex<Vec<Value>>>, Arc<Mutex<Value>>) {
    let asked: Arc<Mutex<Vec<Value>>> = Arc::default();
    let answer = Arc::new(Mutex::new(answer));
    let (a, b) = (asked.clone(), answer.clone());
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (asked, answer) = (a.clone(), b.clone());
                async move {
                    asked.lock().push(serde_json::from_slice(&body).unwrap());
                    axum::Json(answer.lock().clone())
                }
            }),
        )
        .route(
            "/hang",
            axum::routing::post(|| async { std::future::pending::<&str>().await }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, asked, answer)
}

/// The example apps, with `veto` registered on `ttd/approval`.
async fn with_veto(veto: WebhookVeto) -> Server {
    let mut config = None;
    let mut s = Server::with(|c| config = Some(c.clone())).await;
    let app = "ttd/approval".parse().unwrap();
    s.flyt = ServerBuilder::new(config.unwrap())
        .registry(|r| r.app_hook(app, veto))
        .without_worker()
        .build("127.0.0.1:8080".parse().unwrap())
        .await
        .unwrap();
    s
}

fn veto(url: &str, timeout_ms: u64, fail_open: bool) -> WebhookVeto {
    let secret = WebhookSecret::new("veto secret").unwrap();
    WebhookVeto::new(url, secret, Duration::from_millis(timeout_ms), fail_open).unwrap()
}

async fn next(s: &Server, path: &str) -> Response {
    let alice = s.user(ALICE);
    s.call(
        Method::PUT,
        &format!("{path}/process/next"),
        Some(&alice),
        None,
    )
    .await
}

async fn state(s: &Server, path: &str) -> Value {
    let alice = s.user(ALICE);
    s.call(Method::GET, path, Some(&alice), None).await.body
}

#[tokio::test]
async fn a_task_end_veto_refuses_with_its_issues_and_leaves_the_instance_unchanged() {
    let refusal = json!({"allow": false, "issues": [{"field": "claim.amount", "message": "over budget", "code": "budget"}]});
    let (url, asked, answer) = veto_endpoint(refusal).await;
    let s = with_veto(veto(&url, 2_000, false)).await;
    let path = s.claim(ALICE, 50).await;
    let before = state(&s, &path).await;
    let r = next(&s, &path).await;
    refused(&r, StatusCode::CONFLICT, "validation-failed");
    assert_eq!(r.body["issues"][0]["field"], "claim.amount", "{}", r.text);
    assert_eq!(r.body["issues"][0]["message"], "over budget");
    assert_eq!(r.body["issues"][0]["code"], "budget");
    assert_eq!(state(&s, &path).await, before, "the instance is unchanged");
    // It was asked with a `flyt.task.ending` CloudEvent about this move.
    let event = asked.lock()[0].clone();
    assert_eq!(event["type"], "flyt.task.ending");
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["subject"], "Fill");
    assert_eq!(event["data"]["action"], "write");
    assert_eq!(event["data"]["instanceVersion"], before["version"]);
    assert!(path.ends_with(event["data"]["instanceId"].as_str().unwrap()));
    // Allowed: the move happens.
    *answer.lock() = json!({"allow": true});
    let r = next(&s, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["currentTask"]["elementId"], "Confirm");
}

#[tokio::test]
async fn a_veto_that_times_out_refuses_when_failing_closed_and_allows_when_failing_open() {
    let (url, _, _) = veto_endpoint(json!({})).await;
    let hang = format!("{url}/hang");
    let s = with_veto(veto(&hang, 300, false)).await;
    let path = s.claim(ALICE, 50).await;
    let before = state(&s, &path).await;
    let r = next(&s, &path).await;
    refused(&r, StatusCode::CONFLICT, "validation-failed");
    assert_eq!(
        r.body["issues"][0]["code"], "veto-unavailable",
        "{}",
        r.text
    );
    assert_eq!(state(&s, &path).await, before);

    let s = with_veto(veto(&hang, 300, true)).await;
    let path = s.claim(ALICE, 50).await;
    let r = next(&s, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["currentTask"]["elementId"], "Confirm");
}

/// Builds a server whose one app has `webhook` as its `[[webhooks]]`; returns the start-up error.
async fn start_up_error(webhook: &str, allow: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("processes/ttd/hooked");
    std::fs::create_dir_all(&app).unwrap();
    let approval = processes_dir().join("ttd/approval");
    for file in ["claim.schema.json", "process.bpmn"] {
        std::fs::copy(approval.join(file), app.join(file)).unwrap();
    }
    let toml = std::fs::read_to_string(approval.join("app.toml")).unwrap();
    std::fs::write(
        app.join("app.toml"),
        format!("{toml}\n[[webhooks]]\n{webhook}"),
    )
    .unwrap();
    let mut config = config(dir.path());
    config.processes_dir = dir.path().join("processes");
    config.downstream.clear();
    config.webhook_allow_list = allow.iter().map(|s| s.to_string()).collect();
    let built = ServerBuilder::new(config)
        .without_worker()
        .build("127.0.0.1:8080".parse().unwrap())
        .await;
    match built {
        Ok(_) => panic!("`{webhook}` started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn misconfigured_webhooks_stop_start_up_with_what_to_fix() {
    let allow = ["http://127.0.0.1:9000/"];
    // PATH stands in for a secret that is set: these fail before anything is sent.
    let cases = [
        (
            r#"url = "http://127.0.0.1:9001/in"
events = ["task.ended"]
secret_env = "PATH""#,
            &allow[..],
            "is not on webhook_allow_list",
        ),
        (
            r#"url = "http://127.0.0.1:9000/in"
events = ["task.ended"]
secret_env = "PATH""#,
            &[][..],
            "allowed prefixes: none",
        ),
        (
            r#"url = "http://127.0.0.1:9000/in"
events = ["task.finished"]
secret_env = "PATH""#,
            &allow[..],
            "unknown event `task.finished`; valid events: instance.created, task.started, task.ended, process.ended",
        ),
        (
            r#"url = "http://127.0.0.1:9000/in"
events = ["task.ended"]
secret_env = "FLYT_TEST_NO_SUCH_WEBHOOK_SECRET""#,
            &allow[..],
            "`FLYT_TEST_NO_SUCH_WEBHOOK_SECRET` is not set",
        ),
        (
            r#"url = "http://127.0.0.1:9000/in"
events = ["task.started"]
secret_env = "PATH"
veto = true"#,
            &allow[..],
            "its `events` must be [\"task.ended\"]",
        ),
        (
            r#"url = "http://127.0.0.1:9000/in"
events = ["task.ended"]
secret_env = "PATH"
veto = true
timeout_ms = 5000"#,
            &allow[..],
            "must be below the hook timeout (5000 ms)",
        ),
        (
            r#"url = "http://127.0.0.1:9000/in"
events = ["task.ended"]
secret_env = "PATH"
fail_open = true"#,
            &allow[..],
            "`fail_open` applies only with `veto = true`",
        ),
    ];
    for (webhook, allow, expected) in cases {
        let e = start_up_error(webhook, allow).await;
        assert!(e.contains(expected), "{webhook}\n=> {e}");
        if !expected.contains("hook timeout") {
            assert!(
                e.contains("ttd/hooked") && e.contains("webhook #1"),
                "names the app: {e}"
            );
        }
        assert!(
            !e.contains(&std::env::var("PATH").unwrap()),
            "never the secret: {e}"
        );
    }
}
