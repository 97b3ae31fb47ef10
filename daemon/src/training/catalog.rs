//! The training catalog: which datasets, models (with their hyperparameters)
//! and metrics exist, and the validation of a [`TrainRequest`] against it.
//!
//! Receives `[models.datasets]` from the config. Emits a serde-serializable
//! [`Catalog`] that clients turn into forms, and per-field [`FieldError`]s.
//! Adding an algorithm means adding a [`ModelSpec`] here; clients need no change.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mld_shared::config::{DatalakeConfig, DatasetConfig};
use serde::{Deserialize, Serialize};

use super::dataset::{self, Task};
use super::{TrainRequest, TrainingError};
use crate::model::{Algorithm, FeatureKind, ParamValue};

/// Where a dataset's rows come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetSource {
    Csv { path: PathBuf },
    Query { datalake: String, query: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub name: String,
    /// `None` when the dataset could not be read (see `problem`).
    pub task: Option<Task>,
    pub description: String,
    pub source: DatasetSource,
    pub features: Vec<String>,
    /// Each feature's type: a number, or text (one-hot encoded before fitting).
    pub kinds: Vec<FeatureKind>,
    pub label: String,
    pub records: usize,
    pub classes: Vec<String>,
    /// What happens to the rows before fitting, in order.
    pub preprocessing: Vec<String>,
    /// Why this dataset cannot be used right now, if it cannot.
    pub problem: Option<String>,
}

/// The type and admissible values of a hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    Int {
        min: i64,
        max: i64,
    },
    /// An int value is accepted too.
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    Choice {
        options: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HyperparameterSpec {
    pub name: String,
    pub description: String,
    pub kind: ParamKind,
    pub default: ParamValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The name a request uses (`Algorithm::name`).
    pub name: String,
    pub algorithm: Algorithm,
    pub task: Task,
    pub description: String,
    pub hyperparameters: Vec<HyperparameterSpec>,
}

impl ModelSpec {
    /// Every hyperparameter at its default value.
    pub fn defaults(&self) -> BTreeMap<String, ParamValue> {
        self.hyperparameters
            .iter()
            .map(|h| (h.name.clone(), h.default.clone()))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSpec {
    pub name: String,
    pub description: String,
}

/// Everything that can be trained, and how it is judged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    pub datasets: Vec<DatasetInfo>,
    pub models: Vec<ModelSpec>,
    pub metrics: Vec<MetricSpec>,
    /// The configs behind `datasets`, to load rows at training time.
    #[serde(skip)]
    configs: BTreeMap<String, DatasetConfig>,
    /// The datalakes that query datasets read from.
    #[serde(skip)]
    datalakes: BTreeMap<String, DatalakeConfig>,
}

/// One violation of a training request, naming the field
/// (`dataset`, `model`, `hyperparameters.NAME`, `test_split`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A request that passed validation, with every hyperparameter filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRequest {
    pub dataset: String,
    pub algorithm: Algorithm,
    pub hyperparameters: BTreeMap<String, ParamValue>,
    pub test_split: f64,
    pub seed: u64,
}

fn int(name: &str, description: &str, min: i64, max: i64, default: i64) -> HyperparameterSpec {
    HyperparameterSpec {
        name: name.into(),
        description: description.into(),
        kind: ParamKind::Int { min, max },
        default: ParamValue::Int(default),
    }
}

fn float(name: &str, description: &str, min: f64, max: f64, default: f64) -> HyperparameterSpec {
    HyperparameterSpec {
        name: name.into(),
        description: description.into(),
        kind: ParamKind::Float { min, max },
        default: ParamValue::Float(default),
    }
}

fn choice(name: &str, description: &str, options: &[&str], default: &str) -> HyperparameterSpec {
    HyperparameterSpec {
        name: name.into(),
        description: description.into(),
        kind: ParamKind::Choice {
            options: options.iter().map(|o| o.to_string()).collect(),
        },
        default: ParamValue::Text(default.into()),
    }
}

fn scaling(default: &str) -> HyperparameterSpec {
    choice(
        "scaling",
        "feature scaling fitted on the training split",
        &["none", "minmax", "standard"],
        default,
    )
}

/// The hyperparameters of `algorithm` at their catalog defaults.
pub fn default_hyperparameters(algorithm: Algorithm) -> BTreeMap<String, ParamValue> {
    model_specs()
        .into_iter()
        .find(|m| m.algorithm == algorithm)
        .map(|m| m.defaults())
        .unwrap_or_default()
}

/// The natively trainable models and their hyperparameters.
pub fn model_specs() -> Vec<ModelSpec> {
    let spec = |algorithm: Algorithm, description: &str, hyperparameters| ModelSpec {
        name: algorithm.name().to_string(),
        algorithm,
        task: algorithm.task(),
        description: description.to_string(),
        hyperparameters,
    };
    // Each penalty is on the scale of its scikit-learn namesake, so a
    // number that works there means the same here: ridge minimizes
    // ‖y − Xw‖² + penalty·‖w‖² (`Ridge(alpha)`), elastic net
    // ‖y − Xw‖²/(2n) + penalty·(l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖²)
    // (`ElasticNet(alpha)`): n times stronger for the same number.
    let ridge_penalty = float("penalty", "Ridge's alpha in scikit-learn", 0.0, 1e9, 1.0);
    let elastic_penalty = float("penalty", "ElasticNet's alpha: 1 is strong", 0.0, 1e6, 1.0);
    let max_iterations = int(
        "max_iterations",
        "coordinate descent iteration limit",
        1,
        1_000_000,
        1000,
    );
    let tolerance = float(
        "tolerance",
        "coordinate descent stops when the duality gap is below this",
        1e-12,
        1.0,
        1e-4,
    );
    let split_quality = choice(
        "split_quality",
        "impurity measure for splits",
        &["gini", "entropy"],
        "gini",
    );
    let max_depth = int(
        "max_depth",
        "deepest level of a tree; 0 = unlimited",
        0,
        100,
        0,
    );
    vec![
        spec(
            Algorithm::LogisticRegression,
            "logistic regression (binary for two classes, multinomial for more)",
            vec![
                float("alpha", "L2 regularization strength", 0.0, 1e6, 1.0),
                int(
                    "max_iterations",
                    "optimizer iteration limit",
                    1,
                    100_000,
                    100,
                ),
                float(
                    "gradient_tolerance",
                    "optimizer stops below this gradient norm",
                    1e-12,
                    1.0,
                    1e-4,
                ),
                scaling("standard"),
            ],
        ),
        spec(
            Algorithm::DecisionTree,
            "CART decision tree",
            vec![
                split_quality.clone(),
                max_depth.clone(),
                float(
                    "min_weight_split",
                    "fewest rows a node needs to be split",
                    1.0,
                    1e9,
                    2.0,
                ),
                float("min_weight_leaf", "fewest rows in a leaf", 1.0, 1e9, 1.0),
                scaling("none"),
            ],
        ),
        spec(
            Algorithm::GaussianNb,
            "Gaussian naive Bayes",
            vec![
                float(
                    "var_smoothing",
                    "share of the largest variance added to all variances",
                    0.0,
                    1.0,
                    1e-9,
                ),
                scaling("none"),
            ],
        ),
        spec(
            Algorithm::Svm,
            "support vector machine (one-vs-rest for more than two classes)",
            vec![
                float(
                    "c",
                    "penalty for misclassified training rows",
                    1e-6,
                    1e6,
                    1.0,
                ),
                choice(
                    "kernel",
                    "kernel function",
                    &["linear", "gaussian"],
                    "linear",
                ),
                float(
                    "gaussian_eps",
                    "width of the gaussian kernel",
                    1e-6,
                    1e6,
                    1.0,
                ),
                scaling("standard"),
            ],
        ),
        spec(
            Algorithm::RandomForest,
            "random forest: bagged decision trees, majority vote (ties to the lowest class)",
            vec![
                int("n_trees", "number of trees", 1, 1000, 100),
                max_depth.clone(),
                choice(
                    "max_features",
                    "features each tree sees: sqrt(n) chosen at random, or all",
                    &["sqrt", "all"],
                    "sqrt",
                ),
                split_quality,
                scaling("none"),
            ],
        ),
        spec(
            Algorithm::LinearRegression,
            "linear regression by ordinary least squares",
            vec![scaling("none")],
        ),
        spec(
            Algorithm::Ridge,
            "linear regression with an L2 penalty, as scikit-learn's Ridge",
            vec![
                ridge_penalty,
                max_iterations.clone(),
                tolerance.clone(),
                scaling("standard"),
            ],
        ),
        spec(
            Algorithm::ElasticNet,
            "linear regression with L1 and L2 penalties, as scikit-learn's ElasticNet",
            vec![
                elastic_penalty,
                float(
                    "l1_ratio",
                    "share of the penalty that is L1 (1 = lasso, 0 = ridge)",
                    0.0,
                    1.0,
                    0.5,
                ),
                max_iterations,
                tolerance,
                scaling("standard"),
            ],
        ),
        spec(
            Algorithm::DecisionTreeRegressor,
            "CART regression tree: splits that most reduce the squared error; a leaf predicts its rows' mean",
            vec![
                max_depth.clone(),
                float(
                    "min_weight_split",
                    "fewest rows a node needs to be split",
                    2.0,
                    1e9,
                    2.0,
                ),
                float("min_weight_leaf", "fewest rows in a leaf", 1.0, 1e9, 1.0),
                scaling("none"),
            ],
        ),
        spec(
            Algorithm::RandomForestRegressor,
            "random forest of regression trees: bagged, the prediction is their mean",
            vec![
                int("n_trees", "number of trees", 1, 1000, 100),
                max_depth,
                choice(
                    "max_features",
                    "features each tree sees: sqrt(n) chosen at random, or all",
                    &["sqrt", "all"],
                    "all",
                ),
                scaling("none"),
            ],
        ),
    ]
}

pub fn metric_specs() -> Vec<MetricSpec> {
    let m = |name: &str, description: &str| MetricSpec {
        name: name.into(),
        description: description.into(),
    };
    vec![
        m("accuracy", "share of held-out rows predicted correctly"),
        m(
            "precision",
            "per class and macro average: of rows predicted as the class, the share that are",
        ),
        m(
            "recall",
            "per class and macro average: of rows of the class, the share predicted as it",
        ),
        m(
            "f1",
            "per class and macro average: harmonic mean of precision and recall",
        ),
        m(
            "confusion_matrix",
            "held-out row counts by true class (rows) and predicted class (columns)",
        ),
        m(
            "mae",
            "regression: mean absolute error on the held-out rows",
        ),
        m(
            "rmse",
            "regression: root mean squared error on the held-out rows",
        ),
        m(
            "r2",
            "regression: coefficient of determination, 1 - SS_res / SS_tot (1 is perfect, 0 predicts the mean)",
        ),
    ]
}

impl Catalog {
    /// Builds the catalog; each CSV is read once to describe it. A dataset that
    /// cannot be read is listed with its `problem` rather than failing the catalog.
    pub fn new(datasets: &BTreeMap<String, DatasetConfig>) -> Catalog {
        Catalog::with_datalakes(datasets, &BTreeMap::new())
    }

    /// A catalog whose query datasets read from `datalakes`.
    pub fn with_datalakes(
        datasets: &BTreeMap<String, DatasetConfig>,
        datalakes: &BTreeMap<String, DatalakeConfig>,
    ) -> Catalog {
        let infos = datasets
            .iter()
            .map(|(name, cfg)| describe(name, cfg, datalakes))
            .collect();
        Catalog {
            datasets: infos,
            models: model_specs(),
            metrics: metric_specs(),
            configs: datasets.clone(),
            datalakes: datalakes.clone(),
        }
    }

    /// CSV datasets only: query datasets need [`Catalog::for_config`].
    pub fn from_config(models: &mld_shared::config::ModelsConfig) -> Catalog {
        Catalog::new(&models.datasets)
    }

    /// Every dataset of the configuration, query datasets included.
    pub fn for_config(config: &mld_shared::config::Config) -> Catalog {
        Catalog::with_datalakes(&config.models.datasets, &config.datalakes)
    }

    pub(crate) fn datalakes(&self) -> &BTreeMap<String, DatalakeConfig> {
        &self.datalakes
    }

    pub fn dataset(&self, name: &str) -> Option<&DatasetInfo> {
        self.datasets.iter().find(|d| d.name == name)
    }

    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    pub(crate) fn dataset_config(&self, name: &str) -> Option<&DatasetConfig> {
        self.configs.get(name)
    }

    /// Checks `request` against the catalog; returns every violation at once.
    pub fn validate(&self, request: &TrainRequest) -> Result<ValidRequest, TrainingError> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_string(),
                message,
            })
        };

        let dataset = self.dataset(&request.dataset);
        match dataset {
            None => fail(
                "dataset",
                format!("no dataset {:?} in the catalog", request.dataset),
            ),
            Some(d) => {
                if let Some(p) = &d.problem {
                    fail(
                        "dataset",
                        format!("dataset {:?} cannot be used: {p}", d.name),
                    );
                }
            }
        }
        let model = self.model(&request.model);
        if model.is_none() {
            let known: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            fail(
                "model",
                format!(
                    "no model {:?} in the catalog (known: {})",
                    request.model,
                    known.join(", ")
                ),
            );
        }
        if let (Some(d), Some(m)) = (dataset, model)
            && let Some(task) = d.task
            && task != m.task
        {
            fail(
                "model",
                format!(
                    "{} is a {} model but dataset {:?} is a {} task",
                    m.name,
                    m.task.name(),
                    d.name,
                    task.name()
                ),
            );
        }
        let mut hyperparameters = BTreeMap::new();
        if let Some(m) = model {
            for (name, value) in &request.hyperparameters {
                let field = format!("hyperparameters.{name}");
                match m.hyperparameters.iter().find(|h| &h.name == name) {
                    None => {
                        let known: Vec<&str> =
                            m.hyperparameters.iter().map(|h| h.name.as_str()).collect();
                        fail(
                            &field,
                            format!(
                                "{} has no hyperparameter {name:?} (known: {})",
                                m.name,
                                known.join(", ")
                            ),
                        )
                    }
                    Some(spec) => match check_value(spec, value) {
                        Ok(v) => {
                            hyperparameters.insert(name.clone(), v);
                        }
                        Err(message) => fail(&field, message),
                    },
                }
            }
            for spec in &m.hyperparameters {
                hyperparameters
                    .entry(spec.name.clone())
                    .or_insert_with(|| spec.default.clone());
            }
        }
        if !(request.test_split > 0.0 && request.test_split < 1.0) {
            fail(
                "test_split",
                format!(
                    "must be strictly between 0 and 1, got {}",
                    request.test_split
                ),
            );
        }
        match (errors.is_empty(), model) {
            (true, Some(m)) => Ok(ValidRequest {
                dataset: request.dataset.clone(),
                algorithm: m.algorithm,
                hyperparameters,
                test_split: request.test_split,
                seed: request.seed,
            }),
            _ => Err(TrainingError::Invalid(errors)),
        }
    }
}

/// Type- and range-checks one value; an int is widened where a float is expected.
fn check_value(spec: &HyperparameterSpec, value: &ParamValue) -> Result<ParamValue, String> {
    match (&spec.kind, value) {
        (ParamKind::Int { min, max }, ParamValue::Int(v)) => {
            if v < min || v > max {
                Err(format!("{v} is out of range [{min}, {max}]"))
            } else {
                Ok(value.clone())
            }
        }
        (ParamKind::Float { min, max }, ParamValue::Float(_) | ParamValue::Int(_)) => {
            let v = match value {
                ParamValue::Int(i) => *i as f64,
                ParamValue::Float(f) => *f,
                _ => unreachable!("matched above"),
            };
            if !v.is_finite() || v < *min || v > *max {
                Err(format!("{v} is out of range [{min}, {max}]"))
            } else {
                Ok(ParamValue::Float(v))
            }
        }
        (ParamKind::Bool, ParamValue::Bool(_)) => Ok(value.clone()),
        (ParamKind::Choice { options }, ParamValue::Text(s)) => {
            if options.contains(s) {
                Ok(value.clone())
            } else {
                Err(format!("{s:?} is not one of: {}", options.join(", ")))
            }
        }
        (kind, v) => {
            let expected = match kind {
                ParamKind::Int { .. } => "int",
                ParamKind::Float { .. } => "float",
                ParamKind::Bool => "bool",
                ParamKind::Choice { .. } => "text (one of the options)",
            };
            Err(format!("expected {expected}, got {} {v}", v.type_name()))
        }
    }
}

fn describe(
    name: &str,
    cfg: &DatasetConfig,
    datalakes: &BTreeMap<String, DatalakeConfig>,
) -> DatasetInfo {
    let mut info = DatasetInfo {
        name: name.to_string(),
        task: None,
        description: cfg.description.clone().unwrap_or_default(),
        source: match (&cfg.csv, &cfg.datalake, &cfg.query) {
            (Some(path), _, _) => DatasetSource::Csv { path: path.clone() },
            (None, datalake, query) => DatasetSource::Query {
                datalake: datalake.clone().unwrap_or_default(),
                query: query.clone().unwrap_or_default(),
            },
        },
        features: cfg.features.clone().unwrap_or_default(),
        kinds: Vec::new(),
        label: cfg.label.clone(),
        records: 0,
        classes: Vec::new(),
        preprocessing: Vec::new(),
        problem: None,
    };
    match dataset::load(name, cfg, datalakes) {
        Ok(d) => {
            info.preprocessing = preprocessing(&d);
            info.task = Some(d.task);
            info.features = d.features;
            info.kinds = d.kinds;
            info.records = d.x.nrows();
            if d.task == Task::Classification {
                info.classes = d.classes;
            }
        }
        Err(e) => info.problem = Some(e.to_string()),
    }
    info
}

/// What happens to a dataset's rows before fitting, in order.
fn preprocessing(d: &dataset::LoadedDataset) -> Vec<String> {
    let mut steps = Vec::new();
    let text: Vec<&str> = d
        .features
        .iter()
        .zip(&d.kinds)
        .filter(|(_, k)| **k == FeatureKind::Text)
        .map(|(f, _)| f.as_str())
        .collect();
    if text.is_empty() {
        steps
            .push("features parsed as numbers; a non-numeric cell rejects the dataset".to_string());
    } else {
        steps.push(format!(
            "one-hot encoding of the text features ({}): a column per category seen in the \
             training split; an unseen category or NULL encodes as all zeros",
            text.join(", ")
        ));
        steps.push("the other features parsed as numbers".to_string());
    }
    steps.push(match d.task {
        Task::Classification => "labels become class indices in sorted label order".to_string(),
        Task::Regression => "labels parsed as the numbers to predict".to_string(),
    });
    steps.push(match d.task {
        Task::Classification => {
            "stratified shuffle split into train and test with the request's seed".to_string()
        }
        Task::Regression => "shuffle split into train and test with the request's seed".to_string(),
    });
    steps.push("scaling (hyperparameter `scaling`) fitted on the training split only".to_string());
    steps
}
