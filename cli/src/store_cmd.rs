//! `flyt store migrate` and `flyt store copy`: moving to PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flyt_api::config::redact_url;
use flyt_engine::store::Store;
use flyt_engine::store::copy::copy_all;
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::open::{BackendKind, open_postgres};

/// Applies pending migrations to the database of `--url` or the configuration.
pub fn migrate(url: Option<String>, config: Option<PathBuf>) -> ExitCode {
    let url = match url {
        Some(url) => url,
        None => match crate::cli::load_config(config)
            .and_then(|c| c.storage.postgres_url().map(str::to_string))
        {
            Ok(url) => url,
            Err(e) => {
                eprintln!("flyt store migrate: {e}");
                return ExitCode::from(2);
            }
        },
    };
    // Opening with `migrate` applies what is missing (under an advisory lock: several nodes
    // may start at once) and refuses a schema newer than this build.
    match open_postgres(&url, true) {
        Ok(backend) => {
            let _ = backend.close();
            flyt_api::outln!(
                "the PostgreSQL schema at {} is at version {}",
                redact_url(&url),
                flyt_engine::store::postgres::schema::current_version()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flyt store migrate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The redb store directory inside a data directory (or the directory itself).
fn redb_dir(from: &Path) -> Option<PathBuf> {
    [from.join("store"), from.to_path_buf()]
        .into_iter()
        .find(|dir| dir.join("flyt.redb").is_file())
}

/// Copies the redb store in `from` into the database at `to`, then verifies it.
pub fn copy(from: &Path, to: &str) -> ExitCode {
    let Some(dir) = redb_dir(from) else {
        eprintln!(
            "flyt store copy: no redb store in {} (looked for store/flyt.redb and flyt.redb)",
            from.display()
        );
        return ExitCode::from(2);
    };
    let started = std::time::Instant::now();
    // Opened as flyt opens it: locked (so not while a server runs), and an older format
    // upgraded first, so the copy is of the current format.
    let source = match Store::open(BackendKind::Redb, &dir, 64 << 20, GroupConfig::default()) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("flyt store copy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let target = match open_postgres(to, true) {
        Ok(backend) => backend,
        Err(e) => {
            eprintln!("flyt store copy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = copy_all(&**source.backend(), &*target);
    source.shutdown();
    let _ = target.close();
    match result {
        Ok(summary) => {
            flyt_api::outln!(
                "copied {} keys ({} bytes) from {} to {} in {:.1} s; counts and checksum {} match",
                summary.keys,
                summary.bytes,
                dir.display(),
                redact_url(to),
                started.elapsed().as_secs_f64(),
                summary.checksum
            );
            flyt_api::outln!(
                "files (binary data) stay in {}: give the PostgreSQL nodes this data_dir or a copy of it",
                dir.join("blobs").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flyt store copy: {e}");
            ExitCode::FAILURE
        }
    }
}
