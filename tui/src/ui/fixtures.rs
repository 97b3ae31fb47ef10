//! A fixed daemon state and a fixed "now" for tests: every screen drawn from
//! these is the same on every run.

use crate::app::{App, Cmd, Msg, update};
use crate::conn::ConnEvent;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::{Timestamp, Zoned};
use mld_shared::ids::RequestId;
use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::{
    DaemonStatus, DispatchDetail, DispatchEventInfo, DispatchStatus, DispatchSummary, HealthEntry,
    HealthKind, HealthState, JobState, JobSummary, PROTOCOL_VERSION, Snapshot, Trigger,
    UnscorableInfo, Welcome,
};
use mld_shared::protocol::{Request, Response, WireError};
use mld_shared::roles::Roles;
use mld_shared::time::WireTime;

/// A console that has not connected yet, at [`now`], showing UTC.
pub fn fresh() -> App {
    App::new(
        "/run/mld/mld.sock".into(),
        false,
        now().timestamp(),
        jiff::tz::TimeZone::UTC,
    )
}

/// A console connected to a daemon that sent [`welcome`] and [`snapshot`],
/// with the Dispatches screen's first list answered by [`dispatches`].
pub fn connected() -> App {
    connected_as(welcome())
}

/// [`connected`], as the user `welcome` names (with its roles).
pub fn connected_as(welcome: Welcome) -> App {
    let mut app = fresh();
    update(&mut app, Msg::Conn(ConnEvent::Connected(welcome)));
    let cmds = update(
        &mut app,
        Msg::Conn(ConnEvent::Snapshot(Box::new(snapshot()))),
    );
    for (id, request) in sent(&cmds) {
        if matches!(request, Request::Dispatches { .. }) {
            answer(&mut app, id, Ok(Response::Dispatches(dispatches())));
        }
    }
    app.dirty = false;
    app
}

/// Someone with the dispatch role only.
pub fn operator() -> Welcome {
    Welcome {
        user: "olivia".into(),
        uid: 1001,
        roles: Roles::none().with(mld_shared::roles::Role::Dispatch),
        ..welcome()
    }
}

pub fn press(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Types `text` one key at a time; returns every command it caused.
pub fn type_text(app: &mut App, text: &str) -> Vec<Cmd> {
    text.chars()
        .flat_map(|c| press(app, KeyCode::Char(c)))
        .collect()
}

/// The requests among `cmds`, with their ids.
pub fn sent(cmds: &[Cmd]) -> Vec<(RequestId, Request)> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Send(id, r) => Some((*id, r.clone())),
            Cmd::Quit => None,
        })
        .collect()
}

/// The only request among `cmds`.
pub fn only_request(cmds: &[Cmd]) -> (RequestId, Request) {
    let mut all = sent(cmds);
    assert_eq!(all.len(), 1, "expected one request: {cmds:?}");
    all.remove(0)
}

/// The daemon answers request `id`.
pub fn answer(app: &mut App, id: RequestId, result: Result<Response, WireError>) -> Vec<Cmd> {
    update(app, Msg::Conn(ConnEvent::Response { id, result }))
}

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
                next_dispatch: Some(at("2026-11-23T12:01:00Z")),
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

fn dispatch(id: i64, job: &str, status: DispatchStatus, created: &str) -> DispatchSummary {
    let created = at(created);
    DispatchSummary {
        id: DispatchId(id),
        job: JobName(job.into()),
        status,
        trigger: Trigger::Schedule,
        requested_by: "scheduler".into(),
        slot: Some(created),
        model: "iris".into(),
        model_version: "1".into(),
        model_hash: "8df425a8c872f00d".into(),
        created_at: created,
        started_at: Some(WireTime(created.0 + 10)),
        finished_at: (status != DispatchStatus::Running).then_some(WireTime(created.0 + 1_250)),
        rows_collected: 152,
        rows_predicted: 150,
        rows_unscorable: 2,
        rows_stored: 150,
        rows_inserted: if status == DispatchStatus::Succeeded {
            150
        } else {
            0
        },
        failed_step: (status == DispatchStatus::Failed).then(|| "inserted".into()),
        error: (status == DispatchStatus::Failed).then(|| {
            "datalake demo: writing results to iris_scores failed, rolled back: no such table"
                .into()
        }),
    }
}

/// The Dispatches screen's list: newest first.
pub fn dispatches() -> Vec<DispatchSummary> {
    vec![
        dispatch(
            14,
            "score-iris",
            DispatchStatus::Running,
            "2026-11-23T11:59:58Z",
        ),
        dispatch(
            13,
            "score-iris",
            DispatchStatus::Failed,
            "2026-11-23T11:59:00Z",
        ),
        dispatch(
            12,
            "score-iris",
            DispatchStatus::Succeeded,
            "2026-11-23T11:58:00Z",
        ),
    ]
}

pub fn dispatch_detail() -> DispatchDetail {
    let summary = dispatch(
        12,
        "score-iris",
        DispatchStatus::Succeeded,
        "2026-11-23T11:58:00Z",
    );
    let step = |seq: u32, step: &str, rows: Option<u64>, message: Option<&str>| DispatchEventInfo {
        seq,
        at: WireTime(summary.created_at.0 + seq as i64 * 100),
        step: step.into(),
        rows,
        message: message.map(str::to_string),
    };
    DispatchDetail {
        events: vec![
            step(
                1,
                "created",
                None,
                Some("trigger schedule by scheduler; model iris version 1 (8df425a8c872)"),
            ),
            step(2, "started", None, None),
            step(3, "collected", Some(152), None),
            step(
                4,
                "predicted",
                Some(150),
                Some("2 rows could not be scored"),
            ),
            step(5, "stored", Some(150), None),
            step(6, "inserted", Some(150), None),
            step(7, "finished", None, Some("succeeded")),
        ],
        class_counts: vec![
            ("setosa".into(), 50),
            ("versicolor".into(), 51),
            ("virginica".into(), 49),
        ],
        unscorable: vec![
            UnscorableInfo {
                row_key: "151".into(),
                reason: "petal_length is NULL".into(),
            },
            UnscorableInfo {
                row_key: "152".into(),
                reason: "sepal_width is not a number".into(),
            },
        ],
        summary,
    }
}

/// The first page (100 rows) of dispatch 12's 150 predictions.
pub fn prediction_page() -> mld_shared::protocol::PredictionPage {
    const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];
    mld_shared::protocol::PredictionPage {
        total: 150,
        rows: (1..=100)
            .map(|k| mld_shared::protocol::PredictionInfo {
                row_key: format!("{k:03}"),
                label: LABELS[(k / 50) as usize].into(),
                score: 0.5 + (k % 50) as f64 / 100.0,
            })
            .collect(),
        next_after: Some("100".into()),
    }
}
