//! Allotments: who holds how many of a property's rooms each night (`GET /api/v1/allotments`),
//! moving units by hand (`POST /api/v1/allotments/grant`, decided only where the giver writes),
//! asking a holder for units (`POST /api/v1/allotments/request`, a pending operation to the
//! holder's server), and the shortfalls an inventory change left (`/allotments/shortfalls`).

use super::reference::write;
use crate::auth::{Caller, Permission};
use crate::extract::date;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use innsync_core::limits::MAX_RANGE_NIGHTS;
use innsync_core::{Authority, Command};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RangeQuery {
    property: String,
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
}

fn nights(from: NaiveDate, to: NaiveDate) -> ApiResult<Nights> {
    Nights::new(from, to, MAX_RANGE_NIGHTS).map_err(Problem::invalid)
}

/// `GET /api/v1/allotments?property=&from=&to=`: every holder's units and sales per night, and
/// the shortfalls among them.
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let n = nights(q.from, q.to)?;
    let p = q.property.clone();
    let (holdings, short) = state
        .read(move |r| {
            let Some(h) = r.holdings(&p, n)? else {
                return Ok(None);
            };
            Ok(Some((h, r.shortfalls(&p, n)?)))
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("property {} not found", q.property)))?;
    let mut v = serde_json::to_value(&holdings).map_err(|e| Problem::unavailable(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("here".into(), json!(here(&state).await?.to_string()));
        o.insert("shortfalls".into(), json!(short));
    }
    Ok(Json(v))
}

/// `GET /api/v1/allotments/shortfalls?property=&from=&to=`: only the shortfalls.
pub(crate) async fn shortfalls(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let n = nights(q.from, q.to)?;
    let p = q.property.clone();
    let short = state
        .read(move |r| {
            if r.property(&p)?.is_none() {
                return Ok(None);
            }
            r.shortfalls(&p, n).map(Some)
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("property {} not found", q.property)))?;
    Ok(Json(json!({ "property": q.property, "shortfalls": short })))
}

/// The authority this server sells and gives from now.
async fn here(state: &AppState) -> ApiResult<Authority> {
    let me = state.writer.server().clone();
    let (master, _) = state.read(|r| r.master()).await?;
    Ok(if master == me {
        Authority::Env
    } else {
        Authority::Server(me)
    })
}

fn holder(field: &str, s: &str) -> ApiResult<Authority> {
    // Accept a bare server code too: `PA` means `server:PA`.
    Authority::parse(s)
        .or_else(|_| innsync_core::ServerCode::parse(s).map(Authority::Server))
        .map_err(|_| {
            Problem::invalid(format!(
                "{field} must be env or a server (PA or server:PA); got {s:?}"
            ))
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantBody {
    property: String,
    room_type: String,
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
    units: u32,
    to_holder: String,
    from_holder: Option<String>,
    reason: Option<String>,
}

/// `POST /api/v1/allotments/grant`: gives units from a holder this server writes for (its own
/// authority unless `from_holder` says otherwise). 201 with the grant.
pub(crate) async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(g): ApiJson<GrantBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Rates)?;
    let cmd = Command::GrantAllotment {
        property: g.property,
        room_type: g.room_type,
        from: g.from,
        to: g.to,
        units: g.units,
        to_holder: holder("to_holder", &g.to_holder)?,
        from_holder: g
            .from_holder
            .as_deref()
            .map(|h| holder("from_holder", h))
            .transpose()?,
        reason: g.reason,
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
pub(crate) struct RequestBody {
    property: String,
    room_type: String,
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
    units: u32,
    from_holder: String,
    reason: Option<String>,
}

/// `POST /api/v1/allotments/request`: asks `from_holder` for units for this server. The grant is
/// decided where the holder writes; relayed at once when it is reachable (201 with the grant, or
/// its refusal), else queued as a pending operation (202 with its id) and answered when it is.
pub(crate) async fn request(
    State(state): State<AppState>,
    caller: Caller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(r): ApiJson<RequestBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Rates)?;
    let me = here(&state).await?;
    let from = holder("from_holder", &r.from_holder)?;
    if from == me {
        return Err(Problem::invalid(format!(
            "{from} is this server's own allotment; grant from it instead"
        )));
    }
    let reason = r.reason.unwrap_or_else(|| {
        format!(
            "requested by {} on {}",
            caller.username,
            state.writer.server()
        )
    });
    let cmd = Command::GrantAllotment {
        property: r.property,
        room_type: r.room_type,
        from: r.from,
        to: r.to,
        units: r.units,
        to_holder: me,
        from_holder: Some(from),
        reason: Some(reason),
    };
    write(&state, &caller, cmd, key, true, StatusCode::CREATED, |_| {
        None
    })
    .await
}
