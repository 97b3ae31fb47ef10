//! The `?` overlay: the console's keys and every key of the current
//! screen, drawn over it. Admin-only keys say so (and, for someone who is
//! not an admin, that the daemon will refuse them).

use super::theme::Theme;
use crate::app::App;
use crate::screens::KeyHelp;
use crate::widgets::centred;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// The console's own keys, on every screen.
pub const KEYS: &[KeyHelp] = &[
    KeyHelp::new("q, Ctrl-C", "quit"),
    KeyHelp::new("?", "show or hide this help"),
    KeyHelp::new("1 2 3 4", "Monitor, Dispatches, Showroom, Models"),
    KeyHelp::new("Tab, Shift-Tab", "next, previous screen"),
];

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let admin = app.shared.is_admin();
    let screen = super::screen_keys(app.tab);
    let mut lines: Vec<Line> = Vec::new();
    let section = |title: String, keys: &[KeyHelp], lines: &mut Vec<Line>| {
        lines.push(Line::styled(title, theme.title()));
        for k in keys {
            let mut spans = vec![
                Span::styled(format!("  {:<15}", k.keys), theme.key()),
                Span::raw(k.does),
            ];
            if k.admin {
                spans.push(Span::styled(
                    if admin {
                        " (admin)"
                    } else {
                        " (admin only: refused)"
                    },
                    theme.dim(),
                ));
            }
            lines.push(Line::from(spans));
        }
    };
    section(" Everywhere".into(), KEYS, &mut lines);
    if !screen.is_empty() {
        lines.push(Line::from(""));
        section(format!(" {}", app.tab.title()), screen, &mut lines);
    }
    lines.push(Line::from(""));
    lines.push(Line::from(
        " The console reconnects by itself when the daemon restarts.",
    ));
    let popup = centred(area, 72, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(Span::styled(" Keys (Esc closes) ", theme.title()))),
        popup,
    );
}
