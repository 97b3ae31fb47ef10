//! Versioned migrations of the event log: every table of the file, for every
//! subsystem, is created here and nowhere else. The file's `PRAGMA
//! user_version` is the number of migrations applied; each runs in its own
//! transaction at start.
//!
//! Migrations are frozen text, append-only: a released one is never edited
//! and never refers to a constant that could move (a test pins each one's
//! hash). A change to the schema is a new migration at the end.

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
    "
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
",
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
    r#"
    ALTER TABLE showroom_predictions ADD COLUMN model_hash TEXT;
    ALTER TABLE showroom_predictions ADD COLUMN source TEXT;       -- 'predict-all' | 'predict-one' | 'predict-edited' | 'predict'
    ALTER TABLE showroom_predictions ADD COLUMN sample_line INTEGER;
    ALTER TABLE showroom_predictions ADD COLUMN classes_json TEXT; -- [{"label": "setosa", "score": 0.97}, …]
    ALTER TABLE showroom_predictions ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX showroom_predictions_by_time ON showroom_predictions(at);
"#,
    // v6: refusals are kept as one row per uid and minute with a count, so a
    // flood of denied requests costs one write a minute, not one each.
    r#"
    ALTER TABLE access_denials ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE access_denials ADD COLUMN last_at INTEGER;
"#,
    // v7: regressors. A regressor's prediction is a number, kept in `value`
    // (with its text in `label`, so reading by label still shows it; its
    // `score` is NULL). A dispatch's predicted values are summarized as they
    // are stored, so opening it never scans its predictions (and the summary
    // outlives pruning): their count, sum, least and greatest, and how many
    // fall in each log-spaced bucket (bucket k > 0 holds values in
    // (1e-9 * g^(k-1), 1e-9 * g^k] with g = 1.01 / 0.99, bucket -k their
    // negatives, bucket 0 the values within 1e-9 of zero).
    r#"
    ALTER TABLE predictions ADD COLUMN value REAL;
    ALTER TABLE showroom_predictions ADD COLUMN value REAL;
    CREATE TABLE dispatch_values (
        dispatch_id INTEGER PRIMARY KEY REFERENCES dispatches(id),
        count       INTEGER NOT NULL,
        sum         REAL NOT NULL,
        min         REAL NOT NULL,
        max         REAL NOT NULL
    );
    CREATE TABLE dispatch_value_buckets (
        dispatch_id INTEGER NOT NULL REFERENCES dispatches(id),
        bucket      INTEGER NOT NULL,
        count       INTEGER NOT NULL,
        PRIMARY KEY (dispatch_id, bucket)
    ) WITHOUT ROWID;
"#,
    // v8: a dispatch scored in shards (scale-out): each shard's key range,
    // where and how it runs, and the attempt whose report was ingested.
    r#"
    CREATE TABLE dispatch_shards (
        dispatch_id     INTEGER NOT NULL REFERENCES dispatches(id),
        shard           INTEGER NOT NULL,
        key_lo          INTEGER NOT NULL,
        key_hi          INTEGER NOT NULL,
        state           TEXT NOT NULL,   -- 'pending' | 'running' | 'done' | 'failed' | 'cancelled'
        attempt         INTEGER NOT NULL DEFAULT 0,
        executor        TEXT NOT NULL,
        task            TEXT,            -- the executor's name for the attempt: Slurm `job_task`, a local pid
        node            TEXT,
        rows_collected  INTEGER NOT NULL DEFAULT 0,
        rows_predicted  INTEGER NOT NULL DEFAULT 0,
        rows_unscorable INTEGER NOT NULL DEFAULT 0,
        rows_inserted   INTEGER NOT NULL DEFAULT 0,
        ingested        INTEGER,         -- the attempt whose report is in the event log
        error           TEXT,
        updated_at      INTEGER NOT NULL,
        PRIMARY KEY (dispatch_id, shard)
    ) WITHOUT ROWID;
"#,
    // v9: predictions are stored without an index on their time (a second
    // B-tree insert per row, a third of the cost of storing them): retention
    // prunes a finished dispatch's predictions by its finish time instead,
    // and marks the dispatch once none are left.
    r#"
    DROP INDEX predictions_by_time;
    ALTER TABLE dispatches ADD COLUMN predictions_pruned INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX dispatches_to_prune ON dispatches(finished_at) WHERE predictions_pruned = 0;
"#,
];

/// The schema version this daemon writes.
pub const CURRENT_VERSION: usize = MIGRATIONS.len();

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The SHA-256 of every released migration. A released migration never
    /// changes: files in the field were migrated by it. Add a new migration
    /// (and its hash here) instead of editing one.
    const RELEASED: &[&str] = &[
        "687129d5a65e771e81e77a17c80d9562aeaaafc994bb78543d2628d22d4dce44",
        "1c8f8a60511f357dccd9b47aa2a55d227c6209c1c7ec8b8d1faf03f0abcd9cbd",
        "07a817fb525300c1e04568df65185deef1b5f51e42a6c2f88ace1856aafdd2fd",
        "1b0c10966c34770f80f48823cbcb7e9a3c4039733727a070f7fb10fc4f604610",
        "db1463332ef6e946914c4d8123196ae6e3ec3cae8f983aacaafaff1f6df840dc",
        "1d0f663967d4ed36ff2950e5f16e251f394cc5ebf9ff7fa0caec3cb914bbdc4d",
        "457df3cf3d4bcc10cd5cffcb124629013f8fae28fa9bf89f7eb131cf21065501",
        "15aa55f1c2e0f7acdbf4cdcb7c98795593a414d1eb00bcd4ed2b4cd81edd0cc6",
        "eb5098bf0f4fe13cb689ef567a77ebe681ec73d79364fb1fe4ba81791720f5ba",
    ];

    #[test]
    fn released_migrations_never_change() {
        let hashes: Vec<String> = MIGRATIONS
            .iter()
            .map(|sql| {
                Sha256::digest(sql.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        assert!(
            hashes.len() >= RELEASED.len(),
            "a released migration was removed"
        );
        for (i, (got, want)) in hashes.iter().zip(RELEASED).enumerate() {
            assert_eq!(
                got,
                want,
                "migration v{} was edited after its release; add a new migration instead",
                i + 1
            );
        }
        assert_eq!(
            hashes.len(),
            RELEASED.len(),
            "a new migration: pin its hash in RELEASED: {:?}",
            &hashes[RELEASED.len()..]
        );
    }
}
