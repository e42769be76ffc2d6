//! What the PMS links read: their settings, the room-occupancy outbox, who is in house.

use super::{bodies, ReadPool};
use crate::error::StoreError;
use innsync_core::Record;
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// One room-occupancy event waiting for the PMS links.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Position in the outbox; links deliver in this order.
    pub id: i64,
    /// Property code.
    pub property: String,
    /// Room number.
    pub room: String,
    /// Checked in (true) or out (false).
    pub occupied: bool,
    /// The guest's name on check-in.
    pub guest_name: Option<String>,
    /// The booking concerned.
    pub booking: String,
}

/// A PMS link's stored settings and delivery cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PmsLinkRow {
    /// Link name.
    pub name: String,
    /// Settings as JSON.
    pub config: String,
    /// Last outbox id delivered.
    pub delivered: i64,
}

impl ReadPool {
    /// Every PMS link.
    pub fn pms_links(&self) -> Result<Vec<PmsLinkRow>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare_cached("SELECT name, config, delivered FROM pms_links ORDER BY name")?;
            let rows = st.query_map([], |r| {
                Ok(PmsLinkRow {
                    name: r.get(0)?,
                    config: r.get(1)?,
                    delivered: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Outbox events of `property` after id `after`, oldest first, at most `limit`.
    pub fn pms_outbox(
        &self,
        property: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, property, room, occupied, guest_name, booking FROM pms_outbox
                 WHERE property = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = st.query_map(params![property, after, limit as i64], |r| {
                Ok(OutboxEvent {
                    id: r.get(0)?,
                    property: r.get(1)?,
                    room: r.get(2)?,
                    occupied: r.get(3)?,
                    guest_name: r.get(4)?,
                    booking: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Who is in which room of `property` now (room, guest, booking), with the last outbox id
    /// this state includes: the snapshot of a General Reset.
    #[allow(
        clippy::type_complexity,
        reason = "a private tuple of one query's columns"
    )]
    pub fn in_house(
        &self,
        property: &str,
    ) -> Result<(Vec<(String, String, String)>, i64), StoreError> {
        self.with(|c| {
            // One read transaction, so the snapshot and the outbox position agree.
            c.execute_batch("BEGIN")?;
            let result = (|| {
                let guests = bodies(
                    c,
                    "SELECT r.body FROM bookings b JOIN record_bodies r ON r.kind = 'booking' AND r.key = b.id
                     WHERE b.property = ?1 AND b.status = 'checked_in'",
                    [property],
                    |r| match r {
                        Record::Booking(b) => b
                            .stays
                            .last()
                            .map(|s| (s.room.clone(), b.guest_name.clone(), b.meta.id.to_string())),
                        _ => None,
                    },
                )?;
                let upto: i64 = c.query_row("SELECT COALESCE(MAX(id), 0) FROM pms_outbox", [], |r| r.get(0))?;
                Ok((guests, upto))
            })();
            c.execute_batch("COMMIT")?;
            result
        })
    }
}
