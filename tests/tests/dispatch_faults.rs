//! Dispatch faults with real drivers, on every backend (SPEC.md, "Bad input
//! and faults"): an unreachable datalake, and on the database servers a
//! refused connection and a wrong password (the password never shows — not
//! in errors, events, responses, the daemon's log or the event-log file), a
//! missing results table and a write that fails late (rolled back, nothing
//! written), a feature column missing from the query (fails before
//! scoring), and a cancel mid-dispatch.

use std::time::Duration;

use mld_shared::protocol::{DispatchDetail, DispatchStatus, Request, Response, Update};
use mld_shared::time::WireTime;
use mld_tests::client::{Client, InProcessDaemon};
use mld_tests::lake::Backend;
use mld_tests::process::MldProcess;
use mld_tests::scoring::*;

const ALL: [Backend; 4] = Backend::ALL;

fn steps(d: &DispatchDetail) -> Vec<&str> {
    d.events.iter().map(|e| e.step.as_str()).collect()
}

/// A daemon over `lake_toml` with one job `score` on `iris_in`, run once.
async fn run_once(
    dir: &std::path::Path,
    lake_toml: &str,
    query: &str,
    results: &str,
) -> (InProcessDaemon, Client, DispatchDetail) {
    iris_model(&registry_dir(dir));
    let job = job_toml("score", "iris", query, results, "batch_size = 40");
    let config = write_config(dir, lake_toml, &job);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    (daemon, c, d)
}

const QUERY: &str = "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_in";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_datalake_fails_at_collected_with_the_drivers_message() {
    for backend in [Backend::BuiltinSqlite, Backend::SqliteOdbc] {
        let dir = tempfile::tempdir().unwrap();
        let dl = DaemonLake::new(backend, dir.path(), "unreachable");
        let (daemon, mut c, d) = run_once(dir.path(), &dl.unreachable_toml, QUERY, "scores").await;
        let s = &d.summary;
        assert_eq!(s.status, DispatchStatus::Failed, "{backend:?}");
        assert_eq!(s.failed_step.as_deref(), Some("collected"));
        let error = s.error.as_deref().unwrap();
        assert!(error.contains("cannot connect"), "{backend:?}: {error}");
        // The driver's own words, not just ours.
        assert!(
            error.to_lowercase().contains("unable to open")
                || error.to_lowercase().contains("connect failed")
                || error.contains("[SQLite]"),
            "{backend:?}: {error}"
        );
        assert_eq!(steps(&d), ["created", "started", "finished"]);
        assert!(
            d.events
                .last()
                .unwrap()
                .message
                .as_deref()
                .unwrap()
                .contains(error)
        );
        if let Some(secret) = &dl.secret {
            assert!(!format!("{d:?}").contains(secret.as_str()));
        }
        // The daemon carries on.
        assert_eq!(c.request(Request::Ping).await, Ok(Response::Pong));
        daemon.stop().await;
    }
}

/// A database server refusing the connection, and refusing the password,
/// through a daemon PROCESS whose log output is captured: the password is
/// nowhere.
async fn refused_and_wrong_password_fail_without_showing_the_password(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(backend, dir.path(), "secrets");
    create_iris_table(&dl.lake, "iris_in");
    create_results_table(&dl.lake, "scores");
    iris_model(&registry_dir(dir.path()));
    let (wrong_toml, wrong) = dl.wrong_password_toml.clone().unwrap();
    let secret = dl.secret.clone().unwrap();
    let lakes = format!(
        "{}\n{}\n{}",
        dl.toml,
        dl.unreachable_toml
            .replace("[datalakes.lake]", "[datalakes.refused]"),
        wrong_toml.replace("[datalakes.lake]", "[datalakes.wrongpw]")
    );
    let job = |name: &str, lake: &str| {
        job_toml(name, "iris", QUERY, "scores", "")
            .replace("datalake = \"lake\"", &format!("datalake = \"{lake}\""))
    };
    let jobs = format!(
        "{}\n{}",
        job("refused", "refused"),
        job("wrongpw", "wrongpw")
    );
    let config = write_config(dir.path(), &lakes, &jobs);
    let socket = dir.path().join("mld.sock");
    let mut process = MldProcess::start(&config, &socket);
    let mut c = Client::connect(&socket).await.unwrap();
    let mut seen = Vec::new();

    let refused = c.run_job("refused").await;
    let wrongpw = c.run_job("wrongpw").await;
    let d = c.wait_finished(refused, Duration::from_secs(60)).await;
    assert_eq!(d.summary.status, DispatchStatus::Failed);
    assert_eq!(d.summary.failed_step.as_deref(), Some("collected"));
    let error = d.summary.error.clone().unwrap();
    assert!(error.contains("cannot connect"), "{error}");
    assert!(
        error.to_lowercase().contains(backend.refused_text()),
        "the driver's message: {error}"
    );
    assert_eq!(steps(&d), ["created", "started", "finished"]);
    seen.push(format!("{d:?}"));

    let d = c.wait_finished(wrongpw, Duration::from_secs(60)).await;
    assert_eq!(d.summary.status, DispatchStatus::Failed);
    assert_eq!(d.summary.failed_step.as_deref(), Some("collected"));
    let error = d.summary.error.clone().unwrap();
    assert!(
        error.contains(backend.wrong_password_text()),
        "the driver's message: {error}"
    );
    assert_eq!(steps(&d), ["created", "started", "finished"]);
    seen.push(format!("{d:?}"));

    // Everything a client can see.
    let now = jiff::Timestamp::now();
    let list = c
        .request(Request::Dispatches {
            from: WireTime::from(now - jiff::SignedDuration::from_hours(1)),
            to: WireTime::from(now + jiff::SignedDuration::from_hours(1)),
            job: None,
            limit: 100,
        })
        .await;
    assert!(
        matches!(&list, Ok(Response::Dispatches(v)) if v.len() == 2),
        "{list:?}"
    );
    seen.push(format!("{list:?}"));
    let snapshot = c.subscribe().await;
    seen.push(format!("{snapshot:?}"));
    seen.push(format!("{:?}", c.request(Request::Jobs).await));
    seen.push(format!("{:?}", c.request(Request::Status).await));
    while let Some(u) = c.next_update(Duration::from_millis(300)).await {
        seen.push(format!("{u:?}"));
    }
    assert_eq!(
        c.request(Request::Ping).await,
        Ok(Response::Pong),
        "still serving"
    );

    process.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(process.wait(Duration::from_secs(30)).success());
    let log = process.stderr();
    assert!(
        log.contains("dispatch finished"),
        "the log was captured:\n{log}"
    );
    seen.push(log);
    for name in ["events.db", "events.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join("state").join(name)) {
            seen.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    for text in &seen {
        for pw in [secret.as_str(), wrong.as_str()] {
            assert!(!text.contains(pw), "a password leaked into:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_wrong_password_fail_without_showing_the_password_on_postgres_odbc() {
    refused_and_wrong_password_fail_without_showing_the_password(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_wrong_password_fail_without_showing_the_password_on_mariadb_odbc() {
    refused_and_wrong_password_fail_without_showing_the_password(Backend::MariaDbOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_results_table_fails_at_inserted_and_writes_nothing() {
    for backend in ALL {
        let dir = tempfile::tempdir().unwrap();
        let dl = DaemonLake::new(backend, dir.path(), "no_results");
        create_iris_table(&dl.lake, "iris_in");
        let (daemon, _c, d) = run_once(dir.path(), &dl.toml, QUERY, "no_such_scores").await;
        let s = &d.summary;
        assert_eq!(s.status, DispatchStatus::Failed, "{backend:?}");
        assert_eq!(s.failed_step.as_deref(), Some("inserted"), "{backend:?}");
        let error = s.error.as_deref().unwrap();
        assert!(error.contains("no_such_scores"), "{backend:?}: {error}");
        assert_eq!(
            steps(&d),
            [
                "created",
                "started",
                "collected",
                "predicted",
                "stored",
                "finished"
            ]
        );
        assert_eq!((s.rows_stored, s.rows_inserted), (150, 0));
        daemon.stop().await;
    }
}

/// The last write-back page breaks a CHECK constraint after earlier pages
/// were inserted: the whole transaction rolls back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_late_rolls_back_every_row() {
    for backend in ALL {
        let dir = tempfile::tempdir().unwrap();
        let dl = DaemonLake::new(backend, dir.path(), "late_failure");
        create_iris_table(&dl.lake, "iris_in");
        // Keys are written in text order: "99" comes last.
        dl.lake
            .execute(
                "CREATE TABLE strict_scores (dispatch_id BIGINT NOT NULL, row_key VARCHAR(255) NOT NULL, \
                 prediction VARCHAR(255), score DOUBLE PRECISION, model_version VARCHAR(255), \
                 scored_at TIMESTAMP, PRIMARY KEY (dispatch_id, row_key), CHECK (row_key <> '99'))",
            )
            .unwrap();
        let (daemon, _c, d) = run_once(dir.path(), &dl.toml, QUERY, "strict_scores").await;
        let s = &d.summary;
        assert_eq!(s.status, DispatchStatus::Failed, "{backend:?}");
        assert_eq!(s.failed_step.as_deref(), Some("inserted"), "{backend:?}");
        assert!(
            s.error.as_deref().unwrap().contains("rolled back"),
            "{:?}",
            s.error
        );
        assert_eq!(s.rows_inserted, 0);
        assert_eq!(
            count_rows(&dl.lake, "strict_scores"),
            0,
            "{backend:?}: partial results"
        );
        daemon.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feature_missing_from_the_query_fails_before_scoring_and_names_it() {
    for backend in ALL {
        let dir = tempfile::tempdir().unwrap();
        let dl = DaemonLake::new(backend, dir.path(), "missing_feature");
        create_iris_table(&dl.lake, "iris_in");
        create_results_table(&dl.lake, "scores");
        let (daemon, mut c, d) = run_once(
            dir.path(),
            &dl.toml,
            "SELECT id, sepal_length, sepal_width, petal_length FROM iris_in",
            "scores",
        )
        .await;
        let s = &d.summary;
        assert_eq!(s.status, DispatchStatus::Failed, "{backend:?}");
        assert_eq!(s.failed_step.as_deref(), Some("collected"));
        let error = s.error.as_deref().unwrap();
        assert!(error.contains("petal_width"), "{backend:?}: {error}");
        assert_eq!(steps(&d), ["created", "started", "finished"]);
        assert_eq!(
            (
                s.rows_collected,
                s.rows_predicted,
                s.rows_stored,
                s.rows_inserted
            ),
            (0, 0, 0, 0)
        );
        assert!(c.all_predictions(d.summary.id).await.is_empty());
        assert_eq!(count_rows(&dl.lake, "scores"), 0);
        daemon.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_dispatch_is_cancelled_and_writes_nothing() {
    for backend in [
        Backend::BuiltinSqlite,
        Backend::PostgresOdbc,
        Backend::MariaDbOdbc,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let BigIrisJob { dl, config, .. } =
            BigIrisJob::new(backend, dir.path(), "cancel", 200_000, "batch_size = 1000");
        let daemon = InProcessDaemon::start(&config).await;
        let mut c = daemon.client().await;
        c.subscribe().await;
        let id = c.run_job("score").await;
        // Wait until it is visibly working, then cancel.
        loop {
            match c.next_update(Duration::from_secs(30)).await {
                Some(Update::Dispatch(s)) if s.id == id && s.rows_collected > 0 => {
                    assert!(!s.status.is_finished(), "finished before the cancel: {s:?}");
                    break;
                }
                Some(_) => {}
                None => panic!("no progress from dispatch {id}"),
            }
        }
        let answer = c.request(Request::CancelDispatch { id }).await;
        assert_eq!(answer, Ok(Response::Cancelled { id }));
        let d = c.wait_finished(id, Duration::from_secs(60)).await;
        let s = &d.summary;
        assert_eq!(s.status, DispatchStatus::Cancelled, "{backend:?}: {s:?}");
        assert!(
            s.error.as_deref().unwrap().contains("cancel"),
            "{:?}",
            s.error
        );
        assert!(s.rows_collected < 200_000, "stopped early: {s:?}");
        assert_eq!(s.rows_inserted, 0);
        assert_eq!(*steps(&d).last().unwrap(), "finished");
        assert!(!steps(&d).contains(&"inserted"));
        assert_eq!(count_rows(&dl.lake, "scores"), 0, "{backend:?}");
        // A second cancel: it is no longer running.
        let again = c.request(Request::CancelDispatch { id }).await;
        assert!(again.is_err(), "{again:?}");
        daemon.stop().await;
    }
}

/// A job's timeout cancels the dispatch wherever it is, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_past_its_timeout_is_cancelled_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let BigIrisJob { dl, config, .. } = BigIrisJob::new(
        Backend::BuiltinSqlite,
        dir.path(),
        "timeout",
        200_000,
        "batch_size = 1000\ntimeout = \"300ms\"",
    );
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(120)).await;
    let s = &d.summary;
    assert_eq!(s.status, DispatchStatus::Cancelled, "{s:?}");
    let error = s.error.as_deref().unwrap();
    assert!(
        error.contains("timed out") && error.contains("300ms"),
        "{error}"
    );
    assert_eq!(s.rows_inserted, 0);
    assert_eq!(count_rows(&dl.lake, "scores"), 0);
    daemon.stop().await;
}

/// With `fail_on_unscorable`, the first unscorable row fails the dispatch at
/// `predicted`, naming the row, before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_unscorable_fails_at_predicted_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(Backend::BuiltinSqlite, dir.path(), "strict");
    create_iris_table(&dl.lake, "iris_in");
    dl.lake
        .execute("UPDATE iris_in SET petal_width = NULL WHERE id = 77")
        .unwrap();
    create_results_table(&dl.lake, "scores");
    iris_model(&registry_dir(dir.path()));
    let job = job_toml(
        "score",
        "iris",
        QUERY,
        "scores",
        "batch_size = 40\nfail_on_unscorable = true",
    );
    let config = write_config(dir.path(), &dl.toml, &job);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    let s = &d.summary;
    assert_eq!(s.status, DispatchStatus::Failed, "{s:?}");
    assert_eq!(s.failed_step.as_deref(), Some("predicted"));
    let error = s.error.as_deref().unwrap();
    assert!(
        error.contains("row 77") && error.contains("petal_width"),
        "{error}"
    );
    assert_eq!(s.rows_inserted, 0);
    assert_eq!(count_rows(&dl.lake, "scores"), 0);
    daemon.stop().await;
}
