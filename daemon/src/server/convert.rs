//! Internal state → wire types. The only place that knows both.

use crate::context::Context;
use crate::dispatch::record::{self, DispatchRecord, EventRecord};
use crate::scheduler::{self, JobView, SlotRecord as InternalSlot, StateChange};
use mld_shared::ids::JobName;
use mld_shared::protocol::*;
use mld_shared::time::WireTime;

fn t(ts: jiff::Timestamp) -> WireTime {
    ts.into()
}

pub fn status(ctx: &Context) -> DaemonStatus {
    let now = jiff::Timestamp::now();
    let uptime = now.duration_since(ctx.started_at).as_millis().max(0) as u64;
    DaemonStatus {
        daemon_version: mld_shared::VERSION.to_string(),
        protocol_version: PROTOCOL_VERSION,
        pid: std::process::id(),
        started_at: ctx.started_at.into(),
        uptime_ms: uptime,
        jobs_configured: ctx.config().jobs.len() as u32,
        running_dispatches: ctx.dispatches.running_count() as u32,
        connected_clients: ctx.clients(),
    }
}

fn kebab(s: &str) -> String {
    s.replace('_', "-")
}

pub fn job(ctx: &Context, v: &JobView) -> JobSummary {
    let config = ctx.config();
    let cfg = config.jobs.iter().find(|j| j.name == v.name.0);
    JobSummary {
        name: v.name.clone(),
        state: match &v.state {
            scheduler::JobState::Active => JobState::Active,
            scheduler::JobState::Disabled(p) => JobState::Disabled {
                by: p.by.clone(),
                at: t(p.at),
                reason: p.reason.clone(),
                until: p.until.map(t),
            },
            scheduler::JobState::Invalid { reason } => JobState::Invalid {
                reason: reason.clone(),
            },
        },
        schedule: v.schedule.clone(),
        timezone: v.timezone.clone(),
        model: cfg.map(|c| c.model.clone()).unwrap_or_default(),
        datalake: cfg.map(|c| c.datalake.clone()).unwrap_or_default(),
        last_dispatch: v.last_dispatch.map(|l| t(l.at)),
        next_dispatch: v.next_dispatch.map(t),
        running: v.running,
        overlap: kebab(&format!("{:?}", v.overlap).to_ascii_lowercase()),
        missed: match v.missed {
            mld_shared::config::MissedPolicy::Skip => "skip".into(),
            mld_shared::config::MissedPolicy::RunOnce => "run-once".into(),
        },
    }
}

pub async fn jobs(ctx: &Context) -> Vec<JobSummary> {
    match ctx.scheduler.jobs().await {
        Ok(views) => views.iter().map(|v| job(ctx, v)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "the scheduler did not answer");
            Vec::new()
        }
    }
}

pub async fn snapshot(ctx: &Context) -> Snapshot {
    let jobs = jobs(ctx).await;
    let health = ctx.health.borrow().clone();
    Snapshot {
        taken_at: WireTime::now(),
        status: status(ctx),
        health,
        jobs,
    }
}

pub fn slot(s: &InternalSlot) -> SlotRecord {
    use scheduler::SlotDecision as D;
    let (decision, dispatch) = match &s.decision {
        D::Ran { dispatch } => ("ran", Some(*dispatch)),
        D::SkippedOverlap { running } => ("skipped-overlap", Some(*running)),
        D::Queued { dispatch } => ("queued", *dispatch),
        D::SkippedDisabled => ("skipped-disabled", None),
        D::Missed => ("missed", None),
        D::CaughtUp { dispatch } => ("caught-up", Some(*dispatch)),
        D::StartFailed { .. } => ("start-failed", None),
        D::Summary {
            kind: scheduler::GapKind::Missed,
            ..
        } => ("missed-summary", None),
        D::Summary {
            kind: scheduler::GapKind::Disabled,
            ..
        } => ("disabled-summary", None),
    };
    SlotRecord {
        slot: t(s.slot),
        decided_at: t(s.decided_at),
        decision: decision.to_string(),
        dispatch,
        detail: s.decision.to_string(),
    }
}

pub fn state_change(c: &StateChange) -> StateChangeRecord {
    StateChangeRecord {
        at: t(c.at),
        by: c.by.clone(),
        from: c.from.map(|s| s.as_str().to_string()),
        to: c.to.as_str().to_string(),
        reason: c.reason.clone(),
        until: c.until.map(t),
    }
}

pub fn dispatch_summary(r: &DispatchRecord) -> DispatchSummary {
    DispatchSummary {
        id: r.id,
        job: JobName(r.job.clone()),
        status: match r.status {
            record::DispatchStatus::Created => DispatchStatus::Created,
            record::DispatchStatus::Running => DispatchStatus::Running,
            record::DispatchStatus::Succeeded => DispatchStatus::Succeeded,
            record::DispatchStatus::Failed => DispatchStatus::Failed,
            record::DispatchStatus::Cancelled => DispatchStatus::Cancelled,
            record::DispatchStatus::Interrupted => DispatchStatus::Interrupted,
        },
        trigger: match r.trigger {
            record::Trigger::Schedule => Trigger::Schedule,
            record::Trigger::Manual => Trigger::Manual,
            record::Trigger::CatchUp => Trigger::CatchUp,
        },
        requested_by: r.requested_by.clone(),
        slot: r.slot.map(t),
        model: r.model.clone(),
        model_version: r.model_version.clone(),
        model_hash: r.model_hash.clone(),
        created_at: t(r.created_at),
        started_at: r.started_at.map(t),
        finished_at: r.finished_at.map(t),
        rows_collected: r.counts.collected,
        rows_predicted: r.counts.predicted,
        rows_unscorable: r.counts.unscorable,
        rows_stored: r.counts.stored,
        rows_inserted: r.counts.inserted,
        failed_step: r.failed_step.map(|s| s.as_str().to_string()),
        error: r.error.clone(),
    }
}

pub fn event(e: &EventRecord) -> DispatchEventInfo {
    DispatchEventInfo {
        seq: e.seq,
        at: t(e.at),
        step: e.step.as_str().to_string(),
        rows: e.rows,
        message: e.message.clone(),
    }
}

pub fn shard(s: &crate::scaleout::store::ShardRecord) -> ShardInfo {
    ShardInfo {
        shard: s.shard,
        key_lo: s.key_lo,
        key_hi: s.key_hi,
        state: s.state.as_str().to_string(),
        attempt: s.attempt,
        task: s.task.clone(),
        node: s.node.clone(),
        rows_collected: s.counts.collected,
        rows_predicted: s.counts.predicted,
        rows_inserted: s.counts.inserted,
        error: s.error.clone(),
        updated_at: t(s.updated_at),
    }
}

/// Bars in a regressor dispatch's histogram of predicted values.
const VALUE_BINS: usize = 20;

pub fn value_histogram(
    summary: crate::dispatch::values::Summary,
    buckets: &[(i64, u64)],
) -> ValueHistogram {
    let h = crate::dispatch::values::histogram(summary, buckets, VALUE_BINS);
    ValueHistogram {
        count: summary.count,
        mean: summary.mean(),
        min: summary.min,
        max: summary.max,
        bins: h
            .bins
            .iter()
            .map(|b| ValueBin {
                lo: b.lo,
                hi: b.hi,
                count: b.count,
            })
            .collect(),
    }
}
