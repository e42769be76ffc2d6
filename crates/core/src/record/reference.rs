//! The reference data a property sells from: the property, its room types, rooms and rates.
//!
//! Kept apart from bookings because it changes rarely and is written by the office, while
//! bookings are the hot path.

use super::Meta;
use crate::dates::Nights;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An amount of money in minor units (cents) of an ISO 4217 currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// A hotel, lodge or camp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Short unique code used in URLs (`KRL`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// IANA time zone: decides "today" for check-in, no-show and release dates.
    pub timezone: String,
    /// ISO 4217 currency of its rates; set at creation or by its first rate.
    pub currency: Option<String>,
}

/// A kind of room sold as interchangeable stock (`DLX`, `FAM`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomType {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Code, unique within the property.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Most guests one unit sleeps.
    pub max_occupancy: u32,
}

/// A period in which a room cannot be sold (maintenance, renovation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfOrder {
    /// First night out of order.
    pub from: NaiveDate,
    /// The morning it is back in service.
    pub to: NaiveDate,
    /// Why, for the front desk.
    pub reason: String,
}

impl OutOfOrder {
    /// The nights it covers.
    pub fn nights(&self) -> Nights {
        Nights {
            from: self.from,
            to: self.to,
        }
    }
}

/// A physical room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Room number, unique within the property; also its PMS extension by default.
    pub number: String,
    /// Room type code.
    pub room_type: String,
    /// Periods out of order; each reduces the room type's stock on its nights.
    pub out_of_order: Vec<OutOfOrder>,
    /// Housekeeping state reported by the maid-status system (`clean`, `dirty`…), if known.
    #[serde(default)]
    pub housekeeping: Option<String>,
    /// Whether the room's message-waiting lamp is on.
    #[serde(default)]
    pub message_waiting: bool,
}

impl Room {
    /// Whether the room can be sold on `night`.
    pub fn in_service_on(&self, night: NaiveDate) -> bool {
        !self.out_of_order.iter().any(|o| o.nights().contains(night))
    }
}

/// One price valid for a run of nights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePeriod {
    /// First night.
    pub from: NaiveDate,
    /// Morning after the last night.
    pub to: NaiveDate,
    /// Price of one unit for one night, in minor units.
    pub amount: i64,
}

/// The nightly prices of one room type, as non-overlapping sorted periods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePlan {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// ISO 4217 currency of every period.
    pub currency: String,
    /// Sorted, non-overlapping periods.
    pub periods: Vec<RatePeriod>,
}
