//! A rate plan's terms of sale, as plain data for the folio and booking work that enforces
//! them: the deposit asked (how much, and by when) and the cancellation policy. Amounts are
//! integer minor units; percentages whole percents.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// When a deposit falls due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// N days after the booking is made (0: at booking).
    DaysAfterBooking(u32),
    /// N days before arrival.
    DaysBeforeArrival(u32),
}

impl Due {
    /// The date it falls due for a booking made on `booked` arriving on `arrival`: never
    /// after arrival, never before the booking.
    pub fn date(self, booked: NaiveDate, arrival: NaiveDate) -> NaiveDate {
        let d = match self {
            Self::DaysAfterBooking(n) => booked + Days::new(u64::from(n)),
            Self::DaysBeforeArrival(n) => arrival - Days::new(u64::from(n)),
        };
        d.clamp(booked.min(arrival), arrival.max(booked))
    }
}

/// The deposit a plan asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Deposit {
    /// Nothing ahead.
    #[default]
    None,
    /// A whole percent (1–100) of the stay's total.
    Percent {
        /// Percent of the total.
        percent: u32,
        /// When.
        due: Due,
    },
    /// The first night's price (of every unit).
    FirstNight {
        /// When.
        due: Due,
    },
    /// A fixed amount, at most the total.
    Fixed {
        /// Minor units.
        amount: i64,
        /// When.
        due: Due,
    },
}

impl Deposit {
    /// The amount asked for a stay of `total` whose first night costs `first_night` (both in
    /// minor units): a percentage rounds down to the minor unit, and nothing exceeds the total.
    pub fn amount(self, total: i64, first_night: i64) -> i64 {
        let a = match self {
            Self::None => 0,
            Self::Percent { percent, .. } => total * i64::from(percent) / 100,
            Self::FirstNight { .. } => first_night,
            Self::Fixed { amount, .. } => amount,
        };
        a.clamp(0, total.max(0))
    }

    /// When it is due, if anything is.
    pub fn due(self) -> Option<Due> {
        match self {
            Self::None => None,
            Self::Percent { due, .. } | Self::FirstNight { due } | Self::Fixed { due, .. } => {
                Some(due)
            }
        }
    }

    /// Why the rule is not valid, if it is not.
    pub fn problem(self) -> Option<String> {
        match self {
            Self::Percent { percent, .. } if !(1..=100).contains(&percent) => {
                Some(format!("deposit.percent must be 1 to 100; got {percent}"))
            }
            Self::Fixed { amount, .. } if !(1..=crate::limits::MAX_AMOUNT).contains(&amount) => {
                Some(format!(
                    "deposit.amount must be 1 to {} minor units; got {amount}",
                    crate::limits::MAX_AMOUNT
                ))
            }
            _ => self.due().and_then(|d| match d {
                Due::DaysAfterBooking(n) | Due::DaysBeforeArrival(n) if n > 730 => {
                    Some(format!("deposit.due must be at most 730 days; got {n}"))
                }
                _ => None,
            }),
        }
    }
}

/// What a cancellation or no-show costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Penalty {
    /// Nothing.
    #[default]
    None,
    /// The first night's price.
    FirstNight,
    /// A whole percent (1–100) of the total.
    Percent {
        /// Percent of the total.
        percent: u32,
    },
    /// The whole stay.
    FullStay,
}

impl Penalty {
    /// The amount charged for a stay of `total` whose first night costs `first_night`.
    pub fn amount(self, total: i64, first_night: i64) -> i64 {
        let a = match self {
            Self::None => 0,
            Self::FirstNight => first_night,
            Self::Percent { percent } => total * i64::from(percent) / 100,
            Self::FullStay => total,
        };
        a.clamp(0, total.max(0))
    }
}

/// A plan's cancellation policy: free until some days before arrival, then a penalty; a
/// no-show has its own. The default is free until the arrival day, a first night for a no-show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancellationPolicy {
    /// Cancelling at least this many days before arrival costs nothing; `None`: never free.
    pub free_until_days_before: Option<u32>,
    /// What a later cancellation costs.
    pub late: Penalty,
    /// What a no-show costs.
    pub no_show: Penalty,
}

impl Default for CancellationPolicy {
    fn default() -> Self {
        Self {
            free_until_days_before: Some(0),
            late: Penalty::FirstNight,
            no_show: Penalty::FirstNight,
        }
    }
}

impl CancellationPolicy {
    /// The penalty of cancelling on `today` a stay arriving on `arrival`.
    pub fn penalty_on(self, today: NaiveDate, arrival: NaiveDate) -> Penalty {
        let days_before = (arrival - today).num_days();
        match self.free_until_days_before {
            Some(n) if days_before >= i64::from(n) => Penalty::None,
            _ => self.late,
        }
    }

    /// Why the policy is not valid, if it is not.
    pub fn problem(self) -> Option<String> {
        for (field, p) in [
            ("cancellation.late", self.late),
            ("cancellation.no_show", self.no_show),
        ] {
            if let Penalty::Percent { percent } = p {
                if !(1..=100).contains(&percent) {
                    return Some(format!("{field}.percent must be 1 to 100; got {percent}"));
                }
            }
        }
        match self.free_until_days_before {
            Some(n) if n > 730 => Some(format!(
                "cancellation.free_until_days_before must be at most 730; got {n}"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn deposit_amounts_never_exceed_the_total() {
        let due = Due::DaysAfterBooking(0);
        assert_eq!(Deposit::None.amount(10_000, 5_000), 0);
        assert_eq!(
            Deposit::Percent { percent: 30, due }.amount(10_001, 5_000),
            3_000
        );
        assert_eq!(Deposit::FirstNight { due }.amount(10_000, 5_000), 5_000);
        assert_eq!(
            Deposit::Fixed {
                amount: 20_000,
                due
            }
            .amount(10_000, 5_000),
            10_000
        );
    }

    #[test]
    fn due_dates_stay_between_booking_and_arrival() {
        let (b, a) = (d("2027-01-01"), d("2027-01-10"));
        assert_eq!(Due::DaysAfterBooking(2).date(b, a), d("2027-01-03"));
        assert_eq!(Due::DaysAfterBooking(20).date(b, a), a);
        assert_eq!(Due::DaysBeforeArrival(30).date(b, a), b);
        assert_eq!(Due::DaysBeforeArrival(3).date(b, a), d("2027-01-07"));
    }

    #[test]
    fn cancellation_is_free_until_the_stated_day() {
        let p = CancellationPolicy {
            free_until_days_before: Some(7),
            late: Penalty::Percent { percent: 50 },
            no_show: Penalty::FullStay,
        };
        let a = d("2027-01-10");
        assert_eq!(p.penalty_on(d("2027-01-03"), a), Penalty::None);
        assert_eq!(
            p.penalty_on(d("2027-01-04"), a),
            Penalty::Percent { percent: 50 }
        );
        assert_eq!(p.late.amount(10_000, 4_000), 5_000);
        assert!(p.problem().is_none());
        let bad = CancellationPolicy {
            late: Penalty::Percent { percent: 0 },
            ..p
        };
        assert!(bad.problem().unwrap().contains("cancellation.late.percent"));
    }

    #[test]
    fn json_shapes_are_stable() {
        let dep = Deposit::Percent {
            percent: 30,
            due: Due::DaysBeforeArrival(14),
        };
        assert_eq!(
            serde_json::to_value(dep).unwrap(),
            serde_json::json!({"kind":"percent","percent":30,"due":{"days_before_arrival":14}})
        );
        let c = CancellationPolicy::default();
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            serde_json::json!({"free_until_days_before":0,"late":{"kind":"first_night"},"no_show":{"kind":"first_night"}})
        );
    }
}
