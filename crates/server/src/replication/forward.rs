//! Writes that belong elsewhere, forwarded to their owner when the user asks (`?forward=true`):
//! the decided `Command` (plain data) is queued durably as a pending operation, then relayed to
//! the owner — at once when it is reachable, later with retries and backoff when not. Each
//! relay carries the operation's id as its idempotency key, so a retry after a crash or an
//! unknown outcome never applies a command twice. Operators see and steer the queue at
//! `/api/v1/pending`.

use super::auth::{peer_token, FINGERPRINT_HEADER, SERVER_HEADER};
use crate::auth::Caller;
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use innsync_core::{Authority, Command, DomainError, ServerCode};
use innsync_store::{LocalWrite, NewPending, PendingOp, PendingUpdate, StoreError, WriteOutcome};
use serde::{Deserialize, Serialize};

/// The pool forwarded writes run in.
pub const FORWARD_POOL: &str = "forward";

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
    let peer = super::endpoint::authenticate(&state, &headers)?;
    let actor = req.actor.clone();
    if state.read(move |r| r.user(&actor)).await?.is_none() {
        return Err(Problem::forbidden(format!(
            "user {} is not known on this server",
            req.actor
        )));
    }
    let actor = format!("{} via {peer}", req.actor);
    let key = format!("{peer}:{}", req.idempotency_key);
    let out = state.writer.submit(req.command, &actor, Some(key)).await?;
    Ok(Json(out))
}

/// What became of a write.
pub enum Submitted {
    /// Done here or at the owner: the answer.
    Done(WriteOutcome),
    /// Queued for the owner, who could not be reached now.
    Queued(PendingOp),
}

/// Why a relay did not complete.
#[derive(Debug)]
pub enum RelayError {
    /// No answer (unreachable, timed out, 5xx): try again later.
    Unreachable(String),
    /// The owner refused: its problem, final.
    Refused(Problem),
}

fn static_code(code: &str) -> &'static str {
    const CODES: [&str; 16] = [
        "invalid_input",
        "unauthorized",
        "forbidden",
        "not_found",
        "version_conflict",
        "no_availability",
        "not_master",
        "not_owner",
        "invalid_transition",
        "already_exists",
        "room_unavailable",
        "handover_in_progress",
        "payload_too_large",
        "method_not_allowed",
        "environment_mismatch",
        "unavailable",
    ];
    CODES
        .into_iter()
        .find(|c| *c == code)
        .unwrap_or("unavailable")
}

/// POSTs `body` to a peer's `path` as this server (peer token and file fingerprint), within
/// the peer timeouts; the answer, or why there was none (unreachable, timed out, 5xx: try
/// again later) or the peer's refusal (4xx: final).
pub async fn peer_post<B: Serialize>(
    state: &AppState,
    target: &ServerCode,
    path: &str,
    body: &B,
    timeout: std::time::Duration,
) -> Result<axum::body::Bytes, RelayError> {
    let Some(ctx) = &state.env else {
        return Err(RelayError::Refused(Problem::invalid(
            "not part of an environment",
        )));
    };
    let Some(base) = ctx.peer_urls.get(target) else {
        return Err(RelayError::Refused(Problem::invalid(format!(
            "{target} is not a peer"
        ))));
    };
    let client = reqwest::Client::builder()
        .connect_timeout(state.settings.peer_connect_timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    let resp = client
        .post(format!("{base}{path}"))
        .bearer_auth(peer_token(ctx.env.secret.expose(), ctx.me.code.as_str()))
        .header(SERVER_HEADER, ctx.me.code.as_str())
        .header(FINGERPRINT_HEADER, &ctx.fingerprint)
        .json(body)
        .send()
        .await
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    answer(target.as_str(), resp).await
}

/// Sorts an HTTP answer into success (its body), a retryable failure or a final refusal.
pub async fn answer(who: &str, resp: reqwest::Response) -> Result<axum::body::Bytes, RelayError> {
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    if status.is_success() {
        return Ok(bytes);
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let detail = v["detail"].as_str().unwrap_or("no detail").to_string();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(RelayError::Unreachable(format!(
            "{who} answered {status}: {detail}"
        )));
    }
    let code = static_code(v["code"].as_str().unwrap_or(""));
    Err(RelayError::Refused(Problem::new(
        status,
        code,
        format!("{who} refused: {detail}"),
    )))
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

/// Runs `cmd` here; if it belongs elsewhere and `forward` is set, queues it for its owner and
/// relays it at once when the owner is reachable.
pub async fn submit(
    state: &AppState,
    cmd: Command,
    caller: &Caller,
    key: Option<String>,
    forward: bool,
) -> Result<Submitted, Problem> {
    let err = match state
        .writer
        .submit(cmd.clone(), &caller.username, key)
        .await
    {
        Ok(out) => return Ok(Submitted::Done(out)),
        Err(e) => e,
    };
    let target = match (&err, forward) {
        (StoreError::Refused(DomainError::NotMaster { master: Some(m) }), true) => m.clone(),
        (
            StoreError::Refused(DomainError::NotOwner {
                owner: Authority::Server(s),
            }),
            true,
        ) => s.clone(),
        _ => return Err(err.into()),
    };
    let summary = format!("{} for {} at {target}", cmd.name(), caller.username);
    let command = serde_json::to_string(&cmd).map_err(|e| Problem::invalid(e.to_string()))?;
    let id = state
        .writer
        .enqueue_pending(NewPending {
            target: target.to_string(),
            op: "relay".into(),
            command,
            actor: caller.username.clone(),
            summary,
            pool: FORWARD_POOL.into(),
            record_id: None,
            rule: None,
            not_before: None,
            coalesce: false,
        })
        .await?;
    let (op, refusal) = super::queue::attempt(state, id).await?;
    if let Some(p) = refusal {
        // The owner said no and the user gets its answer now: nothing is left for an operator
        // to do, so the operation is closed as canceled (its reason kept).
        state
            .writer
            .local(LocalWrite::PendingState(PendingUpdate {
                id,
                state: "canceled".into(),
                phase: None,
                next_at: None,
                error: None,
                result: None,
                attempted: false,
            }))
            .await?;
        return Err(p);
    }
    match op.state.as_str() {
        "done" => {
            let out: WriteOutcome = serde_json::from_str(op.result.as_deref().unwrap_or("null"))
                .map_err(|e| Problem::unavailable(e.to_string()))?;
            Ok(Submitted::Done(out))
        }
        _ => Ok(Submitted::Queued(op)),
    }
}

/// `GET /api/v1/pending`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = crate::api::list_limit(&state, q.limit)?;
    let (st, pool) = (q.state.clone(), q.pool.clone());
    let (ops, summary) = state
        .read(move |r| {
            Ok((
                r.pending(st.as_deref(), pool.as_deref(), limit)?,
                r.pending_summary()?,
            ))
        })
        .await?;
    Ok(Json(serde_json::json!({
        "pending": ops, "depth": summary.depth, "oldest_created_at": summary.oldest_created_at,
        "failed": summary.failed,
        "last_success": summary.last_success.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "pools": summary.pools.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
    })))
}

/// Filters of `GET /api/v1/pending`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    pool: Option<String>,
    limit: Option<usize>,
}

/// Retries or cancels pending operation `id` (an operator's action, from the API or the UI).
pub async fn steer_op(state: &AppState, id: i64, action: &str) -> Result<PendingOp, Problem> {
    let op = super::queue::load(state, id).await?;
    let next = match (action, op.state.as_str()) {
        ("retry", "failed" | "retry" | "pending" | "in_progress") => "pending",
        ("cancel", "pending" | "retry" | "failed" | "in_progress") => "canceled",
        ("retry" | "cancel", s) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "invalid_transition",
                format!("pending operation {id} is {s}; it cannot be {action}ed"),
            ))
        }
        (other, _) => {
            return Err(Problem::not_found(format!(
                "no action {other:?}; retry or cancel"
            )))
        }
    };
    state
        .writer
        .local(LocalWrite::PendingState(PendingUpdate {
            id,
            state: next.into(),
            phase: None,
            next_at: Some(innsync_store::time_text((state.clock)())),
            error: None,
            result: None,
            attempted: false,
        }))
        .await?;
    if next == "pending" {
        return Ok(super::queue::attempt(state, id).await?.0);
    }
    super::queue::load(state, id).await
}

/// `POST /api/v1/pending/{id}/retry` and `/cancel`.
pub async fn steer(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path((id, action)): axum::extract::Path<(String, String)>,
) -> ApiResult<Json<PendingOp>> {
    caller.require(crate::auth::Permission::Admin)?;
    let id: i64 = id
        .parse()
        .map_err(|_| Problem::not_found(format!("pending operation {id:?} not found")))?;
    Ok(Json(steer_op(&state, id, &action).await?))
}

/// The answer to a write queued for its owner: 202 with the pending operation.
pub fn queued_response(op: PendingOp) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "pending": op,
            "detail": format!("{} is not reachable now; the change is queued as pending operation {} and delivered when it is", op.target, op.id),
        })),
    )
        .into_response()
}
