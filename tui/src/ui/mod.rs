//! Drawing: plain functions from the [`App`] model to a frame.
//!
//! Receives the model and "now" (a [`Zoned`]: the instant and the time zone
//! to show times in) — render functions never read the clock, so the same
//! model always draws the same screen. Emits nothing but cells. The parts
//! around the screens live here: [`header`], [`tabs`], [`footer`] (the keys,
//! or the status line), [`help`]; each screen draws itself (`screens::*::render`).

mod footer;
pub mod format;
pub mod header;
mod help;
mod tabs;
pub mod theme;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

use crate::app::{App, Tab};
use crate::screens::{KeyHelp, dispatches, models, monitor, showroom};
use jiff::Zoned;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

pub use theme::Theme;

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App, now: &Zoned) {
    let theme = Theme::new(app.shared.color);
    let [header_area, tabs_area, body, footer_area] = Layout::vertical([
        Constraint::Length(header::height(app)),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    header::render(frame, header_area, app, now, &theme);
    tabs::render(frame, tabs_area, app.tab, &theme);
    let shared = &app.shared;
    match app.tab {
        Tab::Monitor => monitor::render(frame, body, &app.monitor, shared, now, &theme),
        Tab::Dispatches => dispatches::render(frame, body, &app.dispatches, shared, now, &theme),
        Tab::Showroom => showroom::render(frame, body, &app.showroom, shared, now, &theme),
        Tab::Models => models::render(frame, body, &app.models, shared, now, &theme),
    }
    footer::render(frame, footer_area, app, &theme);
    if app.help {
        help::render(frame, frame.area(), app, &theme);
    }
}

/// The keys of a screen.
pub fn screen_keys(tab: Tab) -> &'static [KeyHelp] {
    match tab {
        Tab::Monitor => monitor::KEYS,
        Tab::Dispatches => dispatches::KEYS,
        Tab::Showroom => showroom::KEYS,
        Tab::Models => models::KEYS,
    }
}

/// A length of time as the console writes it (`3h 04m`), for the scripts too.
pub fn format_duration(seconds: i64) -> String {
    format::duration(seconds)
}
