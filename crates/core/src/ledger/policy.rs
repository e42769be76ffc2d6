//! A booking's money terms applied: the deposit its rate plan asks (how much, due when, paid or
//! not) and what cancelling it or not showing up costs. The rules themselves are the plan's
//! ([`crate::pricing::Deposit`], [`crate::pricing::CancellationPolicy`]); this file applies them
//! to one booking and its folio entries, as plain functions, so every server computes the
//! same figures from the same records.

use super::{EntryKind, FolioEntry};
use crate::pricing::{CancellationPolicy, Deposit, Penalty, PricingPlan};
use crate::record::Booking;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a booking's deposit stands on a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepositState {
    /// The plan asks for none (or the booking has no price).
    NotRequired,
    /// Asked and not yet fully paid; the due date has not passed.
    Due,
    /// Asked, not fully paid, and the due date has passed.
    Overdue,
    /// Paid in full.
    Paid,
}

impl DepositState {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotRequired => "not_required",
            Self::Due => "due",
            Self::Overdue => "overdue",
            Self::Paid => "paid",
        }
    }
}

/// A booking's deposit: what is asked, by when, what was received, where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositStatus {
    /// Minor units asked (0 when none).
    pub required: i64,
    /// The last day it may be paid on; absent when none is asked.
    pub due: Option<NaiveDate>,
    /// Money received on the booking (deposits and payments net of refunds and their
    /// corrections), as a positive number.
    pub received: i64,
    /// Where it stands.
    pub state: DepositState,
}

/// The stay's total and its first night (all units), in minor units, from the price stored on
/// the booking; `None` when the booking has no price.
pub fn stay_prices(b: &Booking) -> Option<(i64, i64)> {
    let total = b.price.as_ref().map(|m| m.amount)?;
    let first = b
        .pricing
        .as_ref()
        .and_then(|p| p.nightly.first().copied())
        .and_then(|n| n.checked_mul(i64::from(b.units)))
        .or_else(|| {
            let n = i64::try_from(b.nights().len()).ok().filter(|n| *n > 0)?;
            Some(total / n + total % n)
        })?;
    Some((total, first.min(total)))
}

/// The rate plan code the booking was sold at, if any (to look its plan up).
pub fn plan_code(b: &Booking) -> Option<&str> {
    b.pricing.as_ref().and_then(|p| p.rate_plan.as_deref())
}

/// Money received on a booking: deposits and payments less refunds, corrections of any of
/// them included, as a positive number.
pub fn received(entries: &[FolioEntry]) -> i64 {
    let kinds: BTreeMap<_, _> = entries.iter().map(|e| (&e.meta.id, e.kind)).collect();
    -entries
        .iter()
        .filter(|e| super::balance::settles(e, &kinds))
        .map(|e| e.amount)
        .sum::<i64>()
}

/// The deposit of a booking made on `booked` under `rule`, with `entries` its folio entries,
/// as it stands on `today`.
pub fn deposit_status(
    b: &Booking,
    rule: Deposit,
    booked: NaiveDate,
    entries: &[FolioEntry],
    today: NaiveDate,
) -> DepositStatus {
    let got = received(entries);
    let asked = stay_prices(b).map_or(0, |(total, first)| rule.amount(total, first));
    let due = rule
        .due()
        .filter(|_| asked > 0)
        .map(|d| d.date(booked, b.arrival));
    let state = match due {
        None => DepositState::NotRequired,
        Some(_) if got >= asked => DepositState::Paid,
        Some(d) if today > d => DepositState::Overdue,
        Some(_) => DepositState::Due,
    };
    DepositStatus {
        required: asked,
        due,
        received: got,
        state,
    }
}

/// The deposit rule of a booking's plan (none when it was sold without one).
pub fn deposit_rule(plan: Option<&PricingPlan>) -> Deposit {
    plan.map(|p| p.spec.deposit).unwrap_or_default()
}

/// The cancellation policy of a booking's plan (the default policy without one).
pub fn cancellation_policy(plan: Option<&PricingPlan>) -> CancellationPolicy {
    plan.map(|p| p.spec.cancellation).unwrap_or_default()
}

/// What cancelling the booking on `today` costs under `policy`, in minor units, with the
/// penalty applied (none when free or when the booking has no price).
pub fn cancellation_fee(
    b: &Booking,
    policy: CancellationPolicy,
    today: NaiveDate,
) -> (i64, Penalty) {
    let penalty = policy.penalty_on(today, b.arrival);
    let fee = stay_prices(b).map_or(0, |(total, first)| penalty.amount(total, first));
    (fee, penalty)
}

/// What not showing up costs under `policy`, in minor units.
pub fn no_show_fee(b: &Booking, policy: CancellationPolicy) -> i64 {
    stay_prices(b).map_or(0, |(total, first)| policy.no_show.amount(total, first))
}

/// The description of a fee entry: `Cancellation fee (first night)`.
pub fn fee_text(what: &str, p: Penalty) -> String {
    let how = match p {
        Penalty::None => "none".to_string(),
        Penalty::FirstNight => "first night".to_string(),
        Penalty::Percent { percent } => format!("{percent}% of the stay"),
        Penalty::FullStay => "full stay".to_string(),
    };
    format!("{what} fee ({how})")
}

/// Whether an entry is a deposit or payment (what a deposit rule counts).
pub fn is_money_in(e: &FolioEntry) -> bool {
    matches!(e.kind, EntryKind::Deposit | EntryKind::Payment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Authority, RecordId, ServerCode};
    use crate::ledger::{EntrySource, PaymentMethod};
    use crate::pricing::{BookedPrice, Due};
    use crate::record::{BookingStatus, Meta, Money};
    use chrono::{TimeZone, Utc};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn booking(total: i64, nightly: Vec<i64>) -> Booking {
        let server = ServerCode::parse("LG").unwrap();
        let at = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        Booking {
            meta: Meta::new(
                RecordId::parse("LG-000001").unwrap(),
                Authority::Server(server.clone()),
                1,
            ),
            property: "P".into(),
            room_type: "DBL".into(),
            arrival: d("2027-02-10"),
            departure: d("2027-02-13"),
            units: 1,
            guest_id: RecordId::parse("LG-000002").unwrap(),
            guest_name: "Ann".into(),
            reservation_number: None,
            reservation: None,
            agent: None,
            status: BookingStatus::Provisional,
            hold_until: None,
            holder: Authority::Server(server.clone()),
            stays: vec![],
            price: Some(Money {
                amount: total,
                currency: "EUR".into(),
            }),
            pricing: Some(BookedPrice {
                rate_plan: Some("BAR".into()),
                adults: 2,
                children: vec![],
                currency: "EUR".into(),
                nightly,
                total,
                rule: String::new(),
            }),
            notes: None,
            cancel_reason: None,
            created_on: server,
            created_at: at,
            updated_at: at,
        }
    }

    fn paid(id: &str, kind: EntryKind, amount: i64) -> FolioEntry {
        let server = ServerCode::parse("OF").unwrap();
        FolioEntry {
            meta: Meta::new(RecordId::parse(id).unwrap(), Authority::Server(server), 1),
            booking: RecordId::parse("LG-000001").unwrap(),
            property: "P".into(),
            folio: "guest".into(),
            kind,
            amount,
            currency: "EUR".into(),
            item: None,
            quantity: 1,
            taxes: vec![],
            description: "x".into(),
            method: Some(PaymentMethod::Transfer),
            reference: None,
            business_date: d("2027-01-02"),
            night: None,
            source: EntrySource::Manual,
            corrects: None,
            counter_folio: None,
            author: "a".into(),
            at: Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_thirty_percent_deposit_goes_from_due_to_overdue_to_paid() {
        let b = booking(30_000, vec![12_000, 9_000, 9_000]);
        let rule = Deposit::Percent {
            percent: 30,
            due: Due::DaysAfterBooking(3),
        };
        let booked = d("2027-01-01");
        let s = deposit_status(&b, rule, booked, &[], d("2027-01-04"));
        assert_eq!((s.required, s.due), (9_000, Some(d("2027-01-04"))));
        assert_eq!(s.state, DepositState::Due);
        let s = deposit_status(&b, rule, booked, &[], d("2027-01-05"));
        assert_eq!(s.state, DepositState::Overdue);
        let part = [paid("OF-000001", EntryKind::Deposit, -5_000)];
        let s = deposit_status(&b, rule, booked, &part, d("2027-01-05"));
        assert_eq!((s.received, s.state), (5_000, DepositState::Overdue));
        let full = [
            paid("OF-000001", EntryKind::Deposit, -5_000),
            paid("OF-000002", EntryKind::Payment, -4_000),
        ];
        let s = deposit_status(&b, rule, booked, &full, d("2027-01-09"));
        assert_eq!(s.state, DepositState::Paid);
        // A refund takes money back out.
        let refunded = [
            paid("OF-000001", EntryKind::Deposit, -9_000),
            paid("OF-000002", EntryKind::Refund, 1_000),
        ];
        let s = deposit_status(&b, rule, booked, &refunded, d("2027-01-02"));
        assert_eq!((s.received, s.state), (8_000, DepositState::Due));
    }

    #[test]
    fn first_night_and_no_rule_and_no_price() {
        let b = booking(30_000, vec![12_000, 9_000, 9_000]);
        let rule = Deposit::FirstNight {
            due: Due::DaysBeforeArrival(7),
        };
        let s = deposit_status(&b, rule, d("2027-01-01"), &[], d("2027-01-01"));
        assert_eq!((s.required, s.due), (12_000, Some(d("2027-02-03"))));
        let s = deposit_status(&b, Deposit::None, d("2027-01-01"), &[], d("2027-03-01"));
        assert_eq!(s.state, DepositState::NotRequired);
        let mut unpriced = b.clone();
        unpriced.price = None;
        let s = deposit_status(&unpriced, rule, d("2027-01-01"), &[], d("2027-03-01"));
        assert_eq!((s.required, s.state), (0, DepositState::NotRequired));
    }

    #[test]
    fn cancellation_is_free_early_then_costs_the_policy() {
        let b = booking(30_000, vec![12_000, 9_000, 9_000]);
        let policy = CancellationPolicy {
            free_until_days_before: Some(7),
            late: Penalty::FirstNight,
            no_show: Penalty::FullStay,
        };
        assert_eq!(cancellation_fee(&b, policy, d("2027-02-03")).0, 0);
        let (fee, p) = cancellation_fee(&b, policy, d("2027-02-04"));
        assert_eq!((fee, p), (12_000, Penalty::FirstNight));
        assert_eq!(no_show_fee(&b, policy), 30_000);
        assert_eq!(
            fee_text("Cancellation", p),
            "Cancellation fee (first night)"
        );
        // Without nightly figures the first night is the total spread evenly.
        let mut flat = b.clone();
        flat.pricing = None;
        assert_eq!(cancellation_fee(&flat, policy, d("2027-02-09")).0, 10_000);
    }
}
