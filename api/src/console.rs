//! Writing to the terminal from the `flyt` commands without panicking on a closed pipe.
//!
//! `println!` panics when stdout is a pipe whose reader has gone (`flyt validate dir | head -1`:
//! "Broken pipe", exit 101). [`outln!`](crate::outln) ends the process quietly instead, with
//! status 141, what a Unix tool killed by SIGPIPE reports, so a pipeline with `pipefail` still
//! sees that the command did not finish its output.

use std::io::Write;

/// The status a command exits with when its reader closed the pipe.
pub const BROKEN_PIPE_STATUS: i32 = 141;

/// Writes one line to stdout (see the module docs).
pub fn write_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    // Any other failure to write to the terminal is not worth a panic either; the next write
    // meets it again, and the exit status still says how the command went.
    if let Err(e) = written
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(BROKEN_PIPE_STATUS);
    }
}

/// `println!` that ends the process quietly when stdout's reader has gone.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::console::write_line(format_args!($($arg)*))
    };
}
