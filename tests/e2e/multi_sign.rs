//! Multi-party signing in a real server: the example app `ttd/multi-sign` over HTTP with real
//! RS256 user tokens from the development authority. The owner names three signers; each sees
//! their own signing task under "my tasks"; one tries to sign another's task (403
//! `not-assignee`); each signs their own; the contract goes on to Archive and the process ends.
//! The signatures, one per signer, are in the instance's data.

use flyt_tests::{Flyt, http, repo, user_token};
use serde_json::{Value, json};

const OWNER: &str = "01017012345";
const SIGNERS: [&str; 3] = ["02027012345", "03037012345", "04047012345"];

async fn put_next(location: &str, token: &str, body: Value) -> reqwest::Response {
    http()
        .put(format!("{location}/process/next"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_signers_sign_their_own_tasks_over_http_and_one_cannot_sign_anothers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n",
            repo().join("processes").display(),
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let owner = user_token(&base, OWNER, &[]).await;

    let signers: Vec<Value> = SIGNERS.iter().map(|p| json!({ "pid": p })).collect();
    let r = http()
        .post(format!("{base}/ttd/multi-sign/instances"))
        .bearer_auth(&owner)
        .json(&json!({ "data": { "contract": { "title": "Lease", "signers": signers } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let r = put_next(&location, &owner, json!({})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let mut tokens = Vec::new();
    for (i, pid) in SIGNERS.iter().enumerate() {
        let token = user_token(&base, pid, &[]).await;
        let mine: Value = http()
            .get(format!("{base}/ttd/multi-sign/tasks/mine"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(mine["tasks"].as_array().unwrap().len(), 1, "{mine}");
        assert_eq!(mine["tasks"][0]["innerInstance"], i, "{mine}");
        tokens.push(token);
    }

    // The first signer tries to sign the second's task.
    let r = put_next(
        &location,
        &tokens[0],
        json!({ "action": "sign", "innerInstance": 1 }),
    )
    .await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "not-assignee", "{problem}");

    for (i, token) in tokens.iter().enumerate() {
        let r = put_next(&location, token, json!({ "action": "sign" })).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let state: Value = r.json().await.unwrap();
        let expected = if i < 2 { "Sign" } else { "Archive" };
        assert_eq!(state["currentTask"]["elementId"], expected, "{state}");
    }
    let r = put_next(&location, &owner, json!({})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["endEvent"], "End", "{state}");

    let signatures: Value = http()
        .get(format!("{location}/data/signature"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null);
    let signees: Vec<&str> = signatures["signatures"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| s["signee"]["personNumber"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(signees, SIGNERS, "{signatures}");
}
