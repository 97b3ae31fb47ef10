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
            // scikit-learn ElasticNet's scale: the default penalty 1.0
            // halves standardized weights (checked below); a light one here.
            // (Ridge's default, on scikit-learn Ridge's scale, is light.)
            Algorithm::ElasticNet => {
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
            // The penalty is applied: a much stronger one fits worse (ridge's
            // 1,000 on 280 training rows is elastic net's 3.6).
            let strong = match algorithm {
                Algorithm::Ridge => request(
                    "houses",
                    algorithm,
                    &[("penalty", mld::model::ParamValue::Float(1000.0))],
                ),
                _ => request("houses", algorithm, &[]),
            };
            let strong = train_ok(&cat, &strong);
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

/// scikit-learn's fit of the same training rows, predicting the test rows:
/// `ColumnTransformer(OneHotEncoder(district), passthrough) → StandardScaler
/// (if `scale`) → estimator`, as mld encodes, scales and
/// fits (a NULL district is a category never seen: zeros). `None` when
/// python3 with scikit-learn is not installed.
fn sklearn_linear(
    dir: &Path,
    csv: &Path,
    train: &[usize],
    test: &[usize],
    estimator: &str,
    scale: bool,
) -> Option<Vec<f64>> {
    let has = std::process::Command::new("python3")
        .args(["-c", "import sklearn, pandas"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        return None;
    }
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let write = |name: &str, idx: &[usize]| {
        let mut out = format!("{header}\n");
        for &i in idx {
            out.push_str(rows[i]);
            out.push('\n');
        }
        let p = dir.join(name);
        std::fs::write(&p, out).unwrap();
        p
    };
    let (train_csv, test_csv) = (write("train.csv", train), write("test.csv", test));
    let scaler = if scale { "StandardScaler()," } else { "" };
    let script = format!(
        r#"
import sys, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.pipeline import make_pipeline
from sklearn.linear_model import LinearRegression, Ridge, ElasticNet
tr = pd.read_csv(sys.argv[1], keep_default_na=False)
te = pd.read_csv(sys.argv[2], keep_default_na=False)
cats = [sorted(c for c in tr["district"].unique() if c != "")]
X = ["size", "rooms", "district"]
pipe = make_pipeline(
    ColumnTransformer([("oh", OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False), ["district"])],
                      remainder="passthrough"),
    {scaler}
    {estimator})
pipe.fit(tr[X], tr["price"])
for v in pipe.predict(te[X]):
    print(repr(float(v)))
"#
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .arg(&train_csv)
        .arg(&test_csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect(),
    )
}

#[test]
fn ridge_and_elastic_net_penalties_mean_what_they_mean_in_scikit_learn() {
    // Ridge's penalty is Ridge(alpha)'s: squared errors summed; elastic net's
    // is ElasticNet(alpha)'s: squared errors over 2n. The same number is n
    // times stronger in elastic net, as in scikit-learn.
    let dir = tempfile::tempdir().unwrap();
    let csv = houses_csv(dir.path(), 400, 40.0);
    let cat = catalog(vec![("houses", csv_dataset(&csv, "price"))]);
    let data = mld::training::dataset::load_csv("houses", &csv, "price", None).unwrap();
    /// mld's algorithm and hyperparameters; scikit-learn's estimator.
    type Case = (Algorithm, &'static [(&'static str, f64)], String);
    let cases: [Case; 5] = [
        (Algorithm::Ridge, &[], "Ridge(alpha=1.0)".into()),
        (
            Algorithm::Ridge,
            &[("penalty", 300.0)],
            "Ridge(alpha=300.0)".into(),
        ),
        (
            Algorithm::ElasticNet,
            &[("penalty", 0.01)],
            "ElasticNet(alpha=0.01, l1_ratio=0.5, tol=1e-12, max_iter=100000)".into(),
        ),
        (
            Algorithm::ElasticNet,
            &[],
            "ElasticNet(alpha=1.0, l1_ratio=0.5, tol=1e-12, max_iter=100000)".into(),
        ),
        (
            Algorithm::ElasticNet,
            &[("penalty", 2.0), ("l1_ratio", 0.0)],
            "ElasticNet(alpha=2.0, l1_ratio=0.0, tol=1e-12, max_iter=100000)".into(),
        ),
    ];
    let mut r2s = Vec::new();
    for (algorithm, params, sklearn) in cases {
        let mut p: Vec<(&str, mld::model::ParamValue)> = params
            .iter()
            .map(|&(k, v)| (k, mld::model::ParamValue::Float(v)))
            .collect();
        p.push(("tolerance", mld::model::ParamValue::Float(1e-12)));
        p.push(("max_iterations", mld::model::ParamValue::Int(100_000)));
        let req = request("houses", algorithm, &p);
        let trained = train_ok(&cat, &req);
        r2s.push(trained.meta.regression_metrics.clone().unwrap().r2);
        let (train, test) = mld::training::shuffled_split(data.rows(), req.test_split, req.seed);
        let model = trained.model();
        let binding = model.bind(&data.features).unwrap();
        let x = data.x.select(Axis(0), &test);
        let mut texts = TextColumns::new();
        let district = data.texts.get(2).unwrap();
        texts.insert(
            2,
            TextColumn::from_values(test.iter().map(|&r| district.get(r))),
        );
        let ours: Vec<f64> = model
            .predict(&binding, Inputs::new(x.view(), &texts))
            .unwrap()
            .iter()
            .map(|p| p.value().unwrap())
            .collect();
        let Some(theirs) = sklearn_linear(dir.path(), &csv, &train, &test, &sklearn, true) else {
            eprintln!(
                "\n\n*** SKIPPED the scikit-learn half of ridge_and_elastic_net_penalties_mean_what_they_mean_in_scikit_learn: python3 with scikit-learn and pandas not found ***\n"
            );
            continue;
        };
        assert_eq!(ours.len(), theirs.len());
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{sklearn}: test row {i}: mld {a}, scikit-learn {b}"
            );
        }
    }
    // Ridge's default is light (R² as least squares'); elastic net's default
    // 1.0 is strong, as scikit-learn's is, and 0.01 is light.
    assert!(r2s[0] > 0.97 && r2s[2] > 0.97, "{r2s:?}");
    assert!(r2s[3] < r2s[2] - 0.05, "{r2s:?}");
}

#[test]
fn least_squares_over_one_hot_columns_without_nulls_is_scikit_learns_even_for_a_null() {
    // No NULL district in training: the four one-hot columns sum to the
    // intercept's, so least squares has many solutions. scikit-learn takes
    // the one of least norm, and so must mld: a NULL or a district never
    // seen (all zeros) then predicts what scikit-learn predicts, and the
    // weights stay the size of the data (not ±1e15 cancelling out).
    let dir = tempfile::tempdir().unwrap();
    let raw = houses_csv(dir.path(), 300, 40.0);
    let req = request("houses", Algorithm::LinearRegression, &[]);
    let (train, test) = mld::training::shuffled_split(300, req.test_split, req.seed);
    let text = std::fs::read_to_string(&raw).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for &r in &train {
        lines[r + 1] = lines[r + 1].replace(",,", ",south,");
    }
    // Test rows: NULLs stay (every 23rd), two more, one district never seen.
    for (k, district) in [(0, "harbour"), (1, ""), (2, "")] {
        let f: Vec<String> = lines[test[k] + 1].split(',').map(str::to_string).collect();
        lines[test[k] + 1] = format!("{},{},{district},{}", f[0], f[1], f[3]);
    }
    let nulls = test
        .iter()
        .filter(|&&r| lines[r + 1].contains(",,"))
        .count();
    assert!(nulls >= 2, "the test rows hold NULLs: {nulls}");
    let csv = dir.path().join("complete.csv");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();

    let cat = catalog(vec![("houses", csv_dataset(&csv, "price"))]);
    let data = mld::training::dataset::load_csv("houses", &csv, "price", None).unwrap();
    let trained = train_ok(&cat, &req);
    let model = trained.model();
    let binding = model.bind(&data.features).unwrap();
    let x = data.x.select(Axis(0), &test);
    let mut texts = TextColumns::new();
    let district = data.texts.get(2).unwrap();
    texts.insert(
        2,
        TextColumn::from_values(test.iter().map(|&r| district.get(r))),
    );
    let ours: Vec<f64> = model
        .predict(&binding, Inputs::new(x.view(), &texts))
        .unwrap()
        .iter()
        .map(|p| p.value().unwrap())
        .collect();
    // The explanation's weights (every encoded column's): the size of the
    // data. The largest true effect is the north premium, 300.
    let null_row = OwnedInputs::from_rows(
        &[vec![Value::Number(120.0), Value::Number(3.0), Value::Null]],
        &model.feature_kinds(),
    );
    match model.explain(null_row.view()) {
        mld::model::Explanation::ValueContributions { intercept, terms } => {
            assert_eq!(terms.len(), 2 + 4, "size, rooms and four districts");
            for t in &terms {
                assert!(t.weight.abs() < 1e3, "weight {}", t.weight);
            }
            assert!(intercept.abs() < 1e4, "intercept {intercept}");
        }
        other => panic!("{other:?}"),
    }
    let Some(theirs) = sklearn_linear(dir.path(), &csv, &train, &test, "LinearRegression()", false)
    else {
        eprintln!(
            "\n\n*** SKIPPED least_squares_over_one_hot_columns_without_nulls_is_scikit_learns_even_for_a_null: python3 with scikit-learn and pandas not found ***\n"
        );
        return;
    };
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * b.abs().max(1.0),
            "test row {i} ({}): mld {a}, scikit-learn {b}",
            lines[test[i] + 1]
        );
    }
}
