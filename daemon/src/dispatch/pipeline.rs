//! One dispatch, start to finish, on a blocking thread.
//!
//! Receives a [`Plan`] (the job, its datalake, the pinned model) and the id of
//! the dispatch record already `created`; emits the events of SPEC.md's
//! "A dispatch" into the event log as each step completes, and an [`Outcome`].
//!
//! Rows stream through in batches so memory stays bounded: read a batch,
//! predict it, store its predictions in the event log. Once every row is
//! stored, the stored predictions stream from the event log into the results
//! table inside one datalake transaction, which first deletes the dispatch's
//! own earlier rows, then counts what it holds for the dispatch and commits
//! only when that is every stored prediction: exactly once, or not at all.
//! [`resume`] does the write-back again for a dispatch whose predictions are
//! stored (settling one a restart interrupted, or an admin's retry): it
//! counts the dispatch's rows in the results table, and writes them again
//! from the event log unless they are all there.
//! Reading and writing the datalake never overlap, so even a SQLite datalake
//! without WAL never waits on itself. Within each phase the event log works
//! alongside: batch N is stored while batch N+1 is read and predicted, and
//! page N+1 is read back while page N is written (two helper threads, a
//! channel of one each, so memory stays at a few batches).

use super::record::*;
use super::store;
use crate::datalake::{Batch, Datalake, DatalakeError, ResultRow, Unscorable};
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
        collect_predict_store(plan, log, cancel, deadline, progress, &mut counts)?;
        fault::point("dispatch.stored");
        insert(
            &plan.target(),
            log,
            cancel,
            deadline,
            progress,
            &mut counts,
            None,
        )?;
        Ok(())
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

/// One predicted batch on its way into the event log.
struct ToStore {
    keys: Vec<String>,
    outcomes: Outcomes,
    unscorable: Vec<Unscorable>,
    /// The counts once this batch is stored (`stored` is filled in by the storer).
    counts: Counts,
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

/// Steps 3–5, batch by batch. Storing runs on the event log's writer thread
/// while the next batch is read and predicted: this thread hands each batch
/// to a storer thread (a channel of one, so at most two batches wait in
/// memory) that waits for its commit.
fn collect_predict_store(
    plan: &Plan,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
    counts: &mut Counts,
) -> Result<(), Stop> {
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
    let (tx, rx) = mpsc::sync_channel::<ToStore>(1);
    // Committed so far, for live progress.
    let stored_so_far = AtomicU64::new(0);
    let stored = std::thread::scope(|scope| {
        let stored_so_far = &stored_so_far;
        let storer = std::thread::Builder::new()
            .name(format!("dispatch-{id}-store"))
            .spawn_scoped(scope, move || -> Result<u64, EventLogError> {
                let mut stored = 0u64;
                for batch in rx {
                    let mut c = batch.counts;
                    let n = log.write_blocking(move |tx| {
                        let n = store::store_batch(
                            tx,
                            id,
                            &batch.keys,
                            &batch.outcomes,
                            &batch.unscorable,
                            jiff::Timestamp::now(),
                        )?;
                        // What it has done so far, for a daemon that dies mid-dispatch.
                        c.stored = stored + n;
                        store::set_counts(tx, id, &c)?;
                        Ok(n)
                    })?;
                    stored += n;
                    fault::point("dispatch.batch-stored");
                    stored_so_far.store(stored, Ordering::Relaxed);
                }
                Ok(stored)
            })
            .map_err(|e| Stop::Failed(Step::Stored, format!("cannot start a thread: {e}")));
        let storer = match storer {
            Ok(s) => s,
            Err(stop) => return Err(stop),
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
            .map_err(|_| Stop::Failed(Step::Stored, "the storing thread panicked".into()))?;
        read?;
        stored.map_err(Stop::from)
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
    Ok(())
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
