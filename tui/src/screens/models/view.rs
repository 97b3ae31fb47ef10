//! Draws the Models screen: the section bar, the section's table with the
//! selected row's details under it — or an opened version or experiment
//! (what it is, per-class precision/recall/F1, the confusion matrix) — and
//! the open form or question on top.

use super::{CatalogRow, Modal, Models, Section};
use crate::screens::Shared;
use crate::ui::format::{self, fit};
use crate::ui::theme::Theme;
use crate::widgets::{confirm, form};
use jiff::Zoned;
use mld_shared::protocol::{
    MetricsInfo, ModelVersionInfo, ParamKind, ParamValue, TrainingInfo, TrainingStatus,
};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    m: &Models,
    shared: &Shared,
    now: &Zoned,
    theme: &Theme,
) {
    match &m.detail {
        Some(v) => render_version(frame, area, v, now, theme),
        None => render_section(frame, area, m, shared, now, theme),
    }
    match &m.modal {
        Some(Modal::Train(t)) => form::render(frame, area, &t.form, theme),
        Some(Modal::Commit { form: f, .. }) => form::render(frame, area, f, theme),
        Some(Modal::Confirm { dialog, .. }) => confirm::render(frame, area, dialog, theme),
        None => {}
    }
}

fn section_bar<'a>(m: &Models, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    for s in Section::ALL {
        let count = match s {
            Section::Versions => Some(m.models.iter().map(|x| x.versions.len()).sum::<usize>()),
            Section::Experiments => Some(m.experiments.len()),
            Section::Trainings => Some(m.runs.len()),
            Section::Catalog => m
                .catalog
                .as_ref()
                .map(|c| c.datasets.len() + c.models.len()),
        };
        let label = match count {
            Some(n) => format!("{} {n}", s.title()),
            None => s.title().to_string(),
        };
        if s == m.section {
            spans.push(Span::styled(format!("[{label}]"), theme.selected_tab()));
        } else {
            spans.push(Span::raw(format!(" {label} ")));
        }
        spans.push(Span::raw(" "));
    }
    spans.extend(m.filter.title_span(theme));
    Line::from(spans)
}

fn render_section(
    frame: &mut Frame,
    area: Rect,
    m: &Models,
    shared: &Shared,
    now: &Zoned,
    theme: &Theme,
) {
    let block = Block::bordered().title(section_bar(m, theme));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let detail_height = match m.section {
        Section::Catalog => inner.height / 2,
        // A version's summary: what it is, its features with their types, its hash.
        Section::Experiments => 5,
        Section::Versions => 4,
        _ => 3,
    };
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(detail_height)]).areas(inner);
    let waiting = |loaded: bool, empty: &str| {
        if !loaded {
            if shared.data.is_none() {
                " Waiting for the daemon…".to_string()
            } else {
                " Asking the daemon…".to_string()
            }
        } else if m.filter.is_active() {
            " Nothing matches the filter (Esc clears it).".to_string()
        } else {
            empty.to_string()
        }
    };
    let selected = m.selected();
    match m.section {
        Section::Versions => {
            let rows = m.versions();
            if rows.is_empty() {
                let text = waiting(
                    m.loaded.models,
                    " No model in the registry yet: t trains one (or mldctl import-onnx).",
                );
                frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), table_area);
                return;
            }
            let wide = area.width >= 120;
            let mut header = vec![
                "MODEL",
                "VER",
                "",
                "ALGORITHM",
                "ACC / R²",
                "MACRO F1",
                "CREATED",
            ];
            let mut widths = vec![
                Constraint::Fill(1),
                Constraint::Length(4),
                Constraint::Length(6),
                Constraint::Length(20),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(11),
            ];
            if wide {
                header.push("HASH");
                widths.push(Constraint::Length(16));
            }
            let body: Vec<Row> = visible_slice(&rows, selected, table_area.height)
                .map(|v| {
                    let (acc, f1) = scores(v);
                    let mut cells = vec![
                        Cell::from(v.name.clone()),
                        Cell::from(Line::from(v.version.to_string()).right_aligned()),
                        Cell::from(Span::styled(
                            if v.active { "active" } else { "" },
                            theme.good(),
                        )),
                        Cell::from(match &v.broken {
                            Some(_) => Span::styled("broken", theme.bad()),
                            None => Span::raw(v.algorithm.clone()),
                        }),
                        Cell::from(Line::from(acc).right_aligned()),
                        Cell::from(Line::from(f1).right_aligned()),
                        Cell::from(
                            v.created_at
                                .map(|t| format::instant(t, now))
                                .unwrap_or_default(),
                        ),
                    ];
                    if wide {
                        cells.push(Cell::from(fit(&v.hash, 16)));
                    }
                    Row::new(cells)
                })
                .collect();
            table(frame, table_area, header, widths, body, selected, theme);
            if let Some(v) = rows.get(selected) {
                frame.render_widget(
                    Paragraph::new(version_summary(v, theme)).wrap(Wrap { trim: false }),
                    detail_area,
                );
            }
        }
        Section::Experiments => {
            let rows = m.visible_experiments();
            if rows.is_empty() {
                let text = waiting(
                    m.loaded.experiments,
                    " No experiment: t trains a model; its result waits here to be committed.",
                );
                frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), table_area);
                return;
            }
            let header = vec![
                "EXPERIMENT",
                "ALGORITHM",
                "DATASET",
                "ACC / R²",
                "MACRO F1",
                "CREATED",
            ];
            let widths = vec![
                Constraint::Fill(1),
                Constraint::Length(14),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(11),
            ];
            let body: Vec<Row> = visible_slice(&rows, selected, table_area.height)
                .map(|e| {
                    let v = &e.model;
                    let (acc, f1) = scores(v);
                    Row::new(vec![
                        Cell::from(e.id.clone()),
                        Cell::from(v.algorithm.clone()),
                        Cell::from(v.dataset.clone().unwrap_or_default()),
                        Cell::from(Line::from(acc).right_aligned()),
                        Cell::from(Line::from(f1).right_aligned()),
                        Cell::from(
                            v.created_at
                                .map(|t| format::instant(t, now))
                                .unwrap_or_default(),
                        ),
                    ])
                })
                .collect();
            table(frame, table_area, header, widths, body, selected, theme);
            if let Some(e) = rows.get(selected) {
                let mut lines = vec![Line::from(vec![
                    Span::styled(format!(" {}", e.id), theme.title()),
                    Span::raw(": Enter inspects, c commits, x deletes"),
                ])];
                lines.extend(version_summary(&e.model, theme));
                frame.render_widget(
                    Paragraph::new(lines).wrap(Wrap { trim: false }),
                    detail_area,
                );
            }
        }
        Section::Trainings => {
            let rows = m.visible_runs();
            if rows.is_empty() {
                let text = waiting(m.loaded.runs, " No training yet: t starts one.");
                frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), table_area);
                return;
            }
            let header = vec![
                "RUN", "STATUS", "PROGRESS", "DATASET", "MODEL", "BY", "STARTED",
            ];
            let widths = vec![
                Constraint::Length(4),
                Constraint::Length(9),
                Constraint::Length(18),
                Constraint::Length(8),
                Constraint::Fill(1),
                Constraint::Length(7),
                Constraint::Length(10),
            ];
            let body: Vec<Row> = visible_slice(&rows, selected, table_area.height)
                .map(|r| {
                    Row::new(vec![
                        Cell::from(Line::from(r.run.to_string()).right_aligned()),
                        Cell::from(Span::styled(
                            r.status.as_str(),
                            training_style(r.status, theme),
                        )),
                        Cell::from(progress(r)),
                        Cell::from(r.spec.dataset.clone()),
                        Cell::from(r.spec.model.clone()),
                        Cell::from(r.requested_by.clone()),
                        Cell::from(format::instant(r.started_at, now)),
                    ])
                })
                .collect();
            table(frame, table_area, header, widths, body, selected, theme);
            if let Some(r) = rows.get(selected) {
                frame.render_widget(
                    Paragraph::new(run_summary(r, now, theme)).wrap(Wrap { trim: false }),
                    detail_area,
                );
            }
        }
        Section::Catalog => {
            let rows = m.catalog_rows();
            if rows.is_empty() {
                let text = if m.catalog.is_none() {
                    " Reading the catalog…".to_string()
                } else {
                    waiting(true, " The catalog is empty.")
                };
                frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), table_area);
                return;
            }
            let header = vec!["KIND", "NAME", "ABOUT"];
            let widths = vec![
                Constraint::Length(8),
                Constraint::Length(18),
                Constraint::Fill(1),
            ];
            let body: Vec<Row> = visible_slice(&rows, selected, table_area.height)
                .map(|r| match r {
                    CatalogRow::Dataset(d) => Row::new(vec![
                        Cell::from("dataset"),
                        Cell::from(d.name.clone()),
                        Cell::from(match &d.problem {
                            Some(p) => Span::styled(format!("unusable: {p}"), theme.bad()),
                            None => Span::raw(format!(
                                "{} records · {} features · {} · {}",
                                format::count(d.records),
                                d.features.len(),
                                if d.task.as_deref() == Some("regression") {
                                    "a number".to_string()
                                } else {
                                    format!("{} classes", d.classes.len())
                                },
                                d.source
                            )),
                        }),
                    ]),
                    CatalogRow::Model(a) => Row::new(vec![
                        Cell::from("model"),
                        Cell::from(a.name.clone()),
                        Cell::from(a.description.clone()),
                    ]),
                })
                .collect();
            table(frame, table_area, header, widths, body, selected, theme);
            if let Some(r) = rows.get(selected) {
                frame.render_widget(
                    Paragraph::new(catalog_detail(r, theme)).wrap(Wrap { trim: false }),
                    detail_area,
                );
            }
        }
    }
}

/// The rows that fit, around the selection: only those are built.
fn visible_slice<T>(rows: &[T], selected: usize, height: u16) -> impl Iterator<Item = &T> {
    let fit = height.saturating_sub(1).max(1) as usize;
    rows.iter().skip(selected.saturating_sub(fit - 1)).take(fit)
}

fn table(
    frame: &mut Frame,
    area: Rect,
    header: Vec<&str>,
    widths: Vec<Constraint>,
    body: Vec<Row>,
    selected: usize,
    theme: &Theme,
) {
    let fit = area.height.saturating_sub(1).max(1) as usize;
    let start = selected.saturating_sub(fit - 1);
    let t = Table::new(body, widths)
        .header(Row::new(header).style(theme.title()))
        .row_highlight_style(theme.selected_row())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(selected - start));
    frame.render_stateful_widget(t, area, &mut state);
}

/// The two score columns: a classifier's accuracy and macro F1; a
/// regressor's R² (and no F1).
fn scores(v: &ModelVersionInfo) -> (String, String) {
    match (&v.metrics, &v.regression) {
        (Some(m), _) => (format!("{:.3}", m.accuracy), format!("{:.3}", m.macro_f1)),
        (None, Some(r)) => (format!("R² {:.3}", r.r2), "-".into()),
        (None, None) => ("-".into(), "-".into()),
    }
}

/// Features with their types: `size, district (text)`.
fn typed_features(features: &[String], types: &[String]) -> String {
    features
        .iter()
        .enumerate()
        .map(|(j, f)| match types.get(j).map(String::as_str) {
            Some("text") => format!("{f} (text)"),
            _ => f.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn training_style(s: TrainingStatus, theme: &Theme) -> Style {
    match s {
        TrainingStatus::Succeeded => theme.good(),
        TrainingStatus::Running => theme.warn(),
        _ => theme.bad(),
    }
}

/// `fitting ████░░ 60%`.
fn progress(r: &TrainingInfo) -> String {
    if r.status.is_finished() {
        return r.stage.clone();
    }
    format!(
        "{:<9}{} {:>3.0}%",
        r.stage,
        format::gauge(r.fraction, 4),
        r.fraction * 100.0
    )
}

fn run_summary<'a>(r: &'a TrainingInfo, now: &Zoned, theme: &Theme) -> Vec<Line<'a>> {
    let params: Vec<String> = r
        .spec
        .hyperparameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let took = match r.finished_at {
        Some(f) => format::duration((f.0 - r.started_at.0) / 1000),
        None => format!(
            "{} so far",
            format::duration(format::seconds_since(r.started_at, now))
        ),
    };
    let mut lines = vec![Line::from(format!(
        " run {}: {} on {} · split {} · seed {} · {took}",
        r.run,
        r.spec.model,
        r.spec.dataset,
        r.spec.test_split,
        r.spec
            .seed
            .map_or_else(|| "fresh".to_string(), |s| s.to_string()),
    ))];
    if !params.is_empty() {
        lines.push(Line::from(format!(" {}", params.join(" "))));
    }
    lines.push(match (&r.error, &r.experiment) {
        (Some(e), _) => Line::styled(format!(" {}: {e}", r.status.as_str()), theme.bad()),
        (None, Some(x)) => Line::styled(
            format!(" made experiment {x}: Enter opens it, c commits it"),
            theme.good(),
        ),
        (None, None) => Line::styled(
            format!(" {} · {:.0}%", r.stage, r.fraction * 100.0),
            theme.warn(),
        ),
    });
    lines
}

fn version_summary<'a>(v: &'a ModelVersionInfo, theme: &Theme) -> Vec<Line<'a>> {
    if let Some(b) = &v.broken {
        return vec![Line::styled(format!(" cannot be loaded: {b}"), theme.bad())];
    }
    let origin = match (&v.dataset, v.train_rows, v.test_rows) {
        (Some(d), Some(train), Some(test)) => format!(
            " {} · trained on {d}: {} rows, {} held out",
            v.algorithm,
            format::count(train),
            format::count(test),
        ),
        (Some(d), _, _) => format!(" {} · trained on {d}", v.algorithm),
        // An imported graph: trained elsewhere, not evaluated here.
        (None, _, _) => format!(" {} · imported, trained elsewhere", v.algorithm),
    };
    vec![
        Line::from(origin),
        Line::from(if v.task == "regression" {
            format!(" {} features → a number (regression)", v.features.len())
        } else {
            format!(
                " {} features → {} classes: {}",
                v.features.len(),
                v.labels.len(),
                v.labels.join(" "),
            )
        }),
        Line::from(format!(
            " features: {}",
            typed_features(&v.features, &v.feature_types)
        )),
        Line::styled(format!(" sha256 {}", v.hash), theme.dim()),
    ]
}

fn catalog_detail<'a>(r: &CatalogRow<'a>, theme: &Theme) -> Vec<Line<'a>> {
    match r {
        CatalogRow::Dataset(d) => {
            let mut lines = vec![
                Line::from(vec![
                    Span::styled(format!(" {}", d.name), theme.title()),
                    Span::raw(format!(": {}", d.description)),
                ]),
                Line::from(format!(" from {} · label {}", d.source, d.label)),
                Line::from(format!(
                    " features: {}",
                    typed_features(&d.features, &d.feature_types)
                )),
                Line::from(if d.task.as_deref() == Some("regression") {
                    " predicts a number (regression)".to_string()
                } else {
                    format!(" classes: {}", d.classes.join(", "))
                }),
            ];
            if !d.preprocessing.is_empty() {
                lines.push(Line::from(format!(
                    " preprocessing: {}",
                    d.preprocessing.join("; ")
                )));
            }
            if let Some(p) = &d.problem {
                lines.push(Line::styled(format!(" unusable: {p}"), theme.bad()));
            }
            lines
        }
        CatalogRow::Model(a) => {
            let mut lines = vec![Line::from(vec![
                Span::styled(format!(" {}", a.name), theme.title()),
                Span::raw(format!(" ({}): {}", a.task, a.description)),
            ])];
            for h in &a.hyperparameters {
                let kind = match &h.kind {
                    ParamKind::Int { min, max } => format!("integer {min}–{max}"),
                    ParamKind::Float { min, max } => format!("number {min}–{max}"),
                    ParamKind::Bool => "true/false".into(),
                    ParamKind::Choice { options } => options.join("|"),
                };
                let default = match &h.default {
                    ParamValue::Bool(b) => b.to_string(),
                    ParamValue::Int(i) => i.to_string(),
                    ParamValue::Float(f) => f.to_string(),
                    ParamValue::Text(t) => t.clone(),
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("  {}", h.name), theme.key()),
                    Span::raw(format!(" {kind}, default {default}: {}", h.description)),
                ]));
            }
            lines
        }
    }
}

fn render_version(frame: &mut Frame, area: Rect, v: &ModelVersionInfo, now: &Zoned, theme: &Theme) {
    let title = if v.version == 0 {
        format!(" Experiment {} · c commits · Esc back ", v.name)
    } else if v.active {
        format!(" {} v{} · active · Esc back ", v.name, v.version)
    } else {
        format!(" {} v{} · a activates · Esc back ", v.name, v.version)
    };
    let block = Block::bordered().title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut about = version_summary(v, theme);
    let params: Vec<String> = v
        .hyperparameters
        .iter()
        .map(|(k, x)| format!("{k}={x}"))
        .collect();
    // Scaling is a hyperparameter of some models: say it once.
    let scaling = if v.hyperparameters.iter().any(|(k, _)| k == "scaling") {
        String::new()
    } else {
        format!(" · scaling {}", v.scaling)
    };
    let how = format!(
        "{}{scaling}{} · created {}",
        if params.is_empty() {
            "defaults".to_string()
        } else {
            params.join(" ")
        },
        v.seed.map_or(String::new(), |s| format!(" · seed {s}")),
        v.created_at
            .map(|t| format::instant(t, now))
            .unwrap_or_else(|| "?".into())
    );
    // Many hyperparameters wrap, each line indented like the others.
    let width = usize::from(inner.width.saturating_sub(1));
    for (i, part) in format::wrap(&how, width, 4).into_iter().enumerate() {
        about.insert((2 + i).min(about.len()), Line::from(format!(" {part}")));
    }
    let about_height = about.len() as u16 + 1;
    let [about_area, metrics_area] =
        Layout::vertical([Constraint::Length(about_height), Constraint::Min(3)]).areas(inner);
    frame.render_widget(Paragraph::new(about).wrap(Wrap { trim: false }), about_area);
    let Some(metrics) = &v.metrics else {
        let text = match &v.regression {
            Some(r) => vec![
                Line::styled(
                    format!(" On {} held-out rows", format::count(r.rows)),
                    theme.title(),
                ),
                Line::from(format!(" MAE  {}", crate::cmd::showroom::value_text(r.mae))),
                Line::from(format!(
                    " RMSE {}",
                    crate::cmd::showroom::value_text(r.rmse)
                )),
                Line::from(format!(" R²   {:.4}", r.r2)),
            ],
            None => vec![Line::from(
                " No metrics: an imported model is not evaluated.",
            )],
        };
        frame.render_widget(Paragraph::new(text), metrics_area);
        return;
    };
    let [per_class_area, confusion_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(metrics_area);
    let mut rows: Vec<Row> = metrics
        .per_class
        .iter()
        .map(|c| {
            Row::new(vec![
                Cell::from(c.label.clone()),
                Cell::from(Line::from(format!("{:.3}", c.precision)).right_aligned()),
                Cell::from(Line::from(format!("{:.3}", c.recall)).right_aligned()),
                Cell::from(Line::from(format!("{:.3}", c.f1)).right_aligned()),
                Cell::from(Line::from(c.support.to_string()).right_aligned()),
            ])
        })
        .collect();
    rows.push(
        Row::new(vec![
            Cell::from("macro"),
            Cell::from(Line::from(format!("{:.3}", metrics.macro_precision)).right_aligned()),
            Cell::from(Line::from(format!("{:.3}", metrics.macro_recall)).right_aligned()),
            Cell::from(Line::from(format!("{:.3}", metrics.macro_f1)).right_aligned()),
            Cell::from(""),
        ])
        .style(theme.title()),
    );
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Fill(1),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(5),
            ],
        )
        .header(Row::new(["CLASS", "PREC", "RECALL", "F1", "N"]).style(theme.title()))
        .block(Block::bordered().title(Span::styled(
            format!(" Per class · accuracy {:.3} ", metrics.accuracy),
            theme.title(),
        ))),
        per_class_area,
    );
    render_confusion(frame, confusion_area, v, metrics, theme);
}

/// Rows are the true class, columns the predicted one; the diagonal (right
/// answers) is bold, so it reads without colour.
fn render_confusion(
    frame: &mut Frame,
    area: Rect,
    v: &ModelVersionInfo,
    metrics: &MetricsInfo,
    theme: &Theme,
) {
    let labels: Vec<&str> = if v.labels.len() == metrics.confusion.len() {
        v.labels.iter().map(String::as_str).collect()
    } else {
        metrics.per_class.iter().map(|c| c.label.as_str()).collect()
    };
    let n = labels.len();
    let inner_w = area.width.saturating_sub(2) as usize;
    let label_w = 10.min(inner_w / 3).max(3);
    let cell_w = ((inner_w.saturating_sub(label_w)) / n.max(1)).clamp(3, 10);
    let mut header = vec![Cell::from("true\\pred")];
    header.extend(
        labels
            .iter()
            .map(|l| Cell::from(Line::from(fit(l, cell_w.saturating_sub(1))).right_aligned())),
    );
    let rows: Vec<Row> = metrics
        .confusion
        .iter()
        .enumerate()
        .map(|(i, counts)| {
            let mut cells = vec![Cell::from(fit(
                labels.get(i).copied().unwrap_or("?"),
                label_w,
            ))];
            cells.extend(counts.iter().enumerate().map(|(j, c)| {
                let style = if i == j { theme.title() } else { Style::new() };
                Cell::from(Line::styled(c.to_string(), style).right_aligned())
            }));
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(label_w as u16)];
    widths.extend(std::iter::repeat_n(
        Constraint::Length(cell_w as u16 - 1),
        n,
    ));
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(theme.title()))
            .block(Block::bordered().title(Span::styled(" Confusion ", theme.title()))),
        area,
    );
}
