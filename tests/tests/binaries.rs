//! End to end with the built binaries: `mld` as a process, `mldctl` as a
//! script would use it.

use mld_tests::process::{MldProcess, mld, mldctl, write_config};
use nix::sys::signal::Signal;
use std::time::Duration;

#[test]
fn status_answers_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let socket = dir.path().join("mld.sock");
    let mut daemon = MldProcess::start(&config, &socket);

    let out = mldctl(&["--socket", socket.to_str().unwrap(), "status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["daemon_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        json["protocol_version"],
        mld_shared::protocol::PROTOCOL_VERSION
    );
    assert_eq!(json["jobs"], 1);
    assert!(json["uptime_seconds"].as_f64().unwrap() >= 0.0);

    // The console finds the socket through the configuration file too.
    let out = mldctl(&["--config", config.to_str().unwrap(), "status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait(Duration::from_secs(15));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        daemon.stderr()
    );
    assert!(!socket.exists(), "socket removed on shutdown");
    assert!(daemon.stderr().contains("SIGTERM"), "{}", daemon.stderr());
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let socket = dir.path().join("mld.sock");
    let _first = MldProcess::start(&config, &socket);
    let out = mld(&["--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already listening on"), "{stderr}");
    // The first one is untouched.
    assert!(
        mldctl(&["--socket", socket.to_str().unwrap(), "status"])
            .status
            .success()
    );
}

#[test]
fn check_config_accepts_the_demo_and_names_the_line_of_a_mistake() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/mld.toml");
    let out = mld(&["--check-config", demo]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = write_config(dir.path(), "[monitor]\nrefresh = \"soon\"\n");
    let out = mld(&["--check-config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = std::fs::read_to_string(&bad).unwrap();
    let line = text.lines().position(|l| l.starts_with("refresh")).unwrap() + 1;
    assert!(
        stderr.contains(&format!("{}:{line}:", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("key `monitor.refresh`"), "{stderr}");

    // Starting on it is refused with the same message.
    let out = mld(&["--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("monitor.refresh"));
}

/// `mldctl ARGS` with a stdout whose reader is already gone, as in
/// `mldctl jobs --json | head -1` once `head` has its line.
fn mldctl_into_a_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    std::process::Command::new(mld_tests::process::bin("mldctl"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run mldctl")
}

#[test]
fn a_closed_stdout_ends_a_subcommand_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&config, &socket);
    let socket = socket.to_str().unwrap();

    for args in [
        &["status", "--json"][..],
        &["status"],
        &["jobs", "--json"],
        &["jobs"],
        &["models", "--json"],
        &["catalog"],
        &["dispatches", "--since", "24h", "--json"],
    ] {
        let mut all = vec!["--socket", socket];
        all.extend_from_slice(args);
        // With a reader, it prints (so the closed case below is a write that failed).
        let out = mldctl(&all);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?} prints something");
        // Without: no panic, nothing on stderr, the status a shell reports
        // for a tool ended by SIGPIPE.
        let out = mldctl_into_a_closed_pipe(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} said: {stderr}");
    }

    // Only a closed stdout is quiet: a real failure still says why.
    let nowhere = dir.path().join("nobody.sock");
    let out = mldctl_into_a_closed_pipe(&["--socket", nowhere.to_str().unwrap(), "jobs", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no mld daemon answers"), "{stderr}");

    // And the way people meet it: a pipe into head, through a shell.
    let script = format!(
        "set -o pipefail 2>/dev/null; {} --socket {socket} jobs --json | head -1",
        mld_tests::process::bin("mldctl").display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[");
}
