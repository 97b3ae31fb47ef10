//! The Prometheus endpoint under a large dispatch, against a release `mld`
//! process: `/metrics` scraped ten times a second with a real HTTP client
//! during a 1M-row dispatch (PostgreSQL through psqlODBC, the
//! `dispatch_vs_floor` rows and model), its latency against the same scrape
//! while the daemon is idle; and the dispatch with the endpoint on (and
//! scraped) against the same dispatch with it off, each against the floor (a
//! bare bulk read and write of the same rows) measured in the same run.
//! Rounds go off, on, on, off, so drift cancels.
//!
//! `cargo build --release -p mld && cargo bench -p mld-tests --bench metrics_scrape`
//! (`MLD_METRICS_ROWS` changes the 1,000,000 rows.) Take `flock /work/bench.lock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mld_shared::protocol::DispatchStatus;
use mld_tests::client::Client;
use mld_tests::floor;
use mld_tests::lake::Backend;
use mld_tests::metrics::{free_addr, metrics_toml, scrape, wait_listening};
use mld_tests::process::MldProcess;
use mld_tests::scoring::{DaemonLake, job_toml, registry_dir, synthetic_model, write_config};

const BATCH: usize = 10_000;
const MODEL: &str = "synth";
const SCRAPE_EVERY: Duration = Duration::from_millis(100);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Scrapes every [`SCRAPE_EVERY`] until `stop`; each scrape's latency.
fn scraper(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut lat = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let s = scrape(addr);
            lat.push(t.elapsed());
            assert!(s.text.contains("mld_running_dispatches"));
            std::thread::sleep(SCRAPE_EVERY.saturating_sub(t.elapsed()));
        }
        lat
    })
}

/// One dispatch of `score` on a fresh daemon: its own started → finished
/// time, and (with the endpoint on) the scrapes taken while it ran and as
/// many taken idle just before.
fn round(
    config: &std::path::Path,
    socket: &std::path::Path,
    metrics: Option<std::net::SocketAddr>,
    rt: &tokio::runtime::Runtime,
) -> (Duration, Vec<Duration>, Vec<Duration>) {
    let daemon = MldProcess::start(config, socket);
    let idle = match metrics {
        Some(addr) => {
            wait_listening(addr, Duration::from_secs(30));
            (0..100)
                .map(|_| {
                    let t = Instant::now();
                    scrape(addr);
                    let took = t.elapsed();
                    std::thread::sleep(SCRAPE_EVERY / 10);
                    took
                })
                .collect()
        }
        None => Vec::new(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let scraping = metrics.map(|addr| scraper(addr, stop.clone()));
    let took = rt.block_on(async {
        let mut c = Client::connect(socket).await.unwrap();
        let id = c.run_job("score").await;
        let d = c.wait_finished(id, Duration::from_secs(3600)).await;
        assert_eq!(d.summary.status, DispatchStatus::Succeeded, "{d:?}");
        let (s, f) = (
            d.summary.started_at.unwrap(),
            d.summary.finished_at.unwrap(),
        );
        Duration::from_millis((f.0 - s.0) as u64)
    });
    stop.store(true, Ordering::Relaxed);
    let during = scraping.map(|h| h.join().unwrap()).unwrap_or_default();
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    let mut daemon = daemon;
    daemon.wait(Duration::from_secs(120));
    (took, during, idle)
}

fn main() {
    let rows: usize = std::env::var("MLD_METRICS_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(Backend::PostgresOdbc, dir.path(), "metricsbench");
    floor::create_input(&dl.lake, Backend::PostgresOdbc, rows);
    for t in ["results", "results_floor"] {
        dl.lake
            .create_results_table(t, &mld_shared::config::ResultColumns::default())
            .unwrap();
    }
    synthetic_model(&registry_dir(dir.path()), MODEL, floor::FEATURES);
    let job = job_toml(
        "score",
        MODEL,
        &floor::input_query(),
        "results",
        &format!("batch_size = {BATCH}"),
    );
    let addr = free_addr();
    let off = write_config(dir.path(), &dl.toml, &job);
    let text = std::fs::read_to_string(&off)
        .unwrap()
        .replace("log_level = \"debug\"", "log_level = \"warn\"");
    std::fs::write(&off, &text).unwrap();
    let on = dir.path().join("mld-metrics.toml");
    std::fs::write(&on, format!("{text}\n{}", metrics_toml(addr))).unwrap();
    let socket = dir.path().join("mld.sock");
    let lake = dl.lake.clone().with_batch_size(BATCH);

    let floor_once = |k: i64| {
        let read = floor::read(&lake, rows, BATCH);
        let write = floor::write(&lake, "results_floor", rows, k, BATCH);
        dl.lake.execute("TRUNCATE results_floor").unwrap();
        read + write
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let floor_before = floor_once(1);
    let (mut off_times, mut on_times, mut during, mut idle) = (vec![], vec![], vec![], vec![]);
    for metrics_on in [false, true, true, false] {
        let (took, d, i) = if metrics_on {
            round(&on, &socket, Some(addr), &rt)
        } else {
            round(&off, &socket, None, &rt)
        };
        dl.lake.execute("TRUNCATE results").unwrap();
        println!(
            "  dispatch with the endpoint {}: {:.2} s{}",
            if metrics_on { "on (scraped)" } else { "off" },
            took.as_secs_f64(),
            if metrics_on {
                format!(", {} scrapes during it", d.len())
            } else {
                String::new()
            }
        );
        if metrics_on {
            on_times.push(took);
            during.extend(d);
            idle.extend(i);
        } else {
            off_times.push(took);
        }
    }
    let floor_after = floor_once(2);
    let floor_s = (floor_before + floor_after) / 2.0;
    let mean = |v: &[Duration]| v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64;
    let (off_s, on_s) = (mean(&off_times), mean(&on_times));
    during.sort();
    idle.sort();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine load (1/5/15 min): {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{rows} rows, PostgreSQL via psqlODBC; floor (bare read + write) {floor_s:.2} s \
         (before {floor_before:.2} s, after {floor_after:.2} s)"
    );
    println!(
        "dispatch, endpoint off   {off_s:>6.2} s   {:.2}x the floor",
        off_s / floor_s
    );
    println!(
        "dispatch, endpoint on    {on_s:>6.2} s   {:.2}x the floor   (on/off {:.3}x)",
        on_s / floor_s,
        on_s / off_s
    );
    println!(
        "scrape during dispatch   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms   ({} scrapes, every {} ms)",
        ms(percentile(&during, 0.5)),
        ms(percentile(&during, 0.99)),
        ms(during.last().copied().unwrap_or_default()),
        during.len(),
        SCRAPE_EVERY.as_millis()
    );
    println!(
        "scrape idle (baseline)   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms   ({} scrapes); p99 during/idle {:.2}x",
        ms(percentile(&idle, 0.5)),
        ms(percentile(&idle, 0.99)),
        ms(idle.last().copied().unwrap_or_default()),
        idle.len(),
        percentile(&during, 0.99).as_secs_f64() / percentile(&idle, 0.99).as_secs_f64()
    );
}
