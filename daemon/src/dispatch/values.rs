//! A regressor's predicted values, summarized as a dispatch stores them:
//! their count, sum, least and greatest, and a count per log-spaced bucket
//! (each bucket's values within 1% of its middle). Opening a dispatch turns
//! that into a histogram of equal-width bins between the least and the
//! greatest value, without reading its predictions.
//!
//! The bucket of a value is stored in the event log (migration v7 states the
//! same rule): [`bucket`] must never change.

/// Buckets are this much wider than the one before: 1% either side of a bucket's middle.
const GROWTH: f64 = 1.01 / 0.99;
/// Values this close to zero share bucket 0.
const NEAR_ZERO: f64 = 1e-9;

/// The bucket of `v`: 0 within [`NEAR_ZERO`] of zero; `k > 0` for positive
/// values in `(NEAR_ZERO * GROWTH^(k-1), NEAR_ZERO * GROWTH^k]`; `-k` for
/// their negatives.
pub fn bucket(v: f64) -> i64 {
    let m = v.abs();
    if m <= NEAR_ZERO || !m.is_finite() {
        return 0;
    }
    let k = ((m / NEAR_ZERO).ln() / GROWTH.ln()).ceil().max(1.0) as i64;
    if v < 0.0 { -k } else { k }
}

/// The middle of bucket `b`: within 1% of every value in it.
pub fn middle(b: i64) -> f64 {
    if b == 0 {
        return 0.0;
    }
    let k = b.unsigned_abs() as f64;
    // The bucket spans (lo, lo * GROWTH]; its middle, 2 lo GROWTH / (1 + GROWTH), is within 1% of both ends.
    let hi = NEAR_ZERO * GROWTH.powf(k);
    let m = 2.0 * hi / (1.0 + GROWTH);
    if b < 0 { -m } else { m }
}

/// What a batch (or a whole dispatch) predicted, in sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Summary> {
        let mut s: Option<Summary> = None;
        for v in values {
            s = Some(match s {
                None => Summary {
                    count: 1,
                    sum: v,
                    min: v,
                    max: v,
                },
                Some(s) => Summary {
                    count: s.count + 1,
                    sum: s.sum + v,
                    min: s.min.min(v),
                    max: s.max.max(v),
                },
            });
        }
        s
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// One bar of a histogram: values in `[lo, hi)` (the last bar includes `hi`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
}

/// A dispatch's predicted values for people: how many, their mean and range,
/// and `bins` equal-width bars between the least and the greatest.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub summary: Summary,
    pub bins: Vec<Bin>,
}

/// Bins the bucket counts into `bins` equal-width bars over `[min, max]`.
/// Each bucket's count goes to the bar of its middle (clamped into the
/// range): a bar is exact to within 1% of its values.
pub fn histogram(summary: Summary, buckets: &[(i64, u64)], bins: usize) -> Histogram {
    let bins = bins.max(1);
    let (lo, hi) = (summary.min, summary.max);
    let width = (hi - lo) / bins as f64;
    if width <= 0.0 || !width.is_finite() {
        return Histogram {
            summary,
            bins: vec![Bin {
                lo,
                hi,
                count: summary.count,
            }],
        };
    }
    let mut out: Vec<Bin> = (0..bins)
        .map(|i| Bin {
            lo: lo + width * i as f64,
            hi: if i + 1 == bins {
                hi
            } else {
                lo + width * (i + 1) as f64
            },
            count: 0,
        })
        .collect();
    for &(b, n) in buckets {
        let v = middle(b).clamp(lo, hi);
        let i = (((v - lo) / width) as usize).min(bins - 1);
        out[i].count += n;
    }
    Histogram { summary, bins: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_middle_is_within_one_percent_of_its_values() {
        for v in [
            1e-8, 0.003, 0.5, 1.0, 2.0, 99.9, 12_345.678, 7e12, -0.25, -41.0,
        ] {
            let m = middle(bucket(v));
            assert!(
                ((m - v) / v).abs() <= 0.0100001,
                "{v}: bucket {} middle {m}",
                bucket(v)
            );
        }
        assert_eq!(bucket(0.0), 0);
        assert_eq!(bucket(5e-10), 0);
        assert_eq!(bucket(-3.0), -bucket(3.0));
        assert!(bucket(2.0) > bucket(1.0));
        // Frozen: stored in the event log.
        assert_eq!(bucket(1.0), 1037);
        assert_eq!(bucket(100.0), 1267);
    }

    #[test]
    fn bins_split_the_range_evenly_and_count_every_value() {
        let values: Vec<f64> = (0..1000).map(|i| i as f64 / 10.0).collect(); // 0.0 .. 99.9
        let summary = Summary::of(values.iter().copied()).unwrap();
        assert_eq!(summary.count, 1000);
        assert!((summary.mean() - 49.95).abs() < 1e-9);
        let mut buckets: Vec<(i64, u64)> = Vec::new();
        for v in &values {
            match buckets.iter_mut().find(|(b, _)| *b == bucket(*v)) {
                Some((_, n)) => *n += 1,
                None => buckets.push((bucket(*v), 1)),
            }
        }
        let h = histogram(summary, &buckets, 10);
        assert_eq!(h.bins.len(), 10);
        assert_eq!(h.bins.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!((h.bins[0].lo, h.bins[9].hi), (0.0, 99.9));
        // 100 values a bar, give or take the values within 1% of a bar's edge.
        for b in &h.bins {
            assert!((90..=110).contains(&b.count), "{b:?}");
        }
        // All equal: one bar.
        let one = Summary::of([3.0, 3.0]).unwrap();
        let h = histogram(one, &[(bucket(3.0), 2)], 10);
        assert_eq!(h.bins.len(), 1);
        assert_eq!(h.bins[0].count, 2);
    }
}
