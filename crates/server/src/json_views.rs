//! The JSON shapes of API answers, where they differ from the stored records.

use chrono::{DateTime, NaiveDate, Utc};
use innsync_core::{Booking, Guest, Money, Stay};
use serde::Serialize;

/// A guest as shown inside a booking.
#[derive(Clone, Debug, Serialize)]
pub struct GuestView {
    /// Guest record id.
    pub id: String,
    /// Name.
    pub name: String,
    /// E-mail, when loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Telephone, when loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A booking as the API shows it: the reference is its id.
#[derive(Clone, Debug, Serialize)]
pub struct BookingView {
    /// The booking reference (`WB-000123`).
    pub reference: String,
    /// The numeric reservation number (FIAS `G#`); absent on bookings older than numbers.
    pub reservation_number: Option<u64>,
    /// Status.
    pub status: &'static str,
    /// Authority that may change it.
    pub owner: String,
    /// Version, for `If-Match`.
    pub version: u64,
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// First night.
    pub arrival: NaiveDate,
    /// Morning of departure.
    pub departure: NaiveDate,
    /// Number of nights.
    pub nights: usize,
    /// Rooms held.
    pub units: u32,
    /// Who stays.
    pub guest: GuestView,
    /// When a provisional hold lapses.
    pub hold_until: Option<DateTime<Utc>>,
    /// The room for the first night assigned, if any.
    pub room: Option<String>,
    /// Every room occupied, in order.
    pub stays: Vec<Stay>,
    /// Total price, when every night has a rate.
    pub price: Option<Money>,
    /// The rate plan it was sold on, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_plan: Option<String>,
    /// Adults per room, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adults: Option<u32>,
    /// Children's ages per room, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<u8>>,
    /// How it was priced: plan, nightly amounts, total, currency and rule (decided once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<innsync_core::pricing::BookedPrice>,
    /// Free text.
    pub notes: Option<String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// Whose allotment it was sold from.
    pub holder: String,
    /// Server that created it.
    pub created_on: String,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// Where it came from, when it changed owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<innsync_core::Provenance>,
    /// The reservation it is a line of (its first line's reference), when it has several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
    /// The agent it was sold for, with the commission agreed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<innsync_core::agent::BookedAgent>,
}

impl BookingView {
    /// The view of `b`, with the guest's contact details when `guest` is given.
    pub fn new(b: &Booking, guest: Option<&Guest>) -> Self {
        Self {
            reference: b.meta.id.to_string(),
            reservation_number: b.reservation_number.map(|n| n.get()),
            status: b.status.as_str(),
            owner: b.meta.owner.to_string(),
            version: b.meta.version,
            property: b.property.clone(),
            room_type: b.room_type.clone(),
            arrival: b.arrival,
            departure: b.departure,
            nights: b.nights().len(),
            units: b.units,
            guest: GuestView {
                id: b.guest_id.to_string(),
                name: b.guest_name.clone(),
                email: guest.and_then(|g| g.email.clone()),
                phone: guest.and_then(|g| g.phone.clone()),
            },
            hold_until: b.hold_until,
            room: b.stays.last().map(|s| s.room.clone()),
            stays: b.stays.clone(),
            price: b.price.clone(),
            rate_plan: b.pricing.as_ref().and_then(|p| p.rate_plan.clone()),
            adults: b.pricing.as_ref().map(|p| p.adults),
            children: b.pricing.as_ref().map(|p| p.children.clone()),
            pricing: b.pricing.clone(),
            notes: b.notes.clone(),
            cancel_reason: b.cancel_reason.clone(),
            holder: b.holder.to_string(),
            created_on: b.created_on.to_string(),
            created_at: b.created_at,
            updated_at: b.updated_at,
            provenance: b.meta.provenance.as_deref().cloned(),
            reservation: b.reservation.as_ref().map(ToString::to_string),
            agent: b.agent.as_deref().cloned(),
        }
    }
}

/// Seconds from an RFC 3339 time to `now`, never negative (0 when unreadable).
pub fn age_seconds(now: chrono::DateTime<chrono::Utc>, at: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(at).map_or(0, |t| {
        (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0)
    })
}
