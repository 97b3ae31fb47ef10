//! The showroom through a real daemon in-process on a temporary socket:
//! predict-all equals predict-one row by row, an edited row equals `Predict`
//! with the same values, every prediction is recorded (who, version, hash,
//! values, classes, edited), a moved alias reaches the next prediction at
//! once, a broken sample file answers with its line, roles, and the datalake
//! left untouched.

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use mld::showroom::store::{self, Source};
use mld_shared::frame;
use mld_shared::ids::RequestId;
use mld_shared::protocol::*;
use mld_shared::roles::{Role, Roles};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod in_process;
use in_process::Daemon;

fn iris_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv")
}

fn demo_samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris-samples.csv")
}

/// A daemon with the demo's iris model (v1, logistic regression, active), a
/// showroom on the demo's samples, and a SQLite datalake holding one table.
async fn start() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let reg = mld::model::Registry::open(dir.path().join("models"), None).unwrap();
    mld::training::demo::ensure_iris_model(&reg, &iris_csv()).unwrap();
    // The same model under another name, for the showroom whose file is broken.
    let v1 = reg.meta("iris", 1).unwrap();
    let artifact: mld::model::NativeArtifact = serde_json::from_slice(
        &std::fs::read(dir.path().join("models/iris/v1/model.json")).unwrap(),
    )
    .unwrap();
    reg.commit_as("broken", 1, v1, &artifact).unwrap();
    reg.set_active("broken", 1).unwrap();
    let lake = rusqlite::Connection::open(dir.path().join("lake.db")).unwrap();
    lake.execute_batch("CREATE TABLE t(a REAL); INSERT INTO t VALUES (1.0);")
        .unwrap();
    drop(lake);
    let config = format!(
        "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\n\n\
         [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\nprobe_table = \"t\"\n\n\
         [models]\nregistry = \"models\"\n\n\
         [showroom.iris]\nsamples = \"{}\"\ncolumns = 3\n\n\
         [showroom.broken]\nsamples = \"broken.csv\"\n",
        demo_samples().display()
    );
    std::fs::write(
        dir.path().join("broken.csv"),
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4\n",
    )
    .unwrap();
    in_process::start_in(dir, &config).await
}

struct Client {
    stream: Stream,
    next: u64,
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
        Client { stream, next: 1 }
    }

    async fn ask(&mut self, request: Request) -> Result<Response, WireError> {
        let id = RequestId(self.next);
        self.next += 1;
        frame::write_message(&mut self.stream, &ClientFrame { id, request })
            .await
            .unwrap();
        loop {
            let f: ServerFrame = tokio::time::timeout(
                Duration::from_secs(60),
                frame::read_message(&mut self.stream),
            )
            .await
            .expect("timely answer")
            .unwrap()
            .expect("connection open");
            match f {
                ServerFrame::Response { id: got, result } if got == id => return result,
                ServerFrame::Response { id: got, .. } => panic!("answer to {got:?}, not {id:?}"),
                ServerFrame::Update(_) => {}
                ServerFrame::Closing { reason } => panic!("closed: {reason}"),
            }
        }
    }

    async fn open(&mut self, model: &str) -> ShowroomView {
        match self
            .ask(Request::OpenShowroom {
                model: model.into(),
            })
            .await
        {
            Ok(Response::Showroom(v)) => *v,
            other => panic!("{other:?}"),
        }
    }

    async fn predict(&mut self, row: u32, set: &[(&str, f64)]) -> ShowroomPrediction {
        match self
            .ask(Request::ShowroomPredict {
                model: "iris".into(),
                row,
                set: set
                    .iter()
                    .map(|(k, v)| (k.to_string(), FeatureValue::Number(*v)))
                    .collect(),
            })
            .await
        {
            Ok(Response::ShowroomPrediction(p)) => *p,
            other => panic!("{other:?}"),
        }
    }
}

async fn recorded(d: &Daemon) -> Vec<store::Record> {
    d.context
        .eventlog
        .read(|c| store::recent(c, 10_000))
        .await
        .unwrap()
}

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| nix::unistd::geteuid().to_string())
}

fn number(v: &FeatureValue) -> f64 {
    match v {
        FeatureValue::Number(x) => *x,
        other => panic!("a number, not {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_all_equals_predict_one_and_every_prediction_is_recorded() {
    let d = start().await;
    let lake_before = std::fs::read(d.dir.path().join("lake.db")).unwrap();
    let mut c = Client::connect(&d.socket).await;
    let meta = d.context.registry.meta("iris", 1).unwrap();

    let view = c.open("iris").await;
    assert_eq!(
        (view.version, view.hash.as_str()),
        (1, meta.content_sha256.as_str())
    );
    assert_eq!(view.algorithm, "logistic_regression");
    assert_eq!(view.score_kind, ScoreKind::Probability);
    assert_eq!(view.shown, 3);
    assert_eq!(
        view.columns,
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    assert_eq!(view.rows.len(), 12);
    assert_eq!(view.rows[0].line, 2);
    assert_eq!(view.rows[0].cells, ["5.8", "2.7", "3.9", "1.2"]);
    let recorded_all = recorded(&d).await;
    assert_eq!(recorded_all.len(), 12, "predict-all records every row");

    // Predict-one of each row says exactly what predict-all said.
    for (i, row) in view.rows.iter().enumerate() {
        let p = c.predict(i as u32 + 1, &[]).await;
        assert_eq!(p.outcome, row.outcome, "row {}", i + 1);
        assert_eq!(p.classes, row.classes, "row {}", i + 1);
        assert_eq!(p.line, row.line);
        assert!(!p.edited);
        let values: Vec<f64> = p.values.iter().map(|(_, v)| number(v)).collect();
        let row_values: Vec<f64> = row.values.iter().map(number).collect();
        assert_eq!(values, row_values);
        // Probabilities: one per class, summing to 1.
        let sum: f64 = p.classes.iter().map(|c| c.score.unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{:?}", p.classes);
        let Explanation::Contributions { label, terms, .. } = &p.explanation else {
            panic!(
                "a logistic regression explains by contributions: {:?}",
                p.explanation
            )
        };
        let Outcome::Class {
            label: predicted, ..
        } = &p.outcome
        else {
            panic!("a class: {:?}", p.outcome)
        };
        assert_eq!(label, predicted);
        assert_eq!(terms.len(), 4);
        assert!(
            terms
                .windows(2)
                .all(|w| w[0].contribution.abs() >= w[1].contribution.abs()),
            "{terms:?}"
        );
    }

    // An edited row's prediction equals `Predict` with the same values.
    // Row 4 of the demo samples is a setosa (4.8, 3, 1.4, 0.1).
    let setosa = 4;
    assert!(matches!(&view.rows[3].outcome, Outcome::Class { label, .. } if label == "setosa"));
    let edited = c.predict(setosa, &[("petal_length", 5.0)]).await;
    assert!(edited.edited);
    let Outcome::Class {
        label: edited_label,
        score: edited_score,
    } = &edited.outcome
    else {
        panic!("a class: {:?}", edited.outcome)
    };
    assert_ne!(edited_label, "setosa", "a long petal is no setosa");
    let Response::Prediction(direct) = c
        .ask(Request::Predict {
            model: "iris".into(),
            version: None,
            input: PredictInput::Named(
                edited
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), number(v)))
                    .collect(),
            ),
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (&direct.label, direct.score, direct.version),
        (edited_label, *edited_score, 1)
    );

    // Recorded: 12 + 12 one by one + 1 edited + 1 given, each with who, version and hash.
    let all = recorded(&d).await;
    assert_eq!(all.len(), 12 + 12 + 1 + 1);
    for r in &all {
        assert_eq!(r.by_user, me());
        assert_eq!((r.model.as_str(), r.version), ("iris", 1));
        assert_eq!(r.hash, meta.content_sha256);
        assert_eq!(r.values.len(), 4);
        assert_eq!(r.classes.len(), 3);
    }
    let sources: Vec<Source> = all.iter().map(|r| r.source).collect();
    assert_eq!(&sources[..12], &[Source::All; 12]);
    assert_eq!(&sources[12..24], &[Source::One; 12]);
    assert_eq!(sources[24], Source::Edited);
    assert_eq!(sources[25], Source::Given);
    let e = &all[24];
    assert_eq!(
        e.values[2],
        (
            "petal_length".to_string(),
            mld::model::input::Value::Number(5.0)
        )
    );
    assert_eq!(&e.label, edited_label);
    assert_eq!(e.line, Some(setosa as u64 + 1));
    let edited_flag: i64 = d
        .context
        .eventlog
        .read(|c| {
            c.query_row("SELECT sum(edited) FROM showroom_predictions", [], |r| {
                r.get(0)
            })
        })
        .await
        .unwrap();
    assert_eq!(edited_flag, 1);

    // Showroom predictions never touch a datalake.
    assert_eq!(
        std::fs::read(d.dir.path().join("lake.db")).unwrap(),
        lake_before
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_alias_reaches_the_next_prediction_and_trees_explain_by_path() {
    let d = start().await;
    let mut c = Client::connect(&d.socket).await;
    let before = c.predict(2, &[]).await;
    assert_eq!(before.version, 1);

    // Version 2: a decision tree, committed behind the daemon's back, then activated.
    let data = mld::training::dataset::load_csv("iris", &iris_csv(), "species", None).unwrap();
    let request = mld::training::catalog::ValidRequest {
        dataset: "iris".into(),
        algorithm: mld::model::Algorithm::DecisionTree,
        hyperparameters: mld::training::catalog::default_hyperparameters(
            mld::model::Algorithm::DecisionTree,
        ),
        test_split: 0.3,
        seed: 5,
    };
    let trained = mld::training::train_on(
        &request,
        &data,
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    d.context
        .registry
        .commit_as("iris", 2, trained.meta, &trained.artifact)
        .unwrap();
    let v2 = d.context.registry.meta("iris", 2).unwrap();
    let Response::ModelVersion(_) = c
        .ask(Request::ActivateModel {
            name: "iris".into(),
            version: 2,
        })
        .await
        .unwrap()
    else {
        panic!()
    };

    let after = c.predict(2, &[("petal_length", 5.0)]).await;
    assert_eq!(
        (after.version, after.hash.as_str()),
        (2, v2.content_sha256.as_str())
    );
    assert_eq!(after.score_kind, ScoreKind::LeafShare);
    let Explanation::Path {
        steps,
        label,
        share,
    } = &after.explanation
    else {
        panic!("a tree explains by its path: {:?}", after.explanation)
    };
    assert!(!steps.is_empty());
    let Outcome::Class {
        label: predicted,
        score,
    } = &after.outcome
    else {
        panic!("a class: {:?}", after.outcome)
    };
    assert_eq!((label, *share), (predicted, *score));
    // Every step states the row's own value and which way the test went.
    for s in steps {
        let j = after
            .values
            .iter()
            .position(|(f, _)| *f == s.feature)
            .unwrap();
        assert_eq!(s.value, number(&after.values[j].1));
        let t = s.threshold.expect("iris features are not constant");
        assert_eq!(s.below, s.value < t, "{s:?}");
    }
    let view = c.open("iris").await;
    assert_eq!(view.version, 2);
    assert_eq!(view.algorithm, "decision_tree");
    let last = recorded(&d).await.pop().unwrap();
    assert_eq!((last.version, last.hash), (2, v2.content_sha256));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_sample_file_answers_with_its_line_and_the_others_keep_working() {
    let d = start().await;
    let mut c = Client::connect(&d.socket).await;
    let broken = d.dir.path().join("broken.csv");
    let err = c
        .ask(Request::OpenShowroom {
            model: "broken".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert_eq!(
        err.message,
        format!(
            "{}:2: 3 fields, but the header has 4 columns",
            broken.display()
        )
    );
    let Response::Showrooms(list) = c.ask(Request::Showrooms).await.unwrap() else {
        panic!()
    };
    let names: Vec<&str> = list.iter().map(|s| s.model.as_str()).collect();
    assert_eq!(names, ["broken", "iris"]);
    assert_eq!(list[0].problem.as_deref(), Some(err.message.as_str()));
    assert_eq!(list[0].rows, None);
    assert_eq!(
        (list[1].rows, list[1].active, &list[1].problem),
        (Some(12), Some(1), &None)
    );
    assert_eq!(c.open("iris").await.rows.len(), 12);

    let err = c
        .ask(Request::OpenShowroom {
            model: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    let err = c
        .ask(Request::ShowroomPredict {
            model: "iris".into(),
            row: 13,
            set: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::NotFound,
            "the showroom of iris has 12 sample rows; there is no row 13"
        )
    );
    // Nothing was recorded for requests that predicted nothing.
    assert_eq!(recorded(&d).await.len(), 12);

    // Fixed: picked up at the next request, no reload needed.
    std::fs::write(
        &broken,
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n",
    )
    .unwrap();
    assert_eq!(c.open("broken").await.rows.len(), 1);
    d.stop().await;
}

#[tokio::test]
async fn showroom_and_admin_may_use_it_dispatch_is_denied_and_recorded() {
    let d = start().await;
    let peer = |roles: Roles| mld::access::Peer {
        uid: 4242,
        gid: 4242,
        pid: None,
        user: "carol".into(),
        groups: vec![],
        roles,
    };
    let requests = [
        Request::Showrooms,
        Request::OpenShowroom {
            model: "iris".into(),
        },
        Request::ShowroomPredict {
            model: "iris".into(),
            row: 1,
            set: vec![],
        },
    ];
    for roles in [
        Roles::none().with(Role::Showroom),
        Roles::none().with(Role::Admin),
    ] {
        for r in &requests {
            mld::server::handlers::authorize(&d.context, &peer(roles), r)
                .await
                .unwrap();
        }
    }
    let operator = peer(Roles::none().with(Role::Dispatch));
    for r in &requests {
        let err = mld::server::handlers::authorize(&d.context, &operator, r)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied);
        assert_eq!(
            err.message,
            format!("permission denied: {} needs showroom", r.name())
        );
    }
    // Recorded once for the uid's minute (the first refusal), with the count.
    d.context.denials.flush().await;
    let denials: Vec<(String, String, String, u64)> = d
        .context
        .eventlog
        .read(mld::access::store::all)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.user, r.request, r.needed, r.count))
        .collect();
    assert_eq!(
        denials,
        [("carol".into(), "showrooms".into(), "showroom".into(), 3)]
    );
    d.stop().await;
}
