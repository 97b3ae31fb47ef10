//! A panic in a dispatch pipeline or a training thread fails that dispatch or
//! run with the panic's message, and the daemon's services carry on: the
//! next dispatch and the next run succeed. The panic comes from real code
//! the service calls on its thread: the observer it was given (the daemon's
//! publishes updates), so no part of the pipeline or the fit is faked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mld::dispatch::record::{DispatchRecord, DispatchStatus};
use mld::dispatch::{DispatchService, Observer, store};
use mld::eventlog::EventLog;
use mld::model::Registry;
use mld::scheduler::{DispatchRequest, StartRecord, StoreBatch, Trigger};
use mld::training::runner::{RunRecord, RunStatus, TrainingRunner};
use mld::training::{Catalog, Stage, TrainRequest};
use mld_shared::ids::JobName;
use mld_tests::lake::Backend;
use mld_tests::scoring::*;

/// Panics once, the first time `when` holds.
fn panics_once<T: 'static>(
    when: impl Fn(&T) -> bool + Send + Sync + 'static,
) -> Arc<dyn Fn(&T) + Send + Sync> {
    let fired = AtomicBool::new(false);
    Arc::new(move |x: &T| {
        if when(x) && !fired.swap(true, Ordering::SeqCst) {
            panic!("observer boom");
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_dispatch_fails_it_with_the_message_and_the_next_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    iris_model(&registry_dir(dir.path()));
    let dl = DaemonLake::new(Backend::BuiltinSqlite, dir.path(), "panic");
    create_iris_table(&dl.lake, "iris_in");
    create_results_table(&dl.lake, "scores");
    let job = job_toml(
        "score",
        "iris",
        "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_in",
        "scores",
        "batch_size = 40",
    );
    let config = mld_shared::config::load(&write_config(dir.path(), &dl.toml, &job)).unwrap();
    let log = EventLog::open(&config.daemon.event_log_path()).unwrap();
    let registry = Registry::from_config(&config.models).unwrap();
    let shared = Arc::new(std::sync::RwLock::new(Arc::new(config)));
    let (finished_tx, mut finished) = tokio::sync::mpsc::channel(16);
    // The observer panics when told the first dispatch's predictions are
    // stored, before its write-back begins.
    let observer: Observer =
        panics_once(|r: &DispatchRecord| r.counts.stored > 0 && r.counts.inserted == 0);
    let service = Arc::new(DispatchService::new(
        log.clone(),
        registry,
        shared,
        finished_tx,
        observer,
    ));
    let request = DispatchRequest {
        job: JobName("score".into()),
        trigger: Trigger::Manual,
        slot: None,
        who: Some("tester".into()),
    };
    for attempt in 0..2 {
        let (s, r) = (service.clone(), request.clone());
        // No scheduler here: nothing to record with the dispatch.
        let record: StartRecord = Box::new(|_| StoreBatch::default());
        let id = tokio::task::spawn_blocking(move || s.start_blocking(&r, record))
            .await
            .unwrap()
            .unwrap();
        let (_, done) = tokio::time::timeout(Duration::from_secs(60), finished.recv())
            .await
            .expect("the dispatch ends")
            .unwrap();
        assert_eq!(done, id);
        let rec = log.read(move |c| store::get(c, id)).await.unwrap().unwrap();
        if attempt == 0 {
            assert_eq!(rec.status, DispatchStatus::Failed, "{rec:?}");
            let error = rec.error.as_deref().unwrap();
            assert_eq!(error, "panicked: observer boom");
            assert_eq!(rec.failed_step.map(|s| s.as_str()), Some("inserted"));
            // Nothing was written back.
            assert_eq!(count_rows(&dl.lake, "scores"), 0);
        } else {
            assert_eq!(rec.status, DispatchStatus::Succeeded, "{rec:?}");
            assert_eq!(rec.counts.inserted, 150);
        }
        assert_eq!(service.running_count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_training_thread_fails_the_run_and_the_next_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(&dir.path().join("events.db")).unwrap();
    let registry = Registry::open(dir.path().join("registry"), None).unwrap();
    let observer = panics_once(|r: &RunRecord| r.stage == Stage::Fitting);
    let runner = Arc::new(TrainingRunner::new(log.clone(), registry, observer));
    let datasets = [(
        "iris".to_string(),
        mld_shared::config::DatasetConfig {
            description: None,
            csv: Some(iris_csv()),
            datalake: None,
            query: None,
            label: "species".into(),
            features: None,
            task: None,
        },
    )]
    .into_iter()
    .collect();
    let catalog = Catalog::new(&datasets);
    let request = TrainRequest {
        dataset: "iris".into(),
        model: "decision_tree".into(),
        hyperparameters: Default::default(),
        test_split: 0.3,
        seed: 7,
    };
    for attempt in 0..2 {
        let started = runner
            .start(catalog.clone(), request.clone(), "tester")
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let record = loop {
            let r = runner.get(started.run).await.unwrap();
            if r.status.is_finished() {
                break r;
            }
            assert!(std::time::Instant::now() < deadline, "the run never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let run = started.run as i64;
        let (status, error): (String, Option<String>) = log
            .read(move |c| {
                c.query_row(
                    "SELECT status, error FROM training_runs WHERE id = ?1",
                    [run],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .await
            .unwrap();
        if attempt == 0 {
            assert_eq!(record.status, RunStatus::Failed);
            assert_eq!(
                record.error.as_deref(),
                Some("training panicked: observer boom")
            );
            assert_eq!(
                (status.as_str(), error.as_deref()),
                ("failed", Some("training panicked: observer boom"))
            );
        } else {
            assert_eq!(record.status, RunStatus::Succeeded, "{record:?}");
            assert_eq!(status, "succeeded");
        }
    }
    assert_eq!(runner.running_count(), 0);
}
