//! Fixtures for dispatch tests and benchmarks: a datalake per backend as a
//! daemon configuration section (secrets in a file), models trained here
//! (iris logistic regression; a synthetic one with N features), tables to
//! score, and the results table read back through the datalake itself.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use mld::datalake::Datalake;
use mld::model::{Algorithm, Model, ParamValue, Registry};
use mld::training::catalog::ValidRequest;
use mld_shared::config::ResultColumns;
use tempfile::TempDir;

use crate::lake::{Backend, SQLITE_ODBC_DRIVER};
use crate::mariadb::{MARIADB_PASSWORD, MariaDbServer};
use crate::pg::{PG_PASSWORD, PgServer};

pub const IRIS_FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

pub fn iris_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv")
}

/// The iris rows: four measurements and the species.
pub fn iris_rows() -> Vec<([f64; 4], String)> {
    let text = std::fs::read_to_string(iris_csv()).expect("assets/iris.csv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let v = |i: usize| f[i].trim().parse::<f64>().expect("a number");
            ([v(0), v(1), v(2), v(3)], f[4].trim().to_string())
        })
        .collect()
}

/// Trains the iris logistic regression into `registry` as `iris` version 1 (active).
pub fn iris_model(registry: &Path) -> Model {
    let reg = Registry::open(registry, None).expect("registry");
    mld::training::demo::ensure_iris_model(&reg, &iris_csv()).expect("train iris");
    reg.load_active("iris").expect("load iris")
}

/// Trains a logistic regression on `rows` synthetic rows with features
/// `f0…f{n-1}` and two classes, committed as `name` version 1 (active).
pub fn synthetic_model(registry: &Path, name: &str, features: usize) -> Model {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("train.csv");
    let mut text: Vec<String> = vec![format!(
        "{},label",
        (0..features)
            .map(|j| format!("f{j}"))
            .collect::<Vec<_>>()
            .join(",")
    )];
    for i in 0..400usize {
        let vals: Vec<f64> = (0..features)
            .map(|j| ((i * 31 + j * 17) % 97) as f64 / 10.0)
            .collect();
        let label = if vals.iter().sum::<f64>() > features as f64 * 4.8 {
            "high"
        } else {
            "low"
        };
        let vals: Vec<String> = vals.iter().map(|v| v.to_string()).collect();
        text.push(format!("{},{label}", vals.join(",")));
    }
    std::fs::write(&csv, text.join("\n")).unwrap();
    let data = mld::training::dataset::load_csv(name, &csv, "label", None).expect("dataset");
    let mut hyperparameters =
        mld::training::catalog::default_hyperparameters(Algorithm::LogisticRegression);
    hyperparameters.insert("alpha".into(), ParamValue::Float(0.1));
    let request = ValidRequest {
        dataset: name.to_string(),
        algorithm: Algorithm::LogisticRegression,
        hyperparameters,
        test_split: 0.25,
        seed: 7,
    };
    let trained = mld::training::train_on(&request, &data, &mut |_| {}, &AtomicBool::new(false))
        .expect("train");
    let reg = Registry::open(registry, None).expect("registry");
    reg.commit_as(name, 1, trained.meta, &trained.artifact)
        .expect("commit");
    reg.set_active(name, 1).expect("activate");
    reg.load_active(name).expect("load")
}

/// A datalake for a daemon: how the test reaches it directly, and the TOML
/// section that configures it (password, if any, in a file).
pub struct DaemonLake {
    pub backend: Backend,
    pub lake: Datalake,
    /// The password the daemon is given; must never show anywhere.
    pub secret: Option<String>,
    /// `[datalakes.lake]` with `kind`, connection and password settings.
    pub toml: String,
    /// The same, unreachable (refused port / missing directory).
    pub unreachable_toml: String,
    /// Servers with logins: the same with a wrong password, and that password.
    pub wrong_password_toml: Option<(String, String)>,
    /// Where the test can run SQL as a superuser (PostgreSQL).
    pub pg_database: Option<String>,
    _dir: TempDir,
}

fn toml_str(s: &str) -> String {
    format!("{s:?}")
}

impl DaemonLake {
    /// `dir` receives the password files.
    pub fn new(backend: Backend, dir: &Path, hint: &str) -> DaemonLake {
        let own = tempfile::tempdir().unwrap();
        match backend {
            Backend::BuiltinSqlite => {
                let path = own.path().join("lake.db");
                let lake = Datalake::sqlite("lake", &path);
                lake.execute("PRAGMA journal_mode=WAL").unwrap();
                let section = |p: &Path| {
                    format!(
                        "[datalakes.lake]\nkind = \"sqlite\"\npath = {}\n",
                        toml_str(&p.display().to_string())
                    )
                };
                DaemonLake {
                    backend,
                    lake,
                    secret: None,
                    toml: section(&path),
                    unreachable_toml: section(&own.path().join("no/such/dir/lake.db")),
                    wrong_password_toml: None,
                    pg_database: None,
                    _dir: own,
                }
            }
            Backend::SqliteOdbc => {
                let path = own.path().join("lake.db");
                let secret = "sqlite-Unused-pw9".to_string();
                let conn = format!(
                    "Driver={{{SQLITE_ODBC_DRIVER}}};Database={};",
                    path.display()
                );
                let pw = dir.join("sqlite.pw");
                std::fs::write(&pw, format!("{secret}\n")).unwrap();
                let lake = Datalake::odbc("lake", &conn, Some(&secret)).unwrap();
                // WAL, so the file is read while a dispatch writes back into it. Set
                // on the file itself: through SQLite ODBC's streaming (StepAPI) a
                // statement that returns a row is not run until it is fetched.
                Datalake::sqlite("wal", &path)
                    .execute("PRAGMA journal_mode=WAL")
                    .unwrap();
                let missing = format!(
                    "Driver={{{SQLITE_ODBC_DRIVER}}};Database={};NoCreat=1;",
                    own.path().join("no/such/dir/lake.db").display()
                );
                let section = |c: &str| {
                    format!(
                        "[datalakes.lake]\nkind = \"odbc\"\nconnection = {}\npassword_file = {}\n",
                        toml_str(c),
                        toml_str(&pw.display().to_string())
                    )
                };
                DaemonLake {
                    backend,
                    lake,
                    secret: Some(secret),
                    toml: section(&conn),
                    unreachable_toml: section(&missing),
                    wrong_password_toml: None,
                    pg_database: None,
                    _dir: own,
                }
            }
            Backend::PostgresOdbc | Backend::MariaDbOdbc => {
                let (conn, port, secret, pg_database) = match backend {
                    Backend::PostgresOdbc => {
                        let pg = PgServer::shared();
                        let db = pg.create_database(hint);
                        (pg.odbc_connection(&db), pg.port(), PG_PASSWORD, Some(db))
                    }
                    _ => {
                        let server = MariaDbServer::shared();
                        let db = server.create_database(hint);
                        let conn = server.odbc_connection(&db);
                        (conn, server.port(), MARIADB_PASSWORD, None)
                    }
                };
                let lake = Datalake::odbc("lake", &conn, Some(secret)).unwrap();
                let pw = dir.join("lake.pw");
                std::fs::write(&pw, format!("{secret}\n")).unwrap();
                let wrong = "Wrong-Pass-5513".to_string();
                let wrong_pw = dir.join("lake-wrong.pw");
                std::fs::write(&wrong_pw, &wrong).unwrap();
                let refused = conn.replace(
                    &format!("Port={port};"),
                    &format!("Port={};", crate::pg::refused_port()),
                );
                let section = |c: &str, p: &Path| {
                    format!(
                        "[datalakes.lake]\nkind = \"odbc\"\nconnection = {}\npassword_file = {}\n",
                        toml_str(c),
                        toml_str(&p.display().to_string())
                    )
                };
                DaemonLake {
                    backend,
                    lake,
                    secret: Some(secret.to_string()),
                    toml: section(&conn, &pw),
                    unreachable_toml: section(&refused, &pw),
                    wrong_password_toml: Some((section(&conn, &wrong_pw), wrong)),
                    pg_database,
                    _dir: own,
                }
            }
        }
    }
}

/// Writes `dir/mld.toml`: socket and state in `dir`, the registry at
/// `dir/state/models`, then `lake_toml` and `jobs_toml` verbatim.
pub fn write_config(dir: &Path, lake_toml: &str, jobs_toml: &str) -> PathBuf {
    let path = dir.join("mld.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\nlog_level = \"debug\"\n\
             max_concurrent_dispatches = 2\n\n[monitor]\nrefresh = \"60s\"\n\n{lake_toml}\n{jobs_toml}\n"
        ),
    )
    .unwrap();
    path
}

/// The registry folder [`write_config`] configures.
pub fn registry_dir(dir: &Path) -> PathBuf {
    dir.join("state/models")
}

/// A `[[jobs]]` entry, never scheduled during a test (Feb 30th).
pub fn job_toml(name: &str, model: &str, query: &str, results_table: &str, extra: &str) -> String {
    format!(
        "[[jobs]]\nname = {}\ndatalake = \"lake\"\nmodel = {}\nquery = {}\nkey_column = \"id\"\n\
         results_table = {}\nschedule = \"0 0 30 2 *\"\n{extra}\n",
        toml_str(name),
        toml_str(model),
        toml_str(query),
        toml_str(results_table)
    )
}

/// `iris_in(id, four measurements)`: the 150 iris rows, ids 1…150.
pub fn create_iris_table(lake: &Datalake, table: &str) {
    lake.execute(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, sepal_length DOUBLE PRECISION, \
         sepal_width DOUBLE PRECISION, petal_length DOUBLE PRECISION, petal_width DOUBLE PRECISION)"
    ))
    .unwrap();
    let rows = iris_rows();
    crate::lake::insert_rows(lake, table, rows.len(), |i| {
        let f = rows[i].0;
        format!("{}, {}, {}, {}, {}", i + 1, f[0], f[1], f[2], f[3])
    });
}

pub fn create_results_table(lake: &Datalake, table: &str) {
    lake.create_results_table(table, &ResultColumns::default())
        .unwrap();
}

/// One row of a results table as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRead {
    pub dispatch_id: i64,
    pub row_key: String,
    pub label: String,
    pub score: f64,
    pub model_version: String,
}

/// Every row of a results table (default column names), read through the
/// datalake itself: text columns come back as numbers through `CASE`, so
/// `labels` and `versions` list the values that may appear.
pub fn read_results(
    lake: &Datalake,
    table: &str,
    labels: &[String],
    versions: &[&str],
) -> Vec<ResultRead> {
    let case = |col: &str, values: &[&str]| {
        let arms: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!(" WHEN '{v}' THEN {i}"))
            .collect();
        format!("CASE {col}{arms} ELSE -1 END")
    };
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let query = format!(
        "SELECT row_key, dispatch_id AS d, score AS s, {} AS l, {} AS v FROM {table}",
        case("prediction", &label_refs),
        case("model_version", versions)
    );
    let cols: Vec<String> = ["d", "s", "l", "v"].iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    for batch in lake.read(&query, "row_key", &cols, 10_000).unwrap() {
        let batch = batch.unwrap();
        assert!(
            batch.unscorable.is_empty(),
            "results rows with NULLs: {:?}",
            batch.unscorable
        );
        for (i, key) in batch.keys.into_iter().enumerate() {
            let r = batch.features.row(i);
            let name = |v: f64, all: &[&str]| {
                if v >= 0.0 {
                    all[v as usize].to_string()
                } else {
                    "<unexpected>".to_string()
                }
            };
            out.push(ResultRead {
                dispatch_id: r[0] as i64,
                row_key: key,
                score: r[1],
                label: name(r[2], &label_refs),
                model_version: name(r[3], versions),
            });
        }
    }
    out
}

/// How many rows `table` holds.
pub fn count_rows(lake: &Datalake, table: &str) -> usize {
    let mut n = 0;
    for batch in lake
        .read(
            &format!("SELECT 1 AS k, 1 AS one FROM {table}"),
            "k",
            &["one".to_string()],
            10_000,
        )
        .unwrap()
    {
        n += batch.unwrap().rows_read();
    }
    n
}

/// `rows` generated iris-like rows in `iris_big`, in the datalake's own SQL.
pub fn create_big_iris(dl: &DaemonLake, rows: usize) {
    dl.lake
        .execute(
            "CREATE TABLE iris_big (id BIGINT PRIMARY KEY, sepal_length DOUBLE PRECISION, \
             sepal_width DOUBLE PRECISION, petal_length DOUBLE PRECISION, petal_width DOUBLE PRECISION)",
        )
        .unwrap();
    let values =
        "i, 4.3 + (i % 36) * 0.1, 2.0 + (i % 24) * 0.1, 1.0 + (i % 59) * 0.1, 0.1 + (i % 25) * 0.1";
    crate::lake::insert_generated(&dl.lake, dl.backend, "iris_big", 1, rows, values);
}

/// A daemon configuration with one job, `score`: the iris model over the
/// generated rows of `iris_big`, into `scores`.
pub struct BigIrisJob {
    pub dl: DaemonLake,
    pub model: Model,
    pub config: PathBuf,
}

impl BigIrisJob {
    /// Creates `rows` rows of `iris_big`, the results table, the model and
    /// the configuration in `dir`; `job_extra` goes into the job
    /// (`batch_size`, `timeout`, …).
    pub fn new(
        backend: Backend,
        dir: &Path,
        hint: &str,
        rows: usize,
        job_extra: &str,
    ) -> BigIrisJob {
        let dl = DaemonLake::new(backend, dir, hint);
        create_big_iris(&dl, rows);
        create_results_table(&dl.lake, "scores");
        let model = iris_model(&registry_dir(dir));
        let job = job_toml(
            "score",
            "iris",
            "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_big",
            "scores",
            job_extra,
        );
        let config = write_config(dir, &dl.toml, &job);
        BigIrisJob { dl, model, config }
    }
}
