//! Models: the registry of versioned artifacts, loading them (native linfa
//! predictors or imported ONNX graphs) and scoring rows.
//!
//! Receives: a registry directory, column names and batches of `f64` rows.
//! Emits: [`Model`]s that score rows by feature *name* into [`Prediction`]s, and
//! [`ModelError`]s that say exactly why an artifact or a batch was refused.
//!
//! Everything here is synchronous and may block (file I/O, ONNX Runtime): call it
//! from blocking threads, never from the async runtime.

pub mod cache;
pub mod explain;
pub mod meta;
pub mod native;
pub mod onnx;
pub mod registry;

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::ArrayView2;

pub use explain::{Contribution, Explanation, PathStep, ScoreKind, Scored};
pub use meta::{
    ARTIFACT_FORMAT, Algorithm, ClassMetrics, Metrics, ModelMeta, ParamValue, PayloadKind, Scaling,
    TrainingInfo,
};
pub use native::NativeArtifact;
pub use onnx::{OnnxRuntimeSource, ensure_runtime, locate_onnxruntime};
pub use registry::{
    ExperimentEntry, ExperimentId, ModelEntry, Registry, VersionEntry, VersionRef, VersionStatus,
};

/// ONNX batches: large enough to amortize a session run.
const CHUNK_ROWS: usize = 65536;
/// Native batches: small enough that the gathered block and a forest's votes stay in cache.
const NATIVE_CHUNK_ROWS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the model needs features that the input lacks: {}", names.join(", "))]
    MissingFeatures { names: Vec<String> },
    #[error("the batch has {got} columns but the binding was made for {expected}")]
    ColumnCount { expected: usize, got: usize },
    #[error("this feature binding was made for another model ({bound}), not {model}")]
    ForeignBinding { bound: String, model: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("artifact {path} refused: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "artifact {path} refused: unknown format {found:?} (this mld reads {ARTIFACT_FORMAT:?})"
    )]
    UnknownFormat { path: PathBuf, found: String },
    #[error(
        "artifact {path} refused: content hash mismatch (meta says {expected}, payload is {actual})"
    )]
    HashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("model {name} version {version} already exists; committed versions are immutable")]
    VersionExists { name: String, version: u32 },
    #[error("no model {name}{}", version.map(|v| format!(" version {v}")).unwrap_or_default())]
    NotFound { name: String, version: Option<u32> },
    #[error("model {name} has no active version")]
    NoActive { name: String },
    #[error("no experiment {id}")]
    ExperimentNotFound { id: String },
    #[error("invalid model name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error(
        "ONNX Runtime library not found ({tried}); install it with `pip install onnxruntime`, \
         or set ORT_DYLIB_PATH (or `models.onnxruntime` in the config) to libonnxruntime.so"
    )]
    OnnxRuntimeMissing { tried: String },
    #[error("ONNX Runtime at {path} could not be loaded: {reason}")]
    OnnxRuntimeLoad { path: PathBuf, reason: String },
    #[error("ONNX model not supported: {reason}")]
    OnnxUnsupported { reason: String },
    #[error("ONNX Runtime failed: {reason}")]
    OnnxRun { reason: String },
    #[error("labels: {reason}")]
    Labels { reason: String },
    #[error("could not encode the artifact: {0}")]
    Encode(String),
}

/// One scored row.
///
/// `score` is the model's probability of the predicted class where it has one:
/// logistic regression and Gaussian NB (posterior), decision tree (share of the
/// training rows in the leaf with that class), random forest (share of trees that
/// voted for it), ONNX (the `probabilities` output). For SVM it is the decision
/// value (margin) of the winning machine, not a probability; for an ONNX graph
/// without a probability output it is 1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub class_index: usize,
    pub label: Arc<str>,
    pub score: f64,
}

/// Which input column feeds each model feature, checked once per batch shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureBinding {
    /// `columns[i]` = input column of model feature `i`.
    columns: Vec<usize>,
    n_columns: usize,
    model_hash: String,
}

impl FeatureBinding {
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }
}

pub(crate) enum Predictor {
    Native(NativeArtifact),
    Onnx(onnx::OnnxPredictor),
}

// Dispatch threads share one loaded model.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Model>();
};

/// A loaded, verified artifact, ready to score. `Send + Sync`: share it behind an `Arc`.
pub struct Model {
    meta: ModelMeta,
    labels: Vec<Arc<str>>,
    predictor: Predictor,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.meta.name)
            .field("version", &self.meta.version)
            .field("algorithm", &self.meta.algorithm)
            .finish_non_exhaustive()
    }
}

impl Model {
    pub(crate) fn new(meta: ModelMeta, predictor: Predictor) -> Model {
        let labels = meta.labels.iter().map(|l| Arc::from(l.as_str())).collect();
        Model {
            meta,
            labels,
            predictor,
        }
    }

    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    pub(crate) fn into_predictor(self) -> Predictor {
        self.predictor
    }

    pub fn features(&self) -> &[String] {
        &self.meta.features
    }

    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    /// Matches the model's features to `columns` by name (exact, case-sensitive).
    /// Extra columns are ignored; every missing feature is named in the error.
    pub fn bind<S: AsRef<str>>(&self, columns: &[S]) -> Result<FeatureBinding, ModelError> {
        let mut missing = Vec::new();
        let mut bound = Vec::with_capacity(self.meta.features.len());
        for feature in &self.meta.features {
            match columns.iter().position(|c| c.as_ref() == feature) {
                Some(i) => bound.push(i),
                None => missing.push(feature.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(ModelError::MissingFeatures { names: missing });
        }
        Ok(FeatureBinding {
            columns: bound,
            n_columns: columns.len(),
            model_hash: self.meta.content_sha256.clone(),
        })
    }

    /// Scores `rows` (one row per record, columns as given to [`Model::bind`]).
    /// Values must be finite: the caller sets rows with NULL / non-numeric cells
    /// aside as unscorable before calling (a NaN would score, meaninglessly).
    /// Blocking; a 10k-row batch takes well under a millisecond for native models.
    pub fn predict(
        &self,
        binding: &FeatureBinding,
        rows: ArrayView2<f64>,
    ) -> Result<Vec<Prediction>, ModelError> {
        if binding.model_hash != self.meta.content_sha256 {
            return Err(ModelError::ForeignBinding {
                bound: binding.model_hash.clone(),
                model: self.meta.content_sha256.clone(),
            });
        }
        if rows.ncols() != binding.n_columns {
            return Err(ModelError::ColumnCount {
                expected: binding.n_columns,
                got: rows.ncols(),
            });
        }
        let mut out = Vec::with_capacity(rows.nrows());
        match &self.predictor {
            Predictor::Native(artifact) => {
                self.predict_native(artifact, &binding.columns, rows, &mut out)
            }
            Predictor::Onnx(onnx) => {
                for start in (0..rows.nrows()).step_by(CHUNK_ROWS) {
                    let end = (start + CHUNK_ROWS).min(rows.nrows());
                    let chunk = rows.slice(ndarray::s![start..end, ..]);
                    for (class_index, score) in onnx.predict(&binding.columns, chunk)? {
                        out.push(self.prediction(class_index, score));
                    }
                }
            }
        }
        Ok(out)
    }

    #[inline]
    fn prediction(&self, class_index: usize, score: f64) -> Prediction {
        Prediction {
            class_index,
            label: self.labels[class_index].clone(),
            score,
        }
    }

    fn predict_native(
        &self,
        artifact: &NativeArtifact,
        columns: &[usize],
        rows: ArrayView2<f64>,
        out: &mut Vec<Prediction>,
    ) {
        let n = columns.len();
        let chunk = NATIVE_CHUNK_ROWS.min(rows.nrows().max(1));
        let mut buf = Vec::with_capacity(chunk * n);
        let mut scored = Vec::with_capacity(chunk);
        for start in (0..rows.nrows()).step_by(chunk) {
            let end = (start + chunk).min(rows.nrows());
            // Gather by name binding and scale in one pass, into a dense row-major block.
            buf.clear();
            let block = rows.slice(ndarray::s![start..end, ..]);
            match (block.as_slice(), &artifact.scaler) {
                // The usual case (a standard-layout batch): plain slice indexing, no stride arithmetic.
                (Some(flat), Some(s)) => {
                    for input in flat.chunks_exact(rows.ncols().max(1)) {
                        buf.extend(
                            columns
                                .iter()
                                .enumerate()
                                .map(|(j, &c)| s.apply(j, input[c])),
                        );
                    }
                }
                (Some(flat), None) => {
                    for input in flat.chunks_exact(rows.ncols().max(1)) {
                        buf.extend(columns.iter().map(|&c| input[c]));
                    }
                }
                (None, scaler) => {
                    for input in block.rows() {
                        match scaler {
                            Some(s) => buf.extend(
                                columns
                                    .iter()
                                    .enumerate()
                                    .map(|(j, &c)| s.apply(j, input[c])),
                            ),
                            None => buf.extend(columns.iter().map(|&c| input[c])),
                        }
                    }
                }
            }
            scored.clear();
            artifact.predictor.predict_batch(&buf, n, &mut scored);
            out.extend(
                scored
                    .iter()
                    .map(|&(class_index, score)| self.prediction(class_index, score)),
            );
        }
    }
}
