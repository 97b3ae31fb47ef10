//! The daemon under load, as one run against a release `mld` process while
//! it scores a 1M-row dispatch: 500 subscribed consoles (reading their
//! updates), 1,000 predict-one a second, 1,000 idle connections and one
//! client flooding pings without ever reading. Reported: an admin's `status`
//! round trip p50/p99, predict-one p99, the daemon's peak RSS, and the
//! dispatch's time against the same dispatch alone (measured before and
//! after, in the same run, on the same rows).
//!
//! Targets (issue 10): admin p99 < 50 ms, RSS < 300 MB, the dispatch at most
//! 1.2× slower.
//!
//! `cargo build --release -p mld && cargo bench -p mld-tests --bench load`
//! (`MLD_LOAD_ROWS` changes the 1,000,000 rows.) Take `flock /work/bench.lock`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use mld_shared::frame;
use mld_shared::ids::RequestId;
use mld_shared::protocol::*;
use mld_tests::client::Client;
use mld_tests::lake::Backend;
use mld_tests::process::MldProcess;
use mld_tests::scoring::BigIrisJob;

const CONSOLES: usize = 500;
const IDLE: usize = 1_000;
const PREDICTS_PER_SECOND: u64 = 1_000;
const PREDICTORS: u64 = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn proc_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn connect(socket: &Path) -> Stream {
    let mut s = Stream::connect(socket.to_fs_name::<GenericFilePath>().unwrap())
        .await
        .unwrap();
    frame::write_message(&mut s, &Hello::new("load-bench"))
        .await
        .unwrap();
    match frame::read_message::<HelloReply, _>(&mut s).await {
        Ok(Some(HelloReply::Welcome(_))) => s,
        other => panic!("{other:?}"),
    }
}

/// Runs the job once and returns how long the dispatch took (its own
/// started → finished times). The results table is emptied first, so every
/// run writes into the same table size.
async fn dispatch_once(c: &mut Client, job: &BigIrisJob) -> Duration {
    job.dl.lake.execute("DELETE FROM scores").unwrap();
    let id = c.run_job("score").await;
    let d = c.wait_finished(id, Duration::from_secs(1800)).await;
    assert_eq!(d.summary.status, DispatchStatus::Succeeded, "{d:?}");
    let (s, f) = (
        d.summary.started_at.unwrap(),
        d.summary.finished_at.unwrap(),
    );
    Duration::from_millis((f.0 - s.0) as u64)
}

fn main() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let rows: usize = std::env::var("MLD_LOAD_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    let dir = tempfile::tempdir().unwrap();
    let job = BigIrisJob::new(
        Backend::BuiltinSqlite,
        dir.path(),
        "load",
        rows,
        "batch_size = 10000",
    );
    // Everyone here is root (an admin): room for all of them.
    let mut text = std::fs::read_to_string(&job.config).unwrap();
    text = text.replace("log_level = \"debug\"", "log_level = \"warn\"");
    text.push_str("\n[limits]\nmax_connections = 4096\n");
    std::fs::write(&job.config, text).unwrap();
    let socket = dir.path().join("mld.sock");
    let daemon = MldProcess::start(&job.config, &socket);
    let pid = daemon.child.id();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut admin = Client::connect(&socket).await.unwrap();
        let alone_before = dispatch_once(&mut admin, &job).await;
        let hwm_alone = proc_kib(pid, "VmHWM:");
        println!(
            "{rows} rows; the dispatch alone: {:.2} s (peak RSS so far {} MiB)",
            alone_before.as_secs_f64(),
            hwm_alone / 1024
        );

        let stop = Arc::new(AtomicBool::new(false));
        // 1,000 idle connections.
        let mut idle = Vec::with_capacity(IDLE);
        for _ in 0..IDLE {
            idle.push(connect(&socket).await);
        }
        // 500 consoles, subscribed, reading every update.
        let updates = Arc::new(AtomicU64::new(0));
        let mut consoles = Vec::new();
        for i in 0..CONSOLES {
            let mut s = connect(&socket).await;
            frame::write_message(
                &mut s,
                &ClientFrame {
                    id: RequestId(i as u64),
                    request: Request::Subscribe,
                },
            )
            .await
            .unwrap();
            let (stop, updates) = (stop.clone(), updates.clone());
            consoles.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match tokio::time::timeout(
                        Duration::from_millis(500),
                        frame::read_message::<ServerFrame, _>(&mut s),
                    )
                    .await
                    {
                        Ok(Ok(Some(_))) => {
                            updates.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => return,
                        Err(_) => {}
                    }
                }
            }));
        }
        // One client flooding pings, never reading.
        let flooding = std::thread::spawn({
            let socket = socket.clone();
            let stop = stop.clone();
            move || {
                let mut s = UnixStream::connect(&socket).unwrap();
                s.write_all(&frame::encode(&Hello::new("flood")).unwrap())
                    .unwrap();
                let mut len = [0u8; 4];
                s.read_exact(&mut len).unwrap();
                let mut p = vec![0u8; u32::from_be_bytes(len) as usize];
                s.read_exact(&mut p).unwrap();
                s.set_write_timeout(Some(Duration::from_millis(200))).unwrap();
                let ping: Vec<u8> = (0..1000u64)
                    .flat_map(|i| {
                        frame::encode(&ClientFrame {
                            id: RequestId(i),
                            request: Request::Ping,
                        })
                        .unwrap()
                    })
                    .collect();
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match s.write_all(&ping) {
                        Ok(()) => sent += 1000,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                }
                sent
            }
        });
        // 1,000 predict-one a second, from 20 clients at 50 a second each (a
        // predict-one waits for its record in the event log, so one client
        // alone could not keep the pace while a dispatch writes there too).
        let load_started = Instant::now();
        let mut predictors = Vec::new();
        for k in 0..PREDICTORS {
            let (socket, stop) = (socket.clone(), stop.clone());
            predictors.push(tokio::spawn(async move {
                let mut c = Client::connect(&socket).await.unwrap();
                let mut tick = tokio::time::interval(Duration::from_micros(
                    PREDICTORS * 1_000_000 / PREDICTS_PER_SECOND,
                ));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut lat = Vec::new();
                let mut i = k;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let t = Instant::now();
                    let r = c
                        .request(Request::Predict {
                            model: "iris".into(),
                            version: None,
                            input: PredictInput::Positional(vec![
                                5.0 + (i % 20) as f64 / 10.0,
                                3.4,
                                1.5,
                                0.2,
                            ]),
                        })
                        .await;
                    assert!(matches!(r, Ok(Response::Prediction(_))), "{r:?}");
                    lat.push(t.elapsed());
                    i += PREDICTORS;
                }
                lat
            }));
        }
        // An admin's status, every 10 ms.
        let status = tokio::spawn({
            let (socket, stop) = (socket.clone(), stop.clone());
            async move {
                let mut c = Client::connect(&socket).await.unwrap();
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    assert!(matches!(c.request(Request::Status).await, Ok(Response::Status(_))));
                    lat.push(t.elapsed());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                lat
            }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        let loaded = dispatch_once(&mut admin, &job).await;
        let hwm_loaded = proc_kib(pid, "VmHWM:");
        let connections = match admin.request(Request::Status).await {
            Ok(Response::Status(s)) => s.connected_clients,
            other => panic!("{other:?}"),
        };
        stop.store(true, Ordering::Relaxed);
        let load_time = load_started.elapsed();
        let mut status = status.await.unwrap();
        let mut predicts: Vec<Duration> = Vec::new();
        for p in predictors {
            predicts.extend(p.await.unwrap());
        }
        for c in consoles {
            let _ = c.await;
        }
        let flooded = flooding.join().unwrap();
        drop(idle);
        let alone_after = dispatch_once(&mut admin, &job).await;
        let alone = (alone_before + alone_after) / 2;

        status.sort();
        predicts.sort();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("machine load (1/5/15 min): {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
        println!(
            "under load: {CONSOLES} consoles ({} updates read), {} predict-one, {IDLE} idle connections, a flooder that wrote {flooded} pings; {connections} connections open at the end of the dispatch",
            updates.load(Ordering::Relaxed),
            predicts.len()
        );
        println!(
            "admin status   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} round trips; target p99 < 50 ms)",
            ms(percentile(&status, 0.5)),
            ms(percentile(&status, 0.99)),
            status.len()
        );
        println!(
            "predict-one    p50 {:>7.2} ms   p99 {:>7.2} ms   ({:.0}/s achieved)",
            ms(percentile(&predicts, 0.5)),
            ms(percentile(&predicts, 0.99)),
            predicts.len() as f64 / load_time.as_secs_f64()
        );
        println!(
            "daemon peak RSS {} MiB (after the dispatch alone: {} MiB; target < 300 MB)",
            hwm_loaded / 1024,
            hwm_alone / 1024
        );
        println!(
            "dispatch        {:.2} s loaded vs {:.2} s alone (before {:.2} s, after {:.2} s): {:.2}x (target <= 1.2x)",
            loaded.as_secs_f64(),
            alone.as_secs_f64(),
            alone_before.as_secs_f64(),
            alone_after.as_secs_f64(),
            loaded.as_secs_f64() / alone.as_secs_f64()
        );
    });
    drop(daemon);
}
