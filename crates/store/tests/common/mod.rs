//! What the store's integration tests share: a server's store opened at a fixed time in a
//! small environment, and one server pulling another's changes until it has them all.
#![allow(dead_code, reason = "each test crate uses part of it")]

pub mod reference;

#[allow(
    unused_imports,
    reason = "each test file uses its own few of the builders"
)]
pub use reference::{grant, property, rate, room, room_type};

use chrono::{DateTime, Utc};
use innsync_core::ServerCode;
use innsync_store::{Clock, ReadPool, Writer, WriterSettings};
use std::sync::Arc;

/// Opens `me`'s store in `dir`, at 2026-12-01T08:00Z for ever, in an environment of `all`
/// (the first its initial master, every one a holder) whose properties `owners` owns.
pub fn open(
    dir: &std::path::Path,
    me: &ServerCode,
    all: &[ServerCode],
    owners: &[(&str, &ServerCode)],
) -> (Writer, ReadPool) {
    let now: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
    let clock: Clock = Arc::new(move || now);
    Writer::open(
        dir,
        me.clone(),
        clock,
        WriterSettings {
            initial_master: Some(all[0].clone()),
            property_owners: owners
                .iter()
                .map(|(p, s)| (p.to_string(), (*s).clone()))
                .collect(),
            holders: all.to_vec(),
            ..WriterSettings::default()
        },
    )
    .unwrap()
}

/// `to` pulls `from`'s changes beyond its cursors until there are none left it can apply.
pub async fn pull(to: (&Writer, &ReadPool), from: &ReadPool) {
    loop {
        let batch = from.changes_after(&to.1.cursors().unwrap(), 500).unwrap();
        if batch.is_empty() {
            return;
        }
        let r = to.0.replicate(batch).await.unwrap();
        if r.applied == 0 && r.conflicts == 0 {
            return;
        }
    }
}

/// A clock that stays at `t` (RFC 3339): every write of the test happens at that moment.
pub fn fixed_clock(t: &str) -> Clock {
    let t: DateTime<Utc> = t.parse().unwrap();
    Arc::new(move || t)
}

/// A date from `YYYY-MM-DD`.
pub fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

/// WB's store in `dir` on its own: the default settings (WB its own master), at `clock`.
pub fn open_alone(dir: &std::path::Path, clock: Clock) -> (Writer, ReadPool) {
    Writer::open(
        dir,
        ServerCode::parse("WB").unwrap(),
        clock,
        WriterSettings::default(),
    )
    .unwrap()
}

/// Books one unit of KRL's type `A` for 2026-12-01..03 for a new guest `guest` on `w` and checks
/// them into `room`; the booking's id. The stay the fencing and blocked-change scenarios move
/// between rooms.
pub async fn book_and_check_in(w: &Writer, guest: &str, room: &str) -> innsync_core::RecordId {
    use innsync_core::{Command, GuestInput, InitialStatus, Outcome, Record};
    let out = w
        .submit(
            Command::CreateBooking {
                property: "KRL".into(),
                room_type: "A".into(),
                arrival: d("2026-12-01"),
                departure: d("2026-12-03"),
                units: 1,
                guest: GuestInput::New {
                    name: guest.into(),
                    email: None,
                    phone: None,
                },
                status: InitialStatus::Confirmed,
                hold_until: None,
                notes: None,
                pricing: None,
            },
            "desk",
            None,
        )
        .await
        .unwrap();
    let id = match out.outcome() {
        Outcome::Written {
            record: Record::Booking(b),
            ..
        } => b.meta.id.clone(),
        other => panic!("booked: {other:?}"),
    };
    let checked_in = w
        .submit(
            Command::CheckIn {
                id: id.clone(),
                room: Some(room.into()),
                if_match: None,
            },
            "desk",
            None,
        )
        .await
        .unwrap();
    assert!(
        matches!(checked_in, innsync_store::WriteOutcome::Done(_)),
        "{checked_in:?}"
    );
    id
}
