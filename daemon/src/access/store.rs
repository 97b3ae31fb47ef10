//! The `access_denials` table (created by the event log's migrations v2 and
//! v6): what was refused, to whom, and how often.
//! One row per uid and window (see [`super::denials`]): the first refusal's
//! request and role, and how many refusals the window held.

use crate::eventlog::time::{self, Millis};
use jiff::Timestamp;
use rusqlite::{Connection, Transaction, params};

/// One row of `access_denials`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialRecord {
    pub id: i64,
    /// The first refusal of the window.
    pub at: Timestamp,
    pub user: String,
    pub uid: u32,
    /// The first refused request's name (`connect` for a peer with no role).
    pub request: String,
    /// The role it needed.
    pub needed: String,
    /// Refusals in the window, the first included.
    pub count: u64,
    /// The last refusal of the window, once there was more than one.
    pub last_at: Option<Timestamp>,
}

/// Records the first refusal of a window; returns its row.
pub fn insert(
    tx: &Transaction<'_>,
    at: Timestamp,
    user: &str,
    uid: u32,
    request: &str,
    needed: &str,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO access_denials(at, user, uid, request, needed, count) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
        params![Millis(at), user, uid, request, needed],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Sets a window's count and last refusal.
pub fn set_count(
    tx: &Transaction<'_>,
    id: i64,
    count: u64,
    last_at: Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE access_denials SET count = ?2, last_at = ?3 WHERE id = ?1",
        params![id, count as i64, Millis(last_at)],
    )?;
    Ok(())
}

/// Every row, oldest first.
pub fn all(c: &Connection) -> rusqlite::Result<Vec<DenialRecord>> {
    let mut s = c.prepare(
        "SELECT id, at, user, uid, request, needed, count, last_at FROM access_denials ORDER BY id",
    )?;
    s.query_map([], |r| {
        Ok(DenialRecord {
            id: r.get(0)?,
            at: time::get(r, 1)?,
            user: r.get(2)?,
            uid: r.get(3)?,
            request: r.get(4)?,
            needed: r.get(5)?,
            count: r.get::<_, i64>(6)? as u64,
            last_at: time::get_opt(r, 7)?,
        })
    })?
    .collect()
}
