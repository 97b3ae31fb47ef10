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
    let set = set
        .into_iter()
        .map(|(k, v)| match v {
            FeatureValue::Number(x) => (k, x),
        })
        .collect();
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
    };
    let p = ctx
        .showroom
        .predict_given(&model, version, given, &peer.user)
        .await
        .map_err(showroom_error)?;
    let result = PredictionResult {
        model: p.version.model.clone(),
        version: p.version.version,
        label: p.record.label.clone(),
        score: p.scored.score,
        features: p.record.values.clone(),
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
    }
}

fn outcome(v: &VersionInfo, s: &model::Scored) -> Outcome {
    Outcome::Class {
        label: v.labels[s.class_index].clone(),
        score: s.score,
    }
}

fn classes(v: &VersionInfo, s: &model::Scored) -> Vec<ClassScore> {
    v.labels
        .iter()
        .zip(&s.classes)
        .map(|(label, score)| ClassScore {
            label: label.clone(),
            score: *score,
        })
        .collect()
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
            .zip(o.values.values.rows())
            .zip(&o.scored)
            .map(|((r, values), s)| SampleRow {
                line: r.line,
                cells: r.cells.clone(),
                values: values.iter().map(|x| FeatureValue::Number(*x)).collect(),
                outcome: outcome(v, s),
                classes: classes(v, s),
            })
            .collect(),
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
            .map(|(f, x)| (f.clone(), FeatureValue::Number(*x)))
            .collect(),
        outcome: outcome(v, &p.scored),
        classes: classes(v, &p.scored),
        score_kind: score_kind(v.score_kind),
        explanation: explanation(v, &p.explanation),
    }
}

fn explanation(v: &VersionInfo, e: &model::Explanation) -> Explanation {
    let feature = |j: usize| v.features.get(j).cloned().unwrap_or_default();
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
    }
}
