//! Prediction throughput: 1M rows × 8 features, every algorithm, mld native
//! and mld ONNX against scikit-learn's `predict` on the same rows.
//!
//! `cargo bench -p mld --bench predict` (needs python3 with scikit-learn,
//! skl2onnx, onnxruntime). scripts/sklearn_models.py trains the scikit-learn
//! models on 3000 rows, exports them to ONNX and times `predict` (best of 3,
//! single-threaded BLAS). mld trains its native twin of each on the same
//! training rows and times `Model::predict` on the same rows (best of 3).
//! Ratios are sklearn time / mld time: above 1 means mld is faster.
//! Set MLD_BENCH_ROWS to change the row count, MLD_BENCH_ONLY=kind,kind to run some models.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use mld::model::{Algorithm, Model, ParamValue, Registry};
use mld::training::{Catalog, TrainRequest, train};
use mld_shared::config::DatasetConfig;
use ndarray::Array2;

#[derive(serde::Deserialize)]
struct Entry {
    kind: String,
    onnx: String,
    labels: Vec<String>,
    graph_has_labels: bool,
    predict_seconds: f64,
}

fn read_rows(path: &Path) -> (Vec<String>, Array2<f64>) {
    let mut r = csv::Reader::from_path(path).expect("rows.csv");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let mut values = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut n = 0;
    while r.read_record(&mut record).expect("row") {
        values.extend(record.iter().map(|v| v.parse::<f64>().expect("number")));
        n += 1;
    }
    let width = header.len();
    (
        header,
        Array2::from_shape_vec((n, width), values).expect("shape"),
    )
}

/// Best of three wall times of scoring every row.
fn time_predict(model: &Model, columns: &[String], rows: &Array2<f64>) -> f64 {
    let binding = model.bind(columns).expect("bind");
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let p = model.predict(&binding, rows.view()).expect("predict");
            assert_eq!(p.len(), rows.nrows());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let n_rows: usize = std::env::var("MLD_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("sk");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scripts/sklearn_models.py");
    eprintln!("scikit-learn: training, exporting, timing predict on {n_rows} rows…");
    let status = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .arg(n_rows.to_string())
        .arg("--time")
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .status();
    match status {
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
    eprintln!("read {} rows × {} features", rows.nrows(), rows.ncols());

    let mut datasets = BTreeMap::new();
    datasets.insert(
        "bench".to_string(),
        DatasetConfig {
            description: None,
            csv: Some(out.join("train.csv")),
            datalake: None,
            query: None,
            label: "label".into(),
            features: None,
            task: None,
        },
    );
    let catalog = Catalog::new(&datasets);
    let registry = Registry::open(dir.path().join("registry"), None).expect("registry");

    println!(
        "\nprediction on {} rows x {} features (seconds, best of 3; ratio = sklearn / mld, >1 = mld faster)",
        rows.nrows(),
        rows.ncols()
    );
    println!(
        "{:<26} {:>10} {:>11} {:>7} {:>10} {:>7}",
        "model", "sklearn", "mld native", "ratio", "mld onnx", "ratio"
    );
    let only = std::env::var("MLD_BENCH_ONLY").ok();
    for entry in manifest.iter().filter(|e| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|k| k == e.kind))
    }) {
        let native = Algorithm::from_name(&entry.kind).map(|algorithm| {
            let mut hyperparameters = BTreeMap::new();
            if algorithm == Algorithm::LogisticRegression {
                hyperparameters.insert("alpha".to_string(), ParamValue::Float(0.01));
            }
            let req = TrainRequest {
                dataset: "bench".into(),
                model: algorithm.name().into(),
                hyperparameters,
                test_split: 0.2,
                seed: 1,
            };
            let trained =
                train(&catalog, &req, &mut |_| {}, &AtomicBool::new(false)).expect("train");
            let accuracy = trained
                .meta
                .metrics
                .as_ref()
                .map(|m| m.accuracy)
                .unwrap_or(0.0);
            (time_predict(&trained.model(), &columns, &rows), accuracy)
        });
        let bytes = std::fs::read(out.join(&entry.onnx)).expect("onnx");
        let labels = if entry.graph_has_labels {
            None
        } else {
            Some(entry.labels.clone())
        };
        let features: Vec<String> = (0..rows.ncols()).map(|i| format!("f{i}")).collect();
        let v = registry
            .import_onnx(&entry.kind, &bytes, features, labels)
            .expect("import");
        let onnx = time_predict(
            &registry.load(&entry.kind, v.version).expect("load"),
            &columns,
            &rows,
        );
        let sk = entry.predict_seconds;
        let (native_s, native_ratio) = match native {
            Some((t, acc)) => (
                format!("{t:.3}"),
                format!("{:.2}  (native test accuracy {acc:.3})", sk / t),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<26} {:>10.3} {:>11} {:>7} {:>10.3} {:>7.2}",
            entry.kind,
            sk,
            native_s,
            native_ratio.split_whitespace().next().unwrap_or("-"),
            onnx,
            sk / onnx
        );
        if native_ratio != "-" {
            eprintln!("  {}: {native_ratio}", entry.kind);
        }
    }
}
