//! Timers with a manual clock: intermediate catch events, interrupting and non-interrupting
//! boundary events on user and service tasks, cycles, expression values, durability across a
//! restart on redb. Tests advance the clock; nothing sleeps.

use crate::rt::*;
use crate::support::doc;
use flyt_engine::app::AppSpec;
use flyt_engine::bpmn::{self, Code, Options};
use flyt_engine::hooks::Registry;
use flyt_engine::ids::{DataTypeId, InstanceId};
use flyt_engine::model::{Instance, JobKind, TokenAt};
use flyt_engine::runtime::worker::Worker;
use flyt_engine::store::Store;
use flyt_engine::time::Clock;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn user_task(id: &str) -> String {
    format!(
        r#"<task id="{id}"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>"#
    )
}

fn timer(kind: &str, value: &str) -> String {
    format!("<timerEventDefinition><{kind}>{value}</{kind}></timerEventDefinition>")
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

async fn until_active(h: &Harness, id: InstanceId, want: &[&str]) -> Instance {
    eventually(&format!("active {want:?}"), || {
        let i = h.rt.instance(id).ok()?;
        let mut active = h.active(&i);
        active.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        (active == want).then_some(i)
    })
    .await
}

fn timer_jobs(h: &Harness, i: &Instance) -> usize {
    i.process
        .armed_timers()
        .iter()
        .filter(|(_, t)| {
            h.rt.store()
                .job(t.job)
                .ok()
                .flatten()
                .is_some_and(|(_, j)| j.kind == JobKind::Timer)
        })
        .count()
}

#[tokio::test]
async fn an_intermediate_timer_waits_until_due_then_moves_on() {
    let bpmn = doc(&format!(
        r#"<startEvent id="s"/>
<intermediateCatchEvent id="wait">{}</intermediateCatchEvent>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
<sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>"#,
        timer("timeDuration", "PT15M"),
        user_task("after")
    ));
    let h = Harness::new(&bpmn).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    let armed = i.process.armed_timers();
    assert_eq!(armed.len(), 1);
    assert_eq!(armed[0].1.due, h.clock.now().plus(Duration::from_secs(900)));
    assert!(matches!(i.process.tokens[0].at, TokenAt::Timer { .. }));
    assert!(h.active(&i).is_empty());

    h.clock.advance(Duration::from_secs(899));
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(
        h.active(&h.rt.instance(i.id).unwrap()).is_empty(),
        "not yet due"
    );
    h.clock.advance(Duration::from_secs(1));
    let i = until_active(&h, i.id, &["after"]).await;
    assert!(i.process.armed_timers().is_empty());
    let events = h.events(i.id);
    assert!(
        events.contains(&"flyt_TimerArmed wait".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"flyt_TimerFired wait".to_string()),
        "{events:?}"
    );
    worker.stop(Duration::from_secs(1)).await;
}

fn boundary_process(cancel: bool, value: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
{}
<boundaryEvent id="deadline" attachedToRef="handle" cancelActivity="{cancel}">{value}</boundaryEvent>
{}
{}
<endEvent id="e1"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="handle"/>
<sequenceFlow id="f2" sourceRef="handle" targetRef="e1"/>
<sequenceFlow id="f3" sourceRef="deadline" targetRef="escalate"/>
<sequenceFlow id="f4" sourceRef="escalate" targetRef="e2"/>"#,
        user_task("handle"),
        user_task("escalate"),
        "",
    ))
}

#[tokio::test]
async fn an_interrupting_boundary_timer_ends_its_task_and_escalates() {
    let h = Harness::new(&boundary_process(true, &timer("timeDuration", "P14D"))).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    assert_eq!(h.active(&i), ["handle"]);
    assert_eq!(timer_jobs(&h, &i), 1);
    h.clock.advance(Duration::from_secs(14 * 86_400));
    let i = until_active(&h, i.id, &["escalate"]).await;
    assert!(i.process.armed_timers().is_empty());
    // The interrupted task is gone: moving it is refused and changes nothing.
    let refused = h.next(i.id, None, Some("handle")).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(h.rt.instance(i.id).unwrap(), i);
    let events = h.events(i.id);
    assert!(
        events.contains(&"process_AbandonTask handle".to_string()),
        "{events:?}"
    );
    let i = h.next(i.id, None, None).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "e2");
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_task_completed_in_time_disarms_its_boundary_timer() {
    let h = Harness::new(&boundary_process(true, &timer("timeDuration", "PT1H"))).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    let job = i.process.armed_timers()[0].1.job;
    let i = h.next(i.id, None, None).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "e1");
    assert!(
        h.rt.store().job(job).unwrap().is_none(),
        "the timer job went with the task"
    );
    h.clock.advance(Duration::from_secs(7200));
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(h.rt.instance(i.id).unwrap(), i, "nothing fires later");
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_non_interrupting_cycle_fires_each_tick_while_the_task_stays() {
    let h = Harness::new(&boundary_process(false, &timer("timeCycle", "R2/P1D"))).await;
    let worker = Worker::spawn(h.rt.clone());
    let i = h.create().await;
    h.clock.advance(Duration::from_secs(86_400));
    let i = until_active(&h, i.id, &["handle", "escalate"]).await;
    assert_eq!(timer_jobs(&h, &i), 1, "armed again for the second tick");
    h.clock.advance(Duration::from_secs(86_400));
    let i = until_active(&h, i.id, &["handle", "escalate", "escalate"]).await;
    assert_eq!(timer_jobs(&h, &i), 0, "R2: two ticks in all");
    h.clock.advance(Duration::from_secs(10 * 86_400));
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(h.active(&h.rt.instance(i.id).unwrap()).len(), 3);
    // The task itself is still there and completes normally.
    let i = h.next(i.id, None, Some("handle")).await.unwrap();
    assert!(!h.active(&i).contains(&"handle".to_string()));
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_deadline_from_the_data_is_evaluated_when_the_timer_is_armed() {
    let bpmn = boundary_process(
        true,
        &timer("timeDate", r#"["dataModel", "deadline", "case"]"#),
    );
    let h = Harness::new(&bpmn).await;
    let worker = Worker::spawn(h.rt.clone());
    let deadline = h.clock.now().plus(Duration::from_secs(3600));
    let i = h
        .create_with(BTreeMap::from([(
            DataTypeId::new("case"),
            json!({ "deadline": deadline.to_rfc3339() }),
        )]))
        .await;
    assert_eq!(i.process.armed_timers()[0].1.due, deadline);
    h.clock.set(deadline);
    until_active(&h, i.id, &["escalate"]).await;
    worker.stop(Duration::from_secs(1)).await;

    // A value that is no date refuses the move that would arm it, naming the element.
    let created =
        h.rt.create_instance(flyt_engine::runtime::CreateInstance {
            app: h.app.clone(),
            owner: owner(),
            actor: user(),
            data: BTreeMap::from([(DataTypeId::new("case"), json!({ "deadline": "soon" }))]),
            start_event: None,
            idempotency: None,
        })
        .await;
    match created {
        Err(flyt_engine::runtime::Error::Timer { element, problem }) => {
            assert_eq!(element, "deadline");
            assert!(problem.contains("soon"), "{problem}");
        }
        other => panic!("expected a timer error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_overdue_timer_fires_once_after_a_restart_on_redb() {
    let dir = tempfile::tempdir().unwrap();
    let bpmn = boundary_process(true, &timer("timeDuration", "PT1H"));
    let open = || {
        Store::open(
            flyt_engine::store::open::BackendKind::Redb,
            dir.path(),
            8 << 20,
            flyt_engine::store::group::GroupConfig::default(),
        )
        .unwrap()
    };
    let id = {
        let h = Harness::with(
            &bpmn,
            open(),
            Registry::builder().build(),
            AppSpec::open(app_id()),
        )
        .await;
        let i = h.create().await;
        h.rt.store().shutdown();
        i.id
    };
    // "Down" for a day: the timer is overdue when the server comes back.
    let h = Harness::with(
        &bpmn,
        open(),
        Registry::builder().build(),
        AppSpec::open(app_id()),
    )
    .await;
    h.clock.advance(Duration::from_secs(86_400));
    let worker = Worker::spawn(h.rt.clone());
    let i = until_active(&h, id, &["escalate"]).await;
    let fired = h
        .events(i.id)
        .iter()
        .filter(|e| *e == "flyt_TimerFired deadline")
        .count();
    assert_eq!(fired, 1);
    worker.stop(Duration::from_secs(1)).await;
}

#[test]
fn timer_validation_is_line_exact() {
    let bad = doc(&format!(
        r#"<startEvent id="s"/>
<intermediateCatchEvent id="wait">{}</intermediateCatchEvent>
<endEvent id="e"/>
<boundaryEvent id="b" attachedToRef="s">{}</boundaryEvent>
<boundaryEvent id="nb" attachedToRef="t" cancelActivity="false">{}</boundaryEvent>
{}
<sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
<sequenceFlow id="f2" sourceRef="wait" targetRef="t"/>
<sequenceFlow id="f3" sourceRef="t" targetRef="e"/>
<sequenceFlow id="f4" sourceRef="b" targetRef="e"/>
<sequenceFlow id="f5" sourceRef="nb" targetRef="e"/>"#,
        timer("timeDuration", "15 minutes"),
        timer("timeDuration", "PT1M"),
        timer("timeCycle", "R/PT1H"),
        user_task("t"),
    ));
    let rejected = bpmn::compile(bad.as_bytes(), &Options::default()).unwrap_err();
    let find = |code: Code| {
        rejected
            .diagnostics
            .iter()
            .find(|d| d.code == code)
            .unwrap_or_else(|| panic!("{code:?} in {:?}", rejected.diagnostics))
    };
    let invalid = find(Code::InvalidTimer);
    assert_eq!(
        invalid.pos().line,
        crate::support::line_of(&bad, "15 minutes")
    );
    assert!(
        invalid.message.contains("`15 minutes`"),
        "{}",
        invalid.message
    );
    let boundary = find(Code::InvalidBoundary);
    assert_eq!(
        boundary.pos().line,
        crate::support::line_of(&bad, r#"id="b""#)
    );
    assert!(
        boundary.message.contains("startEvent"),
        "{}",
        boundary.message
    );
    let unbounded = find(Code::UnboundedTimer);
    assert_eq!(
        unbounded.pos().line,
        crate::support::line_of(&bad, r#"id="nb""#)
    );
}
