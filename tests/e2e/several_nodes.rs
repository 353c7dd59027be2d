//! Several `flyt serve` nodes on one PostgreSQL database (a database of its own per test, dropped
//! afterwards; skipped plainly without a server unless `FLYT_REQUIRE_POSTGRES=1`).
//!
//! The nodes share one `public_url` (as behind a load balancer) and one data directory for the
//! development authority's key, so a token works on every node; no sticky sessions, no
//! membership: every request goes to whichever node the test picks. The example app
//! `ttd/case-deadline` gives timers (a boundary timer on `Handle` at the case's deadline).
//! Deadlines are seconds ahead in real time; the tests poll with a bound, never sleep.
//!
//! Beside: a node stopped past its lease ([`stalled`]), wake-up hints between nodes
//! ([`hints`]), and a private PostgreSQL cluster restarted under two nodes ([`restart`]).

mod hints;
mod restart;
mod stalled;
mod standin;

use flyt_engine::store::postgres::testing::TempDatabase;
use flyt_tests::{Flyt, eventually, http, org_token, repo, user_token};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const OWNER: &str = "01017012345";
const TTD_ORGNO: &str = "974760673";
const PUBLIC: &str = "http://flyt.invalid";

fn config(dir: &Path, db: &TempDatabase) -> PathBuf {
    config_file(dir, "flyt.toml", &repo().join("processes"), db.url(), "")
}

/// A node's configuration in `dir/name`: PostgreSQL at `url`, the apps of `processes`, the data
/// directory shared, then `tables` (TOML sections).
fn config_file(dir: &Path, name: &str, processes: &Path, url: &str, tables: &str) -> PathBuf {
    let config = dir.join(name);
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"{PUBLIC}\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"postgres\"\nurl = \"{url}\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n{tables}",
            processes.display(),
            dir.join("data").display()
        ),
    )
    .unwrap();
    config
}

/// A counter or gauge of `base`'s `/metrics` (`None`: not there).
async fn metric(base: &str, name: &str) -> Option<u64> {
    let text = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A node on `base` (`http://127.0.0.1:port`); it announces the shared public URL, not this.
fn start(dir: &Path, config: &Path, base: &str) -> Flyt {
    let listen = base.trim_start_matches("http://");
    Flyt::start_with(dir, config, &[("FLYT_LISTEN", listen)])
}

/// Three nodes, started one after the other (the first creates the authority's key), and
/// their addresses.
fn three_nodes(dir: &Path, config: &Path) -> (Vec<Flyt>, Vec<String>) {
    let bases: Vec<String> = (0..3)
        .map(|_| format!("http://127.0.0.1:{}", free_port()))
        .collect();
    let nodes = bases.iter().map(|base| start(dir, config, base)).collect();
    (nodes, bases)
}

/// `location` (under the shared public URL) on node `base`.
fn on(base: &str, location: &str) -> String {
    location.replacen(PUBLIC, base, 1)
}

fn in_ms(ms: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(ms);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Creates a case on `base` due in `deadline_ms`; returns its location (public URL).
async fn create(base: &str, owner: &str, deadline_ms: i64) -> Result<String, u16> {
    let r = http()
        .post(format!("{base}/ttd/case-deadline/instances"))
        .bearer_auth(owner)
        .json(&json!({ "data": { "case": { "subject": "Fence permit", "deadline": in_ms(deadline_ms) } } }))
        .send()
        .await
        .unwrap();
    if r.status() != 201 {
        return Err(r.status().as_u16());
    }
    Ok(r.headers()["location"].to_str().unwrap().to_string())
}

async fn next(base: &str, location: &str, token: &str, task: &str) -> u16 {
    http()
        .put(format!("{}/process/next", on(base, location)))
        .bearer_auth(token)
        .json(&json!({ "taskId": task }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `PUT process/next` with an action (or none): the status.
async fn next_action(base: &str, location: &str, token: &str, action: Option<&str>) -> u16 {
    let mut r = http()
        .put(format!("{}/process/next", on(base, location)))
        .bearer_auth(token);
    if let Some(action) = action {
        r = r.json(&json!({ "action": action }));
    }
    r.send().await.unwrap().status().as_u16()
}

async fn process(base: &str, location: &str, token: &str) -> Value {
    let r = http()
        .get(format!("{}/process", on(base, location)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    if !r.status().is_success() {
        return Value::Null;
    }
    r.json().await.unwrap_or(Value::Null)
}

async fn history(base: &str, location: &str, token: &str) -> Vec<Value> {
    let h: Value = http()
        .get(format!("{}/process/history", on(base, location)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    h["processHistory"].as_array().cloned().unwrap_or_default()
}

fn count(events: &[Value], event_type: &str, element: &str) -> usize {
    events
        .iter()
        .filter(|e| e["eventType"] == event_type && e["elementId"] == element)
        .count()
}

/// Drives every case to its end through the nodes in turn: `Handle` cases (in time) are
/// decided, escalated ones decided late. Waits for the timers of the late ones.
async fn finish_all(bases: &[String], cases: &[(String, bool)], ttd: &str) {
    for (i, (location, late)) in cases.iter().enumerate() {
        let base = &bases[(i + 1) % bases.len()];
        if *late {
            eventually("the escalation", Duration::from_secs(60), || {
                let (base, location, ttd) = (base.clone(), location.clone(), ttd.to_string());
                async move {
                    let state = process(&base, &location, &ttd).await;
                    (state["currentTask"]["elementId"] == "Escalate").then_some(())
                }
            })
            .await;
            assert_eq!(next(base, location, ttd, "Escalate").await, 200);
        } else {
            assert_eq!(next(base, location, ttd, "Handle").await, 200, "{location}");
        }
    }
}

/// Every case ended, each timer fired exactly once, history numbered without gaps.
async fn assert_all_ended(base: &str, cases: &[(String, bool)], ttd: &str) {
    for (location, late) in cases {
        let state = process(base, location, ttd).await;
        let end = if *late { "DecidedLate" } else { "Decided" };
        assert_eq!(state["endEvent"], end, "{location}: {state}");
        let events = history(base, location, ttd).await;
        assert_eq!(
            count(&events, "process_StartTask", "Escalate"),
            usize::from(*late),
            "{location}: the timer fired once or not at all: {events:?}"
        );
    }
}

/// Instances whose history is not numbered 0, 1, … without gaps or repeats (read as SQL from
/// the history table's `events`, one row per transition).
fn gapped_histories(db: &TempDatabase) -> Vec<Option<String>> {
    db.query_strings(
        "SELECT instance_id::text FROM ( \
           SELECT h.instance_id, count(*) AS n, count(DISTINCT (e->>'seq')::int) AS d, \
                  min((e->>'seq')::int) AS lo, max((e->>'seq')::int) AS hi \
           FROM flyt_history h, jsonb_array_elements(CASE jsonb_typeof(h.events) \
             WHEN 'array' THEN h.events ELSE jsonb_build_array(h.events) END) e \
           GROUP BY h.instance_id) s \
         WHERE lo <> 0 OR hi <> n - 1 OR d <> n",
    )
    .unwrap()
}

/// Scenario 1 (and 4 on a database that is SERIALIZABLE by default): 30 cases created through
/// all three nodes, every other one left to its deadline (a few seconds ahead); node 3 is
/// SIGKILLed after the first third and restarted at the end. Every case ends, every timer fires
/// once, every history is numbered without gaps.
async fn cases_finish_through_a_sigkill(db: &TempDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), db);
    let (mut nodes, bases) = three_nodes(dir.path(), &config);
    let owner = user_token(&bases[0], OWNER, &[]).await;
    let ttd = org_token(&bases[1], TTD_ORGNO, Some("ttd"), "").await;
    let mut cases = Vec::new();
    for i in 0..30usize {
        if i == 10 {
            nodes[2].kill();
        }
        let up = if (10..30).contains(&i) { 2 } else { 3 };
        let base = &bases[i % up];
        let late = i % 2 == 1;
        let location = create(base, &owner, if late { 4_000 } else { 3_600_000 })
            .await
            .unwrap();
        assert_eq!(
            next(&bases[(i + 1) % up], &location, &owner, "Register").await,
            200
        );
        cases.push((location, late));
    }
    nodes[2] = start(dir.path(), &config, &bases[2]);
    finish_all(&bases, &cases, &ttd).await;
    assert_all_ended(&bases[2], &cases, &ttd).await;
    assert_eq!(gapped_histories(db), Vec::<Option<String>>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_finish_cases_with_timers_through_a_sigkill() {
    let Some(db) = TempDatabase::create("three_nodes_finish_cases_with_timers") else {
        return;
    };
    cases_finish_through_a_sigkill(&db).await;
}

/// Scenario 4: the same where every transaction is SERIALIZABLE by the database's default (as
/// on CockroachDB), so reads outside a batch take part in serialization too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_finish_through_a_sigkill_on_a_serializable_database() {
    let Some(db) = TempDatabase::create("three_nodes_serializable_by_default") else {
        return;
    };
    db.execute_admin(&format!(
        "ALTER DATABASE {} SET default_transaction_isolation = 'serializable'",
        db.name()
    ))
    .unwrap();
    assert_eq!(
        db.query_strings("SHOW default_transaction_isolation")
            .unwrap(),
        [Some("serializable".to_string())]
    );
    cases_finish_through_a_sigkill(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_moves_over_three_nodes_have_one_winner() {
    let Some(db) = TempDatabase::create("fifty_concurrent_moves_over_three_nodes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &db);
    let (_nodes, bases) = three_nodes(dir.path(), &config);
    let owner = user_token(&bases[0], OWNER, &[]).await;
    for round in 0..3 {
        let location = create(&bases[round], &owner, 3_600_000).await.unwrap();
        let moves = (0..50).map(|i| {
            let (base, location, owner) = (bases[i % 3].clone(), location.clone(), owner.clone());
            tokio::spawn(async move { next(&base, &location, &owner, "Register").await })
        });
        let mut statuses = Vec::new();
        for m in moves.collect::<Vec<_>>() {
            statuses.push(m.await.unwrap());
        }
        let wins = statuses.iter().filter(|s| **s == 200).count();
        let conflicts = statuses.iter().filter(|s| **s == 409).count();
        assert_eq!((wins, conflicts), (1, 49), "round {round}: {statuses:?}");
        let events = history(&bases[2], &location, &owner).await;
        assert_eq!(
            count(&events, "process_EndTask", "Register"),
            1,
            "{events:?}"
        );
    }
}

/// A node keeps a copy of each instance it last committed, and a move starts from it: after
/// another node has moved the instance, the copy is stale. The move must still be the one a
/// read of the database gives: `Handle` (which only the other node's move reached) moves, and
/// an `If-Match` with the version the other node answered holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_through_a_node_whose_copy_another_node_made_stale_uses_the_stored_instance() {
    let Some(db) = TempDatabase::create("a_move_through_a_node_whose_copy_is_stale") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &db);
    let bases: Vec<String> = (0..2)
        .map(|_| format!("http://127.0.0.1:{}", free_port()))
        .collect();
    let _nodes: Vec<Flyt> = bases
        .iter()
        .map(|b| start(dir.path(), &config, b))
        .collect();
    let owner = user_token(&bases[0], OWNER, &[]).await;
    // The service owner handles cases.
    let ttd = org_token(&bases[0], TTD_ORGNO, Some("ttd"), "").await;
    // Created through node 0 (which keeps it at `Register`), moved through node 1.
    let location = create(&bases[0], &owner, 3_600_000).await.unwrap();
    let moved = http()
        .put(format!("{}/process/next", on(&bases[1], &location)))
        .bearer_auth(&owner)
        .json(&json!({ "taskId": "Register" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let etag = moved.headers()["etag"].to_str().unwrap().to_string();
    // Through node 0 again, on the version node 1 answered.
    let r = http()
        .put(format!("{}/process/next", on(&bases[0], &location)))
        .bearer_auth(&ttd)
        .header("if-match", &etag)
        .json(&json!({ "taskId": "Handle" }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
    // And a move of a task already left is refused through either node, as before.
    assert_eq!(next(&bases[0], &location, &owner, "Register").await, 409);
    assert_eq!(next(&bases[1], &location, &ttd, "Handle").await, 409);
    let events = history(&bases[1], &location, &owner).await;
    assert_eq!(
        count(&events, "process_EndTask", "Register"),
        1,
        "{events:?}"
    );
    assert_eq!(count(&events, "process_EndTask", "Handle"), 1, "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_answer_503_while_the_database_is_gone_and_finish_everything_after() {
    let Some(db) = TempDatabase::create("nodes_answer_503_while_the_database_is_gone") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &db);
    let (_nodes, bases) = three_nodes(dir.path(), &config);
    let owner = user_token(&bases[0], OWNER, &[]).await;
    let ttd = org_token(&bases[1], TTD_ORGNO, Some("ttd"), "").await;
    let mut cases = Vec::new();
    for i in 0..9usize {
        let late = i % 2 == 1;
        let location = create(&bases[i % 3], &owner, if late { 3_000 } else { 3_600_000 })
            .await
            .unwrap();
        assert_eq!(
            next(&bases[(i + 1) % 3], &location, &owner, "Register").await,
            200
        );
        cases.push((location, late));
    }

    // The database refuses connections and every open one is killed.
    let name = db.name().to_string();
    db.execute_admin(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .unwrap();
    // pg_terminate_backend only signals: wait until the sessions are really gone. A session
    // that was connecting while the database was closed (a node's hint listener reconnects
    // within 100 ms of losing its session) can outlive the first round: end it too.
    eventually("the sessions to end", Duration::from_secs(30), || {
        db.execute_admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .unwrap();
        let sessions = db.sessions().unwrap();
        async move { (sessions == 0).then_some(()) }
    })
    .await;
    for base in &bases {
        let r = http()
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{base} ready while the database is gone");
        let started = std::time::Instant::now();
        assert_eq!(create(base, &owner, 3_600_000).await, Err(503));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "503 comes fast: {:?}",
            started.elapsed()
        );
    }

    // Back: every node recovers by itself; every case finishes, the timers fire once.
    db.execute_admin(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
    ))
    .unwrap();
    for base in &bases {
        eventually("ready again", Duration::from_secs(30), || {
            let base = base.clone();
            async move {
                let r = http()
                    .get(format!("{base}/health/ready"))
                    .send()
                    .await
                    .ok()?;
                (r.status() == 200).then_some(())
            }
        })
        .await;
    }
    finish_all(&bases, &cases, &ttd).await;
    assert_all_ended(&bases[0], &cases, &ttd).await;
}
