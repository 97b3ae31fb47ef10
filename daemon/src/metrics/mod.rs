//! The optional Prometheus endpoint (`[metrics] listen`): per job, the
//! dispatches by final status, rows scored and unscorable, dispatch
//! durations and the time of the last success (the metric to alert on),
//! whether it is paused; for the daemon, connected clients, running
//! dispatches, the event log's size and write latency, and each monitored
//! target's state and latency. Prometheus text format, `GET /metrics` only.
//!
//! Owns the counters ([`Metrics`]). Receives every dispatch record the
//! dispatch service publishes (through its observer, called in order and
//! never dropped, unlike a lagging subscriber), the duration of each
//! event-log commit (on the writer thread) and the jobs table from the update
//! broadcast. Reads the rest — clients, running dispatches, the health table
//! — from the context when scraped. Seeded once at start from the event log
//! ([`store::seed`]), so totals and the last success survive a restart; a
//! scrape never touches the event log and runs on a blocking thread. Off
//! unless configured: then none of this exists.

pub mod http;
pub mod store;

use crate::context::Context;
use crate::dispatch::record::{DispatchRecord, DispatchStatus};
use crate::eventlog::{CommitObserver, EventLog, EventLogError};
use mld_shared::ids::DispatchId;
use mld_shared::protocol::{HealthKind, HealthState, JobState, Update};
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The statuses a dispatch ends with, in the order [`store::JobSeed::ended`] keeps.
pub const FINAL_STATUSES: [DispatchStatus; 4] = [
    DispatchStatus::Succeeded,
    DispatchStatus::Failed,
    DispatchStatus::Cancelled,
    DispatchStatus::Interrupted,
];

/// Upper bounds of the dispatch-duration histogram, in seconds: dispatches
/// take from a second to hours.
pub const DURATION_BUCKETS: [f64; 12] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

/// Upper bounds of the event-log commit histogram, in seconds: one fsync'd
/// transaction, a fraction of a millisecond to (on a sick disk) seconds.
pub const WRITE_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Recent dispatch endings remembered, so an ending told twice counts once.
const RECENT_ENDINGS: usize = 1024;

/// One job's totals.
#[derive(Debug, Clone, PartialEq)]
struct JobTotals {
    ended: [u64; FINAL_STATUSES.len()],
    rows_scored: u64,
    rows_unscorable: u64,
    /// Per bucket of [`DURATION_BUCKETS`], plus one above them all.
    duration_buckets: [u64; DURATION_BUCKETS.len() + 1],
    duration_sum: f64,
    /// Seconds since the epoch.
    last_success: Option<f64>,
}

impl Default for JobTotals {
    fn default() -> Self {
        JobTotals {
            ended: [0; FINAL_STATUSES.len()],
            rows_scored: 0,
            rows_unscorable: 0,
            duration_buckets: [0; DURATION_BUCKETS.len() + 1],
            duration_sum: 0.0,
            last_success: None,
        }
    }
}

impl JobTotals {
    fn observe_duration(&mut self, seconds: f64) {
        let seconds = seconds.max(0.0);
        let i = DURATION_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        self.duration_buckets[i] += 1;
        self.duration_sum += seconds;
    }

    fn succeeded_at(&mut self, seconds: f64) {
        self.last_success = Some(self.last_success.map_or(seconds, |s| s.max(seconds)));
    }
}

/// A dispatch seen unfinished: what of it is already counted.
#[derive(Debug, Clone, Copy)]
struct Open {
    predicted: u64,
    unscorable: u64,
    /// Seen from its creation in this process, so its duration is its own
    /// (not a restart's, nor a retried write-back's).
    fresh: bool,
}

#[derive(Debug, Default)]
struct Tracking {
    jobs: BTreeMap<String, JobTotals>,
    open: HashMap<DispatchId, Open>,
    recent: VecDeque<(DispatchId, Option<jiff::Timestamp>)>,
}

/// The job table as last published: `(name, paused, invalid)`.
type JobStates = Vec<(String, bool, bool)>;

/// The counters: what dispatches and the event log's writer report.
#[derive(Debug)]
pub struct Metrics {
    tracking: Mutex<Tracking>,
    job_states: Mutex<JobStates>,
    eventlog_write: Histogram,
    eventlog_write_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            tracking: Mutex::new(Tracking::default()),
            job_states: Mutex::new(Vec::new()),
            eventlog_write: Histogram::new(WRITE_BUCKETS),
            eventlog_write_failures: Counter::default(),
        }
    }

    fn tracking(&self) -> std::sync::MutexGuard<'_, Tracking> {
        self.tracking.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts from what the event log holds: every finished dispatch's
    /// status, rows and duration, each job's last success, and the
    /// dispatches still open (a dead daemon's, about to be settled: their
    /// rows count when they end). Call before any dispatch starts.
    pub async fn seed(&self, log: &EventLog) -> Result<(), EventLogError> {
        let seed = log.read(store::seed).await?;
        let mut t = self.tracking();
        for (job, s) in seed.jobs {
            let totals = t.jobs.entry(job).or_default();
            totals.ended = s.ended;
            totals.rows_scored = s.rows_scored;
            totals.rows_unscorable = s.rows_unscorable;
            for (slot, n) in totals.duration_buckets.iter_mut().zip(&s.duration_buckets) {
                *slot = *n;
            }
            totals.duration_sum = s.duration_sum;
            totals.last_success = s.last_success_ms.map(|ms| ms as f64 / 1000.0);
        }
        for (id, _job) in seed.open {
            t.open.insert(
                id,
                Open {
                    predicted: 0,
                    unscorable: 0,
                    fresh: false,
                },
            );
        }
        Ok(())
    }

    /// A dispatch changed (the dispatch service's observer). Counts each
    /// ending once, under its final status; rows scored since the dispatch
    /// was first seen (a retried write-back scores none); the duration of
    /// dispatches created in this process; the last success's time.
    pub fn dispatch(&self, rec: &DispatchRecord) {
        let mut t = self.tracking();
        if !rec.status.is_finished() {
            let fresh = rec.status == DispatchStatus::Created;
            t.open.entry(rec.id).or_insert(Open {
                predicted: if fresh { 0 } else { rec.counts.predicted },
                unscorable: if fresh { 0 } else { rec.counts.unscorable },
                fresh,
            });
            return;
        }
        let ending = (rec.id, rec.finished_at);
        if t.recent.contains(&ending) {
            return;
        }
        if t.recent.len() == RECENT_ENDINGS {
            t.recent.pop_front();
        }
        t.recent.push_back(ending);
        let open = t.open.remove(&rec.id);
        let totals = t.jobs.entry(rec.job.clone()).or_default();
        if let Some(i) = FINAL_STATUSES.iter().position(|s| *s == rec.status) {
            totals.ended[i] += 1;
        }
        // A dispatch that ends unseen ended at once (failed at creation, or
        // a retry refused): it scored nothing new.
        if let Some(open) = open {
            totals.rows_scored += rec.counts.predicted.saturating_sub(open.predicted);
            totals.rows_unscorable += rec.counts.unscorable.saturating_sub(open.unscorable);
            if open.fresh
                && let (Some(started), Some(finished)) = (rec.started_at, rec.finished_at)
            {
                totals.observe_duration(finished.duration_since(started).as_secs_f64());
            }
        }
        if rec.status == DispatchStatus::Succeeded
            && let Some(finished) = rec.finished_at
        {
            totals.succeeded_at(finished.as_millisecond() as f64 / 1000.0);
        }
    }

    /// What the event log's writer tells of each batch.
    pub fn commit_observer(self: &Arc<Self>) -> CommitObserver {
        let me = self.clone();
        Box::new(move |took, committed| {
            if committed {
                me.eventlog_write.observe(took.as_secs_f64());
            } else {
                me.eventlog_write_failures.inc();
            }
        })
    }

    fn set_job_states(&self, jobs: &[mld_shared::protocol::JobSummary]) {
        let states = jobs
            .iter()
            .map(|j| {
                (
                    j.name.0.clone(),
                    matches!(j.state, JobState::Disabled { .. }),
                    matches!(j.state, JobState::Invalid { .. }),
                )
            })
            .collect();
        *self.job_states.lock().unwrap_or_else(|e| e.into_inner()) = states;
    }
}

/// Serves the endpoint until `shutdown`: keeps the jobs table current from
/// the update broadcast, and answers scrapes on `listener`.
pub async fn run(
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) {
    // Subscribed before the first read, so no change falls between them.
    let mut updates = ctx.updates.subscribe();
    metrics.set_job_states(&crate::server::convert::jobs(&ctx).await);
    let jobs = {
        let metrics = metrics.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let update = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    u = updates.recv() => u,
                };
                match update {
                    Ok(Update::Jobs(jobs)) => metrics.set_job_states(&jobs),
                    Ok(_) => {}
                    // The whole table comes again at the next change or refresh.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    };
    let registry = Arc::new(registry(ctx, metrics));
    http::serve(listener, registry, shutdown).await;
    jobs.abort();
}

/// Everything a scrape shows: the event log's histogram and counter, and
/// [`Scrape`] for the rest.
pub fn registry(ctx: Arc<Context>, metrics: Arc<Metrics>) -> Registry {
    let mut registry = Registry::default();
    registry.register(
        "mld_eventlog_write_seconds",
        "Time to write and commit (fsync) one batch of the event log's writes",
        metrics.eventlog_write.clone(),
    );
    registry.register(
        "mld_eventlog_write_failures",
        "Event-log batches whose transaction failed (disk full, I/O error, locked)",
        metrics.eventlog_write_failures.clone(),
    );
    registry.register_collector(Box::new(Scrape { ctx, metrics }));
    registry
}

/// Encodes the registry as the Prometheus text format. Blocking (the event
/// log's size is read from the file system): run it off the runtime.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::with_capacity(8 * 1024);
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, registry) {
        tracing::error!(error = %e, "encoding the metrics failed");
    }
    out
}

/// What is read at scrape time: the per-job totals, and the context's
/// gauges (clients, running dispatches, health, the event log's size).
struct Scrape {
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape").finish_non_exhaustive()
    }
}

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: V,
) -> Result<(), std::fmt::Error> {
    let mut m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    m.encode_gauge(&value)
}

/// A gauge with one series per label set.
fn gauges<'a, V, L>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error>
where
    V: prometheus_client::encoding::EncodeGaugeValue,
    L: prometheus_client::encoding::EncodeLabelSet + 'a,
{
    let mut m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        m.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

fn counters<L: prometheus_client::encoding::EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

fn kind_label(kind: HealthKind) -> &'static str {
    match kind {
        HealthKind::Server => "server",
        HealthKind::Datalake => "datalake",
        HealthKind::EventLog => "eventlog",
        HealthKind::Cluster => "cluster",
    }
}

const HEALTH_STATES: [HealthState; 4] = [
    HealthState::Unknown,
    HealthState::Online,
    HealthState::Offline,
    HealthState::Error,
];

/// The event log's bytes on disk: the file and its write-ahead log.
fn file_bytes(path: &std::path::Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_path_buf(), std::path::PathBuf::from(wal)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

impl prometheus_client::collector::Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let ctx = &self.ctx;
        let config = ctx.config();
        let enc = &mut encoder;

        // The daemon.
        gauges(
            enc,
            "mld_build_info",
            "The daemon's version (always 1)",
            [([("version", mld_shared::VERSION)], 1u32)],
        )?;
        gauge(
            enc,
            "mld_start_time_seconds",
            "When the daemon started, in seconds since the epoch",
            ctx.started_at.as_millisecond() as f64 / 1000.0,
        )?;
        gauge(
            enc,
            "mld_connected_clients",
            "Consoles and scripts connected to the socket now",
            ctx.clients(),
        )?;
        gauge(
            enc,
            "mld_running_dispatches",
            "Dispatches running (or waiting for a slot) now",
            ctx.dispatches.running_count(),
        )?;
        gauge(
            enc,
            "mld_eventlog_size_bytes",
            "The event log's size on disk (its file and write-ahead log)",
            file_bytes(ctx.eventlog.path()),
        )?;

        // Each monitored target, as of the monitor's last round.
        let health = ctx.health.borrow().clone();
        gauges(
            enc,
            "mld_target_up",
            "1 if the monitored target answered at the last check, else 0",
            health.iter().map(|h| {
                (
                    [("kind", kind_label(h.kind)), ("name", h.name.as_str())],
                    u32::from(h.state == HealthState::Online),
                )
            }),
        )?;
        gauges(
            enc,
            "mld_target_state",
            "The monitored target's state: 1 for the one it is in (unknown until first checked)",
            health.iter().flat_map(|h| {
                HEALTH_STATES.iter().map(move |s| {
                    (
                        [
                            ("kind", kind_label(h.kind)),
                            ("name", h.name.as_str()),
                            ("state", s.as_str()),
                        ],
                        u32::from(h.state == *s),
                    )
                })
            }),
        )?;
        gauges(
            enc,
            "mld_target_latency_seconds",
            "How long the monitored target took to answer at the last check",
            health.iter().filter_map(|h| {
                h.latency_ms.map(|ms| {
                    (
                        [("kind", kind_label(h.kind)), ("name", h.name.as_str())],
                        ms / 1000.0,
                    )
                })
            }),
        )?;

        // Each job: configured ones always, and any with history.
        let t = self.metrics.tracking();
        let zero = JobTotals::default();
        let mut jobs: BTreeMap<&str, &JobTotals> = config
            .jobs
            .iter()
            .map(|j| (j.name.as_str(), &zero))
            .collect();
        for (name, totals) in &t.jobs {
            jobs.insert(name.as_str(), totals);
        }
        counters(
            enc,
            "mld_dispatches",
            "Dispatches that ended, by final status (a retried write-back counts again when it ends)",
            jobs.iter().flat_map(|(job, totals)| {
                FINAL_STATUSES
                    .iter()
                    .zip(totals.ended)
                    .map(move |(status, n)| ([("mld_job", *job), ("status", status.as_str())], n))
            }),
        )?;
        counters(
            enc,
            "mld_dispatch_rows_scored",
            "Rows predicted by the job's dispatches that ended",
            jobs.iter()
                .map(|(job, totals)| ([("mld_job", *job)], totals.rows_scored)),
        )?;
        counters(
            enc,
            "mld_dispatch_rows_unscorable",
            "Rows the job's dispatches that ended could not score (NULL or non-numeric features)",
            jobs.iter()
                .map(|(job, totals)| ([("mld_job", *job)], totals.rows_unscorable)),
        )?;
        {
            let mut m = enc.encode_descriptor(
                "mld_dispatch_duration_seconds",
                "How long the job's dispatches ran, from start to end (those that started)",
                None,
                MetricType::Histogram,
            )?;
            for (job, totals) in &jobs {
                let buckets: Vec<(f64, u64)> = DURATION_BUCKETS
                    .iter()
                    .copied()
                    .zip(totals.duration_buckets)
                    .collect();
                let count: u64 = totals.duration_buckets.iter().sum();
                m.encode_family(&[("mld_job", *job)])?
                    .encode_histogram::<NoLabelSet>(totals.duration_sum, count, &buckets, None)?;
            }
        }
        // The gauges are for the jobs configured now: a removed job has
        // nothing left to alert on.
        gauges(
            enc,
            "mld_job_last_success_timestamp_seconds",
            "When the job's last successful dispatch finished, in seconds since the epoch (0: never)",
            config.jobs.iter().map(|j| {
                let at = t
                    .jobs
                    .get(&j.name)
                    .and_then(|totals| totals.last_success)
                    .unwrap_or(0.0);
                ([("mld_job", j.name.as_str())], at)
            }),
        )?;
        drop(t);
        let states = self
            .metrics
            .job_states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let state_of = |name: &str| {
            states
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, paused, invalid)| (*paused, *invalid))
                .unwrap_or((false, false))
        };
        gauges(
            enc,
            "mld_job_paused",
            "1 if an admin disabled (paused) the job, else 0",
            config.jobs.iter().map(|j| {
                (
                    [("mld_job", j.name.as_str())],
                    u32::from(state_of(&j.name).0),
                )
            }),
        )?;
        gauges(
            enc,
            "mld_job_invalid",
            "1 if the job cannot run (an invalid cron expression or timezone), else 0",
            config.jobs.iter().map(|j| {
                (
                    [("mld_job", j.name.as_str())],
                    u32::from(state_of(&j.name).1),
                )
            }),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::record::{Counts, NewDispatch, Trigger};
    use crate::dispatch::store;

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn record(id: i64, status: DispatchStatus, predicted: u64) -> DispatchRecord {
        DispatchRecord {
            id: DispatchId(id),
            job: "nightly".into(),
            trigger: Trigger::Schedule,
            requested_by: "scheduler".into(),
            slot: None,
            model: "iris".into(),
            model_version: "1".into(),
            model_hash: String::new(),
            status,
            failed_step: None,
            error: None,
            created_at: at(0),
            started_at: (status != DispatchStatus::Created).then(|| at(1)),
            finished_at: status.is_finished().then(|| at(4)),
            counts: Counts {
                collected: predicted + 1,
                predicted,
                unscorable: 1,
                stored: predicted,
                inserted: predicted,
            },
        }
    }

    fn totals(m: &Metrics, job: &str) -> JobTotals {
        m.tracking().jobs.get(job).cloned().unwrap_or_default()
    }

    #[test]
    fn a_dispatch_counts_once_with_its_rows_duration_and_success() {
        let m = Metrics::new();
        let mut created = record(1, DispatchStatus::Created, 0);
        created.counts = Counts::default();
        m.dispatch(&created);
        m.dispatch(&record(1, DispatchStatus::Running, 50));
        let done = record(1, DispatchStatus::Succeeded, 100);
        m.dispatch(&done);
        // Told twice (a second notify of the same ending): counted once.
        m.dispatch(&done);
        let t = totals(&m, "nightly");
        assert_eq!(t.ended, [1, 0, 0, 0]);
        assert_eq!((t.rows_scored, t.rows_unscorable), (100, 1));
        // 3 s from start to end: the `<= 5` bucket.
        assert_eq!(t.duration_buckets[1], 1);
        assert_eq!(t.duration_buckets.iter().sum::<u64>(), 1);
        assert_eq!(t.duration_sum, 3.0);
        assert_eq!(t.last_success, Some(at(4).as_second() as f64));
    }

    #[test]
    fn a_retried_write_back_counts_its_ending_but_no_new_rows_or_duration() {
        let m = Metrics::new();
        let mut created = record(7, DispatchStatus::Created, 0);
        created.counts = Counts::default();
        m.dispatch(&created);
        m.dispatch(&record(7, DispatchStatus::Failed, 100));
        // An admin's retry: running again with its rows already scored.
        let mut resumed = record(7, DispatchStatus::Running, 100);
        resumed.finished_at = None;
        m.dispatch(&resumed);
        let mut again = record(7, DispatchStatus::Succeeded, 100);
        again.finished_at = Some(at(60));
        m.dispatch(&again);
        let t = totals(&m, "nightly");
        assert_eq!(t.ended, [1, 1, 0, 0], "two endings: failed, then succeeded");
        assert_eq!(t.rows_scored, 100, "the rows were scored once");
        assert_eq!(
            t.duration_buckets.iter().sum::<u64>(),
            1,
            "only the first run's duration"
        );
        assert_eq!(t.last_success, Some(at(60).as_second() as f64));
    }

    #[test]
    fn a_dispatch_that_fails_at_creation_counts_with_no_rows() {
        let m = Metrics::new();
        let mut failed = record(3, DispatchStatus::Failed, 0);
        failed.started_at = None;
        m.dispatch(&failed);
        let t = totals(&m, "nightly");
        assert_eq!(t.ended, [0, 1, 0, 0]);
        assert_eq!(t.rows_scored, 0);
        assert_eq!(t.duration_buckets.iter().sum::<u64>(), 0);
        assert_eq!(t.last_success, None);
    }

    /// Writes a dispatch of `job` straight into the event log.
    fn write(
        log: &EventLog,
        job: &str,
        status: Option<(DispatchStatus, i64)>,
        counts: Counts,
    ) -> DispatchId {
        let job = job.to_string();
        log.write_blocking(move |tx| {
            let new = NewDispatch {
                job,
                trigger: Trigger::Manual,
                requested_by: "test".into(),
                slot: None,
                model: "iris".into(),
                model_version: "1".into(),
                model_hash: String::new(),
            };
            let id = store::create(tx, &new, at(0))?;
            store::start(tx, id, at(10))?;
            store::set_counts(tx, id, &counts)?;
            if let Some((status, end)) = status {
                store::finish(tx, id, status, None, None, &counts, at(10 + end))?;
            }
            Ok(id)
        })
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn the_seed_is_what_the_event_log_holds() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events.db")).unwrap();
        let counts = |predicted, unscorable| Counts {
            collected: predicted + unscorable,
            predicted,
            unscorable,
            stored: predicted,
            inserted: predicted,
        };
        let open = {
            let log = log.clone();
            tokio::task::spawn_blocking(move || {
                write(
                    &log,
                    "a",
                    Some((DispatchStatus::Succeeded, 2)),
                    counts(10, 1),
                );
                write(
                    &log,
                    "a",
                    Some((DispatchStatus::Succeeded, 700)),
                    counts(20, 0),
                );
                write(&log, "a", Some((DispatchStatus::Failed, 1)), counts(5, 5));
                write(
                    &log,
                    "b",
                    Some((DispatchStatus::Interrupted, 40)),
                    counts(0, 0),
                );
                write(&log, "b", None, counts(3, 0))
            })
            .await
            .unwrap()
        };
        let m = Metrics::new();
        m.seed(&log).await.unwrap();
        let a = totals(&m, "a");
        assert_eq!(a.ended, [2, 1, 0, 0]);
        assert_eq!((a.rows_scored, a.rows_unscorable), (35, 6));
        // 1 s falls in `<= 1`, 2 s in `<= 5`, 700 s in `<= 1800`.
        assert_eq!(a.duration_buckets[0], 1);
        assert_eq!(a.duration_buckets[1], 1);
        assert_eq!(a.duration_buckets[8], 1);
        assert_eq!(a.duration_buckets.iter().sum::<u64>(), 3);
        assert_eq!(a.duration_sum, 703.0);
        assert_eq!(
            a.last_success,
            Some(at(710).as_second() as f64),
            "the later of the two successes"
        );
        let b = totals(&m, "b");
        assert_eq!(b.ended, [0, 0, 0, 1]);
        assert_eq!(b.last_success, None);
        // The open one ends after the restart: all its rows count then.
        let mut ended = record(open.0, DispatchStatus::Interrupted, 3);
        ended.job = "b".into();
        ended.counts.unscorable = 0;
        m.dispatch(&ended);
        let b = totals(&m, "b");
        assert_eq!(b.ended, [0, 0, 0, 2]);
        assert_eq!(b.rows_scored, 3);
        assert_eq!(
            b.duration_buckets.iter().sum::<u64>(),
            1,
            "a duration across a restart is not this process's to time"
        );
    }
}
