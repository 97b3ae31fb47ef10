//! A yes/no question over the screen: what will happen, in a few lines,
//! and the two keys. `y` or Enter says yes; `n` or Esc goes back.

use crate::ui::Theme;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub title: String,
    /// What saying yes does, one statement a line.
    pub lines: Vec<String>,
    /// The verb on the yes key (`pause`, `run now`…).
    pub yes: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Not a key for the dialog.
    Ignored,
}

impl Confirm {
    pub fn new(title: impl Into<String>, yes: impl Into<String>) -> Confirm {
        Confirm {
            title: title.into(),
            lines: Vec::new(),
            yes: yes.into(),
        }
    }

    pub fn line(mut self, text: impl Into<String>) -> Confirm {
        self.lines.push(text.into());
        self
    }

    pub fn on_key(&self, key: KeyEvent) -> Answer {
        match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => Answer::Yes,
            KeyCode::Char('n' | 'N') | KeyCode::Esc => Answer::No,
            _ => Answer::Ignored,
        }
    }
}

pub fn render(frame: &mut Frame, area: Rect, confirm: &Confirm, theme: &Theme) {
    let width = area.width.clamp(20, 64);
    let inner_w = width.saturating_sub(4).max(1) as usize;
    // Lines wrap in the box: count how many rows each takes.
    let rows: usize = confirm
        .lines
        .iter()
        .map(|l| crate::ui::format::wrap(l, inner_w, usize::MAX).len().max(1))
        .sum();
    let height = rows as u16 + 4;
    let popup = super::centred(area, width, height);
    let mut lines: Vec<Line> = confirm
        .lines
        .iter()
        .map(|l| Line::from(l.as_str()))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled("y/Enter", theme.key()),
        Span::raw(format!(" {}   ", confirm.yes)),
        Span::styled("n/Esc", theme.key()),
        Span::raw(" back"),
    ]));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .padding(ratatui::widgets::Padding::horizontal(1))
                .title(Span::styled(format!(" {} ", confirm.title), theme.title())),
        ),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    #[test]
    fn y_and_enter_say_yes_n_and_esc_say_no() {
        let c = Confirm::new("Run now", "run");
        let k = |code| KeyEvent::new(code, KeyModifiers::NONE);
        assert_eq!(c.on_key(k(KeyCode::Char('y'))), Answer::Yes);
        assert_eq!(c.on_key(k(KeyCode::Enter)), Answer::Yes);
        assert_eq!(c.on_key(k(KeyCode::Char('n'))), Answer::No);
        assert_eq!(c.on_key(k(KeyCode::Esc)), Answer::No);
        assert_eq!(c.on_key(k(KeyCode::Char('q'))), Answer::Ignored);
    }
}
