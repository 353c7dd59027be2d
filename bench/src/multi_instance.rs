//! Multi-instance activities (issue 17): one instance whose parallel multi-instance user task
//! runs over a collection of `n` signers (each inner task assigned to its signer), on a durable
//! redb store. Measured: the create (one commit starting all `n` inner instances), completing
//! every inner instance one `next` at a time (each its own commit, by its assignee), and the
//! instance record's size as stored (format byte, revision, LZ4-compressed JSON) and as JSON,
//! with all inner tasks active. Every transition reads and writes the whole record, so a
//! completion costs O(n): the run at `n` is printed beside one at `n / 10` to show the ratio.

use super::Row;
use flyt_engine::app::AppSpec;
use flyt_engine::hooks::Registry;
use flyt_engine::ids::{AppId, DataTypeId};
use flyt_engine::model::{Actor, InstanceOwner, Party};
use flyt_engine::runtime::{CreateInstance, Next, Runtime, RuntimeConfig};
use flyt_engine::store::Store;
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::open::BackendKind;
use flyt_engine::time::{Clock, SystemClock};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:flyt:bench">
  <bpmn:process id="sign" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:userTask id="Sign">
      <bpmn:extensionElements><flyt:assignee person='["dataModel", "signer.pid", "multiInstance"]'/></bpmn:extensionElements>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:extensionElements><flyt:multiInstance collection='["dataModel", "signers", "model"]' elementVariable="signer"/></bpmn:extensionElements>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Sign"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Sign" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn pid(i: usize) -> String {
    format!("{:011}", 10_000_000_000u64 + i as u64)
}

pub async fn run(dir: &Path, n: usize) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for size in [(n / 10).max(1), n] {
        rows.extend(one(dir, size).await?);
    }
    Ok(rows)
}

async fn one(dir: &Path, n: usize) -> Result<Vec<Row>, String> {
    let store_dir = dir.join(format!("multi-instance-{n}"));
    let store = Store::open(
        BackendKind::Redb,
        &store_dir,
        64 << 20,
        GroupConfig::default(),
    )
    .map_err(err)?;
    let rt = Runtime::with(
        store,
        Registry::builder().build(),
        Arc::new(SystemClock) as Arc<dyn Clock>,
        RuntimeConfig::default(),
    );
    let app: AppId = "ttd/bench-sign".parse().map_err(err)?;
    rt.register_app(AppSpec::open(app.clone()));
    rt.deploy(&app, BPMN.as_bytes(), "bench")
        .await
        .map_err(err)?;
    let signers: Vec<_> = (0..n).map(|i| json!({ "pid": pid(i) })).collect();
    let owner = Party::person(&pid(0)).ok_or("bad pid")?;
    let started = Instant::now();
    let instance = rt
        .create_instance(CreateInstance {
            app: app.clone(),
            owner: InstanceOwner::new(owner),
            actor: Actor::user(pid(0)),
            data: BTreeMap::from([(DataTypeId::new("model"), json!({ "signers": signers }))]),
            start_event: None,
            idempotency: None,
        })
        .await
        .map_err(err)?
        .instance;
    let create = started.elapsed();
    let active = instance.process.active_tasks().count();
    if active != n {
        return Err(format!("{active} inner tasks active, not {n}"));
    }
    let stored = flyt_engine::store::codec::encode_revisioned(instance.version, &instance).len();
    let json_size = serde_json::to_vec(&instance).map_err(err)?.len();
    let started = Instant::now();
    let mut current = instance;
    for i in 0..n {
        let req = Next {
            instance: current.id,
            action: None,
            task: Some("Sign".into()),
            actor: Actor::user(pid(i)),
            expected_version: None,
            on_behalf_of: None,
        };
        let plan = rt.plan_next_inner(&current, &req, None).map_err(err)?;
        current = rt.next_planned(current, &plan, req).await.map_err(err)?;
    }
    let complete = started.elapsed();
    if current.process.ended.is_none() {
        return Err("the process did not end after every inner instance completed".into());
    }
    rt.store().shutdown();
    let v = format!("redb, parallel, {n} inner");
    Ok(vec![
        Row::new(
            "multi-instance",
            v.clone(),
            "create: all inner started (1 commit)",
            create.as_secs_f64() * 1000.0,
            "ms",
        ),
        Row::new(
            "multi-instance",
            v.clone(),
            "complete all inner (1 commit each)",
            complete.as_secs_f64() * 1000.0,
            "ms",
        ),
        Row::new(
            "multi-instance",
            v.clone(),
            "per inner completion",
            complete.as_secs_f64() * 1000.0 / n as f64,
            "ms",
        ),
        Row::new(
            "multi-instance",
            v.clone(),
            "instance record stored (LZ4)",
            stored as f64,
            "bytes",
        ),
        Row::new(
            "multi-instance",
            v,
            "instance record as JSON",
            json_size as f64,
            "bytes",
        ),
    ])
}
