//! Versioned migrations of the event log. The file's `PRAGMA user_version` is
//! the number of migrations applied; each runs in its own transaction at start.
//! Migrations are append-only: a released one is never edited.

/// Migration `i` brings a file from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v1: the daemon's own runs.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE daemon_runs (
        id          INTEGER PRIMARY KEY,
        pid         INTEGER NOT NULL,
        version     TEXT NOT NULL,
        config_path TEXT NOT NULL,
        started_at  INTEGER NOT NULL,   -- ms since the Unix epoch, UTC
        stopped_at  INTEGER,
        stop_reason TEXT                -- 'shutdown', 'unclean' (found open at a later start)
    );
    "#,
    // v2: dispatches and what they did; showroom; training; access.
    r#"
    CREATE TABLE dispatches (
        id              INTEGER PRIMARY KEY,
        job             TEXT NOT NULL,
        trigger         TEXT NOT NULL,   -- 'schedule' | 'manual' | 'catch-up'
        requested_by    TEXT NOT NULL,
        slot            INTEGER,         -- the cron slot it serves, ms
        model           TEXT NOT NULL,
        model_version   TEXT NOT NULL,
        model_hash      TEXT NOT NULL,
        status          TEXT NOT NULL,   -- 'created' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted'
        failed_step     TEXT,
        error           TEXT,
        dry_run         INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        started_at      INTEGER,
        finished_at     INTEGER,
        rows_collected  INTEGER NOT NULL DEFAULT 0,
        rows_predicted  INTEGER NOT NULL DEFAULT 0,
        rows_unscorable INTEGER NOT NULL DEFAULT 0,
        rows_stored     INTEGER NOT NULL DEFAULT 0,
        rows_inserted   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX dispatches_by_time ON dispatches(created_at);
    CREATE INDEX dispatches_by_job ON dispatches(job, created_at);

    CREATE TABLE dispatch_events (
        id          INTEGER PRIMARY KEY,
        dispatch_id INTEGER NOT NULL REFERENCES dispatches(id),
        seq         INTEGER NOT NULL,
        at          INTEGER NOT NULL,
        step        TEXT NOT NULL,       -- 'created' | 'started' | 'collected' | 'predicted' | 'stored' | 'inserted' | 'finished'
        rows        INTEGER,
        message     TEXT,
        UNIQUE (dispatch_id, seq)
    );

    CREATE TABLE predictions (
        dispatch_id INTEGER NOT NULL REFERENCES dispatches(id),
        row_key     TEXT NOT NULL,
        label       TEXT NOT NULL,
        score       REAL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (dispatch_id, row_key)
    ) WITHOUT ROWID;
    CREATE INDEX predictions_by_time ON predictions(created_at);

    CREATE TABLE unscorable_rows (
        dispatch_id INTEGER NOT NULL REFERENCES dispatches(id),
        row_key     TEXT NOT NULL,
        reason      TEXT NOT NULL,
        PRIMARY KEY (dispatch_id, row_key)
    ) WITHOUT ROWID;

    CREATE TABLE showroom_predictions (
        id            INTEGER PRIMARY KEY,
        at            INTEGER NOT NULL,
        by_user       TEXT NOT NULL,
        model         TEXT NOT NULL,
        model_version TEXT NOT NULL,
        row_json      TEXT NOT NULL,
        label         TEXT NOT NULL,
        score         REAL
    );

    CREATE TABLE training_runs (
        id           INTEGER PRIMARY KEY,
        requested_by TEXT NOT NULL,
        request_json TEXT NOT NULL,
        status       TEXT NOT NULL,      -- 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted'
        experiment   TEXT,
        error        TEXT,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER
    );

    CREATE TABLE access_denials (
        id       INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        user     TEXT NOT NULL,
        uid      INTEGER NOT NULL,
        request  TEXT NOT NULL,
        needed   TEXT NOT NULL
    );
    "#,
    // v3: the scheduler's tables (job states, their change history, the slot ledger).
    crate::scheduler::SCHEMA,
    // v4: each dispatch's class distribution, kept as predictions are stored,
    // so opening a dispatch never scans its predictions (and it outlives pruning).
    r#"
    CREATE TABLE dispatch_classes (
        dispatch_id INTEGER NOT NULL REFERENCES dispatches(id),
        label       TEXT NOT NULL,
        count       INTEGER NOT NULL,
        PRIMARY KEY (dispatch_id, label)
    ) WITHOUT ROWID;
    INSERT INTO dispatch_classes(dispatch_id, label, count)
        SELECT dispatch_id, label, count(*) FROM predictions GROUP BY dispatch_id, label;
    "#,
    // v5: a showroom prediction names the artifact's hash, where its row came
    // from, whether it was edited, and every class's score.
    crate::showroom::store::SCHEMA_V5,
    // v6: refusals are kept as one row per uid and minute with a count, so a
    // flood of denied requests costs one write a minute, not one each.
    crate::access::store::SCHEMA_V6,
];

/// The schema version this daemon writes.
pub const CURRENT_VERSION: usize = MIGRATIONS.len();
