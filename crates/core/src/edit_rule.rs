//! Which edits a booking's status allows (the state machine's rule for `PATCH`): before
//! arrival everything may change; an in-house guest may stay longer or leave earlier (another
//! room is a move, not an edit); a closed booking keeps its stay and money, and only its notes
//! and guest details change. A pure function over plain data, tested exhaustively.

use crate::record::BookingStatus;
use chrono::NaiveDate;

/// What an edit changes, as far as the rule cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EditScope {
    /// The first night moves.
    pub arrival: bool,
    /// The morning of departure moves.
    pub departure: bool,
    /// Another room type.
    pub room_type: bool,
    /// Another number of rooms.
    pub units: bool,
    /// Another occupancy or rate plan (a new price).
    pub price: bool,
}

impl EditScope {
    /// Whether the stay or its price changes (anything but notes and guest details).
    pub fn touches_stay(self) -> bool {
        self.arrival || self.departure || self.room_type || self.units || self.price
    }

    /// Every scope, for exhaustive tests.
    pub fn all() -> impl Iterator<Item = EditScope> {
        (0u8..32).map(|bits| EditScope {
            arrival: bits & 1 != 0,
            departure: bits & 2 != 0,
            room_type: bits & 4 != 0,
            units: bits & 8 != 0,
            price: bits & 16 != 0,
        })
    }
}

/// Refuses (with why) an edit of a booking in `status` changing `scope`, to a stay of
/// `arrival..departure`, on `today` at the property.
pub fn edit_allowed(
    status: BookingStatus,
    scope: EditScope,
    arrival: NaiveDate,
    departure: NaiveDate,
    today: NaiveDate,
) -> Result<(), String> {
    match status {
        BookingStatus::Cancelled | BookingStatus::CheckedOut | BookingStatus::NoShow => {
            if scope.touches_stay() {
                return Err(format!(
                    "a {} booking keeps its stay and price; only notes and guest details change",
                    status.as_str().replace('_', " ")
                ));
            }
            Ok(())
        }
        BookingStatus::CheckedIn => {
            if scope.arrival || scope.room_type || scope.units {
                return Err(
                    "the guest is in house: only the departure, occupancy, rate plan, \
                     notes and guest details change (move-room changes the room)"
                        .into(),
                );
            }
            if scope.departure && departure <= today {
                return Err(format!(
                    "departure {departure} must be after today ({today}); check the guest out instead"
                ));
            }
            Ok(())
        }
        BookingStatus::Provisional | BookingStatus::Confirmed => {
            if scope.arrival && arrival < today {
                return Err(format!(
                    "arrival {arrival} is in the past (today is {today})"
                ));
            }
            if (scope.arrival || scope.departure) && departure <= today {
                return Err(format!(
                    "departure {departure} must be after today ({today})"
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BookingStatus::*;

    fn d(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 3, n).unwrap()
    }

    const ALL: [BookingStatus; 6] = [
        Provisional,
        Confirmed,
        CheckedIn,
        CheckedOut,
        Cancelled,
        NoShow,
    ];

    #[test]
    fn every_status_and_scope_follows_the_table() {
        let today = d(10);
        for status in ALL {
            for scope in EditScope::all() {
                // A stay well ahead: only the status decides.
                let ok = edit_allowed(status, scope, d(12), d(15), today).is_ok();
                let expected = match status {
                    Provisional | Confirmed => true,
                    CheckedIn => !(scope.arrival || scope.room_type || scope.units),
                    CheckedOut | Cancelled | NoShow => !scope.touches_stay(),
                };
                assert_eq!(ok, expected, "{status:?} {scope:?}");
            }
        }
    }

    #[test]
    fn dates_in_the_past_are_refused_whatever_else_changes() {
        let today = d(10);
        for scope in EditScope::all() {
            for status in [Provisional, Confirmed] {
                let r = edit_allowed(status, scope, d(9), d(12), today);
                assert_eq!(r.is_ok(), !scope.arrival, "{status:?} {scope:?}");
                let r = edit_allowed(status, scope, d(8), d(10), today);
                assert_eq!(
                    r.is_ok(),
                    !(scope.arrival || scope.departure),
                    "{status:?} {scope:?}"
                );
            }
            let r = edit_allowed(CheckedIn, scope, d(8), d(10), today);
            let expected = !(scope.arrival || scope.room_type || scope.units || scope.departure);
            assert_eq!(r.is_ok(), expected, "checked in {scope:?}");
        }
    }
}
