//! Evaluation: the confusion matrix of held-out predictions and the metrics
//! derived from it (classifiers), or the errors of held-out values
//! (regressors). Receives true and predicted class indices, or values;
//! emits [`Metrics`] or [`RegressionMetrics`].

use crate::model::{ClassMetrics, Metrics, RegressionMetrics};

/// Counts `confusion[truth][predicted]` over `n_classes` classes.
pub fn confusion_matrix(n_classes: usize, truth: &[usize], predicted: &[usize]) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; n_classes]; n_classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        m[t][p] += 1;
    }
    m
}

/// Accuracy, per-class and macro precision/recall/F1 from a confusion matrix.
/// A ratio with a zero denominator (class never predicted / never present) is 0.
pub fn metrics_from_confusion(labels: &[String], confusion: Vec<Vec<u64>>) -> Metrics {
    let k = labels.len();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let total: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let predicted: u64 = (0..k).map(|t| confusion[t][c]).sum();
            let actual: u64 = confusion[c].iter().sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, actual);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassMetrics {
                label: labels[c].clone(),
                precision,
                recall,
                f1,
                support: actual,
            }
        })
        .collect();
    let mean = |f: fn(&ClassMetrics) -> f64| {
        if k == 0 {
            0.0
        } else {
            per_class.iter().map(f).sum::<f64>() / k as f64
        }
    };
    Metrics {
        accuracy: ratio(correct, total),
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        per_class,
        confusion,
    }
}

pub fn evaluate(labels: &[String], truth: &[usize], predicted: &[usize]) -> Metrics {
    metrics_from_confusion(labels, confusion_matrix(labels.len(), truth, predicted))
}

/// Mean absolute error, root mean squared error and R² of `predicted`
/// against `truth`. R² is 1 − SS_res / SS_tot; when the truth is constant
/// (SS_tot = 0) it is 1 for a perfect prediction and 0 otherwise, as
/// scikit-learn's `r2_score` says.
pub fn regression(truth: &[f64], predicted: &[f64]) -> RegressionMetrics {
    let n = truth.len().min(predicted.len());
    if n == 0 {
        return RegressionMetrics {
            mae: 0.0,
            rmse: 0.0,
            r2: 0.0,
            rows: 0,
        };
    }
    let pairs = || truth.iter().zip(predicted).take(n);
    let nf = n as f64;
    let mae = pairs().map(|(t, p)| (t - p).abs()).sum::<f64>() / nf;
    let ss_res: f64 = pairs().map(|(t, p)| (t - p) * (t - p)).sum();
    let mean = truth[..n].iter().sum::<f64>() / nf;
    let ss_tot: f64 = truth[..n].iter().map(|t| (t - mean) * (t - mean)).sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };
    RegressionMetrics {
        mae,
        rmse: (ss_res / nf).sqrt(),
        r2,
        rows: n as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_metrics_match_the_hand_computed_values() {
        // truth 3, -0.5, 2, 7; predicted 2.5, 0, 2, 8 (scikit-learn's own r2_score example).
        // errors 0.5, 0.5, 0, 1: MAE = 2/4 = 0.5; SS_res = 0.25+0.25+0+1 = 1.5,
        // RMSE = sqrt(1.5/4); mean 2.875, SS_tot = 0.015625+11.390625+0.765625+17.015625 = 29.1875,
        // R² = 1 - 1.5/29.1875 = 0.948608137…
        let m = regression(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0]);
        assert_eq!(m.mae, 0.5);
        assert!((m.rmse - (1.5f64 / 4.0).sqrt()).abs() < 1e-15);
        assert!((m.r2 - 0.948_608_137_044_967_9).abs() < 1e-12, "{}", m.r2);
        assert_eq!(m.rows, 4);
        // A constant truth: 1 when matched exactly, else 0.
        assert_eq!(regression(&[2.0, 2.0], &[2.0, 2.0]).r2, 1.0);
        assert_eq!(regression(&[2.0, 2.0], &[2.0, 3.0]).r2, 0.0);
    }
}
