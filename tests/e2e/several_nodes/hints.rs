//! Wake-up hints (LISTEN/NOTIFY): a job created through node A, which runs no worker
//! (`[worker] enabled = false`), is run by node B's worker at once although B polls only every
//! two minutes. The deadline is far shorter than B's poll interval, so without the hint the test
//! fails. Then B's hint session is killed: B reconnects by itself, and the next job is as prompt.

use super::standin::{self, StandIn};
use super::{OWNER, metric, process, start};
use flyt_engine::store::postgres::testing::TempDatabase;
use flyt_tests::{eventually, user_token};
use std::time::Duration;

/// B's poll interval: longer than the whole test.
const B_POLL_MS: u64 = 120_000;
/// How soon B must have run a job: far below `B_POLL_MS`.
const PROMPTLY: Duration = Duration::from_secs(15);

/// Waits until B listens, on its `connects`-th hint session.
async fn listening(b: &str, connects: u64) {
    eventually("B to listen for hints", Duration::from_secs(30), || {
        let b = b.to_string();
        async move {
            let on = metric(&b, "flyt_work_hints_listening").await? == 1;
            let n = metric(&b, "flyt_work_hint_connects_total").await?;
            (on && n == connects).then_some(())
        }
    })
    .await;
}

/// Applies through A and waits (at most `PROMPTLY`) for the job to be done: only B runs jobs.
async fn applied_and_run_promptly(a: &str, token: &str) {
    let location = standin::apply(a, a, token).await;
    let started = std::time::Instant::now();
    eventually("B to run the job A created", PROMPTLY, || {
        let (a, location, token) = (a.to_string(), location.clone(), token.to_string());
        async move {
            process(&a, &location, &token).await["ended"]
                .as_str()
                .map(|_| ())
        }
    })
    .await;
    eprintln!(
        "the job created through A ran on B after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_created_through_one_node_runs_at_once_on_another_on_its_hint() {
    let Some(db) = TempDatabase::create("a_job_runs_at_once_on_a_hint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let processes = standin::grant_application(dir.path());
    let standin = StandIn::start(usize::MAX).await;
    let bases: Vec<String> = (0..2)
        .map(|_| format!("http://127.0.0.1:{}", super::free_port()))
        .collect();
    let worker = ["enabled = false", &format!("poll_ms = {B_POLL_MS}")];
    let nodes: Vec<_> = bases
        .iter()
        .enumerate()
        .map(|(i, base)| {
            let tables = format!(
                "{}[worker]\n{}\n",
                standin::outgoing(&standin, i, base),
                worker[i]
            );
            let config = super::config_file(
                dir.path(),
                &format!("node-{i}.toml"),
                &processes,
                db.url(),
                &tables,
            );
            start(dir.path(), &config, base)
        })
        .collect();
    let (a, b) = (&bases[0], &bases[1]);
    assert_eq!(
        metric(a, "flyt_work_hints_listening").await,
        Some(0),
        "A runs no worker, so it does not listen"
    );
    listening(b, 1).await;
    let alice = user_token(a, OWNER, &[]).await;

    applied_and_run_promptly(a, &alice).await;
    let calls = standin.calls(1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].node, 1, "B ran it");
    // (A counts a hint once the database has answered its NOTIFY.)
    eventually("A to count its hint", Duration::from_secs(10), || {
        let a = a.to_string();
        async move { (metric(&a, "flyt_work_hints_sent_total").await? >= 1).then_some(()) }
    })
    .await;
    assert!(metric(b, "flyt_work_hints_received_total").await.unwrap() >= 1);

    // B's hint session is killed (an operator, a failover): B says so, reconnects, and the next
    // job is as prompt.
    db.execute_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{}' AND application_name = 'flyt-hints'",
        db.name()
    ))
    .unwrap();
    listening(b, 2).await;
    applied_and_run_promptly(a, &alice).await;
    let calls = standin.calls(2).await;
    assert_eq!(calls[1].node, 1);
    drop(nodes);
}
