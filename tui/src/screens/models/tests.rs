//! The Models screen's key paths, fed to the whole app.

use super::*;
use crate::app::{App, Msg as AppMsg, Tab, update as app_update};
use crate::conn::ConnEvent;
use crate::screens::StatusKind;
use crate::ui::fixtures::{
    self, answer, connected, connected_as, only_request, operator, press, sent, type_text,
};
use crossterm::event::KeyModifiers;
use mld_shared::protocol::{ErrorKind, FieldProblem, TrainingStatus, WireError};

fn on_models(app: &mut App) {
    press(app, KeyCode::Char('4'));
    assert_eq!(app.tab, Tab::Models);
}

fn status(app: &App) -> (StatusKind, String) {
    let s = app.status.clone().expect("a status line");
    (s.kind, s.text)
}

fn train_form(app: &App) -> &TrainForm {
    match &app.models.modal {
        Some(Modal::Train(t)) => t,
        other => panic!("{other:?}"),
    }
}

fn field_names(t: &TrainForm) -> Vec<&str> {
    t.form.fields.iter().map(|f| f.name.as_str()).collect()
}

/// Presses `t` and answers the catalog request it makes.
fn open_training_form(app: &mut App) {
    let (id, request) = only_request(&press(app, KeyCode::Char('t')));
    assert_eq!(request, Request::Catalog);
    assert_eq!(status(app).0, StatusKind::Working);
    answer(
        app,
        id,
        Ok(Response::Catalog(Box::new(fixtures::catalog()))),
    );
}

#[test]
fn a_snapshot_asks_for_versions_experiments_and_trainings() {
    let app = connected();
    assert_eq!(app.models.versions().len(), 2);
    assert_eq!(app.models.experiments.len(), 1);
    assert_eq!(app.models.runs.len(), 2);
    assert!(
        app.models.catalog.is_none(),
        "the catalog is read when needed"
    );
}

#[test]
fn sections_switch_with_arrows_and_the_catalog_is_read_when_first_shown() {
    let mut app = connected();
    on_models(&mut app);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.models.section, Section::Experiments);
    press(&mut app, KeyCode::Char('l'));
    assert_eq!(app.models.section, Section::Trainings);
    let (id, r) = only_request(&press(&mut app, KeyCode::Right));
    assert_eq!(r, Request::Catalog);
    assert_eq!(app.models.section, Section::Catalog);
    answer(
        &mut app,
        id,
        Ok(Response::Catalog(Box::new(fixtures::catalog()))),
    );
    assert_eq!(app.models.catalog_rows().len(), 4);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.models.section, Section::Versions, "wraps around");
    assert!(press(&mut app, KeyCode::Left).is_empty(), "read once");
}

#[test]
fn enter_opens_a_version_with_its_metrics_and_esc_closes() {
    let mut app = connected();
    on_models(&mut app);
    // Newest version first.
    assert_eq!(app.models.versions()[0].version, 2);
    press(&mut app, KeyCode::Enter);
    let d = app.models.detail.as_ref().unwrap();
    assert_eq!((d.name.as_str(), d.version), ("iris", 2));
    assert_eq!(d.metrics.as_ref().unwrap().confusion[1], vec![0, 9, 1]);
    press(&mut app, KeyCode::Esc);
    assert!(app.models.detail.is_none());
}

#[test]
fn the_training_form_offers_the_models_of_the_datasets_task() {
    use mld_shared::protocol::{AlgorithmInfo, DatasetInfo, HyperparameterInfo};
    // The catalog plus a regression dataset and a regressor.
    let mut catalog = fixtures::catalog();
    catalog.datasets.push(DatasetInfo {
        name: "houses".into(),
        task: Some("regression".into()),
        description: "prices".into(),
        source: "csv houses.csv".into(),
        features: vec!["size".into(), "district".into()],
        label: "price".into(),
        records: 400,
        classes: vec![],
        preprocessing: vec![],
        problem: None,
        feature_types: vec!["number".into(), "text".into()],
    });
    catalog.models.push(AlgorithmInfo {
        name: "ridge".into(),
        task: "regression".into(),
        description: "least squares with an L2 penalty".into(),
        hyperparameters: vec![HyperparameterInfo {
            name: "penalty".into(),
            description: "scikit-learn Ridge's alpha".into(),
            kind: mld_shared::protocol::ParamKind::Float { min: 0.0, max: 1e9 },
            default: mld_shared::protocol::ParamValue::Float(1.0),
        }],
    });
    let mut app = connected();
    on_models(&mut app);
    let (id, _) = only_request(&press(&mut app, KeyCode::Char('t')));
    answer(&mut app, id, Ok(Response::Catalog(Box::new(catalog))));
    // iris is classes: the classifiers only, round and round.
    assert_eq!(train_form(&app).form.value("dataset"), "iris");
    press(&mut app, KeyCode::Down);
    for expected in ["random_forest", "decision_tree", "random_forest"] {
        press(&mut app, KeyCode::Right);
        assert_eq!(train_form(&app).form.value("model"), expected);
    }
    // houses is numbers: the model becomes the regressor, its fields follow.
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Right);
    let t = train_form(&app);
    assert_eq!(t.form.value("dataset"), "houses");
    assert_eq!(t.form.value("model"), "ridge");
    assert_eq!(
        field_names(t),
        [
            "dataset",
            "model",
            "hyperparameters.penalty",
            "test_split",
            "seed"
        ]
    );
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Right);
    assert_eq!(
        train_form(&app).form.value("model"),
        "ridge",
        "the only regressor"
    );
    // Back to iris: the first classifier again.
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Left);
    let t = train_form(&app);
    assert_eq!(t.form.value("dataset"), "iris");
    assert_eq!(t.form.value("model"), "decision_tree");
    assert_eq!(field_names(t)[2], "hyperparameters.max_depth");
}

#[test]
fn the_training_form_is_built_from_the_catalog_and_follows_the_model() {
    let mut app = connected();
    on_models(&mut app);
    open_training_form(&mut app);
    let t = train_form(&app);
    assert_eq!(
        field_names(t),
        [
            "dataset",
            "model",
            "hyperparameters.max_depth",
            "test_split",
            "seed"
        ]
    );
    assert_eq!(
        t.form.value("dataset"),
        "iris",
        "churn cannot be read: not offered"
    );
    assert_eq!(
        t.form.value("hyperparameters.max_depth"),
        "8",
        "the default"
    );
    assert!(
        t.form.fields[2]
            .hint
            .starts_with("integer in [1, 64], default 8"),
        "{}",
        t.form.fields[2].hint
    );
    // → on the model field picks the next model: its hyperparameters replace these.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Right);
    let t = train_form(&app);
    assert_eq!(t.form.value("model"), "random_forest");
    assert_eq!(
        field_names(t),
        [
            "dataset",
            "model",
            "hyperparameters.n_trees",
            "hyperparameters.max_features",
            "hyperparameters.bootstrap",
            "test_split",
            "seed"
        ]
    );
    assert_eq!(t.form.focus, 1, "still on the model");
    assert_eq!(t.form.value("hyperparameters.bootstrap"), "true");
}

#[test]
fn the_daemon_checks_the_form_and_each_problem_shows_next_to_its_field() {
    let mut app = connected();
    on_models(&mut app);
    open_training_form(&mut app);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    app_update(
        &mut app,
        AppMsg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    type_text(&mut app, "0");
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    let spec = TrainSpec {
        dataset: "iris".into(),
        model: "decision_tree".into(),
        hyperparameters: vec![("max_depth".into(), "0".into())],
        test_split: 0.2,
        seed: None,
    };
    assert_eq!(request, Request::CheckTraining(spec));
    assert!(train_form(&app).form.waiting);
    answer(
        &mut app,
        id,
        Ok(Response::TrainingProblems(vec![
            FieldProblem {
                field: "hyperparameters.max_depth".into(),
                message: "0 is out of range [1, 64]".into(),
            },
            FieldProblem {
                field: "request".into(),
                message: "iris has too few rows to hold 20% out".into(),
            },
        ])),
    );
    let t = train_form(&app);
    assert!(!t.form.waiting);
    assert_eq!(
        t.form.fields[2].error.as_deref(),
        Some("0 is out of range [1, 64]")
    );
    assert_eq!(
        t.form.error.as_deref(),
        Some("iris has too few rows to hold 20% out"),
        "a problem of no one field goes above the fields"
    );
    assert_eq!(t.form.focus, 2, "the field to fix has the focus");
    assert_eq!(
        status(&app),
        (
            StatusKind::Failed,
            "the daemon found 2 problems with the request: see the form".into()
        )
    );
}

#[test]
fn a_clean_check_starts_the_training_and_shows_the_trainings() {
    let mut app = connected();
    on_models(&mut app);
    open_training_form(&mut app);
    press(&mut app, KeyCode::End); // a key the form ignores
    press(&mut app, KeyCode::BackTab); // seed
    type_text(&mut app, "7");
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    let Request::CheckTraining(spec) = request else {
        panic!("{request:?}")
    };
    assert_eq!(spec.seed, Some(7));
    let (id, request) = only_request(&answer(
        &mut app,
        id,
        Ok(Response::TrainingProblems(vec![])),
    ));
    assert_eq!(request, Request::Train(spec));
    let cmds = answer(&mut app, id, Ok(Response::TrainingStarted { run: 3 }));
    assert!(app.models.modal.is_none());
    assert_eq!(app.models.section, Section::Trainings);
    assert_eq!(
        status(&app),
        (StatusKind::Done, "training run 3 started".into())
    );
    assert_eq!(
        only_request(&cmds).1,
        Request::TrainingRuns { limit: RUNS_SHOWN }
    );
}

#[test]
fn values_of_the_wrong_type_are_refused_before_asking() {
    let mut app = connected();
    on_models(&mut app);
    open_training_form(&mut app);
    press(&mut app, KeyCode::BackTab); // seed
    type_text(&mut app, "-1");
    press(&mut app, KeyCode::BackTab); // test split
    type_text(&mut app, "x");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let t = train_form(&app);
    let error = |name: &str| {
        t.form
            .fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.error.clone())
    };
    assert_eq!(
        error("test_split").as_deref(),
        Some("expected a number like 0.2")
    );
    assert_eq!(
        error("seed").as_deref(),
        Some("expected a whole number, or nothing")
    );
}

#[test]
fn starting_a_training_refused_by_the_daemon_says_why_in_the_form() {
    let mut app = connected_as(operator());
    on_models(&mut app);
    open_training_form(&mut app);
    assert!(
        train_form(&app)
            .form
            .intro
            .as_deref()
            .unwrap()
            .contains("needs admin"),
        "the form says it will be refused"
    );
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    let (id, _) = only_request(&answer(
        &mut app,
        id,
        Ok(Response::TrainingProblems(vec![])),
    ));
    answer(
        &mut app,
        id,
        Err(WireError::new(
            ErrorKind::PermissionDenied,
            "permission denied: train needs admin",
        )),
    );
    assert_eq!(
        status(&app),
        (
            StatusKind::Failed,
            "permission denied: train needs admin".into()
        )
    );
    assert_eq!(
        train_form(&app).form.error.as_deref(),
        Some("permission denied: train needs admin")
    );
}

#[test]
fn commit_asks_the_name_and_shows_the_new_version() {
    let mut app = connected();
    on_models(&mut app);
    press(&mut app, KeyCode::Right);
    assert!(press(&mut app, KeyCode::Char('c')).is_empty());
    let Some(Modal::Commit { id, form }) = &app.models.modal else {
        panic!("{:?}", app.models.modal)
    };
    assert_eq!(id, "20261123-114000-rf-iris");
    assert_eq!(
        form.value("name"),
        "iris",
        "the dataset's name to start with"
    );
    assert!(
        form.fields[0]
            .hint
            .ends_with("existing one to add its next version: iris")
    );
    let (rid, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::CommitExperiment {
            id: "20261123-114000-rf-iris".into(),
            name: "iris".into()
        }
    );
    // A refusal lands on the name.
    answer(
        &mut app,
        rid,
        Err(WireError::new(ErrorKind::Conflict, "iris: features differ")),
    );
    let Some(Modal::Commit { form, .. }) = &app.models.modal else {
        panic!()
    };
    assert_eq!(
        form.fields[0].error.as_deref(),
        Some("iris: features differ")
    );
    app_update(
        &mut app,
        AppMsg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    type_text(&mut app, "iris-rf");
    let (rid, _) = only_request(&press(&mut app, KeyCode::Enter));
    let cmds = answer(
        &mut app,
        rid,
        Ok(Response::ModelVersion(Box::new(fixtures::version(
            "iris-rf",
            1,
            false,
            "random_forest",
        )))),
    );
    assert!(app.models.modal.is_none());
    assert_eq!(app.models.section, Section::Versions);
    assert_eq!(
        status(&app),
        (
            StatusKind::Done,
            "20261123-114000-rf-iris committed as iris-rf v1".into()
        )
    );
    let asked: Vec<Request> = sent(&cmds).into_iter().map(|(_, r)| r).collect();
    assert_eq!(asked, [Request::Models, Request::Experiments]);
}

#[test]
fn an_empty_name_is_refused_in_the_form() {
    let mut app = connected();
    on_models(&mut app);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('c'));
    app_update(
        &mut app,
        AppMsg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let Some(Modal::Commit { form, .. }) = &app.models.modal else {
        panic!()
    };
    assert_eq!(
        form.fields[0].error.as_deref(),
        Some("give the model a name")
    );
}

#[test]
fn a_activates_the_selected_version_after_asking() {
    let mut app = connected();
    on_models(&mut app);
    assert!(press(&mut app, KeyCode::Char('a')).is_empty());
    let (id, request) = only_request(&press(&mut app, KeyCode::Char('y')));
    assert_eq!(
        request,
        Request::ActivateModel {
            name: "iris".into(),
            version: 2
        }
    );
    let cmds = answer(
        &mut app,
        id,
        Ok(Response::ModelVersion(Box::new(fixtures::version(
            "iris",
            2,
            true,
            "random_forest",
        )))),
    );
    assert_eq!(
        status(&app),
        (StatusKind::Done, "iris: version 2 is active".into())
    );
    assert_eq!(only_request(&cmds).1, Request::Models);
    // The active one is not activated again.
    press(&mut app, KeyCode::Down);
    assert!(press(&mut app, KeyCode::Char('a')).is_empty());
    assert_eq!(
        status(&app),
        (StatusKind::Failed, "iris v1 is already active".into())
    );
}

#[test]
fn activation_by_someone_not_admin_shows_the_refusal() {
    let mut app = connected_as(operator());
    on_models(&mut app);
    let (id, _) = only_request(&press(&mut app, KeyCode::Char('a')));
    answer(
        &mut app,
        id,
        Err(WireError::new(
            ErrorKind::PermissionDenied,
            "permission denied: activate needs admin",
        )),
    );
    assert_eq!(
        status(&app),
        (
            StatusKind::Failed,
            "permission denied: activate needs admin".into()
        )
    );
}

#[test]
fn x_deletes_an_experiment_or_cancels_a_running_training() {
    let mut app = connected();
    on_models(&mut app);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('x'));
    let (id, request) = only_request(&press(&mut app, KeyCode::Char('y')));
    assert_eq!(
        request,
        Request::DeleteExperiment {
            id: "20261123-114000-rf-iris".into()
        }
    );
    let cmds = answer(
        &mut app,
        id,
        Ok(Response::ExperimentDeleted {
            id: "20261123-114000-rf-iris".into(),
        }),
    );
    assert_eq!(only_request(&cmds).1, Request::Experiments);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('x'));
    let (_, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(request, Request::CancelTraining { run: 2 });
    press(&mut app, KeyCode::Down);
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    assert_eq!(
        status(&app),
        (
            StatusKind::Failed,
            "training run 1 is not running: it succeeded".into()
        )
    );
}

#[test]
fn training_progress_is_pushed_and_a_success_reads_the_experiments_again() {
    let mut app = connected();
    on_models(&mut app);
    let mut run = fixtures::training_runs()[0].clone();
    run.fraction = 0.8;
    run.stage = "evaluating".into();
    let cmds = app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Training(Box::new(run.clone())))),
    );
    assert!(cmds.is_empty());
    assert_eq!(app.models.runs[0].stage, "evaluating");
    run.status = TrainingStatus::Succeeded;
    run.experiment = Some("e2".into());
    let cmds = app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Training(Box::new(run)))),
    );
    assert_eq!(only_request(&cmds).1, Request::Experiments);
    // A run started elsewhere appears on top.
    let mut other = fixtures::training_runs()[0].clone();
    other.run = 9;
    app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Training(Box::new(other)))),
    );
    assert_eq!(app.models.runs[0].run, 9);
}

#[test]
fn enter_on_a_finished_training_opens_its_experiment() {
    let mut app = connected();
    on_models(&mut app);
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Left);
    assert_eq!(app.models.section, Section::Trainings);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.models.section, Section::Experiments);
    assert_eq!(
        app.models.detail.as_ref().unwrap().name,
        "20261123-114000-rf-iris"
    );
}

#[test]
fn slash_filters_the_section() {
    let mut app = connected();
    on_models(&mut app);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "active");
    assert_eq!(app.models.versions().len(), 1);
    assert_eq!(app.models.versions()[0].version, 1);
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.models.versions().len(), 2);
}
