//! The Monitor screen: the health table (servers, datalakes, the event log)
//! and the jobs table with the selected job's details underneath.

use super::format;
use super::theme::Theme;
use crate::app::{App, Connection};
use jiff::Zoned;
use mld_shared::protocol::{HealthEntry, JobState, JobSummary, Snapshot};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

pub fn render(frame: &mut Frame, area: Rect, app: &App, now: &Zoned, theme: &Theme) {
    let Some(data) = &app.data else {
        let text = match app.connection {
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
    // Health gets its rows (at least one, for the "nothing watched" line),
    // jobs get the rest, but never fewer than 8 lines.
    let message_width = area.width.saturating_sub(2 + HEALTH_FIXED_WIDTH).max(8) as usize;
    let messages: Vec<Vec<String>> = data
        .health
        .iter()
        .map(|h| wrap(h.message.as_deref().unwrap_or(""), message_width, 2))
        .collect();
    let health_lines: u16 = messages
        .iter()
        .map(|m| m.len().max(1) as u16)
        .sum::<u16>()
        .max(1);
    let [health_area, jobs_area] =
        Layout::vertical([Constraint::Max(health_lines + 3), Constraint::Min(8)]).areas(area);
    render_health(frame, health_area, data, &messages, app, now, theme);
    render_jobs(frame, jobs_area, data, app.selected_job, now, theme);
}

fn stale(app: &App) -> &'static str {
    match app.connection {
        Connection::Connected => "",
        _ => " (last known)",
    }
}

/// Widths of the health table's columns before MESSAGE, with their gaps.
const HEALTH_WIDTHS: [u16; 5] = [8, 12, 20, 7, 8];
const HEALTH_FIXED_WIDTH: u16 = 8 + 12 + 20 + 7 + 8 + 5;

fn render_health(
    frame: &mut Frame,
    area: Rect,
    data: &Snapshot,
    messages: &[Vec<String>],
    app: &App,
    now: &Zoned,
    theme: &Theme,
) {
    let checked = data.health.iter().filter_map(|h| h.checked_at).max();
    let title = match checked {
        Some(at) => format!(
            " Health · checked {}{} ",
            format::instant(at, now),
            stale(app)
        ),
        None => format!(" Health{} ", stale(app)),
    };
    let header =
        Row::new(["KIND", "NAME", "TARGET", "STATE", "LATENCY", "MESSAGE"]).style(theme.title());
    let rows: Vec<Row> = if data.health.is_empty() {
        vec![Row::new(["", "nothing is watched", "", "", "", ""])]
    } else {
        data.health
            .iter()
            .zip(messages)
            .map(|(h, m)| health_row(h, m, theme))
            .collect()
    };
    let mut widths: Vec<Constraint> = HEALTH_WIDTHS
        .iter()
        .map(|w| Constraint::Length(*w))
        .collect();
    widths.push(Constraint::Fill(1));
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(Span::styled(title, theme.title())));
    frame.render_widget(table, area);
}

fn health_row<'a>(h: &'a HealthEntry, message: &[String], theme: &Theme) -> Row<'a> {
    let height = message.len().max(1) as u16;
    let message: Vec<Line> = message.iter().map(|l| Line::from(l.clone())).collect();
    Row::new(vec![
        Cell::from(format::health_kind(h.kind)),
        Cell::from(fit(&h.name, HEALTH_WIDTHS[1] as usize)),
        Cell::from(fit(&h.target, HEALTH_WIDTHS[2] as usize)),
        Cell::from(Span::styled(h.state.as_str(), theme.health(h.state))),
        Cell::from(Line::from(format::latency(h.latency_ms)).right_aligned()),
        Cell::from(Text::from(message)),
    ])
    .height(height)
}

/// `text` cut to `width` characters with `…` marking the cut. A path keeps
/// its end (the file name says more than the first folders), anything else
/// its start.
fn fit(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len <= width || width == 0 {
        return text.to_string();
    }
    if text.starts_with('/') {
        let tail: String = text.chars().skip(len - (width - 1)).collect();
        format!("…{tail}")
    } else {
        let head: String = text.chars().take(width - 1).collect();
        format!("{head}…")
    }
}

/// Splits `text` into at most `max_lines` lines of at most `width`
/// characters, at spaces where it can; a cut-off end is marked with `…`.
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word = word;
        loop {
            let used = current.chars().count();
            let sep = usize::from(used > 0);
            let len = word.chars().count();
            if used + sep + len <= width {
                if sep == 1 {
                    current.push(' ');
                }
                current.push_str(word);
                break;
            }
            if used == 0 {
                // A word longer than the line: cut it.
                let cut: String = word.chars().take(width).collect();
                word = &word[cut.len()..];
                lines.push(cut);
            } else {
                lines.push(std::mem::take(&mut current));
            }
            if word.is_empty() {
                break;
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = &mut lines[max_lines - 1];
        let keep: String = last.chars().take(width.saturating_sub(1)).collect();
        *last = format!("{keep}…");
    }
    lines
}

fn render_jobs(
    frame: &mut Frame,
    area: Rect,
    data: &Snapshot,
    selected: usize,
    now: &Zoned,
    theme: &Theme,
) {
    let block = Block::bordered().title(Span::styled(
        format!(" Jobs · {} configured ", data.jobs.len()),
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(2)]).areas(inner);
    let header = Row::new(["NAME", "STATE", "SCHEDULE", "LAST", "NEXT"]).style(theme.title());
    let rows: Vec<Row> = if data.jobs.is_empty() {
        vec![Row::new(["no jobs configured", "", "", "", ""])]
    } else {
        data.jobs.iter().map(|j| job_row(j, now, theme)).collect()
    };
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(8),
            Constraint::Length(14),
            Constraint::Length(11),
            Constraint::Length(11),
        ],
    )
    .header(header)
    .row_highlight_style(theme.selected_row())
    .highlight_symbol("> ");
    let mut state =
        TableState::default().with_selected((!data.jobs.is_empty()).then_some(selected));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(job) = data.jobs.get(selected) {
        frame.render_widget(Paragraph::new(job_detail(job, now, theme)), detail_area);
    }
}

fn job_row<'a>(j: &'a JobSummary, now: &Zoned, theme: &Theme) -> Row<'a> {
    let when = |t: Option<mld_shared::time::WireTime>| {
        t.map_or_else(|| "-".to_string(), |t| format::instant(t, now))
    };
    Row::new(vec![
        Line::from(j.name.0.as_str()),
        Line::from(Span::styled(j.state.label(), theme.job(&j.state))),
        Line::from(j.schedule.as_str()),
        Line::from(when(j.last_dispatch)),
        Line::from(when(j.next_dispatch)),
    ])
}

/// Two lines about the selected job: what it runs, and why it is not
/// active when it is not.
fn job_detail<'a>(j: &'a JobSummary, now: &Zoned, theme: &Theme) -> Vec<Line<'a>> {
    let first = Line::from(vec![
        Span::styled(format!(" {}", j.name), theme.title()),
        Span::raw(format!(
            ": model {} · datalake {} · {}",
            j.model, j.datalake, j.timezone
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
                text.push_str(&format!(" · until {}", format::instant(*until, now)));
            }
            Line::from(Span::styled(text, theme.warn()))
        }
        JobState::Invalid { reason } => {
            Line::from(Span::styled(format!(" invalid: {reason}"), theme.bad()))
        }
    };
    vec![first, second]
}

#[cfg(test)]
mod tests {
    use super::{fit, wrap};

    #[test]
    fn fit_keeps_the_end_of_paths_and_the_start_of_the_rest() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("/tmp/demo/state/events.db", 12), "…e/events.db");
        assert_eq!(fit("db.example.com:5432 (tls)", 12), "db.example.…");
    }

    #[test]
    fn wrap_breaks_at_spaces_cuts_long_words_and_marks_the_cut() {
        assert_eq!(wrap("", 10, 2), Vec::<String>::new());
        assert_eq!(wrap("database is locked", 10, 2), ["database", "is locked"]);
        assert_eq!(wrap("abcdefghijkl", 5, 3), ["abcde", "fghij", "kl"]);
        assert_eq!(wrap("one two three four five", 7, 2), ["one two", "three…"]);
    }
}
