//! One connection: credentials, handshake, then requests and updates.
//!
//! Three pieces per connection: a reader task that turns bytes into
//! `ClientFrame`s (so a half-read frame is never lost to a `select!`), a
//! writer task that drains a bounded queue of `ServerFrame`s, and the loop in
//! between that answers requests and forwards subscribed updates. A malformed,
//! oversized or unexpected frame ends this connection only.

use super::{convert, handlers};
use crate::access::Peer;
use crate::context::Context;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use mld_shared::frame::{self, FrameError};
use mld_shared::protocol::{
    ClientFrame, Hello, HelloReply, MAGIC, PROTOCOL_VERSION, Request, Response, ServerFrame,
    Update, Welcome,
};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// A client must say hello this fast.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames queued for the writer before the connection's own loop waits.
const OUTBOX: usize = 64;

struct ClientCount(Arc<Context>);

impl Drop for ClientCount {
    fn drop(&mut self) {
        self.0.connected_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

pub async fn handle(stream: Stream, ctx: Arc<Context>, shutdown: CancellationToken) {
    ctx.connected_clients.fetch_add(1, Ordering::Relaxed);
    let _count = ClientCount(ctx.clone());
    let creds = stream.peer_creds();
    // `&Stream` reads and writes, so the reader and writer tasks share one stream.
    let stream = Arc::new(stream);
    let mut rd = &*stream;
    let mut wr = &*stream;

    let peer = match creds {
        Ok(c) => {
            let (uid, gid, pid) = (
                c.euid().unwrap_or(u32::MAX),
                c.egid().unwrap_or(u32::MAX),
                c.pid(),
            );
            let access = ctx.config().access.clone();
            match tokio::task::spawn_blocking(move || Peer::resolve(uid, gid, pid, &access)).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "resolving peer credentials panicked");
                    return;
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read peer credentials; refusing");
            let reply = HelloReply::Refused {
                reason: "the daemon could not read your credentials".into(),
            };
            let _ = frame::write_message(&mut wr, &reply).await;
            return;
        }
    };

    let hello = match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        frame::read_message::<Hello, _>(&mut rd),
    )
    .await
    {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::info!(user = %peer.user, error = %e, "closing connection: bad handshake");
            return;
        }
        Err(_) => {
            tracing::info!(user = %peer.user, "closing connection: no handshake within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };
    if hello.magic != MAGIC {
        tracing::info!(user = %peer.user, "closing connection: not an mld client");
        return;
    }
    if hello.protocol_version != PROTOCOL_VERSION {
        tracing::warn!(
            user = %peer.user,
            client = %hello.client,
            client_protocol = hello.protocol_version,
            daemon_protocol = PROTOCOL_VERSION,
            "closing connection: protocol version mismatch"
        );
        let reply = HelloReply::VersionMismatch {
            daemon_protocol_version: PROTOCOL_VERSION,
            daemon_version: mld_shared::VERSION.to_string(),
        };
        let _ = frame::write_message(&mut wr, &reply).await;
        return;
    }
    let welcome = HelloReply::Welcome(Welcome {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: mld_shared::VERSION.to_string(),
        user: peer.user.clone(),
        uid: peer.uid,
        roles: peer.roles,
    });
    if frame::write_message(&mut wr, &welcome).await.is_err() {
        return;
    }
    tracing::debug!(user = %peer.user, uid = peer.uid, roles = %peer.roles, client = %hello.client, "client connected");

    let (out_tx, out_rx) = mpsc::channel::<ServerFrame>(OUTBOX);
    let writer = tokio::spawn(write_loop(stream.clone(), out_rx));
    let (in_tx, mut in_rx) = mpsc::channel::<Result<ClientFrame, FrameError>>(8);
    let reader = tokio::spawn(read_loop(stream.clone(), in_tx));
    let peer = Arc::new(peer);
    let mut subscription: Option<broadcast::Receiver<Update>> = None;

    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = out_tx.send(ServerFrame::Closing { reason: "the daemon is shutting down".into() }).await;
                break;
            }
            incoming = in_rx.recv() => match incoming {
                None => break,
                Some(Err(e)) => {
                    tracing::info!(user = %peer.user, error = %e, "closing connection");
                    let _ = out_tx.send(ServerFrame::Closing { reason: e.to_string() }).await;
                    break;
                }
                Some(Ok(ClientFrame { id, request })) => {
                    if let Err(denied) = handlers::authorize(&ctx, &peer, &request).await {
                        if out_tx.send(ServerFrame::Response { id, result: Err(denied) }).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    let result = match request {
                        // Subscription state belongs to this loop, so these two are answered here.
                        Request::Subscribe => {
                            subscription = Some(ctx.updates.subscribe());
                            Ok(Response::Subscribed(Box::new(convert::snapshot(&ctx))))
                        }
                        Request::Unsubscribe => {
                            subscription = None;
                            Ok(Response::Unsubscribed)
                        }
                        Request::Ping => handlers::ping(),
                        Request::Status => handlers::status(&ctx),
                    };
                    if out_tx.send(ServerFrame::Response { id, result }).await.is_err() {
                        break;
                    }
                }
            },
            update = next_update(&mut subscription) => {
                let frame = match update {
                    Ok(u) => ServerFrame::Update(u),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(user = %peer.user, missed, "slow subscriber; sending a fresh snapshot");
                        ServerFrame::Update(Update::Resync(Box::new(convert::snapshot(&ctx))))
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        subscription = None;
                        continue;
                    }
                };
                if out_tx.send(frame).await.is_err() {
                    break;
                }
            }
        }
    }
    reader.abort();
    drop(out_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

async fn next_update(
    sub: &mut Option<broadcast::Receiver<Update>>,
) -> Result<Update, broadcast::error::RecvError> {
    match sub {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn read_loop(stream: Arc<Stream>, tx: mpsc::Sender<Result<ClientFrame, FrameError>>) {
    let mut rd = &*stream;
    loop {
        match frame::read_message::<ClientFrame, _>(&mut rd).await {
            Ok(Some(f)) => {
                if tx.send(Ok(f)).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
}

async fn write_loop(stream: Arc<Stream>, mut rx: mpsc::Receiver<ServerFrame>) {
    let mut wr = &*stream;
    while let Some(f) = rx.recv().await {
        let last = matches!(f, ServerFrame::Closing { .. });
        if let Err(e) = frame::write_message(&mut wr, &f).await {
            tracing::debug!(error = %e, "client went away");
            return;
        }
        if last {
            return;
        }
    }
}
