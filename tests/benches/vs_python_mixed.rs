//! The mixed-type pipeline, mld against the tuned Python pipeline, side by
//! side on the same rows and the same model, in one run: N rows of three
//! numbers and two text columns (`customers_in`) scored into a results
//! table, on each ODBC backend.
//!
//! - Python: tests/benches/python/tuned_pipeline.py — arrow-odbc batched
//!   reads (text columns as Arrow strings), scikit-learn
//!   `ColumnTransformer(OneHotEncoder on plan and country, StandardScaler on
//!   tenure, spend, visits) + LogisticRegression` `predict_proba` per batch,
//!   an arrow-odbc bulk insert in one transaction; streaming and sequential.
//! - mld: the same pipeline exported with skl2onnx (one input per column)
//!   and imported into the registry, run by the real dispatch pipeline
//!   (`pipeline::execute`, with its event log), text columns read as text.
//!
//! Each side runs in its own process; times exclude process start and
//! imports. Ratio = Python seconds / mld seconds (>1: mld faster).
//!
//! `cargo bench -p mld-tests --bench vs_python_mixed`
//! - `MLD_BENCH_ROWS=1000000` (default): sizes.
//! - `MLD_BENCH_BACKENDS=postgres` (default; also sqlite_odbc, mariadb).
//!
//! Needs python3 with scikit-learn, skl2onnx, onnxruntime and arrow-odbc.

use std::process::Command;

use mld::model::Registry;
use mld_shared::config::ResultColumns;
use mld_tests::bench::{self, python_score_query};
use mld_tests::floor::{self, sizes};
use mld_tests::lake::{Backend, TestLake};
use mld_tests::scoring::count_rows;

const BATCH: usize = 10_000;
const MODEL: &str = "mixed";

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
    let backends = bench::backends(&[Backend::PostgresOdbc]);
    let models = tempfile::tempdir().unwrap();
    let registry = models.path().join("registry");
    let status = Command::new("python3")
        .arg(bench::python_script())
        .arg("train-mixed")
        .arg(models.path())
        .status()
        .expect("python3");
    assert!(status.success(), "tuned_pipeline.py train-mixed failed");
    {
        let reg = Registry::open(&registry, None).unwrap();
        let bytes = std::fs::read(models.path().join("model.onnx")).unwrap();
        // Names and types from the graph's inputs.
        let v = reg.import_onnx(MODEL, &bytes, vec![], None).unwrap();
        reg.set_active(MODEL, v.version).unwrap();
        let kinds: Vec<&str> = reg
            .load_active(MODEL)
            .unwrap()
            .feature_kinds()
            .iter()
            .map(|k| k.name())
            .collect();
        assert_eq!(kinds, ["number", "number", "number", "text", "text"]);
    }
    let input = (floor::mixed_query(), floor::mixed_features());

    println!("load average at start: {}", uptime());
    for n in sizes("MLD_BENCH_ROWS", "1000000") {
        for &backend in &backends {
            let t = TestLake::new(backend, "vs_python_mixed");
            floor::create_mixed_input(&t.lake, backend, n);
            for table in ["results", "results_py"] {
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
                ("MLD_CHILD_QUERY", input.0.clone()),
            ];
            if let Some(pw) = &password {
                env.push(("MLD_CHILD_PASSWORD", pw.clone()));
            }
            let mld = bench::child("dispatch", &env);
            let py = python_score_query(
                models.path(),
                &connection,
                password.as_deref(),
                &input,
                "results_py",
                BATCH,
                false,
            );
            assert_eq!(py.rows, n as u64);
            let seq = python_score_query(
                models.path(),
                &connection,
                password.as_deref(),
                &input,
                "results_py",
                BATCH,
                true,
            );
            assert_eq!(count_rows(&t.lake, "results_py"), n);
            assert_eq!(count_rows(&t.lake, "results"), n);

            println!(
                "{backend:?}, {n} rows, mixed-type pipeline (load {})",
                uptime()
            );
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
        }
    }
    println!("load average at end: {}", uptime());
}
