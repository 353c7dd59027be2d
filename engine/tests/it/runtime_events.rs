//! Events beyond start and end: terminate end events, none intermediate throw events, manual
//! tasks, and which pool of a collaboration runs.

use crate::rt::*;
use crate::support::doc;
use flyt_engine::bpmn::{self, Options};
use flyt_engine::model::JobKind;
use flyt_engine::runtime::worker::Worker;
use std::time::Duration;

fn data_task(id: &str) -> String {
    format!(
        r#"<task id="{id}"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>"#
    )
}

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
