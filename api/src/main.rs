//! The `flyt` binary: parses the command line and hands over to `flyt_api::cli`.

// The engine allocates many small, short-lived objects (XML trees, JSON values, history events);
// mimalloc serves them markedly faster than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flyt_api::cli::main()
}
