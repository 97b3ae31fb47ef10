//! Datalakes for tests and benchmarks, one per backend, each in its own
//! place: a built-in SQLite file, a SQLite file through the SQLite ODBC
//! driver, a fresh database on the shared PostgreSQL server through
//! psqlODBC, a fresh database on the shared MariaDB server through MariaDB
//! Connector/ODBC. Plus helpers that fill tables with SQL any of them accepts.

use std::fmt::Write as _;

use mld::datalake::Datalake;
use tempfile::TempDir;

use crate::mariadb::{MARIADB_PASSWORD, MariaDbServer};
use crate::pg::{PG_PASSWORD, PgServer};

/// The SQLite ODBC driver as Debian registers it in /etc/odbcinst.ini.
pub const SQLITE_ODBC_DRIVER: &str = "SQLite3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    BuiltinSqlite,
    SqliteOdbc,
    PostgresOdbc,
    MariaDbOdbc,
}

impl Backend {
    /// Every backend, for tests that run on all of them.
    pub const ALL: [Backend; 4] = [
        Backend::BuiltinSqlite,
        Backend::SqliteOdbc,
        Backend::PostgresOdbc,
        Backend::MariaDbOdbc,
    ];

    /// The backends behind a server with logins (refused ports, wrong passwords).
    pub const SERVERS: [Backend; 2] = [Backend::PostgresOdbc, Backend::MariaDbOdbc];

    /// What the driver's message says (lowercased) when nothing listens on
    /// the server's port.
    pub fn refused_text(self) -> &'static str {
        match self {
            Backend::PostgresOdbc => "refused",
            // libmariadb connects non-blocking: errno 115 (in progress), not "refused".
            Backend::MariaDbOdbc => "can't connect to server",
            Backend::BuiltinSqlite | Backend::SqliteOdbc => "",
        }
    }

    /// What the driver's message says when the server refuses a password.
    pub fn wrong_password_text(self) -> &'static str {
        match self {
            Backend::PostgresOdbc => "password authentication failed",
            Backend::MariaDbOdbc => "Access denied for user",
            Backend::BuiltinSqlite | Backend::SqliteOdbc => "",
        }
    }
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
    /// ODBC: the connection string without password.
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
                // WAL, so the file is read while a dispatch writes back into it. Set
                // on the file itself: through SQLite ODBC's streaming (StepAPI) a
                // statement that returns a row is not run until it is fetched.
                Datalake::sqlite("wal", &path)
                    .execute("PRAGMA journal_mode=WAL")
                    .unwrap();
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
            Backend::MariaDbOdbc => {
                let server = MariaDbServer::shared();
                let db = server.create_database(hint);
                let conn = server.odbc_connection(&db);
                let lake = Datalake::odbc("test", &conn, Some(MARIADB_PASSWORD)).unwrap();
                let refused = conn.replace(
                    &format!("Port={};", server.port()),
                    &format!("Port={};", crate::pg::refused_port()),
                );
                let wrong = "Wrong-Pass-5513".to_string();
                TestLake {
                    backend,
                    lake,
                    secret: Some(MARIADB_PASSWORD.to_string()),
                    unreachable: Datalake::odbc("test", &refused, Some(MARIADB_PASSWORD)).unwrap(),
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

/// Inserts one row per `i` in `first..=last` into `table`, `values` giving
/// its SQL values in terms of `i`, generated inside the database in the
/// backend's own SQL (test data only: the product never writes such SQL).
pub fn insert_generated(
    lake: &Datalake,
    backend: Backend,
    table: &str,
    first: usize,
    last: usize,
    values: &str,
) {
    let sql = match backend {
        Backend::PostgresOdbc => format!(
            "INSERT INTO {table} SELECT {values} FROM generate_series({first}, {last}) AS g(i)"
        ),
        // MariaDB stops recursive CTEs at 1000 rows; its sequence engine has no limit.
        Backend::MariaDbOdbc => format!(
            "INSERT INTO {table} SELECT {values} FROM (SELECT seq AS i FROM seq_{first}_to_{last}) AS g"
        ),
        // INSERT first: the SQLite ODBC driver runs a statement starting with WITH lazily, as a query.
        Backend::BuiltinSqlite | Backend::SqliteOdbc => format!(
            "INSERT INTO {table} WITH RECURSIVE c(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM c WHERE i < {last}) \
             SELECT {values} FROM c"
        ),
    };
    lake.execute(&sql).unwrap();
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
