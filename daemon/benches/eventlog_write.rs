//! The event log's write throughput: rows of predictions stored per second,
//! the way a dispatch stores them (batches of 10 000 rows, each waited for
//! before the next is sent), alone and while the scheduler records a
//! decision every 5 ms, as it does for a per-second job. Also the
//! scheduler's write latency (p50/p99/max) and failed writes under that load.
//!
//! `cargo bench -p mld --bench eventlog_write`
//! - `MLD_BENCH_ROWS=1000000` (default): predictions per run.
//! - `MLD_BENCH_RUNS=3` (default): runs per condition; the best is reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mld::dispatch::record::{NewDispatch, Trigger};
use mld::dispatch::store;
use mld::eventlog::EventLog;
use mld::scheduler::{
    DispatchId, JobName, OperatorState, SchedulerStore, SlotDecision, SlotRecord, StoreBatch,
    StoredJob,
};

const BATCH: usize = 10_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The scheduler's store: on the event log's owner threads (before the
/// single owner it had its own connection to the same file).
fn scheduler_store(log: &EventLog) -> Arc<dyn SchedulerStore> {
    Arc::new(mld::scheduler::EventLogStore::new(log.clone()))
}

struct Run {
    rows_per_s: f64,
    sched_writes: usize,
    sched_failed: usize,
    sched_p50_ms: f64,
    sched_p99_ms: f64,
    sched_max_ms: f64,
}

fn run(rows: usize, with_scheduler: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let log = EventLog::open(&path).unwrap();
    let new = NewDispatch {
        job: "bench".into(),
        trigger: Trigger::Manual,
        requested_by: "bench".into(),
        slot: None,
        model: "m".into(),
        model_version: "1".into(),
        model_hash: "h".into(),
    };
    let id = log
        .write_blocking(move |tx| store::create(tx, &new, Timestamp::now()))
        .unwrap();
    let labels: Vec<Arc<str>> = vec![Arc::from("setosa"), Arc::from("versicolor")];

    let stop = Arc::new(AtomicBool::new(false));
    let scheduler = with_scheduler.then(|| {
        let store = scheduler_store(&log);
        let stop = stop.clone();
        std::thread::spawn(move || {
            let job = JobName("tick".into());
            let mut latencies = Vec::new();
            let mut failed = 0;
            let mut slot = Timestamp::now();
            while !stop.load(Ordering::Relaxed) {
                slot = slot
                    .checked_add(jiff::SignedDuration::from_secs(1))
                    .unwrap();
                let now = Timestamp::now();
                let batch = StoreBatch {
                    jobs: vec![StoredJob {
                        name: job.clone(),
                        state: OperatorState::Active,
                        accounted_until: slot,
                        last_dispatch: None,
                    }],
                    changes: vec![],
                    slots: vec![SlotRecord {
                        job: job.clone(),
                        slot,
                        decision: SlotDecision::SkippedOverlap {
                            running: DispatchId(1),
                        },
                        decided_at: now,
                    }],
                };
                let start = Instant::now();
                if store.apply(batch).is_err() {
                    failed += 1;
                }
                latencies.push(start.elapsed().as_secs_f64() * 1000.0);
                std::thread::sleep(Duration::from_millis(5));
            }
            (latencies, failed)
        })
    });

    let start = Instant::now();
    let mut stored = 0u64;
    let mut i = 0usize;
    while i < rows {
        let n = BATCH.min(rows - i);
        let keys: Vec<String> = (i..i + n).map(|k| format!("row-{k:09}")).collect();
        let ls: Vec<Arc<str>> = (i..i + n).map(|k| labels[k % 2].clone()).collect();
        let scores: Vec<f64> = (i..i + n).map(|k| (k % 1000) as f64 / 1000.0).collect();
        let outcomes = mld::dispatch::record::Outcomes::Classes { labels: ls, scores };
        stored += log
            .write_blocking(move |tx| {
                store::store_batch(tx, id, &keys, &outcomes, &[], Timestamp::now())
            })
            .unwrap();
        i += n;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(stored, rows as u64);
    stop.store(true, Ordering::Relaxed);
    let (mut lat, failed) = scheduler.map(|t| t.join().unwrap()).unwrap_or((vec![], 0));
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * p).round() as usize]
        }
    };
    Run {
        rows_per_s: rows as f64 / secs,
        sched_writes: lat.len(),
        sched_failed: failed,
        sched_p50_ms: pct(0.5),
        sched_p99_ms: pct(0.99),
        sched_max_ms: lat.last().copied().unwrap_or(0.0),
    }
}

fn main() {
    let rows = env("MLD_BENCH_ROWS", 1_000_000);
    let runs = env("MLD_BENCH_RUNS", 3).max(1);
    println!(
        "{:<26} {:>10} {:>12} {:>8} {:>7} {:>9} {:>9} {:>9}",
        "condition", "rows", "rows/s", "sched w", "failed", "p50 ms", "p99 ms", "max ms"
    );
    for (name, with_scheduler) in [
        ("predictions alone", false),
        ("with scheduler writes", true),
    ] {
        let best = (0..runs)
            .map(|_| run(rows, with_scheduler))
            .max_by(|a, b| a.rows_per_s.total_cmp(&b.rows_per_s))
            .unwrap();
        println!(
            "{name:<26} {rows:>10} {:>12.0} {:>8} {:>7} {:>9.2} {:>9.2} {:>9.2}",
            best.rows_per_s,
            best.sched_writes,
            best.sched_failed,
            best.sched_p50_ms,
            best.sched_p99_ms,
            best.sched_max_ms
        );
    }
}
