//! Dispatches: one run of a job — collect rows, predict, store, write back.
//!
//! Owns the running dispatches (their cancel tokens) and the limit on how
//! many run at once. Receives start requests (from the scheduler, through the
//! [`scheduler::Dispatcher`] trait, for slots and run-now), cancel requests
//! and dry runs; emits dispatch records into the event log, progress to an
//! observer (which publishes `Update::Dispatch`), and a finished notice on a
//! channel the scheduler listens to.
//!
//! The pipeline itself ([`pipeline`]) runs on a blocking thread; this module
//! only resolves what a dispatch needs (the job, its datalake, the model's
//! active version, pinned once) and hands it over.

pub mod pipeline;
pub mod record;
pub mod store;

use crate::datalake::{Datalake, ResultRow};
use crate::eventlog::{EventLog, EventLogError};
use crate::model::Model;
use crate::model::registry::Registry;
use crate::scheduler::{self, DispatchRequest, StartError};
use mld_shared::config::{Config, JobConfig};
use mld_shared::ids::{DispatchId, JobName};
use record::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Error)]
pub enum DispatchError {
    #[error("no job named {0:?} is configured")]
    UnknownJob(String),
    #[error("job {job}: {message}")]
    Model { job: String, message: String },
    #[error("job {job}: {message}")]
    Datalake { job: String, message: String },
    #[error("job {job}: the query yields columns the model cannot use: {message}")]
    Read { job: String, message: String },
    #[error(transparent)]
    EventLog(#[from] EventLogError),
    #[error("no dispatch {0} is running")]
    NotRunning(DispatchId),
}

/// Told about every change of a dispatch, for subscribers.
pub type Observer = Arc<dyn Fn(&DispatchRecord) + Send + Sync>;

/// The configuration as the daemon holds it: replaced whole on reload.
pub type SharedConfig = Arc<RwLock<Arc<Config>>>;

struct Running {
    job: String,
    cancel: CancellationToken,
}

pub struct DispatchService {
    log: EventLog,
    registry: Registry,
    config: SharedConfig,
    slots: Arc<Semaphore>,
    running: Arc<Mutex<HashMap<DispatchId, Running>>>,
    finished: mpsc::UnboundedSender<(JobName, DispatchId)>,
    observer: Observer,
    runtime: tokio::runtime::Handle,
}

/// What a dry run scored.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub model: String,
    pub model_version: String,
    pub predictions: Vec<(String, String, f64)>,
    pub unscorable: Vec<crate::datalake::Unscorable>,
    pub would_write: Vec<ResultRow>,
}

impl DispatchService {
    /// `finished` receives (job, id) when any dispatch ends, whatever its status.
    /// Must be created inside the tokio runtime it will spawn on.
    pub fn new(
        log: EventLog,
        registry: Registry,
        config: SharedConfig,
        finished: mpsc::UnboundedSender<(JobName, DispatchId)>,
        observer: Observer,
    ) -> DispatchService {
        let max = config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .daemon
            .max_concurrent_dispatches
            .max(1);
        DispatchService {
            log,
            registry,
            config,
            slots: Arc::new(Semaphore::new(max as usize)),
            running: Arc::new(Mutex::new(HashMap::new())),
            finished,
            observer,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn job(&self, name: &str) -> Result<JobConfig, DispatchError> {
        self.config()
            .jobs
            .iter()
            .find(|j| j.name == name)
            .cloned()
            .ok_or_else(|| DispatchError::UnknownJob(name.to_string()))
    }

    fn datalake(&self, job: &JobConfig) -> Result<Datalake, DispatchError> {
        let config = self.config();
        let cfg = config
            .datalakes
            .get(&job.datalake)
            .ok_or_else(|| DispatchError::Datalake {
                job: job.name.clone(),
                message: format!("no datalake named {:?} is configured", job.datalake),
            })?;
        Datalake::from_config(&job.datalake, cfg).map_err(|e| DispatchError::Datalake {
            job: job.name.clone(),
            message: e.to_string(),
        })
    }

    fn model(&self, job: &JobConfig) -> Result<Model, DispatchError> {
        self.registry
            .load_active(&job.model)
            .map_err(|e| DispatchError::Model {
                job: job.name.clone(),
                message: e.to_string(),
            })
    }

    /// How many dispatches are running now.
    pub fn running_count(&self) -> usize {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The running dispatch of a job, if any.
    pub fn running_for(&self, job: &str) -> Option<DispatchId> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .find(|(_, r)| r.job == job)
            .map(|(id, _)| *id)
    }

    /// Asks a running dispatch to stop at its next batch boundary; its
    /// write-back, if begun, rolls back.
    pub fn cancel(&self, id: DispatchId) -> Result<(), DispatchError> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let r = running.get(&id).ok_or(DispatchError::NotRunning(id))?;
        r.cancel.cancel();
        Ok(())
    }

    /// Cancels every running dispatch (daemon shutdown) and waits up to
    /// `grace` for them to record their end.
    pub async fn cancel_all(&self, grace: Duration) {
        {
            let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            for r in running.values() {
                r.cancel.cancel();
            }
        }
        let deadline = Instant::now() + grace;
        while self.running_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Creates the dispatch record and starts the pipeline. Blocking (model
    /// loading, event-log write): call from a blocking thread.
    pub fn start_blocking(&self, request: &DispatchRequest) -> Result<DispatchId, DispatchError> {
        let job = self.job(&request.job.0)?;
        let trigger = request.trigger;
        let who = request
            .who
            .clone()
            .unwrap_or_else(|| "scheduler".to_string());
        // The model is resolved once, here, and pinned for the whole dispatch.
        let resolved = self
            .model(&job)
            .and_then(|m| self.datalake(&job).map(|d| (m, d)));
        let (version, hash) = match &resolved {
            Ok((m, _)) => (
                m.meta().version.to_string(),
                m.meta().content_sha256.clone(),
            ),
            Err(_) => (String::new(), String::new()),
        };
        let new = NewDispatch {
            job: job.name.clone(),
            trigger,
            requested_by: who,
            slot: request.slot,
            model: job.model.clone(),
            model_version: version.clone(),
            model_hash: hash,
        };
        let n = new.clone();
        let id = self
            .log
            .write_blocking(move |tx| store::create(tx, &n, jiff::Timestamp::now()))?;
        let (model, datalake) = match resolved {
            Ok(r) => r,
            Err(e) => {
                // Recorded as a failed dispatch, so "why didn't it score?" has an answer.
                let message = e.to_string();
                let _ = self.log.write_blocking(move |tx| {
                    store::finish(
                        tx,
                        id,
                        DispatchStatus::Failed,
                        Some(Step::Created),
                        Some(&message),
                        &Counts::default(),
                        jiff::Timestamp::now(),
                    )
                });
                self.notify(id);
                let _ = self.finished.send((request.job.clone(), id));
                return Ok(id);
            }
        };
        let cancel = CancellationToken::new();
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Running {
                    job: job.name.clone(),
                    cancel: cancel.clone(),
                },
            );
        self.notify(id);

        let batch_size = job
            .batch_size
            .map(|b| b as usize)
            .unwrap_or_else(|| datalake.batch_size());
        let timeout = job.timeout.map(|t| t.0);
        let plan = pipeline::Plan {
            id,
            job,
            datalake,
            model: Arc::new(model),
            model_version: version,
            batch_size,
        };
        let log = self.log.clone();
        let slots = self.slots.clone();
        let running = self.running.clone();
        let finished = self.finished.clone();
        let observer = self.observer.clone();
        let job_name = request.job.clone();
        self.runtime.spawn(async move {
            // Waiting for a slot under max_concurrent_dispatches; a cancel while
            // waiting still ends the dispatch properly (the pipeline sees it at once).
            let permit = slots.acquire_owned().await;
            // The job's timeout bounds the run, not the wait for a slot.
            let deadline = timeout.map(|t| Instant::now() + t);
            let log2 = log.clone();
            let observer2 = observer.clone();
            let result = tokio::task::spawn_blocking(move || {
                let last = Mutex::new(Instant::now() - Duration::from_secs(1));
                let progress = |step: Step, counts: &Counts| {
                    // At most a few updates a second: subscribers want motion, not every batch.
                    let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
                    if matches!(step, Step::Collected | Step::Inserted)
                        && l.elapsed() < Duration::from_millis(250)
                    {
                        return;
                    }
                    *l = Instant::now();
                    if let Ok(Some(mut rec)) = log2.read_blocking(move |c| store::get(c, id)) {
                        rec.counts = *counts;
                        observer2(&rec);
                    }
                };
                pipeline::execute(&plan, &log2, &cancel, deadline, &progress)
            })
            .await;
            drop(permit);
            if let Err(e) = result {
                // The pipeline catches its own panics; this one came after it
                // had recorded its end, or from outside it. Never leave the
                // dispatch `running` until the next restart.
                let message = match e.try_into_panic() {
                    Ok(payload) => format!("panicked: {}", crate::panic_message(payload.as_ref())),
                    Err(e) => format!("the dispatch thread failed: {e}"),
                };
                tracing::error!(dispatch = %id, error = %message, "dispatch thread panicked");
                let recorded = log
                    .write(move |tx| {
                        let Some(rec) = store::get(tx, id)? else {
                            return Ok(());
                        };
                        if !rec.status.is_finished() {
                            store::finish(
                                tx,
                                id,
                                DispatchStatus::Failed,
                                Some(Step::Predicted),
                                Some(&message),
                                &rec.counts,
                                jiff::Timestamp::now(),
                            )?;
                        }
                        Ok(())
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(dispatch = %id, error = %e, "could not record a panicked dispatch");
                }
            }
            running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            if let Ok(Some(rec)) = log.read(move |c| store::get(c, id)).await {
                tracing::info!(dispatch = %id, job = %rec.job, status = %rec.status, "dispatch finished");
                observer(&rec);
            }
            let _ = finished.send((job_name, id));
        });
        Ok(id)
    }

    fn notify(&self, id: DispatchId) {
        if let Ok(Some(rec)) = self.log.read_blocking(move |c| store::get(c, id)) {
            (self.observer)(&rec);
        }
    }

    /// Steps 3–4 on the first `rows` rows: what would be predicted and
    /// written. Writes nothing anywhere. Blocking.
    pub fn dry_run_blocking(&self, job: &str, rows: u32) -> Result<DryRun, DispatchError> {
        let job = self.job(job)?;
        let model = self.model(&job)?;
        let datalake = self.datalake(&job)?;
        let limit = rows.max(1) as usize;
        let features = model.features().to_vec();
        let mut reader = datalake
            .read(
                &job.query,
                &job.key_column,
                &features,
                limit.min(datalake.batch_size()),
            )
            .map_err(|e| DispatchError::Read {
                job: job.name.clone(),
                message: e.to_string(),
            })?;
        let binding = model.bind(&features).map_err(|e| DispatchError::Model {
            job: job.name.clone(),
            message: e.to_string(),
        })?;
        let version = model.meta().version.to_string();
        let now = jiff::Timestamp::now();
        let mut out = DryRun {
            model: job.model.clone(),
            model_version: version.clone(),
            predictions: vec![],
            unscorable: vec![],
            would_write: vec![],
        };
        while out.predictions.len() + out.unscorable.len() < limit {
            let Some(batch) = reader.next_batch().map_err(|e| DispatchError::Read {
                job: job.name.clone(),
                message: e.to_string(),
            })?
            else {
                break;
            };
            let preds = model
                .predict(&binding, batch.features.view())
                .map_err(|e| DispatchError::Model {
                    job: job.name.clone(),
                    message: e.to_string(),
                })?;
            for (key, p) in batch.keys.into_iter().zip(preds) {
                if out.predictions.len() + out.unscorable.len() >= limit {
                    break;
                }
                out.would_write.push(ResultRow {
                    row_key: key.clone(),
                    prediction: p.label.to_string(),
                    score: p.score,
                    model_version: version.clone(),
                    scored_at: now,
                });
                out.predictions.push((key, p.label.to_string(), p.score));
            }
            for u in batch.unscorable {
                if out.predictions.len() + out.unscorable.len() >= limit {
                    break;
                }
                out.unscorable.push(u);
            }
        }
        Ok(out)
    }
}

impl scheduler::Dispatcher for DispatchService {
    fn start(&self, request: &DispatchRequest) -> Result<DispatchId, StartError> {
        self.start_blocking(request)
            .map_err(|e| StartError(e.to_string()))
    }
}

/// Marks dispatches a dead daemon left running as `interrupted`. Blocking.
pub fn mark_interrupted(log: &EventLog) -> Result<Vec<DispatchId>, EventLogError> {
    let ids = log.write_blocking(|tx| store::mark_interrupted(tx, jiff::Timestamp::now()))?;
    for id in &ids {
        tracing::warn!(dispatch = %id, "dispatch was running when the daemon stopped; marked interrupted");
    }
    Ok(ids)
}
