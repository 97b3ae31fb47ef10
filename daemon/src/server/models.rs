//! Handlers of the model requests: registry, catalog, training, experiments,
//! ONNX import, prediction.

use crate::access::Peer;
use crate::context::Context;
use mld_shared::protocol::{ErrorKind, Request, WireError};
use std::sync::Arc;

use super::handlers::Answer;

pub async fn handle(_ctx: &Arc<Context>, _peer: &Peer, request: Request) -> Answer {
    Err(WireError::new(
        ErrorKind::Unavailable,
        format!("{} is not served by this daemon yet", request.name()),
    ))
}
