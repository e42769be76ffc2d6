//! Restrictions against a stay: which apply, and which refuse it. Evaluated once per
//! restriction (not per night), so a year-long stay costs what a one-night stay does.

use super::plan::Restriction;
use crate::dates::Nights;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of restriction, as named in the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionKind {
    /// Not sold on a night of the stay.
    StopSell,
    /// No arrival on the arrival date.
    ClosedToArrival,
    /// No departure on the departure date.
    ClosedToDeparture,
    /// Least nights for a stay arriving that day.
    MinStayArrival,
    /// Most nights for a stay arriving that day.
    MaxStayArrival,
    /// Least nights for a stay through that night.
    MinStayThrough,
    /// Most nights for a stay through that night.
    MaxStayThrough,
}

impl RestrictionKind {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StopSell => "stop_sell",
            Self::ClosedToArrival => "closed_to_arrival",
            Self::ClosedToDeparture => "closed_to_departure",
            Self::MinStayArrival => "min_stay_arrival",
            Self::MaxStayArrival => "max_stay_arrival",
            Self::MinStayThrough => "min_stay_through",
            Self::MaxStayThrough => "max_stay_through",
        }
    }
}

/// One restriction as it bears on a stay: met (it applies) or not (it refuses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Which rule.
    pub kind: RestrictionKind,
    /// The date it is set on (the arrival, the departure, or the first night concerned).
    pub date: NaiveDate,
    /// Its number of nights, for stay-length rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nights: Option<u32>,
    /// Whether the stay breaks it.
    pub refuses: bool,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.nights.unwrap_or(0);
        match self.kind {
            RestrictionKind::StopSell => write!(f, "stop-sell on {}", self.date),
            RestrictionKind::ClosedToArrival => write!(f, "closed to arrival on {}", self.date),
            RestrictionKind::ClosedToDeparture => {
                write!(f, "closed to departure on {}", self.date)
            }
            RestrictionKind::MinStayArrival => {
                write!(f, "min stay {n} on arrival {}", self.date)
            }
            RestrictionKind::MaxStayArrival => {
                write!(f, "max stay {n} on arrival {}", self.date)
            }
            RestrictionKind::MinStayThrough => write!(f, "min stay {n} through {}", self.date),
            RestrictionKind::MaxStayThrough => write!(f, "max stay {n} through {}", self.date),
        }
    }
}

/// Every check the restrictions make on a stay of `nights` in `room_type`, sorted by date and
/// kind. A stay is refused exactly when one of them has `refuses`.
pub fn checks<'a>(
    restrictions: impl IntoIterator<Item = &'a Restriction>,
    room_type: &str,
    nights: Nights,
) -> Vec<Check> {
    let len = u32::try_from(nights.len()).unwrap_or(u32::MAX);
    let (arrival, departure) = (nights.from, nights.to);
    let mut out = vec![];
    let mut push = |kind, date, n: Option<u32>, refuses| {
        out.push(Check {
            kind,
            date,
            nights: n,
            refuses,
        })
    };
    for r in restrictions {
        if !r.covers_room_type(room_type) {
            continue;
        }
        if r.covers(arrival) {
            if r.closed_to_arrival {
                push(RestrictionKind::ClosedToArrival, arrival, None, true);
            }
            if let Some(m) = r.min_stay_arrival {
                push(RestrictionKind::MinStayArrival, arrival, Some(m), len < m);
            }
            if let Some(m) = r.max_stay_arrival {
                push(RestrictionKind::MaxStayArrival, arrival, Some(m), len > m);
            }
        }
        if r.closed_to_departure && r.covers(departure) {
            push(RestrictionKind::ClosedToDeparture, departure, None, true);
        }
        if r.from < departure && arrival < r.to {
            let first = r.from.max(arrival);
            if r.stop_sell {
                push(RestrictionKind::StopSell, first, None, true);
            }
            if let Some(m) = r.min_stay_through {
                push(RestrictionKind::MinStayThrough, first, Some(m), len < m);
            }
            if let Some(m) = r.max_stay_through {
                push(RestrictionKind::MaxStayThrough, first, Some(m), len > m);
            }
        }
    }
    out.sort_by_key(|c| (c.date, c.kind, c.nights));
    out.dedup();
    out
}
