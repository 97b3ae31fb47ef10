//! Protocol messages.
//!
//! A connection starts with one [`Hello`] from the client and one [`HelloReply`]
//! from the daemon. These two types are frozen: whatever else changes, a client of
//! any version can read why the daemon refused it. After a [`HelloReply::Welcome`],
//! the client sends [`ClientFrame`]s (a request with an id) and the daemon sends
//! [`ServerFrame`]s: the response to each request, and, once the client has
//! subscribed, [`Update`]s as they happen.
//!
//! Every enum here only grows at the end.

use crate::ids::{JobName, RequestId};
use crate::roles::Roles;
use crate::time::WireTime;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bumped whenever a message changes shape in a way an older peer cannot read.
pub const PROTOCOL_VERSION: u32 = 1;

/// First four bytes of every [`Hello`], so the daemon can tell a stray client
/// (or a different protocol on the same socket) from an mld console.
pub const MAGIC: [u8; 4] = *b"mld\0";

/// The client's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: [u8; 4],
    pub protocol_version: u32,
    /// Free text naming the client and its version, for the daemon's log.
    pub client: String,
}

impl Hello {
    pub fn new(client: impl Into<String>) -> Self {
        Hello {
            magic: MAGIC,
            protocol_version: PROTOCOL_VERSION,
            client: client.into(),
        }
    }
}

/// The daemon's answer to [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    Welcome(Welcome),
    /// The versions differ; the daemon closes the connection after sending this.
    VersionMismatch {
        daemon_protocol_version: u32,
        daemon_version: String,
    },
    /// Refused for another reason (for example, the peer's credentials could not be read).
    Refused {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol_version: u32,
    pub daemon_version: String,
    /// The Unix user the daemon saw on the other end of the socket.
    pub user: String,
    pub uid: u32,
    pub roles: Roles,
}

/// A request from the client, tagged with an id its response will carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientFrame {
    pub id: RequestId,
    pub request: Request,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    Ping,
    Status,
    /// Answered with a [`Snapshot`]; then [`Update`]s follow until `Unsubscribe`.
    Subscribe,
    Unsubscribe,
}

impl Request {
    /// Short name for logs and audit records.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Status => "status",
            Request::Subscribe => "subscribe",
            Request::Unsubscribe => "unsubscribe",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerFrame {
    Response {
        id: RequestId,
        result: Result<Response, WireError>,
    },
    Update(Update),
    /// The daemon is about to close this connection, and why.
    Closing {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Pong,
    Status(DaemonStatus),
    Subscribed(Box<Snapshot>),
    Unsubscribed,
}

/// An error answer: a kind a script can branch on, and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub kind: ErrorKind,
    pub message: String,
}

impl WireError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        WireError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WireError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    PermissionDenied,
    NotFound,
    InvalidRequest,
    Conflict,
    Unavailable,
    Internal,
}

/// The daemon's own vital signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub daemon_version: String,
    pub protocol_version: u32,
    pub pid: u32,
    pub started_at: WireTime,
    /// As measured by the daemon when it answered.
    pub uptime_ms: u64,
    pub jobs_configured: u32,
    pub running_dispatches: u32,
    pub connected_clients: u32,
}

/// Everything a console needs to draw itself from nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub taken_at: WireTime,
    pub status: DaemonStatus,
    pub health: Vec<HealthEntry>,
    pub jobs: Vec<JobSummary>,
}

/// A change pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Update {
    Status(DaemonStatus),
    /// The whole health table, after each monitor refresh.
    Health(Vec<HealthEntry>),
    Jobs(Vec<JobSummary>),
    /// The client fell behind and missed updates: start again from this.
    Resync(Box<Snapshot>),
}

/// One row of the monitor's health table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthEntry {
    pub kind: HealthKind,
    pub name: String,
    /// What is probed, e.g. `db.example.com:5432 (tls)`. Never a connection string.
    pub target: String,
    pub state: HealthState,
    pub latency_ms: Option<f64>,
    pub message: Option<String>,
    pub checked_at: Option<WireTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthKind {
    Server,
    Datalake,
    EventLog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthState {
    /// Not checked yet.
    Unknown,
    Online,
    /// Did not answer within its timeout.
    Offline,
    Error,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Online => "online",
            HealthState::Offline => "offline",
            HealthState::Error => "error",
        }
    }
}

/// A job as the monitor shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub name: JobName,
    pub state: JobState,
    pub schedule: String,
    pub timezone: String,
    pub model: String,
    pub datalake: String,
    pub last_dispatch: Option<WireTime>,
    pub next_dispatch: Option<WireTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Active,
    Disabled {
        by: String,
        at: WireTime,
        reason: Option<String>,
        until: Option<WireTime>,
    },
    Invalid {
        reason: String,
    },
}

impl JobState {
    pub fn label(&self) -> &'static str {
        match self {
            JobState::Active => "active",
            JobState::Disabled { .. } => "disabled",
            JobState::Invalid { .. } => "invalid",
        }
    }
}
