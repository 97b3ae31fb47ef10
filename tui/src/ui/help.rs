//! The `?` overlay: the console's keys and every key of the current
//! screen, drawn over it. Admin-only keys say so (and, for someone who is
//! not an admin, that the daemon will refuse them).

use super::format;
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

/// The overlay's width when the terminal allows it.
const WIDTH: u16 = 78;
/// The key column: two spaces, then the keys padded to 15.
const KEY_COLUMN: usize = 17;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let admin = app.shared.is_admin();
    let screen = super::screen_keys(app.tab);
    let inner = usize::from(WIDTH.min(area.width).saturating_sub(2));
    // What a key does wraps under itself when the overlay is narrow.
    let room = inner.saturating_sub(KEY_COLUMN).max(12);
    let mut lines: Vec<Line> = Vec::new();
    let section = |title: String, keys: &[KeyHelp], lines: &mut Vec<Line>| {
        lines.push(Line::styled(title, theme.title()));
        for k in keys {
            let suffix = match (k.admin, admin) {
                (false, _) => "",
                (true, true) => " (admin)",
                (true, false) => " (admin only: refused)",
            };
            let text = format!("{}{suffix}", k.does);
            // The admin note is dimmed, wherever the wrap put it.
            let mut in_note = false;
            for (i, part) in format::wrap(&text, room, 3).into_iter().enumerate() {
                let lead = if i == 0 { k.keys } else { "" };
                let mut spans = vec![Span::styled(format!("  {lead:<15}"), theme.key())];
                let note_at = if in_note {
                    Some(0)
                } else {
                    part.find(" (admin")
                        .map(|at| at + 1)
                        .or_else(|| part.starts_with("(admin").then_some(0))
                }
                .filter(|_| !suffix.is_empty());
                match note_at {
                    Some(at) => {
                        spans.push(Span::raw(part[..at].to_string()));
                        spans.push(Span::styled(part[at..].to_string(), theme.dim()));
                        in_note = true;
                    }
                    None => spans.push(Span::raw(part)),
                }
                lines.push(Line::from(spans));
            }
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
    let popup = centred(area, WIDTH, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(Span::styled(" Keys (Esc closes) ", theme.title()))),
        popup,
    );
}
