//! Hostile ONNX graphs, made by daemon/tests/scripts/crafted_onnx.py:
//! outputs shorter than the batch are an error for that batch (they made the
//! dispatch thread panic), and a graph that keeps its weights in an external
//! file is refused at import (ONNX Runtime would open that path as the daemon).
//!
//! Skipped (loudly) only when python3 with the `onnx` package and
//! onnxruntime is absent; CI installs them.

use std::path::Path;
use std::process::Command;

use mld::model::{ModelError, Registry};
use ndarray::Array2;

fn crafted(dir: &Path) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import onnx, onnxruntime"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "\n\n*** SKIPPED: python3 with onnx and onnxruntime not found (pip install skl2onnx onnxruntime) ***\n"
        );
        return false;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/crafted_onnx.py");
    let status = Command::new("python3")
        .arg(script)
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "crafted_onnx.py failed");
    true
}

fn features() -> Vec<String> {
    vec!["a".into(), "b".into()]
}

fn labels() -> Option<Vec<String>> {
    Some(vec!["0".into(), "1".into()])
}

#[test]
fn outputs_shorter_than_the_batch_are_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    if !crafted(dir.path()) {
        return;
    }
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    let rows = Array2::from_shape_fn((100, 2), |(i, j)| (i * 2 + j) as f64 / 10.0);
    for (name, what) in [
        ("short_probs", "1 rows of probabilities for 100 rows"),
        ("short_labels", "1 labels for 100 rows"),
    ] {
        let bytes = std::fs::read(dir.path().join(format!("{name}.onnx"))).unwrap();
        // The import's own check scores one row, which these graphs get right.
        let v = registry
            .import_onnx(name, &bytes, features(), labels())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let model = registry.load(name, v.version).unwrap();
        let binding = model.bind(&features()).unwrap();
        let err = model.predict(&binding, rows.view()).unwrap_err();
        assert!(matches!(err, ModelError::OnnxRun { .. }), "{name}: {err}");
        assert!(err.to_string().contains(what), "{name}: {err}");
        // One row at a time still scores: the model is not broken, the batch was refused.
        let one = model
            .predict(&binding, rows.slice(ndarray::s![..1, ..]))
            .unwrap();
        assert_eq!(one.len(), 1);
    }
}

#[test]
fn a_graph_with_external_weights_is_refused_at_import() {
    let dir = tempfile::tempdir().unwrap();
    if !crafted(dir.path()) {
        return;
    }
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    let bytes = std::fs::read(dir.path().join("external.onnx")).unwrap();
    let err = registry
        .import_onnx("external", &bytes, features(), labels())
        .unwrap_err();
    assert!(matches!(err, ModelError::OnnxUnsupported { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("\"W\" keeps its data in an external file"),
        "{msg}"
    );
    assert!(msg.contains("save_as_external_data=False"), "{msg}");
    assert!(registry.list().unwrap().is_empty(), "nothing was kept");
}
