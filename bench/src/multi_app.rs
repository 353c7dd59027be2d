//! A → B instance creations per second across two servers, end to end: users complete app A,
//! A's createInstance jobs obtain an organisation token and create B instances over HTTP.

use super::Row;
use flyt_api::demo::TwoServers;
use flyt_engine::runtime::Metrics;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// The two servers as both multi-app benchmarks start them: redb, no request limit.
pub(crate) async fn start(root: &Path, processes: &Path) -> Result<TwoServers, String> {
    TwoServers::start(processes, root, |c| {
        c.limits.concurrency = 100_000;
        c.storage.backend = flyt_engine::store::open::BackendKind::Redb;
    })
    .await
}

pub(crate) fn http() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())
}

/// `clients` users each create and submit their share of `n` applications in A (create, then
/// `next` twice), which queues A's createInstance job for each.
pub(crate) async fn submit(servers: &TwoServers, n: usize, clients: usize) -> Result<(), String> {
    let http = http()?;
    let issuer = servers.issuer.clone();
    let clients = clients.max(1);
    let per = n.div_ceil(clients);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, a, issuer) = (http.clone(), servers.a_url.clone(), issuer.clone());
        tasks.push(tokio::spawn(async move {
            let pid = format!("{:011}", 10_000_000_000u64 + c as u64);
            let r = http.post(format!("{issuer}/user-token")).json(&json!({ "pid": pid })).send().await.map_err(|e| e.to_string())?;
            let token = r.json::<serde_json::Value>().await.map_err(|e| e.to_string())?["access_token"].as_str().unwrap_or_default().to_string();
            for _ in (c * per)..((c + 1) * per).min(n) {
                let body = json!({ "data": { "application": { "applicant": { "name": "Bench" }, "amount": 1000, "purpose": "benchmark" } } });
                let r = http.post(format!("{a}/acme/grant-application/instances")).bearer_auth(&token).json(&body).send().await.map_err(|e| e.to_string())?;
                let url = r.headers().get("location").and_then(|v| v.to_str().ok()).ok_or("no location")?.to_string();
                for action in [None, Some("confirm")] {
                    let mut req = http.put(format!("{url}/process/next")).bearer_auth(&token);
                    if let Some(a) = action {
                        req = req.json(&json!({ "action": a }));
                    }
                    let r = req.send().await.map_err(|e| e.to_string())?;
                    if !r.status().is_success() {
                        return Err(format!("next: {}", r.status()));
                    }
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Waits (at most 600 s) until `counter` reaches `n`.
pub(crate) async fn until_count(counter: &AtomicU64, n: usize, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = Metrics::get(counter) as usize;
        if done >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("only {done} of {n} {what} in 600 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(
    processes: &Path,
    dir: &Path,
    n: usize,
    clients: usize,
) -> Result<Vec<Row>, String> {
    let servers = start(&dir.join("multi-app"), processes).await?;
    let started = Instant::now();
    submit(&servers, n, clients).await?;
    let submitted = started.elapsed().as_secs_f64();
    // Wait for A's jobs to create every B instance.
    until_count(
        &servers.a.runtime().metrics().jobs_completed,
        n,
        "B instances were created",
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let created = Metrics::get(&servers.b.runtime().metrics().instances_created) as usize;
    servers.stop().await;
    if created != n {
        return Err(format!(
            "B created {created} instances for {n} applications"
        ));
    }
    let v = format!("redb, {} users", clients.max(1));
    Ok(vec![
        Row::new(
            "multi-app",
            v.clone(),
            "A→B creations/s",
            n as f64 / elapsed,
            "1/s",
        ),
        Row::new(
            "multi-app",
            v,
            "A submissions/s",
            n as f64 / submitted,
            "1/s",
        ),
    ])
}
