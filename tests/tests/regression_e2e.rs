//! Native regression end to end with the real binaries, over `mldctl`
//! against `mld`: a CSV dataset with a text column is a regression task;
//! train (MAE, RMSE, R² on the held-out rows) → commit → activate → the
//! version's task and feature types in `mldctl models` → predict by
//! position and by name with text and NULL → a dispatch on built-in SQLite
//! whose results table holds each value as a number (score NULL), the same
//! values `mldctl predict` gives, and the dispatch's histogram of values.

use mld_tests::process::{MldProcess, mldctl};
use serde_json::Value;
use std::path::Path;

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

const DISTRICTS: [&str; 4] = ["north", "south", "east", "west"];

/// price = 12·size + 25·rooms + the district's premium + a little noise.
fn houses(dir: &Path) -> std::path::PathBuf {
    let mut out = String::from("size,rooms,district,price\n");
    for i in 0..300u64 {
        let size = 50 + (i * 37) % 150;
        let rooms = 1 + (i * 7) % 5;
        let d = DISTRICTS[(i * 3 % 4) as usize];
        let premium = [300.0, 0.0, 150.0, 80.0][(i * 3 % 4) as usize];
        let noise = ((i * 7919) % 21) as f64 - 10.0;
        let price = 12.0 * size as f64 + 25.0 * rooms as f64 + premium + noise + 0.5;
        out.push_str(&format!("{size},{rooms},{d},{price}\n"));
    }
    let path = dir.join("houses.csv");
    std::fs::write(&path, out).unwrap();
    path
}

fn config(dir: &Path) -> std::path::PathBuf {
    let csv = houses(dir);
    let lake = dir.join("lake.db");
    let path = dir.join("mld.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\n\n\
             [datalakes.lake]\nkind = \"sqlite\"\npath = {:?}\n\n\
             [models]\nregistry = \"registry\"\n\n\
             [models.datasets.houses]\ncsv = {:?}\nlabel = \"price\"\n\n\
             [[jobs]]\nname = \"price\"\ndatalake = \"lake\"\nmodel = \"houses\"\n\
             query = \"SELECT id, size, rooms, district FROM listings\"\nkey_column = \"id\"\n\
             results_table = \"prices\"\nschedule = \"0 0 30 2 *\"\n",
            lake.display().to_string(),
            csv.display().to_string()
        ),
    )
    .unwrap();
    let db = rusqlite::Connection::open(&lake).unwrap();
    db.execute_batch(
        "CREATE TABLE listings (id INTEGER PRIMARY KEY, size REAL, rooms INTEGER, district TEXT);
         INSERT INTO listings VALUES (1, 120, 3, 'north'), (2, 120, 3, 'south'),
           (3, 80, 2, NULL), (4, 95, 4, 'harbour'), (5, NULL, 2, 'east');
         CREATE TABLE prices (dispatch_id BIGINT NOT NULL, row_key VARCHAR(255) NOT NULL,
           prediction DOUBLE PRECISION, score DOUBLE PRECISION, model_version VARCHAR(255),
           scored_at TIMESTAMP, PRIMARY KEY (dispatch_id, row_key));",
    )
    .unwrap();
    path
}

#[test]
fn a_regressor_with_a_text_feature_trains_commits_predicts_and_dispatches() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&config, &socket);
    let s = socket.to_str().unwrap();
    let ctl = |args: &[&str]| {
        let mut all = vec!["--socket", s];
        all.extend_from_slice(args);
        mldctl(&all)
    };

    // The catalog says what the dataset is: a regression, one text feature.
    let catalog = json(&ctl(&["catalog", "--json"]));
    let houses = catalog["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "houses")
        .unwrap();
    assert_eq!(houses["task"], "regression", "{houses:#}");
    assert_eq!(
        houses["feature_types"],
        serde_json::json!(["number", "number", "text"])
    );
    // A classifier on it is refused, naming the task.
    let out = ctl(&[
        "train",
        "--dataset",
        "houses",
        "--model",
        "decision_tree",
        "--wait",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("regression"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let trained = json(&ctl(&[
        "train",
        "--dataset",
        "houses",
        "--model",
        "ridge",
        "--param",
        "penalty=0.001",
        "--seed",
        "7",
        "--wait",
        "--json",
    ]));
    let model = &trained["experiment"]["model"];
    assert_eq!(model["task"], "regression", "{model:#}");
    assert!(model["metrics"].is_null());
    let r = &model["regression"];
    let (mae, rmse, r2) = (
        r["mae"].as_f64().unwrap(),
        r["rmse"].as_f64().unwrap(),
        r["r2"].as_f64().unwrap(),
    );
    assert_eq!(r["rows"], model["test_rows"]);
    // Noise within ±10: the errors are that small, the fit near perfect.
    assert!(mae > 0.0 && mae < 10.0 && rmse >= mae && rmse < 12.0, "{r}");
    assert!(r2 > 0.99, "{r}");
    let experiment = trained["experiment"]["id"].as_str().unwrap().to_string();
    json(&ctl(&["commit", &experiment, "--name", "houses", "--json"]));
    json(&ctl(&["activate", "houses", "1", "--json"]));

    // `mldctl models`: the task, R², each feature with its type.
    let listed = String::from_utf8(ctl(&["models"]).stdout).unwrap();
    let line = listed
        .lines()
        .find(|l| l.starts_with("houses"))
        .unwrap_or_else(|| panic!("{listed}"));
    for word in ["regression", "ridge", "R²", "size rooms district:text"] {
        assert!(line.contains(word), "{word:?} in {line}");
    }

    // Predict: by position and by name the same value; a NULL and a
    // district never seen are both zeros in the one-hot encoding.
    let value = |args: &[&str]| -> f64 {
        let mut all = vec!["predict", "--model", "houses", "--json"];
        all.extend_from_slice(args);
        let p = json(&ctl(&all));
        assert_eq!(p["version"], 1);
        p["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("a value: {p:#}"))
    };
    let north = value(&["--values", "120,3,north"]);
    let by_name = value(&[
        "--field",
        "district=north",
        "--field",
        "rooms=3",
        "--field",
        "size=120",
    ]);
    assert_eq!(north, by_name);
    assert!((north - (1440.0 + 75.0 + 300.0)).abs() < 20.0, "{north}");
    let south = value(&["--values", "120,3,south"]);
    assert!((north - south - 300.0).abs() < 20.0, "{north} {south}");
    let null = value(&["--values", "80,2,"]);
    let unseen = value(&["--values", "80,2,harbour"]);
    assert_eq!(null, unseen);
    let harbour95 = value(&["--values", "95,4,harbour"]);
    // A number feature given text: refused, the feature named.
    let out = ctl(&["predict", "--model", "houses", "--values", "big,3,north"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("size"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A dispatch: each value in the results table as a number, score NULL;
    // the row with a NULL size unscorable.
    let done = json(&ctl(&["run", "price", "--wait", "--json"]));
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["rows_collected"], 5);
    assert_eq!(done["rows_unscorable"], 1);
    assert_eq!(done["rows_inserted"], 4);
    let db = rusqlite::Connection::open(dir.path().join("lake.db")).unwrap();
    let rows: Vec<(String, String, f64, bool)> = db
        .prepare(
            "SELECT row_key, typeof(prediction), prediction, score IS NULL FROM prices ORDER BY row_key",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want = [("1", north), ("2", south), ("3", null), ("4", harbour95)];
    assert_eq!(rows.len(), 4);
    for ((key, kind, v, score_null), (want_key, want_v)) in rows.iter().zip(want) {
        assert_eq!(key, want_key);
        assert_eq!(kind, "real", "row {key}: stored as a number");
        assert!(score_null, "row {key}: a regressor's score is NULL");
        assert_eq!(*v, want_v, "row {key}: the value predict gives");
    }
    // The dispatch as mldctl shows it: values, and their histogram.
    let id = done["id"].as_i64().unwrap().to_string();
    let shown = json(&ctl(&["dispatch", &id, "--predictions", "--json"]));
    let values = &shown["values"];
    assert_eq!(values["count"], 4, "{shown:#}");
    let bins = values["bins"].as_array().unwrap();
    assert_eq!(
        bins.iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    let min = values["min"].as_f64().unwrap();
    let max = values["max"].as_f64().unwrap();
    let lo = [north, south, null, harbour95]
        .into_iter()
        .fold(f64::MAX, f64::min);
    let hi = [north, south, null, harbour95]
        .into_iter()
        .fold(f64::MIN, f64::max);
    assert_eq!((min, max), (lo, hi));
    assert_eq!(shown["predictions"]["total"], 4, "{shown:#}");
    let predictions = shown["predictions"]["rows"].as_array().unwrap();
    assert_eq!(predictions.len(), 4);
    assert_eq!(predictions[0]["value"].as_f64(), Some(north));
    assert!(predictions[0].get("label").is_none());
    let text = String::from_utf8(ctl(&["dispatch", &id, "--predictions"]).stdout).unwrap();
    assert!(
        text.contains("predicted values") && text.contains("VALUE"),
        "{text}"
    );
    assert!(!text.contains("LABEL"), "{text}");
}
