//! flyt's benchmarks, run by `flyt bench <scenario>`: measured numbers, printed as a table and
//! as JSON. A crate of its own so that the server crates carry no benchmark code.
//!
//! Scenarios: `in-process` (the approval process on each backend), `rest` (the same over HTTP
//! with real JWTs and durable storage), `multi-app` (A → B creations across two servers),
//! `definitions` (parse and validate a generated 10,000-element definition), `footprint` (disk
//! and memory with many parked instances), `fsync` (this machine's fsync rate), `timers` (many
//! pending timers, then all of them firing at once under a REST load), `multi-instance` (a
//! parallel multi-instance task over 1,000 items: create, complete all, stored size), `messages`
//! (message correlations over REST to waiting receive tasks), `round-trip` (A → B → A loops
//! across two servers), or `all`. On PostgreSQL with real `flyt serve` processes (the server in
//! `FLYT_DATABASE_URL`; not part of `all`): `nodes` (the REST load over 1 … N nodes on one
//! database), `jobs` (external jobs claimed and completed per second across N nodes) and
//! `pg-footprint` (bytes per parked instance per table, and dead tuples and vacuum runs under a
//! sustained load).
//!
//! `flyt bench peer` is the driver for the peer benchmark kit, with the kit's own flags: see
//! [`peer`].

mod cluster;
mod definitions;
mod footprint;
mod fsync;
mod generate;
mod in_process;
mod messages;
mod multi_app;
mod multi_instance;
pub mod peer;
mod rest;
mod round_trip;
mod timers;

use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    All,
    InProcess,
    Rest,
    MultiApp,
    Definitions,
    Footprint,
    Fsync,
    /// Pending timers (disk, a server's start-up and memory over them) and firing them all at
    /// once under a REST load: `timers-pending` and `timers-fire`.
    Timers,
    /// A parallel multi-instance task over `--inner` items (default 1,000) on one instance:
    /// the create, completing every inner instance, the record's size.
    MultiInstance,
    /// Message correlations over authenticated REST, each to a waiting receive task.
    Messages,
    /// A → B → A loops across two servers: A creates B's case, B's decision comes back to A as
    /// a message.
    RoundTrip,
    /// PostgreSQL (`FLYT_DATABASE_URL`): the REST approval load spread over 1, 2, … `--nodes`
    /// real `flyt serve` processes on one database (a fresh one per count); not part of `all`.
    Nodes,
    /// PostgreSQL: external jobs claimed and completed per second by `--clients` workers spread
    /// over `--nodes` nodes (default 3), the jobs queued beforehand; not part of `all`.
    Jobs,
    /// PostgreSQL: bytes per instance parked at a user task (`--parked`, default 100,000) per
    /// table, then `--seconds` (default 180) of the full REST load with the tables' dead tuples
    /// and (auto)vacuum runs before, during and after; not part of `all`.
    PgFootprint,
    /// The peer-benchmark driver: `flyt bench peer --bpmn=FILE --process=ID ...` (the kit's
    /// flags, see BENCHMARKS.md); not part of `all`.
    Peer,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Instances per run (in-process, rest, multi-app, messages, round-trip, nodes; jobs: the
    /// jobs queued). Default 20,000
    /// (multi-app and round-trip: 2,000).
    #[arg(long)]
    pub instances: Option<usize>,
    /// Concurrent drivers / HTTP clients (jobs: external workers). Default 64.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Parked instances for `footprint` and `pg-footprint`. Default 100,000.
    #[arg(long)]
    pub parked: Option<usize>,
    /// Timers for `timers`. Default 1,000,000.
    #[arg(long)]
    pub timers: Option<usize>,
    /// Nodes for `nodes` (runs 1 … N) and `jobs`. Default 3.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Seconds of sustained load for `pg-footprint`. Default 180.
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Inner instances for `multi-instance`. Default 1,000.
    #[arg(long)]
    pub inner: Option<usize>,
    /// Backends for `in-process` (repeatable; default memory, redb, sled) and `rest` (redb or
    /// postgres, the database in `FLYT_DATABASE_URL`; default redb).
    #[arg(long = "backend")]
    pub backends: Vec<flyt_engine::store::open::BackendKind>,
    /// Where the stores go (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Example apps (the approval app and the multi-app pair). Default ./processes.
    #[arg(long, default_value = "processes")]
    pub processes: PathBuf,
    /// Tiny runs, to check the benchmark works (the test suite runs this).
    #[arg(long)]
    pub smoke: bool,
    /// Also write the JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One measured number.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: &'static str,
    pub variant: String,
    pub metric: String,
    pub value: f64,
    pub unit: &'static str,
}

impl Row {
    pub fn new(
        scenario: &'static str,
        variant: impl Into<String>,
        metric: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Row {
            scenario,
            variant: variant.into(),
            metric: metric.into(),
            value,
            unit,
        }
    }
}

/// Latency percentiles of a set of samples.
pub fn percentiles(samples: &mut [Duration]) -> (Duration, Duration, Duration) {
    if samples.is_empty() {
        return (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    }
    samples.sort_unstable();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99), samples[samples.len() - 1])
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: BenchArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flyt bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let temp = args.dir.is_none();
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("flyt-bench-{}", uuid::Uuid::new_v4().simple()))
    });
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("flyt bench: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let result = runtime.block_on(scenarios(&args, &dir));
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    match result {
        Ok(rows) => {
            print_table(&rows);
            let json = to_json(&args, &rows);
            let text = serde_json::to_string_pretty(&json).unwrap_or_default();
            flyt_api::outln!("{text}");
            if let Some(path) = &args.json
                && let Err(e) = std::fs::write(path, &text)
            {
                eprintln!("flyt bench: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flyt bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn scenarios(args: &BenchArgs, dir: &Path) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    if args.scenario == Scenario::Peer {
        return Err(
            "`peer` takes the kit's flags: flyt bench peer --bpmn=FILE --process=ID ...".into(),
        );
    }
    let want = |s: Scenario| args.scenario == Scenario::All || args.scenario == s;
    if want(Scenario::Fsync) {
        rows.extend(fsync::run(
            dir,
            if args.smoke {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(3)
            },
        )?);
    }
    if want(Scenario::Definitions) {
        rows.extend(definitions::run(if args.smoke { 3 } else { 30 })?);
    }
    if want(Scenario::InProcess) {
        let n = if args.smoke {
            200
        } else {
            args.instances.unwrap_or(20_000)
        };
        rows.extend(in_process::run(&args.processes, dir, n, args.clients, &args.backends).await?);
    }
    if want(Scenario::Rest) {
        let n = if args.smoke {
            100
        } else {
            args.instances.unwrap_or(20_000)
        };
        rows.extend(rest::run(&args.processes, dir, n, args.clients, &args.backends).await?);
    }
    if want(Scenario::MultiApp) {
        let n = if args.smoke {
            20
        } else {
            args.instances.unwrap_or(2_000)
        };
        rows.extend(multi_app::run(&args.processes, dir, n, args.clients).await?);
    }
    if want(Scenario::Messages) {
        let n = if args.smoke {
            100
        } else {
            args.instances.unwrap_or(20_000)
        };
        rows.extend(messages::run(dir, n, args.clients).await?);
    }
    if want(Scenario::RoundTrip) {
        let n = if args.smoke {
            10
        } else {
            args.instances.unwrap_or(2_000)
        };
        rows.extend(round_trip::run(&args.processes, dir, n, args.clients).await?);
    }
    let only = |s: Scenario| args.scenario == s;
    if only(Scenario::Nodes) {
        let n = if args.smoke {
            60
        } else {
            args.instances.unwrap_or(20_000)
        };
        rows.extend(cluster::nodes(&args.processes, dir, n, args.clients, args.nodes).await?);
    }
    if only(Scenario::Jobs) {
        let n = if args.smoke {
            60
        } else {
            args.instances.unwrap_or(20_000)
        };
        rows.extend(cluster::jobs(dir, n, args.clients, args.nodes, 16).await?);
    }
    if only(Scenario::PgFootprint) {
        let (n, seconds) = if args.smoke {
            (60, 3)
        } else {
            (args.parked.unwrap_or(100_000), args.seconds.unwrap_or(180))
        };
        rows.extend(cluster::footprint(&args.processes, dir, n, args.clients, seconds).await?);
    }
    if want(Scenario::Footprint) {
        let n = if args.smoke {
            500
        } else {
            args.parked.unwrap_or(100_000)
        };
        rows.extend(footprint::run(&args.processes, dir, n).await?);
    }
    if want(Scenario::Timers) {
        let n = if args.smoke {
            300
        } else {
            args.timers.unwrap_or(1_000_000)
        };
        rows.extend(timers::run(dir, n, args.clients).await?);
    }
    if want(Scenario::MultiInstance) {
        let n = if args.smoke {
            20
        } else {
            args.inner.unwrap_or(1_000)
        };
        rows.extend(multi_instance::run(dir, n).await?);
    }
    Ok(rows)
}

fn print_table(rows: &[Row]) {
    flyt_api::outln!(
        "{:<12} {:<28} {:<36} {:>12} unit",
        "scenario",
        "variant",
        "metric",
        "value"
    );
    for r in rows {
        let value = if r.value >= 100.0 {
            format!("{:.0}", r.value)
        } else {
            format!("{:.3}", r.value)
        };
        flyt_api::outln!(
            "{:<12} {:<28} {:<36} {:>12} {}",
            r.scenario,
            r.variant,
            r.metric,
            value,
            r.unit
        );
    }
}

fn to_json(args: &BenchArgs, rows: &[Row]) -> Value {
    json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "smoke": args.smoke,
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "results": rows.iter().map(|r| json!({"scenario": r.scenario, "variant": r.variant, "metric": r.metric, "value": r.value, "unit": r.unit})).collect::<Vec<_>>(),
    })
}
