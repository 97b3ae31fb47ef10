//! End to end, a configuration reload: the built `mld` re-reads its file on
//! `mldctl reload` (answering what changed, or why the file was refused) and
//! on SIGHUP; jobs added, removed and changed take effect at once and are in
//! each job's history; an invalid file keeps everything as it was.

use mld_tests::process::{MldProcess, mldctl};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

const NEVER: &str = "0 0 30 2 *";
const QUERY: &str =
    "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_incoming";

/// A job on the demo tables.
fn job(name: &str, schedule: &str, query: &str) -> String {
    format!(
        "[[jobs]]\nname = \"{name}\"\ndatalake = \"lake\"\nmodel = \"iris\"\nquery = \"{query}\"\n\
         key_column = \"id\"\nresults_table = \"iris_scores\"\nschedule = \"{schedule}\"\ntimezone = \"UTC\"\n"
    )
}

fn config_text(max: u32, jobs: &[String]) -> String {
    let iris = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/iris.csv");
    format!(
        "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\nlog_level = \"debug\"\n\
         max_concurrent_dispatches = {max}\n\n\
         [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
         [models]\nregistry = \"models\"\n\n[models.datasets.iris]\ncsv = \"{iris}\"\nlabel = \"species\"\n\n{}",
        jobs.join("\n")
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    config: PathBuf,
    socket: PathBuf,
    daemon: MldProcess,
}

impl Fixture {
    fn start(text: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("mld.toml");
        std::fs::write(&config, text).unwrap();
        let loaded = mld_shared::config::load(&config).unwrap_or_else(|e| panic!("{e}"));
        mld::demo::setup(&loaded).unwrap();
        let socket = dir.path().join("mld.sock");
        let daemon = MldProcess::start(&config, &socket);
        Fixture {
            _dir: dir,
            config,
            socket,
            daemon,
        }
    }

    fn rewrite(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }

    fn ctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["--socket", self.socket.to_str().unwrap()];
        all.extend_from_slice(args);
        mldctl(&all)
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "mldctl {args:?}: {}\n{}",
            text(&out.stderr),
            self.daemon.stderr()
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn job_names(&self) -> Vec<String> {
        self.json(&["jobs", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn last_change(&self, job: &str) -> Value {
        let h = self.json(&["history", job, "--json"]);
        h.as_array().unwrap().last().unwrap().clone()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap()
}

fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_reload_adds_removes_and_changes_jobs_and_an_invalid_file_changes_nothing() {
    let fx = Fixture::start(&config_text(
        2,
        &[job("score", NEVER, QUERY), job("other", NEVER, QUERY)],
    ));
    assert_eq!(fx.job_names(), ["score", "other"]);

    // score: new schedule and query; other: removed; fresh: added, every second.
    let first_100 = format!("{QUERY} WHERE id <= 100");
    let v2 = config_text(
        3,
        &[
            job("score", "0 3 * * *", &first_100),
            job("fresh", "* * * * * *", QUERY),
        ],
    );
    fx.rewrite(&v2);
    let out = fx.ctl(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    for line in [
        "job other removed",
        r#"job score: schedule "0 0 30 2 *" → "0 3 * * *"; query changed"#,
        "job fresh added",
        "daemon.max_concurrent_dispatches 2 → 3",
    ] {
        assert!(said.contains(line), "{line:?} not in:\n{said}");
    }
    assert!(said.contains(fx.config.to_str().unwrap()), "{said}");
    // Nothing changed since: nothing to say.
    let again = fx.json(&["reload", "--json"]);
    assert_eq!(again["changes"], serde_json::json!([]), "{again:#}");

    assert_eq!(fx.job_names(), ["score", "fresh"]);
    let jobs = fx.json(&["jobs", "--json"]);
    assert_eq!(jobs[0]["cron"], "0 3 * * *", "{jobs:#}");
    // The added job runs at once.
    eventually(
        Duration::from_secs(15),
        "a dispatch of the added job",
        || {
            let d = fx.json(&["dispatches", "--since", "1h", "--job", "fresh", "--json"]);
            (!d.as_array().unwrap().is_empty()).then_some(())
        },
    );
    // Each change is in the job's history, with who reloaded.
    let removed = fx.last_change("other");
    assert_eq!(
        (removed["from"].as_str(), removed["to"].as_str()),
        (Some("active"), Some("removed")),
        "{removed:#}"
    );
    assert_eq!(removed["by"], me());
    let changed = fx.last_change("score");
    assert_eq!(changed["by"], me());
    assert_eq!(
        changed["reason"],
        r#"changed by a configuration reload: schedule "0 0 30 2 *" → "0 3 * * *"; query changed"#
    );
    let added = fx.last_change("fresh");
    assert_eq!(
        added["reason"],
        "first seen: added by a configuration reload"
    );
    // The new query is the one a dispatch uses.
    let done = fx.json(&["run", "score", "--wait", "--json"]);
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["rows_collected"], 100, "{done:#}");

    // An invalid file: refused with the file, line and key; nothing changes.
    fx.rewrite(&v2.replace("[daemon]\n", "[daemon]\nsocket_colour = \"blue\"\n"));
    let out = fx.ctl(&["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("socket_colour") && err.contains("mld.toml") && err.contains("kept"),
        "{err}"
    );
    assert_eq!(fx.job_names(), ["score", "fresh"]);
    // The same by signal: the daemon keeps running on what it had.
    fx.daemon.signal(nix::sys::signal::Signal::SIGHUP);
    eventually(Duration::from_secs(10), "the refusal in the log", || {
        fx.daemon
            .stderr()
            .contains("reload refused, keeping the running configuration")
            .then_some(())
    });
    assert_eq!(fx.job_names(), ["score", "fresh"]);

    // A valid file by signal: fresh goes, recorded as removed by SIGHUP.
    fx.rewrite(&config_text(3, &[job("score", "0 3 * * *", &first_100)]));
    fx.daemon.signal(nix::sys::signal::Signal::SIGHUP);
    eventually(Duration::from_secs(10), "fresh removed", || {
        (fx.job_names() == ["score"]).then_some(())
    });
    let removed = fx.last_change("fresh");
    assert_eq!(
        (removed["by"].as_str(), removed["to"].as_str()),
        (Some("SIGHUP"), Some("removed")),
        "{removed:#}"
    );
    // Its dispatches stop.
    std::thread::sleep(Duration::from_millis(500));
    let count = || {
        fx.json(&["dispatches", "--since", "1h", "--job", "fresh", "--json"])
            .as_array()
            .unwrap()
            .len()
    };
    let before = count();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(count(), before, "a removed job kept firing");
    assert!(fx.socket.exists());
}

fn sqlite3(db: &std::path::Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 shell is installed");
    assert!(out.status.success(), "sqlite3: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[test]
fn mldctl_retry_redoes_a_failed_write_back_once() {
    let fx = Fixture::start(&config_text(2, &[job("score", NEVER, QUERY)]));
    let lake = fx.config.with_file_name("lake.db");
    sqlite3(&lake, "ALTER TABLE iris_scores RENAME TO iris_scores_away");
    let out = fx.ctl(&["run", "score", "--wait", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let failed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(failed["failed_step"], "inserted", "{failed:#}");
    let id = failed["id"].as_i64().unwrap().to_string();

    // Still broken: the retry fails the same way and writes nothing.
    let out = fx.ctl(&["retry", &id, "--wait"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("at inserted"),
        "{}",
        text(&out.stderr)
    );

    sqlite3(&lake, "ALTER TABLE iris_scores_away RENAME TO iris_scores");
    let done = fx.json(&["retry", &id, "--wait", "--json"]);
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["rows_inserted"], 150, "{done:#}");
    assert_eq!(
        sqlite3(
            &lake,
            "SELECT count(*), count(DISTINCT row_key), min(dispatch_id), max(dispatch_id) FROM iris_scores"
        ),
        format!("150|150|{id}|{id}")
    );
    let out = fx.ctl(&["retry", &id]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("dispatch {id} cannot be retried: it succeeded")),
        "{err}"
    );
    let events = fx.json(&["dispatch", &id, "--events", "--json"]);
    let steps: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps.iter().filter(|s| **s == "resumed").count(),
        2,
        "{steps:?}"
    );
}
