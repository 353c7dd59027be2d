//! The `flyt` binary: parses the command line and hands over to `flyt_api::cli`.

fn main() -> std::process::ExitCode {
    flyt_api::cli::main()
}
