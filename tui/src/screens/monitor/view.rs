//! Draws the Monitor: the health table (with each thing's latency over its
//! last probes, and a recent change of state called out), the jobs table
//! (countdown to the next dispatch, live rows of a running one), the
//! selected job's details, and the open form or dialog on top.

use super::{Modal, Monitor, Probes};
use crate::app::Connection;
use crate::screens::Shared;
use crate::ui::format::{self, fit, wrap};
use crate::ui::theme::Theme;
use crate::widgets::{confirm, form};
use jiff::Zoned;
use mld_shared::protocol::{HealthEntry, HealthState, JobState, JobSummary, Snapshot};
use mld_shared::time::WireTime;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    m: &Monitor,
    shared: &Shared,
    now: &Zoned,
    theme: &Theme,
) {
    let Some(data) = &shared.data else {
        let text = match shared.connection {
            Connection::Connected | Connection::Connecting { before: None } => {
                " Waiting for the daemon's first snapshot…"
            }
            _ => " No data: the daemon has not answered yet. Keys still work; ? shows them.",
        };
        frame.render_widget(
            Paragraph::new(vec![Line::from(""), Line::from(text)])
                .block(Block::bordered().title(" Monitor ")),
            area,
        );
        return;
    };
    let health = HealthLayout::for_width(area.width);
    let message_width = area.width.saturating_sub(2 + health.fixed_width()).max(8) as usize;
    let messages: Vec<Vec<String>> = data
        .health
        .iter()
        .map(|h| {
            let probes = m.probes.get(&super::probe_key(h));
            wrap(&message(h, probes, now), message_width, 2)
        })
        .collect();
    let health_lines: u16 = messages
        .iter()
        .map(|m| m.len().max(1) as u16)
        .sum::<u16>()
        .max(1);
    // Health gets its rows, jobs the rest, but never fewer than 9 lines.
    let [health_area, jobs_area] =
        Layout::vertical([Constraint::Max(health_lines + 3), Constraint::Min(9)]).areas(area);
    render_health(
        frame,
        health_area,
        data,
        &messages,
        m,
        shared,
        &health,
        now,
        theme,
    );
    render_jobs(frame, jobs_area, data, m, shared, now, theme);
    match &m.modal {
        Some(Modal::Pause { form, .. } | Modal::Resume { form, .. }) => {
            form::render(frame, area, form, theme)
        }
        Some(Modal::Confirm { dialog, .. }) => confirm::render(frame, area, dialog, theme),
        None => {}
    }
}

fn stale(shared: &Shared) -> &'static str {
    match shared.connection {
        Connection::Connected => "",
        _ => " (last known)",
    }
}

/// The health table's columns before MESSAGE: TARGET only where it fits.
struct HealthLayout {
    target: bool,
}

const SPARK_WIDTH: u16 = 12;

impl HealthLayout {
    fn for_width(width: u16) -> HealthLayout {
        HealthLayout {
            target: width >= 110,
        }
    }

    fn headers(&self) -> Vec<&'static str> {
        let mut h = vec!["KIND", "NAME"];
        if self.target {
            h.push("TARGET");
        }
        h.extend(["STATE", "LATENCY", "LAST PROBES", "MESSAGE"]);
        h
    }

    fn widths(&self) -> Vec<u16> {
        let mut w = vec![8, 14];
        if self.target {
            w.push(24);
        }
        w.extend([7, 8, SPARK_WIDTH]);
        w
    }

    fn fixed_width(&self) -> u16 {
        let w = self.widths();
        w.iter().sum::<u16>() + w.len() as u16
    }
}

/// The message column: the probe's own message, after the change of state
/// when there was one lately.
fn message(h: &HealthEntry, probes: Option<&Probes>, now: &Zoned) -> String {
    let own = h.message.clone().unwrap_or_default();
    match probes.and_then(Probes::last_change) {
        Some((before, at)) => {
            let since = at.map_or_else(String::new, |t| {
                format!("since {}, ", format::instant(t, now))
            });
            let sep = if own.is_empty() { "" } else { ": " };
            format!("{since}was {}{sep}{own}", before.as_str())
        }
        None => own,
    }
}

#[allow(clippy::too_many_arguments)]
fn render_health(
    frame: &mut Frame,
    area: Rect,
    data: &Snapshot,
    messages: &[Vec<String>],
    m: &Monitor,
    shared: &Shared,
    layout: &HealthLayout,
    now: &Zoned,
    theme: &Theme,
) {
    let checked = data.health.iter().filter_map(|h| h.checked_at).max();
    let title = match checked {
        Some(at) => format!(
            " Health · checked {}{} ",
            format::instant(at, now),
            stale(shared)
        ),
        None => format!(" Health{} ", stale(shared)),
    };
    let header = Row::new(layout.headers()).style(theme.title());
    let rows: Vec<Row> = if data.health.is_empty() {
        vec![Row::new(["", "nothing is watched"])]
    } else {
        data.health
            .iter()
            .zip(messages)
            .map(|(h, msg)| {
                let probes = m.probes.get(&super::probe_key(h));
                health_row(h, probes, msg, layout, theme)
            })
            .collect()
    };
    let mut widths: Vec<Constraint> = layout
        .widths()
        .into_iter()
        .map(Constraint::Length)
        .collect();
    widths.push(Constraint::Fill(1));
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(Span::styled(title, theme.title())));
    frame.render_widget(table, area);
}

fn health_row<'a>(
    h: &'a HealthEntry,
    probes: Option<&Probes>,
    message: &[String],
    layout: &HealthLayout,
    theme: &Theme,
) -> Row<'a> {
    let height = message.len().max(1) as u16;
    let changed = probes.and_then(Probes::last_change).is_some();
    let message_style = if changed {
        theme.changed()
    } else {
        ratatui::style::Style::new()
    };
    let message: Vec<Line> = message
        .iter()
        .map(|l| Line::styled(l.clone(), message_style))
        .collect();
    let widths = layout.widths();
    let mut cells = vec![
        Cell::from(format::health_kind(h.kind)),
        Cell::from(fit(&h.name, widths[1] as usize)),
    ];
    if layout.target {
        cells.push(Cell::from(fit(&h.target, widths[2] as usize)));
    }
    let state_style = if changed {
        theme.health(h.state).patch(theme.changed())
    } else {
        theme.health(h.state)
    };
    cells.extend([
        Cell::from(Span::styled(h.state.as_str(), state_style)),
        Cell::from(Line::from(format::latency(h.latency_ms)).right_aligned()),
        Cell::from(Span::styled(
            probes.map_or_else(String::new, |p| sparkline(p, SPARK_WIDTH as usize)),
            theme.good(),
        )),
        Cell::from(Text::from(message)),
    ]);
    Row::new(cells).height(height)
}

/// The last `width` probes, one character each: latency as a bar scaled to
/// the slowest of them, `×` for a probe that failed, `?` before the first.
pub fn sparkline(p: &Probes, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let shown: Vec<_> = p.seen.iter().rev().take(width).rev().collect();
    let max = shown
        .iter()
        .filter_map(|(_, _, l)| *l)
        .fold(0.0_f64, f64::max);
    shown
        .iter()
        .map(|(_, state, latency)| match (state, latency) {
            (HealthState::Online, Some(l)) if max > 0.0 => {
                let level = ((l / max) * 8.0).ceil() as usize;
                BARS[level.clamp(1, 8) - 1]
            }
            (HealthState::Online, _) => BARS[0],
            (HealthState::Unknown, _) => '?',
            (HealthState::Offline | HealthState::Error, _) => '×',
        })
        .collect()
}

fn render_jobs(
    frame: &mut Frame,
    area: Rect,
    data: &Snapshot,
    m: &Monitor,
    shared: &Shared,
    now: &Zoned,
    theme: &Theme,
) {
    let jobs = m.visible_jobs(shared);
    let count = if m.filter.is_active() {
        format!(" Jobs · {} of {} ", jobs.len(), data.jobs.len())
    } else {
        format!(" Jobs · {} configured ", data.jobs.len())
    };
    let block = Block::bordered().title(m.filter.title(count, theme));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(3)]).areas(inner);
    let wide = area.width >= 120;
    let mut header = vec!["NAME", "STATE", "SCHEDULE", "LAST / NOW", "NEXT"];
    let mut widths = vec![
        Constraint::Fill(1),
        Constraint::Length(8),
        Constraint::Length(14),
        Constraint::Length(13),
        Constraint::Length(11),
    ];
    if wide {
        header.extend(["NEXT AT", "MODEL"]);
        widths.extend([Constraint::Length(11), Constraint::Length(16)]);
    }
    let rows: Vec<Row> = if jobs.is_empty() {
        let text = if data.jobs.is_empty() {
            "no jobs configured"
        } else {
            "no job matches the filter (Esc clears it)"
        };
        vec![Row::new([text])]
    } else {
        jobs.iter()
            .map(|j| job_row(j, m, wide, now, theme))
            .collect()
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title()))
        .row_highlight_style(theme.selected_row())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected((!jobs.is_empty()).then_some(m.selected));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(job) = jobs.get(m.selected) {
        frame.render_widget(Paragraph::new(job_detail(job, m, now, theme)), detail_area);
    }
}

/// `in 45s`, `in 3h 04m`; `due` once the instant has passed.
pub fn countdown(at: WireTime, now: &Zoned) -> String {
    let secs = format::seconds_until(at.to_timestamp(), now);
    if secs == 0 {
        "due".to_string()
    } else {
        format!("in {}", format::duration(secs))
    }
}

fn job_row<'a>(j: &'a JobSummary, m: &Monitor, wide: bool, now: &Zoned, theme: &Theme) -> Row<'a> {
    let when = |t: Option<WireTime>| t.map_or_else(|| "-".to_string(), |t| format::instant(t, now));
    let last = match j.running {
        Some(id) => match m.running.get(&id) {
            Some(d) => Span::styled(
                format!("▶ {} rows", format::count(d.rows_collected)),
                theme.warn(),
            ),
            None => Span::styled(format!("▶ #{id}"), theme.warn()),
        },
        None => Span::raw(when(j.last_dispatch)),
    };
    let next = match (&j.state, j.next_dispatch) {
        (_, Some(t)) => countdown(t, now),
        (JobState::Disabled { .. }, None) => "paused".to_string(),
        (_, None) => "-".to_string(),
    };
    let mut cells = vec![
        Line::from(j.name.0.as_str()),
        Line::from(Span::styled(j.state.label(), theme.job(&j.state))),
        Line::from(j.schedule.as_str()),
        Line::from(last),
        Line::from(next),
    ];
    if wide {
        cells.push(Line::from(when(j.next_dispatch)));
        cells.push(Line::from(j.model.as_str()));
    }
    Row::new(cells)
}

/// Three lines about the selected job: what it runs; why it is not active
/// when it is not; what it is doing or does next.
fn job_detail<'a>(j: &'a JobSummary, m: &Monitor, now: &Zoned, theme: &Theme) -> Vec<Line<'a>> {
    let first = Line::from(vec![
        Span::styled(format!(" {}", j.name), theme.title()),
        Span::raw(format!(
            ": model {} · datalake {} · {} · overlap {}",
            j.model, j.datalake, j.timezone, j.overlap
        )),
    ]);
    let second = match &j.state {
        JobState::Active => Line::from(Span::styled(" active: runs on schedule", theme.dim())),
        JobState::Disabled {
            by,
            at,
            reason,
            until,
        } => {
            let mut text = format!(" disabled by {by} at {}", format::instant(*at, now));
            if let Some(reason) = reason {
                text.push_str(&format!(": {reason}"));
            }
            if let Some(until) = until {
                text.push_str(&format!(
                    " · until {} ({})",
                    format::instant(*until, now),
                    countdown(*until, now)
                ));
            }
            Line::from(Span::styled(text, theme.warn()))
        }
        JobState::Invalid { reason } => {
            Line::from(Span::styled(format!(" invalid: {reason}"), theme.bad()))
        }
    };
    let third = match j.running {
        Some(id) => match m.running.get(&id) {
            Some(d) => {
                let took = d
                    .started_at
                    .map(|s| format!(" · {}", format::duration(format::seconds_since(s, now))))
                    .unwrap_or_default();
                Line::from(Span::styled(
                    format!(
                        " running dispatch {id}: {} read · {} predicted · {} stored{took}",
                        format::count(d.rows_collected),
                        format::count(d.rows_predicted),
                        format::count(d.rows_stored),
                    ),
                    theme.warn(),
                ))
            }
            None => Line::styled(format!(" running dispatch {id}"), theme.warn()),
        },
        None => match j.next_dispatch {
            Some(t) => Line::from(format!(
                " next dispatch {} ({})",
                format::instant(t, now),
                countdown(t, now)
            )),
            None => Line::from(""),
        },
    };
    vec![first, second, third]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn sparkline_scales_to_the_slowest_probe_and_marks_failures() {
        let p = |v: &[(HealthState, Option<f64>)]| Probes {
            seen: v
                .iter()
                .map(|(s, l)| (None, *s, *l))
                .collect::<VecDeque<_>>(),
        };
        let on = HealthState::Online;
        let probes = p(&[
            (HealthState::Unknown, None),
            (on, Some(1.0)),
            (on, Some(8.0)),
            (HealthState::Offline, None),
            (on, Some(4.0)),
        ]);
        assert_eq!(sparkline(&probes, 10), "?▁█×▄");
        assert_eq!(
            sparkline(&probes, 2),
            "×█",
            "only the last probes, scaled among themselves"
        );
    }
}
