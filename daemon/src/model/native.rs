//! Native predictors: the fitted one-hot encoder and scaler and the trained
//! classifiers and regressors in a compact, serde-stable form (`model.json`).
//! Receives feature rows already encoded and in the model's feature order;
//! emits a class index and a score per row, or a value per row.
//!
//! Why not store linfa's own structs: several hold `HashMap`s (Gaussian NB) or
//! recursive boxed trees, which serialize in a random order and predict slowly;
//! the random forest does not serialize at all. We keep exactly the numbers the
//! decision needs, so the same model always hashes to the same bytes and
//! ties are always broken towards the lowest class index.

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::meta::Scaling;

/// Scaling fitted on the training split: `x' = (x - offset) * factor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub kind: Scaling,
    pub offsets: Vec<f64>,
    pub factors: Vec<f64>,
}

impl Scaler {
    /// Fits `kind` on the columns of `x`. A constant column maps to 0 rather than dividing by zero.
    pub fn fit(kind: Scaling, x: ArrayView2<f64>) -> Option<Scaler> {
        let n = x.nrows().max(1) as f64;
        let (offsets, factors) = match kind {
            Scaling::None | Scaling::InsideOnnx => return None,
            Scaling::MinMax => x
                .columns()
                .into_iter()
                .map(|c| {
                    let min = c.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let range = max - min;
                    (min, if range > 0.0 { 1.0 / range } else { 0.0 })
                })
                .unzip(),
            Scaling::Standard => x
                .columns()
                .into_iter()
                .map(|c| {
                    let mean = c.sum() / n;
                    let var = c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                    let std = var.sqrt();
                    (mean, if std > 0.0 { 1.0 / std } else { 0.0 })
                })
                .unzip(),
        };
        Some(Scaler {
            kind,
            offsets,
            factors,
        })
    }

    #[inline]
    pub fn apply(&self, j: usize, v: f64) -> f64 {
        (v - self.offsets[j]) * self.factors[j]
    }
}

/// One-hot encoding of a model's text features, fitted on the training
/// split: each text feature becomes one column per category seen in
/// training (in sorted order), 1 for the row's category and 0 for the
/// others. A category never seen in training, or NULL, is all zeros (like
/// scikit-learn's `OneHotEncoder(handle_unknown="ignore")`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneHot {
    /// Per model feature: `None` for a number (one column, as is), or its
    /// categories, sorted.
    pub features: Vec<Option<Vec<String>>>,
}

impl OneHot {
    /// How many columns a row has once encoded.
    pub fn width(&self) -> usize {
        self.features
            .iter()
            .map(|f| f.as_ref().map_or(1, Vec::len))
            .sum()
    }

    /// The encoded columns' names: a number keeps its name, a text feature
    /// becomes `name=category` per category.
    pub fn encoded_names(&self, names: &[String]) -> Vec<String> {
        let mut out = Vec::with_capacity(self.width());
        for (name, f) in names.iter().zip(&self.features) {
            match f {
                None => out.push(name.clone()),
                Some(categories) => out.extend(categories.iter().map(|c| format!("{name}={c}"))),
            }
        }
        out
    }

    /// Where feature `j` starts among the encoded columns.
    pub fn start(&self, j: usize) -> usize {
        self.features[..j]
            .iter()
            .map(|f| f.as_ref().map_or(1, Vec::len))
            .sum()
    }

    /// The category index of `value` in feature `j`'s categories, if it has one.
    pub fn category(&self, j: usize, value: &str) -> Option<usize> {
        self.features[j]
            .as_ref()
            .and_then(|c| c.binary_search_by(|x| x.as_str().cmp(value)).ok())
    }
}

/// A linear score per class, then softmax (multinomial logistic regression).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Softmax {
    /// `weights[class][feature]`
    pub weights: Vec<Vec<f64>>,
    pub intercepts: Vec<f64>,
    /// Class index of each score row (linfa orders them by label).
    pub classes: Vec<usize>,
}

/// One linear score, then the logistic function (binary logistic regression).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sigmoid {
    pub weights: Vec<f64>,
    pub intercept: f64,
    pub positive: usize,
    pub negative: usize,
}

/// Gaussian naive Bayes: per class a prior, means and variances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianNbModel {
    pub classes: Vec<usize>,
    pub log_priors: Vec<f64>,
    /// `means[class][feature]`
    pub means: Vec<Vec<f64>>,
    pub variances: Vec<Vec<f64>>,
}

/// One binary SVM: decision value `f(x) = w·x - rho` (linear) or linfa's kernel machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SvmMachine {
    Linear { weights: Vec<f64>, rho: f64 },
    Kernel(Box<linfa_svm::Svm<f64, bool>>),
}

impl SvmMachine {
    #[inline]
    fn decision(&self, row: &[f64]) -> f64 {
        match self {
            SvmMachine::Linear { weights, rho } => dot(weights, row) - rho,
            SvmMachine::Kernel(svm) => svm.weighted_sum(&ArrayView1::from(row)) - svm.rho,
        }
    }
}

/// SVM classifier: one machine for two classes (positive = class 1), else one
/// machine per class (one-vs-rest, highest decision value wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvmModel {
    pub machines: Vec<SvmMachine>,
}

/// One node of a [`FlatTree`]: 16 bytes, so a traversal touches one cache line per level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Feature index, or [`LEAF`].
    pub feature: u32,
    /// Internal node: index of the right child (the left child is the next node).
    /// Leaf: index into `leaf_class`/`leaf_score`.
    pub next: u32,
    pub threshold: f64,
}

/// A decision tree as a node array in pre-order: an internal node's left child
/// directly follows it. Go left when `x[feature] < threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlatTree {
    pub nodes: Vec<TreeNode>,
    pub leaf_class: Vec<u32>,
    /// Share of the training rows in the leaf that have `leaf_class`.
    pub leaf_score: Vec<f64>,
}

pub const LEAF: u32 = u32::MAX;

impl FlatTree {
    /// The leaf a row lands in.
    #[inline]
    pub fn leaf(&self, row: &[f64]) -> usize {
        leaf_of(&self.nodes, row)
    }
}

/// A regression tree: the same node array as [`FlatTree`], leaves holding the
/// mean target of their training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueTree {
    pub nodes: Vec<TreeNode>,
    pub leaf_value: Vec<f64>,
}

impl ValueTree {
    /// The leaf a row lands in.
    #[inline]
    pub fn leaf(&self, row: &[f64]) -> usize {
        leaf_of(&self.nodes, row)
    }

    #[inline]
    pub fn value(&self, row: &[f64]) -> f64 {
        self.leaf_value[self.leaf(row)]
    }
}

/// Bagged regression trees; the prediction is their mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueForest {
    pub trees: Vec<ValueTree>,
}

/// `value = weights · x + intercept` (ordinary least squares, ridge, elastic net).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    pub weights: Vec<f64>,
    pub intercept: f64,
}

/// The leaf index of the node array `nodes` that `row` lands in.
#[inline]
fn leaf_of(nodes: &[TreeNode], row: &[f64]) -> usize {
    let mut i = 0usize;
    loop {
        let n = nodes[i];
        if n.feature == LEAF {
            return n.next as usize;
        }
        i = if row[n.feature as usize] < n.threshold {
            i + 1
        } else {
            n.next as usize
        };
    }
}

/// Bagged trees with majority vote; ties go to the lowest class index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestModel {
    pub trees: Vec<FlatTree>,
    pub n_classes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NativePredictor {
    LogisticBinary(Sigmoid),
    LogisticMultinomial(Softmax),
    DecisionTree(FlatTree),
    GaussianNb(GaussianNbModel),
    Svm(SvmModel),
    RandomForest(ForestModel),
    /// A regressor: ordinary least squares, ridge or elastic net.
    Linear(LinearModel),
    RegressionTree(ValueTree),
    RegressionForest(ValueForest),
}

/// The whole native payload (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeArtifact {
    /// Text features' encoding (absent when every feature is a number, so
    /// numeric artifacts keep the bytes they always had).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<OneHot>,
    /// Fitted on the encoded columns.
    pub scaler: Option<Scaler>,
    pub predictor: NativePredictor,
}

#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Index of the largest value; the first one on ties.
#[inline]
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate().skip(1) {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

impl NativePredictor {
    /// Predicts one row (already scaled, in model feature order): (class index, score).
    /// `scratch` is reused between rows to avoid allocating.
    #[inline]
    fn predict_row(&self, row: &[f64], scratch: &mut Vec<f64>) -> (usize, f64) {
        match self {
            NativePredictor::LogisticBinary(m) => {
                let p = 1.0 / (1.0 + (-(dot(&m.weights, row) + m.intercept)).exp());
                // linfa's threshold rule: positive when p >= 0.5.
                if p >= 0.5 {
                    (m.positive, p)
                } else {
                    (m.negative, 1.0 - p)
                }
            }
            NativePredictor::LogisticMultinomial(m) => {
                scratch.clear();
                scratch.extend(
                    m.weights
                        .iter()
                        .zip(&m.intercepts)
                        .map(|(w, b)| dot(w, row) + b),
                );
                let k = argmax(scratch);
                (m.classes[k], softmax_share(scratch, k))
            }
            NativePredictor::Svm(m) => {
                if m.machines.len() == 1 {
                    let d = m.machines[0].decision(row);
                    if d >= 0.0 { (1, d) } else { (0, -d) }
                } else {
                    scratch.clear();
                    scratch.extend(m.machines.iter().map(|s| s.decision(row)));
                    let k = argmax(scratch);
                    (k, scratch[k])
                }
            }
            NativePredictor::DecisionTree(t) => {
                let leaf = t.leaf(row);
                (t.leaf_class[leaf] as usize, t.leaf_score[leaf])
            }
            NativePredictor::GaussianNb(_) | NativePredictor::RandomForest(_) => {
                // These have batch set-up; one row is a batch of one.
                let mut one = Vec::with_capacity(1);
                self.predict_batch(row, row.len(), &mut one);
                one[0]
            }
            NativePredictor::Linear(_)
            | NativePredictor::RegressionTree(_)
            | NativePredictor::RegressionForest(_) => {
                unreachable!("a regressor predicts values, not classes")
            }
        }
    }

    /// Whether this predictor gives a number per row (else a class).
    pub fn is_regressor(&self) -> bool {
        matches!(
            self,
            NativePredictor::Linear(_)
                | NativePredictor::RegressionTree(_)
                | NativePredictor::RegressionForest(_)
        )
    }

    /// A regressor's values for `rows` (row-major, `n_features` wide,
    /// encoded and scaled, model order) into `out`. Forests run tree by tree
    /// so each tree stays in cache.
    pub fn predict_values(&self, rows: &[f64], n_features: usize, out: &mut Vec<f64>) {
        let n_rows = rows.len().checked_div(n_features).unwrap_or(0);
        match self {
            NativePredictor::Linear(m) => {
                out.extend(
                    rows.chunks_exact(n_features)
                        .map(|row| dot(&m.weights, row) + m.intercept),
                );
            }
            NativePredictor::RegressionTree(t) => {
                out.extend(rows.chunks_exact(n_features).map(|row| t.value(row)));
            }
            NativePredictor::RegressionForest(f) => {
                let start = out.len();
                out.resize(start + n_rows, 0.0);
                let sums = &mut out[start..];
                for t in &f.trees {
                    for (s, row) in sums.iter_mut().zip(rows.chunks_exact(n_features)) {
                        *s += t.value(row);
                    }
                }
                let n = f.trees.len().max(1) as f64;
                sums.iter_mut().for_each(|s| *s /= n);
            }
            _ => unreachable!("a classifier predicts classes, not values"),
        }
    }
}

impl NativePredictor {
    /// Predicts `rows` (row-major, `n_features` wide, scaled, model order) into
    /// `out` as (class index, score). Per-batch set-up (constants, votes) is
    /// amortized over the batch; forests run tree by tree so each tree stays in cache.
    pub fn predict_batch(&self, rows: &[f64], n_features: usize, out: &mut Vec<(usize, f64)>) {
        let n_rows = rows.len().checked_div(n_features).unwrap_or(0);
        match self {
            NativePredictor::GaussianNb(m) => {
                // log N(x; mu, var) = -0.5 ln(2 pi var) - (x-mu)^2 / (2 var): hoist the logs.
                let consts: Vec<f64> = (0..m.classes.len())
                    .map(|c| {
                        m.log_priors[c]
                            - 0.5
                                * m.variances[c]
                                    .iter()
                                    .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                                    .sum::<f64>()
                    })
                    .collect();
                let half_inv: Vec<Vec<f64>> = m
                    .variances
                    .iter()
                    .map(|v| v.iter().map(|x| 0.5 / x).collect())
                    .collect();
                let mut scratch = vec![0.0; m.classes.len()];
                for row in rows.chunks_exact(n_features) {
                    for c in 0..m.classes.len() {
                        let (mu, hi) = (&m.means[c], &half_inv[c]);
                        let mut ll = consts[c];
                        for j in 0..n_features {
                            let d = row[j] - mu[j];
                            ll -= d * d * hi[j];
                        }
                        scratch[c] = ll;
                    }
                    let k = argmax(&scratch);
                    out.push((m.classes[k], softmax_share(&scratch, k)));
                }
            }
            NativePredictor::LogisticMultinomial(m) => softmax_batch(m, rows, n_features, out),
            NativePredictor::RandomForest(f) => {
                let k = f.n_classes;
                let mut votes = vec![0u32; n_rows * k];
                for t in &f.trees {
                    for (r, row) in rows.chunks_exact(n_features).enumerate() {
                        votes[r * k + t.leaf_class[t.leaf(row)] as usize] += 1;
                    }
                }
                let n_trees = f.trees.len().max(1) as f64;
                for v in votes.chunks_exact(k) {
                    let best = (0..k).fold(0, |b, c| if v[c] > v[b] { c } else { b });
                    out.push((best, f64::from(v[best]) / n_trees));
                }
            }
            _ => {
                let mut scratch = Vec::new();
                for row in rows.chunks_exact(n_features) {
                    out.push(self.predict_row(row, &mut scratch));
                }
            }
        }
    }
}

/// Multinomial logistic regression over a batch, a step at a time over
/// every row (each step a plain loop over the rows that the compiler turns
/// into vector instructions): each class's score, the best class, then
/// `softmax[best] = 1 / Σ exp(score - best score)`. Per row, one at a time,
/// the same work took three times as long (a call to `exp` per class and a
/// mispredicted branch per comparison).
fn softmax_batch(m: &Softmax, rows: &[f64], n_features: usize, out: &mut Vec<(usize, f64)>) {
    let n_rows = rows.len().checked_div(n_features).unwrap_or(0);
    let k = m.intercepts.len();
    if n_rows == 0 || k == 0 {
        return;
    }
    // scores[c * n_rows + r]: class c's score of row r.
    let mut scores = vec![0.0; k * n_rows];
    for ((class_scores, w), b) in scores
        .chunks_exact_mut(n_rows)
        .zip(&m.weights)
        .zip(&m.intercepts)
    {
        let w = &w[..n_features];
        for (s, row) in class_scores.iter_mut().zip(rows.chunks_exact(n_features)) {
            *s = dot(w, row) + b;
        }
    }
    // The first class with the highest score wins, as `argmax` decides.
    let mut best = vec![0usize; n_rows];
    let mut max = scores[..n_rows].to_vec();
    for (c, class_scores) in scores.chunks_exact(n_rows).enumerate().skip(1) {
        for ((b, mx), &s) in best.iter_mut().zip(max.iter_mut()).zip(class_scores) {
            let higher = s > *mx;
            *mx = if higher { s } else { *mx };
            *b = if higher { c } else { *b };
        }
    }
    // Σ exp(score - max): the winner's own term is exp(0) = 1.
    let mut sums = vec![0.0; n_rows];
    for class_scores in scores.chunks_exact(n_rows) {
        for ((sum, &s), &mx) in sums.iter_mut().zip(class_scores).zip(&max) {
            *sum += exp_nonpositive(s - mx);
        }
    }
    out.extend(
        best.iter()
            .zip(&sums)
            .map(|(&b, &sum)| (m.classes[b], 1.0 / sum)),
    );
}

/// `e^x` for `x <= 0` (below -708, where `e^x` leaves the normal range, as
/// `e^-708`), within a few units in the last place of `f64::exp`, written
/// without branches or calls so that a loop over a slice of them becomes
/// vector instructions. Range reduction `x = n ln 2 + r`, `|r| <= ln 2 / 2`
/// (Cody–Waite, two-part ln 2), then `e^r` as its Taylor series to `r^13`
/// (truncation error below 2e-17 on that range) and `2^n` built in the
/// exponent bits.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f64) -> f64 {
    // fdlibm's split of ln 2: the high part has trailing zero bits, so n × LN2_HI is exact.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // 1.5 × 2^52: adding it rounds to an integer, held in the low bits.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-708.0, 0.0);
    let shifted = x * std::f64::consts::LOG2_E + ROUND;
    let n = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let nf = shifted - ROUND;
    let r = (x - nf * LN2_HI) - nf * LN2_LO;
    const INV_FACT: [f64; 14] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ];
    let mut p = INV_FACT[0];
    for c in &INV_FACT[1..] {
        p = p * r + c;
    }
    // 2^n: n + 1023 in the exponent field (n >= -1022 here, so normal).
    p * f64::from_bits(n.wrapping_add(1023) << 52)
}

/// `softmax(values)[k]`, computed stably.
#[inline]
fn softmax_share(values: &[f64], k: usize) -> f64 {
    let max = values[k];
    // exp(0) = 1 for the winner itself: one exp fewer per row.
    let others: f64 = values
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != k)
        .map(|(_, v)| (v - max).exp())
        .sum();
    1.0 / (1.0 + others)
}

/// One feature's place in the encoded row, for one batch.
enum Part {
    Number {
        column: usize,
        at: usize,
    },
    Text {
        column: usize,
        at: usize,
        /// Per distinct value of the batch's column: its category, if the encoder knows it.
        slots: Vec<Option<usize>>,
    },
}

/// A batch's text values mapped to an encoder's columns, once per distinct value.
pub(crate) struct Encoding {
    width: usize,
    parts: Vec<Part>,
}

impl Encoding {
    /// `columns[j]` is the input column of model feature `j`; a text
    /// feature's column must be in `rows.texts`.
    pub(crate) fn new(
        encoder: &OneHot,
        columns: &[usize],
        rows: &super::input::Inputs<'_>,
    ) -> Encoding {
        let mut at = 0;
        let mut parts = Vec::with_capacity(columns.len());
        for (j, (f, &column)) in encoder.features.iter().zip(columns).enumerate() {
            match f {
                None => {
                    parts.push(Part::Number { column, at });
                    at += 1;
                }
                Some(categories) => {
                    let slots = rows
                        .texts
                        .get(column)
                        .map(|t| {
                            t.distinct()
                                .iter()
                                .map(|v| encoder.category(j, v))
                                .collect()
                        })
                        .unwrap_or_default();
                    parts.push(Part::Text { column, at, slots });
                    at += categories.len();
                }
            }
        }
        Encoding {
            width: encoder.width(),
            parts,
        }
    }

    /// Rows `range` of `rows`, encoded and scaled, appended to `buf` (row-major).
    pub(crate) fn gather(
        &self,
        rows: &super::input::Inputs<'_>,
        range: std::ops::Range<usize>,
        scaler: Option<&Scaler>,
        buf: &mut Vec<f64>,
    ) {
        for r in range {
            let base = buf.len();
            buf.resize(base + self.width, 0.0);
            let row = &mut buf[base..];
            for part in &self.parts {
                match part {
                    Part::Number { column, at } => row[*at] = rows.numbers[[r, *column]],
                    Part::Text { column, at, slots } => {
                        let code = rows
                            .texts
                            .get(*column)
                            .map_or(super::input::NULL, |t| t.codes()[rows.offset + r]);
                        if let Some(Some(k)) = slots.get(code as usize) {
                            row[at + k] = 1.0;
                        }
                    }
                }
            }
            if let Some(s) = scaler {
                for (i, v) in row.iter_mut().enumerate() {
                    *v = s.apply(i, *v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_nonpositive_is_within_a_few_ulps_of_exp_down_to_minus_708() {
        assert_eq!(exp_nonpositive(0.0), 1.0);
        let mut worst = 0.0f64;
        let mut x = -708.0;
        while x <= 0.0 {
            let (fast, exact) = (exp_nonpositive(x), x.exp());
            worst = worst.max(((fast - exact) / exact).abs());
            x += 0.000_713;
        }
        assert!(worst < 4.0 * f64::EPSILON, "worst relative error {worst:e}");
        // Below the normal range: e^-708, never a NaN, an infinity or a negative number.
        let floor = (-708.0f64).exp();
        assert!(((exp_nonpositive(-1.0e6) - floor) / floor).abs() < 4.0 * f64::EPSILON);
        assert!(exp_nonpositive(-709.5) > 0.0);
    }

    /// The batch path picks the same class as the row-by-row rule (the first
    /// highest score) and the same probability, ties included.
    #[test]
    fn softmax_batch_agrees_with_one_row_at_a_time() {
        let m = Softmax {
            weights: vec![vec![0.5, -1.0], vec![0.5, -1.0], vec![-2.0, 3.0]],
            intercepts: vec![0.1, 0.1, -0.3],
            classes: vec![2, 0, 1],
        };
        let mut rows = Vec::new();
        let mut seed = 7u64;
        for _ in 0..2_000 {
            for _ in 0..2 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                rows.push(((seed >> 11) as f64 / (1u64 << 53) as f64) * 400.0 - 200.0);
            }
        }
        rows.extend([0.0, 0.0, 1.0e6, -1.0e6]);
        let p = NativePredictor::LogisticMultinomial(m.clone());
        let mut batch = Vec::new();
        p.predict_batch(&rows, 2, &mut batch);
        assert_eq!(batch.len(), rows.len() / 2);
        let mut scratch = Vec::new();
        for (row, &(class, score)) in rows.chunks_exact(2).zip(&batch) {
            let (one_class, one_score) = p.predict_row(row, &mut scratch);
            assert_eq!(class, one_class, "{row:?}");
            // Classes 0 and 1 tie on every row: the first of them wins.
            assert_ne!(class, 0, "{row:?}");
            assert!(
                (score - one_score).abs() <= 4.0 * f64::EPSILON,
                "{row:?}: {score} vs {one_score}"
            );
        }
    }
}
