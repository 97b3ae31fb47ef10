//! The Showroom: pick a model, see its sample rows with the prediction of
//! each (predict-all), predict one row again on its own with every class's
//! score and why (predict-one), edit a row's values and see the prediction
//! before and after (predict-edited); keep edited rows for the session.
//!
//! Owns the list of showrooms, the one opened (its rows, the selection, the
//! edited rows kept, the panel showing one row), and the edit form. Receives
//! keys, snapshots (which refresh the list) and the answers to its requests;
//! emits `Showrooms`, `OpenShowroom` and `ShowroomPredict`. The daemon
//! records every prediction; nothing here writes anywhere.

mod view;

pub use view::render;

use super::{Answer, Effects, KeyHelp, Shared, error_text, step};
use crate::widgets::form::{Field, Form, FormEvent};
use crossterm::event::{KeyCode, KeyEvent};
use mld_shared::protocol::{
    ClassScore, FeatureValue, Outcome, Request, Response, ShowroomInfo, ShowroomPrediction,
    ShowroomView, Update,
};
use mld_shared::roles::Role;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Showroom {
    /// The configured showrooms as last listed; `None` until answered.
    pub list: Option<Vec<ShowroomInfo>>,
    /// Why the list could not be read.
    pub list_error: Option<String>,
    /// The highlighted showroom in the list.
    pub chosen: usize,
    /// The showroom opened with Enter.
    pub open: Option<Open>,
    /// The edit form over the rows.
    pub edit: Option<Edit>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub model: String,
    /// Every sample row predicted; `None` while the daemon works.
    pub view: Option<ShowroomView>,
    /// Why it could not open (a sample file's line and why, say).
    pub error: Option<String>,
    /// The highlighted row: sample rows first, then the kept ones.
    pub selected: usize,
    /// Edited rows kept for this session (the sample file is not changed).
    pub kept: Vec<Kept>,
    pub panel: Option<Panel>,
    /// A prediction came from another version than the rows were: the alias moved.
    pub newer: Option<u32>,
}

/// An edited row kept in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// The sample row it was edited from (1-based).
    pub row: u32,
    /// The features that differ from the sample row.
    pub set: Vec<(String, FeatureValue)>,
    pub prediction: ShowroomPrediction,
}

/// Which row: a sample row (index into the view) or a kept one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowRef {
    Sample(usize),
    Kept(usize),
}

/// What a row said, shown as "before" next to an edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    pub version: u32,
    pub outcome: Outcome,
    pub classes: Vec<ClassScore>,
    pub values: Vec<(String, FeatureValue)>,
}

/// The panel next to (or under) the rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Panel {
    /// Asked; waiting for the daemon.
    Waiting { row: RowRef },
    /// The row predicted on its own.
    One {
        row: RowRef,
        prediction: ShowroomPrediction,
    },
    /// The row edited: before and after.
    Compare {
        row: RowRef,
        before: Said,
        after: ShowroomPrediction,
        set: Vec<(String, FeatureValue)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub row: RowRef,
    pub form: Form,
    pub before: Said,
}

/// What a request of this screen was for.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    List,
    Open(String),
    One {
        model: String,
        row: RowRef,
    },
    Edit {
        model: String,
        row: RowRef,
        set: Vec<(String, FeatureValue)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// `shared.data` was replaced by a fresh snapshot.
    Snapshot,
    Update(Update),
    Answer(Pending, Answer),
}

pub const KEYS: &[KeyHelp] = &[
    KeyHelp::new("↑ ↓, j k", "select a model or a row").footer(),
    KeyHelp::new(
        "Enter",
        "open the model's showroom; predict the row on its own",
    )
    .footer(),
    KeyHelp::new("e", "edit the row's values and predict them").footer(),
    KeyHelp::new("s", "keep the edited row in this session's list"),
    KeyHelp::new("x", "remove a kept row"),
    KeyHelp::new("r", "predict every row again (after a new version)"),
    KeyHelp::new("Esc", "close the panel; back to the models").footer(),
];

impl Showroom {
    /// Typing goes to the edit form.
    pub fn captures_keys(&self) -> bool {
        self.edit.is_some()
    }

    pub fn ticks(&self) -> bool {
        false
    }
}

impl Open {
    fn new(model: String) -> Open {
        Open {
            model,
            view: None,
            error: None,
            selected: 0,
            kept: Vec::new(),
            panel: None,
            newer: None,
        }
    }

    /// Sample rows and kept rows.
    pub fn len(&self) -> usize {
        self.view.as_ref().map_or(0, |v| v.rows.len()) + self.kept.len()
    }

    pub fn row_ref(&self, index: usize) -> Option<RowRef> {
        let samples = self.view.as_ref()?.rows.len();
        if index < samples {
            Some(RowRef::Sample(index))
        } else if index - samples < self.kept.len() {
            Some(RowRef::Kept(index - samples))
        } else {
            None
        }
    }

    /// The sample row (1-based) a row is, or was edited from.
    pub fn sample_row(&self, row: RowRef) -> u32 {
        match row {
            RowRef::Sample(i) => i as u32 + 1,
            RowRef::Kept(k) => self.kept[k].row,
        }
    }

    /// What a row says now.
    pub fn said(&self, row: RowRef) -> Option<Said> {
        let view = self.view.as_ref()?;
        Some(match row {
            RowRef::Sample(i) => {
                let r = view.rows.get(i)?;
                Said {
                    version: view.version,
                    outcome: r.outcome.clone(),
                    classes: r.classes.clone(),
                    values: view
                        .features
                        .iter()
                        .cloned()
                        .zip(r.values.clone())
                        .collect(),
                }
            }
            RowRef::Kept(k) => {
                let p = &self.kept.get(k)?.prediction;
                Said {
                    version: p.version,
                    outcome: p.outcome.clone(),
                    classes: p.classes.clone(),
                    values: p.values.clone(),
                }
            }
        })
    }

    /// The features a row changes from its sample row.
    fn set_of(&self, row: RowRef) -> Vec<(String, FeatureValue)> {
        match row {
            RowRef::Sample(_) => Vec::new(),
            RowRef::Kept(k) => self.kept[k].set.clone(),
        }
    }

    fn note_version(&mut self, version: u32) {
        if self.view.as_ref().is_some_and(|v| v.version != version) {
            self.newer = Some(version);
        }
    }
}

/// A finite number as a person types it, or what is wrong with it.
pub fn parse_value(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("a number is needed".into());
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{t:?} is not a number")),
    }
}

pub fn update(m: &mut Showroom, msg: Msg, shared: &Shared, fx: &mut Effects<Pending>) {
    match msg {
        Msg::Key(key) => on_key(m, key, shared, fx),
        Msg::Snapshot => {
            // The list is cheap and predicts nothing: refresh it on every
            // (re)connection. Someone without the role is not asked for it,
            // so a console does not leave a denial in the log each time.
            if shared.can(Role::Showroom) {
                fx.send(Request::Showrooms, Pending::List);
            }
        }
        Msg::Update(_) => {}
        Msg::Answer(purpose, answer) => on_answer(m, purpose, answer, fx),
    }
}

fn open_model(m: &mut Showroom, model: String, fx: &mut Effects<Pending>) {
    fx.working(format!("predicting every sample row of {model}…"));
    fx.send(
        Request::OpenShowroom {
            model: model.clone(),
        },
        Pending::Open(model.clone()),
    );
    m.open = Some(Open::new(model));
}

fn on_key(m: &mut Showroom, key: KeyEvent, shared: &Shared, fx: &mut Effects<Pending>) {
    if let Some(edit) = m.edit.take() {
        m.edit = on_edit_key(m.open.as_mut(), edit, key, fx);
        fx.redraw();
        return;
    }
    match m.open.as_mut() {
        None => on_list_key(m, key, shared, fx),
        Some(open) => {
            if key.code == KeyCode::Esc && open.panel.is_none() {
                m.open = None;
                fx.redraw();
                return;
            }
            on_rows_key(m, key, shared, fx);
        }
    }
}

fn on_list_key(m: &mut Showroom, key: KeyEvent, shared: &Shared, fx: &mut Effects<Pending>) {
    let n = m.list.as_ref().map_or(0, Vec::len);
    let before = m.chosen;
    match key.code {
        KeyCode::Down | KeyCode::Char('j') => m.chosen = step(m.chosen, 1, n),
        KeyCode::Up | KeyCode::Char('k') => m.chosen = step(m.chosen, -1, n),
        KeyCode::Home | KeyCode::Char('g') => m.chosen = 0,
        KeyCode::End | KeyCode::Char('G') => m.chosen = n.saturating_sub(1),
        KeyCode::Char('r') => {
            if !shared.connected() {
                fx.failed("not connected to the daemon");
                return;
            }
            fx.send(Request::Showrooms, Pending::List);
        }
        KeyCode::Enter => {
            if !shared.connected() {
                fx.failed("not connected to the daemon");
                return;
            }
            match m.list.as_ref().and_then(|l| l.get(m.chosen)) {
                Some(s) => {
                    let model = s.model.clone();
                    open_model(m, model, fx);
                }
                // Not listed (no role, say): ask anyway, the daemon decides.
                None if !shared.can(Role::Showroom) => {
                    fx.send(Request::Showrooms, Pending::List);
                }
                None => fx.failed("no showroom to open"),
            }
        }
        _ => {}
    }
    if m.chosen != before {
        fx.redraw();
    }
}

fn on_rows_key(m: &mut Showroom, key: KeyEvent, shared: &Shared, fx: &mut Effects<Pending>) {
    if key.code == KeyCode::Char('r') {
        if !shared.connected() {
            fx.failed("not connected to the daemon");
            return;
        }
        let Some(old) = m.open.take() else {
            return;
        };
        open_model(m, old.model, fx);
        // Kept rows stay (Enter predicts them again), and so does the selection.
        if let Some(o) = m.open.as_mut() {
            o.kept = old.kept;
            o.selected = old.selected;
        }
        return;
    }
    let Some(open) = m.open.as_mut() else {
        return;
    };
    let n = open.len();
    let before = open.selected;
    match key.code {
        KeyCode::Down | KeyCode::Char('j') => open.selected = step(open.selected, 1, n),
        KeyCode::Up | KeyCode::Char('k') => open.selected = step(open.selected, -1, n),
        KeyCode::PageDown => open.selected = step(open.selected, 10, n),
        KeyCode::PageUp => open.selected = step(open.selected, -10, n),
        KeyCode::Home | KeyCode::Char('g') => open.selected = 0,
        KeyCode::End | KeyCode::Char('G') => open.selected = n.saturating_sub(1),
        KeyCode::Esc => {
            if let Some(Panel::Compare { row, .. }) = open.panel.take() {
                fx.done(format!("the edit of row {} is reset", open.sample_row(row)));
            }
            fx.redraw();
        }
        KeyCode::Enter => {
            if !shared.connected() {
                fx.failed("not connected to the daemon");
                return;
            }
            let Some(row) = open.row_ref(open.selected) else {
                return;
            };
            let (model, sample, set) = (open.model.clone(), open.sample_row(row), open.set_of(row));
            open.panel = Some(Panel::Waiting { row });
            fx.working(format!("predicting row {sample} of {model}…"));
            fx.send(
                Request::ShowroomPredict {
                    model: model.clone(),
                    row: sample,
                    set,
                },
                Pending::One { model, row },
            );
        }
        KeyCode::Char('e') => {
            let Some(row) = open.row_ref(open.selected) else {
                return;
            };
            let Some(before) = open.said(row) else {
                return;
            };
            // Editing again after an edit starts from the edited values.
            let start = match &open.panel {
                Some(Panel::Compare { row: r, after, .. }) if *r == row => Said {
                    values: after.values.clone(),
                    ..before.clone()
                },
                _ => before.clone(),
            };
            m.edit = Some(Edit {
                form: edit_form(&open.model, open.sample_row(row), row, &start),
                row,
                before,
            });
            fx.redraw();
        }
        KeyCode::Char('s') => match open.panel.take() {
            Some(Panel::Compare {
                row, after, set, ..
            }) => {
                let sample = open.sample_row(row);
                open.kept.push(Kept {
                    row: sample,
                    set,
                    prediction: after,
                });
                open.selected = open.len() - 1;
                fx.done(format!(
                    "the edited row {sample} is kept in this session's list (x removes it)"
                ));
            }
            other => {
                open.panel = other;
                fx.failed("nothing to keep: edit a row first (e)");
            }
        },
        KeyCode::Char('x') => match open.row_ref(open.selected) {
            Some(RowRef::Kept(k)) => {
                let gone = open.kept.remove(k);
                open.panel = None;
                open.selected = open.selected.min(open.len().saturating_sub(1));
                fx.done(format!("the edited row {} is removed", gone.row));
            }
            _ => fx.failed("only an edited row kept in this session can be removed"),
        },
        _ => {}
    }
    if open.selected != before {
        // The panel speaks of one row; moving away closes it.
        open.panel = None;
        fx.redraw();
    }
}

pub fn edit_form(model: &str, sample: u32, row: RowRef, before: &Said) -> Form {
    let which = match row {
        RowRef::Sample(_) => format!("row {sample}"),
        RowRef::Kept(_) => format!("edited row {sample}"),
    };
    let mut form = Form::new(format!("Edit {which} of {model}"), "predict")
        .intro("Enter predicts the edited row; the sample file is not changed.");
    for (name, value) in &before.values {
        let (v, help) = match value {
            FeatureValue::Number(x) => (x.to_string(), format!("a number; it is {x} now")),
            FeatureValue::Text(t) => (t.clone(), format!("text (a category); it is {t} now")),
            FeatureValue::Null => (
                String::new(),
                "text (a category); it is empty (NULL) now".to_string(),
            ),
        };
        form = form.field(Field::text(name, name, &v, &help));
    }
    form
}

/// A field's text as its feature's type: a number checked as typed; text
/// as is (empty: NULL).
fn read_value(text: &str, like: &FeatureValue) -> Result<FeatureValue, String> {
    match like {
        FeatureValue::Number(_) => parse_value(text).map(FeatureValue::Number),
        _ if text.is_empty() => Ok(FeatureValue::Null),
        _ => Ok(FeatureValue::Text(text.to_string())),
    }
}

/// Checks every field; returns the values in order, or sets the errors.
fn read_values(form: &mut Form, before: &Said) -> Option<Vec<(String, FeatureValue)>> {
    form.clear_errors();
    let mut out = Vec::new();
    let names: Vec<String> = form.fields.iter().map(|f| f.name.clone()).collect();
    for name in names {
        let like = before
            .values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(FeatureValue::Number(0.0), |(_, v)| v.clone());
        match read_value(form.value(&name), &like) {
            Ok(v) => out.push((name, v)),
            Err(e) => form.set_error(&name, e),
        }
    }
    (!form.has_errors()).then_some(out)
}

fn on_edit_key(
    open: Option<&mut Open>,
    mut edit: Edit,
    key: KeyEvent,
    fx: &mut Effects<Pending>,
) -> Option<Edit> {
    let open = open?;
    match edit.form.on_key(key) {
        FormEvent::Cancel => None,
        FormEvent::Changed => {
            // Numbers are checked as they are typed.
            let i = edit.form.focus;
            if let Some(field) = edit.form.fields.get(i) {
                let name = field.name.clone();
                let like = edit.before.values.iter().find(|(n, _)| *n == name);
                if let Some((_, like)) = like
                    && let Err(e) = read_value(field.value(), like)
                {
                    edit.form.set_error(&name, e);
                }
            }
            Some(edit)
        }
        FormEvent::Submit => {
            if edit.form.waiting {
                return Some(edit);
            }
            let Some(values) = read_values(&mut edit.form, &edit.before) else {
                return Some(edit);
            };
            // What changed from the sample row (not from a kept row's values):
            // the daemon edits the sample row.
            let sample = open.sample_row(edit.row);
            let Some(original) = open.said(RowRef::Sample(sample as usize - 1)) else {
                return Some(edit);
            };
            let set: Vec<(String, FeatureValue)> = values
                .into_iter()
                .zip(&original.values)
                .filter(|((_, v), (_, o))| v != o)
                .map(|(pair, _)| pair)
                .collect();
            edit.form.waiting = true;
            fx.working(format!("predicting the edited row {sample}…"));
            fx.send(
                Request::ShowroomPredict {
                    model: open.model.clone(),
                    row: sample,
                    set: set.clone(),
                },
                Pending::Edit {
                    model: open.model.clone(),
                    row: edit.row,
                    set,
                },
            );
            Some(edit)
        }
        FormEvent::Ignored => Some(edit),
    }
}

fn on_answer(m: &mut Showroom, purpose: Pending, answer: Answer, fx: &mut Effects<Pending>) {
    match (purpose, answer) {
        (Pending::List, Ok(Response::Showrooms(list))) => {
            m.chosen = m.chosen.min(list.len().saturating_sub(1));
            m.list = Some(list);
            m.list_error = None;
            fx.redraw();
        }
        (Pending::List, Err(e)) => {
            m.list_error = Some(e.message.clone());
            fx.redraw();
        }
        (Pending::Open(model), answer) => {
            let Some(open) = m.open.as_mut().filter(|o| o.model == model) else {
                return; // left meanwhile
            };
            match answer {
                Ok(Response::Showroom(view)) => {
                    fx.done(format!(
                        "{} v{}: {} sample rows predicted",
                        view.model,
                        view.version,
                        view.rows.len()
                    ));
                    open.view = Some(*view);
                    open.error = None;
                    open.newer = None;
                    open.panel = None;
                    open.selected = open.selected.min(open.len().saturating_sub(1));
                }
                Err(e) => {
                    fx.failed(error_text(&format!("opening {model}"), &e));
                    open.error = Some(e.message);
                }
                Ok(other) => unexpected(&other, fx),
            }
            fx.redraw();
        }
        (Pending::One { model, row }, answer) => {
            let Some(open) = m.open.as_mut().filter(|o| o.model == model) else {
                return;
            };
            let waiting = matches!(open.panel, Some(Panel::Waiting { row: r }) if r == row);
            match answer {
                Ok(Response::ShowroomPrediction(p)) => {
                    let p = *p;
                    open.note_version(p.version);
                    fx.done(done_text(&p));
                    if let RowRef::Kept(k) = row
                        && let Some(kept) = open.kept.get_mut(k)
                    {
                        kept.prediction = p.clone();
                    }
                    if waiting {
                        open.panel = Some(Panel::One { row, prediction: p });
                    }
                }
                Err(e) => {
                    if waiting {
                        open.panel = None;
                    }
                    fx.failed(error_text(
                        &format!("predicting row {}", open.sample_row(row)),
                        &e,
                    ));
                }
                Ok(other) => unexpected(&other, fx),
            }
            fx.redraw();
        }
        (Pending::Edit { model, row, set }, answer) => {
            let Some(open) = m.open.as_mut().filter(|o| o.model == model) else {
                return;
            };
            let Some(edit) = m.edit.as_mut().filter(|e| e.row == row) else {
                return; // the form was closed meanwhile
            };
            match answer {
                Ok(Response::ShowroomPrediction(p)) => {
                    let p = *p;
                    open.note_version(p.version);
                    fx.done(done_text(&p));
                    open.panel = Some(Panel::Compare {
                        row,
                        before: edit.before.clone(),
                        after: p,
                        set,
                    });
                    m.edit = None;
                }
                Err(e) => {
                    edit.form.waiting = false;
                    // "unknown feature x; …" names a field; else above them.
                    let field = edit
                        .form
                        .fields
                        .iter()
                        .find(|f| e.message.contains(&format!("feature {} ", f.name)))
                        .map(|f| f.name.clone());
                    edit.form
                        .set_error(field.as_deref().unwrap_or(""), e.message.clone());
                    fx.failed(error_text("predicting the edited row", &e));
                }
                Ok(other) => unexpected(&other, fx),
            }
            fx.redraw();
        }
        (Pending::List, Ok(other)) => unexpected(&other, fx),
    }
}

fn done_text(p: &ShowroomPrediction) -> String {
    let (label, score) = crate::cmd::showroom::outcome_parts(&p.outcome);
    format!(
        "row {}{}: {label}{} by {} v{}",
        p.row,
        if p.edited { " edited" } else { "" },
        score.map(|s| format!(" ({s:.3})")).unwrap_or_default(),
        p.model,
        p.version
    )
}

fn unexpected(answer: &Response, fx: &mut Effects<Pending>) {
    tracing::warn!(?answer, "unexpected answer");
    fx.failed("unexpected answer from the daemon");
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
pub(crate) mod tests;
