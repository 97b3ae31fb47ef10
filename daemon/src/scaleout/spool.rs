//! The spool: a folder every node sees, where the daemon leaves a
//! dispatch's worker inputs and the workers leave their reports.
//!
//! `<spool>/dispatch-<id>/`, created mode 0700:
//! - `spec.json` — everything a worker needs but the password: the
//!   datalake's settings, the query, the shard key and every shard's range,
//!   the pinned model (copied into `model/`, with its content hash), the
//!   results table;
//! - `connection` — the datalake's connection string with its password,
//!   mode 0600, owned by the daemon's user: workers run as that user and read
//!   it; it never appears on a command line or in an environment;
//! - `model/NAME/vN/` — the pinned version, so no node needs the registry;
//! - `shard-K.attempt-A.rows` — the worker's predictions, one JSON page per
//!   line, kept until the daemon has them in the event log;
//! - `shard-K.attempt-A.json` — the worker's report, written last (to a
//!   temporary name, synced, renamed), so a report that exists is whole;
//! - `worker-…` — the workers' stdout and stderr.
//!
//! The folder is removed when the dispatch ends (kept, without the
//! connection file, when it fails: the workers' logs say why).

use crate::datalake::{KeyRange, ShardKey};
use mld_shared::config::{DatalakeConfig, DatalakeKind, ResultColumns};
use mld_shared::ids::DispatchId;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const SPEC_FILE: &str = "spec.json";
pub const CONNECTION_FILE: &str = "connection";
pub const MODEL_DIR: &str = "model";

/// A datalake as a worker opens it: the settings, without any secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLake {
    pub name: String,
    /// `sqlite`: the database file (every node must see it).
    pub path: Option<PathBuf>,
    /// `odbc`: the connection string is in the spool's connection file.
    pub odbc: bool,
    pub batch_size: u32,
    pub connect_timeout_ms: u64,
    pub query_timeout_ms: u64,
}

impl WorkerLake {
    /// The daemon's datalake settings as a worker needs them.
    pub fn new(name: &str, cfg: &DatalakeConfig) -> WorkerLake {
        WorkerLake {
            name: name.to_string(),
            path: cfg.path.clone(),
            odbc: cfg.kind == DatalakeKind::Odbc,
            batch_size: cfg.batch_size,
            connect_timeout_ms: cfg.connect_timeout.0.as_millis() as u64,
            query_timeout_ms: cfg.query_timeout.0.as_millis() as u64,
        }
    }

    /// A datalake configuration reading its connection string from `connection_file`.
    pub fn config(&self, connection_file: &Path) -> DatalakeConfig {
        use mld_shared::config::ConfigDuration;
        use std::time::Duration;
        DatalakeConfig {
            kind: if self.odbc {
                DatalakeKind::Odbc
            } else {
                DatalakeKind::Sqlite
            },
            path: self.path.clone(),
            connection: None,
            connection_env: None,
            connection_file: self.odbc.then(|| connection_file.to_path_buf()),
            password_env: None,
            password_file: None,
            probe_table: None,
            connect_timeout: ConfigDuration(Duration::from_millis(self.connect_timeout_ms)),
            query_timeout: ConfigDuration(Duration::from_millis(self.query_timeout_ms)),
            batch_size: self.batch_size,
        }
    }
}

/// Everything a worker needs, but the password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub dispatch_id: i64,
    pub job: String,
    pub datalake: WorkerLake,
    pub query: String,
    pub key: ShardKey,
    /// Shard K reads `ranges[K]`.
    pub ranges: Vec<KeyRange>,
    pub model: String,
    pub model_version: u32,
    pub model_hash: String,
    pub onnxruntime: Option<PathBuf>,
    pub results_table: String,
    /// dispatch_id, row_key, prediction, score, model_version, scored_at.
    pub results_columns: [String; 6],
    pub batch_size: usize,
    pub fail_on_unscorable: bool,
}

impl ShardSpec {
    pub fn result_columns(&self) -> ResultColumns {
        let [d, k, p, s, v, t] = self.results_columns.clone();
        ResultColumns {
            dispatch_id: d,
            row_key: k,
            prediction: p,
            score: s,
            model_version: v,
            scored_at: t,
        }
    }
}

/// One page of a worker's predictions: a batch as it was scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowsPage {
    /// When it was scored, ms since the epoch: its `scored_at`.
    pub at_ms: i64,
    pub keys: Vec<String>,
    /// A classifier's labels and scores (empty for a regressor).
    pub labels: Vec<String>,
    pub scores: Vec<f64>,
    /// A regressor's values (empty for a classifier).
    #[serde(default)]
    pub values: Vec<f64>,
    /// Key and reason of each row that could not be scored.
    pub unscorable: Vec<(String, String)>,
}

/// What a worker did: written last, whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardReport {
    pub dispatch_id: i64,
    pub shard: u32,
    pub attempt: u32,
    /// The host it ran on.
    pub node: String,
    /// `None`: succeeded; else what failed, naming the step.
    pub error: Option<String>,
    pub failed_step: Option<String>,
    pub collected: u64,
    pub predicted: u64,
    pub unscorable: u64,
    /// Rows of its range the results table held at its commit.
    pub inserted: u64,
    /// The worker's start, its first batch read, and its end (ms since the epoch).
    pub started_at_ms: i64,
    pub first_read_at_ms: Option<i64>,
    pub finished_at_ms: i64,
}

/// A dispatch's folder in a spool.
#[derive(Debug, Clone)]
pub struct DispatchSpool {
    pub dir: PathBuf,
}

impl DispatchSpool {
    pub fn new(spool: &Path, id: DispatchId) -> DispatchSpool {
        DispatchSpool {
            dir: spool.join(format!("dispatch-{}", id.0)),
        }
    }

    /// The folder of a spec file.
    pub fn of_spec(spec: &Path) -> DispatchSpool {
        DispatchSpool {
            dir: spec.parent().unwrap_or(Path::new(".")).to_path_buf(),
        }
    }

    pub fn spec_path(&self) -> PathBuf {
        self.dir.join(SPEC_FILE)
    }

    pub fn connection_path(&self) -> PathBuf {
        self.dir.join(CONNECTION_FILE)
    }

    pub fn model_root(&self) -> PathBuf {
        self.dir.join(MODEL_DIR)
    }

    pub fn rows_path(&self, shard: u32, attempt: u32) -> PathBuf {
        self.dir
            .join(format!("shard-{shard}.attempt-{attempt}.rows"))
    }

    pub fn report_path(&self, shard: u32, attempt: u32) -> PathBuf {
        self.dir
            .join(format!("shard-{shard}.attempt-{attempt}.json"))
    }

    pub fn log_path(&self, shard: u32, attempt: u32) -> PathBuf {
        self.dir
            .join(format!("worker-{shard}.attempt-{attempt}.log"))
    }

    /// Creates the folder afresh (mode 0700) with the spec, the connection
    /// file (0600) and a copy of the pinned model version's folder.
    pub fn prepare(
        &self,
        spec: &ShardSpec,
        connection: Option<&str>,
        model_dir: &Path,
    ) -> std::io::Result<()> {
        if self.dir.exists() {
            // A dispatch id is used once; a folder left by an earlier event log goes.
            std::fs::remove_dir_all(&self.dir)?;
        }
        std::fs::create_dir_all(&self.dir)?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(c) = connection {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(self.connection_path())?;
            f.write_all(c.as_bytes())?;
            f.sync_all()?;
        }
        let target = self
            .model_root()
            .join(&spec.model)
            .join(format!("v{}", spec.model_version));
        copy_dir(model_dir, &target)?;
        write_atomically(&self.spec_path(), &serde_json::to_vec_pretty(spec)?)
    }

    pub fn read_spec(path: &Path) -> Result<ShardSpec, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The report of an attempt, if the worker wrote it. A report that
    /// cannot be parsed is an error (reports are renamed into place whole).
    pub fn read_report(&self, shard: u32, attempt: u32) -> Result<Option<ShardReport>, String> {
        let path = self.report_path(shard, attempt);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn write_report(&self, report: &ShardReport) -> std::io::Result<()> {
        write_atomically(
            &self.report_path(report.shard, report.attempt),
            &serde_json::to_vec_pretty(report)?,
        )
    }

    /// The secret goes first (a failed dispatch keeps its logs, never the password).
    pub fn remove_secret(&self) {
        let _ = std::fs::remove_file(self.connection_path());
    }

    pub fn remove(&self) {
        self.remove_secret();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Everything but the workers' logs (a failed dispatch).
    pub fn remove_all_but_logs(&self) {
        self.remove_secret();
        let _ = std::fs::remove_dir_all(self.model_root());
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".rows") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

/// Writes to `path.partial`, syncs, renames: readers see all or nothing.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    {
        let mut f = std::fs::File::create(&partial)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&partial, path)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Reads a rows file page by page.
pub struct RowsReader {
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    path: PathBuf,
}

impl RowsReader {
    pub fn open(path: &Path) -> Result<RowsReader, String> {
        use std::io::BufRead;
        let f = std::fs::File::open(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(RowsReader {
            lines: std::io::BufReader::with_capacity(1 << 20, f).lines(),
            path: path.to_path_buf(),
        })
    }
}

impl Iterator for RowsReader {
    type Item = Result<RowsPage, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = self.lines.next()?;
        Some(
            line.map_err(|e| format!("cannot read {}: {e}", self.path.display()))
                .and_then(|l| {
                    serde_json::from_str(&l).map_err(|e| format!("{}: {e}", self.path.display()))
                }),
        )
    }
}
