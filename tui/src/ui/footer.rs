//! The bottom line: what the last action did (the status line) while there
//! is news, else the keys that work on the current screen — admin-only keys
//! marked for someone who is not an admin.

use super::theme::Theme;
use crate::app::App;
use crate::screens::StatusKind;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if let Some(status) = &app.status {
        let (mark, style) = match status.kind {
            StatusKind::Working => ("…", theme.warn()),
            StatusKind::Done => ("✓", theme.good()),
            StatusKind::Failed => ("✗", theme.bad()),
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!(" {mark} "), style),
                Span::styled(status.text.clone(), style),
            ])),
            area,
        );
        return;
    }
    let admin = app.shared.is_admin();
    let mut spans = Vec::new();
    let mut push = |key: &str, what: &str| {
        spans.push(Span::styled(format!(" {key}"), theme.key()));
        spans.push(Span::raw(format!(" {what} ")));
    };
    push("q", "quit");
    push("?", "help");
    push("1-4", "screens");
    let keys = super::screen_keys(app.tab).iter().filter(|k| k.footer);
    let mut refused = Vec::new();
    for k in keys {
        if k.admin && !admin {
            refused.push(first_key(k.keys));
        } else {
            push(first_key(k.keys), short(k.does));
        }
    }
    if !refused.is_empty() {
        // Struck through in colour; the words say it without.
        spans.push(Span::styled(
            format!(" {} admin only", refused.join(" ")),
            theme.unavailable(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The first word of what a key does: `pause the job (…)` → `pause`.
fn short(does: &str) -> &str {
    does.split([' ', ':', '(', ';']).next().unwrap_or(does)
}

/// `↑ ↓, j k` → `↑↓`: the footer shows the first way to press a key.
fn first_key(keys: &str) -> &str {
    match keys.split(',').next().unwrap_or(keys).trim() {
        "↑ ↓" => "↑↓",
        k => k,
    }
}
