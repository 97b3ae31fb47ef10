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
    let seed = match backend {
        Backend::PostgresOdbc => format!(
            "INSERT INTO rows_in SELECT i, {} FROM generate_series(0, {}) AS g(i)",
            values.join(", "),
            n - 1
        ),
        // INSERT first: the SQLite ODBC driver runs a statement starting with WITH lazily, as a query.
        _ => format!(
            "INSERT INTO rows_in WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {}) \
             SELECT i, {} FROM c",
            n - 1,
            values.join(", ")
        ),
    };
    lake.execute(&seed).unwrap();
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
