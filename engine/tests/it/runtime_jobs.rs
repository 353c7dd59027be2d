//! Service task jobs: retries with backoff, incidents, resume, idempotency keys, restarts.
//! Time is a manual clock: tests advance it instead of sleeping.

use crate::rt::*;
use crate::support::doc;
use async_trait::async_trait;
use flyt_engine::app::AppSpec;
use flyt_engine::hooks::{
    HandlerConfig, JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome,
};
use flyt_engine::ids::InstanceId;
use flyt_engine::model::{EventType, Instance, JobState};
use flyt_engine::runtime::worker::Worker;
use flyt_engine::store::open::BackendKind;
use flyt_engine::store::{Store, group::GroupConfig};
use flyt_engine::time::{Clock, ManualClock, Timestamp};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn process() -> String {
    doc(r#"<startEvent id="start"/>
<task id="fill"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
<serviceTask id="send" flyt:type="send"/>
<task id="done"><extensionElements><altinn:taskExtension><altinn:taskType>feedback</altinn:taskType><altinn:actions><altinn:action>reject</altinn:action></altinn:actions></altinn:taskExtension></extensionElements></task>
<exclusiveGateway id="g" default="end_flow"/>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
<sequenceFlow id="f2" sourceRef="fill" targetRef="send"/>
<sequenceFlow id="f3" sourceRef="send" targetRef="done"/>
<sequenceFlow id="f4" sourceRef="done" targetRef="g"/>
<sequenceFlow id="back" sourceRef="g" targetRef="fill"><conditionExpression>["equals", ["gatewayAction"], "reject"]</conditionExpression></sequenceFlow>
<sequenceFlow id="end_flow" sourceRef="g" targetRef="end"/>"#)
}

/// A handler whose answers the test scripts; it records every call.
#[derive(Default)]
struct Scripted {
    answers: Mutex<Vec<ServiceTaskOutcome>>,
    calls: Mutex<Vec<(u32, String)>>,
    hang: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ServiceTaskHandler for Scripted {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        self.calls
            .lock()
            .push((ctx.attempt, ctx.idempotency_key.clone()));
        if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let mut answers = self.answers.lock();
        if answers.is_empty() {
            ServiceTaskOutcome::done()
        } else {
            answers.remove(0)
        }
    }
}

fn config() -> HandlerConfig {
    HandlerConfig::default()
        .with_max_attempts(3)
        .with_backoff(Duration::from_secs(2), Duration::from_secs(60))
        .with_timeout(Duration::from_secs(30))
}

async fn harness(handler: Arc<Scripted>) -> (Harness, Worker) {
    let registry = Registry::builder()
        .service_task_with("send", handler, config())
        .build();
    let h = Harness::with(
        &process(),
        Store::memory(),
        registry,
        AppSpec::open(app_id()),
    )
    .await;
    let worker = Worker::spawn(h.rt.clone());
    (h, worker)
}

/// Polls (yielding, never sleeping) until `check` holds; fails after 10 s of real time.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::task::yield_now().await;
    }
}

fn job_of(h: &Harness, i: InstanceId) -> Option<(u64, flyt_engine::model::Job)> {
    let instance = h.rt.instance(i).ok()?;
    let (_, _, key) = instance.process.job_tokens().next()?;
    h.rt.store().job(key).ok()?
}

async fn at_send(h: &Harness) -> Instance {
    let i = h.create().await;
    let i = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&i), ["send"]);
    i
}

#[tokio::test]
async fn retries_with_growing_backoff_then_incident_then_resume() {
    let handler = Arc::new(Scripted::default());
    for n in 1..=3 {
        handler
            .answers
            .lock()
            .push(ServiceTaskOutcome::retry(format!("downstream down ({n})")));
    }
    let (h, worker) = harness(handler.clone()).await;
    let i = at_send(&h).await;

    let mut gaps = Vec::new();
    for attempt in 1..=2u32 {
        let due = eventually("a retry to be queued", || match job_of(&h, i.id) {
            Some((_, job)) if job.attempts == attempt => match job.state {
                JobState::Queued { due } => Some(due),
                _ => None,
            },
            _ => None,
        })
        .await;
        let now = h.clock.now();
        gaps.push(due.since(now));
        // Not yet due: nothing happens even if the worker looks.
        h.clock.advance(due.since(now) - Duration::from_millis(1));
        tokio::task::yield_now().await;
        assert_eq!(job_of(&h, i.id).unwrap().1.attempts, attempt);
        h.clock.advance(Duration::from_millis(1));
    }
    // Capped exponential backoff with equal jitter: attempt n waits between half and all of
    // 2 s * 2^(n-1), so gaps grow.
    assert!(
        gaps[0] >= Duration::from_secs(1) && gaps[0] <= Duration::from_secs(2),
        "{gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_secs(2) && gaps[1] <= Duration::from_secs(4),
        "{gaps:?}"
    );
    assert!(gaps[1] >= gaps[0]);

    let instance = eventually("the incident", || {
        h.rt.instance(i.id)
            .ok()
            .filter(|x| !x.process.incidents.is_empty())
    })
    .await;
    let incident = &instance.process.incidents[0];
    assert_eq!(incident.attempts, 3);
    assert_eq!(incident.last_error, "downstream down (3)");
    assert!(
        incident.reason.contains("gave up after 3 attempts"),
        "{}",
        incident.reason
    );
    assert!(
        h.events(i.id)
            .contains(&"flyt_IncidentRaised send".to_string())
    );
    assert!(matches!(
        job_of(&h, i.id).unwrap().1.state,
        JobState::Incident
    ));
    assert_eq!(handler.calls.lock().len(), 3);

    // Resume: a fresh set of attempts; this time the handler succeeds.
    let resumed = h.rt.resume(i.id, user(), None).await.unwrap();
    assert!(resumed.process.incidents.is_empty());
    let moved = eventually("the instance to move on", || {
        h.rt.instance(i.id).ok().filter(|x| h.active(x) == ["done"])
    })
    .await;
    assert!(moved.process.incidents.is_empty());
    let calls = handler.calls.lock().clone();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[3].0, 1, "attempts restart after resume");
    assert!(
        calls.iter().all(|(_, key)| *key == calls[0].1),
        "the idempotency key is stable across retries: {calls:?}"
    );
    assert!(
        h.events(i.id)
            .contains(&"flyt_IncidentResolved send".to_string())
    );
    assert_eq!(
        h.rt.resume(i.id, user(), None).await.unwrap_err(),
        flyt_engine::runtime::Error::NoIncident
    );
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn retry_after_from_the_handler_is_honoured() {
    let handler = Arc::new(Scripted::default());
    handler.answers.lock().push(ServiceTaskOutcome::RetryAfter {
        after: Duration::from_secs(42),
        reason: "429".into(),
    });
    let (h, worker) = harness(handler.clone()).await;
    let i = at_send(&h).await;
    let start = h.clock.now();
    let due = eventually("the retry", || match job_of(&h, i.id)?.1.state {
        JobState::Queued { due } if due > start => Some(due),
        _ => None,
    })
    .await;
    assert_eq!(due.since(start), Duration::from_secs(42));
    h.clock.advance(Duration::from_secs(42));
    eventually("completion", || {
        h.rt.instance(i.id).ok().filter(|x| h.active(x) == ["done"])
    })
    .await;
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_permanent_failure_raises_an_incident_at_once() {
    let handler = Arc::new(Scripted::default());
    handler.answers.lock().push(ServiceTaskOutcome::fail(
        "403 Forbidden: no instantiate right",
    ));
    let (h, worker) = harness(handler.clone()).await;
    let i = at_send(&h).await;
    let instance = eventually("the incident", || {
        h.rt.instance(i.id)
            .ok()
            .filter(|x| !x.process.incidents.is_empty())
    })
    .await;
    assert_eq!(instance.process.incidents[0].attempts, 1);
    assert!(
        instance.process.incidents[0]
            .reason
            .contains("failed permanently")
    );
    assert_eq!(handler.calls.lock().len(), 1, "no retries");
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_new_visit_gets_a_new_idempotency_key() {
    let handler = Arc::new(Scripted::default());
    let (h, worker) = harness(handler.clone()).await;
    let i = at_send(&h).await;
    eventually("first completion", || {
        h.rt.instance(i.id).ok().filter(|x| h.active(x) == ["done"])
    })
    .await;
    h.next(i.id, Some("reject"), None).await.unwrap();
    h.next(i.id, None, None).await.unwrap();
    eventually("second completion", || {
        h.rt.instance(i.id).ok().filter(|x| h.active(x) == ["done"])
    })
    .await;
    let calls = handler.calls.lock().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, format!("{}/send/1", i.id));
    assert_eq!(calls[1].1, format!("{}/send/2", i.id));
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_job_is_leased_to_one_worker_at_a_time() {
    let handler = Arc::new(Scripted::default());
    let registry = Registry::builder()
        .service_task_with("send", handler, config())
        .build();
    let h = Harness::with(
        &process(),
        Store::memory(),
        registry,
        AppSpec::open(app_id()),
    )
    .await;
    let i = at_send(&h).await; // no worker: the job waits
    let (_, job) = job_of(&h, i.id).unwrap();
    let (a, b) = tokio::join!(
        h.rt.lease_job(job.key, false, "w1", Duration::from_secs(30)),
        h.rt.lease_job(job.key, false, "w2", Duration::from_secs(30))
    );
    assert_eq!(a.unwrap().is_some() as u8 + b.unwrap().is_some() as u8, 1);
    // Held: no one else gets it until the lease expires.
    assert!(
        h.rt.lease_job(job.key, false, "w3", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    h.clock.advance(Duration::from_secs(31));
    let again =
        h.rt.lease_job(job.key, false, "w3", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        again.job.attempts, 2,
        "an expired lease counted as an attempt"
    );
}

fn runtime_on(
    store: Store,
    handler: Arc<Scripted>,
    clock: &ManualClock,
    concurrency: usize,
) -> Harness {
    let registry = Registry::builder()
        .service_task_with("send", handler, config())
        .build();
    let config =
        flyt_engine::runtime::RuntimeConfig::default().with_worker_concurrency(concurrency);
    let rt = flyt_engine::runtime::Runtime::with(
        store,
        registry,
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        config,
    );
    rt.register_app(AppSpec::open(app_id()));
    Harness {
        rt,
        app: app_id(),
        clock: clock.clone(),
    }
}

#[tokio::test]
async fn pending_and_in_flight_jobs_resume_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::from_millis(1_764_000_000_000));
    let open = || {
        Store::open(
            BackendKind::Redb,
            dir.path(),
            8 << 20,
            GroupConfig::default(),
        )
        .unwrap()
    };
    let (in_flight, queued);
    {
        // First life, one job at a time: B's attempt hangs mid-flight, so A's job stays queued.
        let hung = Arc::new(Scripted::default());
        hung.hang.store(true, std::sync::atomic::Ordering::SeqCst);
        let h = runtime_on(open(), hung.clone(), &clock, 1);
        h.rt.deploy(&h.app, process().as_bytes(), "test")
            .await
            .unwrap();
        let worker = Worker::spawn(h.rt.clone());
        in_flight = at_send(&h).await.id;
        eventually("the hung attempt", || {
            (hung.calls.lock().len() == 1).then_some(())
        })
        .await;
        queued = at_send(&h).await.id;
        assert!(matches!(
            job_of(&h, in_flight).unwrap().1.state,
            JobState::Leased { .. }
        ));
        assert!(matches!(
            job_of(&h, queued).unwrap().1.state,
            JobState::Queued { .. }
        ));
        // The process stops: the worker gives up on the hung attempt, the store closes.
        worker.stop(Duration::from_millis(50)).await;
        h.rt.store().shutdown();
    }
    // Second life on the same files: the stale lease is reclaimed at once (no waiting for it to
    // expire), the queued job runs, each exactly once.
    let handler = Arc::new(Scripted::default());
    let h = runtime_on(open(), handler.clone(), &clock, 64);
    let worker = Worker::spawn(h.rt.clone());
    for id in [in_flight, queued] {
        eventually("completion after restart", || {
            h.rt.instance(id).ok().filter(|x| h.active(x) == ["done"])
        })
        .await;
    }
    assert_eq!(
        handler.calls.lock().len(),
        2,
        "each job ran once in the second life"
    );
    let attempts: Vec<u32> = handler.calls.lock().iter().map(|(a, _)| *a).collect();
    assert!(
        attempts.contains(&2),
        "the interrupted job's attempt count survived the restart: {attempts:?}"
    );
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn history_records_the_end_of_a_service_task_with_details() {
    let handler = Arc::new(Scripted::default());
    handler.answers.lock().push(ServiceTaskOutcome::Completed(
        flyt_engine::hooks::Completion {
            details: Some(serde_json::json!({"createdInstance": "50001/abc"})),
            ..Default::default()
        },
    ));
    let (h, worker) = harness(handler).await;
    let i = at_send(&h).await;
    eventually("completion", || {
        h.rt.instance(i.id).ok().filter(|x| h.active(x) == ["done"])
    })
    .await;
    let history = h.rt.history(i.id).unwrap();
    let end = history
        .iter()
        .find(|e| {
            e.event_type == EventType::EndTask
                && e.element_id.as_ref().is_some_and(|x| x.as_str() == "send")
        })
        .unwrap();
    assert_eq!(
        end.details.as_ref().unwrap()["createdInstance"],
        "50001/abc"
    );
    worker.stop(Duration::from_secs(5)).await;
}

// ---- regressions -------------------------------------------------------------------------------

/// A handler that panics on its first call and succeeds afterwards; counts calls.
#[derive(Default)]
struct PanicsOnce(std::sync::atomic::AtomicU32);

#[async_trait]
impl ServiceTaskHandler for PanicsOnce {
    async fn execute(&self, _ctx: JobContext) -> ServiceTaskOutcome {
        if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("handler bug");
        }
        ServiceTaskOutcome::done()
    }
}

#[tokio::test]
async fn regression_a_panicking_handler_is_a_failed_attempt_not_a_stuck_job() {
    let handler = Arc::new(PanicsOnce::default());
    let registry = Registry::builder()
        .service_task_with("send", handler.clone(), config())
        .build();
    let h = Harness::with(
        &process(),
        Store::memory(),
        registry,
        AppSpec::open(app_id()),
    )
    .await;
    let worker = Worker::spawn(h.rt.clone());
    let i = at_send(&h).await;
    let due = eventually(
        "the panic to be recorded as a failed attempt",
        || match job_of(&h, i.id)?.1 {
            job if job.attempts == 1 && matches!(job.state, JobState::Queued { .. }) => {
                assert!(
                    job.last_error
                        .as_deref()
                        .unwrap()
                        .contains("panicked: handler bug"),
                    "{job:?}"
                );
                job.due()
            }
            _ => None,
        },
    )
    .await;
    h.clock.set(due);
    eventually("the retry to complete", || {
        h.rt.instance(i.id).ok().filter(|x| h.active(x) == ["done"])
    })
    .await;
    worker.stop(Duration::from_secs(5)).await;
}

fn refusing_process() -> String {
    doc(r#"<startEvent id="start"/>
<serviceTask id="send" flyt:type="send"/>
<exclusiveGateway id="g"/>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="send"/>
<sequenceFlow id="f2" sourceRef="send" targetRef="g"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="end"><conditionExpression>["equals", ["dataModel", "ok", "model"], true]</conditionExpression></sequenceFlow>"#)
}

#[tokio::test]
async fn regression_a_completion_the_process_refuses_raises_an_incident_instead_of_rerunning_forever()
 {
    let handler = Arc::new(Scripted::default());
    let registry = Registry::builder()
        .service_task_with("send", handler.clone(), config())
        .build();
    let h = Harness::with(
        &refusing_process(),
        Store::memory(),
        registry,
        AppSpec::open(app_id()),
    )
    .await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    let instance = eventually("the incident", || {
        h.rt.instance(i.id)
            .ok()
            .filter(|x| !x.process.incidents.is_empty())
    })
    .await;
    let incident = &instance.process.incidents[0];
    assert!(
        incident.last_error.contains("could not move past the task")
            && incident.last_error.contains("gateway `g`"),
        "{incident:?}"
    );
    // Even long after any lease would have expired, the handler is not run again.
    h.clock.advance(Duration::from_secs(3600));
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(handler.calls.lock().len(), 1);
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn regression_an_attempt_beyond_the_last_raises_an_incident() {
    let handler = Arc::new(Scripted::default());
    let config = config().with_max_attempts(1);
    let registry = Registry::builder()
        .service_task_with("send", handler.clone(), config)
        .build();
    let h = Harness::with(
        &process(),
        Store::memory(),
        registry,
        AppSpec::open(app_id()),
    )
    .await;
    let i = at_send(&h).await;
    // The only attempt is leased and then lost (its worker died): the lease expires.
    let (_, job) = job_of(&h, i.id).unwrap();
    h.rt.lease_job(job.key, false, "dead-worker", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    h.clock.advance(Duration::from_secs(31));
    let worker = Worker::spawn(h.rt.clone());
    let instance = eventually("the incident", || {
        h.rt.instance(i.id)
            .ok()
            .filter(|x| !x.process.incidents.is_empty())
    })
    .await;
    assert!(
        instance.process.incidents[0]
            .last_error
            .contains("interrupted"),
        "{:?}",
        instance.process.incidents
    );
    assert!(
        handler.calls.lock().is_empty(),
        "no attempt beyond the last ran"
    );
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn regression_a_crash_loop_never_counts_attempts_beyond_the_maximum() {
    // A job view showed `attempts: 6, maxAttempts: 5` after a crash loop: each restart leased
    // the job again, counting an attempt past the last, before raising the incident.
    let handler = Arc::new(Scripted::default());
    let registry = Registry::builder()
        .service_task_with("send", handler.clone(), config().with_max_attempts(3))
        .build();
    let h = Harness::with(
        &process(),
        Store::memory(),
        registry,
        AppSpec::open(app_id()),
    )
    .await;
    let i = at_send(&h).await;
    let (_, job) = job_of(&h, i.id).unwrap();
    // Every attempt is leased and lost: the worker dies each time, its lease expires.
    for attempt in 1..=3 {
        let leased =
            h.rt.lease_job(job.key, false, "dies", Duration::from_secs(30))
                .await
                .unwrap()
                .expect("an attempt is left");
        assert_eq!(leased.job.attempts, attempt);
        h.clock.advance(Duration::from_secs(31));
    }
    // The last one was cut off: no fourth lease, an incident instead, attempts still 3 of 3.
    for _ in 0..3 {
        let again =
            h.rt.lease_job(job.key, false, "dies", Duration::from_secs(30))
                .await
                .unwrap();
        assert!(again.is_none(), "{again:?}");
    }
    let (_, job) = job_of(&h, i.id).unwrap();
    assert_eq!(job.state, flyt_engine::model::JobState::Incident);
    assert_eq!((job.attempts, job.max_attempts), (3, 3));
    let instance = h.rt.instance(i.id).unwrap();
    assert_eq!(instance.process.incidents.len(), 1);
    assert!(
        instance.process.incidents[0]
            .last_error
            .contains("attempt 3 of 3 was interrupted")
    );
    assert!(handler.calls.lock().is_empty());
}

#[tokio::test]
async fn regression_a_handlers_output_is_checked_against_the_schema() {
    let handler = Arc::new(Scripted::default());
    let mut out = flyt_engine::hooks::Completion::default();
    out.data.insert(
        flyt_engine::ids::DataTypeId::new("model"),
        serde_json::json!({"amount": "lots"}),
    );
    handler
        .answers
        .lock()
        .push(ServiceTaskOutcome::Completed(out));
    let registry = Registry::builder()
        .service_task_with("send", handler, config())
        .build();
    let schema = flyt_engine::app::Schema::compile(
        serde_json::json!({"type": "object", "properties": {"amount": {"type": "number"}}}),
    )
    .unwrap();
    let app = AppSpec::new(app_id())
        .with_data_type(flyt_engine::app::DataTypeSpec::new("model").with_schema(schema));
    let h = Harness::with(&process(), Store::memory(), registry, app).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = at_send(&h).await;
    let instance = eventually("the incident", || {
        h.rt.instance(i.id)
            .ok()
            .filter(|x| !x.process.incidents.is_empty())
    })
    .await;
    assert!(
        instance.process.incidents[0].last_error.contains("invalid"),
        "{:?}",
        instance.process.incidents
    );
    assert_eq!(
        h.rt.data(i.id, &flyt_engine::ids::DataTypeId::new("model"))
            .unwrap(),
        None,
        "the invalid output was not stored"
    );
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_inclusive_gateway_without_a_match_after_a_service_task_is_an_incident() {
    let handler = Arc::new(Scripted::default());
    let registry = Registry::builder()
        .service_task_with("send", handler.clone(), config())
        .build();
    let bpmn = refusing_process().replace(
        r#"<exclusiveGateway id="g"/>"#,
        r#"<inclusiveGateway id="g"/>"#,
    );
    let h = Harness::with(&bpmn, Store::memory(), registry, AppSpec::open(app_id())).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    let instance = eventually("the incident", || {
        h.rt.instance(i.id)
            .ok()
            .filter(|x| !x.process.incidents.is_empty())
    })
    .await;
    let incident = &instance.process.incidents[0];
    assert!(
        incident.last_error.contains("gateway `g`")
            && incident.last_error.contains("no default flow"),
        "{incident:?}"
    );
    assert_eq!(h.active(&instance), ["send"], "the token stays at the task");
    worker.stop(Duration::from_secs(5)).await;
}
