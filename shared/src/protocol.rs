//! Protocol messages.
//!
//! A connection starts with one [`Hello`] from the client and one [`HelloReply`]
//! from the daemon. These two types are frozen: whatever else changes, a client of
//! any version can read why the daemon refused it. After a [`HelloReply::Welcome`],
//! the client sends [`ClientFrame`]s (a request with an id) and the daemon sends
//! [`ServerFrame`]s: the response to each request, and, once the client has
//! subscribed, [`Update`]s as they happen.
//!
//! Every enum here only grows at the end.

use crate::ids::{DispatchId, JobName, RequestId};
use crate::roles::Roles;
use crate::time::WireTime;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bumped whenever a message changes shape in a way an older peer cannot read.
pub const PROTOCOL_VERSION: u32 = 1;

/// First four bytes of every [`Hello`], so the daemon can tell a stray client
/// (or a different protocol on the same socket) from an mld console.
pub const MAGIC: [u8; 4] = *b"mld\0";

/// The client's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: [u8; 4],
    pub protocol_version: u32,
    /// Free text naming the client and its version, for the daemon's log.
    pub client: String,
}

impl Hello {
    pub fn new(client: impl Into<String>) -> Self {
        Hello {
            magic: MAGIC,
            protocol_version: PROTOCOL_VERSION,
            client: client.into(),
        }
    }
}

/// The daemon's answer to [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    Welcome(Welcome),
    /// The versions differ; the daemon closes the connection after sending this.
    VersionMismatch {
        daemon_protocol_version: u32,
        daemon_version: String,
    },
    /// Refused for another reason (for example, the peer's credentials could not be read).
    Refused {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol_version: u32,
    pub daemon_version: String,
    /// The Unix user the daemon saw on the other end of the socket.
    pub user: String,
    pub uid: u32,
    pub roles: Roles,
}

/// A request from the client, tagged with an id its response will carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientFrame {
    pub id: RequestId,
    pub request: Request,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    Ping,
    Status,
    /// Answered with a [`Snapshot`]; then [`Update`]s follow until `Unsubscribe`.
    Subscribe,
    Unsubscribe,
    /// Every job with its state, last and next dispatch.
    Jobs,
    /// Admin: make a job active again.
    EnableJob {
        job: JobName,
        reason: Option<String>,
    },
    /// Admin: pause a job, optionally until an instant when it resumes by itself.
    DisableJob {
        job: JobName,
        reason: Option<String>,
        until: Option<WireTime>,
    },
    /// Admin: start a dispatch now, under the job's overlap rule.
    RunJob {
        job: JobName,
    },
    /// Admin: score the first `rows` rows and show what would be written, writing nothing.
    DryRun {
        job: JobName,
        rows: u32,
    },
    /// The slot ledger of a job since an instant.
    Slots {
        job: JobName,
        since: WireTime,
    },
    /// A job's state changes (who paused it, when, why).
    JobHistory {
        job: JobName,
    },
    /// Dispatches created in `[from, to)`, newest first.
    Dispatches {
        from: WireTime,
        to: WireTime,
        job: Option<JobName>,
        limit: u32,
    },
    /// One dispatch with its events, class distribution and unscorable rows.
    Dispatch {
        id: DispatchId,
    },
    /// A page of a dispatch's predictions, in key order after `after_key`,
    /// only keys containing `filter` when given.
    DispatchPredictions {
        id: DispatchId,
        after_key: Option<String>,
        filter: Option<String>,
        limit: u32,
    },
    /// Admin: cancel a running dispatch.
    CancelDispatch {
        id: DispatchId,
    },
    /// The model registry: every name, its versions and which is active.
    Models,
    /// What can be trained: datasets, models with their hyperparameters, metrics.
    Catalog,
    /// Admin: train a model; answered at once with the run id, progress follows
    /// as `Update::Training`.
    Train(TrainSpec),
    /// A training run's state.
    TrainingRun {
        run: u64,
    },
    /// Admin: stop a training run.
    CancelTraining {
        run: u64,
    },
    /// Trained models not yet committed.
    Experiments,
    Experiment {
        id: String,
    },
    /// Admin: discard an experiment.
    DeleteExperiment {
        id: String,
    },
    /// Admin: make an experiment the next version of `name`.
    CommitExperiment {
        id: String,
        name: String,
    },
    /// Admin: move `name`'s `active` alias to `version`.
    ActivateModel {
        name: String,
        version: u32,
    },
    /// Admin: add a scikit-learn model exported with skl2onnx as the next
    /// version of `name`.
    ImportOnnx {
        name: String,
        features: Vec<String>,
        labels: Option<Vec<String>>,
        onnx: Vec<u8>,
    },
    /// Score one record with a model (its active version unless `version`).
    Predict {
        model: String,
        version: Option<u32>,
        input: PredictInput,
    },
    /// The models with a showroom (`[showroom.MODEL]`) and the state of each sample file.
    Showrooms,
    /// A model's showroom: its sample rows, each predicted by the active
    /// version (predict-all).
    OpenShowroom {
        model: String,
    },
    /// Predict one sample row again on its own (predict-one), or a copy of it
    /// with the features in `set` changed (predict-edited); with every class's
    /// score and why.
    ShowroomPredict {
        model: String,
        /// 1-based, as [`ShowroomView::rows`] lists them.
        row: u32,
        set: Vec<(String, FeatureValue)>,
    },
    /// The page of a dispatch's predictions that ends just before
    /// `before_key` (the last page when `None`), in key order: paging back.
    DispatchPredictionsBefore {
        id: DispatchId,
        before_key: Option<String>,
        filter: Option<String>,
        limit: u32,
    },
    /// The latest training runs, newest first (running ones among them).
    TrainingRuns {
        limit: u32,
    },
    /// Checks a training request as `Train` would, starting nothing:
    /// answered with every problem, each naming its field.
    CheckTraining(TrainSpec),
    /// Admin: re-read the daemon's configuration file and apply it; answered
    /// with what changed, or an error saying why the file was refused (the
    /// running configuration is kept).
    Reload,
    /// Admin: do a dispatch's write-back again from its stored predictions
    /// (one that failed, was cancelled or interrupted after storing them).
    RetryDispatch {
        id: DispatchId,
    },
    /// The shards of a dispatch scored in shards (none: it ran in the daemon).
    DispatchShards {
        id: DispatchId,
    },
}

impl Request {
    /// Short name for logs and audit records.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Status => "status",
            Request::Subscribe => "subscribe",
            Request::Unsubscribe => "unsubscribe",
            Request::Jobs => "jobs",
            Request::EnableJob { .. } => "enable",
            Request::DisableJob { .. } => "disable",
            Request::RunJob { .. } => "run",
            Request::DryRun { .. } => "dry-run",
            Request::Slots { .. } => "slots",
            Request::JobHistory { .. } => "history",
            Request::Dispatches { .. } => "dispatches",
            Request::Dispatch { .. } => "dispatch",
            Request::DispatchPredictions { .. } => "predictions",
            Request::CancelDispatch { .. } => "cancel",
            Request::Models => "models",
            Request::Catalog => "catalog",
            Request::Train(_) => "train",
            Request::TrainingRun { .. } => "training",
            Request::CancelTraining { .. } => "cancel-training",
            Request::Experiments => "experiments",
            Request::Experiment { .. } => "experiment",
            Request::DeleteExperiment { .. } => "delete-experiment",
            Request::CommitExperiment { .. } => "commit",
            Request::ActivateModel { .. } => "activate",
            Request::ImportOnnx { .. } => "import-onnx",
            Request::Predict { .. } => "predict",
            Request::Showrooms => "showrooms",
            Request::OpenShowroom { .. } => "showroom",
            Request::ShowroomPredict { .. } => "showroom-predict",
            Request::DispatchPredictionsBefore { .. } => "predictions",
            Request::TrainingRuns { .. } => "training-runs",
            Request::CheckTraining(_) => "check-training",
            Request::Reload => "reload",
            Request::RetryDispatch { .. } => "retry",
            Request::DispatchShards { .. } => "shards",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerFrame {
    Response {
        id: RequestId,
        result: Result<Response, WireError>,
    },
    Update(Update),
    /// The daemon is about to close this connection, and why.
    Closing {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Pong,
    Status(DaemonStatus),
    Subscribed(Box<Snapshot>),
    Unsubscribed,
    Jobs(Vec<JobSummary>),
    /// The job after an enable/disable.
    JobChanged(Box<JobSummary>),
    Run(RunOutcome),
    DryRun(Box<DryRunResult>),
    Slots(Vec<SlotRecord>),
    JobHistory(Vec<StateChangeRecord>),
    Dispatches(Vec<DispatchSummary>),
    Dispatch(Box<DispatchDetail>),
    Predictions(PredictionPage),
    Cancelled {
        id: DispatchId,
    },
    Models(Vec<ModelInfo>),
    Catalog(Box<CatalogInfo>),
    TrainingStarted {
        run: u64,
    },
    Training(Box<TrainingInfo>),
    Experiments(Vec<ExperimentInfo>),
    Experiment(Box<ExperimentInfo>),
    ExperimentDeleted {
        id: String,
    },
    /// A registry version after a commit, an activation or an import.
    ModelVersion(Box<ModelVersionInfo>),
    Prediction(Box<PredictionResult>),
    Showrooms(Vec<ShowroomInfo>),
    Showroom(Box<ShowroomView>),
    ShowroomPrediction(Box<ShowroomPrediction>),
    TrainingRuns(Vec<TrainingInfo>),
    /// What is wrong with a training request; empty when `Train` would take it.
    TrainingProblems(Vec<FieldProblem>),
    /// What a reload changed (empty: nothing).
    Reloaded(ReloadInfo),
    /// The write-back of this dispatch is being done again; it shows as
    /// `running` until it ends.
    Retrying {
        id: DispatchId,
    },
    /// A dispatch's shards, in order.
    Shards(Vec<ShardInfo>),
}

/// One shard of a dispatch scored in shards: its key range, where it runs
/// and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub shard: u32,
    /// The range of the shard key, both ends included.
    pub key_lo: i64,
    pub key_hi: i64,
    /// `pending`, `running`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// `local` or `slurm` executor's name for the task: `JOB_TASK`, `pid N`.
    pub task: Option<String>,
    pub node: Option<String>,
    pub rows_collected: u64,
    pub rows_predicted: u64,
    pub rows_inserted: u64,
    /// Why its attempts failed.
    pub error: Option<String>,
    pub updated_at: WireTime,
}

/// One thing wrong with a request, and the field it is about
/// (`dataset`, `model`, `test_split`, `seed`, `hyperparameters.NAME`, or
/// `request` for the whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// What a configuration reload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadInfo {
    /// The file that was read.
    pub file: String,
    /// One line per change (`job nightly: schedule "0 2 * * *" → "0 3 * * *"`).
    pub changes: Vec<String>,
}

/// An error answer: a kind a script can branch on, and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub kind: ErrorKind,
    pub message: String,
}

impl WireError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        WireError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WireError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    PermissionDenied,
    NotFound,
    InvalidRequest,
    Conflict,
    Unavailable,
    Internal,
}

/// The daemon's own vital signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub daemon_version: String,
    pub protocol_version: u32,
    pub pid: u32,
    pub started_at: WireTime,
    /// As measured by the daemon when it answered.
    pub uptime_ms: u64,
    pub jobs_configured: u32,
    pub running_dispatches: u32,
    pub connected_clients: u32,
}

/// Everything a console needs to draw itself from nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub taken_at: WireTime,
    pub status: DaemonStatus,
    pub health: Vec<HealthEntry>,
    pub jobs: Vec<JobSummary>,
}

/// A change pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Update {
    Status(DaemonStatus),
    /// The whole health table, after each monitor refresh.
    Health(Vec<HealthEntry>),
    Jobs(Vec<JobSummary>),
    /// The client fell behind and missed updates: start again from this.
    Resync(Box<Snapshot>),
    /// A dispatch was created, progressed or finished.
    Dispatch(Box<DispatchSummary>),
    /// A training run progressed or finished.
    Training(Box<TrainingInfo>),
}

/// One row of the monitor's health table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthEntry {
    pub kind: HealthKind,
    pub name: String,
    /// What is probed, e.g. `db.example.com:5432 (tls)`. Never a connection string.
    pub target: String,
    pub state: HealthState,
    pub latency_ms: Option<f64>,
    pub message: Option<String>,
    pub checked_at: Option<WireTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthKind {
    Server,
    Datalake,
    EventLog,
    /// A Slurm cluster a `slurm` executor runs shards on: its nodes.
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthState {
    /// Not checked yet.
    Unknown,
    Online,
    /// Did not answer within its timeout.
    Offline,
    Error,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Online => "online",
            HealthState::Offline => "offline",
            HealthState::Error => "error",
        }
    }
}

/// A job as the monitor shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub name: JobName,
    pub state: JobState,
    pub schedule: String,
    pub timezone: String,
    pub model: String,
    pub datalake: String,
    pub last_dispatch: Option<WireTime>,
    pub next_dispatch: Option<WireTime>,
    /// The dispatch of this job running now.
    pub running: Option<DispatchId>,
    pub overlap: String,
    pub missed: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Active,
    Disabled {
        by: String,
        at: WireTime,
        reason: Option<String>,
        until: Option<WireTime>,
    },
    Invalid {
        reason: String,
    },
}

impl JobState {
    pub fn label(&self) -> &'static str {
        match self {
            JobState::Active => "active",
            JobState::Disabled { .. } => "disabled",
            JobState::Invalid { .. } => "invalid",
        }
    }
}

/// What a run-now did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunOutcome {
    Started(DispatchId),
    /// The job's dispatch `behind` is running and its overlap rule is `queue`.
    Queued {
        behind: DispatchId,
    },
}

/// One slot of the ledger and what was decided for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    pub slot: WireTime,
    pub decided_at: WireTime,
    /// `ran`, `skipped-overlap`, `queued`, `skipped-disabled`, `missed`,
    /// `caught-up`, `start-failed`, `missed-summary`, `disabled-summary`.
    pub decision: String,
    pub dispatch: Option<DispatchId>,
    /// For people: "ran as dispatch 12", "skipped: overlap (dispatch 11 running)"…
    pub detail: String,
}

/// One change of a job's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChangeRecord {
    pub at: WireTime,
    pub by: String,
    /// `None` the first time the job was seen.
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    pub until: Option<WireTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DispatchStatus {
    Created,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl DispatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchStatus::Created => "created",
            DispatchStatus::Running => "running",
            DispatchStatus::Succeeded => "succeeded",
            DispatchStatus::Failed => "failed",
            DispatchStatus::Cancelled => "cancelled",
            DispatchStatus::Interrupted => "interrupted",
        }
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, DispatchStatus::Created | DispatchStatus::Running)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    Schedule,
    Manual,
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
}

/// A dispatch, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchSummary {
    pub id: DispatchId,
    pub job: JobName,
    pub status: DispatchStatus,
    pub trigger: Trigger,
    pub requested_by: String,
    pub slot: Option<WireTime>,
    pub model: String,
    pub model_version: String,
    pub model_hash: String,
    pub created_at: WireTime,
    pub started_at: Option<WireTime>,
    pub finished_at: Option<WireTime>,
    pub rows_collected: u64,
    pub rows_predicted: u64,
    pub rows_unscorable: u64,
    pub rows_stored: u64,
    pub rows_inserted: u64,
    pub failed_step: Option<String>,
    pub error: Option<String>,
}

/// One step of a dispatch, as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchEventInfo {
    pub seq: u32,
    pub at: WireTime,
    /// `created`, `started`, `collected`, `predicted`, `stored`, `inserted`, `finished`.
    pub step: String,
    pub rows: Option<u64>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnscorableInfo {
    pub row_key: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchDetail {
    pub summary: DispatchSummary,
    pub events: Vec<DispatchEventInfo>,
    /// Predictions per label, most frequent first (a classifier's dispatch).
    pub class_counts: Vec<(String, u64)>,
    /// The first unscorable rows (up to 100); `summary.rows_unscorable` has the total.
    pub unscorable: Vec<UnscorableInfo>,
    /// A regressor's dispatch: its predicted values in bins.
    pub values: Option<ValueHistogram>,
}

/// A regressor's predicted values: how many, their mean and range, and
/// equal-width bins between the least and the greatest (each bin's count is
/// exact to within 1% of its values: see the README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueHistogram {
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub bins: Vec<ValueBin>,
}

/// Values in `[lo, hi)` (the last bin includes `hi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueBin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionInfo {
    pub row_key: String,
    /// A classifier's label; a regressor's value, as text.
    pub label: String,
    /// A classifier's score (NaN for a regressor).
    pub score: f64,
    /// A regressor's predicted value.
    pub value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionPage {
    /// How many predictions match (the filter, if any).
    pub total: u64,
    pub rows: Vec<PredictionInfo>,
    /// Pass as `after_key` for the next page; `None` at the end.
    pub next_after: Option<String>,
}

/// What a dry run scored and would have written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRunResult {
    pub job: JobName,
    pub model: String,
    pub model_version: String,
    pub results_table: String,
    /// The results table's columns, in the order of each row of `would_write`.
    pub columns: Vec<String>,
    pub predictions: Vec<PredictionInfo>,
    pub unscorable: Vec<UnscorableInfo>,
    /// The rows a real dispatch would insert, as text.
    pub would_write: Vec<Vec<String>>,
}

/// One record to score: values in the model's feature order, or by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PredictInput {
    Positional(Vec<f64>),
    Named(Vec<(String, f64)>),
    /// Values as typed, in the model's feature order: the daemon reads each
    /// as its feature's type (a number, or text; empty text is NULL).
    Cells(Vec<String>),
    /// Values as typed, by feature name.
    NamedCells(Vec<(String, String)>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionResult {
    pub model: String,
    pub version: u32,
    /// A classifier's label; a regressor's value, as text.
    pub label: String,
    /// A classifier's score (NaN for a regressor).
    pub score: f64,
    /// The numbers the model used, in its feature order (text features: in `values`).
    pub features: Vec<(String, f64)>,
    /// A regressor's predicted value.
    pub value: Option<f64>,
    /// Every value the model used, in its feature order.
    pub values: Vec<(String, FeatureValue)>,
}

/// A model name in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    pub active: Option<u32>,
    pub versions: Vec<ModelVersionInfo>,
}

/// One registry version (or experiment), as far as it could be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersionInfo {
    pub name: String,
    /// 0 for an experiment.
    pub version: u32,
    pub active: bool,
    /// Why this version cannot be loaded; the other fields are empty then.
    pub broken: Option<String>,
    pub algorithm: String,
    pub hyperparameters: Vec<(String, String)>,
    pub features: Vec<String>,
    /// A classifier's labels (none for a regressor).
    pub labels: Vec<String>,
    pub scaling: String,
    pub dataset: Option<String>,
    /// sha256 of the training rows.
    pub fingerprint: Option<String>,
    pub train_rows: Option<u64>,
    pub test_rows: Option<u64>,
    pub seed: Option<u64>,
    pub metrics: Option<MetricsInfo>,
    pub created_at: Option<WireTime>,
    /// sha256 of the artifact.
    pub hash: String,
    /// `classification` or `regression`.
    pub task: String,
    /// Each feature's type, `number` or `text`, in `features` order.
    pub feature_types: Vec<String>,
    /// A regressor's evaluation on the held-out split.
    pub regression: Option<RegressionMetricsInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetricsInfo {
    pub mae: f64,
    pub rmse: f64,
    pub r2: f64,
    /// Held-out rows evaluated.
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsInfo {
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetricsInfo>,
    /// `confusion[truth][predicted]`, classes in label order.
    pub confusion: Vec<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetricsInfo {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentInfo {
    pub id: String,
    pub model: ModelVersionInfo,
}

/// Everything that can be trained; clients build their forms from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogInfo {
    pub datasets: Vec<DatasetInfo>,
    pub models: Vec<AlgorithmInfo>,
    pub metrics: Vec<MetricInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub name: String,
    /// `classification`; `None` when the dataset cannot be read (see `problem`).
    pub task: Option<String>,
    pub description: String,
    /// `csv PATH` or `query on DATALAKE`.
    pub source: String,
    pub features: Vec<String>,
    pub label: String,
    pub records: u64,
    pub classes: Vec<String>,
    pub preprocessing: Vec<String>,
    pub problem: Option<String>,
    /// Each feature's type, `number` or `text` (one-hot encoded), in `features` order.
    pub feature_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmInfo {
    pub name: String,
    pub task: String,
    pub description: String,
    pub hyperparameters: Vec<HyperparameterInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HyperparameterInfo {
    pub name: String,
    pub description: String,
    pub kind: ParamKind,
    pub default: ParamValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParamKind {
    Int { min: i64, max: i64 },
    Float { min: f64, max: f64 },
    Bool,
    Choice { options: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricInfo {
    pub name: String,
    pub description: String,
}

/// A training request as a client writes it: hyperparameters as text, parsed
/// by the daemon against the catalog so each error names its field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub dataset: String,
    pub model: String,
    pub hyperparameters: Vec<(String, String)>,
    pub test_split: f64,
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrainingStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The daemon stopped while it ran (recorded at the next start).
    Interrupted,
}

impl TrainingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TrainingStatus::Running => "running",
            TrainingStatus::Succeeded => "succeeded",
            TrainingStatus::Failed => "failed",
            TrainingStatus::Cancelled => "cancelled",
            TrainingStatus::Interrupted => "interrupted",
        }
    }

    pub fn is_finished(self) -> bool {
        self != TrainingStatus::Running
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub run: u64,
    pub spec: TrainSpec,
    pub requested_by: String,
    pub status: TrainingStatus,
    /// `loading`, `fitting`, `evaluating`, `done`.
    pub stage: String,
    /// Of the whole run, in [0, 1].
    pub fraction: f64,
    /// The experiment it produced.
    pub experiment: Option<String>,
    pub error: Option<String>,
    pub started_at: WireTime,
    pub finished_at: Option<WireTime>,
}

/// One feature's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeatureValue {
    Number(f64),
    /// A text feature's value (a category).
    Text(String),
    /// A text feature without a value (NULL, an empty cell).
    Null,
}

impl fmt::Display for FeatureValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureValue::Number(v) => write!(f, "{v}"),
            FeatureValue::Text(t) => f.write_str(t),
            FeatureValue::Null => f.write_str("NULL"),
        }
    }
}

/// What a model said about one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Class {
        label: String,
        score: f64,
    },
    /// A regressor's predicted value.
    Value {
        value: f64,
    },
    /// The model would not score the row (a category its encoder refuses).
    Unscorable {
        reason: String,
    },
}

/// What a class's score is, so clients label it rightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreKind {
    /// The classes' scores are probabilities and sum to 1.
    Probability,
    /// Decision tree: the share of the leaf's training rows with the leaf's
    /// class; the other classes' shares are not known (`None`).
    LeafShare,
    /// Random forest: the share of trees that voted for the class.
    VoteShare,
    /// SVM: each class's decision value (margin), not a probability.
    Margin,
    /// No score (an ONNX graph without a probability output).
    Unscored,
    /// A regressor: the prediction is a number; there are no classes.
    Value,
}

impl ScoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreKind::Probability => "probability",
            ScoreKind::LeafShare => "leaf share",
            ScoreKind::VoteShare => "vote share",
            ScoreKind::Margin => "margin",
            ScoreKind::Unscored => "unscored",
            ScoreKind::Value => "value",
        }
    }
}

/// One class's score; `None` where the model does not know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub label: String,
    pub score: Option<f64>,
}

/// Why a row got its prediction. Grows (at the end) as models learn to explain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Explanation {
    /// Linear models: the winning class's linear score is `intercept` plus
    /// each feature's contribution (weight × scaled value), largest magnitude first.
    Contributions {
        label: String,
        intercept: f64,
        terms: Vec<ContributionInfo>,
    },
    /// Decision tree: the tests from the root to the leaf, and the leaf.
    Path {
        steps: Vec<PathStepInfo>,
        label: String,
        /// Share of the leaf's training rows with `label`.
        share: f64,
    },
    /// Random forest: how many of `trees` voted for each class.
    Votes {
        trees: u32,
        votes: Vec<(String, u32)>,
    },
    /// The model cannot say why (Gaussian NB, kernel SVM, ONNX), and says so.
    Unavailable { reason: String },
    /// A linear regressor: the value is `intercept` plus each feature's
    /// contribution (weight × scaled value), largest magnitude first.
    ValueContributions {
        intercept: f64,
        terms: Vec<ContributionInfo>,
    },
    /// A regression tree: the tests from the root to the leaf, whose value
    /// (the mean target of its training rows) is the prediction.
    ValuePath {
        steps: Vec<PathStepInfo>,
        value: f64,
    },
    /// A regression forest: the prediction is the mean of its `trees` trees'
    /// values, which range from `min` to `max`.
    TreeValues { trees: u32, min: f64, max: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContributionInfo {
    pub feature: String,
    pub value: f64,
    /// After the model's scaling.
    pub scaled: f64,
    pub weight: f64,
    pub contribution: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathStepInfo {
    pub feature: String,
    pub value: f64,
    /// In the feature's units; `None` when the feature was constant in training.
    pub threshold: Option<f64>,
    /// `value < threshold`: the row went to the left branch.
    pub below: bool,
}

/// A configured showroom, as the picker lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowroomInfo {
    pub model: String,
    /// The samples CSV.
    pub samples: String,
    /// Sample rows, when the file could be read.
    pub rows: Option<u32>,
    /// The active version of the model, if any.
    pub active: Option<u32>,
    /// Why this showroom cannot open: the file, the line and why; or the model.
    pub problem: Option<String>,
}

/// A showroom opened: every sample row predicted by one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowroomView {
    pub model: String,
    pub version: u32,
    /// sha256 of the version's artifact.
    pub hash: String,
    pub algorithm: String,
    pub samples: String,
    /// The CSV's header, every column in file order.
    pub columns: Vec<String>,
    /// How many of the first `columns` to show (`[showroom.MODEL] columns`).
    pub shown: u32,
    /// The model's features, in its order (each row's `values`).
    pub features: Vec<String>,
    /// A classifier's labels (none for a regressor).
    pub labels: Vec<String>,
    pub score_kind: ScoreKind,
    pub rows: Vec<SampleRow>,
    /// Each feature's type, `number` or `text`, in `features` order.
    pub feature_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    /// Its line in the file (the header is line 1).
    pub line: u64,
    /// As written, one per column of the header.
    pub cells: Vec<String>,
    /// The model's features, in [`ShowroomView::features`] order.
    pub values: Vec<FeatureValue>,
    pub outcome: Outcome,
    pub classes: Vec<ClassScore>,
}

/// One showroom row predicted on its own, edited or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowroomPrediction {
    pub model: String,
    pub version: u32,
    pub hash: String,
    /// 1-based, as [`ShowroomView::rows`] lists them.
    pub row: u32,
    pub line: u64,
    /// Some value differs from the sample row's.
    pub edited: bool,
    /// What was scored, in the model's feature order.
    pub values: Vec<(String, FeatureValue)>,
    pub outcome: Outcome,
    pub classes: Vec<ClassScore>,
    pub score_kind: ScoreKind,
    pub explanation: Explanation,
}
