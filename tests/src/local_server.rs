//! What the database harnesses (`pg`, `mariadb`) share: a loopback port
//! nothing listens on yet, and a kept temp dir owned by the account the
//! server must run as when the tests run as root.

use std::path::PathBuf;

pub(crate) fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// A temp dir named `prefix…`, kept (the harness's watchdog removes it).
/// With `owner`, it is chowned to that user (the server refuses root).
pub(crate) fn server_dir(prefix: &str, owner: Option<&str>) -> Result<PathBuf, String> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    if let Some(name) = owner {
        let user = nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .ok_or(format!(
                "running as root but there is no `{name}` user to run the server as"
            ))?;
        nix::unistd::chown(&dir, Some(user.uid), Some(user.gid))
            .map_err(|e| format!("chown: {e}"))?;
    }
    Ok(dir)
}
