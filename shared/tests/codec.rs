//! Every message on the wire survives encode → frame → decode unchanged.
//!
//! The `every_*` functions match exhaustively on their enum, so adding a
//! variant without adding it here fails to compile.

use mld_shared::frame::{self, FrameError, MAX_FRAME_LEN};
use mld_shared::ids::{JobName, RequestId};
use mld_shared::protocol::*;
use mld_shared::roles::{Role, Roles};
use mld_shared::time::WireTime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

async fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(message: &T) {
    let bytes = frame::encode(message).unwrap();
    assert_eq!(u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize, bytes.len() - 4);
    let mut reader = &bytes[..];
    let back: T = frame::read_message(&mut reader).await.unwrap().unwrap();
    assert_eq!(&back, message);
}

fn status() -> DaemonStatus {
    DaemonStatus {
        daemon_version: "0.1.0".into(),
        protocol_version: PROTOCOL_VERSION,
        pid: 4242,
        started_at: WireTime(1_795_435_549_601),
        uptime_ms: 12_345,
        jobs_configured: 3,
        running_dispatches: 1,
        connected_clients: 2,
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        taken_at: WireTime(1_795_435_560_000),
        status: status(),
        health: vec![
            HealthEntry {
                kind: HealthKind::Server,
                name: "db".into(),
                target: "db.example.com:5432 (tls)".into(),
                state: HealthState::Online,
                latency_ms: Some(1.25),
                message: None,
                checked_at: Some(WireTime(1_795_435_559_000)),
            },
            HealthEntry {
                kind: HealthKind::Datalake,
                name: "warehouse".into(),
                target: "odbc".into(),
                state: HealthState::Error,
                latency_ms: None,
                message: Some("password authentication failed".into()),
                checked_at: None,
            },
            HealthEntry {
                kind: HealthKind::EventLog,
                name: "event log".into(),
                target: "/var/lib/mld/events.db".into(),
                state: HealthState::Unknown,
                latency_ms: None,
                message: None,
                checked_at: None,
            },
        ],
        jobs: every_job_state()
            .into_iter()
            .enumerate()
            .map(|(i, state)| JobSummary {
                name: JobName(format!("job-{i}")),
                state,
                schedule: "0 2 * * *".into(),
                timezone: "Europe/Rome".into(),
                model: "iris".into(),
                datalake: "demo".into(),
                last_dispatch: Some(WireTime(1)),
                next_dispatch: None,
            })
            .collect(),
    }
}

fn every_job_state() -> Vec<JobState> {
    let all = vec![
        JobState::Active,
        JobState::Disabled { by: "alice".into(), at: WireTime(5), reason: Some("maintenance".into()), until: Some(WireTime(9)) },
        JobState::Invalid { reason: "bad cron".into() },
    ];
    for s in &all {
        match s {
            JobState::Active | JobState::Disabled { .. } | JobState::Invalid { .. } => {}
        }
    }
    all
}

fn every_request() -> Vec<Request> {
    let all = vec![Request::Ping, Request::Status, Request::Subscribe, Request::Unsubscribe];
    for r in &all {
        match r {
            Request::Ping | Request::Status | Request::Subscribe | Request::Unsubscribe => {}
        }
    }
    all
}

fn every_response() -> Vec<Response> {
    let all = vec![
        Response::Pong,
        Response::Status(status()),
        Response::Subscribed(Box::new(snapshot())),
        Response::Unsubscribed,
    ];
    for r in &all {
        match r {
            Response::Pong | Response::Status(_) | Response::Subscribed(_) | Response::Unsubscribed => {}
        }
    }
    all
}

fn every_update() -> Vec<Update> {
    let s = snapshot();
    let all = vec![
        Update::Status(status()),
        Update::Health(s.health.clone()),
        Update::Jobs(s.jobs.clone()),
        Update::Resync(Box::new(s)),
    ];
    for u in &all {
        match u {
            Update::Status(_) | Update::Health(_) | Update::Jobs(_) | Update::Resync(_) => {}
        }
    }
    all
}

fn every_error_kind() -> Vec<ErrorKind> {
    use ErrorKind::*;
    let all = vec![PermissionDenied, NotFound, InvalidRequest, Conflict, Unavailable, Internal];
    for k in &all {
        match k {
            PermissionDenied | NotFound | InvalidRequest | Conflict | Unavailable | Internal => {}
        }
    }
    all
}

#[tokio::test]
async fn every_client_message_round_trips() {
    round_trip(&Hello::new("mldctl 0.1.0")).await;
    for (i, request) in every_request().into_iter().enumerate() {
        round_trip(&ClientFrame { id: RequestId(i as u64), request }).await;
    }
}

#[tokio::test]
async fn every_server_message_round_trips() {
    let replies = vec![
        HelloReply::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            daemon_version: "0.1.0".into(),
            user: "alice".into(),
            uid: 1000,
            roles: Roles::none().with(Role::Dispatch).with(Role::Showroom),
        }),
        HelloReply::VersionMismatch { daemon_protocol_version: 9, daemon_version: "9.0.0".into() },
        HelloReply::Refused { reason: "no credentials".into() },
    ];
    for r in &replies {
        match r {
            HelloReply::Welcome(_) | HelloReply::VersionMismatch { .. } | HelloReply::Refused { .. } => {}
        }
        round_trip(r).await;
    }
    for (i, response) in every_response().into_iter().enumerate() {
        round_trip(&ServerFrame::Response { id: RequestId(i as u64), result: Ok(response) }).await;
    }
    for (i, kind) in every_error_kind().into_iter().enumerate() {
        let result = Err(WireError::new(kind, "permission denied: subscribe needs dispatch"));
        round_trip(&ServerFrame::Response { id: RequestId(i as u64), result }).await;
    }
    for update in every_update() {
        round_trip(&ServerFrame::Update(update)).await;
    }
    round_trip(&ServerFrame::Closing { reason: "bye".into() }).await;
}

#[test]
fn hello_layout_is_frozen() {
    // The handshake must stay readable by every future version: its bytes are pinned.
    let bytes = frame::encode(&Hello { magic: MAGIC, protocol_version: 1, client: "c".into() }).unwrap();
    assert_eq!(bytes, vec![0, 0, 0, 7, b'm', b'l', b'd', 0, 1, 1, b'c']);
}

#[test]
fn a_message_over_the_maximum_is_refused_when_encoding() {
    let huge = HelloReply::Refused { reason: "x".repeat(MAX_FRAME_LEN + 1) };
    let err = frame::encode(&huge).unwrap_err();
    assert!(matches!(err, FrameError::Encode(_) | FrameError::TooLarge { .. }), "{err}");
}
