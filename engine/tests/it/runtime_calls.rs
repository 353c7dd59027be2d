//! Call activities at run time: the parent's token waits while a child runs; the child is
//! created with the input mappings and names its parent; its end moves the parent on with the
//! output mappings, each exactly once; a BPMN error nothing in the child catches goes to the
//! call activity's error boundary (or becomes an incident); a timer boundary, a terminate end
//! or deleting the parent cancels the child and its own children; a call across two apps on
//! one runtime makes an instance of the other app owned by the same party.

use crate::rt::*;
use flyt_engine::app::AppSpec;
use flyt_engine::ids::{AppId, DataTypeId, InstanceId};
use flyt_engine::model::{Instance, TokenAt};
use flyt_engine::runtime::worker::Worker;
use flyt_engine::store::Store;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" id="defs">
"#;

fn task(id: &str) -> String {
    format!(
        r#"<task id="{id}" xmlns:altinn="http://altinn.no/process"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>"#
    )
}

/// Process `p`: start → call activity `call` (with `inside` and boundary events `extra`) →
/// task `after` → end; and process `approval` (`child`) in the same file.
fn file(inside: &str, extra: &str, child: &str, roots: &str) -> String {
    format!(
        r#"{HEAD}{roots}
<process id="p">
<startEvent id="s"/>
<callActivity id="call" calledElement="approval">{inside}</callActivity>
{after}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
<sequenceFlow id="f2" sourceRef="call" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>
{extra}
</process>
<process id="approval">
{child}
</process>
</definitions>
"#,
        after = task("after")
    )
}

/// A file of the approval sub-flow alone (process `p`).
fn review_file() -> String {
    format!(
        r#"{HEAD}<process id="p">{}</process></definitions>"#,
        review()
    )
}

/// The approval sub-flow: start → task `review` → end.
fn review() -> String {
    format!(
        r#"<startEvent id="as"/>
{}
<endEvent id="ae"/>
<sequenceFlow id="af1" sourceRef="as" targetRef="review"/>
<sequenceFlow id="af2" sourceRef="review" targetRef="ae"/>"#,
        task("review")
    )
}

const MAPPINGS: &str = r#"<extensionElements>
<flyt:input source="model" target="request"/>
<flyt:output source="request" target="result"/>
</extensionElements>"#;

async fn harness(bpmn: &str) -> Harness {
    Harness::with(
        bpmn,
        Store::memory(),
        flyt_engine::hooks::Registry::builder().build(),
        AppSpec::open(app_id()).with_process("p"),
    )
    .await
}

fn child_of(i: &Instance) -> Option<InstanceId> {
    i.process.tokens.iter().find_map(|t| match &t.at {
        TokenAt::Call { child, .. } => Some(*child),
        _ => None,
    })
}

fn model() -> BTreeMap<DataTypeId, serde_json::Value> {
    BTreeMap::from([(DataTypeId::new("model"), json!({"amount": 1200}))])
}

fn count(events: &[String], prefix: &str) -> usize {
    events.iter().filter(|e| e.starts_with(prefix)).count()
}

/// Polls until `f` holds for the instance; fails after 10 s.
async fn until(h: &Harness, id: InstanceId, what: &str, f: impl Fn(&Instance) -> bool) -> Instance {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let i = h.rt.instance(id).unwrap();
        if f(&i) {
            return i;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waiting for {what}: {:?}",
            i.process
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_call_of_the_same_files_process_runs_a_child_with_mappings_and_resumes_the_parent_once() {
    let h = harness(&file(MAPPINGS, "", &review(), "")).await;
    let parent = h.create_with(model()).await;
    // The create call made the child itself: no worker runs in this test.
    let child = child_of(&parent).expect("waits at the call activity");
    let c = h.rt.instance(child).expect("the child exists at once");
    assert_eq!(c.app, h.app);
    assert_eq!(c.owner, parent.owner);
    assert_eq!(c.process.called_process.as_deref(), Some("approval"));
    let p = c.process.parent.as_ref().expect("names its parent");
    assert_eq!((p.instance, p.element.as_str()), (parent.id, "call"));
    assert_eq!(h.active(&c), vec!["review"]);
    assert_eq!(
        h.rt.data(child, &DataTypeId::new("request")).unwrap(),
        Some(json!({"amount": 1200}))
    );

    let ended = h.next(child, None, None).await.unwrap();
    assert!(ended.is_ended());
    let resumed = h.rt.instance(parent.id).unwrap();
    assert_eq!(h.active(&resumed), vec!["after"]);
    assert_eq!(
        h.rt.data(parent.id, &DataTypeId::new("result")).unwrap(),
        Some(json!({"amount": 1200}))
    );
    let events = h.events(parent.id);
    assert_eq!(count(&events, "flyt_CallStarted call"), 1, "{events:?}");
    assert_eq!(count(&events, "flyt_CallEnded call"), 1, "{events:?}");
    assert!(h.rt.store().pending_calls(10).unwrap().is_empty());
    let problems = flyt_engine::testing::consistency::check(h.rt.store()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn a_child_that_ends_at_once_resumes_the_parent_in_the_same_call() {
    let quick = r#"<startEvent id="as"/><endEvent id="ae"/><sequenceFlow id="af" sourceRef="as" targetRef="ae"/>"#;
    let h = harness(&file("", "", quick, "")).await;
    let parent = h.create().await;
    let i = h.rt.instance(parent.id).unwrap();
    assert_eq!(h.active(&i), vec!["after"]);
}

#[tokio::test]
async fn an_uncaught_bpmn_error_of_the_child_goes_to_the_call_activitys_error_boundary() {
    let child = r#"<startEvent id="as"/>
<endEvent id="reject"><errorEventDefinition errorRef="Rejected"/></endEvent>
<sequenceFlow id="af" sourceRef="as" targetRef="reject"/>"#;
    let boundary = format!(
        r#"<boundaryEvent id="onReject" attachedToRef="call"><errorEventDefinition errorRef="Rejected"/></boundaryEvent>
{}
<endEvent id="e2"/>
<sequenceFlow id="b1" sourceRef="onReject" targetRef="fix"/>
<sequenceFlow id="b2" sourceRef="fix" targetRef="e2"/>"#,
        task("fix")
    );
    let roots = r#"<error id="Rejected" errorCode="rejected"/>"#;
    let h = harness(&file("", &boundary, child, roots)).await;
    let parent = h.create().await;
    let i = h.rt.instance(parent.id).unwrap();
    assert_eq!(h.active(&i), vec!["fix"], "{:?}", h.events(parent.id));
    let events = h.events(parent.id);
    assert!(
        events.contains(&"flyt_ErrorCaught onReject".to_string()),
        "{events:?}"
    );

    // Without a boundary: an incident names the code, the token stays.
    let h = harness(&file("", "", child, roots)).await;
    let parent = h.create().await;
    let i = h.rt.instance(parent.id).unwrap();
    assert_eq!(i.process.incidents.len(), 1, "{:?}", i.process);
    assert!(i.process.incidents[0].reason.contains("`rejected`"));
    assert!(child_of(&i).is_some());
}

#[tokio::test]
async fn an_interrupting_timer_boundary_cancels_the_child_and_its_children() {
    // The child calls itself once more: a grandchild waits at `review` under it.
    let boundary = format!(
        r#"<boundaryEvent id="late" attachedToRef="call"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
{}
<endEvent id="e2"/>
<sequenceFlow id="b1" sourceRef="late" targetRef="chase"/>
<sequenceFlow id="b2" sourceRef="chase" targetRef="e2"/>"#,
        task("chase")
    );
    let nested = format!(
        r#"<startEvent id="as"/>
<callActivity id="inner" calledElement="leaf"/>
<endEvent id="ae"/>
<sequenceFlow id="af1" sourceRef="as" targetRef="inner"/>
<sequenceFlow id="af2" sourceRef="inner" targetRef="ae"/>
</process>
<process id="leaf">
{}"#,
        review()
    );
    let h = harness(&file("", &boundary, &nested, "")).await;
    let worker = Worker::spawn(h.rt.clone());
    let parent = h.create().await;
    let child = child_of(&parent).unwrap();
    let grandchild = child_of(&h.rt.instance(child).unwrap()).unwrap();
    assert_eq!(
        h.active(&h.rt.instance(grandchild).unwrap()),
        vec!["review"]
    );

    h.clock.advance(Duration::from_secs(3600));
    let moved = h.until_active(parent.id, &["chase"]).await;
    assert!(child_of(&moved).is_none());
    for id in [child, grandchild] {
        let gone = until(&h, id, "cancelled", |i| i.is_ended()).await;
        assert!(gone.process.cancelled, "{:?}", gone.process);
        assert!(gone.process.tokens.is_empty());
    }
    // The parent is not moved again by its cancelled child's end.
    let events = h.events(parent.id);
    assert_eq!(count(&events, "flyt_CallEnded"), 0, "{events:?}");
    assert_eq!(h.active(&h.rt.instance(parent.id).unwrap()), vec!["chase"]);
    worker.stop(Duration::from_secs(5)).await;
    let problems = flyt_engine::testing::consistency::check(h.rt.store()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn deleting_the_parent_cancels_the_child() {
    let h = harness(&file("", "", &review(), "")).await;
    let parent = h.create().await;
    let child = child_of(&parent).unwrap();
    h.rt.delete_instance(parent.id, None).await.unwrap();
    let c = h.rt.instance(child).unwrap();
    assert!(c.is_ended() && c.process.cancelled, "{:?}", c.process);
    assert!(h.rt.store().pending_calls(10).unwrap().is_empty());
}

#[tokio::test]
async fn a_call_across_apps_makes_an_instance_of_the_other_app_in_its_latest_version() {
    let other: AppId = "ttd/approval".parse().unwrap();
    let caller = file(
        r#"<extensionElements><flyt:calledElement app="ttd/approval"/><flyt:input source="model" target="request"/></extensionElements>"#,
        "",
        &review(),
        "",
    );
    let approval = format!(
        r#"{HEAD}<process id="approval">{}</process></definitions>"#,
        review()
    );
    let store = Store::memory();
    let h = Harness::with(
        &approval,
        store,
        flyt_engine::hooks::Registry::builder().build(),
        AppSpec::open(other.clone()),
    )
    .await;
    // Version 2 of the approval app is the one a call made now gets.
    let v2 = approval.replace("<endEvent id=\"ae\"/>", "<endEvent id=\"ae\" name=\"v2\"/>");
    h.rt.deploy(&other, v2.as_bytes(), "test").await.unwrap();
    h.rt.register_app(AppSpec::open(app_id()).with_process("p"));
    h.rt.deploy(&app_id(), caller.as_bytes(), "test")
        .await
        .unwrap();
    let parent =
        h.rt.create_instance(flyt_engine::runtime::CreateInstance {
            app: app_id(),
            owner: owner(),
            actor: user(),
            data: model(),
            start_event: None,
            idempotency: None,
        })
        .await
        .unwrap()
        .instance;
    let child = child_of(&parent).unwrap();
    let c = h.rt.instance(child).unwrap();
    assert_eq!(c.app, other);
    assert_eq!(c.definition_version, 2);
    assert_eq!(c.owner, parent.owner);
    assert_eq!(c.process.parent.as_ref().unwrap().app, app_id());
    assert_eq!(
        h.rt.data(child, &DataTypeId::new("request")).unwrap(),
        Some(json!({"amount": 1200}))
    );
    h.next(child, None, None).await.unwrap();
    assert_eq!(h.active(&h.rt.instance(parent.id).unwrap()), vec!["after"]);
}

#[tokio::test]
async fn a_multi_instance_call_activity_starts_one_child_per_item_and_completes_when_all_have() {
    let inside = r#"<multiInstanceLoopCharacteristics>
<extensionElements><flyt:multiInstance collection='["dataModel", "reviewers", "model"]' elementVariable="reviewer"/></extensionElements>
</multiInstanceLoopCharacteristics>
<extensionElements><flyt:input source="multiInstance" target="assignment"/></extensionElements>"#;
    let h = harness(&file(inside, "", &review(), "")).await;
    let data = BTreeMap::from([(
        DataTypeId::new("model"),
        json!({"reviewers": ["ann", "ben", "cid"]}),
    )]);
    let parent = h.create_with(data).await;
    let children: Vec<InstanceId> = parent
        .process
        .tokens
        .iter()
        .filter_map(|t| match &t.at {
            TokenAt::Call { child, .. } => Some(*child),
            _ => None,
        })
        .collect();
    assert_eq!(children.len(), 3, "{:?}", parent.process);
    let mut reviewers = Vec::new();
    for c in &children {
        let a =
            h.rt.data(*c, &DataTypeId::new("assignment"))
                .unwrap()
                .unwrap();
        reviewers.push(a["reviewer"].as_str().unwrap().to_string());
        assert_eq!(a["element"], a["reviewer"]);
    }
    reviewers.sort();
    assert_eq!(reviewers, ["ann", "ben", "cid"]);
    for (i, c) in children.iter().enumerate() {
        h.next(*c, None, None).await.unwrap();
        let p = h.rt.instance(parent.id).unwrap();
        if i < 2 {
            assert!(h.active(&p).is_empty(), "still waiting: {:?}", p.process);
        } else {
            assert_eq!(h.active(&p), vec!["after"]);
        }
    }
    let events = h.events(parent.id);
    assert_eq!(count(&events, "flyt_CallEnded call"), 3, "{events:?}");
    assert_eq!(
        count(&events, "flyt_InnerInstanceCompleted call"),
        3,
        "{events:?}"
    );
    let problems = flyt_engine::testing::consistency::check(h.rt.store()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn a_parent_deleted_before_its_child_exists_gets_no_child_and_nothing_stays_pending() {
    let other: AppId = "ttd/approval".parse().unwrap();
    let caller = file(
        r#"<extensionElements><flyt:calledElement app="ttd/approval"/></extensionElements>"#,
        "",
        &review(),
        "",
    );
    // The called app is hosted but has no definition yet: the child cannot be created, and its
    // start record stays pending.
    let h = harness(&review_file()).await;
    h.rt.register_app(AppSpec::open(other.clone()));
    let calling: AppId = "ttd/caller".parse().unwrap();
    h.rt.register_app(AppSpec::open(calling.clone()).with_process("p"));
    h.rt.deploy(&calling, caller.as_bytes(), "test")
        .await
        .unwrap();
    let parent =
        h.rt.create_instance(flyt_engine::runtime::CreateInstance {
            app: calling,
            owner: owner(),
            actor: user(),
            data: BTreeMap::new(),
            start_event: None,
            idempotency: None,
        })
        .await
        .unwrap()
        .instance;
    let child = child_of(&parent).unwrap();
    assert!(h.rt.instance(child).is_err());
    assert_eq!(h.rt.store().pending_calls(10).unwrap().len(), 1);

    h.rt.delete_instance(parent.id, None).await.unwrap();
    // The cancel took the start record with it.
    assert!(h.rt.store().pending_calls(10).unwrap().is_empty());
    let approval = format!(
        r#"{HEAD}<process id="approval">{}</process></definitions>"#,
        review()
    );
    h.rt.deploy(&other, approval.as_bytes(), "test")
        .await
        .unwrap();
    assert_eq!(h.rt.deliver_pending_calls(10).await.unwrap(), 0);
    assert!(h.rt.instance(child).is_err(), "no orphan child");
}

#[tokio::test]
async fn resuming_the_incident_of_a_childs_uncaught_error_runs_the_call_again() {
    let child = r#"<startEvent id="as"/>
<endEvent id="reject"><errorEventDefinition errorRef="Rejected"/></endEvent>
<sequenceFlow id="af" sourceRef="as" targetRef="reject"/>"#;
    let roots = r#"<error id="Rejected" errorCode="rejected"/>"#;
    let h = harness(&file("", "", child, roots)).await;
    let parent = h.create().await;
    let first = child_of(&h.rt.instance(parent.id).unwrap()).unwrap();
    let worker = Worker::spawn(h.rt.clone());
    let resumed = h.rt.resume(parent.id, user(), None).await.expect("resume");
    let second = child_of(&resumed).expect("waits for a new child");
    assert_ne!(first, second);
    // The new child ends with the same error: a new incident, nothing half-moved.
    let again = until(&h, parent.id, "the second incident", |i| {
        i.process.incidents.len() == 1
    })
    .await;
    assert_eq!(child_of(&again), Some(second));
    worker.stop(Duration::from_secs(5)).await;
    let events = h.events(parent.id);
    assert_eq!(count(&events, "flyt_CallStarted call"), 2, "{events:?}");
    assert_eq!(
        count(&events, "flyt_IncidentResolved call"),
        1,
        "{events:?}"
    );
    let problems = flyt_engine::testing::consistency::check(h.rt.store()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}
