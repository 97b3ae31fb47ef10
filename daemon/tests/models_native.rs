//! Native models end to end: every algorithm is trained on real data, stored,
//! loaded back and must predict exactly as before; same seed, same model;
//! features bind by name, never position.

mod models_common;

use mld::model::{Algorithm, ModelError, ParamValue, Registry, Scaling};
use mld::training::dataset::load_csv;
use models_common::*;
use ndarray::{Array2, Axis};

fn datasets(dir: &std::path::Path) -> mld::training::Catalog {
    catalog(vec![
        ("iris", csv_dataset(&iris_csv(), "species")),
        ("blobs", csv_dataset(&blobs_csv(dir, 400), "label")),
    ])
}

#[test]
fn every_algorithm_trains_saves_loads_and_predicts_identically() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = datasets(dir.path());
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    let blobs = load_csv("blobs", &dir.path().join("blobs.csv"), "label", None).unwrap();
    let iris = load_csv("iris", &iris_csv(), "species", None).unwrap();

    for algorithm in classifiers() {
        for (dataset, data, min_accuracy) in [("iris", &iris, 0.85), ("blobs", &blobs, 0.7)] {
            let req = request(dataset, algorithm, &quick_params(algorithm));
            let trained = train_ok(&catalog, &req);
            let metrics = trained.meta.metrics.clone().unwrap();
            assert!(
                metrics.accuracy >= min_accuracy,
                "{algorithm} on {dataset}: accuracy {} below {min_accuracy}",
                metrics.accuracy
            );
            let before = trained.model();
            let binding = before.bind(&data.features).unwrap();
            let expected = before.predict(&binding, data.x.view()).unwrap();

            let id = registry
                .save_experiment(trained.meta.clone(), &trained.artifact)
                .unwrap();
            let name = format!("{dataset}-{algorithm}");
            let v = registry.commit_experiment(&id, &name).unwrap();
            assert_eq!(v.version, 1);
            let loaded = registry.load(&name, 1).unwrap();
            assert_eq!(loaded.meta().algorithm, algorithm);
            assert_eq!(loaded.features(), data.features.as_slice());
            assert_eq!(loaded.labels(), data.classes.as_slice());
            let got = loaded
                .predict(&loaded.bind(&data.features).unwrap(), data.x.view())
                .unwrap();
            assert_eq!(
                got, expected,
                "{algorithm} on {dataset}: predictions changed after save/load"
            );
            assert!(
                got.iter()
                    .all(|p| p.label().unwrap().as_ref() == data.classes[p.class_index().unwrap()])
            );
            if algorithm != Algorithm::Svm {
                assert!(
                    got.iter()
                        .all(|p| p.score().unwrap() > 0.0 && p.score().unwrap() <= 1.0),
                    "{algorithm}: score is a probability"
                );
            }
        }
    }
}

#[test]
fn same_seed_same_model_for_every_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = datasets(dir.path());
    for algorithm in classifiers() {
        let req = request("iris", algorithm, &quick_params(algorithm));
        let a = train_ok(&catalog, &req);
        let b = train_ok(&catalog, &req);
        assert_eq!(
            a.artifact, b.artifact,
            "{algorithm}: retraining with the same seed changed the model"
        );
        assert_eq!(a.meta.content_sha256, b.meta.content_sha256);
        assert_eq!(a.meta.training, b.meta.training);
        assert_eq!(a.meta.metrics, b.meta.metrics);
    }
    // A different seed draws another split (fingerprint) and other bootstrap samples.
    let mut req = request(
        "iris",
        Algorithm::RandomForest,
        &quick_params(Algorithm::RandomForest),
    );
    let a = train_ok(&catalog, &req);
    req.seed = 8;
    let b = train_ok(&catalog, &req);
    assert_ne!(
        a.meta.training.unwrap().fingerprint,
        b.meta.training.unwrap().fingerprint
    );
    assert_ne!(a.artifact, b.artifact);
}

#[test]
fn features_bind_by_name_not_position() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = datasets(dir.path());
    let trained = train_ok(
        &catalog,
        &request("iris", Algorithm::LogisticRegression, &[]),
    );
    let model = trained.model();
    let iris = load_csv("iris", &iris_csv(), "species", None).unwrap();
    let expected = model
        .predict(&model.bind(&iris.features).unwrap(), iris.x.view())
        .unwrap();

    // Reversed columns plus an extra one the model ignores.
    let mut columns: Vec<String> = iris.features.iter().rev().cloned().collect();
    columns.push("row_id".to_string());
    let mut shuffled = iris.x.slice(ndarray::s![.., ..;-1]).to_owned();
    shuffled
        .push_column(ndarray::Array1::from_elem(iris.x.nrows(), 99.0).view())
        .unwrap();
    let binding = model.bind(&columns).unwrap();
    assert_eq!(binding.columns(), &[3, 2, 1, 0]);
    assert_eq!(model.predict(&binding, shuffled.view()).unwrap(), expected);

    // Missing features are named, all of them.
    let err = model.bind(&["petal_width", "sepal_length"]).unwrap_err();
    match err {
        ModelError::MissingFeatures { names } => {
            assert_eq!(names, vec!["sepal_width", "petal_length"])
        }
        other => panic!("expected MissingFeatures, got {other}"),
    }
    // A batch whose width differs from the bound columns is refused, not misread.
    let narrow = Array2::<f64>::zeros((2, 3));
    assert!(matches!(
        model.predict(&binding, narrow.view()),
        Err(ModelError::ColumnCount {
            expected: 5,
            got: 3
        })
    ));
}

#[test]
fn scaling_is_fitted_on_the_training_split_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = datasets(dir.path());
    let iris = load_csv("iris", &iris_csv(), "species", None).unwrap();
    for (choice, scaling) in [
        ("minmax", Scaling::MinMax),
        ("standard", Scaling::Standard),
        ("none", Scaling::None),
    ] {
        let req = request(
            "iris",
            Algorithm::GaussianNb,
            &[("scaling", ParamValue::Text(choice.into()))],
        );
        let trained = train_ok(&catalog, &req);
        assert_eq!(trained.meta.scaling, scaling);
        match (&trained.artifact.scaler, scaling) {
            (None, Scaling::None) => {}
            (Some(s), Scaling::MinMax) => {
                // Offsets are minima of the training rows: at least the global minimum, never below it.
                for (j, col) in iris.x.axis_iter(Axis(1)).enumerate() {
                    let min = col.iter().copied().fold(f64::INFINITY, f64::min);
                    assert!(s.offsets[j] >= min);
                    assert!(s.factors[j] > 0.0);
                }
            }
            (Some(s), Scaling::Standard) => assert!(s.factors.iter().all(|f| *f > 0.0)),
            other => panic!("unexpected scaler {other:?}"),
        }
    }
}

#[test]
fn batch_of_ten_thousand_rows_scores_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = datasets(dir.path());
    let trained = train_ok(
        &catalog,
        &request(
            "iris",
            Algorithm::RandomForest,
            &quick_params(Algorithm::RandomForest),
        ),
    );
    let model = trained.model();
    let iris = load_csv("iris", &iris_csv(), "species", None).unwrap();
    let rows = ndarray::concatenate(Axis(0), &vec![iris.x.view(); 67]).unwrap();
    let p = model
        .predict(&model.bind(&iris.features).unwrap(), rows.view())
        .unwrap();
    assert_eq!(p.len(), 150 * 67);
    assert_eq!(&p[..150], &p[150..300]);
}

/// The native classifiers (the regressors have their own tests: models_regression.rs).
fn classifiers() -> impl Iterator<Item = Algorithm> {
    Algorithm::NATIVE
        .into_iter()
        .filter(|a| a.task() == mld::model::Task::Classification)
}
