//! Footprint: bytes on disk per parked instance, and the resident memory of a real server
//! process over a store holding them (instances waiting at a user task live on disk, not in
//! memory).

use super::Row;
use super::in_process::runtime_for;
use flyt_engine::ids::DataTypeId;
use flyt_engine::model::{Actor, InstanceOwner, Party};
use flyt_engine::runtime::CreateInstance;
use flyt_engine::store::open::BackendKind;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// Bytes under `path` as (allocated on disk, file lengths).
pub(crate) fn disk_usage(path: &Path) -> (u64, u64) {
    let mut total = (0, 0);
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            let p = e.path();
            let (disk, len) = if p.is_dir() {
                disk_usage(&p)
            } else {
                e.metadata()
                    .map(|m| (on_disk(&m), m.len()))
                    .unwrap_or((0, 0))
            };
            total = (total.0 + disk, total.1 + len);
        }
    }
    total
}

/// The space a file takes on disk: its allocated blocks, not its length (redb grows its file
/// ahead of use, and the part never written is sparse).
#[cfg(unix)]
fn on_disk(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.blocks() * 512
}

#[cfg(not(unix))]
fn on_disk(m: &std::fs::Metadata) -> u64 {
    m.len()
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub async fn run(processes: &Path, dir: &Path, n: usize) -> Result<Vec<Row>, String> {
    let data = dir.join("footprint");
    // The server keeps its store in `<data_dir>/store`.
    let (rt, app) = runtime_for(processes, BackendKind::Redb, &data).await?;
    let empty = disk_usage(&data);
    let drivers = 64;
    let per = n.div_ceil(drivers);
    let mut tasks = Vec::new();
    for d in 0..drivers {
        let (rt, app) = (rt.clone(), app.clone());
        tasks.push(tokio::spawn(async move {
            for i in (d * per)..((d + 1) * per).min(n) {
                let pid = format!("{:011}", 10_000_000_000u64 + (i as u64 % 100_000));
                let mut payload = BTreeMap::new();
                payload.insert(DataTypeId::new("claim"), serde_json::json!({ "amount": 120, "currency": "NOK", "description": "train ticket" }));
                let party = Party::person(&pid).ok_or("bad pid")?;
                rt.create_instance(CreateInstance { app: app.clone(), owner: InstanceOwner::new(party), actor: Actor::user(pid), data: payload, start_event: None, idempotency: None })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let logical = logical_bytes(rt.store())?;
    // Every commit was durable when it returned: the file is what a running server has.
    let (bytes, length) = disk_usage(&data);
    let (bytes, length) = (
        bytes.saturating_sub(empty.0),
        length.saturating_sub(empty.1),
    );
    // What `flyt store compact` gives back: the pages copy-on-write left free.
    let started = std::time::Instant::now();
    rt.store().compact().map_err(|e| e.to_string())?;
    let compaction = started.elapsed();
    let compacted = disk_usage(&data).0.saturating_sub(empty.0);
    rt.store().shutdown();
    drop(rt);
    // runtime_for put the store in <data>/redb; move it where a server looks.
    std::fs::rename(data.join("redb"), data.join("store")).map_err(|e| e.to_string())?;

    // A real server process over this store: its resident memory after start and a read.
    let config = data.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n",
            processes.display(),
            data.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("FLYT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads to the end: a server whose stdout is closed after its first line stops with a broken
    // pipe when it prints its next one, and a stopped process has no resident memory to read.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(u) = line.strip_prefix("flyt listening on ") {
                let _ = tx.send(u.to_string());
            }
        }
    });
    let Ok(url) = rx.recv_timeout(std::time::Duration::from_secs(60)) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the footprint server did not start within 60 s".into());
    };
    let rss = async {
        let http = reqwest::Client::new();
        let _ = http
            .get(format!("{url}/ttd/approval/instances?limit=100"))
            .send()
            .await;
        rss_kib(child.id())
    }
    .await;
    let exited = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    if let Some(status) = exited {
        return Err(format!("the footprint server stopped early ({status})"));
    }
    let rss = rss.ok_or("could not read the server's resident memory")?;
    let v = format!("redb, {n} parked");
    let mut rows: Vec<Row> = logical
        .iter()
        .map(|(table, bytes)| {
            Row::new(
                "footprint",
                v.clone(),
                format!("stored per instance: {table}"),
                *bytes as f64 / n as f64,
                "bytes",
            )
        })
        .collect();
    rows.extend(vec![
        Row::new(
            "footprint",
            v.clone(),
            "disk per instance (allocated)",
            bytes as f64 / n as f64,
            "bytes",
        ),
        Row::new(
            "footprint",
            v.clone(),
            "file length per instance",
            length as f64 / n as f64,
            "bytes",
        ),
        Row::new(
            "footprint",
            v.clone(),
            "disk per instance, compacted",
            compacted as f64 / n as f64,
            "bytes",
        ),
        Row::new(
            "footprint",
            v.clone(),
            "compaction time",
            compaction.as_secs_f64(),
            "s",
        ),
        Row::new(
            "footprint",
            v.clone(),
            "disk total",
            bytes as f64 / (1024.0 * 1024.0),
            "MiB",
        ),
        Row::new(
            "footprint",
            v,
            "server resident memory",
            rss as f64 / 1024.0,
            "MiB",
        ),
    ]);
    Ok(rows)
}

/// Bytes of keys and values per table (by the key's tag byte): what the engine asks the store
/// to keep, before the B-tree's own overhead.
fn logical_bytes(store: &flyt_engine::store::Store) -> Result<Vec<(String, u64)>, String> {
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut start = Vec::new();
    loop {
        let page = store
            .backend()
            .range(&start, &[0xff; 8], 10_000)
            .map_err(|e| e.to_string())?;
        let Some((last, _)) = page.last() else { break };
        start = last.clone();
        start.push(0);
        for (key, value) in &page {
            let table = match key.first() {
                Some(b'I') => match key.get(17) {
                    Some(0) => "instance record",
                    Some(1) => "history",
                    Some(2) => "data",
                    _ => "instance (other)",
                },
                Some(b'O') => "owner index",
                Some(b'J') | Some(b'Q') => "jobs",
                _ => "other",
            };
            *totals.entry(table.to_string()).or_default() += (key.len() + value.len()) as u64;
        }
    }
    Ok(totals.into_iter().collect())
}
