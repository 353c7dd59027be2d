//! Call activities in a real server: the example apps `ttd/approval-call` (a purchase request)
//! and `ttd/approval-flow` (the shared approval sub-flow it calls) on one `flyt serve`, over
//! HTTP with real RS256 user tokens; and the same pair killed by fail points with a child in
//! flight — after the parent's commit, before the child's creation; after the child's end,
//! before the parent's resumption — where the restarted server leaves exactly one child and
//! resumes the parent exactly once, histories contiguous.
//!
//! Every wait polls with a deadline; every server listens on loopback only.

use crate::cluster::{ALICE, WAIT, free_port};
use flyt_tests::{Flyt, eventually, http, repo, user_token};
use serde_json::{Value, json};
use std::path::Path;

const CALLER: &str = "ttd/approval-call";
const FLOW: &str = "ttd/approval-flow";

fn copy_app(app: &str, processes: &Path) {
    let (src, dst) = (repo().join("processes").join(app), processes.join(app));
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
}

/// A data directory with the two apps and a config on a fixed loopback port.
fn node() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_app(CALLER, &root.join("processes"));
    copy_app(FLOW, &root.join("processes"));
    let config = root.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{}\"\nprocesses_dir = \"{}/processes\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}/data\"\n[dev_authority]\nenabled = true\n",
            free_port(),
            root.display(),
            root.display()
        ),
    )
    .unwrap();
    (dir, config)
}

async fn get(url: &str, token: &str) -> Value {
    let r = http().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

async fn create(base: &str, token: &str) -> String {
    let r = http()
        .post(format!("{base}/{CALLER}/instances"))
        .bearer_auth(token)
        .json(&json!({ "data": { "request": { "item": "laptop", "amount": 14000 } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn next(url: &str, token: &str) -> reqwest::Result<reqwest::Response> {
    http()
        .put(format!("{url}/process/next"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
}

/// The children the parent at `url` waits for, as its process view shows them.
async fn called(url: &str, token: &str) -> Vec<Value> {
    let view = get(&format!("{url}/process"), token).await;
    view["calledInstances"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn history(url: &str, token: &str) -> Vec<Value> {
    let h = get(&format!("{url}/process/history"), token).await;
    h["processHistory"].as_array().cloned().unwrap_or_default()
}

fn count(history: &[Value], event: &str) -> usize {
    history.iter().filter(|e| e["eventType"] == event).count()
}

async fn flow_instances(base: &str, token: &str) -> Vec<Value> {
    let page = get(&format!("{base}/{FLOW}/instances?limit=100"), token).await;
    page["instances"].as_array().unwrap().clone()
}

/// Approves the child at `child_url`: writes the decision and completes `Review`.
async fn approve(child_url: &str, token: &str) -> reqwest::Result<reqwest::Response> {
    let r = http()
        .put(format!("{child_url}/data/decision"))
        .bearer_auth(token)
        .json(&json!({ "approved": true, "by": "reviewer" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    next(child_url, token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_activity_across_two_apps_on_one_server() {
    let (dir, config) = node();
    let server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let alice = user_token(&base, ALICE, &[]).await;
    let parent = create(&base, &alice).await;
    let r = next(&parent, &alice).await.unwrap();
    assert_eq!(r.status(), 200);
    // The child exists when the answer comes: the request delivered its start record.
    let children = called(&parent, &alice).await;
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0]["app"], FLOW);
    assert_eq!(children[0]["state"], "active");
    let child = format!(
        "{base}/{FLOW}/instances/{}",
        children[0]["instanceId"].as_str().unwrap()
    );
    let child_view = get(&format!("{child}/process"), &alice).await;
    assert_eq!(child_view["currentTask"]["elementId"], "Review");
    assert_eq!(child_view["calledBy"]["app"], CALLER);
    assert_eq!(
        get(&format!("{child}/data/request"), &alice).await,
        json!({ "item": "laptop", "amount": 14000 })
    );
    // Another person may not read it (the sub-flow app's policy).
    let bob = user_token(&base, "02027012345", &[]).await;
    let r = http()
        .get(format!("{child}/process"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    assert_eq!(approve(&child, &alice).await.unwrap().status(), 200);
    let view = get(&format!("{parent}/process"), &alice).await;
    assert_eq!(view["currentTask"]["elementId"], "Order", "{view}");
    assert_eq!(
        get(&format!("{parent}/data/decision"), &alice).await["approved"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_a_child_in_flight_parent_and_child_stay_consistent() {
    let (dir, config) = node();
    // Killed after the parent's commit (its token at the call activity, the start record
    // written), before the child's creation commits.
    let mut server = Flyt::start_with(
        dir.path(),
        &config,
        &[("FLYT_FAILPOINT", "call.before_child_commit")],
    );
    let base = server.url.clone();
    let alice = user_token(&base, ALICE, &[]).await;
    let parent = create(&base, &alice).await;
    assert!(next(&parent, &alice).await.is_err(), "no answer: it died");
    died(&mut server, "call.before_child_commit").await;

    // Restarted: the worker delivers the start record; exactly one child.
    let mut server = Flyt::start_with(
        dir.path(),
        &config,
        &[("FLYT_FAILPOINT", "call.before_parent_commit")],
    );
    let children = eventually("the child to be created after the restart", WAIT, || {
        let (parent, alice) = (parent.clone(), alice.clone());
        async move {
            let c = called(&parent, &alice).await;
            (c.len() == 1 && c[0]["state"] == "active").then_some(c)
        }
    })
    .await;
    assert_eq!(flow_instances(&base, &alice).await.len(), 1);
    let child = format!(
        "{base}/{FLOW}/instances/{}",
        children[0]["instanceId"].as_str().unwrap()
    );
    // Killed after the child's end commits, before the parent's resumption commits.
    assert!(approve(&child, &alice).await.is_err(), "no answer: it died");
    died(&mut server, "call.before_parent_commit").await;

    let server = Flyt::start(dir.path(), &config);
    let view = eventually("the parent to resume after the restart", WAIT, || {
        let (parent, alice) = (parent.clone(), alice.clone());
        async move {
            let v = get(&format!("{parent}/process"), &alice).await;
            (v["currentTask"]["elementId"] == "Order").then_some(v)
        }
    })
    .await;
    assert!(view.get("calledInstances").is_none(), "{view}");
    let child_view = get(&format!("{child}/process"), &alice).await;
    assert!(child_view["ended"].is_string(), "{child_view}");
    // Exactly one child; the parent called once and resumed once; histories contiguous.
    assert_eq!(flow_instances(&base, &alice).await.len(), 1);
    let parent_history = history(&parent, &alice).await;
    assert_eq!(
        count(&parent_history, "flyt_CallStarted"),
        1,
        "{parent_history:#?}"
    );
    assert_eq!(
        count(&parent_history, "flyt_CallEnded"),
        1,
        "{parent_history:#?}"
    );
    // Each step once, in order, nothing lost between them.
    let steps = |h: &[Value]| -> Vec<String> {
        h.iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["eventType"].as_str().unwrap_or(""),
                    e["elementId"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    assert_eq!(
        steps(&parent_history),
        [
            "process_StartEvent Start",
            "process_StartTask Fill",
            "process_EndTask Fill",
            "flyt_CallStarted Approve",
            "flyt_CallEnded Approve",
            "process_StartTask Order",
        ]
    );
    assert_eq!(
        steps(&history(&child, &alice).await),
        [
            "process_StartEvent Start",
            "process_StartTask Review",
            "process_EndTask Review",
            "process_EndEvent Reviewed",
        ]
    );
    drop(server);
}

/// Waits until `server` has died at `point`, and reaps it.
async fn died(server: &mut Flyt, point: &str) {
    let live = format!("{}/health/live", server.url);
    eventually(&format!("the server to die at `{point}`"), WAIT, || {
        let live = live.clone();
        async move { http().get(&live).send().await.is_err().then_some(()) }
    })
    .await;
    let log = server.log_text();
    assert!(
        log.contains(&format!("failpoint `{point}` hit")),
        "the server died, but not at `{point}`; its log:\n{log}"
    );
    tokio::task::block_in_place(|| server.kill());
}
