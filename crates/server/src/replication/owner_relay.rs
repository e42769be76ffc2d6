//! The relay of a refused write to its owner (`?forward=true` on the API): the protocol on
//! both sides. A write refused here `not_master`/`not_owner` is relayed, as its decided
//! `Command` (plain data), to its owner's `POST /api/v1/replication/relay`, carrying the
//! pending operation's id as its idempotency key, so a retry after a crash or an unknown
//! outcome never applies a command twice. (The cluster's relay of a request to its leader is
//! another thing: `cluster_http::relay_to_leader`.)

use super::endpoint::authenticate;
use super::peer_client::{peer_post, RelayError};
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use innsync_core::{Command, ServerCode};
use innsync_store::WriteOutcome;
use serde::{Deserialize, Serialize};

/// The pool relayed writes run in (its name, `forward`, is stored in the queue).
pub const OWNER_RELAY_POOL: &str = "forward";

/// A command relayed from a peer to its owner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayRequest {
    /// The user who asked, on the forwarding server.
    pub actor: String,
    /// The command.
    pub command: Command,
    /// Makes the relay idempotent.
    pub idempotency_key: String,
}

/// `POST /api/v1/replication/relay`: a peer hands this server a write it owns.
pub async fn relay_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RelayRequest>,
) -> ApiResult<Json<WriteOutcome>> {
    let peer = authenticate(&state, &headers)?;
    let actor = req.actor.clone();
    if state.read(move |r| r.user(&actor)).await?.is_none() {
        return Err(Problem::forbidden(format!(
            "user {} is not known on this server",
            req.actor
        )));
    }
    let actor = format!("{} via {peer}", req.actor);
    let key = format!("{peer}:{}", req.idempotency_key);
    let out = crate::write::submit(&state, req.command, &actor, Some(key)).await?;
    Ok(Json(out))
}

/// Relays one command to `target` and returns its answer.
pub async fn relay(
    state: &AppState,
    target: &ServerCode,
    command: &Command,
    actor: &str,
    key: &str,
) -> Result<WriteOutcome, RelayError> {
    let body = RelayRequest {
        actor: actor.to_string(),
        command: command.clone(),
        idempotency_key: key.to_string(),
    };
    let bytes = peer_post(
        state,
        target,
        "/api/v1/replication/relay",
        &body,
        state.settings.peer_request_timeout,
    )
    .await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RelayError::Unreachable(format!("garbled answer from {target}: {e}")))
}
