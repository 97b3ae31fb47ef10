//! A CART decision tree, written here rather than taken from linfa-trees:
//! linfa's tree picks the leaf class and prunes through `HashMap` iteration
//! order and sums impurities in that order, so the same data and seed can give
//! a different tree (observed on iris). Here every loop runs in a fixed order
//! and ties go to the first feature, the lowest threshold and the lowest class.
//!
//! Receives rows (duplicates = bootstrap weight), a feature subset and limits.
//! Emits a [`FlatTree`] (classes, split by Gini or entropy) or a [`ValueTree`]
//! (numbers, split by the squared error; a leaf holds its rows' mean), with
//! the same split rule as linfa (`x < threshold` goes left).

use ndarray::ArrayView2;

use crate::model::native::{FlatTree, LEAF, TreeNode, ValueTree};

#[derive(Debug, Clone, Copy)]
pub(crate) struct CartParams {
    pub entropy: bool,
    pub max_depth: Option<usize>,
    pub min_weight_split: f64,
    pub min_weight_leaf: f64,
}

fn impurity(counts: &[f64], total: f64, entropy: bool) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    if entropy {
        counts
            .iter()
            .filter(|c| **c > 0.0)
            .map(|c| {
                let p = c / total;
                -p * p.log2()
            })
            .sum()
    } else {
        1.0 - counts
            .iter()
            .map(|c| (c / total) * (c / total))
            .sum::<f64>()
    }
}

/// Index of the largest count; the lowest index on ties.
fn majority(counts: &[f64]) -> usize {
    (0..counts.len()).fold(0, |best, k| if counts[k] > counts[best] { k } else { best })
}

struct Builder<'x, 's> {
    x: ArrayView2<'x, f64>,
    y: &'s [usize],
    features: &'s [usize],
    n_classes: usize,
    params: CartParams,
    tree: FlatTree,
}

pub(crate) fn fit_cart(
    x: ArrayView2<'_, f64>,
    y: &[usize],
    rows: &[usize],
    features: &[usize],
    n_classes: usize,
    params: CartParams,
) -> FlatTree {
    let mut b = Builder {
        x,
        y,
        features,
        n_classes,
        params,
        tree: FlatTree {
            nodes: Vec::new(),
            leaf_class: Vec::new(),
            leaf_score: Vec::new(),
        },
    };
    let mut rows = rows.to_vec();
    b.node(&mut rows, 0);
    b.tree
}

impl Builder<'_, '_> {
    /// Appends the subtree for `rows` in pre-order. Returns the node index.
    fn node(&mut self, rows: &mut [usize], depth: usize) -> u32 {
        let i = self.tree.nodes.len();
        self.tree.nodes.push(TreeNode {
            feature: LEAF,
            next: 0,
            threshold: 0.0,
        });

        let mut counts = vec![0.0; self.n_classes];
        for &r in rows.iter() {
            counts[self.y[r]] += 1.0;
        }
        let total = rows.len() as f64;
        let pure = counts.iter().filter(|c| **c > 0.0).count() <= 1;
        let too_deep = self.params.max_depth.is_some_and(|d| depth >= d);
        let split = if pure || too_deep || total < self.params.min_weight_split {
            None
        } else {
            self.best_split(rows, &counts, total)
        };
        match split {
            Some((feature, threshold)) => {
                // Partition in place: left = x < threshold, order kept stable for determinism.
                let (mut left, mut right): (Vec<usize>, Vec<usize>) = rows
                    .iter()
                    .partition(|&&r| self.x[[r, feature]] < threshold);
                // Pre-order: the left subtree directly follows this node.
                self.node(&mut left, depth + 1);
                let r = self.node(&mut right, depth + 1);
                self.tree.nodes[i] = TreeNode {
                    feature: feature as u32,
                    next: r,
                    threshold,
                };
            }
            None => {
                let k = majority(&counts);
                self.tree.nodes[i].next = self.tree.leaf_class.len() as u32;
                self.tree.leaf_class.push(k as u32);
                self.tree
                    .leaf_score
                    .push(if total > 0.0 { counts[k] / total } else { 1.0 });
            }
        }
        i as u32
    }

    /// The (feature, threshold) with the largest impurity decrease, if any decreases it.
    fn best_split(&self, rows: &mut [usize], counts: &[f64], total: f64) -> Option<(usize, f64)> {
        let parent = impurity(counts, total, self.params.entropy);
        let mut best: Option<(f64, usize, f64)> = None;
        let mut left = vec![0.0; self.n_classes];
        let mut right = vec![0.0; self.n_classes];
        for &f in self.features {
            rows.sort_by(|&a, &b| self.x[[a, f]].total_cmp(&self.x[[b, f]]).then(a.cmp(&b)));
            left.iter_mut().for_each(|c| *c = 0.0);
            right.copy_from_slice(counts);
            for k in 1..rows.len() {
                let moved = self.y[rows[k - 1]];
                left[moved] += 1.0;
                right[moved] -= 1.0;
                let (lo, hi) = (self.x[[rows[k - 1], f]], self.x[[rows[k], f]]);
                if lo >= hi {
                    continue; // not a boundary between distinct values
                }
                let (nl, nr) = (k as f64, total - k as f64);
                if nl < self.params.min_weight_leaf || nr < self.params.min_weight_leaf {
                    continue;
                }
                let child = (nl / total) * impurity(&left, nl, self.params.entropy)
                    + (nr / total) * impurity(&right, nr, self.params.entropy);
                let decrease = parent - child;
                if decrease > 1e-12 && best.is_none_or(|(d, _, _)| decrease > d) {
                    let mid = lo + (hi - lo) / 2.0;
                    // Rows at `lo` must go left: fall back to `hi` if rounding lands the midpoint on `lo`.
                    let threshold = if lo < mid { mid } else { hi };
                    best = Some((decrease, f, threshold));
                }
            }
        }
        best.map(|(_, f, t)| (f, t))
    }
}

/// Limits of a regression tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RegressionParams {
    pub max_depth: Option<usize>,
    pub min_weight_split: f64,
    pub min_weight_leaf: f64,
}

struct ValueBuilder<'x, 's> {
    x: ArrayView2<'x, f64>,
    y: &'s [f64],
    features: &'s [usize],
    params: RegressionParams,
    tree: ValueTree,
}

/// Fits one deterministic regression tree on `rows` × `features`: each split
/// is the one that most reduces the squared error around the mean.
pub(crate) fn fit_regression_cart(
    x: ArrayView2<'_, f64>,
    y: &[f64],
    rows: &[usize],
    features: &[usize],
    params: RegressionParams,
) -> ValueTree {
    let mut b = ValueBuilder {
        x,
        y,
        features,
        params,
        tree: ValueTree {
            nodes: Vec::new(),
            leaf_value: Vec::new(),
        },
    };
    let mut rows = rows.to_vec();
    b.node(&mut rows, 0);
    b.tree
}

impl ValueBuilder<'_, '_> {
    fn node(&mut self, rows: &mut [usize], depth: usize) -> u32 {
        let i = self.tree.nodes.len();
        self.tree.nodes.push(TreeNode {
            feature: LEAF,
            next: 0,
            threshold: 0.0,
        });
        let total = rows.len() as f64;
        let sum: f64 = rows.iter().map(|&r| self.y[r]).sum();
        let first = rows.first().map(|&r| self.y[r]);
        let pure = rows.iter().all(|&r| Some(self.y[r]) == first);
        let too_deep = self.params.max_depth.is_some_and(|d| depth >= d);
        let split = if pure || too_deep || total < self.params.min_weight_split {
            None
        } else {
            self.best_split(rows, sum)
        };
        match split {
            Some((feature, threshold)) => {
                let (mut left, mut right): (Vec<usize>, Vec<usize>) = rows
                    .iter()
                    .partition(|&&r| self.x[[r, feature]] < threshold);
                self.node(&mut left, depth + 1);
                let r = self.node(&mut right, depth + 1);
                self.tree.nodes[i] = TreeNode {
                    feature: feature as u32,
                    next: r,
                    threshold,
                };
            }
            None => {
                self.tree.nodes[i].next = self.tree.leaf_value.len() as u32;
                self.tree
                    .leaf_value
                    .push(if total > 0.0 { sum / total } else { 0.0 });
            }
        }
        i as u32
    }

    /// The (feature, threshold) that most reduces the squared error, if any does.
    /// SSE = Σy² − (Σy)²/n, so a split's decrease is Σl²/nl + Σr²/nr − Σ²/n.
    fn best_split(&self, rows: &mut [usize], sum: f64) -> Option<(usize, f64)> {
        let total = rows.len() as f64;
        let parent = sum * sum / total;
        let sum_sq: f64 = rows.iter().map(|&r| self.y[r] * self.y[r]).sum();
        let sse = (sum_sq - parent).max(0.0);
        let mut best: Option<(f64, usize, f64)> = None;
        for &f in self.features {
            rows.sort_by(|&a, &b| self.x[[a, f]].total_cmp(&self.x[[b, f]]).then(a.cmp(&b)));
            let mut left = 0.0;
            for k in 1..rows.len() {
                left += self.y[rows[k - 1]];
                let (lo, hi) = (self.x[[rows[k - 1], f]], self.x[[rows[k], f]]);
                if lo >= hi {
                    continue;
                }
                let (nl, nr) = (k as f64, total - k as f64);
                if nl < self.params.min_weight_leaf || nr < self.params.min_weight_leaf {
                    continue;
                }
                let right = sum - left;
                let decrease = left * left / nl + right * right / nr - parent;
                // Rounding in the sums is not a decrease: ask for a real share of the error.
                if decrease > 1e-12 * (1.0 + sse) && best.is_none_or(|(d, _, _)| decrease > d) {
                    let mid = lo + (hi - lo) / 2.0;
                    let threshold = if lo < mid { mid } else { hi };
                    best = Some((decrease, f, threshold));
                }
            }
        }
        best.map(|(_, f, t)| (f, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    const GINI: CartParams = CartParams {
        entropy: false,
        max_depth: None,
        min_weight_split: 2.0,
        min_weight_leaf: 1.0,
    };

    #[test]
    fn adjacent_values_split_so_the_lower_goes_left() {
        let lo = 1.0f64;
        let hi = f64::from_bits(lo.to_bits() + 1); // no float between them
        let x = array![[lo], [hi]];
        let tree = fit_cart(x.view(), &[0, 1], &[0, 1], &[0], 2, GINI);
        assert_eq!(tree.leaf_class[tree.leaf(&[lo])], 0);
        assert_eq!(tree.leaf_class[tree.leaf(&[hi])], 1);
    }

    #[test]
    fn ties_go_to_the_lowest_class_and_limits_hold() {
        // One feature that cannot separate: a single leaf, classes tied 2-2.
        let x = array![[1.0], [1.0], [1.0], [1.0]];
        let tree = fit_cart(x.view(), &[1, 0, 1, 0], &[0, 1, 2, 3], &[0], 2, GINI);
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.leaf_class, [0]);
        assert_eq!(tree.leaf_score, [0.5]);
        // max_depth 1: at most one split.
        let x = array![[0.0], [1.0], [2.0], [3.0]];
        let shallow = CartParams {
            max_depth: Some(1),
            ..GINI
        };
        let tree = fit_cart(x.view(), &[0, 1, 0, 1], &[0, 1, 2, 3], &[0], 2, shallow);
        assert!(tree.nodes.len() <= 3);
    }

    #[test]
    fn bootstrap_duplicates_weigh_in() {
        // Row 1 drawn three times outvotes row 0 in a leaf that cannot split.
        let x = array![[5.0], [5.0]];
        let tree = fit_cart(x.view(), &[0, 1], &[0, 1, 1, 1], &[0], 2, GINI);
        assert_eq!(tree.leaf_class, [1]);
        assert_eq!(tree.leaf_score, [0.75]);
    }

    const REGRESSION: RegressionParams = RegressionParams {
        max_depth: None,
        min_weight_split: 2.0,
        min_weight_leaf: 1.0,
    };

    #[test]
    fn a_regression_tree_splits_where_the_squared_error_drops_most_and_leaves_hold_means() {
        // y jumps between x = 2 and x = 3; within each side it is constant.
        let x = array![[0.0], [1.0], [2.0], [3.0], [4.0]];
        let y = [1.0, 1.0, 1.0, 10.0, 10.0];
        let tree = fit_regression_cart(x.view(), &y, &[0, 1, 2, 3, 4], &[0], REGRESSION);
        assert_eq!(tree.nodes.len(), 3);
        assert_eq!(tree.nodes[0].threshold, 2.5);
        assert_eq!(tree.value(&[1.5]), 1.0);
        assert_eq!(tree.value(&[3.5]), 10.0);
        // Depth 0: one leaf, the mean of all rows (bootstrap duplicates weigh in).
        let stump = RegressionParams {
            max_depth: Some(0),
            ..REGRESSION
        };
        let tree = fit_regression_cart(x.view(), &y, &[0, 3, 3], &[0], stump);
        assert_eq!(tree.leaf_value, [7.0]);
        // A constant target never splits.
        let tree = fit_regression_cart(x.view(), &[5.0; 5], &[0, 1, 2, 3, 4], &[0], REGRESSION);
        assert_eq!(tree.nodes.len(), 1);
    }
}
