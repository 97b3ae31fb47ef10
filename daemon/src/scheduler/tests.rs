//! The scheduler through its handle, on a real event log (its store is the
//! daemon's, [`EventLogStore`]), with tokio's clock paused and the test clock
//! following it: every rule runs in virtual time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::clock::{Clock, TestClock};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn name(s: &str) -> JobName {
    JobName(s.into())
}

fn job(n: &str, expr: &str) -> JobSpec {
    JobSpec {
        name: name(n),
        schedule: expr.into(),
        timezone: Some("UTC".into()),
        enabled: true,
        overlap: OverlapPolicy::Skip,
        missed: MissedPolicy::Skip,
    }
}

/// Records every request, and writes the scheduler's record of it to the
/// store as the daemon's dispatcher does (there, in the transaction that
/// creates the dispatch); the test decides when dispatches finish.
struct TestDispatcher {
    clock: Arc<dyn Clock>,
    store: Arc<EventLogStore>,
    next_id: AtomicI64,
    fail: AtomicBool,
    started: Mutex<Vec<Started>>,
    notify: mpsc::UnboundedSender<Started>,
}

#[derive(Debug, Clone, PartialEq)]
struct Started {
    id: DispatchId,
    request: DispatchRequest,
    at: Timestamp,
}

impl TestDispatcher {
    fn new(
        clock: Arc<dyn Clock>,
        store: Arc<EventLogStore>,
        first_id: i64,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Started>) {
        let (notify, rx) = mpsc::unbounded_channel();
        let d = TestDispatcher {
            clock,
            store,
            next_id: AtomicI64::new(first_id),
            fail: AtomicBool::new(false),
            started: Mutex::new(Vec::new()),
            notify,
        };
        (Arc::new(d), rx)
    }

    fn started(&self) -> Vec<Started> {
        self.started.lock().unwrap().clone()
    }

    fn slots(&self) -> Vec<Option<Timestamp>> {
        self.started().iter().map(|s| s.request.slot).collect()
    }
}

impl Dispatcher for TestDispatcher {
    fn start(
        &self,
        request: &DispatchRequest,
        record: StartRecord,
    ) -> Result<DispatchId, StartError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StartError("event log is full".into()));
        }
        let id = DispatchId(self.next_id.fetch_add(1, Ordering::SeqCst));
        self.store
            .apply(record(id))
            .map_err(|e| StartError(e.to_string()))?;
        let s = Started {
            id,
            request: request.clone(),
            at: self.clock.now(),
        };
        self.started.lock().unwrap().push(s.clone());
        let _ = self.notify.send(s);
        Ok(id)
    }
}

struct Daemon {
    handle: SchedulerHandle,
    dispatcher: Arc<TestDispatcher>,
    events: Option<mpsc::UnboundedReceiver<Started>>,
    clock: Arc<TestClock>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

fn options(limit: usize) -> SchedulerOptions {
    SchedulerOptions {
        default_tz: TimeZone::UTC,
        missed_detail_limit: limit,
        ..Default::default()
    }
}

/// Starts a scheduler on the store file `path`, its clock at `start`.
async fn boot(
    path: &Path,
    start: &str,
    jobs: Vec<JobSpec>,
    opts: SchedulerOptions,
    first_id: i64,
) -> Daemon {
    let clock = TestClock::starting_at(ts(start));
    let store = Arc::new(EventLogStore::new(
        crate::eventlog::EventLog::open(path).unwrap(),
    ));
    let (dispatcher, events) = TestDispatcher::new(clock.clone(), store.clone(), first_id);
    let shutdown = CancellationToken::new();
    let (handle, task) = start_scheduler(
        jobs,
        opts,
        clock.clone(),
        store,
        dispatcher.clone(),
        shutdown.clone(),
    )
    .await;
    Daemon {
        handle,
        dispatcher,
        events: Some(events),
        clock,
        shutdown,
        task,
    }
}

async fn start_scheduler(
    jobs: Vec<JobSpec>,
    opts: SchedulerOptions,
    clock: Arc<TestClock>,
    store: Arc<EventLogStore>,
    dispatcher: Arc<TestDispatcher>,
    shutdown: CancellationToken,
) -> (SchedulerHandle, JoinHandle<()>) {
    start(jobs, opts, clock, store, dispatcher, shutdown)
        .await
        .unwrap()
}

impl Daemon {
    /// Every dispatch finishes as soon as it starts.
    fn auto_finish(&mut self) {
        let mut events = self.events.take().unwrap();
        let handle = self.handle.clone();
        tokio::spawn(async move {
            while let Some(s) = events.recv().await {
                handle
                    .dispatch_finished(&s.request.job, s.id)
                    .await
                    .unwrap();
            }
        });
    }

    /// Lets virtual time run until the clock reads `t`, then syncs with the owner.
    async fn run_until(&self, t: &str) {
        let target = ts(t);
        let now = self.clock.now();
        assert!(target >= now, "clock already at {now}");
        tokio::time::sleep(Duration::try_from(target.duration_since(now)).unwrap()).await;
        self.handle.jobs().await.unwrap();
    }

    async fn view(&self, job: &str) -> JobView {
        self.handle
            .jobs()
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.name == name(job))
            .unwrap()
    }

    async fn ledger(&self, job: &str) -> Vec<(Timestamp, SlotDecision)> {
        let slots = self
            .handle
            .slots(&name(job), Timestamp::UNIX_EPOCH, usize::MAX)
            .await
            .unwrap();
        slots.into_iter().map(|r| (r.slot, r.decision)).collect()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}

fn db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mld-events.db");
    (dir, path)
}

fn ran(id: i64) -> SlotDecision {
    SlotDecision::Ran {
        dispatch: DispatchId(id),
    }
}

#[tokio::test(start_paused = true)]
async fn a_weekly_slot_dispatches_once_at_its_time_and_is_recorded() {
    let (_dir, path) = db();
    // Saturday; `0 2 * * 1` is Monday 02:00.
    let mut d = boot(
        &path,
        "2026-11-21T00:00:00Z",
        vec![job("weekly", "0 2 * * 1")],
        options(100),
        1,
    )
    .await;
    d.auto_finish();
    let v = d.view("weekly").await;
    assert_eq!(v.state, JobState::Active);
    assert_eq!(v.next_dispatch, Some(ts("2026-11-23T02:00:00Z")));
    assert_eq!(v.last_dispatch, None);

    d.run_until("2026-11-24T00:00:00Z").await;
    let started = d.dispatcher.started();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].request.trigger, Trigger::Schedule);
    assert_eq!(started[0].request.slot, Some(ts("2026-11-23T02:00:00Z")));
    assert_eq!(
        started[0].at,
        ts("2026-11-23T02:00:00Z"),
        "dispatched at the slot, not later"
    );
    assert_eq!(
        d.ledger("weekly").await,
        vec![(ts("2026-11-23T02:00:00Z"), ran(1))]
    );
    let v = d.view("weekly").await;
    assert_eq!(
        v.last_dispatch.map(|l| (l.id, l.at)),
        Some((DispatchId(1), ts("2026-11-23T02:00:00Z")))
    );
    assert_eq!(v.next_dispatch, Some(ts("2026-11-30T02:00:00Z")));
    assert_eq!(v.running, None);
    d.stop().await;
}

/// Runs one job for `days` from `start` and returns the slots it dispatched.
async fn dispatched(
    expr: &str,
    tz: &str,
    start: &str,
    until: &str,
) -> (Vec<Started>, Vec<(Timestamp, SlotDecision)>) {
    let (_dir, path) = db();
    let mut spec = job("j", expr);
    spec.timezone = Some(tz.into());
    let mut d = boot(&path, start, vec![spec], options(100), 1).await;
    d.auto_finish();
    d.run_until(until).await;
    let out = (d.dispatcher.started(), d.ledger("j").await);
    d.stop().await;
    out
}

fn assert_one_dispatch_per_slot(
    started: &[Started],
    ledger: &[(Timestamp, SlotDecision)],
    expected: &[&str],
) {
    let expected: Vec<Timestamp> = expected.iter().map(|s| ts(s)).collect();
    assert_eq!(
        started
            .iter()
            .map(|s| s.request.slot.unwrap())
            .collect::<Vec<_>>(),
        expected
    );
    // Each dispatch happened at its slot's instant.
    assert!(
        started.iter().all(|s| Some(s.at) == s.request.slot),
        "{started:?}"
    );
    let want: Vec<_> = started
        .iter()
        .map(|s| {
            (
                s.request.slot.unwrap(),
                SlotDecision::Ran { dispatch: s.id },
            )
        })
        .collect();
    assert_eq!(ledger, want);
}

#[tokio::test(start_paused = true)]
async fn new_york_daylight_saving_both_directions() {
    // Spring forward 2026-03-08: 02:30 does not exist; it runs once at 03:00 EDT (07:00Z).
    let (s, l) = dispatched(
        "30 2 * * *",
        "America/New_York",
        "2026-03-07T00:00:00Z",
        "2026-03-10T00:00:00Z",
    )
    .await;
    assert_one_dispatch_per_slot(
        &s,
        &l,
        &[
            "2026-03-07T07:30:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z",
        ],
    );
    // Fall back 2026-11-01: 01:30 happens twice; it runs once, at the first (EDT, 05:30Z).
    let (s, l) = dispatched(
        "30 1 * * *",
        "America/New_York",
        "2026-10-31T00:00:00Z",
        "2026-11-03T00:00:00Z",
    )
    .await;
    assert_one_dispatch_per_slot(
        &s,
        &l,
        &[
            "2026-10-31T05:30:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z",
        ],
    );
}

#[tokio::test(start_paused = true)]
async fn rome_daylight_saving_both_directions() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    let (s, l) = dispatched(
        "30 2 * * *",
        "Europe/Rome",
        "2026-03-28T00:00:00Z",
        "2026-03-31T00:00:00Z",
    )
    .await;
    assert_one_dispatch_per_slot(
        &s,
        &l,
        &[
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
        ],
    );
    // 2026-10-25: 03:00 CEST returns to 02:00 CET; 02:30 runs once, at 00:30Z.
    let (s, l) = dispatched(
        "30 2 * * *",
        "Europe/Rome",
        "2026-10-24T00:00:00Z",
        "2026-10-27T00:00:00Z",
    )
    .await;
    assert_one_dispatch_per_slot(
        &s,
        &l,
        &[
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        ],
    );
    // A job every 15 minutes through the skipped hour: 01:45 CET, then one run at 03:00 CEST.
    let (s, l) = dispatched(
        "*/15 * * * *",
        "Europe/Rome",
        "2026-03-29T00:40:00Z",
        "2026-03-29T01:20:00Z",
    )
    .await;
    assert_one_dispatch_per_slot(
        &s,
        &l,
        &[
            "2026-03-29T00:45:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:15:00Z",
        ],
    );
}

#[tokio::test(start_paused = true)]
async fn six_field_expression_fires_on_seconds() {
    let (s, l) = dispatched(
        "*/20 * * * * *",
        "UTC",
        "2026-11-23T10:00:05Z",
        "2026-11-23T10:01:10Z",
    )
    .await;
    assert_one_dispatch_per_slot(
        &s,
        &l,
        &[
            "2026-11-23T10:00:20Z",
            "2026-11-23T10:00:40Z",
            "2026-11-23T10:01:00Z",
        ],
    );
}

#[tokio::test(start_paused = true)]
async fn overlap_skip_records_skipped_slots_and_refuses_run_now() {
    let (_dir, path) = db();
    let d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("j", "*/10 * * * *")],
        options(100),
        1,
    )
    .await;
    d.run_until("2026-11-23T00:35:00Z").await;
    assert_eq!(d.dispatcher.started().len(), 1, "never twice at once");
    assert_eq!(d.view("j").await.running, Some(DispatchId(1)));
    let err = d.handle.run_now(&name("j"), "alice").await.unwrap_err();
    assert!(
        matches!(
            err,
            SchedulerError::AlreadyRunning {
                running: DispatchId(1),
                queued: false,
                ..
            }
        ),
        "{err:?}"
    );

    d.handle
        .dispatch_finished(&name("j"), DispatchId(1))
        .await
        .unwrap();
    // Finishing twice, or an unknown dispatch, is refused.
    let err = d
        .handle
        .dispatch_finished(&name("j"), DispatchId(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SchedulerError::UnknownDispatch { .. }),
        "{err:?}"
    );
    d.run_until("2026-11-23T00:45:00Z").await;
    let skipped = SlotDecision::SkippedOverlap {
        running: DispatchId(1),
    };
    assert_eq!(
        d.ledger("j").await,
        vec![
            (ts("2026-11-23T00:10:00Z"), ran(1)),
            (ts("2026-11-23T00:20:00Z"), skipped.clone()),
            (ts("2026-11-23T00:30:00Z"), skipped),
            (ts("2026-11-23T00:40:00Z"), ran(2)),
        ]
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn overlap_queue_holds_one_slot_and_starts_it_when_the_running_one_finishes() {
    let (_dir, path) = db();
    let mut spec = job("j", "*/10 * * * *");
    spec.overlap = OverlapPolicy::Queue;
    let d = boot(&path, "2026-11-23T00:00:00Z", vec![spec], options(100), 1).await;
    d.run_until("2026-11-23T00:35:00Z").await;
    assert_eq!(d.dispatcher.started().len(), 1);
    assert!(d.view("j").await.queued);
    // The queue is full: run-now is refused.
    let err = d.handle.run_now(&name("j"), "alice").await.unwrap_err();
    assert!(
        matches!(err, SchedulerError::AlreadyRunning { queued: true, .. }),
        "{err:?}"
    );

    d.handle
        .dispatch_finished(&name("j"), DispatchId(1))
        .await
        .unwrap();
    let started = d.dispatcher.started();
    assert_eq!(started.len(), 2);
    assert_eq!(
        started[1].request.slot,
        Some(ts("2026-11-23T00:20:00Z")),
        "the queued slot runs"
    );
    assert_eq!(started[1].request.trigger, Trigger::Schedule);
    assert_eq!(started[1].at, ts("2026-11-23T00:35:00Z"));
    assert_eq!(
        d.ledger("j").await,
        vec![
            (ts("2026-11-23T00:10:00Z"), ran(1)),
            (
                ts("2026-11-23T00:20:00Z"),
                SlotDecision::Queued {
                    dispatch: Some(DispatchId(2))
                }
            ),
            (
                ts("2026-11-23T00:30:00Z"),
                SlotDecision::SkippedOverlap {
                    running: DispatchId(1)
                }
            ),
        ]
    );
    // Run-now with the same rule: queued behind dispatch 2, started as manual when it ends.
    assert_eq!(
        d.handle.run_now(&name("j"), "alice").await.unwrap(),
        RunNow::Queued {
            behind: DispatchId(2)
        }
    );
    d.handle
        .dispatch_finished(&name("j"), DispatchId(2))
        .await
        .unwrap();
    let third = d.dispatcher.started()[2].clone();
    assert_eq!(
        (third.request.trigger, third.request.slot),
        (Trigger::Manual, None)
    );
    assert_eq!(third.request.who.as_deref(), Some("alice"));
    d.handle
        .dispatch_finished(&name("j"), DispatchId(3))
        .await
        .unwrap();
    assert_eq!(
        d.handle.run_now(&name("j"), "bob").await.unwrap(),
        RunNow::Started(DispatchId(4))
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slots_missed_while_down_are_recorded_and_skipped_by_default() {
    let (_dir, path) = db();
    let mut d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("j", "0 * * * *")],
        options(100),
        1,
    )
    .await;
    d.auto_finish();
    d.run_until("2026-11-23T01:30:00Z").await;
    d.stop().await;
    // Down from 01:30 to 05:30: 02:00, 03:00, 04:00, 05:00 are missed.
    let d = boot(
        &path,
        "2026-11-23T05:30:00Z",
        vec![job("j", "0 * * * *")],
        options(100),
        10,
    )
    .await;
    assert!(
        d.dispatcher.started().is_empty(),
        "skip policy: no catch-up"
    );
    let ledger = d.ledger("j").await;
    let mut want = vec![(ts("2026-11-23T01:00:00Z"), ran(1))];
    for h in 2..=5 {
        want.push((ts(&format!("2026-11-23T0{h}:00:00Z")), SlotDecision::Missed));
    }
    assert_eq!(ledger, want);
    let v = d.view("j").await;
    assert_eq!(v.next_dispatch, Some(ts("2026-11-23T06:00:00Z")));
    assert_eq!(
        v.last_dispatch.map(|l| l.id),
        Some(DispatchId(1)),
        "last dispatch survives the restart"
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn run_once_catches_up_with_one_dispatch_for_the_latest_missed_slot() {
    let (_dir, path) = db();
    let mut spec = job("j", "0 * * * *");
    spec.missed = MissedPolicy::RunOnce;
    let d = boot(
        &path,
        "2026-11-23T00:30:00Z",
        vec![spec.clone()],
        options(100),
        1,
    )
    .await;
    d.stop().await;
    let d = boot(&path, "2026-11-23T03:30:00Z", vec![spec], options(100), 7).await;
    let started = d.dispatcher.started();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].request.trigger, Trigger::CatchUp);
    assert_eq!(started[0].request.slot, Some(ts("2026-11-23T03:00:00Z")));
    assert_eq!(
        d.ledger("j").await,
        vec![
            (ts("2026-11-23T01:00:00Z"), SlotDecision::Missed),
            (ts("2026-11-23T02:00:00Z"), SlotDecision::Missed),
            (
                ts("2026-11-23T03:00:00Z"),
                SlotDecision::CaughtUp {
                    dispatch: DispatchId(7)
                }
            ),
        ]
    );
    // The catch-up dispatch counts as running: the 04:00 slot overlaps it.
    d.run_until("2026-11-23T04:00:01Z").await;
    assert_eq!(
        d.ledger("j").await[3],
        (
            ts("2026-11-23T04:00:00Z"),
            SlotDecision::SkippedOverlap {
                running: DispatchId(7)
            }
        )
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_long_outage_of_a_per_second_job_is_bounded_in_the_ledger() {
    let (_dir, path) = db();
    let mut spec = job("tick", "* * * * * *");
    let d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![spec.clone()],
        options(5),
        1,
    )
    .await;
    d.stop().await;
    // Down for two hours: 7200 missed slots, 5 recorded one by one and one summary.
    let d = boot(
        &path,
        "2026-11-23T02:00:00Z",
        vec![spec.clone()],
        options(5),
        1,
    )
    .await;
    let ledger = d.ledger("tick").await;
    assert_eq!(ledger.len(), 6);
    for (i, (slot, decision)) in ledger[..5].iter().enumerate() {
        assert_eq!(
            *slot,
            ts("2026-11-23T00:00:00Z")
                .checked_add(jiff::SignedDuration::from_secs(i as i64 + 1))
                .unwrap()
        );
        assert_eq!(*decision, SlotDecision::Missed);
    }
    assert_eq!(
        ledger[5],
        (
            ts("2026-11-23T00:00:06Z"),
            SlotDecision::Summary {
                kind: GapKind::Missed,
                count: 7200 - 5,
                last: ts("2026-11-23T02:00:00Z")
            }
        )
    );
    d.stop().await;
    // With run-once, the summary stops one short and the last slot is caught up.
    spec.missed = MissedPolicy::RunOnce;
    let d = boot(&path, "2026-11-23T03:00:00Z", vec![spec], options(5), 50).await;
    let ledger = d
        .handle
        .slots(&name("tick"), ts("2026-11-23T02:00:01Z"), usize::MAX)
        .await
        .unwrap();
    let tail: Vec<_> = ledger
        .iter()
        .skip(5)
        .map(|r| (r.slot, r.decision.clone()))
        .collect();
    assert_eq!(
        tail,
        vec![
            (
                ts("2026-11-23T02:00:06Z"),
                SlotDecision::Summary {
                    kind: GapKind::Missed,
                    count: 3600 - 6,
                    last: ts("2026-11-23T02:59:59Z")
                }
            ),
            (
                ts("2026-11-23T03:00:00Z"),
                SlotDecision::CaughtUp {
                    dispatch: DispatchId(50)
                }
            ),
        ]
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn disable_and_enable_record_who_why_and_the_skipped_slots() {
    let (_dir, path) = db();
    let d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("j", "0 * * * *")],
        options(100),
        1,
    )
    .await;
    d.run_until("2026-11-23T00:30:00Z").await;
    let v = d
        .handle
        .disable(&name("j"), "alice", Some("db maintenance".into()), None)
        .await
        .unwrap();
    let pause = Pause {
        by: "alice".into(),
        at: ts("2026-11-23T00:30:00Z"),
        reason: Some("db maintenance".into()),
        until: None,
    };
    assert_eq!(v.state, JobState::Disabled(pause));
    assert_eq!(
        v.next_dispatch, None,
        "paused without expiry: nothing is next"
    );
    let err = d
        .handle
        .disable(&name("j"), "alice", None, Some(ts("2026-11-23T00:00:00Z")))
        .await
        .unwrap_err();
    assert!(matches!(err, SchedulerError::UntilInPast { .. }), "{err:?}");

    d.run_until("2026-11-23T03:10:00Z").await;
    assert!(
        d.dispatcher.started().is_empty(),
        "no dispatch while disabled"
    );
    let v = d
        .handle
        .enable(&name("j"), "bob", Some("done".into()))
        .await
        .unwrap();
    assert_eq!(v.state, JobState::Active);
    assert_eq!(v.next_dispatch, Some(ts("2026-11-23T04:00:00Z")));
    let err = d.handle.enable(&name("j"), "bob", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            SchedulerError::NoChange {
                state: "active",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        d.ledger("j").await,
        vec![
            (ts("2026-11-23T01:00:00Z"), SlotDecision::SkippedDisabled),
            (ts("2026-11-23T02:00:00Z"), SlotDecision::SkippedDisabled),
            (ts("2026-11-23T03:00:00Z"), SlotDecision::SkippedDisabled),
        ]
    );
    let history: Vec<_> = d
        .handle
        .history(&name("j"))
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.by, c.from, c.to, c.reason, c.at))
        .collect();
    assert_eq!(
        history,
        vec![
            (
                "config".into(),
                None,
                StateKind::Active,
                Some("first seen".into()),
                ts("2026-11-23T00:00:00Z")
            ),
            (
                "alice".into(),
                Some(StateKind::Active),
                StateKind::Disabled,
                Some("db maintenance".into()),
                ts("2026-11-23T00:30:00Z")
            ),
            (
                "bob".into(),
                Some(StateKind::Disabled),
                StateKind::Active,
                Some("done".into()),
                ts("2026-11-23T03:10:00Z")
            ),
        ]
    );
    d.run_until("2026-11-23T04:00:01Z").await;
    assert_eq!(d.dispatcher.slots(), vec![Some(ts("2026-11-23T04:00:00Z"))]);
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_pause_with_expiry_resumes_by_itself_and_the_slot_at_expiry_runs() {
    let (_dir, path) = db();
    let d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("j", "0 * * * *")],
        options(100),
        1,
    )
    .await;
    let until = ts("2026-11-23T02:00:00Z");
    let v = d
        .handle
        .disable(&name("j"), "alice", None, Some(until))
        .await
        .unwrap();
    assert_eq!(
        v.next_dispatch,
        Some(until),
        "next is the first slot at or after the expiry"
    );
    d.run_until("2026-11-23T02:00:01Z").await;
    assert_eq!(d.view("j").await.state, JobState::Active);
    assert_eq!(d.dispatcher.slots(), vec![Some(until)]);
    assert_eq!(
        d.ledger("j").await,
        vec![
            (ts("2026-11-23T01:00:00Z"), SlotDecision::SkippedDisabled),
            (until, ran(1))
        ]
    );
    let last = d.handle.history(&name("j")).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.by.as_str(), last.at, last.to),
        ("mld", until, StateKind::Active)
    );
    assert_eq!(last.reason.as_deref(), Some("pause expired"));
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_persisted_state_survives_a_restart_and_beats_the_config() {
    let (_dir, path) = db();
    let mut off = job("off", "0 * * * *");
    off.enabled = false;
    let jobs = vec![job("on", "0 * * * *"), off];
    let d = boot(&path, "2026-11-23T00:00:00Z", jobs.clone(), options(100), 1).await;
    match d.view("off").await.state {
        JobState::Disabled(p) => assert_eq!(p.by, "config"),
        s => panic!("{s:?}"),
    }
    d.handle
        .disable(&name("on"), "alice", Some("quarterly close".into()), None)
        .await
        .unwrap();
    d.handle.enable(&name("off"), "bob", None).await.unwrap();
    d.stop().await;

    // Same config, new daemon on the same file, two hours later.
    let d = boot(&path, "2026-11-23T02:30:00Z", jobs, options(100), 1).await;
    match d.view("on").await.state {
        JobState::Disabled(p) => {
            assert_eq!(
                (p.by.as_str(), p.reason.as_deref()),
                ("alice", Some("quarterly close"))
            );
            assert_eq!(p.at, ts("2026-11-23T00:00:00Z"));
        }
        s => panic!("{s:?}"),
    }
    assert_eq!(d.view("off").await.state, JobState::Active);
    // While down: the disabled job's slots were skipped (disabled), the active one's missed.
    let skipped = SlotDecision::SkippedDisabled;
    assert_eq!(
        d.ledger("on").await,
        vec![
            (ts("2026-11-23T01:00:00Z"), skipped.clone()),
            (ts("2026-11-23T02:00:00Z"), skipped)
        ]
    );
    assert_eq!(
        d.ledger("off").await,
        vec![
            (ts("2026-11-23T01:00:00Z"), SlotDecision::Missed),
            (ts("2026-11-23T02:00:00Z"), SlotDecision::Missed)
        ]
    );
    // History was not rewritten by the restart.
    assert_eq!(d.handle.history(&name("on")).await.unwrap().len(), 2);
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_pause_that_expired_while_down_splits_the_gap() {
    let (_dir, path) = db();
    let d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("j", "0 * * * *")],
        options(100),
        1,
    )
    .await;
    d.handle
        .disable(&name("j"), "alice", None, Some(ts("2026-11-23T02:00:00Z")))
        .await
        .unwrap();
    d.stop().await;
    let d = boot(
        &path,
        "2026-11-23T03:30:00Z",
        vec![job("j", "0 * * * *")],
        options(100),
        1,
    )
    .await;
    assert_eq!(d.view("j").await.state, JobState::Active);
    assert_eq!(
        d.ledger("j").await,
        vec![
            (ts("2026-11-23T01:00:00Z"), SlotDecision::SkippedDisabled),
            (ts("2026-11-23T02:00:00Z"), SlotDecision::Missed),
            (ts("2026-11-23T03:00:00Z"), SlotDecision::Missed),
        ]
    );
    let last = d.handle.history(&name("j")).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.by.as_str(), last.at),
        ("mld", ts("2026-11-23T02:00:00Z"))
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_slot_queued_when_the_daemon_stopped_is_recorded_as_missed() {
    let (_dir, path) = db();
    let mut spec = job("j", "*/10 * * * *");
    spec.overlap = OverlapPolicy::Queue;
    let d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![spec.clone()],
        options(100),
        1,
    )
    .await;
    d.run_until("2026-11-23T00:25:00Z").await;
    d.stop().await;
    let d = boot(&path, "2026-11-23T00:25:00Z", vec![spec], options(100), 5).await;
    assert_eq!(
        d.ledger("j").await,
        vec![
            (ts("2026-11-23T00:10:00Z"), ran(1)),
            (ts("2026-11-23T00:20:00Z"), SlotDecision::Missed)
        ]
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_invalid_job_is_reported_and_the_others_keep_running() {
    let (_dir, path) = db();
    let mut bad_tz = job("bad-tz", "0 * * * *");
    bad_tz.timezone = Some("Mars/Olympus".into());
    let jobs = vec![job("bad", "61 * * * *"), bad_tz, job("good", "0 * * * *")];
    let mut d = boot(&path, "2026-11-23T00:00:00Z", jobs, options(100), 1).await;
    d.auto_finish();
    match d.view("bad").await.state {
        JobState::Invalid { reason } => assert!(
            reason.starts_with("invalid cron expression \"61 * * * *\": "),
            "{reason}"
        ),
        s => panic!("{s:?}"),
    }
    match d.view("bad-tz").await.state {
        JobState::Invalid { reason } => assert!(
            reason.contains("unknown timezone \"Mars/Olympus\""),
            "{reason}"
        ),
        s => panic!("{s:?}"),
    }
    assert_eq!(d.view("bad").await.next_dispatch, None);
    for r in [
        d.handle.run_now(&name("bad"), "alice").await.map(|_| ()),
        d.handle
            .disable(&name("bad"), "alice", None, None)
            .await
            .map(|_| ()),
        d.handle
            .enable(&name("bad-tz"), "alice", None)
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(r, Err(SchedulerError::JobInvalid { .. })), "{r:?}");
    }
    d.run_until("2026-11-23T02:00:01Z").await;
    let jobs: Vec<_> = d
        .dispatcher
        .started()
        .iter()
        .map(|s| s.request.job.clone())
        .collect();
    assert_eq!(jobs, vec![name("good"), name("good")]);
    assert!(d.ledger("bad").await.is_empty());
    assert!(matches!(
        d.handle
            .slots(&name("nope"), Timestamp::UNIX_EPOCH, 10)
            .await,
        Err(SchedulerError::UnknownJob(_))
    ));
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_dispatch_that_cannot_start_is_recorded_and_the_job_goes_on() {
    let (_dir, path) = db();
    let mut d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("j", "0 * * * *")],
        options(100),
        1,
    )
    .await;
    d.auto_finish();
    d.dispatcher.fail.store(true, Ordering::SeqCst);
    d.run_until("2026-11-23T01:00:01Z").await;
    let err = d.handle.run_now(&name("j"), "alice").await.unwrap_err();
    assert!(matches!(err, SchedulerError::Start { .. }), "{err:?}");
    d.dispatcher.fail.store(false, Ordering::SeqCst);
    d.run_until("2026-11-23T02:00:01Z").await;
    assert_eq!(
        d.ledger("j").await,
        vec![
            (
                ts("2026-11-23T01:00:00Z"),
                SlotDecision::StartFailed {
                    reason: "event log is full".into()
                }
            ),
            (ts("2026-11-23T02:00:00Z"), ran(1)),
        ]
    );
    assert_eq!(d.view("j").await.running, None);
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn run_now_works_on_a_disabled_job_and_names_who_asked() {
    let (_dir, path) = db();
    let d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("j", "0 2 * * *")],
        options(100),
        1,
    )
    .await;
    d.handle
        .disable(&name("j"), "alice", None, None)
        .await
        .unwrap();
    assert_eq!(
        d.handle.run_now(&name("j"), "bob").await.unwrap(),
        RunNow::Started(DispatchId(1))
    );
    let s = d.dispatcher.started().pop().unwrap();
    assert_eq!(
        s.request,
        DispatchRequest {
            job: name("j"),
            trigger: Trigger::Manual,
            slot: None,
            who: Some("bob".into())
        }
    );
    let v = d.view("j").await;
    assert_eq!(
        (v.running, v.last_dispatch.map(|l| l.trigger)),
        (Some(DispatchId(1)), Some(Trigger::Manual))
    );
    d.stop().await;
}

/// Writes a dispatch row for `slot` as an older mld could leave it: created,
/// and the daemon died before the slot's decision was committed apart.
async fn orphan_dispatch(path: &Path, job: &str, slot: &str) -> DispatchId {
    let log = crate::eventlog::EventLog::open(path).unwrap();
    let new = crate::dispatch::record::NewDispatch {
        job: job.into(),
        trigger: Trigger::Schedule,
        requested_by: "scheduler".into(),
        slot: Some(ts(slot)),
        model: "m".into(),
        model_version: "1".into(),
        model_hash: "h".into(),
    };
    log.write(move |tx| crate::dispatch::store::create(tx, &new, ts("2026-11-23T01:00:00Z")))
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_slot_that_already_has_a_dispatch_is_never_run_again_by_a_catch_up() {
    let (_dir, path) = db();
    let mut spec = job("j", "0 * * * *");
    spec.missed = MissedPolicy::RunOnce;
    let d = boot(
        &path,
        "2026-11-23T00:30:00Z",
        vec![spec.clone()],
        options(100),
        1,
    )
    .await;
    d.stop().await;
    // The 01:00 slot's dispatch exists, its decision does not.
    let orphan = orphan_dispatch(&path, "j", "2026-11-23T01:00:00Z").await;
    let d = boot(
        &path,
        "2026-11-23T01:30:00Z",
        vec![spec.clone()],
        options(100),
        50,
    )
    .await;
    assert!(
        d.dispatcher.started().is_empty(),
        "the served slot was caught up again: {:?}",
        d.dispatcher.started()
    );
    assert_eq!(
        d.ledger("j").await,
        vec![(
            ts("2026-11-23T01:00:00Z"),
            SlotDecision::Ran { dispatch: orphan }
        )]
    );
    d.stop().await;
    // Later slots missed after it are still caught up, once.
    let d = boot(&path, "2026-11-23T03:30:00Z", vec![spec], options(100), 60).await;
    assert_eq!(d.dispatcher.slots(), vec![Some(ts("2026-11-23T03:00:00Z"))]);
    assert_eq!(
        d.ledger("j").await[1..],
        [
            (ts("2026-11-23T02:00:00Z"), SlotDecision::Missed),
            (
                ts("2026-11-23T03:00:00Z"),
                SlotDecision::CaughtUp {
                    dispatch: DispatchId(60)
                }
            ),
        ]
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_started_dispatch_carries_its_slot_decision_and_the_jobs_state_to_the_dispatcher() {
    let (_dir, path) = db();
    let mut d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("j", "0 * * * *")],
        options(100),
        1,
    )
    .await;
    d.auto_finish();
    d.run_until("2026-11-23T01:00:01Z").await;
    // The dispatcher wrote the scheduler's record for dispatch 1 itself (the
    // daemon's does, in the transaction that creates the dispatch).
    assert_eq!(
        d.ledger("j").await,
        vec![(ts("2026-11-23T01:00:00Z"), ran(1))]
    );
    // Read off the runtime: a blocking task holds the paused clock still,
    // so no later slot fires meanwhile.
    let file = path.clone();
    let stored = tokio::task::spawn_blocking(move || {
        crate::eventlog::EventLog::open(&file)
            .unwrap()
            .read_blocking(|c| store::load_job(c, &name("j")))
    })
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(
        (stored.accounted_until, stored.last_dispatch.map(|l| l.id)),
        (ts("2026-11-23T01:00:00Z"), Some(DispatchId(1)))
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_adds_removes_and_changes_jobs_at_once_and_records_each_in_its_history() {
    let (_dir, path) = db();
    let mut c = job("c", "0 * * * *");
    c.overlap = OverlapPolicy::Skip;
    let mut d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("a", "0 * * * *"), job("b", "30 * * * *"), c.clone()],
        options(100),
        1,
    )
    .await;
    d.auto_finish();
    d.run_until("2026-11-23T01:10:00Z").await;

    // a: every hour at :15 from now on; b: gone; c: queues; d: new.
    let a = job("a", "15 * * * *");
    let mut c2 = c.clone();
    c2.overlap = OverlapPolicy::Queue;
    let report = d
        .handle
        .reload(
            vec![a, c2, job("d", "45 * * * *")],
            vec![(name("c"), vec!["query changed".into()])],
            "alice",
        )
        .await
        .unwrap();
    assert_eq!(
        report,
        vec![
            JobReload::Removed(name("b")),
            JobReload::Changed {
                job: name("a"),
                what: vec![r#"schedule "0 * * * *" → "15 * * * *""#.into()]
            },
            JobReload::Changed {
                job: name("c"),
                what: vec!["overlap skip → queue".into(), "query changed".into()]
            },
            JobReload::Added(name("d")),
        ]
    );
    let names: Vec<JobName> = d
        .handle
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, vec![name("a"), name("c"), name("d")]);
    assert_eq!(
        d.view("a").await.next_dispatch,
        Some(ts("2026-11-23T01:15:00Z"))
    );
    assert_eq!(d.view("c").await.overlap, OverlapPolicy::Queue);

    d.run_until("2026-11-23T02:20:00Z").await;
    let ledger =
        |l: Vec<(Timestamp, SlotDecision)>| l.into_iter().map(|(t, _)| t).collect::<Vec<_>>();
    // The new schedule took over at once; the old one's 02:00 never fired.
    assert_eq!(
        ledger(d.ledger("a").await),
        vec![
            ts("2026-11-23T01:00:00Z"),
            ts("2026-11-23T01:15:00Z"),
            ts("2026-11-23T02:15:00Z")
        ]
    );
    // The removed job stopped: no 01:30 slot.
    assert_eq!(
        ledger(d.ledger("b").await),
        vec![ts("2026-11-23T00:30:00Z")]
    );
    assert_eq!(
        ledger(d.ledger("d").await),
        vec![ts("2026-11-23T01:45:00Z")]
    );

    let history = |h: Vec<StateChange>| {
        h.into_iter()
            .map(|c| (c.by, c.from, c.to, c.reason.unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    let active = StateKind::Active;
    assert_eq!(
        history(d.handle.history(&name("a")).await.unwrap())[1],
        (
            "alice".into(),
            Some(active),
            active,
            r#"changed by a configuration reload: schedule "0 * * * *" → "15 * * * *""#.into()
        )
    );
    // A removed job's history still answers.
    assert_eq!(
        history(d.handle.history(&name("b")).await.unwrap())[1],
        (
            "alice".into(),
            Some(active),
            StateKind::Removed,
            "removed by a configuration reload".into()
        )
    );
    assert_eq!(
        history(d.handle.history(&name("d")).await.unwrap()),
        vec![(
            "alice".into(),
            None,
            active,
            "first seen: added by a configuration reload".into()
        )]
    );
    assert!(matches!(
        d.handle.history(&name("never")).await,
        Err(SchedulerError::UnknownJob(_))
    ));

    // b comes back: its time out of the configuration is no gap to account for.
    d.handle
        .reload(
            vec![job("a", "15 * * * *"), job("b", "30 * * * *")],
            vec![],
            "SIGHUP",
        )
        .await
        .unwrap();
    d.run_until("2026-11-23T02:40:00Z").await;
    assert_eq!(
        ledger(d.ledger("b").await),
        vec![ts("2026-11-23T00:30:00Z"), ts("2026-11-23T02:30:00Z")]
    );
    let back = history(d.handle.history(&name("b")).await.unwrap());
    assert_eq!(
        back.last().unwrap(),
        &(
            "SIGHUP".into(),
            Some(StateKind::Removed),
            active,
            "added back by a configuration reload".into()
        )
    );
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_that_retimes_a_paused_job_skips_its_old_slots_and_drops_a_removed_jobs_queue() {
    let (_dir, path) = db();
    let mut q = job("q", "0 * * * *");
    q.overlap = OverlapPolicy::Queue;
    let d = boot(
        &path,
        "2026-11-23T00:00:00Z",
        vec![job("p", "0 * * * *"), q],
        options(100),
        1,
    )
    .await;
    d.handle
        .disable(&name("p"), "alice", None, None)
        .await
        .unwrap();
    // q's 01:00 dispatch never finishes; its 02:00 slot queues.
    d.run_until("2026-11-23T02:20:00Z").await;
    assert!(d.view("q").await.queued);
    d.handle
        .reload(vec![job("p", "30 * * * *")], vec![], "alice")
        .await
        .unwrap();
    // The paused job's old-schedule slots so far are skipped (disabled).
    let skipped = SlotDecision::SkippedDisabled;
    assert_eq!(
        d.ledger("p").await,
        vec![
            (ts("2026-11-23T01:00:00Z"), skipped.clone()),
            (ts("2026-11-23T02:00:00Z"), skipped.clone())
        ]
    );
    // Resumed at 03:40: the new schedule's 02:30 and 03:30 fell while paused.
    d.run_until("2026-11-23T03:40:00Z").await;
    d.handle.enable(&name("p"), "bob", None).await.unwrap();
    assert_eq!(
        d.ledger("p").await[2..],
        [
            (ts("2026-11-23T02:30:00Z"), skipped.clone()),
            (ts("2026-11-23T03:30:00Z"), skipped)
        ]
    );
    assert_eq!(
        d.view("p").await.next_dispatch,
        Some(ts("2026-11-23T04:30:00Z"))
    );
    // The removed job's queued slot will never run, and says so.
    assert_eq!(
        d.ledger("q").await[1],
        (
            ts("2026-11-23T02:00:00Z"),
            SlotDecision::StartFailed {
                reason: "the job was removed by a configuration reload".into()
            }
        )
    );
    d.stop().await;
}
