//! The mld daemon as a library, so tests run a real daemon in-process.
//!
//! [`run`] takes a validated configuration, a bound [`server::Listener`] and a
//! shutdown token, and serves until the token is cancelled. `main.rs` only
//! parses arguments, sets up logging and signals, and calls it.

pub mod access;
pub mod clock;
pub mod context;
pub mod datalake;
pub mod demo;
pub mod dispatch;
pub mod eventlog;
pub mod fault;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod reload;
pub mod scaleout;
pub mod scheduler;
pub mod server;
pub mod showroom;
pub mod training;

use context::Context;
use mld_shared::config::Config;
use std::sync::Arc;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// The text of a caught panic (`panic!("...")` payloads are `&str` or `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error(transparent)]
    EventLog(#[from] eventlog::EventLogError),
    #[error(transparent)]
    Bind(#[from] server::BindError),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("metrics endpoint: {0}")]
    Metrics(String),
}

/// A running daemon's handles, for whoever started it (main, tests) to steer it.
pub struct Handle {
    pub context: Arc<Context>,
}

impl Handle {
    /// Re-reads the configuration file (and every showroom's samples) and
    /// applies it (see [`reload::reload`]):
    /// `by` is who asked (`SIGHUP`, or an admin's Unix user name). An invalid
    /// file keeps the running configuration and says why.
    pub async fn reload(&self, by: &str) -> Result<reload::ReloadReport, reload::ReloadError> {
        reload::reload(&self.context, by).await
    }
}

/// Finished dispatches waiting for the scheduler to hear of them, at most; a
/// dispatch that ends when it is full waits (its task, not a thread).
pub const FINISHED_QUEUE: usize = 256;

/// Predictions deleted per event-log write when pruning, so a large prune
/// never holds other writers up for long.
const PRUNE_CHUNK: u32 = 10_000;

/// How long a shutdown waits for running dispatches to finish before it
/// cancels them (their write-back rolls back; they are recorded `cancelled`).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the daemon until `shutdown` is cancelled. `on_ready` is called once
/// everything is up and the socket accepts connections (systemd's READY=1).
pub async fn run(
    config: Config,
    listener: server::Listener,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(&Handle) + Send,
) -> Result<(), DaemonError> {
    let log_path = config.daemon.event_log_path();
    let path = log_path.clone();
    let eventlog = tokio::task::spawn_blocking(move || eventlog::EventLog::open(&path))
        .await
        .map_err(|e| DaemonError::Internal(e.to_string()))??;
    let run_id = eventlog
        .record_start(std::process::id(), mld_shared::VERSION, &config.file)
        .await?;
    tracing::info!(path = %log_path.display(), run = run_id, "event log open");
    if let Some(fault) = fault::armed() {
        tracing::warn!(fault = %fault, "a test fault point is armed: this daemon kills itself there");
    }
    // The Prometheus endpoint, when configured: bound now so a taken address
    // stops the start; seeded before any dispatch can start or be settled.
    let metrics = match config.metrics.listen {
        Some(addr) => {
            let listener = metrics::http::bind(addr)
                .await
                .map_err(DaemonError::Metrics)?;
            let m = Arc::new(metrics::Metrics::new());
            m.seed(&eventlog).await?;
            if eventlog.observe_commits(m.commit_observer()).is_err() {
                tracing::warn!("the event log's commits are observed already");
            }
            Some((m, listener))
        }
        None => None,
    };
    let log = eventlog.clone();
    tokio::task::spawn_blocking(move || training::runner::mark_interrupted(&log))
        .await
        .map_err(|e| DaemonError::Internal(e.to_string()))??;

    let registry = model::registry::Registry::from_config(&config.models)
        .map_err(|e| DaemonError::Internal(format!("model registry: {e}")))?;
    {
        let registry = registry.clone();
        let initial = config.models.active.clone();
        let errors = tokio::task::spawn_blocking(move || registry.apply_initial_active(&initial))
            .await
            .map_err(|e| DaemonError::Internal(e.to_string()))?;
        for (name, e) in errors {
            tracing::error!(model = %name, error = %e, "cannot set the configured active version");
        }
    }

    let (health_tx, health_rx) = tokio::sync::watch::channel(monitor::initial(&config));
    let (updates, _) = tokio::sync::broadcast::channel(context::UPDATE_BUFFER);
    let (finished_tx, mut finished_rx) = tokio::sync::mpsc::channel(FINISHED_QUEUE);
    let observer: dispatch::Observer = {
        let updates = updates.clone();
        let metrics = metrics.as_ref().map(|(m, _)| m.clone());
        Arc::new(move |rec: &dispatch::record::DispatchRecord| {
            if let Some(m) = &metrics {
                m.dispatch(rec);
            }
            let _ = updates.send(mld_shared::protocol::Update::Dispatch(Box::new(
                server::convert::dispatch_summary(rec),
            )));
        })
    };
    let training = Arc::new(training::runner::TrainingRunner::new(
        eventlog.clone(),
        registry.clone(),
        server::models::training_observer(updates.clone()),
    ));
    let showroom = showroom::Showroom::start(registry.clone(), config.showroom.clone())
        .map_err(|e| DaemonError::Internal(format!("showroom: {e}")))?;
    let job_specs: Vec<scheduler::JobSpec> =
        config.jobs.iter().map(scheduler::JobSpec::from).collect();
    let shared: dispatch::SharedConfig = Arc::new(std::sync::RwLock::new(Arc::new(config)));
    let dispatches = Arc::new(dispatch::DispatchService::new(
        eventlog.clone(),
        registry.clone(),
        shared.clone(),
        finished_tx,
        observer,
    ));
    // What a daemon that died left open is closed or settled before the
    // scheduler looks at the jobs (a job being settled counts as running).
    {
        let dispatches = dispatches.clone();
        let (interrupted, _settling) =
            tokio::task::spawn_blocking(move || dispatches.settle_at_start())
                .await
                .map_err(|e| DaemonError::Internal(e.to_string()))?
                .map_err(|e| DaemonError::Internal(format!("settling dispatches: {e}")))?;
        // Those marked interrupted ended without telling the observer.
        if let Some((m, _)) = &metrics {
            for id in interrupted {
                if let Some(rec) = eventlog.read(move |c| dispatch::store::get(c, id)).await? {
                    m.dispatch(&rec);
                }
            }
        }
    }
    let store = scheduler::EventLogStore::new(eventlog.clone());
    let scheduler_stop = CancellationToken::new();
    let (scheduler, scheduler_task) = scheduler::start(
        job_specs,
        scheduler::SchedulerOptions::default(),
        Arc::new(clock::SystemClock),
        Arc::new(store),
        dispatches.clone(),
        scheduler_stop.clone(),
    )
    .await
    .map_err(|e| DaemonError::Internal(format!("scheduler: {e}")))?;

    let ctx = Arc::new(Context::new(context::Parts {
        config: shared,
        eventlog: eventlog.clone(),
        health: health_rx,
        updates,
        scheduler,
        dispatches: dispatches.clone(),
        registry,
        showroom,
        training: training.clone(),
    }));

    // A dispatch that ends frees its job for the scheduler (overlap, queue).
    let forwarder = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            while let Some((job, id)) = finished_rx.recv().await {
                match ctx.scheduler.dispatch_finished(&job, id).await {
                    Ok(()) => {}
                    // A job a reload removed, or a dispatch settled before the
                    // scheduler loaded its job: nothing waits for it.
                    Err(
                        e @ (scheduler::SchedulerError::UnknownJob(_)
                        | scheduler::SchedulerError::UnknownDispatch { .. }),
                    ) => {
                        tracing::debug!(job = %job, dispatch = %id, error = %e, "finished dispatch not tracked by the scheduler");
                    }
                    Err(e) => {
                        tracing::warn!(job = %job, dispatch = %id, error = %e, "scheduler not told of a finished dispatch");
                    }
                }
                ctx.jobs_changed.notify_one();
            }
        })
    };
    let jobs_publisher = tokio::spawn(publish_jobs(ctx.clone(), shutdown.child_token()));
    let retention = tokio::spawn(prune_predictions(ctx.clone(), shutdown.child_token()));
    let denial_counts = tokio::spawn(flush_denials(ctx.clone(), shutdown.child_token()));
    let monitor = tokio::spawn(monitor::run(ctx.clone(), health_tx, shutdown.child_token()));
    let metrics_endpoint = metrics.map(|(m, listener)| {
        tokio::spawn(metrics::run(
            ctx.clone(),
            m,
            listener,
            shutdown.child_token(),
        ))
    });

    let handle = Handle {
        context: ctx.clone(),
    };
    on_ready(&handle);
    server::serve(listener, ctx.clone(), shutdown.clone()).await;

    // Graceful: no new dispatches, running ones get time to finish, then are cancelled.
    scheduler_stop.cancel();
    let _ = scheduler_task.await;
    let running = dispatches.running_count();
    if running > 0 {
        tracing::info!(running, "waiting for running dispatches to finish");
        let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
        while dispatches.running_count() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        dispatches
            .cancel_all(std::time::Duration::from_secs(30))
            .await;
    }
    // A training run stops at its next check and is recorded `cancelled`.
    training.cancel_all();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while training.running_count() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    monitor.abort();
    if let Some(endpoint) = metrics_endpoint {
        endpoint.abort();
    }
    retention.abort();
    denial_counts.abort();
    ctx.denials.flush().await;
    jobs_publisher.abort();
    forwarder.abort();
    eventlog.record_stop(run_id, "shutdown").await?;
    tracing::info!("stopped");
    Ok(())
}

/// Pushes the jobs table to subscribers when it changes, and every monitor
/// refresh (next-dispatch times move as slots pass).
async fn publish_jobs(ctx: Arc<Context>, shutdown: CancellationToken) {
    loop {
        let refresh = ctx.config().monitor.refresh.0;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ctx.jobs_changed.notified() => {}
            _ = tokio::time::sleep(refresh) => {}
        }
        let jobs = server::convert::jobs(&ctx).await;
        ctx.publish(mld_shared::protocol::Update::Jobs(jobs));
        ctx.publish(mld_shared::protocol::Update::Status(
            server::convert::status(&ctx),
        ));
    }
}

/// Writes the counts of refused requests into their rows once a window.
async fn flush_denials(ctx: Arc<Context>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(access::denials::WINDOW) => ctx.denials.flush().await,
        }
    }
}

/// Deletes predictions older than `daemon.prediction_retention`, hourly, in
/// chunks; never those of a dispatch that has not finished. Dispatch and
/// event records stay.
async fn prune_predictions(ctx: Arc<Context>, shutdown: CancellationToken) {
    loop {
        if let Some(keep) = ctx.config().daemon.prediction_retention {
            let keep = jiff::SignedDuration::try_from(keep.0).unwrap_or(jiff::SignedDuration::MAX);
            let before = jiff::Timestamp::now()
                .checked_sub(keep)
                .unwrap_or(jiff::Timestamp::MIN);
            let mut pruned = 0;
            loop {
                match ctx
                    .eventlog
                    .write(move |tx| dispatch::store::prune_predictions(tx, before, PRUNE_CHUNK))
                    .await
                {
                    Ok(n) => {
                        pruned += n;
                        if n < PRUNE_CHUNK as u64 || shutdown.is_cancelled() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "pruning predictions failed");
                        break;
                    }
                }
            }
            if pruned > 0 {
                tracing::info!(pruned, "old predictions pruned");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}
