//! What a subcommand prints on stdout, written so that a reader that went
//! away ends the command quietly instead of with a panic.
//!
//! `print!` panics when stdout is a pipe whose reader has closed it
//! (`mldctl jobs --json | head -1`: Rust ignores SIGPIPE, so the write
//! fails with EPIPE). [`out!`] and [`outln!`] write the same way but return
//! the failure: [`StdoutClosed`] for a closed pipe, which [`crate::run`]
//! turns into a silent exit with status 141 (what a shell reports for a
//! tool ended by SIGPIPE, as `yes | head -1` ends `yes`), any other write
//! error as an ordinary error.

use std::fmt;
use std::io::{self, Write};

/// Stdout's reader is gone: stop, say nothing.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed by its reader")
    }
}

impl std::error::Error for StdoutClosed {}

/// The exit status of a command whose stdout was closed: 128 + SIGPIPE.
pub const CLOSED_STATUS: u8 = 141;

/// Writes `args` to stdout (line-buffered, as `print!`).
pub fn print(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    io::stdout().lock().write_fmt(args).map_err(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            anyhow::Error::new(StdoutClosed)
        } else {
            anyhow::Error::new(e).context("writing to stdout")
        }
    })
}

/// `print!` that returns an error (use with `?`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::print(format_args!($($arg)*))
    };
}

/// `println!` that returns an error (use with `?`) instead of panicking.
macro_rules! outln {
    () => {
        $crate::out::print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
