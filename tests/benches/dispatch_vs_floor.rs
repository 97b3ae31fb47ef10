//! A full dispatch against its floor, side by side on the same rows:
//! the floor is a bare bulk read of N rows × 8 f64 features plus a bare bulk
//! write of N result rows (no model, no event log); the dispatch is the
//! real pipeline (`mld::dispatch::pipeline::execute`: read, predict, store
//! in the event log, read back, write back in one transaction, every event).
//! Reported as a ratio, with each side's peak RSS (VmHWM), measured in a
//! child process per run so the peaks do not mix.
//!
//! `cargo bench -p mld-tests --bench dispatch_vs_floor`
//! - `MLD_BENCH_ROWS=100000,1000000` (default): sizes for SQLite through ODBC,
//!   PostgreSQL through psqlODBC and MariaDB through MariaDB Connector/ODBC.
//! - `MLD_BENCH_BACKENDS=sqlite_odbc,postgres,mariadb` (default): which of them.
//! - `MLD_BENCH_FLAT=1000000,10000000` (default; empty to skip): dispatch
//!   sizes on the built-in SQLite datalake, to show memory stays flat.

use std::path::Path;
use std::time::Instant;

use mld::datalake::Datalake;
use mld_shared::config::ResultColumns;
use mld_tests::bench::{self, lake_from_env};
use mld_tests::floor::{self, FEATURES, memory_mib, sizes};
use mld_tests::lake::{Backend, TestLake};

const BATCH: usize = 10_000;
const MODEL: &str = "synth";

fn child_floor(n: usize) {
    let lake = lake_from_env(BATCH);
    let read = floor::read(&lake, n, BATCH);
    let write = floor::write(&lake, "results_floor", n, 1, BATCH);
    println!("RESULT {read} {write} {}", memory_mib("VmHWM"));
}

/// One side in a child process; returns the numbers it printed.
fn child(mode: &str, n: usize, lake: &str, password: Option<&str>, registry: &Path) -> Vec<f64> {
    let state = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("MLD_CHILD_ROWS", n.to_string()),
        ("MLD_CHILD_LAKE", lake.to_string()),
        ("MLD_CHILD_STATE", state.path().display().to_string()),
        ("MLD_CHILD_REGISTRY", registry.display().to_string()),
        ("MLD_CHILD_MODEL", MODEL.to_string()),
    ];
    if let Some(pw) = password {
        env.push(("MLD_CHILD_PASSWORD", pw.to_string()));
    }
    bench::child(mode, &env)
}

fn prepare(lake: &Datalake, backend: Backend, n: usize) {
    floor::create_input(lake, backend, n);
    for t in ["results", "results_floor"] {
        lake.create_results_table(t, &ResultColumns::default())
            .unwrap();
    }
}

fn main() {
    if bench::is_child() {
        match std::env::var("MLD_CHILD_MODE").unwrap().as_str() {
            "floor" => child_floor(std::env::var("MLD_CHILD_ROWS").unwrap().parse().unwrap()),
            _ => bench::child_dispatch(BATCH),
        }
        return;
    }
    let registry = tempfile::tempdir().unwrap();
    mld_tests::scoring::synthetic_model(registry.path(), MODEL, FEATURES);

    println!(
        "{:<14} {:>8} {:>7} {:>7} {:>7} {:>8} {:>7} {:>9} {:>9} {:>8} {:>8}",
        "backend",
        "rows",
        "read s",
        "write s",
        "floor s",
        "dispatch",
        "ratio",
        "collect s",
        "insert s",
        "RSS flr",
        "RSS disp"
    );
    for n in sizes("MLD_BENCH_ROWS", "100000,1000000") {
        for backend in bench::backends(&[
            Backend::SqliteOdbc,
            Backend::PostgresOdbc,
            Backend::MariaDbOdbc,
        ]) {
            let t = TestLake::new(backend, "bench");
            prepare(&t.lake, backend, n);
            let spec = format!("odbc:{}", t.connection.clone().unwrap());
            let pw = match backend {
                Backend::PostgresOdbc | Backend::MariaDbOdbc => t.secret.as_deref(),
                _ => None,
            };
            let floor = child("floor", n, &spec, pw, registry.path());
            let disp = child("dispatch", n, &spec, pw, registry.path());
            let floor_total = floor[0] + floor[1];
            println!(
                "{:<14} {n:>8} {:>7.2} {:>7.2} {floor_total:>7.2} {:>8.2} {:>6.2}x {:>9.2} {:>9.2} {:>8.0} {:>8.0}",
                format!("{backend:?}"),
                floor[0],
                floor[1],
                disp[0],
                disp[0] / floor_total,
                disp[1],
                disp[2],
                floor[2],
                disp[3]
            );
        }
    }
    for n in sizes("MLD_BENCH_FLAT", "1000000,10000000") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lake.db");
        let lake = Datalake::sqlite("lake", &path);
        lake.execute("PRAGMA journal_mode=WAL").unwrap();
        prepare(&lake, Backend::BuiltinSqlite, n);
        let spec = format!("sqlite:{}", path.display());
        let start = Instant::now();
        let disp = child("dispatch", n, &spec, None, registry.path());
        println!(
            "{:<14} {n:>8} {:>7} {:>7} {:>7} {:>8.2} {:>7} {:>9.2} {:>9.2} {:>8} {:>8.0}   (wall incl. start {:.0}s)",
            "BuiltinSqlite",
            "-",
            "-",
            "-",
            disp[0],
            "-",
            disp[1],
            disp[2],
            "-",
            disp[3],
            start.elapsed().as_secs_f64()
        );
    }
}
