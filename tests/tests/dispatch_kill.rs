//! The daemon PROCESS killed with SIGKILL from outside, at a moment the test
//! picks, during a large dispatch's write-back (its `stored` event exists):
//! the results table holds none of its rows, and after a restart the
//! dispatch is settled — its rows counted in the results table, and written
//! again from the stored predictions under the same id — so it `succeeded`
//! with exactly one row per key. (The crash matrix kills at every step
//! boundary through the daemon's fault points.)

use std::collections::BTreeSet;
use std::time::Duration;

use mld_shared::protocol::DispatchStatus;
use mld_tests::client::Client;
use mld_tests::lake::Backend;
use mld_tests::process::MldProcess;
use mld_tests::scoring::*;

const ROWS: usize = 200_000;

/// Attempts at catching the write-back between its `stored` event and its
/// commit: on a fast datalake the window is short, and a dispatch that
/// finished before the test saw `stored` is set up again from scratch.
const ATTEMPTS: usize = 6;

async fn killed_during_write_back(backend: Backend) {
    for attempt in 0..ATTEMPTS {
        if killed_during_write_back_once(backend, attempt).await {
            return;
        }
    }
    panic!("{backend:?}: in {ATTEMPTS} attempts, every dispatch finished before the kill");
}

/// False when the dispatch finished before it could be killed after `stored`.
async fn killed_during_write_back_once(backend: Backend, attempt: usize) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let BigIrisJob { dl, model, config } = BigIrisJob::new(
        backend,
        dir.path(),
        &format!("kill{attempt}"),
        ROWS,
        "batch_size = 2000",
    );
    let socket = dir.path().join("mld.sock");

    let mut first = MldProcess::start(&config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let id = c.run_job("score").await;
    loop {
        let d = c.dispatch(id).await;
        if d.summary.status.is_finished() {
            eprintln!(
                "{backend:?}, attempt {attempt}: finished before the kill ({:?}); again",
                d.summary.status
            );
            return false;
        }
        if d.events.iter().any(|e| e.step == "stored") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.signal(nix::sys::signal::Signal::SIGKILL);
    first.wait(Duration::from_secs(10));
    drop(c);
    // Killed once every row was stored: the write-back (which overlaps the
    // reading) had either not committed — nothing in the results table — or
    // had, whole. Never part of it.
    let left = count_rows(&dl.lake, "scores");
    assert!(
        left == 0 || left == ROWS,
        "{backend:?}: the killed write-back left {left} of {ROWS} rows"
    );

    let _second = MldProcess::start(&config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let d = c.wait_finished(id, Duration::from_secs(300)).await;
    let s = &d.summary;
    assert_eq!(s.status, DispatchStatus::Succeeded, "{backend:?}: {s:?}");
    assert_eq!(
        (
            s.rows_collected,
            s.rows_predicted,
            s.rows_stored,
            s.rows_inserted
        ),
        (ROWS as u64, ROWS as u64, ROWS as u64, ROWS as u64),
        "{s:?}"
    );
    let steps: Vec<&str> = d.events.iter().map(|e| e.step.as_str()).collect();
    let settled = [
        "created",
        "started",
        "collected",
        "predicted",
        "stored",
        "resumed",
        "inserted",
        "finished",
    ];
    if left == 0 {
        // Not committed: settled at restart by writing it again.
        assert_eq!(steps, settled, "{backend:?}");
        let inserted = d.events[6].message.as_deref().unwrap();
        assert!(
            inserted.contains("settled at restart: written again")
                && inserted.contains("the results table held 0"),
            "{inserted}"
        );
    } else if steps.contains(&"resumed") {
        // Committed, but the daemon died before recording its end (its
        // `inserted` may be recorded): found whole at restart.
        assert_eq!(&steps[..5], &settled[..5], "{backend:?}");
        assert_eq!(&steps[steps.len() - 3..], &settled[5..], "{backend:?}");
        let inserted = d.events[d.events.len() - 2].message.as_deref().unwrap();
        assert!(
            inserted.contains("settled at restart: the results table already holds all"),
            "{inserted}"
        );
    } else {
        // It had recorded its end just before the kill: nothing to settle.
        assert_eq!(steps.last(), Some(&"finished"), "{backend:?}: {steps:?}");
    }
    // Exactly one row per key, all of this dispatch.
    let version = model.meta().version.to_string();
    let rows = read_results(&dl.lake, "scores", model.labels(), &[&version]);
    assert_eq!(rows.len(), ROWS, "{backend:?}");
    assert!(rows.iter().all(|r| r.dispatch_id == id.0));
    let keys: BTreeSet<&str> = rows.iter().map(|r| r.row_key.as_str()).collect();
    assert_eq!(keys.len(), ROWS, "no duplicates");
    assert!(rows.iter().all(|r| r.label != "<unexpected>"));
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_write_back_on_builtin_sqlite() {
    killed_during_write_back(Backend::BuiltinSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_write_back_on_postgres_odbc() {
    killed_during_write_back(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_write_back_on_mariadb_odbc() {
    killed_during_write_back(Backend::MariaDbOdbc).await;
}

/// Killed while still reading: the record keeps the counts of every batch
/// that was stored, and says nothing reached the results table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_collecting_keeps_what_it_had_done() {
    let dir = tempfile::tempdir().unwrap();
    let BigIrisJob { dl, config, .. } = BigIrisJob::new(
        Backend::BuiltinSqlite,
        dir.path(),
        "kill_collect",
        ROWS,
        "batch_size = 1000",
    );
    let socket = dir.path().join("mld.sock");
    let mut first = MldProcess::start(&config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let id = c.run_job("score").await;
    loop {
        let d = c.dispatch(id).await;
        assert!(
            !d.events.iter().any(|e| e.step == "collected"),
            "collection ended before the kill"
        );
        if d.summary.rows_stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.signal(nix::sys::signal::Signal::SIGKILL);
    first.wait(Duration::from_secs(10));
    drop(c);

    let _second = MldProcess::start(&config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let d = c.dispatch(id).await;
    let s = &d.summary;
    assert_eq!(s.status, DispatchStatus::Interrupted, "{s:?}");
    assert!(s.rows_stored > 0 && s.rows_stored < ROWS as u64, "{s:?}");
    assert_eq!(
        (s.rows_collected, s.rows_predicted, s.rows_inserted),
        (s.rows_stored, s.rows_stored, 0),
        "the counts of the stored batches: {s:?}"
    );
    let error = s.error.as_deref().unwrap();
    assert!(
        error.contains("last completed step was started")
            && error.contains("nothing was written to the results table"),
        "{error}"
    );
    assert_eq!(count_rows(&dl.lake, "scores"), 0);
}
