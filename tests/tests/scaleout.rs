//! Scale-out end to end: the real `mld` process scores a job in shards, by
//! `mld worker` processes on this machine (`local`) and as an array job on a
//! real one-node Slurm cluster the harness starts (`slurm`), on PostgreSQL
//! and on SQLite through ODBC:
//! - 200k rows in 8 shards give the same results table as the same job in
//!   one shard;
//! - a shard whose worker is killed (SIGKILL, after its commit and before its
//!   report) is retried, and the results hold each row once;
//! - a cancelled dispatch leaves no rows;
//! - a shard failing past its retries fails the dispatch, naming it, and
//!   leaves no rows;
//! - a worker's report ingested twice changes nothing;
//! - the datalake's password is on no command line and in no environment
//!   the workers see, only in the spool's 0600 connection file.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mld_shared::protocol::{DispatchStatus, Request};
use mld_tests::client::Client;
use mld_tests::lake::Backend;
use mld_tests::process::MldProcess;
use mld_tests::scoring::*;
use mld_tests::slurm::SlurmCluster;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exec {
    Local,
    Slurm,
}

const QUERY: &str = "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_big";

/// A daemon configuration with jobs `one` (1 shard) and `eight` (8 shards)
/// on the executor `exec`, over `rows` generated rows, into `scores`.
struct Setup {
    dl: DaemonLake,
    model_version: String,
    labels: Vec<String>,
    config: std::path::PathBuf,
    spool: std::path::PathBuf,
}

fn setup(backend: Backend, exec: Exec, dir: &Path, hint: &str, rows: usize, extra: &str) -> Setup {
    let dl = DaemonLake::new(backend, dir, hint);
    create_big_iris(&dl, rows);
    create_results_table(&dl.lake, "scores");
    let model = iris_model(&registry_dir(dir));
    let spool = dir.join("spool");
    let executor = match exec {
        Exec::Local => format!(
            "[executors.run]\nkind = \"local\"\nworkers = 4\nspool = {:?}\npoll = \"100ms\"\n",
            spool.display().to_string()
        ),
        Exec::Slurm => SlurmCluster::shared().executor_toml("run", &spool),
    };
    let jobs = format!(
        "{}{}",
        job_toml(
            "one",
            "iris",
            QUERY,
            "scores",
            &format!("executor = \"run\"\nshards = 1\nbatch_size = 5000\n{extra}")
        ),
        job_toml(
            "eight",
            "iris",
            QUERY,
            "scores",
            &format!(
                "executor = \"run\"\nshards = 8\nshard_retries = 2\nbatch_size = 2000\n{extra}"
            )
        )
    );
    let config = write_config(dir, &format!("{}\n{executor}", dl.toml), &jobs);
    Setup {
        dl,
        model_version: model.meta().version.to_string(),
        labels: model.labels().to_vec(),
        config,
        spool,
    }
}

fn results_of(s: &Setup, id: i64) -> BTreeMap<String, (String, f64)> {
    let rows = read_results(&s.dl.lake, "scores", &s.labels, &[&s.model_version]);
    let mut out = BTreeMap::new();
    for r in rows.into_iter().filter(|r| r.dispatch_id == id) {
        assert_ne!(r.label, "<unexpected>");
        let dup = out.insert(r.row_key.clone(), (r.label, r.score));
        assert!(dup.is_none(), "row {} written twice", r.row_key);
    }
    out
}

fn steps(d: &mld_shared::protocol::DispatchDetail) -> Vec<String> {
    d.events.iter().map(|e| e.step.clone()).collect()
}

fn shard_notes(d: &mld_shared::protocol::DispatchDetail) -> Vec<String> {
    d.events
        .iter()
        .filter(|e| e.step == "shard")
        .filter_map(|e| e.message.clone())
        .collect()
}

const LIMIT: Duration = Duration::from_secs(600);

async fn same_results_as_one_shard(backend: Backend, exec: Exec) {
    let dir = tempfile::tempdir().unwrap();
    const ROWS: usize = 200_000;
    let s = setup(backend, exec, dir.path(), "so_same", ROWS, "");
    let socket = dir.path().join("mld.sock");
    let daemon = MldProcess::start(&s.config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let one = c.run_job("one").await;
    let d1 = c.wait_finished(one, LIMIT).await;
    assert_eq!(
        d1.summary.status,
        DispatchStatus::Succeeded,
        "{:?}\n{}",
        d1,
        daemon.stderr()
    );
    let eight = c.run_job("eight").await;
    let d8 = c.wait_finished(eight, LIMIT).await;
    assert_eq!(
        d8.summary.status,
        DispatchStatus::Succeeded,
        "{:?}\n{}",
        d8,
        daemon.stderr()
    );
    let s8 = &d8.summary;
    assert_eq!(
        (
            s8.rows_collected,
            s8.rows_predicted,
            s8.rows_stored,
            s8.rows_inserted
        ),
        (ROWS as u64, ROWS as u64, ROWS as u64, ROWS as u64),
        "{s8:?}"
    );
    let notes = shard_notes(&d8);
    assert!(
        notes[0].starts_with("8 shards of key column id from 1 to 200000"),
        "{notes:?}"
    );
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.contains(" done (attempt 1"))
            .count(),
        8,
        "{notes:?}"
    );
    let st = steps(&d8);
    let tail: Vec<&str> = st.iter().rev().take(5).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        ["collected", "predicted", "stored", "inserted", "finished"],
        "{st:?}"
    );
    let r1 = results_of(&s, one.0);
    let r8 = results_of(&s, eight.0);
    assert_eq!(r1.len(), ROWS);
    assert_eq!(r8.len(), ROWS);
    assert!(r1 == r8, "8 shards wrote other results than 1 shard");
    // The event log holds every prediction, as for an in-daemon dispatch.
    assert_eq!(c.all_predictions(eight).await.len(), ROWS);
    // The spool is cleaned up, the password file with it.
    assert!(!s.spool.join(format!("dispatch-{}", eight.0)).exists());
}

async fn killed_worker_is_retried(backend: Backend, exec: Exec) {
    let dir = tempfile::tempdir().unwrap();
    const ROWS: usize = 20_000;
    let s = setup(backend, exec, dir.path(), "so_kill", ROWS, "");
    let socket = dir.path().join("mld.sock");
    // Shard 3's first worker commits its rows, then is SIGKILLed before its report.
    let daemon = MldProcess::start_with_env(
        &s.config,
        &socket,
        &[("MLD_FAULT", "worker.committed.shard-3.attempt-0")],
    );
    let mut c = Client::connect(&socket).await.unwrap();
    let id = c.run_job("eight").await;
    let d = c.wait_finished(id, LIMIT).await;
    assert_eq!(
        d.summary.status,
        DispatchStatus::Succeeded,
        "{d:?}\n{}",
        daemon.stderr()
    );
    assert_eq!(d.summary.rows_inserted, ROWS as u64);
    let notes = shard_notes(&d);
    let retried: Vec<&String> = notes
        .iter()
        .filter(|n| n.contains("submitted again"))
        .collect();
    assert_eq!(retried.len(), 1, "{notes:?}");
    assert!(retried[0].starts_with("shard 3 "), "{notes:?}");
    if exec == Exec::Local {
        assert!(retried[0].contains("killed by signal SIGKILL"), "{notes:?}");
    }
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("shard 3 done (attempt 2")),
        "{notes:?}"
    );
    // Each row exactly once, all of them (the killed attempt had committed its range).
    let r = results_of(&s, id.0);
    assert_eq!(r.len(), ROWS);
    assert_eq!(count_rows(&s.dl.lake, "scores"), ROWS);
}

async fn cancelled_dispatch_leaves_no_rows(backend: Backend, exec: Exec) {
    let dir = tempfile::tempdir().unwrap();
    const ROWS: usize = 200_000;
    let s = setup(backend, exec, dir.path(), "so_cancel", ROWS, "");
    let socket = dir.path().join("mld.sock");
    let daemon = MldProcess::start(&s.config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let id = c.run_job("eight").await;
    // Cancel once the shards are handed out (some may have committed already).
    loop {
        let d = c.dispatch(id).await;
        assert!(
            !d.summary.status.is_finished(),
            "finished before the cancel: {d:?}"
        );
        if shard_notes(&d).iter().any(|n| n.contains("8 shards")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_no_secret_shows(&s, id.0, exec);
    c.request(Request::CancelDispatch { id }).await.unwrap();
    let d = c.wait_finished(id, LIMIT).await;
    assert_eq!(
        d.summary.status,
        DispatchStatus::Cancelled,
        "{d:?}\n{}",
        daemon.stderr()
    );
    assert_eq!(
        count_rows(&s.dl.lake, "scores"),
        0,
        "a cancelled dispatch left rows"
    );
    // No worker of it is left running (other tests' daemons share the
    // cluster: its tasks are the ones working in its spool folder).
    if exec == Exec::Slurm {
        let out = SlurmCluster::shared()
            .command("squeue")
            .args(["-h", "-r", "-o", "%i %T %Z"])
            .output()
            .unwrap();
        let spool = s.spool.join(format!("dispatch-{}", id.0));
        let listed = String::from_utf8_lossy(&out.stdout);
        let left: Vec<&str> = listed
            .lines()
            .filter(|l| l.ends_with(&spool.display().to_string()))
            .collect();
        assert!(left.is_empty(), "tasks left after cancel: {left:?}");
    }
}

/// The password is in the spool's connection file (0600, in a 0700 folder)
/// and on no worker's command line or environment, nor in what Slurm shows.
fn assert_no_secret_shows(s: &Setup, id: i64, exec: Exec) {
    use std::os::unix::fs::PermissionsExt;
    let secret =
        s.dl.secret
            .clone()
            .expect("these datalakes have a password");
    let dir = s.spool.join(format!("dispatch-{id}"));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let conn = dir.join("connection");
    assert_eq!(mode(&conn), 0o600);
    assert!(std::fs::read_to_string(&conn).unwrap().contains(&secret));
    let spec = std::fs::read_to_string(dir.join("spec.json")).unwrap();
    assert!(!spec.contains(&secret), "the spec holds the password");
    let mut workers = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(&format!("dispatch-{id}/spec.json")) {
            continue;
        }
        workers += 1;
        assert!(
            !cmdline.contains(&secret),
            "the password is on a command line: {cmdline}"
        );
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&environ).contains(&secret),
            "the password is in a worker's environment"
        );
    }
    if exec == Exec::Slurm {
        let out = SlurmCluster::shared()
            .command("scontrol")
            .args(["show", "job", "-dd"])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
        let out = SlurmCluster::shared()
            .command("squeue")
            .args(["-h", "-o", "%all"])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
    } else {
        assert!(workers > 0, "no worker process seen");
    }
}

async fn failing_shard_fails_the_dispatch(backend: Backend, exec: Exec) {
    let dir = tempfile::tempdir().unwrap();
    const ROWS: usize = 16_000;
    let s = setup(
        backend,
        exec,
        dir.path(),
        "so_fail",
        ROWS,
        "fail_on_unscorable = true\n",
    );
    // A row of shard 5 (ids 10001..=12000) cannot be scored, every time.
    s.dl.lake
        .execute("UPDATE iris_big SET petal_width = NULL WHERE id = 11000")
        .unwrap();
    let socket = dir.path().join("mld.sock");
    let daemon = MldProcess::start(&s.config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let id = c.run_job("eight").await;
    let d = c.wait_finished(id, LIMIT).await;
    let sm = &d.summary;
    assert_eq!(
        sm.status,
        DispatchStatus::Failed,
        "{d:?}\n{}",
        daemon.stderr()
    );
    let error = sm.error.as_deref().unwrap();
    assert!(
        error.starts_with("shard 5 failed after 3 attempts each: shard 5 (10001..=12000)"),
        "{error}"
    );
    assert!(error.contains("row 11000 cannot be scored"), "{error}");
    assert_eq!(sm.failed_step.as_deref(), Some("shard"));
    assert_eq!(
        count_rows(&s.dl.lake, "scores"),
        0,
        "a failed dispatch left rows"
    );
}

macro_rules! matrix {
    ($($name:ident: $scenario:ident($backend:expr, $exec:expr);)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $scenario($backend, $exec).await;
        }
    )*};
}

matrix! {
    local_8_shards_match_1_on_postgres: same_results_as_one_shard(Backend::PostgresOdbc, Exec::Local);
    local_8_shards_match_1_on_sqlite_odbc: same_results_as_one_shard(Backend::SqliteOdbc, Exec::Local);
    slurm_8_shards_match_1_on_postgres: same_results_as_one_shard(Backend::PostgresOdbc, Exec::Slurm);
    slurm_8_shards_match_1_on_sqlite_odbc: same_results_as_one_shard(Backend::SqliteOdbc, Exec::Slurm);
    local_killed_worker_is_retried_on_postgres: killed_worker_is_retried(Backend::PostgresOdbc, Exec::Local);
    local_killed_worker_is_retried_on_sqlite_odbc: killed_worker_is_retried(Backend::SqliteOdbc, Exec::Local);
    slurm_killed_worker_is_retried_on_postgres: killed_worker_is_retried(Backend::PostgresOdbc, Exec::Slurm);
    slurm_killed_worker_is_retried_on_sqlite_odbc: killed_worker_is_retried(Backend::SqliteOdbc, Exec::Slurm);
    local_cancel_leaves_no_rows_on_postgres: cancelled_dispatch_leaves_no_rows(Backend::PostgresOdbc, Exec::Local);
    local_cancel_leaves_no_rows_on_sqlite_odbc: cancelled_dispatch_leaves_no_rows(Backend::SqliteOdbc, Exec::Local);
    slurm_cancel_leaves_no_rows_on_postgres: cancelled_dispatch_leaves_no_rows(Backend::PostgresOdbc, Exec::Slurm);
    slurm_cancel_leaves_no_rows_on_sqlite_odbc: cancelled_dispatch_leaves_no_rows(Backend::SqliteOdbc, Exec::Slurm);
    local_failing_shard_fails_on_postgres: failing_shard_fails_the_dispatch(Backend::PostgresOdbc, Exec::Local);
    local_failing_shard_fails_on_sqlite_odbc: failing_shard_fails_the_dispatch(Backend::SqliteOdbc, Exec::Local);
    slurm_failing_shard_fails_on_postgres: failing_shard_fails_the_dispatch(Backend::PostgresOdbc, Exec::Slurm);
    slurm_failing_shard_fails_on_sqlite_odbc: failing_shard_fails_the_dispatch(Backend::SqliteOdbc, Exec::Slurm);
}

/// The Slurm harness: a 4-task array of trivial jobs completes, on this cluster.
#[test]
fn the_slurm_harness_runs_an_array_job() {
    let cluster = SlurmCluster::shared();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("job.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"task $SLURM_ARRAY_TASK_ID\"\n").unwrap();
    let out = cluster
        .command("sbatch")
        .args(["--parsable", "--array=0-3", "--wait"])
        .arg(format!("--output={}/out-%a.txt", dir.path().display()))
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    for k in 0..4 {
        let text = std::fs::read_to_string(dir.path().join(format!("out-{k}.txt"))).unwrap();
        assert_eq!(text.trim(), format!("task {k}"));
    }
}
