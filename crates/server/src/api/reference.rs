//! Reference data: properties, room types, rooms and their out-of-order periods, rates.

use crate::auth::{Caller, Permission};
use crate::extract::date;
use crate::extract::{ApiJson, Forward, IdempotencyKey};
use crate::problem::{ApiResult, Problem};
use crate::replication::relay_refused;
use crate::state::AppState;
use crate::write::written;
use crate::write::{queued_response, Submitted};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use innsync_core::{Command, Record};
use serde::Deserialize;
use serde_json::json;

/// Runs `cmd` and answers 201 (or 200 for `ok`) with the record it wrote.
pub(crate) async fn write(
    state: &AppState,
    caller: &Caller,
    cmd: Command,
    key: Option<String>,
    forward: bool,
    created: StatusCode,
    location: impl FnOnce(&Record) -> Option<String>,
) -> ApiResult<Response> {
    let out = match relay_refused::submit(state, cmd, caller, key, forward).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    let rec = written(out.outcome())?;
    let mut resp = (created, Json(rec)).into_response();
    if let Some(loc) = location(rec) {
        if let Ok(v) = loc.parse() {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProperty {
    code: String,
    name: String,
    timezone: String,
    currency: Option<String>,
}

pub(crate) async fn create_property(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(p): ApiJson<NewProperty>,
) -> ApiResult<Response> {
    caller.require(Permission::Admin)?;
    let cmd = Command::CreateProperty {
        code: p.code,
        name: p.name,
        timezone: p.timezone,
        currency: p.currency,
    };
    write(&state, &caller, cmd, key, fwd, StatusCode::CREATED, |r| {
        Some(format!("/api/v1/properties/{}", r.key()))
    })
    .await
}

pub(crate) async fn list_properties(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    let props = state.read(|r| r.properties()).await?;
    Ok(Json(json!({ "properties": props })))
}

async fn property_exists(state: &AppState, code: &str) -> ApiResult<innsync_core::Property> {
    let c = code.to_string();
    state
        .read(move |r| r.property(&c))
        .await?
        .ok_or_else(|| Problem::not_found(format!("property {code} not found")))
}

pub(crate) async fn get_property(
    State(state): State<AppState>,
    _caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let p = property_exists(&state, &code).await?;
    let c = code.clone();
    let (types, rooms) = state
        .read(move |r| Ok((r.room_types(&c)?, r.room_count(&c)?)))
        .await?;
    let mut v = serde_json::to_value(&p).map_err(|e| Problem::unavailable(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("room_types".into(), json!(types));
        o.insert("rooms".into(), json!(rooms));
    }
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRoomType {
    code: String,
    name: String,
    max_occupancy: u32,
}

pub(crate) async fn create_room_type(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    Path(code): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(t): ApiJson<NewRoomType>,
) -> ApiResult<Response> {
    caller.require(Permission::Admin)?;
    let cmd = Command::CreateRoomType {
        property: code,
        code: t.code,
        name: t.name,
        max_occupancy: t.max_occupancy,
    };
    write(&state, &caller, cmd, key, fwd, StatusCode::CREATED, |_| {
        None
    })
    .await
}

/// Lists what a property has (`key` names the list in the answer); 404 for no such property.
async fn property_list<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    code: String,
    key: &str,
    list: fn(&innsync_store::ReadPool, &str) -> Result<Vec<T>, innsync_store::StoreError>,
) -> ApiResult<Json<serde_json::Value>> {
    property_exists(state, &code).await?;
    let items = state.read(move |r| list(r, &code)).await?;
    Ok(Json(json!({ key: items })))
}

pub(crate) async fn list_room_types(
    State(state): State<AppState>,
    _caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    property_list(
        &state,
        code,
        "room_types",
        innsync_store::ReadPool::room_types,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRoom {
    number: String,
    room_type: String,
}

pub(crate) async fn create_room(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    Path(code): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(room): ApiJson<NewRoom>,
) -> ApiResult<Response> {
    caller.require(Permission::Admin)?;
    let cmd = Command::CreateRoom {
        property: code,
        number: room.number,
        room_type: room.room_type,
    };
    write(&state, &caller, cmd, key, fwd, StatusCode::CREATED, |_| {
        None
    })
    .await
}

pub(crate) async fn list_rooms(
    State(state): State<AppState>,
    _caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    property_list(&state, code, "rooms", innsync_store::ReadPool::rooms).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Period {
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
    reason: Option<String>,
}

pub(crate) async fn out_of_order(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    Path((code, number)): Path<(String, String)>,
    ApiJson(p): ApiJson<Period>,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    let reason = p.reason.ok_or_else(|| {
        Problem::invalid("reason: a reason is required to take a room out of order")
    })?;
    let cmd = Command::SetOutOfOrder {
        property: code.clone(),
        number,
        from: p.from,
        to: p.to,
        reason,
    };
    let out = match relay_refused::submit(&state, cmd, &caller, None, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    let mut v = serde_json::to_value(written(out.outcome())?)
        .map_err(|e| Problem::unavailable(e.to_string()))?;
    // A room leaving service can leave a holder with more sold than it holds: say so now,
    // with the bookings concerned, rather than let anyone find out at check-in.
    let nights = innsync_core::dates::Nights {
        from: p.from,
        to: p.to,
    };
    let short = state.read(move |r| r.shortfalls(&code, nights)).await?;
    if let Some(o) = v.as_object_mut() {
        o.insert("shortfalls".into(), json!(short));
    }
    Ok((StatusCode::OK, Json(v)).into_response())
}

pub(crate) async fn back_in_service(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    Path((code, number)): Path<(String, String)>,
    ApiJson(p): ApiJson<Period>,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    let cmd = Command::ClearOutOfOrder {
        property: code,
        number,
        from: p.from,
        to: p.to,
    };
    write(&state, &caller, cmd, None, fwd, StatusCode::OK, |_| None).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rate {
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
    amount: i64,
    currency: String,
}

pub(crate) async fn set_rate(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    Path((code, room_type)): Path<(String, String)>,
    ApiJson(rate): ApiJson<Rate>,
) -> ApiResult<Response> {
    caller.require(Permission::Rates)?;
    let cmd = Command::SetRate {
        property: code,
        room_type,
        from: rate.from,
        to: rate.to,
        amount: rate.amount,
        currency: rate.currency,
    };
    write(&state, &caller, cmd, None, fwd, StatusCode::OK, |_| None).await
}

pub(crate) async fn list_rates(
    State(state): State<AppState>,
    _caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    property_list(
        &state,
        code,
        "rate_plans",
        innsync_store::ReadPool::rate_plans,
    )
    .await
}
