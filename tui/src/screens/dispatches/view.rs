//! Draws the Dispatches screen: the window's list with a gauge for running
//! dispatches and a chart of rows scored and time taken across the window;
//! or the opened dispatch: its summary (the pinned model version and hash),
//! a page of predictions, the class distribution (a regressor's: a histogram
//! of its predicted values) and the events.

use super::{Dispatches, Modal, Open, progress};
use crate::cmd::showroom::value_text;
use crate::screens::Shared;
use crate::ui::format;
use crate::ui::theme::Theme;
use crate::widgets::{confirm, form};
use jiff::Zoned;
use mld_shared::protocol::{
    DispatchDetail, DispatchStatus, DispatchSummary, PredictionPage, ShardInfo, ValueHistogram,
};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table, TableState};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    m: &Dispatches,
    shared: &Shared,
    now: &Zoned,
    theme: &Theme,
) {
    match &m.open {
        Some(open) => render_open(frame, area, m, open, now, theme),
        None => render_list(frame, area, m, shared, now, theme),
    }
    match &m.modal {
        Some(Modal::Window(f)) => form::render(frame, area, f, theme),
        Some(Modal::Cancel { dialog, .. }) => confirm::render(frame, area, dialog, theme),
        None => {}
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

/// Wall time of a dispatch in ms: finished − started, or so far while it runs.
fn took_ms(d: &DispatchSummary, now: &Zoned) -> Option<i64> {
    match (d.started_at, d.finished_at) {
        (Some(s), Some(f)) => Some(f.0 - s.0),
        (Some(s), None) => Some(now.timestamp().as_millisecond() - s.0),
        _ => None,
    }
}

fn took(d: &DispatchSummary, now: &Zoned) -> String {
    match took_ms(d, now) {
        Some(ms) if d.finished_at.is_none() => format!("{}…", format_ms(ms)),
        Some(ms) => format_ms(ms),
        None => "-".into(),
    }
}

fn format_ms(ms: i64) -> String {
    if ms < 10_000 {
        format!("{:.1}s", ms.max(0) as f64 / 1000.0)
    } else {
        format::duration(ms / 1000)
    }
}

/// `reading 1,234 of ~2,000 rows ████░░ 62%`, or without a total when
/// there is nothing to estimate it from.
fn progress_line(d: &DispatchSummary, list: &[DispatchSummary], width: usize) -> Option<String> {
    let p = progress(d, list)?;
    let tilde = if p.estimated { "~" } else { "" };
    Some(match (p.of, p.fraction()) {
        (Some(of), Some(f)) => {
            let text = format!(
                " {} {} of {tilde}{} rows ",
                p.phase,
                format::count(p.done),
                format::count(of)
            );
            let bar = width.saturating_sub(text.chars().count() + 6).clamp(4, 40);
            format!("{text}{} {:>3.0}%", format::gauge(f, bar), f * 100.0)
        }
        _ => format!(" {} {} rows so far", p.phase, format::count(p.done)),
    })
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
    let listed = if m.list.len() >= super::LIST_LIMIT as usize {
        // The daemon gave as many as asked: older ones exist but are not here.
        format!(
            "newest {}, narrow the window for older",
            format::count(m.list.len() as u64)
        )
    } else {
        m.list.len().to_string()
    };
    let count = if m.filter.is_active() {
        format!("{} of {listed}", visible.len())
    } else {
        listed
    };
    let title = m.filter.title(
        format!(" Dispatches · {} · {count} ", m.window.describe(now)),
        theme,
    );
    if visible.is_empty() {
        let text = if shared.data.is_none() || !m.loaded {
            " Asking the daemon…".to_string()
        } else if m.filter.is_active() {
            " No dispatch matches the filter (Esc clears it).".to_string()
        } else {
            format!(
                " No dispatch {}. Jobs run on their schedule; r on the Monitor runs one now, \
                 w here edits the window.",
                if m.window.live() {
                    format!("in the {}", m.window.describe(now))
                } else {
                    format!("from {}", m.window.describe(now))
                }
            )
        };
        frame.render_widget(
            Paragraph::new(vec![Line::from(""), Line::from(text)])
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(Block::bordered().title(title)),
            area,
        );
        return;
    }
    let chart_height = match area.height {
        0..14 => 0,
        14..30 => 4,
        _ => 10,
    };
    let [table_area, detail_area, chart_area] = Layout::vertical([
        Constraint::Min(4),
        Constraint::Length(2),
        Constraint::Length(chart_height),
    ])
    .areas(area);
    let header = Row::new([
        "ID", "JOB", "STATUS", "CREATED", "TOOK", "READ", "WRITTEN", "UNSC.",
    ])
    .style(theme.title());
    // Only the rows that fit are built: a window may hold a thousand.
    let height = table_area.height.saturating_sub(3) as usize;
    let start = m.selected.saturating_sub(height.saturating_sub(1));
    let rows: Vec<Row> = visible
        .iter()
        .skip(start)
        .take(height.max(1))
        .map(|d| {
            let status = match progress(d, &m.list).and_then(|p| p.fraction()) {
                Some(f) => format!("{} {:.0}%", d.status.as_str(), f * 100.0),
                None => d.status.as_str().to_string(),
            };
            Row::new(vec![
                Cell::from(Line::from(d.id.to_string()).right_aligned()),
                Cell::from(d.job.0.as_str()),
                Cell::from(Span::styled(status, status_style(d.status, theme))),
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
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(Block::bordered().title(title))
        .row_highlight_style(theme.selected_row())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(m.selected - start));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(d) = visible.get(m.selected) {
        let line1 = format!(
            " #{} {} · {} by {} · model {} v{}",
            d.id,
            d.job.0,
            d.trigger.as_str(),
            d.requested_by,
            d.model,
            version(d)
        );
        let line2 = match (&d.failed_step, &d.error) {
            (Some(step), Some(e)) => Line::styled(
                format!(" {} at {step}: {e}", d.status.as_str()),
                theme.bad(),
            ),
            (None, Some(e)) => Line::styled(format!(" {}: {e}", d.status.as_str()), theme.bad()),
            _ => match progress_line(d, &m.list, area.width as usize) {
                Some(p) => Line::styled(p, theme.warn()),
                None => Line::styled(" Enter: its events, predictions and classes", theme.dim()),
            },
        };
        frame.render_widget(Paragraph::new(vec![Line::from(line1), line2]), detail_area);
    }
    if chart_height > 0 {
        render_chart(frame, chart_area, m, &visible, now, theme);
    }
}

fn version(d: &DispatchSummary) -> &str {
    if d.model_version.is_empty() {
        "?"
    } else {
        &d.model_version
    }
}

/// Rows scored and time taken, summed (rows) and the longest (time) per
/// slice of the window, oldest on the left.
fn render_chart(
    frame: &mut Frame,
    area: Rect,
    m: &Dispatches,
    visible: &[&DispatchSummary],
    now: &Zoned,
    theme: &Theme,
) {
    let (from, to) = m.window.resolve(now.timestamp());
    let from_ms = from.as_millisecond();
    // A live window's newest dispatch may be a moment after "now".
    let to_ms = visible
        .iter()
        .map(|d| d.created_at.0 + 1)
        .fold(to.as_millisecond(), i64::max);
    let block = Block::bordered()
        .title(Span::styled(
            " Rows scored · time taken, across the window ",
            theme.title(),
        ))
        .title_bottom(format!(
            " {} … {} ",
            format::instant(from.into(), now),
            format::instant(mld_shared::time::WireTime(to_ms), now)
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    const LABEL: u16 = 15;
    let columns = inner.width.saturating_sub(LABEL).max(1) as usize;
    let span = (to_ms - from_ms).max(1);
    let mut rows = vec![0u64; columns];
    let mut took = vec![0u64; columns];
    for d in visible {
        let at = d.created_at.0.clamp(from_ms, to_ms - 1);
        let column = (((at - from_ms) as i128 * columns as i128) / span as i128) as usize;
        let column = column.min(columns - 1);
        rows[column] += d.rows_predicted;
        if let Some(ms) = took_ms(d, now) {
            took[column] = took[column].max(ms.max(0) as u64);
        }
    }
    let max_rows = rows.iter().copied().max().unwrap_or(0);
    let max_took = took.iter().copied().max().unwrap_or(0);
    let [rows_area, took_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(inner);
    for (area, label, data, style) in [
        (
            rows_area,
            format!(" rows {:>9}", format::count(max_rows)),
            rows,
            theme.good(),
        ),
        (
            took_area,
            format!(" took {:>9}", format_ms(max_took as i64)),
            took,
            theme.warn(),
        ),
    ] {
        let [label_area, spark_area] =
            Layout::horizontal([Constraint::Length(LABEL), Constraint::Fill(1)]).areas(area);
        frame.render_widget(Paragraph::new(label), label_area);
        frame.render_widget(Sparkline::default().data(&data).style(style), spark_area);
    }
}

fn render_open(
    frame: &mut Frame,
    area: Rect,
    m: &Dispatches,
    open: &Open,
    now: &Zoned,
    theme: &Theme,
) {
    let Some(detail) = &open.detail else {
        frame.render_widget(
            Paragraph::new(vec![Line::from(""), Line::from(" Asking the daemon…")]).block(
                Block::bordered().title(Span::styled(
                    format!(" Dispatch {} · Esc back ", open.id),
                    theme.title(),
                )),
            ),
            area,
        );
        return;
    };
    let summary = summary_lines(detail, &m.list, area.width, now, theme);
    let [top, bottom] = Layout::vertical([
        Constraint::Length(summary.len() as u16 + 2),
        Constraint::Min(4),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(summary).block(Block::bordered().title(Span::styled(
            format!(" Dispatch {} · Esc back ", detail.summary.id),
            theme.title(),
        ))),
        top,
    );
    let [predictions_area, side] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    render_predictions(frame, predictions_area, open, theme);
    // A sharded dispatch shows its shards first (while it runs, they are
    // what moves); the classes and the events share what is left.
    let side = if open.shards.is_empty() {
        side
    } else {
        let height = (open.shards.len() as u16 + 2).min(side.height.saturating_sub(6).max(3));
        let [shards_area, rest] =
            Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(side);
        render_shards(frame, shards_area, &open.shards, theme);
        rest
    };
    // The classes (or values) and the first unscorable rows, and the events
    // with their notes wrapped: both whole when they fit; otherwise the
    // classes keep what they need and the events at least 8 rows.
    let width = side.width.saturating_sub(2) as usize;
    let events = event_lines(detail, side.width as usize, now, theme);
    let events_need = events.iter().map(Vec::len).sum::<usize>() as u16 + 1;
    // A regressor's dispatch shows its predicted values in bins; a classifier's, its classes.
    let title = match &detail.values {
        Some(_) => " Predicted values ",
        None => " Classes ",
    };
    let side_lines = |height: u16| match &detail.values {
        Some(h) => value_lines(detail, h, width, height.saturating_sub(2) as usize, theme),
        None => class_lines(detail, width, theme),
    };
    let classes_need = side_lines(side.height).len() as u16 + 2;
    let floor = events_need.min(side.height.saturating_sub(5)).min(8);
    let events_height = events_need
        .min(side.height.saturating_sub(classes_need))
        .max(floor)
        .max(2);
    let [classes_area, events_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(events_height)]).areas(side);
    frame.render_widget(
        Paragraph::new(side_lines(classes_area.height))
            .block(Block::bordered().title(Span::styled(title, theme.title()))),
        classes_area,
    );
    render_events(frame, events_area, events, theme);
}

/// One line per shard: `3 running node-7 · 25,000 rows · attempt 2`; when
/// they do not all fit, those not done come first (they are what to watch).
fn render_shards(frame: &mut Frame, area: Rect, shards: &[ShardInfo], theme: &Theme) {
    let done = shards.iter().filter(|s| s.state == "done").count();
    let mut order: Vec<&ShardInfo> = shards.iter().collect();
    if shards.len() > area.height.saturating_sub(2) as usize {
        order.sort_by_key(|s| (s.state == "done", s.shard));
    }
    let lines: Vec<Line> = order
        .into_iter()
        .map(|s| {
            let mut spans = vec![
                Span::styled(format!("{:>3} ", s.shard), theme.dim()),
                Span::styled(format!("{:<9}", s.state), theme.title()),
                Span::raw(s.node.clone().unwrap_or_else(|| "-".into())),
            ];
            if s.state == "done" {
                spans.push(Span::raw(format!(
                    " · {} rows",
                    format::count(s.rows_predicted)
                )));
            }
            if s.attempt > 0 {
                spans.push(Span::styled(
                    format!(" · attempt {}", s.attempt + 1),
                    theme.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(Span::styled(
            format!(" Shards · {done} of {} done ", shards.len()),
            theme.title(),
        ))),
        area,
    );
}

fn summary_lines<'a>(
    detail: &'a DispatchDetail,
    list: &[DispatchSummary],
    width: u16,
    now: &Zoned,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let d = &detail.summary;
    // The whole hash where it fits: it names the exact artifact that scored.
    let room = (width as usize).saturating_sub(2 + 40 + d.model.len());
    let hash = if d.model_hash.chars().count() <= room {
        d.model_hash.clone()
    } else {
        let cut: String = d.model_hash.chars().take(room.max(12)).collect();
        format!("{cut}…")
    };
    let mut lines = vec![
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
            " model {} v{} · hash {hash} · created {}",
            d.model,
            version(d),
            format::instant(d.created_at, now),
        )),
        Line::from(format!(
            " rows {} read · {} predicted · {} unscorable · {} stored · {} written",
            format::count(d.rows_collected),
            format::count(d.rows_predicted),
            format::count(d.rows_unscorable),
            format::count(d.rows_stored),
            format::count(d.rows_inserted)
        )),
    ];
    if let Some(e) = &d.error {
        let step = d
            .failed_step
            .as_deref()
            .map(|s| format!(" at {s}"))
            .unwrap_or_default();
        lines.push(Line::styled(
            format!(" {}{step}: {e}", d.status.as_str()),
            theme.bad(),
        ));
    } else if let Some(p) = progress_line(d, list, width as usize - 2) {
        lines.push(Line::styled(p, theme.warn()));
    }
    lines
}

fn render_predictions(frame: &mut Frame, area: Rect, open: &Open, theme: &Theme) {
    let title = match &open.page {
        Some(PredictionPage { total, rows, .. }) if !rows.is_empty() => format!(
            " Predictions {}–{} of {} ",
            format::count(open.first_row + 1),
            format::count(open.first_row + rows.len() as u64),
            format::count(*total)
        ),
        Some(_) => " Predictions · none ".to_string(),
        None => " Predictions · asking… ".to_string(),
    };
    let block = Block::bordered().title(open.search.title(title, theme));
    let Some(page) = &open.page else {
        frame.render_widget(block, area);
        return;
    };
    if page.rows.is_empty() {
        let text = if open.search.is_active() {
            " No row key matches the search (Esc clears it)."
        } else {
            " No predictions stored (none scored, or pruned by retention)."
        };
        frame.render_widget(
            Paragraph::new(text)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(block),
            area,
        );
        return;
    }
    let height = area.height.saturating_sub(3) as usize;
    let start = open.selected.saturating_sub(height.saturating_sub(1));
    if page.rows.first().is_some_and(|p| p.value.is_some()) {
        // A regressor's: the value, no score.
        let rows: Vec<Row> = page
            .rows
            .iter()
            .skip(start)
            .take(height.max(1))
            .map(|p| {
                let value = p.value.map(value_text).unwrap_or_else(|| p.label.clone());
                Row::new(vec![
                    Cell::from(p.row_key.as_str()),
                    Cell::from(Line::from(value).right_aligned()),
                ])
            })
            .collect();
        let table = Table::new(rows, [Constraint::Fill(1), Constraint::Length(14)])
            .header(Row::new(["ROW KEY", "         VALUE"]).style(theme.title()))
            .block(block)
            .row_highlight_style(theme.selected_row())
            .highlight_symbol("> ");
        let mut state = TableState::default().with_selected(Some(open.selected - start));
        frame.render_stateful_widget(table, area, &mut state);
        return;
    }
    let rows: Vec<Row> = page
        .rows
        .iter()
        .skip(start)
        .take(height.max(1))
        .map(|p| {
            let score = if p.score.is_finite() {
                format!("{:.3}", p.score)
            } else {
                "-".into()
            };
            Row::new(vec![
                Cell::from(p.row_key.as_str()),
                Cell::from(p.label.as_str()),
                Cell::from(Line::from(score).right_aligned()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(14),
            Constraint::Length(6),
        ],
    )
    .header(Row::new(["ROW KEY", "LABEL", "SCORE"]).style(theme.title()))
    .block(block)
    .row_highlight_style(theme.selected_row())
    .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(open.selected - start));
    frame.render_stateful_widget(table, area, &mut state);
}

/// A regressor's predicted values: how many, their mean and range, then a
/// bar per bin (adjacent bins merged to fit `height` lines), then the first
/// unscorable rows.
fn value_lines<'a>(
    detail: &'a DispatchDetail,
    h: &ValueHistogram,
    width: usize,
    height: usize,
    theme: &Theme,
) -> Vec<Line<'a>> {
    // The range is the bins' own (first to last edge); the line stays short.
    let mut lines = vec![Line::from(format!(
        "{} values · mean {}",
        format::count(h.count),
        value_text(h.mean),
    ))];
    // Room for the bars: the lines left, keeping some for unscorable rows.
    let unscorable = if detail.unscorable.is_empty() { 0 } else { 2 };
    let room = height.saturating_sub(1 + unscorable).max(1);
    let per = h.bins.len().div_ceil(room).max(1);
    let merged: Vec<(f64, f64, u64)> = h
        .bins
        .chunks(per)
        .map(|c| {
            (
                c[0].lo,
                c[c.len() - 1].hi,
                c.iter().map(|b| b.count).sum::<u64>(),
            )
        })
        .collect();
    let ranges = crate::cmd::dispatches::bin_ranges(
        &merged
            .iter()
            .map(|(lo, hi, _)| (*lo, *hi))
            .collect::<Vec<_>>(),
        "–",
    );
    let range_w = ranges.iter().map(|r| r.chars().count()).max().unwrap_or(0);
    let most = merged.iter().map(|m| m.2).max().unwrap_or(0).max(1);
    let bar_width = width.saturating_sub(range_w + 8 + 1).max(1) as u64;
    for ((_, _, n), range) in merged.iter().zip(&ranges) {
        let bar = (n * bar_width).div_ceil(most) as usize;
        lines.push(Line::from(vec![
            Span::raw(format!("{range:>range_w$} {:>7} ", format::count(*n))),
            Span::styled("█".repeat(bar), theme.good()),
        ]));
    }
    if !detail.unscorable.is_empty() {
        lines.push(Line::styled(
            format!("unscorable ({}):", detail.summary.rows_unscorable),
            theme.title(),
        ));
        for u in &detail.unscorable {
            lines.push(Line::from(format!("{}: {}", u.row_key, u.reason)));
        }
    }
    lines
}

/// The class distribution as bars, then the first unscorable rows.
fn class_lines<'a>(detail: &'a DispatchDetail, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let total: u64 = detail.class_counts.iter().map(|(_, n)| n).sum();
    let label_w = detail
        .class_counts
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(4, 14);
    let bar_width = width.saturating_sub(label_w + 8 + 6).max(1) as u64;
    let mut lines: Vec<Line> = detail
        .class_counts
        .iter()
        .map(|(label, n)| {
            let bar = if total == 0 {
                0
            } else {
                (n * bar_width).div_ceil(total)
            } as usize;
            let share = if total == 0 {
                0.0
            } else {
                *n as f64 * 100.0 / total as f64
            };
            let label: String = label.chars().take(label_w).collect();
            Line::from(vec![
                Span::raw(format!("{label:<label_w$} {:>7} ", format::count(*n))),
                Span::styled("█".repeat(bar), theme.good()),
                Span::raw(format!(" {share:.0}%")),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("no predictions stored", theme.dim()));
    }
    if !detail.unscorable.is_empty() {
        lines.push(Line::styled(
            format!("unscorable ({}):", detail.summary.rows_unscorable),
            theme.title(),
        ));
        for u in &detail.unscorable {
            lines.push(Line::from(format!("{}: {}", u.row_key, u.reason)));
        }
    }
    lines
}

/// Each step as `11:58:00 collected 152 · note`, its note wrapped to
/// `width` with the following lines indented, so a long note (a settlement,
/// a fallback, an error) is read whole.
fn event_lines(
    detail: &DispatchDetail,
    width: usize,
    now: &Zoned,
    theme: &Theme,
) -> Vec<Vec<Line<'static>>> {
    detail
        .events
        .iter()
        .map(|e| {
            let time = format::instant(e.at, now);
            let mut head = format!("{time} {}", e.step);
            if let Some(rows) = e.rows {
                head.push_str(&format!(" {}", format::count(rows)));
            }
            let text = match &e.message {
                Some(m) => format!("{head} · {m}"),
                None => head,
            };
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let first = format::wrap(&text, width, usize::MAX)
                .into_iter()
                .next()
                .unwrap_or_default();
            let rest = text.strip_prefix(first.as_str()).unwrap_or("").trim_start();
            // The time and the step, styled, when the first line holds them.
            let mut lines = vec![match first.strip_prefix(&format!("{time} {}", e.step)) {
                Some(tail) => Line::from(vec![
                    Span::styled(format!("{time} "), theme.dim()),
                    Span::styled(e.step.clone(), theme.title()),
                    Span::raw(tail.to_string()),
                ]),
                None => Line::raw(first.clone()),
            }];
            lines.extend(
                format::wrap(rest, width.saturating_sub(2), usize::MAX)
                    .into_iter()
                    .map(|l| Line::raw(format!("  {l}"))),
            );
            lines
        })
        .collect()
}

/// The latest steps that fit, each with its wrapped note.
fn render_events(frame: &mut Frame, area: Rect, events: Vec<Vec<Line<'static>>>, theme: &Theme) {
    let room = area.height.saturating_sub(1) as usize;
    let total = events.len();
    // From the latest back, as many whole steps as fit (at least the latest).
    let mut used = 0;
    let mut shown = 0;
    for e in events.iter().rev() {
        if shown > 0 && used + e.len() > room {
            break;
        }
        used += e.len();
        shown += 1;
    }
    let lines: Vec<Line> = events.into_iter().skip(total - shown).flatten().collect();
    let title = if shown < total {
        format!(" Events · last {shown} of {total} ")
    } else {
        " Events ".to_string()
    };
    frame.render_widget(
        // A top rule only: at 80×24 the line saved shows an unscorable row.
        Paragraph::new(lines).block(
            Block::new()
                .borders(ratatui::widgets::Borders::TOP)
                .title(Span::styled(title, theme.title())),
        ),
        area,
    );
}
