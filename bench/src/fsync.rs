//! The machine's own fsync rate: the physical limit of one-commit-per-request designs.

use super::Row;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn run(dir: &Path, for_: Duration) -> Result<Vec<Row>, String> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| e.to_string())?;
    let block = vec![0u8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < for_ {
        file.write_all(&block).map_err(|e| e.to_string())?;
        file.sync_data().map_err(|e| e.to_string())?;
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    Ok(vec![Row::new(
        "fsync",
        "4 KiB write + fdatasync",
        "rate",
        rate,
        "fsync/s",
    )])
}
