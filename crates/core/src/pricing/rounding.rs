//! Deriving a price from another: an adjustment, then one rounding of the exact result to a
//! multiple of a step — all in integer minor units (i128 inside, so no product can overflow).

use super::plan::{Adjustment, Rounding, RoundingMode};

/// `a / b` rounded as `mode` says, for `b > 0`.
fn div_round(a: i128, b: i128, mode: RoundingMode) -> i128 {
    let q = a.div_euclid(b);
    let r = a.rem_euclid(b);
    match mode {
        RoundingMode::Down => q,
        RoundingMode::Up => q + i128::from(r > 0),
        RoundingMode::Nearest => q + i128::from(2 * r >= b),
    }
}

/// The derived price of a night priced `parent` by the parent plan: the exact adjusted value
/// (`parent × (10000 + bp) / 10000`, or `parent + amount`) rounded once to a multiple of
/// `rounding.step` in its direction, and never below zero.
pub fn derive(parent: i64, adjust: Adjustment, rounding: Rounding) -> i64 {
    let step = i128::from(rounding.step.max(1));
    let (num, den) = match adjust {
        Adjustment::PercentBp(bp) => (i128::from(parent) * i128::from(10_000 + bp), 10_000i128),
        Adjustment::Amount(a) => (i128::from(parent) + i128::from(a), 1),
    };
    let v = div_round(num, den * step, rounding.mode) * step;
    i64::try_from(v.max(0)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(step: i64, mode: RoundingMode) -> Rounding {
        Rounding { step, mode }
    }

    #[test]
    fn ten_percent_off_rounded_to_whole_units() {
        // 1 234.56 − 10 % = 1 111.104 → 1 111.00
        assert_eq!(
            derive(
                123_456,
                Adjustment::PercentBp(-1000),
                r(100, RoundingMode::Nearest)
            ),
            111_100
        );
        assert_eq!(
            derive(
                123_456,
                Adjustment::PercentBp(-1000),
                r(100, RoundingMode::Up)
            ),
            111_200
        );
        assert_eq!(
            derive(
                123_456,
                Adjustment::PercentBp(-1000),
                r(1, RoundingMode::Nearest)
            ),
            111_110
        );
    }

    #[test]
    fn zero_or_five_endings() {
        // 1 997.00 → nearest multiple of 5.00 is 1 995.00; up is 2 000.00.
        assert_eq!(
            derive(
                199_700,
                Adjustment::Amount(0),
                r(500, RoundingMode::Nearest)
            ),
            199_500
        );
        assert_eq!(
            derive(199_700, Adjustment::Amount(0), r(500, RoundingMode::Up)),
            200_000
        );
        // A tie rounds up: 1 997.50 → 2 000.00.
        assert_eq!(
            derive(
                199_750,
                Adjustment::Amount(0),
                r(500, RoundingMode::Nearest)
            ),
            200_000
        );
    }

    #[test]
    fn amounts_on_and_off_never_go_negative() {
        assert_eq!(
            derive(10_000, Adjustment::Amount(2_500), Rounding::default()),
            12_500
        );
        assert_eq!(
            derive(10_000, Adjustment::Amount(-20_000), Rounding::default()),
            0
        );
        assert_eq!(
            derive(10_000, Adjustment::PercentBp(-20_000), Rounding::default()),
            0
        );
    }

    proptest! {
        /// A discount never raises the price beyond one rounding step, a surcharge never lowers
        /// it beyond one, and rounding down / up brackets the exact value.
        #[test]
        fn derived_follows_the_adjustment(parent in 0i64..100_000_000, bp in -10_000i64..10_000, step in 1i64..1000) {
            let exact = i128::from(parent) * i128::from(10_000 + bp);
            let down = derive(parent, Adjustment::PercentBp(bp), r(step, RoundingMode::Down));
            let up = derive(parent, Adjustment::PercentBp(bp), r(step, RoundingMode::Up));
            let near = derive(parent, Adjustment::PercentBp(bp), r(step, RoundingMode::Nearest));
            prop_assert!(i128::from(down) * 10_000 <= exact);
            prop_assert!(i128::from(up) * 10_000 >= exact);
            prop_assert!(up - down == 0 || up - down == step);
            prop_assert!(near == down || near == up);
            prop_assert_eq!(down % step, 0);
            if bp <= 0 { prop_assert!(down <= parent); } else { prop_assert!(up >= parent); }
        }
    }
}
