//! Event sub-processes started by a timer, through the engine API: interrupting at the process
//! level (everything else ends, the event sub-process's end ends the process), non-interrupting
//! inside an embedded sub-process (runs beside it, re-armed per tick, disarmed with its scope),
//! disarmed when the process ends first, and the validation rules (line-exact).

use crate::rt::*;
use crate::support::{assert_at, data_task, doc, only, rejected};
use flyt_engine::bpmn::Code;
use flyt_engine::model::ProcessState;
use flyt_engine::runtime::worker::Worker;
use std::time::Duration;

/// `work` (a user task) and `more` (a service task no one runs) in parallel; the process-level
/// event sub-process `timeout` starts after `value`, interrupting or not, and runs `chase`.
fn process_level(interrupting: bool, value: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<parallelGateway id="fork"/>
{}
<serviceTask id="more" flyt:type="never"/>
<parallelGateway id="join"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>
<sequenceFlow id="f2" sourceRef="fork" targetRef="work"/>
<sequenceFlow id="f3" sourceRef="fork" targetRef="more"/>
<sequenceFlow id="f4" sourceRef="work" targetRef="join"/>
<sequenceFlow id="f5" sourceRef="more" targetRef="join"/>
<sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
<subProcess id="timeout" triggeredByEvent="true">
  <startEvent id="ts" isInterrupting="{interrupting}"><timerEventDefinition>{value}</timerEventDefinition></startEvent>
  {}
  <endEvent id="te"/>
  <sequenceFlow id="t1" sourceRef="ts" targetRef="chase"/>
  <sequenceFlow id="t2" sourceRef="chase" targetRef="te"/>
</subProcess>"#,
        data_task("work"),
        data_task("chase")
    ))
}

#[tokio::test]
async fn an_interrupting_timer_event_sub_process_ends_the_process_tokens_and_replaces_its_end() {
    let h = Harness::with_idle_job_type(&process_level(true, "<timeDuration>PT1H</timeDuration>"))
        .await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    assert_eq!(h.active(&i), ["more", "work"]);
    assert_eq!(i.process.timers.len(), 1, "armed with the instance");
    assert_eq!(i.process.armed_timers()[0].1.element.as_str(), "ts");
    let more_job = i.process.job_tokens().next().unwrap().2;

    h.clock.advance(Duration::from_secs(3600));
    let i = h.until_active(i.id, &["chase"]).await;
    assert_eq!(scope_elements(&i), ["timeout"]);
    assert_eq!(i.process.tokens.len(), 1);
    assert_eq!(i.process.tokens[0].scope, Some(i.process.scopes[0].id));
    assert!(i.process.armed_timers().is_empty());
    assert!(
        h.rt.store().job(more_job).unwrap().is_none(),
        "job cancelled"
    );

    let i = h.next(i.id, None, Some("chase")).await.unwrap();
    assert!(i.process.ended.is_some(), "{:?}", i.process);
    assert_eq!(
        i.process.end_event.as_ref().map(|e| e.as_str()),
        Some("te"),
        "the event sub-process's end event ended the process"
    );
    assert!(i.process.scopes.is_empty());
    let events = h.events(i.id);
    for want in [
        "flyt_TimerFired ts",
        "process_AbandonTask work",
        "process_AbandonTask more",
        "flyt_ScopeEntered timeout",
        "process_StartTask chase",
        "flyt_ScopeLeft timeout",
    ] {
        assert!(events.contains(&want.to_string()), "{want}: {events:?}");
    }
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_process_that_ends_first_disarms_its_event_sub_process_timer() {
    let h = Harness::with_idle_job_type(&process_level(true, "<timeDuration>PT1H</timeDuration>"))
        .await;
    let i = h.create().await;
    let timer = i.process.timers[0].job;
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    let job = i.process.job_tokens().next().unwrap().2;
    let leased =
        h.rt.lease_job(job, true, "w", Duration::from_secs(60))
            .await
            .unwrap()
            .expect("leased");
    h.rt.complete_job(&leased, flyt_engine::hooks::Completion::default())
        .await
        .unwrap();
    let i = h.rt.instance(i.id).unwrap();
    assert!(i.process.ended.is_some());
    assert!(i.process.timers.is_empty());
    assert!(h.rt.store().job(timer).unwrap().is_none(), "disarmed");
}

/// `work` inside `sub`, whose non-interrupting event sub-process `remind` runs `chase` per tick
/// of `R2/PT1H`; `done` after `sub`.
fn remind_inside() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  {}
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="work"/>
  <sequenceFlow id="s2" sourceRef="work" targetRef="se"/>
  <subProcess id="remind" triggeredByEvent="true">
    <startEvent id="rs" isInterrupting="false"><timerEventDefinition><timeCycle>R2/PT1H</timeCycle></timerEventDefinition></startEvent>
    {}
    <endEvent id="re"/>
    <sequenceFlow id="r1" sourceRef="rs" targetRef="chase"/>
    <sequenceFlow id="r2" sourceRef="chase" targetRef="re"/>
  </subProcess>
</subProcess>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="done"/>
<sequenceFlow id="f3" sourceRef="done" targetRef="e"/>"#,
        data_task("work"),
        data_task("chase"),
        data_task("done")
    ))
}

#[tokio::test]
async fn a_non_interrupting_timer_event_sub_process_runs_beside_its_scope_and_is_disarmed_with_it()
{
    let h = Harness::with_idle_job_type(&remind_inside()).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    assert_eq!(h.active(&i), ["work"]);
    assert!(i.process.timers.is_empty());
    assert_eq!(i.process.scopes[0].timers.len(), 1, "armed on entry");

    h.clock.advance(Duration::from_secs(3600));
    let i = h.until_active(i.id, &["chase", "work"]).await;
    assert_eq!(scope_elements(&i), ["sub", "remind"]);
    assert_eq!(i.process.scopes[1].parent, Some(i.process.scopes[0].id));
    assert_eq!(
        i.process.scopes[0].timers.len(),
        1,
        "armed again for the next tick"
    );
    let next_tick = i.process.scopes[0].timers[0].job;
    worker.stop(Duration::from_secs(1)).await;

    // The inside ends first: the sub-process waits for its event sub-process.
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    assert_eq!(h.active(&i), ["chase"]);
    assert_eq!(scope_elements(&i), ["sub", "remind"]);
    let i = h.next(i.id, None, Some("chase")).await.unwrap();
    assert_eq!(h.active(&i), ["done"]);
    assert!(i.process.scopes.is_empty());
    assert!(i.process.armed_timers().is_empty());
    assert!(
        h.rt.store().job(next_tick).unwrap().is_none(),
        "disarmed with its scope"
    );
    let events = h.events(i.id);
    for want in [
        "flyt_TimerFired rs",
        "flyt_ScopeEntered remind",
        "flyt_ScopeLeft remind",
        "flyt_ScopeLeft sub",
    ] {
        assert!(events.contains(&want.to_string()), "{want}: {events:?}");
    }
    assert!(!events.contains(&"process_AbandonTask work".to_string()));
}

#[test]
fn a_process_state_stored_before_event_sub_processes_reads_without_timers() {
    let stored = r#"{"started":null,"startEvent":null,"ended":null,"endEvent":null,"flow":0,
        "tokens":[],"nextToken":0}"#;
    let state: ProcessState = serde_json::from_str(stored).unwrap();
    assert!(state.timers.is_empty());
}

fn event_sub(start: &str, extra: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="e"/>
<subProcess id="handler" triggeredByEvent="true">
  {start}
  <endEvent id="he"/>
  <sequenceFlow id="h1" sourceRef="hs" targetRef="he"/>
</subProcess>
{extra}"#
    ))
}

const TIMER_START: &str = r#"<startEvent id="hs"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></startEvent>"#;

#[test]
fn a_timer_event_sub_process_is_accepted() {
    crate::support::compile(&event_sub(TIMER_START, "")).expect("compiles");
}

fn refused_at_handler(text: &str, says: &str) {
    let diags = rejected(text);
    let d = only(&diags, Code::InvalidSubProcess);
    assert_at(
        &d,
        Code::InvalidSubProcess,
        "handler",
        text,
        r#"<subProcess id="handler""#,
    );
    assert!(d.message.contains(says), "{}", d.message);
}

#[test]
fn an_event_sub_process_with_a_none_start_event_is_refused_at_its_line() {
    refused_at_handler(
        &event_sub(r#"<startEvent id="hs"/>"#, ""),
        "without a trigger",
    );
}

#[test]
fn an_event_sub_process_with_two_start_events_is_refused_at_its_line() {
    let two = format!(
        r#"{TIMER_START}<startEvent id="hs2"><timerEventDefinition><timeDuration>PT2H</timeDuration></timerEventDefinition></startEvent>"#
    );
    let text = event_sub(&two, "").replace(
        r#"<sequenceFlow id="h1""#,
        r#"<sequenceFlow id="h0" sourceRef="hs2" targetRef="he"/><sequenceFlow id="h1""#,
    );
    refused_at_handler(&text, "2 start events");
}

#[test]
fn an_event_sub_process_with_a_sequence_flow_is_refused_at_its_line() {
    let text = event_sub(
        TIMER_START,
        r#"<endEvent id="e2"/><sequenceFlow id="out" sourceRef="handler" targetRef="e2"/>"#,
    );
    refused_at_handler(&text, "outgoing sequence flow");
}

#[test]
fn a_conditional_event_sub_process_is_still_refused_by_name() {
    let text = event_sub(
        r#"<startEvent id="hs"><conditionalEventDefinition/></startEvent>"#,
        "",
    );
    let diags = rejected(&text);
    let d = only(&diags, Code::UnsupportedElement);
    assert_at(
        &d,
        Code::UnsupportedElement,
        "handler",
        &text,
        r#"<subProcess id="handler""#,
    );
    assert!(
        d.message.contains("conditionalEventDefinition"),
        "{}",
        d.message
    );
}

/// Signal-started event sub-processes run (runtime_signals.rs); one whose start names no
/// signal is refused at that start event.
#[test]
fn a_signal_started_event_sub_process_without_a_signal_ref_is_refused_at_its_start() {
    let text = event_sub(
        r#"<startEvent id="hs"><signalEventDefinition/></startEvent>"#,
        "",
    );
    let d = only(&rejected(&text), Code::UnknownSignal);
    assert_at(
        &d,
        Code::UnknownSignal,
        "hs",
        &text,
        r#"<startEvent id="hs">"#,
    );
}

/// Inside `sub`: `more` (a service task no one runs) beside `work`, which leads to the error end
/// event `fail` (`MISSING`); the event sub-process `onMissing` in `sub` catches it and runs `fix`.
fn error_inside() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <parallelGateway id="fork"/>
  {}
  <serviceTask id="more" flyt:type="never"/>
  <endEvent id="fail"><errorEventDefinition errorRef="Missing"/></endEvent>
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="fork"/>
  <sequenceFlow id="s2" sourceRef="fork" targetRef="work"/>
  <sequenceFlow id="s3" sourceRef="fork" targetRef="more"/>
  <sequenceFlow id="s4" sourceRef="work" targetRef="fail"/>
  <sequenceFlow id="s5" sourceRef="more" targetRef="se"/>
  <subProcess id="onMissing" triggeredByEvent="true">
    <startEvent id="ms"><errorEventDefinition errorRef="Missing"/></startEvent>
    {}
    <endEvent id="me"/>
    <sequenceFlow id="m1" sourceRef="ms" targetRef="fix"/>
    <sequenceFlow id="m2" sourceRef="fix" targetRef="me"/>
  </subProcess>
</subProcess>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="done"/>
<sequenceFlow id="f3" sourceRef="done" targetRef="e"/>"#,
        data_task("work"),
        data_task("fix"),
        data_task("done")
    ))
    .replace(
        "</definitions>",
        r#"<error id="Missing" errorCode="MISSING"/></definitions>"#,
    )
}

#[tokio::test]
async fn an_error_end_event_is_caught_by_an_event_sub_process_of_its_sub_process() {
    let h = Harness::with_idle_job_type(&error_inside()).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["more", "work"]);
    let more_job = i.process.job_tokens().next().unwrap().2;

    let i = h.next(i.id, None, Some("work")).await.unwrap();
    assert_eq!(h.active(&i), ["fix"], "{:?}", i.process);
    assert_eq!(scope_elements(&i), ["sub", "onMissing"]);
    assert!(
        h.rt.store().job(more_job).unwrap().is_none(),
        "job cancelled"
    );

    let i = h.next(i.id, None, Some("fix")).await.unwrap();
    assert_eq!(h.active(&i), ["done"]);
    assert!(i.process.scopes.is_empty());
    let events = h.events(i.id);
    let want = [
        "flyt_ErrorThrown fail",
        "process_AbandonTask more",
        "flyt_ScopeEntered onMissing",
        "flyt_ErrorCaught ms",
        "process_StartTask fix",
        "flyt_ScopeLeft onMissing",
        "flyt_ScopeLeft sub",
        "process_StartTask done",
    ];
    let seen: Vec<&String> = events
        .iter()
        .filter(|e| want.contains(&e.as_str()))
        .collect();
    assert_eq!(seen, want, "{events:?}");
}

/// Inside `sub`, the error event sub-process `onMissing` catches every error; its own task
/// `fix` leads to an error end event throwing `MISSING` again. That error is not offered to
/// `onMissing` itself (it would interrupt and restart itself): the error boundary on `sub`
/// catches it.
fn error_inside_the_catcher() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  {}
  <endEvent id="fail"><errorEventDefinition errorRef="Missing"/></endEvent>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="work"/>
  <sequenceFlow id="s2" sourceRef="work" targetRef="fail"/>
  <subProcess id="onMissing" triggeredByEvent="true">
    <startEvent id="ms"><errorEventDefinition/></startEvent>
    {}
    <endEvent id="again"><errorEventDefinition errorRef="Missing"/></endEvent>
    <sequenceFlow id="m1" sourceRef="ms" targetRef="fix"/>
    <sequenceFlow id="m2" sourceRef="fix" targetRef="again"/>
  </subProcess>
</subProcess>
<boundaryEvent id="caught" attachedToRef="sub"><errorEventDefinition errorRef="Missing"/></boundaryEvent>
{}
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="e2"/>
<sequenceFlow id="f3" sourceRef="caught" targetRef="handled"/>
<sequenceFlow id="f4" sourceRef="handled" targetRef="e"/>"#,
        data_task("work"),
        data_task("fix"),
        data_task("handled")
    ))
    .replace(
        "</definitions>",
        r#"<error id="Missing" errorCode="MISSING"/></definitions>"#,
    )
}

#[tokio::test]
async fn an_error_thrown_inside_an_event_sub_process_goes_past_it_to_the_next_catcher() {
    let h = Harness::with_idle_job_type(&error_inside_the_catcher()).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["work"]);
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    assert_eq!(h.active(&i), ["fix"], "{:?}", i.process);
    assert_eq!(scope_elements(&i), ["sub", "onMissing"]);

    let i = h.next(i.id, None, Some("fix")).await.unwrap();
    assert_eq!(
        h.active(&i),
        ["handled"],
        "caught by the boundary on sub, not by onMissing again: {:?}",
        i.process
    );
    assert!(i.process.scopes.is_empty());
    let events = h.events(i.id);
    let entered = events
        .iter()
        .filter(|e| e.as_str() == "flyt_ScopeEntered onMissing")
        .count();
    assert_eq!(entered, 1, "{events:?}");
    assert!(
        events.contains(&"flyt_ErrorCaught caught".to_string()),
        "{events:?}"
    );
    let i = h.next(i.id, None, Some("handled")).await.unwrap();
    assert_eq!(i.process.end_event.as_ref().map(|e| e.as_str()), Some("e"));
}

#[test]
fn an_error_end_event_only_its_own_event_sub_process_would_catch_is_refused_at_its_line() {
    let text = error_inside_the_catcher().replace(
        r#"<boundaryEvent id="caught" attachedToRef="sub"><errorEventDefinition errorRef="Missing"/></boundaryEvent>"#,
        "",
    );
    let text = text
        .replace(
            r#"<sequenceFlow id="f3" sourceRef="caught" targetRef="handled"/>"#,
            "",
        )
        .replace(
            r#"<sequenceFlow id="f4" sourceRef="handled" targetRef="e"/>"#,
            "",
        );
    let diags = rejected(&text);
    let d = only(&diags, Code::UncaughtError);
    assert_at(
        &d,
        Code::UncaughtError,
        "again",
        &text,
        r#"<endEvent id="again">"#,
    );
}

#[tokio::test]
async fn a_service_task_error_is_caught_by_a_process_level_event_sub_process() {
    let text = doc(&format!(
        r#"<startEvent id="s"/>
<serviceTask id="more" flyt:type="never"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="more"/>
<sequenceFlow id="f2" sourceRef="more" targetRef="e"/>
<subProcess id="onAny" triggeredByEvent="true">
  <startEvent id="as"><errorEventDefinition/></startEvent>
  {}
  <endEvent id="ae"/>
  <sequenceFlow id="a1" sourceRef="as" targetRef="fix"/>
  <sequenceFlow id="a2" sourceRef="fix" targetRef="ae"/>
</subProcess>"#,
        data_task("fix")
    ));
    let h = Harness::with_idle_job_type(&text).await;
    let i = h.create().await;
    let job = i.process.job_tokens().next().unwrap().2;
    let leased =
        h.rt.lease_job(job, true, "w", Duration::from_secs(60))
            .await
            .unwrap()
            .expect("leased");
    let thrown =
        h.rt.throw_error(&leased, "BROKEN", "no luck")
            .await
            .unwrap();
    assert_eq!(thrown, flyt_engine::runtime::Thrown::Caught);
    let i = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&i), ["fix"]);
    assert_eq!(scope_elements(&i), ["onAny"]);
    assert!(i.process.incidents.is_empty());
    assert!(h.rt.store().job(job).unwrap().is_none(), "job removed");
    let i = h.next(i.id, None, Some("fix")).await.unwrap();
    assert!(i.is_ended());
    assert!(i.process.scopes.is_empty());
}

#[test]
fn a_non_interrupting_error_event_sub_process_is_refused_at_its_line() {
    refused_at_handler(
        &event_sub(
            r#"<startEvent id="hs" isInterrupting="false"><errorEventDefinition/></startEvent>"#,
            "",
        ),
        "always interrupts",
    );
}

#[test]
fn an_error_start_event_outside_an_event_sub_process_is_refused_at_its_line() {
    let text = doc(r#"<startEvent id="s"><errorEventDefinition/></startEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="e"/>"#);
    let diags = rejected(&text);
    let d = only(&diags, Code::UnsupportedElement);
    assert_at(
        &d,
        Code::UnsupportedElement,
        "s",
        &text,
        r#"<startEvent id="s">"#,
    );
}

/// Inside `sub`: `work`, then the escalation `ask` (`HELP`), then `finish`; the event
/// sub-process `helper` in `sub` (interrupting or not) catches it and runs `assist`; `done`
/// after `sub`.
fn escalation_inside(interrupting: bool) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  {}
  <intermediateThrowEvent id="ask"><escalationEventDefinition escalationRef="Help"/></intermediateThrowEvent>
  {}
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="work"/>
  <sequenceFlow id="s2" sourceRef="work" targetRef="ask"/>
  <sequenceFlow id="s3" sourceRef="ask" targetRef="finish"/>
  <sequenceFlow id="s4" sourceRef="finish" targetRef="se"/>
  <subProcess id="helper" triggeredByEvent="true">
    <startEvent id="hs" isInterrupting="{interrupting}"><escalationEventDefinition escalationRef="Help"/></startEvent>
    {}
    <endEvent id="he"/>
    <sequenceFlow id="h1" sourceRef="hs" targetRef="assist"/>
    <sequenceFlow id="h2" sourceRef="assist" targetRef="he"/>
  </subProcess>
</subProcess>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="done"/>
<sequenceFlow id="f3" sourceRef="done" targetRef="e"/>"#,
        data_task("work"),
        data_task("finish"),
        data_task("assist"),
        data_task("done")
    ))
    .replace(
        "</definitions>",
        r#"<escalation id="Help" escalationCode="HELP"/></definitions>"#,
    )
}

#[tokio::test]
async fn a_non_interrupting_escalation_event_sub_process_runs_beside_the_throwing_token() {
    let h = Harness::with_idle_job_type(&escalation_inside(false)).await;
    let i = h.create().await;
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    assert_eq!(h.active(&i), ["assist", "finish"], "{:?}", i.process);
    assert_eq!(scope_elements(&i), ["sub", "helper"]);
    let i = h.next(i.id, None, Some("finish")).await.unwrap();
    assert_eq!(h.active(&i), ["assist"]);
    assert_eq!(
        scope_elements(&i),
        ["sub", "helper"],
        "the sub-process waits"
    );
    let i = h.next(i.id, None, Some("assist")).await.unwrap();
    assert_eq!(h.active(&i), ["done"]);
    assert!(i.process.scopes.is_empty());
    let events = h.events(i.id);
    for want in [
        "flyt_EscalationThrown ask",
        "flyt_EscalationCaught hs",
        "flyt_ScopeEntered helper",
        "flyt_ScopeLeft helper",
        "flyt_ScopeLeft sub",
    ] {
        assert!(events.contains(&want.to_string()), "{want}: {events:?}");
    }
}

#[tokio::test]
async fn an_interrupting_escalation_event_sub_process_ends_the_throwing_token() {
    let h = Harness::with_idle_job_type(&escalation_inside(true)).await;
    let i = h.create().await;
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    assert_eq!(h.active(&i), ["assist"], "{:?}", i.process);
    assert_eq!(scope_elements(&i), ["sub", "helper"]);
    let i = h.next(i.id, None, Some("assist")).await.unwrap();
    assert_eq!(h.active(&i), ["done"]);
    assert!(i.process.scopes.is_empty());
    assert!(
        !h.events(i.id)
            .contains(&"process_StartTask finish".to_string())
    );
}
