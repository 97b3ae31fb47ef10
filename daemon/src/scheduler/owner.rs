//! The owner task: the one place where job schedule state lives and changes.
//!
//! Receives [`Command`]s from handles and its own deadlines; emits dispatch
//! requests to the [`Dispatcher`] and batches of records to the
//! [`SchedulerStore`], both through `spawn_blocking`.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cron::{Schedule, slots_between};
use super::handle::Command;
use super::{
    DispatchId, DispatchRequest, Dispatcher, GapKind, JobName, JobSpec, JobState, JobView,
    LastDispatch, MissedPolicy, OperatorState, OverlapPolicy, Pause, RunNow, SchedulerError,
    SchedulerOptions, SchedulerStore, SlotDecision, SlotRecord, StartError, StateChange,
    StoreBatch, StoreError, StoredJob, Trigger,
};
use crate::clock::Clock;

/// Who the state history names when the daemon itself changes a state.
const BY_CONFIG: &str = "config";
const BY_DAEMON: &str = "mld";

/// A run waiting for the job's running dispatch to finish.
#[derive(Debug, Clone)]
struct QueuedRun {
    trigger: Trigger,
    slot: Option<Timestamp>,
    who: Option<String>,
}

struct Job {
    spec: JobSpec,
    schedule: Result<Schedule, String>,
    state: OperatorState,
    /// Every slot at or before this instant has a decision.
    accounted_until: Timestamp,
    /// The next slot to decide; only for an active job with a valid schedule.
    next_slot: Option<Timestamp>,
    running: Option<DispatchId>,
    queued: Option<QueuedRun>,
    last_dispatch: Option<LastDispatch>,
}

impl Job {
    fn stored(&self) -> StoredJob {
        StoredJob {
            name: self.spec.name.clone(),
            state: self.state.clone(),
            accounted_until: self.accounted_until,
            last_dispatch: self.last_dispatch,
        }
    }

    fn view(&self, default_tz: &str) -> JobView {
        let state = match (&self.schedule, &self.state) {
            (Err(reason), _) => JobState::Invalid {
                reason: reason.clone(),
            },
            (Ok(_), OperatorState::Active) => JobState::Active,
            (Ok(_), OperatorState::Disabled(p)) => JobState::Disabled(p.clone()),
        };
        let next_dispatch = match (&self.schedule, &self.state) {
            (Err(_), _) => None,
            (Ok(_), OperatorState::Active) => self.next_slot,
            (Ok(s), OperatorState::Disabled(p)) => p.until.and_then(|u| s.next_from(u)),
        };
        let timezone = match &self.schedule {
            Ok(s) => s.timezone_name().to_string(),
            Err(_) => self
                .spec
                .timezone
                .clone()
                .unwrap_or_else(|| default_tz.to_string()),
        };
        JobView {
            name: self.spec.name.clone(),
            state,
            schedule: self.spec.schedule.clone(),
            timezone,
            overlap: self.spec.overlap,
            missed: self.spec.missed,
            last_dispatch: self.last_dispatch,
            next_dispatch,
            running: self.running,
            queued: self.queued.is_some(),
        }
    }

    fn record(&self, slot: Timestamp, decision: SlotDecision, now: Timestamp) -> SlotRecord {
        SlotRecord {
            job: self.spec.name.clone(),
            slot,
            decision,
            decided_at: now,
        }
    }
}

pub(super) struct Owner {
    jobs: Vec<Job>,
    options: SchedulerOptions,
    default_tz_name: String,
    clock: Arc<dyn Clock>,
    store: Arc<dyn SchedulerStore>,
    dispatcher: Arc<dyn Dispatcher>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Join(e.to_string()))
}

/// The slots of one gap, bounded: the first `limit` one by one, the rest counted.
#[derive(Debug, Default)]
struct Gap {
    individual: Vec<Timestamp>,
    /// First slot, count and last slot of the slots past `limit`.
    rest: Option<(Timestamp, u64, Timestamp)>,
    /// The slot before `rest`'s last, so the last can be taken out.
    rest_before_last: Option<Timestamp>,
}

impl Gap {
    /// Slots in `(from, to]`. Walks every slot once (CPU only, can be long for
    /// a per-second job down for days), so the caller runs it off the runtime.
    fn collect(schedule: &Schedule, from: Timestamp, to: Timestamp, limit: usize) -> Gap {
        let mut gap = Gap::default();
        for slot in slots_between(schedule, from, to) {
            if gap.individual.len() < limit {
                gap.individual.push(slot);
                continue;
            }
            match &mut gap.rest {
                None => gap.rest = Some((slot, 1, slot)),
                Some((_, count, last)) => {
                    gap.rest_before_last = Some(*last);
                    *count += 1;
                    *last = slot;
                }
            }
        }
        gap
    }

    /// Removes and returns the latest slot (the one a catch-up dispatch serves).
    fn take_last(&mut self) -> Option<Timestamp> {
        match self.rest.take() {
            Some((_, 1, last)) => Some(last),
            Some((first, count, last)) => {
                self.rest = Some((first, count - 1, self.rest_before_last?));
                Some(last)
            }
            None => self.individual.pop(),
        }
    }

    fn records(&self, job: &JobName, kind: GapKind, now: Timestamp) -> Vec<SlotRecord> {
        let one = match kind {
            GapKind::Missed => SlotDecision::Missed,
            GapKind::Disabled => SlotDecision::SkippedDisabled,
        };
        let record = |slot, decision| SlotRecord {
            job: job.clone(),
            slot,
            decision,
            decided_at: now,
        };
        let mut out: Vec<SlotRecord> = self
            .individual
            .iter()
            .map(|s| record(*s, one.clone()))
            .collect();
        if let Some((first, count, last)) = self.rest {
            out.push(record(first, SlotDecision::Summary { kind, count, last }));
        }
        out
    }
}

fn one_ns_before(t: Timestamp) -> Timestamp {
    t.checked_sub(SignedDuration::from_nanos(1)).unwrap_or(t)
}

impl Owner {
    /// Builds every job from its config and persisted state, and records what
    /// happened while the daemon was down.
    pub(super) async fn load(
        specs: Vec<JobSpec>,
        options: SchedulerOptions,
        clock: Arc<dyn Clock>,
        store: Arc<dyn SchedulerStore>,
        dispatcher: Arc<dyn Dispatcher>,
    ) -> Result<Owner, SchedulerError> {
        let default_tz_name = options
            .default_tz
            .iana_name()
            .unwrap_or("system")
            .to_string();
        let mut owner = Owner {
            jobs: Vec::new(),
            options,
            default_tz_name,
            clock,
            store,
            dispatcher,
        };
        for spec in specs {
            owner.load_job(spec).await?;
        }
        Ok(owner)
    }

    async fn load_job(&mut self, spec: JobSpec) -> Result<(), SchedulerError> {
        let now = self.clock.now();
        let schedule = Schedule::parse(
            &spec.schedule,
            spec.timezone.as_deref(),
            &self.options.default_tz,
        )
        .map_err(|e| e.to_string());
        let (stored, abandoned) = {
            let (store, name) = (self.store.clone(), spec.name.clone());
            blocking(move || {
                Ok::<_, StoreError>((store.load_job(&name)?, store.abandoned_queued(&name)?))
            })
            .await??
        };
        let mut batch = StoreBatch::default();
        let name = spec.name.clone();
        let mut job = match stored {
            // The config decides the first state, once.
            None => {
                let state = if spec.enabled {
                    OperatorState::Active
                } else {
                    OperatorState::Disabled(Pause {
                        by: BY_CONFIG.into(),
                        at: now,
                        reason: Some("enabled = false in the config".into()),
                        until: None,
                    })
                };
                batch.changes.push(StateChange {
                    job: name.clone(),
                    at: now,
                    by: BY_CONFIG.into(),
                    from: None,
                    to: state.kind(),
                    reason: Some("first seen".into()),
                    until: None,
                });
                Job {
                    spec,
                    schedule,
                    state,
                    accounted_until: now,
                    next_slot: None,
                    running: None,
                    queued: None,
                    last_dispatch: None,
                }
            }
            Some(s) => Job {
                spec,
                schedule,
                state: s.state,
                accounted_until: s.accounted_until,
                next_slot: None,
                running: None,
                queued: None,
                last_dispatch: s.last_dispatch,
            },
        };
        // A queued slot whose dispatch never started was lost with the daemon.
        batch.slots.extend(
            abandoned
                .into_iter()
                .map(|slot| job.record(slot, SlotDecision::Missed, now)),
        );

        // A pause that expired while the daemon was down ends at its expiry.
        let expired = match &job.state {
            OperatorState::Disabled(Pause {
                until: Some(until), ..
            }) if *until <= now => Some(*until),
            _ => None,
        };
        if let Some(until) = expired {
            if let Ok(schedule) = job.schedule.clone() {
                let (from, to, limit) = (
                    job.accounted_until,
                    one_ns_before(until),
                    self.options.missed_detail_limit,
                );
                let gap = blocking(move || Gap::collect(&schedule, from, to, limit)).await?;
                batch
                    .slots
                    .extend(gap.records(&name, GapKind::Disabled, now));
                job.accounted_until = job.accounted_until.max(one_ns_before(until));
            }
            batch.changes.push(expiry_change(&job, until));
            job.state = OperatorState::Active;
        }

        if let Ok(schedule) = job.schedule.clone() {
            let (from, limit) = (job.accounted_until, self.options.missed_detail_limit);
            let kind = match job.state {
                OperatorState::Active => GapKind::Missed,
                OperatorState::Disabled(_) => GapKind::Disabled,
            };
            let mut gap = blocking(move || Gap::collect(&schedule, from, now, limit)).await?;
            let catch_up = match (kind, job.spec.missed) {
                (GapKind::Missed, MissedPolicy::RunOnce) => gap.take_last(),
                _ => None,
            };
            batch.slots.extend(gap.records(&name, kind, now));
            if let Some(slot) = catch_up {
                let decision = match start_dispatch(
                    &self.dispatcher,
                    &*self.clock,
                    &mut job,
                    Trigger::CatchUp,
                    Some(slot),
                    None,
                )
                .await
                {
                    Ok(id) => SlotDecision::CaughtUp { dispatch: id },
                    Err(e) => SlotDecision::StartFailed { reason: e.0 },
                };
                batch.slots.push(job.record(slot, decision, now));
            }
        }
        // An invalid job's slots cannot be computed; its time counts as accounted.
        job.accounted_until = job.accounted_until.max(now);
        if let (Ok(s), OperatorState::Active) = (&job.schedule, &job.state) {
            job.next_slot = s.next_after(job.accounted_until);
        }
        batch.jobs.push(job.stored());
        self.persist(batch).await?;
        self.jobs.push(job);
        Ok(())
    }

    pub(super) async fn run(
        mut self,
        mut rx: mpsc::Receiver<Command>,
        shutdown: CancellationToken,
    ) {
        loop {
            let now = self.clock.now();
            self.advance(now).await;
            let wait = match self.next_deadline() {
                Some(deadline) => {
                    Duration::try_from(deadline.duration_since(now)).unwrap_or(Duration::ZERO)
                }
                None => self.options.max_sleep,
            }
            .min(self.options.max_sleep);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd).await,
                    None => break,
                },
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The earliest instant at which something is due: a slot of an active job or a pause expiry.
    fn next_deadline(&self) -> Option<Timestamp> {
        self.jobs
            .iter()
            .filter_map(|j| match &j.state {
                OperatorState::Active => j.next_slot,
                OperatorState::Disabled(p) => p.until,
            })
            .min()
    }

    /// Decides every slot and expiry due at `now`.
    async fn advance(&mut self, now: Timestamp) {
        for idx in 0..self.jobs.len() {
            let expired = match &self.jobs[idx].state {
                OperatorState::Disabled(Pause {
                    until: Some(until), ..
                }) if *until <= now => Some(*until),
                _ => None,
            };
            if let Some(until) = expired
                && let Err(e) = self
                    .resume(idx, until, BY_DAEMON, Some("pause expired".into()), true)
                    .await
            {
                tracing::error!(job = %self.jobs[idx].spec.name, error = %e, "could not resume a paused job");
            }
            while let Some(slot) = self.jobs[idx].next_slot.filter(|s| *s <= now) {
                if matches!(self.jobs[idx].state, OperatorState::Disabled(_)) {
                    break;
                }
                self.fire_slot(idx, slot).await;
            }
        }
    }

    async fn fire_slot(&mut self, idx: usize, slot: Timestamp) {
        let now = self.clock.now();
        let decision = match self.jobs[idx].running {
            Some(running) => {
                let job = &mut self.jobs[idx];
                if job.spec.overlap == OverlapPolicy::Queue && job.queued.is_none() {
                    job.queued = Some(QueuedRun {
                        trigger: Trigger::Schedule,
                        slot: Some(slot),
                        who: None,
                    });
                    SlotDecision::Queued { dispatch: None }
                } else {
                    SlotDecision::SkippedOverlap { running }
                }
            }
            None => {
                match self
                    .start_dispatch(idx, Trigger::Schedule, Some(slot), None)
                    .await
                {
                    Ok(id) => SlotDecision::Ran { dispatch: id },
                    Err(e) => SlotDecision::StartFailed { reason: e.0 },
                }
            }
        };
        let job = &mut self.jobs[idx];
        job.accounted_until = slot;
        job.next_slot = job.schedule.as_ref().ok().and_then(|s| s.next_after(slot));
        let batch = StoreBatch {
            jobs: vec![job.stored()],
            slots: vec![job.record(slot, decision, now)],
            ..Default::default()
        };
        self.persist_or_log(batch).await;
    }

    /// Makes a disabled job active at `at`: its slots before `at` are recorded
    /// as skipped (disabled); a slot at `at` itself runs.
    async fn resume(
        &mut self,
        idx: usize,
        at: Timestamp,
        by: &str,
        reason: Option<String>,
        expired: bool,
    ) -> Result<(), SchedulerError> {
        let now = self.clock.now();
        let job = &self.jobs[idx];
        let mut batch = StoreBatch::default();
        let accounted = job.accounted_until.max(one_ns_before(at));
        let mut next_slot = None;
        if let Ok(schedule) = job.schedule.clone() {
            let (from, to, limit) = (
                job.accounted_until,
                one_ns_before(at),
                self.options.missed_detail_limit,
            );
            let gap = blocking(move || Gap::collect(&schedule, from, to, limit)).await?;
            batch
                .slots
                .extend(gap.records(&job.spec.name, GapKind::Disabled, now));
            next_slot = job
                .schedule
                .as_ref()
                .ok()
                .and_then(|s| s.next_after(accounted));
        }
        batch.changes.push(if expired {
            expiry_change(job, at)
        } else {
            StateChange {
                job: job.spec.name.clone(),
                at,
                by: by.to_string(),
                from: Some(job.state.kind()),
                to: super::StateKind::Active,
                reason,
                until: None,
            }
        });
        let mut stored = job.stored();
        stored.state = OperatorState::Active;
        stored.accounted_until = accounted;
        batch.jobs.push(stored);
        self.persist(batch).await?;
        let job = &mut self.jobs[idx];
        job.state = OperatorState::Active;
        job.accounted_until = accounted;
        job.next_slot = next_slot;
        Ok(())
    }

    async fn handle(&mut self, cmd: Command) {
        // Decide what is due first, so a command sees (and changes) the present,
        // and `now` is the instant every slot up to which has a decision.
        let now = self.clock.now();
        self.advance(now).await;
        match cmd {
            Command::Jobs { reply } => {
                let _ = reply.send(Ok(self
                    .jobs
                    .iter()
                    .map(|j| j.view(&self.default_tz_name))
                    .collect()));
            }
            Command::Enable {
                job,
                by,
                reason,
                reply,
            } => {
                let _ = reply.send(self.enable(now, &job, &by, reason).await);
            }
            Command::Disable {
                job,
                by,
                reason,
                until,
                reply,
            } => {
                let _ = reply.send(self.disable(now, &job, &by, reason, until).await);
            }
            Command::RunNow { job, by, reply } => {
                let _ = reply.send(self.run_now(&job, &by).await);
            }
            Command::Finished {
                job,
                dispatch,
                reply,
            } => {
                let _ = reply.send(self.finished(&job, dispatch).await);
            }
        }
    }

    fn index(&self, job: &JobName) -> Result<usize, SchedulerError> {
        self.jobs
            .iter()
            .position(|j| &j.spec.name == job)
            .ok_or_else(|| SchedulerError::UnknownJob(job.clone()))
    }

    fn valid(&self, idx: usize) -> Result<(), SchedulerError> {
        match &self.jobs[idx].schedule {
            Ok(_) => Ok(()),
            Err(reason) => Err(SchedulerError::JobInvalid {
                job: self.jobs[idx].spec.name.clone(),
                reason: reason.clone(),
            }),
        }
    }

    async fn enable(
        &mut self,
        now: Timestamp,
        job: &JobName,
        by: &str,
        reason: Option<String>,
    ) -> Result<JobView, SchedulerError> {
        let idx = self.index(job)?;
        self.valid(idx)?;
        if matches!(self.jobs[idx].state, OperatorState::Active) {
            return Err(SchedulerError::NoChange {
                job: job.clone(),
                state: "active",
            });
        }
        self.resume(idx, now, by, reason, false).await?;
        // A slot at this very instant is due now.
        self.advance(now).await;
        Ok(self.jobs[idx].view(&self.default_tz_name))
    }

    async fn disable(
        &mut self,
        now: Timestamp,
        job: &JobName,
        by: &str,
        reason: Option<String>,
        until: Option<Timestamp>,
    ) -> Result<JobView, SchedulerError> {
        let idx = self.index(job)?;
        self.valid(idx)?;
        if let Some(until) = until.filter(|u| *u <= now) {
            return Err(SchedulerError::UntilInPast {
                job: job.clone(),
                until,
            });
        }
        let pause = Pause {
            by: by.to_string(),
            at: now,
            reason: reason.clone(),
            until,
        };
        let j = &self.jobs[idx];
        let mut stored = j.stored();
        stored.state = OperatorState::Disabled(pause.clone());
        if matches!(j.state, OperatorState::Active) {
            // `advance` decided every slot up to now.
            stored.accounted_until = j.accounted_until.max(now);
        }
        let mut batch = StoreBatch {
            changes: vec![StateChange {
                job: job.clone(),
                at: now,
                by: by.to_string(),
                from: Some(j.state.kind()),
                to: super::StateKind::Disabled,
                reason,
                until,
            }],
            ..Default::default()
        };
        // A queued slot will not run: the job is disabled.
        if let Some(QueuedRun {
            slot: Some(slot), ..
        }) = &j.queued
        {
            batch
                .slots
                .push(j.record(*slot, SlotDecision::SkippedDisabled, now));
        }
        let accounted = stored.accounted_until;
        batch.jobs.push(stored);
        self.persist(batch).await?;
        let j = &mut self.jobs[idx];
        j.state = OperatorState::Disabled(pause);
        j.accounted_until = accounted;
        j.next_slot = None;
        j.queued = None;
        Ok(j.view(&self.default_tz_name))
    }

    async fn run_now(&mut self, job: &JobName, by: &str) -> Result<RunNow, SchedulerError> {
        let idx = self.index(job)?;
        self.valid(idx)?;
        let j = &mut self.jobs[idx];
        if let Some(running) = j.running {
            if j.spec.overlap == OverlapPolicy::Queue && j.queued.is_none() {
                j.queued = Some(QueuedRun {
                    trigger: Trigger::Manual,
                    slot: None,
                    who: Some(by.to_string()),
                });
                return Ok(RunNow::Queued { behind: running });
            }
            return Err(SchedulerError::AlreadyRunning {
                job: job.clone(),
                running,
                queued: j.queued.is_some(),
            });
        }
        let r = self
            .start_dispatch(idx, Trigger::Manual, None, Some(by.to_string()))
            .await;
        let batch = StoreBatch {
            jobs: vec![self.jobs[idx].stored()],
            ..Default::default()
        };
        let id = r.map_err(|source| SchedulerError::Start {
            job: job.clone(),
            source,
        })?;
        self.persist_or_log(batch).await;
        Ok(RunNow::Started(id))
    }

    async fn finished(
        &mut self,
        job: &JobName,
        dispatch: DispatchId,
    ) -> Result<(), SchedulerError> {
        let idx = self.index(job)?;
        if self.jobs[idx].running != Some(dispatch) {
            return Err(SchedulerError::UnknownDispatch {
                job: job.clone(),
                dispatch,
            });
        }
        self.jobs[idx].running = None;
        let Some(queued) = self.jobs[idx].queued.take() else {
            return Ok(());
        };
        let now = self.clock.now();
        let r = self
            .start_dispatch(idx, queued.trigger, queued.slot, queued.who)
            .await;
        let j = &self.jobs[idx];
        let mut batch = StoreBatch {
            jobs: vec![j.stored()],
            ..Default::default()
        };
        if let Some(slot) = queued.slot {
            let decision = match &r {
                Ok(id) => SlotDecision::Queued {
                    dispatch: Some(*id),
                },
                Err(e) => SlotDecision::StartFailed {
                    reason: e.0.clone(),
                },
            };
            batch.slots.push(j.record(slot, decision, now));
        } else if let Err(e) = &r {
            tracing::error!(job = %job, error = %e, "queued run-now could not start");
        }
        self.persist_or_log(batch).await;
        Ok(())
    }

    /// Asks the dispatch side for a dispatch for job `idx`; on success the job is running.
    async fn start_dispatch(
        &mut self,
        idx: usize,
        trigger: Trigger,
        slot: Option<Timestamp>,
        who: Option<String>,
    ) -> Result<DispatchId, StartError> {
        let job = &mut self.jobs[idx];
        start_dispatch(&self.dispatcher, &*self.clock, job, trigger, slot, who).await
    }

    async fn persist(&self, batch: StoreBatch) -> Result<(), StoreError> {
        let store = self.store.clone();
        blocking(move || store.apply(&batch)).await?
    }

    /// For writes that record what already happened (a dispatch started): the
    /// scheduler carries on, and the error is logged.
    async fn persist_or_log(&self, batch: StoreBatch) {
        if let Err(e) = self.persist(batch).await {
            tracing::error!(error = %e, "scheduler could not record its decision");
        }
    }
}

/// Asks the dispatch side for a dispatch; on success the job is running.
async fn start_dispatch(
    dispatcher: &Arc<dyn Dispatcher>,
    clock: &dyn Clock,
    job: &mut Job,
    trigger: Trigger,
    slot: Option<Timestamp>,
    who: Option<String>,
) -> Result<DispatchId, StartError> {
    let request = DispatchRequest {
        job: job.spec.name.clone(),
        trigger,
        slot,
        who,
    };
    let dispatcher = dispatcher.clone();
    let id = tokio::task::spawn_blocking(move || dispatcher.start(&request))
        .await
        .map_err(|e| StartError(format!("dispatcher panicked: {e}")))??;
    job.running = Some(id);
    job.last_dispatch = Some(LastDispatch {
        id,
        at: clock.now(),
        trigger,
    });
    Ok(id)
}

fn expiry_change(job: &Job, until: Timestamp) -> StateChange {
    StateChange {
        job: job.spec.name.clone(),
        at: until,
        by: BY_DAEMON.into(),
        from: Some(super::StateKind::Disabled),
        to: super::StateKind::Active,
        reason: Some("pause expired".into()),
        until: None,
    }
}
