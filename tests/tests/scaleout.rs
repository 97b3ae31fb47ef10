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
//! - a Slurm task cancelled from outside the daemon (`scancel`) is failed
//!   and its shard retried; after mld's own cancel its shards are cancelled;
//! - a task the controller forgot is found in the job-completion log;
//! - a daemon killed (SIGKILL) mid-dispatch leaves, after its restart, no
//!   task running, no rows, no password in the spool, and says so; a retry
//!   then runs only the shard that was not done;
//! - a failed dispatch's retry runs only its failed shard;
//! - a worker's report ingested twice changes nothing;
//! - the datalake's password is on no command line and in no environment
//!   the workers see, only in the spool's 0600 connection file.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mld_shared::ids::DispatchId;
use mld_shared::protocol::{DispatchStatus, Request, Response, ShardInfo};
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

async fn shards(c: &mut Client, id: DispatchId) -> Vec<ShardInfo> {
    match c.request(Request::DispatchShards { id }).await.unwrap() {
        Response::Shards(s) => s,
        other => panic!("DispatchShards answered {other:?}"),
    }
}

/// Waits (two minutes at most) until the shards satisfy `ready`.
async fn wait_shards(
    c: &mut Client,
    id: DispatchId,
    what: &str,
    ready: impl Fn(&[ShardInfo]) -> bool,
) -> Vec<ShardInfo> {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let s = shards(c, id).await;
        if ready(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited two minutes for {what}: {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a Slurm task (`JOB_TASK`) is still queued or running.
fn slurm_task_active(task: &str) -> bool {
    let out = SlurmCluster::shared()
        .command("squeue")
        .args(["-h", "-r", "-o", "%i"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == task)
}

/// Processes whose command line names the dispatch's spec (its workers).
fn worker_processes(spool: &Path, id: i64) -> Vec<String> {
    let spec = spool.join(format!("dispatch-{id}/spec.json"));
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&spec.display().to_string()))
        .collect()
}

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
    // Cancelled by mld: the shards not done are `cancelled`, not failed.
    let after = shards(&mut c, id).await;
    assert!(
        after
            .iter()
            .all(|s| s.state == "done" || s.state == "cancelled"),
        "{after:#?}"
    );
    assert!(after.iter().any(|s| s.state == "cancelled"), "{after:#?}");
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
    let before = shards(&mut c, id).await;
    assert_eq!(before[5].state, "failed", "{before:#?}");
    assert_eq!(before[5].attempt, 2);
    assert_eq!(
        before.iter().filter(|s| s.state == "done").count(),
        7,
        "{before:#?}"
    );

    // The row is fixed; a retry runs shard 5 alone, the others' predictions kept.
    s.dl.lake
        .execute("UPDATE iris_big SET petal_width = 1.5 WHERE id = 11000")
        .unwrap();
    let answer = c.request(Request::RetryDispatch { id }).await.unwrap();
    assert!(matches!(answer, Response::Retrying { .. }), "{answer:?}");
    let d = c.wait_finished(id, LIMIT).await;
    assert_eq!(
        d.summary.status,
        DispatchStatus::Succeeded,
        "{d:?}\n{}",
        daemon.stderr()
    );
    assert_eq!(d.summary.rows_inserted, ROWS as u64);
    let notes = shard_notes(&d);
    assert!(
        notes.iter().any(|n| n.starts_with(
            "retry: shard 5 run again on executor run (2 retries each); the other 7 shards' 14000 predictions are kept"
        )),
        "{notes:?}"
    );
    let after = shards(&mut c, id).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.state, "done", "{after:#?}");
        if b.shard == 5 {
            assert_eq!(a.attempt, 3, "shard 5 runs its 4th attempt");
        } else {
            assert_eq!(
                (a.attempt, &a.task),
                (b.attempt, &b.task),
                "shard {} ran again",
                b.shard
            );
        }
    }
    assert!(
        d.events.iter().any(|e| e.step == "inserted"
            && e.message
                .as_deref()
                .unwrap_or("")
                .contains("written again from the 16000 stored predictions")),
        "{:?}",
        d.events
    );
    let r = results_of(&s, id.0);
    assert_eq!(r.len(), ROWS);
    assert_eq!(count_rows(&s.dl.lake, "scores"), ROWS);
}

/// A Slurm task cancelled from outside the daemon (an admin's `scancel`)
/// ends without a report: its shard is failed and submitted again, and the
/// dispatch succeeds with each row once.
async fn task_cancelled_outside_is_retried(backend: Backend, _exec: Exec) {
    let dir = tempfile::tempdir().unwrap();
    const ROWS: usize = 20_000;
    let s = setup(backend, Exec::Slurm, dir.path(), "so_outside", ROWS, "");
    let socket = dir.path().join("mld.sock");
    // Shard 2's first worker stops after its first batch, until cancelled.
    let daemon = MldProcess::start_with_env(
        &s.config,
        &socket,
        &[("MLD_FAULT", "pause:worker.batch.shard-2.attempt-0")],
    );
    let mut c = Client::connect(&socket).await.unwrap();
    let id = c.run_job("eight").await;
    let running = wait_shards(&mut c, id, "shard 2 running", |v| {
        v.get(2).is_some_and(|s| s.state == "running")
    })
    .await;
    let task = running[2].task.clone().unwrap();
    let out = SlurmCluster::shared()
        .command("scancel")
        .arg(&task)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let d = c.wait_finished(id, LIMIT).await;
    assert_eq!(
        d.summary.status,
        DispatchStatus::Succeeded,
        "{d:?}\n{}",
        daemon.stderr()
    );
    let notes = shard_notes(&d);
    let retried: Vec<&String> = notes
        .iter()
        .filter(|n| n.contains("submitted again"))
        .collect();
    assert_eq!(retried.len(), 1, "{notes:?}");
    assert!(
        retried[0].starts_with(
            "shard 2 (5001..=7500) attempt 1 its task ended without a report: cancelled"
        ),
        "{notes:?}"
    );
    let after = shards(&mut c, id).await;
    assert_eq!((after[2].state.as_str(), after[2].attempt), ("done", 1));
    let r = results_of(&s, id.0);
    assert_eq!(r.len(), ROWS);
    assert_eq!(count_rows(&s.dl.lake, "scores"), ROWS);
}

/// The daemon process is SIGKILLed while shard 2's worker hangs and the
/// other shards are done (their rows committed). At its restart the
/// dispatch is `interrupted`, its task stopped (Slurm: `scancel`ed by the
/// restarted daemon; local: died with the daemon), its rows removed, the
/// spool's connection file gone, and an event says what happened. A retry
/// then runs only shard 2.
async fn daemon_killed_mid_dispatch(backend: Backend, exec: Exec) {
    let dir = tempfile::tempdir().unwrap();
    const ROWS: usize = 20_000;
    let s = setup(backend, exec, dir.path(), "so_restart", ROWS, "");
    let socket = dir.path().join("mld.sock");
    let mut first = MldProcess::start_with_env(
        &s.config,
        &socket,
        &[("MLD_FAULT", "pause:worker.batch.shard-2.attempt-0")],
    );
    let mut c = Client::connect(&socket).await.unwrap();
    let id = c.run_job("eight").await;
    let before = wait_shards(&mut c, id, "shard 2 running, the others done", |v| {
        v.len() == 8
            && v.iter().all(|s| {
                (s.shard == 2) == (s.state == "running") && (s.shard == 2 || s.state == "done")
            })
    })
    .await;
    assert_eq!(
        count_rows(&s.dl.lake, "scores"),
        ROWS - 2500,
        "the done shards committed"
    );
    let task = before[2].task.clone().unwrap();
    drop(c);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    if exec == Exec::Slurm {
        assert!(
            slurm_task_active(&task),
            "the hung task outlives the daemon"
        );
    }

    let second = MldProcess::start(&s.config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut d = c.dispatch(id).await;
    while !d.summary.status.is_finished() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        d = c.dispatch(id).await;
    }
    assert_eq!(
        d.summary.status,
        DispatchStatus::Interrupted,
        "{d:?}\n{}",
        second.stderr()
    );
    assert_eq!(
        count_rows(&s.dl.lake, "scores"),
        0,
        "rows left after the restart"
    );
    match exec {
        Exec::Slurm => assert!(
            !slurm_task_active(&task),
            "task {task} still queued or running"
        ),
        Exec::Local => {
            let left = worker_processes(&s.spool, id.0);
            assert!(left.is_empty(), "workers left: {left:?}");
        }
    }
    let folder = s.spool.join(format!("dispatch-{}", id.0));
    assert!(
        !folder.join("connection").exists(),
        "the password file stayed"
    );
    let notes = shard_notes(&d);
    let said = notes.last().unwrap();
    assert!(
        said.starts_with("the daemon stopped while 1 of its 8 shards were not in: "),
        "{notes:?}"
    );
    assert!(
        said.contains("its rows were removed from the results table"),
        "{said}"
    );
    assert!(
        said.contains(match exec {
            Exec::Slurm => "were cancelled (scancel)",
            Exec::Local => "its local workers died with the daemon",
        }),
        "{said}"
    );
    let after = shards(&mut c, id).await;
    assert_eq!(after[2].state, "cancelled", "{after:#?}");
    assert_eq!(after.iter().filter(|s| s.state == "done").count(), 7);

    let answer = c.request(Request::RetryDispatch { id }).await.unwrap();
    assert!(matches!(answer, Response::Retrying { .. }), "{answer:?}");
    let d = c.wait_finished(id, LIMIT).await;
    assert_eq!(
        d.summary.status,
        DispatchStatus::Succeeded,
        "{d:?}\n{}",
        second.stderr()
    );
    let notes = shard_notes(&d);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("retry: shard 2 run again")),
        "{notes:?}"
    );
    let r = results_of(&s, id.0);
    assert_eq!(r.len(), ROWS);
    assert_eq!(count_rows(&s.dl.lake, "scores"), ROWS);
    assert!(
        !folder.exists(),
        "the spool stayed after the retry succeeded"
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
    slurm_task_cancelled_outside_is_retried_on_postgres: task_cancelled_outside_is_retried(Backend::PostgresOdbc, Exec::Slurm);
    slurm_daemon_killed_mid_dispatch_settles_on_postgres: daemon_killed_mid_dispatch(Backend::PostgresOdbc, Exec::Slurm);
    local_daemon_killed_mid_dispatch_settles_on_postgres: daemon_killed_mid_dispatch(Backend::PostgresOdbc, Exec::Local);
    slurm_daemon_killed_mid_dispatch_settles_on_sqlite_odbc: daemon_killed_mid_dispatch(Backend::SqliteOdbc, Exec::Slurm);
}

/// A task the controller no longer knows (`MinJobAge` passed: `squeue` and
/// `scontrol` answer "Invalid job id") is found in the job-completion log,
/// with how it ended, not taken for a task that vanished.
#[test]
fn a_task_the_controller_forgot_is_found_in_the_completion_log() {
    use mld::scaleout::executor::{self, TaskState};
    use mld::scaleout::spool::DispatchSpool;
    let cluster = SlurmCluster::start_with_min_job_age(2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spool = DispatchSpool::new(dir.path(), DispatchId(1));
    std::fs::create_dir_all(&spool.dir).unwrap();
    let cfg: mld_shared::config::ExecutorConfig = serde_json::from_value(serde_json::json!({
        "kind": "slurm",
        "partition": mld_tests::slurm::PARTITION,
        "spool": dir.path(),
        "slurm_conf": cluster.conf(),
        "mld": mld_tests::process::bin("mld"),
        "poll": "200ms",
    }))
    .unwrap();
    let mut exec = executor::open(&cfg, spool, 1, Vec::new());
    // There is no spec in the spool: each worker exits 2 without a report.
    let named = exec.submit(&[(0, 0), (1, 0)]).unwrap();
    let job = named[0].1.split('_').next().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let out = cluster
            .command("scontrol")
            .args(["-o", "show", "job", &job])
            .output()
            .unwrap();
        if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Invalid job id")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the controller still knows job {job}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let log = std::fs::read_to_string(cluster.jobcomp_log()).unwrap();
    assert!(log.contains(&format!("ArrayJobId={job}")), "{log}");
    let states = exec.poll().unwrap();
    for k in 0..2 {
        assert_eq!(
            states[&(k, 0)],
            TaskState::Ended {
                ok: false,
                how: "failed (exit code 2:0)".into()
            },
            "task {k}: {states:?}"
        );
    }
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
