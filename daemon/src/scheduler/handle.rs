//! The scheduler's handle: the only way in.
//!
//! Receives calls from the server's handlers and the dispatch side; emits
//! [`Command`]s to the owner task (with oneshot replies) and answers the
//! history queries straight from the store, off the owner's path.

use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::owner::Owner;
use super::{
    DispatchId, Dispatcher, JobName, JobReload, JobSpec, JobView, RunNow, SchedulerError,
    SchedulerOptions, SchedulerStore, SlotRecord, StateChange, StoreError,
};
use crate::clock::Clock;

pub(super) type Reply<T> = oneshot::Sender<Result<T, SchedulerError>>;

pub(super) enum Command {
    Jobs {
        reply: Reply<Vec<JobView>>,
    },
    Enable {
        job: JobName,
        by: String,
        reason: Option<String>,
        reply: Reply<JobView>,
    },
    Disable {
        job: JobName,
        by: String,
        reason: Option<String>,
        until: Option<Timestamp>,
        reply: Reply<JobView>,
    },
    RunNow {
        job: JobName,
        by: String,
        reply: Reply<RunNow>,
    },
    Finished {
        job: JobName,
        dispatch: DispatchId,
        reply: Reply<()>,
    },
    Reload {
        jobs: Vec<JobSpec>,
        notes: Vec<(JobName, Vec<String>)>,
        by: String,
        reply: Reply<Vec<JobReload>>,
    },
}

/// Cheap to clone; every clone talks to the same owner task.
#[derive(Clone)]
pub struct SchedulerHandle {
    tx: mpsc::Sender<Command>,
    store: Arc<dyn SchedulerStore>,
    /// The configured jobs' names, replaced by a reload.
    names: Arc<RwLock<Arc<[JobName]>>>,
}

/// Loads every job's persisted state, records what happened while the daemon
/// was down (missed slots, expired pauses, catch-up dispatches), then spawns
/// the owner task. The task ends when `shutdown` is cancelled or every handle
/// is dropped.
pub async fn start(
    jobs: Vec<JobSpec>,
    options: SchedulerOptions,
    clock: Arc<dyn Clock>,
    store: Arc<dyn SchedulerStore>,
    dispatcher: Arc<dyn Dispatcher>,
    shutdown: CancellationToken,
) -> Result<(SchedulerHandle, JoinHandle<()>), SchedulerError> {
    let names: Arc<[JobName]> = jobs.iter().map(|j| j.name.clone()).collect();
    let (tx, rx) = mpsc::channel(options.command_capacity.max(1));
    let owner = Owner::load(jobs, options, clock, store.clone(), dispatcher).await?;
    let task = tokio::spawn(owner.run(rx, shutdown));
    Ok((
        SchedulerHandle {
            tx,
            store,
            names: Arc::new(RwLock::new(names)),
        },
        task,
    ))
}

impl SchedulerHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, SchedulerError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| SchedulerError::Stopped)?;
        rx.await.map_err(|_| SchedulerError::Stopped)?
    }

    /// Every configured job, in config order, with state, last and next dispatch.
    pub async fn jobs(&self) -> Result<Vec<JobView>, SchedulerError> {
        self.ask(|reply| Command::Jobs { reply }).await
    }

    /// Resumes a disabled job. `by` is the caller's Unix user name. Slots that
    /// fell during the pause are recorded as skipped (disabled).
    pub async fn enable(
        &self,
        job: &JobName,
        by: &str,
        reason: Option<String>,
    ) -> Result<JobView, SchedulerError> {
        let (job, by) = (job.clone(), by.to_string());
        self.ask(|reply| Command::Enable {
            job,
            by,
            reason,
            reply,
        })
        .await
    }

    /// Pauses a job, until `until` if given (it then resumes by itself).
    /// Disabling a disabled job replaces its pause (reason, expiry).
    pub async fn disable(
        &self,
        job: &JobName,
        by: &str,
        reason: Option<String>,
        until: Option<Timestamp>,
    ) -> Result<JobView, SchedulerError> {
        let (job, by) = (job.clone(), by.to_string());
        self.ask(|reply| Command::Disable {
            job,
            by,
            reason,
            until,
            reply,
        })
        .await
    }

    /// Starts a dispatch now, under the job's overlap rule: refused while the
    /// job runs, or queued when the job queues and nothing is queued yet.
    /// Works on a disabled job (an admin's explicit request), not on an invalid one.
    pub async fn run_now(&self, job: &JobName, by: &str) -> Result<RunNow, SchedulerError> {
        let (job, by) = (job.clone(), by.to_string());
        self.ask(|reply| Command::RunNow { job, by, reply }).await
    }

    /// The dispatch side reports that `dispatch` ended (any status). A queued
    /// run of the job starts now.
    pub async fn dispatch_finished(
        &self,
        job: &JobName,
        dispatch: DispatchId,
    ) -> Result<(), SchedulerError> {
        let job = job.clone();
        self.ask(|reply| Command::Finished {
            job,
            dispatch,
            reply,
        })
        .await
    }

    /// Replaces the configured jobs (a configuration reload) at once: added
    /// ones start, removed ones stop, changed ones take their new schedule.
    /// `notes` names what else changed per job (query, model, …), for its
    /// history; `by` is who reloaded. Answers what it did to each job.
    pub async fn reload(
        &self,
        jobs: Vec<JobSpec>,
        notes: Vec<(JobName, Vec<String>)>,
        by: &str,
    ) -> Result<Vec<JobReload>, SchedulerError> {
        let names: Arc<[JobName]> = jobs.iter().map(|j| j.name.clone()).collect();
        let by = by.to_string();
        let report = self
            .ask(|reply| Command::Reload {
                jobs,
                notes,
                by,
                reply,
            })
            .await?;
        *self.names.write().unwrap_or_else(|e| e.into_inner()) = names;
        Ok(report)
    }

    /// The job's slot decisions with slot time at or after `since`, oldest
    /// first, at most `limit`. A job no longer configured still shows what
    /// it had.
    pub async fn slots(
        &self,
        job: &JobName,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<SlotRecord>, SchedulerError> {
        let (name, store) = (job.clone(), self.store.clone());
        let slots = tokio::task::spawn_blocking(move || store.slots_since(&name, since, limit))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))??;
        self.known(job, slots.is_empty())?;
        Ok(slots)
    }

    /// The job's state changes (who, when, from, to, why, until), oldest
    /// first. A job a reload removed still shows its history.
    pub async fn history(&self, job: &JobName) -> Result<Vec<StateChange>, SchedulerError> {
        let (name, store) = (job.clone(), self.store.clone());
        let changes = tokio::task::spawn_blocking(move || store.history(&name))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))??;
        self.known(job, changes.is_empty())?;
        Ok(changes)
    }

    /// An unknown job is an error unless it left records behind.
    fn known(&self, job: &JobName, nothing_recorded: bool) -> Result<(), SchedulerError> {
        let configured = self
            .names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(job);
        if configured || !nothing_recorded {
            Ok(())
        } else {
            Err(SchedulerError::UnknownJob(job.clone()))
        }
    }
}
