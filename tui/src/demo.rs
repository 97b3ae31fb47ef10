//! `mldctl demo`: a daemon with the bundled configuration, and the console
//! on it, in one command.
//!
//! Receives an optional folder. Writes the demo configuration and assets
//! into it (they are compiled into mldctl, so the demo works from the binary
//! alone), starts the `mld` next to this executable (else on `PATH`) unless a
//! daemon already answers on the demo socket, waits for its handshake, opens
//! the console, and on the way out stops the daemon it started (SIGTERM,
//! then waits).

use crate::client::Client;
use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const CONFIG: &str = include_str!("../../config/mld.toml");
const ASSETS: &[(&str, &str)] = &[
    ("iris.csv", include_str!("../../assets/iris.csv")),
    (
        "iris-samples.csv",
        include_str!("../../assets/iris-samples.csv"),
    ),
];

/// How long the daemon may take to answer its first handshake.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long it may take to shut down after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| crate::logging::state_dir().join("demo"));
    let dir =
        std::path::absolute(&dir).with_context(|| format!("bad demo folder {}", dir.display()))?;
    let config_path = install(&dir)?;
    let config = mld_shared::config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let socket = config.daemon.socket;
    let window = jiff::SignedDuration::try_from(config.dispatches.default_window.0)?;

    match Client::connect(&socket).await {
        Ok(_) => {
            tracing::info!(socket = %socket.display(), "demo daemon already running: attaching");
            return crate::console::run(socket, window).await;
        }
        Err(e) if e.is_not_running() => {}
        // Something answers but not usably (another version, refused): a
        // second daemon could not take the socket either, so say why.
        Err(e) => return Err(e.into()),
    }

    let mld = find_mld()?;
    let log_path = dir.join("state/mld.log");
    let _ = writeln!(
        std::io::stderr(),
        "starting {} --config {} (log: {})",
        mld.display(),
        config_path.display(),
        log_path.display()
    );
    let mut child = start(&mld, &config_path, &log_path)?;
    if let Err(e) = wait_ready(&socket, &mut child, &log_path).await {
        stop(&mut child).await;
        return Err(e);
    }
    let result = crate::console::run(socket, window).await;
    stop(&mut child).await;
    result
}

/// Writes the configuration and assets under `dir`; returns the config path.
fn install(dir: &Path) -> anyhow::Result<PathBuf> {
    for sub in ["config", "assets", "state"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
    }
    let config_path = dir.join("config/mld.toml");
    write(&config_path, CONFIG)?;
    for (name, text) in ASSETS {
        write(&dir.join("assets").join(name), text)?;
    }
    Ok(config_path)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The `mld` next to this executable (both come from the same build or
/// package), else the first on `PATH`.
fn find_mld() -> anyhow::Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("mld")));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("mld"));
    beside
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
        .context("cannot find the `mld` daemon next to mldctl or on PATH: build it with `cargo build -p mld`")
}

fn start(mld: &Path, config: &Path, log_path: &Path) -> anyhow::Result<Child> {
    let log = std::fs::File::create(log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let log_out = log.try_clone()?;
    Command::new(mld)
        // Trains the demo model and fills the demo datalake the first time.
        .arg("--init-demo")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log_out)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", mld.display()))
}

/// Waits until the socket answers a handshake, the daemon dies, or time runs out.
async fn wait_ready(socket: &Path, child: &mut Child, log_path: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "mld exited ({status}) before it answered on {}; the end of {}:\n{}",
                socket.display(),
                log_path.display(),
                tail(log_path, 20)
            );
        }
        match Client::connect(socket).await {
            Ok(_) => {
                tracing::info!(socket = %socket.display(), ms = started.elapsed().as_millis() as u64, "demo daemon ready");
                return Ok(());
            }
            Err(e) if started.elapsed() >= READY_TIMEOUT => bail!(
                "mld did not answer within {}s ({e}); the end of {}:\n{}",
                READY_TIMEOUT.as_secs(),
                log_path.display(),
                tail(log_path, 20)
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// SIGTERM (the daemon's graceful shutdown), then SIGKILL if it lingers.
async fn stop(child: &mut Child) {
    let Some(pid) = child.id() else { return };
    if let Err(e) = kill(Pid::from_raw(pid as i32), Signal::SIGTERM) {
        tracing::warn!(pid, error = %e, "SIGTERM failed");
    }
    match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
        Ok(Ok(status)) => tracing::info!(pid, %status, "demo daemon stopped"),
        Ok(Err(e)) => tracing::warn!(pid, error = %e, "waiting for the demo daemon"),
        Err(_) => {
            tracing::warn!(
                pid,
                "demo daemon ignored SIGTERM for {}s: killing it",
                STOP_TIMEOUT.as_secs()
            );
            let _ = child.kill().await;
        }
    }
}

/// The last `lines` lines of a file, or a note that it cannot be read.
fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let tail = all[all.len().saturating_sub(lines)..].join("\n");
            if tail.is_empty() {
                "(the log is empty)".to_string()
            } else {
                tail
            }
        }
        Err(e) => format!("(cannot read the log: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_writes_a_config_whose_socket_is_inside_the_demo_folder() {
        let dir = tempfile::tempdir().unwrap();
        let config_path = install(dir.path()).unwrap();
        let config = mld_shared::config::load(&config_path).unwrap();
        // The loader keeps `config/../state`; compare where it really points.
        let socket_dir = std::fs::canonicalize(config.daemon.socket.parent().unwrap()).unwrap();
        assert_eq!(
            socket_dir,
            std::fs::canonicalize(dir.path().join("state")).unwrap()
        );
        assert_eq!(config.daemon.socket.file_name().unwrap(), "mld.sock");
        assert!(dir.path().join("assets/iris.csv").is_file());
        assert!(dir.path().join("assets/iris-samples.csv").is_file());
        assert!(dir.path().join("state").is_dir());
        // The showroom and dataset paths point at the copied assets.
        assert!(config.showroom["iris"].samples.is_file());
    }

    #[tokio::test]
    async fn a_daemon_that_dies_at_start_is_reported_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mld.log");
        let script = dir.path().join("fake-mld");
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'error: config: bad key' >&2\nexit 3\n",
        )
        .unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(&script).unwrap().permissions(),
            0o755,
        );
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut child = start(&script, Path::new("/nonexistent.toml"), &log).unwrap();
        let err = wait_ready(&dir.path().join("mld.sock"), &mut child, &log)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("mld exited"), "{text}");
        assert!(text.contains("error: config: bad key"), "{text}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail(&path, 2), "c\nd");
        assert!(tail(&dir.path().join("missing"), 2).starts_with("(cannot read"));
    }
}
