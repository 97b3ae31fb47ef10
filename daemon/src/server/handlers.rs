//! One plain function per request. Each does its work through the context's
//! handles and answers with a wire type; [`authorize`] has already checked
//! the role the request needs.

use super::convert;
use crate::access::Peer;
use crate::context::Context;
use crate::dispatch::{DispatchError, store};
use crate::scheduler::SchedulerError;
use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::*;
use mld_shared::roles::Role;
use mld_shared::time::WireTime;
use std::sync::Arc;

pub type Answer = Result<Response, WireError>;

/// The role a request needs; `None` for requests anyone connected may make.
pub fn required_role(request: &Request) -> Option<Role> {
    match request {
        Request::Ping | Request::Status => None,
        Request::Subscribe
        | Request::Unsubscribe
        | Request::Jobs
        | Request::Slots { .. }
        | Request::JobHistory { .. }
        | Request::Dispatches { .. }
        | Request::Dispatch { .. }
        | Request::DispatchPredictions { .. }
        | Request::DispatchPredictionsBefore { .. }
        | Request::TrainingRuns { .. }
        | Request::CheckTraining(_)
        | Request::Models
        | Request::Catalog
        | Request::TrainingRun { .. }
        | Request::Experiments
        | Request::Experiment { .. }
        | Request::DispatchShards { .. } => Some(Role::Dispatch),
        Request::Predict { .. }
        | Request::Showrooms
        | Request::OpenShowroom { .. }
        | Request::ShowroomPredict { .. } => Some(Role::Showroom),
        Request::EnableJob { .. }
        | Request::DisableJob { .. }
        | Request::RunJob { .. }
        | Request::DryRun { .. }
        | Request::CancelDispatch { .. }
        | Request::Train(_)
        | Request::CancelTraining { .. }
        | Request::DeleteExperiment { .. }
        | Request::CommitExperiment { .. }
        | Request::ActivateModel { .. }
        | Request::ImportOnnx { .. }
        | Request::Reload
        | Request::RetryDispatch { .. } => Some(Role::Admin),
    }
}

/// Refuses (and records) a request the peer's roles do not allow.
pub async fn authorize(ctx: &Context, peer: &Peer, request: &Request) -> Result<(), WireError> {
    let Some(needed) = required_role(request) else {
        return Ok(());
    };
    if peer.roles.has(needed) {
        return Ok(());
    }
    let name = request.name();
    ctx.denials.record(peer, name, needed.as_str()).await;
    Err(WireError::new(
        ErrorKind::PermissionDenied,
        format!("permission denied: {name} needs {needed}"),
    ))
}

/// Answers every request except the subscription ones, which belong to the connection.
pub async fn handle(ctx: &Arc<Context>, peer: &Peer, request: Request) -> Answer {
    match request {
        Request::Ping => Ok(Response::Pong),
        Request::Status => Ok(Response::Status(convert::status(ctx))),
        Request::Subscribe | Request::Unsubscribe => Err(WireError::new(
            ErrorKind::Internal,
            "subscriptions are handled by the connection",
        )),
        Request::Jobs => Ok(Response::Jobs(convert::jobs(ctx).await)),
        Request::EnableJob { job, reason } => enable(ctx, peer, job, reason).await,
        Request::DisableJob { job, reason, until } => disable(ctx, peer, job, reason, until).await,
        Request::RunJob { job } => run(ctx, peer, job).await,
        Request::DryRun { job, rows } => dry_run(ctx, job, rows).await,
        Request::Slots { job, since } => slots(ctx, job, since).await,
        Request::JobHistory { job } => history(ctx, job).await,
        Request::Dispatches {
            from,
            to,
            job,
            limit,
        } => dispatches(ctx, from, to, job, limit).await,
        Request::Dispatch { id } => dispatch(ctx, id).await,
        Request::DispatchShards { id } => shards(ctx, id).await,
        Request::DispatchPredictions {
            id,
            after_key,
            filter,
            limit,
        } => predictions(ctx, id, Page::After(after_key), filter, limit).await,
        Request::DispatchPredictionsBefore {
            id,
            before_key,
            filter,
            limit,
        } => predictions(ctx, id, Page::Before(before_key), filter, limit).await,
        Request::CancelDispatch { id } => cancel(ctx, peer, id),
        Request::Reload => reload(ctx, peer).await,
        Request::RetryDispatch { id } => retry(ctx, peer, id).await,
        Request::Models
        | Request::Catalog
        | Request::Train(_)
        | Request::TrainingRun { .. }
        | Request::CancelTraining { .. }
        | Request::Experiments
        | Request::Experiment { .. }
        | Request::DeleteExperiment { .. }
        | Request::CommitExperiment { .. }
        | Request::ActivateModel { .. }
        | Request::ImportOnnx { .. }
        | Request::TrainingRuns { .. }
        | Request::CheckTraining(_) => super::models::handle(ctx, peer, request).await,
        Request::Predict { .. }
        | Request::Showrooms
        | Request::OpenShowroom { .. }
        | Request::ShowroomPredict { .. } => super::showroom::handle(ctx, peer, request).await,
    }
}

fn scheduler_error(e: SchedulerError) -> WireError {
    let kind = match &e {
        SchedulerError::UnknownJob(_) | SchedulerError::UnknownDispatch { .. } => {
            ErrorKind::NotFound
        }
        SchedulerError::JobInvalid { .. }
        | SchedulerError::NoChange { .. }
        | SchedulerError::AlreadyRunning { .. } => ErrorKind::Conflict,
        SchedulerError::UntilInPast { .. } => ErrorKind::InvalidRequest,
        SchedulerError::Start { .. } | SchedulerError::Store(_) => ErrorKind::Internal,
        SchedulerError::Stopped => ErrorKind::Unavailable,
    };
    WireError::new(kind, e.to_string())
}

fn internal(e: impl std::fmt::Display) -> WireError {
    WireError::new(ErrorKind::Internal, e.to_string())
}

async fn enable(ctx: &Context, peer: &Peer, job: JobName, reason: Option<String>) -> Answer {
    let view = ctx
        .scheduler
        .enable(&job, &peer.user, reason)
        .await
        .map_err(scheduler_error)?;
    tracing::info!(job = %job, by = %peer.user, "job enabled");
    ctx.jobs_changed.notify_one();
    Ok(Response::JobChanged(Box::new(convert::job(ctx, &view))))
}

async fn disable(
    ctx: &Context,
    peer: &Peer,
    job: JobName,
    reason: Option<String>,
    until: Option<WireTime>,
) -> Answer {
    let until = until.map(WireTime::to_timestamp);
    let view = ctx
        .scheduler
        .disable(&job, &peer.user, reason, until)
        .await
        .map_err(scheduler_error)?;
    tracing::info!(job = %job, by = %peer.user, "job disabled");
    ctx.jobs_changed.notify_one();
    Ok(Response::JobChanged(Box::new(convert::job(ctx, &view))))
}

async fn run(ctx: &Context, peer: &Peer, job: JobName) -> Answer {
    let outcome = ctx
        .scheduler
        .run_now(&job, &peer.user)
        .await
        .map_err(scheduler_error)?;
    ctx.jobs_changed.notify_one();
    Ok(Response::Run(match outcome {
        crate::scheduler::RunNow::Started(id) => RunOutcome::Started(id),
        crate::scheduler::RunNow::Queued { behind } => RunOutcome::Queued { behind },
    }))
}

async fn dry_run(ctx: &Arc<Context>, job: JobName, rows: u32) -> Answer {
    let max = max_rows(ctx);
    if rows > max {
        return Err(too_many("dry-run rows", rows.into(), max));
    }
    let service = ctx.dispatches.clone();
    let name = job.0.clone();
    let result = tokio::task::spawn_blocking(move || service.dry_run_blocking(&name, rows))
        .await
        .map_err(internal)?
        .map_err(|e| {
            let kind = match e {
                DispatchError::UnknownJob(_)
                | DispatchError::NotRunning(_)
                | DispatchError::NoSuchDispatch(_) => ErrorKind::NotFound,
                DispatchError::CannotRetry { .. } => ErrorKind::Conflict,
                // The job's query does not fit its model: the job must change.
                DispatchError::Read { .. } => ErrorKind::InvalidRequest,
                DispatchError::Model { .. } | DispatchError::Datalake { .. } => {
                    ErrorKind::Unavailable
                }
                DispatchError::EventLog(_) => ErrorKind::Internal,
            };
            WireError::new(kind, e.to_string())
        })?;
    let config = ctx.config();
    let cfg = config
        .jobs
        .iter()
        .find(|j| j.name == job.0)
        .ok_or_else(|| internal("job vanished"))?;
    let columns: Vec<String> = cfg
        .results_columns
        .named()
        .iter()
        .map(|(_, c)| c.to_string())
        .collect();
    Ok(Response::DryRun(Box::new(DryRunResult {
        job: job.clone(),
        model: result.model,
        model_version: result.model_version,
        results_table: cfg.results_table.clone(),
        columns,
        predictions: result
            .predictions
            .into_iter()
            .map(|(row_key, label, score, value)| PredictionInfo {
                row_key,
                label,
                score,
                value,
            })
            .collect(),
        unscorable: result
            .unscorable
            .into_iter()
            .map(|u| UnscorableInfo {
                row_key: u.key,
                reason: u.reason,
            })
            .collect(),
        would_write: result
            .would_write
            .into_iter()
            .map(|r| {
                vec![
                    "(this dispatch)".to_string(),
                    r.row_key,
                    match r.value {
                        Some(v) => v.to_string(),
                        None => r.prediction,
                    },
                    match r.value {
                        Some(_) => "NULL".to_string(),
                        None => r.score.to_string(),
                    },
                    r.model_version,
                    r.scored_at.to_string(),
                ]
            })
            .collect(),
    })))
}

/// The most records one answer lists (`limits.max_rows`).
fn max_rows(ctx: &Context) -> u32 {
    ctx.config().limits.max_rows.max(1)
}

/// A request for more rows than one answer carries: say so instead of
/// building an answer that would not fit.
fn too_many(what: &str, asked: u64, max: u32) -> WireError {
    WireError::new(
        ErrorKind::InvalidRequest,
        format!(
            "too large: {asked} {what} asked for, at most {max} per request (limits.max_rows); narrow the window or ask for fewer"
        ),
    )
}

async fn slots(ctx: &Context, job: JobName, since: WireTime) -> Answer {
    let max = max_rows(ctx);
    // One more than allowed tells "too many" without reading them all.
    let slots = ctx
        .scheduler
        .slots(&job, since.to_timestamp(), max as usize + 1)
        .await
        .map_err(scheduler_error)?;
    if slots.len() > max as usize {
        return Err(WireError::new(
            ErrorKind::InvalidRequest,
            format!(
                "too large: job {job} has more than {max} slot decisions since {} (limits.max_rows); narrow the window: ask from a later instant",
                since.to_timestamp()
            ),
        ));
    }
    Ok(Response::Slots(slots.iter().map(convert::slot).collect()))
}

async fn history(ctx: &Context, job: JobName) -> Answer {
    let changes = ctx.scheduler.history(&job).await.map_err(scheduler_error)?;
    Ok(Response::JobHistory(
        changes.iter().map(convert::state_change).collect(),
    ))
}

async fn dispatches(
    ctx: &Context,
    from: WireTime,
    to: WireTime,
    job: Option<JobName>,
    limit: u32,
) -> Answer {
    if to < from {
        return Err(WireError::new(
            ErrorKind::InvalidRequest,
            "the window ends before it starts",
        ));
    }
    let max = max_rows(ctx);
    if limit > max {
        return Err(too_many("dispatches", limit.into(), max));
    }
    let limit = limit.max(1);
    let records = ctx
        .eventlog
        .read(move |c| {
            store::list(
                c,
                from.to_timestamp(),
                to.to_timestamp(),
                job.as_ref().map(|j| j.0.as_str()),
                limit,
            )
        })
        .await
        .map_err(internal)?;
    Ok(Response::Dispatches(
        records.iter().map(convert::dispatch_summary).collect(),
    ))
}

async fn shards(ctx: &Context, id: DispatchId) -> Answer {
    let found = ctx
        .eventlog
        .read(move |c| {
            if store::get(c, id)?.is_none() {
                return Ok(None);
            }
            crate::scaleout::store::list(c, id).map(Some)
        })
        .await
        .map_err(internal)?;
    let Some(shards) = found else {
        return Err(WireError::new(
            ErrorKind::NotFound,
            format!("no dispatch {id}"),
        ));
    };
    Ok(Response::Shards(
        shards.iter().map(convert::shard).collect(),
    ))
}

async fn dispatch(ctx: &Context, id: DispatchId) -> Answer {
    let found = ctx
        .eventlog
        .read(move |c| {
            let Some(rec) = store::get(c, id)? else {
                return Ok(None);
            };
            let events = store::events(c, id)?;
            let classes = store::class_counts(c, id)?;
            let unscorable = store::unscorable(c, id, 100)?;
            let values = store::value_summary(c, id)?;
            Ok(Some((rec, events, classes, unscorable, values)))
        })
        .await
        .map_err(internal)?;
    let Some((rec, events, class_counts, unscorable, values)) = found else {
        return Err(WireError::new(
            ErrorKind::NotFound,
            format!("no dispatch {id}"),
        ));
    };
    Ok(Response::Dispatch(Box::new(DispatchDetail {
        summary: convert::dispatch_summary(&rec),
        events: events.iter().map(convert::event).collect(),
        class_counts,
        unscorable: unscorable
            .into_iter()
            .map(|u| UnscorableInfo {
                row_key: u.key,
                reason: u.reason,
            })
            .collect(),
        values: values.map(|(summary, buckets)| convert::value_histogram(summary, &buckets)),
    })))
}

async fn predictions(
    ctx: &Context,
    id: DispatchId,
    page: Page,
    filter: Option<String>,
    limit: u32,
) -> Answer {
    let max = max_rows(ctx);
    if limit > max {
        return Err(too_many("predictions", limit.into(), max));
    }
    let limit = limit.max(1);
    // Paging forward, a short page is the last; the page before a key has
    // rows after it (that key); the page before nothing is the last.
    let more_after = match &page {
        Page::After(_) => None,
        Page::Before(key) => Some(key.is_some()),
    };
    let answer = ctx
        .eventlog
        .read(move |c| {
            if store::get(c, id)?.is_none() {
                return Ok(None);
            }
            let total = store::count_predictions(c, id, filter.as_deref())?;
            let rows = match &page {
                Page::After(key) => {
                    store::predictions(c, id, key.as_deref(), filter.as_deref(), limit)?
                }
                Page::Before(key) => {
                    store::predictions_before(c, id, key.as_deref(), filter.as_deref(), limit)?
                }
            };
            Ok(Some((total, rows)))
        })
        .await
        .map_err(internal)?;
    let Some((total, rows)) = answer else {
        return Err(WireError::new(
            ErrorKind::NotFound,
            format!("no dispatch {id}"),
        ));
    };
    let next_after = if more_after.unwrap_or(rows.len() as u32 == limit) {
        rows.last().map(|r| r.row_key.clone())
    } else {
        None
    };
    Ok(Response::Predictions(PredictionPage {
        total,
        rows: rows
            .into_iter()
            .map(|p| PredictionInfo {
                row_key: p.row_key,
                label: p.label,
                score: p.score,
                value: p.value,
            })
            .collect(),
        next_after,
    }))
}

/// Which page of predictions: after a key (from the first), or before one
/// (from the last).
enum Page {
    After(Option<String>),
    Before(Option<String>),
}

fn cancel(ctx: &Context, peer: &Peer, id: DispatchId) -> Answer {
    ctx.dispatches
        .cancel(id)
        .map_err(|e| WireError::new(ErrorKind::NotFound, e.to_string()))?;
    tracing::info!(dispatch = %id, by = %peer.user, "dispatch cancel requested");
    Ok(Response::Cancelled { id })
}

async fn reload(ctx: &Arc<Context>, peer: &Peer) -> Answer {
    match crate::reload::reload(ctx, &peer.user).await {
        Ok(report) => Ok(Response::Reloaded(ReloadInfo {
            file: report.file.display().to_string(),
            changes: report.changes,
        })),
        Err(e @ crate::reload::ReloadError::Invalid(_)) => {
            Err(WireError::new(ErrorKind::InvalidRequest, e.to_string()))
        }
        Err(e) => Err(internal(e)),
    }
}

async fn retry(ctx: &Arc<Context>, peer: &Peer, id: DispatchId) -> Answer {
    let service = ctx.dispatches.clone();
    let by = peer.user.clone();
    tokio::task::spawn_blocking(move || service.retry_blocking(id, &by))
        .await
        .map_err(internal)?
        .map_err(|e| {
            let kind = match e {
                DispatchError::NoSuchDispatch(_) => ErrorKind::NotFound,
                DispatchError::CannotRetry { .. } => ErrorKind::Conflict,
                DispatchError::Datalake { .. } => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            };
            WireError::new(kind, e.to_string())
        })?;
    ctx.jobs_changed.notify_one();
    Ok(Response::Retrying { id })
}
