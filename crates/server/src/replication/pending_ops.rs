//! Operators list, retry and cancel pending operations (`/api/v1/pending`, the UI's
//! operations panel, `innsync pending`).

use crate::auth::Caller;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use innsync_store::{LocalWrite, PendingOp, PendingUpdate};
use serde::Deserialize;

/// The states a pending operation can be in: the only values `?state=` takes.
pub const PENDING_STATES: [&str; 6] = [
    "pending",
    "in_progress",
    "done",
    "retry",
    "failed",
    "canceled",
];

/// `GET /api/v1/pending`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = crate::extract::list_limit(&state, q.limit)?;
    if let Some(s) = &q.state {
        if !PENDING_STATES.contains(&s.as_str()) {
            return Err(Problem::invalid(format!(
                "state: {s:?} is not one of {}",
                PENDING_STATES.join(", ")
            )));
        }
    }
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
    crate::write::local(
        state,
        LocalWrite::PendingState(PendingUpdate {
            id,
            state: next.into(),
            phase: None,
            next_at: Some(innsync_store::time_text((state.clock)())),
            error: None,
            result: None,
            attempted: false,
        }),
    )
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
