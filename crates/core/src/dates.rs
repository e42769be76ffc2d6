//! Nights and date ranges: a stay covers the nights `[arrival, departure)`.

use crate::limits::MAX_STAY_NIGHTS;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The first night innsync stores. Every date a record carries lies in
/// [`FIRST_NIGHT`, `LAST_MORNING`]: four-digit years, so the stored `YYYY-MM-DD` text always
/// reads back, and nothing a client or a peer sends can make a night the store cannot keep
/// (issue 16: a stay ending in year 10000 oversold and poisoned backups).
pub const FIRST_NIGHT: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => unreachable!(),
};

/// The last morning innsync stores (a departure or a range's end).
pub const LAST_MORNING: NaiveDate = match NaiveDate::from_ymd_opt(2199, 12, 31) {
    Some(d) => d,
    None => unreachable!(),
};

/// Parses a date strictly as `YYYY-MM-DD` (four-digit year, two-digit month and day, nothing
/// else): `2027-1-1`, `+10000-01-02` and ` 2027-01-01` are refused, where chrono's own parser
/// would take some of them.
pub fn parse_iso(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Whether a text looks meant as a date (digits, dashes, an optional sign: `2027-1-1`,
/// `+10000-01-02`) without being a strict `YYYY-MM-DD` one: what an API refuses instead of
/// letting a lenient parser read it.
pub fn loose_date(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let parts: Vec<&str> = body.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|c| c.is_ascii_digit()))
        && parse_iso(s).is_none()
}

/// Refuses a date outside what the store keeps, naming the field.
pub fn storable(field: &str, d: NaiveDate) -> Result<(), String> {
    if d < FIRST_NIGHT || d > LAST_MORNING {
        return Err(format!(
            "{field} {d} is outside the dates innsync keeps ({FIRST_NIGHT} to {LAST_MORNING})"
        ));
    }
    Ok(())
}

/// Refuses a range that starts more than `days` after `today`: the selling horizon, so that no
/// stay, grant, rate or out-of-order period is written for a night nobody will sell.
pub fn within_horizon(
    field: &str,
    from: NaiveDate,
    today: NaiveDate,
    days: u64,
) -> Result<(), String> {
    match today.checked_add_days(chrono::Days::new(days)) {
        Some(last) if from > last => Err(format!(
            "{field} {from} is more than {days} days ahead of {today}; the horizon ends {last}"
        )),
        _ => Ok(()),
    }
}

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
        storable("from", from)?;
        storable("to", to)?;
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
        storable("arrival", arrival)?;
        storable("departure", departure)?;
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
    fn only_strict_iso_dates_parse() {
        assert_eq!(parse_iso("2027-01-01"), Some(d("2027-01-01")));
        for bad in [
            "2027-1-1",
            "2027-01-1",
            "+10000-01-02",
            "10000-01-02",
            " 2027-01-01",
            "2027-02-30",
            "2027/01/01",
            "",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
        assert!(loose_date("2027-1-1") && loose_date("+10000-01-02") && loose_date("2027-02-30"));
        assert!(!loose_date("2027-01-01") && !loose_date("WB-000123") && !loose_date("a-b-c"));
        assert!(!loose_date("1-2"));
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
    fn dates_beyond_what_the_store_keeps_are_refused() {
        let far = NaiveDate::from_ymd_opt(10000, 1, 2).unwrap();
        assert!(Nights::stay(d("9999-12-31"), far).is_err());
        assert!(Nights::stay(d("2199-12-30"), d("2199-12-31")).is_ok());
        assert!(Nights::stay(d("2199-12-31"), d("2200-01-01")).is_err());
        assert!(Nights::new(d("0000-01-01"), d("0000-01-02"), 10).is_err());
        assert!(Nights::new(d("1999-12-31"), d("2000-01-02"), 10).is_err());
        assert!(within_horizon("arrival", d("2031-12-01"), d("2026-12-04"), 1830).is_ok());
        assert!(within_horizon("arrival", d("2031-12-10"), d("2026-12-04"), 1830).is_err());
    }

    proptest::proptest! {
        /// Whatever two dates chrono can hold, a range built from them either is refused or
        /// lies wholly within what the store keeps, and its text reads back.
        #[test]
        fn every_range_that_is_built_is_storable(a in -400_000i32..3_000_000, len in 1i64..400) {
            let Some(from) = NaiveDate::from_num_days_from_ce_opt(a) else { return Ok(()); };
            let Some(to) = from.checked_add_days(chrono::Days::new(len as u64)) else { return Ok(()); };
            for r in [Nights::stay(from, to), Nights::new(from, to, 731)].into_iter().flatten() {
                for night in [r.from, r.to] {
                    proptest::prop_assert!(night >= FIRST_NIGHT && night <= LAST_MORNING);
                    let text = night.format("%Y-%m-%d").to_string();
                    proptest::prop_assert_eq!(text.len(), 10);
                    proptest::prop_assert_eq!(text.parse::<NaiveDate>().ok(), Some(night));
                }
            }
        }
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
