//! The datalake floor: bare bulk read of N rows × 8 f64 features and bare
//! bulk write of N result rows, per backend, in rows/s. A dispatch is
//! compared against these numbers (it cannot be faster than its I/O).
//!
//! `cargo bench -p mld-tests --bench datalake_floor`
//! Rows: `MLD_BENCH_ROWS=100000,1000000` (the default). PostgreSQL runs on a
//! server the harness starts, like the tests.

use mld_shared::config::ResultColumns;
use mld_tests::floor::{self, memory_mib, sizes};
use mld_tests::lake::{Backend, TestLake};

const BATCH: usize = 10_000;

fn main() {
    println!(
        "{:<24} {:>9} {:>9} {:>12} {:>9} {:>12} {:>9}",
        "backend", "rows", "read s", "read rows/s", "write s", "write rows/s", "RSS MiB"
    );
    for n in sizes("MLD_BENCH_ROWS", "100000,1000000") {
        for backend in [
            Backend::BuiltinSqlite,
            Backend::SqliteOdbc,
            Backend::PostgresOdbc,
        ] {
            let t = TestLake::new(backend, "bench");
            let lake = t.lake.clone().with_batch_size(BATCH);
            floor::create_input(&lake, backend, n);
            lake.create_results_table("results", &ResultColumns::default())
                .unwrap();

            let read = floor::read(&lake, n, BATCH);
            let rss = memory_mib("VmRSS");
            let write = floor::write(&lake, "results", n, 1, BATCH);
            let name = format!("{backend:?}");
            println!(
                "{name:<24} {n:>9} {read:>9.2} {:>12.0} {write:>9.2} {:>12.0} {rss:>9.0}",
                n as f64 / read,
                n as f64 / write
            );
            if backend == Backend::PostgresOdbc && n <= 100_000 {
                // The same write with plain ODBC parameter arrays, to justify `unnest`.
                let arrays = lake.clone().with_postgres_unnest(false);
                let write = floor::write(&arrays, "results", n, 2, BATCH);
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
