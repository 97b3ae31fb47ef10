//! The dispatch tables of the event log: every statement that reads or
//! writes them. Functions take a connection or a transaction and are run
//! through the event log's owner threads.

use super::record::*;
use crate::datalake::Unscorable;
use mld_shared::ids::DispatchId;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

fn ms(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Inserts the dispatch and its `created` event.
pub fn create(
    tx: &Transaction<'_>,
    d: &NewDispatch,
    at: jiff::Timestamp,
) -> rusqlite::Result<DispatchId> {
    tx.execute(
        "INSERT INTO dispatches(job, trigger, requested_by, slot, model, model_version, model_hash, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'created', ?8)",
        params![
            d.job,
            d.trigger.as_str(),
            d.requested_by,
            d.slot.map(ms),
            d.model,
            d.model_version,
            d.model_hash,
            ms(at)
        ],
    )?;
    let id = DispatchId(tx.last_insert_rowid());
    let hash: String = d.model_hash.chars().take(12).collect();
    let message = format!(
        "trigger {} by {}; model {} version {} ({hash})",
        d.trigger.as_str(),
        d.requested_by,
        d.model,
        if d.model_version.is_empty() {
            "unresolved"
        } else {
            &d.model_version
        },
    );
    event(tx, id, Step::Created, None, Some(&message), at)?;
    Ok(id)
}

/// Appends an event with the next sequence number.
pub fn event(
    tx: &Transaction<'_>,
    id: DispatchId,
    step: Step,
    rows: Option<u64>,
    message: Option<&str>,
    at: jiff::Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO dispatch_events(dispatch_id, seq, at, step, rows, message)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM dispatch_events WHERE dispatch_id = ?1), ?2, ?3, ?4, ?5)",
        params![id.0, ms(at), step.as_str(), rows.map(|r| r as i64), message],
    )?;
    Ok(())
}

pub fn start(tx: &Transaction<'_>, id: DispatchId, at: jiff::Timestamp) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE dispatches SET status = 'running', started_at = ?2 WHERE id = ?1",
        params![id.0, ms(at)],
    )?;
    event(tx, id, Step::Started, None, None, at)
}

pub fn set_counts(tx: &Transaction<'_>, id: DispatchId, c: &Counts) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE dispatches SET rows_collected = ?2, rows_predicted = ?3, rows_unscorable = ?4, rows_stored = ?5,
         rows_inserted = ?6 WHERE id = ?1",
        params![id.0, c.collected as i64, c.predicted as i64, c.unscorable as i64, c.stored as i64, c.inserted as i64],
    )?;
    Ok(())
}

/// Stores one batch of predictions and unscorable rows. Returns how many
/// predictions were stored (a key seen twice in one dispatch is stored once).
pub fn store_batch(
    tx: &Transaction<'_>,
    id: DispatchId,
    keys: &[String],
    labels: &[std::sync::Arc<str>],
    scores: &[f64],
    unscorable: &[Unscorable],
    at: jiff::Timestamp,
) -> rusqlite::Result<u64> {
    let mut stored = 0;
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR IGNORE INTO predictions(dispatch_id, row_key, label, score, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut classes: Vec<(&str, i64)> = Vec::new();
        for ((k, l), s) in keys.iter().zip(labels).zip(scores) {
            let n = ins.execute(params![id.0, k, &**l, s, ms(at)])?;
            stored += n as u64;
            if n > 0 {
                // Few labels: a linear scan beats hashing.
                match classes.iter_mut().find(|(label, _)| *label == &**l) {
                    Some((_, c)) => *c += 1,
                    None => classes.push((l, 1)),
                }
            }
        }
        let mut add = tx.prepare_cached(
            "INSERT INTO dispatch_classes(dispatch_id, label, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (dispatch_id, label) DO UPDATE SET count = count + excluded.count",
        )?;
        for (label, n) in classes {
            add.execute(params![id.0, label, n])?;
        }
    }
    let mut uns = tx.prepare_cached(
        "INSERT OR IGNORE INTO unscorable_rows(dispatch_id, row_key, reason) VALUES (?1, ?2, ?3)",
    )?;
    for u in unscorable {
        uns.execute(params![id.0, u.key, u.reason])?;
    }
    Ok(stored)
}

/// Records the end of a dispatch and its `finished` event.
pub fn finish(
    tx: &Transaction<'_>,
    id: DispatchId,
    status: DispatchStatus,
    failed_step: Option<Step>,
    error: Option<&str>,
    counts: &Counts,
    at: jiff::Timestamp,
) -> rusqlite::Result<()> {
    set_counts(tx, id, counts)?;
    tx.execute(
        "UPDATE dispatches SET status = ?2, failed_step = ?3, error = ?4, finished_at = ?5 WHERE id = ?1",
        params![id.0, status.as_str(), failed_step.map(Step::as_str), error, ms(at)],
    )?;
    let message = match (failed_step, error) {
        (Some(step), Some(e)) => format!("{status} at {step}: {e}"),
        (None, Some(e)) => format!("{status}: {e}"),
        _ => status.to_string(),
    };
    event(tx, id, Step::Finished, None, Some(&message), at)
}

/// Marks every dispatch left `created`/`running` by a daemon that died as
/// `interrupted`, saying how far it got. Returns their ids.
pub fn mark_interrupted(
    tx: &Transaction<'_>,
    at: jiff::Timestamp,
) -> rusqlite::Result<Vec<DispatchId>> {
    let open: Vec<(i64, Option<String>)> = {
        let mut s = tx.prepare(
            "SELECT d.id, (SELECT step FROM dispatch_events e WHERE e.dispatch_id = d.id ORDER BY seq DESC LIMIT 1)
             FROM dispatches d WHERE d.status IN ('created', 'running') ORDER BY d.id",
        )?;
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut ids = Vec::new();
    for (id, last) in open {
        let id = DispatchId(id);
        let stored: i64 = tx.query_row(
            "SELECT count(*) FROM predictions WHERE dispatch_id = ?1",
            [id.0],
            |r| r.get(0),
        )?;
        let last = last.unwrap_or_else(|| "created".into());
        // What the results table holds depends on how far the write-back got.
        let results = match last.as_str() {
            "inserted" => "its results were committed to the results table".to_string(),
            "stored" => format!(
                "it was writing to the results table, in one transaction: a transaction cut short \
                 rolls back, so the table holds none of its rows (unless the commit completed just \
                 before the stop: then all of them, under dispatch id {id})"
            ),
            _ => "nothing was written to the results table".to_string(),
        };
        let error = format!(
            "the daemon stopped while this dispatch ran; its last completed step was {last}, with {stored} \
             predictions stored; {results}"
        );
        tx.execute(
            "UPDATE dispatches SET status = 'interrupted', error = ?2, finished_at = ?3, rows_stored = ?4 WHERE id = ?1",
            params![id.0, error, ms(at), stored],
        )?;
        event(
            tx,
            id,
            Step::Finished,
            None,
            Some(&format!("interrupted: {error}")),
            at,
        )?;
        ids.push(id);
    }
    Ok(ids)
}

const RECORD_COLUMNS: &str = "id, job, trigger, requested_by, slot, model, model_version, model_hash, status, failed_step,
    error, created_at, started_at, finished_at, rows_collected, rows_predicted, rows_unscorable, rows_stored, rows_inserted";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<DispatchRecord> {
    let trigger: String = r.get(2)?;
    let status: String = r.get(8)?;
    let failed: Option<String> = r.get(9)?;
    Ok(DispatchRecord {
        id: DispatchId(r.get(0)?),
        job: r.get(1)?,
        trigger: Trigger::parse(&trigger).unwrap_or(Trigger::Manual),
        requested_by: r.get(3)?,
        slot: r.get::<_, Option<i64>>(4)?.map(ts),
        model: r.get(5)?,
        model_version: r.get(6)?,
        model_hash: r.get(7)?,
        status: DispatchStatus::parse(&status).unwrap_or(DispatchStatus::Failed),
        failed_step: failed.as_deref().and_then(Step::parse),
        error: r.get(10)?,
        created_at: ts(r.get(11)?),
        started_at: r.get::<_, Option<i64>>(12)?.map(ts),
        finished_at: r.get::<_, Option<i64>>(13)?.map(ts),
        counts: Counts {
            collected: r.get::<_, i64>(14)? as u64,
            predicted: r.get::<_, i64>(15)? as u64,
            unscorable: r.get::<_, i64>(16)? as u64,
            stored: r.get::<_, i64>(17)? as u64,
            inserted: r.get::<_, i64>(18)? as u64,
        },
    })
}

pub fn get(c: &Connection, id: DispatchId) -> rusqlite::Result<Option<DispatchRecord>> {
    c.query_row(
        &format!("SELECT {RECORD_COLUMNS} FROM dispatches WHERE id = ?1"),
        [id.0],
        record,
    )
    .optional()
}

/// Dispatches created in `[from, to)`, newest first, optionally for one job.
pub fn list(
    c: &Connection,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
    job: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<DispatchRecord>> {
    let mut s = c.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM dispatches WHERE created_at >= ?1 AND created_at < ?2
         AND (?3 IS NULL OR job = ?3) ORDER BY created_at DESC, id DESC LIMIT ?4"
    ))?;
    s.query_map(params![ms(from), ms(to), job, limit], record)?
        .collect()
}

pub fn events(c: &Connection, id: DispatchId) -> rusqlite::Result<Vec<EventRecord>> {
    let mut s =
        c.prepare_cached("SELECT seq, at, step, rows, message FROM dispatch_events WHERE dispatch_id = ?1 ORDER BY seq")?;
    s.query_map([id.0], |r| {
        let step: String = r.get(2)?;
        Ok(EventRecord {
            seq: r.get::<_, i64>(0)? as u32,
            at: ts(r.get(1)?),
            step: Step::parse(&step).unwrap_or(Step::Finished),
            rows: r.get::<_, Option<i64>>(3)?.map(|n| n as u64),
            message: r.get(4)?,
        })
    })?
    .collect()
}

/// One page of a dispatch's predictions in key order, after `after_key`,
/// optionally only keys containing `filter`. Also the total matching.
pub fn predictions(
    c: &Connection,
    id: DispatchId,
    after_key: Option<&str>,
    filter: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<StoredPrediction>> {
    let pattern = filter.map(like_pattern);
    // Only the conditions in use: `(?2 IS NULL OR row_key > ?2)` would hide the
    // key range from SQLite's planner, and every page would scan the dispatch's
    // keys from the first (quadratic in a write-back of millions of rows).
    let mut sql = String::from(
        "SELECT row_key, label, score, created_at FROM predictions WHERE dispatch_id = ?1",
    );
    if after_key.is_some() {
        sql.push_str(" AND row_key > ?2");
    }
    if pattern.is_some() {
        sql.push_str(" AND row_key LIKE ?3 ESCAPE '\\'");
    }
    sql.push_str(" ORDER BY row_key LIMIT ?4");
    let mut s = c.prepare_cached(&sql)?;
    s.query_map(params![id.0, after_key, pattern, limit], |r| {
        Ok(StoredPrediction {
            row_key: r.get(0)?,
            label: r.get(1)?,
            score: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
            created_at: ts(r.get(3)?),
        })
    })?
    .collect()
}

/// The page of a dispatch's predictions just before `before_key` (the last
/// page when `None`), in key order, optionally only keys containing `filter`.
pub fn predictions_before(
    c: &Connection,
    id: DispatchId,
    before_key: Option<&str>,
    filter: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<StoredPrediction>> {
    let pattern = filter.map(like_pattern);
    // Read backwards along the (dispatch, key) index, then put in key order.
    let mut sql = String::from(
        "SELECT row_key, label, score, created_at FROM predictions WHERE dispatch_id = ?1",
    );
    if before_key.is_some() {
        sql.push_str(" AND row_key < ?2");
    }
    if pattern.is_some() {
        sql.push_str(" AND row_key LIKE ?3 ESCAPE '\\'");
    }
    sql.push_str(" ORDER BY row_key DESC LIMIT ?4");
    let mut s = c.prepare_cached(&sql)?;
    let mut rows = s
        .query_map(params![id.0, before_key, pattern, limit], |r| {
            Ok(StoredPrediction {
                row_key: r.get(0)?,
                label: r.get(1)?,
                score: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
                created_at: ts(r.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

/// `%text%` for LIKE, with the wildcards in `text` taken literally.
fn like_pattern(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

pub fn count_predictions(
    c: &Connection,
    id: DispatchId,
    filter: Option<&str>,
) -> rusqlite::Result<u64> {
    let pattern = filter.map(like_pattern);
    c.query_row(
        "SELECT count(*) FROM predictions WHERE dispatch_id = ?1 AND (?2 IS NULL OR row_key LIKE ?2 ESCAPE '\\')",
        params![id.0, pattern],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
}

pub fn unscorable(c: &Connection, id: DispatchId, limit: u32) -> rusqlite::Result<Vec<Unscorable>> {
    let mut s = c.prepare_cached(
        "SELECT row_key, reason FROM unscorable_rows WHERE dispatch_id = ?1 ORDER BY row_key LIMIT ?2",
    )?;
    s.query_map(params![id.0, limit], |r| {
        Ok(Unscorable {
            key: r.get(0)?,
            reason: r.get(1)?,
        })
    })?
    .collect()
}

/// How many predictions of each label: the class distribution.
pub fn class_counts(c: &Connection, id: DispatchId) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut s = c.prepare_cached(
        "SELECT label, count FROM dispatch_classes WHERE dispatch_id = ?1 ORDER BY count DESC, label",
    )?;
    s.query_map([id.0], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect()
}

/// The latest dispatch per job: (job, created_at, status).
pub fn last_per_job(
    c: &Connection,
) -> rusqlite::Result<Vec<(String, jiff::Timestamp, DispatchStatus)>> {
    let mut s =
        c.prepare_cached("SELECT job, max(created_at), status FROM dispatches GROUP BY job")?;
    s.query_map([], |r| {
        let status: String = r.get(2)?;
        Ok((
            r.get(0)?,
            ts(r.get(1)?),
            DispatchStatus::parse(&status).unwrap_or(DispatchStatus::Failed),
        ))
    })?
    .collect()
}

/// Deletes predictions older than `before`; dispatch and event records stay.
pub fn prune_predictions(tx: &Transaction<'_>, before: jiff::Timestamp) -> rusqlite::Result<u64> {
    tx.execute(
        "DELETE FROM predictions WHERE created_at < ?1",
        [ms(before)],
    )
    .map(|n| n as u64)
}
