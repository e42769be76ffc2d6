//! The reference data a store test sells from, as commands: properties, room types, rooms,
//! rates and grants. Shared so that a test's set-up reads as what is in it, not how a command
//! is spelled (the core's tests have the same builders in their own `common`).

use chrono::NaiveDate;
use innsync_core::{Authority, Command};

/// A property in UTC, its currency given or left to its first rate.
pub fn property(code: &str, name: &str, currency: Option<&str>) -> Command {
    Command::CreateProperty {
        code: code.into(),
        name: name.into(),
        timezone: "UTC".into(),
        currency: currency.map(Into::into),
    }
}

/// A room type of `property` sleeping `max_occupancy`.
pub fn room_type(property: &str, code: &str, name: &str, max_occupancy: u32) -> Command {
    Command::CreateRoomType {
        property: property.into(),
        code: code.into(),
        name: name.into(),
        max_occupancy,
    }
}

/// A room of `property` of `room_type`.
pub fn room(property: &str, number: &str, room_type: &str) -> Command {
    Command::CreateRoom {
        property: property.into(),
        number: number.into(),
        room_type: room_type.into(),
    }
}

/// A nightly rate in ZAR for the nights `[from, to)`.
pub fn rate(
    property: &str,
    room_type: &str,
    from: NaiveDate,
    to: NaiveDate,
    amount: i64,
) -> Command {
    Command::SetRate {
        property: property.into(),
        room_type: room_type.into(),
        from,
        to,
        amount,
        currency: "ZAR".into(),
    }
}

/// `units` a night of `room_type` for `[from, to)` granted by the writer's own holder to
/// `to_holder`, by hand.
pub fn grant(
    property: &str,
    room_type: &str,
    from: NaiveDate,
    to: NaiveDate,
    units: u32,
    to_holder: Authority,
) -> Command {
    Command::GrantAllotment {
        property: property.into(),
        room_type: room_type.into(),
        from,
        to,
        units,
        to_holder,
        from_holder: None,
        reason: None,
    }
}
