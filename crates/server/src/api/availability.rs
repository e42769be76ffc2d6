//! Availability by room type and night, and room occupancy for the tape chart.

use crate::auth::Caller;
use crate::extract::date;
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use innsync_core::limits::MAX_RANGE_NIGHTS;
use innsync_store::Availability;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AvailabilityQuery {
    property: String,
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
}

fn range(from: NaiveDate, to: NaiveDate) -> ApiResult<Nights> {
    Nights::new(from, to, MAX_RANGE_NIGHTS).map_err(Problem::invalid)
}

pub(crate) async fn availability(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<AvailabilityQuery>,
) -> ApiResult<Json<Availability>> {
    let nights = range(q.from, q.to)?;
    let p = q.property.clone();
    let a = state
        .read(move |r| {
            if r.property(&p)?.is_none() {
                return Ok(None);
            }
            r.availability(&p, nights).map(Some)
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("property {} not found", q.property)))?;
    Ok(Json(a))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RangeQuery {
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
}

pub(crate) async fn occupancy(
    State(state): State<AppState>,
    _caller: Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let nights = range(q.from, q.to)?;
    let c = code.clone();
    let (rooms, occ) = state
        .read(move |r| {
            if r.property(&c)?.is_none() {
                return Ok(None);
            }
            Ok(Some((r.rooms(&c)?, r.room_occupancy(&c, nights)?)))
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("property {code} not found")))?;
    let rows: Vec<_> = rooms
        .iter()
        .map(|room| {
            let nights: Vec<_> = occ
                .iter()
                .filter(|(n, _, _)| *n == room.number)
                .map(|(_, night, booking)| json!({ "date": night, "booking": booking }))
                .collect();
            let out_of_order: Vec<_> = room
                .out_of_order
                .iter()
                .filter(|o| o.nights().overlaps(&nights_of(q.from, q.to)))
                .collect();
            json!({ "number": room.number, "room_type": room.room_type, "nights": nights, "out_of_order": out_of_order })
        })
        .collect();
    Ok(Json(
        json!({ "property": code, "from": q.from, "to": q.to, "rooms": rows }),
    ))
}

fn nights_of(from: NaiveDate, to: NaiveDate) -> Nights {
    Nights { from, to }
}
