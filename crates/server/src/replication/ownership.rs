//! The target's side of an ownership transfer: `POST /api/v1/replication/offer` (does this
//! server take the record? asked before the owner lets it go) and `POST
//! /api/v1/replication/await` (has it arrived? asked after, so the transfer counts as done
//! only once the new owner holds it). Both between servers of the environment only.

use super::endpoint::authenticate;
use super::queue::{AwaitRequest, OfferRequest};
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use innsync_core::record::RecordKind;
use innsync_core::{Authority, Record};
use serde_json::json;
use std::time::Duration;

/// Longest an `await` waits here before answering "not yet".
pub const MAX_AWAIT: Duration = Duration::from_secs(10);

/// `POST /api/v1/replication/offer`.
pub async fn offer(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<OfferRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let peer = authenticate(&state, &headers)?;
    let Some(ctx) = &state.env else {
        return Err(Problem::not_found("not part of an environment"));
    };
    let me = ctx.me.code.clone();
    let (master, _) = state.read(|r| r.master()).await?;
    let mine = match &req.to {
        Authority::Server(s) => *s == me,
        Authority::Env => master == me,
    };
    let refuse = |why: String| Problem::new(StatusCode::CONFLICT, "invalid_input", why);
    if !mine {
        return Err(refuse(format!(
            "{} is offered to {}, which is not this server ({me})",
            req.record.key(),
            req.to
        )));
    }
    if !innsync_core::decide::TRANSFERABLE.contains(&req.record.kind()) {
        return Err(refuse(format!(
            "{} records do not change owner",
            req.record.kind().as_str()
        )));
    }
    let archive = ctx.me.role == innsync_environment::ServerRole::Archive;
    let property_server = ctx.me.role == innsync_environment::ServerRole::Property;
    match &req.record {
        Record::Booking(b) if archive && b.status.holds_stock() => {
            return Err(refuse(format!(
                "the archive takes closed bookings only; {} is {}",
                b.meta.id,
                b.status.as_str()
            )));
        }
        Record::Booking(b) if property_server && !ctx.me.properties.contains(&b.property) => {
            return Err(refuse(format!(
                "{me} owns {}; it does not take bookings of {}",
                ctx.me.properties.join(", "),
                b.property
            )));
        }
        _ => {}
    }
    tracing::info!(%peer, record = %req.record.key(), "ownership offer accepted");
    Ok(Json(json!({"accepted": true, "by": me.as_str()})))
}

/// Whether this server holds `kind`/`key` at `version` or later (or its deletion).
async fn holds(state: &AppState, kind: RecordKind, key: &str, version: u64) -> ApiResult<bool> {
    let k = key.to_string();
    state
        .read(move |r| {
            let at = match r.record(kind.as_str(), &k)? {
                Some(rec) => Some(rec.meta().version),
                None => r
                    .record("tombstone", &Record::tombstone_key(kind, &k))?
                    .map(|t| t.meta().version),
            };
            Ok(at.is_some_and(|v| v >= version))
        })
        .await
}

/// `POST /api/v1/replication/await`.
pub async fn await_record(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<AwaitRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    authenticate(&state, &headers)?;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(req.wait_ms).min(MAX_AWAIT);
    let mut changes = state.writer.changes();
    loop {
        if holds(&state, req.kind, &req.key, req.version).await? {
            return Ok(Json(json!({"applied": true})));
        }
        // Woken by the next commit here, or given up at the deadline.
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "{} {} at version {} has not arrived here yet",
                    req.kind.as_str(),
                    req.key,
                    req.version
                ),
            ));
        }
    }
}
