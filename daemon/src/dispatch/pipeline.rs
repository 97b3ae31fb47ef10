//! One dispatch, start to finish, on a blocking thread.
//!
//! Receives a [`Plan`] (the job, its datalake, the pinned model) and the id of
//! the dispatch record already `created`; emits the events of SPEC.md's
//! "A dispatch" into the event log as each step completes, and an [`Outcome`].
//!
//! Rows stream through in batches so memory stays bounded: read a batch,
//! predict it, store its predictions in the event log. Once every row is
//! stored, the stored predictions stream from the event log into the results
//! table inside one datalake transaction, which commits or rolls back whole.
//! Reading and writing the datalake never overlap, so even a SQLite datalake
//! without WAL never waits on itself.

use super::record::*;
use super::store;
use crate::datalake::{Datalake, DatalakeError, ResultRow};
use crate::eventlog::{EventLog, EventLogError};
use crate::model::Model;
use mld_shared::config::JobConfig;
use mld_shared::ids::DispatchId;
use std::sync::Arc;
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

/// Runs the dispatch. Blocking. Never panics on bad data; every failure ends
/// as an `Outcome` and a `finished` event.
pub fn execute(
    plan: &Plan,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
) -> Outcome {
    let mut counts = Counts::default();
    let id = plan.id;
    let result = (|| -> Result<(), Stop> {
        log.write_blocking(move |tx| store::start(tx, id, jiff::Timestamp::now()))?;
        progress(Step::Started, &counts);
        collect_predict_store(plan, log, cancel, deadline, progress, &mut counts)?;
        insert(plan, log, cancel, deadline, progress, &mut counts)?;
        if let Some(m) = counts.mismatch() {
            return Err(Stop::Failed(
                Step::Inserted,
                format!("counts do not reconcile: {m}"),
            ));
        }
        Ok(())
    })();
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
    progress(Step::Finished, &counts);
    outcome
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

/// Steps 3–5, batch by batch.
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
    let mut reader = plan
        .datalake
        .read(&job.query, &job.key_column, &features, plan.batch_size)
        .map_err(read_error)?;
    // The reader yields features in the model's order.
    let binding = plan
        .model
        .bind(&features)
        .map_err(|e| Stop::Failed(Step::Collected, e.to_string()))?;
    loop {
        check(cancel, deadline, Step::Collected, job)?;
        let Some(batch) = reader.next_batch().map_err(read_error)? else {
            break;
        };
        counts.collected += batch.rows_read() as u64;
        counts.unscorable += batch.unscorable.len() as u64;
        if job.fail_on_unscorable
            && let Some(first) = batch.unscorable.first()
        {
            return Err(Stop::Failed(
                Step::Predicted,
                format!(
                    "row {} cannot be scored ({}) and the job has fail_on_unscorable",
                    first.key, first.reason
                ),
            ));
        }
        let predictions = plan
            .model
            .predict(&binding, batch.features.view())
            .map_err(|e| Stop::Failed(Step::Predicted, e.to_string()))?;
        counts.predicted += predictions.len() as u64;
        let labels: Vec<Arc<str>> = predictions.iter().map(|p| p.label.clone()).collect();
        let scores: Vec<f64> = predictions.iter().map(|p| p.score).collect();
        let keys = batch.keys;
        let unscorable = batch.unscorable;
        let id = plan.id;
        let stored = log.write_blocking(move |tx| {
            store::store_batch(
                tx,
                id,
                &keys,
                &labels,
                &scores,
                &unscorable,
                jiff::Timestamp::now(),
            )
        })?;
        counts.stored += stored;
        progress(Step::Collected, counts);
    }
    drop(reader);
    let id = plan.id;
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
fn insert(
    plan: &Plan,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
    counts: &mut Counts,
) -> Result<(), Stop> {
    let job = &plan.job;
    let write_error = |e: DatalakeError| Stop::Failed(Step::Inserted, e.to_string());
    let mut writer = plan
        .datalake
        .begin_results(&job.results_table, &job.results_columns, plan.id)
        .map_err(write_error)?;
    let page = plan.batch_size.clamp(1, u32::MAX as usize) as u32;
    let mut after: Option<String> = None;
    let mut rows: Vec<ResultRow> = Vec::with_capacity(page as usize);
    loop {
        if let Err(stop) = check(cancel, deadline, Step::Inserted, job) {
            writer.rollback();
            return Err(stop);
        }
        let id = plan.id;
        let from = after.clone();
        let stored =
            log.read_blocking(move |c| store::predictions(c, id, from.as_deref(), None, page))?;
        let Some(last) = stored.last() else { break };
        after = Some(last.row_key.clone());
        rows.clear();
        rows.extend(stored.into_iter().map(|p| ResultRow {
            row_key: p.row_key,
            prediction: p.label,
            score: p.score,
            model_version: plan.model_version.clone(),
            scored_at: p.created_at,
        }));
        if let Err(e) = writer.write_batch(&rows) {
            writer.rollback();
            return Err(write_error(e));
        }
        progress(Step::Inserted, counts);
    }
    counts.inserted = writer.commit().map_err(write_error)?;
    let id = plan.id;
    let n = counts.inserted;
    log.write_blocking(move |tx| {
        store::event(
            tx,
            id,
            Step::Inserted,
            Some(n),
            None,
            jiff::Timestamp::now(),
        )
    })?;
    progress(Step::Inserted, counts);
    Ok(())
}
