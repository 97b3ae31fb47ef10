//! `mldctl status [--json]`: the daemon's vital signs for scripts and people.
//!
//! Receives the socket path; asks the daemon for `Status`; prints text or one
//! JSON object. When no daemon answers, the error reaches `main`, which
//! prints it on one line and exits 1.

use crate::client::{Client, ClientError};
use mld_shared::protocol::{DaemonStatus, Request, Response, Welcome};
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
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&status, client.welcome()))?
        );
    } else {
        print!("{}", to_text(&status, client.welcome()));
    }
    Ok(ExitCode::SUCCESS)
}

fn to_json(status: &DaemonStatus, welcome: &Welcome) -> serde_json::Value {
    let roles: Vec<&str> = welcome
        .roles
        .list()
        .into_iter()
        .map(|r| r.as_str())
        .collect();
    serde_json::json!({
        "daemon_version": status.daemon_version,
        "protocol_version": status.protocol_version,
        "uptime_seconds": status.uptime_ms / 1000,
        "started_at": status.started_at.to_rfc3339(),
        "jobs": status.jobs_configured,
        "running_dispatches": status.running_dispatches,
        "connected_clients": status.connected_clients,
        "user": welcome.user,
        "roles": roles,
    })
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
        let value = to_json(&status(), &welcome());
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
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
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
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
