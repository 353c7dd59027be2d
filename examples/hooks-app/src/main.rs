//! `flyt-example-hooks`: `flyt serve` with this example's hooks compiled in.
//!
//! Configuration as for `flyt serve` (`--config`/`FLYT_CONFIG`, `FLYT_*` overrides; with no
//! file, development mode). When the configuration names no `processes_dir`, the example's own
//! `processes/` folder is used.

use clap::Parser;
use flyt_api::server::{ServerBuilder, shutdown_signal};
use flyt_engine::ids::AppId;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "flyt-example-hooks",
    about = "flyt serve, with the example's Rust hooks"
)]
struct Args {
    /// A TOML config file (also `FLYT_CONFIG`; default ./flyt.toml if it exists).
    #[arg(long, env = "FLYT_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLYT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = match flyt_api::config::ServerConfig::for_command(args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flyt-example-hooks: {e}");
            return ExitCode::from(2);
        }
    };
    if config.processes_dir == Path::new("processes") {
        config.processes_dir = flyt_example_hooks::processes_dir();
    }
    let app: AppId = match flyt_example_hooks::APP.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flyt-example-hooks: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "flyt-example-hooks: cannot listen on {}: {e}",
                config.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flyt-example-hooks: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match ServerBuilder::new(config)
        .registry(|r| flyt_example_hooks::register(r, &app))
        .build(local)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}\nflyt-example-hooks: not started");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "flyt-example-hooks listening on {}",
        server.state.config().public_url()
    );
    match server.serve(listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flyt-example-hooks: {e}");
            ExitCode::FAILURE
        }
    }
}
