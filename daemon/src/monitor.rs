//! Health: the watched servers, the event log (and, with the dispatch layer,
//! the datalakes), checked on the configured interval.
//!
//! Owns one task. Receives the configuration (re-read on every round, so a
//! reload takes effect at the next refresh); emits the whole health table into
//! a `watch` (for snapshots) and as `Update::Health` to subscribers.

use crate::context::Context;
use mld_shared::config::{
    DatalakeConfig, DatalakeKind, ExecutorConfig, ExecutorKind, Mechanism, WatchedServer,
};
use mld_shared::protocol::{HealthEntry, HealthKind, HealthState, Update};
use mld_shared::time::WireTime;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;

/// The health table before the first round: every target `unknown`.
pub fn initial(config: &mld_shared::config::Config) -> Vec<HealthEntry> {
    let mut out: Vec<HealthEntry> = config
        .monitor
        .servers
        .iter()
        .map(|s| HealthEntry {
            kind: HealthKind::Server,
            name: s.name.clone(),
            target: server_target(s),
            state: HealthState::Unknown,
            latency_ms: None,
            message: None,
            checked_at: None,
        })
        .collect();
    for (name, d) in &config.datalakes {
        out.push(HealthEntry {
            kind: HealthKind::Datalake,
            name: name.clone(),
            target: datalake_target(d),
            state: HealthState::Unknown,
            latency_ms: None,
            message: None,
            checked_at: None,
        });
    }
    out.push(HealthEntry {
        kind: HealthKind::EventLog,
        name: "event log".into(),
        target: config.daemon.event_log_path().display().to_string(),
        state: HealthState::Unknown,
        latency_ms: None,
        message: None,
        checked_at: None,
    });
    for (name, e) in slurm_executors(config) {
        out.push(HealthEntry {
            kind: HealthKind::Cluster,
            name,
            target: cluster_target(&e),
            state: HealthState::Unknown,
            latency_ms: None,
            message: None,
            checked_at: None,
        });
    }
    out
}

fn slurm_executors(config: &mld_shared::config::Config) -> Vec<(String, ExecutorConfig)> {
    config
        .executors
        .iter()
        .filter(|(_, e)| e.kind == ExecutorKind::Slurm)
        .map(|(n, e)| (n.clone(), e.clone()))
        .collect()
}

fn cluster_target(e: &ExecutorConfig) -> String {
    match &e.partition {
        Some(p) => format!("slurm partition {p}"),
        None => "slurm".to_string(),
    }
}

/// Asks a Slurm cluster for its nodes (`sinfo`), on a blocking thread:
/// online while a node can take work, else an error saying how many are down.
async fn probe_cluster(name: String, e: ExecutorConfig) -> HealthEntry {
    let target = cluster_target(&e);
    let started = Instant::now();
    let nodes =
        tokio::task::spawn_blocking(move || crate::scaleout::executor::cluster_nodes(&e)).await;
    let (state, message) = match nodes {
        Ok(Ok(n)) => {
            let text = format!(
                "nodes: {} idle, {} allocated, {} down{}",
                n.idle,
                n.allocated,
                n.down,
                if n.other > 0 {
                    format!(", {} other", n.other)
                } else {
                    String::new()
                }
            );
            let state = if n.idle + n.allocated > 0 {
                HealthState::Online
            } else {
                HealthState::Error
            };
            (state, Some(text))
        }
        Ok(Err(e)) => (HealthState::Error, Some(e)),
        Err(e) => (HealthState::Error, Some(format!("probe failed: {e}"))),
    };
    HealthEntry {
        kind: HealthKind::Cluster,
        name,
        target,
        state,
        latency_ms: Some(ms(started.elapsed())),
        message,
        checked_at: Some(WireTime::now()),
    }
}

/// What the datalake row shows: the kind and the probe table, never the connection string.
fn datalake_target(d: &DatalakeConfig) -> String {
    let kind = match d.kind {
        DatalakeKind::Odbc => "odbc".to_string(),
        DatalakeKind::Sqlite => {
            format!(
                "sqlite {}",
                d.path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )
        }
    };
    match &d.probe_table {
        Some(t) => format!("{kind} (probe: {t})"),
        None => kind,
    }
}

/// Connects to a datalake and queries its probe table, on a blocking thread.
async fn probe_datalake(name: String, d: DatalakeConfig) -> HealthEntry {
    let target = datalake_target(&d);
    let lake_name = name.clone();
    let report = tokio::task::spawn_blocking(move || {
        crate::datalake::Datalake::from_config(&lake_name, &d).map(|lake| lake.probe())
    })
    .await;
    let (state, latency_ms, message) = match report {
        Ok(Ok(r)) => (
            match r.status {
                crate::datalake::ProbeStatus::Online => HealthState::Online,
                crate::datalake::ProbeStatus::Error => HealthState::Error,
            },
            Some(ms(r.latency)),
            r.message,
        ),
        Ok(Err(e)) => (HealthState::Error, None, Some(e.to_string())),
        Err(e) => (HealthState::Error, None, Some(format!("probe failed: {e}"))),
    };
    HealthEntry {
        kind: HealthKind::Datalake,
        name,
        target,
        state,
        latency_ms,
        message,
        checked_at: Some(WireTime::now()),
    }
}

fn server_target(s: &WatchedServer) -> String {
    let host = if s.address.contains(':') {
        format!("[{}]", s.address)
    } else {
        s.address.clone()
    };
    format!("{host}:{} ({})", s.port, s.mechanism.as_str())
}

/// Runs rounds until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    tx: watch::Sender<Vec<HealthEntry>>,
    shutdown: CancellationToken,
) {
    loop {
        let table = round(&ctx).await;
        tx.send_replace(table.clone());
        ctx.publish(Update::Health(table));
        let refresh = ctx.config().monitor.refresh.0;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(refresh) => {}
        }
    }
}

/// One round: every probe at once.
pub async fn round(ctx: &Context) -> Vec<HealthEntry> {
    let config = ctx.config();
    let servers = config.monitor.servers.iter().map(|s| {
        let s = s.clone();
        async move { probe_server(&s).await }
    });
    let mut out = futures_join_all(servers).await;
    let lakes: Vec<_> = config
        .datalakes
        .iter()
        .map(|(name, d)| probe_datalake(name.clone(), d.clone()))
        .collect();
    out.extend(futures_join_all(lakes.into_iter()).await);
    let started = Instant::now();
    let log = ctx.eventlog.probe().await;
    out.push(HealthEntry {
        kind: HealthKind::EventLog,
        name: "event log".into(),
        target: ctx.eventlog.path().display().to_string(),
        state: if log.is_ok() {
            HealthState::Online
        } else {
            HealthState::Error
        },
        latency_ms: Some(ms(started.elapsed())),
        message: log.err().map(|e| e.to_string()),
        checked_at: Some(WireTime::now()),
    });
    let clusters: Vec<_> = slurm_executors(&config)
        .into_iter()
        .map(|(name, e)| probe_cluster(name, e))
        .collect();
    out.extend(futures_join_all(clusters.into_iter()).await);
    out
}

async fn futures_join_all<F: std::future::Future<Output = HealthEntry> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<HealthEntry> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(e) = h.await {
            out.push(e);
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Probes one server within its timeout: `online`, `offline` (no answer in
/// time) or `error` (refused, unresolvable, bad certificate…).
pub async fn probe_server(s: &WatchedServer) -> HealthEntry {
    let started = Instant::now();
    let outcome = tokio::time::timeout(s.timeout.0, check(s)).await;
    let (state, message) = match outcome {
        Ok(Ok(())) => (HealthState::Online, None),
        Ok(Err(msg)) => (HealthState::Error, Some(msg)),
        Err(_) => (
            HealthState::Offline,
            Some(format!("no answer within {}", humantime_str(s.timeout.0))),
        ),
    };
    HealthEntry {
        kind: HealthKind::Server,
        name: s.name.clone(),
        target: server_target(s),
        state,
        latency_ms: Some(ms(started.elapsed())),
        message,
        checked_at: Some(WireTime::now()),
    }
}

fn humantime_str(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

async fn resolve(s: &WatchedServer) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((s.address.as_str(), s.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", s.address))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{} resolves to no address", s.address));
    }
    Ok(addrs)
}

async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, String> {
    let mut last = String::new();
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(t) => return Ok(t),
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(last)
}

async fn check(s: &WatchedServer) -> Result<(), String> {
    match s.mechanism {
        // `plain` takes the address as given (an IP, or a name resolved in
        // passing); `dns` makes resolution its own step, so a DNS failure is
        // reported as such.
        Mechanism::Plain => {
            let addrs = match s.address.parse::<std::net::IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, s.port)],
                Err(_) => resolve(s).await?,
            };
            connect(&addrs).await.map(drop)
        }
        Mechanism::Dns => {
            let addrs = resolve(s).await?;
            connect(&addrs).await.map(drop)
        }
        Mechanism::Tls => {
            let addrs = match s.address.parse::<std::net::IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, s.port)],
                Err(_) => resolve(s).await?,
            };
            let tcp = connect(&addrs).await?;
            let name = rustls::pki_types::ServerName::try_from(s.address.clone())
                .map_err(|e| format!("{} is not a valid TLS server name: {e}", s.address))?;
            let connector = tokio_rustls::TlsConnector::from(tls_config()?);
            connector
                .connect(name, tcp)
                .await
                .map(drop)
                .map_err(|e| format!("TLS handshake failed: {e}"))
        }
    }
}

/// The system's trust store, loaded once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup failed: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mld_shared::config::ConfigDuration;

    fn server(address: &str, port: u16, mechanism: Mechanism) -> WatchedServer {
        WatchedServer {
            name: "t".into(),
            address: address.into(),
            port,
            mechanism,
            timeout: ConfigDuration(Duration::from_secs(2)),
        }
    }

    #[tokio::test]
    async fn plain_and_dns_report_online_for_a_listening_port_on_v4_and_v6() {
        let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port4 = v4.local_addr().unwrap().port();
        let e = probe_server(&server("127.0.0.1", port4, Mechanism::Plain)).await;
        assert_eq!(e.state, HealthState::Online, "{e:?}");
        let e = probe_server(&server("localhost", port4, Mechanism::Dns)).await;
        assert_eq!(e.state, HealthState::Online, "{e:?}");
        if let Ok(v6) = tokio::net::TcpListener::bind("[::1]:0").await {
            let port6 = v6.local_addr().unwrap().port();
            let e = probe_server(&server("::1", port6, Mechanism::Plain)).await;
            assert_eq!(e.state, HealthState::Online, "{e:?}");
            assert_eq!(e.target, format!("[::1]:{port6} (plain)"));
        }
    }

    #[tokio::test]
    async fn refused_unresolvable_and_bad_tls_are_errors() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = probe_server(&server("127.0.0.1", port, Mechanism::Plain)).await;
        assert_eq!(e.state, HealthState::Error);
        assert!(e.message.unwrap().contains("refused"));
        let e = probe_server(&server("no-such-host.invalid", 80, Mechanism::Dns)).await;
        assert_eq!(e.state, HealthState::Error);
        assert!(
            e.message.unwrap().contains("cannot resolve"),
            "names the DNS step"
        );

        // A server that accepts TCP but never speaks TLS: the handshake fails or times out.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            use tokio::io::AsyncWriteExt;
            s.write_all(b"HTTP/1.0 400 not tls\r\n\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(3)).await;
        });
        let e = probe_server(&server("127.0.0.1", port, Mechanism::Tls)).await;
        assert_eq!(e.state, HealthState::Error, "{e:?}");
        assert!(e.message.unwrap().contains("TLS handshake failed"));
        silent.abort();
    }

    #[tokio::test]
    async fn a_silent_peer_is_offline_after_the_timeout() {
        // A listener whose backlog is full cannot be made portably; a TLS
        // server that accepts and says nothing is the reliable silent peer.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let _s = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let mut s = server("127.0.0.1", port, Mechanism::Tls);
        s.timeout = ConfigDuration(Duration::from_millis(300));
        let e = probe_server(&s).await;
        assert_eq!(e.state, HealthState::Offline, "{e:?}");
        assert_eq!(e.message.as_deref(), Some("no answer within 300ms"));
        hold.abort();
    }
}
