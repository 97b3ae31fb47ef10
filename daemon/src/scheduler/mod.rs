//! The scheduler: owns every job's schedule state and decides, for each cron
//! slot, what happens to it.
//!
//! Receives the jobs' configuration ([`JobSpec`]) at start, commands through a
//! [`SchedulerHandle`] (enable, disable, run now, reload, queries) and, from
//! the dispatch side, notice that a dispatch finished. Emits dispatch requests
//! to a [`Dispatcher`] and writes job states, state changes and one decision
//! per slot to a [`SchedulerStore`] (the event log, in the daemon). The
//! decision a dispatch serves is handed to the dispatcher with the request
//! ([`StartRecord`]) and committed in the transaction that creates the
//! dispatch: a crash never leaves one without the other.
//!
//! One tokio task owns the state (`owner.rs`); it sleeps until the earliest
//! deadline (a job's next slot or a pause expiry) or a command, never polls,
//! and reads the time from an injected [`Clock`](crate::clock::Clock).
//! Store and dispatcher calls are blocking and run in `spawn_blocking`.
//!
//! Rules the owner keeps:
//! - A job never runs twice at once. A slot (or a run-now) that falls while
//!   the job's dispatch runs is skipped, or queued when the job's overlap
//!   policy is `queue` (at most one queued; a further one is skipped).
//! - Every slot gets exactly one decision in the ledger; a queued slot's
//!   decision is completed with the dispatch that served it.
//! - At start, slots between the last accounted instant and now are recorded
//!   as missed (daemon down), or skipped (disabled) for the part of that time
//!   the job was paused; with the `run-once` missed policy the latest missed
//!   slot is served by one catch-up dispatch; a slot that already has a
//!   dispatch is never run again (its decision is completed instead). At most
//!   [`SchedulerOptions::missed_detail_limit`] slots are recorded one by one,
//!   the rest as one summary decision with their count.
//! - Slots that fall while a job is disabled are recorded as skipped (disabled)
//!   when it is enabled again (by an admin or when the pause expires), or at
//!   the next start; the scheduler does not wake up for a paused job's slots.
//! - The first state of a job comes from its config (`enabled`) only the first
//!   time the job is seen; afterwards the persisted state wins.
//! - A reload replaces the jobs at once: added ones start (their state as
//!   above, no catch-up for the time they were not configured), removed ones
//!   stop (a running dispatch finishes; a queued run is dropped), changed ones
//!   take their new schedule, timezone and policies from the reload on, with
//!   every slot up to the reload already decided. Each is recorded in the
//!   job's history, with who reloaded and what changed.

pub mod cron;
mod handle;
mod owner;
pub mod store;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

pub use handle::{SchedulerHandle, start};
pub use mld_shared::config::{MissedPolicy, OverlapPolicy};
pub use mld_shared::ids::{DispatchId, JobName};
pub use store::{EventLogStore, SchedulerStore, StoreBatch, StoreError, StoredJob};

/// What the scheduler needs to know about one configured job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub name: JobName,
    /// The crontab expression, as written in the config.
    pub schedule: String,
    /// IANA timezone name; `None` means the server's.
    pub timezone: Option<String>,
    /// The state the job starts in the first time it is seen.
    pub enabled: bool,
    pub overlap: OverlapPolicy,
    pub missed: MissedPolicy,
}

impl From<&mld_shared::config::JobConfig> for JobSpec {
    fn from(j: &mld_shared::config::JobConfig) -> Self {
        JobSpec {
            name: JobName(j.name.clone()),
            schedule: j.schedule.clone(),
            timezone: j.timezone.clone(),
            enabled: j.enabled,
            overlap: j.overlap,
            missed: j.missed,
        }
    }
}

/// Tunables; the defaults are what the daemon uses.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The timezone of jobs that name none: the server's.
    pub default_tz: TimeZone,
    /// How many missed (or disabled) slots of one gap are recorded one by one;
    /// the rest become one summary decision with their count.
    pub missed_detail_limit: usize,
    /// The longest the owner sleeps before re-reading the wall clock, so a
    /// clock step (NTP, a resumed VM) delays a slot by at most this much.
    pub max_sleep: Duration,
    /// Capacity of the command channel.
    pub command_capacity: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            default_tz: TimeZone::system(),
            missed_detail_limit: 100,
            max_sleep: Duration::from_secs(300),
            command_capacity: 64,
        }
    }
}

/// Why a dispatch was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A cron slot (possibly one that waited in the queue).
    Schedule,
    /// An admin's run-now.
    Manual,
    /// The one run that serves slots missed while the daemon was down.
    CatchUp,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::CatchUp => "catch-up",
        }
    }

    pub fn parse(s: &str) -> Option<Trigger> {
        Some(match s {
            "schedule" => Trigger::Schedule,
            "manual" => Trigger::Manual,
            "catch-up" => Trigger::CatchUp,
            _ => return None,
        })
    }
}

/// What the scheduler asks the dispatch side to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchRequest {
    pub job: JobName,
    pub trigger: Trigger,
    /// The slot this dispatch serves; `None` for run-now.
    pub slot: Option<Timestamp>,
    /// The Unix user who asked (run-now); `None` when the scheduler decided.
    pub who: Option<String>,
}

/// The dispatch side could not create the dispatch (e.g. the event log failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not start a dispatch: {0}")]
pub struct StartError(pub String);

/// What the scheduler records about a dispatch it starts (the job's new
/// state, the slot's decision), given the new dispatch's id.
pub type StartRecord = Box<dyn FnOnce(DispatchId) -> StoreBatch + Send>;

/// The boundary to the dispatch side, implemented by the daemon.
///
/// `start` creates the dispatch (its record in the event log, with the trigger,
/// slot and who) and, in the same transaction, writes the batch `record`
/// returns for its id ([`store::write_batch`]); then hands the dispatch to the
/// runner and returns its id. It must not wait for the dispatch to run. When
/// it fails, nothing of either was written. It is called from a blocking
/// thread (`spawn_blocking`), one call at a time. When the dispatch ends,
/// whatever its status, the daemon must call
/// [`SchedulerHandle::dispatch_finished`] with the same id: until then the job
/// counts as running (overlap and queueing).
pub trait Dispatcher: Send + Sync + 'static {
    fn start(
        &self,
        request: &DispatchRequest,
        record: StartRecord,
    ) -> Result<DispatchId, StartError>;

    /// A dispatch of `job` running though the scheduler did not start it (one
    /// being settled after a restart): the job counts as running until the
    /// daemon reports it finished.
    fn running(&self, _job: &JobName) -> Option<DispatchId> {
        None
    }
}

/// A pause: who disabled the job, when, why, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// Unix user name, or `config` / `mld` for the daemon itself.
    pub by: String,
    pub at: Timestamp,
    pub reason: Option<String>,
    /// The job resumes by itself at this instant.
    pub until: Option<Timestamp>,
}

/// The state an operator controls, which survives restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorState {
    Active,
    Disabled(Pause),
}

impl OperatorState {
    pub fn kind(&self) -> StateKind {
        match self {
            OperatorState::Active => StateKind::Active,
            OperatorState::Disabled(_) => StateKind::Disabled,
        }
    }
}

/// A job's state as shown: an invalid schedule hides the operator state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Active,
    Disabled(Pause),
    Invalid { reason: String },
}

impl JobState {
    pub fn label(&self) -> &'static str {
        match self {
            JobState::Active => "active",
            JobState::Disabled(_) => "disabled",
            JobState::Invalid { .. } => "invalid",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Active,
    Disabled,
    /// Only in the history: a reload removed the job from the configuration.
    Removed,
}

impl StateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Active => "active",
            StateKind::Disabled => "disabled",
            StateKind::Removed => "removed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<StateKind> {
        match s {
            "active" => Some(StateKind::Active),
            "disabled" => Some(StateKind::Disabled),
            "removed" => Some(StateKind::Removed),
            _ => None,
        }
    }
}

/// One entry of a job's state history (the audit trail of enable/disable,
/// and of reloads that added, removed or changed the job: a change keeps the
/// state, `from` = `to`, and the reason says what changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub job: JobName,
    pub at: Timestamp,
    /// Unix user name, or `config` (first seen) / `mld` (pause expired) /
    /// `SIGHUP` (a reload by signal).
    pub by: String,
    /// `None` the first time the job is seen.
    pub from: Option<StateKind>,
    pub to: StateKind,
    pub reason: Option<String>,
    pub until: Option<Timestamp>,
}

/// Why a run of slots did not run: the daemon was down, or the job paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    Missed,
    Disabled,
}

/// What happened to one cron slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotDecision {
    /// Served by this dispatch.
    Ran { dispatch: DispatchId },
    /// Fell while `running` still ran, and the job skips overlapping slots
    /// (or already had one queued).
    SkippedOverlap { running: DispatchId },
    /// Queued behind the running dispatch; `dispatch` is set when it started.
    Queued { dispatch: Option<DispatchId> },
    /// Fell while the job was disabled.
    SkippedDisabled,
    /// Fell while the daemon was down.
    Missed,
    /// Fell while the daemon was down and was served by the catch-up dispatch.
    CaughtUp { dispatch: DispatchId },
    /// Due, but the dispatch side refused to start it.
    StartFailed { reason: String },
    /// This slot and `count - 1` more through `last`, all missed or skipped
    /// (disabled), recorded as one decision to bound the ledger.
    Summary {
        kind: GapKind,
        count: u64,
        last: Timestamp,
    },
}

impl fmt::Display for SlotDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotDecision::Ran { dispatch } => write!(f, "ran as dispatch {dispatch}"),
            SlotDecision::SkippedOverlap { running } => {
                write!(f, "skipped: overlap (dispatch {running} running)")
            }
            SlotDecision::Queued { dispatch: None } => {
                f.write_str("queued behind the running dispatch")
            }
            SlotDecision::Queued { dispatch: Some(d) } => write!(f, "queued, ran as dispatch {d}"),
            SlotDecision::SkippedDisabled => f.write_str("skipped: disabled"),
            SlotDecision::Missed => f.write_str("missed: daemon down"),
            SlotDecision::CaughtUp { dispatch } => {
                write!(f, "missed: daemon down, caught up by dispatch {dispatch}")
            }
            SlotDecision::StartFailed { reason } => write!(f, "not started: {reason}"),
            SlotDecision::Summary { kind, count, last } => {
                let what = match kind {
                    GapKind::Missed => "missed: daemon down",
                    GapKind::Disabled => "skipped: disabled",
                };
                write!(f, "{what} ({count} slots through {last})")
            }
        }
    }
}

/// One line of a job's slot ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRecord {
    pub job: JobName,
    pub slot: Timestamp,
    pub decision: SlotDecision,
    pub decided_at: Timestamp,
}

/// The last dispatch the scheduler started for a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastDispatch {
    pub id: DispatchId,
    pub at: Timestamp,
    pub trigger: Trigger,
}

/// A job as the scheduler sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    pub name: JobName,
    pub state: JobState,
    pub schedule: String,
    /// The IANA name the schedule is read in (the server's when the job names none).
    pub timezone: String,
    pub overlap: OverlapPolicy,
    pub missed: MissedPolicy,
    pub last_dispatch: Option<LastDispatch>,
    /// The next slot that will run: `None` when invalid, paused without an
    /// expiry, or the expression never fires again.
    pub next_dispatch: Option<Timestamp>,
    pub running: Option<DispatchId>,
    pub queued: bool,
}

/// What a run-now did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNow {
    Started(DispatchId),
    /// The job was running and queues overlapping runs: it starts when the running one finishes.
    Queued {
        behind: DispatchId,
    },
}

/// Errors of the scheduler's handle.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("no job named \"{0}\"")]
    UnknownJob(JobName),
    #[error("job \"{job}\" is invalid: {reason}")]
    JobInvalid { job: JobName, reason: String },
    #[error("job \"{job}\" is already {state}")]
    NoChange { job: JobName, state: &'static str },
    #[error("job \"{job}\": pause expiry {until} is not in the future")]
    UntilInPast { job: JobName, until: Timestamp },
    #[error("job \"{job}\" is already running as dispatch {running}{}", if *queued { " with a run queued" } else { "" })]
    AlreadyRunning {
        job: JobName,
        running: DispatchId,
        queued: bool,
    },
    #[error("job \"{job}\" has no running dispatch {dispatch}")]
    UnknownDispatch { job: JobName, dispatch: DispatchId },
    #[error("job \"{job}\": {source}")]
    Start { job: JobName, source: StartError },
    #[error("scheduler store: {0}")]
    Store(#[from] StoreError),
    #[error("the scheduler has stopped")]
    Stopped,
}

/// What a reload did to one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobReload {
    Added(JobName),
    Removed(JobName),
    /// Each entry says what changed (`schedule "0 2 * * *" → "0 3 * * *"`).
    Changed {
        job: JobName,
        what: Vec<String>,
    },
}

impl fmt::Display for JobReload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobReload::Added(job) => write!(f, "job {job} added"),
            JobReload::Removed(job) => write!(f, "job {job} removed"),
            JobReload::Changed { job, what } => write!(f, "job {job}: {}", what.join("; ")),
        }
    }
}
