//! Model metadata: what an artifact says about itself (`meta.json` next to the
//! payload). Receives values from training and ONNX import; emits them to the
//! registry listing and to clients. Plain serde data, no behaviour beyond naming.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The artifact format this build writes and the only one it loads.
pub const ARTIFACT_FORMAT: &str = "mld-model/1";

/// What a model predicts: one of its classes, or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// One of the model's class labels, with a score.
    #[default]
    Classification,
    /// A number (expected revenue, days to churn, demand).
    Regression,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a model input takes: a number, or text (a category the model's own
/// preprocessing encodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    #[default]
    Number,
    Text,
}

impl FeatureKind {
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Number => "number",
            FeatureKind::Text => "text",
        }
    }
}

impl fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
    /// Ordinary least squares.
    LinearRegression,
    /// Least squares with an L2 penalty (elastic net with `l1_ratio` 0).
    Ridge,
    /// Least squares with L1 and L2 penalties.
    ElasticNet,
    /// A CART tree whose leaves hold the mean target of their training rows.
    DecisionTreeRegressor,
    /// Bagged regression trees; the prediction is their mean.
    RandomForestRegressor,
}

impl Algorithm {
    /// The natively trainable algorithms, in catalog order.
    pub const NATIVE: [Algorithm; 10] = [
        Algorithm::LogisticRegression,
        Algorithm::DecisionTree,
        Algorithm::GaussianNb,
        Algorithm::Svm,
        Algorithm::RandomForest,
        Algorithm::LinearRegression,
        Algorithm::Ridge,
        Algorithm::ElasticNet,
        Algorithm::DecisionTreeRegressor,
        Algorithm::RandomForestRegressor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::LogisticRegression => "logistic_regression",
            Algorithm::DecisionTree => "decision_tree",
            Algorithm::GaussianNb => "gaussian_nb",
            Algorithm::Svm => "svm",
            Algorithm::RandomForest => "random_forest",
            Algorithm::Onnx => "onnx",
            Algorithm::LinearRegression => "linear_regression",
            Algorithm::Ridge => "ridge",
            Algorithm::ElasticNet => "elastic_net",
            Algorithm::DecisionTreeRegressor => "decision_tree_regressor",
            Algorithm::RandomForestRegressor => "random_forest_regressor",
        }
    }

    /// What a natively trained model of this algorithm predicts (ONNX: either; see the meta).
    pub fn task(self) -> Task {
        match self {
            Algorithm::LinearRegression
            | Algorithm::Ridge
            | Algorithm::ElasticNet
            | Algorithm::DecisionTreeRegressor
            | Algorithm::RandomForestRegressor => Task::Regression,
            _ => Task::Classification,
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

/// Evaluation of a regressor on the held-out split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination: 1 − SS_res / SS_tot (1 is perfect; 0 is
    /// no better than predicting the mean; it can be negative).
    pub r2: f64,
    pub rows: u64,
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
    /// Each feature's type, in `features` order (absent in artifacts written
    /// before text features: every feature is then a number).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_kinds: Vec<FeatureKind>,
    /// Absent in artifacts written before regressors: classification.
    #[serde(default)]
    pub task: Task,
    /// Class labels; a prediction's `class_index` indexes this list. Empty for a regressor.
    pub labels: Vec<String>,
    pub scaling: Scaling,
    pub training: Option<TrainingInfo>,
    /// A classifier's evaluation.
    pub metrics: Option<Metrics>,
    /// A regressor's evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression_metrics: Option<RegressionMetrics>,
    pub created_at: jiff::Timestamp,
    pub payload: PayloadKind,
    /// sha256 (hex) of the payload file's bytes; checked on every load.
    pub content_sha256: String,
}

impl ModelMeta {
    /// Feature `j`'s type (a number unless the artifact says otherwise).
    pub fn feature_kind(&self, j: usize) -> FeatureKind {
        self.feature_kinds.get(j).copied().unwrap_or_default()
    }

    /// Every feature's type, in feature order.
    pub fn kinds(&self) -> Vec<FeatureKind> {
        (0..self.features.len())
            .map(|j| self.feature_kind(j))
            .collect()
    }

    /// Whether any feature is text.
    pub fn has_text(&self) -> bool {
        self.feature_kinds.contains(&FeatureKind::Text)
    }
}
