//! A real daemon running inside the test process, for the server_*
//! integration tests: its configuration, socket and state live in one
//! temporary folder.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), mld::DaemonError>>,
    pub context: Arc<mld::context::Context>,
}

/// Writes `config` as `dir/mld.toml` (relative paths in it resolve against
/// `dir`), binds its socket and runs the daemon until it is ready.
pub async fn start_in(dir: tempfile::TempDir, config: &str) -> Daemon {
    let path = dir.path().join("mld.toml");
    std::fs::write(&path, config).unwrap();
    let config = mld_shared::config::load(&path).unwrap();
    let socket = config.daemon.socket.clone();
    let listener = mld::server::bind(&config.daemon).unwrap();
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(mld::run(
        config,
        listener,
        shutdown.clone(),
        move |h: &mld::Handle| {
            let _ = tx.send(h.context.clone());
        },
    ));
    let context = rx.await.expect("daemon ready");
    Daemon {
        dir,
        socket,
        shutdown,
        task,
        context,
    }
}

impl Daemon {
    /// Graceful shutdown; fails the test if the daemon reports an error.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}
