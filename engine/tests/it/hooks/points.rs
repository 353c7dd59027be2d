//! Each hook point fires at the right moment with the right context (service task handlers:
//! `service_tasks`).

use super::*;
use flyt_engine::hooks::{JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome};
use flyt_engine::model::EventType;
use flyt_engine::runtime::Error;
use serde_json::json;
use std::collections::BTreeMap;

fn shorts(log: &Log) -> Vec<String> {
    log.lock().iter().map(Seen::short).collect()
}

#[tokio::test]
async fn instance_created_fills_initial_data_in_the_first_commit() {
    let log = Log::default();
    let probe = Probe::new("probe", &log).at(
        Point::Created,
        None,
        Act::Run(|ctx| {
            let mut m = ctx.data("model")?.cloned().unwrap_or(json!({}));
            m["filled"] = json!(true);
            ctx.set_data("model", m);
            Ok(())
        }),
    );
    let h = harness(&user_process(), user_registry(vec![probe])).await;
    let i = h
        .create_with(BTreeMap::from([(model(), json!({ "prefilled": 1 }))]))
        .await;
    assert_eq!(i.version, 1, "one commit");
    assert!(i.data.contains_key(&model()));
    let stored = json!({ "prefilled": 1, "filled": true });
    assert_eq!(h.rt.data(i.id, &model()).unwrap(), Some(stored.clone()));

    let log = log.lock();
    let created = &log[0];
    assert_eq!(created.point, Point::Created);
    assert_eq!(
        created.model,
        Some(json!({ "prefilled": 1 })),
        "prefill is visible"
    );
    assert!(
        created.active.is_empty(),
        "it runs before the first task is reached"
    );
    assert_eq!((created.version, created.history_len), (0, 0));
    assert_eq!(created.actor, user());
    assert_eq!(log[1].short(), "Started fill");
    assert_eq!(log[1].model, Some(stored), "later hooks see its data");
    assert_eq!(log.len(), 2);
}

/// A handler that is never asked (no worker runs in these tests).
struct Idle;

#[async_trait]
impl ServiceTaskHandler for Idle {
    async fn execute(&self, _: JobContext) -> ServiceTaskOutcome {
        ServiceTaskOutcome::done()
    }
}

#[tokio::test]
async fn task_started_sees_the_task_and_the_instance_for_user_and_service_tasks() {
    let log = Log::default();
    let registry = Registry::builder()
        .service_task("send", Idle)
        .hook(Probe::new("probe", &log));
    let h = harness(&service_process(), registry).await;
    let i = h.create().await;
    let moved = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&moved), ["send"]);

    let log = log.lock();
    let started: Vec<&Seen> = log.iter().filter(|s| s.point == Point::Started).collect();
    assert_eq!(started.len(), 2);
    let (fill, send) = (started[0], started[1]);
    assert_eq!(fill.task.as_deref(), Some("fill"));
    assert_eq!(fill.task_type.as_deref(), Some("data"));
    assert_eq!(
        fill.active,
        ["fill"],
        "the task is active when its hook runs"
    );
    assert_eq!(fill.version, 0, "before the creation's commit");
    assert_eq!(send.task.as_deref(), Some("send"));
    assert_eq!(
        send.task_type.as_deref(),
        Some("send"),
        "the service task type"
    );
    assert_eq!(send.active, ["send"], "fill is done, send is active");
    assert_eq!(send.version, 1, "before the move's commit");
    assert_eq!(send.actor, user(), "the actor of the move that reached it");
    assert_eq!(
        shorts_of(&log),
        [
            "Created",
            "Started fill",
            "Ending fill write",
            "Started send"
        ]
    );
}

fn shorts_of(log: &[Seen]) -> Vec<String> {
    log.iter().map(Seen::short).collect()
}

#[tokio::test]
async fn task_ending_sees_the_action_and_its_writes_commit_with_the_move() {
    let log = Log::default();
    let probe = Probe::new("probe", &log).at(
        Point::Ending,
        Some("fill"),
        Act::Run(|ctx| {
            let mut m = ctx.data("model")?.cloned().unwrap_or(json!({}));
            m["checked"] = json!(true);
            ctx.set_data("model", m);
            Ok(())
        }),
    );
    let h = harness(&user_process(), user_registry(vec![probe])).await;
    let i = h.create().await;
    write(&h, i.id, json!({ "amount": 5 })).await.unwrap();
    let moved = h.next(i.id, None, None).await.unwrap();
    assert_eq!(moved.version, 3);
    assert_eq!(
        h.rt.data(i.id, &model()).unwrap(),
        Some(json!({ "amount": 5, "checked": true }))
    );
    h.next(i.id, Some("confirm"), None).await.unwrap();

    let log = log.lock();
    let ending: Vec<&Seen> = log.iter().filter(|s| s.point == Point::Ending).collect();
    assert_eq!(ending[0].short(), "Ending fill write");
    assert_eq!(ending[0].model, Some(json!({ "amount": 5 })));
    assert_eq!(ending[0].active, ["fill"], "the task is still active");
    assert_eq!(ending[1].short(), "Ending confirm confirm");
    assert_eq!(
        ending[1].model,
        Some(json!({ "amount": 5, "checked": true }))
    );
}

#[tokio::test]
async fn task_ending_veto_refuses_with_issues_and_changes_nothing() {
    let log = Log::default();
    let writes = Probe::new("writes", &log).at(
        Point::Ending,
        None,
        Act::Run(|ctx| {
            ctx.set_data("extra", json!("written before the veto"));
            Ok(())
        }),
    );
    let validator = Probe::new("validator", &log).at(Point::Ending, None, Act::Run(veto));
    let after = Probe::new("after", &log);
    let h = harness(
        &user_process(),
        user_registry(vec![writes, validator, after]),
    )
    .await;
    let i = h.create().await;
    let i = write(&h, i.id, json!({ "amount": 1_000_000 }))
        .await
        .unwrap();
    let before = state(&h, i.id);
    log.lock().clear();

    let err = h.next(i.id, None, None).await.unwrap_err();
    assert_eq!(
        err,
        Error::Refused {
            hook: "validator".into(),
            issues: vec![Issue::at("model.amount", "too large")],
        }
    );
    assert_eq!(
        state(&h, i.id),
        before,
        "instance, history and data unchanged"
    );
    assert_eq!(
        log.lock().iter().map(|s| s.hook).collect::<Vec<_>>(),
        ["writes", "validator"],
        "hooks after the veto do not run"
    );
}

#[tokio::test]
async fn task_abandoned_fires_on_reject_instead_of_task_ending() {
    let log = Log::default();
    let (decider, asked) = Decider::new(by_action);
    let registry = Registry::builder()
        .gateway(app_id(), "g", decider)
        .hook(Probe::new("probe", &log));
    let h = harness(&user_process(), registry).await;
    let i = h.create().await;
    h.next(i.id, None, None).await.unwrap();
    log.lock().clear();
    let back = h.next(i.id, Some("reject"), None).await.unwrap();
    assert_eq!(h.active(&back), ["fill"]);
    assert_eq!(shorts(&log), ["Abandoned confirm reject", "Started fill"]);
    assert_eq!(log.lock()[0].active, ["confirm"]);
    assert_eq!(asked.lock()[0].1.as_deref(), Some("reject"));
    assert!(
        h.events(i.id)
            .contains(&"process_AbandonTask confirm".to_string())
    );
}

#[tokio::test]
async fn process_ended_fires_once_when_the_last_token_ends() {
    let log = Log::default();
    let h = harness(&user_process(), user_registry(vec![Probe::new("p", &log)])).await;
    let i = h.create().await;
    h.next(i.id, None, None).await.unwrap();
    assert!(h.next(i.id, None, None).await.unwrap().is_ended());
    let ended: Vec<Seen> = log
        .lock()
        .iter()
        .filter(|s| s.point == Point::Ended)
        .cloned()
        .collect();
    assert_eq!(ended.len(), 1);
    assert!(ended[0].ended && ended[0].active.is_empty());
    assert_eq!(
        ended[0].history_len as usize,
        h.rt.history(i.id).unwrap().len(),
        "after process_EndEvent is recorded"
    );

    // Parallel branches, each to its own end event: only the last one ends the process.
    let log = Log::default();
    let registry = Registry::builder().hook(Probe::new("p", &log));
    let h = harness(&parallel_process(), registry).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["a", "b"]);
    h.next(i.id, None, Some("a")).await.unwrap();
    assert!(!log.lock().iter().any(|s| s.point == Point::Ended));
    assert!(h.next(i.id, None, Some("b")).await.unwrap().is_ended());
    assert_eq!(
        log.lock()
            .iter()
            .filter(|s| s.point == Point::Ended)
            .count(),
        1
    );
}

#[tokio::test]
async fn data_written_validates_and_a_veto_stores_nothing() {
    let log = Log::default();
    let probe = Probe::new("limit", &log).at(
        Point::Written,
        None,
        Act::Run(
            |ctx| match ctx.data("model")?.and_then(|m| m["amount"].as_i64()) {
                Some(n) if n > 100 => veto(ctx),
                _ => Ok(()),
            },
        ),
    );
    let h = harness(&user_process(), user_registry(vec![probe])).await;
    let i = h.create().await;
    let before = state(&h, i.id);
    match write(&h, i.id, json!({ "amount": 500 })).await {
        Err(Error::Refused { hook, issues }) => {
            assert_eq!(hook, "limit");
            assert_eq!(issues[0].field.as_deref(), Some("model.amount"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(state(&h, i.id), before);
    write(&h, i.id, json!({ "amount": 50 })).await.unwrap();
    let seen: Vec<Seen> = log
        .lock()
        .iter()
        .filter(|s| s.point == Point::Written)
        .cloned()
        .collect();
    assert_eq!(seen[0].detail.as_deref(), Some("model"));
    assert_eq!(
        seen[0].model,
        Some(json!({ "amount": 500 })),
        "it sees the new value"
    );
    assert_eq!(
        h.rt.data(i.id, &model()).unwrap(),
        Some(json!({ "amount": 50 }))
    );
}

#[tokio::test]
async fn data_written_enrichment_is_stored() {
    let log = Log::default();
    let probe = Probe::new("total", &log).at(
        Point::Written,
        None,
        Act::Run(|ctx| {
            let mut m = ctx.data("model")?.cloned().unwrap_or(json!({}));
            let total = m["qty"].as_i64().unwrap_or(0) * m["price"].as_i64().unwrap_or(0);
            m["total"] = json!(total);
            ctx.set_data("model", m);
            Ok(())
        }),
    );
    let h = harness(&user_process(), user_registry(vec![probe])).await;
    let i = h.create().await;
    let after = write(&h, i.id, json!({ "qty": 3, "price": 7 }))
        .await
        .unwrap();
    assert_eq!(
        after.version, 2,
        "the value and its enrichment in one commit"
    );
    assert_eq!(
        h.rt.data(i.id, &model()).unwrap(),
        Some(json!({ "qty": 3, "price": 7, "total": 21 }))
    );
}

fn to_b(_: &GatewayContext<'_>) -> Result<String, HookError> {
    Ok("to_b".into())
}

#[tokio::test]
async fn gateway_decider_picks_only_when_no_condition_decides() {
    let (decider, asked) = Decider::new(to_b);
    let h = harness(
        &conditional_process(),
        Registry::builder().gateway(app_id(), "g2", decider),
    )
    .await;
    let route = |r: &str| json!({ "route": r });

    let i = h.create_with(BTreeMap::from([(model(), route("a"))])).await;
    let i = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&i), ["ta"], "the condition decided");
    assert!(asked.lock().is_empty(), "the decider was not asked");

    let i = h.create_with(BTreeMap::from([(model(), route("x"))])).await;
    let i = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&i), ["tb"], "the decider picked");
    let asked = asked.lock();
    assert_eq!(
        asked[0].0,
        ["to_a", "to_b"],
        "every flow is a candidate when none matched"
    );
    assert_eq!(
        asked[0].1.as_deref(),
        None,
        "no action was sent before the gateway, and none is invented (as Altinn)"
    );
    assert_eq!(asked[0].2, Some(route("x")), "the instance's data");
}

#[tokio::test]
async fn gateway_decider_picking_a_non_candidate_fails_and_changes_nothing() {
    let (decider, _) = Decider::new(|_| Ok("f1".into()));
    let h = harness(
        &user_process(),
        Registry::builder().gateway(app_id(), "g", decider),
    )
    .await;
    let i = h.create().await;
    let i = h.next(i.id, None, None).await.unwrap();
    let before = state(&h, i.id);
    match h.next(i.id, None, None).await {
        Err(Error::HookFailed { hook, detail }) => {
            assert_eq!(hook, "gateway decider for `g`");
            assert!(
                detail.contains("`f1`") && detail.contains("back, done"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(state(&h, i.id), before);
}

#[tokio::test]
async fn server_action_writes_data_without_moving_the_process() {
    let log = Log::default();
    let registry = user_registry(vec![Probe::new("probe", &log)]).server_action(
        Some(app_id()),
        "calc",
        Calc(None),
    );
    let h = harness(&user_process(), registry).await;
    let i = h.create().await;
    log.lock().clear();
    let (after, result) =
        h.rt.server_action(i.id, "calc", None, user())
            .await
            .unwrap();
    assert_eq!(result, json!({ "sum": 3 }));
    assert_eq!(after.process, i.process, "the process did not move");
    assert_eq!(after.version, i.version + 1);
    assert_eq!(
        h.rt.data(i.id, &DataTypeId::new("calc")).unwrap(),
        Some(json!({ "ranOn": "fill", "by": user() }))
    );
    let last = h.rt.history(i.id).unwrap().pop().unwrap();
    assert_eq!(last.event_type, EventType::ServerAction);
    assert_eq!(last.event_type.as_str(), "flyt_ServerAction");
    assert_eq!(
        (last.element_id.unwrap().as_str(), last.action.as_deref()),
        ("fill", Some("calc"))
    );
    assert!(
        log.lock().is_empty(),
        "no hook points (data_written included) fire"
    );
    assert!(matches!(
        h.rt.server_action(i.id, "other", None, user()).await,
        Err(Error::UnknownServerAction { .. })
    ));
}
