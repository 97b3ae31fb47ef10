//! Fitting each native algorithm (linfa's, or our own CART) and converting
//! the result into the compact predictors of [`crate::model::native`].
//!
//! Receives the (already encoded and scaled) training matrix, class indices
//! or target values, validated hyperparameters, a seed and the cancel flag.
//! Emits a [`NativePredictor`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use linfa::prelude::*;
use ndarray::{Array1, ArrayView2};
use rand::Rng;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::TrainingError;
use super::cart::{CartParams, RegressionParams, fit_cart, fit_regression_cart};
use crate::model::native::{
    FlatTree, ForestModel, GaussianNbModel, LinearModel, NativePredictor, Sigmoid, Softmax,
    SvmMachine, SvmModel, ValueForest,
};
use crate::model::{Algorithm, ParamValue};

pub(crate) struct Params<'a>(pub &'a BTreeMap<String, ParamValue>);

impl Params<'_> {
    fn float(&self, name: &str) -> f64 {
        match self.0.get(name) {
            Some(ParamValue::Float(f)) => *f,
            Some(ParamValue::Int(i)) => *i as f64,
            _ => unreachable!("validated hyperparameter {name} is a float"),
        }
    }
    fn int(&self, name: &str) -> i64 {
        match self.0.get(name) {
            Some(ParamValue::Int(i)) => *i,
            _ => unreachable!("validated hyperparameter {name} is an int"),
        }
    }
    pub(crate) fn text(&self, name: &str) -> &str {
        match self.0.get(name) {
            Some(ParamValue::Text(s)) => s,
            _ => unreachable!("validated hyperparameter {name} is a choice"),
        }
    }
}

fn fit_err(algorithm: Algorithm, e: impl std::fmt::Display) -> TrainingError {
    TrainingError::Fit {
        algorithm,
        reason: e.to_string(),
    }
}

/// The (scaled) training split: rows, their class indices, and how many classes the dataset has.
pub(crate) struct TrainingSet<'a> {
    pub x: ArrayView2<'a, f64>,
    pub y: &'a [usize],
    pub n_classes: usize,
}

/// Fits `algorithm`; `progress(fraction)` reports within the fitting stage.
pub(crate) fn fit(
    algorithm: Algorithm,
    params: &Params<'_>,
    set: &TrainingSet<'_>,
    seed: u64,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<NativePredictor, TrainingError> {
    let TrainingSet { x, y, n_classes } = *set;
    let mut present: Vec<usize> = y.to_vec();
    present.sort_unstable();
    present.dedup();
    if present.len() < 2 {
        return Err(fit_err(
            algorithm,
            "the training split holds fewer than two classes",
        ));
    }
    let targets = Array1::from(y.to_vec());
    match algorithm {
        Algorithm::LogisticRegression => {
            let ds = DatasetBase::new(x.to_owned(), targets);
            if present.len() == 2 {
                let m = linfa_logistic::LogisticRegression::default()
                    .alpha(params.float("alpha"))
                    .max_iterations(params.int("max_iterations") as u64)
                    .gradient_tolerance(params.float("gradient_tolerance"))
                    .fit(&ds)
                    .map_err(|e| fit_err(algorithm, e))?;
                Ok(NativePredictor::LogisticBinary(Sigmoid {
                    weights: m.params().to_vec(),
                    intercept: m.intercept(),
                    positive: m.labels().pos.class,
                    negative: m.labels().neg.class,
                }))
            } else {
                let m = linfa_logistic::MultiLogisticRegression::default()
                    .alpha(params.float("alpha"))
                    .max_iterations(params.int("max_iterations") as u64)
                    .gradient_tolerance(params.float("gradient_tolerance"))
                    .fit(&ds)
                    .map_err(|e| fit_err(algorithm, e))?;
                Ok(NativePredictor::LogisticMultinomial(Softmax {
                    weights: m
                        .params()
                        .columns()
                        .into_iter()
                        .map(|c| c.to_vec())
                        .collect(),
                    intercepts: m.intercept().to_vec(),
                    classes: m.classes().to_vec(),
                }))
            }
        }
        Algorithm::DecisionTree => {
            let features: Vec<usize> = (0..x.ncols()).collect();
            let rows: Vec<usize> = (0..x.nrows()).collect();
            let tree = fit_tree(algorithm, params, x, y, &rows, &features, n_classes)?;
            Ok(NativePredictor::DecisionTree(tree))
        }
        Algorithm::GaussianNb => {
            let ds = DatasetBase::new(x.to_owned(), targets);
            let m = linfa_bayes::GaussianNb::params()
                .var_smoothing(params.float("var_smoothing"))
                .fit(&ds)
                .map_err(|e| fit_err(algorithm, e))?;
            Ok(NativePredictor::GaussianNb(
                gaussian_nb_params(&m).map_err(|e| fit_err(algorithm, e))?,
            ))
        }
        Algorithm::Svm => {
            let c = params.float("c");
            let gaussian = params.text("kernel") == "gaussian";
            let eps = params.float("gaussian_eps");
            // Two classes: one machine, positive = class 1. More: one per class.
            let positives: Vec<usize> = if n_classes == 2 {
                vec![1]
            } else {
                (0..n_classes).collect()
            };
            let mut machines = Vec::with_capacity(positives.len());
            for (i, &positive) in positives.iter().enumerate() {
                if cancel.load(Ordering::Relaxed) {
                    return Err(TrainingError::Cancelled);
                }
                if !y.contains(&positive) {
                    return Err(fit_err(
                        algorithm,
                        format!(
                            "class {positive} has no training rows; one-vs-rest needs every class"
                        ),
                    ));
                }
                let t: Array1<bool> = y.iter().map(|&c| c == positive).collect();
                let ds = DatasetBase::new(x.to_owned(), t);
                let p = linfa_svm::Svm::<f64, bool>::params().pos_neg_weights(c, c);
                let p = if gaussian {
                    p.gaussian_kernel(eps)
                } else {
                    p.linear_kernel()
                };
                let svm = p.fit(&ds).map_err(|e| fit_err(algorithm, e))?;
                machines.push(if gaussian {
                    SvmMachine::Kernel(Box::new(svm))
                } else {
                    // A linear machine's decision is w·x - rho: read w off the unit vectors.
                    let nf = x.ncols();
                    let weights = (0..nf)
                        .map(|j| {
                            let mut e = Array1::<f64>::zeros(nf);
                            e[j] = 1.0;
                            svm.weighted_sum(&e)
                        })
                        .collect();
                    SvmMachine::Linear {
                        weights,
                        rho: svm.rho,
                    }
                });
                progress((i + 1) as f64 / positives.len() as f64);
            }
            Ok(NativePredictor::Svm(SvmModel { machines }))
        }
        Algorithm::RandomForest => {
            let n_trees = params.int("n_trees") as usize;
            let nf = x.ncols();
            let k = match params.text("max_features") {
                "sqrt" => ((nf as f64).sqrt().ceil() as usize).clamp(1, nf),
                _ => nf,
            };
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut trees = Vec::with_capacity(n_trees);
            for t in 0..n_trees {
                if cancel.load(Ordering::Relaxed) {
                    return Err(TrainingError::Cancelled);
                }
                let rows: Vec<usize> = (0..x.nrows())
                    .map(|_| rng.gen_range(0..x.nrows()))
                    .collect();
                let mut features = sample(&mut rng, nf, k).into_vec();
                features.sort_unstable();
                trees.push(fit_tree(
                    algorithm, params, x, y, &rows, &features, n_classes,
                )?);
                progress((t + 1) as f64 / n_trees as f64);
            }
            Ok(NativePredictor::RandomForest(ForestModel {
                trees,
                n_classes,
            }))
        }
        Algorithm::Onnx => Err(fit_err(algorithm, "ONNX models are imported, not trained")),
        Algorithm::LinearRegression
        | Algorithm::Ridge
        | Algorithm::ElasticNet
        | Algorithm::DecisionTreeRegressor
        | Algorithm::RandomForestRegressor => Err(fit_err(
            algorithm,
            "a regressor is fitted on numbers, not classes",
        )),
    }
}

/// Ordinary least squares with an intercept, as scikit-learn's
/// `LinearRegression` solves it: X and y centred, then the minimum-norm
/// solution through the singular values of X (singular values below
/// `eps · max(n, p)` times the largest count as zero, as numpy's `lstsq`).
///
/// Why not linfa-linear's: it solves by QR without pivoting, which on
/// collinear columns — every one-hot encoding of a text feature with no
/// NULL in training, whose columns sum to the intercept's — returns
/// weights near 1e15 that cancel: predictions lose their last digits and a
/// NULL or unseen category (all zeros) predicts nonsense.
fn least_squares_min_norm(x: ArrayView2<'_, f64>, y: &[f64]) -> Result<(Vec<f64>, f64), String> {
    use linfa_linalg::svd::SVDInto;
    let (n, p) = x.dim();
    let means = x.mean_axis(ndarray::Axis(0)).expect("rows");
    let y_mean = y.iter().sum::<f64>() / n as f64;
    let centred = &x - &means;
    let yc = Array1::from_iter(y.iter().map(|v| v - y_mean));
    // Xᵀy before the decomposition takes the matrix.
    let xty = centred.t().dot(&yc);
    let (_, sigma, vt) = centred
        .svd_into(false, true)
        .map_err(|e| format!("the singular value decomposition failed: {e}"))?;
    let vt = vt.expect("asked for Vᵀ");
    let largest = sigma.iter().copied().fold(0.0, f64::max);
    let cutoff = largest * f64::EPSILON * n.max(p) as f64;
    // w = V Σ⁻² Vᵀ Xᵀy over the singular values kept (= V Σ⁻¹ Uᵀ y).
    let mut w = Array1::<f64>::zeros(p);
    for (i, &s) in sigma.iter().enumerate() {
        if s > cutoff {
            let v = vt.row(i);
            let coef = v.dot(&xty) / (s * s);
            w.scaled_add(coef, &v);
        }
    }
    let intercept = y_mean - w.dot(&means);
    Ok((w.to_vec(), intercept))
}

/// Fits regressor `algorithm` on `x` (encoded and scaled) and the target values `y`.
pub(crate) fn fit_regression(
    algorithm: Algorithm,
    params: &Params<'_>,
    x: ArrayView2<'_, f64>,
    y: &[f64],
    seed: u64,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<NativePredictor, TrainingError> {
    if y.len() < 2 {
        return Err(fit_err(
            algorithm,
            "the training split holds fewer than two rows",
        ));
    }
    let targets = Array1::from(y.to_vec());
    let linear = |weights: Vec<f64>, intercept: f64| {
        if weights.iter().chain([&intercept]).all(|w| w.is_finite()) {
            Ok(NativePredictor::Linear(LinearModel { weights, intercept }))
        } else {
            Err(fit_err(
                algorithm,
                "the fit did not converge to finite coefficients (are some features collinear, or constant?)",
            ))
        }
    };
    match algorithm {
        Algorithm::LinearRegression => {
            let (weights, intercept) =
                least_squares_min_norm(x, y).map_err(|e| fit_err(algorithm, e))?;
            linear(weights, intercept)
        }
        Algorithm::Ridge | Algorithm::ElasticNet => {
            let l1_ratio = if algorithm == Algorithm::Ridge {
                0.0
            } else {
                params.float("l1_ratio")
            };
            // linfa's objective is scikit-learn ElasticNet's (squared errors
            // over 2n); ridge's penalty is on scikit-learn Ridge's scale
            // (squared errors summed), the same fit with the penalty over n.
            let penalty = if algorithm == Algorithm::Ridge {
                params.float("penalty") / x.nrows() as f64
            } else {
                params.float("penalty")
            };
            let ds = DatasetBase::new(x.to_owned(), targets);
            let m = linfa_elasticnet::ElasticNet::<f64>::params()
                .penalty(penalty)
                .l1_ratio(l1_ratio)
                .max_iterations(params.int("max_iterations").clamp(1, u32::MAX as i64) as u32)
                .tolerance(params.float("tolerance"))
                .fit(&ds)
                .map_err(|e| fit_err(algorithm, e))?;
            linear(m.hyperplane().to_vec(), m.intercept())
        }
        Algorithm::DecisionTreeRegressor => {
            let features: Vec<usize> = (0..x.ncols()).collect();
            let rows: Vec<usize> = (0..x.nrows()).collect();
            Ok(NativePredictor::RegressionTree(fit_regression_cart(
                x,
                y,
                &rows,
                &features,
                regression_params(params, true),
            )))
        }
        Algorithm::RandomForestRegressor => {
            let n_trees = params.int("n_trees") as usize;
            let nf = x.ncols();
            let k = match params.text("max_features") {
                "sqrt" => ((nf as f64).sqrt().ceil() as usize).clamp(1, nf),
                _ => nf,
            };
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut trees = Vec::with_capacity(n_trees);
            for t in 0..n_trees {
                if cancel.load(Ordering::Relaxed) {
                    return Err(TrainingError::Cancelled);
                }
                let rows: Vec<usize> = (0..x.nrows())
                    .map(|_| rng.gen_range(0..x.nrows()))
                    .collect();
                let mut features = sample(&mut rng, nf, k).into_vec();
                features.sort_unstable();
                trees.push(fit_regression_cart(
                    x,
                    y,
                    &rows,
                    &features,
                    regression_params(params, false),
                ));
                progress((t + 1) as f64 / n_trees as f64);
            }
            Ok(NativePredictor::RegressionForest(ValueForest { trees }))
        }
        other => Err(fit_err(
            other,
            "a classifier is fitted on classes, not numbers",
        )),
    }
}

fn regression_params(params: &Params<'_>, single: bool) -> RegressionParams {
    let depth = params.int("max_depth");
    let (min_weight_split, min_weight_leaf) = if single {
        (
            params.float("min_weight_split"),
            params.float("min_weight_leaf"),
        )
    } else {
        (2.0, 1.0)
    };
    RegressionParams {
        max_depth: (depth != 0).then_some(depth as usize),
        min_weight_split,
        min_weight_leaf,
    }
}

/// Fits one deterministic CART tree (see [`super::cart`]) on `rows` × `features`.
fn fit_tree(
    algorithm: Algorithm,
    params: &Params<'_>,
    x: ArrayView2<f64>,
    y: &[usize],
    rows: &[usize],
    features: &[usize],
    n_classes: usize,
) -> Result<FlatTree, TrainingError> {
    let depth = params.int("max_depth");
    let (min_weight_split, min_weight_leaf) = if algorithm == Algorithm::DecisionTree {
        (
            params.float("min_weight_split"),
            params.float("min_weight_leaf"),
        )
    } else {
        (2.0, 1.0)
    };
    let cart = CartParams {
        entropy: params.text("split_quality") == "entropy",
        max_depth: if depth == 0 {
            None
        } else {
            Some(depth as usize)
        },
        min_weight_split,
        min_weight_leaf,
    };
    Ok(fit_cart(x, y, rows, features, n_classes, cart))
}

/// linfa keeps the fitted Gaussian NB in private fields (a hash map per class);
/// its serde form is the only stable way to read them.
fn gaussian_nb_params(m: &linfa_bayes::GaussianNb<f64, usize>) -> Result<GaussianNbModel, String> {
    let v = serde_json::to_value(m).map_err(|e| e.to_string())?;
    let info = v
        .get("class_info")
        .and_then(|c| c.as_object())
        .ok_or("unexpected GaussianNb layout")?;
    let mut classes: Vec<(usize, &serde_json::Value)> = info
        .iter()
        .map(|(k, v)| {
            k.parse()
                .map(|k| (k, v))
                .map_err(|_| format!("class key {k:?}"))
        })
        .collect::<Result<_, _>>()?;
    classes.sort_by_key(|(k, _)| *k);
    let array = |v: &serde_json::Value, field: &str| -> Result<Vec<f64>, String> {
        v.get(field)
            .and_then(|a| a.get("data"))
            .and_then(|d| d.as_array())
            .ok_or(format!("GaussianNb field {field} missing"))?
            .iter()
            .map(|x| {
                x.as_f64()
                    .ok_or(format!("GaussianNb field {field} not numeric"))
            })
            .collect()
    };
    let mut out = GaussianNbModel {
        classes: Vec::new(),
        log_priors: Vec::new(),
        means: Vec::new(),
        variances: Vec::new(),
    };
    for (k, c) in classes {
        let prior = c
            .get("prior")
            .and_then(|p| p.as_f64())
            .ok_or("GaussianNb prior missing")?;
        out.classes.push(k);
        out.log_priors.push(prior.ln());
        out.means.push(array(c, "theta")?);
        out.variances.push(array(c, "sigma")?);
    }
    Ok(out)
}
