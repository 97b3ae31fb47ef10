//! `mldctl status [--json]`: the daemon's vital signs for scripts and people.
//!
//! Receives the socket path; asks the daemon for `Status`; prints text or one
//! JSON object. When no daemon answers, the error reaches `main`, which
//! prints it on one line and exits 1.

use crate::client::{Client, ClientError};
use mld_shared::protocol::{DaemonStatus, Request, Response, Welcome};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(socket: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let mut client = Client::connect(socket).await?;
    let status = match client.request(Request::Status).await? {
        Response::Status(status) => status,
        other => {
            return Err(ClientError::Unexpected {
                request: "status",
                got: format!("{other:?}"),
            }
            .into());
        }
    };
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&to_json(&status, client.welcome()))?
        )?;
    } else {
        out!("{}", to_text(&status, client.welcome()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--json` shape; field order is the documented key order.
#[derive(Debug, Serialize)]
struct StatusJson<'a> {
    daemon_version: &'a str,
    protocol_version: u32,
    uptime_seconds: u64,
    /// RFC 3339, UTC.
    started_at: String,
    jobs: u32,
    running_dispatches: u32,
    connected_clients: u32,
    user: &'a str,
    roles: Vec<&'static str>,
}

fn to_json<'a>(status: &'a DaemonStatus, welcome: &'a Welcome) -> StatusJson<'a> {
    StatusJson {
        daemon_version: &status.daemon_version,
        protocol_version: status.protocol_version,
        uptime_seconds: status.uptime_ms / 1000,
        started_at: status.started_at.to_rfc3339(),
        jobs: status.jobs_configured,
        running_dispatches: status.running_dispatches,
        connected_clients: status.connected_clients,
        user: &welcome.user,
        roles: welcome
            .roles
            .list()
            .into_iter()
            .map(|r| r.as_str())
            .collect(),
    }
}

fn to_text(status: &DaemonStatus, welcome: &Welcome) -> String {
    let uptime = crate::ui::format_duration((status.uptime_ms / 1000) as i64);
    format!(
        "daemon       mld {} (protocol {}, pid {})\n\
         uptime       {uptime} (since {})\n\
         jobs         {} configured\n\
         dispatches   {} running\n\
         clients      {} connected\n\
         you          {} [{}]\n",
        status.daemon_version,
        status.protocol_version,
        status.pid,
        status.started_at.to_rfc3339(),
        status.jobs_configured,
        status.running_dispatches,
        status.connected_clients,
        welcome.user,
        welcome.roles,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::{listen, serve_one, status};
    use crate::ui::fixtures::welcome;

    #[test]
    fn json_has_the_documented_keys() {
        let (status, welcome) = (status(), welcome());
        let text = serde_json::to_string(&to_json(&status, &welcome)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let expected = [
            "daemon_version",
            "protocol_version",
            "uptime_seconds",
            "started_at",
            "jobs",
            "running_dispatches",
            "connected_clients",
            "user",
            "roles",
        ];
        // Every key, in the documented order.
        let positions: Vec<usize> = expected
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.is_sorted(), "{text}");
        assert_eq!(value.as_object().unwrap().len(), expected.len(), "{text}");
        assert_eq!(value["uptime_seconds"], 3723);
        assert_eq!(value["started_at"], "2026-11-18T11:06:40Z");
        assert_eq!(
            value["roles"],
            serde_json::json!(["admin", "dispatch", "showroom"])
        );
    }

    #[test]
    fn text_is_one_fact_per_line() {
        let text = to_text(&status(), &welcome());
        assert!(
            text.contains("uptime       1h 02m (since 2026-11-18T11:06:40Z)"),
            "{text}"
        );
        assert!(
            text.contains("you          alice [admin,dispatch,showroom]"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn status_against_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mld.sock");
        let listener = listen(&path);
        let server = tokio::spawn(async move { serve_one(&listener, None).await });
        assert_eq!(run(&path, true).await.unwrap(), ExitCode::SUCCESS);
        server.await.unwrap();
        let err = run(&dir.path().join("none.sock"), false).await.unwrap_err();
        assert!(
            format!("{err:#}").starts_with("no mld daemon answers at"),
            "{err:#}"
        );
    }
}
