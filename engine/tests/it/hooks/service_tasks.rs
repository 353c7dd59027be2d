//! Custom service task handlers: completed with data, retry-after, failed; and the hooks their
//! completion runs. The in-process job worker runs them on a manual clock.

use super::*;
use flyt_engine::hooks::{
    Completion, JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome,
};
use flyt_engine::model::JobState;
use flyt_engine::runtime::worker::Worker;
use flyt_engine::time::Clock;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A handler that answers with `outcome` once, then completes.
struct Once(Mutex<Option<ServiceTaskOutcome>>);

#[async_trait]
impl ServiceTaskHandler for Once {
    async fn execute(&self, _: JobContext) -> ServiceTaskOutcome {
        self.0
            .lock()
            .take()
            .unwrap_or_else(ServiceTaskOutcome::done)
    }
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

async fn at_send(outcome: ServiceTaskOutcome, log: &Log) -> (Harness, InstanceId, Worker) {
    let registry = Registry::builder()
        .service_task("send", Once(Mutex::new(Some(outcome))))
        .hook(Probe::new("probe", log));
    let h = harness(&service_process(), registry).await;
    let i = h.create().await;
    h.next(i.id, None, None).await.unwrap();
    let worker = Worker::spawn(h.rt.clone());
    (h, i.id, worker)
}

#[tokio::test]
async fn service_task_completed_with_data_moves_on_in_one_commit() {
    let log = Log::default();
    let completion = Completion {
        data: BTreeMap::from([(model(), json!({ "receipt": "R-1" }))]),
        ..Completion::default()
    };
    let (h, id, worker) = at_send(ServiceTaskOutcome::Completed(completion), &log).await;
    let done = eventually("the end", || {
        h.rt.instance(id).ok().filter(|i| i.is_ended())
    })
    .await;
    worker.stop(Duration::from_secs(5)).await;
    assert_eq!(
        done.version, 3,
        "data, task end and process end in one commit"
    );
    assert_eq!(
        h.rt.data(id, &model()).unwrap(),
        Some(json!({ "receipt": "R-1" }))
    );
    let log = log.lock();
    let tail: Vec<&Seen> = log
        .iter()
        .skip_while(|s| s.point != Point::Written)
        .collect();
    assert_eq!(
        tail.iter().map(|s| s.short()).collect::<Vec<_>>(),
        ["Written model", "Ended"]
    );
    assert!(
        matches!(&tail[0].actor, Actor::System { component } if component == "service task send")
    );
    assert!(h.events(id).contains(&"process_EndTask send".to_string()));
}

#[tokio::test]
async fn service_task_retry_after_requeues_the_job() {
    let retry = ServiceTaskOutcome::RetryAfter {
        after: Duration::from_secs(42),
        reason: "429 Too Many Requests".into(),
    };
    let (h, id, worker) = at_send(retry, &Log::default()).await;
    let start = h.clock.now();
    let job = eventually("the retry", || {
        let (_, _, key) = h.rt.instance(id).ok()?.process.job_tokens().next()?;
        let (_, job) = h.rt.store().job(key).ok()??;
        matches!(job.state, JobState::Queued { due } if due > start).then_some(job)
    })
    .await;
    assert_eq!(job.due().unwrap().since(start), Duration::from_secs(42));
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.as_deref(), Some("429 Too Many Requests"));
    h.clock.advance(Duration::from_secs(42));
    eventually("the second attempt", || {
        h.rt.instance(id).ok().filter(|i| i.is_ended())
    })
    .await;
    worker.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn service_task_failed_raises_an_incident() {
    let (h, id, worker) = at_send(ServiceTaskOutcome::fail("403 Forbidden"), &Log::default()).await;
    let i = eventually("the incident", || {
        h.rt.instance(id)
            .ok()
            .filter(|i| !i.process.incidents.is_empty())
    })
    .await;
    worker.stop(Duration::from_secs(5)).await;
    assert_eq!(i.process.incidents[0].last_error, "403 Forbidden");
    assert_eq!(h.active(&i), ["send"], "the token waits at the task");
    assert!(
        h.events(id)
            .contains(&"flyt_IncidentRaised send".to_string())
    );
}
