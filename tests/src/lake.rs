//! Datalakes for tests and benchmarks, one per backend, each in its own
//! place: a built-in SQLite file, a SQLite file through the SQLite ODBC
//! driver, a fresh database on the shared PostgreSQL server through
//! psqlODBC. Plus helpers that fill tables with SQL any of them accepts.

use std::fmt::Write as _;

use mld::datalake::Datalake;
use tempfile::TempDir;

use crate::pg::{PG_PASSWORD, PgServer};

/// The SQLite ODBC driver as Debian registers it in /etc/odbcinst.ini.
pub const SQLITE_ODBC_DRIVER: &str = "SQLite3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    BuiltinSqlite,
    SqliteOdbc,
    PostgresOdbc,
}

/// A datalake on a backend, plus what a test needs to reach it differently.
#[derive(Debug)]
pub struct TestLake {
    pub backend: Backend,
    pub lake: Datalake,
    /// The password the lake holds, if any: must never show in messages.
    pub secret: Option<String>,
    /// The same datalake made unreachable (refused port, missing directory).
    pub unreachable: Datalake,
    /// The same datalake with a wrong password (servers with logins only).
    pub wrong_password: Option<(Datalake, String)>,
    /// PostgreSQL: the connection string without password.
    pub connection: Option<String>,
    _dir: Option<TempDir>,
}

impl TestLake {
    pub fn new(backend: Backend, hint: &str) -> TestLake {
        match backend {
            Backend::BuiltinSqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("lake.db");
                let lake = Datalake::sqlite("test", &path);
                lake.execute("PRAGMA journal_mode=WAL").unwrap();
                TestLake {
                    backend,
                    lake,
                    secret: None,
                    unreachable: Datalake::sqlite("test", dir.path().join("no/such/dir/lake.db")),
                    wrong_password: None,
                    connection: None,
                    _dir: Some(dir),
                }
            }
            Backend::SqliteOdbc => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("lake.db");
                // SQLite ignores a password; holding one proves it is scrubbed anyway.
                let secret = "sqlite-Unused-pw9".to_string();
                let conn = format!(
                    "Driver={{{SQLITE_ODBC_DRIVER}}};Database={};PWD={secret};",
                    path.display()
                );
                // The driver creates the file on connect.
                let lake = Datalake::odbc("test", &conn, None).unwrap();
                lake.execute("PRAGMA journal_mode=WAL").unwrap();
                let missing = format!(
                    "Driver={{{SQLITE_ODBC_DRIVER}}};Database={};NoCreat=1;",
                    dir.path().join("no/such/dir/lake.db").display()
                );
                TestLake {
                    backend,
                    lake,
                    secret: Some(secret),
                    unreachable: Datalake::odbc("test", &missing, None).unwrap(),
                    wrong_password: None,
                    connection: Some(conn),
                    _dir: Some(dir),
                }
            }
            Backend::PostgresOdbc => {
                let pg = PgServer::shared();
                let db = pg.create_database(hint);
                let conn = pg.odbc_connection(&db);
                let lake = Datalake::odbc("test", &conn, Some(PG_PASSWORD)).unwrap();
                let refused = conn.replace(
                    &format!("Port={};", pg.port()),
                    &format!("Port={};", crate::pg::refused_port()),
                );
                let wrong = "Wrong-Pass-5513".to_string();
                TestLake {
                    backend,
                    lake,
                    secret: Some(PG_PASSWORD.to_string()),
                    unreachable: Datalake::odbc("test", &refused, Some(PG_PASSWORD)).unwrap(),
                    wrong_password: Some((
                        Datalake::odbc("test", &conn, Some(&wrong)).unwrap(),
                        wrong,
                    )),
                    connection: Some(conn),
                    _dir: None,
                }
            }
        }
    }
}

/// `INSERT INTO table VALUES (…),(…)` in chunks, `row(i)` giving each row's
/// SQL values (without parentheses).
pub fn insert_rows(lake: &Datalake, table: &str, rows: usize, row: impl Fn(usize) -> String) {
    const CHUNK: usize = 500;
    let mut start = 0;
    while start < rows {
        let end = (start + CHUNK).min(rows);
        let mut sql = format!("INSERT INTO {table} VALUES ");
        for i in start..end {
            if i > start {
                sql.push(',');
            }
            write!(sql, "({})", row(i)).unwrap();
        }
        lake.execute(&sql).unwrap();
        start = end;
    }
}

/// The value the tests put in feature `j` of row `i`: 15 significant digits
/// at most (every backend parses them to the same f64) and not representable
/// as f32, so a float-sized buffer would show.
pub fn feature_value(i: usize, j: usize) -> String {
    format!(
        "{}.{:09}",
        i * 10 + j,
        ((i * 7919 + j * 104_729) % 1_000_000_000) | 1
    )
}

/// A table of `rows` rows: `id` BIGINT key and `features` DOUBLE PRECISION columns `f0…`.
pub fn create_feature_table(lake: &Datalake, table: &str, rows: usize, features: usize) {
    let cols: Vec<String> = (0..features)
        .map(|j| format!("f{j} DOUBLE PRECISION"))
        .collect();
    lake.execute(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, {})",
        cols.join(", ")
    ))
    .unwrap();
    insert_rows(lake, table, rows, |i| {
        let vals: Vec<String> = (0..features).map(|j| feature_value(i, j)).collect();
        format!("{i}, {}", vals.join(", "))
    });
}
