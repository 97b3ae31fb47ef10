//! `mldctl jobs | enable | disable | run | slots | history`: the schedule
//! side of the daemon, for scripts and people.
//!
//! Receives a connected [`Client`] and the parsed arguments; sends `Jobs`,
//! `EnableJob`, `DisableJob`, `RunJob` (and follows the dispatch with a
//! subscription for `--wait`), `DryRun`, `Slots`, `JobHistory`; prints a
//! table or JSON. The JSON key names are the documented interface.

use super::dispatches::{DispatchJson, PredictionJson, UnscorableJson, summary_line};
use super::{ask, print_json, table};
use crate::client::{Client, ClientError};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::{
    DispatchStatus, DispatchSummary, DryRunResult, JobState, JobSummary, Request, Response,
    RunOutcome, ServerFrame, SlotRecord, StateChangeRecord, Update,
};
use serde::Serialize;
use std::process::ExitCode;

/// A job in `--json` output; field order is the documented key order.
#[derive(Debug, Serialize)]
pub struct JobJson {
    name: String,
    /// `active`, `disabled` or `invalid`.
    state: &'static str,
    cron: String,
    timezone: String,
    /// RFC 3339, UTC.
    last: Option<String>,
    next: Option<String>,
    disabled_by: Option<String>,
    /// Why it is disabled (the operator's words) or invalid (the parser's).
    reason: Option<String>,
    until: Option<String>,
    model: String,
    datalake: String,
    /// The id of the dispatch running now.
    running: Option<i64>,
    overlap: String,
    missed: String,
}

fn job_json(job: &JobSummary) -> JobJson {
    let (disabled_by, reason, until) = match &job.state {
        JobState::Active => (None, None, None),
        JobState::Disabled {
            by, reason, until, ..
        } => (Some(by.clone()), reason.clone(), table::rfc3339(*until)),
        JobState::Invalid { reason } => (None, Some(reason.clone()), None),
    };
    JobJson {
        name: job.name.0.clone(),
        state: job.state.label(),
        cron: job.schedule.clone(),
        timezone: job.timezone.clone(),
        last: table::rfc3339(job.last_dispatch),
        next: table::rfc3339(job.next_dispatch),
        disabled_by,
        reason,
        until,
        model: job.model.clone(),
        datalake: job.datalake.clone(),
        running: job.running.map(|d| d.0),
        overlap: job.overlap.clone(),
        missed: job.missed.clone(),
    }
}

/// Who paused a job, why and until when, or why it is invalid; empty when active.
fn state_note(state: &JobState, tz: &TimeZone) -> String {
    match state {
        JobState::Active => String::new(),
        JobState::Disabled {
            by,
            at,
            reason,
            until,
        } => {
            let mut note = format!("by {by} at {}", table::local(*at, tz));
            if let Some(until) = until {
                note.push_str(&format!(" until {}", table::local(*until, tz)));
            }
            if let Some(reason) = reason {
                note.push_str(&format!(": {reason}"));
            }
            note
        }
        JobState::Invalid { reason } => reason.clone(),
    }
}

fn jobs_text(jobs: &[JobSummary], tz: &TimeZone) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.name.0.clone(),
                j.state.label().to_string(),
                j.schedule.clone(),
                j.timezone.clone(),
                table::local_or_dash(j.last_dispatch, tz),
                table::local_or_dash(j.next_dispatch, tz),
                j.running.map_or_else(|| "-".to_string(), |d| d.to_string()),
                state_note(&j.state, tz),
            ]
        })
        .collect();
    table::render(
        &[
            "JOB", "STATE", "CRON", "TIMEZONE", "LAST", "NEXT", "RUNNING", "NOTE",
        ],
        &rows,
    )
}

/// One line saying what state a job is in now.
fn job_line(job: &JobSummary, tz: &TimeZone) -> String {
    let mut line = format!("{} is {}", job.name, job.state.label());
    let note = state_note(&job.state, tz);
    if !note.is_empty() {
        let sep = match job.state {
            JobState::Invalid { .. } => ": ",
            _ => " ",
        };
        line.push_str(sep);
        line.push_str(&note);
    }
    if let Some(next) = job.next_dispatch {
        line.push_str(&format!("; next dispatch {}", table::local(next, tz)));
    }
    line
}

pub async fn list(client: &mut Client, json: bool, tz: &TimeZone) -> anyhow::Result<ExitCode> {
    let jobs = ask(client, Request::Jobs, |r| match r {
        Response::Jobs(jobs) => Ok(jobs),
        other => Err(other),
    })
    .await?;
    if json {
        print_json(&jobs.iter().map(job_json).collect::<Vec<_>>())?;
    } else {
        out!("{}", jobs_text(&jobs, tz))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn change(
    client: &mut Client,
    request: Request,
    json: bool,
    tz: &TimeZone,
) -> anyhow::Result<ExitCode> {
    let job = ask(client, request, |r| match r {
        Response::JobChanged(job) => Ok(job),
        other => Err(other),
    })
    .await?;
    if json {
        print_json(&job_json(&job))?;
    } else {
        outln!("{}", job_line(&job, tz))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn enable(
    client: &mut Client,
    job: &str,
    reason: Option<String>,
    json: bool,
    tz: &TimeZone,
) -> anyhow::Result<ExitCode> {
    let request = Request::EnableJob {
        job: JobName(job.to_string()),
        reason,
    };
    change(client, request, json, tz).await
}

pub async fn disable(
    client: &mut Client,
    job: &str,
    reason: Option<String>,
    until: Option<Timestamp>,
    json: bool,
    tz: &TimeZone,
) -> anyhow::Result<ExitCode> {
    let request = Request::DisableJob {
        job: JobName(job.to_string()),
        reason,
        until: until.map(Into::into),
    };
    change(client, request, json, tz).await
}

/// `run --json` without `--wait`: which dispatch started, or which one it waits behind.
#[derive(Debug, Serialize)]
struct RunJson {
    dispatch: Option<i64>,
    queued_behind: Option<i64>,
}

pub async fn run_now(
    client: &mut Client,
    job: &str,
    wait: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let job = JobName(job.to_string());
    if wait {
        // Subscribed before asking, so no progress of this dispatch is missed.
        client.subscribe().await?;
    }
    let outcome = ask(client, Request::RunJob { job: job.clone() }, |r| match r {
        Response::Run(outcome) => Ok(outcome),
        other => Err(other),
    })
    .await?;
    if !wait {
        match outcome {
            RunOutcome::Started(id) if json => print_json(&RunJson {
                dispatch: Some(id.0),
                queued_behind: None,
            })?,
            RunOutcome::Queued { behind } if json => print_json(&RunJson {
                dispatch: None,
                queued_behind: Some(behind.0),
            })?,
            RunOutcome::Started(id) => outln!("dispatch {id}")?,
            RunOutcome::Queued { behind } => outln!("queued behind dispatch {behind}")?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let id = match outcome {
        RunOutcome::Started(id) => id,
        RunOutcome::Queued { behind } => {
            if !json {
                outln!("queued behind dispatch {behind}")?;
            }
            wait_for_queued(client, &job, behind).await?
        }
    };
    if !json {
        outln!("dispatch {id}")?;
    }
    let done = wait_finished(client, id).await?;
    report_finished(&done, json)
}

/// Prints how a dispatch waited for ended; exit 0 only if it succeeded
/// (else the reason on stderr, on one line).
pub(super) fn report_finished(done: &DispatchSummary, json: bool) -> anyhow::Result<ExitCode> {
    let id = done.id;
    if json {
        print_json(&DispatchJson::from(done))?;
    } else {
        outln!("{}", summary_line(done))?;
    }
    if done.status == DispatchStatus::Succeeded {
        return Ok(ExitCode::SUCCESS);
    }
    let mut why = format!("dispatch {id} {}", done.status.as_str());
    if let Some(step) = &done.failed_step {
        why.push_str(&format!(" at {step}"));
    }
    if let Some(error) = &done.error {
        why.push_str(&format!(": {error}"));
    }
    eprintln!("mldctl: {why}");
    Ok(ExitCode::FAILURE)
}

/// The id of the dispatch a queued run became: the next one of `job` after `behind`.
async fn wait_for_queued(
    client: &mut Client,
    job: &JobName,
    behind: DispatchId,
) -> Result<DispatchId, ClientError> {
    loop {
        match client.next_frame().await? {
            ServerFrame::Update(Update::Dispatch(d)) if d.job == *job && d.id > behind => {
                return Ok(d.id);
            }
            ServerFrame::Closing { reason } => return Err(ClientError::Closing { reason }),
            _ => {}
        }
    }
}

/// Follows dispatch `id` until it finishes. The event log is asked once after
/// subscribing (and after every resync), so a dispatch that finished before
/// the subscription took effect is not waited for forever.
pub(super) async fn wait_finished(
    client: &mut Client,
    id: DispatchId,
) -> Result<DispatchSummary, ClientError> {
    let mut check = true;
    loop {
        if check {
            let detail = ask(client, Request::Dispatch { id }, |r| match r {
                Response::Dispatch(d) => Ok(d),
                other => Err(other),
            })
            .await?;
            if detail.summary.status.is_finished() {
                return Ok(detail.summary);
            }
            check = false;
        }
        match client.next_frame().await? {
            ServerFrame::Update(Update::Dispatch(d)) if d.id == id && d.status.is_finished() => {
                return Ok(*d);
            }
            ServerFrame::Update(Update::Resync(_)) => check = true,
            ServerFrame::Closing { reason } => return Err(ClientError::Closing { reason }),
            _ => {}
        }
    }
}

/// `run --dry-run N --json`.
#[derive(Debug, Serialize)]
struct DryRunJson {
    job: String,
    model: String,
    model_version: String,
    results_table: String,
    predictions: Vec<PredictionJson>,
    unscorable: Vec<UnscorableJson>,
    /// The results table's columns, in the order of each `would_write` row.
    columns: Vec<String>,
    would_write: Vec<Vec<String>>,
}

impl From<&DryRunResult> for DryRunJson {
    fn from(r: &DryRunResult) -> Self {
        DryRunJson {
            job: r.job.0.clone(),
            model: r.model.clone(),
            model_version: r.model_version.clone(),
            results_table: r.results_table.clone(),
            predictions: r.predictions.iter().map(PredictionJson::from).collect(),
            unscorable: r.unscorable.iter().map(UnscorableJson::from).collect(),
            columns: r.columns.clone(),
            would_write: r.would_write.clone(),
        }
    }
}

fn dry_run_text(r: &DryRunResult) -> String {
    let mut out = format!(
        "dry run of {} with {} version {}: {} scored, {} unscorable; nothing was written\n\n",
        r.job,
        r.model,
        r.model_version,
        r.predictions.len(),
        r.unscorable.len()
    );
    out.push_str("predictions\n");
    out.push_str(&super::dispatches::predictions_table(&r.predictions));
    if !r.unscorable.is_empty() {
        out.push_str("\nunscorable rows\n");
        out.push_str(&super::dispatches::unscorable_table(&r.unscorable));
    }
    out.push_str(&format!("\nwould write to {}\n", r.results_table));
    let headers: Vec<&str> = r.columns.iter().map(String::as_str).collect();
    out.push_str(&table::render(&headers, &r.would_write));
    out
}

pub async fn dry_run(
    client: &mut Client,
    job: &str,
    rows: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let request = Request::DryRun {
        job: JobName(job.to_string()),
        rows,
    };
    let result = ask(client, request, |r| match r {
        Response::DryRun(result) => Ok(result),
        other => Err(other),
    })
    .await?;
    if json {
        print_json(&DryRunJson::from(&*result))?;
    } else {
        out!("{}", dry_run_text(&result))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A slot of the ledger in `--json` output.
#[derive(Debug, Serialize)]
struct SlotJson {
    slot: String,
    decided_at: String,
    decision: String,
    dispatch: Option<i64>,
    detail: String,
}

impl From<&SlotRecord> for SlotJson {
    fn from(s: &SlotRecord) -> Self {
        SlotJson {
            slot: s.slot.to_rfc3339(),
            decided_at: s.decided_at.to_rfc3339(),
            decision: s.decision.clone(),
            dispatch: s.dispatch.map(|d| d.0),
            detail: s.detail.clone(),
        }
    }
}

fn slots_text(slots: &[SlotRecord], tz: &TimeZone) -> String {
    let rows: Vec<Vec<String>> = slots
        .iter()
        .map(|s| {
            vec![
                table::local(s.slot, tz),
                s.decision.clone(),
                s.dispatch
                    .map_or_else(|| "-".to_string(), |d| d.to_string()),
                s.detail.clone(),
            ]
        })
        .collect();
    table::render(&["SLOT", "DECISION", "DISPATCH", "DETAIL"], &rows)
}

pub async fn slots(
    client: &mut Client,
    job: &str,
    since: Timestamp,
    json: bool,
    tz: &TimeZone,
) -> anyhow::Result<ExitCode> {
    let request = Request::Slots {
        job: JobName(job.to_string()),
        since: since.into(),
    };
    let slots = ask(client, request, |r| match r {
        Response::Slots(slots) => Ok(slots),
        other => Err(other),
    })
    .await?;
    if json {
        print_json(&slots.iter().map(SlotJson::from).collect::<Vec<_>>())?;
    } else {
        out!("{}", slots_text(&slots, tz))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A state change in `--json` output.
#[derive(Debug, Serialize)]
struct ChangeJson {
    at: String,
    by: String,
    from: Option<String>,
    to: String,
    reason: Option<String>,
    until: Option<String>,
}

impl From<&StateChangeRecord> for ChangeJson {
    fn from(c: &StateChangeRecord) -> Self {
        ChangeJson {
            at: c.at.to_rfc3339(),
            by: c.by.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
            reason: c.reason.clone(),
            until: table::rfc3339(c.until),
        }
    }
}

fn history_text(changes: &[StateChangeRecord], tz: &TimeZone) -> String {
    let rows: Vec<Vec<String>> = changes
        .iter()
        .map(|c| {
            vec![
                table::local(c.at, tz),
                c.by.clone(),
                c.from.clone().unwrap_or_else(|| "-".to_string()),
                c.to.clone(),
                table::local_or_dash(c.until, tz),
                c.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table::render(&["AT", "BY", "FROM", "TO", "UNTIL", "REASON"], &rows)
}

pub async fn history(
    client: &mut Client,
    job: &str,
    json: bool,
    tz: &TimeZone,
) -> anyhow::Result<ExitCode> {
    let request = Request::JobHistory {
        job: JobName(job.to_string()),
    };
    let changes = ask(client, request, |r| match r {
        Response::JobHistory(changes) => Ok(changes),
        other => Err(other),
    })
    .await?;
    if json {
        print_json(&changes.iter().map(ChangeJson::from).collect::<Vec<_>>())?;
    } else {
        out!("{}", history_text(&changes, tz))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mld_shared::time::WireTime;

    fn tz() -> TimeZone {
        TimeZone::get("America/Sao_Paulo").unwrap()
    }

    fn t(s: &str) -> WireTime {
        WireTime::from(s.parse::<Timestamp>().unwrap())
    }

    pub(crate) fn job(state: JobState) -> JobSummary {
        JobSummary {
            name: JobName("score-iris".into()),
            state,
            schedule: "*/5 * * * *".into(),
            timezone: "America/Sao_Paulo".into(),
            model: "iris".into(),
            datalake: "demo".into(),
            last_dispatch: Some(t("2026-11-23T13:00:00Z")),
            next_dispatch: Some(t("2026-11-23T13:05:00Z")),
            running: None,
            overlap: "skip".into(),
            missed: "run-once".into(),
        }
    }

    fn paused() -> JobState {
        JobState::Disabled {
            by: "alice".into(),
            at: t("2026-11-23T12:58:00Z"),
            reason: Some("maintenance".into()),
            until: Some(t("2026-11-23T15:00:00Z")),
        }
    }

    #[test]
    fn job_json_has_exactly_the_documented_keys() {
        let value = serde_json::to_value(job_json(&job(paused()))).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "name",
            "state",
            "cron",
            "timezone",
            "last",
            "next",
            "disabled_by",
            "reason",
            "until",
            "model",
            "datalake",
            "running",
            "overlap",
            "missed",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(value["state"], "disabled");
        assert_eq!(value["disabled_by"], "alice");
        assert_eq!(value["reason"], "maintenance");
        assert_eq!(value["until"], "2026-11-23T15:00:00Z");
        assert_eq!(value["last"], "2026-11-23T13:00:00Z");
        assert_eq!(value["running"], serde_json::Value::Null);

        let invalid = serde_json::to_value(job_json(&job(JobState::Invalid {
            reason: "bad cron".into(),
        })))
        .unwrap();
        assert_eq!(invalid["state"], "invalid");
        assert_eq!(invalid["reason"], "bad cron");
        assert_eq!(invalid["disabled_by"], serde_json::Value::Null);
    }

    #[test]
    fn text_shows_local_times_and_who_paused() {
        let text = jobs_text(&[job(paused())], &tz());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("JOB"), "{text}");
        assert!(
            lines[1].contains("2026-11-23 10:00:00"),
            "local last: {text}"
        );
        assert!(
            lines[1].contains("2026-11-23 10:05:00"),
            "local next: {text}"
        );
        assert!(
            lines[1].ends_with(
                "by alice at 2026-11-23 09:58:00 until 2026-11-23 12:00:00: maintenance"
            ),
            "{text}"
        );
        assert_eq!(
            job_line(&job(JobState::Active), &tz()),
            "score-iris is active; next dispatch 2026-11-23 10:05:00"
        );
        assert_eq!(
            job_line(
                &job(JobState::Invalid {
                    reason: "bad cron".into()
                }),
                &tz()
            ),
            "score-iris is invalid: bad cron; next dispatch 2026-11-23 10:05:00"
        );
    }

    #[test]
    fn dry_run_text_lists_predictions_and_the_rows_it_would_write() {
        let result = DryRunResult {
            job: JobName("score-iris".into()),
            model: "iris".into(),
            model_version: "1".into(),
            results_table: "iris_scores".into(),
            columns: vec!["dispatch_id".into(), "row_key".into(), "prediction".into()],
            predictions: vec![mld_shared::protocol::PredictionInfo {
                row_key: "1".into(),
                label: "setosa".into(),
                score: 0.97,
                value: None,
            }],
            unscorable: vec![mld_shared::protocol::UnscorableInfo {
                row_key: "7".into(),
                reason: "petal_length is NULL".into(),
            }],
            would_write: vec![vec!["(this dispatch)".into(), "1".into(), "setosa".into()]],
        };
        let text = dry_run_text(&result);
        assert!(
            text.contains("1 scored, 1 unscorable; nothing was written"),
            "{text}"
        );
        assert!(text.contains("would write to iris_scores\ndispatch_id      row_key  prediction\n(this dispatch)  1        setosa\n"), "{text}");
        assert!(text.contains("7    petal_length is NULL"), "{text}");
        let json = serde_json::to_value(DryRunJson::from(&result)).unwrap();
        assert_eq!(json["predictions"][0]["label"], "setosa");
        assert_eq!(json["would_write"][0][2], "setosa");
    }
}

#[cfg(test)]
mod wait_tests {
    //! `run --wait` against a scripted daemon on a real socket: the races a
    //! real daemon rarely shows on demand (a run queued behind another, a
    //! dispatch finished before the subscription, a resync).
    use super::*;
    use crate::client::tests::listen;
    use interprocess::local_socket::traits::tokio::Listener as _;
    use mld_shared::frame;
    use mld_shared::protocol::{ClientFrame, Hello, HelloReply, Snapshot, Trigger};
    use mld_shared::time::WireTime;
    use tokio::io::BufReader;

    fn dispatch(id: i64, status: DispatchStatus) -> DispatchSummary {
        DispatchSummary {
            id: DispatchId(id),
            job: JobName("score".into()),
            status,
            trigger: Trigger::Manual,
            requested_by: "alice".into(),
            slot: None,
            model: "iris".into(),
            model_version: "1".into(),
            model_hash: "abc".into(),
            created_at: WireTime(1_795_000_000_000),
            started_at: Some(WireTime(1_795_000_000_010)),
            finished_at: status.is_finished().then_some(WireTime(1_795_000_000_090)),
            rows_collected: 3,
            rows_predicted: 3,
            rows_unscorable: 0,
            rows_stored: 3,
            rows_inserted: if status == DispatchStatus::Succeeded {
                3
            } else {
                0
            },
            failed_step: (status == DispatchStatus::Failed).then(|| "inserted".into()),
            error: (status == DispatchStatus::Failed).then(|| "no such table".into()),
        }
    }

    fn detail(id: i64, status: DispatchStatus) -> Response {
        Response::Dispatch(Box::new(mld_shared::protocol::DispatchDetail {
            summary: dispatch(id, status),
            events: vec![],
            class_counts: vec![],
            unscorable: vec![],
            values: None,
        }))
    }

    fn update(id: i64, status: DispatchStatus) -> Update {
        Update::Dispatch(Box::new(dispatch(id, status)))
    }

    /// Serves one client: `script` answers each request with a response and
    /// the updates to push after it. Returns the requests it saw.
    async fn serve(
        path: &std::path::Path,
        mut script: impl FnMut(&Request) -> (Response, Vec<Update>) + Send + 'static,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        let listener = listen(path);
        tokio::spawn(async move {
            let stream = listener.accept().await.unwrap();
            let (read, mut write) = tokio::io::split(stream);
            let mut read = BufReader::new(read);
            let _: Hello = frame::read_message(&mut read).await.unwrap().unwrap();
            let welcome = HelloReply::Welcome(crate::ui::fixtures::welcome());
            frame::write_message(&mut write, &welcome).await.unwrap();
            let mut seen = Vec::new();
            while let Ok(Some(ClientFrame { id, request })) =
                frame::read_message::<ClientFrame, _>(&mut read).await
            {
                seen.push(format!("{request:?}"));
                let (response, updates) = script(&request);
                let answer = ServerFrame::Response {
                    id,
                    result: Ok(response),
                };
                frame::write_message(&mut write, &answer).await.unwrap();
                for u in updates {
                    frame::write_message(&mut write, &ServerFrame::Update(u))
                        .await
                        .unwrap();
                }
            }
            seen
        })
    }

    /// Fails instead of hanging when an awaited update never comes.
    async fn within(f: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
        tokio::time::timeout(std::time::Duration::from_secs(5), f)
            .await
            .expect("run --wait did not finish")
            .unwrap()
    }

    fn snapshot() -> Response {
        Response::Subscribed(Box::new(Snapshot {
            taken_at: WireTime(0),
            status: crate::client::tests::status(),
            health: vec![],
            jobs: vec![],
        }))
    }

    #[tokio::test]
    async fn a_dispatch_finished_before_the_subscription_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.sock");
        let server = serve(&path, |r| match r {
            Request::Subscribe => (snapshot(), vec![]),
            Request::RunJob { .. } => (Response::Run(RunOutcome::Started(DispatchId(7))), vec![]),
            Request::Dispatch { id } if id.0 == 7 => (detail(7, DispatchStatus::Succeeded), vec![]),
            other => panic!("unexpected {other:?}"),
        })
        .await;
        let mut client = Client::connect(&path).await.unwrap();
        let code = within(run_now(&mut client, "score", true, false)).await;
        assert_eq!(code, ExitCode::SUCCESS);
        drop(client);
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(
            seen[0].starts_with("Subscribe"),
            "subscribed before running: {seen:?}"
        );
    }

    #[tokio::test]
    async fn a_queued_run_is_followed_to_its_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.sock");
        let server = serve(&path, |r| match r {
            Request::Subscribe => (snapshot(), vec![]),
            // Dispatch 5 runs; ours is queued, then starts as 6 when 5 ends.
            Request::RunJob { .. } => (
                Response::Run(RunOutcome::Queued {
                    behind: DispatchId(5),
                }),
                vec![
                    update(5, DispatchStatus::Succeeded),
                    update(6, DispatchStatus::Created),
                ],
            ),
            Request::Dispatch { id } if id.0 == 6 => (
                detail(6, DispatchStatus::Running),
                vec![
                    update(5, DispatchStatus::Failed),
                    update(6, DispatchStatus::Failed),
                ],
            ),
            other => panic!("unexpected {other:?}"),
        })
        .await;
        let mut client = Client::connect(&path).await.unwrap();
        let code = within(run_now(&mut client, "score", true, true)).await;
        assert_eq!(code, ExitCode::FAILURE, "a failed dispatch exits 1");
        drop(client);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_resync_asks_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.sock");
        let mut asked = 0;
        let server = serve(&path, move |r| match r {
            Request::Subscribe => (snapshot(), vec![]),
            Request::RunJob { .. } => (Response::Run(RunOutcome::Started(DispatchId(7))), vec![]),
            Request::Dispatch { .. } => {
                asked += 1;
                if asked == 1 {
                    // The finished update was lost to a lagging subscription.
                    let Response::Subscribed(s) = snapshot() else {
                        unreachable!()
                    };
                    (detail(7, DispatchStatus::Running), vec![Update::Resync(s)])
                } else {
                    (detail(7, DispatchStatus::Succeeded), vec![])
                }
            }
            other => panic!("unexpected {other:?}"),
        })
        .await;
        let mut client = Client::connect(&path).await.unwrap();
        let code = within(run_now(&mut client, "score", true, false)).await;
        assert_eq!(code, ExitCode::SUCCESS);
        drop(client);
        let seen = server.await.unwrap();
        assert_eq!(
            seen.iter().filter(|s| s.starts_with("Dispatch")).count(),
            2,
            "{seen:?}"
        );
    }
}
