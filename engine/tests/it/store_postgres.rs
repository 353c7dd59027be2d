//! The PostgreSQL backend beyond the contract: two backends (two nodes) on one database racing
//! for one record, the schema an operator queries, and a redb store copied over and continued.
//! Each test creates a database of its own and drops it; without a server they say plainly that
//! they were skipped (with `FLYT_REQUIRE_POSTGRES=1` they fail).

use crate::rt::*;
use crate::support::doc;
use async_trait::async_trait;
use flyt_engine::app::AppSpec;
use flyt_engine::hooks::{JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome};
use flyt_engine::ids::InstanceId;
use flyt_engine::runtime::worker::Worker;
use flyt_engine::store::backend::{Backend, Check, Unit};
use flyt_engine::store::copy::copy_all;
use flyt_engine::store::layout;
use flyt_engine::store::open::{BackendKind, open_postgres};
use flyt_engine::store::postgres::testing::TempDatabase;
use flyt_engine::store::{Store, group::GroupConfig};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn process() -> String {
    doc(r#"<startEvent id="start"/>
<task id="fill"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
<serviceTask id="send" flyt:type="send"/>
<task id="done"><extensionElements><altinn:taskExtension><altinn:taskType>feedback</altinn:taskType></altinn:taskExtension></extensionElements></task>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
<sequenceFlow id="f2" sourceRef="fill" targetRef="send"/>
<sequenceFlow id="f3" sourceRef="send" targetRef="done"/>
<sequenceFlow id="f4" sourceRef="done" targetRef="end"/>"#)
}

struct Done;

#[async_trait]
impl ServiceTaskHandler for Done {
    async fn execute(&self, _ctx: JobContext) -> ServiceTaskOutcome {
        ServiceTaskOutcome::done()
    }
}

fn registry() -> Registry {
    Registry::builder()
        .service_task("send", Arc::new(Done))
        .build()
}

/// Polls (yielding, never sleeping) until `check` holds; fails after 20 s of real time.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::task::yield_now().await;
    }
}

#[test]
fn two_nodes_racing_for_one_record_have_exactly_one_winner() {
    let Some(db) = TempDatabase::create("two_nodes_racing_for_one_record") else {
        return;
    };
    let nodes: Vec<Arc<dyn Backend>> = (0..2)
        .map(|_| open_postgres(db.url(), true).unwrap())
        .collect();
    let mut seed = Unit::new();
    seed.put(b"Jrecord".to_vec(), b"\x01rev0".to_vec());
    assert_eq!(nodes[0].apply(&[seed]).unwrap(), vec![Ok(())]);
    for round in 0..5 {
        let barrier = Arc::new(Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let (node, barrier) = (nodes[t % 2].clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut unit = Unit::new();
                    unit.check(Check::Prefix {
                        key: b"Jrecord".to_vec(),
                        prefix: format!("\x01rev{round}").into_bytes(),
                    })
                    .put(
                        b"Jrecord".to_vec(),
                        format!("\x01rev{}", round + 1).into_bytes(),
                    );
                    // An absent-checked key too: only the winner may create it.
                    unit.check(Check::Absent(format!("Kclaim{round}").into_bytes()))
                        .put(format!("Kclaim{round}").into_bytes(), vec![t as u8]);
                    barrier.wait();
                    node.apply(&[unit]).unwrap().remove(0).is_ok()
                })
            })
            .collect();
        let wins = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1, "round {round}: exactly one writer wins");
    }
    assert_eq!(
        nodes[1].get(b"Jrecord").unwrap().as_deref(),
        Some(&b"\x01rev5"[..])
    );
}

/// A key that must be absent has no row to lock: under the default `READ COMMITTED`, two nodes
/// creating it at once are told apart by the plain insert, whose unique violation sends the
/// loser's batch back to read the winner's row and fail its check. Also with other units in
/// the same batches (the loser's other unit still commits).
#[test]
fn two_nodes_creating_one_key_have_exactly_one_winner() {
    let Some(db) = TempDatabase::create("two_nodes_creating_one_key") else {
        return;
    };
    let nodes: Vec<Arc<dyn Backend>> = (0..2)
        .map(|_| open_postgres(db.url(), true).unwrap())
        .collect();
    for round in 0..5 {
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (node, barrier) = (nodes[t % 2].clone(), barrier.clone());
                std::thread::spawn(move || {
                    let key = format!("Kcreated{round}").into_bytes();
                    let mut create = Unit::new();
                    create
                        .check(Check::Absent(key.clone()))
                        .put(key, vec![t as u8]);
                    let mut own = Unit::new();
                    own.put(format!("Kown{round}-{t}").into_bytes(), vec![1]);
                    barrier.wait();
                    let outcomes = node.apply(&[create, own]).unwrap();
                    assert_eq!(outcomes[1], Ok(()), "the other unit commits");
                    outcomes[0].is_ok()
                })
            })
            .collect();
        let winners: Vec<usize> = threads
            .into_iter()
            .enumerate()
            .filter_map(|(t, h)| h.join().unwrap().then_some(t))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let stored = nodes[0].get(format!("Kcreated{round}").as_bytes()).unwrap();
        assert_eq!(stored, Some(vec![winners[0] as u8]), "the winner's value");
        for t in 0..8 {
            let own = nodes[1].get(format!("Kown{round}-{t}").as_bytes()).unwrap();
            assert_eq!(own, Some(vec![1]), "round {round}: unit of {t}");
        }
    }
}

/// The claim scans (due jobs, due timers, the external work queue) read with `FOR UPDATE SKIP
/// LOCKED`: an entry another transaction holds locked (a node committing its claim) is left
/// out, a plain range still reads it, and once that transaction ends the scan sees it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_scan_skips_the_due_entries_another_transaction_holds() {
    let Some(db) = TempDatabase::create("a_claim_scan_skips") else {
        return;
    };
    let backend = open_postgres(db.url(), true).unwrap();
    let key = |s: &str| [&[layout::DUE][..], s.as_bytes()].concat();
    let mut unit = Unit::new();
    unit.put(key("a"), Vec::new()).put(key("b"), Vec::new());
    backend.apply(&[unit]).unwrap().remove(0).unwrap();
    let config: tokio_postgres::Config = db.url().parse().unwrap();
    let (other, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    other.batch_execute("BEGIN").await.unwrap();
    other
        .execute(
            "SELECT 1 FROM flyt_due WHERE k = $1 FOR UPDATE",
            &[&key("a")],
        )
        .await
        .unwrap();
    let (start, end) = ([layout::DUE], [layout::DUE + 1]);
    let keys = |entries: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<Vec<u8>> {
        entries.into_iter().map(|(k, _)| k).collect()
    };
    assert_eq!(
        keys(backend.range_unclaimed(&start, &end, 10).unwrap()),
        vec![key("b")]
    );
    assert_eq!(
        keys(backend.range(&start, &end, 10).unwrap()),
        vec![key("a"), key("b")]
    );
    other.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        keys(backend.range_unclaimed(&start, &end, 10).unwrap()),
        vec![key("a"), key("b")]
    );
}

/// A database at schema version 1 (as the first release left it, with a row in it): a node
/// with `migrate = false` refuses it and names `flyt store migrate`; migrating applies exactly
/// version 2 (only adding: the row is still there, its new columns empty), a second migrate
/// applies nothing, and the node then opens it.
#[test]
fn a_database_at_schema_version_1_is_refused_without_migrate_and_upgraded_by_it() {
    use flyt_engine::store::postgres::{PostgresBackend, PostgresOptions, schema};
    let Some(db) = TempDatabase::create("a_database_at_schema_version_1") else {
        return;
    };
    let first = &schema::MIGRATIONS[0];
    assert_eq!(first.version, 1);
    db.execute(&format!(
        "{};\n{}\nINSERT INTO flyt_schema_migrations (version, description) VALUES (1, 'v1');\n\
         INSERT INTO flyt_jobs (k, v, state) VALUES ('\\x4a01', '\\x00', 'queued');",
        schema::MIGRATIONS_TABLE,
        first.sql
    ))
    .unwrap();
    let refused = PostgresBackend::open(&PostgresOptions::new(db.url()).with_migrate(false))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("flyt store migrate"), "{refused}");
    let backend =
        PostgresBackend::open(&PostgresOptions::new(db.url()).with_migrate(true)).unwrap();
    assert_eq!(backend.schema_version().unwrap(), schema::current_version());
    assert_eq!(
        backend.migrate().unwrap(),
        Vec::<i32>::new(),
        "nothing left to apply"
    );
    let applied = db
        .query_strings(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM flyt_schema_migrations",
        )
        .unwrap();
    let all: Vec<String> = schema::MIGRATIONS
        .iter()
        .map(|m| m.version.to_string())
        .collect();
    assert_eq!(applied, vec![Some(all.join(","))]);
    assert_eq!(
        db.query_strings("SELECT coalesce(lease_holder, 'none') || '/' || state FROM flyt_jobs")
            .unwrap(),
        vec![Some("none/queued".to_string())],
        "the old row kept, its new column empty"
    );
}

/// A value holding a NUL character (an external worker's error message, say) is stored with
/// the rest of its batch: its derived columns, which PostgreSQL's `text` and `jsonb` refuse a
/// NUL in, carry U+FFFD instead, and the value itself reads back exactly. (Before, the cast
/// failed the whole batch, every unit in it, at every retry.)
#[test]
fn a_nul_character_in_a_value_does_not_fail_its_batch() {
    let Some(db) = TempDatabase::create("a_nul_character_in_a_value") else {
        return;
    };
    let backend = open_postgres(db.url(), true).unwrap();
    let id = InstanceId::new_random();
    let events = serde_json::json!([{ "seq": 0, "message": "bad\u{0}byte" }]);
    let value = flyt_engine::store::codec::encode(&events);
    let mut history = Unit::new();
    history.put(layout::history(id, 0), value.clone());
    let mut other = Unit::new();
    other.put(b"Kother".to_vec(), b"v".to_vec());
    assert_eq!(
        backend.apply(&[history, other]).unwrap(),
        vec![Ok(()), Ok(())]
    );
    assert_eq!(backend.get(&layout::history(id, 0)).unwrap(), Some(value));
    assert_eq!(
        db.query_strings("SELECT events->0->>'message' FROM flyt_history")
            .unwrap(),
        vec![Some("bad\u{FFFD}byte".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redb_store_copied_to_postgres_continues_there_and_reads_as_sql() {
    let Some(db) = TempDatabase::create("a_redb_store_copied_to_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // On redb: instances at a user task, at a service task (its job queued: no worker runs),
    // at the last task, and ended.
    let (at_fill, at_send, at_done, ended): (InstanceId, InstanceId, InstanceId, InstanceId);
    {
        let store = Store::open(
            BackendKind::Redb,
            dir.path(),
            8 << 20,
            GroupConfig::default(),
        )
        .unwrap();
        let h = Harness::with(&process(), store, registry(), AppSpec::open(app_id())).await;
        at_fill = h.create().await.id;
        let worker = Worker::spawn(h.rt.clone());
        let (a, b) = (h.create().await.id, h.create().await.id);
        for id in [a, b] {
            h.next(id, None, None).await.unwrap();
            eventually("the send job on redb", || {
                h.rt.instance(id).ok().filter(|i| h.active(i) == ["done"])
            })
            .await;
        }
        worker.stop(Duration::from_secs(5)).await;
        h.next(b, None, None).await.unwrap();
        at_send = h.create().await.id;
        h.next(at_send, None, None).await.unwrap();
        (at_done, ended) = (a, b);
        h.rt.store().shutdown();
    }

    // The copy: every key, verified; a rerun is harmless.
    let source = Store::open(
        BackendKind::Redb,
        dir.path(),
        8 << 20,
        GroupConfig::default(),
    )
    .unwrap();
    let target = open_postgres(db.url(), true).unwrap();
    let first = copy_all(&**source.backend(), &*target).unwrap();
    assert_eq!(copy_all(&**source.backend(), &*target).unwrap(), first);
    assert!(first.keys > 10, "{first:?}");
    source.shutdown();
    drop(target);

    // The schema an operator reads.
    let at_task = db
        .query_strings(
            "SELECT instance_id::text FROM flyt_instances \
             WHERE app = 'ttd/test' AND elements ? 'fill'",
        )
        .unwrap();
    assert_eq!(at_task, vec![Some(at_fill.to_string())]);
    let ended_rows = db
        .query_strings("SELECT instance_id::text FROM flyt_instances WHERE ended")
        .unwrap();
    assert_eq!(ended_rows, vec![Some(ended.to_string())]);
    let queued = db
        .query_strings("SELECT instance_id::text FROM flyt_jobs WHERE state = 'queued'")
        .unwrap();
    assert_eq!(queued, vec![Some(at_send.to_string())]);
    let history = db
        .query_strings(&format!(
            "SELECT e->>'eventType' FROM flyt_history, jsonb_array_elements(events) e \
             WHERE instance_id = '{ended}' ORDER BY seq, (e->>'seq')::int"
        ))
        .unwrap();
    assert!(
        history.first() == Some(&Some("process_StartEvent".to_string()))
            && history.last() == Some(&Some("process_EndEvent".to_string())),
        "{history:?}"
    );

    // Continued on PostgreSQL: the queued job runs, the others move on, all end.
    let store = Store::open_postgres(db.url(), true, dir.path(), GroupConfig::default()).unwrap();
    let h = Harness::with(&process(), store, registry(), AppSpec::open(app_id())).await;
    let worker = Worker::spawn(h.rt.clone());
    h.next(at_fill, None, None).await.unwrap();
    for id in [at_fill, at_send] {
        eventually("the send job on PostgreSQL", || {
            h.rt.instance(id).ok().filter(|i| h.active(i) == ["done"])
        })
        .await;
    }
    for id in [at_fill, at_send, at_done] {
        h.next(id, None, None).await.unwrap();
    }
    for id in [at_fill, at_send, at_done, ended] {
        let instance = h.rt.instance(id).unwrap();
        assert!(instance.is_ended(), "{id} ended");
        let history = h.rt.history(id).unwrap();
        for (i, event) in history.iter().enumerate() {
            assert_eq!(event.seq as usize, i, "{id}: history contiguous");
        }
    }
    worker.stop(Duration::from_secs(5)).await;
    h.rt.store().shutdown();
}

/// A node paused past its lease (as by SIGSTOP) cannot apply its late result: two runtimes on
/// one database, one clock each moved together. While A holds the lease B cannot take the job;
/// after it runs out B takes it (attempt 2) and completes it; A's late completion is refused,
/// and the task ended once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_paused_past_its_lease_cannot_complete_the_job_late() {
    let Some(db) = TempDatabase::create("a_node_paused_past_its_lease") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = || Store::open_postgres(db.url(), true, dir.path(), GroupConfig::default()).unwrap();
    let a = Harness::with(&process(), node(), registry(), AppSpec::open(app_id())).await;
    let b = Harness::with(&process(), node(), registry(), AppSpec::open(app_id())).await;
    let instance = a.create().await.id;
    a.next(instance, None, None).await.unwrap(); // at `send`; no worker runs
    let job = {
        let i = b.rt.instance(instance).unwrap();
        let (_, _, key) = i.process.job_tokens().next().unwrap();
        key
    };
    let lease = Duration::from_secs(30);
    let late =
        a.rt.lease_job(job, false, "node-a", lease)
            .await
            .unwrap()
            .expect("A leases the job");
    // An operator sees who holds it.
    let holder = || {
        db.query_strings("SELECT lease_holder FROM flyt_jobs WHERE state = 'leased'")
            .unwrap()
    };
    assert_eq!(holder(), vec![Some("node-a".to_string())]);
    assert!(
        b.rt.lease_job(job, false, "node-b", lease)
            .await
            .unwrap()
            .is_none(),
        "B cannot take a live lease"
    );
    for h in [&a, &b] {
        h.clock.advance(Duration::from_secs(31));
    }
    let current =
        b.rt.lease_job(job, false, "node-b", lease)
            .await
            .unwrap()
            .expect("B takes the expired lease");
    assert_eq!(current.job.attempts, 2);
    assert_eq!(holder(), vec![Some("node-b".to_string())]);
    b.rt.complete_job(&current, flyt_engine::hooks::Completion::default())
        .await
        .unwrap();
    assert!(
        a.rt.complete_job(&late, flyt_engine::hooks::Completion::default())
            .await
            .is_err(),
        "A's late completion is refused"
    );
    let refused =
        |h: &Harness| flyt_engine::runtime::Metrics::get(&h.rt.metrics().job_outcomes_refused);
    assert_eq!(
        (refused(&a), refused(&b)),
        (1, 0),
        "A counts its refused outcome"
    );
    let ends =
        b.rt.history(instance)
            .unwrap()
            .iter()
            .filter(|e| {
                e.event_type == flyt_engine::model::EventType::EndTask
                    && e.element_id.as_ref().is_some_and(|x| x.as_str() == "send")
            })
            .count();
    assert_eq!(ends, 1, "the task ended once");
    assert_eq!(b.active(&b.rt.instance(instance).unwrap()), ["done"]);
    a.rt.store().shutdown();
    b.rt.store().shutdown();
}

/// Wake-up hints: a hint from node A wakes node B's worker (B listens on a session of its own),
/// and when that session is killed B reconnects by itself and is woken again. The hints are
/// only hints: nothing here depends on them for correctness, only for promptness.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_from_one_node_wakes_the_other_and_survives_a_killed_session() {
    let Some(db) = TempDatabase::create("a_hint_wakes_the_other_node") else {
        return;
    };
    let a = open_postgres(db.url(), true).unwrap();
    let b = open_postgres(db.url(), true).unwrap();
    assert!(
        !b.hint_stats().unwrap().listening,
        "no listener before a worker asks"
    );
    let wake = Arc::new(tokio::sync::Notify::new());
    b.listen_for_work(wake.clone());
    let hinted = |connects: u64| {
        let (a, b, wake) = (a.clone(), b.clone(), wake.clone());
        async move {
            eventually("B to listen", || {
                let s = b.hint_stats().unwrap();
                (s.listening && s.connects == connects).then_some(())
            })
            .await;
            let before = b.hint_stats().unwrap().received;
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            a.hint_work();
            tokio::time::timeout(Duration::from_secs(10), woken)
                .await
                .expect("A's hint wakes B");
            assert_eq!(b.hint_stats().unwrap().received, before + 1);
        }
    };
    hinted(1).await;
    // (A counts its hint once the server has answered, which may be after B got it.)
    eventually("A to count its hint", || {
        (a.hint_stats().unwrap().sent >= 1).then_some(())
    })
    .await;

    // B's hint session is killed (as by a database restart or an operator): B notices, says
    // so in its stats, reconnects, and is woken by A's next hint.
    db.execute_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{}' AND application_name = 'flyt-hints'",
        db.name()
    ))
    .unwrap();
    hinted(2).await;
    a.close().unwrap();
    b.close().unwrap();
    assert!(!b.hint_stats().unwrap().listening);
}

/// A node caches its apps' definition heads for creates (one point read per create saved); a
/// deploy acknowledged through another node must still be used by every create after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_through_one_node_is_used_by_the_next_create_on_another() {
    let Some(db) = TempDatabase::create("a_deploy_through_one_node") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = || Store::open_postgres(db.url(), true, dir.path(), GroupConfig::default()).unwrap();
    let a = Harness::with(&process(), node(), registry(), AppSpec::open(app_id())).await;
    let b = Harness::with(&process(), node(), registry(), AppSpec::open(app_id())).await;
    // A has read (and keeps) the head at version 1.
    assert_eq!(a.create().await.definition_version, 1);
    assert_eq!(a.create().await.definition_version, 1);
    let changed = process().replace("\"done\"", "\"finish\"");
    let deployed =
        b.rt.deploy(&app_id(), changed.as_bytes(), "test")
            .await
            .unwrap();
    assert_eq!(deployed.version, 2);
    // Acknowledged: A's next creates use version 2, with no error to the caller.
    for _ in 0..3 {
        let created = a.create().await;
        assert_eq!(created.definition_version, 2, "a create after the deploy");
        assert!(
            a.rt.instance(created.id).is_ok(),
            "the instance was committed"
        );
    }
    // A deploy through A itself is used at once as before.
    let again = process().replace("\"done\"", "\"finished\"");
    let deployed =
        a.rt.deploy(&app_id(), again.as_bytes(), "test")
            .await
            .unwrap();
    assert_eq!(deployed.version, 3);
    assert_eq!(a.create().await.definition_version, 3);
    assert_eq!(b.create().await.definition_version, 3);
}
