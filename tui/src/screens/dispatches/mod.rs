//! The Dispatches screen: the dispatches of a time window, newest first,
//! following live (with a gauge for running ones) and charted across the
//! window; `Enter` opens one: its events, its predictions a page at a time
//! (searchable by row key), its class distribution, the pinned model.
//!
//! Owns the window (`w` edits it), the list with its selection and filter,
//! the opened dispatch with its page of predictions, and the open form or
//! question (`c` cancels a running dispatch). Receives keys,
//! `Update::Dispatch` and the answers to its requests; emits `Dispatches`,
//! `Dispatch`, `DispatchPredictions` / `DispatchPredictionsBefore` and
//! `CancelDispatch`.

mod view;
pub mod window;

pub use view::render;

use super::{Answer, Effects, KeyHelp, Shared, error_text, step};
use crate::widgets::confirm::{self, Confirm};
use crate::widgets::filter::{Filter, FilterEvent};
use crate::widgets::form::{Field, Form, FormEvent};
use crossterm::event::{KeyCode, KeyEvent};
use jiff::SignedDuration;
use mld_shared::ids::DispatchId;
use mld_shared::protocol::{
    DispatchDetail, DispatchSummary, PredictionPage, Request, Response, ShardInfo, Update,
};
use mld_shared::time::WireTime;
use window::{Window, parse_edge};

/// The most dispatches one window lists.
pub const LIST_LIMIT: u32 = 1000;
/// Predictions asked for at a time.
pub const PAGE_ROWS: u32 = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Dispatches {
    pub window: Window,
    /// Newest first, kept current by `Update::Dispatch`.
    pub list: Vec<DispatchSummary>,
    /// The list has been answered for the current window.
    pub loaded: bool,
    /// The highlighted row among those the filter lets through.
    pub selected: usize,
    pub filter: Filter,
    /// The dispatch opened with Enter.
    pub open: Option<Open>,
    pub modal: Option<Modal>,
    /// Bumped with each list request: only the latest answer is taken.
    list_asked: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub id: DispatchId,
    pub detail: Option<Box<DispatchDetail>>,
    /// Its shards, when it is scored in shards (state, node, rows).
    pub shards: Vec<ShardInfo>,
    pub page: Option<PredictionPage>,
    /// Where the page's first row is among all matching rows (0-based).
    pub first_row: u64,
    /// The highlighted row of the page.
    pub selected: usize,
    /// Row-key search, sent to the daemon on Enter.
    pub search: Filter,
    /// Bumped with each page request: only the latest answer is taken.
    page_asked: u64,
}

/// Which page to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageMove {
    First,
    Next,
    Previous,
    Last,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Window(Form),
    /// Yes cancels this dispatch.
    Cancel {
        id: DispatchId,
        dialog: Confirm,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    List(u64),
    Detail(DispatchId),
    Page {
        id: DispatchId,
        asked: u64,
        to: PageMove,
    },
    Cancel(DispatchId),
    Shards(DispatchId),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Snapshot,
    Update(Update),
    Answer(Pending, Answer),
}

pub const KEYS: &[KeyHelp] = &[
    KeyHelp::new("↑ ↓, j k", "select a dispatch, or a prediction").footer(),
    KeyHelp::new("Enter", "open the dispatch").footer(),
    KeyHelp::new("w", "edit the window (from, to)").footer_as("window"),
    KeyHelp::new("c", "cancel the running dispatch (confirm)")
        .admin()
        .footer(),
    KeyHelp::new("/", "filter the list; in a dispatch, search row keys").footer(),
    KeyHelp::new("PgUp PgDn", "previous, next page of predictions"),
    KeyHelp::new("Home End", "first, last page of predictions"),
    KeyHelp::new("Esc", "clear the filter, or back to the list").footer_as("back"),
];

impl Dispatches {
    /// The last `window` up to now.
    pub fn new(window: SignedDuration) -> Dispatches {
        Dispatches {
            window: Window::last(window),
            list: Vec::new(),
            loaded: false,
            selected: 0,
            filter: Filter::default(),
            open: None,
            modal: None,
            list_asked: 0,
        }
    }

    pub fn captures_keys(&self) -> bool {
        self.modal.is_some()
            || self.filter.editing
            || self.open.as_ref().is_some_and(|o| o.search.editing)
    }

    /// A running dispatch shows its time so far.
    pub fn ticks(&self) -> bool {
        match &self.open {
            Some(open) => open
                .detail
                .as_ref()
                .is_some_and(|d| !d.summary.status.is_finished()),
            None => self.list.iter().any(|d| !d.status.is_finished()),
        }
    }

    pub fn visible(&self) -> Vec<&DispatchSummary> {
        self.list
            .iter()
            .filter(|d| {
                self.filter.matches([
                    d.job.0.as_str(),
                    d.status.as_str(),
                    d.trigger.as_str(),
                    d.requested_by.as_str(),
                    d.model.as_str(),
                ])
            })
            .collect()
    }

    fn selected_dispatch(&self) -> Option<&DispatchSummary> {
        match &self.open {
            Some(open) => open
                .detail
                .as_ref()
                .map(|d| &d.summary)
                .or_else(|| self.list.iter().find(|d| d.id == open.id)),
            None => self.visible().get(self.selected).copied(),
        }
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    fn ask_list(&mut self, shared: &Shared, fx: &mut Effects<Pending>) {
        let (from, to) = self.window.resolve(shared.now);
        // A live window's end is now; what is created later comes as updates.
        let to = if self.window.live() {
            to + SignedDuration::from_secs(1)
        } else {
            to
        };
        self.list_asked += 1;
        fx.send(
            Request::Dispatches {
                from: WireTime::from(from),
                to: WireTime::from(to),
                job: None,
                limit: LIST_LIMIT,
            },
            Pending::List(self.list_asked),
        );
    }
}

/// How far a running dispatch has got, for its gauge: the phase, rows done,
/// and out of how many — an estimate while reading (what the job's last
/// finished dispatch read), exact while writing back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: &'static str,
    pub done: u64,
    pub of: Option<u64>,
    pub estimated: bool,
}

impl Progress {
    /// Done over total; an estimate never says 100% before the end.
    pub fn fraction(&self) -> Option<f64> {
        let most = if self.estimated { 0.99 } else { 1.0 };
        self.of
            .filter(|of| *of > 0)
            .map(|of| (self.done as f64 / of as f64).clamp(0.0, most))
    }
}

pub fn progress(d: &DispatchSummary, list: &[DispatchSummary]) -> Option<Progress> {
    if d.status.is_finished() {
        return None;
    }
    if d.rows_inserted > 0 {
        return Some(Progress {
            phase: "writing",
            done: d.rows_inserted,
            of: Some(d.rows_stored),
            estimated: false,
        });
    }
    let before = list
        .iter()
        .filter(|x| x.job == d.job && x.id < d.id && x.status.is_finished())
        .filter(|x| x.rows_collected > 0)
        .max_by_key(|x| x.id);
    Some(Progress {
        phase: "reading",
        done: d.rows_collected,
        of: before.map(|x| x.rows_collected.max(d.rows_collected)),
        estimated: true,
    })
}

pub fn update(m: &mut Dispatches, msg: Msg, shared: &Shared, fx: &mut Effects<Pending>) {
    match msg {
        Msg::Key(key) => on_key(m, key, shared, fx),
        Msg::Snapshot => {
            m.ask_list(shared, fx);
            // The opened dispatch may have moved on while we were away.
            if let Some(open) = &mut m.open {
                let id = open.id;
                ask_detail(id, fx);
                let search = open.search.clone();
                ask_page(open, PageMove::First, &search, fx);
            }
        }
        Msg::Update(Update::Dispatch(d)) => on_dispatch(m, *d, shared, fx),
        Msg::Update(_) => {}
        Msg::Answer(purpose, answer) => on_answer(m, purpose, answer, fx),
    }
}

/// Asks for a dispatch's detail (and, once it shows `shard` events, its shards).
fn ask_detail(id: DispatchId, fx: &mut Effects<Pending>) {
    fx.send(Request::Dispatch { id }, Pending::Detail(id));
}

fn on_dispatch(m: &mut Dispatches, d: DispatchSummary, shared: &Shared, fx: &mut Effects<Pending>) {
    if let Some(open) = &mut m.open
        && open.id == d.id
    {
        // A running sharded dispatch: its shards move on with it.
        if !open.shards.is_empty() && !d.status.is_finished() {
            let id = open.id;
            fx.send(Request::DispatchShards { id }, Pending::Shards(id));
        }
        let finished_now = d.status.is_finished()
            && open
                .detail
                .as_ref()
                .is_some_and(|x| !x.summary.status.is_finished());
        if let Some(detail) = &mut open.detail {
            detail.summary = d.clone();
        }
        // Its events, classes and predictions are complete now: read them again.
        if finished_now {
            let id = open.id;
            ask_detail(id, fx);
            let search = open.search.clone();
            ask_page(open, PageMove::First, &search, fx);
        }
        fx.redraw();
    }
    let listed = m.list.iter().any(|x| x.id == d.id);
    if listed || (m.loaded && m.window.contains(d.created_at.to_timestamp(), shared.now)) {
        upsert(m, d);
        fx.redraw();
    }
}

fn ask_page(open: &mut Open, to: PageMove, search: &Filter, fx: &mut Effects<Pending>) {
    let page = open.page.as_ref();
    let filter = search.is_active().then(|| search.text().to_string());
    let id = open.id;
    let request = match to {
        PageMove::First => Request::DispatchPredictions {
            id,
            after_key: None,
            filter,
            limit: PAGE_ROWS,
        },
        PageMove::Next => Request::DispatchPredictions {
            id,
            after_key: page.and_then(|p| p.rows.last()).map(|r| r.row_key.clone()),
            filter,
            limit: PAGE_ROWS,
        },
        PageMove::Previous => Request::DispatchPredictionsBefore {
            id,
            before_key: page.and_then(|p| p.rows.first()).map(|r| r.row_key.clone()),
            filter,
            limit: PAGE_ROWS,
        },
        PageMove::Last => Request::DispatchPredictionsBefore {
            id,
            before_key: None,
            filter,
            limit: PAGE_ROWS,
        },
    };
    open.page_asked += 1;
    fx.send(
        request,
        Pending::Page {
            id,
            asked: open.page_asked,
            to,
        },
    );
}

fn on_key(m: &mut Dispatches, key: KeyEvent, shared: &Shared, fx: &mut Effects<Pending>) {
    if let Some(modal) = m.modal.take() {
        m.modal = on_modal_key(m, modal, key, shared, fx);
        fx.redraw();
        return;
    }
    if m.filter.editing {
        if m.filter.on_key(key) != FilterEvent::Ignored {
            m.selected = 0;
            m.clamp();
            fx.redraw();
        }
        return;
    }
    if m.open.as_ref().is_some_and(|o| o.search.editing) {
        on_open_key(m, key, fx);
        return;
    }
    match key.code {
        KeyCode::Char('w') => {
            m.modal = Some(Modal::Window(window_form(&m.window, shared)));
            fx.redraw();
            return;
        }
        KeyCode::Char('c') => {
            cancel(m, shared, fx);
            return;
        }
        _ => {}
    }
    if m.open.is_some() {
        on_open_key(m, key, fx);
        return;
    }
    let n = m.visible().len();
    let before = m.selected;
    match key.code {
        KeyCode::Down | KeyCode::Char('j') => m.selected = step(m.selected, 1, n),
        KeyCode::Up | KeyCode::Char('k') => m.selected = step(m.selected, -1, n),
        KeyCode::PageDown => m.selected = step(m.selected, 10, n),
        KeyCode::PageUp => m.selected = step(m.selected, -10, n),
        KeyCode::Home | KeyCode::Char('g') => m.selected = 0,
        KeyCode::End | KeyCode::Char('G') => m.selected = n.saturating_sub(1),
        KeyCode::Char('/') => {
            m.filter.start();
            fx.redraw();
        }
        KeyCode::Esc if m.filter.is_active() => {
            m.filter.clear();
            m.clamp();
            fx.redraw();
        }
        KeyCode::Enter => {
            if let Some(d) = m.visible().get(m.selected) {
                let id = d.id;
                let mut open = Open {
                    id,
                    detail: None,
                    shards: Vec::new(),
                    page: None,
                    first_row: 0,
                    selected: 0,
                    search: Filter::default(),
                    page_asked: 0,
                };
                ask_detail(id, fx);
                ask_page(&mut open, PageMove::First, &Filter::default(), fx);
                m.open = Some(open);
            }
        }
        _ => {}
    }
    if m.selected != before {
        fx.redraw();
    }
}

fn on_open_key(m: &mut Dispatches, key: KeyEvent, fx: &mut Effects<Pending>) {
    let Some(open) = m.open.as_mut() else {
        return;
    };
    if open.search.editing {
        match open.search.on_key(key) {
            // Asked on Enter (and when Esc clears it), not on every key:
            // a search counts every matching row of the dispatch.
            FilterEvent::Done => {
                let search = open.search.clone();
                ask_page(open, PageMove::First, &search, fx);
            }
            FilterEvent::Changed if !open.search.editing => {
                let search = open.search.clone();
                ask_page(open, PageMove::First, &search, fx);
            }
            _ => {}
        }
        fx.redraw();
        return;
    }
    let rows = open.page.as_ref().map_or(0, |p| p.rows.len());
    let before = open.selected;
    match key.code {
        KeyCode::Esc if open.search.is_active() => {
            open.search.clear();
            let search = open.search.clone();
            ask_page(open, PageMove::First, &search, fx);
        }
        KeyCode::Esc => {
            m.open = None;
            fx.redraw();
        }
        KeyCode::Down | KeyCode::Char('j') => open.selected = step(open.selected, 1, rows),
        KeyCode::Up | KeyCode::Char('k') => open.selected = step(open.selected, -1, rows),
        KeyCode::Char('/') => {
            open.search.start();
            fx.redraw();
        }
        KeyCode::PageDown => match &open.page {
            Some(p) if p.next_after.is_some() => {
                let search = open.search.clone();
                ask_page(open, PageMove::Next, &search, fx);
            }
            Some(_) => fx.done("this is the last page"),
            None => {}
        },
        KeyCode::PageUp if open.first_row > 0 => {
            let search = open.search.clone();
            ask_page(open, PageMove::Previous, &search, fx);
        }
        KeyCode::PageUp => fx.done("this is the first page"),
        KeyCode::Home | KeyCode::Char('g') => {
            let search = open.search.clone();
            ask_page(open, PageMove::First, &search, fx);
        }
        KeyCode::End | KeyCode::Char('G') => {
            let search = open.search.clone();
            ask_page(open, PageMove::Last, &search, fx);
        }
        _ => {}
    }
    if m.open.as_ref().is_some_and(|o| o.selected != before) {
        fx.redraw();
    }
}

pub fn window_form(w: &Window, shared: &Shared) -> Form {
    Form::new("Dispatch window", "show")
        .intro("Dispatches created from one instant to another.")
        .field(Field::text(
            "from",
            "From",
            &w.from.text(&shared.tz),
            "a length of time ago (24h, 30m), an instant with an offset, or now",
        ))
        .field(Field::text(
            "to",
            "To",
            &w.to.text(&shared.tz),
            "now (follows live), a length of time ago, or an instant with an offset",
        ))
}

/// Reads a submitted window form, or sets the errors on it.
pub fn read_window(form: &mut Form, shared: &Shared) -> Option<Window> {
    form.clear_errors();
    let from = parse_edge(form.value("from"));
    let to = parse_edge(form.value("to"));
    if let Err(e) = &from {
        form.set_error("from", e.clone());
    }
    if let Err(e) = &to {
        form.set_error("to", e.clone());
    }
    let window = Window {
        from: from.ok()?,
        to: to.ok()?,
    };
    let (a, b) = window.resolve(shared.now);
    if b <= a {
        form.set_error("to", "the window ends before it starts");
        return None;
    }
    Some(window)
}

fn on_modal_key(
    m: &mut Dispatches,
    modal: Modal,
    key: KeyEvent,
    shared: &Shared,
    fx: &mut Effects<Pending>,
) -> Option<Modal> {
    match modal {
        Modal::Window(mut form) => match form.on_key(key) {
            FormEvent::Cancel => None,
            FormEvent::Submit => match read_window(&mut form, shared) {
                None => Some(Modal::Window(form)),
                Some(window) => {
                    m.window = window;
                    m.list.clear();
                    m.loaded = false;
                    m.selected = 0;
                    m.open = None;
                    m.ask_list(shared, fx);
                    None
                }
            },
            _ => Some(Modal::Window(form)),
        },
        Modal::Cancel { id, dialog } => match dialog.on_key(key) {
            confirm::Answer::Yes => {
                fx.working(format!("cancelling dispatch {id}…"));
                fx.send(Request::CancelDispatch { id }, Pending::Cancel(id));
                None
            }
            confirm::Answer::No => None,
            confirm::Answer::Ignored => Some(Modal::Cancel { id, dialog }),
        },
    }
}

/// `c` on the selected (or opened) dispatch. An admin is asked first;
/// anyone else's request goes to the daemon, whose refusal is shown.
fn cancel(m: &mut Dispatches, shared: &Shared, fx: &mut Effects<Pending>) {
    let Some(d) = m.selected_dispatch() else {
        fx.failed("no dispatch selected");
        return;
    };
    if d.status.is_finished() {
        fx.failed(format!(
            "dispatch {} is not running: it {}",
            d.id,
            d.status.as_str()
        ));
        return;
    }
    if !shared.connected() {
        fx.failed("not connected to the daemon");
        return;
    }
    let id = d.id;
    if !shared.is_admin() {
        fx.send(Request::CancelDispatch { id }, Pending::Cancel(id));
        return;
    }
    m.modal = Some(Modal::Cancel {
        id,
        dialog: Confirm::new(format!("Cancel dispatch {id}"), "cancel it").line(format!(
            "Stop dispatch {id} of {}: its write-back rolls back, nothing of it is \
                 written to the results table.",
            d.job
        )),
    });
    fx.redraw();
}

fn on_answer(m: &mut Dispatches, purpose: Pending, answer: Answer, fx: &mut Effects<Pending>) {
    match (purpose, answer) {
        (Pending::List(asked), Ok(Response::Dispatches(list))) => {
            if asked == m.list_asked {
                m.list = list;
                m.loaded = true;
                m.clamp();
                fx.redraw();
            }
        }
        (Pending::List(asked), Err(e)) => {
            if asked == m.list_asked {
                m.loaded = true;
                fx.failed(error_text("listing dispatches", &e));
            }
        }
        (Pending::Detail(id), Ok(Response::Dispatch(detail))) => {
            // Only the dispatch still open takes its answer.
            if let Some(open) = &mut m.open
                && open.id == id
            {
                // Scored in shards: show them (state, node, rows).
                if detail.events.iter().any(|e| e.step == "shard") {
                    fx.send(Request::DispatchShards { id }, Pending::Shards(id));
                }
                open.detail = Some(detail);
                fx.redraw();
            }
        }
        (Pending::Shards(id), Ok(Response::Shards(shards))) => {
            if let Some(open) = &mut m.open
                && open.id == id
            {
                open.shards = shards;
                fx.redraw();
            }
        }
        // A daemon without scale-out: no shards to show.
        (Pending::Shards(_), _) => {}
        (Pending::Detail(id), Err(e)) => {
            if m.open.as_ref().is_some_and(|o| o.id == id) {
                m.open = None;
            }
            fx.failed(error_text(&format!("dispatch {id}"), &e));
        }
        (Pending::Page { id, asked, to }, Ok(Response::Predictions(page))) => {
            let Some(open) = &mut m.open else { return };
            if open.id != id || open.page_asked != asked {
                return; // an older page, or another dispatch's
            }
            let old_first = open.first_row;
            let old_len = open.page.as_ref().map_or(0, |p| p.rows.len()) as u64;
            open.first_row = match to {
                PageMove::First => 0,
                PageMove::Next => old_first + old_len,
                PageMove::Previous => old_first.saturating_sub(page.rows.len() as u64),
                PageMove::Last => page.total.saturating_sub(page.rows.len() as u64),
            };
            open.selected = match to {
                PageMove::Previous | PageMove::Last => page.rows.len().saturating_sub(1),
                PageMove::First | PageMove::Next => 0,
            };
            open.page = Some(page);
            fx.redraw();
        }
        (Pending::Page { id, .. }, Err(e)) => {
            fx.failed(error_text(&format!("predictions of dispatch {id}"), &e));
        }
        (Pending::Cancel(id), Ok(Response::Cancelled { .. })) => {
            fx.done(format!(
                "dispatch {id}: cancel requested; it stops at its next step"
            ));
        }
        (Pending::Cancel(id), Err(e)) => {
            fx.failed(error_text(&format!("cancelling dispatch {id}"), &e));
        }
        (purpose, Ok(other)) => {
            tracing::warn!(?purpose, answer = ?other, "unexpected answer");
        }
    }
}

/// Puts a new or changed dispatch in its place (newest first).
fn upsert(m: &mut Dispatches, d: DispatchSummary) {
    let selected_id = m.visible().get(m.selected).map(|s| s.id);
    match m.list.iter_mut().find(|x| x.id == d.id) {
        Some(existing) => *existing = d,
        None => {
            let at = m
                .list
                .iter()
                .position(|x| x.id < d.id)
                .unwrap_or(m.list.len());
            m.list.insert(at, d);
            m.list.truncate(LIST_LIMIT as usize);
        }
    }
    // The highlighted dispatch stays highlighted when one arrives above it.
    if let Some(id) = selected_id
        && let Some(i) = m.visible().iter().position(|x| x.id == id)
    {
        m.selected = i;
    }
    m.clamp();
}

#[cfg(test)]
mod tests;
