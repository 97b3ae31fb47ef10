//! The datalake floor the benchmarks measure against: an input table of N
//! rows × 8 f64 features, and a bare bulk read and bulk write of N rows
//! through the datalake layer, with no model and no event log.

use std::time::Instant;

use mld::datalake::{Datalake, ResultRow};
use mld_shared::config::ResultColumns;
use mld_shared::ids::DispatchId;

use crate::lake::Backend;

pub const FEATURES: usize = 8;

/// `f0` … `f7`.
pub fn feature_names() -> Vec<String> {
    (0..FEATURES).map(|j| format!("f{j}")).collect()
}

/// The query that reads the input table, key first.
pub fn input_query() -> String {
    format!("SELECT id, {} FROM rows_in", feature_names().join(", "))
}

/// Creates `rows_in` with `n` rows, generated inside the database.
pub fn create_input(lake: &Datalake, backend: Backend, n: usize) {
    let cols: Vec<String> = feature_names()
        .iter()
        .map(|f| format!("{f} DOUBLE PRECISION"))
        .collect();
    lake.execute(&format!(
        "CREATE TABLE rows_in (id BIGINT PRIMARY KEY, {})",
        cols.join(", ")
    ))
    .unwrap();
    let values: Vec<String> = (0..FEATURES)
        .map(|j| format!("(i % 97) * 0.1 + {j}.125"))
        .collect();
    crate::lake::insert_generated(
        lake,
        backend,
        "rows_in",
        0,
        n - 1,
        &format!("i, {}", values.join(", ")),
    );
}

/// The mixed-type input's columns: three numbers, then two text columns.
pub fn mixed_features() -> Vec<String> {
    ["tenure", "spend", "visits", "plan", "country"]
        .map(String::from)
        .to_vec()
}

/// The query that reads the mixed-type input table, key first.
pub fn mixed_query() -> String {
    format!(
        "SELECT id, {} FROM customers_in",
        mixed_features().join(", ")
    )
}

/// Creates `customers_in` with `n` rows of three numbers and two text
/// columns (`plan`: 4 categories, `country`: 8), generated inside the
/// database; rows like tuned_pipeline.py's `train-mixed`.
pub fn create_mixed_input(lake: &Datalake, backend: Backend, n: usize) {
    lake.execute(
        "CREATE TABLE customers_in (id BIGINT PRIMARY KEY, tenure DOUBLE PRECISION, \
         spend DOUBLE PRECISION, visits DOUBLE PRECISION, plan VARCHAR(20), country VARCHAR(20))",
    )
    .unwrap();
    let case = |modulo: usize, values: &[&str]| {
        let arms: String = values
            .iter()
            .enumerate()
            .map(|(k, v)| format!(" WHEN {k} THEN '{v}'"))
            .collect();
        format!("CASE i % {modulo}{arms} END")
    };
    let values = format!(
        "i, (i % 61) * 1.0, (i % 997) * 0.25, (i % 17) * 1.0, {}, {}",
        case(4, &["basic", "plus", "pro", "team"]),
        case(8, &["de", "fr", "it", "es", "nl", "pl", "se", "pt"])
    );
    crate::lake::insert_generated(lake, backend, "customers_in", 0, n - 1, &values);
}

/// Reads all `n` input rows in batches of `batch`; seconds taken.
pub fn read(lake: &Datalake, n: usize, batch: usize) -> f64 {
    let features = feature_names();
    let start = Instant::now();
    let mut rows = 0;
    let mut checksum = 0.0;
    for b in lake.read(&input_query(), "id", &features, batch).unwrap() {
        let b = b.unwrap();
        rows += b.keys.len();
        checksum += b.features[[0, 0]];
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    assert_eq!(rows, n);
    secs
}

/// Writes `n` result rows into `table` (which exists) in batches of `batch`,
/// in one transaction; seconds taken, commit included.
pub fn write(lake: &Datalake, table: &str, n: usize, dispatch: i64, batch: usize) -> f64 {
    let at = jiff::Timestamp::now();
    let start = Instant::now();
    let mut w = lake
        .begin_results(table, &ResultColumns::default(), DispatchId(dispatch))
        .unwrap();
    let mut done = 0;
    while done < n {
        let end = (done + batch).min(n);
        let rows: Vec<ResultRow> = (done..end)
            .map(|i| ResultRow {
                row_key: i.to_string(),
                prediction: ["high", "low"][i % 2].to_string(),
                score: (i % 1000) as f64 / 1000.0,
                value: None,
                model_version: "1".to_string(),
                scored_at: at,
            })
            .collect();
        w.write_batch(&rows).unwrap();
        done = end;
    }
    assert_eq!(w.commit().unwrap(), n as u64);
    start.elapsed().as_secs_f64()
}

/// The database writing one result row per row of `rows_in` into `table`
/// by itself (`INSERT … SELECT`, no client in between); seconds taken. No
/// client writes the same rows faster: the server's own write floor.
pub fn write_in_database(lake: &Datalake, backend: Backend, table: &str) -> f64 {
    let (key, stamp) = match backend {
        Backend::MariaDbOdbc => ("CAST(id AS CHAR)", "TIMESTAMP '2026-11-23 02:00:00.250'"),
        Backend::PostgresOdbc => ("CAST(id AS TEXT)", "TIMESTAMP '2026-11-23 02:00:00.250'"),
        Backend::BuiltinSqlite | Backend::SqliteOdbc => {
            ("CAST(id AS TEXT)", "'2026-11-23 02:00:00.250'")
        }
    };
    let sql = format!(
        "INSERT INTO {table} (dispatch_id, row_key, prediction, score, model_version, scored_at) \
         SELECT 1, {key}, CASE WHEN id % 2 = 0 THEN 'high' ELSE 'low' END, (id % 1000) / 1000.0, \
         '1', {stamp} FROM rows_in"
    );
    let start = Instant::now();
    lake.execute(&sql).unwrap();
    start.elapsed().as_secs_f64()
}

/// A memory figure of this process from `/proc/self/status`, in MiB:
/// `"VmRSS"` (now) or `"VmHWM"` (peak).
pub fn memory_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// Row counts from a comma-separated environment variable, else `default`.
pub fn sizes(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{var}: comma-separated row counts"))
        })
        .collect()
}
