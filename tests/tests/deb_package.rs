//! The Debian package, built by `cargo deb` and installed on this machine
//! with `dpkg -i`: it creates the `mld` user and the `mld`/`mld-admin`
//! groups and `/var/lib/mld`; the daemon runs as `mld` with the packaged
//! configuration, started the way the unit says (its `ExecStartPre` and
//! `ExecStart` lines through `runuser`, since there is no systemd here; the
//! unit passes `systemd-analyze verify`); root and members of the groups get
//! their roles; an upgrade keeps a changed `/etc/mld/mld.toml`; `dpkg -r`
//! keeps the state and `dpkg -P` removes it.
//!
//! It changes the machine, so it needs root (CI runs as root) and fails,
//! saying so, without it. It cleans up after itself: the package is purged
//! and its test users deleted even when an assertion fails. Runs of it on
//! one machine take turns (a lock in /tmp).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Members of `mld` only; of both groups; of neither.
const OPERATOR: &str = "mldt-pkg-operator";
const ADMIN: &str = "mldt-pkg-admin";
const OUTSIDER: &str = "mldt-pkg-outsider";

fn sh(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = sh(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn installed() -> bool {
    sh("dpkg-query", &["-W", "-f=${Status}", "mld"])
        .stdout
        .starts_with(b"install ok installed")
}

fn user_exists(name: &str) -> bool {
    nix::unistd::User::from_name(name).ok().flatten().is_some()
}

fn group_exists(name: &str) -> bool {
    nix::unistd::Group::from_name(name).ok().flatten().is_some()
}

/// Undoes whatever the test did to the machine, whatever happened.
struct Cleanup {
    daemon: Option<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        for user in [OPERATOR, ADMIN, OUTSIDER] {
            if user_exists(user) {
                let _ = sh("userdel", &[user]);
            }
        }
        if installed() || sh("dpkg-query", &["-W", "mld"]).status.success() {
            let _ = sh("dpkg", &["--purge", "mld"]);
        }
    }
}

fn require(program: &str, why: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{program} is needed {why} (.ci/run installs it)");
}

/// `cargo deb -p mld`: the real package, release build and all.
fn build_package() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["deb", "-p", "mld", "--locked"])
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .expect("run cargo deb");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo deb failed (is cargo-deb installed? `cargo install cargo-deb --locked`):\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.ends_with(".deb"))
        .unwrap_or_else(|| panic!("cargo deb named no .deb:\n{stdout}"));
    let deb = root.join(deb);
    assert!(deb.exists(), "{}", deb.display());
    deb
}

/// The value of `Key=` in a unit file (the first one).
fn unit_line(unit: &str, key: &str) -> String {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the unit has no {key}="))
        .to_string()
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .permissions()
        .mode()
        & 0o7777
}

fn owner(path: &str) -> (String, String) {
    let m = std::fs::metadata(path).unwrap();
    let user = nix::unistd::User::from_uid(m.uid().into())
        .unwrap()
        .unwrap();
    let group = nix::unistd::Group::from_gid(m.gid().into())
        .unwrap()
        .unwrap();
    (user.name, group.name)
}

/// `mldctl status --json` as `user` (root when `None`), with the installed
/// binary and the packaged configuration's socket.
fn status_as(user: Option<&str>) -> Output {
    let mut c = match user {
        None => Command::new("/usr/bin/mldctl"),
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--", "/usr/bin/mldctl"]);
            c
        }
    };
    c.args(["status", "--json"])
        .stdin(Stdio::null())
        .output()
        .expect("run mldctl")
}

fn roles_of(user: Option<&str>) -> Vec<String> {
    let out = status_as(user);
    assert!(
        out.status.success(),
        "mldctl status as {user:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

/// The process running `/usr/bin/mld` under `runuser`'s child (runuser
/// forks and waits).
fn daemon_pid(runuser: u32) -> Option<u32> {
    let exe = |pid: u32| std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    if exe(runuser).is_some_and(|e| e == Path::new("/usr/bin/mld")) {
        return Some(runuser);
    }
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == runuser && exe(pid).is_some_and(|e| e == Path::new("/usr/bin/mld"))).then_some(pid)
    })
}

fn uid_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

fn has_debug_info(binary: &str) -> bool {
    let sections = ok("readelf", &["-S", "-W", binary]);
    sections.contains(".debug_info") || sections.contains(".debug_line")
}

#[test]
fn the_debian_package_installs_runs_as_mld_and_purges() {
    assert!(
        nix::unistd::getuid().is_root(),
        "this test installs a Debian package (dpkg -i), creates users and runs the daemon as `mld`: \
         run it as root (CI does)"
    );
    for (program, why) in [
        ("dpkg", "to install the package"),
        ("runuser", "to run the daemon and mldctl as other users"),
        ("systemd-analyze", "to verify the unit"),
        ("readelf", "to check the binaries are stripped"),
        ("man", "to render the installed pages"),
        ("useradd", "to create the test users"),
    ] {
        require(program, why);
    }
    // One run at a time on this machine: the package is system-wide.
    let lock = std::fs::File::create("/tmp/mld-deb-package-test.lock").unwrap();
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("lock");
    assert!(
        !installed() && !user_exists("mld") && !Path::new("/var/lib/mld").exists(),
        "this machine has an mld package, user or /var/lib/mld already: the test installs and \
         purges its own, so remove those first (dpkg -P mld)"
    );
    let deb = build_package();
    let mut cleanup = Cleanup { daemon: None };
    let size = std::fs::metadata(&deb).unwrap().len();
    eprintln!("{}: {size} bytes", deb.display());

    // What is inside, before installing.
    let contents = ok("dpkg-deb", &["--contents", deb.to_str().unwrap()]);
    for path in [
        "./usr/bin/mld",
        "./usr/bin/mldctl",
        "./etc/mld/mld.toml",
        "./usr/share/man/man8/mld.8.gz",
        "./usr/share/man/man1/mldctl.1.gz",
        "./usr/share/man/man1/mldctl-dispatches.1.gz",
        "./usr/share/bash-completion/completions/mldctl",
        "./usr/share/zsh/vendor-completions/_mldctl",
        "./usr/share/fish/vendor_completions.d/mldctl.fish",
        "/mld.service",
    ] {
        assert!(
            contents.contains(path),
            "the package lacks {path}:\n{contents}"
        );
    }
    let conffiles = ok("dpkg-deb", &["--info", deb.to_str().unwrap(), "conffiles"]);
    assert!(
        conffiles.lines().any(|l| l.trim() == "/etc/mld/mld.toml"),
        "{conffiles}"
    );

    // Install.
    ok("dpkg", &["-i", deb.to_str().unwrap()]);
    assert!(installed());
    let mld = nix::unistd::User::from_name("mld")
        .unwrap()
        .expect("the mld user");
    assert!(mld.uid.as_raw() < 1000, "a system user: {}", mld.uid);
    assert_eq!(mld.dir, Path::new("/var/lib/mld"));
    assert_eq!(mld.shell, Path::new("/usr/sbin/nologin"));
    let mld_group = nix::unistd::Group::from_name("mld")
        .unwrap()
        .expect("the mld group");
    assert_eq!(mld.gid, mld_group.gid, "mld's own group is `mld`");
    assert!(group_exists("mld-admin"));
    assert_eq!(owner("/var/lib/mld"), ("mld".into(), "mld".into()));
    assert_eq!(mode("/var/lib/mld"), 0o700);
    for binary in ["/usr/bin/mld", "/usr/bin/mldctl"] {
        assert!(!has_debug_info(binary), "{binary} ships with debug info");
        eprintln!(
            "{binary}: {} bytes",
            std::fs::metadata(binary).unwrap().len()
        );
    }
    let version = ok("/usr/bin/mld", &["--version"]);
    assert!(version.contains(mld_shared::VERSION), "{version}");
    for page in [
        "/usr/share/man/man8/mld.8.gz",
        "/usr/share/man/man1/mldctl.1.gz",
    ] {
        let out = Command::new("man")
            .args(["-l", page])
            .env("MANWIDTH", "80")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty() && out.stdout.len() > 500,
            "man -l {page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The unit, as installed and as in the repository: systemd accepts it
    // now that its binaries exist.
    let listed = ok("dpkg", &["-L", "mld"]);
    let unit_path = listed
        .lines()
        .find(|l| l.ends_with("/systemd/system/mld.service"))
        .unwrap_or_else(|| panic!("no unit installed:\n{listed}"))
        .to_string();
    let repo_unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/mld.service");
    assert_eq!(
        std::fs::read_to_string(&unit_path).unwrap(),
        std::fs::read_to_string(&repo_unit).unwrap(),
        "the package ships config/mld.service as it is"
    );
    for unit in [unit_path.as_str(), repo_unit.to_str().unwrap()] {
        let out = sh("systemd-analyze", &["verify", unit]);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {unit}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Start it as systemd would: the runtime directory, then ExecStartPre
    // and ExecStart as User=mld, with the unit's environment.
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert_eq!(unit_line(&unit, "User"), "mld");
    assert_eq!(unit_line(&unit, "RuntimeDirectory"), "mld");
    let runtime_mode = u32::from_str_radix(&unit_line(&unit, "RuntimeDirectoryMode"), 8).unwrap();
    let _ = std::fs::remove_dir_all("/run/mld");
    ok(
        "install",
        &[
            "-d",
            "-o",
            "mld",
            "-g",
            "mld",
            "-m",
            &format!("{runtime_mode:o}"),
            "/run/mld",
        ],
    );
    let pre = unit_line(&unit, "ExecStartPre");
    let pre: Vec<&str> = pre.split_whitespace().collect();
    let mut args = vec!["-u", "mld", "--"];
    args.extend(&pre);
    let checked = ok("runuser", &args);
    assert!(checked.contains("valid"), "{checked}");
    let start = unit_line(&unit, "ExecStart");
    let start: Vec<&str> = start.split_whitespace().collect();
    assert_eq!(start[0], "/usr/bin/mld");
    let log = tempfile::NamedTempFile::new().unwrap();
    let daemon = Command::new("runuser")
        .args(["-u", "mld", "--"])
        .args(&start)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .expect("start the daemon through runuser");
    let runuser = daemon.id();
    cleanup.daemon = Some(daemon);
    let socket = "/run/mld/mld.sock";
    let deadline = Instant::now() + Duration::from_secs(60);
    while status_as(None).status.code() != Some(0) {
        assert!(
            Instant::now() < deadline,
            "the packaged daemon did not answer on {socket}:\n{}",
            std::fs::read_to_string(log.path()).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = daemon_pid(runuser).expect("the daemon's process");
    assert_eq!(uid_of(pid), mld.uid.as_raw(), "the daemon runs as mld");
    assert_eq!(owner(socket), ("mld".into(), "mld".into()));
    assert_eq!(mode(socket), 0o660);
    assert!(
        Path::new("/var/lib/mld/events.db").exists(),
        "the event log is in the state"
    );

    // Roles: root is admin; the group `mld` connects with the dispatch
    // role; `mld-admin` (and `mld`, to pass the socket) is admin; others
    // cannot connect at all.
    ok(
        "useradd",
        &["-M", "-N", "-s", "/usr/sbin/nologin", "-G", "mld", OPERATOR],
    );
    ok(
        "useradd",
        &[
            "-M",
            "-N",
            "-s",
            "/usr/sbin/nologin",
            "-G",
            "mld,mld-admin",
            ADMIN,
        ],
    );
    ok(
        "useradd",
        &["-M", "-N", "-s", "/usr/sbin/nologin", OUTSIDER],
    );
    assert!(roles_of(None).contains(&"admin".to_string()), "root");
    assert_eq!(roles_of(Some(OPERATOR)), ["dispatch"]);
    assert!(roles_of(Some(ADMIN)).contains(&"admin".to_string()));
    let outsider = status_as(Some(OUTSIDER));
    assert!(!outsider.status.success());
    let said = String::from_utf8_lossy(&outsider.stderr);
    assert!(said.to_lowercase().contains("permission denied"), "{said}");
    // An admin-only request: refused to the operator, done for the admin.
    let reload = |user: &str| {
        Command::new("runuser")
            .args(["-u", user, "--", "/usr/bin/mldctl", "reload"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let refused = reload(OPERATOR);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("permission denied") && said.contains("admin"),
        "{said}"
    );
    assert!(reload(ADMIN).status.success());

    // Stop it as systemd would (SIGTERM): a clean exit.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut daemon = cleanup.daemon.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let exited = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log_text = std::fs::read_to_string(log.path()).unwrap_or_default();
    assert!(exited.success(), "{exited}:\n{log_text}");
    assert!(log_text.contains("stopped"), "{log_text}");

    // An upgrade (the same package again) keeps a changed configuration.
    let conf = "/etc/mld/mld.toml";
    let changed = std::fs::read_to_string(conf)
        .unwrap()
        .replace("log_level = \"info\"", "log_level = \"debug\"");
    std::fs::write(conf, &changed).unwrap();
    ok("dpkg", &["-i", deb.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(conf).unwrap(),
        changed,
        "the local change was kept"
    );

    // Remove: the state, the configuration and the user stay.
    for user in [OPERATOR, ADMIN, OUTSIDER] {
        ok("userdel", &[user]);
    }
    ok("dpkg", &["-r", "mld"]);
    assert!(!Path::new("/usr/bin/mld").exists());
    assert!(
        Path::new("/var/lib/mld/events.db").exists(),
        "remove keeps the state"
    );
    assert!(Path::new(conf).exists(), "remove keeps the configuration");
    assert!(user_exists("mld"));

    // Purge: all of it goes.
    ok("dpkg", &["-P", "mld"]);
    assert!(
        !Path::new("/var/lib/mld").exists(),
        "purge removes the state"
    );
    assert!(
        !Path::new("/etc/mld").exists(),
        "purge removes the configuration"
    );
    assert!(!Path::new("/run/mld").exists());
    assert!(!user_exists("mld"));
    assert!(!group_exists("mld") && !group_exists("mld-admin"));
    assert!(!sh("dpkg-query", &["-W", "mld"]).status.success());
}
