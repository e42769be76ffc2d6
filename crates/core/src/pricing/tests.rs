//! Pricing a stay: occupancy, seasons, nightly rates, derivation, restrictions — unit tests
//! and properties.

use super::*;
use crate::dates::Nights;
use crate::ids::{Authority, RecordId};
use crate::record::{Meta, RatePeriod, RatePlan, RoomType};
use chrono::NaiveDate;
use proptest::prelude::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn day(n: u32) -> NaiveDate {
    d("2027-01-01") + chrono::Days::new(u64::from(n))
}

fn meta() -> Meta {
    Meta::new(RecordId::parse("WB-000001").unwrap(), Authority::Env, 1)
}

fn room_type(code: &str, max: u32) -> RoomType {
    RoomType {
        meta: meta(),
        property: "KRL".into(),
        code: code.into(),
        name: code.into(),
        max_occupancy: max,
    }
}

fn rates(amount: i64) -> RatePlan {
    RatePlan {
        meta: meta(),
        property: "KRL".into(),
        room_type: "FAM".into(),
        currency: "ZAR".into(),
        periods: vec![RatePeriod {
            from: day(0),
            to: day(400),
            amount,
        }],
    }
}

fn family_price(amount: Option<i64>) -> OccupancyPrice {
    OccupancyPrice {
        room_type: "FAM".into(),
        amount,
        adults_included: 2,
        extra_adult: 30_000,
        children: vec![
            ChildBand {
                up_to_age: 3,
                amount: 0,
            },
            ChildBand {
                up_to_age: 11,
                amount: 15_000,
            },
        ],
        max_adults: Some(3),
    }
}

fn spec(basis: PlanBasis) -> PlanSpec {
    PlanSpec {
        name: "plan".into(),
        currency: Some("ZAR".into()),
        basis,
        occupancy: vec![],
        seasons: vec![],
        restrictions: vec![],
        reprice_on_edit: false,
        refundable: true,
        deposit: Deposit::None,
        cancellation: CancellationPolicy::default(),
    }
}

fn plan(code: &str, spec: PlanSpec) -> PricingPlan {
    PricingPlan {
        meta: meta(),
        property: "KRL".into(),
        code: code.into(),
        spec,
    }
}

fn bar() -> PricingPlan {
    let mut s = spec(PlanBasis::Base);
    s.occupancy = vec![family_price(None)];
    s.seasons = vec![Season {
        name: "Festive".into(),
        from: day(20),
        to: day(25),
        prices: vec![family_price(Some(300_000))],
    }];
    plan("BAR", s)
}

fn nrf(adjust: Adjustment, rounding: Rounding) -> PricingPlan {
    plan(
        "NRF",
        spec(PlanBasis::Derived {
            from: "BAR".into(),
            adjust,
            rounding,
        }),
    )
}

fn stay(a: u32, b: u32) -> Nights {
    Nights::stay(day(a), day(b)).unwrap()
}

fn party(adults: u32, children: &[u8]) -> Party {
    Party {
        adults,
        children: children.to_vec(),
    }
}

fn price_of(
    p: &PricingPlan,
    parent: Option<&PricingPlan>,
    nights: Nights,
    who: &Party,
) -> Result<StayPrice, Refusal> {
    let rt = room_type("FAM", 5);
    let r = rates(200_000);
    let pricer = PlanPricer::new(p, parent)?;
    pricer.room(&rt, Some(&r)).evaluate(nights, who).price
}

#[test]
fn the_room_price_covers_the_included_adults() {
    let got = price_of(&bar(), None, stay(1, 3), &party(2, &[])).unwrap();
    assert_eq!(got.total, 400_000);
    assert_eq!(got.nights[0].amount, 200_000);
    assert_eq!(got.nights[0].source, Source::NightlyRate);
}

#[test]
fn extra_adults_and_children_pay_their_band() {
    // 2 adults + a child of 7 (band ≤11: 150.00) + a baby of 2 (free).
    let got = price_of(&bar(), None, stay(1, 2), &party(2, &[7, 2])).unwrap();
    assert_eq!(got.total, 200_000 + 15_000);
    // A third adult pays the supplement; a child of 14 is older than every band: an adult.
    let got = price_of(&bar(), None, stay(1, 2), &party(2, &[14])).unwrap();
    assert_eq!(got.total, 200_000 + 30_000);
}

#[test]
fn too_many_adults_or_guests_are_refused() {
    assert!(matches!(
        price_of(&bar(), None, stay(1, 2), &party(3, &[15])),
        Err(Refusal::MaxAdults {
            max: 3,
            asked: 4,
            ..
        })
    ));
    assert!(matches!(
        price_of(&bar(), None, stay(1, 2), &party(2, &[1, 2, 3, 4])),
        Err(Refusal::MaxOccupancy { max: 5, asked: 6 })
    ));
}

#[test]
fn a_season_sets_its_own_price_on_its_nights_only() {
    let got = price_of(&bar(), None, stay(19, 21), &party(2, &[7])).unwrap();
    assert_eq!(got.nights[0].amount, 200_000 + 15_000);
    assert_eq!(got.nights[1].amount, 300_000 + 15_000);
    assert_eq!(got.nights[1].source, Source::Season("Festive".into()));
    assert_eq!(got.total, got.nights.iter().map(|n| n.amount).sum::<i64>());
}

#[test]
fn a_night_without_a_price_is_refused_by_name() {
    let rt = room_type("FAM", 5);
    let p = bar();
    let pricer = PlanPricer::new(&p, None).unwrap();
    let got = pricer
        .room(&rt, None)
        .evaluate(stay(19, 21), &party(2, &[]));
    assert_eq!(got.price, Err(Refusal::NoRate { date: day(19) }));
    // Inside the season the plan has its own price.
    assert!(pricer
        .room(&rt, None)
        .evaluate(stay(20, 22), &party(2, &[]))
        .price
        .is_ok());
}

#[test]
fn a_room_type_without_occupancy_prices_sells_at_the_room_price_to_anyone_it_sleeps() {
    let rt = room_type("DLX", 2);
    let p = bar();
    let pricer = PlanPricer::new(&p, None).unwrap();
    let r = rates(100_000);
    let got = pricer
        .room(&rt, Some(&r))
        .evaluate(stay(1, 2), &party(1, &[9]))
        .price
        .unwrap();
    assert_eq!(got.total, 100_000);
}

#[test]
fn a_derived_plan_adjusts_and_rounds_each_night() {
    let base = bar();
    let p = nrf(
        Adjustment::PercentBp(-1_250),
        Rounding {
            step: 500,
            mode: RoundingMode::Nearest,
        },
    );
    // 2 000.00 + 150.00 = 2 150.00; −12.5 % = 1 881.25 → 1 880.00 (0/5 ending).
    let got = price_of(&p, Some(&base), stay(1, 3), &party(2, &[7])).unwrap();
    assert_eq!(got.nights[0].amount, 188_000);
    assert_eq!(got.total, 376_000);
    assert!(got.rule.contains("BAR -12.50 %"), "{}", got.rule);
}

#[test]
fn a_derived_plan_needs_its_base_parent() {
    let p = nrf(Adjustment::Amount(-100), Rounding::default());
    assert!(matches!(
        PlanPricer::new(&p, None),
        Err(Refusal::Unpriceable { .. })
    ));
    let other = nrf(Adjustment::Amount(-100), Rounding::default());
    let mut grand = other.clone();
    grand.code = "AGT".into();
    grand.spec.basis = PlanBasis::Derived {
        from: "NRF".into(),
        adjust: Adjustment::Amount(-1),
        rounding: Rounding::default(),
    };
    let mut parent = other;
    parent.code = "NRF".into();
    assert!(matches!(
        PlanPricer::new(&grand, Some(&parent)),
        Err(Refusal::Unpriceable { .. })
    ));
}

fn restricted(r: Restriction) -> PricingPlan {
    let mut p = bar();
    p.spec.restrictions = vec![r];
    p
}

fn refusal(p: &PricingPlan, nights: Nights) -> Option<String> {
    match price_of(p, None, nights, &party(2, &[])) {
        Err(Refusal::Restricted { check }) => Some(check.to_string()),
        Err(other) => panic!("{other}"),
        Ok(_) => None,
    }
}

#[test]
fn min_stay_on_arrival_counts_only_arrivals_on_its_nights() {
    let p = restricted(Restriction {
        from: day(3),
        to: day(4),
        min_stay_arrival: Some(3),
        ..Restriction::default()
    });
    assert_eq!(
        refusal(&p, stay(3, 5)).as_deref(),
        Some("min stay 3 on arrival 2027-01-04")
    );
    assert_eq!(refusal(&p, stay(3, 6)), None);
    assert_eq!(
        refusal(&p, stay(2, 4)),
        None,
        "arriving the day before is not concerned"
    );
}

#[test]
fn min_stay_through_counts_any_stay_touching_its_nights() {
    let p = restricted(Restriction {
        from: day(10),
        to: day(12),
        min_stay_through: Some(4),
        ..Restriction::default()
    });
    assert!(refusal(&p, stay(8, 11)).is_some());
    assert_eq!(refusal(&p, stay(8, 12)), None);
    assert_eq!(
        refusal(&p, stay(8, 10)),
        None,
        "departing on its first night is not through it"
    );
}

#[test]
fn closed_to_arrival_departure_and_stop_sell() {
    let cta = restricted(Restriction {
        from: day(5),
        to: day(6),
        closed_to_arrival: true,
        ..Restriction::default()
    });
    assert_eq!(
        refusal(&cta, stay(5, 7)).as_deref(),
        Some("closed to arrival on 2027-01-06")
    );
    assert_eq!(
        refusal(&cta, stay(4, 7)),
        None,
        "staying through is allowed"
    );
    let ctd = restricted(Restriction {
        from: day(5),
        to: day(6),
        closed_to_departure: true,
        ..Restriction::default()
    });
    assert!(refusal(&ctd, stay(3, 5)).is_some());
    assert_eq!(refusal(&ctd, stay(3, 6)), None);
    let stop = restricted(Restriction {
        from: day(5),
        to: day(6),
        stop_sell: true,
        ..Restriction::default()
    });
    assert!(refusal(&stop, stay(3, 6)).is_some());
    assert_eq!(refusal(&stop, stay(3, 5)), None);
    assert_eq!(refusal(&stop, stay(6, 8)), None);
}

#[test]
fn max_stays_and_room_type_filters() {
    let p = restricted(Restriction {
        from: day(0),
        to: day(30),
        room_types: vec!["DLX".into()],
        max_stay_arrival: Some(2),
        ..Restriction::default()
    });
    assert_eq!(refusal(&p, stay(1, 9)), None, "FAM is not concerned");
    let p = restricted(Restriction {
        from: day(0),
        to: day(30),
        max_stay_through: Some(2),
        ..Restriction::default()
    });
    assert!(refusal(&p, stay(1, 4)).is_some());
    assert_eq!(refusal(&p, stay(1, 3)), None);
}

#[test]
fn a_derived_plan_obeys_its_parents_restrictions_too() {
    let base = restricted(Restriction {
        from: day(5),
        to: day(6),
        stop_sell: true,
        ..Restriction::default()
    });
    let p = nrf(Adjustment::PercentBp(-1000), Rounding::default());
    assert!(matches!(
        price_of(&p, Some(&base), stay(4, 7), &party(2, &[])),
        Err(Refusal::Restricted { .. })
    ));
}

#[test]
fn met_restrictions_are_reported_as_applying() {
    let p = restricted(Restriction {
        from: day(0),
        to: day(30),
        min_stay_arrival: Some(2),
        ..Restriction::default()
    });
    let rt = room_type("FAM", 5);
    let r = rates(1);
    let pricer = PlanPricer::new(&p, None).unwrap();
    let e = pricer
        .room(&rt, Some(&r))
        .evaluate(stay(1, 4), &party(1, &[]));
    assert!(e.price.is_ok());
    assert_eq!(e.checks.len(), 1);
    assert!(!e.checks[0].refuses);
}

/// A random restriction over the first 40 nights.
fn any_restriction() -> impl Strategy<Value = Restriction> {
    (0u32..40, 1u32..10, 0u8..7, 1u32..8).prop_map(|(from, len, which, n)| {
        let mut r = Restriction {
            from: day(from),
            to: day(from + len),
            ..Restriction::default()
        };
        match which {
            0 => r.min_stay_arrival = Some(n),
            1 => r.max_stay_arrival = Some(n),
            2 => r.min_stay_through = Some(n),
            3 => r.max_stay_through = Some(n),
            4 => r.closed_to_arrival = true,
            5 => r.closed_to_departure = true,
            _ => r.stop_sell = true,
        }
        r
    })
}

/// The rule written night by night, independently of `restrict::checks`.
fn refused_by_definition(rs: &[Restriction], a: u32, b: u32) -> bool {
    let len = b - a;
    rs.iter().any(|r| {
        let on = |n: u32| r.covers(day(n));
        let through = (a..b).any(on);
        (on(a) && r.closed_to_arrival)
            || (on(b) && r.closed_to_departure)
            || (through && r.stop_sell)
            || (on(a) && r.min_stay_arrival.is_some_and(|m| len < m))
            || (on(a) && r.max_stay_arrival.is_some_and(|m| len > m))
            || (through && r.min_stay_through.is_some_and(|m| len < m))
            || (through && r.max_stay_through.is_some_and(|m| len > m))
    })
}

proptest! {
    /// Restrictions refuse exactly the stays the night-by-night definition refuses.
    #[test]
    fn restrictions_refuse_exactly_where_they_should(
        rs in prop::collection::vec(any_restriction(), 0..6),
        a in 0u32..40,
        len in 1u32..12,
    ) {
        let mut p = bar();
        p.spec.restrictions = rs.clone();
        let got = price_of(&p, None, stay(a, a + len), &party(2, &[]));
        let refused = matches!(got, Err(Refusal::Restricted { .. }));
        prop_assert_eq!(refused, refused_by_definition(&rs, a, a + len));
    }

    /// A derived plan's nights are the parent's adjusted: at or below them for a discount, at
    /// or above for a surcharge (within one rounding step), and every total is the sum of its
    /// nights.
    #[test]
    fn derived_follows_the_parent_and_totals_add_up(
        base_amount in 0i64..10_000_000,
        bp in -10_000i64..10_000,
        step in prop::sample::select(vec![1i64, 100, 500]),
        a in 0u32..30,
        len in 1u32..30,
        adults in 1u32..4,
        children in prop::collection::vec(0u8..18, 0..2),
    ) {
        let base = bar();
        let p = nrf(Adjustment::PercentBp(bp), Rounding { step, mode: RoundingMode::Down });
        let rt = room_type("FAM", 5);
        let r = rates(base_amount);
        let who = party(adults, &children);
        let parent = PlanPricer::new(&base, None).unwrap().room(&rt, Some(&r)).evaluate(stay(a, a + len), &who).price;
        let derived = PlanPricer::new(&p, Some(&base)).unwrap().room(&rt, Some(&r)).evaluate(stay(a, a + len), &who).price;
        match (parent, derived) {
            (Ok(pp), Ok(dp)) => {
                prop_assert_eq!(pp.total, pp.nights.iter().map(|n| n.amount).sum::<i64>());
                prop_assert_eq!(dp.total, dp.nights.iter().map(|n| n.amount).sum::<i64>());
                prop_assert_eq!(dp.nights.len(), len as usize);
                for (x, y) in pp.nights.iter().zip(&dp.nights) {
                    prop_assert_eq!(y.amount % step, 0);
                    if bp <= 0 {
                        prop_assert!(y.amount <= x.amount);
                    } else {
                        prop_assert!(y.amount + step > x.amount);
                    }
                    prop_assert!(y.amount >= 0);
                }
            }
            (Err(e1), Err(e2)) => prop_assert_eq!(e1, e2),
            (x, y) => prop_assert!(false, "parent {:?} but derived {:?}", x, y),
        }
    }
}

fn facts(plans: Vec<PricingPlan>, sellable: u32) -> QuoteFacts {
    let mut stock = std::collections::HashMap::new();
    stock.insert(
        "FAM".to_string(),
        StayStock {
            sellable_here: sellable,
            free_at_property: 3,
            held_by: vec![HeldBy {
                holder: Authority::Env,
                free: 3 - sellable,
            }],
        },
    );
    QuoteFacts {
        room_types: vec![room_type("FAM", 5), room_type("DLX", 2)],
        rates: vec![rates(200_000)],
        plans,
        stock,
    }
}

#[test]
fn a_quote_lists_every_room_type_on_every_plan() {
    let base = bar();
    let derived = nrf(Adjustment::PercentBp(-1000), Rounding::default());
    let f = facts(vec![derived, base], 1);
    let q = quote(&f, stay(1, 3), &party(2, &[7]), 1, None);
    let keys: Vec<(&str, Option<&str>)> = q
        .iter()
        .map(|l| (l.room_type.as_str(), l.rate_plan.as_deref()))
        .collect();
    assert_eq!(
        keys,
        [
            ("FAM", Some("BAR")),
            ("FAM", Some("NRF")),
            ("DLX", Some("BAR")),
            ("DLX", Some("NRF"))
        ]
    );
    assert_eq!(q[0].nightly, vec![215_000, 215_000]);
    assert_eq!(q[1].total, Some(387_000));
    assert!(q[1].bookable);
    assert_eq!(q[1].held_by[0].free, 2);
    // DLX sleeps two: three guests are refused; it has no nightly rate either.
    assert_eq!(q[2].refused.as_ref().unwrap().code, "max_occupancy");
    assert!(!q[2].bookable);
    // Two rooms wanted, one sellable here: priced but not bookable here.
    let q = quote(&f, stay(1, 3), &party(2, &[]), 2, Some("NRF"));
    assert_eq!(q.len(), 2);
    assert!(q[0].total.is_some() && !q[0].bookable);
}

#[test]
fn a_property_without_plans_is_quoted_on_its_nightly_rates() {
    let f = facts(vec![], 3);
    let q = quote(&f, stay(1, 3), &party(1, &[]), 1, None);
    assert_eq!(q[0].rate_plan, None);
    assert_eq!(q[0].total, Some(400_000));
    assert_eq!(q[0].currency.as_deref(), Some("ZAR"));
    assert_eq!(q[1].refused.as_ref().unwrap().code, "no_rate");
}

proptest! {
    /// A quote line agrees with pricing the stay directly, and is bookable exactly when it is
    /// priced, not refused and enough units are sellable here.
    #[test]
    fn quote_lines_agree_with_pricing(a in 0u32..40, len in 1u32..20, adults in 1u32..4, sellable in 0u32..4, units in 1u32..3) {
        let mut base = bar();
        base.spec.restrictions = vec![Restriction { from: day(10), to: day(12), min_stay_arrival: Some(3), ..Restriction::default() }];
        let f = facts(vec![base.clone()], sellable.min(3));
        let q = quote(&f, stay(a, a + len), &party(adults, &[]), units, Some("BAR"));
        let direct = price_of(&base, None, stay(a, a + len), &party(adults, &[]));
        prop_assert_eq!(q[0].total, direct.as_ref().ok().map(|p| p.total));
        prop_assert_eq!(q[0].bookable, direct.is_ok() && sellable.min(3) >= units);
    }
}
