//! The mld daemon as a library, so tests run a real daemon in-process.
//!
//! [`run`] takes a validated configuration, a bound [`server::Listener`] and a
//! shutdown token, and serves until the token is cancelled. `main.rs` only
//! parses arguments, sets up logging and signals, and calls it.

pub mod access;
pub mod context;
pub mod eventlog;
pub mod monitor;
pub mod server;

use context::Context;
use mld_shared::config::Config;
use std::sync::Arc;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error(transparent)]
    EventLog(#[from] eventlog::EventLogError),
    #[error(transparent)]
    Bind(#[from] server::BindError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A running daemon's handles, for whoever started it (main, tests) to steer it.
pub struct Handle {
    pub context: Arc<Context>,
}

impl Handle {
    /// Re-reads the configuration file. An invalid file keeps the running
    /// configuration and says why. The socket and event-log paths are fixed at
    /// start; a change to them is reported and takes effect at the next restart.
    pub fn reload(&self) -> Result<(), mld_shared::config::ConfigErrors> {
        let current = self.context.config();
        let new = mld_shared::config::load(&current.file)?;
        if new.daemon.socket != current.daemon.socket
            || new.daemon.event_log_path() != current.daemon.event_log_path()
        {
            tracing::warn!("the socket and event-log paths change only at restart");
        }
        self.context.replace_config(new);
        tracing::info!(file = %current.file.display(), "configuration reloaded");
        Ok(())
    }
}

/// Runs the daemon until `shutdown` is cancelled. `on_ready` is called once
/// everything is up and the socket accepts connections (systemd's READY=1).
pub async fn run(
    config: Config,
    listener: server::Listener,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(&Handle) + Send,
) -> Result<(), DaemonError> {
    let log_path = config.daemon.event_log_path();
    let eventlog = tokio::task::spawn_blocking(move || eventlog::EventLog::open(&log_path))
        .await
        .map_err(|e| DaemonError::Internal(e.to_string()))??;
    let run_id = eventlog
        .record_start(std::process::id(), mld_shared::VERSION, &config.file)
        .await?;

    let (health_tx, health_rx) = tokio::sync::watch::channel(monitor::initial(&config));
    let ctx = Arc::new(Context::new(config, eventlog.clone(), health_rx));
    let monitor = tokio::spawn(monitor::run(ctx.clone(), health_tx, shutdown.child_token()));

    let handle = Handle {
        context: ctx.clone(),
    };
    on_ready(&handle);
    server::serve(listener, ctx.clone(), shutdown.clone()).await;

    monitor.abort();
    eventlog.record_stop(run_id, "shutdown").await?;
    tracing::info!("stopped");
    Ok(())
}
