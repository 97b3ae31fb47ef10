//! The Models screen: the registry's versions (with their metrics and
//! which is active), experiments, training runs with live progress, and the
//! catalog — four sections, `←`/`→` between them.
//!
//! Owns the lists it was last given, the section and selection of each,
//! the opened version or experiment (per-class precision, recall, F1 and the
//! confusion matrix), and the open form or question. Receives keys,
//! `Update::Training` and answers; emits `Models`, `Experiments`,
//! `TrainingRuns`, `Catalog`, `CheckTraining` then `Train` (`t`),
//! `ActivateModel` (`a`), `CommitExperiment` (`c`, asks for the name),
//! `DeleteExperiment` and `CancelTraining` (`x`).

pub mod train;
mod view;

pub use view::render;

use super::{Answer, Effects, KeyHelp, Shared, error_text, step};
use crate::widgets::confirm::{self, Confirm};
use crate::widgets::filter::{Filter, FilterEvent};
use crate::widgets::form::{Field, Form, FormEvent};
use crossterm::event::{KeyCode, KeyEvent};
use mld_shared::protocol::{
    AlgorithmInfo, CatalogInfo, DatasetInfo, ExperimentInfo, ModelInfo, ModelVersionInfo, Request,
    Response, TrainSpec, TrainingInfo, Update,
};
use train::TrainForm;

/// How many training runs the Trainings section lists.
pub const RUNS_SHOWN: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Section {
    #[default]
    Versions,
    Experiments,
    Trainings,
    Catalog,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::Versions,
        Section::Experiments,
        Section::Trainings,
        Section::Catalog,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Versions => "Versions",
            Section::Experiments => "Experiments",
            Section::Trainings => "Trainings",
            Section::Catalog => "Catalog",
        }
    }

    fn index(self) -> usize {
        Section::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Models {
    pub section: Section,
    pub models: Vec<ModelInfo>,
    pub experiments: Vec<ExperimentInfo>,
    /// Newest first; kept current by `Update::Training`.
    pub runs: Vec<TrainingInfo>,
    pub catalog: Option<Box<CatalogInfo>>,
    /// Which lists have been answered.
    pub loaded: Loaded,
    /// The highlighted row of each section, among what the filter lets through.
    pub selected: [usize; 4],
    pub filter: Filter,
    /// A version or experiment opened with Enter.
    pub detail: Option<Box<ModelVersionInfo>>,
    pub modal: Option<Modal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loaded {
    pub models: bool,
    pub experiments: bool,
    pub runs: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Train(TrainForm),
    Commit {
        id: String,
        form: Form,
    },
    /// Yes sends `request`.
    Confirm {
        dialog: Confirm,
        request: Request,
        purpose: Pending,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Models,
    Experiments,
    Runs,
    /// The catalog; then open the training form when `train`.
    Catalog {
        train: bool,
    },
    Check(TrainSpec),
    Train,
    Activate {
        name: String,
        version: u32,
    },
    Commit {
        id: String,
        name: String,
    },
    Delete(String),
    CancelTraining(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Snapshot,
    Update(Update),
    Answer(Pending, Answer),
}

pub const KEYS: &[KeyHelp] = &[
    KeyHelp::new("← →, h l", "versions, experiments, trainings, catalog").footer_as("section"),
    KeyHelp::new("↑ ↓, j k", "select"),
    KeyHelp::new(
        "Enter",
        "open a version or experiment: per class, confusion",
    )
    .footer(),
    KeyHelp::new("t", "train: a form from the catalog")
        .admin()
        .footer(),
    KeyHelp::new("a", "make the version active (confirm)")
        .admin()
        .footer_as("activate"),
    KeyHelp::new("c", "commit the experiment (asks a name)")
        .admin()
        .footer(),
    KeyHelp::new("x", "delete an experiment, stop a training").admin(),
    KeyHelp::new("r", "read the lists again"),
    KeyHelp::new("/", "filter the section by text; Esc clears").footer(),
    KeyHelp::new("Esc", "close what is open"),
];

/// One row of the Catalog section.
#[derive(Debug, Clone, Copy)]
pub enum CatalogRow<'a> {
    Dataset(&'a DatasetInfo),
    Model(&'a AlgorithmInfo),
}

impl Models {
    pub fn captures_keys(&self) -> bool {
        self.modal.is_some() || self.filter.editing
    }

    /// A training that runs shows its time so far.
    pub fn ticks(&self) -> bool {
        self.section == Section::Trainings && self.runs.iter().any(|r| !r.status.is_finished())
    }

    /// Every version of every model: by name, newest version first.
    pub fn versions(&self) -> Vec<&ModelVersionInfo> {
        let mut all: Vec<&ModelVersionInfo> = self
            .models
            .iter()
            .flat_map(|m| m.versions.iter().rev())
            .filter(|v| {
                self.filter.matches([
                    v.name.as_str(),
                    v.algorithm.as_str(),
                    v.dataset.as_deref().unwrap_or(""),
                    v.hash.as_str(),
                    if v.active { "active" } else { "" },
                ])
            })
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
        all
    }

    pub fn visible_experiments(&self) -> Vec<&ExperimentInfo> {
        self.experiments
            .iter()
            .filter(|e| {
                self.filter.matches([
                    e.id.as_str(),
                    e.model.algorithm.as_str(),
                    e.model.dataset.as_deref().unwrap_or(""),
                ])
            })
            .collect()
    }

    pub fn visible_runs(&self) -> Vec<&TrainingInfo> {
        self.runs
            .iter()
            .filter(|r| {
                self.filter.matches([
                    r.spec.dataset.as_str(),
                    r.spec.model.as_str(),
                    r.status.as_str(),
                    r.requested_by.as_str(),
                    r.experiment.as_deref().unwrap_or(""),
                ])
            })
            .collect()
    }

    pub fn catalog_rows(&self) -> Vec<CatalogRow<'_>> {
        let Some(c) = &self.catalog else {
            return Vec::new();
        };
        c.datasets
            .iter()
            .filter(|d| {
                self.filter
                    .matches([d.name.as_str(), d.description.as_str()])
            })
            .map(CatalogRow::Dataset)
            .chain(
                c.models
                    .iter()
                    .filter(|m| {
                        self.filter
                            .matches([m.name.as_str(), m.description.as_str()])
                    })
                    .map(CatalogRow::Model),
            )
            .collect()
    }

    fn rows(&self) -> usize {
        match self.section {
            Section::Versions => self.versions().len(),
            Section::Experiments => self.visible_experiments().len(),
            Section::Trainings => self.visible_runs().len(),
            Section::Catalog => self.catalog_rows().len(),
        }
    }

    pub fn selected(&self) -> usize {
        self.selected[self.section.index()]
    }

    fn set_selected(&mut self, i: usize) {
        self.selected[self.section.index()] = i;
    }

    fn clamp(&mut self) {
        let n = self.rows();
        self.set_selected(self.selected().min(n.saturating_sub(1)));
    }
}

fn ask_lists(fx: &mut Effects<Pending>) {
    fx.send(Request::Models, Pending::Models);
    fx.send(Request::Experiments, Pending::Experiments);
    fx.send(Request::TrainingRuns { limit: RUNS_SHOWN }, Pending::Runs);
}

pub fn update(m: &mut Models, msg: Msg, shared: &Shared, fx: &mut Effects<Pending>) {
    match msg {
        Msg::Key(key) => on_key(m, key, shared, fx),
        Msg::Snapshot => ask_lists(fx),
        Msg::Update(Update::Training(info)) => {
            let finished_ok = info.status == mld_shared::protocol::TrainingStatus::Succeeded;
            match m.runs.iter_mut().find(|r| r.run == info.run) {
                Some(r) => *r = *info,
                None => {
                    m.runs.insert(0, *info);
                    m.runs.sort_by_key(|r| std::cmp::Reverse(r.run));
                }
            }
            // A run that succeeded left an experiment behind.
            if finished_ok {
                fx.send(Request::Experiments, Pending::Experiments);
            }
            m.clamp();
            if m.section == Section::Trainings {
                fx.redraw();
            }
        }
        Msg::Update(_) => {}
        Msg::Answer(purpose, answer) => on_answer(m, purpose, answer, shared, fx),
    }
}

fn on_key(m: &mut Models, key: KeyEvent, shared: &Shared, fx: &mut Effects<Pending>) {
    if let Some(modal) = m.modal.take() {
        m.modal = on_modal_key(m, modal, key, shared, fx);
        fx.redraw();
        return;
    }
    if m.filter.editing {
        if m.filter.on_key(key) != FilterEvent::Ignored {
            m.set_selected(0);
            m.clamp();
            fx.redraw();
        }
        return;
    }
    if m.detail.is_some() {
        match key.code {
            KeyCode::Esc => m.detail = None,
            KeyCode::Char('a') => activate(m, shared, fx),
            KeyCode::Char('c') => commit(m, shared, fx),
            _ => return,
        }
        fx.redraw();
        return;
    }
    let n = m.rows();
    let before = (m.section, m.selected());
    match key.code {
        KeyCode::Right | KeyCode::Char('l') => {
            m.section = Section::ALL[(m.section.index() + 1) % 4];
            m.filter.clear();
            if m.section == Section::Catalog && m.catalog.is_none() {
                fx.send(Request::Catalog, Pending::Catalog { train: false });
            }
        }
        KeyCode::Left | KeyCode::Char('h') => {
            m.section = Section::ALL[(m.section.index() + 3) % 4];
            m.filter.clear();
            if m.section == Section::Catalog && m.catalog.is_none() {
                fx.send(Request::Catalog, Pending::Catalog { train: false });
            }
        }
        KeyCode::Down | KeyCode::Char('j') => m.set_selected(step(m.selected(), 1, n)),
        KeyCode::Up | KeyCode::Char('k') => m.set_selected(step(m.selected(), -1, n)),
        KeyCode::PageDown => m.set_selected(step(m.selected(), 10, n)),
        KeyCode::PageUp => m.set_selected(step(m.selected(), -10, n)),
        KeyCode::Home | KeyCode::Char('g') => m.set_selected(0),
        KeyCode::End | KeyCode::Char('G') => m.set_selected(n.saturating_sub(1)),
        KeyCode::Char('/') => {
            m.filter.start();
            fx.redraw();
        }
        KeyCode::Esc if m.filter.is_active() => {
            m.filter.clear();
            m.clamp();
            fx.redraw();
        }
        KeyCode::Char('r') => {
            ask_lists(fx);
            if m.section == Section::Catalog {
                fx.send(Request::Catalog, Pending::Catalog { train: false });
            }
        }
        KeyCode::Enter => open(m, fx),
        KeyCode::Char('t') => match &m.catalog {
            Some(catalog) => {
                m.modal = Some(Modal::Train(train::new(catalog, shared.is_admin())));
                fx.redraw();
            }
            None => {
                fx.working("reading the catalog…");
                fx.send(Request::Catalog, Pending::Catalog { train: true });
            }
        },
        KeyCode::Char('a') => activate(m, shared, fx),
        KeyCode::Char('c') => commit(m, shared, fx),
        KeyCode::Char('x') => delete_or_cancel(m, shared, fx),
        _ => {}
    }
    if (m.section, m.selected()) != before {
        fx.redraw();
    }
}

/// Enter: a version or an experiment opens; a finished training opens the
/// experiment it made.
fn open(m: &mut Models, fx: &mut Effects<Pending>) {
    let i = m.selected();
    let detail = match m.section {
        Section::Versions => m.versions().get(i).map(|v| (*v).clone()),
        Section::Experiments => m.visible_experiments().get(i).map(|e| experiment_info(e)),
        Section::Trainings => {
            let made = m.visible_runs().get(i).and_then(|r| r.experiment.clone());
            made.and_then(|id| {
                let e = m.experiments.iter().find(|e| e.id == id)?;
                let info = experiment_info(e);
                m.section = Section::Experiments;
                m.filter.clear();
                let at = m.experiments.iter().position(|x| x.id == id).unwrap_or(0);
                m.set_selected(at);
                Some(info)
            })
        }
        Section::Catalog => None,
    };
    if let Some(d) = detail {
        m.detail = Some(Box::new(d));
        fx.redraw();
    }
}

/// An experiment as a version-like record (version 0), its id as the name.
fn experiment_info(e: &ExperimentInfo) -> ModelVersionInfo {
    let mut info = e.model.clone();
    info.name = e.id.clone();
    info.version = 0;
    info
}

/// The version `a` and `c` act on: the opened one, else the selected row.
fn target(m: &Models) -> Option<ModelVersionInfo> {
    if let Some(d) = &m.detail {
        return Some((**d).clone());
    }
    let i = m.selected();
    match m.section {
        Section::Versions => m.versions().get(i).map(|v| (*v).clone()),
        Section::Experiments => m.visible_experiments().get(i).map(|e| experiment_info(e)),
        _ => None,
    }
}

fn activate(m: &mut Models, shared: &Shared, fx: &mut Effects<Pending>) {
    let Some(v) = target(m).filter(|v| v.version > 0) else {
        fx.failed("select a registry version to activate (Versions)");
        return;
    };
    if v.active {
        fx.failed(format!("{} v{} is already active", v.name, v.version));
        return;
    }
    let (name, version) = (v.name.clone(), v.version);
    let request = Request::ActivateModel {
        name: name.clone(),
        version,
    };
    let purpose = Pending::Activate {
        name: name.clone(),
        version,
    };
    if !shared.is_admin() {
        fx.send(request, purpose);
        return;
    }
    m.modal = Some(Modal::Confirm {
        dialog: Confirm::new(format!("Activate {name} v{version}"), "activate")
            .line(format!(
                "Move {name}'s active alias to version {version}: jobs and the showroom use \
                 it from their next prediction."
            ))
            .line(format!(
                "sha256 {}…",
                v.hash.chars().take(16).collect::<String>()
            )),
        request,
        purpose,
    });
    fx.redraw();
}

fn commit(m: &mut Models, shared: &Shared, fx: &mut Effects<Pending>) {
    let Some(e) = target(m).filter(|v| v.version == 0) else {
        fx.failed("select an experiment to commit (Experiments)");
        return;
    };
    let suggestion = e.dataset.clone().unwrap_or_default();
    let names: Vec<&str> = m.models.iter().map(|x| x.name.as_str()).collect();
    let hint = if names.is_empty() {
        "the model's name: a new name starts at version 1".to_string()
    } else {
        format!(
            "a new name, or an existing one to add its next version: {}",
            names.join(", ")
        )
    };
    let mut form = Form::new(format!("Commit {}", e.name), "commit").field(Field::text(
        "name",
        "Model name",
        &suggestion,
        &hint,
    ));
    form = form.intro(if shared.is_admin() {
        "It becomes the next version of that model (versions never change)."
    } else {
        "Committing needs admin: the daemon will refuse it."
    });
    m.modal = Some(Modal::Commit { id: e.name, form });
    fx.redraw();
}

fn delete_or_cancel(m: &mut Models, shared: &Shared, fx: &mut Effects<Pending>) {
    let i = m.selected();
    let (request, purpose, dialog) = match m.section {
        Section::Experiments => {
            let Some(e) = m.visible_experiments().get(i).map(|e| e.id.clone()) else {
                fx.failed("no experiment selected");
                return;
            };
            (
                Request::DeleteExperiment { id: e.clone() },
                Pending::Delete(e.clone()),
                Confirm::new(format!("Delete {e}"), "delete").line(format!(
                    "Discard experiment {e}; it cannot be committed after."
                )),
            )
        }
        Section::Trainings => {
            let Some(r) = m.visible_runs().get(i).map(|r| (r.run, r.status)) else {
                fx.failed("no training selected");
                return;
            };
            if r.1.is_finished() {
                fx.failed(format!(
                    "training run {} is not running: it {}",
                    r.0,
                    r.1.as_str()
                ));
                return;
            }
            (
                Request::CancelTraining { run: r.0 },
                Pending::CancelTraining(r.0),
                Confirm::new(format!("Cancel training run {}", r.0), "stop it").line(format!(
                    "Stop training run {}; it leaves no experiment.",
                    r.0
                )),
            )
        }
        _ => {
            fx.failed("x deletes an experiment or cancels a training");
            return;
        }
    };
    if !shared.is_admin() {
        fx.send(request, purpose);
        return;
    }
    m.modal = Some(Modal::Confirm {
        dialog,
        request,
        purpose,
    });
    fx.redraw();
}

fn on_modal_key(
    m: &mut Models,
    modal: Modal,
    key: KeyEvent,
    _shared: &Shared,
    fx: &mut Effects<Pending>,
) -> Option<Modal> {
    match modal {
        Modal::Train(mut t) => match t.form.on_key(key) {
            FormEvent::Cancel => None,
            FormEvent::Submit => {
                if let Some(spec) = train::read(&mut t) {
                    t.form.waiting = true;
                    fx.working("the daemon is checking the training request…");
                    fx.send(Request::CheckTraining(spec.clone()), Pending::Check(spec));
                }
                Some(Modal::Train(t))
            }
            _ => {
                if let Some(catalog) = &m.catalog {
                    train::follow_model(&mut t, catalog);
                }
                Some(Modal::Train(t))
            }
        },
        Modal::Commit { id, mut form } => match form.on_key(key) {
            FormEvent::Cancel => None,
            FormEvent::Submit => {
                form.clear_errors();
                let name = form.value("name").trim().to_string();
                if name.is_empty() {
                    form.set_error("name", "give the model a name");
                } else {
                    form.waiting = true;
                    fx.working(format!("committing {id} as {name}…"));
                    fx.send(
                        Request::CommitExperiment {
                            id: id.clone(),
                            name: name.clone(),
                        },
                        Pending::Commit {
                            id: id.clone(),
                            name,
                        },
                    );
                }
                Some(Modal::Commit { id, form })
            }
            _ => Some(Modal::Commit { id, form }),
        },
        Modal::Confirm {
            dialog,
            request,
            purpose,
        } => match dialog.on_key(key) {
            confirm::Answer::Yes => {
                fx.working(format!("{}…", dialog.title.to_lowercase()));
                fx.send(request, purpose);
                None
            }
            confirm::Answer::No => None,
            confirm::Answer::Ignored => Some(Modal::Confirm {
                dialog,
                request,
                purpose,
            }),
        },
    }
}

fn on_answer(
    m: &mut Models,
    purpose: Pending,
    answer: Answer,
    shared: &Shared,
    fx: &mut Effects<Pending>,
) {
    match (purpose, answer) {
        (Pending::Models, Ok(Response::Models(list))) => {
            m.models = list;
            m.loaded.models = true;
            if let Some(d) = &mut m.detail
                && d.version > 0
                && let Some(v) = m
                    .models
                    .iter()
                    .flat_map(|x| &x.versions)
                    .find(|v| v.name == d.name && v.version == d.version)
            {
                // The opened version may have become (in)active.
                **d = v.clone();
            }
        }
        (Pending::Experiments, Ok(Response::Experiments(list))) => {
            m.experiments = list;
            m.loaded.experiments = true;
        }
        (Pending::Runs, Ok(Response::TrainingRuns(list))) => {
            m.runs = list;
            m.loaded.runs = true;
        }
        (Pending::Catalog { train }, Ok(Response::Catalog(catalog))) => {
            if train && m.modal.is_none() {
                m.modal = Some(Modal::Train(train::new(&catalog, shared.is_admin())));
                fx.done("the catalog is read: fill in the form");
            }
            m.catalog = Some(catalog);
        }
        (Pending::Check(spec), Ok(Response::TrainingProblems(problems))) => {
            let Some(Modal::Train(t)) = &mut m.modal else {
                return; // closed meanwhile
            };
            if problems.is_empty() {
                fx.working("starting the training…");
                fx.send(Request::Train(spec), Pending::Train);
            } else {
                t.form.waiting = false;
                train::show_problems(t, &problems);
                fx.failed(format!(
                    "the daemon found {} problem{} with the request: see the form",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                ));
            }
        }
        (Pending::Train, Ok(Response::TrainingStarted { run })) => {
            if matches!(m.modal, Some(Modal::Train(_))) {
                m.modal = None;
            }
            m.section = Section::Trainings;
            m.filter.clear();
            m.detail = None;
            m.set_selected(0);
            fx.done(format!("training run {run} started"));
            fx.send(Request::TrainingRuns { limit: RUNS_SHOWN }, Pending::Runs);
        }
        (Pending::Activate { name, version }, Ok(Response::ModelVersion(_))) => {
            fx.done(format!("{name}: version {version} is active"));
            fx.send(Request::Models, Pending::Models);
        }
        (Pending::Commit { id, name }, Ok(Response::ModelVersion(v))) => {
            if matches!(m.modal, Some(Modal::Commit { .. })) {
                m.modal = None;
            }
            m.detail = None;
            m.section = Section::Versions;
            m.filter.clear();
            fx.done(format!("{id} committed as {name} v{}", v.version));
            fx.send(Request::Models, Pending::Models);
            fx.send(Request::Experiments, Pending::Experiments);
        }
        (Pending::Delete(id), Ok(Response::ExperimentDeleted { .. })) => {
            fx.done(format!("experiment {id} deleted"));
            fx.send(Request::Experiments, Pending::Experiments);
        }
        (Pending::CancelTraining(run), Ok(Response::Training(_))) => {
            fx.done(format!("training run {run}: cancel requested"));
        }
        (purpose, Err(e)) => {
            let what = match &purpose {
                Pending::Models => "listing models".to_string(),
                Pending::Experiments => "listing experiments".to_string(),
                Pending::Runs => "listing trainings".to_string(),
                Pending::Catalog { .. } => "reading the catalog".to_string(),
                Pending::Check(_) => "checking the training".to_string(),
                Pending::Train => "starting the training".to_string(),
                Pending::Activate { name, version } => format!("activating {name} v{version}"),
                Pending::Commit { id, .. } => format!("committing {id}"),
                Pending::Delete(id) => format!("deleting {id}"),
                Pending::CancelTraining(run) => format!("cancelling training run {run}"),
            };
            // A form waiting for this answer shows the error and is usable again.
            match (&mut m.modal, &purpose) {
                (Some(Modal::Train(t)), Pending::Check(_) | Pending::Train) => {
                    t.form.waiting = false;
                    t.form.error = Some(e.message.clone());
                }
                (Some(Modal::Commit { form, .. }), Pending::Commit { .. }) => {
                    form.waiting = false;
                    form.set_error("name", e.message.clone());
                }
                _ => {}
            }
            fx.failed(error_text(&what, &e));
        }
        (purpose, Ok(other)) => {
            tracing::warn!(?purpose, answer = ?other, "unexpected answer");
        }
    }
    m.clamp();
    fx.redraw();
}

#[cfg(test)]
mod tests;
