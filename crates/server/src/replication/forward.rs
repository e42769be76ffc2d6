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
use innsync_store::{LocalWrite, PendingOp, StoreError, WriteOutcome};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use tokio::sync::watch;

/// Most pending operations taken per round of the worker.
pub const PENDING_BATCH: usize = 64;

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

/// Relays one command to `target` and returns its answer.
pub async fn relay(
    state: &AppState,
    target: &ServerCode,
    command: &Command,
    actor: &str,
    key: &str,
) -> Result<WriteOutcome, RelayError> {
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
        .timeout(state.settings.peer_request_timeout)
        .build()
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    let body = RelayRequest {
        actor: actor.to_string(),
        command: command.clone(),
        idempotency_key: key.to_string(),
    };
    let resp = client
        .post(format!("{base}/api/v1/replication/relay"))
        .bearer_auth(peer_token(ctx.env.secret.expose(), ctx.me.code.as_str()))
        .header(SERVER_HEADER, ctx.me.code.as_str())
        .header(FINGERPRINT_HEADER, &ctx.fingerprint)
        .json(&body)
        .send()
        .await
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map_err(|e| RelayError::Unreachable(format!("garbled answer from {target}: {e}")));
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let detail = v["detail"].as_str().unwrap_or("no detail").to_string();
    if status.is_server_error() {
        return Err(RelayError::Unreachable(format!(
            "{target} answered {status}: {detail}"
        )));
    }
    let code = static_code(v["code"].as_str().unwrap_or(""));
    Err(RelayError::Refused(Problem::new(
        status,
        code,
        format!("{target} refused: {detail}"),
    )))
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
        .enqueue_pending(target.clone(), command, caller.username.clone(), summary)
        .await?;
    let (op, refusal) = attempt(state, id).await?;
    if let Some(p) = refusal {
        // The owner said no and the user gets its answer now: nothing is left for an operator
        // to do, so the operation is closed as canceled (its reason kept).
        state
            .writer
            .local(LocalWrite::PendingState {
                id,
                state: "canceled".into(),
                next_at: None,
                error: None,
                result: None,
                attempted: false,
            })
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

fn pending_key(state: &AppState, id: i64) -> String {
    format!("pending-{}-{id}", state.writer.server())
}

async fn load(state: &AppState, id: i64) -> Result<PendingOp, Problem> {
    state
        .read(move |r| Ok(r.pending(None, 100_000)?.into_iter().find(|p| p.id == id)))
        .await?
        .ok_or_else(|| Problem::not_found(format!("pending operation {id} not found")))
}

/// One delivery attempt of pending operation `id`; returns it as it stands afterwards, and the
/// owner's refusal when it refused.
async fn attempt(state: &AppState, id: i64) -> Result<(PendingOp, Option<Problem>), Problem> {
    let op = load(state, id).await?;
    let target = ServerCode::parse(&op.target).map_err(Problem::invalid)?;
    let cmd: Command =
        serde_json::from_str(&op.command).map_err(|e| Problem::invalid(e.to_string()))?;
    let set = |state_: &str,
               next_at: Option<String>,
               error: Option<String>,
               result: Option<String>| LocalWrite::PendingState {
        id,
        state: state_.to_string(),
        next_at,
        error,
        result,
        attempted: true,
    };
    let mut refusal = None;
    let w = match relay(state, &target, &cmd, &op.actor, &pending_key(state, id)).await {
        Ok(out) => {
            let result =
                serde_json::to_string(&out).map_err(|e| Problem::unavailable(e.to_string()))?;
            if let Some(ctx) = &state.env {
                ctx.peer(&target, |p| p.last_forward = Some(chrono::Utc::now()));
            }
            set("done", None, None, Some(result))
        }
        Err(RelayError::Refused(p)) => {
            let w = set("failed", None, Some(p.detail.clone()), None);
            refusal = Some(p);
            w
        }
        Err(RelayError::Unreachable(why)) => {
            let s = &state.settings;
            let attempts = op.attempts + 1;
            if attempts >= s.pending_max_attempts {
                set(
                    "failed",
                    None,
                    Some(format!("gave up after {attempts} attempts: {why}")),
                    None,
                )
            } else {
                let backoff = s
                    .pending_retry_min
                    .saturating_mul(1 << attempts.min(16))
                    .min(s.pending_retry_max);
                let next =
                    (state.clock)() + chrono::TimeDelta::from_std(backoff).unwrap_or_default();
                set(
                    "retry",
                    Some(innsync_store::time_text(next)),
                    Some(why),
                    None,
                )
            }
        }
    };
    state.writer.local(w).await?;
    Ok((load(state, id).await?, refusal))
}

/// Delivers due pending operations until stopped: per target in id order, stopping at the first
/// that is not settled, so one target's operations are never reordered.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.settings.pending_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = innsync_store::time_text((state.clock)());
        let Ok(due) = state
            .read(move |r| r.due_pending(&now, PENDING_BATCH))
            .await
        else {
            continue;
        };
        let mut blocked: BTreeSet<String> = BTreeSet::new();
        for op in due {
            if blocked.contains(&op.target) {
                continue;
            }
            match attempt(&state, op.id).await {
                Ok((after, _)) if after.state == "done" || after.state == "failed" => {}
                Ok(_) | Err(_) => {
                    blocked.insert(op.target.clone());
                }
            }
        }
    }
}

/// `GET /api/v1/pending`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = crate::api::list_limit(&state, q.limit)?;
    let st = q.state.clone();
    let (ops, (depth, oldest, failed)) = state
        .read(move |r| Ok((r.pending(st.as_deref(), limit)?, r.pending_summary()?)))
        .await?;
    Ok(Json(serde_json::json!({
        "pending": ops, "depth": depth, "oldest_created_at": oldest, "failed": failed,
    })))
}

/// Filters of `GET /api/v1/pending`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    limit: Option<usize>,
}

/// Retries or cancels pending operation `id` (an operator's action, from the API or the UI).
pub async fn steer_op(state: &AppState, id: i64, action: &str) -> Result<PendingOp, Problem> {
    let op = load(state, id).await?;
    let next = match (action, op.state.as_str()) {
        ("retry", "failed" | "retry" | "pending") => "pending",
        ("cancel", "pending" | "retry" | "failed") => "canceled",
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
        .local(LocalWrite::PendingState {
            id,
            state: next.into(),
            next_at: Some(innsync_store::time_text((state.clock)())),
            error: None,
            result: None,
            attempted: false,
        })
        .await?;
    if next == "pending" {
        return Ok(attempt(state, id).await?.0);
    }
    load(state, id).await
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
