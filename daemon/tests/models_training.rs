//! Training requests, the catalog, metrics, experiments and the demo model.

mod models_common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use mld::model::{Algorithm, ParamValue, Registry, VersionStatus};
use mld::training::metrics::{confusion_matrix, evaluate};
use mld::training::{Catalog, Stage, Task, TrainRequest, TrainingError, train, train_experiment};
use mld_shared::config::DatasetConfig;
use models_common::*;

fn test_catalog(dir: &std::path::Path) -> Catalog {
    // A numeric, non-integer label makes a regression dataset.
    let reg = dir.join("prices.csv");
    std::fs::write(
        &reg,
        "size,rooms,price\n50,2,100.5\n70,3,150.25\n90,4,199.9\n",
    )
    .unwrap();
    let query = DatasetConfig {
        description: None,
        csv: None,
        datalake: Some("lake".into()),
        query: Some("SELECT a, b, label FROM t".into()),
        label: "label".into(),
        features: Some(vec!["a".into(), "b".into()]),
        task: None,
    };
    catalog(vec![
        ("iris", csv_dataset(&iris_csv(), "species")),
        ("prices", csv_dataset(&reg, "price")),
        ("lake", query),
    ])
}

/// Asserts the request is refused with exactly one violation on `field`.
fn refused_on(catalog: &Catalog, req: &TrainRequest, field: &str) -> String {
    match catalog.validate(req) {
        Err(TrainingError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1, "expected one violation, got {errors:?}");
            assert_eq!(errors[0].field, field, "{errors:?}");
            errors[0].message.clone()
        }
        other => panic!("expected a refusal on {field}, got {other:?}"),
    }
}

#[test]
fn each_validation_rule_names_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = test_catalog(dir.path());
    let ok = request("iris", Algorithm::DecisionTree, &[]);
    let valid = catalog.validate(&ok).unwrap();
    assert_eq!(
        valid.hyperparameters["max_depth"],
        ParamValue::Int(0),
        "defaults are filled in"
    );

    let msg = refused_on(
        &catalog,
        &TrainRequest {
            dataset: "nope".into(),
            ..ok.clone()
        },
        "dataset",
    );
    assert!(msg.contains("nope"));
    let msg = refused_on(
        &catalog,
        &TrainRequest {
            model: "deep_net".into(),
            ..ok.clone()
        },
        "model",
    );
    assert!(
        msg.contains("deep_net") && msg.contains("random_forest"),
        "{msg}"
    );
    let msg = refused_on(
        &catalog,
        &TrainRequest {
            dataset: "prices".into(),
            ..ok.clone()
        },
        "model",
    );
    assert!(
        msg.contains("classification") && msg.contains("regression"),
        "{msg}"
    );
    let msg = refused_on(
        &catalog,
        &TrainRequest {
            dataset: "lake".into(),
            ..ok.clone()
        },
        "dataset",
    );
    // The catalog was given no datalakes: the query dataset is listed, unusable.
    assert!(msg.contains("no datalake named \"lake\""), "{msg}");

    let with = |k: &str, v: ParamValue| request("iris", Algorithm::DecisionTree, &[(k, v)]);
    let msg = refused_on(
        &catalog,
        &with("learning_rate", ParamValue::Float(0.1)),
        "hyperparameters.learning_rate",
    );
    assert!(msg.contains("max_depth"), "lists the known ones: {msg}");
    let msg = refused_on(
        &catalog,
        &with("max_depth", ParamValue::Float(2.5)),
        "hyperparameters.max_depth",
    );
    assert!(msg.contains("expected int"), "{msg}");
    let msg = refused_on(
        &catalog,
        &with("max_depth", ParamValue::Int(101)),
        "hyperparameters.max_depth",
    );
    assert!(msg.contains("out of range"), "{msg}");
    let msg = refused_on(
        &catalog,
        &with("split_quality", ParamValue::Text("chaos".into())),
        "hyperparameters.split_quality",
    );
    assert!(msg.contains("gini"), "{msg}");
    refused_on(
        &catalog,
        &with("min_weight_leaf", ParamValue::Float(0.5)),
        "hyperparameters.min_weight_leaf",
    );
    // An int where a float is expected is widened, not refused.
    assert!(
        catalog
            .validate(&with("min_weight_leaf", ParamValue::Int(3)))
            .is_ok()
    );

    for split in [0.0, 1.0, -0.2, 1.5, f64::NAN] {
        refused_on(
            &catalog,
            &TrainRequest {
                test_split: split,
                ..ok.clone()
            },
            "test_split",
        );
    }
    // Several violations are all reported at once.
    let bad = TrainRequest {
        dataset: "nope".into(),
        test_split: 2.0,
        ..with("max_depth", ParamValue::Bool(true))
    };
    let fields: Vec<String> = catalog
        .validate(&bad)
        .unwrap_err()
        .field_errors()
        .iter()
        .map(|e| e.field.clone())
        .collect();
    assert_eq!(
        fields,
        ["dataset", "hyperparameters.max_depth", "test_split"]
    );
}

#[test]
fn catalog_describes_datasets_models_and_metrics_and_serializes() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = test_catalog(dir.path());
    let iris = catalog.dataset("iris").unwrap();
    assert_eq!(iris.task, Some(Task::Classification));
    assert_eq!(iris.records, 150);
    assert_eq!(
        iris.features,
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    assert_eq!(iris.classes, ["setosa", "versicolor", "virginica"]);
    assert!(!iris.preprocessing.is_empty());
    assert_eq!(
        catalog.dataset("prices").unwrap().task,
        Some(Task::Regression)
    );
    assert!(
        catalog
            .dataset("lake")
            .unwrap()
            .problem
            .as_deref()
            .unwrap()
            .contains("no datalake named")
    );
    let names: Vec<&str> = catalog.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "logistic_regression",
            "decision_tree",
            "gaussian_nb",
            "svm",
            "random_forest",
            "linear_regression",
            "ridge",
            "elastic_net",
            "decision_tree_regressor",
            "random_forest_regressor"
        ]
    );
    for m in &catalog.models {
        assert_eq!(m.task, m.algorithm.task(), "{}", m.name);
        for h in &m.hyperparameters {
            // Every default passes its own validation (on a dataset of the model's task).
            let dataset = match m.task {
                Task::Classification => "iris",
                Task::Regression => "prices",
            };
            let req = request(dataset, m.algorithm, &[(&h.name, h.default.clone())]);
            assert!(
                catalog.validate(&req).is_ok(),
                "{} default of {} is invalid",
                h.name,
                m.name
            );
        }
    }
    let metric_names: Vec<&str> = catalog.metrics.iter().map(|m| m.name.as_str()).collect();
    assert!(metric_names.contains(&"f1") && metric_names.contains(&"confusion_matrix"));
    for m in ["mae", "rmse", "r2"] {
        assert!(metric_names.contains(&m), "{m}");
    }
    let json = serde_json::to_string(&catalog).unwrap();
    let back: Catalog = serde_json::from_str(&json).unwrap();
    assert_eq!(back.models, catalog.models);
    assert_eq!(back.datasets, catalog.datasets);
}

#[test]
fn metrics_match_a_hand_computed_confusion_matrix() {
    let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let truth = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    let pred = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];
    // By hand: rows = truth, columns = predicted.
    let expected = vec![vec![2, 1, 1], vec![1, 2, 0], vec![0, 1, 2]];
    assert_eq!(confusion_matrix(3, &truth, &pred), expected);
    let m = evaluate(&labels, &truth, &pred);
    assert_eq!(m.confusion, expected);
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} != {b}");
    close(m.accuracy, 6.0 / 10.0);
    // a: tp 2, predicted 3, actual 4; b: tp 2, predicted 4, actual 3; c: tp 2, predicted 3, actual 3.
    close(m.per_class[0].precision, 2.0 / 3.0);
    close(m.per_class[0].recall, 2.0 / 4.0);
    close(
        m.per_class[0].f1,
        2.0 * (2.0 / 3.0) * 0.5 / (2.0 / 3.0 + 0.5),
    );
    close(m.per_class[1].precision, 2.0 / 4.0);
    close(m.per_class[1].recall, 2.0 / 3.0);
    close(m.per_class[2].precision, 2.0 / 3.0);
    close(m.per_class[2].recall, 2.0 / 3.0);
    close(m.per_class[2].f1, 2.0 / 3.0);
    assert_eq!(
        m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(),
        [4, 3, 3]
    );
    close(m.macro_precision, (2.0 / 3.0 + 0.5 + 2.0 / 3.0) / 3.0);
    close(m.macro_recall, (0.5 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0);
    close(
        m.macro_f1,
        m.per_class.iter().map(|c| c.f1).sum::<f64>() / 3.0,
    );
    // A class never predicted has precision 0, not NaN.
    let m = evaluate(&labels, &[0, 1, 2], &[0, 0, 0]);
    assert_eq!(m.per_class[1].precision, 0.0);
    assert_eq!(m.per_class[1].f1, 0.0);
}

#[test]
fn training_reports_progress_and_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = test_catalog(dir.path());
    let req = request(
        "iris",
        Algorithm::RandomForest,
        &[("n_trees", ParamValue::Int(20))],
    );
    let mut seen = Vec::new();
    train(
        &catalog,
        &req,
        &mut |p| seen.push(p),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(seen.first().unwrap().stage, Stage::Loading);
    assert_eq!(seen.last().unwrap().stage, Stage::Done);
    assert!(
        seen.windows(2).all(|w| w[0].fraction <= w[1].fraction),
        "progress never goes back"
    );
    assert!(
        seen.iter().filter(|p| p.stage == Stage::Fitting).count() >= 20,
        "one report per tree"
    );

    // Cancel from "another thread" once fitting has started.
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let result = train(
        &catalog,
        &req,
        &mut |p| {
            if p.stage == Stage::Fitting && p.fraction > 0.3 {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert!(
        matches!(result, Err(TrainingError::Cancelled)),
        "{result:?}"
    );
}

#[test]
fn experiments_are_kept_listed_inspected_deleted_and_committed() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = test_catalog(dir.path());
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    let no = AtomicBool::new(false);
    let (a, meta_a) = train_experiment(
        &catalog,
        &registry,
        &request("iris", Algorithm::GaussianNb, &[]),
        &mut |_| {},
        &no,
    )
    .unwrap();
    let (b, _) = train_experiment(
        &catalog,
        &registry,
        &request("iris", Algorithm::DecisionTree, &[]),
        &mut |_| {},
        &no,
    )
    .unwrap();
    let (c, _) = train_experiment(
        &catalog,
        &registry,
        &request("iris", Algorithm::Svm, &[]),
        &mut |_| {},
        &no,
    )
    .unwrap();
    assert_eq!(meta_a.version, 0);
    assert!(meta_a.metrics.is_some() && meta_a.training.is_some());
    let listed: Vec<_> = registry
        .experiments()
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed.len(), 3);
    assert!(listed.contains(&a) && listed.contains(&b) && listed.contains(&c));
    assert_eq!(
        registry.experiment(&a).unwrap().algorithm,
        Algorithm::GaussianNb
    );
    // An experiment can be tried before committing.
    let model = registry.load_experiment(&b).unwrap();
    assert_eq!(model.meta().algorithm, Algorithm::DecisionTree);

    registry.delete_experiment(&c).unwrap();
    assert!(registry.experiment(&c).is_err());
    assert_eq!(
        registry.commit_experiment(&a, "flowers").unwrap().version,
        1
    );
    let v2 = registry.commit_experiment(&b, "flowers").unwrap();
    assert_eq!(v2.version, 2);
    assert!(
        registry.experiments().unwrap().is_empty(),
        "committed experiments leave the list"
    );
    let entry = registry.entry("flowers").unwrap();
    assert_eq!(entry.versions.len(), 2);
    match &entry.versions[1].status {
        VersionStatus::Ok(meta) => {
            assert_eq!((meta.name.as_str(), meta.version), ("flowers", 2));
            assert_eq!(meta.content_sha256, v2.content_sha256);
        }
        broken => panic!("{broken:?}"),
    }
    // Committing an experiment id twice (it is gone) is an error, not a new version.
    assert!(registry.commit_experiment(&a, "flowers").is_err());
    assert!(
        registry
            .delete_experiment(&mld::model::ExperimentId("../flowers".into()))
            .is_err()
    );
}

#[test]
fn demo_iris_model_is_version_one_and_active_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    let v = mld::training::demo::ensure_iris_model(&registry, &iris_csv()).unwrap();
    assert_eq!((v.name.as_str(), v.version), ("iris", 1));
    assert_eq!(registry.active("iris").unwrap(), Some(1));
    let model = registry.load_active("iris").unwrap();
    assert!(model.meta().metrics.as_ref().unwrap().accuracy > 0.9);
    let again = mld::training::demo::ensure_iris_model(&registry, &iris_csv()).unwrap();
    assert_eq!(again, v, "a second call changes nothing");
    // Same seed in a fresh registry: the very same artifact.
    let other = Registry::open(dir.path().join("other"), None).unwrap();
    assert_eq!(
        mld::training::demo::ensure_iris_model(&other, &iris_csv())
            .unwrap()
            .content_sha256,
        v.content_sha256
    );
}

#[test]
fn the_demo_config_catalog_lists_iris_and_trains_it() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/mld.toml");
    let config = mld_shared::config::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
    let catalog = Catalog::from_config(&config.models);
    let iris = catalog
        .dataset("iris")
        .expect("config/mld.toml declares the iris dataset");
    assert_eq!(iris.records, 150);
    assert_eq!(iris.problem, None);
    let req = request("iris", Algorithm::LogisticRegression, &[]);
    let trained = train(&catalog, &req, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(trained.meta.metrics.unwrap().accuracy > 0.9);
}
