//! The pieces every test world is built from: its servers and their id counters, the context a
//! server decides in, and the reference data (properties, room types, rooms, rates, grants) as
//! commands. Shared so that a world reads as what is in it, not how a command is spelled.

use chrono::{DateTime, NaiveDate, Utc};
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::{Authority, Command, Ctx, DomainError, IdSource, Outcome, RecordId, ServerCode};

/// The servers of a world, by code, in the order the test's constants index them.
pub fn servers(codes: &[&str]) -> Vec<ServerCode> {
    codes
        .iter()
        .map(|c| ServerCode::parse(c).unwrap())
        .collect()
}

/// One fresh id counter for each server: nothing created yet.
pub fn counters(servers: &[ServerCode]) -> Vec<CounterIds> {
    servers
        .iter()
        .map(|s| CounterIds {
            server: s.clone(),
            last: 0,
            last_reservation: 0,
        })
        .collect()
}

/// The context `server` decides in at `now`: `master` holds the token at epoch 1, `owners` own
/// their properties, every server in `holders` may hold allotments; no archive, not frozen.
pub fn ctx<'a>(
    now: DateTime<Utc>,
    server: &'a ServerCode,
    master: &'a ServerCode,
    owners: &'a [(String, ServerCode)],
    holders: &'a [ServerCode],
) -> Ctx<'a> {
    Ctx {
        now,
        server,
        master: Some(master),
        actor: "test",
        property_owners: owners,
        epoch: 1,
        frozen: false,
        holders,
        archives: &[],
    }
}

/// [`super::run`], then the model's invariants checked from scratch: what every world's `run`
/// does after each command.
pub fn run_checked(
    state: &mut MemState,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    cmd: &Command,
    bookings: &mut Vec<RecordId>,
) -> Result<Outcome, DomainError> {
    let out = super::run(state, ids, ctx, cmd, bookings)?;
    assert_eq!(state.check_invariants(), Ok(()), "after {cmd:?}");
    Ok(out)
}

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
