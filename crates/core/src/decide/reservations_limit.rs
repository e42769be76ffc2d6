//! The named limit on a reservation's size: at most [`MAX_RESERVATION_LINES`] lines, checked
//! when a reservation is created and again each time a line is added, so no path grows one
//! past it. Every line is a booking record of its own, replicated, fenced and counted in
//! availability, so the bound keeps one decision (and one reservation's page, folio and
//! history) a size the writer and the UI handle at once; a larger group is several
//! reservations.

use crate::error::DomainError;
use crate::ids::RecordId;
use crate::state_view::StateView;

/// Most lines one reservation holds (a group of fifty room types × dates is already large;
/// every line is a booking record of its own).
pub const MAX_RESERVATION_LINES: usize = 50;

/// Refuses a new reservation of `count` lines: none, or more than the limit.
pub(super) fn ensure_new(count: usize) -> Result<(), DomainError> {
    if count == 0 {
        return Err(DomainError::InvalidInput(
            "lines: a reservation has at least one line".into(),
        ));
    }
    if count > MAX_RESERVATION_LINES {
        return Err(DomainError::InvalidInput(format!(
            "lines: at most {MAX_RESERVATION_LINES} lines; got {count}"
        )));
    }
    Ok(())
}

/// Refuses one more line on the reservation led by `lead` when it already holds the limit.
/// `numbered` says whether the lead already carries the reservation's reference (a one-line
/// booking does not: it is its own only line).
pub(super) fn ensure_room_for_one_more(
    view: &dyn StateView,
    lead: &RecordId,
    numbered: bool,
) -> Result<(), DomainError> {
    let held = if numbered {
        view.reservation_lines(lead, MAX_RESERVATION_LINES + 1)?
            .len()
    } else {
        1
    };
    if held >= MAX_RESERVATION_LINES {
        return Err(DomainError::InvalidInput(format!(
            "lines: reservation {lead} already holds {held} lines, the most one holds \
             ({MAX_RESERVATION_LINES}); book the rest as another reservation"
        )));
    }
    Ok(())
}
