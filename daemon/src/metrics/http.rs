//! The endpoint's HTTP side: `GET /metrics` (and `HEAD`) on the configured
//! address, nothing else. HTTP/1.1 through hyper on the daemon's runtime; the
//! encoding runs on a blocking thread. A few connections at a time, each with
//! a deadline for its request headers, so a scraper that misbehaves cannot
//! hold the daemon's resources.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Scrapers connected at once, at most; more are closed at once.
pub const MAX_CONNECTIONS: usize = 16;

/// A request's headers must arrive within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The only path served.
pub const PATH: &str = "/metrics";

/// Listens on `addr`, so a taken or impossible address stops the daemon's
/// start with the reason.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on metrics.listen = \"{addr}\": {e}"))
}

/// Answers scrapes until `shutdown`.
pub async fn serve(listener: TcpListener, registry: Arc<Registry>, shutdown: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics endpoint listening on http://{addr}{PATH}");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, most likely: wait rather than spin.
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "metrics endpoint: too many connections; closed");
            drop(stream);
            continue;
        };
        let registry = registry.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(req, registry.clone()));
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "metrics endpoint: connection ended");
            }
            drop(permit);
        });
    }
    connections.shutdown().await;
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn answer(
    req: Request<Incoming>,
    registry: Arc<Registry>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if req.uri().path() != PATH {
        return Ok(text(
            StatusCode::NOT_FOUND,
            "not found: this endpoint serves /metrics only\n",
        ));
    }
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut r = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: GET /metrics\n",
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Ok(r);
        }
    };
    let body = match tokio::task::spawn_blocking(move || super::encode(&registry)).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "metrics endpoint: encoding failed");
            return Ok(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the metrics could not be encoded; see the daemon's log\n",
            ));
        }
    };
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut r = Response::new(Full::new(body));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(prometheus_client::encoding::prometheus_text::CONTENT_TYPE),
    );
    Ok(r)
}
