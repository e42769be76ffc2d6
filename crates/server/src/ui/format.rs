//! Small formatting helpers the pages share: money, dates, time left on a hold, statuses and
//! query-string encoding. Pure functions, unit-tested here.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use innsync_core::{BookingStatus, Money};

/// Encodes `s` for a query-string value.
pub fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Builds a query string from the pairs whose value is not empty.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

/// `ZAR 1,234.50` from minor units (every currency the system uses has two decimals).
pub fn money(m: &Money) -> String {
    let sign = if m.amount < 0 { "-" } else { "" };
    let abs = m.amount.unsigned_abs();
    let units = abs / 100;
    let cents = abs % 100;
    let digits = units.to_string();
    // Groups of three from the right: the first group holds what is left over.
    let first = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        n => n,
    };
    let mut groups = vec![&digits[..first]];
    groups.extend((first..digits.len()).step_by(3).map(|i| &digits[i..i + 3]));
    let grouped = groups.join(",");
    format!("{} {sign}{grouped}.{cents:02}", m.currency)
}

/// How long until a provisional hold lapses, in words an operator reads at a glance.
pub fn time_left(until: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (until - now).num_seconds();
    if secs <= 0 {
        return "expired; the server is releasing it".into();
    }
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    if d > 0 {
        format!("{d} d {h} h left")
    } else if h > 0 {
        format!("{h} h {m} min left")
    } else if m > 0 {
        format!("{m} min left")
    } else {
        "less than a minute left".into()
    }
}

/// A UTC time as `2026-11-23 14:05 UTC`.
pub fn instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An audit timestamp (RFC 3339 text) shortened to minutes, or as stored when unparsable.
pub fn audit_time(s: &str) -> String {
    DateTime::parse_from_rfc3339(s)
        .map(|t| instant(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| s.to_string())
}

/// The two lines of a night's column header: weekday, then day and month.
pub fn night_header(d: NaiveDate) -> (String, String) {
    (
        d.format("%a").to_string(),
        format!("{} {}", d.day(), d.format("%b")),
    )
}

/// A status in words.
pub fn status_label(s: BookingStatus) -> &'static str {
    match s {
        BookingStatus::Provisional => "Provisional",
        BookingStatus::Confirmed => "Confirmed",
        BookingStatus::Cancelled => "Cancelled",
        BookingStatus::CheckedIn => "Checked in",
        BookingStatus::CheckedOut => "Checked out",
        BookingStatus::NoShow => "No-show",
    }
}

/// The installation's one date convention (the `ui_date_format` setting): used to show
/// every date and to read every date field, so pages and inputs never disagree. ISO dates
/// are always accepted too, because links carry them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateStyle {
    /// `2026-11-23`.
    #[default]
    Iso,
    /// `23/11/2026`.
    Dmy,
    /// `11/23/2026`.
    Mdy,
}

impl DateStyle {
    /// The style a setting names (ISO for anything else).
    pub fn from_setting(s: &str) -> Self {
        match s {
            "dmy" => Self::Dmy,
            "mdy" => Self::Mdy,
            _ => Self::Iso,
        }
    }

    fn pattern(self) -> &'static str {
        match self {
            Self::Iso => "%Y-%m-%d",
            Self::Dmy => "%d/%m/%Y",
            Self::Mdy => "%m/%d/%Y",
        }
    }

    /// A date in this style.
    pub fn show(self, d: NaiveDate) -> String {
        d.format(self.pattern()).to_string()
    }

    /// What a date field shows when empty (`YYYY-MM-DD`).
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::Iso => "YYYY-MM-DD",
            Self::Dmy => "DD/MM/YYYY",
            Self::Mdy => "MM/DD/YYYY",
        }
    }

    /// The HTML `pattern` of a date field in this style.
    pub fn html_pattern(self) -> &'static str {
        match self {
            Self::Iso => r"\d{4}-\d{2}-\d{2}",
            Self::Dmy | Self::Mdy => r"\d{2}/\d{2}/\d{4}",
        }
    }

    /// Reads a date typed in this style (or ISO).
    pub fn parse(self, s: &str) -> Option<NaiveDate> {
        let s = s.trim();
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(s, self.pattern()))
            .ok()
    }

    /// Parses an optional form or query value; empty means absent.
    pub fn opt(self, field: &str, v: Option<&str>) -> Result<Option<NaiveDate>, String> {
        match v.map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => self.parse(s).map(Some).ok_or_else(|| {
                format!(
                    "{field}: {s:?} is not a valid date ({})",
                    self.placeholder()
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands_and_keeps_cents() {
        let m = |amount| {
            money(&Money {
                amount,
                currency: "ZAR".into(),
            })
        };
        assert_eq!(m(0), "ZAR 0.00");
        assert_eq!(m(10_000), "ZAR 100.00");
        assert_eq!(m(12_345_678), "ZAR 123,456.78");
        assert_eq!(m(-1_050), "ZAR -10.50");
    }

    #[test]
    fn time_left_reads_naturally() {
        let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            time_left(at("2026-11-23T09:00:00Z"), now),
            "expired; the server is releasing it"
        );
        assert_eq!(
            time_left(at("2026-11-23T10:00:30Z"), now),
            "less than a minute left"
        );
        assert_eq!(time_left(at("2026-11-23T10:45:00Z"), now), "45 min left");
        assert_eq!(
            time_left(at("2026-11-23T12:30:00Z"), now),
            "2 h 30 min left"
        );
        assert_eq!(time_left(at("2026-11-25T13:00:00Z"), now), "2 d 3 h left");
    }

    #[test]
    fn query_skips_empty_values_and_encodes() {
        assert_eq!(query(&[("a", "x y"), ("b", ""), ("c", "&")]), "a=x+y&c=%26");
        assert_eq!(url_encode("/ui/grid?x=1"), "%2Fui%2Fgrid%3Fx%3D1");
    }

    #[test]
    fn one_date_style_shows_and_reads_dates() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        assert_eq!(DateStyle::Iso.show(d), "2026-11-03");
        assert_eq!(DateStyle::Dmy.show(d), "03/11/2026");
        assert_eq!(DateStyle::Mdy.show(d), "11/03/2026");
        assert_eq!(DateStyle::Dmy.parse("03/11/2026"), Some(d));
        assert_eq!(
            DateStyle::Dmy.parse("2026-11-03"),
            Some(d),
            "ISO always reads"
        );
        assert_eq!(DateStyle::Iso.parse("03/11/2026"), None);
        assert_eq!(DateStyle::from_setting("mdy"), DateStyle::Mdy);
        assert!(DateStyle::Dmy
            .opt("arrival", Some("31/02/2026"))
            .unwrap_err()
            .contains("DD/MM/YYYY"));
    }
}
