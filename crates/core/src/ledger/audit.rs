//! The night audit's decision, as a pure plan: for one property and business date, which room
//! nights to post (one per booking and night, never twice) and which arrivals to mark no-show.
//!
//! The caller gives the bookings it may write (the audit writes only for the booking's owner)
//! with their entries; everything the plan decides goes into one command, so the audit runs
//! whole or not at all.

use super::{EntryKind, EntrySource, FolioEntry};
use crate::dates::Nights;
use crate::ids::RecordId;
use crate::record::{Booking, BookingStatus, RatePlan};
use chrono::NaiveDate;

/// One thing the audit does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditAction {
    /// Post the room charge of `night` to the booking's guest folio.
    PostRoom {
        /// The booking.
        booking: RecordId,
        /// The night charged.
        night: NaiveDate,
        /// Its price, all units, taxes as the catalogue says.
        amount: i64,
    },
    /// The guest was due on the audited date and did not come.
    NoShow {
        /// The booking.
        booking: RecordId,
    },
}

/// Whether the night audit already posted `night` on these entries (a correction of it
/// included: a night charged and then waived is not charged again).
pub fn night_posted(entries: &[FolioEntry], night: NaiveDate) -> bool {
    entries.iter().any(|e| {
        e.source == EntrySource::NightAudit && e.kind == EntryKind::Charge && e.night == Some(night)
    })
}

/// The price of one night of a booking, all its units. The booking's stored price wins (it was
/// decided at booking time and every server shows it): when the room type's current rates
/// still add up to it, the night costs its own rate (seasons keep their shape); otherwise the
/// stored total is spread evenly over the nights (the remainder on the first). Without a stored
/// price, the current rate for the night; without either, nothing — and the audit refuses
/// loudly rather than post a wrong amount.
pub fn room_price(b: &Booking, plan: Option<&RatePlan>, night: NaiveDate) -> Option<i64> {
    let nights = Nights {
        from: b.arrival,
        to: b.departure,
    };
    let rate = plan
        .and_then(|p| crate::rates::nightly(p, night))
        .and_then(|r| r.checked_mul(i64::from(b.units)));
    let Some(stored) = b.price.as_ref().map(|m| m.amount) else {
        return rate;
    };
    let current = plan.and_then(|p| crate::rates::total(p, nights, b.units));
    if current == Some(stored) && rate.is_some() {
        return rate;
    }
    let n = i64::try_from(nights.len()).ok().filter(|n| *n > 0)?;
    let i = nights.index_of(night)?;
    Some(stored / n + if i == 0 { stored % n } else { 0 })
}

/// The audit of `date`: a room charge for every checked-in booking staying that night and not
/// yet charged for it, and (when `mark_no_shows`) a no-show for every confirmed booking due
/// that day that never came. `price` gives a night's price; a booking without one fails the
/// whole plan, naming it.
pub fn plan(
    date: NaiveDate,
    bookings: &[(Booking, Vec<FolioEntry>)],
    mark_no_shows: bool,
    price: impl Fn(&Booking, NaiveDate) -> Option<i64>,
) -> Result<Vec<AuditAction>, String> {
    let mut out = vec![];
    let mut unpriced = vec![];
    for (b, entries) in bookings {
        let staying = b.arrival <= date && date < b.departure;
        match b.status {
            BookingStatus::CheckedIn if staying && !night_posted(entries, date) => {
                match price(b, date) {
                    Some(amount) => out.push(AuditAction::PostRoom {
                        booking: b.meta.id.clone(),
                        night: date,
                        amount,
                    }),
                    None => unpriced.push(b.meta.id.to_string()),
                }
            }
            BookingStatus::Confirmed if mark_no_shows && b.arrival == date => {
                out.push(AuditAction::NoShow {
                    booking: b.meta.id.clone(),
                })
            }
            _ => {}
        }
    }
    if !unpriced.is_empty() {
        return Err(format!(
            "no price for the night of {date} for booking(s) {}: set a rate for the room type, then run the audit again",
            unpriced.join(", ")
        ));
    }
    Ok(out)
}
