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
    let (_, request) = only_request(&cmds);
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
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
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
    let (first, _) = only_request(&press(&mut app, KeyCode::Enter));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::End);
    let (_, second) = only_request(&press(&mut app, KeyCode::Enter));
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
