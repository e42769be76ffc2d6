//! Allotments in the model: three servers (WB the master, RS an office, PA the property server
//! that owns KRL) deciding random bookings, cancellations, grants, standing rules and
//! out-of-order periods against one shared state. After every step: the invariants hold (the
//! allotments of a night add up to its rooms, no night is oversold), and nothing but an
//! inventory change ever creates or deepens a shortfall — a sale or a grant never takes more
//! than its holder has.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use innsync_core::allotment::AllotmentRule;
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::{
    Authority, Command, DomainError, GuestInput, InitialStatus, RecordId, ServerCode,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const ROOMS: [(&str, &str); 6] = [
    ("101", "A"),
    ("102", "A"),
    ("103", "A"),
    ("104", "A"),
    ("201", "B"),
    ("202", "B"),
];

#[derive(Clone, Debug)]
enum Step {
    Book {
        at: u8,
        day: u8,
        nights: u8,
        units: u8,
        ty: bool,
    },
    Cancel {
        booking: u16,
    },
    Grant {
        giver: u8,
        receiver: u8,
        day: u8,
        nights: u8,
        units: u8,
        ty: bool,
    },
    Rule {
        at: u8,
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
        5 => (0u8..3, 0u8..12, 1u8..4, 1u8..3, any::<bool>())
            .prop_map(|(at, day, nights, units, ty)| Step::Book { at, day, nights, units, ty }),
        2 => any::<u16>().prop_map(|booking| Step::Cancel { booking }),
        3 => (0u8..4, 0u8..4, 0u8..12, 1u8..4, 1u8..4, any::<bool>())
            .prop_map(|(giver, receiver, day, nights, units, ty)| Step::Grant { giver, receiver, day, nights, units, ty }),
        1 => (0u8..3).prop_map(|at| Step::Rule { at }),
        1 => (0u8..6, 0u8..12, 1u8..4, any::<bool>())
            .prop_map(|(room, day, nights, clear)| Step::OutOfOrder { room, day, nights, clear }),
        1 => (1u8..30).prop_map(|hours| Step::Wait { hours }),
    ]
}

struct World {
    state: MemState,
    servers: Vec<ServerCode>,
    ids: Vec<CounterIds>,
    owners: Vec<(String, ServerCode)>,
    now: DateTime<Utc>,
    bookings: Vec<RecordId>,
}

const WB: usize = 0;
const RS: usize = 1;
const PA: usize = 2;

impl World {
    fn new() -> Self {
        let servers = common::servers(&["WB", "RS", "PA"]);
        let mut w = World {
            state: MemState::default(),
            ids: common::counters(&servers),
            owners: vec![("KRL".into(), servers[PA].clone())],
            servers,
            now: "2026-11-23T08:00:00Z".parse().unwrap(),
            bookings: vec![],
        };
        w.run(PA, &common::property("KRL", "Kraal", None)).unwrap();
        for t in ["A", "B"] {
            w.run(PA, &common::room_type("KRL", t, t, 2)).unwrap();
        }
        for (n, t) in ROOMS {
            w.run(PA, &common::room("KRL", n, t)).unwrap();
        }
        w
    }

    fn day(&self, d: u8) -> NaiveDate {
        self.now.date_naive() + chrono::Days::new(u64::from(d))
    }

    /// The server that writes for `a`.
    fn writer_of(&self, a: &Authority) -> usize {
        match a {
            Authority::Env => WB,
            Authority::Server(s) => self.servers.iter().position(|x| x == s).unwrap(),
        }
    }

    fn run(&mut self, at: usize, cmd: &Command) -> Result<(), DomainError> {
        let ctx = common::ctx(
            self.now,
            &self.servers[at],
            &self.servers[WB],
            &self.owners,
            &self.servers,
        );
        common::run(
            &mut self.state,
            &mut self.ids[at],
            &ctx,
            cmd,
            &mut self.bookings,
        )
        .map(|_| ())
    }

    fn rule() -> AllotmentRule {
        AllotmentRule {
            name: "web keeps 2".into(),
            property: "KRL".into(),
            room_types: vec!["A".into()],
            holder: Authority::Env,
            units: 2,
            days_ahead: 10,
            release_days: 2,
        }
    }

    /// Runs a step; whether it changes the inventory (the one thing allowed to create a
    /// shortfall).
    fn step(&mut self, s: &Step) -> bool {
        let ty = |b: bool| if b { "A" } else { "B" }.to_string();
        match s.clone() {
            Step::Book {
                at,
                day,
                nights,
                units,
                ty: t,
            } => {
                let cmd = Command::CreateBooking {
                    property: "KRL".into(),
                    room_type: ty(t),
                    arrival: self.day(day),
                    departure: self.day(day + nights),
                    units: u32::from(units),
                    guest: GuestInput::New {
                        name: "Guest".into(),
                        email: None,
                        phone: None,
                    },
                    status: InitialStatus::Confirmed,
                    hold_until: None,
                    notes: None,
                    pricing: None,
                };
                let _ = self.run(usize::from(at), &cmd);
                false
            }
            Step::Cancel { booking } => {
                if self.bookings.is_empty() {
                    return false;
                }
                let id = self.bookings[usize::from(booking) % self.bookings.len()].clone();
                let b = innsync_core::StateView::booking(&self.state, &id)
                    .unwrap()
                    .unwrap();
                let at = self.writer_of(&b.meta.owner);
                let _ = self.run(
                    at,
                    &Command::CancelBooking {
                        id,
                        reason: None,
                        if_match: None,
                    },
                );
                false
            }
            Step::Grant {
                giver,
                receiver,
                day,
                nights,
                units,
                ty: t,
            } => {
                let holder = |i: u8| match i {
                    0 => Authority::Env,
                    1 => Authority::Server(self.servers[RS].clone()),
                    2 => Authority::Server(self.servers[PA].clone()),
                    _ => Authority::Server(self.servers[WB].clone()),
                };
                let (from, to) = (holder(giver), holder(receiver));
                let at = self.writer_of(&from);
                let _ = self.run(
                    at,
                    &Command::GrantAllotment {
                        property: "KRL".into(),
                        room_type: ty(t),
                        from: self.day(day),
                        to: self.day(day + nights),
                        units: u32::from(units),
                        to_holder: to,
                        from_holder: Some(from),
                        reason: None,
                    },
                );
                false
            }
            Step::Rule { at } => {
                self.run(
                    usize::from(at),
                    &Command::RunAllotmentRule { rule: Self::rule() },
                )
                .expect("a rule run never fails");
                false
            }
            Step::OutOfOrder {
                room,
                day,
                nights,
                clear,
            } => {
                let number = ROOMS[usize::from(room)].0.to_string();
                let (from, to) = (self.day(day), self.day(day + nights));
                let cmd = if clear {
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
                };
                self.run(PA, &cmd).is_ok()
            }
            Step::Wait { hours } => {
                self.now += Duration::hours(i64::from(hours));
                false
            }
        }
    }

    fn shortfalls(&self) -> BTreeMap<(String, String, NaiveDate, Authority), i64> {
        self.state
            .shortfalls()
            .into_iter()
            .map(|s| {
                (
                    (s.property, s.room_type, s.night, s.holder),
                    i64::from(s.sold) - s.held,
                )
            })
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn allotments_add_up_and_only_the_inventory_makes_a_shortfall(
        steps in prop::collection::vec(step(), 1..150)
    ) {
        let mut w = World::new();
        for s in &steps {
            let before = w.shortfalls();
            let inventory_changed = w.step(s);
            prop_assert_eq!(w.state.check_invariants(), Ok(()), "after {:?}", s);
            if !inventory_changed {
                for (k, by) in w.shortfalls() {
                    let was = before.get(&k).copied().unwrap_or(0);
                    prop_assert!(by <= was, "{:?} made {:?} short by {} (was {})", s, k, by, was);
                }
            }
        }
    }
}

fn book(w: &World, at_day: u8, units: u32) -> Command {
    Command::CreateBooking {
        property: "KRL".into(),
        room_type: "A".into(),
        arrival: w.day(at_day),
        departure: w.day(at_day + 1),
        units,
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

fn grant(w: &World, from: Authority, to: Authority, units: u32) -> Command {
    Command::GrantAllotment {
        property: "KRL".into(),
        room_type: "A".into(),
        from: w.day(1),
        to: w.day(2),
        units,
        to_holder: to,
        from_holder: Some(from),
        reason: Some("test".into()),
    }
}

#[test]
fn an_office_sells_only_what_it_was_given() {
    let mut w = World::new();
    let rs = Authority::Server(w.servers[RS].clone());
    let pa = Authority::Server(w.servers[PA].clone());
    let err = w.run(RS, &book(&w, 1, 1)).unwrap_err();
    assert_eq!(err.code().as_str(), "no_availability");
    assert!(err.to_string().contains("server:RS holds 0"), "{err}");
    w.run(PA, &grant(&w, pa.clone(), rs.clone(), 2)).unwrap();
    w.run(RS, &book(&w, 1, 2)).unwrap();
    assert!(w.run(RS, &book(&w, 1, 1)).is_err());
    // PA keeps the other two rooms and sells them.
    w.run(PA, &book(&w, 1, 2)).unwrap();
    assert_eq!(
        w.run(PA, &book(&w, 1, 1)).unwrap_err().code().as_str(),
        "no_availability"
    );
}

#[test]
fn only_the_giver_grants_and_only_what_it_has_not_sold() {
    let mut w = World::new();
    let rs = Authority::Server(w.servers[RS].clone());
    let pa = Authority::Server(w.servers[PA].clone());
    // RS cannot give PA's units away.
    let err = w
        .run(RS, &grant(&w, pa.clone(), rs.clone(), 1))
        .unwrap_err();
    assert_eq!(err.code().as_str(), "not_owner");
    // PA sells three of its four rooms, then cannot give two.
    w.run(PA, &book(&w, 1, 3)).unwrap();
    let err = w
        .run(PA, &grant(&w, pa.clone(), rs.clone(), 2))
        .unwrap_err();
    assert!(
        err.to_string().contains("server:PA holds 4") && err.to_string().contains("sold 3"),
        "{err}"
    );
    w.run(PA, &grant(&w, pa.clone(), rs.clone(), 1)).unwrap();
    // Unknown holders, self-grants, past nights and zero units are refused.
    let ghost = Authority::Server(ServerCode::parse("ZZ").unwrap());
    assert!(w
        .run(PA, &grant(&w, pa.clone(), ghost, 1))
        .unwrap_err()
        .to_string()
        .contains("cannot hold allotments"));
    assert!(w.run(PA, &grant(&w, pa.clone(), pa.clone(), 1)).is_err());
    assert!(w.run(PA, &grant(&w, pa.clone(), rs.clone(), 0)).is_err());
    let mut past = grant(&w, pa.clone(), rs.clone(), 1);
    if let Command::GrantAllotment { from, .. } = &mut past {
        *from = w.day(0) - chrono::Days::new(1);
    }
    assert!(w
        .run(PA, &past)
        .unwrap_err()
        .to_string()
        .contains("in the past"));
    assert_eq!(w.state.check_invariants(), Ok(()));
}

#[test]
fn a_rule_tops_the_holder_up_and_releases_its_unsold_units() {
    let mut w = World::new();
    let rule = World::rule();
    // Run where the owner writes: env is topped up to 2 on nights 2..10.
    w.run(PA, &Command::RunAllotmentRule { rule: rule.clone() })
        .unwrap();
    let env_free = |w: &World, d: u8| {
        let n = innsync_core::dates::Nights {
            from: w.day(d),
            to: w.day(d + 1),
        };
        let f = innsync_core::StateView::holder_facts(&w.state, "KRL", "A", &Authority::Env, n)
            .unwrap();
        f[0].net_granted
    };
    assert_eq!(
        env_free(&w, 1),
        0,
        "inside the release window: not topped up"
    );
    assert_eq!(env_free(&w, 2), 2);
    assert_eq!(env_free(&w, 9), 2);
    assert_eq!(env_free(&w, 10), 0, "beyond days_ahead");
    // Running it again changes nothing.
    let before = w.state.grants().count();
    w.run(PA, &Command::RunAllotmentRule { rule: rule.clone() })
        .unwrap();
    assert_eq!(w.state.grants().count(), before);
    // WB sells one of env's units on night 3; two days on, night 3 is inside the window and
    // the master gives the unsold one back.
    w.run(WB, &book(&w, 3, 1)).unwrap();
    w.now += Duration::days(2);
    w.run(WB, &Command::RunAllotmentRule { rule }).unwrap();
    assert_eq!(
        env_free(&w, 1),
        1,
        "night 3 (now day 1): one sold, one returned"
    );
    assert_eq!(w.state.check_invariants(), Ok(()));
}

#[test]
fn a_room_out_of_order_makes_a_reported_shortfall() {
    let mut w = World::new();
    let pa = Authority::Server(w.servers[PA].clone());
    // PA gives env two units of night 1 and sells its other two.
    w.run(PA, &grant(&w, pa.clone(), Authority::Env, 2))
        .unwrap();
    w.run(PA, &book(&w, 1, 2)).unwrap();
    // A pipe bursts in 101: PA now holds one unit with two sold.
    w.run(
        PA,
        &Command::SetOutOfOrder {
            property: "KRL".into(),
            number: "101".into(),
            from: w.day(1),
            to: w.day(2),
            reason: "pipe".into(),
        },
    )
    .unwrap();
    let short = w.state.shortfalls();
    assert_eq!(short.len(), 1, "{short:?}");
    assert_eq!(short[0].holder, pa);
    assert_eq!((short[0].held, short[0].sold), (1, 2));
    assert_eq!(short[0].bookings.len(), 1);
    assert_eq!(w.state.check_invariants(), Ok(()));
}
