//! A booking's money: its folio (entries per folio and balances), charges, payments (deposit,
//! payment, refund), corrections, transfers between folios, invoices and credit notes, the
//! property's charge catalogue, and the night audit run by hand.
//!
//! Every write is a command decided by the core and written by the writer; a refusal is a
//! problem+json with nothing written; `Idempotency-Key` is honoured as for bookings. Entries
//! are added on any server holding the booking (owned by that server); only the night audit
//! needs the booking's owner.

use crate::auth::{Caller, Permission};
use crate::extract::{ApiJson, IdempotencyKey};
use crate::problem::{ApiResult, Problem};
use crate::replication::relay_refused;
use crate::state::AppState;
use crate::write::written;
use crate::write::{queued_response, Submitted};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use innsync_core::ledger::decide_input::{ChargeInput, PaymentInput};
use innsync_core::ledger::{
    folio_balances, ChargeItem, EntryKind, EntrySource, FolioEntry, PaymentMethod, TaxCode,
};
use innsync_core::{Command, Outcome, Record, RecordId};
use innsync_store::WriteOutcome;
use serde::Deserialize;
use serde_json::json;

pub(super) fn booking_id(reference: &str) -> ApiResult<RecordId> {
    RecordId::parse(reference)
        .map_err(|_| Problem::not_found(format!("booking {reference} not found")))
}

/// Submits a ledger command and answers 201 with the record written (and the others it wrote).
pub(super) async fn submit(
    state: &AppState,
    caller: &Caller,
    cmd: Command,
    key: Option<String>,
    location: impl FnOnce(&Record) -> Option<String>,
) -> ApiResult<Response> {
    let out = match relay_refused::submit(state, cmd, caller, key, false).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    let replayed = matches!(out, WriteOutcome::Replayed(_));
    let rec = written(out.outcome())?;
    let related = match out.outcome() {
        Outcome::Written { related, .. } => related.clone(),
        _ => vec![],
    };
    let body = if related.is_empty() {
        serde_json::to_value(rec)
    } else {
        let mut v = serde_json::to_value(rec).map_err(|e| Problem::unavailable(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "related".into(),
                serde_json::to_value(&related).map_err(|e| Problem::unavailable(e.to_string()))?,
            );
        }
        Ok(v)
    }
    .map_err(|e| Problem::unavailable(e.to_string()))?;
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Some(loc) = location(rec).and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    if replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// `GET /bookings/{ref}/folio`: entries per folio, balances (derived), invoices.
pub(crate) async fn get_folio(
    State(state): State<AppState>,
    _caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = booking_id(&reference)?;
    let r = reference.clone();
    let booking = state
        .read(move |p| p.booking(&r))
        .await?
        .ok_or_else(|| Problem::not_found(format!("booking {reference} not found")))?;
    let folio = state.read(move |p| p.folio(&id)).await?;
    Ok(Json(folio_json(&booking, &folio)))
}

/// The folio as the API and the UI show it.
pub(crate) fn folio_json(
    booking: &innsync_core::Booking,
    folio: &innsync_store::ledger::Folio,
) -> serde_json::Value {
    let balances = folio_balances(&folio.entries);
    let folios: Vec<_> = balances
        .iter()
        .map(|b| {
            let entries: Vec<&FolioEntry> = folio
                .entries
                .iter()
                .filter(|e| e.folio == b.folio)
                .collect();
            json!({
                "folio": b.folio,
                "balance": b.balance,
                "charges": b.charges,
                "paid": b.paid,
                "entries": entries,
            })
        })
        .collect();
    let invoices: Vec<_> = folio
        .invoices
        .iter()
        .map(|i| {
            json!({
                "number": i.number,
                "kind": i.kind,
                "folio": i.folio,
                "total": i.total,
                "credits": i.credits,
                "issued_at": i.issued_at,
            })
        })
        .collect();
    let currency = folio.entries.first().map(|e| e.currency.clone());
    json!({
        "reference": booking.meta.id,
        "property": booking.property,
        "currency": currency,
        "balance": innsync_core::ledger::balance(&folio.entries),
        "folios": folios,
        "invoices": invoices,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCharge {
    item: Option<String>,
    amount: Option<i64>,
    quantity: Option<u32>,
    description: Option<String>,
    folio: Option<String>,
    currency: Option<String>,
}

/// `POST /bookings/{ref}/charges`.
pub(crate) async fn post_charge(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(c): ApiJson<NewCharge>,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    let cmd = Command::PostCharge(Box::new(ChargeInput {
        booking: booking_id(&reference)?,
        folio: c.folio,
        item: c.item,
        description: c.description,
        amount: c.amount,
        quantity: c.quantity.unwrap_or(1),
        currency: c.currency,
        source: EntrySource::Manual,
    }));
    submit(&state, &caller, cmd, key, |_| {
        Some(format!("/api/v1/bookings/{reference}/folio"))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPayment {
    amount: i64,
    currency: String,
    method: String,
    kind: Option<String>,
    folio: Option<String>,
    reference: Option<String>,
}

/// `POST /bookings/{ref}/payments` `{"amount","currency","method","kind"}`.
pub(crate) async fn post_payment(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(p): ApiJson<NewPayment>,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let kind = match p.kind.as_deref().unwrap_or("payment") {
        "deposit" => EntryKind::Deposit,
        "payment" => EntryKind::Payment,
        "refund" => EntryKind::Refund,
        other => {
            return Err(Problem::invalid(format!(
                "kind: {other:?} is not one of deposit, payment, refund"
            )))
        }
    };
    let method = PaymentMethod::parse(&p.method).ok_or_else(|| {
        Problem::invalid(format!(
            "method: {:?} is not one of cash, card, transfer, agent_account",
            p.method
        ))
    })?;
    let cmd = Command::TakePayment(Box::new(PaymentInput {
        booking: booking_id(&reference)?,
        folio: p.folio,
        kind,
        method,
        amount: p.amount,
        currency: p.currency,
        reference: p.reference,
        confirm_when_paid: state.settings.confirm_on_deposit,
    }));
    submit(&state, &caller, cmd, key, |_| {
        Some(format!("/api/v1/bookings/{reference}/folio"))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCorrection {
    entry: String,
    reason: String,
}

/// `POST /bookings/{ref}/corrections` `{"entry","reason"}`: nets out an entry.
pub(crate) async fn post_correction(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(c): ApiJson<NewCorrection>,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    let entry = RecordId::parse(&c.entry)
        .map_err(|_| Problem::invalid(format!("entry: {:?} is not an entry id", c.entry)))?;
    let cmd = Command::CorrectEntry {
        booking: booking_id(&reference)?,
        entry,
        reason: c.reason,
    };
    submit(&state, &caller, cmd, key, |_| {
        Some(format!("/api/v1/bookings/{reference}/folio"))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTransfer {
    from: String,
    to: String,
    amount: i64,
}

/// `POST /bookings/{ref}/transfers` `{"from","to","amount"}`: between two folios.
pub(crate) async fn post_transfer(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(t): ApiJson<NewTransfer>,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    let cmd = Command::TransferBetweenFolios {
        booking: booking_id(&reference)?,
        from: t.from,
        to: t.to,
        amount: t.amount,
    };
    submit(&state, &caller, cmd, key, |_| {
        Some(format!("/api/v1/bookings/{reference}/folio"))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInvoice {
    folio: Option<String>,
    bill_to: Option<String>,
}

/// `POST /bookings/{ref}/invoices` `{"folio","bill_to"}`: bills the folio's open entries.
pub(crate) async fn post_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    let n: NewInvoice = if body.iter().all(u8::is_ascii_whitespace) {
        NewInvoice::default()
    } else {
        crate::extract::parse_json(&body)?
    };
    let cmd = Command::IssueInvoice {
        booking: booking_id(&reference)?,
        folio: n.folio,
        bill_to: n.bill_to,
    };
    submit(&state, &caller, cmd, key, |r| {
        Some(format!("/api/v1/invoices/{}", r.key()))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCreditNote {
    reason: String,
}

/// `POST /invoices/{number}/credit-note` `{"reason"}`.
pub(crate) async fn post_credit_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(c): ApiJson<NewCreditNote>,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    let cmd = Command::IssueCreditNote {
        number,
        reason: c.reason,
    };
    submit(&state, &caller, cmd, key, |r| {
        Some(format!("/api/v1/invoices/{}", r.key()))
    })
    .await
}

/// `GET /invoices/{number}`: JSON, or printable HTML with `Accept: text/html`.
pub(crate) async fn get_invoice(
    State(state): State<AppState>,
    _caller: Caller,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let n = number.clone();
    let inv = state
        .read(move |p| p.invoice(&n))
        .await?
        .ok_or_else(|| Problem::not_found(format!("invoice {number} not found")))?;
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        let p = inv.property.clone();
        let prop = state.read(move |r| r.property(&p)).await?;
        let html = super::invoice_html::render(&inv, prop.as_ref());
        return Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response());
    }
    Ok(Json(inv).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCatalog {
    taxes: Vec<TaxCode>,
    items: Vec<ChargeItem>,
}

/// `PUT /properties/{code}/catalog` `{"taxes":[…],"items":[…]}`: the items and taxes.
pub(crate) async fn put_catalog(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(c): ApiJson<NewCatalog>,
) -> ApiResult<Response> {
    caller.require(Permission::Rates)?;
    let cmd = Command::SetChargeCatalog {
        property: code,
        taxes: c.taxes,
        items: c.items,
    };
    let mut resp = submit(&state, &caller, cmd, key, |_| None).await?;
    *resp.status_mut() = StatusCode::OK;
    Ok(resp)
}

/// `GET /properties/{code}/catalog`.
pub(crate) async fn get_catalog(
    State(state): State<AppState>,
    _caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Record>> {
    let c = code.clone();
    state
        .read(move |r| r.record("charge_catalog", &c))
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("property {code} has no charge catalogue")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditRequest {
    property: String,
    #[serde(default, deserialize_with = "crate::extract::opt_date")]
    business_date: Option<NaiveDate>,
}

/// `POST /night-audit` `{"property","business_date"}`: closes the business date now for the
/// bookings this server writes.
pub(crate) async fn run_night_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(a): ApiJson<AuditRequest>,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    let cmd = Command::RunNightAudit {
        property: a.property,
        business_date: a.business_date,
        mark_no_shows: state.settings.night_audit_no_shows,
    };
    let out = state
        .writer
        .submit(cmd, &caller.username, None)
        .await
        .map_err(Problem::from)?;
    Ok(Json(audit_summary(out.outcome())).into_response())
}

/// What a night audit did, for the API and the job's log.
pub(crate) fn audit_summary(o: &Outcome) -> serde_json::Value {
    let Outcome::Written { record, related } = o else {
        return json!({});
    };
    let posted: Vec<_> = related
        .iter()
        .filter_map(|r| match r {
            Record::FolioEntry(e) => Some(json!({
                "entry": e.meta.id, "booking": e.booking, "night": e.night, "amount": e.amount,
            })),
            _ => None,
        })
        .collect();
    let no_shows: Vec<_> = related
        .iter()
        .filter_map(|r| match r {
            Record::Booking(b) => Some(b.meta.id.to_string()),
            _ => None,
        })
        .collect();
    let (property, business_date, audited) = match record {
        Record::BusinessDay(d) => (d.property.clone(), Some(d.date), d.last_audited),
        _ => (String::new(), None, None),
    };
    json!({
        "property": property,
        "audited": audited,
        "business_date": business_date,
        "posted": posted,
        "no_shows": no_shows,
    })
}
