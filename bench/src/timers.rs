//! Timers (issue 13): many pending timers in a redb store, and a million of them falling due
//! together.
//!
//! One store is filled with `n` instances each waiting at an intermediate timer (`PT1H`), all
//! armed at one instant of a manual clock so that they fall due at the same millisecond. The
//! filling goes through the runtime (64 drivers, one create transition each), not a bulk path.
//! Then:
//! - `timers-pending`: bytes on disk per timer, and a real `flyt serve` process opened on the
//!   store: its start-up time (spawn to `/health/ready` answering 200) and resident memory. The
//!   filling closed the store cleanly, so this open trusts its clean-close stamp; the server is
//!   then killed (SIGKILL) and started again, which measures the start-up after a crash (redb's
//!   full check and repair, which grow with the store).
//! - `timers-fire`: a server in this process over the same store with the same manual clock;
//!   the clock is moved past the due time and the worker fires every timer (one durable
//!   transition each) while `clients` REST clients create and read instances of the same app;
//!   timer transitions per second, commits per fsync while firing, and the clients' latency.

use super::footprint::disk_usage;
use super::{Row, ms, percentiles};
use flyt_api::config::ServerConfig;
use flyt_api::server::ServerBuilder;
use flyt_engine::hooks::Registry;
use flyt_engine::model::{Actor, InstanceOwner, Party};
use flyt_engine::runtime::{CreateInstance, Runtime, RuntimeConfig};
use flyt_engine::store::Store;
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::open::BackendKind;
use flyt_engine::time::{Clock, ManualClock, SystemClock};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const APP_TOML: &str = r#"title = "Waits an hour"
owner_types = ["person"]

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate"]
"#;

const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:flyt:bench">
  <bpmn:process id="wait" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:intermediateCatchEvent id="Wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Wait" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

const WAIT: Duration = Duration::from_secs(3600);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub async fn run(dir: &Path, n: usize, clients: usize) -> Result<Vec<Row>, String> {
    let base = dir.join("timers");
    let apps = base.join("apps");
    let app_dir = apps.join("ttd").join("wait");
    std::fs::create_dir_all(&app_dir).map_err(err)?;
    std::fs::write(app_dir.join("app.toml"), APP_TOML).map_err(err)?;
    std::fs::write(app_dir.join("process.bpmn"), BPMN).map_err(err)?;
    let data = base.join("data");
    std::fs::create_dir_all(&data).map_err(err)?;

    let armed_at = SystemClock.now();
    let (fill_rate, stored) = fill(&app_dir, &data, n, armed_at).await?;
    let v = format!("redb, {n} timers");
    let mut rows = vec![
        Row::new(
            "timers-pending",
            v.clone(),
            "fill: creates/s",
            fill_rate,
            "1/s",
        ),
        Row::new(
            "timers-pending",
            v.clone(),
            "disk per timer (allocated)",
            stored as f64 / n as f64,
            "bytes",
        ),
    ];
    let (startup, rss) = serve_process(&apps, &data).await?;
    rows.push(Row::new(
        "timers-pending",
        v.clone(),
        "server start-up (to ready)",
        startup.as_secs_f64(),
        "s",
    ));
    let (after_crash, _) = serve_process(&apps, &data).await?;
    rows.push(Row::new(
        "timers-pending",
        v.clone(),
        "start-up after a SIGKILL",
        after_crash.as_secs_f64(),
        "s",
    ));
    rows.push(Row::new(
        "timers-pending",
        v.clone(),
        "server resident memory",
        rss as f64 / 1024.0,
        "MiB",
    ));
    rows.extend(fire(&apps, &data, n, clients, armed_at).await?);
    Ok(rows)
}

/// Creates `n` instances waiting at their timer, all armed at `armed_at`; returns creates per
/// second and the bytes the store took on disk.
async fn fill(
    app_dir: &Path,
    data: &Path,
    n: usize,
    armed_at: flyt_engine::time::Timestamp,
) -> Result<(f64, u64), String> {
    let app = flyt_api::apps::load(app_dir).map_err(|e| {
        e.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let store_dir = data.join("store");
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
        Arc::new(ManualClock::new(armed_at)),
        RuntimeConfig::default(),
    );
    rt.register_app(app.spec.clone());
    rt.deploy(&app.id, &app.bpmn, "bench").await.map_err(err)?;
    let empty = disk_usage(&store_dir).0;
    let drivers = 64;
    let per = n.div_ceil(drivers);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for d in 0..drivers {
        let (rt, app) = (rt.clone(), app.id.clone());
        tasks.push(tokio::spawn(async move {
            for i in (d * per)..((d + 1) * per).min(n) {
                let pid = format!("{:011}", 10_000_000_000u64 + (i as u64 % 100_000));
                let party = Party::person(&pid).ok_or("bad pid")?;
                rt.create_instance(CreateInstance {
                    app: app.clone(),
                    owner: InstanceOwner::new(party),
                    actor: Actor::user(pid),
                    data: BTreeMap::new(),
                    start_event: None,
                    idempotency: None,
                })
                .await
                .map_err(err)?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(err)??;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    rt.store().shutdown();
    drop(rt);
    Ok((rate, disk_usage(&store_dir).0.saturating_sub(empty)))
}

/// A real `flyt serve` over the store: seconds from spawn to `/health/ready` answering 200 (and
/// a list answered), and its resident memory then (KiB).
async fn serve_process(apps: &Path, data: &Path) -> Result<(Duration, u64), String> {
    let config = data.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n",
            apps.display(),
            data.display()
        ),
    )
    .map_err(err)?;
    let exe = std::env::current_exe().map_err(err)?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("FLYT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(err)?;
    let result = measure_child(&mut child, started).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn measure_child(
    child: &mut std::process::Child,
    started: Instant,
) -> Result<(Duration, u64), String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads to the end: a server whose stdout closes stops with a broken pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(u) = line.strip_prefix("flyt listening on ") {
                let _ = tx.send(u.to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| "the timers server did not start within 120 s".to_string())?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(err)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let ready = loop {
        let ok = http
            .get(format!("{url}/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break started.elapsed();
        }
        if Instant::now() > deadline {
            return Err("the timers server was not ready within 120 s".into());
        }
        // A benchmark's poll interval, not a test's wait.
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let _ = http.get(format!("{url}/health/live")).send().await;
    if let Ok(Some(status)) = child.try_wait() {
        return Err(format!("the timers server stopped early ({status})"));
    }
    let rss = super::footprint::rss_kib(child.id()).ok_or("no resident memory")?;
    Ok((ready, rss))
}

/// Fires every timer at once in a server in this process, under a REST load.
async fn fire(
    apps: &Path,
    data: &Path,
    n: usize,
    clients: usize,
    armed_at: flyt_engine::time::Timestamp,
) -> Result<Vec<Row>, String> {
    let mut config = ServerConfig::development();
    config.processes_dir = apps.to_path_buf();
    config.storage.backend = BackendKind::Redb;
    config.storage.data_dir = data.to_path_buf();
    config.limits.concurrency = 100_000;
    let clock = ManualClock::new(armed_at);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    let server = ServerBuilder::new(config)
        .clock(Arc::new(clock.clone()))
        .build(addr)
        .await
        .map_err(err)?;
    let authority = server.state.inner.authority.clone().ok_or("no authority")?;
    let state = server.state.clone();
    let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(server.serve(listener, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let rt = state.runtime().clone();
    let store = rt.store();
    let before = store.stats();
    let started = Instant::now();
    clock.advance(WAIT);
    // The load starts as the timers fall due and runs until the last has fired.
    let done = Arc::new(AtomicBool::new(false));
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(err)?;
    let mut tasks = Vec::new();
    for c in 0..clients.max(1) {
        let pid = format!("{:011}", 20_000_000_000u64 + c as u64);
        let token = authority.user_token(&pid, &[], &[])?;
        let (http, base, done) = (http.clone(), base.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/ttd/wait/instances"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .map_err(err)?;
                if r.status() != 201 {
                    return Err(format!("create: {}", r.status()));
                }
                let url = r
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or("no location")?
                    .to_string();
                let _ = r.bytes().await;
                latencies.push(t.elapsed());
                let t = Instant::now();
                let r = http
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .map_err(err)?;
                if r.status() != 200 {
                    return Err(format!("read: {}", r.status()));
                }
                let _ = r.bytes().await;
                latencies.push(t.elapsed());
            }
            Ok::<_, String>(latencies)
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(3600);
    let fired_in = loop {
        let left = store.due_timers(clock.now(), 1).map_err(err)?;
        if left.is_empty() {
            break started.elapsed();
        }
        if Instant::now() > deadline || tasks.iter().any(|t| t.is_finished()) {
            done.store(true, Ordering::Relaxed);
            let _ = stop.send(true);
            for t in tasks {
                t.await.map_err(err)??;
            }
            return Err("the timers did not all fire".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let after = store.stats();
    done.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(err)??);
    }
    let requests = all.len();
    let _ = stop.send(true);
    let _ = serving.await;
    let (p50, p99, max) = percentiles(&mut all);
    let v = format!("redb, {n} due, {clients} clients");
    let units = after.units.saturating_sub(before.units);
    let batches = after.batches.saturating_sub(before.batches);
    Ok(vec![
        Row::new(
            "timers-fire",
            v.clone(),
            "timer transitions/s",
            n as f64 / fired_in.as_secs_f64(),
            "1/s",
        ),
        Row::new(
            "timers-fire",
            v.clone(),
            "all fired in",
            fired_in.as_secs_f64(),
            "s",
        ),
        Row::new(
            "timers-fire",
            v.clone(),
            "commits per fsync while firing",
            units as f64 / batches.max(1) as f64,
            "units",
        ),
        Row::new(
            "timers-fire",
            v.clone(),
            "REST requests/s meanwhile",
            requests as f64 / fired_in.as_secs_f64(),
            "1/s",
        ),
        Row::new("timers-fire", v.clone(), "REST request p50", ms(p50), "ms"),
        Row::new("timers-fire", v.clone(), "REST request p99", ms(p99), "ms"),
        Row::new("timers-fire", v, "REST request max", ms(max), "ms"),
    ])
}
