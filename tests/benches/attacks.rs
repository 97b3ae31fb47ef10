//! The attacks of issue 10's "Why", each reproduced against a release `mld`
//! as its own process, run against two builds in the same run: a baseline
//! (`MLD_BASELINE_BIN_DIR`, e.g. a release build of a commit from before the
//! hardening) and this one (`target/release`, or `MLD_BIN_DIR`). Both run
//! with their default limits and the same configuration.
//!
//! - ping flood: 2,000,000 `Ping` frames written without reading an answer;
//!   the daemon's peak RSS, and another client's slowest `Ping` meanwhile;
//! - idle no-role connections: 1,024 connections from a user with no role
//!   that said hello and then nothing; root's `mldctl status` (the build's
//!   own) wall time and whether it answered;
//! - half frames: 40 connections each announcing a 16 MiB frame and sending
//!   15 MiB of it; RSS while they stay, and 35 s later (the default
//!   `frame_timeout` is 30 s);
//! - decode bombs: 10 connections each sending a 2 MB `ImportOnnx` frame of
//!   empty feature names; the daemon's RSS growth;
//! - heavy reads: 100 `Catalog` requests (a 300,000-row CSV dataset) from
//!   a user with the `dispatch` role, sent without waiting; how long, and
//!   the daemon's CPU time;
//! - denials: 20,000 admin-only requests from a user with the `dispatch`
//!   role, sent without waiting; how fast they were answered, the event-log
//!   rows and log lines they cost.
//!
//! Needs root (it runs clients as the test users of `mld_tests::users`).
//! `cargo build --release -p mld -p mldctl && MLD_BASELINE_BIN_DIR=/path/to/old/target/release
//! cargo bench -p mld-tests --bench attacks`. Take `flock /work/bench.lock`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mld_shared::frame;
use mld_shared::ids::{JobName, RequestId};
use mld_shared::protocol::*;
use mld_tests::process::{MldProcess, bin};
use mld_tests::users::{self, NOBODY, OPERATOR};
use serde_json::Value;

const MIB: u64 = 1024 * 1024;

struct Build {
    name: &'static str,
    dir: PathBuf,
}

/// A daemon of `build` in a fresh directory, with a configuration both
/// builds read (no `[limits]`: each runs with its defaults).
struct Target {
    dir: tempfile::TempDir,
    daemon: MldProcess,
    mldctl: PathBuf,
}

fn start(build: &Build) -> Target {
    let dir = tempfile::tempdir().unwrap();
    users::open_to_all(dir.path());
    let mut csv = String::from("a,b,c,d,label\n");
    for i in 0..300_000u32 {
        csv.push_str(&format!(
            "{}.{},{}.5,{},{}.25,{}\n",
            i % 97,
            i % 10,
            i % 13,
            i % 7,
            i % 31,
            ["x", "y", "z"][i as usize % 3]
        ));
    }
    std::fs::write(dir.path().join("big.csv"), csv).unwrap();
    let config = dir.path().join("mld.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nsocket_mode = \"0666\"\nstate_dir = \"state\"\nlog_level = \"info\"\n\n\
             [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
             [[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\nquery = \"SELECT id, x FROM t\"\n\
             key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"0 0 30 2 *\"\n\n\
             [models.datasets.big]\ncsv = \"big.csv\"\nlabel = \"label\"\n\n{}",
            users::access_toml()
        ),
    )
    .unwrap();
    let daemon = MldProcess::start_binary(
        &build.dir.join("mld"),
        &config,
        &dir.path().join("mld.sock"),
    );
    Target {
        dir,
        daemon,
        mldctl: build.dir.join("mldctl"),
    }
}

fn rss(daemon: &MldProcess) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", daemon.child.id()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / MIB)
}

/// A blocking connection as root that has said hello.
fn raw_client(socket: &Path) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(&frame::encode(&Hello::new("attacks")).unwrap())
        .unwrap();
    let payload = read_frame(&mut s).expect("a handshake reply");
    match frame::decode::<HelloReply>(&payload).unwrap() {
        HelloReply::Welcome(_) => s,
        other => panic!("{other:?}"),
    }
}

fn read_frame(s: &mut UnixStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut payload).ok()?;
    Some(payload)
}

fn encode(id: u64, request: Request) -> Vec<u8> {
    frame::encode(&ClientFrame {
        id: RequestId(id),
        request,
    })
    .unwrap()
}

/// One `Ping` round trip on a blocking connection (updates skipped).
fn ping(s: &mut UnixStream, id: u64) -> Duration {
    let t = Instant::now();
    s.write_all(&encode(id, Request::Ping)).unwrap();
    loop {
        let payload = read_frame(s).expect("the other client was cut off");
        if let Ok(ServerFrame::Response { id: got, .. }) = frame::decode(&payload)
            && got == RequestId(id)
        {
            return t.elapsed();
        }
    }
}

/// Samples the daemon's RSS until `done` is set; the peak.
fn sample_peak(pid: u32, done: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut peak = 0;
        while !done.load(Ordering::Relaxed) {
            let kib = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
            peak = peak.max(kib * 1024);
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    })
}

type Row = Vec<(&'static str, String)>;

/// An attack: its name, and what it does to a daemon (the numbers it reports).
type Attack = (&'static str, fn(&Target) -> Row);

fn ping_flood(t: &Target) -> Row {
    let mut other = raw_client(&t.daemon.socket);
    ping(&mut other, 1);
    let idle = rss(&t.daemon);
    let done = Arc::new(AtomicBool::new(false));
    let peak = sample_peak(t.daemon.child.id(), done.clone());
    let sent = Arc::new(AtomicU64::new(0));
    let flood = std::thread::spawn({
        let (socket, sent) = (t.daemon.socket.clone(), sent.clone());
        move || {
            let mut s = raw_client(&socket);
            s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
            for chunk in 0..200u64 {
                let bytes: Vec<u8> = (0..10_000)
                    .flat_map(|i| encode(chunk * 10_000 + i, Request::Ping))
                    .collect();
                if s.write_all(&bytes).is_err() {
                    return;
                }
                sent.fetch_add(10_000, Ordering::Relaxed);
            }
            // Everything was taken in: hold the connection, never reading,
            // while the daemon works through it.
            std::thread::sleep(Duration::from_secs(10));
        }
    });
    let mut worst = Duration::ZERO;
    let mut id = 2;
    while !flood.is_finished() {
        worst = worst.max(ping(&mut other, id));
        id += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    flood.join().unwrap();
    done.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap();
    vec![
        ("pings taken in", sent.load(Ordering::Relaxed).to_string()),
        ("RSS idle", mib(idle)),
        ("RSS peak", mib(peak)),
        ("other client's worst ping", format!("{worst:.1?}")),
    ]
}

fn idle_no_role(t: &Target) -> Row {
    let mut held = users::command_as(
        NOBODY,
        Path::new(env!("CARGO_BIN_EXE_mld-probe")),
        &[t.daemon.socket.to_str().unwrap(), "hold", "1024", "hello"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut line = String::new();
    BufReader::new(held.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let report: Value = serde_json::from_str(&line).unwrap();
    let mut times = Vec::new();
    let mut answered = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let out = Command::new(&t.mldctl)
            .args(["--socket", t.daemon.socket.to_str().unwrap(), "status"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        times.push(started.elapsed());
        if out.status.success() {
            answered += 1;
        }
    }
    drop(held.stdin.take());
    let _ = held.wait();
    times.sort();
    vec![
        (
            "no-role connections welcomed",
            format!("{} of 1024", report["welcomed"]),
        ),
        ("root's mldctl status answered", format!("{answered} of 5")),
        (
            "mldctl status median wall time",
            format!("{:.1?}", times[2]),
        ),
    ]
}

fn half_frames(t: &Target) -> Row {
    let _keep = raw_client(&t.daemon.socket);
    let idle = rss(&t.daemon);
    let chunk = Arc::new(vec![7u8; 15 * MIB as usize]);
    let senders: Vec<UnixStream> = (0..40)
        .map(|_| {
            let mut s = raw_client(&t.daemon.socket);
            s.write_all(&(16 * MIB as u32).to_be_bytes()).unwrap();
            s
        })
        .collect();
    let writers: Vec<_> = senders
        .iter()
        .map(|s| {
            let (mut s, chunk) = (s.try_clone().unwrap(), chunk.clone());
            std::thread::spawn(move || {
                let _ = s.write_all(&chunk);
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let with = rss(&t.daemon);
    std::thread::sleep(Duration::from_secs(35) - started.elapsed());
    let after = rss(&t.daemon);
    let open = senders
        .iter()
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            let mut s: &UnixStream = s;
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(_) => continue,
                    Err(e) => return e.kind() == std::io::ErrorKind::WouldBlock,
                }
            }
        })
        .count();
    vec![
        ("RSS idle", mib(idle)),
        ("RSS with 40 half frames", mib(with)),
        ("RSS 35 s later", mib(after)),
        ("half-frame connections still open", format!("{open} of 40")),
    ]
}

fn decode_bombs(t: &Target) -> Row {
    let bomb = encode(
        1,
        Request::ImportOnnx {
            name: String::new(),
            features: vec![String::new(); 2_000_000],
            labels: None,
            onnx: Vec::new(),
        },
    );
    let idle = rss(&t.daemon);
    let done = Arc::new(AtomicBool::new(false));
    let peak = sample_peak(t.daemon.child.id(), done.clone());
    let held: Vec<UnixStream> = (0..10)
        .map(|_| {
            let mut s = raw_client(&t.daemon.socket);
            let _ = s.write_all(&bomb);
            s
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    done.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap();
    drop(held);
    vec![
        ("frame size", format!("{:.1} MB", bomb.len() as f64 / 1e6)),
        ("RSS idle", mib(idle)),
        ("RSS peak with 10 such frames", mib(peak)),
    ]
}

/// The daemon's user + system CPU time so far.
fn cpu(daemon: &MldProcess) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", daemon.child.id())).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .unwrap()
        .unwrap() as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

fn heavy_reads(t: &Target) -> Row {
    let before = cpu(&t.daemon);
    let out = users::run_as(
        OPERATOR,
        Path::new(env!("CARGO_BIN_EXE_mld-probe")),
        &[
            t.daemon.socket.to_str().unwrap(),
            "flood",
            "100",
            &serde_json::to_string(&Request::Catalog).unwrap(),
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let used = cpu(&t.daemon) - before;
    vec![
        (
            "catalogs answered",
            format!("{} of 100", report["answered"]),
        ),
        (
            "time",
            format!("{:.2} s", report["seconds"].as_f64().unwrap()),
        ),
        ("daemon CPU time", format!("{:.2} s", used.as_secs_f64())),
    ]
}

fn denials(t: &Target) -> Row {
    let request = Request::DisableJob {
        job: JobName("score".into()),
        reason: None,
        until: None,
    };
    let out = users::run_as(
        OPERATOR,
        Path::new(env!("CARGO_BIN_EXE_mld-probe")),
        &[
            t.daemon.socket.to_str().unwrap(),
            "flood",
            "20000",
            &serde_json::to_string(&request).unwrap(),
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let seconds = report["seconds"].as_f64().unwrap();
    let denied = report["denied"].as_u64().unwrap();
    // Give the event log a moment to take the last ones in.
    std::thread::sleep(Duration::from_secs(2));
    let log = rusqlite::Connection::open(t.dir.path().join("state/events.db")).unwrap();
    let rows: i64 = log
        .query_row("SELECT count(*) FROM access_denials", [], |r| r.get(0))
        .unwrap();
    let lines = t
        .daemon
        .stderr()
        .lines()
        .filter(|l| l.contains("permission denied"))
        .count();
    vec![
        ("denials answered", format!("{denied} of 20000")),
        ("time", format!("{seconds:.2} s")),
        ("denials/s", format!("{:.0}", denied as f64 / seconds)),
        ("event-log rows", rows.to_string()),
        ("log lines", lines.to_string()),
    ]
}

fn main() {
    users::ensure();
    let mut builds = Vec::new();
    if let Some(dir) = std::env::var_os("MLD_BASELINE_BIN_DIR") {
        builds.push(Build {
            name: "baseline",
            dir: dir.into(),
        });
    }
    builds.push(Build {
        name: "this build",
        dir: bin("mld").parent().unwrap().to_path_buf(),
    });
    for b in &builds {
        println!("{}: {}", b.name, b.dir.display());
    }
    let attacks: [Attack; 6] = [
        ("2,000,000 pings never read", ping_flood),
        ("1,024 idle no-role connections", idle_no_role),
        ("40 half-sent 16 MiB frames", half_frames),
        ("2 MB ImportOnnx of empty names", decode_bombs),
        ("100 catalogs of a 300,000-row CSV", heavy_reads),
        ("20,000 denied requests", denials),
    ];
    let only = std::env::var("MLD_ATTACKS").ok();
    for (name, attack) in attacks {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let rows: Vec<Row> = builds
            .iter()
            .map(|b| {
                let mut t = start(b);
                let row = attack(&t);
                if let Ok(Some(status)) = t.daemon.child.try_wait() {
                    println!("  ({} daemon exited: {status})", b.name);
                }
                row
            })
            .collect();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "\n{name} (load {})",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
        print!("  {:<34}", "");
        for b in &builds {
            print!("{:>22}", b.name);
        }
        println!();
        for (i, (metric, _)) in rows[0].iter().enumerate() {
            print!("  {metric:<34}");
            for r in &rows {
                print!("{:>22}", r[i].1);
            }
            println!();
        }
    }
}
