//! A kernel SVM artifact whose support vectors do not have the model's
//! feature count is refused at load, like every other native artifact whose
//! shapes disagree: scoring it would panic inside linfa.

mod models_common;

use mld::model::{Algorithm, ModelError, NativeArtifact, ParamValue, Registry};
use ndarray::Array2;

#[test]
fn a_kernel_svm_with_the_wrong_width_is_refused_at_load() {
    let catalog = models_common::catalog(vec![(
        "iris",
        models_common::csv_dataset(&models_common::iris_csv(), "species"),
    )]);
    let t = models_common::train_ok(
        &catalog,
        &models_common::request(
            "iris",
            Algorithm::Svm,
            &[("kernel", ParamValue::Text("gaussian".into()))],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    registry
        .commit_as("svm", 1, t.meta.clone(), &t.artifact)
        .unwrap();
    // The honest artifact loads and scores.
    let model = registry.load("svm", 1).unwrap();
    let rows = Array2::from_shape_fn((10, 4), |(i, j)| 1.0 + (i + j) as f64 / 10.0);
    let columns = model.features().to_vec();
    assert_eq!(
        model
            .predict(&model.bind(&columns).unwrap(), rows.view())
            .unwrap()
            .len(),
        10
    );

    // Support vectors cut to 3 of the 4 features, hash recomputed: a
    // well-formed artifact that lies about its shape.
    let mut json = serde_json::to_value(&t.artifact).unwrap();
    let mut cut = 0;
    let mut stack = vec![&mut json];
    while let Some(v) = stack.pop() {
        if let Some(m) = v.get_mut("WeightedCombination") {
            let dim = m["dim"].as_array().unwrap().clone();
            let (r, c) = (dim[0].as_u64().unwrap(), dim[1].as_u64().unwrap());
            let data: Vec<serde_json::Value> = m["data"]
                .as_array()
                .unwrap()
                .chunks(c as usize)
                .flat_map(|row| row[..c as usize - 1].to_vec())
                .collect();
            m["dim"] = serde_json::json!([r, c - 1]);
            m["data"] = serde_json::Value::Array(data);
            cut += 1;
            continue;
        }
        match v {
            serde_json::Value::Object(o) => stack.extend(o.values_mut()),
            serde_json::Value::Array(a) => stack.extend(a.iter_mut()),
            _ => {}
        }
    }
    assert!(cut > 0, "the SVM has kernel machines to cut");
    let tampered: NativeArtifact = serde_json::from_value(json).unwrap();
    registry.commit_as("svm", 2, t.meta, &tampered).unwrap();
    let err = registry.load("svm", 2).unwrap_err();
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("predictor does not fit 4 features"),
        "{err}"
    );
}
