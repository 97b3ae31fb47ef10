//! Where the console's own log goes: a file, never the screen it draws on.
//!
//! Receives an optional `--log-file`; otherwise writes to
//! `$XDG_STATE_HOME/mld/mldctl.log` (or `~/.local/state/mld/mldctl.log`).
//! The level comes from `RUST_LOG` (default `info`).

use anyhow::Context;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;

/// `$XDG_STATE_HOME/mld`, else `~/.local/state/mld`, else `./.mld-state`.
pub fn state_dir() -> PathBuf {
    state_dir_from(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
}

fn state_dir_from(
    xdg_state_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> PathBuf {
    // The XDG spec says a relative XDG_STATE_HOME is invalid and is ignored.
    if let Some(dir) = xdg_state_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return dir.join("mld");
    }
    if let Some(home) = home.filter(|h| !h.is_empty()) {
        return PathBuf::from(home).join(".local/state/mld");
    }
    PathBuf::from(".mld-state")
}

/// Starts logging to a file and returns its path.
pub fn init(path: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = path.map_or_else(|| state_dir().join("mldctl.log"), Path::to_path_buf);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the log folder {}", parent.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open the log file {}", path.display()))?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init();
    tracing::info!(version = mld_shared::VERSION, "mldctl started");
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_follows_xdg_then_home() {
        assert_eq!(
            state_dir_from(Some("/x/state".into()), Some("/home/a".into())),
            PathBuf::from("/x/state/mld")
        );
        assert_eq!(
            state_dir_from(Some("relative".into()), Some("/home/a".into())),
            PathBuf::from("/home/a/.local/state/mld")
        );
        assert_eq!(
            state_dir_from(None, Some("/home/a".into())),
            PathBuf::from("/home/a/.local/state/mld")
        );
    }
}
