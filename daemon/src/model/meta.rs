//! Model metadata: what an artifact says about itself (`meta.json` next to the
//! payload). Receives values from training and ONNX import; emits them to the
//! registry listing and to clients. Plain serde data, no behaviour beyond naming.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The artifact format this build writes and the only one it loads.
pub const ARTIFACT_FORMAT: &str = "mld-model/1";

/// Which predictor an artifact holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    LogisticRegression,
    DecisionTree,
    GaussianNb,
    Svm,
    RandomForest,
    /// A model trained elsewhere and imported as ONNX.
    Onnx,
}

impl Algorithm {
    /// The natively trainable algorithms, in catalog order.
    pub const NATIVE: [Algorithm; 5] = [
        Algorithm::LogisticRegression,
        Algorithm::DecisionTree,
        Algorithm::GaussianNb,
        Algorithm::Svm,
        Algorithm::RandomForest,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::LogisticRegression => "logistic_regression",
            Algorithm::DecisionTree => "decision_tree",
            Algorithm::GaussianNb => "gaussian_nb",
            Algorithm::Svm => "svm",
            Algorithm::RandomForest => "random_forest",
            Algorithm::Onnx => "onnx",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::NATIVE
            .into_iter()
            .chain([Algorithm::Onnx])
            .find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A hyperparameter value. Externally tagged so it survives non-self-describing
/// encodings (bincode) as well as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl ParamValue {
    /// The type name used in messages and the catalog.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamValue::Bool(_) => "bool",
            ParamValue::Int(_) => "int",
            ParamValue::Float(_) => "float",
            ParamValue::Text(_) => "text",
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// Feature scaling applied before the predictor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    None,
    /// `(x - min) / (max - min)`, fitted on the training split.
    MinMax,
    /// `(x - mean) / std`, fitted on the training split.
    Standard,
    /// Whatever the imported ONNX graph does itself (e.g. a scikit-learn Pipeline).
    InsideOnnx,
}

impl Scaling {
    pub fn name(self) -> &'static str {
        match self {
            Scaling::None => "none",
            Scaling::MinMax => "minmax",
            Scaling::Standard => "standard",
            Scaling::InsideOnnx => "inside_onnx",
        }
    }
}

/// How a native model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub dataset: String,
    /// sha256 (hex) of the training rows: features as little-endian f64, then the label.
    pub fingerprint: String,
    pub train_rows: usize,
    pub test_rows: usize,
    pub test_split: f64,
    pub seed: u64,
}

/// Precision, recall and F1 of one class on the held-out split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// How many held-out rows truly have this class.
    pub support: u64,
}

/// Evaluation on the held-out split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub accuracy: f64,
    pub per_class: Vec<ClassMetrics>,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    /// `confusion[truth][predicted]`, classes in label order.
    pub confusion: Vec<Vec<u64>>,
}

/// Where the predictor bytes are, next to `meta.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// `model.json`: fitted scaler + native predictor.
    Native,
    /// `model.onnx`: the imported graph, verbatim.
    Onnx,
}

impl PayloadKind {
    pub fn file_name(self) -> &'static str {
        match self {
            PayloadKind::Native => "model.json",
            PayloadKind::Onnx => "model.onnx",
        }
    }
}

/// Everything an artifact says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Always [`ARTIFACT_FORMAT`] for artifacts this build can load.
    pub format: String,
    /// Registry name; empty for an uncommitted experiment.
    pub name: String,
    /// 1, 2, 3… per name; 0 for an uncommitted experiment.
    pub version: u32,
    pub algorithm: Algorithm,
    pub hyperparameters: BTreeMap<String, ParamValue>,
    /// Input features in the order the predictor expects them.
    pub features: Vec<String>,
    /// Class labels; a prediction's `class_index` indexes this list.
    pub labels: Vec<String>,
    pub scaling: Scaling,
    pub training: Option<TrainingInfo>,
    pub metrics: Option<Metrics>,
    pub created_at: jiff::Timestamp,
    pub payload: PayloadKind,
    /// sha256 (hex) of the payload file's bytes; checked on every load.
    pub content_sha256: String,
}
