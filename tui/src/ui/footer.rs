//! The footer: the keys that work on the current screen.

use super::theme::Theme;
use crate::app::Tab;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(frame: &mut Frame, area: Rect, tab: Tab, theme: &Theme) {
    let mut hints = vec![("q", "quit"), ("?", "help"), ("1-4/Tab", "screens")];
    match tab {
        Tab::Monitor => hints.push(("↑↓/jk", "select job")),
        Tab::Dispatches => {
            hints.push(("↑↓/jk", "select"));
            hints.push(("Enter", "open"));
            hints.push(("Esc", "back"));
        }
        _ => {}
    }
    let mut spans = Vec::new();
    for (key, what) in hints {
        spans.push(Span::styled(format!(" {key}"), theme.key()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
