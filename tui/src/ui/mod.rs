//! Drawing: plain functions from the [`App`] model to a frame.
//!
//! Receives the model and "now" (a [`Zoned`]: the instant and the time zone
//! to show times in) — render functions never read the clock, so the same
//! model always draws the same screen. Emits nothing but cells. One module
//! per part of the screen: [`header`], [`tabs`], [`monitor`], [`dispatches`], [`placeholder`],
//! [`footer`], [`help`].

mod dispatches;
mod footer;
mod format;
mod header;
mod help;
mod monitor;
mod placeholder;
mod tabs;
mod theme;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

use crate::app::{App, Tab};
use jiff::Zoned;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

pub use theme::Theme;

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App, now: &Zoned) {
    let theme = Theme::new(app.color);
    let [header_area, tabs_area, body, footer_area] = Layout::vertical([
        Constraint::Length(header::height(app)),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    header::render(frame, header_area, app, now, &theme);
    tabs::render(frame, tabs_area, app.tab, &theme);
    match app.tab {
        Tab::Monitor => monitor::render(frame, body, app, now, &theme),
        Tab::Dispatches => dispatches::render(frame, body, app, now, &theme),
        tab => placeholder::render(frame, body, tab, &theme),
    }
    footer::render(frame, footer_area, app.tab, &theme);
    if app.help {
        help::render(frame, frame.area(), &theme);
    }
}

/// A length of time as the console writes it (`3h 04m`), for the scripts too.
pub fn format_duration(seconds: i64) -> String {
    format::duration(seconds)
}
