//! The console's connection: a task that stays connected to the daemon.
//!
//! Owns the [`Client`] and the reconnect state machine — Connected, or
//! Disconnected with an exponential [`Backoff`] (250 ms doubling to a 5 s
//! cap). Receives requests from the console on a channel; emits
//! [`ConnEvent`]s: connection state changes, the snapshot it gets on each
//! (re)subscription, updates and responses. It never touches the screen.

use crate::client::{Client, ClientError, ClientReader};
use jiff::Timestamp;
use mld_shared::ids::RequestId;
use mld_shared::protocol::{
    ErrorKind, Request, Response, ServerFrame, Snapshot, Update, Welcome, WireError,
};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// Waits between reconnect attempts: doubles from 250 ms up to 5 s, and
/// starts over after a connection succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: BACKOFF_START,
        }
    }
}

impl Backoff {
    /// The wait before the next attempt; the one after is twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_CAP);
        delay
    }

    pub fn reset(&mut self) {
        self.next = BACKOFF_START;
    }
}

/// What the connection task tells the console.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnEvent {
    /// A connection attempt has started.
    Connecting,
    /// Connected and welcomed; a snapshot follows.
    Connected(Welcome),
    /// The answer to our subscription: the whole state, replacing the old.
    Snapshot(Box<Snapshot>),
    Update(Update),
    Response {
        id: RequestId,
        result: Result<Response, WireError>,
    },
    /// Lost or could not connect; the next attempt starts at `retry_at`.
    Disconnected {
        reason: String,
        retry_at: Timestamp,
    },
}

/// What the console asks of the connection task.
#[derive(Debug)]
pub enum ConnCommand {
    /// Send `request` under this id; its answer comes back with it.
    Request(RequestId, Request),
}

/// The answer to a request that could not be sent: the console always
/// hears back about what it asked.
pub fn unsent(id: RequestId, why: &str) -> ConnEvent {
    ConnEvent::Response {
        id,
        result: Err(WireError::new(ErrorKind::Unavailable, why)),
    }
}

/// Starts the connection task. It runs until `commands` is closed (the
/// console has gone) or `events` is dropped.
pub fn spawn(socket: PathBuf) -> (mpsc::Sender<ConnCommand>, mpsc::Receiver<ConnEvent>) {
    let (cmd_tx, cmd_rx) = mpsc::channel(32);
    let (event_tx, event_rx) = mpsc::channel(256);
    tokio::spawn(run(socket, cmd_rx, event_tx));
    (cmd_tx, event_rx)
}

/// Why a session ended.
enum SessionEnd {
    /// The console is gone: stop.
    Stop,
    Lost(ClientError),
}

async fn run(
    socket: PathBuf,
    mut commands: mpsc::Receiver<ConnCommand>,
    events: mpsc::Sender<ConnEvent>,
) {
    let mut backoff = Backoff::default();
    loop {
        if events.send(ConnEvent::Connecting).await.is_err() {
            return;
        }
        let reason = match connect_and_subscribe(&socket).await {
            Ok((client, snapshot)) => {
                backoff.reset();
                match session(client, snapshot, &mut commands, &events).await {
                    SessionEnd::Stop => return,
                    SessionEnd::Lost(e) => e,
                }
            }
            Err(e) => e,
        };
        let delay = backoff.next_delay();
        // A daemon that is down is retried every few seconds: log that
        // quietly, and anything else (refused, version, protocol) loudly.
        if reason.is_not_running() {
            tracing::debug!(error = %reason, retry_in_ms = delay.as_millis() as u64, "disconnected");
        } else {
            tracing::warn!(error = %reason, retry_in_ms = delay.as_millis() as u64, "disconnected");
        }
        let retry_at = Timestamp::now() + delay;
        if events
            .send(ConnEvent::Disconnected {
                reason: reason.to_string(),
                retry_at,
            })
            .await
            .is_err()
        {
            return;
        }
        // While waiting, requests cannot be served: answer each with an
        // error at once, and stop if the console has gone.
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                cmd = commands.recv() => match cmd {
                    None => return,
                    Some(ConnCommand::Request(id, r)) => {
                        tracing::debug!(request = r.name(), "refused while disconnected");
                        if events.send(unsent(id, "not connected to the daemon")).await.is_err() {
                            return;
                        }
                    }
                },
            }
        }
    }
}

async fn connect_and_subscribe(
    socket: &std::path::Path,
) -> Result<(Client, Snapshot), ClientError> {
    let mut client = Client::connect(socket).await?;
    let snapshot = client.subscribe().await?;
    Ok((client, snapshot))
}

/// Runs one connected session until the connection is lost or the console
/// goes away.
async fn session(
    client: Client,
    snapshot: Snapshot,
    commands: &mut mpsc::Receiver<ConnCommand>,
    events: &mpsc::Sender<ConnEvent>,
) -> SessionEnd {
    let (welcome, pending, reader, mut writer) = client.split();
    if events.send(ConnEvent::Connected(welcome)).await.is_err()
        || events
            .send(ConnEvent::Snapshot(Box::new(snapshot)))
            .await
            .is_err()
    {
        return SessionEnd::Stop;
    }
    for frame in pending {
        if let Some(end) = forward(frame, events).await {
            return end;
        }
    }
    // Reading a frame is not cancel-safe, so a dedicated task reads and this
    // loop selects over channels only.
    let (frame_tx, mut frames) = mpsc::channel(64);
    let reader_task = tokio::spawn(read_frames(reader, frame_tx));
    let end = loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some(Ok(frame)) => {
                    if let Some(end) = forward(frame, events).await {
                        break end;
                    }
                }
                Some(Err(e)) => break SessionEnd::Lost(e),
                None => break SessionEnd::Lost(ClientError::Closing { reason: "reader stopped".into() }),
            },
            cmd = commands.recv() => match cmd {
                None => break SessionEnd::Stop,
                Some(ConnCommand::Request(id, request)) => {
                    if let Err(e) = writer.send_as(id, request).await {
                        break SessionEnd::Lost(e);
                    }
                }
            },
        }
    };
    reader_task.abort();
    end
}

async fn read_frames(
    mut reader: ClientReader,
    frames: mpsc::Sender<Result<ServerFrame, ClientError>>,
) {
    loop {
        let frame = reader.next_frame().await;
        let failed = frame.is_err();
        if frames.send(frame).await.is_err() || failed {
            return;
        }
    }
}

/// Passes one frame on to the console; `Some` ends the session.
async fn forward(frame: ServerFrame, events: &mpsc::Sender<ConnEvent>) -> Option<SessionEnd> {
    let event = match frame {
        ServerFrame::Response { id, result } => ConnEvent::Response { id, result },
        ServerFrame::Update(update) => ConnEvent::Update(update),
        ServerFrame::Closing { reason } => {
            return Some(SessionEnd::Lost(ClientError::Closing { reason }));
        }
    };
    if events.send(event).await.is_err() {
        Some(SessionEnd::Stop)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::{listen, serve_one};
    use interprocess::local_socket::tokio::prelude::*;

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut b = Backoff::default();
        let ms: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(250));
    }

    async fn next(events: &mut mpsc::Receiver<ConnEvent>) -> ConnEvent {
        tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn reconnects_and_resubscribes_after_the_daemon_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.sock");
        let (commands, mut events) = spawn(path.clone());

        // Nobody listens yet: disconnected, with a retry time in the future.
        assert_eq!(next(&mut events).await, ConnEvent::Connecting);
        let ConnEvent::Disconnected { reason, retry_at } = next(&mut events).await else {
            panic!()
        };
        assert!(reason.starts_with("no mld daemon answers at"), "{reason}");
        assert!(retry_at > Timestamp::now() - Duration::from_secs(1));

        // A request while disconnected is answered at once, with its id.
        commands
            .send(ConnCommand::Request(RequestId(7), Request::Ping))
            .await
            .unwrap();
        loop {
            match next(&mut events).await {
                ConnEvent::Response { id, result } => {
                    assert_eq!(id, RequestId(7));
                    let e = result.unwrap_err();
                    assert_eq!(e.kind, ErrorKind::Unavailable);
                    assert_eq!(e.message, "not connected to the daemon");
                    break;
                }
                ConnEvent::Connecting | ConnEvent::Disconnected { .. } => continue,
                other => panic!("{other:?}"),
            }
        }

        // The daemon comes up: connected, then a snapshot, then updates.
        let listener = listen(&path);
        let server = tokio::spawn(async move {
            serve_one(&listener, None).await;
            listener
        });
        loop {
            match next(&mut events).await {
                ConnEvent::Connected(w) => {
                    assert_eq!(w.user, "alice");
                    break;
                }
                ConnEvent::Connecting | ConnEvent::Disconnected { .. } => continue,
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(next(&mut events).await, ConnEvent::Snapshot(_)));
        assert!(matches!(
            next(&mut events).await,
            ConnEvent::Update(Update::Status(_))
        ));

        // Requests travel and their responses come back with their ids.
        commands
            .send(ConnCommand::Request(RequestId(41), Request::Ping))
            .await
            .unwrap();
        let ConnEvent::Response { id, result } = next(&mut events).await else {
            panic!()
        };
        assert_eq!((id, result), (RequestId(41), Ok(Response::Pong)));

        // Errors come back as responses too.
        commands
            .send(ConnCommand::Request(RequestId(42), Request::Unsubscribe))
            .await
            .unwrap();
        assert!(matches!(
            next(&mut events).await,
            ConnEvent::Response { result: Err(_), .. }
        ));
        // Closing the command channel stops the task, which closes the socket.
        drop(commands);
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_lost_connection_reports_disconnected_then_reconnects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.sock");
        let listener = listen(&path);
        let (_commands, mut events) = spawn(path.clone());
        // First session: the fake daemon welcomes, then closes at once.
        let accept = listener.accept();
        let (stream, first) = tokio::join!(accept, next(&mut events));
        assert_eq!(first, ConnEvent::Connecting);
        let stream = stream.unwrap();
        drop(stream);
        let ConnEvent::Disconnected { reason, .. } = next(&mut events).await else {
            panic!()
        };
        assert!(
            reason.contains("closed the connection") || reason.contains("talking to"),
            "{reason}"
        );
        // Second session: a full daemon; the task comes back by itself.
        let server = tokio::spawn(async move { serve_one(&listener, None).await });
        loop {
            if let ConnEvent::Snapshot(s) = next(&mut events).await {
                assert_eq!(s.status.pid, 42);
                break;
            }
        }
        drop(events);
        server.abort();
    }
}
