//! The datalake: where a job's rows come from and its results go. Owns the
//! two backends (any ODBC driver, or a built-in SQLite file), streaming reads
//! in batches matched by name to a model's features (each read as the
//! model declares it: a number, or text), transactional idempotent
//! write-back, and the health probe. Receives a [`DatalakeConfig`], a job's
//! query/key/feature names and types and result rows; emits [`Batch`]es
//! (keys, a dense f64 matrix, text columns, unscorable rows), written row
//! counts and [`ProbeReport`]s. Synchronous: call it from blocking
//! threads, never from the async runtime.
//!
//! Use: [`Datalake::from_config`] once per config; per dispatch
//! [`Datalake::read`] → iterate [`BatchReader::next_batch`]; then
//! [`Datalake::begin_results`] → [`ResultWriter::write_batch`]… →
//! [`ResultWriter::commit`] (dropping the writer rolls back).

mod connstr;
mod dialect;
mod odbc;
pub mod shard;
mod sqlite;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mld_shared::config::{DatalakeConfig, DatalakeKind, ResultColumns, is_sql_identifier};
use mld_shared::ids::DispatchId;
use ndarray::Array2;

use crate::model::{FeatureKind, TextColumn, TextColumns};

pub use connstr::{DriverFamily, OdbcTarget};
use dialect::ResultSql;
pub use dialect::{BulkInsert, Dialect, SQLITE_ROWS_PER_INSERT};
pub use shard::{KeyRange, ShardKey};

/// Errors of the datalake. Every message is scrubbed of passwords.
#[derive(Debug, thiserror::Error)]
pub enum DatalakeError {
    #[error("datalake {datalake}: invalid configuration: {what}")]
    Config { datalake: String, what: String },
    #[error("datalake {datalake}: {what} {name:?} is not a valid SQL identifier")]
    InvalidIdentifier {
        datalake: String,
        what: &'static str,
        name: String,
    },
    #[error("datalake {datalake}: cannot connect: {message}")]
    Connect { datalake: String, message: String },
    #[error("datalake {datalake}: query failed: {message}")]
    Query { datalake: String, message: String },
    #[error(
        "datalake {datalake}: the query returns no column named {} (it returns {})",
        missing.join(", "),
        found.join(", ")
    )]
    MissingColumns {
        datalake: String,
        /// The key column and/or model features the query lacks.
        missing: Vec<String>,
        found: Vec<String>,
    },
    #[error("datalake {datalake}: reading rows failed: {message}")]
    Read { datalake: String, message: String },
    #[error("datalake {datalake}: {message}")]
    Shard { datalake: String, message: String },
    #[error("datalake {datalake}: writing results to {table} failed, rolled back: {message}")]
    Write {
        datalake: String,
        table: String,
        message: String,
    },
}

/// Rows read from the query: the scorable ones as a dense matrix (and text
/// columns), the others with their reason.
#[derive(Debug, Clone)]
pub struct Batch {
    /// One per matrix row, in the same order.
    pub keys: Vec<String>,
    /// Row-major, one column per model feature in the model's order; a text
    /// feature's column holds zeros (its values are in `texts`).
    pub features: Array2<f64>,
    /// The text features' values, by feature index; NULL is `None`.
    pub texts: TextColumns,
    pub unscorable: Vec<Unscorable>,
}

impl Batch {
    /// Rows this batch consumed from the result set.
    pub fn rows_read(&self) -> usize {
        self.keys.len() + self.unscorable.len()
    }
}

/// A row that cannot be scored, e.g. a NULL or non-numeric feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unscorable {
    pub key: String,
    /// Names the column and what is wrong with it.
    pub reason: String,
}

/// One prediction to write back.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub row_key: String,
    /// A classifier's label (unused when `value` is set).
    pub prediction: String,
    /// A classifier's score (unused when `value` is set).
    pub score: f64,
    /// A regressor's prediction: written to the prediction column as a
    /// number, with the score column NULL. Every row of a write-back is one
    /// kind or the other.
    pub value: Option<f64>,
    pub model_version: String,
    pub scored_at: jiff::Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeStatus {
    Online,
    Error,
}

/// What the health probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub status: ProbeStatus,
    /// The driver's message when `Error` (scrubbed).
    pub message: Option<String>,
    pub latency: Duration,
}

/// A configured datalake. Cheap to clone; opens a connection per operation,
/// and asks each ODBC connection for its [`Dialect`] before building SQL.
#[derive(Debug, Clone)]
pub struct Datalake {
    name: String,
    backend: Backend,
    /// Validated, not quoted: quoting waits for the driver's dialect.
    probe_table: Option<String>,
    batch_size: usize,
    connect_timeout: Duration,
    query_timeout: Duration,
    /// Use PostgreSQL's `unnest` insert when the DBMS reports PostgreSQL.
    postgres_unnest: bool,
}

#[derive(Debug, Clone)]
enum Backend {
    Odbc(OdbcTarget),
    Sqlite(PathBuf),
}

impl Datalake {
    /// Resolves secrets (env vars, files) now, so a missing one is reported
    /// when the config is loaded rather than at 3 a.m.
    pub fn from_config(name: &str, cfg: &DatalakeConfig) -> Result<Self, DatalakeError> {
        let backend = match cfg.kind {
            DatalakeKind::Odbc => Backend::Odbc(connstr::from_config(name, cfg)?),
            DatalakeKind::Sqlite => {
                Backend::Sqlite(cfg.path.clone().ok_or_else(|| DatalakeError::Config {
                    datalake: name.to_string(),
                    what: "kind = \"sqlite\" needs a path".into(),
                })?)
            }
        };
        let lake = Datalake {
            name: name.to_string(),
            backend,
            probe_table: None,
            batch_size: cfg.batch_size.max(1) as usize,
            connect_timeout: cfg.connect_timeout.0,
            query_timeout: cfg.query_timeout.0,
            postgres_unnest: true,
        };
        match &cfg.probe_table {
            Some(t) => lake.with_probe_table(t),
            None => Ok(lake),
        }
    }

    /// An ODBC datalake from a connection string (and optional password), with default settings.
    pub fn odbc(
        name: &str,
        connection: &str,
        password: Option<&str>,
    ) -> Result<Self, DatalakeError> {
        Ok(Self::with_backend(
            name,
            Backend::Odbc(OdbcTarget::new(name, connection, password)?),
        ))
    }

    /// A built-in SQLite datalake on this file, with default settings.
    pub fn sqlite(name: &str, path: impl Into<PathBuf>) -> Self {
        Self::with_backend(name, Backend::Sqlite(path.into()))
    }

    fn with_backend(name: &str, backend: Backend) -> Self {
        Datalake {
            name: name.to_string(),
            backend,
            probe_table: None,
            batch_size: 10_000,
            connect_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(600),
            postgres_unnest: true,
        }
    }

    pub fn with_probe_table(mut self, table: &str) -> Result<Self, DatalakeError> {
        self.probe_table = Some(self.identifier(table, "probe table")?);
        Ok(self)
    }

    pub fn with_batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// When the DBMS reports PostgreSQL, write batches as arrays through
    /// `unnest` (default, 4.5x faster at 1M rows) or, when off, with ODBC parameter
    /// arrays like any other driver.
    pub fn with_postgres_unnest(mut self, on: bool) -> Self {
        self.postgres_unnest = on;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resolved connection string (password included) of an ODBC
    /// datalake: only for the spool's connection file a shard's worker reads.
    pub fn connection_for_worker(&self) -> Option<mld_shared::config::Secret> {
        match &self.backend {
            Backend::Odbc(t) => Some(t.resolved()),
            Backend::Sqlite(_) => None,
        }
    }

    /// The configured rows per round trip (a job may override it in [`Self::read`]).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Runs `query` and streams its rows in batches of `batch_size`, every
    /// feature a number. Checks that the key column and every feature are in
    /// the result (by name, case-insensitively) before returning, so a bad
    /// query fails before any row is scored.
    pub fn read(
        &self,
        query: &str,
        key_column: &str,
        features: &[String],
        batch_size: usize,
    ) -> Result<BatchReader, DatalakeError> {
        let kinds = vec![FeatureKind::Number; features.len()];
        self.read_typed(query, key_column, features, &kinds, batch_size)
    }

    /// Like [`Self::read`], each feature read as `kinds` says: a number
    /// (parsed from text if the column is text; NULL or not a number makes
    /// the row unscorable), or text (whatever the column's type, as the
    /// driver spells it; NULL is kept, for the model's encoder to judge).
    pub fn read_typed(
        &self,
        query: &str,
        key_column: &str,
        features: &[String],
        kinds: &[FeatureKind],
        batch_size: usize,
    ) -> Result<BatchReader, DatalakeError> {
        let kinds: Vec<FeatureKind> = (0..features.len())
            .map(|j| kinds.get(j).copied().unwrap_or_default())
            .collect();
        self.open_reader(query, key_column, features, Some(&kinds), batch_size)
    }

    /// Like [`Self::read`], each feature read as the database types its
    /// column: a numeric column as numbers, any other as text (training
    /// datasets, whose features have no model yet). [`BatchReader::kinds`]
    /// says which.
    pub fn read_database_typed(
        &self,
        query: &str,
        key_column: &str,
        features: &[String],
        batch_size: usize,
    ) -> Result<BatchReader, DatalakeError> {
        self.open_reader(query, key_column, features, None, batch_size)
    }

    fn open_reader(
        &self,
        query: &str,
        key_column: &str,
        features: &[String],
        kinds: Option<&[FeatureKind]>,
        batch_size: usize,
    ) -> Result<BatchReader, DatalakeError> {
        let batch_size = batch_size.max(1);
        let inner = match &self.backend {
            Backend::Odbc(t) => ReaderInner::Odbc(Box::new(odbc::OdbcReader::open(
                self, t, query, key_column, features, kinds, batch_size,
            )?)),
            Backend::Sqlite(p) => ReaderInner::Sqlite(sqlite::SqliteReader::open(
                self, p, query, key_column, features, kinds, batch_size,
            )?),
        };
        Ok(BatchReader {
            inner,
            rows_read: 0,
        })
    }

    /// Opens a transaction on the results table and deletes what an earlier
    /// attempt of this dispatch wrote, so a retry never duplicates rows.
    /// Nothing is visible to others until [`ResultWriter::commit`]. A
    /// missing table is an error (it is never created here).
    pub fn begin_results(
        &self,
        table: &str,
        columns: &ResultColumns,
        dispatch_id: DispatchId,
    ) -> Result<ResultWriter, DatalakeError> {
        self.begin_results_in(table, columns, dispatch_id, None)
    }

    /// [`Self::begin_results`] for one shard of a dispatch: the delete of an
    /// earlier attempt's rows and [`ResultWriter::count_rows`] cover only
    /// the rows of `range`, so a retried shard never duplicates rows and
    /// never touches another shard's.
    pub fn begin_results_in(
        &self,
        table: &str,
        columns: &ResultColumns,
        dispatch_id: DispatchId,
        range: Option<(&ShardKey, &KeyRange)>,
    ) -> Result<ResultWriter, DatalakeError> {
        let names = ResultNames::new(self, table, columns)?;
        if let Some((key, _)) = range {
            self.identifier(&key.key_column, "key column")?;
        }
        let scoped = |sql: ResultSql| match range {
            Some((key, r)) => sql.in_range(key, r, dispatch_id.0),
            None => sql,
        };
        let inner = match &self.backend {
            Backend::Odbc(t) => WriterInner::Odbc(odbc::OdbcWriter::begin(
                self,
                t,
                &names,
                dispatch_id,
                &scoped,
            )?),
            Backend::Sqlite(p) => WriterInner::Sqlite(sqlite::SqliteWriter::begin(
                self,
                p,
                scoped(names.sql(&Dialect::builtin_sqlite())),
                dispatch_id,
            )?),
        };
        Ok(ResultWriter { inner, written: 0 })
    }

    /// The smallest and largest value of the shard key over the query's
    /// rows (`None`: no rows). An error names the key when its values are
    /// not integers the splitter can range.
    pub fn key_bounds(
        &self,
        query: &str,
        key: &ShardKey,
    ) -> Result<Option<(i64, i64)>, DatalakeError> {
        self.identifier(&key.key_column, "key column")?;
        let sql = key.bounds_query(&self.dialect()?, query);
        let row = match &self.backend {
            Backend::Odbc(t) => odbc::first_row_text(self, t, &sql)?,
            Backend::Sqlite(p) => sqlite::first_row_text(self, p, &sql)?,
        };
        let (lo, hi) = match (
            row.first().cloned().flatten(),
            row.get(1).cloned().flatten(),
        ) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => return Ok(None),
        };
        match (shard::parse_bound(&lo), shard::parse_bound(&hi)) {
            (Some(l), Some(h)) => Ok(Some((l, h))),
            _ => Err(DatalakeError::Shard {
                datalake: self.name.clone(),
                message: format!(
                    "cannot split the rows by {}: its values run from {lo:?} to {hi:?}, not integers; \
                     shard by an integer key, or set the job's shard_by to an integer expression of {{key}}",
                    key.describe()
                ),
            }),
        }
    }

    /// [`Self::read`] of the query's rows whose shard key is in `range`.
    pub fn read_range(
        &self,
        query: &str,
        key: &ShardKey,
        range: &KeyRange,
        features: &[String],
        kinds: &[FeatureKind],
        batch_size: usize,
    ) -> Result<BatchReader, DatalakeError> {
        self.identifier(&key.key_column, "key column")?;
        let sql = key.range_query(&self.dialect()?, query, range);
        self.read_typed(&sql, &key.key_column, features, kinds, batch_size)
    }

    /// All of `rows` in one transaction, batch by batch: the convenience form
    /// of [`Self::begin_results`]. Returns the rows written.
    pub fn write_results(
        &self,
        table: &str,
        columns: &ResultColumns,
        dispatch_id: DispatchId,
        rows: &[ResultRow],
    ) -> Result<u64, DatalakeError> {
        let mut w = self.begin_results(table, columns, dispatch_id)?;
        for chunk in rows.chunks(self.batch_size) {
            w.write_batch(chunk)?;
        }
        w.commit()
    }

    /// How many rows of `dispatch_id` the results table holds (committed).
    /// How a dispatch interrupted during its write-back is settled: all there,
    /// or none.
    pub fn count_results(
        &self,
        table: &str,
        columns: &ResultColumns,
        dispatch_id: DispatchId,
    ) -> Result<u64, DatalakeError> {
        let names = ResultNames::new(self, table, columns)?;
        match &self.backend {
            Backend::Odbc(t) => odbc::count_results(self, t, &names, dispatch_id),
            Backend::Sqlite(p) => {
                sqlite::count_results(self, p, &names.sql(&Dialect::builtin_sqlite()), dispatch_id)
            }
        }
    }

    /// Connects and queries the probe table for no rows (or only connects
    /// when none is configured).
    pub fn probe(&self) -> ProbeReport {
        let start = std::time::Instant::now();
        let result = match &self.backend {
            Backend::Odbc(t) => odbc::probe(self, t, self.probe_table.as_deref()),
            Backend::Sqlite(p) => sqlite::probe(self, p, self.probe_table.as_deref()),
        };
        let latency = start.elapsed();
        match result {
            Ok(()) => ProbeReport {
                status: ProbeStatus::Online,
                message: None,
                latency,
            },
            Err(e) => ProbeReport {
                status: ProbeStatus::Error,
                message: Some(e.to_string()),
                latency,
            },
        }
    }

    /// Creates a results table with the columns `columns` names (and a primary
    /// key on dispatch id + row key). For tests and the demo: the daemon never
    /// creates tables.
    pub fn create_results_table(
        &self,
        table: &str,
        columns: &ResultColumns,
    ) -> Result<(), DatalakeError> {
        let names = ResultNames::new(self, table, columns)?;
        self.execute(&names.sql(&self.dialect()?).create())
    }

    /// What this datalake's driver reports about its SQL (connects once over ODBC).
    pub fn dialect(&self) -> Result<Dialect, DatalakeError> {
        match &self.backend {
            Backend::Odbc(t) => odbc::dialect(self, t),
            Backend::Sqlite(_) => Ok(Dialect::builtin_sqlite()),
        }
    }

    /// Runs SQL statements that return no rows, committed. For tests and the
    /// demo's seeding (a built-in SQLite file is created if missing). Over
    /// ODBC, `;`-separated statements run one by one (no `;` inside literals).
    pub fn execute(&self, sql: &str) -> Result<(), DatalakeError> {
        match &self.backend {
            Backend::Odbc(t) => odbc::execute(self, t, sql),
            Backend::Sqlite(p) => sqlite::execute(self, p, sql),
        }
    }

    /// Validates a (possibly schema-qualified) identifier from config, so
    /// config never injects SQL; the driver's dialect quotes it later.
    fn identifier(&self, name: &str, what: &'static str) -> Result<String, DatalakeError> {
        if !is_sql_identifier(name) {
            return Err(DatalakeError::InvalidIdentifier {
                datalake: self.name.clone(),
                what,
                name: name.to_string(),
            });
        }
        Ok(name.to_string())
    }

    fn login_timeout_secs(&self) -> u32 {
        self.connect_timeout.as_secs().clamp(1, u32::MAX as u64) as u32
    }

    fn query_timeout_secs(&self) -> usize {
        self.query_timeout.as_secs().max(1) as usize
    }

    fn query_error(&self, message: String) -> DatalakeError {
        DatalakeError::Query {
            datalake: self.name.clone(),
            message,
        }
    }

    fn read_error(&self, message: String) -> DatalakeError {
        DatalakeError::Read {
            datalake: self.name.clone(),
            message,
        }
    }
}

/// A results table's validated names, before a dialect quotes them.
#[derive(Debug, Clone)]
struct ResultNames {
    table: String,
    /// dispatch_id, row_key, prediction, score, model_version, scored_at.
    columns: [String; 6],
}

impl ResultNames {
    fn new(lake: &Datalake, table: &str, columns: &ResultColumns) -> Result<Self, DatalakeError> {
        let named = columns.named();
        let mut checked: [String; 6] = Default::default();
        for (c, (_, name)) in checked.iter_mut().zip(named.iter()) {
            *c = lake.identifier(name, "results column")?;
        }
        Ok(ResultNames {
            table: lake.identifier(table, "results table")?,
            columns: checked,
        })
    }

    fn sql(&self, dialect: &Dialect) -> ResultSql {
        ResultSql::new(dialect, &self.table, &self.columns)
    }
}

/// Streams a query's rows in [`Batch`]es. Dropping it stops the query.
pub struct BatchReader {
    inner: ReaderInner,
    rows_read: u64,
}

enum ReaderInner {
    Odbc(Box<odbc::OdbcReader>),
    Sqlite(sqlite::SqliteReader),
}

impl std::fmt::Debug for BatchReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.inner {
            ReaderInner::Odbc(_) => "odbc",
            ReaderInner::Sqlite(_) => "sqlite",
        };
        f.debug_struct("BatchReader")
            .field("backend", &kind)
            .field("rows_read", &self.rows_read)
            .finish()
    }
}

impl BatchReader {
    /// The next batch, or `None` when the result set is exhausted.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, DatalakeError> {
        let batch = match &mut self.inner {
            ReaderInner::Odbc(r) => r.next_batch()?,
            ReaderInner::Sqlite(r) => r.next_batch()?,
        };
        if let Some(b) = &batch {
            self.rows_read += b.rows_read() as u64;
        }
        Ok(batch)
    }

    /// Rows consumed so far (scorable and unscorable).
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// How each feature is read: as asked, or as the database types it.
    pub fn kinds(&self) -> &[FeatureKind] {
        match &self.inner {
            ReaderInner::Odbc(r) => r.kinds(),
            ReaderInner::Sqlite(r) => r.kinds(),
        }
    }
}

impl Iterator for BatchReader {
    type Item = Result<Batch, DatalakeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

/// An open results transaction. Dropping it without [`Self::commit`] rolls back.
pub struct ResultWriter {
    inner: WriterInner,
    written: u64,
}

enum WriterInner {
    Odbc(odbc::OdbcWriter),
    Sqlite(sqlite::SqliteWriter),
}

impl std::fmt::Debug for ResultWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.inner {
            WriterInner::Odbc(_) => "odbc",
            WriterInner::Sqlite(_) => "sqlite",
        };
        f.debug_struct("ResultWriter")
            .field("backend", &kind)
            .field("written", &self.written)
            .finish()
    }
}

impl ResultWriter {
    /// Inserts these rows (bulk, inside the transaction). On error the
    /// transaction is already rolled back.
    pub fn write_batch(&mut self, rows: &[ResultRow]) -> Result<(), DatalakeError> {
        if rows.is_empty() {
            return Ok(());
        }
        match &mut self.inner {
            WriterInner::Odbc(w) => w.write_batch(rows)?,
            WriterInner::Sqlite(w) => w.write_batch(rows)?,
        }
        self.written += rows.len() as u64;
        Ok(())
    }

    /// How many rows of this dispatch the results table holds inside the
    /// transaction: what a commit would make visible. The rows the database
    /// reported each insert added (SQLite, PostgreSQL's `unnest`), or a
    /// `COUNT` in the transaction where a driver's report for parameter
    /// arrays cannot be trusted. On error the transaction is already rolled
    /// back.
    pub fn count_rows(&mut self) -> Result<u64, DatalakeError> {
        match &mut self.inner {
            WriterInner::Odbc(w) => w.count(),
            WriterInner::Sqlite(w) => w.count(),
        }
    }

    /// Whether the datalake can be read (by another connection) while this
    /// transaction writes, so a dispatch may write back as it reads: `None`
    /// when it can (every server DBMS, a SQLite file in WAL mode), else why
    /// not (a SQLite file in a rollback-journal mode, where this transaction
    /// could not commit, nor spill its cache, while a reader is open).
    pub fn concurrent_reads(&mut self) -> Result<Option<String>, DatalakeError> {
        let mode = match &mut self.inner {
            WriterInner::Odbc(w) => w.sqlite_journal_mode()?,
            WriterInner::Sqlite(w) => Some(w.journal_mode()?),
        };
        Ok(match mode {
            Some(m) if !m.eq_ignore_ascii_case("wal") => Some(format!(
                "written back after every row was read: the SQLite datalake is in {m} journal mode, \
                 where a write transaction cannot commit while a reader is open \
                 (in WAL mode, PRAGMA journal_mode=WAL, it is written while it is read)"
            )),
            _ => None,
        })
    }

    /// Makes the rows visible; returns how many were written.
    pub fn commit(self) -> Result<u64, DatalakeError> {
        let written = self.written;
        match self.inner {
            WriterInner::Odbc(w) => w.commit()?,
            WriterInner::Sqlite(w) => w.commit()?,
        }
        Ok(written)
    }

    /// Discards everything this writer did.
    pub fn rollback(self) {
        drop(self)
    }

    pub fn written(&self) -> u64 {
        self.written
    }
}

/// Where each model feature and the key come from in a result set.
#[derive(Debug, Clone)]
struct ColumnPlan {
    /// 0-based index of the key column.
    key: usize,
    /// 0-based result column per model feature, in the model's order.
    features: Vec<usize>,
    /// The result set's column names (for messages).
    names: Vec<String>,
}

impl ColumnPlan {
    fn new(
        lake: &Datalake,
        names: Vec<String>,
        key: &str,
        features: &[String],
    ) -> Result<Self, DatalakeError> {
        let find = |want: &str| names.iter().position(|n| n.eq_ignore_ascii_case(want));
        let mut missing = Vec::new();
        let key_idx = find(key);
        if key_idx.is_none() {
            missing.push(key.to_string());
        }
        let mut feats = Vec::with_capacity(features.len());
        for f in features {
            match find(f) {
                Some(i) => feats.push(i),
                None => missing.push(f.clone()),
            }
        }
        match key_idx {
            Some(key) if missing.is_empty() => Ok(ColumnPlan {
                key,
                features: feats,
                names,
            }),
            _ => Err(DatalakeError::MissingColumns {
                datalake: lake.name.clone(),
                missing,
                found: names,
            }),
        }
    }

    fn feature_name(&self, j: usize) -> &str {
        &self.names[self.features[j]]
    }
}

/// Parses a text feature value the way users expect ("  1.5 " is 1.5).
fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let v: f64 = t.parse().ok()?;
    // "NaN"/"inf" parse in Rust but are not numbers a model can use.
    v.is_finite().then_some(v)
}

/// Builds a [`Batch`] row by row: a row's numbers go to `data` (a text
/// feature's slot holds 0), its text to `texts`; then the row is accepted
/// (its key pushed) or rejected (its partial values dropped).
struct BatchBuilder {
    keys: Vec<String>,
    data: Vec<f64>,
    texts: TextColumns,
    unscorable: Vec<Unscorable>,
    width: usize,
}

impl BatchBuilder {
    fn new(capacity: usize, kinds: &[FeatureKind]) -> Self {
        let mut texts = TextColumns::new();
        for (j, k) in kinds.iter().enumerate() {
            if *k == FeatureKind::Text {
                texts.insert(j, TextColumn::new());
            }
        }
        BatchBuilder {
            keys: Vec::with_capacity(capacity),
            data: Vec::with_capacity(capacity * kinds.len()),
            texts,
            unscorable: Vec::new(),
            width: kinds.len(),
        }
    }

    /// Text feature `j`'s value for the row being built.
    fn push_text(&mut self, j: usize, value: Option<&str>) {
        self.data.push(0.0);
        if let Some(t) = self.texts.get_mut(j) {
            t.push(value);
        }
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.unscorable.is_empty()
    }

    fn rows(&self) -> usize {
        self.keys.len() + self.unscorable.len()
    }

    /// Drops the partial row started at `data` length `mark` and records why.
    fn reject(&mut self, mark: usize, key: String, reason: String) {
        self.data.truncate(mark);
        let rows = self.keys.len();
        for (_, t) in self.texts.iter_mut() {
            t.truncate(rows);
        }
        self.unscorable.push(Unscorable { key, reason });
    }

    fn finish(self) -> Batch {
        let rows = self.keys.len();
        let features = Array2::from_shape_vec((rows, self.width), self.data)
            .expect("row-major data matches shape");
        Batch {
            keys: self.keys,
            features,
            texts: self.texts,
            unscorable: self.unscorable,
        }
    }
}

fn null_reason(column: &str) -> String {
    format!("column {column} is NULL")
}

fn not_numeric_reason(column: &str, text: &str) -> String {
    let mut shown: String = text.chars().take(40).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("column {column} is not a number: {shown:?}")
}

fn too_long_reason(column: &str, bytes: usize) -> String {
    format!("column {column} is longer than {bytes} bytes")
}

fn key_null_reason(column: &str) -> String {
    format!("key column {column} is NULL")
}

/// SQLite stores timestamps as text: the format SQLite ODBC writes too.
fn timestamp_text(ts: jiff::Timestamp) -> String {
    ts.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

/// Compile-time check: the daemon moves readers and writers between blocking threads.
#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<BatchReader>();
    is_send::<ResultWriter>();
    is_send::<Datalake>();
}

fn display_path(p: &Path) -> String {
    p.display().to_string()
}
