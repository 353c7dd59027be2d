//! Events beyond start and end: terminate end events, none intermediate throw events, manual
//! tasks, and which pool of a collaboration runs.

use crate::rt::*;
use crate::support::{data_task, doc};
use flyt_engine::bpmn::{self, Options};
use flyt_engine::model::{Instance, JobKind};
use flyt_engine::runtime::worker::Worker;
use std::time::Duration;

/// A fork: one branch waits at `slow` (with a deadline timer), the other at `quick`, which leads
/// through a milestone (a none throw event) to a terminate end event.
fn terminate_process() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<parallelGateway id="fork"/>
{}
<boundaryEvent id="deadline" attachedToRef="slow"><timerEventDefinition><timeDuration>P1D</timeDuration></timerEventDefinition></boundaryEvent>
<manualTask id="quick" name="Ring the applicant"/>
<intermediateThrowEvent id="milestone"/>
<endEvent id="stop"><terminateEventDefinition/></endEvent>
<endEvent id="e"/>
<endEvent id="late"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>
<sequenceFlow id="f2" sourceRef="fork" targetRef="slow"/>
<sequenceFlow id="f3" sourceRef="fork" targetRef="quick"/>
<sequenceFlow id="f4" sourceRef="slow" targetRef="e"/>
<sequenceFlow id="f5" sourceRef="quick" targetRef="milestone"/>
<sequenceFlow id="f6" sourceRef="milestone" targetRef="stop"/>
<sequenceFlow id="f7" sourceRef="deadline" targetRef="late"/>"#,
        data_task("slow")
    ))
}

#[tokio::test]
async fn a_terminate_end_event_ends_every_token_and_disarms_their_timers() {
    let h = Harness::new(&terminate_process()).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    let mut active = h.active(&i);
    active.sort();
    assert_eq!(
        active,
        ["quick", "slow"],
        "a manual task waits like a user task"
    );
    let timer = i.process.armed_timers()[0].1.job;
    assert_eq!(
        h.rt.store().job(timer).unwrap().map(|(_, j)| j.kind),
        Some(JobKind::Timer)
    );

    let i = h.next(i.id, None, Some("quick")).await.unwrap();
    assert!(i.is_ended(), "{:?}", i.process);
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "stop");
    assert!(i.process.tokens.is_empty());
    assert!(
        h.rt.store().job(timer).unwrap().is_none(),
        "the timer went with its task"
    );
    let events = h.events(i.id);
    assert!(
        events.contains(&"process_AbandonTask slow".to_string()),
        "{events:?}"
    );
    h.clock.advance(Duration::from_secs(2 * 86_400));
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        h.rt.instance(i.id).unwrap(),
        i,
        "nothing fires after the end"
    );
    worker.stop(Duration::from_secs(1)).await;
}

#[test]
fn a_collaboration_runs_its_executable_pool_and_ignores_the_others() {
    let bpmn = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:t">
  <bpmn:collaboration id="c">
    <bpmn:participant id="p1" processRef="customer"/>
    <bpmn:participant id="p2" processRef="office"/>
  </bpmn:collaboration>
  <bpmn:process id="customer" isExecutable="false">
    <bpmn:startEvent id="cs"/>
    <bpmn:task id="write"/>
    <bpmn:sequenceFlow id="c1" sourceRef="cs" targetRef="write"/>
  </bpmn:process>
  <bpmn:process id="office" isExecutable="true">
    <bpmn:startEvent id="os"/>
    <bpmn:task id="handle"/>
    <bpmn:endEvent id="oe"/>
    <bpmn:sequenceFlow id="o1" sourceRef="os" targetRef="handle"/>
    <bpmn:sequenceFlow id="o2" sourceRef="handle" targetRef="oe"/>
  </bpmn:process>
</bpmn:definitions>"#;
    let compiled = bpmn::compile(bpmn.as_bytes(), &Options::default())
        .unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    assert_eq!(compiled.definition.process_id().as_str(), "office");
}

/// A handler that raises the BPMN error it is given.
struct Raises(&'static str);

#[async_trait::async_trait]
impl flyt_engine::hooks::ServiceTaskHandler for Raises {
    async fn execute(
        &self,
        _ctx: flyt_engine::hooks::JobContext,
    ) -> flyt_engine::hooks::ServiceTaskOutcome {
        flyt_engine::hooks::ServiceTaskOutcome::Error {
            code: self.0.to_string(),
            message: "the register has no such company".into(),
        }
    }
}

/// lookup (service task) with an error boundary for NOT_FOUND and (with `catch_all`) one for
/// every code; both lead to user tasks, so the test sees which one took the token.
fn error_process(catch_all: bool) -> String {
    let any = if catch_all {
        r#"<boundaryEvent id="anyError" attachedToRef="lookup"><errorEventDefinition/></boundaryEvent>
    <sequenceFlow id="f4" sourceRef="anyError" targetRef="investigate"/>
    <task id="investigate"/>
    <sequenceFlow id="f6" sourceRef="investigate" targetRef="e"/>"#
    } else {
        ""
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:t">
  <error id="notFound" errorCode="NOT_FOUND"/>
  <process id="p" isExecutable="true">
    <startEvent id="s"/>
    <serviceTask id="lookup" flyt:type="lookup"/>
    <boundaryEvent id="missing" attachedToRef="lookup"><errorEventDefinition errorRef="notFound"/></boundaryEvent>
    {}
    {any}
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="lookup"/>
    <sequenceFlow id="f2" sourceRef="lookup" targetRef="e"/>
    <sequenceFlow id="f3" sourceRef="missing" targetRef="askManually"/>
    <sequenceFlow id="f5" sourceRef="askManually" targetRef="e"/>
  </process>
</definitions>"#,
        data_task("askManually"),
    )
}

async fn raised(code: &'static str) -> (Harness, Instance) {
    let registry = flyt_engine::hooks::Registry::builder()
        .service_task("lookup", Raises(code))
        .build();
    let h = Harness::with(
        &error_process(true),
        flyt_engine::store::Store::memory(),
        registry,
        flyt_engine::app::AppSpec::open(app_id()),
    )
    .await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let moved = loop {
        let now = h.rt.instance(i.id).unwrap();
        if !h.active(&now).contains(&"lookup".to_string()) {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the error was not handled"
        );
        tokio::task::yield_now().await;
    };
    worker.stop(Duration::from_secs(1)).await;
    (h, moved)
}

#[tokio::test]
async fn a_bpmn_error_is_caught_by_the_boundary_naming_its_code_before_a_catch_all() {
    let (h, i) = raised("NOT_FOUND").await;
    assert_eq!(h.active(&i), ["askManually"]);
    assert!(i.process.incidents.is_empty());
    let events = h.events(i.id);
    assert!(
        events.contains(&"flyt_ErrorCaught missing".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"process_AbandonTask lookup".to_string()),
        "{events:?}"
    );
    let (h, i) = raised("TIMEOUT").await;
    assert_eq!(
        h.active(&i),
        ["investigate"],
        "the catch-all takes other codes"
    );
    let _ = h;
}

#[tokio::test]
async fn an_uncaught_bpmn_error_is_an_incident_naming_its_code() {
    let bpmn = error_process(false);
    let registry = flyt_engine::hooks::Registry::builder()
        .service_task("lookup", Raises("TIMEOUT"))
        .build();
    let h = Harness::with(
        &bpmn,
        flyt_engine::store::Store::memory(),
        registry,
        flyt_engine::app::AppSpec::open(app_id()),
    )
    .await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let i = loop {
        let now = h.rt.instance(i.id).unwrap();
        if !now.process.incidents.is_empty() {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "no incident");
        tokio::task::yield_now().await;
    };
    assert!(
        i.process.incidents[0]
            .last_error
            .contains("uncaught BPMN error `TIMEOUT`"),
        "{:?}",
        i.process.incidents
    );
    assert_eq!(
        h.active(&i),
        ["lookup"],
        "the task stays, with its incident"
    );
    worker.stop(Duration::from_secs(1)).await;
}

#[test]
fn an_error_boundary_naming_an_undeclared_error_is_refused_with_its_line() {
    let bpmn = error_process(true).replace(r#"errorRef="notFound""#, r#"errorRef="nowhere""#);
    let rejected = bpmn::compile(bpmn.as_bytes(), &Options::default()).unwrap_err();
    let d = rejected
        .diagnostics
        .iter()
        .find(|d| d.code == flyt_engine::bpmn::Code::InvalidBoundary)
        .unwrap_or_else(|| panic!("{:#?}", rejected.diagnostics));
    assert_eq!(d.pos().line, crate::support::line_of(&bpmn, "nowhere"));
    assert!(d.message.contains("`nowhere`"), "{}", d.message);
}
