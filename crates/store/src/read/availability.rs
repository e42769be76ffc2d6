//! Availability by room type and night, and room occupancy for the tape chart.

use super::board::Served;
use super::{Position, ReadPool};
use crate::error::StoreError;
use crate::sql_view::{night_text, parse_night};
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// One night of one room type, as the availability API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightAvailability {
    /// The night.
    pub date: NaiveDate,
    /// Rooms in service.
    pub total: u32,
    /// Units held by live bookings, whoever sold them.
    pub booked: u32,
    /// Units this server could sell now.
    pub available: u32,
    /// Units whose allotment this server's authority holds.
    pub held_here: u32,
}

/// The nights of one room type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomTypeNights {
    /// Room type code.
    pub code: String,
    /// Room type name.
    pub name: String,
    /// Each night in order.
    pub nights: Vec<NightAvailability>,
}

/// Availability of a property over a range of nights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// Property code.
    pub property: String,
    /// First night.
    pub from: NaiveDate,
    /// Morning after the last night.
    pub to: NaiveDate,
    /// Each room type.
    pub room_types: Vec<RoomTypeNights>,
    /// The change-log position the answer reflects (its `ETag`).
    #[serde(default)]
    pub position: Position,
}

impl ReadPool {
    /// Availability of `property` over `nights`, from the read state (`board.rs`): the
    /// cells asked for, whatever the database holds. Empty for no such property.
    pub fn availability(&self, property: &str, nights: Nights) -> Result<Availability, StoreError> {
        Ok(self
            .availability_at(property, nights)?
            .unwrap_or_else(|| Availability {
                property: property.to_string(),
                from: nights.from,
                to: nights.to,
                room_types: vec![],
                position: Position::default(),
            }))
    }

    /// Availability of `property` over `nights` with the change-log position it reflects;
    /// `None` for no such property.
    pub fn availability_at(
        &self,
        property: &str,
        nights: Nights,
    ) -> Result<Option<Availability>, StoreError> {
        self.with_stock(property, nights, |s, here, pos| fold(s, here, nights, pos))
    }

    /// [`ReadPool::availability_at`] from memory when the read state is at the writer's last
    /// commit and holds the property over `nights`; `None`: call `availability_at` (off the
    /// async threads). Never blocks, never touches the database.
    pub fn availability_now(&self, property: &str, nights: Nights) -> Option<Availability> {
        self.with_stock_now(property, nights, |s, here, pos| fold(s, here, nights, pos))
    }

    /// Which booking occupies each room of a property on each night of `nights`.
    pub fn room_occupancy(
        &self,
        property: &str,
        nights: Nights,
    ) -> Result<Vec<(String, NaiveDate, String)>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT room, night, booking FROM room_nights
                 WHERE property = ?1 AND night >= ?2 AND night < ?3 ORDER BY room, night",
            )?;
            let mut rows = st.query(params![
                property,
                night_text(nights.from),
                night_text(nights.to)
            ])?;
            let mut out = vec![];
            while let Some(r) = rows.next()? {
                out.push((
                    r.get::<_, String>(0)?,
                    parse_night(&r.get::<_, String>(1)?)?,
                    r.get::<_, String>(2)?,
                ));
            }
            Ok(out)
        })
    }
}

/// Folds the stock of a read into the availability answer: per cell, rooms in service, units
/// sold by anyone, and what this server may sell — its holding (the owner's is the rooms in
/// service, net of grants) less its own sales, never beyond the night's free rooms.
fn fold(s: &Served<'_>, here: &str, nights: Nights, pos: &Position) -> Availability {
    let (g, r) = (s.grid(), s.reference());
    let n = g.n();
    let off = g.offset(nights.from);
    let here_index = g.holders.iter().position(|h| h == here);
    let is_owner = here_index == Some(0);
    let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    let room_types = r
        .room_types
        .iter()
        .enumerate()
        .map(|(i, t)| RoomTypeNights {
            code: t.code.clone(),
            name: t.name.clone(),
            nights: nights
                .iter()
                .enumerate()
                .map(|(k, date)| {
                    let cell = i * n + off + k;
                    let in_service = g.in_service[cell];
                    let sold: i64 = g.sold.iter().map(|h| h[cell]).sum();
                    let (sold_here, net_here) =
                        here_index.map_or((0, 0), |h| (g.sold[h][cell], g.held[h][cell]));
                    let held = if is_owner { in_service } else { 0 } + net_here;
                    NightAvailability {
                        date,
                        total: clamp(in_service),
                        booked: clamp(sold),
                        available: clamp((held - sold_here).min(in_service - sold)),
                        held_here: clamp(held),
                    }
                })
                .collect(),
        })
        .collect();
    Availability {
        property: r.property.code.clone(),
        from: nights.from,
        to: nights.to,
        room_types,
        position: pos.clone(),
    }
}
