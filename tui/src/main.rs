//! `mldctl`: the mld console and the script subcommands.
//!
//! Everything happens in [`run`]; `main` only turns its outcome into an exit
//! code and a one-line message on stderr.

mod app;
mod cli;
mod client;
mod cmd;
mod conn;
mod console;
mod demo;
mod logging;
#[cfg(test)]
mod real_daemon;
mod screens;
mod status;
mod terminal;
mod ui;
mod widgets;

use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mldctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(cli::dispatch(cli))
}
