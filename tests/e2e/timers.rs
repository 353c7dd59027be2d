//! Timers in a real server: the example app `ttd/case-deadline` escalates a case that is not
//! handled by the deadline in its data, and an overdue timer fires exactly once after the server
//! was SIGKILLed while it was due. Deadlines are a second or two ahead in real time: the tests
//! poll for the outcome with a bound, they never sleep for a fixed time.

use flyt_tests::{Flyt, eventually, http, org_token, repo, user_token};
use serde_json::{Value, json};
use std::time::Duration;

const OWNER: &str = "01017012345";
const TTD_ORGNO: &str = "974760673";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n",
            repo().join("processes").display(),
            dir.join("data").display()
        ),
    )
    .unwrap();
    config
}

fn in_ms(ms: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(ms);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Creates a case due `deadline_ms` from now and moves it to `Handle`; returns its URL.
async fn case_at_handle(base: &str, owner: &str, deadline_ms: i64) -> String {
    let client = http();
    let r = client
        .post(format!("{base}/ttd/case-deadline/instances"))
        .bearer_auth(owner)
        .json(&json!({ "data": { "case": { "subject": "Fence permit for Åsgårdstrand", "deadline": in_ms(deadline_ms) } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let r = client
        .put(format!("{location}/process/next"))
        .bearer_auth(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["currentTask"]["elementId"], "Handle", "{state}");
    location
}

async fn process(location: &str, token: &str) -> Value {
    http()
        .get(format!("{location}/process"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn history(location: &str, token: &str) -> Vec<String> {
    let h: Value = http()
        .get(format!("{location}/process/history"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    h["processHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["eventType"].as_str().unwrap_or(""),
                e["elementId"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_not_handled_by_its_deadline_escalates() {
    let dir = tempfile::tempdir().unwrap();
    let server = Flyt::start(dir.path(), &config(dir.path()));
    let base = server.url.clone();
    let owner = user_token(&base, OWNER, &[]).await;
    let ttd = org_token(&base, TTD_ORGNO, Some("ttd"), "").await;

    // Handled in time: the timer goes with the task.
    let on_time = case_at_handle(&base, &owner, 3_600_000).await;
    let state = process(&on_time, &ttd).await;
    assert_eq!(state["timers"][0]["elementId"], "Deadline", "{state}");
    assert_eq!(state["timers"][0]["attachedTo"], "Handle", "{state}");
    let r = http()
        .put(format!("{on_time}/process/next"))
        .bearer_auth(&ttd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["endEvent"], "Decided", "{state}");
    assert!(state.get("timers").is_none(), "{state}");

    // Not handled: at the deadline the case leaves Handle for Escalate, and Handle is gone.
    let late = case_at_handle(&base, &owner, 1_500).await;
    eventually("the escalation", Duration::from_secs(30), || {
        let (late, ttd) = (late.clone(), ttd.clone());
        async move {
            let state = process(&late, &ttd).await;
            (state["currentTask"]["elementId"] == "Escalate").then_some(())
        }
    })
    .await;
    let events = history(&late, &ttd).await;
    for e in [
        "flyt_TimerFired Deadline",
        "process_AbandonTask Handle",
        "process_StartTask Escalate",
    ] {
        assert!(events.iter().any(|x| x == e), "{e}: {events:?}");
    }
    let r = http()
        .put(format!("{late}/process/next"))
        .bearer_auth(&ttd)
        .json(&json!({ "taskId": "Handle" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "the interrupted task cannot be completed");
    let r = http()
        .put(format!("{late}/process/next"))
        .bearer_auth(&ttd)
        .send()
        .await
        .unwrap();
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["endEvent"], "DecidedLate", "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_due_while_the_server_was_killed_fire_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let mut server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let owner = user_token(&base, OWNER, &[]).await;
    let mut cases = Vec::new();
    for _ in 0..5 {
        let location = case_at_handle(&base, &owner, 1_000).await;
        cases.push(location.trim_start_matches(&base).to_string());
    }
    // Killed before (or while) the timers fall due; they are due when it comes back.
    server.kill();
    let server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let ttd = org_token(&base, TTD_ORGNO, Some("ttd"), "").await;
    for case in &cases {
        let location = format!("{base}{case}");
        eventually("the overdue timer", Duration::from_secs(30), || {
            let (location, ttd) = (location.clone(), ttd.clone());
            async move {
                let state = process(&location, &ttd).await;
                (state["currentTask"]["elementId"] == "Escalate").then_some(())
            }
        })
        .await;
        let fired = history(&location, &ttd)
            .await
            .iter()
            .filter(|e| *e == "flyt_TimerFired Deadline")
            .count();
        assert_eq!(fired, 1, "{case}");
    }
}
