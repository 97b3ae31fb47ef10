//! End to end, the console as a person drives it: the built `mld` on a
//! temporary configuration, the built `mldctl` in a detached tmux session of
//! 80×24 on its own tmux server, keys sent with `send-keys`, the screen read
//! with `capture-pane`. Every wait polls the screen against a deadline.
//!
//! Pause a job with a reason → the jobs table shows it disabled by this
//! user with that reason, and `mldctl jobs --json` agrees; run it now → a
//! new dispatch appears and succeeds; open it → its predictions page shows
//! rows; train from the form → an experiment appears; commit and activate
//! it → the Models screen shows the new active version.
//!
//! Then every screen, form and dialog at 160×48 under `NO_COLOR`: drawn
//! across the whole width, and without a single colour.

use mld_tests::process::{MldProcess, bin, mldctl};
use mld_tests::tmux::{Tmux, has_colour};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn config_text() -> String {
    let iris = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/iris.csv");
    // The job's schedule is far away: only "run now" dispatches it.
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
schedule = "0 3 1 1 *"
timezone = "UTC"
"#
    )
}

/// `mldctl` on `socket` in a `width`×`height` tmux session, its log in
/// `dir`; under `NO_COLOR` when `no_color`.
fn console(
    dir: &Path,
    socket: &Path,
    tag: &str,
    (width, height): (u16, u16),
    no_color: bool,
) -> Tmux {
    let command = format!(
        "env {colour} HOME={home} {mldctl} --socket {socket} --log-file {log}",
        colour = if no_color {
            "NO_COLOR=1"
        } else {
            "-u NO_COLOR"
        },
        home = dir.display(),
        mldctl = bin("mldctl").display(),
        socket = socket.display(),
        log = dir.join(format!("mldctl-{tag}.log")).display(),
    );
    Tmux::start(tag, width, height, &command)
}

fn json(config: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = mldctl(&all);
    assert!(out.status.success(), "mldctl {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// The number after `prefix` on the screen (`dispatch 3 started` → 3).
fn number_after(screen: &str, prefix: &str) -> u64 {
    let at = screen
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} in:\n{screen}"));
    screen[at + prefix.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|e| panic!("{e} after {prefix:?} in:\n{screen}"))
}

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap_or_else(|| nix::unistd::getuid().to_string())
}

#[test]
fn an_operator_does_the_whole_job_from_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let config_path: PathBuf = dir.path().join("mld.toml");
    std::fs::write(&config_path, config_text()).unwrap();
    let config = mld_shared::config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    // The iris model in the registry and the datalake's tables, as the demo has them.
    mld::demo::setup(&config).unwrap();
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&config_path, &socket);
    let tmux = console(dir.path(), &socket, "console-e2e", (80, 24), false);

    // The Monitor, connected, with the job.
    tmux.wait_for("the Monitor with the job", |s| {
        s.contains("● connected") && s.contains("score") && s.contains("active")
    });
    assert!(
        has_colour(&tmux.screen_with_escapes()),
        "without NO_COLOR the console is in colour"
    );
    let user = me();

    // Pause with a reason and an end: the form, then the question.
    tmux.keys(&["d"]);
    tmux.wait_text("Pause score");
    tmux.type_text("db maintenance");
    tmux.keys(&["Tab"]);
    tmux.type_text("2h");
    tmux.keys(&["Enter"]);
    tmux.wait_text("y/Enter pause");
    tmux.keys(&["y"]);
    let screen = tmux.wait_text("✓ score paused until");
    assert!(screen.contains("disabled"), "{screen}");
    let screen = tmux.wait_text(&format!("disabled by {user}"));
    assert!(screen.contains("db maintenance"), "{screen}");
    // The script interface agrees.
    let jobs = json(&config_path, &["jobs", "--json"]);
    let job = &jobs.as_array().unwrap()[0];
    assert_eq!(job["name"], "score");
    assert_eq!(job["state"], "disabled");
    assert_eq!(job["disabled_by"], user.as_str());
    assert_eq!(job["reason"], "db maintenance");
    let until: jiff::Timestamp = job["until"].as_str().unwrap().parse().unwrap();
    let in_two_hours = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
    assert!(
        in_two_hours.duration_since(until).abs() < jiff::SignedDuration::from_mins(2),
        "until {until}"
    );

    // Resume (an optional reason), then run it now.
    tmux.keys(&["e"]);
    tmux.wait_text("Resume score");
    tmux.type_text("done");
    tmux.keys(&["Enter"]);
    tmux.wait_text("✓ score resumed");
    tmux.keys(&["r"]);
    tmux.wait_text("y/Enter run now");
    tmux.keys(&["y"]);
    let screen = tmux.wait_text("✓ score: dispatch ");
    let id = number_after(&screen, "✓ score: dispatch ");

    // Dispatches: it appears and succeeds.
    tmux.keys(&["2"]);
    let row = format!("{id:>6} score");
    tmux.wait_for("the dispatch succeeded in the list", |s| {
        s.lines()
            .any(|l| l.contains(&row) && l.contains("succeeded"))
    });
    // Open it: a page of its predictions, with rows.
    tmux.keys(&["g", "Enter"]);
    let screen = tmux.wait_text("Predictions 1–100 of 150");
    assert!(screen.contains(&format!("Dispatch {id}")), "{screen}");
    assert!(
        screen
            .lines()
            .filter(|l| l.contains("setosa") || l.contains("versicolor") || l.contains("virginica"))
            .count()
            >= 5,
        "rows of predictions:\n{screen}"
    );
    tmux.keys(&["PageDown"]);
    tmux.wait_text("Predictions 101–150 of 150");
    escape(&tmux, "Predictions 101–150");

    // Models: train from the form, built from the catalog.
    tmux.keys(&["4"]);
    tmux.wait_text("[Versions 1]");
    tmux.keys(&["t"]);
    let form = tmux.wait_text("Train a model");
    assert!(form.contains("dataset: iris"), "{form}");
    tmux.keys(&["Enter"]);
    tmux.wait_text("✓ training run ");
    tmux.wait_for("the training succeeded", |s| {
        s.contains("[Trainings 1]") && s.contains("succeeded")
    });
    // The experiment appears.
    tmux.keys(&["Left"]);
    let screen = tmux.wait_text("[Experiments 1]");
    let experiments = json(&config_path, &["experiments", "--json"]);
    let experiment = experiments.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        screen.contains(&experiment[..16]),
        "{experiment} on screen:\n{screen}"
    );

    // Commit it as the next version of iris, then make that version active.
    tmux.keys(&["c"]);
    tmux.wait_text("Model name: iris");
    tmux.keys(&["Enter"]);
    tmux.wait_text("committed as iris v2");
    tmux.wait_text("[Versions 2]");
    tmux.keys(&["g", "a"]);
    tmux.wait_text("Activate iris v2");
    tmux.keys(&["y"]);
    tmux.wait_text("✓ iris: version 2 is active");
    let screen = tmux.wait_for("v2 active in the table", |s| {
        s.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.windows(3).any(|w| w == ["iris", "2", "active"])
        })
    });
    assert!(
        !screen.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.windows(3).any(|w| w == ["iris", "1", "active"])
        }),
        "only one version is active:\n{screen}"
    );
    let models = json(&config_path, &["models", "--json"]);
    let iris = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "iris")
        .unwrap();
    assert_eq!(iris["active"], 2, "{iris}");
}

/// Esc, then waits for `text` to go: a key sent right after an Esc could
/// reach the console with it, as Alt and that key.
fn escape(tmux: &Tmux, text: &str) {
    tmux.keys(&["Escape"]);
    tmux.wait_for(&format!("{text:?} gone after Esc"), |s| !s.contains(text));
}

/// Checks the screen on show under `NO_COLOR` at 160×48: no colour at all,
/// the frame drawn to the last column, nothing the console logs as a
/// problem. Returns the text.
fn wide_and_plain(tmux: &Tmux, what: &str) -> String {
    let raw = tmux.screen_with_escapes();
    assert!(!has_colour(&raw), "{what}: colour under NO_COLOR:\n{raw}");
    let screen = tmux.screen();
    assert!(
        screen.lines().any(|l| l.chars().count() == 160),
        "{what}: nothing drawn to column 160:\n{screen}"
    );
    screen
}

#[test]
fn every_screen_at_160x48_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let config_path: PathBuf = dir.path().join("mld.toml");
    std::fs::write(&config_path, config_text()).unwrap();
    let config = mld_shared::config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    mld::demo::setup(&config).unwrap();
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&config_path, &socket);
    let tmux = console(dir.path(), &socket, "console-wide", (160, 48), true);

    // Monitor: the wide layout has the next dispatch's instant too.
    tmux.wait_for("the Monitor with the job", |s| {
        s.contains("● connected") && s.contains("score") && s.contains("active")
    });
    let screen = wide_and_plain(&tmux, "monitor");
    assert!(screen.contains("LAST PROBES"), "{screen}");
    tmux.keys(&["?"]);
    tmux.wait_text("Keys (Esc closes)");
    wide_and_plain(&tmux, "help");
    escape(&tmux, "Keys (Esc closes)");
    tmux.keys(&["d"]);
    tmux.wait_text("Pause score");
    wide_and_plain(&tmux, "pause form");
    escape(&tmux, "Pause score");
    tmux.keys(&["r"]);
    tmux.wait_text("y/Enter run now");
    wide_and_plain(&tmux, "run now question");
    tmux.keys(&["y"]);
    let screen = tmux.wait_text("✓ score: dispatch ");
    let id = number_after(&screen, "✓ score: dispatch ");

    // Dispatches, the window form, the opened dispatch.
    tmux.keys(&["2"]);
    let row = format!("{id:>6} score");
    tmux.wait_for("the dispatch succeeded in the list", |s| {
        s.lines()
            .any(|l| l.contains(&row) && l.contains("succeeded"))
    });
    let screen = wide_and_plain(&tmux, "dispatches");
    assert!(screen.contains("Rows scored · time taken"), "{screen}");
    tmux.keys(&["w"]);
    tmux.wait_text("Dispatch window");
    wide_and_plain(&tmux, "window form");
    escape(&tmux, "Dispatch window");
    tmux.keys(&["g", "Enter"]);
    let screen = tmux.wait_text("Predictions 1–100 of 150");
    wide_and_plain(&tmux, "dispatch opened");
    assert!(
        screen.contains("Classes") && screen.contains("Events"),
        "{screen}"
    );
    escape(&tmux, "Predictions 1–100");

    // Showroom: none is configured here, and it says how to add one.
    tmux.keys(&["3"]);
    tmux.wait_text("No showroom is configured.");
    wide_and_plain(&tmux, "showroom");

    // Models: the versions with their hash, one opened, the training form.
    tmux.keys(&["4"]);
    let screen = tmux.wait_text("[Versions 1]");
    wide_and_plain(&tmux, "models");
    assert!(screen.contains("HASH"), "{screen}");
    tmux.keys(&["Enter"]);
    tmux.wait_text("Confusion");
    wide_and_plain(&tmux, "version opened");
    escape(&tmux, "Confusion");
    tmux.keys(&["t"]);
    tmux.wait_text("Train a model");
    wide_and_plain(&tmux, "training form");
    escape(&tmux, "Train a model");
    tmux.keys(&["l"]);
    tmux.wait_text("[Experiments 0]");
    wide_and_plain(&tmux, "experiments");
    tmux.keys(&["l", "l"]);
    tmux.wait_text("random_forest");
    wide_and_plain(&tmux, "catalog");
}

/// The processes whose command line holds every one of `parts`.
fn processes_with(parts: &[&str]) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if parts.iter().all(|p| cmdline.contains(p)) {
            found.push(pid);
        }
    }
    found
}

/// Alive and not a zombie (an orphan is not reaped here: PID 1 does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// The SSH session running `mldctl demo` goes away: the terminal hangs up
/// (SIGHUP to its processes) and writing to it fails. The console ends and
/// `mldctl demo` stops the daemon it started, instead of dying on the dead
/// terminal and leaving the daemon running.
#[test]
fn a_hung_up_demo_stops_the_daemon_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let command = format!(
        "env HOME={home} XDG_STATE_HOME={home}/state {mldctl} demo --dir {demo}",
        home = dir.path().display(),
        mldctl = bin("mldctl").display(),
        demo = demo.display(),
    );
    let tmux = Tmux::start("hangup", 80, 24, &command);
    tmux.wait_text("1 Monitor");
    let config = demo.join("config/mld.toml");
    let config = config.to_str().unwrap();
    let daemons = processes_with(&["--init-demo", config]);
    assert_eq!(daemons.len(), 1, "one demo daemon: {daemons:?}");
    let daemon = daemons[0];
    assert!(alive(daemon));

    // The terminal goes away under the console (an SSH session dropping).
    let out = tmux.run(&["kill-server"]);
    assert!(out.status.success(), "{out:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while alive(daemon) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(demo.join("state/mld.log")).unwrap_or_default();
    assert!(
        !alive(daemon),
        "the demo daemon {daemon} still runs after its terminal hung up; its log:\n{log}"
    );
    assert!(
        log.contains("SIGTERM: shutting down"),
        "the daemon was stopped gracefully (SIGTERM), not killed; its log:\n{log}"
    );
}
