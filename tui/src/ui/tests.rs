//! Every screen, form and dialog drawn on a `TestBackend` and compared as
//! text: at 80×24 and 160×48, and its colours at 80×24. Each is also drawn
//! under `NO_COLOR`, which must give the same characters and no colour at
//! all. Clock times are filtered out of the snapshots (the fixtures' clock
//! is fixed anyway; the filters keep a time-format change from rewriting
//! every snapshot — `format`'s own tests pin the formats).

use super::fixtures::{
    self, answer, connected, connected_as, fresh, only_request, operator, press, type_text,
};
use super::render;
use crate::app::{App, Msg, update};
use crate::conn::ConnEvent;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mld_shared::protocol::{ErrorKind, FeatureValue, Request, Response, Update, WireError};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::fmt::Write;
use std::time::Duration;

fn buffer(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| render(frame, app, &fixtures::now()))
        .unwrap();
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let width = buffer.area.width as usize;
    let mut out = String::new();
    for row in buffer.content.chunks(width) {
        let mut line = String::new();
        let mut skip = 0;
        for cell in row {
            // A wide character covers the next cell.
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = cell.symbol();
            skip = unicode_width(symbol).saturating_sub(1);
            line.push_str(symbol);
        }
        writeln!(out, "{}", line.trim_end()).unwrap();
    }
    out
}

fn unicode_width(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}

/// The styled runs of a buffer: `row col-col fg modifiers "text"`, for
/// every run that is not plain.
fn styles(buffer: &Buffer) -> String {
    let width = buffer.area.width as usize;
    let mut out = String::new();
    for (y, row) in buffer.content.chunks(width).enumerate() {
        let mut x = 0;
        while x < row.len() {
            let style = (row[x].fg, row[x].bg, row[x].modifier);
            let start = x;
            let mut run = String::new();
            while x < row.len() && (row[x].fg, row[x].bg, row[x].modifier) == style {
                run.push_str(row[x].symbol());
                x += 1;
            }
            if style != (Color::Reset, Color::Reset, Modifier::empty()) {
                let mut what = Vec::new();
                if style.0 != Color::Reset {
                    what.push(format!("fg={:?}", style.0));
                }
                if style.1 != Color::Reset {
                    what.push(format!("bg={:?}", style.1));
                }
                if !style.2.is_empty() {
                    what.push(format!("{:?}", style.2));
                }
                writeln!(
                    out,
                    "{y:>2} {start:>3}-{:<3} {} {:?}",
                    x - 1,
                    what.join(" "),
                    run.trim_end()
                )
                .unwrap();
            }
        }
    }
    out
}

fn has_colour(buffer: &Buffer) -> bool {
    buffer
        .content
        .iter()
        .any(|c| c.fg != Color::Reset || c.bg != Color::Reset)
}

/// Draws `app` at both sizes, with and without colour; checks that
/// `NO_COLOR` changes nothing but colour; snapshots the text and colours.
/// Returns the 80×24 text for the test's own assertions.
fn check(name: &str, app: &App) -> String {
    let mut plain = app.clone();
    plain.shared.color = false;
    let mut coloured = app.clone();
    coloured.shared.color = true;
    let mut report = String::new();
    let mut small = String::new();
    for (w, h) in [(80, 24), (160, 48)] {
        let no_colour = buffer(&plain, w, h);
        let colour = buffer(&coloured, w, h);
        assert!(
            !has_colour(&no_colour),
            "{name} {w}x{h}: NO_COLOR drew colour"
        );
        assert_eq!(
            text(&no_colour),
            text(&colour),
            "{name} {w}x{h}: colour changed the characters"
        );
        let t = text(&no_colour);
        writeln!(report, "── {w}x{h} ──\n{t}").unwrap();
        if w == 80 {
            small = t;
            writeln!(report, "── 80x24 colours ──\n{}", styles(&colour)).unwrap();
        }
    }
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?", "[instant]");
    settings.add_filter(r"\b\d{2}:\d{2}:\d{2}\b", "[hh:mm:ss]");
    settings.add_filter(r"\b\d{2}-\d{2} \d{2}:\d{2}\b", "[mm-dd hh:mm]");
    settings.set_snapshot_suffix(name);
    settings.bind(|| insta::assert_snapshot!(report));
    small
}

fn assert_has(screen: &str, words: &[&str]) {
    for word in words {
        assert!(screen.contains(word), "{word:?} missing:\n{screen}");
    }
}

#[test]
fn monitor() {
    let screen = check("monitor", &connected());
    assert_has(
        &screen,
        &[
            "up 2h 03m",
            "alice [admin]",
            "● connected",
            "online",
            "offline",
            "error",
            "in 1m 00s",
            "d pause",
        ],
    );
}

#[test]
fn monitor_with_a_disabled_job_selected() {
    let mut app = connected();
    press(&mut app, KeyCode::Down);
    let screen = check("monitor_disabled_job", &app);
    assert_has(&screen, &["disabled by bob", "warehouse maintenance"]);
}

#[test]
fn monitor_with_an_invalid_job_selected() {
    let mut app = connected();
    press(&mut app, KeyCode::End);
    let screen = check("monitor_invalid_job", &app);
    assert_has(&screen, &["invalid: schedule"]);
}

#[test]
fn monitor_for_someone_not_admin_marks_the_admin_keys() {
    let app = connected_as(operator());
    let screen = check("monitor_not_admin", &app);
    assert_has(&screen, &["olivia [dispatch]", "d e r admin only"]);
}

#[test]
fn monitor_live_a_running_job_and_a_server_that_went_offline() {
    let mut app = connected();
    let mut health = fixtures::snapshot().health;
    for i in 1..=6 {
        health[0].checked_at = Some(mld_shared::time::WireTime(
            fixtures::now().timestamp().as_millisecond() - 60_000 + i * 5_000,
        ));
        health[0].latency_ms = Some(i as f64 * 0.3);
        if i == 6 {
            health[0].state = mld_shared::protocol::HealthState::Offline;
            health[0].latency_ms = None;
            health[0].message = Some("no answer within 2s".into());
        }
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Health(health.clone()))),
        );
    }
    let mut running = fixtures::dispatches()[0].clone();
    running.rows_collected = 12_345;
    running.rows_predicted = 12_000;
    update(
        &mut app,
        Msg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(
            running.clone(),
        )))),
    );
    let mut jobs = fixtures::snapshot().jobs;
    jobs[0].running = Some(running.id);
    update(&mut app, Msg::Conn(ConnEvent::Update(Update::Jobs(jobs))));
    let screen = check("monitor_live", &app);
    assert_has(
        &screen,
        &[
            "▶ 12,345 rows",
            "running dispatch 14",
            "since",
            "online: no answer",
            "▃▂▄▅▇█×",
        ],
    );
}

#[test]
fn monitor_pause_form_with_errors_next_to_their_fields() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('d'));
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "tomorrow");
    press(&mut app, KeyCode::Enter);
    let screen = check("monitor_pause_form", &app);
    assert_has(
        &screen,
        &["Pause score-iris", "✗ say why", "✗ \"tomorrow\" is neither"],
    );
}

#[test]
fn monitor_pause_confirmation() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('d'));
    type_text(&mut app, "warehouse maintenance");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "2h");
    press(&mut app, KeyCode::Enter);
    let screen = check("monitor_pause_confirm", &app);
    assert_has(&screen, &["y/Enter pause", "n/Esc back", "(in 2h 00m)"]);
}

#[test]
fn monitor_resume_form_and_run_question() {
    let mut app = connected();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('e'));
    let screen = check("monitor_resume_form", &app);
    assert_has(&screen, &["Resume nightly-churn", "Enter resume"]);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('r'));
    let screen = check("monitor_run_confirm", &app);
    assert_has(&screen, &["Run nightly-churn now", "y/Enter run now"]);
}

#[test]
fn monitor_status_line_after_a_refusal() {
    let mut app = connected_as(operator());
    let (id, _) = only_request(&press(&mut app, KeyCode::Char('r')));
    answer(
        &mut app,
        id,
        Err(WireError::new(
            ErrorKind::PermissionDenied,
            "permission denied: run needs admin",
        )),
    );
    let screen = check("monitor_refused", &app);
    assert_has(&screen, &["✗ permission denied: run needs admin"]);
}

#[test]
fn monitor_filtered() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "churn");
    let screen = check("monitor_filtered", &app);
    assert_has(&screen, &["Jobs · 1 of 3", "/churn▏"]);
}

#[test]
fn dispatches() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Down);
    let screen = check("dispatches", &app);
    assert_has(
        &screen,
        &[
            "running",
            "failed",
            "succeeded",
            "failed at inserted: datalake demo",
        ],
    );
}

#[test]
fn a_dispatch_opened_shows_its_events_and_classes() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::End);
    let asked = fixtures::sent(&press(&mut app, KeyCode::Enter));
    answer(
        &mut app,
        asked[0].0,
        Ok(Response::Dispatch(Box::new(fixtures::dispatch_detail()))),
    );
    answer(
        &mut app,
        asked[1].0,
        Ok(Response::Predictions(fixtures::prediction_page())),
    );
    let screen = check("dispatch_opened", &app);
    assert_has(
        &screen,
        &[
            "Dispatch 12",
            "collected",
            "inserted",
            "setosa",
            "151: petal_length is NULL",
        ],
    );
}

#[test]
fn dispatches_window_form_with_an_error() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('w'));
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "x");
    press(&mut app, KeyCode::Enter);
    let screen = check("dispatches_window_form", &app);
    assert_has(
        &screen,
        &["Dispatch window", "From: 1d", "✗ \"nowx\" is not now"],
    );
}

#[test]
fn dispatches_cancel_confirmation() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('c'));
    let screen = check("dispatches_cancel", &app);
    assert_has(&screen, &["Cancel dispatch 14", "y/Enter cancel it"]);
}

#[test]
fn dispatches_empty_window() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('w'));
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    answer(&mut app, id, Ok(Response::Dispatches(vec![])));
    let screen = check("dispatches_empty", &app);
    assert_has(&screen, &["No dispatch in the last 1d"]);
}

#[test]
fn a_running_dispatch_opened_shows_its_progress_and_a_search() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    let mut running = fixtures::dispatch_detail();
    running.summary = fixtures::dispatches()[0].clone();
    running.summary.rows_collected = 38;
    running.events.truncate(3);
    running.class_counts.truncate(2);
    running.unscorable.clear();
    let asked = fixtures::sent(&press(&mut app, KeyCode::Enter));
    answer(
        &mut app,
        asked[0].0,
        Ok(Response::Dispatch(Box::new(running))),
    );
    answer(
        &mut app,
        asked[1].0,
        Ok(Response::Predictions(fixtures::prediction_page())),
    );
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "04");
    let screen = check("dispatch_running", &app);
    assert_has(
        &screen,
        &["reading 38 of ~152 rows", "25%", "/04▏", "running"],
    );
}

#[test]
fn showroom_list_with_a_broken_sample_file() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('3'));
    let screen = check("showroom", &app);
    assert_has(
        &screen,
        &[
            "choose a model",
            "churn error",
            "iris ok",
            "✗ /srv/mld/churn-samples.csv:7: 3 fields, but the header has 4",
        ],
    );
}

#[test]
fn showroom_rows_predicted() {
    let app = crate::screens::showroom::tests::opened();
    let screen = check("showroom_rows", &app);
    assert_has(
        &screen,
        &[
            "iris v1 · logistic_regression · 5 rows",
            "SEPAL_LENGTH",
            "PREDICTION",
            "versicolor",
            "0.994",
        ],
    );
}

#[test]
fn showroom_one_row_with_its_classes_and_why() {
    let app = crate::screens::showroom::tests::row4_predicted();
    let screen = check("showroom_row", &app);
    assert_has(&screen, &["Row 4", "setosa", "0.992", "███", "why setosa"]);
}

#[test]
fn showroom_edit_form_refuses_what_is_not_a_number() {
    let app = crate::screens::showroom::tests::editing_petal_length("5.0x");
    let screen = check("showroom_edit", &app);
    assert_has(
        &screen,
        &[
            "Edit row 4 of iris",
            "✗ \"5.0x\" is not a number",
            "Enter predict",
        ],
    );
}

#[test]
fn showroom_before_and_after_an_edit() {
    let app = crate::screens::showroom::tests::row4_compared();
    let screen = check("showroom_compare", &app);
    assert_has(
        &screen,
        &[
            "petal_length 1.4 → 5",
            "before",
            "after",
            "versicolor 0.573",
        ],
    );
}

#[test]
fn showroom_a_kept_edited_row() {
    let mut app = crate::screens::showroom::tests::row4_compared();
    press(&mut app, KeyCode::Char('s'));
    let screen = check("showroom_kept", &app);
    assert_has(&screen, &["4✎", "+ 1 edited", "versicolor"]);
}

#[test]
fn showroom_a_tree_by_a_newer_version_explains_its_path() {
    let mut app = crate::screens::showroom::tests::opened();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    answer(
        &mut app,
        id,
        Ok(Response::ShowroomPrediction(Box::new(
            crate::screens::showroom::fixtures::row3_by_a_tree(),
        ))),
    );
    let screen = check("showroom_tree", &app);
    assert_has(
        &screen,
        &["petal_length = 5.1 ≥ 2.45", "now v2", "leaf share"],
    );
}

/// The Showroom with the `revenue` regressor opened (predict-all answered).
fn revenue_opened() -> App {
    use crate::screens::showroom::fixtures as sf;
    let mut app = connected();
    press(&mut app, KeyCode::Char('3'));
    app.showroom.list.as_mut().unwrap().push(sf::revenue_info());
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::OpenShowroom {
            model: "revenue".into()
        }
    );
    answer(
        &mut app,
        id,
        Ok(Response::Showroom(Box::new(sf::revenue_view()))),
    );
    app
}

#[test]
fn showroom_a_regressor_shows_values_and_why_a_value_adds_up() {
    use crate::screens::showroom::fixtures as sf;
    let mut app = revenue_opened();
    let screen = check("showroom_regressor_rows", &app);
    assert_has(
        &screen,
        &[
            "revenue v2 · ridge · 3 rows",
            "PLAN",
            "COUNTRY",
            "VALUE",
            "209.75",
        ],
    );
    assert!(
        !screen.contains("PREDICTION") && !screen.contains('—'),
        "a value, no class and no score column:\n{screen}"
    );
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    answer(
        &mut app,
        id,
        Ok(Response::ShowroomPrediction(Box::new(sf::revenue_row1()))),
    );
    let screen = check("showroom_regressor_row", &app);
    assert_has(
        &screen,
        &[
            "Row 1",
            "122 · revenue v2",
            "plan=basic",
            "-21.25",
            "(intercept)",
            "150",
        ],
    );
}

#[test]
fn showroom_a_regressors_text_feature_edited_before_and_after() {
    use crate::screens::showroom::fixtures as sf;
    let mut app = revenue_opened();
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    answer(
        &mut app,
        id,
        Ok(Response::ShowroomPrediction(Box::new(sf::revenue_row1()))),
    );
    assert!(press(&mut app, KeyCode::Char('e')).is_empty());
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
    crate::app::update(&mut app, crate::app::Msg::Key(ctrl_u));
    type_text(&mut app, "pro");
    let screen = check("showroom_regressor_edit", &app);
    assert_has(
        &screen,
        &["Edit row 1 of revenue", "plan: pro", "text (a category)"],
    );
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::ShowroomPredict {
            model: "revenue".into(),
            row: 1,
            set: vec![("plan".into(), FeatureValue::Text("pro".into()))]
        }
    );
    answer(
        &mut app,
        id,
        Ok(Response::ShowroomPrediction(Box::new(
            sf::revenue_row1_pro(),
        ))),
    );
    let screen = check("showroom_regressor_compare", &app);
    assert_has(
        &screen,
        &["plan basic → pro", "value", "122", "153 (+31)", "plan=pro"],
    );
}

#[test]
fn models_versions() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    let screen = check("models", &app);
    assert_has(
        &screen,
        &[
            "[Versions 2]",
            "random_forest",
            "0.933",
            "active",
            "t train",
        ],
    );
}

#[test]
fn models_version_opened_with_per_class_metrics_and_confusion() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Enter);
    let screen = check("models_version", &app);
    assert_has(
        &screen,
        &[
            "iris v2 · a activates",
            "versicolor",
            "Confusion",
            "accuracy 0.933",
            "macro",
        ],
    );
}

#[test]
fn models_a_regressor_shows_its_feature_types_and_its_evaluation() {
    let mut app = connected();
    app.models.models.push(fixtures::regressor());
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::End);
    let screen = check("models_regressor", &app);
    assert_has(
        &screen,
        &[
            "random_forest_regressor",
            "R² 0.951",
            "3 features → a number (regression)",
            "plan (text)",
        ],
    );
    press(&mut app, KeyCode::Enter);
    let screen = check("models_regressor_version", &app);
    assert_has(
        &screen,
        &[
            "revenue v1",
            "On 750 held-out rows",
            "MAE  8.21",
            "RMSE 10.4375",
            "R²   0.9512",
            "tenure, spend, plan (text)",
        ],
    );
}

#[test]
fn a_regressors_dispatch_opened_shows_its_values_and_their_histogram() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::End);
    let asked = fixtures::sent(&press(&mut app, KeyCode::Enter));
    let (detail, page) = fixtures::value_dispatch();
    answer(
        &mut app,
        asked[0].0,
        Ok(Response::Dispatch(Box::new(detail))),
    );
    answer(&mut app, asked[1].0, Ok(Response::Predictions(page)));
    let screen = check("dispatch_values", &app);
    assert_has(
        &screen,
        &[
            "Predicted values",
            "150 values · mean 182.4",
            " 20–220 ",
            "VALUE",
            "57.125",
        ],
    );
    assert!(!screen.contains("Classes"), "{screen}");
}

#[test]
fn a_version_that_cannot_be_loaded_opens_and_says_why() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    for m in &mut app.models.models {
        for v in &mut m.versions {
            v.broken = Some("unsupported model format 9".into());
        }
    }
    press(&mut app, KeyCode::Enter);
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = text(&buffer(&app, w, h));
        assert!(
            screen.contains("cannot be loaded: unsupported model format 9"),
            "{screen}"
        );
    }
}

#[test]
fn many_hyperparameters_wrap_and_push_nothing_off_the_detail() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    for m in &mut app.models.models {
        for v in &mut m.versions {
            v.hyperparameters = (0..12)
                .map(|i| (format!("parameter_{i}"), format!("{}", i * 100)))
                .collect();
        }
    }
    press(&mut app, KeyCode::Enter);
    let screen = text(&buffer(&app, 80, 24));
    assert!(screen.contains(" parameter_11=1100"), "{screen}");
    assert!(screen.contains(" sha256 "), "{screen}");
    assert!(screen.contains("Confusion"), "{screen}");
}

#[test]
fn models_experiments_and_trainings() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Right);
    let screen = check("models_experiments", &app);
    assert_has(&screen, &["[Experiments 1]", "20261123-114000-rf-iris"]);
    press(&mut app, KeyCode::Right);
    let screen = check("models_trainings", &app);
    assert_has(&screen, &["[Trainings 2]", "fitting", "40%", "succeeded"]);
}

#[test]
fn models_catalog() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Left);
    let (id, _) = only_request(&press(&mut app, KeyCode::Char('r')).split_off(3));
    answer(
        &mut app,
        id,
        Ok(Response::Catalog(Box::new(fixtures::catalog()))),
    );
    press(&mut app, KeyCode::End);
    let screen = check("models_catalog", &app);
    assert_has(&screen, &["random_forest", "n_trees", "unusable"]);
}

#[test]
fn models_training_form_with_the_daemons_problems() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    let (id, _) = only_request(&press(&mut app, KeyCode::Char('t')));
    answer(
        &mut app,
        id,
        Ok(Response::Catalog(Box::new(fixtures::catalog()))),
    );
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Right);
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    answer(
        &mut app,
        id,
        Ok(Response::TrainingProblems(vec![
            mld_shared::protocol::FieldProblem {
                field: "hyperparameters.n_trees".into(),
                message: "0 is out of range [1, 1000]".into(),
            },
        ])),
    );
    let screen = check("models_train_form", &app);
    assert_has(
        &screen,
        &[
            "Train a model",
            "‹ random_forest ›",
            "✗ 0 is out of range [1, 1000]",
        ],
    );
}

#[test]
fn models_commit_form_and_activate_question() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('a'));
    let screen = check("models_activate", &app);
    assert_has(&screen, &["Activate iris v2", "y/Enter activate"]);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('c'));
    let screen = check("models_commit", &app);
    assert_has(
        &screen,
        &["Commit 20261123-114000-rf-iris", "Model name: iris"],
    );
}

#[test]
fn models_delete_and_cancel_questions() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('x'));
    let screen = check("models_delete", &app);
    assert_has(
        &screen,
        &["Delete 20261123-114000-rf-iris", "y/Enter delete"],
    );
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('x'));
    let screen = check("models_cancel_training", &app);
    assert_has(&screen, &["Cancel training run 2", "y/Enter stop it"]);
}

#[test]
fn help_lists_the_keys_of_the_screen_shown() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('?'));
    let screen = check("help_monitor", &app);
    for k in super::help::KEYS
        .iter()
        .chain(crate::screens::monitor::KEYS)
    {
        assert!(
            screen.contains(k.keys),
            "{:?} missing from help:\n{screen}",
            k.keys
        );
    }
    press(&mut app, KeyCode::Char('?'));
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('?'));
    let screen = check("help_dispatches", &app);
    for k in crate::screens::dispatches::KEYS {
        assert!(screen.contains(k.keys), "{:?} missing:\n{screen}", k.keys);
    }
    press(&mut app, KeyCode::Char('?'));
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('?'));
    let screen = check("help_showroom", &app);
    for k in crate::screens::showroom::KEYS {
        assert!(screen.contains(k.keys), "{:?} missing:\n{screen}", k.keys);
    }
    press(&mut app, KeyCode::Char('?'));
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('?'));
    let screen = check("help_models", &app);
    for k in crate::screens::models::KEYS {
        assert!(screen.contains(k.keys), "{:?} missing:\n{screen}", k.keys);
    }
}

#[test]
fn help_for_someone_not_admin_says_the_daemon_refuses() {
    let mut app = connected_as(operator());
    press(&mut app, KeyCode::Char('?'));
    let screen = text(&buffer(&app, 80, 24));
    assert!(screen.contains("(admin only: refused)"), "{screen}");
    // Every screen's keys fit at 80×24, the note included.
    for tab in ['1', '2', '3', '4'] {
        press(&mut app, KeyCode::Char(tab)); // closes the help
        press(&mut app, KeyCode::Char('?'));
        let screen = text(&buffer(&app, 80, 24));
        assert!(
            screen.contains("reconnects by itself when the daemon restarts"),
            "help on {tab} cut short:\n{screen}"
        );
    }
}

#[test]
fn disconnected_keeps_last_data_and_counts_down() {
    let mut app = connected();
    let retry_at = fixtures::now().timestamp() + Duration::from_millis(2_500);
    let reason = "no mld daemon answers at /run/mld/mld.sock: is it running? (the socket file is there but nothing listens)";
    update(
        &mut app,
        Msg::Conn(ConnEvent::Disconnected {
            reason: reason.into(),
            retry_at,
        }),
    );
    let screen = check("disconnected", &app);
    assert_has(
        &screen,
        &["✗ disconnected, reconnecting in 3s", "up ?", "(last known)"],
    );
}

#[test]
fn never_connected() {
    let mut app = fresh();
    update(&mut app, Msg::Conn(ConnEvent::Connecting));
    let retry_at = fixtures::now().timestamp() + Duration::from_secs(5);
    update(
        &mut app,
        Msg::Conn(ConnEvent::Disconnected {
            reason: "no mld daemon answers at /run/mld/mld.sock".into(),
            retry_at,
        }),
    );
    check("never_connected", &app);
}

#[test]
fn connecting_first_time() {
    check("connecting", &fresh());
}

#[test]
fn fits_a_small_terminal_without_panicking() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('d'));
    for tab in ['1', '2', '3', '4'] {
        let mut app = connected();
        press(&mut app, KeyCode::Char(tab));
        press(&mut app, KeyCode::Char('?'));
        for (w, h) in [(20, 5), (1, 1), (80, 10), (200, 60)] {
            buffer(&app, w, h);
        }
    }
    for (w, h) in [(20, 5), (1, 1), (80, 10), (200, 60)] {
        buffer(&app, w, h);
    }
}

/// Opens dispatch 12 as a sharded one (its events say so) on the
/// Dispatches screen; checks it asks for the shards. Returns the app, the
/// shards request's id, and a maker of a shard's line (shard, state, node,
/// rows, attempt) of 76 keys each.
#[allow(clippy::type_complexity)]
fn open_sharded_dispatch() -> (
    App,
    mld_shared::ids::RequestId,
    impl Fn(u32, &str, Option<&str>, u64, u32) -> mld_shared::protocol::ShardInfo,
) {
    use mld_shared::ids::DispatchId;
    use mld_shared::protocol::{DispatchEventInfo, Request, ShardInfo};
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::End);
    let asked = fixtures::sent(&press(&mut app, KeyCode::Enter));
    let mut detail = fixtures::dispatch_detail();
    let at = detail.events[1].at;
    detail.events.insert(
        2,
        DispatchEventInfo {
            seq: 3,
            at,
            step: "shard".into(),
            rows: None,
            message: Some("2 shards of key column id from 1 to 152".into()),
        },
    );
    let more = answer(
        &mut app,
        asked[0].0,
        Ok(Response::Dispatch(Box::new(detail))),
    );
    let shards_asked = fixtures::sent(&more);
    assert_eq!(
        shards_asked
            .iter()
            .map(|(_, r)| r.clone())
            .collect::<Vec<_>>(),
        vec![Request::DispatchShards { id: DispatchId(12) }]
    );
    answer(
        &mut app,
        asked[1].0,
        Ok(Response::Predictions(fixtures::prediction_page())),
    );
    let shard = move |k: u32, state: &str, node: Option<&str>, rows: u64, attempt: u32| ShardInfo {
        shard: k,
        key_lo: 1 + 76 * k as i64,
        key_hi: 76 + 76 * k as i64,
        state: state.into(),
        attempt,
        task: Some(format!("41_{k}")),
        node: node.map(str::to_string),
        rows_collected: rows,
        rows_predicted: rows,
        rows_inserted: rows,
        error: None,
        updated_at: at,
    };
    (app, shards_asked[0].0, shard)
}

/// A dispatch scored in shards: opening it asks for its shards (its events
/// say so), and the shards show with state, node and rows, at 80×24.
#[test]
fn a_sharded_dispatch_opened_shows_its_shards() {
    let (mut app, shards_asked, shard) = open_sharded_dispatch();
    answer(
        &mut app,
        shards_asked,
        Ok(Response::Shards(vec![
            shard(0, "done", Some("node-3"), 76, 0),
            shard(1, "running", Some("node-7"), 0, 1),
        ])),
    );
    let screen = text(&buffer(&app, 80, 24));
    assert_has(
        &screen,
        &[
            "Shards · 1 of 2 done",
            "0 done     node-3 · 76 rows",
            "1 running  node-7 · attempt 2",
        ],
    );
    // Wider, each line ends with the task's Slurm name (for `scontrol show job`).
    let wide = text(&buffer(&app, 160, 48));
    assert_has(
        &wide,
        &[
            "0 done     node-3 · 76 rows · 41_0",
            "1 running  node-7 · attempt 2 · 41_1",
        ],
    );
}

/// Twelve shards do not fit at 80×24: the box says how many it shows, and
/// those not done come first (they are what to watch).
#[test]
fn shards_that_do_not_fit_show_those_not_done_first() {
    let (mut app, shards_asked, shard) = open_sharded_dispatch();
    answer(
        &mut app,
        shards_asked,
        Ok(Response::Shards(
            (0..12)
                .map(|k| match k {
                    9 => shard(k, "running", Some("node-7"), 0, 0),
                    11 => shard(k, "pending", None, 0, 0),
                    _ => shard(k, "done", Some("node-3"), 76, 0),
                })
                .collect(),
        )),
    );
    let screen = text(&buffer(&app, 80, 24));
    let title = screen
        .lines()
        .find(|l| l.contains("Shards · 10 of 12 done · "))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(title.contains(" shown "), "{title}");
    let running = screen
        .find(" 9 running")
        .unwrap_or_else(|| panic!("{screen}"));
    let pending = screen
        .find("11 pending")
        .unwrap_or_else(|| panic!("{screen}"));
    let first_done = screen.find(" 0 done").unwrap_or(usize::MAX);
    assert!(running < first_done && pending < first_done, "{screen}");
    assert!(!screen.contains(" 8 done"), "more shown than fit: {screen}");
}
