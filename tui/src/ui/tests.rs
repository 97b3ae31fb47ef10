//! Every screen at 80×24, drawn on a `TestBackend` and compared as text.

use super::fixtures::{self, connected};
use super::render;
use crate::app::{App, Cmd, Msg, update};
use crate::conn::ConnEvent;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;

fn draw(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| render(frame, app, &fixtures::now()))
        .unwrap();
    terminal.backend().to_string()
}

fn press(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[test]
fn monitor() {
    let app = connected();
    let screen = draw(&app);
    // The parts the snapshot must keep, stated so a careless accept fails here.
    for word in [
        "up 2h 03m",
        "alice [admin]",
        "● connected",
        "online",
        "offline",
        "error",
    ] {
        assert!(screen.contains(word), "{word:?} missing:\n{screen}");
    }
    assert_snapshot!(screen);
}

#[test]
fn monitor_with_a_disabled_job_selected() {
    let mut app = connected();
    press(&mut app, KeyCode::Down);
    let screen = draw(&app);
    assert!(screen.contains("disabled by bob"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn monitor_with_an_invalid_job_selected() {
    let mut app = connected();
    press(&mut app, KeyCode::End);
    let screen = draw(&app);
    assert!(screen.contains("invalid: schedule"), "{screen}");
    assert_snapshot!(screen);
}

fn answer(app: &mut App, response: mld_shared::protocol::Response) {
    let id = mld_shared::ids::RequestId(1);
    update(
        app,
        Msg::Conn(ConnEvent::Response {
            id,
            result: Ok(response),
        }),
    );
}

#[test]
fn dispatches() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    answer(
        &mut app,
        mld_shared::protocol::Response::Dispatches(fixtures::dispatches()),
    );
    press(&mut app, KeyCode::Down);
    let screen = draw(&app);
    for word in [
        "running",
        "failed",
        "succeeded",
        "failed at inserted: datalake demo",
    ] {
        assert!(screen.contains(word), "{word:?} missing:\n{screen}");
    }
    assert_snapshot!(screen);
}

#[test]
fn a_dispatch_opened_shows_its_events_and_classes() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('2'));
    answer(
        &mut app,
        mld_shared::protocol::Response::Dispatches(fixtures::dispatches()),
    );
    press(&mut app, KeyCode::End);
    let cmds = press(&mut app, KeyCode::Enter);
    assert_eq!(
        cmds,
        vec![Cmd::Send(mld_shared::protocol::Request::Dispatch {
            id: mld_shared::ids::DispatchId(12)
        })]
    );
    answer(
        &mut app,
        mld_shared::protocol::Response::Dispatch(Box::new(fixtures::dispatch_detail())),
    );
    let screen = draw(&app);
    for word in [
        "Dispatch 12",
        "collected",
        "inserted",
        "setosa",
        "151: petal_length is NULL",
    ] {
        assert!(screen.contains(word), "{word:?} missing:\n{screen}");
    }
    assert_snapshot!(screen);
    press(&mut app, KeyCode::Esc);
    assert!(app.dispatch_detail.is_none());
}

#[test]
fn a_new_dispatch_appears_on_top_and_keeps_the_selection() {
    let mut app = connected();
    answer(
        &mut app,
        mld_shared::protocol::Response::Dispatches(fixtures::dispatches()),
    );
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.dispatches[app.selected_dispatch].id.0, 13);
    let mut newer = fixtures::dispatches()[0].clone();
    newer.id = mld_shared::ids::DispatchId(15);
    update(
        &mut app,
        Msg::Conn(ConnEvent::Update(mld_shared::protocol::Update::Dispatch(
            Box::new(newer),
        ))),
    );
    assert_eq!(app.dispatches[0].id.0, 15);
    assert_eq!(
        app.dispatches[app.selected_dispatch].id.0, 13,
        "selection follows its dispatch"
    );
    // A change of a listed dispatch replaces it in place.
    let mut done = fixtures::dispatches()[0].clone();
    done.status = mld_shared::protocol::DispatchStatus::Succeeded;
    update(
        &mut app,
        Msg::Conn(ConnEvent::Update(mld_shared::protocol::Update::Dispatch(
            Box::new(done),
        ))),
    );
    assert_eq!(app.dispatches.len(), 4);
    assert_eq!(
        app.dispatches[1].status,
        mld_shared::protocol::DispatchStatus::Succeeded
    );
}

#[test]
fn a_snapshot_asks_for_the_dispatch_window() {
    let mut app = App::new("/run/mld/mld.sock".into(), false);
    let cmds = update(
        &mut app,
        Msg::Conn(ConnEvent::Snapshot(Box::new(fixtures::snapshot()))),
    );
    let taken = fixtures::snapshot().taken_at;
    assert_eq!(
        cmds,
        vec![Cmd::Send(mld_shared::protocol::Request::Dispatches {
            from: mld_shared::time::WireTime(taken.0 - crate::app::DISPATCH_WINDOW_MS),
            to: mld_shared::time::WireTime(taken.0 + crate::app::DISPATCH_WINDOW_MS),
            job: None,
            limit: 500,
        })]
    );
}

#[test]
fn showroom() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('3'));
    assert_snapshot!(draw(&app));
}

#[test]
fn models() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('4'));
    assert_snapshot!(draw(&app));
}

#[test]
fn help_overlay() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('?'));
    let screen = draw(&app);
    for (key, _) in super::help::KEYS {
        assert!(screen.contains(key), "{key:?} missing from help:\n{screen}");
    }
    assert_snapshot!(screen);
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
    let screen = draw(&app);
    assert!(
        screen.contains("✗ disconnected, reconnecting in 3s"),
        "{screen}"
    );
    assert!(
        screen.contains("up ?"),
        "no uptime for a daemon we cannot see:\n{screen}"
    );
    assert!(screen.contains("(last known)"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn never_connected() {
    let mut app = App::new("/run/mld/mld.sock".into(), false);
    update(&mut app, Msg::Conn(ConnEvent::Connecting));
    let retry_at = fixtures::now().timestamp() + Duration::from_secs(5);
    update(
        &mut app,
        Msg::Conn(ConnEvent::Disconnected {
            reason: "no mld daemon answers at /run/mld/mld.sock".into(),
            retry_at,
        }),
    );
    assert_snapshot!(draw(&app));
}

#[test]
fn connecting_first_time() {
    let app = App::new("/run/mld/mld.sock".into(), false);
    assert_snapshot!(draw(&app));
}

#[test]
fn colour_is_only_used_when_allowed() {
    use ratatui::style::Color;
    let colours = |color: bool| {
        let mut app = connected();
        app.color = color;
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal
            .draw(|frame| render(frame, &app, &fixtures::now()))
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        buffer
            .content
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count()
    };
    assert_eq!(colours(false), 0, "NO_COLOR: no cell has a colour");
    assert!(colours(true) > 0);
}

#[test]
fn fits_a_small_terminal_without_panicking() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('?'));
    for (w, h) in [(20, 5), (1, 1), (80, 10), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|frame| render(frame, &app, &fixtures::now()))
            .unwrap();
    }
}
