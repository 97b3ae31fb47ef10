//! The daemon's door: the Unix socket.
//!
//! Owns the listener and the connection tasks. Receives connections; for each
//! one reads the peer's credentials, runs the handshake, then serves requests
//! ([`handlers`]) and forwards subscribed updates ([`connection`]). Emits
//! nothing itself: handlers reach the subsystems through [`Context`].

pub mod connection;
pub mod convert;
pub mod handlers;
pub mod models;
pub mod showroom;

use crate::context::Context;
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use mld_shared::config::DaemonConfig;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Connections being identified and admitted at once. The accept loop waits
/// for one of these before it accepts the next connection, so a flood of
/// connections is taken in at the pace the daemon refuses them, queued in
/// the kernel, instead of thousands of tasks ahead of every answer.
pub const MAX_ADMITTING: usize = 64;

/// Open files the daemon asks for at start: every connection is one, and the
/// connection limits (`[limits]`) must be what stops a flood, not `EMFILE`.
pub const WANTED_OPEN_FILES: u64 = 65_536;

/// Raises the soft limit on open files towards [`WANTED_OPEN_FILES`] (as far
/// as the hard limit allows); returns the limit in force.
pub fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let wanted = WANTED_OPEN_FILES.min(hard).max(soft);
    if wanted > soft && setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).is_ok() {
        return wanted;
    }
    soft
}

#[derive(Debug, Error)]
pub enum BindError {
    #[error(
        "another mld daemon is already listening on {0}; stop it first or use another socket path"
    )]
    InUse(PathBuf),
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    #[error("cannot create the socket folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove the stale socket {path}: {source}")]
    RemoveStale {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {path}: {source}")]
    Listen {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("socket group {group:?}: {message}")]
    Group { group: String, message: String },
}

/// A bound socket. Dropping it removes the socket file.
pub struct Listener {
    inner: interprocess::local_socket::tokio::Listener,
    path: PathBuf,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("path", &self.path)
            .finish()
    }
}

impl Listener {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Binds the configured socket with its mode and group. A socket file left by
/// a dead daemon is replaced; a live daemon on the same path is an error.
/// Must be called inside a tokio runtime.
pub fn bind(cfg: &DaemonConfig) -> Result<Listener, BindError> {
    let path = cfg.socket.clone();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| BindError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // Someone answering means a live daemon; a refused connect means a
            // file left behind by one that died.
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return Err(BindError::InUse(path));
            }
            tracing::info!(socket = %path.display(), "replacing a stale socket file");
            std::fs::remove_file(&path).map_err(|source| BindError::RemoveStale {
                path: path.clone(),
                source,
            })?;
        }
        Ok(_) => return Err(BindError::NotASocket(path)),
        Err(_) => {}
    }
    let name = path
        .as_path()
        .to_fs_name::<GenericFilePath>()
        .map_err(|source| BindError::Listen {
            path: path.clone(),
            source,
        })?;
    let inner = ListenerOptions::new()
        .name(name)
        .reclaim_name(true)
        .mode(cfg.socket_mode as libc::mode_t)
        .create_tokio()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => BindError::InUse(path.clone()),
            _ => BindError::Listen {
                path: path.clone(),
                source,
            },
        })?;
    // bind() applies the umask to the requested mode; set it exactly. The file
    // was only ever more restrictive than asked in between.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(cfg.socket_mode)).map_err(
            |source| BindError::Listen {
                path: path.clone(),
                source,
            },
        )?;
    }
    if let Some(group) = &cfg.socket_group {
        let gid = nix::unistd::Group::from_name(group)
            .map_err(|e| BindError::Group {
                group: group.clone(),
                message: e.to_string(),
            })?
            .ok_or_else(|| BindError::Group {
                group: group.clone(),
                message: "no such group".into(),
            })?
            .gid;
        nix::unistd::chown(&path, None, Some(gid)).map_err(|e| BindError::Group {
            group: group.clone(),
            message: format!("cannot chown the socket: {e}"),
        })?;
    }
    Ok(Listener { inner, path })
}

/// Accepts connections until `shutdown`, then tells every connection to close
/// and waits (briefly) for them. Each connection is admitted or refused by
/// its own task ([`connection::Admission`]), so a flood of connections from
/// one user never keeps an admin waiting in the kernel's backlog.
pub async fn serve(listener: Listener, ctx: Arc<Context>, shutdown: CancellationToken) {
    let admission = Arc::new(connection::Admission::default());
    let admitting = Arc::new(Semaphore::new(MAX_ADMITTING));
    let mut tasks = JoinSet::new();
    tracing::info!(socket = %listener.path.display(), "listening");
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = admitting.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            s = listener.inner.accept() => s,
        };
        // Reap finished connection tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
        match stream {
            Ok(stream) => {
                let (ctx, admission, shutdown) = (ctx.clone(), admission.clone(), shutdown.clone());
                tasks.spawn(connection::handle(stream, ctx, admission, permit, shutdown));
            }
            Err(e) => {
                // Out of file descriptors, most likely: wait for connections to end.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!("some connections did not close in time");
        tasks.abort_all();
    }
}
