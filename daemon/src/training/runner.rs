//! Training runs inside the daemon: the one owner of every run since start.
//!
//! Receives validated [`TrainRequest`]s (with the [`Catalog`] they were
//! validated against), cancel requests and lookups. Numbers each run by its
//! row in the event log's `training_runs` table, fits it on its own OS thread
//! (training is long and CPU-bound: never the async runtime, nor the blocking
//! pool a runtime shutdown would wait for), keeps the result as an experiment
//! in the [`Registry`], and records the outcome in the table. Emits every
//! change of a run to an [`Observer`] (the daemon publishes it as
//! `Update::Training`); progress is throttled to [`PROGRESS_EVERY`], stage
//! changes and the end always go out.
//!
//! At start, [`mark_interrupted`] closes runs a dead daemon left `running`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Catalog, Progress, Stage, TrainRequest, TrainingError, store, train_experiment};
use crate::eventlog::{EventLog, EventLogError};
use crate::model::Registry;

/// The most progress notes per run and second, besides stage changes.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// What the error of a run left `running` by a dead daemon says.
pub const INTERRUPTED: &str =
    "the daemon stopped while this training ran; no experiment was kept from it";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl RunStatus {
    /// The text in `training_runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// The status `training_runs.status` holds; `None` for anything else.
    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            "interrupted" => RunStatus::Interrupted,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        self != RunStatus::Running
    }
}

/// One training run, as the daemon knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run: u64,
    pub request: TrainRequest,
    pub requested_by: String,
    pub status: RunStatus,
    pub stage: Stage,
    /// Of the whole run, in [0, 1].
    pub fraction: f64,
    pub experiment: Option<String>,
    pub error: Option<String>,
    pub started_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
}

/// Told of every change of a run (called from the run's thread).
pub type Observer = Arc<dyn Fn(&RunRecord) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("no training run {0}")]
    UnknownRun(u64),
    #[error("training run {run} already ended ({status})")]
    Finished { run: u64, status: &'static str },
    #[error("cannot record the training run: {0}")]
    EventLog(#[from] EventLogError),
    #[error("cannot start the training thread: {0}")]
    Thread(std::io::Error),
}

struct Live {
    record: RunRecord,
    cancel: Arc<AtomicBool>,
}

/// Handle on the runs. Cheap to share behind an `Arc`.
pub struct TrainingRunner {
    eventlog: EventLog,
    registry: Registry,
    observer: Observer,
    runs: Mutex<BTreeMap<u64, Live>>,
}

/// Marks runs left `running` by a daemon that died as `interrupted`; returns their numbers.
pub fn mark_interrupted(log: &EventLog) -> Result<Vec<u64>, EventLogError> {
    let runs = log.write_blocking(move |tx| {
        store::mark_interrupted(tx, INTERRUPTED, jiff::Timestamp::now())
    })?;
    for run in &runs {
        tracing::warn!(
            run,
            "training run was going when the daemon stopped; marked interrupted"
        );
    }
    Ok(runs)
}

impl TrainingRunner {
    pub fn new(eventlog: EventLog, registry: Registry, observer: Observer) -> TrainingRunner {
        TrainingRunner {
            eventlog,
            registry,
            observer,
            runs: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Live>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the run, starts its thread and returns its number at once.
    /// `request` must have passed `catalog.validate` (it is validated again
    /// by the fit, which is cheap).
    pub async fn start(
        self: &Arc<Self>,
        catalog: Catalog,
        request: TrainRequest,
        requested_by: &str,
    ) -> Result<RunRecord, RunnerError> {
        let started_at = jiff::Timestamp::now();
        let json = serde_json::to_string(&request).unwrap_or_default();
        let by = requested_by.to_string();
        let run = self
            .eventlog
            .write(move |tx| store::insert(tx, &by, &json, started_at))
            .await?;
        let record = RunRecord {
            run,
            request: request.clone(),
            requested_by: requested_by.to_string(),
            status: RunStatus::Running,
            stage: Stage::Loading,
            fraction: 0.0,
            experiment: None,
            error: None,
            started_at,
            finished_at: None,
        };
        let cancel = Arc::new(AtomicBool::new(false));
        self.lock().insert(
            run,
            Live {
                record: record.clone(),
                cancel: cancel.clone(),
            },
        );
        tracing::info!(run, by = requested_by, dataset = %request.dataset, model = %request.model, "training started");
        (self.observer)(&record);
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("training-{run}"))
            .spawn(move || me.execute(run, catalog, request, cancel));
        if let Err(e) = spawned {
            self.finish(
                run,
                RunStatus::Failed,
                None,
                Some(format!("cannot start the training thread: {e}")),
            );
            return Err(RunnerError::Thread(e));
        }
        Ok(record)
    }

    /// The run's thread: fit, keep the experiment, record the outcome.
    fn execute(&self, run: u64, catalog: Catalog, request: TrainRequest, cancel: Arc<AtomicBool>) {
        let mut last_note = Instant::now();
        let mut last_stage = Stage::Loading;
        let mut progress = |p: Progress| {
            let due = p.stage != last_stage || last_note.elapsed() >= PROGRESS_EVERY;
            let record = {
                let mut runs = self.lock();
                let Some(live) = runs.get_mut(&run) else {
                    return;
                };
                live.record.stage = p.stage;
                live.record.fraction = p.fraction.clamp(0.0, 1.0);
                due.then(|| live.record.clone())
            };
            if let Some(record) = record {
                last_note = Instant::now();
                last_stage = p.stage;
                (self.observer)(&record);
            }
        };
        // A panic (in linfa, or in an observer) fails this run, not the daemon.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            train_experiment(&catalog, &self.registry, &request, &mut progress, &cancel)
        }));
        let outcome = match outcome {
            Ok(o) => o,
            Err(payload) => {
                let message = crate::panic_message(payload.as_ref());
                tracing::error!(run, panic = %message, "the training run panicked; it is marked failed");
                return self.finish(
                    run,
                    RunStatus::Failed,
                    None,
                    Some(format!("training panicked: {message}")),
                );
            }
        };
        let (status, experiment, error) = match outcome {
            Ok((id, _)) => (RunStatus::Succeeded, Some(id.0), None),
            Err(TrainingError::Cancelled) => (
                RunStatus::Cancelled,
                None,
                Some("cancelled by request".to_string()),
            ),
            Err(e) => (RunStatus::Failed, None, Some(e.to_string())),
        };
        self.finish(run, status, experiment, error);
    }

    fn finish(
        &self,
        run: u64,
        status: RunStatus,
        experiment: Option<String>,
        error: Option<String>,
    ) {
        let finished_at = jiff::Timestamp::now();
        let (exp, err) = (experiment.clone(), error.clone());
        let recorded = self.eventlog.write_blocking(move |tx| {
            store::finish(tx, run, status, exp.as_deref(), err.as_deref(), finished_at)
        });
        if let Err(e) = recorded {
            tracing::error!(run, error = %e, "cannot record the end of a training run");
        }
        let record = {
            let mut runs = self.lock();
            let Some(live) = runs.get_mut(&run) else {
                return;
            };
            let r = &mut live.record;
            r.status = status;
            r.experiment = experiment;
            r.error = error;
            r.finished_at = Some(finished_at);
            if status == RunStatus::Succeeded {
                r.stage = Stage::Done;
                r.fraction = 1.0;
            }
            r.clone()
        };
        match &record.error {
            None => tracing::info!(run, experiment = ?record.experiment, "training succeeded"),
            Some(e) => tracing::warn!(run, status = status.as_str(), error = %e, "training ended"),
        }
        (self.observer)(&record);
    }

    /// Asks a running run to stop; it ends `cancelled` at its next check
    /// (between steps, trees, one-vs-rest machines).
    pub fn cancel(&self, run: u64) -> Result<RunRecord, RunnerError> {
        let runs = self.lock();
        let live = runs.get(&run).ok_or(RunnerError::UnknownRun(run))?;
        if live.record.status.is_finished() {
            return Err(RunnerError::Finished {
                run,
                status: live.record.status.as_str(),
            });
        }
        live.cancel.store(true, Ordering::Relaxed);
        Ok(live.record.clone())
    }

    /// Cancels every running run (at shutdown).
    pub fn cancel_all(&self) {
        for live in self.lock().values() {
            live.cancel.store(true, Ordering::Relaxed);
        }
    }

    pub fn running_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|l| !l.record.status.is_finished())
            .count()
    }

    /// A run of this daemon from memory, an older one from the event log.
    pub async fn get(&self, run: u64) -> Result<RunRecord, RunnerError> {
        if let Some(live) = self.lock().get(&run) {
            return Ok(live.record.clone());
        }
        let found = self
            .eventlog
            .read(move |c| store::get(c, run))
            .await?
            .ok_or(RunnerError::UnknownRun(run))?;
        Ok(record_of(run, found))
    }

    /// The latest `limit` runs, newest first: this daemon's from memory
    /// (with their live progress), older ones from the event log.
    pub async fn recent(&self, limit: u32) -> Result<Vec<RunRecord>, RunnerError> {
        let stored = self.eventlog.read(move |c| store::recent(c, limit)).await?;
        let live = self.lock();
        Ok(stored
            .into_iter()
            .map(|(run, r)| {
                live.get(&run)
                    .map_or_else(|| record_of(run, r), |l| l.record.clone())
            })
            .collect())
    }
}

/// A run as the event log has it (progress is only known while it runs).
fn record_of(run: u64, found: store::StoredRun) -> RunRecord {
    // A request written by another version may not parse; show what can be shown.
    let request = serde_json::from_str(&found.request_json).unwrap_or(TrainRequest {
        dataset: String::new(),
        model: String::new(),
        hyperparameters: BTreeMap::new(),
        test_split: 0.0,
        seed: 0,
    });
    let done = found.status == RunStatus::Succeeded;
    RunRecord {
        run,
        request,
        requested_by: found.requested_by,
        status: found.status,
        stage: if done { Stage::Done } else { Stage::Loading },
        fraction: if done { 1.0 } else { 0.0 },
        experiment: found.experiment,
        error: found.error,
        started_at: found.started_at,
        finished_at: found.finished_at,
    }
}
