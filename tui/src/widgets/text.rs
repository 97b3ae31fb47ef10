//! One line of editable text with a cursor, shared by form fields and the
//! filter.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    pub value: String,
    /// In characters, `0..=value.chars().count()`.
    pub cursor: usize,
}

impl TextInput {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        let cursor = value.chars().count();
        TextInput { value, cursor }
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.value
            .char_indices()
            .nth(chars)
            .map_or(self.value.len(), |(i, _)| i)
    }

    /// Applies an editing key; `true` when the key was one (handled).
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        let len = self.value.chars().count();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => {
                self.value.clear();
                self.cursor = 0;
            }
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = len,
            KeyCode::Char(_) if ctrl => return false,
            KeyCode::Char(c) => {
                let at = self.byte_at(self.cursor);
                self.value.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.value.remove(at);
                self.cursor -= 1;
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.value.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }

    /// The text with a visible cursor (`▏` between characters, so it shows
    /// without colour), cut to `width` characters around the cursor.
    pub fn display(&self, width: usize, with_cursor: bool) -> String {
        let mut chars: Vec<char> = self.value.chars().collect();
        let mut cursor = self.cursor.min(chars.len());
        if with_cursor {
            chars.insert(cursor, '▏');
            cursor += 1;
        }
        if width == 0 || chars.len() <= width {
            return chars.into_iter().collect();
        }
        // Keep the cursor in view: the window ends at the cursor when it is
        // past the first `width` characters.
        let start = cursor.saturating_sub(width).min(chars.len() - width);
        chars[start..start + width].iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn edits_at_the_cursor_with_multibyte_text() {
        let mut t = TextInput::new("ação");
        assert_eq!(t.cursor, 4);
        t.on_key(key(KeyCode::Left));
        t.on_key(key(KeyCode::Backspace));
        assert_eq!(t.value, "aço");
        t.on_key(key(KeyCode::Char('ç')));
        assert_eq!(t.value, "açço");
        t.on_key(key(KeyCode::Home));
        t.on_key(key(KeyCode::Delete));
        assert_eq!((t.value.as_str(), t.cursor), ("çço", 0));
        t.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!((t.value.as_str(), t.cursor), ("", 0));
        assert!(!t.on_key(key(KeyCode::Enter)), "Enter is not an edit");
    }

    #[test]
    fn display_keeps_the_cursor_in_view() {
        let t = TextInput::new("abcdefghij");
        assert_eq!(t.display(20, true), "abcdefghij▏");
        assert_eq!(t.display(5, true), "ghij▏");
        let mut t = t;
        t.cursor = 0;
        assert_eq!(t.display(5, true), "▏abcd");
        assert_eq!(t.display(5, false), "abcde");
    }
}
