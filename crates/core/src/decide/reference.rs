//! Reference data: properties, room types, rooms (and their out-of-order periods), rates, users.

use super::{bumped, fresh, validate, Ctx, Decision};
use crate::command::Command;
use crate::dates::{parse_tz, Nights};
use crate::error::DomainError;
use crate::ids::IdSource;
use crate::limits::{
    MAX_AMOUNT, MAX_OUT_OF_ORDER_PERIODS, MAX_RANGE_NIGHTS, MAX_RATE_PERIODS, MAX_TEXT_LEN,
    MAX_USER_LIST,
};
use crate::rates::with_period;
use crate::record::{OutOfOrder, Property, RatePeriod, RatePlan, Record, Room, RoomType, User};
use crate::state_view::StateView;
use crate::stock::first_short_night;
use chrono::NaiveDate;

pub(super) fn decide_reference(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    match cmd {
        Command::CreateProperty { .. } => create_property(cmd, view, ids, ctx),
        Command::CreateRoomType { .. } => create_room_type(cmd, view, ids, ctx),
        Command::CreateRoom { .. } => create_room(cmd, view, ids, ctx),
        Command::SetOutOfOrder { .. } => set_out_of_order(cmd, view, ids, ctx),
        Command::ClearOutOfOrder { .. } => clear_out_of_order(cmd, view, ids, ctx),
        Command::SetRoomStatus { .. } => set_room_status(cmd, view, ids, ctx),
        Command::SetRate { .. } => set_rate(cmd, view, ids, ctx),
        Command::CreateUser { .. } => create_user(cmd, view, ids, ctx),
        _ => unreachable!("reference::decide_reference called for {}", cmd.name()),
    }
}

/// Decides `CreateProperty`.
fn create_property(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    let Command::CreateProperty {
        code,
        name,
        timezone,
        currency,
    } = cmd
    else {
        unreachable!("reference::create_property called for {}", cmd.name());
    };
    let action = cmd.name();
    let owner = ctx.property_authority(code);
    ctx.ensure_writable(&owner)?;
    validate::code("code", code)?;
    validate::name("name", name)?;
    parse_tz(timezone).map_err(DomainError::InvalidInput)?;
    if let Some(c) = currency {
        validate::currency(c)?;
    }
    if view.property(code)?.is_some() {
        return Err(DomainError::AlreadyExists(format!("property {code}")));
    }
    let p = Property {
        meta: fresh(ids, owner),
        code: code.clone(),
        name: name.trim().to_string(),
        timezone: timezone.clone(),
        currency: currency.clone(),
    };
    let detail = format!("{} {:?} ({})", p.code, p.name, p.timezone);
    Ok(Decision::one(Record::Property(p), action, detail))
}

/// Decides `CreateRoomType`.
fn create_room_type(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    let Command::CreateRoomType {
        property,
        code,
        name,
        max_occupancy,
    } = cmd
    else {
        unreachable!("reference::create_room_type called for {}", cmd.name());
    };
    let action = cmd.name();
    let prop = property_of(view, property)?;
    ctx.ensure_writable(&prop.meta.owner)?;
    validate::code("code", code)?;
    validate::name("name", name)?;
    if !(1..=50).contains(max_occupancy) {
        return Err(DomainError::InvalidInput(format!(
            "max_occupancy must be between 1 and 50; got {max_occupancy}"
        )));
    }
    if view.room_type(property, code)?.is_some() {
        return Err(DomainError::AlreadyExists(format!(
            "room type {code} at {property}"
        )));
    }
    let rt = RoomType {
        meta: fresh(ids, prop.meta.owner.clone()),
        property: property.clone(),
        code: code.clone(),
        name: name.trim().to_string(),
        max_occupancy: *max_occupancy,
    };
    let detail = format!("{property}/{code} {:?}", rt.name);
    Ok(Decision::one(Record::RoomType(rt), action, detail))
}

/// Decides `CreateRoom`.
fn create_room(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    let Command::CreateRoom {
        property,
        number,
        room_type,
    } = cmd
    else {
        unreachable!("reference::create_room called for {}", cmd.name());
    };
    let action = cmd.name();
    let prop = property_of(view, property)?;
    ctx.ensure_writable(&prop.meta.owner)?;
    validate::room_number(number)?;
    room_type_of(view, property, room_type)?;
    if view.room(property, number)?.is_some() {
        return Err(DomainError::AlreadyExists(format!(
            "room {number} at {property}"
        )));
    }
    let room = Room {
        meta: fresh(ids, prop.meta.owner.clone()),
        property: property.clone(),
        number: number.clone(),
        room_type: room_type.clone(),
        out_of_order: vec![],
        housekeeping: None,
        message_waiting: false,
    };
    let detail = format!("{property}/{number} ({room_type})");
    Ok(Decision::one(Record::Room(room), action, detail))
}

/// Decides `SetOutOfOrder`.
fn set_out_of_order(
    cmd: &Command,
    view: &dyn StateView,
    _ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    let Command::SetOutOfOrder {
        property,
        number,
        from,
        to,
        reason,
    } = cmd
    else {
        unreachable!("reference::set_out_of_order called for {}", cmd.name());
    };
    let action = cmd.name();
    let room = room_of(view, property, number)?;
    ctx.ensure_writable(&room.meta.owner)?;
    let nights = range(*from, *to)?;
    validate::name("reason", reason)?;
    validate::text("reason", reason, MAX_TEXT_LEN)?;
    if room.out_of_order.len() >= MAX_OUT_OF_ORDER_PERIODS {
        return Err(DomainError::InvalidInput(format!(
            "room {number} already has {MAX_OUT_OF_ORDER_PERIODS} out-of-order periods"
        )));
    }
    if let Some(o) = view.room_occupancy(property, number, nights)?.first() {
        return Err(DomainError::RoomUnavailable(format!(
            "room {number} is occupied on {} by booking {}; move the guest first",
            o.night, o.booking
        )));
    }
    // The room leaves service on the nights it is in service now; each such night must
    // keep sold <= in service.
    let stock = view.night_stock(property, &room.room_type, nights)?;
    let leaving: Vec<_> = stock
        .iter()
        .filter(|s| room.in_service_on(s.night))
        .map(|s| crate::stock::NightStock {
            in_service: s.in_service.saturating_sub(1),
            ..*s
        })
        .collect();
    if let Some(short) = first_short_night(&leaving, 0) {
        return Err(DomainError::NoAvailability {
            property: property.clone(),
            room_type: room.room_type.clone(),
            night: short.night,
            requested: 1,
            free: short.free(),
            in_service: short.in_service + 1,
        });
    }
    let mut next = room.clone();
    next.meta = bumped(&room.meta);
    next.out_of_order.push(OutOfOrder {
        from: *from,
        to: *to,
        reason: reason.trim().to_string(),
    });
    next.out_of_order.sort_by_key(|o| o.from);
    let detail = format!("{property}/{number} out of order {from}..{to}: {reason}");
    Ok(Decision::one(Record::Room(next), action, detail))
}

/// Decides `ClearOutOfOrder`.
fn clear_out_of_order(
    cmd: &Command,
    view: &dyn StateView,
    _ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    let Command::ClearOutOfOrder {
        property,
        number,
        from,
        to,
    } = cmd
    else {
        unreachable!("reference::clear_out_of_order called for {}", cmd.name());
    };
    let action = cmd.name();
    let room = room_of(view, property, number)?;
    ctx.ensure_writable(&room.meta.owner)?;
    let cleared = range(*from, *to)?;
    let mut next = room.clone();
    next.meta = bumped(&room.meta);
    next.out_of_order = room
        .out_of_order
        .iter()
        .flat_map(|o| {
            let mut keep = vec![];
            if o.from < cleared.from {
                keep.push(OutOfOrder {
                    to: o.to.min(cleared.from),
                    ..o.clone()
                });
            }
            if o.to > cleared.to {
                keep.push(OutOfOrder {
                    from: o.from.max(cleared.to),
                    ..o.clone()
                });
            }
            keep
        })
        .collect();
    if next.out_of_order == room.out_of_order {
        return Err(DomainError::InvalidInput(format!(
            "room {number} is not out of order between {from} and {to}"
        )));
    }
    let detail = format!("{property}/{number} back in service {from}..{to}");
    Ok(Decision::one(Record::Room(next), action, detail))
}

/// Decides `SetRoomStatus`.
fn set_room_status(
    cmd: &Command,
    view: &dyn StateView,
    _ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    let Command::SetRoomStatus {
        property,
        number,
        housekeeping,
        message_waiting,
    } = cmd
    else {
        unreachable!("reference::set_room_status called for {}", cmd.name());
    };
    let action = cmd.name();
    let room = room_of(view, property, number)?;
    ctx.ensure_writable(&room.meta.owner)?;
    if let Some(h) = housekeeping {
        if !crate::pms::HOUSEKEEPING.contains(&h.as_str()) {
            return Err(DomainError::InvalidInput(format!(
                "housekeeping must be one of {}; got {h:?}",
                crate::pms::HOUSEKEEPING.join(", ")
            )));
        }
    }
    let mut next = room.clone();
    next.meta = bumped(&room.meta);
    if let Some(h) = housekeeping {
        next.housekeeping = Some(h.clone());
    }
    if let Some(mw) = message_waiting {
        next.message_waiting = *mw;
    }
    let detail = format!(
        "{property}/{number} housekeeping {} message waiting {}",
        next.housekeeping.as_deref().unwrap_or("unknown"),
        if next.message_waiting { "on" } else { "off" }
    );
    Ok(Decision::one(Record::Room(next), action, detail))
}

/// Decides `SetRate`.
fn set_rate(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    let Command::SetRate {
        property,
        room_type,
        from,
        to,
        amount,
        currency,
    } = cmd
    else {
        unreachable!("reference::set_rate called for {}", cmd.name());
    };
    let action = cmd.name();
    let prop = property_of(view, property)?;
    ctx.ensure_writable(&prop.meta.owner)?;
    room_type_of(view, property, room_type)?;
    range(*from, *to)?;
    validate::currency(currency)?;
    if !(0..=MAX_AMOUNT).contains(amount) {
        return Err(DomainError::InvalidInput(format!(
            "amount must be between 0 and {MAX_AMOUNT} minor units; got {amount}"
        )));
    }
    let mut writes = vec![];
    match &prop.currency {
        Some(c) if c != currency => {
            return Err(DomainError::InvalidInput(format!(
                "{property} sells in {c}; a rate in {currency} cannot be set"
            )))
        }
        Some(_) => {}
        None => {
            let mut p = prop.clone();
            p.meta = bumped(&prop.meta);
            p.currency = Some(currency.clone());
            writes.push(Record::Property(p));
        }
    }
    let period = RatePeriod {
        from: *from,
        to: *to,
        amount: *amount,
    };
    let plan = match view.rate_plan(property, room_type)? {
        Some(old) => RatePlan {
            meta: bumped(&old.meta),
            periods: with_period(&old.periods, period),
            ..old
        },
        None => RatePlan {
            meta: fresh(ids, prop.meta.owner.clone()),
            property: property.clone(),
            room_type: room_type.clone(),
            currency: currency.clone(),
            periods: vec![period],
        },
    };
    if plan.periods.len() > MAX_RATE_PERIODS {
        return Err(DomainError::InvalidInput(format!(
            "{property}/{room_type} would have more than {MAX_RATE_PERIODS} rate periods"
        )));
    }
    let detail = format!("{property}/{room_type} {from}..{to} at {amount} {currency}");
    let mut d = Decision::one(Record::RatePlan(plan), action, detail);
    writes.append(&mut d.writes);
    d.writes = writes;
    Ok(d)
}

/// Decides `CreateUser`.
fn create_user(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    let Command::CreateUser {
        username,
        password_hash,
        roles,
        servers,
    } = cmd
    else {
        unreachable!("reference::create_user called for {}", cmd.name());
    };
    let action = cmd.name();
    ctx.ensure_master()?;
    validate::username(username)?;
    if password_hash.is_empty() {
        return Err(DomainError::InvalidInput(
            "password must not be empty".into(),
        ));
    }
    if roles.is_empty() || roles.len() > MAX_USER_LIST || servers.len() > MAX_USER_LIST {
        return Err(DomainError::InvalidInput(format!(
            "a user needs 1 to {MAX_USER_LIST} roles and at most {MAX_USER_LIST} servers"
        )));
    }
    if view.user(username)?.is_some() {
        return Err(DomainError::AlreadyExists(format!("user {username}")));
    }
    let mut roles = roles.clone();
    roles.sort();
    roles.dedup();
    let u = User {
        meta: fresh(ids, ctx.write_authority()),
        username: username.clone(),
        password_hash: password_hash.clone(),
        roles,
        servers: servers.clone(),
        disabled: false,
    };
    let detail = format!("{username} roles {:?}", u.roles);
    Ok(Decision::one(Record::User(u), action, detail))
}

fn range(from: NaiveDate, to: NaiveDate) -> Result<Nights, DomainError> {
    Nights::new(from, to, MAX_RANGE_NIGHTS).map_err(DomainError::InvalidInput)
}

pub(super) fn property_of(view: &dyn StateView, code: &str) -> Result<Property, DomainError> {
    view.property(code)?
        .ok_or_else(|| DomainError::NotFound(format!("property {code}")))
}

pub(super) fn room_type_of(
    view: &dyn StateView,
    property: &str,
    code: &str,
) -> Result<RoomType, DomainError> {
    view.room_type(property, code)?
        .ok_or_else(|| DomainError::NotFound(format!("room type {code} at {property}")))
}

pub(super) fn room_of(
    view: &dyn StateView,
    property: &str,
    number: &str,
) -> Result<Room, DomainError> {
    view.room(property, number)?
        .ok_or_else(|| DomainError::NotFound(format!("room {number} at {property}")))
}
