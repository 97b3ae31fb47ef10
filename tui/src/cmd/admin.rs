//! Admin subcommands of the daemon itself: `reload` (re-read the
//! configuration, print what changed) and `retry` (do a dispatch's
//! write-back again from its stored predictions).

use super::jobs::{report_finished, wait_finished};
use super::{ask, print_json};
use crate::client::Client;
use mld_shared::ids::DispatchId;
use mld_shared::protocol::{ReloadInfo, Request, Response};
use serde::Serialize;
use std::process::ExitCode;

/// `reload --json`.
#[derive(Debug, Serialize)]
struct ReloadJson {
    file: String,
    changes: Vec<String>,
}

fn reload_text(r: &ReloadInfo) -> String {
    if r.changes.is_empty() {
        return format!("reloaded {}: no changes\n", r.file);
    }
    let mut out = format!("reloaded {}:\n", r.file);
    for c in &r.changes {
        out.push_str(&format!("  {c}\n"));
    }
    out
}

/// Asks the daemon to reload its configuration. A refused file is an error
/// (exit 1) whose message names the file, line and key.
pub async fn reload(client: &mut Client, json: bool) -> anyhow::Result<ExitCode> {
    let info = ask(client, Request::Reload, |r| match r {
        Response::Reloaded(info) => Ok(info),
        other => Err(other),
    })
    .await?;
    if json {
        print_json(&ReloadJson {
            file: info.file.clone(),
            changes: info.changes.clone(),
        })?;
    } else {
        out!("{}", reload_text(&info))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `retry --json` without `--wait`.
#[derive(Debug, Serialize)]
struct RetryJson {
    retrying: i64,
}

/// Asks the daemon to do dispatch `id`'s write-back again; with `wait`,
/// follows it to its end (exit 0 only if it succeeded).
pub async fn retry(
    client: &mut Client,
    id: i64,
    wait: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let id = DispatchId(id);
    if wait {
        // Subscribed before asking, so the end of the retry is not missed.
        client.subscribe().await?;
    }
    let id = ask(client, Request::RetryDispatch { id }, |r| match r {
        Response::Retrying { id } => Ok(id),
        other => Err(other),
    })
    .await?;
    if !wait {
        if json {
            print_json(&RetryJson { retrying: id.0 })?;
        } else {
            outln!("dispatch {id}: retrying (its write-back, or its shards not done)")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        outln!("dispatch {id}: retrying (its write-back, or its shards not done)")?;
    }
    let done = wait_finished(client, id).await?;
    report_finished(&done, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_lists_each_change_or_says_there_was_none() {
        let none = ReloadInfo {
            file: "/etc/mld/mld.toml".into(),
            changes: vec![],
        };
        assert_eq!(
            reload_text(&none),
            "reloaded /etc/mld/mld.toml: no changes\n"
        );
        let some = ReloadInfo {
            file: "/etc/mld/mld.toml".into(),
            changes: vec!["job a added".into(), "job b removed".into()],
        };
        assert_eq!(
            reload_text(&some),
            "reloaded /etc/mld/mld.toml:\n  job a added\n  job b removed\n"
        );
    }
}
