//! The Prometheus endpoint of the real `mld` binary, scraped over HTTP by a
//! real client during and after dispatches: its counts agree with
//! `mldctl dispatches --json`, the text passes `promtool check metrics`, the
//! last success survives a restart; and it is off unless configured, listens
//! only where it is told, serves only `/metrics`, and refuses to start on a
//! taken address.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mld_tests::lake::Backend;
use mld_tests::metrics::*;
use mld_tests::process::{MldProcess, mld, mldctl, write_config as write_small_config};
use mld_tests::scoring::*;
use serde_json::Value as Json;

const ROWS: usize = 200_000;

fn mldctl_ok(socket: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["--socket", socket.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = mldctl(&all);
    assert!(
        out.status.success(),
        "mldctl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn dispatch_list(socket: &std::path::Path) -> Vec<Json> {
    let text = mldctl_ok(socket, &["dispatches", "--json"]);
    serde_json::from_str::<Vec<Json>>(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn seconds(v: &Json) -> Option<f64> {
    let t: jiff::Timestamp = v.as_str()?.parse().ok()?;
    Some(t.as_millisecond() as f64 / 1000.0)
}

const FINAL: [&str; 4] = ["succeeded", "failed", "cancelled", "interrupted"];

/// What `mldctl dispatches --json` says, in the metrics' terms, per job.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    ended: BTreeMap<&'static str, f64>,
    running: usize,
    rows_scored: f64,
    rows_unscorable: f64,
    last_success: f64,
    timed: f64,
    time_sum: f64,
}

fn expected(list: &[Json], job: &str) -> Expected {
    let mut e = Expected::default();
    for status in FINAL {
        e.ended.insert(status, 0.0);
    }
    for d in list.iter().filter(|d| d["job"] == job) {
        let status = d["status"].as_str().unwrap();
        let Some(slot) = e.ended.get_mut(status) else {
            e.running += 1;
            continue;
        };
        *slot += 1.0;
        e.rows_scored += d["rows_predicted"].as_f64().unwrap();
        e.rows_unscorable += d["rows_unscorable"].as_f64().unwrap();
        let finished = seconds(&d["finished_at"]).unwrap();
        if status == "succeeded" {
            e.last_success = e.last_success.max(finished);
        }
        if let Some(started) = seconds(&d["started_at"]) {
            e.timed += 1.0;
            e.time_sum += finished - started;
        }
    }
    e
}

fn observed(s: &Scrape, job: &str) -> Expected {
    let j = [("mld_job", job)];
    let mut e = Expected::default();
    for status in FINAL {
        let v = s.value(
            "mld_dispatches_total",
            &[("mld_job", job), ("status", status)],
        );
        e.ended.insert(status, v);
    }
    e.rows_scored = s.value("mld_dispatch_rows_scored_total", &j);
    e.rows_unscorable = s.value("mld_dispatch_rows_unscorable_total", &j);
    e.last_success = s.value("mld_job_last_success_timestamp_seconds", &j);
    e.timed = s.value("mld_dispatch_duration_seconds_count", &j);
    e.time_sum = s.value("mld_dispatch_duration_seconds_sum", &j);
    let buckets = s.buckets("mld_dispatch_duration_seconds", &j);
    assert_eq!(
        buckets.last().map(|b| b.1),
        Some(e.timed),
        "the +Inf bucket holds every timed dispatch"
    );
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative: {buckets:?}"
    );
    e
}

/// The two agree: every count exactly, times to the millisecond the list shows.
fn agree(list: &Expected, scraped: &Expected) -> bool {
    list.ended == scraped.ended
        && list.rows_scored == scraped.rows_scored
        && list.rows_unscorable == scraped.rows_unscorable
        && (list.last_success - scraped.last_success).abs() < 0.002
        && list.timed == scraped.timed
        && (list.time_sum - scraped.time_sum).abs() < 0.002 * (list.timed + 1.0)
}

fn check_format(s: &Scrape) {
    if let Err(e) = promtool_check(&s.text) {
        panic!("promtool check metrics: {e}\n{}", s.text);
    }
}

/// Scrapes until `ok` holds, failing past `limit`.
fn scrape_until(
    addr: SocketAddr,
    limit: Duration,
    what: &str,
    ok: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = Instant::now() + limit;
    loop {
        let s = scrape(addr);
        if ok(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}:\n{}", s.text);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_agree_with_the_dispatch_list_during_and_after_dispatches_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(Backend::BuiltinSqlite, dir.path(), "metrics");
    create_big_iris(&dl, ROWS);
    create_iris_table(&dl.lake, "iris_in");
    // Two rows the model cannot score (a NULL feature).
    dl.lake
        .execute(
            "INSERT INTO iris_in VALUES (1001, NULL, 3.0, 1.0, 0.2), (1002, 5.0, NULL, 1.0, 0.2)",
        )
        .unwrap();
    create_results_table(&dl.lake, "scores");
    iris_model(&registry_dir(dir.path()));
    let watched = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free_addr();
    let features = "sepal_length, sepal_width, petal_length, petal_width";
    let jobs = [
        job_toml(
            "score",
            "iris",
            &format!("SELECT id, {features} FROM iris_big"),
            "scores",
            "batch_size = 2000",
        ),
        job_toml(
            "partial",
            "iris",
            &format!("SELECT id, {features} FROM iris_in"),
            "scores",
            "",
        ),
        job_toml(
            "broken",
            "iris",
            &format!("SELECT id, {features} FROM no_such_table"),
            "scores",
            "",
        ),
        format!(
            "[[monitor.servers]]\nname = \"local\"\naddress = \"127.0.0.1\"\nport = {}\nmechanism = \"plain\"\n",
            watched.local_addr().unwrap().port()
        ),
        metrics_toml(addr),
    ];
    let config = write_config(dir.path(), &dl.toml, &jobs.concat());
    let socket = dir.path().join("mld.sock");
    let mut daemon = MldProcess::start(&config, &socket);
    wait_listening(addr, Duration::from_secs(30));

    // Before any dispatch: every configured job at zero, the targets checked.
    let first = scrape_until(
        addr,
        Duration::from_secs(20),
        "the first health round",
        |s| {
            s.find("mld_target_up", &[("name", "local")])
                .is_some_and(|_| {
                    s.value("mld_target_up", &[("kind", "server"), ("name", "local")]) == 1.0
                })
        },
    );
    check_format(&first);
    for job in ["score", "partial", "broken"] {
        assert_eq!(
            observed(&first, job),
            expected(&[], job),
            "{job} before any dispatch"
        );
    }
    assert_eq!(
        first.value("mld_target_up", &[("kind", "datalake"), ("name", "lake")]),
        1.0
    );
    assert_eq!(first.value("mld_target_up", &[("kind", "eventlog")]), 1.0);
    assert_eq!(
        first.value(
            "mld_target_state",
            &[("kind", "server"), ("name", "local"), ("state", "online")]
        ),
        1.0
    );
    assert!(first.value("mld_target_latency_seconds", &[("name", "local")]) >= 0.0);
    assert_eq!(first.value("mld_running_dispatches", &[]), 0.0);

    // A console subscribed the whole time.
    let mut console = mld_tests::client::Client::connect(&socket).await.unwrap();
    console.subscribe().await;

    // During a large dispatch: it runs, nothing of it is counted yet, and
    // what the list says agrees with two scrapes around it.
    mldctl_ok(&socket, &["run", "score"]);
    let during = scrape_until(addr, Duration::from_secs(60), "the dispatch to run", |s| {
        s.value("mld_running_dispatches", &[]) == 1.0
    });
    check_format(&during);
    assert!(
        during.value("mld_connected_clients", &[]) >= 1.0,
        "the console"
    );
    let mut agreed_during = false;
    for _ in 0..20 {
        let before = scrape(addr);
        let list = dispatch_list(&socket);
        let after = scrape(addr);
        let (b, a) = (observed(&before, "score"), observed(&after, "score"));
        let running = before.value("mld_running_dispatches", &[]);
        if b != a || running != after.value("mld_running_dispatches", &[]) {
            continue; // it moved in between: look again
        }
        let want = expected(&list, "score");
        assert!(
            agree(&want, &b),
            "during: the list says {want:?}, /metrics {b:?}"
        );
        assert_eq!(want.running as f64, running, "running dispatches");
        agreed_during = want.running == 1;
        break;
    }
    assert!(agreed_during, "no quiet moment while the dispatch ran");

    // After it, a failing one and one with unscorable rows.
    let finished = scrape_until(
        addr,
        Duration::from_secs(300),
        "the dispatch to finish",
        |s| s.value("mld_running_dispatches", &[]) == 0.0,
    );
    assert_eq!(
        finished.value(
            "mld_dispatches_total",
            &[("mld_job", "score"), ("status", "succeeded")]
        ),
        1.0,
        "{}",
        finished.text
    );
    let out = mldctl(&[
        "--socket",
        socket.to_str().unwrap(),
        "run",
        "broken",
        "--wait",
    ]);
    assert!(!out.status.success(), "the broken job fails");
    mldctl_ok(&socket, &["run", "partial", "--wait"]);
    mldctl_ok(&socket, &["run", "partial", "--wait"]);

    let after = scrape(addr);
    check_format(&after);
    let list = dispatch_list(&socket);
    assert_eq!(list.len(), 4, "{list:?}");
    for job in ["score", "partial", "broken"] {
        let want = expected(&list, job);
        let got = observed(&after, job);
        assert!(
            agree(&want, &got),
            "{job}: the list says {want:?}, /metrics {got:?}"
        );
    }
    let partial = observed(&after, "partial");
    assert_eq!(
        (
            partial.ended["succeeded"],
            partial.rows_scored,
            partial.rows_unscorable
        ),
        (2.0, 300.0, 4.0)
    );
    assert_eq!(observed(&after, "broken").ended["failed"], 1.0);
    assert_eq!(
        observed(&after, "broken").last_success,
        0.0,
        "never succeeded"
    );
    assert_eq!(observed(&after, "score").rows_scored, ROWS as f64);

    // The event log: its size on disk, and its commits timed.
    let db = dir.path().join("state/events.db");
    let size = after.value("mld_eventlog_size_bytes", &[]);
    assert!(
        size >= std::fs::metadata(&db).unwrap().len() as f64,
        "{size}"
    );
    assert!(after.value("mld_eventlog_write_seconds_count", &[]) > 0.0);
    assert_eq!(after.value("mld_eventlog_write_failures_total", &[]), 0.0);
    assert_eq!(
        after.value("mld_build_info", &[("version", mld_shared::VERSION)]),
        1.0
    );

    // Pausing a job shows at once; the others stay unpaused.
    mldctl_ok(&socket, &["disable", "partial", "--reason", "maintenance"]);
    let paused = scrape_until(addr, Duration::from_secs(10), "the pause to show", |s| {
        s.value("mld_job_paused", &[("mld_job", "partial")]) == 1.0
    });
    assert_eq!(paused.value("mld_job_paused", &[("mld_job", "score")]), 0.0);
    assert_eq!(
        paused.value("mld_job_invalid", &[("mld_job", "score")]),
        0.0
    );
    drop(console);

    // A restart: the totals and the last success come back from the event log.
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        daemon.wait(Duration::from_secs(60)).success(),
        "{}",
        daemon.stderr()
    );
    drop(daemon);
    let _daemon = MldProcess::start(&config, &socket);
    wait_listening(addr, Duration::from_secs(30));
    let again = scrape(addr);
    check_format(&again);
    for job in ["score", "partial", "broken"] {
        assert_eq!(
            observed(&again, job),
            observed(&after, job),
            "{job} after a restart"
        );
    }
    assert_eq!(
        again.value("mld_job_paused", &[("mld_job", "partial")]),
        1.0,
        "still paused"
    );
    assert!(
        again.value("mld_start_time_seconds", &[]) > after.value("mld_start_time_seconds", &[]),
        "a new process"
    );
}

/// The TCP sockets `pid` listens on.
fn listening(pid: u32) -> Vec<SocketAddr> {
    let mut inodes = std::collections::BTreeSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        if let Ok(link) = std::fs::read_link(fd.unwrap().path()) {
            let link = link.to_string_lossy().into_owned();
            if let Some(inode) = link
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
            {
                inodes.insert(inode.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for (file, v6) in [("tcp", false), ("tcp6", true)] {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")).unwrap();
        for line in table.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local address, state 0A = LISTEN, inode
            if f.len() < 10 || f[3] != "0A" || !inodes.contains(f[9]) {
                continue;
            }
            let (ip, port) = f[1].split_once(':').unwrap();
            let port = u16::from_str_radix(port, 16).unwrap();
            let bytes: Vec<u8> = (0..ip.len() / 2)
                .map(|i| u8::from_str_radix(&ip[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let ip: std::net::IpAddr = if v6 {
                // Four 32-bit words, each in host (little-endian) order.
                let mut b = [0u8; 16];
                for w in 0..4 {
                    for k in 0..4 {
                        b[4 * w + k] = bytes[4 * w + 3 - k];
                    }
                }
                std::net::Ipv6Addr::from(b).into()
            } else {
                std::net::Ipv4Addr::new(bytes[3], bytes[2], bytes[1], bytes[0]).into()
            };
            out.push(SocketAddr::new(ip, port));
        }
    }
    out
}

#[test]
fn the_endpoint_is_off_by_default_and_serves_only_metrics_where_configured() {
    // Off: the daemon listens on no TCP socket at all.
    let dir = tempfile::tempdir().unwrap();
    let config = write_small_config(dir.path(), "");
    let daemon = MldProcess::start(&config, &dir.path().join("mld.sock"));
    assert_eq!(
        listening(daemon.child.id()),
        [],
        "no [metrics]: nothing listens"
    );
    drop(daemon);

    // On: exactly the configured address, and only GET/HEAD /metrics.
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let config = write_small_config(dir.path(), &metrics_toml(addr));
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&config, &socket);
    mldctl_ok(&socket, &["status"]);
    assert_eq!(listening(_daemon.child.id()), [addr]);
    let s = scrape(addr);
    check_format(&s);
    assert_eq!(
        s.value(
            "mld_dispatches_total",
            &[("mld_job", "score"), ("status", "failed")]
        ),
        0.0
    );
    for path in ["/", "/metrics/", "/metricsx", "/debug"] {
        let (status, _, body) = get(addr, path);
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, allow) = post(addr, "/metrics");
    assert_eq!((status, allow.as_str()), (405, "GET, HEAD"));

    // A reload cannot move it: it says so, and the endpoint stays.
    let other = free_addr();
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace(&addr.to_string(), &other.to_string()),
    )
    .unwrap();
    let said = mldctl_ok(&socket, &["reload"]);
    assert!(
        said.contains("metrics.listen changed: takes effect at the next restart"),
        "{said}"
    );
    check_format(&scrape(addr));
    assert_eq!(listening(_daemon.child.id()), [addr]);
}

#[test]
fn a_taken_address_stops_the_start_with_the_reason() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_small_config(dir.path(), &metrics_toml(addr));
    let out = mld(&["--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on metrics.listen = \"{addr}\"")),
        "{stderr}"
    );
}
