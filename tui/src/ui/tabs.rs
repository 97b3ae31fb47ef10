//! The tab bar: the four screens with their keys, the current one bracketed
//! (so it shows without colour too).

use super::theme::Theme;
use crate::app::Tab;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(frame: &mut Frame, area: Rect, current: Tab, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    for (i, tab) in Tab::ALL.into_iter().enumerate() {
        let label = format!("{} {}", i + 1, tab.title());
        if tab == current {
            spans.push(Span::styled(format!("[{label}]"), theme.selected_tab()));
        } else {
            spans.push(Span::raw(format!(" {label} ")));
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
