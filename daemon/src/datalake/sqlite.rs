//! The built-in SQLite backend (rusqlite): a datalake that is a file, no
//! driver needed — the demo's. Receives a path and the same requests as the
//! ODBC backend; emits the same batches and errors. A reader runs its query
//! on its own thread (a rusqlite statement borrows its connection) and hands
//! batches over a channel of one, so memory stays bounded.

use std::path::Path;
use std::sync::mpsc;

use mld_shared::ids::DispatchId;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{
    Batch, BatchBuilder, ColumnPlan, Datalake, DatalakeError, Dialect, FeatureKind, ResultRow,
    ResultSql, display_path, key_null_reason, not_numeric_reason, null_reason, parse_number,
    timestamp_text,
};

fn open(lake: &Datalake, path: &Path, create: bool) -> Result<Connection, DatalakeError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| DatalakeError::Connect {
        datalake: lake.name.clone(),
        message: format!("{}: {e}", display_path(path)),
    })?;
    // Another writer (the demo seeding, a user's sqlite3) may hold the lock briefly.
    conn.busy_timeout(lake.connect_timeout)
        .map_err(|e| lake.query_error(e.to_string()))?;
    Ok(conn)
}

pub(super) fn probe(
    lake: &Datalake,
    path: &Path,
    probe_table: Option<&str>,
) -> Result<(), DatalakeError> {
    let conn = open(lake, path, false)?;
    let sql = match probe_table {
        Some(t) => Dialect::builtin_sqlite().probe(t),
        None => "SELECT 1 WHERE 1=0".to_string(),
    };
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| lake.query_error(e.to_string()))?;
    let mut rows = stmt
        .query([])
        .map_err(|e| lake.query_error(e.to_string()))?;
    rows.next().map_err(|e| lake.query_error(e.to_string()))?;
    Ok(())
}

pub(super) fn execute(lake: &Datalake, path: &Path, sql: &str) -> Result<(), DatalakeError> {
    let conn = open(lake, path, true)?;
    conn.execute_batch(sql)
        .map_err(|e| lake.query_error(e.to_string()))
}

/// The first row of `sql`, every column as text (`None`: NULL or no row).
pub(super) fn first_row_text(
    lake: &Datalake,
    path: &Path,
    sql: &str,
) -> Result<Vec<Option<String>>, DatalakeError> {
    let conn = open(lake, path, false)?;
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| lake.query_error(e.to_string()))?;
    let columns = stmt.column_count();
    let mut rows = stmt
        .query([])
        .map_err(|e| lake.query_error(e.to_string()))?;
    let mut out = Vec::new();
    if let Some(row) = rows.next().map_err(|e| lake.query_error(e.to_string()))? {
        for c in 0..columns {
            let v = row
                .get_ref(c)
                .map_err(|e| lake.query_error(e.to_string()))?;
            out.push(key_text(v));
        }
    }
    Ok(out)
}

pub(super) fn count_results(
    lake: &Datalake,
    path: &Path,
    sql: &ResultSql,
    dispatch_id: DispatchId,
) -> Result<u64, DatalakeError> {
    let conn = open(lake, path, false)?;
    conn.query_row(&sql.count(), [dispatch_id.0], |r| r.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
        .map_err(|e| lake.query_error(e.to_string()))
}

enum Msg {
    Batch(Batch),
    Error(DatalakeError),
}

pub(super) struct SqliteReader {
    rx: mpsc::Receiver<Msg>,
    kinds: Vec<FeatureKind>,
    done: bool,
}

/// SQLite's type affinity rules: a declared type naming INT, REAL, FLOA,
/// DOUB, NUM or DEC holds numbers.
fn declared_numeric(decl: &str) -> bool {
    let d = decl.to_ascii_uppercase();
    ["INT", "REAL", "FLOA", "DOUB", "NUM", "DEC", "BOOL"]
        .iter()
        .any(|t| d.contains(t))
}

impl SqliteReader {
    pub(super) fn open(
        lake: &Datalake,
        path: &Path,
        query: &str,
        key_column: &str,
        features: &[String],
        kinds: Option<&[FeatureKind]>,
        batch_size: usize,
    ) -> Result<Self, DatalakeError> {
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<Vec<FeatureKind>, DatalakeError>>(1);
        let (tx, rx) = mpsc::sync_channel::<Msg>(1);
        let name = lake.name.clone();
        let lake = lake.clone();
        let path = path.to_path_buf();
        let query = query.to_string();
        let key_column = key_column.to_string();
        let features = features.to_vec();
        let asked = kinds.map(<[FeatureKind]>::to_vec);
        std::thread::Builder::new()
            .name("datalake-sqlite-read".into())
            .spawn(move || {
                let conn = match open(&lake, &path, false) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut stmt = match conn.prepare(&query) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(lake.query_error(e.to_string())));
                        return;
                    }
                };
                let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
                let plan = match ColumnPlan::new(&lake, names, &key_column, &features) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Unless asked, each feature as its column is declared (an
                // expression, undeclared, is a number).
                let kinds = asked.unwrap_or_else(|| {
                    let columns: Vec<_> = stmt.columns().collect();
                    plan.features
                        .iter()
                        .map(|&c| match columns.get(c).and_then(|c| c.decl_type()) {
                            Some(t) if !declared_numeric(t) => FeatureKind::Text,
                            _ => FeatureKind::Number,
                        })
                        .collect()
                });
                let mut rows = match stmt.query([]) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(lake.query_error(e.to_string())));
                        return;
                    }
                };
                if ready_tx.send(Ok(kinds.clone())).is_err() {
                    return;
                }
                let mut builder = BatchBuilder::new(batch_size, &kinds);
                loop {
                    let row = match rows.next() {
                        Ok(Some(r)) => r,
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Msg::Error(lake.read_error(e.to_string())));
                            return;
                        }
                    };
                    push_row(&mut builder, &plan, &kinds, row);
                    if builder.rows() >= batch_size {
                        let full =
                            std::mem::replace(&mut builder, BatchBuilder::new(batch_size, &kinds));
                        // The reader was dropped: stop reading.
                        if tx.send(Msg::Batch(full.finish())).is_err() {
                            return;
                        }
                    }
                }
                if !builder.is_empty() {
                    let _ = tx.send(Msg::Batch(builder.finish()));
                }
            })
            .map_err(|e| DatalakeError::Read {
                datalake: name.clone(),
                message: format!("cannot start the SQLite reader thread: {e}"),
            })?;
        match ready_rx.recv() {
            Ok(Ok(kinds)) => Ok(SqliteReader {
                rx,
                kinds,
                done: false,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DatalakeError::Read {
                datalake: name,
                message: "the SQLite reader thread ended unexpectedly".into(),
            }),
        }
    }

    pub(super) fn kinds(&self) -> &[FeatureKind] {
        &self.kinds
    }

    pub(super) fn next_batch(&mut self) -> Result<Option<Batch>, DatalakeError> {
        if self.done {
            return Ok(None);
        }
        match self.rx.recv() {
            Ok(Msg::Batch(b)) => Ok(Some(b)),
            Ok(Msg::Error(e)) => {
                self.done = true;
                Err(e)
            }
            // The thread finished after sending its last batch.
            Err(_) => {
                self.done = true;
                Ok(None)
            }
        }
    }
}

fn key_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

fn push_row(
    b: &mut BatchBuilder,
    plan: &ColumnPlan,
    kinds: &[FeatureKind],
    row: &rusqlite::Row<'_>,
) {
    let key = row.get_ref(plan.key).ok().and_then(key_text);
    let Some(key) = key else {
        b.unscorable.push(super::Unscorable {
            key: String::new(),
            reason: key_null_reason(&plan.names[plan.key]),
        });
        return;
    };
    let mark = b.data.len();
    for (j, &col) in plan.features.iter().enumerate() {
        if kinds[j] == FeatureKind::Text {
            // Text whatever the column holds; NULL is kept for the model's encoder to judge.
            let text = match row.get_ref(col) {
                Ok(ValueRef::Null) => Ok(None),
                Ok(ValueRef::Text(t)) => Ok(Some(String::from_utf8_lossy(t).into_owned())),
                Ok(ValueRef::Integer(i)) => Ok(Some(i.to_string())),
                Ok(ValueRef::Real(f)) => Ok(Some(format!("{f:?}"))),
                Ok(ValueRef::Blob(_)) => {
                    Err(format!("column {} is binary data", plan.feature_name(j)))
                }
                Err(e) => Err(format!("column {}: {e}", plan.feature_name(j))),
            };
            match text {
                Ok(t) => b.push_text(j, t.as_deref()),
                Err(reason) => {
                    b.reject(mark, key, reason);
                    return;
                }
            }
            continue;
        }
        let value = match row.get_ref(col) {
            Ok(ValueRef::Integer(i)) => Ok(i as f64),
            Ok(ValueRef::Real(f)) => Ok(f),
            Ok(ValueRef::Null) => Err(null_reason(plan.feature_name(j))),
            Ok(ValueRef::Text(t)) => {
                let t = String::from_utf8_lossy(t);
                parse_number(&t).ok_or_else(|| not_numeric_reason(plan.feature_name(j), &t))
            }
            Ok(ValueRef::Blob(_)) => Err(format!("column {} is binary data", plan.feature_name(j))),
            Err(e) => Err(format!("column {}: {e}", plan.feature_name(j))),
        };
        match value {
            Ok(v) => b.data.push(v),
            Err(reason) => {
                b.reject(mark, key, reason);
                return;
            }
        }
    }
    b.keys.push(key);
}

pub(super) struct SqliteWriter {
    conn: Connection,
    lake: Datalake,
    sql: ResultSql,
    dispatch_id: i64,
    open: bool,
    /// Rows SQLite reports inserted (a row a trigger dropped is not one).
    inserted: u64,
}

impl SqliteWriter {
    pub(super) fn begin(
        lake: &Datalake,
        path: &Path,
        sql: ResultSql,
        dispatch_id: DispatchId,
    ) -> Result<Self, DatalakeError> {
        let conn = open(lake, path, false).map_err(|e| write_error(lake, &sql, e.to_string()))?;
        let mut w = SqliteWriter {
            conn,
            lake: lake.clone(),
            sql,
            dispatch_id: dispatch_id.0,
            open: false,
            inserted: 0,
        };
        w.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| write_error(lake, &w.sql, e.to_string()))?;
        w.open = true;
        let delete = w.sql.delete();
        if let Err(e) = w.conn.execute(&delete, [w.dispatch_id]) {
            return Err(w.fail(e.to_string()));
        }
        Ok(w)
    }

    /// Rolls back and builds the error.
    fn fail(&mut self, message: String) -> DatalakeError {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.open = false;
        }
        write_error(&self.lake, &self.sql, message)
    }

    pub(super) fn write_batch(&mut self, rows: &[ResultRow]) -> Result<(), DatalakeError> {
        if !self.open {
            return Err(write_error(
                &self.lake,
                &self.sql,
                "the transaction was already rolled back".into(),
            ));
        }
        let result = (|| {
            let mut stmt = self.conn.prepare_cached(&self.sql.insert())?;
            let mut inserted = 0;
            for r in rows {
                // A regressor's value goes in the prediction column as a number, its score NULL.
                let (prediction, score): (&dyn rusqlite::ToSql, Option<f64>) = match &r.value {
                    Some(v) => (v, None),
                    None => (&r.prediction, Some(r.score)),
                };
                inserted += stmt.execute(rusqlite::params![
                    self.dispatch_id,
                    r.row_key,
                    prediction,
                    score,
                    r.model_version,
                    timestamp_text(r.scored_at),
                ])? as u64;
            }
            Ok::<_, rusqlite::Error>(inserted)
        })();
        match result {
            Ok(n) => {
                self.inserted += n;
                Ok(())
            }
            Err(e) => Err(self.fail(e.to_string())),
        }
    }

    /// `PRAGMA journal_mode`: "wal", "delete", "truncate", "persist", "memory", "off".
    pub(super) fn journal_mode(&mut self) -> Result<String, DatalakeError> {
        let mode = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0));
        mode.map_err(|e| self.fail(e.to_string()))
    }

    pub(super) fn count(&mut self) -> Result<u64, DatalakeError> {
        if !self.open {
            return Err(write_error(
                &self.lake,
                &self.sql,
                "the transaction was already rolled back".into(),
            ));
        }
        let counted = self
            .conn
            .query_row(&self.sql.count(), [self.dispatch_id], |r| {
                r.get::<_, i64>(0)
            });
        match counted {
            Ok(n) => Ok(n.max(0) as u64),
            Err(e) => Err(self.fail(e.to_string())),
        }
    }

    pub(super) fn commit(mut self) -> Result<(), DatalakeError> {
        if !self.open {
            return Err(write_error(
                &self.lake,
                &self.sql,
                "the transaction was already rolled back".into(),
            ));
        }
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => {
                self.open = false;
                Ok(())
            }
            Err(e) => Err(self.fail(e.to_string())),
        }
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn write_error(lake: &Datalake, sql: &ResultSql, message: String) -> DatalakeError {
    DatalakeError::Write {
        datalake: lake.name.clone(),
        table: sql.table_name.clone(),
        message,
    }
}
