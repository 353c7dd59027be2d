//! Messages caught by scopes, through the runtime API on the injected clock: a message boundary
//! event on a sub-process (interrupting: everything inside ends in the correlating commit, its
//! tasks, jobs, timers and subscriptions; non-interrupting: a branch leaves and the sub-process
//! goes on with its subscription open until it completes) and the message start events of event
//! sub-processes (inside a sub-process, interrupting; at the process level, interrupting or not,
//! open while the instance runs).

use crate::bpmn_messages::{DECIDED, with_messages};
use crate::rt::*;
use crate::runtime_messages::{FIXED_KEY, message, org, user_task};
use flyt_engine::ids::DataTypeId;
use flyt_engine::model::PROCESS_LEVEL;
use flyt_engine::runtime::{Error, Published};
use serde_json::json;

/// A second message, for a receive task inside the sub-process.
const OTHER: &str = r#"<message id="O" name="other">
  <extensionElements><flyt:subscription correlationKey='"other-1"'/></extensionElements>
</message>"#;

/// start → sub-process `sub` (containing `inside`, which starts at `is`) → user task `after` →
/// end; a message boundary `cancel` on `sub` leads to user task `handle`, a timer boundary
/// `late` (PT1H) to an end.
fn boundary_on_sub(interrupting: bool, inside: &str) -> String {
    with_messages(
        &format!("{FIXED_KEY}\n{OTHER}"),
        &format!(
            r#"<startEvent id="s"/>
<subProcess id="sub">
{inside}
</subProcess>
<boundaryEvent id="cancel" attachedToRef="sub" cancelActivity="{interrupting}"><messageEventDefinition messageRef="M"/></boundaryEvent>
<boundaryEvent id="late" attachedToRef="sub"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
{}
{}
<endEvent id="e"/>
<endEvent id="e2"/>
<endEvent id="e3"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>
<sequenceFlow id="f4" sourceRef="cancel" targetRef="handle"/>
<sequenceFlow id="f5" sourceRef="handle" targetRef="e2"/>
<sequenceFlow id="f6" sourceRef="late" targetRef="e3"/>"#,
            user_task("after"),
            user_task("handle")
        ),
    )
}

/// Inside: a user task `inner`, a service task `more` no one runs, and a receive task `wait`
/// (its own subscription), in parallel.
fn busy_inside() -> String {
    format!(
        r#"<startEvent id="is"/>
<parallelGateway id="fork"/>
{}
<serviceTask id="more" flyt:type="never"/>
<receiveTask id="wait" messageRef="O"/>
<endEvent id="ie1"/>
<endEvent id="ie2"/>
<endEvent id="ie3"/>
<sequenceFlow id="i1" sourceRef="is" targetRef="fork"/>
<sequenceFlow id="i2" sourceRef="fork" targetRef="inner"/>
<sequenceFlow id="i3" sourceRef="fork" targetRef="more"/>
<sequenceFlow id="i4" sourceRef="fork" targetRef="wait"/>
<sequenceFlow id="i5" sourceRef="inner" targetRef="ie1"/>
<sequenceFlow id="i6" sourceRef="more" targetRef="ie2"/>
<sequenceFlow id="i7" sourceRef="wait" targetRef="ie3"/>"#,
        user_task("inner")
    )
}

fn open_elements(h: &Harness) -> Vec<String> {
    let mut v: Vec<String> =
        h.rt.message_subscriptions(&h.app, 100)
            .unwrap()
            .into_iter()
            .map(|s| s.element.to_string())
            .collect();
    v.sort();
    v
}

#[tokio::test]
async fn an_interrupting_message_boundary_on_a_sub_process_ends_everything_inside_in_one_commit() {
    let h = Harness::with_idle_job_type(&boundary_on_sub(true, &busy_inside())).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["inner", "more"]);
    assert_eq!(scope_elements(&i), ["sub"]);
    assert_eq!(open_elements(&h), ["cancel", "wait"]);
    let scope = &i.process.scopes[0];
    let timer_job = scope.timers[0].job;
    let more_job = i.process.job_tokens().next().unwrap().2;
    let open = h.rt.message_subscriptions(&h.app, 100).unwrap();
    let cancel = open
        .iter()
        .find(|s| s.element.as_str() == "cancel")
        .unwrap();
    assert_eq!(cancel.token, scope.id, "held by the scope instance");
    assert_eq!(cancel.correlation_key, "case-1");

    let answer =
        h.rt.publish_message(&h.app, message("case-1", Some("m-1")), org())
            .await
            .unwrap();
    assert_eq!(
        answer,
        Published::Correlated {
            message_id: "m-1".into(),
            instance_id: i.altinn_id()
        }
    );
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&after), ["handle"]);
    assert!(after.process.scopes.is_empty());
    assert!(
        open_elements(&h).is_empty(),
        "the receive task's closed too"
    );
    assert!(
        h.rt.store().job(more_job).unwrap().is_none(),
        "job cancelled"
    );
    assert!(
        h.rt.store().job(timer_job).unwrap().is_none(),
        "boundary timer disarmed"
    );
    let data = h.rt.data(i.id, &DataTypeId::new("decision")).unwrap();
    assert_eq!(data, Some(json!({"decision": "granted", "comment": "ok"})));
    let events = h.events(i.id);
    for want in [
        "flyt_MessageCorrelated cancel",
        "process_AbandonTask inner",
        "process_AbandonTask more",
        "flyt_ScopeLeft sub",
    ] {
        assert!(events.contains(&want.to_string()), "{want}: {events:?}");
    }
    // The sub-process's receive task no longer waits: its message finds nobody.
    let mut other = message("other-1", None);
    other.name = "other".into();
    other.data = None;
    let err =
        h.rt.publish_message(&h.app, other, org())
            .await
            .unwrap_err();
    assert!(matches!(err, Error::NoSubscription { .. }), "{err:?}");
}

#[tokio::test]
async fn a_non_interrupting_message_boundary_on_a_sub_process_branches_and_closes_when_it_completes()
 {
    let inside = format!(
        r#"<startEvent id="is"/>
{}
<endEvent id="ie"/>
<sequenceFlow id="i1" sourceRef="is" targetRef="inner"/>
<sequenceFlow id="i2" sourceRef="inner" targetRef="ie"/>"#,
        user_task("inner")
    );
    let h = Harness::new(&boundary_on_sub(false, &inside)).await;
    let i = h.create().await;
    for n in 0..2 {
        let answer =
            h.rt.publish_message(&h.app, message("case-1", Some(&format!("m-{n}"))), org())
                .await
                .unwrap();
        assert!(matches!(answer, Published::Correlated { .. }), "{answer:?}");
    }
    let mid = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&mid), ["handle", "handle", "inner"]);
    assert_eq!(scope_elements(&mid), ["sub"]);
    assert_eq!(open_elements(&h), ["cancel"], "still open");
    // The sub-process completes: its subscription closes in that commit.
    let done = h.next(i.id, None, Some("inner")).await.unwrap();
    assert_eq!(h.active(&done), ["after", "handle", "handle"]);
    assert!(done.process.scopes.is_empty());
    assert!(open_elements(&h).is_empty());
}

/// start → sub-process `sub` (user task `inner`; the interrupting message event sub-process
/// `cancelled` with user task `tidy`; the non-interrupting timer event sub-process `tick`) →
/// user task `after` → end.
fn event_sub_in_sub() -> String {
    with_messages(
        DECIDED,
        &format!(
            r#"<startEvent id="s"/>
<subProcess id="sub">
<startEvent id="is"/>
{}
<endEvent id="ie"/>
<sequenceFlow id="i1" sourceRef="is" targetRef="inner"/>
<sequenceFlow id="i2" sourceRef="inner" targetRef="ie"/>
<subProcess id="cancelled" triggeredByEvent="true">
<startEvent id="cs"><messageEventDefinition messageRef="M"/></startEvent>
{}
<endEvent id="ce"/>
<sequenceFlow id="c1" sourceRef="cs" targetRef="tidy"/>
<sequenceFlow id="c2" sourceRef="tidy" targetRef="ce"/>
</subProcess>
<subProcess id="tick" triggeredByEvent="true">
<startEvent id="ts" isInterrupting="false"><timerEventDefinition><timeCycle>R/PT1H</timeCycle></timerEventDefinition></startEvent>
<endEvent id="te"/>
<sequenceFlow id="t1" sourceRef="ts" targetRef="te"/>
</subProcess>
</subProcess>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>"#,
            user_task("inner"),
            user_task("tidy"),
            user_task("after")
        ),
    )
}

#[tokio::test]
async fn an_interrupting_message_event_sub_process_in_a_sub_process_replaces_its_content() {
    let h = Harness::new(&event_sub_in_sub()).await;
    let i = h.create().await;
    let key = i.altinn_id();
    assert_eq!(h.active(&i), ["inner"]);
    let open = h.rt.message_subscriptions(&h.app, 100).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].element.as_str(), "cs");
    assert_eq!(
        open[0].correlation_key, key,
        "evaluated when the scope opened"
    );
    assert_eq!(open[0].token, i.process.scopes[0].id);
    let tick_job = i.process.scopes[0].timers[0].job;

    h.rt.publish_message(&h.app, message(&key, None), org())
        .await
        .unwrap();
    let moved = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&moved), ["tidy"]);
    assert_eq!(scope_elements(&moved), ["sub", "cancelled"]);
    assert!(open_elements(&h).is_empty(), "an interrupting start closes");
    assert!(moved.process.scopes[0].timers.is_empty());
    assert!(
        h.rt.store().job(tick_job).unwrap().is_none(),
        "the other event sub-process's timer is disarmed"
    );
    assert!(
        h.events(i.id)
            .contains(&"process_AbandonTask inner".to_string())
    );
    // The event sub-process ends, and with it the sub-process, which leaves by its flow.
    let done = h.next(i.id, None, Some("tidy")).await.unwrap();
    assert_eq!(h.active(&done), ["after"]);
    assert!(done.process.scopes.is_empty());
}

/// start → user task `work` → end, with the process-level message event sub-process `note`
/// (user task `read`).
fn process_level(interrupting: bool) -> String {
    with_messages(
        FIXED_KEY,
        &format!(
            r#"<startEvent id="s"/>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
<sequenceFlow id="f2" sourceRef="work" targetRef="e"/>
<subProcess id="note" triggeredByEvent="true">
<startEvent id="ns" isInterrupting="{interrupting}"><messageEventDefinition messageRef="M"/></startEvent>
{}
<endEvent id="ne"/>
<sequenceFlow id="n1" sourceRef="ns" targetRef="read"/>
<sequenceFlow id="n2" sourceRef="read" targetRef="ne"/>
</subProcess>"#,
            user_task("work"),
            user_task("read")
        ),
    )
}

#[tokio::test]
async fn a_non_interrupting_process_level_message_event_sub_process_runs_per_message_while_the_instance_runs()
 {
    let h = Harness::new(&process_level(false)).await;
    let i = h.create().await;
    let open = h.rt.message_subscriptions(&h.app, 100).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].element.as_str(), "ns");
    assert_eq!(open[0].token, PROCESS_LEVEL);
    for n in 0..2 {
        h.rt.publish_message(&h.app, message("case-1", Some(&format!("m-{n}"))), org())
            .await
            .unwrap();
    }
    let mid = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&mid), ["read", "read", "work"]);
    assert_eq!(scope_elements(&mid), ["note", "note"]);
    assert_eq!(open_elements(&h), ["ns"]);
    h.next(i.id, None, Some("work")).await.unwrap();
    h.next(i.id, None, Some("read")).await.unwrap();
    let done = h.next(i.id, None, Some("read")).await.unwrap();
    assert!(done.is_ended());
    assert!(open_elements(&h).is_empty(), "closed when the process ends");
    let err =
        h.rt.publish_message(&h.app, message("case-1", None), org())
            .await
            .unwrap_err();
    assert!(matches!(err, Error::NoSubscription { .. }), "{err:?}");
}

#[tokio::test]
async fn an_interrupting_process_level_message_event_sub_process_ends_the_rest_and_closes() {
    let h = Harness::new(&process_level(true)).await;
    let i = h.create().await;
    h.rt.publish_message(&h.app, message("case-1", None), org())
        .await
        .unwrap();
    let moved = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&moved), ["read"]);
    assert!(open_elements(&h).is_empty());
    let done = h.next(i.id, None, Some("read")).await.unwrap();
    assert!(done.is_ended());
    assert_eq!(done.process.end_event.as_ref().unwrap().as_str(), "ne");
}

#[tokio::test]
async fn a_buffered_message_waits_for_a_catch_not_for_a_scope() {
    // Buffered before the instance exists: the event sub-process does not take it.
    let h = Harness::new(&process_level(false)).await;
    let mut early = message("case-1", Some("early"));
    early.time_to_live = Some("PT1H".into());
    let answer = h.rt.publish_message(&h.app, early, org()).await.unwrap();
    assert!(matches!(answer, Published::Buffered { .. }), "{answer:?}");
    let i = h.create().await;
    assert_eq!(h.active(&i), ["work"]);
    assert_eq!(h.rt.buffered_messages(&h.app, 10).unwrap().len(), 1);
}
