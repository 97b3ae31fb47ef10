//! The showroom over the socket, between two processes: a real `mld`
//! (release build) and this client, every prediction recorded in the event
//! log (committed, fsync'd) before it is answered. In one run:
//!
//! 1. predict-one (`ShowroomPredict`, a sample row on its own, with every
//!    class's score and why) and `Predict` (a record given whole), each
//!    against a `Ping` — the cheapest round trip the daemon answers —
//!    interleaved, p50/p99 and the ratios;
//! 2. the floor durability sets: one SQLite commit of one row in WAL mode
//!    with `synchronous = FULL`, in this process, on the same disk, timed
//!    in the same loop;
//! 3. predict-all (`OpenShowroom`) of a 1,000-row sample set;
//! 4. predict-one and ping while a 1M-row dispatch runs on the same daemon.
//!
//! `cargo build --release -p mld && cargo bench -p mld-tests --bench predict_roundtrip`
//! (the daemon binary is taken from the same target folder).
//! `MLD_BENCH_ROUNDS` (default 5000) and `MLD_BENCH_DISPATCH_ROWS` (default
//! 1000000) change the sizes.

use mld_shared::protocol::{FeatureValue, PredictInput, Request, Response};
use mld_tests::client::Client;
use mld_tests::lake::Backend;
use mld_tests::process::MldProcess;
use mld_tests::scoring::BigIrisJob;
use std::path::Path;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct Stats {
    p50: Duration,
    p99: Duration,
    n: usize,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    Stats {
        p50: percentile(&v, 0.5),
        p99: percentile(&v, 0.99),
        n: v.len(),
    }
}

fn line(name: &str, s: &Stats, base: Option<&Stats>) {
    let ratio = base.map_or(String::new(), |b| {
        format!(
            "   ×{:.2} / ×{:.2} the ping",
            s.p50.as_secs_f64() / b.p50.as_secs_f64(),
            s.p99.as_secs_f64() / b.p99.as_secs_f64()
        )
    });
    println!(
        "{name:<34} p50 {:>9.1} µs   p99 {:>9.1} µs   (n={}){ratio}",
        us(s.p50),
        us(s.p99),
        s.n
    );
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// 1,000 iris-like rows (the iris measurements, nudged), the header first.
fn write_samples(path: &Path, rows: usize) {
    let iris = mld_tests::scoring::iris_rows();
    let mut text = String::from("id,sepal_length,sepal_width,petal_length,petal_width,species\n");
    for i in 0..rows {
        let (v, species) = &iris[i % iris.len()];
        let nudge = (i / iris.len()) as f64 * 0.01;
        text.push_str(&format!(
            "{i},{:.2},{:.2},{:.2},{:.2},{species}\n",
            v[0] + nudge,
            v[1],
            v[2] + nudge,
            v[3]
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// One SQLite commit of one row, WAL + `synchronous = FULL`, as the event
/// log commits: what durability costs on this disk, without any IPC. Timed
/// in the same loop as the round trips, so both meet the same disk.
struct CommitFloor {
    conn: rusqlite::Connection,
    i: i64,
}

impl CommitFloor {
    fn open(dir: &Path) -> CommitFloor {
        let conn = rusqlite::Connection::open(dir.join("floor.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.execute_batch("CREATE TABLE t (at INTEGER, row_json TEXT, label TEXT, score REAL)")
            .unwrap();
        let mut floor = CommitFloor { conn, i: 0 };
        // Grow the WAL first, as a running event log's already is: a fresh
        // file's first commits also pay for extending it.
        for _ in 0..1500 {
            floor.commit();
        }
        floor
    }

    fn commit(&mut self) -> Duration {
        self.i += 1;
        let started = Instant::now();
        let tx = self.conn.unchecked_transaction().unwrap();
        tx.execute(
            "INSERT INTO t VALUES (?1, ?2, 'setosa', 0.99)",
            rusqlite::params![
                self.i,
                r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#
            ],
        )
        .unwrap();
        tx.commit().unwrap();
        started.elapsed()
    }
}

fn main() {
    let rounds = env_usize("MLD_BENCH_ROUNDS", 5000);
    let dispatch_rows = env_usize("MLD_BENCH_DISPATCH_ROWS", 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    println!("setting up: {dispatch_rows} rows to dispatch, 1000 sample rows…");
    let job = BigIrisJob::new(
        Backend::BuiltinSqlite,
        dir.path(),
        "predict_roundtrip",
        dispatch_rows,
        "batch_size = 10000\ntimeout = \"30m\"",
    );
    let samples = dir.path().join("samples.csv");
    write_samples(&samples, 1000);
    let mut config = std::fs::read_to_string(&job.config).unwrap();
    config = config.replace("log_level = \"debug\"", "log_level = \"warn\"");
    config.push_str(&format!(
        "\n[showroom.iris]\nsamples = {:?}\ncolumns = 4\n",
        samples.display().to_string()
    ));
    std::fs::write(&job.config, config).unwrap();
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&job.config, &socket);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = Client::connect(&socket).await.unwrap();
        let one = |i: usize| Request::ShowroomPredict {
            model: "iris".into(),
            row: (i % 1000) as u32 + 1,
            set: vec![],
        };
        let edited = |i: usize| Request::ShowroomPredict {
            model: "iris".into(),
            row: (i % 1000) as u32 + 1,
            set: vec![(
                "petal_length".into(),
                FeatureValue::Number(1.0 + (i % 50) as f64 / 10.0),
            )],
        };
        let given = |i: usize| Request::Predict {
            model: "iris".into(),
            version: None,
            input: PredictInput::Positional(vec![5.0 + (i % 20) as f64 / 10.0, 3.4, 1.5, 0.2]),
        };
        // Warm up: the model into the daemon's cache, the samples read.
        let Ok(Response::Showroom(view)) = client
            .request(Request::OpenShowroom {
                model: "iris".into(),
            })
            .await
        else {
            panic!("the showroom does not open")
        };
        assert_eq!(view.rows.len(), 1000);
        for i in 0..200 {
            client.request(one(i)).await.unwrap();
            client.request(given(i)).await.unwrap();
            client.request(Request::Ping).await.unwrap();
        }

        // Start from a quiet disk: the setup's writes are flushed first.
        let _ = std::process::Command::new("sync").status();
        let mut floor = CommitFloor::open(dir.path());
        println!("\nload average before: {}", load());
        println!("── idle daemon: {rounds} of each, interleaved, between processes over the Unix socket ──");
        let (mut ping, mut p_one, mut p_edit, mut p_given, mut p_floor) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..rounds {
            p_floor.push(floor.commit());
            for (out, request) in [
                (&mut ping, Request::Ping),
                (&mut p_one, one(i)),
                (&mut p_edit, edited(i)),
                (&mut p_given, given(i)),
            ] {
                let started = Instant::now();
                let answer = client.request(request).await;
                out.push(started.elapsed());
                assert!(answer.is_ok(), "{answer:?}");
            }
        }
        let ping = stats(ping);
        line("ping (baseline)", &ping, None);
        line("predict-one (recorded, why)", &stats(p_one), Some(&ping));
        line("predict-edited (recorded, why)", &stats(p_edit), Some(&ping));
        line("predict given whole (recorded)", &stats(p_given), Some(&ping));
        line("floor: 1 SQLite commit (WAL, FULL)", &stats(p_floor), Some(&ping));

        println!("── predict-all: the 1,000-row sample set, every row recorded ──");
        let mut all = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            let answer = client
                .request(Request::OpenShowroom {
                    model: "iris".into(),
                })
                .await;
            all.push(started.elapsed());
            assert!(matches!(answer, Ok(Response::Showroom(_))));
        }
        let all = stats(all);
        line("predict-all, 1000 rows", &all, Some(&ping));
        println!(
            "{:<34} {:.0} rows/s at p50",
            "",
            1000.0 / all.p50.as_secs_f64()
        );

        println!("── while a {dispatch_rows}-row dispatch runs on the same daemon ──");
        let mut admin = Client::connect(&socket).await.unwrap();
        let id = admin.run_job("score").await;
        let started = Instant::now();
        let (mut d_ping, mut d_one) = (Vec::new(), Vec::new());
        let mut i = 0usize;
        let finished = loop {
            for (out, request) in [(&mut d_ping, Request::Ping), (&mut d_one, one(i))] {
                let t = Instant::now();
                let answer = client.request(request).await;
                out.push(t.elapsed());
                assert!(answer.is_ok(), "{answer:?}");
            }
            i += 1;
            if i.is_multiple_of(200) {
                let d = admin.dispatch(id).await;
                if d.summary.status.is_finished() {
                    break d;
                }
            }
        };
        let took = started.elapsed();
        let d_ping = stats(d_ping);
        line("ping during the dispatch", &d_ping, Some(&ping));
        line("predict-one during the dispatch", &stats(d_one), Some(&ping));
        println!(
            "dispatch {id}: {} in {:.1} s ({} rows read, {} written)",
            finished.summary.status.as_str(),
            took.as_secs_f64(),
            finished.summary.rows_collected,
            finished.summary.rows_inserted
        );
        println!("load average after: {}", load());
    });
}
