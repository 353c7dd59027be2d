//! The crash-test driver: a process that moves many instances through a process with user
//! tasks, a service task run twice in sequence (multi-instance), gateways, parallel branches
//! and a parallel multi-instance user task of three inner instances, and prints `ACK <instance> <version>
//! <history_len>` after each commit returns. The crash test kills it with SIGKILL at random
//! moments and checks that every acknowledged transition survived.

use crate::app::AppSpec;
use crate::hooks::{JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome};
use crate::ids::{AppId, DataTypeId, InstanceId};
use crate::model::{Actor, InstanceOwner, Party};
use crate::runtime::worker::Worker;
use crate::runtime::{CreateInstance, Error, Next, Runtime, RuntimeConfig, WriteData};
use crate::store::Store;
use crate::store::group::GroupConfig;
use crate::store::open::BackendKind;
use crate::time::SystemClock;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// The process the driver runs.
pub const PROCESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1" id="crash">
<process id="crash">
<startEvent id="start"/>
<task id="fill"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
<serviceTask id="stamp" flyt:type="stamp"><multiInstanceLoopCharacteristics isSequential="true"><loopCardinality>2</loopCardinality></multiInstanceLoopCharacteristics></serviceTask>
<exclusiveGateway id="route" default="to_confirm"/>
<task id="confirm"><extensionElements><altinn:taskExtension><altinn:taskType>confirmation</altinn:taskType><altinn:actions><altinn:action>reject</altinn:action></altinn:actions></altinn:taskExtension></extensionElements></task>
<exclusiveGateway id="back" default="to_end1"/>
<parallelGateway id="fork"/>
<task id="p1"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
<task id="p2"><extensionElements><altinn:taskExtension><altinn:taskType>feedback</altinn:taskType></altinn:taskExtension></extensionElements><multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics></task>
<parallelGateway id="join"/>
<endEvent id="end1"/>
<endEvent id="end2"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
<sequenceFlow id="f2" sourceRef="fill" targetRef="stamp"/>
<sequenceFlow id="f3" sourceRef="stamp" targetRef="route"/>
<sequenceFlow id="to_confirm" sourceRef="route" targetRef="confirm"/>
<sequenceFlow id="to_fork" sourceRef="route" targetRef="fork"><conditionExpression>["equals", ["dataModel", "route", "model"], "par"]</conditionExpression></sequenceFlow>
<sequenceFlow id="f4" sourceRef="confirm" targetRef="back"/>
<sequenceFlow id="to_fill" sourceRef="back" targetRef="fill"><conditionExpression>["equals", ["gatewayAction"], "reject"]</conditionExpression></sequenceFlow>
<sequenceFlow id="to_end1" sourceRef="back" targetRef="end1"/>
<sequenceFlow id="a1" sourceRef="fork" targetRef="p1"/>
<sequenceFlow id="a2" sourceRef="fork" targetRef="p2"/>
<sequenceFlow id="b1" sourceRef="p1" targetRef="join"/>
<sequenceFlow id="b2" sourceRef="p2" targetRef="join"/>
<sequenceFlow id="f5" sourceRef="join" targetRef="end2"/>
</process>
</definitions>"#;

pub fn app() -> AppId {
    AppId::new("crash", "test").unwrap_or_else(|_| unreachable_app())
}

fn unreachable_app() -> AppId {
    // "crash/test" is a valid id; this exists only to avoid an unwrap.
    AppId::new("x", "y").unwrap_or_else(|e| panic!("{e}"))
}

struct Stamp;

#[async_trait::async_trait]
impl ServiceTaskHandler for Stamp {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        let mut completion = crate::hooks::Completion::default();
        completion.data.insert(
            DataTypeId::new("stamp"),
            serde_json::json!({ "key": ctx.idempotency_key }),
        );
        ServiceTaskOutcome::Completed(completion)
    }
}

fn ack(id: InstanceId, version: u64, history_len: u32) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ACK {id} {version} {history_len}");
    let _ = out.flush();
}

/// `flyt-crash-driver <backend> <dir> <seed>`: runs until killed.
pub fn main_with_args(args: &[String]) -> std::process::ExitCode {
    let (Some(kind), Some(dir), Some(seed)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: flyt-crash-driver <memory|sled|redb> <dir> <seed>");
        return std::process::ExitCode::from(2);
    };
    let (Ok(kind), Ok(seed)) = (kind.parse::<BackendKind>(), seed.parse::<u64>()) else {
        eprintln!("bad backend or seed");
        return std::process::ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(drive(kind, PathBuf::from(dir), seed)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("driver failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn drive(kind: BackendKind, dir: PathBuf, seed: u64) -> Result<(), String> {
    let store =
        Store::open(kind, &dir, 16 << 20, GroupConfig::default()).map_err(|e| e.to_string())?;
    let registry = Registry::builder().service_task("stamp", Stamp).build();
    let rt = Runtime::with(
        store,
        registry,
        Arc::new(SystemClock),
        RuntimeConfig::default(),
    );
    rt.register_app(AppSpec::open(app()));
    rt.deploy(&app(), PROCESS.as_bytes(), "crash")
        .await
        .map_err(|e| e.to_string())?;
    let _worker = Worker::spawn(rt.clone());
    // Continue the instances an earlier life left unfinished, then start new ones.
    let existing: Vec<InstanceId> = rt
        .list_instances(&app(), None, None, 100_000)
        .map_err(|e| e.to_string())?
        .instances
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let existing = Arc::new(parking_lot::Mutex::new(existing));
    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let (rt, existing) = (rt.clone(), existing.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(31).wrapping_add(worker));
            loop {
                let next = existing.lock().pop();
                let id = match next {
                    Some(id) => id,
                    None => match create(&rt, &mut rng).await {
                        Ok(id) => id,
                        Err(e) => return Err(e),
                    },
                };
                run_to_end(&rt, id, &mut rng).await?;
            }
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

async fn create(rt: &Runtime, rng: &mut fastrand::Rng) -> Result<InstanceId, String> {
    let mut data = BTreeMap::new();
    let route = if rng.bool() { "par" } else { "seq" };
    data.insert(
        DataTypeId::new("model"),
        serde_json::json!({ "route": route }),
    );
    let party = Party::person("01017012345").ok_or("bad party")?;
    let created = rt
        .create_instance(CreateInstance {
            app: app(),
            owner: InstanceOwner::new(party),
            actor: Actor::user("01017012345"),
            data,
            start_event: None,
            idempotency: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    let i = created.instance;
    ack(i.id, i.version, i.history_len);
    Ok(i.id)
}

async fn run_to_end(rt: &Runtime, id: InstanceId, rng: &mut fastrand::Rng) -> Result<(), String> {
    for _ in 0..200 {
        let instance = rt.instance(id).map_err(|e| e.to_string())?;
        if instance.is_ended() {
            return Ok(());
        }
        let tasks: Vec<String> = instance
            .process
            .user_task_tokens()
            .map(|(_, t)| t.element_id.to_string())
            .collect();
        if tasks.is_empty() {
            // Waiting for the service task's job: let the worker run.
            tokio::task::yield_now().await;
            continue;
        }
        let task = tasks[rng.usize(..tasks.len())].clone();
        let result = if rng.u8(..4) == 0 {
            rt.write_data(WriteData {
                instance: id,
                data_type: DataTypeId::new("model"),
                value: serde_json::json!({ "route": if rng.bool() { "par" } else { "seq" }, "n": rng.u32(..) }),
                actor: Actor::user("01017012345"),
                expected_version: None,
            })
            .await
        } else {
            let action = (task == "confirm" && rng.u8(..3) == 0).then(|| "reject".to_string());
            let req = Next {
                instance: id,
                action,
                task: Some(task),
                actor: Actor::user("01017012345"),
                expected_version: None,
                on_behalf_of: None,
            };
            // At `p2` (multi-instance) name one of the active inner instances at random.
            match rt.plan_next(&instance, &req) {
                Err(Error::InnerInstanceRequired { active, .. }) => {
                    let inner = active[rng.usize(..active.len())];
                    match rt.plan_next_inner(&instance, &req, Some(inner)) {
                        Ok(plan) => rt.next_planned(instance, &plan, req).await,
                        Err(e) => Err(e),
                    }
                }
                Ok(plan) => rt.next_planned(instance, &plan, req).await,
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(i) => ack(i.id, i.version, i.history_len),
            // The job worker moved the instance at the same time: read again.
            Err(Error::Conflict) | Err(Error::TaskNotActive { .. }) => {}
            Err(e) => return Err(format!("{id}: {e}")),
        }
    }
    Ok(())
}
