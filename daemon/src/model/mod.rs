//! Models: the registry of versioned artifacts, loading them (native
//! predictors or imported ONNX graphs) and scoring rows.
//!
//! Receives: a registry directory, column names and batches of rows
//! ([`Inputs`]: numbers, and text for text features). Emits: [`Model`]s that
//! score rows by feature *name* into [`Prediction`]s — a class with its score,
//! or a number for a regressor — and [`ModelError`]s that say exactly why an
//! artifact or a batch was refused. A row the model itself refuses (a
//! category its encoder does not accept) is set aside with the reason
//! ([`Scoring::refused`]), like any row that cannot be scored.
//!
//! Everything here is synchronous and may block (file I/O, ONNX Runtime): call it
//! from blocking threads, never from the async runtime.

pub mod cache;
pub mod explain;
pub mod input;
pub mod meta;
pub mod native;
pub mod onnx;
pub mod registry;

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::ArrayView2;

pub use explain::{Contribution, Explanation, PathStep, ScoreKind, Scored};
pub use input::{Inputs, TextColumn, TextColumns};
pub use meta::{
    ARTIFACT_FORMAT, Algorithm, ClassMetrics, FeatureKind, Metrics, ModelMeta, ParamValue,
    PayloadKind, RegressionMetrics, Scaling, Task, TrainingInfo,
};
pub use native::NativeArtifact;
pub use onnx::{OnnxRuntimeSource, ensure_runtime, locate_onnxruntime};
pub use registry::{
    ExperimentEntry, ExperimentId, ModelEntry, Registry, VersionEntry, VersionRef, VersionStatus,
};

/// ONNX batches: large enough to amortize a session run, small enough that
/// the graph's intermediate tensors stay in cache (1M rows of a scaler +
/// logistic regression ran in 0.23 s in chunks of 10,000 and 0.28 s in
/// chunks of 65,536, with ONNX Runtime's own Python binding).
const CHUNK_ROWS: usize = 8192;
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
    #[error("feature {feature} is text, but the input gives it as numbers")]
    TextExpected { feature: String },
    #[error("the model refused row {row}: {reason}")]
    Refused { row: usize, reason: String },
    #[error("could not encode the artifact: {0}")]
    Encode(String),
}

/// One scored row: a class (classifiers) or a number (regressors).
///
/// A class's `score` is the model's probability of the predicted class
/// where it has one: logistic regression and Gaussian NB (posterior),
/// decision tree (share of the training rows in the leaf with that class),
/// random forest (share of trees that voted for it), ONNX (the
/// `probabilities` output). For SVM it is the decision value (margin) of the
/// winning machine, not a probability; for an ONNX graph without a
/// probability output it is 1.0.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    Class {
        class_index: usize,
        label: Arc<str>,
        score: f64,
    },
    /// A regressor's predicted value.
    Value(f64),
}

impl Prediction {
    pub fn class_index(&self) -> Option<usize> {
        match self {
            Prediction::Class { class_index, .. } => Some(*class_index),
            Prediction::Value(_) => None,
        }
    }

    pub fn label(&self) -> Option<&Arc<str>> {
        match self {
            Prediction::Class { label, .. } => Some(label),
            Prediction::Value(_) => None,
        }
    }

    pub fn score(&self) -> Option<f64> {
        match self {
            Prediction::Class { score, .. } => Some(*score),
            Prediction::Value(_) => None,
        }
    }

    pub fn value(&self) -> Option<f64> {
        match self {
            Prediction::Value(v) => Some(*v),
            Prediction::Class { .. } => None,
        }
    }
}

/// A batch scored: a prediction per accepted row, in row order, and the rows
/// the model refused (index in the batch, why), which have none.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scoring {
    pub predictions: Vec<Prediction>,
    pub refused: Vec<(usize, String)>,
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

    /// Each feature's type, in feature order.
    pub fn feature_kinds(&self) -> Vec<FeatureKind> {
        self.meta.kinds()
    }

    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    pub fn task(&self) -> Task {
        self.meta.task
    }

    /// Whether this ONNX classifier's text labels are read from its
    /// probabilities (a `LinearClassifier`; rows in doubt still ask the
    /// graph) rather than from its label output, row by row.
    pub fn onnx_labels_from_probabilities(&self) -> bool {
        matches!(&self.predictor, Predictor::Onnx(o) if o.labels_from_probabilities())
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

    /// Scores every row, or fails on the first the model refuses (see
    /// [`Self::score`] to set refused rows aside instead).
    pub fn predict<'a>(
        &self,
        binding: &FeatureBinding,
        rows: impl Into<Inputs<'a>>,
    ) -> Result<Vec<Prediction>, ModelError> {
        let scoring = self.score(binding, rows)?;
        match scoring.refused.into_iter().next() {
            Some((row, reason)) => Err(ModelError::Refused { row, reason }),
            None => Ok(scoring.predictions),
        }
    }

    /// Scores `rows` (columns as given to [`Model::bind`]; a text feature's
    /// column in `rows.texts`). Numbers must be finite: the caller sets rows
    /// with NULL / non-numeric numbers aside as unscorable before calling (a
    /// NaN would score, meaninglessly). A NULL text value is the encoder's
    /// to judge. Blocking; a 10k-row batch takes well under a millisecond
    /// for native models.
    pub fn score<'a>(
        &self,
        binding: &FeatureBinding,
        rows: impl Into<Inputs<'a>>,
    ) -> Result<Scoring, ModelError> {
        let rows = rows.into();
        if binding.model_hash != self.meta.content_sha256 {
            return Err(ModelError::ForeignBinding {
                bound: binding.model_hash.clone(),
                model: self.meta.content_sha256.clone(),
            });
        }
        if rows.numbers.ncols() != binding.n_columns {
            return Err(ModelError::ColumnCount {
                expected: binding.n_columns,
                got: rows.numbers.ncols(),
            });
        }
        for (j, &c) in binding.columns.iter().enumerate() {
            if self.meta.feature_kind(j) == FeatureKind::Text
                && rows
                    .texts
                    .get(c)
                    .is_none_or(|t| t.len() < rows.offset + rows.rows())
            {
                return Err(ModelError::TextExpected {
                    feature: self.meta.features[j].clone(),
                });
            }
        }
        let mut out = Scoring {
            predictions: Vec::with_capacity(rows.rows()),
            refused: Vec::new(),
        };
        match &self.predictor {
            Predictor::Native(artifact) => {
                self.predict_native(artifact, &binding.columns, rows, &mut out.predictions)
            }
            Predictor::Onnx(onnx) => {
                let mut outputs = Vec::with_capacity(CHUNK_ROWS.min(rows.rows()));
                for start in (0..rows.rows()).step_by(CHUNK_ROWS) {
                    let end = (start + CHUNK_ROWS).min(rows.rows());
                    let refused =
                        onnx.score_into(&binding.columns, rows.slice(start..end), &mut outputs)?;
                    out.refused
                        .extend(refused.into_iter().map(|(r, why)| (start + r, why)));
                    out.predictions
                        .extend(outputs.iter().map(|&o| self.onnx_prediction(o)));
                }
            }
        }
        Ok(out)
    }

    #[inline]
    fn prediction(&self, class_index: usize, score: f64) -> Prediction {
        Prediction::Class {
            class_index,
            label: self.labels[class_index].clone(),
            score,
        }
    }

    fn onnx_prediction(&self, o: onnx::Output) -> Prediction {
        match o {
            onnx::Output::Class { index, score } => self.prediction(index, score),
            onnx::Output::Value(v) => Prediction::Value(v),
        }
    }

    /// The columns a native predictor sees: the encoded features' names
    /// (`plan=pro` for a one-hot column), else the features'.
    pub fn encoded_features(&self) -> Vec<String> {
        match &self.predictor {
            Predictor::Native(NativeArtifact {
                encoder: Some(e), ..
            }) => e.encoded_names(&self.meta.features),
            _ => self.meta.features.clone(),
        }
    }

    fn predict_native(
        &self,
        artifact: &NativeArtifact,
        columns: &[usize],
        rows: Inputs<'_>,
        out: &mut Vec<Prediction>,
    ) {
        let width = artifact
            .encoder
            .as_ref()
            .map_or(columns.len(), |e| e.width());
        let n_rows = rows.rows();
        let chunk = NATIVE_CHUNK_ROWS.min(n_rows.max(1));
        let mut buf = Vec::with_capacity(chunk * width);
        let mut scored = Vec::with_capacity(chunk);
        let mut values = Vec::with_capacity(chunk);
        let encoding = artifact
            .encoder
            .as_ref()
            .map(|e| native::Encoding::new(e, columns, &rows));
        let regressor = artifact.predictor.is_regressor();
        for start in (0..n_rows).step_by(chunk) {
            let end = (start + chunk).min(n_rows);
            buf.clear();
            match &encoding {
                Some(enc) => enc.gather(&rows, start..end, artifact.scaler.as_ref(), &mut buf),
                None => gather(
                    rows.numbers.slice(ndarray::s![start..end, ..]),
                    columns,
                    artifact.scaler.as_ref(),
                    &mut buf,
                ),
            }
            if regressor {
                values.clear();
                artifact.predictor.predict_values(&buf, width, &mut values);
                out.extend(values.iter().map(|&v| Prediction::Value(v)));
            } else {
                scored.clear();
                artifact.predictor.predict_batch(&buf, width, &mut scored);
                out.extend(
                    scored
                        .iter()
                        .map(|&(class_index, score)| self.prediction(class_index, score)),
                );
            }
        }
    }
}

/// Gathers `columns` of each row of `block` by name binding and scales them
/// in one pass, into a dense row-major block (every feature a number).
fn gather(
    block: ArrayView2<f64>,
    columns: &[usize],
    scaler: Option<&native::Scaler>,
    buf: &mut Vec<f64>,
) {
    let ncols = block.ncols().max(1);
    match (block.as_slice(), scaler) {
        // The usual case (a standard-layout batch): plain slice indexing, no stride arithmetic.
        (Some(flat), Some(s)) => {
            for input in flat.chunks_exact(ncols) {
                buf.extend(
                    columns
                        .iter()
                        .enumerate()
                        .map(|(j, &c)| s.apply(j, input[c])),
                );
            }
        }
        (Some(flat), None) => {
            for input in flat.chunks_exact(ncols) {
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
}
