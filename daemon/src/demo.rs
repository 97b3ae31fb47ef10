//! The embedded demo: makes a fresh demo directory score for real.
//!
//! Receives the demo configuration (`config/mld.toml` as `mldctl demo`
//! copies it); makes sure the model registry holds an evaluated, active
//! `iris` model trained from the shipped CSV, and that the built-in SQLite
//! datalake holds rows to score (`iris_incoming`, a few of them unscorable on
//! purpose) and an empty results table (`iris_scores`). Idempotent: what
//! exists is left alone. Blocking.

use crate::datalake::Datalake;
use crate::model::registry::Registry;
use mld_shared::config::{Config, DatalakeKind};
use rusqlite::params;

pub fn setup(config: &Config) -> Result<(), String> {
    let dataset = config
        .models
        .datasets
        .get("iris")
        .ok_or("the demo configuration has no `iris` dataset")?;
    let csv = dataset
        .csv
        .as_ref()
        .ok_or("the demo's `iris` dataset is not a CSV file")?;
    let registry = Registry::from_config(&config.models).map_err(|e| e.to_string())?;
    let model =
        crate::training::demo::ensure_iris_model(&registry, csv).map_err(|e| e.to_string())?;
    tracing::info!(model = %model.name, version = model.version, "demo model ready");

    let job = config
        .jobs
        .first()
        .ok_or("the demo configuration has no job")?;
    let lake_cfg = config
        .datalakes
        .get(&job.datalake)
        .ok_or("the demo job's datalake is not configured")?;
    if lake_cfg.kind != DatalakeKind::Sqlite {
        return Err("the demo expects a built-in SQLite datalake".into());
    }
    let path = lake_cfg
        .path
        .as_ref()
        .ok_or("the demo datalake has no path")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let conn = rusqlite::Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // WAL (kept in the file): the dispatch writes its results while it reads,
    // which a rollback-journal file cannot do.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !has_table(path, "iris_incoming")? {
        conn.execute_batch(
            "CREATE TABLE iris_incoming (id INTEGER PRIMARY KEY, sepal_length REAL, sepal_width REAL,
             petal_length REAL, petal_width REAL)",
        )
        .map_err(|e| e.to_string())?;
        let mut reader =
            csv::Reader::from_path(csv).map_err(|e| format!("{}: {e}", csv.display()))?;
        let mut ins = conn
            .prepare("INSERT INTO iris_incoming(id, sepal_length, sepal_width, petal_length, petal_width) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(|e| e.to_string())?;
        let mut id = 0i64;
        for row in reader.records() {
            let row = row.map_err(|e| format!("{}: {e}", csv.display()))?;
            let v = |i: usize| row.get(i).and_then(|s| s.parse::<f64>().ok());
            id += 1;
            ins.execute(params![id, v(0), v(1), v(2), v(3)])
                .map_err(|e| e.to_string())?;
        }
        // Two rows the model cannot score, so the demo shows how they are reported.
        ins.execute(params![id + 1, 5.1, 3.5, None::<f64>, 0.2])
            .map_err(|e| e.to_string())?;
        conn.execute(
            "INSERT INTO iris_incoming(id, sepal_length, sepal_width, petal_length, petal_width) VALUES (?1, 6.0, 'n/a', 4.5, 1.5)",
            [id + 2],
        )
        .map_err(|e| e.to_string())?;
    }
    drop(conn);
    if !has_table(path, &job.results_table)? {
        let lake = Datalake::from_config(&job.datalake, lake_cfg).map_err(|e| e.to_string())?;
        lake.create_results_table(&job.results_table, &job.results_columns)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn has_table(path: &std::path::Path, table: &str) -> Result<bool, String> {
    let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| e.to_string())
}
