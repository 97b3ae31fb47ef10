//! A connection to the daemon: connect, handshake, requests with ids, and the
//! stream of pushed updates.
//!
//! Receives a socket path; emits a [`Client`] (the [`Welcome`] the daemon
//! gave, request/response, the next server frame) or a [`ClientError`] that
//! tells a person what went wrong and what to do. Used by the console's
//! connection task and by the script subcommands alike.

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use mld_shared::frame::{self, FrameError};
use mld_shared::ids::RequestId;
use mld_shared::protocol::{
    ClientFrame, Hello, HelloReply, PROTOCOL_VERSION, Request, Response, ServerFrame, Welcome,
    WireError,
};
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;
use tokio::io::{BufReader, ReadHalf, WriteHalf};

/// How long the daemon may take to answer the handshake before we give up:
/// something that accepts but never answers is not an mld daemon we can use.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("no mld daemon answers at {}: is it running? ({})", path.display(), why_not_running(io))]
    NotRunning { path: PathBuf, io: io::Error },
    #[error(
        "permission denied on {}: ask an admin to add you to the socket's group ({io})",
        path.display()
    )]
    PermissionDenied { path: PathBuf, io: io::Error },
    #[error("cannot connect to {}: {io}", path.display())]
    Connect { path: PathBuf, io: io::Error },
    #[error(
        "mldctl speaks protocol {ours}, the daemon at {} speaks {theirs} (mld {daemon_version}): upgrade {}",
        path.display(),
        if ours < theirs { "mldctl" } else { "the daemon" }
    )]
    VersionMismatch {
        path: PathBuf,
        ours: u32,
        theirs: u32,
        daemon_version: String,
    },
    #[error("the daemon at {} refused the connection: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
    #[error("the daemon at {} did not answer the handshake within {}s", path.display(), HANDSHAKE_TIMEOUT.as_secs())]
    HandshakeTimeout { path: PathBuf },
    #[error("talking to the daemon at {}: {error}", path.display())]
    Frame { path: PathBuf, error: FrameError },
    #[error("the daemon at {} closed the connection", path.display())]
    Closed { path: PathBuf },
    #[error("the daemon is closing the connection: {reason}")]
    Closing { reason: String },
    #[error("the daemon answered {request}: {error}")]
    Server {
        request: &'static str,
        error: WireError,
    },
    #[error("unexpected answer to {request}: {got}")]
    Unexpected { request: &'static str, got: String },
}

impl ClientError {
    /// Nothing listens: the expected state while a daemon restarts.
    pub fn is_not_running(&self) -> bool {
        matches!(self, ClientError::NotRunning { .. })
    }
}

/// One connected, welcomed session with the daemon.
pub struct Client {
    welcome: Welcome,
    reader: ClientReader,
    writer: ClientWriter,
    /// Frames that arrived while waiting for a response, in order.
    pending: VecDeque<ServerFrame>,
}

/// The receiving side of a [`Client`], for a task that only reads.
pub struct ClientReader {
    path: PathBuf,
    inner: BufReader<ReadHalf<Stream>>,
}

/// The sending side of a [`Client`]: numbers requests.
pub struct ClientWriter {
    path: PathBuf,
    inner: WriteHalf<Stream>,
    next_id: u64,
}

impl Client {
    /// Connects to the socket at `path` and performs the handshake.
    pub async fn connect(path: &Path) -> Result<Client, ClientError> {
        let name = path
            .to_fs_name::<GenericFilePath>()
            .map_err(|io| ClientError::Connect {
                path: path.to_path_buf(),
                io,
            })?;
        let stream = Stream::connect(name)
            .await
            .map_err(|source| connect_error(path, source))?;
        let (read, write) = tokio::io::split(stream);
        let mut reader = ClientReader {
            path: path.to_path_buf(),
            inner: BufReader::new(read),
        };
        let mut writer = ClientWriter {
            path: path.to_path_buf(),
            inner: write,
            next_id: 1,
        };
        let welcome =
            tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(path, &mut reader, &mut writer))
                .await
                .map_err(|_| ClientError::HandshakeTimeout {
                    path: path.to_path_buf(),
                })??;
        tracing::info!(socket = %path.display(), daemon = %welcome.daemon_version, user = %welcome.user, roles = %welcome.roles, "connected");
        Ok(Client {
            welcome,
            reader,
            writer,
            pending: VecDeque::new(),
        })
    }

    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Sends `request` and waits for its response. Frames that are not that
    /// response (updates, if subscribed) are kept for [`Client::next_frame`].
    pub async fn request(&mut self, request: Request) -> Result<Response, ClientError> {
        let name = request.name();
        let id = self.writer.send(request).await?;
        loop {
            match self.reader.next_frame().await? {
                ServerFrame::Response { id: got, result } if got == id => {
                    return result.map_err(|error| ClientError::Server {
                        request: name,
                        error,
                    });
                }
                ServerFrame::Closing { reason } => return Err(ClientError::Closing { reason }),
                other => self.pending.push_back(other),
            }
        }
    }

    /// The next frame from the daemon, kept ones first.
    pub async fn next_frame(&mut self) -> Result<ServerFrame, ClientError> {
        match self.pending.pop_front() {
            Some(frame) => Ok(frame),
            None => self.reader.next_frame().await,
        }
    }

    /// Subscribes: the returned snapshot is the whole state; [`Update`]s
    /// follow through [`Client::next_frame`].
    pub async fn subscribe(&mut self) -> Result<mld_shared::protocol::Snapshot, ClientError> {
        match self.request(Request::Subscribe).await? {
            Response::Subscribed(snapshot) => Ok(*snapshot),
            other => Err(ClientError::Unexpected {
                request: "subscribe",
                got: format!("{other:?}"),
            }),
        }
    }

    /// Splits into a reader and a writer so one task can wait for frames
    /// while another sends. Kept frames are returned too: they come first.
    pub fn split(self) -> (Welcome, VecDeque<ServerFrame>, ClientReader, ClientWriter) {
        (self.welcome, self.pending, self.reader, self.writer)
    }
}

impl ClientReader {
    /// Reads the next frame. Not cancel-safe: keep one reader in one task.
    pub async fn next_frame(&mut self) -> Result<ServerFrame, ClientError> {
        match frame::read_message::<ServerFrame, _>(&mut self.inner).await {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => Err(ClientError::Closed {
                path: self.path.clone(),
            }),
            Err(source) => Err(frame_error(&self.path, source)),
        }
    }
}

impl ClientWriter {
    /// Sends a request and returns the id its response will carry.
    pub async fn send(&mut self, request: Request) -> Result<RequestId, ClientError> {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.send_as(id, request).await
    }

    /// Sends a request under an id the caller chose (the console numbers
    /// its own, to match each answer to the screen that asked).
    pub async fn send_as(
        &mut self,
        id: RequestId,
        request: Request,
    ) -> Result<RequestId, ClientError> {
        tracing::debug!(id = id.0, request = request.name(), "send");
        frame::write_message(&mut self.inner, &ClientFrame { id, request })
            .await
            .map_err(|source| frame_error(&self.path, source))?;
        Ok(id)
    }
}

async fn handshake(
    path: &Path,
    reader: &mut ClientReader,
    writer: &mut ClientWriter,
) -> Result<Welcome, ClientError> {
    hello_exchange(path, &mut reader.inner, &mut writer.inner).await
}

/// Sends our `Hello` and reads the daemon's reply. A daemon that refuses a
/// connection at once (too many connections for this user, or at all) writes
/// its reason and closes without reading the `Hello`; our write may then
/// fail with a broken pipe, so the reason is read before that error is
/// reported.
async fn hello_exchange<R, W>(
    path: &Path,
    reader: &mut R,
    writer: &mut W,
) -> Result<Welcome, ClientError>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let hello = Hello::new(format!("mldctl {}", mld_shared::VERSION));
    if let Err(source) = frame::write_message(writer, &hello).await {
        if let Ok(Some(HelloReply::Refused { reason })) =
            frame::read_message::<HelloReply, _>(reader).await
        {
            return Err(ClientError::Refused {
                path: path.to_path_buf(),
                reason,
            });
        }
        return Err(frame_error(path, source));
    }
    let reply = match frame::read_message::<HelloReply, _>(reader).await {
        Ok(Some(reply)) => reply,
        Ok(None) => {
            return Err(ClientError::Closed {
                path: path.to_path_buf(),
            });
        }
        Err(source) => return Err(frame_error(path, source)),
    };
    match reply {
        HelloReply::Welcome(welcome) => Ok(welcome),
        HelloReply::VersionMismatch {
            daemon_protocol_version,
            daemon_version,
        } => Err(ClientError::VersionMismatch {
            path: path.to_path_buf(),
            ours: PROTOCOL_VERSION,
            theirs: daemon_protocol_version,
            daemon_version,
        }),
        HelloReply::Refused { reason } => Err(ClientError::Refused {
            path: path.to_path_buf(),
            reason,
        }),
    }
}

/// Says what the error means for a socket rather than the raw errno text.
fn why_not_running(source: &io::Error) -> String {
    match source.kind() {
        io::ErrorKind::NotFound => "no socket file there".to_string(),
        io::ErrorKind::ConnectionRefused => {
            "the socket file is there but nothing listens".to_string()
        }
        _ => source.to_string(),
    }
}

fn connect_error(path: &Path, source: io::Error) -> ClientError {
    let path = path.to_path_buf();
    match source.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            ClientError::NotRunning { path, io: source }
        }
        io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { path, io: source },
        _ => ClientError::Connect { path, io: source },
    }
}

fn frame_error(path: &Path, source: FrameError) -> ClientError {
    match source {
        // A reset or broken pipe is the daemon going away, not a protocol fault.
        FrameError::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            ClientError::Closed {
                path: path.to_path_buf(),
            }
        }
        error => ClientError::Frame {
            path: path.to_path_buf(),
            error,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! A small fake daemon on a real socket: it speaks the frozen handshake
    //! and answers a few requests, so the client is tested over real I/O.
    use super::*;
    use interprocess::local_socket::ListenerOptions;
    use interprocess::local_socket::tokio::Listener;
    use mld_shared::protocol::{DaemonStatus, Snapshot, Update};
    use mld_shared::roles::Roles;
    use mld_shared::time::WireTime;

    pub fn status() -> DaemonStatus {
        DaemonStatus {
            daemon_version: "0.1.0".into(),
            protocol_version: PROTOCOL_VERSION,
            pid: 42,
            started_at: WireTime(1_795_000_000_000),
            uptime_ms: 3_723_000,
            jobs_configured: 1,
            running_dispatches: 0,
            connected_clients: 2,
        }
    }

    pub fn listen(path: &Path) -> Listener {
        let name = path.to_fs_name::<GenericFilePath>().unwrap();
        ListenerOptions::new().name(name).create_tokio().unwrap()
    }

    /// Serves one connection: welcomes (or refuses with `reply`), answers
    /// Status and Subscribe, and pushes one update after subscribing.
    pub async fn serve_one(listener: &Listener, reply: Option<HelloReply>) {
        let stream = listener.accept().await.unwrap();
        let (read, mut write) = tokio::io::split(stream);
        let mut read = BufReader::new(read);
        let hello: Hello = frame::read_message(&mut read).await.unwrap().unwrap();
        assert_eq!(hello.magic, mld_shared::protocol::MAGIC);
        let reply = reply.unwrap_or_else(|| {
            HelloReply::Welcome(Welcome {
                protocol_version: PROTOCOL_VERSION,
                daemon_version: "0.1.0".into(),
                user: "alice".into(),
                uid: 1000,
                roles: Roles::admin(),
            })
        });
        let welcomed = matches!(reply, HelloReply::Welcome(_));
        frame::write_message(&mut write, &reply).await.unwrap();
        if !welcomed {
            return;
        }
        while let Ok(Some(ClientFrame { id, request })) =
            frame::read_message::<ClientFrame, _>(&mut read).await
        {
            let result = match request {
                Request::Status => Ok(Response::Status(status())),
                Request::Subscribe => Ok(Response::Subscribed(Box::new(Snapshot {
                    taken_at: WireTime(1_795_003_723_000),
                    status: status(),
                    health: vec![],
                    jobs: vec![],
                }))),
                Request::Ping => Ok(Response::Pong),
                Request::Unsubscribe => Err(WireError::new(
                    mld_shared::protocol::ErrorKind::Conflict,
                    "not subscribed",
                )),
                other => Err(WireError::new(
                    mld_shared::protocol::ErrorKind::InvalidRequest,
                    format!("this test daemon does not answer {}", other.name()),
                )),
            };
            let subscribed = matches!(result, Ok(Response::Subscribed(_)));
            frame::write_message(&mut write, &ServerFrame::Response { id, result })
                .await
                .unwrap();
            if subscribed {
                let mut s = status();
                s.running_dispatches = 1;
                frame::write_message(&mut write, &ServerFrame::Update(Update::Status(s)))
                    .await
                    .unwrap();
            }
        }
    }

    #[tokio::test]
    async fn handshake_request_and_updates_over_a_real_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.sock");
        let listener = listen(&path);
        let server = tokio::spawn(async move { serve_one(&listener, None).await });
        let mut client = Client::connect(&path).await.unwrap();
        assert_eq!(client.welcome().user, "alice");
        let Response::Status(s) = client.request(Request::Status).await.unwrap() else {
            panic!()
        };
        assert_eq!(s.pid, 42);
        let err = client.request(Request::Unsubscribe).await.unwrap_err();
        assert!(err.to_string().contains("not subscribed"), "{err}");
        let snapshot = client.subscribe().await.unwrap();
        assert_eq!(snapshot.status.jobs_configured, 1);
        let ServerFrame::Update(Update::Status(s)) = client.next_frame().await.unwrap() else {
            panic!()
        };
        assert_eq!(s.running_dispatches, 1);
        drop(client);
        server.await.unwrap();
    }

    /// A writer whose peer is gone: every write is a broken pipe.
    struct Gone;

    impl tokio::io::AsyncWrite for Gone {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::task::Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_refusal_written_before_our_hello_is_read_shows_its_reason() {
        let path = Path::new("/run/mld/mld.sock");
        let reason =
            "too many connections: uid 1000 (alice) already has 64 (the limit per user is 64)";
        let refusal = frame::encode(&HelloReply::Refused {
            reason: reason.into(),
        })
        .unwrap();
        // The daemon wrote its reason and closed: our Hello cannot be written.
        let err = hello_exchange(path, &mut refusal.as_slice(), &mut Gone)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(reason), "{err}");
        // Nothing to read either: the daemon went away, said as such.
        let err = hello_exchange(path, &mut &[][..], &mut Gone)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Closed { .. }), "{err}");
    }

    #[tokio::test]
    async fn version_mismatch_says_who_to_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.sock");
        let listener = listen(&path);
        let server = tokio::spawn(async move {
            serve_one(
                &listener,
                Some(HelloReply::VersionMismatch {
                    daemon_protocol_version: PROTOCOL_VERSION + 1,
                    daemon_version: "9.0.0".into(),
                }),
            )
            .await
        });
        let err = Client::connect(&path).await.err().unwrap();
        let text = err.to_string();
        let expected = format!(
            "mldctl speaks protocol {}, the daemon at {} speaks {}",
            PROTOCOL_VERSION,
            path.display(),
            PROTOCOL_VERSION + 1
        );
        assert!(text.starts_with(&expected), "{text}");
        assert!(text.ends_with("upgrade mldctl"), "{text}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn nothing_listening_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.sock");
        let err = Client::connect(&path).await.err().unwrap();
        assert!(err.is_not_running(), "{err:?}");
        assert!(err.to_string().starts_with(&format!(
            "no mld daemon answers at {}: is it running?",
            path.display()
        )));
        // A socket file left behind by a dead daemon: connection refused, same message.
        drop(listen(&path));
        let _ = std::os::unix::net::UnixListener::bind(dir.path().join("stale.sock")).map(drop);
        let err = Client::connect(&dir.path().join("stale.sock"))
            .await
            .err()
            .unwrap();
        assert!(err.is_not_running(), "{err:?}");
    }
}
