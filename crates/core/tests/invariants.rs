//! Random command sequences against the in-memory model: after every step the invariants hold
//! (no oversold night, no room held twice, derived counters equal to the records), and every
//! refusal wrote nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::{
    decide, Command, Ctx, DomainError, GuestInput, InitialStatus, RecordId, ServerCode,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Book {
        day: u8,
        nights: u8,
        units: u8,
        ty: bool,
        provisional: bool,
    },
    Act {
        which: u8,
        booking: u16,
        room: u8,
    },
    OutOfOrder {
        room: u8,
        day: u8,
        nights: u8,
        clear: bool,
    },
    Wait {
        hours: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..20, 1u8..6, 1u8..4, any::<bool>(), any::<bool>())
            .prop_map(|(day, nights, units, ty, provisional)| Step::Book { day, nights, units, ty, provisional }),
        4 => (0u8..8, any::<u16>(), 0u8..6).prop_map(|(which, booking, room)| Step::Act { which, booking, room }),
        1 => (0u8..6, 0u8..20, 1u8..5, any::<bool>()).prop_map(|(room, day, nights, clear)| Step::OutOfOrder { room, day, nights, clear }),
        1 => (1u8..30).prop_map(|hours| Step::Wait { hours }),
    ]
}

const ROOMS: [(&str, &str); 6] = [
    ("101", "A"),
    ("102", "A"),
    ("103", "A"),
    ("104", "A"),
    ("201", "B"),
    ("202", "B"),
];

struct World {
    state: MemState,
    ids: CounterIds,
    server: ServerCode,
    now: DateTime<Utc>,
    bookings: Vec<RecordId>,
}

impl World {
    fn new() -> Self {
        let server = ServerCode::parse("WB").unwrap();
        let mut w = World {
            state: MemState::default(),
            ids: CounterIds {
                server: server.clone(),
                last: 0,
                last_reservation: 0,
            },
            server,
            now: "2026-11-23T08:00:00Z".parse().unwrap(),
            bookings: vec![],
        };
        let setup = [
            common::property("KRL", "Kraal", Some("ZAR")),
            common::room_type("KRL", "A", "A", 2),
            common::room_type("KRL", "B", "B", 2),
        ];
        for c in setup {
            w.run(&c).unwrap();
        }
        for (n, t) in ROOMS {
            w.run(&common::room("KRL", n, t)).unwrap();
        }
        w
    }

    fn day(&self, d: u8) -> NaiveDate {
        self.now.date_naive() + chrono::Days::new(u64::from(d))
    }

    fn run(&mut self, cmd: &Command) -> Result<(), DomainError> {
        let ctx = Ctx {
            now: self.now,
            server: &self.server,
            master: Some(&self.server),
            actor: "test",
            property_owners: &[],
            epoch: 1,
            frozen: false,
            holders: &[],
            archives: &[],
        };
        common::run(
            &mut self.state,
            &mut self.ids,
            &ctx,
            cmd,
            &mut self.bookings,
        )
        .map(|_| ())
    }
}

fn command(w: &World, s: &Step) -> Option<Command> {
    Some(match s.clone() {
        Step::Book {
            day,
            nights,
            units,
            ty,
            provisional,
        } => Command::CreateBooking {
            property: "KRL".into(),
            room_type: if ty { "A" } else { "B" }.into(),
            arrival: w.day(day),
            departure: w.day(day + nights),
            units: u32::from(units),
            guest: GuestInput::New {
                name: "Guest".into(),
                email: None,
                phone: None,
            },
            status: if provisional {
                InitialStatus::Provisional
            } else {
                InitialStatus::Confirmed
            },
            hold_until: provisional.then(|| w.now + Duration::hours(12)),
            notes: None,
            pricing: None,
        },
        Step::Act {
            which,
            booking,
            room,
        } => {
            if w.bookings.is_empty() {
                return None;
            }
            let id = w.bookings[booking as usize % w.bookings.len()].clone();
            let room = ROOMS[room as usize].0.to_string();
            match which {
                0 => Command::ConfirmBooking { id, if_match: None },
                1 => Command::CancelBooking {
                    id,
                    reason: None,
                    if_match: None,
                },
                2 => Command::CheckIn {
                    id,
                    room: Some(room),
                    if_match: None,
                },
                3 => Command::CheckOut { id, if_match: None },
                4 => Command::NoShow { id, if_match: None },
                5 => Command::AssignRoom {
                    id,
                    room,
                    if_match: None,
                },
                6 => Command::MoveRoom {
                    id,
                    room,
                    if_match: None,
                },
                _ => Command::ExpireHolds,
            }
        }
        Step::OutOfOrder {
            room,
            day,
            nights,
            clear,
        } => {
            let number = ROOMS[room as usize].0.to_string();
            let (from, to) = (w.day(day), w.day(day + nights));
            if clear {
                Command::ClearOutOfOrder {
                    property: "KRL".into(),
                    number,
                    from,
                    to,
                }
            } else {
                Command::SetOutOfOrder {
                    property: "KRL".into(),
                    number,
                    from,
                    to,
                    reason: "works".into(),
                }
            }
        }
        Step::Wait { .. } => Command::ExpireHolds,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn invariants_hold_after_every_command(steps in prop::collection::vec(step(), 1..120)) {
        let mut w = World::new();
        for s in &steps {
            if let Step::Wait { hours } = s {
                w.now += Duration::hours(i64::from(*hours));
            }
            if let Some(cmd) = command(&w, s) {
                let _ = w.run(&cmd);
            }
            prop_assert_eq!(w.state.check_invariants(), Ok(()), "after {:?}", s);
        }
    }
}

#[test]
fn the_last_room_is_sold_once() {
    let mut w = World::new();
    let book = |w: &World| Command::CreateBooking {
        property: "KRL".into(),
        room_type: "B".into(),
        arrival: w.day(1),
        departure: w.day(3),
        units: 1,
        guest: GuestInput::New {
            name: "G".into(),
            email: None,
            phone: None,
        },
        status: InitialStatus::Confirmed,
        hold_until: None,
        notes: None,
        pricing: None,
    };
    assert!(w.run(&book(&w)).is_ok());
    assert!(w.run(&book(&w)).is_ok());
    let err = w.run(&book(&w)).unwrap_err();
    assert_eq!(err.code().as_str(), "no_availability");
    assert!(err.to_string().contains("0 of 2 units free"), "{err}");
}

#[test]
fn a_lapsed_hold_is_released_and_cannot_be_confirmed() {
    let mut w = World::new();
    let cmd = Command::CreateBooking {
        property: "KRL".into(),
        room_type: "B".into(),
        arrival: w.day(1),
        departure: w.day(2),
        units: 2,
        guest: GuestInput::New {
            name: "G".into(),
            email: None,
            phone: None,
        },
        status: InitialStatus::Provisional,
        hold_until: Some(w.now + Duration::hours(1)),
        notes: None,
        pricing: None,
    };
    w.run(&cmd).unwrap();
    let id = w.bookings[0].clone();
    w.now += Duration::hours(2);
    let err = w
        .run(&Command::ConfirmBooking {
            id: id.clone(),
            if_match: None,
        })
        .unwrap_err();
    assert_eq!(err.code().as_str(), "invalid_transition");
    w.run(&Command::ExpireHolds).unwrap();
    let b = innsync_core::StateView::booking(&w.state, &id)
        .unwrap()
        .unwrap();
    assert_eq!(b.status, innsync_core::BookingStatus::Cancelled);
    // The two units are free again.
    assert!(w.run(&cmd_with_hold(&w)).is_ok());
}

fn cmd_with_hold(w: &World) -> Command {
    Command::CreateBooking {
        property: "KRL".into(),
        room_type: "B".into(),
        arrival: w.day(1),
        departure: w.day(2),
        units: 2,
        guest: GuestInput::New {
            name: "G".into(),
            email: None,
            phone: None,
        },
        status: InitialStatus::Confirmed,
        hold_until: None,
        notes: None,
        pricing: None,
    }
}

#[test]
fn a_slave_cannot_write_env_records_and_names_the_master() {
    let mut w = World::new();
    let rs = ServerCode::parse("RS").unwrap();
    let ctx = Ctx {
        now: w.now,
        server: &rs,
        master: Some(&w.server),
        actor: "t",
        property_owners: &[],
        epoch: 1,
        frozen: false,
        holders: &[],
        archives: &[],
    };
    let err = decide(
        &common::property("X", "X", None),
        &w.state,
        &mut w.ids,
        &ctx,
    )
    .unwrap_err();
    assert_eq!(err.code().as_str(), "not_master");
    assert!(err.to_string().contains("WB"));
}

#[test]
fn a_forced_takeover_takes_the_next_epoch_and_fences_the_old_master() {
    let mut w = World::new();
    let rs = ServerCode::parse("RS").unwrap();
    let ctx = Ctx {
        now: w.now,
        server: &rs,
        master: Some(&w.server),
        actor: "ops",
        property_owners: &[],
        epoch: 1,
        frozen: false,
        holders: &[],
        archives: &[],
    };
    let blank = Command::TakeOver {
        reason: " ".into(),
        old_master_seq: 7,
    };
    assert!(
        decide(&blank, &w.state, &mut w.ids, &ctx).is_err(),
        "a reason is required"
    );
    let d = decide(
        &Command::TakeOver {
            reason: "WB gone".into(),
            old_master_seq: 7,
        },
        &w.state,
        &mut w.ids,
        &ctx,
    )
    .unwrap();
    let innsync_core::Record::MasterToken(t) = &d.writes[0] else {
        panic!()
    };
    assert_eq!((t.server.as_str(), t.epoch, t.meta.version), ("RS", 2, 2));
    let f = t.fence.as_ref().unwrap();
    assert_eq!((f.server.as_str(), f.epoch, f.seq), ("WB", 1, 7));
    // The master itself cannot take over from itself.
    let own = Ctx {
        server: &w.server,
        ..ctx
    };
    assert!(decide(
        &Command::TakeOver {
            reason: "x".into(),
            old_master_seq: 1
        },
        &w.state,
        &mut w.ids,
        &own
    )
    .is_err());
}

#[test]
fn a_restored_booking_is_checked_like_any_booking() {
    let mut w = World::new();
    let book = |w: &World, name: &str| Command::CreateBooking {
        property: "KRL".into(),
        room_type: "B".into(),
        arrival: w.day(1),
        departure: w.day(2),
        units: 2,
        guest: GuestInput::New {
            name: name.into(),
            email: None,
            phone: None,
        },
        status: InitialStatus::Confirmed,
        hold_until: None,
        notes: None,
        pricing: None,
    };
    w.run(&book(&w, "First")).unwrap();
    let first = innsync_core::StateView::booking(&w.state, &w.bookings[0])
        .unwrap()
        .unwrap();
    w.run(&Command::CancelBooking {
        id: first.meta.id.clone(),
        reason: None,
        if_match: None,
    })
    .unwrap();
    w.run(&book(&w, "Second")).unwrap();
    // Restoring the first booking's confirmed state would sell the two rooms twice.
    let err = w
        .run(&Command::RestoreRecord {
            record: Box::new(innsync_core::Record::Booking(first)),
        })
        .unwrap_err();
    assert_eq!(err.code().as_str(), "no_availability");
}
