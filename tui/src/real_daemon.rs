//! The console's connection and the `status` script against the real
//! daemon, run in-process on a temporary socket: restarted under a
//! connected console, it is found again and the data comes back fresh.

use crate::conn::{self, ConnEvent};
use mld_shared::config::Config;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

struct Daemon {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), mld::DaemonError>>,
}

fn config(dir: &Path) -> Config {
    let path = dir.join("mld.toml");
    std::fs::write(
        &path,
        "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\n\n\
         [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
         [[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\n\
         query = \"SELECT id, x FROM t\"\nkey_column = \"id\"\nresults_table = \"scores\"\n\
         schedule = \"0 2 * * *\"\n",
    )
    .unwrap();
    mld_shared::config::load(&path).unwrap()
}

async fn start(config: Config) -> Daemon {
    let listener = mld::server::bind(&config.daemon).unwrap();
    let shutdown = CancellationToken::new();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(mld::run(
        config,
        listener,
        shutdown.clone(),
        move |_: &mld::Handle| {
            let _ = ready_tx.send(());
        },
    ));
    ready_rx.await.expect("daemon ready");
    Daemon { shutdown, task }
}

impl Daemon {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

async fn next(events: &mut mpsc::Receiver<ConnEvent>) -> ConnEvent {
    tokio::time::timeout(Duration::from_secs(15), events.recv())
        .await
        .expect("an event in time")
        .expect("connection task alive")
}

/// Skips events until a snapshot arrives; returns its job names.
async fn snapshot_jobs(events: &mut mpsc::Receiver<ConnEvent>) -> Vec<String> {
    loop {
        if let ConnEvent::Snapshot(s) = next(events).await {
            return s.jobs.iter().map(|j| j.name.0.clone()).collect();
        }
    }
}

#[tokio::test]
async fn the_console_connection_follows_a_daemon_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let socket: PathBuf = config.daemon.socket.clone();
    let daemon = start(config.clone()).await;

    let (_commands, mut events) = conn::spawn(socket.clone());
    assert_eq!(next(&mut events).await, ConnEvent::Connecting);
    let ConnEvent::Connected(welcome) = next(&mut events).await else {
        panic!("expected Connected")
    };
    assert_eq!(
        welcome.protocol_version,
        mld_shared::protocol::PROTOCOL_VERSION
    );
    assert_eq!(snapshot_jobs(&mut events).await, ["score"]);

    // The daemon goes away: the console hears why and schedules a retry.
    daemon.stop().await;
    let reason = loop {
        if let ConnEvent::Disconnected { reason, .. } = next(&mut events).await {
            break reason;
        }
    };
    assert!(!reason.is_empty());

    // It comes back: the connection finds it and subscribes again.
    let daemon = start(config).await;
    loop {
        if let ConnEvent::Connected(_) = next(&mut events).await {
            break;
        }
    }
    assert_eq!(snapshot_jobs(&mut events).await, ["score"]);

    // The script subcommand talks to the same daemon.
    let code = crate::status::run(&socket, true).await.unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    daemon.stop().await;
}
