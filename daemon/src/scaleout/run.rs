//! A dispatch scored in shards, start to finish, on the blocking thread a
//! dispatch runs on: split, hand the shards to the executor, follow them,
//! ingest each one's report, retry failed ones, and finish.
//!
//! The dispatch's events are those of any dispatch, with a `shard` event
//! for each shard that is done, failed, or submitted again. It succeeds when
//! every shard's report is in the event log, the counts reconcile, and the
//! results table holds exactly the dispatch's stored predictions — counted,
//! like the in-daemon write-back's check. When it is cancelled, times out or
//! fails (a shard failed past `shard_retries`, named in the error), every
//! task is stopped first, then the dispatch's rows are deleted from the
//! results table, so it leaves none behind, as an in-daemon dispatch whose
//! transaction rolled back.

use super::executor::{self, Executor, TaskKey, TaskState};
use super::spool::{DispatchSpool, RowsReader, ShardReport, ShardSpec, WorkerLake};
use super::store::{self as shard_store, ShardState};
use crate::datalake::{Datalake, KeyRange, ShardKey, shard};
use crate::dispatch::pipeline::{Outcome, Progress};
use crate::dispatch::record::*;
use crate::dispatch::store;
use crate::eventlog::EventLog;
use crate::fault;
use mld_shared::config::{DatalakeConfig, ExecutorConfig, JobConfig};
use mld_shared::ids::DispatchId;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Everything a sharded dispatch needs, resolved before it starts.
pub struct ShardedPlan {
    pub id: DispatchId,
    pub job: JobConfig,
    pub datalake: Datalake,
    pub datalake_config: DatalakeConfig,
    pub model: String,
    pub model_version: u32,
    pub model_hash: String,
    /// The pinned version's folder in the registry (copied to the spool).
    pub model_dir: PathBuf,
    pub onnxruntime: Option<PathBuf>,
    pub executor_name: String,
    pub executor: ExecutorConfig,
    pub shards: u32,
    pub batch_size: usize,
    /// Environment variables workers must not see.
    pub hide: Vec<String>,
}

enum Stop {
    Failed(Step, String),
    Cancelled(Step, String),
}

/// Runs the dispatch. Blocking; every failure ends as an `Outcome` and a
/// `finished` event, a panic too.
pub fn execute(
    plan: &ShardedPlan,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
) -> Outcome {
    let spool = plan.spool();
    let mut counts = Counts::default();
    let result = guarded(plan.id, || {
        run(plan, &spool, log, cancel, deadline, progress, &mut counts)
    });
    settle(plan, &spool, log, progress, result, counts)
}

/// An admin's retry of a sharded dispatch that ended before every shard
/// was in: only the shards not done run again (their workers score and
/// report, and write nothing); the done shards' predictions stay in the
/// event log. Once every shard is in, the whole dispatch's results are
/// written from the event log in one transaction, as a retried write-back
/// ([`pipeline::resume`]), so the results table never holds part of it.
pub fn rerun(
    plan: &ShardedPlan,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
) -> Outcome {
    let spool = plan.spool();
    let mut counts = Counts::default();
    let result = guarded(plan.id, || {
        rerun_shards(plan, &spool, log, cancel, deadline, progress, &mut counts)
    });
    if result.is_err() {
        return settle(plan, &spool, log, progress, result, counts);
    }
    spool.remove();
    let resume = crate::dispatch::pipeline::Resume {
        id: plan.id,
        job: plan.job.clone(),
        datalake: plan.datalake.clone(),
        model_version: plan.model_version.to_string(),
        batch_size: plan.batch_size,
        counts,
        at_restart: false,
    };
    crate::dispatch::pipeline::resume(&resume, log, cancel, deadline, progress)
}

/// Runs `body`, a panic becoming a failure.
fn guarded(id: DispatchId, body: impl FnOnce() -> Result<(), Stop>) -> Result<(), Stop> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let message = crate::panic_message(payload.as_ref());
        tracing::error!(dispatch = %id, panic = %message, "a sharded dispatch panicked");
        Err(Stop::Failed(Step::Shard, format!("panicked: {message}")))
    })
}

/// The end of a sharded dispatch: on a stop, its rows are removed from the
/// results table and its open shards cancelled; its spool goes (a failed
/// one keeps its workers' logs); `finished` is recorded.
fn settle(
    plan: &ShardedPlan,
    spool: &DispatchSpool,
    log: &EventLog,
    progress: Progress<'_>,
    result: Result<(), Stop>,
    counts: Counts,
) -> Outcome {
    let id = plan.id;
    let (status, failed_step, error) = match result {
        Ok(()) => {
            spool.remove();
            (DispatchStatus::Succeeded, None, None)
        }
        Err(stop) => {
            let (status, step, message) = match stop {
                Stop::Failed(s, m) => (DispatchStatus::Failed, s, m),
                Stop::Cancelled(s, m) => (DispatchStatus::Cancelled, s, m),
            };
            let message = match remove_results(plan) {
                Ok(()) => message,
                Err(e) => format!(
                    "{message}; and its shards' rows could not be removed from the results table: {e}"
                ),
            };
            if status == DispatchStatus::Failed {
                spool.remove_all_but_logs();
            } else {
                spool.remove();
            }
            (status, Some(step), Some(message))
        }
    };
    let outcome = Outcome {
        status,
        failed_step,
        error,
        counts,
    };
    let o = outcome.clone();
    if let Err(e) = log.write_blocking(move |tx| {
        let now = jiff::Timestamp::now();
        if o.status != DispatchStatus::Succeeded {
            shard_store::cancel_open(tx, id, now)?;
        }
        store::finish(
            tx,
            id,
            o.status,
            o.failed_step,
            o.error.as_deref(),
            &o.counts,
            now,
        )
    }) {
        tracing::error!(dispatch = %id, error = %e, "could not record the end of a dispatch");
    }
    progress(Step::Finished, &counts);
    outcome
}

impl ShardedPlan {
    /// The dispatch's folder in the executor's spool.
    pub fn spool(&self) -> DispatchSpool {
        DispatchSpool::new(
            self.executor
                .spool
                .as_deref()
                .unwrap_or(std::path::Path::new("spool")),
            self.id,
        )
    }

    /// What every worker of the dispatch reads.
    fn spec(&self, key: &ShardKey, ranges: &[KeyRange], write_results: bool) -> ShardSpec {
        let job = &self.job;
        ShardSpec {
            dispatch_id: self.id.0,
            job: job.name.clone(),
            datalake: WorkerLake::new(self.datalake.name(), &self.datalake_config),
            query: job.query.clone(),
            key: key.clone(),
            ranges: ranges.to_vec(),
            model: self.model.clone(),
            model_version: self.model_version,
            model_hash: self.model_hash.clone(),
            onnxruntime: self.onnxruntime.clone(),
            results_table: job.results_table.clone(),
            results_columns: job.results_columns.named().map(|(_, c)| c.to_string()),
            batch_size: self.batch_size,
            fail_on_unscorable: job.fail_on_unscorable,
            write_results,
        }
    }

    fn shard_key(&self) -> ShardKey {
        ShardKey {
            key_column: self.job.key_column.clone(),
            shard_by: self.job.shard_by.clone(),
        }
    }

    /// Writes the spec, the connection file and the model into the spool.
    fn prepare(&self, spool: &DispatchSpool, spec: &ShardSpec) -> Result<(), Stop> {
        let connection = self.datalake.connection_for_worker();
        spool
            .prepare(
                spec,
                connection.as_ref().map(|s| s.expose()),
                &self.model_dir,
            )
            .map_err(|e| {
                Stop::Failed(
                    Step::Started,
                    format!("cannot prepare the spool {}: {e}", spool.dir.display()),
                )
            })
    }
}

/// Deletes every row of the dispatch from the results table (one transaction).
fn remove_results(plan: &ShardedPlan) -> Result<(), String> {
    plan.datalake
        .begin_results(&plan.job.results_table, &plan.job.results_columns, plan.id)
        .and_then(|w| w.commit())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Per shard: its range, the attempt running, and where it is.
struct Shard {
    attempt: u32,
    /// The attempt this run of the shards started it at (0; after an
    /// admin's retry, the one after its last): its retries count from here.
    first_attempt: u32,
    /// When its current attempt was submitted (ms since the epoch).
    submitted_ms: i64,
    state: ShardState,
    node: Option<String>,
    /// Why each failed attempt failed.
    failures: Vec<String>,
}

fn run(
    plan: &ShardedPlan,
    spool: &DispatchSpool,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
    counts: &mut Counts,
) -> Result<(), Stop> {
    let id = plan.id;
    let job = &plan.job;
    let log_err = |step: Step| {
        move |e: crate::eventlog::EventLogError| Stop::Failed(step, format!("event log: {e}"))
    };
    log.write_blocking(move |tx| store::start(tx, id, jiff::Timestamp::now()))
        .map_err(log_err(Step::Started))?;
    progress(Step::Started, counts);

    // Split.
    let key = plan.shard_key();
    let bounds = plan
        .datalake
        .key_bounds(&job.query, &key)
        .map_err(|e| Stop::Failed(Step::Collected, e.to_string()))?;
    let Some((lo, hi)) = bounds else {
        // No rows: nothing to hand out, and nothing of this dispatch may stay in the results table.
        remove_results(plan).map_err(|e| Stop::Failed(Step::Inserted, e))?;
        log.write_blocking(move |tx| {
            let now = jiff::Timestamp::now();
            for step in [Step::Collected, Step::Predicted, Step::Stored] {
                store::event(tx, id, step, Some(0), None, now)?;
            }
            store::event(
                tx,
                id,
                Step::Inserted,
                Some(0),
                Some("the query returned no rows: no shard ran"),
                now,
            )
        })
        .map_err(log_err(Step::Inserted))?;
        return Ok(());
    };
    let ranges = shard::split(lo, hi, plan.shards);
    plan.prepare(spool, &plan.spec(&key, &ranges, true))?;
    let (executor_name, kind) = (plan.executor_name.clone(), plan.executor.kind);
    let n = ranges.len();
    let note = format!(
        "{n} shards of {} from {lo} to {hi} ({}), on executor {executor_name} ({}); {} retries each",
        key.describe(),
        if n < plan.shards as usize {
            format!("{} asked, but the range holds only {n} values", plan.shards)
        } else {
            "ranges of equal width".to_string()
        },
        kind.as_str(),
        job.shard_retries
    );
    let r2 = ranges.clone();
    log.write_blocking(move |tx| {
        let now = jiff::Timestamp::now();
        shard_store::create(tx, id, &executor_name, &r2, now)?;
        store::event(tx, id, Step::Shard, None, Some(&note), now)
    })
    .map_err(log_err(Step::Started))?;

    let mut exec = executor::open(&plan.executor, spool.clone(), id.0, plan.hide.clone());
    let mut shards: Vec<Shard> = (0..n)
        .map(|_| Shard {
            attempt: 0,
            first_attempt: 0,
            submitted_ms: jiff::Timestamp::now().as_millisecond(),
            state: ShardState::Pending,
            node: None,
            failures: Vec::new(),
        })
        .collect();
    let first: Vec<TaskKey> = (0..n as u32).map(|k| (k, 0)).collect();
    let submitted_at = Instant::now();
    submit(&mut *exec, log, id, &first)?;
    fault::point("dispatch.shards-submitted");
    tracing::info!(dispatch = %id, shards = n, executor = %plan.executor_name, "shards submitted");

    follow(
        plan,
        spool,
        log,
        cancel,
        deadline,
        progress,
        counts,
        &mut *exec,
        &mut shards,
        &ranges,
        true,
    )
    // Nothing may commit after the rows are removed: stop every task and wait for it.
    .inspect_err(|_| stop_all(&mut *exec, plan.executor.poll.0))?;
    tracing::info!(
        dispatch = %id,
        seconds = submitted_at.elapsed().as_secs_f64(),
        "every shard is in"
    );

    // Every shard's report is in the event log: reconcile, then count the results table.
    let total = record_stored(log, id, progress, counts)?;
    let c = *counts;
    let found = plan
        .datalake
        .count_results(&job.results_table, &job.results_columns, id)
        .map_err(|e| Stop::Failed(Step::Inserted, e.to_string()))?;
    if found != c.stored || total.inserted != c.stored {
        return Err(Stop::Failed(
            Step::Inserted,
            format!(
                "the results table holds {found} rows of this dispatch and its shards reported {} written, \
                 but {} predictions are stored: counts do not reconcile",
                total.inserted, c.stored
            ),
        ));
    }
    counts.inserted = found;
    let note = format!("{found} rows written by {n} shards, each in its own transaction");
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
    .map_err(log_err(Step::Inserted))?;
    progress(Step::Inserted, counts);
    Ok(())
}

/// Every shard's report is in the event log: the dispatch's counts are the
/// shards' totals, recorded with the `collected`, `predicted` and `stored`
/// events; a failure when they do not reconcile. Returns the totals (with
/// what the shards reported written).
fn record_stored(
    log: &EventLog,
    id: DispatchId,
    progress: Progress<'_>,
    counts: &mut Counts,
) -> Result<Counts, Stop> {
    let log_err = |step: Step| {
        move |e: crate::eventlog::EventLogError| Stop::Failed(step, format!("event log: {e}"))
    };
    let total = log
        .read_blocking(move |c| shard_store::totals(c, id))
        .map_err(log_err(Step::Stored))?;
    *counts = Counts {
        inserted: 0,
        ..total
    };
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
    })
    .map_err(log_err(Step::Stored))?;
    progress(Step::Stored, counts);
    fault::point("dispatch.stored");
    if let Some(m) = (Counts {
        inserted: c.stored,
        ..c
    })
    .mismatch()
    {
        return Err(Stop::Failed(
            Step::Stored,
            format!("the shards' counts do not reconcile: {m}"),
        ));
    }
    Ok(total)
}

/// [`rerun`]'s shards: those not done run again, from the attempt after
/// their last, with their retries counted afresh.
fn rerun_shards(
    plan: &ShardedPlan,
    spool: &DispatchSpool,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
    counts: &mut Counts,
) -> Result<(), Stop> {
    let id = plan.id;
    let log_err =
        |e: crate::eventlog::EventLogError| Stop::Failed(Step::Shard, format!("event log: {e}"));
    let records = log
        .read_blocking(move |c| shard_store::list(c, id))
        .map_err(log_err)?;
    let ranges: Vec<KeyRange> = records
        .iter()
        .map(|r| KeyRange {
            lo: r.key_lo,
            hi: r.key_hi,
        })
        .collect();
    let key = plan.shard_key();
    plan.prepare(spool, &plan.spec(&key, &ranges, false))?;
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let mut shards: Vec<Shard> = records
        .iter()
        .map(|r| {
            let done = r.state == ShardState::Done && r.ingested.is_some();
            let attempt = if done { r.attempt } else { r.attempt + 1 };
            Shard {
                attempt,
                first_attempt: attempt,
                submitted_ms: now_ms,
                state: if done {
                    ShardState::Done
                } else {
                    ShardState::Pending
                },
                node: r.node.clone(),
                failures: Vec::new(),
            }
        })
        .collect();
    let again: Vec<TaskKey> = shards
        .iter()
        .enumerate()
        .filter(|(_, s)| s.state != ShardState::Done)
        .map(|(k, s)| (k as u32, s.attempt))
        .collect();
    let kept: u64 = records
        .iter()
        .filter(|r| r.state == ShardState::Done && r.ingested.is_some())
        .map(|r| r.counts.predicted)
        .sum();
    let names = |keys: &[TaskKey]| {
        keys.iter()
            .map(|(k, _)| k.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let note = format!(
        "retry: {} {} run again on executor {} ({} retries each); the other {} shards' {kept} \
         predictions are kept; the results are written from the event log once every shard is in",
        if again.len() == 1 { "shard" } else { "shards" },
        names(&again),
        plan.executor_name,
        plan.job.shard_retries,
        records.len() - again.len(),
    );
    let pending = again.clone();
    log.write_blocking(move |tx| {
        let now = jiff::Timestamp::now();
        for (k, attempt) in &pending {
            shard_store::set_state(
                tx,
                id,
                *k,
                ShardState::Pending,
                *attempt,
                None,
                None,
                None,
                now,
            )?;
        }
        store::event(tx, id, Step::Shard, None, Some(&note), now)
    })
    .map_err(log_err)?;
    let mut exec = executor::open(&plan.executor, spool.clone(), id.0, plan.hide.clone());
    submit(&mut *exec, log, id, &again)?;
    follow(
        plan,
        spool,
        log,
        cancel,
        deadline,
        progress,
        counts,
        &mut *exec,
        &mut shards,
        &ranges,
        false,
    )
    .inspect_err(|_| stop_all(&mut *exec, plan.executor.poll.0))?;
    record_stored(log, id, progress, counts)?;
    Ok(())
}

fn submit(
    exec: &mut dyn Executor,
    log: &EventLog,
    id: DispatchId,
    tasks: &[TaskKey],
) -> Result<(), Stop> {
    let named = exec
        .submit(tasks)
        .map_err(|e| Stop::Failed(Step::Shard, format!("cannot submit the shards: {e}")))?;
    log.write_blocking(move |tx| {
        let now = jiff::Timestamp::now();
        for ((shard, attempt), task) in &named {
            shard_store::set_state(
                tx,
                id,
                *shard,
                ShardState::Pending,
                *attempt,
                Some(task),
                None,
                None,
                now,
            )?;
        }
        Ok(())
    })
    .map_err(|e| Stop::Failed(Step::Shard, format!("event log: {e}")))
}

/// Cancels every task and waits (a while) until none is queued or running.
fn stop_all(exec: &mut dyn Executor, poll: Duration) {
    if let Err(e) = exec.cancel_all() {
        tracing::warn!(error = %e, "cancelling the shards' tasks failed");
    }
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until {
        match exec.poll() {
            Ok(states) if states.values().all(|s| !s.is_active()) => return,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "following the cancelled tasks failed"),
        }
        std::thread::sleep(poll.min(Duration::from_millis(200)));
    }
    tracing::error!("tasks still active two minutes after they were cancelled");
}

/// Reads a worker's report and its rows into the event log. A report read
/// twice changes nothing: false when this shard's report was ingested
/// already.
pub fn ingest_report(
    log: &EventLog,
    spool: &DispatchSpool,
    report: &ShardReport,
    submitted_ms: Option<i64>,
) -> Result<bool, String> {
    let id = DispatchId(report.dispatch_id);
    let shard = report.shard;
    let done = log
        .read_blocking(move |c| shard_store::ingested(c, id, shard))
        .map_err(|e| format!("event log: {e}"))?;
    if done.is_some() {
        return Ok(false);
    }
    for page in RowsReader::open(&spool.rows_path(shard, report.attempt))? {
        let page = page?;
        log.write_blocking(move |tx| shard_store::ingest_page(tx, id, &page))
            .map_err(|e| format!("event log: {e}"))?;
    }
    let counts = Counts {
        collected: report.collected,
        predicted: report.predicted,
        unscorable: report.unscorable,
        stored: 0,
        inserted: report.inserted,
    };
    let attempt = report.attempt;
    let node = report.node.clone();
    // The fixed cost of a shard: from its submission to its first rows read.
    let first_read = match (submitted_ms, report.first_read_at_ms) {
        (Some(s), Some(f)) => Some((f - s) as f64 / 1000.0),
        _ => None,
    };
    log.write_blocking(move |tx| {
        shard_store::finish_ingest(
            tx,
            id,
            shard,
            attempt,
            Some(&node),
            &counts,
            first_read,
            jiff::Timestamp::now(),
        )
    })
    .map_err(|e| format!("event log: {e}"))
}

/// Follows the shards until every one is in, one fails past its retries,
/// or the dispatch is cancelled or times out.
#[allow(clippy::too_many_arguments)]
fn follow(
    plan: &ShardedPlan,
    spool: &DispatchSpool,
    log: &EventLog,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    progress: Progress<'_>,
    counts: &mut Counts,
    exec: &mut dyn Executor,
    shards: &mut [Shard],
    ranges: &[KeyRange],
    writes: bool,
) -> Result<(), Stop> {
    let id = plan.id;
    let poll = plan.executor.poll.0;
    let mut poll_errors = 0u32;
    loop {
        // Wait for the next look, answering a cancel at once.
        let next = Instant::now() + poll;
        while Instant::now() < next {
            check(cancel, deadline, &plan.job)?;
            std::thread::sleep(Duration::from_millis(20).min(poll));
        }
        check(cancel, deadline, &plan.job)?;
        let states = match exec.poll() {
            Ok(s) => {
                poll_errors = 0;
                s
            }
            Err(e) => {
                poll_errors += 1;
                tracing::warn!(dispatch = %id, error = %e, "cannot follow the shards");
                if poll_errors >= 20 {
                    return Err(Stop::Failed(
                        Step::Shard,
                        format!("the executor cannot be followed: {e}"),
                    ));
                }
                continue;
            }
        };
        let mut retry: Vec<TaskKey> = Vec::new();
        let mut changed = false;
        for (k, s) in shards.iter_mut().enumerate() {
            if s.state.is_final() {
                continue;
            }
            let k = k as u32;
            let key = (k, s.attempt);
            let state = states.get(&key).cloned();
            let submitted_ms = Some(s.submitted_ms);
            // The report is the truth: a worker writes it last, whole.
            let report = spool
                .read_report(k, s.attempt)
                .map_err(|e| Stop::Failed(Step::Shard, e))?;
            let failure = match (report, state) {
                (Some(r), _) if r.error.is_none() => {
                    ingest_report(log, spool, &r, submitted_ms)
                        .map_err(|e| Stop::Failed(Step::Stored, e))?;
                    s.state = ShardState::Done;
                    s.node = Some(r.node.clone());
                    let c = log
                        .read_blocking(move |c| shard_store::totals(c, id))
                        .map_err(|e| Stop::Failed(Step::Stored, format!("event log: {e}")))?;
                    // The rows the shards' workers committed (none on a retry: the daemon writes them).
                    *counts = Counts {
                        inserted: if writes { c.inserted } else { 0 },
                        ..c
                    };
                    progress(Step::Shard, counts);
                    None
                }
                (Some(r), _) => Some(format!(
                    "failed at {} on {}: {}",
                    r.failed_step.as_deref().unwrap_or("?"),
                    r.node,
                    r.error.as_deref().unwrap_or("")
                )),
                (None, Some(TaskState::Pending)) | (None, None) => None,
                (None, Some(TaskState::Running { node })) => {
                    if s.state != ShardState::Running || (node.is_some() && node != s.node) {
                        s.state = ShardState::Running;
                        s.node = node.clone();
                        let (attempt, node) = (s.attempt, node.clone());
                        log.write_blocking(move |tx| {
                            shard_store::set_state(
                                tx,
                                id,
                                k,
                                ShardState::Running,
                                attempt,
                                None,
                                node.as_deref(),
                                None,
                                jiff::Timestamp::now(),
                            )
                        })
                        .map_err(|e| Stop::Failed(Step::Shard, format!("event log: {e}")))?;
                        changed = true;
                    }
                    None
                }
                (None, Some(TaskState::Ended { ok, how })) => {
                    // It may have written its report just as we looked.
                    match spool
                        .read_report(k, s.attempt)
                        .map_err(|e| Stop::Failed(Step::Shard, e))?
                    {
                        Some(_) => None,
                        None if ok => Some(format!("its worker {how} without a report")),
                        None => Some(format!("its task ended without a report: {how}")),
                    }
                }
                (None, Some(TaskState::Gone)) => match spool
                    .read_report(k, s.attempt)
                    .map_err(|e| Stop::Failed(Step::Shard, e))?
                {
                    Some(_) => None,
                    None => Some(
                        "its task vanished: the executor no longer knows it, and it left no report"
                            .to_string(),
                    ),
                },
            };
            let Some(why) = failure else { continue };
            s.failures.push(format!("attempt {}: {why}", s.attempt + 1));
            changed = true;
            let range = ranges[k as usize];
            if s.attempt - s.first_attempt < plan.job.shard_retries {
                s.attempt += 1;
                s.submitted_ms = jiff::Timestamp::now().as_millisecond();
                s.state = ShardState::Pending;
                retry.push((k, s.attempt));
                let note = format!(
                    "shard {k} ({range}) attempt {} {why}; submitted again (attempt {}, {} of its {} retries)",
                    s.attempt,
                    s.attempt + 1,
                    s.attempt - s.first_attempt,
                    plan.job.shard_retries
                );
                tracing::warn!(dispatch = %id, shard = k, "{note}");
                let attempt = s.attempt;
                log.write_blocking(move |tx| {
                    let now = jiff::Timestamp::now();
                    shard_store::set_state(
                        tx,
                        id,
                        k,
                        ShardState::Pending,
                        attempt,
                        None,
                        None,
                        Some(&note),
                        now,
                    )?;
                    store::event(tx, id, Step::Shard, None, Some(&note), now)
                })
                .map_err(|e| Stop::Failed(Step::Shard, format!("event log: {e}")))?;
            } else {
                s.state = ShardState::Failed;
                let error = s.failures.join("; ");
                let note = format!(
                    "shard {k} ({range}) failed after {} attempts: {error}",
                    s.attempt - s.first_attempt + 1
                );
                let attempt = s.attempt;
                log.write_blocking(move |tx| {
                    let now = jiff::Timestamp::now();
                    shard_store::set_state(
                        tx,
                        id,
                        k,
                        ShardState::Failed,
                        attempt,
                        None,
                        None,
                        Some(&error),
                        now,
                    )?;
                    store::event(tx, id, Step::Shard, None, Some(&note), now)
                })
                .map_err(|e| Stop::Failed(Step::Shard, format!("event log: {e}")))?;
            }
        }
        let failed: Vec<String> = shards
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == ShardState::Failed)
            .map(|(k, s)| format!("shard {k} ({}): {}", ranges[k], s.failures.join("; ")))
            .collect();
        if !failed.is_empty() {
            let names: Vec<String> = shards
                .iter()
                .enumerate()
                .filter(|(_, s)| s.state == ShardState::Failed)
                .map(|(k, _)| k.to_string())
                .collect();
            return Err(Stop::Failed(
                Step::Shard,
                format!(
                    "{} {} failed after {} attempts each: {}",
                    if names.len() == 1 { "shard" } else { "shards" },
                    names.join(", "),
                    plan.job.shard_retries + 1,
                    failed.join("; ")
                ),
            ));
        }
        if !retry.is_empty() {
            submit(exec, log, id, &retry)?;
        }
        if changed {
            progress(Step::Shard, counts);
        }
        if shards.iter().all(|s| s.state == ShardState::Done) {
            return Ok(());
        }
    }
}

fn check(
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    job: &JobConfig,
) -> Result<(), Stop> {
    if cancel.is_cancelled() {
        return Err(Stop::Cancelled(
            Step::Shard,
            "cancelled on request: its tasks were cancelled and its rows removed from the results table"
                .into(),
        ));
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        let t = job
            .timeout
            .map(|t| humantime::format_duration(t.0).to_string())
            .unwrap_or_default();
        return Err(Stop::Cancelled(
            Step::Shard,
            format!(
                "timed out: the job's timeout is {t}; its tasks were cancelled and its rows removed"
            ),
        ));
    }
    Ok(())
}

/// Tasks of a sharded dispatch a daemon that died left behind, cancelled at
/// the next start before its rows are removed (blocking).
pub fn cancel_left_tasks(
    executors: &std::collections::BTreeMap<String, ExecutorConfig>,
    tasks: &[(DispatchId, String, String)],
    hide: &[String],
) {
    let mut by_executor: HashMap<&str, Vec<String>> = HashMap::new();
    for (_, executor, task) in tasks {
        by_executor
            .entry(executor.as_str())
            .or_default()
            .push(task.clone());
    }
    for (name, tasks) in by_executor {
        let Some(cfg) = executors.get(name) else {
            tracing::warn!(
                executor = name,
                "a dispatch left tasks on an executor no longer configured"
            );
            continue;
        };
        if cfg.kind != mld_shared::config::ExecutorKind::Slurm {
            // Local workers died with the daemon (PR_SET_PDEATHSIG).
            continue;
        }
        if let Err(e) = executor::scancel(cfg, &tasks, hide) {
            tracing::warn!(error = %e, "cannot cancel the tasks a stopped daemon left");
        }
        let until = Instant::now() + Duration::from_secs(120);
        while Instant::now() < until && executor::any_active(cfg, &tasks, hide).unwrap_or(false) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::record::NewDispatch;
    use crate::scaleout::spool::RowsPage;
    use std::io::Write;

    #[test]
    fn a_report_read_twice_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events.db")).unwrap();
        let new = NewDispatch {
            job: "j".into(),
            trigger: crate::scheduler::Trigger::Manual,
            requested_by: "test".into(),
            slot: None,
            model: "m".into(),
            model_version: "1".into(),
            model_hash: "h".into(),
        };
        let ranges = vec![KeyRange { lo: 1, hi: 3 }, KeyRange { lo: 4, hi: 6 }];
        let r2 = ranges.clone();
        let id = log
            .write_blocking(move |tx| {
                let now = jiff::Timestamp::now();
                let id = store::create(tx, &new, now)?;
                shard_store::create(tx, id, "here", &r2, now)?;
                Ok(id)
            })
            .unwrap();
        let spool = DispatchSpool::new(dir.path(), id);
        std::fs::create_dir_all(&spool.dir).unwrap();
        // Shard 1's worker kept two pages: 3 rows, one of them unscorable.
        let pages = [
            RowsPage {
                at_ms: 1_700_000_000_000,
                keys: vec!["4".into(), "5".into()],
                labels: vec!["a".into(), "b".into()],
                scores: vec![0.9, 0.7],
                values: vec![],
                unscorable: vec![],
            },
            RowsPage {
                at_ms: 1_700_000_000_001,
                keys: vec![],
                labels: vec![],
                scores: vec![],
                values: vec![],
                unscorable: vec![("6".into(), "column x is NULL".into())],
            },
        ];
        let mut f = std::fs::File::create(spool.rows_path(1, 2)).unwrap();
        for p in &pages {
            writeln!(f, "{}", serde_json::to_string(p).unwrap()).unwrap();
        }
        let report = ShardReport {
            dispatch_id: id.0,
            shard: 1,
            attempt: 2,
            node: "n7".into(),
            error: None,
            failed_step: None,
            collected: 3,
            predicted: 2,
            unscorable: 1,
            inserted: 2,
            started_at_ms: 0,
            first_read_at_ms: Some(1),
            finished_at_ms: 2,
        };
        let look = || {
            log.read_blocking(move |c| {
                Ok((
                    store::get(c, id)?.unwrap().counts,
                    store::count_predictions(c, id, None)?,
                    store::unscorable(c, id, 10)?.len(),
                    store::class_counts(c, id)?,
                    store::events(c, id)?.len(),
                    shard_store::list(c, id)?,
                ))
            })
            .unwrap()
        };
        assert!(
            ingest_report(&log, &spool, &report, None).unwrap(),
            "first read ingests"
        );
        let once = look();
        assert_eq!(
            once.0,
            Counts {
                collected: 3,
                predicted: 2,
                unscorable: 1,
                stored: 2,
                inserted: 2
            }
        );
        assert_eq!((once.1, once.2), (2, 1));
        assert_eq!(once.3, vec![("a".to_string(), 1), ("b".to_string(), 1)]);
        let shard1 = &once.5[1];
        assert_eq!(
            (shard1.state, shard1.ingested, shard1.node.as_deref()),
            (ShardState::Done, Some(2), Some("n7"))
        );
        assert_eq!(once.5[0].state, ShardState::Pending);
        // Read again (a daemon that looked twice, or a report found again): nothing changes.
        assert!(!ingest_report(&log, &spool, &report, None).unwrap());
        assert_eq!(look(), once);
        // Even its pages stored again (a daemon stopped mid-ingest) add nothing.
        for p in pages {
            log.write_blocking(move |tx| shard_store::ingest_page(tx, id, &p))
                .unwrap();
        }
        let again = look();
        assert_eq!((again.1, again.2, &again.3), (once.1, once.2, &once.3));
    }
}
