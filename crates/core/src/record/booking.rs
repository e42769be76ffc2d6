//! The booking record, its status, its stays in rooms, and the notes written against it.
//!
//! The one record the hot path writes: what holds stock is decided from these fields.

use super::{Meta, Money};
use crate::dates::Nights;
use crate::ids::{Authority, RecordId, ServerCode};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Where a booking stands. Provisional, confirmed and checked-in bookings hold stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Holds stock until `hold_until`, then is released by the server.
    Provisional,
    /// Holds stock until the stay ends.
    Confirmed,
    /// Released by the guest, the office or hold expiry.
    Cancelled,
    /// The guest is in the room.
    CheckedIn,
    /// The guest has left.
    CheckedOut,
    /// The guest never came.
    NoShow,
}

impl BookingStatus {
    /// Every status, for exhaustive tests and for parsing.
    pub const ALL: [BookingStatus; 6] = [
        Self::Provisional,
        Self::Confirmed,
        Self::Cancelled,
        Self::CheckedIn,
        Self::CheckedOut,
        Self::NoShow,
    ];

    /// Whether a booking in this status holds stock and its room.
    pub fn holds_stock(self) -> bool {
        matches!(self, Self::Provisional | Self::Confirmed | Self::CheckedIn)
    }

    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisional => "provisional",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::CheckedIn => "checked_in",
            Self::CheckedOut => "checked_out",
            Self::NoShow => "no_show",
        }
    }

    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A room a booking occupies for part or all of its stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stay {
    /// Room number.
    pub room: String,
    /// First night in this room.
    pub from: NaiveDate,
    /// Morning it leaves this room.
    pub to: NaiveDate,
}

/// A reservation of `units` rooms of one type for the nights `[arrival, departure)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Identity; the id is the booking's reference.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// First night.
    pub arrival: NaiveDate,
    /// Morning of departure.
    pub departure: NaiveDate,
    /// Rooms held.
    pub units: u32,
    /// Guest record id.
    pub guest_id: RecordId,
    /// Guest name, copied for lists and PMS messages.
    pub guest_name: String,
    /// Numeric reservation number (FIAS `G#`), unique across the environment; absent on
    /// bookings stored before numbers existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_number: Option<crate::ids::ReservationNumber>,
    /// Where the booking stands.
    pub status: BookingStatus,
    /// For provisional bookings: when the hold lapses.
    pub hold_until: Option<DateTime<Utc>>,
    /// Whose allotment the units are sold from.
    pub holder: Authority,
    /// Rooms occupied, in order; empty until a room is assigned.
    pub stays: Vec<Stay>,
    /// Total price when every night has a rate.
    pub price: Option<Money>,
    /// The rate plan, occupancy and nightly amounts it was sold at (absent when booked
    /// without a plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<crate::pricing::BookedPrice>,
    /// The reservation this booking is a line of: the reference of the reservation's first
    /// line, carried by every line (the first too); absent for a booking of one line. Each
    /// line keeps its own record, owner and stock, so replication and fencing are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<RecordId>,
    /// The agent it was sold for, with the commission agreed (decided once, like the price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Box<crate::agent::BookedAgent>>,
    /// Free text.
    pub notes: Option<String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// The server that created it.
    pub created_on: ServerCode,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl Booking {
    /// The nights of the stay.
    pub fn nights(&self) -> Nights {
        Nights {
            from: self.arrival,
            to: self.departure,
        }
    }

    /// The room occupied on `night`, if assigned.
    pub fn room_on(&self, night: NaiveDate) -> Option<&str> {
        self.stays
            .iter()
            .find(|s| s.from <= night && night < s.to)
            .map(|s| s.room.as_str())
    }
}

/// A note against a booking. It is owned by the authority it was written under (the server, or
/// `env` on the master), which need not own the booking: the web office may note a call about
/// the lodge's booking without touching the booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Identity (owned by the authority it was written under).
    #[serde(flatten)]
    pub meta: Meta,
    /// The booking it is about.
    pub booking: RecordId,
    /// The note.
    pub text: String,
    /// Who wrote it.
    pub author: String,
    /// When.
    pub at: DateTime<Utc>,
}
