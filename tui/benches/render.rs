//! Time per frame of each console screen at 200×60, loaded as a busy
//! operator would have it: 50 jobs, 1,000 dispatches in the window, 10,000
//! predictions on the opened dispatch's page, a registry of 40 versions.
//!
//! The state is built the way the console builds it — messages into
//! `app::update` (a snapshot, pushed updates, the daemon's answers to the
//! requests the screens make) — and each frame is `ui::render` into a
//! ratatui `TestBackend` through `Terminal::draw` (render, then the diff
//! against the last frame), which is what the console does on every change,
//! minus writing to the terminal. Baseline in the same run: a frame that
//! only clears the 200×60 screen (ratatui's own floor).
//!
//! `cargo bench -p mldctl --bench render`

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::Zoned;
use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::*;
use mld_shared::roles::Roles;
use mld_shared::time::WireTime;
use mldctl::app::{App, Cmd, Msg, update};
use mldctl::conn::ConnEvent;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;

const JOBS: usize = 50;
const DISPATCHES: usize = 1_000;
const PREDICTIONS: usize = 10_000;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;

fn now() -> Zoned {
    "2026-11-23T12:00:00+00:00[UTC]".parse().unwrap()
}

fn ms(offset_s: i64) -> WireTime {
    WireTime(now().timestamp().as_millisecond() + offset_s * 1000)
}

fn status() -> DaemonStatus {
    DaemonStatus {
        daemon_version: "0.1.0".into(),
        protocol_version: PROTOCOL_VERSION,
        pid: 4100,
        started_at: ms(-86_400),
        uptime_ms: 86_400_000,
        jobs_configured: JOBS as u32,
        running_dispatches: 3,
        connected_clients: 4,
    }
}

fn health(probe: i64) -> Vec<HealthEntry> {
    (0..10)
        .map(|i| HealthEntry {
            kind: if i < 7 {
                HealthKind::Server
            } else {
                HealthKind::Datalake
            },
            name: format!("warehouse-{i}"),
            target: format!("db{i}.example.com:5432 (tls)"),
            state: if (i + probe) % 9 == 0 {
                HealthState::Offline
            } else {
                HealthState::Online
            },
            latency_ms: Some(1.0 + ((i * 7 + probe * 3) % 40) as f64),
            message: (i % 4 == 0).then(|| "no answer within 2s from the replica".into()),
            checked_at: Some(ms(probe * 10 - 300)),
        })
        .collect()
}

fn jobs() -> Vec<JobSummary> {
    (0..JOBS)
        .map(|i| JobSummary {
            name: JobName(format!("score-segment-{i:02}")),
            state: match i % 10 {
                3 => JobState::Disabled {
                    by: "alice".into(),
                    at: ms(-3_600),
                    reason: Some("warehouse maintenance".into()),
                    until: Some(ms(7_200)),
                },
                7 => JobState::Invalid {
                    reason: "schedule \"61 * * * *\": minute 61 out of range".into(),
                },
                _ => JobState::Active,
            },
            schedule: "*/5 * * * *".into(),
            timezone: "America/Sao_Paulo".into(),
            model: "churn".into(),
            datalake: "warehouse".into(),
            last_dispatch: Some(ms(-300)),
            next_dispatch: Some(ms(17 + i as i64)),
            running: (i % 17 == 0).then_some(DispatchId(DISPATCHES as i64 - i as i64)),
            overlap: "skip".into(),
            missed: "run-once".into(),
        })
        .collect()
}

fn dispatch(i: usize) -> DispatchSummary {
    let id = (DISPATCHES - i) as i64;
    let status = match i % 13 {
        0 if i < 60 => DispatchStatus::Running,
        5 => DispatchStatus::Failed,
        9 => DispatchStatus::Cancelled,
        _ => DispatchStatus::Succeeded,
    };
    let created = ms(-(i as i64) * 80);
    DispatchSummary {
        id: DispatchId(id),
        job: JobName(format!("score-segment-{:02}", i % JOBS)),
        status,
        trigger: Trigger::Schedule,
        requested_by: "scheduler".into(),
        slot: Some(created),
        model: "churn".into(),
        model_version: "3".into(),
        model_hash: "8df425a8c872f40298c9fb903eb46774b54fbfb88dbe6e118f22feb662a8faff".into(),
        created_at: created,
        started_at: Some(WireTime(created.0 + 20)),
        finished_at: status
            .is_finished()
            .then_some(WireTime(created.0 + 4_000 + i as i64)),
        rows_collected: 100_000 + i as u64,
        rows_predicted: 99_900 + i as u64,
        rows_unscorable: 100,
        rows_stored: 99_900,
        rows_inserted: if status == DispatchStatus::Succeeded {
            99_900
        } else {
            0
        },
        failed_step: (status == DispatchStatus::Failed).then(|| "inserted".into()),
        error: (status == DispatchStatus::Failed)
            .then(|| "datalake warehouse: writing results failed, rolled back".into()),
    }
}

fn detail() -> DispatchDetail {
    let summary = dispatch(1);
    DispatchDetail {
        events: (0..7)
            .map(|s| DispatchEventInfo {
                seq: s,
                at: WireTime(summary.created_at.0 + s as i64 * 500),
                step: [
                    "created",
                    "started",
                    "collected",
                    "predicted",
                    "stored",
                    "inserted",
                    "finished",
                ][s as usize]
                    .into(),
                rows: (s >= 2).then_some(99_900),
                message: None,
            })
            .collect(),
        class_counts: vec![("stay".into(), 80_000), ("leave".into(), 19_900)],
        unscorable: (0..100)
            .map(|k| UnscorableInfo {
                row_key: format!("cust-{k:07}"),
                reason: "tenure is NULL".into(),
            })
            .collect(),
        summary,
        values: None,
    }
}

fn page() -> PredictionPage {
    PredictionPage {
        total: 99_900,
        rows: (0..PREDICTIONS)
            .map(|k| PredictionInfo {
                row_key: format!("cust-{k:07}"),
                label: if k % 5 == 0 { "leave" } else { "stay" }.into(),
                score: 0.5 + (k % 50) as f64 / 100.0,
                value: None,
            })
            .collect(),
        next_after: Some(format!("cust-{:07}", PREDICTIONS - 1)),
    }
}

fn metrics() -> MetricsInfo {
    MetricsInfo {
        accuracy: 0.91,
        macro_precision: 0.9,
        macro_recall: 0.88,
        macro_f1: 0.89,
        per_class: ["stay", "leave"]
            .iter()
            .map(|l| ClassMetricsInfo {
                label: (*l).into(),
                precision: 0.9,
                recall: 0.88,
                f1: 0.89,
                support: 500,
            })
            .collect(),
        confusion: vec![vec![450, 50], vec![40, 460]],
    }
}

fn models() -> Vec<ModelInfo> {
    (0..4)
        .map(|m| ModelInfo {
            name: format!("churn-{m}"),
            active: Some(1),
            versions: (1..=10)
                .map(|v| ModelVersionInfo {
                    name: format!("churn-{m}"),
                    version: v,
                    active: v == 1,
                    broken: None,
                    algorithm: "random_forest".into(),
                    hyperparameters: vec![("n_trees".into(), "100".into())],
                    features: (0..12).map(|f| format!("feature_{f}")).collect(),
                    labels: vec!["stay".into(), "leave".into()],
                    scaling: "standard".into(),
                    dataset: Some("churn".into()),
                    fingerprint: Some("ab".repeat(32)),
                    train_rows: Some(4_000),
                    test_rows: Some(1_000),
                    seed: Some(7),
                    metrics: Some(metrics()),
                    created_at: Some(ms(-(v as i64) * 86_400)),
                    hash: "cd".repeat(32),
                    task: "classification".into(),
                    feature_types: vec!["number".into(); 12],
                    regression: None,
                })
                .collect(),
        })
        .collect()
}

fn key(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Answers every request in `cmds` the way the daemon would.
fn answer_all(app: &mut App, cmds: Vec<Cmd>) {
    for cmd in cmds {
        let Cmd::Send(id, request) = cmd else {
            continue;
        };
        let response = match request {
            Request::Dispatches { .. } => {
                Response::Dispatches((0..DISPATCHES).map(dispatch).collect())
            }
            Request::Dispatch { .. } => Response::Dispatch(Box::new(detail())),
            Request::DispatchPredictions { .. } | Request::DispatchPredictionsBefore { .. } => {
                Response::Predictions(page())
            }
            Request::Models => Response::Models(models()),
            Request::Experiments => Response::Experiments(vec![]),
            Request::TrainingRuns { .. } => Response::TrainingRuns(vec![]),
            Request::Showrooms => Response::Showrooms(vec![]),
            other => panic!("not answered here: {other:?}"),
        };
        let more = update(
            app,
            Msg::Conn(ConnEvent::Response {
                id,
                result: Ok(response),
            }),
        );
        answer_all(app, more);
    }
}

/// A connected console with everything loaded.
fn loaded() -> App {
    let mut app = App::new(
        "/run/mld/mld.sock".into(),
        true,
        now().timestamp(),
        jiff::tz::TimeZone::UTC,
    );
    update(
        &mut app,
        Msg::Conn(ConnEvent::Connected(Welcome {
            protocol_version: PROTOCOL_VERSION,
            daemon_version: "0.1.0".into(),
            user: "alice".into(),
            uid: 1000,
            roles: Roles::admin(),
        })),
    );
    let cmds = update(
        &mut app,
        Msg::Conn(ConnEvent::Snapshot(Box::new(Snapshot {
            taken_at: ms(0),
            status: status(),
            health: health(0),
            jobs: jobs(),
        }))),
    );
    answer_all(&mut app, cmds);
    for probe in 1..40 {
        update(
            &mut app,
            Msg::Conn(ConnEvent::Update(Update::Health(health(probe)))),
        );
    }
    app
}

fn bench(c: &mut Criterion) {
    let now = now();
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    let mut frame = |c: &mut Criterion, name: &str, app: &App| {
        c.bench_function(name, |b| {
            b.iter(|| {
                terminal
                    .draw(|f| mldctl::ui::render(f, black_box(app), &now))
                    .unwrap();
            })
        });
    };

    let mut floor = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    c.bench_function("baseline: clear 200x60", |b| {
        b.iter(|| {
            floor
                .draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))
                .unwrap();
        })
    });

    let mut app = loaded();
    // The selection half-way down the jobs.
    for _ in 0..JOBS / 2 {
        key(&mut app, KeyCode::Down);
    }
    frame(c, "monitor: 50 jobs, 10 watched", &app);

    key(&mut app, KeyCode::Char('2'));
    for _ in 0..DISPATCHES / 2 {
        key(&mut app, KeyCode::Down);
    }
    frame(c, "dispatches: 1,000 in the window", &app);

    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Down);
    let cmds = key(&mut app, KeyCode::Enter);
    answer_all(&mut app, cmds);
    for _ in 0..PREDICTIONS / 2 {
        key(&mut app, KeyCode::Down);
    }
    assert_eq!(
        app.dispatches
            .open
            .as_ref()
            .and_then(|o| o.page.as_ref())
            .map(|p| p.rows.len()),
        Some(PREDICTIONS)
    );
    frame(c, "dispatch: 10,000 predictions on the page", &app);
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Char('4'));
    frame(c, "models: 40 versions", &app);
    key(&mut app, KeyCode::Enter);
    frame(c, "models: a version with its metrics", &app);
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('?'));
    frame(c, "help over the monitor", &app);
}

criterion_group!(benches, bench);
criterion_main!(benches);
