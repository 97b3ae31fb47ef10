//! A real MariaDB server for tests: `mariadb-install-db` into a temp dir,
//! `mariadbd` on 127.0.0.1 and a free port (as the `mysql` user when run as
//! root), a login user with a password, one database per test. Missing
//! binaries are a test failure with a clear message, never a silent pass.
//!
//! One server per test binary ([`MariaDbServer::shared`]). The server is the
//! child of a watchdog shell that waits for the test process to exit, then
//! kills the server, reaps it and removes its directory: a `static` is never
//! dropped, and PID 1 here does not reap orphans.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::local_server::{free_port, server_dir};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The login user tests connect as.
pub const MARIADB_USER: &str = "mld_test";
/// Its password: `;` and `=` prove the `PWD={…}` quoting.
pub const MARIADB_PASSWORD: &str = "Pw;with=Special-7x";

/// The ODBC driver as Debian's `odbc-mariadb` registers it in /etc/odbcinst.ini.
/// `MLD_MARIADB_ODBC_DRIVER` overrides it (a name or a path to another build).
pub fn odbc_driver() -> String {
    std::env::var("MLD_MARIADB_ODBC_DRIVER").unwrap_or_else(|_| "MariaDB Unicode".into())
}

#[derive(Debug)]
pub struct MariaDbServer {
    bins: Bins,
    dir: PathBuf,
    port: u16,
    /// The `mariadbd` process (a child of the watchdog shell).
    pid: i32,
}

#[derive(Debug)]
struct Bins {
    server: PathBuf,
    install_db: PathBuf,
    client: PathBuf,
}

static SHARED: OnceLock<MariaDbServer> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl MariaDbServer {
    /// The server of this test binary, started on first use. Panics with the
    /// reason when MariaDB cannot be started (e.g. not installed).
    pub fn shared() -> &'static MariaDbServer {
        SHARED.get_or_init(|| match MariaDbServer::start() {
            Ok(s) => s,
            Err(e) => panic!("MariaDB test server: {e}"),
        })
    }

    pub fn start() -> Result<MariaDbServer, String> {
        let bins = find_bins()?;
        let as_mysql = nix::unistd::geteuid().is_root();
        let dir = server_dir("mld-mariadb-", as_mysql.then_some("mysql"))?;
        let data = dir.join("data");
        let mut install = Command::new(&bins.install_db);
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", path_str(&data)))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        if as_mysql {
            install.arg("--user=mysql");
        }
        let out = install
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", bins.install_db.display()))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!(
                "mariadb-install-db failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }

        let port = free_port()?;
        let mut args: Vec<String> = vec![
            // Must come first: the machine's /etc/mysql must not apply.
            "--no-defaults".into(),
            format!("--datadir={}", path_str(&data)),
            format!("--socket={}", path_str(&dir.join("mysqld.sock"))),
            format!("--pid-file={}", path_str(&dir.join("mysqld.pid"))),
            format!("--log-error={}", path_str(&dir.join("server.log"))),
            format!("--tmpdir={}", path_str(&dir)),
            format!("--port={port}"),
            "--bind-address=127.0.0.1".into(),
            "--skip-name-resolve".into(),
            "--character-set-server=utf8mb4".into(),
            "--collation-server=utf8mb4_general_ci".into(),
            // A throwaway server: durability is not what is tested.
            "--innodb-flush-log-at-trx-commit=2".into(),
            "--innodb-doublewrite=0".into(),
            "--max-connections=500".into(),
        ];
        if as_mysql {
            args.push("--user=mysql".into());
        }
        let pid = spawn_with_watchdog(&dir, &bins.server, &args)?;
        let server = MariaDbServer {
            bins,
            dir,
            port,
            pid,
        };
        server.wait_ready(Duration::from_secs(60))?;
        server.sql(
            "",
            &format!(
                "CREATE USER '{MARIADB_USER}'@'127.0.0.1' IDENTIFIED BY '{MARIADB_PASSWORD}';\
                 GRANT ALL PRIVILEGES ON *.* TO '{MARIADB_USER}'@'127.0.0.1'"
            ),
        )?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A fresh database the test user may use.
    pub fn create_database(&self, hint: &str) -> String {
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let hint: String = hint
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect::<String>()
            .to_ascii_lowercase();
        let name = format!("t{n}_{hint}");
        self.sql("", &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        name
    }

    /// The connection string a user would write, without the password.
    pub fn odbc_connection(&self, database: &str) -> String {
        format!(
            "Driver={{{}}};Server=127.0.0.1;Port={};Database={database};UID={MARIADB_USER};",
            odbc_driver(),
            self.port
        )
    }

    /// Runs SQL as root through the `mariadb` client over the Unix socket;
    /// returns the rows as tab-separated lines.
    pub fn sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new(&self.bins.client);
        cmd.arg("--no-defaults")
            .arg(format!("--socket={}", path_str(&self.socket())))
            .args(["-uroot", "--batch", "--skip-column-names", "-e", sql]);
        if !database.is_empty() {
            cmd.arg(database);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", self.bins.client.display()))?;
        if !out.status.success() {
            return Err(format!(
                "mariadb {sql:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if self.socket().exists() && self.sql("", "SELECT 1").is_ok() {
                return Ok(());
            }
            if !alive(self.pid) {
                return Err(format!("mariadbd exited at start:\n{}", self.log()));
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "mariadbd not ready after {limit:?}:\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `server args…` as the child of a shell that outlives this process
/// just long enough to kill and reap it and remove `dir`. Returns the
/// server's pid.
fn spawn_with_watchdog(dir: &Path, server: &Path, args: &[String]) -> Result<i32, String> {
    let pid_file = dir.join("mariadbd.child");
    let script = r#"
test_pid=$1; dir=$2; shift 2
"$@" >/dev/null 2>&1 &
srv=$!
echo $srv > "$dir/mariadbd.child.tmp" && mv "$dir/mariadbd.child.tmp" "$dir/mariadbd.child"
while kill -0 "$test_pid" 2>/dev/null; do sleep 1; done
kill -9 $srv 2>/dev/null
wait $srv
rm -rf "$dir"
"#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(std::process::id().to_string())
        .arg(dir)
        .arg(server)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("sh: {e}"))?;
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && let Ok(pid) = text.trim().parse()
        {
            return Ok(pid);
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err("the watchdog shell did not start mariadbd".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` runs (a zombie waiting for its parent does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// `MARIADB_BIN` (one folder with all three), else PATH plus the sbin folders.
fn find_bins() -> Result<Bins, String> {
    let dirs: Vec<PathBuf> = match std::env::var_os("MARIADB_BIN") {
        Some(d) => vec![PathBuf::from(d)],
        None => std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(
                ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
                    .iter()
                    .map(PathBuf::from),
            )
            .collect(),
    };
    let find = |names: &[&str]| {
        dirs.iter()
            .flat_map(|d| names.iter().map(move |n| d.join(n)))
            .find(|p| p.is_file())
    };
    match (
        find(&["mariadbd", "mysqld"]),
        find(&["mariadb-install-db", "mysql_install_db"]),
        find(&["mariadb", "mysql"]),
    ) {
        (Some(server), Some(install_db), Some(client)) => Ok(Bins {
            server,
            install_db,
            client,
        }),
        _ => Err(
            "MariaDB server binaries (mariadbd, mariadb-install-db, mariadb) not found in \
             MARIADB_BIN, PATH, /usr/sbin or /usr/bin: install the `mariadb-server` package"
                .into(),
        ),
    }
}
