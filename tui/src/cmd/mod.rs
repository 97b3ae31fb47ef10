//! Script subcommands for scheduling and dispatches: `jobs`, `enable`,
//! `disable`, `run`, `slots`, `history` ([`jobs`]), `dispatches`,
//! `dispatch`, `cancel` ([`dispatches`]) and `retry`, `reload` ([`admin`]).
//!
//! Receives the parsed [`Command`], the socket and (for the default window)
//! the daemon's configuration file; asks the daemon; prints a table for
//! people or JSON for scripts. Errors (no daemon, permission denied, unknown
//! job or dispatch) reach `main`, which prints them on one line and exits 1.

mod admin;
pub(crate) mod dispatches;
mod jobs;
pub mod models;
pub mod showroom;
mod table;
pub mod when;

use crate::client::{Client, ClientError};
use clap::Subcommand;
use mld_shared::protocol::{Request, Response};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the jobs: state, schedule, last and next dispatch.
    Jobs {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make a job active again (admin).
    Enable {
        job: String,
        /// Why, for the job's history.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Print the job as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause a job (admin), optionally until it resumes by itself.
    Disable {
        job: String,
        /// Why, for the job's history (shown to everyone).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Resume by itself at TS: RFC 3339 with an offset
        /// (2026-11-23T10:00:00-03:00) or a length of time from now (2h, 30m, 1d).
        #[arg(long, value_name = "TS")]
        until: Option<String>,
        /// Print the job as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a dispatch of a job now (admin); prints its id.
    Run {
        job: String,
        /// Wait for the dispatch to finish; exit 0 only if it succeeded.
        #[arg(long, conflicts_with = "dry_run")]
        wait: bool,
        /// Score the first N rows and show what would be written, writing nothing.
        #[arg(long, value_name = "N")]
        dry_run: Option<u32>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A job's slot ledger: what was decided for each cron slot.
    Slots {
        job: String,
        /// How far back: a length of time (24h) or an instant with an offset.
        #[arg(long, value_name = "WHEN", default_value = "24h")]
        since: String,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A job's state changes: who paused or resumed it, when and why.
    History {
        job: String,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the dispatches created in a window, newest first.
    ///
    /// The window defaults to the configuration's `dispatches.default_window`
    /// when --config is given, else the last 24 hours.
    Dispatches {
        /// Since a length of time ago (24h) or an instant with an offset.
        #[arg(long, value_name = "WHEN", conflicts_with_all = ["from", "to"])]
        since: Option<String>,
        /// Window start: an instant with an offset, or a length of time ago.
        #[arg(long, value_name = "TS")]
        from: Option<String>,
        /// Window end [default: now].
        #[arg(long, value_name = "TS")]
        to: Option<String>,
        /// Only this job's dispatches.
        #[arg(long, value_name = "NAME")]
        job: Option<String>,
        /// At most this many, newest first.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        limit: u32,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One dispatch: its summary, and on request its events and predictions.
    Dispatch {
        id: i64,
        /// Show its steps, in order.
        #[arg(long)]
        events: bool,
        /// Show its predictions (in row-key order) and the class distribution.
        #[arg(long)]
        predictions: bool,
        /// Only predictions whose row key contains KEY.
        #[arg(long, value_name = "KEY", requires = "predictions")]
        search: Option<String>,
        /// At most N predictions.
        #[arg(
            long,
            value_name = "N",
            default_value_t = 100,
            requires = "predictions"
        )]
        limit: u32,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a running dispatch (admin).
    Cancel {
        id: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Do a dispatch's write-back again from its stored predictions (admin):
    /// for one that failed, was cancelled or interrupted after storing them.
    /// Rows already in the results table under its id are counted first and
    /// never duplicated.
    Retry {
        id: i64,
        /// Wait for the write-back to finish; exit 0 only if it succeeded.
        #[arg(long)]
        wait: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-read the daemon's configuration file and apply it (admin); prints
    /// what changed, or why the file was refused (the running one is kept).
    Reload {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one of these subcommands against the daemon at `socket`.
pub async fn run(
    command: &Command,
    socket: &Path,
    config: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let tz = jiff::tz::TimeZone::system();
    // Parse what the user typed before connecting: a typo is reported as
    // such even when no daemon runs.
    let now = jiff::Timestamp::now();
    match command {
        Command::Jobs { json } => {
            let mut client = Client::connect(socket).await?;
            jobs::list(&mut client, *json, &tz).await
        }
        Command::Enable { job, reason, json } => {
            let mut client = Client::connect(socket).await?;
            jobs::enable(&mut client, job, reason.clone(), *json, &tz).await
        }
        Command::Disable {
            job,
            reason,
            until,
            json,
        } => {
            let until = until
                .as_deref()
                .map(|u| when::instant(u, now, when::Relative::FromNow))
                .transpose()?;
            let mut client = Client::connect(socket).await?;
            jobs::disable(&mut client, job, reason.clone(), until, *json, &tz).await
        }
        Command::Run {
            job,
            wait,
            dry_run,
            json,
        } => {
            let mut client = Client::connect(socket).await?;
            match dry_run {
                Some(rows) => jobs::dry_run(&mut client, job, *rows, *json).await,
                None => jobs::run_now(&mut client, job, *wait, *json).await,
            }
        }
        Command::Slots { job, since, json } => {
            let since = when::instant(since, now, when::Relative::Ago)?;
            let mut client = Client::connect(socket).await?;
            jobs::slots(&mut client, job, since, *json, &tz).await
        }
        Command::History { job, json } => {
            let mut client = Client::connect(socket).await?;
            jobs::history(&mut client, job, *json, &tz).await
        }
        Command::Dispatches {
            since,
            from,
            to,
            job,
            limit,
            json,
        } => {
            let default = default_window(config)?;
            let (from, to) = when::window(
                since.as_deref(),
                from.as_deref(),
                to.as_deref(),
                default,
                now,
            )?;
            let mut client = Client::connect(socket).await?;
            dispatches::list(&mut client, from, to, job.clone(), *limit, *json, &tz).await
        }
        Command::Dispatch {
            id,
            events,
            predictions,
            search,
            limit,
            json,
        } => {
            let mut client = Client::connect(socket).await?;
            let show = dispatches::Show {
                events: *events,
                predictions: predictions.then_some(*limit),
                search: search.clone(),
            };
            dispatches::show(&mut client, *id, &show, *json, &tz).await
        }
        Command::Cancel { id, json } => {
            let mut client = Client::connect(socket).await?;
            dispatches::cancel(&mut client, *id, *json).await
        }
        Command::Retry { id, wait, json } => {
            let mut client = Client::connect(socket).await?;
            admin::retry(&mut client, *id, *wait, *json).await
        }
        Command::Reload { json } => {
            let mut client = Client::connect(socket).await?;
            admin::reload(&mut client, *json).await
        }
    }
}

/// The dispatch list's window when none is given: the daemon configuration's
/// `dispatches.default_window` if `--config` names it, else 24 hours.
pub fn default_window(config: Option<&Path>) -> anyhow::Result<jiff::SignedDuration> {
    let Some(path) = config else {
        return Ok(jiff::SignedDuration::from_hours(24));
    };
    let config = mld_shared::config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(jiff::SignedDuration::try_from(
        config.dispatches.default_window.0,
    )?)
}

/// Sends `request`; `pick` takes the expected response apart.
async fn ask<T>(
    client: &mut Client,
    request: Request,
    pick: impl FnOnce(Response) -> Result<T, Response>,
) -> Result<T, ClientError> {
    let name = request.name();
    let response = client.request(request).await?;
    pick(response).map_err(|other| ClientError::Unexpected {
        request: name,
        got: format!("{other:?}"),
    })
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_window_comes_from_the_configuration_when_given() {
        assert_eq!(
            default_window(None).unwrap(),
            jiff::SignedDuration::from_hours(24)
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let file = dir.path().join("config/mld.toml");
        let demo = include_str!("../../../config/mld.toml");
        assert!(demo.contains("default_window = \"24h\""));
        std::fs::write(
            &file,
            demo.replace("default_window = \"24h\"", "default_window = \"2h\""),
        )
        .unwrap();
        assert_eq!(
            default_window(Some(&file)).unwrap(),
            jiff::SignedDuration::from_hours(2)
        );
    }

    #[test]
    fn subcommands_parse() {
        use crate::cli::{Cli, Command as Top};
        use clap::Parser;
        let cli = Cli::try_parse_from([
            "mldctl", "disable", "score", "--reason", "db", "--until", "2h",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Top::Scheduling(Command::Disable { ref job, ref reason, ref until, json: false }))
                if job == "score" && reason.as_deref() == Some("db") && until.as_deref() == Some("2h")
        ));
        assert!(
            Cli::try_parse_from(["mldctl", "run", "score", "--wait", "--dry-run", "5"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["mldctl", "dispatches", "--since", "2h", "--from", "1h"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["mldctl", "dispatch", "3", "--search", "1"]).is_err(),
            "--search needs --predictions"
        );
        let cli =
            Cli::try_parse_from(["mldctl", "dispatch", "3", "--predictions", "--search", "1"])
                .unwrap();
        assert!(matches!(
            cli.command,
            Some(Top::Scheduling(Command::Dispatch {
                id: 3,
                predictions: true,
                limit: 100,
                ..
            }))
        ));
    }
}
