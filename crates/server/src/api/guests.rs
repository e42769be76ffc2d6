//! Guest profiles (issue 17): search, a guest with their stays and spend, edits on the owner,
//! merging two profiles, and the privacy requests — export everything held about a guest, and
//! erase it (GDPR/POPIA) leaving the bookings with an anonymised name.

use crate::auth::{Caller, Permission};
use crate::extract::{ApiJson, ApiQuery, Forward, IfMatch};
use crate::json_views::BookingView;
use crate::problem::{ApiResult, Problem};
use crate::replication::relay_refused;
use crate::state::AppState;
use crate::write::written;
use crate::write::{queued_response, Submitted};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use innsync_core::guests::{MAX_QUERY_LEN, MAX_SEARCH_RESULTS};
use innsync_core::{Booking, BookingStatus, Command, Guest, GuestPatch, Outcome, Record, RecordId};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Default number of search results.
const DEFAULT_SEARCH_RESULTS: usize = 10;

fn parse_id(id: &str) -> ApiResult<RecordId> {
    RecordId::parse(id).map_err(|_| Problem::not_found(format!("guest {id} not found")))
}

/// The guest an id leads to (a merged guest's survivor), or 404.
pub(crate) async fn load(state: &AppState, id: &str) -> ApiResult<Guest> {
    let rid = parse_id(id)?;
    state
        .read(move |r| r.resolved_guest(&rid))
        .await?
        .ok_or_else(|| Problem::not_found(format!("guest {id} not found")))
}

/// A guest as the API shows it: the record's fields, plus the id asked for when it was merged.
fn guest_json(g: &Guest, asked: &str) -> Value {
    let mut v = serde_json::to_value(Record::Guest(g.clone())).unwrap_or(Value::Null);
    if asked != g.meta.id.as_str() {
        if let Value::Object(m) = &mut v {
            m.insert("merged_from".into(), json!(asked));
        }
    }
    v
}

fn with_etag(mut resp: Response, version: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    limit: Option<usize>,
}

/// `GET /guests?q=&limit=`: by name, e-mail, phone, booking reference or reservation number.
pub(crate) async fn search(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(s): ApiQuery<SearchQuery>,
) -> ApiResult<Json<Value>> {
    let q = s.q.unwrap_or_default();
    let q = q.trim().to_string();
    if q.is_empty() {
        return Err(Problem::invalid(
            "q: give a name, e-mail, phone number or booking reference to search for",
        ));
    }
    if q.chars().count() > MAX_QUERY_LEN {
        return Err(Problem::invalid(format!(
            "q is at most {MAX_QUERY_LEN} characters"
        )));
    }
    let limit = match s.limit {
        None => DEFAULT_SEARCH_RESULTS,
        Some(n) if (1..=MAX_SEARCH_RESULTS).contains(&n) => n,
        Some(n) => {
            return Err(Problem::invalid(format!(
                "limit must be between 1 and {MAX_SEARCH_RESULTS}; got {n}"
            )))
        }
    };
    let qq = q.clone();
    let hits = state.read(move |r| r.search_guests(&qq, limit)).await?;
    let guests: Vec<Value> = hits
        .iter()
        .map(|h| {
            json!({
                "id": h.guest.meta.id,
                "name": h.guest.name,
                "email": h.guest.email,
                "phone": h.guest.phone,
                "owner": h.guest.meta.owner.to_string(),
                "matched": h.matched.as_str(),
                "by": h.by,
                "last_stay": h.last_stay,
            })
        })
        .collect();
    Ok(Json(json!({ "q": q, "guests": guests })))
}

/// `GET /guests/{id}`: the guest (the survivor, for a merged id), with its version as ETag.
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let g = load(&state, &id).await?;
    let version = g.meta.version;
    Ok(with_etag(
        Json(guest_json(&g, &id)).into_response(),
        version,
    ))
}

/// A stay as the history lists it.
fn stay_json(b: &Booking) -> Value {
    json!({
        "reference": b.meta.id,
        "property": b.property,
        "room_type": b.room_type,
        "arrival": b.arrival,
        "departure": b.departure,
        "nights": b.nights().len(),
        "units": b.units,
        "status": b.status.as_str(),
        "price": b.price,
        "guest_id": b.guest_id,
    })
}

/// What a guest has spent, per currency: the prices of stays confirmed, in house or checked
/// out (the folio work refines this with what was really charged).
fn spend(stays: &[Booking]) -> Vec<Value> {
    let mut by: BTreeMap<&str, i64> = BTreeMap::new();
    for b in stays.iter().filter(|b| {
        matches!(
            b.status,
            BookingStatus::Confirmed | BookingStatus::CheckedIn | BookingStatus::CheckedOut
        )
    }) {
        if let Some(p) = &b.price {
            let e = by.entry(p.currency.as_str()).or_default();
            *e = e.saturating_add(p.amount);
        }
    }
    by.into_iter()
        .map(|(currency, amount)| json!({ "currency": currency, "amount": amount }))
        .collect()
}

/// `GET /guests/{id}/history`: the guest, every stay (newest first), spend, notes, preferences.
pub(crate) async fn history(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let g = load(&state, &id).await?;
    let gg = g.clone();
    let stays = state.read(move |r| r.guest_stays(&gg)).await?;
    let stayed = stays
        .iter()
        .filter(|b| !matches!(b.status, BookingStatus::Cancelled | BookingStatus::NoShow))
        .count();
    Ok(Json(json!({
        "guest": guest_json(&g, &id),
        "stays": stays.iter().map(stay_json).collect::<Vec<_>>(),
        "stays_count": stayed,
        "returning": stayed > 1,
        "total_spend": spend(&stays),
        "preferences": g.preferences,
        "notes": g.notes,
    })))
}

/// Submits a guest command and answers with the guest written.
async fn write(
    state: &AppState,
    caller: &Caller,
    cmd: Command,
    fwd: bool,
    status: StatusCode,
) -> ApiResult<Response> {
    let out = match relay_refused::submit(state, cmd, caller, None, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    let rec = written(out.outcome())?.clone();
    let related = match out.outcome() {
        Outcome::Written { related, .. } => related.len(),
        Outcome::Expired { .. } | Outcome::Granted { .. } => 0,
    };
    let version = rec.meta().version;
    let mut v = serde_json::to_value(&rec).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("bookings_written".into(), json!(related));
    }
    Ok(with_etag((status, Json(v)).into_response(), version))
}

/// `PATCH /guests/{id}` (`If-Match` honoured): contact details, preferences, notes.
pub(crate) async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
    Forward(fwd): Forward,
    ApiJson(p): ApiJson<PatchBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let cmd = Command::UpdateGuest {
        id: parse_id(&id)?,
        patch: GuestPatch {
            name: p.name,
            email: p.email,
            phone: p.phone,
            preferences: p.preferences,
            notes: p.notes,
        },
        if_match,
    };
    write(&state, &caller, cmd, fwd, StatusCode::OK).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchBody {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    preferences: Option<String>,
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeBody {
    survivor: String,
    merged: String,
    reason: Option<String>,
}

/// `POST /guests/merge {"survivor","merged"}`: on the server that writes both.
pub(crate) async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    ApiJson(m): ApiJson<MergeBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let id = |field: &str, v: &str| {
        RecordId::parse(v).map_err(|e| Problem::invalid(format!("{field}: {e}")))
    };
    let cmd = Command::MergeGuests {
        survivor: id("survivor", &m.survivor)?,
        merged: id("merged", &m.merged)?,
        reason: m.reason,
    };
    write(&state, &caller, cmd, fwd, StatusCode::OK).await
}

/// `GET /guests/{id}/export`: everything held about the guest, for a subject access request.
pub(crate) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Permission::Book)?;
    let g = load(&state, &id).await?;
    let gg = g.clone();
    let (stays, notes) = state
        .read(move |r| {
            let stays = r.guest_stays(&gg)?;
            let mut notes = vec![];
            for b in &stays {
                notes.extend(r.notes(b.meta.id.as_str())?);
            }
            Ok((stays, notes))
        })
        .await?;
    let bookings: Vec<BookingView> = stays.iter().map(|b| BookingView::new(b, None)).collect();
    Ok(Json(json!({
        "subject": g.meta.id,
        "asked_for": id,
        "exported_at": (state.clock)(),
        "guest": Record::Guest(g.clone()),
        "merged_profiles": g.merged,
        "bookings": bookings,
        "booking_notes": notes,
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct EraseBody {
    reason: Option<String>,
}

/// `POST /guests/{id}/erase`: on the guest's owner, the erasure; on any server once the guest
/// is erased, the anonymisation of the bookings that server writes.
pub(crate) async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Forward(fwd): Forward,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let body: EraseBody = if body.iter().all(u8::is_ascii_whitespace) {
        EraseBody::default()
    } else {
        crate::extract::parse_json(&body)?
    };
    let g = load(&state, &id).await?;
    let cmd = if g.erased {
        Command::AnonymiseGuestBookings { guest: g.meta.id }
    } else {
        Command::EraseGuest {
            id: g.meta.id,
            reason: body.reason,
        }
    };
    write(&state, &caller, cmd, fwd, StatusCode::OK).await
}
