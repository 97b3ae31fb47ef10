//! Instants in the event log: INTEGER milliseconds since the Unix epoch, UTC
//! (as on the wire), so they sort and compare in SQL.
//!
//! The one rule for a stored value that is not an instant (out of range, not
//! an integer): reading it is an error that names the column and the value,
//! never a silent stand-in such as the epoch.

use jiff::Timestamp;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// An instant as the event log stores it. Bind it as a parameter, or read it
/// with `row.get::<_, Millis>(i)` (or `Option<Millis>` for a NULL-able column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub Timestamp);

/// The stored form of `t`.
pub fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// The instant a stored value stands for, or the error that says it is corrupt.
pub fn from_ms(v: i64) -> Result<Timestamp, CorruptTime> {
    Timestamp::from_millisecond(v).map_err(|_| CorruptTime(v))
}

/// A stored value that is not an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not an instant (milliseconds since 1970-01-01 UTC)")]
pub struct CorruptTime(pub i64);

impl ToSql for Millis {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(ms(self.0)))
    }
}

impl FromSql for Millis {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let v = i64::column_result(value)?;
        from_ms(v)
            .map(Millis)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl From<Timestamp> for Millis {
    fn from(t: Timestamp) -> Self {
        Millis(t)
    }
}

/// `row.get(i)` for an instant column.
pub fn get(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    row.get::<_, Millis>(idx).map(|m| m.0)
}

/// `row.get(i)` for a NULL-able instant column.
pub fn get_opt(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    row.get::<_, Option<Millis>>(idx).map(|m| m.map(|m| m.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_and_a_corrupt_value_is_an_error_naming_it() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (a INTEGER, b INTEGER)")
            .unwrap();
        let at: Timestamp = "2026-11-23T10:00:00.250Z".parse().unwrap();
        c.execute(
            "INSERT INTO t VALUES (?1, NULL), (?2, 'soon')",
            rusqlite::params![Millis(at), i64::MAX],
        )
        .unwrap();
        let first = c
            .query_row("SELECT a, b FROM t WHERE rowid = 1", [], |r| {
                Ok((get(r, 0)?, get_opt(r, 1)?))
            })
            .unwrap();
        assert_eq!(first, (at, None));
        let e = c
            .query_row("SELECT a FROM t WHERE rowid = 2", [], |r| get(r, 0))
            .unwrap_err();
        assert!(
            matches!(e, rusqlite::Error::FromSqlConversionFailure(0, _, _)),
            "{e:?}"
        );
        assert!(e.to_string().contains(&i64::MAX.to_string()), "{e}");
        let e = c
            .query_row("SELECT b FROM t WHERE rowid = 2", [], |r| get_opt(r, 0))
            .unwrap_err();
        assert!(matches!(e, rusqlite::Error::InvalidColumnType(..)), "{e:?}");
    }
}
