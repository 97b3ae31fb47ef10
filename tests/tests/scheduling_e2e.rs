//! End to end, scheduling and dispatches: the built `mld` scoring a real
//! SQLite datalake with a model trained here, steered and inspected with the
//! built `mldctl` as a script would (`--json`).

use mld_tests::process::{MldProcess, bin, mldctl};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// Rows in the demo table: the 150 iris flowers, then two the model cannot score.
const SCORABLE: u64 = 150;
const UNSCORABLE: u64 = 2;

/// A daemon on a fresh directory: the iris model in its registry, the demo's
/// `iris_incoming` and `iris_scores` tables in its SQLite datalake.
struct Fixture {
    dir: tempfile::TempDir,
    config: PathBuf,
    socket: PathBuf,
    lake: PathBuf,
    daemon: Option<MldProcess>,
}

fn config_text(schedule: &str, extra: &str) -> String {
    let iris = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/iris.csv");
    format!(
        r#"[daemon]
socket = "mld.sock"
socket_mode = "0666"
state_dir = "state"
log_level = "debug"

[datalakes.lake]
kind = "sqlite"
path = "lake.db"
probe_table = "iris_incoming"

[models]
registry = "models"

[models.datasets.iris]
csv = "{iris}"
label = "species"

[[jobs]]
name = "score"
datalake = "lake"
model = "iris"
query = "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_incoming"
key_column = "id"
results_table = "iris_scores"
schedule = "{schedule}"
timezone = "UTC"
{extra}"#
    )
}

impl Fixture {
    fn start(schedule: &str, extra: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.toml");
        std::fs::write(&path, config_text(schedule, extra)).unwrap();
        let config = mld_shared::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        // Trains `iris` into the registry and fills the datalake, as `mldctl demo` does.
        mld::demo::setup(&config).unwrap();
        let socket = dir.path().join("mld.sock");
        let daemon = MldProcess::start(&path, &socket);
        let lake = dir.path().join("lake.db");
        Fixture {
            dir,
            config: path,
            socket,
            lake,
            daemon: Some(daemon),
        }
    }

    fn ctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["--socket", self.socket.to_str().unwrap()];
        all.extend_from_slice(args);
        mldctl(&all)
    }

    /// Runs `mldctl ARGS` (which must include `--json`), expecting success.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "mldctl {args:?} failed: {}\n{}",
            stderr(&out),
            self.daemon_log()
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("mldctl {args:?}: {e}: {}", stdout(&out)))
    }

    fn dispatches(&self) -> Vec<Value> {
        let list = self.json(&["dispatches", "--since", "1h", "--job", "score", "--json"]);
        list.as_array().unwrap().clone()
    }

    fn finished(&self) -> Vec<Value> {
        self.dispatches()
            .into_iter()
            .filter(|d| d["finished_at"].is_string())
            .collect()
    }

    /// `(dispatch_id, rows, distinct row keys)` per dispatch in the results table.
    fn results(&self) -> Vec<(i64, u64, u64)> {
        results_by_dispatch(&self.lake)
    }

    fn result_count(&self) -> u64 {
        self.results().iter().map(|(_, n, _)| n).sum()
    }

    fn daemon_log(&self) -> String {
        self.daemon.as_ref().map(|d| d.stderr()).unwrap_or_default()
    }
}

/// `(dispatch_id, rows, distinct row keys)` per dispatch in `iris_scores`,
/// read with the sqlite3 shell so the test shares no code with the daemon.
fn results_by_dispatch(lake: &Path) -> Vec<(i64, u64, u64)> {
    let out = std::process::Command::new("sqlite3")
        .arg(lake)
        .arg(
            "SELECT dispatch_id, count(*), count(DISTINCT row_key) FROM iris_scores \
             GROUP BY dispatch_id ORDER BY dispatch_id",
        )
        .output()
        .expect("the sqlite3 shell is installed");
    assert!(out.status.success(), "sqlite3: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Polls `f` until it yields, failing the test after `limit`.
fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `mldctl ARGS` fails with exit code 1 and one line on stderr saying `expected`.
fn one_line(fx: &Fixture, args: &[&str], expected: &str) {
    let out = fx.ctl(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "mldctl {args:?}: {}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "mldctl {args:?}: {err}");
    assert!(err.contains(expected), "mldctl {args:?}: {err}");
}

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap_or_else(|| nix::unistd::getuid().to_string())
}

/// The counts of a succeeded dispatch of the whole demo table.
fn assert_complete(d: &Value) {
    assert_eq!(d["status"], "succeeded", "{d:#}");
    assert_eq!(d["rows_collected"], SCORABLE + UNSCORABLE, "{d:#}");
    assert_eq!(d["rows_predicted"], SCORABLE, "{d:#}");
    assert_eq!(d["rows_unscorable"], UNSCORABLE, "{d:#}");
    assert_eq!(d["rows_stored"], SCORABLE, "{d:#}");
    assert_eq!(d["rows_inserted"], SCORABLE, "{d:#}");
    assert_eq!(d["error"], Value::Null, "{d:#}");
    assert_eq!(d["failed_step"], Value::Null, "{d:#}");
    assert_eq!(d["model"], "iris", "{d:#}");
    assert!(
        d["model_hash"].as_str().is_some_and(|h| !h.is_empty()),
        "{d:#}"
    );
    for key in ["created_at", "started_at", "finished_at"] {
        let t = d[key].as_str().unwrap();
        t.parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("{key} {t:?} is not RFC 3339: {e}"));
    }
}

#[test]
fn a_seconds_schedule_scores_and_writes_one_row_per_scored_row() {
    let fx = Fixture::start("*/2 * * * * *", "");
    let done = eventually(Duration::from_secs(15), "two finished dispatches", || {
        let done = fx.finished();
        (done.len() >= 2).then_some(done)
    });
    let mut ids = Vec::new();
    for d in &done {
        assert_complete(d);
        assert_eq!(d["trigger"], "schedule", "{d:#}");
        assert_eq!(d["requested_by"], "scheduler", "{d:#}");
        assert!(
            d["slot"].is_string(),
            "a scheduled dispatch serves a slot: {d:#}"
        );
        ids.push(d["id"].as_i64().unwrap());
    }
    // Exactly one result row per scored row per dispatch: no duplicates, no
    // unscorable rows, nothing from a dispatch that did not finish.
    let results = fx.results();
    for id in &ids {
        let row = results.iter().find(|(d, _, _)| d == id);
        assert_eq!(
            row,
            Some(&(*id, SCORABLE, SCORABLE)),
            "dispatch {id}: {results:?}"
        );
    }
    for (id, rows, keys) in &results {
        assert_eq!((*rows, *keys), (SCORABLE, SCORABLE), "dispatch {id}");
    }

    // One dispatch in detail: the seven steps in order, counts that reconcile,
    // the unscorable rows with their key and reason.
    let id = ids[0].to_string();
    let detail = fx.json(&["dispatch", &id, "--events", "--json"]);
    let steps: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "created",
            "started",
            "collected",
            "predicted",
            "stored",
            "inserted",
            "finished"
        ]
    );
    let rows = |step: &str| {
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["step"] == step)
            .unwrap()["rows"]
            .as_u64()
    };
    assert_eq!(rows("collected"), Some(SCORABLE + UNSCORABLE));
    assert_eq!(rows("predicted"), Some(SCORABLE));
    assert_eq!(rows("stored"), rows("predicted"));
    assert_eq!(rows("inserted"), rows("stored"));
    // The demo's datalake is in WAL mode, so the results were written while
    // the rows were read: no note of the sequential fallback.
    let inserted = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["step"] == "inserted")
        .unwrap();
    assert_eq!(inserted["message"], Value::Null, "{inserted:#}");
    let mode = std::process::Command::new("sqlite3")
        .arg(&fx.lake)
        .arg("PRAGMA journal_mode")
        .output()
        .unwrap();
    assert_eq!(stdout(&mode).trim(), "wal");
    assert_eq!(
        detail["rows_collected"].as_u64().unwrap(),
        detail["rows_predicted"].as_u64().unwrap() + detail["rows_unscorable"].as_u64().unwrap()
    );
    let seqs: Vec<u64> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.is_sorted(), "{seqs:?}");
    let unscorable: Vec<(&str, &str)> = detail["unscorable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["row_key"].as_str().unwrap(),
                u["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(unscorable.len(), 2, "{unscorable:?}");
    assert_eq!(unscorable[0].0, "151");
    assert!(unscorable[0].1.contains("petal_length"), "{unscorable:?}");
    assert_eq!(unscorable[1].0, "152");
    assert!(unscorable[1].1.contains("sepal_width"), "{unscorable:?}");
    let classes: u64 = detail["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(classes, SCORABLE);

    // Predictions, paged through by mldctl (pages of 100), and searched by key.
    let page = fx.json(&["dispatch", &id, "--predictions", "--limit", "120", "--json"]);
    let keys: Vec<&str> = page["predictions"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["row_key"].as_str().unwrap())
        .collect();
    assert_eq!(page["predictions"]["total"], SCORABLE);
    assert_eq!(keys.len(), 120);
    assert_eq!(
        keys.iter().collect::<BTreeSet<_>>().len(),
        120,
        "no key twice across pages"
    );
    assert!(keys.is_sorted(), "in key order: {keys:?}");
    let found = fx.json(&["dispatch", &id, "--predictions", "--search", "15", "--json"]);
    let keys: BTreeSet<&str> = found["predictions"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["row_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, BTreeSet::from(["15", "115", "150"]));
    assert_eq!(found["predictions"]["total"], 3);

    // The job itself, and the same facts for people.
    let jobs = fx.json(&["jobs", "--json"]);
    let job = &jobs[0];
    assert_eq!(job["name"], "score");
    assert_eq!(job["state"], "active");
    assert_eq!(job["cron"], "*/2 * * * * *");
    assert_eq!(job["timezone"], "UTC");
    assert!(
        job["last"].is_string() && job["next"].is_string(),
        "{job:#}"
    );
    // The socket and the default window from the daemon's configuration file.
    let by_config = mldctl(&[
        "--config",
        fx.config.to_str().unwrap(),
        "dispatches",
        "--json",
    ]);
    assert!(by_config.status.success(), "{}", stderr(&by_config));
    let by_config: Value = serde_json::from_slice(&by_config.stdout).unwrap();
    assert!(
        by_config.as_array().unwrap().len() >= ids.len(),
        "{by_config:#}"
    );
    let table = stdout(&fx.ctl(&["dispatches"]));
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(" succeeded "), "{table}");
    let text = stdout(&fx.ctl(&["dispatch", &id, "--events", "--predictions"]));
    assert!(
        text.contains("152 collected, 150 predicted, 2 unscorable, 150 stored, 150 inserted"),
        "{text}"
    );
    assert!(text.contains("predictions: 100 of 150"), "{text}");
}

#[test]
fn disable_stops_dispatches_history_says_who_and_why_enable_resumes() {
    let fx = Fixture::start("* * * * * *", "");
    eventually(Duration::from_secs(10), "a first dispatch", || {
        (!fx.finished().is_empty()).then_some(())
    });

    let job = fx.json(&["disable", "score", "--reason", "maintenance", "--json"]);
    assert_eq!(job["state"], "disabled", "{job:#}");
    assert_eq!(job["disabled_by"], me());
    assert_eq!(job["reason"], "maintenance");
    assert_eq!(
        job["next"],
        Value::Null,
        "a paused job has no next dispatch"
    );
    // A dispatch started just before the pause may still finish.
    eventually(Duration::from_secs(10), "no running dispatch", || {
        let jobs = fx.json(&["jobs", "--json"]);
        jobs[0]["running"].is_null().then_some(())
    });
    let before = fx.dispatches().len();
    std::thread::sleep(Duration::from_millis(3_500));
    assert_eq!(
        fx.dispatches().len(),
        before,
        "no dispatch while the job is disabled"
    );
    let jobs = fx.json(&["jobs", "--json"]);
    assert_eq!(jobs[0]["state"], "disabled");

    let history = fx.json(&["history", "score", "--json"]);
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["by"], me(), "{history:#}");
    assert_eq!(last["from"], "active", "{history:#}");
    assert_eq!(last["to"], "disabled", "{history:#}");
    assert_eq!(last["reason"], "maintenance", "{history:#}");

    let job = fx.json(&["enable", "score", "--reason", "done", "--json"]);
    assert_eq!(job["state"], "active", "{job:#}");
    assert_eq!(job["disabled_by"], Value::Null);
    assert!(job["next"].is_string(), "{job:#}");
    let history = fx.json(&["history", "score", "--json"]);
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("disabled"), Some("active"))
    );
    assert_eq!(last["reason"], "done");

    // The slots that fell during the pause are in the ledger.
    let slots = fx.json(&["slots", "score", "--since", "1m", "--json"]);
    let decisions: Vec<&str> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["decision"].as_str().unwrap())
        .collect();
    let skipped = decisions
        .iter()
        .filter(|d| **d == "skipped-disabled")
        .count();
    assert!(skipped >= 3, "{decisions:?}");
    assert!(decisions.contains(&"ran"), "{decisions:?}");

    // And it runs again.
    eventually(Duration::from_secs(10), "a dispatch after enable", || {
        (fx.dispatches().len() > before).then_some(())
    });
    let text = stdout(&fx.ctl(&["history", "score"]));
    assert!(text.contains("maintenance"), "{text}");
}

#[test]
fn run_now_waits_for_success_and_a_dry_run_writes_nothing() {
    // A schedule that does not fire during the test: only manual runs.
    let fx = Fixture::start("0 0 1 1 *", "");
    let out = fx.ctl(&["run", "score", "--wait"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr(&out),
        fx.daemon_log()
    );
    let text = stdout(&out);
    assert!(
        text.contains(
            "succeeded: 152 collected, 150 predicted, 2 unscorable, 150 stored, 150 inserted"
        ),
        "{text}"
    );
    let list = fx.dispatches();
    assert_eq!(list.len(), 1);
    assert_complete(&list[0]);
    assert_eq!(list[0]["trigger"], "manual");
    assert_eq!(list[0]["requested_by"], me());
    assert_eq!(fx.result_count(), SCORABLE);

    let dry = fx.json(&["run", "score", "--dry-run", "5", "--json"]);
    assert_eq!(dry["predictions"].as_array().unwrap().len(), 5, "{dry:#}");
    assert_eq!(dry["would_write"].as_array().unwrap().len(), 5, "{dry:#}");
    assert_eq!(dry["results_table"], "iris_scores");
    assert_eq!(
        dry["columns"].as_array().unwrap().len(),
        dry["would_write"][0].as_array().unwrap().len()
    );
    let text = stdout(&fx.ctl(&["run", "score", "--dry-run", "5"]));
    assert!(text.contains("5 scored"), "{text}");
    assert!(text.contains("nothing was written"), "{text}");
    assert_eq!(fx.result_count(), SCORABLE, "a dry run writes nothing");
    assert_eq!(fx.dispatches().len(), 1, "a dry run is not a dispatch");

    // Without --wait: the id, at once.
    let started = fx.json(&["run", "score", "--json"]);
    let id = started["dispatch"].as_i64().unwrap();
    assert!(id > list[0]["id"].as_i64().unwrap(), "{started:#}");

    // A pause with an expiry given as a length of time.
    let job = fx.json(&["disable", "score", "--until", "2h", "--json"]);
    let until: jiff::Timestamp = job["until"].as_str().unwrap().parse().unwrap();
    let expected = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
    assert!(
        (until - expected).get_seconds().abs() < 60,
        "{until} vs {expected}"
    );
    let out = fx.ctl(&["disable", "score", "--until", "2020-01-01T00:00:00-03:00"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    let broken = r#"
[[jobs]]
name = "broken"
datalake = "lake"
model = "iris"
query = "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris_incoming"
key_column = "id"
results_table = "missing_scores"
schedule = "0 0 1 1 *"
"#;
    let mut fx = Fixture::start("0 0 1 1 *", broken);

    // A dispatch that fails: --wait says where and why, and exits 1.
    let out = fx.ctl(&["run", "broken", "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("failed at inserted"), "{err}");
    assert!(stdout(&out).contains("failed"), "{}", stdout(&out));
    assert_eq!(fx.result_count(), 0);

    one_line(&fx, &["enable", "nope"], "no job named \"nope\"");
    one_line(&fx, &["slots", "nope", "--json"], "no job named \"nope\"");
    one_line(&fx, &["history", "nope"], "no job named \"nope\"");
    one_line(&fx, &["run", "nope"], "no job named \"nope\"");
    one_line(&fx, &["dispatch", "999"], "no dispatch 999");
    one_line(&fx, &["cancel", "999"], "999");
    one_line(
        &fx,
        &["dispatches", "--since", "yesterday"],
        "\"yesterday\" is neither",
    );

    // Someone without a role: as `nobody`, when the test can switch users.
    if nix::unistd::getuid().is_root() && Path::new("/usr/sbin/runuser").exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let as_nobody = |args: &[&str]| {
            std::process::Command::new("/usr/sbin/runuser")
                .args(["-u", "nobody", "--"])
                .arg(bin("mldctl"))
                .arg("--socket")
                .arg(&fx.socket)
                .args(args)
                .output()
                .unwrap()
        };
        // A peer with no role at all is refused at the handshake, whatever it asks.
        let expected = format!(
            "refused the connection: permission denied: no role for uid {}",
            nix::unistd::User::from_name("nobody").unwrap().unwrap().uid
        );
        for args in [
            &["disable", "score"][..],
            &["run", "score", "--wait"][..],
            &["jobs", "--json"][..],
        ] {
            let out = as_nobody(args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.contains(&expected), "{args:?}: {err}");
        }
        let jobs = fx.json(&["jobs", "--json"]);
        assert!(
            jobs[0]["disabled_by"].is_null(),
            "nothing changed: {jobs:#}"
        );
    }

    // No daemon at all.
    fx.daemon = None;
    for args in [
        &["jobs", "--json"][..],
        &["dispatches"],
        &["dispatch", "1", "--events"],
        &["run", "score", "--wait"],
        &["disable", "score"],
    ] {
        one_line(&fx, args, "no mld daemon answers at");
    }
}
