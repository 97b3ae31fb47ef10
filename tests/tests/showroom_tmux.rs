//! The Showroom screen of the real `mldctl` console, driven in tmux against a
//! real `mld`: open the demo model's showroom, predict a setosa row on its
//! own, edit its `petal_length` to 5.0 and see the prediction change — at
//! 80×24 in colour and at 160×48 under `NO_COLOR`.

use mld_tests::process::{MldProcess, bin};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own (`tmux -L NAME`), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let socket = format!("mld-{name}-{}", std::process::id());
        let t = Tmux { socket };
        let status = t
            .cmd()
            .args(["new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(command)
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    /// The pane as text, or with its escape sequences (`-e`).
    fn capture(&self, escapes: bool) -> String {
        let mut c = self.cmd();
        c.args(["capture-pane", "-p", "-t", "t"]);
        if escapes {
            c.arg("-e");
        }
        let out = c.output().expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Waits until the pane shows every one of `words`; the screen on failure.
    fn wait_for(&self, words: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.capture(false);
            if words.iter().all(|w| screen.contains(w)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 30s for {words:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// Whether an SGR sequence in `raw` sets a colour (30–38, 40–48, 90–107;
/// 39 and 49, the defaults, do not count).
fn has_colour(raw: &str) -> bool {
    raw.split("\x1b[").skip(1).any(|seq| {
        let params = seq.split('m').next().unwrap_or("");
        params.split(';').any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        })
    })
}

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The demo's model and samples under a daemon of this test's own.
fn daemon(dir: &Path) -> MldProcess {
    let reg = mld::model::Registry::open(dir.join("registry"), None).unwrap();
    mld::training::demo::ensure_iris_model(&reg, &assets().join("iris.csv")).unwrap();
    let config = dir.join("mld.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\n\n\
             [models]\nregistry = \"registry\"\n\n\
             [showroom.iris]\nsamples = {:?}\ncolumns = 4\n",
            assets().join("iris-samples.csv").display().to_string()
        ),
    )
    .unwrap();
    MldProcess::start(&config, &dir.join("mld.sock"))
}

/// One person's path through the Showroom, at `width`×`height`.
fn edit_a_setosa(name: &str, width: u16, height: u16, no_color: bool) {
    let dir = tempfile::tempdir().unwrap();
    let _mld = daemon(dir.path());
    let command = format!(
        "env {} {} --socket {} --log-file {}",
        if no_color {
            "NO_COLOR=1"
        } else {
            "-u NO_COLOR"
        },
        bin("mldctl").display(),
        dir.path().join("mld.sock").display(),
        dir.path().join("mldctl.log").display()
    );
    let tmux = Tmux::start(name, width, height, &command);
    tmux.wait_for(&["connected"]);

    tmux.keys(&["3"]);
    tmux.wait_for(&["choose a model", "iris ok"]);
    tmux.keys(&["Enter"]);
    let rows = tmux.wait_for(&[
        "iris v1 · logistic_regression · 12 rows",
        "12 sample rows predicted",
    ]);
    // Row 4 of the demo samples: 4.8, 3, 1.4, 0.1 — a setosa.
    assert!(
        rows.lines()
            .any(|l| l.contains("  4 4.8") && l.contains("setosa")),
        "{rows}"
    );

    tmux.keys(&["Down", "Down", "Down", "Enter"]);
    tmux.wait_for(&["Row 4", "why setosa", "row 4: setosa"]);

    tmux.keys(&["e"]);
    tmux.wait_for(&["Edit row 4 of iris", "petal_length: 1.4"]);
    tmux.keys(&["Tab", "Tab", "C-u"]);
    tmux.keys(&["-l", "five"]);
    // Refused in the form, as typed: nothing is sent.
    tmux.wait_for(&["\"five\" is not a number"]);
    tmux.keys(&["C-u"]);
    tmux.keys(&["-l", "5.0"]);
    tmux.keys(&["Enter"]);
    let after = tmux.wait_for(&[
        "Row 4 edited: before and after",
        "petal_length 1.4 → 5",
        "row 4 edited: versicolor",
    ]);
    assert!(
        after.lines().any(|l| l.contains("prediction")
            && l.contains("setosa 0.9")
            && l.contains("versicolor 0.5")),
        "the prediction changes, side by side:\n{after}"
    );

    // Kept in the session's list, under the sample rows.
    tmux.keys(&["s"]);
    let kept = tmux.wait_for(&["+ 1 edited", "4✎"]);
    assert!(
        kept.lines()
            .any(|l| l.contains("4✎") && l.contains("versicolor")),
        "{kept}"
    );

    // Colour, or none at all under NO_COLOR.
    let raw = tmux.capture(true);
    assert_eq!(has_colour(&raw), !no_color, "{raw:?}");

    tmux.keys(&["q"]);
    // The daemon recorded each prediction the person saw: 12, row 4, the edit.
    let log = rusqlite::Connection::open(dir.path().join("state/events.db")).unwrap();
    let sources: Vec<(String, i64)> = log
        .prepare("SELECT source, edited FROM showroom_predictions ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sources.len(), 14, "{sources:?}");
    assert_eq!(sources[12], ("predict-one".to_string(), 0));
    assert_eq!(sources[13], ("predict-edited".to_string(), 1));
}

#[test]
fn edit_a_setosa_row_in_the_console_at_80x24_in_colour() {
    if !tmux_available() {
        panic!("tmux is needed for this test (apt-get install tmux; .ci/run installs it)");
    }
    edit_a_setosa("showroom-80", 80, 24, false);
}

#[test]
fn edit_a_setosa_row_in_the_console_at_160x48_without_colour() {
    if !tmux_available() {
        panic!("tmux is needed for this test (apt-get install tmux; .ci/run installs it)");
    }
    edit_a_setosa("showroom-160", 160, 48, true);
}
