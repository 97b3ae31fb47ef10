//! Input pieces every screen reuses: a [`form::Form`] of text and choice
//! fields with an error next to each, a [`confirm::Confirm`] dialog, and the
//! `/` [`filter::Filter`] of a table.
//!
//! Each is plain data with an `on_key` that says what happened (edited,
//! submitted, cancelled) and a `render` that draws it; none sends anything:
//! the screen that owns one decides what a submit means.

pub mod confirm;
pub mod filter;
pub mod form;
mod text;

use ratatui::layout::{Constraint, Flex, Layout, Rect};

/// A box of at most `width`×`height` centred in `area`.
pub fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(r);
    r
}
