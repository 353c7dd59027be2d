//! `flyt bench peer`, the driver for the peer benchmark kit, in each of its modes with tiny
//! numbers: the one JSON line it prints must be well-formed and `ok`. Nothing about speed is
//! asserted. The BPMN files are copies of the kit's (`tests/fixtures/bench-peers/`), and the
//! score app is a stub served here, so the test needs nothing outside this repository.

use axum::Json;
use axum::routing::post;
use serde_json::Value;
use std::time::Duration;

const N: u64 = 12;

/// The kit's score app: `POST /score {"i": i}` → 150 for even `i`, else 50.
async fn score_app() -> u16 {
    let app = axum::Router::new().route(
        "/score",
        post(|Json(body): Json<Value>| async move {
            Json(if body["i"].as_u64().unwrap_or(0) % 2 == 0 {
                150
            } else {
                50
            })
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Runs the driver on one of the kit's processes and returns its checked line.
async fn peer(process: &str, flags: &[&str], port: u16) -> Value {
    let bin = tokio::task::spawn_blocking(flyt_tests::flyt_bin)
        .await
        .unwrap();
    let bpmn = flyt_tests::repo()
        .join("tests/fixtures/bench-peers")
        .join(format!("{process}.bpmn"));
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("bench")
        .arg("peer")
        .arg(format!("--bpmn={}", bpmn.display()))
        .arg(format!("--process={process}"))
        .arg(format!("--n={N}"))
        .arg(format!("--port={port}"))
        // The kit's runner passes unknown flags and repeats `--concurrency`: both are fine.
        .arg("--some-future-flag=1")
        .args(flags)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("the driver finished within 300 s")
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{flags:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stdout: {stdout}");
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["ok"], true, "{line}");
    assert_eq!(line["peer"], "flyt", "{line}");
    assert_eq!(line["n"], N, "{line}");
    assert!(line["version"].is_string(), "{line}");
    for key in ["run_s", "instances_per_s"] {
        assert!(
            line[key].as_f64().is_some_and(|v| v.is_finite() && v > 0.0),
            "{key}: {line}"
        );
    }
    let (b, c) = (
        line["branches"]["B"].as_u64().unwrap(),
        line["branches"]["C"].as_u64().unwrap(),
    );
    assert_eq!((b, c), (N.div_ceil(2), N / 2), "{line}");
    for key in ["mode", "backend", "via", "durability", "service_call"] {
        assert!(line[key].is_string(), "{key}: {line}");
    }
    assert!(line["durable"].is_boolean(), "{line}");
    assert!(line["clients"].as_u64().is_some_and(|k| k >= 1), "{line}");
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_mode_runs_inmem_resume_and_hold() {
    let port = score_app().await;
    let line = peer("approval", &["--mode=inmem", "--service=stub"], port).await;
    assert_eq!(
        (&line["via"], &line["backend"], &line["durable"]),
        (&"library".into(), &"memory".into(), &false.into())
    );
    let line = peer(
        "approval_service",
        &[
            "--mode=resume",
            "--service=http",
            "--concurrency=64",
            "--concurrency=3",
        ],
        port,
    )
    .await;
    assert_eq!(
        (&line["backend"], &line["durable"], &line["clients"]),
        (&"redb".into(), &true.into(), &3.into())
    );
    assert_eq!(line["service_calls"], N, "{line}");
    let line = peer(
        "approval",
        &["--mode=hold", "--service=stub", "--concurrency=4"],
        port,
    )
    .await;
    assert!(line["hold"]["kb_per_parked_instance"].is_number(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_mode_runs_inmem_resume_and_hold() {
    let port = score_app().await;
    let line = peer(
        "approval_service",
        &[
            "--via=rest",
            "--mode=inmem",
            "--service=http",
            "--concurrency=4",
        ],
        port,
    )
    .await;
    assert_eq!(
        (&line["via"], &line["backend"]),
        (&"rest".into(), &"memory".into())
    );
    assert_eq!(line["service_calls"], N, "{line}");
    let line = peer(
        "approval",
        &["--via=rest", "--mode=resume", "--service=stub"],
        port,
    )
    .await;
    assert_eq!(
        (&line["backend"], &line["durable"]),
        (&"redb".into(), &true.into())
    );
    let line = peer(
        "approval_service",
        &[
            "--via=rest",
            "--mode=hold",
            "--service=stub",
            "--concurrency=3",
        ],
        port,
    )
    .await;
    assert!(line["hold"]["kb_per_parked_instance"].is_number(), "{line}");
}
