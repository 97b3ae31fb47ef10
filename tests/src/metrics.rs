//! The daemon's Prometheus endpoint as a scraper sees it: a real HTTP client
//! (`ureq`), the text parsed by a parser crate (`prometheus-parse`), and the
//! format checked by Prometheus's own `promtool check metrics`.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

pub use prometheus_parse::{Sample, Value};

/// A loopback address with a port nothing listens on now.
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().unwrap()
}

/// The `[metrics]` table listening on `addr`.
pub fn metrics_toml(addr: SocketAddr) -> String {
    format!("[metrics]\nlisten = \"{addr}\"\n")
}

/// Waits until something accepts connections on `addr` (the daemon binds its
/// endpoint after its socket, once its event log is open).
pub fn wait_listening(addr: SocketAddr, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// `GET http://ADDR/PATH`: the status, the content type and the body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut response = agent()
        .get(format!("http://{addr}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path} from {addr}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.body_mut().read_to_string().unwrap();
    (status, content_type, body)
}

/// `POST http://ADDR/PATH` with an empty body: the status and the `Allow` header.
pub fn post(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = agent()
        .post(format!("http://{addr}{path}"))
        .send("")
        .unwrap_or_else(|e| panic!("POST {path} to {addr}: {e}"));
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (response.status().as_u16(), allow)
}

/// One scrape of `/metrics`, checked to be 200 with the Prometheus text
/// format's content type, and parsed.
pub fn scrape(addr: SocketAddr) -> Scrape {
    let (status, content_type, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type:?}"
    );
    Scrape::parse(body)
}

/// A parsed scrape and its text.
pub struct Scrape {
    pub text: String,
    pub samples: Vec<Sample>,
}

impl Scrape {
    pub fn parse(text: String) -> Scrape {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
        Scrape {
            samples: parsed.samples,
            text,
        }
    }

    /// The sample of `metric` whose labels include all of `labels`.
    pub fn find(&self, metric: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        self.samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
    }

    /// The value of a counter, gauge or untyped sample; panics if absent.
    pub fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        match self.find(metric, labels).map(|s| &s.value) {
            Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
            other => panic!("{metric}{labels:?}: {other:?} in\n{}", self.text),
        }
    }

    /// The cumulative buckets of a histogram: `(upper bound, count)`.
    pub fn buckets(&self, metric: &str, labels: &[(&str, &str)]) -> Vec<(f64, f64)> {
        match self.find(metric, labels).map(|s| &s.value) {
            Some(Value::Histogram(h)) => h.iter().map(|b| (b.less_than, b.count)).collect(),
            other => panic!("{metric}{labels:?}: {other:?} in\n{}", self.text),
        }
    }
}

/// `promtool check metrics` on `text`: what it said, if it found fault.
/// Panics, saying how to get it, when promtool is not installed.
pub fn promtool_check(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed to check the metrics format ({e}): .ci/run installs it from \
                 Debian's prometheus package (apt-get download prometheus; dpkg-deb -x …)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
