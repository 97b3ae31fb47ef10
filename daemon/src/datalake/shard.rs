//! Key ranges: how a job's rows are split into shards, in the datalake's own
//! SQL. A shard is `lo <= E <= hi` of an integer expression E of the key —
//! the key column itself, or the job's `shard_by` (written with `{key}`).
//!
//! E is evaluated in two places, and must agree in both: on the job's query
//! (`SELECT * FROM (query) AS mld_shard WHERE …`, what a shard reads), and on
//! the results table's row-key column (what a shard's write-back deletes
//! first and counts before its commit), where the key is stored as text: the
//! key column's E there is `CAST(row_key AS DECIMAL(38,0))`, exact for every
//! 64-bit integer on every backend; a `shard_by` expression is applied to
//! the row-key text as written. Other dispatches' rows in the same table are
//! never evaluated (`CASE WHEN dispatch = id THEN E END`), so a key of
//! another job that E cannot take does not fail the statement.

use serde::{Deserialize, Serialize};

use super::Dialect;

/// How a job's rows are ranged: its key column and optional `shard_by`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardKey {
    /// A validated identifier (the job's `key_column`).
    pub key_column: String,
    /// An SQL expression with `{key}` where the key goes.
    pub shard_by: Option<String>,
}

/// One shard's slice: `lo <= E <= hi`, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRange {
    pub lo: i64,
    pub hi: i64,
}

impl KeyRange {
    fn predicate(&self, expr: &str) -> String {
        format!("{expr} >= {} AND {expr} <= {}", self.lo, self.hi)
    }
}

impl std::fmt::Display for KeyRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..={}", self.lo, self.hi)
    }
}

impl ShardKey {
    /// E over the job's query's columns.
    fn source_expr(&self, dialect: &Dialect) -> String {
        let key = dialect.identifier(&self.key_column);
        match &self.shard_by {
            Some(e) => format!("({})", e.replace("{key}", &key)),
            None => key,
        }
    }

    /// E over the results table's row-key column (`quoted_row_key`), for the
    /// rows of dispatch `dispatch_id` only.
    pub(super) fn results_predicate(
        &self,
        range: &KeyRange,
        quoted_dispatch: &str,
        quoted_row_key: &str,
        dispatch_id: i64,
    ) -> String {
        let e = match &self.shard_by {
            Some(e) => format!("({})", e.replace("{key}", quoted_row_key)),
            None => format!("CAST({quoted_row_key} AS DECIMAL(38,0))"),
        };
        let guarded = format!("(CASE WHEN {quoted_dispatch} = {dispatch_id} THEN {e} END)");
        range.predicate(&guarded)
    }

    /// The job's rows in `range`.
    pub fn range_query(&self, dialect: &Dialect, query: &str, range: &KeyRange) -> String {
        format!(
            "SELECT * FROM ({}) AS mld_shard WHERE {}",
            strip_semicolon(query),
            range.predicate(&self.source_expr(dialect))
        )
    }

    /// The smallest and largest E over the job's rows, as text.
    pub fn bounds_query(&self, dialect: &Dialect, query: &str) -> String {
        let e = self.source_expr(dialect);
        format!(
            "SELECT MIN({e}) AS mld_lo, MAX({e}) AS mld_hi FROM ({}) AS mld_rows",
            strip_semicolon(query)
        )
    }

    /// What E is, for messages.
    pub fn describe(&self) -> String {
        match &self.shard_by {
            Some(e) => format!("shard_by {e:?}"),
            None => format!("key column {}", self.key_column),
        }
    }
}

fn strip_semicolon(query: &str) -> &str {
    query.trim().trim_end_matches(';').trim_end()
}

/// Splits `lo..=hi` into at most `shards` contiguous ranges of (nearly) equal
/// width, in order, covering it exactly; fewer when it holds fewer values.
pub fn split(lo: i64, hi: i64, shards: u32) -> Vec<KeyRange> {
    if hi < lo || shards == 0 {
        return vec![];
    }
    let width = hi as i128 - lo as i128 + 1;
    let n = (shards as i128).min(width);
    (0..n)
        .map(|k| KeyRange {
            lo: (lo as i128 + width * k / n) as i64,
            hi: (lo as i128 + width * (k + 1) / n - 1) as i64,
        })
        .collect()
}

/// Parses a bound the datalake returned as text: an integer, or a number
/// with a zero fraction (`12.0`, SQLite's REAL keys).
pub fn parse_bound(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (int, frac) = t.split_once('.')?;
    if !frac.chars().all(|c| c == '0') {
        return None;
    }
    int.parse().ok()
}

/// Whether a key read from the datalake is an integer the results table's
/// `CAST(row_key AS DECIMAL(38,0))` gives back exactly.
pub fn is_integer_key(key: &str) -> bool {
    let t = key.strip_prefix('-').unwrap_or(key);
    !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_keys_exactly_once_in_order() {
        for (lo, hi, n) in [
            (1, 200_000, 8),
            (-5, 5, 3),
            (7, 7, 4),
            (0, 2, 8),
            (i64::MIN, i64::MAX, 16),
            (10, 1_000_003, 7),
        ] {
            let r = split(lo, hi, n);
            assert!(!r.is_empty() && r.len() <= n as usize);
            assert_eq!(r[0].lo, lo);
            assert_eq!(r.last().unwrap().hi, hi);
            for w in r.windows(2) {
                assert_eq!(w[0].hi as i128 + 1, w[1].lo as i128, "{r:?}");
            }
            assert!(r.iter().all(|k| k.lo <= k.hi), "{r:?}");
            let widths: Vec<i128> = r.iter().map(|k| k.hi as i128 - k.lo as i128 + 1).collect();
            let (min, max) = (widths.iter().min().unwrap(), widths.iter().max().unwrap());
            assert!(max - min <= 1, "nearly equal widths: {widths:?}");
        }
        assert_eq!(split(0, 2, 8).len(), 3, "no empty ranges");
        assert!(split(5, 4, 2).is_empty());
    }

    #[test]
    fn bounds_are_integers_or_nothing() {
        assert_eq!(parse_bound(" 42 "), Some(42));
        assert_eq!(parse_bound("-7"), Some(-7));
        assert_eq!(parse_bound("12.000"), Some(12));
        assert_eq!(parse_bound("12.5"), None);
        assert_eq!(parse_bound("abc"), None);
        assert!(is_integer_key("123") && is_integer_key("-9"));
        assert!(!is_integer_key("1.5") && !is_integer_key("") && !is_integer_key("1e3"));
    }

    #[test]
    fn the_sql_quotes_the_key_and_guards_other_dispatches() {
        let d = Dialect::new("MariaDB", Some('`'));
        let key = ShardKey {
            key_column: "id".into(),
            shard_by: None,
        };
        let r = KeyRange { lo: 1, hi: 10 };
        assert_eq!(
            key.range_query(&d, "SELECT id, x FROM t;", &r),
            "SELECT * FROM (SELECT id, x FROM t) AS mld_shard WHERE `id` >= 1 AND `id` <= 10"
        );
        assert_eq!(
            key.bounds_query(&d, "SELECT id, x FROM t"),
            "SELECT MIN(`id`) AS mld_lo, MAX(`id`) AS mld_hi FROM (SELECT id, x FROM t) AS mld_rows"
        );
        let p = key.results_predicate(&r, "`d`", "`k`", 42);
        assert_eq!(
            p,
            "(CASE WHEN `d` = 42 THEN CAST(`k` AS DECIMAL(38,0)) END) >= 1 AND \
             (CASE WHEN `d` = 42 THEN CAST(`k` AS DECIMAL(38,0)) END) <= 10"
        );
        let by = ShardKey {
            key_column: "name".into(),
            shard_by: Some("length({key})".into()),
        };
        assert!(
            by.range_query(&d, "SELECT name FROM t", &r)
                .ends_with("WHERE (length(`name`)) >= 1 AND (length(`name`)) <= 10")
        );
        assert!(
            by.results_predicate(&r, "`d`", "`k`", 3)
                .starts_with("(CASE WHEN `d` = 3 THEN (length(`k`)) END) >= 1")
        );
    }
}
