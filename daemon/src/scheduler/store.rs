//! What the scheduler keeps across restarts, and its SQLite implementation.
//!
//! Receives job states, state changes and slot decisions from the scheduler's
//! owner task (always through `spawn_blocking`); emits them back at start and
//! for the handle's queries. The tables are meant to move into the event log's
//! migrations unchanged: the whole DDL is [`SCHEMA`].
//!
//! Instants are stored as INTEGER milliseconds since the Unix epoch, UTC (as on
//! the wire), so they sort and compare in SQL.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::{
    DispatchId, GapKind, JobName, LastDispatch, OperatorState, Pause, SlotDecision, SlotRecord,
    StateChange, StateKind, Trigger,
};

/// The scheduler's tables.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS job_states (
    job                   TEXT PRIMARY KEY,
    state                 TEXT NOT NULL CHECK (state IN ('active', 'disabled')),
    disabled_by           TEXT,
    disabled_at_ms        INTEGER,
    disabled_reason       TEXT,
    disabled_until_ms     INTEGER,
    -- every slot at or before this instant has its decision in slot_decisions
    accounted_until_ms    INTEGER NOT NULL,
    last_dispatch_id      INTEGER,
    last_dispatch_at_ms   INTEGER,
    last_dispatch_trigger TEXT
);
CREATE TABLE IF NOT EXISTS schedule_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job         TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    by_user     TEXT NOT NULL,
    from_state  TEXT,            -- NULL: first time the job was seen
    to_state    TEXT NOT NULL,
    reason      TEXT,
    until_ms    INTEGER
);
CREATE INDEX IF NOT EXISTS schedule_changes_job ON schedule_changes (job, id);
CREATE TABLE IF NOT EXISTS slot_decisions (
    job            TEXT NOT NULL,
    slot_ms        INTEGER NOT NULL,
    decision       TEXT NOT NULL CHECK (decision IN ('ran', 'skipped_overlap', 'queued', 'skipped_disabled',
                       'missed', 'caught_up', 'start_failed', 'missed_summary', 'disabled_summary')),
    dispatch_id    INTEGER,      -- ran, queued (once started), caught_up; the running one for skipped_overlap
    detail         TEXT,         -- start_failed: the reason
    slot_count     INTEGER,      -- summaries: how many slots this row stands for
    last_slot_ms   INTEGER,      -- summaries: the last of them
    decided_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (job, slot_ms)
);
";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open scheduler store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("scheduler store, {what}: {source}")]
    Sql {
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("scheduler store, {what}: unexpected value {value:?}")]
    Corrupt { what: &'static str, value: String },
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
    fn apply(&self, batch: &StoreBatch) -> Result<(), StoreError>;
    /// The job's slot decisions with `slot >= since`, oldest first, at most `limit`.
    fn slots_since(
        &self,
        job: &JobName,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<SlotRecord>, StoreError>;
    /// The job's state changes, oldest first.
    fn history(&self, job: &JobName) -> Result<Vec<StateChange>, StoreError>;
}

/// [`SchedulerStore`] on a SQLite file (WAL), one connection behind a mutex.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sql { what, source }
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn from_ms(what: &'static str, v: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(v).map_err(|_| StoreError::Corrupt {
        what,
        value: v.to_string(),
    })
}

fn opt_from_ms(what: &'static str, v: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    v.map(|v| from_ms(what, v)).transpose()
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn decision_columns(
    d: &SlotDecision,
) -> (
    &'static str,
    Option<i64>,
    Option<&str>,
    Option<i64>,
    Option<i64>,
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
            (name, None, None, Some(*count as i64), Some(ms(*last)))
        }
    }
}

fn decision_from_columns(
    kind: &str,
    dispatch: Option<i64>,
    detail: Option<String>,
    count: Option<i64>,
    last: Option<i64>,
) -> Result<SlotDecision, StoreError> {
    let corrupt = || StoreError::Corrupt {
        what: "slot decision",
        value: kind.to_string(),
    };
    let id = || dispatch.map(DispatchId).ok_or_else(corrupt);
    let summary = |kind| -> Result<SlotDecision, StoreError> {
        let count = count
            .and_then(|c| u64::try_from(c).ok())
            .ok_or_else(corrupt)?;
        let last = from_ms("summary last slot", last.ok_or_else(corrupt)?)?;
        Ok(SlotDecision::Summary { kind, count, last })
    };
    Ok(match kind {
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
        _ => return Err(corrupt()),
    })
}

impl SchedulerStore for SqliteStore {
    fn load_job(&self, job: &JobName) -> Result<Option<StoredJob>, StoreError> {
        type Row = (
            String,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
        );
        let conn = self.conn();
        let row: Option<Row> = conn
            .query_row(
                "SELECT state, disabled_by, disabled_at_ms, disabled_reason, disabled_until_ms, accounted_until_ms,
                        last_dispatch_id, last_dispatch_at_ms, last_dispatch_trigger
                 FROM job_states WHERE job = ?1",
                params![job.0],
                |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
                },
            )
            .optional()
            .map_err(sql("load job state"))?;
        let Some((state, by, at, reason, until, accounted, last_id, last_at, last_trigger)) = row
        else {
            return Ok(None);
        };
        let state = match state.as_str() {
            "active" => OperatorState::Active,
            "disabled" => OperatorState::Disabled(Pause {
                by: by.unwrap_or_default(),
                at: from_ms("disabled_at_ms", at.unwrap_or(0))?,
                reason,
                until: opt_from_ms("disabled_until_ms", until)?,
            }),
            other => {
                return Err(StoreError::Corrupt {
                    what: "job state",
                    value: other.to_string(),
                });
            }
        };
        let last_dispatch = match (last_id, last_at, last_trigger) {
            (Some(id), Some(at), Some(trigger)) => Some(LastDispatch {
                id: DispatchId(id),
                at: from_ms("last_dispatch_at_ms", at)?,
                trigger: Trigger::parse(&trigger).ok_or(StoreError::Corrupt {
                    what: "last dispatch trigger",
                    value: trigger,
                })?,
            }),
            _ => None,
        };
        Ok(Some(StoredJob {
            name: job.clone(),
            state,
            accounted_until: from_ms("accounted_until_ms", accounted)?,
            last_dispatch,
        }))
    }

    fn abandoned_queued(&self, job: &JobName) -> Result<Vec<Timestamp>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT slot_ms FROM slot_decisions
                 WHERE job = ?1 AND decision = 'queued' AND dispatch_id IS NULL ORDER BY slot_ms",
            )
            .map_err(sql("find queued slots"))?;
        let rows = stmt
            .query_map(params![job.0], |r| r.get::<_, i64>(0))
            .map_err(sql("find queued slots"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("find queued slots"))?;
        rows.into_iter().map(|v| from_ms("slot_ms", v)).collect()
    }

    fn apply(&self, batch: &StoreBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin"))?;
        {
            let mut put_job = tx
                .prepare_cached(
                    "INSERT INTO job_states (job, state, disabled_by, disabled_at_ms, disabled_reason, disabled_until_ms,
                         accounted_until_ms, last_dispatch_id, last_dispatch_at_ms, last_dispatch_trigger)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (job) DO UPDATE SET state = excluded.state, disabled_by = excluded.disabled_by,
                         disabled_at_ms = excluded.disabled_at_ms, disabled_reason = excluded.disabled_reason,
                         disabled_until_ms = excluded.disabled_until_ms, accounted_until_ms = excluded.accounted_until_ms,
                         last_dispatch_id = excluded.last_dispatch_id, last_dispatch_at_ms = excluded.last_dispatch_at_ms,
                         last_dispatch_trigger = excluded.last_dispatch_trigger",
                )
                .map_err(sql("save job state"))?;
            for j in &batch.jobs {
                let pause = match &j.state {
                    OperatorState::Active => None,
                    OperatorState::Disabled(p) => Some(p),
                };
                put_job
                    .execute(params![
                        j.name.0,
                        j.state.kind().as_str(),
                        pause.map(|p| p.by.as_str()),
                        pause.map(|p| ms(p.at)),
                        pause.and_then(|p| p.reason.as_deref()),
                        pause.and_then(|p| p.until).map(ms),
                        ms(j.accounted_until),
                        j.last_dispatch.map(|d| d.id.0),
                        j.last_dispatch.map(|d| ms(d.at)),
                        j.last_dispatch.map(|d| d.trigger.as_str()),
                    ])
                    .map_err(sql("save job state"))?;
            }
            let mut put_change = tx
                .prepare_cached(
                    "INSERT INTO schedule_changes (job, at_ms, by_user, from_state, to_state, reason, until_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql("record state change"))?;
            for c in &batch.changes {
                put_change
                    .execute(params![
                        c.job.0,
                        ms(c.at),
                        c.by,
                        c.from.map(StateKind::as_str),
                        c.to.as_str(),
                        c.reason,
                        c.until.map(ms),
                    ])
                    .map_err(sql("record state change"))?;
            }
            let mut put_slot = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO slot_decisions
                         (job, slot_ms, decision, dispatch_id, detail, slot_count, last_slot_ms, decided_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(sql("record slot decision"))?;
            for s in &batch.slots {
                let (kind, dispatch, detail, count, last) = decision_columns(&s.decision);
                put_slot
                    .execute(params![
                        s.job.0,
                        ms(s.slot),
                        kind,
                        dispatch,
                        detail,
                        count,
                        last,
                        ms(s.decided_at)
                    ])
                    .map_err(sql("record slot decision"))?;
            }
        }
        tx.commit().map_err(sql("commit"))
    }

    fn slots_since(
        &self,
        job: &JobName,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<SlotRecord>, StoreError> {
        type Row = (
            i64,
            String,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            i64,
        );
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT slot_ms, decision, dispatch_id, detail, slot_count, last_slot_ms, decided_at_ms
                 FROM slot_decisions WHERE job = ?1 AND slot_ms >= ?2 ORDER BY slot_ms LIMIT ?3",
            )
            .map_err(sql("read slot decisions"))?;
        let rows: Vec<Row> = stmt
            .query_map(
                params![job.0, ms(since), limit.min(i64::MAX as usize) as i64],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .map_err(sql("read slot decisions"))?
            .collect::<Result<_, _>>()
            .map_err(sql("read slot decisions"))?;
        rows.into_iter()
            .map(|(slot, kind, dispatch, detail, count, last, decided)| {
                Ok(SlotRecord {
                    job: job.clone(),
                    slot: from_ms("slot_ms", slot)?,
                    decision: decision_from_columns(&kind, dispatch, detail, count, last)?,
                    decided_at: from_ms("decided_at_ms", decided)?,
                })
            })
            .collect()
    }

    fn history(&self, job: &JobName) -> Result<Vec<StateChange>, StoreError> {
        type Row = (
            i64,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<i64>,
        );
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT at_ms, by_user, from_state, to_state, reason, until_ms
                 FROM schedule_changes WHERE job = ?1 ORDER BY id",
            )
            .map_err(sql("read state history"))?;
        let rows: Vec<Row> = stmt
            .query_map(params![job.0], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(sql("read state history"))?
            .collect::<Result<_, _>>()
            .map_err(sql("read state history"))?;
        let kind = |s: &str| {
            StateKind::parse(s).ok_or(StoreError::Corrupt {
                what: "state",
                value: s.to_string(),
            })
        };
        rows.into_iter()
            .map(|(at, by, from, to, reason, until)| {
                Ok(StateChange {
                    job: job.clone(),
                    at: from_ms("at_ms", at)?,
                    by,
                    from: from.as_deref().map(kind).transpose()?,
                    to: kind(&to)?,
                    reason,
                    until: opt_from_ms("until_ms", until)?,
                })
            })
            .collect()
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
        let path = dir.path().join("sched.db");
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
            let store = SqliteStore::open(&path).unwrap();
            store
                .apply(&StoreBatch {
                    jobs: vec![stored.clone()],
                    changes: vec![change.clone()],
                    slots: slots.clone(),
                })
                .unwrap();
        }
        // A second connection on the same file sees everything.
        let store = SqliteStore::open(&path).unwrap();
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
            .apply(&StoreBatch {
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
