//! The datalake floor: bare bulk read of N rows × 8 f64 features and bare
//! bulk write of N result rows, per backend, in rows/s. A dispatch is
//! compared against these numbers (it cannot be faster than its I/O).
//!
//! `cargo bench -p mld-tests --bench datalake_floor`
//! Rows: `MLD_BENCH_ROWS=100000,1000000` (the default); backends:
//! `MLD_BENCH_BACKENDS=builtin_sqlite,sqlite_odbc,postgres,mariadb` (the
//! default). PostgreSQL and MariaDB run on servers the harness starts, like
//! the tests. On PostgreSQL the write is measured twice: with the `unnest`
//! insert mld picks for it and with the generic parameter arrays.

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
        for backend in mld_tests::bench::backends(&[
            Backend::BuiltinSqlite,
            Backend::SqliteOdbc,
            Backend::PostgresOdbc,
            Backend::MariaDbOdbc,
        ]) {
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
            if backend == Backend::PostgresOdbc {
                // The same write with plain ODBC parameter arrays, to justify `unnest`.
                let arrays = lake.clone().with_postgres_unnest(false);
                let generic = floor::write(&arrays, "results", n, 2, BATCH);
                println!(
                    "{:<24} {n:>9} {:>9} {:>12} {generic:>9.2} {:>12.0}   (unnest {:.1}x faster)",
                    "PostgresOdbc (arrays)",
                    "-",
                    "-",
                    n as f64 / generic,
                    generic / write
                );
            }
        }
    }
}
