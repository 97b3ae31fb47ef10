//! The owner task: the one place where job schedule state lives and changes.
//!
//! Receives [`Command`]s from handles and its own deadlines; emits dispatch
//! requests to the [`Dispatcher`] and batches of records to the
//! [`SchedulerStore`], both through `spawn_blocking`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cron::{Schedule, slots_between};
use super::handle::Command;
use super::{
    DispatchId, DispatchRequest, Dispatcher, GapKind, JobName, JobReload, JobSpec, JobState,
    JobView, LastDispatch, MissedPolicy, OperatorState, OverlapPolicy, Pause, RunNow,
    SchedulerError, SchedulerOptions, SchedulerStore, SlotDecision, SlotRecord, StartError,
    StartRecord, StateChange, StateKind, StoreBatch, StoreError, StoredJob, Trigger,
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
    fn new(
        spec: JobSpec,
        schedule: Result<Schedule, String>,
        state: OperatorState,
        accounted_until: Timestamp,
        last_dispatch: Option<LastDispatch>,
    ) -> Job {
        Job {
            spec,
            schedule,
            state,
            accounted_until,
            next_slot: None,
            running: None,
            queued: None,
            last_dispatch,
        }
    }

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
    /// Slots in `(from, to]`, but those in `skip`. Walks every slot once (CPU
    /// only, can be long for a per-second job down for days), so the caller
    /// runs it off the runtime.
    fn collect(
        schedule: &Schedule,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
        skip: &BTreeSet<Timestamp>,
    ) -> Gap {
        let mut gap = Gap::default();
        for slot in slots_between(schedule, from, to).filter(|s| !skip.contains(s)) {
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
            owner.load_job(spec, None).await?;
        }
        Ok(owner)
    }

    /// Builds a job from its spec and persisted state and records what
    /// happened to its slots while it was not running. `by` is who reloaded
    /// when the job is added by a reload (`None` at start).
    async fn load_job(&mut self, spec: JobSpec, by: Option<&str>) -> Result<(), SchedulerError> {
        let now = self.clock.now();
        let schedule = Schedule::parse(
            &spec.schedule,
            spec.timezone.as_deref(),
            &self.options.default_tz,
        )
        .map_err(|e| e.to_string());
        let (stored, abandoned, removed) = {
            let (store, name) = (self.store.clone(), spec.name.clone());
            blocking(move || {
                let removed = store
                    .history(&name)?
                    .last()
                    .is_some_and(|c| c.to == StateKind::Removed);
                Ok::<_, StoreError>((
                    store.load_job(&name)?,
                    store.abandoned_queued(&name)?,
                    removed,
                ))
            })
            .await??
        };
        let mut batch = StoreBatch::default();
        let name = spec.name.clone();
        let who = by.unwrap_or(BY_CONFIG).to_string();
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
                    by: who.clone(),
                    from: None,
                    to: state.kind(),
                    reason: Some(match by {
                        Some(_) => "first seen: added by a configuration reload".into(),
                        None => "first seen".into(),
                    }),
                    until: None,
                });
                Job::new(spec, schedule, state, now, None)
            }
            Some(s) => {
                let mut accounted = s.accounted_until;
                if removed {
                    // Back in the configuration: the time it was out of it
                    // has no slots of its own to account for.
                    accounted = accounted.max(now);
                    batch.changes.push(StateChange {
                        job: name.clone(),
                        at: now,
                        by: who.clone(),
                        from: Some(StateKind::Removed),
                        to: s.state.kind(),
                        reason: Some(match by {
                            Some(_) => "added back by a configuration reload".into(),
                            None => "back in the configuration".into(),
                        }),
                        until: None,
                    });
                }
                Job::new(spec, schedule, s.state, accounted, s.last_dispatch)
            }
        };
        // A dispatch that is still being settled after a restart keeps the job running.
        job.running = self.dispatcher.running(&name);

        // Dispatches that already serve a slot from here on (or a queued slot):
        // those slots are never run again. The dispatch and its decision
        // commit together, so this finds something only in a file written by
        // an older mld, which committed them apart.
        let since = abandoned
            .first()
            .copied()
            .unwrap_or(job.accounted_until)
            .min(job.accounted_until);
        let (served, decided) = {
            let (store, name) = (self.store.clone(), name.clone());
            blocking(move || {
                Ok::<_, StoreError>((
                    store.dispatched_slots(&name, since)?,
                    store.slots_since(&name, since, usize::MAX)?,
                ))
            })
            .await??
        };
        let served: std::collections::BTreeMap<Timestamp, (DispatchId, Trigger)> = served
            .into_iter()
            .map(|(slot, id, trigger)| (slot, (id, trigger)))
            .collect();
        let decided: BTreeSet<Timestamp> = decided.into_iter().map(|r| r.slot).collect();

        // A queued slot whose dispatch never started was lost with the daemon.
        batch.slots.extend(abandoned.into_iter().map(|slot| {
            let decision = match served.get(&slot) {
                Some((id, _)) => SlotDecision::Queued {
                    dispatch: Some(*id),
                },
                None => SlotDecision::Missed,
            };
            job.record(slot, decision, now)
        }));
        let after: Vec<(Timestamp, DispatchId, Trigger)> = served
            .range((
                std::ops::Bound::Excluded(job.accounted_until),
                std::ops::Bound::Unbounded,
            ))
            .map(|(slot, (id, trigger))| (*slot, *id, *trigger))
            .collect();
        for (slot, id, trigger) in &after {
            if !decided.contains(slot) {
                let decision = match trigger {
                    Trigger::CatchUp => SlotDecision::CaughtUp { dispatch: *id },
                    _ => SlotDecision::Ran { dispatch: *id },
                };
                batch.slots.push(job.record(*slot, decision, now));
            }
        }
        let skip: BTreeSet<Timestamp> = after.iter().map(|(slot, _, _)| *slot).collect();
        let latest_served = skip.last().copied();

        // A pause that expired while the daemon was down ends at its expiry.
        let expired = match &job.state {
            OperatorState::Disabled(Pause {
                until: Some(until), ..
            }) if *until <= now => Some(*until),
            _ => None,
        };
        if let Some(until) = expired {
            if let Ok(schedule) = job.schedule.clone() {
                let (from, to, limit, skip) = (
                    job.accounted_until,
                    one_ns_before(until),
                    self.options.missed_detail_limit,
                    skip.clone(),
                );
                let gap = blocking(move || Gap::collect(&schedule, from, to, limit, &skip)).await?;
                batch
                    .slots
                    .extend(gap.records(&name, GapKind::Disabled, now));
                job.accounted_until = job.accounted_until.max(one_ns_before(until));
            }
            batch.changes.push(expiry_change(&job, until));
            job.state = OperatorState::Active;
        }

        let mut catch_up = None;
        if let Ok(schedule) = job.schedule.clone() {
            let (from, limit) = (job.accounted_until, self.options.missed_detail_limit);
            let kind = match job.state {
                OperatorState::Active => GapKind::Missed,
                OperatorState::Disabled(_) => GapKind::Disabled,
            };
            let mut gap =
                blocking(move || Gap::collect(&schedule, from, now, limit, &skip)).await?;
            catch_up = match (kind, job.spec.missed) {
                (GapKind::Missed, MissedPolicy::RunOnce) => gap.take_last(),
                _ => None,
            }
            // A later slot already ran: there is nothing to catch up.
            .filter(|slot| latest_served.is_none_or(|served| *slot > served));
            batch.slots.extend(gap.records(&name, kind, now));
        }
        // An invalid job's slots cannot be computed; its time counts as accounted.
        job.accounted_until = job.accounted_until.max(now);
        if let (Ok(s), OperatorState::Active) = (&job.schedule, &job.state) {
            job.next_slot = s.next_after(job.accounted_until);
        }
        match (catch_up, job.running) {
            (None, _) => {
                batch.jobs.push(job.stored());
                self.persist(batch).await?;
            }
            (Some(slot), Some(running)) => {
                let decision = if job.spec.overlap == OverlapPolicy::Queue && job.queued.is_none() {
                    job.queued = Some(QueuedRun {
                        trigger: Trigger::CatchUp,
                        slot: Some(slot),
                        who: None,
                    });
                    SlotDecision::Queued { dispatch: None }
                } else {
                    SlotDecision::SkippedOverlap { running }
                };
                batch.slots.push(job.record(slot, decision, now));
                batch.jobs.push(job.stored());
                self.persist(batch).await?;
            }
            (Some(slot), None) => {
                // The catch-up dispatch commits with everything above, or
                // nothing of it does and the failure is recorded instead.
                let record = record_start(
                    batch.clone(),
                    job.stored(),
                    Trigger::CatchUp,
                    now,
                    Some((slot, |id| SlotDecision::CaughtUp { dispatch: id })),
                );
                let started = start_dispatch(
                    &self.dispatcher,
                    &mut job,
                    Trigger::CatchUp,
                    Some(slot),
                    None,
                    now,
                    record,
                )
                .await;
                if let Err(e) = started {
                    batch.slots.push(job.record(
                        slot,
                        SlotDecision::StartFailed { reason: e.0 },
                        now,
                    ));
                    batch.jobs.push(job.stored());
                    self.persist(batch).await?;
                }
            }
        }
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
        let job = &mut self.jobs[idx];
        let next_slot = job.schedule.as_ref().ok().and_then(|s| s.next_after(slot));
        let decision = match job.running {
            Some(running) => {
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
                let mut stored = job.stored();
                stored.accounted_until = slot;
                let record = record_start(
                    StoreBatch::default(),
                    stored,
                    Trigger::Schedule,
                    now,
                    Some((slot, |id| SlotDecision::Ran { dispatch: id })),
                );
                let started = start_dispatch(
                    &self.dispatcher,
                    job,
                    Trigger::Schedule,
                    Some(slot),
                    None,
                    now,
                    record,
                )
                .await;
                match started {
                    // Recorded with the dispatch.
                    Ok(_) => {
                        job.accounted_until = slot;
                        job.next_slot = next_slot;
                        return;
                    }
                    Err(e) => SlotDecision::StartFailed { reason: e.0 },
                }
            }
        };
        job.accounted_until = slot;
        job.next_slot = next_slot;
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
            let gap = blocking(move || Gap::collect(&schedule, from, to, limit, &BTreeSet::new()))
                .await?;
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
            Command::Reload {
                jobs,
                notes,
                by,
                reply,
            } => {
                let _ = reply.send(Ok(self.reload(now, jobs, notes, &by).await));
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
        let now = self.clock.now();
        let record = record_start(
            StoreBatch::default(),
            j.stored(),
            Trigger::Manual,
            now,
            None,
        );
        let id = start_dispatch(
            &self.dispatcher,
            j,
            Trigger::Manual,
            None,
            Some(by.to_string()),
            now,
            record,
        )
        .await
        .map_err(|source| SchedulerError::Start {
            job: job.clone(),
            source,
        })?;
        Ok(RunNow::Started(id))
    }

    /// Replaces the jobs with `specs`, in their order. `notes` says what else
    /// changed in a job's configuration (query, model, …) for its history.
    /// Every slot up to `now` is already decided (`handle` advanced first).
    async fn reload(
        &mut self,
        now: Timestamp,
        specs: Vec<JobSpec>,
        notes: Vec<(JobName, Vec<String>)>,
        by: &str,
    ) -> Vec<JobReload> {
        let mut report = Vec::new();
        let mut old: Vec<Job> = std::mem::take(&mut self.jobs);
        let (kept, removed): (Vec<Job>, Vec<Job>) = old
            .drain(..)
            .partition(|j| specs.iter().any(|s| s.name == j.spec.name));
        old = kept;
        for j in removed {
            let mut batch = self.pause_gap_until(&j, now).await;
            if let Some(QueuedRun {
                slot: Some(slot), ..
            }) = &j.queued
            {
                batch.slots.push(j.record(
                    *slot,
                    SlotDecision::StartFailed {
                        reason: "the job was removed by a configuration reload".into(),
                    },
                    now,
                ));
            }
            let mut stored = j.stored();
            stored.accounted_until = j.accounted_until.max(now);
            batch.jobs.push(stored);
            batch.changes.push(StateChange {
                job: j.spec.name.clone(),
                at: now,
                by: by.to_string(),
                from: Some(j.state.kind()),
                to: StateKind::Removed,
                reason: Some(match j.running {
                    Some(d) => format!(
                        "removed by a configuration reload (its running dispatch {d} finishes)"
                    ),
                    None => "removed by a configuration reload".into(),
                }),
                until: None,
            });
            self.persist_or_log(batch).await;
            tracing::info!(job = %j.spec.name, by, "job removed by a reload");
            report.push(JobReload::Removed(j.spec.name));
        }
        for spec in specs {
            let Some(pos) = old.iter().position(|j| j.spec.name == spec.name) else {
                let name = spec.name.clone();
                match self.load_job(spec, Some(by)).await {
                    Ok(()) => {
                        tracing::info!(job = %name, by, "job added by a reload");
                        report.push(JobReload::Added(name));
                    }
                    Err(e) => {
                        tracing::error!(job = %name, error = %e, "a reload could not add a job");
                        report.push(JobReload::Changed {
                            job: name,
                            what: vec![format!("could not be added: {e}")],
                        });
                    }
                }
                continue;
            };
            let mut j = old.remove(pos);
            let mut what = spec_changes(&j.spec, &spec, &self.default_tz_name);
            let retimed = j.spec.schedule != spec.schedule || j.spec.timezone != spec.timezone;
            if let Some((_, more)) = notes.iter().find(|(n, _)| *n == spec.name) {
                what.extend(more.iter().cloned());
            }
            if what.is_empty() {
                j.spec = spec;
                self.jobs.push(j);
                continue;
            }
            let mut batch = StoreBatch::default();
            if retimed {
                // The old schedule decided every slot up to now (a paused
                // job's are skipped); the new one takes over from now.
                batch = self.pause_gap_until(&j, now).await;
                j.accounted_until = j.accounted_until.max(now);
                j.schedule = Schedule::parse(
                    &spec.schedule,
                    spec.timezone.as_deref(),
                    &self.options.default_tz,
                )
                .map_err(|e| e.to_string());
                j.next_slot = match (&j.schedule, &j.state) {
                    (Ok(s), OperatorState::Active) => s.next_after(j.accounted_until),
                    _ => None,
                };
            }
            j.spec = spec;
            let kind = j.state.kind();
            batch.changes.push(StateChange {
                job: j.spec.name.clone(),
                at: now,
                by: by.to_string(),
                from: Some(kind),
                to: kind,
                reason: Some(format!(
                    "changed by a configuration reload: {}",
                    what.join("; ")
                )),
                until: None,
            });
            batch.jobs.push(j.stored());
            self.persist_or_log(batch).await;
            tracing::info!(job = %j.spec.name, by, changes = %what.join("; "), "job changed by a reload");
            report.push(JobReload::Changed {
                job: j.spec.name.clone(),
                what,
            });
            self.jobs.push(j);
        }
        report
    }

    /// For a paused job: its slots from the last accounted one through `to`,
    /// recorded as skipped (disabled). Empty for an active job, whose slots
    /// up to now are decided already.
    async fn pause_gap_until(&self, j: &Job, to: Timestamp) -> StoreBatch {
        let mut batch = StoreBatch::default();
        if let (Ok(schedule), OperatorState::Disabled(_)) = (j.schedule.clone(), &j.state) {
            let (from, limit) = (j.accounted_until, self.options.missed_detail_limit);
            match blocking(move || Gap::collect(&schedule, from, to, limit, &BTreeSet::new())).await
            {
                Ok(gap) => batch.slots.extend(gap.records(
                    &j.spec.name,
                    GapKind::Disabled,
                    self.clock.now(),
                )),
                Err(e) => {
                    tracing::error!(job = %j.spec.name, error = %e, "cannot list skipped slots")
                }
            }
        }
        batch
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
        let j = &mut self.jobs[idx];
        let record = record_start(
            StoreBatch::default(),
            j.stored(),
            queued.trigger,
            now,
            queued.slot.map(|slot| {
                let decide: fn(DispatchId) -> SlotDecision =
                    |id| SlotDecision::Queued { dispatch: Some(id) };
                (slot, decide)
            }),
        );
        let r = start_dispatch(
            &self.dispatcher,
            j,
            queued.trigger,
            queued.slot,
            queued.who,
            now,
            record,
        )
        .await;
        match (r, queued.slot) {
            (Ok(_), _) => {}
            (Err(e), Some(slot)) => {
                let batch = StoreBatch {
                    jobs: vec![j.stored()],
                    slots: vec![j.record(slot, SlotDecision::StartFailed { reason: e.0 }, now)],
                    ..Default::default()
                };
                self.persist_or_log(batch).await;
            }
            (Err(e), None) => {
                tracing::error!(job = %job, error = %e, "queued run-now could not start");
            }
        }
        Ok(())
    }

    async fn persist(&self, batch: StoreBatch) -> Result<(), StoreError> {
        let store = self.store.clone();
        blocking(move || store.apply(batch)).await?
    }

    /// For writes that record what already happened (a dispatch started): the
    /// scheduler carries on, and the error is logged.
    async fn persist_or_log(&self, batch: StoreBatch) {
        if let Err(e) = self.persist(batch).await {
            tracing::error!(error = %e, "scheduler could not record its decision");
        }
    }
}

/// A slot a started dispatch serves, and its decision given the dispatch's id.
type ServedSlot = (Timestamp, fn(DispatchId) -> SlotDecision);

/// The batch that records a dispatch the scheduler starts, for its id: the
/// job's state with it as the last dispatch, the slot's decision if it serves
/// one, after whatever `batch` already holds.
fn record_start(
    mut batch: StoreBatch,
    mut job: StoredJob,
    trigger: Trigger,
    at: Timestamp,
    slot: Option<ServedSlot>,
) -> StartRecord {
    Box::new(move |id| {
        job.last_dispatch = Some(LastDispatch { id, at, trigger });
        if let Some((slot, decide)) = slot {
            batch.slots.push(SlotRecord {
                job: job.name.clone(),
                slot,
                decision: decide(id),
                decided_at: at,
            });
        }
        batch.jobs.push(job);
        batch
    })
}

/// Asks the dispatch side for a dispatch, `record` written with it; on
/// success the job is running.
async fn start_dispatch(
    dispatcher: &Arc<dyn Dispatcher>,
    job: &mut Job,
    trigger: Trigger,
    slot: Option<Timestamp>,
    who: Option<String>,
    at: Timestamp,
    record: StartRecord,
) -> Result<DispatchId, StartError> {
    let request = DispatchRequest {
        job: job.spec.name.clone(),
        trigger,
        slot,
        who,
    };
    let dispatcher = dispatcher.clone();
    let id = tokio::task::spawn_blocking(move || dispatcher.start(&request, record))
        .await
        .map_err(|e| StartError(format!("dispatcher panicked: {e}")))??;
    job.running = Some(id);
    job.last_dispatch = Some(LastDispatch { id, at, trigger });
    Ok(id)
}

/// What changed in the scheduling part of a job's configuration, in words.
fn spec_changes(old: &JobSpec, new: &JobSpec, default_tz: &str) -> Vec<String> {
    let mut what = Vec::new();
    if old.schedule != new.schedule {
        what.push(format!("schedule {:?} → {:?}", old.schedule, new.schedule));
    }
    if old.timezone != new.timezone {
        let tz = |t: &Option<String>| {
            t.clone()
                .unwrap_or_else(|| format!("{default_tz} (the server's)"))
        };
        what.push(format!(
            "timezone {} → {}",
            tz(&old.timezone),
            tz(&new.timezone)
        ));
    }
    if old.overlap != new.overlap {
        what.push(format!(
            "overlap {} → {}",
            overlap_name(old.overlap),
            overlap_name(new.overlap)
        ));
    }
    if old.missed != new.missed {
        what.push(format!(
            "missed {} → {}",
            missed_name(old.missed),
            missed_name(new.missed)
        ));
    }
    what
}

fn overlap_name(p: OverlapPolicy) -> &'static str {
    match p {
        OverlapPolicy::Skip => "skip",
        OverlapPolicy::Queue => "queue",
    }
}

fn missed_name(p: MissedPolicy) -> &'static str {
    match p {
        MissedPolicy::Skip => "skip",
        MissedPolicy::RunOnce => "run-once",
    }
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
