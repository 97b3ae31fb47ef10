//! Draws the Dispatches screen: the window's list (or the opened dispatch:
//! its summary, events and class distribution).

use super::{Dispatches, Open};
use crate::screens::Shared;
use crate::ui::format;
use crate::ui::theme::Theme;
use jiff::Zoned;
use mld_shared::protocol::{DispatchDetail, DispatchStatus, DispatchSummary};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    m: &Dispatches,
    shared: &Shared,
    now: &Zoned,
    theme: &Theme,
) {
    match &m.open {
        Some(Open {
            detail: Some(detail),
            ..
        }) => render_detail(frame, area, detail, now, theme),
        Some(Open { id, detail: None }) => frame.render_widget(
            Paragraph::new(vec![Line::from(""), Line::from(" Asking the daemon…")]).block(
                Block::bordered().title(Span::styled(
                    format!(" Dispatch {id} · Esc back "),
                    theme.title(),
                )),
            ),
            area,
        ),
        None => render_list(frame, area, m, shared, now, theme),
    }
}

fn status_style(status: DispatchStatus, theme: &Theme) -> Style {
    match status {
        DispatchStatus::Succeeded => theme.good(),
        DispatchStatus::Created | DispatchStatus::Running => theme.warn(),
        DispatchStatus::Failed | DispatchStatus::Cancelled | DispatchStatus::Interrupted => {
            theme.bad()
        }
    }
}

/// Wall time of a dispatch: finished − started, or so far while it runs.
fn took(d: &DispatchSummary, now: &Zoned) -> String {
    match (d.started_at, d.finished_at) {
        (Some(s), Some(f)) => format_ms(f.0 - s.0),
        (Some(s), None) => format!("{}…", format_ms(now.timestamp().as_millisecond() - s.0)),
        _ => "-".into(),
    }
}

fn format_ms(ms: i64) -> String {
    if ms < 10_000 {
        format!("{:.1}s", ms.max(0) as f64 / 1000.0)
    } else {
        format::duration(ms / 1000)
    }
}

fn render_list(
    frame: &mut Frame,
    area: Rect,
    m: &Dispatches,
    shared: &Shared,
    now: &Zoned,
    theme: &Theme,
) {
    let visible = m.visible();
    let count = if m.filter.is_active() {
        format!("{} of {}", visible.len(), m.list.len())
    } else {
        m.list.len().to_string()
    };
    let title = m.filter.title(
        format!(
            " Dispatches · last {} · {count} ",
            format::duration(m.window.as_secs())
        ),
        theme,
    );
    if m.list.is_empty() {
        let text = if shared.data.is_some() {
            " No dispatch in the last 24 hours. Jobs run on their schedule; `mldctl run JOB` starts one now."
        } else {
            " Waiting for the daemon…"
        };
        frame.render_widget(
            Paragraph::new(vec![Line::from(""), Line::from(text)])
                .block(Block::bordered().title(title)),
            area,
        );
        return;
    }
    let header = Row::new([
        "ID", "JOB", "STATUS", "CREATED", "TOOK", "READ", "WRITTEN", "UNSC.",
    ])
    .style(theme.title());
    let rows: Vec<Row> = visible
        .iter()
        .map(|d| {
            Row::new(vec![
                Cell::from(Line::from(d.id.to_string()).right_aligned()),
                Cell::from(d.job.0.clone()),
                Cell::from(Span::styled(
                    d.status.as_str(),
                    status_style(d.status, theme),
                )),
                Cell::from(format::instant(d.created_at, now)),
                Cell::from(Line::from(took(d, now)).right_aligned()),
                Cell::from(Line::from(d.rows_collected.to_string()).right_aligned()),
                Cell::from(Line::from(d.rows_inserted.to_string()).right_aligned()),
                Cell::from(Line::from(d.rows_unscorable.to_string()).right_aligned()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(5),
    ];
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(2)]).areas(area);
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(Block::bordered().title(title))
        .row_highlight_style(theme.selected_row())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(m.selected));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(d) = visible.get(m.selected) {
        let line1 = format!(
            " #{} {} · {} by {} · model {} v{}",
            d.id,
            d.job.0,
            d.trigger.as_str(),
            d.requested_by,
            d.model,
            if d.model_version.is_empty() {
                "?"
            } else {
                &d.model_version
            }
        );
        let line2 = match (&d.failed_step, &d.error) {
            (Some(step), Some(e)) => format!(" {} at {step}: {e}", d.status.as_str()),
            (None, Some(e)) => format!(" {}: {e}", d.status.as_str()),
            _ => " Enter: events and class distribution".to_string(),
        };
        frame.render_widget(
            Paragraph::new(vec![Line::from(line1), Line::styled(line2, theme.dim())]),
            detail_area,
        );
    }
}

fn render_detail(
    frame: &mut Frame,
    area: Rect,
    detail: &DispatchDetail,
    now: &Zoned,
    theme: &Theme,
) {
    let d = &detail.summary;
    let hash: String = d.model_hash.chars().take(12).collect();
    let mut summary = vec![
        Line::from(vec![
            Span::raw(format!(" {} · ", d.job.0)),
            Span::styled(d.status.as_str(), status_style(d.status, theme)),
            Span::raw(format!(
                " · {} by {} · took {}",
                d.trigger.as_str(),
                d.requested_by,
                took(d, now)
            )),
        ]),
        Line::from(format!(
            " model {} v{} ({hash}) · created {}",
            d.model,
            if d.model_version.is_empty() {
                "?"
            } else {
                &d.model_version
            },
            format::instant(d.created_at, now),
        )),
        Line::from(format!(
            " rows: {} read · {} predicted · {} unscorable · {} stored · {} written",
            d.rows_collected, d.rows_predicted, d.rows_unscorable, d.rows_stored, d.rows_inserted
        )),
    ];
    if let Some(e) = &d.error {
        let step = d
            .failed_step
            .as_deref()
            .map(|s| format!(" at {s}"))
            .unwrap_or_default();
        summary.push(Line::styled(
            format!(" {}{step}: {e}", d.status.as_str()),
            theme.bad(),
        ));
    }
    let summary_height = summary.len() as u16 + 2;
    let [top, bottom] =
        Layout::vertical([Constraint::Length(summary_height), Constraint::Min(4)]).areas(area);
    frame.render_widget(
        Paragraph::new(summary).block(Block::bordered().title(Span::styled(
            format!(" Dispatch {} · Esc back ", d.id),
            theme.title(),
        ))),
        top,
    );
    let [events_area, classes_area] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(bottom);
    let rows: Vec<Row> = detail
        .events
        .iter()
        .map(|e| {
            Row::new(vec![
                Cell::from(format::instant(e.at, now)),
                Cell::from(e.step.clone()),
                Cell::from(
                    Line::from(e.rows.map(|r| r.to_string()).unwrap_or_default()).right_aligned(),
                ),
                Cell::from(e.message.clone().unwrap_or_default()),
            ])
        })
        .collect();
    let events = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["AT", "STEP", "ROWS", "MESSAGE"]).style(theme.title()))
    .block(Block::bordered().title(Span::styled(" Events ", theme.title())));
    frame.render_widget(events, events_area);

    let total: u64 = detail.class_counts.iter().map(|(_, n)| n).sum();
    let bar_width = classes_area.width.saturating_sub(2 + 12 + 8).max(1) as u64;
    let mut lines: Vec<Line> = detail
        .class_counts
        .iter()
        .map(|(label, n)| {
            let bar = if total == 0 {
                0
            } else {
                (n * bar_width).div_ceil(total)
            } as usize;
            let label: String = label.chars().take(11).collect();
            Line::from(format!("{label:<11} {n:>6} {}", "█".repeat(bar)))
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("no predictions stored", theme.dim()));
    }
    if !detail.unscorable.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::styled("unscorable:", theme.title()));
        for u in &detail.unscorable {
            lines.push(Line::from(format!("{}: {}", u.row_key, u.reason)));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(Span::styled(" Classes ", theme.title()))),
        classes_area,
    );
}
