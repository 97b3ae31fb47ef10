//! Regressors over a text feature in the showroom, through its handle, with
//! real models trained here and a real sample file (a NULL and a district
//! never seen among its rows): every row's value is the model's own; one row
//! on its own is explained — a linear model's intercept and contributions
//! add up to its value, a tree's path ends in the leaf whose mean it is, a
//! forest's value lies within its trees' range; an edited text value
//! changes the value as the model says; a record given as typed cells is
//! read per feature type, and text where a number belongs is refused with
//! the feature named.

use std::collections::BTreeMap;
use std::path::Path;

use mld::model::input::{OwnedInputs, Value};
use mld::model::{Algorithm, Explanation, Model, ParamValue, Registry, Scored};
use mld::showroom::{Given, Showroom};
use mld::training::catalog::ValidRequest;
use mld_shared::config::ShowroomConfig;

const SAMPLES: &str =
    "id,size,rooms,district\n1,120,3,north\n2,80,2,\n3,95,4,harbour\n4,150,5,east\n";

fn houses_csv(dir: &Path) -> std::path::PathBuf {
    let districts = ["north", "south", "east", "west"];
    let mut out = String::from("size,rooms,district,price\n");
    for i in 0..300u64 {
        let size = 50 + (i * 37) % 150;
        let rooms = 1 + (i * 7) % 5;
        let d = (i * 3 % 4) as usize;
        let premium = [300.0, 0.0, 150.0, 80.0][d];
        let noise = ((i * 7919) % 21) as f64 - 10.0;
        let price = 12.0 * size as f64 + 25.0 * rooms as f64 + premium + noise + 0.5;
        out.push_str(&format!("{size},{rooms},{},{price}\n", districts[d]));
    }
    let path = dir.join("houses.csv");
    std::fs::write(&path, out).unwrap();
    path
}

/// Trains `algorithm` on the houses and commits it as `name` v1, active.
fn commit(reg: &Registry, csv: &Path, name: &str, algorithm: Algorithm) -> Model {
    let data = mld::training::dataset::load_csv("houses", csv, "price", None).unwrap();
    let mut hyperparameters = mld::training::catalog::default_hyperparameters(algorithm);
    if algorithm == Algorithm::RandomForestRegressor {
        hyperparameters.insert("n_trees".into(), ParamValue::Int(15));
    }
    let request = ValidRequest {
        dataset: "houses".into(),
        algorithm,
        hyperparameters,
        test_split: 0.25,
        seed: 7,
    };
    let trained = mld::training::train_on(
        &request,
        &data,
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    reg.commit_as(name, 1, trained.meta, &trained.artifact)
        .unwrap();
    reg.set_active(name, 1).unwrap();
    reg.load_active(name).unwrap()
}

/// The model's own value for one record (size, rooms, district).
fn own_value(model: &Model, size: f64, rooms: f64, district: Option<&str>) -> f64 {
    let kinds = model.feature_kinds();
    let district = district.map_or(Value::Null, |d| Value::Text(d.into()));
    let rows = OwnedInputs::from_rows(
        &[vec![Value::Number(size), Value::Number(rooms), district]],
        &kinds,
    );
    let b = model.bind(&["size", "rooms", "district"]).unwrap();
    model.predict(&b, rows.view()).unwrap()[0].value().unwrap()
}

fn value(s: &Scored) -> f64 {
    match s {
        Scored::Value(v) => *v,
        other => panic!("a regressor scores a value, not {other:?}"),
    }
}

#[tokio::test]
async fn regressors_in_the_showroom_show_their_values_explain_them_and_take_text() {
    let dir = tempfile::tempdir().unwrap();
    let csv = houses_csv(dir.path());
    let samples = dir.path().join("houses-samples.csv");
    std::fs::write(&samples, SAMPLES).unwrap();
    let reg = Registry::open(dir.path().join("registry"), None).unwrap();
    let models = [
        ("linear", Algorithm::LinearRegression),
        ("tree", Algorithm::DecisionTreeRegressor),
        ("forest", Algorithm::RandomForestRegressor),
    ];
    let mut loaded = BTreeMap::new();
    let mut config = BTreeMap::new();
    for (name, algorithm) in models {
        loaded.insert(name, commit(&reg, &csv, name, algorithm));
        config.insert(
            name.to_string(),
            ShowroomConfig {
                samples: samples.clone(),
                columns: 4,
            },
        );
    }
    let showroom = Showroom::start(reg, config).unwrap();
    let rows: [(f64, f64, Option<&str>); 4] = [
        (120.0, 3.0, Some("north")),
        (80.0, 2.0, None),
        (95.0, 4.0, Some("harbour")),
        (150.0, 5.0, Some("east")),
    ];

    for (name, algorithm) in models {
        let model = &loaded[name];
        // Predict-all: each row's value is the model's own.
        let opened = showroom.open(name, "ann").await.unwrap();
        assert_eq!(opened.scored.len(), 4, "{name}");
        for (s, (size, rooms, district)) in opened.scored.iter().zip(rows) {
            assert_eq!(
                value(s),
                own_value(model, size, rooms, district),
                "{name}: {district:?}"
            );
        }
        // A NULL and a district never seen encode alike (zeros): the text
        // reached the model as text, the NULL as NULL.
        assert_eq!(
            own_value(model, 80.0, 2.0, None),
            own_value(model, 80.0, 2.0, Some("harbour"))
        );

        // Row 1 on its own, with why.
        let p = showroom.predict(name, 1, vec![], "ann").await.unwrap();
        let v = value(&p.scored);
        assert_eq!(v, own_value(model, 120.0, 3.0, Some("north")));
        assert_eq!(p.values[2], Value::Text("north".into()));
        let encoded = model.encoded_features();
        match (&p.explanation, algorithm) {
            (Explanation::ValueContributions { intercept, terms }, Algorithm::LinearRegression) => {
                let sum = intercept + terms.iter().map(|t| t.contribution).sum::<f64>();
                assert!((sum - v).abs() < 1e-9 * v.abs().max(1.0), "{sum} vs {v}");
                // The one-hot column of the row's district takes part, as 1.
                let north = terms
                    .iter()
                    .find(|t| encoded[t.feature] == "district=north")
                    .unwrap_or_else(|| panic!("{terms:?} over {encoded:?}"));
                assert_eq!(north.value, 1.0);
                let sizes: Vec<f64> = terms.iter().map(|t| t.contribution.abs()).collect();
                assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first");
            }
            (Explanation::ValuePath { steps, value }, Algorithm::DecisionTreeRegressor) => {
                assert_eq!(*value, v, "the leaf's mean is the value");
                assert!(!steps.is_empty());
                for s in steps {
                    if let Some(t) = s.threshold {
                        assert_eq!(s.below, s.value < t, "{s:?}");
                    }
                }
            }
            (Explanation::TreeValues { trees, min, max }, Algorithm::RandomForestRegressor) => {
                assert_eq!(*trees, 15);
                assert!(*min <= v && v <= *max, "{min} <= {v} <= {max}");
                assert!(min < max);
            }
            (other, _) => panic!("{name}: {other:?}"),
        }

        // Edited: north → south, as the model says.
        let edited = showroom
            .predict(
                name,
                1,
                vec![("district".into(), Value::Text("south".into()))],
                "ann",
            )
            .await
            .unwrap();
        assert!(edited.edited);
        assert_eq!(
            value(&edited.scored),
            own_value(model, 120.0, 3.0, Some("south"))
        );
        if algorithm == Algorithm::LinearRegression {
            // The district's premium, learned: ~300 between north and south.
            assert!((v - value(&edited.scored) - 300.0).abs() < 30.0);
        }

        // Given whole, as typed: each cell read as its feature's type.
        let given = showroom
            .predict_given(
                name,
                None,
                Given::Cells(vec!["120".into(), "3".into(), "north".into()]),
                "ann",
            )
            .await
            .unwrap();
        assert_eq!(value(&given.scored), v);
        let null = showroom
            .predict_given(
                name,
                None,
                Given::NamedCells(vec![
                    ("district".into(), String::new()),
                    ("rooms".into(), "2".into()),
                    ("size".into(), "80".into()),
                ]),
                "ann",
            )
            .await
            .unwrap();
        assert_eq!(null.values[2], Value::Null);
        assert_eq!(value(&null.scored), own_value(model, 80.0, 2.0, None));
        let err = showroom
            .predict_given(
                name,
                None,
                Given::Cells(vec!["big".into(), "3".into(), "north".into()]),
                "ann",
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("size"), "{err}");
    }
}
