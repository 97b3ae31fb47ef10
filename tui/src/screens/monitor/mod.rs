//! The Monitor: health of everything watched, and the jobs — with the
//! actions an operator takes on a job: pause (`d`), resume (`e`), run now
//! (`r`).
//!
//! Owns the jobs table's selection and filter, the open form or dialog,
//! each watched thing's last probes (for the latency sparkline and to
//! highlight a change of state), and the running dispatches of jobs (for
//! their live row counts). Receives keys, the daemon's pushed updates and
//! the answers to its requests; emits `EnableJob`, `DisableJob`, `RunJob`
//! (and `Dispatch` for a running dispatch it has not seen yet).

mod view;

pub use view::render;

use super::{Answer, Effects, KeyHelp, Shared, error_text, step};
use crate::cmd::when::{self, Relative};
use crate::ui::format;
use crate::widgets::confirm::{self, Confirm};
use crate::widgets::filter::{Filter, FilterEvent};
use crate::widgets::form::{Field, Form, FormEvent};
use crossterm::event::{KeyCode, KeyEvent};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::{
    DispatchSummary, HealthEntry, HealthState, JobState, JobSummary, Request, Response, RunOutcome,
    Update,
};
use mld_shared::time::WireTime;
use std::collections::{BTreeMap, VecDeque};

/// How many probes of each watched thing the sparkline shows.
pub const PROBES_KEPT: usize = 30;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Monitor {
    /// The highlighted row among the jobs the filter lets through.
    pub selected: usize,
    pub filter: Filter,
    pub modal: Option<Modal>,
    /// Last probes of each watched thing, oldest first.
    pub probes: BTreeMap<(&'static str, String), Probes>,
    /// The running dispatches of jobs, as last pushed.
    pub running: BTreeMap<DispatchId, DispatchSummary>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Probes {
    /// (when, state, latency), oldest first, at most [`PROBES_KEPT`].
    pub seen: VecDeque<(Option<WireTime>, HealthState, Option<f64>)>,
}

impl Probes {
    /// The last change of state among the kept probes: the state before
    /// and when the new one was first seen. Highlighted while it is kept.
    pub fn last_change(&self) -> Option<(HealthState, Option<WireTime>)> {
        let seen: Vec<_> = self.seen.iter().collect();
        seen.windows(2).rev().find_map(|w| {
            let ((_, before, _), (at, after, _)) = (w[0], w[1]);
            (before != after && *before != HealthState::Unknown).then_some((*before, *at))
        })
    }
}

/// A form or a question over the jobs table.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Pause {
        job: JobName,
        form: Form,
    },
    Resume {
        job: JobName,
        form: Form,
    },
    /// Yes sends `request`.
    Confirm {
        dialog: Confirm,
        request: Request,
        purpose: Pending,
    },
}

/// What a request of this screen was for.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Pause(JobName),
    Resume(JobName),
    Run(JobName),
    /// A running dispatch seen in a job but not yet in an update.
    Running(DispatchId),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// `shared.data` was replaced by a fresh snapshot.
    Snapshot,
    /// Pushed by the daemon (already applied to `shared.data`).
    Update(Update),
    Answer(Pending, Answer),
}

pub const KEYS: &[KeyHelp] = &[
    KeyHelp::new("↑ ↓, j k", "select a job").footer(),
    KeyHelp::new("Home End, g G", "first, last job"),
    KeyHelp::new("d", "pause the job (reason, until; confirm)")
        .admin()
        .footer(),
    KeyHelp::new("e", "resume the job (optional reason)")
        .admin()
        .footer(),
    KeyHelp::new("r", "run the job now (confirm)")
        .admin()
        .footer(),
    KeyHelp::new("/", "filter jobs by text; Esc clears").footer(),
];

impl Monitor {
    /// Typing goes to a form, a dialog or the filter.
    pub fn captures_keys(&self) -> bool {
        self.modal.is_some() || self.filter.editing
    }

    /// Whether what the screen shows moved between the ticks at `before`
    /// and `now`: a countdown (to a job's next dispatch or the end of its
    /// pause) whose text changed — `in 45s` every second, `in 3h 04m` once
    /// a minute, `in 2d 03h` once an hour — or a running dispatch's time.
    pub fn ticks(&self, shared: &Shared, before: Timestamp, now: Timestamp) -> bool {
        let Some(data) = &shared.data else {
            return false;
        };
        if data.jobs.iter().any(|j| j.running.is_some()) {
            return true;
        }
        let (before, now) = (before.to_zoned(TimeZone::UTC), now.to_zoned(TimeZone::UTC));
        data.jobs.iter().any(|j| {
            let until = match &j.state {
                JobState::Disabled { until, .. } => *until,
                _ => None,
            };
            [j.next_dispatch, until]
                .into_iter()
                .flatten()
                .any(|t| view::countdown(t, &before) != view::countdown(t, &now))
        })
    }

    /// The jobs the filter lets through, in the daemon's order.
    pub fn visible_jobs<'a>(&self, shared: &'a Shared) -> Vec<&'a JobSummary> {
        shared.data.as_ref().map_or_else(Vec::new, |d| {
            d.jobs
                .iter()
                .filter(|j| {
                    self.filter.matches([
                        j.name.0.as_str(),
                        j.state.label(),
                        j.model.as_str(),
                        j.schedule.as_str(),
                    ])
                })
                .collect()
        })
    }

    pub fn selected_job<'a>(&self, shared: &'a Shared) -> Option<&'a JobSummary> {
        self.visible_jobs(shared).get(self.selected).copied()
    }

    fn clamp(&mut self, shared: &Shared) {
        let n = self.visible_jobs(shared).len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }
}

pub fn update(m: &mut Monitor, msg: Msg, shared: &Shared, fx: &mut Effects<Pending>) {
    match msg {
        Msg::Key(key) => on_key(m, key, shared, fx),
        Msg::Snapshot => {
            if let Some(data) = &shared.data {
                record_probes(m, &data.health);
                follow_running(m, &data.jobs, fx);
            }
            m.clamp(shared);
            fx.redraw();
        }
        Msg::Update(Update::Health(health)) => {
            record_probes(m, &health);
            fx.redraw();
        }
        Msg::Update(Update::Jobs(jobs)) => {
            follow_running(m, &jobs, fx);
            m.clamp(shared);
            fx.redraw();
        }
        Msg::Update(Update::Dispatch(d)) => {
            if note_dispatch(m, &d, shared) {
                fx.redraw();
            }
        }
        Msg::Update(_) => {}
        Msg::Answer(purpose, answer) => on_answer(m, purpose, answer, shared, fx),
    }
}

/// Keeps a running dispatch (finished ones go); `true` when a job shows it.
fn note_dispatch(m: &mut Monitor, d: &DispatchSummary, shared: &Shared) -> bool {
    let shown = shared
        .data
        .as_ref()
        .is_some_and(|data| data.jobs.iter().any(|j| j.running == Some(d.id)));
    if d.status.is_finished() {
        m.running.remove(&d.id);
    } else {
        // Kept even before the jobs table names it: that update may come later.
        m.running.insert(d.id, d.clone());
    }
    shown
}

/// Forgets dispatches no job runs any more and asks for those it has not seen.
fn follow_running(m: &mut Monitor, jobs: &[JobSummary], fx: &mut Effects<Pending>) {
    let wanted: Vec<DispatchId> = jobs.iter().filter_map(|j| j.running).collect();
    m.running.retain(|id, _| wanted.contains(id));
    for id in wanted {
        if !m.running.contains_key(&id) {
            fx.send(Request::Dispatch { id }, Pending::Running(id));
        }
    }
}

/// Which probes an entry's are: the kind and the name.
pub fn probe_key(h: &HealthEntry) -> (&'static str, String) {
    (format::health_kind(h.kind), h.name.clone())
}

fn record_probes(m: &mut Monitor, health: &[HealthEntry]) {
    for h in health {
        let probes = m.probes.entry(probe_key(h)).or_default();
        let last = probes.seen.back().copied();
        if last.is_some_and(|(at, _, _)| at == h.checked_at) {
            continue; // the same probe again (a snapshot after an update)
        }
        probes.seen.push_back((h.checked_at, h.state, h.latency_ms));
        while probes.seen.len() > PROBES_KEPT {
            probes.seen.pop_front();
        }
    }
    // Things no longer watched (a config reload) go.
    m.probes
        .retain(|key, _| health.iter().any(|h| probe_key(h) == *key));
}

fn on_key(m: &mut Monitor, key: KeyEvent, shared: &Shared, fx: &mut Effects<Pending>) {
    if let Some(modal) = m.modal.take() {
        m.modal = on_modal_key(modal, key, shared, fx);
        fx.redraw();
        return;
    }
    if m.filter.editing {
        if m.filter.on_key(key) != FilterEvent::Ignored {
            m.selected = 0;
            m.clamp(shared);
            fx.redraw();
        }
        return;
    }
    let n = m.visible_jobs(shared).len();
    let before = m.selected;
    match key.code {
        KeyCode::Down | KeyCode::Char('j') => m.selected = step(m.selected, 1, n),
        KeyCode::Up | KeyCode::Char('k') => m.selected = step(m.selected, -1, n),
        KeyCode::PageDown => m.selected = step(m.selected, 10, n),
        KeyCode::PageUp => m.selected = step(m.selected, -10, n),
        KeyCode::Home | KeyCode::Char('g') => m.selected = 0,
        KeyCode::End | KeyCode::Char('G') => m.selected = n.saturating_sub(1),
        KeyCode::Char('/') => {
            m.filter.start();
            fx.redraw();
        }
        KeyCode::Esc if m.filter.is_active() => {
            m.filter.clear();
            m.clamp(shared);
            fx.redraw();
        }
        KeyCode::Char(c @ ('d' | 'e' | 'r')) => {
            let Some(job) = m.selected_job(shared) else {
                fx.failed("no job selected");
                return;
            };
            let job = job.name.clone();
            act(m, c, job, shared, fx);
        }
        _ => {}
    }
    if m.selected != before {
        fx.redraw();
    }
}

/// `d`, `e` or `r` on `job`. An admin gets the form or the question; for
/// anyone else the request goes straight to the daemon, whose refusal
/// ("permission denied: … needs admin") is what the status line shows —
/// the daemon decides, not the console.
fn act(m: &mut Monitor, key: char, job: JobName, shared: &Shared, fx: &mut Effects<Pending>) {
    if !shared.connected() {
        fx.failed("not connected to the daemon");
        return;
    }
    if !shared.is_admin() {
        let (request, purpose) = match key {
            'd' => (
                Request::DisableJob {
                    job: job.clone(),
                    reason: None,
                    until: None,
                },
                Pending::Pause(job),
            ),
            'e' => (
                Request::EnableJob {
                    job: job.clone(),
                    reason: None,
                },
                Pending::Resume(job),
            ),
            _ => (Request::RunJob { job: job.clone() }, Pending::Run(job)),
        };
        fx.send(request, purpose);
        return;
    }
    m.modal = Some(match key {
        'd' => Modal::Pause {
            form: pause_form(&job),
            job,
        },
        'e' => Modal::Resume {
            form: Form::new(format!("Resume {job}"), "resume")
                .intro("The job runs on its schedule again.")
                .field(Field::text(
                    "reason",
                    "Reason",
                    "",
                    "optional: why, for the job's history",
                )),
            job,
        },
        _ => Modal::Confirm {
            dialog: Confirm::new(format!("Run {job} now"), "run now").line(format!(
                "Start a dispatch of {job} now, under its overlap rule."
            )),
            request: Request::RunJob { job: job.clone() },
            purpose: Pending::Run(job),
        },
    });
    fx.redraw();
}

pub fn pause_form(job: &JobName) -> Form {
    Form::new(format!("Pause {job}"), "pause")
        .intro("No dispatch starts while a job is paused.")
        .field(Field::text(
            "reason",
            "Reason",
            "",
            "why: shown to everyone and kept in the job's history",
        ))
        .field(Field::text(
            "until",
            "Until",
            "",
            "empty: until resumed; or 2h, 30m, 1d, or 2026-11-23T10:00:00-03:00",
        ))
}

/// Reads a submitted pause form: the reason and the instant it ends, or
/// the errors set on the form.
pub fn read_pause(form: &mut Form, shared: &Shared) -> Option<(String, Option<WireTime>)> {
    form.clear_errors();
    let reason = form.value("reason").trim().to_string();
    if reason.is_empty() {
        form.set_error("reason", "say why: it is shown to everyone");
    }
    let until_text = form.value("until").trim().to_string();
    let until = if until_text.is_empty() {
        None
    } else {
        match when::instant(&until_text, shared.now, Relative::FromNow) {
            Ok(t) if t <= shared.now => {
                form.set_error("until", "that is not in the future");
                None
            }
            Ok(t) => Some(WireTime::from(t)),
            Err(e) => {
                form.set_error("until", e.to_string());
                None
            }
        }
    };
    (!form.has_errors()).then_some((reason, until))
}

fn on_modal_key(
    modal: Modal,
    key: KeyEvent,
    shared: &Shared,
    fx: &mut Effects<Pending>,
) -> Option<Modal> {
    match modal {
        Modal::Pause { job, mut form } => match form.on_key(key) {
            FormEvent::Cancel => None,
            FormEvent::Submit => match read_pause(&mut form, shared) {
                None => Some(Modal::Pause { job, form }),
                Some((reason, until)) => {
                    let until_line = match until {
                        Some(t) => format!(
                            "until {} (in {}), then it resumes by itself",
                            format::full_instant(t, &shared.tz),
                            format::duration((t.0 - shared.now.as_millisecond()) / 1000)
                        ),
                        None => "until someone resumes it".to_string(),
                    };
                    Some(Modal::Confirm {
                        dialog: Confirm::new(format!("Pause {job}"), "pause")
                            .line(format!("Pause {job}: no dispatch starts {until_line}."))
                            .line(format!("Reason: {reason}")),
                        request: Request::DisableJob {
                            job: job.clone(),
                            reason: Some(reason),
                            until,
                        },
                        purpose: Pending::Pause(job),
                    })
                }
            },
            _ => Some(Modal::Pause { job, form }),
        },
        Modal::Resume { job, mut form } => match form.on_key(key) {
            FormEvent::Cancel => None,
            FormEvent::Submit => {
                let reason = form.value("reason").trim().to_string();
                form.waiting = true;
                fx.working(format!("resuming {job}…"));
                fx.send(
                    Request::EnableJob {
                        job: job.clone(),
                        reason: (!reason.is_empty()).then_some(reason),
                    },
                    Pending::Resume(job.clone()),
                );
                // The answer closes it (or shows the error in it).
                Some(Modal::Resume { job, form })
            }
            _ => Some(Modal::Resume { job, form }),
        },
        Modal::Confirm {
            dialog,
            request,
            purpose,
        } => match dialog.on_key(key) {
            confirm::Answer::No => None,
            confirm::Answer::Yes => {
                fx.working(working_text(&purpose));
                fx.send(request, purpose);
                None
            }
            confirm::Answer::Ignored => Some(Modal::Confirm {
                dialog,
                request,
                purpose,
            }),
        },
    }
}

fn working_text(purpose: &Pending) -> String {
    match purpose {
        Pending::Pause(job) => format!("pausing {job}…"),
        Pending::Resume(job) => format!("resuming {job}…"),
        Pending::Run(job) => format!("starting a dispatch of {job}…"),
        Pending::Running(id) => format!("reading dispatch {id}…"),
    }
}

fn on_answer(
    m: &mut Monitor,
    purpose: Pending,
    answer: Answer,
    shared: &Shared,
    fx: &mut Effects<Pending>,
) {
    // A resume form waits open for its answer.
    let waiting_form = matches!(
        (&m.modal, &purpose),
        (Some(Modal::Resume { job, .. }), Pending::Resume(p)) if job == p
    );
    match (purpose, answer) {
        (Pending::Pause(job), Ok(Response::JobChanged(j))) => {
            let until = match &j.state {
                JobState::Disabled { until: Some(t), .. } => {
                    format!(" until {}", format::full_instant(*t, &shared.tz))
                }
                _ => String::new(),
            };
            fx.done(format!("{job} paused{until}"));
        }
        (Pending::Resume(job), Ok(Response::JobChanged(_))) => {
            if waiting_form {
                m.modal = None;
            }
            fx.done(format!("{job} resumed"));
        }
        (Pending::Run(job), Ok(Response::Run(outcome))) => match outcome {
            RunOutcome::Started(id) => fx.done(format!("{job}: dispatch {id} started")),
            RunOutcome::Queued { behind } => {
                fx.done(format!("{job}: queued behind dispatch {behind}"))
            }
        },
        (Pending::Running(id), Ok(Response::Dispatch(detail))) => {
            if !detail.summary.status.is_finished() {
                m.running.insert(id, detail.summary);
            }
            fx.redraw();
        }
        (Pending::Running(id), Err(e)) => {
            tracing::debug!(dispatch = %id, error = %e, "running dispatch not read");
        }
        (purpose, Err(e)) => {
            let what = match &purpose {
                Pending::Pause(job) => format!("pausing {job}"),
                Pending::Resume(job) => format!("resuming {job}"),
                Pending::Run(job) => format!("running {job}"),
                Pending::Running(id) => format!("dispatch {id}"),
            };
            if waiting_form && let Some(Modal::Resume { form, .. }) = &mut m.modal {
                form.waiting = false;
                form.error = Some(e.message.clone());
            }
            fx.failed(error_text(&what, &e));
        }
        (purpose, Ok(other)) => {
            tracing::warn!(?purpose, answer = ?other, "unexpected answer");
            fx.failed(format!("unexpected answer to {}", working_text(&purpose)));
        }
    }
}

#[cfg(test)]
mod tests;
