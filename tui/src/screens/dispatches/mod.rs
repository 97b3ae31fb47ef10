//! The Dispatches screen: the dispatches of a time window, newest first,
//! following live; Enter opens one with its events and class distribution.
//!
//! Owns the window, the list, its selection and filter, and the opened
//! dispatch. Receives keys, `Update::Dispatch` and the answers to its
//! requests; emits `Dispatches` (the window) and `Dispatch` (the opened one).

mod view;

pub use view::render;

use super::{Answer, Effects, KeyHelp, Shared, error_text, step};
use crate::widgets::filter::{Filter, FilterEvent};
use crossterm::event::{KeyCode, KeyEvent};
use jiff::SignedDuration;
use mld_shared::ids::DispatchId;
use mld_shared::protocol::{DispatchDetail, DispatchSummary, Request, Response, Update};
use mld_shared::time::WireTime;

/// The most dispatches one window lists.
pub const LIST_LIMIT: u32 = 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct Dispatches {
    /// How far back the window starts from now.
    pub window: SignedDuration,
    /// Newest first, kept current by `Update::Dispatch`.
    pub list: Vec<DispatchSummary>,
    /// The list has been answered at least once.
    pub loaded: bool,
    /// The highlighted row among those the filter lets through.
    pub selected: usize,
    pub filter: Filter,
    /// The dispatch opened with Enter; its detail once the daemon answers.
    pub open: Option<Open>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub id: DispatchId,
    pub detail: Option<Box<DispatchDetail>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    List,
    Detail(DispatchId),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Snapshot,
    Update(Update),
    Answer(Pending, Answer),
}

pub const KEYS: &[KeyHelp] = &[
    KeyHelp::new("↑ ↓, j k", "select a dispatch").footer(),
    KeyHelp::new("Enter", "open it: events, classes").footer(),
    KeyHelp::new("Esc", "back to the list").footer(),
    KeyHelp::new("/", "filter the list by text; Esc clears").footer(),
];

impl Dispatches {
    pub fn new(window: SignedDuration) -> Dispatches {
        Dispatches {
            window,
            list: Vec::new(),
            loaded: false,
            selected: 0,
            filter: Filter::default(),
            open: None,
        }
    }

    pub fn captures_keys(&self) -> bool {
        self.filter.editing
    }

    /// A running dispatch shows its time so far.
    pub fn ticks(&self) -> bool {
        match &self.open {
            Some(Open {
                detail: Some(d), ..
            }) => !d.summary.status.is_finished(),
            Some(_) => false,
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

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    fn request(&self, shared: &Shared) -> Request {
        let to = shared.now;
        let from = to.checked_sub(self.window).unwrap_or(jiff::Timestamp::MIN);
        Request::Dispatches {
            from: WireTime::from(from),
            // Dispatches created from now on arrive as updates.
            to: WireTime::from(to + SignedDuration::from_secs(1)),
            job: None,
            limit: LIST_LIMIT,
        }
    }
}

pub fn update(m: &mut Dispatches, msg: Msg, shared: &Shared, fx: &mut Effects<Pending>) {
    match msg {
        Msg::Key(key) => on_key(m, key, fx),
        Msg::Snapshot => fx.send(m.request(shared), Pending::List),
        Msg::Update(Update::Dispatch(d)) => {
            upsert(m, *d);
            fx.redraw();
        }
        Msg::Update(_) => {}
        Msg::Answer(Pending::List, Ok(Response::Dispatches(list))) => {
            m.list = list;
            m.loaded = true;
            m.clamp();
            fx.redraw();
        }
        Msg::Answer(Pending::Detail(id), Ok(Response::Dispatch(detail))) => {
            // Only the dispatch still open takes its answer.
            if let Some(open) = &mut m.open
                && open.id == id
            {
                open.detail = Some(detail);
                fx.redraw();
            }
        }
        Msg::Answer(Pending::List, Err(e)) => fx.failed(error_text("listing dispatches", &e)),
        Msg::Answer(Pending::Detail(id), Err(e)) => {
            if m.open.as_ref().is_some_and(|o| o.id == id) {
                m.open = None;
            }
            fx.failed(error_text(&format!("dispatch {id}"), &e));
        }
        Msg::Answer(purpose, Ok(other)) => {
            tracing::warn!(?purpose, answer = ?other, "unexpected answer");
        }
    }
}

fn on_key(m: &mut Dispatches, key: KeyEvent, fx: &mut Effects<Pending>) {
    if m.filter.editing {
        if m.filter.on_key(key) != FilterEvent::Ignored {
            m.selected = 0;
            m.clamp();
            fx.redraw();
        }
        return;
    }
    if m.open.is_some() {
        if key.code == KeyCode::Esc {
            m.open = None;
            fx.redraw();
        }
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
                m.open = Some(Open { id, detail: None });
                fx.send(Request::Dispatch { id }, Pending::Detail(id));
            }
        }
        _ => {}
    }
    if m.selected != before {
        fx.redraw();
    }
}

/// Puts a new or changed dispatch in its place (newest first).
fn upsert(m: &mut Dispatches, d: DispatchSummary) {
    if let Some(Open {
        detail: Some(open), ..
    }) = m.open.as_mut()
        && open.summary.id == d.id
    {
        open.summary = d.clone();
    }
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
