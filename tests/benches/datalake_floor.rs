//! The datalake floor: bare bulk read of N rows × 8 f64 features and bare
//! bulk write of N result rows, per backend, in rows/s. A dispatch is
//! compared against these numbers (it cannot be faster than its I/O).
//!
//! `cargo bench -p mld-tests --bench datalake_floor`
//! Rows: `MLD_BENCH_ROWS=100000,1000000` (the default). PostgreSQL runs on a
//! server the harness starts, like the tests.

use std::time::Instant;

use mld::datalake::{Datalake, ResultRow};
use mld_shared::config::ResultColumns;
use mld_shared::ids::DispatchId;
use mld_tests::lake::{Backend, TestLake};

const FEATURES: usize = 8;
const BATCH: usize = 10_000;

fn seed_sql(backend: Backend, n: usize) -> String {
    let cols: Vec<String> = (0..FEATURES)
        .map(|j| format!("i * 0.001 + {j}.125"))
        .collect();
    match backend {
        Backend::PostgresOdbc => format!(
            "INSERT INTO rows_in SELECT i, {} FROM generate_series(0, {}) AS g(i)",
            cols.join(", "),
            n - 1
        ),
        _ => format!(
            // INSERT first: the SQLite ODBC driver runs a statement starting with WITH lazily, as a query.
            "INSERT INTO rows_in WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {}) \
             SELECT i, {} FROM c",
            n - 1,
            cols.join(", ")
        ),
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn bench_read(lake: &Datalake, n: usize) -> f64 {
    let features: Vec<String> = (0..FEATURES).map(|j| format!("f{j}")).collect();
    let start = Instant::now();
    let mut rows = 0;
    let mut checksum = 0.0;
    for batch in lake
        .read(
            "SELECT id, f0, f1, f2, f3, f4, f5, f6, f7 FROM rows_in",
            "id",
            &features,
            BATCH,
        )
        .unwrap()
    {
        let batch = batch.unwrap();
        rows += batch.keys.len();
        checksum += batch.features[[0, 0]];
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(rows, n);
    std::hint::black_box(checksum);
    secs
}

fn bench_write(lake: &Datalake, n: usize, dispatch: i64) -> f64 {
    let at = jiff::Timestamp::now();
    let start = Instant::now();
    let mut w = lake
        .begin_results("results", &ResultColumns::default(), DispatchId(dispatch))
        .unwrap();
    let mut done = 0;
    while done < n {
        let end = (done + BATCH).min(n);
        let rows: Vec<ResultRow> = (done..end)
            .map(|i| ResultRow {
                row_key: i.to_string(),
                prediction: ["setosa", "versicolor", "virginica"][i % 3].to_string(),
                score: (i % 1000) as f64 / 1000.0,
                model_version: "iris@3".to_string(),
                scored_at: at,
            })
            .collect();
        w.write_batch(&rows).unwrap();
        done = end;
    }
    assert_eq!(w.commit().unwrap(), n as u64);
    start.elapsed().as_secs_f64()
}

fn main() {
    let sizes: Vec<usize> = std::env::var("MLD_BENCH_ROWS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("MLD_BENCH_ROWS: comma-separated row counts")
        })
        .collect();
    println!(
        "{:<24} {:>9} {:>9} {:>12} {:>9} {:>12} {:>9}",
        "backend", "rows", "read s", "read rows/s", "write s", "write rows/s", "RSS MiB"
    );
    for &n in &sizes {
        for backend in [
            Backend::BuiltinSqlite,
            Backend::SqliteOdbc,
            Backend::PostgresOdbc,
        ] {
            let t = TestLake::new(backend, "bench");
            let lake = t.lake.clone().with_batch_size(BATCH);
            let cols: Vec<String> = (0..FEATURES)
                .map(|j| format!("f{j} DOUBLE PRECISION"))
                .collect();
            lake.execute(&format!(
                "CREATE TABLE rows_in (id BIGINT PRIMARY KEY, {})",
                cols.join(", ")
            ))
            .unwrap();
            lake.execute(&seed_sql(backend, n)).unwrap();
            lake.create_results_table("results", &ResultColumns::default())
                .unwrap();

            let read = bench_read(&lake, n);
            let rss = rss_mib();
            let write = bench_write(&lake, n, 1);
            let name = format!("{backend:?}");
            println!(
                "{name:<24} {n:>9} {read:>9.2} {:>12.0} {write:>9.2} {:>12.0} {rss:>9.0}",
                n as f64 / read,
                n as f64 / write
            );
            if backend == Backend::PostgresOdbc && n <= 100_000 {
                // The same write with plain ODBC parameter arrays, to justify `unnest`.
                let arrays = lake.clone().with_postgres_unnest(false);
                let write = bench_write(&arrays, n, 2);
                println!(
                    "{:<24} {n:>9} {:>9} {:>12} {write:>9.2} {:>12.0}",
                    "PostgresOdbc (arrays)",
                    "-",
                    "-",
                    n as f64 / write
                );
            }
        }
    }
}
