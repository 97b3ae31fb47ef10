//! A form: named fields (free text or a choice), each with a hint and its
//! own error line, drawn as a box over the screen.
//!
//! The owner builds it, feeds it keys ([`Form::on_key`]) and, on
//! [`FormEvent::Submit`], validates the values itself — setting an error on
//! each field that is wrong ([`Form::set_error`]) — or sends the request and
//! marks the form [`Form::waiting`] until the daemon answers. Errors the
//! daemon gives back are set the same way, by field name; one that belongs
//! to no field shows above the fields.

use super::text::TextInput;
use crate::ui::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text,
    /// One of these; ←/→ move through them.
    Choice(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// What the code calls it (and the daemon, in its errors).
    pub name: String,
    pub label: String,
    pub input: TextInput,
    pub kind: FieldKind,
    /// Shown under the fields while this one has the focus.
    pub hint: String,
    pub error: Option<String>,
}

impl Field {
    pub fn text(name: &str, label: &str, value: &str, hint: &str) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            input: TextInput::new(value),
            kind: FieldKind::Text,
            hint: hint.into(),
            error: None,
        }
    }

    /// A choice among `options`, starting at `value` (or the first option).
    pub fn choice(name: &str, label: &str, options: Vec<String>, value: &str, hint: &str) -> Field {
        let value = if options.iter().any(|o| o == value) {
            value.to_string()
        } else {
            options.first().cloned().unwrap_or_default()
        };
        Field {
            name: name.into(),
            label: label.into(),
            input: TextInput::new(value),
            kind: FieldKind::Choice(options),
            hint: hint.into(),
            error: None,
        }
    }

    pub fn value(&self) -> &str {
        &self.input.value
    }

    fn step_choice(&mut self, forward: bool) -> bool {
        let FieldKind::Choice(options) = &self.kind else {
            return false;
        };
        if options.is_empty() {
            return false;
        }
        let at = options
            .iter()
            .position(|o| *o == self.input.value)
            .unwrap_or(0);
        let next = if forward {
            (at + 1) % options.len()
        } else {
            (at + options.len() - 1) % options.len()
        };
        self.input = TextInput::new(options[next].clone());
        true
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub title: String,
    /// A line above the fields saying what the form does.
    pub intro: Option<String>,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// An error that belongs to no one field.
    pub error: Option<String>,
    /// Submitted: waiting for the daemon. Only Esc (cancel) works meanwhile.
    pub waiting: bool,
    /// What Enter does, for the key line (`pause`, `train`…).
    pub submit_label: String,
}

/// What a key did to a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormEvent {
    /// Not a key for the form.
    Ignored,
    /// The focus or a value changed: draw again.
    Changed,
    /// Enter: the owner validates and acts.
    Submit,
    /// Esc: the owner closes it.
    Cancel,
}

impl Form {
    pub fn new(title: impl Into<String>, submit_label: impl Into<String>) -> Form {
        Form {
            title: title.into(),
            intro: None,
            fields: Vec::new(),
            focus: 0,
            error: None,
            waiting: false,
            submit_label: submit_label.into(),
        }
    }

    pub fn intro(mut self, text: impl Into<String>) -> Form {
        self.intro = Some(text.into());
        self
    }

    pub fn field(mut self, field: Field) -> Form {
        self.fields.push(field);
        self
    }

    /// The value of the field called `name` ("" if there is none).
    pub fn value(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map_or("", |f| f.value())
    }

    /// Puts `message` next to the field called `name`, or above the fields
    /// when no field has that name. The first field with an error takes the
    /// focus, so the person sees what to fix.
    pub fn set_error(&mut self, name: &str, message: impl Into<String>) {
        let message = message.into();
        match self.fields.iter().position(|f| f.name == name) {
            Some(i) => {
                self.fields[i].error = Some(message);
                if self.first_error() == Some(i) {
                    self.focus = i;
                }
            }
            None => self.error = Some(message),
        }
    }

    pub fn clear_errors(&mut self) {
        self.error = None;
        for f in &mut self.fields {
            f.error = None;
        }
    }

    pub fn has_errors(&self) -> bool {
        self.error.is_some() || self.fields.iter().any(|f| f.error.is_some())
    }

    fn first_error(&self) -> Option<usize> {
        self.fields.iter().position(|f| f.error.is_some())
    }

    pub fn on_key(&mut self, key: KeyEvent) -> FormEvent {
        if key.code == KeyCode::Esc {
            return FormEvent::Cancel;
        }
        if self.waiting {
            return FormEvent::Ignored;
        }
        let n = self.fields.len().max(1);
        match key.code {
            KeyCode::Enter => return FormEvent::Submit,
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + n - 1) % n,
            _ => {
                let Some(field) = self.fields.get_mut(self.focus) else {
                    return FormEvent::Ignored;
                };
                let changed = match (&field.kind, key.code) {
                    (FieldKind::Choice(_), KeyCode::Right | KeyCode::Char(' ')) => {
                        field.step_choice(true)
                    }
                    (FieldKind::Choice(_), KeyCode::Left) => field.step_choice(false),
                    (FieldKind::Choice(_), _) => false,
                    (FieldKind::Text, _) if key.modifiers.contains(KeyModifiers::ALT) => false,
                    (FieldKind::Text, _) => {
                        let before = field.input.value.clone();
                        let handled = field.input.on_key(key);
                        // An edited value is no longer the one the error was about.
                        if field.input.value != before {
                            field.error = None;
                        }
                        handled
                    }
                };
                if !changed {
                    return FormEvent::Ignored;
                }
            }
        }
        FormEvent::Changed
    }
}

const LABEL_MAX: usize = 22;

/// Draws the form as a box centred over `area`, as wide as it can usefully
/// be; the focused field stays in view when the fields do not all fit.
pub fn render(frame: &mut Frame, area: Rect, form: &Form, theme: &Theme) {
    let width = area.width.clamp(20, 76);
    let label_w = form
        .fields
        .iter()
        .map(|f| f.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(LABEL_MAX);
    let value_w = (width as usize).saturating_sub(2 + 3 + label_w + 2).max(4);
    // Every field is one line, and one more when it has an error.
    let mut lines: Vec<Line> = Vec::new();
    let mut focus_rows = (0, 0);
    for (i, f) in form.fields.iter().enumerate() {
        let focused = i == form.focus && !form.waiting;
        if i == form.focus {
            focus_rows.0 = lines.len();
        }
        let marker = if focused { "› " } else { "  " };
        let label: String = f.label.chars().take(label_w).collect();
        let value = match &f.kind {
            FieldKind::Text => f.input.display(value_w, focused),
            FieldKind::Choice(options) if options.len() > 1 => {
                format!("‹ {} ›", f.input.display(value_w.saturating_sub(4), false))
            }
            FieldKind::Choice(_) => f.input.display(value_w, false),
        };
        let value_style = if focused {
            theme.selected_row()
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(marker, theme.key()),
            Span::styled(format!("{label:>label_w$}: "), theme.title()),
            Span::styled(value, value_style),
        ]));
        if let Some(e) = &f.error {
            // Under the value, wrapped: an error says what is accepted.
            let indent = label_w + 4;
            let room = (width as usize).saturating_sub(2 + indent + 2).max(8);
            for (n, part) in crate::ui::format::wrap(e, room, 3).into_iter().enumerate() {
                let mark = if n == 0 { "✗ " } else { "  " };
                lines.push(Line::styled(
                    format!("{:>indent$}{mark}{part}", ""),
                    theme.bad(),
                ));
            }
        }
        if i == form.focus {
            focus_rows.1 = lines.len();
        }
    }
    let mut head: Vec<Line> = Vec::new();
    if let Some(intro) = &form.intro {
        head.push(Line::from(format!(" {intro}")));
    }
    if let Some(e) = &form.error {
        head.push(Line::styled(format!(" ✗ {e}"), theme.bad()));
    }
    let hint = form
        .fields
        .get(form.focus)
        .map(|f| f.hint.as_str())
        .unwrap_or("");
    let foot = if form.waiting {
        Line::styled(" waiting for the daemon… (Esc closes)", theme.warn())
    } else {
        Line::from(vec![
            Span::styled(" Enter", theme.key()),
            Span::raw(format!(" {} ", form.submit_label)),
            Span::styled(" Tab/↑↓", theme.key()),
            Span::raw(" field "),
            Span::styled(" Esc", theme.key()),
            Span::raw(" cancel"),
        ])
    };
    let hint_lines = u16::from(!hint.is_empty() && !form.waiting);
    let wanted = 2 + head.len() as u16 + lines.len() as u16 + 1 + hint_lines + 1;
    let popup = super::centred(area, width, wanted);
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(Span::styled(format!(" {} ", form.title), theme.title()));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [head_area, fields_area, gap, hint_area, foot_area] = Layout::vertical([
        Constraint::Length(head.len() as u16),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(hint_lines),
        Constraint::Length(1),
    ])
    .areas(inner);
    let _ = gap;
    frame.render_widget(Paragraph::new(head), head_area);
    // Scroll so the focused field (with its error line) is visible.
    let visible = fields_area.height as usize;
    let skip = focus_rows.1.saturating_sub(visible).min(focus_rows.0);
    frame.render_widget(Paragraph::new(lines).scroll((skip as u16, 0)), fields_area);
    if hint_lines > 0 {
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {hint}"), theme.dim())),
            hint_area,
        );
    }
    frame.render_widget(Paragraph::new(foot), foot_area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn form() -> Form {
        Form::new("Pause job", "pause")
            .field(Field::text("reason", "Reason", "", "why"))
            .field(Field::choice(
                "kind",
                "Kind",
                vec!["a".into(), "b".into(), "c".into()],
                "b",
                "",
            ))
            .field(Field::text("until", "Until", "", "when"))
    }

    #[test]
    fn typing_goes_to_the_focused_field_and_tab_moves_the_focus() {
        let mut f = form();
        for c in "disk full".chars() {
            assert_eq!(f.on_key(key(KeyCode::Char(c))), FormEvent::Changed);
        }
        assert_eq!(f.value("reason"), "disk full");
        f.on_key(key(KeyCode::Tab));
        f.on_key(key(KeyCode::Right));
        assert_eq!(f.value("kind"), "c");
        f.on_key(key(KeyCode::Right));
        assert_eq!(f.value("kind"), "a", "choices wrap around");
        f.on_key(key(KeyCode::Left));
        assert_eq!(f.value("kind"), "c");
        assert_eq!(
            f.on_key(key(KeyCode::Char('x'))),
            FormEvent::Ignored,
            "a choice takes no typing"
        );
        f.on_key(key(KeyCode::BackTab));
        f.on_key(key(KeyCode::BackTab));
        assert_eq!(f.focus, 2, "Shift-Tab wraps to the last field");
        assert_eq!(f.on_key(key(KeyCode::Enter)), FormEvent::Submit);
        assert_eq!(f.on_key(key(KeyCode::Esc)), FormEvent::Cancel);
    }

    #[test]
    fn errors_sit_on_their_field_take_the_focus_and_clear_on_edit() {
        let mut f = form();
        f.set_error("until", "not an instant");
        assert_eq!(f.focus, 2);
        assert!(f.has_errors());
        f.set_error("nope", "belongs to no field");
        assert_eq!(f.error.as_deref(), Some("belongs to no field"));
        f.on_key(key(KeyCode::Char('2')));
        assert_eq!(f.fields[2].error, None, "edited: the error is stale");
        f.clear_errors();
        assert!(!f.has_errors());
    }

    #[test]
    fn a_waiting_form_only_cancels() {
        let mut f = form();
        f.waiting = true;
        assert_eq!(f.on_key(key(KeyCode::Char('x'))), FormEvent::Ignored);
        assert_eq!(f.on_key(key(KeyCode::Enter)), FormEvent::Ignored);
        assert_eq!(f.value("reason"), "");
        assert_eq!(f.on_key(key(KeyCode::Esc)), FormEvent::Cancel);
    }
}
