//! Every class's score and why a model predicted what it did, for the
//! showroom (one row at a time, where a person looks at the answer).
//!
//! Receives rows in the model's feature order, raw (unscaled, unencoded)
//! values. Emits a [`Scored`] per row — the class and score (or the value)
//! exactly as the batch path ([`Model::score`], what dispatches write) gives
//! them, plus a score for every class — and on request an [`Explanation`]:
//! - linear models (logistic regression, linear SVM, linear regressors):
//!   each feature's contribution to the winning class's linear score (or to
//!   the value), coefficient × scaled value, largest magnitude first;
//! - decision tree: the tests from the root to the leaf;
//! - random forest: how many trees voted for each class (a regression
//!   forest: the spread of its trees' values);
//! - Gaussian naive Bayes, kernel SVM, ONNX: plainly, none.
//!
//! A one-hot encoded text feature explains as its encoded columns
//! (`plan=pro`, 1 or 0): [`Model::encoded_features`] names them.

use super::input::Inputs;
use super::native::{Encoding, LEAF, NativeArtifact, NativePredictor, SvmMachine, TreeNode};
use super::{Model, ModelError, Prediction, Predictor};

/// What a class's score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// A probability: the classes' scores sum to 1 (logistic regression,
    /// Gaussian NB, ONNX graphs with a probability output).
    Probability,
    /// Decision tree: the share of the leaf's training rows with the leaf's
    /// class; the tree does not keep the other classes' shares.
    LeafShare,
    /// Random forest: the share of trees that voted for the class.
    VoteShare,
    /// SVM: the decision value (margin) of each class's machine, not a probability.
    Margin,
    /// An ONNX graph without a probability output: no score (always 1).
    Unscored,
    /// A regressor: the prediction is a number; there are no classes to score.
    Value,
}

/// One row's prediction with every class's score (`None` where the model
/// does not know it), or a regressor's value, or why the model refused the row.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    Class {
        class_index: usize,
        score: f64,
        /// Indexed like the model's labels.
        classes: Vec<Option<f64>>,
    },
    Value(f64),
    /// The model would not score the row (a category its encoder refuses).
    Refused(String),
}

/// One feature's share of a linear score.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// Index into the model's encoded features ([`Model::encoded_features`];
    /// the features themselves when none is text).
    pub feature: usize,
    pub value: f64,
    /// The value after the model's scaling (the same as `value` without scaling).
    pub scaled: f64,
    pub weight: f64,
    /// `weight × scaled`.
    pub contribution: f64,
}

/// One test on the way from a tree's root to its leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct PathStep {
    /// Index into the model's encoded features, like [`Contribution::feature`].
    pub feature: usize,
    pub value: f64,
    /// In the feature's own units; `None` when the feature was constant in
    /// training (its scaled value is always 0, so the test has no raw threshold).
    pub threshold: Option<f64>,
    /// `value < threshold`: the row went left.
    pub below: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Explanation {
    /// The winning class's linear score = `intercept` + Σ contributions.
    Contributions {
        class_index: usize,
        intercept: f64,
        /// Largest magnitude first.
        terms: Vec<Contribution>,
    },
    Path {
        steps: Vec<PathStep>,
        leaf_class: usize,
        leaf_share: f64,
    },
    Votes {
        trees: usize,
        /// Indexed like the model's labels.
        votes: Vec<u32>,
    },
    Unavailable {
        reason: String,
    },
    /// A linear regressor: the value = `intercept` + Σ contributions.
    ValueContributions {
        intercept: f64,
        /// Largest magnitude first.
        terms: Vec<Contribution>,
    },
    /// A regression tree: the tests from the root to the leaf, whose value
    /// (the mean target of its training rows) is the prediction.
    ValuePath {
        steps: Vec<PathStep>,
        value: f64,
    },
    /// A regression forest: the prediction is the mean of `trees` trees'
    /// values, which range from `min` to `max`.
    TreeValues {
        trees: usize,
        min: f64,
        max: f64,
    },
}

impl Model {
    /// What a class's score means for this model.
    pub fn score_kind(&self) -> ScoreKind {
        match &self.predictor {
            Predictor::Native(a) => match a.predictor {
                NativePredictor::LogisticBinary(_)
                | NativePredictor::LogisticMultinomial(_)
                | NativePredictor::GaussianNb(_) => ScoreKind::Probability,
                NativePredictor::DecisionTree(_) => ScoreKind::LeafShare,
                NativePredictor::RandomForest(_) => ScoreKind::VoteShare,
                NativePredictor::Svm(_) => ScoreKind::Margin,
                NativePredictor::Linear(_)
                | NativePredictor::RegressionTree(_)
                | NativePredictor::RegressionForest(_) => ScoreKind::Value,
            },
            Predictor::Onnx(_) if self.meta.task == super::Task::Regression => ScoreKind::Value,
            Predictor::Onnx(o) if o.has_probabilities() => ScoreKind::Probability,
            Predictor::Onnx(_) => ScoreKind::Unscored,
        }
    }

    /// Scores `rows` (model feature order, raw values) with every class's score.
    /// The class and score are the batch path's own, so the showroom says
    /// exactly what a dispatch would write for the same values. A row the
    /// model refuses is [`Scored::Refused`], with why.
    pub fn predict_scored<'a>(
        &self,
        rows: impl Into<Inputs<'a>>,
    ) -> Result<Vec<Scored>, ModelError> {
        let rows = rows.into();
        let n = self.meta.features.len();
        if rows.numbers.ncols() != n {
            return Err(ModelError::ColumnCount {
                expected: n,
                got: rows.numbers.ncols(),
            });
        }
        let binding = self.bind(&self.meta.features)?;
        let scoring = self.score(&binding, rows)?;
        // The scored rows, each with its prediction; refused ones with why.
        let mut refused = scoring.refused.into_iter().peekable();
        let mut winners = scoring.predictions.into_iter();
        let mut out: Vec<(usize, Result<Prediction, String>)> = Vec::with_capacity(rows.rows());
        for r in 0..rows.rows() {
            if refused.peek().is_some_and(|(i, _)| *i == r) {
                let (_, why) = refused.next().expect("peeked");
                out.push((r, Err(why)));
            } else {
                let p = winners.next().ok_or_else(|| ModelError::OnnxRun {
                    reason: "fewer predictions than rows".to_string(),
                })?;
                out.push((r, Ok(p)));
            }
        }
        let n_labels = self.labels.len();
        // The probability output of an ONNX classifier, for the rows it scored.
        let probabilities = match &self.predictor {
            Predictor::Onnx(onnx) if self.meta.task == super::Task::Classification => {
                let columns: Vec<usize> = (0..n).collect();
                let mut per_row = vec![None; rows.rows()];
                for (r, p) in &out {
                    if p.is_ok() {
                        per_row[*r] = onnx
                            .probabilities(&columns, rows.slice(*r..*r + 1))?
                            .and_then(|mut v| v.pop());
                    }
                }
                per_row
            }
            _ => Vec::new(),
        };
        out.into_iter()
            .map(|(r, p)| {
                Ok(match p {
                    Err(why) => Scored::Refused(why),
                    Ok(Prediction::Value(v)) => Scored::Value(v),
                    Ok(Prediction::Class {
                        class_index, score, ..
                    }) => {
                        let mut classes = match &self.predictor {
                            Predictor::Native(artifact) => {
                                let (_, scaled) = encoded(artifact, &rows, r);
                                native_class_scores(artifact, &scaled, n_labels)
                            }
                            Predictor::Onnx(_) => match probabilities.get(r) {
                                Some(Some(row)) => row.iter().map(|v| Some(*v)).collect(),
                                _ => Vec::new(),
                            },
                        };
                        classes.resize(n_labels, None);
                        classes[class_index] = Some(score);
                        Scored::Class {
                            class_index,
                            score,
                            classes,
                        }
                    }
                })
            })
            .collect()
    }

    /// Why row 0 of `row` (model feature order, raw values) gets the class
    /// (or value) it gets.
    pub fn explain<'a>(&self, row: impl Into<Inputs<'a>>) -> Explanation {
        let row = row.into();
        let artifact = match &self.predictor {
            Predictor::Native(a) => a,
            Predictor::Onnx(_) => {
                return Explanation::Unavailable {
                    reason: "no explanation is available for an ONNX model: mld scores the \
                             graph but cannot see inside it"
                        .to_string(),
                };
            }
        };
        let (raw, scaled) = encoded(artifact, &row, 0);
        explain_encoded(artifact, &raw, &scaled, self.labels.len())
    }
}

/// Row `r` of `rows` (model feature order) as the predictor sees it: encoded
/// (one-hot for text features), then also scaled.
fn encoded(artifact: &NativeArtifact, rows: &Inputs<'_>, r: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.numbers.ncols();
    let columns: Vec<usize> = (0..n).collect();
    let mut raw = Vec::new();
    match &artifact.encoder {
        Some(e) => Encoding::new(e, &columns, rows).gather(rows, r..r + 1, None, &mut raw),
        None => raw.extend(rows.numbers.row(r).iter().copied()),
    }
    let scaled = raw
        .iter()
        .enumerate()
        .map(|(j, v)| scale(artifact, j, *v))
        .collect();
    (raw, scaled)
}

/// Why an encoded row gets its class or value.
fn explain_encoded(
    artifact: &NativeArtifact,
    row: &[f64],
    scaled: &[f64],
    n_labels: usize,
) -> Explanation {
    let terms = |weights: &[f64], sign: f64| {
        let mut terms: Vec<Contribution> = weights
            .iter()
            .enumerate()
            .map(|(j, w)| Contribution {
                feature: j,
                value: row[j],
                scaled: scaled[j],
                weight: sign * w,
                contribution: sign * w * scaled[j],
            })
            .collect();
        terms.sort_by(|a, b| {
            b.contribution
                .abs()
                .total_cmp(&a.contribution.abs())
                .then(a.feature.cmp(&b.feature))
        });
        terms
    };
    let linear = |class_index: usize, weights: &[f64], intercept: f64, sign: f64| {
        Explanation::Contributions {
            class_index,
            intercept: sign * intercept,
            terms: terms(weights, sign),
        }
    };
    match &artifact.predictor {
        NativePredictor::LogisticBinary(m) => {
            let z = dot(&m.weights, scaled) + m.intercept;
            // The same rule as scoring: positive when p >= 0.5, i.e. z >= 0.
            let p = 1.0 / (1.0 + (-z).exp());
            if p >= 0.5 {
                linear(m.positive, &m.weights, m.intercept, 1.0)
            } else {
                // The negative class's log-odds are -z: every term changes sign.
                linear(m.negative, &m.weights, m.intercept, -1.0)
            }
        }
        NativePredictor::LogisticMultinomial(m) => {
            let scores: Vec<f64> = m
                .weights
                .iter()
                .zip(&m.intercepts)
                .map(|(w, b)| dot(w, scaled) + b)
                .collect();
            let k = argmax(&scores);
            linear(m.classes[k], &m.weights[k], m.intercepts[k], 1.0)
        }
        NativePredictor::Svm(m) => {
            if m.machines
                .iter()
                .any(|s| matches!(s, SvmMachine::Kernel(_)))
            {
                return Explanation::Unavailable {
                    reason: "no explanation is available for an SVM with a Gaussian kernel: \
                             its decision is not a sum over features"
                        .to_string(),
                };
            }
            let decisions: Vec<f64> = m.machines.iter().map(|s| decision(s, scaled)).collect();
            let (k, class_index, sign) = if m.machines.len() == 1 {
                if decisions[0] >= 0.0 {
                    (0, 1, 1.0)
                } else {
                    (0, 0, -1.0)
                }
            } else {
                let k = argmax(&decisions);
                (k, k, 1.0)
            };
            match &m.machines[k] {
                SvmMachine::Linear { weights, rho } => linear(class_index, weights, -rho, sign),
                SvmMachine::Kernel(_) => unreachable!("kernel machines were handled above"),
            }
        }
        NativePredictor::DecisionTree(t) => {
            let (steps, leaf) = path(artifact, &t.nodes, row, scaled);
            Explanation::Path {
                steps,
                leaf_class: t.leaf_class[leaf] as usize,
                leaf_share: t.leaf_score[leaf],
            }
        }
        NativePredictor::RandomForest(f) => {
            let mut votes = vec![0u32; n_labels.max(f.n_classes)];
            for t in &f.trees {
                votes[t.leaf_class[t.leaf(scaled)] as usize] += 1;
            }
            votes.truncate(n_labels);
            Explanation::Votes {
                trees: f.trees.len(),
                votes,
            }
        }
        NativePredictor::GaussianNb(_) => Explanation::Unavailable {
            reason: "no explanation is available for Gaussian naive Bayes".to_string(),
        },
        NativePredictor::Linear(m) => Explanation::ValueContributions {
            intercept: m.intercept,
            terms: terms(&m.weights, 1.0),
        },
        NativePredictor::RegressionTree(t) => {
            let (steps, leaf) = path(artifact, &t.nodes, row, scaled);
            Explanation::ValuePath {
                steps,
                value: t.leaf_value[leaf],
            }
        }
        NativePredictor::RegressionForest(f) => {
            let values = f.trees.iter().map(|t| t.value(scaled));
            let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            Explanation::TreeValues {
                trees: f.trees.len(),
                min,
                max,
            }
        }
    }
}

#[inline]
fn scale(artifact: &NativeArtifact, j: usize, v: f64) -> f64 {
    match &artifact.scaler {
        Some(s) => s.apply(j, v),
        None => v,
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Index of the largest value; the first one on ties (as scoring does).
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate().skip(1) {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

fn decision(machine: &SvmMachine, row: &[f64]) -> f64 {
    match machine {
        SvmMachine::Linear { weights, rho } => dot(weights, row) - rho,
        SvmMachine::Kernel(svm) => svm.weighted_sum(&ndarray::ArrayView1::from(row)) - svm.rho,
    }
}

/// `softmax(values)`, each at `slots[i]` of a vector as long as the labels.
fn softmax_into(values: &[f64], slots: &[usize], n_labels: usize) -> Vec<Option<f64>> {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = values.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    let mut out = vec![Some(0.0); n_labels];
    for (e, &c) in exps.iter().zip(slots) {
        if c < n_labels {
            out[c] = Some(e / sum);
        }
    }
    out
}

/// Every class's score for one scaled row.
fn native_class_scores(artifact: &NativeArtifact, x: &[f64], n_labels: usize) -> Vec<Option<f64>> {
    match &artifact.predictor {
        NativePredictor::LogisticBinary(m) => {
            let p = 1.0 / (1.0 + (-(dot(&m.weights, x) + m.intercept)).exp());
            let mut out = vec![Some(0.0); n_labels];
            out[m.positive] = Some(p);
            out[m.negative] = Some(1.0 - p);
            out
        }
        NativePredictor::LogisticMultinomial(m) => {
            let scores: Vec<f64> = m
                .weights
                .iter()
                .zip(&m.intercepts)
                .map(|(w, b)| dot(w, x) + b)
                .collect();
            softmax_into(&scores, &m.classes, n_labels)
        }
        NativePredictor::GaussianNb(m) => {
            let ll: Vec<f64> = (0..m.classes.len())
                .map(|c| {
                    m.log_priors[c]
                        + m.means[c]
                            .iter()
                            .zip(&m.variances[c])
                            .zip(x)
                            .map(|((mu, var), v)| {
                                -0.5 * (2.0 * std::f64::consts::PI * var).ln()
                                    - (v - mu) * (v - mu) / (2.0 * var)
                            })
                            .sum::<f64>()
                })
                .collect();
            softmax_into(&ll, &m.classes, n_labels)
        }
        NativePredictor::Svm(m) => {
            let mut out = vec![None; n_labels];
            if m.machines.len() == 1 {
                let d = decision(&m.machines[0], x);
                out[1] = Some(d);
                out[0] = Some(-d);
            } else {
                for (k, s) in m.machines.iter().enumerate() {
                    out[k] = Some(decision(s, x));
                }
            }
            out
        }
        NativePredictor::DecisionTree(t) => {
            let leaf = t.leaf(x);
            let mut out = vec![None; n_labels];
            out[t.leaf_class[leaf] as usize] = Some(t.leaf_score[leaf]);
            out
        }
        NativePredictor::RandomForest(f) => {
            let mut votes = vec![0u32; n_labels.max(f.n_classes)];
            for t in &f.trees {
                votes[t.leaf_class[t.leaf(x)] as usize] += 1;
            }
            let n = f.trees.len().max(1) as f64;
            votes
                .into_iter()
                .take(n_labels)
                .map(|v| Some(f64::from(v) / n))
                .collect()
        }
        // A regressor has no classes.
        NativePredictor::Linear(_)
        | NativePredictor::RegressionTree(_)
        | NativePredictor::RegressionForest(_) => Vec::new(),
    }
}

/// The tests from the root to the leaf `row` lands in, and that leaf.
fn path(
    artifact: &NativeArtifact,
    nodes: &[TreeNode],
    row: &[f64],
    scaled: &[f64],
) -> (Vec<PathStep>, usize) {
    let mut steps = Vec::new();
    let mut i = 0usize;
    loop {
        let node = nodes[i];
        if node.feature == LEAF {
            return (steps, node.next as usize);
        }
        let j = node.feature as usize;
        let below = scaled[j] < node.threshold;
        // Undo the scaling so the threshold reads in the feature's own units:
        // (x - offset) * factor < t  <=>  x < t / factor + offset, for factor > 0.
        let threshold = match &artifact.scaler {
            None => Some(node.threshold),
            Some(s) if s.factors[j] > 0.0 => Some(node.threshold / s.factors[j] + s.offsets[j]),
            Some(_) => None,
        };
        steps.push(PathStep {
            feature: j,
            value: row[j],
            threshold,
            below,
        });
        i = if below { i + 1 } else { node.next as usize };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::meta::{Algorithm, ModelMeta, PayloadKind, Scaling};
    use crate::model::native::{FlatTree, ForestModel, Scaler, Sigmoid, Softmax, TreeNode};

    fn model(algorithm: Algorithm, labels: &[&str], artifact: NativeArtifact) -> Model {
        let meta = ModelMeta {
            format: crate::model::ARTIFACT_FORMAT.to_string(),
            name: "t".into(),
            version: 1,
            algorithm,
            hyperparameters: Default::default(),
            features: vec!["a".into(), "b".into()],
            feature_kinds: Vec::new(),
            task: crate::model::Task::Classification,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            scaling: if artifact.scaler.is_some() {
                Scaling::Standard
            } else {
                Scaling::None
            },
            training: None,
            metrics: None,
            regression_metrics: None,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            payload: PayloadKind::Native,
            content_sha256: "0".repeat(64),
        };
        Model::new(meta, Predictor::Native(artifact))
    }

    /// A classifier's scored row, by field.
    #[derive(Debug)]
    struct One {
        class_index: usize,
        score: f64,
        classes: Vec<Option<f64>>,
    }

    fn one(m: &Model, row: [f64; 2]) -> One {
        let rows = ndarray::Array2::from_shape_vec((1, 2), row.to_vec()).unwrap();
        match m.predict_scored(rows.view()).unwrap().remove(0) {
            Scored::Class {
                class_index,
                score,
                classes,
            } => One {
                class_index,
                score,
                classes,
            },
            other => panic!("a class, not {other:?}"),
        }
    }

    fn explain(m: &Model, row: [f64; 2]) -> Explanation {
        let rows = ndarray::Array2::from_shape_vec((1, 2), row.to_vec()).unwrap();
        m.explain(rows.view())
    }

    /// A two-feature logistic model with standard scaling; every number by hand.
    fn tiny_logistic() -> Model {
        model(
            Algorithm::LogisticRegression,
            &["no", "yes"],
            NativeArtifact {
                encoder: None,
                // a' = (a - 10) * 0.5, b' = (b - 1) * 2
                scaler: Some(Scaler {
                    kind: Scaling::Standard,
                    offsets: vec![10.0, 1.0],
                    factors: vec![0.5, 2.0],
                }),
                predictor: NativePredictor::LogisticBinary(Sigmoid {
                    weights: vec![1.5, -0.25],
                    intercept: 0.5,
                    positive: 1,
                    negative: 0,
                }),
            },
        )
    }

    #[test]
    fn logistic_contributions_are_weight_times_scaled_value_largest_first() {
        let m = tiny_logistic();
        // a = 12 → a' = 1, b = 3 → b' = 4: z = 0.5 + 1.5·1 − 0.25·4 = 1.0 → "yes".
        let s = one(&m, [12.0, 3.0]);
        let p = 1.0 / (1.0 + (-1.0f64).exp());
        assert_eq!(s.class_index, 1);
        assert!((s.score - p).abs() < 1e-15, "{s:?}");
        assert_eq!(s.classes.len(), 2);
        assert!((s.classes[0].unwrap() - (1.0 - p)).abs() < 1e-15);
        let Explanation::Contributions {
            class_index,
            intercept,
            terms,
        } = explain(&m, [12.0, 3.0])
        else {
            panic!("a linear model explains by contributions");
        };
        assert_eq!(class_index, 1);
        assert_eq!(intercept, 0.5);
        // a: 1.5 × 1 = 1.5; b: −0.25 × 4 = −1.0. |1.5| > |−1.0|: a first.
        assert_eq!(
            terms,
            vec![
                Contribution {
                    feature: 0,
                    value: 12.0,
                    scaled: 1.0,
                    weight: 1.5,
                    contribution: 1.5
                },
                Contribution {
                    feature: 1,
                    value: 3.0,
                    scaled: 4.0,
                    weight: -0.25,
                    contribution: -1.0
                },
            ]
        );
        // The terms and the intercept add up to the winning class's log-odds.
        let total: f64 = intercept + terms.iter().map(|t| t.contribution).sum::<f64>();
        assert!((total - 1.0).abs() < 1e-15);
    }

    #[test]
    fn for_the_negative_class_every_contribution_changes_sign() {
        let m = tiny_logistic();
        // a = 8 → a' = −1, b = 1 → b' = 0: z = 0.5 − 1.5 = −1.0 → "no".
        let s = one(&m, [8.0, 1.0]);
        assert_eq!(s.class_index, 0);
        let Explanation::Contributions {
            class_index,
            intercept,
            terms,
        } = explain(&m, [8.0, 1.0])
        else {
            panic!("contributions");
        };
        assert_eq!((class_index, intercept), (0, -0.5));
        assert_eq!(terms[0].feature, 0);
        assert_eq!(terms[0].contribution, 1.5); // −1.5 × −1, for "no"
        assert_eq!(terms[1].contribution, 0.0);
    }

    #[test]
    fn multinomial_explains_the_winning_row_of_weights() {
        let m = model(
            Algorithm::LogisticRegression,
            &["x", "y", "z"],
            NativeArtifact {
                encoder: None,
                scaler: None,
                predictor: NativePredictor::LogisticMultinomial(Softmax {
                    weights: vec![vec![1.0, 0.0], vec![0.0, 2.0], vec![-1.0, -1.0]],
                    intercepts: vec![0.0, -1.0, 0.0],
                    classes: vec![0, 1, 2],
                }),
            },
        );
        // scores: x = 1, y = 2·3 − 1 = 5, z = −4 → y.
        let s = one(&m, [1.0, 3.0]);
        assert_eq!(s.class_index, 1);
        let e = [1.0f64, 5.0, -4.0].map(|v| (v - 5.0).exp());
        let sum: f64 = e.iter().sum();
        for (k, want) in e.iter().enumerate() {
            assert!((s.classes[k].unwrap() - want / sum).abs() < 1e-15, "{s:?}");
        }
        let Explanation::Contributions {
            class_index,
            intercept,
            terms,
        } = explain(&m, [1.0, 3.0])
        else {
            panic!("contributions");
        };
        assert_eq!((class_index, intercept), (1, -1.0));
        assert_eq!(
            terms
                .iter()
                .map(|t| (t.feature, t.contribution))
                .collect::<Vec<_>>(),
            vec![(1, 6.0), (0, 0.0)]
        );
    }

    /// root: a < 2.5 ? leaf "small" (share 1.0) : (b < 1.0 ? leaf "mid" 0.75 : leaf "big" 0.9)
    fn hand_tree() -> FlatTree {
        FlatTree {
            nodes: vec![
                TreeNode {
                    feature: 0,
                    next: 2,
                    threshold: 2.5,
                },
                TreeNode {
                    feature: LEAF,
                    next: 0,
                    threshold: 0.0,
                },
                TreeNode {
                    feature: 1,
                    next: 4,
                    threshold: 1.0,
                },
                TreeNode {
                    feature: LEAF,
                    next: 1,
                    threshold: 0.0,
                },
                TreeNode {
                    feature: LEAF,
                    next: 2,
                    threshold: 0.0,
                },
            ],
            leaf_class: vec![0, 1, 2],
            leaf_score: vec![1.0, 0.75, 0.9],
        }
    }

    #[test]
    fn a_tree_explains_by_its_path_from_root_to_leaf() {
        let m = model(
            Algorithm::DecisionTree,
            &["small", "mid", "big"],
            NativeArtifact {
                encoder: None,
                scaler: None,
                predictor: NativePredictor::DecisionTree(hand_tree()),
            },
        );
        let s = one(&m, [3.0, 0.5]);
        assert_eq!((s.class_index, s.score), (1, 0.75));
        assert_eq!(s.classes, vec![None, Some(0.75), None]);
        assert_eq!(m.score_kind(), ScoreKind::LeafShare);
        assert_eq!(
            explain(&m, [3.0, 0.5]),
            Explanation::Path {
                steps: vec![
                    PathStep {
                        feature: 0,
                        value: 3.0,
                        threshold: Some(2.5),
                        below: false
                    },
                    PathStep {
                        feature: 1,
                        value: 0.5,
                        threshold: Some(1.0),
                        below: true
                    },
                ],
                leaf_class: 1,
                leaf_share: 0.75,
            }
        );
        let Explanation::Path {
            steps, leaf_class, ..
        } = explain(&m, [2.0, 9.0])
        else {
            panic!("path");
        };
        assert_eq!(steps.len(), 1);
        assert!(steps[0].below);
        assert_eq!(leaf_class, 0);
    }

    #[test]
    fn a_scaled_tree_states_its_thresholds_in_the_features_units() {
        let m = model(
            Algorithm::DecisionTree,
            &["small", "mid", "big"],
            NativeArtifact {
                encoder: None,
                // a' = (a − 1) * 0.5: the root's a' < 2.5 is a < 6.
                scaler: Some(Scaler {
                    kind: Scaling::MinMax,
                    offsets: vec![1.0, 0.0],
                    factors: vec![0.5, 0.0],
                }),
                predictor: NativePredictor::DecisionTree(hand_tree()),
            },
        );
        let Explanation::Path {
            steps, leaf_class, ..
        } = explain(&m, [7.0, 0.5])
        else {
            panic!("path");
        };
        assert_eq!(steps[0].threshold, Some(6.0));
        assert!(!steps[0].below);
        // b was constant in training (factor 0): b' = 0 < 1 always; no raw threshold.
        assert_eq!(steps[1].threshold, None);
        assert!(steps[1].below);
        assert_eq!(leaf_class, 1);
    }

    #[test]
    fn a_forest_explains_by_votes() {
        let leaf_of = |class: u32| FlatTree {
            nodes: vec![TreeNode {
                feature: LEAF,
                next: 0,
                threshold: 0.0,
            }],
            leaf_class: vec![class],
            leaf_score: vec![1.0],
        };
        let m = model(
            Algorithm::RandomForest,
            &["small", "mid", "big"],
            NativeArtifact {
                encoder: None,
                scaler: None,
                predictor: NativePredictor::RandomForest(ForestModel {
                    trees: vec![hand_tree(), leaf_of(2), leaf_of(2), leaf_of(0)],
                    n_classes: 3,
                }),
            },
        );
        // hand_tree sends (3, 0.5) to "mid": votes small 1, mid 1, big 2.
        let s = one(&m, [3.0, 0.5]);
        assert_eq!((s.class_index, s.score), (2, 0.5));
        assert_eq!(s.classes, vec![Some(0.25), Some(0.25), Some(0.5)]);
        assert_eq!(
            explain(&m, [3.0, 0.5]),
            Explanation::Votes {
                trees: 4,
                votes: vec![1, 1, 2]
            }
        );
    }

    /// On every trained native algorithm, the per-class scores agree with the
    /// batch path: the best class is the one scored, with the same score.
    #[test]
    fn class_scores_agree_with_the_batch_path_on_every_trained_algorithm() {
        use crate::model::ParamValue;
        use crate::training::catalog::{ValidRequest, default_hyperparameters};
        let csv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv");
        let data = crate::training::dataset::load_csv("iris", &csv, "species", None).unwrap();
        let mut variants: Vec<(Algorithm, Vec<(&str, ParamValue)>)> = Algorithm::NATIVE
            .iter()
            .filter(|a| a.task() == crate::model::Task::Classification)
            .map(|a| (*a, vec![]))
            .collect();
        variants.push((
            Algorithm::Svm,
            vec![("kernel", ParamValue::Text("gaussian".into()))],
        ));
        variants.push((
            Algorithm::DecisionTree,
            vec![("scaling", ParamValue::Text("minmax".into()))],
        ));
        for (algorithm, params) in variants {
            let kernel = params.iter().any(|(k, _)| *k == "kernel");
            let mut hyperparameters = default_hyperparameters(algorithm);
            for (k, v) in params {
                hyperparameters.insert(k.to_string(), v);
            }
            let request = ValidRequest {
                dataset: "iris".into(),
                algorithm,
                hyperparameters,
                test_split: 0.3,
                seed: 3,
            };
            let trained = crate::training::train_on(
                &request,
                &data,
                &mut |_| {},
                &std::sync::atomic::AtomicBool::new(false),
            )
            .unwrap();
            let m = trained.model();
            let scored = m.predict_scored(data.x.view()).unwrap();
            let binding = m.bind(m.features()).unwrap();
            let batch = m.predict(&binding, data.x.view()).unwrap();
            assert_eq!(scored.len(), data.x.nrows());
            for (r, ((row, s), b)) in data
                .x
                .rows()
                .into_iter()
                .zip(&scored)
                .zip(&batch)
                .enumerate()
            {
                let Prediction::Class {
                    class_index: b_class,
                    score: b_score,
                    ..
                } = b
                else {
                    panic!("a classifier predicts classes");
                };
                let b = One {
                    class_index: *b_class,
                    score: *b_score,
                    classes: Vec::new(),
                };
                let Scored::Class {
                    class_index, score, ..
                } = s
                else {
                    panic!("{algorithm}: {s:?}");
                };
                assert_eq!((*class_index, *score), (b.class_index, b.score));
                let scaled: Vec<f64> = (0..row.len())
                    .map(|j| scale(&trained.artifact, j, row[j]))
                    .collect();
                let own = native_class_scores(&trained.artifact, &scaled, m.labels().len());
                let best = own[b.class_index].expect("the winner has a score");
                assert!(
                    (best - b.score).abs() < 1e-9,
                    "{algorithm}: {best} vs {}",
                    b.score
                );
                assert!(
                    own.iter().flatten().all(|v| *v <= best + 1e-12),
                    "{algorithm}: {own:?} does not peak at class {}",
                    b.class_index
                );
                // Explaining never panics and names the scored class.
                match m.explain(data.x.slice(ndarray::s![r..r + 1, ..])) {
                    Explanation::Contributions { class_index, .. } => {
                        assert_eq!(class_index, b.class_index, "{algorithm}")
                    }
                    Explanation::Path { leaf_class, .. } => {
                        assert_eq!(leaf_class, b.class_index, "{algorithm}")
                    }
                    Explanation::Votes { votes, trees } => {
                        assert_eq!(votes.iter().sum::<u32>() as usize, trees);
                        assert_eq!(f64::from(votes[b.class_index]) / trees as f64, b.score);
                    }
                    Explanation::Unavailable { reason } => assert!(
                        algorithm == Algorithm::GaussianNb || kernel,
                        "{algorithm}: {reason}"
                    ),
                    other => panic!("{algorithm}: a classifier explained as {other:?}"),
                }
            }
        }
    }
}
