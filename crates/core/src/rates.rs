//! Nightly rates: setting a price for a run of nights overwrites exactly those nights.

use crate::dates::Nights;
use crate::record::{RatePeriod, RatePlan};
use chrono::NaiveDate;

/// The periods after pricing `new.from..new.to` at `new.amount`: sorted, non-overlapping, and
/// with adjacent periods of equal price merged.
pub fn with_period(periods: &[RatePeriod], new: RatePeriod) -> Vec<RatePeriod> {
    let mut out: Vec<RatePeriod> = Vec::with_capacity(periods.len() + 2);
    for p in periods {
        if p.to <= new.from || p.from >= new.to {
            out.push(p.clone());
            continue;
        }
        if p.from < new.from {
            out.push(RatePeriod {
                to: new.from,
                ..p.clone()
            });
        }
        if p.to > new.to {
            out.push(RatePeriod {
                from: new.to,
                ..p.clone()
            });
        }
    }
    out.push(new);
    out.sort_by_key(|p| p.from);
    let mut merged: Vec<RatePeriod> = Vec::with_capacity(out.len());
    for p in out {
        match merged.last_mut() {
            Some(last) if last.to == p.from && last.amount == p.amount => last.to = p.to,
            _ => merged.push(p),
        }
    }
    debug_assert!(merged.windows(2).all(|w| w[0].to <= w[1].from));
    merged
}

/// The price of one unit on `night`, if a rate covers it.
pub fn nightly(plan: &RatePlan, night: NaiveDate) -> Option<i64> {
    plan.periods
        .iter()
        .find(|p| p.from <= night && night < p.to)
        .map(|p| p.amount)
}

/// The price of `units` units over `nights`, when every night has a rate.
pub fn total(plan: &RatePlan, nights: Nights, units: u32) -> Option<i64> {
    nights
        .iter()
        .map(|n| nightly(plan, n))
        .sum::<Option<i64>>()
        .map(|sum| sum * i64::from(units))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(u64::from(day))
    }

    fn p(from: u32, to: u32, amount: i64) -> RatePeriod {
        RatePeriod {
            from: d(from),
            to: d(to),
            amount,
        }
    }

    #[test]
    fn a_new_period_splits_the_one_it_lands_in() {
        let got = with_period(&[p(0, 10, 100)], p(3, 5, 200));
        assert_eq!(got, vec![p(0, 3, 100), p(3, 5, 200), p(5, 10, 100)]);
    }

    #[test]
    fn equal_neighbours_merge() {
        let got = with_period(&[p(0, 3, 100), p(5, 10, 100)], p(3, 5, 100));
        assert_eq!(got, vec![p(0, 10, 100)]);
    }

    proptest! {
        /// Whatever the order of writes, each night's price is that of the last write covering it.
        #[test]
        fn last_write_wins_per_night(writes in prop::collection::vec((0u32..40, 1u32..15, 1i64..5), 1..20)) {
            let mut periods = vec![];
            let mut expected = [None; 60];
            for (from, len, amount) in writes {
                periods = with_period(&periods, p(from, from + len, amount));
                for n in from..from + len {
                    expected[n as usize] = Some(amount);
                }
            }
            for (n, want) in expected.iter().enumerate() {
                let got = periods.iter().find(|q| q.from <= d(n as u32) && d(n as u32) < q.to).map(|q| q.amount);
                prop_assert_eq!(got, *want);
            }
            prop_assert!(periods.windows(2).all(|w| w[0].to <= w[1].from));
        }
    }
}
