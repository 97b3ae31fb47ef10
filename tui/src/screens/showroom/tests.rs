//! The Showroom's key paths, fed to the whole app as a person would press them.

use super::fixtures::{self as sf, FEATURES};
use super::*;
use crate::app::App;
use crate::screens::StatusKind;
use crate::ui::fixtures::{
    answer, connected, connected_as, only_request, operator, press, type_text,
};
use crossterm::event::{KeyEvent, KeyModifiers};
use mld_shared::protocol::{ErrorKind, WireError};

fn status(app: &App) -> (StatusKind, String) {
    let s = app.status.clone().expect("a status line");
    (s.kind, s.text)
}

fn open(app: &App) -> &Open {
    app.showroom.open.as_ref().expect("a showroom is open")
}

/// The Showroom screen with iris opened (predict-all answered).
pub fn opened() -> App {
    let mut app = connected();
    press(&mut app, KeyCode::Char('3'));
    assert_eq!(app.showroom.list.as_ref().unwrap().len(), 2);
    press(&mut app, KeyCode::Down);
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::OpenShowroom {
            model: "iris".into()
        }
    );
    answer(&mut app, id, Ok(Response::Showroom(Box::new(sf::view()))));
    app
}

/// [`opened`], row 4 predicted on its own.
pub fn row4_predicted() -> App {
    let mut app = opened();
    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
    }
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::ShowroomPredict {
            model: "iris".into(),
            row: 4,
            set: vec![]
        }
    );
    assert!(matches!(open(&app).panel, Some(Panel::Waiting { .. })));
    answer(
        &mut app,
        id,
        Ok(Response::ShowroomPrediction(Box::new(sf::row4()))),
    );
    app
}

/// The edit form of row 4, petal_length cleared and `text` typed into it.
pub fn editing_petal_length(text: &str) -> App {
    let mut app = row4_predicted();
    assert!(press(&mut app, KeyCode::Char('e')).is_empty());
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
    crate::app::update(&mut app, crate::app::Msg::Key(ctrl_u));
    type_text(&mut app, text);
    app
}

/// Row 4 edited (petal_length 5.0) and answered: the before/after panel.
pub fn row4_compared() -> App {
    let mut app = editing_petal_length("5.0");
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::ShowroomPredict {
            model: "iris".into(),
            row: 4,
            set: vec![("petal_length".into(), FeatureValue::Number(5.0))]
        }
    );
    answer(
        &mut app,
        id,
        Ok(Response::ShowroomPrediction(Box::new(sf::row4_edited()))),
    );
    app
}

#[test]
fn the_list_comes_with_the_snapshot_and_enter_predicts_every_row() {
    let app = opened();
    let o = open(&app);
    assert_eq!(o.view.as_ref().unwrap().rows.len(), 5);
    assert_eq!(
        status(&app),
        (StatusKind::Done, "iris v1: 5 sample rows predicted".into())
    );
}

#[test]
fn enter_on_a_row_predicts_it_on_its_own_and_moving_away_closes_the_panel() {
    let mut app = row4_predicted();
    let Some(Panel::One { row, prediction }) = &open(&app).panel else {
        panic!("{:?}", open(&app).panel)
    };
    assert_eq!((*row, prediction.row), (RowRef::Sample(3), 4));
    assert_eq!(
        status(&app),
        (StatusKind::Done, "row 4: setosa (0.992) by iris v1".into())
    );
    press(&mut app, KeyCode::Up);
    assert_eq!(open(&app).panel, None);
}

#[test]
fn the_edit_form_holds_the_row_and_refuses_what_is_not_a_number_as_it_is_typed() {
    let app = editing_petal_length("5.0x");
    let edit = app.showroom.edit.as_ref().unwrap();
    let names: Vec<&str> = edit.form.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, FEATURES);
    assert_eq!(edit.form.value("sepal_length"), "4.8");
    assert_eq!(edit.form.value("petal_length"), "5.0x");
    assert_eq!(
        edit.form.fields[2].error.as_deref(),
        Some("\"5.0x\" is not a number"),
        "checked as typed"
    );
    let mut app = app;
    assert!(
        press(&mut app, KeyCode::Enter).is_empty(),
        "refused in the form: nothing sent"
    );
    assert!(app.showroom.edit.is_some());
    press(&mut app, KeyCode::Backspace);
    assert_eq!(
        app.showroom.edit.as_ref().unwrap().form.fields[2].error,
        None
    );
}

#[test]
fn an_edit_shows_before_and_after_and_can_be_kept_predicted_again_and_removed() {
    let mut app = row4_compared();
    assert!(app.showroom.edit.is_none());
    let Some(Panel::Compare {
        before, after, set, ..
    }) = &open(&app).panel
    else {
        panic!("{:?}", open(&app).panel)
    };
    assert_eq!(
        before.outcome,
        Outcome::Class {
            label: "setosa".into(),
            score: 0.992
        }
    );
    assert!(after.edited);
    assert_eq!(
        set,
        &vec![("petal_length".to_string(), FeatureValue::Number(5.0))]
    );

    // Kept: a sixth row, selected.
    press(&mut app, KeyCode::Char('s'));
    let o = open(&app);
    assert_eq!((o.kept.len(), o.selected, o.panel.is_none()), (1, 5, true));
    assert_eq!(o.kept[0].row, 4);
    // Predicting the kept row sends its edit again.
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::ShowroomPredict {
            model: "iris".into(),
            row: 4,
            set: vec![("petal_length".into(), FeatureValue::Number(5.0))]
        }
    );
    answer(
        &mut app,
        id,
        Ok(Response::ShowroomPrediction(Box::new(sf::row4_edited()))),
    );
    assert!(matches!(
        open(&app).panel,
        Some(Panel::One {
            row: RowRef::Kept(0),
            ..
        })
    ));
    // Editing the kept row starts from its values, and only what differs
    // from the sample row is sent.
    press(&mut app, KeyCode::Char('e'));
    let form = &app.showroom.edit.as_ref().unwrap().form;
    assert_eq!(form.value("petal_length"), "5");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('x'));
    assert!(open(&app).kept.is_empty());
    assert_eq!(open(&app).selected, 4);
}

#[test]
fn esc_resets_an_edit_then_goes_back_to_the_models() {
    let mut app = row4_compared();
    press(&mut app, KeyCode::Esc);
    assert_eq!(open(&app).panel, None);
    assert_eq!(
        status(&app),
        (StatusKind::Done, "the edit of row 4 is reset".into())
    );
    assert!(open(&app).kept.is_empty());
    press(&mut app, KeyCode::Esc);
    assert!(app.showroom.open.is_none());
}

#[test]
fn a_prediction_by_a_newer_version_says_so() {
    let mut app = opened();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    answer(
        &mut app,
        id,
        Ok(Response::ShowroomPrediction(Box::new(sf::row3_by_a_tree()))),
    );
    assert_eq!(open(&app).newer, Some(2));
    // r predicts every row again, now with v2.
    let (_, request) = only_request(&press(&mut app, KeyCode::Char('r')));
    assert_eq!(
        request,
        Request::OpenShowroom {
            model: "iris".into()
        }
    );
}

#[test]
fn a_broken_sample_file_is_shown_with_its_line() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('3'));
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    let message = "/srv/mld/churn-samples.csv:7: 3 fields, but the header has 4 columns";
    answer(
        &mut app,
        id,
        Err(WireError::new(ErrorKind::Unavailable, message)),
    );
    assert_eq!(open(&app).error.as_deref(), Some(message));
    assert_eq!(
        status(&app),
        (StatusKind::Failed, format!("opening churn: {message}"))
    );
}

#[test]
fn without_the_role_nothing_is_asked_until_a_person_asks_and_the_daemon_refuses() {
    let mut app = connected_as(operator());
    assert!(app.pending.is_empty(), "no list asked: {:?}", app.pending);
    press(&mut app, KeyCode::Char('3'));
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(request, Request::Showrooms);
    answer(
        &mut app,
        id,
        Err(WireError::new(
            ErrorKind::PermissionDenied,
            "permission denied: showrooms needs showroom",
        )),
    );
    assert_eq!(
        app.showroom.list_error.as_deref(),
        Some("permission denied: showrooms needs showroom")
    );
}

#[test]
fn a_daemon_error_on_an_edit_stays_in_the_form() {
    let mut app = editing_petal_length("5");
    let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
    assert!(app.showroom.edit.as_ref().unwrap().form.waiting);
    answer(
        &mut app,
        id,
        Err(WireError::new(
            ErrorKind::InvalidRequest,
            "feature petal_length is inf, not a finite number",
        )),
    );
    let form = &app.showroom.edit.as_ref().unwrap().form;
    assert!(!form.waiting);
    assert_eq!(
        form.fields[2].error.as_deref(),
        Some("feature petal_length is inf, not a finite number")
    );
}
