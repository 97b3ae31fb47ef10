//! `mldctl` as a process, where no daemon is needed: how it finds the socket
//! and how it fails when nothing answers.
//!
//! Being an integration test of this package, this file also makes
//! `cargo test --workspace` build `target/<profile>/mldctl`, which the
//! end-to-end tests in `tests/` run.

use std::path::Path;
use std::process::{Command, Output};

fn mldctl(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mldctl"));
    cmd.args(args).env_remove("MLD_SOCKET");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("run mldctl")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn status_without_a_daemon_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody.sock");
    let out = mldctl(
        &["--socket", socket.to_str().unwrap(), "status", "--json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr(&out);
    assert!(stderr.contains("no mld daemon answers"), "{stderr}");
    assert!(stderr.contains(socket.to_str().unwrap()), "{stderr}");
    assert!(out.stdout.is_empty(), "a failed --json call prints no JSON");
}

#[test]
fn the_socket_comes_from_mld_socket_when_no_flag_names_one() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("from-env.sock");
    let out = mldctl(&["status"], &[("MLD_SOCKET", &socket)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr(&out);
    assert!(stderr.contains(socket.to_str().unwrap()), "{stderr}");
}

#[test]
fn the_socket_comes_from_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mld.toml");
    std::fs::write(&config, "[daemon]\nsocket = \"run/here.sock\"\n").unwrap();
    let out = mldctl(&["--config", config.to_str().unwrap(), "status"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr(&out);
    // Relative to the configuration file's folder, as the daemon reads it.
    let expected = dir.path().join("run/here.sock");
    assert!(stderr.contains(expected.to_str().unwrap()), "{stderr}");
}

#[test]
fn a_broken_configuration_names_the_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mld.toml");
    std::fs::write(&config, "[daemon]\n\nsocket = 42\n").unwrap();
    let out = mldctl(&["--config", config.to_str().unwrap(), "status"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr(&out);
    assert!(stderr.contains(config.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains(":3"), "line 3 is named: {stderr}");
    assert!(stderr.contains("socket"), "{stderr}");
}

#[test]
fn version_is_the_workspace_version() {
    let out = mldctl(&["--version"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        format!("mldctl {}", env!("CARGO_PKG_VERSION"))
    );
}
