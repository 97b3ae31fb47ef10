//! One dispatch, start to finish, on a blocking thread.
//!
//! Receives a [`Plan`] (the job, its datalake, the pinned model) and the id of
//! the dispatch record already `created`; emits the events of SPEC.md's
//! "A dispatch" into the event log as each step completes, and an [`Outcome`].
//!
//! Rows stream through in batches so memory stays bounded, and the steps
//! overlap: while batch N+1 is read and predicted (this thread), batch N is
//! stored in the event log (a storer thread, waiting on the event log's
//! writer) and, once stored, batch N-1 is written into the results table
//! (a writer thread) inside the one datalake transaction opened before the
//! first row is read, which first deletes the dispatch's own earlier rows.
//! Only what the event log has stored is written. When every row is stored
//! (`stored`), the transaction counts what it holds for the dispatch and
//! commits only when that is every stored prediction: exactly once, or not
//! at all — a crash before the commit leaves nothing in the results table,
//! and one before `stored` leaves the dispatch `interrupted`.
//!
//! A datalake that cannot be read while the same database is written inside
//! a transaction (a SQLite file in rollback-journal mode: the writer's
//! transaction would wait for the reader to finish) takes the sequential
//! path instead, and its `inserted` event says why: every row is read,
//! predicted and stored first; then the stored predictions stream from the
//! event log into the results table (a prefetching thread reads page N+1
//! while page N is written). [`resume`] takes that path too, for a dispatch
//! whose predictions are stored (settling one a restart interrupted, or an
//! admin's retry): it counts the dispatch's rows in the results table, and
//! writes them again from the event log unless they are all there.
//! Channels between the threads hold one batch each, so memory stays at a
//! few batches whatever the row count.

use super::record::*;
use super::store;
use crate::datalake::{Batch, Datalake, DatalakeError, ResultRow, ResultWriter, Unscorable};
use crate::eventlog::{EventLog, EventLogError};
use crate::fault;
use crate::model::{FeatureBinding, Model, ModelError, Prediction};
use mld_shared::config::JobConfig;
use mld_shared::ids::DispatchId;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Everything a dispatch needs, resolved before it starts.
pub struct Plan {
    pub id: DispatchId,
    pub job: JobConfig,
    pub datalake: Datalake,
    pub model: Arc<Model>,
    /// Recorded in the results table's `model_version` column.
    pub model_version: String,
    pub batch_size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: DispatchStatus,
    pub failed_step: Option<Step>,
    pub error: Option<String>,
    pub counts: Counts,
}

enum Stop {
    Failed(Step, String),
    Cancelled(Step, String),
}

impl From<EventLogError> for Stop {
    fn from(e: EventLogError) -> Self {
        Stop::Failed(Step::Stored, format!("event log: {e}"))
    }
}

/// Observes progress (for subscribers): called after each batch and each step.
pub type Progress<'a> = &'a (dyn Fn(Step, &Counts) + Sync);

/// Runs the dispatch. Blocking. Every failure ends as an `Outcome` and a
/// `finished` event — a panic too (a bug in a model, a driver, or a
/// callback): it fails the dispatch with the panic's message, at `predicted`
/// if it came before the predictions were stored, else at `inserted`.
pub fn execute(
    plan: &Plan,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
) -> Outcome {
    let mut counts = Counts::default();
    let id = plan.id;
    let stored = std::sync::atomic::AtomicBool::new(false);
    let tracked = |step: Step, c: &Counts| {
        if step == Step::Stored {
            stored.store(true, Ordering::Relaxed);
        }
        progress(step, c)
    };
    let progress: Progress<'_> = &tracked;
    let run = std::panic::AssertUnwindSafe(|| -> Result<(), Stop> {
        log.write_blocking(move |tx| store::start(tx, id, jiff::Timestamp::now()))
            .map_err(|e| Stop::Failed(Step::Started, format!("event log: {e}")))?;
        fault::point("dispatch.started");
        progress(Step::Started, &counts);
        let target = plan.target();
        let written = collect_predict_store(plan, log, cancel, deadline, progress, &mut counts)?;
        fault::point("dispatch.stored");
        match written {
            Written::Overlapped(writer) => {
                let writer = (*writer).map_err(|e| Stop::Failed(Step::Inserted, e.to_string()))?;
                commit_write_back(
                    &target,
                    writer,
                    log,
                    cancel,
                    deadline,
                    progress,
                    &mut counts,
                    None,
                )
            }
            Written::Pending(note) => {
                insert(&target, log, cancel, deadline, progress, &mut counts, note)
            }
        }
    });
    let result = std::panic::catch_unwind(run).unwrap_or_else(|payload| {
        let message = crate::panic_message(payload.as_ref());
        tracing::error!(dispatch = %id, panic = %message, "the dispatch panicked; it is marked failed");
        let step = if stored.load(Ordering::Relaxed) {
            Step::Inserted
        } else {
            Step::Predicted
        };
        Err(Stop::Failed(step, format!("panicked: {message}")))
    });
    finish(id, log, result, counts, progress)
}

/// Records the end of the dispatch (`finished`) and makes the outcome.
fn finish(
    id: DispatchId,
    log: &EventLog,
    result: Result<(), Stop>,
    counts: Counts,
    progress: Progress<'_>,
) -> Outcome {
    let (status, failed_step, error) = match result {
        Ok(()) => (DispatchStatus::Succeeded, None, None),
        Err(Stop::Failed(step, e)) => (DispatchStatus::Failed, Some(step), Some(e)),
        Err(Stop::Cancelled(step, e)) => (DispatchStatus::Cancelled, Some(step), Some(e)),
    };
    let outcome = Outcome {
        status,
        failed_step,
        error,
        counts,
    };
    let o = outcome.clone();
    if let Err(e) = log.write_blocking(move |tx| {
        store::finish(
            tx,
            id,
            o.status,
            o.failed_step,
            o.error.as_deref(),
            &o.counts,
            jiff::Timestamp::now(),
        )
    }) {
        tracing::error!(dispatch = %id, error = %e, "could not record the end of a dispatch");
    }
    fault::point("dispatch.finished");
    progress(Step::Finished, &counts);
    outcome
}

/// What a write-back needs: where the results go and what to write in them.
pub struct Target<'a> {
    pub id: DispatchId,
    pub job: &'a JobConfig,
    pub datalake: &'a Datalake,
    /// Recorded in the results table's `model_version` column.
    pub model_version: &'a str,
    pub batch_size: usize,
}

impl Plan {
    fn target(&self) -> Target<'_> {
        Target {
            id: self.id,
            job: &self.job,
            datalake: &self.datalake,
            model_version: &self.model_version,
            batch_size: self.batch_size,
        }
    }
}

/// A dispatch whose predictions are all stored, to write back again.
pub struct Resume {
    pub id: DispatchId,
    pub job: JobConfig,
    pub datalake: Datalake,
    pub model_version: String,
    pub batch_size: usize,
    /// What the dispatch recorded: collected, predicted, unscorable, stored.
    pub counts: Counts,
    /// Settling after a restart (else an admin's retry): for the messages.
    pub at_restart: bool,
}

/// Does a dispatch's write-back again, from its stored predictions (its
/// `resumed` event is recorded already). Counts its rows in the results
/// table first: all there, nothing to write (a write-back that committed
/// just before the daemon stopped); else the results are written again, in
/// one transaction that first deletes whatever the table held of them.
/// Blocking; records `inserted` and `finished` like [`execute`].
pub fn resume(
    r: &Resume,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
) -> Outcome {
    let mut counts = Counts {
        inserted: 0,
        ..r.counts
    };
    let id = r.id;
    let when = if r.at_restart {
        "at restart"
    } else {
        "on retry"
    };
    let run = std::panic::AssertUnwindSafe(|| -> Result<(), Stop> {
        let settled = Counts {
            inserted: counts.stored,
            ..counts
        };
        if let Some(m) = settled.mismatch() {
            return Err(Stop::Failed(
                Step::Inserted,
                format!("its counts do not reconcile, so it is not written back: {m}"),
            ));
        }
        let left = log
            .read_blocking(move |c| store::count_predictions(c, id, None))
            .map_err(|e| Stop::Failed(Step::Inserted, format!("event log: {e}")))?;
        if left != counts.stored {
            return Err(Stop::Failed(
                Step::Inserted,
                format!(
                    "only {left} of its {} stored predictions are left in the event log \
                     (pruned by prediction_retention?): run the job again",
                    counts.stored
                ),
            ));
        }
        let job = &r.job;
        let found = r
            .datalake
            .count_results(&job.results_table, &job.results_columns, id)
            .map_err(|e| Stop::Failed(Step::Inserted, e.to_string()))?;
        fault::point("resume.counted");
        if found == counts.stored {
            counts.inserted = found;
            let note = format!(
                "settled {when}: the results table already holds all {found} rows of this dispatch \
                 (its write-back had committed); nothing written again"
            );
            log.write_blocking(move |tx| {
                store::event(
                    tx,
                    id,
                    Step::Inserted,
                    Some(found),
                    Some(&note),
                    jiff::Timestamp::now(),
                )
            })
            .map_err(|e| Stop::Failed(Step::Inserted, format!("event log: {e}")))?;
            progress(Step::Inserted, &counts);
            return Ok(());
        }
        let note = format!(
            "settled {when}: written again from the {} stored predictions (the results table held {found} \
             of them, deleted first)",
            counts.stored
        );
        let target = Target {
            id,
            job,
            datalake: &r.datalake,
            model_version: &r.model_version,
            batch_size: r.batch_size,
        };
        insert(
            &target,
            log,
            cancel,
            deadline,
            progress,
            &mut counts,
            Some(note),
        )
    });
    // A panic (a driver's, say) fails the write-back; it can be retried.
    let result = std::panic::catch_unwind(run).unwrap_or_else(|payload| {
        let message = crate::panic_message(payload.as_ref());
        tracing::error!(dispatch = %id, panic = %message, "the write-back panicked; it is marked failed");
        Err(Stop::Failed(Step::Inserted, format!("panicked: {message}")))
    });
    finish(id, log, result, counts, progress)
}

fn check(
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    step: Step,
    job: &JobConfig,
) -> Result<(), Stop> {
    if cancel.is_cancelled() {
        return Err(Stop::Cancelled(step, "cancelled on request".into()));
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        let t = job
            .timeout
            .map(|t| humantime::format_duration(t.0).to_string())
            .unwrap_or_default();
        return Err(Stop::Cancelled(
            step,
            format!("timed out: the job's timeout is {t}"),
        ));
    }
    Ok(())
}

fn read_error(e: DatalakeError) -> Stop {
    Stop::Failed(Step::Collected, e.to_string())
}

/// One predicted batch on its way into the event log and, once stored
/// there, into the results table.
struct ToStore {
    keys: Vec<String>,
    outcomes: Outcomes,
    unscorable: Vec<Unscorable>,
    /// When it was scored, to the millisecond: stored with the predictions
    /// and written as `scored_at`, so a write-back done again from the event
    /// log writes the same values.
    at: jiff::Timestamp,
    /// The counts once this batch is stored (`stored` is filled in by the storer).
    counts: Counts,
}

impl ToStore {
    /// The batch as rows of the results table.
    /// What is written is what the event log stored (a regressor's value
    /// also as the text it keeps, NaN as its score), so a write-back done
    /// again from the event log writes the same rows.
    fn into_rows(self, model_version: &str, rows: &mut Vec<ResultRow>) {
        let at = self.at;
        let row = |row_key, prediction, score, value| ResultRow {
            row_key,
            prediction,
            score,
            value,
            model_version: model_version.to_string(),
            scored_at: at,
        };
        rows.clear();
        match self.outcomes {
            Outcomes::Classes { labels, scores } => rows.extend(
                self.keys
                    .into_iter()
                    .zip(labels)
                    .zip(scores)
                    .map(|((key, label), score)| row(key, label.to_string(), score, None)),
            ),
            Outcomes::Values(values) => rows.extend(
                self.keys
                    .into_iter()
                    .zip(values)
                    .map(|(key, v)| row(key, format!("{v:?}"), f64::NAN, Some(v))),
            ),
        }
    }
}

/// A batch as read, scored: the keys of the rows predicted with their
/// predictions, and every row that could not be scored — the reader's
/// (NULL or not a number) and the model's own refusals (a category its
/// encoder refuses), each with its key and why.
pub struct ScoredBatch {
    pub keys: Vec<String>,
    pub outcomes: Outcomes,
    pub unscorable: Vec<Unscorable>,
}

/// Scores a batch read with the model's features in the model's order.
pub fn score_batch(
    model: &Model,
    binding: &FeatureBinding,
    batch: Batch,
) -> Result<ScoredBatch, ModelError> {
    let Batch {
        keys,
        features,
        texts,
        mut unscorable,
    } = batch;
    let scoring = model.score(binding, crate::model::Inputs::new(features.view(), &texts))?;
    let keys = if scoring.refused.is_empty() {
        keys
    } else {
        let mut refused = scoring.refused.into_iter().peekable();
        let mut kept = Vec::with_capacity(keys.len());
        for (r, key) in keys.into_iter().enumerate() {
            match refused.next_if(|(i, _)| *i == r) {
                Some((_, reason)) => unscorable.push(Unscorable { key, reason }),
                None => kept.push(key),
            }
        }
        kept
    };
    let outcomes = match model.task() {
        crate::model::Task::Regression => Outcomes::Values(
            scoring
                .predictions
                .iter()
                .map(|p| p.value().unwrap_or(f64::NAN))
                .collect(),
        ),
        crate::model::Task::Classification => {
            let mut labels = Vec::with_capacity(scoring.predictions.len());
            let mut scores = Vec::with_capacity(scoring.predictions.len());
            for p in scoring.predictions {
                if let Prediction::Class { label, score, .. } = p {
                    labels.push(label);
                    scores.push(score);
                }
            }
            Outcomes::Classes { labels, scores }
        }
    };
    if outcomes.len() != keys.len() {
        return Err(ModelError::OnnxRun {
            reason: format!(
                "{} predictions for {} rows: the model predicted the wrong kind",
                outcomes.len(),
                keys.len()
            ),
        });
    }
    Ok(ScoredBatch {
        keys,
        outcomes,
        unscorable,
    })
}

fn unscorable_stop(first: &Unscorable) -> Stop {
    Stop::Failed(
        Step::Predicted,
        format!(
            "row {} cannot be scored ({}) and the job has fail_on_unscorable",
            first.key, first.reason
        ),
    )
}

/// Now, to the millisecond (what the event log keeps of an instant).
fn now_ms() -> jiff::Timestamp {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now)
}

/// How a dispatch writes back, decided once its query runs.
enum WriteBack {
    /// Batch by batch while reading, into this open transaction.
    Overlapped(Box<ResultWriter>),
    /// After every row is stored, from the event log; the note (why) goes
    /// into the `inserted` event.
    AfterStored(Option<String>),
}

/// What [`collect_predict_store`] leaves of the write-back.
enum Written {
    /// The open transaction holding every stored prediction, or why
    /// writing them failed (reported at `inserted`, after `stored`).
    Overlapped(Box<Result<ResultWriter, DatalakeError>>),
    /// Nothing written yet; why it waited (for the `inserted` event).
    Pending(Option<String>),
}

/// Opens the results transaction up front when the datalake can be read
/// while it is written (every server DBMS; a SQLite file in WAL mode).
fn write_back_mode(t: &Target<'_>) -> WriteBack {
    let job = t.job;
    let mut writer = match t
        .datalake
        .begin_results(&job.results_table, &job.results_columns, t.id)
    {
        Ok(w) => w,
        // The sequential path tries again after storing, and fails at
        // `inserted` with this error (the predictions stay stored, for a retry).
        Err(e) => {
            tracing::debug!(dispatch = %t.id, error = %e, "cannot open the write-back before reading");
            return WriteBack::AfterStored(None);
        }
    };
    match writer.concurrent_reads() {
        Ok(None) => WriteBack::Overlapped(Box::new(writer)),
        Ok(Some(why)) => {
            tracing::info!(dispatch = %t.id, datalake = t.datalake.name(), "{why}");
            WriteBack::AfterStored(Some(why))
        }
        Err(e) => {
            tracing::debug!(dispatch = %t.id, error = %e, "cannot tell whether the datalake reads while it writes");
            WriteBack::AfterStored(None)
        }
    }
}

/// Steps 3–5 (and, overlapped, the writing of step 6), batch by batch.
/// This thread reads and predicts; a storer thread hands each batch to the
/// event log's writer and waits for its commit; when the datalake can be
/// written while it is read, a writer thread then writes each stored batch
/// into the results transaction opened once the query runs. Channels of
/// one, so at most a few batches wait in memory.
fn collect_predict_store(
    plan: &Plan,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
    counts: &mut Counts,
) -> Result<Written, Stop> {
    let job = &plan.job;
    let features = plan.model.features().to_vec();
    let kinds = plan.model.feature_kinds();
    let mut reader = plan
        .datalake
        .read_typed(
            &job.query,
            &job.key_column,
            &features,
            &kinds,
            plan.batch_size,
        )
        .map_err(read_error)?;
    // The reader yields features in the model's order.
    let binding = plan
        .model
        .bind(&features)
        .map_err(|e| Stop::Failed(Step::Collected, e.to_string()))?;
    let id = plan.id;
    // Once the query runs (a bad one fails before anything is written).
    let (pending, writer) = match write_back_mode(&plan.target()) {
        WriteBack::Overlapped(w) => (None, Some(*w)),
        WriteBack::AfterStored(note) => (Some(note), None),
    };
    let (tx, rx) = mpsc::sync_channel::<ToStore>(1);
    let (write_tx, write_rx) = match writer {
        Some(w) => {
            let (t, r) = mpsc::sync_channel::<ToStore>(1);
            (Some(t), Some((w, r)))
        }
        None => (None, None),
    };
    // Committed so far, for live progress.
    let stored_so_far = AtomicU64::new(0);
    let spawn_error =
        |e: std::io::Error| Stop::Failed(Step::Stored, format!("cannot start a thread: {e}"));
    let (stored, written) = std::thread::scope(|scope| {
        let stored_so_far = &stored_so_far;
        let storer = std::thread::Builder::new()
            .name(format!("dispatch-{id}-store"))
            .spawn_scoped(scope, move || -> Result<u64, EventLogError> {
                let mut stored = 0u64;
                let mut forward = write_tx;
                for batch in rx {
                    let mut c = batch.counts;
                    let (n, batch) = log.write_blocking(move |tx| {
                        let n = store::store_batch(
                            tx,
                            id,
                            &batch.keys,
                            &batch.outcomes,
                            &batch.unscorable,
                            batch.at,
                        )?;
                        // What it has done so far, for a daemon that dies mid-dispatch.
                        c.stored = stored + n;
                        store::set_counts(tx, id, &c)?;
                        Ok((n, batch))
                    })?;
                    stored += n;
                    fault::point("dispatch.batch-stored");
                    stored_so_far.store(stored, Ordering::Relaxed);
                    // Only what the event log stored goes to the results table. A
                    // batch holding a key stored already is not written (nor is
                    // anything after it): the dispatch fails at `stored`.
                    if n != batch.keys.len() as u64 {
                        forward = None;
                    }
                    if let Some(f) = &forward
                        && f.send(batch).is_err()
                    {
                        forward = None;
                    }
                }
                Ok(stored)
            })
            .map_err(spawn_error)?;
        let writer = match write_rx {
            None => None,
            Some((mut w, write_rx)) => Some(
                std::thread::Builder::new()
                    .name(format!("dispatch-{id}-write"))
                    .spawn_scoped(scope, move || -> Result<ResultWriter, DatalakeError> {
                        let mut failed = None;
                        let mut rows = Vec::with_capacity(plan.batch_size);
                        // After a failure, drain: the storer never waits on a dead writer.
                        for batch in write_rx {
                            if failed.is_some() {
                                continue;
                            }
                            batch.into_rows(&plan.model_version, &mut rows);
                            match w.write_batch(&rows) {
                                Ok(()) => fault::point("dispatch.batch-written"),
                                Err(e) => failed = Some(e),
                            }
                        }
                        match failed {
                            Some(e) => Err(e),
                            None => Ok(w),
                        }
                    })
                    .map_err(spawn_error)?,
            ),
        };
        let read = (|| -> Result<(), Stop> {
            loop {
                check(cancel, deadline, Step::Collected, job)?;
                let Some(batch) = reader.next_batch().map_err(read_error)? else {
                    return Ok(());
                };
                counts.collected += batch.rows_read() as u64;
                if job.fail_on_unscorable
                    && let Some(first) = batch.unscorable.first()
                {
                    return Err(unscorable_stop(first));
                }
                let scored = score_batch(&plan.model, &binding, batch)
                    .map_err(|e| Stop::Failed(Step::Predicted, e.to_string()))?;
                counts.unscorable += scored.unscorable.len() as u64;
                if job.fail_on_unscorable
                    && let Some(first) = scored.unscorable.first()
                {
                    return Err(unscorable_stop(first));
                }
                counts.predicted += scored.outcomes.len() as u64;
                let next = ToStore {
                    keys: scored.keys,
                    outcomes: scored.outcomes,
                    unscorable: scored.unscorable,
                    at: now_ms(),
                    counts: *counts,
                };
                // A closed channel means the storer failed: its error is the one to report.
                if tx.send(next).is_err() {
                    return Ok(());
                }
                counts.stored = stored_so_far.load(Ordering::Relaxed);
                progress(Step::Collected, counts);
            }
        })();
        drop(tx);
        let stored = storer
            .join()
            .map_err(|_| Stop::Failed(Step::Stored, "the storing thread panicked".into()));
        // The storer is done, so the writer's channel is closed: it ends too.
        let written = writer.map(|w| {
            w.join().unwrap_or_else(|payload| {
                Err(DatalakeError::Write {
                    datalake: plan.datalake.name().to_string(),
                    table: job.results_table.clone(),
                    message: format!(
                        "the writing thread panicked: {}",
                        crate::panic_message(payload.as_ref())
                    ),
                })
            })
        });
        let stored = stored?;
        read?;
        Ok::<_, Stop>((stored.map_err(Stop::from)?, written))
    })?;
    counts.stored = stored;
    drop(reader);
    let c = *counts;
    log.write_blocking(move |tx| {
        let now = jiff::Timestamp::now();
        store::set_counts(tx, id, &c)?;
        store::event(tx, id, Step::Collected, Some(c.collected), None, now)?;
        let note = (c.unscorable > 0).then(|| format!("{} rows could not be scored", c.unscorable));
        store::event(
            tx,
            id,
            Step::Predicted,
            Some(c.predicted),
            note.as_deref(),
            now,
        )?;
        store::event(tx, id, Step::Stored, Some(c.stored), None, now)
    })?;
    progress(Step::Stored, counts);
    if counts.stored != counts.predicted {
        return Err(Stop::Failed(
            Step::Stored,
            format!(
                "the query returned {} duplicate row keys: predicted {} rows, stored {} distinct keys",
                counts.predicted - counts.stored,
                counts.predicted,
                counts.stored
            ),
        ));
    }
    Ok(match (written, pending) {
        (Some(w), _) => Written::Overlapped(Box::new(w)),
        (None, note) => Written::Pending(note.flatten()),
    })
}

/// Step 6: the stored predictions, in pages, into one datalake transaction.
/// A prefetching thread reads the next page from the event log (on its
/// reader thread) while this one writes the current page to the datalake.
/// Before the commit, the rows the transaction holds for the dispatch are
/// counted: anything but every stored prediction rolls back. `note` goes
/// into the `inserted` event.
fn insert(
    t: &Target<'_>,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
    counts: &mut Counts,
    note: Option<String>,
) -> Result<(), Stop> {
    let job = t.job;
    let id = t.id;
    let write_error = |e: DatalakeError| Stop::Failed(Step::Inserted, e.to_string());
    let log_error = |e: EventLogError| Stop::Failed(Step::Inserted, format!("event log: {e}"));
    let mut writer = t
        .datalake
        .begin_results(&job.results_table, &job.results_columns, id)
        .map_err(write_error)?;
    let page = t.batch_size.clamp(1, u32::MAX as usize) as u32;
    let (tx, rx) = mpsc::sync_channel::<Result<Vec<StoredPrediction>, EventLogError>>(1);
    let written = std::thread::scope(|scope| {
        let prefetch = std::thread::Builder::new()
            .name(format!("dispatch-{id}-read"))
            .spawn_scoped(scope, move || {
                let mut after: Option<String> = None;
                loop {
                    let from = after.take();
                    let got = log.read_blocking(move |c| {
                        store::predictions(c, id, from.as_deref(), None, page)
                    });
                    let (last, full) = match &got {
                        Ok(rows) => (
                            rows.last().map(|p| p.row_key.clone()),
                            rows.len() == page as usize,
                        ),
                        Err(_) => (None, false),
                    };
                    // The writer gone (failed or cancelled), or the last page sent: done.
                    if tx.send(got).is_err() || !full {
                        return;
                    }
                    after = last;
                }
            });
        if let Err(e) = prefetch {
            return Err(Stop::Failed(
                Step::Inserted,
                format!("cannot start a thread: {e}"),
            ));
        }
        let mut rows: Vec<ResultRow> = Vec::with_capacity(page as usize);
        for stored in rx {
            check(cancel, deadline, Step::Inserted, job)?;
            let stored = stored.map_err(log_error)?;
            rows.clear();
            rows.extend(stored.into_iter().map(|p| ResultRow {
                row_key: p.row_key,
                prediction: p.label,
                score: p.score,
                value: p.value,
                model_version: t.model_version.to_string(),
                scored_at: p.created_at,
            }));
            writer.write_batch(&rows).map_err(write_error)?;
            fault::point("dispatch.page-written");
            // Shown as progress only: nothing counts as inserted before the commit.
            let shown = Counts {
                inserted: writer.written(),
                ..*counts
            };
            progress(Step::Inserted, &shown);
        }
        Ok(())
    });
    // On any error above (or below, before the commit) the writer is
    // dropped, which rolls the transaction back.
    written?;
    commit_write_back(t, writer, log, cancel, deadline, progress, counts, note)
}

/// The end of step 6, once every stored prediction is written into the
/// open transaction: counts the rows it holds for the dispatch, commits only
/// when that is every stored prediction, and records `inserted` (with
/// `note`). Dropping `writer` on any error rolls back.
#[allow(clippy::too_many_arguments)]
fn commit_write_back(
    t: &Target<'_>,
    mut writer: ResultWriter,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
    counts: &mut Counts,
    note: Option<String>,
) -> Result<(), Stop> {
    let job = t.job;
    let id = t.id;
    let write_error = |e: DatalakeError| Stop::Failed(Step::Inserted, e.to_string());
    check(cancel, deadline, Step::Inserted, job)?;
    let held = writer.count_rows().map_err(write_error)?;
    let tentative = Counts {
        inserted: held,
        ..*counts
    };
    if let Some(m) = tentative.mismatch() {
        return Err(Stop::Failed(
            Step::Inserted,
            format!(
                "the results table would hold {held} rows of this dispatch after {} were written; \
                 counts do not reconcile ({m}): rolled back, nothing was committed",
                writer.written()
            ),
        ));
    }
    fault::point("dispatch.counted");
    writer.commit().map_err(write_error)?;
    fault::point("dispatch.committed");
    counts.inserted = held;
    let n = held;
    log.write_blocking(move |tx| {
        store::event(
            tx,
            id,
            Step::Inserted,
            Some(n),
            note.as_deref(),
            jiff::Timestamp::now(),
        )
    })
    .map_err(|e| {
        Stop::Failed(
            Step::Inserted,
            format!(
                "the results were committed to the datalake ({n} rows), but the event log could not record it: {e}; \
                 `mldctl retry {id}` settles it"
            ),
        )
    })?;
    fault::point("dispatch.inserted");
    progress(Step::Inserted, counts);
    Ok(())
}
