//! Every message on the wire survives encode → frame → decode unchanged.
//!
//! The `every_*` functions match exhaustively on their enum, so adding a
//! variant without adding it here fails to compile.

use mld_shared::frame::{self, FrameError, MAX_FRAME_LEN};
use mld_shared::ids::{DispatchId, JobName, RequestId};
use mld_shared::protocol::*;
use mld_shared::roles::{Role, Roles};
use mld_shared::time::WireTime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

async fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(message: &T) {
    let bytes = frame::encode(message).unwrap();
    assert_eq!(
        u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
        bytes.len() - 4
    );
    let mut reader = &bytes[..];
    let back: T = frame::read_message(&mut reader).await.unwrap().unwrap();
    assert_eq!(&back, message);
}

fn status() -> DaemonStatus {
    DaemonStatus {
        daemon_version: "0.1.0".into(),
        protocol_version: PROTOCOL_VERSION,
        pid: 4242,
        started_at: WireTime(1_795_435_549_601),
        uptime_ms: 12_345,
        jobs_configured: 3,
        running_dispatches: 1,
        connected_clients: 2,
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        taken_at: WireTime(1_795_435_560_000),
        status: status(),
        health: vec![
            HealthEntry {
                kind: HealthKind::Server,
                name: "db".into(),
                target: "db.example.com:5432 (tls)".into(),
                state: HealthState::Online,
                latency_ms: Some(1.25),
                message: None,
                checked_at: Some(WireTime(1_795_435_559_000)),
            },
            HealthEntry {
                kind: HealthKind::Datalake,
                name: "warehouse".into(),
                target: "odbc".into(),
                state: HealthState::Error,
                latency_ms: None,
                message: Some("password authentication failed".into()),
                checked_at: None,
            },
            HealthEntry {
                kind: HealthKind::EventLog,
                name: "event log".into(),
                target: "/var/lib/mld/events.db".into(),
                state: HealthState::Unknown,
                latency_ms: None,
                message: None,
                checked_at: None,
            },
            HealthEntry {
                kind: HealthKind::Cluster,
                name: "cluster".into(),
                target: "slurm partition batch".into(),
                state: HealthState::Online,
                latency_ms: Some(12.0),
                message: Some("nodes: 3 idle, 1 allocated, 0 down".into()),
                checked_at: Some(WireTime(1_795_435_559_000)),
            },
        ],
        jobs: every_job_state()
            .into_iter()
            .enumerate()
            .map(|(i, state)| JobSummary {
                name: JobName(format!("job-{i}")),
                state,
                schedule: "0 2 * * *".into(),
                timezone: "Europe/Rome".into(),
                model: "iris".into(),
                datalake: "demo".into(),
                last_dispatch: Some(WireTime(1)),
                next_dispatch: None,
                running: None,
                overlap: "skip".into(),
                missed: "skip".into(),
            })
            .collect(),
    }
}

fn every_job_state() -> Vec<JobState> {
    let all = vec![
        JobState::Active,
        JobState::Disabled {
            by: "alice".into(),
            at: WireTime(5),
            reason: Some("maintenance".into()),
            until: Some(WireTime(9)),
        },
        JobState::Invalid {
            reason: "bad cron".into(),
        },
    ];
    for s in &all {
        match s {
            JobState::Active | JobState::Disabled { .. } | JobState::Invalid { .. } => {}
        }
    }
    all
}

fn every_request() -> Vec<Request> {
    let job = || JobName("score".into());
    let all = vec![
        Request::Ping,
        Request::Status,
        Request::Subscribe,
        Request::Unsubscribe,
        Request::Jobs,
        Request::EnableJob {
            job: job(),
            reason: Some("back".into()),
        },
        Request::DisableJob {
            job: job(),
            reason: Some("maintenance".into()),
            until: Some(WireTime(99)),
        },
        Request::RunJob { job: job() },
        Request::DryRun {
            job: job(),
            rows: 10,
        },
        Request::Slots {
            job: job(),
            since: WireTime(1),
        },
        Request::JobHistory { job: job() },
        Request::Dispatches {
            from: WireTime(1),
            to: WireTime(2),
            job: Some(job()),
            limit: 50,
        },
        Request::Dispatch { id: DispatchId(3) },
        Request::DispatchPredictions {
            id: DispatchId(3),
            after_key: Some("k9".into()),
            filter: None,
            limit: 100,
        },
        Request::CancelDispatch { id: DispatchId(4) },
        Request::Models,
        Request::Catalog,
        Request::Train(train_spec()),
        Request::TrainingRun { run: 1 },
        Request::CancelTraining { run: 1 },
        Request::Experiments,
        Request::Experiment { id: "e1".into() },
        Request::DeleteExperiment { id: "e1".into() },
        Request::CommitExperiment {
            id: "e1".into(),
            name: "iris".into(),
        },
        Request::ActivateModel {
            name: "iris".into(),
            version: 2,
        },
        Request::ImportOnnx {
            name: "churn".into(),
            features: vec!["a".into(), "b".into()],
            labels: Some(vec!["no".into(), "yes".into()]),
            onnx: vec![8, 1, 18, 0],
        },
        Request::Predict {
            model: "iris".into(),
            version: None,
            input: PredictInput::Positional(vec![5.1, 3.5, 1.4, 0.2]),
        },
        Request::Predict {
            model: "iris".into(),
            version: Some(1),
            input: PredictInput::Named(vec![("petal_width".into(), 0.2)]),
        },
        Request::Predict {
            model: "revenue".into(),
            version: None,
            input: PredictInput::Cells(vec!["12".into(), "pro".into(), String::new()]),
        },
        Request::Predict {
            model: "revenue".into(),
            version: Some(3),
            input: PredictInput::NamedCells(vec![("plan".into(), "pro".into())]),
        },
        Request::Showrooms,
        Request::OpenShowroom {
            model: "iris".into(),
        },
        Request::ShowroomPredict {
            model: "iris".into(),
            row: 3,
            set: vec![("petal_length".into(), FeatureValue::Number(5.0))],
        },
        Request::ShowroomPredict {
            model: "revenue".into(),
            row: 1,
            set: vec![
                ("plan".into(), FeatureValue::Text("pro".into())),
                ("country".into(), FeatureValue::Null),
            ],
        },
        Request::DispatchPredictionsBefore {
            id: DispatchId(3),
            before_key: Some("0042".into()),
            filter: Some("4".into()),
            limit: 50,
        },
        Request::DispatchPredictionsBefore {
            id: DispatchId(3),
            before_key: None,
            filter: None,
            limit: 50,
        },
        Request::TrainingRuns { limit: 20 },
        Request::CheckTraining(train_spec()),
        Request::Reload,
        Request::RetryDispatch { id: DispatchId(7) },
        Request::DispatchShards { id: DispatchId(8) },
    ];
    for r in &all {
        match r {
            Request::Ping
            | Request::Status
            | Request::Subscribe
            | Request::Unsubscribe
            | Request::Jobs
            | Request::EnableJob { .. }
            | Request::DisableJob { .. }
            | Request::RunJob { .. }
            | Request::DryRun { .. }
            | Request::Slots { .. }
            | Request::JobHistory { .. }
            | Request::Dispatches { .. }
            | Request::Dispatch { .. }
            | Request::DispatchPredictions { .. }
            | Request::CancelDispatch { .. }
            | Request::Models
            | Request::Catalog
            | Request::Train(_)
            | Request::TrainingRun { .. }
            | Request::CancelTraining { .. }
            | Request::Experiments
            | Request::Experiment { .. }
            | Request::DeleteExperiment { .. }
            | Request::CommitExperiment { .. }
            | Request::ActivateModel { .. }
            | Request::ImportOnnx { .. }
            | Request::Predict { .. }
            | Request::Showrooms
            | Request::OpenShowroom { .. }
            | Request::ShowroomPredict { .. }
            | Request::DispatchPredictionsBefore { .. }
            | Request::TrainingRuns { .. }
            | Request::CheckTraining(_)
            | Request::Reload
            | Request::RetryDispatch { .. }
            | Request::DispatchShards { .. } => {}
        }
    }
    all
}

fn train_spec() -> TrainSpec {
    TrainSpec {
        dataset: "iris".into(),
        model: "random_forest".into(),
        hyperparameters: vec![("trees".into(), "50".into())],
        test_split: 0.2,
        seed: Some(7),
    }
}

fn version_info() -> ModelVersionInfo {
    ModelVersionInfo {
        name: "iris".into(),
        version: 2,
        active: true,
        broken: None,
        algorithm: "random_forest".into(),
        hyperparameters: vec![("trees".into(), "50".into())],
        features: vec!["sepal_length".into()],
        labels: vec!["setosa".into(), "virginica".into()],
        scaling: "standard".into(),
        dataset: Some("iris".into()),
        fingerprint: Some("cd".repeat(32)),
        train_rows: Some(120),
        test_rows: Some(30),
        seed: Some(7),
        metrics: Some(MetricsInfo {
            accuracy: 0.9,
            macro_precision: 0.91,
            macro_recall: 0.89,
            macro_f1: 0.9,
            per_class: vec![ClassMetricsInfo {
                label: "setosa".into(),
                precision: 1.0,
                recall: 0.9,
                f1: 0.94,
                support: 10,
            }],
            confusion: vec![vec![9, 1], vec![2, 18]],
        }),
        created_at: Some(WireTime(77)),
        hash: "ef".repeat(32),
        task: "classification".into(),
        feature_types: vec!["number".into()],
        regression: None,
    }
}

/// A regressor's version: no labels, a text feature, MAE/RMSE/R².
fn regressor_info() -> ModelVersionInfo {
    ModelVersionInfo {
        name: "revenue".into(),
        features: vec!["tenure".into(), "plan".into()],
        labels: vec![],
        metrics: None,
        task: "regression".into(),
        feature_types: vec!["number".into(), "text".into()],
        regression: Some(RegressionMetricsInfo {
            mae: 1.5,
            rmse: 2.25,
            r2: 0.875,
            rows: 400,
        }),
        ..version_info()
    }
}

fn training_info() -> TrainingInfo {
    TrainingInfo {
        run: 3,
        spec: train_spec(),
        requested_by: "alice".into(),
        status: TrainingStatus::Running,
        stage: "fitting".into(),
        fraction: 0.4,
        experiment: None,
        error: None,
        started_at: WireTime(70),
        finished_at: None,
    }
}

fn dispatch_summary() -> DispatchSummary {
    DispatchSummary {
        id: DispatchId(12),
        job: JobName("score".into()),
        status: DispatchStatus::Failed,
        trigger: Trigger::CatchUp,
        requested_by: "scheduler".into(),
        slot: Some(WireTime(10)),
        model: "iris".into(),
        model_version: "3".into(),
        model_hash: "ab".repeat(32),
        created_at: WireTime(10),
        started_at: Some(WireTime(11)),
        finished_at: Some(WireTime(12)),
        rows_collected: 150,
        rows_predicted: 148,
        rows_unscorable: 2,
        rows_stored: 148,
        rows_inserted: 0,
        failed_step: Some("inserted".into()),
        error: Some("results table missing".into()),
    }
}

fn every_response() -> Vec<Response> {
    let s = snapshot();
    let prediction = PredictionInfo {
        row_key: "7".into(),
        label: "setosa".into(),
        score: 0.97,
        value: None,
    };
    let value = PredictionInfo {
        row_key: "8".into(),
        label: "12.5".into(),
        // The daemon sends NaN (see the test below); NaN != NaN here.
        score: 0.0,
        value: Some(12.5),
    };
    let unscorable = UnscorableInfo {
        row_key: "151".into(),
        reason: "petal_length is NULL".into(),
    };
    let mut all = vec![
        Response::Pong,
        Response::Status(status()),
        Response::Subscribed(Box::new(s.clone())),
        Response::Unsubscribed,
        Response::Jobs(s.jobs.clone()),
        Response::JobChanged(Box::new(s.jobs[1].clone())),
        Response::Run(RunOutcome::Started(DispatchId(5))),
        Response::Run(RunOutcome::Queued {
            behind: DispatchId(4),
        }),
        Response::DryRun(Box::new(DryRunResult {
            job: JobName("score".into()),
            model: "iris".into(),
            model_version: "1".into(),
            results_table: "scores".into(),
            columns: vec!["dispatch_id".into(), "row_key".into()],
            predictions: vec![prediction.clone()],
            unscorable: vec![unscorable.clone()],
            would_write: vec![vec!["(this dispatch)".into(), "7".into()]],
        })),
        Response::Slots(vec![SlotRecord {
            slot: WireTime(60_000),
            decided_at: WireTime(60_001),
            decision: "skipped-overlap".into(),
            dispatch: Some(DispatchId(3)),
            detail: "skipped: overlap (dispatch 3 running)".into(),
        }]),
        Response::JobHistory(vec![StateChangeRecord {
            at: WireTime(5),
            by: "alice".into(),
            from: Some("active".into()),
            to: "disabled".into(),
            reason: Some("maintenance".into()),
            until: None,
        }]),
        Response::Dispatches(vec![dispatch_summary()]),
        Response::Dispatch(Box::new(DispatchDetail {
            summary: dispatch_summary(),
            events: vec![DispatchEventInfo {
                seq: 1,
                at: WireTime(10),
                step: "created".into(),
                rows: None,
                message: Some("trigger catch-up".into()),
            }],
            class_counts: vec![("setosa".into(), 50), ("virginica".into(), 48)],
            unscorable: vec![unscorable.clone()],
            values: None,
        })),
        Response::Dispatch(Box::new(DispatchDetail {
            summary: dispatch_summary(),
            events: vec![],
            class_counts: vec![],
            unscorable: vec![unscorable],
            values: Some(ValueHistogram {
                count: 3,
                mean: 2.0,
                min: -1.0,
                max: 5.0,
                bins: vec![
                    ValueBin {
                        lo: -1.0,
                        hi: 2.0,
                        count: 2,
                    },
                    ValueBin {
                        lo: 2.0,
                        hi: 5.0,
                        count: 1,
                    },
                ],
            }),
        })),
        Response::Predictions(PredictionPage {
            total: 148,
            rows: vec![prediction, value],
            next_after: Some("7".into()),
        }),
        Response::Cancelled { id: DispatchId(9) },
        Response::Models(vec![ModelInfo {
            name: "iris".into(),
            active: Some(2),
            versions: vec![version_info(), regressor_info()],
        }]),
        Response::Catalog(Box::new(CatalogInfo {
            datasets: vec![DatasetInfo {
                name: "iris".into(),
                task: Some("classification".into()),
                description: "flowers".into(),
                source: "csv assets/iris.csv".into(),
                features: vec!["sepal_length".into()],
                label: "species".into(),
                records: 150,
                classes: vec!["setosa".into()],
                preprocessing: vec!["standard scaling".into()],
                problem: None,
                feature_types: vec!["number".into()],
            }],
            models: vec![AlgorithmInfo {
                name: "random_forest".into(),
                task: "classification".into(),
                description: "bagged trees".into(),
                hyperparameters: vec![
                    HyperparameterInfo {
                        name: "trees".into(),
                        description: "how many".into(),
                        kind: ParamKind::Int { min: 1, max: 1000 },
                        default: ParamValue::Int(100),
                    },
                    HyperparameterInfo {
                        name: "alpha".into(),
                        description: "".into(),
                        kind: ParamKind::Float { min: 0.0, max: 1.0 },
                        default: ParamValue::Float(0.1),
                    },
                    HyperparameterInfo {
                        name: "scaling".into(),
                        description: "".into(),
                        kind: ParamKind::Choice {
                            options: vec!["none".into()],
                        },
                        default: ParamValue::Text("none".into()),
                    },
                    HyperparameterInfo {
                        name: "balanced".into(),
                        description: "".into(),
                        kind: ParamKind::Bool,
                        default: ParamValue::Bool(false),
                    },
                ],
            }],
            metrics: vec![MetricInfo {
                name: "accuracy".into(),
                description: "share right".into(),
            }],
        })),
        Response::TrainingStarted { run: 3 },
        Response::Training(Box::new(training_info())),
        Response::Experiments(vec![ExperimentInfo {
            id: "e1".into(),
            model: version_info(),
        }]),
        Response::Experiment(Box::new(ExperimentInfo {
            id: "e1".into(),
            model: version_info(),
        })),
        Response::ExperimentDeleted { id: "e1".into() },
        Response::ModelVersion(Box::new(version_info())),
        Response::Prediction(Box::new(PredictionResult {
            model: "iris".into(),
            version: 2,
            label: "setosa".into(),
            score: 0.98,
            features: vec![("sepal_length".into(), 5.1)],
            value: None,
            values: vec![("sepal_length".into(), FeatureValue::Number(5.1))],
        })),
        Response::Prediction(Box::new(PredictionResult {
            model: "revenue".into(),
            version: 3,
            label: "12.5".into(),
            score: 0.0,
            features: vec![("tenure".into(), 12.0)],
            value: Some(12.5),
            values: vec![
                ("tenure".into(), FeatureValue::Number(12.0)),
                ("plan".into(), FeatureValue::Text("pro".into())),
                ("country".into(), FeatureValue::Null),
            ],
        })),
        Response::Showrooms(vec![
            ShowroomInfo {
                model: "iris".into(),
                samples: "/srv/iris-samples.csv".into(),
                rows: Some(12),
                active: Some(2),
                problem: None,
            },
            ShowroomInfo {
                model: "churn".into(),
                samples: "/srv/churn.csv".into(),
                rows: None,
                active: None,
                problem: Some("/srv/churn.csv:7: 3 fields, the header has 4".into()),
            },
        ]),
        Response::Showroom(Box::new(showroom_view())),
        Response::TrainingRuns(vec![training_info()]),
        Response::TrainingProblems(vec![FieldProblem {
            field: "hyperparameters.max_depth".into(),
            message: "expected an integer, got \"deep\"".into(),
        }]),
        Response::TrainingProblems(vec![]),
        Response::Reloaded(ReloadInfo {
            file: "/etc/mld/mld.toml".into(),
            changes: vec![
                "job nightly: schedule \"0 2 * * *\" → \"0 3 * * *\"".into(),
                "job weekly added".into(),
            ],
        }),
        Response::Retrying { id: DispatchId(7) },
        Response::Shards(vec![ShardInfo {
            shard: 3,
            key_lo: 75_001,
            key_hi: 100_000,
            state: "running".into(),
            attempt: 1,
            task: Some("412_3".into()),
            node: Some("node-7".into()),
            rows_collected: 0,
            rows_predicted: 0,
            rows_inserted: 0,
            error: Some(
                "attempt 1: its task ended without a report: killed by signal SIGKILL".into(),
            ),
            updated_at: WireTime(1_795_435_560_000),
        }]),
    ];
    all.extend(every_explanation().into_iter().map(|explanation| {
        Response::ShowroomPrediction(Box::new(ShowroomPrediction {
            model: "iris".into(),
            version: 2,
            hash: "ab".repeat(32),
            row: 1,
            line: 2,
            edited: true,
            values: vec![("petal_length".into(), FeatureValue::Number(5.0))],
            outcome: Outcome::Class {
                label: "virginica".into(),
                score: 0.7,
            },
            classes: class_scores(),
            score_kind: ScoreKind::Probability,
            explanation,
        }))
    }));
    all.push(Response::ShowroomPrediction(Box::new(ShowroomPrediction {
        model: "revenue".into(),
        version: 3,
        hash: "cd".repeat(32),
        row: 2,
        line: 3,
        edited: false,
        values: vec![("plan".into(), FeatureValue::Text("pro".into()))],
        outcome: Outcome::Value { value: 12.5 },
        classes: vec![],
        score_kind: ScoreKind::Value,
        explanation: Explanation::TreeValues {
            trees: 3,
            min: 10.0,
            max: 15.0,
        },
    })));
    all.push(Response::ShowroomPrediction(Box::new(ShowroomPrediction {
        model: "revenue".into(),
        version: 3,
        hash: "cd".repeat(32),
        row: 4,
        line: 5,
        edited: true,
        values: vec![("plan".into(), FeatureValue::Text("enterprise".into()))],
        outcome: Outcome::Unscorable {
            reason: "plan: category \"enterprise\" unknown to the encoder".into(),
        },
        classes: vec![],
        score_kind: ScoreKind::Value,
        explanation: Explanation::Unavailable {
            reason: "not scored".into(),
        },
    })));
    for r in &all {
        match r {
            Response::Pong
            | Response::Status(_)
            | Response::Subscribed(_)
            | Response::Unsubscribed
            | Response::Jobs(_)
            | Response::JobChanged(_)
            | Response::Run(_)
            | Response::DryRun(_)
            | Response::Slots(_)
            | Response::JobHistory(_)
            | Response::Dispatches(_)
            | Response::Dispatch(_)
            | Response::Predictions(_)
            | Response::Cancelled { .. }
            | Response::Models(_)
            | Response::Catalog(_)
            | Response::TrainingStarted { .. }
            | Response::Training(_)
            | Response::Experiments(_)
            | Response::Experiment(_)
            | Response::ExperimentDeleted { .. }
            | Response::ModelVersion(_)
            | Response::Prediction(_)
            | Response::Showrooms(_)
            | Response::Showroom(_)
            | Response::ShowroomPrediction(_)
            | Response::TrainingRuns(_)
            | Response::TrainingProblems(_)
            | Response::Reloaded(_)
            | Response::Retrying { .. }
            | Response::Shards(_) => {}
        }
    }
    all
}

fn class_scores() -> Vec<ClassScore> {
    vec![
        ClassScore {
            label: "setosa".into(),
            score: Some(0.1),
        },
        ClassScore {
            label: "virginica".into(),
            score: None,
        },
    ]
}

fn showroom_view() -> ShowroomView {
    let kinds = every_score_kind();
    ShowroomView {
        model: "iris".into(),
        version: 2,
        hash: "ab".repeat(32),
        algorithm: "decision_tree".into(),
        samples: "/srv/iris-samples.csv".into(),
        columns: vec!["id".into(), "petal_length".into(), "species".into()],
        shown: 2,
        features: vec!["petal_length".into()],
        labels: vec!["setosa".into(), "virginica".into()],
        score_kind: kinds[1],
        rows: vec![SampleRow {
            line: 2,
            cells: vec!["7".into(), "1.4".into(), "setosa".into()],
            values: vec![FeatureValue::Number(1.4)],
            outcome: Outcome::Class {
                label: "setosa".into(),
                score: 1.0,
            },
            classes: class_scores(),
        }],
        feature_types: vec!["number".into()],
    }
}

fn every_score_kind() -> Vec<ScoreKind> {
    use ScoreKind::*;
    let all = vec![Probability, LeafShare, VoteShare, Margin, Unscored, Value];
    for k in &all {
        match k {
            Probability | LeafShare | VoteShare | Margin | Unscored | Value => {}
        }
    }
    all
}

fn every_explanation() -> Vec<Explanation> {
    let all = vec![
        Explanation::Contributions {
            label: "virginica".into(),
            intercept: -0.5,
            terms: vec![ContributionInfo {
                feature: "petal_length".into(),
                value: 5.0,
                scaled: 1.2,
                weight: 2.0,
                contribution: 2.4,
            }],
        },
        Explanation::Path {
            steps: vec![
                PathStepInfo {
                    feature: "petal_length".into(),
                    value: 5.0,
                    threshold: Some(2.45),
                    below: false,
                },
                PathStepInfo {
                    feature: "petal_width".into(),
                    value: 1.0,
                    threshold: None,
                    below: true,
                },
            ],
            label: "versicolor".into(),
            share: 0.9,
        },
        Explanation::Votes {
            trees: 10,
            votes: vec![("setosa".into(), 3), ("virginica".into(), 7)],
        },
        Explanation::Unavailable {
            reason: "no explanation is available for an ONNX model".into(),
        },
        Explanation::ValueContributions {
            intercept: 3.0,
            terms: vec![ContributionInfo {
                feature: "tenure".into(),
                value: 12.0,
                scaled: 0.5,
                weight: 4.0,
                contribution: 2.0,
            }],
        },
        Explanation::ValuePath {
            steps: vec![PathStepInfo {
                feature: "plan=pro".into(),
                value: 1.0,
                threshold: Some(0.5),
                below: false,
            }],
            value: 42.0,
        },
        Explanation::TreeValues {
            trees: 50,
            min: 1.0,
            max: 2.0,
        },
    ];
    for e in &all {
        match e {
            Explanation::Contributions { .. }
            | Explanation::Path { .. }
            | Explanation::Votes { .. }
            | Explanation::Unavailable { .. }
            | Explanation::ValueContributions { .. }
            | Explanation::ValuePath { .. }
            | Explanation::TreeValues { .. } => {}
        }
    }
    all
}

/// A regressor's prediction has no score: NaN on the wire, NaN back.
#[tokio::test]
async fn a_regressors_nan_score_round_trips() {
    let p = PredictionInfo {
        row_key: "8".into(),
        label: "12.5".into(),
        score: f64::NAN,
        value: Some(12.5),
    };
    let bytes = frame::encode(&p).unwrap();
    let mut reader = &bytes[..];
    let back: PredictionInfo = frame::read_message(&mut reader).await.unwrap().unwrap();
    assert!(back.score.is_nan());
    assert_eq!(back.value, Some(12.5));
    assert_eq!(back.label, "12.5");
}

#[tokio::test]
async fn every_score_kind_round_trips() {
    for kind in every_score_kind() {
        let mut view = showroom_view();
        view.score_kind = kind;
        round_trip(&view).await;
    }
}

fn every_update() -> Vec<Update> {
    let s = snapshot();
    let all = vec![
        Update::Status(status()),
        Update::Health(s.health.clone()),
        Update::Jobs(s.jobs.clone()),
        Update::Resync(Box::new(s)),
        Update::Dispatch(Box::new(dispatch_summary())),
        Update::Training(Box::new(training_info())),
    ];
    for u in &all {
        match u {
            Update::Status(_)
            | Update::Health(_)
            | Update::Jobs(_)
            | Update::Resync(_)
            | Update::Dispatch(_)
            | Update::Training(_) => {}
        }
    }
    all
}

fn every_error_kind() -> Vec<ErrorKind> {
    use ErrorKind::*;
    let all = vec![
        PermissionDenied,
        NotFound,
        InvalidRequest,
        Conflict,
        Unavailable,
        Internal,
    ];
    for k in &all {
        match k {
            PermissionDenied | NotFound | InvalidRequest | Conflict | Unavailable | Internal => {}
        }
    }
    all
}

#[tokio::test]
async fn every_client_message_round_trips() {
    round_trip(&Hello::new("mldctl 0.1.0")).await;
    for (i, request) in every_request().into_iter().enumerate() {
        round_trip(&ClientFrame {
            id: RequestId(i as u64),
            request,
        })
        .await;
    }
}

#[tokio::test]
async fn every_server_message_round_trips() {
    let replies = vec![
        HelloReply::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            daemon_version: "0.1.0".into(),
            user: "alice".into(),
            uid: 1000,
            roles: Roles::none().with(Role::Dispatch).with(Role::Showroom),
        }),
        HelloReply::VersionMismatch {
            daemon_protocol_version: 9,
            daemon_version: "9.0.0".into(),
        },
        HelloReply::Refused {
            reason: "no credentials".into(),
        },
    ];
    for r in &replies {
        match r {
            HelloReply::Welcome(_)
            | HelloReply::VersionMismatch { .. }
            | HelloReply::Refused { .. } => {}
        }
        round_trip(r).await;
    }
    for (i, response) in every_response().into_iter().enumerate() {
        round_trip(&ServerFrame::Response {
            id: RequestId(i as u64),
            result: Ok(response),
        })
        .await;
    }
    for (i, kind) in every_error_kind().into_iter().enumerate() {
        let result = Err(WireError::new(
            kind,
            "permission denied: subscribe needs dispatch",
        ));
        round_trip(&ServerFrame::Response {
            id: RequestId(i as u64),
            result,
        })
        .await;
    }
    for update in every_update() {
        round_trip(&ServerFrame::Update(update)).await;
    }
    round_trip(&ServerFrame::Closing {
        reason: "bye".into(),
    })
    .await;
}

#[test]
fn hello_layout_is_frozen() {
    // The handshake must stay readable by every future version: its bytes are pinned.
    let bytes = frame::encode(&Hello {
        magic: MAGIC,
        protocol_version: 1,
        client: "c".into(),
    })
    .unwrap();
    assert_eq!(bytes, vec![0, 0, 0, 7, b'm', b'l', b'd', 0, 1, 1, b'c']);
}

#[test]
fn a_message_over_the_maximum_is_refused_when_encoding() {
    let huge = HelloReply::Refused {
        reason: "x".repeat(MAX_FRAME_LEN + 1),
    };
    let err = frame::encode(&huge).unwrap_err();
    assert!(
        matches!(err, FrameError::Encode(_) | FrameError::TooLarge { .. }),
        "{err}"
    );
}
