//! Copies and deletions: `POST /api/v1/copies` takes in a copy of a record from a partner
//! environment (or a server of this one) as a record of this server, `POST
//! /api/v1/copies/delete` lets the source of a linked copy take it back, and `POST
//! /api/v1/records/delete` deletes a guest, a note or a closed booking where it is owned.

use super::reference::write;
use crate::auth::Permission;
use crate::extract::{ApiJson, IdempotencyKey};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use innsync_core::record::RecordKind;
use innsync_core::{Command, CopyRequest, RecordId};
use serde::Deserialize;

/// `POST /api/v1/copies`: 201 with the copy as it stands here (an earlier copy of the same
/// source record, when there is one and it is independent).
pub(crate) async fn import(
    State(state): State<AppState>,
    crate::auth::AdminCaller(caller): crate::auth::AdminCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(copy): ApiJson<CopyRequest>,
) -> ApiResult<Response> {
    caller.require(Permission::Admin)?;
    let cmd = Command::ImportCopy {
        copy: Box::new(copy),
    };
    write(
        &state,
        &caller,
        cmd,
        key,
        false,
        StatusCode::CREATED,
        |_| None,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteCopyBody {
    kind: String,
    from_environment: Option<String>,
    from_id: String,
}

fn kind(s: &str) -> ApiResult<RecordKind> {
    RecordKind::parse(s).ok_or_else(|| Problem::invalid(format!("kind: no record kind {s:?}")))
}

/// `POST /api/v1/copies/delete`: the source of a linked copy deletes it.
pub(crate) async fn delete_copy(
    State(state): State<AppState>,
    crate::auth::AdminCaller(caller): crate::auth::AdminCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(b): ApiJson<DeleteCopyBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Admin)?;
    let cmd = Command::DeleteCopy {
        kind: kind(&b.kind)?,
        from_environment: b.from_environment,
        from_id: RecordId::parse(&b.from_id)
            .map_err(|e| Problem::invalid(format!("from_id: {e}")))?,
    };
    write(&state, &caller, cmd, key, false, StatusCode::OK, |_| None).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteBody {
    kind: String,
    key: String,
    reason: String,
}

/// `POST /api/v1/records/delete`: deletes a record owned here (`?forward=true` asks its owner).
pub(crate) async fn delete(
    State(state): State<AppState>,
    crate::auth::AdminCaller(caller): crate::auth::AdminCaller,
    crate::extract::Forward(fwd): crate::extract::Forward,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(b): ApiJson<DeleteBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Admin)?;
    let cmd = Command::DeleteRecord {
        kind: kind(&b.kind)?,
        key: b.key,
        reason: b.reason,
    };
    write(&state, &caller, cmd, key, fwd, StatusCode::OK, |_| None).await
}
