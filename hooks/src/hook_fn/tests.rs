//! Each adapter, driven through a real runtime (a `HookContext` only exists inside the engine).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::{
    HookError, Issue, JobContext, Registry, RegistryBuilder, ServiceTaskHandler, ServiceTaskOutcome,
};
use flyt_engine::app::AppSpec;
use flyt_engine::ids::{AppId, DataTypeId, InstanceId, JobKey};
use flyt_engine::model::{Actor, Instance, InstanceOwner, Party};
use flyt_engine::runtime::{CreateInstance, Error, Next, Runtime, WriteData};
use flyt_engine::store::Store;
use parking_lot::Mutex;
use serde_json::Value;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// fill (data, server action `calc`) → confirm (may be rejected) → `g`, a gateway with no
/// conditions: only a decider can route it (back to fill, or to the end).
const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="d">
<process id="p">
<startEvent id="start"/>
<task id="fill"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType><altinn:actions><altinn:action type="serverAction">calc</altinn:action></altinn:actions></altinn:taskExtension></extensionElements></task>
<task id="confirm"><extensionElements><altinn:taskExtension><altinn:taskType>confirmation</altinn:taskType><altinn:actions><altinn:action>reject</altinn:action></altinn:actions></altinn:taskExtension></extensionElements></task>
<exclusiveGateway id="g"/>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
<sequenceFlow id="f2" sourceRef="fill" targetRef="confirm"/>
<sequenceFlow id="f3" sourceRef="confirm" targetRef="g"/>
<sequenceFlow id="back" sourceRef="g" targetRef="fill"/>
<sequenceFlow id="done" sourceRef="g" targetRef="end"/>
</process>
</definitions>"#;

fn app() -> AppId {
    "ttd/hook-fn".parse().unwrap()
}

fn model() -> DataTypeId {
    DataTypeId::new("model")
}

/// A registry with the decider `g` needs: `reject` goes back, anything else ends.
fn registry() -> RegistryBuilder {
    Registry::builder().gateway(
        app(),
        "g",
        gateway_fn(|ctx| {
            Ok(match ctx.gateway_action() {
                Some("reject") => "back".into(),
                _ => "done".into(),
            })
        }),
    )
}

async fn runtime(registry: RegistryBuilder) -> Runtime {
    let rt = Runtime::new(Store::memory(), registry.build());
    rt.register_app(AppSpec::open(app()));
    rt.deploy(&app(), BPMN.as_bytes(), "test").await.unwrap();
    rt
}

async fn create(rt: &Runtime) -> Result<Instance, Error> {
    let owner = InstanceOwner::new(Party::person("01017012345").unwrap());
    rt.create_instance(CreateInstance {
        app: app(),
        owner,
        actor: Actor::user("01017012345"),
        data: BTreeMap::new(),
        start_event: None,
        idempotency: None,
    })
    .await
    .map(|c| c.instance)
}

async fn next(rt: &Runtime, id: InstanceId, action: Option<&str>) -> Result<Instance, Error> {
    rt.next(Next {
        instance: id,
        action: action.map(str::to_string),
        task: None,
        actor: Actor::user("01017012345"),
        expected_version: None,
        on_behalf_of: None,
    })
    .await
}

async fn write(rt: &Runtime, id: InstanceId, value: Value) -> Result<Instance, Error> {
    rt.write_data(WriteData {
        instance: id,
        data_type: model(),
        value,
        actor: Actor::user("01017012345"),
        expected_version: None,
    })
    .await
}

type Log = Arc<Mutex<Vec<String>>>;

#[tokio::test]
async fn every_sync_hook_point_fires_with_its_arguments() {
    let log: Log = Arc::default();
    let l = |log: &Log| log.clone();
    let (a, b, c, d, e, f) = (l(&log), l(&log), l(&log), l(&log), l(&log), l(&log));
    let hook = hook_fn("all")
        .on_instance_created(move |ctx| {
            a.lock().push("created".into());
            ctx.set_data("model", json!({ "n": 1 }));
            Ok(())
        })
        .on_task_started(move |_, task| {
            b.lock().push(format!("started {}", task.element_id));
            Ok(())
        })
        .on_task_ending(move |_, task, action| {
            c.lock()
                .push(format!("ending {} {action}", task.element_id));
            Ok(())
        })
        .on_task_abandoned(move |_, task, action| {
            d.lock()
                .push(format!("abandoned {} {action}", task.element_id));
            Ok(())
        })
        .on_process_ended(move |ctx| {
            e.lock().push(format!(
                "ended {:?}",
                ctx.instance().process.ended.is_some()
            ));
            Ok(())
        })
        .on_data_written(move |_, data_type| {
            f.lock().push(format!("written {data_type}"));
            Ok(())
        });
    assert_eq!(hook.name(), "all");
    let rt = runtime(registry().hook(hook)).await;
    let i = create(&rt).await.unwrap();
    assert_eq!(rt.data(i.id, &model()).unwrap(), Some(json!({ "n": 1 })));
    write(&rt, i.id, json!({ "n": 2 })).await.unwrap();
    next(&rt, i.id, None).await.unwrap();
    next(&rt, i.id, Some("reject")).await.unwrap();
    next(&rt, i.id, None).await.unwrap();
    let ended = next(&rt, i.id, None).await.unwrap();
    assert!(ended.is_ended());
    assert_eq!(
        *log.lock(),
        [
            "created",
            "started fill",
            "written model",
            "ending fill write",
            "started confirm",
            "abandoned confirm reject",
            "started fill",
            "ending fill write",
            "started confirm",
            "ending confirm confirm",
            "ended true",
        ]
    );
}

#[tokio::test]
async fn shortcuts_refuse_and_enrich() {
    let limit = on_task_ending(|ctx, task, _| {
        let n = ctx
            .data("model")?
            .and_then(|m| m["n"].as_i64())
            .unwrap_or(0);
        if task.element_id == "fill" && n > 10 {
            return Err(HookError::rejected(Issue::at("n", "at most 10")));
        }
        Ok(())
    })
    .named("limit");
    let double = on_data_written(|ctx, data_type| {
        let n = ctx
            .data(data_type)?
            .and_then(|m| m["n"].as_i64())
            .unwrap_or(0);
        ctx.set_data(data_type, json!({ "n": n, "twice": n * 2 }));
        Ok(())
    });
    let seen: Log = Arc::default();
    let s = seen.clone();
    let started = on_task_started(move |_, t| {
        s.lock().push(t.element_id.clone());
        Ok(())
    });
    let s = seen.clone();
    let created = on_instance_created(move |_| {
        s.lock().push("created".into());
        Ok(())
    });
    let s = seen.clone();
    let abandoned = on_task_abandoned(move |_, _, a| {
        s.lock().push(a.to_string());
        Ok(())
    });
    let s = seen.clone();
    let ended = on_process_ended(move |_| {
        s.lock().push("ended".into());
        Ok(())
    });
    let rt = runtime(
        registry()
            .hook(limit)
            .hook(double)
            .hook(started)
            .hook(created)
            .hook(abandoned)
            .hook(ended),
    )
    .await;
    let i = create(&rt).await.unwrap();
    let i = write(&rt, i.id, json!({ "n": 11 })).await.unwrap();
    assert_eq!(
        rt.data(i.id, &model()).unwrap(),
        Some(json!({ "n": 11, "twice": 22 }))
    );
    match next(&rt, i.id, None).await {
        Err(Error::Refused { hook, issues }) => {
            assert_eq!(hook, "limit");
            assert_eq!(issues, [Issue::at("n", "at most 10")]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rt.instance(i.id).unwrap(), i);
    write(&rt, i.id, json!({ "n": 3 })).await.unwrap();
    next(&rt, i.id, None).await.unwrap();
    next(&rt, i.id, Some("reject")).await.unwrap();
    next(&rt, i.id, None).await.unwrap();
    next(&rt, i.id, None).await.unwrap();
    assert_eq!(
        *seen.lock(),
        [
            "created", "fill", "confirm", "reject", "fill", "confirm", "ended"
        ]
    );
}

#[tokio::test]
async fn async_forms_may_hold_the_context_across_awaits() {
    let hook = hook_fn("async")
        .on_instance_created_async(|ctx| {
            Box::pin(async move {
                tokio::task::yield_now().await;
                ctx.set_data("model", json!({ "n": 0 }));
                Ok(())
            })
        })
        .on_task_started_async(|ctx, task| {
            Box::pin(async move {
                tokio::task::yield_now().await;
                let _ = (ctx.instance().id, &task.element_id);
                Ok(())
            })
        })
        .on_task_ending_async(|ctx, task, action| {
            Box::pin(async move {
                tokio::task::yield_now().await;
                let mut m = ctx.data("model")?.cloned().unwrap_or(json!({}));
                m[format!("{}_{action}", task.element_id)] = json!(true);
                ctx.set_data("model", m);
                Ok(())
            })
        })
        .on_task_abandoned_async(|_, _, _| {
            Box::pin(async move { Err(HookError::Failed("no abandoning here".into())) })
        })
        .on_data_written_async(|ctx, data_type| {
            Box::pin(async move {
                tokio::task::yield_now().await;
                let m = ctx.data(data_type)?.cloned();
                ctx.set_data(data_type, json!({ "was": m }));
                Ok(())
            })
        })
        .on_process_ended_async(|ctx| {
            Box::pin(async move {
                tokio::task::yield_now().await;
                ctx.set_data("receipt", json!({ "ok": true }));
                Ok(())
            })
        });
    let rt = runtime(registry().hook(hook)).await;
    let i = create(&rt).await.unwrap();
    assert_eq!(rt.data(i.id, &model()).unwrap(), Some(json!({ "n": 0 })));
    write(&rt, i.id, json!(1)).await.unwrap();
    assert_eq!(rt.data(i.id, &model()).unwrap(), Some(json!({ "was": 1 })));
    next(&rt, i.id, None).await.unwrap();
    assert_eq!(
        rt.data(i.id, &model()).unwrap(),
        Some(json!({ "was": 1, "fill_write": true }))
    );
    let before = rt.instance(i.id).unwrap();
    match next(&rt, i.id, Some("reject")).await {
        Err(Error::HookFailed { hook, detail }) => {
            assert_eq!(
                (hook.as_str(), detail.as_str()),
                ("async", "no abandoning here")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rt.instance(i.id).unwrap(), before);
    assert!(next(&rt, i.id, None).await.unwrap().is_ended());
    assert_eq!(
        rt.data(i.id, &DataTypeId::new("receipt")).unwrap(),
        Some(json!({ "ok": true }))
    );
}

#[tokio::test]
async fn gateway_fn_async_decides_and_a_wrong_pick_fails() {
    let picks = |flow: &'static str| {
        Registry::builder().gateway(
            app(),
            "g",
            gateway_fn_async(move |ctx| {
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    assert_eq!(ctx.gateway_id(), "g");
                    assert_eq!(ctx.candidates(), ["back", "done"]);
                    Ok(flow.to_string())
                })
            }),
        )
    };
    let rt = runtime(picks("back")).await;
    let i = create(&rt).await.unwrap();
    next(&rt, i.id, None).await.unwrap();
    let back = next(&rt, i.id, None).await.unwrap();
    assert_eq!(
        back.process.current_task().unwrap().element_id.as_str(),
        "fill"
    );

    let rt = runtime(picks("nowhere")).await;
    let i = create(&rt).await.unwrap();
    let i = next(&rt, i.id, None).await.unwrap();
    match next(&rt, i.id, None).await {
        Err(Error::HookFailed { detail, .. }) => assert!(detail.contains("nowhere"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rt.instance(i.id).unwrap(), i);
}

#[tokio::test]
async fn server_actions_write_data_and_answer() {
    let sync = server_action_fn(|ctx, task| {
        ctx.set_data("model", json!({ "calculated": task.element_id }));
        Ok(json!({ "sum": 3 }))
    });
    let rt = runtime(registry().server_action(Some(app()), "calc", sync)).await;
    let i = create(&rt).await.unwrap();
    let (after, result) = rt
        .server_action(i.id, "calc", None, Actor::user("01017012345"))
        .await
        .unwrap();
    assert_eq!(result, json!({ "sum": 3 }));
    assert_eq!(
        after.process, i.process,
        "a server action does not move the process"
    );
    assert_eq!(
        rt.data(i.id, &model()).unwrap(),
        Some(json!({ "calculated": "fill" }))
    );

    let refusing = server_action_fn_async(|ctx, _| {
        Box::pin(async move {
            tokio::task::yield_now().await;
            ctx.set_data("model", json!("never committed"));
            Err(HookError::rejected(Issue::new("not now")))
        })
    });
    let rt = runtime(registry().server_action(None, "calc", refusing)).await;
    let i = create(&rt).await.unwrap();
    let err = rt
        .server_action(i.id, "calc", None, Actor::user("01017012345"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    assert_eq!(rt.instance(i.id).unwrap(), i);
    assert_eq!(rt.data(i.id, &model()).unwrap(), None);
}

#[tokio::test]
async fn service_task_fn_owns_its_job_context() {
    let handler = service_task_fn(|job| async move {
        tokio::task::yield_now().await;
        if job.attempt < 2 {
            return ServiceTaskOutcome::RetryAfter {
                after: Duration::from_secs(7),
                reason: format!("attempt {} of {}", job.attempt, job.idempotency_key),
            };
        }
        ServiceTaskOutcome::done()
    });
    let rt = runtime(registry()).await;
    let instance = create(&rt).await.unwrap();
    let job = |attempt| JobContext {
        job: JobKey::new_random(),
        app: app(),
        element_id: "send".into(),
        idempotency_key: "key-1".into(),
        attempt,
        max_attempts: 3,
        instance: Arc::new(instance.clone()),
        data: Arc::default(),
        task: None,
        payload: None,
        app_spec: Arc::new(AppSpec::open(app())),
        timeout: Duration::from_secs(1),
    };
    assert_eq!(
        handler.execute(job(1)).await,
        ServiceTaskOutcome::RetryAfter {
            after: Duration::from_secs(7),
            reason: "attempt 1 of key-1".into()
        }
    );
    assert_eq!(handler.execute(job(2)).await, ServiceTaskOutcome::done());
}

#[test]
fn an_empty_fn_hook_names_itself_and_lists_no_points() {
    let hook = hook_fn("quiet");
    assert_eq!(
        format!("{hook:?}"),
        r#"FnHook { name: "quiet", points: [] }"#
    );
    let hook = on_task_ending(|_, _, _| Ok(())).on_process_ended(|_| Ok(()));
    assert_eq!(hook.name(), "on_task_ending");
    assert_eq!(
        format!("{hook:?}"),
        r#"FnHook { name: "on_task_ending", points: ["task_ending", "process_ended"] }"#
    );
}

#[tokio::test]
async fn a_point_set_twice_keeps_the_last_closure() {
    let hook = on_instance_created(|_| Err(HookError::Failed("first".into()))).on_instance_created(
        |ctx| {
            ctx.set_data("model", json!({"from": "second"}));
            Ok(())
        },
    );
    let rt = runtime(registry().hook(hook)).await;
    let i = create(&rt).await.unwrap();
    assert_eq!(
        rt.data(i.id, &model()).unwrap(),
        Some(json!({"from": "second"}))
    );
}
