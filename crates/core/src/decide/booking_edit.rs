//! Editing a booking (one line of a reservation) on its owner: dates (extend, shorten, shift),
//! room type, rooms, occupancy, rate plan, guest and notes. Which edits a status allows is
//! [`crate::edit_rule`]; stock is re-checked as for any booking write (the booking's own units
//! do not count against it); the price is re-computed by the **stated rule**:
//!
//! - another plan, occupancy or room type: every night at the current rates of the plan;
//! - the same terms on a plan with `reprice_on_edit`: every night at the current rates;
//! - the same terms otherwise (`reprice_on_edit = false`, or the nightly rates without a plan):
//!   the nights kept keep their booked amount, added nights take the current rates.
//!
//! Every change is written to the booking's history with its old and new values. Early
//! check-out re-prices the nights not stayed as the plan says ([`reprice_early_departure`]).

use super::bookings::check_restorable;
use super::reference::{property_of, room_of, room_type_of};
use super::reservations::{ensure_bookable_arrival, line_total};
use super::{bumped, validate, AuditEntry, Ctx, Decision, Outcome};
use crate::command::{BookingEdit, PricingRequest};
use crate::dates::{local_date, parse_tz, Nights};
use crate::edit_rule::{edit_allowed, EditScope};
use crate::error::DomainError;
use crate::ids::RecordId;
use crate::limits::MAX_UNITS;
use crate::pricing::Party;
use crate::record::{Booking, Money, Property, Record, Stay};
use crate::state_view::StateView;
use chrono::NaiveDate;

/// Decides an edit of booking `id`.
pub(super) fn edit(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    id: &RecordId,
    e: &BookingEdit,
    if_match: Option<u64>,
) -> Result<Decision, DomainError> {
    let old = view
        .booking(id)?
        .ok_or_else(|| DomainError::NotFound(format!("booking {id}")))?;
    ctx.ensure_writable(&old.meta.owner)?;
    if let Some(v) = if_match {
        if v != old.meta.version {
            return Err(DomainError::VersionConflict {
                expected: v,
                actual: old.meta.version,
            });
        }
    }
    let prop = property_of(view, &old.property)?;
    let tz = parse_tz(&prop.timezone).map_err(DomainError::InvalidInput)?;
    let today = local_date(ctx.now, tz);
    let mut next = old.clone();
    next.meta = bumped(&old.meta);
    next.updated_at = ctx.now;
    let scope = scope_of(&old, e);
    next.arrival = e.arrival.unwrap_or(old.arrival);
    next.departure = e.departure.unwrap_or(old.departure);
    edit_allowed(old.status, scope, next.arrival, next.departure, today).map_err(|why| {
        DomainError::InvalidTransition(format!("cannot edit this booking: {why}"))
    })?;
    let mut changes: Vec<String> = vec![];
    let mut extra: Vec<Record> = vec![];
    change_stay(
        view,
        ctx,
        &prop,
        today,
        &old,
        &mut next,
        e,
        scope,
        &mut changes,
    )?;
    if next.status.holds_stock()
        && (scope.arrival || scope.departure || scope.room_type || scope.units)
    {
        check_restorable(view, Some(&old), &next)?;
    }
    reprice(view, &prop, &old, &mut next, e, scope, &mut changes)?;
    change_guest(view, ctx, &old, &mut next, e, &mut extra, &mut changes)?;
    if let Some(n) = &e.notes {
        let notes = Some(n.trim().to_string()).filter(|n| !n.is_empty());
        validate::notes("notes", notes.as_deref())?;
        if notes != old.notes {
            changes.push(format!(
                "notes: {} → {}",
                shown(old.notes.as_deref()),
                shown(notes.as_deref())
            ));
            next.notes = notes;
        }
    }
    if changes.is_empty() {
        return Err(DomainError::InvalidInput(
            "nothing to change: give at least one field that differs from the booking".into(),
        ));
    }
    debug_assert!(next.arrival < next.departure, "a stay always has a night");
    refresh_commission(&mut next);
    let mut audit = vec![AuditEntry {
        action: "booking.edit".into(),
        record: next.meta.id.clone(),
        detail: changes.join("; "),
    }];
    for r in &extra {
        audit.push(AuditEntry {
            action: "guest.update".into(),
            record: r.meta().id.clone(),
            detail: format!("edited with booking {}", next.meta.id),
        });
    }
    let mut writes = extra.clone();
    writes.push(Record::Booking(next.clone()));
    Ok(Decision {
        writes,
        outcome: Outcome::Written {
            record: Record::Booking(next),
            related: extra,
        },
        audit,
    })
}

fn shown(t: Option<&str>) -> String {
    t.map_or_else(|| "none".to_string(), |t| format!("{t:?}"))
}

/// What the edit changes, compared with the booking as it is.
fn scope_of(old: &Booking, e: &BookingEdit) -> EditScope {
    let booked = old.pricing.as_ref();
    let plan_now = booked.and_then(|p| p.rate_plan.as_deref());
    let plan_asked = e
        .rate_plan
        .as_deref()
        .map(|p| Some(p).filter(|p| !p.is_empty()));
    EditScope {
        arrival: e.arrival.is_some_and(|a| a != old.arrival),
        departure: e.departure.is_some_and(|d| d != old.departure),
        room_type: e.room_type.as_ref().is_some_and(|r| *r != old.room_type),
        units: e.units.is_some_and(|u| u != old.units),
        price: e
            .adults
            .is_some_and(|a| booked.is_none_or(|p| p.adults != a))
            || e.children
                .as_ref()
                .is_some_and(|c| booked.is_none_or(|p| p.children != *c))
            || plan_asked.is_some_and(|p| booked.is_none() || p != plan_now),
    }
}

/// Applies the dates, room type and rooms, and fits the assigned rooms to the new stay.
#[allow(
    clippy::too_many_arguments,
    reason = "one step of one decision: the booking before and after, what is asked, and the history"
)]
fn change_stay(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    prop: &Property,
    today: NaiveDate,
    old: &Booking,
    next: &mut Booking,
    e: &BookingEdit,
    scope: EditScope,
    changes: &mut Vec<String>,
) -> Result<(), DomainError> {
    if scope.arrival || scope.departure {
        Nights::stay(next.arrival, next.departure).map_err(DomainError::InvalidInput)?;
        if scope.arrival {
            ensure_bookable_arrival(prop, next.arrival, today)?;
        }
    }
    if scope.arrival {
        changes.push(format!("arrival: {} → {}", old.arrival, next.arrival));
    }
    if scope.departure {
        changes.push(format!("departure: {} → {}", old.departure, next.departure));
    }
    if let Some(rt) = e.room_type.as_ref().filter(|_| scope.room_type) {
        room_type_of(view, &prop.code, rt)?;
        changes.push(format!("room_type: {} → {rt}", old.room_type));
        next.room_type = rt.clone();
    }
    if let Some(u) = e.units.filter(|_| scope.units) {
        if u == 0 || u > MAX_UNITS {
            return Err(DomainError::InvalidInput(format!(
                "units must be between 1 and {MAX_UNITS}; got {u}"
            )));
        }
        if u != 1 && !old.stays.is_empty() {
            return Err(DomainError::InvalidInput(format!(
                "units: rooms are assigned to single-unit bookings and room {} is assigned",
                old.stays.last().map_or("?", |s| s.room.as_str())
            )));
        }
        changes.push(format!("units: {} → {u}", old.units));
        next.units = u;
    }
    if old.stays.is_empty() {
        return Ok(());
    }
    if scope.room_type {
        // The room belongs to the old type: the new type's room is assigned afresh.
        changes.push(format!(
            "rooms: {} → none (another room type)",
            old.stays.last().map_or("?", |s| s.room.as_str())
        ));
        next.stays.clear();
    } else if scope.arrival || scope.departure {
        fit_stays(next, old.status == crate::record::BookingStatus::CheckedIn);
    }
    if next.stays != old.stays {
        // Rooms are the property owner's to give (DESIGN.md §8).
        ctx.ensure_writable(&prop.meta.owner)?;
        for s in &next.stays {
            let r = room_of(view, &prop.code, &s.room)?;
            let nights = Nights {
                from: s.from,
                to: s.to,
            };
            if let Some(n) = nights.iter().find(|n| !r.in_service_on(*n)) {
                return Err(DomainError::RoomUnavailable(format!(
                    "room {} is out of order on {n}",
                    s.room
                )));
            }
        }
    }
    Ok(())
}

/// Fits the rooms to the new dates: in house, the last room runs to the new departure; before
/// arrival, the assigned room covers the whole new stay.
fn fit_stays(b: &mut Booking, in_house: bool) {
    let dep = b.departure;
    if in_house {
        b.stays.retain(|s| s.from < dep);
        for s in &mut b.stays {
            s.to = s.to.min(dep);
        }
        if let Some(last) = b.stays.last_mut() {
            last.to = dep;
        }
    } else if let Some(room) = b.stays.last().map(|s| s.room.clone()) {
        b.stays = vec![Stay {
            room,
            from: b.arrival,
            to: dep,
        }];
    }
}

/// Re-computes the price by the stated rule when the stay or the terms change.
fn reprice(
    view: &dyn StateView,
    prop: &Property,
    old: &Booking,
    next: &mut Booking,
    e: &BookingEdit,
    scope: EditScope,
    changes: &mut Vec<String>,
) -> Result<(), DomainError> {
    if !(scope.touches_stay()) {
        return Ok(());
    }
    let booked = old.pricing.as_ref();
    if booked.is_none() && !scope.price {
        // Booked on the nightly rates without occupancy: priced as at creation.
        next.price = line_total(
            view,
            &prop.code,
            &next.room_type,
            next.nights(),
            next.units,
            None,
        )?;
        note_price(old, next, changes);
        return Ok(());
    }
    let plan = match e.rate_plan.as_deref() {
        Some("") => None,
        Some(p) => Some(p.to_string()),
        None => booked.and_then(|b| b.rate_plan.clone()),
    };
    let party = Party {
        adults: e.adults.or(booked.map(|b| b.adults)).unwrap_or(1),
        children: e
            .children
            .clone()
            .or_else(|| booked.map(|b| b.children.clone()))
            .unwrap_or_default(),
    };
    let rt = room_type_of(view, &prop.code, &next.room_type)?;
    let req = PricingRequest {
        rate_plan: plan.clone(),
        party,
    };
    let mut p = super::booking_price::price(view, prop, &rt, next.nights(), next.units, &req)?;
    if let Some(b) = booked {
        if b.adults != p.adults || b.children != p.children {
            changes.push(format!(
                "occupancy: {} adult(s) {:?} → {} adult(s) {:?}",
                b.adults, b.children, p.adults, p.children
            ));
        }
        if b.rate_plan != p.rate_plan {
            changes.push(format!(
                "rate_plan: {} → {}",
                b.rate_plan.as_deref().unwrap_or("nightly rates"),
                p.rate_plan.as_deref().unwrap_or("nightly rates")
            ));
        }
    } else {
        changes.push(format!(
            "occupancy: none → {} adult(s) {:?}; rate_plan: {}",
            p.adults,
            p.children,
            p.rate_plan.as_deref().unwrap_or("nightly rates")
        ));
    }
    let reprice_rule = match &plan {
        Some(code) => view
            .pricing_plan(&prop.code, code)?
            .is_none_or(|pl| pl.spec.reprice_on_edit),
        None => false,
    };
    match booked {
        Some(b) if !scope.price && !scope.room_type && !reprice_rule && !p.nightly.is_empty() => {
            let mut kept = 0usize;
            let old_nights = old.nights();
            for (i, night) in next.nights().iter().enumerate() {
                if !old_nights.contains(night) {
                    continue;
                }
                let j = usize::try_from((night - old.arrival).num_days()).unwrap_or(usize::MAX);
                if let (Some(slot), Some(amount)) = (p.nightly.get_mut(i), b.nightly.get(j)) {
                    *slot = *amount;
                    kept += 1;
                }
            }
            p.total = p
                .nightly
                .iter()
                .sum::<i64>()
                .saturating_mul(i64::from(next.units));
            p.rule = format!(
                "{}; on edit: booked rate kept on {kept} night(s), current rates on the rest",
                p.rule
            );
        }
        _ => {
            p.rule = format!("{}; on edit: re-priced at the current rates", p.rule);
        }
    }
    next.price = (!p.nightly.is_empty()).then(|| Money {
        amount: p.total,
        currency: p.currency.clone(),
    });
    next.pricing = Some(p);
    note_price(old, next, changes);
    Ok(())
}

fn note_price(old: &Booking, next: &Booking, changes: &mut Vec<String>) {
    let money = |m: &Option<Money>| {
        m.as_ref().map_or_else(
            || "none".to_string(),
            |m| format!("{} {}", m.amount, m.currency),
        )
    };
    if old.price != next.price {
        changes.push(format!(
            "price: {} → {}",
            money(&old.price),
            money(&next.price)
        ));
    }
}

/// Another guest profile for the booking, and/or the guest's own details (written on the
/// guest's owner in the same decision).
fn change_guest(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    old: &Booking,
    next: &mut Booking,
    e: &BookingEdit,
    extra: &mut Vec<Record>,
    changes: &mut Vec<String>,
) -> Result<(), DomainError> {
    if let Some(gid) = &e.guest_id {
        let g = super::guests::for_new_booking(view, gid)?;
        if g.meta.id != old.guest_id {
            changes.push(format!("guest: {} → {}", old.guest_id, g.meta.id));
            next.guest_id = g.meta.id.clone();
            next.guest_name = g.name.clone();
        }
    }
    if let Some(patch) = &e.guest {
        let (g, detail) = super::guests::patched_guest(view, ctx, &next.guest_id, patch, None)?;
        // Which fields, never their (personal) values.
        changes.push(format!("guest {}: {detail}", g.meta.id));
        next.guest_name = g.name.clone();
        extra.push(Record::Guest(g));
    }
    Ok(())
}

/// An agent's commission follows the booking's price (same rate, new amount).
fn refresh_commission(b: &mut Booking) {
    if let Some(a) = &mut b.agent {
        a.commission = b
            .price
            .as_ref()
            .map(|m| crate::agent::commission(m.amount, a.commission_bp));
    }
}

/// On early check-out (departure moved to `dep`), the nights not stayed are re-priced as the
/// booking's plan says: refunded on a refundable plan (and on the nightly rates), still charged
/// on a non-refundable one. A booking without a stored price per night is left as it was.
pub(super) fn reprice_early_departure(
    view: &dyn StateView,
    b: &mut Booking,
    dep: NaiveDate,
) -> Result<(), DomainError> {
    if dep >= b.departure {
        return Ok(());
    }
    let Some(p) = b.pricing.as_mut() else {
        return Ok(());
    };
    if p.nightly.is_empty() {
        return Ok(());
    }
    let stayed = usize::try_from((dep - b.arrival).num_days()).unwrap_or(0);
    let not_stayed = p.nightly.len().saturating_sub(stayed);
    let refundable = match &p.rate_plan {
        Some(code) => view
            .pricing_plan(&b.property, code)?
            .is_none_or(|pl| pl.spec.refundable),
        None => true,
    };
    if refundable {
        p.nightly.truncate(stayed);
        p.total = p
            .nightly
            .iter()
            .sum::<i64>()
            .saturating_mul(i64::from(b.units));
        p.rule = format!(
            "{}; early check-out: {not_stayed} night(s) not stayed refunded (refundable)",
            p.rule
        );
        b.price = Some(Money {
            amount: p.total,
            currency: p.currency.clone(),
        });
        refresh_commission(b);
    } else {
        p.rule = format!(
            "{}; early check-out: {not_stayed} night(s) not stayed still charged (non-refundable)",
            p.rule
        );
    }
    Ok(())
}
