//! `mldctl showroom [MODEL] [--row N [--set FEATURE=VALUE …] [--explain]] [--json]`:
//! the showroom for scripts and people.
//!
//! Receives a connected [`Client`] and the parsed arguments. Without a model,
//! lists the configured showrooms (`Showrooms`); with one, every sample row
//! with its prediction (`OpenShowroom`, predict-all); with `--row`, that row
//! predicted on its own with every class's score (`ShowroomPredict`), and with
//! `--set` the same row edited, shown before and after. Prints text or JSON.
//! The text helpers here ([`class_lines`], [`explanation_lines`]) are the
//! console's too.

use super::{ask, table};
use crate::client::Client;
use clap::Args;
use mld_shared::protocol::{
    ClassScore, ContributionInfo, Explanation, FeatureValue, Outcome, Request, Response, ScoreKind,
    ShowroomInfo, ShowroomPrediction, ShowroomView,
};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ShowroomArgs {
    /// The model whose showroom to open; without it, list the showrooms.
    pub model: Option<String>,
    /// Predict sample row N (1-based, as listed) on its own, with every class's score.
    #[arg(long, value_name = "N", requires = "model")]
    pub row: Option<u32>,
    /// Change a feature of the row, FEATURE=VALUE; repeat for more. Shows before and after.
    #[arg(long = "set", value_name = "FEATURE=VALUE", requires = "row")]
    pub set: Vec<String>,
    /// Say why: each feature's contribution, the tree's path or the forest's votes.
    #[arg(long, requires = "row")]
    pub explain: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `FEATURE=NUMBER` pairs, checked before anything is sent.
pub fn parse_set(items: &[String]) -> anyhow::Result<Vec<(String, FeatureValue)>> {
    items
        .iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| anyhow::anyhow!("--set takes FEATURE=VALUE, got {s:?}"))?;
            // As typed: the daemon reads it as the feature's type (a number,
            // or text), and says which feature is wrong and why.
            Ok((
                k.trim().to_string(),
                FeatureValue::Text(v.trim().to_string()),
            ))
        })
        .collect()
}

pub async fn run(args: &ShowroomArgs, socket: &Path) -> anyhow::Result<ExitCode> {
    let set = parse_set(&args.set)?;
    let mut client = Client::connect(socket).await?;
    let Some(model) = &args.model else {
        let list = ask(&mut client, Request::Showrooms, |r| match r {
            Response::Showrooms(l) => Ok(l),
            other => Err(other),
        })
        .await?;
        if args.json {
            super::print_json(&list.iter().map(listing_json).collect::<Vec<_>>())?;
        } else {
            out!("{}", listing_text(&list))?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(row) = args.row else {
        let view = ask(
            &mut client,
            Request::OpenShowroom {
                model: model.clone(),
            },
            |r| match r {
                Response::Showroom(v) => Ok(v),
                other => Err(other),
            },
        )
        .await?;
        if args.json {
            super::print_json(&view_json(&view))?;
        } else {
            out!("{}", view_text(&view))?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut predict = async |set: Vec<(String, FeatureValue)>| {
        ask(
            &mut client,
            Request::ShowroomPredict {
                model: model.clone(),
                row,
                set,
            },
            |r| match r {
                Response::ShowroomPrediction(p) => Ok(p),
                other => Err(other),
            },
        )
        .await
    };
    if set.is_empty() {
        let p = predict(Vec::new()).await?;
        if args.json {
            super::print_json(&prediction_json(&p))?;
        } else {
            out!("{}", prediction_text(&p, args.explain))?;
        }
    } else {
        let before = predict(Vec::new()).await?;
        let after = predict(set).await?;
        if args.json {
            super::print_json(
                &json!({ "before": prediction_json(&before), "after": prediction_json(&after) }),
            )?;
        } else {
            out!("{}", before_after_text(&before, &after, args.explain))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ---- text ----

fn number(v: &FeatureValue) -> String {
    v.to_string()
}

/// What the model said, as a cell, and its score if it has one.
pub fn outcome_parts(o: &Outcome) -> (String, Option<f64>) {
    match o {
        Outcome::Class { label, score } => (label.clone(), Some(*score)),
        Outcome::Value { value } => (value_text(*value), None),
        Outcome::Unscorable { reason } => (format!("cannot be scored: {reason}"), None),
    }
}

/// A predicted value, to 6 significant digits (exact in --json).
pub fn value_text(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let digits = (5 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A score as the model means it: probabilities and shares to 3 places,
/// margins signed, nothing for an unscored graph.
pub fn score_text(kind: ScoreKind, score: Option<f64>) -> String {
    match (kind, score) {
        (_, None) => "—".to_string(),
        (ScoreKind::Unscored | ScoreKind::Value, Some(_)) => "—".to_string(),
        (ScoreKind::Margin, Some(s)) => format!("{s:+.3}"),
        (_, Some(s)) => format!("{s:.3}"),
    }
}

/// A bar `width` cells long at most, for a score in [0, 1] (margins and
/// unknown scores get none).
pub fn bar(kind: ScoreKind, score: Option<f64>, width: usize) -> String {
    match (kind, score) {
        (ScoreKind::Probability | ScoreKind::LeafShare | ScoreKind::VoteShare, Some(s)) => {
            "█".repeat((s.clamp(0.0, 1.0) * width as f64).round() as usize)
        }
        _ => String::new(),
    }
}

/// One line per class: label, score, bar.
pub fn class_lines(kind: ScoreKind, classes: &[ClassScore], width: usize) -> Vec<String> {
    let rows: Vec<Vec<String>> = classes
        .iter()
        .map(|c| {
            vec![
                c.label.clone(),
                score_text(kind, c.score),
                bar(kind, c.score, width),
            ]
        })
        .collect();
    table::render(&["class", kind.as_str(), ""], &rows)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// A linear model's contributions as a table under `heading`, the intercept
/// last, closed by the line `total` makes of their sum.
fn contribution_lines(
    heading: String,
    intercept: f64,
    terms: &[ContributionInfo],
    total: impl Fn(f64) -> String,
) -> Vec<String> {
    // A one-hot column of a category the row does not have adds exactly
    // 0 (unscaled): one line says how many, instead of a line each.
    let absent = |t: &&ContributionInfo| t.feature.contains('=') && t.contribution == 0.0;
    let mut rows: Vec<Vec<String>> = terms
        .iter()
        .filter(|t| !absent(t))
        .map(|t| {
            vec![
                t.feature.clone(),
                t.value.to_string(),
                format!("{:.3}", t.scaled),
                format!("{:.3}", t.weight),
                // A negative weight times zero is -0: shown as 0, no sign.
                match t.contribution {
                    0.0 => "0".to_string(),
                    c => format!("{c:+.3}"),
                },
            ]
        })
        .collect();
    let zeros = terms.iter().filter(absent).count();
    if zeros > 0 {
        rows.push(vec![
            format!("({zeros} categories absent)"),
            String::new(),
            String::new(),
            String::new(),
            "0".into(),
        ]);
    }
    rows.push(vec![
        "(intercept)".into(),
        String::new(),
        String::new(),
        String::new(),
        format!("{intercept:+.3}"),
    ]);
    let sum = intercept + terms.iter().map(|t| t.contribution).sum::<f64>();
    let mut out = vec![heading];
    out.extend(
        table::render(
            &["feature", "value", "scaled", "weight", "contribution"],
            &rows,
        )
        .lines()
        .map(|l| format!("  {l}")),
    );
    out.push(total(sum));
    out
}

/// Why the prediction, in lines a person reads top to bottom.
pub fn explanation_lines(e: &Explanation) -> Vec<String> {
    match e {
        Explanation::Contributions {
            label,
            intercept,
            terms,
        } => contribution_lines(
            format!("why {label}: each feature's weight × scaled value, largest first"),
            *intercept,
            terms,
            |total| format!("  {label}'s score: {total:+.3}"),
        ),
        Explanation::Path {
            steps,
            label,
            share,
        } => {
            let mut out = vec![format!(
                "why {label}: the tree's tests from its root to a leaf"
            )];
            out.extend(steps.iter().map(|s| format!("  {}", step_text(s))));
            out.push(format!(
                "  → {label} ({:.0}% of the leaf's training rows)",
                share * 100.0
            ));
            out
        }
        Explanation::Votes { trees, votes } => {
            let mut out = vec![format!("why: the votes of {trees} trees")];
            let rows: Vec<Vec<String>> = votes
                .iter()
                .map(|(label, n)| {
                    let share = f64::from(*n) / f64::from((*trees).max(1));
                    vec![
                        label.clone(),
                        n.to_string(),
                        bar(ScoreKind::VoteShare, Some(share), 20),
                    ]
                })
                .collect();
            out.extend(
                table::render(&["class", "votes", ""], &rows)
                    .lines()
                    .skip(1)
                    .map(|l| format!("  {l}")),
            );
            out
        }
        Explanation::Unavailable { reason } => vec![format!("why: {reason}")],
        Explanation::ValueContributions { intercept, terms } => contribution_lines(
            "why: each feature's weight × scaled value, largest first".to_string(),
            *intercept,
            terms,
            |total| format!("  value: {}", value_text(total)),
        ),
        Explanation::ValuePath { steps, value } => {
            let mut out = vec!["why: the tree's tests from its root to a leaf".to_string()];
            out.extend(steps.iter().map(|s| format!("  {}", step_text(s))));
            out.push(format!(
                "  → {} (the mean of the leaf's training rows)",
                value_text(*value)
            ));
            out
        }
        Explanation::TreeValues { trees, min, max } => vec![format!(
            "why: the mean of {trees} trees' values, which range from {} to {}",
            value_text(*min),
            value_text(*max)
        )],
    }
}

/// One test of a tree's path.
fn step_text(s: &mld_shared::protocol::PathStepInfo) -> String {
    match s.threshold {
        Some(t) if s.below => format!("{} = {} < {t}", s.feature, s.value),
        Some(t) => format!("{} = {} ≥ {t}", s.feature, s.value),
        None => format!(
            "{} = {} (constant in training) → {}",
            s.feature,
            s.value,
            if s.below { "left" } else { "right" }
        ),
    }
}

fn listing_text(list: &[ShowroomInfo]) -> String {
    if list.is_empty() {
        return "no showrooms: add [showroom.MODEL] with a samples CSV to the configuration\n"
            .to_string();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.model.clone(),
                s.active.map_or("-".into(), |v| format!("v{v}")),
                s.rows.map_or("-".into(), |n| n.to_string()),
                s.samples.clone(),
                s.problem.clone().unwrap_or_else(|| "ok".into()),
            ]
        })
        .collect();
    table::render(&["model", "active", "rows", "samples", "state"], &rows)
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn view_text(v: &ShowroomView) -> String {
    let shown = (v.shown as usize).min(v.columns.len());
    let mut headers: Vec<&str> = vec!["#"];
    headers.extend(v.columns[..shown].iter().map(String::as_str));
    // A regressor's prediction is its value: one column, no score.
    let regressor = v.score_kind == ScoreKind::Value;
    if regressor {
        headers.push("value");
    } else {
        headers.extend(["prediction", v.score_kind.as_str()]);
    }
    let rows: Vec<Vec<String>> = v
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (label, score) = outcome_parts(&r.outcome);
            let mut cells = vec![(i + 1).to_string()];
            cells.extend(r.cells[..shown].iter().cloned());
            cells.push(label);
            if !regressor {
                cells.push(score_text(v.score_kind, score));
            }
            cells
        })
        .collect();
    format!(
        "{} v{} ({}, sha256 {}) — {} sample rows from {}\n{}",
        v.model,
        v.version,
        v.algorithm,
        short(&v.hash),
        v.rows.len(),
        v.samples,
        table::render(&headers, &rows)
    )
}

fn values_text(p: &ShowroomPrediction) -> String {
    p.values
        .iter()
        .map(|(k, v)| format!("{k}={}", number(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn prediction_text(p: &ShowroomPrediction, explain: bool) -> String {
    let (label, score) = outcome_parts(&p.outcome);
    let mut out = vec![
        format!(
            "{} v{} (sha256 {}) — row {} (line {}){}",
            p.model,
            p.version,
            short(&p.hash),
            p.row,
            p.line,
            if p.edited { ", edited" } else { "" }
        ),
        format!("  {}", values_text(p)),
        match score {
            Some(score) => format!(
                "{label} ({} {})",
                p.score_kind.as_str(),
                score_text(p.score_kind, Some(score))
            ),
            None if matches!(p.outcome, Outcome::Value { .. }) => format!("value {label}"),
            None => label,
        },
    ];
    out.extend(
        class_lines(p.score_kind, &p.classes, 20)
            .into_iter()
            .map(|l| format!("  {l}")),
    );
    if explain {
        out.extend(explanation_lines(&p.explanation));
    }
    out.join("\n") + "\n"
}

fn before_after_text(
    before: &ShowroomPrediction,
    after: &ShowroomPrediction,
    explain: bool,
) -> String {
    let changed: Vec<String> = before
        .values
        .iter()
        .zip(&after.values)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, a)| format!("{} {} → {}", b.0, number(&b.1), number(&a.1)))
        .collect();
    let (bl, bs) = outcome_parts(&before.outcome);
    let (al, as_) = outcome_parts(&after.outcome);
    let with_score = |label: String, kind: ScoreKind, score: Option<f64>| match score {
        Some(s) => format!("{label} {}", score_text(kind, Some(s))),
        None => label,
    };
    let mut rows = vec![vec![
        if matches!(after.outcome, Outcome::Value { .. }) {
            "value"
        } else {
            "prediction"
        }
        .to_string(),
        with_score(bl, before.score_kind, bs),
        with_score(al, after.score_kind, as_),
    ]];
    for (b, a) in before.classes.iter().zip(&after.classes) {
        rows.push(vec![
            b.label.clone(),
            score_text(before.score_kind, b.score),
            score_text(after.score_kind, a.score),
        ]);
    }
    let mut out = vec![
        format!(
            "{} v{} (sha256 {}) — row {} (line {}), edited: {}",
            after.model,
            after.version,
            short(&after.hash),
            after.row,
            after.line,
            if changed.is_empty() {
                "nothing changed".to_string()
            } else {
                changed.join(", ")
            }
        ),
        format!("  {}", values_text(after)),
    ];
    out.extend(
        table::render(&["", "before", "after"], &rows)
            .lines()
            .map(|l| format!("  {l}")),
    );
    if explain {
        out.push("before:".into());
        out.extend(
            explanation_lines(&before.explanation)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
        out.push("after:".into());
        out.extend(
            explanation_lines(&after.explanation)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
    }
    out.join("\n") + "\n"
}

// ---- JSON: plain objects for scripts (values by feature, scores by class) ----

fn values_json<'a>(values: impl Iterator<Item = (String, &'a FeatureValue)>) -> Value {
    Value::Object(values.map(|(k, v)| (k, feature_json(v))).collect())
}

/// A number as a number, text as a string, NULL as null.
fn feature_json(v: &FeatureValue) -> Value {
    match v {
        FeatureValue::Number(x) => json!(x),
        FeatureValue::Text(t) => json!(t),
        FeatureValue::Null => Value::Null,
    }
}

/// `label` and `score` (a class), `value` (a regressor) or `unscorable` (why not).
fn outcome_json(o: &Outcome) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    match o {
        Outcome::Class { label, score } => {
            m.insert("label".into(), json!(label));
            m.insert("score".into(), json!(score));
        }
        Outcome::Value { value } => {
            m.insert("value".into(), json!(value));
        }
        Outcome::Unscorable { reason } => {
            m.insert("unscorable".into(), json!(reason));
        }
    }
    m
}

fn classes_json(classes: &[ClassScore]) -> Value {
    Value::Object(
        classes
            .iter()
            .map(|c| (c.label.clone(), json!(c.score)))
            .collect(),
    )
}

fn listing_json(s: &ShowroomInfo) -> Value {
    json!({
        "model": s.model,
        "active": s.active,
        "rows": s.rows,
        "samples": s.samples,
        "problem": s.problem,
    })
}

fn view_json(v: &ShowroomView) -> Value {
    json!({
        "model": v.model,
        "version": v.version,
        "hash": v.hash,
        "algorithm": v.algorithm,
        "samples": v.samples,
        "columns": v.columns,
        "shown": v.shown,
        "features": v.features,
        "feature_types": v.feature_types,
        "labels": v.labels,
        "score_kind": v.score_kind.as_str(),
        "rows": v.rows.iter().enumerate().map(|(i, r)| {
            let mut row = serde_json::Map::new();
            row.insert("row".into(), json!(i + 1));
            row.insert("line".into(), json!(r.line));
            row.insert("cells".into(), json!(r.cells));
            row.insert("values".into(), values_json(v.features.iter().cloned().zip(r.values.iter())));
            row.extend(outcome_json(&r.outcome));
            row.insert("classes".into(), classes_json(&r.classes));
            Value::Object(row)
        }).collect::<Vec<_>>(),
    })
}

fn explanation_json(e: &Explanation) -> Value {
    match e {
        Explanation::Contributions {
            label,
            intercept,
            terms,
        } => json!({
            "kind": "contributions",
            "label": label,
            "intercept": intercept,
            "terms": terms.iter().map(|t| json!({
                "feature": t.feature,
                "value": t.value,
                "scaled": t.scaled,
                "weight": t.weight,
                "contribution": t.contribution,
            })).collect::<Vec<_>>(),
        }),
        Explanation::Path {
            steps,
            label,
            share,
        } => json!({
            "kind": "path",
            "label": label,
            "share": share,
            "steps": steps.iter().map(|s| json!({
                "feature": s.feature,
                "value": s.value,
                "threshold": s.threshold,
                "below": s.below,
            })).collect::<Vec<_>>(),
        }),
        Explanation::Votes { trees, votes } => json!({
            "kind": "votes",
            "trees": trees,
            "votes": Value::Object(votes.iter().map(|(l, n)| (l.clone(), json!(n))).collect()),
        }),
        Explanation::Unavailable { reason } => json!({
            "kind": "unavailable",
            "reason": reason,
        }),
        Explanation::ValueContributions { intercept, terms } => json!({
            "kind": "value-contributions",
            "intercept": intercept,
            "terms": terms.iter().map(|t| json!({
                "feature": t.feature,
                "value": t.value,
                "scaled": t.scaled,
                "weight": t.weight,
                "contribution": t.contribution,
            })).collect::<Vec<_>>(),
        }),
        Explanation::ValuePath { steps, value } => json!({
            "kind": "value-path",
            "value": value,
            "steps": steps.iter().map(|s| json!({
                "feature": s.feature,
                "value": s.value,
                "threshold": s.threshold,
                "below": s.below,
            })).collect::<Vec<_>>(),
        }),
        Explanation::TreeValues { trees, min, max } => json!({
            "kind": "tree-values",
            "trees": trees,
            "min": min,
            "max": max,
        }),
    }
}

fn prediction_json(p: &ShowroomPrediction) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("model".into(), json!(p.model));
    m.insert("version".into(), json!(p.version));
    m.insert("hash".into(), json!(p.hash));
    m.insert("row".into(), json!(p.row));
    m.insert("line".into(), json!(p.line));
    m.insert("edited".into(), json!(p.edited));
    m.insert(
        "values".into(),
        values_json(p.values.iter().map(|(k, v)| (k.clone(), v))),
    );
    m.extend(outcome_json(&p.outcome));
    m.insert("score_kind".into(), json!(p.score_kind.as_str()));
    m.insert("classes".into(), classes_json(&p.classes));
    m.insert("explanation".into(), explanation_json(&p.explanation));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mld_shared::protocol::{ContributionInfo, PathStepInfo};

    #[test]
    fn set_pairs_are_sent_as_typed_or_a_clear_error() {
        // As typed: the daemon reads each as its feature's type.
        assert_eq!(
            parse_set(&["petal_length = 5".into(), "plan=pro".into()]).unwrap(),
            vec![
                ("petal_length".into(), FeatureValue::Text("5".into())),
                ("plan".into(), FeatureValue::Text("pro".into()))
            ]
        );
        let err = parse_set(&["petal_length".into()]).unwrap_err().to_string();
        assert_eq!(err, "--set takes FEATURE=VALUE, got \"petal_length\"");
    }

    #[test]
    fn a_regressors_absent_categories_are_one_line_and_the_sum_still_adds_up() {
        let term = |feature: &str, value: f64, weight: f64| ContributionInfo {
            feature: feature.into(),
            value,
            scaled: value,
            weight,
            contribution: weight * value,
        };
        let lines = explanation_lines(&Explanation::ValueContributions {
            intercept: 53.0,
            terms: vec![
                term("tenure", 40.0, 2.5),
                term("country=it", 1.0, -8.0),
                term("plan=basic", 0.0, -35.5),
                term("plan=team", 0.0, 53.8),
                term("country=de", 0.0, -17.7),
            ],
        });
        let text = lines.join("\n");
        assert!(text.contains("country=it"), "{text}");
        assert!(text.contains("(3 categories absent)"), "{text}");
        assert!(
            !text.contains("plan=basic") && !text.contains("-0.000"),
            "{text}"
        );
        assert!(text.contains("value: 145"), "{text}");
    }

    #[test]
    fn explanations_read_top_to_bottom() {
        let lines = explanation_lines(&Explanation::Contributions {
            label: "yes".into(),
            intercept: 0.5,
            terms: vec![
                ContributionInfo {
                    feature: "a".into(),
                    value: 12.0,
                    scaled: 1.0,
                    weight: 1.5,
                    contribution: 1.5,
                },
                ContributionInfo {
                    feature: "b".into(),
                    value: 3.0,
                    scaled: 4.0,
                    weight: -0.25,
                    contribution: -1.0,
                },
            ],
        });
        assert_eq!(
            lines,
            [
                "why yes: each feature's weight × scaled value, largest first",
                "  feature      value  scaled  weight  contribution",
                "  a            12     1.000   1.500   +1.500",
                "  b            3      4.000   -0.250  -1.000",
                "  (intercept)                         +0.500",
                "  yes's score: +1.000",
            ]
        );
        let lines = explanation_lines(&Explanation::Path {
            steps: vec![
                PathStepInfo {
                    feature: "petal_length".into(),
                    value: 5.0,
                    threshold: Some(2.45),
                    below: false,
                },
                PathStepInfo {
                    feature: "petal_width".into(),
                    value: 0.2,
                    threshold: Some(1.75),
                    below: true,
                },
            ],
            label: "versicolor".into(),
            share: 0.9,
        });
        assert_eq!(
            lines,
            [
                "why versicolor: the tree's tests from its root to a leaf",
                "  petal_length = 5 ≥ 2.45",
                "  petal_width = 0.2 < 1.75",
                "  → versicolor (90% of the leaf's training rows)",
            ]
        );
    }

    #[test]
    fn class_scores_show_as_bars_only_where_they_are_shares() {
        let classes = vec![
            ClassScore {
                label: "setosa".into(),
                score: Some(0.75),
            },
            ClassScore {
                label: "virginica".into(),
                score: None,
            },
        ];
        assert_eq!(
            class_lines(ScoreKind::LeafShare, &classes, 8),
            ["setosa     0.750       ██████", "virginica  —"]
        );
        assert_eq!(
            class_lines(ScoreKind::Margin, &classes[..1], 8),
            ["setosa  +0.750"]
        );
    }
}
