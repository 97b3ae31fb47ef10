//! The real `mldctl` driven as a person would: a tmux server of our own
//! (`tmux -L` a name no one else uses), run in the foreground as our child
//! so it is reaped, one detached session of a given size running the
//! command; keys sent with `send-keys`, the screen read with
//! `capture-pane`, every wait polling against a deadline.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a wait for the screen lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Tmux {
    name: String,
    server: Child,
}

impl Tmux {
    /// A `width`×`height` session named `console` running `command` (a
    /// shell command line); `tag` keeps two servers of one test apart.
    pub fn start(tag: &str, width: u16, height: u16, command: &str) -> Tmux {
        let name = format!("mld-{tag}-{}", std::process::id());
        let server = Command::new("tmux")
            .args(["-L", &name, "-f", "/dev/null", "-D"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tmux is installed (.ci/run installs it)");
        let tmux = Tmux { name, server };
        // The server takes a moment to listen.
        let deadline = Instant::now() + Duration::from_secs(10);
        let (w, h) = (width.to_string(), height.to_string());
        loop {
            let args = [
                "new-session",
                "-d",
                "-s",
                "console",
                "-x",
                &w,
                "-y",
                &h,
                command,
            ];
            if tmux.run(&args).status.success() {
                break;
            }
            assert!(Instant::now() < deadline, "the tmux server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        tmux
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// The pane as text.
    pub fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "console"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane with its escape sequences (colours, bold…).
    pub fn screen_with_escapes(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-e", "-t", "console"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The process the pane runs (the command, once it has exec'd).
    pub fn pane_pid(&self) -> i32 {
        let out = self.run(&["display-message", "-p", "-t", "console", "#{pane_pid}"]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("pane pid {text:?}: {e}"))
    }

    /// Sends tmux key names (`Enter`, `Escape`, `d`…), one by one.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.run(&["send-keys", "-t", "console", k]);
            assert!(out.status.success(), "send-keys {k}: {out:?}");
        }
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", "console", "-l", text]);
        assert!(out.status.success(), "{out:?}");
    }

    /// Polls the screen until `ready` holds; fails with the last screen.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Whether the session (its command) is still running.
    pub fn running(&self) -> bool {
        self.run(&["has-session", "-t", "console"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // q first, so mldctl exits and the server reaps it; then the server.
        let _ = self.run(&["send-keys", "-t", "console", "q"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.running() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.run(&["kill-server"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.server.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Whether an SGR sequence in `raw` (a `capture-pane -e`) sets a colour:
/// 30–38, 40–48, 90–97, 100–107 (39 and 49, the defaults, do not count).
pub fn has_colour(raw: &str) -> bool {
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
