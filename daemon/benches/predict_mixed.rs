//! Prediction throughput of regressors and mixed-type pipelines: 1M rows of
//! three numbers and two text columns, mld (ONNX, and the native twin where
//! mld trains one) against scikit-learn's `predict` on the same rows.
//!
//! `cargo bench -p mld --bench predict_mixed` (needs python3 with
//! scikit-learn, skl2onnx, onnxruntime). scripts/sklearn_mixed.py trains the
//! scikit-learn models on 3000 rows, exports them to ONNX and times
//! `predict` (best of 3, single-threaded BLAS). mld imports each graph and
//! trains its native twin on the same training rows (one-hot encoding the
//! text columns), and times `Model::score` on the same rows (best of 3).
//! Ratios are sklearn time / mld time: above 1 means mld is faster.
//! MLD_BENCH_ROWS changes the row count; MLD_BENCH_ONLY=kind,kind runs some.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use mld::model::input::{OwnedInputs, Value};
use mld::model::{Algorithm, FeatureKind, Model, ParamValue, Registry, Task};
use mld::training::catalog::ValidRequest;

#[derive(serde::Deserialize)]
struct Entry {
    kind: String,
    onnx: String,
    features: Option<Vec<String>>,
    predict_seconds: f64,
}

/// rows.csv as the datalake hands it over: numbers, and text (empty = NULL).
fn read_rows(path: &Path) -> (Vec<String>, OwnedInputs) {
    let mut r = csv::Reader::from_path(path).expect("rows.csv");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let kinds: Vec<FeatureKind> = header
        .iter()
        .map(|c| match c.as_str() {
            "plan" | "country" => FeatureKind::Text,
            _ => FeatureKind::Number,
        })
        .collect();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while r.read_record(&mut record).expect("row") {
        rows.push(
            record
                .iter()
                .zip(&kinds)
                .map(|(cell, kind)| match kind {
                    FeatureKind::Number => Value::Number(cell.parse().expect("number")),
                    FeatureKind::Text if cell.is_empty() => Value::Null,
                    FeatureKind::Text => Value::Text(cell.to_string()),
                })
                .collect::<Vec<_>>(),
        );
    }
    let inputs = OwnedInputs::from_rows(&rows, &kinds);
    (header, inputs)
}

/// Best of three wall times of scoring every row.
fn time_score(model: &Model, columns: &[String], rows: &OwnedInputs) -> f64 {
    let binding = model.bind(columns).expect("bind");
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let s = model.score(&binding, rows.view()).expect("score");
            assert_eq!(s.predictions.len() + s.refused.len(), rows.numbers.nrows());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// A native twin: its algorithm, the features it takes, its hyperparameters.
type Twin = (
    Algorithm,
    Vec<&'static str>,
    Vec<(&'static str, ParamValue)>,
);

/// mld's native twin of a scikit-learn model, trained on the same rows.
fn native_twin(kind: &str) -> Option<Twin> {
    let numbers = vec!["tenure", "spend", "visits"];
    let mixed = vec!["tenure", "spend", "visits", "plan", "country"];
    let forest = vec![
        ("n_trees", ParamValue::Int(50)),
        ("max_depth", ParamValue::Int(10)),
    ];
    Some(match kind {
        "linear_regression" => (Algorithm::LinearRegression, numbers, vec![]),
        "random_forest_regressor" => (Algorithm::RandomForestRegressor, numbers, forest),
        "mixed_forest_regressor" => (Algorithm::RandomForestRegressor, mixed, forest),
        "mixed_logistic" => (
            Algorithm::LogisticRegression,
            mixed,
            vec![("scaling", ParamValue::Text("standard".into()))],
        ),
        _ => return None,
    })
}

fn main() {
    let n_rows: usize = std::env::var("MLD_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("sk");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scripts/sklearn_mixed.py");
    eprintln!("scikit-learn: training, exporting, timing predict on {n_rows} rows…");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .arg(&out)
        .arg(n_rows.to_string())
        .arg("--time")
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1");
    if let Ok(only) = std::env::var("MLD_BENCH_ONLY") {
        cmd.args(["--only", &only]);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        _ => {
            eprintln!(
                "python3 with scikit-learn, skl2onnx and onnxruntime is needed for this benchmark"
            );
            std::process::exit(1);
        }
    }
    let manifest: Vec<Entry> =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    let (columns, rows) = read_rows(&out.join("rows.csv"));
    eprintln!("read {} rows", rows.numbers.nrows());
    let registry = Registry::open(dir.path().join("registry"), None).expect("registry");

    println!(
        "\nprediction on {} rows of 3 numbers + 2 text columns (seconds, best of 3; ratio = sklearn / mld, >1 = mld faster)",
        rows.numbers.nrows()
    );
    println!(
        "{:<28} {:>9} {:>9} {:>7} {:>11} {:>7}",
        "model", "sklearn", "mld onnx", "ratio", "mld native", "ratio"
    );
    for entry in &manifest {
        let bytes = std::fs::read(out.join(&entry.onnx)).expect("onnx");
        let v = registry
            .import_onnx(
                &entry.kind,
                &bytes,
                entry.features.clone().unwrap_or_default(),
                None,
            )
            .expect("import");
        let onnx = time_score(
            &registry.load(&entry.kind, v.version).expect("load"),
            &columns,
            &rows,
        );
        let native = native_twin(&entry.kind).map(|(algorithm, features, params)| {
            let features: Vec<String> = features.iter().map(|s| s.to_string()).collect();
            let (task, label) = match algorithm.task() {
                Task::Regression => (Task::Regression, "revenue"),
                Task::Classification => (Task::Classification, "churn"),
            };
            let data = mld::training::dataset::load_csv_as(
                "bench",
                &out.join("train.csv"),
                label,
                Some(&features),
                Some(task),
            )
            .expect("dataset");
            let mut hyperparameters = mld::training::catalog::default_hyperparameters(algorithm);
            for (k, v) in params {
                hyperparameters.insert(k.to_string(), v);
            }
            let request = ValidRequest {
                dataset: "bench".into(),
                algorithm,
                hyperparameters,
                test_split: 0.2,
                seed: 1,
            };
            let trained =
                mld::training::train_on(&request, &data, &mut |_| {}, &AtomicBool::new(false))
                    .expect("train");
            time_score(&trained.model(), &columns, &rows)
        });
        let sk = entry.predict_seconds;
        let (native_s, native_ratio) = match native {
            Some(t) => (format!("{t:.3}"), format!("{:.2}", sk / t)),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<28} {:>9.3} {:>9.3} {:>7.2} {:>11} {:>7}",
            entry.kind,
            sk,
            onnx,
            sk / onnx,
            native_s,
            native_ratio
        );
    }
}
