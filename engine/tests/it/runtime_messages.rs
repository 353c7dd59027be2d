//! Messages at run time: subscriptions opened and closed with the token, correlation to the
//! oldest subscription in one commit, data merged into the catch's data type, idempotent
//! `messageId`s, buffering with `timeToLive`, and refusals that store nothing.

use crate::bpmn_messages::{DECIDED, with_messages};
use crate::rt::*;
use flyt_engine::app::{AppSpec, DataTypeSpec, Schema};
use flyt_engine::hooks::Registry;
use flyt_engine::ids::DataTypeId;
use flyt_engine::model::{Actor, Instance, TokenAt};
use flyt_engine::runtime::message_sweep::BufferedSweep;
use flyt_engine::runtime::worker::Worker;
use flyt_engine::runtime::{Error, PublishMessage, Published};
use flyt_engine::store::Store;
use serde_json::json;
use std::time::Duration;

pub(crate) fn user_task(id: &str) -> String {
    format!(
        r#"<task id="{id}" xmlns:altinn="http://altinn.no/process"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>"#
    )
}

/// start → receive task `c` → user task `after` → end.
fn waiting_process(messages: &str) -> String {
    with_messages(
        messages,
        &format!(
            r#"<startEvent id="s"/>
<receiveTask id="c" messageRef="M"/>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<sequenceFlow id="f2" sourceRef="c" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>"#,
            user_task("after")
        ),
    )
}

/// A message keyed on a literal, so that several instances wait for the same key.
pub(crate) const FIXED_KEY: &str = r#"<message id="M" name="caseDecided">
  <extensionElements><flyt:subscription correlationKey='"case-1"' dataType="decision"/></extensionElements>
</message>"#;

pub(crate) fn message(key: &str, id: Option<&str>) -> PublishMessage {
    PublishMessage {
        name: "caseDecided".into(),
        correlation_key: key.into(),
        message_id: id.map(str::to_string),
        data: Some(json!({"decision": "granted", "comment": "ok"})),
        time_to_live: None,
    }
}

pub(crate) fn org() -> Actor {
    Actor::organisation("991825827")
}

fn waits(i: &Instance) -> Vec<(String, String)> {
    i.process
        .tokens
        .iter()
        .filter_map(|t| match &t.at {
            TokenAt::Message {
                message,
                correlation_key,
                ..
            } => Some((message.clone(), correlation_key.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_published_message_moves_the_waiting_instance_and_merges_its_data() {
    let h = Harness::new(&waiting_process(DECIDED)).await;
    let i = h.create().await;
    let key = i.altinn_id();
    assert_eq!(waits(&i), vec![("caseDecided".to_string(), key.clone())]);
    let open = h.rt.message_subscriptions(&h.app, 100).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].instance, i.id);
    assert_eq!(open[0].correlation_key, key);

    let answer =
        h.rt.publish_message(&h.app, message(&key, Some("m-1")), org())
            .await
            .unwrap();
    assert_eq!(
        answer,
        Published::Correlated {
            message_id: "m-1".into(),
            instance_id: key.clone()
        }
    );
    let moved = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&moved), vec!["after"]);
    assert!(waits(&moved).is_empty());
    assert!(h.rt.message_subscriptions(&h.app, 100).unwrap().is_empty());
    let data = h.rt.data(i.id, &DataTypeId::new("decision")).unwrap();
    assert_eq!(data, Some(json!({"decision": "granted", "comment": "ok"})));
    assert!(
        h.events(i.id)
            .contains(&"flyt_MessageCorrelated c".to_string()),
        "{:?}",
        h.events(i.id)
    );
}

#[tokio::test]
async fn the_oldest_subscription_for_a_key_is_served_first_each_exactly_once() {
    let h = Harness::new(&waiting_process(FIXED_KEY)).await;
    let first = h.create().await;
    h.clock.advance(Duration::from_millis(5));
    let second = h.create().await;
    let a =
        h.rt.publish_message(&h.app, message("case-1", None), org())
            .await
            .unwrap();
    let b =
        h.rt.publish_message(&h.app, message("case-1", None), org())
            .await
            .unwrap();
    let instance_of = |p: &Published| match p {
        Published::Correlated { instance_id, .. } => instance_id.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(instance_of(&a), first.altinn_id());
    assert_eq!(instance_of(&b), second.altinn_id());
    // A third finds nobody and has no timeToLive: refused, nothing stored.
    let err =
        h.rt.publish_message(&h.app, message("case-1", Some("m-3")), org())
            .await
            .unwrap_err();
    assert!(matches!(err, Error::NoSubscription { .. }), "{err:?}");
    assert!(
        h.rt.store()
            .publish_record(&h.app, "m-3")
            .unwrap()
            .is_none()
    );
    assert!(h.rt.buffered_messages(&h.app, 10).unwrap().is_empty());
}

#[tokio::test]
async fn the_same_message_id_gives_the_first_answer_and_other_content_is_a_conflict() {
    let h = Harness::new(&waiting_process(FIXED_KEY)).await;
    let first = h.create().await;
    let _second = h.create().await;
    let answer =
        h.rt.publish_message(&h.app, message("case-1", Some("dup")), org())
            .await
            .unwrap();
    let again =
        h.rt.publish_message(&h.app, message("case-1", Some("dup")), org())
            .await
            .unwrap();
    assert_eq!(answer, again);
    // The repeat changed nothing: the second instance still waits.
    assert_eq!(h.rt.message_subscriptions(&h.app, 10).unwrap().len(), 1);
    assert_eq!(h.rt.instance(first.id).unwrap().version, 2);
    let mut other = message("case-1", Some("dup"));
    other.data = Some(json!({"decision": "refused"}));
    let err =
        h.rt.publish_message(&h.app, other, org())
            .await
            .unwrap_err();
    assert_eq!(err, Error::MessageIdReused("dup".into()));
    assert_eq!(h.rt.message_subscriptions(&h.app, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn a_buffered_message_is_taken_by_the_first_subscription_that_opens_in_time() {
    let h = Harness::new(&waiting_process(FIXED_KEY)).await;
    let mut early = message("case-1", Some("early"));
    early.time_to_live = Some("PT1H".into());
    let answer = h.rt.publish_message(&h.app, early, org()).await.unwrap();
    let Published::Buffered { buffered_until, .. } = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(
        buffered_until,
        flyt_engine::time::Clock::now(&h.clock).plus(Duration::from_secs(3600))
    );
    assert_eq!(h.rt.buffered_messages(&h.app, 10).unwrap().len(), 1);
    h.clock.advance(Duration::from_secs(60));
    // The instance reaches the receive task and takes the message in the same commit.
    let i = h.create().await;
    assert_eq!(h.active(&i), vec!["after"]);
    assert!(waits(&i).is_empty());
    assert!(h.rt.buffered_messages(&h.app, 10).unwrap().is_empty());
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
    assert_eq!(
        h.rt.data(i.id, &DataTypeId::new("decision")).unwrap(),
        Some(json!({"decision": "granted", "comment": "ok"}))
    );
    // The next instance finds nothing buffered and waits.
    let j = h.create().await;
    assert_eq!(waits(&j).len(), 1);
}

#[tokio::test]
async fn an_expired_buffered_message_is_never_delivered_and_is_removed() {
    let h = Harness::new(&waiting_process(FIXED_KEY)).await;
    let mut early = message("case-1", Some("early"));
    early.time_to_live = Some("PT1M".into());
    h.rt.publish_message(&h.app, early, org()).await.unwrap();
    h.clock.advance(Duration::from_secs(61));
    assert!(h.rt.buffered_messages(&h.app, 10).unwrap().is_empty());
    let i = h.create().await;
    assert_eq!(waits(&i).len(), 1, "the expired message must not be taken");
    assert!(h.rt.store().buffered_of(&h.app, 10).unwrap().is_empty());
}

#[tokio::test]
async fn the_sweep_deletes_expired_buffered_messages_page_by_page_and_keeps_the_others() {
    let h = Harness::new(&waiting_process(FIXED_KEY)).await;
    for (id, ttl) in [("a", "PT1M"), ("b", "PT1H"), ("c", "PT1M")] {
        let mut m = message("case-1", Some(id));
        m.time_to_live = Some(ttl.into());
        h.rt.publish_message(&h.app, m, org()).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(61));
    let ids = |list: Vec<flyt_engine::store::messages::BufferedMessage>| -> Vec<String> {
        list.into_iter().map(|m| m.message_id).collect()
    };
    assert_eq!(ids(h.rt.buffered_messages(&h.app, 10).unwrap()), ["b"]);
    assert_eq!(
        h.rt.store().buffered_of(&h.app, 10).unwrap().len(),
        3,
        "expired but still stored"
    );
    // Pages of one: a (expired), b (not), c (expired), then the end, where it starts over.
    let mut sweep = BufferedSweep::default();
    let mut deleted = Vec::new();
    for _ in 0..4 {
        deleted.push(sweep.pass(&h.rt, 1).await.unwrap());
    }
    assert_eq!(deleted, [1, 0, 1, 0]);
    assert_eq!(ids(h.rt.store().buffered_of(&h.app, 10).unwrap()), ["b"]);
    // Its messageId's first answer is kept: a repeat still answers `buffered`, storing nothing.
    let mut again = message("case-1", Some("a"));
    again.time_to_live = Some("PT1M".into());
    let answer = h.rt.publish_message(&h.app, again, org()).await.unwrap();
    assert!(matches!(answer, Published::Buffered { .. }), "{answer:?}");
    assert_eq!(ids(h.rt.store().buffered_of(&h.app, 10).unwrap()), ["b"]);
}

#[tokio::test]
async fn the_job_worker_sweeps_expired_buffered_messages() {
    let h = Harness::new(&waiting_process(FIXED_KEY)).await;
    let worker = Worker::spawn(h.rt.clone());
    let mut m = message("case-1", Some("short"));
    m.time_to_live = Some("PT1M".into());
    h.rt.publish_message(&h.app, m, org()).await.unwrap();
    assert_eq!(h.rt.store().buffered_of(&h.app, 10).unwrap().len(), 1);
    h.clock.advance(Duration::from_secs(61));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !h.rt.store().buffered_of(&h.app, 10).unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker did not sweep"
        );
        tokio::task::yield_now().await;
    }
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_terminate_end_event_closes_the_subscription_in_its_commit() {
    let body = format!(
        r#"<startEvent id="s"/>
<parallelGateway id="fork"/>
<receiveTask id="c" messageRef="M"/>
{}
<endEvent id="e"/>
<endEvent id="kill"><terminateEventDefinition/></endEvent>
<sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>
<sequenceFlow id="f2" sourceRef="fork" targetRef="c"/>
<sequenceFlow id="f3" sourceRef="fork" targetRef="t"/>
<sequenceFlow id="f4" sourceRef="c" targetRef="e"/>
<sequenceFlow id="f5" sourceRef="t" targetRef="kill"/>"#,
        user_task("t")
    );
    let h = Harness::new(&with_messages(FIXED_KEY, &body)).await;
    let i = h.create().await;
    assert_eq!(h.rt.message_subscriptions(&h.app, 10).unwrap().len(), 1);
    let ended = h.next(i.id, None, Some("t")).await.unwrap();
    assert!(ended.is_ended());
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
    let err =
        h.rt.publish_message(&h.app, message("case-1", None), org())
            .await
            .unwrap_err();
    assert!(matches!(err, Error::NoSubscription { .. }), "{err:?}");
}

#[tokio::test]
async fn bad_messages_are_refused_and_nothing_is_stored() {
    let schema = Schema::compile(json!({
        "type": "object",
        "properties": {"decision": {"enum": ["granted", "refused"]}}
    }))
    .unwrap();
    let app =
        AppSpec::new(app_id()).with_data_type(DataTypeSpec::new("decision").with_schema(schema));
    let h = Harness::with(
        &waiting_process(FIXED_KEY),
        Store::memory(),
        Registry::builder().build(),
        app,
    )
    .await;
    let i = h.create().await;
    let mut bad = message("case-1", Some("bad"));
    bad.data = Some(json!({"decision": "maybe"}));
    let err = h.rt.publish_message(&h.app, bad, org()).await.unwrap_err();
    assert!(matches!(err, Error::DataInvalid { .. }), "{err:?}");
    let mut unknown = message("case-1", Some("u"));
    unknown.name = "nobodyWaits".into();
    let err =
        h.rt.publish_message(&h.app, unknown, org())
            .await
            .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownMessage { known, .. } if known == &["caseDecided"]),
        "{err:?}"
    );
    let mut huge = message("case-1", Some("h"));
    huge.data = Some(json!({"comment": "x".repeat(300 * 1024)}));
    let err = h.rt.publish_message(&h.app, huge, org()).await.unwrap_err();
    assert!(matches!(err, Error::MessageTooLarge { .. }), "{err:?}");
    let mut no_key = message("", Some("k"));
    no_key.correlation_key = " ".into();
    let err =
        h.rt.publish_message(&h.app, no_key, org())
            .await
            .unwrap_err();
    assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
    let mut bad_ttl = message("case-1", Some("t"));
    bad_ttl.time_to_live = Some("one hour".into());
    let err =
        h.rt.publish_message(&h.app, bad_ttl, org())
            .await
            .unwrap_err();
    assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
    // Nothing stored: the instance still waits at its first version, no id was recorded.
    let still = h.rt.instance(i.id).unwrap();
    assert_eq!(still.version, i.version);
    assert_eq!(waits(&still).len(), 1);
    for id in ["bad", "u", "h", "k", "t"] {
        assert!(h.rt.store().publish_record(&h.app, id).unwrap().is_none());
    }
}

#[tokio::test]
async fn a_timer_boundary_on_a_receive_task_ends_the_wait_and_closes_the_subscription() {
    let body = format!(
        r#"<startEvent id="s"/>
<receiveTask id="c" messageRef="M"/>
<boundaryEvent id="late" attachedToRef="c"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
{}
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<sequenceFlow id="f2" sourceRef="c" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="late" targetRef="reminder"/>
<sequenceFlow id="f4" sourceRef="reminder" targetRef="e2"/>"#,
        user_task("reminder")
    );
    let h = Harness::new(&with_messages(FIXED_KEY, &body)).await;
    let i = h.create().await;
    let token = i
        .process
        .tokens
        .iter()
        .find(|t| matches!(t.at, TokenAt::Message { .. }))
        .unwrap();
    assert_eq!(token.timers.len(), 1, "the boundary timer is armed");
    let job = token.timers[0].job;
    h.clock.advance(Duration::from_secs(3601));
    let fired = h.rt.fire_due_timer(job).await;
    assert_eq!(
        fired,
        flyt_engine::runtime::Firing::Fired(flyt_engine::runtime::Fired::Moved)
    );
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&after), vec!["reminder"]);
    assert!(waits(&after).is_empty());
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
    // A message that comes now finds nobody.
    let err =
        h.rt.publish_message(&h.app, message("case-1", None), org())
            .await
            .unwrap_err();
    assert!(matches!(err, Error::NoSubscription { .. }), "{err:?}");
}

#[tokio::test]
async fn a_message_that_arrives_first_disarms_the_receive_tasks_boundary_timer() {
    let body = format!(
        r#"<startEvent id="s"/>
<receiveTask id="c" messageRef="M"/>
<boundaryEvent id="late" attachedToRef="c"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
{}
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<sequenceFlow id="f2" sourceRef="c" targetRef="after"/>
<sequenceFlow id="f5" sourceRef="after" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="late" targetRef="e2"/>"#,
        user_task("after")
    );
    let h = Harness::new(&with_messages(FIXED_KEY, &body)).await;
    let i = h.create().await;
    let job = i.process.tokens[0].timers[0].job;
    h.rt.publish_message(&h.app, message("case-1", None), org())
        .await
        .unwrap();
    assert!(
        h.rt.store().job(job).unwrap().is_none(),
        "the timer job is gone"
    );
    assert_eq!(h.active(&h.rt.instance(i.id).unwrap()), vec!["after"]);
}

#[tokio::test]
async fn deleting_an_instance_closes_its_subscriptions() {
    let h = Harness::new(&waiting_process(FIXED_KEY)).await;
    let i = h.create().await;
    assert_eq!(h.rt.message_subscriptions(&h.app, 10).unwrap().len(), 1);
    h.rt.delete_instance(i.id, None).await.unwrap();
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
}

/// start → user task `work` (with a message boundary `cancel`) → end; the boundary leads to
/// user task `handle` → end.
fn boundary_process(interrupting: bool) -> String {
    with_messages(
        FIXED_KEY,
        &format!(
            r#"<startEvent id="s"/>
{}
<boundaryEvent id="cancel" attachedToRef="work" cancelActivity="{interrupting}"><messageEventDefinition messageRef="M"/></boundaryEvent>
{}
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
<sequenceFlow id="f2" sourceRef="work" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="cancel" targetRef="handle"/>
<sequenceFlow id="f4" sourceRef="handle" targetRef="e2"/>"#,
            user_task("work"),
            user_task("handle")
        ),
    )
}

#[tokio::test]
async fn an_interrupting_message_boundary_ends_its_task() {
    let h = Harness::new(&boundary_process(true)).await;
    let i = h.create().await;
    let open = h.rt.message_subscriptions(&h.app, 10).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].element.as_str(), "cancel");
    let answer =
        h.rt.publish_message(&h.app, message("case-1", None), org())
            .await
            .unwrap();
    assert!(matches!(answer, Published::Correlated { .. }), "{answer:?}");
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&after), vec!["handle"]);
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
    let events = h.events(i.id);
    assert!(
        events.contains(&"process_AbandonTask work".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"flyt_MessageCorrelated cancel".to_string()),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_non_interrupting_message_boundary_starts_a_branch_and_stays_open_until_its_task_ends() {
    let h = Harness::new(&boundary_process(false)).await;
    let i = h.create().await;
    for _ in 0..2 {
        h.rt.publish_message(&h.app, message("case-1", None), org())
            .await
            .unwrap();
    }
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&after), vec!["handle", "handle", "work"]);
    assert_eq!(h.rt.message_subscriptions(&h.app, 10).unwrap().len(), 1);
    // The task ends normally: its boundary's subscription closes in that commit.
    h.next(i.id, None, Some("work")).await.unwrap();
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
}

fn gateway_process() -> String {
    with_messages(FIXED_KEY, &crate::bpmn_messages::race(""))
}

#[tokio::test]
async fn at_an_event_based_gateway_the_message_wins_and_the_timer_is_disarmed() {
    let h = Harness::new(&gateway_process()).await;
    let i = h.create().await;
    let token = &i.process.tokens[0];
    assert!(
        matches!(token.at, TokenAt::EventGateway { .. }),
        "{token:?}"
    );
    assert_eq!(token.timers.len(), 1);
    let job = token.timers[0].job;
    assert_eq!(h.rt.message_subscriptions(&h.app, 10).unwrap().len(), 1);
    h.rt.publish_message(&h.app, message("case-1", None), org())
        .await
        .unwrap();
    let after = h.rt.instance(i.id).unwrap();
    assert!(after.is_ended());
    assert_eq!(after.process.end_event.as_ref().unwrap().as_str(), "e1");
    assert!(
        h.rt.store().job(job).unwrap().is_none(),
        "the timer is disarmed"
    );
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
}

#[tokio::test]
async fn at_an_event_based_gateway_the_timer_wins_and_the_subscription_closes() {
    let h = Harness::new(&gateway_process()).await;
    let i = h.create().await;
    let job = i.process.tokens[0].timers[0].job;
    h.clock.advance(Duration::from_secs(3601));
    let fired = h.rt.fire_due_timer(job).await;
    assert_eq!(
        fired,
        flyt_engine::runtime::Firing::Fired(flyt_engine::runtime::Fired::Moved)
    );
    let after = h.rt.instance(i.id).unwrap();
    assert!(after.is_ended());
    assert_eq!(after.process.end_event.as_ref().unwrap().as_str(), "e2");
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
    let err =
        h.rt.publish_message(&h.app, message("case-1", None), org())
            .await
            .unwrap_err();
    assert!(matches!(err, Error::NoSubscription { .. }), "{err:?}");
}

#[tokio::test]
async fn a_buffered_message_decides_an_event_based_gateway_at_once() {
    let h = Harness::new(&gateway_process()).await;
    let mut early = message("case-1", None);
    early.time_to_live = Some("PT1H".into());
    h.rt.publish_message(&h.app, early, org()).await.unwrap();
    let i = h.create().await;
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "e1");
    assert!(i.process.armed_timers().is_empty(), "no timer was armed");
    assert!(h.rt.store().next_due_timer().unwrap().is_none());
}

#[tokio::test]
async fn a_message_start_event_starts_an_instance_owned_by_the_service_owner_once_per_id() {
    let messages = r#"<message id="M" name="caseDecided">
  <extensionElements><flyt:subscription correlationKey='"unused"' dataType="decision"/></extensionElements>
</message>"#;
    let body = format!(
        r#"<startEvent id="s"><messageEventDefinition messageRef="M"/></startEvent>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="after"/>
<sequenceFlow id="f2" sourceRef="after" targetRef="e"/>"#,
        user_task("after")
    );
    let owner = flyt_engine::model::InstanceOwner::new(
        flyt_engine::model::Party::organisation("991825827").unwrap(),
    );
    let app = AppSpec::open(app_id()).with_service_owner(owner.party.clone());
    let h = Harness::with(
        &with_messages(messages, &body),
        Store::memory(),
        Registry::builder().build(),
        app,
    )
    .await;
    let answer =
        h.rt.publish_message(&h.app, message("case-9", Some("start-1")), org())
            .await
            .unwrap();
    let Published::Started { instance_id, .. } = &answer else {
        panic!("{answer:?}")
    };
    let guid = instance_id.split('/').nth(1).unwrap();
    let id: flyt_engine::ids::InstanceId = guid.parse().unwrap();
    let i = h.rt.instance(id).unwrap();
    assert_eq!(i.owner.party, owner.party);
    assert_eq!(h.active(&i), vec!["after"]);
    assert_eq!(
        h.rt.data(id, &DataTypeId::new("decision")).unwrap(),
        Some(json!({"decision": "granted", "comment": "ok"}))
    );
    // The same id again: the same answer, no second instance.
    let again =
        h.rt.publish_message(&h.app, message("case-9", Some("start-1")), org())
            .await
            .unwrap();
    assert_eq!(again, answer);
    let page = h.rt.list_instances(&h.app, None, None, 10).unwrap();
    assert_eq!(page.instances.len(), 1);
}

#[tokio::test]
async fn a_message_buffered_beside_a_waiting_subscription_is_delivered_by_the_rescan() {
    // The state the race leaves: a subscription waits and a message for it sits in the buffer
    // (the publish read no subscription, the opening transition read no buffered message).
    let h = Harness::new(&waiting_process(FIXED_KEY)).await;
    let i = h.create().await;
    let now = flyt_engine::time::Clock::now(&h.clock);
    let mut txn = flyt_engine::store::Txn::new();
    txn.put_buffered(&flyt_engine::store::messages::BufferedMessage {
        app: h.app.clone(),
        message: "caseDecided".into(),
        correlation_key: "case-1".into(),
        message_id: "raced".into(),
        data: Some(json!({"decision": "granted"})),
        published: now,
        expires: now.plus(Duration::from_secs(60)),
    });
    h.rt.store().commit(txn).await.unwrap();
    let moved =
        h.rt.deliver_buffered(&h.app, "caseDecided", "case-1")
            .await
            .unwrap();
    assert!(moved);
    assert_eq!(h.active(&h.rt.instance(i.id).unwrap()), vec!["after"]);
    assert!(h.rt.store().buffered_of(&h.app, 10).unwrap().is_empty());
    assert!(h.rt.message_subscriptions(&h.app, 10).unwrap().is_empty());
    // Nothing left to deliver: a second rescan moves nothing.
    assert!(
        !h.rt
            .deliver_buffered(&h.app, "caseDecided", "case-1")
            .await
            .unwrap()
    );
}
