//! Text labels read from the probabilities: for a `LinearClassifier` graph
//! (logistic regression, linear SVM, a scaler before them) mld takes each
//! row's class from its probability row instead of reading a string per row
//! from ONNX Runtime, and asks the graph only about rows too close to call.
//! It must give exactly ONNX Runtime's label and probability on every row:
//! graphs made by daemon/tests/scripts/linear_onnx.py with exact ties, 0.5
//! against 0.5, probabilities that round equal while one score is greater,
//! and scikit-learn's own exports; graphs whose probabilities do not say the
//! label (SOFTMAX_ZERO, one score for two classes) keep reading the label.
//!
//! Skipped (loudly) only when python3 with scikit-learn, skl2onnx and
//! onnxruntime is absent; CI installs them.

use std::path::Path;
use std::process::Command;

use mld::model::Registry;
use ndarray::Array2;

#[derive(serde::Deserialize)]
struct Entry {
    name: String,
    argmax: bool,
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn labels_read_from_probabilities_are_onnx_runtimes_on_every_row_ties_included() {
    let ok = Command::new("python3")
        .args(["-c", "import onnx, onnxruntime, sklearn, skl2onnx"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "\n\n*** SKIPPED: python3 with onnx, onnxruntime, scikit-learn and skl2onnx not found (pip install scikit-learn skl2onnx onnxruntime) ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("linear");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/linear_onnx.py");
    let status = Command::new("python3")
        .arg(script)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "linear_onnx.py failed");
    let manifest: Vec<Entry> =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.iter().filter(|e| e.argmax).count() >= 8);
    assert!(manifest.iter().any(|e| !e.argmax));

    let mut values = Vec::new();
    let rows_text = lines(&out.join("rows.csv"));
    for line in &rows_text[1..] {
        values.extend(line.split(',').map(|v| v.parse::<f64>().unwrap()));
    }
    let n = rows_text.len() - 1;
    // More than two chunks of 8,192 rows.
    assert!(n > 2 * 8192, "{n} rows");
    let rows = Array2::from_shape_vec((n, 2), values).unwrap();
    let columns = ["x0", "x1"];
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();

    for entry in &manifest {
        let bytes = std::fs::read(out.join(format!("{}.onnx", entry.name))).unwrap();
        let v = registry
            .import_onnx(
                &entry.name,
                &bytes,
                columns.iter().map(|c| c.to_string()).collect(),
                None,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        let model = registry.load(&entry.name, v.version).unwrap();
        assert_eq!(
            model.onnx_labels_from_probabilities(),
            entry.argmax,
            "{}: labels read from the probabilities",
            entry.name
        );
        let binding = model.bind(&columns).unwrap();
        let predictions = model.predict(&binding, rows.view()).unwrap();
        let labels = lines(&out.join(format!("{}.labels", entry.name)));
        let scores = lines(&out.join(format!("{}.scores", entry.name)));
        assert_eq!(predictions.len(), n);
        let mut wrong = Vec::new();
        for (r, p) in predictions.iter().enumerate() {
            let want_score = f64::from(scores[r].parse::<f32>().unwrap());
            let score = p.score().unwrap();
            // NaN (a normalizer dividing by 0) equals NaN here.
            let same_score = score == want_score || (score.is_nan() && want_score.is_nan());
            if p.label().unwrap().as_ref() != labels[r] || !same_score {
                wrong.push(format!(
                    "row {r} {:?}: mld {} {score}, onnxruntime {} {want_score}",
                    rows.row(r).to_vec(),
                    p.label().unwrap(),
                    labels[r]
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{}: {} of {n} rows differ from onnxruntime, e.g. {:?}",
            entry.name,
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        );
        // Row by row (as the showroom scores): the same labels.
        for r in (0..256).chain((8000..8400).step_by(7)) {
            let one = model
                .predict(&binding, rows.slice(ndarray::s![r..r + 1, ..]))
                .unwrap();
            assert_eq!(
                one[0].label().unwrap().as_ref(),
                labels[r],
                "{}: row {r} alone",
                entry.name
            );
        }
    }
}
