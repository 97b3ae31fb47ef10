//! mld against the best Python, side by side on the same rows and the same
//! model, in one run: N rows × 8 f64 features scored into a results table,
//! on every backend (SQLite through ODBC, PostgreSQL, MariaDB, the built-in
//! SQLite datalake — which Python reaches through SQLite ODBC).
//!
//! - mld: the same scikit-learn pipeline (MinMaxScaler + LogisticRegression)
//!   exported with skl2onnx and imported into the registry, run by the real
//!   dispatch pipeline (`pipeline::execute`, with its event log).
//! - The tuned Python pipeline, tests/benches/python/tuned_pipeline.py:
//!   arrow-odbc batched reads, vectorised scikit-learn `predict_proba`, an
//!   arrow-odbc bulk insert in one transaction that first deletes the
//!   dispatch's rows; streaming (read and write overlap) and sequential.
//! - A plain Python dispatch, as such platforms are built today: pyodbc
//!   `fetchall`, a row loop, `executemany` (on PostgreSQL unless
//!   `MLD_BENCH_PLAIN` names other backends, or `none`: it is slow).
//! - The floor, from the best independent tool for each step: a bare
//!   arrow-odbc read of the same rows and a bare arrow-odbc bulk insert of
//!   as many result rows, from Python; and mld's own bare read and write
//!   (`floor::read`/`floor::write`, no model, no event log). A dispatch that
//!   overlaps reading and writing can go below read + write, towards
//!   max(read, write).
//! - The database's own insert: `INSERT … SELECT` of the same rows inside
//!   the database, no client in between — what no client's write can beat.
//!
//! Each side runs in its own process; times exclude process start and
//! imports (the Python process's whole wall time is shown too), peak RSS is
//! each process's VmHWM. "faster by" = Python seconds / mld seconds.
//!
//! `cargo bench -p mld-tests --bench vs_python` (take `flock /work/bench.lock`)
//! - `MLD_BENCH_ROWS=1000000` (default): sizes.
//! - `MLD_BENCH_BACKENDS=sqlite_odbc,postgres,mariadb,builtin_sqlite` (default).
//! - `MLD_BENCH_PLAIN=postgres` (default): backends that run the plain dispatch.
//!
//! Needs python3 with scikit-learn, skl2onnx, onnxruntime, arrow-odbc, pyodbc.

use mld::datalake::Datalake;
use mld_shared::config::ResultColumns;
use mld_tests::bench::{
    self, lake_from_env, python_model, python_plain, python_read, python_score, python_write,
};
use mld_tests::floor::{self, memory_mib, sizes};
use mld_tests::lake::{Backend, SQLITE_ODBC_DRIVER, TestLake};
use mld_tests::scoring::count_rows;

const BATCH: usize = 10_000;
const MODEL: &str = "tuned";

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// mld's own bare read and write, in a child: `RESULT read write rss`.
fn child_floor(n: usize) {
    let lake = lake_from_env(BATCH);
    let read = floor::read(&lake, n, BATCH);
    let write = floor::write(&lake, "results_floor", n, 1, BATCH);
    println!("RESULT {read} {write} {}", memory_mib("VmHWM"));
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::BuiltinSqlite => "builtin_sqlite",
        Backend::SqliteOdbc => "sqlite_odbc",
        Backend::PostgresOdbc => "postgres",
        Backend::MariaDbOdbc => "mariadb",
    }
}

/// The datalake, what mld's children reach it by, and Python's ODBC connection.
struct Lake {
    lake: Datalake,
    /// `sqlite:PATH` or `odbc:CONNECTION`.
    spec: String,
    connection: String,
    password: Option<String>,
    _hold: (Option<TestLake>, Option<tempfile::TempDir>),
}

fn lake(backend: Backend) -> Lake {
    if backend == Backend::BuiltinSqlite {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lake.db");
        let lake = Datalake::sqlite("lake", &path);
        lake.execute("PRAGMA journal_mode=WAL").unwrap();
        return Lake {
            lake,
            spec: format!("sqlite:{}", path.display()),
            connection: format!(
                "Driver={{{SQLITE_ODBC_DRIVER}}};Database={};",
                path.display()
            ),
            password: None,
            _hold: (None, Some(dir)),
        };
    }
    let t = TestLake::new(backend, "vs_python");
    let connection = t.connection.clone().expect("an ODBC backend");
    let password = match backend {
        Backend::PostgresOdbc | Backend::MariaDbOdbc => t.secret.clone(),
        _ => None,
    };
    Lake {
        lake: t.lake.clone(),
        spec: format!("odbc:{connection}"),
        connection,
        password,
        _hold: (Some(t), None),
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
    let backends = bench::backends(&[
        Backend::SqliteOdbc,
        Backend::PostgresOdbc,
        Backend::MariaDbOdbc,
        Backend::BuiltinSqlite,
    ]);
    let plain_on = std::env::var("MLD_BENCH_PLAIN").unwrap_or_else(|_| "postgres".into());
    let models = tempfile::tempdir().unwrap();
    let registry = models.path().join("registry");
    python_model(models.path(), &registry, MODEL);

    println!("load average at start: {}", uptime());
    for n in sizes("MLD_BENCH_ROWS", "1000000") {
        for &backend in &backends {
            let l = lake(backend);
            floor::create_input(&l.lake, backend, n);
            for table in [
                "results",
                "results_py",
                "results_db",
                "results_floor",
                "results_pyfloor",
                "results_plain",
            ] {
                l.lake
                    .create_results_table(table, &ResultColumns::default())
                    .unwrap();
            }
            let (connection, password) = (l.connection.as_str(), l.password.as_deref());
            let child = |mode: &str| {
                let state = tempfile::tempdir().unwrap();
                let mut env = vec![
                    ("MLD_CHILD_ROWS", n.to_string()),
                    ("MLD_CHILD_LAKE", l.spec.clone()),
                    ("MLD_CHILD_STATE", state.path().display().to_string()),
                    ("MLD_CHILD_REGISTRY", registry.display().to_string()),
                    ("MLD_CHILD_MODEL", MODEL.to_string()),
                ];
                if let Some(pw) = password {
                    env.push(("MLD_CHILD_PASSWORD", pw.to_string()));
                }
                bench::child(mode, &env)
            };
            let load_before = uptime();
            let mld = child("dispatch");
            let py = python_score(
                models.path(),
                connection,
                password,
                "results_py",
                BATCH,
                false,
            );
            assert_eq!(py.rows, n as u64);
            let seq = python_score(
                models.path(),
                connection,
                password,
                "results_py",
                BATCH,
                true,
            );
            let py_read = python_read(connection, password, BATCH);
            assert_eq!(py_read.rows, n as u64);
            let py_write = python_write(connection, password, "results_pyfloor", n, BATCH);
            let rust_floor = child("floor");
            let plain = (plain_on == "all"
                || plain_on.split(',').any(|b| b == backend_name(backend)))
            .then(|| python_plain(models.path(), connection, password, "results_plain"));
            for table in ["results_py", "results", "results_pyfloor", "results_floor"] {
                assert_eq!(count_rows(&l.lake, table), n, "{table}");
            }
            let db = floor::write_in_database(&l.lake, backend, "results_db");
            assert_eq!(count_rows(&l.lake, "results_db"), n);

            let t = mld[0];
            let (ar, aw) = (py_read.seconds, py_write.seconds);
            println!(
                "{backend:?}, {n} rows (load before {load_before}, after {})",
                uptime()
            );
            println!(
                "  mld dispatch          {t:>7.2} s  until stored {:.2}, then commit {:.2}; peak RSS {:.0} MiB",
                mld[1], mld[2], mld[3]
            );
            println!(
                "  python tuned stream   {:>7.2} s  fetch wait {:.2}, predict {:.2}, write {:.2}; peak RSS {:.0} MiB; \
                 process wall {:.1} s; mld {:.2}x faster",
                py.seconds,
                py.fetch_s,
                py.predict_s,
                py.write_s,
                py.peak_rss_mib,
                py.wall_s,
                py.seconds / t
            );
            println!(
                "  python tuned seq.     {:>7.2} s  fetch {:.2}, predict {:.2}, write {:.2}; peak RSS {:.0} MiB; mld {:.2}x faster",
                seq.seconds,
                seq.fetch_s,
                seq.predict_s,
                seq.write_s,
                seq.peak_rss_mib,
                seq.seconds / t
            );
            if let Some(p) = &plain {
                println!(
                    "  python plain          {:>7.2} s  fetchall {:.2}, predict+loop {:.2}, executemany {:.2}; peak RSS {:.0} MiB; mld {:.2}x faster",
                    p.seconds,
                    p.fetch_s,
                    p.predict_s,
                    p.write_s,
                    p.peak_rss_mib,
                    p.seconds / t
                );
            }
            println!(
                "  floor, arrow-odbc     read {ar:.2} s, write {aw:.2} s: mld / max = {:.2}x, mld / sum = {:.2}x",
                t / ar.max(aw),
                t / (ar + aw)
            );
            println!(
                "  floor, mld's own      read {:.2} s, write {:.2} s: mld / max = {:.2}x, mld / sum = {:.2}x",
                rust_floor[0],
                rust_floor[1],
                t / rust_floor[0].max(rust_floor[1]),
                t / (rust_floor[0] + rust_floor[1])
            );
            println!(
                "  database's own insert {db:>7.2} s  INSERT … SELECT of the same rows: the floor of any write"
            );
        }
    }
    println!("load average at end: {}", uptime());
}
