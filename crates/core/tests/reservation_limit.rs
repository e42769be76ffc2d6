//! The named limit on a reservation's size, decided by the core over the model: a reservation
//! is created with at most `MAX_RESERVATION_LINES` lines, a line is added only while it holds
//! fewer, and a refusal (too many lines at once, or one line too many later) writes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test that cannot go on fails, loudly"
)]

mod common;

use chrono::{DateTime, Days, NaiveDate, Utc};
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::{
    Command, Ctx, DomainError, GuestInput, InitialStatus, Outcome, Record, RecordId,
    ReservationLine, ServerCode, MAX_RESERVATION_LINES,
};
use proptest::prelude::*;

struct World {
    state: MemState,
    server: ServerCode,
    ids: CounterIds,
    now: DateTime<Utc>,
    bookings: Vec<RecordId>,
}

impl World {
    /// ENV, env-owned on the master WB: DBL, 2 rooms, 1 000.00 a night for 300 days.
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
            now: "2026-12-01T08:00:00Z".parse().unwrap(),
            bookings: vec![],
        };
        let (from, to) = (w.day(0), w.day(300));
        for c in [
            Command::CreateProperty {
                code: "ENV".into(),
                name: "Env lodge".into(),
                timezone: "UTC".into(),
                currency: Some("ZAR".into()),
            },
            Command::CreateRoomType {
                property: "ENV".into(),
                code: "DBL".into(),
                name: "Double".into(),
                max_occupancy: 2,
            },
            Command::CreateRoom {
                property: "ENV".into(),
                number: "1".into(),
                room_type: "DBL".into(),
            },
            Command::CreateRoom {
                property: "ENV".into(),
                number: "2".into(),
                room_type: "DBL".into(),
            },
            Command::SetRate {
                property: "ENV".into(),
                room_type: "DBL".into(),
                from,
                to,
                amount: 100_000,
                currency: "ZAR".into(),
            },
        ] {
            w.run(&c).unwrap();
        }
        w
    }

    fn day(&self, n: u64) -> NaiveDate {
        self.now.date_naive() + Days::new(n)
    }

    fn run(&mut self, cmd: &Command) -> Result<Outcome, DomainError> {
        let holders = [self.server.clone()];
        let master = self.server.clone();
        let ctx = Ctx {
            now: self.now,
            server: &self.server,
            master: Some(&master),
            actor: "test",
            property_owners: &[],
            epoch: 1,
            frozen: false,
            holders: &holders,
            archives: &[],
        };
        common::run(
            &mut self.state,
            &mut self.ids,
            &ctx,
            cmd,
            &mut self.bookings,
        )
    }

    /// One room of DBL for night `n` (one line a night, so stock never runs out here).
    fn line(&self, n: u64) -> ReservationLine {
        ReservationLine {
            room_type: "DBL".into(),
            arrival: Some(self.day(n)),
            departure: Some(self.day(n + 1)),
            units: 1,
            pricing: None,
        }
    }

    /// A reservation of `count` lines on nights 1, 2, …: its first line's id.
    fn reserve(&mut self, count: u64) -> Result<RecordId, DomainError> {
        let lines = (1..=count).map(|n| self.line(n)).collect();
        let cmd = Command::CreateReservation {
            property: "ENV".into(),
            arrival: None,
            departure: None,
            lines,
            guest: GuestInput::New {
                name: "Tour group".into(),
                email: None,
                phone: Some("+27 21 555 0100".into()),
            },
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: None,
            agent: None,
        };
        match self.run(&cmd)? {
            Outcome::Written {
                record: Record::Booking(b),
                ..
            } => Ok(b.meta.id),
            other => panic!("{other:?}"),
        }
    }

    fn add_line(&mut self, reservation: &RecordId, night: u64) -> Result<Outcome, DomainError> {
        let line = self.line(night);
        self.run(&Command::AddReservationLine {
            reservation: reservation.clone(),
            line,
        })
    }

    fn bookings_written(&self) -> usize {
        self.state
            .records()
            .filter(|r| matches!(r, Record::Booking(_)))
            .count()
    }
}

fn too_many(r: Result<impl std::fmt::Debug, DomainError>) -> String {
    match r {
        Err(DomainError::InvalidInput(m)) => {
            assert!(m.starts_with("lines:"), "{m}");
            m
        }
        other => panic!("expected the line limit, got {other:?}"),
    }
}

#[test]
fn a_reservation_holds_at_most_the_named_number_of_lines() {
    assert_eq!(MAX_RESERVATION_LINES, 50);
    let max = MAX_RESERVATION_LINES as u64;
    let mut w = World::new();
    // One line over at creation: refused whole, nothing written (`common::run` checks).
    let m = too_many(w.reserve(max + 1));
    assert!(m.contains("at most 50"), "{m}");
    assert_eq!(w.bookings_written(), 0);
    // Exactly the limit: accepted, every line written.
    let full = w.reserve(max).unwrap();
    assert_eq!(w.bookings_written(), MAX_RESERVATION_LINES);
    // One more line later, given any of its lines: refused, naming the limit.
    let m = too_many(w.add_line(&full, max + 1));
    assert!(m.contains("already holds 50 lines"), "{m}");
    let some_line = w
        .state
        .records()
        .find_map(|r| match r {
            Record::Booking(b) if b.meta.id != full => Some(b.meta.id.clone()),
            _ => None,
        })
        .unwrap();
    too_many(w.add_line(&some_line, max + 2));
    assert_eq!(w.bookings_written(), MAX_RESERVATION_LINES);
}

#[test]
fn lines_are_added_up_to_the_limit_and_not_beyond() {
    let max = MAX_RESERVATION_LINES as u64;
    let mut w = World::new();
    // A one-line booking (no reservation reference yet) grows line by line to the limit.
    let first = w.reserve(1).unwrap();
    for night in 2..=max {
        w.add_line(&first, night).unwrap();
    }
    assert_eq!(w.bookings_written(), MAX_RESERVATION_LINES);
    too_many(w.add_line(&first, max + 1));
    assert_eq!(w.bookings_written(), MAX_RESERVATION_LINES);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// A reservation of `n` lines is accepted exactly when `n` is within the limit, and adding
    /// `k` lines to one of `n` succeeds exactly while the total stays within it.
    #[test]
    fn accepted_exactly_within_the_limit(n in 1u64..=55, k in 0u64..=6) {
        let max = MAX_RESERVATION_LINES as u64;
        let mut w = World::new();
        let r = w.reserve(n);
        prop_assert_eq!(r.is_ok(), n <= max);
        let Ok(first) = r else { return Ok(()) };
        for i in 0..k {
            let added = w.add_line(&first, n + 1 + i);
            prop_assert_eq!(added.is_ok(), n + i < max, "line {} of {}", n + i + 1, max);
        }
        prop_assert_eq!(w.bookings_written() as u64, (n + k).min(max));
    }
}
