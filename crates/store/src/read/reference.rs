//! Reference data read by the API: properties, users, room types, rooms, notes, nightly rates.

use super::{bodies, prefix, ReadPool, BY_PREFIX};
use crate::error::StoreError;
use innsync_core::{Property, Record, Room, RoomType, User};
use rusqlite::params;

impl ReadPool {
    /// Every property, by code.
    pub fn properties(&self) -> Result<Vec<Property>, StoreError> {
        self.with(|c| {
            bodies(
                c,
                "SELECT body FROM record_bodies WHERE kind = 'property' ORDER BY key",
                [],
                |r| match r {
                    Record::Property(p) => Some(p),
                    _ => None,
                },
            )
        })
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.with(|c| {
            bodies(
                c,
                "SELECT body FROM record_bodies WHERE kind = 'user' ORDER BY key",
                [],
                |r| match r {
                    Record::User(u) => Some(u),
                    _ => None,
                },
            )
        })
    }

    /// A property's room types, by code.
    pub fn room_types(&self, property: &str) -> Result<Vec<RoomType>, StoreError> {
        let (lo, hi) = prefix(property);
        self.with(|c| {
            bodies(c, BY_PREFIX, params!["room_type", lo, hi], |r| match r {
                Record::RoomType(t) => Some(t),
                _ => None,
            })
        })
    }

    /// A property's rooms, by number.
    pub fn rooms(&self, property: &str) -> Result<Vec<Room>, StoreError> {
        let (lo, hi) = prefix(property);
        self.with(|c| {
            bodies(c, BY_PREFIX, params!["room", lo, hi], |r| match r {
                Record::Room(t) => Some(t),
                _ => None,
            })
        })
    }

    /// The notes of a booking, oldest first.
    pub fn notes(&self, booking: &str) -> Result<Vec<innsync_core::record::Note>, StoreError> {
        let (lo, hi) = prefix(booking);
        self.with(|c| {
            let mut v = bodies(c, BY_PREFIX, params!["note", lo, hi], |r| match r {
                Record::Note(n) => Some(n),
                _ => None,
            })?;
            v.sort_by_key(|n| n.at);
            Ok(v)
        })
    }

    /// A property's rate plans.
    pub fn rate_plans(&self, property: &str) -> Result<Vec<innsync_core::RatePlan>, StoreError> {
        let (lo, hi) = prefix(property);
        self.with(|c| {
            bodies(c, BY_PREFIX, params!["rate_plan", lo, hi], |r| match r {
                Record::RatePlan(t) => Some(t),
                _ => None,
            })
        })
    }

    /// How many rooms a property has: counted in the records' key index, nothing parsed.
    pub fn room_count(&self, property: &str) -> Result<u64, StoreError> {
        let (lo, hi) = prefix(property);
        self.with(|c| {
            Ok(c.prepare_cached(
                "SELECT COUNT(*) FROM records WHERE kind = 'room' AND key >= ?1 AND key < ?2",
            )?
            .query_row(params![lo, hi], |r| r.get::<_, i64>(0))? as u64)
        })
    }
}
