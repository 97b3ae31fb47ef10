//! The event log on real SQLite files: migrations, batching, durability of
//! what was acknowledged, and the daemon's own runs.

use mld::eventlog::{EventLog, EventLogError, schema};
use std::path::Path;

fn tables(path: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut s = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn user_version(path: &Path) -> i64 {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_fresh_file_gets_every_migration_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/events.db");
    let log = EventLog::open(&path).unwrap();
    log.probe().await.unwrap();
    assert_eq!(user_version(&path), schema::CURRENT_VERSION as i64);
    let t = tables(&path);
    for table in [
        "daemon_runs",
        "dispatches",
        "dispatch_events",
        "predictions",
        "schedule_changes",
        "slot_decisions",
    ] {
        assert!(t.contains(&table.to_string()), "{table} missing from {t:?}");
    }
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_file_from_the_previous_schema_is_migrated_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventlog-v1.db"),
        &path,
    )
    .unwrap();
    assert_eq!(user_version(&path), 1);
    let log = EventLog::open(&path).unwrap();
    assert_eq!(user_version(&path), schema::CURRENT_VERSION as i64);
    assert!(tables(&path).contains(&"dispatches".to_string()));

    // The v1 rows survive, and the run the old daemon never closed is marked unclean.
    let id = log
        .record_start(1, "0.1.0", Path::new("/etc/mld/mld.toml"))
        .await
        .unwrap();
    let runs: Vec<(i64, Option<String>)> = log
        .read(|c| {
            let mut s = c.prepare("SELECT pid, stop_reason FROM daemon_runs ORDER BY id")?;
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
        })
        .await
        .unwrap();
    assert_eq!(
        runs,
        vec![
            (100, Some("shutdown".into())),
            (101, Some("unclean".into())),
            (1, None)
        ]
    );
    log.record_stop(id, "shutdown").await.unwrap();
    let last: Option<String> = log
        .read(move |c| {
            c.query_row(
                "SELECT stop_reason FROM daemon_runs WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(last.as_deref(), Some("shutdown"));
}

#[tokio::test]
async fn a_file_from_a_newer_daemon_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = EventLog::open(&path).unwrap_err();
    assert!(
        matches!(err, EventLogError::TooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer mld"));
}

#[tokio::test]
async fn a_failing_write_is_undone_alone_and_its_batch_mates_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let log = EventLog::open(&path).unwrap();
    // Queue many writes at once so they share batches, one of them failing halfway.
    let mut pending = Vec::new();
    for i in 0..200i64 {
        let log = log.clone();
        pending.push(tokio::spawn(async move {
            log.write(move |tx| {
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES (?1, 'x')",
                    [format!("k{i}")],
                )?;
                if i == 100 {
                    // Second statement fails: the first must be undone too.
                    tx.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                }
                Ok(i)
            })
            .await
        }));
    }
    let mut failed = 0;
    for p in pending {
        match p.await.unwrap() {
            Ok(_) => {}
            Err(EventLogError::Sqlite(_)) => failed += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(failed, 1);
    let keys: i64 = log
        .read(|c| {
            c.query_row("SELECT count(*) FROM meta WHERE key LIKE 'k%'", [], |r| {
                r.get(0)
            })
        })
        .await
        .unwrap();
    assert_eq!(keys, 199);
    let k100: i64 = log
        .read(|c| {
            c.query_row("SELECT count(*) FROM meta WHERE key = 'k100'", [], |r| {
                r.get(0)
            })
        })
        .await
        .unwrap();
    assert_eq!(k100, 0);
    // A job's own mistake is not the event log's health problem.
    log.probe().await.unwrap();
}

#[tokio::test]
async fn acknowledged_writes_are_on_disk_for_another_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let log = EventLog::open(&path).unwrap();
    log.write(|tx| tx.execute("INSERT INTO meta(key, value) VALUES ('durable', 'yes')", []))
        .await
        .unwrap();
    // A separate process-level connection sees it as soon as the write is acknowledged.
    let other = rusqlite::Connection::open(&path).unwrap();
    let v: String = other
        .query_row("SELECT value FROM meta WHERE key = 'durable'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v, "yes");
}

#[test]
fn write_blocking_works_from_a_plain_thread() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(&dir.path().join("events.db")).unwrap();
    let n = std::thread::spawn(move || {
        log.write_blocking(|tx| tx.execute("INSERT INTO meta(key, value) VALUES ('t', '1')", []))
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_full_disk_fails_writes_and_the_probe_cleanly_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(&dir.path().join("events.db")).unwrap();
    log.probe().await.unwrap();
    // Cap the file at its current size: the next write that needs a page is "disk full".
    log.write(|tx| {
        let pages: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        tx.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
    })
    .await
    .unwrap();
    let big = "x".repeat(64 * 1024);
    let err = log
        .write(move |tx| tx.execute("INSERT INTO meta(key, value) VALUES ('big', ?1)", [big]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("full"), "{err}");
    // The probe's own small write still fits, but it reports the failure the
    // dispatch's write met (the monitor shows the event log as `error`).
    let probe = log.probe().await.unwrap_err();
    assert!(probe.to_string().contains("full"), "{probe}");
    // …and once space is back, the same log takes writes again without a restart
    // (the monitor keeps showing the failure for a while, so it is seen).
    log.write(|tx| tx.query_row("PRAGMA max_page_count = 1073741823", [], |_| Ok(())))
        .await
        .unwrap();
    log.write(|tx| tx.execute("INSERT INTO meta(key, value) VALUES ('after', 'ok')", []))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_write_queue_makes_writers_wait_and_loses_nothing() {
    use mld::eventlog::WRITE_QUEUE;
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(&dir.path().join("events.db")).unwrap();
    // Hold the writer thread inside a job.
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let blocker = tokio::spawn({
        let log = log.clone();
        async move {
            log.write(move |tx| {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                tx.execute("INSERT INTO meta(key, value) VALUES ('held', 'x')", [])
            })
            .await
        }
    });
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
        .await
        .unwrap();
    // Far more writers than the queue holds.
    let writers = WRITE_QUEUE + 300;
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                log.write(move |tx| {
                    tx.execute(
                        "INSERT INTO meta(key, value) VALUES (?1, 'v')",
                        [format!("k{i}")],
                    )
                })
                .await
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.write_queue_free() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never filled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Full: the rest wait in their own submission, not in the queue.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(log.write_queue_free(), 0);
    assert!(tasks.iter().all(|t| !t.is_finished()));
    release_tx.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let n: i64 = log
        .read(|c| {
            c.query_row("SELECT count(*) FROM meta WHERE value = 'v'", [], |r| {
                r.get(0)
            })
        })
        .await
        .unwrap();
    assert_eq!(n as usize, writers, "every write committed");
    assert_eq!(log.write_queue_free(), WRITE_QUEUE);
}
