//! The Showroom — a placeholder: this module is the showroom engineer's to
//! fill (issue 9). It has the shape every screen has — a model, `Msg`,
//! `Pending`, `update`, `render`, `KEYS` — so the app already routes keys,
//! pushed updates and answers to it.

use super::{Answer, Effects, KeyHelp, Shared};
use crate::ui::theme::Theme;
use crossterm::event::KeyEvent;
use jiff::Zoned;
use mld_shared::protocol::Update;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph, Wrap};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Showroom {}

/// What a request of this screen was for.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// `shared.data` was replaced by a fresh snapshot.
    Snapshot,
    Update(Update),
    Answer(Pending, Answer),
}

pub const KEYS: &[KeyHelp] = &[];

impl Showroom {
    pub fn captures_keys(&self) -> bool {
        false
    }

    pub fn ticks(&self) -> bool {
        false
    }
}

pub fn update(_m: &mut Showroom, msg: Msg, _shared: &Shared, _fx: &mut Effects<Pending>) {
    match msg {
        Msg::Key(_) | Msg::Snapshot | Msg::Update(_) => {}
        Msg::Answer(never, _) => match never {},
    }
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    _m: &Showroom,
    _shared: &Shared,
    _now: &Zoned,
    theme: &Theme,
) {
    let lines = vec![
        Line::from(""),
        Line::from(Span::styled(
            "This screen arrives with the showroom.",
            theme.title(),
        )),
        Line::from(""),
        Line::from(
            "Choose a model, see its sample rows with the prediction of each, select a row to \
             predict it again, edit values to see the prediction change.",
        ),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .padding(Padding::horizontal(1))
                .title(Span::styled(" Showroom ", theme.title())),
        ),
        area,
    );
}
