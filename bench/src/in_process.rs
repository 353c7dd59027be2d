//! The approval process run in-process: start → data task (Fill) → exclusive gateway on the
//! claim's amount → Confirm or ManagerSign → end; per backend, with many concurrent drivers so
//! that commits are grouped.

use super::{Row, ms, percentiles};
use flyt_engine::hooks::Registry;
use flyt_engine::ids::DataTypeId;
use flyt_engine::model::{Actor, InstanceOwner, Party};
use flyt_engine::runtime::{CreateInstance, Next, Runtime, RuntimeConfig};
use flyt_engine::store::Store;
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::open::BackendKind;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn runtime_for(
    processes: &Path,
    kind: BackendKind,
    dir: &Path,
) -> Result<(Runtime, flyt_engine::ids::AppId), String> {
    let app = flyt_api::apps::load(&processes.join("ttd/approval")).map_err(|e| {
        e.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let store = match kind {
        BackendKind::Memory => Store::memory(),
        _ => Store::open(
            kind,
            &dir.join(kind.as_str()),
            64 << 20,
            GroupConfig::default(),
        )
        .map_err(|e| e.to_string())?,
    };
    let rt = Runtime::with(
        store,
        Registry::builder().build(),
        Arc::new(flyt_engine::time::SystemClock),
        RuntimeConfig::default(),
    );
    rt.register_app(app.spec.clone());
    rt.deploy(&app.id, &app.bpmn, "bench")
        .await
        .map_err(|e| e.to_string())?;
    Ok((rt, app.id))
}

/// Drives one approval instance from creation to its end: 3 transitions.
pub async fn one_instance(
    rt: &Runtime,
    app: &flyt_engine::ids::AppId,
    i: usize,
    latencies: &mut Vec<Duration>,
) -> Result<(), String> {
    let pid = format!("{:011}", 10_000_000_000u64 + (i as u64 % 1000));
    let owner = InstanceOwner::new(Party::person(&pid).ok_or("bad pid")?);
    let actor = Actor::user(pid.clone());
    let amount = if i.is_multiple_of(2) { 500 } else { 50_000 };
    let mut data = BTreeMap::new();
    data.insert(
        DataTypeId::new("claim"),
        serde_json::json!({ "amount": amount, "currency": "NOK" }),
    );
    let t = Instant::now();
    let created = rt
        .create_instance(CreateInstance {
            app: app.clone(),
            owner,
            actor: actor.clone(),
            data,
            start_event: None,
            idempotency: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    latencies.push(t.elapsed());
    let id = created.instance.id;
    let t = Instant::now();
    rt.next(Next {
        instance: id,
        action: None,
        task: None,
        actor: actor.clone(),
        expected_version: None,
        on_behalf_of: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    latencies.push(t.elapsed());
    let action = if amount > 10_000 { "sign" } else { "confirm" };
    let t = Instant::now();
    let done = rt
        .next(Next {
            instance: id,
            action: Some(action.into()),
            task: None,
            actor,
            expected_version: None,
            on_behalf_of: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    latencies.push(t.elapsed());
    if !done.is_ended() {
        return Err(format!("instance {id} did not end"));
    }
    Ok(())
}

pub async fn run(
    processes: &Path,
    dir: &Path,
    n: usize,
    clients: usize,
    only: &[BackendKind],
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for kind in [BackendKind::Memory, BackendKind::Redb, BackendKind::Sled] {
        if !only.is_empty() && !only.contains(&kind) {
            continue;
        }
        let (rt, app) = runtime_for(processes, kind, dir).await?;
        let started = Instant::now();
        let mut tasks = Vec::new();
        let per = n.div_ceil(clients.max(1));
        for c in 0..clients.max(1) {
            let (rt, app) = (rt.clone(), app.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per * 3);
                for i in (c * per)..((c + 1) * per).min(n) {
                    one_instance(&rt, &app, i, &mut latencies).await?;
                }
                Ok::<_, String>(latencies)
            }));
        }
        let mut all = Vec::with_capacity(n * 3);
        for t in tasks {
            all.extend(t.await.map_err(|e| e.to_string())??);
        }
        let elapsed = started.elapsed().as_secs_f64();
        let stats = rt.store().stats();
        rt.store().shutdown();
        let (p50, p99, max) = percentiles(&mut all);
        let v = format!("{} x{clients}", kind.as_str());
        rows.push(Row::new(
            "in-process",
            v.clone(),
            "instances/s",
            n as f64 / elapsed,
            "1/s",
        ));
        rows.push(Row::new(
            "in-process",
            v.clone(),
            "transitions/s",
            (n * 3) as f64 / elapsed,
            "1/s",
        ));
        rows.push(Row::new(
            "in-process",
            v.clone(),
            "commits per fsync",
            stats.units as f64 / stats.batches.max(1) as f64,
            "units",
        ));
        rows.push(Row::new(
            "in-process",
            v.clone(),
            "transition p50",
            ms(p50),
            "ms",
        ));
        rows.push(Row::new(
            "in-process",
            v.clone(),
            "transition p99",
            ms(p99),
            "ms",
        ));
        rows.push(Row::new("in-process", v, "transition max", ms(max), "ms"));
    }
    Ok(rows)
}
