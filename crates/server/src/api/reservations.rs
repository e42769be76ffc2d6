//! Reservations of several lines and booking edits: `POST /api/v1/bookings` with `"lines"`
//! (all lines or none), `GET /api/v1/reservations/{ref}`, `POST /api/v1/reservations/{ref}/lines`
//! (a line added later) and `PATCH /api/v1/bookings/{ref}` (dates, room type, rooms,
//! occupancy, rate plan, guest, notes; `If-Match`, `?forward=true`).

use super::bookings::{booking_of, booking_response, single_line_fields, NewBooking};
use crate::auth::{Caller, Permission};
use crate::extract::{ApiJson, Forward, IdempotencyKey, IfMatch};
use crate::json_views::{BookingView, GuestView};
use crate::problem::{ApiResult, Problem};
use crate::replication::relay_refused;
use crate::state::AppState;
use crate::write::{queued_response, Submitted};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use innsync_core::{
    Booking, BookingEdit, Command, GuestInput, GuestPatch, Outcome, Record, RecordId,
    ReservationLine,
};
use innsync_store::WriteOutcome;
use serde::Deserialize;
use serde_json::json;

/// One line of a reservation as the API takes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineBody {
    room_type: String,
    #[serde(default = "one")]
    units: u32,
    #[serde(default, deserialize_with = "crate::extract::opt_date")]
    arrival: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::extract::opt_date")]
    departure: Option<NaiveDate>,
    rate_plan: Option<String>,
    adults: Option<u32>,
    children: Option<Vec<u8>>,
}

fn one() -> u32 {
    1
}

impl LineBody {
    fn line(self) -> ReservationLine {
        let pricing = super::bookings::pricing_of(
            self.rate_plan.as_ref(),
            self.adults,
            self.children.as_ref(),
        );
        ReservationLine {
            room_type: self.room_type,
            arrival: self.arrival,
            departure: self.departure,
            units: self.units,
            pricing,
        }
    }
}

/// The command of a booking body with `lines`; the single-line fields must be absent.
pub(super) fn command(
    n: NewBooking,
    lines: Vec<LineBody>,
    guest: GuestInput,
) -> ApiResult<Command> {
    let extra = single_line_fields(&n);
    if !extra.is_empty() {
        return Err(Problem::invalid(format!(
            "{}: give these on each line when the booking has lines",
            extra.join(", ")
        )));
    }
    if lines.len() > innsync_core::MAX_RESERVATION_LINES {
        return Err(Problem::invalid(format!(
            "lines: at most {} lines; got {}",
            innsync_core::MAX_RESERVATION_LINES,
            lines.len()
        )));
    }
    let r: super::bookings::ReservationFields = n.into();
    Ok(Command::CreateReservation {
        property: r.property,
        arrival: r.arrival,
        departure: r.departure,
        lines: lines.into_iter().map(LineBody::line).collect(),
        guest,
        status: r.status,
        hold_until: r.hold_until,
        notes: r.notes,
        agent: r.agent,
    })
}

/// Decides a reservation and answers with all its lines (201).
pub(super) async fn create(
    state: &AppState,
    caller: &Caller,
    cmd: Command,
    key: Option<String>,
    fwd: bool,
) -> ApiResult<Response> {
    let out = match relay_refused::submit(state, cmd, caller, key, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    let replayed = matches!(out, WriteOutcome::Replayed(_));
    let lines = written_lines(&out)?;
    let guest = match out.outcome() {
        Outcome::Written { related, .. } => related.iter().find_map(|r| match r {
            Record::Guest(g) => Some(g.clone()),
            _ => None,
        }),
        _ => None,
    };
    let first = lines
        .first()
        .cloned()
        .ok_or_else(|| Problem::unavailable("a reservation without lines was written"))?;
    let returning = state.read(move |r| r.is_returning(&first)).await?;
    let mut body = reservation_body(state, lines, guest).await?;
    if let serde_json::Value::Object(m) = &mut body {
        m.insert("returning_guest".into(), json!(returning));
    }
    let location = format!(
        "/api/v1/reservations/{}",
        body["reservation"].as_str().unwrap_or_default()
    );
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// The lines a reservation's decision wrote: the answer's record, then its related bookings.
fn written_lines(out: &WriteOutcome) -> ApiResult<Vec<Booking>> {
    match out.outcome() {
        Outcome::Written {
            record: Record::Booking(b),
            related,
        } => {
            let mut lines = vec![b.clone()];
            lines.extend(related.iter().filter_map(|r| match r {
                Record::Booking(b) => Some(b.clone()),
                _ => None,
            }));
            Ok(lines)
        }
        _ => Err(Problem::unavailable("unexpected record written")),
    }
}

/// A reservation as the API shows it: its reference, guest, lines and totals per currency
/// (live lines only: cancelled and no-show lines are listed but not added up).
async fn reservation_body(
    state: &AppState,
    lines: Vec<Booking>,
    guest: Option<innsync_core::Guest>,
) -> ApiResult<serde_json::Value> {
    let first = lines
        .first()
        .ok_or_else(|| Problem::not_found("reservation has no lines"))?;
    let reference = first
        .reservation
        .clone()
        .unwrap_or_else(|| first.meta.id.clone());
    let guest = match guest.filter(|g| g.meta.id == first.guest_id) {
        Some(g) => Some(g),
        None => {
            let gid = first.guest_id.clone();
            state.read(move |r| r.resolved_guest(&gid)).await?
        }
    };
    let mut totals: Vec<(String, i64)> = vec![];
    for b in lines.iter().filter(|b| {
        !matches!(
            b.status,
            innsync_core::BookingStatus::Cancelled | innsync_core::BookingStatus::NoShow
        )
    }) {
        if let Some(p) = &b.price {
            match totals.iter_mut().find(|(c, _)| *c == p.currency) {
                Some((_, a)) => *a = a.saturating_add(p.amount),
                None => totals.push((p.currency.clone(), p.amount)),
            }
        }
    }
    let views: Vec<BookingView> = lines
        .iter()
        .map(|b| BookingView::new(b, guest.as_ref()))
        .collect();
    let guest_view = GuestView {
        id: guest
            .as_ref()
            .map_or_else(|| first.guest_id.to_string(), |g| g.meta.id.to_string()),
        name: first.guest_name.clone(),
        email: guest.as_ref().and_then(|g| g.email.clone()),
        phone: guest.as_ref().and_then(|g| g.phone.clone()),
    };
    Ok(json!({
        "reservation": reference.to_string(),
        "property": first.property,
        "owner": first.meta.owner.to_string(),
        "guest": guest_view,
        "lines": views,
        "totals": totals
            .into_iter()
            .map(|(currency, amount)| json!({"currency": currency, "amount": amount}))
            .collect::<Vec<_>>(),
    }))
}

/// The lines of the reservation `reference` names (any of its lines, or a one-line booking).
async fn lines_of(state: &AppState, reference: &str) -> ApiResult<Vec<Booking>> {
    let r = reference.to_string();
    let b = state
        .read(move |p| p.booking(&r))
        .await?
        .ok_or_else(|| Problem::not_found(format!("reservation {reference} not found")))?;
    let Some(lead) = b.reservation.clone() else {
        return Ok(vec![b]);
    };
    let key = lead.to_string();
    let lines = state.read(move |p| p.reservation_lines(&key)).await?;
    Ok(if lines.is_empty() { vec![b] } else { lines })
}

pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let lines = lines_of(&state, &reference).await?;
    Ok(Json(reservation_body(&state, lines, None).await?))
}

pub(crate) async fn add_line(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    Forward(fwd): Forward,
    ApiJson(line): ApiJson<LineBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let reservation = RecordId::parse(&reference)
        .map_err(|_| Problem::not_found(format!("reservation {reference} not found")))?;
    let cmd = Command::AddReservationLine {
        reservation,
        line: line.line(),
    };
    let out = match relay_refused::submit(&state, cmd, &caller, key, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    let replayed = matches!(out, WriteOutcome::Replayed(_));
    let (b, _) = booking_of(&out)?;
    booking_response(&state, StatusCode::CREATED, b, None, replayed).await
}

/// The body of `PATCH /api/v1/bookings/{ref}`: every field optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditBody {
    #[serde(default, deserialize_with = "crate::extract::opt_date")]
    arrival: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::extract::opt_date")]
    departure: Option<NaiveDate>,
    room_type: Option<String>,
    units: Option<u32>,
    adults: Option<u32>,
    children: Option<Vec<u8>>,
    rate_plan: Option<String>,
    guest_id: Option<String>,
    guest: Option<GuestPatch>,
    notes: Option<String>,
}

pub(crate) async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    IfMatch(if_match): IfMatch,
    Forward(fwd): Forward,
    ApiJson(e): ApiJson<EditBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let id = RecordId::parse(&reference)
        .map_err(|_| Problem::not_found(format!("booking {reference} not found")))?;
    let guest_id = e
        .guest_id
        .map(|g| RecordId::parse(&g).map_err(|err| Problem::invalid(format!("guest_id: {err}"))))
        .transpose()?;
    let cmd = Command::EditBooking {
        id,
        edit: Box::new(BookingEdit {
            arrival: e.arrival,
            departure: e.departure,
            room_type: e.room_type,
            units: e.units,
            adults: e.adults,
            children: e.children,
            rate_plan: e.rate_plan,
            guest_id,
            guest: e.guest,
            notes: e.notes,
        }),
        if_match,
    };
    let out = match relay_refused::submit(&state, cmd, &caller, None, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    // Dates of an in-house guest may change what the PMS links are told.
    state.pms.wake.notify_waiters();
    let (b, g) = booking_of(&out)?;
    booking_response(&state, StatusCode::OK, b, g, false).await
}
