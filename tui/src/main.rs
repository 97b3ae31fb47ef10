//! `mldctl`: the mld console and the script subcommands (see the library).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    match mldctl::run() {
        Ok(code) => code,
        Err(e) => {
            // Not `eprintln!`: it panics when stderr is gone (a hung-up terminal).
            let _ = writeln!(std::io::stderr(), "mldctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
