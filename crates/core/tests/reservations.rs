//! Reservations of several lines, edits and early check-out, decided by the core over the
//! model: all lines or none against the allotment, lines added and cancelled later, edits on the
//! owner with stock re-checked and the price re-computed by the plan's rule, and the property
//! that a reservation is accepted exactly when its lines, booked one after the other, would be.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use innsync_core::command::PricingRequest;
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::pricing::{
    Adjustment, ChildBand, OccupancyPrice, Party, PlanBasis, PlanSpec, Rounding, RoundingMode,
};
use innsync_core::{
    Booking, BookingEdit, BookingStatus, Command, DomainError, GuestInput, GuestPatch,
    InitialStatus, Outcome, Record, RecordId, ReservationLine, ServerCode,
};
use proptest::prelude::*;

const WB: usize = 0;
const RS: usize = 1;

#[derive(Clone)]
struct World {
    state: MemState,
    servers: Vec<ServerCode>,
    ids: Vec<CounterIds>,
    now: DateTime<Utc>,
    bookings: Vec<RecordId>,
}

impl World {
    /// ENV (env-owned, written on the master WB): FAM (2 rooms, max 4, 2 000.00 a night) and
    /// DBL (3 rooms, max 2, 1 000.00 a night); plans BAR (keeps booked rates on edit,
    /// refundable), NRF (BAR −10 %, non-refundable) and FLEX (BAR +0, re-priced on edit).
    fn new() -> Self {
        let servers = common::servers(&["WB", "RS"]);
        let mut w = World {
            state: MemState::default(),
            ids: common::counters(&servers),
            servers,
            now: "2026-12-01T08:00:00Z".parse().unwrap(),
            bookings: vec![],
        };
        let mut cmds = vec![common::property("ENV", "Env lodge", Some("ZAR"))];
        for (ty, max, rooms, amount) in [
            ("FAM", 4, ["1", "2"].as_slice(), 200_000),
            ("DBL", 2, ["11", "12", "13"].as_slice(), 100_000),
        ] {
            cmds.push(common::room_type("ENV", ty, ty, max));
            for r in rooms {
                cmds.push(common::room("ENV", r, ty));
            }
            cmds.push(Command::SetRate {
                property: "ENV".into(),
                room_type: ty.into(),
                from: w.day(0),
                to: w.day(300),
                amount,
                currency: "ZAR".into(),
            });
        }
        for c in cmds {
            w.run(WB, &c).unwrap();
        }
        for (code, spec) in [
            ("BAR", bar()),
            ("NRF", derived("NRF", -1_000, false, false)),
            ("FLEX", derived("FLEX", 0, true, true)),
        ] {
            w.run(
                WB,
                &Command::PutRatePlan {
                    property: "ENV".into(),
                    code: code.into(),
                    spec: Box::new(spec),
                    if_match: None,
                },
            )
            .unwrap();
        }
        w
    }

    fn day(&self, n: u64) -> NaiveDate {
        self.now.date_naive() + Days::new(n)
    }

    fn run(&mut self, at: usize, cmd: &Command) -> Result<Outcome, DomainError> {
        let ctx = common::ctx(
            self.now,
            &self.servers[at],
            &self.servers[WB],
            &[],
            &self.servers,
        );
        common::run_checked(
            &mut self.state,
            &mut self.ids[at],
            &ctx,
            cmd,
            &mut self.bookings,
        )
    }

    fn reserve(
        &mut self,
        at: usize,
        lines: Vec<ReservationLine>,
    ) -> Result<Vec<Booking>, DomainError> {
        let cmd = Command::CreateReservation {
            property: "ENV".into(),
            arrival: Some(self.day(10)),
            departure: Some(self.day(13)),
            lines,
            guest: GuestInput::New {
                name: "Family Dube".into(),
                email: Some("dube@example.com".into()),
                phone: None,
            },
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: Some("cot in room".into()),
            agent: None,
        };
        match self.run(at, &cmd)? {
            Outcome::Written {
                record: Record::Booking(b),
                related,
            } => {
                let mut all = vec![b];
                all.extend(related.into_iter().filter_map(|r| match r {
                    Record::Booking(b) => Some(b),
                    _ => None,
                }));
                Ok(all)
            }
            other => panic!("{other:?}"),
        }
    }

    fn booking(&self, id: &RecordId) -> Booking {
        self.state
            .records()
            .find_map(|r| match r {
                Record::Booking(b) if b.meta.id == *id => Some(b.clone()),
                _ => None,
            })
            .unwrap()
    }

    fn edit(
        &mut self,
        at: usize,
        id: &RecordId,
        edit: BookingEdit,
    ) -> Result<Booking, DomainError> {
        match self.run(
            at,
            &Command::EditBooking {
                id: id.clone(),
                edit: Box::new(edit),
                if_match: None,
            },
        )? {
            Outcome::Written {
                record: Record::Booking(b),
                ..
            } => Ok(b),
            other => panic!("{other:?}"),
        }
    }
}

fn bar() -> PlanSpec {
    PlanSpec {
        name: "Best available".into(),
        currency: None,
        basis: PlanBasis::Base,
        occupancy: vec![
            OccupancyPrice {
                room_type: "FAM".into(),
                amount: None,
                adults_included: 2,
                extra_adult: 40_000,
                children: vec![
                    ChildBand {
                        up_to_age: 2,
                        amount: 0,
                    },
                    ChildBand {
                        up_to_age: 12,
                        amount: 25_000,
                    },
                ],
                max_adults: Some(3),
            },
            OccupancyPrice {
                room_type: "DBL".into(),
                amount: None,
                adults_included: 2,
                extra_adult: 0,
                children: vec![],
                max_adults: Some(2),
            },
        ],
        seasons: vec![],
        restrictions: vec![],
        reprice_on_edit: false,
        refundable: true,
        deposit: Default::default(),
        cancellation: Default::default(),
    }
}

fn derived(name: &str, percent_bp: i64, reprice_on_edit: bool, refundable: bool) -> PlanSpec {
    PlanSpec {
        name: name.into(),
        currency: None,
        basis: PlanBasis::Derived {
            from: "BAR".into(),
            adjust: Adjustment::PercentBp(percent_bp),
            rounding: Rounding {
                step: 100,
                mode: RoundingMode::Nearest,
            },
        },
        occupancy: vec![],
        seasons: vec![],
        restrictions: vec![],
        reprice_on_edit,
        refundable,
        deposit: Default::default(),
        cancellation: Default::default(),
    }
}

fn line(
    room_type: &str,
    units: u32,
    plan: Option<&str>,
    adults: u32,
    children: &[u8],
) -> ReservationLine {
    ReservationLine {
        room_type: room_type.into(),
        arrival: None,
        departure: None,
        units,
        pricing: Some(PricingRequest {
            rate_plan: plan.map(str::to_string),
            party: Party {
                adults,
                children: children.to_vec(),
            },
        }),
    }
}

fn set_rate(w: &mut World, room_type: &str, amount: i64) {
    let (from, to) = (w.day(0), w.day(300));
    w.run(
        WB,
        &Command::SetRate {
            property: "ENV".into(),
            room_type: room_type.into(),
            from,
            to,
            amount,
            currency: "ZAR".into(),
        },
    )
    .unwrap();
}

#[test]
fn a_family_reservation_of_two_lines_with_a_child_on_a_derived_plan() {
    let mut w = World::new();
    let lines = w
        .reserve(
            WB,
            vec![
                line("FAM", 1, Some("NRF"), 2, &[7]),
                line("DBL", 1, Some("NRF"), 2, &[]),
            ],
        )
        .unwrap();
    assert_eq!(lines.len(), 2);
    let lead = lines[0].meta.id.clone();
    for b in &lines {
        assert_eq!(
            b.reservation.as_ref(),
            Some(&lead),
            "every line carries the reference"
        );
        assert_eq!(
            b.guest_id, lines[0].guest_id,
            "one guest for the reservation"
        );
        assert_eq!(b.notes.as_deref(), Some("cot in room"));
        assert_eq!(b.status, BookingStatus::Confirmed);
        assert_eq!((b.arrival, b.departure), (w.day(10), w.day(13)));
    }
    assert_ne!(
        lines[0].reservation_number, lines[1].reservation_number,
        "one G# per room"
    );
    // FAM: (2 000.00 + child 250.00) −10 % = 2 025.00 a night; DBL: 1 000.00 −10 % = 900.00.
    let fam = lines[0].pricing.as_ref().unwrap();
    assert_eq!((fam.adults, fam.children.clone()), (2, vec![7]));
    assert_eq!(fam.nightly, vec![202_500; 3]);
    assert_eq!(lines[0].price.as_ref().unwrap().amount, 607_500);
    assert_eq!(lines[1].price.as_ref().unwrap().amount, 270_000);
    // A one-line booking carries no reservation reference.
    let one = w.reserve(WB, vec![line("DBL", 1, None, 1, &[])]).unwrap();
    assert_eq!(one[0].reservation, None);
}

#[test]
fn all_lines_or_none_against_the_allotment() {
    let mut w = World::new();
    // FAM has 2 rooms: 1 + 2 units on the same nights cannot both be sold.
    let r = w.reserve(
        WB,
        vec![
            line("DBL", 1, None, 1, &[]),
            line("FAM", 1, None, 1, &[]),
            line("FAM", 2, None, 1, &[]),
        ],
    );
    assert!(
        matches!(r, Err(DomainError::NoAvailability { ref room_type, .. }) if room_type == "FAM"),
        "{r:?}"
    );
    assert!(w.bookings.is_empty(), "nothing written");
    // Lines on other nights do not count against each other.
    let mut later = line("FAM", 2, None, 1, &[]);
    later.arrival = Some(w.day(13));
    later.departure = Some(w.day(15));
    w.reserve(WB, vec![line("FAM", 2, None, 1, &[]), later])
        .unwrap();
    // Any bad line refuses the whole, naming the line.
    let mut w = World::new();
    let r = w.reserve(
        WB,
        vec![line("DBL", 1, None, 1, &[]), line("DBL", 1, None, 3, &[])],
    );
    match r {
        Err(DomainError::InvalidInput(m)) => assert!(m.starts_with("lines[1]: adults"), "{m}"),
        other => panic!("{other:?}"),
    }
    let r = w.reserve(WB, vec![]);
    assert!(matches!(r, Err(DomainError::InvalidInput(_))));
    let r = w.reserve(
        WB,
        vec![line("DBL", 1, None, 1, &[]); innsync_core::MAX_RESERVATION_LINES + 1],
    );
    assert!(matches!(r, Err(DomainError::InvalidInput(_))));
    assert!(w.bookings.is_empty());
}

#[test]
fn lines_are_added_given_rooms_and_cancelled_later() {
    let mut w = World::new();
    let one = w.reserve(WB, vec![line("DBL", 1, None, 2, &[])]).unwrap();
    let first = one[0].meta.id.clone();
    let out = w
        .run(
            WB,
            &Command::AddReservationLine {
                reservation: first.clone(),
                line: line("FAM", 1, Some("BAR"), 2, &[3]),
            },
        )
        .unwrap();
    let Outcome::Written {
        record: Record::Booking(added),
        related,
    } = out
    else {
        panic!()
    };
    assert_eq!(added.reservation.as_ref(), Some(&first));
    assert_eq!(
        (added.arrival, added.guest_id.clone()),
        (one[0].arrival, one[0].guest_id.clone())
    );
    assert_eq!(
        w.booking(&first).reservation.as_ref(),
        Some(&first),
        "the first booking became line 1"
    );
    assert_eq!(related.len(), 1);
    // A third line through the second's reference joins the same reservation.
    let out = w
        .run(
            WB,
            &Command::AddReservationLine {
                reservation: added.meta.id.clone(),
                line: line("FAM", 1, None, 1, &[]),
            },
        )
        .unwrap();
    let Outcome::Written {
        record: Record::Booking(third),
        related,
    } = out
    else {
        panic!()
    };
    assert_eq!(third.reservation.as_ref(), Some(&first));
    assert!(related.is_empty());
    // FAM is now full on those nights: a fourth line is refused, nothing written.
    let r = w.run(
        WB,
        &Command::AddReservationLine {
            reservation: first.clone(),
            line: line("FAM", 1, None, 1, &[]),
        },
    );
    assert!(
        matches!(r, Err(DomainError::NoAvailability { .. })),
        "{r:?}"
    );
    // Each line gets its room, and one line is cancelled alone.
    w.run(
        WB,
        &Command::AssignRoom {
            id: added.meta.id.clone(),
            room: "1".into(),
            if_match: None,
        },
    )
    .unwrap();
    w.run(
        WB,
        &Command::CancelBooking {
            id: third.meta.id.clone(),
            reason: None,
            if_match: None,
        },
    )
    .unwrap();
    assert_eq!(w.booking(&third.meta.id).status, BookingStatus::Cancelled);
    assert_eq!(w.booking(&added.meta.id).status, BookingStatus::Confirmed);
    // Only the owner adds lines.
    let r = w.run(
        RS,
        &Command::AddReservationLine {
            reservation: first,
            line: line("DBL", 1, None, 1, &[]),
        },
    );
    assert!(matches!(r, Err(DomainError::NotMaster { .. })), "{r:?}");
}

#[test]
fn edits_change_dates_room_type_and_occupancy_with_the_stated_price_rule() {
    let mut w = World::new();
    let b = w
        .reserve(WB, vec![line("FAM", 1, Some("BAR"), 2, &[])])
        .unwrap()
        .remove(0);
    assert_eq!(b.pricing.as_ref().unwrap().nightly, vec![200_000; 3]);
    // The rates rise; BAR keeps booked rates: extending keeps the three booked nights and
    // prices the added one at the current rate.
    set_rate(&mut w, "FAM", 250_000);
    let e = w
        .edit(
            WB,
            &b.meta.id,
            BookingEdit {
                departure: Some(w.day(14)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        e.pricing.as_ref().unwrap().nightly,
        vec![200_000, 200_000, 200_000, 250_000]
    );
    assert_eq!(e.price.as_ref().unwrap().amount, 850_000);
    assert!(e
        .pricing
        .as_ref()
        .unwrap()
        .rule
        .contains("booked rate kept on 3 night"));
    // Shift by a day: the two nights kept keep their amounts.
    let e = w
        .edit(
            WB,
            &b.meta.id,
            BookingEdit {
                arrival: Some(w.day(11)),
                departure: Some(w.day(15)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        e.pricing.as_ref().unwrap().nightly,
        vec![200_000, 200_000, 250_000, 250_000]
    );
    // Another occupancy: every night at the current rates (a child of 7 adds 250.00).
    let e = w
        .edit(
            WB,
            &b.meta.id,
            BookingEdit {
                children: Some(vec![7]),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(e.pricing.as_ref().unwrap().nightly, vec![275_000; 4]);
    assert!(e
        .pricing
        .as_ref()
        .unwrap()
        .rule
        .contains("re-priced at the current rates"));
    // Too many guests for the room type: refused, nothing written.
    let r = w.edit(
        WB,
        &b.meta.id,
        BookingEdit {
            adults: Some(3),
            children: Some(vec![4, 5]),
            ..Default::default()
        },
    );
    assert!(
        matches!(r, Err(DomainError::InvalidInput(ref m)) if m.starts_with("adults")),
        "{r:?}"
    );
    // Another room type and plan (FLEX re-prices on edit).
    let e = w
        .edit(
            WB,
            &b.meta.id,
            BookingEdit {
                room_type: Some("DBL".into()),
                children: Some(vec![]),
                rate_plan: Some("FLEX".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (
            e.room_type.as_str(),
            e.pricing.as_ref().unwrap().rate_plan.as_deref()
        ),
        ("DBL", Some("FLEX"))
    );
    assert_eq!(e.pricing.as_ref().unwrap().nightly, vec![100_000; 4]);
    // Nothing to change, a past arrival, another server: refused.
    assert!(matches!(
        w.edit(
            WB,
            &b.meta.id,
            BookingEdit {
                units: Some(1),
                ..Default::default()
            }
        ),
        Err(DomainError::InvalidInput(_))
    ));
    let past = w.day(0) - Days::new(1);
    assert!(matches!(
        w.edit(
            WB,
            &b.meta.id,
            BookingEdit {
                arrival: Some(past),
                ..Default::default()
            }
        ),
        Err(DomainError::InvalidTransition(_))
    ));
    assert!(matches!(
        w.edit(
            RS,
            &b.meta.id,
            BookingEdit {
                notes: Some("x".into()),
                ..Default::default()
            }
        ),
        Err(DomainError::NotMaster { .. })
    ));
    // Guest details and notes change with the booking, in one decision.
    let out = w
        .run(
            WB,
            &Command::EditBooking {
                id: b.meta.id.clone(),
                edit: Box::new(BookingEdit {
                    notes: Some("late arrival".into()),
                    guest: Some(GuestPatch {
                        name: Some("Thandi Dube".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                if_match: Some(e.meta.version),
            },
        )
        .unwrap();
    let Outcome::Written {
        record: Record::Booking(e),
        related,
    } = out
    else {
        panic!()
    };
    assert_eq!(
        (e.guest_name.as_str(), e.notes.as_deref()),
        ("Thandi Dube", Some("late arrival"))
    );
    assert!(matches!(&related[..], [Record::Guest(g)] if g.name == "Thandi Dube"));
}

#[test]
fn an_edit_rechecks_stock_without_counting_the_booking_against_itself() {
    let mut w = World::new();
    let a = w
        .reserve(WB, vec![line("FAM", 2, None, 1, &[])])
        .unwrap()
        .remove(0);
    // Its own two units do not block a shift onto overlapping nights.
    w.edit(
        WB,
        &a.meta.id,
        BookingEdit {
            arrival: Some(w.day(11)),
            departure: Some(w.day(14)),
            ..Default::default()
        },
    )
    .unwrap();
    let mut other = line("FAM", 1, None, 1, &[]);
    other.arrival = Some(w.day(14));
    other.departure = Some(w.day(16));
    w.reserve(WB, vec![other]).unwrap();
    // Extending into a night another booking holds the last room of: refused, nothing written.
    let r = w.edit(
        WB,
        &a.meta.id,
        BookingEdit {
            departure: Some(w.day(15)),
            ..Default::default()
        },
    );
    assert!(
        matches!(r, Err(DomainError::NoAvailability { .. })),
        "{r:?}"
    );
    // Down to one unit, then the extension fits.
    w.edit(
        WB,
        &a.meta.id,
        BookingEdit {
            units: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    w.edit(
        WB,
        &a.meta.id,
        BookingEdit {
            departure: Some(w.day(15)),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn in_house_edits_and_early_check_out_reprice_as_the_plan_says() {
    for (plan, refundable) in [("BAR", true), ("NRF", false)] {
        let mut w = World::new();
        let b = w
            .reserve(WB, vec![line("DBL", 1, Some(plan), 2, &[])])
            .unwrap()
            .remove(0);
        let full = b.price.as_ref().unwrap().amount;
        let day = |n| b.arrival + Days::new(n) - Days::new(10);
        w.now += Duration::days(10);
        w.run(
            WB,
            &Command::CheckIn {
                id: b.meta.id.clone(),
                room: Some("11".into()),
                if_match: None,
            },
        )
        .unwrap();
        // In house: the room type cannot change, the stay can grow (the room follows).
        assert!(matches!(
            w.edit(
                WB,
                &b.meta.id,
                BookingEdit {
                    room_type: Some("FAM".into()),
                    ..Default::default()
                }
            ),
            Err(DomainError::InvalidTransition(_))
        ));
        let e = w
            .edit(
                WB,
                &b.meta.id,
                BookingEdit {
                    departure: Some(day(15)),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(e.stays.last().unwrap().to, day(15));
        let five = e.price.as_ref().unwrap().amount;
        assert_eq!(five, full / 3 * 5);
        // Leaves after two nights.
        w.now += Duration::days(2);
        w.run(
            WB,
            &Command::CheckOut {
                id: b.meta.id.clone(),
                if_match: None,
            },
        )
        .unwrap();
        let out = w.booking(&b.meta.id);
        assert_eq!(out.departure, day(12));
        let p = out.pricing.as_ref().unwrap();
        if refundable {
            assert_eq!(out.price.as_ref().unwrap().amount, full / 3 * 2, "{plan}");
            assert_eq!(p.nightly.len(), 2);
            assert!(
                p.rule.contains("3 night(s) not stayed refunded"),
                "{}",
                p.rule
            );
        } else {
            assert_eq!(out.price.as_ref().unwrap().amount, five, "{plan}");
            assert!(
                p.rule.contains("3 night(s) not stayed still charged"),
                "{}",
                p.rule
            );
        }
        // Closed: only notes change.
        assert!(matches!(
            w.edit(
                WB,
                &b.meta.id,
                BookingEdit {
                    departure: Some(day(20)),
                    ..Default::default()
                }
            ),
            Err(DomainError::InvalidTransition(_))
        ));
        w.edit(
            WB,
            &b.meta.id,
            BookingEdit {
                notes: Some("left early".into()),
                ..Default::default()
            },
        )
        .unwrap();
    }
}

#[derive(Clone, Debug)]
struct LineGen {
    ty: bool,
    units: u32,
    from: u64,
    nights: u64,
}

fn line_gen() -> impl Strategy<Value = LineGen> {
    (any::<bool>(), 1u32..3, 0u64..6, 1u64..4).prop_map(|(ty, units, from, nights)| LineGen {
        ty,
        units,
        from,
        nights,
    })
}

fn to_line(w: &World, g: &LineGen) -> ReservationLine {
    ReservationLine {
        room_type: if g.ty { "FAM" } else { "DBL" }.into(),
        arrival: Some(w.day(10 + g.from)),
        departure: Some(w.day(10 + g.from + g.nights)),
        units: g.units,
        pricing: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A reservation is accepted exactly when its lines, booked one after the other as
    /// separate bookings, would all be; refused, it writes nothing; accepted, it sells what
    /// they would have sold.
    #[test]
    fn a_reservation_is_its_lines_booked_together(
        before in proptest::collection::vec(line_gen(), 0..4),
        lines in proptest::collection::vec(line_gen(), 1..5),
    ) {
        let mut w = World::new();
        for g in &before {
            let l = to_line(&w, g);
            let _ = w.reserve(WB, vec![l]);
        }
        let mut one_by_one = w.clone();
        let each_ok = lines.iter().all(|g| {
            let l = to_line(&one_by_one, g);
            one_by_one.reserve(WB, vec![l]).is_ok()
        });
        let ls: Vec<_> = lines.iter().map(|g| to_line(&w, g)).collect();
        let together = w.reserve(WB, ls);
        prop_assert_eq!(together.is_ok(), each_ok, "{:?}", together);
        if let Ok(made) = together {
            prop_assert_eq!(made.len(), lines.len());
            let sold = |w: &World| {
                let mut n: Vec<(String, NaiveDate, NaiveDate, u32)> = w
                    .state
                    .records()
                    .filter_map(|r| match r {
                        Record::Booking(b) => Some((b.room_type.clone(), b.arrival, b.departure, b.units)),
                        _ => None,
                    })
                    .collect();
                n.sort();
                n
            };
            prop_assert_eq!(sold(&w), sold(&one_by_one));
        }
    }

    /// Random edits of random reservations keep every invariant (checked after each step by
    /// `World::run`), and a refused edit writes nothing (checked by `common::run`).
    #[test]
    fn random_edits_keep_the_invariants(
        lines in proptest::collection::vec(line_gen(), 1..4),
        edits in proptest::collection::vec((0usize..4, 0u64..8, 1u64..5, 0u32..3, any::<bool>()), 1..8),
    ) {
        let mut w = World::new();
        let ls: Vec<_> = lines.iter().map(|g| to_line(&w, g)).collect();
        let Ok(made) = w.reserve(WB, ls) else { return Ok(()); };
        for (which, from, nights, units, ty) in edits {
            let b = &made[which % made.len()];
            let edit = BookingEdit {
                arrival: Some(w.day(8 + from)),
                departure: Some(w.day(8 + from + nights)),
                units: (units > 0).then_some(units),
                room_type: ty.then(|| if b.room_type == "FAM" { "DBL" } else { "FAM" }.to_string()),
                ..Default::default()
            };
            let _ = w.edit(WB, &b.meta.id, edit);
        }
    }
}

fn agent_spec(plan: Option<&str>, holder: Option<&str>) -> innsync_core::agent::AgentSpec {
    innsync_core::agent::AgentSpec {
        name: "Safari Tours".into(),
        contact: Some("Sipho".into()),
        email: Some("desk@safari.example".into()),
        phone: None,
        commission_bp: 1_250,
        rate_plan: plan.map(str::to_string),
        payment_terms: Some("30 days from invoice".into()),
        holder: holder.map(|h| ServerCode::parse(h).unwrap()),
    }
}

fn put_agent(
    w: &mut World,
    at: usize,
    code: &str,
    spec: innsync_core::agent::AgentSpec,
    if_match: Option<u64>,
) -> Result<Outcome, DomainError> {
    w.run(
        at,
        &Command::PutAgent {
            code: code.into(),
            spec: Box::new(spec),
            if_match,
        },
    )
}

fn for_agent(
    w: &mut World,
    at: usize,
    agent: &str,
    pricing: Option<PricingRequest>,
) -> Result<Booking, DomainError> {
    let cmd = Command::CreateReservation {
        property: "ENV".into(),
        arrival: Some(w.day(10)),
        departure: Some(w.day(12)),
        lines: vec![ReservationLine {
            room_type: "DBL".into(),
            arrival: None,
            departure: None,
            units: 1,
            pricing,
        }],
        guest: GuestInput::New {
            name: "Tour guest".into(),
            email: None,
            phone: None,
        },
        status: InitialStatus::Confirmed,
        hold_until: None,
        notes: None,
        agent: Some(agent.into()),
    };
    match w.run(at, &cmd)? {
        Outcome::Written {
            record: Record::Booking(b),
            ..
        } => Ok(b),
        other => panic!("{other:?}"),
    }
}

#[test]
fn agents_are_checked_owned_and_replaced_with_if_match() {
    let mut w = World::new();
    let mut bad = agent_spec(None, None);
    bad.commission_bp = 10_001;
    assert!(
        matches!(put_agent(&mut w, WB, "SAFARI", bad, None), Err(DomainError::InvalidInput(m)) if m.starts_with("commission_bp"))
    );
    assert!(
        matches!(put_agent(&mut w, WB, "safari", agent_spec(None, None), None), Err(DomainError::InvalidInput(m)) if m.starts_with("code"))
    );
    assert!(
        matches!(put_agent(&mut w, WB, "SAFARI", agent_spec(None, Some("ZZ")), None), Err(DomainError::InvalidInput(m)) if m.starts_with("holder"))
    );
    let Outcome::Written {
        record: Record::Agent(a),
        ..
    } = put_agent(&mut w, WB, "SAFARI", agent_spec(Some("NRF"), None), None).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (a.meta.owner.to_string(), a.meta.version),
        ("env".to_string(), 1)
    );
    assert!(matches!(
        put_agent(&mut w, WB, "SAFARI", agent_spec(None, None), Some(7)),
        Err(DomainError::VersionConflict {
            expected: 7,
            actual: 1
        })
    ));
    assert!(matches!(
        put_agent(&mut w, RS, "SAFARI", agent_spec(None, None), None),
        Err(DomainError::NotMaster { .. })
    ));
    put_agent(&mut w, WB, "SAFARI", agent_spec(None, None), Some(1)).unwrap();
    // An office writes its own agents.
    let Outcome::Written {
        record: Record::Agent(a),
        ..
    } = put_agent(&mut w, RS, "LOCAL", agent_spec(None, None), None).unwrap()
    else {
        panic!()
    };
    assert_eq!(a.meta.owner.to_string(), "server:RS");
}

#[test]
fn a_booking_for_an_agent_takes_its_contracted_rate_and_commission() {
    let mut w = World::new();
    put_agent(&mut w, WB, "SAFARI", agent_spec(Some("NRF"), None), None).unwrap();
    let b = for_agent(&mut w, WB, "SAFARI", None).unwrap();
    let p = b.pricing.as_ref().unwrap();
    assert_eq!(p.rate_plan.as_deref(), Some("NRF"), "the contracted plan");
    assert_eq!(b.price.as_ref().unwrap().amount, 180_000, "900.00 × 2");
    let a = b.agent.as_ref().unwrap();
    assert_eq!(
        (a.code.as_str(), a.commission_bp, a.commission),
        ("SAFARI", 1_250, Some(22_500))
    );
    // A plan named on the line wins over the contract.
    let b = for_agent(
        &mut w,
        WB,
        "SAFARI",
        Some(PricingRequest {
            rate_plan: Some("BAR".into()),
            party: Party::adults(2),
        }),
    )
    .unwrap();
    assert_eq!(b.price.as_ref().unwrap().amount, 200_000);
    assert_eq!(b.agent.as_ref().unwrap().commission, Some(25_000));
    // An edit moves the commission with the price.
    let e = w
        .edit(
            WB,
            &b.meta.id,
            BookingEdit {
                departure: Some(w.day(13)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(e.agent.as_ref().unwrap().commission, Some(37_500));
    // An unknown agent: refused, nothing written.
    assert!(
        matches!(for_agent(&mut w, WB, "NOPE", None), Err(DomainError::InvalidInput(m)) if m.starts_with("agent"))
    );
}

#[test]
fn an_agent_with_a_contracted_allotment_is_sold_by_its_holder() {
    let mut w = World::new();
    put_agent(&mut w, WB, "SAFARI", agent_spec(None, Some("RS")), None).unwrap();
    // Booked anywhere else: refused naming the holder (forwardable to it).
    let r = for_agent(&mut w, WB, "SAFARI", None);
    assert!(
        matches!(&r, Err(DomainError::NotOwner { owner }) if owner.to_string() == "server:RS"),
        "{r:?}"
    );
    // RS holds nothing yet: no sale.
    assert!(for_agent(&mut w, RS, "SAFARI", None).is_err());
    let (from, to) = (w.day(10), w.day(20));
    w.run(
        WB,
        &Command::GrantAllotment {
            property: "ENV".into(),
            room_type: "DBL".into(),
            from,
            to,
            units: 1,
            to_holder: innsync_core::Authority::Server(w.servers[RS].clone()),
            from_holder: None,
            reason: Some("SAFARI contract".into()),
        },
    )
    .unwrap();
    let b = for_agent(&mut w, RS, "SAFARI", None).unwrap();
    assert_eq!(b.holder.to_string(), "server:RS");
    // The contracted unit is picked up: a second sale the same nights is refused.
    assert!(for_agent(&mut w, RS, "SAFARI", None).is_err());
}
