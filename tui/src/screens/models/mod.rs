//! The Models screen: the registry, the catalog, trainings and experiments.
//! (Filled in by the next change; it already has every screen's shape.)

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
pub struct Models {}

#[derive(Debug, Clone, PartialEq)]
pub enum Pending {}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Snapshot,
    Update(Update),
    Answer(Pending, Answer),
}

pub const KEYS: &[KeyHelp] = &[];

impl Models {
    pub fn captures_keys(&self) -> bool {
        false
    }

    pub fn ticks(&self) -> bool {
        false
    }
}

pub fn update(_m: &mut Models, msg: Msg, _shared: &Shared, _fx: &mut Effects<Pending>) {
    match msg {
        Msg::Key(_) | Msg::Snapshot | Msg::Update(_) => {}
        Msg::Answer(never, _) => match never {},
    }
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    _m: &Models,
    _shared: &Shared,
    _now: &Zoned,
    theme: &Theme,
) {
    let lines = vec![
        Line::from(""),
        Line::from(Span::styled(
            "This screen arrives with the model registry and training.",
            theme.title(),
        )),
        Line::from(""),
        Line::from(
            "Registry versions with their metrics, the catalog of data sets, trainings and \
             their progress, experiments to inspect and commit.",
        ),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .padding(Padding::horizontal(1))
                .title(Span::styled(" Models ", theme.title())),
        ),
        area,
    );
}
