//! The parts a command is built from: a guest given or named, a pricing request, a
//! reservation's lines, an edit, a copy's matching rule.
//!
//! Apart from [`super::Command`] itself so the list of commands reads as one page.

use crate::ids::RecordId;
use crate::record::{Provenance, RecordKind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The guest of a new booking: an existing guest record, or details for a new one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestInput {
    /// Refer to a guest record.
    Existing(RecordId),
    /// Create a guest record with these details.
    New {
        /// Full name.
        name: String,
        /// E-mail.
        email: Option<String>,
        /// Telephone.
        phone: Option<String>,
    },
}

/// How a new booking is to be priced: on a rate plan, for a party per room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingRequest {
    /// The plan's code; `None`: the room type's nightly rates (the occupancy is still
    /// checked and stored).
    pub rate_plan: Option<String>,
    /// Who stays in each room.
    pub party: crate::pricing::Party,
}

/// One line of a reservation: a room type × units × nights × occupancy × rate plan. Its dates
/// default to the reservation's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationLine {
    /// Room type code.
    pub room_type: String,
    /// First night; the reservation's arrival when absent.
    #[serde(default)]
    pub arrival: Option<NaiveDate>,
    /// Morning of departure; the reservation's departure when absent.
    #[serde(default)]
    pub departure: Option<NaiveDate>,
    /// Rooms.
    pub units: u32,
    /// Rate plan and occupancy per room; without, the nightly rates.
    #[serde(default)]
    pub pricing: Option<PricingRequest>,
}

/// What an edit of a booking changes: each field given replaces the booked one (dates, room
/// type, rooms, occupancy, rate plan, guest, notes); absent fields stay as booked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingEdit {
    /// New first night.
    #[serde(default)]
    pub arrival: Option<NaiveDate>,
    /// New morning of departure.
    #[serde(default)]
    pub departure: Option<NaiveDate>,
    /// New room type.
    #[serde(default)]
    pub room_type: Option<String>,
    /// New number of rooms.
    #[serde(default)]
    pub units: Option<u32>,
    /// New adults per room.
    #[serde(default)]
    pub adults: Option<u32>,
    /// New children's ages per room.
    #[serde(default)]
    pub children: Option<Vec<u8>>,
    /// New rate plan (`Some("")`: back to the nightly rates).
    #[serde(default)]
    pub rate_plan: Option<String>,
    /// Another guest profile for the booking (a returning guest found later).
    #[serde(default)]
    pub guest_id: Option<RecordId>,
    /// Changes to the guest's own details (written on the guest's owner, in the same decision).
    #[serde(default)]
    pub guest: Option<GuestPatch>,
    /// New notes (empty: none).
    #[serde(default)]
    pub notes: Option<String>,
}

/// Changes to a guest's details: each field given replaces the stored one; an empty text
/// removes an optional field (the name cannot be removed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestPatch {
    /// New full name.
    #[serde(default)]
    pub name: Option<String>,
    /// New e-mail (empty: none).
    #[serde(default)]
    pub email: Option<String>,
    /// New telephone (empty: none).
    #[serde(default)]
    pub phone: Option<String>,
    /// New preferences (empty: none).
    #[serde(default)]
    pub preferences: Option<String>,
    /// New notes (empty: none).
    #[serde(default)]
    pub notes: Option<String>,
}

/// The status a booking is created in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialStatus {
    /// Firm from the start.
    Confirmed,
    /// Held until `hold_until`.
    Provisional,
}

/// What a server receiving a copy does when the copy matches a record it already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// Refuse the copy (`already_exists`).
    Error,
    /// Keep both: the copy becomes a new record with a fresh id.
    NewId,
    /// Write the copy over the matched record, as its next version.
    Overwrite,
}

/// A copy of a record from another server or environment, already mapped to this schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRequest {
    /// The kind of record it becomes here.
    pub kind: RecordKind,
    /// Its fields (as in the record's JSON; no id, owner or version).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Where it comes from; `copy` says whether it stays linked to its source.
    pub provenance: Provenance,
    /// What to do when it matches a record here.
    pub on_duplicate: OnDuplicate,
    /// The fields that identify a match (besides an earlier copy of the same source record).
    pub match_fields: Vec<String>,
}
