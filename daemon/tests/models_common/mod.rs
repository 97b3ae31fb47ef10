//! Helpers shared by the models_* integration tests: data sets on disk and
//! catalog/request builders. Real data, real models trained in the test.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use mld::model::{Algorithm, ParamValue};
use mld::training::{Catalog, TrainRequest, TrainedModel, train};
use mld_shared::config::DatasetConfig;

pub fn iris_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv")
}

/// Two overlapping gaussian-ish blobs, 4 features, labels "no"/"yes".
/// A tiny LCG keeps it deterministic without a dependency.
pub fn blobs_csv(dir: &Path, n: usize) -> PathBuf {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = String::from("a,b,c,d,label\n");
    for i in 0..n {
        let yes = i % 2 == 1;
        let shift = if yes { 1.2 } else { 0.0 };
        let v: Vec<f64> = (0..4)
            .map(|j| uniform() * 2.0 + shift * (j as f64 * 0.5 + 0.5))
            .collect();
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            v[0],
            v[1],
            v[2],
            v[3],
            if yes { "yes" } else { "no" }
        ));
    }
    let path = dir.join("blobs.csv");
    std::fs::write(&path, out).unwrap();
    path
}

pub fn csv_dataset(path: &Path, label: &str) -> DatasetConfig {
    DatasetConfig {
        description: Some(format!("test data {}", path.display())),
        csv: Some(path.to_path_buf()),
        datalake: None,
        query: None,
        label: label.to_string(),
        features: None,
        task: None,
    }
}

pub fn catalog(datasets: Vec<(&str, DatasetConfig)>) -> Catalog {
    let map: BTreeMap<String, DatasetConfig> = datasets
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect();
    Catalog::new(&map)
}

pub fn request(dataset: &str, algorithm: Algorithm, params: &[(&str, ParamValue)]) -> TrainRequest {
    TrainRequest {
        dataset: dataset.to_string(),
        model: algorithm.name().to_string(),
        hyperparameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        test_split: 0.3,
        seed: 7,
    }
}

/// Small but real settings per algorithm so the suite stays fast.
pub fn quick_params(algorithm: Algorithm) -> Vec<(&'static str, ParamValue)> {
    match algorithm {
        Algorithm::RandomForest => vec![("n_trees", ParamValue::Int(25))],
        Algorithm::LogisticRegression => vec![("alpha", ParamValue::Float(0.1))],
        _ => vec![],
    }
}

pub fn train_ok(catalog: &Catalog, req: &TrainRequest) -> TrainedModel {
    train(catalog, req, &mut |_| {}, &AtomicBool::new(false))
        .unwrap_or_else(|e| panic!("{}: {e}", req.model))
}
