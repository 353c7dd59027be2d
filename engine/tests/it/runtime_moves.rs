//! How instances move: actions, reject, gateways, parallel branches, the loop guard, conflicts.

use crate::rt::*;
use crate::support::doc;
use flyt_engine::ids::DataTypeId;
use flyt_engine::model::EventType;
use flyt_engine::runtime::{Error, Next, WriteData};
use std::collections::BTreeMap;

fn task(id: &str, ty: &str, actions: &[&str]) -> String {
    let actions: String = actions
        .iter()
        .map(|a| format!("<altinn:action>{a}</altinn:action>"))
        .collect();
    format!(
        r#"<task id="{id}" name="{id} name"><extensionElements><altinn:taskExtension><altinn:taskType>{ty}</altinn:taskType><altinn:actions>{actions}</altinn:actions></altinn:taskExtension></extensionElements></task>"#
    )
}

fn flow(id: &str, from: &str, to: &str) -> String {
    format!(r#"<sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"/>"#)
}

fn cond(id: &str, from: &str, to: &str, expr: &str) -> String {
    format!(
        r#"<sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"><conditionExpression>{expr}</conditionExpression></sequenceFlow>"#
    )
}

/// data → confirm (with reject) → gateway: reject goes back to data, otherwise the end.
fn reject_process() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill", "data", &[]),
        task("confirm", "confirmation", &["reject"]),
        r#"<exclusiveGateway id="g"/>"#.into(),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "confirm"),
        flow("f3", "confirm", "g"),
        cond(
            "back",
            "g",
            "fill",
            r#"["equals", ["gatewayAction"], "reject"]"#,
        ),
        cond(
            "on",
            "g",
            "end",
            r#"["notEquals", ["gatewayAction"], "reject"]"#,
        ),
    ]
    .join("\n"))
}

#[tokio::test]
async fn create_runs_to_the_first_task_and_next_walks_to_the_end() {
    let h = Harness::new(&reject_process()).await;
    let i = h.create().await;
    assert_eq!(i.version, 1);
    assert_eq!(h.active(&i), ["fill"]);
    let current = i.process.current_task().unwrap();
    assert_eq!(current.altinn_task_type.as_deref(), Some("data"));
    assert_eq!(current.flow, 1);
    let i = h.next(i.id, None, None).await.unwrap(); // data's default action is write
    assert_eq!(h.active(&i), ["confirm"]);
    assert_eq!(i.version, 2);
    let i = h.next(i.id, Some("confirm"), None).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.process.end_event.as_ref().unwrap().as_str(), "end");
    assert_eq!(
        h.events(i.id),
        [
            "process_StartEvent start",
            "process_StartTask fill",
            "process_EndTask fill",
            "process_StartTask confirm",
            "process_EndTask confirm",
            "process_EndEvent end"
        ]
    );
    let history = h.rt.history(i.id).unwrap();
    assert_eq!(history[4].action.as_deref(), Some("confirm"));
    assert!(history[4].performed_by.is_some());
    assert!(matches!(
        h.next(i.id, None, None).await,
        Err(Error::ProcessEnded)
    ));
}

#[tokio::test]
async fn reject_goes_back_through_the_gateway_and_is_an_abandon() {
    let h = Harness::new(&reject_process()).await;
    let i = h.create().await;
    h.next(i.id, None, None).await.unwrap();
    let i = h.next(i.id, Some("reject"), None).await.unwrap();
    assert_eq!(h.active(&i), ["fill"]);
    assert_eq!(i.process.current_task().unwrap().flow, 3);
    assert!(
        h.events(i.id)
            .contains(&"process_AbandonTask confirm".to_string())
    );
    assert_eq!(i.visits["fill"], 2);
}

#[tokio::test]
async fn an_action_must_fit_the_task() {
    let h = Harness::new(&reject_process()).await;
    let i = h.create().await;
    // `reject` is not listed on the data task, and `sign` belongs to signing tasks.
    for action in ["reject", "sign", "confirm"] {
        match h.next(i.id, Some(action), None).await {
            Err(Error::ActionNotAllowed { allowed, task, .. }) => {
                assert_eq!(task, "fill");
                assert_eq!(allowed, ["write"]);
            }
            other => panic!("{action}: {other:?}"),
        }
    }
    assert!(matches!(
        h.next(i.id, None, Some("confirm")).await,
        Err(Error::TaskNotActive { .. })
    ));
    assert_eq!(
        h.rt.instance(i.id).unwrap(),
        i,
        "refused moves change nothing"
    );
}

/// As Altinn: `next` with no action moves every task type, records no action, and invents none
/// for the gateways; `sign` is an action only where a signature is configured.
#[tokio::test]
async fn no_action_moves_every_task_type_and_invents_none() {
    for ty in ["data", "feedback", "confirmation", "signing", "payment"] {
        let bpmn = doc(&[
            r#"<startEvent id="s"/>"#.to_string(),
            task("t", ty, &[]),
            r#"<endEvent id="e"/>"#.into(),
            flow("a", "s", "t"),
            flow("b", "t", "e"),
        ]
        .join("\n"));
        let h = Harness::new(&bpmn).await;
        let i = h.create().await;
        if ty == "signing" {
            assert!(
                matches!(
                    h.next(i.id, Some("sign"), None).await,
                    Err(Error::ActionNotAllowed { .. })
                ),
                "a signing task without signatureConfig offers no `sign`"
            );
        }
        let i = h.next(i.id, None, None).await.unwrap();
        assert!(i.is_ended(), "{ty}");
        assert_eq!(h.rt.history(i.id).unwrap()[2].action, None, "{ty}");
    }
}

fn chained() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill", "data", &[]),
        r#"<exclusiveGateway id="g1" default="small"/>"#.into(),
        r#"<exclusiveGateway id="g2" default="normal"/>"#.into(),
        task("small_t", "confirmation", &[]),
        task("normal_t", "confirmation", &[]),
        task("urgent_t", "signing", &[]),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "g1"),
        cond(
            "big",
            "g1",
            "g2",
            r#"["greaterThan", ["dataModel", "amount", "model"], 1000]"#,
        ),
        flow("small", "g1", "small_t"),
        cond(
            "urgent",
            "g2",
            "urgent_t",
            r#"["equals", ["dataModel", "urgent", "model"], true]"#,
        ),
        flow("normal", "g2", "normal_t"),
        flow("e1", "small_t", "end"),
        flow("e2", "normal_t", "end"),
        flow("e3", "urgent_t", "end"),
    ]
    .join("\n"))
}

async fn route(h: &Harness, data: serde_json::Value) -> Vec<String> {
    let mut d = BTreeMap::new();
    d.insert(DataTypeId::new("model"), data);
    let i = h.create_with(d).await;
    let i = h.next(i.id, None, None).await.unwrap();
    h.active(&i)
}

#[tokio::test]
async fn chained_gateways_and_default_flows() {
    let h = Harness::new(&chained()).await;
    assert_eq!(
        route(&h, serde_json::json!({"amount": 10})).await,
        ["small_t"]
    );
    assert_eq!(
        route(&h, serde_json::json!({"amount": 5000})).await,
        ["normal_t"]
    );
    assert_eq!(
        route(&h, serde_json::json!({"amount": 5000, "urgent": true})).await,
        ["urgent_t"]
    );
    // A missing field reads as null: greaterThan(null, 1000) is false, so the default.
    assert_eq!(route(&h, serde_json::json!({})).await, ["small_t"]);
}

#[tokio::test]
async fn no_matching_flow_fails_and_leaves_the_instance_unchanged() {
    let bpmn = doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill", "data", &[]),
        r#"<exclusiveGateway id="g"/>"#.into(),
        r#"<endEvent id="yes"/>"#.into(),
        r#"<endEvent id="no"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "g"),
        cond(
            "a",
            "g",
            "yes",
            r#"["equals", ["dataModel", "answer", "model"], "yes"]"#,
        ),
        cond(
            "b",
            "g",
            "no",
            r#"["equals", ["dataModel", "answer", "model"], "no"]"#,
        ),
    ]
    .join("\n"));
    let h = Harness::new(&bpmn).await;
    let i = h.create().await;
    let i =
        h.rt.write_data(WriteData {
            instance: i.id,
            data_type: DataTypeId::new("model"),
            value: serde_json::json!({"answer": "maybe"}),
            actor: user(),
            expected_version: None,
        })
        .await
        .unwrap();
    let history_before = h.rt.history(i.id).unwrap();
    let err = h.next(i.id, None, None).await.unwrap_err();
    let Error::Gateway {
        gateway, results, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(gateway, "g");
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.result == "false"), "{results:?}");
    let text = err.to_string();
    assert!(
        text.contains("gateway `g`")
            && text
                .contains("a [\"equals\",[\"dataModel\",\"answer\",\"model\"],\"yes\"] gave false"),
        "{text}"
    );
    assert_eq!(h.rt.instance(i.id).unwrap(), i);
    assert_eq!(h.rt.history(i.id).unwrap(), history_before);
}

fn parallel() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        r#"<parallelGateway id="fork"/>"#.into(),
        task("a", "data", &[]),
        task("b", "confirmation", &[]),
        r#"<parallelGateway id="join"/>"#.into(),
        task("after", "feedback", &[]),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fork"),
        flow("fa", "fork", "a"),
        flow("fb", "fork", "b"),
        flow("ja", "a", "join"),
        flow("jb", "b", "join"),
        flow("f2", "join", "after"),
        flow("f3", "after", "end"),
    ]
    .join("\n"))
}

#[tokio::test]
async fn parallel_fork_and_join() {
    let h = Harness::new(&parallel()).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["a", "b"]);
    match h.next(i.id, None, None).await {
        Err(Error::TaskRequired { active }) => assert_eq!(active.len(), 2),
        other => panic!("{other:?}"),
    }
    let i = h.next(i.id, None, Some("b")).await.unwrap();
    assert_eq!(h.active(&i), ["a"], "the join waits for the other branch");
    assert!(
        i.process
            .tokens
            .iter()
            .any(|t| matches!(&t.at, flyt_engine::model::TokenAt::Join { .. }))
    );
    let i = h.next(i.id, None, Some("a")).await.unwrap();
    assert_eq!(h.active(&i), ["after"]);
    assert_eq!(
        i.process.tokens.len(),
        1,
        "both branch tokens were consumed by the join"
    );
    let i = h.next(i.id, None, None).await.unwrap();
    assert!(i.is_ended());
}

#[tokio::test]
async fn loop_guard_stops_a_process_that_never_waits() {
    let bpmn = doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill", "data", &[]),
        r#"<exclusiveGateway id="g1" default="to_g2"/>"#.into(),
        r#"<exclusiveGateway id="g2" default="to_g1"/>"#.into(),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "g1"),
        flow("to_g2", "g1", "g2"),
        flow("to_g1", "g2", "g1"),
        cond(
            "exit",
            "g2",
            "end",
            r#"["equals", ["dataModel", "stop", "model"], true]"#,
        ),
    ]
    .join("\n"));
    let h = Harness::new(&bpmn).await;
    let i = h.create().await;
    match h.next(i.id, None, None).await {
        Err(Error::LoopGuard { steps, element }) => {
            assert_eq!(steps, 1000);
            assert!(element == "g1" || element == "g2");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.rt.instance(i.id).unwrap(), i);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_moves_of_one_task_exactly_one_wins() {
    let h = Harness::new(&reject_process()).await;
    let i = h.create().await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let mut calls = Vec::new();
    for _ in 0..50 {
        let rt = h.rt.clone();
        let barrier = barrier.clone();
        calls.push(tokio::spawn(async move {
            barrier.wait().await;
            rt.next(Next {
                instance: i.id,
                action: None,
                task: Some("fill".into()),
                actor: user(),
                expected_version: None,
                on_behalf_of: None,
            })
            .await
        }));
    }
    let (mut won, mut conflicts, mut gone) = (0, 0, 0);
    for c in calls {
        match c.await.unwrap() {
            Ok(_) => won += 1,
            // Lost the race inside the commit.
            Err(Error::Conflict) => conflicts += 1,
            // Read the instance after the winner committed: the task is no longer active.
            Err(Error::TaskNotActive { .. }) => gone += 1,
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(
        won, 1,
        "exactly one move of `fill` ({conflicts} conflicts, {gone} saw it done)"
    );
    let after = h.rt.instance(i.id).unwrap();
    assert_eq!(after.version, 2);
    assert_eq!(h.active(&after), ["confirm"]);
    let ends =
        h.rt.history(i.id)
            .unwrap()
            .iter()
            .filter(|e| e.event_type == EventType::EndTask)
            .count();
    assert_eq!(ends, 1, "no trace of the losers in history");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_moves_with_the_same_expected_version_exactly_one_wins() {
    let h = Harness::new(&reject_process()).await;
    let i = h.create().await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let mut calls = Vec::new();
    for _ in 0..50 {
        let rt = h.rt.clone();
        let barrier = barrier.clone();
        calls.push(tokio::spawn(async move {
            barrier.wait().await;
            rt.next(Next {
                instance: i.id,
                action: None,
                task: None,
                actor: user(),
                expected_version: Some(1),
                on_behalf_of: None,
            })
            .await
        }));
    }
    let mut ok = 0;
    for c in calls {
        match c.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Conflict) | Err(Error::VersionMismatch { .. }) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one move from version 1");
    assert_eq!(h.rt.instance(i.id).unwrap().version, 2);
    assert_eq!(h.active(&h.rt.instance(i.id).unwrap()), ["confirm"]);
}

#[tokio::test]
async fn stale_expected_version_is_refused() {
    let h = Harness::new(&reject_process()).await;
    let i = h.create().await;
    let err =
        h.rt.next(Next {
            instance: i.id,
            action: None,
            task: None,
            actor: user(),
            expected_version: Some(7),
            on_behalf_of: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::VersionMismatch {
            expected: 7,
            actual: 1
        }
    );
}

#[tokio::test]
async fn instances_stay_on_the_version_they_started_with() {
    let h = Harness::new(&reject_process()).await;
    let old = h.create().await;
    assert_eq!(old.definition_version, 1);
    // Identical content: a no-op.
    let again =
        h.rt.deploy(&h.app, reject_process().as_bytes(), "test")
            .await
            .unwrap();
    assert!(again.unchanged);
    assert_eq!(again.version, 1);
    // A new version without the confirmation task.
    let v2 = doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill", "data", &[]),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "end"),
    ]
    .join("\n"));
    let deployed = h.rt.deploy(&h.app, v2.as_bytes(), "test").await.unwrap();
    assert_eq!((deployed.version, deployed.unchanged), (2, false));
    let new = h.create().await;
    assert_eq!(new.definition_version, 2);
    assert!(h.next(new.id, None, None).await.unwrap().is_ended());
    let old = h.next(old.id, None, None).await.unwrap();
    assert_eq!(
        h.active(&old),
        ["confirm"],
        "the old instance still follows version 1"
    );
    assert_eq!(
        h.rt.definition_source(&h.app, Some(1)).unwrap().bpmn,
        reject_process()
    );
}

#[tokio::test]
async fn a_source_redeploying_its_unchanged_file_does_not_replace_a_later_api_deploy() {
    let h = Harness::new(&reject_process()).await;
    // The harness deployed version 1 as "test"; the app folder's file is a different source.
    let file = reject_process().replace(r#"id="confirm""#, r#"id="check""#);
    let file = file.replace(r#""confirm""#, r#""check""#);
    let first =
        h.rt.deploy_from_source(&h.app, file.as_bytes(), "startup")
            .await
            .unwrap();
    assert_eq!(
        (first.version, first.unchanged),
        (2, false),
        "new content from the source"
    );
    let api = doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill", "data", &[]),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "end"),
    ]
    .join("\n"));
    assert_eq!(
        h.rt.deploy(&h.app, api.as_bytes(), "designer")
            .await
            .unwrap()
            .version,
        3
    );
    // A restart offers the same file again: the API's version 3 stays the latest.
    let again =
        h.rt.deploy_from_source(&h.app, file.as_bytes(), "startup")
            .await
            .unwrap();
    assert_eq!((again.version, again.unchanged), (2, true));
    assert_eq!(h.rt.latest_definition(&h.app).unwrap().0, 3);
    // An edited file is new intent: it becomes the latest.
    let edited = file
        .replace(r#"id="check""#, r#"id="verify""#)
        .replace(r#""check""#, r#""verify""#);
    let stored =
        h.rt.deploy_from_source(&h.app, edited.as_bytes(), "startup")
            .await
            .unwrap();
    assert_eq!((stored.version, stored.unchanged), (4, false));
    // Content equal to the latest version is a no-op whoever offers it.
    let same =
        h.rt.deploy_from_source(&h.app, edited.as_bytes(), "other")
            .await
            .unwrap();
    assert_eq!((same.version, same.unchanged), (4, true));
}

#[tokio::test]
async fn a_move_from_a_stale_snapshot_is_a_conflict_and_changes_nothing() {
    let h = Harness::new(&reject_process()).await;
    let snapshot = h.create().await;
    let other = h.create().await;
    let moved = h.next(snapshot.id, None, None).await.unwrap();
    assert_eq!(h.active(&moved), ["confirm"]);
    let events = h.events(snapshot.id);
    let req = |id| Next {
        instance: id,
        action: None,
        task: None,
        actor: user(),
        expected_version: None,
        on_behalf_of: None,
    };
    match h.rt.next_from(snapshot.clone(), req(snapshot.id)).await {
        Err(Error::Conflict) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(h.events(snapshot.id), events, "nothing was committed");
    assert_eq!(h.rt.instance(snapshot.id).unwrap().version, moved.version);
    // A snapshot of another instance is refused before anything runs.
    match h.rt.next_from(other.clone(), req(snapshot.id)).await {
        Err(Error::BadRequest(m)) => assert!(m.contains("snapshot"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A fresh snapshot moves like `next`.
    let fresh = h.rt.instance(other.id).unwrap();
    let moved = h.rt.next_from(fresh, req(other.id)).await.unwrap();
    assert_eq!(h.active(&moved), ["confirm"]);
}

#[tokio::test]
async fn an_invalid_deploy_is_refused_with_every_diagnostic() {
    let h = Harness::new(&reject_process()).await;
    let broken = reject_process()
        .replace(r#"targetRef="end""#, r#"targetRef="nowhere""#)
        .replace(
            r#"<exclusiveGateway id="g"/>"#,
            r#"<exclusiveGateway id="g"/><task id="fill"/>"#,
        );
    match h.rt.deploy(&h.app, broken.as_bytes(), "test").await {
        Err(Error::InvalidDefinition(r)) => assert!(r.errors().count() >= 2, "{:?}", r.diagnostics),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.rt.latest_definition(&h.app).unwrap().0, 1);
}

/// Writes invalid data from a task-ending hook.
struct WritesBadData;

#[async_trait::async_trait]
impl flyt_engine::hooks::Hook for WritesBadData {
    async fn task_ending(
        &self,
        ctx: &mut flyt_engine::hooks::HookContext<'_>,
        _t: &flyt_engine::hooks::TaskRef,
        _a: &str,
    ) -> flyt_engine::hooks::HookResult {
        ctx.set_data("model", serde_json::json!({"amount": "lots"}));
        Ok(())
    }
}

#[tokio::test]
async fn regression_data_written_by_a_hook_during_next_is_checked_against_the_schema() {
    let schema = flyt_engine::app::Schema::compile(
        serde_json::json!({"type": "object", "properties": {"amount": {"type": "number"}}}),
    )
    .unwrap();
    let app = flyt_engine::app::AppSpec::new(app_id())
        .with_data_type(flyt_engine::app::DataTypeSpec::new("model").with_schema(schema));
    let registry = flyt_engine::hooks::Registry::builder()
        .hook(WritesBadData)
        .build();
    let h = Harness::with(
        &reject_process(),
        flyt_engine::store::Store::memory(),
        registry,
        app,
    )
    .await;
    let i = h.create().await;
    assert!(matches!(
        h.next(i.id, None, None).await,
        Err(Error::DataInvalid { .. })
    ));
    assert_eq!(h.rt.instance(i.id).unwrap(), i, "nothing was committed");
}

/// Writes data that is not an object from a task-ending hook.
struct WritesAnArray;

#[async_trait::async_trait]
impl flyt_engine::hooks::Hook for WritesAnArray {
    async fn task_ending(
        &self,
        ctx: &mut flyt_engine::hooks::HookContext<'_>,
        _t: &flyt_engine::hooks::TaskRef,
        _a: &str,
    ) -> flyt_engine::hooks::HookResult {
        ctx.set_data("model", serde_json::json!([1, 2]));
        Ok(())
    }
}

#[tokio::test]
async fn data_that_is_not_an_object_is_refused_whoever_writes_it() {
    // No schema at all: the object rule holds anyway, so a data PUT can always write it back.
    let app = flyt_engine::app::AppSpec::new(app_id())
        .with_data_type(flyt_engine::app::DataTypeSpec::new("model"));
    let registry = flyt_engine::hooks::Registry::builder()
        .hook(WritesAnArray)
        .build();
    let h = Harness::with(
        &reject_process(),
        flyt_engine::store::Store::memory(),
        registry,
        app,
    )
    .await;
    let i = h.create().await;
    match h.next(i.id, None, None).await {
        Err(Error::DataInvalid { data_type, issues }) => {
            assert_eq!(data_type, "model");
            assert!(issues[0].message.contains("JSON object"), "{issues:?}");
        }
        other => panic!("a hook's array was not refused: {other:?}"),
    }
    assert_eq!(h.rt.instance(i.id).unwrap(), i, "nothing was committed");
}
