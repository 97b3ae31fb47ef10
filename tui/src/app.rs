//! The console's model and its only way to change: `update`.
//!
//! Owns the [`App`] state (screen, help overlay, connection state, the
//! daemon's latest snapshot). Receives [`Msg`]s — keys, connection events,
//! ticks; emits [`Cmd`]s for the loop to carry out. `update` does no I/O and
//! never reads the clock, so it is tested by feeding it messages.

use crate::conn::ConnEvent;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use jiff::Timestamp;
use mld_shared::protocol::{
    DispatchDetail, DispatchSummary, Request, Response, Snapshot, Update, Welcome,
};
use mld_shared::time::WireTime;
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

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The socket the console talks to, shown while not connected.
    pub socket: PathBuf,
    pub tab: Tab,
    pub help: bool,
    pub connection: Connection,
    /// Who the daemon says we are; kept across reconnects until replaced.
    pub welcome: Option<Welcome>,
    /// The daemon's state as last received. Kept while disconnected (the
    /// header says it is stale) and replaced by the snapshot of the next
    /// subscription.
    pub data: Option<Snapshot>,
    /// The highlighted row of the Monitor's jobs table.
    pub selected_job: usize,
    /// Dispatches of the window (newest first), kept current by `Update::Dispatch`.
    pub dispatches: Vec<DispatchSummary>,
    /// The highlighted row of the Dispatches table.
    pub selected_dispatch: usize,
    /// The dispatch opened with Enter: its events and class distribution.
    pub dispatch_detail: Option<Box<DispatchDetail>>,
    /// Colours on or off (`NO_COLOR`); state words are always written out.
    pub color: bool,
    /// Whether the screen must be drawn again.
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal changed size.
    Resize,
    /// A second has passed: the header's uptime and countdown move.
    Tick,
    Conn(ConnEvent),
}

/// What `update` asks the loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Quit,
    /// Send a request to the daemon (answered through [`ConnEvent::Response`]).
    Send(Request),
}

impl App {
    pub fn new(socket: PathBuf, color: bool) -> Self {
        App {
            socket,
            tab: Tab::Monitor,
            help: false,
            connection: Connection::Connecting { before: None },
            welcome: None,
            data: None,
            selected_job: 0,
            dispatches: Vec::new(),
            selected_dispatch: 0,
            dispatch_detail: None,
            color,
            dirty: true,
        }
    }
}

/// Applies one message to the model.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Resize | Msg::Tick => {
            app.dirty = true;
            Vec::new()
        }
        Msg::Conn(event) => {
            let cmds = on_conn(app, event);
            app.dirty = true;
            cmds
        }
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let before = (
        app.tab,
        app.help,
        app.selected_job,
        app.selected_dispatch,
        app.dispatch_detail.is_some(),
    );
    match key.code {
        KeyCode::Char('c') if ctrl => return vec![Cmd::Quit],
        KeyCode::Char('q') => return vec![Cmd::Quit],
        KeyCode::Char('?') => app.help = !app.help,
        KeyCode::Esc if app.help => app.help = false,
        KeyCode::Esc => app.dispatch_detail = None,
        KeyCode::Char(c @ '1'..='4') => {
            app.tab = Tab::ALL[(c as u8 - b'1') as usize];
            app.help = false;
        }
        KeyCode::Tab => app.tab = app.tab.next(),
        KeyCode::BackTab => app.tab = app.tab.previous(),
        KeyCode::Down | KeyCode::Char('j') if app.tab == Tab::Monitor => {
            let last = job_count(app).saturating_sub(1);
            app.selected_job = (app.selected_job + 1).min(last);
        }
        KeyCode::Up | KeyCode::Char('k') if app.tab == Tab::Monitor => {
            app.selected_job = app.selected_job.saturating_sub(1);
        }
        KeyCode::Home | KeyCode::Char('g') if app.tab == Tab::Monitor => app.selected_job = 0,
        KeyCode::End | KeyCode::Char('G') if app.tab == Tab::Monitor => {
            app.selected_job = job_count(app).saturating_sub(1);
        }
        KeyCode::Down | KeyCode::Char('j') if app.tab == Tab::Dispatches => {
            app.selected_dispatch =
                (app.selected_dispatch + 1).min(app.dispatches.len().saturating_sub(1));
        }
        KeyCode::Up | KeyCode::Char('k') if app.tab == Tab::Dispatches => {
            app.selected_dispatch = app.selected_dispatch.saturating_sub(1);
        }
        KeyCode::Home | KeyCode::Char('g') if app.tab == Tab::Dispatches => {
            app.selected_dispatch = 0
        }
        KeyCode::End | KeyCode::Char('G') if app.tab == Tab::Dispatches => {
            app.selected_dispatch = app.dispatches.len().saturating_sub(1);
        }
        KeyCode::Enter if app.tab == Tab::Dispatches => {
            if let Some(d) = app.dispatches.get(app.selected_dispatch) {
                return vec![Cmd::Send(Request::Dispatch { id: d.id })];
            }
        }
        _ => {}
    }
    let after = (
        app.tab,
        app.help,
        app.selected_job,
        app.selected_dispatch,
        app.dispatch_detail.is_some(),
    );
    if after != before {
        app.dirty = true;
    }
    Vec::new()
}

/// The dispatches the screen lists when a snapshot arrives: the 24 hours
/// before the daemon's clock (and anything after it).
pub const DISPATCH_WINDOW_MS: i64 = 24 * 3_600_000;

fn dispatches_request(taken_at: WireTime) -> Request {
    Request::Dispatches {
        from: WireTime(taken_at.0 - DISPATCH_WINDOW_MS),
        to: WireTime(taken_at.0 + DISPATCH_WINDOW_MS),
        job: None,
        limit: 500,
    }
}

/// Puts a new or changed dispatch in its place (newest first).
fn upsert_dispatch(app: &mut App, d: DispatchSummary) {
    if let Some(open) = app.dispatch_detail.as_mut()
        && open.summary.id == d.id
    {
        open.summary = d.clone();
    }
    match app.dispatches.iter_mut().find(|x| x.id == d.id) {
        Some(existing) => *existing = d,
        None => {
            let at = app
                .dispatches
                .iter()
                .position(|x| x.id < d.id)
                .unwrap_or(app.dispatches.len());
            app.dispatches.insert(at, d);
            // Keep the highlighted dispatch highlighted when one arrives above it.
            if at <= app.selected_dispatch && app.dispatches.len() > 1 {
                app.selected_dispatch += 1;
            }
        }
    }
    app.dispatches.truncate(500);
    app.selected_dispatch = app
        .selected_dispatch
        .min(app.dispatches.len().saturating_sub(1));
}

fn on_conn(app: &mut App, event: ConnEvent) -> Vec<Cmd> {
    match event {
        ConnEvent::Connecting => {
            let before = match &app.connection {
                Connection::Disconnected { reason, .. } => Some(reason.clone()),
                Connection::Connecting { before } => before.clone(),
                Connection::Connected => None,
            };
            app.connection = Connection::Connecting { before };
        }
        ConnEvent::Connected(welcome) => {
            app.connection = Connection::Connected;
            app.welcome = Some(welcome);
        }
        ConnEvent::Snapshot(snapshot) | ConnEvent::Update(Update::Resync(snapshot)) => {
            let request = dispatches_request(snapshot.taken_at);
            replace(app, *snapshot);
            return vec![Cmd::Send(request)];
        }
        ConnEvent::Update(Update::Dispatch(d)) => upsert_dispatch(app, *d),
        ConnEvent::Update(update) => {
            let Some(data) = app.data.as_mut() else {
                // An update before any snapshot has nothing to apply to; the
                // daemon always sends the snapshot first, so this is a bug
                // on one side. Log it and wait for the next snapshot.
                tracing::warn!(?update, "update before snapshot ignored");
                return Vec::new();
            };
            match update {
                Update::Status(status) => data.status = status,
                Update::Health(health) => data.health = health,
                Update::Jobs(jobs) => data.jobs = jobs,
                Update::Resync(_) | Update::Dispatch(_) => unreachable!("handled above"),
                // The Models screen will show training progress.
                Update::Training(_) => {}
            }
            clamp_selection(app);
        }
        // Answers are told apart by their kind: each screen asks for one kind.
        ConnEvent::Response { id, result } => match result {
            Ok(Response::Dispatches(list)) => {
                app.dispatches = list;
                app.selected_dispatch = app
                    .selected_dispatch
                    .min(app.dispatches.len().saturating_sub(1));
            }
            Ok(Response::Dispatch(detail)) => app.dispatch_detail = Some(detail),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(id = id.0, kind = ?e.kind, message = %e.message, "request failed")
            }
        },
        ConnEvent::Disconnected { reason, retry_at } => {
            app.connection = Connection::Disconnected { reason, retry_at };
        }
    }
    Vec::new()
}

fn replace(app: &mut App, snapshot: Snapshot) {
    app.data = Some(snapshot);
    clamp_selection(app);
}

fn job_count(app: &App) -> usize {
    app.data.as_ref().map_or(0, |d| d.jobs.len())
}

fn clamp_selection(app: &mut App) {
    app.selected_job = app.selected_job.min(job_count(app).saturating_sub(1));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ui::fixtures::{self, connected};
    use crossterm::event::KeyEvent;

    fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn number_keys_and_tab_switch_screens() {
        let mut app = connected();
        assert_eq!(app.tab, Tab::Monitor);
        update(&mut app, key(KeyCode::Char('3')));
        assert_eq!(app.tab, Tab::Showroom);
        update(&mut app, key(KeyCode::Tab));
        assert_eq!(app.tab, Tab::Models);
        update(&mut app, key(KeyCode::Tab));
        assert_eq!(app.tab, Tab::Monitor, "Tab wraps around");
        update(&mut app, key(KeyCode::BackTab));
        assert_eq!(app.tab, Tab::Models, "BackTab wraps backwards");
        update(&mut app, key(KeyCode::Char('2')));
        assert_eq!(app.tab, Tab::Dispatches);
        update(&mut app, key(KeyCode::Char('5')));
        assert_eq!(app.tab, Tab::Dispatches, "5 is not a screen");
    }

    #[test]
    fn question_mark_toggles_help_and_esc_closes_it() {
        let mut app = connected();
        update(&mut app, key(KeyCode::Char('?')));
        assert!(app.help);
        update(&mut app, key(KeyCode::Char('?')));
        assert!(!app.help);
        update(&mut app, key(KeyCode::Char('?')));
        update(&mut app, key(KeyCode::Esc));
        assert!(!app.help);
    }

    #[test]
    fn q_and_ctrl_c_quit_even_from_help_or_while_disconnected() {
        let mut app = App::new("/x.sock".into(), false);
        assert_eq!(update(&mut app, key(KeyCode::Char('q'))), vec![Cmd::Quit]);
        update(&mut app, key(KeyCode::Char('?')));
        let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(update(&mut app, ctrl_c), vec![Cmd::Quit]);
        // A plain `c` is not a quit.
        assert!(update(&mut app, key(KeyCode::Char('c'))).is_empty());
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
        assert_eq!(app.data.as_ref().unwrap().health, health);
        assert_eq!(
            app.data.as_ref().unwrap().jobs,
            fixtures::snapshot().jobs,
            "jobs untouched"
        );

        let mut status = fixtures::snapshot().status;
        status.running_dispatches = 7;
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Status(status))),
        );
        assert_eq!(app.data.as_ref().unwrap().status.running_dispatches, 7);

        let mut fresh = fixtures::snapshot();
        fresh.jobs.truncate(1);
        fresh.health.clear();
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Resync(Box::new(fresh.clone())))),
        );
        assert_eq!(app.data.as_ref(), Some(&fresh));
    }

    #[test]
    fn job_selection_moves_and_stays_in_range_when_jobs_shrink() {
        let mut app = connected();
        let n = app.data.as_ref().unwrap().jobs.len();
        for _ in 0..10 {
            update(&mut app, key(KeyCode::Char('j')));
        }
        assert_eq!(app.selected_job, n - 1);
        update(&mut app, key(KeyCode::Up));
        assert_eq!(app.selected_job, n - 2);
        let mut jobs = fixtures::snapshot().jobs;
        jobs.truncate(1);
        update(&mut app, Msg::Conn(ConnEvent::Update(Update::Jobs(jobs))));
        assert_eq!(app.selected_job, 0);
    }

    #[test]
    fn disconnect_shows_reconnecting_and_keeps_the_last_data() {
        let mut app = connected();
        let retry_at = fixtures::now().timestamp() + std::time::Duration::from_secs(2);
        let reason = "the daemon at /run/mld/mld.sock closed the connection".to_string();
        update(
            &mut app,
            Msg::Conn(ConnEvent::Disconnected {
                reason: reason.clone(),
                retry_at,
            }),
        );
        assert_eq!(
            app.connection,
            Connection::Disconnected {
                reason: reason.clone(),
                retry_at
            }
        );
        assert!(app.data.is_some(), "last data kept while disconnected");
        // Navigation and help still work while disconnected.
        update(&mut app, key(KeyCode::Char('4')));
        update(&mut app, key(KeyCode::Char('?')));
        assert_eq!((app.tab, app.help), (Tab::Models, true));
        // The next attempt remembers why the last one ended.
        update(&mut app, Msg::Conn(ConnEvent::Connecting));
        assert_eq!(
            app.connection,
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
        assert_eq!(app.connection, Connection::Connected);
        assert_eq!(app.data.as_ref().unwrap().status.pid, 4242);
    }

    #[test]
    fn unknown_keys_do_not_ask_for_a_redraw_but_ticks_do() {
        let mut app = connected();
        app.dirty = false;
        update(&mut app, key(KeyCode::Char('x')));
        assert!(!app.dirty);
        update(&mut app, Msg::Tick);
        assert!(app.dirty);
    }
}
