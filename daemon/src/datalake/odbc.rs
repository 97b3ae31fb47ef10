//! The ODBC backend (odbc-api): any driver. Receives an [`OdbcTarget`] and the
//! datalake's requests; emits batches fetched with columnar bulk fetch
//! (number features bound as nullable f64, or parsed when the column is
//! text; text features bound as text whatever the column's type), result
//! rows written inside one transaction with the insert the connection's
//! [`Dialect`] chooses, and probe results. Every driver message passes
//! through the target's scrubber before it leaves this file.

use std::collections::HashMap;

use mld_shared::ids::DispatchId;
use odbc_api::buffers::{BufferDesc, ColumnarDynBuffer};
use odbc_api::{
    BindParamDesc, BlockCursor, Connection, ConnectionOptions, Cursor, DataType, OwnedCursor,
    ResultSetMetadata, environment,
};

use super::connstr::Scrubber;
use super::{
    Batch, BatchBuilder, BulkInsert, ColumnPlan, Datalake, DatalakeError, Dialect, FeatureKind,
    OdbcTarget, ResultNames, ResultRow, ResultSql, Unscorable, key_null_reason, not_numeric_reason,
    null_reason, parse_number, timestamp_text, too_long_reason,
};

/// Longest text accepted in a text column read as a number; longer is not a number anyway.
const TEXT_FEATURE_LEN: usize = 128;
/// Bounds on the bytes bound per value of a text feature (a category): the
/// column's declared size, four bytes a character, within these.
const MIN_CATEGORY_LEN: usize = 16;
const MAX_CATEGORY_LEN: usize = 512;
/// Longest key; a key column declared wider is bound with this many bytes.
const MAX_KEY_LEN: usize = 1024;

fn connect(
    lake: &Datalake,
    target: &OdbcTarget,
    fetch_rows: usize,
) -> Result<Connection<'static>, DatalakeError> {
    let scrub = target.scrubber();
    let env = environment().map_err(|e| DatalakeError::Connect {
        datalake: lake.name.clone(),
        message: scrub.scrub(&e.to_string()),
    })?;
    let options = ConnectionOptions {
        login_timeout_sec: Some(lake.login_timeout_secs()),
        packet_size: None,
    };
    env.connect_with_connection_string(target.connection_string(fetch_rows).expose(), options)
        .map_err(|e| DatalakeError::Connect {
            datalake: lake.name.clone(),
            message: scrub.scrub(&e.to_string()),
        })
}

pub(super) fn probe(
    lake: &Datalake,
    target: &OdbcTarget,
    probe_table: Option<&str>,
) -> Result<(), DatalakeError> {
    let conn = connect(lake, target, 1)?;
    if let Some(t) = probe_table {
        conn.execute(
            &Dialect::of(&conn).probe(t),
            (),
            Some(lake.query_timeout_secs()),
        )
        .map_err(|e| lake.query_error(target.scrubber().scrub(&e.to_string())))?;
    }
    Ok(())
}

pub(super) fn dialect(lake: &Datalake, target: &OdbcTarget) -> Result<Dialect, DatalakeError> {
    Ok(Dialect::of(&connect(lake, target, 1)?))
}

/// Each `;`-separated statement in turn (the SQLite driver runs only the first of several).
pub(super) fn execute(
    lake: &Datalake,
    target: &OdbcTarget,
    sql: &str,
) -> Result<(), DatalakeError> {
    let conn = connect(lake, target, 1)?;
    for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        conn.execute(stmt, (), Some(lake.query_timeout_secs()))
            .map_err(|e| lake.query_error(target.scrubber().scrub(&e.to_string())))?;
    }
    Ok(())
}

/// The first row of `sql`, every column as text (`None`: NULL or no row).
pub(super) fn first_row_text(
    lake: &Datalake,
    target: &OdbcTarget,
    sql: &str,
) -> Result<Vec<Option<String>>, DatalakeError> {
    let conn = connect(lake, target, 1)?;
    let fail = |e: odbc_api::Error| lake.query_error(target.scrubber().scrub(&e.to_string()));
    let mut out = Vec::new();
    if let Some(mut cursor) = conn
        .execute(sql, (), Some(lake.query_timeout_secs()))
        .map_err(fail)?
    {
        let columns = cursor.num_result_cols().map_err(fail)?;
        if let Some(mut row) = cursor.next_row().map_err(fail)? {
            for c in 1..=columns as u16 {
                let mut buf = Vec::new();
                let got = row.get_text(c, &mut buf).map_err(fail)?;
                out.push(got.then(|| String::from_utf8_lossy(&buf).into_owned()));
            }
        }
    }
    Ok(out)
}

/// `SELECT COUNT(*) … WHERE dispatch = ?` on `conn`, inside its transaction if one is open.
fn count_query(
    conn: &Connection<'static>,
    sql: &str,
    dispatch_id: i64,
    timeout: usize,
) -> Result<u64, odbc_api::Error> {
    let mut n: i64 = 0;
    if let Some(mut cursor) = conn.execute(sql, &dispatch_id, Some(timeout))?
        && let Some(mut row) = cursor.next_row()?
    {
        row.get_data(1, &mut n)?;
    }
    Ok(n.max(0) as u64)
}

pub(super) fn count_results(
    lake: &Datalake,
    target: &OdbcTarget,
    names: &ResultNames,
    dispatch_id: DispatchId,
) -> Result<u64, DatalakeError> {
    let conn = connect(lake, target, 1)?;
    count_query(
        &conn,
        &names.sql(&Dialect::of(&conn)).count(),
        dispatch_id.0,
        lake.query_timeout_secs(),
    )
    .map_err(|e| lake.query_error(target.scrubber().scrub(&e.to_string())))
}

/// Where a model feature is found in the fetched buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A numeric column bound as nullable f64: buffer index.
    Number(usize),
    /// A text (or unknown) column, parsed here: buffer index.
    Text(usize),
    /// The key column itself is also a feature.
    Key,
    /// A text feature: the column bound as text (buffer index, bytes bound).
    Category(usize, usize),
    /// A text feature that is the key column.
    KeyText,
}

fn is_numeric(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Numeric { .. }
            | DataType::Decimal { .. }
            | DataType::Integer
            | DataType::SmallInt
            | DataType::TinyInt
            | DataType::BigInt
            | DataType::Float { .. }
            | DataType::Real
            | DataType::Double
            | DataType::Bit
    )
}

pub(super) struct OdbcReader {
    cursor: BlockCursor<OwnedCursor<Connection<'static>>, ColumnarDynBuffer>,
    lake: Datalake,
    scrubber: Scrubber,
    plan: ColumnPlan,
    sources: Vec<Source>,
    kinds: Vec<FeatureKind>,
    key_len: usize,
    /// The SQLite driver hands non-numeric text in a numeric column over as NULL.
    null_may_be_text: bool,
    done: bool,
}

impl OdbcReader {
    pub(super) fn open(
        lake: &Datalake,
        target: &OdbcTarget,
        query: &str,
        key_column: &str,
        features: &[String],
        kinds: Option<&[FeatureKind]>,
        batch_size: usize,
    ) -> Result<Self, DatalakeError> {
        let scrub = target.scrubber();
        let qerr = |e: odbc_api::Error| lake.query_error(scrub.scrub(&e.to_string()));
        let conn = connect(lake, target, batch_size)?;
        let cursor = conn
            .into_cursor(query, (), Some(lake.query_timeout_secs()))
            .map_err(|e| qerr(e.error))?;
        let Some(mut cursor) = cursor else {
            return Err(lake.query_error("the query returned no result set".into()));
        };
        let names: Vec<String> = cursor
            .column_names()
            .map_err(qerr)?
            .collect::<Result<_, _>>()
            .map_err(qerr)?;
        let plan = ColumnPlan::new(lake, names, key_column, features)?;

        // Buffer 0 is the key; each other column is bound once, in first-use order.
        let key_col = (plan.key + 1) as u16;
        let key_len = match cursor.col_display_size(key_col).map_err(qerr)? {
            // Display size is in characters; UTF-8 may need four bytes each.
            Some(n) => n.get().saturating_mul(4).clamp(1, MAX_KEY_LEN),
            None => 255,
        };
        let mut descs = vec![(
            key_col,
            BufferDesc::Text {
                max_str_len: key_len,
            },
        )];
        // Unless asked, each feature as the database types its column.
        let kinds: Vec<FeatureKind> = match kinds {
            Some(k) => k.to_vec(),
            None => plan
                .features
                .iter()
                .map(|&col| {
                    let dt = cursor.col_data_type((col + 1) as u16).map_err(qerr)?;
                    Ok(if col == plan.key || is_numeric(&dt) {
                        FeatureKind::Number
                    } else {
                        FeatureKind::Text
                    })
                })
                .collect::<Result<_, DatalakeError>>()?,
        };
        let mut bound: HashMap<(usize, FeatureKind), Source> = HashMap::new();
        let mut sources = Vec::with_capacity(plan.features.len());
        for (&col, &kind) in plan.features.iter().zip(&kinds) {
            if col == plan.key {
                sources.push(match kind {
                    FeatureKind::Number => Source::Key,
                    FeatureKind::Text => Source::KeyText,
                });
                continue;
            }
            if let Some(s) = bound.get(&(col, kind)) {
                sources.push(*s);
                continue;
            }
            let n = (col + 1) as u16;
            let index = descs.len();
            if kind == FeatureKind::Text {
                let len = match cursor.col_display_size(n).map_err(qerr)? {
                    Some(c) => c.get().saturating_mul(4),
                    None => MAX_CATEGORY_LEN,
                }
                .clamp(MIN_CATEGORY_LEN, MAX_CATEGORY_LEN);
                descs.push((n, BufferDesc::Text { max_str_len: len }));
                let source = Source::Category(index, len);
                bound.insert((col, kind), source);
                sources.push(source);
                continue;
            }
            let dt = cursor.col_data_type(n).map_err(qerr)?;
            let source = if is_numeric(&dt) {
                // f64 always: psqlODBC reports DOUBLE PRECISION as SQL_FLOAT(17), which
                // a "fitting" buffer would make f32.
                descs.push((n, BufferDesc::F64 { nullable: true }));
                Source::Number(index)
            } else {
                descs.push((
                    n,
                    BufferDesc::Text {
                        max_str_len: TEXT_FEATURE_LEN,
                    },
                ));
                Source::Text(index)
            };
            bound.insert((col, kind), source);
            sources.push(source);
        }
        let buffer = ColumnarDynBuffer::from_descs_and_indices(batch_size, descs.into_iter());
        let cursor = cursor.bind_buffer(buffer).map_err(qerr)?;
        Ok(OdbcReader {
            cursor,
            lake: lake.clone(),
            scrubber: scrub.clone(),
            plan,
            sources,
            kinds,
            key_len,
            null_may_be_text: target.family() == super::DriverFamily::SqliteOdbc,
            done: false,
        })
    }

    pub(super) fn kinds(&self) -> &[FeatureKind] {
        &self.kinds
    }

    pub(super) fn next_batch(&mut self) -> Result<Option<Batch>, DatalakeError> {
        if self.done {
            return Ok(None);
        }
        let fetched = match self.cursor.fetch() {
            Ok(Some(b)) => b,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(self.lake.read_error(self.scrubber.scrub(&e.to_string())));
            }
        };
        let n = fetched.num_rows();
        let plan = &self.plan;
        let keys = fetched.column(0).as_text().expect("key bound as text");
        // Per buffer: numeric values+indicators, or a text view.
        let mut numbers: Vec<Option<(&[f64], &[isize])>> = Vec::with_capacity(fetched.num_cols());
        let mut texts = Vec::with_capacity(fetched.num_cols());
        for i in 0..fetched.num_cols() {
            let col = fetched.column(i);
            numbers.push(col.as_nullable_slice::<f64>().map(|s| s.raw_values()));
            texts.push(col.as_text());
        }
        let mut b = BatchBuilder::new(n, &self.kinds);
        for row in 0..n {
            if keys
                .content_length_at(row)
                .is_some_and(|len| len > self.key_len)
            {
                self.done = true;
                return Err(self.lake.read_error(format!(
                    "a value of key column {} is longer than {} bytes",
                    plan.names[plan.key], self.key_len
                )));
            }
            let Some(key_bytes) = keys.get(row) else {
                b.unscorable.push(Unscorable {
                    key: String::new(),
                    reason: key_null_reason(&plan.names[plan.key]),
                });
                continue;
            };
            let key = String::from_utf8_lossy(key_bytes).into_owned();
            let mark = b.data.len();
            let mut rejected = None;
            for (j, source) in self.sources.iter().enumerate() {
                // Text features: kept as text, NULL included (the model's encoder judges it).
                match *source {
                    Source::Category(i, len) => {
                        let view = texts[i].as_ref().expect("bound as text");
                        if view.content_length_at(row).is_some_and(|l| l > len) {
                            rejected = Some(too_long_reason(plan.feature_name(j), len));
                            break;
                        }
                        match view.get(row) {
                            None => b.push_text(j, None),
                            Some(bytes) => b.push_text(j, Some(&String::from_utf8_lossy(bytes))),
                        }
                        continue;
                    }
                    Source::KeyText => {
                        b.push_text(j, Some(&key));
                        continue;
                    }
                    _ => {}
                }
                let value = match *source {
                    Source::Number(i) => {
                        let (values, indicators) = numbers[i].expect("bound as f64");
                        if indicators[row] == odbc_api::sys::NULL_DATA {
                            let mut reason = null_reason(plan.feature_name(j));
                            if self.null_may_be_text {
                                reason.push_str(" or not a number");
                            }
                            Err(reason)
                        } else {
                            Ok(values[row])
                        }
                    }
                    Source::Text(i) => {
                        let view = texts[i].as_ref().expect("bound as text");
                        match view.get(row) {
                            None => Err(null_reason(plan.feature_name(j))),
                            Some(bytes) => {
                                let text = String::from_utf8_lossy(bytes);
                                let truncated = view
                                    .content_length_at(row)
                                    .is_some_and(|l| l > TEXT_FEATURE_LEN);
                                match parse_number(&text) {
                                    Some(v) if !truncated => Ok(v),
                                    _ => Err(not_numeric_reason(plan.feature_name(j), &text)),
                                }
                            }
                        }
                    }
                    Source::Key => parse_number(&key)
                        .ok_or_else(|| not_numeric_reason(plan.feature_name(j), &key)),
                    Source::Category(..) | Source::KeyText => unreachable!("text handled above"),
                };
                match value {
                    Ok(v) => b.data.push(v),
                    Err(reason) => {
                        rejected = Some(reason);
                        break;
                    }
                }
            }
            match rejected {
                Some(reason) => b.reject(mark, key, reason),
                None => b.keys.push(key),
            }
        }
        Ok(Some(b.finish()))
    }
}

pub(super) struct OdbcWriter {
    conn: Connection<'static>,
    lake: Datalake,
    scrubber: Scrubber,
    sql: ResultSql,
    dispatch_id: i64,
    open: bool,
    /// The DBMS the driver reports (a SQLite file's journal mode decides
    /// whether it can be read while this transaction writes).
    dbms: String,
    /// Rows the database reported inserted, while every batch was one
    /// statement that reports it (PostgreSQL's `unnest`); `None` once a batch
    /// went as parameter arrays, whose row counts drivers report differently.
    reported: Option<u64>,
}

impl OdbcWriter {
    pub(super) fn begin(
        lake: &Datalake,
        target: &OdbcTarget,
        names: &ResultNames,
        dispatch_id: DispatchId,
        scoped: &dyn Fn(ResultSql) -> ResultSql,
    ) -> Result<Self, DatalakeError> {
        let scrubber = target.scrubber().clone();
        let conn = connect(lake, target, lake.batch_size).map_err(|e| DatalakeError::Write {
            datalake: lake.name.clone(),
            table: names.table.clone(),
            message: e.to_string(),
        })?;
        let dialect = Dialect::of(&conn);
        let mut sql = scoped(names.sql(&dialect));
        if !lake.postgres_unnest {
            sql.bulk = BulkInsert::ParameterArrays;
        }
        let mut w = OdbcWriter {
            conn,
            lake: lake.clone(),
            scrubber,
            sql,
            dispatch_id: dispatch_id.0,
            open: false,
            dbms: dialect.dbms().to_string(),
            reported: Some(0),
        };
        // Autocommit off: one transaction, and SQLite ODBC is ~250x faster inside one.
        if let Err(e) = w.conn.set_autocommit(false) {
            return Err(w.fail(e));
        }
        w.open = true;
        let delete = w.sql.delete();
        let result = w
            .conn
            .execute(&delete, &w.dispatch_id, Some(lake.query_timeout_secs()))
            .map(|_| ());
        if let Err(e) = result {
            return Err(w.fail(e));
        }
        Ok(w)
    }

    /// Rolls back and builds the (scrubbed) error.
    fn fail(&mut self, e: odbc_api::Error) -> DatalakeError {
        let message = self.scrubber.scrub(&e.to_string());
        self.rollback();
        self.error(message)
    }

    fn error(&self, message: String) -> DatalakeError {
        DatalakeError::Write {
            datalake: self.lake.name.clone(),
            table: self.sql.table_name.clone(),
            message,
        }
    }

    fn rollback(&mut self) {
        if self.open {
            let _ = self.conn.rollback();
            self.open = false;
        }
    }

    pub(super) fn write_batch(&mut self, rows: &[ResultRow]) -> Result<(), DatalakeError> {
        if !self.open {
            return Err(self.error("the transaction was already rolled back".into()));
        }
        let result = match self.sql.bulk {
            BulkInsert::PostgresUnnest => self.insert_unnest(rows).map(|n| n.map(|n| n as u64)),
            BulkInsert::ParameterArrays => self.insert_arrays(rows, 1).map(|()| None),
            BulkInsert::MultiRowArrays(per) => {
                // Whole sets of `per` rows, then the rest one row per set.
                let whole = rows.len() / per.max(1) * per.max(1);
                self.insert_arrays(&rows[..whole], per)
                    .and_then(|()| self.insert_arrays(&rows[whole..], 1))
                    .map(|()| None)
            }
        };
        match result {
            Ok(n) => {
                self.reported = self.reported.zip(n).map(|(a, b)| a + b);
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Parameter arrays: one round trip per batch for drivers that support
    /// them; `per` rows per parameter set (`rows` is a multiple of it). A
    /// regressor's rows bind the prediction column as a number and the
    /// score as NULL.
    fn insert_arrays(&self, rows: &[ResultRow], per: usize) -> Result<(), odbc_api::Error> {
        let per = per.max(1);
        let sets = rows.len() / per;
        if sets == 0 {
            return Ok(());
        }
        let max_len =
            |f: fn(&ResultRow) -> &str| rows.iter().map(|r| f(r).len()).max().unwrap_or(0).max(1);
        let values = rows.first().is_some_and(|r| r.value.is_some());
        let (key_len, pred_len, version_len) = (
            max_len(|r| &r.row_key),
            max_len(|r| &r.prediction),
            max_len(|r| &r.model_version),
        );
        let descs = (0..per).flat_map(|_| {
            [
                BindParamDesc::i64(false),
                BindParamDesc::text(key_len),
                if values {
                    BindParamDesc::f64(false)
                } else {
                    BindParamDesc::text(pred_len)
                },
                BindParamDesc::f64(true),
                BindParamDesc::text(version_len),
                BindParamDesc::timestamp(false, 3),
            ]
        });
        let prepared = self.conn.prepare(&self.sql.insert_rows(per))?;
        let mut ins = prepared.into_column_inserter(sets, descs)?;
        ins.set_num_rows(sets);
        // Parameter set `s`, row `r` of it: rows[s * per + r], parameters 6r…6r+5.
        let at = |s: usize, r: usize| &rows[s * per + r];
        for r in 0..per {
            let base = 6 * r;
            ins.column_mut(base)
                .as_slice::<i64>()
                .expect("i64")
                .fill(self.dispatch_id);
            let mut text = |index: usize, f: fn(&ResultRow) -> &str| {
                let mut col = ins.column_mut(base + index).as_text().expect("text");
                for s in 0..sets {
                    col.set_cell(s, Some(f(at(s, r)).as_bytes()));
                }
            };
            text(1, |r| &r.row_key);
            if !values {
                text(2, |r| &r.prediction);
            }
            text(4, |r| &r.model_version);
            if values {
                let predictions = ins.column_mut(base + 2).as_slice::<f64>().expect("f64");
                for (s, p) in predictions.iter_mut().enumerate() {
                    *p = at(s, r).value.unwrap_or(f64::NAN);
                }
            }
            let mut scores = ins
                .column_mut(base + 3)
                .as_nullable_slice::<f64>()
                .expect("nullable f64");
            for s in 0..sets {
                scores.set_cell(s, (!values).then_some(at(s, r).score));
            }
            let stamps = ins
                .column_mut(base + 5)
                .as_slice::<odbc_api::sys::Timestamp>()
                .expect("timestamp");
            // One conversion per distinct instant (a batch shares one).
            let mut last: Option<(jiff::Timestamp, odbc_api::sys::Timestamp)> = None;
            for (s, v) in stamps.iter_mut().enumerate() {
                let ts = at(s, r).scored_at;
                *v = match last {
                    Some((t, o)) if t == ts => o,
                    _ => {
                        let o = odbc_timestamp(ts);
                        last = Some((ts, o));
                        o
                    }
                };
            }
        }
        ins.execute()?;
        Ok(())
    }

    /// PostgreSQL: the batch as array literals unnested server-side, in
    /// one statement; the rows the server reports it inserted. A
    /// regressor's predictions go as `float8[]`, its scores as NULLs. When
    /// every row shares one model version and one time (a dispatch's batch
    /// does), those go once, as single values.
    fn insert_unnest(&self, rows: &[ResultRow]) -> Result<Option<usize>, odbc_api::Error> {
        use odbc_api::IntoParameter;
        let Some(first) = rows.first() else {
            return Ok(Some(0));
        };
        let values = first.value.is_some();
        let keys = array_literal(rows.iter().map(|r| r.row_key.as_str()), true);
        let preds = if values {
            array_literal(
                rows.iter().map(|r| float_text(r.value.unwrap_or(f64::NAN))),
                false,
            )
        } else {
            array_literal(rows.iter().map(|r| r.prediction.as_str()), true)
        };
        let scores =
            (!values).then(|| array_literal(rows.iter().map(|r| float_text(r.score)), false));
        let shared = rows
            .iter()
            .all(|r| r.scored_at == first.scored_at && r.model_version == first.model_version);
        let mut stmt = self.conn.preallocate()?;
        stmt.set_query_timeout_sec(self.lake.query_timeout_secs())?;
        let (keys, preds) = (
            keys.as_str().into_parameter(),
            preds.as_str().into_parameter(),
        );
        if shared {
            let sql = self.sql.insert_unnest_shared(values);
            let version = first.model_version.as_str().into_parameter();
            let stamp = timestamp_text(first.scored_at);
            let stamp = stamp.as_str().into_parameter();
            match &scores {
                Some(scores) => {
                    let scores = scores.as_str().into_parameter();
                    let params = (&self.dispatch_id, &version, &stamp, &keys, &preds, &scores);
                    stmt.execute(&sql, params)?;
                }
                None => {
                    let params = (&self.dispatch_id, &version, &stamp, &keys, &preds);
                    stmt.execute(&sql, params)?;
                }
            }
            return stmt.row_count();
        }
        let scores = scores.unwrap_or_else(|| array_literal(rows.iter().map(|_| "NULL"), false));
        let versions = array_literal(rows.iter().map(|r| r.model_version.as_str()), true);
        // One formatting per distinct instant (rows of one stored batch share one).
        let mut last: Option<(jiff::Timestamp, std::rc::Rc<str>)> = None;
        let stamps = array_literal(
            rows.iter().map(|r| match &last {
                Some((t, text)) if *t == r.scored_at => text.clone(),
                _ => {
                    let text: std::rc::Rc<str> = timestamp_text(r.scored_at).into();
                    last = Some((r.scored_at, text.clone()));
                    text
                }
            }),
            true,
        );
        let sql = self.sql.insert_unnest(values);
        let (scores, versions, stamps) = (
            scores.as_str().into_parameter(),
            versions.as_str().into_parameter(),
            stamps.as_str().into_parameter(),
        );
        let params = (
            &self.dispatch_id,
            &keys,
            &preds,
            &scores,
            &versions,
            &stamps,
        );
        stmt.execute(&sql, params)?;
        stmt.row_count()
    }

    /// When the DBMS reports SQLite: its `PRAGMA journal_mode` ("wal", "delete"…).
    pub(super) fn sqlite_journal_mode(&mut self) -> Result<Option<String>, DatalakeError> {
        if !self.dbms.eq_ignore_ascii_case("SQLite") {
            return Ok(None);
        }
        let mut mode = String::new();
        let got = (|| -> Result<(), odbc_api::Error> {
            if let Some(mut cursor) = self.conn.execute("PRAGMA journal_mode", (), None)?
                && let Some(mut row) = cursor.next_row()?
            {
                let mut buf = Vec::new();
                row.get_text(1, &mut buf)?;
                mode = String::from_utf8_lossy(&buf).into_owned();
            }
            Ok(())
        })();
        match got {
            Ok(()) => Ok(Some(mode)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The rows of this dispatch the transaction holds: as the server
    /// reported them inserted (after the delete of earlier ones), or counted.
    pub(super) fn count(&mut self) -> Result<u64, DatalakeError> {
        if !self.open {
            return Err(self.error("the transaction was already rolled back".into()));
        }
        if let Some(n) = self.reported {
            return Ok(n);
        }
        let counted = count_query(
            &self.conn,
            &self.sql.count(),
            self.dispatch_id,
            self.lake.query_timeout_secs(),
        );
        counted.map_err(|e| self.fail(e))
    }

    pub(super) fn commit(mut self) -> Result<(), DatalakeError> {
        if !self.open {
            return Err(self.error("the transaction was already rolled back".into()));
        }
        match self.conn.commit() {
            Ok(()) => {
                self.open = false;
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl Drop for OdbcWriter {
    fn drop(&mut self) {
        self.rollback();
    }
}

fn odbc_timestamp(ts: jiff::Timestamp) -> odbc_api::sys::Timestamp {
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    odbc_api::sys::Timestamp {
        year: dt.year(),
        month: dt.month() as u16,
        day: dt.day() as u16,
        hour: dt.hour() as u16,
        minute: dt.minute() as u16,
        second: dt.second() as u16,
        // Milliseconds only: drivers reject fractions finer than the declared precision.
        fraction: (dt.subsec_nanosecond() / 1_000_000 * 1_000_000) as u32,
    }
}

/// Shortest text that reads back as the same f64 (PostgreSQL spells the non-finite ones).
fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        format!("{v:?}")
    }
}

/// A PostgreSQL array literal: `{"a","b"}` (quoted elements escape `"` and `\`).
fn array_literal<S: AsRef<str>>(items: impl Iterator<Item = S>, quoted: bool) -> String {
    let mut out = String::from("{");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let item = item.as_ref();
        if quoted {
            out.push('"');
            for c in item.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(item);
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_escape_quotes_and_backslashes() {
        assert_eq!(
            array_literal(["a", "b\"c", "d\\e"].iter(), true),
            r#"{"a","b\"c","d\\e"}"#
        );
        assert_eq!(array_literal(["1", "2"].iter(), false), "{1,2}");
    }

    #[test]
    fn floats_round_trip_as_text() {
        for v in [0.1, 1.0 / 3.0, 1e300, -2.5e-310] {
            assert_eq!(float_text(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn timestamps_keep_milliseconds() {
        let ts: jiff::Timestamp = "2026-11-23T12:34:56.789123Z".parse().unwrap();
        let t = odbc_timestamp(ts);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.second),
            (2026, 11, 23, 12, 56)
        );
        assert_eq!(t.fraction, 789_000_000);
        assert_eq!(timestamp_text(ts), "2026-11-23 12:34:56.789");
    }
}
