//! A real PostgreSQL server for tests: `initdb` into a temp dir, `pg_ctl`
//! start on 127.0.0.1 and a free port, a login role with a password
//! (scram-sha-256 for host connections, so a wrong password is refused for
//! real), one database per test. As root the server runs as `postgres`
//! (initdb refuses root). Missing binaries are a test failure with a clear
//! message, never a silent pass.
//!
//! One server per test binary ([`PgServer::shared`]); a watchdog shell stops
//! it and removes its directory when the test process exits, because a
//! `static` is never dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::local_server::{free_port, server_dir};
use std::sync::atomic::{AtomicU32, Ordering};

/// The login role tests connect as.
pub const PG_USER: &str = "mld_test";
/// Its password: `;` and `=` prove the `PWD={…}` quoting.
pub const PG_PASSWORD: &str = "Pw;with=Special-7x";

/// The ODBC driver as Debian registers it in /etc/odbcinst.ini.
pub const PG_ODBC_DRIVER: &str = "PostgreSQL Unicode";

#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

static SHARED: OnceLock<PgServer> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl PgServer {
    /// The server of this test binary, started on first use. Panics with the
    /// reason when PostgreSQL cannot be started (e.g. not installed).
    pub fn shared() -> &'static PgServer {
        SHARED.get_or_init(|| match PgServer::start() {
            Ok(s) => s,
            Err(e) => panic!("PostgreSQL test server: {e}"),
        })
    }

    pub fn start() -> Result<PgServer, String> {
        let bin = find_bin_dir()?;
        let as_postgres = nix::unistd::geteuid().is_root();
        let dir = server_dir("mld-pg-", as_postgres.then_some("postgres"))?;
        let server = PgServer {
            port: free_port()?,
            bin,
            dir,
            as_postgres,
        };
        server.watchdog();
        let data = server.data_dir();
        server.run_pg(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
            ],
        )?;
        let opts = format!(
            "-h 127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            server.port,
            path_str(&server.dir)
        );
        let log = server.dir.join("server.log");
        server.run_pg(
            "pg_ctl",
            &[
                "-D",
                path_str(&data),
                "-l",
                path_str(&log),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        )?;
        server.psql(
            "postgres",
            &format!("CREATE ROLE {PG_USER} LOGIN CREATEDB PASSWORD '{PG_PASSWORD}'"),
        )?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A fresh database owned by the test role.
    pub fn create_database(&self, hint: &str) -> String {
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let hint: String = hint
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect::<String>()
            .to_ascii_lowercase();
        let name = format!("t{n}_{hint}");
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {name} OWNER {PG_USER}"),
        )
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        name
    }

    /// The connection string a user would write, without the password.
    pub fn odbc_connection(&self, database: &str) -> String {
        format!(
            "Driver={{{PG_ODBC_DRIVER}}};Server=127.0.0.1;Port={};Database={database};UID={PG_USER};",
            self.port
        )
    }

    /// Runs SQL as the superuser through psql over the Unix socket.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args(["-p", &port, "-U", "postgres", "-d", database, "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql {sql:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run_pg(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let out = self
            .pg_command(program)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            return Err(format!(
                "{program} failed: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Stops the server and removes its directory once this process is gone,
    /// however it ends.
    fn watchdog(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = format!(
            "{}{} -D {} stop -m immediate",
            if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            path_str(&pg_ctl),
            path_str(&self.data_dir())
        );
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = path_str(&self.dir)
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    fn stop(&self) {
        let _ = self
            .pg_command("pg_ctl")
            .args(["-D", path_str(&self.data_dir()), "stop", "-m", "fast"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// `PG_BIN`, else the newest /usr/lib/postgresql/*/bin, else `pg_ctl` on PATH.
fn find_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("pg_ctl").is_file() {
            Ok(dir)
        } else {
            Err(format!("PG_BIN={} has no pg_ctl", dir.display()))
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("pg_ctl").is_file() && dir.join("initdb").is_file() {
                return Ok(dir);
            }
        }
    }
    Err(
        "PostgreSQL server binaries (initdb, pg_ctl, psql) not found in PG_BIN, \
         /usr/lib/postgresql/*/bin or PATH: install the `postgresql` package"
            .into(),
    )
}

/// A loopback port nothing listens on (for "connection refused").
pub fn refused_port() -> u16 {
    free_port().expect("a free port")
}
