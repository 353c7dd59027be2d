//! PostgreSQL with real `flyt serve` processes on one database (issue 19):
//!
//! - `nodes`: the approval process over authenticated REST (create, then two `next`: 3
//!   transitions per instance, every 2xx committed) with the clients spread over 1, 2, … N
//!   nodes, each count on a fresh database;
//! - `jobs`: jobs claimed and completed per second by external workers
//!   (`POST /jobs/activate` + `POST /jobs/{key}/complete`) spread over N nodes, the jobs queued
//!   beforehand by instances created through every node;
//! - `pg-footprint`: bytes per instance parked at a user task, per table
//!   (`pg_total_relation_size`), and how `VACUUM` keeps up under a sustained run
//!   (`pg_stat_user_tables`: dead tuples and (auto)vacuum counts before, during and after).
//!
//! The server is the one in `FLYT_DATABASE_URL` (any database on it: the benchmark creates
//! `flyt_bench_<random>` databases there and drops them afterwards). The nodes are this binary's
//! `serve`, on loopback, sharing one `public_url` and one data directory (the development
//! authority's key), as behind a load balancer; client `c` talks to node `c mod N`.

use super::{Row, ms, percentiles};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PUBLIC: &str = "http://flyt.invalid";
/// The bench app for `jobs`: start → service task of [`JOB_TYPE`] (external) → end.
const JOBS_APP: &str = "ttd/bench-jobs";
const JOB_TYPE: &str = "bench-work";
const TTD_ORGNO: &str = "974760673";

/// A database of its own on the server of `FLYT_DATABASE_URL`, dropped by [`Db::drop_now`].
pub(crate) struct Db {
    admin: String,
    name: String,
    url: String,
}

fn admin_url() -> Result<String, String> {
    std::env::var("FLYT_DATABASE_URL").map_err(|_| {
        "set FLYT_DATABASE_URL to a PostgreSQL server (any database on it; the benchmark creates its own)"
            .to_string()
    })
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
    config.connect_timeout(Duration::from_secs(5));
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

impl Db {
    pub(crate) async fn create() -> Result<Db, String> {
        let admin = admin_url()?;
        let name = format!("flyt_bench_{}", uuid::Uuid::new_v4().simple());
        let client = connect(&admin).await?;
        // Concurrent CREATE DATABASEs on one server can refuse each other ("source database
        // template1 is being accessed by other users"): a few tries.
        let mut tries = 0;
        loop {
            tries += 1;
            match client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
            {
                Ok(()) => break,
                Err(e) if tries < 5 => {
                    eprintln!("flyt bench: CREATE DATABASE refused ({e}); trying again");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => return Err(format!("CREATE DATABASE: {e}")),
            }
        }
        let mut config: tokio_postgres::Config = admin.parse().map_err(|e| format!("{e}"))?;
        config.dbname(&name);
        let url = url_of(&config, &name);
        Ok(Db { admin, name, url })
    }

    pub(crate) async fn drop_now(self) {
        if let Ok(client) = connect(&self.admin).await {
            let _ = client
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }

    async fn client(&self) -> Result<tokio_postgres::Client, String> {
        connect(&self.url).await
    }
}

/// `postgres://user[:password]@host:port/name` of `config` (a TCP host; loopback here).
fn url_of(config: &tokio_postgres::Config, name: &str) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@{host}:{port}/{name}")
}

/// One `flyt serve` process; killed when dropped.
struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port())
}

/// `k` nodes on `db`, started one after the other (the first makes the authority's key).
/// Requests the server answered 503 (`storage-unavailable` or `overloaded`: nothing changed,
/// retry shortly) that the bench sent again, as any client of the API should; printed at the
/// end of a mode, since under load with several nodes on one database they happen (BENCHMARKS.md).
static RETRIED_503: AtomicUsize = AtomicUsize::new(0);

/// Sends `req`, and again after a 503, at most 20 times with a growing pause.
async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    let mut attempt = 0u64;
    loop {
        let r = req
            .try_clone()
            .ok_or("a request with a streamed body")?
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != 503 || attempt >= 20 {
            return Ok(r);
        }
        attempt += 1;
        RETRIED_503.fetch_add(1, Ordering::Relaxed);
        let _ = r.bytes().await;
        tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
    }
}

/// Says how many requests were sent again after a 503 (none: says nothing).
fn report_retried(mode: &str) {
    let n = RETRIED_503.swap(0, Ordering::Relaxed);
    if n > 0 {
        eprintln!("flyt bench {mode}: {n} request(s) answered 503 and sent again");
    }
}

async fn start_nodes(dir: &Path, processes: &Path, db: &Db, k: usize) -> Result<Vec<Node>, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let config = dir.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"{PUBLIC}\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"postgres\"\nurl = \"{}\"\ndata_dir = \"{}\"\n[limits]\nconcurrency = 100000\n[dev_authority]\nenabled = true\n",
            processes.display(),
            db.url,
            dir.join("data").display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut nodes = Vec::with_capacity(k);
    for _ in 0..k {
        let port = free_port()?;
        let mut child = Command::new(&exe)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("FLYT_LISTEN", format!("127.0.0.1:{port}"))
            .env("FLYT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Reads to the end, so that the server never stops on a closed pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("flyt listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(120), rx).await {
            Ok(Ok(())) => nodes.push(node),
            _ => return Err("a flyt serve node did not start within 120 s".into()),
        }
    }
    Ok(nodes)
}

fn http(clients: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())
}

async fn token(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: Value,
) -> Result<String, String> {
    let r = http
        .post(format!("{base}/authority/{path}"))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("{path}: {}", r.status()));
    }
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{path}: no access_token"))
}

fn pid(c: usize) -> String {
    format!("{:011}", 10_000_000_000u64 + c as u64)
}

/// A user token per client, each from the node that client talks to.
async fn user_tokens(
    http: &reqwest::Client,
    bases: &[String],
    clients: usize,
) -> Result<Vec<String>, String> {
    let mut tokens = Vec::with_capacity(clients);
    for c in 0..clients {
        let base = &bases[c % bases.len()];
        tokens.push(
            token(
                http,
                base,
                "user-token",
                json!({ "pid": pid(c), "roles": [] }),
            )
            .await?,
        );
    }
    Ok(tokens)
}

/// What to do with each approval instance.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Approval {
    /// Create it and move it twice: it ends (3 transitions).
    Complete,
    /// Create it only: it waits at the user task `Fill`.
    Park,
}

/// `clients` clients, client `c` on node `c mod N`, drive instances `0..n` (or, with `until`,
/// as many as they can until then). Returns the instances done and every request's latency.
async fn drive_approval(
    http: &reqwest::Client,
    bases: &[String],
    tokens: &[String],
    n: usize,
    until: Option<Instant>,
    what: Approval,
) -> Result<(usize, Vec<Duration>), String> {
    let clients = tokens.len();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(clients);
    for (c, token) in tokens.iter().enumerate() {
        let (http, base, token, next) = (
            http.clone(),
            bases[c % bases.len()].clone(),
            token.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut done = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if until.map_or(i >= n, |u| Instant::now() >= u) {
                    break;
                }
                let body = json!({ "data": { "claim": { "amount": 100 + (i % 9000), "currency": "NOK" } } });
                let t = Instant::now();
                let r = send(http.post(format!("{base}/ttd/approval/instances")).bearer_auth(&token).json(&body)).await?;
                if r.status() != 201 {
                    return Err(format!("create: {} {}", r.status(), r.text().await.unwrap_or_default()));
                }
                let location = r.headers().get("location").and_then(|v| v.to_str().ok()).ok_or("no location")?.replacen(PUBLIC, &base, 1);
                let _ = r.bytes().await;
                latencies.push(t.elapsed());
                if what == Approval::Complete {
                    for action in [None, Some("confirm")] {
                        let t = Instant::now();
                        let mut req = http.put(format!("{location}/process/next")).bearer_auth(&token);
                        if let Some(a) = action {
                            req = req.json(&json!({ "action": a }));
                        }
                        let r = send(req).await?;
                        if r.status() != 200 {
                            return Err(format!("next: {} {}", r.status(), r.text().await.unwrap_or_default()));
                        }
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                }
                done += 1;
            }
            Ok::<_, String>((done, latencies))
        }));
    }
    let mut all = Vec::new();
    let mut done = 0;
    for t in tasks {
        let (d, l) = t.await.map_err(|e| e.to_string())??;
        done += d;
        all.extend(l);
    }
    Ok((done, all))
}

/// `flyt bench nodes`: the approval process over REST on 1 … `max_nodes` nodes.
pub async fn nodes(
    processes: &Path,
    dir: &Path,
    n: usize,
    clients: usize,
    max_nodes: usize,
) -> Result<Vec<Row>, String> {
    let clients = clients.max(1);
    let http = http(clients)?;
    let mut rows = Vec::new();
    for k in 1..=max_nodes.max(1) {
        let db = Db::create().await?;
        let result = async {
            let nodes = start_nodes(&dir.join(format!("nodes-{k}")), processes, &db, k).await?;
            let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
            let tokens = user_tokens(&http, &bases, clients).await?;
            let started = Instant::now();
            let (done, mut latencies) =
                drive_approval(&http, &bases, &tokens, n, None, Approval::Complete).await?;
            let elapsed = started.elapsed().as_secs_f64();
            drop(nodes);
            let (p50, p99, max) = percentiles(&mut latencies);
            let v = format!("postgres, {k} node(s), {clients} clients");
            Ok::<_, String>(vec![
                Row::new(
                    "nodes",
                    v.clone(),
                    "instances/s",
                    done as f64 / elapsed,
                    "1/s",
                ),
                Row::new(
                    "nodes",
                    v.clone(),
                    "requests/s",
                    latencies.len() as f64 / elapsed,
                    "1/s",
                ),
                Row::new("nodes", v.clone(), "request p50", ms(p50), "ms"),
                Row::new("nodes", v.clone(), "request p99", ms(p99), "ms"),
                Row::new("nodes", v, "request max", ms(max), "ms"),
            ])
        }
        .await;
        db.drop_now().await;
        rows.extend(result?);
    }
    report_retried("nodes");
    Ok(rows)
}

/// The `jobs` bench app: a processes folder holding only [`JOBS_APP`].
fn jobs_app(dir: &Path) -> Result<PathBuf, String> {
    let processes = dir.join("jobs-processes");
    let app = processes.join(JOBS_APP);
    std::fs::create_dir_all(&app).map_err(|e| e.to_string())?;
    std::fs::write(
        app.join("app.toml"),
        format!(
            "title = \"Benchmark: one external job per instance\"\nowner_types = [\"person\"]\n\n[[rules]]\nsubjects = [\"owner\"]\nactions = [\"read\", \"instantiate\"]\n\n[jobs]\nexternal = [\"{JOB_TYPE}\"]\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        app.join("process.bpmn"),
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:altinn="http://altinn.no/process"
                  id="bench-jobs-definitions" targetNamespace="urn:flyt:bench">
  <bpmn:process id="bench-jobs" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Work" name="Work">
      <bpmn:extensionElements>
        <altinn:taskExtension><altinn:taskType>{JOB_TYPE}</altinn:taskType></altinn:taskExtension>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Work" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(processes)
}

/// `flyt bench jobs`: `n` jobs queued through every node, then `workers` external workers
/// spread over the nodes claim and complete them all (each activation up to `batch` jobs).
pub async fn jobs(
    dir: &Path,
    n: usize,
    workers: usize,
    k: usize,
    batch: usize,
) -> Result<Vec<Row>, String> {
    let processes = jobs_app(dir)?;
    let workers = workers.max(1);
    let k = k.max(1);
    let db = Db::create().await?;
    let result = async {
        let nodes = start_nodes(&dir.join("jobs"), &processes, &db, k).await?;
        let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
        let http = http(workers.max(64))?;
        // Queue the jobs: 64 clients create the instances through every node.
        let creators = 64.min(n.max(1));
        let tokens = user_tokens(&http, &bases, creators).await?;
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (c, token) in tokens.into_iter().enumerate() {
            let (http, base, next) = (http.clone(), bases[c % k].clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let r = send(http.post(format!("{base}/{JOBS_APP}/instances")).bearer_auth(&token).json(&json!({}))).await?;
                    if r.status() != 201 {
                        return Err(format!("create: {} {}", r.status(), r.text().await.unwrap_or_default()));
                    }
                }
                Ok::<_, String>(())
            }));
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        let queued = started.elapsed().as_secs_f64();

        // Drain them: every worker activates and completes until all are done.
        let org = token(&http, &bases[0], "org-token", json!({ "organisationNumber": TTD_ORGNO, "orgCode": "ttd", "scope": "flyt:jobs" })).await?;
        let completed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..workers {
            let (http, base, org, completed, stop) = (http.clone(), bases[w % k].clone(), org.clone(), completed.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let (mut claimed, mut conflicts, mut empty) = (0usize, 0usize, 0usize);
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) && completed.load(Ordering::Relaxed) < n {
                    let t = Instant::now();
                    let r = send(http.post(format!("{base}/jobs/activate")).bearer_auth(&org)
                        .json(&json!({ "jobTypes": [JOB_TYPE], "maxJobs": batch, "lockDurationMs": 60_000, "workerId": format!("bench-{w}") })))
                        .await?;
                    if r.status() != 200 {
                        return Err(format!("activate: {} {}", r.status(), r.text().await.unwrap_or_default()));
                    }
                    let body: Value = r.json().await.map_err(|e| e.to_string())?;
                    latencies.push(t.elapsed());
                    let list = body["jobs"].as_array().cloned().unwrap_or_default();
                    if list.is_empty() {
                        // Nothing due now (the rest are leased by other workers): look again soon.
                        empty += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    claimed += list.len();
                    for job in list {
                        let key = job["key"].as_str().unwrap_or_default().to_string();
                        let t = Instant::now();
                        let r = send(http.post(format!("{base}/jobs/{key}/complete")).bearer_auth(&org).json(&json!({}))).await?;
                        match r.status().as_u16() {
                            200 => {
                                completed.fetch_add(1, Ordering::Relaxed);
                            }
                            409 => conflicts += 1,
                            s => return Err(format!("complete: {s} {}", r.text().await.unwrap_or_default())),
                        }
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                }
                Ok::<_, String>((claimed, conflicts, empty, latencies))
            }));
        }
        let deadline = Duration::from_secs(600);
        let mut totals = (0, 0, 0);
        let mut latencies = Vec::new();
        for t in tasks {
            match tokio::time::timeout(deadline, t).await {
                Ok(joined) => {
                    let (c, x, e, l) = joined.map_err(|e| e.to_string())??;
                    totals = (totals.0 + c, totals.1 + x, totals.2 + e);
                    latencies.extend(l);
                }
                Err(_) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err("the workers did not finish within 600 s".into());
                }
            }
        }
        let drained = started.elapsed().as_secs_f64();
        let done = completed.load(Ordering::Relaxed);
        if done != n {
            return Err(format!("{done} of {n} jobs completed"));
        }
        let (p50, p99, _) = percentiles(&mut latencies);
        let v = format!("postgres, {k} node(s), {workers} workers");
        Ok::<_, String>(vec![
            Row::new("jobs", v.clone(), "instances created (jobs queued)/s", n as f64 / queued, "1/s"),
            Row::new("jobs", v.clone(), "jobs claimed and completed/s", done as f64 / drained, "1/s"),
            Row::new("jobs", v.clone(), "jobs claimed", totals.0 as f64, "jobs"),
            Row::new("jobs", v.clone(), "completions refused (409)", totals.1 as f64, "calls"),
            Row::new("jobs", v.clone(), "empty activations", totals.2 as f64, "calls"),
            Row::new("jobs", v.clone(), "worker request p50", ms(p50), "ms"),
            Row::new("jobs", v, "worker request p99", ms(p99), "ms"),
        ])
    }
    .await;
    report_retried("jobs");
    db.drop_now().await;
    result
}

/// Per table: (total bytes with indexes and TOAST, live tuples, dead tuples, autovacuum runs,
/// vacuum runs, autoanalyze runs).
type TableStats = Vec<(String, i64, i64, i64, i64, i64, i64)>;

async fn table_stats(client: &tokio_postgres::Client) -> Result<TableStats, String> {
    let rows = client
        .query(
            "SELECT relname::text, pg_total_relation_size(relid), n_live_tup, n_dead_tup, autovacuum_count, vacuum_count, autoanalyze_count \
             FROM pg_stat_user_tables WHERE relname LIKE 'flyt\\_%' ORDER BY relname",
            &[],
        )
        .await
        .map_err(|e| format!("pg_stat_user_tables: {e}"))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect())
}

/// `flyt bench pg-footprint`: `parked` instances waiting at a user task on one node, bytes per
/// instance per table; then `seconds` of the full approval load, the tables' dead tuples and
/// (auto)vacuum runs before, every `seconds / 6` during, and after.
pub async fn footprint(
    processes: &Path,
    dir: &Path,
    parked: usize,
    clients: usize,
    seconds: u64,
) -> Result<Vec<Row>, String> {
    let clients = clients.max(1);
    let db = Db::create().await?;
    let result = async {
        let nodes = start_nodes(&dir.join("pg-footprint"), processes, &db, 1).await?;
        let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
        let http = http(clients)?;
        let tokens = user_tokens(&http, &bases, clients).await?;
        let stats = db.client().await?;
        let empty = table_stats(&stats).await?;
        let (done, _) = drive_approval(&http, &bases, &tokens, parked, None, Approval::Park).await?;
        // Counters reach pg_stat_* at the end of each backend's transactions; the sizes are
        // exact now.
        let full = table_stats(&stats).await?;
        let v = format!("postgres, {done} parked");
        let mut rows = Vec::new();
        let mut total = 0i64;
        for (table, bytes, ..) in &full {
            let before = empty.iter().find(|t| &t.0 == table).map_or(0, |t| t.1);
            total += bytes - before;
            if bytes - before > 0 {
                rows.push(Row::new("pg-footprint", v.clone(), format!("bytes per instance: {table}"), (bytes - before) as f64 / done.max(1) as f64, "bytes"));
            }
        }
        rows.push(Row::new("pg-footprint", v.clone(), "bytes per instance, all tables", total as f64 / done.max(1) as f64, "bytes"));
        rows.push(Row::new("pg-footprint", v, "all tables", total as f64 / (1024.0 * 1024.0), "MiB"));

        // The sustained run.
        let before = table_stats(&stats).await?;
        let until = Instant::now() + Duration::from_secs(seconds);
        let step = Duration::from_secs((seconds / 6).max(1));
        let load = {
            let (http, bases, tokens) = (http.clone(), bases.clone(), tokens.clone());
            tokio::spawn(async move { drive_approval(&http, &bases, &tokens, usize::MAX, Some(until), Approval::Complete).await })
        };
        let started = Instant::now();
        let mut most_dead = 0i64;
        let mut samples = Vec::new();
        while Instant::now() < until {
            tokio::time::sleep(step.min(until.saturating_duration_since(Instant::now()))).await;
            let now = table_stats(&stats).await?;
            let dead: i64 = now.iter().map(|t| t.3).sum();
            let live: i64 = now.iter().map(|t| t.2).sum();
            let autovacuums: i64 = now.iter().map(|t| t.4).sum();
            most_dead = most_dead.max(dead);
            samples.push((started.elapsed().as_secs(), live, dead, autovacuums));
            eprintln!(
                "pg-footprint: {:>4} s  live {live:>9}  dead {dead:>9}  autovacuum runs {autovacuums}",
                started.elapsed().as_secs()
            );
        }
        let (completed, mut latencies) = load.await.map_err(|e| e.to_string())??;
        let elapsed = started.elapsed().as_secs_f64();
        let after = table_stats(&stats).await?;
        drop(nodes);
        // Whether the server vacuums by itself at all, and what one VACUUM of the run's dead
        // tuples costs.
        let autovacuum: String = stats
            .query_one("SHOW autovacuum", &[])
            .await
            .map_err(|e| format!("SHOW autovacuum: {e}"))?
            .get(0);
        let vacuum_started = Instant::now();
        stats
            .batch_execute("VACUUM")
            .await
            .map_err(|e| format!("VACUUM: {e}"))?;
        let vacuum_took = vacuum_started.elapsed();
        let vacuumed = table_stats(&stats).await?;
        let v = format!("postgres, {seconds} s sustained");
        let (_, p99, _) = percentiles(&mut latencies);
        rows.push(Row::new("pg-footprint", v.clone(), "instances completed/s", completed as f64 / elapsed, "1/s"));
        rows.push(Row::new("pg-footprint", v.clone(), "request p99", ms(p99), "ms"));
        rows.push(Row::new("pg-footprint", v.clone(), "most dead tuples seen (all tables)", most_dead as f64, "tuples"));
        rows.push(Row::new("pg-footprint", v.clone(), "server autovacuum on (1) or off (0)", f64::from(u8::from(autovacuum == "on")), "flag"));
        rows.push(Row::new("pg-footprint", v.clone(), "one VACUUM after the run", vacuum_took.as_secs_f64(), "s"));
        rows.push(Row::new("pg-footprint", v.clone(), "dead tuples after that VACUUM (all tables)", vacuumed.iter().map(|t| t.3).sum::<i64>() as f64, "tuples"));
        rows.push(Row::new("pg-footprint", v.clone(), "all tables after that VACUUM", vacuumed.iter().map(|t| t.1).sum::<i64>() as f64 / (1024.0 * 1024.0), "MiB"));
        for (table, bytes, live, dead, autovacuum, vacuum, autoanalyze) in &after {
            let b = before.iter().find(|t| &t.0 == table);
            let (b_bytes, b_dead, b_auto) = b.map_or((0, 0, 0), |t| (t.1, t.3, t.4));
            // Only the tables the run wrote to.
            if *bytes == b_bytes && *dead == b_dead {
                continue;
            }
            let name = table.trim_start_matches("flyt_");
            rows.push(Row::new("pg-footprint", v.clone(), format!("{name}: live after"), *live as f64, "tuples"));
            rows.push(Row::new("pg-footprint", v.clone(), format!("{name}: dead before"), b_dead as f64, "tuples"));
            rows.push(Row::new("pg-footprint", v.clone(), format!("{name}: dead after"), *dead as f64, "tuples"));
            rows.push(Row::new("pg-footprint", v.clone(), format!("{name}: autovacuum runs during"), (*autovacuum - b_auto) as f64, "runs"));
            rows.push(Row::new("pg-footprint", v.clone(), format!("{name}: vacuum+autoanalyze runs (total)"), (*vacuum + *autoanalyze) as f64, "runs"));
            rows.push(Row::new("pg-footprint", v.clone(), format!("{name}: size before"), b_bytes as f64 / (1024.0 * 1024.0), "MiB"));
            rows.push(Row::new("pg-footprint", v.clone(), format!("{name}: size after"), *bytes as f64 / (1024.0 * 1024.0), "MiB"));
        }
        for (t, live, dead, autovacuums) in samples {
            rows.push(Row::new("pg-footprint", v.clone(), format!("at {t:>4} s: live tuples"), live as f64, "tuples"));
            rows.push(Row::new("pg-footprint", v.clone(), format!("at {t:>4} s: dead tuples"), dead as f64, "tuples"));
            rows.push(Row::new("pg-footprint", v.clone(), format!("at {t:>4} s: autovacuum runs (all)"), autovacuums as f64, "runs"));
        }
        Ok::<_, String>(rows)
    }
    .await;
    report_retried("pg-footprint");
    db.drop_now().await;
    result
}
