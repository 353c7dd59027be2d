//! The quick start, for real: the binary on port 0 with a temporary data directory, the example
//! approval app walked from creation to its end over HTTP with development-authority tokens,
//! then a clean SIGTERM shutdown and a restart that still has everything.

use flyt_tests::{Flyt, http, repo, user_token};
use serde_json::{Value, json};
use std::time::Duration;

fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_an_example_app_over_http_then_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let client = http();
    let alice = user_token(&base, "01017012345", &[]).await;

    let r = client
        .post(format!("{base}/ttd/approval/instances"))
        .bearer_auth(&alice)
        .json(&json!({"data": {"claim": {"amount": 120, "description": "train ticket", "currency": "NOK"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let created: Value = r.json().await.unwrap();
    assert!(location.starts_with(&base), "{location}");
    assert_eq!(created["process"]["currentTask"]["elementId"], "Fill");

    let r = client
        .put(format!("{location}/process/next"))
        .bearer_auth(&alice)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["currentTask"]["elementId"], "Confirm");
    let r = client
        .put(format!("{location}/process/next"))
        .bearer_auth(&alice)
        .json(&json!({"action": "confirm"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["endEvent"], "End");

    let history: Value = client
        .get(format!("{location}/process/history"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: Vec<&str> = history["processHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "process_StartEvent",
            "process_StartTask",
            "process_EndTask",
            "process_StartTask",
            "process_EndTask",
            "process_EndEvent"
        ]
    );

    // Store maintenance needs the server stopped: the store is locked while it runs.
    let compact = || {
        std::process::Command::new(flyt_tests::flyt_bin())
            .args(["store", "compact", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let locked = compact();
    assert_eq!(locked.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&locked.stderr).contains("locked by another process"),
        "{}",
        String::from_utf8_lossy(&locked.stderr)
    );

    // SIGTERM: a clean exit.
    assert_eq!(
        server.terminate(Duration::from_secs(30)),
        Some(0),
        "log:\n{}",
        server.log_text()
    );
    let compacted = compact();
    assert!(
        compacted.status.success()
            && String::from_utf8_lossy(&compacted.stdout).contains("compacted the redb store"),
        "{compacted:?}"
    );
    // Restart on the same (compacted) data: the instance and the authority's keys are still there.
    let server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let location = location.replace(&location[..location.find("/ttd/").unwrap()], &base);
    let alice = user_token(&base, "01017012345", &[]).await;
    let r = client
        .get(&location)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["process"]["endEvent"], "End");
    assert_eq!(again["version"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_app_stops_start_up_with_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let apps = dir.path().join("processes/ttd/broken");
    std::fs::create_dir_all(&apps).unwrap();
    std::fs::write(apps.join("app.toml"), "title = \"broken\"\n").unwrap();
    std::fs::write(
        apps.join("process.bpmn"),
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="nope"/></process></definitions>"#,
    )
    .unwrap();
    let config = dir.path().join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"memory\"\n",
            dir.path().join("processes").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(flyt_tests::flyt_bin())
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("process.bpmn:1:") && stderr.contains("error[unknown-reference]"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_command_exit_codes_and_formats() {
    let bin = flyt_tests::flyt_bin();
    let ok = std::process::Command::new(&bin)
        .args(["validate"])
        .arg(repo().join("processes"))
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bpmn");
    std::fs::write(&bad, "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"><process id=\"p\"/></definitions>").unwrap();
    let out = std::process::Command::new(&bin)
        .arg("validate")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad.bpmn:1:") && text.contains("error[no-start-event]"),
        "{text}"
    );
    let out = std::process::Command::new(&bin)
        .args(["validate", "--format", "json"])
        .arg(&bad)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["diagnostics"][0]["code"], "no-start-event");
    let usage = std::process::Command::new(&bin)
        .args(["validate", "/no/such/file.bpmn"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let usage = std::process::Command::new(&bin)
        .args(["validate"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

/// Regression: `flyt validate dir | head -1` panicked with "Broken pipe" (exit 101). A closed
/// pipe now ends the command quietly with 141, as a Unix tool killed by SIGPIPE; and a file
/// with thousands of problems lists 200 of them and counts the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_stops_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut tasks = String::new();
    for i in 0..1_000 {
        tasks.push_str(&format!("<task id=\"T{i}\"/>"));
    }
    let file = format!(
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"><process id=\"p\" isExecutable=\"true\"><startEvent id=\"S\"/>{tasks}</process></definitions>"
    );
    // Far more output than a pipe holds (64 KiB), so the command is still writing when the
    // reader goes.
    for n in 0..20 {
        std::fs::write(dir.path().join(format!("bad{n}.bpmn")), &file).unwrap();
    }
    let out = std::process::Command::new(flyt_tests::flyt_bin())
        .arg("validate")
        .arg(dir.path().join("bad0.bpmn"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("error[").count(), 200, "{text}");
    assert!(text.contains("more not shown"), "{text}");
    let mut child = std::process::Command::new(flyt_tests::flyt_bin())
        .arg("validate")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    assert!(first.contains("error["), "{first}");
    // The reader is dropped here: `head -1` has gone.
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(141), "{stderr}");
}
