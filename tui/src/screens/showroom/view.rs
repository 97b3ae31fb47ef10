//! Draws the Showroom: the list of showrooms, or the opened one's rows with
//! a panel for one row (every class's score as a bar, and why; or before and
//! after an edit) — beside the rows on a wide terminal, under them on a
//! narrow one — and the edit form over it all.

use super::{Open, Panel, RowRef, Said, Showroom};
use crate::cmd::showroom::{bar, explanation_lines, outcome_parts, score_text, value_text};
use crate::screens::Shared;
use crate::ui::format;
use crate::ui::theme::Theme;
use jiff::Zoned;
use mld_shared::protocol::{ClassScore, Outcome, ScoreKind, ShowroomPrediction, ShowroomView};
use mld_shared::roles::Role;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Padding, Paragraph, Row, Table, TableState, Wrap};

/// From this width on, the panel sits beside the rows.
const SIDE_BY_SIDE: u16 = 120;

pub fn render(
    frame: &mut Frame,
    area: Rect,
    m: &Showroom,
    shared: &Shared,
    _now: &Zoned,
    theme: &Theme,
) {
    match &m.open {
        None => render_list(frame, area, m, shared, theme),
        Some(open) => render_open(frame, area, open, theme),
    }
    if let Some(edit) = &m.edit {
        crate::widgets::form::render(frame, area, &edit.form, theme);
    }
}

fn message(frame: &mut Frame, area: Rect, title: Line, lines: Vec<Line>) {
    let mut all = vec![Line::from("")];
    all.extend(lines);
    frame.render_widget(
        Paragraph::new(all).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .padding(Padding::horizontal(1))
                .title(title),
        ),
        area,
    );
}

fn render_list(frame: &mut Frame, area: Rect, m: &Showroom, shared: &Shared, theme: &Theme) {
    let title = Line::from(Span::styled(" Showroom · choose a model ", theme.title()));
    let Some(list) = &m.list else {
        let lines = if let Some(e) = &m.list_error {
            vec![Line::styled(format!("✗ {e}"), theme.bad())]
        } else if shared.welcome.is_some() && !shared.can(Role::Showroom) {
            vec![
                Line::from("Your user has no showroom role."),
                Line::styled(
                    "An admin can add you to `access.showroom` in the daemon's configuration.",
                    theme.dim(),
                ),
            ]
        } else {
            vec![Line::from("Asking the daemon for its showrooms…")]
        };
        message(frame, area, title, lines);
        return;
    };
    if list.is_empty() {
        message(
            frame,
            area,
            title,
            vec![
                Line::from("No showroom is configured."),
                Line::styled(
                    "Add [showroom.MODEL] with `samples = \"FILE.csv\"` (a header naming the \
                     model's features, then sample rows) to the daemon's configuration.",
                    theme.dim(),
                ),
            ],
        );
        return;
    }
    let header = Row::new(["MODEL", "ACTIVE", "ROWS", "SAMPLES"]).style(theme.title());
    let rows: Vec<Row> = list
        .iter()
        .map(|s| {
            let state = match &s.problem {
                None => Span::styled("ok", theme.good()),
                Some(_) => Span::styled("error", theme.bad()),
            };
            Row::new(vec![
                Cell::from(Line::from(vec![Span::raw(format!("{} ", s.model)), state])),
                Cell::from(s.active.map_or("-".into(), |v| format!("v{v}"))),
                Cell::from(
                    Line::from(s.rows.map_or("-".into(), |n| n.to_string())).right_aligned(),
                ),
                Cell::from(s.samples.clone()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(22),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(3)]).areas(area);
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(Block::bordered().title(title))
        .row_highlight_style(theme.selected_row())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(m.chosen));
    frame.render_stateful_widget(table, table_area, &mut state);
    // `wrap` needs some room to make progress.
    let width = (detail_area.width.saturating_sub(4) as usize).max(8);
    let lines: Vec<Line> = match list.get(m.chosen).and_then(|s| s.problem.as_ref()) {
        Some(problem) => format::wrap(problem, width, 3)
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                Line::styled(
                    format!(" {}{l}", if i == 0 { "✗ " } else { "  " }),
                    theme.bad(),
                )
            })
            .collect(),
        None => vec![Line::styled(
            " Enter: open it — every sample row is predicted by the active version",
            theme.dim(),
        )],
    };
    frame.render_widget(Paragraph::new(lines), detail_area);
}

fn kind_header(kind: ScoreKind) -> &'static str {
    match kind {
        ScoreKind::Probability => "PROB.",
        ScoreKind::LeafShare => "LEAF",
        ScoreKind::VoteShare => "VOTES",
        ScoreKind::Margin => "MARGIN",
        ScoreKind::Unscored => "SCORE",
        ScoreKind::Value => "",
    }
}

fn outcome(o: &Outcome) -> (String, Option<f64>) {
    outcome_parts(o)
}

fn render_open(frame: &mut Frame, area: Rect, open: &Open, theme: &Theme) {
    let Some(view) = &open.view else {
        let title = Line::from(Span::styled(
            format!(" Showroom · {} · Esc back ", open.model),
            theme.title(),
        ));
        let lines = match &open.error {
            Some(e) => vec![
                Line::styled(format!("✗ {e}"), theme.bad()),
                Line::from(""),
                Line::styled("r tries again · Esc chooses another model", theme.dim()),
            ],
            None => vec![Line::from(
                "Predicting every sample row with the active version…",
            )],
        };
        message(frame, area, title, lines);
        return;
    };
    let (table_area, panel_area) = match &open.panel {
        None => (area, None),
        Some(panel) => {
            let wanted = panel_lines(open, view, panel, theme, panel_width(area)).len() as u16 + 2;
            if area.width >= SIDE_BY_SIDE {
                let [t, p] = Layout::horizontal([
                    Constraint::Min(40),
                    Constraint::Length(panel_width(area)),
                ])
                .areas(area);
                (t, Some(p))
            } else {
                // The rows keep at least a few lines; the panel gets the rest.
                let panel_h = wanted.min(area.height.saturating_sub(6)).max(3);
                let [t, p] =
                    Layout::vertical([Constraint::Min(6), Constraint::Length(panel_h)]).areas(area);
                (t, Some(p))
            }
        }
    };
    render_rows(frame, table_area, open, view, theme);
    if let (Some(area), Some(panel)) = (panel_area, &open.panel) {
        let title = panel_title(open, panel);
        let lines = panel_lines(open, view, panel, theme, area.width);
        frame.render_widget(
            Paragraph::new(lines).block(
                Block::bordered()
                    .title(Span::styled(title, theme.title()))
                    .padding(Padding::horizontal(1)),
            ),
            area,
        );
    }
}

fn panel_width(area: Rect) -> u16 {
    if area.width >= SIDE_BY_SIDE {
        (area.width / 2).min(72)
    } else {
        area.width
    }
}

fn render_rows(frame: &mut Frame, area: Rect, open: &Open, view: &ShowroomView, theme: &Theme) {
    let shown = (view.shown as usize).min(view.columns.len());
    let kind = view.score_kind;
    // Each shown column as wide as its widest cell, within reason.
    let mut widths: Vec<usize> = view.columns[..shown]
        .iter()
        .map(|c| c.chars().count())
        .collect();
    for r in &view.rows {
        for (j, cell) in r.cells[..shown].iter().enumerate() {
            widths[j] = widths[j].max(cell.chars().count()).min(16);
        }
    }
    let label_w = view
        .labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(5)
        .max("PREDICTION".len());
    // A regressor's prediction is its value: one column, right-aligned
    // like the numbers it is, and no score.
    let regressor = kind == ScoreKind::Value;
    let prediction = |label: String, score: Option<f64>, kind: ScoreKind| -> Vec<Cell> {
        if regressor {
            vec![Cell::from(Line::from(label).right_aligned())]
        } else {
            vec![
                Cell::from(label),
                Cell::from(Line::from(score_text(kind, score)).right_aligned()),
            ]
        }
    };
    let mut header = vec!["#".to_string()];
    header.extend(view.columns[..shown].iter().map(|c| c.to_uppercase()));
    if regressor {
        header.push(format!("{:>label_w$}", "VALUE"));
    } else {
        header.extend(["PREDICTION".to_string(), kind_header(kind).to_string()]);
    }
    let mut rows: Vec<Row> = Vec::with_capacity(open.len());
    for (i, r) in view.rows.iter().enumerate() {
        let (label, score) = outcome(&r.outcome);
        let mut cells = vec![Cell::from(Line::from((i + 1).to_string()).right_aligned())];
        cells.extend(r.cells[..shown].iter().map(|c| Cell::from(c.clone())));
        cells.extend(prediction(label, score, kind));
        rows.push(Row::new(cells));
    }
    for k in &open.kept {
        let base = &view.rows[(k.row as usize - 1).min(view.rows.len() - 1)];
        let (label, score) = outcome(&k.prediction.outcome);
        let mut cells = vec![Cell::from(
            Line::from(Span::styled(format!("{}✎", k.row), theme.warn())).right_aligned(),
        )];
        for (j, column) in view.columns[..shown].iter().enumerate() {
            let edited = k.set.iter().find(|(f, _)| f == column);
            cells.push(match edited {
                Some((_, v)) => Cell::from(Span::styled(v.to_string(), theme.warn())),
                None => Cell::from(base.cells[j].clone()),
            });
        }
        cells.extend(prediction(label, score, k.prediction.score_kind));
        rows.push(Row::new(cells));
    }
    let mut constraints = vec![Constraint::Length(4)];
    constraints.extend(widths.iter().map(|w| Constraint::Length(*w as u16)));
    constraints.push(Constraint::Length(label_w as u16));
    if !regressor {
        constraints.push(Constraint::Length(6));
    }
    let mut title = vec![Span::styled(
        format!(
            " {} v{} · {} · {} rows",
            view.model,
            view.version,
            view.algorithm,
            view.rows.len()
        ),
        theme.title(),
    )];
    if !open.kept.is_empty() {
        title.push(Span::styled(
            format!(" + {} edited", open.kept.len()),
            theme.warn(),
        ));
    }
    if let Some(v) = open.newer {
        title.push(Span::styled(
            format!(" · now v{v}: r predicts all again"),
            theme.warn(),
        ));
    }
    title.push(Span::raw(" "));
    let samples = format::fit(
        &view.samples,
        (area.width as usize).saturating_sub(4).min(60),
    );
    let table = Table::new(rows, constraints)
        .header(Row::new(header).style(theme.title()))
        .column_spacing(1)
        .block(
            Block::bordered()
                .title(Line::from(title))
                .title_bottom(Line::styled(format!(" {samples} "), theme.dim())),
        )
        .row_highlight_style(theme.selected_row())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(open.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn panel_title(open: &Open, panel: &Panel) -> String {
    match panel {
        Panel::Waiting { row } | Panel::One { row, .. } => {
            let edited = matches!(row, RowRef::Kept(_));
            format!(
                " Row {}{} ",
                open.sample_row(*row),
                if edited { " (edited)" } else { "" }
            )
        }
        Panel::Compare { row, .. } => {
            format!(" Row {} edited: before and after ", open.sample_row(*row))
        }
    }
}

fn bar_width(width: u16, columns: usize) -> usize {
    // Label, score and padding take about 24 cells per column pair.
    ((width as usize).saturating_sub(4 + 12 + columns * 8) / columns).clamp(4, 24)
}

/// `label  0.992 ██████` lines, the winner marked.
fn class_rows(
    kind: ScoreKind,
    classes: &[ClassScore],
    winner: &str,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let label_w = classes
        .iter()
        .map(|c| c.label.chars().count())
        .max()
        .unwrap_or(0);
    classes
        .iter()
        .map(|c| {
            let style = if c.label == winner {
                theme.good()
            } else {
                Style::new()
            };
            Line::from(vec![
                Span::styled(format!("{:<label_w$}  ", c.label), style),
                Span::styled(format!("{:>6} ", score_text(kind, c.score)), style),
                Span::styled(bar(kind, c.score, width), style),
            ])
        })
        .collect()
}

fn why_lines(p: &ShowroomPrediction, theme: &Theme) -> Vec<Line<'static>> {
    explanation_lines(&p.explanation)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                Line::styled(l, theme.title())
            } else {
                Line::from(l)
            }
        })
        .collect()
}

fn version_note(open: &Open, version: u32, theme: &Theme) -> Option<Line<'static>> {
    open.view
        .as_ref()
        .filter(|v| v.version != version)
        .map(|v| {
            Line::styled(
                format!(
                    "by v{version} (the rows were predicted by v{}: r predicts all again)",
                    v.version
                ),
                theme.warn(),
            )
        })
}

fn panel_lines(
    open: &Open,
    view: &ShowroomView,
    panel: &Panel,
    theme: &Theme,
    width: u16,
) -> Vec<Line<'static>> {
    match panel {
        Panel::Waiting { .. } => vec![Line::from("Asking the daemon…")],
        Panel::One { prediction: p, .. } => {
            let (label, score) = outcome(&p.outcome);
            let mut lines = vec![Line::from(vec![
                Span::styled(
                    label.clone(),
                    theme.good().add_modifier(ratatui::style::Modifier::BOLD),
                ),
                Span::raw(match score {
                    Some(score) => format!(
                        " · {} {} · {} v{}",
                        p.score_kind.as_str(),
                        score_text(p.score_kind, Some(score)),
                        p.model,
                        p.version
                    ),
                    None => format!(" · {} v{}", p.model, p.version),
                }),
            ])];
            lines.extend(version_note(open, p.version, theme));
            lines.extend(class_rows(
                p.score_kind,
                &p.classes,
                &label,
                bar_width(width, 1),
                theme,
            ));
            // The keys before the why: a short panel cuts the why, not them.
            lines.push(Line::styled(
                "Enter predicts again · e edits · Esc closes",
                theme.dim(),
            ));
            lines.push(Line::from(""));
            lines.extend(why_lines(p, theme));
            lines
        }
        Panel::Compare { before, after, .. } => {
            compare_lines(open, view, before, after, theme, width)
        }
    }
}

fn compare_lines(
    open: &Open,
    view: &ShowroomView,
    before: &Said,
    after: &ShowroomPrediction,
    theme: &Theme,
    width: u16,
) -> Vec<Line<'static>> {
    let changed: Vec<String> = before
        .values
        .iter()
        .zip(&after.values)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, a)| format!("{} {} → {}", b.0, b.1, a.1))
        .collect();
    let mut lines = vec![Line::from(if changed.is_empty() {
        "nothing changed".to_string()
    } else {
        changed.join(", ")
    })];
    lines.extend(version_note(open, after.version, theme));
    let kind = view.score_kind;
    let (bl, bs) = outcome(&before.outcome);
    let (al, as_) = outcome(&after.outcome);
    let label_w = after
        .classes
        .iter()
        .map(|c| c.label.chars().count())
        .max()
        .unwrap_or(0)
        .max("prediction".len());
    let bw = bar_width(width, 2);
    let col_w = 7 + bw;
    let head = |b: String, a: String, style: Style| {
        Line::from(vec![
            Span::raw(format!("{:<label_w$}  ", "")),
            Span::styled(format!("{b:<col_w$}  "), style),
            Span::styled(a, style),
        ])
    };
    lines.push(head("before".into(), "after".into(), theme.title()));
    let changed_style = if bl != al { theme.warn() } else { Style::new() };
    let with_score = |label: &str, kind: ScoreKind, score: Option<f64>| match score {
        Some(s) => format!("{label} {}", score_text(kind, Some(s))),
        None => label.to_string(),
    };
    // A regressor's value, and by how much the edit moved it.
    let (name, after_text) = match (&before.outcome, &after.outcome) {
        (Outcome::Value { value: b }, Outcome::Value { value: a }) => {
            let delta = value_text(a - b);
            let sign = if a > b { "+" } else { "" };
            ("value", format!("{al} ({sign}{delta})"))
        }
        _ => ("prediction", with_score(&al, after.score_kind, as_)),
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{name:<label_w$}  "), theme.title()),
        Span::raw(format!("{:<col_w$}  ", with_score(&bl, kind, bs))),
        Span::styled(after_text, changed_style),
    ]));
    for (b, a) in before.classes.iter().zip(&after.classes) {
        let cell = |kind: ScoreKind, s: Option<f64>| {
            format!("{:>6} {}", score_text(kind, s), bar(kind, s, bw))
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{:<label_w$}  ", a.label)),
            Span::raw(format!("{:<col_w$}  ", cell(kind, b.score))),
            Span::raw(cell(after.score_kind, a.score)),
        ]));
    }
    lines.push(Line::styled(
        "s keeps this row in the list · e edits again · Esc resets",
        theme.dim(),
    ));
    lines.push(Line::from(""));
    lines.extend(why_lines(after, theme));
    lines
}
