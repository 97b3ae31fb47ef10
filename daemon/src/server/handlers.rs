//! One plain function per request. Each checks the role it needs, does its
//! work through the context's handles, and answers with a wire type.

use super::convert;
use crate::access::Peer;
use crate::context::Context;
use mld_shared::protocol::{ErrorKind, Request, Response, WireError};
use mld_shared::roles::Role;

pub type Answer = Result<Response, WireError>;

/// The role a request needs; `None` for requests anyone connected may make.
pub fn required_role(request: &Request) -> Option<Role> {
    match request {
        Request::Ping | Request::Status => None,
        Request::Subscribe | Request::Unsubscribe => Some(Role::Dispatch),
    }
}

/// Refuses (and records) a request the peer's roles do not allow.
pub async fn authorize(ctx: &Context, peer: &Peer, request: &Request) -> Result<(), WireError> {
    let Some(needed) = required_role(request) else {
        return Ok(());
    };
    if peer.roles.has(needed) {
        return Ok(());
    }
    let (user, uid, name) = (peer.user.clone(), peer.uid, request.name());
    tracing::warn!(user = %user, uid, request = name, needed = %needed, "permission denied");
    let now = jiff::Timestamp::now().as_millisecond();
    let record = ctx
        .eventlog
        .write(move |tx| {
            tx.execute(
                "INSERT INTO access_denials(at, user, uid, request, needed) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![now, user, uid, name, needed.as_str()],
            )
        })
        .await;
    if let Err(e) = record {
        tracing::error!(error = %e, "could not record a permission denial");
    }
    Err(WireError::new(
        ErrorKind::PermissionDenied,
        format!("permission denied: {name} needs {needed}"),
    ))
}

pub fn ping() -> Answer {
    Ok(Response::Pong)
}

pub fn status(ctx: &Context) -> Answer {
    Ok(Response::Status(convert::status(ctx)))
}
