//! The model requests through a real daemon in-process on a temporary socket:
//! train → experiment → commit → activate → predict, validation over the
//! wire, roles, training progress and cancel, interrupted runs, ONNX import,
//! and the showroom record of every prediction.

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use mld_shared::frame;
use mld_shared::ids::RequestId;
use mld_shared::protocol::*;
use mld_shared::roles::{Role, Roles};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod in_process;
use in_process::Daemon;

fn iris_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv")
}

fn config(extra: &str) -> String {
    format!(
        "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\n\n\
         [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
         [models.datasets.iris]\ndescription = \"irises\"\ncsv = \"{}\"\nlabel = \"species\"\n\n{extra}",
        iris_csv().display()
    )
}

async fn start_in(dir: tempfile::TempDir, extra: &str) -> Daemon {
    in_process::start_in(dir, &config(extra)).await
}

async fn start(extra: &str) -> Daemon {
    start_in(tempfile::tempdir().unwrap(), extra).await
}

/// A welcomed connection that keeps the updates it sees while waiting for answers.
struct Client {
    stream: Stream,
    next: u64,
    updates: Vec<Update>,
}

impl Client {
    async fn connect(socket: &Path) -> Client {
        let mut stream = Stream::connect(socket.to_fs_name::<GenericFilePath>().unwrap())
            .await
            .unwrap();
        frame::write_message(&mut stream, &Hello::new("test"))
            .await
            .unwrap();
        let reply: HelloReply = frame::read_message(&mut stream).await.unwrap().unwrap();
        assert!(matches!(reply, HelloReply::Welcome(_)), "{reply:?}");
        Client {
            stream,
            next: 1,
            updates: Vec::new(),
        }
    }

    async fn frame(&mut self) -> ServerFrame {
        tokio::time::timeout(
            Duration::from_secs(60),
            frame::read_message(&mut self.stream),
        )
        .await
        .expect("timely frame")
        .unwrap()
        .expect("connection open")
    }

    async fn ask(&mut self, request: Request) -> Result<Response, WireError> {
        let id = RequestId(self.next);
        self.next += 1;
        frame::write_message(&mut self.stream, &ClientFrame { id, request })
            .await
            .unwrap();
        loop {
            match self.frame().await {
                ServerFrame::Response { id: got, result } if got == id => return result,
                ServerFrame::Response { id: got, .. } => panic!("answer to {got:?}, not {id:?}"),
                ServerFrame::Update(u) => self.updates.push(u),
                ServerFrame::Closing { reason } => panic!("closed: {reason}"),
            }
        }
    }

    /// Training updates of `run` until it ends, kept ones first.
    async fn follow(&mut self, run: u64) -> Vec<TrainingInfo> {
        let mut seen = Vec::new();
        let mut kept = std::mem::take(&mut self.updates).into_iter();
        loop {
            let update = match kept.next() {
                Some(u) => u,
                None => match self.frame().await {
                    ServerFrame::Update(u) => u,
                    other => panic!("unexpected {other:?}"),
                },
            };
            if let Update::Training(info) = update
                && info.run == run
            {
                let done = info.status.is_finished();
                seen.push(*info);
                if done {
                    return seen;
                }
            }
        }
    }
}

fn spec(dataset: &str, model: &str, params: &[(&str, &str)]) -> TrainSpec {
    TrainSpec {
        dataset: dataset.into(),
        model: model.into(),
        hyperparameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        test_split: 0.3,
        seed: Some(7),
    }
}

async fn showroom_rows(d: &Daemon, want: usize) -> Vec<(String, String, String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows: Vec<(String, String, String, String, String)> = d
            .context
            .eventlog
            .read(|c| {
                let mut s = c.prepare(
                    "SELECT by_user, model, model_version, row_json, label FROM showroom_predictions ORDER BY id",
                )?;
                s.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .await
            .unwrap();
        if rows.len() >= want || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run_row(d: &Daemon, run: u64) -> (String, Option<String>, Option<String>) {
    d.context
        .eventlog
        .read(move |c| {
            c.query_row(
                "SELECT status, experiment, error FROM training_runs WHERE id = ?1",
                [run as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_commit_activate_then_predict_like_the_registry() {
    let d = start("").await;
    let mut c = Client::connect(&d.socket).await;
    let Response::Subscribed(_) = c.ask(Request::Subscribe).await.unwrap() else {
        panic!()
    };
    let Response::Catalog(catalog) = c.ask(Request::Catalog).await.unwrap() else {
        panic!()
    };
    let iris = catalog.datasets.iter().find(|d| d.name == "iris").unwrap();
    assert_eq!(iris.records, 150);
    assert_eq!(iris.classes.len(), 3);
    assert!(catalog.models.iter().any(|m| m.name == "decision_tree"));

    let started = c
        .ask(Request::Train(spec(
            "iris",
            "decision_tree",
            &[("max_depth", "4")],
        )))
        .await
        .unwrap();
    let Response::TrainingStarted { run } = started else {
        panic!("{started:?}")
    };
    // Progress reaches the subscriber, ending with the experiment.
    let seen = c.follow(run).await;
    assert!(seen.len() >= 2, "{seen:?}");
    assert_eq!(seen[0].status, TrainingStatus::Running);
    let last = seen.last().unwrap();
    assert_eq!(last.status, TrainingStatus::Succeeded, "{last:?}");
    assert_eq!(last.stage, "done");
    assert_eq!(
        last.spec.hyperparameters,
        vec![("max_depth".into(), "4".into())]
    );
    assert_eq!(last.spec.seed, Some(7));
    let experiment = last.experiment.clone().unwrap();

    let Response::Training(info) = c.ask(Request::TrainingRun { run }).await.unwrap() else {
        panic!()
    };
    assert_eq!(info.experiment.as_deref(), Some(experiment.as_str()));
    // The latest runs list it, as it finished.
    let Response::TrainingRuns(runs) = c.ask(Request::TrainingRuns { limit: 5 }).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0], *info);
    assert_eq!(
        run_row(&d, run).await,
        ("succeeded".into(), Some(experiment.clone()), None)
    );

    let Response::Experiments(list) = c.ask(Request::Experiments).await.unwrap() else {
        panic!()
    };
    assert!(list.iter().any(|e| e.id == experiment));
    let Response::Experiment(exp) = c
        .ask(Request::Experiment {
            id: experiment.clone(),
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    let metrics = exp.model.metrics.clone().unwrap();
    assert!(metrics.accuracy > 0.8, "{metrics:?}");
    assert_eq!(metrics.confusion.len(), 3);
    assert_eq!(metrics.per_class.len(), 3);
    assert_eq!(exp.model.dataset.as_deref(), Some("iris"));
    assert_eq!(
        exp.model.train_rows.unwrap() + exp.model.test_rows.unwrap(),
        150
    );

    let Response::ModelVersion(v) = c
        .ask(Request::CommitExperiment {
            id: experiment.clone(),
            name: "iris".into(),
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((v.name.as_str(), v.version, v.active), ("iris", 1, false));
    // Committed: the experiment is gone.
    let err = c
        .ask(Request::Experiment { id: experiment })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    // Without an active version, predicting by name says so.
    let err = c
        .ask(Request::Predict {
            model: "iris".into(),
            version: None,
            input: PredictInput::Positional(vec![5.0, 3.0, 1.5, 0.2]),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains("no active version"), "{}", err.message);

    let Response::ModelVersion(v) = c
        .ask(Request::ActivateModel {
            name: "iris".into(),
            version: 1,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(v.active);
    let Response::Models(models) = c.ask(Request::Models).await.unwrap() else {
        panic!()
    };
    let iris = models.iter().find(|m| m.name == "iris").unwrap();
    assert_eq!(iris.active, Some(1));
    assert!(iris.versions[0].active && iris.versions[0].metrics.is_some());

    // Predict through the daemon = the model loaded from the registry directly.
    let model = d.context.registry.load("iris", 1).unwrap();
    let features = model.features().to_vec();
    let rows = [
        [5.1, 3.5, 1.4, 0.2],
        [6.0, 2.7, 5.1, 1.6],
        [6.9, 3.1, 5.4, 2.1],
        [5.5, 2.4, 3.8, 1.1],
    ];
    for row in rows {
        let x = ndarray::Array2::from_shape_vec((1, 4), row.to_vec()).unwrap();
        let expected = model
            .predict(&model.bind(&features).unwrap(), x.view())
            .unwrap();
        let named: Vec<(String, f64)> = features.iter().cloned().zip(row).rev().collect();
        for input in [
            PredictInput::Positional(row.to_vec()),
            PredictInput::Named(named),
        ] {
            let Response::Prediction(p) = c
                .ask(Request::Predict {
                    model: "iris".into(),
                    version: None,
                    input,
                })
                .await
                .unwrap()
            else {
                panic!()
            };
            assert_eq!(p.label, expected[0].label().unwrap().as_ref());
            assert_eq!(p.score, expected[0].score().unwrap());
            assert_eq!(p.version, 1);
            assert_eq!(
                p.features,
                features.iter().cloned().zip(row).collect::<Vec<_>>()
            );
        }
    }
    // A missing feature is named; so is a wrong count.
    let err = c
        .ask(Request::Predict {
            model: "iris".into(),
            version: Some(1),
            input: PredictInput::Named(vec![("sepal_length".into(), 5.0)]),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(
        err.message
            .starts_with("missing features sepal_width, petal_length, petal_width;"),
        "{}",
        err.message
    );
    let err = c
        .ask(Request::Predict {
            model: "iris".into(),
            version: Some(1),
            input: PredictInput::Positional(vec![1.0]),
        })
        .await
        .unwrap_err();
    assert!(
        err.message
            .starts_with("1 values given; model iris v1 takes 4 features")
    );

    // Every prediction is recorded: who, model version, the row, the label.
    let recorded = showroom_rows(&d, 8).await;
    assert_eq!(recorded.len(), 8, "{recorded:?}");
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap();
    let (by, model_name, version, row_json, _) = &recorded[0];
    assert_eq!(
        (by, model_name.as_str(), version.as_str()),
        (&user, "iris", "1")
    );
    let row: serde_json::Value = serde_json::from_str(row_json).unwrap();
    assert_eq!(row["sepal_length"], 5.1);
    assert_eq!(row["petal_width"], 0.2);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_requests_are_validated_field_by_field_over_the_wire() {
    let d = start("").await;
    let mut c = Client::connect(&d.socket).await;
    let mut bad = spec(
        "nope",
        "random_forest",
        &[
            ("n_trees", "0"),
            ("max_features", "some"),
            ("max_depth", "deep"),
            ("colour", "red"),
        ],
    );
    bad.test_split = 1.0;
    // Checked first, the same problems come back one per field, structured.
    let Response::TrainingProblems(problems) =
        c.ask(Request::CheckTraining(bad.clone())).await.unwrap()
    else {
        panic!()
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for field in [
        "dataset",
        "hyperparameters.n_trees",
        "hyperparameters.max_features",
        "hyperparameters.max_depth",
        "hyperparameters.colour",
        "test_split",
    ] {
        assert!(fields.contains(&field), "{field} missing from {problems:?}");
    }
    let depth = problems
        .iter()
        .find(|p| p.field == "hyperparameters.max_depth")
        .unwrap();
    assert_eq!(depth.message, "expected an integer, got \"deep\"");
    let Response::TrainingProblems(none) = c
        .ask(Request::CheckTraining(spec("iris", "decision_tree", &[])))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(none, vec![], "a good request has no problem");

    let err = c.ask(Request::Train(bad)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    let m = &err.message;
    assert!(m.starts_with("invalid training request: "), "{m}");
    for field in [
        "dataset: no dataset \"nope\"",
        "hyperparameters.n_trees: 0 is out of range [1, 1000]",
        "hyperparameters.max_features: \"some\" is not one of: sqrt, all",
        "hyperparameters.max_depth: expected an integer, got \"deep\"",
        "hyperparameters.colour: random_forest has no hyperparameter \"colour\"",
        "test_split: must be strictly between 0 and 1",
    ] {
        assert!(m.contains(field), "{field} missing from: {m}");
    }
    let err = c
        .ask(Request::Train(spec("iris", "kmeans", &[])))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("model: no model \"kmeans\""),
        "{}",
        err.message
    );
    // Nothing was started or recorded.
    let runs: i64 = d
        .context
        .eventlog
        .read(|c| c.query_row("SELECT count(*) FROM training_runs", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(runs, 0);
    let err = c.ask(Request::TrainingRun { run: 99 }).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    let err = c
        .ask(Request::Predict {
            model: "ghost".into(),
            version: Some(3),
            input: PredictInput::Positional(vec![1.0]),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "no model ghost version 3")
    );
    d.stop().await;
}

#[tokio::test]
async fn only_admins_change_models_and_showroom_users_predict() {
    let d = start("").await;
    let peer = |roles: Roles| mld::access::Peer {
        uid: 4242,
        gid: 4242,
        pid: None,
        user: "carol".into(),
        groups: vec![],
        roles,
    };
    let analyst = peer(Roles::none().with(Role::Showroom).with(Role::Dispatch));
    let admin_only = [
        Request::Train(spec("iris", "decision_tree", &[])),
        Request::CancelTraining { run: 1 },
        Request::DeleteExperiment { id: "x".into() },
        Request::CommitExperiment {
            id: "x".into(),
            name: "iris".into(),
        },
        Request::ActivateModel {
            name: "iris".into(),
            version: 1,
        },
        Request::ImportOnnx {
            name: "sk".into(),
            features: vec!["a".into()],
            labels: None,
            onnx: vec![1, 2, 3],
        },
    ];
    for request in &admin_only {
        let err = mld::server::handlers::authorize(&d.context, &analyst, request)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied);
        assert_eq!(
            err.message,
            format!("permission denied: {} needs admin", request.name())
        );
    }
    let predict = Request::Predict {
        model: "iris".into(),
        version: None,
        input: PredictInput::Positional(vec![]),
    };
    mld::server::handlers::authorize(&d.context, &analyst, &predict)
        .await
        .unwrap();
    for read in [Request::Models, Request::Catalog, Request::Experiments] {
        mld::server::handlers::authorize(&d.context, &analyst, &read)
            .await
            .unwrap();
    }
    let operator = peer(Roles::none().with(Role::Dispatch));
    let err = mld::server::handlers::authorize(&d.context, &operator, &predict)
        .await
        .unwrap_err();
    assert_eq!(err.message, "permission denied: predict needs showroom");
    // Recorded: one row for the uid's minute, counting every refusal.
    d.context.denials.flush().await;
    let denials: (i64, i64) = d
        .context
        .eventlog
        .read(|c| {
            c.query_row("SELECT count(*), sum(count) FROM access_denials", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .await
        .unwrap();
    assert_eq!(denials, (1, admin_only.len() as i64 + 1));
    d.stop().await;
}

/// A dataset big enough that a 1000-tree forest takes a long while.
fn write_big_dataset(dir: &Path) -> PathBuf {
    let path = dir.join("big.csv");
    let mut text = String::from("a,b,c,d,e,f,label\n");
    let mut x: u64 = 12345;
    for i in 0..6000 {
        let mut v = [0.0f64; 6];
        for slot in &mut v {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *slot = (x >> 33) as f64 / (1u64 << 31) as f64;
        }
        let label = ["x", "y", "z"][(i % 3 + (v[0] > 0.7) as usize) % 3];
        text.push_str(&format!(
            "{},{},{},{},{},{},{label}\n",
            v[0], v[1], v[2], v[3], v[4], v[5]
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_training_run_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let big = write_big_dataset(dir.path());
    let d = start_in(
        dir,
        &format!(
            "[models.datasets.big]\ncsv = \"{}\"\nlabel = \"label\"\n",
            big.display()
        ),
    )
    .await;
    let mut c = Client::connect(&d.socket).await;
    c.ask(Request::Subscribe).await.unwrap();
    let Response::TrainingStarted { run } = c
        .ask(Request::Train(spec(
            "big",
            "random_forest",
            &[("n_trees", "1000"), ("max_features", "all")],
        )))
        .await
        .unwrap()
    else {
        panic!()
    };
    // Wait until it is fitting, then cancel.
    loop {
        let Response::Training(info) = c.ask(Request::TrainingRun { run }).await.unwrap() else {
            panic!()
        };
        assert_eq!(info.status, TrainingStatus::Running, "{info:?}");
        if info.stage == "fitting" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The latest runs show it running, with its live stage (not the log's).
    let Response::TrainingRuns(runs) = c.ask(Request::TrainingRuns { limit: 5 }).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (runs[0].run, runs[0].status, runs[0].stage.as_str()),
        (run, TrainingStatus::Running, "fitting")
    );
    let asked = Instant::now();
    let Response::Training(info) = c.ask(Request::CancelTraining { run }).await.unwrap() else {
        panic!()
    };
    assert_eq!(info.run, run);
    let seen = c.follow(run).await;
    let last = seen.last().unwrap();
    assert_eq!(last.status, TrainingStatus::Cancelled, "{last:?}");
    assert!(last.experiment.is_none());
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(run_row(&d, run).await.0, "cancelled");
    let Response::Experiments(list) = c.ask(Request::Experiments).await.unwrap() else {
        panic!()
    };
    assert!(list.is_empty(), "{list:?}");
    let err = c.ask(Request::CancelTraining { run }).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_left_running_by_a_dead_daemon_are_marked_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mld.toml");
    std::fs::write(&path, config("")).unwrap();
    let config = mld_shared::config::load(&path).unwrap();
    {
        let log = mld::eventlog::EventLog::open(&config.daemon.event_log_path()).unwrap();
        log.write(|tx| {
            tx.execute(
                "INSERT INTO training_runs(requested_by, request_json, status, started_at)
                 VALUES ('root', '{}', 'running', 1000)",
                [],
            )
        })
        .await
        .unwrap();
    }
    let d = start_in(dir, "").await;
    let mut c = Client::connect(&d.socket).await;
    let Response::Training(info) = c.ask(Request::TrainingRun { run: 1 }).await.unwrap() else {
        panic!()
    };
    assert_eq!(info.status, TrainingStatus::Interrupted);
    assert!(info.error.unwrap().contains("daemon stopped"));
    assert!(info.finished_at.is_some());
    assert_eq!(run_row(&d, 1).await.0, "interrupted");
    d.stop().await;
}

fn python_has_sklearn() -> bool {
    Command::new("python3")
        .args(["-c", "import sklearn, skl2onnx, onnxruntime"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_sklearn_model_predicts_like_sklearn_through_the_daemon() {
    if !python_has_sklearn() {
        eprintln!(
            "\n\n*** SKIPPED an_imported_sklearn_model_predicts_like_sklearn_through_the_daemon: python3 with scikit-learn, skl2onnx and onnxruntime not found (pip install scikit-learn skl2onnx onnxruntime) ***\n"
        );
        return;
    }
    let d = start("").await;
    let out = d.dir.path().join("sk");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scripts/sklearn_models.py");
    let status = Command::new("python3")
        .arg(script)
        .arg(&out)
        .arg("20")
        .status()
        .unwrap();
    assert!(status.success(), "sklearn_models.py failed");
    let mut csv = csv_rows(&out.join("rows.csv"));
    let features: Vec<String> = csv.remove(0).iter().map(|v| v.to_string()).collect();
    let mut c = Client::connect(&d.socket).await;
    for kind in [
        "logistic_regression",
        "random_forest",
        "pipeline_standard_tree",
    ] {
        let onnx = std::fs::read(out.join(format!("{kind}.onnx"))).unwrap();
        let Response::ModelVersion(v) = c
            .ask(Request::ImportOnnx {
                name: kind.replace('_', "-"),
                features: features.clone(),
                labels: None,
                onnx,
            })
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"))
        else {
            panic!()
        };
        assert_eq!((v.version, v.algorithm.as_str()), (1, "onnx"));
        let expected: Vec<String> = std::fs::read_to_string(out.join(format!("{kind}.pred")))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        for (row, label) in csv.iter().zip(&expected).take(8) {
            let values: Vec<f64> = row.iter().map(|v| v.parse().unwrap()).collect();
            let Response::Prediction(p) = c
                .ask(Request::Predict {
                    model: kind.replace('_', "-"),
                    version: Some(1),
                    input: PredictInput::Positional(values),
                })
                .await
                .unwrap()
            else {
                panic!()
            };
            assert_eq!(&p.label, label, "{kind}");
        }
    }
    // A graph that is not ONNX is refused with the reason, as a bad request.
    let err = c
        .ask(Request::ImportOnnx {
            name: "junk".into(),
            features: features.clone(),
            labels: None,
            onnx: b"not an onnx graph".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest, "{}", err.message);
    assert!(showroom_rows(&d, 24).await.len() == 24);
    d.stop().await;
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}
