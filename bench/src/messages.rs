//! Message correlations over authenticated REST (issue 16). A server (redb: a 2xx means the
//! commit is on disk) with an app whose instances wait at a receive task correlated on their
//! instance id; `n` such instances are created first (through the runtime, 64 at a time, not
//! timed). Then `clients` HTTP clients, each with an organisation token the app's policy lets
//! publish, publish one message per instance (`POST /ttd/inbox/messages` with a `messageId`);
//! each answer must be 200 `correlated`, and every instance must have ended. Correlations per
//! second and the publish latency.

use super::{Row, ms, percentiles};
use flyt_api::config::ServerConfig;
use flyt_api::server::ServerBuilder;
use flyt_engine::ids::AppId;
use flyt_engine::model::{Actor, InstanceOwner, Party};
use flyt_engine::runtime::CreateInstance;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const APP_TOML: &str = r#"title = "Waits for a message"
owner_types = ["person"]

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate"]

[[rules]]
subjects = ["org:ttd"]
actions = ["publish"]
messages = ["go"]
"#;

const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:flyt:bench">
  <bpmn:message id="Go" name="go">
    <bpmn:extensionElements><flyt:subscription correlationKey='["instanceContext", "instanceId"]'/></bpmn:extensionElements>
  </bpmn:message>
  <bpmn:process id="inbox" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:receiveTask id="Wait" messageRef="Go"/>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Wait" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

/// The organisation number the publishers' token carries (its `urn:altinn:org` is ttd).
const ORG_NUMBER: &str = "991825827";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub async fn run(dir: &Path, n: usize, clients: usize) -> Result<Vec<Row>, String> {
    let base = dir.join("messages");
    let app_dir = base.join("apps").join("ttd").join("inbox");
    std::fs::create_dir_all(&app_dir).map_err(err)?;
    std::fs::write(app_dir.join("app.toml"), APP_TOML).map_err(err)?;
    std::fs::write(app_dir.join("process.bpmn"), BPMN).map_err(err)?;
    let mut config = ServerConfig::development();
    config.processes_dir = base.join("apps");
    config.storage.backend = flyt_engine::store::open::BackendKind::Redb;
    config.storage.data_dir = base.join("data");
    config.limits.concurrency = 100_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    let server = ServerBuilder::new(config).build(addr).await.map_err(err)?;
    let authority = server.state.inner.authority.clone().ok_or("no authority")?;
    let state = server.state.clone();
    let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(server.serve(listener, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let result = async {
        let rt = state.runtime();
        let app: AppId = "ttd/inbox".parse().map_err(|e| format!("{e:?}"))?;
        // The waiting instances, by correlation key (their Altinn id).
        let keys = precreate(rt, &app, n).await?;
        let before = rt.store().stats();
        let token = authority.org_token(ORG_NUMBER, Some("ttd"), &[], None)?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(err)?;
        let clients = clients.max(1);
        let per = n.div_ceil(clients);
        let url = format!("http://{addr}/ttd/inbox/messages");
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let mine: Vec<String> = keys.iter().skip(c * per).take(per).cloned().collect();
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(mine.len());
                for key in mine {
                    let body = json!({ "name": "go", "correlationKey": key, "messageId": format!("go-{key}") });
                    let t = Instant::now();
                    let r = http.post(&url).bearer_auth(&token).json(&body).send().await.map_err(err)?;
                    let status = r.status();
                    let answer: Value = r.json().await.map_err(err)?;
                    if status != 200 || answer["outcome"] != "correlated" {
                        return Err(format!("publish: {status} {answer}"));
                    }
                    latencies.push(t.elapsed());
                }
                Ok::<_, String>(latencies)
            }));
        }
        let mut all = Vec::with_capacity(n);
        for t in tasks {
            all.extend(t.await.map_err(err)??);
        }
        let elapsed = started.elapsed().as_secs_f64();
        let after = rt.store().stats();
        let open = rt.message_subscriptions(&app, 1).map_err(err)?;
        if !open.is_empty() {
            return Err("a subscription is still open after every message".into());
        }
        let (p50, p99, max) = percentiles(&mut all);
        let units = after.units.saturating_sub(before.units);
        let batches = after.batches.saturating_sub(before.batches);
        let v = format!("redb, {clients} clients");
        Ok(vec![
            Row::new("messages", v.clone(), "correlations/s", n as f64 / elapsed, "1/s"),
            Row::new("messages", v.clone(), "publish p50", ms(p50), "ms"),
            Row::new("messages", v.clone(), "publish p99", ms(p99), "ms"),
            Row::new("messages", v.clone(), "publish max", ms(max), "ms"),
            Row::new(
                "messages",
                v,
                "commits per fsync",
                units as f64 / batches.max(1) as f64,
                "units",
            ),
        ])
    }
    .await;
    let _ = stop.send(true);
    let _ = serving.await;
    result
}

/// Creates `n` instances waiting at the receive task, 64 at a time; returns their keys.
async fn precreate(
    rt: &flyt_engine::runtime::Runtime,
    app: &AppId,
    n: usize,
) -> Result<Vec<String>, String> {
    let drivers = 64.min(n.max(1));
    let per = n.div_ceil(drivers);
    let mut tasks = Vec::new();
    for d in 0..drivers {
        let (rt, app) = (rt.clone(), app.clone());
        let count = per.min(n.saturating_sub(d * per));
        tasks.push(tokio::spawn(async move {
            let pid = format!("{:011}", 10_000_000_000u64 + d as u64);
            let owner = InstanceOwner::new(Party::person(&pid).ok_or("a bad person number")?);
            let mut keys = Vec::with_capacity(count);
            for _ in 0..count {
                let created = rt
                    .create_instance(CreateInstance {
                        app: app.clone(),
                        owner: owner.clone(),
                        actor: Actor::user(&pid),
                        data: BTreeMap::new(),
                        start_event: None,
                        idempotency: None,
                    })
                    .await
                    .map_err(err)?;
                keys.push(created.instance.altinn_id());
            }
            Ok::<_, String>(keys)
        }));
    }
    let mut keys = Vec::with_capacity(n);
    for t in tasks {
        keys.extend(t.await.map_err(err)??);
    }
    Ok(keys)
}
