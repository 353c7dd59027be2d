//! The approval process through the HTTP API: real JWT authentication, K concurrent clients on
//! loopback, durable storage (redb: a 2xx means the transition is on disk; postgres, with
//! `--backend postgres` and the database in `FLYT_DATABASE_URL`: a 2xx means it is committed
//! there).

use super::{Row, ms, percentiles};
use flyt_api::config::ServerConfig;
use flyt_api::server::ServerBuilder;
use flyt_engine::store::open::BackendKind;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

pub async fn run(
    processes: &Path,
    dir: &Path,
    n: usize,
    clients: usize,
    only: &[BackendKind],
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for kind in [BackendKind::Redb, BackendKind::Postgres] {
        let wanted = if only.is_empty() {
            kind == BackendKind::Redb
        } else {
            only.contains(&kind)
        };
        if wanted {
            rows.extend(run_on(kind, processes, dir, n, clients).await?);
        }
    }
    Ok(rows)
}

async fn run_on(
    kind: BackendKind,
    processes: &Path,
    dir: &Path,
    n: usize,
    clients: usize,
) -> Result<Vec<Row>, String> {
    let mut config = ServerConfig::development();
    config.processes_dir = processes.to_path_buf();
    config.storage.backend = kind;
    if kind == BackendKind::Postgres {
        config.storage.url = Some(std::env::var("FLYT_DATABASE_URL").map_err(|_| {
            "rest --backend postgres: set FLYT_DATABASE_URL to an (empty) database".to_string()
        })?);
    }
    config.storage.data_dir = dir.join("rest");
    config.limits.concurrency = 100_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = ServerBuilder::new(config)
        .build(addr)
        .await
        .map_err(|e| e.to_string())?;
    let authority = server.state.inner.authority.clone().ok_or("no authority")?;
    let state = server.state.clone();
    let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(server.serve(listener, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let clients = clients.max(1);
    let per = n.div_ceil(clients);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let pid = format!("{:011}", 10_000_000_000u64 + c as u64);
        let token = authority.user_token(&pid, &[], &[])?;
        let (http, base) = (http.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per * 3);
            for i in (c * per)..((c + 1) * per).min(n) {
                let body = json!({ "data": { "claim": { "amount": 100 + (i % 9000), "currency": "NOK" } } });
                let t = Instant::now();
                let r = http.post(format!("{base}/ttd/approval/instances")).bearer_auth(&token).json(&body).send().await.map_err(|e| e.to_string())?;
                if r.status() != 201 {
                    return Err(format!("create: {}", r.status()));
                }
                let url = r.headers().get("location").and_then(|v| v.to_str().ok()).ok_or("no location")?.to_string();
                let _ = r.bytes().await;
                latencies.push(t.elapsed());
                for action in [None, Some("confirm")] {
                    let t = Instant::now();
                    let mut req = http.put(format!("{url}/process/next")).bearer_auth(&token);
                    if let Some(a) = action {
                        req = req.json(&json!({ "action": a }));
                    }
                    let r = req.send().await.map_err(|e| e.to_string())?;
                    if r.status() != 200 {
                        return Err(format!("next: {} {}", r.status(), r.text().await.unwrap_or_default()));
                    }
                    let _ = r.bytes().await;
                    latencies.push(t.elapsed());
                }
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(n * 3);
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = state.runtime().store().stats();
    let _ = stop.send(true);
    let _ = serving.await;
    let (p50, p99, max) = percentiles(&mut all);
    let v = format!("{kind}, {clients} clients");
    Ok(vec![
        Row::new("rest", v.clone(), "instances/s", n as f64 / elapsed, "1/s"),
        Row::new(
            "rest",
            v.clone(),
            "requests/s",
            (n * 3) as f64 / elapsed,
            "1/s",
        ),
        Row::new("rest", v.clone(), "request p50", ms(p50), "ms"),
        Row::new("rest", v.clone(), "request p99", ms(p99), "ms"),
        Row::new("rest", v.clone(), "request max", ms(max), "ms"),
        Row::new(
            "rest",
            v,
            "commits per fsync",
            stats.units as f64 / stats.batches.max(1) as f64,
            "units",
        ),
    ])
}
