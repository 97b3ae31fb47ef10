//! Internal state → wire types. The only place that knows both.

use crate::context::Context;
use mld_shared::ids::JobName;
use mld_shared::protocol::{DaemonStatus, JobState, JobSummary, PROTOCOL_VERSION, Snapshot};
use mld_shared::time::WireTime;
use std::sync::atomic::Ordering;

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
        running_dispatches: ctx.running_dispatches.load(Ordering::Relaxed),
        connected_clients: ctx.clients(),
    }
}

/// Jobs as configured. The scheduler will own their live state (pauses,
/// invalid expressions, last and next dispatch); until then, config decides.
pub fn jobs(ctx: &Context) -> Vec<JobSummary> {
    let config = ctx.config();
    config
        .jobs
        .iter()
        .map(|j| JobSummary {
            name: JobName(j.name.clone()),
            state: if j.enabled {
                JobState::Active
            } else {
                JobState::Disabled {
                    by: "config".into(),
                    at: ctx.started_at.into(),
                    reason: Some("enabled = false in the configuration".into()),
                    until: None,
                }
            },
            schedule: j.schedule.clone(),
            timezone: j.timezone.clone().unwrap_or_else(|| "system".into()),
            model: j.model.clone(),
            datalake: j.datalake.clone(),
            last_dispatch: None,
            next_dispatch: None,
        })
        .collect()
}

pub fn snapshot(ctx: &Context) -> Snapshot {
    Snapshot {
        taken_at: WireTime::now(),
        status: status(ctx),
        health: ctx.health.borrow().clone(),
        jobs: jobs(ctx),
    }
}
