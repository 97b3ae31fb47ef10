//! The schema. Field names are the TOML keys; every table rejects unknown keys,
//! so a typo is an error that names it instead of a setting silently ignored.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A validated configuration, with every path absolute.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    pub daemon: DaemonConfig,
    pub access: AccessConfig,
    pub monitor: MonitorConfig,
    pub datalakes: BTreeMap<String, DatalakeConfig>,
    pub models: ModelsConfig,
    pub jobs: Vec<JobConfig>,
    pub dispatches: DispatchViewConfig,
    pub showroom: BTreeMap<String, ShowroomConfig>,
    pub limits: LimitsConfig,
    pub metrics: MetricsConfig,
    /// Named ways to run a job's shards: worker processes here, or a Slurm cluster.
    pub executors: BTreeMap<String, ExecutorConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub daemon: DaemonConfig,
    #[serde(default)]
    pub access: AccessConfig,
    #[serde(default)]
    pub monitor: MonitorConfig,
    #[serde(default)]
    pub datalakes: BTreeMap<String, DatalakeConfig>,
    #[serde(default)]
    pub models: ModelsConfig,
    #[serde(default)]
    pub jobs: Vec<JobConfig>,
    #[serde(default)]
    pub dispatches: DispatchViewConfig,
    #[serde(default)]
    pub showroom: BTreeMap<String, ShowroomConfig>,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub executors: BTreeMap<String, ExecutorConfig>,
}

/// `[daemon]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// The Unix socket consoles connect to.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// File mode of the socket, as an octal string (`"0660"`).
    #[serde(default = "default_socket_mode", deserialize_with = "de_octal_mode")]
    pub socket_mode: u32,
    /// Group that owns the socket, so its members can connect.
    #[serde(default)]
    pub socket_group: Option<String>,
    /// Folder for the daemon's own files (model registry default, runtime state).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The SQLite event log; defaults to `events.db` in `state_dir`.
    #[serde(default)]
    pub event_log: Option<PathBuf>,
    /// `trace`, `debug`, `info`, `warn` or `error`; `RUST_LOG` overrides it.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// How many dispatches may run at the same time.
    #[serde(default = "default_max_dispatches")]
    pub max_concurrent_dispatches: u32,
    /// Predictions older than this are pruned from the event log; dispatch and
    /// event records stay. Unset keeps everything.
    #[serde(default)]
    pub prediction_retention: Option<ConfigDuration>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            socket: default_socket(),
            socket_mode: default_socket_mode(),
            socket_group: None,
            state_dir: default_state_dir(),
            event_log: None,
            log_level: default_log_level(),
            max_concurrent_dispatches: default_max_dispatches(),
            prediction_retention: None,
        }
    }
}

impl DaemonConfig {
    /// The event log's path, with its default applied.
    pub fn event_log_path(&self) -> PathBuf {
        self.event_log
            .clone()
            .unwrap_or_else(|| self.state_dir.join("events.db"))
    }
}

fn default_socket() -> PathBuf {
    PathBuf::from("/run/mld/mld.sock")
}
fn default_socket_mode() -> u32 {
    0o660
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/mld")
}
fn default_log_level() -> String {
    "info".to_string()
}
fn default_max_dispatches() -> u32 {
    2
}

/// `[limits]`: what one connection, one user and one request may take, so
/// no local user can starve, lock out or crash the daemon. Read at each
/// connection and request, so a reload applies to open connections too.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Connections open at once, admins included.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Of `max_connections`, how many only admins may take.
    #[serde(default = "default_admin_connections")]
    pub admin_connections: u32,
    /// Connections one user without `admin` may hold at once.
    #[serde(default = "default_connections_per_user")]
    pub connections_per_user: u32,
    /// A client must send its `Hello` this soon after connecting.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout: ConfigDuration,
    /// A connection with no subscription that sends nothing for this long is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: ConfigDuration,
    /// A frame, once begun, must arrive whole within this.
    #[serde(default = "default_frame_timeout")]
    pub frame_timeout: ConfigDuration,
    /// A client that takes longer than this to accept one frame is disconnected.
    #[serde(default = "default_write_timeout")]
    pub write_timeout: ConfigDuration,
    /// Requests of one connection being answered at once; the daemon reads no
    /// more from it until one is answered and written.
    #[serde(default = "default_requests_in_flight")]
    pub requests_in_flight: u32,
    /// The largest request frame from a user without `admin`, in bytes
    /// (admins may send up to 16 MiB, for ONNX imports).
    #[serde(default = "default_request_bytes")]
    pub request_bytes: u32,
    /// The most records one answer lists: slots, dispatches, a predictions
    /// page, dry-run rows. Asking for more is an error that says to narrow it.
    #[serde(default = "default_max_rows")]
    pub max_rows: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_connections: default_max_connections(),
            admin_connections: default_admin_connections(),
            connections_per_user: default_connections_per_user(),
            handshake_timeout: default_handshake_timeout(),
            idle_timeout: default_idle_timeout(),
            frame_timeout: default_frame_timeout(),
            write_timeout: default_write_timeout(),
            requests_in_flight: default_requests_in_flight(),
            request_bytes: default_request_bytes(),
            max_rows: default_max_rows(),
        }
    }
}

fn default_max_connections() -> u32 {
    1024
}
fn default_admin_connections() -> u32 {
    16
}
fn default_connections_per_user() -> u32 {
    64
}
fn default_handshake_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(10))
}
fn default_idle_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(600))
}
fn default_frame_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(30))
}
fn default_write_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(60))
}
fn default_requests_in_flight() -> u32 {
    8
}
fn default_request_bytes() -> u32 {
    256 * 1024
}
fn default_max_rows() -> u32 {
    10_000
}

/// `[metrics]`: the optional Prometheus endpoint. Off unless `listen` is set;
/// it serves `GET /metrics` on that address and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// An IP address and port, like `"127.0.0.1:9464"` or `"[::1]:9464"`.
    #[serde(default, deserialize_with = "de_socket_addr")]
    pub listen: Option<std::net::SocketAddr>,
}

fn de_socket_addr<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::net::SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "expected an IP address and port like \"127.0.0.1:9464\" or \"[::1]:9464\", got {s:?}"
        ))
    })
}

/// `[access]`: which Unix users and groups hold which role. Root always holds
/// `admin`, and so does the user the daemon runs as.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    #[serde(default)]
    pub admin: Principals,
    #[serde(default)]
    pub dispatch: Principals,
    #[serde(default)]
    pub showroom: Principals,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principals {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// `[monitor]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// How often health is checked and pushed to consoles.
    #[serde(default = "default_refresh")]
    pub refresh: ConfigDuration,
    #[serde(default)]
    pub servers: Vec<WatchedServer>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            refresh: default_refresh(),
            servers: Vec::new(),
        }
    }
}

fn default_refresh() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(30))
}

/// `[[monitor.servers]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchedServer {
    pub name: String,
    /// Host name, IPv4 or IPv6 address.
    pub address: String,
    pub port: u16,
    #[serde(default)]
    pub mechanism: Mechanism,
    #[serde(default = "default_probe_timeout")]
    pub timeout: ConfigDuration,
}

fn default_probe_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(10))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// A TCP connect.
    #[default]
    Plain,
    /// A TCP connect and a TLS handshake.
    Tls,
    /// Resolve the name, then connect.
    Dns,
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "plain",
            Mechanism::Tls => "tls",
            Mechanism::Dns => "dns",
        }
    }
}

/// `[datalakes.NAME]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatalakeConfig {
    pub kind: DatalakeKind,
    /// `kind = "sqlite"`: the database file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `kind = "odbc"`: the connection string, inline.
    #[serde(default)]
    pub connection: Option<Secret>,
    /// `kind = "odbc"`: the connection string, from this environment variable.
    #[serde(default)]
    pub connection_env: Option<String>,
    /// `kind = "odbc"`: the connection string, from this file.
    #[serde(default)]
    pub connection_file: Option<PathBuf>,
    /// A password added to the connection string (as `PWD`), from this environment variable.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A password added to the connection string (as `PWD`), from this file.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A table the health probe queries (returning no rows).
    #[serde(default)]
    pub probe_table: Option<String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    #[serde(default = "default_query_timeout")]
    pub query_timeout: ConfigDuration,
    /// Rows fetched and written per round trip.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(10))
}
fn default_query_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(600))
}
fn default_batch_size() -> u32 {
    10_000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatalakeKind {
    /// Any database with an ODBC driver.
    Odbc,
    /// A SQLite file, built in: no driver needed.
    Sqlite,
}

/// `[models]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// The model registry folder; defaults to `models` in the daemon's `state_dir`.
    #[serde(default)]
    pub registry: Option<PathBuf>,
    /// The version each model name starts with as `active`, the first time the
    /// daemon sees it; afterwards admins move the alias at run time.
    #[serde(default)]
    pub active: BTreeMap<String, u32>,
    /// Where the ONNX Runtime library is (`libonnxruntime.so`); else
    /// `ORT_DYLIB_PATH`, else the installed `onnxruntime` Python package.
    #[serde(default)]
    pub onnxruntime: Option<PathBuf>,
    /// Training datasets: name → CSV file or datalake query.
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetConfig>,
}

/// `[models.datasets.NAME]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    #[serde(default)]
    pub description: Option<String>,
    /// A CSV file with a header row.
    #[serde(default)]
    pub csv: Option<PathBuf>,
    /// Or a datalake and a query.
    #[serde(default)]
    pub datalake: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
    /// The label column; every other column (or `features`) is a feature.
    pub label: String,
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// What the label is: classes, or a number to predict. Unset: a label
    /// of numbers with a fraction is a regression target, anything else classes.
    #[serde(default)]
    pub task: Option<DatasetTask>,
}

/// `[models.datasets.NAME] task`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetTask {
    Classification,
    Regression,
}

/// `[[jobs]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    pub name: String,
    pub datalake: String,
    /// Model name; the active version is resolved when a dispatch starts.
    pub model: String,
    /// A SELECT yielding the key column and the model's features, matched by name.
    pub query: String,
    pub key_column: String,
    pub results_table: String,
    #[serde(default)]
    pub results_columns: ResultColumns,
    /// Crontab expression: 5 fields, or 6 with seconds first.
    pub schedule: String,
    /// IANA timezone name; defaults to the server's.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Whether the job starts `active` the first time the daemon sees it.
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub overlap: OverlapPolicy,
    #[serde(default)]
    pub missed: MissedPolicy,
    /// A dispatch running longer than this is cancelled.
    #[serde(default)]
    pub timeout: Option<ConfigDuration>,
    /// Overrides the datalake's batch size for this job.
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Fail the dispatch when any row cannot be scored (default: count and record them).
    #[serde(default)]
    pub fail_on_unscorable: bool,
    /// Score the rows in shards on this `[executors.NAME]` instead of in the daemon.
    #[serde(default)]
    pub executor: Option<String>,
    /// How many key ranges the rows are split into (with `executor`); a
    /// `local` executor defaults to its `workers`.
    #[serde(default)]
    pub shards: Option<u32>,
    /// How many times a failed shard is submitted again before the dispatch fails.
    #[serde(default = "default_shard_retries")]
    pub shard_retries: u32,
    /// An SQL expression of the key, written `{key}`, yielding an integer to
    /// range the rows by when the key column is not an integer.
    #[serde(default)]
    pub shard_by: Option<String>,
}

fn default_shard_retries() -> u32 {
    2
}

/// `[executors.NAME]`: where a job's shards run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    pub kind: ExecutorKind,
    /// `slurm`: the partition the array job is submitted to (else the cluster's default).
    #[serde(default)]
    pub partition: Option<String>,
    /// A folder every node sees (NFS for `slurm`): worker inputs and reports.
    /// `local` defaults to `spool` in the daemon's `state_dir`.
    #[serde(default)]
    pub spool: Option<PathBuf>,
    /// `slurm`: extra `sbatch` arguments (`--time=01:00:00`, `--mem=2G`, …).
    #[serde(default)]
    pub sbatch_args: Vec<String>,
    /// `slurm`: the cluster's `slurm.conf`, when not the default (`SLURM_CONF`).
    #[serde(default)]
    pub slurm_conf: Option<PathBuf>,
    /// `local`: worker processes at once (default: one per core).
    #[serde(default)]
    pub workers: Option<u32>,
    /// The `mld` binary the workers run (default: the daemon's own).
    #[serde(default)]
    pub mld: Option<PathBuf>,
    /// How often the executor's tasks are looked at.
    #[serde(default = "default_executor_poll")]
    pub poll: ConfigDuration,
}

fn default_executor_poll() -> ConfigDuration {
    ConfigDuration(Duration::from_millis(500))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// Worker processes on the daemon's machine.
    Local,
    /// One Slurm array job per dispatch.
    Slurm,
}

impl ExecutorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Local => "local",
            ExecutorKind::Slurm => "slurm",
        }
    }
}

impl ExecutorConfig {
    /// Worker processes a `local` executor runs at once.
    pub fn local_workers(&self) -> u32 {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1)
        })
    }
}

impl JobConfig {
    /// How many shards a dispatch of this job runs, when it has an executor.
    pub fn shard_count(&self, executors: &BTreeMap<String, ExecutorConfig>) -> Option<u32> {
        let executor = executors.get(self.executor.as_deref()?)?;
        Some(match (self.shards, executor.kind) {
            (Some(n), _) => n,
            (None, ExecutorKind::Local) => executor.local_workers(),
            (None, ExecutorKind::Slurm) => 1,
        })
    }
}

fn default_true() -> bool {
    true
}

/// Column names of a job's results table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ResultColumns {
    #[serde(default = "col_dispatch_id")]
    pub dispatch_id: String,
    #[serde(default = "col_row_key")]
    pub row_key: String,
    #[serde(default = "col_prediction")]
    pub prediction: String,
    #[serde(default = "col_score")]
    pub score: String,
    #[serde(default = "col_model_version")]
    pub model_version: String,
    #[serde(default = "col_scored_at")]
    pub scored_at: String,
}

impl Default for ResultColumns {
    fn default() -> Self {
        ResultColumns {
            dispatch_id: col_dispatch_id(),
            row_key: col_row_key(),
            prediction: col_prediction(),
            score: col_score(),
            model_version: col_model_version(),
            scored_at: col_scored_at(),
        }
    }
}

impl ResultColumns {
    pub fn named(&self) -> [(&'static str, &str); 6] {
        [
            ("dispatch_id", &self.dispatch_id),
            ("row_key", &self.row_key),
            ("prediction", &self.prediction),
            ("score", &self.score),
            ("model_version", &self.model_version),
            ("scored_at", &self.scored_at),
        ]
    }
}

fn col_dispatch_id() -> String {
    "dispatch_id".into()
}
fn col_row_key() -> String {
    "row_key".into()
}
fn col_prediction() -> String {
    "prediction".into()
}
fn col_score() -> String {
    "score".into()
}
fn col_model_version() -> String {
    "model_version".into()
}
fn col_scored_at() -> String {
    "scored_at".into()
}

/// What happens to a slot that falls while the job's previous dispatch runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverlapPolicy {
    #[default]
    Skip,
    /// Queue at most one dispatch behind the running one.
    Queue,
}

/// What happens to slots missed while the daemon was down or the job disabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissedPolicy {
    #[default]
    Skip,
    /// One catch-up dispatch at start.
    RunOnce,
}

/// `[dispatches]`: the dispatch view.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchViewConfig {
    #[serde(default = "default_window")]
    pub default_window: ConfigDuration,
}

impl Default for DispatchViewConfig {
    fn default() -> Self {
        DispatchViewConfig {
            default_window: default_window(),
        }
    }
}

fn default_window() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(24 * 3600))
}

/// `[showroom.MODEL]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowroomConfig {
    /// A CSV of sample rows with a header naming the model's features.
    pub samples: PathBuf,
    /// How many of its first columns the console shows.
    #[serde(default = "default_columns")]
    pub columns: u32,
}

fn default_columns() -> u32 {
    4
}

/// A duration written the human way: `10s`, `5m`, `1h 30m`, `24h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s)
            .map(ConfigDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "expected a duration like \"10s\", \"5m\" or \"1h 30m\", got {s:?} ({e})"
                ))
            })
    }
}

fn de_octal_mode<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    let digits = s.strip_prefix("0o").unwrap_or(&s);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(serde::de::Error::custom(format!(
            "expected an octal file mode like \"0660\", got {s:?}"
        ))),
    }
}

/// Text that may hold a password: shown redacted by `Debug` and `Display`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The real text, for the one place that needs it (handing it to a driver).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({:?})", redact_connection_string(&self.0))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_connection_string(&self.0))
    }
}

/// The length of the ODBC connection-string attribute value that `rest` starts
/// with, leading spaces included: `{…}` (which may hold `;`, with `}}` an
/// escaped brace), or up to the next `;`.
pub fn odbc_value_len(rest: &str) -> usize {
    let trimmed = rest.trim_start();
    let lead = rest.len() - trimmed.len();
    if !trimmed.starts_with('{') {
        return rest.find(';').unwrap_or(rest.len());
    }
    let bytes = trimmed.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'}' {
            if bytes.get(i + 1) == Some(&b'}') {
                i += 2;
                continue;
            }
            return lead + i + 1;
        }
        i += 1;
    }
    rest.len()
}

/// Whether an ODBC attribute holds a secret: `PWD`, `Password`,
/// `sslpassword`, `SSLKeyPassword`, `client_secret`, `AccessToken`… in any
/// case, with spaces around it.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    k == "pass"
        || k.contains("password")
        || k.contains("passwd")
        || k.ends_with("pwd")
        || k.ends_with("secret")
        || k.ends_with("token")
}

/// Replaces the values of password-like attributes in an ODBC connection
/// string (`PWD=…;`, `Password={…};`) with `***`, keeping everything else.
pub fn redact_connection_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else {
            out.push_str(rest);
            break;
        };
        let key = &rest[..eq];
        out.push_str(key);
        out.push('=');
        rest = &rest[eq + 1..];
        let value_len = odbc_value_len(rest);
        if is_secret_key(key.trim().trim_start_matches(';')) {
            out.push_str("***");
        } else {
            out.push_str(&rest[..value_len]);
        }
        rest = &rest[value_len..];
        if let Some(r) = rest.strip_prefix(';') {
            out.push(';');
            rest = r;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_wherever_they_stand() {
        let s = "Driver={PostgreSQL Unicode};Server=db;UID=mld;PWD=hunter2;Database=lake";
        let r = redact_connection_string(s);
        assert_eq!(
            r,
            "Driver={PostgreSQL Unicode};Server=db;UID=mld;PWD=***;Database=lake"
        );
        let braced = "Driver=x; Password={a;b}}c};Port=1";
        assert_eq!(
            redact_connection_string(braced),
            "Driver=x; Password=***;Port=1"
        );
        let secret = Secret::new("PWD=abc");
        assert!(!format!("{secret:?}{secret}").contains("abc"));
    }

    /// Every spelling of a password key, with spaces and braces, through
    /// every way a `Secret` is shown.
    #[test]
    fn every_spelling_of_a_password_is_redacted() {
        let keys = [
            "PWD",
            "pwd",
            " Pwd ",
            "Password",
            "PASSWORD",
            "sslpassword",
            "SSLPassword",
            "ssl_password",
            "SSLKeyPassword",
            "passwd",
            "client_secret",
            "AccessToken",
        ];
        let values = [
            "hunter2",
            "{hunter2}",
            " {a;b}",
            "  {a;b}}c=d}",
            "{ spaced ;out }",
            " hunter2",
        ];
        for key in keys {
            for value in values {
                let text = format!("Driver={{PostgreSQL Unicode}};Server=db;{key}={value};UID=mld");
                let secret = Secret::new(text.clone());
                for shown in [
                    redact_connection_string(&text),
                    format!("{secret:?}"),
                    format!("{secret}"),
                    format!("{:?}", Some(&secret)),
                ] {
                    for part in ["hunter2", "a;b", "b}", "c=d", "spaced", "out"] {
                        assert!(
                            !shown.contains(part),
                            "{key}={value} shows {part:?}: {shown}"
                        );
                    }
                    assert!(shown.contains("Server=db;"), "{shown}");
                    assert!(shown.contains(";UID=mld"), "{key}={value}: {shown}");
                }
            }
        }
        // Keys that only look alike stay visible.
        assert_eq!(
            redact_connection_string("Passive=1;UID=pwdless"),
            "Passive=1;UID=pwdless"
        );
    }
}
