//! Scale-out on this machine: one job's rows (1M by default, iris-like, 4
//! features, on PostgreSQL through psqlODBC) scored by the real release
//! `mld` in one run, four ways: in the daemon (the baseline), by 2 local
//! worker processes, and as a Slurm array job of 2 and of 8 shards on a
//! one-node cluster the harness starts. Each time is from `mldctl run` to
//! `finished` (the daemon's own timestamps), the results table emptied
//! before each. Also the fixed cost of a Slurm dispatch: from its
//! submission to the first row a worker read (the `shard … done` events
//! say it per shard), and a whole Slurm dispatch of 2 rows.
//!
//! `cargo build --release -p mld && cargo bench -p mld-tests --bench scaleout`
//! (`MLD_BENCH_ROWS=1000000` sets the size; take `flock /work/bench.lock`).

use std::time::Duration;

use mld_shared::protocol::{DispatchDetail, DispatchStatus};
use mld_tests::client::Client;
use mld_tests::lake::Backend;
use mld_tests::process::MldProcess;
use mld_tests::scoring::*;
use mld_tests::slurm::SlurmCluster;

const QUERY: &str = "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_big";

fn seconds(d: &DispatchDetail) -> f64 {
    let s = &d.summary;
    let (Some(start), Some(end)) = (s.started_at, s.finished_at) else {
        panic!("no start or end: {s:?}");
    };
    (end.0 - start.0) as f64 / 1000.0
}

/// The smallest "first rows read N s after submission" of the shard events.
fn first_read(d: &DispatchDetail) -> Option<f64> {
    d.events
        .iter()
        .filter_map(|e| e.message.as_deref())
        .filter_map(|m| {
            let (_, rest) = m.split_once("first rows read ")?;
            rest.split(' ').next()?.parse::<f64>().ok()
        })
        .min_by(|a, b| a.total_cmp(b))
}

fn main() {
    let rows: usize = std::env::var("MLD_BENCH_ROWS")
        .ok()
        .and_then(|v| v.split(',').next_back().and_then(|n| n.trim().parse().ok()))
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let cluster = SlurmCluster::shared();
    let dl = DaemonLake::new(Backend::PostgresOdbc, dir.path(), "bench_scaleout");
    create_big_iris(&dl, rows);
    create_results_table(&dl.lake, "scores");
    iris_model(&registry_dir(dir.path()));
    let spool = dir.path().join("spool");
    let executors = format!(
        "[executors.here]\nkind = \"local\"\nworkers = 2\nspool = {:?}\npoll = \"100ms\"\n\n{}",
        spool.display().to_string(),
        cluster
            .executor_toml("cluster", &spool)
            .replace("200ms", "100ms")
    );
    let job = |name: &str, query: &str, extra: &str| {
        job_toml(
            name,
            "iris",
            query,
            "scores",
            &format!("batch_size = 10000\n{extra}"),
        )
    };
    let jobs = [
        job("in_daemon", QUERY, ""),
        job("local_2", QUERY, "executor = \"here\"\nshards = 2\n"),
        job("slurm_2", QUERY, "executor = \"cluster\"\nshards = 2\n"),
        job("slurm_8", QUERY, "executor = \"cluster\"\nshards = 8\n"),
        job(
            "slurm_tiny",
            &format!("{QUERY} WHERE id <= 2"),
            "executor = \"cluster\"\nshards = 2\n",
        ),
    ]
    .concat();
    let config = write_config(dir.path(), &format!("{}\n{executors}", dl.toml), &jobs);
    let socket = dir.path().join("mld.sock");
    let daemon = MldProcess::start(&config, &socket);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "scale-out, {rows} rows on PostgreSQL; load before: {}",
        load.trim()
    );
    let results = runtime.block_on(async {
        let mut c = Client::connect(&socket).await.unwrap();
        let mut out = Vec::new();
        for name in ["in_daemon", "local_2", "slurm_2", "slurm_8", "slurm_tiny"] {
            dl.lake.execute("TRUNCATE scores").unwrap();
            let id = c.run_job(name).await;
            let d = c.wait_finished(id, Duration::from_secs(3600)).await;
            assert_eq!(
                d.summary.status,
                DispatchStatus::Succeeded,
                "{name}: {:?}\n{}",
                d.summary,
                daemon.stderr()
            );
            let t = seconds(&d);
            println!(
                "{name:>10}: {t:8.2} s  {} rows{}",
                d.summary.rows_inserted,
                first_read(&d)
                    .map(|f| format!("  (first rows read {f:.2} s after submission)"))
                    .unwrap_or_default()
            );
            out.push((name, t));
        }
        out
    });
    let base = results[0].1;
    println!("\nratios to the in-daemon dispatch (time / baseline):");
    for (name, t) in &results[1..4] {
        println!("{name:>10}: {:.2}x  ({:.2}x faster)", t / base, base / t);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load after: {}", load.trim());
}
