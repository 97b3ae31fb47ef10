//! Abuse, as a hostile local user would try it, against the built `mld`
//! binary as its own process (SPEC.md "Protocol", issue 10): each defect that
//! was found is kept here as a test.
//!
//! - a ping flood that never reads the answers: the daemon stops reading it,
//!   cuts it off, and its memory stays under a stated bound;
//! - 2,000 idle connections from a user with no role: root's `status`
//!   answers within 100 ms; per-user caps and admin-only slots hold;
//! - 40 half-sent 16 MiB frames: the memory they pinned returns after the
//!   frame deadline;
//! - garbage, truncated, oversized, slow (one byte a second) and never-reading
//!   clients all at once, while another client keeps getting answers;
//! - passwords in every spelling stay out of the log and the wire.
//!
//! Needs root for the other users (see `mld_tests::users`).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mld_shared::frame;
use mld_shared::ids::RequestId;
use mld_shared::protocol::*;
use mld_shared::time::WireTime;
use mld_tests::client::Client;
use mld_tests::process::MldProcess;
use mld_tests::users::{self, ADMIN, ANALYST, NOBODY, OPERATOR};
use serde_json::Value;

const MIB: u64 = 1024 * 1024;

fn probe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mld-probe"))
}

/// The tests here run one at a time: each measures a daemon's memory and
/// latency, which the others' floods would disturb.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn start(limits: &str, extra: &str) -> (tempfile::TempDir, MldProcess) {
    start_with(limits, extra, |_| {})
}

/// [`start`], with `prepare` run on the daemon's folder before it starts.
fn start_with(
    limits: &str,
    extra: &str,
    prepare: impl FnOnce(&Path),
) -> (tempfile::TempDir, MldProcess) {
    users::ensure();
    let dir = tempfile::tempdir().unwrap();
    users::open_to_all(dir.path());
    prepare(dir.path());
    let path = dir.path().join("mld.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nsocket_mode = \"0666\"\nstate_dir = \"state\"\nlog_level = \"debug\"\n\n\
             [monitor]\nrefresh = \"60s\"\n\n\
             [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
             [[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\nquery = \"SELECT id, x FROM t\"\n\
             key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"0 0 30 2 *\"\n\n{}\n{extra}\n[limits]\n{limits}\n",
            users::access_toml()
        ),
    )
    .unwrap();
    let daemon = MldProcess::start(&path, &dir.path().join("mld.sock"));
    (dir, daemon)
}

/// The daemon's resident memory, in bytes.
fn rss(daemon: &MldProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.child.id())).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// A blocking connection as root that has said hello.
fn raw_client(socket: &Path) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(&frame::encode(&Hello::new("abuse")).unwrap())
        .unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut payload).unwrap();
    match frame::decode::<HelloReply>(&payload).unwrap() {
        HelloReply::Welcome(_) => s,
        other => panic!("{other:?}"),
    }
}

fn ping_frames(from: u64, n: u64) -> Vec<u8> {
    (from..from + n)
        .flat_map(|i| {
            frame::encode(&ClientFrame {
                id: RequestId(i),
                request: Request::Ping,
            })
            .unwrap()
        })
        .collect()
}

/// Round trips of `Status` from root for `for_how_long`: the slowest, and
/// how many there were.
async fn status_round_trips(c: &mut Client, for_how_long: Duration) -> (Duration, usize) {
    let end = Instant::now() + for_how_long;
    let (mut worst, mut n) = (Duration::ZERO, 0);
    while Instant::now() < end {
        let t = Instant::now();
        assert!(matches!(
            c.request(Request::Status).await,
            Ok(Response::Status(_))
        ));
        worst = worst.max(t.elapsed());
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (worst, n)
}

/// The stated bound for the ping flood: the daemon's memory grows by less
/// than this over its idle size (it grew by 3.5 GB before the fix).
const FLOOD_GROWTH_BOUND: u64 = 64 * MIB;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_that_never_reads_stays_under_its_memory_bound() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_dir, daemon) = start("write_timeout = \"3s\"\n", "");
    let mut other = Client::connect(&daemon.socket).await.unwrap();
    assert!(other.request(Request::Status).await.is_ok());
    let idle = rss(&daemon);
    // 2,000,000 pings, sent as fast as the socket takes them, never reading.
    let socket = daemon.socket.clone();
    let sent = Arc::new(AtomicU64::new(0));
    let flood = std::thread::spawn({
        let sent = sent.clone();
        move || {
            let mut s = raw_client(&socket);
            s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
            for chunk in 0..200u64 {
                let bytes = ping_frames(chunk * 10_000, 10_000);
                if s.write_all(&bytes).is_err() {
                    return false;
                }
                sent.fetch_add(10_000, Ordering::Relaxed);
            }
            true
        }
    });
    let mut peak = idle;
    let mut worst = Duration::ZERO;
    let started = Instant::now();
    while !flood.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the flood was never cut off"
        );
        peak = peak.max(rss(&daemon));
        let t = Instant::now();
        assert_eq!(other.request(Request::Ping).await, Ok(Response::Pong));
        worst = worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished_all = flood.join().unwrap();
    assert!(
        !finished_all,
        "all {} pings were taken in: nothing stopped the flood",
        sent.load(Ordering::Relaxed)
    );
    eprintln!(
        "ping flood: {} pings written before the cut-off, daemon RSS {} MiB idle, {} MiB peak; other client's worst ping {worst:?}",
        sent.load(Ordering::Relaxed),
        idle / MIB,
        peak / MIB
    );
    assert!(
        peak < idle + FLOOD_GROWTH_BOUND,
        "RSS grew from {} to {} MiB",
        idle / MIB,
        peak / MIB
    );
    assert!(worst < Duration::from_secs(1), "{worst:?}");
    assert_eq!(other.request(Request::Ping).await, Ok(Response::Pong));
}

/// `mld-probe hold N` as `user`; returns the child (holding until dropped) and its report.
struct Held {
    child: std::process::Child,
    report: Value,
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn hold(user: &str, socket: &Path, n: usize, hello: bool) -> Held {
    let n = n.to_string();
    let mut args = vec![socket.to_str().unwrap(), "hold", &n];
    if hello {
        args.push("hello");
    }
    let mut child = users::command_as(user, &probe(), &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Held {
        child,
        report: serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")),
    }
}

fn refused_with(h: &Held, fragment: &str) -> u64 {
    h.report["refused"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(reason, _)| reason.contains(fragment))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_no_role_connections_and_full_user_slots_never_lock_out_an_admin() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_dir, daemon) = start(
        "max_connections = 100\nadmin_connections = 10\nconnections_per_user = 60\nhandshake_timeout = \"3s\"\n",
        "",
    );
    let mut root = Client::connect(&daemon.socket).await.unwrap();
    let (quiet, _) = status_round_trips(&mut root, Duration::from_secs(2)).await;
    eprintln!("status round trip, quiet: worst {quiet:?}");

    // A user with no role who says hello is told why.
    let told = hold(NOBODY, &daemon.socket, 10, true);
    let no_role = format!(
        "permission denied: no role for uid {}",
        users::uid(NOBODY).unwrap()
    );
    assert_eq!(refused_with(&told, &no_role), 10, "{}", told.report);
    drop(told);

    // 2,000 idle connections from a user with no role (they fill 1,024 slots
    // and locked root out before): root's status answers within 100 ms all along.
    let flood = hold(NOBODY, &daemon.socket, 2_000, false);
    assert_eq!(flood.report["opened"], 2_000, "{}", flood.report);
    let (worst, n) = status_round_trips(&mut root, Duration::from_secs(3)).await;
    eprintln!("status round trip with 2,000 idle no-role connections: worst {worst:?} of {n}");
    assert!(worst < Duration::from_millis(100), "{worst:?}");
    // A new root connection, too.
    let t = Instant::now();
    let mut fresh = Client::connect(&daemon.socket).await.unwrap();
    assert!(fresh.request(Request::Status).await.is_ok());
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    drop(fresh);
    drop(flood);

    // Per user: the operator gets its 60, not one more.
    let operator = hold(OPERATOR, &daemon.socket, 60, true);
    assert_eq!(operator.report["welcomed"], 60, "{}", operator.report);
    let more = hold(OPERATOR, &daemon.socket, 5, true);
    assert_eq!(
        refused_with(&more, "too many connections: uid"),
        5,
        "{}",
        more.report
    );
    // Users without admin may take connections while fewer than 90 of the
    // 100 are open (root's one counts): the analyst gets 29.
    let analyst = hold(ANALYST, &daemon.socket, 60, true);
    assert_eq!(analyst.report["welcomed"], 29, "{}", analyst.report);
    assert_eq!(
        refused_with(&analyst, "connection limit for users without admin"),
        31,
        "{}",
        analyst.report
    );
    // The last 10 are for admins: an admin by group takes them.
    let admin = hold(ADMIN, &daemon.socket, 15, true);
    assert_eq!(admin.report["welcomed"], 10, "{}", admin.report);
    assert_eq!(
        refused_with(&admin, "at its connection limit"),
        5,
        "{}",
        admin.report
    );
    let (worst, _) = status_round_trips(&mut root, Duration::from_millis(500)).await;
    assert!(worst < Duration::from_millis(100), "{worst:?}");
    // Slots come back when connections close.
    drop((operator, more, analyst, admin));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut c) = Client::connect(&daemon.socket).await
            && matches!(c.request(Request::Status).await, Ok(Response::Status(s)) if s.connected_clients <= 2)
        {
            break;
        }
        assert!(Instant::now() < deadline, "slots were not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_user_without_admin_cannot_even_announce_a_large_frame() {
    let _one = ONE_AT_A_TIME.blocking_lock();
    let (_dir, daemon) = start("request_bytes = 65536\n", "");
    let out = users::run_as(
        OPERATOR,
        &probe(),
        &[
            daemon.socket.to_str().unwrap(),
            "announce",
            &(16 * MIB).to_string(),
        ],
    );
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        said["closed"], "frame of 16777216 bytes exceeds the maximum of 65536 bytes",
        "{said}"
    );
}

/// The stated bound once the half frames are gone: within this of the idle size.
const AFTER_DEADLINE_BOUND: u64 = 64 * MIB;

#[test]
fn half_sent_frames_pin_memory_only_until_the_frame_deadline() {
    let _one = ONE_AT_A_TIME.blocking_lock();
    let (_dir, daemon) = start("frame_timeout = \"10s\"\n", "");
    let _keep = raw_client(&daemon.socket);
    let idle = rss(&daemon);
    // 40 admin connections each announce a 16 MiB frame and send 15 MiB of it.
    let chunk = Arc::new(vec![7u8; 15 * MIB as usize]);
    let done = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..40)
        .map(|_| {
            let (socket, chunk, done, written) = (
                daemon.socket.clone(),
                chunk.clone(),
                done.clone(),
                written.clone(),
            );
            std::thread::spawn(move || {
                let mut s = raw_client(&socket);
                s.write_all(&(16 * MIB as u32).to_be_bytes()).unwrap();
                let sent = s.write_all(&chunk).is_ok();
                written.fetch_add(1, Ordering::Relaxed);
                // Hold the connection (never finishing the frame) until told.
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                sent
            })
        })
        .collect();
    // Until every sender has written its 15 MiB (the daemon has read them),
    // however long a loaded machine takes, and a moment more.
    let started = Instant::now();
    let mut peak = idle;
    let mut all_written = None;
    while all_written.is_none_or(|t: Instant| t.elapsed() < Duration::from_millis(500)) {
        peak = peak.max(rss(&daemon));
        if all_written.is_none() && written.load(Ordering::Relaxed) == 40 {
            all_written = Some(Instant::now());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the senders never finished writing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The measurement sees what they pin.
    assert!(
        peak > idle + 300 * MIB,
        "the half frames should show: {} -> {} MiB",
        idle / MIB,
        peak / MIB
    );
    // Past the deadline the connections are closed and the memory returns.
    let deadline = started + Duration::from_secs(10 + 15);
    let after = loop {
        let now = rss(&daemon);
        if now < idle + AFTER_DEADLINE_BOUND {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "RSS still {} MiB (idle {} MiB, peak {} MiB) long after the frame deadline",
            now / MIB,
            idle / MIB,
            peak / MIB
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!(
        "half frames: RSS {} MiB idle, {} MiB with 40 half frames, {} MiB after the deadline ({:?} after they began)",
        idle / MIB,
        peak / MIB,
        after / MIB,
        started.elapsed()
    );
    done.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    assert!(daemon.stderr().contains("not finished within 10s"));
}

/// A tiny deterministic generator for garbage bytes.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// What a bad client thread reports: what it was, and how it was closed.
type BadClient = std::thread::JoinHandle<(String, Result<Option<String>, String>)>;

/// Reads until the daemon closes the connection (within `limit`); the
/// reason of a `Closing` frame if one came first.
fn wait_closed(s: &mut UnixStream, limit: Duration) -> Result<Option<String>, String> {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut reason = None;
    loop {
        let mut len = [0u8; 4];
        match s.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err("still open".into());
            }
            Err(_) => return Ok(reason),
        }
        let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
        if s.read_exact(&mut payload).is_err() {
            return Ok(reason);
        }
        if let Ok(ServerFrame::Closing { reason: r }) = frame::decode(&payload) {
            reason = Some(r);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_truncated_oversized_slow_and_deaf_clients_while_another_is_answered() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_dir, daemon) = start(
        "frame_timeout = \"3s\"\nwrite_timeout = \"3s\"\nhandshake_timeout = \"3s\"\n",
        "",
    );
    let mut steady = Client::connect(&daemon.socket).await.unwrap();
    let socket = daemon.socket.clone();
    let mut bad: Vec<BadClient> = Vec::new();
    let limit = Duration::from_secs(20);
    for i in 0..100u64 {
        // Garbage instead of a Hello, and garbage after one.
        let socket = socket.clone();
        bad.push(std::thread::spawn(move || {
            let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ i);
            let n = 1 + (rng.next() % 4096) as usize;
            let mut s = if i % 2 == 0 {
                UnixStream::connect(&socket).unwrap()
            } else {
                raw_client(&socket)
            };
            let _ = s.write_all(&rng.bytes(n));
            (format!("garbage {i}"), wait_closed(&mut s, limit))
        }));
    }
    for i in 0..50u64 {
        // A frame cut in half, then the client is gone; and frames over the maximum.
        let socket = socket.clone();
        bad.push(std::thread::spawn(move || {
            let mut s = raw_client(&socket);
            if i % 2 == 0 {
                let ping = ping_frames(i, 1);
                s.write_all(&ping[..ping.len() / 2]).unwrap();
                s.shutdown(std::net::Shutdown::Write).unwrap();
            } else {
                s.write_all(&u32::MAX.to_be_bytes()).unwrap();
            }
            (format!("cut or oversized {i}"), wait_closed(&mut s, limit))
        }));
    }
    {
        // One byte a second.
        let socket = socket.clone();
        bad.push(std::thread::spawn(move || {
            let mut s = raw_client(&socket);
            for b in ping_frames(0, 1) {
                if s.write_all(&[b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            ("slow".to_string(), wait_closed(&mut s, limit))
        }));
    }
    for i in 0..5u64 {
        // Subscribed, flooding requests, never reading.
        let socket = socket.clone();
        bad.push(std::thread::spawn(move || {
            let mut s = raw_client(&socket);
            s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
            let subscribe = frame::encode(&ClientFrame {
                id: RequestId(0),
                request: Request::Subscribe,
            })
            .unwrap();
            let _ = s.write_all(&subscribe);
            for chunk in 0..50 {
                if s.write_all(&ping_frames(chunk * 10_000, 10_000)).is_err() {
                    break;
                }
            }
            (format!("deaf {i}"), wait_closed(&mut s, limit))
        }));
    }
    // Meanwhile: answers, promptly, every time.
    let started = Instant::now();
    let (mut worst, mut asked) = (Duration::ZERO, 0);
    while bad.iter().any(|t| !t.is_finished()) {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "some bad clients were never closed"
        );
        let t = Instant::now();
        assert_eq!(steady.request(Request::Ping).await, Ok(Response::Pong));
        worst = worst.max(t.elapsed());
        asked += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{asked} pings answered while {} bad clients were handled; worst {worst:?}",
        bad.len()
    );
    assert!(worst < Duration::from_secs(1), "{worst:?}");
    for t in bad {
        let (what, closed) = t.join().unwrap();
        let reason = closed.unwrap_or_else(|e| panic!("{what}: {e}"));
        if what == "slow" {
            assert_eq!(
                reason.as_deref(),
                Some("a frame was begun but not finished within 3s")
            );
        }
        if what.starts_with("cut or oversized") && what.ends_with(['1', '3', '5', '7', '9']) {
            assert!(
                reason.is_some_and(|r| r.contains("exceeds the maximum")),
                "{what}"
            );
        }
    }
    // Only the steady client is left, and it is still answered.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match steady.request(Request::Status).await {
            Ok(Response::Status(s)) if s.connected_clients == 1 => break,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(Instant::now() < deadline, "bad connections left open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The end-to-end guard: a datalake whose connection string holds passwords
/// in the spellings the redaction missed (`PWD= {…}`, `sslpassword`, a
/// spaced `Password`) is probed, dry-run and dispatched, and fails each
/// time; none of them shows in the daemon's debug log, in any error or
/// answer a client gets (the health entry, the dry run's error, the failed
/// dispatch, the lists, the snapshot, pushed updates), in the event log's
/// file, or in what `mld --check-config` prints. (Each spelling through each
/// Debug/Display/redaction/scrubbing path is proven in the unit tests of
/// `mld_shared::config` and `datalake::connstr`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_in_every_spelling_stay_out_of_the_log_and_the_wire() {
    let _one = ONE_AT_A_TIME.lock().await;
    let secrets = ["s3cr;et", "k3y pass", "p}w0rd"];
    let lake = format!(
        "[datalakes.locked]\nkind = \"odbc\"\nconnection = {:?}\n\n\
         [[jobs]]\nname = \"locked\"\ndatalake = \"locked\"\nmodel = \"iris\"\nquery = \"SELECT id, x FROM t\"\n\
         key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"0 0 30 2 *\"\n",
        format!(
            "Driver={{{}}};Database=/nonexistent/dir/x.db;NoCreat=1;PWD= {{s3cr;et}};sslpassword={{k3y pass}}; Password = {{p}}}}w0rd}};",
            mld_tests::lake::SQLITE_ODBC_DRIVER
        )
    );
    let (dir, mut daemon) = start_with("", &lake, |dir| {
        mld_tests::scoring::iris_model(&dir.join("state/models"));
    });
    let mut seen: Vec<String> = Vec::new();
    let mut c = Client::connect(&daemon.socket).await.unwrap();
    let Ok(Response::Subscribed(_)) = c.request(Request::Subscribe).await else {
        panic!()
    };
    // The first monitor round probes the datalake and fails (no such file).
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let Ok(Response::Status(_)) = c.request(Request::Status).await else {
            panic!()
        };
        let snapshot = match c.request(Request::Subscribe).await {
            Ok(Response::Subscribed(s)) => s,
            other => panic!("{other:?}"),
        };
        let locked = snapshot
            .health
            .iter()
            .find(|h| h.name == "locked")
            .cloned()
            .unwrap();
        if locked.state != HealthState::Unknown {
            seen.push(format!("{snapshot:?}"));
            break locked;
        }
        assert!(Instant::now() < deadline, "the datalake was never probed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(health.state, HealthState::Error, "{health:?}");
    seen.push(format!("{health:?}"));

    // Errors to clients: a dry run and a dispatch on that datalake fail with
    // the driver's message, scrubbed.
    let job = || mld_shared::ids::JobName("locked".into());
    let dry = c
        .request(Request::DryRun {
            job: job(),
            rows: 5,
        })
        .await;
    let Err(e) = &dry else {
        panic!("the dry run should fail: {dry:?}")
    };
    assert!(e.message.contains("locked"), "{e}");
    seen.push(format!("{dry:?}"));
    let id = c.run_job("locked").await;
    let d = c.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(d.summary.status, DispatchStatus::Failed, "{d:?}");
    assert!(d.summary.error.is_some(), "{d:?}");
    seen.push(format!("{d:?}"));
    let now = jiff::Timestamp::now();
    seen.push(format!(
        "{:?}",
        c.request(Request::Dispatches {
            from: WireTime::from(now - jiff::SignedDuration::from_hours(1)),
            to: WireTime::from(now + jiff::SignedDuration::from_hours(1)),
            job: None,
            limit: 100,
        })
        .await
    ));
    seen.push(format!("{:?}", c.request(Request::Jobs).await));
    seen.push(format!("{:?}", c.request(Request::Status).await));
    while let Some(u) = c.next_update(Duration::from_millis(300)).await {
        seen.push(format!("{u:?}"));
    }
    let check = mld_tests::process::mld(&[
        "--check-config",
        dir.path().join("mld.toml").to_str().unwrap(),
    ]);
    seen.push(String::from_utf8_lossy(&check.stdout).into_owned());
    seen.push(String::from_utf8_lossy(&check.stderr).into_owned());

    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(daemon.wait(Duration::from_secs(30)).success());
    let log = daemon.stderr();
    assert!(
        log.contains("dispatch finished"),
        "the log was captured:\n{log}"
    );
    seen.push(log);
    for name in ["events.db", "events.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join("state").join(name)) {
            seen.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    for text in &seen {
        for s in secrets {
            assert!(!text.contains(s), "{s} leaked into:\n{text}");
        }
        for fragment in ["et}", "pass}", "w0rd"] {
            assert!(!text.contains(fragment), "{fragment} leaked into:\n{text}");
        }
    }
}
