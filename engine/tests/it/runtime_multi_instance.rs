//! Multi-instance activities and assignment through the engine API: parallel and sequential
//! inner instances over a collection in the data, the completion condition cancelling the rest
//! in the same commit, an empty collection, a bad collection leaving nothing changed, inner
//! sub-processes and service tasks, an interrupting boundary timer ending every inner
//! instance, and each signer acting on their own inner instance.

use crate::rt::*;
use crate::support::{data_task, doc};
use flyt_engine::hooks::Completion;
use flyt_engine::ids::{DataTypeId, InstanceId};
use flyt_engine::model::{Actor, Assignee, InnerState, Instance, MultiInstanceBody};
use flyt_engine::runtime::{Error, Firing, Next};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const SIGNERS: [&str; 3] = ["01017012345", "02028012345", "03039012345"];

/// `sign` once per person in `model.signers`, each assigned to its person, then `archive`.
fn signing(sequential: bool, completion: &str) -> String {
    doc(&format!(
        r#"<startEvent id="s"/>
<userTask id="sign">
  <extensionElements><flyt:assignee person='["dataModel", "signer.pid", "multiInstance"]'/></extensionElements>
  <multiInstanceLoopCharacteristics isSequential="{sequential}">
    <extensionElements><flyt:multiInstance collection='["dataModel", "signers", "model"]' elementVariable="signer"/></extensionElements>
    {completion}
  </multiInstanceLoopCharacteristics>
</userTask>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sign"/>
<sequenceFlow id="f2" sourceRef="sign" targetRef="archive"/>
<sequenceFlow id="f3" sourceRef="archive" targetRef="e"/>"#,
        data_task("archive")
    ))
}

fn signers(n: usize) -> BTreeMap<DataTypeId, serde_json::Value> {
    let list: Vec<_> = SIGNERS[..n].iter().map(|p| json!({ "pid": p })).collect();
    BTreeMap::from([(DataTypeId::new("model"), json!({ "signers": list }))])
}

fn body(i: &Instance) -> &MultiInstanceBody {
    i.process
        .scopes
        .iter()
        .find_map(|x| x.multi.as_deref())
        .expect("a multi-instance body")
}

fn states(i: &Instance) -> Vec<(u32, InnerState)> {
    body(i).inner.iter().map(|x| (x.index, x.state)).collect()
}

/// `next` on `sign` as `actor`, naming inner instance `inner` or letting the engine pick the
/// caller's own.
async fn sign_as(
    h: &Harness,
    id: InstanceId,
    actor: Actor,
    inner: Option<u32>,
) -> Result<Instance, Error> {
    let instance = h.rt.instance(id).unwrap();
    let req = Next {
        instance: id,
        action: None,
        task: Some("sign".into()),
        actor,
        expected_version: None,
        on_behalf_of: None,
    };
    let plan = h.rt.plan_next_inner(&instance, &req, inner)?;
    h.rt.next_planned(instance, &plan, req).await
}

#[tokio::test]
async fn a_parallel_multi_instance_task_runs_once_per_item_and_goes_on_when_all_complete() {
    let h = Harness::new(&signing(false, "")).await;
    let i = h.create_with(signers(3)).await;
    assert_eq!(h.active(&i), ["sign", "sign", "sign"]);
    assert_eq!(scope_elements(&i), ["sign"]);
    let assignees: Vec<_> = body(&i)
        .inner
        .iter()
        .map(|x| x.assignee.clone().unwrap())
        .collect();
    let want: Vec<_> = SIGNERS
        .iter()
        .map(|p| Assignee::Person {
            person_number: p.to_string(),
        })
        .collect();
    assert_eq!(assignees, want);

    // Each signer's `next` takes their own inner instance, in any order.
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[2]), None)
        .await
        .unwrap();
    assert_eq!(
        states(&i),
        [
            (0, InnerState::Active),
            (1, InnerState::Active),
            (2, InnerState::Completed)
        ]
    );
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[0]), None)
        .await
        .unwrap();
    assert_eq!(h.active(&i), ["sign"]);
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[1]), None)
        .await
        .unwrap();
    assert_eq!(h.active(&i), ["archive"]);
    assert!(i.process.scopes.is_empty());
    let events = h.events(i.id);
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "flyt_InnerInstanceCompleted sign")
            .count(),
        3
    );
}

#[tokio::test]
async fn several_inner_instances_and_none_the_callers_asks_which_and_a_named_one_is_taken() {
    let h = Harness::new(&signing(false, "")).await;
    let i = h.create_with(signers(2)).await;
    let stranger = Actor::user("09099912345");
    match sign_as(&h, i.id, stranger.clone(), None).await {
        Err(Error::InnerInstanceRequired { task, active }) => {
            assert_eq!(task, "sign");
            assert_eq!(active, [0, 1]);
        }
        other => panic!("expected InnerInstanceRequired, got {other:?}"),
    }
    // The engine plans; the assignee is in the plan for the API to enforce.
    let req = Next {
        instance: i.id,
        action: None,
        task: Some("sign".into()),
        actor: stranger,
        expected_version: None,
        on_behalf_of: None,
    };
    let plan = h.rt.plan_next_inner(&i, &req, Some(1)).unwrap();
    assert_eq!(plan.inner, Some(1));
    assert_eq!(
        plan.assignee,
        Some(Assignee::Person {
            person_number: SIGNERS[1].into()
        })
    );
    assert!(matches!(
        h.rt.plan_next_inner(&i, &req, Some(7)),
        Err(Error::TaskNotActive { .. })
    ));
}

#[tokio::test]
async fn a_sequential_multi_instance_task_starts_the_next_inner_instance_when_one_completes() {
    let h = Harness::new(&signing(true, "")).await;
    let i = h.create_with(signers(3)).await;
    assert_eq!(h.active(&i), ["sign"]);
    assert_eq!(states(&i), [(0, InnerState::Active)]);
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[0]), None)
        .await
        .unwrap();
    assert_eq!(
        states(&i),
        [(0, InnerState::Completed), (1, InnerState::Active)]
    );
    let task = i.process.active_tasks().next().unwrap();
    assert_eq!(
        task.assignee,
        Some(Assignee::Person {
            person_number: SIGNERS[1].into()
        })
    );
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[1]), None)
        .await
        .unwrap();
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[2]), None)
        .await
        .unwrap();
    assert_eq!(h.active(&i), ["archive"]);
}

#[tokio::test]
async fn a_completion_condition_that_holds_cancels_the_other_inner_instances_in_the_same_commit() {
    let condition = r#"<completionCondition>["greaterThanEq", ["dataModel", "nrOfCompletedInstances", "multiInstance"], 2]</completionCondition>"#;
    let h = Harness::new(&signing(false, condition)).await;
    let i = h.create_with(signers(3)).await;
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[0]), None)
        .await
        .unwrap();
    assert_eq!(h.active(&i), ["sign", "sign"]);
    let version = i.version;
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[1]), None)
        .await
        .unwrap();
    assert_eq!(i.version, version + 1, "one commit");
    assert_eq!(h.active(&i), ["archive"]);
    assert!(i.process.scopes.is_empty());
    let events = h.events(i.id);
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "process_AbandonTask sign")
            .count(),
        1,
        "the third signer's task was cancelled: {events:?}"
    );
}

#[tokio::test]
async fn an_empty_collection_completes_the_activity_at_once() {
    let h = Harness::new(&signing(false, "")).await;
    let i = h.create_with(signers(0)).await;
    assert_eq!(h.active(&i), ["archive"]);
    assert!(i.process.scopes.is_empty());
    // A missing collection (null) is empty too.
    let i = h
        .create_with(BTreeMap::from([(DataTypeId::new("model"), json!({}))]))
        .await;
    assert_eq!(h.active(&i), ["archive"]);
}

#[tokio::test]
async fn a_collection_that_is_not_an_array_fails_the_move_and_changes_nothing() {
    let xml = doc(&format!(
        r#"<startEvent id="s"/>
{}
<userTask id="sign">
  <multiInstanceLoopCharacteristics>
    <extensionElements><flyt:multiInstance collection='["dataModel", "signers", "model"]'/></extensionElements>
  </multiInstanceLoopCharacteristics>
</userTask>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="fill"/>
<sequenceFlow id="f2" sourceRef="fill" targetRef="sign"/>
<sequenceFlow id="f3" sourceRef="sign" targetRef="e"/>"#,
        data_task("fill")
    ));
    let h = Harness::new(&xml).await;
    let i = h
        .create_with(BTreeMap::from([(
            DataTypeId::new("model"),
            json!({ "signers": "everyone" }),
        )]))
        .await;
    match h.next(i.id, None, Some("fill")).await {
        Err(Error::MultiInstance { element, problem }) => {
            assert_eq!(element, "sign");
            assert!(problem.contains("a string, not an array"), "{problem}");
        }
        other => panic!("expected MultiInstance, got {other:?}"),
    }
    assert_eq!(h.rt.instance(i.id).unwrap(), i, "nothing changed");
}

#[tokio::test]
async fn a_multi_instance_sub_process_runs_its_inside_once_per_item_with_the_item_in_reach() {
    let xml = doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="review">
  <multiInstanceLoopCharacteristics>
    <extensionElements><flyt:multiInstance collection='["dataModel", "signers", "model"]' elementVariable="signer"/></extensionElements>
  </multiInstanceLoopCharacteristics>
  <startEvent id="rs"/>
  <userTask id="check">
    <extensionElements><flyt:assignee person='["dataModel", "signer.pid", "multiInstance"]'/></extensionElements>
  </userTask>
  <endEvent id="re"/>
  <sequenceFlow id="r1" sourceRef="rs" targetRef="check"/>
  <sequenceFlow id="r2" sourceRef="check" targetRef="re"/>
</subProcess>
{}
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
<sequenceFlow id="f2" sourceRef="review" targetRef="archive"/>
<sequenceFlow id="f3" sourceRef="archive" targetRef="e"/>"#,
        data_task("archive")
    ));
    let h = Harness::new(&xml).await;
    let i = h.create_with(signers(2)).await;
    assert_eq!(h.active(&i), ["check", "check"]);
    assert_eq!(scope_elements(&i), ["review", "review", "review"]);
    // The task inside each inner sub-process is assigned from its own item.
    let assigned: Vec<_> = i
        .process
        .active_tasks()
        .map(|t| t.assignee.clone().unwrap())
        .collect();
    assert_eq!(
        assigned,
        [
            Assignee::Person {
                person_number: SIGNERS[0].into()
            },
            Assignee::Person {
                person_number: SIGNERS[1].into()
            }
        ]
    );
    let check = |who: &str| Next {
        instance: i.id,
        action: None,
        task: Some("check".into()),
        actor: Actor::user(who),
        expected_version: None,
        on_behalf_of: None,
    };
    let i = h.rt.next(check(SIGNERS[1])).await.unwrap();
    assert_eq!(h.active(&i), ["check"]);
    assert_eq!(
        states(&i),
        [(0, InnerState::Active), (1, InnerState::Completed)]
    );
    let i = h.rt.next(check(SIGNERS[0])).await.unwrap();
    assert_eq!(h.active(&i), ["archive"]);
    assert!(i.process.scopes.is_empty());
}

#[tokio::test]
async fn a_multi_instance_service_task_creates_one_job_per_item_and_goes_on_after_the_last() {
    let xml = doc(r#"<startEvent id="s"/>
<serviceTask id="notify" flyt:type="never">
  <multiInstanceLoopCharacteristics>
    <extensionElements><flyt:multiInstance collection='["dataModel", "signers", "model"]'/></extensionElements>
  </multiInstanceLoopCharacteristics>
</serviceTask>
<userTask id="after"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="notify"/>
<sequenceFlow id="f2" sourceRef="notify" targetRef="after"/>
<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>"#);
    let h = Harness::with_idle_job_type(&xml).await;
    let i = h.create_with(signers(3)).await;
    let jobs: Vec<_> = i.process.job_tokens().map(|(_, _, k)| k).collect();
    assert_eq!(jobs.len(), 3);
    for (n, job) in jobs.into_iter().enumerate() {
        let leased =
            h.rt.lease_job(job, true, "w", Duration::from_secs(60))
                .await
                .unwrap()
                .expect("leased");
        h.rt.complete_job(&leased, Completion::default())
            .await
            .unwrap();
        let i = h.rt.instance(i.id).unwrap();
        if n < 2 {
            assert_eq!(body(&i).nr_of_completed(), n + 1);
        } else {
            assert_eq!(h.active(&i), ["after"]);
        }
    }
}

#[tokio::test]
async fn an_interrupting_boundary_timer_on_a_multi_instance_task_ends_every_inner_instance() {
    let xml = doc(&format!(
        r#"<startEvent id="s"/>
<userTask id="sign">
  <multiInstanceLoopCharacteristics>
    <extensionElements><flyt:multiInstance collection='["dataModel", "signers", "model"]'/></extensionElements>
  </multiInstanceLoopCharacteristics>
</userTask>
<boundaryEvent id="deadline" attachedToRef="sign"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
{}
<userTask id="done"/>
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sign"/>
<sequenceFlow id="f2" sourceRef="sign" targetRef="done"/>
<sequenceFlow id="f3" sourceRef="done" targetRef="e"/>
<sequenceFlow id="f4" sourceRef="deadline" targetRef="chase"/>
<sequenceFlow id="f5" sourceRef="chase" targetRef="e2"/>"#,
        data_task("chase")
    ));
    let h = Harness::new(&xml).await;
    let i = h.create_with(signers(3)).await;
    assert_eq!(h.active(&i), ["sign", "sign", "sign"]);
    // One timer, on the whole (the body), not one per inner instance.
    assert_eq!(i.process.armed_timers().len(), 1);
    let timer = i.process.scopes[0].timers[0].job;
    let i = sign_as(&h, i.id, Actor::user(SIGNERS[0]), Some(0))
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(3601));
    assert!(matches!(h.rt.fire_due_timer(timer).await, Firing::Fired(_)));
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(h.active(&after), ["chase"]);
    assert!(after.process.scopes.is_empty());
}

#[tokio::test]
async fn an_assignee_is_resolved_when_its_task_starts_and_a_bad_one_refuses_the_move() {
    use flyt_engine::model::{InstanceOwner, Party};
    use flyt_engine::runtime::CreateInstance;
    let xml = |assignee: &str| {
        doc(&format!(
            r#"<startEvent id="s"/>
<userTask id="approve"><extensionElements>{assignee}</extensionElements></userTask>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="approve"/>
<sequenceFlow id="f2" sourceRef="approve" targetRef="e"/>"#
        ))
    };
    let create = |h: &Harness, owner: Party, data: serde_json::Value| {
        let rt = h.rt.clone();
        let app = h.app.clone();
        async move {
            rt.create_instance(CreateInstance {
                app,
                owner: InstanceOwner::new(owner),
                actor: user(),
                data: BTreeMap::from([(DataTypeId::new("model"), data)]),
                start_event: None,
                idempotency: None,
            })
            .await
        }
    };
    let org = Party::organisation("991825827").unwrap();
    let h = Harness::new(&xml(r#"<flyt:assignee role="DAGL"/>"#)).await;
    let i = create(&h, org.clone(), json!({})).await.unwrap().instance;
    assert_eq!(
        i.process.active_tasks().next().unwrap().assignee,
        Some(Assignee::Role {
            role: "DAGL".into(),
            organisation_number: Some("991825827".into())
        })
    );
    let h = Harness::new(&xml(
        r#"<flyt:assignee organisation='["dataModel", "auditor", "model"]'/>"#,
    ))
    .await;
    let i = create(&h, org.clone(), json!({ "auditor": "999888777" }))
        .await
        .unwrap()
        .instance;
    assert_eq!(
        i.process.active_tasks().next().unwrap().assignee,
        Some(Assignee::Organisation {
            organisation_number: "999888777".into()
        })
    );
    // No number to assign to: the move that starts the task is refused.
    match create(&h, org, json!({ "auditor": ["a", "b"] })).await {
        Err(Error::Assignment { element, .. }) => assert_eq!(element, "approve"),
        other => panic!("expected Assignment, got {other:?}"),
    }
}

#[tokio::test]
async fn a_gateway_inside_an_inner_sub_process_reads_the_inner_instances_variables() {
    let xml = doc(&format!(
        r#"<startEvent id="s"/>
<subProcess id="review">
  <multiInstanceLoopCharacteristics>
    <extensionElements><flyt:multiInstance collection='["dataModel", "signers", "model"]' elementVariable="signer"/></extensionElements>
  </multiInstanceLoopCharacteristics>
  <startEvent id="rs"/>
  <exclusiveGateway id="first" default="r3"/>
  {}
  {}
  <endEvent id="re"/>
  <sequenceFlow id="r1" sourceRef="rs" targetRef="first"/>
  <sequenceFlow id="r2" sourceRef="first" targetRef="lead"><conditionExpression>["equals", ["dataModel", "index", "multiInstance"], 0]</conditionExpression></sequenceFlow>
  <sequenceFlow id="r3" sourceRef="first" targetRef="other"/>
  <sequenceFlow id="r4" sourceRef="lead" targetRef="re"/>
  <sequenceFlow id="r5" sourceRef="other" targetRef="re"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
<sequenceFlow id="f2" sourceRef="review" targetRef="e"/>"#,
        data_task("lead"),
        data_task("other")
    ));
    let h = Harness::new(&xml).await;
    let i = h.create_with(signers(3)).await;
    assert_eq!(h.active(&i), ["lead", "other", "other"]);
}
