//! Dispatches: one run of a job — collect rows, predict, store, write back.
//!
//! Owns the running dispatches (their cancel tokens) and the limit on how
//! many run at once (a reload changes it). Receives start requests (from the
//! scheduler, through the [`scheduler::Dispatcher`] trait, for slots and
//! run-now, each with the scheduler's record written in the same event-log
//! transaction), cancel requests, retries of a write-back and dry runs;
//! emits dispatch records into the event log, progress to an observer
//! (which publishes `Update::Dispatch`), and a finished notice on a bounded
//! channel the scheduler listens to.
//!
//! At start it settles what a daemon that died left open
//! ([`DispatchService::settle_at_start`]): a dispatch interrupted during or
//! after its write-back is settled by counting its rows in the results table.
//!
//! The pipeline itself ([`pipeline`]) runs on a blocking thread; this module
//! only resolves what a dispatch needs (the job, its datalake, the model's
//! active version, pinned once) and hands it over.

pub mod pipeline;
pub mod record;
pub mod store;
pub mod values;

use crate::datalake::{Datalake, ResultRow};
use crate::eventlog::{EventLog, EventLogError};
use crate::fault;
use crate::model::Model;
use crate::model::registry::Registry;
use crate::scheduler::{self, DispatchRequest, StartError, StartRecord};
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
    #[error("no dispatch {0}")]
    NoSuchDispatch(DispatchId),
    #[error("dispatch {id} cannot be retried: {why}")]
    CannotRetry { id: DispatchId, why: String },
}

/// Told about every change of a dispatch, for subscribers.
pub type Observer = Arc<dyn Fn(&DispatchRecord) + Send + Sync>;

/// The configuration as the daemon holds it: replaced whole on reload.
pub type SharedConfig = Arc<RwLock<Arc<Config>>>;

struct Running {
    job: String,
    cancel: CancellationToken,
}

/// How many dispatches may run at once; a reload changes it. A semaphore
/// of that many permits; lowering the limit takes back free permits at once
/// and the others as running dispatches give them back.
#[derive(Clone)]
struct Limit {
    permits: Arc<Semaphore>,
    /// The limit, and how many permits are still to be taken back.
    state: Arc<Mutex<(usize, usize)>>,
}

impl Limit {
    fn new(max: usize) -> Limit {
        Limit {
            permits: Arc::new(Semaphore::new(max)),
            state: Arc::new(Mutex::new((max, 0))),
        }
    }

    fn current(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    fn set(&self, max: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (old, owed) = *state;
        if max > old {
            let forgiven = owed.min(max - old);
            self.permits.add_permits(max - old - forgiven);
            *state = (max, owed - forgiven);
        } else {
            let take = old - max;
            let taken = self.permits.forget_permits(take);
            *state = (max, owed + take - taken);
        }
    }

    async fn acquire(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().acquire_owned().await.ok()
    }

    /// Gives a permit back, unless the limit was lowered meanwhile.
    fn release(&self, permit: Option<tokio::sync::OwnedSemaphorePermit>) {
        let Some(permit) = permit else { return };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.1 > 0 {
            state.1 -= 1;
            permit.forget();
        }
    }
}

pub struct DispatchService {
    log: EventLog,
    registry: Registry,
    config: SharedConfig,
    limit: Limit,
    running: Arc<Mutex<HashMap<DispatchId, Running>>>,
    finished: mpsc::Sender<(JobName, DispatchId)>,
    observer: Observer,
    runtime: tokio::runtime::Handle,
}

/// What a dry run scored.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub model: String,
    pub model_version: String,
    /// Row key, label (a regressor's value as text), score (NaN for a
    /// regressor), value (a regressor's).
    pub predictions: Vec<(String, String, f64, Option<f64>)>,
    pub unscorable: Vec<crate::datalake::Unscorable>,
    pub would_write: Vec<ResultRow>,
}

impl DispatchService {
    /// `finished` (bounded: a full channel makes the ending dispatch's task
    /// wait) receives (job, id) when a dispatch the scheduler started, or one
    /// settled at start, ends, whatever its status. Must be created inside
    /// the tokio runtime it will spawn on.
    pub fn new(
        log: EventLog,
        registry: Registry,
        config: SharedConfig,
        finished: mpsc::Sender<(JobName, DispatchId)>,
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
            limit: Limit::new(max as usize),
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
    /// loading, event-log write): call from a blocking thread. `record` (the
    /// scheduler's decision for the slot it serves, the job's new state) is
    /// written in the transaction that creates the dispatch: both or neither.
    pub fn start_blocking(
        &self,
        request: &DispatchRequest,
        record: StartRecord,
    ) -> Result<DispatchId, DispatchError> {
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
        // Recorded as a failed dispatch, so "why didn't it score?" has an answer.
        let unresolved = resolved.as_ref().err().map(|e| e.to_string());
        let id = self.log.write_blocking(move |tx| {
            let now = jiff::Timestamp::now();
            let id = store::create(tx, &new, now)?;
            scheduler::store::write_batch(tx, &record(id))?;
            if let Some(message) = unresolved {
                store::finish(
                    tx,
                    id,
                    DispatchStatus::Failed,
                    Some(Step::Created),
                    Some(&message),
                    &Counts::default(),
                    now,
                )?;
            }
            Ok(id)
        })?;
        fault::point("dispatch.created");
        let Ok((model, datalake)) = resolved else {
            self.notify(id);
            let finished = self.finished.clone();
            let job = request.job.clone();
            self.runtime.spawn(async move {
                let _ = finished.send((job, id)).await;
            });
            return Ok(id);
        };
        let batch_size = job
            .batch_size
            .map(|b| b as usize)
            .unwrap_or_else(|| datalake.batch_size());
        let timeout = job.timeout.map(|t| t.0);
        if let Some(plan) = self.sharded_plan(id, &job, &datalake, &model, batch_size) {
            self.launch(
                id,
                &request.job,
                timeout,
                true,
                move |log, cancel, deadline, progress| {
                    crate::scaleout::run::execute(&plan, log, cancel, deadline, progress)
                },
            );
            return Ok(id);
        }
        let plan = pipeline::Plan {
            id,
            job,
            datalake,
            model: Arc::new(model),
            model_version: version,
            batch_size,
        };
        self.launch(
            id,
            &request.job,
            timeout,
            true,
            move |log, cancel, deadline, progress| {
                pipeline::execute(&plan, log, cancel, deadline, progress)
            },
        );
        Ok(id)
    }

    /// The plan of a job scored in shards (it names an executor), else `None`.
    fn sharded_plan(
        &self,
        id: DispatchId,
        job: &JobConfig,
        datalake: &Datalake,
        model: &Model,
        batch_size: usize,
    ) -> Option<crate::scaleout::run::ShardedPlan> {
        let config = self.config();
        let executor_name = job.executor.clone()?;
        let executor = config.executors.get(&executor_name)?.clone();
        let meta = model.meta();
        Some(crate::scaleout::run::ShardedPlan {
            id,
            job: job.clone(),
            datalake: datalake.clone(),
            datalake_config: config.datalakes.get(&job.datalake)?.clone(),
            model: job.model.clone(),
            model_version: meta.version,
            model_hash: meta.content_sha256.clone(),
            model_dir: self
                .registry
                .root()
                .join(&job.model)
                .join(format!("v{}", meta.version)),
            onnxruntime: config.models.onnxruntime.clone(),
            executor_name,
            shards: job.shard_count(&config.executors).unwrap_or(1).max(1),
            executor,
            batch_size,
            hide: crate::scaleout::executor::secret_variables(&config),
        })
    }

    /// Runs `work` (a pipeline) for dispatch `id` on a blocking thread once
    /// a slot under `max_concurrent_dispatches` is free: registered as
    /// running (cancellable), its progress observed, its end published and,
    /// when `tell_scheduler`, reported on the finished channel.
    fn launch<W>(
        &self,
        id: DispatchId,
        job: &JobName,
        timeout: Option<Duration>,
        tell_scheduler: bool,
        work: W,
    ) where
        W: FnOnce(
                &EventLog,
                &CancellationToken,
                Option<Instant>,
                pipeline::Progress<'_>,
            ) -> pipeline::Outcome
            + Send
            + 'static,
    {
        let cancel = CancellationToken::new();
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Running {
                    job: job.0.clone(),
                    cancel: cancel.clone(),
                },
            );
        self.notify(id);
        let log = self.log.clone();
        let limit = self.limit.clone();
        let running = self.running.clone();
        let finished = self.finished.clone();
        let observer = self.observer.clone();
        let job_name = job.clone();
        self.runtime.spawn(async move {
            // Waiting for a slot under max_concurrent_dispatches; a cancel while
            // waiting still ends the dispatch properly (the pipeline sees it at once).
            let permit = limit.acquire().await;
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
                work(&log2, &cancel, deadline, &progress)
            })
            .await;
            limit.release(permit);
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
            if tell_scheduler {
                // A full channel makes this task wait: it never grows without bound.
                let _ = finished.send((job_name, id)).await;
            }
        });
    }

    /// At start, before the scheduler: closes what a daemon that died left
    /// open. A dispatch that had not stored all its predictions is marked
    /// `interrupted` (nothing of it reached the results table). One that had
    /// is settled in the background, like any dispatch (its job counts as
    /// running meanwhile): its rows in the results table are counted — all
    /// there, it `succeeded` (settled at restart); else they are written
    /// again from the stored predictions under the same id. Returns the ids
    /// marked interrupted and those being settled. Blocking.
    pub fn settle_at_start(&self) -> Result<(Vec<DispatchId>, Vec<DispatchId>), DispatchError> {
        // Shards a dead daemon left on a cluster are cancelled, and waited
        // for, before anything of their dispatch is settled.
        let left = self.log.read_blocking(crate::scaleout::store::open_tasks)?;
        if !left.is_empty() {
            let config = self.config();
            let hide = crate::scaleout::executor::secret_variables(&config);
            crate::scaleout::run::cancel_left_tasks(&config.executors, &left, &hide);
        }
        let (interrupted, settle) = self
            .log
            .write_blocking(|tx| store::close_interrupted(tx, jiff::Timestamp::now()))?;
        for id in &interrupted {
            tracing::warn!(dispatch = %id, "dispatch was running when the daemon stopped; marked interrupted");
            self.remove_shards_rows(*id);
        }
        for id in &settle {
            tracing::warn!(dispatch = %id, "dispatch was writing back when the daemon stopped; settling it");
            if let Err(e) = self.write_back_again(*id, true) {
                let error = format!(
                    "the daemon stopped during the write-back, and it cannot be settled at restart: {e}; \
                     `mldctl retry {id}` redoes the write-back"
                );
                tracing::error!(dispatch = %id, error = %error, "dispatch not settled");
                let id = *id;
                self.log.write_blocking(move |tx| {
                    store::unsettled(tx, id, &error, jiff::Timestamp::now())
                })?;
                self.notify(id);
            }
        }
        Ok((interrupted, settle))
    }

    /// A sharded dispatch marked interrupted: its shards committed their
    /// rows on their own, so they are removed (nothing of an interrupted
    /// dispatch stays in the results table). Blocking.
    fn remove_shards_rows(&self, id: DispatchId) {
        let Ok((true, Some(rec))) = self.log.read_blocking(move |c| {
            Ok((
                crate::scaleout::store::is_sharded(c, id)?,
                store::get(c, id)?,
            ))
        }) else {
            return;
        };
        let removed = self
            .job(&rec.job)
            .and_then(|job| self.datalake(&job).map(|d| (job, d)))
            .map_err(|e| e.to_string())
            .and_then(|(job, lake)| {
                lake.begin_results(&job.results_table, &job.results_columns, id)
                    .and_then(|w| w.commit())
                    .map_err(|e| e.to_string())
            });
        let note = match removed {
            Ok(_) => "its shards' tasks were cancelled and its rows removed from the results table"
                .to_string(),
            Err(e) => {
                tracing::error!(dispatch = %id, error = %e, "cannot remove an interrupted sharded dispatch's rows");
                format!("its shards' rows could not be removed from the results table: {e}")
            }
        };
        let _ = self.log.write_blocking(move |tx| {
            let now = jiff::Timestamp::now();
            crate::scaleout::store::cancel_open(tx, id, now)?;
            store::event(tx, id, Step::Shard, None, Some(&note), now)
        });
    }

    /// An admin's retry of a dispatch's write-back: for one that `failed`,
    /// was `cancelled` or `interrupted` after storing all its predictions.
    /// Its rows in the results table are counted, and written again from the
    /// stored predictions under the same id unless all there. Runs in the
    /// background like a dispatch (cancellable); answers at once. Blocking.
    pub fn retry_blocking(&self, id: DispatchId, by: &str) -> Result<(), DispatchError> {
        let (rec, stored) = self
            .log
            .read_blocking(move |c| Ok((store::get(c, id)?, store::has_stored(c, id)?)))?;
        let rec = rec.ok_or(DispatchError::NoSuchDispatch(id))?;
        let refuse = |why: String| Err(DispatchError::CannotRetry { id, why });
        match rec.status {
            DispatchStatus::Succeeded => {
                return refuse("it succeeded: its results are in the results table".into());
            }
            DispatchStatus::Created | DispatchStatus::Running => {
                return refuse("it is running".into());
            }
            DispatchStatus::Failed | DispatchStatus::Cancelled | DispatchStatus::Interrupted => {}
        }
        if !stored {
            let at = rec
                .failed_step
                .map(|s| format!(" at {s}"))
                .unwrap_or_default();
            return refuse(format!(
                "it ended{at} before all its predictions were stored, so there is nothing to write back: \
                 run the job again"
            ));
        }
        let why = format!(
            "retry requested by {by}: the write-back is done again from the {} stored predictions",
            rec.counts.stored
        );
        let resumed = self
            .log
            .write_blocking(move |tx| store::resume_ended(tx, id, &why, jiff::Timestamp::now()))?;
        if !resumed {
            return refuse("it is running".into());
        }
        tracing::info!(dispatch = %id, by, "dispatch write-back retried");
        if let Err(e) = self.write_back_again(id, false) {
            let message = e.to_string();
            let counts = rec.counts;
            self.log.write_blocking(move |tx| {
                store::finish(
                    tx,
                    id,
                    DispatchStatus::Failed,
                    Some(Step::Inserted),
                    Some(&message),
                    &counts,
                    jiff::Timestamp::now(),
                )
            })?;
            self.notify(id);
            return Err(e);
        }
        Ok(())
    }

    /// Starts [`pipeline::resume`] for a dispatch already marked `resumed`.
    fn write_back_again(&self, id: DispatchId, at_restart: bool) -> Result<(), DispatchError> {
        let rec = self
            .log
            .read_blocking(move |c| store::get(c, id))?
            .ok_or(DispatchError::NoSuchDispatch(id))?;
        let job = self.job(&rec.job).map_err(|_| DispatchError::CannotRetry {
            id,
            why: format!(
                "its job {:?} is no longer configured, so its results table is unknown",
                rec.job
            ),
        })?;
        let datalake = self.datalake(&job)?;
        let batch_size = job
            .batch_size
            .map(|b| b as usize)
            .unwrap_or_else(|| datalake.batch_size());
        let timeout = job.timeout.map(|t| t.0);
        let resume = pipeline::Resume {
            id,
            job,
            datalake,
            model_version: rec.model_version.clone(),
            batch_size,
            counts: rec.counts,
            at_restart,
        };
        self.launch(
            id,
            &JobName(rec.job.clone()),
            timeout,
            at_restart,
            move |log, cancel, deadline, progress| {
                pipeline::resume(&resume, log, cancel, deadline, progress)
            },
        );
        Ok(())
    }

    /// Changes `max_concurrent_dispatches` (a reload). More slots free at
    /// once; fewer take effect as running dispatches end.
    pub fn set_limit(&self, max: u32) {
        self.limit.set(max.max(1) as usize);
    }

    /// The limit on dispatches running at once.
    pub fn limit(&self) -> usize {
        self.limit.current()
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
            .read_typed(
                &job.query,
                &job.key_column,
                &features,
                &model.feature_kinds(),
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
            let scored = pipeline::score_batch(&model, &binding, batch).map_err(|e| {
                DispatchError::Model {
                    job: job.name.clone(),
                    message: e.to_string(),
                }
            })?;
            let rows: Vec<(String, f64, Option<f64>)> = match scored.outcomes {
                record::Outcomes::Classes { labels, scores } => labels
                    .iter()
                    .zip(scores)
                    .map(|(l, s)| (l.to_string(), s, None))
                    .collect(),
                record::Outcomes::Values(values) => values
                    .into_iter()
                    .map(|v| (format!("{v:?}"), f64::NAN, Some(v)))
                    .collect(),
            };
            for (key, (label, score, value)) in scored.keys.into_iter().zip(rows) {
                if out.predictions.len() + out.unscorable.len() >= limit {
                    break;
                }
                out.would_write.push(ResultRow {
                    row_key: key.clone(),
                    prediction: label.clone(),
                    score,
                    value,
                    model_version: version.clone(),
                    scored_at: now,
                });
                out.predictions.push((key, label, score, value));
            }
            for u in scored.unscorable {
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
    fn start(
        &self,
        request: &DispatchRequest,
        record: StartRecord,
    ) -> Result<DispatchId, StartError> {
        self.start_blocking(request, record)
            .map_err(|e| StartError(e.to_string()))
    }

    fn running(&self, job: &JobName) -> Option<DispatchId> {
        self.running_for(&job.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Limit;
    use std::time::Duration;

    async fn pending(limit: &Limit) -> bool {
        tokio::time::timeout(Duration::from_millis(50), limit.acquire())
            .await
            .is_err()
    }

    #[tokio::test]
    async fn the_concurrency_limit_follows_a_reload_up_and_down() {
        let limit = Limit::new(2);
        let a = limit.acquire().await;
        let b = limit.acquire().await;
        assert!(pending(&limit).await, "a third waits under a limit of 2");
        // Raised: the third runs at once.
        limit.set(3);
        let c = limit.acquire().await;
        assert!(pending(&limit).await);
        assert_eq!(limit.current(), 3);
        // Lowered to 1 with three running: none is stopped, and the permits
        // are taken back as they end, until one runs at a time.
        limit.set(1);
        limit.release(a);
        assert!(pending(&limit).await, "2 still run, the limit is 1");
        limit.release(b);
        assert!(pending(&limit).await, "1 still runs, the limit is 1");
        limit.release(c);
        let d = limit.acquire().await;
        assert!(pending(&limit).await, "one at a time");
        // Raised again before the debt is paid: nothing is lost either way.
        limit.set(2);
        let e = limit.acquire().await;
        assert!(pending(&limit).await);
        limit.release(d);
        limit.release(e);
        assert_eq!(limit.permits.available_permits(), 2);
    }
}
