//! A booking's money terms from its rate plan: `GET /bookings/{ref}/terms` (the deposit asked,
//! its due date, what was received and where it stands; what cancelling today would cost) and
//! `POST /bookings/{ref}/cancellation` (cancel and post that fee to the guest folio in one
//! decision). The figures are computed by the core from the booking, its plan and its entries.

use super::folio::{booking_id, submit};
use crate::auth::{Caller, Permission};
use crate::extract::IdempotencyKey;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use innsync_core::dates::{local_date, parse_tz};
use innsync_core::ledger::policy::{
    cancellation_fee, cancellation_policy, deposit_rule, deposit_status, no_show_fee, plan_code,
};
use innsync_core::{Command, Record};
use serde::Deserialize;
use serde_json::json;

/// `GET /bookings/{ref}/terms`: deposit status and today's cancellation fee.
pub(crate) async fn get_terms(
    State(state): State<AppState>,
    _caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = booking_id(&reference)?;
    let now = (state.clock)();
    let r = reference.clone();
    let (booking, property, plan, folio) = state
        .read(move |p| {
            let Some(b) = p.booking(&r)? else {
                return Ok(None);
            };
            let prop = p.property(&b.property)?;
            let plan = match plan_code(&b) {
                Some(code) => match p.record("pricing_plan", &format!("{}/{code}", b.property))? {
                    Some(Record::PricingPlan(pl)) => Some(pl),
                    _ => None,
                },
                None => None,
            };
            let folio = p.folio(&id)?;
            Ok(Some((b, prop, plan, folio)))
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("booking {reference} not found")))?;
    let tz = property
        .as_ref()
        .and_then(|p| parse_tz(&p.timezone).ok())
        .ok_or_else(|| Problem::unavailable(format!("property {} unknown", booking.property)))?;
    let today = local_date(now, tz);
    let booked = local_date(booking.created_at, tz);
    let rule = deposit_rule(plan.as_ref());
    let deposit = deposit_status(&booking, rule, booked, &folio.entries, today);
    let policy = cancellation_policy(plan.as_ref());
    let (fee, penalty) = cancellation_fee(&booking, policy, today);
    Ok(Json(json!({
        "reference": booking.meta.id,
        "rate_plan": plan_code(&booking),
        "currency": booking.price.as_ref().map(|m| m.currency.clone()),
        "today": today,
        "deposit": {
            "rule": rule,
            "required": deposit.required,
            "due": deposit.due,
            "received": deposit.received,
            "state": deposit.state.as_str(),
        },
        "cancellation": {
            "policy": policy,
            "fee_today": fee,
            "penalty_today": penalty,
            "no_show_fee": no_show_fee(&booking, policy),
        },
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCancellation {
    reason: Option<String>,
    if_match: Option<u64>,
}

/// `POST /bookings/{ref}/cancellation` `{"reason"}`: cancels the booking and posts the fee its
/// plan's policy computes for today (none while cancelling is free); 201 with the booking and
/// the fee entry in `related`.
pub(crate) async fn post_cancellation(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    caller.require(Permission::Book)?;
    let n: NewCancellation = if body.iter().all(u8::is_ascii_whitespace) {
        NewCancellation::default()
    } else {
        crate::extract::parse_json(&body)?
    };
    let cmd = Command::CancelWithFee {
        id: booking_id(&reference)?,
        reason: n.reason,
        if_match: n.if_match,
    };
    submit(&state, &caller, cmd, key, |_| {
        Some(format!("/api/v1/bookings/{reference}"))
    })
    .await
}
