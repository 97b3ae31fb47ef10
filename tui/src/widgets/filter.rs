//! The `/` filter of a table: a substring typed after `/`, matched without
//! regard to case. Enter keeps it and returns to the table; Esc clears it.

use super::text::TextInput;
use crate::ui::Theme;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::{Line, Span};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    input: TextInput,
    /// Typing goes to the filter.
    pub editing: bool,
    /// `input.value` lowercased, kept so matching a row allocates nothing.
    needle: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterEvent {
    Ignored,
    /// The text changed: the table shows other rows.
    Changed,
    /// Editing stopped (Enter), the text kept.
    Done,
}

impl Filter {
    /// `/` was pressed: edit (the current text stays).
    pub fn start(&mut self) {
        self.editing = true;
    }

    pub fn clear(&mut self) {
        *self = Filter::default();
    }

    pub fn text(&self) -> &str {
        &self.input.value
    }

    pub fn is_active(&self) -> bool {
        !self.input.value.is_empty()
    }

    /// Whether any of `fields` contains the filter text (always, when empty).
    pub fn matches<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> bool {
        if self.needle.is_empty() {
            return true;
        }
        fields
            .into_iter()
            .any(|f| contains_ignoring_case(f, &self.needle))
    }

    /// A key while editing.
    pub fn on_key(&mut self, key: KeyEvent) -> FilterEvent {
        match key.code {
            KeyCode::Esc => {
                self.clear();
                FilterEvent::Changed
            }
            KeyCode::Enter => {
                self.editing = false;
                FilterEvent::Done
            }
            _ => {
                let before = self.input.value.clone();
                if !self.input.on_key(key) {
                    return FilterEvent::Ignored;
                }
                if self.input.value != before {
                    self.needle = self.input.value.to_lowercase();
                }
                FilterEvent::Changed
            }
        }
    }

    /// ` /text▏ ` while editing, ` /text ` while applied, nothing otherwise:
    /// put it in the table's title.
    pub fn title_span(&self, theme: &Theme) -> Option<Span<'static>> {
        if self.editing {
            Some(Span::styled(
                format!(" /{} ", self.input.display(30, true)),
                theme.key(),
            ))
        } else if self.is_active() {
            Some(Span::styled(
                format!(" /{} ", self.input.display(30, false)),
                theme.key(),
            ))
        } else {
            None
        }
    }

    /// A title line: `title` then the filter, if any.
    pub fn title<'a>(&self, title: String, theme: &Theme) -> Line<'a> {
        let mut spans = vec![Span::styled(title, theme.title())];
        spans.extend(self.title_span(theme));
        Line::from(spans)
    }
}

fn contains_ignoring_case(haystack: &str, lowered_needle: &str) -> bool {
    if haystack.is_ascii() && lowered_needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), lowered_needle.as_bytes());
        return n.len() <= h.len()
            && h.windows(n.len())
                .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b));
    }
    haystack.to_lowercase().contains(lowered_needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn matches_substrings_ignoring_case_and_esc_clears() {
        let mut f = Filter::default();
        assert!(f.matches(["anything"]));
        f.start();
        for c in "IRIS".chars() {
            f.on_key(key(KeyCode::Char(c)));
        }
        assert!(f.matches(["score-iris"]));
        assert!(f.matches(["nightly", "Iris model"]));
        assert!(!f.matches(["nightly-churn"]));
        assert!(f.matches(["Sã IRIS"]), "non-ASCII text too");
        assert_eq!(f.on_key(key(KeyCode::Enter)), FilterEvent::Done);
        assert!(!f.editing && f.is_active());
        f.start();
        assert_eq!(f.on_key(key(KeyCode::Esc)), FilterEvent::Changed);
        assert!(!f.editing && !f.is_active());
        assert!(f.matches(["nightly-churn"]));
    }
}
