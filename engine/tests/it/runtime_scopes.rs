//! Embedded sub-processes through the engine API: entering and completing (nested, repeated,
//! with parallel branches inside), a terminate end event inside ending only its scope, a timer
//! inside moving on in its scope, and the validation rules of scopes (line-exact).

use crate::rt::*;
use crate::support::{assert_at, data_task, doc, only, rejected};
use flyt_engine::app::AppSpec;
use flyt_engine::bpmn::Code;
use flyt_engine::hooks::Completion;
use flyt_engine::hooks::{HandlerConfig, Registry};
use flyt_engine::model::{JobKind, ProcessState, TokenAt};
use flyt_engine::runtime::worker::Worker;
use flyt_engine::store::Store;
use std::time::{Duration, Instant};

/// `review` inside `inner` inside `outer`, then `archive` after `outer`.
fn nested() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="outer">
  <startEvent id="os"/>
  <subProcess id="inner">
    <startEvent id="is"/>
    {}
    <endEvent id="ie"/>
    <sequenceFlow id="i1" sourceRef="is" targetRef="review"/>
    <sequenceFlow id="i2" sourceRef="review" targetRef="ie"/>
  </subProcess>
  <endEvent id="oe"/>
  <sequenceFlow id="o1" sourceRef="os" targetRef="inner"/>
  <sequenceFlow id="o2" sourceRef="inner" targetRef="oe"/>
</subProcess>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="outer"/>
<sequenceFlow id="f2" sourceRef="outer" targetRef="archive"/>
<sequenceFlow id="f3" sourceRef="archive" targetRef="e"/>"#,
        data_task("review"),
        data_task("archive")
    ))
}

#[tokio::test]
async fn a_token_enters_nested_sub_processes_and_leaves_when_the_last_inner_token_ends() {
    let h = Harness::new(&nested()).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["review"]);
    assert_eq!(scope_elements(&i), ["outer", "inner"]);
    let (outer, inner) = (&i.process.scopes[0], &i.process.scopes[1]);
    assert_eq!(outer.parent, None);
    assert_eq!(inner.parent, Some(outer.id));
    assert_eq!(i.process.tokens[0].scope, Some(inner.id));

    let i = h.next(i.id, None, Some("review")).await.unwrap();
    assert_eq!(h.active(&i), ["archive"]);
    assert!(i.process.scopes.is_empty());
    assert_eq!(i.process.tokens[0].scope, None);
    let events = h.events(i.id);
    let want = [
        "flyt_ScopeEntered outer",
        "flyt_ScopeEntered inner",
        "process_StartTask review",
        "process_EndTask review",
        "flyt_ScopeLeft inner",
        "flyt_ScopeLeft outer",
        "process_StartTask archive",
    ];
    let seen: Vec<&String> = events
        .iter()
        .filter(|e| want.contains(&e.as_str()))
        .collect();
    assert_eq!(seen, want, "{events:?}");

    let i = h.next(i.id, None, Some("archive")).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "e");
}

/// A fork inside `sub`: `a` and `b`; `sub` completes only when both have ended, each at its own
/// end event. A loop back from `again` re-enters `sub` as a new scope instance.
fn parallel_inside() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <parallelGateway id="fork"/>
  {}
  {}
  <endEvent id="ea"/>
  <endEvent id="eb"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="fork"/>
  <sequenceFlow id="s2" sourceRef="fork" targetRef="a"/>
  <sequenceFlow id="s3" sourceRef="fork" targetRef="b"/>
  <sequenceFlow id="s4" sourceRef="a" targetRef="ea"/>
  <sequenceFlow id="s5" sourceRef="b" targetRef="eb"/>
</subProcess>
{}
<exclusiveGateway id="more"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="again"/>
<sequenceFlow id="f3" sourceRef="again" targetRef="more"/>
<sequenceFlow id="f4" sourceRef="more" targetRef="sub"><conditionExpression>["equals", ["gatewayAction"], "reject"]</conditionExpression></sequenceFlow>
<sequenceFlow id="f5" sourceRef="more" targetRef="e"><conditionExpression>["notEquals", ["gatewayAction"], "reject"]</conditionExpression></sequenceFlow>"#,
        data_task("a"),
        data_task("b"),
        r#"<task id="again"><extensionElements><altinn:taskExtension><altinn:taskType>confirmation</altinn:taskType><altinn:actions><altinn:action>reject</altinn:action></altinn:actions></altinn:taskExtension></extensionElements></task>"#
    ))
}

#[tokio::test]
async fn a_sub_process_waits_for_every_branch_inside_and_a_second_entry_is_a_new_scope() {
    let h = Harness::new(&parallel_inside()).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["a", "b"]);
    let first = i.process.scopes[0].id;
    let i = h.next(i.id, None, Some("a")).await.unwrap();
    assert_eq!(h.active(&i), ["b"], "one branch still runs inside");
    assert_eq!(scope_elements(&i), ["sub"]);
    let i = h.next(i.id, None, Some("b")).await.unwrap();
    assert_eq!(h.active(&i), ["again"]);
    assert!(i.process.scopes.is_empty());

    let i = h.next(i.id, Some("reject"), Some("again")).await.unwrap();
    assert_eq!(h.active(&i), ["a", "b"]);
    let second = i.process.scopes[0].id;
    assert_ne!(first, second, "a repeated entry is told apart");
    assert!(i.process.tokens.iter().all(|t| t.scope == Some(second)));
    let i = h.next(i.id, None, Some("a")).await.unwrap();
    let i = h.next(i.id, None, Some("b")).await.unwrap();
    let i = h.next(i.id, None, Some("again")).await.unwrap();
    assert!(i.is_ended());
}

/// Outside, `watch` runs in parallel with `sub`; inside, `slow` (a service task, with a job)
/// and `quick`, which leads to a terminate end event.
fn terminate_inside() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<parallelGateway id="fork"/>
{}
<subProcess id="sub">
  <startEvent id="ss"/>
  <parallelGateway id="inner_fork"/>
  <serviceTask id="slow" flyt:type="never"/>
  <intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>P1D</timeDuration></timerEventDefinition></intermediateCatchEvent>
  {}
  <endEvent id="stop"><terminateEventDefinition/></endEvent>
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="inner_fork"/>
  <sequenceFlow id="s2" sourceRef="inner_fork" targetRef="slow"/>
  <sequenceFlow id="s3" sourceRef="inner_fork" targetRef="quick"/>
  <sequenceFlow id="s4" sourceRef="inner_fork" targetRef="wait"/>
  <sequenceFlow id="s5" sourceRef="slow" targetRef="se"/>
  <sequenceFlow id="s6" sourceRef="wait" targetRef="se"/>
  <sequenceFlow id="s7" sourceRef="quick" targetRef="stop"/>
</subProcess>
{}
<endEvent id="e1"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>
<sequenceFlow id="f2" sourceRef="fork" targetRef="watch"/>
<sequenceFlow id="f3" sourceRef="fork" targetRef="sub"/>
<sequenceFlow id="f4" sourceRef="watch" targetRef="e1"/>
<sequenceFlow id="f5" sourceRef="sub" targetRef="after"/>
<sequenceFlow id="f6" sourceRef="after" targetRef="e2"/>"#,
        data_task("watch"),
        data_task("quick"),
        data_task("after")
    ))
}

#[tokio::test]
async fn a_terminate_end_event_inside_a_sub_process_ends_only_its_scope() {
    let h = Harness::with_idle_job_type(&terminate_inside()).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["quick", "slow", "watch"]);
    let slow_job = i.process.job_tokens().next().unwrap().2;
    let timer_job = i.process.armed_timers()[0].1.job;
    assert!(h.rt.store().job(slow_job).unwrap().is_some());

    let i = h.next(i.id, None, Some("quick")).await.unwrap();
    assert_eq!(h.active(&i), ["after", "watch"], "{:?}", i.process);
    assert!(i.process.scopes.is_empty());
    assert!(
        h.rt.store().job(slow_job).unwrap().is_none(),
        "job cancelled"
    );
    assert!(
        h.rt.store().job(timer_job).unwrap().is_none(),
        "timer disarmed"
    );
    let events = h.events(i.id);
    assert!(
        events.contains(&"process_AbandonTask slow".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"flyt_ScopeLeft sub".to_string()),
        "{events:?}"
    );
    assert!(!i.is_ended());

    let i = h.next(i.id, None, Some("watch")).await.unwrap();
    let i = h.next(i.id, None, Some("after")).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "e2");
}

#[tokio::test]
async fn a_timer_inside_a_sub_process_fires_and_the_token_goes_on_in_its_scope() {
    let bpmn = doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="wait"/>
  <sequenceFlow id="s2" sourceRef="wait" targetRef="se"/>
</subProcess>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>"#,
        data_task("after")
    ));
    let h = Harness::new(&bpmn).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    assert!(matches!(i.process.tokens[0].at, TokenAt::Timer { .. }));
    let job = i.process.armed_timers()[0].1.job;
    assert_eq!(
        h.rt.store().job(job).unwrap().map(|(_, j)| j.kind),
        Some(JobKind::Timer)
    );
    h.clock.advance(Duration::from_secs(3600));
    let deadline = Instant::now() + Duration::from_secs(10);
    let i = loop {
        let i = h.rt.instance(i.id).unwrap();
        if h.active(&i) == ["after"] {
            break i;
        }
        assert!(
            Instant::now() < deadline,
            "the timer did not fire: {:?}",
            i.process
        );
        tokio::task::yield_now().await;
    };
    assert!(i.process.scopes.is_empty());
    worker.stop(Duration::from_secs(1)).await;
}

#[test]
fn a_process_state_stored_before_scopes_reads_with_every_token_at_the_process_level() {
    let stored = r#"{"started":null,"startEvent":null,"ended":null,"endEvent":null,"flow":1,
        "tokens":[{"id":0,"at":"userTask","task":{"flow":1,"started":"2025-11-24T16:00:00Z","elementId":"t"}}],
        "nextToken":1}"#;
    let state: ProcessState = serde_json::from_str(stored).unwrap();
    assert_eq!(state.tokens[0].scope, None);
    assert!(state.scopes.is_empty());
}

#[test]
fn a_flow_crossing_a_sub_process_border_is_refused_at_its_line() {
    let text = doc(r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="se"/>
  <sequenceFlow id="escape" sourceRef="ss" targetRef="e"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>"#);
    let diags = rejected(&text);
    let d = only(&diags, Code::CrossScopeFlow);
    assert_at(&d, Code::CrossScopeFlow, "escape", &text, r#"id="escape""#);
    assert!(d.message.contains("sub-process `sub`"), "{}", d.message);
}

#[test]
fn a_sub_process_without_a_start_event_is_refused_at_its_line() {
    let text = doc(r#"<startEvent id="s"/>
<subProcess id="sub">
  <endEvent id="se"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>"#);
    let diags = rejected(&text);
    let d = only(&diags, Code::InvalidSubProcess);
    assert_at(
        &d,
        Code::InvalidSubProcess,
        "sub",
        &text,
        r#"<subProcess id="sub">"#,
    );
}

#[test]
fn a_sub_process_without_a_way_out_is_a_dead_end() {
    let text = doc(r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="se"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>"#);
    let diags = rejected(&text);
    assert!(diags.iter().any(|d| d.code == Code::DeadEnd), "{diags:#?}");
}

/// `work` and `more` run inside `sub`, which has a boundary timer `deadline` (interrupting or
/// not) leading to `chase`.
fn sub_with_deadline(cancel: bool, value: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <parallelGateway id="fork"/>
  {}
  <serviceTask id="more" flyt:type="never"/>
  <parallelGateway id="join"/>
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="fork"/>
  <sequenceFlow id="s2" sourceRef="fork" targetRef="work"/>
  <sequenceFlow id="s3" sourceRef="fork" targetRef="more"/>
  <sequenceFlow id="s4" sourceRef="work" targetRef="join"/>
  <sequenceFlow id="s5" sourceRef="more" targetRef="join"/>
  <sequenceFlow id="s6" sourceRef="join" targetRef="se"/>
</subProcess>
<boundaryEvent id="deadline" attachedToRef="sub" cancelActivity="{cancel}"><timerEventDefinition>{value}</timerEventDefinition></boundaryEvent>
{}
{}
<endEvent id="e1"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="done"/>
<sequenceFlow id="f3" sourceRef="done" targetRef="e1"/>
<sequenceFlow id="f4" sourceRef="deadline" targetRef="chase"/>
<sequenceFlow id="f5" sourceRef="chase" targetRef="e2"/>"#,
        data_task("work"),
        data_task("done"),
        data_task("chase")
    ))
}

#[tokio::test]
async fn an_interrupting_timer_on_a_sub_process_ends_everything_inside_in_one_commit() {
    let h =
        Harness::with_idle_job_type(&sub_with_deadline(true, "<timeDuration>P1D</timeDuration>"))
            .await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    assert_eq!(h.active(&i), ["more", "work"]);
    let timers = i.process.armed_timers();
    assert_eq!(timers.len(), 1);
    assert_eq!(i.process.scopes[0].timers[0].element.as_str(), "deadline");
    let more_job = i.process.job_tokens().next().unwrap().2;

    h.clock.advance(Duration::from_secs(86_400));
    let i = h.until_active(i.id, &["chase"]).await;
    assert!(i.process.scopes.is_empty());
    assert!(i.process.armed_timers().is_empty());
    assert!(
        h.rt.store().job(more_job).unwrap().is_none(),
        "job cancelled"
    );
    let events = h.events(i.id);
    for want in [
        "flyt_TimerFired deadline",
        "process_AbandonTask work",
        "process_AbandonTask more",
        "flyt_ScopeLeft sub",
        "process_StartTask chase",
    ] {
        assert!(events.contains(&want.to_string()), "{want}: {events:?}");
    }
    let left =
        h.rt.history(i.id)
            .unwrap()
            .into_iter()
            .find(|e| e.event_type.as_str() == "flyt_ScopeLeft")
            .unwrap();
    assert_eq!(left.details.unwrap()["interruptedBy"], "deadline");
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_non_interrupting_timer_cycle_on_a_sub_process_adds_a_token_per_tick_and_stops_with_it() {
    let h =
        Harness::with_idle_job_type(&sub_with_deadline(false, "<timeCycle>R2/PT1H</timeCycle>"))
            .await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    h.clock.advance(Duration::from_secs(3600));
    let i = h.until_active(i.id, &["chase", "more", "work"]).await;
    assert_eq!(i.process.scopes.len(), 1, "the sub-process goes on");
    assert_eq!(
        i.process.scopes[0].timers.len(),
        1,
        "armed for the next tick"
    );
    assert_eq!(
        i.process
            .tokens
            .iter()
            .find(|t| t.task().is_some_and(|x| x.element_id.as_str() == "chase"))
            .unwrap()
            .scope,
        None
    );

    // Completing the inside completes the sub-process and disarms its timer.
    let next_tick = i.process.scopes[0].timers[0].job;
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    let job = i.process.job_tokens().next().unwrap().2;
    let leased =
        h.rt.lease_job(job, true, "w", Duration::from_secs(60))
            .await
            .unwrap()
            .expect("leased");
    h.rt.complete_job(&leased, Completion::default())
        .await
        .unwrap();
    let i = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&i), ["chase", "done"]);
    assert!(i.process.scopes.is_empty());
    assert!(
        h.rt.store().job(next_tick).unwrap().is_none(),
        "disarmed with its sub-process"
    );
    worker.stop(Duration::from_secs(1)).await;
}

#[test]
fn a_timer_boundary_on_a_sub_process_is_accepted() {
    let text = sub_with_deadline(true, "<timeDuration>P1D</timeDuration>");
    crate::support::compile(&text).expect("compiles");
}

/// `more` (a service task) runs inside `inner` inside `outer`; `outer` has an error boundary for
/// `REJECTED`, `inner` one for another code.
fn nested_error_catcher() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="outer">
  <startEvent id="os"/>
  <subProcess id="inner">
    <startEvent id="is"/>
    <parallelGateway id="fork"/>
    {}
    <serviceTask id="more" flyt:type="never"/>
    <parallelGateway id="join"/>
    <endEvent id="ie"/>
    <sequenceFlow id="i1" sourceRef="is" targetRef="fork"/>
    <sequenceFlow id="i2" sourceRef="fork" targetRef="work"/>
    <sequenceFlow id="i3" sourceRef="fork" targetRef="more"/>
    <sequenceFlow id="i4" sourceRef="work" targetRef="join"/>
    <sequenceFlow id="i5" sourceRef="more" targetRef="join"/>
    <sequenceFlow id="i6" sourceRef="join" targetRef="ie"/>
  </subProcess>
  <boundaryEvent id="other" attachedToRef="inner"><errorEventDefinition errorRef="Other"/></boundaryEvent>
  <endEvent id="oe"/>
  <endEvent id="oe2"/>
  <sequenceFlow id="o1" sourceRef="os" targetRef="inner"/>
  <sequenceFlow id="o2" sourceRef="inner" targetRef="oe"/>
  <sequenceFlow id="o3" sourceRef="other" targetRef="oe2"/>
</subProcess>
<boundaryEvent id="rejected" attachedToRef="outer"><errorEventDefinition errorRef="Rejected"/></boundaryEvent>
{}
{}
<endEvent id="e1"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="outer"/>
<sequenceFlow id="f2" sourceRef="outer" targetRef="done"/>
<sequenceFlow id="f3" sourceRef="done" targetRef="e1"/>
<sequenceFlow id="f4" sourceRef="rejected" targetRef="appeal"/>
<sequenceFlow id="f5" sourceRef="appeal" targetRef="e2"/>"#,
        data_task("work"),
        data_task("done"),
        data_task("appeal")
    ))
    .replace(
        "</definitions>",
        r#"<error id="Rejected" errorCode="REJECTED"/><error id="Other" errorCode="OTHER"/></definitions>"#,
    )
}

#[tokio::test]
async fn an_error_inside_nested_sub_processes_is_caught_by_the_nearest_boundary_naming_its_code() {
    let h = Harness::with_idle_job_type(&nested_error_catcher()).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["more", "work"]);
    let job = i.process.job_tokens().next().unwrap().2;
    let leased =
        h.rt.lease_job(job, true, "w", Duration::from_secs(60))
            .await
            .unwrap()
            .expect("leased");
    let thrown = h.rt.throw_error(&leased, "REJECTED", "no").await.unwrap();
    assert_eq!(thrown, flyt_engine::runtime::Thrown::Caught);
    let i = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&i), ["appeal"], "{:?}", i.process);
    assert!(i.process.scopes.is_empty(), "both sub-processes ended");
    assert!(h.rt.store().job(job).unwrap().is_none());
    let events = h.events(i.id);
    for want in [
        "process_AbandonTask more",
        "process_AbandonTask work",
        "flyt_ScopeLeft outer",
        "flyt_ErrorCaught rejected",
    ] {
        assert!(events.contains(&want.to_string()), "{want}: {events:?}");
    }
    assert!(!events.contains(&"process_StartTask done".to_string()));
}

/// Inside `check` (nested in `outer`): `work` in parallel with a gateway that throws `MISSING`
/// at an error end event when the data says so; `outer`'s boundary catches `MISSING`.
fn error_end_process(catcher: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="outer">
  <startEvent id="os"/>
  <subProcess id="check">
    <startEvent id="cs"/>
    <parallelGateway id="fork"/>
    {}
    <endEvent id="missing"><errorEventDefinition errorRef="Missing"/></endEvent>
    <endEvent id="ce"/>
    <sequenceFlow id="c1" sourceRef="cs" targetRef="fork"/>
    <sequenceFlow id="c2" sourceRef="fork" targetRef="work"/>
    <sequenceFlow id="c3" sourceRef="fork" targetRef="missing"/>
    <sequenceFlow id="c4" sourceRef="work" targetRef="ce"/>
  </subProcess>
  <endEvent id="oe"/>
  <sequenceFlow id="o1" sourceRef="os" targetRef="check"/>
  <sequenceFlow id="o2" sourceRef="check" targetRef="oe"/>
</subProcess>
{catcher}
{}
{}
<endEvent id="e1"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="outer"/>
<sequenceFlow id="f2" sourceRef="outer" targetRef="done"/>
<sequenceFlow id="f3" sourceRef="done" targetRef="e1"/>
<sequenceFlow id="f4" sourceRef="caught" targetRef="fix"/>
<sequenceFlow id="f5" sourceRef="fix" targetRef="e2"/>"#,
        data_task("work"),
        data_task("done"),
        data_task("fix")
    ))
    .replace(
        "</definitions>",
        r#"<error id="Missing" errorCode="MISSING"/><error id="Other" errorCode="OTHER"/></definitions>"#,
    )
}

#[tokio::test]
async fn an_error_end_event_is_caught_by_the_boundary_of_an_enclosing_sub_process() {
    let h = Harness::new(&error_end_process(
        r#"<boundaryEvent id="caught" attachedToRef="outer"><errorEventDefinition errorRef="Missing"/></boundaryEvent>"#,
    ))
    .await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["fix"], "{:?}", i.process);
    assert!(i.process.scopes.is_empty());
    let events = h.events(i.id);
    let want = [
        "flyt_ScopeEntered outer",
        "flyt_ScopeEntered check",
        "process_StartTask work",
        "flyt_ErrorThrown missing",
        "process_AbandonTask work",
        "flyt_ScopeLeft outer",
        "flyt_ErrorCaught caught",
        "process_StartTask fix",
    ];
    let seen: Vec<&String> = events
        .iter()
        .filter(|e| want.contains(&e.as_str()))
        .collect();
    assert_eq!(seen, want, "{events:?}");
    let i = h.next(i.id, None, Some("fix")).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "e2");
}

#[tokio::test]
async fn a_catch_all_error_boundary_catches_an_error_end_event_too() {
    let h = Harness::new(&error_end_process(
        r#"<boundaryEvent id="caught" attachedToRef="outer"><errorEventDefinition/></boundaryEvent>"#,
    ))
    .await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["fix"]);
}

#[test]
fn an_error_end_event_nothing_catches_is_refused_at_its_line() {
    let text = error_end_process(
        r#"<boundaryEvent id="caught" attachedToRef="outer"><errorEventDefinition errorRef="Other"/></boundaryEvent>"#,
    );
    let diags = rejected(&text);
    let d = only(&diags, Code::UncaughtError);
    assert_at(
        &d,
        Code::UncaughtError,
        "missing",
        &text,
        r#"<endEvent id="missing">"#,
    );
    assert!(d.message.contains("`MISSING`"), "{}", d.message);
}

#[test]
fn an_error_end_event_naming_no_error_is_refused_at_its_line() {
    let text = error_end_process(
        r#"<boundaryEvent id="caught" attachedToRef="outer"><errorEventDefinition/></boundaryEvent>"#,
    )
    .replace(r#"errorRef="Missing"/></endEvent>"#, r#"errorRef="Nope"/></endEvent>"#);
    let diags = rejected(&text);
    let d = only(&diags, Code::UnknownReference);
    assert_at(
        &d,
        Code::UnknownReference,
        "missing",
        &text,
        r#"errorRef="Nope""#,
    );
}

/// `first`, then a link throw to `Resume`, which lands at the catch inside the same scope.
fn link_process(catches: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  {}
  <intermediateThrowEvent id="goto"><linkEventDefinition name="Resume"/></intermediateThrowEvent>
  {catches}
  {}
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="first"/>
  <sequenceFlow id="s2" sourceRef="first" targetRef="goto"/>
  <sequenceFlow id="s3" sourceRef="landing" targetRef="second"/>
  <sequenceFlow id="s4" sourceRef="second" targetRef="se"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>"#,
        data_task("first"),
        data_task("second")
    ))
}

const LANDING: &str = r#"<intermediateCatchEvent id="landing"><linkEventDefinition name="Resume"/></intermediateCatchEvent>"#;

#[tokio::test]
async fn a_link_throw_event_continues_at_the_catch_event_of_its_name() {
    let h = Harness::new(&link_process(LANDING)).await;
    let i = h.create().await;
    let i = h.next(i.id, None, Some("first")).await.unwrap();
    assert_eq!(h.active(&i), ["second"]);
    assert_eq!(i.process.tokens[0].scope, Some(i.process.scopes[0].id));
    let i = h.next(i.id, None, Some("second")).await.unwrap();
    assert!(i.is_ended());
}

#[test]
fn a_link_throw_without_its_catch_in_the_same_scope_is_refused_at_its_line() {
    // The catch of that name is outside the sub-process: a different scope.
    let text = link_process("").replace(
        r#"<endEvent id="e"/>"#,
        &format!("{LANDING}\n<endEvent id=\"e\"/>"),
    );
    let diags = rejected(&text);
    let d = only(&diags, Code::InvalidLink);
    assert_at(&d, Code::InvalidLink, "goto", &text, r#"id="goto""#);
}

#[test]
fn two_link_catch_events_of_one_name_in_a_scope_are_refused_at_their_lines() {
    let second = LANDING.replace(r#"id="landing""#, r#"id="landing2""#);
    let text = link_process(&format!("{LANDING}\n  {second}"));
    let diags = rejected(&text);
    let links: Vec<_> = diags
        .iter()
        .filter(|d| d.code == Code::InvalidLink)
        .collect();
    assert_eq!(links.len(), 2, "{diags:#?}");
    assert_at(
        links[0],
        Code::InvalidLink,
        "landing",
        &text,
        r#"id="landing""#,
    );
    assert_at(
        links[1],
        Code::InvalidLink,
        "landing2",
        &text,
        r#"id="landing2""#,
    );
}

/// Inside `sub`: `work`, then an intermediate escalation throw `ask`, then `finish`; `sub` has an
/// escalation boundary `help` (interrupting or not) leading to `assist`.
fn escalation_process(cancel: bool, code_ref: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  {}
  <intermediateThrowEvent id="ask"><escalationEventDefinition {code_ref}/></intermediateThrowEvent>
  {}
  <endEvent id="se"/>
  <sequenceFlow id="s1" sourceRef="ss" targetRef="work"/>
  <sequenceFlow id="s2" sourceRef="work" targetRef="ask"/>
  <sequenceFlow id="s3" sourceRef="ask" targetRef="finish"/>
  <sequenceFlow id="s4" sourceRef="finish" targetRef="se"/>
</subProcess>
<boundaryEvent id="help" attachedToRef="sub" cancelActivity="{cancel}"><escalationEventDefinition escalationRef="Help"/></boundaryEvent>
{}
<endEvent id="e1"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="e1"/>
<sequenceFlow id="f3" sourceRef="help" targetRef="assist"/>
<sequenceFlow id="f4" sourceRef="assist" targetRef="e2"/>"#,
        data_task("work"),
        data_task("finish"),
        data_task("assist")
    ))
    .replace(
        "</definitions>",
        r#"<escalation id="Help" escalationCode="HELP"/><escalation id="Other" escalationCode="OTHER"/></definitions>"#,
    )
}

#[tokio::test]
async fn an_interrupting_escalation_boundary_ends_its_sub_process() {
    let h = Harness::new(&escalation_process(true, r#"escalationRef="Help""#)).await;
    let i = h.create().await;
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    assert_eq!(h.active(&i), ["assist"], "{:?}", i.process);
    assert!(i.process.scopes.is_empty());
    let events = h.events(i.id);
    assert!(
        events.contains(&"flyt_EscalationThrown ask".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"flyt_EscalationCaught help".to_string()),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_non_interrupting_escalation_boundary_adds_a_token_and_the_sub_process_goes_on() {
    let h = Harness::new(&escalation_process(false, r#"escalationRef="Help""#)).await;
    let i = h.create().await;
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    assert_eq!(h.active(&i), ["assist", "finish"], "{:?}", i.process);
    assert_eq!(i.process.scopes.len(), 1);
    let i = h.next(i.id, None, Some("finish")).await.unwrap();
    let i = h.next(i.id, None, Some("assist")).await.unwrap();
    assert!(i.is_ended());
}

#[tokio::test]
async fn an_uncaught_escalation_is_not_an_error_and_the_token_goes_on() {
    let h = Harness::new(&escalation_process(true, r#"escalationRef="Other""#)).await;
    let i = h.create().await;
    let i = h.next(i.id, None, Some("work")).await.unwrap();
    assert_eq!(h.active(&i), ["finish"]);
    assert!(
        h.events(i.id)
            .contains(&"flyt_EscalationThrown ask".to_string())
    );
}

#[test]
fn an_escalation_ref_to_nothing_is_refused_at_its_line() {
    let text = escalation_process(true, r#"escalationRef="Nope""#);
    let diags = rejected(&text);
    let d = only(&diags, Code::UnknownReference);
    assert_at(
        &d,
        Code::UnknownReference,
        "ask",
        &text,
        r#"escalationRef="Nope""#,
    );
}

/// An external worker holds a job inside a sub-process when the sub-process's interrupting
/// timer fires: the job goes with everything inside, and the worker's late completion is
/// refused naming the boundary and the task (as for a boundary on the task itself), not
/// answered "no such job"; nothing changes.
#[tokio::test]
async fn a_late_completion_of_a_job_an_interrupted_sub_process_cancelled_names_the_boundary() {
    use flyt_engine::ids::AppId;
    use flyt_engine::runtime::jobs::JobError;
    use flyt_engine::runtime::{Activation, Firing};
    let registry = Registry::builder()
        .external_service_task("ext", HandlerConfig::default())
        .build();
    let mut app = AppSpec::open(app_id());
    app.open_data_types = true;
    let xml = sub_with_deadline(true, "<timeDuration>PT1M</timeDuration>")
        .replace(r#"flyt:type="never""#, r#"flyt:type="ext""#);
    let h = Harness::with(&xml, Store::memory(), registry, app).await;
    let i = h.create().await;
    let all = |_: &AppId, _: &str| true;
    let types = ["ext".to_string()];
    let activation = Activation {
        job_types: &types,
        max_jobs: 1,
        worker: "w",
        lock: Duration::from_secs(600),
    };
    let got = h.rt.activate_jobs(activation, &all).await.unwrap();
    assert_eq!(got.len(), 1);
    h.clock.advance(Duration::from_secs(61));
    let timer = i.process.scopes[0].timers[0].job;
    assert!(matches!(h.rt.fire_due_timer(timer).await, Firing::Fired(_)));
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&after), ["chase"]);
    // A worker names its job and lease (the API's `POST /jobs/{key}.{lease}/complete`).
    let held = &got[0].leased;
    let late = h.rt.leased_job(held.job.key, held.lease).unwrap_err();
    match late {
        JobError::Cancelled { by, task, .. } => {
            assert_eq!(by, "deadline");
            assert_eq!(task, "more");
        }
        other => panic!("expected Cancelled, got {other}"),
    }
    assert_eq!(h.rt.instance(i.id).unwrap(), after, "nothing changed");
}
