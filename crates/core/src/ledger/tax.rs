//! Taxes per item: inclusive (the price contains the tax) or exclusive (the tax is added), at a
//! rate in basis points, in integer minor units.
//!
//! Rounding is stated once, here: the tax of one posting is rounded to the nearest minor unit,
//! halves away from zero, and the posting's gross is always exactly net + tax — so the tax
//! lines of an entry and its net always add up to its amount.

use super::TaxCode;

/// A posting's amount split into what the folio shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxSplit {
    /// What the guest owes, taxes included.
    pub gross: i64,
    /// The tax part of `gross` (zero without a tax code).
    pub tax: i64,
}

impl TaxSplit {
    /// The part of the gross that is not tax.
    pub fn net(&self) -> i64 {
        self.gross - self.tax
    }
}

/// `n / d` rounded to the nearest integer, halves away from zero (`d` > 0).
fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d {
        q + n.signum()
    } else {
        q
    }
}

/// Splits `amount` (the price as entered: net of an exclusive tax, gross of an inclusive one)
/// under `tax`. Amounts are bounded by the ledger's limits, so the arithmetic (in `i128`)
/// cannot overflow and the result fits an `i64`.
pub fn split(amount: i64, tax: Option<&TaxCode>) -> TaxSplit {
    let Some(t) = tax else {
        return TaxSplit {
            gross: amount,
            tax: 0,
        };
    };
    let bp = i128::from(t.rate_bp);
    let a = i128::from(amount);
    let (gross, tax) = if t.inclusive {
        let net = div_round(a * 10_000, 10_000 + bp);
        (a, a - net)
    } else {
        let tax = div_round(a * bp, 10_000);
        (a + tax, tax)
    };
    TaxSplit {
        gross: i64::try_from(gross).unwrap_or(i64::MAX),
        tax: i64::try_from(tax).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vat(rate_bp: u32, inclusive: bool) -> TaxCode {
        TaxCode {
            code: "VAT".into(),
            name: "VAT".into(),
            rate_bp,
            inclusive,
        }
    }

    #[test]
    fn known_splits_round_half_away_from_zero() {
        // 15% inclusive of 115.00: 100.00 net, 15.00 tax.
        assert_eq!(split(11_500, Some(&vat(1_500, true))).tax, 1_500);
        // 15% exclusive of 100.00: 15.00 on top.
        let s = split(10_000, Some(&vat(1_500, false)));
        assert_eq!((s.gross, s.tax), (11_500, 1_500));
        // 10% of 0.05 is 0.005: a half, rounded away from zero, both signs.
        assert_eq!(split(5, Some(&vat(1_000, false))).tax, 1);
        assert_eq!(split(-5, Some(&vat(1_000, false))).tax, -1);
        // 15% inclusive of 1.00: net 0.8696 -> 0.87, tax 0.13.
        assert_eq!(split(100, Some(&vat(1_500, true))).tax, 13);
        assert_eq!(split(700, None), TaxSplit { gross: 700, tax: 0 });
    }

    proptest! {
        #[test]
        fn the_tax_split_adds_up_to_the_gross_and_negates_exactly(
            amount in -super::super::MAX_ENTRY_AMOUNT..=super::super::MAX_ENTRY_AMOUNT,
            bp in 0u32..=super::super::MAX_TAX_BP,
            inclusive in any::<bool>(),
        ) {
            let t = vat(bp, inclusive);
            let s = split(amount, Some(&t));
            prop_assert_eq!(s.net() + s.tax, s.gross);
            if inclusive {
                prop_assert_eq!(s.gross, amount);
            } else {
                prop_assert_eq!(s.net(), amount);
            }
            // The tax has the amount's sign and is never more than the gross.
            prop_assert!(s.tax.signum() == amount.signum() || s.tax == 0);
            prop_assert!(s.tax.abs() <= s.gross.abs());
            // Halves away from zero: a negated amount splits into the negated parts, so a
            // correction nets its original exactly.
            let n = split(-amount, Some(&t));
            prop_assert_eq!((n.gross, n.tax), (-s.gross, -s.tax));
        }
    }
}
