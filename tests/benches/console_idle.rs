//! The console's CPU when nobody touches it: a release `mldctl` connected
//! to a release `mld`, in tmux, for 60 idle seconds, four at once: the
//! Monitor of a job due every minute (its countdown in seconds: a redraw a
//! second, and a dispatch a minute to show), of a job due daily (`in 3h
//! 04m`: a redraw a minute), of a job due yearly (`in 33d 02h`), and the
//! Models screen (nothing moves). The daemon
//! probes its datalake and pushes health every `refresh` (5s here), so the
//! consoles also receive what a real one does.
//!
//! Baseline in the same run, in the same kind of tmux pane: `top -d 1`,
//! the terminal monitor every machine has, redrawing once a second. CPU is
//! the process's user + system time from `/proc/PID/stat` over the window;
//! frames are the console's own count, logged when it closes.
//!
//! `cargo build --release -p mld -p mldctl && cargo bench -p mld-tests --bench console_idle`
//! (`MLD_BENCH_IDLE_SECONDS`, default 60, changes the window).

use mld_tests::process::{MldProcess, bin};
use mld_tests::tmux::Tmux;
use std::path::Path;
use std::time::{Duration, Instant};

fn config_text(schedule: &str) -> String {
    let iris = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/iris.csv");
    format!(
        r#"[daemon]
socket = "mld.sock"
state_dir = "state"

[monitor]
refresh = "5s"

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
"#
    )
}

/// User + system CPU time of `pid` so far.
fn cpu(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    // The command name may hold spaces: the fields start after its ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .unwrap()
        .unwrap_or(100) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// A daemon with one job on `schedule`, the iris model and its datalake.
fn daemon(dir: &Path, schedule: &str) -> MldProcess {
    let config_path = dir.join("mld.toml");
    std::fs::write(&config_path, config_text(schedule)).unwrap();
    let config = mld_shared::config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    mld::demo::setup(&config).unwrap();
    MldProcess::start(&config_path, &dir.join("mld.sock"))
}

struct Console {
    what: &'static str,
    tmux: Tmux,
    pid: i32,
    log: std::path::PathBuf,
}

fn console(tag: &str, what: &'static str, dir: &Path, tab: &str, ready: &str) -> Console {
    let log = dir.join(format!("mldctl-{tag}.log"));
    let command = format!(
        "env HOME={home} {mldctl} --socket {socket} --log-file {log}",
        home = dir.display(),
        mldctl = bin("mldctl").display(),
        socket = dir.join("mld.sock").display(),
        log = log.display(),
    );
    let tmux = Tmux::start(tag, 80, 24, &command);
    tmux.wait_text("● connected");
    tmux.keys(&[tab]);
    tmux.wait_text(ready);
    let pid = tmux.pane_pid();
    Console {
        what,
        tmux,
        pid,
        log,
    }
}

/// The frames the console logged when it closed.
fn frames(log: &Path) -> u64 {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("console closed"))
        .unwrap_or_else(|| panic!("no 'console closed' in {}:\n{text}", log.display()));
    let at = line.find("frames=").expect("frames=") + "frames=".len();
    line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: u64 = std::env::var("MLD_BENCH_IDLE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let minutely = tempfile::tempdir().unwrap();
    let _minutely = daemon(minutely.path(), "* * * * *");
    let daily = tempfile::tempdir().unwrap();
    let _daily = daemon(daily.path(), "0 3 * * *");
    let yearly = tempfile::tempdir().unwrap();
    let _yearly = daemon(yearly.path(), "0 3 1 1 *");

    let consoles = [
        console(
            "idle-minutely",
            "monitor, due every minute",
            minutely.path(),
            "1",
            "score",
        ),
        console(
            "idle-daily",
            "monitor, due daily",
            daily.path(),
            "1",
            "score",
        ),
        console(
            "idle-yearly",
            "monitor, due yearly",
            yearly.path(),
            "1",
            "score",
        ),
        console(
            "idle-models",
            "models screen",
            yearly.path(),
            "4",
            "[Versions 1]",
        ),
    ];
    let top = Tmux::start("idle-top", 80, 24, "env TERM=screen top -d 1");
    top.wait_text("load average");
    let top_pid = top.pane_pid();

    // Let the first draws and answers settle.
    std::thread::sleep(Duration::from_secs(2));
    let start = Instant::now();
    let before: Vec<Duration> = consoles.iter().map(|c| cpu(c.pid)).collect();
    let top_before = cpu(top_pid);
    std::thread::sleep(Duration::from_secs(seconds));
    let wall = start.elapsed();
    let after: Vec<Duration> = consoles.iter().map(|c| cpu(c.pid)).collect();
    let top_used = cpu(top_pid) - top_before;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    println!(
        "── idle for {:.0}s, 80x24, load {} ──",
        wall.as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / wall.as_secs_f64();
    println!("{:<34} {:>9} {:>8} {:>9}", "", "cpu", "% core", "vs top");
    println!(
        "{:<34} {:>8.3}s {:>7.3}% {:>9}",
        "baseline: top -d 1",
        top_used.as_secs_f64(),
        pct(top_used),
        "1.00x"
    );
    let mut results = Vec::new();
    for ((c, b), a) in consoles.iter().zip(&before).zip(&after) {
        let used = *a - *b;
        results.push((c.what, used));
    }
    drop(top);
    for (c, (what, used)) in consoles.into_iter().zip(results) {
        let log = c.log.clone();
        drop(c.tmux); // q: the console logs its frames as it closes
        let ratio = if top_used.is_zero() {
            "-".to_string()
        } else {
            format!("{:.2}x", used.as_secs_f64() / top_used.as_secs_f64())
        };
        println!(
            "{:<34} {:>8.3}s {:>7.3}% {:>9}   {} frames drawn in all (since it started)",
            format!("mldctl: {what}"),
            used.as_secs_f64(),
            pct(used),
            ratio,
            frames(&log)
        );
    }
}
