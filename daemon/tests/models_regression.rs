//! Native regression: every regressor in the catalog trains on a dataset with
//! a text column (one-hot encoded as a preprocessing step), is evaluated on
//! its held-out rows — MAE, RMSE and R² recomputed here by hand from the
//! model's own predictions of exactly those rows — then committed, activated,
//! loaded and asked to predict, with a category it never saw and a NULL
//! encoding as zeros.

mod models_common;

use std::path::{Path, PathBuf};

use mld::model::input::{Inputs, OwnedInputs, TextColumn, TextColumns, Value};
use mld::model::{Algorithm, FeatureKind, Registry, Task};
use models_common::{catalog, csv_dataset, request, train_ok};
use ndarray::Axis;

const DISTRICTS: [&str; 4] = ["north", "south", "east", "west"];

/// `size, rooms, district, price`: price = 12·size + 25·rooms + the
/// district's premium + noise (none when `noise` is 0). Every 23rd district
/// is empty (NULL). A tiny LCG keeps it deterministic.
fn houses_csv(dir: &Path, n: usize, noise: f64) -> PathBuf {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = String::from("size,rooms,district,price\n");
    for i in 0..n {
        let size = (50.0 + 150.0 * uniform()).round();
        let rooms = 1.0 + (uniform() * 5.0).floor();
        let d = (uniform() * 4.0) as usize;
        let district = if i % 23 == 0 { "" } else { DISTRICTS[d] };
        let premium = match district {
            "north" => 300.0,
            "south" => 0.0,
            "east" => 150.0,
            "west" => 80.0,
            _ => 0.0,
        };
        let price = 12.0 * size + 25.0 * rooms + premium + noise * (uniform() - 0.5) + 0.25;
        out.push_str(&format!("{size},{rooms},{district},{price}\n"));
    }
    let path = dir.join(format!("houses-{noise}.csv"));
    std::fs::write(&path, out).unwrap();
    path
}

/// MAE, RMSE, R² as a textbook defines them.
fn by_hand(truth: &[f64], predicted: &[f64]) -> (f64, f64, f64) {
    let n = truth.len() as f64;
    let mut abs = 0.0;
    let mut sq = 0.0;
    for (t, p) in truth.iter().zip(predicted) {
        abs += (t - p).abs();
        sq += (t - p).powi(2);
    }
    let mean = truth.iter().sum::<f64>() / n;
    let tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    (abs / n, (sq / n).sqrt(), 1.0 - sq / tot)
}

const REGRESSORS: [Algorithm; 5] = [
    Algorithm::LinearRegression,
    Algorithm::Ridge,
    Algorithm::ElasticNet,
    Algorithm::DecisionTreeRegressor,
    Algorithm::RandomForestRegressor,
];

#[test]
fn native_regressors_train_evaluate_on_their_held_out_rows_commit_activate_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let csv = houses_csv(dir.path(), 400, 40.0);
    // No task given: a label of numbers with a fraction is a regression target.
    let cat = catalog(vec![("houses", csv_dataset(&csv, "price"))]);
    let data = mld::training::dataset::load_csv("houses", &csv, "price", None).unwrap();
    assert_eq!(data.task, Task::Regression);
    assert_eq!(
        data.kinds,
        [FeatureKind::Number, FeatureKind::Number, FeatureKind::Text]
    );
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();

    for algorithm in REGRESSORS {
        let mut req = request("houses", algorithm, &[]);
        match algorithm {
            Algorithm::RandomForestRegressor => {
                req.hyperparameters
                    .insert("n_trees".into(), mld::model::ParamValue::Int(30));
            }
            // scikit-learn's ElasticNet scale: the default penalty 1.0 halves
            // standardized weights (checked below); a light one here.
            Algorithm::Ridge | Algorithm::ElasticNet => {
                req.hyperparameters
                    .insert("penalty".into(), mld::model::ParamValue::Float(0.01));
            }
            _ => {}
        }
        let trained = train_ok(&cat, &req);
        let meta = &trained.meta;
        assert_eq!(meta.task, Task::Regression, "{algorithm}");
        assert!(meta.labels.is_empty() && meta.metrics.is_none());
        assert_eq!(meta.feature_kinds, data.kinds);
        let m = meta.regression_metrics.clone().expect("MAE, RMSE, R²");

        // The held-out rows, predicted by the model; the metrics by hand.
        let (_, test) = mld::training::shuffled_split(data.rows(), req.test_split, req.seed);
        assert_eq!(m.rows, test.len() as u64);
        assert_eq!(meta.training.as_ref().unwrap().test_rows, test.len());
        let x = data.x.select(Axis(0), &test);
        let mut texts = TextColumns::new();
        let district = data.texts.get(2).unwrap();
        texts.insert(
            2,
            TextColumn::from_values(test.iter().map(|&r| district.get(r))),
        );
        let model = trained.model();
        let binding = model.bind(&data.features).unwrap();
        let predicted: Vec<f64> = model
            .predict(&binding, Inputs::new(x.view(), &texts))
            .unwrap()
            .iter()
            .map(|p| p.value().expect("a regressor predicts a value"))
            .collect();
        let truth: Vec<f64> = test.iter().map(|&r| data.targets[r]).collect();
        let (mae, rmse, r2) = by_hand(&truth, &predicted);
        let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert!(near(m.mae, mae), "{algorithm}: MAE {} vs {mae}", m.mae);
        assert!(near(m.rmse, rmse), "{algorithm}: RMSE {} vs {rmse}", m.rmse);
        assert!(near(m.r2, r2), "{algorithm}: R² {} vs {r2}", m.r2);
        // And they are good: the signal is linear, the noise ±20 on prices of ~600–2,900.
        let floor = match algorithm {
            Algorithm::DecisionTreeRegressor | Algorithm::RandomForestRegressor => 0.95,
            _ => 0.97,
        };
        assert!(r2 > floor, "{algorithm}: R² {r2}");
        if matches!(algorithm, Algorithm::Ridge | Algorithm::ElasticNet) {
            // The penalty is applied: the default, 100 times stronger, fits worse.
            let strong = train_ok(&cat, &request("houses", algorithm, &[]));
            let strong_r2 = strong.meta.regression_metrics.unwrap().r2;
            assert!(strong_r2 < r2 - 0.05, "{algorithm}: {strong_r2} vs {r2}");
        }

        // Commit, activate, load and predict one row, by name, with text.
        let name = format!("houses_{}", algorithm.name());
        registry
            .commit_as(&name, 1, trained.meta.clone(), &trained.artifact)
            .unwrap();
        registry.set_active(&name, 1).unwrap();
        let loaded = registry.load_active(&name).unwrap();
        assert_eq!(loaded.task(), Task::Regression);
        let kinds = loaded.feature_kinds();
        let one = |district: Value| {
            let rows = OwnedInputs::from_rows(
                &[vec![Value::Number(120.0), Value::Number(3.0), district]],
                &kinds,
            );
            let b = loaded.bind(&["size", "rooms", "district"]).unwrap();
            loaded.predict(&b, rows.view()).unwrap()[0].value().unwrap()
        };
        let north = one(Value::Text("north".into()));
        let south = one(Value::Text("south".into()));
        // The same as the model in memory before it was stored.
        let before = {
            let rows = OwnedInputs::from_rows(
                &[vec![
                    Value::Number(120.0),
                    Value::Number(3.0),
                    Value::Text("north".into()),
                ]],
                &kinds,
            );
            model.predict(&binding, rows.view()).unwrap()[0]
                .value()
                .unwrap()
        };
        assert_eq!(north, before, "{algorithm}");
        // The district is learned: north is worth ~300 more than south.
        assert!(
            (north - south - 300.0).abs() < 120.0,
            "{algorithm}: north {north}, south {south}"
        );
        // A district never seen and a NULL both encode as zeros: the same value.
        assert_eq!(
            one(Value::Text("harbour".into())),
            one(Value::Null),
            "{algorithm}"
        );
    }
}

#[test]
fn linear_regression_recovers_an_exact_linear_relation() {
    // No noise: price = 12·size + 25·rooms + premium + 0.25, which least
    // squares over the one-hot columns fits exactly.
    let dir = tempfile::tempdir().unwrap();
    let csv = houses_csv(dir.path(), 200, 0.0);
    let cat = catalog(vec![("exact", csv_dataset(&csv, "price"))]);
    let trained = train_ok(&cat, &request("exact", Algorithm::LinearRegression, &[]));
    let m = trained.meta.regression_metrics.clone().unwrap();
    assert!(m.mae < 1e-6, "MAE {}", m.mae);
    assert!(m.rmse < 1e-6, "RMSE {}", m.rmse);
    assert!((m.r2 - 1.0).abs() < 1e-12, "R² {}", m.r2);
    let model = trained.model();
    let kinds = model.feature_kinds();
    let rows = OwnedInputs::from_rows(
        &[vec![
            Value::Number(100.0),
            Value::Number(2.0),
            Value::Text("east".into()),
        ]],
        &kinds,
    );
    let b = model.bind(&["size", "rooms", "district"]).unwrap();
    let v = model.predict(&b, rows.view()).unwrap()[0].value().unwrap();
    // 1200 + 50 + 150 + 0.25
    assert!((v - 1400.25).abs() < 1e-6, "{v}");
}

#[test]
fn a_classifier_on_a_regression_dataset_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let csv = houses_csv(dir.path(), 50, 10.0);
    let cat = catalog(vec![("houses", csv_dataset(&csv, "price"))]);
    let err = mld::training::train(
        &cat,
        &request("houses", Algorithm::DecisionTree, &[]),
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("regression"),
        "the task is named: {err}"
    );
}
