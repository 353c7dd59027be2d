//! `flyt bench peer`: flyt's driver for the peer benchmark kit (`../shared/bench-peers`), the
//! same work the kit's SpiffWorkflow and bpmn-engine drivers do, on the same BPMN files.
//!
//! The kit's contract: `--bpmn=FILE --process=ID --n=N --mode=inmem|resume|hold
//! --service=stub|http --port=PORT --concurrency=K` (also `--flag value`; the last of a repeated
//! flag wins; unknown flags are ignored) and ONE JSON line on stdout. flyt's own flags:
//!
//! - `--via=library` (default): the engine in this process, as an embedding application uses it
//!   ([`library`]); `--via=rest`: a real `flyt serve` child on loopback, K HTTP clients and an
//!   external job worker ([`rest`]).
//! - `--store=memory|redb`: the backend; default `memory` for `inmem` and `hold` (the peers keep
//!   state in memory), `redb` for `resume` (every transition durable before the next step).
//! - `--dir=PATH`: where stores and app files go (default: a temporary folder, removed after).
//!
//! Instance `i` starts with `vars = {"i": i}`. In the approval process the driver writes
//! `vars.amount` (150 for even `i`, else 50) while user task `A` is active, then completes `A`;
//! in the service process the score task sets it. The gateway sends amounts over 100 to `B`,
//! the rest to `C`; the driver completes `B` or `C` and checks the instance ended.

mod dialect;
mod library;
mod rest;
mod score;

use flyt_engine::store::open::BackendKind;
use serde_json::{Value, json};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

pub use dialect::translate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Inmem,
    Resume,
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Library,
    Rest,
}

/// The driver's arguments.
#[derive(Debug, Clone)]
pub struct PeerArgs {
    pub bpmn: PathBuf,
    pub process: String,
    pub n: usize,
    pub mode: Mode,
    /// `false`: `stub` (answered in-process); `true`: `http` (the kit's score app).
    pub http_service: bool,
    pub port: u16,
    pub concurrency: usize,
    pub via: Via,
    pub store: BackendKind,
    pub dir: Option<PathBuf>,
}

impl PeerArgs {
    /// Parses the kit's flags; unknown ones are ignored, the last of a repeated one wins.
    pub fn parse(args: &[OsString]) -> Result<PeerArgs, String> {
        let mut values = std::collections::HashMap::new();
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].to_string_lossy().into_owned();
            i += 1;
            let Some(flag) = arg.strip_prefix("--") else {
                continue;
            };
            let (key, value) = match flag.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => match args.get(i).map(|a| a.to_string_lossy().into_owned()) {
                    Some(v) if !v.starts_with("--") => {
                        i += 1;
                        (flag.to_string(), v)
                    }
                    _ => (flag.to_string(), String::new()),
                },
            };
            values.insert(key, value);
        }
        let get = |k: &str| values.get(k).map(String::as_str);
        let number = |k: &str, default: usize| -> Result<usize, String> {
            get(k).map_or(Ok(default), |v| {
                v.parse().map_err(|_| format!("--{k}={v}: not a number"))
            })
        };
        let mode = match get("mode").unwrap_or("inmem") {
            "inmem" => Mode::Inmem,
            "resume" => Mode::Resume,
            "hold" => Mode::Hold,
            other => return Err(format!("--mode={other}: inmem, resume or hold")),
        };
        let http_service = match get("service").unwrap_or("stub") {
            "stub" => false,
            "http" => true,
            other => return Err(format!("--service={other}: stub or http")),
        };
        let via = match get("via").unwrap_or("library") {
            "library" => Via::Library,
            "rest" => Via::Rest,
            other => return Err(format!("--via={other}: library or rest")),
        };
        let store = match get("store") {
            None if mode == Mode::Resume => BackendKind::Redb,
            None => BackendKind::Memory,
            Some("memory") => BackendKind::Memory,
            Some("redb") => BackendKind::Redb,
            Some(other) => return Err(format!("--store={other}: memory or redb")),
        };
        Ok(PeerArgs {
            bpmn: PathBuf::from(get("bpmn").ok_or("--bpmn=FILE is required")?),
            process: get("process")
                .ok_or("--process=ID is required")?
                .to_string(),
            n: number("n", 2000)?.max(1),
            mode,
            http_service,
            port: u16::try_from(number("port", 18080)?).map_err(|_| "--port: not a port")?,
            concurrency: number("concurrency", 1)?.max(1),
            via,
            store,
            dir: get("dir").map(PathBuf::from),
        })
    }

    /// The score app's URL (for `--service=http`).
    pub fn score_url(&self) -> String {
        format!("http://127.0.0.1:{}/score", self.port)
    }

    /// The app id the kit's process runs under: `peer/<process id, `_` as `-`>`.
    pub fn app_id(&self) -> String {
        let name: String = self
            .process
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        format!("peer/{name}")
    }

    /// The amount user task `A` writes for instance `i` when no service task set one.
    pub fn amount(i: u64) -> i64 {
        if i.is_multiple_of(2) { 150 } else { 50 }
    }
}

/// Counts shared by the drivers of one run.
#[derive(Debug, Default)]
pub struct Tally {
    pub b: AtomicU64,
    pub c: AtomicU64,
    pub user_tasks: AtomicU64,
    pub service_calls: AtomicU64,
    /// Engine commands (library) or HTTP requests to flyt (REST).
    pub calls: AtomicU64,
}

impl Tally {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts the branch task an instance has reached after `A`.
    pub fn branch(&self, element: &str) -> Result<(), String> {
        match element {
            "B" => Tally::add(&self.b),
            "C" => Tally::add(&self.c),
            other => return Err(format!("after A the instance is at `{other}`, not B or C")),
        }
        Ok(())
    }
}

/// What a run measured, beyond the tally.
#[derive(Debug, Default)]
pub struct Measured {
    pub run_s: f64,
    pub parse_s: f64,
    /// `rss_before_kb`, `rss_parked_kb` (for `hold`).
    pub hold: Option<(u64, u64)>,
    /// The process holding the instances (the server, or this process in library mode).
    pub server_vmhwm_kb: u64,
    pub server_cpu_s: f64,
    /// This process's CPU in the timed part (REST only: in library mode it is the server's).
    pub driver_cpu_s: Option<f64>,
    pub disk_bytes: Option<u64>,
    pub commits_per_fsync: Option<f64>,
    pub service_call: String,
    pub durability: String,
    pub workers: Option<usize>,
}

/// `flyt bench peer ...`: runs the driver and prints its one JSON line.
pub fn main(args: &[OsString]) -> ExitCode {
    let args = match PeerArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flyt bench peer: {e}");
            return ExitCode::from(2);
        }
    };
    // One driver: one thread, as the peers' single-threaded drivers (the engine's commit thread
    // aside). More: the machine's cores.
    let mut builder = if args.concurrency == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flyt bench peer: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(line) => {
            let ok = line["ok"] == true;
            flyt_api::outln!("{line}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("flyt bench peer: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One run: the JSON line.
pub async fn run(args: &PeerArgs) -> Result<Value, String> {
    let source =
        std::fs::read_to_string(&args.bpmn).map_err(|e| format!("{}: {e}", args.bpmn.display()))?;
    let bpmn = dialect::translate(&source)?;
    let temp = args.dir.is_none();
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("flyt-peer-{}", uuid::Uuid::new_v4().simple()))
    });
    let app_dir = dir.join("apps").join(args.app_id());
    std::fs::create_dir_all(&app_dir).map_err(|e| format!("{}: {e}", app_dir.display()))?;
    let write = |name: &str, text: &str| {
        std::fs::write(app_dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("process.bpmn", &bpmn)?;
    write(
        "app.toml",
        &dialect::app_file(&args.process, args.via == Via::Rest),
    )?;
    let tally = std::sync::Arc::new(Tally::default());
    let result = match args.via {
        Via::Library => library::run(args, &dir, &tally).await,
        Via::Rest => rest::run(args, &dir, &tally).await,
    };
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(line(
        args,
        &tally,
        &result?,
        bpmn.contains("<bpmn:serviceTask"),
    ))
}

fn line(args: &PeerArgs, tally: &Tally, m: &Measured, service_task: bool) -> Value {
    let n = args.n as u64;
    let (b, c) = (Tally::get(&tally.b), Tally::get(&tally.c));
    let user_tasks = Tally::get(&tally.user_tasks);
    let expect_b = n.div_ceil(2);
    let ok = b == expect_b && c == n - expect_b && user_tasks == n;
    let hold = m.hold.map(|(before, parked)| {
        json!({
            "rss_before_kb": before,
            "rss_parked_kb": parked,
            "kb_per_parked_instance": ((parked.saturating_sub(before)) as f64 / n as f64 * 100.0).round() / 100.0,
        })
    });
    let mode = match args.mode {
        Mode::Inmem => "inmem",
        Mode::Resume => "resume",
        Mode::Hold => "hold",
    };
    let via = match args.via {
        Via::Library => "library",
        Via::Rest => "rest",
    };
    let round = |x: f64, digits: i32| {
        let f = 10f64.powi(digits);
        (x * f).round() / f
    };
    json!({
        "peer": "flyt",
        "version": env!("CARGO_PKG_VERSION"),
        "bpmn": args.bpmn.file_name().map(|f| f.to_string_lossy().into_owned()),
        "mode": mode,
        "service": if args.http_service { "http" } else { "stub" },
        "via": via,
        "backend": args.store.as_str(),
        "durable": args.store != BackendKind::Memory,
        "durability": m.durability,
        "concurrency": args.concurrency,
        "clients": args.concurrency,
        "job_workers": m.workers,
        "service_call": if service_task { m.service_call.as_str() } else { "none: the process has no service task" },
        "n": n,
        "parse_s": round(m.parse_s, 4),
        "run_s": round(m.run_s, 3),
        "instances_per_s": round(n as f64 / m.run_s, 1),
        "ms_per_instance": round(1000.0 * m.run_s / n as f64, 3),
        "branches": { "B": b, "C": c },
        "user_tasks_completed": user_tasks,
        "service_calls": Tally::get(&tally.service_calls),
        "flyt_requests_per_s": round(Tally::get(&tally.calls) as f64 / m.run_s, 0),
        "flyt_calls": Tally::get(&tally.calls),
        "commits_per_fsync": m.commits_per_fsync.map(|x| round(x, 2)),
        "store_disk_bytes_per_instance": m.disk_bytes.map(|d| d / n),
        "server": {
            "in_process": args.via == Via::Library,
            "vmhwm_kb": m.server_vmhwm_kb,
            "cpu_s_timed": round(m.server_cpu_s, 3),
        },
        "driver_cpu_s_timed": round(m.driver_cpu_s.unwrap_or(0.0), 3),
        "hold": hold,
        "ok": ok,
    })
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
pub fn status_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of a process so far (`/proc/<pid>/stat`, in USER_HZ = 100).
pub fn cpu_s(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Bytes allocated on disk under `path`.
pub fn disk_bytes(path: &Path) -> u64 {
    crate::footprint::disk_usage(path).0
}
