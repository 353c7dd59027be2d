//! Scenario 5 by a real restart: two nodes on a PRIVATE PostgreSQL cluster (its own directory,
//! port and socket; the machine's shared server is never touched), stopped mid-run with cases
//! waiting at tasks and timers running. Meanwhile both nodes answer 503 at once; after the
//! cluster is started again they recover by themselves (their hint sessions too), every case
//! finishes and every timer fires once.

use super::{OWNER, TTD_ORGNO, assert_all_ended, create, finish_all, metric, next, start};
use flyt_tests::pg_cluster::PrivateCluster;
use flyt_tests::{eventually, http, org_token, repo, user_token};
use std::time::{Duration, Instant};

async fn ready(base: &str) -> u16 {
    match http().get(format!("{base}/health/ready")).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_answer_503_while_their_database_restarts_and_finish_everything_after() {
    let Some(mut cluster) = PrivateCluster::start("two_nodes_through_a_database_restart") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = super::config_file(
        dir.path(),
        "flyt.toml",
        &repo().join("processes"),
        &cluster.url(),
        "[worker]\npoll_ms = 250\n",
    );
    let bases: Vec<String> = (0..2)
        .map(|_| format!("http://127.0.0.1:{}", super::free_port()))
        .collect();
    let _nodes: Vec<_> = bases
        .iter()
        .map(|base| start(dir.path(), &config, base))
        .collect();
    for base in &bases {
        eventually("listening for hints", Duration::from_secs(30), || {
            let base = base.clone();
            async move { (metric(&base, "flyt_work_hints_listening").await? == 1).then_some(()) }
        })
        .await;
    }
    let owner = user_token(&bases[0], OWNER, &[]).await;
    let ttd = org_token(&bases[1], TTD_ORGNO, Some("ttd"), "").await;
    // Half the cases fall due a few seconds from now: their timers fire after the restart.
    let mut cases = Vec::new();
    for i in 0..6usize {
        let late = i % 2 == 1;
        let location = create(&bases[i % 2], &owner, if late { 4_000 } else { 3_600_000 })
            .await
            .unwrap();
        assert_eq!(
            next(&bases[(i + 1) % 2], &location, &owner, "Register").await,
            200
        );
        cases.push((location, late));
    }

    // The database goes down (fast shutdown: every session is ended).
    tokio::task::block_in_place(|| cluster.stop());
    for base in &bases {
        assert_eq!(ready(base).await, 503, "{base} ready without its database");
        let started = Instant::now();
        assert_eq!(create(base, &owner, 3_600_000).await, Err(503));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "503 comes fast: {:?}",
            started.elapsed()
        );
    }

    // Back on the same port: both nodes recover by themselves, hint sessions included.
    tokio::task::block_in_place(|| cluster.start_again());
    for base in &bases {
        eventually("ready again", Duration::from_secs(30), || {
            let base = base.clone();
            async move { (ready(&base).await == 200).then_some(()) }
        })
        .await;
        eventually("the hint session back", Duration::from_secs(30), || {
            let base = base.clone();
            async move {
                let on = metric(&base, "flyt_work_hints_listening").await? == 1;
                let connects = metric(&base, "flyt_work_hint_connects_total").await?;
                (on && connects >= 2).then_some(())
            }
        })
        .await;
    }
    finish_all(&bases, &cases, &ttd).await;
    assert_all_ended(&bases[1], &cases, &ttd).await;
}
