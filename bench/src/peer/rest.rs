//! `--via=rest`: a real `flyt serve` (this binary, a child process) on loopback, K HTTP/1.1
//! clients, each with its own user token from the development authority, and an external job
//! worker with an organisation token (scope `flyt:jobs`) working the score task over
//! `POST /jobs/activate` and `POST /jobs/{key}/complete`.
//!
//! Per instance a client makes: `POST /{app}/instances` (with `vars.i`); in the approval process
//! `PUT .../data/vars` (the amount) while `A` is active; `PUT .../process/next` for `A`, then for
//! `B` or `C`. In the service process the client waits, after its create, until the job worker
//! has completed the score job of its instance: the worker tells it in this process (a real
//! user would see the task on their next page load; nothing here polls the server). The worker
//! activates jobs when a client has created one (or every 50 ms), and completes each activated
//! job in its own task.

use super::dialect::{SCORE, VARS};
use super::score::Score;
use super::{Measured, Mode, PeerArgs, Tally, cpu_s, disk_bytes, status_kb};
use flyt_api::authority::DevAuthority;
use flyt_api::config::ServerConfig;
use flyt_engine::store::open::BackendKind;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot};

const WORKER_ORG: &str = "974760673";

/// The `flyt serve` child; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path, config: &Path) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .current_dir(dir)
            .env("FLYT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start flyt serve: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads to the end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("flyt listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => {
                server.url = url;
                Ok(server)
            }
            Err(_) => {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                Err(format!("flyt serve did not start within 60 s:\n{log}"))
            }
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

/// Score jobs completed by the worker, and clients waiting for theirs.
#[derive(Default)]
struct Jobs {
    slots: Mutex<HashMap<String, Slot>>,
    /// A client created an instance with a job.
    created: Notify,
    stop: AtomicBool,
}

enum Slot {
    Done,
    Waiting(oneshot::Sender<()>),
}

impl Jobs {
    fn done(&self, instance: &str) {
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        match slots.remove(instance) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(());
            }
            _ => {
                slots.insert(instance.to_string(), Slot::Done);
            }
        }
    }

    async fn wait(&self, instance: &str) -> Result<(), String> {
        let rx = {
            let mut slots = self.slots.lock().map_err(|_| "a worker panicked")?;
            if let Some(Slot::Done) = slots.remove(instance) {
                return Ok(());
            }
            let (tx, rx) = oneshot::channel();
            slots.insert(instance.to_string(), Slot::Waiting(tx));
            rx
        };
        match tokio::time::timeout(Duration::from_secs(120), rx).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(format!(
                "the score job of {instance} was not completed within 120 s"
            )),
        }
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    app: String,
    tally: Arc<Tally>,
    jobs: Arc<Jobs>,
    service: bool,
}

/// An instance parked at `A`: its URL, number and the client that owns it.
struct Parked {
    url: String,
    i: u64,
    client: usize,
}

async fn expect(response: reqwest::Response, status: u16, what: &str) -> Result<Value, String> {
    let got = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| format!("{what}: {e}"))?;
    if got != status {
        return Err(format!(
            "{what}: {got} {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        ));
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| format!("{what}: {e}"))
}

impl Client {
    async fn start(&self, i: u64, client: usize, token: &str) -> Result<Parked, String> {
        let response = self
            .http
            .post(format!("{}/{}/instances", self.base, self.app))
            .bearer_auth(token)
            .json(&json!({ "data": { VARS: { "i": i } } }))
            .send()
            .await
            .map_err(|e| format!("create: {e}"))?;
        Tally::add(&self.tally.calls);
        let url = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        expect(response, 201, "create").await?;
        let url = url.ok_or("create: no Location")?;
        if self.service {
            self.jobs.created.notify_one();
            // `{partyId}/{instanceGuid}`: the last two segments of the instance's URL.
            let mut parts = url.rsplitn(3, '/');
            let guid = parts.next().unwrap_or_default();
            let party = parts.next().unwrap_or_default();
            self.jobs.wait(&format!("{party}/{guid}")).await?;
        }
        Ok(Parked { url, i, client })
    }

    async fn finish(&self, parked: Parked, token: &str) -> Result<(), String> {
        if !self.service {
            let amount = PeerArgs::amount(parked.i);
            let response = self
                .http
                .put(format!("{}/data/{VARS}", parked.url))
                .bearer_auth(token)
                .json(&json!({ "i": parked.i, "amount": amount }))
                .send()
                .await
                .map_err(|e| format!("write vars: {e}"))?;
            Tally::add(&self.tally.calls);
            expect(response, 200, "write vars").await?;
        }
        let next = format!("{}/process/next", parked.url);
        let moved = self.next(&next, token, "complete A").await?;
        Tally::add(&self.tally.user_tasks);
        let branch = moved["currentTask"]["elementId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.tally.branch(&branch)?;
        let ended = self.next(&next, token, "complete B/C").await?;
        if ended["ended"].is_null() {
            return Err(format!("{} did not end after {branch}", parked.url));
        }
        Ok(())
    }

    async fn next(&self, url: &str, token: &str, what: &str) -> Result<Value, String> {
        let response = self
            .http
            .put(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        Tally::add(&self.tally.calls);
        expect(response, 200, what).await
    }
}

/// The external job worker: activate, then complete each job in its own task.
async fn work_jobs(
    http: reqwest::Client,
    base: String,
    token: String,
    score: Score,
    batch: u32,
    tally: Arc<Tally>,
    jobs: Arc<Jobs>,
) -> Result<(), String> {
    let mut running = tokio::task::JoinSet::new();
    while !jobs.stop.load(Ordering::Relaxed) {
        let response = http
            .post(format!("{base}/jobs/activate"))
            .bearer_auth(&token)
            .json(&json!({ "jobTypes": [SCORE], "maxJobs": batch, "lockDurationMs": 60_000, "workerId": "flyt-bench-peer" }))
            .send()
            .await
            .map_err(|e| format!("activate: {e}"))?;
        Tally::add(&tally.calls);
        let activated = expect(response, 200, "activate").await?;
        let list = activated["jobs"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            tokio::select! {
                _ = jobs.created.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        for job in list {
            let (http, base, token, score, tally, jobs) = (
                http.clone(),
                base.clone(),
                token.clone(),
                score.clone(),
                tally.clone(),
                jobs.clone(),
            );
            running.spawn(async move {
                let key = job["key"].as_str().unwrap_or_default();
                let instance = job["instanceId"].as_str().unwrap_or_default();
                let i = job["data"][VARS]["i"]
                    .as_u64()
                    .ok_or_else(|| format!("job {key}: no vars.i"))?;
                let amount = score.call(i).await?;
                Tally::add(&tally.service_calls);
                let response = http
                    .post(format!("{base}/jobs/{key}/complete"))
                    .bearer_auth(&token)
                    .json(&json!({ "data": { VARS: { "i": i, "amount": amount } } }))
                    .send()
                    .await
                    .map_err(|e| format!("complete job: {e}"))?;
                Tally::add(&tally.calls);
                let done = expect(response, 200, "complete job").await?;
                if done["outcome"] != "moved" {
                    return Err(format!("job {key}: {done}"));
                }
                jobs.done(instance);
                Ok::<_, String>(())
            });
        }
        while let Some(finished) = running.try_join_next() {
            finished.map_err(|e| e.to_string())??;
        }
    }
    while let Some(finished) = running.join_next().await {
        finished.map_err(|e| e.to_string())??;
    }
    Ok(())
}

pub async fn run(args: &PeerArgs, dir: &Path, tally: &Arc<Tally>) -> Result<Measured, String> {
    let mut config = ServerConfig::development();
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.processes_dir = dir.join("apps");
    config.storage.backend = args.store;
    config.storage.data_dir = dir.join("data");
    config.limits.concurrency = 100_000;
    let config_path = dir.join("flyt.toml");
    std::fs::write(
        &config_path,
        toml::to_string(&config).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let parse = Instant::now();
    let server = Server::start(dir, &config_path)?;
    let parse_s = parse.elapsed().as_secs_f64();
    config.public_url = Some(server.url.clone());
    let authority = DevAuthority::load_or_create(
        &config.storage.data_dir.join("authority"),
        config.authority_issuer(),
        &config.dev_authority,
        Arc::new(flyt_engine::time::SystemClock),
    )?;
    let k = args.concurrency;
    let tokens: Vec<String> = (0..k)
        .map(|c| authority.user_token(&format!("{:011}", 10_000_000_000u64 + c as u64), &[], &[]))
        .collect::<Result<_, _>>()?;
    let tokens = Arc::new(tokens);
    // The service owner of the `peer/*` apps: a worker works only jobs of apps it serves.
    let worker_token =
        authority.org_token(WORKER_ORG, Some("peer"), &["flyt:jobs".into()], None)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(k + 64)
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let score = Score::new(args, k)?;
    let service =
        std::fs::read_to_string(dir.join("apps").join(args.app_id()).join("process.bpmn"))
            .map_err(|e| e.to_string())?
            .contains("<bpmn:serviceTask");
    let jobs = Arc::new(Jobs::default());
    let client = Arc::new(Client {
        http: http.clone(),
        base: server.url.clone(),
        app: args.app_id(),
        tally: tally.clone(),
        jobs: jobs.clone(),
        service,
    });
    let batch = u32::try_from(k.clamp(1, 100)).unwrap_or(100);
    let pid = server.pid();
    let (server_cpu_before, cpu_before) = (cpu_s(&pid), cpu_s("self"));
    let started = Instant::now();
    let worker = service.then(|| {
        tokio::spawn(work_jobs(
            http.clone(),
            server.url.clone(),
            worker_token.clone(),
            score.clone(),
            batch,
            tally.clone(),
            jobs.clone(),
        ))
    });
    let n = args.n;
    let driven = async {
        if args.mode == Mode::Hold {
            let rss_before = status_kb(&pid, "VmRSS");
            let parked = super::library::for_each(k, n, {
                let (client, tokens) = (client.clone(), tokens.clone());
                move |i, c| {
                    let (client, tokens) = (client.clone(), tokens.clone());
                    async move { client.start(i as u64, c, &tokens[c]).await }
                }
            })
            .await?;
            let hold = (rss_before, status_kb(&pid, "VmRSS"));
            let parked = Arc::new(Mutex::new(parked.into_iter().map(Some).collect::<Vec<_>>()));
            super::library::for_each(k, n, {
                let (client, tokens) = (client.clone(), tokens.clone());
                move |i, _| {
                    let (client, tokens, parked) = (client.clone(), tokens.clone(), parked.clone());
                    async move {
                        let one = parked
                            .lock()
                            .map_err(|_| "a client panicked")?
                            .get_mut(i)
                            .and_then(Option::take)
                            .ok_or("instance parked twice")?;
                        // The owner completes it, whichever client created it.
                        let token = &tokens[one.client];
                        client.finish(one, token).await
                    }
                }
            })
            .await?;
            Ok::<_, String>(Some(hold))
        } else {
            super::library::for_each(k, n, {
                let (client, tokens) = (client.clone(), tokens.clone());
                move |i, c| {
                    let (client, tokens) = (client.clone(), tokens.clone());
                    async move {
                        let parked = client.start(i as u64, c, &tokens[c]).await?;
                        client.finish(parked, &tokens[c]).await
                    }
                }
            })
            .await?;
            Ok(None)
        }
    };
    let driven = driven.await;
    jobs.stop.store(true, Ordering::Relaxed);
    jobs.created.notify_one();
    if let Some(worker) = worker {
        worker.await.map_err(|e| e.to_string())??;
    }
    let hold = driven?;
    let run_s = started.elapsed().as_secs_f64();
    let server_cpu_s = cpu_s(&pid) - server_cpu_before;
    let driver_cpu_s = cpu_s("self") - cpu_before;
    let vmhwm = status_kb(&pid, "VmHWM");
    drop(server);
    let durable = args.store != BackendKind::Memory;
    Ok(Measured {
        run_s,
        parse_s,
        hold,
        server_vmhwm_kb: vmhwm,
        server_cpu_s,
        driver_cpu_s: Some(driver_cpu_s),
        disk_bytes: durable.then(|| disk_bytes(&dir.join("data").join("store"))),
        commits_per_fsync: None,
        service_call: format!(
            "external job worker over /jobs/activate + /jobs/{{key}}/complete (org token), the score by {}",
            score.describe()
        ),
        durability: if durable {
            format!(
                "a 2xx means committed to {} with fsync (group commit)",
                args.store.as_str()
            )
        } else {
            "none: the server's memory backend".into()
        },
        workers: service.then_some(1),
    })
}
