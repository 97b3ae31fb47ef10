//! A real daemon in-process on a temporary socket, and real clients speaking
//! frames to it.

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use mld_shared::frame::{self, MAX_FRAME_LEN};
use mld_shared::ids::RequestId;
use mld_shared::protocol::*;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

mod in_process;
use in_process::Daemon;

const CONFIG: &str = "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\n\n[monitor]\nrefresh = \"1s\"\n\n\
     [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
     [[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\nquery = \"SELECT id, x FROM t\"\n\
     key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"0 2 * * *\"\n";

async fn start() -> Daemon {
    in_process::start_in(tempfile::tempdir().unwrap(), CONFIG).await
}

async fn connect(socket: &Path) -> Stream {
    Stream::connect(socket.to_fs_name::<GenericFilePath>().unwrap())
        .await
        .unwrap()
}

async fn send<T: serde::Serialize>(s: &mut Stream, m: &T) {
    frame::write_message(s, m).await.unwrap();
}

async fn recv<T: serde::de::DeserializeOwned>(s: &mut Stream) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(10), frame::read_message(s))
        .await
        .expect("timely answer")
        .unwrap()
}

/// Connects and completes the handshake.
async fn client(socket: &Path) -> (Stream, Welcome) {
    let mut s = connect(socket).await;
    send(&mut s, &Hello::new("test")).await;
    match recv::<HelloReply>(&mut s).await {
        Some(HelloReply::Welcome(w)) => (s, w),
        other => panic!("expected welcome, got {other:?}"),
    }
}

async fn ask(s: &mut Stream, id: u64, request: Request) -> Result<Response, WireError> {
    send(
        s,
        &ClientFrame {
            id: RequestId(id),
            request,
        },
    )
    .await;
    loop {
        match recv::<ServerFrame>(s).await.expect("connection open") {
            ServerFrame::Response { id: got, result } => {
                assert_eq!(got, RequestId(id));
                return result;
            }
            ServerFrame::Update(_) => continue,
            ServerFrame::Closing { reason } => panic!("closed: {reason}"),
        }
    }
}

/// Reads until the daemon closes the connection; returns the `Closing` reason if one came.
async fn closed_with(s: &mut Stream) -> Option<String> {
    let mut reason = None;
    loop {
        match tokio::time::timeout(
            Duration::from_secs(10),
            frame::read_message::<ServerFrame, _>(s),
        )
        .await
        {
            Ok(Ok(Some(ServerFrame::Closing { reason: r }))) => reason = Some(r),
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => return reason,
            Err(_) => panic!("the daemon did not close the connection"),
        }
    }
}

async fn assert_still_serving(socket: &Path) {
    let (mut s, _) = client(socket).await;
    assert_eq!(ask(&mut s, 1, Request::Ping).await, Ok(Response::Pong));
}

#[tokio::test]
async fn handshake_status_and_subscription_snapshot() {
    let d = start().await;
    let (mut s, welcome) = client(&d.socket).await;
    assert_eq!(welcome.protocol_version, PROTOCOL_VERSION);
    assert_eq!(welcome.uid, nix::unistd::geteuid().as_raw());
    assert!(welcome.roles.admin, "the daemon's own user is admin");

    let Ok(Response::Status(status)) = ask(&mut s, 7, Request::Status).await else {
        panic!()
    };
    assert_eq!(status.jobs_configured, 1);
    assert_eq!(status.pid, std::process::id());
    assert_eq!(status.connected_clients, 1);

    let Ok(Response::Subscribed(snapshot)) = ask(&mut s, 8, Request::Subscribe).await else {
        panic!()
    };
    assert_eq!(snapshot.jobs.len(), 1);
    assert_eq!(snapshot.jobs[0].name.0, "score");
    assert_eq!(snapshot.jobs[0].schedule, "0 2 * * *");
    assert!(
        snapshot
            .health
            .iter()
            .any(|h| h.kind == HealthKind::EventLog)
    );

    // Then updates arrive as the monitor refreshes (every second here).
    let update = loop {
        match recv::<ServerFrame>(&mut s).await.unwrap() {
            ServerFrame::Update(Update::Health(h)) => break h,
            _ => continue,
        }
    };
    let log = update
        .iter()
        .find(|h| h.kind == HealthKind::EventLog)
        .unwrap();
    assert_eq!(log.state, HealthState::Online, "{log:?}");
    // The datalake is probed by its configured name; its SQLite file does not
    // exist here, which the probe reports (it never creates a datalake).
    let lake = update
        .iter()
        .find(|h| h.kind == HealthKind::Datalake)
        .unwrap();
    assert_eq!(
        (lake.name.as_str(), lake.state),
        ("lake", HealthState::Error),
        "{lake:?}"
    );
    assert!(lake.message.as_deref().unwrap().contains("unable to open"));
    d.stop().await;
}

#[tokio::test]
async fn a_version_mismatch_is_answered_then_closed() {
    let d = start().await;
    let mut s = connect(&d.socket).await;
    send(
        &mut s,
        &Hello {
            magic: MAGIC,
            protocol_version: PROTOCOL_VERSION + 1,
            client: "future".into(),
        },
    )
    .await;
    match recv::<HelloReply>(&mut s).await {
        Some(HelloReply::VersionMismatch {
            daemon_protocol_version,
            daemon_version,
        }) => {
            assert_eq!(daemon_protocol_version, PROTOCOL_VERSION);
            assert_eq!(daemon_version, mld_shared::VERSION);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert!(
        recv::<ServerFrame>(&mut s).await.is_none(),
        "closed after the mismatch"
    );
    assert_still_serving(&d.socket).await;
}

#[tokio::test]
async fn a_stranger_without_the_magic_is_dropped() {
    let d = start().await;
    let mut s = connect(&d.socket).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Closed without a word (or reset, since the stranger's bytes were never read).
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        frame::read_message::<HelloReply, _>(&mut s),
    )
    .await
    .unwrap();
    assert!(matches!(answer, Ok(None) | Err(_)), "{answer:?}");
    assert_still_serving(&d.socket).await;
}

#[tokio::test]
async fn garbage_after_the_handshake_closes_only_that_connection() {
    let d = start().await;
    let (mut other, _) = client(&d.socket).await;
    let (mut bad, _) = client(&d.socket).await;
    let garbage = [0, 0, 0, 5, 0xff, 0xfe, 0xfd, 0xfc, 0xfb];
    bad.write_all(&garbage).await.unwrap();
    let reason = closed_with(&mut bad).await.expect("told why");
    assert!(reason.contains("malformed"), "{reason}");
    assert_eq!(ask(&mut other, 2, Request::Ping).await, Ok(Response::Pong));
    assert_still_serving(&d.socket).await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_before_it_is_read() {
    let d = start().await;
    let (mut bad, _) = client(&d.socket).await;
    bad.write_all(&((MAX_FRAME_LEN as u32) + 1).to_be_bytes())
        .await
        .unwrap();
    let reason = closed_with(&mut bad).await.expect("told why");
    assert!(reason.contains("exceeds the maximum"), "{reason}");
    assert_still_serving(&d.socket).await;
}

#[tokio::test]
async fn a_truncated_frame_closes_that_connection() {
    let d = start().await;
    let (mut bad, _) = client(&d.socket).await;
    assert_eq!(d.context.clients(), 1);
    // A frame announcing 100 bytes, 3 sent, then the peer is gone.
    bad.write_all(&[0, 0, 0, 100, 1, 2, 3]).await.unwrap();
    drop(bad);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while d.context.clients() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon kept the half-frame connection"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_still_serving(&d.socket).await;
}

#[tokio::test]
async fn an_unexpected_frame_type_closes_that_connection() {
    let d = start().await;
    let (mut bad, _) = client(&d.socket).await;
    // A second Hello where a request belongs: it decodes as garbage.
    send(
        &mut bad,
        &ServerFrame::Closing {
            reason: "I am not a client frame".into(),
        },
    )
    .await;
    assert!(closed_with(&mut bad).await.is_some());
    assert_still_serving(&d.socket).await;
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_gets_a_resync_and_slows_nobody() {
    let d = start().await;
    let (mut slow, _) = client(&d.socket).await;
    let Ok(Response::Subscribed(_)) = ask(&mut slow, 1, Request::Subscribe).await else {
        panic!()
    };
    // Far more updates than the per-subscriber buffer, while the slow client reads nothing.
    let big: Vec<HealthEntry> = (0..50)
        .map(|i| HealthEntry {
            kind: HealthKind::Server,
            name: format!("s{i}"),
            target: "x".repeat(200),
            state: HealthState::Online,
            latency_ms: None,
            message: None,
            checked_at: None,
        })
        .collect();
    for _ in 0..5_000 {
        d.context.publish(Update::Health(big.clone()));
    }
    // Meanwhile another client is answered promptly.
    let (mut fast, _) = client(&d.socket).await;
    let started = std::time::Instant::now();
    assert_eq!(ask(&mut fast, 1, Request::Ping).await, Ok(Response::Pong));
    assert!(started.elapsed() < Duration::from_secs(2));
    // The slow one eventually learns it missed updates and gets a fresh snapshot.
    let mut seen = 0;
    loop {
        match recv::<ServerFrame>(&mut slow).await.unwrap() {
            ServerFrame::Update(Update::Resync(snapshot)) => {
                assert_eq!(snapshot.jobs.len(), 1);
                break;
            }
            _ => seen += 1,
        }
        assert!(seen < 5_000, "no resync after {seen} frames");
    }
}

#[tokio::test]
async fn shutdown_tells_clients_and_removes_the_socket() {
    let d = start().await;
    let (mut s, _) = client(&d.socket).await;
    assert!(d.socket.exists());
    d.shutdown.cancel();
    assert_eq!(
        closed_with(&mut s).await.as_deref(),
        Some("the daemon is shutting down")
    );
    d.task.await.unwrap().unwrap();
    assert!(!d.socket.exists(), "socket file removed");
    // The stop is in the event log.
    let c = rusqlite::Connection::open(d.dir.path().join("state/events.db")).unwrap();
    let reason: String = c
        .query_row("SELECT stop_reason FROM daemon_runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(reason, "shutdown");
}

#[tokio::test]
async fn a_live_daemon_keeps_its_socket_and_a_stale_file_is_replaced() {
    let d = start().await;
    let config = mld_shared::config::load(&d.dir.path().join("mld.toml")).unwrap();
    let err = mld::server::bind(&config.daemon).unwrap_err();
    assert!(matches!(err, mld::server::BindError::InUse(_)), "{err}");
    assert_still_serving(&d.socket).await;
    d.shutdown.cancel();
    d.task.await.unwrap().unwrap();

    // A socket file nobody listens on (a daemon that was killed) is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&d.socket).unwrap();
    drop(stale);
    assert!(d.socket.exists());
    let listener = mld::server::bind(&config.daemon).unwrap();
    assert_eq!(listener.path(), d.socket);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "socket mode as configured");
}

#[tokio::test]
async fn a_request_the_role_does_not_allow_is_denied_and_recorded() {
    let d = start().await;
    let peer = mld::access::Peer {
        uid: 4242,
        gid: 4242,
        pid: None,
        user: "carol".into(),
        groups: vec!["analysts".into()],
        roles: mld_shared::roles::Roles::none().with(mld_shared::roles::Role::Showroom),
    };
    let err = mld::server::handlers::authorize(&d.context, &peer, &Request::Subscribe)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied);
    assert_eq!(err.message, "permission denied: subscribe needs dispatch");
    // Anyone connected may ask for status.
    mld::server::handlers::authorize(&d.context, &peer, &Request::Status)
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> = d
        .context
        .eventlog
        .read(|c| {
            let mut s = c.prepare("SELECT user, request, needed FROM access_denials")?;
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![("carol".into(), "subscribe".into(), "dispatch".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_subscribed_consoles_do_not_slow_the_daemon() {
    let d = start().await;
    let mut consoles = Vec::new();
    for i in 0..300u64 {
        let (mut s, _) = client(&d.socket).await;
        let Ok(Response::Subscribed(_)) = ask(&mut s, i, Request::Subscribe).await else {
            panic!()
        };
        consoles.push(s);
    }
    assert_eq!(d.context.clients(), 300);
    // Updates fan out to all of them (nobody reads), while a fresh client is answered at once.
    for _ in 0..100 {
        d.context
            .publish(Update::Status(mld::server::convert::status(&d.context)));
    }
    let (mut probe, _) = client(&d.socket).await;
    let started = std::time::Instant::now();
    for i in 0..20 {
        assert_eq!(ask(&mut probe, i, Request::Ping).await, Ok(Response::Pong));
    }
    let per_ping = started.elapsed() / 20;
    assert!(
        per_ping < Duration::from_millis(50),
        "ping took {per_ping:?} with 300 consoles"
    );
    drop(consoles);
}
