//! Signals at run time: a broadcast reaches every subscription of its name open in the app at
//! that moment (catch events, boundary events on tasks and sub-processes, interrupting or not)
//! and starts an instance at each signal start event, each exactly once; a thrown signal
//! broadcasts in its own app; an interrupted broadcast resumes after a restart.

use crate::rt::*;
use flyt_engine::app::AppSpec;
use flyt_engine::hooks::Registry;
use flyt_engine::model::{Actor, Instance, InstanceOwner, Party};
use flyt_engine::runtime::{Error, PublishSignal, RuntimeConfig};
use flyt_engine::store::Store;
use serde_json::json;

const ALARM: &str = r#"<signal id="S" name="alarm"/>"#;

fn doc(body: &str) -> String {
    crate::bpmn_messages::with_messages(ALARM, body)
}

fn task(id: &str) -> String {
    format!(
        r#"<task id="{id}" xmlns:altinn="http://altinn.no/process"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>"#
    )
}

/// start → signal catch `c` → task `after` → end.
fn catching() -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<intermediateCatchEvent id="c"><signalEventDefinition signalRef="S"/></intermediateCatchEvent>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<sequenceFlow id="f2" sourceRef="c" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>"#,
        task("after")
    ))
}

fn alarm(id: Option<&str>) -> PublishSignal {
    PublishSignal {
        name: "alarm".into(),
        signal_id: id.map(str::to_string),
        data: Some(json!({"level": 3})),
    }
}

fn org() -> Actor {
    Actor::organisation("991825827")
}

fn caught(h: &Harness, i: &Instance) -> usize {
    h.events(i.id)
        .iter()
        .filter(|e| e.starts_with("flyt_SignalCaught"))
        .count()
}

#[tokio::test]
async fn a_signal_reaches_every_open_catch_once_and_none_that_opens_later() {
    let h = Harness::new(&catching()).await;
    let waiting = [h.create().await, h.create().await, h.create().await];
    let open = h.rt.signal_subscriptions(&h.app, 100).unwrap();
    assert_eq!(open.len(), 3);
    assert!(
        open.iter()
            .all(|s| s.signal == "alarm" && s.element.as_str() == "c")
    );

    let answer =
        h.rt.publish_signal(&h.app, alarm(None), org())
            .await
            .unwrap();
    assert_eq!((answer.subscriptions, answer.starts), (3, 0));
    for i in &waiting {
        let moved = h.rt.instance(i.id).unwrap();
        assert_eq!(h.active(&moved), vec!["after"]);
        assert_eq!(caught(&h, i), 1, "{:?}", h.events(i.id));
    }
    assert!(h.rt.signal_subscriptions(&h.app, 100).unwrap().is_empty());
    // Opened after the broadcast: it waits for the next one.
    let late = h.create().await;
    assert_eq!(h.rt.signal_subscriptions(&h.app, 100).unwrap().len(), 1);
    assert_eq!(
        h.active(&h.rt.instance(late.id).unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(h.rt.store().pending_broadcasts(10).unwrap(), vec![]);
}

#[tokio::test]
async fn a_signal_id_repeats_its_first_answer_and_refuses_other_content() {
    let h = Harness::new(&catching()).await;
    h.create().await;
    let first =
        h.rt.publish_signal(&h.app, alarm(Some("sig-1")), org())
            .await
            .unwrap();
    assert_eq!(first.subscriptions, 1);
    let waiting = h.create().await;
    let again =
        h.rt.publish_signal(&h.app, alarm(Some("sig-1")), org())
            .await
            .unwrap();
    assert_eq!(
        again, first,
        "the first answer, and nothing delivered again"
    );
    assert_eq!(caught(&h, &waiting), 0);
    let mut other = alarm(Some("sig-1"));
    other.data = Some(json!({"level": 4}));
    let err = h.rt.publish_signal(&h.app, other, org()).await.unwrap_err();
    assert!(matches!(err, Error::SignalIdReused(_)), "{err:?}");
    // An unknown name: nothing stored.
    let mut unknown = alarm(None);
    unknown.name = "fire".into();
    let err =
        h.rt.publish_signal(&h.app, unknown, org())
            .await
            .unwrap_err();
    let Error::UnknownSignal { known, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(known, &vec!["alarm".to_string()]);
    assert_eq!(h.rt.signal_subscriptions(&h.app, 10).unwrap().len(), 1);
}

/// start → parallel: (signal catch `c` → `caught`) and (`go` → `throw`) ; `throw` is an
/// intermediate throw (→ end) or a signal end event.
fn throwing(end: bool) -> String {
    let throw = if end {
        r#"<endEvent id="throw"><signalEventDefinition signalRef="S"/></endEvent>"#.to_string()
    } else {
        r#"<intermediateThrowEvent id="throw"><signalEventDefinition signalRef="S"/></intermediateThrowEvent>
<endEvent id="e3"/>
<sequenceFlow id="f7" sourceRef="throw" targetRef="e3"/>"#
            .to_string()
    };
    doc(&format!(
        r#"<startEvent id="s"/>
<parallelGateway id="split"/>
<intermediateCatchEvent id="c"><signalEventDefinition signalRef="S"/></intermediateCatchEvent>
{}
{}
{throw}
<endEvent id="e1"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="split"/>
<sequenceFlow id="f2" sourceRef="split" targetRef="c"/>
<sequenceFlow id="f3" sourceRef="split" targetRef="go"/>
<sequenceFlow id="f4" sourceRef="c" targetRef="caught"/>
<sequenceFlow id="f5" sourceRef="caught" targetRef="e1"/>
<sequenceFlow id="f6" sourceRef="go" targetRef="throw"/>"#,
        task("caught"),
        task("go")
    ))
}

#[tokio::test]
async fn a_thrown_signal_and_a_signal_end_event_broadcast_in_their_own_app() {
    for end in [false, true] {
        let h = Harness::new(&throwing(end)).await;
        let a = h.create().await;
        let b = h.create().await;
        assert_eq!(h.rt.signal_subscriptions(&h.app, 10).unwrap().len(), 2);
        h.next(a.id, None, Some("go")).await.unwrap();
        let a = h.rt.instance(a.id).unwrap();
        let b = h.rt.instance(b.id).unwrap();
        assert_eq!(h.active(&a), vec!["caught"], "end={end}");
        assert_eq!(h.active(&b), vec!["caught", "go"], "end={end}");
        assert_eq!(caught(&h, &a), 1);
        assert_eq!(caught(&h, &b), 1);
        assert!(
            h.events(a.id)
                .contains(&"flyt_SignalThrown throw".to_string()),
            "{:?}",
            h.events(a.id)
        );
        assert!(h.rt.signal_subscriptions(&h.app, 10).unwrap().is_empty());
        // b throws too: nobody waits any more, and a (past its catch) is not moved.
        h.next(b.id, None, Some("go")).await.unwrap();
        assert_eq!(caught(&h, &a), 1);
        assert_eq!(h.active(&h.rt.instance(b.id).unwrap()), vec!["caught"]);
    }
}

/// start → `on` (a task `work`, or a sub-process `work` around task `inner`) with a signal
/// boundary `b` → task `stopped`.
fn boundary(on_scope: bool, interrupting: bool) -> String {
    let on = if on_scope {
        format!(
            r#"<subProcess id="work"><startEvent id="is"/>{}<endEvent id="ie"/>
<sequenceFlow id="i1" sourceRef="is" targetRef="inner"/><sequenceFlow id="i2" sourceRef="inner" targetRef="ie"/></subProcess>"#,
            task("inner")
        )
    } else {
        task("work")
    };
    doc(&format!(
        r#"<startEvent id="s"/>
{on}
<boundaryEvent id="b" attachedToRef="work" cancelActivity="{interrupting}"><signalEventDefinition signalRef="S"/></boundaryEvent>
{}
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
<sequenceFlow id="f2" sourceRef="work" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="b" targetRef="stopped"/>
<sequenceFlow id="f4" sourceRef="stopped" targetRef="e2"/>"#,
        task("stopped")
    ))
}

#[tokio::test]
async fn an_interrupting_signal_boundary_ends_its_task_or_sub_process() {
    for on_scope in [false, true] {
        let h = Harness::new(&boundary(on_scope, true)).await;
        let i = h.create().await;
        let waiting = if on_scope { "inner" } else { "work" };
        assert_eq!(h.active(&i), vec![waiting]);
        let open = h.rt.signal_subscriptions(&h.app, 10).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].element.as_str(), "b");
        let answer =
            h.rt.publish_signal(&h.app, alarm(None), org())
                .await
                .unwrap();
        assert_eq!(answer.subscriptions, 1);
        let after = h.rt.instance(i.id).unwrap();
        assert_eq!(h.active(&after), vec!["stopped"], "on_scope={on_scope}");
        assert!(scope_elements(&after).is_empty());
        assert!(h.rt.signal_subscriptions(&h.app, 10).unwrap().is_empty());
        assert_eq!(caught(&h, &i), 1);
    }
}

#[tokio::test]
async fn a_non_interrupting_signal_boundary_adds_a_token_and_stays_subscribed() {
    for on_scope in [false, true] {
        let h = Harness::new(&boundary(on_scope, false)).await;
        let i = h.create().await;
        let waiting = if on_scope { "inner" } else { "work" };
        h.rt.publish_signal(&h.app, alarm(None), org())
            .await
            .unwrap();
        let after = h.rt.instance(i.id).unwrap();
        let mut want = vec![waiting, "stopped"];
        want.sort();
        assert_eq!(h.active(&after), want, "on_scope={on_scope}");
        assert_eq!(h.rt.signal_subscriptions(&h.app, 10).unwrap().len(), 1);
        // Each broadcast once more.
        h.rt.publish_signal(&h.app, alarm(None), org())
            .await
            .unwrap();
        assert_eq!(caught(&h, &i), 2);
        // Once the task (the sub-process) ends, its boundary is no longer subscribed.
        h.next(i.id, None, Some(waiting)).await.unwrap();
        assert!(h.rt.signal_subscriptions(&h.app, 10).unwrap().is_empty());
    }
}

fn service_owner() -> InstanceOwner {
    InstanceOwner::new(Party::organisation("991825827").unwrap())
}

/// An app owned by the service owner whose process starts at signal start event `s` (with
/// `extensions` inside it) → task `after` → end.
async fn signal_start(extensions: &str) -> Harness {
    let body = format!(
        r#"<startEvent id="s">{extensions}<signalEventDefinition signalRef="S"/></startEvent>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="after"/>
<sequenceFlow id="f2" sourceRef="after" targetRef="e"/>"#,
        task("after")
    );
    let app = AppSpec::open(app_id()).with_service_owner(service_owner().party);
    Harness::with(
        &doc(&body),
        Store::memory(),
        Registry::builder().build(),
        app,
    )
    .await
}

#[tokio::test]
async fn a_signal_start_event_starts_one_instance_per_broadcast() {
    let h = signal_start("").await;
    let answer =
        h.rt.publish_signal(&h.app, alarm(Some("one")), org())
            .await
            .unwrap();
    assert_eq!((answer.subscriptions, answer.starts), (0, 1));
    let page = h.rt.list_instances(&h.app, None, None, 10).unwrap();
    assert_eq!(page.instances.len(), 1);
    let i = &h.rt.instance(page.instances[0].1).unwrap();
    assert_eq!(i.owner.party, service_owner().party);
    assert_eq!(i.process.start_event.as_ref().unwrap().as_str(), "s");
    assert_eq!(h.active(i), vec!["after"]);
    // A repeat starts nothing; a new broadcast starts one more.
    h.rt.publish_signal(&h.app, alarm(Some("one")), org())
        .await
        .unwrap();
    assert_eq!(
        h.rt.list_instances(&h.app, None, None, 10)
            .unwrap()
            .instances
            .len(),
        1
    );
    h.rt.publish_signal(&h.app, alarm(Some("two")), org())
        .await
        .unwrap();
    assert_eq!(
        h.rt.list_instances(&h.app, None, None, 10)
            .unwrap()
            .instances
            .len(),
        2
    );
    // Nobody may start one at a signal start event through the API.
    let err =
        h.rt.create_instance(flyt_engine::runtime::CreateInstance {
            app: h.app.clone(),
            owner: owner(),
            actor: user(),
            data: Default::default(),
            start_event: Some("s".into()),
            idempotency: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::StartsOnSchedule { .. } | Error::BadRequest(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_broadcast_cut_short_resumes_after_a_restart_and_delivers_each_subscription_once() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Store::open(
            flyt_engine::store::open::BackendKind::Redb,
            dir.path(),
            8 << 20,
            flyt_engine::store::group::GroupConfig::default(),
        )
        .unwrap()
    };
    let bpmn = catching();
    // A runtime that makes one delivery before answering (and no worker runs the rest): the
    // "crash" falls between the first delivery and the others.
    let ids: Vec<_> = {
        let h = Harness::with_config(
            &bpmn,
            open(),
            Registry::builder().build(),
            AppSpec::open(app_id()),
            RuntimeConfig::default().with_signal_batch(1),
        )
        .await;
        let ids = vec![
            h.create().await.id,
            h.create().await.id,
            h.create().await.id,
        ];
        let answer =
            h.rt.publish_signal(&h.app, alarm(None), org())
                .await
                .unwrap();
        assert_eq!(answer.subscriptions, 3);
        let moved = ids
            .iter()
            .filter(|&&id| h.active(&h.rt.instance(id).unwrap()) == vec!["after"])
            .count();
        assert_eq!(moved, 1, "one delivery before the answer");
        let pending = h.rt.store().pending_broadcasts(10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1, answer.broadcast_id);
        h.rt.store().shutdown();
        ids
    };
    // The restart: only what is on disk is left; the worker's call resumes the broadcast.
    let h = Harness::with(
        &bpmn,
        open(),
        Registry::builder().build(),
        AppSpec::open(app_id()),
    )
    .await;
    assert_eq!(h.rt.deliver_pending_signals(100).await.unwrap(), 2);
    assert_eq!(h.rt.deliver_pending_signals(100).await.unwrap(), 0);
    assert!(h.rt.store().pending_broadcasts(10).unwrap().is_empty());
    for id in ids {
        let i = h.rt.instance(id).unwrap();
        assert_eq!(h.active(&i), vec!["after"]);
        assert_eq!(caught(&h, &i), 1, "exactly once: {:?}", h.events(id));
    }
}

#[tokio::test]
async fn the_worker_delivers_what_the_publisher_left() {
    let h = Harness::with_config(
        &catching(),
        Store::memory(),
        Registry::builder().build(),
        AppSpec::open(app_id()),
        RuntimeConfig::default().with_signal_batch(1),
    )
    .await;
    let ids = [
        h.create().await.id,
        h.create().await.id,
        h.create().await.id,
    ];
    h.rt.publish_signal(&h.app, alarm(None), org())
        .await
        .unwrap();
    let worker = flyt_engine::runtime::worker::Worker::spawn(h.rt.clone());
    for id in ids {
        h.until_active(id, &["after"]).await;
    }
    worker.stop(std::time::Duration::from_secs(1)).await;
    for id in ids {
        assert_eq!(caught(&h, &h.rt.instance(id).unwrap()), 1);
    }
}

#[tokio::test]
async fn a_signal_after_an_event_based_gateway_wins_and_cancels_the_others() {
    let messages = format!("{ALARM}\n{}", crate::bpmn_messages::DECIDED);
    let body = format!(
        r#"<startEvent id="s"/>
<eventBasedGateway id="g"/>
<intermediateCatchEvent id="m"><messageEventDefinition messageRef="M"/></intermediateCatchEvent>
<intermediateCatchEvent id="sig"><signalEventDefinition signalRef="S"/></intermediateCatchEvent>
<intermediateCatchEvent id="t"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
{}
<endEvent id="e1"/>
<endEvent id="e2"/>
<endEvent id="e3"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
<sequenceFlow id="f2" sourceRef="g" targetRef="m"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="sig"/>
<sequenceFlow id="f4" sourceRef="g" targetRef="t"/>
<sequenceFlow id="f5" sourceRef="m" targetRef="e1"/>
<sequenceFlow id="f6" sourceRef="sig" targetRef="after"/>
<sequenceFlow id="f7" sourceRef="after" targetRef="e2"/>
<sequenceFlow id="f8" sourceRef="t" targetRef="e3"/>"#,
        task("after")
    );
    let h = Harness::new(&crate::bpmn_messages::with_messages(&messages, &body)).await;
    let i = h.create().await;
    assert_eq!(h.rt.signal_subscriptions(&h.app, 10).unwrap().len(), 1);
    assert_eq!(h.rt.message_subscriptions(&h.app, 10).unwrap().len(), 1);
    assert_eq!(i.process.armed_timers().len(), 1);
    h.rt.publish_signal(&h.app, alarm(None), org())
        .await
        .unwrap();
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&after), vec!["after"]);
    assert!(
        after.process.armed_timers().is_empty(),
        "the timer is disarmed"
    );
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
    assert!(h.rt.signal_subscriptions(&h.app, 10).unwrap().is_empty());
    assert!(h.rt.store().next_due_timer().unwrap().is_none());
}

/// `boundary(on_scope, interrupting)` with `work` a parallel multi-instance activity of three.
fn multi_boundary(on_scope: bool, interrupting: bool) -> String {
    let looped = "<multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics>";
    let close = if on_scope { "</subProcess>" } else { "</task>" };
    boundary(on_scope, interrupting).replacen(close, &format!("{looped}{close}"), 1)
}

#[tokio::test]
async fn a_signal_boundary_on_a_multi_instance_activity_is_one_subscription_on_the_whole() {
    for on_scope in [false, true] {
        let h = Harness::new(&multi_boundary(on_scope, true)).await;
        let i = h.create().await;
        let waiting = if on_scope { "inner" } else { "work" };
        assert_eq!(h.active(&i), vec![waiting; 3]);
        let open = h.rt.signal_subscriptions(&h.app, 10).unwrap();
        assert_eq!(open.len(), 1, "on_scope={on_scope}: {open:?}");
        let answer =
            h.rt.publish_signal(&h.app, alarm(None), org())
                .await
                .unwrap();
        assert_eq!(answer.subscriptions, 1);
        let after = h.rt.instance(i.id).unwrap();
        assert_eq!(h.active(&after), vec!["stopped"], "on_scope={on_scope}");
        assert!(scope_elements(&after).is_empty());
        assert_eq!(caught(&h, &i), 1);
    }
    // Non-interrupting: one more token per broadcast, not one per inner instance.
    let h = Harness::new(&multi_boundary(false, false)).await;
    let i = h.create().await;
    h.rt.publish_signal(&h.app, alarm(None), org())
        .await
        .unwrap();
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&after), vec!["stopped", "work", "work", "work"]);
}

/// start → `work` → end, and beside it an event sub-process `esp` started by the signal
/// (interrupting or not) at `es` → task `handle` → end. With `in_scope`, all of it is inside a
/// sub-process `outer` followed by task `after`.
fn signal_event_sub(interrupting: bool, in_scope: bool) -> String {
    let inside = format!(
        r#"<startEvent id="s"/>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
<sequenceFlow id="f2" sourceRef="work" targetRef="e"/>
<subProcess id="esp" triggeredByEvent="true">
<startEvent id="es" isInterrupting="{interrupting}"><signalEventDefinition signalRef="S"/></startEvent>
{}
<endEvent id="ee"/>
<sequenceFlow id="g1" sourceRef="es" targetRef="handle"/>
<sequenceFlow id="g2" sourceRef="handle" targetRef="ee"/>
</subProcess>"#,
        task("work"),
        task("handle")
    );
    if !in_scope {
        return doc(&inside);
    }
    doc(&format!(
        r#"<startEvent id="ps"/>
<subProcess id="outer">{inside}</subProcess>
{}
<endEvent id="pe"/>
<sequenceFlow id="p1" sourceRef="ps" targetRef="outer"/>
<sequenceFlow id="p2" sourceRef="outer" targetRef="after"/>
<sequenceFlow id="p3" sourceRef="after" targetRef="pe"/>"#,
        task("after")
    ))
}

#[tokio::test]
async fn a_signal_starts_a_non_interrupting_event_sub_process_at_each_broadcast() {
    for in_scope in [false, true] {
        let h = Harness::new(&signal_event_sub(false, in_scope)).await;
        let i = h.create().await;
        let open = h.rt.signal_subscriptions(&h.app, 10).unwrap();
        assert_eq!(open.len(), 1, "in_scope={in_scope}");
        assert_eq!(open[0].element.as_str(), "es");
        for _ in 0..2 {
            let answer =
                h.rt.publish_signal(&h.app, alarm(None), org())
                    .await
                    .unwrap();
            assert_eq!(answer.subscriptions, 1);
        }
        let after = h.rt.instance(i.id).unwrap();
        assert_eq!(h.active(&after), vec!["handle", "handle", "work"]);
        assert_eq!(caught(&h, &i), 2);
        // Still open while its scope is active; closed once the scope has completed.
        assert_eq!(h.rt.signal_subscriptions(&h.app, 10).unwrap().len(), 1);
        let mut i = after;
        for task in ["handle", "handle", "work"] {
            i = h.next(i.id, None, Some(task)).await.unwrap();
        }
        if in_scope {
            assert_eq!(h.active(&i), vec!["after"]);
        } else {
            assert!(i.is_ended());
        }
        assert!(h.rt.signal_subscriptions(&h.app, 10).unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_signal_starts_an_interrupting_event_sub_process_that_ends_the_rest_of_its_scope() {
    for in_scope in [false, true] {
        let h = Harness::new(&signal_event_sub(true, in_scope)).await;
        let i = h.create().await;
        assert_eq!(h.active(&i), vec!["work"]);
        h.rt.publish_signal(&h.app, alarm(None), org())
            .await
            .unwrap();
        let after = h.rt.instance(i.id).unwrap();
        assert_eq!(h.active(&after), vec!["handle"], "in_scope={in_scope}");
        // Once it has started, the scope's other event sub-processes cannot start again.
        assert!(h.rt.signal_subscriptions(&h.app, 10).unwrap().is_empty());
        let answer =
            h.rt.publish_signal(&h.app, alarm(None), org())
                .await
                .unwrap();
        assert_eq!(answer.subscriptions, 0);
        let done = h.next(i.id, None, Some("handle")).await.unwrap();
        if in_scope {
            assert_eq!(h.active(&done), vec!["after"]);
        } else {
            assert!(done.is_ended());
        }
        assert_eq!(caught(&h, &i), 1);
    }
}

/// `<flyt:subscription dataType="alarm">` for a signal catching element.
const INTO_ALARM: &str =
    r#"<extensionElements><flyt:subscription dataType="alarm"/></extensionElements>"#;

#[tokio::test]
async fn a_signals_data_is_merged_into_the_data_type_its_catch_names() {
    // A catch event and an event sub-process's start, each naming the data type.
    let text = catching().replace(
        r#"<intermediateCatchEvent id="c">"#,
        &format!(r#"<intermediateCatchEvent id="c">{INTO_ALARM}"#),
    );
    let h = Harness::new(&text).await;
    let i = h.create().await;
    let alarm_type = flyt_engine::ids::DataTypeId::new("alarm");
    h.rt.publish_signal(&h.app, alarm(None), org())
        .await
        .unwrap();
    assert_eq!(
        h.rt.data(i.id, &alarm_type).unwrap(),
        Some(json!({"level": 3}))
    );
    let events = h.rt.history(i.id).unwrap();
    let caught = events
        .iter()
        .find(|e| e.event_type == flyt_engine::model::EventType::SignalCaught)
        .unwrap();
    assert_eq!(caught.details.as_ref().unwrap()["dataType"], "alarm");

    let text = signal_event_sub(false, false).replace(
        r#"<startEvent id="es" isInterrupting="false">"#,
        &format!(r#"<startEvent id="es" isInterrupting="false">{INTO_ALARM}"#),
    );
    let h = Harness::new(&text).await;
    let i = h.create().await;
    let mut second = alarm(None);
    second.data = Some(json!({"by": "ops"}));
    h.rt.publish_signal(&h.app, alarm(None), org())
        .await
        .unwrap();
    h.rt.publish_signal(&h.app, second, org()).await.unwrap();
    // Fields of later broadcasts replace those of the same name and keep the others.
    assert_eq!(
        h.rt.data(i.id, &alarm_type).unwrap(),
        Some(json!({"level": 3, "by": "ops"}))
    );
    // A catch that names no data type writes nothing.
    let h = Harness::new(&catching()).await;
    let i = h.create().await;
    h.rt.publish_signal(&h.app, alarm(None), org())
        .await
        .unwrap();
    assert_eq!(h.rt.data(i.id, &alarm_type).unwrap(), None);
}

#[tokio::test]
async fn a_signal_start_event_gives_its_instance_the_signals_data() {
    let h = signal_start(INTO_ALARM).await;
    h.rt.publish_signal(&h.app, alarm(None), org())
        .await
        .unwrap();
    let page = h.rt.list_instances(&h.app, None, None, 10).unwrap();
    let started = page.instances[0].1;
    assert_eq!(
        h.rt.data(started, &flyt_engine::ids::DataTypeId::new("alarm"))
            .unwrap(),
        Some(json!({"level": 3}))
    );
}
