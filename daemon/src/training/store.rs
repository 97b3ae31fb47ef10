//! The training table of the event log (`training_runs`): every statement
//! that reads or writes it. Functions take a connection or a transaction and
//! are run through the event log's owner threads; instants go through
//! [`crate::eventlog::time`].

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::runner::RunStatus;
use crate::eventlog::time::{self, Millis};

/// A run as the table keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub requested_by: String,
    /// The request as JSON (a later mld may not parse an older one).
    pub request_json: String,
    pub status: RunStatus,
    pub experiment: Option<String>,
    pub error: Option<String>,
    pub started_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
}

/// Records a run that starts now; its number.
pub fn insert(
    tx: &Transaction<'_>,
    requested_by: &str,
    request_json: &str,
    started_at: jiff::Timestamp,
) -> rusqlite::Result<u64> {
    tx.execute(
        "INSERT INTO training_runs(requested_by, request_json, status, started_at)
         VALUES (?1, ?2, 'running', ?3)",
        params![requested_by, request_json, Millis(started_at)],
    )?;
    Ok(tx.last_insert_rowid() as u64)
}

/// Records how a run ended.
pub fn finish(
    tx: &Transaction<'_>,
    run: u64,
    status: RunStatus,
    experiment: Option<&str>,
    error: Option<&str>,
    at: jiff::Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE training_runs SET status = ?2, experiment = ?3, error = ?4, finished_at = ?5
         WHERE id = ?1",
        params![run as i64, status.as_str(), experiment, error, Millis(at)],
    )?;
    Ok(())
}

/// Marks runs left `running` by a daemon that died as `interrupted` with
/// `error`; returns their numbers.
pub fn mark_interrupted(
    tx: &Transaction<'_>,
    error: &str,
    at: jiff::Timestamp,
) -> rusqlite::Result<Vec<u64>> {
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM training_runs WHERE status = 'running' ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    tx.execute(
        "UPDATE training_runs SET status = 'interrupted', error = ?1, finished_at = ?2
         WHERE status = 'running'",
        params![error, Millis(at)],
    )?;
    Ok(ids.into_iter().map(|r| r as u64).collect())
}

const COLUMNS: &str = "SELECT id, requested_by, request_json, status, experiment, error, started_at, finished_at FROM training_runs";

fn stored_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<(u64, StoredRun)> {
    let status: String = r.get(3)?;
    Ok((
        r.get::<_, i64>(0)? as u64,
        StoredRun {
            requested_by: r.get(1)?,
            request_json: r.get(2)?,
            status: RunStatus::parse(&status).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    3,
                    rusqlite::types::Type::Text,
                    format!("{status:?} is not a training status").into(),
                )
            })?,
            experiment: r.get(4)?,
            error: r.get(5)?,
            started_at: time::get(r, 6)?,
            finished_at: time::get_opt(r, 7)?,
        },
    ))
}

pub fn get(c: &Connection, run: u64) -> rusqlite::Result<Option<StoredRun>> {
    c.query_row(
        &format!("{COLUMNS} WHERE id = ?1"),
        [run as i64],
        stored_run,
    )
    .optional()
    .map(|r| r.map(|(_, run)| run))
}

/// The latest `limit` runs, newest first, with their numbers.
pub fn recent(c: &Connection, limit: u32) -> rusqlite::Result<Vec<(u64, StoredRun)>> {
    c.prepare_cached(&format!("{COLUMNS} ORDER BY id DESC LIMIT ?1"))?
        .query_map([limit], stored_run)?
        .collect()
}
