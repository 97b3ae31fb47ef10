//! The daemon PROCESS killed with SIGKILL during a dispatch's write-back
//! (its `stored` event exists): after a restart the dispatch is
//! `interrupted` with what it had done, the results table holds none of its
//! rows, and running the job again writes exactly one row per key.

use std::collections::BTreeSet;
use std::time::Duration;

use mld_shared::protocol::DispatchStatus;
use mld_tests::client::Client;
use mld_tests::lake::Backend;
use mld_tests::process::MldProcess;
use mld_tests::scoring::*;

const ROWS: usize = 200_000;

async fn killed_during_write_back(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let BigIrisJob { dl, model, config } =
        BigIrisJob::new(backend, dir.path(), "kill", ROWS, "batch_size = 2000");
    let socket = dir.path().join("mld.sock");

    let mut first = MldProcess::start(&config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let id = c.run_job("score").await;
    loop {
        let d = c.dispatch(id).await;
        assert!(
            !d.summary.status.is_finished(),
            "finished before the kill: {:?}",
            d.summary
        );
        if d.events.iter().any(|e| e.step == "stored") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.signal(nix::sys::signal::Signal::SIGKILL);
    first.wait(Duration::from_secs(10));
    drop(c);
    assert_eq!(
        count_rows(&dl.lake, "scores"),
        0,
        "{backend:?}: the killed write-back left rows"
    );

    let _second = MldProcess::start(&config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let d = c.dispatch(id).await;
    let s = &d.summary;
    assert_eq!(s.status, DispatchStatus::Interrupted, "{backend:?}: {s:?}");
    assert!(s.finished_at.is_some());
    // What it had done: every row read, predicted and stored; nothing inserted.
    assert_eq!(
        (
            s.rows_collected,
            s.rows_predicted,
            s.rows_stored,
            s.rows_inserted
        ),
        (ROWS as u64, ROWS as u64, ROWS as u64, 0),
        "{s:?}"
    );
    let error = s.error.as_deref().unwrap();
    assert!(error.contains("stored"), "{error}");
    let steps: Vec<&str> = d.events.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "created",
            "started",
            "collected",
            "predicted",
            "stored",
            "finished"
        ]
    );
    assert!(
        d.events
            .last()
            .unwrap()
            .message
            .as_deref()
            .unwrap()
            .starts_with("interrupted")
    );
    assert_eq!(count_rows(&dl.lake, "scores"), 0);

    // Again: exactly one row per key, all of the new dispatch.
    let again = c.run_job("score").await;
    let d = c.wait_finished(again, Duration::from_secs(300)).await;
    assert_eq!(
        d.summary.status,
        DispatchStatus::Succeeded,
        "{:?}",
        d.summary
    );
    assert_eq!(d.summary.rows_inserted, ROWS as u64);
    let version = model.meta().version.to_string();
    let rows = read_results(&dl.lake, "scores", model.labels(), &[&version]);
    assert_eq!(rows.len(), ROWS, "{backend:?}");
    assert!(rows.iter().all(|r| r.dispatch_id == again.0));
    let keys: BTreeSet<&str> = rows.iter().map(|r| r.row_key.as_str()).collect();
    assert_eq!(keys.len(), ROWS, "no duplicates");
    assert!(rows.iter().all(|r| r.label != "<unexpected>"));
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
