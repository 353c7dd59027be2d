//! Scenario 2: a node frozen (SIGSTOP) past its job's lease, then continued (SIGCONT). Another
//! node takes the job when the lease runs out; the frozen node's late outcome is refused by the
//! lease fence (counted in its `flyt_job_outcomes_refused_total`), and the task ends once.
//!
//! Short leases come from `[worker] lease_margin_ms` and the handler's `timeout_ms`, so nothing
//! sleeps: the test waits for events (calls reaching the stand-in, a counter, a state), each with
//! a deadline.

use super::standin::{self, StandIn};
use super::{OWNER, count, history, metric, process, start};
use flyt_engine::store::postgres::testing::TempDatabase;
use flyt_tests::{Flyt, eventually, user_token};
use std::time::Duration;

/// The createInstance handler's timeout; a lease lasts this plus `LEASE_MARGIN_MS`.
const HANDLER_TIMEOUT_MS: u64 = 3_000;
const LEASE_MARGIN_MS: u64 = 500;
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_past_its_lease_has_its_late_outcome_refused_and_the_task_ends_once() {
    let Some(db) = TempDatabase::create("a_node_stopped_past_its_lease") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let processes = standin::grant_application(dir.path());
    // Every call waits until the test releases it.
    let standin = StandIn::start(0).await;
    let bases: Vec<String> = (0..3)
        .map(|_| format!("http://127.0.0.1:{}", super::free_port()))
        .collect();
    let mut nodes: Vec<Flyt> = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let tables = format!(
            "{}[service_tasks.createInstance]\ntimeout_ms = {HANDLER_TIMEOUT_MS}\nmax_attempts = 6\ninitial_backoff_ms = 200\nmax_backoff_ms = 1000\n[worker]\npoll_ms = 250\nlease_margin_ms = {LEASE_MARGIN_MS}\n",
            standin::outgoing(&standin, i, base)
        );
        let config = super::config_file(
            dir.path(),
            &format!("node-{i}.toml"),
            &processes,
            db.url(),
            &tables,
        );
        nodes.push(start(dir.path(), &config, base));
    }
    let alice = user_token(&bases[0], OWNER, &[]).await;
    let location = standin::apply(&bases[0], &bases[1], &alice).await;

    // Some node leased the job and is inside its handler, waiting for the stand-in's answer:
    // freeze it there.
    let first = standin.calls(1).await[0].clone();
    let frozen = first.node;
    nodes[frozen].pause();

    // Once the lease runs out another node takes the job (attempt 2) and calls again, with the
    // same Idempotency-Key; the stand-in holds that call too.
    let second = standin.calls(2).await[1].clone();
    assert_ne!(second.node, frozen, "the frozen node cannot call");
    assert_eq!(second.key, first.key, "a retry keeps its key");

    // The frozen node continues and gets its (late) answer: whatever it records, the job is
    // now leased to the other node under another token, and the fence refuses it.
    standin.release(1);
    nodes[frozen].resume();
    eventually("the late outcome to be refused", WAIT, || {
        let base = bases[frozen].clone();
        async move { (metric(&base, "flyt_job_outcomes_refused_total").await? == 1).then_some(()) }
    })
    .await;
    let state = process(&bases[frozen], &location, &alice).await;
    assert_eq!(
        state["currentTask"]["elementId"], "SendToCaseHandling",
        "nothing of the late outcome was applied: {state}"
    );
    let events = history(&bases[frozen], &location, &alice).await;
    assert_eq!(count(&events, "process_EndTask", "SendToCaseHandling"), 0);

    // The other node's call is answered: it completes the job; the task ends exactly once.
    standin.release(usize::MAX);
    eventually("the application to end", WAIT, || {
        let (base, location, alice) = (bases[second.node].clone(), location.clone(), alice.clone());
        async move {
            process(&base, &location, &alice).await["ended"]
                .as_str()
                .map(|_| ())
        }
    })
    .await;
    let events = history(&bases[frozen], &location, &alice).await;
    assert_eq!(
        count(&events, "process_EndTask", "SendToCaseHandling"),
        1,
        "{events:#?}"
    );
    let created = standin.created();
    assert_eq!(created.len(), 1, "one case for one key: {created:?}");
    let recorded: Vec<&str> = events
        .iter()
        .filter_map(|e| e["details"]["createdInstance"]["id"].as_str())
        .collect();
    assert_eq!(recorded, [created[&first.key].as_str()]);
    let calls = standin.calls(2).await;
    assert!(calls.iter().all(|c| c.key == first.key), "{calls:?}");
    let mut completed = 0;
    let mut refused = Vec::new();
    for base in &bases {
        completed += metric(base, "flyt_jobs_completed_total").await.unwrap();
        refused.push(
            metric(base, "flyt_job_outcomes_refused_total")
                .await
                .unwrap(),
        );
    }
    assert_eq!(completed, 1, "one completion across the nodes");
    let mut expected = vec![0, 0, 0];
    expected[frozen] = 1;
    assert_eq!(
        refused, expected,
        "only the frozen node's outcome was refused"
    );
    assert_eq!(
        db.query_strings("SELECT count(*)::text FROM flyt_jobs")
            .unwrap(),
        [Some("0".to_string())],
        "no job left behind"
    );
}
