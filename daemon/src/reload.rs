//! A configuration reload (SIGHUP, or an admin's `mldctl reload`): re-reads
//! the file and applies what changed at once.
//!
//! Receives who asked; reads the running configuration's file; emits the new
//! configuration into the context (every reader picks it up at its next
//! use), the jobs into the scheduler (added ones start, removed ones stop,
//! changed ones take their new schedule, timezone, policies, query and model,
//! each recorded in the job's history), the dispatch concurrency limit into
//! the dispatch service, and a report of what changed. An invalid file
//! changes nothing and the report says why. Paths fixed at start (socket,
//! event log, state folder) and the log level take effect at the next start;
//! the report says so.

use std::path::PathBuf;
use std::sync::Arc;

use mld_shared::config::{Config, ConfigErrors, JobConfig};
use mld_shared::ids::JobName;

use crate::context::Context;
use crate::scheduler::{JobReload, JobSpec, SchedulerError};

/// What a reload changed, one line each, jobs first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    pub file: PathBuf,
    pub changes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the configuration was not reloaded; the running one is kept:\n{0}")]
    Invalid(ConfigErrors),
    #[error("the configuration was applied, but the scheduler did not take the jobs: {0}")]
    Scheduler(#[from] SchedulerError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// One reload at a time (a SIGHUP while an admin reloads waits its turn).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Re-reads the running configuration's file and applies it. `by` is who
/// asked, for the jobs' history: `SIGHUP` or a Unix user name.
pub async fn reload(ctx: &Arc<Context>, by: &str) -> Result<ReloadReport, ReloadError> {
    let _turn = ONE_AT_A_TIME.lock().await;
    let current = ctx.config();
    let file = current.file.clone();
    let path = file.clone();
    let new = tokio::task::spawn_blocking(move || mld_shared::config::load(&path))
        .await
        .map_err(|e| ReloadError::Internal(e.to_string()))?;
    let new = match new {
        Ok(c) => c,
        Err(errors) => {
            tracing::error!(file = %file.display(), by, "reload refused, keeping the running configuration:\n{errors}");
            return Err(ReloadError::Invalid(errors));
        }
    };
    let daemon = daemon_changes(&current, &new);
    let notes = job_notes(&current.jobs, &new.jobs);
    let specs: Vec<JobSpec> = new.jobs.iter().map(JobSpec::from).collect();
    let limit = new.daemon.max_concurrent_dispatches;
    // Dispatches started from here on read the new jobs; running ones keep
    // what they resolved at their start.
    ctx.replace_config(new);
    ctx.dispatches.set_limit(limit);
    let jobs = ctx.scheduler.reload(specs, notes, by).await?;
    ctx.jobs_changed.notify_one();
    let mut changes: Vec<String> = jobs.iter().map(JobReload::to_string).collect();
    changes.extend(daemon);
    if changes.is_empty() {
        tracing::info!(file = %file.display(), by, "configuration reloaded: no changes");
    }
    for c in &changes {
        tracing::info!(file = %file.display(), by, change = %c, "configuration reloaded");
    }
    Ok(ReloadReport { file, changes })
}

/// What changed in a job's configuration besides its scheduling (which the
/// scheduler words itself), per job present in both.
fn job_notes(old: &[JobConfig], new: &[JobConfig]) -> Vec<(JobName, Vec<String>)> {
    new.iter()
        .filter_map(|n| {
            let o = old.iter().find(|o| o.name == n.name)?;
            let mut what = Vec::new();
            let mut quoted = |name: &str, a: &str, b: &str| {
                if a != b {
                    what.push(format!("{name} {a:?} → {b:?}"));
                }
            };
            quoted("model", &o.model, &n.model);
            quoted("datalake", &o.datalake, &n.datalake);
            quoted("key_column", &o.key_column, &n.key_column);
            quoted("results_table", &o.results_table, &n.results_table);
            if o.query != n.query {
                what.push("query changed".into());
            }
            if o.results_columns != n.results_columns {
                what.push("results_columns changed".into());
            }
            let opt = |v: Option<String>| v.unwrap_or_else(|| "unset".into());
            let timeout = |j: &JobConfig| opt(j.timeout.map(|t| humantime::format_duration(t.0).to_string()));
            if timeout(o) != timeout(n) {
                what.push(format!("timeout {} → {}", timeout(o), timeout(n)));
            }
            if o.batch_size != n.batch_size {
                what.push(format!(
                    "batch_size {} → {}",
                    opt(o.batch_size.map(|b| b.to_string())),
                    opt(n.batch_size.map(|b| b.to_string()))
                ));
            }
            if o.fail_on_unscorable != n.fail_on_unscorable {
                what.push(format!(
                    "fail_on_unscorable {} → {}",
                    o.fail_on_unscorable, n.fail_on_unscorable
                ));
            }
            if o.enabled != n.enabled {
                what.push(format!(
                    "enabled {} → {} (only a job's first start uses it; `mldctl enable`/`disable` change its state)",
                    o.enabled, n.enabled
                ));
            }
            (!what.is_empty()).then(|| (JobName(n.name.clone()), what))
        })
        .collect()
}

/// What changed outside the jobs, and when it takes effect.
fn daemon_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let (o, n) = (&old.daemon, &new.daemon);
    if o.max_concurrent_dispatches != n.max_concurrent_dispatches {
        out.push(format!(
            "daemon.max_concurrent_dispatches {} → {}",
            o.max_concurrent_dispatches, n.max_concurrent_dispatches
        ));
    }
    let retention = |c: &Config| {
        c.daemon
            .prediction_retention
            .map(|r| humantime::format_duration(r.0).to_string())
            .unwrap_or_else(|| "unset".into())
    };
    if retention(old) != retention(new) {
        out.push(format!(
            "daemon.prediction_retention {} → {} (from the next hourly prune)",
            retention(old),
            retention(new)
        ));
    }
    let at_restart = [
        ("daemon.socket", o.socket != n.socket),
        ("daemon.socket_mode", o.socket_mode != n.socket_mode),
        ("daemon.socket_group", o.socket_group != n.socket_group),
        ("daemon.state_dir", o.state_dir != n.state_dir),
        ("daemon.event_log", o.event_log_path() != n.event_log_path()),
        ("daemon.log_level", o.log_level != n.log_level),
        ("metrics.listen", old.metrics != new.metrics),
        (
            "models",
            format!("{:?}", old.models) != format!("{:?}", new.models),
        ),
    ];
    for (name, changed) in at_restart {
        if changed {
            out.push(format!("{name} changed: takes effect at the next restart"));
        }
    }
    let sections = [
        ("access", debug_differs(&old.access, &new.access)),
        ("monitor", debug_differs(&old.monitor, &new.monitor)),
        (
            "dispatches",
            debug_differs(&old.dispatches, &new.dispatches),
        ),
        ("showroom", debug_differs(&old.showroom, &new.showroom)),
        ("limits", debug_differs(&old.limits, &new.limits)),
    ];
    for (name, changed) in sections {
        if changed {
            out.push(format!("{name} changed"));
        }
    }
    for (name, lake) in &new.datalakes {
        match old.datalakes.get(name) {
            None => out.push(format!("datalake {name} added")),
            Some(o) if debug_differs(o, lake) => out.push(format!("datalake {name} changed")),
            Some(_) => {}
        }
    }
    for name in old.datalakes.keys() {
        if !new.datalakes.contains_key(name) {
            out.push(format!("datalake {name} removed"));
        }
    }
    out
}

/// Whether two configuration sections differ, as their `Debug` shows them
/// (secrets are redacted there, so a changed password alone does not show).
fn debug_differs<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") != format!("{b:?}")
}
