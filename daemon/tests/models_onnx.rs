//! ONNX import: scikit-learn models exported with skl2onnx must give the same
//! labels in mld as in scikit-learn; bad graphs and a missing runtime are
//! refused with the documented reasons.
//!
//! The parity test runs daemon/benches/scripts/sklearn_models.py. It is skipped
//! (loudly) only when python3 with scikit-learn and skl2onnx is absent; CI has them.

mod models_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use mld::model::{Algorithm, ModelError, Registry};
use ndarray::Array2;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scripts/sklearn_models.py")
}

fn python_has_sklearn() -> bool {
    Command::new("python3")
        .args(["-c", "import sklearn, skl2onnx, onnxruntime"])
        .status()
        .is_ok_and(|s| s.success())
}

fn read_rows(path: &Path) -> (Vec<String>, Array2<f64>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let mut values = Vec::new();
    let mut n = 0;
    for rec in r.records() {
        values.extend(rec.unwrap().iter().map(|v| v.parse::<f64>().unwrap()));
        n += 1;
    }
    let width = header.len();
    (header, Array2::from_shape_vec((n, width), values).unwrap())
}

#[derive(serde::Deserialize)]
struct Entry {
    kind: String,
    onnx: String,
    labels: Vec<String>,
    graph_has_labels: bool,
}

#[test]
fn sklearn_onnx_models_predict_the_same_labels_as_sklearn() {
    if !python_has_sklearn() {
        eprintln!(
            "\n\n*** SKIPPED sklearn_onnx_models_predict_the_same_labels_as_sklearn: python3 with scikit-learn, skl2onnx and onnxruntime not found (pip install scikit-learn skl2onnx onnxruntime) ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sk");
    let status = Command::new("python3")
        .arg(script())
        .arg(&out)
        .arg("2000")
        .status()
        .unwrap();
    assert!(status.success(), "sklearn_models.py failed");
    let manifest: Vec<Entry> =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let (columns, rows) = read_rows(&out.join("rows.csv"));
    assert_eq!(rows.nrows(), 2000);
    let features: Vec<String> = (0..8).map(|i| format!("f{i}")).collect();

    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    let required = [
        "logistic_regression",
        "logistic_binary",
        "decision_tree",
        "random_forest",
        "pipeline_minmax_logistic",
        "pipeline_standard_tree",
    ];
    for kind in required {
        assert!(
            manifest.iter().any(|e| e.kind == kind),
            "the script must export {kind}"
        );
    }
    for entry in &manifest {
        let bytes = std::fs::read(out.join(&entry.onnx)).unwrap();
        let given = if entry.graph_has_labels {
            None
        } else {
            Some(entry.labels.clone())
        };
        let v = registry
            .import_onnx(&entry.kind, &bytes, features.clone(), given)
            .unwrap_or_else(|e| panic!("{}: {e}", entry.kind));
        let model = registry.load(&entry.kind, v.version).unwrap();
        assert_eq!(model.meta().algorithm, Algorithm::Onnx);
        assert_eq!(
            model.labels(),
            entry.labels.as_slice(),
            "{}: labels read from the graph",
            entry.kind
        );
        // Bind by name: the CSV's columns are the features, in order.
        let predictions = model
            .predict(&model.bind(&columns).unwrap(), rows.view())
            .unwrap();
        let expected: Vec<String> =
            std::fs::read_to_string(out.join(format!("{}.pred", entry.kind)))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
        assert_eq!(predictions.len(), expected.len());
        let mismatches = predictions
            .iter()
            .zip(&expected)
            .filter(|(p, e)| p.label().unwrap().as_ref() != e.as_str())
            .count();
        assert_eq!(
            mismatches,
            0,
            "{}: {mismatches} of {} labels differ from scikit-learn",
            entry.kind,
            expected.len()
        );
    }

    // zipmap on: the output is a sequence of maps, refused with the fix.
    let err = registry
        .import_onnx(
            "zip",
            &std::fs::read(out.join("zipmap.onnx")).unwrap(),
            features.clone(),
            None,
        )
        .unwrap_err();
    assert!(matches!(err, ModelError::OnnxUnsupported { .. }), "{err}");
    assert!(err.to_string().contains("zipmap"), "{err}");
    // Declared features must match the graph's input width.
    let lr = std::fs::read(out.join("logistic_regression.onnx")).unwrap();
    let err = registry
        .import_onnx("narrow", &lr, features[..7].to_vec(), None)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("takes 8 features but 7 feature names were declared"),
        "{err}"
    );
    // Given labels rename the graph's classes position by position (0, 1, 2 -> a, b, c).
    let rf = std::fs::read(out.join("random_forest.onnx")).unwrap();
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let v = registry
        .import_onnx("renamed", &rf, features.clone(), Some(names.clone()))
        .unwrap();
    let renamed = registry.load("renamed", v.version).unwrap();
    assert_eq!(renamed.labels(), names.as_slice());
    let p = renamed
        .predict(&renamed.bind(&columns).unwrap(), rows.view())
        .unwrap();
    let expected: Vec<String> = std::fs::read_to_string(out.join("random_forest.pred"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        p.iter()
            .zip(&expected)
            .all(|(p, e)| p.label().unwrap().as_ref() == names[e.parse::<usize>().unwrap()])
    );
    // Given labels must agree in number with the graph's classes.
    let err = registry
        .import_onnx(
            "labels",
            &lr,
            features.clone(),
            Some(vec!["x".into(), "y".into()]),
        )
        .unwrap_err();
    assert!(matches!(err, ModelError::Labels { .. }), "{err}");
    // Not ONNX at all.
    let err = registry
        .import_onnx("junk", b"\xff\xff\xff garbage", features.clone(), None)
        .unwrap_err();
    assert!(matches!(err, ModelError::OnnxUnsupported { .. }), "{err}");
    let names: Vec<String> = registry
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| ["zip", "narrow", "labels", "junk"].contains(&n.as_str())),
        "refused imports leave nothing"
    );

    // The same registry with a runtime path that does not exist: ONNX versions
    // are refused with the fix, native versions keep working.
    let catalog = models_common::catalog(vec![(
        "iris",
        models_common::csv_dataset(&models_common::iris_csv(), "species"),
    )]);
    let t = models_common::train_ok(
        &catalog,
        &models_common::request("iris", Algorithm::GaussianNb, &[]),
    );
    registry
        .commit_as("native", 1, t.meta, &t.artifact)
        .unwrap();
    let broken_runtime = Registry::open(
        registry.root(),
        Some(dir.path().join("no/libonnxruntime.so")),
    )
    .unwrap();
    let err = broken_runtime.load("decision_tree", 1).unwrap_err();
    assert!(
        matches!(err, ModelError::OnnxRuntimeMissing { .. }),
        "{err}"
    );
    assert!(broken_runtime.load("native", 1).is_ok());
}

#[test]
fn missing_onnx_runtime_says_what_and_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere/libonnxruntime.so");
    let registry = Registry::open(dir.path().join("registry"), Some(missing.clone())).unwrap();
    let err = registry
        .import_onnx("m", b"whatever", vec!["a".into()], None)
        .unwrap_err();
    assert!(
        matches!(err, ModelError::OnnxRuntimeMissing { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    assert!(msg.contains("pip install onnxruntime"), "{msg}");
    assert!(msg.contains("ORT_DYLIB_PATH"), "{msg}");
    assert!(registry.list().unwrap().is_empty());
}
