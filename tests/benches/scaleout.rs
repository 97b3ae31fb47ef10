//! Scale-out on this machine: one job's rows (1M by default: the floor
//! input `rows_in`, 8 features, on PostgreSQL through psqlODBC) scored with
//! the tuned Python pipeline's model (scikit-learn MinMaxScaler +
//! LogisticRegression, its skl2onnx export imported into mld) by the real
//! release `mld` in one run, four ways: in the daemon (the baseline), by 2
//! local worker processes, and as a Slurm array job of 2 and of 8 shards on
//! a one-node cluster the harness starts. Each time is from `mldctl run` to
//! `finished` (the daemon's own timestamps), the results table emptied
//! before each. Also the fixed cost of a Slurm dispatch: from its
//! submission to the first row a worker read (the `shard … done` events
//! say it per shard), and a whole Slurm dispatch of 2 rows.
//!
//! Against the best external way to shard this today: the tuned Python
//! pipeline (tests/benches/python/tuned_pipeline.py: arrow-odbc reads,
//! scikit-learn `predict_proba` per batch, arrow-odbc bulk insert in one
//! transaction, the same pickled model) run as 1, and as 2 parallel
//! processes each on half the key range, on this machine; and as a Slurm
//! array job of 2 and of 8 tasks (`sbatch --array`, followed with `squeue`
//! every 100 ms like mld's executor). Its times are from starting the
//! processes (or `sbatch`) to the last one's exit: the Python imports are
//! in them, as a worker's start is in mld's.
//!
//! `cargo build --release -p mld && cargo bench -p mld-tests --bench scaleout`
//! (`MLD_BENCH_ROWS=1000000` sets the size; take `flock /work/bench.lock`).

use std::path::Path;
use std::time::{Duration, Instant};

use mld_shared::protocol::{DispatchDetail, DispatchStatus};
use mld_tests::bench::{python_model, python_score_command, python_script};
use mld_tests::client::Client;
use mld_tests::floor;
use mld_tests::lake::Backend;
use mld_tests::process::MldProcess;
use mld_tests::scoring::*;
use mld_tests::slurm::SlurmCluster;

const MODEL: &str = "tuned";
const BATCH: usize = 10_000;

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

/// The Python pipeline's inputs: the model folder, the connection string
/// and password (given through the environment, never the command line).
struct Python<'a> {
    models: &'a Path,
    connection: &'a str,
    password: Option<&'a str>,
}

impl Python<'_> {
    /// `floor::input_query()` limited to `lo..=hi` of the key.
    fn input(lo: usize, hi: usize) -> (String, Vec<String>) {
        (
            format!("{} WHERE id BETWEEN {lo} AND {hi}", floor::input_query()),
            floor::feature_names(),
        )
    }

    /// `n` processes side by side, process k on the k-th of `n` equal key
    /// ranges of `0..rows`: seconds from their start to the last exit.
    fn local(&self, rows: usize, n: usize) -> f64 {
        let width = rows.div_ceil(n);
        let start = Instant::now();
        let children: Vec<_> = (0..n)
            .map(|k| {
                let input = Self::input(k * width, ((k + 1) * width).min(rows) - 1);
                python_score_command(
                    self.models,
                    self.connection,
                    self.password,
                    &input,
                    "scores",
                    BATCH,
                    100 + k as i64,
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("python3")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "tuned_pipeline.py failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        start.elapsed().as_secs_f64()
    }

    /// The same as a Slurm array job of `n` tasks: seconds from `sbatch` to
    /// the last task gone from `squeue` (looked at every 100 ms).
    fn slurm(&self, cluster: &SlurmCluster, dir: &Path, rows: usize, n: usize) -> f64 {
        let width = rows.div_ceil(n);
        let features = floor::feature_names().join(",");
        let script = dir.join(format!("python-{n}.sh"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh
k=$SLURM_ARRAY_TASK_ID
lo=$((k * {width}))
hi=$((lo + {width} - 1))
                 exec python3 {py} score --model {model} --query \"{query} WHERE id BETWEEN $lo AND $hi\" \
                 --key id --features {features} --table scores --dispatch-id $((100 + k)) --batch-size {BATCH}\n",
                py = python_script().display(),
                model = self.models.join("model.pkl").display(),
                query = floor::input_query(),
            ),
        )
        .unwrap();
        let mut cmd = cluster.command("sbatch");
        cmd.env("MLD_PY_CONNECTION", self.connection)
            .env_remove("MLD_PY_PASSWORD");
        if let Some(pw) = self.password {
            cmd.env("MLD_PY_PASSWORD", pw);
        }
        let start = Instant::now();
        let out = cmd
            .arg("--parsable")
            .arg(format!("--array=0-{}", n - 1))
            .arg(format!("--output={}/python-{n}-%a.out", dir.display()))
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "sbatch: {out:?}");
        let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
        loop {
            let q = cluster
                .command("squeue")
                .args(["-h", "-r", "-j", &job, "-o", "%i"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let t = start.elapsed().as_secs_f64();
        for k in 0..n {
            let out = std::fs::read_to_string(dir.join(format!("python-{n}-{k}.out"))).unwrap();
            assert!(out.contains("\"rows\""), "task {k}: {out}");
        }
        t
    }
}

fn main() {
    let rows: usize = std::env::var("MLD_BENCH_ROWS")
        .ok()
        .and_then(|v| v.split(',').next_back().and_then(|n| n.trim().parse().ok()))
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let cluster = SlurmCluster::shared();
    let dl = DaemonLake::new(Backend::PostgresOdbc, dir.path(), "bench_scaleout");
    floor::create_input(&dl.lake, Backend::PostgresOdbc, rows);
    create_results_table(&dl.lake, "scores");
    let models = dir.path().join("python");
    python_model(&models, &registry_dir(dir.path()), MODEL);
    let connection = mld_tests::pg::PgServer::shared()
        .odbc_connection(dl.pg_database.as_deref().expect("a PostgreSQL database"));
    let python = Python {
        models: &models,
        connection: &connection,
        password: dl.secret.as_deref(),
    };
    let query = floor::input_query();
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
            MODEL,
            query,
            "scores",
            &format!("batch_size = {BATCH}\n{extra}"),
        )
    };
    let jobs = [
        job("in_daemon", &query, ""),
        job("local_2", &query, "executor = \"here\"\nshards = 2\n"),
        job("slurm_2", &query, "executor = \"cluster\"\nshards = 2\n"),
        job("slurm_8", &query, "executor = \"cluster\"\nshards = 8\n"),
        job(
            "slurm_tiny",
            &format!("{query} WHERE id <= 2"),
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
    drop(daemon);
    let mut external = Vec::new();
    for (name, n, on_slurm) in [
        ("python_1", 1, false),
        ("python_2", 2, false),
        ("py_slurm_2", 2, true),
        ("py_slurm_8", 8, true),
    ] {
        dl.lake.execute("TRUNCATE scores").unwrap();
        let t = if on_slurm {
            python.slurm(cluster, dir.path(), rows, n)
        } else {
            python.local(rows, n)
        };
        assert_eq!(count_rows(&dl.lake, "scores"), rows, "{name}");
        println!("{name:>10}: {t:8.2} s  {rows} rows");
        external.push((name, t));
    }
    let base = results[0].1;
    println!("\nratios to the in-daemon dispatch (time / baseline; < 1 is faster):");
    for (name, t) in results[1..4].iter().chain(&external) {
        println!("{name:>10}: {:.2}x", t / base);
    }
    println!("\nmld against the Python pipeline sharded the same way (Python time / mld time):");
    for (m, p) in [(0, 0), (1, 1), (2, 2), (3, 3)] {
        let (mn, mt) = results[m];
        let (pn, pt) = external[p];
        println!("{mn:>10} vs {pn:<10}: mld {:.2}x faster", pt / mt);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load after: {}", load.trim());
}
