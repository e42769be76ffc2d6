//! What a logged change touches of the read state (`board.rs`): nothing it shows (guests,
//! notes, users, money), a booking's room type on its nights (this version's and the one
//! before's), a property's prices, a whole property, or everything (a master token, a
//! tombstone, anything unknown). Read from the change log between two positions.

use super::position::Position;
use crate::error::StoreError;
use chrono::NaiveDate;
use rusqlite::{params, Connection};
use serde::Deserialize;

/// Most changes a catch-up reads; beyond, the board starts afresh.
pub const MAX_CATCH_UP: usize = 2_000;

/// The stock-relevant fields of a booking's body.
#[derive(Deserialize)]
pub(crate) struct BookingStock {
    /// Property code.
    pub(crate) property: String,
    /// Room type code.
    pub(crate) room_type: String,
    /// First night.
    pub(crate) arrival: NaiveDate,
    /// Morning of departure.
    pub(crate) departure: NaiveDate,
}

/// The property a reference record belongs to (`code` for a property itself).
#[derive(Deserialize)]
struct OfProperty {
    property: Option<String>,
    code: Option<String>,
}

/// What one logged change means for the board.
pub(crate) enum Touch {
    /// Nothing it shows (guests, notes, users, money).
    Nothing,
    /// A booking's room type on its nights.
    Cells(BookingStock),
    /// A property's prices (nightly rates, rate plans): its reference records, not its stock.
    Prices(String),
    /// A property's reference records and its whole stock.
    Property(String),
    /// Anything else: start afresh.
    All,
}

/// What the changes after `from` up to `to` touch; `None` when there are too many to follow.
pub(crate) fn touches_between(
    c: &Connection,
    from: &Position,
    to: &Position,
) -> Result<Option<Vec<Touch>>, StoreError> {
    let mut out = Vec::new();
    let mut st = c.prepare_cached(
        "SELECT kind, record_id, version, body FROM changes
         WHERE origin = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
    )?;
    for (origin, upto) in &to.0 {
        let after = from.0.get(origin).copied().unwrap_or(0);
        if after >= *upto {
            continue;
        }
        let mut rows = st.query(params![
            origin,
            after as i64,
            *upto as i64,
            (MAX_CATCH_UP + 1 - out.len()) as i64
        ])?;
        while let Some(r) = rows.next()? {
            let kind = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            let body = r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
            let touch = touch_of(kind, body);
            if kind == "booking" {
                // The version before may have held other nights or another room type.
                let id: String = r.get(1)?;
                let version: i64 = r.get(2)?;
                if let Some(before) = booking_before(c, &id, version)? {
                    out.push(before);
                }
            }
            out.push(touch);
            if out.len() > MAX_CATCH_UP {
                return Ok(None);
            }
        }
    }
    Ok(Some(out))
}

fn touch_of(kind: &str, body: &str) -> Touch {
    match kind {
        "guest" | "note" | "user" | "folio_entry" | "invoice" | "charge_catalog"
        | "business_day" => Touch::Nothing,
        "booking" => match serde_json::from_str::<BookingStock>(body) {
            Ok(b) => Touch::Cells(b),
            Err(_) => Touch::All,
        },
        "rate_plan" | "pricing_plan" => match serde_json::from_str::<OfProperty>(body) {
            Ok(OfProperty {
                property: Some(p), ..
            }) => Touch::Prices(p),
            _ => Touch::All,
        },
        "property" | "room_type" | "room" | "allotment_grant" => {
            match serde_json::from_str::<OfProperty>(body) {
                Ok(OfProperty {
                    property: Some(p), ..
                }) => Touch::Property(p),
                Ok(OfProperty { code: Some(p), .. }) if kind == "property" => Touch::Property(p),
                _ => Touch::All,
            }
        }
        _ => Touch::All,
    }
}

fn booking_before(c: &Connection, id: &str, version: i64) -> Result<Option<Touch>, StoreError> {
    if version <= 1 {
        return Ok(None);
    }
    let mut st = c.prepare_cached(
        "SELECT body FROM changes WHERE record_id = ?1 AND version = ?2 AND kind = 'booking' LIMIT 1",
    )?;
    let mut rows = st.query(params![id, version - 1])?;
    Ok(match rows.next()? {
        Some(r) => Some(touch_of(
            "booking",
            r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?,
        )),
        // Not held here (a partial replica): the cells cannot be named, so start afresh.
        None => Some(Touch::All),
    })
}
