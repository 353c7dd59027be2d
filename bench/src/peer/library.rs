//! `--via=library`: the engine in this process, used the way an embedding application uses it:
//! a [`Runtime`] over a store (memory, or redb where every commit is fsynced before it returns),
//! the kit's process deployed, and K driver tasks moving instances with engine calls.
//!
//! The service task is the registered handler `score` ([`ScoreHandler`]: the stub, or an HTTP
//! POST to the score app). The driver works an instance's job itself right after the commit that
//! created it (lease it, run the handler, complete it: the engine's job API, as the built-in
//! worker does), as an embedder does when it wants the result before it answers; no background
//! worker runs, so no job is ever waited for.

use super::dialect::{SCORE, VARS};
use super::score::Score;
use super::{Measured, Mode, PeerArgs, Tally, cpu_s, disk_bytes, status_kb};
use async_trait::async_trait;
use flyt_engine::hooks::{
    Completion, JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome,
};
use flyt_engine::ids::{AppId, DataTypeId, InstanceId, JobKey};
use flyt_engine::model::{Actor, Instance, InstanceOwner, Party};
use flyt_engine::runtime::jobs::Completed;
use flyt_engine::runtime::{CreateInstance, Next, Runtime, RuntimeConfig, WriteData};
use flyt_engine::store::Store;
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::open::BackendKind;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The `score` service task: reads `vars.i`, asks the score service, writes `vars.amount`.
#[derive(Debug)]
struct ScoreHandler {
    score: Score,
    tally: Arc<Tally>,
}

#[async_trait]
impl ServiceTaskHandler for ScoreHandler {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        let Some(i) = ctx
            .data
            .get(&DataTypeId::new(VARS))
            .and_then(|v| v["i"].as_u64())
        else {
            return ServiceTaskOutcome::fail("the instance has no vars.i");
        };
        Tally::add(&self.tally.service_calls);
        match self.score.call(i).await {
            Ok(amount) => ServiceTaskOutcome::Completed(Completion {
                data: BTreeMap::from([(
                    DataTypeId::new(VARS),
                    json!({ "i": i, "amount": amount }),
                )]),
                ..Completion::default()
            }),
            Err(e) => ServiceTaskOutcome::retry(e),
        }
    }
}

struct Driver {
    rt: Runtime,
    app: AppId,
    handler: Arc<ScoreHandler>,
    tally: Arc<Tally>,
}

/// An instance parked at `A`.
struct Parked {
    id: InstanceId,
    i: u64,
    /// The instance as last returned (when the driver has it), to move from without a read;
    /// boxed, so that an instance parked without it takes a few bytes of the driver's memory.
    snapshot: Option<Box<Instance>>,
    /// Whether the score task already wrote `vars.amount`.
    scored: bool,
    /// The driver that created it, whose user owns it.
    client: usize,
}

fn who(client: usize) -> Result<(InstanceOwner, Actor), String> {
    let pid = format!("{:011}", 10_000_000_000u64 + client as u64);
    let party = Party::person(&pid).ok_or("bad person number")?;
    Ok((InstanceOwner::new(party), Actor::user(pid)))
}

impl Driver {
    /// Create (with `vars.i`) and, in the service process, work the score job: the instance is
    /// then at `A`.
    async fn start(&self, i: u64, client: usize) -> Result<Parked, String> {
        let (owner, actor) = who(client)?;
        let created = self
            .rt
            .create_instance(CreateInstance {
                app: self.app.clone(),
                owner,
                actor,
                data: BTreeMap::from([(DataTypeId::new(VARS), json!({ "i": i }))]),
                start_event: None,
                idempotency: None,
            })
            .await
            .map_err(|e| format!("create: {e}"))?;
        Tally::add(&self.tally.calls);
        let instance = created.instance;
        let job = instance.process.job_tokens().next().map(|(_, _, key)| key);
        match job {
            None => Ok(Parked {
                id: instance.id,
                i,
                snapshot: Some(Box::new(instance)),
                scored: false,
                client,
            }),
            Some(key) => {
                self.work(key).await?;
                Ok(Parked {
                    id: instance.id,
                    i,
                    snapshot: None,
                    scored: true,
                    client,
                })
            }
        }
    }

    /// Lease, run the handler, complete: three engine calls, two commits.
    async fn work(&self, key: JobKey) -> Result<(), String> {
        let leased = self
            .rt
            .lease_job(key, false, "flyt-bench-peer", Duration::from_secs(60))
            .await
            .map_err(|e| format!("lease: {e}"))?
            .ok_or_else(|| format!("job {key} was not due"))?;
        let ctx = self
            .rt
            .job_context(&leased)
            .map_err(|e| format!("job context: {e}"))?
            .ok_or_else(|| format!("job {key} has no instance"))?;
        let completion = match self.handler.execute(ctx).await {
            ServiceTaskOutcome::Completed(c) => c,
            other => return Err(format!("score task: {other:?}")),
        };
        match self.rt.complete_job(&leased, completion).await {
            Ok(Completed::Moved) => {}
            Ok(other) => return Err(format!("job {key}: {other:?}")),
            Err(e) => return Err(format!("complete: {e}")),
        }
        Tally::add(&self.tally.calls);
        Tally::add(&self.tally.calls);
        Ok(())
    }

    /// Complete `A` (writing the amount first unless the score task did), then `B` or `C`.
    async fn finish(&self, parked: Parked) -> Result<(), String> {
        let (_, actor) = who(parked.client)?;
        let mut snapshot = parked.snapshot;
        if !parked.scored {
            let amount = PeerArgs::amount(parked.i);
            let written = self
                .rt
                .write_data(WriteData {
                    instance: parked.id,
                    data_type: DataTypeId::new(VARS),
                    value: json!({ "i": parked.i, "amount": amount }),
                    actor: actor.clone(),
                    expected_version: None,
                })
                .await
                .map_err(|e| format!("write vars: {e}"))?;
            Tally::add(&self.tally.calls);
            snapshot = Some(Box::new(written));
        }
        let next = |task: &str| Next {
            instance: parked.id,
            action: None,
            task: Some(task.to_string()),
            actor: actor.clone(),
            expected_version: None,
            on_behalf_of: None,
        };
        let moved = match snapshot {
            Some(s) => self.rt.next_from(*s, next("A")).await,
            None => self.rt.next(next("A")).await,
        }
        .map_err(|e| format!("complete A: {e}"))?;
        Tally::add(&self.tally.calls);
        Tally::add(&self.tally.user_tasks);
        let branch = moved
            .process
            .current_task()
            .map(|t| t.element_id.to_string())
            .unwrap_or_default();
        self.tally.branch(&branch)?;
        let ended = self
            .rt
            .next_from(moved, next(&branch))
            .await
            .map_err(|e| format!("complete {branch}: {e}"))?;
        Tally::add(&self.tally.calls);
        if !ended.is_ended() {
            return Err(format!("instance {} did not end after {branch}", parked.id));
        }
        Ok(())
    }
}

pub async fn run(args: &PeerArgs, dir: &Path, tally: &Arc<Tally>) -> Result<Measured, String> {
    let app = flyt_api::apps::load(&dir.join("apps").join(args.app_id())).map_err(|e| {
        e.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let store_dir = dir.join("store");
    let store = match args.store {
        // As an embedding application keeping state in memory would: commits in the caller.
        BackendKind::Memory => Store::memory_direct(),
        kind => Store::open(kind, &store_dir, 64 << 20, GroupConfig::default())
            .map_err(|e| e.to_string())?,
    };
    let score = Score::new(args, args.concurrency)?;
    let service_call = format!(
        "in-process handler ({}), worked by the driver right after the commit that reached the task",
        score.describe()
    );
    let handler = Arc::new(ScoreHandler {
        score,
        tally: tally.clone(),
    });
    let rt = Runtime::with(
        store,
        Registry::builder()
            .service_task(SCORE, handler.clone())
            .build(),
        Arc::new(flyt_engine::time::SystemClock),
        RuntimeConfig::default(),
    );
    let parse = Instant::now();
    rt.register_app(app.spec.clone());
    rt.deploy(&app.id, &app.bpmn, "flyt-bench-peer")
        .await
        .map_err(|e| format!("deploy: {e}"))?;
    let parse_s = parse.elapsed().as_secs_f64();
    let driver = Arc::new(Driver {
        rt: rt.clone(),
        app: app.id.clone(),
        handler,
        tally: tally.clone(),
    });
    let (n, k) = (args.n, args.concurrency);
    let cpu_before = cpu_s("self");
    let started = Instant::now();
    let mut hold = None;
    if args.mode == Mode::Hold {
        let rss_before = status_kb("self", "VmRSS");
        let parked = for_each(k, n, {
            let driver = driver.clone();
            move |i, client| {
                let driver = driver.clone();
                async move {
                    // Only the id is kept: a parked instance lives in the store.
                    let mut parked = driver.start(i as u64, client).await?;
                    parked.snapshot = None;
                    Ok(parked)
                }
            }
        })
        .await?;
        hold = Some((rss_before, status_kb("self", "VmRSS")));
        let parked = Arc::new(std::sync::Mutex::new(
            parked.into_iter().map(Some).collect::<Vec<_>>(),
        ));
        for_each(k, n, {
            let driver = driver.clone();
            move |i, _| {
                let (driver, parked) = (driver.clone(), parked.clone());
                async move {
                    let one = parked
                        .lock()
                        .map_err(|_| "a driver panicked")?
                        .get_mut(i)
                        .and_then(Option::take)
                        .ok_or("instance parked twice")?;
                    driver.finish(one).await
                }
            }
        })
        .await?;
    } else {
        for_each(k, n, {
            let driver = driver.clone();
            move |i, client| {
                let driver = driver.clone();
                async move {
                    let parked = driver.start(i as u64, client).await?;
                    driver.finish(parked).await
                }
            }
        })
        .await?;
    }
    let run_s = started.elapsed().as_secs_f64();
    let server_cpu_s = cpu_s("self") - cpu_before;
    let stats = rt.store().stats();
    rt.store().shutdown();
    let durable = args.store != BackendKind::Memory;
    Ok(Measured {
        run_s,
        parse_s,
        hold,
        server_vmhwm_kb: status_kb("self", "VmHWM"),
        server_cpu_s,
        driver_cpu_s: None,
        disk_bytes: durable.then(|| disk_bytes(&store_dir)),
        commits_per_fsync: durable.then(|| stats.units as f64 / stats.batches.max(1) as f64),
        service_call,
        durability: if durable {
            format!(
                "every transition committed to {} (fsync, group commit) before the next step",
                args.store.as_str()
            )
        } else {
            "none: the memory backend".into()
        },
        workers: None,
    })
}

/// Runs `f(i, client)` for `i` in `0..n` on `k` concurrent tasks (each takes the next `i`);
/// the results in `i` order, or the first error.
pub async fn for_each<T, F, Fut>(k: usize, n: usize, f: F) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(k);
    for client in 0..k {
        let (next, f) = (next.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, String>(done);
                }
                done.push((i, f(i, client).await?));
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    for task in tasks {
        all.extend(task.await.map_err(|e| e.to_string())??);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}
