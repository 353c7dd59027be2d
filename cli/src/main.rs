//! The `flyt` binary: parses the command line and hands over to [`cli::main`]. The server is
//! `flyt-api`, the benchmarks `flyt-bench`; this package only wires them to a command line.

mod apps_check;
mod cli;
mod store_cmd;

// The engine allocates many small, short-lived objects (XML trees, JSON values, history events);
// mimalloc serves them markedly faster than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
