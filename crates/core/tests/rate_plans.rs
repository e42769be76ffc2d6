//! Rate plans decided by the core over the model: where they may be written, how every field is
//! checked (a refusal names the field and writes nothing), and a booking priced once on a plan
//! — derived, seasonal, by occupancy — or refused by its restrictions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Days, NaiveDate, Utc};
use innsync_core::command::PricingRequest;
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::pricing::{
    Adjustment, ChildBand, Deposit, Due, OccupancyPrice, Party, PlanBasis, PlanSpec, Restriction,
    Rounding, RoundingMode, Season,
};
use innsync_core::{
    Command, DomainError, GuestInput, InitialStatus, Outcome, Record, RecordId, ServerCode,
};

struct World {
    state: MemState,
    servers: Vec<ServerCode>,
    ids: Vec<CounterIds>,
    owners: Vec<(String, ServerCode)>,
    now: DateTime<Utc>,
    bookings: Vec<RecordId>,
}

const WB: usize = 0;
const PA: usize = 1;

impl World {
    /// KRL (owned by the property server PA) with a family room type priced 2 000.00 a night,
    /// and ENV (env-owned, written on the master WB).
    fn new() -> Self {
        let servers = common::servers(&["WB", "PA"]);
        let mut w = World {
            state: MemState::default(),
            ids: common::counters(&servers),
            owners: vec![("KRL".into(), servers[PA].clone())],
            servers,
            now: "2026-12-01T08:00:00Z".parse().unwrap(),
            bookings: vec![],
        };
        for (at, p) in [(PA, "KRL"), (WB, "ENV")] {
            let cmds = [
                common::property(p, p, Some("ZAR")),
                common::room_type(p, "FAM", "Family", 4),
                common::room(p, "1", "FAM"),
                common::room(p, "2", "FAM"),
                common::rate(p, "FAM", w.day(0), w.day(300), 200_000),
            ];
            for c in cmds {
                w.run(at, &c).unwrap();
            }
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
            &self.owners,
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

    fn put(
        &mut self,
        at: usize,
        property: &str,
        code: &str,
        spec: PlanSpec,
        if_match: Option<u64>,
    ) -> Result<Outcome, DomainError> {
        self.run(
            at,
            &Command::PutRatePlan {
                property: property.into(),
                code: code.into(),
                spec: Box::new(spec),
                if_match,
            },
        )
    }

    fn book(
        &mut self,
        at: usize,
        arrival: u64,
        nights: u64,
        plan: Option<&str>,
        party: Party,
        units: u32,
    ) -> Result<innsync_core::Booking, DomainError> {
        let cmd = Command::CreateBooking {
            property: "KRL".into(),
            room_type: "FAM".into(),
            arrival: self.day(arrival),
            departure: self.day(arrival + nights),
            units,
            guest: GuestInput::New {
                name: "Family Dube".into(),
                email: None,
                phone: None,
            },
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: None,
            pricing: Some(PricingRequest {
                rate_plan: plan.map(str::to_string),
                party,
            }),
        };
        match self.run(at, &cmd)? {
            Outcome::Written {
                record: Record::Booking(b),
                ..
            } => Ok(b),
            other => panic!("{other:?}"),
        }
    }
}

fn family(amount: Option<i64>) -> OccupancyPrice {
    OccupancyPrice {
        room_type: "FAM".into(),
        amount,
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
    }
}

fn base(w: &World) -> PlanSpec {
    PlanSpec {
        name: "Best available".into(),
        currency: None,
        basis: PlanBasis::Base,
        occupancy: vec![family(None)],
        seasons: vec![Season {
            name: "Festive".into(),
            from: w.day(20),
            to: w.day(35),
            prices: vec![family(Some(320_000))],
        }],
        restrictions: vec![Restriction {
            from: w.day(20),
            to: w.day(35),
            min_stay_arrival: Some(3),
            ..Restriction::default()
        }],
        reprice_on_edit: true,
        refundable: true,
        deposit: Deposit::Percent {
            percent: 30,
            due: Due::DaysAfterBooking(2),
        },
        cancellation: Default::default(),
    }
}

fn derived(from: &str) -> PlanSpec {
    PlanSpec {
        name: "Non-refundable".into(),
        currency: None,
        basis: PlanBasis::Derived {
            from: from.into(),
            adjust: Adjustment::PercentBp(-1_000),
            rounding: Rounding {
                step: 500,
                mode: RoundingMode::Nearest,
            },
        },
        occupancy: vec![],
        seasons: vec![],
        restrictions: vec![],
        reprice_on_edit: false,
        refundable: false,
        deposit: Deposit::FirstNight {
            due: Due::DaysAfterBooking(0),
        },
        cancellation: Default::default(),
    }
}

/// A change that spoils one field of a plan.
type Spoil = Box<dyn Fn(&mut PlanSpec)>;

fn invalid(r: Result<Outcome, DomainError>) -> String {
    match r {
        Err(DomainError::InvalidInput(m)) => m,
        other => panic!("expected invalid_input, got {other:?}"),
    }
}

#[test]
fn plans_are_written_where_the_property_is_written() {
    let mut w = World::new();
    let spec = base(&w);
    assert!(matches!(
        w.put(WB, "KRL", "BAR", spec.clone(), None),
        Err(DomainError::NotOwner { .. })
    ));
    match w.put(PA, "KRL", "BAR", spec.clone(), None).unwrap() {
        Outcome::Written {
            record: Record::PricingPlan(p),
            ..
        } => {
            assert_eq!(p.meta.owner.to_string(), "server:PA");
            assert_eq!(p.spec.currency.as_deref(), Some("ZAR"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.put(PA, "ENV", "BAR", spec.clone(), None),
        Err(DomainError::NotMaster { .. })
    ));
    w.put(WB, "ENV", "BAR", spec, None).unwrap();
}

#[test]
fn if_match_is_honoured() {
    let mut w = World::new();
    w.put(PA, "KRL", "BAR", base(&w), None).unwrap();
    assert!(matches!(
        w.put(PA, "KRL", "BAR", base(&w), Some(7)),
        Err(DomainError::VersionConflict {
            expected: 7,
            actual: 1
        })
    ));
    assert!(matches!(
        w.put(PA, "KRL", "NEW", base(&w), Some(1)),
        Err(DomainError::VersionConflict { actual: 0, .. })
    ));
    match w.put(PA, "KRL", "BAR", base(&w), Some(1)).unwrap() {
        Outcome::Written { record, .. } => assert_eq!(record.meta().version, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_bad_field_is_named_and_nothing_is_written() {
    let mut w = World::new();
    let d = w.day(0);
    let cases: Vec<(&str, Spoil)> = vec![
        ("name", Box::new(|s| s.name = " ".into())),
        ("currency", Box::new(|s| s.currency = Some("EUR".into()))),
        (
            "occupancy[0].room_type",
            Box::new(|s| s.occupancy[0].room_type = "NOPE".into()),
        ),
        (
            "occupancy[0].adults_included",
            Box::new(|s| s.occupancy[0].adults_included = 9),
        ),
        (
            "occupancy[0].children[1].up_to_age",
            Box::new(|s| s.occupancy[0].children[1].up_to_age = 1),
        ),
        (
            "occupancy[0].extra_adult",
            Box::new(|s| s.occupancy[0].extra_adult = -1),
        ),
        (
            "seasons[0].prices[0].amount",
            Box::new(|s| s.seasons[0].prices[0].amount = None),
        ),
        ("seasons[0].to", Box::new(move |s| s.seasons[0].to = d)),
        (
            "seasons",
            Box::new(|s| {
                let mut again = s.seasons[0].clone();
                again.name = "Again".into();
                s.seasons.push(again);
            }),
        ),
        (
            "restrictions[0].max_stay_arrival",
            Box::new(|s| s.restrictions[0].max_stay_arrival = Some(2)),
        ),
        (
            "restrictions[0].min_stay_arrival",
            Box::new(|s| s.restrictions[0].min_stay_arrival = Some(0)),
        ),
        (
            "restrictions[0]",
            Box::new(|s| s.restrictions[0].min_stay_arrival = None),
        ),
        (
            "restrictions[0].room_types",
            Box::new(|s| s.restrictions[0].room_types = vec!["X".into()]),
        ),
        (
            "deposit.percent",
            Box::new(|s| {
                s.deposit = Deposit::Percent {
                    percent: 0,
                    due: Due::DaysAfterBooking(0),
                }
            }),
        ),
    ];
    for (field, spoil) in cases {
        let mut s = base(&w);
        spoil(&mut s);
        let msg = invalid(w.put(PA, "KRL", "BAR", s, None));
        assert!(msg.starts_with(field), "{field}: {msg}");
    }
    // Derived plans: a parent that exists and is a base plan, no prices of their own.
    assert!(invalid(w.put(PA, "KRL", "NRF", derived("BAR"), None)).starts_with("basis.from"));
    w.put(PA, "KRL", "BAR", base(&w), None).unwrap();
    let mut s = derived("BAR");
    s.occupancy = vec![family(Some(1))];
    assert!(invalid(w.put(PA, "KRL", "NRF", s, None)).starts_with("occupancy"));
    let mut s = derived("BAR");
    s.basis = PlanBasis::Derived {
        from: "BAR".into(),
        adjust: Adjustment::PercentBp(-20_000),
        rounding: Rounding::default(),
    };
    assert!(invalid(w.put(PA, "KRL", "NRF", s, None)).starts_with("basis.adjust.percent_bp"));
    w.put(PA, "KRL", "NRF", derived("BAR"), None).unwrap();
    assert!(invalid(w.put(PA, "KRL", "AGT", derived("NRF"), None)).starts_with("basis.from"));
    assert!(invalid(w.put(PA, "KRL", "SELF", derived("SELF"), None)).starts_with("basis.from"));
}

#[test]
fn a_booking_on_a_derived_plan_stores_its_price() {
    let mut w = World::new();
    w.put(PA, "KRL", "BAR", base(&w), None).unwrap();
    w.put(PA, "KRL", "NRF", derived("BAR"), None).unwrap();
    // Two nights outside the season, 2 adults and a child of 7, two rooms:
    // (2 000.00 + 250.00) − 10 % = 2 025.00, a multiple of 5.00.
    let party = Party {
        adults: 2,
        children: vec![7],
    };
    let b = w.book(PA, 3, 2, Some("NRF"), party.clone(), 1).unwrap();
    let p = b.pricing.clone().unwrap();
    assert_eq!(p.rate_plan.as_deref(), Some("NRF"));
    assert_eq!(p.nightly, vec![202_500, 202_500]);
    assert_eq!(p.total, 405_000);
    assert_eq!(b.price.as_ref().unwrap().amount, 405_000);
    assert_eq!(b.price.as_ref().unwrap().currency, "ZAR");
    assert!(p.rule.contains("BAR"), "{}", p.rule);
    // The plan changes later: the booking keeps what it was sold at.
    let mut cheaper = derived("BAR");
    cheaper.basis = PlanBasis::Derived {
        from: "BAR".into(),
        adjust: Adjustment::PercentBp(-5_000),
        rounding: Rounding::default(),
    };
    w.put(PA, "KRL", "NRF", cheaper, None).unwrap();
    let stored = w.state.bookings().find(|x| x.meta.id == b.meta.id).unwrap();
    assert_eq!(stored.pricing.as_ref().unwrap().total, 405_000);
}

#[test]
fn a_restriction_refuses_the_booking_and_nothing_is_written() {
    let mut w = World::new();
    w.put(PA, "KRL", "BAR", base(&w), None).unwrap();
    w.put(PA, "KRL", "NRF", derived("BAR"), None).unwrap();
    let party = Party::adults(2);
    // The parent's min stay 3 on arrival in the festive season binds the derived plan too.
    match w.book(PA, 21, 2, Some("NRF"), party.clone(), 1) {
        Err(DomainError::Restricted {
            plan, restriction, ..
        }) => {
            assert_eq!(plan, "NRF");
            assert_eq!(restriction, "min_stay_arrival");
        }
        other => panic!("{other:?}"),
    }
    let b = w.book(PA, 21, 3, Some("NRF"), party, 1).unwrap();
    // Festive price 3 200.00 − 10 % = 2 880.00.
    assert_eq!(b.pricing.unwrap().nightly, vec![288_000; 3]);
}

#[test]
fn occupancy_and_unknown_plans_are_refused_as_input() {
    let mut w = World::new();
    w.put(PA, "KRL", "BAR", base(&w), None).unwrap();
    let too_many = Party {
        adults: 3,
        children: vec![5, 6],
    };
    let e = w.book(PA, 3, 2, Some("BAR"), too_many, 1).unwrap_err();
    assert!(e.to_string().contains("max occupancy 4"), "{e}");
    let adults = Party {
        adults: 3,
        children: vec![15],
    };
    let e = w.book(PA, 3, 2, Some("BAR"), adults, 1).unwrap_err();
    assert!(e.to_string().contains("at most 3 adults"), "{e}");
    let e = w
        .book(PA, 3, 2, Some("NOPE"), Party::adults(1), 1)
        .unwrap_err();
    assert!(e.to_string().starts_with("rate_plan"), "{e}");
    let e = w.book(PA, 3, 2, None, Party::adults(0), 1).unwrap_err();
    assert!(e.to_string().starts_with("adults"), "{e}");
}

#[test]
fn without_a_plan_the_nightly_rates_price_the_booking_as_before() {
    let mut w = World::new();
    let b = w.book(PA, 3, 2, None, Party::adults(2), 2).unwrap();
    assert_eq!(b.price.as_ref().unwrap().amount, 800_000);
    let p = b.pricing.unwrap();
    assert_eq!(p.rate_plan, None);
    assert_eq!(p.nightly, vec![200_000, 200_000]);
}
