//! A fixed daemon state and a fixed "now" for tests: every screen drawn from
//! these is the same on every run.

use crate::app::{App, Cmd, Msg, update};
use crate::conn::ConnEvent;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::{Timestamp, Zoned};
use mld_shared::ids::RequestId;
use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::{
    DaemonStatus, DispatchDetail, DispatchEventInfo, DispatchStatus, DispatchSummary, HealthEntry,
    HealthKind, HealthState, JobState, JobSummary, PROTOCOL_VERSION, Snapshot, Trigger,
    UnscorableInfo, Welcome,
};
use mld_shared::protocol::{Request, Response, WireError};
use mld_shared::roles::Roles;
use mld_shared::time::WireTime;

/// A console that has not connected yet, at [`now`], showing UTC.
pub fn fresh() -> App {
    App::new(
        "/run/mld/mld.sock".into(),
        false,
        now().timestamp(),
        jiff::tz::TimeZone::UTC,
    )
}

/// A console connected to a daemon that sent [`welcome`] and [`snapshot`],
/// with the Dispatches screen's first list answered by [`dispatches`] and
/// the Showroom's by its fixture list.
pub fn connected() -> App {
    connected_as(welcome())
}

/// [`connected`], as the user `welcome` names (with its roles): every list
/// the screens ask for on a snapshot is answered from these fixtures.
pub fn connected_as(welcome: Welcome) -> App {
    let mut app = fresh();
    update(&mut app, Msg::Conn(ConnEvent::Connected(welcome)));
    let cmds = update(
        &mut app,
        Msg::Conn(ConnEvent::Snapshot(Box::new(snapshot()))),
    );
    for (id, request) in sent(&cmds) {
        let response = match request {
            Request::Dispatches { .. } => Response::Dispatches(dispatches()),
            Request::Models => Response::Models(models()),
            Request::Experiments => Response::Experiments(experiments()),
            Request::TrainingRuns { .. } => Response::TrainingRuns(training_runs()),
            Request::Showrooms => Response::Showrooms(crate::screens::showroom::fixtures::list()),
            other => panic!("a snapshot asked for {other:?}"),
        };
        answer(&mut app, id, Ok(response));
    }
    assert!(app.pending.is_empty(), "{:?}", app.pending);
    app.dirty = false;
    app
}

/// Someone with the dispatch role only.
pub fn operator() -> Welcome {
    Welcome {
        user: "olivia".into(),
        uid: 1001,
        roles: Roles::none().with(mld_shared::roles::Role::Dispatch),
        ..welcome()
    }
}

pub fn press(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Types `text` one key at a time; returns every command it caused.
pub fn type_text(app: &mut App, text: &str) -> Vec<Cmd> {
    text.chars()
        .flat_map(|c| press(app, KeyCode::Char(c)))
        .collect()
}

/// The requests among `cmds`, with their ids.
pub fn sent(cmds: &[Cmd]) -> Vec<(RequestId, Request)> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Send(id, r) => Some((*id, r.clone())),
            Cmd::Quit => None,
        })
        .collect()
}

/// The only request among `cmds`.
pub fn only_request(cmds: &[Cmd]) -> (RequestId, Request) {
    let mut all = sent(cmds);
    assert_eq!(all.len(), 1, "expected one request: {cmds:?}");
    all.remove(0)
}

/// The daemon answers request `id`.
pub fn answer(app: &mut App, id: RequestId, result: Result<Response, WireError>) -> Vec<Cmd> {
    update(app, Msg::Conn(ConnEvent::Response { id, result }))
}

/// 2026-11-23 12:00:00 UTC, shown in UTC.
pub fn now() -> Zoned {
    "2026-11-23T12:00:00+00:00[UTC]".parse().unwrap()
}

fn at(s: &str) -> WireTime {
    WireTime::from(s.parse::<Timestamp>().unwrap())
}

pub fn welcome() -> Welcome {
    Welcome {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: "0.1.0".into(),
        user: "alice".into(),
        uid: 1000,
        roles: Roles::admin(),
    }
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        taken_at: at("2026-11-23T11:59:58Z"),
        status: DaemonStatus {
            daemon_version: "0.1.0".into(),
            protocol_version: PROTOCOL_VERSION,
            pid: 4100,
            // Up 2h 03m 10s at `now`.
            started_at: at("2026-11-23T09:56:50Z"),
            uptime_ms: 7_388_000,
            jobs_configured: 3,
            running_dispatches: 1,
            connected_clients: 2,
        },
        health: vec![
            HealthEntry {
                kind: HealthKind::Server,
                name: "loopback-ssh".into(),
                target: "127.0.0.1:22 (plain)".into(),
                state: HealthState::Online,
                latency_ms: Some(0.42),
                message: None,
                checked_at: Some(at("2026-11-23T11:59:55Z")),
            },
            HealthEntry {
                kind: HealthKind::Server,
                name: "warehouse-db".into(),
                target: "db.example.com:5432 (tls)".into(),
                state: HealthState::Offline,
                latency_ms: None,
                message: Some("no answer within 2s".into()),
                checked_at: Some(at("2026-11-23T11:59:57Z")),
            },
            HealthEntry {
                kind: HealthKind::Datalake,
                name: "demo".into(),
                target: "sqlite lake.db".into(),
                state: HealthState::Online,
                latency_ms: Some(12.3),
                message: None,
                checked_at: Some(at("2026-11-23T11:59:55Z")),
            },
            HealthEntry {
                kind: HealthKind::EventLog,
                name: "events".into(),
                target: "events.db".into(),
                state: HealthState::Error,
                latency_ms: None,
                message: Some("database is locked".into()),
                checked_at: Some(at("2026-11-23T11:59:55Z")),
            },
        ],
        jobs: vec![
            JobSummary {
                name: JobName("score-iris".into()),
                state: JobState::Active,
                schedule: "* * * * *".into(),
                timezone: "UTC".into(),
                model: "iris".into(),
                datalake: "demo".into(),
                last_dispatch: Some(at("2026-11-23T11:59:00Z")),
                next_dispatch: Some(at("2026-11-23T12:01:00Z")),
                running: None,
                overlap: "skip".into(),
                missed: "skip".into(),
            },
            JobSummary {
                name: JobName("nightly-churn".into()),
                state: JobState::Disabled {
                    by: "bob".into(),
                    at: at("2026-11-22T22:10:00Z"),
                    reason: Some("warehouse maintenance".into()),
                    until: Some(at("2026-11-24T06:00:00Z")),
                },
                schedule: "0 2 * * *".into(),
                timezone: "America/Sao_Paulo".into(),
                model: "churn".into(),
                datalake: "warehouse".into(),
                last_dispatch: Some(at("2026-11-22T05:00:00Z")),
                next_dispatch: None,
                running: None,
                overlap: "skip".into(),
                missed: "skip".into(),
            },
            JobSummary {
                name: JobName("broken-cron".into()),
                state: JobState::Invalid {
                    reason: "schedule \"61 * * * *\": minute 61 out of range".into(),
                },
                schedule: "61 * * * *".into(),
                timezone: "UTC".into(),
                model: "iris".into(),
                datalake: "demo".into(),
                last_dispatch: None,
                next_dispatch: None,
                running: None,
                overlap: "skip".into(),
                missed: "skip".into(),
            },
        ],
    }
}

fn dispatch(id: i64, job: &str, status: DispatchStatus, created: &str) -> DispatchSummary {
    let created = at(created);
    DispatchSummary {
        id: DispatchId(id),
        job: JobName(job.into()),
        status,
        trigger: Trigger::Schedule,
        requested_by: "scheduler".into(),
        slot: Some(created),
        model: "iris".into(),
        model_version: "1".into(),
        model_hash: "8df425a8c872f00d".into(),
        created_at: created,
        started_at: Some(WireTime(created.0 + 10)),
        finished_at: (status != DispatchStatus::Running).then_some(WireTime(created.0 + 1_250)),
        rows_collected: 152,
        rows_predicted: 150,
        rows_unscorable: 2,
        rows_stored: 150,
        rows_inserted: if status == DispatchStatus::Succeeded {
            150
        } else {
            0
        },
        failed_step: (status == DispatchStatus::Failed).then(|| "inserted".into()),
        error: (status == DispatchStatus::Failed).then(|| {
            "datalake demo: writing results to iris_scores failed, rolled back: no such table"
                .into()
        }),
    }
}

/// The Dispatches screen's list: newest first.
pub fn dispatches() -> Vec<DispatchSummary> {
    vec![
        dispatch(
            14,
            "score-iris",
            DispatchStatus::Running,
            "2026-11-23T11:59:58Z",
        ),
        dispatch(
            13,
            "score-iris",
            DispatchStatus::Failed,
            "2026-11-23T11:59:00Z",
        ),
        dispatch(
            12,
            "score-iris",
            DispatchStatus::Succeeded,
            "2026-11-23T11:58:00Z",
        ),
    ]
}

pub fn dispatch_detail() -> DispatchDetail {
    let summary = dispatch(
        12,
        "score-iris",
        DispatchStatus::Succeeded,
        "2026-11-23T11:58:00Z",
    );
    let step = |seq: u32, step: &str, rows: Option<u64>, message: Option<&str>| DispatchEventInfo {
        seq,
        at: WireTime(summary.created_at.0 + seq as i64 * 100),
        step: step.into(),
        rows,
        message: message.map(str::to_string),
    };
    DispatchDetail {
        events: vec![
            step(
                1,
                "created",
                None,
                Some("trigger schedule by scheduler; model iris version 1 (8df425a8c872)"),
            ),
            step(2, "started", None, None),
            step(3, "collected", Some(152), None),
            step(
                4,
                "predicted",
                Some(150),
                Some("2 rows could not be scored"),
            ),
            step(5, "stored", Some(150), None),
            step(6, "inserted", Some(150), None),
            step(7, "finished", None, Some("succeeded")),
        ],
        class_counts: vec![
            ("setosa".into(), 50),
            ("versicolor".into(), 51),
            ("virginica".into(), 49),
        ],
        unscorable: vec![
            UnscorableInfo {
                row_key: "151".into(),
                reason: "petal_length is NULL".into(),
            },
            UnscorableInfo {
                row_key: "152".into(),
                reason: "sepal_width is not a number".into(),
            },
        ],
        summary,
        values: None,
    }
}

/// The first page (100 rows) of dispatch 12's 150 predictions.
pub fn prediction_page() -> mld_shared::protocol::PredictionPage {
    const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];
    mld_shared::protocol::PredictionPage {
        total: 150,
        rows: (1..=100)
            .map(|k| mld_shared::protocol::PredictionInfo {
                row_key: format!("{k:03}"),
                label: LABELS[(k / 50) as usize].into(),
                score: 0.5 + (k % 50) as f64 / 100.0,
                value: None,
            })
            .collect(),
        next_after: Some("100".into()),
    }
}

pub fn metrics() -> mld_shared::protocol::MetricsInfo {
    use mld_shared::protocol::{ClassMetricsInfo, MetricsInfo};
    let class = |label: &str, p: f64, r: f64, support: u64| ClassMetricsInfo {
        label: label.into(),
        precision: p,
        recall: r,
        f1: 2.0 * p * r / (p + r),
        support,
    };
    MetricsInfo {
        accuracy: 0.933,
        macro_precision: 0.936,
        macro_recall: 0.933,
        macro_f1: 0.933,
        per_class: vec![
            class("setosa", 1.0, 1.0, 10),
            class("versicolor", 0.9, 0.9, 10),
            class("virginica", 0.909, 0.9, 10),
        ],
        confusion: vec![vec![10, 0, 0], vec![0, 9, 1], vec![0, 1, 9]],
    }
}

pub fn version(
    name: &str,
    version: u32,
    active: bool,
    algorithm: &str,
) -> mld_shared::protocol::ModelVersionInfo {
    mld_shared::protocol::ModelVersionInfo {
        name: name.into(),
        version,
        active,
        broken: None,
        algorithm: algorithm.into(),
        hyperparameters: vec![("max_depth".into(), "4".into())],
        features: vec![
            "sepal_length".into(),
            "sepal_width".into(),
            "petal_length".into(),
            "petal_width".into(),
        ],
        labels: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
        scaling: "none".into(),
        dataset: Some("iris".into()),
        fingerprint: Some("77aa".repeat(16)),
        train_rows: Some(120),
        test_rows: Some(30),
        seed: Some(7),
        metrics: Some(metrics()),
        created_at: Some(at("2026-11-20T09:30:00Z")),
        hash: format!("{version}df425a8c872f00d").repeat(4),
        task: "classification".into(),
        feature_types: vec!["number".into(); 4],
        regression: None,
    }
}

/// A regressor over a number and a text feature: no labels, MAE/RMSE/R².
pub fn regressor() -> mld_shared::protocol::ModelInfo {
    let mut v = version("revenue", 1, true, "random_forest_regressor");
    v.features = vec!["tenure".into(), "spend".into(), "plan".into()];
    v.feature_types = vec!["number".into(), "number".into(), "text".into()];
    v.labels = vec![];
    v.metrics = None;
    v.task = "regression".into();
    v.dataset = Some("customers".into());
    v.train_rows = Some(2_250);
    v.test_rows = Some(750);
    v.regression = Some(mld_shared::protocol::RegressionMetricsInfo {
        mae: 8.21,
        rmse: 10.4375,
        r2: 0.9512,
        rows: 750,
    });
    mld_shared::protocol::ModelInfo {
        name: "revenue".into(),
        active: Some(1),
        versions: vec![v],
    }
}

/// A regressor's dispatch: its values in bins, no classes.
pub fn value_dispatch() -> (DispatchDetail, mld_shared::protocol::PredictionPage) {
    use mld_shared::protocol::{ValueBin, ValueHistogram};
    let mut detail = dispatch_detail();
    detail.summary.job = mld_shared::ids::JobName("score-revenue".into());
    detail.summary.model = "revenue".into();
    detail.class_counts = vec![];
    let counts = [3u64, 9, 21, 34, 40, 25, 12, 6];
    detail.values = Some(ValueHistogram {
        count: counts.iter().sum(),
        mean: 182.4,
        min: 20.0,
        max: 420.0,
        bins: counts
            .iter()
            .enumerate()
            .map(|(i, &count)| ValueBin {
                lo: 20.0 + 50.0 * i as f64,
                hi: 70.0 + 50.0 * i as f64,
                count,
            })
            .collect(),
    });
    let page = mld_shared::protocol::PredictionPage {
        total: 150,
        rows: (1..=100)
            .map(|k| {
                let v = 20.0 + (k * 37 % 400) as f64 + 0.125;
                mld_shared::protocol::PredictionInfo {
                    row_key: format!("{k:03}"),
                    label: v.to_string(),
                    score: f64::NAN,
                    value: Some(v),
                }
            })
            .collect(),
        next_after: Some("100".into()),
    };
    (detail, page)
}

/// iris with versions 1 (active) and 2.
pub fn models() -> Vec<mld_shared::protocol::ModelInfo> {
    vec![mld_shared::protocol::ModelInfo {
        name: "iris".into(),
        active: Some(1),
        versions: vec![
            version("iris", 1, true, "decision_tree"),
            version("iris", 2, false, "random_forest"),
        ],
    }]
}

pub fn experiments() -> Vec<mld_shared::protocol::ExperimentInfo> {
    let mut model = version("", 0, false, "random_forest");
    model.created_at = Some(at("2026-11-23T11:40:00Z"));
    vec![mld_shared::protocol::ExperimentInfo {
        id: "20261123-114000-rf-iris".into(),
        model,
    }]
}

pub fn training_runs() -> Vec<mld_shared::protocol::TrainingInfo> {
    use mld_shared::protocol::{TrainSpec, TrainingInfo, TrainingStatus};
    let spec = |model: &str| TrainSpec {
        dataset: "iris".into(),
        model: model.into(),
        hyperparameters: vec![("n_trees".into(), "50".into())],
        test_split: 0.2,
        seed: Some(7),
    };
    vec![
        TrainingInfo {
            run: 2,
            spec: spec("random_forest"),
            requested_by: "alice".into(),
            status: TrainingStatus::Running,
            stage: "fitting".into(),
            fraction: 0.4,
            experiment: None,
            error: None,
            started_at: at("2026-11-23T11:59:30Z"),
            finished_at: None,
        },
        TrainingInfo {
            run: 1,
            spec: spec("random_forest"),
            requested_by: "alice".into(),
            status: TrainingStatus::Succeeded,
            stage: "done".into(),
            fraction: 1.0,
            experiment: Some("20261123-114000-rf-iris".into()),
            error: None,
            started_at: at("2026-11-23T11:39:50Z"),
            finished_at: Some(at("2026-11-23T11:40:00Z")),
        },
    ]
}

pub fn catalog() -> mld_shared::protocol::CatalogInfo {
    use mld_shared::protocol::{
        AlgorithmInfo, CatalogInfo, DatasetInfo, HyperparameterInfo, MetricInfo, ParamKind,
        ParamValue,
    };
    let hp = |name: &str, kind: ParamKind, default: ParamValue, d: &str| HyperparameterInfo {
        name: name.into(),
        description: d.into(),
        kind,
        default,
    };
    CatalogInfo {
        datasets: vec![
            DatasetInfo {
                name: "iris".into(),
                task: Some("classification".into()),
                description: "Fisher's iris flowers".into(),
                source: "csv assets/iris.csv".into(),
                features: vec![
                    "sepal_length".into(),
                    "sepal_width".into(),
                    "petal_length".into(),
                    "petal_width".into(),
                ],
                label: "species".into(),
                records: 150,
                classes: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
                preprocessing: vec![],
                problem: None,
                feature_types: vec!["number".into(); 4],
            },
            DatasetInfo {
                name: "churn".into(),
                task: None,
                description: "customers who left".into(),
                source: "query on warehouse".into(),
                features: vec![],
                label: "left".into(),
                records: 0,
                classes: vec![],
                preprocessing: vec![],
                problem: Some("datalake warehouse: no answer within 2s".into()),
                feature_types: vec![],
            },
        ],
        models: vec![
            AlgorithmInfo {
                name: "decision_tree".into(),
                task: "classification".into(),
                description: "one CART tree".into(),
                hyperparameters: vec![hp(
                    "max_depth",
                    ParamKind::Int { min: 1, max: 64 },
                    ParamValue::Int(8),
                    "deepest split",
                )],
            },
            AlgorithmInfo {
                name: "random_forest".into(),
                task: "classification".into(),
                description: "trees on bootstrap samples, majority vote".into(),
                hyperparameters: vec![
                    hp(
                        "n_trees",
                        ParamKind::Int { min: 1, max: 1000 },
                        ParamValue::Int(100),
                        "how many trees",
                    ),
                    hp(
                        "max_features",
                        ParamKind::Choice {
                            options: vec!["sqrt".into(), "all".into()],
                        },
                        ParamValue::Text("sqrt".into()),
                        "features tried per split",
                    ),
                    hp(
                        "bootstrap",
                        ParamKind::Bool,
                        ParamValue::Bool(true),
                        "sample rows with replacement",
                    ),
                ],
            },
        ],
        metrics: vec![MetricInfo {
            name: "accuracy".into(),
            description: "share right".into(),
        }],
    }
}
