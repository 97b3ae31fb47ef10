//! Models as users bring them, dispatched through a real in-process daemon on
//! each datalake backend (built-in SQLite, SQLite through ODBC, PostgreSQL,
//! MariaDB): a regressor over numeric and text columns (scikit-learn
//! ColumnTransformer + RandomForestRegressor, ONNX), the mixed-type
//! classifier (the same transformer + LogisticRegression), the same
//! classifier with `handle_unknown="error"`, and a regression forest
//! trained natively in mld with one-hot encoding.
//!
//! The table holds text columns read as text (`plan`, `country`, NULLs and
//! categories the encoders never saw among them) and a number stored as text
//! (`visits`, with one `n/a`). Checked: the results tables hold the right
//! types (a regressor's value is a number in the prediction column, its score
//! NULL) and values (scikit-learn's labels; a regressor's values as ONNX
//! Runtime computes the same graph, within float32 tolerance —
//! daemon/tests/models_mixed_onnx.rs ties those to scikit-learn's; the
//! stored predictions, exactly), the unscorable rows with key and reason, and the
//! counts reconcile (events, summary, results table, histogram or classes).
//!
//! Runs daemon/benches/scripts/sklearn_mixed.py; skipped (loudly) only when
//! python3 with scikit-learn and skl2onnx is absent; CI has them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use mld::datalake::Datalake;
use mld::model::input::{OwnedInputs, Value};
use mld::model::{Algorithm, FeatureKind, Registry, Task};
use mld::training::catalog::ValidRequest;
use mld_shared::protocol::{DispatchDetail, DispatchStatus};
use mld_tests::client::InProcessDaemon;
use mld_tests::lake::Backend;
use mld_tests::scoring::*;

const ROWS: usize = 300;
const COLUMNS: [&str; 5] = ["tenure", "spend", "visits", "plan", "country"];
/// Row 5's tenure is NULL; row 6's visits is `n/a`: unscorable for every model.
const NULL_TENURE: usize = 5;
const NOT_A_NUMBER: usize = 6;

fn python_has_sklearn() -> bool {
    Command::new("python3")
        .args(["-c", "import sklearn, skl2onnx, onnxruntime"])
        .status()
        .is_ok_and(|s| s.success())
}

/// One row of rows.csv: the key, then the five columns (text `None` = NULL).
struct Row {
    id: usize,
    numbers: [f64; 3],
    texts: [Option<String>; 2],
}

fn read_rows(path: &Path) -> Vec<Row> {
    // No quoting in this file: plain comma-separated cells.
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let rec: Vec<&str> = line.split(',').collect();
            let n = |i: usize| rec[i].parse::<f64>().unwrap();
            let t = |i: usize| Some(rec[i].to_string()).filter(|s| !s.is_empty());
            Row {
                id: rec[0].parse().unwrap(),
                numbers: [n(1), n(2), n(3)],
                texts: [t(4), t(5)],
            }
        })
        .collect()
}

/// scikit-learn's predictions per row (1-based id → line), or ONNX
/// Runtime's of the exported graph (`ext` "ort").
fn predictions(out: &Path, kind: &str, ext: &str) -> Vec<String> {
    std::fs::read_to_string(out.join(format!("{kind}.{ext}")))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn sql_text(t: &Option<String>) -> String {
    match t {
        Some(s) => format!("'{s}'"),
        None => "NULL".into(),
    }
}

/// `customers`: the rows, visits stored as text.
fn create_customers(lake: &Datalake, rows: &[Row]) {
    lake.execute(
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, tenure DOUBLE PRECISION, \
         spend DOUBLE PRECISION, visits VARCHAR(10), plan VARCHAR(20), country VARCHAR(20))",
    )
    .unwrap();
    mld_tests::lake::insert_rows(lake, "customers", rows.len(), |i| {
        let r = &rows[i];
        let tenure = if r.id == NULL_TENURE {
            "NULL".to_string()
        } else {
            format!("{:?}", r.numbers[0])
        };
        let visits = if r.id == NOT_A_NUMBER {
            "'n/a'".to_string()
        } else {
            format!("'{}'", r.numbers[2])
        };
        format!(
            "{}, {tenure}, {:?}, {visits}, {}, {}",
            r.id,
            r.numbers[1],
            sql_text(&r.texts[0]),
            sql_text(&r.texts[1])
        )
    });
}

/// A regressor's results table: the prediction column is a number.
fn create_value_results(lake: &Datalake, table: &str) {
    lake.execute(&format!(
        "CREATE TABLE {table} (dispatch_id BIGINT NOT NULL, row_key VARCHAR(255) NOT NULL, \
         prediction DOUBLE PRECISION, score DOUBLE PRECISION, model_version VARCHAR(255), \
         scored_at TIMESTAMP NULL, PRIMARY KEY (dispatch_id, row_key))"
    ))
    .unwrap();
}

/// A regressor's results: key → (dispatch id, value, score is NULL).
fn read_values(lake: &Datalake, table: &str) -> BTreeMap<String, (i64, f64, bool)> {
    let cols: Vec<String> = ["d", "p", "n"].iter().map(|s| s.to_string()).collect();
    let mut out = BTreeMap::new();
    for batch in lake
        .read(
            &format!(
                "SELECT row_key, dispatch_id AS d, prediction AS p, \
                 CASE WHEN score IS NULL THEN 1 ELSE 0 END AS n FROM {table}"
            ),
            "row_key",
            &cols,
            10_000,
        )
        .unwrap()
    {
        let batch = batch.unwrap();
        assert!(batch.unscorable.is_empty(), "{:?}", batch.unscorable);
        for (i, key) in batch.keys.into_iter().enumerate() {
            let r = batch.features.row(i);
            out.insert(key, (r[0] as i64, r[1], r[2] == 1.0));
        }
    }
    out
}

/// SQLite keeps whatever type it is given: every value stored must be a REAL.
fn assert_stored_as_real(dl: &DaemonLake, table: &str) {
    if !matches!(dl.backend, Backend::BuiltinSqlite | Backend::SqliteOdbc) {
        return;
    }
    let cols = vec!["c".to_string()];
    let mut reader = dl
        .lake
        .read(
            &format!(
                "SELECT 1 AS k, COUNT(*) AS c FROM {table} WHERE typeof(prediction) <> 'real'"
            ),
            "k",
            &cols,
            10,
        )
        .unwrap();
    let batch = reader.next_batch().unwrap().unwrap();
    assert_eq!(
        batch.features[[0, 0]],
        0.0,
        "values stored as something else"
    );
}

/// Values agree within float32 tolerance (ONNX computes in float32); SQLite
/// ODBC moves doubles as text with 15 significant digits.
fn close32(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-4 * want.abs().max(1.0)
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 * want.abs().max(1.0)
}

/// Events, summary and the results count reconcile.
fn assert_counts(d: &DispatchDetail, collected: u64, scored: u64, in_table: usize) {
    let s = &d.summary;
    assert_eq!(s.status, DispatchStatus::Succeeded, "{:?}", s.error);
    assert_eq!(
        (
            s.rows_collected,
            s.rows_predicted,
            s.rows_unscorable,
            s.rows_stored,
            s.rows_inserted
        ),
        (collected, scored, collected - scored, scored, scored)
    );
    let rows = |step: &str| d.events.iter().find(|e| e.step == step).unwrap().rows;
    assert_eq!(rows("collected"), Some(collected));
    assert_eq!(rows("predicted"), Some(scored));
    assert_eq!(rows("inserted"), Some(scored));
    assert_eq!(
        in_table as u64, scored,
        "the results table holds every scored row"
    );
}

/// The native twin: a regression forest trained in mld on the same training
/// rows (text columns one-hot encoded), committed as `revenue_native`.
fn native_regressor(registry: &Path, train_csv: &Path) -> mld::model::Model {
    let features: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    let data = mld::training::dataset::load_csv_as(
        "customers",
        train_csv,
        "revenue",
        Some(&features),
        Some(Task::Regression),
    )
    .unwrap();
    assert_eq!(
        data.kinds,
        [
            FeatureKind::Number,
            FeatureKind::Number,
            FeatureKind::Number,
            FeatureKind::Text,
            FeatureKind::Text
        ]
    );
    let mut hyperparameters =
        mld::training::catalog::default_hyperparameters(Algorithm::RandomForestRegressor);
    hyperparameters.insert("n_trees".into(), mld::model::ParamValue::Int(20));
    let request = ValidRequest {
        dataset: "customers".into(),
        algorithm: Algorithm::RandomForestRegressor,
        hyperparameters,
        test_split: 0.25,
        seed: 7,
    };
    let trained =
        mld::training::train_on(&request, &data, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let reg = Registry::open(registry, None).unwrap();
    reg.commit_as("revenue_native", 1, trained.meta, &trained.artifact)
        .unwrap();
    reg.set_active("revenue_native", 1).unwrap();
    reg.load_active("revenue_native").unwrap()
}

/// The native model's own predictions of the rows, as the datalake hands
/// them over (the unscorable rows left out).
fn own_values(model: &mld::model::Model, rows: &[Row]) -> BTreeMap<String, f64> {
    let kept: Vec<&Row> = rows
        .iter()
        .filter(|r| r.id != NULL_TENURE && r.id != NOT_A_NUMBER)
        .collect();
    let kinds = model.feature_kinds();
    let values: Vec<Vec<Value>> = kept
        .iter()
        .map(|r| {
            let mut v: Vec<Value> = r.numbers.iter().map(|x| Value::Number(*x)).collect();
            v.extend(r.texts.iter().map(|t| match t {
                Some(t) => Value::Text(t.clone()),
                None => Value::Null,
            }));
            v
        })
        .collect();
    let inputs = OwnedInputs::from_rows(&values, &kinds);
    let binding = model.bind(&COLUMNS).unwrap();
    let predictions = model.predict(&binding, inputs.view()).unwrap();
    kept.iter()
        .zip(predictions)
        .map(|(r, p)| (r.id.to_string(), p.value().unwrap()))
        .collect()
}

async fn mixed_models(backend: Backend) {
    if !python_has_sklearn() {
        eprintln!(
            "\n\n*** SKIPPED models_mixed: python3 with scikit-learn, skl2onnx and onnxruntime not found ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sk");
    let status = Command::new("python3")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../daemon/benches/scripts/sklearn_mixed.py"),
        )
        .arg(&out)
        .arg(ROWS.to_string())
        .args([
            "--only",
            "mixed_logistic,mixed_forest_regressor,mixed_logistic_strict",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "sklearn_mixed.py failed");
    let rows = read_rows(&out.join("rows.csv"));
    assert_eq!(rows.len(), ROWS);

    let registry = registry_dir(dir.path());
    let reg = Registry::open(&registry, None).unwrap();
    for kind in [
        "mixed_logistic",
        "mixed_forest_regressor",
        "mixed_logistic_strict",
    ] {
        let bytes = std::fs::read(out.join(format!("{kind}.onnx"))).unwrap();
        // Features and their types from the graph's inputs.
        let v = reg.import_onnx(kind, &bytes, vec![], None).unwrap();
        reg.set_active(kind, v.version).unwrap();
    }
    let native = native_regressor(&registry, &out.join("train.csv"));

    let dl = DaemonLake::new(backend, dir.path(), "mixed");
    create_customers(&dl.lake, &rows);
    create_value_results(&dl.lake, "revenue_scores");
    create_value_results(&dl.lake, "native_scores");
    create_results_table(&dl.lake, "churn_scores");
    create_results_table(&dl.lake, "strict_scores");
    let query = "SELECT id, plan, country, tenure, spend, visits FROM customers";
    let jobs = [
        ("revenue", "mixed_forest_regressor", "revenue_scores"),
        ("native", "revenue_native", "native_scores"),
        ("churn", "mixed_logistic", "churn_scores"),
        ("strict", "mixed_logistic_strict", "strict_scores"),
    ]
    .iter()
    .map(|(job, model, table)| job_toml(job, model, query, table, "batch_size = 64"))
    .collect::<String>();
    let config = write_config(dir.path(), &dl.toml, &jobs);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let n = ROWS as u64;
    let unscorable_reason = |d: &DispatchDetail, key: usize, what: &str| {
        let u = d
            .unscorable
            .iter()
            .find(|u| u.row_key == key.to_string())
            .unwrap_or_else(|| panic!("row {key} unscorable: {:?}", d.unscorable));
        assert!(u.reason.contains(what), "row {key}: {}", u.reason);
    };

    // The ONNX regressor: values as numbers, scores NULL, the graph's values.
    let want = predictions(&out, "mixed_forest_regressor", "ort");
    let id = c.run_job("revenue").await;
    let d = c.wait_finished(id, Duration::from_secs(120)).await;
    let got = read_values(&dl.lake, "revenue_scores");
    assert_counts(&d, n, n - 2, got.len());
    unscorable_reason(&d, NULL_TENURE, "tenure");
    unscorable_reason(&d, NOT_A_NUMBER, "visits");
    assert_stored_as_real(&dl, "revenue_scores");
    for (key, (dispatch, value, score_null)) in &got {
        let i: usize = key.parse().unwrap();
        assert_eq!(*dispatch, id.0);
        assert!(score_null, "row {key}: a regressor's score is NULL");
        let sk: f64 = want[i - 1].parse().unwrap();
        assert!(
            close32(*value, sk),
            "row {key}: mld {value}, onnxruntime {sk}"
        );
    }
    // Stored in the event log as the same numbers, summarized as a histogram.
    let stored = c.all_predictions(id).await;
    assert_eq!(stored.len(), got.len());
    for p in &stored {
        let v = p.value.expect("a value");
        assert!(close(got[&p.row_key].1, v), "row {}", p.row_key);
    }
    let h = d
        .values
        .as_ref()
        .expect("a regressor's dispatch has a histogram");
    assert!(d.class_counts.is_empty());
    assert_eq!(h.count, n - 2);
    assert_eq!(h.bins.iter().map(|b| b.count).sum::<u64>(), h.count);
    let values: Vec<f64> = stored.iter().filter_map(|p| p.value).collect();
    let (min, max) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!(close(h.min, min) && close(h.max, max), "{h:?}");
    assert!((h.mean - mean).abs() <= 1e-9 * mean.abs(), "{h:?}");

    // The native regressor: its own predictions, exactly as it makes them.
    let want = own_values(&native, &rows);
    let id = c.run_job("native").await;
    let d = c.wait_finished(id, Duration::from_secs(120)).await;
    let got = read_values(&dl.lake, "native_scores");
    assert_counts(&d, n, n - 2, got.len());
    assert_stored_as_real(&dl, "native_scores");
    assert_eq!(got.len(), want.len());
    for (key, (_, value, score_null)) in &got {
        assert!(score_null);
        assert!(
            close(*value, want[key]),
            "row {key}: {value} vs {}",
            want[key]
        );
    }
    assert_eq!(d.values.as_ref().unwrap().count, n - 2);

    // The mixed-type classifier: labels as text, sklearn's, with scores.
    let want = predictions(&out, "mixed_logistic", "pred");
    let labels = vec!["no".to_string(), "yes".to_string()];
    let id = c.run_job("churn").await;
    let d = c.wait_finished(id, Duration::from_secs(120)).await;
    let got = read_results(&dl.lake, "churn_scores", &labels, &["1"]);
    assert_counts(&d, n, n - 2, got.len());
    assert!(d.values.is_none());
    for r in &got {
        let i: usize = r.row_key.parse().unwrap();
        assert_eq!(r.label, want[i - 1], "row {}", r.row_key);
        assert!(
            (0.5..=1.0).contains(&r.score),
            "row {}: {}",
            r.row_key,
            r.score
        );
    }
    assert_eq!(
        d.class_counts.iter().map(|(_, c)| c).sum::<u64>(),
        n - 2,
        "{:?}",
        d.class_counts
    );

    // handle_unknown="error": the rows with a category the encoder never
    // saw or a NULL are unscorable with the column named, the rest scored.
    let want = predictions(&out, "mixed_logistic_strict", "pred");
    let refused: Vec<usize> = want
        .iter()
        .enumerate()
        .filter(|(i, w)| *w == "!refused" && ![NULL_TENURE, NOT_A_NUMBER].contains(&(i + 1)))
        .map(|(i, _)| i + 1)
        .collect();
    assert!(!refused.is_empty());
    let id = c.run_job("strict").await;
    let d = c.wait_finished(id, Duration::from_secs(120)).await;
    let got = read_results(&dl.lake, "strict_scores", &labels, &["1"]);
    let scored = n - 2 - refused.len() as u64;
    assert_counts(&d, n, scored, got.len());
    for key in &refused {
        unscorable_reason(&d, *key, "handle_unknown='error'");
    }
    for r in &got {
        let i: usize = r.row_key.parse().unwrap();
        assert_eq!(r.label, want[i - 1], "row {}", r.row_key);
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_type_models_dispatch_on_builtin_sqlite() {
    mixed_models(Backend::BuiltinSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_type_models_dispatch_on_sqlite_odbc() {
    mixed_models(Backend::SqliteOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_type_models_dispatch_on_postgres_odbc() {
    mixed_models(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_type_models_dispatch_on_mariadb_odbc() {
    mixed_models(Backend::MariaDbOdbc).await;
}
