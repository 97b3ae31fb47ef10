//! What the dispatch benchmarks share: each side runs in a child process of
//! the benchmark binary (so peak RSS does not mix), reaching the datalake
//! through the environment; the mld side is one real dispatch
//! (`mld::dispatch::pipeline::execute`: read, predict, store in the event
//! log, write back in one transaction, every event); and the tuned Python
//! pipeline (tests/benches/python/tuned_pipeline.py) on the same rows.

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
use tokio_util::sync::CancellationToken;

use crate::floor::{self, memory_mib};
use crate::lake::Backend;

/// `defaults`, or the backends `MLD_BENCH_BACKENDS` names (comma-separated:
/// `builtin_sqlite`, `sqlite_odbc`, `postgres`, `mariadb`).
pub fn backends(defaults: &[Backend]) -> Vec<Backend> {
    match std::env::var("MLD_BENCH_BACKENDS") {
        Err(_) => defaults.to_vec(),
        Ok(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s {
                "builtin_sqlite" => Backend::BuiltinSqlite,
                "sqlite_odbc" => Backend::SqliteOdbc,
                "postgres" => Backend::PostgresOdbc,
                "mariadb" => Backend::MariaDbOdbc,
                other => panic!(
                    "MLD_BENCH_BACKENDS: unknown backend {other:?} \
                     (builtin_sqlite, sqlite_odbc, postgres, mariadb)"
                ),
            })
            .collect(),
    }
}

/// Whether this process is a benchmark's child (`--child` on its command line).
pub fn is_child() -> bool {
    std::env::args().any(|a| a == "--child")
}

/// The datalake a child was given: `MLD_CHILD_LAKE` is `sqlite:PATH` or
/// `odbc:CONNECTION`, the password in `MLD_CHILD_PASSWORD`.
pub fn lake_from_env(batch: usize) -> Datalake {
    let spec = std::env::var("MLD_CHILD_LAKE").unwrap();
    let lake = if let Some(path) = spec.strip_prefix("sqlite:") {
        Datalake::sqlite("lake", path)
    } else {
        let conn = spec.strip_prefix("odbc:").unwrap();
        let pw = std::env::var("MLD_CHILD_PASSWORD").ok();
        Datalake::odbc("lake", conn, pw.as_deref()).unwrap()
    };
    lake.with_batch_size(batch)
}

/// Runs this benchmark binary again with `--child`, `MLD_CHILD_MODE=mode`
/// and `env`; returns the numbers of the `RESULT` line it prints.
pub fn child(mode: &str, env: &[(&str, String)]) -> Vec<f64> {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg("--child").env("MLD_CHILD_MODE", mode);
    for (k, v) in env {
        cmd.env(k, v);
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

/// One dispatch's numbers.
#[derive(Debug, Clone, Copy)]
pub struct DispatchRun {
    /// `pipeline::execute`, start to end.
    pub seconds: f64,
    /// Until `stored`: read, predict, store in the event log.
    pub collect: f64,
    /// From `stored` to `inserted`: the write-back.
    pub write: f64,
}

/// Dispatches the `n` rows of [`floor::input_query`] with the active version
/// of `model` into `results`, with a fresh event log in `state`.
pub fn dispatch(
    lake: Datalake,
    state: &Path,
    registry: &Path,
    model: &str,
    n: usize,
    batch: usize,
) -> DispatchRun {
    dispatch_query(
        lake,
        state,
        registry,
        model,
        &floor::input_query(),
        n,
        batch,
    )
}

/// [`dispatch`] of the `n` rows `query` returns (key column `id`).
pub fn dispatch_query(
    lake: Datalake,
    state: &Path,
    registry: &Path,
    model: &str,
    query: &str,
    n: usize,
    batch: usize,
) -> DispatchRun {
    let registry = Registry::open(registry, None).unwrap();
    let model_loaded = registry.load_active(model).unwrap();
    let log = EventLog::open(&state.join("events.db")).unwrap();
    let version = model_loaded.meta().version.to_string();
    let new = NewDispatch {
        job: "bench".into(),
        trigger: Trigger::Manual,
        requested_by: "bench".into(),
        slot: None,
        model: model.into(),
        model_version: version.clone(),
        model_hash: model_loaded.meta().content_sha256.clone(),
    };
    let id = log
        .write_blocking(move |tx| store::create(tx, &new, jiff::Timestamp::now()))
        .unwrap();
    let job = JobConfig {
        name: "bench".into(),
        datalake: "lake".into(),
        model: model.into(),
        query: query.to_string(),
        key_column: "id".into(),
        results_table: "results".into(),
        results_columns: ResultColumns::default(),
        schedule: "0 0 30 2 *".into(),
        timezone: None,
        enabled: true,
        overlap: Default::default(),
        missed: Default::default(),
        timeout: None,
        batch_size: Some(batch as u32),
        fail_on_unscorable: false,
        executor: None,
        shards: None,
        shard_retries: 2,
        shard_by: None,
    };
    let plan = Plan {
        id,
        job,
        datalake: lake,
        model: Arc::new(model_loaded),
        model_version: version,
        batch_size: batch,
    };
    let start = Instant::now();
    let outcome = pipeline::execute(&plan, &log, &CancellationToken::new(), None, &|_, _| {});
    let seconds = start.elapsed().as_secs_f64();
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
    DispatchRun {
        seconds,
        collect: (at("stored") - at("started")) as f64 / 1000.0,
        write: (at("inserted") - at("stored")) as f64 / 1000.0,
    }
}

/// The child side of [`dispatch`]: environment in, `RESULT seconds collect
/// write peak-RSS-MiB` out.
pub fn child_dispatch(batch: usize) {
    let n: usize = std::env::var("MLD_CHILD_ROWS").unwrap().parse().unwrap();
    let state = PathBuf::from(std::env::var("MLD_CHILD_STATE").unwrap());
    let registry = PathBuf::from(std::env::var("MLD_CHILD_REGISTRY").unwrap());
    let model = std::env::var("MLD_CHILD_MODEL").unwrap();
    // The rows to score: `MLD_CHILD_QUERY`, or the floor's input.
    let query = std::env::var("MLD_CHILD_QUERY").unwrap_or_else(|_| floor::input_query());
    let run = dispatch_query(
        lake_from_env(batch),
        &state,
        &registry,
        &model,
        &query,
        n,
        batch,
    );
    println!(
        "RESULT {} {} {} {}",
        run.seconds,
        run.collect,
        run.write,
        memory_mib("VmHWM")
    );
}

/// tests/benches/python/tuned_pipeline.py.
pub fn python_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python/tuned_pipeline.py")
}

/// Trains the Python pipeline's model into `dir` (model.pkl, model.onnx,
/// labels.json) and imports its ONNX export into `registry` as `name`, active.
pub fn python_model(dir: &Path, registry: &Path, name: &str) {
    let status = Command::new("python3")
        .arg(python_script())
        .arg("train")
        .arg(dir)
        .status()
        .expect("python3");
    assert!(
        status.success(),
        "tuned_pipeline.py train failed (needs python3 with scikit-learn, skl2onnx, \
         onnxruntime, arrow-odbc)"
    );
    let reg = Registry::open(registry, None).unwrap();
    let bytes = std::fs::read(dir.join("model.onnx")).unwrap();
    let v = reg
        .import_onnx(name, &bytes, floor::feature_names(), None)
        .unwrap();
    reg.set_active(name, v.version).unwrap();
}

/// The tuned Python pipeline's numbers for one run.
#[derive(Debug, Clone)]
pub struct PythonRun {
    pub rows: u64,
    /// Connect to commit, imports excluded.
    pub seconds: f64,
    pub fetch_s: f64,
    pub predict_s: f64,
    pub write_s: f64,
    /// The whole process, imports included.
    pub wall_s: f64,
    pub peak_rss_mib: f64,
}

/// Scores [`floor::input_query`] into `table` with the Python pipeline; the
/// connection string and password reach it through its environment.
pub fn python_score(
    model_dir: &Path,
    connection: &str,
    password: Option<&str>,
    table: &str,
    batch: usize,
    sequential: bool,
) -> PythonRun {
    let input = (floor::input_query(), floor::feature_names());
    python_score_query(
        model_dir, connection, password, &input, table, batch, sequential,
    )
}

/// [`python_score`] of the rows `input.0` returns (key `id`), the model
/// taking the columns `input.1`.
pub fn python_score_query(
    model_dir: &Path,
    connection: &str,
    password: Option<&str>,
    input: &(String, Vec<String>),
    table: &str,
    batch: usize,
    sequential: bool,
) -> PythonRun {
    let mut args = scoring_args(model_dir, table, input);
    args.extend(["--batch-size".to_string(), batch.to_string()]);
    if sequential {
        args.push("--sequential".into());
    }
    python("score", &args, connection, password)
}

/// The plain Python dispatch (pyodbc `fetchall`, a row loop, `executemany`)
/// of [`floor::input_query`] into `table`.
pub fn python_plain(
    model_dir: &Path,
    connection: &str,
    password: Option<&str>,
    table: &str,
) -> PythonRun {
    let input = (floor::input_query(), floor::feature_names());
    python(
        "plain",
        &scoring_args(model_dir, table, &input),
        connection,
        password,
    )
}

/// The bare arrow-odbc read of [`floor::input_query`]: the best independent read.
pub fn python_read(connection: &str, password: Option<&str>, batch: usize) -> PythonRun {
    let args = [
        "--query".to_string(),
        floor::input_query(),
        "--batch-size".into(),
        batch.to_string(),
    ];
    python("read", &args, connection, password)
}

/// The bare arrow-odbc bulk insert of `n` result rows into `table` in one
/// transaction: the best independent write.
pub fn python_write(
    connection: &str,
    password: Option<&str>,
    table: &str,
    n: usize,
    batch: usize,
) -> PythonRun {
    let args = [
        "--table".to_string(),
        table.to_string(),
        "--rows".into(),
        n.to_string(),
        "--batch-size".into(),
        batch.to_string(),
    ];
    python("write", &args, connection, password)
}

/// Scoring `input.0` (key `id`) with the model taking the columns `input.1`.
fn scoring_args(model_dir: &Path, table: &str, input: &(String, Vec<String>)) -> Vec<String> {
    vec![
        "--model".into(),
        model_dir.join("model.pkl").display().to_string(),
        "--query".into(),
        input.0.clone(),
        "--key".into(),
        "id".into(),
        "--features".into(),
        input.1.join(","),
        "--table".into(),
        table.into(),
        "--dispatch-id".into(),
        "1".into(),
    ]
}

/// Runs tuned_pipeline.py `mode` with `args`; the connection string and
/// password reach it through its environment, never its command line.
fn python(mode: &str, args: &[String], connection: &str, password: Option<&str>) -> PythonRun {
    let mut cmd = Command::new("python3");
    cmd.arg(python_script())
        .arg(mode)
        .args(args)
        .env("MLD_PY_CONNECTION", connection)
        .env_remove("MLD_PY_PASSWORD");
    if let Some(pw) = password {
        cmd.env("MLD_PY_PASSWORD", pw);
    }
    let out = cmd.output().expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tuned_pipeline.py {mode} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("tuned_pipeline.py printed no result ({e}): {stdout}"));
    let num = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("tuned_pipeline.py: no {k} in {v}"))
    };
    PythonRun {
        rows: num("rows") as u64,
        seconds: num("seconds"),
        fetch_s: num("fetch_s"),
        predict_s: num("predict_s"),
        write_s: num("write_s"),
        wall_s: num("wall_s"),
        peak_rss_mib: num("peak_rss_mib"),
    }
}
