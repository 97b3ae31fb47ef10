//! The `?` overlay: every key the console knows, drawn over the screen.

use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// The keys, as (key, what it does). Kept in one list so the overlay and its
/// test cannot drift apart.
pub const KEYS: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit"),
    ("?", "show or hide this help"),
    ("Esc", "close this help"),
    ("1 2 3 4", "Monitor, Dispatches, Showroom, Models"),
    ("Tab", "next screen"),
    ("Shift-Tab", "previous screen"),
    ("↑ ↓, j k", "select a job (Monitor)"),
    ("Home End, g G", "first, last job (Monitor)"),
    ("↑ ↓, Enter", "select, open a dispatch (Dispatches)"),
    ("Esc", "back to the list (Dispatches)"),
];

pub fn render(frame: &mut Frame, area: Rect, theme: &Theme) {
    let height = KEYS.len() as u16 + 5;
    let [popup] = Layout::horizontal([Constraint::Length(62)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<14}"), theme.key()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        " The console reconnects by itself when the daemon restarts.",
    ));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(Span::styled(" Keys (Esc closes) ", theme.title()))),
        popup,
    );
}
