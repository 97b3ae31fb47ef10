//! Evaluation: the confusion matrix of held-out predictions and the metrics
//! derived from it. Receives true and predicted class indices; emits [`Metrics`].

use crate::model::{ClassMetrics, Metrics};

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
