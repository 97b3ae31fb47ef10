//! A whole dispatch through a real in-process daemon and a protocol client,
//! on each datalake backend (built-in SQLite, SQLite through ODBC,
//! PostgreSQL through psqlODBC, MariaDB through MariaDB Connector/ODBC): the
//! results table, the stored predictions, the events and the dispatch
//! record, against the model's own predictions.
//! Also rows that cannot be scored (NULL, non-numeric).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mld::model::Model;
use mld_shared::protocol::{DispatchDetail, DispatchStatus, Request, Response};
use mld_tests::client::InProcessDaemon;
use mld_tests::lake::Backend;
use mld_tests::scoring::*;
use ndarray::Array2;

const STEPS: [&str; 7] = [
    "created",
    "started",
    "collected",
    "predicted",
    "stored",
    "inserted",
    "finished",
];

/// The model's own predictions of `rows` (id → features), by key.
fn expected(model: &Model, rows: &[(String, [f64; 4])]) -> BTreeMap<String, (String, f64)> {
    let binding = model.bind(&IRIS_FEATURES).unwrap();
    let flat: Vec<f64> = rows.iter().flat_map(|(_, f)| *f).collect();
    let m = Array2::from_shape_vec((rows.len(), 4), flat).unwrap();
    let preds = model.predict(&binding, m.view()).unwrap();
    rows.iter()
        .zip(preds)
        .map(|((k, _), p)| {
            (
                k.clone(),
                (p.label().unwrap().to_string(), p.score().unwrap()),
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    // SQLite ODBC moves doubles as text with 15 significant digits.
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// Checks the events are exactly the seven steps with reconciling counts.
fn assert_events(d: &DispatchDetail, collected: u64, scored: u64) {
    let steps: Vec<&str> = d.events.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(steps, STEPS, "{:#?}", d.events);
    let rows = |step: &str| d.events.iter().find(|e| e.step == step).unwrap().rows;
    assert_eq!(rows("collected"), Some(collected));
    assert_eq!(rows("predicted"), Some(scored));
    assert_eq!(rows("stored"), Some(scored));
    assert_eq!(rows("inserted"), Some(scored));
    let seqs: Vec<u32> = d.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<u32>>());
    let s = &d.summary;
    assert_eq!(
        (
            s.rows_collected,
            s.rows_predicted,
            s.rows_unscorable,
            s.rows_stored,
            s.rows_inserted
        ),
        (collected, scored, collected - scored, scored, scored)
    );
}

async fn full_dispatch(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(backend, dir.path(), "full");
    create_iris_table(&dl.lake, "iris_in");
    create_results_table(&dl.lake, "scores");
    let model = iris_model(&registry_dir(dir.path()));
    // Columns in another order than the model's: matched by name.
    let job = job_toml(
        "score",
        "iris",
        "SELECT petal_width, sepal_length, id, petal_length, sepal_width FROM iris_in",
        "scores",
        // Several batches and several write-back pages.
        "batch_size = 40",
    );
    let config = write_config(dir.path(), &dl.toml, &job);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;

    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    let s = &d.summary;
    assert_eq!(
        s.status,
        DispatchStatus::Succeeded,
        "{:?} at {:?}",
        s.error,
        s.failed_step
    );
    assert_eq!((s.failed_step.as_deref(), s.error.as_deref()), (None, None));
    assert_eq!(s.model, "iris");
    assert_eq!(s.model_version, model.meta().version.to_string());
    assert_eq!(s.model_hash, model.meta().content_sha256);
    assert!(s.started_at.is_some() && s.finished_at.is_some());
    assert_events(&d, 150, 150);

    let rows: Vec<(String, [f64; 4])> = iris_rows()
        .into_iter()
        .enumerate()
        .map(|(i, (f, _))| ((i + 1).to_string(), f))
        .collect();
    let want = expected(&model, &rows);

    // The results table: exactly one row per scored row, the model's predictions.
    let version = model.meta().version.to_string();
    let got = read_results(&dl.lake, "scores", model.labels(), &[&version]);
    assert_eq!(got.len(), 150, "one row per scored row");
    let keys: BTreeSet<&str> = got.iter().map(|r| r.row_key.as_str()).collect();
    assert_eq!(keys.len(), 150, "no key twice");
    for r in &got {
        assert_eq!(r.dispatch_id, id.0);
        assert_eq!(r.model_version, version);
        let (label, score) = &want[&r.row_key];
        assert_eq!(&r.label, label, "row {}", r.row_key);
        assert!(
            close(r.score, *score),
            "row {}: {} vs {score}",
            r.row_key,
            r.score
        );
    }

    // The stored predictions say the same, exactly.
    let stored = c.all_predictions(id).await;
    assert_eq!(stored.len(), 150);
    for p in &stored {
        let (label, score) = &want[&p.row_key];
        assert_eq!((&p.label, p.score), (label, *score), "row {}", p.row_key);
    }
    let total: u64 = d.class_counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 150);
    // The class distribution is the model's, label by label.
    let mut want_classes: std::collections::BTreeMap<&str, u64> = Default::default();
    for (label, _) in want.values() {
        *want_classes.entry(label.as_str()).or_default() += 1;
    }
    let got_classes: std::collections::BTreeMap<&str, u64> = d
        .class_counts
        .iter()
        .map(|(l, n)| (l.as_str(), *n))
        .collect();
    assert_eq!(got_classes, want_classes);

    // Paged and filtered through the protocol: keys containing "1", 7 a page, in key order.
    let mut want_keys: Vec<&String> = want.keys().filter(|k| k.contains('1')).collect();
    want_keys.sort();
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = match c
            .request(Request::DispatchPredictions {
                id,
                after_key: after.clone(),
                filter: Some("1".into()),
                limit: 7,
            })
            .await
        {
            Ok(Response::Predictions(p)) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(page.total, want_keys.len() as u64);
        assert!(page.rows.len() <= 7);
        paged.extend(page.rows.into_iter().map(|p| p.row_key));
        match page.next_after {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    assert_eq!(paged.iter().collect::<Vec<_>>(), want_keys);

    // And back from the last page: each page ends just before the one after it.
    let mut back: Vec<String> = Vec::new();
    let mut before = None;
    let mut first = true;
    loop {
        let page = match c
            .request(Request::DispatchPredictionsBefore {
                id,
                before_key: before.clone(),
                filter: Some("1".into()),
                limit: 7,
            })
            .await
        {
            Ok(Response::Predictions(p)) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(page.total, want_keys.len() as u64);
        if page.rows.is_empty() {
            break;
        }
        // The last page has nothing after it; any other has its successor.
        assert_eq!(page.next_after.is_some(), !first, "{:?}", page.next_after);
        first = false;
        before = Some(page.rows[0].row_key.clone());
        let mut keys: Vec<String> = page.rows.into_iter().map(|p| p.row_key).collect();
        keys.extend(back);
        back = keys;
    }
    assert_eq!(back.iter().collect::<Vec<_>>(), want_keys);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_dispatch_on_builtin_sqlite() {
    full_dispatch(Backend::BuiltinSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_dispatch_on_sqlite_odbc() {
    full_dispatch(Backend::SqliteOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_dispatch_on_postgres_odbc() {
    full_dispatch(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_dispatch_on_mariadb_odbc() {
    full_dispatch(Backend::MariaDbOdbc).await;
}

/// Rows with a NULL or non-numeric feature are recorded with key and reason;
/// the rest are scored and written.
async fn unscorable_rows(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(backend, dir.path(), "unscorable");
    // sepal_width as text: non-numeric values can exist on every backend.
    dl.lake
        .execute(
            "CREATE TABLE iris_text (id BIGINT PRIMARY KEY, sepal_length DOUBLE PRECISION, \
             sepal_width VARCHAR(40), petal_length DOUBLE PRECISION, petal_width DOUBLE PRECISION)",
        )
        .unwrap();
    let iris = iris_rows();
    mld_tests::lake::insert_rows(&dl.lake, "iris_text", iris.len(), |i| {
        let f = iris[i].0;
        let id = i + 1;
        let width = match id {
            7 => "NULL".to_string(),
            8 => "'n/a'".to_string(),
            _ => format!("'{}'", f[1]),
        };
        let petal_length = if id == 9 {
            "NULL".to_string()
        } else {
            f[2].to_string()
        };
        format!("{id}, {}, {width}, {petal_length}, {}", f[0], f[3])
    });
    create_results_table(&dl.lake, "scores");
    let model = iris_model(&registry_dir(dir.path()));
    let job = job_toml(
        "score",
        "iris",
        "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_text",
        "scores",
        "batch_size = 50",
    );
    let config = write_config(dir.path(), &dl.toml, &job);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(
        d.summary.status,
        DispatchStatus::Succeeded,
        "{:?}",
        d.summary
    );
    assert_events(&d, 150, 147);
    let reasons: BTreeMap<&str, &str> = d
        .unscorable
        .iter()
        .map(|u| (u.row_key.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        reasons.keys().copied().collect::<Vec<_>>(),
        ["7", "8", "9"],
        "{reasons:?}"
    );
    assert!(reasons["7"].contains("sepal_width") && reasons["7"].contains("NULL"));
    assert!(
        reasons["8"].contains("sepal_width") && reasons["8"].contains("not a number"),
        "{}",
        reasons["8"]
    );
    assert!(reasons["9"].contains("petal_length"), "{}", reasons["9"]);
    let predicted = d.events.iter().find(|e| e.step == "predicted").unwrap();
    assert!(
        predicted.message.as_deref().unwrap_or("").contains('3'),
        "the predicted event says how many could not be scored: {predicted:?}"
    );

    let rows: Vec<(String, [f64; 4])> = iris
        .iter()
        .enumerate()
        .filter(|(i, _)| !(6..=8).contains(i))
        .map(|(i, (f, _))| ((i + 1).to_string(), *f))
        .collect();
    let want = expected(&model, &rows);
    let version = model.meta().version.to_string();
    let got = read_results(&dl.lake, "scores", model.labels(), &[&version]);
    assert_eq!(got.len(), 147);
    for r in &got {
        let (label, score) = want
            .get(&r.row_key)
            .unwrap_or_else(|| panic!("unscorable row {} was written", r.row_key));
        assert_eq!(&r.label, label);
        assert!(close(r.score, *score));
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unscorable_rows_are_recorded_on_builtin_sqlite() {
    unscorable_rows(Backend::BuiltinSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unscorable_rows_are_recorded_on_sqlite_odbc() {
    unscorable_rows(Backend::SqliteOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unscorable_rows_are_recorded_on_postgres_odbc() {
    unscorable_rows(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unscorable_rows_are_recorded_on_mariadb_odbc() {
    unscorable_rows(Backend::MariaDbOdbc).await;
}

/// A dry run scores the first rows and shows what it would write: no
/// dispatch, no stored prediction, nothing in the results table.
async fn dry_run_writes_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(backend, dir.path(), "dry");
    create_iris_table(&dl.lake, "iris_in");
    create_results_table(&dl.lake, "scores");
    let model = iris_model(&registry_dir(dir.path()));
    let job = job_toml(
        "score",
        "iris",
        "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_in ORDER BY id",
        "scores",
        "",
    );
    let config = write_config(dir.path(), &dl.toml, &job);
    let daemon = InProcessDaemon::start(&config).await;
    let mut c = daemon.client().await;
    let dry = match c
        .request(Request::DryRun {
            job: mld_shared::ids::JobName("score".into()),
            rows: 12,
        })
        .await
    {
        Ok(Response::DryRun(d)) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(dry.predictions.len(), 12);
    assert_eq!(dry.would_write.len(), 12);
    assert_eq!(dry.columns.len(), 6);
    let rows: Vec<(String, [f64; 4])> = iris_rows()
        .into_iter()
        .take(12)
        .enumerate()
        .map(|(i, (f, _))| ((i + 1).to_string(), f))
        .collect();
    let want = expected(&model, &rows);
    for p in &dry.predictions {
        let (label, score) = &want[&p.row_key];
        assert_eq!((&p.label, p.score), (label, *score));
    }
    assert_eq!(count_rows(&dl.lake, "scores"), 0);
    let now = jiff::Timestamp::now();
    let list = c
        .request(Request::Dispatches {
            from: (now - jiff::SignedDuration::from_hours(1)).into(),
            to: (now + jiff::SignedDuration::from_hours(1)).into(),
            job: None,
            limit: 10,
        })
        .await;
    assert!(
        matches!(&list, Ok(Response::Dispatches(v)) if v.is_empty()),
        "{list:?}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_on_builtin_sqlite() {
    dry_run_writes_nothing(Backend::BuiltinSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_on_postgres_odbc() {
    dry_run_writes_nothing(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_on_mariadb_odbc() {
    dry_run_writes_nothing(Backend::MariaDbOdbc).await;
}
