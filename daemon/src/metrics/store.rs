//! What the metrics are seeded with at start: one read of the `dispatches`
//! table, run on the event log's reader thread. Never read per scrape.

use super::{DURATION_BUCKETS, FINAL_STATUSES};
use mld_shared::ids::DispatchId;
use rusqlite::Connection;
use std::collections::BTreeMap;

/// One job's history as the event log holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobSeed {
    /// Finished dispatches by final status, in [`FINAL_STATUSES`] order.
    pub ended: [u64; FINAL_STATUSES.len()],
    pub rows_scored: u64,
    pub rows_unscorable: u64,
    /// Finished dispatches that had started: how many fall in each of
    /// [`DURATION_BUCKETS`] (not cumulative; the last is above them all),
    /// and the sum of their durations in seconds.
    pub duration_buckets: Vec<u64>,
    pub duration_sum: f64,
    /// When its last successful dispatch finished, in ms since the epoch.
    pub last_success_ms: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Seed {
    pub jobs: BTreeMap<String, JobSeed>,
    /// Dispatches not finished (`created` or `running`): what a daemon that
    /// died left, about to be settled.
    pub open: Vec<(DispatchId, String)>,
}

fn final_list() -> String {
    FINAL_STATUSES
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn seed(c: &Connection) -> rusqlite::Result<Seed> {
    let mut out = Seed::default();
    let finals = final_list();
    {
        let mut s = c.prepare(&format!(
            "SELECT job, status, count(*), coalesce(sum(rows_predicted), 0), coalesce(sum(rows_unscorable), 0),
                    max(CASE WHEN status = 'succeeded' THEN finished_at END)
             FROM dispatches WHERE dry_run = 0 AND status IN ({finals}) GROUP BY job, status"
        ))?;
        let mut rows = s.query([])?;
        while let Some(r) = rows.next()? {
            let job: String = r.get(0)?;
            let status: String = r.get(1)?;
            let seed = out.jobs.entry(job).or_default();
            if let Some(i) = FINAL_STATUSES.iter().position(|s| s.as_str() == status) {
                seed.ended[i] += r.get::<_, i64>(2)?.max(0) as u64;
            }
            seed.rows_scored += r.get::<_, i64>(3)?.max(0) as u64;
            seed.rows_unscorable += r.get::<_, i64>(4)?.max(0) as u64;
            if let Some(at) = r.get::<_, Option<i64>>(5)? {
                seed.last_success_ms = Some(seed.last_success_ms.map_or(at, |m| m.max(at)));
            }
        }
    }
    {
        // Each bucket's cumulative count in SQL, then per bucket here.
        let le: Vec<String> = DURATION_BUCKETS
            .iter()
            .map(|b| format!("coalesce(sum(d <= {b:?}), 0)"))
            .collect();
        let mut s = c.prepare(&format!(
            "SELECT job, count(*), coalesce(sum(d), 0.0), {}
             FROM (SELECT job, max(finished_at - started_at, 0) / 1000.0 AS d FROM dispatches
                   WHERE dry_run = 0 AND status IN ({finals})
                   AND started_at IS NOT NULL AND finished_at IS NOT NULL)
             GROUP BY job",
            le.join(", ")
        ))?;
        let mut rows = s.query([])?;
        while let Some(r) = rows.next()? {
            let job: String = r.get(0)?;
            let count = r.get::<_, i64>(1)?.max(0) as u64;
            let seed = out.jobs.entry(job).or_default();
            seed.duration_sum = r.get(2)?;
            let mut below = 0;
            let mut buckets = Vec::with_capacity(DURATION_BUCKETS.len() + 1);
            for i in 0..DURATION_BUCKETS.len() {
                let cumulative = r.get::<_, i64>(3 + i)?.max(0) as u64;
                buckets.push(cumulative.saturating_sub(below));
                below = cumulative;
            }
            buckets.push(count.saturating_sub(below));
            seed.duration_buckets = buckets;
        }
    }
    {
        let mut s = c.prepare(
            "SELECT id, job FROM dispatches WHERE dry_run = 0 AND status IN ('created', 'running')",
        )?;
        out.open = s
            .query_map([], |r| Ok((DispatchId(r.get(0)?), r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(out)
}
