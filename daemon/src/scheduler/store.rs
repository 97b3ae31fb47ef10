//! What the scheduler keeps across restarts: its tables in the event log
//! (`job_states`, `schedule_changes`, `slot_decisions`, created by the event
//! log's migration v3) and every statement that reads or writes them.
//!
//! Receives job states, state changes and slot decisions from the scheduler's
//! owner task (always through `spawn_blocking`); emits them back at start and
//! for the handle's queries. [`EventLogStore`] runs them on the event log's
//! owner threads; [`write_batch`] is also run by the dispatch side inside the
//! transaction that creates a dispatch, so a dispatch and the decision it
//! serves commit together.
//!
//! Instants are stored through [`crate::eventlog::time`].

use jiff::Timestamp;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{
    DispatchId, GapKind, JobName, LastDispatch, OperatorState, Pause, SlotDecision, SlotRecord,
    StateChange, StateKind, Trigger,
};
use crate::eventlog::time::{self, Millis};
use crate::eventlog::{EventLog, EventLogError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("scheduler store, {what}: {source}")]
    EventLog {
        what: &'static str,
        source: EventLogError,
    },
    #[error("scheduler store task failed: {0}")]
    Join(String),
}

/// A job's persisted schedule state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJob {
    pub name: JobName,
    pub state: OperatorState,
    /// Every slot at or before this instant has a decision.
    pub accounted_until: Timestamp,
    pub last_dispatch: Option<LastDispatch>,
}

/// Writes that belong together; [`SchedulerStore::apply`] commits them in one transaction.
#[derive(Debug, Clone, Default)]
pub struct StoreBatch {
    /// Upserted.
    pub jobs: Vec<StoredJob>,
    /// Appended.
    pub changes: Vec<StateChange>,
    /// Upserted by (job, slot): a queued slot's decision is completed in place.
    pub slots: Vec<SlotRecord>,
}

impl StoreBatch {
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty() && self.changes.is_empty() && self.slots.is_empty()
    }
}

/// What the scheduler needs to survive restarts. Every method blocks; the
/// scheduler calls them from `spawn_blocking`.
pub trait SchedulerStore: Send + Sync + 'static {
    fn load_job(&self, job: &JobName) -> Result<Option<StoredJob>, StoreError>;
    /// Slots recorded as queued whose dispatch never started (the daemon stopped first).
    fn abandoned_queued(&self, job: &JobName) -> Result<Vec<Timestamp>, StoreError>;
    /// Commits the batch in one transaction.
    fn apply(&self, batch: StoreBatch) -> Result<(), StoreError>;
    /// The job's slot decisions with `slot >= since`, oldest first, at most `limit`.
    fn slots_since(
        &self,
        job: &JobName,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<SlotRecord>, StoreError>;
    /// The job's state changes, oldest first.
    fn history(&self, job: &JobName) -> Result<Vec<StateChange>, StoreError>;
    /// The dispatches that serve a slot of the job after `after`, with the
    /// slot and how they were started: a slot that has one is never run again.
    fn dispatched_slots(
        &self,
        job: &JobName,
        after: Timestamp,
    ) -> Result<Vec<(Timestamp, DispatchId, Trigger)>, StoreError>;
}

/// [`SchedulerStore`] on the event log: reads on its reader thread, writes
/// batched by its writer thread. No connection of its own.
#[derive(Debug, Clone)]
pub struct EventLogStore {
    log: EventLog,
}

impl EventLogStore {
    pub fn new(log: EventLog) -> EventLogStore {
        EventLogStore { log }
    }

    pub fn event_log(&self) -> &EventLog {
        &self.log
    }
}

fn err(what: &'static str) -> impl FnOnce(EventLogError) -> StoreError {
    move |source| StoreError::EventLog { what, source }
}

/// A stored text that is not one of the values its column may hold: the same
/// kind of error as a corrupt instant, naming the column's index and the value.
fn corrupt(idx: usize, what: &'static str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        Type::Text,
        format!("{value:?} is not a {what}").into(),
    )
}

fn decision_columns(
    d: &SlotDecision,
) -> (
    &'static str,
    Option<i64>,
    Option<&str>,
    Option<i64>,
    Option<Millis>,
) {
    match d {
        SlotDecision::Ran { dispatch } => ("ran", Some(dispatch.0), None, None, None),
        SlotDecision::SkippedOverlap { running } => {
            ("skipped_overlap", Some(running.0), None, None, None)
        }
        SlotDecision::Queued { dispatch } => ("queued", dispatch.map(|d| d.0), None, None, None),
        SlotDecision::SkippedDisabled => ("skipped_disabled", None, None, None, None),
        SlotDecision::Missed => ("missed", None, None, None, None),
        SlotDecision::CaughtUp { dispatch } => ("caught_up", Some(dispatch.0), None, None, None),
        SlotDecision::StartFailed { reason } => ("start_failed", None, Some(reason), None, None),
        SlotDecision::Summary { kind, count, last } => {
            let name = match kind {
                GapKind::Missed => "missed_summary",
                GapKind::Disabled => "disabled_summary",
            };
            (name, None, None, Some(*count as i64), Some(Millis(*last)))
        }
    }
}

/// The decision of a `slot_decisions` row whose columns start at `at`:
/// decision, dispatch_id, detail, slot_count, last_slot_ms.
fn decision_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<SlotDecision> {
    let kind: String = r.get(at)?;
    let dispatch: Option<i64> = r.get(at + 1)?;
    let detail: Option<String> = r.get(at + 2)?;
    let count: Option<i64> = r.get(at + 3)?;
    let last = time::get_opt(r, at + 4)?;
    let bad = || corrupt(at, "complete slot decision", &kind);
    let id = || dispatch.map(DispatchId).ok_or_else(bad);
    let summary = |kind| -> rusqlite::Result<SlotDecision> {
        let count = count.and_then(|c| u64::try_from(c).ok()).ok_or_else(bad)?;
        Ok(SlotDecision::Summary {
            kind,
            count,
            last: last.ok_or_else(bad)?,
        })
    };
    Ok(match kind.as_str() {
        "ran" => SlotDecision::Ran { dispatch: id()? },
        "skipped_overlap" => SlotDecision::SkippedOverlap { running: id()? },
        "queued" => SlotDecision::Queued {
            dispatch: dispatch.map(DispatchId),
        },
        "skipped_disabled" => SlotDecision::SkippedDisabled,
        "missed" => SlotDecision::Missed,
        "caught_up" => SlotDecision::CaughtUp { dispatch: id()? },
        "start_failed" => SlotDecision::StartFailed {
            reason: detail.unwrap_or_default(),
        },
        "missed_summary" => summary(GapKind::Missed)?,
        "disabled_summary" => summary(GapKind::Disabled)?,
        other => return Err(corrupt(at, "slot decision", other)),
    })
}

fn state_kind(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<StateKind> {
    let s: String = r.get(idx)?;
    StateKind::parse(&s).ok_or_else(|| corrupt(idx, "job state", &s))
}

/// Every write of a batch, inside the caller's transaction (the event log's
/// writer, or the one that creates a dispatch).
pub fn write_batch(tx: &Transaction<'_>, batch: &StoreBatch) -> rusqlite::Result<()> {
    let mut put_job = tx.prepare_cached(
        "INSERT INTO job_states (job, state, disabled_by, disabled_at_ms, disabled_reason, disabled_until_ms,
             accounted_until_ms, last_dispatch_id, last_dispatch_at_ms, last_dispatch_trigger)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (job) DO UPDATE SET state = excluded.state, disabled_by = excluded.disabled_by,
             disabled_at_ms = excluded.disabled_at_ms, disabled_reason = excluded.disabled_reason,
             disabled_until_ms = excluded.disabled_until_ms, accounted_until_ms = excluded.accounted_until_ms,
             last_dispatch_id = excluded.last_dispatch_id, last_dispatch_at_ms = excluded.last_dispatch_at_ms,
             last_dispatch_trigger = excluded.last_dispatch_trigger",
    )?;
    for j in &batch.jobs {
        let pause = match &j.state {
            OperatorState::Active => None,
            OperatorState::Disabled(p) => Some(p),
        };
        put_job.execute(params![
            j.name.0,
            j.state.kind().as_str(),
            pause.map(|p| p.by.as_str()),
            pause.map(|p| Millis(p.at)),
            pause.and_then(|p| p.reason.as_deref()),
            pause.and_then(|p| p.until).map(Millis),
            Millis(j.accounted_until),
            j.last_dispatch.map(|d| d.id.0),
            j.last_dispatch.map(|d| Millis(d.at)),
            j.last_dispatch.map(|d| d.trigger.as_str()),
        ])?;
    }
    let mut put_change = tx.prepare_cached(
        "INSERT INTO schedule_changes (job, at_ms, by_user, from_state, to_state, reason, until_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for c in &batch.changes {
        put_change.execute(params![
            c.job.0,
            Millis(c.at),
            c.by,
            c.from.map(StateKind::as_str),
            c.to.as_str(),
            c.reason,
            c.until.map(Millis),
        ])?;
    }
    let mut put_slot = tx.prepare_cached(
        "INSERT OR REPLACE INTO slot_decisions
             (job, slot_ms, decision, dispatch_id, detail, slot_count, last_slot_ms, decided_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for s in &batch.slots {
        let (kind, dispatch, detail, count, last) = decision_columns(&s.decision);
        put_slot.execute(params![
            s.job.0,
            Millis(s.slot),
            kind,
            dispatch,
            detail,
            count,
            last,
            Millis(s.decided_at)
        ])?;
    }
    Ok(())
}

pub fn load_job(c: &Connection, job: &JobName) -> rusqlite::Result<Option<StoredJob>> {
    c.query_row(
        "SELECT state, disabled_by, disabled_at_ms, disabled_reason, disabled_until_ms, accounted_until_ms,
                last_dispatch_id, last_dispatch_at_ms, last_dispatch_trigger
         FROM job_states WHERE job = ?1",
        params![job.0],
        |r| {
            let state = match state_kind(r, 0)? {
                StateKind::Active => OperatorState::Active,
                StateKind::Disabled => OperatorState::Disabled(Pause {
                    by: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    at: time::get_opt(r, 2)?.unwrap_or(Timestamp::UNIX_EPOCH),
                    reason: r.get(3)?,
                    until: time::get_opt(r, 4)?,
                }),
                StateKind::Removed => {
                    return Err(corrupt(0, "persisted job state", "removed"));
                }
            };
            let last_id: Option<i64> = r.get(6)?;
            let last_at = time::get_opt(r, 7)?;
            let last_trigger: Option<String> = r.get(8)?;
            let last_dispatch = match (last_id, last_at, last_trigger) {
                (Some(id), Some(at), Some(trigger)) => Some(LastDispatch {
                    id: DispatchId(id),
                    at,
                    trigger: Trigger::parse(&trigger)
                        .ok_or_else(|| corrupt(8, "dispatch trigger", &trigger))?,
                }),
                _ => None,
            };
            Ok(StoredJob {
                name: job.clone(),
                state,
                accounted_until: time::get(r, 5)?,
                last_dispatch,
            })
        },
    )
    .optional()
}

pub fn abandoned_queued(c: &Connection, job: &JobName) -> rusqlite::Result<Vec<Timestamp>> {
    let mut stmt = c.prepare_cached(
        "SELECT slot_ms FROM slot_decisions
         WHERE job = ?1 AND decision = 'queued' AND dispatch_id IS NULL ORDER BY slot_ms",
    )?;
    stmt.query_map(params![job.0], |r| time::get(r, 0))?
        .collect()
}

pub fn slots_since(
    c: &Connection,
    job: &JobName,
    since: Timestamp,
    limit: usize,
) -> rusqlite::Result<Vec<SlotRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT slot_ms, decided_at_ms, decision, dispatch_id, detail, slot_count, last_slot_ms
         FROM slot_decisions WHERE job = ?1 AND slot_ms >= ?2 ORDER BY slot_ms LIMIT ?3",
    )?;
    let limit = limit.min(i64::MAX as usize) as i64;
    stmt.query_map(params![job.0, Millis(since), limit], |r| {
        Ok(SlotRecord {
            job: job.clone(),
            slot: time::get(r, 0)?,
            decided_at: time::get(r, 1)?,
            decision: decision_from_row(r, 2)?,
        })
    })?
    .collect()
}

pub fn history(c: &Connection, job: &JobName) -> rusqlite::Result<Vec<StateChange>> {
    let mut stmt = c.prepare_cached(
        "SELECT at_ms, by_user, from_state, to_state, reason, until_ms
         FROM schedule_changes WHERE job = ?1 ORDER BY id",
    )?;
    stmt.query_map(params![job.0], |r| {
        let from = match r.get::<_, Option<String>>(2)? {
            None => None,
            Some(_) => Some(state_kind(r, 2)?),
        };
        Ok(StateChange {
            job: job.clone(),
            at: time::get(r, 0)?,
            by: r.get(1)?,
            from,
            to: state_kind(r, 3)?,
            reason: r.get(4)?,
            until: time::get_opt(r, 5)?,
        })
    })?
    .collect()
}

impl SchedulerStore for EventLogStore {
    fn load_job(&self, job: &JobName) -> Result<Option<StoredJob>, StoreError> {
        let job = job.clone();
        self.log
            .read_blocking(move |c| load_job(c, &job))
            .map_err(err("load job state"))
    }

    fn abandoned_queued(&self, job: &JobName) -> Result<Vec<Timestamp>, StoreError> {
        let job = job.clone();
        self.log
            .read_blocking(move |c| abandoned_queued(c, &job))
            .map_err(err("find queued slots"))
    }

    fn apply(&self, batch: StoreBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.log
            .write_blocking(move |tx| write_batch(tx, &batch))
            .map_err(err("record decisions"))
    }

    fn slots_since(
        &self,
        job: &JobName,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<SlotRecord>, StoreError> {
        let job = job.clone();
        self.log
            .read_blocking(move |c| slots_since(c, &job, since, limit))
            .map_err(err("read slot decisions"))
    }

    fn history(&self, job: &JobName) -> Result<Vec<StateChange>, StoreError> {
        let job = job.clone();
        self.log
            .read_blocking(move |c| history(c, &job))
            .map_err(err("read state history"))
    }

    fn dispatched_slots(
        &self,
        job: &JobName,
        after: Timestamp,
    ) -> Result<Vec<(Timestamp, DispatchId, Trigger)>, StoreError> {
        let job = job.clone();
        self.log
            .read_blocking(move |c| crate::dispatch::store::slots_served(c, &job.0, after))
            .map_err(err("find dispatched slots"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn round_trips_every_kind_of_record_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let job = JobName("nightly".into());
        let stored = StoredJob {
            name: job.clone(),
            state: OperatorState::Disabled(Pause {
                by: "alice".into(),
                at: ts("2026-11-23T10:00:00Z"),
                reason: Some("maintenance".into()),
                until: Some(ts("2026-11-23T12:00:00Z")),
            }),
            accounted_until: ts("2026-11-23T10:00:00.250Z"),
            last_dispatch: Some(LastDispatch {
                id: DispatchId(7),
                at: ts("2026-11-23T02:00:01Z"),
                trigger: Trigger::CatchUp,
            }),
        };
        let change = StateChange {
            job: job.clone(),
            at: ts("2026-11-23T10:00:00Z"),
            by: "alice".into(),
            from: Some(StateKind::Active),
            to: StateKind::Disabled,
            reason: Some("maintenance".into()),
            until: Some(ts("2026-11-23T12:00:00Z")),
        };
        let decisions = [
            SlotDecision::Ran {
                dispatch: DispatchId(1),
            },
            SlotDecision::SkippedOverlap {
                running: DispatchId(1),
            },
            SlotDecision::Queued { dispatch: None },
            SlotDecision::Queued {
                dispatch: Some(DispatchId(2)),
            },
            SlotDecision::SkippedDisabled,
            SlotDecision::Missed,
            SlotDecision::CaughtUp {
                dispatch: DispatchId(3),
            },
            SlotDecision::StartFailed {
                reason: "event log full".into(),
            },
            SlotDecision::Summary {
                kind: GapKind::Missed,
                count: 5000,
                last: ts("2026-11-24T00:00:00Z"),
            },
            SlotDecision::Summary {
                kind: GapKind::Disabled,
                count: 2,
                last: ts("2026-11-25T00:00:00Z"),
            },
        ];
        let slots: Vec<SlotRecord> = decisions
            .iter()
            .enumerate()
            .map(|(i, d)| SlotRecord {
                job: job.clone(),
                slot: ts("2026-11-23T00:00:00Z")
                    .checked_add(jiff::SignedDuration::from_mins(i as i64))
                    .unwrap(),
                decision: d.clone(),
                decided_at: ts("2026-11-23T10:00:00Z"),
            })
            .collect();
        {
            let store = EventLogStore::new(EventLog::open(&path).unwrap());
            store
                .apply(StoreBatch {
                    jobs: vec![stored.clone()],
                    changes: vec![change.clone()],
                    slots: slots.clone(),
                })
                .unwrap();
        }
        // The file opened again has everything.
        let store = EventLogStore::new(EventLog::open(&path).unwrap());
        assert_eq!(store.load_job(&job).unwrap(), Some(stored));
        assert_eq!(store.load_job(&JobName("other".into())).unwrap(), None);
        assert_eq!(store.history(&job).unwrap(), vec![change]);
        assert_eq!(
            store
                .slots_since(&job, ts("2026-11-22T00:00:00Z"), usize::MAX)
                .unwrap(),
            slots
        );
        assert_eq!(
            store.slots_since(&job, slots[8].slot, usize::MAX).unwrap(),
            slots[8..].to_vec()
        );
        assert_eq!(store.abandoned_queued(&job).unwrap(), vec![slots[2].slot]);
        // Upsert by (job, slot): completing the queued slot replaces its row.
        let mut done = slots[2].clone();
        done.decision = SlotDecision::Queued {
            dispatch: Some(DispatchId(9)),
        };
        store
            .apply(StoreBatch {
                slots: vec![done.clone()],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            store.abandoned_queued(&job).unwrap(),
            Vec::<Timestamp>::new()
        );
        assert_eq!(
            store.slots_since(&job, done.slot, usize::MAX).unwrap()[0],
            done
        );
    }
}
