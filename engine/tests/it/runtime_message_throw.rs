//! Message throws at run time: reaching a send task, a message intermediate throw event or a
//! message end event creates a job of type `sendMessage` in the same commit; its completion
//! moves the token on (an end event then ends it). A stand-in handler plays the delivery.

use crate::rt::*;
use crate::support::doc;
use async_trait::async_trait;
use flyt_engine::app::AppSpec;
use flyt_engine::hooks::{JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome};
use flyt_engine::model::{Instance, JobKind};
use flyt_engine::runtime::worker::Worker;
use flyt_engine::store::Store;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records which element each delivery was for; answers with `outcome`.
struct Deliveries {
    seen: Mutex<Vec<(String, String, String)>>,
    outcome: ServiceTaskOutcome,
}

impl Deliveries {
    fn new(outcome: ServiceTaskOutcome) -> Arc<Self> {
        Arc::new(Deliveries {
            seen: Mutex::new(Vec::new()),
            outcome,
        })
    }
}

#[async_trait]
impl ServiceTaskHandler for Deliveries {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        let task = ctx
            .task
            .as_ref()
            .expect("a message throw runs with its task");
        let throw = task
            .throw
            .as_ref()
            .expect("and knows it is a message throw");
        self.seen.lock().push((
            ctx.element_id.clone(),
            throw.element.element_name().to_string(),
            ctx.idempotency_key.clone(),
        ));
        self.outcome.clone()
    }
}

const SEND: &str = r#"<extensionElements><flyt:sendMessage target="acme/other" name="ping" correlationKey='["instanceContext", "instanceId"]'/></extensionElements>"#;

async fn run(body: &str, handler: Arc<Deliveries>) -> (Harness, Worker, Instance) {
    let registry = Registry::builder()
        .service_task("sendMessage", handler)
        .build();
    let h = Harness::with(
        &doc(body),
        Store::memory(),
        registry,
        AppSpec::open(app_id()),
    )
    .await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    (h, worker, i)
}

async fn until(
    h: &Harness,
    i: &Instance,
    what: &str,
    done: impl Fn(&Instance) -> bool,
) -> Instance {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = h.rt.instance(i.id).unwrap();
        if done(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {now:#?}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn an_intermediate_throw_waits_for_its_delivery_then_moves_on() {
    let handler = Deliveries::new(ServiceTaskOutcome::done());
    let (h, worker, i) = run(
        &format!(
            r#"<startEvent id="start"/>
<intermediateThrowEvent id="tell">{SEND}<messageEventDefinition/></intermediateThrowEvent>
<task id="after"/>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="tell"/>
<sequenceFlow id="f2" sourceRef="tell" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="end"/>"#
        ),
        handler.clone(),
    )
    .await;
    // The job was created in the creation's commit: the token waits at the throw event.
    let (_, element, key) = i
        .process
        .job_tokens()
        .next()
        .expect("a job token at `tell`");
    assert_eq!(element.element_id.as_str(), "tell");
    let job = h.rt.store().job(key).unwrap().unwrap().1;
    assert_eq!(job.task_type, "sendMessage");
    assert!(matches!(job.kind, JobKind::ServiceTask));
    let moved = until(&h, &i, "the token to pass the throw", |x| {
        h.active(x) == ["after"]
    })
    .await;
    assert!(moved.process.ended.is_none());
    let seen = handler.seen.lock().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "tell");
    assert_eq!(seen[0].1, "intermediateThrowEvent");
    let events = h.events(i.id);
    assert!(
        events.contains(&"process_EndTask tell".to_string()),
        "{events:?}"
    );
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_message_end_event_ends_the_process_once_delivered() {
    let handler = Deliveries::new(ServiceTaskOutcome::done());
    let (h, worker, i) = run(
        &format!(
            r#"<startEvent id="start"/>
<endEvent id="answer">{SEND}<messageEventDefinition/></endEvent>
<sequenceFlow id="f1" sourceRef="start" targetRef="answer"/>"#
        ),
        handler.clone(),
    )
    .await;
    assert!(
        i.process.ended.is_none(),
        "not before the message is delivered"
    );
    let ended = until(&h, &i, "the process to end", |x| x.process.ended.is_some()).await;
    assert_eq!(
        ended.process.end_event.as_ref().map(|e| e.as_str()),
        Some("answer")
    );
    assert!(ended.process.tokens.is_empty());
    assert_eq!(handler.seen.lock()[0].1, "endEvent");
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_message_end_event_in_a_sub_process_completes_the_sub_process() {
    let handler = Deliveries::new(ServiceTaskOutcome::done());
    let (h, worker, i) = run(
        &format!(
            r#"<startEvent id="start"/>
<subProcess id="sub">
  <startEvent id="subStart"/>
  <endEvent id="answer">{SEND}<messageEventDefinition/></endEvent>
  <sequenceFlow id="s1" sourceRef="subStart" targetRef="answer"/>
</subProcess>
<task id="after"/>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="end"/>"#
        ),
        handler.clone(),
    )
    .await;
    let moved = until(&h, &i, "the sub-process to complete", |x| {
        h.active(x) == ["after"]
    })
    .await;
    assert!(
        moved.process.scopes.is_empty(),
        "{:#?}",
        moved.process.scopes
    );
    assert!(moved.process.ended.is_none());
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_send_task_refused_by_the_receiver_leaves_by_its_error_boundary() {
    let handler = Deliveries::new(ServiceTaskOutcome::Error {
        code: "notAllowed".into(),
        message: "acme/other refused: 403".into(),
    });
    let (h, worker, i) = run(
        &format!(
            r#"<startEvent id="start"/>
<sendTask id="send">{SEND}</sendTask>
<boundaryEvent id="refused" attachedToRef="send"><errorEventDefinition/></boundaryEvent>
<task id="handleRefusal"/>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="send"/>
<sequenceFlow id="f2" sourceRef="send" targetRef="end"/>
<sequenceFlow id="f3" sourceRef="refused" targetRef="handleRefusal"/>
<sequenceFlow id="f4" sourceRef="handleRefusal" targetRef="end"/>"#
        ),
        handler.clone(),
    )
    .await;
    let moved = until(&h, &i, "the boundary to take the token", |x| {
        h.active(x) == ["handleRefusal"]
    })
    .await;
    assert!(moved.process.incidents.is_empty());
    assert_eq!(handler.seen.lock()[0].1, "sendTask");
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_failed_delivery_is_an_incident_at_the_end_event_and_the_process_does_not_end() {
    let handler = Deliveries::new(ServiceTaskOutcome::fail("403: forbidden"));
    let (h, worker, i) = run(
        &format!(
            r#"<startEvent id="start"/>
<endEvent id="answer">{SEND}<messageEventDefinition/></endEvent>
<sequenceFlow id="f1" sourceRef="start" targetRef="answer"/>"#
        ),
        handler,
    )
    .await;
    let stuck = until(&h, &i, "the incident", |x| !x.process.incidents.is_empty()).await;
    assert!(stuck.process.ended.is_none());
    assert_eq!(stuck.process.incidents[0].last_error, "403: forbidden");
    worker.stop(Duration::from_secs(1)).await;
}
