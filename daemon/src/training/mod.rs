//! Training: the catalog of datasets/models/metrics, validating a training
//! request, fitting a native classifier or regressor off the async runtime
//! (text features one-hot encoded first), and evaluating it on a held-out
//! split (accuracy, precision, recall, F1; or MAE, RMSE, R²).
//!
//! Receives a [`TrainRequest`], a progress callback and a cancel flag. Emits a
//! [`TrainedModel`] (metadata with metrics + artifact) that the caller keeps as
//! an experiment in the [`Registry`], or a [`TrainingError`] naming the field,
//! file or step at fault. Synchronous and CPU-heavy: run it on a blocking thread.

pub mod cache;
mod cart;
pub mod catalog;
pub mod dataset;
pub mod demo;
mod fit;
pub mod metrics;
pub mod runner;
pub mod store;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

pub use catalog::{
    Catalog, DatasetInfo, DatasetSource, FieldError, HyperparameterSpec, MetricSpec, ModelSpec,
    ParamKind, ValidRequest,
};
pub use dataset::{LoadedDataset, Task};

use crate::model::native::{Encoding, NativeArtifact, OneHot, Scaler};
use crate::model::{
    ARTIFACT_FORMAT, Algorithm, ExperimentId, FeatureKind, Inputs, Model, ModelError, ModelMeta,
    ParamValue, PayloadKind, Registry, Scaling, TextColumn, TextColumns, TrainingInfo,
};

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("invalid training request: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("dataset {name}: {reason}")]
    Dataset { name: String, reason: String },
    #[error("dataset {name}: {reason}")]
    DatasetNotSupported { name: String, reason: String },
    #[error("{algorithm} could not be fitted: {reason}")]
    Fit {
        algorithm: Algorithm,
        reason: String,
    },
    #[error("training cancelled")]
    Cancelled,
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl TrainingError {
    /// The per-field violations, when the request was invalid.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            TrainingError::Invalid(e) => e,
            _ => &[],
        }
    }
}

/// What a client asks to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRequest {
    pub dataset: String,
    /// A catalog model name, e.g. `random_forest`.
    pub model: String,
    /// Unset hyperparameters take the catalog default.
    pub hyperparameters: BTreeMap<String, ParamValue>,
    /// Share of rows held out for evaluation, in (0, 1).
    pub test_split: f64,
    /// Same seed, same data, same request: same model, byte for byte.
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Loading,
    Fitting,
    Evaluating,
    Done,
}

/// Reported through the progress callback; `fraction` of the whole job in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub stage: Stage,
    pub fraction: f64,
}

/// A fitted and evaluated model, not yet stored.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    pub meta: ModelMeta,
    pub artifact: NativeArtifact,
}

impl TrainedModel {
    /// A scorable model straight from memory (e.g. to try it before storing).
    pub fn model(&self) -> Model {
        Model::new(
            self.meta.clone(),
            crate::model::Predictor::Native(self.artifact.clone()),
        )
    }
}

/// Splits row indices into (train, test), stratified by class so every class
/// with at least two rows lands in both.
fn stratified_split(
    y: &[usize],
    n_classes: usize,
    test_split: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for c in 0..n_classes {
        let mut rows: Vec<usize> = (0..y.len()).filter(|&r| y[r] == c).collect();
        rows.shuffle(&mut rng);
        let mut n_test = (rows.len() as f64 * test_split).round() as usize;
        if rows.len() >= 2 {
            n_test = n_test.clamp(1, rows.len() - 1);
        } else {
            n_test = 0;
        }
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Validates, loads, fits and evaluates. Checks `cancel` between steps (and
/// between trees / one-vs-rest machines).
pub fn train(
    catalog: &Catalog,
    request: &TrainRequest,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<TrainedModel, TrainingError> {
    let valid = catalog.validate(request)?;
    progress(Progress {
        stage: Stage::Loading,
        fraction: 0.0,
    });
    let config = catalog
        .dataset_config(&valid.dataset)
        .ok_or_else(|| TrainingError::Dataset {
            name: valid.dataset.clone(),
            reason: "not configured".to_string(),
        })?;
    let data = dataset::load(&valid.dataset, config, catalog.datalakes())?;
    train_on(&valid, &data, progress, cancel)
}

/// Splits row indices into (train, test) by a seeded shuffle (regression:
/// no classes to stratify by); each side keeps at least one row. Public so
/// tests can check a regressor's evaluation on exactly its held-out rows.
pub fn shuffled_split(n: usize, test_split: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut rng);
    let n_test = if n >= 2 {
        ((n as f64 * test_split).round() as usize).clamp(1, n - 1)
    } else {
        0
    };
    let mut test = rows[..n_test].to_vec();
    let mut train = rows[n_test..].to_vec();
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// The one-hot encoding of `data`'s text features, fitted on rows `train`:
/// each text feature's categories seen there, sorted. `None` without text features.
fn fit_encoder(data: &LoadedDataset, train: &[usize]) -> Option<OneHot> {
    if !data.kinds.contains(&FeatureKind::Text) {
        return None;
    }
    let features = (0..data.features.len())
        .map(|j| {
            data.texts.get(j).map(|t| {
                let mut categories: Vec<String> = train
                    .iter()
                    .filter_map(|&r| t.get(r))
                    .map(str::to_string)
                    .collect();
                categories.sort();
                categories.dedup();
                categories
            })
        })
        .collect();
    Some(OneHot { features })
}

/// Rows `rows` of `data` as model inputs (model feature order).
fn select(data: &LoadedDataset, rows: &[usize]) -> (Array2<f64>, TextColumns) {
    let x = data.x.select(Axis(0), rows);
    let mut texts = TextColumns::new();
    for (j, t) in data.texts.iter() {
        texts.insert(j, TextColumn::from_values(rows.iter().map(|&r| t.get(r))));
    }
    (x, texts)
}

/// Fits and evaluates a validated request on already loaded data.
pub fn train_on(
    valid: &ValidRequest,
    data: &LoadedDataset,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<TrainedModel, TrainingError> {
    let check = || {
        if cancel.load(Ordering::Relaxed) {
            Err(TrainingError::Cancelled)
        } else {
            Ok(())
        }
    };
    check()?;
    let task = data.task;
    if valid.algorithm.task() != task {
        return Err(TrainingError::Dataset {
            name: valid.dataset.clone(),
            reason: format!(
                "{} is a {} model but the dataset is a {} task",
                valid.algorithm,
                valid.algorithm.task(),
                task
            ),
        });
    }
    let n_classes = data.classes.len();
    let (train_rows, test_rows) = match task {
        Task::Classification => stratified_split(&data.y, n_classes, valid.test_split, valid.seed),
        Task::Regression => shuffled_split(data.rows(), valid.test_split, valid.seed),
    };
    if train_rows.is_empty() || test_rows.is_empty() {
        return Err(TrainingError::Dataset {
            name: valid.dataset.clone(),
            reason: format!(
                "{} rows cannot be split into train and test with test_split {}",
                data.rows(),
                valid.test_split
            ),
        });
    }
    let params = fit::Params(&valid.hyperparameters);
    let scaling = match params.text("scaling") {
        "minmax" => Scaling::MinMax,
        "standard" => Scaling::Standard,
        _ => Scaling::None,
    };
    // Encode (one-hot for text features, fitted on the training split), then scale.
    let encoder = fit_encoder(data, &train_rows);
    let x_train_raw = {
        let (x, texts) = select(data, &train_rows);
        match &encoder {
            None => x,
            Some(e) => {
                let columns: Vec<usize> = (0..data.features.len()).collect();
                let inputs = Inputs::new(x.view(), &texts);
                let encoding = Encoding::new(e, &columns, &inputs);
                let mut buf = Vec::with_capacity(x.nrows() * e.width());
                encoding.gather(&inputs, 0..x.nrows(), None, &mut buf);
                Array2::from_shape_vec((x.nrows(), e.width()), buf).expect("the encoding's width")
            }
        }
    };
    let scaler = Scaler::fit(scaling, x_train_raw.view());
    let x_train: Array2<f64> = match &scaler {
        Some(s) => {
            let mut x = x_train_raw;
            for mut row in x.rows_mut() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = s.apply(j, *v);
                }
            }
            x
        }
        None => x_train_raw,
    };
    progress(Progress {
        stage: Stage::Fitting,
        fraction: 0.1,
    });
    let mut fitting = |f: f64| {
        progress(Progress {
            stage: Stage::Fitting,
            fraction: 0.1 + 0.8 * f,
        })
    };
    let predictor = match task {
        Task::Classification => {
            let y_train: Vec<usize> = train_rows.iter().map(|&r| data.y[r]).collect();
            fit::fit(
                valid.algorithm,
                &params,
                &fit::TrainingSet {
                    x: x_train.view(),
                    y: &y_train,
                    n_classes,
                },
                valid.seed,
                cancel,
                &mut fitting,
            )?
        }
        Task::Regression => {
            let y_train: Vec<f64> = train_rows.iter().map(|&r| data.targets[r]).collect();
            fit::fit_regression(
                valid.algorithm,
                &params,
                x_train.view(),
                &y_train,
                valid.seed,
                cancel,
                &mut fitting,
            )?
        }
    };
    check()?;
    progress(Progress {
        stage: Stage::Evaluating,
        fraction: 0.9,
    });

    let artifact = NativeArtifact {
        encoder,
        scaler,
        predictor,
    };
    let payload = serde_json::to_vec(&artifact).map_err(|e| ModelError::Encode(e.to_string()))?;
    let mut meta = ModelMeta {
        format: ARTIFACT_FORMAT.to_string(),
        name: String::new(),
        version: 0,
        algorithm: valid.algorithm,
        hyperparameters: valid.hyperparameters.clone(),
        features: data.features.clone(),
        feature_kinds: data.kinds.clone(),
        task,
        labels: match task {
            Task::Classification => data.classes.clone(),
            Task::Regression => Vec::new(),
        },
        scaling,
        training: Some(TrainingInfo {
            dataset: valid.dataset.clone(),
            fingerprint: dataset::fingerprint(data, &train_rows),
            train_rows: train_rows.len(),
            test_rows: test_rows.len(),
            test_split: valid.test_split,
            seed: valid.seed,
        }),
        metrics: None,
        regression_metrics: None,
        created_at: jiff::Timestamp::now(),
        payload: PayloadKind::Native,
        content_sha256: crate::model::registry::sha256_hex(&payload),
    };
    // Evaluate through the same path production scoring takes.
    let model = Model::new(meta.clone(), crate::model::Predictor::Native(artifact));
    let binding = model.bind(&data.features)?;
    let (x_test, texts_test) = select(data, &test_rows);
    let predictions = model.predict(&binding, Inputs::new(x_test.view(), &texts_test))?;
    match task {
        Task::Classification => {
            let predicted: Vec<usize> = predictions
                .iter()
                .map(|p| p.class_index().unwrap_or(0))
                .collect();
            let truth: Vec<usize> = test_rows.iter().map(|&r| data.y[r]).collect();
            meta.metrics = Some(metrics::evaluate(&data.classes, &truth, &predicted));
        }
        Task::Regression => {
            let predicted: Vec<f64> = predictions
                .iter()
                .map(|p| p.value().unwrap_or(f64::NAN))
                .collect();
            let truth: Vec<f64> = test_rows.iter().map(|&r| data.targets[r]).collect();
            meta.regression_metrics = Some(metrics::regression(&truth, &predicted));
        }
    }
    let crate::model::Predictor::Native(artifact) = model.into_predictor() else {
        unreachable!("built as native above")
    };
    progress(Progress {
        stage: Stage::Done,
        fraction: 1.0,
    });
    Ok(TrainedModel { meta, artifact })
}

/// Trains and keeps the result as an experiment in `registry`.
pub fn train_experiment(
    catalog: &Catalog,
    registry: &Registry,
    request: &TrainRequest,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<(ExperimentId, ModelMeta), TrainingError> {
    let trained = train(catalog, request, progress, cancel)?;
    let id = registry.save_experiment(trained.meta, &trained.artifact)?;
    let meta = registry.experiment(&id)?;
    Ok((id, meta))
}

#[cfg(test)]
mod tests {
    use super::stratified_split;

    #[test]
    fn stratified_split_keeps_every_class_on_both_sides_and_is_seeded() {
        let y: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let (train, test) = stratified_split(&y, 3, 0.2, 1);
        assert_eq!(train.len() + test.len(), 30);
        assert_eq!(test.len(), 6);
        for c in 0..3 {
            assert!(train.iter().any(|&r| y[r] == c) && test.iter().any(|&r| y[r] == c));
        }
        assert_eq!(
            stratified_split(&y, 3, 0.2, 1),
            (train.clone(), test.clone())
        );
        assert_ne!(stratified_split(&y, 3, 0.2, 2).1, test);
        // A class with a single row stays in training.
        let (train, test) = stratified_split(&[0, 0, 0, 1], 2, 0.5, 3);
        assert!(train.contains(&3) && !test.contains(&3));
    }
}
