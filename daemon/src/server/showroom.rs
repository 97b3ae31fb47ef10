//! Handlers of the showroom requests (`Showrooms`, `OpenShowroom`,
//! `ShowroomPredict`, and `Predict` — a record given whole), then the
//! conversions from the showroom's results to wire types.
//!
//! Receives the requests [`super::handlers::handle`] routes here (the
//! `showroom` role already checked). Asks the [`Showroom`] owner, then writes
//! the request's predictions through the event log's owner in one job and
//! answers only once that job is committed: an acknowledged prediction is a
//! recorded one. Emits wire answers.
//!
//! [`Showroom`]: crate::showroom::Showroom

use crate::access::Peer;
use crate::context::Context;
use crate::model::input::Value;
use crate::model::{self, ScoreKind as InnerKind};
use crate::showroom::{Given, Opened, Predicted, ShowroomError, VersionInfo, store};
use mld_shared::protocol::*;
use std::sync::Arc;

use super::handlers::Answer;

pub async fn handle(ctx: &Arc<Context>, peer: &Peer, request: Request) -> Answer {
    match request {
        Request::Showrooms => showrooms(ctx).await,
        Request::OpenShowroom { model } => open(ctx, peer, model).await,
        Request::ShowroomPredict { model, row, set } => predict(ctx, peer, model, row, set).await,
        Request::Predict {
            model,
            version,
            input,
        } => predict_given(ctx, peer, model, version, input).await,
        other => Err(WireError::new(
            ErrorKind::Internal,
            format!("{} is not a showroom request", other.name()),
        )),
    }
}

fn showroom_error(e: ShowroomError) -> WireError {
    match e {
        ShowroomError::NoShowroom { .. } | ShowroomError::NoRow { .. } => {
            WireError::new(ErrorKind::NotFound, e.to_string())
        }
        // The file is the operator's to fix; the request was fine.
        ShowroomError::Samples(_) => WireError::new(ErrorKind::Unavailable, e.to_string()),
        ShowroomError::Model(m) => super::models::model_error(m),
        ShowroomError::Input(_) => WireError::new(ErrorKind::InvalidRequest, e.to_string()),
        ShowroomError::Stopped => WireError::new(ErrorKind::Unavailable, e.to_string()),
    }
}

/// Writes one request's predictions in one event-log job and waits for its commit.
async fn record(ctx: &Context, records: Vec<store::Record>) -> Result<(), WireError> {
    ctx.eventlog
        .write(move |tx| store::record(tx, &records))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not record showroom predictions");
            WireError::new(
                ErrorKind::Unavailable,
                format!(
                    "the prediction could not be recorded in the event log, so it is not shown: {e}"
                ),
            )
        })
}

async fn showrooms(ctx: &Context) -> Answer {
    let list = ctx.showroom.list().await.map_err(showroom_error)?;
    Ok(Response::Showrooms(
        list.into_iter()
            .map(|l| ShowroomInfo {
                model: l.model,
                samples: l.samples.display().to_string(),
                rows: l.rows.map(|n| n as u32),
                active: l.active,
                problem: l.problem,
            })
            .collect(),
    ))
}

async fn open(ctx: &Context, peer: &Peer, model: String) -> Answer {
    let mut opened = ctx
        .showroom
        .open(&model, &peer.user)
        .await
        .map_err(showroom_error)?;
    record(ctx, std::mem::take(&mut opened.records)).await?;
    Ok(Response::Showroom(Box::new(view(&opened))))
}

async fn predict(
    ctx: &Context,
    peer: &Peer,
    model: String,
    row: u32,
    set: Vec<(String, FeatureValue)>,
) -> Answer {
    let set = set.into_iter().map(|(k, v)| (k, value(v))).collect();
    let p = ctx
        .showroom
        .predict(&model, row, set, &peer.user)
        .await
        .map_err(showroom_error)?;
    record(ctx, vec![p.record.clone()]).await?;
    Ok(Response::ShowroomPrediction(Box::new(prediction(&p))))
}

async fn predict_given(
    ctx: &Context,
    peer: &Peer,
    model: String,
    version: Option<u32>,
    input: PredictInput,
) -> Answer {
    let given = match input {
        PredictInput::Positional(v) => Given::Positional(v),
        PredictInput::Named(v) => Given::Named(v),
        PredictInput::Cells(v) => Given::Cells(v),
        PredictInput::NamedCells(v) => Given::NamedCells(v),
    };
    let p = ctx
        .showroom
        .predict_given(&model, version, given, &peer.user)
        .await
        .map_err(showroom_error)?;
    if let model::Scored::Refused(reason) = &p.scored {
        return Err(WireError::new(ErrorKind::InvalidRequest, reason.clone()));
    }
    let result = PredictionResult {
        model: p.version.model.clone(),
        version: p.version.version,
        label: p.record.label.clone(),
        score: p.record.score,
        features: p
            .record
            .values
            .iter()
            .filter_map(|(k, v)| v.as_number().map(|x| (k.clone(), x)))
            .collect(),
        value: p.record.value,
        values: p
            .record
            .values
            .iter()
            .map(|(k, v)| (k.clone(), feature_value(v)))
            .collect(),
    };
    record(ctx, vec![p.record]).await?;
    Ok(Response::Prediction(Box::new(result)))
}

// ---- convert: showroom results → wire types ----

pub fn score_kind(k: InnerKind) -> ScoreKind {
    match k {
        InnerKind::Probability => ScoreKind::Probability,
        InnerKind::LeafShare => ScoreKind::LeafShare,
        InnerKind::VoteShare => ScoreKind::VoteShare,
        InnerKind::Margin => ScoreKind::Margin,
        InnerKind::Unscored => ScoreKind::Unscored,
        InnerKind::Value => ScoreKind::Value,
    }
}

fn value(v: FeatureValue) -> Value {
    match v {
        FeatureValue::Number(x) => Value::Number(x),
        FeatureValue::Text(t) => Value::Text(t),
        FeatureValue::Null => Value::Null,
    }
}

fn feature_value(v: &Value) -> FeatureValue {
    match v {
        Value::Number(x) => FeatureValue::Number(*x),
        Value::Text(t) => FeatureValue::Text(t.clone()),
        Value::Null => FeatureValue::Null,
    }
}

fn outcome(v: &VersionInfo, s: &model::Scored) -> Outcome {
    match s {
        model::Scored::Class {
            class_index, score, ..
        } => Outcome::Class {
            label: v.labels[*class_index].clone(),
            score: *score,
        },
        model::Scored::Value(x) => Outcome::Value { value: *x },
        model::Scored::Refused(reason) => Outcome::Unscorable {
            reason: reason.clone(),
        },
    }
}

fn classes(v: &VersionInfo, s: &model::Scored) -> Vec<ClassScore> {
    match s {
        model::Scored::Class { classes, .. } => v
            .labels
            .iter()
            .zip(classes)
            .map(|(label, score)| ClassScore {
                label: label.clone(),
                score: *score,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn feature_types(v: &VersionInfo) -> Vec<String> {
    v.kinds.iter().map(|k| k.name().to_string()).collect()
}

fn view(o: &Opened) -> ShowroomView {
    let v = &o.version;
    ShowroomView {
        model: v.model.clone(),
        version: v.version,
        hash: v.hash.clone(),
        algorithm: v.algorithm.clone(),
        samples: o.samples.path.display().to_string(),
        columns: o.samples.header.clone(),
        shown: o.shown,
        features: v.features.clone(),
        labels: v.labels.clone(),
        score_kind: score_kind(v.score_kind),
        rows: o
            .samples
            .records
            .iter()
            .zip(&o.values.rows)
            .zip(&o.scored)
            .map(|((r, values), s)| SampleRow {
                line: r.line,
                cells: r.cells.clone(),
                values: values.iter().map(feature_value).collect(),
                outcome: outcome(v, s),
                classes: classes(v, s),
            })
            .collect(),
        feature_types: feature_types(v),
    }
}

fn prediction(p: &Predicted) -> ShowroomPrediction {
    let v = &p.version;
    ShowroomPrediction {
        model: v.model.clone(),
        version: v.version,
        hash: v.hash.clone(),
        row: p.row,
        line: p.line,
        edited: p.edited,
        values: v
            .features
            .iter()
            .zip(&p.values)
            .map(|(f, x)| (f.clone(), feature_value(x)))
            .collect(),
        outcome: outcome(v, &p.scored),
        classes: classes(v, &p.scored),
        score_kind: score_kind(v.score_kind),
        explanation: explanation(v, &p.explanation),
    }
}

fn explanation(v: &VersionInfo, e: &model::Explanation) -> Explanation {
    // Explanations index the columns the predictor sees.
    let feature = |j: usize| v.encoded_features.get(j).cloned().unwrap_or_default();
    let terms = |terms: &[model::Contribution]| {
        terms
            .iter()
            .map(|t| ContributionInfo {
                feature: feature(t.feature),
                value: t.value,
                scaled: t.scaled,
                weight: t.weight,
                contribution: t.contribution,
            })
            .collect()
    };
    let steps = |steps: &[model::PathStep]| {
        steps
            .iter()
            .map(|s| PathStepInfo {
                feature: feature(s.feature),
                value: s.value,
                threshold: s.threshold,
                below: s.below,
            })
            .collect()
    };
    let label = |k: usize| v.labels.get(k).cloned().unwrap_or_default();
    match e {
        model::Explanation::Contributions {
            class_index,
            intercept,
            terms,
        } => Explanation::Contributions {
            label: label(*class_index),
            intercept: *intercept,
            terms: terms
                .iter()
                .map(|t| ContributionInfo {
                    feature: feature(t.feature),
                    value: t.value,
                    scaled: t.scaled,
                    weight: t.weight,
                    contribution: t.contribution,
                })
                .collect(),
        },
        model::Explanation::Path {
            steps,
            leaf_class,
            leaf_share,
        } => Explanation::Path {
            steps: steps
                .iter()
                .map(|s| PathStepInfo {
                    feature: feature(s.feature),
                    value: s.value,
                    threshold: s.threshold,
                    below: s.below,
                })
                .collect(),
            label: label(*leaf_class),
            share: *leaf_share,
        },
        model::Explanation::Votes { trees, votes } => Explanation::Votes {
            trees: *trees as u32,
            votes: votes
                .iter()
                .enumerate()
                .map(|(k, n)| (label(k), *n))
                .collect(),
        },
        model::Explanation::Unavailable { reason } => Explanation::Unavailable {
            reason: reason.clone(),
        },
        model::Explanation::ValueContributions {
            intercept,
            terms: t,
        } => Explanation::ValueContributions {
            intercept: *intercept,
            terms: terms(t),
        },
        model::Explanation::ValuePath { steps: s, value } => Explanation::ValuePath {
            steps: steps(s),
            value: *value,
        },
        model::Explanation::TreeValues { trees, min, max } => Explanation::TreeValues {
            trees: *trees as u32,
            min: *min,
            max: *max,
        },
    }
}
