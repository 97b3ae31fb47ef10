//! A fixed daemon state and a fixed "now" for tests: every screen drawn from
//! these is the same on every run.

use jiff::{Timestamp, Zoned};
use mld_shared::ids::JobName;
use mld_shared::protocol::{
    DaemonStatus, HealthEntry, HealthKind, HealthState, JobState, JobSummary, PROTOCOL_VERSION,
    Snapshot, Welcome,
};
use mld_shared::roles::Roles;
use mld_shared::time::WireTime;

/// 2026-11-23 12:00:00 UTC, shown in UTC.
pub fn now() -> Zoned {
    "2026-11-23T12:00:00+00:00[UTC]".parse().unwrap()
}

fn at(s: &str) -> WireTime {
    WireTime::from(s.parse::<Timestamp>().unwrap())
}

pub fn welcome() -> Welcome {
    Welcome {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: "0.1.0".into(),
        user: "alice".into(),
        uid: 1000,
        roles: Roles::admin(),
    }
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        taken_at: at("2026-11-23T11:59:58Z"),
        status: DaemonStatus {
            daemon_version: "0.1.0".into(),
            protocol_version: PROTOCOL_VERSION,
            pid: 4100,
            // Up 2h 03m 10s at `now`.
            started_at: at("2026-11-23T09:56:50Z"),
            uptime_ms: 7_388_000,
            jobs_configured: 3,
            running_dispatches: 1,
            connected_clients: 2,
        },
        health: vec![
            HealthEntry {
                kind: HealthKind::Server,
                name: "loopback-ssh".into(),
                target: "127.0.0.1:22 (plain)".into(),
                state: HealthState::Online,
                latency_ms: Some(0.42),
                message: None,
                checked_at: Some(at("2026-11-23T11:59:55Z")),
            },
            HealthEntry {
                kind: HealthKind::Server,
                name: "warehouse-db".into(),
                target: "db.example.com:5432 (tls)".into(),
                state: HealthState::Offline,
                latency_ms: None,
                message: Some("no answer within 2s".into()),
                checked_at: Some(at("2026-11-23T11:59:57Z")),
            },
            HealthEntry {
                kind: HealthKind::Datalake,
                name: "demo".into(),
                target: "sqlite lake.db".into(),
                state: HealthState::Online,
                latency_ms: Some(12.3),
                message: None,
                checked_at: Some(at("2026-11-23T11:59:55Z")),
            },
            HealthEntry {
                kind: HealthKind::EventLog,
                name: "events".into(),
                target: "events.db".into(),
                state: HealthState::Error,
                latency_ms: None,
                message: Some("database is locked".into()),
                checked_at: Some(at("2026-11-23T11:59:55Z")),
            },
        ],
        jobs: vec![
            JobSummary {
                name: JobName("score-iris".into()),
                state: JobState::Active,
                schedule: "* * * * *".into(),
                timezone: "UTC".into(),
                model: "iris".into(),
                datalake: "demo".into(),
                last_dispatch: Some(at("2026-11-23T11:59:00Z")),
                next_dispatch: Some(at("2026-11-23T12:00:00Z")),
                running: None,
                overlap: "skip".into(),
                missed: "skip".into(),
            },
            JobSummary {
                name: JobName("nightly-churn".into()),
                state: JobState::Disabled {
                    by: "bob".into(),
                    at: at("2026-11-22T22:10:00Z"),
                    reason: Some("warehouse maintenance".into()),
                    until: Some(at("2026-11-24T06:00:00Z")),
                },
                schedule: "0 2 * * *".into(),
                timezone: "America/Sao_Paulo".into(),
                model: "churn".into(),
                datalake: "warehouse".into(),
                last_dispatch: Some(at("2026-11-22T05:00:00Z")),
                next_dispatch: None,
                running: None,
                overlap: "skip".into(),
                missed: "skip".into(),
            },
            JobSummary {
                name: JobName("broken-cron".into()),
                state: JobState::Invalid {
                    reason: "schedule \"61 * * * *\": minute 61 out of range".into(),
                },
                schedule: "61 * * * *".into(),
                timezone: "UTC".into(),
                model: "iris".into(),
                datalake: "demo".into(),
                last_dispatch: None,
                next_dispatch: None,
                running: None,
                overlap: "skip".into(),
                missed: "skip".into(),
            },
        ],
    }
}
