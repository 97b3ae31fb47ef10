//! Models as users bring them: scikit-learn regressors and pipelines over
//! numeric and text columns (ColumnTransformer: OneHotEncoder on two text
//! columns, StandardScaler on three numbers), exported with skl2onnx, give in
//! mld what they give in scikit-learn on 2,000 rows — labels equal, values
//! equal within float32 tolerance — including rows with categories the
//! encoder never saw and NULLs, which follow the encoder's `handle_unknown`.
//!
//! One exception, the graph's own: skl2onnx runs the StandardScaler in
//! float32, so before a tree a scaled value can land on the other side of a
//! threshold than scikit-learn's float64 one. mld must then say exactly what
//! ONNX Runtime (Python) says for the same graph; the rows where that
//! differs from scikit-learn are counted and bounded, and on every other row
//! mld equals scikit-learn.
//!
//! Runs daemon/benches/scripts/sklearn_mixed.py. Skipped (loudly) only when
//! python3 with scikit-learn and skl2onnx is absent; CI has them.

mod models_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use mld::model::input::{OwnedInputs, Value};
use mld::model::{Algorithm, FeatureKind, ModelError, Registry, Task};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scripts/sklearn_mixed.py")
}

fn python_has_sklearn() -> bool {
    Command::new("python3")
        .args(["-c", "import sklearn, skl2onnx, onnxruntime"])
        .status()
        .is_ok_and(|s| s.success())
}

#[derive(serde::Deserialize)]
struct Entry {
    kind: String,
    onnx: String,
    task: String,
    features: Option<Vec<String>>,
    feature_types: Vec<String>,
    labels: Vec<String>,
}

/// rows.csv as the datalake would hand it over: id and the numbers as
/// numbers, plan and country as text (an empty cell is NULL).
fn read_rows(path: &Path) -> (Vec<String>, OwnedInputs) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let kinds: Vec<FeatureKind> = header
        .iter()
        .map(|c| match c.as_str() {
            "plan" | "country" => FeatureKind::Text,
            _ => FeatureKind::Number,
        })
        .collect();
    let rows: Vec<Vec<Value>> = r
        .records()
        .map(|rec| {
            rec.unwrap()
                .iter()
                .zip(&kinds)
                .map(|(cell, kind)| match kind {
                    FeatureKind::Number => Value::Number(cell.parse().unwrap()),
                    FeatureKind::Text if cell.is_empty() => Value::Null,
                    FeatureKind::Text => Value::Text(cell.to_string()),
                })
                .collect()
        })
        .collect();
    (header, OwnedInputs::from_rows(&rows, &kinds))
}

/// Values agree within float32 tolerance: ONNX computes in float32.
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-4 * want.abs().max(1.0)
}

#[test]
fn sklearn_regressors_and_mixed_pipelines_predict_in_mld_what_they_predict_in_sklearn() {
    if !python_has_sklearn() {
        eprintln!(
            "\n\n*** SKIPPED sklearn_regressors_and_mixed_pipelines_predict_in_mld_what_they_predict_in_sklearn: python3 with scikit-learn, skl2onnx and onnxruntime not found ***\n"
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
    assert!(status.success(), "sklearn_mixed.py failed");
    let manifest: Vec<Entry> =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let (columns, rows) = read_rows(&out.join("rows.csv"));
    assert_eq!(rows.numbers.nrows(), 2000);
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    for kind in [
        "linear_regression",
        "random_forest_regressor",
        "gradient_boosting_regressor",
        "mixed_logistic",
        "mixed_forest_regressor",
        "mixed_logistic_strict",
        "text_linear_regression",
    ] {
        assert!(
            manifest.iter().any(|e| e.kind == kind),
            "the script must export {kind}"
        );
    }
    // The rows with an unseen category or a NULL in a text column.
    let plan = rows.texts.get(4).unwrap();
    let country = rows.texts.get(5).unwrap();
    let odd: Vec<bool> = (0..2000)
        .map(|r| {
            let p = plan.get(r);
            let c = country.get(r);
            p.is_none() || c.is_none() || p == Some("legacy") || c == Some("atlantis")
        })
        .collect();
    let n_odd = odd.iter().filter(|o| **o).count();
    assert!(
        n_odd > 100,
        "the rows hold unseen categories and NULLs: {n_odd}"
    );

    for entry in &manifest {
        let bytes = std::fs::read(out.join(&entry.onnx)).unwrap();
        // No labels given: a regressor has none, the classifiers' graphs name theirs.
        let v = registry
            .import_onnx(
                &entry.kind,
                &bytes,
                entry.features.clone().unwrap_or_default(),
                None,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", entry.kind));
        let model = registry.load(&entry.kind, v.version).unwrap();
        assert_eq!(model.meta().algorithm, Algorithm::Onnx);
        let want_task = match entry.task.as_str() {
            "regression" => Task::Regression,
            _ => Task::Classification,
        };
        assert_eq!(model.task(), want_task, "{}", entry.kind);
        // Names and types read from the graph (per-column inputs) or given.
        let names = entry.features.clone().unwrap_or_else(|| {
            ["tenure", "spend", "visits", "plan", "country"]
                .map(String::from)
                .to_vec()
        });
        assert_eq!(model.features(), names.as_slice(), "{}", entry.kind);
        let types: Vec<&str> = model.feature_kinds().iter().map(|k| k.name()).collect();
        assert_eq!(types, entry.feature_types, "{}", entry.kind);
        assert_eq!(model.labels(), entry.labels.as_slice(), "{}", entry.kind);

        let binding = model.bind(&columns).unwrap();
        let scoring = model.score(&binding, rows.view()).unwrap();
        let lines = |ext: &str| -> Vec<String> {
            std::fs::read_to_string(out.join(format!("{}.{ext}", entry.kind)))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect()
        };
        let expected = lines("pred");
        let ort = lines("ort");
        assert_eq!(expected.len(), 2000);
        assert_eq!(ort.len(), 2000);
        let refused: std::collections::HashMap<usize, &str> = scoring
            .refused
            .iter()
            .map(|(r, why)| (*r, why.as_str()))
            .collect();
        assert_eq!(
            scoring.predictions.len() + refused.len(),
            2000,
            "{}: every row scored or refused",
            entry.kind
        );
        let mut predictions = scoring.predictions.iter();
        let mut mismatches = Vec::new();
        let mut graph_differs = 0;
        let same_as = |p: &mld::model::Prediction, want: &str| match want_task {
            Task::Classification => p.label().is_some_and(|l| l.as_ref() == want),
            Task::Regression => p
                .value()
                .is_some_and(|v| close(v, want.parse::<f64>().unwrap())),
        };
        for (r, want) in expected.iter().enumerate() {
            if want == "!refused" {
                let why = refused.get(&r).unwrap_or_else(|| {
                    panic!(
                        "{}: row {r} must be refused, as sklearn refuses it",
                        entry.kind
                    )
                });
                assert!(
                    why.contains("handle_unknown='error'")
                        && (why.contains("plan") || why.contains("country")),
                    "{}: row {r}: the reason names the column and the encoder's rule: {why}",
                    entry.kind
                );
                continue;
            }
            assert!(
                !refused.contains_key(&r),
                "{}: row {r} refused: {:?}",
                entry.kind,
                refused.get(&r)
            );
            let p = predictions.next().unwrap();
            // Always what ONNX Runtime says for the graph.
            if !same_as(p, &ort[r]) {
                mismatches.push(format!("row {r}: mld {p:?}, onnxruntime {}", ort[r]));
            }
            // And scikit-learn's, unless the graph itself differs there.
            let graph_agrees = match want_task {
                Task::Classification => ort[r] == *want,
                Task::Regression => close(ort[r].parse().unwrap(), want.parse().unwrap()),
            };
            if !graph_agrees {
                graph_differs += 1;
            } else if !same_as(p, want) {
                mismatches.push(format!("row {r}: mld {p:?}, sklearn {want}"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{}: {} of 2000 rows differ, e.g. {:?}",
            entry.kind,
            mismatches.len(),
            &mismatches[..mismatches.len().min(5)]
        );
        // Only the scaler-before-trees graph differs from scikit-learn, and rarely.
        let bound = if entry.kind == "mixed_forest_regressor" {
            200
        } else {
            0
        };
        assert!(
            graph_differs <= bound,
            "{}: the graph differs from scikit-learn on {graph_differs} rows",
            entry.kind
        );
        if entry.kind == "mixed_logistic_strict" {
            // Exactly the rows with an unseen category or a NULL.
            let want: Vec<usize> = (0..2000).filter(|r| odd[*r]).collect();
            let mut got: Vec<usize> = refused.keys().copied().collect();
            got.sort();
            assert_eq!(got, want);
        } else {
            assert!(refused.is_empty(), "{}: {:?}", entry.kind, refused);
        }
    }

    // Named features must fit the graph: a regressor given labels is refused;
    // a per-column graph given fewer names is refused with both counts.
    let lr = std::fs::read(out.join("linear_regression.onnx")).unwrap();
    let err = registry
        .import_onnx(
            "labelled",
            &lr,
            vec!["tenure".into(), "spend".into(), "visits".into()],
            Some(vec!["a".into()]),
        )
        .unwrap_err();
    assert!(matches!(err, ModelError::Labels { .. }), "{err}");
    assert!(err.to_string().contains("regressor"), "{err}");
    // A graph whose one input holds three columns needs their names.
    let err = registry
        .import_onnx("unnamed", &lr, vec![], None)
        .unwrap_err();
    assert!(err.to_string().contains("holds 3 columns"), "{err}");
    // A number where the graph takes text is refused at scoring with the feature named.
    let mixed = registry.load("mixed_logistic", 1).unwrap();
    let numbers_only = ndarray::Array2::<f64>::zeros((2, 6));
    let err = mixed
        .score(&mixed.bind(&columns).unwrap(), numbers_only.view())
        .unwrap_err();
    assert!(err.to_string().contains("plan"), "{err}");
}
