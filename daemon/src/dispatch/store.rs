//! The dispatch tables of the event log (`dispatches`, `dispatch_events`,
//! `predictions`, `unscorable_rows`, `dispatch_classes`, `dispatch_values`,
//! `dispatch_value_buckets`): every statement
//! that reads or writes them. Functions take a connection or a transaction
//! and are run through the event log's owner threads; instants go through
//! [`crate::eventlog::time`].

use super::record::*;
use crate::datalake::Unscorable;
use crate::eventlog::time::{self, Millis};
use mld_shared::ids::DispatchId;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// A stored text that is not one of the values its column may hold.
fn corrupt(idx: usize, what: &'static str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        Type::Text,
        format!("{value:?} is not a {what}").into(),
    )
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
            d.slot.map(Millis),
            d.model,
            d.model_version,
            d.model_hash,
            Millis(at)
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
        params![id.0, Millis(at), step.as_str(), rows.map(|r| r as i64), message],
    )?;
    Ok(())
}

pub fn start(tx: &Transaction<'_>, id: DispatchId, at: jiff::Timestamp) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE dispatches SET status = 'running', started_at = ?2 WHERE id = ?1",
        params![id.0, Millis(at)],
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

/// Rows per multi-row `INSERT` of a classifier's predictions: one
/// statement (one bind, step and reset) for many rows, which is most of the
/// cost of storing.
const STORE_CHUNK: usize = 200;

/// Stores one batch of predictions and unscorable rows, and adds the
/// batch to the dispatch's class distribution (classifiers) or its value
/// summary (regressors). Returns how many predictions were stored (a key
/// seen twice in one dispatch is stored once, and counted once).
/// A classifier's rows go many per statement; a chunk that holds a key
/// stored already is undone and stored row by row, so the class counts
/// count only what was stored.
pub fn store_batch(
    tx: &Transaction<'_>,
    id: DispatchId,
    keys: &[String],
    outcomes: &Outcomes,
    unscorable: &[Unscorable],
    at: jiff::Timestamp,
) -> rusqlite::Result<u64> {
    let mut stored = 0;
    match outcomes {
        Outcomes::Classes { labels, scores } => {
            // Few labels: a linear scan beats hashing.
            let mut classes: Vec<(&str, i64)> = Vec::new();
            fn count<'a>(classes: &mut Vec<(&'a str, i64)>, label: &'a str) {
                match classes.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, c)) => *c += 1,
                    None => classes.push((label, 1)),
                }
            }
            let n = keys.len().min(labels.len()).min(scores.len());
            let mut start = 0;
            while start < n {
                let end = (start + STORE_CHUNK).min(n);
                let rows = end - start;
                if rows > 1 {
                    tx.execute_batch("SAVEPOINT store_chunk")?;
                    let mut ins = tx.prepare_cached(&chunk_sql(rows))?;
                    ins.raw_bind_parameter(1, id.0)?;
                    ins.raw_bind_parameter(2, Millis(at))?;
                    for r in 0..rows {
                        let p = 3 + 3 * r;
                        ins.raw_bind_parameter(p, &keys[start + r])?;
                        ins.raw_bind_parameter(p + 1, &*labels[start + r])?;
                        ins.raw_bind_parameter(p + 2, scores[start + r])?;
                    }
                    let added = ins.raw_execute()?;
                    if added == rows {
                        tx.execute_batch("RELEASE store_chunk")?;
                        stored += rows as u64;
                        labels[start..end]
                            .iter()
                            .for_each(|l| count(&mut classes, l));
                        start = end;
                        continue;
                    }
                    // A key stored already: undo the chunk, then row by row.
                    tx.execute_batch("ROLLBACK TO store_chunk; RELEASE store_chunk")?;
                }
                let mut ins = tx.prepare_cached(&chunk_sql(1))?;
                for r in start..end {
                    let added =
                        ins.execute(params![id.0, Millis(at), keys[r], &*labels[r], scores[r]])?;
                    if added > 0 {
                        stored += added as u64;
                        count(&mut classes, &labels[r]);
                    }
                }
                start = end;
            }
            let mut add = tx.prepare_cached(
                "INSERT INTO dispatch_classes(dispatch_id, label, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT (dispatch_id, label) DO UPDATE SET count = count + excluded.count",
            )?;
            for (label, n) in classes {
                add.execute(params![id.0, label, n])?;
            }
        }
        Outcomes::Values(values) => {
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO predictions(dispatch_id, row_key, label, score, value, created_at)
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5)",
            )?;
            let mut kept = Vec::with_capacity(values.len());
            for (k, v) in keys.iter().zip(values) {
                let n = ins.execute(params![id.0, k, format!("{v:?}"), v, Millis(at)])?;
                stored += n as u64;
                if n > 0 {
                    kept.push(*v);
                }
            }
            if let Some(s) = super::values::Summary::of(kept.iter().copied()) {
                tx.prepare_cached(
                    "INSERT INTO dispatch_values(dispatch_id, count, sum, min, max) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (dispatch_id) DO UPDATE SET count = count + excluded.count,
                         sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max)",
                )?
                .execute(params![id.0, s.count as i64, s.sum, s.min, s.max])?;
                let mut buckets: Vec<(i64, i64)> = Vec::new();
                for v in kept {
                    let b = super::values::bucket(v);
                    match buckets.iter_mut().find(|(x, _)| *x == b) {
                        Some((_, n)) => *n += 1,
                        None => buckets.push((b, 1)),
                    }
                }
                let mut add = tx.prepare_cached(
                    "INSERT INTO dispatch_value_buckets(dispatch_id, bucket, count) VALUES (?1, ?2, ?3)
                     ON CONFLICT (dispatch_id, bucket) DO UPDATE SET count = count + excluded.count",
                )?;
                for (b, n) in buckets {
                    add.execute(params![id.0, b, n])?;
                }
            }
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

/// [`chunk_insert`], built once for a whole chunk and for one row (the
/// statement cache is looked up by the text, and building a 200-row text
/// for every chunk cost a tenth of storing it); a batch's last, shorter
/// chunk builds its own.
fn chunk_sql(rows: usize) -> std::borrow::Cow<'static, str> {
    static WHOLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static ONE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match rows {
        STORE_CHUNK => WHOLE.get_or_init(|| chunk_insert(STORE_CHUNK)).into(),
        1 => ONE.get_or_init(|| chunk_insert(1)).into(),
        _ => chunk_insert(rows).into(),
    }
}

/// `INSERT OR IGNORE` of `rows` predictions: `?1` the dispatch, `?2` the
/// time, then key, label and score of each row.
fn chunk_insert(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT OR IGNORE INTO predictions(dispatch_id, row_key, label, score, created_at) VALUES ",
    );
    for r in 0..rows {
        let p = 3 + 3 * r;
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("(?1, ?{p}, ?{}, ?{}, ?2)", p + 1, p + 2));
    }
    sql
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
        params![id.0, status.as_str(), failed_step.map(Step::as_str), error, Millis(at)],
    )?;
    let message = match (failed_step, error) {
        (Some(step), Some(e)) => format!("{status} at {step}: {e}"),
        (None, Some(e)) => format!("{status}: {e}"),
        _ => status.to_string(),
    };
    event(tx, id, Step::Finished, None, Some(&message), at)
}

/// Closes what a daemon that died left open, at the next start: a dispatch
/// that had not stored all its predictions is marked `interrupted`, saying
/// how far it got (nothing of it reached the results table); one that had
/// (its write-back may have begun, or even committed) stays `running`, with a
/// `resumed` event, and is returned: it is settled by counting its rows in
/// the results table (see `DispatchService::settle_at_start`).
pub fn close_interrupted(
    tx: &Transaction<'_>,
    at: jiff::Timestamp,
) -> rusqlite::Result<(Vec<DispatchId>, Vec<DispatchId>)> {
    let open: Vec<(i64, Option<String>, bool)> = {
        let mut s = tx.prepare(
            "SELECT d.id,
                    (SELECT step FROM dispatch_events e WHERE e.dispatch_id = d.id ORDER BY seq DESC LIMIT 1),
                    EXISTS (SELECT 1 FROM dispatch_events e WHERE e.dispatch_id = d.id AND e.step = 'stored')
             FROM dispatches d WHERE d.status IN ('created', 'running') ORDER BY d.id",
        )?;
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let (mut interrupted, mut settle) = (Vec::new(), Vec::new());
    for (id, last, all_stored) in open {
        let id = DispatchId(id);
        if all_stored {
            resume(
                tx,
                id,
                "the daemon stopped during the write-back (or just after it): settling at \
                 restart by counting this dispatch's rows in the results table",
                at,
            )?;
            settle.push(id);
            continue;
        }
        let stored: i64 = tx.query_row(
            "SELECT count(*) FROM predictions WHERE dispatch_id = ?1",
            [id.0],
            |r| r.get(0),
        )?;
        let last = last.unwrap_or_else(|| "created".into());
        let error = format!(
            "the daemon stopped while this dispatch ran; its last completed step was {last}, with {stored} \
             predictions stored; nothing was written to the results table"
        );
        tx.execute(
            "UPDATE dispatches SET status = 'interrupted', error = ?2, finished_at = ?3, rows_stored = ?4 WHERE id = ?1",
            params![id.0, error, Millis(at), stored],
        )?;
        event(
            tx,
            id,
            Step::Finished,
            None,
            Some(&format!("interrupted: {error}")),
            at,
        )?;
        interrupted.push(id);
    }
    Ok((interrupted, settle))
}

/// The write-back of a dispatch is done again (settled after a restart, or
/// retried by an admin): it is `running` again, with a `resumed` event
/// saying why.
pub fn resume(
    tx: &Transaction<'_>,
    id: DispatchId,
    why: &str,
    at: jiff::Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE dispatches SET status = 'running', failed_step = NULL, error = NULL, finished_at = NULL,
         rows_inserted = 0, predictions_pruned = 0 WHERE id = ?1",
        [id.0],
    )?;
    event(tx, id, Step::Resumed, None, Some(why), at)
}

/// Like [`resume`], for an admin's retry: only a dispatch that ended without
/// succeeding is resumed (checked in the same transaction, so two retries
/// never run at once); whether it was.
pub fn resume_ended(
    tx: &Transaction<'_>,
    id: DispatchId,
    why: &str,
    at: jiff::Timestamp,
) -> rusqlite::Result<bool> {
    let ended: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM dispatches WHERE id = ?1
                        AND status IN ('failed', 'cancelled', 'interrupted'))",
        [id.0],
        |r| r.get(0),
    )?;
    if ended {
        resume(tx, id, why, at)?;
    }
    Ok(ended)
}

/// Records that the write-back could not even be tried again: the dispatch
/// stays `interrupted` (after a restart) with the reason.
pub fn unsettled(
    tx: &Transaction<'_>,
    id: DispatchId,
    error: &str,
    at: jiff::Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE dispatches SET status = 'interrupted', failed_step = 'inserted', error = ?2, finished_at = ?3
         WHERE id = ?1",
        params![id.0, error, Millis(at)],
    )?;
    event(
        tx,
        id,
        Step::Finished,
        None,
        Some(&format!("interrupted: {error}")),
        at,
    )
}

/// Whether the dispatch has its `stored` event: every prediction it made is
/// in the event log, so its write-back can be done again from there.
pub fn has_stored(c: &Connection, id: DispatchId) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM dispatch_events WHERE dispatch_id = ?1 AND step = 'stored')",
        [id.0],
        |r| r.get(0),
    )
}

/// The dispatches of `job` that serve a slot at or after `since`: slot, id, trigger.
pub fn slots_served(
    c: &Connection,
    job: &str,
    since: jiff::Timestamp,
) -> rusqlite::Result<Vec<(jiff::Timestamp, DispatchId, Trigger)>> {
    let mut s = c.prepare_cached(
        "SELECT slot, id, trigger FROM dispatches WHERE job = ?1 AND slot >= ?2 ORDER BY slot, id",
    )?;
    s.query_map(params![job, Millis(since)], |r| {
        let trigger: String = r.get(2)?;
        Ok((
            time::get(r, 0)?,
            DispatchId(r.get(1)?),
            Trigger::parse(&trigger).ok_or_else(|| corrupt(2, "trigger", &trigger))?,
        ))
    })?
    .collect()
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
        trigger: Trigger::parse(&trigger).ok_or_else(|| corrupt(2, "trigger", &trigger))?,
        requested_by: r.get(3)?,
        slot: time::get_opt(r, 4)?,
        model: r.get(5)?,
        model_version: r.get(6)?,
        model_hash: r.get(7)?,
        status: DispatchStatus::parse(&status)
            .ok_or_else(|| corrupt(8, "dispatch status", &status))?,
        failed_step: match failed.as_deref() {
            None => None,
            Some(f) => Some(Step::parse(f).ok_or_else(|| corrupt(9, "dispatch step", f))?),
        },
        error: r.get(10)?,
        created_at: time::get(r, 11)?,
        started_at: time::get_opt(r, 12)?,
        finished_at: time::get_opt(r, 13)?,
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
    s.query_map(params![Millis(from), Millis(to), job, limit], record)?
        .collect()
}

pub fn events(c: &Connection, id: DispatchId) -> rusqlite::Result<Vec<EventRecord>> {
    let mut s =
        c.prepare_cached("SELECT seq, at, step, rows, message FROM dispatch_events WHERE dispatch_id = ?1 ORDER BY seq")?;
    s.query_map([id.0], |r| {
        let step: String = r.get(2)?;
        Ok(EventRecord {
            seq: r.get::<_, i64>(0)? as u32,
            at: time::get(r, 1)?,
            step: Step::parse(&step).ok_or_else(|| corrupt(2, "dispatch step", &step))?,
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
        "SELECT row_key, label, score, value, created_at FROM predictions WHERE dispatch_id = ?1",
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
        stored_prediction(r)
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
        "SELECT row_key, label, score, value, created_at FROM predictions WHERE dispatch_id = ?1",
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
            stored_prediction(r)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

fn stored_prediction(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPrediction> {
    Ok(StoredPrediction {
        row_key: r.get(0)?,
        label: r.get(1)?,
        score: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
        value: r.get(3)?,
        created_at: time::get(r, 4)?,
    })
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

/// A dispatch's value summary and the count in each bucket, by bucket.
pub type StoredValues = (super::values::Summary, Vec<(i64, u64)>);

/// A regressor's dispatch: the summary of its predicted values and the
/// count in each bucket (`None` for a classifier's, or before any value).
pub fn value_summary(c: &Connection, id: DispatchId) -> rusqlite::Result<Option<StoredValues>> {
    let summary = c
        .query_row(
            "SELECT count, sum, min, max FROM dispatch_values WHERE dispatch_id = ?1",
            [id.0],
            |r| {
                Ok(super::values::Summary {
                    count: r.get::<_, i64>(0)? as u64,
                    sum: r.get(1)?,
                    min: r.get(2)?,
                    max: r.get(3)?,
                })
            },
        )
        .optional()?;
    let Some(summary) = summary else {
        return Ok(None);
    };
    let mut s = c.prepare_cached(
        "SELECT bucket, count FROM dispatch_value_buckets WHERE dispatch_id = ?1 ORDER BY bucket",
    )?;
    let buckets = s
        .query_map([id.0], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some((summary, buckets)))
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
            time::get(r, 1)?,
            DispatchStatus::parse(&status).ok_or_else(|| corrupt(2, "dispatch status", &status))?,
        ))
    })?
    .collect()
}

/// Deletes at most `limit` predictions of dispatches that finished before
/// `before`; returns how many. A dispatch that has not finished (running, or
/// waiting to be settled after a restart) keeps all of its: its write-back
/// reads them. Oldest dispatches first; a dispatch with none left is marked
/// (`predictions_pruned`), so later calls never visit it again. Dispatch
/// and event records, and the class distribution, stay. Called in chunks so
/// other writers are never held up for long.
pub fn prune_predictions(
    tx: &Transaction<'_>,
    before: jiff::Timestamp,
    limit: u32,
) -> rusqlite::Result<u64> {
    let mut next = tx.prepare_cached(
        "SELECT id FROM dispatches
         WHERE predictions_pruned = 0 AND finished_at < ?1
           AND status IN ('succeeded', 'failed', 'cancelled', 'interrupted')
         ORDER BY finished_at LIMIT 1",
    )?;
    let mut delete = tx.prepare_cached(
        "DELETE FROM predictions WHERE dispatch_id = ?1 AND row_key IN (
             SELECT row_key FROM predictions WHERE dispatch_id = ?1 LIMIT ?2)",
    )?;
    let mut done =
        tx.prepare_cached("UPDATE dispatches SET predictions_pruned = 1 WHERE id = ?1")?;
    let mut pruned = 0u64;
    while pruned < u64::from(limit) {
        let Some(id) = next
            .query_row(params![Millis(before)], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            break;
        };
        let room = u64::from(limit) - pruned;
        let n = delete.execute(params![id, room as i64])? as u64;
        pruned += n;
        if n < room {
            done.execute([id])?;
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlog::EventLog;
    use std::sync::Arc;

    fn new(job: &str) -> NewDispatch {
        NewDispatch {
            job: job.into(),
            trigger: Trigger::Manual,
            requested_by: "test".into(),
            slot: None,
            model: "m".into(),
            model_version: "1".into(),
            model_hash: "h".into(),
        }
    }

    fn predictions_left(log: &EventLog, id: DispatchId) -> u64 {
        log.read_blocking(move |c| count_predictions(c, id, None))
            .unwrap()
    }

    /// Three dispatches, each with `n` predictions: one finished long ago,
    /// one finished just now, one still running since long ago.
    fn three_dispatches(log: &EventLog, n: usize) -> [DispatchId; 3] {
        let old: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let label: Arc<str> = Arc::from("a");
        log.write_blocking(move |tx| {
            let now = jiff::Timestamp::now();
            let ids = [
                create(tx, &new("old"), old)?,
                create(tx, &new("recent"), old)?,
                create(tx, &new("running"), old)?,
            ];
            for id in ids {
                start(tx, id, old)?;
                let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
                let outcomes = Outcomes::Classes {
                    labels: vec![label.clone(); n],
                    scores: vec![0.5; n],
                };
                store_batch(tx, id, &keys, &outcomes, &[], old)?;
            }
            let status = DispatchStatus::Succeeded;
            finish(tx, ids[0], status, None, None, &Counts::default(), old)?;
            finish(tx, ids[1], status, None, None, &Counts::default(), now)?;
            Ok(ids)
        })
        .unwrap()
    }

    #[test]
    fn pruning_takes_only_dispatches_that_finished_before_the_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events.db")).unwrap();
        let [old, recent, running] = three_dispatches(&log, 5);
        // A day ago: the recent dispatch finished after it, its predictions
        // (stored long before) stay.
        let before = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(24))
            .unwrap();
        // In chunks: two, two, one, then nothing left that may go.
        let mut chunks = vec![];
        loop {
            let n = log
                .write_blocking(move |tx| prune_predictions(tx, before, 2))
                .unwrap();
            chunks.push(n);
            if n < 2 {
                break;
            }
        }
        assert_eq!(chunks, vec![2, 2, 1]);
        let left = |id| predictions_left(&log, id);
        assert_eq!(left(old), 0, "the old dispatch's predictions went");
        assert_eq!(
            left(recent),
            5,
            "a dispatch finished after the cutoff keeps them"
        );
        assert_eq!(
            left(running),
            5,
            "the running dispatch keeps every prediction"
        );
        // Its class distribution outlives the pruning.
        assert_eq!(
            log.read_blocking(move |c| class_counts(c, old)).unwrap(),
            vec![("a".to_string(), 5)]
        );
        // The emptied dispatch is marked, the others are not.
        let marked = log
            .read_blocking(|c| {
                c.prepare("SELECT id FROM dispatches WHERE predictions_pruned = 1")?
                    .query_map([], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap();
        assert_eq!(marked, vec![old.0]);
    }

    #[test]
    fn a_dispatch_resumed_after_pruning_is_pruned_again_once_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events.db")).unwrap();
        let [old, _, _] = three_dispatches(&log, 3);
        let before = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(24))
            .unwrap();
        let prune = || {
            log.write_blocking(move |tx| prune_predictions(tx, before, 100))
                .unwrap()
        };
        assert_eq!(prune(), 3);
        // Retried (a sharded dispatch re-runs shards and stores again), it
        // ends again with new predictions: retention takes those too.
        let long_ago: jiff::Timestamp = "2026-01-03T00:00:00Z".parse().unwrap();
        log.write_blocking(move |tx| {
            resume(tx, old, "retry", long_ago)?;
            let keys: Vec<String> = (0..2).map(|i| format!("again{i}")).collect();
            let outcomes = Outcomes::Classes {
                labels: vec![Arc::from("b"); 2],
                scores: vec![0.5; 2],
            };
            store_batch(tx, old, &keys, &outcomes, &[], long_ago)?;
            let status = DispatchStatus::Succeeded;
            finish(tx, old, status, None, None, &Counts::default(), long_ago)
        })
        .unwrap();
        assert_eq!(prune(), 2);
        assert_eq!(predictions_left(&log, old), 0);
    }

    #[test]
    fn one_call_prunes_across_dispatches_up_to_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events.db")).unwrap();
        // Two old finished dispatches of 3 rows each, pruned by one call of 4
        // then one of 4: 4 (3 + 1), then 2, and both are emptied.
        let [a, b, running] = three_dispatches(&log, 3);
        log.write_blocking(move |tx| {
            let old: jiff::Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
            tx.execute(
                "UPDATE dispatches SET finished_at = ?2 WHERE id = ?1",
                params![b.0, Millis(old)],
            )?;
            Ok(())
        })
        .unwrap();
        let now = jiff::Timestamp::now();
        let prune = || {
            log.write_blocking(move |tx| prune_predictions(tx, now, 4))
                .unwrap()
        };
        assert_eq!(prune(), 4);
        assert_eq!(prune(), 2);
        assert_eq!(prune(), 0);
        let left = |id| predictions_left(&log, id);
        assert_eq!((left(a), left(b), left(running)), (0, 0, 3));
    }
    #[test]
    fn a_batch_stores_every_new_key_once_and_counts_only_what_it_stored() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events.db")).unwrap();
        let at: jiff::Timestamp = "2026-01-01T00:00:00.123Z".parse().unwrap();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        // Several chunks and a remainder; then a batch holding keys stored
        // already (one in the middle of a chunk) and one twice in itself.
        let n = STORE_CHUNK * 2 + 7;
        let keys: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let labels: Vec<Arc<str>> = (0..n)
            .map(|i| if i % 3 == 0 { a.clone() } else { b.clone() })
            .collect();
        let scores: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        let again: Vec<String> = ["new1", "5", "new2", "new2", "new3"]
            .map(String::from)
            .to_vec();
        let (first, second, id) = log
            .write_blocking(move |tx| {
                let id = create(tx, &new("dups"), at)?;
                start(tx, id, at)?;
                let first = store_batch(
                    tx,
                    id,
                    &keys,
                    &Outcomes::Classes { labels, scores },
                    &[],
                    at,
                )?;
                let again_outcomes = Outcomes::Classes {
                    labels: vec![a.clone(); 5],
                    scores: vec![0.25; 5],
                };
                let second = store_batch(tx, id, &again, &again_outcomes, &[], at)?;
                Ok((first, second, id))
            })
            .unwrap();
        assert_eq!(first, n as u64);
        assert_eq!(
            second, 3,
            "new1, new2 and new3; 5 and the second new2 were there"
        );
        let stored = log
            .read_blocking(move |c| predictions(c, id, None, None, 10_000))
            .unwrap();
        assert_eq!(stored.len(), n + 3);
        let five = stored.iter().find(|p| p.row_key == "5").unwrap();
        // The first one stays: label b (5 % 3 != 0), its own score, its time.
        assert_eq!((five.label.as_str(), five.score), ("b", 5.0 / n as f64));
        assert_eq!(five.created_at, at);
        let want_a = (0..n).filter(|i| i % 3 == 0).count() as u64 + 3;
        let want_b = (0..n).filter(|i| i % 3 != 0).count() as u64;
        // Most frequent first.
        assert_eq!(
            log.read_blocking(move |c| class_counts(c, id)).unwrap(),
            vec![("b".to_string(), want_b), ("a".to_string(), want_a)]
        );
    }
}
