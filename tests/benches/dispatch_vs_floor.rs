//! A full dispatch against its floor, side by side on the same rows:
//! the floor is a bare bulk read of N rows × 8 f64 features plus a bare bulk
//! write of N result rows (no model, no event log); the dispatch is the
//! real pipeline (`mld::dispatch::pipeline::execute`: read, predict, store
//! in the event log, read back, write back in one transaction, every event).
//! Reported as a ratio, with each side's peak RSS (VmHWM), measured in a
//! child process per run so the peaks do not mix.
//!
//! `cargo bench -p mld-tests --bench dispatch_vs_floor`
//! - `MLD_BENCH_ROWS=100000,1000000` (default): sizes for SQLite through ODBC
//!   and PostgreSQL through psqlODBC.
//! - `MLD_BENCH_FLAT=1000000,10000000` (default; empty to skip): dispatch
//!   sizes on the built-in SQLite datalake, to show memory stays flat.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use mld::datalake::Datalake;
use mld::dispatch::pipeline::{self, Plan};
use mld::dispatch::record::{DispatchStatus, NewDispatch, Trigger};
use mld::dispatch::store;
use mld::eventlog::EventLog;
use mld::model::Registry;
use mld_shared::config::{JobConfig, ResultColumns};
use mld_tests::floor::{self, FEATURES, memory_mib, sizes};
use mld_tests::lake::{Backend, TestLake};
use tokio_util::sync::CancellationToken;

const BATCH: usize = 10_000;
const MODEL: &str = "synth";

/// How a child process reaches the datalake.
fn lake_from_env() -> Datalake {
    let spec = std::env::var("MLD_CHILD_LAKE").unwrap();
    let lake = if let Some(path) = spec.strip_prefix("sqlite:") {
        Datalake::sqlite("lake", path)
    } else {
        let conn = spec.strip_prefix("odbc:").unwrap();
        let pw = std::env::var("MLD_CHILD_PASSWORD").ok();
        Datalake::odbc("lake", conn, pw.as_deref()).unwrap()
    };
    lake.with_batch_size(BATCH)
}

fn child_floor(n: usize) {
    let lake = lake_from_env();
    let read = floor::read(&lake, n, BATCH);
    let write = floor::write(&lake, "results_floor", n, 1, BATCH);
    println!("RESULT {read} {write} {}", memory_mib("VmHWM"));
}

fn child_dispatch(n: usize) {
    let lake = lake_from_env();
    let state = PathBuf::from(std::env::var("MLD_CHILD_STATE").unwrap());
    let registry = Registry::open(std::env::var("MLD_CHILD_REGISTRY").unwrap(), None).unwrap();
    let model = registry.load_active(MODEL).unwrap();
    let log = EventLog::open(&state.join("events.db")).unwrap();
    let version = model.meta().version.to_string();
    let new = NewDispatch {
        job: "bench".into(),
        trigger: Trigger::Manual,
        requested_by: "bench".into(),
        slot: None,
        model: MODEL.into(),
        model_version: version.clone(),
        model_hash: model.meta().content_sha256.clone(),
    };
    let id = log
        .write_blocking(move |tx| store::create(tx, &new, jiff::Timestamp::now()))
        .unwrap();
    let job = JobConfig {
        name: "bench".into(),
        datalake: "lake".into(),
        model: MODEL.into(),
        query: floor::input_query(),
        key_column: "id".into(),
        results_table: "results".into(),
        results_columns: ResultColumns::default(),
        schedule: "0 0 30 2 *".into(),
        timezone: None,
        enabled: true,
        overlap: Default::default(),
        missed: Default::default(),
        timeout: None,
        batch_size: Some(BATCH as u32),
        fail_on_unscorable: false,
    };
    let plan = Plan {
        id,
        job,
        datalake: lake,
        model: Arc::new(model),
        model_version: version,
        batch_size: BATCH,
    };
    let start = Instant::now();
    let outcome = pipeline::execute(&plan, &log, &CancellationToken::new(), None, &|_, _| {});
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(outcome.status, DispatchStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.counts.inserted, n as u64);
    let events = log.read_blocking(move |c| store::events(c, id)).unwrap();
    let at = |step: &str| {
        events
            .iter()
            .find(|e| e.step.as_str() == step)
            .map(|e| e.at.as_millisecond())
            .unwrap()
    };
    // Phases by event time: until `stored` (read, predict, store), then write-back.
    let collect = (at("stored") - at("started")) as f64 / 1000.0;
    let write = (at("inserted") - at("stored")) as f64 / 1000.0;
    println!("RESULT {secs} {collect} {write} {}", memory_mib("VmHWM"));
}

/// Runs this benchmark binary as a child; returns the numbers it printed.
fn child(mode: &str, n: usize, lake: &str, password: Option<&str>, registry: &Path) -> Vec<f64> {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg("--child")
        .env("MLD_CHILD_MODE", mode)
        .env("MLD_CHILD_ROWS", n.to_string())
        .env("MLD_CHILD_LAKE", lake)
        .env("MLD_CHILD_STATE", state.path())
        .env("MLD_CHILD_REGISTRY", registry);
    if let Some(pw) = password {
        cmd.env("MLD_CHILD_PASSWORD", pw);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{mode} child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    line.split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn prepare(lake: &Datalake, backend: Backend, n: usize) {
    floor::create_input(lake, backend, n);
    for t in ["results", "results_floor"] {
        lake.create_results_table(t, &ResultColumns::default())
            .unwrap();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--child") {
        let n: usize = std::env::var("MLD_CHILD_ROWS").unwrap().parse().unwrap();
        match std::env::var("MLD_CHILD_MODE").unwrap().as_str() {
            "floor" => child_floor(n),
            _ => child_dispatch(n),
        }
        return;
    }
    let registry = tempfile::tempdir().unwrap();
    mld_tests::scoring::synthetic_model(registry.path(), MODEL, FEATURES);

    println!(
        "{:<14} {:>8} {:>7} {:>7} {:>7} {:>8} {:>7} {:>9} {:>9} {:>8} {:>8}",
        "backend",
        "rows",
        "read s",
        "write s",
        "floor s",
        "dispatch",
        "ratio",
        "collect s",
        "insert s",
        "RSS flr",
        "RSS disp"
    );
    for n in sizes("MLD_BENCH_ROWS", "100000,1000000") {
        for backend in [Backend::SqliteOdbc, Backend::PostgresOdbc] {
            let t = TestLake::new(backend, "bench");
            prepare(&t.lake, backend, n);
            let spec = format!("odbc:{}", t.connection.clone().unwrap());
            let pw = match backend {
                Backend::PostgresOdbc => t.secret.as_deref(),
                _ => None,
            };
            let floor = child("floor", n, &spec, pw, registry.path());
            let disp = child("dispatch", n, &spec, pw, registry.path());
            let floor_total = floor[0] + floor[1];
            println!(
                "{:<14} {n:>8} {:>7.2} {:>7.2} {floor_total:>7.2} {:>8.2} {:>6.2}x {:>9.2} {:>9.2} {:>8.0} {:>8.0}",
                format!("{backend:?}"),
                floor[0],
                floor[1],
                disp[0],
                disp[0] / floor_total,
                disp[1],
                disp[2],
                floor[2],
                disp[3]
            );
        }
    }
    for n in sizes("MLD_BENCH_FLAT", "1000000,10000000") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lake.db");
        let lake = Datalake::sqlite("lake", &path);
        lake.execute("PRAGMA journal_mode=WAL").unwrap();
        prepare(&lake, Backend::BuiltinSqlite, n);
        let spec = format!("sqlite:{}", path.display());
        let start = Instant::now();
        let disp = child("dispatch", n, &spec, None, registry.path());
        println!(
            "{:<14} {n:>8} {:>7} {:>7} {:>7} {:>8.2} {:>7} {:>9.2} {:>9.2} {:>8} {:>8.0}   (wall incl. start {:.0}s)",
            "BuiltinSqlite",
            "-",
            "-",
            "-",
            disp[0],
            "-",
            disp[1],
            disp[2],
            "-",
            disp[3],
            start.elapsed().as_secs_f64()
        );
    }
}
