//! Guests and bookings: create (idempotent), read, list, history, and every state change.

use crate::auth::{Caller, Permission};
use crate::extract::{list_limit, opt_date};
use crate::extract::{parse_json, ApiJson, ApiQuery, Forward, IdempotencyKey, IfMatch};
use crate::json_views::BookingView;
use crate::problem::{ApiResult, Problem};
use crate::replication::relay_refused;
use crate::state::AppState;
use crate::write::written;
use crate::write::{queued_response, Submitted};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use innsync_core::{
    Booking, BookingStatus, Command, Guest, GuestInput, InitialStatus, Outcome, Record, RecordId,
};
use innsync_store::{BookingFilter, WriteOutcome};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewGuest {
    pub(super) name: String,
    pub(super) email: Option<String>,
    pub(super) phone: Option<String>,
}

pub(crate) async fn create_guest(
    State(state): State<AppState>,
    caller: Caller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(g): ApiJson<NewGuest>,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let cmd = Command::CreateGuest {
        name: g.name,
        email: g.email,
        phone: g.phone,
    };
    super::reference::write(&state, &caller, cmd, key, false, StatusCode::CREATED, |r| {
        Some(format!("/api/v1/guests/{}", r.meta().id))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewBooking {
    property: String,
    /// Room type of a one-line booking (absent with `lines`).
    room_type: Option<String>,
    /// First night; with `lines`, the default of each line.
    #[serde(default, deserialize_with = "crate::extract::opt_date")]
    arrival: Option<NaiveDate>,
    /// Morning of departure; with `lines`, the default of each line.
    #[serde(default, deserialize_with = "crate::extract::opt_date")]
    departure: Option<NaiveDate>,
    units: Option<u32>,
    pub(super) guest: Option<NewGuest>,
    pub(super) guest_id: Option<String>,
    #[serde(default = "confirmed")]
    status: InitialStatus,
    hold_until: Option<DateTime<Utc>>,
    notes: Option<String>,
    /// Rate plan code; the booking is priced on it and the price stored.
    rate_plan: Option<String>,
    /// Adults per room (1 when only a plan or children are given).
    adults: Option<u32>,
    /// Children's ages per room.
    children: Option<Vec<u8>>,
    /// The lines of a reservation of several room types, dates or occupancies.
    lines: Option<Vec<super::reservations::LineBody>>,
    /// The agent (tour operator) it is sold for.
    agent: Option<String>,
}

/// The pricing a booking body asks for: none when it names no plan and no occupancy (the
/// nightly rates, as before plans existed).
pub(super) fn pricing_of(
    rate_plan: Option<&String>,
    adults: Option<u32>,
    children: Option<&Vec<u8>>,
) -> Option<innsync_core::command::PricingRequest> {
    if rate_plan.is_none() && adults.is_none() && children.is_none() {
        return None;
    }
    Some(innsync_core::command::PricingRequest {
        rate_plan: rate_plan.cloned(),
        party: innsync_core::pricing::Party {
            adults: adults.unwrap_or(1),
            children: children.cloned().unwrap_or_default(),
        },
    })
}

fn confirmed() -> InitialStatus {
    InitialStatus::Confirmed
}

/// Answers with a booking, its guest's details (a merged guest read as its survivor), whether
/// the guest is returning (on creation), and its version as the ETag.
pub(super) async fn booking_response(
    state: &AppState,
    status: StatusCode,
    b: Booking,
    known_guest: Option<Guest>,
    replayed: bool,
) -> ApiResult<Response> {
    let guest = match known_guest.filter(|g| g.meta.id == b.guest_id) {
        Some(g) => Some(g),
        None => {
            let gid = b.guest_id.clone();
            state.read(move |r| r.resolved_guest(&gid)).await?
        }
    };
    let version = b.meta.version;
    let location = format!("/api/v1/bookings/{}", b.meta.id);
    let mut view = BookingView::new(&b, guest.as_ref());
    if let Some(g) = &guest {
        view.guest.id = g.meta.id.to_string();
    }
    let mut body = serde_json::to_value(&view).map_err(|e| Problem::unavailable(e.to_string()))?;
    if status == StatusCode::CREATED {
        let bb = b.clone();
        let returning = state.read(move |r| r.is_returning(&bb)).await?;
        if let serde_json::Value::Object(m) = &mut body {
            m.insert("returning_guest".into(), json!(returning));
        }
    }
    let mut resp = (status, Json(body)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&location) {
            h.insert(header::LOCATION, v);
        }
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

pub(super) fn booking_of(out: &WriteOutcome) -> ApiResult<(Booking, Option<Guest>)> {
    let guest = match out.outcome() {
        Outcome::Written { related, .. } => related.iter().find_map(|r| match r {
            Record::Guest(g) => Some(g.clone()),
            _ => None,
        }),
        Outcome::Expired { .. } | Outcome::Granted { .. } => None,
    };
    match written(out.outcome())? {
        Record::Booking(b) => Ok((b.clone(), guest)),
        _ => Err(Problem::unavailable("unexpected record written")),
    }
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    IdempotencyKey(key): IdempotencyKey,
    Forward(fwd): Forward,
    ApiJson(mut n): ApiJson<NewBooking>,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let guest = guest_input(n.guest.take(), n.guest_id.take())?;
    if let Some(lines) = n.lines.take() {
        let cmd = super::reservations::command(n, lines, guest)?;
        return super::reservations::create(&state, &caller, cmd, key, fwd).await;
    }
    let pricing = pricing_of(n.rate_plan.as_ref(), n.adults, n.children.as_ref());
    let need = |what: &str| Problem::invalid(format!("{what}: required (or give lines)"));
    if let Some(agent) = n.agent.take() {
        // Sold for an agent: the one-line case of a reservation, answered as a booking.
        let cmd = Command::CreateReservation {
            property: n.property,
            arrival: None,
            departure: None,
            lines: vec![innsync_core::ReservationLine {
                room_type: n.room_type.ok_or_else(|| need("room_type"))?,
                arrival: Some(n.arrival.ok_or_else(|| need("arrival"))?),
                departure: Some(n.departure.ok_or_else(|| need("departure"))?),
                units: n.units.unwrap_or(1),
                pricing,
            }],
            guest,
            status: n.status,
            hold_until: n.hold_until,
            notes: n.notes,
            agent: Some(agent),
        };
        let out = match relay_refused::submit(&state, cmd, &caller, key, fwd).await? {
            Submitted::Done(o) => o,
            Submitted::Queued(op) => return Ok(queued_response(op)),
        };
        let replayed = matches!(out, WriteOutcome::Replayed(_));
        let (b, g) = booking_of(&out)?;
        return booking_response(&state, StatusCode::CREATED, b, g, replayed).await;
    }
    let cmd = Command::CreateBooking {
        property: n.property,
        room_type: n.room_type.ok_or_else(|| need("room_type"))?,
        arrival: n.arrival.ok_or_else(|| need("arrival"))?,
        departure: n.departure.ok_or_else(|| need("departure"))?,
        units: n.units.unwrap_or(1),
        guest,
        status: n.status,
        hold_until: n.hold_until,
        notes: n.notes,
        pricing,
    };
    let out = match relay_refused::submit(&state, cmd, &caller, key, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    let replayed = matches!(out, WriteOutcome::Replayed(_));
    let (b, g) = booking_of(&out)?;
    booking_response(&state, StatusCode::CREATED, b, g, replayed).await
}

/// The guest of a new booking: details for a new profile, or an existing profile's id.
fn guest_input(guest: Option<NewGuest>, guest_id: Option<String>) -> ApiResult<GuestInput> {
    match (guest, guest_id) {
        (Some(g), None) => Ok(GuestInput::New {
            name: g.name,
            email: g.email,
            phone: g.phone,
        }),
        (None, Some(id)) => Ok(GuestInput::Existing(
            RecordId::parse(&id).map_err(|e| Problem::invalid(format!("guest_id: {e}")))?,
        )),
        (Some(_), Some(_)) => Err(Problem::invalid("give either guest or guest_id, not both")),
        (None, None) => Err(Problem::invalid("guest: the guest's name is required")),
    }
}

/// The single-line fields of a body that gives `lines` instead: each must be absent.
pub(super) fn single_line_fields(n: &NewBooking) -> Vec<&'static str> {
    [
        ("room_type", n.room_type.is_some()),
        ("units", n.units.is_some()),
        ("rate_plan", n.rate_plan.is_some()),
        ("adults", n.adults.is_some()),
        ("children", n.children.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, given)| given.then_some(f))
    .collect()
}

/// The reservation-wide fields of a body with `lines`.
pub(super) struct ReservationFields {
    pub property: String,
    pub arrival: Option<NaiveDate>,
    pub departure: Option<NaiveDate>,
    pub status: InitialStatus,
    pub hold_until: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub agent: Option<String>,
}

impl From<NewBooking> for ReservationFields {
    fn from(n: NewBooking) -> Self {
        Self {
            property: n.property,
            arrival: n.arrival,
            departure: n.departure,
            status: n.status,
            hold_until: n.hold_until,
            notes: n.notes,
            agent: n.agent,
        }
    }
}

async fn load(state: &AppState, reference: &str) -> ApiResult<Booking> {
    let r = reference.to_string();
    state
        .read(move |p| p.booking(&r))
        .await?
        .ok_or_else(|| Problem::not_found(format!("booking {reference} not found")))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<Response> {
    let b = load(&state, &reference).await?;
    booking_response(&state, StatusCode::OK, b, None, false).await
}

pub(crate) async fn history(
    State(state): State<AppState>,
    _caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    load(&state, &reference).await?;
    let r = reference.clone();
    let rows = state.read(move |p| p.audit(Some(&r), 1_000)).await?;
    Ok(Json(json!({ "reference": reference, "history": rows })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    property: Option<String>,
    #[serde(default, deserialize_with = "opt_date")]
    from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "opt_date")]
    to: Option<NaiveDate>,
    status: Option<String>,
    guest: Option<String>,
    reservation_number: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = list_limit(&state, q.limit)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(BookingStatus::parse(s).ok_or_else(|| {
            Problem::invalid(format!(
                "status: unknown status {s:?}; one of provisional, confirmed, cancelled, checked_in, checked_out, no_show"
            ))
        })?),
    };
    if let (Some(f), Some(t)) = (q.from, q.to) {
        if t <= f {
            return Err(Problem::invalid(format!("to {t} must be after from {f}")));
        }
    }
    let reservation_number = match q.reservation_number.as_deref() {
        None | Some("") => None,
        Some(n) => Some(
            innsync_core::ReservationNumber::parse(n)
                .map_err(|e| Problem::invalid(format!("reservation_number: {e}")))?
                .get(),
        ),
    };
    let filter = BookingFilter {
        property: q.property.filter(|p| !p.is_empty()),
        reservation_number,
        from: q.from,
        to: q.to,
        status,
        guest: q.guest.filter(|g| !g.is_empty()),
        after: q.after,
        limit,
    };
    let rows = state.read(move |r| r.bookings(&filter)).await?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|b| b.meta.id.to_string()))
        .flatten();
    let views: Vec<BookingView> = rows.iter().map(|b| BookingView::new(b, None)).collect();
    Ok(Json(json!({ "bookings": views, "next_after": next })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    reason: Option<String>,
    room: Option<String>,
}

pub(crate) async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, action)): Path<(String, String)>,
    IfMatch(if_match): IfMatch,
    Forward(fwd): Forward,
    body: Bytes,
) -> ApiResult<Response> {
    let body: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        parse_json::<Option<ActionBody>>(&body)?.unwrap_or_default()
    };
    let id = RecordId::parse(&reference)
        .map_err(|_| Problem::not_found(format!("booking {reference} not found")))?;
    let need_room = |room: Option<String>| {
        room.ok_or_else(|| Problem::invalid("room: the room number is required"))
    };
    let (cmd, perm) = match action.as_str() {
        "confirm" => (Command::ConfirmBooking { id, if_match }, Permission::Book),
        "cancel" => (
            Command::CancelBooking {
                id,
                reason: body.reason,
                if_match,
            },
            Permission::Book,
        ),
        "no-show" => (Command::NoShow { id, if_match }, Permission::Book),
        "check-in" => (
            Command::CheckIn {
                id,
                room: body.room,
                if_match,
            },
            Permission::FrontDesk,
        ),
        "check-out" => (Command::CheckOut { id, if_match }, Permission::FrontDesk),
        "assign-room" => (
            Command::AssignRoom {
                id,
                room: need_room(body.room)?,
                if_match,
            },
            Permission::FrontDesk,
        ),
        "move-room" => (
            Command::MoveRoom {
                id,
                room: need_room(body.room)?,
                if_match,
            },
            Permission::FrontDesk,
        ),
        other => {
            return Err(Problem::not_found(format!(
                "no booking action {other:?}; one of confirm, cancel, check-in, check-out, no-show, assign-room, move-room"
            )))
        }
    };
    caller.require(perm)?;
    let out = match relay_refused::submit(&state, cmd, &caller, None, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    // Check-in, move and check-out queue PMS messages: let the links look now.
    state.pms.wake.notify_waiters();
    let (b, _) = booking_of(&out)?;
    booking_response(&state, StatusCode::OK, b, None, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewNote {
    text: String,
}

pub(crate) async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(n): ApiJson<NewNote>,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let booking = RecordId::parse(&reference)
        .map_err(|_| Problem::not_found(format!("booking {reference} not found")))?;
    let cmd = Command::AddNote {
        booking,
        text: n.text,
    };
    let out = crate::write::submit(&state, cmd, &caller.username, None).await?;
    Ok((StatusCode::CREATED, Json(written(out.outcome())?.clone())).into_response())
}

pub(crate) async fn notes(
    State(state): State<AppState>,
    _caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    load(&state, &reference).await?;
    let r = reference.clone();
    let notes = state.read(move |p| p.notes(&r)).await?;
    Ok(Json(json!({ "reference": reference, "notes": notes })))
}
