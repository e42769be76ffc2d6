//! Deciding what a rate plan's money terms do to bookings: a cancellation that posts its fee
//! to the folio in the same decision, and the deposit sweep that confirms provisional bookings
//! whose deposit is paid (when the property wants it) and releases those whose deposit was not
//! paid by its due date.
//!
//! **Every cancellation applies the policy.** A plain cancel (`CancelBooking`, `POST
//! …/cancel`) and `CancelWithFee` (`POST …/cancellation`) are one decision: inside the
//! policy's fee window the fee is posted to the guest folio with the cancellation, never
//! skipped silently; outside it nothing is posted and the cancel is exactly what it always was.
//! Waiving a fee is a correction of its entry (`POST …/corrections` with the entry and a
//! reason), so the ledger shows both the fee and who waived it.
//!
//! Both change a booking, so only its owner decides them; the fee entry is owned by the
//! deciding server like every ledger entry. The sweep is idempotent: a booking no longer
//! provisional is left alone, so running it twice, or on two servers, changes nothing more.

use super::folio::{
    booking_of, business_date, currency_of, entry_decision, entry_meta, property_of,
};
use super::{bumped, validate, AuditEntry, Ctx, Decision, Outcome};
use crate::booking::{next_status, time_rule, BookingAction};
use crate::command::Command;
use crate::dates::{local_date, parse_tz};
use crate::error::DomainError;
use crate::ids::{IdSource, RecordId};
use crate::ledger::policy::{
    cancellation_fee, cancellation_policy, deposit_rule, deposit_status, fee_text, plan_code,
    DepositState,
};
use crate::ledger::{EntryKind, EntrySource, FolioEntry, GUEST_FOLIO};
use crate::pricing::PricingPlan;
use crate::record::{Booking, BookingStatus, Property, Record};
use crate::state_view::StateView;
use chrono::NaiveDate;

/// Most bookings one deposit sweep looks at; the sweeper runs again for the rest.
pub const MAX_DEPOSIT_SWEEP: usize = 256;

/// Decides a deposit or cancellation-fee command.
pub(super) fn decide(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    match cmd {
        Command::CancelWithFee {
            id,
            reason,
            if_match,
        } => cancel_with_fee(view, ids, ctx, id, reason.as_deref(), *if_match, false),
        Command::CancelBooking {
            id,
            reason,
            if_match,
        } => cancel_with_fee(view, ids, ctx, id, reason.as_deref(), *if_match, true),
        Command::SettleDeposits {
            bookings,
            confirm_when_paid,
        } => sweep(view, ctx, bookings, *confirm_when_paid),
        other => Err(DomainError::InvalidInput(format!(
            "{} is not a deposit command",
            other.name()
        ))),
    }
}

/// The pricing plan a booking was sold at, if it still exists.
pub(super) fn plan_of(
    view: &dyn StateView,
    b: &Booking,
) -> Result<Option<PricingPlan>, DomainError> {
    match plan_code(b) {
        Some(code) => Ok(view.pricing_plan(&b.property, code)?),
        None => Ok(None),
    }
}

/// Today at the property.
fn today_at(p: &Property, ctx: &Ctx<'_>) -> Result<NaiveDate, DomainError> {
    let tz = parse_tz(&p.timezone).map_err(DomainError::InvalidInput)?;
    Ok(local_date(ctx.now, tz))
}

/// The booking in its next state after `action` (owner only, state machine and time rules).
fn moved(
    ctx: &Ctx<'_>,
    old: &Booking,
    action: BookingAction,
    today: NaiveDate,
) -> Result<Booking, DomainError> {
    ctx.ensure_writable(&old.meta.owner)?;
    let to = next_status(old.status, action).ok_or_else(|| {
        DomainError::InvalidTransition(format!(
            "cannot {} a {} booking",
            action.as_str(),
            old.status.as_str().replace('_', " ")
        ))
    })?;
    time_rule(
        action,
        old.arrival,
        old.departure,
        old.hold_until,
        today,
        ctx.now,
    )
    .map_err(|why| {
        DomainError::InvalidTransition(format!("cannot {} this booking: {why}", action.as_str()))
    })?;
    let mut next = old.clone();
    next.meta = bumped(&old.meta);
    next.status = to;
    next.updated_at = ctx.now;
    Ok(next)
}

/// A fee charged to the guest folio by this server.
pub(super) fn fee_entry(
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    b: &Booking,
    currency: String,
    amount: i64,
    description: String,
    date: NaiveDate,
) -> FolioEntry {
    FolioEntry {
        meta: entry_meta(ids, ctx),
        booking: b.meta.id.clone(),
        property: b.property.clone(),
        folio: GUEST_FOLIO.to_string(),
        kind: EntryKind::Charge,
        amount,
        currency,
        item: None,
        quantity: 1,
        taxes: vec![],
        description,
        method: None,
        reference: None,
        business_date: date,
        night: None,
        source: EntrySource::Manual,
        corrects: None,
        counter_folio: None,
        author: ctx.actor.to_string(),
        at: ctx.now,
    }
}

/// Cancels a booking and posts the fee its plan's policy computes for today. `plain` is the
/// plain cancel: its history line stays what it was when there is no fee.
fn cancel_with_fee(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    id: &RecordId,
    reason: Option<&str>,
    if_match: Option<u64>,
    plain: bool,
) -> Result<Decision, DomainError> {
    validate::notes("reason", reason)?;
    let old = booking_of(view, id)?;
    ctx.ensure_writable(&old.meta.owner)?;
    if let Some(v) = if_match {
        if v != old.meta.version {
            return Err(DomainError::VersionConflict {
                expected: v,
                actual: old.meta.version,
            });
        }
    }
    let p = property_of(view, &old.property)?;
    let today = today_at(&p, ctx)?;
    let mut next = moved(ctx, &old, BookingAction::Cancel, today)?;
    next.hold_until = None;
    next.cancel_reason = Some(reason.unwrap_or("cancelled").to_string());
    let plan = plan_of(view, &old)?;
    let (fee, penalty) = cancellation_fee(&old, cancellation_policy(plan.as_ref()), today);
    let detail = if plain && fee == 0 {
        format!(
            "{} -> cancelled{}",
            old.status.as_str(),
            next.stays
                .last()
                .map(|s| format!(" room {}", s.room))
                .unwrap_or_default()
        )
    } else {
        format!(
            "{} -> cancelled; fee {fee} ({})",
            old.status.as_str(),
            fee_text("cancellation", penalty)
        )
    };
    let mut decision = Decision::one(Record::Booking(next.clone()), "booking.cancel", detail);
    if fee > 0 {
        let (date, _) = business_date(view, ctx, &p)?;
        let e = fee_entry(
            ids,
            ctx,
            &old,
            currency_of(&p)?,
            fee,
            fee_text("Cancellation", penalty),
            date,
        );
        let posted = entry_decision(vec![e], "folio.cancellation_fee");
        decision.writes.extend(posted.writes.iter().cloned());
        decision.audit.extend(posted.audit);
        decision.outcome = Outcome::Written {
            record: Record::Booking(next),
            related: posted.writes,
        };
    }
    Ok(decision)
}

/// The booking confirmed with its history line, when it is provisional, written here, and
/// `entries` (its folio, the money just taken included) pay its plan's deposit in full; `None`
/// otherwise — the payment stands alone and the sweep on the owner confirms it later.
pub(super) fn confirmed_by_deposit(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    old: &Booking,
    entries: &[FolioEntry],
) -> Result<Option<(Booking, AuditEntry)>, DomainError> {
    if old.status != BookingStatus::Provisional || ctx.ensure_writable(&old.meta.owner).is_err() {
        return Ok(None);
    }
    let p = property_of(view, &old.property)?;
    let tz = parse_tz(&p.timezone).map_err(DomainError::InvalidInput)?;
    let today = local_date(ctx.now, tz);
    let plan = plan_of(view, old)?;
    let booked = local_date(old.created_at, tz);
    let s = deposit_status(old, deposit_rule(plan.as_ref()), booked, entries, today);
    if s.state != DepositState::Paid {
        return Ok(None);
    }
    let Ok(mut next) = moved(ctx, old, BookingAction::Confirm, today) else {
        return Ok(None);
    };
    next.hold_until = None;
    let audit = AuditEntry {
        action: "booking.deposit_confirm".into(),
        record: old.meta.id.clone(),
        detail: format!("provisional -> confirmed: deposit of {} paid", s.required),
    };
    Ok(Some((next, audit)))
}

fn sweep(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    bookings: &[RecordId],
    confirm_when_paid: bool,
) -> Result<Decision, DomainError> {
    if bookings.len() > MAX_DEPOSIT_SWEEP {
        return Err(DomainError::InvalidInput(format!(
            "a deposit sweep takes at most {MAX_DEPOSIT_SWEEP} bookings; got {}",
            bookings.len()
        )));
    }
    let mut writes = vec![];
    let mut audit = vec![];
    let mut changed = vec![];
    for id in bookings {
        let Some(old) = view.booking(id)? else {
            continue;
        };
        if old.status != BookingStatus::Provisional || ctx.ensure_writable(&old.meta.owner).is_err()
        {
            continue;
        }
        let p = property_of(view, &old.property)?;
        let tz = parse_tz(&p.timezone).map_err(DomainError::InvalidInput)?;
        let today = local_date(ctx.now, tz);
        let plan = plan_of(view, &old)?;
        let entries = view.folio_entries(&old.meta.id)?;
        let booked = local_date(old.created_at, tz);
        let s = deposit_status(&old, deposit_rule(plan.as_ref()), booked, &entries, today);
        let (action, detail) = match s.state {
            DepositState::Paid if confirm_when_paid => (
                BookingAction::Confirm,
                format!("provisional -> confirmed: deposit of {} paid", s.required),
            ),
            DepositState::Overdue => (
                BookingAction::Cancel,
                format!(
                    "provisional -> cancelled: deposit of {} not paid by {} ({} received)",
                    s.required,
                    s.due.map(|d| d.to_string()).unwrap_or_default(),
                    s.received
                ),
            ),
            _ => continue,
        };
        let Ok(mut next) = moved(ctx, &old, action, today) else {
            continue;
        };
        next.hold_until = None;
        if action == BookingAction::Cancel {
            next.cancel_reason = Some("deposit not paid by its due date".into());
        }
        audit.push(AuditEntry {
            action: if action == BookingAction::Cancel {
                "booking.deposit_release".into()
            } else {
                "booking.deposit_confirm".into()
            },
            record: id.clone(),
            detail,
        });
        writes.push(Record::Booking(next));
        changed.push(id.clone());
    }
    Ok(Decision {
        writes,
        outcome: Outcome::Expired { ids: changed },
        audit,
    })
}
