//! The `dispatch_shards` table of the event log: every statement that reads
//! or writes it, and the ingestion of a worker's report (its predictions and
//! unscorable rows through `dispatch::store`). Functions take a connection or
//! a transaction and run on the event log's owner threads.

use crate::dispatch::record::{Counts, Step};
use crate::dispatch::store as dispatch_store;
use crate::eventlog::time::{self, Millis};
use mld_shared::ids::DispatchId;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Where a shard is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardState {
    /// Submitted, waiting for a node (or a local worker slot).
    Pending,
    Running,
    /// Its report is ingested.
    Done,
    /// Failed past its retries.
    Failed,
    Cancelled,
}

impl ShardState {
    pub fn as_str(self) -> &'static str {
        match self {
            ShardState::Pending => "pending",
            ShardState::Running => "running",
            ShardState::Done => "done",
            ShardState::Failed => "failed",
            ShardState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ShardState> {
        [
            ShardState::Pending,
            ShardState::Running,
            ShardState::Done,
            ShardState::Failed,
            ShardState::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            ShardState::Done | ShardState::Failed | ShardState::Cancelled
        )
    }
}

/// A shard as the event log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRecord {
    pub shard: u32,
    pub key_lo: i64,
    pub key_hi: i64,
    pub state: ShardState,
    pub attempt: u32,
    pub executor: String,
    pub task: Option<String>,
    pub node: Option<String>,
    /// collected, predicted, unscorable, inserted (stored = predicted once ingested).
    pub counts: Counts,
    pub ingested: Option<u32>,
    pub error: Option<String>,
    pub updated_at: jiff::Timestamp,
}

/// Records a dispatch's shards, all `pending` at attempt 0.
pub fn create(
    tx: &Transaction<'_>,
    id: DispatchId,
    executor: &str,
    ranges: &[crate::datalake::KeyRange],
    at: jiff::Timestamp,
) -> rusqlite::Result<()> {
    let mut ins = tx.prepare_cached(
        "INSERT INTO dispatch_shards(dispatch_id, shard, key_lo, key_hi, state, executor, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)",
    )?;
    for (k, r) in ranges.iter().enumerate() {
        ins.execute(params![id.0, k as i64, r.lo, r.hi, executor, Millis(at)])?;
    }
    Ok(())
}

/// A shard's state, attempt, task and node; `error` replaces the last one.
#[allow(clippy::too_many_arguments)]
pub fn set_state(
    tx: &Transaction<'_>,
    id: DispatchId,
    shard: u32,
    state: ShardState,
    attempt: u32,
    task: Option<&str>,
    node: Option<&str>,
    error: Option<&str>,
    at: jiff::Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE dispatch_shards SET state = ?3, attempt = ?4, task = coalesce(?5, task),
         node = coalesce(?6, node), error = ?7, updated_at = ?8 WHERE dispatch_id = ?1 AND shard = ?2",
        params![id.0, shard, state.as_str(), attempt, task, node, error, Millis(at)],
    )?;
    Ok(())
}

/// One page of a worker's report: its predictions and unscorable rows,
/// stored like an in-daemon dispatch's (a key already stored is not stored
/// again). Returns how many predictions were new.
pub fn ingest_page(
    tx: &Transaction<'_>,
    id: DispatchId,
    page: &super::spool::RowsPage,
) -> rusqlite::Result<u64> {
    let outcomes = if page.values.is_empty() {
        crate::dispatch::record::Outcomes::Classes {
            labels: page
                .labels
                .iter()
                .map(|l| std::sync::Arc::from(l.as_str()))
                .collect(),
            scores: page.scores.clone(),
        }
    } else {
        crate::dispatch::record::Outcomes::Values(page.values.clone())
    };
    let unscorable: Vec<crate::datalake::Unscorable> = page
        .unscorable
        .iter()
        .map(|(key, reason)| crate::datalake::Unscorable {
            key: key.clone(),
            reason: reason.clone(),
        })
        .collect();
    let at = time::from_ms(page.at_ms).unwrap_or_else(|_| jiff::Timestamp::now());
    dispatch_store::store_batch(tx, id, &page.keys, &outcomes, &unscorable, at)
}

/// Whether attempt `attempt` of a shard has been ingested already.
pub fn ingested(c: &Connection, id: DispatchId, shard: u32) -> rusqlite::Result<Option<u32>> {
    c.query_row(
        "SELECT ingested FROM dispatch_shards WHERE dispatch_id = ?1 AND shard = ?2",
        params![id.0, shard],
        |r| r.get::<_, Option<u32>>(0),
    )
    .optional()
    .map(Option::flatten)
}

/// Marks a shard's report ingested, with its counts, and the dispatch's
/// counts as the sum over its ingested shards (stored: the predictions the
/// event log holds for it). Returns false, changing nothing, when a report
/// of this shard was ingested already: a report read twice changes nothing.
#[allow(clippy::too_many_arguments)]
pub fn finish_ingest(
    tx: &Transaction<'_>,
    id: DispatchId,
    shard: u32,
    attempt: u32,
    node: Option<&str>,
    counts: &Counts,
    first_read_after_s: Option<f64>,
    at: jiff::Timestamp,
) -> rusqlite::Result<bool> {
    let changed = tx.execute(
        "UPDATE dispatch_shards SET state = 'done', attempt = ?3, ingested = ?3, node = coalesce(?4, node),
         rows_collected = ?5, rows_predicted = ?6, rows_unscorable = ?7, rows_inserted = ?8, error = NULL,
         updated_at = ?9
         WHERE dispatch_id = ?1 AND shard = ?2 AND ingested IS NULL",
        params![
            id.0,
            shard,
            attempt,
            node,
            counts.collected as i64,
            counts.predicted as i64,
            counts.unscorable as i64,
            counts.inserted as i64,
            Millis(at)
        ],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    let total = totals(tx, id)?;
    dispatch_store::set_counts(tx, id, &total)?;
    let message = format!(
        "shard {shard} done (attempt {}{}): {} rows read, {} predicted, {} unscorable, {} written{}",
        attempt + 1,
        node.map(|n| format!(", on {n}")).unwrap_or_default(),
        counts.collected,
        counts.predicted,
        counts.unscorable,
        counts.inserted,
        first_read_after_s
            .map(|s| format!(" (first rows read {s:.2} s after submission)"))
            .unwrap_or_default()
    );
    dispatch_store::event(
        tx,
        id,
        Step::Shard,
        Some(counts.predicted),
        Some(&message),
        at,
    )?;
    Ok(true)
}

/// The dispatch's counts over its ingested shards; `stored` is what the event
/// log holds of its predictions, `inserted` what the workers committed.
pub fn totals(c: &Connection, id: DispatchId) -> rusqlite::Result<Counts> {
    let (collected, predicted, unscorable, inserted): (i64, i64, i64, i64) = c.query_row(
        "SELECT coalesce(sum(rows_collected), 0), coalesce(sum(rows_predicted), 0),
                coalesce(sum(rows_unscorable), 0), coalesce(sum(rows_inserted), 0)
         FROM dispatch_shards WHERE dispatch_id = ?1 AND ingested IS NOT NULL",
        [id.0],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let stored = dispatch_store::count_predictions(c, id, None)?;
    Ok(Counts {
        collected: collected as u64,
        predicted: predicted as u64,
        unscorable: unscorable as u64,
        stored,
        inserted: inserted as u64,
    })
}

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShardRecord> {
    let state: String = r.get(3)?;
    Ok(ShardRecord {
        shard: r.get(0)?,
        key_lo: r.get(1)?,
        key_hi: r.get(2)?,
        state: ShardState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("{state:?} is not a shard state").into(),
            )
        })?,
        attempt: r.get(4)?,
        executor: r.get(5)?,
        task: r.get(6)?,
        node: r.get(7)?,
        counts: Counts {
            collected: r.get::<_, i64>(8)? as u64,
            predicted: r.get::<_, i64>(9)? as u64,
            unscorable: r.get::<_, i64>(10)? as u64,
            stored: 0,
            inserted: r.get::<_, i64>(11)? as u64,
        },
        ingested: r.get(12)?,
        error: r.get(13)?,
        updated_at: time::get(r, 14)?,
    })
}

/// A dispatch's shards, in order (none: it ran in the daemon).
pub fn list(c: &Connection, id: DispatchId) -> rusqlite::Result<Vec<ShardRecord>> {
    let mut s = c.prepare_cached(
        "SELECT shard, key_lo, key_hi, state, attempt, executor, task, node, rows_collected, rows_predicted,
                rows_unscorable, rows_inserted, ingested, error, updated_at
         FROM dispatch_shards WHERE dispatch_id = ?1 ORDER BY shard",
    )?;
    s.query_map([id.0], record)?.collect()
}

/// Dispatches left open with shards not finished, and the tasks of those
/// shards (for a start after the daemon died: they are cancelled).
pub fn open_tasks(c: &Connection) -> rusqlite::Result<Vec<(DispatchId, String, String)>> {
    let mut s = c.prepare_cached(
        "SELECT s.dispatch_id, s.executor, s.task FROM dispatch_shards s JOIN dispatches d ON d.id = s.dispatch_id
         WHERE d.status IN ('created', 'running') AND s.task IS NOT NULL
           AND s.state IN ('pending', 'running') ORDER BY s.dispatch_id, s.shard",
    )?;
    s.query_map([], |r| Ok((DispatchId(r.get(0)?), r.get(1)?, r.get(2)?)))?
        .collect()
}

/// Whether a dispatch ran in shards.
pub fn is_sharded(c: &Connection, id: DispatchId) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM dispatch_shards WHERE dispatch_id = ?1)",
        [id.0],
        |r| r.get(0),
    )
}

/// Shards not finished become `cancelled` (a cancelled or failed dispatch).
pub fn cancel_open(
    tx: &Transaction<'_>,
    id: DispatchId,
    at: jiff::Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE dispatch_shards SET state = 'cancelled', updated_at = ?2
         WHERE dispatch_id = ?1 AND state IN ('pending', 'running')",
        params![id.0, Millis(at)],
    )?;
    Ok(())
}
