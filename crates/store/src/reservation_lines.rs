//! The lines of a reservation: every booking whose current state carries the reservation's
//! reference (`Booking::reservation`), found through the change log's index on it (schema step
//! `V_RESV_LINES`) and kept only where the record's current body still names it.

use crate::error::StoreError;
use crate::read::{bodies, ReadPool};
use innsync_core::{Booking, Record, MAX_RESERVATION_LINES};

impl ReadPool {
    /// The lines of reservation `reference` (the reference of its first line), in reference
    /// order; empty when no booking carries it. A one-line booking has no lines here: read it
    /// as a booking.
    pub fn reservation_lines(&self, reference: &str) -> Result<Vec<Booking>, StoreError> {
        self.with(|c| lines(c, reference, MAX_RESERVATION_LINES * 4))
    }
}

/// At most `limit` lines of reservation `reference` on `conn` (the writer's view counts them
/// before adding one, so a reservation never grows past [`MAX_RESERVATION_LINES`]).
pub(crate) fn lines(
    conn: &rusqlite::Connection,
    reference: &str,
    limit: usize,
) -> Result<Vec<Booking>, StoreError> {
    bodies(
        conn,
        "SELECT r.body FROM record_bodies r
         WHERE r.kind = 'booking' AND r.key IN (
             SELECT c.record_id FROM changes c WHERE c.reservation = ?1)
         ORDER BY r.key LIMIT ?2",
        rusqlite::params![reference, limit as i64],
        |r| match r {
            Record::Booking(b) if b.reservation.as_ref().map(|r| r.as_str()) == Some(reference) => {
                Some(b)
            }
            _ => None,
        },
    )
}
