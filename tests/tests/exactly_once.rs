//! Exactly once, without a crash: the rows a write-back's transaction holds
//! for the dispatch are counted before the datalake commit (a short write
//! rolls back, the dispatch fails at `inserted` and an admin's retry writes
//! it again from the stored predictions under the same id); and a dispatch
//! commits with its slot decision or not at all (a ledger that refuses the
//! decision leaves no dispatch behind).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::{DispatchStatus, ErrorKind, Request, Response};
use mld_shared::time::WireTime;
use mld_tests::client::{Client, InProcessDaemon};
use mld_tests::lake::Backend;
use mld_tests::pg::PgServer;
use mld_tests::scoring::*;

const QUERY: &str = "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_in";

/// The lake's SQLite file reached directly (a trigger's body holds `;`,
/// which the ODBC path's statement splitting would cut).
fn sqlite_file(dl: &DaemonLake) -> mld::datalake::Datalake {
    match dl.backend {
        Backend::SqliteOdbc => {
            let path = dl
                .toml
                .split("Database=")
                .nth(1)
                .and_then(|rest| rest.split(';').next())
                .expect("the SQLite ODBC connection names its file");
            mld::datalake::Datalake::sqlite("file", path)
        }
        _ => dl.lake.clone(),
    }
}

/// Makes the results table silently drop row `7`: the insert succeeds, one
/// row is missing. A trigger that skips it; on MariaDB, whose triggers cannot
/// skip a row, `scores` becomes a view that hides it.
fn drop_one_row(dl: &DaemonLake) {
    match dl.backend {
        Backend::PostgresOdbc => {
            let pg = PgServer::shared();
            let db = dl.pg_database.as_deref().unwrap();
            pg.psql(
                db,
                "CREATE FUNCTION skip_seven() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN IF NEW.row_key = '7' THEN RETURN NULL; END IF; RETURN NEW; END $$",
            )
            .unwrap();
            pg.psql(
                db,
                "CREATE TRIGGER skip_seven BEFORE INSERT ON scores FOR EACH ROW EXECUTE FUNCTION skip_seven()",
            )
            .unwrap();
        }
        Backend::MariaDbOdbc => dl
            .lake
            .execute(
                "RENAME TABLE scores TO scores_all; \
                 CREATE VIEW scores AS SELECT * FROM scores_all WHERE row_key <> '7'",
            )
            .unwrap(),
        Backend::BuiltinSqlite | Backend::SqliteOdbc => sqlite_file(dl)
            .execute(
                "CREATE TRIGGER skip_seven BEFORE INSERT ON scores WHEN NEW.row_key = '7' \
                 BEGIN SELECT RAISE(IGNORE); END",
            )
            .unwrap(),
    }
}

fn stop_dropping(dl: &DaemonLake) {
    match dl.backend {
        Backend::PostgresOdbc => {
            PgServer::shared()
                .psql(
                    dl.pg_database.as_deref().unwrap(),
                    "DROP TRIGGER skip_seven ON scores",
                )
                .unwrap();
        }
        Backend::MariaDbOdbc => dl
            .lake
            .execute("CREATE OR REPLACE VIEW scores AS SELECT * FROM scores_all")
            .unwrap(),
        Backend::BuiltinSqlite | Backend::SqliteOdbc => {
            sqlite_file(dl).execute("DROP TRIGGER skip_seven").unwrap()
        }
    }
}

async fn retry(
    c: &mut Client,
    id: DispatchId,
) -> Result<Response, mld_shared::protocol::WireError> {
    c.request(Request::RetryDispatch { id }).await
}

async fn a_short_write_is_rolled_back_before_the_commit(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(backend, dir.path(), "shortwrite");
    create_iris_table(&dl.lake, "iris_in");
    create_results_table(&dl.lake, "scores");
    let model = iris_model(&registry_dir(dir.path()));
    let job = job_toml("score", "iris", QUERY, "scores", "batch_size = 40");
    let config = write_config(dir.path(), &dl.toml, &job);
    drop_one_row(&dl);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;

    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    let s = &d.summary;
    assert_eq!(s.status, DispatchStatus::Failed, "{backend:?}: {s:?}");
    assert_eq!(s.failed_step.as_deref(), Some("inserted"));
    let error = s.error.as_deref().unwrap();
    assert!(
        error.contains("would hold 149 rows of this dispatch after 150 were written")
            && error.contains("rolled back, nothing was committed"),
        "{backend:?}: {error}"
    );
    assert_eq!((s.rows_stored, s.rows_inserted), (150, 0));
    assert_eq!(
        count_rows(&dl.lake, "scores"),
        0,
        "{backend:?}: committed anyway"
    );

    // Retried while the table still drops a row: fails the same way, and
    // still nothing is committed.
    assert_eq!(retry(&mut c, id).await, Ok(Response::Retrying { id }));
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(d.summary.status, DispatchStatus::Failed, "{:?}", d.summary);
    assert_eq!(count_rows(&dl.lake, "scores"), 0);

    // Fixed, then retried: written once, under the same dispatch id.
    stop_dropping(&dl);
    assert_eq!(retry(&mut c, id).await, Ok(Response::Retrying { id }));
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    let s = &d.summary;
    assert_eq!(s.status, DispatchStatus::Succeeded, "{backend:?}: {s:?}");
    assert_eq!((s.rows_stored, s.rows_inserted), (150, 150));
    let steps: Vec<&str> = d.events.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(
        &steps[steps.len() - 3..],
        ["resumed", "inserted", "finished"],
        "{steps:?}"
    );
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap();
    let resumed = d.events[steps.len() - 3].message.as_deref().unwrap();
    assert!(
        resumed.contains(&format!("retry requested by {me}")),
        "{resumed}"
    );
    let inserted = d.events[steps.len() - 2].message.as_deref().unwrap();
    assert!(
        inserted.contains("settled on retry: written again from the 150 stored predictions"),
        "{inserted}"
    );
    let version = model.meta().version.to_string();
    let rows = read_results(&dl.lake, "scores", model.labels(), &[&version]);
    assert_eq!(rows.len(), 150);
    assert!(rows.iter().all(|r| r.dispatch_id == id.0));
    let keys: BTreeSet<&str> = rows.iter().map(|r| r.row_key.as_str()).collect();
    assert_eq!(keys.len(), 150);

    // A dispatch that succeeded is not retried.
    let refused = retry(&mut c, id).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Conflict);
    assert!(
        refused.message.contains("it succeeded"),
        "{}",
        refused.message
    );
    let missing = retry(&mut c, DispatchId(999)).await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing:?}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_write_is_rolled_back_before_the_commit_on_builtin_sqlite() {
    a_short_write_is_rolled_back_before_the_commit(Backend::BuiltinSqlite).await;
}

/// Parameter arrays: the rows are counted in the transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_write_is_rolled_back_before_the_commit_on_sqlite_odbc() {
    a_short_write_is_rolled_back_before_the_commit(Backend::SqliteOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_write_is_rolled_back_before_the_commit_on_postgres_odbc() {
    a_short_write_is_rolled_back_before_the_commit(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_write_is_rolled_back_before_the_commit_on_mariadb_odbc() {
    a_short_write_is_rolled_back_before_the_commit(Backend::MariaDbOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_that_failed_before_storing_its_predictions_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(Backend::BuiltinSqlite, dir.path(), "noretry");
    create_iris_table(&dl.lake, "iris_in");
    create_results_table(&dl.lake, "scores");
    iris_model(&registry_dir(dir.path()));
    let query = "SELECT id, sepal_length, sepal_width, petal_length FROM iris_in";
    let config = write_config(
        dir.path(),
        &dl.toml,
        &job_toml("score", "iris", query, "scores", ""),
    );
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(d.summary.failed_step.as_deref(), Some("collected"));
    let refused = retry(&mut c, id).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Conflict);
    assert!(
        refused
            .message
            .contains("before all its predictions were stored"),
        "{}",
        refused.message
    );
    daemon.stop().await;
}

async fn slots(c: &mut Client) -> Vec<mld_shared::protocol::SlotRecord> {
    match c
        .request(Request::Slots {
            job: JobName("score".into()),
            since: WireTime::from(jiff::Timestamp::UNIX_EPOCH),
        })
        .await
    {
        Ok(Response::Slots(s)) => s,
        other => panic!("slots: {other:?}"),
    }
}

async fn dispatch_ids(c: &mut Client) -> Vec<(DispatchId, Option<WireTime>)> {
    let to = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();
    match c
        .request(Request::Dispatches {
            from: WireTime::from(jiff::Timestamp::UNIX_EPOCH),
            to: WireTime::from(to),
            job: None,
            limit: 1000,
        })
        .await
    {
        Ok(Response::Dispatches(d)) => d.into_iter().map(|d| (d.id, d.slot)).collect(),
        other => panic!("dispatches: {other:?}"),
    }
}

/// The event log refuses the slot's `ran` decision (a trigger, as a broken
/// disk would): the dispatch that would serve the slot is not left behind
/// either — the two commit in one transaction — and the slot says it could
/// not start. Once the ledger takes decisions again, every dispatch has one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_commits_with_its_slot_decision_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(Backend::BuiltinSqlite, dir.path(), "atomic");
    create_iris_table(&dl.lake, "iris_in");
    create_results_table(&dl.lake, "scores");
    iris_model(&registry_dir(dir.path()));
    let job = format!(
        "[[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\nquery = \"{QUERY}\"\n\
         key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"* * * * * *\"\nenabled = false\n"
    );
    let config = write_config(dir.path(), &dl.toml, &job);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let events = rusqlite::Connection::open(dir.path().join("state/events.db")).unwrap();
    events
        .execute_batch(
            "CREATE TRIGGER refuse_ran BEFORE INSERT ON slot_decisions WHEN NEW.decision = 'ran' \
             BEGIN SELECT RAISE(ABORT, 'the ledger refuses (test)'); END",
        )
        .unwrap();
    let enabled = c
        .request(Request::EnableJob {
            job: JobName("score".into()),
            reason: None,
        })
        .await;
    assert!(
        matches!(enabled, Ok(Response::JobChanged(_))),
        "{enabled:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let refused: Vec<_> = slots(&mut c)
            .await
            .into_iter()
            .filter(|s| s.decision == "start-failed")
            .collect();
        if refused.len() >= 2 {
            break refused;
        }
        assert!(Instant::now() < deadline, "no slot was refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for s in &refused {
        assert!(
            s.detail.contains("the ledger refuses (test)"),
            "{}",
            s.detail
        );
        assert_eq!(s.dispatch, None);
    }
    assert_eq!(
        dispatch_ids(&mut c).await,
        vec![],
        "a dispatch without its decision"
    );

    events.execute_batch("DROP TRIGGER refuse_ran").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let served = loop {
        let ids = dispatch_ids(&mut c).await;
        if !ids.is_empty() {
            break ids;
        }
        assert!(
            Instant::now() < deadline,
            "no dispatch once the ledger took decisions"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    c.request(Request::DisableJob {
        job: JobName("score".into()),
        reason: None,
        until: None,
    })
    .await
    .unwrap();
    let ledger = slots(&mut c).await;
    for (id, slot) in served {
        let slot = slot.expect("a scheduled dispatch serves a slot");
        let decision = ledger
            .iter()
            .find(|s| s.slot == slot)
            .map(|s| (s.decision.as_str(), s.dispatch));
        assert_eq!(decision, Some(("ran", Some(id))));
    }
    daemon.stop().await;
}
