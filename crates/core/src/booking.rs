//! The booking state machine: which action may move a booking from which status, and the
//! time rules (hold expiry, arrival day) that go with them.

use crate::record::BookingStatus::{self, *};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Something a user or the server does to an existing booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingAction {
    /// Turn a provisional hold into a firm booking.
    Confirm,
    /// Release the booking.
    Cancel,
    /// The server releases a provisional booking whose hold has lapsed.
    Expire,
    /// The guest arrives and takes a room.
    CheckIn,
    /// The guest leaves (possibly early).
    CheckOut,
    /// The guest never came.
    NoShow,
    /// Choose the room before arrival.
    AssignRoom,
    /// Move an in-house guest to another room.
    MoveRoom,
}

impl BookingAction {
    /// Every action, for exhaustive tests.
    pub const ALL: [BookingAction; 8] = [
        Self::Confirm,
        Self::Cancel,
        Self::Expire,
        Self::CheckIn,
        Self::CheckOut,
        Self::NoShow,
        Self::AssignRoom,
        Self::MoveRoom,
    ];

    /// The verb used in messages and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
            Self::CheckIn => "check in",
            Self::CheckOut => "check out",
            Self::NoShow => "mark as no-show",
            Self::AssignRoom => "assign a room to",
            Self::MoveRoom => "move the room of",
        }
    }
}

/// The status after `action`, or `None` when the transition is illegal.
///
/// This table is the whole state machine; every other rule only narrows it.
pub fn next_status(from: BookingStatus, action: BookingAction) -> Option<BookingStatus> {
    use BookingAction as A;
    match (from, action) {
        (Provisional, A::Confirm) => Some(Confirmed),
        (Provisional | Confirmed, A::Cancel) => Some(Cancelled),
        (Provisional, A::Expire) => Some(Cancelled),
        (Confirmed, A::CheckIn) => Some(CheckedIn),
        (CheckedIn, A::CheckOut) => Some(CheckedOut),
        (Confirmed, A::NoShow) => Some(NoShow),
        (Provisional | Confirmed, A::AssignRoom) => Some(from),
        (CheckedIn, A::MoveRoom) => Some(CheckedIn),
        _ => None,
    }
}

/// Why an otherwise legal action may not run now.
pub fn time_rule(
    action: BookingAction,
    arrival: NaiveDate,
    departure: NaiveDate,
    hold_until: Option<DateTime<Utc>>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), String> {
    match action {
        BookingAction::Confirm => match hold_until {
            Some(h) if h <= now => Err(format!("the provisional hold lapsed at {h}")),
            _ => Ok(()),
        },
        BookingAction::Expire => match hold_until {
            Some(h) if h <= now => Ok(()),
            _ => Err("the hold has not lapsed".into()),
        },
        BookingAction::CheckIn if today < arrival => Err(format!(
            "arrival is {arrival}; today at the property is {today}"
        )),
        BookingAction::CheckIn if today >= departure => Err(format!(
            "the stay ended on {departure}; today at the property is {today}"
        )),
        BookingAction::NoShow if today < arrival => Err(format!(
            "arrival is {arrival}; a no-show can be recorded from that day"
        )),
        BookingAction::MoveRoom if today >= departure => Err(format!(
            "the stay ends on {departure}; nothing left to move"
        )),
        _ => Ok(()),
    }
}

/// The departure after a check-out today: early departure returns the unused nights, but the
/// night of arrival is always kept (a same-day check-out still used the room).
pub fn departure_after_check_out(
    arrival: NaiveDate,
    departure: NaiveDate,
    today: NaiveDate,
) -> NaiveDate {
    let earliest = arrival + chrono::Days::new(1);
    today.clamp(earliest, departure.max(earliest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn terminal_statuses_accept_no_action() {
        for st in [Cancelled, CheckedOut, NoShow] {
            for a in BookingAction::ALL {
                assert_eq!(next_status(st, a), None, "{st:?} {a:?}");
            }
        }
    }

    #[test]
    fn the_transition_table_is_exactly_this() {
        use BookingAction as A;
        let mut legal = vec![];
        for st in BookingStatus::ALL {
            for a in A::ALL {
                if let Some(to) = next_status(st, a) {
                    legal.push((st, a, to));
                }
            }
        }
        assert_eq!(
            legal,
            vec![
                (Provisional, A::Confirm, Confirmed),
                (Provisional, A::Cancel, Cancelled),
                (Provisional, A::Expire, Cancelled),
                (Provisional, A::AssignRoom, Provisional),
                (Confirmed, A::Cancel, Cancelled),
                (Confirmed, A::CheckIn, CheckedIn),
                (Confirmed, A::NoShow, NoShow),
                (Confirmed, A::AssignRoom, Confirmed),
                (CheckedIn, A::CheckOut, CheckedOut),
                (CheckedIn, A::MoveRoom, CheckedIn),
            ]
        );
    }

    #[test]
    fn stock_is_held_only_by_live_statuses() {
        let holding: Vec<_> = BookingStatus::ALL
            .into_iter()
            .filter(|s| s.holds_stock())
            .collect();
        assert_eq!(holding, vec![Provisional, Confirmed, CheckedIn]);
    }

    #[test]
    fn check_in_only_during_the_stay() {
        let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
        let (a, dep) = (d("2026-11-23"), d("2026-11-25"));
        let rule = |today| time_rule(BookingAction::CheckIn, a, dep, None, today, now);
        assert!(rule(d("2026-11-22")).is_err());
        assert!(rule(d("2026-11-23")).is_ok());
        assert!(rule(d("2026-11-24")).is_ok());
        assert!(rule(d("2026-11-25")).is_err());
    }

    #[test]
    fn holds_lapse_at_hold_until() {
        let h: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
        let before = h - chrono::Duration::seconds(1);
        let t = d("2026-11-23");
        let rule = |a, now| time_rule(a, t, t, Some(h), t, now);
        assert!(rule(BookingAction::Confirm, before).is_ok());
        assert!(rule(BookingAction::Confirm, h).is_err());
        assert!(rule(BookingAction::Expire, before).is_err());
        assert!(rule(BookingAction::Expire, h).is_ok());
    }

    #[test]
    fn early_departure_keeps_at_least_the_first_night() {
        let (a, dep) = (d("2026-11-20"), d("2026-11-25"));
        assert_eq!(
            departure_after_check_out(a, dep, d("2026-11-22")),
            d("2026-11-22")
        );
        assert_eq!(
            departure_after_check_out(a, dep, d("2026-11-20")),
            d("2026-11-21")
        );
        assert_eq!(departure_after_check_out(a, dep, d("2026-11-27")), dep);
    }
}
