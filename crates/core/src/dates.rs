//! Nights and date ranges: a stay covers the nights `[arrival, departure)`.

use crate::limits::MAX_STAY_NIGHTS;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A half-open range of nights `[from, to)`, always with `from < to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nights {
    /// First night.
    pub from: NaiveDate,
    /// The morning after the last night.
    pub to: NaiveDate,
}

impl Nights {
    /// Builds a range, refusing empty or reversed ones and those longer than `max` nights.
    pub fn new(from: NaiveDate, to: NaiveDate, max: i64) -> Result<Self, String> {
        let n = (to - from).num_days();
        if n <= 0 {
            return Err(format!("{to} must be after {from}"));
        }
        if n > max {
            return Err(format!(
                "{n} nights from {from} to {to}; at most {max} allowed"
            ));
        }
        Ok(Self { from, to })
    }

    /// Builds a stay range, with the stay-specific wording and limit.
    pub fn stay(arrival: NaiveDate, departure: NaiveDate) -> Result<Self, String> {
        let n = (departure - arrival).num_days();
        if n <= 0 {
            return Err(format!(
                "departure {departure} must be after arrival {arrival}"
            ));
        }
        if n > MAX_STAY_NIGHTS {
            return Err(format!(
                "a stay of {n} nights is too long; at most {MAX_STAY_NIGHTS} nights per booking"
            ));
        }
        Ok(Self {
            from: arrival,
            to: departure,
        })
    }

    /// Number of nights.
    pub fn len(&self) -> usize {
        (self.to - self.from).num_days() as usize
    }

    /// Always false: a range holds at least one night.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Each night in order.
    pub fn iter(&self) -> impl Iterator<Item = NaiveDate> {
        let from = self.from;
        (0..self.len() as i64).map(move |i| from + chrono::Days::new(i as u64))
    }

    /// Whether `night` falls in the range.
    pub fn contains(&self, night: NaiveDate) -> bool {
        self.from <= night && night < self.to
    }

    /// Whether two ranges share a night.
    pub fn overlaps(&self, other: &Nights) -> bool {
        self.from < other.to && other.from < self.to
    }

    /// Index of `night` in the range, if inside.
    pub fn index_of(&self, night: NaiveDate) -> Option<usize> {
        self.contains(night)
            .then(|| (night - self.from).num_days() as usize)
    }
}

/// The calendar date at a property at instant `now`: "today" for arrivals and check-ins.
pub fn local_date(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// Parses an IANA time zone name such as `Africa/Johannesburg`.
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("unknown time zone {name:?} (use an IANA name like Africa/Johannesburg)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_stay_covers_arrival_up_to_departure() {
        let n = Nights::stay(d("2026-12-30"), d("2027-01-02")).unwrap();
        let nights: Vec<_> = n.iter().collect();
        assert_eq!(
            nights,
            vec![d("2026-12-30"), d("2026-12-31"), d("2027-01-01")]
        );
        assert!(!n.contains(d("2027-01-02")));
        assert_eq!(n.index_of(d("2027-01-01")), Some(2));
    }

    #[test]
    fn empty_reversed_and_overlong_stays_are_refused() {
        assert!(Nights::stay(d("2026-12-30"), d("2026-12-30")).is_err());
        assert!(Nights::stay(d("2026-12-30"), d("2026-12-01")).is_err());
        assert!(Nights::stay(d("2026-01-01"), d("2027-01-01")).is_ok());
        assert!(Nights::stay(d("2026-01-01"), d("2027-01-02")).is_err());
    }

    #[test]
    fn overlap_is_half_open() {
        let a = Nights::stay(d("2026-01-01"), d("2026-01-03")).unwrap();
        let b = Nights::stay(d("2026-01-03"), d("2026-01-04")).unwrap();
        let c = Nights::stay(d("2026-01-02"), d("2026-01-04")).unwrap();
        assert!(!a.overlaps(&b));
        assert!(a.overlaps(&c) && c.overlaps(&a));
    }

    #[test]
    fn local_date_follows_the_property_time_zone() {
        let now: DateTime<Utc> = "2026-11-23T23:30:00Z".parse().unwrap();
        assert_eq!(
            local_date(now, parse_tz("Africa/Johannesburg").unwrap()),
            d("2026-11-24")
        );
        assert_eq!(
            local_date(now, parse_tz("America/New_York").unwrap()),
            d("2026-11-23")
        );
        assert!(parse_tz("Mars/Olympus").is_err());
    }
}
