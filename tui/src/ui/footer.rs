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
    // Whole hints only: one that does not fit is left out, not cut.
    let room = area.width as usize;
    let mut used = 0;
    let mut spans = Vec::new();
    let mut push =
        |key: String, what: String, style: ratatui::style::Style, spans: &mut Vec<Span>| {
            let width = key.chars().count() + what.chars().count();
            if used + width > room {
                return;
            }
            used += width;
            spans.push(Span::styled(key, style));
            spans.push(Span::raw(what));
        };
    // The tab bar already shows 1-4; the screen's own keys matter more here.
    push(" q".into(), " quit ".into(), theme.key(), &mut spans);
    push(" ?".into(), " keys ".into(), theme.key(), &mut spans);
    let keys = super::screen_keys(app.tab)
        .iter()
        .filter(|k| k.footer.is_some());
    let mut refused = Vec::new();
    for k in keys {
        if k.admin && !admin {
            refused.push(first_key(k.keys));
            continue;
        }
        let word = match k.footer {
            Some(w) if !w.is_empty() => w,
            _ => short(k.does),
        };
        push(
            format!(" {}", first_key(k.keys)),
            format!(" {word} "),
            theme.key(),
            &mut spans,
        );
    }
    if !refused.is_empty() {
        // Struck through in colour; the words say it without.
        push(
            format!(" {} admin only", refused.join(" ")),
            String::new(),
            theme.unavailable(),
            &mut spans,
        );
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
