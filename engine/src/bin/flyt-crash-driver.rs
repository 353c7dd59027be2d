//! The crash-test driver (see `flyt_engine::testing::crash`). Test support: built only with the
//! `testing` feature.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    flyt_engine::testing::crash::main_with_args(&args)
}
