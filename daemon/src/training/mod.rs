//! Training: the catalog of datasets/models/metrics, validating a training
//! request, fitting a native model off the async runtime, and evaluating it on
//! a held-out split.
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

use crate::model::native::{NativeArtifact, Scaler};
use crate::model::{
    ARTIFACT_FORMAT, Algorithm, ExperimentId, Model, ModelError, ModelMeta, ParamValue,
    PayloadKind, Registry, Scaling, TrainingInfo,
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
    let n_classes = data.classes.len();
    let (train_rows, test_rows) =
        stratified_split(&data.y, n_classes, valid.test_split, valid.seed);
    if train_rows.is_empty() || test_rows.is_empty() {
        return Err(TrainingError::Dataset {
            name: valid.dataset.clone(),
            reason: format!(
                "{} rows cannot be split into train and test with test_split {}",
                data.y.len(),
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
    let x_train_raw = data.x.select(Axis(0), &train_rows);
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
    let y_train: Vec<usize> = train_rows.iter().map(|&r| data.y[r]).collect();
    progress(Progress {
        stage: Stage::Fitting,
        fraction: 0.1,
    });
    let predictor = fit::fit(
        valid.algorithm,
        &params,
        &fit::TrainingSet {
            x: x_train.view(),
            y: &y_train,
            n_classes,
        },
        valid.seed,
        cancel,
        &mut |f| {
            progress(Progress {
                stage: Stage::Fitting,
                fraction: 0.1 + 0.8 * f,
            })
        },
    )?;
    check()?;
    progress(Progress {
        stage: Stage::Evaluating,
        fraction: 0.9,
    });

    let artifact = NativeArtifact { scaler, predictor };
    let payload = serde_json::to_vec(&artifact).map_err(|e| ModelError::Encode(e.to_string()))?;
    let mut meta = ModelMeta {
        format: ARTIFACT_FORMAT.to_string(),
        name: String::new(),
        version: 0,
        algorithm: valid.algorithm,
        hyperparameters: valid.hyperparameters.clone(),
        features: data.features.clone(),
        labels: data.classes.clone(),
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
        created_at: jiff::Timestamp::now(),
        payload: PayloadKind::Native,
        content_sha256: crate::model::registry::sha256_hex(&payload),
    };
    // Evaluate through the same path production scoring takes.
    let model = Model::new(meta.clone(), crate::model::Predictor::Native(artifact));
    let binding = model.bind(&data.features)?;
    let x_test = data.x.select(Axis(0), &test_rows);
    let predicted: Vec<usize> = model
        .predict(&binding, x_test.view())?
        .into_iter()
        .map(|p| p.class_index)
        .collect();
    let truth: Vec<usize> = test_rows.iter().map(|&r| data.y[r]).collect();
    meta.metrics = Some(metrics::evaluate(&data.classes, &truth, &predicted));
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
