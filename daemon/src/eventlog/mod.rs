//! The event log: the daemon's own SQLite database and the source of truth
//! for history.
//!
//! Owns one file, opened in WAL mode with `synchronous = FULL`, so what was
//! acknowledged survives a crash or a power cut. Receives write and read jobs
//! (closures over a connection) from anywhere in the daemon; emits their
//! results through oneshot replies. Every read and write of the file goes
//! through these two owner threads: no other connection to it exists.
//!
//! Writes run on one owner thread that drains its queue into a single
//! transaction (a savepoint per job, so one failing job does not undo the
//! others), commits, and only then acknowledges: batching amortises the fsync.
//! Reads run on a separate thread with its own read-only connection, so
//! readers never block writers. Both queues are bounded: a producer that
//! finds one full waits ([`WRITE_QUEUE`], [`READ_QUEUE`]). Nothing here runs
//! on the async runtime.
//!
//! The SQL of each subsystem's tables lives in that subsystem's store module
//! (`dispatch::store`, `scheduler::store`, `training::store`, …) as functions
//! over a connection or transaction; instants are stored through [`time`];
//! the schema is [`schema`]'s frozen migrations.

pub mod schema;
pub mod time;

use rusqlite::{Connection, OpenFlags, Transaction};
use std::path::{Path, PathBuf};
use std::thread;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// The most write jobs folded into one transaction.
const MAX_BATCH: usize = 512;
/// Write jobs waiting for the writer thread, at most; more make the
/// submitter wait (an async one yields, a blocking one blocks).
pub const WRITE_QUEUE: usize = 2 * MAX_BATCH;
/// Read jobs waiting for the reader thread, at most.
pub const READ_QUEUE: usize = 256;

#[derive(Debug, Error)]
pub enum EventLogError {
    #[error("cannot open the event log {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the folder of the event log {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the event log {path} has schema version {found}, newer than this daemon's {supported}: \
         it was written by a newer mld"
    )]
    TooNew {
        path: PathBuf,
        found: usize,
        supported: usize,
    },
    #[error("event log migration to version {version} failed: {source}")]
    Migration {
        version: usize,
        source: rusqlite::Error,
    },
    #[error("event log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("event log writes are failing: {0}")]
    Storage(String),
    #[error("event log commit failed: {0}")]
    Commit(String),
    #[error("the event log is shut down")]
    Closed,
}

/// Called once the batch a job ran in is committed (or not).
type Reply = Box<dyn FnOnce(Result<(), EventLogError>) + Send>;
/// Runs inside the batch's transaction; says whether its statements succeeded.
type WriteJob = Box<dyn FnOnce(&Transaction<'_>) -> (bool, Reply) + Send>;
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// A cheap, cloneable handle to the event log's threads.
#[derive(Clone)]
pub struct EventLog {
    writes: mpsc::Sender<WriteJob>,
    reads: mpsc::Sender<ReadJob>,
    path: PathBuf,
    trouble: Trouble,
    commits: CommitWatch,
}

/// Told, on the writer thread, how long each batch took (its transaction,
/// from the first job to the commit's fsync) and whether it committed.
pub type CommitObserver = Box<dyn Fn(std::time::Duration, bool) + Send + Sync>;

/// Where the writer thread finds its [`CommitObserver`], once one is set.
#[derive(Clone, Default)]
struct CommitWatch(std::sync::Arc<std::sync::OnceLock<CommitObserver>>);

/// How long a storage failure (disk full, I/O error, read-only, locked) keeps
/// the event log `error` in the monitor after it happened: a small probe write
/// may still fit where a dispatch's batch did not.
const TROUBLE_MEMORY: std::time::Duration = std::time::Duration::from_secs(120);

/// The last storage-level failure of any write, shared with the writer thread.
#[derive(Clone, Default)]
struct Trouble(std::sync::Arc<std::sync::Mutex<Option<(std::time::Instant, String)>>>);

impl Trouble {
    fn note(&self, e: &rusqlite::Error) {
        use rusqlite::ErrorCode::*;
        if let rusqlite::Error::SqliteFailure(f, _) = e
            && matches!(
                f.code,
                DiskFull
                    | SystemIoFailure
                    | CannotOpen
                    | ReadOnly
                    | DatabaseBusy
                    | DatabaseLocked
                    | DatabaseCorrupt
            )
        {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((std::time::Instant::now(), e.to_string()));
        }
    }

    fn recent(&self) -> Option<String> {
        let t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        t.as_ref()
            .filter(|(at, _)| at.elapsed() < TROUBLE_MEMORY)
            .map(|(_, m)| m.clone())
    }
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("path", &self.path)
            .finish()
    }
}

/// Opens a connection with the settings every connection to the file uses.
fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, EventLogError> {
    let conn = Connection::open_with_flags(path, flags).map_err(|source| EventLogError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Brings the file to [`schema::CURRENT_VERSION`], one transaction per step.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<usize, EventLogError> {
    let found: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if found > schema::CURRENT_VERSION {
        return Err(EventLogError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: schema::CURRENT_VERSION,
        });
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found) {
        let version = i + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|source| EventLogError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(|source| EventLogError::Migration { version, source })?;
        tx.commit()
            .map_err(|source| EventLogError::Migration { version, source })?;
        tracing::info!(version, "event log migrated");
    }
    Ok(found)
}

impl EventLog {
    /// Opens (creating if needed) and migrates the file, then starts the
    /// writer and reader threads. Blocking: call it before the runtime is busy
    /// or from `spawn_blocking`.
    pub fn open(path: &Path) -> Result<EventLog, EventLogError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| EventLogError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut writer = connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        migrate(&mut writer, path)?;
        let reader = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;

        let trouble = Trouble::default();
        let commits = CommitWatch::default();
        let (wtx, wrx) = mpsc::channel::<WriteJob>(WRITE_QUEUE);
        let (rtx, rrx) = mpsc::channel::<ReadJob>(READ_QUEUE);
        thread::Builder::new()
            .name("eventlog-writer".into())
            .spawn({
                let trouble = trouble.clone();
                let commits = commits.clone();
                move || writer_loop(writer, wrx, trouble, commits)
            })
            .map_err(|e| EventLogError::Open {
                path: path.to_path_buf(),
                source: io_to_sqlite(e),
            })?;
        thread::Builder::new()
            .name("eventlog-reader".into())
            .spawn(move || reader_loop(reader, rrx))
            .map_err(|e| EventLogError::Open {
                path: path.to_path_buf(),
                source: io_to_sqlite(e),
            })?;
        Ok(EventLog {
            trouble,
            commits,
            writes: wtx,
            reads: rtx,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets what the writer thread tells of each batch it commits (the
    /// metrics endpoint's write latency). Once: a second observer is refused
    /// and returned. It runs on the writer thread, so it must be quick.
    pub fn observe_commits(&self, observer: CommitObserver) -> Result<(), CommitObserver> {
        self.commits.0.set(observer)
    }

    /// How many more write jobs the queue takes before a submitter waits.
    pub fn write_queue_free(&self) -> usize {
        self.writes.capacity()
    }

    /// Runs `f` inside the writer's next transaction; resolves once committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, EventLogError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let (job, rx) = self.write_job(f);
        self.writes
            .send(job)
            .await
            .map_err(|_| EventLogError::Closed)?;
        rx.await.map_err(|_| EventLogError::Closed)?
    }

    /// Like [`EventLog::write`], for blocking threads (dispatches, training,
    /// the scheduler's store). Must not be called on the async runtime.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, EventLogError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let (job, rx) = self.write_job(f);
        self.writes
            .blocking_send(job)
            .map_err(|_| EventLogError::Closed)?;
        rx.blocking_recv().map_err(|_| EventLogError::Closed)?
    }

    fn write_job<T, F>(&self, f: F) -> (WriteJob, oneshot::Receiver<Result<T, EventLogError>>)
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let trouble = self.trouble.clone();
        let job: WriteJob = Box::new(move |txn| {
            let out = f(txn);
            if let Err(e) = &out {
                trouble.note(e);
            }
            let ok = out.is_ok();
            // The reply waits for the commit: the caller learns the outcome of
            // the transaction, not just of its own statements.
            let reply: Reply = Box::new(move |committed: Result<(), EventLogError>| {
                let result = match (out, committed) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(EventLogError::Sqlite(e)),
                    (Ok(_), Err(e)) => Err(e),
                };
                let _ = tx.send(result);
            });
            (ok, reply)
        });
        (job, rx)
    }

    /// Runs `f` on the reader's connection.
    pub async fn read<T, F>(&self, f: F) -> Result<T, EventLogError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (job, rx) = read_job(f);
        self.reads
            .send(job)
            .await
            .map_err(|_| EventLogError::Closed)?;
        rx.await.map_err(|_| EventLogError::Closed)?
    }

    /// Like [`EventLog::read`], for blocking threads. Must not be called on
    /// the async runtime.
    pub fn read_blocking<T, F>(&self, f: F) -> Result<T, EventLogError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (job, rx) = read_job(f);
        self.reads
            .blocking_send(job)
            .map_err(|_| EventLogError::Closed)?;
        rx.blocking_recv().map_err(|_| EventLogError::Closed)?
    }

    /// Whether the log can be written and read right now (for the monitor).
    pub async fn probe(&self) -> Result<(), EventLogError> {
        let now = time::ms(jiff::Timestamp::now());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('last_probe', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [now.to_string()],
            )
        })
        .await?;
        self.read(|c| c.query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0)))
            .await?;
        match self.trouble.recent() {
            Some(message) => Err(EventLogError::Storage(message)),
            None => Ok(()),
        }
    }

    /// Records the daemon's start; closes any run left open by a daemon that died.
    pub async fn record_start(
        &self,
        pid: u32,
        version: &str,
        config_path: &Path,
    ) -> Result<i64, EventLogError> {
        let version = version.to_string();
        let config_path = config_path.display().to_string();
        let now = time::ms(jiff::Timestamp::now());
        self.write(move |tx| {
            let unclean = tx.execute(
                "UPDATE daemon_runs SET stop_reason = 'unclean' WHERE stopped_at IS NULL AND stop_reason IS NULL",
                [],
            )?;
            if unclean > 0 {
                tracing::warn!("the previous daemon run did not stop cleanly");
            }
            tx.execute(
                "INSERT INTO daemon_runs(pid, version, config_path, started_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![pid, version, config_path, now],
            )?;
            Ok(tx.last_insert_rowid())
        })
        .await
    }

    /// Records a clean stop of the run `run_id`.
    pub async fn record_stop(&self, run_id: i64, reason: &str) -> Result<(), EventLogError> {
        let reason = reason.to_string();
        let now = time::ms(jiff::Timestamp::now());
        self.write(move |tx| {
            tx.execute(
                "UPDATE daemon_runs SET stopped_at = ?1, stop_reason = ?2 WHERE id = ?3",
                rusqlite::params![now, reason, run_id],
            )?;
            Ok(())
        })
        .await
    }
}

fn read_job<T, F>(f: F) -> (ReadJob, oneshot::Receiver<Result<T, EventLogError>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let job: ReadJob = Box::new(move |conn| {
        let _ = tx.send(f(conn).map_err(EventLogError::Sqlite));
    });
    (job, rx)
}

fn io_to_sqlite(e: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<WriteJob>,
    trouble: Trouble,
    commits: CommitWatch,
) {
    // Jobs not yet run because their batch's transaction failed around them
    // (disk full, I/O error): they go first into the next batch, so each one
    // still gets an answer about its own fate.
    let mut carried: std::collections::VecDeque<WriteJob> = std::collections::VecDeque::new();
    loop {
        if carried.is_empty() {
            match rx.blocking_recv() {
                Some(job) => carried.push_back(job),
                None => return,
            }
        }
        while carried.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => carried.push_back(job),
                Err(_) => break,
            }
        }
        let mut replies: Vec<Reply> = Vec::with_capacity(carried.len());
        let began = std::time::Instant::now();
        let outcome = (|| -> Result<(), rusqlite::Error> {
            let tx = conn.transaction()?;
            while let Some(job) = carried.pop_front() {
                // A savepoint per job: a job whose statements fail is undone
                // alone, and the others in the batch still commit.
                if let Err(e) = tx.execute_batch("SAVEPOINT job") {
                    carried.push_front(job);
                    return Err(e);
                }
                let (ok, reply) = job(&tx);
                replies.push(reply);
                if !ok {
                    tx.execute_batch("ROLLBACK TO job")?;
                }
                tx.execute_batch("RELEASE job")?;
            }
            tx.commit()
        })();
        if let Some(observe) = commits.0.get() {
            observe(began.elapsed(), outcome.is_ok());
        }
        if let Err(e) = &outcome {
            trouble.note(e);
            tracing::error!(error = %e, "event log write failed; the batch was rolled back");
            if replies.is_empty() {
                // Not even one job could start: fail the first one rather
                // than retry it forever.
                if let Some(job) = carried.pop_front() {
                    drop(job);
                }
            }
        }
        for reply in replies {
            reply(
                outcome
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| EventLogError::Commit(e.to_string())),
            );
        }
    }
}

fn reader_loop(conn: Connection, mut rx: mpsc::Receiver<ReadJob>) {
    while let Some(job) = rx.blocking_recv() {
        job(&conn);
    }
}
