//! Guests and bookings: creation against stock, and every state change of the state machine.

use super::allotments::{ensure_sellable, held};
use super::reference::{property_of, room_of, room_type_of};
use super::{bumped, fresh, validate, AuditEntry, Ctx, Decision, Outcome, MAX_EXPIRE_BATCH};
use crate::booking::{departure_after_check_out, next_status, time_rule, BookingAction};
use crate::command::{Command, GuestInput, InitialStatus, PricingRequest};
use crate::dates::{local_date, parse_tz, Nights};
use crate::error::DomainError;
use crate::ids::{IdSource, RecordId};
use crate::limits::{MAX_HOLD_DAYS, MAX_STAYS, MAX_UNITS};
use crate::rates;
use crate::record::{Booking, BookingStatus, Guest, Money, Record, Stay};
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
        } => create(
            view,
            ids,
            ctx,
            NewBooking {
                property,
                room_type,
                arrival: *arrival,
                departure: *departure,
                units: *units,
                guest,
                status: *status,
                hold_until: *hold_until,
                notes: notes.as_deref(),
                pricing: pricing.as_ref(),
            },
        ),
        Command::ConfirmBooking { id, if_match } => {
            change(view, ctx, id, *if_match, BookingAction::Confirm, |b, _| {
                b.hold_until = None;
                Ok(())
            })
        }
        Command::CancelBooking {
            id,
            reason,
            if_match,
        } => {
            validate::notes("reason", reason.as_deref())?;
            change(view, ctx, id, *if_match, BookingAction::Cancel, |b, _| {
                b.cancel_reason = Some(reason.clone().unwrap_or_else(|| "cancelled".into()));
                Ok(())
            })
        }
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

fn new_guest(
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<Guest, DomainError> {
    validate::name("guest.name", name)?;
    validate::contact(email, phone)?;
    Ok(Guest::new(
        fresh(ids, ctx.write_authority()),
        name.trim().to_string(),
        email.map(str::to_string),
        phone.map(str::to_string),
    ))
}

struct NewBooking<'a> {
    property: &'a str,
    room_type: &'a str,
    arrival: NaiveDate,
    departure: NaiveDate,
    units: u32,
    guest: &'a GuestInput,
    status: InitialStatus,
    hold_until: Option<chrono::DateTime<chrono::Utc>>,
    notes: Option<&'a str>,
    pricing: Option<&'a PricingRequest>,
}

#[allow(
    clippy::too_many_lines,
    reason = "one decision read top to bottom: its checks and the records it writes; split when it next grows"
)]
fn create(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    n: NewBooking<'_>,
) -> Result<Decision, DomainError> {
    let prop = property_of(view, n.property)?;
    let rt = room_type_of(view, n.property, n.room_type)?;
    let nights = Nights::stay(n.arrival, n.departure).map_err(DomainError::InvalidInput)?;
    if n.units == 0 || n.units > MAX_UNITS {
        return Err(DomainError::InvalidInput(format!(
            "units must be between 1 and {MAX_UNITS}; got {}",
            n.units
        )));
    }
    let tz = parse_tz(&prop.timezone).map_err(DomainError::InvalidInput)?;
    let today = local_date(ctx.now, tz);
    if n.arrival < today {
        return Err(DomainError::InvalidInput(format!(
            "arrival {} is in the past at {} (today there is {today})",
            n.arrival, n.property
        )));
    }
    crate::dates::within_horizon(
        "arrival",
        n.arrival,
        today,
        crate::limits::HORIZON_DAYS_AHEAD,
    )
    .map_err(DomainError::InvalidInput)?;
    let status = match (n.status, n.hold_until) {
        (InitialStatus::Confirmed, None) => BookingStatus::Confirmed,
        (InitialStatus::Confirmed, Some(_)) => {
            return Err(DomainError::InvalidInput(
                "hold_until is only for provisional bookings".into(),
            ))
        }
        (InitialStatus::Provisional, None) => {
            return Err(DomainError::InvalidInput(
                "a provisional booking needs hold_until".into(),
            ))
        }
        (InitialStatus::Provisional, Some(h)) => {
            if h <= ctx.now {
                return Err(DomainError::InvalidInput(format!(
                    "hold_until {h} is not in the future"
                )));
            }
            if h > ctx.now + chrono::Duration::days(MAX_HOLD_DAYS) {
                return Err(DomainError::InvalidInput(format!(
                    "hold_until may be at most {MAX_HOLD_DAYS} days ahead"
                )));
            }
            BookingStatus::Provisional
        }
    };
    validate::notes("notes", n.notes)?;
    // Priced once, here, and stored: a plan's restrictions refuse before anything is taken.
    let booked_price = match n.pricing {
        Some(req) => Some(super::booking_price::price(
            view, &prop, &rt, nights, n.units, req,
        )?),
        None => None,
    };
    let mut writes = vec![];
    let guest = match n.guest {
        GuestInput::Existing(id) => super::guests::for_new_booking(view, id)?,
        GuestInput::New { name, email, phone } => {
            let g = new_guest(ids, ctx, name, email.as_deref(), phone.as_deref())?;
            writes.push(Record::Guest(g.clone()));
            g
        }
    };
    // Sold from this server's own allotment: what it holds and has not sold, never beyond
    // the night's rooms as far as it knows.
    let holder = ctx.write_authority();
    let have = held(view, &prop, n.room_type, &holder, nights)?;
    ensure_sellable(&have, &prop, n.room_type, &holder, n.units)?;
    let price = match &booked_price {
        Some(p) if !p.nightly.is_empty() => Some(Money {
            amount: p.total,
            currency: p.currency.clone(),
        }),
        Some(_) => None,
        None => view.rate_plan(n.property, n.room_type)?.and_then(|plan| {
            rates::total(&plan, nights, n.units).map(|amount| Money {
                amount,
                currency: plan.currency.clone(),
            })
        }),
    };
    let meta = fresh(ids, holder.clone());
    let reservation_number = Some(ids.next_reservation_number()?);
    let b = Booking {
        meta,
        property: n.property.to_string(),
        room_type: n.room_type.to_string(),
        arrival: n.arrival,
        departure: n.departure,
        units: n.units,
        guest_id: guest.meta.id.clone(),
        guest_name: guest.name.clone(),
        reservation_number,
        status,
        hold_until: n.hold_until,
        holder,
        stays: vec![],
        price,
        pricing: booked_price,
        notes: n.notes.map(str::to_string),
        cancel_reason: None,
        created_on: ctx.server.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let detail = format!(
        "{}/{} {}..{} x{} for {} ({})",
        b.property,
        b.room_type,
        b.arrival,
        b.departure,
        b.units,
        b.guest_name,
        b.status.as_str()
    );
    let mut d = Decision::one(Record::Booking(b), "booking.create", detail);
    for w in &writes {
        d.audit.push(AuditEntry {
            action: "guest.create".into(),
            record: w.meta().id.clone(),
            detail: format!("for booking {}", d.writes[0].meta().id),
        });
    }
    if let Outcome::Written { related, .. } = &mut d.outcome {
        related.extend(writes.iter().cloned());
    }
    writes.append(&mut d.writes);
    d.writes = writes;
    Ok(d)
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
