//! The models issue end to end with the real binaries: catalog → train
//! --wait → commit → activate → predict, over `mldctl` against `mld`.

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

fn config(dir: &Path) -> std::path::PathBuf {
    let iris = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv");
    let path = dir.join("mld.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\n\n\
             [models]\nregistry = \"registry\"\n\n\
             [models.datasets.iris]\ncsv = {:?}\nlabel = \"species\"\n",
            iris.display().to_string()
        ),
    )
    .unwrap();
    path
}

#[test]
fn train_commit_activate_and_predict_with_mldctl() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&config, &socket);
    let s = socket.to_str().unwrap();

    let catalog = json(&mldctl(&["--socket", s, "catalog", "--json"]));
    let iris = catalog["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "iris")
        .unwrap();
    assert_eq!(iris["records"], 150);
    assert!(
        catalog["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "decision_tree")
    );

    // A bad hyperparameter is refused, naming the field.
    let out = mldctl(&[
        "--socket",
        s,
        "train",
        "--dataset",
        "iris",
        "--model",
        "decision_tree",
        "--param",
        "max_depth=deep",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hyperparameters.max_depth"), "{stderr}");

    let trained = json(&mldctl(&[
        "--socket",
        s,
        "train",
        "--dataset",
        "iris",
        "--model",
        "decision_tree",
        "--param",
        "max_depth=3",
        "--seed",
        "7",
        "--wait",
        "--json",
    ]));
    let experiment = trained["experiment"]["id"].as_str().unwrap().to_string();
    let accuracy = trained["experiment"]["model"]["metrics"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(accuracy > 0.8, "a depth-3 tree on iris: {accuracy}");

    let listed = json(&mldctl(&["--socket", s, "experiments", "--json"]));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == experiment.as_str())
    );

    let committed = json(&mldctl(&[
        "--socket",
        s,
        "commit",
        &experiment,
        "--name",
        "flowers",
        "--json",
    ]));
    assert_eq!(committed["name"], "flowers");
    assert_eq!(committed["version"], 1);
    let activated = json(&mldctl(&[
        "--socket", s, "activate", "flowers", "1", "--json",
    ]));
    assert_eq!(activated["active"], true);
    let models = json(&mldctl(&["--socket", s, "models", "--json"]));
    let flowers = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "flowers")
        .unwrap();
    assert_eq!(flowers["active"], 1);
    assert!(
        flowers["versions"][0]["created_at"]
            .as_str()
            .unwrap()
            .ends_with('Z'),
        "RFC 3339 times"
    );

    // The same record, by position and by name: a setosa.
    let by_position = json(&mldctl(&[
        "--socket",
        s,
        "predict",
        "--model",
        "flowers",
        "--values",
        "5.1,3.5,1.4,0.2",
        "--json",
    ]));
    assert_eq!(by_position["label"], "setosa");
    assert_eq!(by_position["version"], 1);
    let by_name = json(&mldctl(&[
        "--socket",
        s,
        "predict",
        "--model",
        "flowers",
        "--field",
        "petal_width=0.2",
        "--field",
        "petal_length=1.4",
        "--field",
        "sepal_width=3.5",
        "--field",
        "sepal_length=5.1",
        "--json",
    ]));
    assert_eq!(by_name["label"], by_position["label"]);
    assert_eq!(by_name["score"], by_position["score"]);

    // A missing feature is named.
    let out = mldctl(&[
        "--socket",
        s,
        "predict",
        "--model",
        "flowers",
        "--field",
        "petal_width=0.2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sepal_length"));
}
