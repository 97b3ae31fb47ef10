//! The real `mld` killed with SIGKILL — by its test-only fault points
//! (`MLD_FAULT`, compiled in for these tests only) — at every step boundary
//! of a scheduled dispatch and in the middle of its write-back, on the
//! built-in SQLite datalake, SQLite through ODBC, PostgreSQL through
//! psqlODBC and MariaDB through MariaDB Connector/ODBC; then 100 dispatches
//! with kills at seeded random points.
//!
//! After every restart the dispatch is settled as SPEC.md and the issue say:
//! killed before all its predictions were stored → `interrupted`, nothing in
//! the results table; during or after its write-back → counted in the
//! results table and `succeeded` (all there), or written again from the
//! stored predictions under the same id; and in every case the results table
//! holds each dispatch's rows exactly once or not at all, the counts
//! reconcile, and the slot ledger has exactly one decision for every slot.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mld_shared::ids::JobName;
use mld_shared::protocol::{ErrorKind, Request, Response};
use mld_shared::time::WireTime;
use mld_tests::client::Client;
use mld_tests::lake::Backend;
use mld_tests::process::bin;
use mld_tests::scoring::*;

/// Rows per dispatch: 6 batches of 100 read, stored and written back (6
/// pages from the event log when settled).
const ROWS: usize = 600;
const BATCH: usize = 100;
/// A slot every 2 seconds.
const EVERY_MS: i64 = 2000;
/// How long an armed fault may take to fire (a slot, a start, a dispatch):
/// generous, for loaded machines; it only bounds a failing test.
const FAULT_WITHIN: Duration = Duration::from_secs(120);

/// A datalake with the rows, the results table, the model and a daemon
/// configuration whose one job runs every two seconds (run-once catch-up).
struct Setup {
    dl: DaemonLake,
    labels: Vec<String>,
    version: String,
    config: PathBuf,
    socket: PathBuf,
    events: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn new(backend: Backend, hint: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let dl = DaemonLake::new(backend, dir.path(), hint);
        create_big_iris(&dl, ROWS);
        create_results_table(&dl.lake, "scores");
        let model = iris_model(&registry_dir(dir.path()));
        let job = format!(
            "[[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\n\
             query = \"SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_big\"\n\
             key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"*/2 * * * * *\"\n\
             timezone = \"UTC\"\nmissed = \"run-once\"\nbatch_size = {BATCH}\n"
        );
        let config = write_config(dir.path(), &dl.toml, &job);
        Setup {
            labels: model.labels().to_vec(),
            version: model.meta().version.to_string(),
            socket: dir.path().join("mld.sock"),
            events: dir.path().join("state/events.db"),
            stderr: dir.path().join("mld.stderr.log"),
            config,
            dl,
            _dir: dir,
        }
    }

    /// Starts `mld`; with `fault`, armed to kill itself there.
    fn spawn(&self, fault: Option<&str>) -> Life {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .unwrap();
        let mut cmd = Command::new(bin("mld"));
        cmd.arg("--config")
            .arg(&self.config)
            .env_remove("MLD_FAULT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(f) = fault {
            cmd.env("MLD_FAULT", f);
        }
        Life {
            child: cmd.spawn().expect("spawn mld"),
            fault: fault.map(str::to_string),
            stderr: self.stderr.clone(),
        }
    }

    /// Waits for the socket; `None` when the process died first (a fault
    /// point can fire while the daemon settles or catches up at start).
    async fn connect(&self, life: &mut Life) -> Option<Client> {
        // Generous: a loaded CI machine can take long to start a debug build.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok()
                && let Ok(c) = Client::connect(&self.socket).await
            {
                return Some(c);
            }
            if life.exited().is_some() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "mld did not listen:\n{}",
                life.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A clean life: start, stop scheduling, let every dispatch finish
    /// (settlements included), stop gracefully. Then everything is checked.
    async fn settle_and_check(&self) -> State {
        let mut life = self.spawn(None);
        let mut c = self.connect(&mut life).await.expect("a clean start");
        disable(&mut c).await;
        wait_all_finished(&mut c, &life).await;
        drop(c);
        life.terminate();
        let state = State::read(&self.events);
        state.assert_consistent(self);
        state
    }

    fn results(&self) -> BTreeMap<i64, Vec<ResultRead>> {
        let mut by: BTreeMap<i64, Vec<ResultRead>> = BTreeMap::new();
        for r in read_results(&self.dl.lake, "scores", &self.labels, &[&self.version]) {
            by.entry(r.dispatch_id).or_default().push(r);
        }
        by
    }
}

struct Life {
    child: Child,
    fault: Option<String>,
    stderr: PathBuf,
}

impl Life {
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the armed fault point to kill the process.
    fn killed_by_fault(mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.exited() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "fault {:?} never fired:\n{}",
                self.fault,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(
            status.signal(),
            Some(nix::sys::signal::Signal::SIGKILL as i32),
            "mld with MLD_FAULT={:?} should have died by SIGKILL ({status}); \
             was it built without the fault-points feature? run `cargo test --workspace`\n{}",
            self.fault,
            self.log()
        );
        assert!(
            self.log().contains("fault point"),
            "no fault point message:\n{}",
            self.log()
        );
    }

    /// SIGKILL from outside, at whatever it is doing.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; a graceful stop exits 0.
    fn terminate(mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.exited() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "no graceful stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "graceful stop: {status}\n{}", self.log());
    }
}

impl Drop for Life {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn disable(c: &mut Client) {
    let r = c
        .request(Request::DisableJob {
            job: JobName("score".into()),
            reason: Some("crash test: checking".into()),
            until: None,
        })
        .await;
    match r {
        Ok(Response::JobChanged(_)) => {}
        Err(e) if e.kind == ErrorKind::Conflict => {}
        other => panic!("disable: {other:?}"),
    }
}

async fn dispatches(c: &mut Client) -> Vec<mld_shared::protocol::DispatchSummary> {
    let now = jiff::Timestamp::now();
    match c
        .request(Request::Dispatches {
            from: WireTime::from(jiff::Timestamp::UNIX_EPOCH),
            to: WireTime::from(
                now.checked_add(jiff::SignedDuration::from_hours(1))
                    .unwrap(),
            ),
            job: None,
            limit: 10_000,
        })
        .await
    {
        Ok(Response::Dispatches(d)) => d,
        other => panic!("dispatches: {other:?}"),
    }
}

async fn wait_all_finished(c: &mut Client, life: &Life) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let open: Vec<_> = dispatches(c)
            .await
            .into_iter()
            .filter(|d| !d.status.is_finished())
            .collect();
        if open.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "dispatches never finished: {open:?}\n{}",
            life.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One dispatch as the event log keeps it.
#[derive(Debug, Clone)]
struct Dispatch {
    id: i64,
    status: String,
    trigger: String,
    slot: Option<i64>,
    error: Option<String>,
    collected: u64,
    predicted: u64,
    unscorable: u64,
    stored: u64,
    inserted: u64,
    /// (step, rows, message), in order.
    events: Vec<(String, Option<i64>, Option<String>)>,
}

impl Dispatch {
    fn steps(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.0.as_str()).collect()
    }

    fn message(&self, step: &str) -> String {
        self.events
            .iter()
            .rev()
            .find(|e| e.0 == step)
            .and_then(|e| e.2.clone())
            .unwrap_or_default()
    }
}

/// A ledger row: decision, dispatch id, summary count, summary last slot (ms).
type Decision = (String, Option<i64>, Option<i64>, Option<i64>);

/// The event log read after a graceful stop, straight from the file.
struct State {
    dispatches: Vec<Dispatch>,
    /// By slot (ms).
    ledger: BTreeMap<i64, Decision>,
    first_seen_ms: i64,
    accounted_until_ms: i64,
}

impl State {
    fn read(path: &Path) -> State {
        let c =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut dispatches: Vec<Dispatch> = c
            .prepare(
                "SELECT id, status, trigger, slot, error, rows_collected, rows_predicted, rows_unscorable,
                        rows_stored, rows_inserted FROM dispatches ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok(Dispatch {
                    id: r.get(0)?,
                    status: r.get(1)?,
                    trigger: r.get(2)?,
                    slot: r.get(3)?,
                    error: r.get(4)?,
                    collected: r.get::<_, i64>(5)? as u64,
                    predicted: r.get::<_, i64>(6)? as u64,
                    unscorable: r.get::<_, i64>(7)? as u64,
                    stored: r.get::<_, i64>(8)? as u64,
                    inserted: r.get::<_, i64>(9)? as u64,
                    events: vec![],
                })
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for d in &mut dispatches {
            d.events = c
                .prepare(
                    "SELECT step, rows, message FROM dispatch_events WHERE dispatch_id = ?1 ORDER BY seq",
                )
                .unwrap()
                .query_map([d.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        }
        let ledger = c
            .prepare(
                "SELECT slot_ms, decision, dispatch_id, slot_count, last_slot_ms FROM slot_decisions
                 WHERE job = 'score'",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let first_seen_ms = c
            .query_row(
                "SELECT at_ms FROM schedule_changes WHERE job = 'score' ORDER BY id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let accounted_until_ms = c
            .query_row(
                "SELECT accounted_until_ms FROM job_states WHERE job = 'score'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        State {
            dispatches,
            ledger,
            first_seen_ms,
            accounted_until_ms,
        }
    }

    fn get(&self, id: i64) -> &Dispatch {
        self.dispatches
            .iter()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("no dispatch {id}: {:?}", self.dispatches))
    }

    /// What must hold whatever was killed where.
    fn assert_consistent(&self, setup: &Setup) {
        let results = setup.results();
        for d in &self.dispatches {
            assert!(
                ["succeeded", "failed", "cancelled", "interrupted"].contains(&d.status.as_str()),
                "dispatch left open: {d:?}"
            );
            let rows = results.get(&d.id).map(Vec::len).unwrap_or(0);
            // Exactly once or not at all.
            if d.status == "succeeded" {
                assert_eq!(
                    (d.collected, d.predicted, d.unscorable, d.stored, d.inserted),
                    (ROWS as u64, ROWS as u64, 0, ROWS as u64, ROWS as u64),
                    "counts reconcile: {d:?}"
                );
                assert_eq!(rows, ROWS, "dispatch {} has {rows} result rows", d.id);
                let keys: BTreeSet<&str> =
                    results[&d.id].iter().map(|r| r.row_key.as_str()).collect();
                assert_eq!(keys.len(), ROWS, "no duplicate keys in dispatch {}", d.id);
                assert!(
                    results[&d.id]
                        .iter()
                        .all(|r| r.label != "<unexpected>" && r.model_version == setup.version),
                    "rows as predicted: {d:?}"
                );
            } else {
                assert_eq!(rows, 0, "an unsucceeded dispatch left rows: {d:?}");
                assert_eq!(d.inserted, 0, "{d:?}");
            }
            // Nothing lost: a dispatch that stored all its predictions ends succeeded.
            if d.steps().contains(&"stored") {
                assert_eq!(d.status, "succeeded", "stored but not written back: {d:?}");
            } else {
                assert_eq!(d.status, "interrupted", "{d:?}");
                assert!(
                    d.error
                        .as_deref()
                        .unwrap_or_default()
                        .contains("nothing was written to the results table"),
                    "{d:?}"
                );
            }
        }
        let total: usize = results.values().map(Vec::len).sum();
        let succeeded = self
            .dispatches
            .iter()
            .filter(|d| d.status == "succeeded")
            .count();
        assert_eq!(total, succeeded * ROWS, "rows of unknown dispatches");
        self.assert_ledger();
    }

    /// Every slot from the job's first start through the last one decided
    /// has exactly one decision; every scheduled dispatch is the decision of
    /// its slot, and no slot has two dispatches.
    fn assert_ledger(&self) {
        let mut covered: BTreeMap<i64, usize> = BTreeMap::new();
        for (slot, (kind, _, count, last)) in &self.ledger {
            if kind.ends_with("_summary") {
                let (count, last) = (count.unwrap(), last.unwrap());
                assert_eq!((last - slot) / EVERY_MS + 1, count, "summary {slot}");
                for s in (*slot..=last).step_by(EVERY_MS as usize) {
                    *covered.entry(s).or_default() += 1;
                }
            } else {
                *covered.entry(*slot).or_default() += 1;
            }
        }
        let first = (self.first_seen_ms / EVERY_MS + 1) * EVERY_MS;
        let expected: BTreeSet<i64> = (first..=self.accounted_until_ms)
            .step_by(EVERY_MS as usize)
            .collect();
        let got: BTreeSet<i64> = covered.keys().copied().collect();
        assert_eq!(
            got,
            expected,
            "slots without a decision: {:?}; decisions outside the job's time: {:?}",
            expected.difference(&got).collect::<Vec<_>>(),
            got.difference(&expected).collect::<Vec<_>>()
        );
        assert!(
            covered.values().all(|n| *n == 1),
            "a slot decided twice: {covered:?}"
        );
        let mut slots_served = BTreeSet::new();
        for d in self.dispatches.iter().filter(|d| d.slot.is_some()) {
            let slot = d.slot.unwrap();
            assert!(slots_served.insert(slot), "two dispatches for slot {slot}");
            let (kind, id, _, _) = self
                .ledger
                .get(&slot)
                .unwrap_or_else(|| panic!("dispatch {} has no decision for its slot", d.id));
            assert!(
                ["ran", "caught_up", "queued"].contains(&kind.as_str()) && *id == Some(d.id),
                "the decision of slot {slot} is {kind} {id:?}, not dispatch {}",
                d.id
            );
            let want = if d.trigger == "catch-up" {
                "caught_up"
            } else {
                "ran"
            };
            assert!(kind == want || kind == "queued", "{kind} for {d:?}");
        }
        for (slot, (kind, id, _, _)) in &self.ledger {
            if ["ran", "caught_up"].contains(&kind.as_str()) {
                let d = self.get(id.unwrap());
                assert_eq!(d.slot, Some(*slot), "{kind} names dispatch {}", d.id);
            }
        }
    }
}

/// How the first dispatch must end after a kill at `fault`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Killed before all its predictions were stored.
    Interrupted,
    /// During the write-back, before its commit: written again.
    Rewritten,
    /// After the commit: found complete in the results table.
    FoundAll,
    /// After its end: nothing to settle.
    Finished,
}

async fn matrix(backend: Backend) {
    let points = [
        ("dispatch.created", Expect::Interrupted),
        ("dispatch.started", Expect::Interrupted),
        ("dispatch.batch-stored@3", Expect::Interrupted),
        // The write-back runs alongside the reading: half written, nothing committed.
        ("dispatch.batch-written@3", Expect::Interrupted),
        ("dispatch.stored", Expect::Rewritten),
        ("dispatch.counted", Expect::Rewritten),
        ("dispatch.committed", Expect::FoundAll),
        ("dispatch.inserted", Expect::FoundAll),
        ("dispatch.finished", Expect::Finished),
    ];
    for (i, (fault, expect)) in points.iter().enumerate() {
        let setup = Setup::new(backend, &format!("crash{i}"));
        setup.spawn(Some(fault)).killed_by_fault(FAULT_WITHIN);
        let state = setup.settle_and_check().await;
        let d = state.get(1);
        let why = format!("{backend:?} killed at {fault}: {d:#?}");
        match expect {
            Expect::Interrupted => {
                assert_eq!(d.status, "interrupted", "{why}");
                assert_eq!(d.steps().last(), Some(&"finished"), "{why}");
                assert!(!d.steps().contains(&"resumed"), "{why}");
            }
            Expect::Rewritten | Expect::FoundAll => {
                assert_eq!(d.status, "succeeded", "{why}");
                assert!(
                    d.message("resumed").contains("settling at restart"),
                    "{why}"
                );
                let inserted = d.message("inserted");
                let said = if *expect == Expect::Rewritten {
                    "settled at restart: written again from the 600 stored predictions (the results table held 0"
                } else {
                    "settled at restart: the results table already holds all 600 rows"
                };
                assert!(inserted.contains(said), "{why}");
                let tail = &d.steps()[d.steps().len() - 3..];
                assert_eq!(tail, ["resumed", "inserted", "finished"], "{why}");
            }
            Expect::Finished => {
                assert_eq!(d.status, "succeeded", "{why}");
                assert!(!d.steps().contains(&"resumed"), "{why}");
            }
        }
        // The killed dispatch served a slot, and its decision says so.
        assert_eq!(d.trigger, "schedule", "{why}");
        assert_eq!(
            state.ledger[&d.slot.unwrap()].1,
            Some(1),
            "the slot's decision names the dispatch: {why}"
        );
    }

    // Killed again while settling, before and in the middle of writing
    // again from the stored predictions: each next start settles it again.
    let setup = Setup::new(backend, "crash-twice");
    setup
        .spawn(Some("dispatch.counted"))
        .killed_by_fault(FAULT_WITHIN);
    setup
        .spawn(Some("resume.counted"))
        .killed_by_fault(FAULT_WITHIN);
    setup
        .spawn(Some("dispatch.page-written@2"))
        .killed_by_fault(FAULT_WITHIN);
    let state = setup.settle_and_check().await;
    let d = state.get(1);
    assert_eq!(d.status, "succeeded", "{d:#?}");
    assert_eq!(
        d.steps().iter().filter(|s| **s == "resumed").count(),
        3,
        "{d:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_at_every_step_on_builtin_sqlite() {
    matrix(Backend::BuiltinSqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_at_every_step_on_sqlite_odbc() {
    matrix(Backend::SqliteOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_at_every_step_on_postgres_odbc() {
    matrix(Backend::PostgresOdbc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_at_every_step_on_mariadb_odbc() {
    matrix(Backend::MariaDbOdbc).await;
}

/// A small seeded generator (xorshift64*): the same kills on every run.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Where a kill can land, and how many times per dispatch it is passed.
const RANDOM_POINTS: [(&str, u64); 11] = [
    ("dispatch.created", 1),
    ("dispatch.started", 1),
    ("dispatch.batch-stored", (ROWS / BATCH) as u64),
    ("dispatch.batch-written", (ROWS / BATCH) as u64),
    ("dispatch.stored", 1),
    // Only while settling: a dispatch writes back as it reads.
    ("dispatch.page-written", (ROWS / BATCH) as u64),
    ("dispatch.counted", 1),
    ("dispatch.committed", 1),
    ("dispatch.inserted", 1),
    ("dispatch.finished", 1),
    ("resume.counted", 1),
];

/// Lives of the daemon, each armed with a random fault point (at a random
/// pass within its first few dispatches) or killed from outside at a random
/// moment, until 100 dispatches exist; slots fire every two seconds and
/// run-now fills the time between. Then one clean life settles everything.
async fn random_kills(backend: Backend, seed: u64) {
    const DISPATCHES: usize = 100;
    let setup = Setup::new(backend, "crash-random");
    let mut rng = Seeded(seed);
    let mut lives = 0;
    loop {
        let count = {
            let c = rusqlite::Connection::open_with_flags(
                &setup.events,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            );
            c.ok()
                .and_then(|c| {
                    c.query_row("SELECT count(*) FROM dispatches", [], |r| {
                        r.get::<_, i64>(0)
                    })
                    .ok()
                })
                .unwrap_or(0) as usize
        };
        if count >= DISPATCHES {
            break;
        }
        lives += 1;
        let (point, per) = RANDOM_POINTS[rng.below(RANDOM_POINTS.len() as u64) as usize];
        let fault = format!("{point}@{}", rng.below(per * 3) + 1);
        // One life in five has no fault armed: it is killed from outside.
        let armed = rng.below(5) != 0;
        // A few run-nows besides the slots; a life that outlives its fault
        // (one not reached, e.g. no settlement to do) is killed from outside.
        let runs = 1 + rng.below(4);
        let deadline = Duration::from_millis(300 + rng.below(3000));
        let mut life = setup.spawn(armed.then_some(fault.as_str()));
        let Some(mut c) = setup.connect(&mut life).await else {
            continue; // killed while starting (settling or catching up)
        };
        let started = Instant::now();
        let mut asked = 0;
        while life.exited().is_none() && started.elapsed() < deadline {
            if asked < runs {
                let run = Request::RunJob {
                    job: JobName("score".into()),
                };
                match c.try_request(run, Duration::from_secs(5)).await {
                    Ok(Ok(Response::Run(_))) => asked += 1,
                    Ok(_) => {}      // refused while it runs
                    Err(_) => break, // the daemon died under the request
                }
            }
            tokio::time::sleep(Duration::from_millis(20 + rng.below(200))).await;
        }
        drop(c);
        life.kill();
    }
    let state = setup.settle_and_check().await;
    assert!(state.dispatches.len() >= DISPATCHES);
    let settled = state
        .dispatches
        .iter()
        .filter(|d| d.steps().contains(&"resumed"))
        .count();
    let interrupted = state
        .dispatches
        .iter()
        .filter(|d| d.status == "interrupted")
        .count();
    eprintln!(
        "{backend:?}: {} dispatches over {lives} lives: {} succeeded ({settled} settled at restart), \
         {interrupted} interrupted before storing",
        state.dispatches.len(),
        state
            .dispatches
            .iter()
            .filter(|d| d.status == "succeeded")
            .count()
    );
    assert!(settled > 0, "no kill landed in a write-back: reseed");
    assert!(
        interrupted > 0,
        "no kill landed before the write-back: reseed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_dispatches_killed_at_random_points_on_builtin_sqlite() {
    random_kills(Backend::BuiltinSqlite, 0x6d6c_6421).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_dispatches_killed_at_random_points_on_postgres_odbc() {
    random_kills(Backend::PostgresOdbc, 0x7067_2111).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_dispatches_killed_at_random_points_on_mariadb_odbc() {
    random_kills(Backend::MariaDbOdbc, 0x6d61_7269).await;
}
