//! The `flyt` command: `serve`, `validate`, `token`, `demo`, `bench`, `store`.

use clap::{Parser, Subcommand, ValueEnum};
use flyt_api::config::ServerConfig;
use flyt_api::server::{ServerBuilder, shutdown_signal};
use flyt_engine::bpmn::{self, Diagnostic, Options};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "flyt",
    version,
    about = "A BPMN process engine for multi-app solutions"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (with no config: the example apps, ./data, the development authority on).
    Serve {
        /// A TOML config file (also `FLYT_CONFIG`; default ./flyt.toml if it exists).
        #[arg(long, env = "FLYT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check BPMN files (or every .bpmn under a folder, and every Altinn app folder's
    /// applicationmetadata.json and policy.xml). Exit 0: all valid; 1: errors; 2: usage.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also load every app folder (app.toml or Altinn's App/config) and print its policy in
        /// words: who may do what at which task.
        #[arg(long)]
        explain_policy: bool,
    },
    /// Run the multi-app flow on two local servers and print each step.
    Demo {
        /// Where the example apps are. Default ./processes.
        #[arg(long, default_value = "processes")]
        processes: PathBuf,
    },
    /// Run benchmarks and print the numbers (a table, then JSON).
    Bench(flyt_bench::BenchArgs),
    /// Maintain the store of a stopped server.
    Store {
        #[command(subcommand)]
        action: StoreAction,
        #[arg(long, env = "FLYT_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Print a token from the development authority (for curl).
    Token {
        #[command(subcommand)]
        kind: TokenKind,
        #[arg(long, env = "FLYT_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Give space the store no longer uses back to the file system (redb's file never shrinks
    /// by itself). The server must be stopped: the store is locked while it runs.
    Compact,
    /// Apply pending PostgreSQL schema migrations (they only add; nothing is dropped).
    Migrate {
        /// The database (default: storage.url of the config, or FLYT_DATABASE_URL).
        #[arg(long)]
        url: Option<String>,
    },
    /// Copy a stopped server's redb store into PostgreSQL: every key, then counts and a
    /// checksum compared on both sides. Safe to rerun.
    Copy {
        /// The redb data directory (holding `store/flyt.redb`, or `flyt.redb` itself).
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL connection string (default: FLYT_DATABASE_URL).
        #[arg(long, env = "FLYT_DATABASE_URL", hide_env_values = true)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenKind {
    /// A user token.
    User {
        /// National identity number (11 digits).
        #[arg(long)]
        pid: String,
        /// A role for an organisation, `ORGNO:CODE` (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// An organisation token (Maskinporten-shaped).
    Org {
        /// Organisation number (9 digits).
        #[arg(long)]
        org: String,
        /// The org code of a service owner, e.g. `ttd`.
        #[arg(long)]
        code: Option<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
}

/// Runs the command; the binary's `main` is just this.
pub fn main() -> ExitCode {
    // The peer driver takes the benchmark kit's flags (unknown ones ignored, repeats allowed),
    // which clap would refuse.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() >= 3 && args[1] == "bench" && args[2] == "peer" {
        return flyt_bench::peer::main(&args[3..]);
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Validate {
            paths,
            format,
            explain_policy,
        } => validate(&paths, format, explain_policy),
        Command::Serve { config } => with_runtime(serve(config)),
        Command::Token { kind, config } => token(kind, config),
        Command::Store {
            action: StoreAction::Compact,
            config,
        } => compact(config),
        Command::Store {
            action: StoreAction::Migrate { url },
            config,
        } => crate::store_cmd::migrate(url, config),
        Command::Store {
            action: StoreAction::Copy { from, to },
            ..
        } => crate::store_cmd::copy(&from, &to),
        Command::Bench(args) => flyt_bench::run(args),
        Command::Demo { processes } => with_runtime(async move {
            let filter = tracing_subscriber::EnvFilter::try_from_env("FLYT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init();
            flyt_api::demo::run(&processes).await
        }),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLYT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn with_runtime(f: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("flyt: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn load_config(explicit: Option<PathBuf>) -> Result<ServerConfig, String> {
    ServerConfig::for_command(explicit)
}

async fn serve(config: Option<PathBuf>) -> ExitCode {
    init_tracing();
    let config = match load_config(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flyt: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("flyt: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flyt: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dev = config.dev_authority.enabled;
    let server = match ServerBuilder::new(config).build(local).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("flyt: not started");
            return ExitCode::FAILURE;
        }
    };
    let url = server.state.config().public_url();
    if dev {
        tracing::warn!(
            "the DEVELOPMENT AUTHORITY is ON: it issues tokens to anyone who asks. Never enable it in production."
        );
        tracing::warn!(
            "get a user token:  curl -s -X POST {url}/authority/user-token -H 'content-type: application/json' -d '{{\"pid\":\"01017012345\"}}'"
        );
        tracing::warn!("              or:  flyt token user --pid 01017012345");
    }
    for app in server.state.inner.apps.keys() {
        tracing::info!("app {app}: {url}/{app}/instances");
    }
    // A machine-readable line on stdout: tests and scripts read the address from it.
    flyt_api::outln!("flyt listening on {url}");
    // The browser pages (api/src/ui); the browser tests read these lines.
    flyt_api::outln!("designer: {url}/designer\noperate:  {url}/operate");
    match server.serve(listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flyt: {e}");
            ExitCode::FAILURE
        }
    }
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() || entry.extension().is_some_and(|e| e == "bpmn") {
                collect(&entry, out)?;
            }
        }
        Ok(())
    } else if path.is_file() {
        out.push(path.to_path_buf());
        Ok(())
    } else {
        Err(format!("{}: no such file or folder", path.display()))
    }
}

fn validate(paths: &[PathBuf], format: Format, explain_policy: bool) -> ExitCode {
    let mut files = Vec::new();
    let mut app_dirs = Vec::new();
    for path in paths {
        if let Err(e) = collect(path, &mut files) {
            eprintln!("flyt validate: {e}");
            return ExitCode::from(2);
        }
        crate::apps_check::app_dirs(path, explain_policy, &mut app_dirs);
    }
    let mut any_error = false;
    let mut report = Vec::new();
    for dir in &app_dirs {
        let checked = crate::apps_check::check(dir, explain_policy);
        any_error |= !checked.errors.is_empty();
        match format {
            Format::Text => flyt_api::outln!("{}", checked.text()),
            Format::Json => report.push(checked.json()),
        }
    }
    for file in &files {
        let shown = file.display().to_string();
        // At most `Limits::max_diagnostics` (200) are listed, errors first; the totals count all.
        let (diagnostics, errors, omitted): (Vec<Diagnostic>, usize, usize) =
            match std::fs::read(file) {
                Ok(bytes) => match bpmn::compile(&bytes, &Options::default()) {
                    Ok(c) => (c.warnings, 0, c.warnings_omitted),
                    Err(r) => (r.diagnostics.clone(), r.error_count(), r.omitted),
                },
                Err(e) => {
                    eprintln!("flyt validate: {shown}: {e}");
                    return ExitCode::from(2);
                }
            };
        let warnings = diagnostics.len() + omitted - errors;
        any_error |= errors > 0;
        match format {
            Format::Text => {
                for d in &diagnostics {
                    flyt_api::outln!("{}", d.render(&shown));
                }
                if omitted > 0 {
                    flyt_api::outln!("{shown}: ... and {omitted} more not shown");
                }
                flyt_api::outln!(
                    "{shown}: {}",
                    if errors == 0 {
                        format!("valid ({warnings} warning(s))")
                    } else {
                        format!("{errors} error(s), {warnings} warning(s)")
                    }
                );
            }
            Format::Json => report.push(serde_json::json!({
                "path": shown,
                "valid": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "omitted": omitted,
                "diagnostics": diagnostics,
            })),
        }
    }
    if format == Format::Json {
        flyt_api::outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    }
    if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn compact(config: Option<PathBuf>) -> ExitCode {
    use flyt_engine::store::open::{BackendKind, store_path};
    let config = match load_config(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flyt: {e}");
            return ExitCode::from(2);
        }
    };
    let kind = config.storage.backend;
    if kind == BackendKind::Memory {
        eprintln!("flyt store compact: the memory backend keeps nothing on disk");
        return ExitCode::from(2);
    }
    if kind == BackendKind::Postgres {
        eprintln!("flyt store compact: PostgreSQL gives space back with VACUUM (autovacuum)");
        return ExitCode::from(2);
    }
    if kind == BackendKind::Sled {
        eprintln!("flyt store compact: sled 0.34 has no compaction; nothing done");
        return ExitCode::from(2);
    }
    let dir = config.storage.data_dir.join("store");
    if !store_path(kind, &dir).is_some_and(|p| p.exists()) {
        eprintln!(
            "flyt store compact: there is no {kind} store in {}",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    let size = || {
        store_path(kind, &dir)
            .map(|p| dir_size(&p))
            .unwrap_or_default()
    };
    let before = size();
    let started = std::time::Instant::now();
    let store = match flyt_engine::store::Store::open(
        kind,
        &dir,
        config.storage.cache_mb << 20,
        flyt_engine::store::group::GroupConfig::default(),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("flyt store compact: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = store.compact();
    store.shutdown();
    drop(store);
    match result {
        Ok(()) => {
            let after = size();
            flyt_api::outln!(
                "compacted the {kind} store at {}: {} → {} bytes in {:.1} s",
                dir.display(),
                before,
                after,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flyt store compact: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Bytes in a file, or in every file under a folder.
fn dir_size(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| dir_size(&e.path())).sum())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

fn token(kind: TokenKind, config: Option<PathBuf>) -> ExitCode {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flyt: {e}");
            return ExitCode::from(2);
        }
    };
    if !config.dev_authority.enabled {
        eprintln!(
            "flyt token: the development authority is off in this configuration (dev_authority.enabled)"
        );
        return ExitCode::from(2);
    }
    let dir = config.storage.data_dir.join("authority");
    let clock: std::sync::Arc<dyn flyt_engine::time::Clock> =
        std::sync::Arc::new(flyt_engine::time::SystemClock);
    let authority = match flyt_api::authority::DevAuthority::load_or_create(
        &dir,
        config.authority_issuer(),
        &config.dev_authority,
        clock,
    ) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flyt token: {e}");
            return ExitCode::FAILURE;
        }
    };
    let token = match kind {
        TokenKind::User { pid, roles, scopes } => authority.user_token(&pid, &roles, &scopes),
        TokenKind::Org { org, code, scopes } => {
            let scopes = if scopes.is_empty() {
                vec![config.instantiate_scope.clone()]
            } else {
                scopes
            };
            authority.org_token(&org, code.as_deref(), &scopes, None)
        }
    };
    match token {
        Ok(t) => {
            flyt_api::outln!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flyt token: {e}");
            ExitCode::from(2)
        }
    }
}
