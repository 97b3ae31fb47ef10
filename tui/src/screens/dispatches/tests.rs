//! The Dispatches screen's key paths and live list.

use super::*;
use crate::app::{Msg as AppMsg, Tab, update as app_update};
use crate::conn::ConnEvent;
use crate::ui::fixtures::{self, answer, connected, fresh, only_request, press};

#[test]
fn a_snapshot_asks_for_the_window_up_to_now() {
    let mut app = fresh();
    let cmds = app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Snapshot(Box::new(fixtures::snapshot()))),
    );
    let now = fixtures::now().timestamp().as_millisecond();
    let (_, request) = fixtures::sent(&cmds)[0].clone();
    assert_eq!(
        request,
        Request::Dispatches {
            from: WireTime(now - 24 * 3_600_000),
            to: WireTime(now + 1000),
            job: None,
            limit: LIST_LIMIT,
        }
    );
}

#[test]
fn a_new_dispatch_appears_on_top_and_keeps_the_selection() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Down);
    let selected = |app: &crate::app::App| app.dispatches.visible()[app.dispatches.selected].id.0;
    assert_eq!(selected(&app), 13);
    let mut newer = fixtures::dispatches()[0].clone();
    newer.id = DispatchId(15);
    app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(newer)))),
    );
    assert_eq!(app.dispatches.list[0].id.0, 15);
    assert_eq!(selected(&app), 13, "selection follows its dispatch");
    // A change of a listed dispatch replaces it in place.
    let mut done = fixtures::dispatches()[0].clone();
    done.status = mld_shared::protocol::DispatchStatus::Succeeded;
    app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(done)))),
    );
    assert_eq!(app.dispatches.list.len(), 4);
    assert_eq!(
        app.dispatches.list[1].status,
        mld_shared::protocol::DispatchStatus::Succeeded
    );
}

#[test]
fn enter_opens_the_selected_dispatch_and_esc_goes_back() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(app.tab, Tab::Dispatches);
    press(&mut app, KeyCode::End);
    let (id, request) = crate::ui::fixtures::sent(&press(&mut app, KeyCode::Enter))[0].clone();
    assert_eq!(request, Request::Dispatch { id: DispatchId(12) });
    assert_eq!(app.dispatches.open.as_ref().unwrap().detail, None);
    answer(
        &mut app,
        id,
        Ok(Response::Dispatch(Box::new(fixtures::dispatch_detail()))),
    );
    assert!(app.dispatches.open.as_ref().unwrap().detail.is_some());
    press(&mut app, KeyCode::Esc);
    assert!(app.dispatches.open.is_none());
}

#[test]
fn an_answer_for_a_dispatch_no_longer_open_is_dropped() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    let (first, _) = crate::ui::fixtures::sent(&press(&mut app, KeyCode::Enter))[0].clone();
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::End);
    let (_, second) = crate::ui::fixtures::sent(&press(&mut app, KeyCode::Enter))[0].clone();
    assert_eq!(second, Request::Dispatch { id: DispatchId(12) });
    let mut late = fixtures::dispatch_detail();
    late.summary = fixtures::dispatches()[0].clone();
    answer(&mut app, first, Ok(Response::Dispatch(Box::new(late))));
    assert_eq!(
        app.dispatches.open.as_ref().unwrap().detail,
        None,
        "dispatch 14's late answer does not fill dispatch 12's view"
    );
}

#[test]
fn slash_filters_the_list() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('/'));
    crate::ui::fixtures::type_text(&mut app, "fail");
    let ids: Vec<i64> = app.dispatches.visible().iter().map(|d| d.id.0).collect();
    assert_eq!(ids, [13]);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.dispatches.visible().len(), 3);
}

mod window_and_actions {
    use super::*;
    use crate::screens::StatusKind;
    use crate::ui::fixtures::{connected_as, operator, type_text};
    use crossterm::event::KeyModifiers;
    use mld_shared::protocol::{DispatchStatus, ErrorKind, PredictionInfo, WireError};

    fn ctrl_u(app: &mut crate::app::App) {
        app_update(
            app,
            AppMsg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
        );
    }

    fn window_form(app: &crate::app::App) -> &crate::widgets::form::Form {
        match &app.dispatches.modal {
            Some(Modal::Window(f)) => f,
            other => panic!("{other:?}"),
        }
    }

    fn status(app: &crate::app::App) -> (StatusKind, String) {
        let s = app.status.clone().unwrap();
        (s.kind, s.text)
    }

    #[test]
    fn w_edits_the_window_with_instants_and_lengths() {
        let mut app = connected();
        press(&mut app, KeyCode::Char('2'));
        press(&mut app, KeyCode::Char('w'));
        assert_eq!(window_form(&app).value("from"), "1d");
        assert_eq!(window_form(&app).value("to"), "now");
        ctrl_u(&mut app);
        type_text(&mut app, "2026-11-23T08:00:00-03:00");
        press(&mut app, KeyCode::Tab);
        ctrl_u(&mut app);
        type_text(&mut app, "30m");
        let (_, request) = only_request(&press(&mut app, KeyCode::Enter));
        assert_eq!(
            request,
            Request::Dispatches {
                from: WireTime::from("2026-11-23T11:00:00Z".parse::<jiff::Timestamp>().unwrap()),
                to: WireTime::from("2026-11-23T11:30:00Z".parse::<jiff::Timestamp>().unwrap()),
                job: None,
                limit: LIST_LIMIT,
            }
        );
        assert!(app.dispatches.modal.is_none());
        assert!(!app.dispatches.window.live(), "it ends 30m ago: not live");
        assert!(
            app.dispatches.list.is_empty(),
            "the old window's list is gone"
        );
    }

    #[test]
    fn bad_window_input_is_shown_next_to_its_field_and_sends_nothing() {
        let mut app = connected();
        press(&mut app, KeyCode::Char('2'));
        press(&mut app, KeyCode::Char('w'));
        ctrl_u(&mut app);
        type_text(&mut app, "yesterday");
        press(&mut app, KeyCode::Tab);
        ctrl_u(&mut app);
        type_text(&mut app, "2026-11-23T10:00:00");
        assert!(press(&mut app, KeyCode::Enter).is_empty());
        let f = window_form(&app);
        assert!(
            f.fields[0]
                .error
                .as_deref()
                .unwrap()
                .starts_with("\"yesterday\" is not now"),
            "{:?}",
            f.fields[0].error
        );
        assert!(
            f.fields[1]
                .error
                .as_deref()
                .unwrap()
                .contains("with an offset"),
            "an instant without an offset is refused: {:?}",
            f.fields[1].error
        );
        // From after to (the first field in error has the focus).
        assert_eq!(f.focus, 0);
        ctrl_u(&mut app);
        type_text(&mut app, "1h");
        press(&mut app, KeyCode::Tab);
        ctrl_u(&mut app);
        type_text(&mut app, "2h");
        assert!(press(&mut app, KeyCode::Enter).is_empty());
        let f = window_form(&app);
        assert_eq!(f.fields[0].error, None);
        assert_eq!(
            f.fields[1].error.as_deref(),
            Some("the window ends before it starts")
        );
        press(&mut app, KeyCode::Esc);
        assert!(app.dispatches.modal.is_none());
        assert_eq!(app.dispatches.list.len(), 3, "the window is unchanged");
    }

    #[test]
    fn a_late_answer_for_an_older_window_is_dropped() {
        let mut app = fresh();
        let cmds = app_update(
            &mut app,
            AppMsg::Conn(ConnEvent::Snapshot(Box::new(fixtures::snapshot()))),
        );
        let (first, _) = fixtures::sent(&cmds)[0].clone();
        app.tab = Tab::Dispatches;
        press(&mut app, KeyCode::Char('w'));
        let (second, _) = only_request(&press(&mut app, KeyCode::Enter));
        answer(&mut app, second, Ok(Response::Dispatches(vec![])));
        answer(
            &mut app,
            first,
            Ok(Response::Dispatches(fixtures::dispatches())),
        );
        assert!(app.dispatches.list.is_empty());
    }

    #[test]
    fn a_fixed_window_ignores_new_dispatches_a_live_one_takes_them() {
        let mut app = connected();
        press(&mut app, KeyCode::Char('2'));
        let mut newer = fixtures::dispatches()[0].clone();
        newer.id = DispatchId(20);
        newer.created_at = WireTime(fixtures::now().timestamp().as_millisecond() + 5_000);
        app_update(
            &mut app,
            AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(newer.clone())))),
        );
        assert_eq!(app.dispatches.list[0].id, DispatchId(20));
        press(&mut app, KeyCode::Char('w'));
        press(&mut app, KeyCode::Tab);
        ctrl_u(&mut app);
        type_text(&mut app, "1m");
        let (id, _) = only_request(&press(&mut app, KeyCode::Enter));
        answer(
            &mut app,
            id,
            Ok(Response::Dispatches(fixtures::dispatches())),
        );
        newer.id = DispatchId(21);
        app_update(
            &mut app,
            AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(newer)))),
        );
        assert_eq!(app.dispatches.list.len(), 3, "after its end: not listed");
    }

    #[test]
    fn c_cancels_a_running_dispatch_after_asking() {
        let mut app = connected();
        press(&mut app, KeyCode::Char('2'));
        // 14 is running and selected first.
        assert!(press(&mut app, KeyCode::Char('c')).is_empty());
        assert!(matches!(app.dispatches.modal, Some(Modal::Cancel { .. })));
        let (id, request) = only_request(&press(&mut app, KeyCode::Char('y')));
        assert_eq!(request, Request::CancelDispatch { id: DispatchId(14) });
        answer(&mut app, id, Ok(Response::Cancelled { id: DispatchId(14) }));
        assert_eq!(
            status(&app),
            (
                StatusKind::Done,
                "dispatch 14: cancel requested; it stops at its next step".into()
            )
        );
        // A finished one cannot be cancelled.
        press(&mut app, KeyCode::Down);
        assert!(press(&mut app, KeyCode::Char('c')).is_empty());
        assert_eq!(
            status(&app),
            (
                StatusKind::Failed,
                "dispatch 13 is not running: it failed".into()
            )
        );
    }

    #[test]
    fn cancel_by_someone_not_admin_shows_the_refusal() {
        let mut app = connected_as(operator());
        press(&mut app, KeyCode::Char('2'));
        let (id, request) = only_request(&press(&mut app, KeyCode::Char('c')));
        assert_eq!(request, Request::CancelDispatch { id: DispatchId(14) });
        answer(
            &mut app,
            id,
            Err(WireError::new(
                ErrorKind::PermissionDenied,
                "permission denied: cancel needs admin",
            )),
        );
        assert_eq!(
            status(&app),
            (
                StatusKind::Failed,
                "permission denied: cancel needs admin".into()
            )
        );
    }

    fn page(keys: std::ops::Range<u32>, total: u64, more: bool) -> PredictionPage {
        PredictionPage {
            total,
            rows: keys
                .map(|k| PredictionInfo {
                    row_key: format!("{k:04}"),
                    label: "setosa".into(),
                    score: 0.9,
                    value: None,
                })
                .collect(),
            next_after: more.then(|| "x".into()),
        }
    }

    /// Opens dispatch 12; answers its detail and first page.
    fn opened() -> crate::app::App {
        let mut app = connected();
        press(&mut app, KeyCode::Char('2'));
        press(&mut app, KeyCode::End);
        let cmds = press(&mut app, KeyCode::Enter);
        let sent = crate::ui::fixtures::sent(&cmds);
        assert_eq!(sent.len(), 2, "{cmds:?}");
        assert_eq!(sent[0].1, Request::Dispatch { id: DispatchId(12) });
        assert_eq!(
            sent[1].1,
            Request::DispatchPredictions {
                id: DispatchId(12),
                after_key: None,
                filter: None,
                limit: PAGE_ROWS
            }
        );
        answer(
            &mut app,
            sent[0].0,
            Ok(Response::Dispatch(Box::new(fixtures::dispatch_detail()))),
        );
        answer(
            &mut app,
            sent[1].0,
            Ok(Response::Predictions(page(0..100, 250, true))),
        );
        app
    }

    fn open(app: &crate::app::App) -> &Open {
        app.dispatches.open.as_ref().unwrap()
    }

    #[test]
    fn predictions_page_forward_back_to_the_end_and_home() {
        let mut app = opened();
        assert_eq!(open(&app).first_row, 0);
        // PgDn: the page after the last key.
        let (id, r) = only_request(&press(&mut app, KeyCode::PageDown));
        assert_eq!(
            r,
            Request::DispatchPredictions {
                id: DispatchId(12),
                after_key: Some("0099".into()),
                filter: None,
                limit: PAGE_ROWS
            }
        );
        answer(
            &mut app,
            id,
            Ok(Response::Predictions(page(100..200, 250, true))),
        );
        assert_eq!(open(&app).first_row, 100);
        // End: the last page, counted from the total.
        let (id, r) = only_request(&press(&mut app, KeyCode::End));
        assert_eq!(
            r,
            Request::DispatchPredictionsBefore {
                id: DispatchId(12),
                before_key: None,
                filter: None,
                limit: PAGE_ROWS
            }
        );
        answer(
            &mut app,
            id,
            Ok(Response::Predictions(page(150..250, 250, false))),
        );
        assert_eq!(open(&app).first_row, 150);
        assert_eq!(open(&app).selected, 99, "at the end, the last row");
        assert!(press(&mut app, KeyCode::PageDown).is_empty());
        assert_eq!(
            status(&app),
            (StatusKind::Done, "this is the last page".into())
        );
        // PgUp: the page before the first key.
        let (id, r) = only_request(&press(&mut app, KeyCode::PageUp));
        assert_eq!(
            r,
            Request::DispatchPredictionsBefore {
                id: DispatchId(12),
                before_key: Some("0150".into()),
                filter: None,
                limit: PAGE_ROWS
            }
        );
        answer(
            &mut app,
            id,
            Ok(Response::Predictions(page(50..150, 250, true))),
        );
        assert_eq!(open(&app).first_row, 50);
        // Home: the first page.
        let (id, r) = only_request(&press(&mut app, KeyCode::Home));
        assert!(matches!(
            r,
            Request::DispatchPredictions {
                after_key: None,
                ..
            }
        ));
        answer(
            &mut app,
            id,
            Ok(Response::Predictions(page(0..100, 250, true))),
        );
        assert_eq!(open(&app).first_row, 0);
        assert!(press(&mut app, KeyCode::PageUp).is_empty());
        // Rows move within the page.
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        assert_eq!(open(&app).selected, 2);
    }

    #[test]
    fn slash_searches_row_keys_on_enter_and_esc_clears() {
        let mut app = opened();
        press(&mut app, KeyCode::Char('/'));
        assert!(type_text(&mut app, "17").is_empty(), "not asked per key");
        let (id, r) = only_request(&press(&mut app, KeyCode::Enter));
        assert_eq!(
            r,
            Request::DispatchPredictions {
                id: DispatchId(12),
                after_key: None,
                filter: Some("17".into()),
                limit: PAGE_ROWS
            }
        );
        answer(
            &mut app,
            id,
            Ok(Response::Predictions(page(17..18, 1, false))),
        );
        assert_eq!(open(&app).page.as_ref().unwrap().total, 1);
        // The search goes with paging too; Esc clears it and asks again.
        let (_, r) = only_request(&press(&mut app, KeyCode::End));
        assert!(
            matches!(r, Request::DispatchPredictionsBefore { filter: Some(ref f), .. } if f == "17")
        );
        let (_, r) = only_request(&press(&mut app, KeyCode::Esc));
        assert!(matches!(
            r,
            Request::DispatchPredictions { filter: None, .. }
        ));
        assert!(
            app.dispatches.open.is_some(),
            "the first Esc clears the search"
        );
        press(&mut app, KeyCode::Esc);
        assert!(app.dispatches.open.is_none(), "the second goes back");
    }

    #[test]
    fn a_stale_page_answer_is_dropped() {
        let mut app = opened();
        let (first, _) = only_request(&press(&mut app, KeyCode::PageDown));
        let (second, _) = only_request(&press(&mut app, KeyCode::End));
        answer(
            &mut app,
            second,
            Ok(Response::Predictions(page(150..250, 250, false))),
        );
        answer(
            &mut app,
            first,
            Ok(Response::Predictions(page(100..200, 250, true))),
        );
        assert_eq!(open(&app).first_row, 150);
        assert_eq!(open(&app).page.as_ref().unwrap().rows[0].row_key, "0150");
    }

    #[test]
    fn the_open_dispatch_reads_again_when_it_finishes() {
        let mut app = connected();
        press(&mut app, KeyCode::Char('2'));
        let cmds = press(&mut app, KeyCode::Enter);
        let sent = crate::ui::fixtures::sent(&cmds);
        let mut detail = fixtures::dispatch_detail();
        detail.summary = fixtures::dispatches()[0].clone();
        answer(
            &mut app,
            sent[0].0,
            Ok(Response::Dispatch(Box::new(detail))),
        );
        let mut done = fixtures::dispatches()[0].clone();
        done.rows_collected = 500;
        let cmds = app_update(
            &mut app,
            AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(done.clone())))),
        );
        assert!(cmds.is_empty(), "still running: the update is enough");
        assert_eq!(
            open(&app).detail.as_ref().unwrap().summary.rows_collected,
            500
        );
        done.status = DispatchStatus::Succeeded;
        done.finished_at = Some(WireTime(done.created_at.0 + 3_000));
        let cmds = app_update(
            &mut app,
            AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(done)))),
        );
        let asked: Vec<Request> = crate::ui::fixtures::sent(&cmds)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(asked.len(), 2, "{asked:?}");
        assert_eq!(asked[0], Request::Dispatch { id: DispatchId(14) });
    }

    #[test]
    fn progress_estimates_reading_from_the_jobs_last_dispatch_and_counts_writing_exactly() {
        let list = fixtures::dispatches();
        let mut running = list[0].clone();
        running.rows_collected = 76;
        let p = progress(&running, &list).unwrap();
        assert_eq!(
            (p.phase, p.done, p.of, p.estimated),
            ("reading", 76, Some(152), true),
            "dispatch 13 read 152"
        );
        assert_eq!(p.fraction(), Some(0.5));
        running.rows_stored = 150;
        running.rows_inserted = 30;
        let p = progress(&running, &list).unwrap();
        assert_eq!(
            (p.phase, p.done, p.of, p.estimated),
            ("writing", 30, Some(150), false)
        );
        let alone = progress(&running.clone(), &[]).unwrap();
        assert_eq!(alone.of, Some(150), "writing needs no history");
        running.rows_inserted = 0;
        assert_eq!(progress(&running, &[]).unwrap().of, None);
        assert_eq!(progress(&list[1], &list), None, "finished: no gauge");
    }
}
