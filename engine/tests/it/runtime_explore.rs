//! Runs real definitions from start to end: every Altinn conformance file and every example app
//! under `processes/`, choosing actions and data so that every gateway branch is taken at least
//! once. Service tasks run with a stub handler that completes them.

use crate::rt::*;
use crate::support::shared_dir;
use async_trait::async_trait;
use flyt_engine::app::AppSpec;
use flyt_engine::bpmn::ProcessDefinition;
use flyt_engine::bpmn::elements::NodeKind;
use flyt_engine::bpmn::elements::timer::{TimerKind, TimerValue};
use flyt_engine::hooks::{JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome};
use flyt_engine::ids::DataTypeId;
use flyt_engine::runtime::worker::Worker;
use flyt_engine::runtime::{Error, PublishMessage, WriteData, instance_subscriptions};
use flyt_engine::store::Store;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Completes every service task; about one completion in three names `reject` as the gateway
/// action (a handler may steer the gateways after its task), so that branches after service
/// tasks are taken too. Seeded, so runs are repeatable.
struct Stub(std::sync::Mutex<fastrand::Rng>);

#[async_trait]
impl ServiceTaskHandler for Stub {
    async fn execute(&self, _ctx: JobContext) -> ServiceTaskOutcome {
        let reject = self.0.lock().unwrap().u8(..3) == 0;
        let action = reject.then(|| "reject".to_string());
        ServiceTaskOutcome::Completed(flyt_engine::hooks::Completion {
            action,
            ..Default::default()
        })
    }
}

fn stub() -> Stub {
    Stub(std::sync::Mutex::new(fastrand::Rng::with_seed(11)))
}

/// Flows leaving exclusive gateways: what the exploration must cover. A default flow beside an
/// unconditioned non-default flow is excluded: the unconditioned flow always matches, so the
/// default can never be taken (validation warns `unconditioned-flow` about exactly this).
fn branches(def: &ProcessDefinition) -> BTreeSet<String> {
    let mut wanted = BTreeSet::new();
    for (idx, node) in def.nodes() {
        let NodeKind::ExclusiveGateway(g) = &node.kind else {
            continue;
        };
        if node.outgoing.len() < 2 {
            continue;
        }
        let shadowed = node
            .outgoing
            .iter()
            .any(|&f| Some(f) != g.default && def.flow(f).condition.is_none());
        for &f in &node.outgoing {
            if shadowed && Some(f) == g.default {
                continue;
            }
            wanted.insert(def.flow(f).id.to_string());
        }
        let _ = idx;
    }
    wanted
}

/// The data paths conditions read: (data type, path, candidate values). The data type is the
/// expression's own, or the gateway's connected one, or "model". Candidates are the literals in
/// the conditions, numbers one either side of them, and the booleans, so that random choices
/// make every comparison go both ways.
fn data_refs(def: &ProcessDefinition) -> Vec<(String, String, Vec<serde_json::Value>)> {
    let mut refs: Vec<(String, String, Vec<serde_json::Value>)> = Vec::new();
    for (_, flow) in def.flows() {
        let Some(cond) = &flow.condition else {
            continue;
        };
        let connected = def
            .exclusive_gateway(flow.source)
            .and_then(|g| g.connected_data_type.clone());
        let mut literals = vec![serde_json::json!(true), serde_json::json!(false)];
        collect_literals(&cond.expr.to_json(), &mut literals);
        for r in cond.expr.data_model_refs() {
            let dt = r
                .data_type
                .or(connected.as_ref().map(|c| c.to_string()))
                .unwrap_or_else(|| "model".into());
            match refs.iter_mut().find(|(d, p, _)| *d == dt && *p == r.path) {
                Some((_, _, values)) => values.extend(literals.iter().cloned()),
                None => refs.push((dt, r.path, literals.clone())),
            }
        }
    }
    // Timers whose value is read from the data (a deadline field): a value of the right kind,
    // far enough ahead that the manual clock never reaches it.
    for (_, node) in def.nodes() {
        let timer = match &node.kind {
            NodeKind::TimerCatch(c) => &c.timer,
            NodeKind::Boundary(b) => &b.timer,
            _ => continue,
        };
        let TimerValue::Expression { expr, kind, .. } = &timer.value else {
            continue;
        };
        let value = match kind {
            TimerKind::Date => serde_json::json!("2100-01-01T00:00:00Z"),
            TimerKind::Duration => serde_json::json!("P365D"),
            TimerKind::Cycle => serde_json::json!("R1/P365D"),
        };
        for r in expr.data_model_refs() {
            let dt = r.data_type.unwrap_or_else(|| "model".into());
            refs.push((dt, r.path, vec![value.clone()]));
        }
    }
    refs
}

fn collect_literals(expr: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match expr {
        serde_json::Value::Array(items) => {
            for item in items.iter().skip(1) {
                collect_literals(item, out);
            }
        }
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.extend([
                    serde_json::json!(f - 1.0),
                    serde_json::json!(f),
                    serde_json::json!(f + 1.0),
                ]);
            }
        }
        other => out.push(other.clone()),
    }
}

fn set_path(root: &mut serde_json::Value, path: &str, value: serde_json::Value) {
    let mut cur = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = serde_json::json!({});
        }
        let map = cur.as_object_mut().unwrap();
        if i == parts.len() - 1 {
            map.insert(part.to_string(), value);
            return;
        }
        cur = map.entry(part.to_string()).or_insert(serde_json::json!({}));
    }
}

/// Which gateway flows a finished instance took, read from its definition and history: a
/// gateway flow was taken when its source gateway was passed between the task it left and the
/// element entered next. We record it directly instead by replaying decisions (see below).
async fn explore(name: &str, bpmn: &str) {
    let registry = Registry::builder()
        .service_task("pdf", stub())
        .service_task("eFormidling", stub())
        .service_task("fail", stub())
        .service_task("confirm", stub())
        .service_task("createInstance", stub())
        .service_task("sendMessage", stub())
        .build();
    // A service owner for the instances of timer start events (`ttd/monthly-report`).
    let app = AppSpec::open(app_id())
        .with_service_owner(flyt_engine::model::Party::organisation("974760673").unwrap());
    let h = Harness::with(bpmn, Store::memory(), registry, app).await;
    let worker = Worker::spawn(h.rt.clone());
    let (_, def) = h.rt.latest_definition(&h.app).unwrap();
    let wanted = branches(&def);
    let refs = data_refs(&def);
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut rng = fastrand::Rng::with_seed(7);

    for run in 0..60 {
        if covered.is_superset(&wanted) && run > 0 {
            break;
        }
        let instance = h.create().await;
        let id = instance.id;
        let mut moves = 0;
        loop {
            let instance = wait_for_user_task_or_end(&h, id).await;
            if instance.is_ended() {
                break;
            }
            moves += 1;
            assert!(moves < 60, "{name}: instance {id} did not end in 60 moves");
            // Waiting for a message (a receive task, e.g. the answer of another app): publish
            // it, with random data for the conditions that read its data type.
            if instance.process.user_task_tokens().next().is_none() {
                let sub = instance_subscriptions(&instance).remove(0);
                let node = def.node(def.node_by_id(sub.element.as_str()).unwrap());
                let NodeKind::MessageCatch(catch) = &node.kind else {
                    panic!(
                        "{name}: {} waits for a message but is no catch",
                        sub.element
                    )
                };
                let mut data = serde_json::json!({});
                if let Some(dt) = &catch.subscription.data_type {
                    for (ref_dt, path, candidates) in &refs {
                        if ref_dt == dt.as_str() {
                            let value = candidates[rng.usize(..candidates.len())].clone();
                            set_path(&mut data, path, value);
                        }
                    }
                }
                let published =
                    h.rt.publish_message(
                        &h.app,
                        PublishMessage {
                            name: sub.message.clone(),
                            correlation_key: sub.correlation_key.clone(),
                            message_id: None,
                            data: Some(data),
                            time_to_live: None,
                        },
                        user(),
                    )
                    .await;
                if let Err(e) = published {
                    panic!("{name}: publishing {} failed: {e}", sub.message);
                }
                continue;
            }
            let (_, task) = instance
                .process
                .user_task_tokens()
                .next()
                .map(|(t, i)| (t.id, i.element_id.to_string()))
                .unwrap();
            let node = def.node(def.node_by_id(&task).unwrap());
            let NodeKind::UserTask(user_task) = &node.kind else {
                panic!()
            };
            let mut actions: Vec<String> = user_task.process_actions();
            // Late in a run, stop going back so that every run ends.
            if moves > 20 {
                actions.retain(|a| a != "reject");
            }
            let mut moved = false;
            // Random data for every condition's data path, then the actions in random order; a
            // combination no gateway accepts must leave the instance untouched, and another is tried.
            for _ in 0..20 {
                for (dt, path, candidates) in &refs {
                    // Signed data is locked: it keeps the value it was signed with.
                    if instance.locked_by(&DataTypeId::new(dt.as_str())).is_some() {
                        continue;
                    }
                    let mut value =
                        h.rt.data(id, &DataTypeId::new(dt.as_str()))
                            .unwrap()
                            .unwrap_or(serde_json::json!({}));
                    set_path(
                        &mut value,
                        path,
                        candidates[rng.usize(..candidates.len())].clone(),
                    );
                    let written =
                        h.rt.write_data(WriteData {
                            instance: id,
                            data_type: DataTypeId::new(dt.as_str()),
                            value,
                            actor: user(),
                            expected_version: None,
                        })
                        .await;
                    if let Err(e) = written {
                        panic!("{name}: writing {dt}.{path} failed: {e}");
                    }
                }
                rng.shuffle(&mut actions);
                let before = h.rt.instance(id).unwrap();
                let before_history = h.rt.history(id).unwrap();
                for action in &actions {
                    match h.next(id, Some(action), Some(&task)).await {
                        Ok(_) => {
                            moved = true;
                            break;
                        }
                        Err(Error::Gateway { .. }) => {
                            assert_eq!(
                                h.rt.instance(id).unwrap(),
                                before,
                                "{name}: a failed move changed the instance"
                            );
                            assert_eq!(h.rt.history(id).unwrap(), before_history);
                        }
                        Err(e) => panic!("{name}: next({action}) on {task}: {e}"),
                    }
                }
                if moved {
                    break;
                }
            }
            assert!(moved, "{name}: no action of {actions:?} could move {task}");
        }
        covered.extend(taken_flows(&h, id, &def));
    }
    worker.stop(Duration::from_secs(5)).await;
    let missing: Vec<&String> = wanted.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "{name}: gateway branches never taken: {missing:?}"
    );
}

/// Reconstructs which gateway flows an instance took from its history: between consecutive
/// "left element A" and "entered element B" events, the path A → gateways → B is unique in
/// these definitions, so the flows on it were taken.
fn taken_flows(
    h: &Harness,
    id: flyt_engine::ids::InstanceId,
    def: &ProcessDefinition,
) -> BTreeSet<String> {
    let history = h.rt.history(id).unwrap();
    let mut taken = BTreeSet::new();
    let mut from: Option<String> = None;
    for e in &history {
        let Some(el) = &e.element_id else { continue };
        match e.event_type.as_str() {
            "process_StartEvent"
            | "process_EndTask"
            | "process_AbandonTask"
            | "flyt_MessageCorrelated" => from = Some(el.to_string()),
            "process_StartTask" | "process_EndEvent" => {
                if let Some(a) = from.take() {
                    paths(def, &a, el.as_str(), &mut taken);
                }
            }
            _ => {}
        }
    }
    taken
}

fn paths(def: &ProcessDefinition, from: &str, to: &str, out: &mut BTreeSet<String>) {
    // Depth-first over gateways only, collecting flows on any path from `from` to `to`.
    fn walk(
        def: &ProcessDefinition,
        node: flyt_engine::bpmn::elements::NodeIdx,
        to: &str,
        trail: &mut Vec<String>,
        out: &mut BTreeSet<String>,
        depth: usize,
    ) {
        if depth > 12 {
            return;
        }
        for &f in &def.node(node).outgoing {
            let flow = def.flow(f);
            let target = def.node(flow.target);
            trail.push(flow.id.to_string());
            if target.id == to {
                out.extend(trail.iter().cloned());
            } else if target.kind.is_gateway() {
                walk(def, flow.target, to, trail, out, depth + 1);
            }
            trail.pop();
        }
    }
    if let Some(n) = def.node_by_id(from) {
        walk(def, n, to, &mut Vec::new(), out, 0);
    }
}

async fn wait_for_user_task_or_end(
    h: &Harness,
    id: flyt_engine::ids::InstanceId,
) -> flyt_engine::model::Instance {
    // Service tasks complete on the worker; poll with a deadline (never a bare sleep).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let instance = h.rt.instance(id).unwrap();
        if instance.is_ended()
            || instance.process.user_task_tokens().next().is_some()
            || !instance_subscriptions(&instance).is_empty()
        {
            return instance;
        }
        assert!(
            instance.process.incidents.is_empty(),
            "incident: {:?}",
            instance.process.incidents
        );
        assert!(
            std::time::Instant::now() < deadline,
            "instance {id} is stuck at {:?}",
            instance.process.tokens
        );
        tokio::task::yield_now().await;
    }
}

fn bpmn_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bpmn"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_altinn_conformance_file_runs_to_the_end_through_every_branch() {
    let Some(shared) =
        shared_dir("every_altinn_conformance_file_runs_to_the_end_through_every_branch")
    else {
        return;
    };
    let files = bpmn_files(&shared.join("conformance/altinn"));
    assert_eq!(files.len(), 11);
    for file in files {
        let bpmn = std::fs::read_to_string(&file).unwrap();
        explore(
            &file.file_name().unwrap().to_string_lossy(),
            bpmn.trim_start_matches('\u{feff}'),
        )
        .await;
    }
}

#[tokio::test]
async fn every_example_app_runs_to_the_end_through_every_branch() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../processes");
    let mut count = 0;
    let mut altinn_layout = 0;
    for org in std::fs::read_dir(&root).unwrap() {
        for app in std::fs::read_dir(org.unwrap().path()).unwrap() {
            let dir = app.unwrap().path();
            // flyt's layout, or an Altinn app repository's own.
            let path = [
                dir.join("process.bpmn"),
                dir.join("App/config/process/process.bpmn"),
            ]
            .into_iter()
            .find(|p| p.exists());
            // A call across apps needs the app it calls beside it: that pair runs through both
            // of its branches in `api/tests/api/call_activities.rs` and end to end in
            // `tests/e2e/calls.rs`.
            let path = path.filter(|p| {
                !std::fs::read_to_string(p)
                    .unwrap()
                    .contains("<flyt:calledElement app=")
            });
            if let Some(path) = path {
                altinn_layout += usize::from(path.ends_with("App/config/process/process.bpmn"));
                explore(
                    &path.display().to_string(),
                    &std::fs::read_to_string(&path).unwrap(),
                )
                .await;
                count += 1;
            }
        }
    }
    assert!(count >= 1, "no example apps under {}", root.display());
    assert!(altinn_layout >= 1, "no example app in Altinn's layout");
}
