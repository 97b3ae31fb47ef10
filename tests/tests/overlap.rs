//! A dispatch writes back while it reads (issue 12): on every backend that
//! can be read while the same database is written inside a transaction —
//! PostgreSQL, MariaDB, a SQLite file in WAL mode, built in or through ODBC —
//! every batch goes into the results table's transaction before the
//! dispatch records `stored` (which it does once the last row is read and
//! stored); nothing is visible before the commit, and the results are the
//! same rows exactly once. A SQLite file in rollback-journal mode cannot be
//! read while it is written, so there the dispatch writes back after
//! `stored`, from the event log, and its `inserted` event says why.
//!
//! When a row was written is taken inside the database, by a trigger on
//! the results table that logs each row's key and the clock (in the
//! transaction, so committed with it), and compared with the dispatch's
//! own `stored` event.

use std::time::Duration;

use mld::datalake::Datalake;
use mld_shared::protocol::{DispatchDetail, DispatchStatus};
use mld_tests::client::InProcessDaemon;
use mld_tests::lake::Backend;
use mld_tests::pg::PgServer;
use mld_tests::scoring::*;

const ROWS: usize = 3000;
const BATCH: usize = 100;

/// The lake's SQLite file reached directly (a trigger's body holds `;`,
/// which the ODBC path's statement splitting would cut).
fn sqlite_file(dl: &DaemonLake) -> Datalake {
    match dl.backend {
        Backend::SqliteOdbc => {
            let path = dl
                .toml
                .split("Database=")
                .nth(1)
                .and_then(|rest| rest.split(';').next())
                .expect("the SQLite ODBC connection names its file");
            Datalake::sqlite("file", path)
        }
        _ => dl.lake.clone(),
    }
}

/// `write_log(row_key, at_ms)`: a row per results row, stamped with the
/// database's clock (milliseconds since the epoch) when it was inserted.
fn log_writes(dl: &DaemonLake) {
    dl.lake
        .execute("CREATE TABLE write_log (row_key VARCHAR(255), at_ms DOUBLE PRECISION)")
        .unwrap();
    match dl.backend {
        Backend::PostgresOdbc => {
            let pg = PgServer::shared();
            let db = dl.pg_database.as_deref().unwrap();
            pg.psql(
                db,
                "CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 INSERT INTO write_log VALUES (NEW.row_key, extract(epoch from clock_timestamp()) * 1000); \
                 RETURN NEW; END $$",
            )
            .unwrap();
            pg.psql(
                db,
                "CREATE TRIGGER log_write AFTER INSERT ON scores FOR EACH ROW EXECUTE FUNCTION log_write()",
            )
            .unwrap();
        }
        // SYSDATE: the time it runs, not the statement's start.
        Backend::MariaDbOdbc => dl
            .lake
            .execute(
                "CREATE TRIGGER log_write AFTER INSERT ON scores FOR EACH ROW \
                 INSERT INTO write_log VALUES (NEW.row_key, UNIX_TIMESTAMP(SYSDATE(6)) * 1000)",
            )
            .unwrap(),
        Backend::BuiltinSqlite | Backend::SqliteOdbc => sqlite_file(dl)
            .execute(
                "CREATE TRIGGER log_write AFTER INSERT ON scores BEGIN \
                 INSERT INTO write_log VALUES (NEW.row_key, (julianday('now') - 2440587.5) * 86400000.0); END",
            )
            .unwrap(),
    }
}

/// Every logged write's time, by row key.
fn write_times(lake: &Datalake) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let features = ["at_ms".to_string()];
    for b in lake
        .read(
            "SELECT row_key, at_ms FROM write_log",
            "row_key",
            &features,
            10_000,
        )
        .unwrap()
    {
        let b = b.unwrap();
        assert!(b.unscorable.is_empty(), "{:?}", b.unscorable);
        out.extend(b.keys.into_iter().zip(b.features.column(0).iter().copied()));
    }
    out
}

fn event_ms(d: &DispatchDetail, step: &str) -> i64 {
    d.events
        .iter()
        .find(|e| e.step == step)
        .unwrap_or_else(|| panic!("no {step} event: {:#?}", d.events))
        .at
        .0
}

/// Runs the job once on `dl` (the rows, the results table with its logging
/// trigger, and a WAL or rollback-journal file as the caller made it);
/// returns the dispatch and the logged writes.
async fn dispatch(dl: &DaemonLake, dir: &std::path::Path) -> (DispatchDetail, Vec<(String, f64)>) {
    let model = iris_model(&registry_dir(dir));
    let job = job_toml(
        "score",
        "iris",
        "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_big",
        "scores",
        &format!("batch_size = {BATCH}"),
    );
    let config = write_config(dir, &dl.toml, &job);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(120)).await;
    assert_eq!(
        d.summary.status,
        DispatchStatus::Succeeded,
        "{:?} at {:?}",
        d.summary.error,
        d.summary.failed_step
    );
    assert_eq!(d.summary.rows_inserted, ROWS as u64);
    // Exactly once: one row per key, all of this dispatch, the model's version.
    let version = model.meta().version.to_string();
    let got = read_results(&dl.lake, "scores", model.labels(), &[&version]);
    assert_eq!(got.len(), ROWS);
    let keys: std::collections::BTreeSet<&str> = got.iter().map(|r| r.row_key.as_str()).collect();
    assert_eq!(keys.len(), ROWS);
    assert!(got.iter().all(|r| r.dispatch_id == id.0));
    let writes = write_times(&dl.lake);
    assert_eq!(writes.len(), ROWS, "one logged write per row");
    (d, writes)
}

async fn writes_while_reading(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(backend, dir.path(), "overlap");
    create_big_iris(&dl, ROWS);
    create_results_table(&dl.lake, "scores");
    log_writes(&dl);
    let (d, writes) = dispatch(&dl, dir.path()).await;
    let stored = event_ms(&d, "stored") as f64;
    let first = writes.iter().map(|w| w.1).fold(f64::INFINITY, f64::min);
    let last = writes.iter().map(|w| w.1).fold(f64::NEG_INFINITY, f64::max);
    // Every batch was written before the last row was read and stored (the
    // event's instant is whole milliseconds: one of slack at the end).
    assert!(
        last < stored + 1.0,
        "{backend:?}: the last row was written {:.1} ms after `stored` (the first {:.1} ms before it): {:#?}",
        last - stored,
        stored - first,
        d.events
    );
    assert!(
        first < last,
        "{backend:?}: the writes spread over the reading"
    );
    let inserted = d.events.iter().find(|e| e.step == "inserted").unwrap();
    assert_eq!(inserted.message, None, "{backend:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_back_while_reading_on_builtin_sqlite_in_wal_mode() {
    writes_while_reading(Backend::BuiltinSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_back_while_reading_on_sqlite_odbc_in_wal_mode() {
    writes_while_reading(Backend::SqliteOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_back_while_reading_on_postgres_odbc() {
    writes_while_reading(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_back_while_reading_on_mariadb_odbc() {
    writes_while_reading(Backend::MariaDbOdbc).await;
}

async fn writes_after_reading_in_rollback_journal_mode(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(backend, dir.path(), "journal");
    sqlite_file(&dl)
        .execute("PRAGMA journal_mode=DELETE")
        .unwrap();
    create_big_iris(&dl, ROWS);
    create_results_table(&dl.lake, "scores");
    log_writes(&dl);
    let (d, writes) = dispatch(&dl, dir.path()).await;
    let stored = event_ms(&d, "stored") as f64;
    let first = writes.iter().map(|w| w.1).fold(f64::INFINITY, f64::min);
    assert!(
        first >= stored,
        "{backend:?}: a row was written {:.1} ms before `stored`, while the file was read",
        stored - first
    );
    let said = d
        .events
        .iter()
        .find(|e| e.step == "inserted")
        .and_then(|e| e.message.clone())
        .unwrap_or_default();
    assert!(
        said.contains("after every row was read") && said.contains("delete journal mode"),
        "{backend:?}: {said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_journal_sqlite_file_is_written_back_after_reading() {
    writes_after_reading_in_rollback_journal_mode(Backend::BuiltinSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_journal_sqlite_file_through_odbc_is_written_back_after_reading() {
    writes_after_reading_in_rollback_journal_mode(Backend::SqliteOdbc).await;
}
