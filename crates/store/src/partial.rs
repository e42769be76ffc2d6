//! The questions partial replication asks of the data while it filters the changes it serves a
//! peer that receives only its own properties (`ReadPool::changes_after_filtered`'s filter
//! runs on the read connection it is given).

use crate::error::StoreError;

/// Whether guest `guest` has a booking at one of `props` (a partial-replication peer
/// receives the guests of its own properties' bookings).
pub fn guest_booked_at(
    c: &rusqlite::Connection,
    guest: &str,
    props: &[String],
) -> Result<bool, StoreError> {
    let mut st = c.prepare_cached("SELECT property FROM bookings WHERE guest_id = ?1")?;
    let rows = st.query_map([guest], |r| r.get::<_, String>(0))?;
    for p in rows {
        if props.contains(&p?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether booking `booking` is at one of `props` (a note goes where its booking goes).
pub fn booking_at(
    c: &rusqlite::Connection,
    booking: &str,
    props: &[String],
) -> Result<bool, StoreError> {
    let p: Option<String> = rusqlite::OptionalExtension::optional(
        c.prepare_cached("SELECT property FROM bookings WHERE id = ?1")?
            .query_row([booking], |r| r.get(0)),
    )?;
    Ok(p.is_some_and(|p| props.contains(&p)))
}
