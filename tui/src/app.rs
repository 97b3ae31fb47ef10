//! The console's model and its only way to change: `update`.
//!
//! Owns what is not any one screen's: the current tab, the help overlay,
//! the status line, the [`Shared`] state (connection, welcome, the daemon's
//! snapshot, the clock) and the requests in flight. Receives [`Msg`]s —
//! keys, connection events, ticks — and routes them: keys to the visible
//! screen (unless they are the console's own: quit, help, switch), pushed
//! updates to every screen, and each answer to the screen whose request it
//! answers, matched by request id. Emits [`Cmd`]s for the loop to carry
//! out. `update` does no I/O and never reads the clock (ticks bring the
//! time), so it is tested by feeding it messages.

use crate::conn::ConnEvent;
use crate::screens::{
    self, Effects, Shared, Status, StatusKind, dispatches, models, monitor, showroom,
};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use mld_shared::ids::RequestId;
use mld_shared::protocol::{ErrorKind, Request, Update, WireError};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The console's screens, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Monitor,
    Dispatches,
    Showroom,
    Models,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Monitor, Tab::Dispatches, Tab::Showroom, Tab::Models];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Monitor => "Monitor",
            Tab::Dispatches => "Dispatches",
            Tab::Showroom => "Showroom",
            Tab::Models => "Models",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    fn previous(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// The connection as the screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    /// An attempt is under way; `before` is why the last one ended, if any.
    Connecting {
        before: Option<String>,
    },
    Connected,
    /// Lost or refused; the connection task tries again at `retry_at`.
    Disconnected {
        reason: String,
        retry_at: Timestamp,
    },
}

/// Which screen asked, and what for: where an answer goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Monitor(monitor::Pending),
    Dispatches(dispatches::Pending),
    Showroom(showroom::Pending),
    Models(models::Pending),
}

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub shared: Shared,
    pub tab: Tab,
    pub help: bool,
    /// What the last action did (or is doing); cleared by the next key.
    pub status: Option<Status>,
    pub monitor: monitor::Monitor,
    pub dispatches: dispatches::Dispatches,
    pub showroom: showroom::Showroom,
    pub models: models::Models,
    /// Requests sent and not yet answered.
    pub pending: BTreeMap<RequestId, Route>,
    next_request: u64,
    /// Whether the screen must be drawn again.
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal changed size.
    Resize,
    /// A second has passed; this is the time now.
    Tick(Timestamp),
    Conn(ConnEvent),
}

/// What `update` asks the loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Quit,
    /// Send a request under this id (answered through [`ConnEvent::Response`]).
    Send(RequestId, Request),
}

/// The window the Dispatches screen opens on when the configuration names none.
pub const DEFAULT_DISPATCH_WINDOW: SignedDuration = SignedDuration::from_hours(24);

impl App {
    /// A console for the daemon at `socket`; `now` is the time until the
    /// first tick, `tz` the zone times are shown and typed in.
    pub fn new(socket: PathBuf, color: bool, now: Timestamp, tz: TimeZone) -> Self {
        App {
            shared: Shared {
                socket,
                connection: Connection::Connecting { before: None },
                welcome: None,
                data: None,
                now,
                tz,
                color,
            },
            tab: Tab::Monitor,
            help: false,
            status: None,
            monitor: monitor::Monitor::default(),
            dispatches: dispatches::Dispatches::new(DEFAULT_DISPATCH_WINDOW),
            showroom: showroom::Showroom::default(),
            models: models::Models::default(),
            pending: BTreeMap::new(),
            next_request: 1,
            dirty: true,
        }
    }

    /// The Dispatches screen opens on this window (the configuration's
    /// `dispatches.default_window`).
    pub fn with_dispatch_window(mut self, window: SignedDuration) -> Self {
        self.dispatches = dispatches::Dispatches::new(window);
        self
    }

    /// Whether the visible screen has the keyboard (a form, a dialog, a
    /// filter being typed): then only Ctrl-C is the console's.
    fn screen_captures_keys(&self) -> bool {
        match self.tab {
            Tab::Monitor => self.monitor.captures_keys(),
            Tab::Dispatches => self.dispatches.captures_keys(),
            Tab::Showroom => self.showroom.captures_keys(),
            Tab::Models => self.models.captures_keys(),
        }
    }

    /// Whether what is on screen moved between the last tick and `now`.
    fn ticks(&self, now: Timestamp) -> bool {
        let screen = match self.tab {
            Tab::Monitor => self.monitor.ticks(&self.shared, self.shared.now, now),
            Tab::Dispatches => self.dispatches.ticks(),
            Tab::Showroom => self.showroom.ticks(),
            Tab::Models => self.models.ticks(),
        };
        screen || crate::ui::header::ticks(self)
    }

    fn route<P>(&mut self, tab: Tab, fx: Effects<P>, wrap: fn(P) -> Route, cmds: &mut Vec<Cmd>) {
        for (request, purpose) in fx.requests {
            let id = RequestId(self.next_request);
            self.next_request += 1;
            self.pending.insert(id, wrap(purpose));
            cmds.push(Cmd::Send(id, request));
        }
        if let Some(status) = fx.status {
            self.status = Some(status);
            self.dirty = true;
        }
        if fx.redraw && self.tab == tab {
            self.dirty = true;
        }
    }

    fn feed_monitor(&mut self, msg: monitor::Msg, cmds: &mut Vec<Cmd>) {
        let mut fx = Effects::default();
        monitor::update(&mut self.monitor, msg, &self.shared, &mut fx);
        self.route(Tab::Monitor, fx, Route::Monitor, cmds);
    }

    fn feed_dispatches(&mut self, msg: dispatches::Msg, cmds: &mut Vec<Cmd>) {
        let mut fx = Effects::default();
        dispatches::update(&mut self.dispatches, msg, &self.shared, &mut fx);
        self.route(Tab::Dispatches, fx, Route::Dispatches, cmds);
    }

    fn feed_showroom(&mut self, msg: showroom::Msg, cmds: &mut Vec<Cmd>) {
        let mut fx = Effects::default();
        showroom::update(&mut self.showroom, msg, &self.shared, &mut fx);
        self.route(Tab::Showroom, fx, Route::Showroom, cmds);
    }

    fn feed_models(&mut self, msg: models::Msg, cmds: &mut Vec<Cmd>) {
        let mut fx = Effects::default();
        models::update(&mut self.models, msg, &self.shared, &mut fx);
        self.route(Tab::Models, fx, Route::Models, cmds);
    }

    fn key_to_screen(&mut self, key: KeyEvent, cmds: &mut Vec<Cmd>) {
        match self.tab {
            Tab::Monitor => self.feed_monitor(monitor::Msg::Key(key), cmds),
            Tab::Dispatches => self.feed_dispatches(dispatches::Msg::Key(key), cmds),
            Tab::Showroom => self.feed_showroom(showroom::Msg::Key(key), cmds),
            Tab::Models => self.feed_models(models::Msg::Key(key), cmds),
        }
    }

    fn snapshot_to_screens(&mut self, cmds: &mut Vec<Cmd>) {
        self.feed_monitor(monitor::Msg::Snapshot, cmds);
        self.feed_dispatches(dispatches::Msg::Snapshot, cmds);
        self.feed_showroom(showroom::Msg::Snapshot, cmds);
        self.feed_models(models::Msg::Snapshot, cmds);
    }

    fn update_to_screens(&mut self, update: Update, cmds: &mut Vec<Cmd>) {
        self.feed_monitor(monitor::Msg::Update(update.clone()), cmds);
        self.feed_dispatches(dispatches::Msg::Update(update.clone()), cmds);
        self.feed_showroom(showroom::Msg::Update(update.clone()), cmds);
        self.feed_models(models::Msg::Update(update), cmds);
    }

    fn answer(&mut self, route: Route, answer: screens::Answer, cmds: &mut Vec<Cmd>) {
        match route {
            Route::Monitor(p) => self.feed_monitor(monitor::Msg::Answer(p, answer), cmds),
            Route::Dispatches(p) => self.feed_dispatches(dispatches::Msg::Answer(p, answer), cmds),
            Route::Showroom(p) => self.feed_showroom(showroom::Msg::Answer(p, answer), cmds),
            Route::Models(p) => self.feed_models(models::Msg::Answer(p, answer), cmds),
        }
    }
}

/// Applies one message to the model.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    match msg {
        Msg::Key(key) => on_key(app, key, &mut cmds),
        Msg::Resize => app.dirty = true,
        Msg::Tick(now) => {
            let minute = |t: Timestamp| t.as_second().div_euclid(60);
            // Times shown to the minute move when the minute does; a
            // countdown (or anything shown to the second) every tick.
            if minute(now) != minute(app.shared.now) || app.ticks(now) {
                app.dirty = true;
            }
            app.shared.now = now;
        }
        Msg::Conn(event) => on_conn(app, event, &mut cmds),
    }
    cmds
}

fn on_key(app: &mut App, key: KeyEvent, cmds: &mut Vec<Cmd>) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        cmds.push(Cmd::Quit);
        return;
    }
    if app.help {
        match key.code {
            KeyCode::Char('q') => cmds.push(Cmd::Quit),
            KeyCode::Char('?') | KeyCode::Esc => app.help = false,
            KeyCode::Char(c @ '1'..='4') => {
                app.tab = Tab::ALL[(c as u8 - b'1') as usize];
                app.help = false;
            }
            _ => return,
        }
        app.dirty = true;
        return;
    }
    // The status line has been read once a key is pressed; an answer still
    // awaited keeps its line.
    if app
        .status
        .as_ref()
        .is_some_and(|s| s.kind != StatusKind::Working)
    {
        app.status = None;
        app.dirty = true;
    }
    if app.screen_captures_keys() {
        app.key_to_screen(key, cmds);
        return;
    }
    let before = (app.tab, app.help);
    match key.code {
        KeyCode::Char('q') => cmds.push(Cmd::Quit),
        KeyCode::Char('?') => app.help = true,
        KeyCode::Char(c @ '1'..='4') => app.tab = Tab::ALL[(c as u8 - b'1') as usize],
        KeyCode::Tab => app.tab = app.tab.next(),
        KeyCode::BackTab => app.tab = app.tab.previous(),
        _ => app.key_to_screen(key, cmds),
    }
    if (app.tab, app.help) != before {
        app.dirty = true;
    }
}

fn on_conn(app: &mut App, event: ConnEvent, cmds: &mut Vec<Cmd>) {
    match event {
        ConnEvent::Connecting => {
            let before = match &app.shared.connection {
                Connection::Disconnected { reason, .. } => Some(reason.clone()),
                Connection::Connecting { before } => before.clone(),
                Connection::Connected => None,
            };
            app.shared.connection = Connection::Connecting { before };
            app.dirty = true;
        }
        ConnEvent::Connected(welcome) => {
            app.shared.connection = Connection::Connected;
            app.shared.welcome = Some(welcome);
            app.dirty = true;
        }
        ConnEvent::Snapshot(snapshot) | ConnEvent::Update(Update::Resync(snapshot)) => {
            app.shared.data = Some(*snapshot);
            app.dirty = true;
            app.snapshot_to_screens(cmds);
        }
        ConnEvent::Update(update) => {
            let Some(data) = app.shared.data.as_mut() else {
                // The daemon always sends the snapshot first, so this is a
                // bug on one side. Log it and wait for the next snapshot.
                tracing::warn!(?update, "update before snapshot ignored");
                return;
            };
            // Redraw only for what shows: the header's part of the status
            // (not the uptime the daemon measured, which moves every time),
            // health and jobs on the Monitor.
            let on_monitor = app.tab == Tab::Monitor;
            let shown = |s: &mld_shared::protocol::DaemonStatus| {
                (
                    s.daemon_version.clone(),
                    s.started_at,
                    s.jobs_configured,
                    s.running_dispatches,
                    s.connected_clients,
                )
            };
            let changed = match &update {
                Update::Status(status) => {
                    let changed = shown(&data.status) != shown(status);
                    data.status = status.clone();
                    changed
                }
                Update::Health(health) => {
                    let changed = on_monitor && data.health != *health;
                    data.health = health.clone();
                    changed
                }
                Update::Jobs(jobs) => {
                    let changed = on_monitor && data.jobs != *jobs;
                    data.jobs = jobs.clone();
                    changed
                }
                Update::Resync(_) | Update::Dispatch(_) | Update::Training(_) => false,
            };
            if changed {
                app.dirty = true;
            }
            app.update_to_screens(update, cmds);
        }
        ConnEvent::Response { id, result } => match app.pending.remove(&id) {
            Some(route) => app.answer(route, result, cmds),
            // Answered after the console gave up on it (the connection was
            // lost in between): nobody waits for it any more.
            None => tracing::debug!(id = id.0, "answer to a request nobody awaits"),
        },
        ConnEvent::Disconnected { reason, retry_at } => {
            app.shared.connection = Connection::Disconnected { reason, retry_at };
            app.dirty = true;
            // No answer comes on a lost connection: tell each asker.
            let lost = WireError::new(
                ErrorKind::Unavailable,
                "the connection to the daemon was lost before it answered",
            );
            for (_, route) in std::mem::take(&mut app.pending) {
                app.answer(route, Err(lost.clone()), cmds);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ui::fixtures::{
        self, answer, connected, connected_as, fresh, only_request, press, sent, type_text,
    };
    use mld_shared::ids::{DispatchId, JobName};
    use mld_shared::protocol::Response;
    use mld_shared::time::WireTime;
    use std::time::Duration;

    #[test]
    fn number_keys_and_tab_switch_screens() {
        let mut app = connected();
        assert_eq!(app.tab, Tab::Monitor);
        press(&mut app, KeyCode::Char('3'));
        assert_eq!(app.tab, Tab::Showroom);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.tab, Tab::Models);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.tab, Tab::Monitor, "Tab wraps around");
        press(&mut app, KeyCode::BackTab);
        assert_eq!(app.tab, Tab::Models, "BackTab wraps backwards");
        press(&mut app, KeyCode::Char('2'));
        assert_eq!(app.tab, Tab::Dispatches);
        press(&mut app, KeyCode::Char('5'));
        assert_eq!(app.tab, Tab::Dispatches, "5 is not a screen");
    }

    #[test]
    fn question_mark_toggles_help_and_esc_closes_it() {
        let mut app = connected();
        press(&mut app, KeyCode::Char('?'));
        assert!(app.help);
        press(&mut app, KeyCode::Char('?'));
        assert!(!app.help);
        press(&mut app, KeyCode::Char('?'));
        press(&mut app, KeyCode::Esc);
        assert!(!app.help);
        // Keys under the overlay do not reach the screen.
        press(&mut app, KeyCode::Char('?'));
        let cmds = press(&mut app, KeyCode::Char('r'));
        assert!(cmds.is_empty() && app.monitor.modal.is_none());
    }

    #[test]
    fn q_and_ctrl_c_quit_even_from_help_or_while_disconnected() {
        let mut app = fresh();
        assert_eq!(press(&mut app, KeyCode::Char('q')), vec![Cmd::Quit]);
        press(&mut app, KeyCode::Char('?'));
        let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(update(&mut app, ctrl_c), vec![Cmd::Quit]);
    }

    #[test]
    fn a_form_takes_the_keys_the_console_would_otherwise_take() {
        let mut app = connected();
        press(&mut app, KeyCode::Char('d'));
        assert!(app.monitor.modal.is_some(), "the pause form is open");
        // q, ?, digits and Tab are text or form keys now, not quit/help/screens.
        let cmds = type_text(&mut app, "q?2");
        assert!(cmds.is_empty(), "{cmds:?}");
        assert_eq!((app.tab, app.help), (Tab::Monitor, false));
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.tab, Tab::Monitor);
        let Some(monitor::Modal::Pause { form, .. }) = &app.monitor.modal else {
            panic!("{:?}", app.monitor.modal)
        };
        assert_eq!(form.value("reason"), "q?2");
        assert_eq!(form.focus, 1, "Tab moved to the next field");
        // Ctrl-C still quits.
        let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(update(&mut app, ctrl_c), vec![Cmd::Quit]);
    }

    #[test]
    fn updates_replace_their_part_and_resync_replaces_everything() {
        let mut app = connected();
        let mut health = fixtures::snapshot().health;
        health.truncate(1);
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Health(health.clone()))),
        );
        let data = || app.shared.data.clone().unwrap();
        assert_eq!(data().health, health);
        assert_eq!(data().jobs, fixtures::snapshot().jobs, "jobs untouched");

        let mut status = fixtures::snapshot().status;
        status.running_dispatches = 7;
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Status(status))),
        );
        assert_eq!(
            app.shared.data.as_ref().unwrap().status.running_dispatches,
            7
        );

        let mut fresh = fixtures::snapshot();
        fresh.jobs.truncate(1);
        fresh.health.clear();
        let cmds = update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Resync(Box::new(fresh.clone())))),
        );
        assert_eq!(app.shared.data.as_ref(), Some(&fresh));
        // Every screen starts over from the new snapshot: the window is asked again.
        assert!(
            sent(&cmds)
                .iter()
                .any(|(_, r)| matches!(r, Request::Dispatches { .. })),
            "{cmds:?}"
        );
    }

    #[test]
    fn answers_go_to_the_request_they_answer_not_to_their_kind() {
        // The Monitor and the Dispatches screen both ask for a dispatch: the
        // Monitor for the running one of a job, Dispatches for the one opened.
        let mut app = connected();
        let mut jobs = fixtures::snapshot().jobs;
        jobs[0].running = Some(DispatchId(14));
        let cmds = update(&mut app, Msg::Conn(ConnEvent::Update(Update::Jobs(jobs))));
        let (monitor_id, r) = only_request(&cmds);
        assert_eq!(r, Request::Dispatch { id: DispatchId(14) });
        press(&mut app, KeyCode::Char('2'));
        press(&mut app, KeyCode::End);
        let (dispatches_id, r) = sent(&press(&mut app, KeyCode::Enter))[0].clone();
        assert_eq!(r, Request::Dispatch { id: DispatchId(12) });
        assert_ne!(monitor_id, dispatches_id);
        assert_eq!(
            app.pending.len(),
            3,
            "and the first page of its predictions"
        );

        // The answers come back in the other order, both of the same kind.
        let mut running = fixtures::dispatch_detail();
        running.summary = fixtures::dispatches()[0].clone();
        answer(
            &mut app,
            dispatches_id,
            Ok(Response::Dispatch(Box::new(fixtures::dispatch_detail()))),
        );
        answer(
            &mut app,
            monitor_id,
            Ok(Response::Dispatch(Box::new(running))),
        );
        let open = app.dispatches.open.as_ref().unwrap();
        assert_eq!(open.detail.as_ref().unwrap().summary.id, DispatchId(12));
        assert!(app.monitor.running.contains_key(&DispatchId(14)));
        assert!(!app.monitor.running.contains_key(&DispatchId(12)));
        assert_eq!(app.pending.len(), 1, "the page is still awaited");
        // An answer nobody awaits changes nothing.
        let before = app.clone();
        answer(&mut app, RequestId(999), Ok(Response::Pong));
        assert_eq!(app, before);
    }

    #[test]
    fn a_lost_connection_answers_every_request_in_flight() {
        let mut app = connected();
        let cmds = press(&mut app, KeyCode::Char('r'));
        assert!(cmds.is_empty(), "an admin is asked first");
        let (_, r) = only_request(&press(&mut app, KeyCode::Char('y')));
        assert_eq!(
            r,
            Request::RunJob {
                job: JobName("score-iris".into())
            }
        );
        assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Working);
        update(
            &mut app,
            Msg::Conn(ConnEvent::Disconnected {
                reason: "gone".into(),
                retry_at: fixtures::now().timestamp(),
            }),
        );
        assert!(app.pending.is_empty());
        let status = app.status.clone().unwrap();
        assert_eq!(status.kind, StatusKind::Failed);
        assert_eq!(
            status.text,
            "running score-iris: the connection to the daemon was lost before it answered"
        );
    }

    #[test]
    fn the_status_line_stays_until_a_key_but_a_pending_one_stays_through_keys() {
        let mut app = connected();
        press(&mut app, KeyCode::Char('r'));
        let (id, _) = only_request(&press(&mut app, KeyCode::Char('y')));
        press(&mut app, KeyCode::Down);
        assert_eq!(
            app.status.as_ref().map(|s| s.kind),
            Some(StatusKind::Working),
            "still waiting: the line stays"
        );
        answer(
            &mut app,
            id,
            Ok(Response::Run(mld_shared::protocol::RunOutcome::Started(
                DispatchId(15),
            ))),
        );
        assert_eq!(
            app.status.clone().unwrap().text,
            "score-iris: dispatch 15 started"
        );
        update(
            &mut app,
            Msg::Tick(fixtures::now().timestamp() + Duration::from_secs(1)),
        );
        assert!(app.status.is_some(), "time alone does not clear it");
        press(&mut app, KeyCode::Down);
        assert!(app.status.is_none());
    }

    #[test]
    fn disconnect_shows_reconnecting_and_keeps_the_last_data() {
        let mut app = connected();
        let retry_at = fixtures::now().timestamp() + Duration::from_secs(2);
        let reason = "the daemon at /run/mld/mld.sock closed the connection".to_string();
        update(
            &mut app,
            Msg::Conn(ConnEvent::Disconnected {
                reason: reason.clone(),
                retry_at,
            }),
        );
        assert_eq!(
            app.shared.connection,
            Connection::Disconnected {
                reason: reason.clone(),
                retry_at
            }
        );
        assert!(
            app.shared.data.is_some(),
            "last data kept while disconnected"
        );
        // Navigation and help still work while disconnected.
        press(&mut app, KeyCode::Char('4'));
        press(&mut app, KeyCode::Char('?'));
        assert_eq!((app.tab, app.help), (Tab::Models, true));
        // The next attempt remembers why the last one ended.
        update(&mut app, Msg::Conn(ConnEvent::Connecting));
        assert_eq!(
            app.shared.connection,
            Connection::Connecting {
                before: Some(reason)
            }
        );
        // After reconnecting, the fresh snapshot replaces the stale one.
        update(
            &mut app,
            Msg::Conn(ConnEvent::Connected(fixtures::welcome())),
        );
        let mut fresh = fixtures::snapshot();
        fresh.status.pid = 4242;
        update(&mut app, Msg::Conn(ConnEvent::Snapshot(Box::new(fresh))));
        assert_eq!(app.shared.connection, Connection::Connected);
        assert_eq!(app.shared.data.as_ref().unwrap().status.pid, 4242);
    }

    #[test]
    fn a_young_daemons_uptime_does_not_redraw_every_second() {
        let mut app = connected();
        let mut status = fixtures::snapshot().status;
        status.started_at = WireTime(fixtures::now().timestamp().as_millisecond() - 300_000);
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Status(status))),
        );
        app.tab = Tab::Models;
        let start = fixtures::now().timestamp() + Duration::from_secs(5);
        update(&mut app, Msg::Tick(start));
        app.dirty = false;
        update(&mut app, Msg::Tick(start + Duration::from_secs(1)));
        assert!(!app.dirty, "up 5m does not move with the second");
    }

    #[test]
    fn pushed_updates_redraw_only_what_shows() {
        let mut app = connected();
        // The daemon's own uptime moves on every push; the header does not show it.
        let mut status = fixtures::snapshot().status;
        status.uptime_ms += 30_000;
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Status(status.clone()))),
        );
        assert!(!app.dirty);
        status.running_dispatches += 1;
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Status(status))),
        );
        assert!(app.dirty, "the header shows running dispatches");
        // Health and jobs show on the Monitor only.
        let mut health = fixtures::snapshot().health;
        health[0].latency_ms = Some(9.0);
        app.tab = Tab::Models;
        app.dirty = false;
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Health(health.clone()))),
        );
        assert!(!app.dirty);
        assert_eq!(
            app.shared.data.as_ref().unwrap().health,
            health,
            "kept all the same"
        );
        app.tab = Tab::Monitor;
        health[0].latency_ms = Some(10.0);
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Health(health))),
        );
        assert!(app.dirty);
    }

    #[test]
    fn unknown_keys_do_not_ask_for_a_redraw() {
        let mut app = connected();
        app.dirty = false;
        press(&mut app, KeyCode::Char('x'));
        assert!(!app.dirty);
        press(&mut app, KeyCode::Down);
        assert!(app.dirty);
    }

    #[test]
    fn a_countdown_redraws_when_its_text_changes_not_every_second() {
        // Due in 2h 00m 30s: the countdown reads `in 2h 00m` until 1h 59m
        // 59s are left, 31s into the wall clock's minute.
        let mut app = connected();
        let mut jobs = fixtures::snapshot().jobs;
        jobs.truncate(1);
        let start = fixtures::now().timestamp();
        jobs[0].next_dispatch = Some(WireTime(
            (start + Duration::from_secs(2 * 3600 + 30)).as_millisecond(),
        ));
        update(&mut app, Msg::Conn(ConnEvent::Update(Update::Jobs(jobs))));
        app.dirty = false;
        let mut redrawn = Vec::new();
        for s in 1..=60 {
            update(&mut app, Msg::Tick(start + Duration::from_secs(s)));
            if std::mem::take(&mut app.dirty) {
                redrawn.push(s);
            }
        }
        // At 31s the countdown turns to `in 1h 59m`; at 60s the wall
        // clock's minute turns (times are shown to the minute).
        assert_eq!(redrawn, [31, 60]);

        // Paused until two days and a half hour from now: `in 2d 00h`
        // moves once an hour.
        let mut app = connected();
        let mut jobs = fixtures::snapshot().jobs;
        jobs.truncate(1);
        jobs[0].next_dispatch = None;
        jobs[0].state = mld_shared::protocol::JobState::Disabled {
            by: "alice".into(),
            at: WireTime(start.as_millisecond()),
            reason: None,
            until: Some(WireTime(
                (start + Duration::from_secs(2 * 86_400 + 1_800)).as_millisecond(),
            )),
        };
        update(&mut app, Msg::Conn(ConnEvent::Update(Update::Jobs(jobs))));
        app.dirty = false;
        for s in 1..60 {
            update(&mut app, Msg::Tick(start + Duration::from_secs(s)));
            assert!(!app.dirty, "tick {s} redrew `in 2d 00h`");
        }
    }

    #[test]
    fn a_tick_redraws_only_what_moves_every_second_or_a_new_minute() {
        // The Monitor counts down to score-iris's next dispatch: every tick.
        let mut app = connected();
        update(
            &mut app,
            Msg::Tick(fixtures::now().timestamp() + Duration::from_secs(1)),
        );
        assert!(app.dirty);

        // No countdown (the uptime is shown to the minute): only the
        // minute's first tick redraws.
        let mut app = connected();
        let mut jobs = fixtures::snapshot().jobs;
        for j in &mut jobs {
            j.next_dispatch = None;
        }
        update(&mut app, Msg::Conn(ConnEvent::Update(Update::Jobs(jobs))));
        let start = fixtures::now().timestamp() + Duration::from_secs(5);
        update(&mut app, Msg::Tick(start));
        app.dirty = false;
        for s in 1..55 {
            update(&mut app, Msg::Tick(start + Duration::from_secs(s)));
            assert!(!app.dirty, "tick {s} redrew with nothing moving");
        }
        update(&mut app, Msg::Tick(start + Duration::from_secs(55)));
        assert!(app.dirty, "a new minute");

        // Disconnected: the reconnect countdown moves every second.
        let mut app = connected_as(fixtures::welcome());
        update(
            &mut app,
            Msg::Conn(ConnEvent::Disconnected {
                reason: "gone".into(),
                retry_at: start + Duration::from_secs(4),
            }),
        );
        app.tab = Tab::Models;
        app.dirty = false;
        update(&mut app, Msg::Tick(start + Duration::from_secs(1)));
        assert!(app.dirty);
    }
}
