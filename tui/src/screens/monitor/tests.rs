//! The Monitor's key paths, fed to the whole app as a person would press them.

use super::*;
use crate::app::{Msg as AppMsg, update as app_update};
use crate::conn::ConnEvent;
use crate::screens::StatusKind;
use crate::ui::fixtures::{
    self, answer, connected, connected_as, only_request, operator, press, type_text,
};
use mld_shared::protocol::{ErrorKind, WireError};
use std::time::Duration;

fn form(app: &crate::app::App) -> &Form {
    match &app.monitor.modal {
        Some(Modal::Pause { form, .. } | Modal::Resume { form, .. }) => form,
        other => panic!("no form open: {other:?}"),
    }
}

fn status(app: &crate::app::App) -> (StatusKind, String) {
    let s = app.status.clone().expect("a status line");
    (s.kind, s.text)
}

#[test]
fn pause_with_a_reason_and_until_asks_then_sends_both() {
    let mut app = connected();
    assert!(press(&mut app, KeyCode::Char('d')).is_empty());
    assert_eq!(form(&app).title, "Pause score-iris");
    type_text(&mut app, "warehouse maintenance");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "2h");
    assert!(press(&mut app, KeyCode::Enter).is_empty(), "asks first");
    let Some(Modal::Confirm { dialog, .. }) = &app.monitor.modal else {
        panic!("{:?}", app.monitor.modal)
    };
    let said = dialog.lines.join("\n");
    assert!(
        said.contains("until 2026-11-23 14:00:00 +00:00 (in 2h 00m)"),
        "{said}"
    );
    assert!(said.contains("Reason: warehouse maintenance"), "{said}");

    let (id, request) = only_request(&press(&mut app, KeyCode::Char('y')));
    let until = WireTime::from(fixtures::now().timestamp() + Duration::from_secs(7200));
    assert_eq!(
        request,
        Request::DisableJob {
            job: JobName("score-iris".into()),
            reason: Some("warehouse maintenance".into()),
            until: Some(until),
        }
    );
    assert!(app.monitor.modal.is_none());
    assert_eq!(
        status(&app),
        (StatusKind::Working, "pausing score-iris…".into())
    );
    let mut job = fixtures::snapshot().jobs[0].clone();
    job.state = JobState::Disabled {
        by: "alice".into(),
        at: WireTime::from(fixtures::now().timestamp()),
        reason: Some("warehouse maintenance".into()),
        until: Some(until),
    };
    answer(&mut app, id, Ok(Response::JobChanged(Box::new(job))));
    assert_eq!(
        status(&app),
        (
            StatusKind::Done,
            "score-iris paused until 2026-11-23 14:00:00 +00:00".into()
        )
    );
}

#[test]
fn pause_until_an_instant_with_an_offset() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('d'));
    type_text(&mut app, "disk full");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "2026-11-23T10:00:00-03:00");
    press(&mut app, KeyCode::Enter);
    let (_, request) = only_request(&press(&mut app, KeyCode::Enter));
    let Request::DisableJob { until, .. } = request else {
        panic!("{request:?}")
    };
    assert_eq!(
        until,
        Some(WireTime::from(
            "2026-11-23T13:00:00Z".parse::<jiff::Timestamp>().unwrap()
        ))
    );
}

#[test]
fn the_pause_form_shows_each_error_next_to_its_field() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('d'));
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "tomorrow");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let f = form(&app);
    assert_eq!(
        f.fields[0].error.as_deref(),
        Some("say why: it is shown to everyone")
    );
    assert!(
        f.fields[1]
            .error
            .as_deref()
            .unwrap()
            .contains("is neither an instant with an offset"),
        "{:?}",
        f.fields[1].error
    );
    assert_eq!(f.focus, 0, "the first field in error has the focus");

    // An instant in the past is refused too.
    type_text(&mut app, "late backup");
    press(&mut app, KeyCode::Tab);
    app_update(
        &mut app,
        AppMsg::Key(KeyEvent::new(
            KeyCode::Char('u'),
            crossterm::event::KeyModifiers::CONTROL,
        )),
    );
    type_text(&mut app, "2026-11-23T11:00:00Z");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let f = form(&app);
    assert_eq!(f.fields[0].error, None);
    assert_eq!(
        f.fields[1].error.as_deref(),
        Some("that is not in the future")
    );
    // Esc leaves without sending anything.
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.monitor.modal.is_none());
}

#[test]
fn saying_no_to_the_question_sends_nothing() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('r'));
    assert!(matches!(app.monitor.modal, Some(Modal::Confirm { .. })));
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    assert!(app.monitor.modal.is_some(), "other keys leave it open");
    assert!(press(&mut app, KeyCode::Char('n')).is_empty());
    assert!(app.monitor.modal.is_none());
    assert!(app.status.is_none());
}

#[test]
fn resume_with_an_optional_reason_waits_in_its_form_for_the_answer() {
    let mut app = connected();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('e'));
    assert_eq!(form(&app).title, "Resume nightly-churn");
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::EnableJob {
            job: JobName("nightly-churn".into()),
            reason: None
        }
    );
    assert!(form(&app).waiting);
    answer(
        &mut app,
        id,
        Err(WireError::new(
            ErrorKind::Conflict,
            "nightly-churn is invalid and cannot be enabled",
        )),
    );
    assert_eq!(
        form(&app).error.as_deref(),
        Some("nightly-churn is invalid and cannot be enabled"),
        "the form stays with the error in it"
    );
    assert!(!form(&app).waiting);
    type_text(&mut app, "maintenance done");
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::EnableJob {
            job: JobName("nightly-churn".into()),
            reason: Some("maintenance done".into())
        }
    );
    let job = fixtures::snapshot().jobs[1].clone();
    answer(&mut app, id, Ok(Response::JobChanged(Box::new(job))));
    assert!(app.monitor.modal.is_none());
    assert_eq!(
        status(&app),
        (StatusKind::Done, "nightly-churn resumed".into())
    );
}

#[test]
fn run_now_asks_and_reports_a_queued_run() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('r'));
    let (id, request) = only_request(&press(&mut app, KeyCode::Enter));
    assert_eq!(
        request,
        Request::RunJob {
            job: JobName("score-iris".into())
        }
    );
    answer(
        &mut app,
        id,
        Ok(Response::Run(RunOutcome::Queued {
            behind: DispatchId(14),
        })),
    );
    assert_eq!(
        status(&app),
        (
            StatusKind::Done,
            "score-iris: queued behind dispatch 14".into()
        )
    );
}

#[test]
fn for_someone_not_admin_the_daemon_refuses_and_the_status_line_says_so() {
    let mut app = connected_as(operator());
    for key in ['d', 'e', 'r'] {
        let (id, request) = only_request(&press(&mut app, KeyCode::Char(key)));
        assert!(
            app.monitor.modal.is_none(),
            "no form for what will be refused"
        );
        let name = request.name();
        answer(
            &mut app,
            id,
            Err(WireError::new(
                ErrorKind::PermissionDenied,
                format!("permission denied: {name} needs admin"),
            )),
        );
        assert_eq!(
            status(&app),
            (
                StatusKind::Failed,
                format!("permission denied: {name} needs admin")
            )
        );
        press(&mut app, KeyCode::Char('x'));
    }
}

#[test]
fn actions_while_disconnected_say_so_and_send_nothing() {
    let mut app = connected();
    app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Disconnected {
            reason: "gone".into(),
            retry_at: fixtures::now().timestamp(),
        }),
    );
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert_eq!(
        status(&app),
        (StatusKind::Failed, "not connected to the daemon".into())
    );
}

#[test]
fn slash_filters_the_jobs_and_esc_clears() {
    let mut app = connected();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "CHURN");
    let names = |app: &crate::app::App| -> Vec<String> {
        app.monitor
            .visible_jobs(&app.shared)
            .iter()
            .map(|j| j.name.0.clone())
            .collect()
    };
    assert_eq!(names(&app), ["nightly-churn"]);
    press(&mut app, KeyCode::Enter);
    assert!(!app.monitor.filter.editing);
    // The actions work on the filtered selection.
    press(&mut app, KeyCode::Char('d'));
    assert_eq!(form(&app).title, "Pause nightly-churn");
    press(&mut app, KeyCode::Esc);
    // Esc outside the filter clears it.
    press(&mut app, KeyCode::Esc);
    assert_eq!(names(&app).len(), 3);
    // A filter that matches nothing leaves nothing to act on.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "zzz");
    press(&mut app, KeyCode::Enter);
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert_eq!(status(&app), (StatusKind::Failed, "no job selected".into()));
}

#[test]
fn probes_accumulate_and_a_change_of_state_is_remembered() {
    let mut app = connected();
    let mut health = fixtures::snapshot().health;
    let checked = |s: i64| {
        Some(WireTime(
            fixtures::now().timestamp().as_millisecond() + s * 1000,
        ))
    };
    for (i, state) in [
        HealthState::Online,
        HealthState::Online,
        HealthState::Offline,
    ]
    .into_iter()
    .enumerate()
    {
        health[0].state = state;
        health[0].checked_at = checked(i as i64 + 1);
        health[0].latency_ms = (state == HealthState::Online).then_some(1.0 + i as f64);
        app_update(
            &mut app,
            AppMsg::Conn(ConnEvent::Update(Update::Health(health.clone()))),
        );
    }
    let probes = &app.monitor.probes[&probe_key(&health[0])];
    assert_eq!(probes.seen.len(), 4, "the snapshot's probe and three more");
    assert_eq!(
        probes.last_change(),
        Some((HealthState::Online, checked(3)))
    );
    // The same probe pushed again (a resync) is not counted twice.
    app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Health(health.clone()))),
    );
    assert_eq!(app.monitor.probes[&probe_key(&health[0])].seen.len(), 4);
    // At most PROBES_KEPT are kept.
    for i in 0..(PROBES_KEPT as i64 + 5) {
        health[0].checked_at = checked(10 + i);
        app_update(
            &mut app,
            AppMsg::Conn(ConnEvent::Update(Update::Health(health.clone()))),
        );
    }
    let probes = &app.monitor.probes[&probe_key(&health[0])];
    assert_eq!(probes.seen.len(), PROBES_KEPT);
    assert_eq!(probes.last_change(), None, "the change has scrolled away");
}

#[test]
fn a_running_dispatch_shows_its_live_rows_and_goes_when_finished() {
    let mut app = connected();
    let mut running = fixtures::dispatches()[0].clone();
    running.rows_collected = 40_000;
    app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(
            running.clone(),
        )))),
    );
    let mut jobs = fixtures::snapshot().jobs;
    jobs[0].running = Some(running.id);
    let cmds = app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Jobs(jobs))),
    );
    assert!(cmds.is_empty(), "already known: nothing to ask");
    assert_eq!(app.monitor.running[&running.id].rows_collected, 40_000);
    app.dirty = false;
    running.rows_collected = 80_000;
    app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(
            running.clone(),
        )))),
    );
    assert!(app.dirty, "a job on screen shows it");
    assert_eq!(app.monitor.running[&running.id].rows_collected, 80_000);
    running.status = mld_shared::protocol::DispatchStatus::Succeeded;
    app_update(
        &mut app,
        AppMsg::Conn(ConnEvent::Update(Update::Dispatch(Box::new(running)))),
    );
    assert!(app.monitor.running.is_empty());
}
