//! One connection: credentials, admission, handshake, then requests and updates.
//!
//! Three pieces per connection: a reader task that turns bytes into
//! `ClientFrame`s (so a half-read frame is never lost to a `select!`), a
//! writer task that drains a bounded queue of encoded frames, and the loop in
//! between that answers requests and forwards subscribed updates. A malformed,
//! oversized or unexpected frame ends this connection only.
//!
//! What one peer can take is bounded ([`LimitsConfig`], read from the
//! configuration in force, so a reload applies):
//! - a peer with no role is refused at the handshake; past that, admission
//!   ([`Admission`]) caps connections per non-admin uid and keeps
//!   `admin_connections` of `max_connections` for admins only;
//! - `requests_in_flight` requests per connection: each holds a permit from
//!   the moment its frame is read until its answer is written, and the reader
//!   waits for a permit before it reads the next frame, so a client that
//!   floods requests and never reads the answers stops being read;
//! - frames: a `Hello` of at most [`MAX_HELLO_LEN`] bytes within
//!   `handshake_timeout`; requests of at most `request_bytes` (16 MiB for
//!   admins), decoded within [`decode_budget`], each finished within
//!   `frame_timeout` once begun; a frame the client does not take within
//!   `write_timeout` closes the connection;
//! - a connection with no subscription and nothing asked for `idle_timeout`
//!   is closed;
//! - an answer too large for one frame becomes an error answer saying to
//!   narrow the request, never a dropped connection.
//!
//! Roles are recomputed from the configuration in force for each request, so
//! a reload that removes a user from `[access]` applies to their open
//! connections at once; one left with no role at all is closed.

use super::{convert, handlers};
use crate::access::{Identities, Peer};
use crate::context::Context;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use mld_shared::config::{Config, LimitsConfig};
use mld_shared::frame::{self, FrameError, MAX_FRAME_LEN, MAX_HELLO_LEN, decode_budget};
use mld_shared::ids::RequestId;
use mld_shared::protocol::{
    ClientFrame, ErrorKind, Hello, HelloReply, MAGIC, PROTOCOL_VERSION, Request, Response,
    ServerFrame, Update, Welcome, WireError,
};
use mld_shared::roles::Role;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Encoded frames queued for the writer before the connection's loop waits.
const OUTBOX: usize = 32;
/// How long a refused peer has to send its `Hello` before it is told why:
/// reading it first means the refusal is what the client reads, not a reset.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);
/// Bytes buffered per connection for reading frames.
const READ_BUFFER: usize = 4 * 1024;

/// Who holds connection slots: the count per uid and in total, and the
/// identities of recent peers. One per daemon, shared by the connection tasks.
#[derive(Default)]
pub struct Admission {
    state: Mutex<Held>,
    identities: Identities,
    /// Held while an identity is looked up.
    resolving: tokio::sync::Mutex<()>,
    /// Refusals per uid: when the current window began, and how many so far.
    refusals: Mutex<HashMap<u32, (std::time::Instant, u32)>>,
}

/// Refusals of one uid within [`FLOOD_WINDOW`] past which it is a flood.
const FLOOD_REFUSALS: u32 = 16;
const FLOOD_WINDOW: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Held {
    total: u32,
    per_uid: HashMap<u32, u32>,
}

/// A slot held by one admitted connection; dropping it frees the slot.
pub struct Ticket {
    admission: Arc<Admission>,
    uid: u32,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut held = self
            .admission
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.per_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                held.per_uid.remove(&self.uid);
            }
        }
    }
}

impl Admission {
    /// Takes a slot for `peer`, or says why not. Admins may use every slot;
    /// others neither the last `admin_connections` nor more than
    /// `connections_per_user` of their own.
    pub fn admit(self: &Arc<Self>, peer: &Peer, limits: &LimitsConfig) -> Result<Ticket, String> {
        let mut held = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let admin = peer.roles.has(Role::Admin);
        let mine = held.per_uid.get(&peer.uid).copied().unwrap_or(0);
        if admin {
            if held.total >= limits.max_connections {
                return Err(format!(
                    "the daemon is at its connection limit ({} connections); try again later",
                    limits.max_connections
                ));
            }
        } else {
            if mine >= limits.connections_per_user {
                return Err(format!(
                    "too many connections: uid {} ({}) already has {mine} (the limit per user is {})",
                    peer.uid, peer.user, limits.connections_per_user
                ));
            }
            let open = limits
                .max_connections
                .saturating_sub(limits.admin_connections);
            if held.total >= open {
                return Err(format!(
                    "the daemon is at its connection limit for users without admin ({open} connections); try again later"
                ));
            }
        }
        held.total += 1;
        *held.per_uid.entry(peer.uid).or_insert(0) += 1;
        Ok(Ticket {
            admission: self.clone(),
            uid: peer.uid,
        })
    }

    /// Notes a refusal of `uid`; whether it still gets a polite one (see
    /// [`refuse`]) or is refused in a flood.
    fn polite(&self, uid: u32) -> bool {
        let mut refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if refusals.len() > 4096 {
            refusals.retain(|_, (since, _)| now.duration_since(*since) < FLOOD_WINDOW);
        }
        let entry = refusals.entry(uid).or_insert((now, 0));
        if now.duration_since(entry.0) >= FLOOD_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= FLOOD_REFUSALS
    }

    /// Connections admitted and still open.
    pub fn open(&self) -> u32 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

struct ClientCount(Arc<Context>);

impl Drop for ClientCount {
    fn drop(&mut self) {
        self.0.connected_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One frame for the writer, with the permit of the request it answers.
struct Outgoing {
    bytes: Vec<u8>,
    permit: Option<OwnedSemaphorePermit>,
    /// The connection closes after this frame.
    last: bool,
}

impl Outgoing {
    fn frame(f: &ServerFrame) -> Outgoing {
        Outgoing {
            bytes: encode_server_frame(f),
            permit: None,
            last: matches!(f, ServerFrame::Closing { .. }),
        }
    }
}

/// Encodes a frame for the wire. An answer too large for one frame becomes
/// an error answer to the same request, so the client learns why.
fn encode_server_frame(f: &ServerFrame) -> Vec<u8> {
    match frame::encode(f) {
        Ok(bytes) => bytes,
        Err(e) => {
            let ServerFrame::Response { id, .. } = f else {
                // Updates are never near the limit; if one were, skipping it beats closing.
                tracing::error!(error = %e, "an update could not be encoded; skipped");
                return Vec::new();
            };
            let error = match e {
                FrameError::TooLarge { len, max } => WireError::new(
                    ErrorKind::InvalidRequest,
                    format!(
                        "the answer is too large to send ({len} bytes; the most is {max}): narrow the window or ask for fewer rows"
                    ),
                ),
                other => WireError::new(
                    ErrorKind::Internal,
                    format!("the answer could not be encoded: {other}"),
                ),
            };
            frame::encode(&ServerFrame::Response {
                id: *id,
                result: Err(error),
            })
            .unwrap_or_default()
        }
    }
}

fn answer(id: RequestId, result: Result<Response, WireError>) -> Vec<u8> {
    encode_server_frame(&ServerFrame::Response { id, result })
}

/// Tells a refused peer why and closes. The reply goes first; then, unless
/// this uid is being refused in a flood, the daemon reads the peer's `Hello`
/// for a moment before closing, so a client that writes its `Hello` late
/// still reads the reason instead of a broken pipe. A flood is closed at
/// once: lingering thousands of connections would wake them all together.
async fn refuse(stream: &Stream, reason: String, linger: bool) {
    let mut wr = stream;
    let _ = tokio::time::timeout(
        REFUSAL_LINGER,
        frame::write_message(&mut wr, &HelloReply::Refused { reason }),
    )
    .await;
    if linger {
        let mut rd = stream;
        let _ = tokio::time::timeout(
            REFUSAL_LINGER,
            frame::read_payload_within(&mut rd, MAX_HELLO_LEN, None),
        )
        .await;
    }
}

/// The peer's user, groups and roles: from the cache, or looked up (NSS,
/// blocking) one lookup at a time, so a burst of connections from one user
/// waits for the first lookup instead of each starting a thread.
async fn identify(
    admission: &Arc<Admission>,
    uid: u32,
    gid: u32,
    pid: Option<i32>,
    access: &mld_shared::config::AccessConfig,
) -> Option<Peer> {
    if let Some(p) = admission.identities.cached(uid, gid, pid, access) {
        return Some(p);
    }
    let _one = admission.resolving.lock().await;
    if let Some(p) = admission.identities.cached(uid, gid, pid, access) {
        return Some(p);
    }
    let (access, admission) = (access.clone(), admission.clone());
    match tokio::task::spawn_blocking(move || admission.identities.resolve(uid, gid, pid, &access))
        .await
    {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %e, "resolving peer credentials panicked");
            None
        }
    }
}

/// Serves one connection. `admitting` is held while the peer is identified
/// and admitted or refused (see [`super::MAX_ADMITTING`]) and released before
/// anything that waits on the peer.
pub async fn handle(
    stream: Stream,
    ctx: Arc<Context>,
    admission: Arc<Admission>,
    admitting: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) {
    let creds = stream.peer_creds();
    let (uid, gid, pid) = match creds {
        Ok(c) => (
            c.euid().unwrap_or(u32::MAX),
            c.egid().unwrap_or(u32::MAX),
            c.pid(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read peer credentials; refusing");
            drop(admitting);
            refuse(
                &stream,
                "the daemon could not read your credentials".into(),
                true,
            )
            .await;
            return;
        }
    };
    let config = ctx.config();
    let Some(peer) = identify(&admission, uid, gid, pid, &config.access).await else {
        return;
    };
    if peer.roles.is_empty() {
        tracing::debug!(user = %peer.user, uid, "refusing a peer with no role");
        ctx.denials.record(&peer, "connect", "a role").await;
        drop(admitting);
        let linger = admission.polite(uid);
        refuse(
            &stream,
            format!("permission denied: no role for uid {uid}"),
            linger,
        )
        .await;
        return;
    }
    let limits = config.limits.clone();
    let admitted = admission.admit(&peer, &limits);
    drop(admitting);
    let ticket = match admitted {
        Ok(t) => t,
        Err(reason) => {
            tracing::info!(user = %peer.user, uid, "refusing a connection: {reason}");
            let linger = admission.polite(uid);
            refuse(&stream, reason, linger).await;
            return;
        }
    };
    ctx.connected_clients.fetch_add(1, Ordering::Relaxed);
    let _count = ClientCount(ctx.clone());
    drop(config);

    // `&Stream` reads and writes, so the reader and writer tasks share one stream.
    let stream = Arc::new(stream);
    let mut rd = BufReader::with_capacity(READ_BUFFER, ArcRead(stream.clone()));
    let mut wr = &*stream;

    let hello = match tokio::time::timeout(
        limits.handshake_timeout.0,
        frame::read_payload_within(&mut rd, MAX_HELLO_LEN, None),
    )
    .await
    {
        Ok(Ok(Some(payload))) => {
            match frame::decode_within::<Hello>(&payload, decode_budget(payload.len())) {
                Ok(h) => h,
                Err(e) => {
                    tracing::info!(user = %peer.user, error = %e, "closing connection: bad handshake");
                    return;
                }
            }
        }
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::info!(user = %peer.user, error = %e, "closing connection: bad handshake");
            return;
        }
        Err(_) => {
            tracing::info!(user = %peer.user, "closing connection: no handshake within {:?}", limits.handshake_timeout.0);
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
            client = ?hello.client,
            client_protocol = hello.protocol_version,
            daemon_protocol = PROTOCOL_VERSION,
            "closing connection: protocol version mismatch"
        );
        let reply = HelloReply::VersionMismatch {
            daemon_protocol_version: PROTOCOL_VERSION,
            daemon_version: mld_shared::VERSION.to_string(),
        };
        let _ = tokio::time::timeout(
            limits.write_timeout.0,
            frame::write_message(&mut wr, &reply),
        )
        .await;
        return;
    }
    let welcome = HelloReply::Welcome(Welcome {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: mld_shared::VERSION.to_string(),
        user: peer.user.clone(),
        uid: peer.uid,
        roles: peer.roles,
    });
    match tokio::time::timeout(
        limits.write_timeout.0,
        frame::write_message(&mut wr, &welcome),
    )
    .await
    {
        Ok(Ok(())) => {}
        _ => return,
    }
    tracing::debug!(user = %peer.user, uid = peer.uid, roles = %peer.roles, client = ?hello.client, "client connected");

    let permits = Arc::new(Semaphore::new(limits.requests_in_flight.max(1) as usize));
    let closed = CancellationToken::new();
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(OUTBOX);
    let writer = tokio::spawn(write_loop(
        stream.clone(),
        out_rx,
        limits.write_timeout.0,
        closed.clone(),
    ));
    let (in_tx, in_rx) = mpsc::channel::<Incoming>(1);
    let peer = Arc::new(peer);
    let reader = tokio::spawn(read_loop(
        rd,
        ctx.clone(),
        peer.clone(),
        permits.clone(),
        in_tx,
    ));
    serve(
        Served {
            ctx: ctx.clone(),
            peer,
            permits,
            in_flight_max: limits.requests_in_flight.max(1) as usize,
            out_tx,
            closed: closed.clone(),
        },
        in_rx,
        shutdown,
    )
    .await;
    reader.abort();
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    drop(ticket);
}

/// A request read and decoded, with the permit it holds until answered.
type Incoming = Result<(ClientFrame, OwnedSemaphorePermit), FrameError>;

struct Served {
    ctx: Arc<Context>,
    peer: Arc<Peer>,
    permits: Arc<Semaphore>,
    in_flight_max: usize,
    out_tx: mpsc::Sender<Outgoing>,
    closed: CancellationToken,
}

impl Served {
    /// The peer with roles as the configuration in force gives them.
    fn refresh_roles(&mut self, config: &Config) {
        if let Some(p) = self.peer.with_roles_from(&config.access) {
            tracing::info!(user = %p.user, uid = p.uid, roles = %p.roles, "roles changed with the configuration");
            self.peer = Arc::new(p);
        }
    }

    async fn send(&self, out: Outgoing) -> bool {
        self.out_tx.send(out).await.is_ok()
    }

    async fn close(&self, reason: String) {
        let _ = self
            .send(Outgoing::frame(&ServerFrame::Closing { reason }))
            .await;
    }
}

/// The connection's loop: requests in, answers and updates out.
async fn serve(mut s: Served, mut in_rx: mpsc::Receiver<Incoming>, shutdown: CancellationToken) {
    let mut subscription: Option<broadcast::Receiver<Update>> = None;
    let mut last_activity = Instant::now();
    let mut config = s.ctx.config();
    loop {
        // Idle: no subscription, nothing in flight, nothing asked for a while.
        let idle_timeout = config.limits.idle_timeout.0;
        let idle = subscription.is_none() && s.permits.available_permits() == s.in_flight_max;
        let idle_deadline = last_activity + idle_timeout;
        tokio::select! {
            _ = shutdown.cancelled() => {
                s.close("the daemon is shutting down".into()).await;
                break;
            }
            _ = s.closed.cancelled() => break,
            _ = tokio::time::sleep_until(idle_deadline), if idle => {
                tracing::debug!(user = %s.peer.user, "closing an idle connection");
                s.close(format!(
                    "closed after {} without a request (limits.idle_timeout)",
                    humantime::format_duration(idle_timeout)
                ))
                .await;
                break;
            }
            incoming = in_rx.recv() => match incoming {
                None => break,
                Some(Err(e)) => {
                    tracing::info!(user = %s.peer.user, error = %e, "closing connection");
                    s.close(e.to_string()).await;
                    break;
                }
                Some(Ok((ClientFrame { id, request }, permit))) => {
                    last_activity = Instant::now();
                    config = s.ctx.config();
                    s.refresh_roles(&config);
                    if s.peer.roles.is_empty() {
                        let reason = format!("permission denied: no role for uid {}", s.peer.uid);
                        s.close(reason).await;
                        break;
                    }
                    if let Err(denied) = handlers::authorize(&s.ctx, &s.peer, &request).await {
                        let out = Outgoing { bytes: answer(id, Err(denied)), permit: Some(permit), last: false };
                        if !s.send(out).await {
                            break;
                        }
                        continue;
                    }
                    let result = match request {
                        // Subscription state belongs to this loop, so these two are answered here.
                        Request::Subscribe => {
                            subscription = Some(s.ctx.updates.subscribe());
                            Ok(Response::Subscribed(Box::new(convert::snapshot(&s.ctx).await)))
                        }
                        Request::Unsubscribe => {
                            subscription = None;
                            Ok(Response::Unsubscribed)
                        }
                        // The rest run on their own task, so a slow one (a dry run)
                        // never holds up this connection's updates or other requests.
                        other => {
                            let (ctx, peer, out) = (s.ctx.clone(), s.peer.clone(), s.out_tx.clone());
                            tokio::spawn(async move {
                                let result = handlers::handle(&ctx, &peer, other).await;
                                let bytes = answer(id, result);
                                let _ = out.send(Outgoing { bytes, permit: Some(permit), last: false }).await;
                            });
                            continue;
                        }
                    };
                    let out = Outgoing { bytes: answer(id, result), permit: Some(permit), last: false };
                    if !s.send(out).await {
                        break;
                    }
                }
            },
            update = next_update(&mut subscription) => {
                let now = s.ctx.config();
                if !Arc::ptr_eq(&now, &config) {
                    config = now;
                    s.refresh_roles(&config);
                    if !s.peer.roles.has(Role::Dispatch) {
                        // A reload took the right to watch away.
                        subscription = None;
                        if s.peer.roles.is_empty() {
                            let reason = format!("permission denied: no role for uid {}", s.peer.uid);
                            s.close(reason).await;
                            break;
                        }
                        continue;
                    }
                }
                let frame = match update {
                    Ok(u) => ServerFrame::Update(u),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(user = %s.peer.user, missed, "slow subscriber; sending a fresh snapshot");
                        ServerFrame::Update(Update::Resync(Box::new(convert::snapshot(&s.ctx).await)))
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        subscription = None;
                        continue;
                    }
                };
                if !s.send(Outgoing::frame(&frame)).await {
                    break;
                }
            }
        }
    }
}

async fn next_update(
    sub: &mut Option<broadcast::Receiver<Update>>,
) -> Result<Update, broadcast::error::RecvError> {
    match sub {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Reads through the shared stream (`&Stream` implements the I/O traits).
struct ArcRead(Arc<Stream>);

impl tokio::io::AsyncRead for ArcRead {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let mut r: &Stream = &self.0;
        std::pin::Pin::new(&mut r).poll_read(cx, buf)
    }
}

/// Reads requests while the connection has a permit free: a client that
/// sends faster than it reads answers is simply not read.
async fn read_loop(
    mut rd: BufReader<ArcRead>,
    ctx: Arc<Context>,
    peer: Arc<Peer>,
    permits: Arc<Semaphore>,
    tx: mpsc::Sender<Incoming>,
) {
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let config = ctx.config();
        // Only admins send large frames (ONNX imports); roles as configured now.
        let admin = peer
            .with_roles_from(&config.access)
            .map_or(peer.roles, |p| p.roles)
            .has(Role::Admin);
        let max = if admin {
            MAX_FRAME_LEN
        } else {
            config.limits.request_bytes as usize
        };
        let deadline = config.limits.frame_timeout.0;
        drop(config);
        let next = match frame::read_payload_within(&mut rd, max, Some(deadline)).await {
            Ok(Some(payload)) => {
                frame::decode_within::<ClientFrame>(&payload, decode_budget(payload.len()))
                    .map(|f| (f, permit))
            }
            Ok(None) => return,
            Err(e) => Err(e),
        };
        let failed = next.is_err();
        if tx.send(next).await.is_err() || failed {
            return;
        }
    }
}

/// Writes frames in order; a client that does not take one within
/// `write_timeout` is disconnected (`closed` tells the connection's loop).
async fn write_loop(
    stream: Arc<Stream>,
    mut rx: mpsc::Receiver<Outgoing>,
    write_timeout: Duration,
    closed: CancellationToken,
) {
    let mut wr = &*stream;
    while let Some(out) = rx.recv().await {
        if out.bytes.is_empty() {
            continue;
        }
        let written = tokio::time::timeout(write_timeout, async {
            wr.write_all(&out.bytes).await?;
            wr.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "client went away");
                break;
            }
            Err(_) => {
                tracing::info!(
                    "closing a connection whose client took no frame for {} (limits.write_timeout)",
                    humantime::format_duration(write_timeout)
                );
                break;
            }
        }
        // The request's permit is freed only once its answer is on its way.
        drop(out.permit);
        if out.last {
            break;
        }
    }
    closed.cancel();
}
