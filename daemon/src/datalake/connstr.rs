//! ODBC connection strings: owns resolving a datalake's connection string from
//! config (inline, env var or file, plus a password from env or file), making
//! `Driver={Name}` loadable by the vendored driver manager (name → absolute
//! path via odbcinst.ini), adding the options that make reads stream, and
//! scrubbing secrets out of driver messages. Receives a [`DatalakeConfig`];
//! emits an [`OdbcTarget`] whose `Debug` never shows a password.

use std::fmt;
use std::path::{Path, PathBuf};

use mld_shared::config::{DatalakeConfig, Secret, is_secret_key, redact_connection_string};

use super::DatalakeError;

/// Where unixODBC installs drivers registered by bare file name on common distributions.
const DRIVER_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/odbc",
    "/usr/lib/aarch64-linux-gnu/odbc",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/odbc",
    "/usr/lib64/odbc",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib/odbc",
    "/usr/local/lib",
];

/// One `key=value` attribute; `value` is kept as written (braces included).
#[derive(Clone)]
struct Attr {
    key: String,
    value: String,
}

impl Attr {
    fn is(&self, key: &str) -> bool {
        self.key.trim().eq_ignore_ascii_case(key)
    }

    /// The value without `{…}` quoting (`}}` is an escaped brace).
    fn unquoted(&self) -> String {
        let v = self.value.trim();
        match v.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
            Some(inner) => inner.replace("}}", "}"),
            None => v.to_string(),
        }
    }
}

fn parse_attrs(s: &str) -> Vec<Attr> {
    let mut attrs = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else {
            if !rest.trim().is_empty() {
                attrs.push(Attr {
                    key: rest.to_string(),
                    value: String::new(),
                });
            }
            break;
        };
        let key = rest[..eq].to_string();
        rest = &rest[eq + 1..];
        let value_len = mld_shared::config::odbc_value_len(rest);
        attrs.push(Attr {
            key,
            value: rest[..value_len].to_string(),
        });
        rest = &rest[value_len..];
        rest = rest.strip_prefix(';').unwrap_or(rest);
    }
    attrs
}

fn render(attrs: &[Attr]) -> String {
    let mut out = String::new();
    for a in attrs {
        out.push_str(&a.key);
        out.push('=');
        out.push_str(&a.value);
        out.push(';');
    }
    out
}

/// `{…}` quoting so a value may hold `;`, `=` or braces.
pub fn quote_value(v: &str) -> String {
    format!("{{{}}}", v.replace('}', "}}"))
}

/// Replaces every secret's text in driver messages with `***`.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    pub fn new(secrets: Vec<String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Scrubber { secrets }
    }

    pub fn scrub(&self, message: &str) -> String {
        let mut out = message.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

/// Which driver a connection string loads, as far as we need to know it to
/// pick streaming options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverFamily {
    SqliteOdbc,
    PsqlOdbc,
    MariaDbOdbc,
    Other,
}

/// A resolved ODBC connection string with the secrets it holds.
#[derive(Clone)]
pub struct OdbcTarget {
    /// With `Driver=` made loadable; without the per-connection streaming options.
    connection: Secret,
    family: DriverFamily,
    scrubber: Scrubber,
}

impl fmt::Debug for OdbcTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OdbcTarget")
            .field("connection", &self.connection)
            .field("family", &self.family)
            .finish()
    }
}

impl OdbcTarget {
    /// Builds the target from a connection string as the user wrote it plus
    /// an optional password (appended as `PWD`).
    pub fn new(
        datalake: &str,
        connection: &str,
        password: Option<&str>,
    ) -> Result<Self, DatalakeError> {
        let mut attrs = parse_attrs(connection);
        let mut secrets: Vec<String> = attrs
            .iter()
            .filter(|a| is_secret_key(&a.key))
            .flat_map(|a| [a.unquoted(), a.value.trim().to_string()])
            .collect();
        if let Some(pw) = password {
            if attrs.iter().any(|a| a.is("pwd") || a.is("password")) {
                return Err(DatalakeError::Config {
                    datalake: datalake.to_string(),
                    what: "the connection string already holds a password and a password_env/password_file is set too".into(),
                });
            }
            secrets.push(pw.to_string());
            attrs.push(Attr {
                key: "PWD".into(),
                value: quote_value(pw),
            });
        }
        let mut family = DriverFamily::Other;
        if let Some(driver) = attrs.iter_mut().find(|a| a.is("driver")) {
            let name = driver.unquoted();
            let resolved = resolve_driver(&name);
            let file = resolved.as_deref().unwrap_or(Path::new(&name));
            family = classify(&name, file);
            if let Some(path) = resolved {
                driver.value = quote_value(&path.to_string_lossy());
            }
        }
        Ok(OdbcTarget {
            connection: Secret::new(render(&attrs)),
            family,
            scrubber: Scrubber::new(secrets),
        })
    }

    pub fn family(&self) -> DriverFamily {
        self.family
    }

    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }

    /// The string handed to the driver: the streaming options for a
    /// recognised driver are added unless the user set them.
    pub fn connection_string(&self, fetch_rows: usize) -> Secret {
        let mut attrs = parse_attrs(self.connection.expose());
        let mut add = |key: &str, value: String| {
            if !attrs.iter().any(|a| a.is(key)) {
                attrs.push(Attr {
                    key: key.to_string(),
                    value,
                });
            }
        };
        match self.family {
            // Without StepAPI the SQLite driver materialises the whole result first.
            DriverFamily::SqliteOdbc => add("StepAPI", "1".into()),
            DriverFamily::PsqlOdbc => {
                // Without a declared cursor psqlODBC buffers the whole result in memory.
                add("UseDeclareFetch", "1".into());
                add("Fetch", fetch_rows.max(1).to_string());
                // Debian's odbcinst.ini turns on CommLog: a log file per connection in /tmp.
                add("CommLog", "0".into());
                add("Debug", "0".into());
            }
            DriverFamily::MariaDbOdbc => {
                // MariaDB Connector/ODBC stores the whole result client-side
                // unless told to stream (3.1.17 and later; older versions
                // ignore NO_CACHE and keep buffering) — and it streams only
                // forward-only cursors, which it does not default to.
                add("NO_CACHE", "1".into());
                add("FORWARDONLY", "1".into());
            }
            DriverFamily::Other => {}
        }
        Secret::new(render(&attrs))
    }

    /// The connection string as resolved (password included, no streaming
    /// options): what a shard's worker needs, for the spool's connection file only.
    pub fn resolved(&self) -> Secret {
        self.connection.clone()
    }

    /// The connection string with secrets replaced, for messages.
    pub fn redacted(&self) -> String {
        redact_connection_string(self.connection.expose())
    }
}

fn classify(name: &str, file: &Path) -> DriverFamily {
    let file = file
        .file_name()
        .map(|f| f.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.to_ascii_lowercase();
    if file.contains("sqlite") || name.contains("sqlite") {
        DriverFamily::SqliteOdbc
    } else if file.contains("psqlodbc") || name.contains("postgres") {
        DriverFamily::PsqlOdbc
    } else if file.contains("maodbc") || name.contains("mariadb") {
        DriverFamily::MariaDbOdbc
    } else {
        DriverFamily::Other
    }
}

/// The absolute path of a driver given by registered name or bare file
/// name; `None` when it is already a path or cannot be found (the driver
/// manager then reports the error itself).
fn resolve_driver(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return None;
    }
    let file = odbcinst_files()
        .iter()
        .find_map(|ini| odbcinst_driver(ini, name))
        .unwrap_or_else(|| name.to_string());
    if file.contains('/') {
        let p = PathBuf::from(&file);
        return p.is_absolute().then_some(p);
    }
    DRIVER_DIRS
        .iter()
        .map(|d| Path::new(d).join(&file))
        .find(|p| p.is_file())
}

fn odbcinst_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(dir) = std::env::var("ODBCSYSINI") {
        files.push(Path::new(&dir).join("odbcinst.ini"));
    }
    if let Ok(file) = std::env::var("ODBCINSTINI") {
        files.push(PathBuf::from(file));
    }
    files.push(PathBuf::from("/etc/odbcinst.ini"));
    files.push(PathBuf::from("/usr/local/etc/odbcinst.ini"));
    if let Ok(home) = std::env::var("HOME") {
        files.push(Path::new(&home).join(".odbcinst.ini"));
    }
    files
}

/// The `Driver=` entry of section `[name]` in an odbcinst.ini file.
fn odbcinst_driver(ini: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(ini).ok()?;
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = section.trim().eq_ignore_ascii_case(name);
            continue;
        }
        if in_section
            && let Some((k, v)) = line.split_once('=')
            && k.trim().eq_ignore_ascii_case("driver")
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

/// Reads the connection string and password a datalake's config points to.
pub fn from_config(datalake: &str, cfg: &DatalakeConfig) -> Result<OdbcTarget, DatalakeError> {
    let config_err = |what: String| DatalakeError::Config {
        datalake: datalake.to_string(),
        what,
    };
    let connection = if let Some(c) = &cfg.connection {
        c.expose().to_string()
    } else if let Some(var) = &cfg.connection_env {
        std::env::var(var).map_err(|_| {
            config_err(format!(
                "environment variable {var} (connection_env) is not set"
            ))
        })?
    } else if let Some(path) = &cfg.connection_file {
        read_secret_file(path)
            .map_err(|e| config_err(format!("connection_file {}: {e}", path.display())))?
    } else {
        return Err(config_err(
            "no connection, connection_env or connection_file".into(),
        ));
    };
    let password = if let Some(var) = &cfg.password_env {
        Some(std::env::var(var).map_err(|_| {
            config_err(format!(
                "environment variable {var} (password_env) is not set"
            ))
        })?)
    } else if let Some(path) = &cfg.password_file {
        Some(
            read_secret_file(path)
                .map_err(|e| config_err(format!("password_file {}: {e}", path.display())))?,
        )
    } else {
        None
    };
    OdbcTarget::new(datalake, &connection, password.as_deref())
}

/// A secret file's contents without the trailing newline editors add.
fn read_secret_file(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_appended_escaped_and_scrubbed() {
        let t = OdbcTarget::new("w", "Driver={Nope};Server=x;UID=u", Some("p;w}d")).unwrap();
        let s = t.connection_string(10);
        assert!(s.expose().ends_with("PWD={p;w}}d};"), "{}", s.expose());
        assert!(!format!("{t:?}").contains("p;w}d"));
        assert_eq!(t.scrubber().scrub("bad p;w}d here"), "bad *** here");
    }

    #[test]
    fn inline_password_is_a_secret_too() {
        let t = OdbcTarget::new("w", "Driver={Nope};PWD={s3cr;et};UID=u", None).unwrap();
        assert_eq!(t.scrubber().scrub("x s3cr;et y"), "x *** y");
        assert!(!t.redacted().contains("s3cr"));
    }

    #[test]
    fn spaced_braced_and_ssl_passwords_are_secrets_everywhere() {
        for (text, secret) in [
            ("Driver={Nope};PWD= {a;b};UID=u", "a;b"),
            ("Driver={Nope};sslpassword={k3y pass};UID=u", "k3y pass"),
            ("Driver={Nope}; Password = {p}}w;d} ;UID=u", "p}w;d"),
        ] {
            let t = OdbcTarget::new("w", text, None).unwrap();
            let shown = [
                format!("{t:?}"),
                t.redacted(),
                format!("{}", t.connection_string(10)),
                format!("{:?}", t.connection_string(10)),
                t.scrubber()
                    .scrub(&format!("driver said: bad login {secret} here")),
            ];
            for s in shown {
                assert!(!s.contains(secret), "{text}: {s}");
            }
            // The rest of the string parses as before: the UID is its own attribute.
            assert!(t.connection_string(10).expose().contains("UID=u;"));
        }
    }

    #[test]
    fn password_twice_is_refused() {
        assert!(OdbcTarget::new("w", "PWD=a", Some("b")).is_err());
    }

    #[test]
    fn registered_names_become_paths_and_get_stream_options() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("odbcinst.ini"),
            "[My Lite]\nDriver=/opt/x/libsqlite3odbc.so\n[PG]\nDriver=psqlodbcw.so\n",
        )
        .unwrap();
        assert_eq!(
            odbcinst_driver(&dir.path().join("odbcinst.ini"), "my lite").as_deref(),
            Some("/opt/x/libsqlite3odbc.so")
        );
        let t = OdbcTarget::new("w", "Driver={Some Postgres};Fetch=7", None).unwrap();
        assert_eq!(t.family(), DriverFamily::PsqlOdbc);
        let s = t.connection_string(100);
        assert!(s.expose().contains("UseDeclareFetch=1;"));
        assert!(s.expose().contains("Fetch=7;") && !s.expose().contains("Fetch=100"));
    }

    #[test]
    fn mariadb_connector_gets_its_streaming_option_unless_set() {
        let t = OdbcTarget::new("w", "Driver={MariaDB Unicode};Server=h;UID=u", Some("p")).unwrap();
        assert_eq!(t.family(), DriverFamily::MariaDbOdbc);
        let s = t.connection_string(10);
        assert!(
            s.expose().contains("NO_CACHE=1;FORWARDONLY=1;"),
            "{}",
            s.expose()
        );
        let t = OdbcTarget::new("w", "Driver=/opt/lib/libmaodbc.so;no_cache=0", None).unwrap();
        assert_eq!(t.family(), DriverFamily::MariaDbOdbc);
        let s = t.connection_string(10);
        assert!(s.expose().contains("no_cache=0;") && !s.expose().contains("NO_CACHE=1"));
    }

    #[test]
    fn parse_keeps_braced_semicolons() {
        let a = parse_attrs("Driver={A;B};X=1;Y={a}}b}");
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].unquoted(), "A;B");
        assert_eq!(a[2].unquoted(), "a}b");
    }
}
