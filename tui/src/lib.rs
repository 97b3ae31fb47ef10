//! `mldctl`: the mld console and the script subcommands.
//!
//! Everything happens in [`run`]; the binary's `main` only turns its outcome
//! into an exit code and a one-line message on stderr. The console's model
//! and drawing are public so the render benchmark (`benches/`) drives them
//! as the console does: messages into `app::update`, frames out of
//! `ui::render`.

// First: its macros (`out!`, `outln!`) are used by the modules after it.
#[macro_use]
mod out;

pub mod app;
mod cli;
mod client;
mod cmd;
pub mod conn;
mod console;
mod demo;
mod logging;
#[cfg(test)]
mod real_daemon;
mod screens;
mod status;
mod terminal;
pub mod ui;
mod widgets;

use std::process::ExitCode;

/// Parses the command line and runs the console or a subcommand. A
/// subcommand whose stdout was closed by its reader ends quietly with
/// status 141 (see [`out`]).
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match runtime.block_on(cli::dispatch(cli)) {
        Err(e) if e.chain().any(|c| c.is::<out::StdoutClosed>()) => {
            Ok(ExitCode::from(out::CLOSED_STATUS))
        }
        other => other,
    }
}
