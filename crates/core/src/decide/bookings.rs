//! Guests and bookings: creation against stock, and every state change of the state machine.

use super::allotments::{ensure_sellable, held};
use super::reference::{property_of, room_of, room_type_of};
use super::reservations::{new_guest, LineSpec, NewReservation};
use super::{bumped, AuditEntry, Ctx, Decision, Outcome, MAX_EXPIRE_BATCH};
use crate::booking::{departure_after_check_out, next_status, time_rule, BookingAction};
use crate::command::Command;
use crate::dates::{local_date, parse_tz, Nights};
use crate::error::DomainError;
use crate::ids::{IdSource, RecordId};
use crate::limits::MAX_STAYS;
use crate::record::{Booking, Record, Stay};
use crate::state_view::StateView;
use chrono::NaiveDate;

#[allow(
    clippy::too_many_lines,
    reason = "the booking dispatcher, one arm per booking command; other branches add arms now, split after they land"
)]
pub(super) fn decide_bookings(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    if let Command::CheckIn { id, .. }
    | Command::AssignRoom { id, .. }
    | Command::MoveRoom { id, .. } = cmd
    {
        ensure_rooms_writable(view, ctx, id)?;
    }
    match cmd {
        Command::CreateGuest { name, email, phone } => {
            let g = new_guest(ids, ctx, name, email.as_deref(), phone.as_deref())?;
            let detail = g.name.clone();
            Ok(Decision::one(Record::Guest(g), cmd.name(), detail))
        }
        Command::CreateBooking {
            property,
            room_type,
            arrival,
            departure,
            units,
            guest,
            status,
            hold_until,
            notes,
            pricing,
        } => super::reservations::create(
            view,
            ids,
            ctx,
            NewReservation {
                property,
                guest,
                status: *status,
                hold_until: *hold_until,
                notes: notes.as_deref(),
                lines: vec![LineSpec {
                    room_type,
                    arrival: *arrival,
                    departure: *departure,
                    units: *units,
                    pricing: pricing.clone(),
                }],
                numbered: false,
                agent: None,
            },
        ),
        Command::ConfirmBooking { id, if_match } => {
            change(view, ctx, id, *if_match, BookingAction::Confirm, |b, _| {
                b.hold_until = None;
                Ok(())
            })
        }
        // CancelBooking is decided with its rate plan's fee in `deposits.rs`.
        Command::NoShow { id, if_match } => {
            change(view, ctx, id, *if_match, BookingAction::NoShow, |_, _| {
                Ok(())
            })
        }
        Command::CheckIn { id, room, if_match } => change(
            view,
            ctx,
            id,
            *if_match,
            BookingAction::CheckIn,
            |b, today| {
                let chosen = match room {
                    Some(r) => r.clone(),
                    None => b.room_on(today).map(str::to_string).ok_or_else(|| {
                        DomainError::InvalidInput(
                            "check-in needs a room: none is assigned to this booking".into(),
                        )
                    })?,
                };
                if b.room_on(today) != Some(chosen.as_str()) {
                    assign(view, b, &chosen, b.arrival)?;
                }
                Ok(())
            },
        ),
        Command::AssignRoom { id, room, if_match } => change(
            view,
            ctx,
            id,
            *if_match,
            BookingAction::AssignRoom,
            |b, _| assign(view, b, room, b.arrival),
        ),
        Command::MoveRoom { id, room, if_match } => change(
            view,
            ctx,
            id,
            *if_match,
            BookingAction::MoveRoom,
            |b, today| {
                let from = today.max(b.arrival);
                if b.room_on(from) == Some(room.as_str()) {
                    return Err(DomainError::InvalidInput(format!(
                        "the guest is already in room {room}"
                    )));
                }
                assign(view, b, room, from)
            },
        ),
        Command::CheckOut { id, if_match } => change(
            view,
            ctx,
            id,
            *if_match,
            BookingAction::CheckOut,
            |b, today| {
                let dep = departure_after_check_out(b.arrival, b.departure, today);
                super::booking_edit::reprice_early_departure(view, b, dep)?;
                b.departure = dep;
                b.stays.retain(|s| s.from < dep);
                for s in &mut b.stays {
                    s.to = s.to.min(dep);
                }
                Ok(())
            },
        ),
        Command::ExpireHolds => expire(view, ctx),
        _ => unreachable!("bookings::decide called for {}", cmd.name()),
    }
}

/// Whether `next` may replace `current` (an operator restoring a booking from a conflict):
/// the same stock and room rules as any booking write.
pub(super) fn check_restorable(
    view: &dyn StateView,
    current: Option<&Booking>,
    next: &Booking,
) -> Result<(), DomainError> {
    let prop = property_of(view, &next.property)?;
    room_type_of(view, &next.property, &next.room_type)?;
    if !next.status.holds_stock() {
        return Ok(());
    }
    let nights = Nights::stay(next.arrival, next.departure).map_err(DomainError::InvalidInput)?;
    let mut have = held(view, &prop, &next.room_type, &next.holder, nights)?;
    // The current version's own units do not count against it.
    if let Some(c) = current.filter(|c| c.status.holds_stock() && c.room_type == next.room_type) {
        for n in &mut have {
            if c.nights().contains(n.night) {
                n.sold = n.sold.saturating_sub(c.units);
                if c.holder == next.holder {
                    n.held_sold = n.held_sold.saturating_sub(c.units);
                }
            }
        }
    }
    ensure_sellable(&have, &prop, &next.room_type, &next.holder, next.units)?;
    for s in &next.stays {
        let n = Nights {
            from: s.from.max(next.arrival),
            to: s.to.min(next.departure),
        };
        if n.from >= n.to {
            continue;
        }
        if let Some(o) = view
            .room_occupancy(&next.property, &s.room, n)?
            .into_iter()
            .find(|o| o.booking != next.meta.id)
        {
            return Err(DomainError::RoomUnavailable(format!(
                "room {} is occupied on {} by booking {}",
                s.room, o.night, o.booking
            )));
        }
    }
    Ok(())
}

/// Room assignment belongs to the property's owner (DESIGN.md §8): only the server that may
/// write the property's records puts guests in its rooms, so two servers never assign one room
/// on one night.
fn ensure_rooms_writable(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    id: &RecordId,
) -> Result<(), DomainError> {
    let Some(b) = view.booking(id)? else {
        return Ok(()); // `change` reports the missing booking
    };
    let prop = property_of(view, &b.property)?;
    ctx.ensure_writable(&prop.meta.owner)
}

/// Loads a booking, checks authority, version, the state machine and the time rules, then lets
/// `edit` change it; the result is the booking's next version.
fn change(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    id: &RecordId,
    if_match: Option<u64>,
    action: BookingAction,
    edit: impl FnOnce(&mut Booking, NaiveDate) -> Result<(), DomainError>,
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
    let next = transition(view, ctx, &old, action, edit)?;
    let detail = format!(
        "{} -> {}{}",
        old.status.as_str(),
        next.status.as_str(),
        next.stays
            .last()
            .map(|s| format!(" room {}", s.room))
            .unwrap_or_default()
    );
    let name = format!("booking.{}", action_name(action));
    Ok(Decision::one(Record::Booking(next), &name, detail))
}

fn transition(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    old: &Booking,
    action: BookingAction,
    edit: impl FnOnce(&mut Booking, NaiveDate) -> Result<(), DomainError>,
) -> Result<Booking, DomainError> {
    let to = next_status(old.status, action).ok_or_else(|| {
        DomainError::InvalidTransition(format!(
            "cannot {} a {} booking",
            action.as_str(),
            old.status.as_str().replace('_', " ")
        ))
    })?;
    let prop = property_of(view, &old.property)?;
    let tz = parse_tz(&prop.timezone).map_err(DomainError::InvalidInput)?;
    let today = local_date(ctx.now, tz);
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
    edit(&mut next, today)?;
    debug_assert!(next.arrival < next.departure, "a stay always has a night");
    Ok(next)
}

fn action_name(a: BookingAction) -> &'static str {
    match a {
        BookingAction::Confirm => "confirm",
        BookingAction::Cancel => "cancel",
        BookingAction::Expire => "expire",
        BookingAction::CheckIn => "check_in",
        BookingAction::CheckOut => "check_out",
        BookingAction::NoShow => "no_show",
        BookingAction::AssignRoom => "assign_room",
        BookingAction::MoveRoom => "move_room",
    }
}

/// Puts the booking in `room` from `from` to departure, after checking the room fits.
fn assign(
    view: &dyn StateView,
    b: &mut Booking,
    room: &str,
    from: NaiveDate,
) -> Result<(), DomainError> {
    if b.units != 1 {
        return Err(DomainError::InvalidInput(format!(
            "rooms are assigned to single-unit bookings; this one holds {} units",
            b.units
        )));
    }
    let r = room_of(view, &b.property, room)?;
    if r.room_type != b.room_type {
        return Err(DomainError::InvalidInput(format!(
            "room {room} is a {} room; the booking is for {}",
            r.room_type, b.room_type
        )));
    }
    let nights = Nights {
        from,
        to: b.departure,
    };
    if let Some(night) = nights.iter().find(|n| !r.in_service_on(*n)) {
        return Err(DomainError::RoomUnavailable(format!(
            "room {room} is out of order on {night}"
        )));
    }
    if let Some(o) = view
        .room_occupancy(&b.property, room, nights)?
        .into_iter()
        .find(|o| o.booking != b.meta.id)
    {
        return Err(DomainError::RoomUnavailable(format!(
            "room {room} is occupied on {} by booking {}",
            o.night, o.booking
        )));
    }
    b.stays.retain(|s| s.from < from);
    for s in &mut b.stays {
        s.to = s.to.min(from);
    }
    b.stays.push(Stay {
        room: room.to_string(),
        from,
        to: b.departure,
    });
    if b.stays.len() > MAX_STAYS {
        return Err(DomainError::InvalidInput(format!(
            "a booking may change rooms at most {MAX_STAYS} times"
        )));
    }
    Ok(())
}

fn expire(view: &dyn StateView, ctx: &Ctx<'_>) -> Result<Decision, DomainError> {
    let mut writes = vec![];
    let mut audit = vec![];
    let mut ids = vec![];
    for id in view.lapsed_holds(ctx.now, MAX_EXPIRE_BATCH)? {
        let Some(old) = view.booking(&id)? else {
            continue;
        };
        // Only the owner releases a hold; others learn of it by replication.
        if ctx.ensure_writable(&old.meta.owner).is_err() {
            continue;
        }
        let next = transition(view, ctx, &old, BookingAction::Expire, |b, _| {
            b.cancel_reason = Some("provisional hold expired".into());
            Ok(())
        })?;
        audit.push(AuditEntry {
            action: "booking.expire".into(),
            record: id.clone(),
            detail: format!("hold lapsed at {}", old.hold_until.unwrap_or(ctx.now)),
        });
        writes.push(Record::Booking(next));
        ids.push(id);
    }
    Ok(Decision {
        writes,
        outcome: Outcome::Expired { ids },
        audit,
    })
}
