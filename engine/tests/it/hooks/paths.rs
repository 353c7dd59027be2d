//! For every hook point, gateway decider and server action: a veto, an error and a timeout each
//! fail the move with the right error and leave the instance exactly as it was. Then the order
//! hooks run in, and app-scoped hooks.

use super::*;
use flyt_engine::hooks::{Registry, RegistryBuilder};
use flyt_engine::ids::AppId;
use flyt_engine::model::{InstanceOwner, Party};
use flyt_engine::runtime::{CreateInstance, Error};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// What misbehaves.
#[derive(Debug, Clone, Copy)]
enum Target {
    Hook(Point),
    Gateway,
    ServerAction,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Veto,
    Fail,
    Hang,
}

fn registry(target: Target, outcome: Outcome) -> RegistryBuilder {
    let act = match outcome {
        Outcome::Veto => Act::Run(veto),
        Outcome::Fail => Act::Run(fail),
        Outcome::Hang => Act::Hang,
    };
    let log = Log::default();
    let mut probe = Probe::new("probe", &log);
    let (mut decider, _) = Decider::new(by_action);
    let mut calc = Calc(None);
    match target {
        // Only at `confirm`, so that the creation (which starts `fill`) succeeds.
        Target::Hook(Point::Started) => probe = probe.at(Point::Started, Some("confirm"), act),
        Target::Hook(point) => probe = probe.at(point, None, act),
        Target::Gateway => match outcome {
            Outcome::Veto => {
                decider.pick = |_| Err(HookError::rejected(Issue::at("model.amount", "too large")))
            }
            Outcome::Fail => decider.pick = |_| Err(HookError::Failed("boom".into())),
            Outcome::Hang => decider.hang = true,
        },
        Target::ServerAction => calc = Calc(Some(act)),
    }
    Registry::builder()
        .hook_timeout(Duration::from_secs(1))
        .gateway(app_id(), "g", decider)
        .server_action(Some(app_id()), "calc", calc)
        .hook(probe)
}

/// Brings a new instance to just before the move that reaches `target` (`None` when that move
/// is the creation itself).
async fn prepare(h: &Harness, target: Target) -> Option<InstanceId> {
    if matches!(target, Target::Hook(Point::Created)) {
        return None;
    }
    let i = h.create().await;
    // Data to keep unchanged (unless writing is what misbehaves).
    if !matches!(target, Target::Hook(Point::Written)) {
        write(h, i.id, json!({ "amount": 1 })).await.unwrap();
    }
    if matches!(
        target,
        Target::Hook(Point::Abandoned | Point::Ended) | Target::Gateway
    ) {
        h.next(i.id, None, None).await.unwrap();
    }
    Some(i.id)
}

/// The move that reaches `target`.
async fn act(h: &Harness, target: Target, id: Option<InstanceId>) -> Error {
    let result = match (target, id) {
        (Target::Hook(Point::Created), _) => {
            h.rt.create_instance(CreateInstance {
                app: h.app.clone(),
                owner: owner(),
                actor: user(),
                data: BTreeMap::new(),
                start_event: None,
                idempotency: None,
            })
            .await
            .map(drop)
        }
        (Target::Hook(Point::Written), Some(id)) => {
            write(h, id, json!({ "amount": 2 })).await.map(drop)
        }
        (Target::Hook(Point::Abandoned), Some(id)) => {
            h.next(id, Some("reject"), None).await.map(drop)
        }
        (Target::ServerAction, Some(id)) => {
            h.rt.server_action(id, "calc", None, user()).await.map(drop)
        }
        (_, Some(id)) => h.next(id, None, None).await.map(drop),
        (_, None) => unreachable!(),
    };
    result.expect_err("the move must fail")
}

async fn check(target: Target, outcome: Outcome) {
    let h = harness(&user_process(), registry(target, outcome)).await;
    let id = prepare(&h, target).await;
    let before = id.map(|id| state(&h, id));
    let err = act(&h, target, id).await;

    let hook = match target {
        Target::Hook(_) => "probe",
        Target::Gateway => "gateway decider for `g`",
        Target::ServerAction => "server action `calc`",
    };
    match (outcome, &err) {
        (Outcome::Veto, Error::Refused { hook: h, issues }) => {
            assert_eq!(h, hook);
            assert_eq!(issues, &[Issue::at("model.amount", "too large")]);
        }
        (Outcome::Fail, Error::HookFailed { hook: h, detail }) => {
            assert_eq!((h.as_str(), detail.as_str()), (hook, "boom"));
        }
        (Outcome::Hang, Error::HookTimeout { hook: h, millis }) => {
            assert_eq!((h.as_str(), *millis), (hook, 1000));
        }
        _ => panic!("{target:?} {outcome:?}: unexpected {err:?}"),
    }
    match (id, before) {
        (Some(id), Some(before)) => assert_eq!(state(&h, id), before, "{target:?} {outcome:?}"),
        _ => {
            let page = h.rt.list_instances(&h.app, None, None, 10).unwrap();
            assert!(
                page.instances.is_empty(),
                "a refused creation leaves no instance"
            );
        }
    }
}

/// Per target: `veto`, `error` and `timeout` (on paused time, so the timeout is instant).
macro_rules! paths {
    ($($name:ident: $target:expr;)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test]
            async fn veto_changes_nothing() {
                check($target, Outcome::Veto).await;
            }

            #[tokio::test]
            async fn error_changes_nothing() {
                check($target, Outcome::Fail).await;
            }

            #[tokio::test(start_paused = true)]
            async fn timeout_changes_nothing() {
                check($target, Outcome::Hang).await;
            }
        }
    )*};
}

paths! {
    instance_created: Target::Hook(Point::Created);
    task_started: Target::Hook(Point::Started);
    task_ending: Target::Hook(Point::Ending);
    task_abandoned: Target::Hook(Point::Abandoned);
    process_ended: Target::Hook(Point::Ended);
    data_written: Target::Hook(Point::Written);
    gateway_decider: Target::Gateway;
    server_action: Target::ServerAction;
}

#[tokio::test]
async fn hooks_run_in_registration_order_and_see_earlier_writes() {
    let log = Log::default();
    let first = Probe::new("first", &log).at(
        Point::Created,
        None,
        Act::Run(|ctx| {
            ctx.set_data("model", json!({ "by": "first" }));
            Ok(())
        }),
    );
    let second = Probe::new("second", &log).at(Point::Ending, None, Act::Run(veto));
    let third = Probe::new("third", &log);
    let registry = Registry::builder()
        .gateway(app_id(), "g", Decider::new(by_action).0)
        .hook(first)
        .app_hook(app_id(), second)
        .hook(third);
    let h = harness(&user_process(), registry).await;
    let i = h.create().await;
    let calls = |point| {
        log.lock()
            .iter()
            .filter(|s| s.point == point)
            .map(|s| (s.hook, s.model.clone()))
            .collect::<Vec<_>>()
    };
    let by_first = Some(json!({ "by": "first" }));
    assert_eq!(
        calls(Point::Created),
        [
            ("first", None),
            ("second", by_first.clone()),
            ("third", by_first.clone())
        ],
        "global and app hooks interleave in registration order"
    );
    assert!(matches!(
        h.next(i.id, None, None).await,
        Err(Error::Refused { .. })
    ));
    assert_eq!(
        calls(Point::Ending).iter().map(|c| c.0).collect::<Vec<_>>(),
        ["first", "second"],
        "a veto stops the hooks after it"
    );
}

#[tokio::test]
async fn an_app_hook_does_not_fire_for_another_app() {
    let other: AppId = "ttd/other".parse().unwrap();
    let log = Log::default();
    let registry = user_registry(vec![]).app_hook(other.clone(), Probe::new("other's", &log));
    let h = harness(&user_process(), registry).await;
    let i = h.create().await;
    h.next(i.id, None, None).await.unwrap();
    assert!(log.lock().is_empty(), "{:?}", log.lock());

    h.rt.register_app(flyt_engine::app::AppSpec::open(other.clone()));
    h.rt.deploy(&other, parallel_process().as_bytes(), "test")
        .await
        .unwrap();
    h.rt.create_instance(CreateInstance {
        app: other,
        owner: InstanceOwner::new(Party::person("01017012345").unwrap()),
        actor: user(),
        data: BTreeMap::new(),
        start_event: None,
        idempotency: None,
    })
    .await
    .unwrap();
    assert_eq!(log.lock()[0].short(), "Created", "it fires for its own app");
}
