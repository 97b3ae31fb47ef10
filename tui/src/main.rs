//! `mldctl`: the mld console and the script subcommands (see the library).

use std::process::ExitCode;

fn main() -> ExitCode {
    match mldctl::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mldctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
