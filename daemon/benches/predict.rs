//! Prediction throughput: 1M rows × 8 features, every algorithm, mld native
//! and mld ONNX against scikit-learn's `predict` and `predict_proba` on the
//! same rows (mld gives each row its class and that class's probability:
//! `predict_proba`'s work, and `predict`'s).
//!
//! `cargo bench -p mld --bench predict` (needs python3 with scikit-learn,
//! skl2onnx, onnxruntime). scripts/sklearn_models.py trains the scikit-learn
//! models on 3000 rows, exports them to ONNX and times `predict` and
//! `predict_proba` (best of 3, single-threaded BLAS). mld trains its native twin of each on the same
//! training rows and times `Model::predict` on the same rows (best of 3).
//! Ratios are sklearn time / mld time (`predict`, then `predict_proba`
//! where the model has it): above 1 means mld is faster.
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
    predict_proba_seconds: Option<f64>,
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

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
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
        "\nprediction on {} rows x {} features (seconds, best of 3; ratio = sklearn / mld, >1 = mld faster: \
         vs predict / vs predict_proba); load average {}",
        rows.nrows(),
        rows.ncols(),
        load()
    );
    println!(
        "{:<26} {:>8} {:>8} {:>10} {:>11} {:>9} {:>11}",
        "model", "predict", "proba", "mld native", "ratio", "mld onnx", "ratio"
    );
    let only = std::env::var("MLD_BENCH_ONLY").ok();
    for entry in manifest.iter().filter(|e| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|k| k == e.kind))
    }) {
        // A scikit-learn pipeline's native twin: the model with the same scaling.
        let (kind, scaling) = match entry.kind.as_str() {
            "pipeline_minmax_logistic" => ("logistic_regression", Some("minmax")),
            "pipeline_standard_tree" => ("decision_tree", Some("standard")),
            kind => (kind, None),
        };
        let native = Algorithm::from_name(kind).map(|algorithm| {
            let mut hyperparameters = BTreeMap::new();
            if algorithm == Algorithm::LogisticRegression {
                hyperparameters.insert("alpha".to_string(), ParamValue::Float(0.01));
            }
            if let Some(s) = scaling {
                hyperparameters.insert("scaling".to_string(), ParamValue::Text(s.into()));
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
        let ratios = |t: f64| match entry.predict_proba_seconds {
            Some(p) => format!("{:.2}/{:.2}", sk / t, p / t),
            None => format!("{:.2}/-", sk / t),
        };
        let (native_s, native_ratio) = match native {
            Some((t, acc)) => (
                format!("{t:.3}"),
                format!("{}  (native test accuracy {acc:.3})", ratios(t)),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<26} {:>8.3} {:>8} {:>10} {:>11} {:>9.3} {:>11}",
            entry.kind,
            sk,
            entry
                .predict_proba_seconds
                .map_or("-".to_string(), |p| format!("{p:.3}")),
            native_s,
            native_ratio.split_whitespace().next().unwrap_or("-"),
            onnx,
            ratios(onnx)
        );
        if native_ratio != "-" {
            eprintln!("  {}: {native_ratio}", entry.kind);
        }
    }
}
