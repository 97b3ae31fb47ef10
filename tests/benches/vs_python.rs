//! mld against the tuned Python pipeline, side by side on the same rows and
//! the same model, in one run: N rows × 8 f64 features scored into a
//! results table, on each ODBC backend.
//!
//! - Python: tests/benches/python/tuned_pipeline.py — arrow-odbc batched
//!   reads, vectorised scikit-learn `predict_proba` (MinMaxScaler +
//!   LogisticRegression), an arrow-odbc bulk insert in one transaction that
//!   first deletes the dispatch's rows; streaming (read and write overlap)
//!   and sequential (read all, predict, write).
//! - mld: the same scikit-learn pipeline exported with skl2onnx and imported
//!   into the registry, run by the real dispatch pipeline
//!   (`pipeline::execute`, with its event log).
//! - The database's own insert: `INSERT … SELECT` of the same rows inside
//!   the database, no client in between — what no client's write can beat,
//!   which bounds how much faster than Python any client can be.
//!
//! Each side runs in its own process; times exclude process start and
//! imports (the Python process's whole wall time is shown too), peak RSS is
//! each process's VmHWM. Ratio = Python seconds / mld seconds.
//!
//! `cargo bench -p mld-tests --bench vs_python`
//! - `MLD_BENCH_ROWS=1000000` (default): sizes.
//! - `MLD_BENCH_BACKENDS=sqlite_odbc,postgres,mariadb` (default): backends.
//!
//! Needs python3 with scikit-learn, skl2onnx, onnxruntime and arrow-odbc.

use mld_shared::config::ResultColumns;
use mld_tests::bench::{self, python_model, python_score};
use mld_tests::floor::{self, sizes};
use mld_tests::lake::{Backend, TestLake};
use mld_tests::scoring::count_rows;

const BATCH: usize = 10_000;
const MODEL: &str = "tuned";

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    if bench::is_child() {
        bench::child_dispatch(BATCH);
        return;
    }
    let backends = bench::backends(&[
        Backend::SqliteOdbc,
        Backend::PostgresOdbc,
        Backend::MariaDbOdbc,
    ]);
    let models = tempfile::tempdir().unwrap();
    let registry = models.path().join("registry");
    python_model(models.path(), &registry, MODEL);

    println!("load average at start: {}", uptime());
    for n in sizes("MLD_BENCH_ROWS", "1000000") {
        for &backend in &backends {
            let t = TestLake::new(backend, "vs_python");
            floor::create_input(&t.lake, backend, n);
            for table in ["results", "results_py", "results_db"] {
                t.lake
                    .create_results_table(table, &ResultColumns::default())
                    .unwrap();
            }
            let connection = t.connection.clone().expect("an ODBC backend");
            let password = match backend {
                Backend::PostgresOdbc | Backend::MariaDbOdbc => t.secret.clone(),
                _ => None,
            };

            let state = tempfile::tempdir().unwrap();
            let mut env = vec![
                ("MLD_CHILD_ROWS", n.to_string()),
                ("MLD_CHILD_LAKE", format!("odbc:{connection}")),
                ("MLD_CHILD_STATE", state.path().display().to_string()),
                ("MLD_CHILD_REGISTRY", registry.display().to_string()),
                ("MLD_CHILD_MODEL", MODEL.to_string()),
            ];
            if let Some(pw) = &password {
                env.push(("MLD_CHILD_PASSWORD", pw.clone()));
            }
            let mld = bench::child("dispatch", &env);

            let py = python_score(
                models.path(),
                &connection,
                password.as_deref(),
                "results_py",
                BATCH,
                false,
            );
            assert_eq!(py.rows, n as u64);
            let seq = python_score(
                models.path(),
                &connection,
                password.as_deref(),
                "results_py",
                BATCH,
                true,
            );
            assert_eq!(count_rows(&t.lake, "results_py"), n);
            assert_eq!(count_rows(&t.lake, "results"), n);
            let db = floor::write_in_database(&t.lake, backend, "results_db");
            assert_eq!(count_rows(&t.lake, "results_db"), n);

            println!("{backend:?}, {n} rows (load {})", uptime());
            println!(
                "  mld dispatch        {:>7.2} s  read+predict+store {:.2}, write-back {:.2}; peak RSS {:.0} MiB",
                mld[0], mld[1], mld[2], mld[3]
            );
            println!(
                "  python streaming    {:>7.2} s  fetch wait {:.2}, predict {:.2}, write {:.2}; peak RSS {:.0} MiB; \
                 process wall {:.1} s; mld {:.2}x faster",
                py.seconds,
                py.fetch_s,
                py.predict_s,
                py.write_s,
                py.peak_rss_mib,
                py.wall_s,
                py.seconds / mld[0]
            );
            println!(
                "  python sequential   {:>7.2} s  fetch {:.2}, predict {:.2}, write {:.2}; peak RSS {:.0} MiB; mld {:.2}x faster",
                seq.seconds,
                seq.fetch_s,
                seq.predict_s,
                seq.write_s,
                seq.peak_rss_mib,
                seq.seconds / mld[0]
            );
            println!(
                "  database's own insert {:>5.2} s  INSERT … SELECT of the same rows: the floor of any write \
                 (python streaming / this: {:.2}x)",
                db,
                py.seconds / db
            );
        }
    }
    println!("load average at end: {}", uptime());
}
