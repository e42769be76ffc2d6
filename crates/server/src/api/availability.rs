//! Availability by room type and night, and room occupancy for the tape chart. Availability
//! comes from the store's read state (the cells asked for, never a scan), in the default form
//! (an object per night) or `format=compact` (arrays per room type, for wide ranges), tagged
//! with the change-log position it reflects (`ETag`; `If-None-Match` answers `304`).

use super::conditional;
use crate::auth::Caller;
use crate::extract::date;
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use innsync_core::limits::MAX_RANGE_NIGHTS;
use innsync_store::{Availability, NightAvailability, RoomTypeNights};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AvailabilityQuery {
    property: String,
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
    /// `nights` (default: an object per night) or `compact` (arrays per room type).
    format: Option<String>,
}

fn range(from: NaiveDate, to: NaiveDate) -> ApiResult<Nights> {
    Nights::new(from, to, MAX_RANGE_NIGHTS).map_err(Problem::invalid)
}

/// The compact answer: per room type one array per measure, a value per night from `from`.
#[derive(Serialize)]
struct CompactAvailability<'a> {
    property: &'a str,
    from: NaiveDate,
    to: NaiveDate,
    format: &'static str,
    position: &'a innsync_store::Position,
    room_types: Vec<CompactRoomType<'a>>,
}

#[derive(Serialize)]
struct CompactRoomType<'a> {
    code: &'a str,
    name: &'a str,
    total: Vec<u32>,
    booked: Vec<u32>,
    available: Vec<u32>,
    held_here: Vec<u32>,
}

impl<'a> CompactAvailability<'a> {
    fn of(a: &'a Availability) -> Self {
        let column = |t: &RoomTypeNights, f: fn(&NightAvailability) -> u32| {
            t.nights.iter().map(f).collect::<Vec<u32>>()
        };
        Self {
            property: &a.property,
            from: a.from,
            to: a.to,
            format: "compact",
            position: &a.position,
            room_types: a
                .room_types
                .iter()
                .map(|t| CompactRoomType {
                    code: &t.code,
                    name: &t.name,
                    total: column(t, |n| n.total),
                    booked: column(t, |n| n.booked),
                    available: column(t, |n| n.available),
                    held_here: column(t, |n| n.held_here),
                })
                .collect(),
        }
    }
}

pub(crate) async fn availability(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AvailabilityQuery>,
) -> ApiResult<Response> {
    let nights = range(q.from, q.to)?;
    let compact = conditional::compact(q.format.as_deref())?;
    if let Some(unchanged) = conditional::not_modified(&state, &headers).await? {
        return Ok(unchanged);
    }
    // Search traffic: from memory while nothing was written since the read state caught up.
    let a = match state.reads.availability_now(&q.property, nights) {
        Some(a) => a,
        None => {
            let p = q.property.clone();
            state
                .read(move |r| r.availability_at(&p, nights))
                .await?
                .ok_or_else(|| Problem::not_found(format!("property {} not found", q.property)))?
        }
    };
    let etag = a.position.etag();
    Ok(if compact {
        conditional::answer(&headers, &etag, Json(CompactAvailability::of(&a)))
    } else {
        conditional::answer(&headers, &etag, Json(&a))
    })
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
